/* stream_tls.c: TLS sessions for ctrl/stream.c, with OpenSSL (see
 * stream_tls.h for the read/write blocking rule).
 *
 * The configuration is one SSL_CTX behind a mutex.  SSL_new() takes a
 * reference to it, so replacing it (stream_tls_configure() again) leaves
 * the sessions already made on the old one working until they close.
 *
 * Settings, and why:
 *   - TLS 1.2 or later;
 *   - SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT in both roles:
 *     every peer shows a certificate chaining to the configured CA (Open
 *     vSwitch does the same on its side);
 *   - partial writes and a moving write buffer: callers keep their own
 *     output queues, which they compact between writes;
 *   - no session cache and no TLS 1.3 tickets: connections are few and
 *     long-lived, and a resumed session would skip the peer certificate
 *     the identity check reads;
 *   - an EOF without close_notify is a plain end of stream (a switch that
 *     is killed does not say goodbye). */
#include "ctrl/stream_tls.h"

#include <errno.h>
#include <limits.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>
#include <poll.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "ctrl/stream.h"

enum want { WANT_NOTHING, WANT_READ, WANT_WRITE };

struct stream_tls {
    SSL *ssl;
    bool open;                      /* handshake done */
    enum want hs_want;              /* handshake: what it blocked on */
    enum want rx_want, tx_want;     /* see stream_tls.h */
    char **names;                   /* the peer certificate's names, owned */
    size_t n_names;
};

static pthread_mutex_t ctx_mutex = PTHREAD_MUTEX_INITIALIZER;
static SSL_CTX *ctx;                /* under ctx_mutex */

/* --- a socket BIO that never raises SIGPIPE --- */

static int
bio_write(BIO *b, const char *data, int len)
{
    BIO_clear_retry_flags(b);
    ssize_t n = send((int) (intptr_t) BIO_get_data(b), data, (size_t) len,
                     MSG_NOSIGNAL | MSG_DONTWAIT);
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)) {
        BIO_set_retry_write(b);
    }
    return (int) n;
}

static int
bio_read(BIO *b, char *data, int len)
{
    BIO_clear_retry_flags(b);
    ssize_t n = recv((int) (intptr_t) BIO_get_data(b), data, (size_t) len,
                     MSG_DONTWAIT);
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)) {
        BIO_set_retry_read(b);
    }
    return (int) n;
}

static long
bio_ctrl(BIO *b, int cmd, long num, void *ptr)
{
    (void) b;
    (void) num;
    (void) ptr;
    return cmd == BIO_CTRL_FLUSH;   /* nothing is buffered here */
}

static int
bio_create(BIO *b)
{
    BIO_set_init(b, 1);
    return 1;
}

static BIO_METHOD *bio_method;
static pthread_once_t bio_once = PTHREAD_ONCE_INIT;

static void
bio_method_init(void)
{
    BIO_METHOD *m = BIO_meth_new(BIO_get_new_index() | BIO_TYPE_SOURCE_SINK,
                                 "skyvisor socket");
    if (m && BIO_meth_set_write(m, bio_write) && BIO_meth_set_read(m, bio_read)
        && BIO_meth_set_ctrl(m, bio_ctrl) && BIO_meth_set_create(m, bio_create)) {
        bio_method = m;
    } else {
        BIO_meth_free(m);
    }
}

/* --- configuration --- */

/* Writes OpenSSL's oldest queued error (or 'fallback') into 'why', and
 * empties the queue. */
static void
ssl_reason(char *why, size_t len, const char *what, const char *fallback)
{
    unsigned long e = ERR_get_error();
    char buf[256];
    if (e) {
        ERR_error_string_n(e, buf, sizeof buf);
    }
    snprintf(why, len, "%s: %s", what, e ? buf : fallback);
    ERR_clear_error();
}

int
stream_tls_configure(const char *key_file, const char *cert_file,
                     const char *ca_file, char *err, size_t errlen)
{
    ERR_clear_error();
    SSL_CTX *c = SSL_CTX_new(TLS_method());
    if (!c) {
        ssl_reason(err, errlen, "TLS", "out of memory");
        return ENOMEM;
    }
    SSL_CTX_set_min_proto_version(c, TLS1_2_VERSION);
    SSL_CTX_set_mode(c, SSL_MODE_ENABLE_PARTIAL_WRITE
                        | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
    SSL_CTX_set_options(c, SSL_OP_IGNORE_UNEXPECTED_EOF | SSL_OP_NO_RENEGOTIATION
                           | SSL_OP_NO_TICKET);
    SSL_CTX_set_session_cache_mode(c, SSL_SESS_CACHE_OFF);
    SSL_CTX_set_num_tickets(c, 0);
    SSL_CTX_set_verify(c, SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT, NULL);
    const char *what = NULL;
    if (SSL_CTX_use_certificate_chain_file(c, cert_file) != 1) {
        what = cert_file;
    } else if (SSL_CTX_use_PrivateKey_file(c, key_file, SSL_FILETYPE_PEM) != 1) {
        what = key_file;
    } else if (SSL_CTX_check_private_key(c) != 1) {
        what = "the private key does not match the certificate";
    } else if (SSL_CTX_load_verify_locations(c, ca_file, NULL) != 1) {
        what = ca_file;
    } else {
        STACK_OF(X509_NAME) *cas = SSL_load_client_CA_file(ca_file);
        if (cas) {
            SSL_CTX_set_client_CA_list(c, cas);     /* takes ownership */
        }
    }
    if (what) {
        ssl_reason(err, errlen, what, "cannot be used");
        SSL_CTX_free(c);
        return EINVAL;
    }
    pthread_mutex_lock(&ctx_mutex);
    SSL_CTX *old = ctx;
    ctx = c;
    pthread_mutex_unlock(&ctx_mutex);
    SSL_CTX_free(old);
    return 0;
}

bool
stream_tls_configured(void)
{
    pthread_mutex_lock(&ctx_mutex);
    bool yes = ctx != NULL;
    pthread_mutex_unlock(&ctx_mutex);
    return yes;
}

/* --- sessions --- */

int
stream_tls_create(int fd, bool server, struct stream_tls **tp)
{
    *tp = NULL;
    pthread_once(&bio_once, bio_method_init);
    struct stream_tls *t = calloc(1, sizeof *t);
    if (!t || !bio_method) {
        free(t);
        return ENOMEM;
    }
    pthread_mutex_lock(&ctx_mutex);
    t->ssl = ctx ? SSL_new(ctx) : NULL;
    bool configured = ctx != NULL;
    pthread_mutex_unlock(&ctx_mutex);
    BIO *bio = t->ssl ? BIO_new(bio_method) : NULL;
    if (!bio) {
        SSL_free(t->ssl);
        free(t);
        ERR_clear_error();
        return configured ? ENOMEM : ENOKEY;
    }
    BIO_set_data(bio, (void *) (intptr_t) fd);
    SSL_set_bio(t->ssl, bio, bio);  /* the SSL owns the BIO */
    if (server) {
        SSL_set_accept_state(t->ssl);
    } else {
        SSL_set_connect_state(t->ssl);
    }
    *tp = t;
    return 0;
}

void
stream_tls_destroy(struct stream_tls *t)
{
    if (!t) {
        return;
    }
    if (t->open) {
        SSL_shutdown(t->ssl);       /* one non-blocking close_notify */
    }
    SSL_free(t->ssl);
    ERR_clear_error();
    for (size_t i = 0; i < t->n_names; i++) {
        free(t->names[i]);
    }
    free(t->names);
    free(t);
}

/* Interprets a failed SSL call: sets '*want' and returns EAGAIN when it
 * only needs the socket, else the error (text in 'why'). */
static int
classify(struct stream_tls *t, int ret, enum want *want, const char *what,
         char *why, size_t len)
{
    int saved_errno = errno;
    int e = SSL_get_error(t->ssl, ret);
    *want = WANT_NOTHING;
    switch (e) {
    case SSL_ERROR_WANT_READ:
        *want = WANT_READ;
        return EAGAIN;
    case SSL_ERROR_WANT_WRITE:
        *want = WANT_WRITE;
        return EAGAIN;
    case SSL_ERROR_ZERO_RETURN:
        snprintf(why, len, "%s: connection closed by peer", what);
        ERR_clear_error();
        return ECONNRESET;
    case SSL_ERROR_SYSCALL:
        if (ERR_peek_error()) {
            break;
        }
        snprintf(why, len, "%s: %s", what, saved_errno && ret < 0
                 ? strerror(saved_errno) : "connection closed by peer");
        return saved_errno && ret < 0 ? saved_errno : ECONNRESET;
    default:
        break;
    }
    long v = SSL_get_verify_result(t->ssl);
    if (!t->open && v != X509_V_OK) {
        snprintf(why, len, "%s: peer certificate rejected: %s", what,
                 X509_verify_cert_error_string(v));
        ERR_clear_error();
    } else {
        ssl_reason(why, len, what, "failed");
    }
    return EPROTO;
}

static int
add_name(struct stream_tls *t, const unsigned char *s, int len)
{
    if (len < 0 || memchr(s, '\0', (size_t) len)) {
        return 0;                   /* not a name anybody could match */
    }
    char **g = realloc(t->names, (t->n_names + 1) * sizeof *g);
    if (!g) {
        return ENOMEM;
    }
    t->names = g;
    if (!(g[t->n_names] = strndup((const char *) s, (size_t) len))) {
        return ENOMEM;
    }
    t->n_names++;
    return 0;
}

/* Records the peer certificate's CN entries and DNS subjectAltNames. */
static int
collect_names(struct stream_tls *t)
{
    X509 *cert = SSL_get0_peer_certificate(t->ssl);
    if (!cert) {
        return 0;
    }
    int error = 0;
    X509_NAME *subj = X509_get_subject_name(cert);
    for (int i = -1; !error
         && (i = X509_NAME_get_index_by_NID(subj, NID_commonName, i)) >= 0;) {
        unsigned char *utf8;
        int len = ASN1_STRING_to_UTF8(&utf8, X509_NAME_ENTRY_get_data(
                                                 X509_NAME_get_entry(subj, i)));
        if (len >= 0) {
            error = add_name(t, utf8, len);
            OPENSSL_free(utf8);
        }
    }
    GENERAL_NAMES *sans = X509_get_ext_d2i(cert, NID_subject_alt_name, NULL, NULL);
    for (int i = 0; !error && i < sk_GENERAL_NAME_num(sans); i++) {
        const GENERAL_NAME *g = sk_GENERAL_NAME_value(sans, i);
        if (g->type == GEN_DNS) {
            error = add_name(t, ASN1_STRING_get0_data(g->d.dNSName),
                             ASN1_STRING_length(g->d.dNSName));
        }
    }
    GENERAL_NAMES_free(sans);
    ERR_clear_error();
    return error;
}

int
stream_tls_handshake(struct stream_tls *t, char *why, size_t why_len)
{
    if (t->open) {
        return 0;
    }
    ERR_clear_error();
    int ret = SSL_do_handshake(t->ssl);
    if (ret != 1) {
        return classify(t, ret, &t->hs_want, "TLS handshake", why, why_len);
    }
    t->hs_want = WANT_NOTHING;
    t->open = true;
    if (collect_names(t)) {
        snprintf(why, why_len, "TLS handshake: out of memory");
        return ENOMEM;
    }
    return 0;
}

ssize_t
stream_tls_transfer(struct stream_tls *t, void *buf, size_t n, bool out,
                    char *why, size_t why_len)
{
    ERR_clear_error();
    OSSL_HANDSHAKE_STATE before = SSL_get_state(t->ssl);
    int len = n > INT_MAX ? INT_MAX : (int) n;
    int ret = out ? SSL_write(t->ssl, buf, len) : SSL_read(t->ssl, buf, len);
    enum want *mine = out ? &t->tx_want : &t->rx_want;
    if (SSL_get_state(t->ssl) != before) {
        *(out ? &t->rx_want : &t->tx_want) = WANT_NOTHING;
    }
    *mine = WANT_NOTHING;
    if (ret > 0) {
        return ret;
    }
    if (!out && SSL_get_error(t->ssl, ret) == SSL_ERROR_ZERO_RETURN) {
        ERR_clear_error();
        return 0;                   /* end of stream, with or without close_notify */
    }
    return -classify(t, ret, mine, out ? "TLS write" : "TLS read", why, why_len);
}

static short
want_events(enum want w, short otherwise)
{
    return w == WANT_READ ? POLLIN : w == WANT_WRITE ? POLLOUT : otherwise;
}

short
stream_tls_events(const struct stream_tls *t, short want)
{
    if (!t->open) {
        return want_events(t->hs_want, POLLIN);
    }
    short ev = 0;
    if (want & POLLIN) {
        ev |= want_events(t->rx_want, POLLIN);
    }
    if (want & POLLOUT) {
        ev |= want_events(t->tx_want, POLLOUT);
    }
    return ev;
}

const char *const *
stream_tls_peer_names(const struct stream_tls *t, size_t *n)
{
    *n = t->open ? t->n_names : 0;
    return t->open ? (const char *const *) t->names : NULL;
}
