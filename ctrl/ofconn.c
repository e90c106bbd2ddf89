/* ofconn.c: one OpenFlow 1.3 switch connection (see ofconn.h for the state
 * machine).
 *
 * Which function does which transition:
 *   connect_now()    BACKOFF/create -> CONNECTING (or straight on)
 *   on_connected()   CONNECTING -> HELLO_SENT
 *   on_hello()       HELLO_SENT -> FEATURES_WAIT, or fail
 *   on_port_desc()   FEATURES_WAIT -> ACTIVE
 *   fail()           any open state -> BACKOFF (active) / CLOSED (passive)
 *   on_timer()       BACKOFF -> CONNECTING; keepalive; request deadlines
 *
 * Roles (ofconn.h): role_request() sends the ROLE_REQUEST as a request of
 * its own (REQ_ROLE: the xid table, the deadline and the failure on
 * disconnect are those of every request); role_done() settles it, releases
 * or refuses the held writes (struct held, in submission order) and calls
 * 'fenced' for the switch's refusals; role_lost() is the same for a
 * granted role taken away (IS_SLAVE error, ROLE_STATUS).  fail() refuses
 * held writes with ECONNRESET and forgets the role state, so the next
 * handshake asks again.
 *
 * I/O never fails synchronously inside a send: flush_tx() only records a
 * write error and asks for EPOLLOUT, and on_io() turns it into fail().  So
 * fail() runs only from on_io(), on_timer() and connect_now(), never from
 * inside a handler callback, and the input loop stops as soon as the fd is
 * gone.  Messages queued while the input loop runs (answers to what it
 * reads) go out with one write when it ends.
 *
 * One timer per connection: its deadline is the earliest of the keepalive
 * point (last input + probe, or + 2*probe once an echo is out), the
 * earliest request deadline, the backoff end.  It is not re-armed on every
 * input; when it fires early it simply recomputes. */
#include "ctrl/ofconn.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>

#include "core/vlog.h"
#include "ctrl/stream.h"

#define MOD "ofconn"
#define READ_CHUNK 65536
#define EARLY_MAX (1u << 20)        /* bytes of early async messages kept */

enum req_kind { REQ_BATCH, REQ_FLOWS, REQ_ROLE, REQ_METERS };

/* A write held until the role reply (ofconn.h, "Roles"). */
struct held {
    struct held *next;
    uint8_t *msgs;                  /* owned */
    size_t len, n;
    ofconn_batch_fn *done;          /* NULL: one raw message (ofconn_send_raw) */
    void *aux;
};

struct req {
    struct req *next;
    enum req_kind kind;
    uint32_t first_xid;             /* batch: message i has first_xid + i */
    size_t n;                       /* batch: messages before the barrier */
    uint32_t last_xid;              /* barrier / multipart request xid */
    uint64_t deadline;
    void *aux;
    /* REQ_BATCH */
    ofconn_batch_fn *batch_done;
    bool failed;
    size_t failed_index;
    struct ofmsg_error err;         /* data owned */
    /* REQ_FLOWS */
    ofconn_flows_fn *flows_done;
    struct offlow_stats *flows;     /* owned until handed to flows_done */
    size_t n_flows, cap_flows;
    /* REQ_METERS */
    ofconn_meters_fn *meters_done;
    struct ofmsg_meter_mod *meters; /* owned until handed to meters_done */
    size_t n_meters, cap_meters;
    /* REQ_ROLE */
    struct ofconn *conn;
    uint32_t role_reply;
};

struct ofconn {
    struct loop *loop;
    char *target;
    bool active;
    struct ofconn_config cfg;
    const struct ofconn_handler *h;
    void *aux;

    enum ofconn_state state;
    struct stream *s;               /* non-NULL exactly when fd >= 0 */
    int fd;                         /* stream_fd(s), as registered */
    char refusal[256];              /* why 'admit' refused this connection */
    uint32_t events;                /* registered epoll events */
    bool write_error;
    bool reading;                   /* inside do_read(): flush once at its end */
    struct buf rx;
    struct buf early;               /* async messages held until ACTIVE */
    struct buf tx;
    size_t tx_off;                  /* tx.data[tx_off..len) still to write */

    uint64_t last_rx;
    bool echo_sent;
    uint64_t timer, timer_when;
    uint64_t backoff_end;
    unsigned int backoff_ms;

    uint32_t next_xid;
    uint32_t features_xid, port_desc_xid;
    struct ofmsg_features features;
    struct ofport *ports;
    size_t n_ports, cap_ports;
    unsigned int n_handshakes;
    struct req *reqs;

    /* Roles (ofconn.h). */
    uint32_t role;                  /* asked; OFPCR_ROLE_NOCHANGE: none */
    uint64_t generation;
    uint64_t until_ms;              /* 0: no deadline */
    enum ofconn_role_state role_state;
    int role_error;                 /* REFUSED: the errno writes get */
    uint32_t role_xid;              /* the ROLE_REQUEST in flight */
    struct held *held, **held_tail;
};

static void on_io(struct loop *, int fd, uint32_t events, void *aux);
static void on_timer(struct loop *, void *aux);
static void connect_now(struct ofconn *);
static void advance_connect(struct ofconn *);
static void handle_frame(struct ofconn *, const uint8_t *p, size_t len);
static void role_done(struct ofconn *, struct req *, int error);

const char *
ofconn_state_name(enum ofconn_state s)
{
    static const char *const names[] = {
        [OFCONN_CONNECTING] = "CONNECTING", [OFCONN_HELLO_SENT] = "HELLO_SENT",
        [OFCONN_FEATURES_WAIT] = "FEATURES_WAIT", [OFCONN_ACTIVE] = "ACTIVE",
        [OFCONN_BACKOFF] = "BACKOFF", [OFCONN_CLOSED] = "CLOSED",
    };
    return (unsigned int) s <= OFCONN_CLOSED ? names[s] : "?";
}

enum ofconn_state ofconn_state(const struct ofconn *c) { return c->state; }
const char *ofconn_target(const struct ofconn *c) { return c->target; }
uint64_t ofconn_dpid(const struct ofconn *c) { return c->features.datapath_id; }
unsigned int ofconn_n_handshakes(const struct ofconn *c) { return c->n_handshakes; }

const struct ofmsg_features *
ofconn_features(const struct ofconn *c)
{
    return &c->features;
}

const struct ofport *
ofconn_ports(const struct ofconn *c, size_t *n)
{
    *n = c->n_ports;
    return c->ports;
}

bool
ofconn_is_tls(const struct ofconn *c)
{
    return c->s && stream_is_tls(c->s);
}

const char *const *
ofconn_peer_names(const struct ofconn *c, size_t *n)
{
    *n = 0;
    return c->s ? stream_peer_names(c->s, n) : NULL;
}

static uint32_t
alloc_xids(struct ofconn *c, uint32_t n)
{
    if (c->next_xid == 0 || c->next_xid + n < c->next_xid) {
        c->next_xid = 1;            /* never hand out xid 0 */
    }
    uint32_t x = c->next_xid;
    c->next_xid += n;
    return x;
}

/* --- timer --- */

static uint64_t
keepalive_due(const struct ofconn *c)
{
    return c->last_rx + (uint64_t) c->cfg.probe_ms * (c->echo_sent ? 2 : 1);
}

/* Makes sure the connection's timer fires no later than 'when'. */
static void
arm_at(struct ofconn *c, uint64_t when)
{
    if (c->timer && c->timer_when <= when) {
        return;
    }
    if (c->timer) {
        loop_timer_cancel(c->loop, c->timer);
    }
    c->timer = loop_timer(c->loop, when, on_timer, c);
    c->timer_when = when;
}

static void
rearm(struct ofconn *c)
{
    uint64_t when;
    if (c->state == OFCONN_BACKOFF) {
        when = c->backoff_end;
    } else if (c->state == OFCONN_CLOSED) {
        when = 0;
    } else {
        when = keepalive_due(c);
        for (const struct req *r = c->reqs; r; r = r->next) {
            if (r->deadline < when) {
                when = r->deadline;
            }
        }
    }
    if (c->timer) {
        loop_timer_cancel(c->loop, c->timer);
        c->timer = 0;
    }
    arm_at(c, when);
}

/* --- output --- */

static void
update_events(struct ofconn *c)
{
    if (c->fd < 0) {
        return;
    }
    size_t pending = c->tx.len - c->tx_off;
    uint32_t ev;
    if (c->state == OFCONN_CONNECTING) {
        ev = (uint32_t) stream_events(c->s, 0);
    } else if (c->write_error) {
        ev = EPOLLOUT;              /* on_io() closes it at once */
    } else {
        ev = (uint32_t) stream_events(c->s, (short) ((pending > OFCONN_TX_HIGH ? 0 : EPOLLIN)
                                                     | (pending ? EPOLLOUT : 0)));
    }
    if (ev != c->events && !loop_mod_fd(c->loop, c->fd, ev)) {
        c->events = ev;
    }
}

/* Writes what the socket takes.  A write error is only recorded (see the
 * file comment). */
static void
flush_tx(struct ofconn *c)
{
    while (c->fd >= 0 && !c->write_error && c->tx_off < c->tx.len
           && c->state != OFCONN_CONNECTING) {
        ssize_t w = stream_send(c->s, c->tx.data + c->tx_off, c->tx.len - c->tx_off);
        if (w > 0) {
            c->tx_off += (size_t) w;
        } else if (w == -EAGAIN) {
            break;
        } else {
            c->write_error = true;
        }
    }
    if (c->tx_off == c->tx.len) {
        if (c->tx.cap > OFCONN_TX_KEEP) {
            buf_uninit(&c->tx);     /* a first pass's batch: give it back */
        }
        buf_clear(&c->tx);
        c->tx_off = 0;
    }
    update_events(c);
}

/* Flushes now, unless the input loop of this very connection is running
 * (a handler answering a packet-in): then do_read() flushes everything it
 * queued with one write. */
static void
kick_tx(struct ofconn *c)
{
    if (!c->reading) {
        flush_tx(c);
    }
}

/* Encodes 'msg' onto the output queue whatever the state (handshake
 * messages use it directly).  Consumes nothing. */
static int
queue_msg(struct ofconn *c, const struct ofmsg *msg)
{
    size_t start = c->tx.len;
    int error = ofmsg_encode(msg, &c->tx);
    if (error) {
        c->tx.len = start;
        c->tx.failed = false;
        return error;
    }
    return 0;
}

static void
queue_simple(struct ofconn *c, enum ofptype type, uint32_t xid)
{
    struct ofmsg m;
    ofmsg_init(&m, type, xid);
    queue_msg(c, &m);
}

static void
queue_error_reply(struct ofconn *c, enum oferr e, const uint8_t *p, size_t len)
{
    size_t start = c->tx.len;
    if (ofmsg_encode_error_reply(e, p, len, &c->tx)) {
        c->tx.len = start;
        c->tx.failed = false;
    }
}

/* Holds a write until the role reply: copies msgs[0..len).  Returns 0 or
 * ENOMEM. */
static int
hold(struct ofconn *c, const uint8_t *msgs, size_t len, size_t n,
     ofconn_batch_fn *done, void *aux)
{
    struct held *h = calloc(1, sizeof *h);
    if (!h || !(h->msgs = malloc(len ? len : 1))) {
        free(h);
        return ENOMEM;
    }
    memcpy(h->msgs, msgs, len);
    h->len = len;
    h->n = n;
    h->done = done;
    h->aux = aux;
    if (!c->held) {
        c->held_tail = &c->held;
    }
    *c->held_tail = h;
    c->held_tail = &h->next;
    return 0;
}

/* Sends (error 0) or refuses every held write, in order. */
static void
release_held(struct ofconn *c, int error)
{
    struct held *h = c->held;
    c->held = NULL;
    c->held_tail = &c->held;
    while (h) {
        struct held *next = h->next;
        if (h->done) {
            if (error) {
                h->done(h->aux, error, 0, NULL);
            } else {
                ofconn_submit(c, h->msgs, h->len, h->n, h->done, h->aux);
            }
        } else if (error || ofconn_send_raw(c, h->msgs, h->len)) {
            vlog(VLOG_WARN, MOD, "%s: a held %s dropped: %s", c->target,
                 ofmsg_type_name(h->msgs[1]), strerror(error ? error : ENOTCONN));
        }
        free(h->msgs);
        free(h);
        h = next;
    }
}

int
ofconn_write_gate(const struct ofconn *c)
{
    if (c->role == OFPCR_ROLE_NOCHANGE) {
        return c->cfg.fenced ? EPERM : 0;
    }
    if (c->role == OFPCR_ROLE_SLAVE) {
        return EPERM;
    }
    switch (c->role_state) {
    case OFCONN_ROLE_UNSET:
    case OFCONN_ROLE_PENDING:
        return EAGAIN;
    case OFCONN_ROLE_REFUSED:
        return c->role_error;
    case OFCONN_ROLE_GRANTED:
        break;
    }
    return c->until_ms && loop_now_ms() >= c->until_ms ? ETIME : 0;
}

int
ofconn_send(struct ofconn *c, const struct ofmsg *msg)
{
    struct buf b;
    buf_init(&b);
    int error = ofmsg_encode(msg, &b);
    if (!error) {
        error = ofconn_send_raw(c, b.data, b.len);
    }
    buf_uninit(&b);
    return error;
}

static void
put_xid(uint8_t *p, uint32_t xid)
{
    p[4] = (uint8_t) (xid >> 24);
    p[5] = (uint8_t) (xid >> 16);
    p[6] = (uint8_t) (xid >> 8);
    p[7] = (uint8_t) xid;
}

int
ofconn_send_raw(struct ofconn *c, const uint8_t *msg, size_t len)
{
    if (c->state != OFCONN_ACTIVE) {
        return ENOTCONN;
    }
    if (c->tx.len - c->tx_off > OFCONN_TX_MAX) {
        return ENOBUFS;
    }
    if (ofmsg_frame(msg, len) != (long) len) {
        return EINVAL;
    }
    int gate = ofconn_write_gate(c);
    if (gate == EAGAIN) {
        return hold(c, msg, len, 1, NULL, NULL);
    } else if (gate) {
        return gate;
    }
    size_t start = c->tx.len;
    buf_put(&c->tx, msg, len);
    if (c->tx.failed) {
        c->tx.len = start;
        c->tx.failed = false;
        return ENOMEM;
    }
    if (!ofmsg_xid(msg)) {
        put_xid(c->tx.data + start, alloc_xids(c, 1));
    }
    kick_tx(c);
    return 0;
}

/* --- requests --- */

static void
req_free(struct req *r)
{
    free(r->err.data);
    ofconn_free_flows(r->flows, r->n_flows);
    ofconn_free_meters(r->meters, r->n_meters);
    free(r);
}

/* Calls the completion of 'r' (already unlinked) and frees it. */
static void
req_complete(struct req *r, int error)
{
    if (r->kind == REQ_ROLE) {
        role_done(r->conn, r, error);
    } else if (r->kind == REQ_BATCH) {
        if (!error && r->failed) {
            error = EPROTO;
        }
        r->batch_done(r->aux, error, error == EPROTO ? r->failed_index : 0,
                      error == EPROTO ? &r->err : NULL);
    } else if (r->kind == REQ_METERS) {
        r->meters_done(r->aux, error, error ? NULL : r->meters,
                       error ? 0 : r->n_meters);
        if (!error) {
            r->meters = NULL;
            r->n_meters = 0;
        }
    } else {
        if (error) {
            r->flows_done(r->aux, error, NULL, 0);
        } else {
            r->flows_done(r->aux, 0, r->flows, r->n_flows);
            r->flows = NULL;
            r->n_flows = 0;
        }
    }
    req_free(r);
}

static void
req_unlink(struct ofconn *c, struct req *r)
{
    for (struct req **p = &c->reqs; *p; p = &(*p)->next) {
        if (*p == r) {
            *p = r->next;
            r->next = NULL;
            return;
        }
    }
}

/* The request that 'xid' belongs to, or NULL. */
static struct req *
req_find(struct ofconn *c, uint32_t xid)
{
    for (struct req *r = c->reqs; r; r = r->next) {
        if (xid == r->last_xid
            || (r->kind == REQ_BATCH && (uint32_t) (xid - r->first_xid) < r->n)) {
            return r;
        }
    }
    return NULL;
}

/* Completes every request with 'error'.  Completions may add requests to a
 * live connection; those stay. */
static void
fail_all(struct ofconn *c, int error)
{
    struct req *list = c->reqs;
    c->reqs = NULL;
    while (list) {
        struct req *next = list->next;
        req_complete(list, error);
        list = next;
    }
}

static struct req *
req_add(struct ofconn *c, enum req_kind kind, void *aux)
{
    struct req *r = calloc(1, sizeof *r);
    if (!r) {
        return NULL;
    }
    r->kind = kind;
    r->aux = aux;
    r->deadline = loop_now_ms() + c->cfg.request_timeout_ms;
    struct req **p = &c->reqs;
    while (*p) {
        p = &(*p)->next;            /* keep submission order */
    }
    *p = r;
    arm_at(c, r->deadline);
    return r;
}

void
ofconn_submit(struct ofconn *c, const uint8_t *msgs, size_t len, size_t n,
              ofconn_batch_fn *done, void *aux)
{
    if (c->state != OFCONN_ACTIVE) {
        done(aux, ENOTCONN, 0, NULL);
        return;
    }
    if (c->tx.len - c->tx_off > OFCONN_TX_MAX) {
        done(aux, ENOBUFS, 0, NULL);
        return;
    }
    size_t count = 0;
    for (size_t off = 0; off < len; count++) {
        long m = ofmsg_frame(msgs + off, len - off);
        if (m <= 0) {
            done(aux, EINVAL, 0, NULL);
            return;
        }
        off += (size_t) m;
    }
    int gate = count == n ? ofconn_write_gate(c) : 0;
    if (gate == EAGAIN) {
        int error = hold(c, msgs, len, n, done, aux);
        if (error) {
            done(aux, error, 0, NULL);
        }
        return;
    } else if (gate) {
        done(aux, gate, 0, NULL);
        return;
    }
    struct req *r = count == n ? req_add(c, REQ_BATCH, aux) : NULL;
    if (!r) {
        done(aux, count == n ? ENOMEM : EINVAL, 0, NULL);
        return;
    }
    r->batch_done = done;
    r->n = n;
    r->first_xid = alloc_xids(c, (uint32_t) n + 1);
    r->last_xid = r->first_xid + (uint32_t) n;
    size_t start = c->tx.len;
    buf_put(&c->tx, msgs, len);
    if (!c->tx.failed) {
        size_t off = 0;
        for (size_t i = 0; i < n; i++) {
            uint8_t *p = c->tx.data + start + off;
            put_xid(p, r->first_xid + (uint32_t) i);
            off += get_be16(p + 2);
        }
    }
    queue_simple(c, OFPT_BARRIER_REQUEST, r->last_xid);
    if (c->tx.failed) {
        c->tx.len = start;
        c->tx.failed = false;
        req_unlink(c, r);
        req_complete(r, ENOMEM);
        return;
    }
    kick_tx(c);
}

void
ofconn_free_flows(struct offlow_stats *flows, size_t n)
{
    for (size_t i = 0; flows && i < n; i++) {
        ofaction_free_insts(flows[i].insts, flows[i].n_insts);
    }
    free(flows);
}

void
ofconn_dump_flows(struct ofconn *c, uint64_t cookie, uint64_t cookie_mask,
                  ofconn_flows_fn *done, void *aux)
{
    if (c->state != OFCONN_ACTIVE) {
        done(aux, ENOTCONN, NULL, 0);
        return;
    }
    struct req *r = req_add(c, REQ_FLOWS, aux);
    if (!r) {
        done(aux, ENOMEM, NULL, 0);
        return;
    }
    r->flows_done = done;
    r->last_xid = alloc_xids(c, 1);
    struct ofmsg m;
    ofmsg_init(&m, OFPT_MULTIPART_REQUEST, r->last_xid);
    m.u.mp.mp_type = OFPMP_FLOW;
    m.u.mp.req.flow.table_id = 0xff;
    m.u.mp.req.flow.out_port = OFPP_ANY;
    m.u.mp.req.flow.out_group = OFPG_ANY;
    m.u.mp.req.flow.cookie = cookie;
    m.u.mp.req.flow.cookie_mask = cookie_mask;
    if (queue_msg(c, &m)) {
        req_unlink(c, r);
        req_complete(r, ENOMEM);
        return;
    }
    kick_tx(c);
}

void
ofconn_free_meters(struct ofmsg_meter_mod *meters, size_t n)
{
    for (size_t i = 0; meters && i < n; i++) {
        free(meters[i].bands);
    }
    free(meters);
}

void
ofconn_dump_meters(struct ofconn *c, ofconn_meters_fn *done, void *aux)
{
    if (c->state != OFCONN_ACTIVE) {
        done(aux, ENOTCONN, NULL, 0);
        return;
    }
    struct req *r = req_add(c, REQ_METERS, aux);
    if (!r) {
        done(aux, ENOMEM, NULL, 0);
        return;
    }
    r->meters_done = done;
    r->last_xid = alloc_xids(c, 1);
    struct ofmsg m;
    ofmsg_init(&m, OFPT_MULTIPART_REQUEST, r->last_xid);
    m.u.mp.mp_type = OFPMP_METER_CONFIG;
    m.u.mp.req.meter_id = OFPM_ALL;
    if (queue_msg(c, &m)) {
        req_unlink(c, r);
        req_complete(r, ENOMEM);
        return;
    }
    kick_tx(c);
}

/* Moves the meter configurations of a reply part into 'r'. */
static int
take_meters(struct req *r, struct ofmsg_multipart *mp)
{
    if (r->n_meters + mp->n > r->cap_meters) {
        size_t cap = r->cap_meters ? r->cap_meters : 16;
        while (cap < r->n_meters + mp->n) {
            cap *= 2;
        }
        struct ofmsg_meter_mod *g = realloc(r->meters, cap * sizeof *g);
        if (!g) {
            return ENOMEM;
        }
        r->meters = g;
        r->cap_meters = cap;
    }
    if (mp->n) {
        memcpy(r->meters + r->n_meters, mp->meter_configs, mp->n * sizeof *mp->meter_configs);
    }
    r->n_meters += mp->n;
    free(mp->meter_configs);
    mp->meter_configs = NULL;
    mp->n = 0;
    return 0;
}

/* Moves the flow entries of a reply part into 'r'. */
static int
take_flows(struct req *r, struct ofmsg_multipart *mp)
{
    if (r->n_flows + mp->n > r->cap_flows) {
        size_t cap = r->cap_flows ? r->cap_flows : 16;
        while (cap < r->n_flows + mp->n) {
            cap *= 2;
        }
        struct offlow_stats *f = realloc(r->flows, cap * sizeof *f);
        if (!f) {
            return ENOMEM;
        }
        r->flows = f;
        r->cap_flows = cap;
    }
    if (mp->n) {
        memcpy(r->flows + r->n_flows, mp->flows, mp->n * sizeof *mp->flows);
    }
    r->n_flows += mp->n;
    free(mp->flows);
    mp->flows = NULL;
    mp->n = 0;
    return 0;
}

/* --- roles --- */

const char *
ofconn_role_state_name(enum ofconn_role_state s)
{
    static const char *const names[] = {
        [OFCONN_ROLE_UNSET] = "unset", [OFCONN_ROLE_PENDING] = "pending",
        [OFCONN_ROLE_GRANTED] = "granted", [OFCONN_ROLE_REFUSED] = "refused",
    };
    return (unsigned int) s <= OFCONN_ROLE_REFUSED ? names[s] : "?";
}

enum ofconn_role_state ofconn_role_state(const struct ofconn *c) { return c->role_state; }

static const char *
role_name(uint32_t role)
{
    return role == OFPCR_ROLE_MASTER ? "MASTER" : role == OFPCR_ROLE_SLAVE ? "SLAVE"
           : role == OFPCR_ROLE_EQUAL ? "EQUAL" : "NOCHANGE";
}

/* Sends the ROLE_REQUEST for c->role and c->generation: PENDING. */
static void
role_request(struct ofconn *c)
{
    struct req *r = req_add(c, REQ_ROLE, NULL);
    if (!r) {
        c->role_state = OFCONN_ROLE_REFUSED;
        c->role_error = ENOMEM;
        return;
    }
    r->conn = c;
    r->last_xid = alloc_xids(c, 1);
    c->role_xid = r->last_xid;
    c->role_state = OFCONN_ROLE_PENDING;
    struct ofmsg m;
    ofmsg_init(&m, OFPT_ROLE_REQUEST, r->last_xid);
    m.u.role.role = c->role;
    m.u.role.generation_id = c->generation;
    queue_msg(c, &m);
    kick_tx(c);
}

/* The role was refused or taken away: writes stop, held ones are
 * refused, and for the switch's own refusals the owner hears of it. */
static void
role_refused(struct ofconn *c, int reason, const char *why)
{
    c->role_state = OFCONN_ROLE_REFUSED;
    c->role_error = reason;
    vlog(VLOG_WARN, MOD, "%s: switch %016llx: role %s generation %llu %s", c->target,
         (unsigned long long) c->features.datapath_id, role_name(c->role),
         (unsigned long long) c->generation, why);
    release_held(c, reason);
    if ((reason == ESTALE || reason == EPERM) && c->h->fenced) {
        c->h->fenced(c, c->aux, reason, c->generation);
    }
}

/* Settles the ROLE_REQUEST 'r' (already unlinked): error 0 with the
 * reply's role in r->role_reply, EPROTO with the switch's error in r->err,
 * or ECONNRESET / ETIMEDOUT / ENOMEM. */
static void
role_done(struct ofconn *c, struct req *r, int error)
{
    if (r->last_xid != c->role_xid || c->role_state != OFCONN_ROLE_PENDING) {
        return;                     /* superseded by a newer request */
    }
    c->role_xid = 0;
    if (error == ECONNRESET) {
        return;                     /* fail() forgets the role state */
    }
    if (!error && r->role_reply == c->role) {
        c->role_state = OFCONN_ROLE_GRANTED;
        vlog(VLOG_INFO, MOD, "%s: switch %016llx: role %s generation %llu granted",
             c->target, (unsigned long long) c->features.datapath_id,
             role_name(c->role), (unsigned long long) c->generation);
        release_held(c, 0);
    } else if (error == EPROTO && r->err.type == 11 && r->err.code == 0) {
        role_refused(c, ESTALE, "refused: stale (the switch has seen a higher one)");
    } else if (error == EPROTO || !error) {
        role_refused(c, EPERM, "refused by the switch");
    } else {
        role_refused(c, error, strerror(error));
    }
}

/* A granted MASTER or EQUAL role was taken away ('why'). */
static void
role_lost(struct ofconn *c, const char *why)
{
    if (c->role != OFPCR_ROLE_SLAVE && c->role != OFPCR_ROLE_NOCHANGE
        && c->role_state == OFCONN_ROLE_GRANTED) {
        role_refused(c, EPERM, why);
    }
}

void
ofconn_set_role(struct ofconn *c, uint32_t role, uint64_t generation, uint64_t until_ms)
{
    c->until_ms = until_ms;
    if (role == c->role && generation == c->generation) {
        return;                     /* only the deadline moves */
    }
    c->role = role;
    c->generation = generation;
    c->role_xid = 0;                /* a reply to an older request is ignored */
    c->role_state = OFCONN_ROLE_UNSET;
    if (role == OFPCR_ROLE_NOCHANGE) {
        release_held(c, c->cfg.fenced ? EPERM : 0);
    } else if (c->state == OFCONN_ACTIVE) {
        role_request(c);
    }
    if (role == OFPCR_ROLE_SLAVE) {
        release_held(c, EPERM);
    }
}

/* An ONF ROLE_STATUS (OpenFlow 1.3 experimenter 0x4f4e4600, type 1911:
 * role u32, reason u8, pad, generation_id u64) at p[0..len): true when it
 * is one, after acting on it. */
static bool
on_role_status(struct ofconn *c, const uint8_t *p, size_t len)
{
    if (len < 32 || p[1] != OFPT_EXPERIMENTER || get_be32(p + 8) != 0x4f4e4600
        || get_be32(p + 12) != 1911) {
        return false;
    }
    uint32_t role = get_be32(p + 16);
    if (role == OFPCR_ROLE_SLAVE) {
        role_lost(c, "lost: another controller became master");
    }
    return true;
}

/* --- connection lifetime --- */

static void
close_fd(struct ofconn *c)
{
    if (c->fd >= 0) {
        loop_del_fd(c->loop, c->fd);
        stream_close(c->s);
        c->s = NULL;
        c->fd = -1;
    }
    c->events = 0;
    c->write_error = false;
    buf_clear(&c->tx);
    c->tx_off = 0;
}

/* Any open state -> BACKOFF or CLOSED.  Never called from inside a handler
 * callback (see the file comment). */
static void
fail(struct ofconn *c, const char *why)
{
    bool was_active = c->state == OFCONN_ACTIVE;
    vlog(was_active ? VLOG_WARN : VLOG_INFO, MOD, "%s: %s in %s", c->target, why,
         ofconn_state_name(c->state));
    close_fd(c);
    if (c->active) {
        c->state = OFCONN_BACKOFF;
        c->backoff_end = loop_now_ms() + c->backoff_ms;
        c->backoff_ms = c->backoff_ms * 2 > c->cfg.backoff_max_ms
                            ? c->cfg.backoff_max_ms : c->backoff_ms * 2;
    } else {
        c->state = OFCONN_CLOSED;
    }
    fail_all(c, ECONNRESET);
    c->role_state = OFCONN_ROLE_UNSET;
    release_held(c, ECONNRESET);
    if (was_active && c->h->down) {
        c->h->down(c, c->aux);
    }
    rearm(c);
}

/* CONNECTING -> HELLO_SENT: the stream is up; say HELLO. */
static void
on_connected(struct ofconn *c)
{
    c->state = OFCONN_HELLO_SENT;
    c->refusal[0] = '\0';
    c->last_rx = loop_now_ms();
    c->echo_sent = false;
    buf_clear(&c->rx);
    buf_clear(&c->early);
    struct ofmsg hello;
    ofmsg_init(&hello, OFPT_HELLO, alloc_xids(c, 1));
    hello.u.hello.has_bitmap = true;
    hello.u.hello.bitmap = 1u << OFP13_VERSION;
    queue_msg(c, &hello);
    flush_tx(c);
    rearm(c);
}

static int
register_fd(struct ofconn *c, uint32_t events)
{
    int error = loop_add_fd(c->loop, c->fd, events, on_io, c);
    if (!error) {
        c->events = events;
    }
    return error;
}

/* CONNECTING: drives the stream's connect and TLS handshake; on to
 * HELLO_SENT once it is open. */
static void
advance_connect(struct ofconn *c)
{
    int error = stream_connect(c->s);
    if (error == EAGAIN) {
        update_events(c);
        rearm(c);
    } else if (error) {
        const char *why = stream_error(c->s);
        fail(c, why[0] ? why : stream_strerror(error));
    } else {
        on_connected(c);
    }
}

static void
connect_now(struct ofconn *c)
{
    c->state = OFCONN_CONNECTING;
    c->last_rx = loop_now_ms();
    c->echo_sent = false;
    int error = stream_open(c->target, &c->s);
    if (error) {
        fail(c, stream_strerror(error));
        return;
    }
    c->fd = stream_fd(c->s);
    if (register_fd(c, EPOLLOUT)) {
        fail(c, "epoll");
        return;
    }
    advance_connect(c);
}

static void
init_conn(struct ofconn *c, struct loop *loop, const struct ofconn_config *cfg,
          const struct ofconn_handler *h, void *aux)
{
    c->loop = loop;
    c->h = h;
    c->aux = aux;
    c->fd = -1;
    c->next_xid = 1;
    c->cfg.probe_ms = cfg && cfg->probe_ms ? cfg->probe_ms : 5000;
    c->cfg.backoff_min_ms = cfg && cfg->backoff_min_ms ? cfg->backoff_min_ms : 100;
    c->cfg.backoff_max_ms = cfg && cfg->backoff_max_ms ? cfg->backoff_max_ms : 8000;
    c->cfg.request_timeout_ms = cfg && cfg->request_timeout_ms
                                    ? cfg->request_timeout_ms : 10000;
    c->cfg.fenced = cfg && cfg->fenced;
    c->backoff_ms = c->cfg.backoff_min_ms;
    c->role = OFPCR_ROLE_NOCHANGE;
    c->held_tail = &c->held;
    buf_init(&c->rx);
    buf_init(&c->early);
    buf_init(&c->tx);
}

int
ofconn_create_active(struct loop *loop, const char *target,
                     const struct ofconn_config *cfg,
                     const struct ofconn_handler *h, void *aux,
                     struct ofconn **out)
{
    struct sockaddr_storage ss;
    socklen_t ss_len;
    if (stream_parse_target(target, &ss, &ss_len, NULL)) {
        return EINVAL;
    }
    struct ofconn *c = calloc(1, sizeof *c);
    if (!c || !(c->target = strdup(target))) {
        free(c);
        return ENOMEM;
    }
    init_conn(c, loop, cfg, h, aux);
    c->active = true;
    *out = c;
    connect_now(c);
    return 0;
}

int
ofconn_create_passive(struct loop *loop, struct stream *s,
                      const struct ofconn_config *cfg,
                      const struct ofconn_handler *h, void *aux,
                      struct ofconn **out)
{
    struct ofconn *c = calloc(1, sizeof *c);
    if (!c || !(c->target = strdup(stream_name(s)))) {
        free(c);
        stream_close(s);
        return ENOMEM;
    }
    init_conn(c, loop, cfg, h, aux);
    c->s = s;
    c->fd = stream_fd(s);
    int error = register_fd(c, EPOLLIN);
    if (error) {
        stream_close(s);
        free(c->target);
        free(c);
        return error;
    }
    *out = c;
    c->state = OFCONN_CONNECTING;   /* the TLS handshake, if any */
    c->last_rx = loop_now_ms();
    advance_connect(c);
    return 0;
}

void
ofconn_destroy(struct ofconn *c)
{
    if (!c) {
        return;
    }
    if (c->timer) {
        loop_timer_cancel(c->loop, c->timer);
    }
    close_fd(c);
    c->state = OFCONN_CLOSED;
    fail_all(c, ECONNRESET);
    c->role_state = OFCONN_ROLE_UNSET;
    release_held(c, ECONNRESET);
    buf_uninit(&c->rx);
    buf_uninit(&c->early);
    buf_uninit(&c->tx);
    free(c->ports);
    free(c->target);
    free(c);
}

/* --- input --- */

static void
on_hello(struct ofconn *c, const struct ofmsg *m, const uint8_t *p, size_t len)
{
    if (c->state != OFCONN_HELLO_SENT) {
        return;                     /* a repeated HELLO is harmless */
    }
    if (ofmsg_hello_negotiate(m) != OFERR_NONE) {
        queue_error_reply(c, OFERR_HELLO_FAILED_INCOMPATIBLE, p, len);
        flush_tx(c);
        c->write_error = true;      /* close once on_io() regains control */
        return;
    }
    c->features_xid = alloc_xids(c, 1);
    queue_simple(c, OFPT_FEATURES_REQUEST, c->features_xid);
    c->state = OFCONN_FEATURES_WAIT;
}

static void
on_features(struct ofconn *c, const struct ofmsg *m)
{
    if (c->state != OFCONN_FEATURES_WAIT || m->xid != c->features_xid) {
        return;
    }
    c->features = m->u.features;
    c->n_ports = 0;
    if (c->h->admit && !c->h->admit(c, c->aux, c->refusal, sizeof c->refusal)) {
        vlog(VLOG_WARN, MOD, "%s: switch %016llx refused: %s", c->target,
             (unsigned long long) c->features.datapath_id, c->refusal);
        c->write_error = true;      /* close once on_io() regains control */
        return;
    }
    struct ofmsg cfg;
    ofmsg_init(&cfg, OFPT_SET_CONFIG, alloc_xids(c, 1));
    cfg.u.config.miss_send_len = OFPCML_NO_BUFFER;  /* whole packets to us */
    queue_msg(c, &cfg);
    struct ofmsg pd;
    c->port_desc_xid = alloc_xids(c, 1);
    ofmsg_init(&pd, OFPT_MULTIPART_REQUEST, c->port_desc_xid);
    pd.u.mp.mp_type = OFPMP_PORT_DESC;
    queue_msg(c, &pd);
}

static void
port_put(struct ofconn *c, const struct ofport *p)
{
    for (size_t i = 0; i < c->n_ports; i++) {
        if (c->ports[i].port_no == p->port_no) {
            c->ports[i] = *p;
            return;
        }
    }
    if (c->n_ports == c->cap_ports) {
        size_t cap = c->cap_ports ? 2 * c->cap_ports : 8;
        struct ofport *g = realloc(c->ports, cap * sizeof *g);
        if (!g) {
            vlog(VLOG_ERR, MOD, "%s: out of memory for ports", c->target);
            return;
        }
        c->ports = g;
        c->cap_ports = cap;
    }
    c->ports[c->n_ports++] = *p;
}

static void
port_del(struct ofconn *c, uint32_t port_no)
{
    for (size_t i = 0; i < c->n_ports; i++) {
        if (c->ports[i].port_no == port_no) {
            c->ports[i] = c->ports[--c->n_ports];
            return;
        }
    }
}

/* FEATURES_WAIT -> ACTIVE once the last port-desc part is in. */
static void
on_port_desc(struct ofconn *c, const struct ofmsg_multipart *mp)
{
    for (size_t i = 0; i < mp->n; i++) {
        port_put(c, &mp->ports[i]);
    }
    if (mp->flags & OFPMPF_MORE) {
        return;
    }
    c->state = OFCONN_ACTIVE;
    c->backoff_ms = c->cfg.backoff_min_ms;
    c->n_handshakes++;
    vlog(VLOG_INFO, MOD, "%s: switch %016llx up (%zu ports)", c->target,
         (unsigned long long) c->features.datapath_id, c->n_ports);
    if (c->role != OFPCR_ROLE_NOCHANGE) {
        role_request(c);            /* before anything the owner sends */
    }
    if (c->h->up) {
        c->h->up(c, c->aux);
    }
    /* Now the async messages the switch sent during the handshake. */
    struct buf early = c->early;
    buf_init(&c->early);
    for (size_t off = 0; off < early.len && c->state == OFCONN_ACTIVE;) {
        size_t len = get_be16(early.data + off + 2);
        handle_frame(c, early.data + off, len);
        off += len;
    }
    buf_uninit(&early);
}

static void
on_multipart_reply(struct ofconn *c, struct ofmsg *m)
{
    struct ofmsg_multipart *mp = &m->u.mp;
    if (c->state == OFCONN_FEATURES_WAIT && m->xid == c->port_desc_xid
        && mp->mp_type == OFPMP_PORT_DESC) {
        on_port_desc(c, mp);
        return;
    }
    struct req *r = req_find(c, m->xid);
    if (r && r->kind == REQ_METERS && mp->mp_type == OFPMP_METER_CONFIG) {
        int error = take_meters(r, mp);
        if (error || !(mp->flags & OFPMPF_MORE)) {
            req_unlink(c, r);
            req_complete(r, error);
        }
        return;
    }
    if (!r || r->kind != REQ_FLOWS || mp->mp_type != OFPMP_FLOW) {
        vlog(VLOG_DEBUG, MOD, "%s: unexpected multipart reply xid %u", c->target,
             (unsigned int) m->xid);
        return;
    }
    int error = take_flows(r, mp);
    if (error || !(mp->flags & OFPMPF_MORE)) {
        req_unlink(c, r);
        req_complete(r, error);
    }
}

static void
on_error(struct ofconn *c, struct ofmsg *m)
{
    if (m->u.error.type == 1 && m->u.error.code == 10) {     /* IS_SLAVE */
        role_lost(c, "lost: the switch says we are a slave");
    }
    struct req *r = req_find(c, m->xid);
    if (!r) {
        vlog(VLOG_WARN, MOD, "%s: error type %u code %u for xid %u", c->target,
             m->u.error.type, m->u.error.code, (unsigned int) m->xid);
        if (c->state == OFCONN_FEATURES_WAIT) {
            c->write_error = true;  /* the handshake cannot finish */
        }
        return;
    }
    if (r->kind == REQ_BATCH && m->xid != r->last_xid) {
        if (!r->failed) {
            r->failed = true;
            r->failed_index = m->xid - r->first_xid;
            r->err = m->u.error;    /* take ownership of the data */
            m->u.error.data = NULL;
            m->u.error.len = 0;
        }
        return;
    }
    /* The barrier, the multipart or the role request itself was refused. */
    if ((r->kind == REQ_BATCH || r->kind == REQ_ROLE) && !r->failed) {
        r->failed = true;
        r->failed_index = r->n;
        r->err = m->u.error;
        m->u.error.data = NULL;
        m->u.error.len = 0;
    }
    req_unlink(c, r);
    req_complete(r, EPROTO);
}

/* Handles one whole frame of 'len' bytes. */
static void
handle_frame(struct ofconn *c, const uint8_t *p, size_t len)
{
    if (p[1] == OFPT_EXPERIMENTER && on_role_status(c, p, len)) {
        return;
    }
    struct ofmsg m;
    enum oferr e = ofmsg_decode(p, len, &m);
    if (e) {
        vlog(VLOG_WARN, MOD, "%s: bad %s (xid %u): %s", c->target,
             ofmsg_type_name(p[1]), (unsigned int) ofmsg_xid(p), oferr_name(e));
        if (p[1] != OFPT_ERROR) {   /* never answer an error with an error */
            queue_error_reply(c, e, p, len);
        }
        struct req *r = p[1] == OFPT_MULTIPART_REPLY ? req_find(c, ofmsg_xid(p)) : NULL;
        if (r) {
            req_unlink(c, r);
            req_complete(r, EPROTO);
        }
        ofmsg_uninit(&m);
        return;
    }
    switch (m.type) {
    case OFPT_HELLO:
        on_hello(c, &m, p, len);
        break;
    case OFPT_ECHO_REQUEST: {
        struct ofmsg reply = m;
        reply.type = OFPT_ECHO_REPLY;
        queue_msg(c, &reply);
        break;
    }
    case OFPT_ECHO_REPLY:
        break;
    case OFPT_FEATURES_REPLY:
        on_features(c, &m);
        break;
    case OFPT_MULTIPART_REPLY:
        on_multipart_reply(c, &m);
        break;
    case OFPT_BARRIER_REPLY: {
        struct req *r = req_find(c, m.xid);
        if (r && r->kind == REQ_BATCH && r->last_xid == m.xid) {
            req_unlink(c, r);
            req_complete(r, 0);
        }
        break;
    }
    case OFPT_ERROR:
        on_error(c, &m);
        break;
    case OFPT_PORT_STATUS:
        if (c->state != OFCONN_ACTIVE) {
            /* A switch may report before the handshake is over (a packet-in
             * right after FEATURES_REPLY): keep it for on_port_desc(). */
            if (c->state == OFCONN_FEATURES_WAIT && c->early.len + len <= EARLY_MAX) {
                buf_put(&c->early, p, len);
            }
            break;
        }
        if (m.u.port_status.reason == OFPPR_DELETE) {
            port_del(c, m.u.port_status.port.port_no);
        } else {
            port_put(c, &m.u.port_status.port);
        }
        /* fall through */
    case OFPT_PACKET_IN:
    case OFPT_FLOW_REMOVED:
        if (c->state != OFCONN_ACTIVE) {
            if (c->state == OFCONN_FEATURES_WAIT && c->early.len + len <= EARLY_MAX) {
                buf_put(&c->early, p, len);
            }
        } else if (c->h->message) {
            c->h->message(c, &m, c->aux);
        }
        break;
    case OFPT_ROLE_REPLY: {
        struct req *r = req_find(c, m.xid);
        if (r && r->kind == REQ_ROLE) {
            r->role_reply = m.u.role.role;
            req_unlink(c, r);
            req_complete(r, 0);
        }
        break;
    }
    case OFPT_GET_CONFIG_REPLY:
        break;
    default:
        /* A request a switch has no business sending us. */
        queue_error_reply(c, OFERR_BAD_REQUEST_BAD_TYPE, p, len);
        break;
    }
    ofmsg_uninit(&m);
}

/* Reads what is there and handles every whole frame. */
static void
do_read(struct ofconn *c)
{
    for (int round = 0; round < 16 && c->fd >= 0; round++) {
        size_t have = c->rx.len;
        if (!buf_put_uninit(&c->rx, READ_CHUNK)) {
            c->rx.failed = false;
            c->rx.len = have;
            fail(c, "out of memory");
            return;
        }
        ssize_t r = stream_recv(c->s, c->rx.data + have, READ_CHUNK);
        c->rx.len = have + (r > 0 ? (size_t) r : 0);
        if (r == 0) {
            fail(c, "connection closed by peer");
            return;
        }
        if (r < 0) {
            if (r != -EAGAIN) {
                fail(c, stream_error(c->s));
            }
            return;
        }
        c->last_rx = loop_now_ms();
        c->echo_sent = false;
        size_t off = 0;
        c->reading = true;
        while (c->fd >= 0 && !c->write_error) {
            long m = ofmsg_frame(c->rx.data + off, c->rx.len - off);
            if (m < 0) {
                c->reading = false;
                fail(c, "bad message length, stream out of sync");
                return;
            }
            if (m == 0) {
                break;
            }
            handle_frame(c, c->rx.data + off, (size_t) m);
            off += (size_t) m;
        }
        c->reading = false;
        if (c->fd < 0) {
            return;
        }
        memmove(c->rx.data, c->rx.data + off, c->rx.len - off);
        c->rx.len -= off;
        flush_tx(c);
        if (c->write_error || (size_t) r < READ_CHUNK
            || c->tx.len - c->tx_off > OFCONN_TX_HIGH) {
            return;
        }
    }
}

static void
on_io(struct loop *loop, int fd, uint32_t events, void *aux)
{
    struct ofconn *c = aux;
    (void) loop;
    (void) fd;
    if (c->state == OFCONN_CONNECTING) {
        advance_connect(c);
        if (c->state == OFCONN_CONNECTING || c->fd < 0) {
            return;
        }
    }
    /* A TLS read may have been waiting for the socket to turn writable
     * (stream.h): try it whatever woke us, unless reading is paused. */
    if ((events & (EPOLLIN | EPOLLHUP | EPOLLERR))
        || (stream_is_tls(c->s) && c->tx.len - c->tx_off <= OFCONN_TX_HIGH)) {
        do_read(c);
    }
    if (c->fd >= 0) {
        flush_tx(c);
    }
    if (c->fd >= 0 && c->write_error) {
        fail(c, c->refusal[0] ? c->refusal
                : c->state == OFCONN_HELLO_SENT ? "no common OpenFlow version"
                : "write failed or handshake refused");
    }
}

static void
on_timer(struct loop *loop, void *aux)
{
    struct ofconn *c = aux;
    (void) loop;
    c->timer = 0;
    if (c->state == OFCONN_BACKOFF) {
        connect_now(c);
        return;
    }
    if (c->state == OFCONN_CLOSED) {
        if (c->h->closed) {
            c->h->closed(c, c->aux);    /* may destroy 'c' */
        }
        return;
    }
    uint64_t now = loop_now_ms();
    struct req *expired = NULL;
    for (struct req **p = &c->reqs; *p;) {
        if ((*p)->deadline <= now) {
            struct req *r = *p;
            *p = r->next;
            r->next = expired;
            expired = r;
        } else {
            p = &(*p)->next;
        }
    }
    while (expired) {
        struct req *next = expired->next;
        vlog(VLOG_WARN, MOD, "%s: request xid %u timed out", c->target,
             (unsigned int) expired->last_xid);
        req_complete(expired, ETIMEDOUT);
        expired = next;
    }
    if (c->fd >= 0 && now >= c->last_rx + 2ull * c->cfg.probe_ms) {
        fail(c, "peer silent for 2 probe intervals");
        return;
    }
    if (c->fd >= 0 && c->state != OFCONN_CONNECTING && !c->echo_sent
        && now >= c->last_rx + c->cfg.probe_ms) {
        queue_simple(c, OFPT_ECHO_REQUEST, alloc_xids(c, 1));
        c->echo_sent = true;
        flush_tx(c);
    }
    rearm(c);
}
