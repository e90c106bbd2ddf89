/* test_stream.c: ctrl/stream.c and ctrl/stream_tls.c over socketpairs.
 *
 * The certificates are made here with OpenSSL (EC P-256, valid for an
 * hour): a CA, a leaf it signs, and a leaf signed by another CA.  Both ends
 * of a pair run in this process with the one process-wide configuration
 * (so both present the same certificate), except where a test replaces the
 * configuration between making the two ends: a stream keeps the
 * configuration it was made with.  Every exchange is driven by poll() on
 * what stream_events() asks for, as the event loops do. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "ctrl/loop.h"
#include "ctrl/stream.h"

static char dir[] = "/tmp/skyv-test-stream-XXXXXX";

/* --- certificates --- */

static X509 *
make_cert(EVP_PKEY *key, const char *cn, const char *san, X509 *issuer,
          EVP_PKEY *issuer_key, bool ca)
{
    static long serial = 1;
    X509 *x = X509_new();
    assert_non_null(x);
    X509_set_version(x, 2);
    ASN1_INTEGER_set(X509_get_serialNumber(x), serial++);
    X509_gmtime_adj(X509_getm_notBefore(x), -60);
    X509_gmtime_adj(X509_getm_notAfter(x), 3600);
    X509_set_pubkey(x, key);
    X509_NAME *name = X509_get_subject_name(x);
    X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_UTF8, (const unsigned char *) cn,
                               -1, -1, 0);
    X509_set_issuer_name(x, issuer ? X509_get_subject_name(issuer) : name);
    X509V3_CTX v3;
    X509V3_set_ctx_nodb(&v3);
    X509V3_set_ctx(&v3, issuer ? issuer : x, x, NULL, NULL, 0);
    struct { int nid; const char *value; } exts[] = {
        {NID_basic_constraints, ca ? "critical,CA:TRUE" : "CA:FALSE"},
        {NID_key_usage, ca ? "critical,keyCertSign,cRLSign"
                           : "critical,digitalSignature,keyAgreement"},
        {NID_subject_alt_name, san},
    };
    for (size_t i = 0; i < sizeof exts / sizeof *exts; i++) {
        if (exts[i].value) {
            X509_EXTENSION *e = X509V3_EXT_conf_nid(NULL, &v3, exts[i].nid,
                                                    exts[i].value);
            assert_non_null(e);
            X509_add_ext(x, e, -1);
            X509_EXTENSION_free(e);
        }
    }
    assert_true(X509_sign(x, issuer_key ? issuer_key : key, EVP_sha256()) > 0);
    return x;
}

static void
write_pem(const char *file, EVP_PKEY *key, X509 *cert)
{
    char path[128];
    snprintf(path, sizeof path, "%s/%s", dir, file);
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    if (key) {
        assert_true(PEM_write_PrivateKey(f, key, NULL, NULL, 0, NULL, NULL));
    } else {
        assert_true(PEM_write_X509(f, cert));
    }
    fclose(f);
}

/* ca.pem; sw.pem/sw-key.pem ("sw1 id:1234", SANs "sw1 id:1234" and
 * "alt.example", signed by ca); rogue.pem/rogue-key.pem ("sw1", signed by
 * another CA). */
static int
make_pki(void **state)
{
    (void) state;
    assert_non_null(mkdtemp(dir));
    EVP_PKEY *ca_key = EVP_EC_gen("P-256"), *other_key = EVP_EC_gen("P-256");
    EVP_PKEY *sw_key = EVP_EC_gen("P-256"), *rogue_key = EVP_EC_gen("P-256");
    X509 *ca = make_cert(ca_key, "test switch CA", NULL, NULL, NULL, true);
    X509 *other = make_cert(other_key, "another CA", NULL, NULL, NULL, true);
    X509 *sw = make_cert(sw_key, "sw1 id:1234", "DNS:sw1 id:1234,DNS:alt.example",
                         ca, ca_key, false);
    X509 *rogue = make_cert(rogue_key, "sw1", NULL, other, other_key, false);
    write_pem("ca.pem", NULL, ca);
    write_pem("sw.pem", NULL, sw);
    write_pem("sw-key.pem", sw_key, NULL);
    write_pem("rogue.pem", NULL, rogue);
    write_pem("rogue-key.pem", rogue_key, NULL);
    X509 *certs[] = {ca, other, sw, rogue};
    EVP_PKEY *keys[] = {ca_key, other_key, sw_key, rogue_key};
    for (int i = 0; i < 4; i++) {
        X509_free(certs[i]);
        EVP_PKEY_free(keys[i]);
    }
    return 0;
}

static int
remove_pki(void **state)
{
    (void) state;
    const char *files[] = {"ca.pem", "sw.pem", "sw-key.pem", "rogue.pem", "rogue-key.pem"};
    for (size_t i = 0; i < sizeof files / sizeof *files; i++) {
        char path[128];
        snprintf(path, sizeof path, "%s/%s", dir, files[i]);
        unlink(path);
    }
    rmdir(dir);
    return 0;
}

static void
configure(const char *cert, const char *key)
{
    char c[128], k[128], ca[128], err[256];
    snprintf(c, sizeof c, "%s/%s", dir, cert);
    snprintf(k, sizeof k, "%s/%s", dir, key);
    snprintf(ca, sizeof ca, "%s/ca.pem", dir);
    assert_int_equal(stream_tls_configure(k, c, ca, err, sizeof err), 0);
}

/* --- driving a pair --- */

/* Both ends of a socketpair, adopted with stream_accept(): the client
 * plain, the server TLS if 'tls'.  'sndbuf' > 0 shrinks the send buffers
 * so that writes block part way. */
static void
make_pair(bool tls, int sndbuf, struct stream **client, struct stream **server)
{
    int sv[2];
    assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
    for (int i = 0; sndbuf && i < 2; i++) {
        setsockopt(sv[i], SOL_SOCKET, SO_SNDBUF, &sndbuf, sizeof sndbuf);
    }
    assert_int_equal(stream_accept(sv[1], tls, "server", server), 0);
    assert_int_equal(stream_accept(sv[0], false, "client", client), 0);
}

/* Runs both handshakes until each side's stream_connect() returns
 * something other than EAGAIN; the results go to ra and rb. */
static void
handshake(struct stream *a, struct stream *b, int *ra, int *rb)
{
    *ra = *rb = EAGAIN;
    uint64_t end = loop_now_ms() + 5000;
    while (*ra == EAGAIN || *rb == EAGAIN) {
        assert_true(loop_now_ms() < end);
        struct pollfd p[2] = {
            {.fd = stream_fd(a), .events = stream_events(a, 0)},
            {.fd = stream_fd(b), .events = stream_events(b, 0)},
        };
        poll(p, 2, 100);
        if (*ra == EAGAIN) {
            *ra = stream_connect(a);
        }
        if (*rb == EAGAIN) {
            *rb = stream_connect(b);
        }
    }
}

struct side {
    struct stream *s;
    uint8_t *out;
    size_t out_len, sent;
    uint8_t *in;
    size_t in_len, got;
};

static void
side_step(struct side *d)
{
    uint8_t buf[STREAM_RECV_MIN];
    ssize_t r;
    while ((r = stream_recv(d->s, buf, sizeof buf)) > 0) {
        assert_true(d->got + (size_t) r <= d->in_len);
        memcpy(d->in + d->got, buf, (size_t) r);
        d->got += (size_t) r;
    }
    assert_true(r == -EAGAIN || (r == 0 && d->got == d->in_len));
    while (d->sent < d->out_len
           && (r = stream_send(d->s, d->out + d->sent, d->out_len - d->sent)) > 0) {
        d->sent += (size_t) r;
    }
    assert_true(d->sent == d->out_len || r == -EAGAIN);
}

/* Sends 'n' bytes each way at once and checks they arrive intact. */
static void
exchange(struct stream *a, struct stream *b, size_t n)
{
    struct side s[2] = {{.s = a}, {.s = b}};
    for (int i = 0; i < 2; i++) {
        s[i].out = malloc(n);
        s[i].in = malloc(n);
        s[i].out_len = s[i].in_len = n;
        for (size_t k = 0; k < n; k++) {
            s[i].out[k] = (uint8_t) (k * 7 + (size_t) i * 13 + k / 251);
        }
    }
    uint64_t end = loop_now_ms() + 20000;
    while (s[0].got < n || s[1].got < n || s[0].sent < n || s[1].sent < n) {
        assert_true(loop_now_ms() < end);
        struct pollfd p[2];
        for (int i = 0; i < 2; i++) {
            short want = POLLIN | (s[i].sent < n ? POLLOUT : 0);
            p[i] = (struct pollfd) {.fd = stream_fd(s[i].s),
                                    .events = stream_events(s[i].s, want)};
        }
        assert_true(poll(p, 2, 1000) > 0);  /* never waits for nothing */
        side_step(&s[0]);
        side_step(&s[1]);
    }
    for (int i = 0; i < 2; i++) {
        size_t k = 0;
        while (k < n && s[i].in[k] == s[1 - i].out[k]) {
            k++;
        }
        if (k < n) {
            fail_msg("side %d: byte %zu of %zu differs", i, k, n);
        }
    }
    for (int i = 0; i < 2; i++) {
        free(s[i].out);
        free(s[i].in);
    }
}

/* --- tests --- */

static void
test_parse_targets(void **state)
{
    (void) state;
    struct sockaddr_storage ss;
    socklen_t len;
    bool tls = true;
    assert_int_equal(stream_parse_target("tcp:10.0.0.1:6653", &ss, &len, &tls), 0);
    assert_false(tls);
    assert_int_equal(stream_parse_target("ssl:10.0.0.1:6653", &ss, &len, &tls), 0);
    assert_true(tls);
    assert_int_equal(ss.ss_family, AF_INET);
    assert_int_equal(stream_parse_target("unix:/run/x.sock", &ss, &len, &tls), 0);
    assert_false(tls);
    assert_int_equal(stream_parse_target("ssl:10.0.0.1:0", &ss, &len, NULL), 0);
    assert_int_equal(stream_parse_target("pssl:10.0.0.1:6653", &ss, &len, NULL),
                     EAFNOSUPPORT);
    assert_int_equal(stream_parse_target("udp:10.0.0.1:1", &ss, &len, NULL), EAFNOSUPPORT);
    assert_int_equal(stream_parse_target("ssl:10.0.0.1", &ss, &len, NULL), EINVAL);
    assert_int_equal(stream_parse_target("ssl:10.0.0.1:65536", &ss, &len, NULL), EINVAL);
    assert_int_equal(stream_parse_target("ssl:host:1", &ss, &len, NULL), EINVAL);
    assert_int_equal(stream_parse_target("tcp:1.2.3.4:5x", &ss, &len, NULL), EINVAL);
    assert_int_equal(stream_parse_target("unix:", &ss, &len, NULL), EINVAL);
    char longpath[200];
    memset(longpath, 'a', sizeof longpath - 1);
    longpath[sizeof longpath - 1] = '\0';
    memcpy(longpath, "unix:/", 6);
    assert_int_equal(stream_parse_target(longpath, &ss, &len, NULL), ENAMETOOLONG);
}

/* Runs first: nothing is configured yet. */
static void
test_tls_unconfigured(void **state)
{
    (void) state;
    assert_false(stream_tls_configured());
    struct stream *s;
    assert_int_equal(stream_open("ssl:127.0.0.1:9", &s), ENOKEY);
    int sv[2];
    assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
    assert_int_equal(stream_accept(sv[0], true, "x", &s), ENOKEY);   /* fd consumed */
    close(sv[1]);
    assert_non_null(strstr(stream_strerror(ENOKEY), "TLS is not configured"));
    char err[256];
    assert_int_equal(stream_tls_configure("/nonexistent/key", "/nonexistent/cert",
                                          "/nonexistent/ca", err, sizeof err), EINVAL);
    assert_non_null(strstr(err, "/nonexistent/cert"));
    assert_false(stream_tls_configured());
}

static void
test_plain_pair(void **state)
{
    (void) state;
    struct stream *a, *b;
    make_pair(false, 4096, &a, &b);
    int ra, rb;
    handshake(a, b, &ra, &rb);
    assert_int_equal(ra, 0);
    assert_int_equal(rb, 0);
    assert_false(stream_is_tls(a));
    size_t n;
    assert_null(stream_peer_names(a, &n));
    assert_int_equal(n, 0);
    exchange(a, b, 300000);
    stream_close(a);
    char c;
    while (stream_recv(b, &c, 1) == -EAGAIN) {
        poll(&(struct pollfd) {.fd = stream_fd(b), .events = POLLIN}, 1, 100);
    }
    assert_int_equal(stream_recv(b, &c, 1), 0);
    stream_close(b);
}

/* A listener on a free loopback port; its "ssl:127.0.0.1:PORT" target
 * goes to 'target'. */
static int
listen_loopback(char *target, size_t size)
{
    int lfd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in sin = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(0x7f000001)};
    socklen_t sl = sizeof sin;
    assert_int_equal(bind(lfd, (struct sockaddr *) &sin, sizeof sin), 0);
    assert_int_equal(listen(lfd, 1), 0);
    assert_int_equal(getsockname(lfd, (struct sockaddr *) &sin, &sl), 0);
    snprintf(target, size, "ssl:127.0.0.1:%u", (unsigned int) ntohs(sin.sin_port));
    return lfd;
}

/* A TLS client made by stream_open() and the server end accepted from a
 * loopback listener; small send buffers, so writes block part way. */
static void
tls_pair(struct stream **client, struct stream **server)
{
    char target[64];
    int lfd = listen_loopback(target, sizeof target);
    assert_int_equal(stream_open(target, client), 0);
    int fd = accept(lfd, NULL, NULL);
    assert_true(fd >= 0);
    close(lfd);
    int small = 4096;
    setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &small, sizeof small);
    setsockopt(stream_fd(*client), SOL_SOCKET, SO_SNDBUF, &small, sizeof small);
    assert_int_equal(stream_accept(fd, true, "server", server), 0);
}

static void
test_tls_pair_moves_data_both_ways(void **state)
{
    (void) state;
    configure("sw.pem", "sw-key.pem");
    assert_true(stream_tls_configured());
    struct stream *c, *s;
    tls_pair(&c, &s);
    assert_true(stream_is_tls(c) && stream_is_tls(s));
    assert_false(stream_is_open(c));
    size_t n;
    assert_null(stream_peer_names(c, &n));      /* not before the handshake */
    int rc, rs;
    handshake(c, s, &rc, &rs);
    assert_int_equal(rc, 0);
    assert_int_equal(rs, 0);
    /* Each side sees the other's names: CN first, then the DNS SANs. */
    const char *const *names = stream_peer_names(c, &n);
    assert_int_equal(n, 3);
    assert_string_equal(names[0], "sw1 id:1234");
    assert_string_equal(names[1], "sw1 id:1234");
    assert_string_equal(names[2], "alt.example");
    names = stream_peer_names(s, &n);
    assert_int_equal(n, 3);
    assert_string_equal(names[2], "alt.example");
    /* Far more than the socket buffers and many TLS records, both ways at
     * once: every write blocks part way many times. */
    exchange(c, s, 1 << 20);
    /* A peer that goes away is the end of the stream. */
    stream_close(s);
    char byte;
    ssize_t r;
    uint64_t end = loop_now_ms() + 5000;
    while ((r = stream_recv(c, &byte, 1)) == -EAGAIN) {
        assert_true(loop_now_ms() < end);
        poll(&(struct pollfd) {.fd = stream_fd(c), .events = stream_events(c, POLLIN)},
             1, 100);
    }
    assert_int_equal(r, 0);
    stream_close(c);
}

/* A peer whose certificate another CA signed fails the handshake, with the
 * verification result as the reason, and can carry no data. */
static void
test_tls_untrusted_peer_fails(void **state)
{
    (void) state;
    struct stream *c, *s;
    configure("rogue.pem", "rogue-key.pem");    /* the client presents it */
    char target[64];
    int lfd = listen_loopback(target, sizeof target);
    assert_int_equal(stream_open(target, &c), 0);
    configure("sw.pem", "sw-key.pem");          /* the server: the right one */
    int fd = accept(lfd, NULL, NULL);
    close(lfd);
    assert_int_equal(stream_accept(fd, true, "server", &s), 0);
    int rc, rs;
    handshake(c, s, &rc, &rs);
    assert_int_equal(rs, EPROTO);
    assert_non_null(strstr(stream_error(s), "certificate"));
    char byte;
    assert_true(stream_recv(s, &byte, 1) < 0);
    /* With TLS 1.3 the client is done before the server has judged its
     * certificate: it learns of the refusal (an alert) on its first read. */
    ssize_t r = rc ? -rc : -EAGAIN;
    uint64_t end = loop_now_ms() + 5000;
    while (r == -EAGAIN) {
        assert_true(loop_now_ms() < end);
        poll(&(struct pollfd) {.fd = stream_fd(c), .events = stream_events(c, POLLIN)},
             1, 100);
        r = stream_recv(c, &byte, 1);
    }
    assert_int_equal(r, -EPROTO);
    assert_non_null(strstr(stream_error(c), "alert"));
    assert_true(stream_send(c, "x", 1) < 0);
    size_t n;
    assert_null(stream_peer_names(s, &n));
    stream_close(c);
    stream_close(s);
}

/* A plain client talking to a TLS server is refused, not hung. */
static void
test_tls_server_refuses_plain_client(void **state)
{
    (void) state;
    configure("sw.pem", "sw-key.pem");
    struct stream *a, *b;
    make_pair(true, 0, &a, &b);
    assert_int_equal(stream_connect(a), 0);     /* plain: open at once */
    int rb;
    const char junk[] = "{\"method\":\"echo\",\"params\":[],\"id\":1}";
    assert_int_equal(stream_send(a, junk, sizeof junk - 1), (ssize_t) sizeof junk - 1);
    uint64_t end = loop_now_ms() + 5000;
    while ((rb = stream_connect(b)) == EAGAIN) {
        assert_true(loop_now_ms() < end);
        poll(&(struct pollfd) {.fd = stream_fd(b), .events = stream_events(b, 0)}, 1, 100);
    }
    assert_int_equal(rb, EPROTO);
    assert_non_null(strstr(stream_error(b), "TLS handshake"));
    stream_close(a);
    stream_close(b);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_parse_targets),
        cmocka_unit_test(test_tls_unconfigured),
        cmocka_unit_test(test_plain_pair),
        cmocka_unit_test(test_tls_pair_moves_data_both_ways),
        cmocka_unit_test(test_tls_untrusted_peer_fails),
        cmocka_unit_test(test_tls_server_refuses_plain_client),
    };
    return cmocka_run_group_tests(tests, make_pki, remove_pki);
}
