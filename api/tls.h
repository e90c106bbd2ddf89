/* tls.h: the HTTPS certificate of skyvisord's API (--tls-cert, --tls-key),
 * reloadable without dropping the listener.
 *
 * libmicrohttpd terminates TLS with GnuTLS.  Instead of handing it the
 * certificate once (MHD_OPTION_HTTPS_MEM_CERT, fixed for the daemon's
 * life), the TLS daemon asks tls_cert_cb for it during every handshake
 * (MHD_OPTION_HTTPS_CERT_CALLBACK), and tls_reload() swaps in a freshly
 * read pair on SIGHUP.  A new connection sees the new certificate; one
 * already open keeps the one it was handshaken with.
 *
 * Ownership: one `struct tls_certs` per loaded pair, reference-counted.
 * The current pair holds one reference; each handshake takes one more and
 * hands it to its connection (http_conn_hold), which drops it when
 * libmicrohttpd closes the connection, so a pair is freed only once no
 * handshake can still be using it.  One certificate per process: the
 * callback has no closure, so the current pair is a file-level global. */
#ifndef SKYVISOR_API_TLS_H
#define SKYVISOR_API_TLS_H

#include <gnutls/abstract.h>
#include <stdbool.h>
#include <stddef.h>

/* Reads the PEM certificate chain and private key and makes them the
 * current pair.  Returns 0, or writes why not into 'err' and returns -1
 * (the current pair, if any, stays). */
int tls_load(const char *cert_file, const char *key_file, char *err, size_t errlen);
/* tls_load() with the files of the last successful tls_load(), logging the
 * outcome. */
void tls_reload(void);
/* Drops the current pair (at exit, after the TLS daemon stopped). */
void tls_unload(void);
/* The MHD_OPTION_HTTPS_CERT_CALLBACK function: the current pair. */
gnutls_certificate_retrieve_function2 tls_cert_cb;
/* Writes 'len' bytes as TLS records on the GnuTLS session 'session'
 * (libmicrohttpd's MHD_CONNECTION_INFO_GNUTLS_SESSION).  True if all went. */
bool tls_send_raw(void *session, const void *buf, size_t len);

#endif
