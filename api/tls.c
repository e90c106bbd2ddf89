/* tls.c: see tls.h. */
#include "api/tls.h"

#include <gnutls/abstract.h>
#include <gnutls/gnutls.h>
#include <gnutls/x509.h>
#include <microhttpd.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/http_conn.h"
#include "core/vlog.h"

#define TLS_MAX_CHAIN 8

struct tls_certs {
    atomic_uint refs;
    gnutls_pcert_st chain[TLS_MAX_CHAIN];
    unsigned int n_chain;
    gnutls_privkey_t key;
};

static pthread_mutex_t tls_mutex = PTHREAD_MUTEX_INITIALIZER;
static struct tls_certs *tls_current;      /* holds one reference */
static char *tls_cert_file, *tls_key_file;  /* of the current pair */

static void
certs_unref(void *arg)
{
    struct tls_certs *c = arg;
    if (c && atomic_fetch_sub(&c->refs, 1) == 1) {
        for (unsigned int i = 0; i < c->n_chain; i++) {
            gnutls_pcert_deinit(&c->chain[i]);
        }
        gnutls_privkey_deinit(c->key);
        free(c);
    }
}

/* True if the certificate's public key is the private key's. */
static bool
key_matches(gnutls_pcert_st *cert, gnutls_privkey_t key)
{
    gnutls_pubkey_t pub;
    gnutls_datum_t a = {NULL, 0}, b = {NULL, 0};
    bool same = false;
    if (gnutls_pubkey_init(&pub) < 0) {
        return false;
    }
    if (gnutls_pubkey_import_privkey(pub, key, 0, 0) >= 0
        && gnutls_pubkey_export2(pub, GNUTLS_X509_FMT_DER, &a) >= 0
        && gnutls_pubkey_export2(cert->pubkey, GNUTLS_X509_FMT_DER, &b) >= 0) {
        same = a.size == b.size && !memcmp(a.data, b.data, a.size);
    }
    gnutls_free(a.data);
    gnutls_free(b.data);
    gnutls_pubkey_deinit(pub);
    return same;
}

/* Reads a pair.  Returns it with one reference, or NULL with 'err' set. */
static struct tls_certs *
certs_read(const char *cert_file, const char *key_file, char *err, size_t errlen)
{
    gnutls_datum_t pem = {NULL, 0};
    struct tls_certs *c = calloc(1, sizeof *c);
    int rc;
    if (!c) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    atomic_init(&c->refs, 1);
    c->n_chain = TLS_MAX_CHAIN;
    if ((rc = gnutls_load_file(cert_file, &pem)) < 0
        || (rc = gnutls_pcert_list_import_x509_raw(c->chain, &c->n_chain, &pem,
                                                   GNUTLS_X509_FMT_PEM, 0)) < 0) {
        snprintf(err, errlen, "%s: %s", cert_file, gnutls_strerror(rc));
        c->n_chain = 0;
        goto fail;
    }
    gnutls_free(pem.data);
    pem.data = NULL;
    if ((rc = gnutls_privkey_init(&c->key)) < 0
        || (rc = gnutls_load_file(key_file, &pem)) < 0
        || (rc = gnutls_privkey_import_x509_raw(c->key, &pem, GNUTLS_X509_FMT_PEM,
                                                NULL, 0)) < 0) {
        snprintf(err, errlen, "%s: %s", key_file, gnutls_strerror(rc));
        goto fail;
    }
    gnutls_free(pem.data);
    if (!key_matches(&c->chain[0], c->key)) {
        snprintf(err, errlen, "the key in %s is not the one of the certificate "
                 "in %s", key_file, cert_file);
        certs_unref(c);
        return NULL;
    }
    return c;

fail:
    gnutls_free(pem.data);
    certs_unref(c);
    return NULL;
}

int
tls_load(const char *cert_file, const char *key_file, char *err, size_t errlen)
{
    struct tls_certs *c = certs_read(cert_file, key_file, err, errlen);
    char *cf = strdup(cert_file), *kf = strdup(key_file);
    if (!c || !cf || !kf) {
        if (c) {
            snprintf(err, errlen, "out of memory");
        }
        certs_unref(c);
        free(cf);
        free(kf);
        return -1;
    }
    pthread_mutex_lock(&tls_mutex);
    struct tls_certs *old = tls_current;
    tls_current = c;
    free(tls_cert_file);
    free(tls_key_file);
    tls_cert_file = cf;
    tls_key_file = kf;
    pthread_mutex_unlock(&tls_mutex);
    certs_unref(old);
    return 0;
}

void
tls_reload(void)
{
    char cf[4096], kf[4096], err[512];
    pthread_mutex_lock(&tls_mutex);
    bool loaded = tls_cert_file != NULL;
    if (loaded) {
        snprintf(cf, sizeof cf, "%s", tls_cert_file);
        snprintf(kf, sizeof kf, "%s", tls_key_file);
    }
    pthread_mutex_unlock(&tls_mutex);
    if (!loaded) {
        return;
    }
    if (tls_load(cf, kf, err, sizeof err)) {
        vlog(VLOG_ERR, "http", "TLS certificate not reloaded, the old one stays: %s",
             err);
    } else {
        vlog(VLOG_INFO, "http", "TLS certificate reloaded from %s", cf);
    }
}

void
tls_unload(void)
{
    pthread_mutex_lock(&tls_mutex);
    struct tls_certs *old = tls_current;
    tls_current = NULL;
    free(tls_cert_file);
    free(tls_key_file);
    tls_cert_file = tls_key_file = NULL;
    pthread_mutex_unlock(&tls_mutex);
    certs_unref(old);
}

/* gnutls_certificate_retrieve_function2.  libmicrohttpd sets the session's
 * user pointer to its connection, which is how the reference reaches the
 * connection that will drop it. */
int
tls_cert_cb(gnutls_session_t session, const gnutls_datum_t *req_ca_rdn, int nreqs,
            const gnutls_pk_algorithm_t *pk_algos, int pk_algos_length,
            gnutls_pcert_st **pcert, unsigned int *pcert_length,
            gnutls_privkey_t *privkey)
{
    (void) req_ca_rdn;
    (void) nreqs;
    (void) pk_algos;
    (void) pk_algos_length;
    pthread_mutex_lock(&tls_mutex);
    struct tls_certs *c = tls_current;
    if (c) {
        atomic_fetch_add(&c->refs, 1);
    }
    pthread_mutex_unlock(&tls_mutex);
    if (!c) {
        return -1;
    }
    struct MHD_Connection *conn = gnutls_session_get_ptr(session);
    if (!conn || !http_conn_hold(conn, c, certs_unref)) {
        /* Nobody to drop the reference: the pair then lives until exit,
         * which is safe. */
        vlog(VLOG_WARN, "http", "TLS handshake without connection state");
    }
    *pcert = c->chain;
    *pcert_length = c->n_chain;
    *privkey = c->key;
    return 0;
}

bool
tls_send_raw(void *session, const void *buf, size_t len)
{
    const char *p = buf;
    int tries = 0;
    while (len) {
        ssize_t n = gnutls_record_send(session, p, len);
        if ((n == GNUTLS_E_AGAIN || n == GNUTLS_E_INTERRUPTED) && ++tries < 1000) {
            continue;       /* the socket's send buffer is all but empty */
        }
        if (n <= 0) {
            return false;
        }
        p += n;
        len -= (size_t) n;
    }
    return true;
}
