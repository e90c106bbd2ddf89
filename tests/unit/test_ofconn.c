/* test_ofconn.c: ctrl/ofconn.c's state machine against a fake switch on
 * the other end of a socketpair, speaking bytes built with the codec.
 *
 * The test thread drives the loop by hand (loop_run_once) and plays the
 * switch: sw_recv() pumps the loop until a whole message from the
 * controller has arrived and decodes it; sw_send() encodes and writes. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <stdio.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "ctrl/loop.h"
#include "ctrl/ofconn.h"
#include "ctrl/stream.h"

struct fx {
    struct loop *loop;
    struct ofconn *conn;
    int sw;                         /* the fake switch's end */
    uint8_t in[65536];
    size_t in_len;
    int ups, downs, closed, messages;
    int ups_at_message;             /* f->ups when the last message came */
    int batch_error;
    size_t batch_index;
    uint16_t batch_err_type;
    int batch_calls;
    size_t n_flows;
    bool refuse;                    /* h_admit refuses */
    int admits;
    uint64_t admitted_dpid;
    int fenced;                     /* h_fenced calls, the last reason */
    int fenced_reason;
    uint64_t fenced_generation;
};

static void
h_up(struct ofconn *c, void *aux)
{
    (void) c;
    ((struct fx *) aux)->ups++;
}

static void
h_down(struct ofconn *c, void *aux)
{
    (void) c;
    ((struct fx *) aux)->downs++;
}

static void
h_message(struct ofconn *c, const struct ofmsg *m, void *aux)
{
    (void) c;
    (void) m;
    struct fx *f = aux;
    f->messages++;
    f->ups_at_message = f->ups;
}

static void
h_closed(struct ofconn *c, void *aux)
{
    struct fx *f = aux;
    assert_ptr_equal(c, f->conn);
    f->closed++;
    ofconn_destroy(c);
    f->conn = NULL;
}

static bool
h_admit(struct ofconn *c, void *aux, char *why, size_t len)
{
    struct fx *f = aux;
    f->admits++;
    f->admitted_dpid = ofconn_dpid(c);
    assert_false(ofconn_is_tls(c));
    if (f->refuse) {
        snprintf(why, len, "not this switch");
    }
    return !f->refuse;
}

static void
h_fenced(struct ofconn *c, void *aux, int reason, uint64_t generation)
{
    (void) c;
    struct fx *f = aux;
    f->fenced++;
    f->fenced_reason = reason;
    f->fenced_generation = generation;
}

static const struct ofconn_handler handler = {h_up, h_down, h_message, h_closed, h_admit,
                                              h_fenced};

static void
pump(struct fx *f, int ms)
{
    uint64_t end = loop_now_ms() + (uint64_t) ms;
    while (loop_now_ms() < end) {
        loop_run_once(f->loop, 5);
    }
}

/* Next message from the controller, pumping the loop up to 1 s.  Returns
 * false on EOF/timeout. */
static bool
sw_recv(struct fx *f, struct ofmsg *m)
{
    uint64_t end = loop_now_ms() + 1000;
    for (;;) {
        long len = ofmsg_frame(f->in, f->in_len);
        if (len > 0) {
            assert_int_equal(ofmsg_decode(f->in, (size_t) len, m), OFERR_NONE);
            memmove(f->in, f->in + len, f->in_len - (size_t) len);
            f->in_len -= (size_t) len;
            return true;
        }
        ssize_t r = recv(f->sw, f->in + f->in_len, sizeof f->in - f->in_len, MSG_DONTWAIT);
        if (r == 0) {
            return false;
        }
        if (r > 0) {
            f->in_len += (size_t) r;
            continue;
        }
        if (loop_now_ms() > end) {
            return false;
        }
        loop_run_once(f->loop, 5);
    }
}

/* Receives the next message and checks its type; returns its xid. */
static uint32_t
sw_expect(struct fx *f, uint8_t type, struct ofmsg *out)
{
    struct ofmsg m;
    assert_true(sw_recv(f, &m));
    assert_string_equal(ofmsg_type_name(m.type), ofmsg_type_name(type));
    uint32_t xid = m.xid;
    if (out) {
        *out = m;
    } else {
        ofmsg_uninit(&m);
    }
    return xid;
}

static void
sw_send_bytes(struct fx *f, const void *p, size_t n)
{
    assert_int_equal(write(f->sw, p, n), (ssize_t) n);
}

static void
sw_send(struct fx *f, const struct ofmsg *m)
{
    struct buf b;
    buf_init(&b);
    assert_int_equal(ofmsg_encode(m, &b), 0);
    sw_send_bytes(f, b.data, b.len);
    buf_uninit(&b);
}

static void
sw_send_simple(struct fx *f, enum ofptype type, uint32_t xid)
{
    struct ofmsg m;
    ofmsg_init(&m, type, xid);
    sw_send(f, &m);
}

static int
setup_ex(void **state, bool fenced)
{
    static struct fx f;
    memset(&f, 0, sizeof f);
    f.loop = loop_create();
    int sv[2];
    assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
    f.sw = sv[1];
    struct ofconn_config cfg = {.probe_ms = 200, .request_timeout_ms = 300,
                                .fenced = fenced};
    struct stream *st;
    assert_int_equal(stream_accept(sv[0], false, "test", &st), 0);
    assert_int_equal(ofconn_create_passive(f.loop, st, &cfg, &handler, &f, &f.conn), 0);
    *state = &f;
    return 0;
}

static int
setup(void **state)
{
    return setup_ex(state, false);
}

static int
setup_fenced(void **state)
{
    return setup_ex(state, true);
}

static int
teardown(void **state)
{
    struct fx *f = *state;
    ofconn_destroy(f->conn);
    close(f->sw);
    loop_destroy(f->loop);
    return 0;
}

static void
port(struct ofport *p, uint32_t no, const char *name)
{
    memset(p, 0, sizeof *p);
    p->port_no = no;
    strcpy(p->name, name);
}

/* Plays the switch's half of the handshake: HELLO, FEATURES, SET_CONFIG,
 * PORT_DESC in two parts; with 'early', a PACKET_IN before PORT_DESC. */
static void
handshake_ex(struct fx *f, bool early)
{
    int ups0 = f->ups;
    struct ofmsg m;
    sw_expect(f, OFPT_HELLO, &m);
    assert_true(m.u.hello.has_bitmap && (m.u.hello.bitmap & (1u << 4)));
    ofmsg_uninit(&m);
    struct ofmsg hello;
    ofmsg_init(&hello, OFPT_HELLO, 1);
    hello.u.hello.has_bitmap = true;
    hello.u.hello.bitmap = 0x12;    /* 1.0 and 1.3 */
    sw_send(f, &hello);
    assert_int_equal(ofconn_state(f->conn), OFCONN_HELLO_SENT);

    uint32_t xid = sw_expect(f, OFPT_FEATURES_REQUEST, NULL);
    assert_int_equal(ofconn_state(f->conn), OFCONN_FEATURES_WAIT);
    struct ofmsg fr;
    ofmsg_init(&fr, OFPT_FEATURES_REPLY, xid);
    fr.u.features.datapath_id = 0xabc;
    fr.u.features.n_tables = 254;
    sw_send(f, &fr);

    sw_expect(f, OFPT_SET_CONFIG, &m);
    assert_int_equal(m.u.config.miss_send_len, OFPCML_NO_BUFFER);
    ofmsg_uninit(&m);
    sw_expect(f, OFPT_MULTIPART_REQUEST, &m);
    assert_int_equal(m.u.mp.mp_type, OFPMP_PORT_DESC);
    xid = m.xid;
    ofmsg_uninit(&m);
    if (early) {
        struct ofmsg pi;
        ofmsg_init(&pi, OFPT_PACKET_IN, 0);
        pi.u.packet_in.buffer_id = OFP_NO_BUFFER;
        ofmatch_set(&pi.u.packet_in.match, MF_IN_PORT, 1);
        sw_send(f, &pi);
    }

    struct ofport ports[2];
    port(&ports[0], 1, "p1");
    port(&ports[1], OFPP_LOCAL, "br0");
    struct ofmsg pd;
    ofmsg_init(&pd, OFPT_MULTIPART_REPLY, xid);
    pd.u.mp.mp_type = OFPMP_PORT_DESC;
    pd.u.mp.flags = OFPMPF_MORE;
    pd.u.mp.ports = &ports[0];
    pd.u.mp.n = 1;
    sw_send(f, &pd);
    pump(f, 20);
    assert_int_equal(f->ups, ups0); /* not before the last part */
    pd.u.mp.flags = 0;
    pd.u.mp.ports = &ports[1];
    sw_send(f, &pd);
    for (int i = 0; i < 100 && f->ups == ups0; i++) {
        loop_run_once(f->loop, 5);
    }
}

static void
handshake(struct fx *f)
{
    handshake_ex(f, false);
}

static void
test_handshake(void **state)
{
    struct fx *f = *state;
    handshake(f);
    assert_int_equal(f->ups, 1);
    assert_int_equal(ofconn_state(f->conn), OFCONN_ACTIVE);
    assert_int_equal(ofconn_dpid(f->conn), 0xabc);
    assert_int_equal(f->admits, 1);
    assert_int_equal(f->admitted_dpid, 0xabc);
    size_t n;
    const struct ofport *p = ofconn_ports(f->conn, &n);
    assert_int_equal(n, 2);
    assert_string_equal(p[0].name, "p1");
    assert_string_equal(p[1].name, "br0");

    /* PORT_STATUS keeps the list current and reaches the handler. */
    struct ofmsg ps;
    ofmsg_init(&ps, OFPT_PORT_STATUS, 0);
    ps.u.port_status.reason = OFPPR_DELETE;
    port(&ps.u.port_status.port, 1, "p1");
    sw_send(f, &ps);
    pump(f, 20);
    p = ofconn_ports(f->conn, &n);
    assert_int_equal(n, 1);
    assert_string_equal(p[0].name, "br0");
    assert_int_equal(f->messages, 1);
}

static void
test_early_packet_in_delivered_after_up(void **state)
{
    struct fx *f = *state;
    handshake_ex(f, true);
    pump(f, 20);
    assert_int_equal(f->ups, 1);
    assert_int_equal(f->messages, 1);
    assert_int_equal(f->ups_at_message, 1);     /* after 'up', not lost */
}

/* A switch 'admit' refuses is closed right after its FEATURES_REPLY:
 * nothing more is sent to it and it never comes up. */
static void
test_admit_refuses(void **state)
{
    struct fx *f = *state;
    f->refuse = true;
    sw_expect(f, OFPT_HELLO, NULL);
    struct ofmsg hello;
    ofmsg_init(&hello, OFPT_HELLO, 1);
    hello.u.hello.has_bitmap = true;
    hello.u.hello.bitmap = 0x10;
    sw_send(f, &hello);
    uint32_t xid = sw_expect(f, OFPT_FEATURES_REQUEST, NULL);
    struct ofmsg fr;
    ofmsg_init(&fr, OFPT_FEATURES_REPLY, xid);
    fr.u.features.datapath_id = 0xdef;
    sw_send(f, &fr);
    struct ofmsg m;
    assert_false(sw_recv(f, &m));   /* EOF, no SET_CONFIG */
    pump(f, 20);
    assert_int_equal(f->admits, 1);
    assert_int_equal(f->admitted_dpid, 0xdef);
    assert_int_equal(f->closed, 1);
    assert_int_equal(f->ups + f->downs, 0);
}

static void
test_version_failure(void **state)
{
    struct fx *f = *state;
    sw_expect(f, OFPT_HELLO, NULL);
    /* An OpenFlow 1.0 switch: HELLO version 1, no bitmap. */
    static const uint8_t hello10[] = {1, 0, 0, 8, 0, 0, 0, 9};
    sw_send_bytes(f, hello10, sizeof hello10);
    struct ofmsg m;
    sw_expect(f, OFPT_ERROR, &m);
    assert_int_equal(m.u.error.type, 0);       /* HELLO_FAILED */
    assert_int_equal(m.u.error.code, 0);       /* INCOMPATIBLE */
    assert_int_equal(m.xid, 9);
    ofmsg_uninit(&m);
    assert_false(sw_recv(f, &m));              /* then EOF */
    pump(f, 20);
    assert_int_equal(f->closed, 1);
    assert_int_equal(f->ups + f->downs, 0);
}

static void
test_echo_both_ways(void **state)
{
    struct fx *f = *state;
    handshake(f);
    struct ofmsg echo;
    ofmsg_init(&echo, OFPT_ECHO_REQUEST, 77);
    echo.u.echo.data = (uint8_t *) "abc";
    echo.u.echo.len = 3;
    sw_send(f, &echo);
    struct ofmsg m;
    sw_expect(f, OFPT_ECHO_REPLY, &m);
    assert_int_equal(m.xid, 77);
    assert_int_equal(m.u.echo.len, 3);
    assert_memory_equal(m.u.echo.data, "abc", 3);
    ofmsg_uninit(&m);
    /* Silent for probe_ms (200): the controller probes. */
    uint64_t t0 = loop_now_ms();
    sw_expect(f, OFPT_ECHO_REQUEST, NULL);
    assert_true(loop_now_ms() - t0 >= 100);
    assert_int_equal(ofconn_state(f->conn), OFCONN_ACTIVE);
}

static void
batch_done(void *aux, int error, size_t failed_index, const struct ofmsg_error *err)
{
    struct fx *f = aux;
    f->batch_calls++;
    f->batch_error = error;
    f->batch_index = failed_index;
    f->batch_err_type = err ? err->type : 0;
}

static void
encode_flow_mods(struct buf *b, int n)
{
    for (int i = 0; i < n; i++) {
        struct ofmsg fm;
        ofmsg_flow_mod_init(&fm, OFPFC_ADD, 0, (uint16_t) (100 + i), 0);
        assert_int_equal(ofmsg_encode(&fm, b), 0);
    }
}

static void
test_barrier_completion(void **state)
{
    struct fx *f = *state;
    handshake(f);
    struct buf b;
    buf_init(&b);
    encode_flow_mods(&b, 3);

    /* All applied: done(0) only once the barrier reply is in. */
    ofconn_submit(f->conn, b.data, b.len, 3, batch_done, f);
    uint32_t x0 = sw_expect(f, OFPT_FLOW_MOD, NULL);
    assert_int_equal(sw_expect(f, OFPT_FLOW_MOD, NULL), x0 + 1);
    assert_int_equal(sw_expect(f, OFPT_FLOW_MOD, NULL), x0 + 2);
    uint32_t bx = sw_expect(f, OFPT_BARRIER_REQUEST, NULL);
    pump(f, 20);
    assert_int_equal(f->batch_calls, 0);
    sw_send_simple(f, OFPT_BARRIER_REPLY, bx);
    pump(f, 20);
    assert_int_equal(f->batch_calls, 1);
    assert_int_equal(f->batch_error, 0);

    /* The second one rejected: EPROTO, index 1, the switch's error. */
    ofconn_submit(f->conn, b.data, b.len, 3, batch_done, f);
    x0 = sw_expect(f, OFPT_FLOW_MOD, NULL);
    sw_expect(f, OFPT_FLOW_MOD, NULL);
    sw_expect(f, OFPT_FLOW_MOD, NULL);
    bx = sw_expect(f, OFPT_BARRIER_REQUEST, NULL);
    struct ofmsg err;
    ofmsg_init(&err, OFPT_ERROR, x0 + 1);
    err.u.error.type = 5;           /* FLOW_MOD_FAILED */
    err.u.error.code = 0;
    sw_send(f, &err);
    sw_send_simple(f, OFPT_BARRIER_REPLY, bx);
    pump(f, 20);
    assert_int_equal(f->batch_calls, 2);
    assert_int_equal(f->batch_error, EPROTO);
    assert_int_equal(f->batch_index, 1);
    assert_int_equal(f->batch_err_type, 5);

    /* No barrier reply: ETIMEDOUT after request_timeout_ms (300), before
     * the keepalive would declare the switch dead (2 * 200). */
    ofconn_submit(f->conn, b.data, b.len, 3, batch_done, f);
    pump(f, 350);
    assert_int_equal(f->batch_calls, 3);
    assert_int_equal(f->batch_error, ETIMEDOUT);

    /* Bytes that do not frame into n messages: EINVAL at once. */
    ofconn_submit(f->conn, b.data, b.len, 2, batch_done, f);
    assert_int_equal(f->batch_calls, 4);
    assert_int_equal(f->batch_error, EINVAL);
    buf_uninit(&b);
}

static void
flows_done(void *aux, int error, struct offlow_stats *flows, size_t n)
{
    struct fx *f = aux;
    assert_int_equal(error, 0);
    f->n_flows = n;
    ofconn_free_flows(flows, n);
}

static void
test_flow_dump_collects_all_parts(void **state)
{
    struct fx *f = *state;
    handshake(f);
    ofconn_dump_flows(f->conn, 0x20, UINT64_MAX, flows_done, f);
    struct ofmsg m;
    sw_expect(f, OFPT_MULTIPART_REQUEST, &m);
    assert_int_equal(m.u.mp.mp_type, OFPMP_FLOW);
    assert_int_equal(m.u.mp.req.flow.cookie, 0x20);
    assert_int_equal(m.u.mp.req.flow.table_id, 0xff);
    uint32_t xid = m.xid;
    ofmsg_uninit(&m);
    struct offlow_stats fl[3];
    memset(fl, 0, sizeof fl);
    struct ofmsg r;
    ofmsg_init(&r, OFPT_MULTIPART_REPLY, xid);
    r.u.mp.mp_type = OFPMP_FLOW;
    r.u.mp.flags = OFPMPF_MORE;
    r.u.mp.flows = fl;
    r.u.mp.n = 2;
    sw_send(f, &r);
    r.u.mp.flags = 0;
    r.u.mp.n = 1;
    sw_send(f, &r);
    pump(f, 30);
    assert_int_equal(f->n_flows, 3);
}

static void
test_malformed_message_gets_error_without_desync(void **state)
{
    struct fx *f = *state;
    handshake(f);
    /* A FLOW_MOD from the switch whose body is 4 garbage bytes (a valid
     * header length), then a message of an unknown type, then an echo. */
    static const uint8_t bad[] = {4, OFPT_FLOW_MOD, 0, 12, 0, 0, 0, 41, 1, 2, 3, 4};
    static const uint8_t unknown[] = {4, 99, 0, 8, 0, 0, 0, 42};
    sw_send_bytes(f, bad, sizeof bad);
    sw_send_bytes(f, unknown, sizeof unknown);
    sw_send_simple(f, OFPT_ECHO_REQUEST, 43);
    struct ofmsg m;
    sw_expect(f, OFPT_ERROR, &m);
    assert_int_equal(m.xid, 41);
    assert_int_equal(m.u.error.type, 1);       /* BAD_REQUEST */
    assert_int_equal(m.u.error.code, 6);       /* BAD_LEN */
    assert_memory_equal(m.u.error.data, bad, sizeof bad);
    ofmsg_uninit(&m);
    sw_expect(f, OFPT_ERROR, &m);
    assert_int_equal(m.xid, 42);
    assert_int_equal(m.u.error.code, 1);       /* BAD_TYPE */
    ofmsg_uninit(&m);
    assert_int_equal(sw_expect(f, OFPT_ECHO_REPLY, NULL), 43);
    assert_int_equal(ofconn_state(f->conn), OFCONN_ACTIVE);

    /* A header length below 8 cannot be skipped: the connection closes,
     * failing what is pending. */
    ofconn_submit(f->conn, NULL, 0, 0, batch_done, f);
    sw_expect(f, OFPT_BARRIER_REQUEST, NULL);
    static const uint8_t short_len[] = {4, OFPT_ECHO_REQUEST, 0, 4, 0, 0, 0, 44};
    sw_send_bytes(f, short_len, sizeof short_len);
    assert_false(sw_recv(f, &m));
    pump(f, 20);
    assert_int_equal(f->downs, 1);
    assert_int_equal(f->closed, 1);
    assert_int_equal(f->batch_calls, 1);
    assert_int_equal(f->batch_error, ECONNRESET);
}

static void
test_dead_peer_detected(void **state)
{
    struct fx *f = *state;
    handshake(f);
    /* The switch goes silent: echo at probe_ms, dead at 2 * probe_ms. */
    uint64_t t0 = loop_now_ms();
    while (!f->closed && loop_now_ms() - t0 < 2000) {
        loop_run_once(f->loop, 10);
    }
    uint64_t dt = loop_now_ms() - t0;
    assert_int_equal(f->closed, 1);
    assert_int_equal(f->downs, 1);
    assert_true(dt >= 300 && dt < 1000);
    sw_expect(f, OFPT_ECHO_REQUEST, NULL);     /* it did probe first */
}

/* Accepts the controller's next connection attempt on 'lfd', pumping the
 * loop; returns the fd (the new fake switch end) or -1 after 3 s. */
static int
accept_next(struct fx *f, int lfd)
{
    uint64_t end = loop_now_ms() + 3000;
    while (loop_now_ms() < end) {
        int fd = accept4(lfd, NULL, NULL, SOCK_NONBLOCK);
        if (fd >= 0) {
            f->in_len = 0;
            return fd;
        }
        loop_run_once(f->loop, 2);
    }
    return -1;
}

static void
test_active_reconnects_with_backoff(void **state)
{
    struct fx *f = *state;
    ofconn_destroy(f->conn);        /* this test wants an active conn */
    close(f->sw);
    f->conn = NULL;

    struct sockaddr_un un = {.sun_family = AF_UNIX};
    snprintf(un.sun_path, sizeof un.sun_path, "/tmp/skyv-test-ofconn-%d.sock", (int) getpid());
    unlink(un.sun_path);
    int lfd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0);
    assert_int_equal(bind(lfd, (struct sockaddr *) &un, sizeof un), 0);
    assert_int_equal(listen(lfd, 8), 0);
    char target[sizeof un.sun_path + 8];
    snprintf(target, sizeof target, "unix:%s", un.sun_path);
    struct ofconn_config cfg = {.probe_ms = 1000, .backoff_min_ms = 50, .backoff_max_ms = 200};
    assert_int_equal(ofconn_create_active(f->loop, target, &cfg, &handler, f, &f->conn), 0);

    f->sw = accept_next(f, lfd);
    assert_true(f->sw >= 0);
    handshake(f);
    assert_int_equal(f->ups, 1);
    assert_string_equal(ofconn_target(f->conn), target);

    /* The switch hangs up four times without a handshake: the delays
     * double from backoff_min (reset by the handshake) up to backoff_max. */
    static const unsigned int expect[] = {50, 100, 200, 200};
    for (size_t i = 0; i < 4; i++) {
        close(f->sw);
        uint64_t t0 = loop_now_ms();
        f->sw = accept_next(f, lfd);
        assert_true(f->sw >= 0);
        uint64_t dt = loop_now_ms() - t0;
        assert_true(dt + 5 >= expect[i] && dt < expect[i] + 150);
        assert_int_equal(ofconn_state(f->conn), OFCONN_HELLO_SENT);
    }
    assert_int_equal(f->downs, 1);              /* only the ACTIVE one */

    /* A completed handshake resets the delay. */
    handshake(f);
    assert_int_equal(f->ups, 2);
    assert_int_equal(ofconn_n_handshakes(f->conn), 2);
    close(f->sw);
    uint64_t t0 = loop_now_ms();
    f->sw = accept_next(f, lfd);
    assert_true(f->sw >= 0 && loop_now_ms() - t0 < 150);   /* not 200 */
    close(lfd);
    unlink(un.sun_path);
}

/* --- roles (ofconn.h, "Roles") --- */

/* Nothing from the controller for 30 ms. */
static void
sw_nothing(struct fx *f)
{
    pump(f, 30);
    uint8_t b[8];
    assert_int_equal(recv(f->sw, b, sizeof b, MSG_DONTWAIT), -1);
    assert_int_equal(f->in_len, 0);
}

/* Receives a ROLE_REQUEST, checks role and generation; returns its xid. */
static uint32_t
sw_expect_role(struct fx *f, uint32_t role, uint64_t generation)
{
    struct ofmsg m;
    uint32_t xid = sw_expect(f, OFPT_ROLE_REQUEST, &m);
    assert_int_equal(m.u.role.role, role);
    assert_int_equal(m.u.role.generation_id, generation);
    ofmsg_uninit(&m);
    return xid;
}

static void
sw_role_reply(struct fx *f, uint32_t xid, uint32_t role, uint64_t generation)
{
    struct ofmsg r;
    ofmsg_init(&r, OFPT_ROLE_REPLY, xid);
    r.u.role.role = role;
    r.u.role.generation_id = generation;
    sw_send(f, &r);
}

static void
sw_error(struct fx *f, uint32_t xid, uint16_t type, uint16_t code)
{
    struct ofmsg err;
    ofmsg_init(&err, OFPT_ERROR, xid);
    err.u.error.type = type;
    err.u.error.code = code;
    sw_send(f, &err);
}

/* Submits 2 flow-mods; the batch's outcome lands in f->batch_*. */
static void
submit2(struct fx *f)
{
    struct buf b;
    buf_init(&b);
    encode_flow_mods(&b, 2);
    ofconn_submit(f->conn, b.data, b.len, 2, batch_done, f);
    buf_uninit(&b);
}

/* The switch side of a 2-flow-mod batch that it applies. */
static void
sw_apply2(struct fx *f)
{
    sw_expect(f, OFPT_FLOW_MOD, NULL);
    sw_expect(f, OFPT_FLOW_MOD, NULL);
    sw_send_simple(f, OFPT_BARRIER_REPLY, sw_expect(f, OFPT_BARRIER_REQUEST, NULL));
    pump(f, 20);
}

/* The role asked before the handshake is the first thing after it, before
 * 'up'; a write submitted meanwhile (as an owner's 'up' handler would)
 * stays in the controller until the reply grants the role. */
static void
test_role_request_first_writes_held_until_granted(void **state)
{
    struct fx *f = *state;
    ofconn_set_role(f->conn, OFPCR_ROLE_MASTER, 7, 0);
    handshake(f);
    assert_int_equal(f->ups, 1);
    uint32_t xid = sw_expect_role(f, OFPCR_ROLE_MASTER, 7);
    assert_int_equal(ofconn_role_state(f->conn), OFCONN_ROLE_PENDING);
    assert_int_equal(ofconn_write_gate(f->conn), EAGAIN);
    submit2(f);
    struct ofmsg pkt;
    ofmsg_init(&pkt, OFPT_BARRIER_REQUEST, 0);
    assert_int_equal(ofconn_send(f->conn, &pkt), 0);       /* held too */
    sw_nothing(f);
    assert_int_equal(f->batch_calls, 0);

    sw_role_reply(f, xid, OFPCR_ROLE_MASTER, 7);
    sw_apply2(f);                   /* in submission order: the batch ... */
    sw_expect(f, OFPT_BARRIER_REQUEST, NULL);              /* ... then the send */
    assert_int_equal(f->batch_calls, 1);
    assert_int_equal(f->batch_error, 0);
    assert_int_equal(ofconn_role_state(f->conn), OFCONN_ROLE_GRANTED);
    assert_int_equal(f->fenced, 0);
}

/* STALE: the held write is refused without reaching the switch, the owner
 * is told, and later writes are refused at once. */
static void
test_stale_role_refuses_and_fences(void **state)
{
    struct fx *f = *state;
    ofconn_set_role(f->conn, OFPCR_ROLE_MASTER, 3, 0);
    handshake(f);
    uint32_t xid = sw_expect_role(f, OFPCR_ROLE_MASTER, 3);
    submit2(f);
    sw_error(f, xid, 11, 0);        /* ROLE_REQUEST_FAILED / STALE */
    pump(f, 20);
    assert_int_equal(f->batch_calls, 1);
    assert_int_equal(f->batch_error, ESTALE);
    assert_int_equal(f->fenced, 1);
    assert_int_equal(f->fenced_reason, ESTALE);
    assert_int_equal(f->fenced_generation, 3);
    submit2(f);
    assert_int_equal(f->batch_calls, 2);
    assert_int_equal(f->batch_error, ESTALE);
    sw_nothing(f);

    /* A higher generation asks again, and writes flow once granted. */
    ofconn_set_role(f->conn, OFPCR_ROLE_MASTER, 4, 0);
    sw_role_reply(f, sw_expect_role(f, OFPCR_ROLE_MASTER, 4), OFPCR_ROLE_MASTER, 4);
    pump(f, 20);
    submit2(f);
    sw_apply2(f);
    assert_int_equal(f->batch_calls, 3);
    assert_int_equal(f->batch_error, 0);
}

/* A granted role is taken away by an IS_SLAVE error or a ROLE_STATUS
 * naming us slave: fenced, and no write leaves afterwards. */
static void
test_is_slave_and_role_status_take_the_role(void **state)
{
    struct fx *f = *state;
    ofconn_set_role(f->conn, OFPCR_ROLE_MASTER, 5, 0);
    handshake(f);
    sw_role_reply(f, sw_expect_role(f, OFPCR_ROLE_MASTER, 5), OFPCR_ROLE_MASTER, 5);
    pump(f, 20);
    submit2(f);
    uint32_t x0 = sw_expect(f, OFPT_FLOW_MOD, NULL);
    sw_expect(f, OFPT_FLOW_MOD, NULL);
    uint32_t bx = sw_expect(f, OFPT_BARRIER_REQUEST, NULL);
    sw_error(f, x0, 1, 10);         /* BAD_REQUEST / IS_SLAVE */
    sw_send_simple(f, OFPT_BARRIER_REPLY, bx);
    pump(f, 20);
    assert_int_equal(f->batch_error, EPROTO);
    assert_int_equal(f->fenced, 1);
    assert_int_equal(f->fenced_reason, EPERM);
    submit2(f);
    assert_int_equal(f->batch_error, EPERM);
    sw_nothing(f);

    ofconn_set_role(f->conn, OFPCR_ROLE_MASTER, 6, 0);
    sw_role_reply(f, sw_expect_role(f, OFPCR_ROLE_MASTER, 6), OFPCR_ROLE_MASTER, 6);
    pump(f, 20);
    assert_int_equal(ofconn_write_gate(f->conn), 0);
    /* ONF ROLE_STATUS (experimenter 0x4f4e4600, type 1911): now SLAVE. */
    static const uint8_t status[32] = {
        4, OFPT_EXPERIMENTER, 0, 32, 0, 0, 0, 0, 0x4f, 0x4e, 0x46, 0x00, 0, 0, 0x07, 0x77,
        0, 0, 0, OFPCR_ROLE_SLAVE, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 9,
    };
    sw_send_bytes(f, status, sizeof status);
    pump(f, 20);
    assert_int_equal(f->fenced, 2);
    assert_int_equal(ofconn_write_gate(f->conn), EPERM);
    sw_nothing(f);                  /* no error reply to it either */
}

/* A slave never writes; a granted master stops at its deadline, and a
 * renewal (same role and generation) moves it without a new request. */
static void
test_slave_and_deadline(void **state)
{
    struct fx *f = *state;
    handshake(f);
    ofconn_set_role(f->conn, OFPCR_ROLE_SLAVE, 2, 0);
    sw_role_reply(f, sw_expect_role(f, OFPCR_ROLE_SLAVE, 2), OFPCR_ROLE_SLAVE, 2);
    submit2(f);
    assert_int_equal(f->batch_error, EPERM);
    sw_nothing(f);

    ofconn_set_role(f->conn, OFPCR_ROLE_MASTER, 3, loop_now_ms() + 60);
    sw_role_reply(f, sw_expect_role(f, OFPCR_ROLE_MASTER, 3), OFPCR_ROLE_MASTER, 3);
    pump(f, 10);
    submit2(f);
    sw_apply2(f);
    assert_int_equal(f->batch_error, 0);
    pump(f, 60);
    submit2(f);
    assert_int_equal(f->batch_error, ETIME);
    sw_nothing(f);

    ofconn_set_role(f->conn, OFPCR_ROLE_MASTER, 3, loop_now_ms() + 10000);
    submit2(f);                     /* no ROLE_REQUEST: straight to the writes */
    sw_apply2(f);
    assert_int_equal(f->batch_error, 0);
}

/* cfg.fenced: a connection that asked for no role does not write. */
static void
test_fenced_config_needs_a_role(void **state)
{
    struct fx *f = *state;
    handshake(f);
    submit2(f);
    assert_int_equal(f->batch_error, EPERM);
    sw_nothing(f);
    ofconn_set_role(f->conn, OFPCR_ROLE_MASTER, 1, 0);
    sw_role_reply(f, sw_expect_role(f, OFPCR_ROLE_MASTER, 1), OFPCR_ROLE_MASTER, 1);
    pump(f, 20);
    submit2(f);
    sw_apply2(f);
    assert_int_equal(f->batch_error, 0);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_handshake, setup, teardown),
        cmocka_unit_test_setup_teardown(test_early_packet_in_delivered_after_up, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_version_failure, setup, teardown),
        cmocka_unit_test_setup_teardown(test_admit_refuses, setup, teardown),
        cmocka_unit_test_setup_teardown(test_echo_both_ways, setup, teardown),
        cmocka_unit_test_setup_teardown(test_barrier_completion, setup, teardown),
        cmocka_unit_test_setup_teardown(test_flow_dump_collects_all_parts, setup, teardown),
        cmocka_unit_test_setup_teardown(test_malformed_message_gets_error_without_desync,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_dead_peer_detected, setup, teardown),
        cmocka_unit_test_setup_teardown(test_active_reconnects_with_backoff, setup, teardown),
        cmocka_unit_test_setup_teardown(test_role_request_first_writes_held_until_granted,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_stale_role_refuses_and_fences, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_is_slave_and_role_status_take_the_role, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_slave_and_deadline, setup, teardown),
        cmocka_unit_test_setup_teardown(test_fenced_config_needs_a_role, setup_fenced,
                                        teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
