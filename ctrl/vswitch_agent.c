/* vswitch_agent.c: the virtual OpenFlow 1.3 switches (see vswitch_agent.h
 * for what a tenant's controller sees).
 *
 * One thread, one database connection, one poll() over the controllers'
 * sockets.  Each controlled virtual switch is a struct vsa_switch, made when
 * the view (db/tenant_ctl.h) first lists it and freed when the view no
 * longer does (its controller was cleared, or the switch deleted).  Its
 * connection:
 *
 *     IDLE --(retry time)--> CONNECTING --(stream open; HELLO sent)--> HELLO
 *       ^                        |                                      |
 *       |                        | failed                               | peer HELLO, 1.3
 *       +----(backoff 1 s .. 8 s)+<--------- closed, failed, garbage ----+
 *                                                                        v
 *                                                                     ACTIVE
 *
 *   vsa_connect()  IDLE -> CONNECTING
 *   vsa_service()  CONNECTING -> HELLO (queues our HELLO), reads and
 *                  writes; a peer HELLO moves HELLO -> ACTIVE (or, with no
 *                  common version, an error and the drop)
 *   vsa_drop()     any -> IDLE, with the next retry after the backoff.
 *
 * Messages before ACTIVE other than HELLO are answered as in ACTIVE (a
 * controller may pipeline FEATURES_REQUEST after its HELLO).
 *
 * Flows live in memory (struct vsa_flow, per switch) and in PostgreSQL; the
 * database write comes first, so an acknowledged flow-mod is stored, and a
 * barrier reply waits for the reconciler's pass that compiles it into the
 * bridges (vsa_release).  Counters and timeouts are the agent's: a flow
 * counts the packets the agent's own pipeline sends through it (packet-outs
 * to links and to TABLE, punted flows) plus what its translated flows on
 * the bridges counted (vsa_poll_stats). */
#include "ctrl/vswitch_agent.h"

#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/packet.h"
#include "core/vlog.h"
#include "ctrl/stream.h"
#include "ctrl/vflow.h"
#include "ctrl/loop.h"
#include "ctrl/recon_tenant_ctl.h"

#define VSA_MAX_PORTS 65279
#define VSA_MAX_DEPTH 4         /* link hops one packet may take */
#define OFPMP_DESC 0
#define OFPMP_TABLE 3
#define OFPC_TABLE_STATS 2u
#define OFPC_FLOW_STATS 1u
#define OFPC_PORT_STATS 4u
#define OFPPS_LINK_DOWN 1u
#define OFPPS_LIVE 4u
#define OFPPC_PORT_DOWN 1u
#define OFPRR_IDLE_TIMEOUT 0
#define OFPRR_HARD_TIMEOUT 1
#define OFPRR_DELETE 2

enum vsa_state { VSA_IDLE, VSA_CONNECTING, VSA_HELLO, VSA_ACTIVE };

struct vsa_port {
    uint32_t port_no;
    bool link;
    bool up;
    char object_id[37];         /* the VM or the virtual link */
    char name[16];
    uint8_t mac[6];
    /* Counted by the agent's pipeline (PORT_STATS): frames that entered
     * the switch here, and that it sent out here (or could not). */
    uint64_t rx_packets, rx_bytes, tx_packets, tx_bytes, tx_dropped;
};

struct vsa_flow {
    long long id;               /* vflow.id */
    uint8_t table_id;
    uint16_t priority, flags, idle_timeout, hard_timeout;
    uint64_t cookie;
    struct ofmatch match;       /* canonical */
    struct ofinst *insts;       /* owned */
    size_t n_insts;
    uint64_t installed_ms, last_hit_ms;
    uint64_t packets, bytes;
    /* What the bridges held for it at the last read (vsa_poll_stats): the
     * counters grow by what those sums grew. */
    uint64_t phys_packets, phys_bytes;
};

struct vsa_switch {
    struct vswitch_agent *agent;
    char id[37];
    char name[64];
    char controller[64];
    char home_cloud[37];        /* the view's (vswitch_agent.h) */
    uint16_t tag;
    uint64_t seq;
    bool secure;
    bool seen;                  /* listed by the latest view */
    struct vsa_port *ports;     /* sorted by port_no; owned */
    size_t n_ports;
    uint32_t *port_nos;         /* the same numbers, for vflow_ports */
    struct vsa_flow *flows;     /* owned */
    size_t n_flows, cap_flows;
    bool flows_loaded;

    enum vsa_state state;
    struct stream *stream;
    uint8_t *in;
    size_t in_len, in_cap;
    struct buf out;
    uint64_t retry_ms, backoff_ms;
    uint32_t role;
    uint64_t generation_id;
    bool has_generation;
    uint16_t miss_send_len;
    uint32_t next_xid;
    /* Barrier replies wait until the reconciler's pass number 'need_pass'
     * ended (a flow was written before it started), so that a reply means
     * the bridges hold the flows; 'held' while one waits, and no message
     * after it is read meanwhile. */
    uint64_t need_pass;
    bool serving;               /* this instance served it last round */
    int8_t published;           /* the connection state the store last
                                 * took: -1 none yet, 0 down, 1 up */
    bool held;
    uint32_t held_xid;
    uint64_t held_until_ms;
};

/* A frame a VM sent, waiting for the agent's thread. */
struct vsa_frame {
    char vm_id[37];             /* a VM's own frame, or "" and: */
    char vswitch_id[37];        /* a frame from a switch's translated flows */
    uint32_t vport;
    uint8_t vtable;
    bool punt;
    uint8_t *data;              /* owned */
    size_t len;
};

/* A tenant's flow-mod budget (token bucket), by tag. */
struct vsa_bucket {
    uint16_t tag;
    double tokens;
    uint64_t at_ms;
};

struct vswitch_agent {
    pthread_t thread;
    atomic_bool stop;
    struct vswitch_agent_store store;
    unsigned int poll_ms, max_flows, rate, burst;
    struct vsa_switch **sw;
    size_t n_sw;
    struct vsa_bucket *buckets;
    size_t n_buckets;
    uint64_t next_view_ms;
    uint64_t next_stats_ms;
    /* Frames from VMs (vswitch_agent_vm_frame), under 'mu'; 'wake' is a
     * pipe whose read end the thread polls. */
    pthread_mutex_t mu;
    struct vsa_frame *queue;
    size_t n_queue;
    int wake[2];
    atomic_uint_fast64_t st_vm_frames, st_datapath_frames, st_vm_delivered, st_vm_dropped;
    atomic_uint_fast64_t st_switches, st_connected, st_flow_mods, st_flows,
        st_refused, st_quota_refused, st_packet_ins, st_packet_outs;
};

/* --- small helpers --- */

static void
vsa_count(atomic_uint_fast64_t *c)
{
    atomic_fetch_add(c, 1);
}

static void
vsa_send(struct vsa_switch *s, const struct ofmsg *m)
{
    if (ofmsg_encode(m, &s->out)) {
        vlog(VLOG_WARN, "vswitch", "switch %s: a %s did not encode", s->name,
             ofmsg_type_name(m->type));
    }
}

static void
vsa_error(struct vsa_switch *s, enum oferr e, const uint8_t *req, size_t len)
{
    vsa_count(&s->agent->st_refused);
    ofmsg_encode_error_reply(e, req, len, &s->out);
}

static struct vflow_ports
vsa_ports(const struct vsa_switch *s)
{
    return (struct vflow_ports) {s->port_nos, s->n_ports};
}

static struct vsa_port *
vsa_port(struct vsa_switch *s, uint32_t port_no)
{
    for (size_t i = 0; i < s->n_ports; i++) {
        if (s->ports[i].port_no == port_no) {
            return &s->ports[i];
        }
    }
    return NULL;
}

static void
vsa_port_wire(const struct vsa_port *p, struct ofport *w)
{
    memset(w, 0, sizeof *w);
    w->port_no = p->port_no;
    memcpy(w->hw_addr, p->mac, 6);
    memcpy(w->name, p->name, sizeof p->name);
    w->config = p->up ? 0 : OFPPC_PORT_DOWN;
    w->state = p->up ? OFPPS_LIVE : OFPPS_LINK_DOWN;
    w->curr_speed = w->max_speed = 10000000;    /* kbps: 10 Gbit/s */
}

static void
vsa_port_status(struct vsa_switch *s, uint8_t reason, const struct vsa_port *p)
{
    if (s->state != VSA_ACTIVE) {
        return;
    }
    struct ofmsg m;
    ofmsg_init(&m, OFPT_PORT_STATUS, 0);
    m.u.port_status.reason = reason;
    vsa_port_wire(p, &m.u.port_status.port);
    vsa_send(s, &m);
}

static void
vsa_flow_uninit(struct vsa_flow *f)
{
    ofaction_free_insts(f->insts, f->n_insts);
    f->insts = NULL;
    f->n_insts = 0;
}

static size_t
vsa_tenant_flows(const struct vswitch_agent *a, uint16_t tag)
{
    size_t n = 0;
    for (size_t i = 0; i < a->n_sw; i++) {
        if (a->sw[i]->tag == tag) {
            n += a->sw[i]->n_flows;
        }
    }
    return n;
}

/* Whether this instance connects to 's''s controller (several instances). */
static bool
vsa_serves(const struct vsa_switch *s)
{
    const struct vswitch_agent_store *st = &s->agent->store;
    return !st->serves || st->serves(st->aux, s->home_cloud);
}

static void
vsa_count_flows(struct vswitch_agent *a)
{
    uint64_t n = 0, conn = 0;
    for (size_t i = 0; i < a->n_sw; i++) {
        struct vsa_switch *s = a->sw[i];
        bool up = s->state == VSA_ACTIVE;
        n += s->n_flows;
        conn += up;
        if (a->store.connected && s->published != up && vsa_serves(s)
            && !a->store.connected(a->store.aux, s->id, up)) {
            s->published = up;      /* else tried again on the next round */
        }
    }
    atomic_store(&a->st_flows, n);
    atomic_store(&a->st_connected, conn);
    atomic_store(&a->st_switches, a->n_sw);
}

/* Takes one token of tenant 'tag''s flow-mod budget; false when empty. */
static bool
vsa_take_token(struct vswitch_agent *a, uint16_t tag)
{
    struct vsa_bucket *b = NULL;
    uint64_t now = loop_now_ms();
    for (size_t i = 0; i < a->n_buckets; i++) {
        if (a->buckets[i].tag == tag) {
            b = &a->buckets[i];
        }
    }
    if (!b) {
        struct vsa_bucket *nb = realloc(a->buckets, (a->n_buckets + 1) * sizeof *nb);
        if (!nb) {
            return false;
        }
        a->buckets = nb;
        b = &a->buckets[a->n_buckets++];
        *b = (struct vsa_bucket) {tag, a->burst, now};
    }
    b->tokens += (double) (now - b->at_ms) * a->rate / 1000.0;
    if (b->tokens > a->burst) {
        b->tokens = a->burst;
    }
    b->at_ms = now;
    if (b->tokens < 1) {
        return false;
    }
    b->tokens -= 1;
    return true;
}

/* --- connection --- */

static void
vsa_drop(struct vsa_switch *s, const char *why)
{
    if (s->stream) {
        vlog(VLOG_INFO, "vswitch", "switch %s: controller %s: %s", s->name,
             s->controller, why);
        stream_close(s->stream);
        s->stream = NULL;
    }
    s->state = VSA_IDLE;
    s->in_len = 0;
    s->held = false;
    buf_clear(&s->out);
    s->role = OFPCR_ROLE_EQUAL;
    s->backoff_ms = s->backoff_ms ? s->backoff_ms * 2 : 1000;
    if (s->backoff_ms > 8000) {
        s->backoff_ms = 8000;
    }
    s->retry_ms = loop_now_ms() + s->backoff_ms;
}

static void
vsa_connect(struct vsa_switch *s)
{
    int error = stream_open(s->controller, &s->stream);
    if (error) {
        s->stream = NULL;
        vlog(VLOG_INFO, "vswitch", "switch %s: controller %s: %s", s->name,
             s->controller, stream_strerror(error));
        vsa_drop(s, "connect failed");
        return;
    }
    s->state = VSA_CONNECTING;
}

/* --- the pipeline of packets the agent moves itself --- */

static void vsa_output(struct vsa_switch *, uint32_t out_port, uint32_t in_port,
                       const uint8_t *pkt, size_t len, uint16_t max_len,
                       uint8_t reason, uint8_t table_id, uint64_t cookie, int depth);

static void
vsa_packet_in(struct vsa_switch *s, uint32_t in_port, const uint8_t *pkt, size_t len,
              uint16_t max_len, uint8_t reason, uint8_t table_id, uint64_t cookie)
{
    if (s->state != VSA_ACTIVE || s->role == OFPCR_ROLE_SLAVE) {
        return;
    }
    struct ofmsg m;
    ofmsg_init(&m, OFPT_PACKET_IN, 0);
    struct ofmsg_packet_in *pi = &m.u.packet_in;
    pi->buffer_id = OFP_NO_BUFFER;
    pi->total_len = (uint16_t) len;
    pi->reason = reason;
    pi->table_id = table_id;
    pi->cookie = cookie;
    ofmatch_set(&pi->match, MF_IN_PORT, in_port);
    pi->data = (uint8_t *) pkt;
    pi->len = max_len == OFPCML_NO_BUFFER || max_len > len ? len : max_len;
    vsa_send(s, &m);
    vsa_count(&s->agent->st_packet_ins);
}

static struct vsa_flow *
vsa_lookup(struct vsa_switch *s, uint8_t table, const struct ofmatch *key)
{
    struct vsa_flow *best = NULL;
    for (size_t i = 0; i < s->n_flows; i++) {
        struct vsa_flow *f = &s->flows[i];
        if (f->table_id == table && (!best || f->priority > best->priority)
            && vflow_match_packet(&f->match, key)) {
            best = f;
        }
    }
    return best;
}

/* Runs a packet entering 's' on 'in_port' through its flow table from
 * table 'table' (0 for a packet entering the switch, whose port then
 * counts it); 'depth' counts the link hops so far. */
static void
vsa_pipeline_from(struct vsa_switch *s, uint32_t in_port, const uint8_t *pkt, size_t len,
                  int depth, uint8_t table)
{
    struct vsa_port *from = table ? NULL : vsa_port(s, in_port);
    if (from) {
        from->rx_packets++;
        from->rx_bytes += len;
    }
    struct ofmatch key;
    vflow_packet_key(pkt, len, in_port, &key);
    uint32_t set_out[8];
    uint16_t set_max[8];
    size_t n_set = 0;
    for (;;) {
        struct vsa_flow *f = vsa_lookup(s, table, &key);
        if (!f) {
            return;                 /* no table-miss flow: dropped */
        }
        f->packets++;
        f->bytes += len;
        f->last_hit_ms = loop_now_ms();
        uint8_t reason = f->priority == 0 && f->match.n == 0 ? OFPR_NO_MATCH : OFPR_ACTION;
        int next = -1;
        for (size_t i = 0; i < f->n_insts; i++) {
            const struct ofinst *in = &f->insts[i];
            if (in->type == OFPIT_APPLY_ACTIONS || in->type == OFPIT_WRITE_ACTIONS) {
                for (size_t k = 0; k < in->n_actions; k++) {
                    const struct ofaction *a = &in->actions[k];
                    if (a->raw || a->type != OFPAT_OUTPUT) {
                        continue;
                    }
                    if (in->type == OFPIT_APPLY_ACTIONS) {
                        vsa_output(s, a->u.output.port, in_port, pkt, len,
                                   a->u.output.max_len, reason, table, f->cookie, depth);
                    } else if (n_set < 8) {
                        set_out[n_set] = a->u.output.port;
                        set_max[n_set++] = a->u.output.max_len;
                    }
                }
            } else if (in->type == OFPIT_CLEAR_ACTIONS) {
                n_set = 0;
            } else if (in->type == OFPIT_GOTO_TABLE) {
                next = in->table_id;
            }
        }
        if (next < 0) {
            for (size_t i = 0; i < n_set; i++) {
                vsa_output(s, set_out[i], in_port, pkt, len, set_max[i], reason, table,
                           f->cookie, depth);
            }
            return;
        }
        table = (uint8_t) next;
    }
}

static void
vsa_pipeline(struct vsa_switch *s, uint32_t in_port, const uint8_t *pkt, size_t len,
             int depth)
{
    vsa_pipeline_from(s, in_port, pkt, len, depth, 0);
}

/* The switch and port at the other end of link port 'p' of 's', if that
 * switch is controlled too. */
static struct vsa_switch *
vsa_peer(struct vsa_switch *s, const struct vsa_port *p, uint32_t *peer_port)
{
    struct vswitch_agent *a = s->agent;
    for (size_t i = 0; i < a->n_sw; i++) {
        struct vsa_switch *o = a->sw[i];
        for (size_t k = 0; o != s && k < o->n_ports; k++) {
            if (o->ports[k].link && !strcmp(o->ports[k].object_id, p->object_id)) {
                *peer_port = o->ports[k].port_no;
                return o;
            }
        }
    }
    return NULL;
}

static void
vsa_output_port(struct vsa_switch *s, struct vsa_port *p, const uint8_t *pkt,
                size_t len, int depth)
{
    uint32_t peer_port;
    struct vsa_switch *peer;
    if (!p->up) {
        p->tx_dropped++;
        return;
    }
    if (p->link) {
        p->tx_packets++;
        p->tx_bytes += len;
        const struct vswitch_agent_store *st = &s->agent->store;
        uint8_t reply[64];
        size_t rlen = 0;
        peer = vsa_peer(s, p, &peer_port);
        if (peer && depth < VSA_MAX_DEPTH) {
            vsa_pipeline(peer, peer_port, pkt, len, depth + 1);
        } else if (!peer && st->to_platform
                   && st->to_platform(st->aux, s->id, pkt, len, reply, &rlen) == 1
                   && depth < VSA_MAX_DEPTH) {
            vsa_pipeline(s, p->port_no, reply, rlen, depth + 1);  /* the answer */
        }
        return;
    }
    const struct vswitch_agent_store *st = &s->agent->store;
    if (st->deliver && !st->deliver(st->aux, p->object_id, pkt, len)) {
        p->tx_packets++;
        p->tx_bytes += len;
        vsa_count(&s->agent->st_vm_delivered);
    } else {
        p->tx_dropped++;
        vsa_count(&s->agent->st_vm_dropped);
    }
}

static void
vsa_output(struct vsa_switch *s, uint32_t out_port, uint32_t in_port, const uint8_t *pkt,
           size_t len, uint16_t max_len, uint8_t reason, uint8_t table_id,
           uint64_t cookie, int depth)
{
    switch (out_port) {
    case OFPP_CONTROLLER:
        vsa_packet_in(s, in_port, pkt, len, max_len, reason, table_id, cookie);
        return;
    case OFPP_FLOOD:
    case OFPP_ALL:
        for (size_t i = 0; i < s->n_ports; i++) {
            if (s->ports[i].port_no != in_port) {
                vsa_output_port(s, &s->ports[i], pkt, len, depth);
            }
        }
        return;
    case OFPP_IN_PORT:
        out_port = in_port;
        break;
    case OFPP_TABLE:
        if (depth == 0) {
            vsa_pipeline(s, in_port, pkt, len, 0);
        }
        return;
    default:
        break;
    }
    struct vsa_port *p = vsa_port(s, out_port);
    if (p) {
        vsa_output_port(s, p, pkt, len, depth);
    }
}

/* --- flows --- */

/* A flow of 's' was written (committed): barrier replies from now on wait
 * for a pass that starts after it, which the reconciler is nudged to run. */
static void
vsa_written(struct vsa_switch *s)
{
    const struct vswitch_agent_store *st = &s->agent->store;
    if (st->passes) {
        uint64_t started, ended;
        st->passes(st->aux, &started, &ended);
        s->need_pass = started + 1;
    }
    if (st->kick) {
        st->kick(st->aux);
    }
}

/* Stores 'f' (its match and instructions encoded); on success sets f->id. */
static bool
vsa_store_flow(struct vsa_switch *s, struct vsa_flow *f, bool reset_counts)
{
    struct buf m, in;
    buf_init(&m);
    buf_init(&in);
    ofmatch_encode(&f->match, &m);
    ofaction_encode_insts(f->insts, f->n_insts, &in);
    bool ok = false;
    if (!m.failed && !in.failed) {
        struct vswitch_agent_flow row = {
            .table_id = f->table_id, .priority = f->priority, .flags = f->flags,
            .idle_timeout = f->idle_timeout, .hard_timeout = f->hard_timeout,
            .cookie = f->cookie, .match = m.data, .match_len = m.len,
            .insts = in.data, .insts_len = in.len,
        };
        const struct vswitch_agent_store *st = &s->agent->store;
        ok = !st->flow_put(st->aux, s->id, &row, reset_counts, &f->id);
    }
    buf_uninit(&m);
    buf_uninit(&in);
    if (ok) {
        vsa_written(s);
    }
    return ok;
}

static void
vsa_flow_removed(struct vsa_switch *s, const struct vsa_flow *f, uint8_t reason)
{
    if (!(f->flags & OFPFF_SEND_FLOW_REM) || s->state != VSA_ACTIVE) {
        return;
    }
    struct ofmsg m;
    ofmsg_init(&m, OFPT_FLOW_REMOVED, 0);
    struct ofmsg_flow_removed *fr = &m.u.flow_removed;
    uint64_t age = loop_now_ms() - f->installed_ms;
    fr->cookie = f->cookie;
    fr->priority = f->priority;
    fr->reason = reason;
    fr->table_id = f->table_id;
    fr->duration_sec = (uint32_t) (age / 1000);
    fr->duration_nsec = (uint32_t) (age % 1000) * 1000000u;
    fr->idle_timeout = f->idle_timeout;
    fr->hard_timeout = f->hard_timeout;
    fr->packet_count = f->packets;
    fr->byte_count = f->bytes;
    fr->match = f->match;
    vsa_send(s, &m);
}

/* Removes the flows marked in 'gone' (database first); false when the
 * database refused, in which case nothing changed. */
static bool
vsa_remove_flows(struct vsa_switch *s, const bool *gone, uint8_t reason)
{
    json_t *ids = json_array();
    for (size_t i = 0; ids && i < s->n_flows; i++) {
        if (gone[i]) {
            json_array_append_new(ids, json_integer(s->flows[i].id));
        }
    }
    if (!ids) {
        return false;
    }
    if (!json_array_size(ids)) {
        json_decref(ids);
        return true;
    }
    char *text = json_dumps(ids, JSON_COMPACT);
    json_decref(ids);
    const struct vswitch_agent_store *st = &s->agent->store;
    bool ok = text && !st->flow_delete(st->aux, text);
    free(text);
    if (!ok) {
        return false;
    }
    vsa_written(s);
    size_t w = 0;
    for (size_t i = 0; i < s->n_flows; i++) {
        if (gone[i]) {
            vsa_flow_removed(s, &s->flows[i], reason);
            vsa_flow_uninit(&s->flows[i]);
        } else {
            s->flows[w++] = s->flows[i];
        }
    }
    s->n_flows = w;
    return true;
}

/* True if flow 'f' is selected by a request naming 'table', 'cookie' under
 * 'cookie_mask', 'out_port' and 'match' (strict: also 'priority' and the
 * very match). */
static bool
vsa_selects(const struct vsa_flow *f, uint8_t table, uint64_t cookie,
            uint64_t cookie_mask, uint32_t out_port, const struct ofmatch *match,
            bool strict, uint16_t priority)
{
    if ((table != OFPTT_ALL && f->table_id != table)
        || (f->cookie & cookie_mask) != (cookie & cookie_mask)
        || !vflow_outputs_to(f->insts, f->n_insts, out_port)) {
        return false;
    }
    if (strict) {
        struct ofmatch canon;
        vflow_match_canon(match, &canon);
        return f->priority == priority && ofmatch_equal(&f->match, &canon);
    }
    return vflow_match_covers(match, &f->match);
}

static enum oferr
vsa_flow_add(struct vsa_switch *s, struct ofmsg_flow_mod *fm)
{
    struct ofmatch canon;
    vflow_match_canon(&fm->match, &canon);
    struct vsa_flow *f = NULL;
    for (size_t i = 0; i < s->n_flows; i++) {
        if (s->flows[i].table_id == fm->table_id && s->flows[i].priority == fm->priority
            && ofmatch_equal(&s->flows[i].match, &canon)) {
            f = &s->flows[i];
        }
    }
    if (!f && (fm->flags & OFPFF_CHECK_OVERLAP)) {
        for (size_t i = 0; i < s->n_flows; i++) {
            if (s->flows[i].table_id == fm->table_id && s->flows[i].priority == fm->priority
                && vflow_match_overlaps(&s->flows[i].match, &canon)) {
                return OFERR_FLOW_MOD_FAILED_OVERLAP;
            }
        }
    }
    if (!f && vsa_tenant_flows(s->agent, s->tag) >= s->agent->max_flows) {
        vsa_count(&s->agent->st_quota_refused);
        return OFERR_FLOW_MOD_FAILED_TABLE_FULL;
    }
    struct vsa_flow nf = {
        .id = f ? f->id : 0, .table_id = fm->table_id, .priority = fm->priority,
        .flags = fm->flags, .idle_timeout = fm->idle_timeout,
        .hard_timeout = fm->hard_timeout, .cookie = fm->cookie, .match = canon,
        .insts = fm->insts, .n_insts = fm->n_insts,
        .installed_ms = loop_now_ms(), .last_hit_ms = loop_now_ms(),
    };
    if (!vsa_store_flow(s, &nf, true)) {
        return OFERR_FLOW_MOD_FAILED_UNKNOWN;
    }
    fm->insts = NULL;
    fm->n_insts = 0;
    if (f) {
        vsa_flow_uninit(f);
        *f = nf;
        return OFERR_NONE;
    }
    if (s->n_flows == s->cap_flows) {
        size_t cap = s->cap_flows ? 2 * s->cap_flows : 16;
        struct vsa_flow *nfl = realloc(s->flows, cap * sizeof *nfl);
        if (!nfl) {
            vsa_flow_uninit(&nf);
            return OFERR_FLOW_MOD_FAILED_UNKNOWN;
        }
        s->flows = nfl;
        s->cap_flows = cap;
    }
    s->flows[s->n_flows++] = nf;
    return OFERR_NONE;
}

static enum oferr
vsa_flow_modify(struct vsa_switch *s, struct ofmsg_flow_mod *fm, bool strict)
{
    for (size_t i = 0; i < s->n_flows; i++) {
        struct vsa_flow *f = &s->flows[i];
        if (!vsa_selects(f, fm->table_id, fm->cookie, fm->cookie_mask, OFPP_ANY,
                         &fm->match, strict, fm->priority)) {
            continue;
        }
        struct vsa_flow nf = *f;
        struct ofmsg_flow_mod copy = *fm;
        /* Each selected flow gets its own copy of the instructions. */
        struct buf b;
        buf_init(&b);
        ofaction_encode_insts(fm->insts, fm->n_insts, &b);
        struct pull pl;
        pull_init(&pl, b.data, b.len);
        nf.insts = NULL;
        nf.n_insts = 0;
        enum oferr e = b.failed ? OFERR_FLOW_MOD_FAILED_UNKNOWN
                                : ofaction_decode_insts(&pl, b.len, &copy.insts, &copy.n_insts);
        buf_uninit(&b);
        if (e != OFERR_NONE) {
            return e;
        }
        nf.insts = copy.insts;
        nf.n_insts = copy.n_insts;
        if (fm->flags & OFPFF_RESET_COUNTS) {
            nf.packets = nf.bytes = 0;
        }
        if (!vsa_store_flow(s, &nf, fm->flags & OFPFF_RESET_COUNTS)) {
            ofaction_free_insts(nf.insts, nf.n_insts);
            return OFERR_FLOW_MOD_FAILED_UNKNOWN;
        }
        ofaction_free_insts(f->insts, f->n_insts);
        *f = nf;
    }
    return OFERR_NONE;
}

static enum oferr
vsa_flow_delete(struct vsa_switch *s, const struct ofmsg_flow_mod *fm, bool strict)
{
    bool *gone = calloc(s->n_flows ? s->n_flows : 1, sizeof *gone);
    if (!gone) {
        return OFERR_FLOW_MOD_FAILED_UNKNOWN;
    }
    for (size_t i = 0; i < s->n_flows; i++) {
        gone[i] = vsa_selects(&s->flows[i], fm->table_id, fm->cookie, fm->cookie_mask,
                              fm->out_port, &fm->match, strict, fm->priority);
    }
    bool ok = vsa_remove_flows(s, gone, OFPRR_DELETE);
    free(gone);
    return ok ? OFERR_NONE : OFERR_FLOW_MOD_FAILED_UNKNOWN;
}

static enum oferr
vsa_flow_mod(struct vsa_switch *s, struct ofmsg_flow_mod *fm)
{
    struct vflow_ports ports = vsa_ports(s);
    enum oferr e = vflow_check(fm, &ports);
    if (e != OFERR_NONE) {
        return e;
    }
    if (!vsa_take_token(s->agent, s->tag)) {
        vsa_count(&s->agent->st_quota_refused);
        return OFERR_FLOW_MOD_FAILED_EPERM;
    }
    switch (fm->command) {
    case OFPFC_ADD:
        e = vsa_flow_add(s, fm);
        break;
    case OFPFC_MODIFY:
    case OFPFC_MODIFY_STRICT:
        e = vsa_flow_modify(s, fm, fm->command == OFPFC_MODIFY_STRICT);
        break;
    default:
        e = vsa_flow_delete(s, fm, fm->command == OFPFC_DELETE_STRICT);
        break;
    }
    if (e == OFERR_NONE) {
        vsa_count(&s->agent->st_flow_mods);
    }
    vsa_count_flows(s->agent);
    return e;
}

/* Expires flows whose hard or idle timeout has passed. */
static void
vsa_expire(struct vsa_switch *s)
{
    uint64_t now = loop_now_ms();
    for (int pass = 0; pass < 2; pass++) {
        bool any = false;
        bool *gone = calloc(s->n_flows ? s->n_flows : 1, sizeof *gone);
        if (!gone) {
            return;
        }
        for (size_t i = 0; i < s->n_flows; i++) {
            const struct vsa_flow *f = &s->flows[i];
            gone[i] = pass == 0 ? f->hard_timeout
                                      && now - f->installed_ms >= f->hard_timeout * 1000ULL
                                : f->idle_timeout
                                      && now - f->last_hit_ms >= f->idle_timeout * 1000ULL;
            any |= gone[i];
        }
        if (any) {
            vsa_remove_flows(s, gone, pass == 0 ? OFPRR_HARD_TIMEOUT : OFPRR_IDLE_TIMEOUT);
        }
        free(gone);
    }
}

/* Loads the switch's stored flows (once, when the agent first sees it). */
static void
vsa_load_flows(struct vsa_switch *s)
{
    struct vswitch_agent_flow *rows;
    size_t n;
    const struct vswitch_agent_store *st = &s->agent->store;
    if (st->flow_list(st->aux, s->id, &rows, &n)) {
        return;                     /* tried again with the next view */
    }
    s->flows_loaded = true;
    s->flows = n ? calloc(n, sizeof *s->flows) : NULL;
    s->cap_flows = s->flows ? n : 0;
    for (size_t i = 0; s->flows && i < n; i++) {
        struct vsa_flow *f = &s->flows[s->n_flows];
        struct pull pm, pi;
        pull_init(&pm, rows[i].match, rows[i].match_len);
        pull_init(&pi, rows[i].insts, rows[i].insts_len);
        *f = (struct vsa_flow) {
            .id = rows[i].id, .table_id = rows[i].table_id, .priority = rows[i].priority,
            .flags = rows[i].flags, .idle_timeout = rows[i].idle_timeout,
            .hard_timeout = rows[i].hard_timeout, .cookie = rows[i].cookie,
            .installed_ms = loop_now_ms(), .last_hit_ms = loop_now_ms(),
        };
        if (ofmatch_decode(&pm, &f->match) == OFERR_NONE
            && ofaction_decode_insts(&pi, rows[i].insts_len, &f->insts, &f->n_insts)
                   == OFERR_NONE) {
            s->n_flows++;
        }
    }
    vswitch_agent_flows_free(rows, n);
}

/* --- multipart --- */

static void
vsa_mp_desc(struct vsa_switch *s, uint32_t xid)
{
    size_t start = s->out.len;
    buf_put_u8(&s->out, OFP13_VERSION);
    buf_put_u8(&s->out, OFPT_MULTIPART_REPLY);
    buf_put_u16(&s->out, 0);
    buf_put_u32(&s->out, xid);
    buf_put_u16(&s->out, OFPMP_DESC);
    buf_put_u16(&s->out, 0);
    buf_put_zeros(&s->out, 4);
    char text[256];
    static const size_t lens[] = {256, 256, 256, 32, 256};
    const char *vals[5] = {"skyvisor", "virtual switch", "skyvisord", s->id, text};
    snprintf(text, sizeof text, "virtual switch %s of tenant tag %u", s->name, s->tag);
    for (int i = 0; i < 5; i++) {
        uint8_t *p = buf_put_zeros(&s->out, lens[i]);
        if (p) {
            size_t n = strlen(vals[i]);
            memcpy(p, vals[i], n < lens[i] - 1 ? n : lens[i] - 1);
        }
    }
    buf_patch_u16(&s->out, start + 2, (uint16_t) (s->out.len - start));
}

/* Table stats: per virtual table its flows and the packets they matched,
 * in the agent's pipeline and on the bridges (vsa_poll_stats).  A miss is
 * dropped by the datapath without a word, so lookups are counted as the
 * packets matched: lookup_count is a lower bound. */
static void
vsa_mp_table(struct vsa_switch *s, uint32_t xid)
{
    size_t start = s->out.len;
    buf_put_u8(&s->out, OFP13_VERSION);
    buf_put_u8(&s->out, OFPT_MULTIPART_REPLY);
    buf_put_u16(&s->out, 0);
    buf_put_u32(&s->out, xid);
    buf_put_u16(&s->out, OFPMP_TABLE);
    buf_put_u16(&s->out, 0);
    buf_put_zeros(&s->out, 4);
    for (uint8_t t = 0; t < VFLOW_N_TABLES; t++) {
        uint32_t active = 0;
        uint64_t matched = 0;
        for (size_t i = 0; i < s->n_flows; i++) {
            if (s->flows[i].table_id == t) {
                active++;
                matched += s->flows[i].packets;
            }
        }
        buf_put_u8(&s->out, t);
        buf_put_zeros(&s->out, 3);
        buf_put_u32(&s->out, active);
        buf_put_u64(&s->out, matched);
        buf_put_u64(&s->out, matched);
    }
    buf_patch_u16(&s->out, start + 2, (uint16_t) (s->out.len - start));
}

static void
vsa_mp_port_desc(struct vsa_switch *s, uint32_t xid)
{
    size_t per = 500;
    size_t i = 0;
    do {
        size_t n = s->n_ports - i < per ? s->n_ports - i : per;
        struct ofport *w = calloc(n ? n : 1, sizeof *w);
        if (!w) {
            return;
        }
        for (size_t k = 0; k < n; k++) {
            vsa_port_wire(&s->ports[i + k], &w[k]);
        }
        struct ofmsg m;
        ofmsg_init(&m, OFPT_MULTIPART_REPLY, xid);
        m.u.mp.mp_type = OFPMP_PORT_DESC;
        m.u.mp.flags = i + n < s->n_ports ? OFPMPF_MORE : 0;
        m.u.mp.ports = w;
        m.u.mp.n = n;
        vsa_send(s, &m);
        free(w);
        i += n;
    } while (i < s->n_ports);
}

static void
vsa_mp_port_stats(struct vsa_switch *s, uint32_t xid, uint32_t port_no)
{
    struct ofport_stats *st = calloc(s->n_ports ? s->n_ports : 1, sizeof *st);
    if (!st) {
        return;
    }
    struct vswitch_agent_port_counters *hw = NULL;
    size_t n_hw = 0;
    const struct vswitch_agent_store *store = &s->agent->store;
    if (store->port_counters && store->port_counters(store->aux, s->id, &hw, &n_hw)) {
        n_hw = 0;                   /* the agent's own counts, then */
    }
    size_t n = 0;
    for (size_t i = 0; i < s->n_ports; i++) {
        const struct vsa_port *p = &s->ports[i];
        if (port_no == OFPP_ANY || p->port_no == port_no) {
            st[n] = (struct ofport_stats) {
                .port_no = p->port_no, .rx_packets = p->rx_packets,
                .rx_bytes = p->rx_bytes, .tx_packets = p->tx_packets,
                .tx_bytes = p->tx_bytes, .tx_dropped = p->tx_dropped,
            };
            for (size_t k = 0; !p->link && k < n_hw; k++) {
                if (hw[k].port_no == p->port_no) {
                    st[n].rx_packets = hw[k].rx_packets;
                    st[n].rx_bytes = hw[k].rx_bytes;
                    st[n].tx_packets = hw[k].tx_packets;
                    st[n].tx_bytes = hw[k].tx_bytes;
                    st[n].tx_dropped = hw[k].tx_dropped;
                }
            }
            n++;
        }
    }
    free(hw);
    struct ofmsg m;
    ofmsg_init(&m, OFPT_MULTIPART_REPLY, xid);
    m.u.mp.mp_type = OFPMP_PORT_STATS;
    m.u.mp.port_stats = st;
    m.u.mp.n = n;
    vsa_send(s, &m);
    free(st);
}

/* Flow stats, in as many replies as the 64 KiB message limit needs. */
static void
vsa_mp_flow(struct vsa_switch *s, uint32_t xid, const struct ofmp_flow_request *rq)
{
    struct offlow_stats *st = calloc(s->n_flows ? s->n_flows : 1, sizeof *st);
    if (!st) {
        return;
    }
    size_t n = 0;
    uint64_t now = loop_now_ms();
    for (size_t i = 0; i < s->n_flows; i++) {
        const struct vsa_flow *f = &s->flows[i];
        if (!vsa_selects(f, rq->table_id, rq->cookie, rq->cookie_mask, rq->out_port,
                         &rq->match, false, 0)) {
            continue;
        }
        struct offlow_stats *o = &st[n++];
        uint64_t age = now - f->installed_ms;
        o->table_id = f->table_id;
        o->duration_sec = (uint32_t) (age / 1000);
        o->duration_nsec = (uint32_t) (age % 1000) * 1000000u;
        o->priority = f->priority;
        o->idle_timeout = f->idle_timeout;
        o->hard_timeout = f->hard_timeout;
        o->flags = f->flags;
        o->cookie = f->cookie;
        o->packet_count = f->packets;
        o->byte_count = f->bytes;
        o->match = f->match;
        o->insts = f->insts;        /* borrowed: the message is not uninited */
        o->n_insts = f->n_insts;
    }
    size_t i = 0, per = 64;
    do {
        size_t k = n - i < per ? n - i : per;
        struct ofmsg m;
        ofmsg_init(&m, OFPT_MULTIPART_REPLY, xid);
        m.u.mp.mp_type = OFPMP_FLOW;
        m.u.mp.flags = i + k < n ? OFPMPF_MORE : 0;
        m.u.mp.flows = st + i;
        m.u.mp.n = k;
        size_t before = s->out.len;
        if (ofmsg_encode(&m, &s->out) == EINVAL && k > 1) {
            s->out.len = before;
            per = k / 2;
            continue;               /* too long: fewer per reply */
        }
        i += k;
    } while (i < n);
    free(st);
}

static void
vsa_multipart(struct vsa_switch *s, const uint8_t *raw, size_t len, struct ofmsg *m)
{
    switch (m->u.mp.mp_type) {
    case OFPMP_PORT_DESC:
        vsa_mp_port_desc(s, m->xid);
        break;
    case OFPMP_FLOW:
        vsa_mp_flow(s, m->xid, &m->u.mp.req.flow);
        break;
    case OFPMP_PORT_STATS:
        vsa_mp_port_stats(s, m->xid, m->u.mp.req.port_no);
        break;
    default:
        vsa_error(s, OFERR_BAD_REQUEST_BAD_MULTIPART, raw, len);
        break;
    }
}

/* --- messages --- */

static void
vsa_role(struct vsa_switch *s, const uint8_t *raw, size_t len, const struct ofmsg_role *r)
{
    if (r->role > OFPCR_ROLE_SLAVE) {
        vsa_error(s, OFERR_ROLE_REQUEST_FAILED_BAD_ROLE, raw, len);
        return;
    }
    if (r->role == OFPCR_ROLE_MASTER || r->role == OFPCR_ROLE_SLAVE) {
        if (s->has_generation && (int64_t) (r->generation_id - s->generation_id) < 0) {
            vsa_error(s, OFERR_ROLE_REQUEST_FAILED_STALE, raw, len);
            return;
        }
        s->generation_id = r->generation_id;
        s->has_generation = true;
    }
    if (r->role != OFPCR_ROLE_NOCHANGE) {
        s->role = r->role;
    }
    struct ofmsg m;
    ofmsg_init(&m, OFPT_ROLE_REPLY, ofmsg_xid(raw));
    m.u.role.role = s->role;
    m.u.role.generation_id = s->has_generation ? s->generation_id : 0;
    vsa_send(s, &m);
}

static void
vsa_packet_out(struct vsa_switch *s, const uint8_t *raw, size_t len,
               const struct ofmsg_packet_out *po)
{
    struct vflow_ports ports = vsa_ports(s);
    enum oferr e = vflow_check_packet_out(po, &ports);
    if (e != OFERR_NONE) {
        vsa_error(s, e, raw, len);
        return;
    }
    vsa_count(&s->agent->st_packet_outs);
    uint32_t in_port = po->in_port == OFPP_CONTROLLER || po->in_port == OFPP_ANY
                           ? OFPP_CONTROLLER : po->in_port;
    for (size_t i = 0; i < po->n_actions; i++) {
        const struct ofaction *a = &po->actions[i];
        if (a->type == OFPAT_OUTPUT) {
            vsa_output(s, a->u.output.port, in_port, po->data, po->len,
                       a->u.output.max_len, OFPR_ACTION, 0, UINT64_MAX, 0);
        }
    }
}

static void vsa_release(struct vsa_switch *);

static void
vsa_message(struct vsa_switch *s, const uint8_t *raw, size_t len)
{
    uint8_t type = raw[1];
    if (raw[0] != OFP13_VERSION && type != OFPT_HELLO) {
        vsa_error(s, OFERR_BAD_REQUEST_BAD_VERSION, raw, len);
        return;
    }
    if (type == OFPT_MULTIPART_REQUEST && len >= 10 && get_be16(raw + 8) == OFPMP_DESC) {
        vsa_mp_desc(s, ofmsg_xid(raw));
        return;
    }
    if (type == OFPT_MULTIPART_REQUEST && len >= 10 && get_be16(raw + 8) == OFPMP_TABLE) {
        vsa_mp_table(s, ofmsg_xid(raw));
        return;
    }
    struct ofmsg m, r;
    enum oferr e = ofmsg_decode(raw, len, &m);
    if (e != OFERR_NONE) {
        vsa_error(s, e, raw, len);
        ofmsg_uninit(&m);
        return;
    }
    bool slave = s->role == OFPCR_ROLE_SLAVE;
    switch (m.type) {
    case OFPT_HELLO:
        if (ofmsg_hello_negotiate(&m) != OFERR_NONE) {
            vsa_error(s, OFERR_HELLO_FAILED_INCOMPATIBLE, raw, len);
            ofmsg_uninit(&m);
            vsa_drop(s, "no common OpenFlow version");
            return;
        }
        if (s->state == VSA_HELLO) {
            s->state = VSA_ACTIVE;
            s->backoff_ms = 0;
            vlog(VLOG_INFO, "vswitch", "switch %s: controller %s connected", s->name,
                 s->controller);
        }
        break;
    case OFPT_ECHO_REQUEST:
        ofmsg_init(&r, OFPT_ECHO_REPLY, m.xid);
        r.u.echo = m.u.echo;
        vsa_send(s, &r);
        break;
    case OFPT_ECHO_REPLY:
    case OFPT_BARRIER_REPLY:
    case OFPT_ERROR:
        break;
    case OFPT_FEATURES_REQUEST:
        ofmsg_init(&r, OFPT_FEATURES_REPLY, m.xid);
        r.u.features.datapath_id = vflow_datapath_id(s->tag, s->seq);
        r.u.features.n_buffers = 0;
        r.u.features.n_tables = VFLOW_N_TABLES;
        r.u.features.capabilities = OFPC_FLOW_STATS | OFPC_TABLE_STATS | OFPC_PORT_STATS;
        vsa_send(s, &r);
        break;
    case OFPT_GET_CONFIG_REQUEST:
        ofmsg_init(&r, OFPT_GET_CONFIG_REPLY, m.xid);
        r.u.config.miss_send_len = s->miss_send_len;
        vsa_send(s, &r);
        break;
    case OFPT_SET_CONFIG:
        s->miss_send_len = m.u.config.miss_send_len;
        break;
    case OFPT_BARRIER_REQUEST:
        /* Every flow-mod before it is stored already (vsa_flow_mod); the
         * reply waits until the bridges hold them too (vsa_release). */
        s->held = true;
        s->held_xid = m.xid;
        s->held_until_ms = loop_now_ms() + VSWITCH_AGENT_BARRIER_WAIT_MS;
        vsa_release(s);
        break;
    case OFPT_ROLE_REQUEST:
        vsa_role(s, raw, len, &m.u.role);
        break;
    case OFPT_MULTIPART_REQUEST:
        vsa_multipart(s, raw, len, &m);
        break;
    case OFPT_FLOW_MOD:
        if (slave) {
            vsa_error(s, OFERR_BAD_REQUEST_IS_SLAVE, raw, len);
        } else if ((e = vsa_flow_mod(s, &m.u.flow_mod)) != OFERR_NONE) {
            vsa_error(s, e, raw, len);
        }
        break;
    case OFPT_PACKET_OUT:
        if (slave) {
            vsa_error(s, OFERR_BAD_REQUEST_IS_SLAVE, raw, len);
        } else {
            vsa_packet_out(s, raw, len, &m.u.packet_out);
        }
        break;
    default:
        /* Groups, meters, port-mod, table-mod, and what a switch sends. */
        vsa_error(s, OFERR_BAD_REQUEST_BAD_TYPE, raw, len);
        break;
    }
    ofmsg_uninit(&m);               /* the replies borrowed from it, never uninited */
}

/* Sends the held barrier reply once the pass it waits for ended (or the
 * wait timed out: the flows are stored and the reconciler goes on trying;
 * the reply then only means that). */
static void
vsa_release(struct vsa_switch *s)
{
    const struct vswitch_agent_store *st = &s->agent->store;
    uint64_t started = 0, ended = 0;
    if (s->held && s->need_pass && st->passes) {
        st->passes(st->aux, &started, &ended);
    }
    if (!s->held || (s->need_pass && st->passes && ended < s->need_pass
                     && loop_now_ms() < s->held_until_ms)) {
        return;
    }
    if (s->need_pass && ended >= s->need_pass) {
        s->need_pass = 0;
    }
    s->held = false;
    struct ofmsg r;
    ofmsg_init(&r, OFPT_BARRIER_REPLY, s->held_xid);
    vsa_send(s, &r);
}

/* --- I/O --- */

/* Handles the whole messages s->in holds, up to a held barrier. */
static void
vsa_process(struct vsa_switch *s)
{
    size_t off = 0;
    while (s->stream && !s->held) {
        long ml = ofmsg_frame(s->in + off, s->in_len - off);
        if (ml < 0) {
            vsa_count(&s->agent->st_refused);
            vsa_drop(s, "a message header with an impossible length");
            return;
        }
        if (ml == 0 || (size_t) ml > s->in_len - off) {
            break;
        }
        vsa_message(s, s->in + off, (size_t) ml);
        off += (size_t) ml;
    }
    if (s->stream) {
        memmove(s->in, s->in + off, s->in_len - off);
        s->in_len -= off;
    }
}

static void
vsa_read(struct vsa_switch *s)
{
    for (int rounds = 0; rounds < 16 && s->stream && !s->held; rounds++) {
        if (s->in_cap - s->in_len < STREAM_RECV_MIN) {
            size_t cap = s->in_cap ? 2 * s->in_cap : 4 * STREAM_RECV_MIN;
            uint8_t *p = cap <= (1u << 20) ? realloc(s->in, cap) : NULL;
            if (!p) {
                vsa_drop(s, "input buffer full");
                return;
            }
            s->in = p;
            s->in_cap = cap;
        }
        ssize_t n = stream_recv(s->stream, s->in + s->in_len, s->in_cap - s->in_len);
        if (n == -EAGAIN) {
            return;
        }
        if (n <= 0) {
            vsa_drop(s, n == 0 ? "closed by the controller" : stream_strerror((int) -n));
            return;
        }
        s->in_len += (size_t) n;
        vsa_process(s);
        if (s->held) {
            return;                 /* the rest waits in s->in */
        }
    }
}

static void
vsa_write(struct vsa_switch *s)
{
    if (s->out.failed) {
        vsa_drop(s, "out of memory");
        return;
    }
    if (s->out.len > VSWITCH_AGENT_MAX_OUT) {
        vsa_drop(s, "the controller does not read");
        return;
    }
    size_t off = 0;
    while (off < s->out.len) {
        ssize_t n = stream_send(s->stream, s->out.data + off, s->out.len - off);
        if (n == -EAGAIN) {
            break;
        }
        if (n < 0) {
            vsa_drop(s, stream_strerror((int) -n));
            return;
        }
        off += (size_t) n;
    }
    memmove(s->out.data, s->out.data + off, s->out.len - off);
    s->out.len -= off;
}

static void
vsa_service(struct vsa_switch *s)
{
    if (s->state == VSA_CONNECTING) {
        int r = stream_connect(s->stream);
        if (r == EAGAIN) {
            return;
        }
        if (r) {
            vsa_drop(s, stream_error(s->stream)[0] ? stream_error(s->stream)
                                                   : stream_strerror(r));
            return;
        }
        struct ofmsg h;
        ofmsg_init(&h, OFPT_HELLO, s->next_xid++);
        h.u.hello.bitmap = 1u << OFP13_VERSION;
        h.u.hello.has_bitmap = true;
        vsa_send(s, &h);
        s->state = VSA_HELLO;
    }
    if (s->held) {
        vsa_release(s);
        if (!s->held) {
            vsa_process(s);         /* what came after the barrier */
        }
    }
    vsa_read(s);
    if (s->stream) {
        vsa_write(s);
    }
}

/* --- the view --- */

static void
vsa_switch_free(struct vsa_switch *s)
{
    if (!s) {
        return;
    }
    if (s->stream) {
        stream_close(s->stream);
    }
    for (size_t i = 0; i < s->n_flows; i++) {
        vsa_flow_uninit(&s->flows[i]);
    }
    free(s->flows);
    free(s->ports);
    free(s->port_nos);
    free(s->in);
    buf_uninit(&s->out);
    free(s);
}

/* Replaces the ports of 's' by those of 'jports', announcing the changes. */
static void
vsa_set_ports(struct vsa_switch *s, json_t *jports)
{
    size_t n = json_array_size(jports);
    struct vsa_port *np = calloc(n ? n : 1, sizeof *np);
    uint32_t *nos = calloc(n ? n : 1, sizeof *nos);
    if (!np || !nos) {
        free(np);
        free(nos);
        return;
    }
    for (size_t i = 0; i < n; i++) {
        json_t *j = json_array_get(jports, i);
        struct vsa_port *p = &np[i];
        p->port_no = (uint32_t) json_integer_value(json_object_get(j, "port_no"));
        p->link = !strcmp(json_string_value(json_object_get(j, "kind")) ?: "", "link");
        p->up = json_is_true(json_object_get(j, "up"));
        snprintf(p->object_id, sizeof p->object_id, "%s",
                 json_string_value(json_object_get(j, "object_id")) ?: "");
        vflow_port_name(json_string_value(json_object_get(j, "name")) ?: "", p->link,
                        p->port_no, p->name);
        if (!packet_parse_mac(json_string_value(json_object_get(j, "mac")), p->mac)) {
            /* A link port: a locally administered address of its own. */
            uint8_t mac[6] = {0x02, 0x5b, (uint8_t) (s->tag >> 8), (uint8_t) s->tag,
                              (uint8_t) (p->port_no >> 8), (uint8_t) p->port_no};
            memcpy(p->mac, mac, 6);
        }
        nos[i] = p->port_no;
    }
    /* Announce: deleted, then added or changed (both lists sorted). */
    size_t i = 0, k = 0;
    while (i < s->n_ports || k < n) {
        if (k == n || (i < s->n_ports && s->ports[i].port_no < np[k].port_no)) {
            vsa_port_status(s, OFPPR_DELETE, &s->ports[i++]);
        } else if (i == s->n_ports || np[k].port_no < s->ports[i].port_no) {
            vsa_port_status(s, OFPPR_ADD, &np[k++]);
        } else {
            const struct vsa_port *o = &s->ports[i++];
            struct vsa_port *p = &np[k++];
            if (strcmp(o->object_id, p->object_id)) {
                vsa_port_status(s, OFPPR_DELETE, o);
                vsa_port_status(s, OFPPR_ADD, p);
            } else {
                if (o->up != p->up || strcmp(o->name, p->name)
                    || memcmp(o->mac, p->mac, 6)) {
                    vsa_port_status(s, OFPPR_MODIFY, p);
                }
                /* The same port: its counters go on. */
                p->rx_packets = o->rx_packets;
                p->rx_bytes = o->rx_bytes;
                p->tx_packets = o->tx_packets;
                p->tx_bytes = o->tx_bytes;
                p->tx_dropped = o->tx_dropped;
            }
        }
    }
    free(s->ports);
    free(s->port_nos);
    s->ports = np;
    s->port_nos = nos;
    s->n_ports = n;
}

static struct vsa_switch *
vsa_find(struct vswitch_agent *a, const char *id)
{
    for (size_t i = 0; i < a->n_sw; i++) {
        if (!strcmp(a->sw[i]->id, id)) {
            return a->sw[i];
        }
    }
    return NULL;
}

/* Reads the view and makes the switches match it. */
static void
vsa_refresh(struct vswitch_agent *a)
{
    char *text;
    if (a->store.view(a->store.aux, &text)) {
        return;
    }
    json_t *view = json_loads(text, 0, NULL);
    free(text);
    if (!json_is_array(view)) {
        json_decref(view);
        return;
    }
    for (size_t i = 0; i < a->n_sw; i++) {
        a->sw[i]->seen = false;
    }
    size_t idx;
    json_t *j;
    json_array_foreach(view, idx, j) {
        const char *id = json_string_value(json_object_get(j, "id"));
        const char *ctl = json_string_value(json_object_get(j, "controller"));
        if (!id || !ctl) {
            continue;
        }
        struct vsa_switch *s = vsa_find(a, id);
        if (!s) {
            struct vsa_switch **nsw = realloc(a->sw, (a->n_sw + 1) * sizeof *nsw);
            if (!nsw || !(s = calloc(1, sizeof *s))) {
                if (nsw) {
                    a->sw = nsw;
                }
                continue;
            }
            a->sw = nsw;
            a->sw[a->n_sw++] = s;
            s->agent = a;
            s->published = -1;
            snprintf(s->id, sizeof s->id, "%s", id);
            buf_init(&s->out);
            s->role = OFPCR_ROLE_EQUAL;
            s->miss_send_len = 128;
            s->next_xid = 1;
        }
        s->seen = true;
        snprintf(s->name, sizeof s->name, "%s",
                 json_string_value(json_object_get(j, "name")) ?: "");
        s->tag = (uint16_t) json_integer_value(json_object_get(j, "tag"));
        s->seq = (uint64_t) json_integer_value(json_object_get(j, "seq"));
        snprintf(s->home_cloud, sizeof s->home_cloud, "%s",
                 json_string_value(json_object_get(j, "home_cloud")) ?: "");
        s->secure = !strcmp(json_string_value(json_object_get(j, "fail_mode")) ?: "secure",
                            "secure");
        if (strcmp(s->controller, ctl)) {
            if (s->stream) {
                vsa_drop(s, "the switch names another controller");
            }
            snprintf(s->controller, sizeof s->controller, "%s", ctl);
            s->backoff_ms = 0;
            s->retry_ms = 0;
        }
        vsa_set_ports(s, json_object_get(j, "ports"));
        if (!s->flows_loaded) {
            vsa_load_flows(s);
        }
    }
    json_decref(view);
    size_t w = 0;
    for (size_t i = 0; i < a->n_sw; i++) {
        if (a->sw[i]->seen) {
            a->sw[w++] = a->sw[i];
        } else {
            vsa_drop(a->sw[i], "the switch has no controller any more");
            vsa_switch_free(a->sw[i]);
        }
    }
    a->n_sw = w;
    vsa_count_flows(a);
}

/* --- frames from VMs --- */

/* Queues 'f' (its data copied from 'frame') for the agent's thread. */
static void
vsa_enqueue(struct vswitch_agent *a, const struct vsa_frame *in, const uint8_t *frame,
            size_t len)
{
    uint8_t *copy = malloc(len ? len : 1);
    bool queued = false;
    pthread_mutex_lock(&a->mu);
    if (copy && a->n_queue < VSWITCH_AGENT_MAX_QUEUE) {
        struct vsa_frame *q = realloc(a->queue, (a->n_queue + 1) * sizeof *q);
        if (q) {
            a->queue = q;
            struct vsa_frame *f = &q[a->n_queue++];
            *f = *in;
            memcpy(copy, frame, len);
            f->data = copy;
            f->len = len;
            queued = true;
        }
    }
    pthread_mutex_unlock(&a->mu);
    if (!queued) {
        free(copy);
        vsa_count(&a->st_vm_dropped);
        return;
    }
    char b = 0;
    if (write(a->wake[1], &b, 1) < 0) {
        /* The pipe is full: the thread is awake already. */
    }
}

void
vswitch_agent_vm_frame(struct vswitch_agent *a, const char *vm_id, const uint8_t *frame,
                       size_t len)
{
    struct vsa_frame f;
    memset(&f, 0, sizeof f);
    snprintf(f.vm_id, sizeof f.vm_id, "%s", vm_id);
    vsa_enqueue(a, &f, frame, len);
}

void
vswitch_agent_vswitch_frame(struct vswitch_agent *a, const char *vswitch_id,
                            uint32_t vport, uint8_t vtable, bool punt,
                            const uint8_t *frame, size_t len)
{
    struct vsa_frame f;
    memset(&f, 0, sizeof f);
    snprintf(f.vswitch_id, sizeof f.vswitch_id, "%s", vswitch_id);
    f.vport = vport;
    f.vtable = vtable;
    f.punt = punt;
    vsa_enqueue(a, &f, frame, len);
}

/* A frame from switch 's''s translated flows (vswitch_agent_vswitch_frame):
 * a punted flow runs here from its table; otherwise the flow output to
 * the controller, and the tenant gets the packet-in that flow makes. */
static void
vsa_datapath_frame(struct vsa_switch *s, const struct vsa_frame *q)
{
    if (!vsa_serves(s)) {
        vsa_count(&s->agent->st_vm_dropped);    /* its controller is elsewhere */
        return;
    }
    struct vsa_port *from = q->vtable ? NULL : vsa_port(s, q->vport);
    if (from) {
        from->rx_packets++;         /* it entered the switch here */
        from->rx_bytes += q->len;
    }
    struct ofmatch key;
    vflow_packet_key(q->data, q->len, q->vport, &key);
    struct vsa_flow *f = vsa_lookup(s, q->vtable, &key);
    if (q->punt) {
        vsa_pipeline_from(s, q->vport, q->data, q->len, 0, q->vtable);
        return;
    }
    if (!f) {
        return;                     /* the flow changed since: dropped */
    }
    uint8_t reason = f->priority == 0 && f->match.n == 0 ? OFPR_NO_MATCH : OFPR_ACTION;
    vsa_packet_in(s, q->vport, q->data, q->len, OFPCML_NO_BUFFER, reason, q->vtable,
                  f->cookie);
}

/* Runs the frames VMs sent through their switches' flows. */
static void
vsa_vm_frames(struct vswitch_agent *a)
{
    char drain[64];
    while (read(a->wake[0], drain, sizeof drain) > 0) {
        continue;
    }
    pthread_mutex_lock(&a->mu);
    struct vsa_frame *q = a->queue;
    size_t n = a->n_queue;
    a->queue = NULL;
    a->n_queue = 0;
    pthread_mutex_unlock(&a->mu);
    for (size_t i = 0; i < n; i++) {
        bool done = false;
        for (size_t k = 0; !q[i].vm_id[0] && k < a->n_sw && !done; k++) {
            if (!strcmp(a->sw[k]->id, q[i].vswitch_id)) {
                vsa_count(&a->st_datapath_frames);
                vsa_datapath_frame(a->sw[k], &q[i]);
                done = true;
            }
        }
        for (size_t k = 0; q[i].vm_id[0] && k < a->n_sw && !done; k++) {
            struct vsa_switch *s = a->sw[k];
            for (size_t p = 0; p < s->n_ports && !done; p++) {
                if (!s->ports[p].link && !strcmp(s->ports[p].object_id, q[i].vm_id)) {
                    vsa_count(&a->st_vm_frames);
                    vsa_pipeline(s, s->ports[p].port_no, q[i].data, q[i].len, 0);
                    done = true;
                }
            }
        }
        if (!done) {
            vsa_count(&a->st_vm_dropped);
        }
        free(q[i].data);
    }
    free(q);
}

/* Reads the counters the bridges hold for 's''s translated flows and adds
 * what each grew since the last read to its flow (a physical flow that
 * restarted from zero, as after a retranslation, counts from zero); a flow
 * that moved packets was hit now (idle timeouts). */
static void
vsa_poll_stats(struct vsa_switch *s)
{
    const struct vswitch_agent_store *st = &s->agent->store;
    struct recon_vflow_stats *v = NULL;
    size_t n = 0;
    if (!st->flow_stats || !s->n_flows || st->flow_stats(st->aux, s->id, &v, &n)) {
        free(v);
        return;                     /* tried again at the next round */
    }
    uint64_t *pk = calloc(s->n_flows, sizeof *pk), *by = calloc(s->n_flows, sizeof *by);
    for (size_t i = 0; pk && by && i < n; i++) {
        struct ofmatch canon;
        vflow_match_canon(&v[i].match, &canon);
        for (size_t k = 0; k < s->n_flows; k++) {
            struct vsa_flow *f = &s->flows[k];
            if (f->table_id == v[i].vtable && f->priority == v[i].priority
                && ofmatch_equal(&f->match, &canon)) {
                pk[k] += v[i].packets;
                by[k] += v[i].bytes;
                break;
            }
        }
    }
    uint64_t now = loop_now_ms();
    for (size_t k = 0; pk && by && k < s->n_flows; k++) {
        struct vsa_flow *f = &s->flows[k];
        uint64_t dp = pk[k] >= f->phys_packets ? pk[k] - f->phys_packets : pk[k];
        uint64_t db = by[k] >= f->phys_bytes ? by[k] - f->phys_bytes : by[k];
        f->packets += dp;
        f->bytes += db;
        f->phys_packets = pk[k];
        f->phys_bytes = by[k];
        if (dp) {
            f->last_hit_ms = now;
        }
    }
    free(pk);
    free(by);
    free(v);
}

/* --- the thread --- */

static void *
vsa_main(void *aux)
{
    struct vswitch_agent *a = aux;
    struct pollfd *fds = NULL;
    while (!atomic_load(&a->stop)) {
        uint64_t now = loop_now_ms();
        if (now >= a->next_view_ms) {
            vsa_refresh(a);
            a->next_view_ms = now + a->poll_ms;
            for (size_t i = 0; i < a->n_sw; i++) {
                if (vsa_serves(a->sw[i])) {   /* the serving instance's timers */
                    vsa_expire(a->sw[i]);
                }
            }
        }
        for (size_t i = 0; i < a->n_sw; i++) {
            struct vsa_switch *s = a->sw[i];
            bool serving = vsa_serves(s);
            if (serving && !s->serving) {
                /* Taken over (or first seen): the flows as stored now. */
                for (size_t k = 0; k < s->n_flows; k++) {
                    vsa_flow_uninit(&s->flows[k]);
                }
                free(s->flows);
                s->flows = NULL;
                s->n_flows = s->cap_flows = 0;
                vsa_load_flows(s);
            }
            s->serving = serving;
            if (!serving) {
                if (s->stream) {
                    vsa_drop(s, "another instance serves the switch now");
                    s->backoff_ms = 0;
                }
                s->published = -1;  /* the serving instance says */
            } else if (s->state == VSA_IDLE && now >= s->retry_ms) {
                vsa_connect(s);
            }
        }
        struct pollfd *nf = realloc(fds, (a->n_sw + 1) * sizeof *nf);
        if (!nf) {
            continue;
        }
        fds = nf;
        fds[a->n_sw] = (struct pollfd) {.fd = a->wake[0], .events = POLLIN};
        for (size_t i = 0; i < a->n_sw; i++) {
            struct vsa_switch *s = a->sw[i];
            fds[i].fd = s->stream ? stream_fd(s->stream) : -1;
            fds[i].events = s->stream ? stream_events(s->stream, (short) (POLLIN
                                                      | (s->out.len ? POLLOUT : 0)))
                                      : 0;
            fds[i].revents = 0;
        }
        int wait = (int) (a->next_view_ms > now ? a->next_view_ms - now : 0);
        for (size_t i = 0; i < a->n_sw; i++) {
            if (a->sw[i]->held) {
                wait = wait < 2 ? wait : 2;     /* a pass ends soon */
            }
        }
        poll(fds, a->n_sw + 1, wait < 100 ? wait : 100);
        vsa_vm_frames(a);
        for (size_t i = 0; i < a->n_sw; i++) {
            if (a->sw[i]->stream) {
                vsa_service(a->sw[i]);
            }
        }
        if (loop_now_ms() >= a->next_stats_ms) {
            for (size_t i = 0; i < a->n_sw; i++) {
                if (vsa_serves(a->sw[i])) {
                    vsa_poll_stats(a->sw[i]);
                }
            }
            a->next_stats_ms = loop_now_ms() + VSWITCH_AGENT_STATS_MS;
        }
        vsa_count_flows(a);
    }
    free(fds);
    return NULL;
}

struct vswitch_agent *
vswitch_agent_start(const struct vswitch_agent_options *o)
{
    struct vswitch_agent *a = calloc(1, sizeof *a);
    if (!a) {
        return NULL;
    }
    a->store = *o->store;
    if (pipe2(a->wake, O_NONBLOCK | O_CLOEXEC)) {
        free(a);
        return NULL;
    }
    pthread_mutex_init(&a->mu, NULL);
    a->poll_ms = o->poll_ms ? o->poll_ms : 500;
    a->max_flows = o->max_flows ? o->max_flows : VSWITCH_AGENT_MAX_FLOWS;
    a->rate = o->rate ? o->rate : VSWITCH_AGENT_RATE;
    a->burst = o->burst ? o->burst : VSWITCH_AGENT_BURST;
    if (pthread_create(&a->thread, NULL, vsa_main, a)) {
        close(a->wake[0]);
        close(a->wake[1]);
        pthread_mutex_destroy(&a->mu);
        free(a);
        return NULL;
    }
    return a;
}

void
vswitch_agent_stop(struct vswitch_agent *a)
{
    if (!a) {
        return;
    }
    atomic_store(&a->stop, true);
    pthread_join(a->thread, NULL);
    for (size_t i = 0; i < a->n_sw; i++) {
        vsa_switch_free(a->sw[i]);
    }
    free(a->sw);
    free(a->buckets);
    for (size_t i = 0; i < a->n_queue; i++) {
        free(a->queue[i].data);
    }
    free(a->queue);
    close(a->wake[0]);
    close(a->wake[1]);
    pthread_mutex_destroy(&a->mu);
    free(a);
}

void
vswitch_agent_flows_free(struct vswitch_agent_flow *flows, size_t n)
{
    for (size_t i = 0; flows && i < n; i++) {
        free(flows[i].match);
        free(flows[i].insts);
    }
    free(flows);
}

void
vswitch_agent_get_stats(const struct vswitch_agent *a, struct vswitch_agent_stats *st)
{
    memset(st, 0, sizeof *st);
    if (!a) {
        return;
    }
    struct vswitch_agent *m = (struct vswitch_agent *) a;
    st->switches = atomic_load(&m->st_switches);
    st->connected = atomic_load(&m->st_connected);
    st->flow_mods = atomic_load(&m->st_flow_mods);
    st->flows = atomic_load(&m->st_flows);
    st->refused = atomic_load(&m->st_refused);
    st->quota_refused = atomic_load(&m->st_quota_refused);
    st->packet_ins = atomic_load(&m->st_packet_ins);
    st->packet_outs = atomic_load(&m->st_packet_outs);
    st->vm_frames = atomic_load(&m->st_vm_frames);
    st->datapath_frames = atomic_load(&m->st_datapath_frames);
    st->vm_delivered = atomic_load(&m->st_vm_delivered);
    st->vm_dropped = atomic_load(&m->st_vm_dropped);
}
