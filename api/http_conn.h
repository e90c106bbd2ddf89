/* http_conn.h: what skyvisord keeps per TCP connection (libmicrohttpd's
 * "socket context"), for the HTTP server in api/http.c.
 *
 * libmicrohttpd bounds the idle time of a connection, never the total time
 * a client may take to send a request head: a client that sends one header
 * line every few seconds would hold its connection forever.  http_conn
 * gives every request head a deadline, counted from the moment the
 * connection is accepted (so a TLS handshake counts too) or the previous
 * response on it completed, and shuts down the sockets that miss it:
 *
 *   accepted --(head arrives: http_conn_head_done)--> serving
 *   serving --(response completed: http_conn_next_head)--> waiting for head
 *   waiting for head --(deadline passes: the reaper)--> shut down
 *   any --(libmicrohttpd closes it: MHD_CONNECTION_NOTIFY_CLOSED)--> gone
 *
 * The connections waiting for a head sit on one list under one mutex; the
 * reaper thread walks it once a second.  libmicrohttpd reports the close
 * before it closes the descriptor, and the entry leaves the list under the
 * same mutex, so the reaper never touches a descriptor that was reused.
 *
 * A connection may also hold one reference for its lifetime (the TLS
 * certificate pair of its handshake, api/tls.h), dropped when it closes. */
#ifndef SKYVISOR_API_HTTP_CONN_H
#define SKYVISOR_API_HTTP_CONN_H

#include <microhttpd.h>
#include <stdbool.h>

struct http_conns;

/* Starts the reaper: a head must arrive within 'head_seconds'.  Returns
 * NULL on failure.  Destroy only after every daemon using it stopped. */
struct http_conns *http_conns_create(unsigned int head_seconds);
void http_conns_destroy(struct http_conns *);

/* The MHD_OPTION_NOTIFY_CONNECTION callback; 'cls' is the http_conns. */
void http_conns_notify(void *cls, struct MHD_Connection *,
                       void **socket_context,
                       enum MHD_ConnectionNotificationCode);

/* The head of a request on 'conn' arrived: its deadline no longer runs. */
void http_conn_head_done(struct MHD_Connection *conn);
/* The request on 'conn' completed: the next head's deadline starts now. */
void http_conn_next_head(struct MHD_Connection *conn);

/* Gives 'conn' a reference that release(ref) drops when the connection
 * closes (the TLS certificate pair it was handshaken with).  False, and
 * 'ref' not taken, when the connection has no state here. */
bool http_conn_hold(struct MHD_Connection *conn, void *ref, void (*release)(void *));

#endif
