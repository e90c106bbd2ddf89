/* swemu.c: the switch side of a fleet of hosts, for the setup-time
 * benchmark (bench/setup.py, `make bench-setup`).
 *
 * One process plays ovs-vswitchd for H hosts.  Each host has a real
 * ovsdb-server (started by bench/setup.py) whose database skyvisord
 * configures; swemu is that database's other client, doing what vswitchd
 * does with it:
 *   - it monitors Open_vSwitch/Bridge/Port/Interface (ctrl/ovsdb.h) and, for
 *     every bridge referenced from Open_vSwitch.bridges, runs an OpenFlow 1.3
 *     switch endpoint on DIR/<bridge>.mgmt (a unix socket, as vswitchd's
 *     management socket; it exists only while the bridge does) whose
 *     datapath id is the bridge's other_config:datapath-id, written back to
 *     Bridge.datapath_id;
 *   - it assigns an OpenFlow port number to every Interface of the bridge
 *     (ofport_request if given, 65534 for the bridge's own local port, else
 *     the lowest free number), written to Interface.ofport in one
 *     transaction per change of the database, and announces added and
 *     removed ports with port-status messages.
 * The OpenFlow endpoint keeps a real flow table: flow-mod add (replacing
 * an identical table/priority/match), modify, modify-strict, delete and
 * delete-strict with cookie, table and non-strict match filters, checked
 * like Open vSwitch checks them (table range, goto-table forward only,
 * match prerequisites); barrier replies after everything before them is
 * applied (messages are handled in order); multipart flow-stats filtered by
 * table, cookie/mask and match, returning the stored flows split into
 * parts under 64 KiB; port-desc; echo; features; get/set config; role;
 * packet-out is counted and dropped (there is no data plane).
 *
 * Control: `--control PATH` is a unix socket; every connection to it gets
 * one JSON document with each host's bridges (datapath id, connections,
 * ports, VXLAN remote IPs, flow count, counters, and wall-clock times in
 * microseconds: the last change to its ports or flows, the first and last
 * port numbered) and is closed.
 *
 * Usage: swemu --control PATH DIR...   (DIR/db.sock is the host's
 * ovsdb-server; the host is named after DIR's last component).
 *
 * Invariants: one thread; every socket non-blocking; the flow index holds
 * exactly the live flows (dead ones are compacted away before the index
 * fills up with them); a connection's output is flushed before its input is
 * read again, so replies leave in request order. */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <jansson.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "core/packet.h"
#include "ctrl/buf.h"
#include "ctrl/ofmsg.h"
#include "ctrl/ovsdb.h"
#include "ctrl/ovsdb_datum.h"
#include "ctrl/ovsdb_txn.h"

#define N_TABLES 254
#define PART_MAX 60000              /* bytes of flow stats per reply part */
#define LOCAL_OFPORT 65534

struct flow {
    uint8_t table;
    uint16_t priority, idle_timeout, hard_timeout, flags;
    uint64_t cookie;
    struct ofmatch match;
    struct ofinst *insts;           /* owned */
    size_t n_insts;
    uint64_t hash;
    size_t wire_len;                /* bytes in a flow-stats reply */
    long long installed_ms;
    bool live;
};

struct port {
    char uuid[40];                  /* the Interface row */
    char name[17];
    uint32_t ofport;
    uint32_t sent;                  /* ofport last written to the database */
};

struct conn {
    int fd;
    struct buf rx, tx;
    size_t tx_off;
    bool dead;
};

struct bridge {
    char name[64];
    char uuid[40];
    uint64_t dpid;
    char sock[PATH_MAX];
    int lfd;
    struct conn **conns;
    size_t n_conns;
    struct port *ports;
    size_t n_ports;
    struct flow *flows;
    size_t n_flows, n_live, cap_flows;
    uint32_t *index;                /* slots: flow index + 1, 0 empty */
    size_t index_cap;
    uint16_t miss_send_len, cfg_flags;
    unsigned long long flow_mods, barriers, flow_dumps, packet_outs, errors;
    long long last_change_us;
    long long first_port_us, last_port_us;  /* ports numbered, 0 if none */
    size_t vm_ports;                /* ports neither tunnels nor the bridge's own */
    json_t *vxlan;                  /* the tunnels' remote_ip (owned): both as of
                                     * the last sync, so that the control socket's
                                     * answer costs no replica lookups */
    bool seen;
};

struct host {
    char name[64];
    char dir[PATH_MAX];
    struct ovsdb *db;
    uint64_t seqno;
    struct bridge **bridges;
    size_t n_bridges;
    uint64_t *txns;                 /* transactions whose replies are due */
    size_t n_txns;
    unsigned long long txns_sent, txn_errors;
};

static volatile sig_atomic_t stopping;

static void
on_signal(int sig)
{
    (void) sig;
    stopping = 1;
}

static long long
wall_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (long long) ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

static long long
mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long) ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void
xfree_flow(struct flow *f)
{
    ofaction_free_insts(f->insts, f->n_insts);
    f->insts = NULL;
    f->n_insts = 0;
    f->live = false;
}

/* --- flow table --- */

static uint64_t
mix(uint64_t h, uint64_t v)
{
    h ^= v + 0x9e3779b97f4a7c15ull + (h << 6) + (h >> 2);
    return h * 0xff51afd7ed558ccdull;
}

static uint64_t
flow_hash(uint8_t table, uint16_t prio, const struct ofmatch *m)
{
    uint64_t h = mix(table, prio);
    for (int f = 0; f < MF__COUNT; f++) {
        uint64_t v, mask;
        if (ofmatch_get(m, (enum mf) f, &v, &mask)) {
            h = mix(mix(mix(h, (uint64_t) f), v), mask);
        }
    }
    for (size_t i = 0; i < m->opaque_len; i++) {
        h = mix(h, m->opaque[i]);
    }
    return h;
}

static void
index_rebuild(struct bridge *b, size_t need)
{
    size_t cap = 64;
    while (cap < 2 * need + 2) {
        cap *= 2;
    }
    /* Compact away dead flows first, so the index only sees live ones. */
    size_t w = 0;
    for (size_t i = 0; i < b->n_flows; i++) {
        if (b->flows[i].live) {
            b->flows[w++] = b->flows[i];
        }
    }
    b->n_flows = w;
    uint32_t *ix = calloc(cap, sizeof *ix);
    if (!ix) {
        fprintf(stderr, "swemu: out of memory\n");
        exit(1);
    }
    for (size_t i = 0; i < b->n_flows; i++) {
        size_t s = b->flows[i].hash & (cap - 1);
        while (ix[s]) {
            s = (s + 1) & (cap - 1);
        }
        ix[s] = (uint32_t) i + 1;
    }
    free(b->index);
    b->index = ix;
    b->index_cap = cap;
}

/* The live flow with exactly this table, priority and match, or NULL. */
static struct flow *
flow_find(struct bridge *b, uint8_t table, uint16_t prio, const struct ofmatch *m,
          uint64_t h)
{
    if (!b->index_cap) {
        return NULL;
    }
    for (size_t s = h & (b->index_cap - 1); b->index[s]; s = (s + 1) & (b->index_cap - 1)) {
        struct flow *f = &b->flows[b->index[s] - 1];
        if (f->live && f->hash == h && f->table == table && f->priority == prio
            && ofmatch_equal(&f->match, m)) {
            return f;
        }
    }
    return NULL;
}

/* Size of one flow-stats entry on the wire. */
static size_t
flow_wire_len(const struct flow *f)
{
    struct offlow_stats fs = {
        .table_id = f->table, .priority = f->priority, .cookie = f->cookie,
        .match = f->match, .insts = f->insts, .n_insts = f->n_insts,
    };
    struct ofmsg m;
    ofmsg_init(&m, OFPT_MULTIPART_REPLY, 0);
    m.u.mp.mp_type = OFPMP_FLOW;
    m.u.mp.flows = &fs;
    m.u.mp.n = 1;
    struct buf b;
    buf_init(&b);
    size_t n = ofmsg_encode(&m, &b) ? 0 : b.len - 16;
    buf_uninit(&b);
    return n;
}

/* Takes the instructions of 'fm'. */
static void
flow_add(struct bridge *b, struct ofmsg_flow_mod *fm, uint64_t h)
{
    struct flow *f = flow_find(b, fm->table_id, fm->priority, &fm->match, h);
    if (f) {
        ofaction_free_insts(f->insts, f->n_insts);
    } else {
        if (2 * (b->n_flows + 1) + 2 > b->index_cap) {
            index_rebuild(b, b->n_live + 1 > b->n_flows ? b->n_live + 1 : b->n_flows + 1);
        }
        if (b->n_flows == b->cap_flows) {
            size_t cap = b->cap_flows ? 2 * b->cap_flows : 64;
            struct flow *g = realloc(b->flows, cap * sizeof *g);
            if (!g) {
                fprintf(stderr, "swemu: out of memory\n");
                exit(1);
            }
            b->flows = g;
            b->cap_flows = cap;
        }
        f = &b->flows[b->n_flows];
        memset(f, 0, sizeof *f);
        size_t s = h & (b->index_cap - 1);
        while (b->index[s]) {
            s = (s + 1) & (b->index_cap - 1);
        }
        b->index[s] = (uint32_t) ++b->n_flows;
        b->n_live++;
        f->table = fm->table_id;
        f->priority = fm->priority;
        f->match = fm->match;
        f->hash = h;
        f->live = true;
    }
    f->cookie = fm->cookie;
    f->idle_timeout = fm->idle_timeout;
    f->hard_timeout = fm->hard_timeout;
    f->flags = fm->flags;
    f->insts = fm->insts;
    f->n_insts = fm->n_insts;
    fm->insts = NULL;
    fm->n_insts = 0;
    f->installed_ms = mono_ms();
    f->wire_len = flow_wire_len(f);
}

static void
flow_delete(struct bridge *b, struct flow *f)
{
    xfree_flow(f);
    b->n_live--;
}

/* Non-strict match: every field of 'req' is in 'm' at least as precisely
 * and with a value inside the request's. */
static bool
match_covers(const struct ofmatch *req, const struct ofmatch *m)
{
    for (int fi = 0; fi < MF__COUNT; fi++) {
        uint64_t rv, rm, v, mk;
        if (!ofmatch_get(req, (enum mf) fi, &rv, &rm)) {
            continue;
        }
        if (!ofmatch_get(m, (enum mf) fi, &v, &mk) || (mk & rm) != rm
            || (v & rm) != (rv & rm)) {
            return false;
        }
    }
    return true;
}

static bool
cookie_ok(uint64_t cookie, uint64_t want, uint64_t mask)
{
    return (cookie & mask) == (want & mask);
}

static bool
outputs_to(const struct flow *f, uint32_t port)
{
    if (port == OFPP_ANY) {
        return true;
    }
    for (size_t i = 0; i < f->n_insts; i++) {
        const struct ofinst *in = &f->insts[i];
        for (size_t j = 0; j < in->n_actions; j++) {
            if (in->actions[j].type == OFPAT_OUTPUT && in->actions[j].u.output.port == port) {
                return true;
            }
        }
    }
    return false;
}

/* Checks a flow-mod as Open vSwitch would; 0 or the OpenFlow error
 * (type << 16 | code). */
static uint32_t
flow_mod_check(const struct ofmsg_flow_mod *fm)
{
    bool adds = fm->command == OFPFC_ADD || fm->command == OFPFC_MODIFY
                || fm->command == OFPFC_MODIFY_STRICT;
    if (fm->command > OFPFC_DELETE_STRICT) {
        return 5u << 16 | 6;                        /* FLOW_MOD_FAILED BAD_COMMAND */
    }
    if (fm->table_id >= N_TABLES && !(fm->table_id == 0xff && !adds)) {
        return 5u << 16 | 2;                        /* BAD_TABLE_ID */
    }
    uint64_t et = 0, mask;
    bool have_et = ofmatch_get(&fm->match, MF_ETH_TYPE, &et, &mask);
    static const enum mf ip_fields[] = { MF_IPV4_SRC, MF_IPV4_DST, MF_IP_PROTO };
    static const enum mf arp_fields[] = { MF_ARP_OP, MF_ARP_SPA, MF_ARP_TPA, MF_ARP_SHA,
                                          MF_ARP_THA };
    for (size_t i = 0; i < sizeof ip_fields / sizeof *ip_fields; i++) {
        if (ofmatch_get(&fm->match, ip_fields[i], NULL, NULL) && (!have_et || et != ETH_TYPE_IP)) {
            return 4u << 16 | 9;                    /* BAD_MATCH BAD_PREREQ */
        }
    }
    for (size_t i = 0; i < sizeof arp_fields / sizeof *arp_fields; i++) {
        if (ofmatch_get(&fm->match, arp_fields[i], NULL, NULL) && (!have_et || et != ETH_TYPE_ARP)) {
            return 4u << 16 | 9;
        }
    }
    if (adds) {
        for (size_t i = 0; i < fm->n_insts; i++) {
            const struct ofinst *in = &fm->insts[i];
            if (in->type == OFPIT_GOTO_TABLE
                && (in->table_id <= fm->table_id || in->table_id >= N_TABLES)) {
                return 3u << 16 | 2;                /* BAD_INSTRUCTION BAD_TABLE_ID */
            }
            if (in->raw) {
                return 3u << 16 | 0;                /* UNKNOWN_INST */
            }
            for (size_t j = 0; j < in->n_actions; j++) {
                const struct ofaction *a = &in->actions[j];
                /* Open vSwitch's own extensions (experimenter 0x2320,
                 * e.g. the resubmit a migration's copy uses) pass. */
                if (a->raw && !(a->type == 0xffff && a->raw_len >= 8
                                && !memcmp(a->raw + 4, "\x00\x00\x23\x20", 4))) {
                    return 2u << 16 | 0;            /* BAD_ACTION BAD_TYPE */
                }
                if (a->type == OFPAT_OUTPUT && a->u.output.port == 0) {
                    return 2u << 16 | 4;            /* BAD_OUT_PORT */
                }
            }
        }
    }
    return 0;
}

/* Applies a checked flow-mod (its instructions may be taken). */
static void
flow_mod_apply(struct bridge *b, struct ofmsg_flow_mod *fm)
{
    uint64_t h = flow_hash(fm->table_id, fm->priority, &fm->match);
    bool strict = fm->command == OFPFC_MODIFY_STRICT || fm->command == OFPFC_DELETE_STRICT;
    switch (fm->command) {
    case OFPFC_ADD:
        flow_add(b, fm, h);
        break;
    case OFPFC_MODIFY:
    case OFPFC_MODIFY_STRICT:
        for (size_t i = 0; i < b->n_flows; i++) {
            struct flow *f = &b->flows[i];
            if (!f->live || f->table != fm->table_id
                || !cookie_ok(f->cookie, fm->cookie, fm->cookie_mask)) {
                continue;
            }
            if (strict ? !(f->priority == fm->priority && ofmatch_equal(&f->match, &fm->match))
                       : !match_covers(&fm->match, &f->match)) {
                continue;
            }
            struct buf enc;
            buf_init(&enc);
            ofaction_encode_insts(fm->insts, fm->n_insts, &enc);
            struct pull pl;
            pull_init(&pl, enc.data, enc.len);
            struct ofinst *copy = NULL;
            size_t n_copy = 0;
            if (!enc.failed
                && ofaction_decode_insts(&pl, enc.len, &copy, &n_copy) == OFERR_NONE) {
                ofaction_free_insts(f->insts, f->n_insts);
                f->insts = copy;
                f->n_insts = n_copy;
                f->wire_len = flow_wire_len(f);
            }
            buf_uninit(&enc);
        }
        break;
    case OFPFC_DELETE:
    case OFPFC_DELETE_STRICT:
        if (strict) {
            struct flow *f = flow_find(b, fm->table_id, fm->priority, &fm->match, h);
            if (f && cookie_ok(f->cookie, fm->cookie, fm->cookie_mask)
                && outputs_to(f, fm->out_port)) {
                flow_delete(b, f);
            }
            break;
        }
        for (size_t i = 0; i < b->n_flows; i++) {
            struct flow *f = &b->flows[i];
            if (f->live && (fm->table_id == 0xff || f->table == fm->table_id)
                && cookie_ok(f->cookie, fm->cookie, fm->cookie_mask)
                && match_covers(&fm->match, &f->match) && outputs_to(f, fm->out_port)) {
                flow_delete(b, f);
            }
        }
        break;
    }
    b->last_change_us = wall_us();
}

/* --- OpenFlow connections --- */

static void
send_msg(struct conn *c, const struct ofmsg *m)
{
    if (ofmsg_encode(m, &c->tx)) {
        fprintf(stderr, "swemu: cannot encode %s\n", ofmsg_type_name(m->type));
    }
}

static void
send_error(struct conn *c, uint32_t err, const uint8_t *req, size_t len)
{
    struct ofmsg m;
    ofmsg_init(&m, OFPT_ERROR, ofmsg_xid(req));
    m.u.error.type = (uint16_t) (err >> 16);
    m.u.error.code = (uint16_t) err;
    m.u.error.data = (uint8_t *) req;
    m.u.error.len = len < 64 ? len : 64;
    send_msg(c, &m);
}

static void
fill_port(const struct bridge *b, const struct port *p, struct ofport *op)
{
    memset(op, 0, sizeof *op);
    op->port_no = p->ofport == LOCAL_OFPORT ? OFPP_LOCAL : p->ofport;
    uint64_t mac = 0x020000000000ull | ((b->dpid & 0xffff) << 16) | (p->ofport & 0xffff);
    for (int i = 0; i < 6; i++) {
        op->hw_addr[i] = (uint8_t) (mac >> (40 - 8 * i));
    }
    snprintf(op->name, sizeof op->name, "%s", p->name);
    op->state = 4;                                  /* OFPPS_LIVE */
    op->curr = op->advertised = op->supported = 0x2000 | 0x800; /* 10GB_FD | COPPER */
    op->curr_speed = op->max_speed = 10000000;
}

static void
send_flow_part(struct conn *c, uint32_t xid, struct offlow_stats *v, size_t n, bool more)
{
    struct ofmsg m;
    ofmsg_init(&m, OFPT_MULTIPART_REPLY, xid);
    m.u.mp.mp_type = OFPMP_FLOW;
    m.u.mp.flags = more ? OFPMPF_MORE : 0;
    m.u.mp.flows = v;
    m.u.mp.n = n;
    send_msg(c, &m);                /* not uninit: the entries are borrowed */
}

static void
send_flow_stats(struct bridge *b, struct conn *c, const struct ofmsg *req)
{
    const struct ofmp_flow_request *fr = &req->u.mp.req.flow;
    b->flow_dumps++;
    /* One part's worth of entries (each is at least 56 bytes on the wire),
     * reused for every part; every entry used is fully assigned. */
    size_t cap = PART_MAX / 56 + 1;
    struct offlow_stats *part = malloc(cap * sizeof *part);
    if (!part) {
        return;
    }
    long long now = mono_ms();
    size_t n = 0, bytes = 0;
    /* Parts of at most PART_MAX bytes; the last one (possibly empty) has no
     * MORE flag.  Entries borrow the table's matches and instructions. */
    for (size_t i = 0; i < b->n_flows; i++) {
        const struct flow *f = &b->flows[i];
        if (!f->live || (fr->table_id != 0xff && f->table != fr->table_id)
            || !cookie_ok(f->cookie, fr->cookie, fr->cookie_mask)
            || !match_covers(&fr->match, &f->match) || !outputs_to(f, fr->out_port)) {
            continue;
        }
        if (n && (bytes + f->wire_len > PART_MAX || n == cap)) {
            send_flow_part(c, req->xid, part, n, true);
            n = 0;
            bytes = 0;
        }
        long long age = now - f->installed_ms;
        part[n++] = (struct offlow_stats) {
            .table_id = f->table, .priority = f->priority, .cookie = f->cookie,
            .idle_timeout = f->idle_timeout, .hard_timeout = f->hard_timeout,
            .flags = f->flags, .duration_sec = (uint32_t) (age / 1000),
            .duration_nsec = (uint32_t) (age % 1000) * 1000000u,
            .match = f->match, .insts = f->insts, .n_insts = f->n_insts,
        };
        bytes += f->wire_len;
    }
    send_flow_part(c, req->xid, part, n, false);
    free(part);
}

static void
handle_msg(struct bridge *b, struct conn *c, const uint8_t *p, size_t len)
{
    struct ofmsg m;
    enum oferr e = ofmsg_decode(p, len, &m);
    if (e != OFERR_NONE) {
        b->errors++;
        struct buf out;
        buf_init(&out);
        if (p[1] != OFPT_ERROR && !ofmsg_encode_error_reply(e, p, len, &out)) {
            buf_put(&c->tx, out.data, out.len);
        }
        buf_uninit(&out);
        return;
    }
    struct ofmsg r;
    switch (m.type) {
    case OFPT_HELLO:
        if (ofmsg_hello_negotiate(&m) != OFERR_NONE) {
            struct buf out;
            buf_init(&out);
            if (!ofmsg_encode_error_reply(OFERR_HELLO_FAILED_INCOMPATIBLE, p, len, &out)) {
                buf_put(&c->tx, out.data, out.len);
            }
            buf_uninit(&out);
            c->dead = true;
        }
        break;
    case OFPT_ECHO_REQUEST:
        ofmsg_init(&r, OFPT_ECHO_REPLY, m.xid);
        r.u.echo = m.u.echo;
        send_msg(c, &r);
        break;
    case OFPT_ECHO_REPLY:
    case OFPT_ERROR:
        break;
    case OFPT_FEATURES_REQUEST:
        ofmsg_init(&r, OFPT_FEATURES_REPLY, m.xid);
        r.u.features.datapath_id = b->dpid;
        r.u.features.n_buffers = 0;
        r.u.features.n_tables = N_TABLES;
        r.u.features.capabilities = 0x4f;           /* flow/table/port/group/queue stats */
        send_msg(c, &r);
        break;
    case OFPT_SET_CONFIG:
        b->cfg_flags = m.u.config.flags;
        b->miss_send_len = m.u.config.miss_send_len;
        break;
    case OFPT_GET_CONFIG_REQUEST:
        ofmsg_init(&r, OFPT_GET_CONFIG_REPLY, m.xid);
        r.u.config.flags = b->cfg_flags;
        r.u.config.miss_send_len = b->miss_send_len;
        send_msg(c, &r);
        break;
    case OFPT_BARRIER_REQUEST:
        /* Everything before it was applied when it was read. */
        b->barriers++;
        ofmsg_init(&r, OFPT_BARRIER_REPLY, m.xid);
        send_msg(c, &r);
        break;
    case OFPT_ROLE_REQUEST:
        ofmsg_init(&r, OFPT_ROLE_REPLY, m.xid);
        r.u.role = m.u.role;
        if (r.u.role.role == OFPCR_ROLE_NOCHANGE) {
            r.u.role.role = OFPCR_ROLE_EQUAL;
        }
        send_msg(c, &r);
        break;
    case OFPT_PACKET_OUT:
        b->packet_outs++;
        break;
    case OFPT_GROUP_MOD:
        break;                      /* taken (mst+backup's groups), not modelled */
    case OFPT_FLOW_MOD: {
        b->flow_mods++;
        uint32_t err = flow_mod_check(&m.u.flow_mod);
        if (err) {
            b->errors++;
            send_error(c, err, p, len);
        } else {
            flow_mod_apply(b, &m.u.flow_mod);
        }
        break;
    }
    case OFPT_MULTIPART_REQUEST:
        if (m.u.mp.mp_type == OFPMP_FLOW) {
            send_flow_stats(b, c, &m);
        } else if (m.u.mp.mp_type == OFPMP_PORT_DESC) {
            ofmsg_init(&r, OFPT_MULTIPART_REPLY, m.xid);
            r.u.mp.mp_type = OFPMP_PORT_DESC;
            struct ofport *ports = calloc(b->n_ports ? b->n_ports : 1, sizeof *ports);
            if (ports) {
                for (size_t i = 0; i < b->n_ports; i++) {
                    fill_port(b, &b->ports[i], &ports[i]);
                }
                r.u.mp.ports = ports;
                r.u.mp.n = b->n_ports;
                send_msg(c, &r);
                free(ports);
            }
        } else {
            send_error(c, 1u << 16 | 2, p, len);    /* BAD_REQUEST BAD_MULTIPART */
        }
        break;
    default:
        send_error(c, 1u << 16 | 1, p, len);        /* BAD_REQUEST BAD_TYPE */
        break;
    }
    ofmsg_uninit(&m);
}

static void
conn_flush(struct conn *c)
{
    while (c->tx_off < c->tx.len) {
        ssize_t n = send(c->fd, c->tx.data + c->tx_off, c->tx.len - c->tx_off, MSG_NOSIGNAL);
        if (n < 0) {
            if (errno != EAGAIN && errno != EINTR) {
                c->dead = true;
            }
            break;
        }
        c->tx_off += (size_t) n;
    }
    if (c->tx_off == c->tx.len) {
        buf_clear(&c->tx);
        c->tx_off = 0;
    }
    if (c->tx.failed) {
        c->dead = true;
    }
}

static void
conn_read(struct bridge *b, struct conn *c)
{
    uint8_t chunk[65536];
    ssize_t n = recv(c->fd, chunk, sizeof chunk, 0);
    if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR)) {
        c->dead = true;
        return;
    }
    if (n < 0) {
        return;
    }
    buf_put(&c->rx, chunk, (size_t) n);
    size_t off = 0;
    while (!c->dead) {
        long fl = ofmsg_frame(c->rx.data + off, c->rx.len - off);
        if (fl < 0) {
            c->dead = true;
            break;
        }
        if (fl == 0 || (size_t) fl > c->rx.len - off) {
            break;
        }
        handle_msg(b, c, c->rx.data + off, (size_t) fl);
        off += (size_t) fl;
    }
    if (off) {
        memmove(c->rx.data, c->rx.data + off, c->rx.len - off);
        c->rx.len -= off;
    }
    conn_flush(c);
}

static void
conn_free(struct conn *c)
{
    close(c->fd);
    buf_uninit(&c->rx);
    buf_uninit(&c->tx);
    free(c);
}

static void
bridge_accept(struct bridge *b)
{
    int fd = accept4(b->lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (fd < 0) {
        return;
    }
    struct conn *c = calloc(1, sizeof *c);
    struct conn **g = realloc(b->conns, (b->n_conns + 1) * sizeof *g);
    if (!c || !g) {
        free(c);
        free(g == b->conns ? NULL : g);
        close(fd);
        return;
    }
    b->conns = g;
    c->fd = fd;
    buf_init(&c->rx);
    buf_init(&c->tx);
    struct ofmsg hello;
    ofmsg_init(&hello, OFPT_HELLO, 1);
    hello.u.hello.has_bitmap = true;
    hello.u.hello.bitmap = 1u << OFP13_VERSION;
    send_msg(c, &hello);
    conn_flush(c);
    b->conns[b->n_conns++] = c;
}

static void
bridge_port_status(struct bridge *b, const struct port *p, uint8_t reason)
{
    struct ofmsg m;
    ofmsg_init(&m, OFPT_PORT_STATUS, 0);
    m.u.port_status.reason = reason;
    fill_port(b, p, &m.u.port_status.port);
    for (size_t i = 0; i < b->n_conns; i++) {
        send_msg(b->conns[i], &m);
        conn_flush(b->conns[i]);
    }
}

static void
bridge_close_conns(struct bridge *b)
{
    for (size_t i = 0; i < b->n_conns; i++) {
        conn_free(b->conns[i]);
    }
    free(b->conns);
    b->conns = NULL;
    b->n_conns = 0;
}

static void
bridge_free(struct bridge *b)
{
    bridge_close_conns(b);
    if (b->lfd >= 0) {
        close(b->lfd);
        unlink(b->sock);
    }
    for (size_t i = 0; i < b->n_flows; i++) {
        if (b->flows[i].live) {
            xfree_flow(&b->flows[i]);
        }
    }
    free(b->flows);
    free(b->index);
    free(b->ports);
    json_decref(b->vxlan);
    free(b);
}

static int
listen_unix(const char *path)
{
    struct sockaddr_un sa = { .sun_family = AF_UNIX };
    if (strlen(path) >= sizeof sa.sun_path) {
        fprintf(stderr, "swemu: socket path too long: %s\n", path);
        return -1;
    }
    strcpy(sa.sun_path, path);
    unlink(path);
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0 || bind(fd, (struct sockaddr *) &sa, sizeof sa) || listen(fd, 16)) {
        fprintf(stderr, "swemu: %s: %s\n", path, strerror(errno));
        if (fd >= 0) {
            close(fd);
        }
        return -1;
    }
    return fd;
}

/* --- OVSDB: playing ovs-vswitchd --- */

static struct bridge *
host_bridge(struct host *h, const char *name, const char *uuid)
{
    for (size_t i = 0; i < h->n_bridges; i++) {
        if (!strcmp(h->bridges[i]->name, name) && !strcmp(h->bridges[i]->uuid, uuid)) {
            return h->bridges[i];
        }
    }
    struct bridge *b = calloc(1, sizeof *b);
    struct bridge **g = realloc(h->bridges, (h->n_bridges + 1) * sizeof *g);
    if (!b || !g) {
        fprintf(stderr, "swemu: out of memory\n");
        exit(1);
    }
    h->bridges = g;
    snprintf(b->name, sizeof b->name, "%s", name);
    snprintf(b->uuid, sizeof b->uuid, "%s", uuid);
    b->miss_send_len = 128;
    b->lfd = -1;
    b->last_change_us = wall_us();
    h->bridges[h->n_bridges++] = b;
    return b;
}

static uint64_t
derive_dpid(const char *host, const char *bridge)
{
    uint64_t x = 0xcbf29ce484222325ull;
    for (const char *s = host; *s; s++) x = (x ^ (uint8_t) *s) * 0x100000001b3ull;
    for (const char *s = bridge; *s; s++) x = (x ^ (uint8_t) *s) * 0x100000001b3ull;
    return x & 0xffffffffffffull;
}

/* Brings bridge 'b' in line with its Bridge row: datapath id, listener,
 * ports.  Adds what must be written back to 'txn'. */
static void
sync_bridge(struct host *h, struct bridge *b, const json_t *brow,
            const struct ovsdb_replica *rep, struct ovsdb_txn *txn)
{
    const char *hex = ovsdb_datum_map_get(json_object_get(brow, "other_config"),
                                          "datapath-id");
    char *end = NULL;
    uint64_t dpid = hex ? strtoull(hex, &end, 16) : 0;
    if (!hex || *end || strlen(hex) != 16) {
        dpid = derive_dpid(h->name, b->name);
    }
    if (dpid != b->dpid) {
        /* vswitchd reconnects its controllers when the datapath id changes. */
        bridge_close_conns(b);
        b->dpid = dpid;
    }
    char want[17];
    snprintf(want, sizeof want, "%016" PRIx64, dpid);
    const char *have = ovsdb_datum_string(json_object_get(brow, "datapath_id"));
    if (!have || strcmp(have, want)) {
        ovsdb_txn_update(txn, "Bridge", ovsdb_txn_where_uuid(b->uuid),
                         json_pack("{s:s}", "datapath_id", want));
    }
    if (b->lfd < 0) {
        int n = snprintf(b->sock, sizeof b->sock, "%s/%s.mgmt", h->dir, b->name);
        if (n < 0 || (size_t) n >= sizeof b->sock) {
            fprintf(stderr, "swemu: %s: socket path too long\n", b->name);
        } else {
            b->lfd = listen_unix(b->sock);
        }
    }

    /* Interfaces of the bridge's ports. */
    const json_t *pset = json_object_get(brow, "ports");
    size_t np = pset ? ovsdb_datum_n(pset) : 0;
    struct port *now = NULL;
    size_t n_now = 0;
    /* The previous ports by Interface uuid, and the numbers in use. */
    json_t *before = json_object();
    uint8_t *used = calloc(LOCAL_OFPORT + 1, 1);
    if (!before || !used) {
        fprintf(stderr, "swemu: out of memory\n");
        exit(1);
    }
    for (size_t k = 0; k < b->n_ports; k++) {
        json_object_set_new(before, b->ports[k].uuid, json_integer((json_int_t) k));
    }
    for (size_t i = 0; i < np; i++) {
        const char *pu = ovsdb_datum_get_uuid(ovsdb_datum_at(pset, i));
        const json_t *prow = pu ? ovsdb_replica_row(rep, "Port", pu) : NULL;
        const json_t *iset = prow ? json_object_get(prow, "interfaces") : NULL;
        size_t ni = iset ? ovsdb_datum_n(iset) : 0;
        for (size_t j = 0; j < ni; j++) {
            const char *iu = ovsdb_datum_get_uuid(ovsdb_datum_at(iset, j));
            const json_t *irow = iu ? ovsdb_replica_row(rep, "Interface", iu) : NULL;
            const char *name = irow ? json_string_value(json_object_get(irow, "name")) : NULL;
            if (!name) {
                continue;
            }
            struct port *g = realloc(now, (n_now + 1) * sizeof *g);
            if (!g) {
                fprintf(stderr, "swemu: out of memory\n");
                exit(1);
            }
            now = g;
            struct port *p = &now[n_now++];
            memset(p, 0, sizeof *p);
            snprintf(p->uuid, sizeof p->uuid, "%s", iu);
            snprintf(p->name, sizeof p->name, "%s", name);
            json_t *k = json_object_get(before, iu);
            if (k) {
                const struct port *old = &b->ports[json_integer_value(k)];
                p->ofport = old->ofport;
                p->sent = old->sent;
                used[p->ofport <= LOCAL_OFPORT ? p->ofport : 0] = 1;
                json_object_set_new(before, iu, json_integer(-1));     /* still here */
            }
        }
    }
    /* Removed ports: those of before not seen again. */
    bool changed = false;
    const char *key;
    json_t *val;
    json_object_foreach(before, key, val) {
        if (json_integer_value(val) >= 0) {
            bridge_port_status(b, &b->ports[json_integer_value(val)], OFPPR_DELETE);
            changed = true;
        }
    }
    json_decref(before);
    /* Numbers for the new ones: first the local port and requests, then
     * the lowest free number, as vswitchd does. */
    free(b->ports);
    b->ports = now;
    b->n_ports = n_now;
    uint32_t lowest = 1;                            /* no free number below it */
    for (int round = 0; round < 2; round++) {
        for (size_t i = 0; i < n_now; i++) {
            struct port *p = &now[i];
            if (p->ofport) {
                continue;
            }
            const json_t *irow = ovsdb_replica_row(rep, "Interface", p->uuid);
            long long req = 0, cur = 0;
            ovsdb_datum_integer(json_object_get(irow, "ofport_request"), &req);
            ovsdb_datum_integer(json_object_get(irow, "ofport"), &cur);
            uint32_t n = 0;
            if (round == 0) {
                if (!strcmp(p->name, b->name)) {
                    n = LOCAL_OFPORT;
                } else if (req > 0 && req < 65280 && !used[req]) {
                    n = (uint32_t) req;
                } else if (cur > 0 && cur < 65280 && !used[cur]) {
                    n = (uint32_t) cur;             /* adopt a number already given */
                }
            } else {
                while (lowest < 65280 && used[lowest]) {
                    lowest++;
                }
                n = lowest < 65280 ? lowest : 0;
            }
            if (!n) {
                continue;
            }
            used[n] = 1;
            p->ofport = n;
            changed = true;
            b->last_port_us = wall_us();
            if (!b->first_port_us) {
                b->first_port_us = b->last_port_us;
            }
            bridge_port_status(b, p, OFPPR_ADD);
        }
    }
    json_t *vx = json_array();
    size_t vm_ports = 0;
    for (size_t i = 0; i < n_now; i++) {
        const json_t *irow = ovsdb_replica_row(rep, "Interface", now[i].uuid);
        const char *type = irow ? json_string_value(json_object_get(irow, "type")) : NULL;
        if (type && !strcmp(type, "vxlan")) {
            const char *rip = ovsdb_datum_map_get(json_object_get(irow, "options"),
                                                  "remote_ip");
            json_array_append_new(vx, json_string(rip ? rip : ""));
        } else if (strcmp(now[i].name, b->name)) {
            vm_ports++;
        }
        long long cur = 0;
        if ((!ovsdb_datum_integer(json_object_get(irow, "ofport"), &cur)
             || cur != (long long) now[i].ofport) && now[i].sent != now[i].ofport) {
            now[i].sent = now[i].ofport;
            ovsdb_txn_update(txn, "Interface", ovsdb_txn_where_uuid(now[i].uuid),
                             json_pack("{s:I}", "ofport", (json_int_t) now[i].ofport));
        }
    }
    free(used);
    json_decref(b->vxlan);
    b->vxlan = vx;
    b->vm_ports = vm_ports;
    if (changed) {
        b->last_change_us = wall_us();
    }
}

static void
sync_host(struct host *h)
{
    const struct ovsdb_replica *rep = ovsdb_get_replica(h->db);
    if (rep->seqno == h->seqno) {
        return;
    }
    h->seqno = rep->seqno;
    for (size_t i = 0; i < h->n_bridges; i++) {
        h->bridges[i]->seen = false;
    }
    struct ovsdb_txn *txn = ovsdb_txn_create();
    if (!txn) {
        return;
    }
    const json_t *ovs = ovsdb_replica_first(rep, "Open_vSwitch", NULL);
    const json_t *bset = ovs ? json_object_get(ovs, "bridges") : NULL;
    size_t nb = bset ? ovsdb_datum_n(bset) : 0;
    /* Bridges that went away first (a re-created bridge reuses the socket
     * path), then the current ones. */
    for (size_t i = 0; i < nb; i++) {
        const char *bu = ovsdb_datum_get_uuid(ovsdb_datum_at(bset, i));
        const json_t *brow = bu ? ovsdb_replica_row(rep, "Bridge", bu) : NULL;
        const char *name = brow ? json_string_value(json_object_get(brow, "name")) : NULL;
        for (size_t j = 0; name && j < h->n_bridges; j++) {
            if (!strcmp(h->bridges[j]->name, name) && !strcmp(h->bridges[j]->uuid, bu)) {
                h->bridges[j]->seen = true;
            }
        }
    }
    size_t w = 0;
    for (size_t i = 0; i < h->n_bridges; i++) {
        if (h->bridges[i]->seen) {
            h->bridges[w++] = h->bridges[i];
        } else {
            bridge_free(h->bridges[i]);
        }
    }
    h->n_bridges = w;
    for (size_t i = 0; i < nb; i++) {
        const char *bu = ovsdb_datum_get_uuid(ovsdb_datum_at(bset, i));
        const json_t *brow = bu ? ovsdb_replica_row(rep, "Bridge", bu) : NULL;
        const char *name = brow ? json_string_value(json_object_get(brow, "name")) : NULL;
        if (name) {
            sync_bridge(h, host_bridge(h, name, bu), brow, rep, txn);
        }
    }
    if (!ovsdb_txn_n_ops(txn)) {
        ovsdb_txn_destroy(txn);
        return;
    }
    uint64_t id;
    if (ovsdb_transact(h->db, txn, &id)) {
        h->seqno = 0;                               /* retry at the next run */
        return;
    }
    h->txns_sent++;
    uint64_t *g = realloc(h->txns, (h->n_txns + 1) * sizeof *g);
    if (g) {
        h->txns = g;
        h->txns[h->n_txns++] = id;
    }
}

static void
collect_replies(struct host *h)
{
    size_t w = 0;
    for (size_t i = 0; i < h->n_txns; i++) {
        json_t *res = NULL;
        char *err = NULL;
        int rc = ovsdb_poll_reply(h->db, h->txns[i], &res, &err);
        if (rc == EAGAIN) {
            h->txns[w++] = h->txns[i];
            continue;
        }
        char *why = NULL;
        if (rc || ovsdb_txn_check_result(res, 1, &why)) {
            /* A lost race (a row deleted meanwhile): the next update
             * recomputes everything. */
            h->txn_errors++;
            h->seqno = 0;
            for (size_t j = 0; j < h->n_bridges; j++) {
                for (size_t k = 0; k < h->bridges[j]->n_ports; k++) {
                    h->bridges[j]->ports[k].sent = 0;
                }
            }
        }
        free(why);
        free(err);
        json_decref(res);
    }
    h->n_txns = w;
}

/* --- control socket --- */

static void
write_stats(int fd, struct host *hosts, size_t n)
{
    json_t *hs = json_array();
    for (size_t i = 0; i < n; i++) {
        struct host *h = &hosts[i];
        json_t *bs = json_array();
        for (size_t j = 0; j < h->n_bridges; j++) {
            struct bridge *b = h->bridges[j];
            json_t *vx = b->vxlan ? json_incref(b->vxlan) : json_array();
            char dpid[17];
            snprintf(dpid, sizeof dpid, "%016" PRIx64, b->dpid);
            json_array_append_new(bs, json_pack(
                "{s:s, s:s, s:I, s:I, s:I, s:o, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I}",
                "name", b->name, "dpid", dpid, "connections", (json_int_t) b->n_conns,
                "ports", (json_int_t) b->n_ports, "vm_ports", (json_int_t) b->vm_ports,
                "vxlan", vx, "flows", (json_int_t) b->n_live,
                "flow_mods", (json_int_t) b->flow_mods, "barriers", (json_int_t) b->barriers,
                "flow_dumps", (json_int_t) b->flow_dumps,
                "packet_outs", (json_int_t) b->packet_outs, "errors", (json_int_t) b->errors,
                "last_change_us", (json_int_t) b->last_change_us,
                "first_port_us", (json_int_t) b->first_port_us,
                "last_port_us", (json_int_t) b->last_port_us));
        }
        json_array_append_new(hs, json_pack("{s:s, s:b, s:I, s:I, s:o}", "name", h->name,
                                            "synced", ovsdb_is_synced(h->db),
                                            "txns", (json_int_t) h->txns_sent,
                                            "txn_errors", (json_int_t) h->txn_errors,
                                            "bridges", bs));
    }
    json_t *doc = json_pack("{s:o, s:I}", "hosts", hs, "now_us", (json_int_t) wall_us());
    char *s = json_dumps(doc, JSON_COMPACT);
    json_decref(doc);
    int fl = fcntl(fd, F_GETFL);
    fcntl(fd, F_SETFL, fl & ~O_NONBLOCK);
    for (size_t off = 0, len = s ? strlen(s) : 0; off < len;) {
        ssize_t k = write(fd, s + off, len - off);
        if (k <= 0) {
            break;
        }
        off += (size_t) k;
    }
    free(s);
    close(fd);
}

/* --- main loop --- */

static void
usage(void)
{
    fprintf(stderr, "usage: swemu --control PATH DIR...\n"
            "  plays ovs-vswitchd for each host DIR (DIR/db.sock: its ovsdb-server)\n");
    exit(2);
}

int
main(int argc, char **argv)
{
    const char *control = NULL;
    int first = 1;
    if (argc >= 3 && !strcmp(argv[1], "--control")) {
        control = argv[2];
        first = 3;
    }
    if (!control || first >= argc) {
        usage();
    }
    size_t n_hosts = (size_t) (argc - first);
    struct host *hosts = calloc(n_hosts, sizeof *hosts);
    if (!hosts) {
        return 1;
    }
    for (size_t i = 0; i < n_hosts; i++) {
        struct host *h = &hosts[i];
        const char *dir = argv[first + (int) i];
        const char *base = strrchr(dir, '/');
        snprintf(h->dir, sizeof h->dir, "%s", dir);
        snprintf(h->name, sizeof h->name, "%s", base ? base + 1 : dir);
        char target[PATH_MAX + 16];
        snprintf(target, sizeof target, "unix:%s/db.sock", dir);
        h->db = ovsdb_create(target, "Open_vSwitch");
        if (!h->db) {
            return 1;
        }
    }
    int cfd = listen_unix(control);
    if (cfd < 0) {
        return 1;
    }
    signal(SIGTERM, on_signal);
    signal(SIGINT, on_signal);
    signal(SIGPIPE, SIG_IGN);

    struct pollfd *pfd = NULL;
    size_t cap = 0;
    while (!stopping) {
        size_t need = 1 + n_hosts;
        for (size_t i = 0; i < n_hosts; i++) {
            for (size_t j = 0; j < hosts[i].n_bridges; j++) {
                need += 1 + hosts[i].bridges[j]->n_conns;
            }
        }
        if (need > cap) {
            cap = 2 * need;
            pfd = realloc(pfd, cap * sizeof *pfd);
            if (!pfd) {
                return 1;
            }
        }
        size_t n = 0;
        int timeout = 1000;
        pfd[n++] = (struct pollfd) { .fd = cfd, .events = POLLIN };
        for (size_t i = 0; i < n_hosts; i++) {
            struct host *h = &hosts[i];
            pfd[n++] = (struct pollfd) { .fd = ovsdb_fd(h->db), .events = ovsdb_events(h->db) };
            int t = ovsdb_timeout_ms(h->db);
            if (t >= 0 && t < timeout) {
                timeout = t;
            }
            for (size_t j = 0; j < h->n_bridges; j++) {
                struct bridge *b = h->bridges[j];
                pfd[n++] = (struct pollfd) { .fd = b->lfd, .events = POLLIN };
                for (size_t k = 0; k < b->n_conns; k++) {
                    struct conn *c = b->conns[k];
                    pfd[n++] = (struct pollfd) {
                        .fd = c->fd,
                        .events = (short) (c->tx.len > c->tx_off ? POLLOUT : POLLIN),
                    };
                }
            }
        }
        if (poll(pfd, n, timeout) < 0 && errno != EINTR) {
            perror("swemu: poll");
            return 1;
        }
        size_t k = 0;
        if (pfd[k++].revents & POLLIN) {
            int fd = accept4(cfd, NULL, NULL, SOCK_CLOEXEC);
            if (fd >= 0) {
                write_stats(fd, hosts, n_hosts);
            }
        }
        /* Sockets first (the pollfd layout is that of before any sync). */
        for (size_t i = 0; i < n_hosts; i++) {
            struct host *h = &hosts[i];
            k++;                                    /* the OVSDB session */
            for (size_t j = 0; j < h->n_bridges; j++) {
                struct bridge *b = h->bridges[j];
                short lre = pfd[k++].revents;
                size_t nc = b->n_conns;
                for (size_t q = 0; q < nc; q++) {
                    struct conn *c = b->conns[q];
                    short re = pfd[k++].revents;
                    if (re & POLLOUT) {
                        conn_flush(c);
                    }
                    if (re & (POLLIN | POLLHUP | POLLERR)) {
                        conn_read(b, c);
                    }
                }
                size_t w = 0;
                for (size_t q = 0; q < b->n_conns; q++) {
                    if (b->conns[q]->dead) {
                        conn_free(b->conns[q]);
                    } else {
                        b->conns[w++] = b->conns[q];
                    }
                }
                b->n_conns = w;
                if (lre & POLLIN) {
                    bridge_accept(b);
                }
            }
        }
        for (size_t i = 0; i < n_hosts; i++) {
            struct host *h = &hosts[i];
            ovsdb_run(h->db);
            collect_replies(h);
            if (ovsdb_is_synced(h->db)) {
                sync_host(h);
            }
        }
    }
    for (size_t i = 0; i < n_hosts; i++) {
        for (size_t j = 0; j < hosts[i].n_bridges; j++) {
            bridge_free(hosts[i].bridges[j]);
        }
        free(hosts[i].bridges);
        free(hosts[i].txns);
        ovsdb_destroy(hosts[i].db);
    }
    free(hosts);
    free(pfd);
    close(cfd);
    unlink(control);
    return 0;
}
