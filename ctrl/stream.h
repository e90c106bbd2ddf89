/* stream.h: a non-blocking byte stream to a switch, plain or over TLS.
 *
 * The transport under both of skyvisor's switch protocols: ctrl/ofconn.c
 * (OpenFlow, on the epoll loop) and ctrl/jsonrpc.c (OVSDB, polled by the
 * reconciler) move bytes only through this interface, so TLS is one more
 * kind of target and neither protocol knows the difference, beyond asking
 * the peer's certificate names once the stream is open.
 *
 * Targets: "unix:PATH", "tcp:IP:PORT" and "ssl:IP:PORT" (IPv4, PORT
 * 0-65535).  stream_open() dials one; stream_accept() adopts a socket a
 * listener accepted, as the TLS server when asked.
 *
 * States:
 *
 *     stream_open / stream_accept
 *            |
 *            v
 *       CONNECTING --(connect done, plain)-------------------> OPEN
 *            |
 *            | connect done, ssl:
 *            v
 *       HANDSHAKE ---(TLS handshake done, peer chain verified)--> OPEN
 *
 *       any ----(socket error, handshake or verification failed)--> FAILED
 *
 *   stream_connect() is the only function that moves a stream forward
 *   (CONNECTING/HANDSHAKE -> OPEN); it returns 0 once OPEN, EAGAIN while
 *   in progress, or the sticky error of FAILED (stream_error() says why).
 *   stream_recv()/stream_send() work in OPEN only (-ENOTCONN otherwise); an
 *   error they return leaves the stream FAILED.
 *
 * Waiting: stream_events(s, want) gives the events to wait for (poll or
 * epoll: POLLIN == EPOLLIN and POLLOUT == EPOLLOUT on Linux), where 'want'
 * is what the caller would ask of a plain socket: POLLIN to read, POLLOUT
 * when it has bytes queued.  Connecting waits for POLLOUT; a TLS handshake
 * for what it last blocked on; and in OPEN a TLS read may need the socket
 * writable and a write may need it readable, so the stream remembers what
 * its last read and its last write blocked on and asks for that instead.
 * Whatever a callback was woken for, the caller should then try both the
 * read and the write it wanted.
 *
 * Reading: stream_recv() decrypts at most one TLS record per call, and a
 * record carries at most STREAM_RECV_MIN bytes.  A caller that may stop
 * reading before EAGAIN (to let others run, or for backpressure) must
 * offer at least STREAM_RECV_MIN bytes per call: then no decrypted bytes
 * are ever left inside the TLS layer, where poll cannot see them.
 *
 * TLS: one process-wide configuration, stream_tls_configure(): a private
 * key, its certificate (chain), and the CA certificate every peer must
 * chain to, used in both directions (skyvisord's --ssl-key, --ssl-cert,
 * --ssl-ca-cert).  Both sides present certificates: a peer without one,
 * or whose certificate does not chain to the CA, fails the handshake.  What
 * the certificate names is checked by the caller (core/certname.h) with
 * stream_peer_names().  TLS 1.2 or later.
 *
 * Threads: a stream is used by one thread at a time; the configuration may
 * be replaced at any time (streams opened before keep the old one).
 *
 * Errors are positive errno values; recv and send return them negated. */
#ifndef SKYVISOR_CTRL_STREAM_H
#define SKYVISOR_CTRL_STREAM_H

#include <poll.h>
#include <stdbool.h>
#include <stddef.h>
#include <sys/socket.h>
#include <sys/types.h>

#define STREAM_RECV_MIN 16384       /* the largest TLS record's payload */

struct stream;

/* Parses a target into a socket address and whether it is ssl:.
 * Returns 0, EAFNOSUPPORT (unknown scheme), ENAMETOOLONG (unix path) or
 * EINVAL (anything else malformed).  'tls' may be NULL. */
int stream_parse_target(const char *target, struct sockaddr_storage *ss,
                        socklen_t *len, bool *tls);

/* Starts a non-blocking connect to 'target'.  Returns 0 with '*sp' (the
 * caller's, stream_close()), the parse errors above, ENOKEY for ssl: when
 * TLS is not configured, or the errno of socket()/connect() (a refused
 * unix socket fails here at once). */
int stream_open(const char *target, struct stream **sp);

/* Adopts 'fd', a connected stream socket (made non-blocking here), named
 * 'name' in logs; 'tls': handshake as the TLS server.  'fd' is always
 * consumed (closed on failure).  Returns 0 with '*sp', ENOKEY (tls without
 * a configuration), ENOMEM or an errno. */
int stream_accept(int fd, bool tls, const char *name, struct stream **sp);

/* Closes the socket (after a best-effort TLS close_notify) and frees.
 * Accepts NULL. */
void stream_close(struct stream *);

/* See the state machine above. */
int stream_connect(struct stream *);
/* >0 bytes read, 0 at end of stream, or -errno (-EAGAIN: nothing now). */
ssize_t stream_recv(struct stream *, void *buf, size_t n);
/* >0 bytes taken (maybe fewer than n), or -errno (-EAGAIN: none now). */
ssize_t stream_send(struct stream *, const void *buf, size_t n);
short stream_events(const struct stream *, short want);

int stream_fd(const struct stream *);
const char *stream_name(const struct stream *);
bool stream_is_tls(const struct stream *);
bool stream_is_open(const struct stream *);
/* Why the stream failed ("" while it has not): borrowed, valid until the
 * stream is closed. */
const char *stream_error(const struct stream *);
/* The names the TLS peer's certificate carries (subject CN, then DNS
 * subjectAltNames), borrowed until stream_close(); NULL and *n = 0 for a
 * plain stream or before OPEN. */
const char *const *stream_peer_names(const struct stream *, size_t *n);

/* strerror(), except that ENOKEY reads as what it means here. */
const char *stream_strerror(int error);

/* Loads the TLS configuration (PEM files) and makes it the one new
 * streams use.  Returns 0, or an errno with the reason in err[0..errlen). */
int stream_tls_configure(const char *key_file, const char *cert_file,
                         const char *ca_file, char *err, size_t errlen);
bool stream_tls_configured(void);

#endif
