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

/* A switch whose tenant's controller forwards (tenant_ctl): its VMs' IPv4
 * goes to the controller, never into the platform's forwarding; the same
 * addresses of another tenant are forwarded as before. */
static void
test_tenant_controller_takes_its_vms(void **state)
{
    (void) state;
    struct netmodel m;
    build(&m, TUNNELS_MST);
    m.switches[m.vms[RED_WEB].sw].tenant_ctl = true;
    compile_all(&m);
    send_ip(&m, RED_WEB, m.vms[RED_DB].mac);
    assert_int_equal(n_got, 0);
    assert_int_equal(n_controller, 1);
    send_ip(&m, BLUE_WEB, m.vms[BLUE_DB].mac);
    assert_true(delivered_to(&m, BLUE_DB, NULL));
    assert_int_equal(n_controller, 0);
    free_all(&m);
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
        /* No flow of another owner disappears, but where batch was its
         * component's only member: the tenant-table entries and source
         * restores of the others (2 VMs x 2) and the component's flood. */
        assert_true(kept >= before_other - (h == B_H1 ? 5 : 0));
        nm_flows_clear(&before[h]);
    }
    free_all(&m);
}

static bool
same_flow(const struct nm_flow *a, const struct nm_flow *b)
{
    if (a->table != b->table || a->priority != b->priority || a->cookie != b->cookie
        || a->present != b->present || a->masked != b->masked
        || memcmp(a->value, b->value, sizeof a->value)
        || memcmp(a->mask, b->mask, sizeof a->mask) || a->n_acts != b->n_acts
        || a->write_meta != b->write_meta || a->meta != b->meta
        || a->meta_mask != b->meta_mask || a->goto_table != b->goto_table) {
        return false;
    }
    for (size_t i = 0; i < a->n_acts; i++) {
        if (a->acts[i].type != b->acts[i].type || a->acts[i].arg != b->acts[i].arg) {
            return false;
        }
    }
    return true;
}

/* The flows of 'a' with cookie 'ck' or 'ck2' (keep == true) or with
 * neither (keep == false), in order: a shallow copy (free its array only). */
static struct nm_flows
filtered(const struct nm_flows *a, uint64_t ck, uint64_t ck2, bool keep)
{
    struct nm_flows out = { .v = calloc(a->n + 1, sizeof *a->v) };
    assert_non_null(out.v);
    for (size_t i = 0; i < a->n; i++) {
        if ((a->v[i].cookie == ck || a->v[i].cookie == ck2) == keep) {
            out.v[out.n++] = a->v[i];
        }
    }
    return out;
}

static void
assert_same_flows(struct nm_flows a, struct nm_flows b)
{
    assert_int_equal(a.n, b.n);
    for (size_t i = 0; i < a.n; i++) {
        assert_true(same_flow(&a.v[i], &b.v[i]));
    }
    free(a.v);
    free(b.v);
}

/* netmodel_apply_vms() with a VM inserted, one removed and one replaced in
 * one step: the result is sorted by id with each detail its own copy, and
 * netmodel_vm_shift() takes every surviving VM's old index to its new one
 * (what a host's port list is carried over with) and the changed ones to
 * -1. */
static void
test_apply_vms_shift(void **state)
{
    (void) state;
    struct netmodel w, d;
    build(&w, TUNNELS_MST);
    assert_true(w.n_vms >= 4);
    struct nm_vm up[3];
    up[0] = w.vms[1];                           /* a new VM sorting after vms[1] */
    up[0].o.id[strlen(up[0].o.id) - 1] = '~';
    snprintf(up[0].o.name, sizeof up[0].o.name, "inserted");
    up[0].o.detail = strdup("new");
    up[1] = w.vms[2];                           /* vms[2] replaced */
    up[1].o.detail = strdup("replaced");
    up[2] = w.vms[0];                           /* a second new one, first */
    up[2].o.id[0] = '0';
    up[2].o.detail = NULL;
    char gone[1][40];
    snprintf(gone[0], sizeof gone[0], "%s", w.vms[3].o.id);
    free(w.vms[1].o.detail);
    w.vms[1].o.detail = strdup("kept");
    assert_int_equal(netmodel_apply_vms(&w, up, 3, gone, 1, &d), 0);
    assert_int_equal(d.n_vms, w.n_vms + 1);
    for (size_t v = 1; v < d.n_vms; v++) {
        assert_true(strcmp(d.vms[v - 1].o.id, d.vms[v].o.id) < 0);
    }
    int kept = netmodel_vm_by_id(&d, w.vms[1].o.id);
    assert_string_equal(d.vms[kept].o.detail, "kept");
    assert_ptr_not_equal(d.vms[kept].o.detail, w.vms[1].o.detail);
    assert_string_equal(d.vms[netmodel_vm_by_id(&d, w.vms[2].o.id)].o.detail, "replaced");
    assert_int_equal(netmodel_vm_by_id(&d, w.vms[3].o.id), -1);
    for (size_t old = 0; old < w.n_vms; old++) {
        int want = old == 2 || old == 3 ? -1 : netmodel_vm_by_id(&d, w.vms[old].o.id);
        assert_int_equal(netmodel_vm_shift(&d, (int) old), want);
    }
    /* Every VM in the new host lists, at its new index. */
    for (size_t v = 0; v < d.n_vms; v++) {
        bool found = false;
        for (const int *x = d.vms_on_host[d.vms[v].host]; *x >= 0; x++) {
            found |= *x == (int) v;
        }
        assert_true(found);
    }
    /* Many at once: a new VM after every other one, runs of them
     * included, and the first one gone. */
    struct netmodel e;
    size_t n_up = 0;
    struct nm_vm *many = calloc(d.n_vms, sizeof *many);
    assert_non_null(many);
    for (size_t v = 0; v < d.n_vms; v += 1 + (v % 3 == 2)) {
        many[n_up] = d.vms[v];
        many[n_up].o.id[strlen(many[n_up].o.id) - 2] = '~';
        many[n_up++].o.detail = NULL;
    }
    snprintf(gone[0], sizeof gone[0], "%s", d.vms[0].o.id);
    assert_int_equal(netmodel_apply_vms(&d, many, n_up, gone, 1, &e), 0);
    assert_int_equal(e.n_vms, d.n_vms + n_up - 1);
    for (size_t old = 0; old < d.n_vms; old++) {
        int want = old == 0 ? -1 : netmodel_vm_by_id(&e, d.vms[old].o.id);
        assert_int_equal(netmodel_vm_shift(&e, (int) old), want);
    }
    free(many);
    netmodel_free(&e);
    netmodel_free(&d);
    netmodel_free(&w);
}

/* The rule owner-scoped plans stand on (netmodel.h, incremental updates):
 * a VM added beside a member of its component changes only the flows its
 * cookie owns, and on its own host its component's flood;
 * netmodel_flows_owners() compiles just those; netmodel_apply_vms() adds
 * and removes it without a reload. */
static void
test_incremental_owners(void **state)
{
    (void) state;
    struct netmodel w, more, back;
    build(&w, TUNNELS_MST);
    memset(portnames, 0, sizeof portnames);
    /* A second red VM beside web. */
    struct nm_vm x = w.vms[RED_WEB];
    snprintf(x.o.id, sizeof x.o.id, "e0000009-0000-0000-0000-000000000000");
    snprintf(x.o.name, sizeof x.o.name, "app2");
    x.o.detail = strdup("waiting");
    x.mac = 0x020000000019;
    x.ip = 0x0a000019;
    x.wire_low = 19;
    snprintf(x.iface, sizeof x.iface, "veth9");
    assert_int_equal(netmodel_apply_vms(&w, &x, 1, NULL, 0, &more), 0);
    assert_null(x.o.detail);                    /* moved */
    assert_int_equal(more.n_vms, N_VMS + 1);
    int v = netmodel_vm_by_id(&more, "e0000009-0000-0000-0000-000000000000");
    assert_int_equal(v, N_VMS);
    assert_string_equal(more.vms[v].o.detail, "waiting");
    assert_true(netmodel_vm_shares_host(&more, v));
    assert_false(netmodel_vm_shares_host(&w, BLUE_WEB));   /* alone on A_H1 */
    char gone[1][40];
    snprintf(gone[0], sizeof gone[0], "%s", more.vms[v].o.id);
    assert_int_equal(netmodel_apply_vms(&more, NULL, 0, gone, 1, &back), 0);
    assert_int_equal(back.n_vms, N_VMS);
    /* The tunnels are carried over, each naming its own model's clouds. */
    assert_int_equal(more.n_tunnels, w.n_tunnels);
    for (size_t t = 0; t < w.n_tunnels; t++) {
        assert_string_equal(more.tunnels[t].a, w.tunnels[t].a);
        assert_string_equal(more.tunnels[t].b, w.tunnels[t].b);
        assert_int_equal(more.tunnels[t].role, w.tunnels[t].role);
        bool own_a = false, own_b = false;
        for (size_t c = 0; c < more.n_clouds; c++) {
            own_a |= more.tunnels[t].a == more.clouds[c].o.name;
            own_b |= more.tunnels[t].b == more.clouds[c].o.name;
        }
        assert_true(own_a && own_b);
    }

    uint64_t ck = netmodel_vm_cookie(&more, v);
    int comp = more.vm_comp[v];
    uint64_t flood = netmodel_comp_cookie(&more, comp);
    assert_int_equal(flood, netmodel_comp_cookie(&w, w.vm_comp[RED_WEB]));
    size_t owned = 0;
    for (int h = 0; h < N_HOSTS; h++) {
        struct nm_flows fw = {0}, fm = {0}, fb = {0}, own = {0};
        assert_int_equal(netmodel_flows(&w, h, ofport_of, NULL, &fw), 0);
        assert_int_equal(netmodel_flows(&more, h, ofport_of, NULL, &fm), 0);
        assert_int_equal(netmodel_flows(&back, h, ofport_of, NULL, &fb), 0);
        assert_int_equal(netmodel_flows_owners(&more, h, ofport_of, NULL, &v, 1, &comp, 1,
                                               &own), 0);
        /* Its flows and, where it has members, its component's flood. */
        assert_same_flows(filtered(&fm, ck, flood, true), filtered(&own, 0, 0, false));
        /* Removed again: as before. */
        assert_same_flows(filtered(&fw, 0, 0, false), filtered(&fb, 0, 0, false));
        /* Nothing else changed, on any host; the flood only on its own. */
        assert_same_flows(filtered(&fm, ck, flood, false), filtered(&fw, flood, flood, false));
        if (h != A_H1) {
            assert_same_flows(filtered(&fm, flood, flood, true),
                              filtered(&fw, flood, flood, true));
        } else {
            struct nm_flows a = filtered(&fm, flood, flood, true);
            struct nm_flows b = filtered(&fw, flood, flood, true);
            assert_int_equal(a.n, 1);
            assert_int_equal(b.n, 1);
            assert_int_equal(a.v[0].table, NM_T_FLOOD);
            assert_int_equal(a.v[0].n_acts, b.v[0].n_acts + 1);    /* app2's port */
            free(a.v);
            free(b.v);
        }
        owned += own.n;
        nm_flows_clear(&fw);
        nm_flows_clear(&fm);
        nm_flows_clear(&fb);
        nm_flows_clear(&own);
    }
    assert_true(owned > 0);
    netmodel_free(&w);
    netmodel_free(&more);
    netmodel_free(&back);
}

/* The one rule of VM port names: the iface when set, else "vm" and the
 * id's first 8 hex digits, which netmodel_vm_port_id reads back; the
 * ports the bridge must have carry the same names. */
static void
test_vm_port_names(void **state)
{
    (void) state;
    struct netmodel w;
    build(&w, TUNNELS_MST);
    char name[16];
    snprintf(w.vms[RED_WEB].iface, sizeof w.vms[RED_WEB].iface, "veth-fifteen-ch");
    netmodel_vm_port_name(&w, RED_WEB, name);
    assert_string_equal(name, "veth-fifteen-ch");
    assert_null(netmodel_vm_port_id(name));
    w.vms[RED_WEB].iface[0] = 0;
    snprintf(w.vms[RED_WEB].o.id, sizeof w.vms[RED_WEB].o.id,
             "0badcafe-0000-0000-0000-000000000000");
    netmodel_vm_port_name(&w, RED_WEB, name);
    assert_string_equal(name, "vm0badcafe");
    const char *id = netmodel_vm_port_id(name);
    assert_non_null(id);
    assert_int_equal(strncmp(id, w.vms[RED_WEB].o.id, 8), 0);
    struct nm_port *ports;
    size_t n;
    assert_int_equal(netmodel_ports(&w, w.vms[RED_WEB].host, &ports, &n), 0);
    bool seen = false;
    for (size_t i = 0; i < n; i++) {
        if (ports[i].kind == NM_PORT_VM && ports[i].vm == RED_WEB) {
            assert_string_equal(ports[i].name, "vm0badcafe");
            assert_true(ports[i].internal);
            seen = true;
        } else if (ports[i].kind == NM_PORT_VM) {
            assert_false(ports[i].internal);
        }
    }
    assert_true(seen);
    free(ports);
    static const char *const not_ids[] = {"vm0badcaf", "vm0badcafe0", "vm0BADCAFE", "xm0badcafe",
                                          "vm0badcafg", ""};
    for (size_t i = 0; i < sizeof not_ids / sizeof *not_ids; i++) {
        assert_null(netmodel_vm_port_id(not_ids[i]));
    }
    netmodel_free(&w);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_overlay_mst_and_mesh),
        cmocka_unit_test(test_connectivity_mst),
        cmocka_unit_test(test_connectivity_full_mesh),
        cmocka_unit_test(test_cookies_name_owners),
        cmocka_unit_test(test_tenant_controller_takes_its_vms),
        cmocka_unit_test(test_apply_vms_shift),
        cmocka_unit_test(test_incremental_owners),
        cmocka_unit_test(test_vm_port_names),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
