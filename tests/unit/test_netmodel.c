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
