/* recon_packetin.c: what the controller's loop thread calls into the
 * reconciler (recon_internal.h): switch admission (a TLS switch's
 * certificate must name its host), switches up and down, and packet-ins:
 * ARP requests answered from the snapshot, LLDP probes recording physical
 * links, and the reactive path for frames that missed in the tenant table
 * (core/reactive.h).  Nothing here blocks; the snapshot is read under
 * urcu_bp_read_lock(), the shared lists under the reconciler's mutex. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <urcu/urcu-bp.h>

#include "core/certname.h"
#include "core/packet.h"
#include "core/reactive.h"
#include "core/vlog.h"
#include "ctrl/ofmsg.h"
#include "ctrl/recon_internal.h"
#include "ctrl/recon_migration.h"
#include "ctrl/recon_tenant_ctl.h"

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

bool
recon_get_refusal(struct reconciler *r, uint64_t dpid, char *buf, size_t size)
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
        recon_wake(r);                    /* the host's status says why */
    }
    return ok;
}

/* Notes that 'dpid' (re)connected or left: its installed-flow table is
 * read back by the next pass.  Called with r->mu held. */
static void
note_reconnected(struct reconciler *r, uint64_t dpid)
{
    uint64_t *g = realloc(r->reconnected, (r->n_reconnected + 1) * sizeof *g);
    if (g) {
        r->reconnected = g;
        r->reconnected[r->n_reconnected++] = dpid;
    }
}

void
recon_post_event(struct reconciler *r, const struct recon_event *ev)
{
    pthread_mutex_lock(&r->mu);
    struct recon_event *g = realloc(r->events, (r->n_events + 1) * sizeof *g);
    if (g) {
        r->events = g;
        r->events[r->n_events++] = *ev;
    }
    pthread_mutex_unlock(&r->mu);
    uint64_t one = 1;
    ssize_t n = write(r->event_fd, &one, sizeof one);
    (void) n;
}

static void
cb_switch_up(void *aux, const struct ofctl_switch_info *info)
{
    struct reconciler *r = aux;
    pthread_mutex_lock(&r->mu);
    note_reconnected(r, info->dpid);
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
    recon_wake(r);
}

static void
cb_switch_down(void *aux, uint64_t dpid)
{
    struct reconciler *r = aux;
    pthread_mutex_lock(&r->mu);
    note_reconnected(r, dpid);
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
    recon_wake(r);
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

void
recon_packet_out(struct reconciler *r, uint64_t dpid, uint32_t port, uint8_t *frame,
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
/* The migrating VM whose second place is host 'h' (core/netmodel.h, live
 * migration) and whose own flow (cookie) sent a frame from MAC 'src' to
 * the controller, -1 if none. */
static int
migrating_vm(const struct netmodel *m, int h, uint64_t cookie, uint64_t src)
{
    for (const int *v = m->mig_vms; v && *v >= 0; v++) {
        if (netmodel_vm_second(m, *v) == h && m->vms[*v].mac == src
            && netmodel_vm_cookie(m, *v) == cookie) {
            return *v;
        }
    }
    return -1;
}

static void
handle_arp(struct reconciler *r, const struct netmodel *m, int h, uint64_t dpid,
           uint32_t in_port, uint64_t cookie, const uint8_t *p, size_t len,
           size_t l2)
{
    if (len < l2 + 28) {
        return;
    }
    const uint8_t *a = p + l2;
    if (a[6] != 0 || a[7] != ARP_OP_REQUEST) {
        return;
    }
    uint64_t sha = packet_get_mac(a + 8);
    uint32_t spa = get_u32(a + 14), tpa = get_u32(a + 24);
    int s = migrating_vm(m, h, cookie, sha);
    for (const int *v = m->vms_on_host[h]; s < 0 && *v >= 0; v++) {
        if (m->vms[*v].mac == sha && m->vms[*v].ip == spa
            && netmodel_vm_cookie(m, *v) == cookie) {
            s = *v;
            break;
        }
    }
    if (s >= 0 && m->vms[s].ip != spa) {
        return;
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
    packet_put_mac(reply, sha);
    packet_put_mac(reply + 6, m->vms[d].mac);
    uint8_t *ra = reply + l2;
    memcpy(ra, a, 6);                               /* htype, ptype, hlen, plen */
    ra[6] = 0;
    ra[7] = ARP_OP_REPLY;
    packet_put_mac(ra + 8, m->vms[d].mac);
    put_u32(ra + 14, m->vms[d].ip);
    packet_put_mac(ra + 18, sha);
    put_u32(ra + 24, spa);
    size_t n = l2 + 28 < 60 ? 60 : l2 + 28;
    recon_packet_out(r, dpid, in_port, reply, n);
    pthread_mutex_lock(&r->mu);
    r->stats.arp_replies++;
    pthread_mutex_unlock(&r->mu);
}

/* LLDP probe format: chassis id "dpid:<16 hex>", port id "<port>". */
size_t
recon_lldp_build(uint8_t *f, size_t cap, uint64_t dpid, uint32_t port)
{
    char chassis[32], portid[16];
    int nc = snprintf(chassis, sizeof chassis, "dpid:%016" PRIx64, dpid);
    int np = snprintf(portid, sizeof portid, "%" PRIu32, port);
    size_t n = 0;
    if (cap < 14 + 2 + 1 + (size_t) nc + 2 + 1 + (size_t) np + 4 + 2) {
        return 0;
    }
    packet_put_mac(f, ETH_MAC_LLDP);
    packet_put_mac(f + 6, 0x5a0000000000ull | (dpid & 0xffffffffffull));
    f[12] = ETH_TYPE_LLDP >> 8;
    f[13] = ETH_TYPE_LLDP & 0xff;
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
    long long now = recon_now_us();
    long long prev = atomic_load_explicit(&r->reactive_woke_us, memory_order_relaxed);
    if (now - prev >= REACTIVE_WAKE_US
        && atomic_compare_exchange_strong(&r->reactive_woke_us, &prev, now)) {
        recon_wake(r);
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
                } else if (res.acts[i].type == NA_GROUP) {
                    a[i].type = OFPAT_GROUP;        /* a tree tunnel's failover */
                    a[i].u.group_id = (uint32_t) res.acts[i].arg;
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
                          : pkt.eth_dst & ETH_MAC_GROUP_BIT ? "broadcast" : "?";
        if (res.verdict == REACTIVE_FORWARD) {
            VLOG_DBG(RECON_MOD, "reactive: host %s: %s -> %s forwarded (%zu actions)", host,
                     src, dst, res.n_acts);
        } else {
            VLOG_DBG(RECON_MOD, "reactive: host %s: %s -> %012" PRIx64 " dropped: %s", host,
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
        if (res.verdict == REACTIVE_FORWARD) {
            struct recon_event ev = { .dpid = dpid, .miss = true };
            recon_post_event(r, &ev);
        }
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
    if (type == ETH_TYPE_VLAN && pi->len >= 18) {
        l2 = 16;
        type = (uint16_t) (p[16] << 8 | p[17]);
    }
    l2 += 2;
    if (type == ETH_TYPE_LLDP) {
        handle_lldp(r, dpid, (uint32_t) in_port, p, pi->len);
        return;
    }
    if (pi->table_id == NM_T_TENANT) {
        handle_reactive(r, dpid, (uint32_t) in_port, pi);
        return;
    }
    if (recon_tenant_ctl_packet_in(r, dpid, pi)) {
        return;                     /* a frame for its tenant's controller */
    }
    if (type != ETH_TYPE_ARP && type != ETH_TYPE_RARP) {
        return;
    }
    urcu_bp_read_lock();
    struct snapshot *s = rcu_dereference(r->snap);
    if (s) {
        int h = netmodel_host_by_dpid(&s->m, dpid);
        /* A migrating VM's ARP or RARP at its target while both places
         * receive its traffic: its first frames there (activation). */
        int v = h >= 0 && pi->table_id == NM_T_CLASSIFY
                ? migrating_vm(&s->m, h, pi->cookie, packet_get_mac(p + 6)) : -1;
        if (v >= 0 && s->m.vms[v].mig == NM_MIG_DUAL) {
            recon_mig_first_frame(r, s->m.vms[v].o.id);
        }
        if (h >= 0 && type == ETH_TYPE_ARP) {
            handle_arp(r, &s->m, h, dpid, (uint32_t) in_port, pi->cookie, p,
                       pi->len, l2);
        }
    }
    urcu_bp_read_unlock();
}

/* A flow of ours went away (our own deletions too: the reconciler thread
 * tells them apart, they have left its table by the time it looks). */
static void
cb_flow_removed(void *aux, uint64_t dpid, const struct ofmsg_flow_removed *fr)
{
    struct reconciler *r = aux;
    if ((fr->cookie & NM_COOKIE_MASK) != NM_COOKIE_MAGIC) {
        return;
    }
    struct recon_event ev = {
        .dpid = dpid, .table = fr->table_id, .priority = fr->priority,
        .match = fr->match,
    };
    recon_post_event(r, &ev);
}

const struct ofctl_callbacks recon_callbacks = {
    .switch_admit = cb_switch_admit,
    .switch_up = cb_switch_up, .switch_down = cb_switch_down,
    .packet_in = cb_packet_in, .flow_removed = cb_flow_removed,
    .fenced = recon_owner_fenced,
};
