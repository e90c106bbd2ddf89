/* reconciler.c: desired state -> OVSDB and OpenFlow, statuses back.
 * The design is in reconciler.h.
 *
 * Snapshot publication uses liburcu's bulletproof flavour (urcu-bp), so
 * reader threads (the controller's loop, the HTTP server's pool) need no
 * registration: a reader holds urcu_bp_read_lock() while it uses the
 * model, and the reconciler frees a replaced model only after
 * urcu_bp_synchronize_rcu().  The reconciler thread alone writes the
 * status fields of the current model (nm_obj.state/detail); readers never
 * look at them. */
#include "ctrl/reconciler.h"

#include <errno.h>
#include <inttypes.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>
#include <urcu/urcu-bp.h>

#include "core/certname.h"
#include "core/reactive.h"
#include "core/vlog.h"
#include "ctrl/ofctl.h"
#include "ctrl/ofmsg.h"
#include "ctrl/ovsdb.h"
#include "ctrl/ovsdb_datum.h"
#include "ctrl/ovsdb_replica.h"
#include "ctrl/ovsdb_txn.h"
#include "ctrl/ovsdb_vswitch.h"
#include "ctrl/topology.h"

#define MOD "reconciler"
#define OVSDB_TIMEOUT_MS 5000
#define OF_TIMEOUT_MS 10000
#define SETTLE_MS 1000              /* settle_ports(): the wait for port numbers */
/* A session to a newly named host (OVSDB, OpenFlow) that has not come up
 * yet leaves the host pending, not in error, for this long: a bridge that
 * was just created needs a moment before its management socket answers.
 * A session that was up and went down is an error at once. */
#define CONNECT_GRACE_US 10000000LL
#define LLDP_MAC 0x0180c200000eull

struct snapshot {
    struct netmodel m;
};

struct agent {
    char id[40];
    char name[128];                 /* the host's, as its OVSDB peer name */
    char ovsdb_target[256];
    struct ovsdb *db;
    uint64_t seqno;                 /* replica seqno seen by the last pass */
    char of_target[256];            /* what we ofctl_connect()ed, or "" */
    uint64_t dpid;
    char *err;                      /* this pass's host error, owned */
    const char *note;               /* this pass's pending detail, static */
    unsigned int sent;              /* OVSDB transactions this pass sent */
    long long db_since, of_since;   /* us: sessions (re)named at */
    bool db_ever_up, of_ever_up;    /* came up since then */
    bool realized;
    bool seen;
};

struct lldp_link {
    uint64_t a_dpid, b_dpid;
    uint32_t a_port, b_port;
};

/* The last OpenFlow connection refused for a datapath id (switch_admit),
 * until a connection for it is admitted. */
struct of_refusal {
    uint64_t dpid;
    char why[256];
};

struct reconciler {
    struct recon_store store;
    void *aux;
    struct recon_options opt;
    struct ofctl *ctl;
    pthread_t thread;
    int wake_fd;
    atomic_bool stop;
    atomic_bool need_load;
    atomic_llong reactive_woke_us;  /* last reactive_wake() that woke us */

    struct snapshot *snap;          /* RCU-protected */

    struct agent *agents;           /* reconciler thread only */
    size_t n_agents;
    struct buf scratch[2];          /* reconciler thread only: insts_equal() */

    pthread_mutex_t mu;             /* protects what follows */
    uint64_t *up;                   /* connected datapath ids */
    size_t n_up, cap_up;
    struct recon_stats stats;
    struct lldp_link *links;
    size_t n_links;
    struct of_refusal *refusals;
    size_t n_refusals;
};

static long long
now_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long) ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

static void
wake(struct reconciler *r)
{
    uint64_t one = 1;
    ssize_t n = write(r->wake_fd, &one, sizeof one);
    (void) n;
}

void
reconciler_kick(struct reconciler *r)
{
    atomic_store(&r->need_load, true);
    wake(r);
}

static bool
is_up(struct reconciler *r, uint64_t dpid)
{
    bool up = false;
    pthread_mutex_lock(&r->mu);
    for (size_t i = 0; i < r->n_up && !up; i++) {
        up = r->up[i] == dpid;
    }
    pthread_mutex_unlock(&r->mu);
    return up;
}

/* --- controller callbacks (controller thread) --- */

/* Records (why non-NULL) or forgets the refusal of 'dpid'. */
static void
note_refusal(struct reconciler *r, uint64_t dpid, const char *why)
{
    pthread_mutex_lock(&r->mu);
    size_t i = 0;
    while (i < r->n_refusals && r->refusals[i].dpid != dpid) {
        i++;
    }
    if (!why) {
        if (i < r->n_refusals) {
            r->refusals[i] = r->refusals[--r->n_refusals];
        }
    } else {
        if (i == r->n_refusals) {
            struct of_refusal *g = realloc(r->refusals, (i + 1) * sizeof *g);
            if (g) {
                r->refusals = g;
                r->n_refusals++;
                r->refusals[i].dpid = dpid;
            }
        }
        if (i < r->n_refusals) {
            snprintf(r->refusals[i].why, sizeof r->refusals[i].why, "%s", why);
        }
    }
    pthread_mutex_unlock(&r->mu);
}

/* Copies the refusal of 'dpid' into 'buf'; false if there is none. */
static bool
get_refusal(struct reconciler *r, uint64_t dpid, char *buf, size_t size)
{
    bool found = false;
    pthread_mutex_lock(&r->mu);
    for (size_t i = 0; i < r->n_refusals && !found; i++) {
        if (r->refusals[i].dpid == dpid) {
            snprintf(buf, size, "%s", r->refusals[i].why);
            found = true;
        }
    }
    pthread_mutex_unlock(&r->mu);
    return found;
}

/* A switch over TLS must hold a certificate that names the host whose
 * datapath id it reported (core/certname.h); plain connections are
 * admitted as before (their trust is the network's). */
static bool
cb_switch_admit(void *aux, const struct ofctl_switch_info *info, char *why,
                size_t len)
{
    struct reconciler *r = aux;
    if (!info->tls) {
        return true;
    }
    bool ok = false;
    urcu_bp_read_lock();
    struct snapshot *s = rcu_dereference(r->snap);
    int h = s ? netmodel_host_by_dpid(&s->m, info->dpid) : -1;
    if (h < 0) {
        snprintf(why, len, "no host has datapath id %016" PRIx64, info->dpid);
    } else if (!(ok = certname_names_host(info->peer_names, info->n_peer_names,
                                          s->m.hosts[h].o.name))) {
        certname_refusal(info->peer_names, info->n_peer_names, s->m.hosts[h].o.name,
                         why, len);
    }
    urcu_bp_read_unlock();
    note_refusal(r, info->dpid, ok ? NULL : why);
    if (!ok) {
        wake(r);                    /* the host's status says why */
    }
    return ok;
}

static void
cb_switch_up(void *aux, const struct ofctl_switch_info *info)
{
    struct reconciler *r = aux;
    pthread_mutex_lock(&r->mu);
    bool known = false;
    for (size_t i = 0; i < r->n_up; i++) {
        known |= r->up[i] == info->dpid;
    }
    if (!known) {
        if (r->n_up == r->cap_up) {
            size_t cap = r->cap_up ? 2 * r->cap_up : 16;
            uint64_t *g = realloc(r->up, cap * sizeof *g);
            if (g) {
                r->up = g;
                r->cap_up = cap;
            }
        }
        if (r->n_up < r->cap_up) {
            r->up[r->n_up++] = info->dpid;
        }
    }
    pthread_mutex_unlock(&r->mu);
    wake(r);
}

static void
cb_switch_down(void *aux, uint64_t dpid)
{
    struct reconciler *r = aux;
    pthread_mutex_lock(&r->mu);
    for (size_t i = 0; i < r->n_up; i++) {
        if (r->up[i] == dpid) {
            r->up[i] = r->up[--r->n_up];
            break;
        }
    }
    size_t w = 0;
    for (size_t i = 0; i < r->n_links; i++) {
        if (r->links[i].a_dpid != dpid && r->links[i].b_dpid != dpid) {
            r->links[w++] = r->links[i];
        }
    }
    r->n_links = w;
    pthread_mutex_unlock(&r->mu);
    wake(r);
}

static void
put_mac(uint8_t *p, uint64_t mac)
{
    for (int i = 0; i < 6; i++) {
        p[i] = (uint8_t) (mac >> (40 - 8 * i));
    }
}

static uint64_t
get_mac(const uint8_t *p)
{
    uint64_t v = 0;
    for (int i = 0; i < 6; i++) {
        v = v << 8 | p[i];
    }
    return v;
}

static uint32_t
get_u32(const uint8_t *p)
{
    return (uint32_t) p[0] << 24 | (uint32_t) p[1] << 16 | (uint32_t) p[2] << 8 | p[3];
}

static void
put_u32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t) (v >> 24);
    p[1] = (uint8_t) (v >> 16);
    p[2] = (uint8_t) (v >> 8);
    p[3] = (uint8_t) v;
}

/* Sends 'frame' out of 'port' of switch 'dpid'. */
static void
packet_out(struct reconciler *r, uint64_t dpid, uint32_t port, uint8_t *frame,
           size_t len)
{
    struct ofaction out = { .type = OFPAT_OUTPUT };
    out.u.output.port = port;
    struct ofmsg msg;
    ofmsg_init(&msg, OFPT_PACKET_OUT, 0);
    msg.u.packet_out.buffer_id = OFP_NO_BUFFER;
    msg.u.packet_out.in_port = OFPP_CONTROLLER;
    msg.u.packet_out.actions = &out;
    msg.u.packet_out.n_actions = 1;
    msg.u.packet_out.data = frame;
    msg.u.packet_out.len = len;
    ofctl_send(r->ctl, dpid, &msg);
}

/* ARP request from a VM: answer for a member of its component.  The
 * sender is the VM whose port-security flow sent it up: its cookie names
 * it (two tenants' VMs on one host may share MAC and IP). */
static void
handle_arp(struct reconciler *r, const struct netmodel *m, int h, uint64_t dpid,
           uint32_t in_port, uint64_t cookie, const uint8_t *p, size_t len,
           size_t l2)
{
    if (len < l2 + 28) {
        return;
    }
    const uint8_t *a = p + l2;
    if (a[6] != 0 || a[7] != 1) {                   /* not a request */
        return;
    }
    uint64_t sha = get_mac(a + 8);
    uint32_t spa = get_u32(a + 14), tpa = get_u32(a + 24);
    int s = -1;
    for (const int *v = m->vms_on_host[h]; *v >= 0; v++) {
        if (m->vms[*v].mac == sha && m->vms[*v].ip == spa
            && netmodel_vm_cookie(m, *v) == cookie) {
            s = *v;
            break;
        }
    }
    if (s < 0 || m->vm_comp[s] < 0) {
        return;
    }
    int d = -1;
    for (const int *v = m->comp_vms[m->vm_comp[s]]; *v >= 0; v++) {
        if (*v != s && m->vms[*v].ip == tpa) {
            d = *v;
            break;
        }
    }
    if (d < 0) {
        return;
    }
    uint8_t reply[64] = {0};
    memcpy(reply, p, l2);                           /* keeps a VLAN tag */
    put_mac(reply, sha);
    put_mac(reply + 6, m->vms[d].mac);
    uint8_t *ra = reply + l2;
    memcpy(ra, a, 6);                               /* htype, ptype, hlen, plen */
    ra[6] = 0;
    ra[7] = 2;
    put_mac(ra + 8, m->vms[d].mac);
    put_u32(ra + 14, m->vms[d].ip);
    put_mac(ra + 18, sha);
    put_u32(ra + 24, spa);
    size_t n = l2 + 28 < 60 ? 60 : l2 + 28;
    packet_out(r, dpid, in_port, reply, n);
    pthread_mutex_lock(&r->mu);
    r->stats.arp_replies++;
    pthread_mutex_unlock(&r->mu);
}

/* LLDP probe format: chassis id "dpid:<16 hex>", port id "<port>". */
static size_t
lldp_build(uint8_t *f, size_t cap, uint64_t dpid, uint32_t port)
{
    char chassis[32], portid[16];
    int nc = snprintf(chassis, sizeof chassis, "dpid:%016" PRIx64, dpid);
    int np = snprintf(portid, sizeof portid, "%" PRIu32, port);
    size_t n = 0;
    if (cap < 14 + 2 + 1 + (size_t) nc + 2 + 1 + (size_t) np + 4 + 2) {
        return 0;
    }
    put_mac(f, LLDP_MAC);
    put_mac(f + 6, 0x5a0000000000ull | (dpid & 0xffffffffffull));
    f[12] = 0x88;
    f[13] = 0xcc;
    n = 14;
    f[n++] = 1 << 1;                                /* chassis id, len */
    f[n++] = (uint8_t) (nc + 1);
    f[n++] = 7;                                     /* locally assigned */
    memcpy(f + n, chassis, (size_t) nc);
    n += (size_t) nc;
    f[n++] = 2 << 1;                                /* port id */
    f[n++] = (uint8_t) (np + 1);
    f[n++] = 7;
    memcpy(f + n, portid, (size_t) np);
    n += (size_t) np;
    f[n++] = 3 << 1;                                /* TTL */
    f[n++] = 2;
    f[n++] = 0;
    f[n++] = 120;
    f[n++] = 0;                                     /* end */
    f[n++] = 0;
    while (n < 60) {
        f[n++] = 0;
    }
    return n;
}

static void
handle_lldp(struct reconciler *r, uint64_t dpid, uint32_t in_port,
            const uint8_t *p, size_t len)
{
    uint64_t peer = 0;
    uint32_t peer_port = 0;
    bool have_c = false, have_p = false;
    size_t off = 14;
    while (off + 2 <= len) {
        unsigned type = p[off] >> 1, tl = (unsigned) (p[off] & 1) << 8 | p[off + 1];
        off += 2;
        if (type == 0 || off + tl > len) {
            break;
        }
        char s[40];
        if (tl >= 2 && tl - 1 < sizeof s && p[off] == 7) {
            memcpy(s, p + off + 1, tl - 1);
            s[tl - 1] = 0;
            if (type == 1 && !strncmp(s, "dpid:", 5)) {
                char *end;
                peer = strtoull(s + 5, &end, 16);
                have_c = !*end;
            } else if (type == 2) {
                char *end;
                peer_port = (uint32_t) strtoul(s, &end, 10);
                have_p = !*end;
            }
        }
        off += tl;
    }
    if (!have_c || !have_p) {
        return;
    }
    pthread_mutex_lock(&r->mu);
    bool known = false;
    for (size_t i = 0; i < r->n_links && !known; i++) {
        known = r->links[i].a_dpid == peer && r->links[i].a_port == peer_port
                && r->links[i].b_dpid == dpid && r->links[i].b_port == in_port;
    }
    if (!known) {
        struct lldp_link *g = realloc(r->links, (r->n_links + 1) * sizeof *g);
        if (g) {
            r->links = g;
            r->links[r->n_links++] = (struct lldp_link) {peer, dpid, peer_port, in_port};
            r->stats.lldp_links++;
        }
    }
    pthread_mutex_unlock(&r->mu);
}

/* The reactive path (core/reactive.h): a VM's frame that missed in the
 * tenant table is forwarded now by a packet-out decided from the snapshot,
 * and a pass is asked for so the proactive flows follow.  Port numbers
 * come from the connection's port list (ofctl_switch_ports, loop thread). */
#define REACTIVE_WAKE_US 100000

struct reactive_ports {
    const struct ofport *ports;     /* the switch's, borrowed */
    size_t n;
};

static uint32_t
reactive_ofport(void *aux, int h, const char *name)
{
    const struct reactive_ports *rp = aux;
    (void) h;
    for (size_t i = 0; i < rp->n; i++) {
        if (!strcmp(rp->ports[i].name, name)) {
            return rp->ports[i].port_no;
        }
    }
    return 0;
}

/* Asks for a pass, at most once per REACTIVE_WAKE_US: a stream of misses
 * (a VM sending to another tenant's MAC, say) must not keep the reconciler
 * in back-to-back passes. */
static void
reactive_wake(struct reconciler *r)
{
    long long now = now_us();
    long long prev = atomic_load_explicit(&r->reactive_woke_us, memory_order_relaxed);
    if (now - prev >= REACTIVE_WAKE_US
        && atomic_compare_exchange_strong(&r->reactive_woke_us, &prev, now)) {
        wake(r);
    }
}

/* netmodel_host_by_dpid() with a small memo per thread (the packet-in
 * handler runs on the controller's loop thread), so the cost does not grow
 * with the number of hosts.  An entry is only a hint, checked against the model
 * at hand, so a replaced snapshot cannot mislead it. */
static int
reactive_host(const struct netmodel *m, uint64_t dpid)
{
    static _Thread_local int memo[256];     /* host index + 1, 0: none */
    unsigned int slot = (unsigned int) ((dpid * 0x9e3779b97f4a7c15ull) >> 56);
    int h = memo[slot] - 1;
    if (h >= 0 && (size_t) h < m->n_hosts && m->hosts[h].dpid == dpid) {
        return h;
    }
    h = netmodel_host_by_dpid(m, dpid);
    memo[slot] = h + 1;
    return h;
}

static void
handle_reactive(struct reconciler *r, uint64_t dpid, uint32_t in_port,
                const struct ofmsg_packet_in *pi)
{
    struct reactive_pkt pkt = {
        .table_id = pi->table_id, .reason = pi->reason, .cookie = pi->cookie,
        .in_port = in_port,
    };
    uint64_t meta = 0;
    if (ofmatch_get(&pi->match, MF_METADATA, &meta, NULL)) {
        pkt.metadata = meta;
    }
    if (reactive_parse(pi->data, pi->len, &pkt)) {
        return;
    }
    struct reactive_result res = { .verdict = REACTIVE_NOT_MINE };
    struct reactive_ports rp;
    rp.ports = ofctl_switch_ports(r->ctl, dpid, &rp.n);
    const char *host = "?";
    urcu_bp_read_lock();
    struct snapshot *s = rcu_dereference(r->snap);
    int h = s ? reactive_host(&s->m, dpid) : -1;
    if (h >= 0 && !reactive_decide(&s->m, h, reactive_ofport, &rp, &pkt, &res)
        && res.verdict == REACTIVE_FORWARD) {
        struct ofaction acts[16], *a = res.n_acts <= 16 ? acts
                                       : calloc(res.n_acts, sizeof *a);
        if (a) {
            for (size_t i = 0; i < res.n_acts; i++) {
                memset(&a[i], 0, sizeof a[i]);
                if (res.acts[i].type == NA_OUTPUT) {
                    a[i].type = OFPAT_OUTPUT;
                    a[i].u.output.port = (uint32_t) res.acts[i].arg;
                } else {
                    a[i].type = OFPAT_SET_FIELD;
                    a[i].u.set_field.field = res.acts[i].type == NA_SET_ETH_SRC
                                             ? MF_ETH_SRC : MF_ETH_DST;
                    a[i].u.set_field.value = res.acts[i].arg;
                }
            }
            struct ofmsg msg;
            ofmsg_init(&msg, OFPT_PACKET_OUT, 0);
            msg.u.packet_out.buffer_id = OFP_NO_BUFFER;
            msg.u.packet_out.in_port = in_port;
            msg.u.packet_out.actions = a;
            msg.u.packet_out.n_actions = res.n_acts;
            msg.u.packet_out.data = pi->data;
            msg.u.packet_out.len = pi->len;
            ofctl_send(r->ctl, dpid, &msg);
            if (a != acts) {
                free(a);
            }
        }
    }
    if (h >= 0 && res.verdict != REACTIVE_NOT_MINE && vlog_enabled(VLOG_DEBUG)) {
        host = s->m.hosts[h].o.name;
        const char *src = res.src_vm >= 0 ? s->m.vms[res.src_vm].o.name : "?";
        const char *dst = res.dst_vm >= 0 ? s->m.vms[res.dst_vm].o.name
                          : pkt.eth_dst & 0x010000000000ull ? "broadcast" : "?";
        if (res.verdict == REACTIVE_FORWARD) {
            VLOG_DBG(MOD, "reactive: host %s: %s -> %s forwarded (%zu actions)", host,
                     src, dst, res.n_acts);
        } else {
            VLOG_DBG(MOD, "reactive: host %s: %s -> %012" PRIx64 " dropped: %s", host,
                     src, pkt.eth_dst, res.why);
        }
    }
    urcu_bp_read_unlock();
    reactive_result_free(&res);
    if (h >= 0 && res.verdict != REACTIVE_NOT_MINE) {
        pthread_mutex_lock(&r->mu);
        if (res.verdict == REACTIVE_FORWARD) {
            r->stats.reactive_forwarded++;
        } else {
            r->stats.reactive_dropped++;
        }
        pthread_mutex_unlock(&r->mu);
        reactive_wake(r);
    }
}

static void
cb_packet_in(void *aux, uint64_t dpid, const struct ofmsg_packet_in *pi)
{
    struct reconciler *r = aux;
    uint64_t in_port = 0;
    if (!ofmatch_get(&pi->match, MF_IN_PORT, &in_port, NULL) || pi->len < 14) {
        return;
    }
    pthread_mutex_lock(&r->mu);
    r->stats.packet_ins++;
    pthread_mutex_unlock(&r->mu);
    const uint8_t *p = pi->data;
    size_t l2 = 12;
    uint16_t type = (uint16_t) (p[12] << 8 | p[13]);
    if (type == 0x8100 && pi->len >= 18) {
        l2 = 16;
        type = (uint16_t) (p[16] << 8 | p[17]);
    }
    l2 += 2;
    if (type == 0x88cc) {
        handle_lldp(r, dpid, (uint32_t) in_port, p, pi->len);
        return;
    }
    if (pi->table_id == NM_T_TENANT) {
        handle_reactive(r, dpid, (uint32_t) in_port, pi);
        return;
    }
    if (type != 0x0806) {
        return;
    }
    urcu_bp_read_lock();
    struct snapshot *s = rcu_dereference(r->snap);
    if (s) {
        int h = netmodel_host_by_dpid(&s->m, dpid);
        if (h >= 0) {
            handle_arp(r, &s->m, h, dpid, (uint32_t) in_port, pi->cookie, p,
                       pi->len, l2);
        }
    }
    urcu_bp_read_unlock();
}

/* --- OVSDB (reconciler thread) --- */

static struct agent *
agent_for(struct reconciler *r, const struct nm_host *h)
{
    for (size_t i = 0; i < r->n_agents; i++) {
        if (!strcmp(r->agents[i].id, h->o.id)) {
            return &r->agents[i];
        }
    }
    struct agent *g = realloc(r->agents, (r->n_agents + 1) * sizeof *g);
    if (!g) {
        return NULL;
    }
    r->agents = g;
    struct agent *a = &r->agents[r->n_agents++];
    memset(a, 0, sizeof *a);
    snprintf(a->id, sizeof a->id, "%s", h->o.id);
    return a;
}

static void
agent_close(struct reconciler *r, struct agent *a)
{
    ovsdb_destroy(a->db);
    a->db = NULL;
    a->ovsdb_target[0] = 0;
    if (a->of_target[0]) {
        ofctl_disconnect(r->ctl, a->of_target);
        a->of_target[0] = 0;
    }
    free(a->err);
    a->err = NULL;
}

static void
agent_error(struct agent *a, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void
agent_error(struct agent *a, const char *fmt, ...)
{
    if (a->err) {
        return;                     /* keep the first cause */
    }
    va_list ap;
    va_start(ap, fmt);
    if (vasprintf(&a->err, fmt, ap) < 0) {
        a->err = NULL;
    }
    va_end(ap);
}

/* Matches agents to hosts, opening and closing sessions. */
static void
sync_agents(struct reconciler *r, const struct netmodel *m)
{
    for (size_t i = 0; i < r->n_agents; i++) {
        r->agents[i].seen = false;
    }
    for (size_t h = 0; h < m->n_hosts; h++) {
        const struct nm_host *ho = &m->hosts[h];
        struct agent *a = agent_for(r, ho);
        if (!a) {
            continue;
        }
        a->seen = true;
        a->dpid = ho->dpid;
        if (strcmp(a->name, ho->o.name)) {
            snprintf(a->name, sizeof a->name, "%s", ho->o.name);
            if (a->db) {
                ovsdb_set_peer_name(a->db, a->name);
            }
        }
        if (!a->of_since) {
            a->of_since = now_us();     /* a bridge that connects to us */
        }
        if (strcmp(a->ovsdb_target, ho->ovsdb)) {
            ovsdb_destroy(a->db);
            a->db = ovsdb_create(ho->ovsdb, "Open_vSwitch");
            if (a->db && ovsdb_set_peer_name(a->db, a->name)) {
                ovsdb_destroy(a->db);
                a->db = NULL;
            }
            snprintf(a->ovsdb_target, sizeof a->ovsdb_target, "%s", ho->ovsdb);
            a->seqno = 0;
            a->db_since = now_us();
            a->db_ever_up = false;
            if (a->db) {
                ovsdb_run(a->db);
            }
        }
        if (strcmp(a->of_target, ho->openflow)) {
            if (a->of_target[0]) {
                ofctl_disconnect(r->ctl, a->of_target);
            }
            snprintf(a->of_target, sizeof a->of_target, "%s", ho->openflow);
            a->of_since = now_us();
            a->of_ever_up = false;
            if (a->of_target[0] && ofctl_connect(r->ctl, a->of_target)) {
                a->of_target[0] = 0;
            }
        }
    }
    size_t w = 0;
    for (size_t i = 0; i < r->n_agents; i++) {
        if (r->agents[i].seen) {
            r->agents[w++] = r->agents[i];
        } else {
            agent_close(r, &r->agents[i]);
        }
    }
    r->n_agents = w;
}

static int
apply_txn(struct reconciler *r, struct agent *a, struct ovsdb_txn *txn,
          const char *what)
{
    if (!txn) {
        return 0;
    }
    char *err = NULL;
    int rc = ovsdb_vswitch_apply(a->db, txn, OVSDB_TIMEOUT_MS, &err);
    a->sent++;
    pthread_mutex_lock(&r->mu);
    r->stats.ovsdb_txns++;
    pthread_mutex_unlock(&r->mu);
    if (rc) {
        agent_error(a, "ovsdb %s: %s: %s", a->ovsdb_target, what,
                    err ? err : strerror(rc));
    }
    free(err);
    return rc;
}

/* Records that port 'p''s transaction failed: its VM's error, or the
 * host's for a tunnel. */
static void
port_failed(struct agent *a, const struct nm_port *p, char **vm_err, const char *why)
{
    if (p->kind != NM_PORT_VM) {
        agent_error(a, "ovsdb %s: %s: %s", a->ovsdb_target, p->name, why);
    } else if (!vm_err[p->vm]
               && asprintf(&vm_err[p->vm], "port %s: %s", p->name, why) < 0) {
        vm_err[p->vm] = NULL;
    }
}

/* Sends every non-NULL txns[i] (each consumed; the slot is cleared), and
 * only then collects the replies, within one OVSDB_TIMEOUT_MS for all. */
static void
apply_txns(struct reconciler *r, struct agent *a, const struct nm_port *ports, size_t n,
           struct ovsdb_txn **txns, char **vm_err)
{
    uint64_t *ids = calloc(n ? n : 1, sizeof *ids);
    size_t *n_ops = calloc(n ? n : 1, sizeof *n_ops);
    bool *sent = calloc(n ? n : 1, sizeof *sent);
    unsigned long long count = 0;
    for (size_t i = 0; i < n; i++) {
        if (!txns[i]) {
            continue;
        }
        if (!ids || !n_ops || !sent) {
            ovsdb_txn_destroy(txns[i]);
            txns[i] = NULL;
            port_failed(a, &ports[i], vm_err, "out of memory");
            continue;
        }
        n_ops[i] = ovsdb_txn_n_ops(txns[i]);
        int rc = ovsdb_transact(a->db, txns[i], &ids[i]);
        txns[i] = NULL;
        if (rc) {
            port_failed(a, &ports[i], vm_err, strerror(rc));
        } else {
            sent[i] = true;
            count++;
        }
    }
    long long deadline = ovsdb_now_ms() + OVSDB_TIMEOUT_MS;
    for (size_t i = 0; sent && i < n; i++) {
        if (!sent[i]) {
            continue;
        }
        long long left = deadline - ovsdb_now_ms();
        json_t *result = NULL;
        char *err = NULL;
        int rc = ovsdb_wait_reply(a->db, ids[i], left > 0 ? (int) left : 1, &result, &err);
        if (!rc) {
            rc = ovsdb_txn_check_result(result, n_ops[i], &err);
        }
        json_decref(result);
        if (rc) {
            port_failed(a, &ports[i], vm_err, err ? err : strerror(rc));
        }
        free(err);
    }
    free(ids);
    free(n_ops);
    free(sent);
    a->sent += count;
    pthread_mutex_lock(&r->mu);
    r->stats.ovsdb_txns += count;
    pthread_mutex_unlock(&r->mu);
}

/* Ensures the bridge and its ports on host 'h'.  Fills vm_err for this
 * host's VMs whose port could not be configured; their port numbers are
 * read afterwards (iface_pass), once ovs-vswitchd has had its say. */
static void
ovsdb_pass(struct reconciler *r, const struct netmodel *m, int h, struct agent *a,
           char **vm_err)
{
    const struct nm_host *ho = &m->hosts[h];
    if (!a->db || !ovsdb_is_synced(a->db)) {
        const char *why = a->db ? ovsdb_last_error(a->db) : "";
        if (a->db && !a->db_ever_up && !ovsdb_refused(a->db)
            && now_us() - a->db_since < CONNECT_GRACE_US) {
            a->note = "connecting to its OVSDB server";
        } else {
            agent_error(a, "ovsdb %s: not connected%s%s", ho->ovsdb, why[0] ? ": " : "",
                        why);
        }
        return;
    }
    a->db_ever_up = true;
    const struct ovsdb_replica *rep = ovsdb_get_replica(a->db);
    char dpid[17];
    snprintf(dpid, sizeof dpid, "%016" PRIx64, ho->dpid);
    json_t *oc = json_pack("{s:s, s:s}", "datapath-id", dpid, "disable-in-band", "true");
    struct ovsdb_vswitch_bridge br = {
        .name = ho->bridge, .datapath_type = ho->datapath, .fail_mode = "secure",
        .protocols = "OpenFlow13",
        .controller = ho->controller[0] ? ho->controller : NULL,
        .other_config = oc,
    };
    struct ovsdb_txn *txn = NULL;
    int rc = ovsdb_vswitch_ensure_bridge(rep, &br, &txn);
    json_decref(oc);
    if (rc) {
        agent_error(a, "ovsdb %s: bridge %s: %s", ho->ovsdb, ho->bridge, strerror(rc));
        return;
    }
    if (apply_txn(r, a, txn, "creating the bridge")) {
        return;
    }
    rep = ovsdb_get_replica(a->db);

    struct nm_port *ports;
    size_t n;
    if (netmodel_ports(m, h, &ports, &n)) {
        agent_error(a, "out of memory");
        return;
    }
    /* Every port's transaction is computed from this one replica, then all
     * are sent before any reply is awaited: one round trip for the host,
     * not one per port.  They are independent (each inserts its own Port
     * and Interface and adds it to the bridge), so their order does not
     * matter, and a failed one is recomputed by the next pass. */
    struct ovsdb_txn **txns = calloc(n ? n : 1, sizeof *txns);
    if (!txns) {
        free(ports);
        agent_error(a, "out of memory");
        return;
    }
    for (size_t i = 0; i < n; i++) {
        const struct nm_port *p = &ports[i];
        txn = NULL;
        if (p->kind == NM_PORT_VM) {
            json_t *eid = json_pack("{s:s, s:s}", "skyvisor", "vm",
                                    "skyvisor-vm-id", m->vms[p->vm].o.id);
            struct ovsdb_vswitch_port spec = {
                .bridge = ho->bridge, .name = p->name,
                .type = p->internal ? "internal" : NULL, .external_ids = eid,
            };
            rc = ovsdb_vswitch_ensure_port(rep, &spec, &txn);
            json_decref(eid);
        } else {
            char rip[16], lip[16];
            snprintf(rip, sizeof rip, "%u.%u.%u.%u", p->remote_ip >> 24,
                     p->remote_ip >> 16 & 255, p->remote_ip >> 8 & 255, p->remote_ip & 255);
            snprintf(lip, sizeof lip, "%u.%u.%u.%u", p->local_ip >> 24,
                     p->local_ip >> 16 & 255, p->local_ip >> 8 & 255, p->local_ip & 255);
            json_t *eid = json_pack("{s:s, s:s}", "skyvisor", "tunnel",
                                    "skyvisor-peer", m->hosts[p->peer].o.name);
            struct ovsdb_vswitch_tunnel spec = {
                .bridge = ho->bridge, .name = p->name, .type = "vxlan",
                .remote_ip = rip, .local_ip = lip, .external_ids = eid,
            };
            rc = ovsdb_vswitch_ensure_tunnel(rep, &spec, &txn);
            json_decref(eid);
        }
        if (rc) {
            if (p->kind == NM_PORT_VM) {
                if (!vm_err[p->vm] && asprintf(&vm_err[p->vm], "port %s: %s", p->name,
                                               rc == EEXIST ? "already on another bridge"
                                                            : strerror(rc)) < 0) {
                    vm_err[p->vm] = NULL;
                }
            } else {
                agent_error(a, "tunnel %s: %s", p->name, strerror(rc));
            }
            continue;
        }
        txns[i] = txn;
    }
    apply_txns(r, a, ports, n, txns, vm_err);
    free(txns);
    rep = ovsdb_get_replica(a->db);

    /* Ports we own that are no longer desired. */
    const char *br_uuid;
    const json_t *brow = ovsdb_replica_find(rep, "Bridge", "name", ho->bridge, &br_uuid);
    const json_t *pset = brow ? json_object_get(brow, "ports") : NULL;
    size_t np = pset ? ovsdb_datum_n(pset) : 0;
    char **stale = calloc(np ? np : 1, sizeof *stale);
    size_t n_stale = 0;
    for (size_t i = 0; stale && i < np; i++) {
        const char *pu = ovsdb_datum_get_uuid(ovsdb_datum_at(pset, i));
        const json_t *prow = pu ? ovsdb_replica_row(rep, "Port", pu) : NULL;
        const char *pname = prow ? json_string_value(json_object_get(prow, "name")) : NULL;
        if (!pname || !ovsdb_datum_map_get(json_object_get(prow, "external_ids"),
                                           "skyvisor")) {
            continue;
        }
        bool wanted = false;
        for (size_t j = 0; j < n && !wanted; j++) {
            wanted = !strcmp(ports[j].name, pname);
        }
        if (!wanted) {
            stale[n_stale++] = strdup(pname);
        }
    }
    for (size_t i = 0; i < n_stale; i++) {
        txn = NULL;
        if (stale[i] && !ovsdb_vswitch_remove_port(ovsdb_get_replica(a->db), stale[i], &txn)) {
            apply_txn(r, a, txn, stale[i]);
        }
        free(stale[i]);
    }
    free(stale);
    free(ports);
}

/* Whether every port host 'h' wants has its OpenFlow number (or an error)
 * in the replica: what ovs-vswitchd writes shortly after a port is added. */
static bool
ports_numbered(const struct netmodel *m, int h, struct agent *a)
{
    struct nm_port *ports;
    size_t n;
    if (netmodel_ports(m, h, &ports, &n)) {
        return true;
    }
    const struct ovsdb_replica *rep = ovsdb_get_replica(a->db);
    bool all = true;
    for (size_t i = 0; i < n && all; i++) {
        long long ofport = 0;
        const char *ierr = NULL;
        all = !ovsdb_vswitch_iface_status(rep, ports[i].name, &ofport, &ierr)
              && (ofport != 0 || ierr);
    }
    free(ports);
    return all;
}

/* Reads host 'h''s interface states: fills vm_err/vm_port for its VMs,
 * and the host's error for a failed tunnel. */
static void
iface_pass(const struct netmodel *m, int h, struct agent *a, char **vm_err,
           uint32_t *vm_port)
{
    struct nm_port *ports;
    size_t n;
    if (netmodel_ports(m, h, &ports, &n)) {
        agent_error(a, "out of memory");
        return;
    }
    const struct ovsdb_replica *rep = ovsdb_get_replica(a->db);
    for (size_t i = 0; i < n; i++) {
        const struct nm_port *p = &ports[i];
        long long ofport = 0;
        const char *ierr = NULL;
        if (ovsdb_vswitch_iface_status(rep, p->name, &ofport, &ierr)) {
            continue;
        }
        if (p->kind == NM_PORT_VM) {
            if ((ierr || ofport < 0) && !vm_err[p->vm]
                && asprintf(&vm_err[p->vm], "interface %s: %s", p->name,
                            ierr ? ierr : "no OpenFlow port") < 0) {
                vm_err[p->vm] = NULL;
            }
            vm_port[p->vm] = ofport > 0 ? (uint32_t) ofport : 0;
        } else if (ierr) {
            agent_error(a, "tunnel %s: %s", p->name, ierr);
        }
    }
    free(ports);
}

/* --- flows --- */

static const enum mf nf_to_mf[NF__COUNT] = {
    [NF_IN_PORT] = MF_IN_PORT, [NF_ETH_DST] = MF_ETH_DST, [NF_ETH_SRC] = MF_ETH_SRC,
    [NF_ETH_TYPE] = MF_ETH_TYPE, [NF_IPV4_SRC] = MF_IPV4_SRC,
    [NF_ARP_SPA] = MF_ARP_SPA, [NF_ARP_SHA] = MF_ARP_SHA, [NF_METADATA] = MF_METADATA,
};

/* Encodes a desired flow as an ADD flow-mod (caller uninits 'msg'). */
static int
to_flow_mod(const struct nm_flow *f, struct ofmsg *msg)
{
    ofmsg_init(msg, OFPT_FLOW_MOD, 0);
    struct ofmsg_flow_mod *fm = &msg->u.flow_mod;
    fm->cookie = f->cookie;
    fm->table_id = f->table;
    fm->command = OFPFC_ADD;
    fm->priority = f->priority;
    fm->buffer_id = OFP_NO_BUFFER;
    fm->out_port = OFPP_ANY;
    fm->out_group = OFPG_ANY;
    ofmatch_init(&fm->match);
    /* Prerequisites first, as OpenFlow wants them. */
    static const enum nm_field order[] = {
        NF_IN_PORT, NF_METADATA, NF_ETH_DST, NF_ETH_SRC, NF_ETH_TYPE, NF_IPV4_SRC,
        NF_ARP_SPA, NF_ARP_SHA,
    };
    for (size_t i = 0; i < sizeof order / sizeof order[0]; i++) {
        enum nm_field nf = order[i];
        if (!(f->present & (1u << nf))) {
            continue;
        }
        if (f->masked & (1u << nf)) {
            ofmatch_set_masked(&fm->match, nf_to_mf[nf], f->value[nf], f->mask[nf]);
        } else {
            ofmatch_set(&fm->match, nf_to_mf[nf], f->value[nf]);
        }
    }
    size_t ni = (f->n_acts ? 1 : 0) + (f->write_meta ? 1 : 0)
                + (f->goto_table != NM_NO_GOTO ? 1 : 0);
    fm->insts = calloc(ni ? ni : 1, sizeof *fm->insts);
    if (!fm->insts) {
        return ENOMEM;
    }
    size_t k = 0;
    if (f->n_acts) {
        struct ofinst *in = &fm->insts[k++];
        in->type = OFPIT_APPLY_ACTIONS;
        in->actions = calloc(f->n_acts, sizeof *in->actions);
        if (!in->actions) {
            fm->n_insts = k;
            return ENOMEM;
        }
        in->n_actions = f->n_acts;
        for (size_t i = 0; i < f->n_acts; i++) {
            struct ofaction *a = &in->actions[i];
            const struct nm_act *na = &f->acts[i];
            switch (na->type) {
            case NA_OUTPUT:
                a->type = OFPAT_OUTPUT;
                a->u.output.port = (uint32_t) na->arg;
                a->u.output.max_len = 0;
                break;
            case NA_CONTROLLER:
                a->type = OFPAT_OUTPUT;
                a->u.output.port = OFPP_CONTROLLER;
                a->u.output.max_len = OFPCML_NO_BUFFER;
                break;
            case NA_SET_ETH_SRC:
            case NA_SET_ETH_DST:
                a->type = OFPAT_SET_FIELD;
                a->u.set_field.field = na->type == NA_SET_ETH_SRC ? MF_ETH_SRC : MF_ETH_DST;
                a->u.set_field.value = na->arg;
                break;
            }
        }
    }
    if (f->write_meta) {
        struct ofinst *in = &fm->insts[k++];
        in->type = OFPIT_WRITE_METADATA;
        in->metadata = f->meta;
        in->metadata_mask = f->meta_mask;
    }
    if (f->goto_table != NM_NO_GOTO) {
        struct ofinst *in = &fm->insts[k++];
        in->type = OFPIT_GOTO_TABLE;
        in->table_id = f->goto_table;
    }
    fm->n_insts = k;
    return 0;
}

static uint64_t
mix(uint64_t h, uint64_t v)
{
    h ^= v + 0x9e3779b97f4a7c15ull + (h << 6) + (h >> 2);
    return h * 0xff51afd7ed558ccdull;
}

static uint64_t
flow_key_hash(uint8_t table, uint16_t prio, const struct ofmatch *m)
{
    uint64_t h = mix(table, prio);
    for (int f = 0; f < MF__COUNT; f++) {
        uint64_t v, mask;
        if (ofmatch_get(m, (enum mf) f, &v, &mask)) {
            h = mix(h, (uint64_t) f);
            h = mix(h, v);
            h = mix(h, mask);
        }
    }
    return h;
}

/* Compares two instruction lists by their encodings, in the reconciler's
 * two scratch buffers (reused, so a pass over thousands of flows does not
 * allocate per comparison). */
static bool
insts_equal(struct reconciler *r, const struct ofinst *a, size_t na,
            const struct ofinst *b, size_t nb)
{
    struct buf *x = &r->scratch[0], *y = &r->scratch[1];
    buf_clear(x);
    buf_clear(y);
    ofaction_encode_insts(a, na, x);
    ofaction_encode_insts(b, nb, y);
    return !x->failed && !y->failed && x->len == y->len
           && (!x->len || !memcmp(x->data, y->data, x->len));
}

static int
cmp_table_desc(const void *a, const void *b)
{
    const struct ofmsg *x = a, *y = b;
    return (int) y->u.flow_mod.table_id - (int) x->u.flow_mod.table_id;
}

static int
cmp_table_asc(const void *a, const void *b)
{
    return -cmp_table_desc(a, b);
}

struct port_lookup {
    const struct netmodel *m;
    const struct ovsdb_replica *rep;
};

static uint32_t
lookup_ofport(void *aux, int h, const char *name)
{
    struct port_lookup *pl = aux;
    (void) h;
    long long ofport = 0;
    const char *err = NULL;
    if (ovsdb_vswitch_iface_status(pl->rep, name, &ofport, &err) || ofport <= 0) {
        return 0;
    }
    return (uint32_t) ofport;
}

static int
submit(struct reconciler *r, struct agent *a, struct ofmsg *msgs, size_t n,
       const char *what)
{
    if (!n) {
        return 0;
    }
    size_t failed = 0;
    struct ofmsg_error err = {0};
    int rc = ofctl_submit_wait(r->ctl, a->dpid, msgs, n, OF_TIMEOUT_MS, &failed, &err);
    if (rc == EPROTO) {
        agent_error(a, "openflow: the switch rejected %s %zu of %zu (error type %u code %u)",
                    what, failed + 1, n, err.type, err.code);
        free(err.data);
    } else if (rc) {
        agent_error(a, "openflow: %s: %s", what, strerror(rc));
    }
    return rc;
}

/* Makes the flows of host 'h' match the model.  0 when in sync. */
static int
flow_pass(struct reconciler *r, const struct netmodel *m, int h, struct agent *a)
{
    struct port_lookup pl = { m, ovsdb_get_replica(a->db) };
    struct nm_flows want = {0};
    if (netmodel_flows(m, h, lookup_ofport, &pl, &want)) {
        agent_error(a, "out of memory");
        return ENOMEM;
    }
    struct offlow_stats *have = NULL;
    size_t n_have = 0;
    int rc = ofctl_dump_flows_wait(r->ctl, a->dpid, NM_COOKIE_MAGIC, NM_COOKIE_MASK,
                                   OF_TIMEOUT_MS, &have, &n_have);
    if (rc) {
        agent_error(a, "openflow: reading flows: %s", strerror(rc));
        nm_flows_clear(&want);
        return rc;
    }

    size_t cap = 16;
    while (cap < 2 * (n_have + 1)) {
        cap *= 2;
    }
    size_t *slots = malloc(cap * sizeof *slots);         /* index + 1, 0 empty */
    bool *kept = calloc(n_have ? n_have : 1, sizeof *kept);
    struct ofmsg *adds = calloc(want.n ? want.n : 1, sizeof *adds);
    struct ofmsg *dels = calloc(n_have ? n_have : 1, sizeof *dels);
    size_t n_adds = 0, n_dels = 0, n_kept = 0;
    if (!slots || !kept || !adds || !dels) {
        rc = ENOMEM;
        goto out;
    }
    memset(slots, 0, cap * sizeof *slots);
    for (size_t i = 0; i < n_have; i++) {
        uint64_t k = flow_key_hash(have[i].table_id, have[i].priority, &have[i].match);
        size_t s = k & (cap - 1);
        while (slots[s]) {
            s = (s + 1) & (cap - 1);
        }
        slots[s] = i + 1;
    }
    for (size_t i = 0; i < want.n; i++) {
        struct ofmsg *msg = &adds[n_adds];
        if ((rc = to_flow_mod(&want.v[i], msg))) {
            ofmsg_uninit(msg);
            goto out;
        }
        const struct ofmsg_flow_mod *fm = &msg->u.flow_mod;
        uint64_t k = flow_key_hash(fm->table_id, fm->priority, &fm->match);
        bool same = false;
        for (size_t s = k & (cap - 1); slots[s]; s = (s + 1) & (cap - 1)) {
            const struct offlow_stats *fs = &have[slots[s] - 1];
            if (fs->table_id == fm->table_id && fs->priority == fm->priority
                && ofmatch_equal(&fs->match, &fm->match)) {
                kept[slots[s] - 1] = true;
                same = fs->cookie == fm->cookie
                       && insts_equal(r, fs->insts, fs->n_insts, fm->insts, fm->n_insts);
                break;
            }
        }
        if (same) {
            ofmsg_uninit(msg);
            n_kept++;
        } else {
            n_adds++;
        }
    }
    for (size_t i = 0; i < n_have; i++) {
        if (kept[i]) {
            continue;
        }
        struct ofmsg *msg = &dels[n_dels++];
        ofmsg_init(msg, OFPT_FLOW_MOD, 0);
        struct ofmsg_flow_mod *fm = &msg->u.flow_mod;
        fm->table_id = have[i].table_id;
        fm->command = OFPFC_DELETE_STRICT;
        fm->priority = have[i].priority;
        fm->buffer_id = OFP_NO_BUFFER;
        fm->out_port = OFPP_ANY;
        fm->out_group = OFPG_ANY;
        fm->match = have[i].match;
    }
    qsort(adds, n_adds, sizeof *adds, cmp_table_desc);
    qsort(dels, n_dels, sizeof *dels, cmp_table_asc);
    rc = submit(r, a, adds, n_adds, "flow");
    if (!rc) {
        rc = submit(r, a, dels, n_dels, "flow deletion");
    }
    pthread_mutex_lock(&r->mu);
    r->stats.flows_added += rc ? 0 : n_adds;
    r->stats.flows_deleted += rc ? 0 : n_dels;
    r->stats.flows_kept += n_kept;
    pthread_mutex_unlock(&r->mu);
    if (n_adds || n_dels) {
        VLOG_DBG(MOD, "host %s: %zu flows added, %zu deleted, %zu kept",
                 m->hosts[h].o.name, n_adds, n_dels, n_kept);
    }

out:
    for (size_t i = 0; adds && i < n_adds; i++) {
        ofmsg_uninit(&adds[i]);
    }
    free(adds);
    free(dels);                     /* matches were copied, nothing owned */
    free(kept);
    free(slots);
    ofctl_free_flows(have, n_have);
    nm_flows_clear(&want);
    return rc;
}

/* LLDP probes on every numbered tunnel port of host 'h'. */
static void
lldp_probe(struct reconciler *r, const struct netmodel *m, int h, struct agent *a)
{
    struct port_lookup pl = { m, ovsdb_get_replica(a->db) };
    for (const int *peer = m->adj[h]; *peer >= 0; peer++) {
        char name[16];
        netmodel_tunnel_name(m, h, *peer, name);
        uint32_t port = lookup_ofport(&pl, h, name);
        uint8_t frame[128];
        size_t n = port ? lldp_build(frame, sizeof frame, a->dpid, port) : 0;
        if (n) {
            packet_out(r, a->dpid, port, frame, n);
        }
    }
}

/* --- statuses --- */

struct verdict {
    enum nm_state state;
    char *detail;                   /* owned */
};

static void
verdict_set(struct verdict *v, enum nm_state st, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void
verdict_set(struct verdict *v, enum nm_state st, const char *fmt, ...)
{
    free(v->detail);
    v->detail = NULL;
    v->state = st;
    if (fmt) {
        va_list ap;
        va_start(ap, fmt);
        if (vasprintf(&v->detail, fmt, ap) < 0) {
            v->detail = NULL;
        }
        va_end(ap);
    }
}

/* Folds child verdict 'c' named 'what' into parent 'p' (error beats
 * pending beats realized; the first error is kept). */
static void
fold(struct verdict *p, const struct verdict *c, const char *what)
{
    if (c->state == NM_ERROR && p->state != NM_ERROR) {
        verdict_set(p, NM_ERROR, "%s: %s", what, c->detail ? c->detail : "error");
    } else if (c->state == NM_PENDING && p->state == NM_REALIZED) {
        verdict_set(p, NM_PENDING, "waiting for %s", what);
    }
}

static bool
status_changed(const struct nm_obj *o, const struct verdict *v)
{
    const char *a = o->detail ? o->detail : "", *b = v->detail ? v->detail : "";
    return o->state != v->state || strcmp(a, b)
           || (v->state != NM_PENDING && o->observed_generation < o->generation);
}

struct status_batch {
    struct nm_status *v;
    struct nm_obj **obj;            /* the object of each status */
    size_t n;
};

static void
emit(struct status_batch *b, enum nm_kind kind, struct nm_obj *o, const struct verdict *v)
{
    if (!status_changed(o, v)) {
        return;
    }
    b->obj[b->n] = o;
    struct nm_status *s = &b->v[b->n++];
    s->kind = kind;
    s->id = o->id;
    s->state = v->state;
    s->detail = v->detail ? strdup(v->detail) : NULL;     /* owned by the batch */
    s->observed_generation = v->state == NM_PENDING ? o->observed_generation : o->generation;
}

/* Records the written statuses in the model. */
static void
commit_batch(struct status_batch *b)
{
    for (size_t i = 0; i < b->n; i++) {
        struct nm_obj *o = b->obj[i];
        o->state = b->v[i].state;
        free(o->detail);
        o->detail = b->v[i].detail ? strdup(b->v[i].detail) : NULL;
        o->observed_generation = b->v[i].observed_generation;
    }
}

static bool
compute_statuses(struct reconciler *r, struct netmodel *m, char **vm_err,
                 const uint32_t *vm_port)
{
    size_t nh = m->n_hosts;
    struct verdict *hv = calloc(nh ? nh : 1, sizeof *hv);
    struct verdict *vv = calloc(m->n_vms ? m->n_vms : 1, sizeof *vv);
    struct verdict *sv = calloc(m->n_switches ? m->n_switches : 1, sizeof *sv);
    struct verdict *nv = calloc(m->n_networks ? m->n_networks : 1, sizeof *nv);
    size_t total = m->n_clouds + nh + m->n_tenants + m->n_networks + m->n_switches
                   + m->n_links + m->n_vms;
    struct status_batch batch = { calloc(total ? total : 1, sizeof *batch.v),
                                  calloc(total ? total : 1, sizeof *batch.obj), 0 };
    bool all_done = true;
    if (!hv || !vv || !sv || !nv || !batch.v || !batch.obj) {
        all_done = false;
        goto out;
    }

    for (size_t h = 0; h < nh; h++) {
        struct agent *a = agent_for(r, &m->hosts[h]);
        if (a && a->err) {
            verdict_set(&hv[h], NM_ERROR, "%s", a->err);
        } else if (a && a->realized) {
            verdict_set(&hv[h], NM_REALIZED, NULL);
        } else {
            verdict_set(&hv[h], NM_PENDING, "%s",
                        a && a->note ? a->note : "configuring the bridge");
        }
    }
    for (size_t v = 0; v < m->n_vms; v++) {
        const struct nm_vm *vm = &m->vms[v];
        int h = vm->host, c = m->vm_comp[v];
        verdict_set(&vv[v], NM_REALIZED, NULL);
        if (h < 0 || c < 0) {
            verdict_set(&vv[v], NM_ERROR, "%s", "no host");
            continue;
        }
        if (hv[h].state == NM_ERROR) {
            verdict_set(&vv[v], NM_ERROR, "host %s: %s", m->hosts[h].o.name,
                        hv[h].detail ? hv[h].detail : "error");
            continue;
        }
        if (vm_err[v]) {
            verdict_set(&vv[v], NM_ERROR, "%s", vm_err[v]);
            continue;
        }
        if (!vm_port[v] || hv[h].state != NM_REALIZED) {
            verdict_set(&vv[v], NM_PENDING, "waiting for host %s", m->hosts[h].o.name);
            continue;
        }
        /* Every bridge on the way to the other members' hosts.  The
         * member's own host is not on the way: when it is down, that
         * member is in error, not this VM, whose side is in place. */
        for (size_t dst = 0; dst < nh && vv[v].state == NM_REALIZED; dst++) {
            if (!m->comp_hosts[(size_t) c * nh + dst] || (int) dst == h) {
                continue;
            }
            int x = h;
            while (x != (int) dst) {
                int nx = netmodel_next_hop(m, x, (int) dst);
                if (nx < 0) {
                    const struct nm_host *a = &m->hosts[x], *b = &m->hosts[dst];
                    verdict_set(&vv[v], NM_ERROR, "no tunnel path from cloud %s to "
                                "cloud %s (each cloud needs a gateway host)",
                                a->cloud >= 0 ? m->clouds[a->cloud].o.name : "?",
                                b->cloud >= 0 ? m->clouds[b->cloud].o.name : "?");
                    break;
                }
                if (nx == (int) dst) {
                    break;
                }
                if (hv[nx].state == NM_ERROR) {
                    verdict_set(&vv[v], NM_ERROR, "host %s on the path to host %s: %s",
                                m->hosts[nx].o.name, m->hosts[dst].o.name,
                                hv[nx].detail ? hv[nx].detail : "error");
                    break;
                }
                if (hv[nx].state != NM_REALIZED) {
                    verdict_set(&vv[v], NM_PENDING, "waiting for host %s",
                                m->hosts[nx].o.name);
                    break;
                }
                x = nx;
            }
        }
    }
    for (size_t s = 0; s < m->n_switches; s++) {
        verdict_set(&sv[s], NM_REALIZED, NULL);
    }
    for (size_t v = 0; v < m->n_vms; v++) {
        if (m->vms[v].sw >= 0) {
            char what[160];
            snprintf(what, sizeof what, "vm %s", m->vms[v].o.name);
            fold(&sv[m->vms[v].sw], &vv[v], what);
        }
    }
    for (size_t n = 0; n < m->n_networks; n++) {
        verdict_set(&nv[n], NM_REALIZED, NULL);
    }
    for (size_t s = 0; s < m->n_switches; s++) {
        if (m->switches[s].network >= 0) {
            char what[160];
            snprintf(what, sizeof what, "switch %s", m->switches[s].o.name);
            fold(&nv[m->switches[s].network], &sv[s], what);
        }
    }

    for (size_t c = 0; c < m->n_clouds; c++) {
        struct verdict cv = {NM_REALIZED, NULL};
        bool has_hosts = false;
        for (size_t h = 0; h < nh; h++) {
            has_hosts |= m->hosts[h].cloud == (int) c;
        }
        int g = m->clouds[c].gateway;
        if (has_hosts && g < 0) {
            verdict_set(&cv, NM_ERROR, "%s", "no gateway host: the cloud's hosts "
                        "cannot reach other clouds");
        } else if (g >= 0) {
            char what[160];
            snprintf(what, sizeof what, "gateway %s", m->hosts[g].o.name);
            fold(&cv, &hv[g], what);
        }
        emit(&batch, NK_CLOUD, &m->clouds[c].o, &cv);
        all_done &= cv.state != NM_PENDING;
        free(cv.detail);
    }
    for (size_t h = 0; h < nh; h++) {
        emit(&batch, NK_HOST, &m->hosts[h].o, &hv[h]);
        all_done &= hv[h].state != NM_PENDING;
    }
    for (size_t v = 0; v < m->n_vms; v++) {
        emit(&batch, NK_VM, &m->vms[v].o, &vv[v]);
        all_done &= vv[v].state != NM_PENDING;
    }
    for (size_t s = 0; s < m->n_switches; s++) {
        emit(&batch, NK_SWITCH, &m->switches[s].o, &sv[s]);
    }
    for (size_t l = 0; l < m->n_links; l++) {
        const struct nm_link *lk = &m->links[l];
        struct verdict lv = {NM_REALIZED, NULL};
        if (lk->a >= 0) fold(&lv, &sv[lk->a], m->switches[lk->a].o.name);
        if (lk->b >= 0) fold(&lv, &sv[lk->b], m->switches[lk->b].o.name);
        emit(&batch, NK_LINK, &m->links[l].o, &lv);
        if (lk->network >= 0) {
            char what[160];
            snprintf(what, sizeof what, "link %s", lk->o.name);
            fold(&nv[lk->network], &lv, what);
        }
        free(lv.detail);
    }
    for (size_t n = 0; n < m->n_networks; n++) {
        emit(&batch, NK_NETWORK, &m->networks[n].o, &nv[n]);
    }
    for (size_t t = 0; t < m->n_tenants; t++) {
        struct verdict tv = {NM_REALIZED, NULL};
        for (size_t n = 0; n < m->n_networks; n++) {
            if (m->networks[n].tenant == (int) t) {
                char what[160];
                snprintf(what, sizeof what, "network %s", m->networks[n].o.name);
                fold(&tv, &nv[n], what);
            }
        }
        emit(&batch, NK_TENANT, &m->tenants[t].o, &tv);
        free(tv.detail);
    }

    if (batch.n) {
        int rc = r->store.write_status(r->aux, batch.v, batch.n);
        if (rc) {
            VLOG_WRN(MOD, "writing %zu statuses: %s", batch.n, strerror(rc));
            all_done = false;
        } else {
            commit_batch(&batch);
        }
    }

out:
    for (size_t h = 0; hv && h < nh; h++) free(hv[h].detail);
    for (size_t v = 0; vv && v < m->n_vms; v++) free(vv[v].detail);
    for (size_t s = 0; sv && s < m->n_switches; s++) free(sv[s].detail);
    for (size_t n = 0; nv && n < m->n_networks; n++) free(nv[n].detail);
    free(hv);
    free(vv);
    free(sv);
    free(nv);
    for (size_t i = 0; batch.v && i < batch.n; i++) {
        free((char *) batch.v[i].detail);
    }
    free(batch.v);
    free(batch.obj);
    return all_done;
}

/* --- the pass --- */

static bool
load(struct reconciler *r)
{
    struct snapshot *s = calloc(1, sizeof *s);
    if (!s) {
        return false;
    }
    netmodel_init(&s->m);
    int rc = r->store.load(r->aux, &s->m);
    if (!rc) {
        s->m.layout = r->opt.layout;
        rc = netmodel_finish(&s->m);
    }
    if (rc) {
        VLOG_WRN(MOD, "loading the desired state: %s", strerror(rc));
        netmodel_free(&s->m);
        free(s);
        return false;
    }
    struct snapshot *old = r->snap;
    rcu_assign_pointer(r->snap, s);
    if (old) {
        urcu_bp_synchronize_rcu();
        netmodel_free(&old->m);
        free(old);
    }
    return true;
}

/* Runs the OVSDB sessions of the hosts this pass changed until every
 * port they want is numbered, for at most SETTLE_MS: ovs-vswitchd numbers
 * a new port within milliseconds, and a host that does not answer only
 * leaves its own VMs pending for the next pass. */
static void
settle_ports(struct reconciler *r, const struct netmodel *m)
{
    long long deadline = ovsdb_now_ms() + SETTLE_MS;
    for (size_t h = 0; h < m->n_hosts; h++) {
        struct agent *a = agent_for(r, &m->hosts[h]);
        if (!a || !a->sent || a->err || a->note || !a->db) {
            continue;
        }
        while (ovsdb_is_synced(a->db) && !ports_numbered(m, (int) h, a)) {
            long long left = deadline - ovsdb_now_ms();
            if (left <= 0) {
                return;
            }
            ovsdb_wait(a->db, (int) (left < 50 ? left : 50));
        }
    }
}

static bool
pass(struct reconciler *r)
{
    long long t0 = now_us();
    if (atomic_exchange(&r->need_load, false) || !r->snap) {
        if (!load(r)) {
            atomic_store(&r->need_load, true);
            return false;
        }
    }
    struct netmodel *m = &r->snap->m;
    sync_agents(r, m);
    char **vm_err = calloc(m->n_vms ? m->n_vms : 1, sizeof *vm_err);
    uint32_t *vm_port = calloc(m->n_vms ? m->n_vms : 1, sizeof *vm_port);
    if (!vm_err || !vm_port) {
        free(vm_err);
        free(vm_port);
        return false;
    }
    /* OVSDB first, on every host: the port numbers ovs-vswitchd assigns to
     * new ports arrive while the other hosts are being configured, and the
     * flows that need them can go in this same pass. */
    for (size_t h = 0; h < m->n_hosts; h++) {
        struct agent *a = agent_for(r, &m->hosts[h]);
        if (!a) {
            continue;
        }
        free(a->err);
        a->err = NULL;
        a->note = NULL;
        a->sent = 0;
        a->realized = false;
        ovsdb_pass(r, m, (int) h, a, vm_err);
    }
    settle_ports(r, m);
    for (size_t h = 0; h < m->n_hosts; h++) {
        struct agent *a = agent_for(r, &m->hosts[h]);
        if (!a || a->err || a->note) {
            continue;
        }
        iface_pass(m, (int) h, a, vm_err, vm_port);
        if (a->err) {
            continue;
        }
        char refusal[256];
        if (!is_up(r, a->dpid) && get_refusal(r, a->dpid, refusal, sizeof refusal)) {
            agent_error(a, "openflow: bridge %s refused: %s", m->hosts[h].bridge, refusal);
            continue;
        }
        if (!is_up(r, a->dpid)) {
            if (!a->of_ever_up && now_us() - a->of_since < CONNECT_GRACE_US) {
                a->note = "waiting for the bridge's OpenFlow connection";
            } else {
                agent_error(a, "openflow: bridge %s is not connected (%s)",
                            m->hosts[h].bridge, m->hosts[h].openflow[0]
                            ? m->hosts[h].openflow : "waiting for it to connect");
            }
            continue;
        }
        a->of_ever_up = true;
        if (!flow_pass(r, m, (int) h, a)) {
            bool all_ports = true;
            struct nm_port *ports;
            size_t n;
            if (!netmodel_ports(m, (int) h, &ports, &n)) {
                struct port_lookup pl = { m, ovsdb_get_replica(a->db) };
                for (size_t i = 0; i < n; i++) {
                    if (ports[i].kind == NM_PORT_TUNNEL
                        && !lookup_ofport(&pl, (int) h, ports[i].name)) {
                        all_ports = false;
                    }
                }
                free(ports);
            }
            a->realized = all_ports;
            lldp_probe(r, m, (int) h, a);
        }
        a->seqno = ovsdb_get_replica(a->db)->seqno;
    }
    bool done = compute_statuses(r, m, vm_err, vm_port);
    for (size_t v = 0; v < m->n_vms; v++) {
        free(vm_err[v]);
    }
    free(vm_err);
    free(vm_port);
    pthread_mutex_lock(&r->mu);
    r->stats.passes++;
    r->stats.last_pass_us = now_us() - t0;
    r->stats.converged = done;
    pthread_mutex_unlock(&r->mu);
    return done;
}

static void *
run(void *arg)
{
    struct reconciler *r = arg;
    long long next = 0;             /* ms, monotonic */
    while (!atomic_load(&r->stop)) {
        size_t cap = r->n_agents + 2;
        struct pollfd *pfd = calloc(cap, sizeof *pfd);
        if (!pfd) {
            usleep(100000);
            continue;
        }
        size_t n = 0;
        pfd[n++] = (struct pollfd) { .fd = r->wake_fd, .events = POLLIN };
        int sfd = r->store.fd ? r->store.fd(r->aux) : -1;
        pfd[n++] = (struct pollfd) { .fd = sfd, .events = POLLIN };
        long long now = ovsdb_now_ms();
        long long timeout = next > now ? next - now : 0;
        for (size_t i = 0; i < r->n_agents; i++) {
            struct ovsdb *db = r->agents[i].db;
            pfd[n++] = (struct pollfd) { .fd = db ? ovsdb_fd(db) : -1,
                                         .events = db ? ovsdb_events(db) : 0 };
            int t = db ? ovsdb_timeout_ms(db) : -1;
            if (t >= 0 && t < timeout) {
                timeout = t;
            }
        }
        poll(pfd, n, (int) (timeout > 1000 ? 1000 : timeout));
        now = ovsdb_now_ms();
        if (pfd[0].revents & POLLIN) {
            uint64_t v;
            ssize_t k = read(r->wake_fd, &v, sizeof v);
            (void) k;
            next = now;
        }
        if (sfd >= 0 && pfd[1].revents && r->store.drain && r->store.drain(r->aux)) {
            atomic_store(&r->need_load, true);
            next = now;
        }
        for (size_t i = 0; i < r->n_agents; i++) {
            struct agent *a = &r->agents[i];
            if (a->db) {
                ovsdb_run(a->db);
                if (ovsdb_get_replica(a->db)->seqno != a->seqno && next > now + 20) {
                    next = now + 20;
                }
            }
        }
        free(pfd);
        if (now >= next) {
            bool done = pass(r);
            now = ovsdb_now_ms();
            if (done) {
                atomic_store(&r->need_load, true);  /* resync re-reads all */
            }
            next = now + (done ? r->opt.resync_ms : r->opt.retry_ms);
        }
    }
    return NULL;
}

struct reconciler *
reconciler_create(const struct recon_store *store, void *aux,
                  const struct recon_options *opt)
{
    struct reconciler *r = calloc(1, sizeof *r);
    if (!r) {
        return NULL;
    }
    r->store = *store;
    r->aux = aux;
    r->opt = *opt;
    if (!r->opt.resync_ms) r->opt.resync_ms = 10000;
    if (!r->opt.retry_ms) r->opt.retry_ms = 250;
    atomic_init(&r->stop, false);
    atomic_init(&r->need_load, true);
    atomic_init(&r->reactive_woke_us, 0);
    pthread_mutex_init(&r->mu, NULL);
    r->wake_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    static const struct ofctl_callbacks cbs = {
        .switch_admit = cb_switch_admit,
        .switch_up = cb_switch_up, .switch_down = cb_switch_down,
        .packet_in = cb_packet_in,
    };
    /* A bridge's management socket appears only once the reconciler has
     * created the bridge, and reappears soon after a switch restarts: keep
     * retrying often (a refused connect to a local socket costs nothing),
     * so a bridge is programmed within a second of coming up. */
    static const struct ofctl_options ofopt = {
        .backoff_min_ms = 50, .backoff_max_ms = 1000,
    };
    r->ctl = r->wake_fd >= 0 ? ofctl_create(&cbs, r, &ofopt) : NULL;
    if (!r->ctl) {
        VLOG_ERR_(MOD, "cannot start the OpenFlow controller");
        goto fail;
    }
    if (r->opt.openflow_listen) {
        int rc = ofctl_listen(r->ctl, r->opt.openflow_listen, NULL);
        if (rc) {
            VLOG_ERR_(MOD, "cannot listen for OpenFlow on %s: %s",
                      r->opt.openflow_listen, strerror(rc));
            goto fail;
        }
        VLOG_INF(MOD, "listening for bridges on %s", r->opt.openflow_listen);
    }
    if (pthread_create(&r->thread, NULL, run, r)) {
        goto fail;
    }
    return r;

fail:
    ofctl_destroy(r->ctl);
    if (r->wake_fd >= 0) {
        close(r->wake_fd);
    }
    pthread_mutex_destroy(&r->mu);
    free(r);
    return NULL;
}

void
reconciler_destroy(struct reconciler *r)
{
    if (!r) {
        return;
    }
    atomic_store(&r->stop, true);
    wake(r);
    pthread_join(r->thread, NULL);
    for (size_t i = 0; i < r->n_agents; i++) {
        agent_close(r, &r->agents[i]);
    }
    ofctl_destroy(r->ctl);
    free(r->agents);
    buf_uninit(&r->scratch[0]);
    buf_uninit(&r->scratch[1]);
    if (r->snap) {
        urcu_bp_synchronize_rcu();
        netmodel_free(&r->snap->m);
        free(r->snap);
    }
    close(r->wake_fd);
    pthread_mutex_destroy(&r->mu);
    free(r->up);
    free(r->links);
    free(r->refusals);
    free(r);
}

void
reconciler_get_stats(struct reconciler *r, struct recon_stats *out)
{
    pthread_mutex_lock(&r->mu);
    *out = r->stats;
    pthread_mutex_unlock(&r->mu);
}

static bool
topology_is_up(void *aux, uint64_t dpid)
{
    return is_up(aux, dpid);
}

json_t *
reconciler_topology(struct reconciler *r)
{
    json_t *out = NULL;
    pthread_mutex_lock(&r->mu);
    size_t n = r->n_links;
    struct topology_lldp *links = calloc(n ? n : 1, sizeof *links);
    for (size_t i = 0; links && i < n; i++) {
        links[i] = (struct topology_lldp) {
            r->links[i].a_dpid, r->links[i].b_dpid, r->links[i].a_port, r->links[i].b_port,
        };
    }
    pthread_mutex_unlock(&r->mu);
    if (!links) {
        return NULL;
    }
    urcu_bp_read_lock();
    struct snapshot *s = rcu_dereference(r->snap);
    if (s) {
        out = topology_json(&s->m, topology_is_up, r, links, n);
    }
    urcu_bp_read_unlock();
    free(links);
    return out;
}
