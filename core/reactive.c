/* reactive.c: the reactive decision for tenant-table misses.  The design
 * is in reactive.h; the forwarding it reproduces is netmodel.c's. */
#include "core/reactive.h"

#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "core/packet.h"

#define PKT_REASON_NO_MATCH 0
#define PKT_REASON_ACTION 1

int
reactive_parse(const uint8_t *f, size_t len, struct reactive_pkt *pkt)
{
    if (!f || len < 14) {
        return EINVAL;
    }
    pkt->eth_dst = packet_get_mac(f);
    pkt->eth_src = packet_get_mac(f + 6);
    size_t off = 12;
    uint16_t type = (uint16_t) (f[off] << 8 | f[off + 1]);
    if (type == ETH_TYPE_VLAN) {
        if (len < 18) {
            return EINVAL;
        }
        off += 4;
        type = (uint16_t) (f[off] << 8 | f[off + 1]);
    }
    off += 2;
    pkt->eth_type = type;
    pkt->ipv4_src = 0;
    if (type == ETH_TYPE_IP) {
        if (len < off + 20) {
            return EINVAL;
        }
        const uint8_t *ip = f + off + 12;
        pkt->ipv4_src = (uint32_t) ip[0] << 24 | (uint32_t) ip[1] << 16
                        | (uint32_t) ip[2] << 8 | ip[3];
    }
    return 0;
}

void
reactive_result_free(struct reactive_result *res)
{
    free(res->acts);
    res->acts = NULL;
    res->n_acts = res->cap_acts = 0;
}

static int
add_act(struct reactive_result *res, enum nm_act_type type, uint64_t arg)
{
    if (res->n_acts == res->cap_acts) {
        size_t cap = res->cap_acts ? 2 * res->cap_acts : 4;
        struct nm_act *g = realloc(res->acts, cap * sizeof *g);
        if (!g) {
            return ENOMEM;
        }
        res->acts = g;
        res->cap_acts = cap;
    }
    res->acts[res->n_acts++] = (struct nm_act) { (uint8_t) type, arg };
    return 0;
}

static int
drop(struct reactive_result *res, const char *why)
{
    res->verdict = REACTIVE_DROP;
    res->why = why;
    res->n_acts = 0;
    return 0;
}

static uint32_t
vm_port(const struct netmodel *m, int h, int v, nm_ofport_fn *ofport, void *aux)
{
    char name[16];
    netmodel_vm_port_name(m, v, name);
    return ofport(aux, h, name);
}

static uint32_t
tunnel_port(const struct netmodel *m, int h, int peer, nm_ofport_fn *ofport, void *aux)
{
    char name[16];
    netmodel_tunnel_name(m, h, peer, name);
    return ofport(aux, h, name);
}

/* Broadcast from host 'h' for component 'comp': the local members but the
 * sender as sent, then the platform source MAC and the tunnels toward the
 * neighbours whose breadth-first subtree (rooted at 'h') holds a member. */
static int
broadcast(const struct netmodel *m, int h, int s, int comp, nm_ofport_fn *ofport,
          void *aux, struct reactive_result *res)
{
    int rc = 0;
    for (const int *d = m->comp_vms[comp]; *d >= 0 && !rc; d++) {
        if (*d != s && m->vms[*d].host == h && !m->switches[m->vms[*d].sw].tenant_ctl) {
            uint32_t p = vm_port(m, h, *d, ofport, aux);
            if (p) {
                rc = add_act(res, NA_OUTPUT, p);
            }
        }
    }
    rc = rc ? rc : add_act(res, NA_SET_ETH_SRC, netmodel_wire_mac(m, s));
    if (rc) {
        return rc;
    }
    size_t nh = m->n_hosts;
    int *parent = malloc(nh * sizeof *parent);
    int *queue = malloc(nh * sizeof *queue);
    uint8_t *sub = calloc(nh, 1);
    if (!parent || !queue || !sub) {
        free(parent);
        free(queue);
        free(sub);
        return ENOMEM;
    }
    netmodel_bcast_tree(m, h, comp, parent, sub, queue);
    for (const int *n = m->adj[h]; *n >= 0 && !rc; n++) {
        if (parent[*n] == h && sub[*n]) {
            uint32_t p = tunnel_port(m, h, *n, ofport, aux);
            if (p) {
                rc = add_act(res, NA_OUTPUT, p);
            }
        }
    }
    free(parent);
    free(queue);
    free(sub);
    return rc;
}

/* Each output of 'res' into a tunnel that has a fast-failover group here
 * (netmodel_groups(): at a gateway of mst+backup a tree tunnel with a
 * detour, and toward a cloud with two gateways) goes to that group
 * instead, as the proactive flows do, so a frame sent while the tunnel is
 * cut or its far end dead takes the detour or the twin.  The groups are
 * computed for this frame: the reactive path is rare, and they cost a
 * few breadth-first searches over the clouds.  0 or ENOMEM. */
static int
to_groups(const struct netmodel *m, int h, nm_ofport_fn *ofport, void *aux,
          struct reactive_result *res)
{
    struct nm_group *g;
    size_t n;
    int rc = netmodel_groups(m, h, ofport, aux, &g, &n);
    for (size_t i = 0; !rc && i < n; i++) {
        for (size_t k = 0; k < res->n_acts; k++) {
            if (res->acts[k].type == NA_OUTPUT && res->acts[k].arg == g[i].b[0].out) {
                res->acts[k] = (struct nm_act) {NA_GROUP, g[i].id};
            }
        }
    }
    if (!rc) {
        free(g);
    }
    return rc == ENOMEM ? ENOMEM : 0;
}

int
reactive_decide(const struct netmodel *m, int h, nm_ofport_fn *ofport, void *aux,
                const struct reactive_pkt *pkt, struct reactive_result *res)
{
    memset(res, 0, sizeof *res);
    res->src_vm = res->dst_vm = -1;
    res->verdict = REACTIVE_NOT_MINE;
    if (h < 0 || (size_t) h >= m->n_hosts || !ofport) {
        return EINVAL;
    }
    if (pkt->table_id != NM_T_TENANT
        || (pkt->reason != PKT_REASON_NO_MATCH && pkt->reason != PKT_REASON_ACTION)
        || pkt->cookie != netmodel_cookie(NM_CK_INFRA, 0, 0)) {
        return 0;
    }

    /* The sender: what table 0's port security let through. */
    uint32_t comp_name = (uint32_t) (pkt->metadata >> 32);
    int s = -1;
    for (const int *v = m->vms_on_host[h]; *v >= 0; v++) {
        const struct nm_vm *vm = &m->vms[*v];
        if (vm->mac == pkt->eth_src && m->vm_comp[*v] >= 0
            && netmodel_vm_comp(m, *v) == comp_name
            && vm_port(m, h, *v, ofport, aux) == pkt->in_port) {
            s = *v;
            break;
        }
    }
    if (s < 0) {
        return drop(res, "no VM of this host sends from that port, MAC and component");
    }
    res->src_vm = s;
    if (pkt->eth_type != ETH_TYPE_IP || pkt->ipv4_src != m->vms[s].ip) {
        return drop(res, "not the sender's IPv4 address");
    }
    int comp = m->vm_comp[s];
    res->verdict = REACTIVE_FORWARD;

    if (pkt->eth_dst & ETH_MAC_GROUP_BIT) {
        int rc = broadcast(m, h, s, comp, ofport, aux, res);
        bool any = false;
        for (size_t i = 0; i < res->n_acts; i++) {
            any |= res->acts[i].type == NA_OUTPUT;
        }
        if (!rc && !any) {
            return drop(res, "no port to broadcast to");
        }
        return rc ? rc : to_groups(m, h, ofport, aux, res);
    }

    /* Unicast: a member of the sender's own component, or nothing. */
    int d = -1;
    for (const int *v = m->comp_vms[comp]; *v >= 0; v++) {
        if (m->vms[*v].mac == pkt->eth_dst) {
            d = *v;
            break;
        }
    }
    if (d < 0) {
        return drop(res, "destination not in the sender's component");
    }
    if (d == s) {
        return drop(res, "destination is the sender");
    }
    if (m->switches[m->vms[d].sw].tenant_ctl) {
        /* Its tenant's flows decide, where the proactive entry leads. */
        return drop(res, "destination is behind its tenant's controller");
    }
    res->dst_vm = d;
    int dh = m->vms[d].host;
    if (dh == h) {
        uint32_t p = vm_port(m, h, d, ofport, aux);
        if (!p) {
            return drop(res, "destination port not numbered yet");
        }
        return add_act(res, NA_OUTPUT, p);
    }
    int nx = netmodel_next_hop(m, h, dh);
    uint32_t p = nx >= 0 && nx != h ? tunnel_port(m, h, nx, ofport, aux) : 0;
    if (!p) {
        return drop(res, "no tunnel toward the destination's host");
    }
    int rc = add_act(res, NA_SET_ETH_DST, netmodel_wire_mac(m, d));
    rc = rc ? rc : add_act(res, NA_SET_ETH_SRC, netmodel_wire_mac(m, s));
    rc = rc ? rc : add_act(res, NA_OUTPUT, p);
    return rc ? rc : to_groups(m, h, ofport, aux, res);
}
