/* test_netmodel.c: the overlay, the ports and the flow pipeline of
 * core/netmodel.c.
 *
 * The flows are checked by behaviour, not by listing them: a small
 * OpenFlow interpreter below runs frames through the compiled tables of
 * every bridge, following tunnel outputs to the bridge at the other end,
 * and records where each frame is delivered and with which addresses.  The
 * scenario is three clouds (a gateway and a worker each) and two tenants
 * with the same subnet; the second tenant uses rewrite tagging with the
 * very same MACs and IPs as the first. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "core/netmodel.h"

/* --- the model --- */

static void
obj(struct nm_obj *o, const char *id, const char *name)
{
    memset(o, 0, sizeof *o);
    snprintf(o->id, sizeof o->id, "%s", id);
    snprintf(o->name, sizeof o->name, "%s", name);
    o->generation = 1;
}

enum { A_GW, A_H1, B_GW, B_H1, C_GW, C_H1, N_HOSTS };
enum { RED_WEB, RED_DB, RED_BATCH, RED_LAB, BLUE_WEB, BLUE_DB, N_VMS };

static void
build(struct netmodel *m, enum tunnels_layout layout)
{
    netmodel_init(m);
    m->layout = layout;
    static const char *clouds[] = {"aws-fra", "gcp-iowa", "onprem-lis"};
    m->n_clouds = 3;
    m->clouds = calloc(3, sizeof *m->clouds);
    for (int c = 0; c < 3; c++) {
        char id[40];
        snprintf(id, sizeof id, "c000000%d-0000-0000-0000-000000000000", c);
        obj(&m->clouds[c].o, id, clouds[c]);
    }
    m->n_hosts = N_HOSTS;
    m->hosts = calloc(N_HOSTS, sizeof *m->hosts);
    for (int h = 0; h < N_HOSTS; h++) {
        struct nm_host *ho = &m->hosts[h];
        char id[40], name[32];
        snprintf(id, sizeof id, "a000000%d-0000-0000-0000-000000000000", h);
        snprintf(name, sizeof name, "%s-%s", clouds[h / 2], h % 2 ? "h1" : "gw");
        obj(&ho->o, id, name);
        ho->cloud = h / 2;
        ho->gateway = h % 2 == 0;
        ho->tunnel_ip = 0xc6120000u | (uint32_t) (h / 2 + 1) << 8 | (uint32_t) (h % 2 + 1);
        ho->public_ip = ho->gateway ? 0xc6130000u | (uint32_t) (h / 2 + 1) : 0;
        snprintf(ho->bridge, sizeof ho->bridge, "br-sky");
    }
    /* aws-fra--onprem-lis is cheap, gcp-iowa--onprem-lis expensive. */
    m->n_cloudlinks = 3;
    m->cloudlinks = calloc(3, sizeof *m->cloudlinks);
    m->cloudlinks[0] = (struct nm_cloudlink) {0, 1, 10};
    m->cloudlinks[1] = (struct nm_cloudlink) {0, 2, 3};
    m->cloudlinks[2] = (struct nm_cloudlink) {1, 2, 12};

    m->n_tenants = 2;
    m->tenants = calloc(2, sizeof *m->tenants);
    obj(&m->tenants[0].o, "70000000-0000-0000-0000-000000000001", "red");
    m->tenants[0].tag = 0x0201;   /* bit 8 clear, as the allocator ensures */
    obj(&m->tenants[1].o, "70000000-0000-0000-0000-000000000002", "blue");
    m->tenants[1].tag = 0xfe02;
    m->n_networks = 2;
    m->networks = calloc(2, sizeof *m->networks);
    obj(&m->networks[0].o, "80000000-0000-0000-0000-000000000001", "prod");
    m->networks[0].tenant = 0;
    obj(&m->networks[1].o, "80000000-0000-0000-0000-000000000002", "prod");
    m->networks[1].tenant = 1;
    m->networks[1].rewrite = true;

    /* red: front, back (linked), lab (alone); blue: front, back (linked). */
    m->n_switches = 5;
    m->switches = calloc(5, sizeof *m->switches);
    static const struct { const char *name; int net; uint32_t seq; } sw[] = {
        {"front", 0, 11}, {"back", 0, 12}, {"lab", 0, 13},
        {"front", 1, 21}, {"back", 1, 22},
    };
    for (int i = 0; i < 5; i++) {
        char id[40];
        snprintf(id, sizeof id, "9000000%d-0000-0000-0000-000000000000", i);
        obj(&m->switches[i].o, id, sw[i].name);
        m->switches[i].network = sw[i].net;
        m->switches[i].seq = sw[i].seq;
    }
    m->n_links = 2;
    m->links = calloc(2, sizeof *m->links);
    obj(&m->links[0].o, "b0000000-0000-0000-0000-000000000001", "front-back");
    m->links[0].network = 0;
    m->links[0].a = 0;
    m->links[0].b = 1;
    obj(&m->links[1].o, "b0000000-0000-0000-0000-000000000002", "front-back");
    m->links[1].network = 1;
    m->links[1].a = 3;
    m->links[1].b = 4;

    m->n_vms = N_VMS;
    m->vms = calloc(N_VMS, sizeof *m->vms);
    static const struct { const char *name; int net, sw, host; uint64_t mac;
                          uint32_t ip, wire; } vm[] = {
        [RED_WEB] = {"web", 0, 0, A_H1, 0x020000000001, 0x0a000001, 1},
        [RED_DB] = {"db", 0, 1, C_H1, 0x020000000002, 0x0a000002, 2},
        [RED_BATCH] = {"batch", 0, 1, B_H1, 0x020000000003, 0x0a000003, 3},
        [RED_LAB] = {"lab1", 0, 2, A_H1, 0x020000000004, 0x0a000004, 4},
        /* blue: the very same MACs and IPs, platform-allocated wire_low. */
        [BLUE_WEB] = {"web", 1, 3, A_H1, 0x020000000001, 0x0a000001, 1001},
        [BLUE_DB] = {"db", 1, 4, C_H1, 0x020000000002, 0x0a000002, 1002},
    };
    for (int i = 0; i < N_VMS; i++) {
        char id[40];
        snprintf(id, sizeof id, "e000000%d-0000-0000-0000-000000000000", i);
        obj(&m->vms[i].o, id, vm[i].name);
        m->vms[i].network = vm[i].net;
        m->vms[i].sw = vm[i].sw;
        m->vms[i].host = vm[i].host;
        m->vms[i].mac = vm[i].mac;
        m->vms[i].ip = vm[i].ip;
        m->vms[i].wire_low = vm[i].wire;
        snprintf(m->vms[i].iface, sizeof m->vms[i].iface, "veth%d", i);
    }
    assert_int_equal(netmodel_finish(m), 0);
}

/* --- port numbers: assigned on first sight, per host --- */

#define MAX_PORTS 32
static struct { char name[16]; } portnames[N_HOSTS][MAX_PORTS];

static uint32_t
ofport_of(void *aux, int h, const char *name)
{
    (void) aux;
    for (uint32_t i = 0; i < MAX_PORTS; i++) {
        if (!portnames[h][i].name[0]) {
            snprintf(portnames[h][i].name, 16, "%s", name);
            return i + 1;
        }
        if (!strcmp(portnames[h][i].name, name)) {
            return i + 1;
        }
    }
    fail_msg("too many ports");
    return 0;
}

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
        case NA_CONTROLLER: n_controller++; break;
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

static bool
delivered_to(const struct netmodel *m, int vm, int *count)
{
    int c = 0;
    for (size_t i = 0; i < n_got; i++) {
        if (got[i].host == m->vms[vm].host && got[i].port == vm_port(m, vm)) {
            c++;
        }
    }
    if (count) {
        *count = c;
    }
    return c > 0;
}

/* --- tests --- */

static void
test_overlay_mst_and_mesh(void **state)
{
    (void) state;
    struct netmodel m;
    build(&m, TUNNELS_MST);
    assert_int_equal(m.n_tunnels, 2);           /* clouds - 1 */
    /* The MST keeps the two cheap links: aws-fra--gcp-iowa (10) and
     * aws-fra--onprem-lis (3); gcp-iowa reaches onprem-lis through aws-fra. */
    assert_int_equal(netmodel_next_hop(&m, B_GW, C_GW), A_GW);
    assert_int_equal(netmodel_next_hop(&m, B_H1, C_H1), B_GW);
    assert_int_equal(netmodel_next_hop(&m, C_GW, C_H1), C_H1);
    struct nm_port *ports;
    size_t n;
    assert_int_equal(netmodel_ports(&m, A_GW, &ports, &n), 0);
    assert_int_equal(n, 3);                     /* a-h1, gcp gw, onprem gw */
    for (size_t i = 0; i < n; i++) {
        assert_int_equal(ports[i].kind, NM_PORT_TUNNEL);
    }
    free(ports);
    assert_int_equal(netmodel_ports(&m, A_H1, &ports, &n), 0);
    assert_int_equal(n, 4);                     /* three VMs and the gateway */
    assert_int_equal(ports[3].kind, NM_PORT_TUNNEL);
    assert_int_equal(ports[3].remote_ip, m.hosts[A_GW].tunnel_ip);
    free(ports);
    netmodel_free(&m);

    build(&m, TUNNELS_FULL_MESH);
    assert_int_equal(m.n_tunnels, 3);           /* clouds (clouds - 1) / 2 */
    assert_int_equal(netmodel_next_hop(&m, B_GW, C_GW), C_GW);
    netmodel_free(&m);
}

static void
check_connectivity(enum tunnels_layout layout)
{
    struct netmodel m;
    build(&m, layout);
    compile_all(&m);
    int c;

    /* Same tenant, connected switches, across clouds: delivered once, with
     * the real addresses. */
    send_ip(&m, RED_WEB, m.vms[RED_DB].mac);
    assert_true(delivered_to(&m, RED_DB, &c));
    assert_int_equal(c, 1);
    assert_int_equal(n_got, 1);
    assert_int_equal(got[0].src, m.vms[RED_WEB].mac);
    assert_int_equal(got[0].dst, m.vms[RED_DB].mac);

    send_ip(&m, RED_BATCH, m.vms[RED_DB].mac);
    assert_true(delivered_to(&m, RED_DB, NULL));
    assert_int_equal(n_got, 1);

    /* Rewrite tenant with the same MACs: reaches its own db, never red's. */
    send_ip(&m, BLUE_WEB, m.vms[BLUE_DB].mac);
    assert_true(delivered_to(&m, BLUE_DB, &c));
    assert_int_equal(c, 1);
    assert_int_equal(n_got, 1);
    assert_int_equal(got[0].src, m.vms[BLUE_WEB].mac);
    assert_int_equal(got[0].dst, m.vms[BLUE_DB].mac);

    /* Switch not connected: nothing delivered (the miss goes to the
     * controller, which knows better than to forward it). */
    send_ip(&m, RED_WEB, m.vms[RED_LAB].mac);
    assert_int_equal(n_got, 0);
    send_ip(&m, RED_LAB, m.vms[RED_WEB].mac);
    assert_int_equal(n_got, 0);

    /* Unknown destination: nothing. */
    send_ip(&m, RED_WEB, 0x02deadbeef01);
    assert_int_equal(n_got, 0);

    /* Broadcast: every member of the component once, no one else. */
    send_ip(&m, RED_WEB, 0xffffffffffff);
    assert_true(delivered_to(&m, RED_DB, &c));
    assert_int_equal(c, 1);
    assert_true(delivered_to(&m, RED_BATCH, &c));
    assert_int_equal(c, 1);
    assert_int_equal(n_got, 2);
    for (size_t i = 0; i < n_got; i++) {
        assert_int_equal(got[i].src, m.vms[RED_WEB].mac);
    }
    send_ip(&m, BLUE_DB, 0xffffffffffff);
    assert_true(delivered_to(&m, BLUE_WEB, NULL));
    assert_int_equal(n_got, 1);

    /* Port security: forged MAC, forged IP, LLDP: dropped at the edge. */
    send_from(&m, RED_WEB, 0x020000000009, m.vms[RED_DB].mac, 0x0800, m.vms[RED_WEB].ip);
    assert_int_equal(n_got + n_controller, 0);
    send_from(&m, RED_WEB, m.vms[RED_WEB].mac, m.vms[RED_DB].mac, 0x0800, 0x0a000063);
    assert_int_equal(n_got + n_controller, 0);
    send_from(&m, RED_WEB, m.vms[RED_WEB].mac, 0x0180c200000e, 0x88cc, 0);
    assert_int_equal(n_got + n_controller, 0);
    /* Forged ARP dropped; genuine ARP goes to the controller. */
    send_from(&m, RED_WEB, m.vms[RED_WEB].mac, 0xffffffffffff, 0x0806, 0x0a000002);
    assert_int_equal(n_got + n_controller, 0);
    send_from(&m, RED_WEB, m.vms[RED_WEB].mac, 0xffffffffffff, 0x0806, m.vms[RED_WEB].ip);
    assert_int_equal(n_got, 0);
    assert_int_equal(n_controller, 1);

    free_all(&m);
}

static void
test_connectivity_mst(void **state)
{
    (void) state;
    check_connectivity(TUNNELS_MST);
}

static void
test_connectivity_full_mesh(void **state)
{
    (void) state;
    check_connectivity(TUNNELS_FULL_MESH);
}

static void
test_cookies_name_owners(void **state)
{
    (void) state;
    struct netmodel m;
    build(&m, TUNNELS_MST);
    compile_all(&m);
    uint64_t red_db = netmodel_vm_cookie(&m, RED_DB);
    assert_int_equal(red_db & NM_COOKIE_MASK, NM_COOKIE_MAGIC);
    assert_int_equal(red_db >> 40 & 0xffff, 0x0201);
    assert_int_equal(red_db & 0xffffffff, 2);
    assert_int_not_equal(red_db, netmodel_vm_cookie(&m, BLUE_DB));
    /* Every flow carries a skyvisor cookie; red db owns flows on its own
     * host and on the gateways only. */
    for (int h = 0; h < N_HOSTS; h++) {
        size_t owned = 0;
        for (size_t i = 0; i < tables[h].n; i++) {
            assert_int_equal(tables[h].v[i].cookie & NM_COOKIE_MASK, NM_COOKIE_MAGIC);
            owned += tables[h].v[i].cookie == red_db;
        }
        if (h == C_H1 || m.hosts[h].gateway || h == A_H1 || h == B_H1) {
            continue;
        }
        assert_int_equal(owned, 0);
    }
    /* Deleting a VM only removes flows it owns. */
    struct nm_flows before[N_HOSTS];
    for (int h = 0; h < N_HOSTS; h++) {
        before[h] = tables[h];
        memset(&tables[h], 0, sizeof tables[h]);
    }
    m.vms[RED_BATCH].host = -1;         /* as if gone: no host, no component */
    m.vms[RED_BATCH].sw = -1;
    free(m.vms_on_host[B_H1]);
    m.vms_on_host[B_H1] = malloc(sizeof(int));
    m.vms_on_host[B_H1][0] = -1;
    m.vm_comp[RED_BATCH] = -1;
    compile_all(&m);
    uint64_t batch = netmodel_vm_cookie(&m, RED_BATCH);
    for (int h = 0; h < N_HOSTS; h++) {
        size_t kept = 0, before_other = 0;
        for (size_t i = 0; i < before[h].n; i++) {
            before_other += before[h].v[i].cookie != batch;
        }
        for (size_t i = 0; i < tables[h].n; i++) {
            assert_int_not_equal(tables[h].v[i].cookie, batch);
            kept++;
        }
        /* The broadcast flows of other senders lose an output, but no
         * flow of another owner disappears. */
        assert_true(kept >= before_other - (h == B_H1 ? 4 : 0));
        nm_flows_clear(&before[h]);
    }
    free_all(&m);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_overlay_mst_and_mesh),
        cmocka_unit_test(test_connectivity_mst),
        cmocka_unit_test(test_connectivity_full_mesh),
        cmocka_unit_test(test_cookies_name_owners),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
