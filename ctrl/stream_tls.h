/* stream_tls.h: the TLS half of ctrl/stream.h, with OpenSSL.  Only
 * ctrl/stream.c uses this; everyone else goes through stream.h.
 *
 * A struct stream_tls is one SSL session over a connected non-blocking
 * socket it does not own (the stream closes the fd).  Its socket I/O goes
 * through a BIO of our own that sends with MSG_NOSIGNAL, so a peer that
 * hangs up mid-write is an error, never a SIGPIPE.
 *
 * Read and write blocking: rx_want and tx_want record what the last
 * SSL_read() and SSL_write() blocked on (nothing, the socket readable, the
 * socket writable).  Either call may also move the handshake state (TLS 1.3
 * post-handshake messages); when one does, what the other was blocked on
 * may have been satisfied, so it is forgotten (set to nothing, so the
 * caller retries) rather than waited for: waiting for it could wait
 * forever, and forgetting it unconditionally would spin.
 *
 * Errors are written as text into the 'why' buffers the caller passes and
 * returned as an errno: EPROTO for anything TLS refused (with OpenSSL's
 * reason, or the certificate verification result), ECONNRESET when the
 * peer went away, or the socket's errno. */
#ifndef SKYVISOR_CTRL_STREAM_TLS_H
#define SKYVISOR_CTRL_STREAM_TLS_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

struct stream_tls;

/* A new session on 'fd' as client or server, with the current
 * configuration.  Returns 0, ENOKEY (none configured) or ENOMEM. */
int stream_tls_create(int fd, bool server, struct stream_tls **tp);
/* Sends close_notify if the session is open (best effort, never blocks),
 * and frees.  Accepts NULL. */
void stream_tls_destroy(struct stream_tls *);

/* 0 once the handshake is done and the peer's certificate verified,
 * EAGAIN to be called again when stream_tls_events() says, or an error. */
int stream_tls_handshake(struct stream_tls *, char *why, size_t why_len);
/* One SSL_read() ('out' false: >0 bytes, 0 at end of stream) or
 * SSL_write() ('out' true: >0 bytes taken), or -errno (-EAGAIN: blocked,
 * see stream_tls_events()). */
ssize_t stream_tls_transfer(struct stream_tls *, void *buf, size_t n, bool out,
                            char *why, size_t why_len);
/* During the handshake: what it blocked on.  After: stream.h's rule. */
short stream_tls_events(const struct stream_tls *, short want);
const char *const *stream_tls_peer_names(const struct stream_tls *, size_t *n);

#endif
