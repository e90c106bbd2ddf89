/* Unit tests for core/wanff.c: a gateway's fast-failover plan.
 *
 * Four clouds wa, wb, wc, wd (one gateway each, hosts 0..3) with the
 * tree wa - wb - wc - wd and the backup wa - wd (the cloud-link costs make
 * both), so every cut has a detour around the ring: three hops for each. */
#include <setjmp.h>
#include <stdarg.h>
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

static void
ring(struct netmodel *m, enum tunnels_layout layout)
{
    static const char *names[N] = {"wa", "wb", "wc", "wd"};
    netmodel_init(m);
    m->layout = layout;
    m->n_clouds = m->n_hosts = N;
    m->clouds = calloc(N, sizeof *m->clouds);
    m->hosts = calloc(N, sizeof *m->hosts);
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
    m->n_cloudlinks = sizeof links / sizeof links[0];
    m->cloudlinks = calloc(m->n_cloudlinks, sizeof *m->cloudlinks);
    for (size_t i = 0; i < m->n_cloudlinks; i++) {
        m->cloudlinks[i] = (struct nm_cloudlink) {links[i].a, links[i].b, links[i].cost};
    }
    assert_int_equal(netmodel_finish(m), 0);
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

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_backup_is_a_port_not_a_path),
        cmocka_unit_test(test_groups_fall_back_along_the_ring),
        cmocka_unit_test(test_no_plan_outside_mst_backup),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
