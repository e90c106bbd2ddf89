/* test_reactive.c: the reactive path of core/reactive.c.
 *
 * The reference is the proactive pipeline itself: the flows of
 * core/netmodel.c run by a small OpenFlow interpreter (the one of
 * test_netmodel.c, which also records what a controller action sends up).
 * For every sender and every destination (each VM's MAC, a MAC nobody has,
 * broadcast), the frame is first run through the complete tables of every
 * bridge; then again with the sender's bridge stripped of its tenant-table
 * flows, so it misses in table 10 and goes to the controller; the reactive
 * decision's actions are applied to exactly what the packet-in carried,
 * and tunnel outputs continue through the other bridges' real tables.  The
 * deliveries (bridge, port, source and destination MAC) must be the same,
 * drops included: isolation holds on this path because it forwards exactly
 * as the pipeline does.  Table-driven cases then check what the pipeline
 * never produces: forged or stale packet-ins, other tables and cookies,
 * ports not numbered yet, and frames too short to parse. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "core/netmodel.h"
#include "core/reactive.h"
#include "core/wanff.h"

#define NM_WORLD_EXTRA_VMS
#include "tests/unit/nm_world.h"

/* --- the interpreter --- */

struct pkt {
    uint64_t f[NF__COUNT];
};

struct delivery {
    int host;
    uint32_t port;
    uint64_t src, dst;
};

static struct nm_flows tables[N_HOSTS];
static struct delivery got[64];
static size_t n_got, n_controller;
static struct pkt to_ctl;               /* the last frame sent to the controller */
static int to_ctl_host;
static uint8_t to_ctl_table;
static uint64_t to_ctl_cookie;

static void run_table(const struct netmodel *, int h, uint8_t table, struct pkt *);

static bool
flow_matches(const struct nm_flow *f, const struct pkt *p)
{
    for (int i = 0; i < NF__COUNT; i++) {
        if (f->present & (1u << i) && (p->f[i] & f->mask[i]) != f->value[i]) {
            return false;
        }
    }
    return true;
}

static void
receive(const struct netmodel *m, int h, uint32_t port, struct pkt p)
{
    p.f[NF_IN_PORT] = port;
    p.f[NF_METADATA] = 0;
    run_table(m, h, NM_T_CLASSIFY, &p);
}

static void
output(const struct netmodel *m, int h, uint32_t port, const struct pkt *p)
{
    if (port == p->f[NF_IN_PORT]) {
        return;
    }
    const char *name = portnames[h][port - 1].name;
    for (const int *peer = m->adj[h]; *peer >= 0; peer++) {
        char tn[16];
        netmodel_tunnel_name(m, h, *peer, tn);
        if (!strcmp(tn, name)) {
            char back[16];
            netmodel_tunnel_name(m, *peer, h, back);
            receive(m, *peer, ofport_of(NULL, *peer, back), *p);
            return;
        }
    }
    assert_true(n_got < 64);
    got[n_got++] = (struct delivery) {h, port, p->f[NF_ETH_SRC], p->f[NF_ETH_DST]};
}

static void
run_table(const struct netmodel *m, int h, uint8_t table, struct pkt *p)
{
    const struct nm_flow *best = NULL;
    for (size_t i = 0; i < tables[h].n; i++) {
        const struct nm_flow *f = &tables[h].v[i];
        if (f->table == table && flow_matches(f, p)
            && (!best || f->priority > best->priority)) {
            best = f;
        }
    }
    if (!best) {
        return;                             /* OpenFlow 1.3 table miss: drop */
    }
    struct pkt q = *p;
    for (size_t i = 0; i < best->n_acts; i++) {
        const struct nm_act *a = &best->acts[i];
        switch (a->type) {
        case NA_OUTPUT: output(m, h, (uint32_t) a->arg, &q); break;
        case NA_CONTROLLER:
            n_controller++;
            to_ctl = q;                 /* what the packet-in carries */
            to_ctl_host = h;
            to_ctl_table = table;
            to_ctl_cookie = best->cookie;
            break;
        case NA_SET_ETH_SRC: q.f[NF_ETH_SRC] = a->arg; break;
        case NA_SET_ETH_DST: q.f[NF_ETH_DST] = a->arg; break;
        }
    }
    if (best->write_meta) {
        q.f[NF_METADATA] = (q.f[NF_METADATA] & ~best->meta_mask)
                           | (best->meta & best->meta_mask);
    }
    if (best->goto_table != NM_NO_GOTO) {
        assert_true(best->goto_table > table);
        run_table(m, h, best->goto_table, &q);
    }
}

static void
compile_all(const struct netmodel *m)
{
    memset(portnames, 0, sizeof portnames);
    for (int h = 0; h < N_HOSTS; h++) {
        nm_flows_clear(&tables[h]);
        assert_int_equal(netmodel_flows(m, h, ofport_of, NULL, &tables[h]), 0);
    }
}

static void
free_all(struct netmodel *m)
{
    for (int h = 0; h < N_HOSTS; h++) {
        nm_flows_clear(&tables[h]);
    }
    netmodel_free(m);
}

static uint32_t
vm_port(const struct netmodel *m, int vm)
{
    return ofport_of(NULL, m->vms[vm].host, m->vms[vm].iface);
}

/* Sends a frame from VM 'from' (by default with its own addresses). */
static void
send_from(const struct netmodel *m, int from, uint64_t src, uint64_t dst,
          uint16_t type, uint32_t ip_src)
{
    n_got = n_controller = 0;
    struct pkt p = {{0}};
    p.f[NF_ETH_SRC] = src;
    p.f[NF_ETH_DST] = dst;
    p.f[NF_ETH_TYPE] = type;
    p.f[NF_IPV4_SRC] = ip_src;
    p.f[NF_ARP_SPA] = ip_src;
    p.f[NF_ARP_SHA] = src;
    receive(m, m->vms[from].host, vm_port(m, from), p);
}

static void
send_ip(const struct netmodel *m, int from, uint64_t dst)
{
    send_from(m, from, m->vms[from].mac, dst, 0x0800, m->vms[from].ip);
}

/* --- the reactive path, replayed --- */

static const char *hidden_port;        /* ofport_hiding() reports it as 0 */

static uint32_t
ofport_hiding(void *aux, int h, const char *name)
{
    if (hidden_port && !strcmp(name, hidden_port)) {
        return 0;
    }
    return ofport_of(aux, h, name);
}

static int
cmp_delivery(const void *a, const void *b)
{
    const struct delivery *x = a, *y = b;
    if (x->host != y->host) return x->host < y->host ? -1 : 1;
    if (x->port != y->port) return x->port < y->port ? -1 : 1;
    if (x->src != y->src) return x->src < y->src ? -1 : 1;
    if (x->dst != y->dst) return x->dst < y->dst ? -1 : 1;
    return 0;
}

/* The packet-in the switch would send for 'to_ctl'. */
static struct reactive_pkt
packet_in_of(const struct pkt *p, uint8_t table, uint64_t cookie)
{
    struct reactive_pkt pk = {
        .table_id = table, .reason = 0, .cookie = cookie,
        .in_port = (uint32_t) p->f[NF_IN_PORT], .metadata = p->f[NF_METADATA],
        .eth_dst = p->f[NF_ETH_DST], .eth_src = p->f[NF_ETH_SRC],
        .eth_type = (uint16_t) p->f[NF_ETH_TYPE], .ipv4_src = (uint32_t) p->f[NF_IPV4_SRC],
    };
    return pk;
}

/* Applies a decision's actions on host 'h' to 'p', as a packet-out would. */
static void
apply(const struct netmodel *m, int h, const struct reactive_result *res, struct pkt p)
{
    for (size_t i = 0; i < res->n_acts; i++) {
        const struct nm_act *a = &res->acts[i];
        switch (a->type) {
        case NA_OUTPUT: output(m, h, (uint32_t) a->arg, &p); break;
        case NA_SET_ETH_SRC: p.f[NF_ETH_SRC] = a->arg; break;
        case NA_SET_ETH_DST: p.f[NF_ETH_DST] = a->arg; break;
        default: fail_msg("unexpected action %u", a->type);
        }
    }
}

/* Removes host h's tenant-table flows but the table-miss one. */
static void
strip_tenant_table(int h)
{
    struct nm_flows *t = &tables[h];
    size_t w = 0;
    for (size_t i = 0; i < t->n; i++) {
        if (t->v[i].table == NM_T_TENANT && t->v[i].priority > 0) {
            free(t->v[i].acts);
        } else {
            t->v[w++] = t->v[i];
        }
    }
    t->n = w;
}

/* Proactive vs reactive for one frame from 's' to 'dst'; returns how many
 * deliveries both made. */
static size_t
compare_one(struct netmodel *m, int s, uint64_t dst)
{
    compile_all(m);
    send_ip(m, s, dst);
    struct delivery want[64];
    size_t n_want = n_got;
    memcpy(want, got, n_got * sizeof *got);
    if (n_controller) {
        /* Even with every flow installed, a destination outside the
         * component misses in table 10: the reactive path must drop it. */
        assert_int_equal(n_want, 0);
        assert_int_equal(to_ctl_table, NM_T_TENANT);
        struct reactive_pkt pk = packet_in_of(&to_ctl, to_ctl_table, to_ctl_cookie);
        struct reactive_result res;
        assert_int_equal(reactive_decide(m, to_ctl_host, ofport_of, NULL, &pk, &res), 0);
        assert_int_equal(res.verdict, REACTIVE_DROP);
        reactive_result_free(&res);
    }

    strip_tenant_table(m->vms[s].host);
    send_ip(m, s, dst);
    assert_int_equal(n_got, 0);
    assert_int_equal(n_controller, 1);
    assert_int_equal(to_ctl_host, m->vms[s].host);
    struct reactive_pkt pk = packet_in_of(&to_ctl, to_ctl_table, to_ctl_cookie);
    struct reactive_result res;
    assert_int_equal(reactive_decide(m, to_ctl_host, ofport_of, NULL, &pk, &res), 0);
    assert_int_not_equal(res.verdict, REACTIVE_NOT_MINE);
    assert_int_equal(res.src_vm, s);
    n_got = 0;
    if (res.verdict == REACTIVE_FORWARD) {
        apply(m, to_ctl_host, &res, to_ctl);
    } else {
        assert_int_equal(res.n_acts, 0);
    }
    reactive_result_free(&res);
    qsort(want, n_want, sizeof *want, cmp_delivery);
    qsort(got, n_got, sizeof *got, cmp_delivery);
    if (n_got != n_want || memcmp(got, want, n_got * sizeof *got)) {
        fail_msg("vm %d -> %012llx: proactive delivered %zu, reactive %zu", s,
                 (unsigned long long) dst, n_want, n_got);
    }
    return n_got;
}

static void
test_same_as_proactive(void **state)
{
    (void) state;
    for (int layout = 0; layout < 2; layout++) {
        struct netmodel m;
        build(&m, layout ? TUNNELS_FULL_MESH : TUNNELS_MST);
        size_t forwarded = 0, dropped = 0;
        for (int s = 0; s < N_VMS; s++) {
            for (int d = 0; d <= N_VMS + 1; d++) {
                uint64_t dst = d < N_VMS ? m.vms[d].mac
                             : d == N_VMS ? 0x02000000abcdull   /* nobody */
                             : 0xffffffffffffull;               /* broadcast */
                size_t n = compare_one(&m, s, dst);
                forwarded += n > 0;
                dropped += n == 0;
            }
        }
        /* The scenario exercises both outcomes (and tunnels, see below). */
        assert_true(forwarded > 10);
        assert_true(dropped > 10);
        free_all(&m);
    }
}

/* The cases spelled out: who gets what, by tunnel or locally. */
static void
test_decisions(void **state)
{
    (void) state;
    struct netmodel m;
    build(&m, TUNNELS_MST);
    compile_all(&m);
    char tn[16];
    netmodel_tunnel_name(&m, A_H1, A_GW, tn);
    uint32_t a_h1_up = ofport_of(NULL, A_H1, tn);
    netmodel_tunnel_name(&m, A_GW, C_GW, tn);
    uint32_t a_gw_to_c = ofport_of(NULL, A_GW, tn);
    netmodel_tunnel_name(&m, A_GW, A_H1, tn);
    uint32_t a_gw_down = ofport_of(NULL, A_GW, tn);
    uint64_t infra = netmodel_cookie(NM_CK_INFRA, 0, 0);
    uint64_t red = (uint64_t) netmodel_vm_comp(&m, RED_WEB) << 32;
    uint64_t blue = (uint64_t) netmodel_vm_comp(&m, BLUE_WEB) << 32;
    assert_int_not_equal(red, blue);

    struct act3 { uint8_t type; uint64_t arg; };
    struct {
        const char *what;
        int h;
        uint8_t table;
        uint64_t cookie;
        int from_port_of;               /* VM whose port is in_port */
        uint64_t meta, src, dst;
        uint32_t ip;
        enum reactive_verdict verdict;
        size_t n_acts;
        struct act3 acts[4];
    } cases[] = {
        {"red web to red app, same bridge: the frame as sent", A_H1, 10, infra,
         RED_WEB, red, 0x020000000001, 0x020000000005, 0x0a000001, REACTIVE_FORWARD, 1,
         {{NA_OUTPUT, 0}}},
        {"red web to red db, another cloud: platform MACs up the tunnel", A_H1, 10, infra,
         RED_WEB, red, 0x020000000001, 0x020000000002, 0x0a000001, REACTIVE_FORWARD, 3,
         {{NA_SET_ETH_DST, 0x0201ull << 32 | 2}, {NA_SET_ETH_SRC, 0x0201ull << 32 | 1},
          {NA_OUTPUT, 1000}}},
        {"blue web to the same MAC: blue's db, blue's tag", A_H1, 10, infra,
         BLUE_WEB, blue, 0x020000000001, 0x020000000002, 0x0a000001, REACTIVE_FORWARD, 3,
         {{NA_SET_ETH_DST, 0xfe02ull << 32 | 1002}, {NA_SET_ETH_SRC, 0xfe02ull << 32 | 1001},
          {NA_OUTPUT, 1000}}},
        {"blue only on a gateway to blue db: the WAN tunnel to onprem", A_GW, 10, infra,
         BLUE_ONLY, blue, 0x020000000009, 0x020000000002, 0x0a000009, REACTIVE_FORWARD, 3,
         {{NA_SET_ETH_DST, 0xfe02ull << 32 | 1002}, {NA_SET_ETH_SRC, 0xfe02ull << 32 | 1009},
          {NA_OUTPUT, 1001}}},
        {"blue only broadcast: pruned tree (no gcp-iowa)", A_GW, 10, infra,
         BLUE_ONLY, blue, 0x020000000009, 0xffffffffffff, 0x0a000009, REACTIVE_FORWARD, 3,
         {{NA_SET_ETH_SRC, 0xfe02ull << 32 | 1009}, {NA_OUTPUT, 1002}, {NA_OUTPUT, 1001}}},
        {"red web broadcast: red app as sent, then the tunnel", A_H1, 10, infra,
         RED_WEB, red, 0x020000000001, 0xffffffffffff, 0x0a000001, REACTIVE_FORWARD, 3,
         {{NA_OUTPUT, 0}, {NA_SET_ETH_SRC, 0x0201ull << 32 | 1}, {NA_OUTPUT, 1000}}},
        {"red web to blue only's MAC: another tenant", A_H1, 10, infra,
         RED_WEB, red, 0x020000000001, 0x020000000009, 0x0a000001, REACTIVE_DROP, 0, {{0}}},
        {"red web to red lab, same bridge, unlinked switch", A_H1, 10, infra,
         RED_WEB, red, 0x020000000001, 0x020000000004, 0x0a000001, REACTIVE_DROP, 0, {{0}}},
        {"red web to itself", A_H1, 10, infra,
         RED_WEB, red, 0x020000000001, 0x020000000001, 0x0a000001, REACTIVE_DROP, 0, {{0}}},
        {"red's MAC from blue web's port", A_H1, 10, infra,
         BLUE_WEB, red, 0x020000000001, 0x020000000002, 0x0a000001, REACTIVE_DROP, 0, {{0}}},
        {"red web claiming blue's component", A_H1, 10, infra,
         RED_WEB, blue, 0x020000000001, 0x020000000002, 0x0a000001, REACTIVE_DROP, 0, {{0}}},
        {"no metadata at all", A_H1, 10, infra,
         RED_WEB, 0, 0x020000000001, 0x020000000002, 0x0a000001, REACTIVE_DROP, 0, {{0}}},
        {"forged IPv4 source", A_H1, 10, infra,
         RED_WEB, red, 0x020000000001, 0x020000000002, 0x0a000042, REACTIVE_DROP, 0, {{0}}},
        {"red web's frame on the wrong bridge", B_H1, 10, infra,
         RED_WEB, red, 0x020000000001, 0x020000000002, 0x0a000001, REACTIVE_DROP, 0, {{0}}},
        {"another table", A_H1, 0, infra,
         RED_WEB, red, 0x020000000001, 0x020000000002, 0x0a000001, REACTIVE_NOT_MINE, 0, {{0}}},
        {"a VM's cookie (an ARP packet-in)", A_H1, 10, netmodel_vm_cookie(&m, RED_WEB),
         RED_WEB, red, 0x020000000001, 0x020000000002, 0x0a000001, REACTIVE_NOT_MINE, 0, {{0}}},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        struct reactive_pkt pk = {
            .table_id = cases[i].table, .reason = 0, .cookie = cases[i].cookie,
            .in_port = vm_port(&m, cases[i].from_port_of), .metadata = cases[i].meta,
            .eth_dst = cases[i].dst, .eth_src = cases[i].src, .eth_type = 0x0800,
            .ipv4_src = cases[i].ip,
        };
        struct reactive_result res;
        assert_int_equal(reactive_decide(&m, cases[i].h, ofport_of, NULL, &pk, &res), 0);
        if (res.verdict != cases[i].verdict || res.n_acts != cases[i].n_acts) {
            fail_msg("%s: verdict %d with %zu actions (%s)", cases[i].what, res.verdict,
                     res.n_acts, res.why ? res.why : "-");
        }
        if (res.verdict == REACTIVE_DROP) {
            assert_non_null(res.why);
        }
        for (size_t k = 0; k < res.n_acts; k++) {
            uint64_t arg = cases[i].acts[k].arg;
            /* Port placeholders: 0 red app, 1000 A_H1's uplink, 1001 A_GW
             * toward onprem, 1002 A_GW down to A_H1. */
            if (cases[i].acts[k].type == NA_OUTPUT) {
                arg = arg == 0 ? vm_port(&m, RED_APP) : arg == 1000 ? a_h1_up
                    : arg == 1001 ? a_gw_to_c : a_gw_down;
            }
            if (res.acts[k].type != cases[i].acts[k].type || res.acts[k].arg != arg) {
                fail_msg("%s: action %zu is %u:%llx, want %u:%llx", cases[i].what, k,
                         res.acts[k].type, (unsigned long long) res.acts[k].arg,
                         cases[i].acts[k].type, (unsigned long long) arg);
            }
        }
        reactive_result_free(&res);
    }
    free_all(&m);
}

/* Ports the switch has not numbered yet: no guessing. */
static void
test_unnumbered_ports(void **state)
{
    (void) state;
    struct netmodel m;
    build(&m, TUNNELS_MST);
    compile_all(&m);
    uint64_t red = (uint64_t) netmodel_vm_comp(&m, RED_WEB) << 32;
    struct reactive_pkt pk = {
        .table_id = 10, .cookie = netmodel_cookie(NM_CK_INFRA, 0, 0),
        .in_port = vm_port(&m, RED_WEB), .metadata = red, .eth_src = 0x020000000001,
        .eth_dst = 0x020000000005, .eth_type = 0x0800, .ipv4_src = 0x0a000001,
    };
    struct reactive_result res;
    hidden_port = m.vms[RED_APP].iface;
    assert_int_equal(reactive_decide(&m, A_H1, ofport_hiding, NULL, &pk, &res), 0);
    assert_int_equal(res.verdict, REACTIVE_DROP);
    reactive_result_free(&res);
    char tn[16];
    netmodel_tunnel_name(&m, A_H1, A_GW, tn);
    hidden_port = tn;
    pk.eth_dst = 0x020000000002;
    assert_int_equal(reactive_decide(&m, A_H1, ofport_hiding, NULL, &pk, &res), 0);
    assert_int_equal(res.verdict, REACTIVE_DROP);
    reactive_result_free(&res);
    hidden_port = m.vms[RED_WEB].iface;         /* the sender's own port */
    assert_int_equal(reactive_decide(&m, A_H1, ofport_hiding, NULL, &pk, &res), 0);
    assert_int_equal(res.verdict, REACTIVE_DROP);
    assert_int_equal(res.src_vm, -1);
    reactive_result_free(&res);
    /* Red batch alone on its host, its uplink not numbered: a broadcast
     * has nowhere to go. */
    netmodel_tunnel_name(&m, B_H1, B_GW, tn);
    hidden_port = tn;
    pk.in_port = vm_port(&m, RED_BATCH);
    pk.eth_src = m.vms[RED_BATCH].mac;
    pk.ipv4_src = m.vms[RED_BATCH].ip;
    pk.eth_dst = 0xffffffffffffull;
    assert_int_equal(reactive_decide(&m, B_H1, ofport_hiding, NULL, &pk, &res), 0);
    assert_int_equal(res.verdict, REACTIVE_DROP);
    assert_int_equal(res.n_acts, 0);
    reactive_result_free(&res);
    hidden_port = NULL;
    assert_int_equal(reactive_decide(&m, B_H1, ofport_of, NULL, &pk, &res), 0);
    assert_int_equal(res.verdict, REACTIVE_FORWARD);
    reactive_result_free(&res);
    assert_int_equal(reactive_decide(&m, N_HOSTS, ofport_of, NULL, &pk, &res), EINVAL);
    assert_int_equal(reactive_decide(&m, -1, ofport_of, NULL, &pk, &res), EINVAL);
    reactive_result_free(&res);
    free_all(&m);
}

/* mst+backup: at a gateway, an output into a tree tunnel that has a
 * detour goes to that tunnel's fast-failover group, as the proactive
 * flows' do (unicast and broadcast alike); with mst, to the tunnel. */
static void
test_groups_at_gateways(void **state)
{
    (void) state;
    for (int layout = 0; layout < 2; layout++) {
        struct netmodel m;
        build(&m, layout ? TUNNELS_MST_BACKUP : TUNNELS_MST);
        compile_all(&m);                /* numbers every port, backups too */
        char tn[16];
        netmodel_tunnel_name(&m, A_GW, C_GW, tn);
        uint32_t tree = ofport_of(NULL, A_GW, tn);
        struct wanff_plan ff;
        assert_int_equal(wanff_plan(&m, A_GW, &ff), 0);
        uint32_t group = 0;
        for (size_t i = 0; i < ff.n_groups; i++) {
            if (ff.groups[i].peer == C_GW && ff.groups[i].backup >= 0) {
                group = ff.groups[i].id;
            }
        }
        wanff_plan_free(&ff);
        assert_true(layout ? group != 0 : group == 0);
        struct reactive_pkt pk = {
            .table_id = 10, .cookie = netmodel_cookie(NM_CK_INFRA, 0, 0),
            .in_port = vm_port(&m, BLUE_ONLY),
            .metadata = (uint64_t) netmodel_vm_comp(&m, BLUE_ONLY) << 32,
            .eth_src = m.vms[BLUE_ONLY].mac, .eth_dst = m.vms[BLUE_DB].mac,
            .eth_type = 0x0800, .ipv4_src = m.vms[BLUE_ONLY].ip,
        };
        for (int bcast = 0; bcast < 2; bcast++) {
            if (bcast) {
                pk.eth_dst = 0xffffffffffffull;
            }
            struct reactive_result res;
            assert_int_equal(reactive_decide(&m, A_GW, ofport_of, NULL, &pk, &res), 0);
            assert_int_equal(res.verdict, REACTIVE_FORWARD);
            size_t n_group = 0, n_tree = 0;
            for (size_t i = 0; i < res.n_acts; i++) {
                n_group += res.acts[i].type == NA_GROUP && res.acts[i].arg == group;
                n_tree += res.acts[i].type == NA_OUTPUT && res.acts[i].arg == tree;
            }
            assert_int_equal(n_group, layout ? 1 : 0);
            assert_int_equal(n_tree, layout ? 0 : 1);
            reactive_result_free(&res);
        }
        /* A worker's uplink has no group: the same frame from web on
         * aws-fra-h1 leaves by its tunnel to the gateway. */
        struct reactive_pkt w = pk;
        w.in_port = vm_port(&m, BLUE_WEB);
        w.metadata = (uint64_t) netmodel_vm_comp(&m, BLUE_WEB) << 32;
        w.eth_src = m.vms[BLUE_WEB].mac;
        w.ipv4_src = m.vms[BLUE_WEB].ip;
        w.eth_dst = m.vms[BLUE_DB].mac;
        struct reactive_result res;
        assert_int_equal(reactive_decide(&m, A_H1, ofport_of, NULL, &w, &res), 0);
        assert_int_equal(res.verdict, REACTIVE_FORWARD);
        assert_int_equal(res.acts[res.n_acts - 1].type, NA_OUTPUT);
        reactive_result_free(&res);
        free_all(&m);
    }
}

static void
test_parse(void **state)
{
    (void) state;
    uint8_t f[64] = {0x02, 0, 0, 0, 0, 0x05, 0x02, 0, 0, 0, 0, 0x01, 0x08, 0x00, 0x45};
    f[26] = 10; f[27] = 0; f[28] = 0; f[29] = 1;
    struct reactive_pkt pk;
    assert_int_equal(reactive_parse(f, 34, &pk), 0);
    assert_true(pk.eth_dst == 0x020000000005 && pk.eth_src == 0x020000000001);
    assert_int_equal(pk.eth_type, 0x0800);
    assert_int_equal(pk.ipv4_src, 0x0a000001);
    assert_int_equal(reactive_parse(f, 33, &pk), EINVAL);   /* IPv4 header cut */
    assert_int_equal(reactive_parse(f, 13, &pk), EINVAL);
    assert_int_equal(reactive_parse(NULL, 64, &pk), EINVAL);
    /* One 802.1Q tag: the tenant's own VLAN passes through. */
    uint8_t v[64] = {0x02, 0, 0, 0, 0, 0x05, 0x02, 0, 0, 0, 0, 0x01, 0x81, 0x00, 0x00, 0x07,
                     0x08, 0x00, 0x45};
    v[30] = 10; v[31] = 0; v[32] = 0; v[33] = 9;
    assert_int_equal(reactive_parse(v, 38, &pk), 0);
    assert_int_equal(pk.eth_type, 0x0800);
    assert_int_equal(pk.ipv4_src, 0x0a000009);
    assert_int_equal(reactive_parse(v, 17, &pk), EINVAL);
    v[16] = 0x08; v[17] = 0x06;                                 /* ARP: no IPv4 source */
    assert_int_equal(reactive_parse(v, 18, &pk), 0);
    assert_int_equal(pk.eth_type, 0x0806);
    assert_int_equal(pk.ipv4_src, 0);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_same_as_proactive),
        cmocka_unit_test(test_decisions),
        cmocka_unit_test(test_groups_at_gateways),
        cmocka_unit_test(test_unnumbered_ports),
        cmocka_unit_test(test_parse),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
