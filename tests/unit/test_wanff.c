/* Unit tests for core/wanff.c: a gateway's fast-failover plan.
 *
 * Four clouds wa, wb, wc, wd (one gateway each, hosts 0..3) with the
 * tree wa - wb - wc - wd and the backup wa - wd (the cloud-link costs make
 * both), so every cut has a detour around the ring: three hops for each. */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "core/wanff.h"

enum { WA, WB, WC, WD, N };

static void
obj(struct nm_obj *o, const char *id, const char *name)
{
    memset(o, 0, sizeof *o);
    snprintf(o->id, sizeof o->id, "%s", id);
    snprintf(o->name, sizeof o->name, "%s", name);
}

/* Hosts beyond the ring's gateways (test_twin_*): wa's second gateway
 * and a worker, then wb's second gateway. */
enum { WA_GX = N, WA_H1, N_TWINS, WB_GX = N_TWINS, N_TWINS2 };

/* The ring; with 'twins', wa also has a second gateway, wa-gx (after
 * wa-gw by name), and a worker, wa-h1; with two, wb has one too, wb-gx. */
static void
ring_of(struct netmodel *m, enum tunnels_layout layout, int twins)
{
    static const char *names[N] = {"wa", "wb", "wc", "wd"};
    netmodel_init(m);
    m->layout = layout;
    m->n_clouds = N;
    m->n_hosts = twins > 1 ? N_TWINS2 : twins ? N_TWINS : N;
    m->clouds = calloc(N, sizeof *m->clouds);
    m->hosts = calloc(N_TWINS2, sizeof *m->hosts);
    for (int i = 0; i < N; i++) {
        char id[40], name[16];
        snprintf(id, sizeof id, "c000000%d-0000-0000-0000-000000000000", i);
        obj(&m->clouds[i].o, id, names[i]);
        snprintf(id, sizeof id, "a000000%d-0000-0000-0000-000000000000", i);
        snprintf(name, sizeof name, "%s-gw", names[i]);
        obj(&m->hosts[i].o, id, name);
        m->hosts[i].cloud = i;
        m->hosts[i].gateway = true;
        m->hosts[i].tunnel_ip = 0xc6120001u + ((uint32_t) i << 8);
        m->hosts[i].public_ip = 0xc6130001u + (uint32_t) i;
    }
    static const struct { int a, b; double cost; } links[] = {
        {WA, WB, 1}, {WB, WC, 1}, {WC, WD, 1}, {WA, WD, 5}, {WA, WC, 9}, {WB, WD, 9},
    };
    for (int h = WA_GX; twins && h <= WA_H1; h++) {
        char id[40];
        snprintf(id, sizeof id, "a000000%d-0000-0000-0000-000000000000", h);
        obj(&m->hosts[h].o, id, h == WA_GX ? "wa-gx" : "wa-h1");
        m->hosts[h].cloud = WA;
        m->hosts[h].gateway = h == WA_GX;
        m->hosts[h].tunnel_ip = 0xc6120001u + ((uint32_t) h << 8);
        m->hosts[h].public_ip = h == WA_GX ? 0xc6130011u : 0;
    }
    if (twins > 1) {
        obj(&m->hosts[WB_GX].o, "a0000006-0000-0000-0000-000000000000", "wb-gx");
        m->hosts[WB_GX].cloud = WB;
        m->hosts[WB_GX].gateway = true;
        m->hosts[WB_GX].tunnel_ip = 0xc6120002u + ((uint32_t) WB_GX << 8);
        m->hosts[WB_GX].public_ip = 0xc6130012u;
    }
    m->n_cloudlinks = sizeof links / sizeof links[0];
    m->cloudlinks = calloc(m->n_cloudlinks, sizeof *m->cloudlinks);
    for (size_t i = 0; i < m->n_cloudlinks; i++) {
        m->cloudlinks[i] = (struct nm_cloudlink) {links[i].a, links[i].b, links[i].cost};
    }
    assert_int_equal(netmodel_finish(m), 0);
}

static void
ring(struct netmodel *m, enum tunnels_layout layout)
{
    ring_of(m, layout, 0);
}

static const struct wanff_group *
group_to(const struct wanff_plan *p, int peer)
{
    for (size_t i = 0; i < p->n_groups; i++) {
        if (p->groups[i].peer == peer) {
            return &p->groups[i];
        }
    }
    return NULL;
}

static const struct wanff_rule *
rule(const struct wanff_plan *p, uint32_t mark)
{
    for (size_t i = 0; i < p->n_rules; i++) {
        if (p->rules[i].mark == mark) {
            return &p->rules[i];
        }
    }
    return NULL;
}

/* The overlay itself: the tree in adj, the backup in backup_adj only. */
static void
test_backup_is_a_port_not_a_path(void **state)
{
    (void) state;
    struct netmodel m;
    ring(&m, TUNNELS_MST_BACKUP);
    assert_int_equal(m.adj[WA][0], WB);
    assert_int_equal(m.adj[WA][1], -1);
    assert_int_equal(m.backup_adj[WA][0], WD);
    assert_int_equal(m.backup_adj[WA][1], -1);
    assert_int_equal(netmodel_next_hop(&m, WA, WD), WB);     /* along the tree */
    struct nm_port *ports;
    size_t n;
    assert_int_equal(netmodel_ports(&m, WA, &ports, &n), 0);
    assert_int_equal(n, 2);                                   /* tree and backup */
    assert_int_equal(ports[0].peer, WB);
    assert_int_equal(ports[1].peer, WD);
    free(ports);
    netmodel_free(&m);
}

static void
test_groups_fall_back_along_the_ring(void **state)
{
    (void) state;
    struct netmodel m;
    ring(&m, TUNNELS_MST_BACKUP);
    struct wanff_plan p;
    /* wa: one tree tunnel (to wb); its detour starts on the backup to wd. */
    assert_int_equal(wanff_plan(&m, WA, &p), 0);
    assert_int_equal(p.n_groups, 1);
    const struct wanff_group *g = group_to(&p, WB);
    assert_non_null(g);
    assert_int_equal(g->backup, WD);
    assert_false(g->backup_is_tree);
    assert_int_equal(g->id, WANFF_GROUP_BASE + g->mark);
    uint32_t ab_to_b = g->mark;
    wanff_plan_free(&p);

    /* wb: toward wa the way around starts back on its own tree tunnel to
     * wc (wb - wc - wd - wa): the in_port case. */
    assert_int_equal(wanff_plan(&m, WB, &p), 0);
    assert_int_equal(p.n_groups, 2);
    g = group_to(&p, WA);
    assert_non_null(g);
    assert_int_equal(g->backup, WC);
    assert_true(g->backup_is_tree);
    assert_int_equal(g->mark + 1, ab_to_b);                  /* same cut, other way */
    /* A packet marked toward wb's side arrives at wb: cleared, tree
     * forwarding; marked broadcasts go on to wc (wb's tree side). */
    const struct wanff_rule *r = rule(&p, ab_to_b);
    assert_non_null(r);
    assert_int_equal(r->kind, WANFF_ARRIVE);
    assert_int_equal(r->n_fan, 1);
    assert_int_equal(p.fan[r->fan_start], WC);
    wanff_plan_free(&p);

    /* wd: transit of a wa - wb detour toward wb: on to wc, never back. */
    assert_int_equal(wanff_plan(&m, WD, &p), 0);
    r = rule(&p, ab_to_b);
    assert_non_null(r);
    assert_int_equal(r->kind, WANFF_ARRIVE);                 /* wd is on wb's side */
    assert_int_equal(r->n_fan, 1);
    assert_int_equal(p.fan[r->fan_start], WC);
    r = rule(&p, ab_to_b - 1);                                /* toward wa's side */
    assert_non_null(r);
    assert_int_equal(r->kind, WANFF_TRANSIT);
    assert_int_equal(r->next, WA);                            /* over the backup */
    wanff_plan_free(&p);
    netmodel_free(&m);
}

/* The model's plans (netmodel.ff, made once with the overlay) are
 * wanff_plan()'s for every host, and a model derived for changed VMs
 * shares them. */
static void
assert_same_plan(const struct wanff_plan *a, const struct wanff_plan *b)
{
    assert_int_equal(a->n_groups, b->n_groups);
    assert_int_equal(a->n_rules, b->n_rules);
    assert_int_equal(a->n_fan, b->n_fan);
    assert_memory_equal(a->groups, b->groups, a->n_groups * sizeof *a->groups);
    assert_memory_equal(a->rules, b->rules, a->n_rules * sizeof *a->rules);
    assert_memory_equal(a->fan, b->fan, a->n_fan * sizeof *a->fan);
}

static void
test_model_plans_are_each_hosts(void **state)
{
    (void) state;
    for (int twins = 0; twins <= 2; twins++) {
        for (int l = 0; l < 2; l++) {
            struct netmodel m;
            ring_of(&m, l ? TUNNELS_MST_BACKUP : TUNNELS_MST, twins);
            assert_non_null(m.ff);
            size_t groups = 0;
            for (int h = -1; h <= (int) m.n_hosts; h++) {
                struct wanff_plan p;
                assert_int_equal(wanff_plan(&m, h, &p), 0);
                assert_same_plan(wanff_plans_get(m.ff, h), &p);
                groups += p.n_groups;
                wanff_plan_free(&p);
            }
            assert_true(l ? groups > 0 : groups == 0);
            struct netmodel d;
            assert_int_equal(netmodel_apply_vms(&m, NULL, 0, NULL, 0, &d), 0);
            assert_ptr_equal(d.ff, m.ff);
            netmodel_free(&m);          /* d keeps its reference */
            struct wanff_plan p;
            assert_int_equal(wanff_plan(&d, WB, &p), 0);
            assert_same_plan(wanff_plans_get(d.ff, WB), &p);
            wanff_plan_free(&p);
            netmodel_free(&d);
        }
    }
}

static void
test_no_plan_outside_mst_backup(void **state)
{
    (void) state;
    struct netmodel m;
    ring(&m, TUNNELS_MST);
    struct wanff_plan p;
    assert_int_equal(wanff_plan(&m, WA, &p), 0);
    assert_int_equal(p.n_groups, 0);
    assert_int_equal(p.n_rules, 0);
    assert_null(m.backup_adj[WA] && m.backup_adj[WA][0] >= 0 ? m.backup_adj[WA] : NULL);
    netmodel_free(&m);
}

/* --- two gateways per cloud --- */

static void
ring_twins(struct netmodel *m)
{
    ring_of(m, TUNNELS_MST_BACKUP, 1);
}

/* A port number from the tunnel's name: the low 12 bits of the address in
 * it, plus one (distinct on every host here). */
static uint32_t
numbered(void *aux, int h, const char *name)
{
    (void) aux;
    (void) h;
    return (uint32_t) (strtoul(name + 3, NULL, 16) & 0xfff) + 1;
}

static size_t
peers_of(const struct netmodel *m, int h, int *out)
{
    struct nm_port *ports;
    size_t n, k = 0;
    assert_int_equal(netmodel_ports(m, h, &ports, &n), 0);
    for (size_t i = 0; i < n; i++) {
        if (ports[i].kind == NM_PORT_TUNNEL) {
            out[k++] = ports[i].peer;
        }
    }
    free(ports);
    return k;
}

static const struct nm_group *
group_id(const struct nm_group *g, size_t n, uint32_t id)
{
    for (size_t i = 0; i < n; i++) {
        if (g[i].id == id) {
            return &g[i];
        }
    }
    return NULL;
}

/* The overlay is built on the preferred gateways; the twin stands at wa's
 * place with tunnels to the same neighbours' hosts, and every neighbour
 * of wa reaches both. */
static void
test_twin_ports(void **state)
{
    (void) state;
    struct netmodel m;
    ring_twins(&m);
    assert_int_equal(m.clouds[WA].n_gateways, 2);
    assert_int_equal(m.clouds[WA].gateway, WA);
    assert_int_equal(m.clouds[WA].gateways[1], WA_GX);
    assert_int_equal(m.hosts[WA_GX].ordinal, 1);
    assert_int_equal(netmodel_pos(&m, WA_GX), WA);
    assert_true(netmodel_is_twin(&m, WA_GX));
    assert_false(netmodel_is_twin(&m, WA));
    assert_int_equal(netmodel_next_hop(&m, WA_H1, WD), WA);  /* the tree, as before */
    int p[8];
    /* The worker: one tunnel to each gateway of its cloud, preferred first. */
    assert_int_equal(peers_of(&m, WA_H1, p), 2);
    assert_int_equal(p[0], WA);
    assert_int_equal(p[1], WA_GX);
    /* The twin: the worker, wb (tree) and wd (backup); no tunnel to wa-gw. */
    assert_int_equal(peers_of(&m, WA_GX, p), 3);
    assert_int_equal(p[0], WB);
    assert_int_equal(p[1], WA_H1);
    assert_int_equal(p[2], WD);
    /* wb: both of wa's gateways (preferred first), then wc; wd's backup
     * toward wa too. */
    assert_int_equal(peers_of(&m, WB, p), 3);
    assert_int_equal(p[0], WA);
    assert_int_equal(p[1], WA_GX);
    assert_int_equal(p[2], WC);
    assert_int_equal(peers_of(&m, WD, p), 3);
    assert_int_equal(p[0], WC);
    assert_int_equal(p[1], WA);
    assert_int_equal(p[2], WA_GX);
    /* wc, away from wa: as in the ring. */
    assert_int_equal(peers_of(&m, WC, p), 2);
    netmodel_free(&m);
}

/* The groups: the worker's toward its gateway falls to the twin; wb's
 * toward wa to the twin, then to the detour; the twin's own toward wb is
 * the preferred one's (one peer there, then the detour). */
static void
test_twin_groups(void **state)
{
    (void) state;
    struct netmodel m;
    ring_twins(&m);
    struct nm_group *g;
    size_t n;
    uint32_t px = numbered(NULL, 0, "svwc6130011");

    assert_int_equal(netmodel_groups(&m, WA_H1, numbered, NULL, &g, &n), 0);
    assert_int_equal(n, 1);
    assert_int_equal(g[0].id, NM_TWIN_GROUP_BASE + WA);
    assert_int_equal(g[0].n, 2);
    assert_int_equal(g[0].b[0].peer, WA);
    assert_int_equal(g[0].b[1].peer, WA_GX);
    assert_int_equal(g[0].b[0].mark, 0);
    assert_int_equal(g[0].b[1].mark, 0);
    uint32_t worker_group = g[0].id, to_gw = g[0].b[0].out;
    free(g);
    /* Its default route is the group. */
    struct nm_flows fl = {0};
    assert_int_equal(netmodel_flows(&m, WA_H1, numbered, NULL, &fl), 0);
    bool routed = false;
    for (size_t i = 0; i < fl.n; i++) {
        for (size_t k = 0; k < fl.v[i].n_acts; k++) {
            assert_false(fl.v[i].table == NM_T_FORWARD && fl.v[i].acts[k].type == NA_OUTPUT
                         && fl.v[i].acts[k].arg == to_gw);
            routed |= fl.v[i].table == NM_T_FORWARD && fl.v[i].acts[k].type == NA_GROUP
                      && fl.v[i].acts[k].arg == worker_group;
        }
    }
    assert_true(routed);
    nm_flows_clear(&fl);

    struct wanff_plan plan;
    assert_int_equal(wanff_plan(&m, WB, &plan), 0);
    const struct wanff_group *w = group_to(&plan, WA);
    assert_non_null(w);
    assert_int_equal(netmodel_groups(&m, WB, numbered, NULL, &g, &n), 0);
    const struct nm_group *ga = group_id(g, n, w->id);
    assert_non_null(ga);
    assert_int_equal(ga->n, 3);
    assert_int_equal(ga->b[0].peer, WA);
    assert_int_equal(ga->b[1].peer, WA_GX);
    assert_int_equal(ga->b[1].out, px);
    assert_int_equal(ga->b[2].mark, w->mark);
    assert_int_equal(ga->b[2].peer, WC);                     /* the way around */
    free(g);
    wanff_plan_free(&plan);

    /* The twin and the preferred gateway: the same groups, ids and marks,
     * each over its own tunnels. */
    struct nm_group *gx;
    size_t nx;
    assert_int_equal(netmodel_groups(&m, WA, numbered, NULL, &g, &n), 0);
    assert_int_equal(netmodel_groups(&m, WA_GX, numbered, NULL, &gx, &nx), 0);
    assert_int_equal(n, 1);
    assert_int_equal(nx, 1);
    assert_int_equal(g[0].id, gx[0].id);
    assert_int_equal(g[0].n, 2);
    assert_int_equal(gx[0].n, 2);
    assert_int_equal(g[0].b[0].peer, WB);
    assert_int_equal(gx[0].b[0].peer, WB);
    assert_int_equal(g[0].b[1].mark, gx[0].b[1].mark);
    assert_int_equal(gx[0].b[1].peer, WD);
    free(g);
    free(gx);
    netmodel_free(&m);
}

/* The twin holds the preferred gateway's forwarding: the same flows, but
 * for its port numbers. */
static void
test_twin_flows_match_the_preferred(void **state)
{
    (void) state;
    struct netmodel m;
    ring_twins(&m);
    struct nm_flows a = {0}, x = {0};
    assert_int_equal(netmodel_flows(&m, WA, numbered, NULL, &a), 0);
    assert_int_equal(netmodel_flows(&m, WA_GX, numbered, NULL, &x), 0);
    assert_int_equal(a.n, x.n);
    for (size_t i = 0; i < a.n; i++) {
        assert_int_equal(a.v[i].table, x.v[i].table);
        assert_int_equal(a.v[i].priority, x.v[i].priority);
        assert_int_equal(a.v[i].n_acts, x.v[i].n_acts);
    }
    nm_flows_clear(&a);
    nm_flows_clear(&x);
    netmodel_free(&m);
}

/* Two gateways on both sides of the edge wa - wb: four tunnels, each
 * gateway preferring the peer of its own ordinal, and both groups toward
 * the other cloud (two tunnels, then the detour). */
static void
test_twin_pairs_both_sides(void **state)
{
    (void) state;
    struct netmodel m;
    ring_of(&m, TUNNELS_MST_BACKUP, 2);
    int p[8];
    assert_int_equal(peers_of(&m, WA, p), 4);       /* wb-gw, wb-gx, wa-h1, wd */
    assert_int_equal(p[0], WB);
    assert_int_equal(p[1], WB_GX);
    assert_int_equal(peers_of(&m, WA_GX, p), 4);
    assert_int_equal(p[0], WB_GX);                   /* its own ordinal first */
    assert_int_equal(p[1], WB);
    assert_int_equal(peers_of(&m, WB_GX, p), 3);    /* wa-gx, wa-gw, wc */
    assert_int_equal(p[0], WA_GX);
    assert_int_equal(p[1], WA);
    assert_int_equal(p[2], WC);
    size_t n_edge = 0;
    for (int h = 0; h < N_TWINS2; h++) {
        size_t k = peers_of(&m, h, p);
        for (size_t i = 0; i < k; i++) {
            bool a = m.hosts[h].cloud == WA && m.hosts[h].gateway;
            bool b = m.hosts[p[i]].cloud == WB;
            n_edge += a && b;
        }
    }
    assert_int_equal(n_edge, 4);                     /* 2 x 2 */
    struct nm_group *g;
    size_t n;
    assert_int_equal(netmodel_groups(&m, WB_GX, numbered, NULL, &g, &n), 0);
    const struct nm_group *ga = NULL;
    for (size_t i = 0; i < n; i++) {
        ga = g[i].b[0].peer == WA_GX ? &g[i] : ga;
    }
    assert_non_null(ga);
    assert_int_equal(ga->n, 3);
    assert_int_equal(ga->b[1].peer, WA);
    assert_int_not_equal(ga->b[2].mark, 0);
    free(g);
    netmodel_free(&m);
}

/* One gateway per cloud: no twin group anywhere, the ring's groups keep
 * their two buckets. */
static void
test_one_gateway_unchanged(void **state)
{
    (void) state;
    struct netmodel m;
    ring(&m, TUNNELS_MST_BACKUP);
    for (int h = 0; h < N; h++) {
        struct nm_group *g;
        size_t n;
        assert_int_equal(netmodel_groups(&m, h, numbered, NULL, &g, &n), 0);
        for (size_t i = 0; i < n; i++) {
            assert_int_equal(g[i].n, 2);
            assert_true(g[i].id >= WANFF_GROUP_BASE);
            assert_int_not_equal(g[i].b[1].mark, 0);
        }
        free(g);
    }
    netmodel_free(&m);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_backup_is_a_port_not_a_path),
        cmocka_unit_test(test_groups_fall_back_along_the_ring),
        cmocka_unit_test(test_no_plan_outside_mst_backup),
        cmocka_unit_test(test_model_plans_are_each_hosts),
        cmocka_unit_test(test_twin_ports),
        cmocka_unit_test(test_twin_groups),
        cmocka_unit_test(test_twin_flows_match_the_preferred),
        cmocka_unit_test(test_twin_pairs_both_sides),
        cmocka_unit_test(test_one_gateway_unchanged),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
