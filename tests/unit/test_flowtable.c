/* Unit tests for ctrl/flowtable.c: identity independent of match field
 * order, content compared by cookie and instructions, mark and sweep
 * within a cookie scope, removal keeping probe runs intact, read-back
 * load and drift comparison, the meters the flows name, strings shared
 * between tables through the pool and given back with their last flow. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "ctrl/flowtable.h"

/* A flow-mod ADD: table, priority, in_port and eth_dst (in the order
 * given), output to 'out'. */
static void
flow(struct ofmsg_flow_mod *fm, uint8_t table, uint16_t prio, uint32_t in_port,
     uint64_t dst, bool dst_first, uint64_t cookie, uint32_t out)
{
    memset(fm, 0, sizeof *fm);
    fm->table_id = table;
    fm->priority = prio;
    fm->cookie = cookie;
    fm->command = OFPFC_ADD;
    ofmatch_init(&fm->match);
    if (dst_first) {
        ofmatch_set(&fm->match, MF_ETH_DST, dst);
        ofmatch_set(&fm->match, MF_IN_PORT, in_port);
    } else {
        ofmatch_set(&fm->match, MF_IN_PORT, in_port);
        ofmatch_set(&fm->match, MF_ETH_DST, dst);
    }
    fm->insts = calloc(1, sizeof *fm->insts);
    fm->n_insts = 1;
    fm->insts[0].type = OFPIT_APPLY_ACTIONS;
    fm->insts[0].actions = calloc(1, sizeof *fm->insts[0].actions);
    fm->insts[0].n_actions = 1;
    fm->insts[0].actions[0].type = OFPAT_OUTPUT;
    fm->insts[0].actions[0].u.output.port = out;
    fm->insts[0].actions[0].u.output.max_len = 0xffff;
}

static void
unflow(struct ofmsg_flow_mod *fm)
{
    ofaction_free_insts(fm->insts, fm->n_insts);
    fm->insts = NULL;
}

static bool
vm_scope(void *aux, uint64_t cookie)
{
    return cookie == *(uint64_t *) aux;
}

static void
test_identity_and_content(void **state)
{
    (void) state;
    struct flowtable_pool *pool = flowtable_pool_create();
    struct flowtable *ft = flowtable_create(pool);
    struct ofmsg_flow_mod a, a_reordered, a_moved, b;
    flow(&a, 10, 100, 1, 0x020000000001ULL, false, 0xA1, 5);
    flow(&a_reordered, 10, 100, 1, 0x020000000001ULL, true, 0xA1, 5);
    flow(&a_moved, 10, 100, 1, 0x020000000001ULL, false, 0xA1, 6);
    flow(&b, 20, 100, 2, 0x020000000002ULL, false, 0xB1, 7);
    assert_int_equal(flowtable_set(ft, &a), 0);
    assert_int_equal(flowtable_set(ft, &a_reordered), 0);   /* the same flow */
    assert_int_equal(flowtable_count(ft), 1);
    flowtable_begin(ft);
    assert_int_equal(flowtable_mark(ft, &a_reordered), FLOWTABLE_SAME);
    assert_int_equal(flowtable_mark(ft, &a_moved), FLOWTABLE_DIFFERENT);
    assert_int_equal(flowtable_mark(ft, &b), FLOWTABLE_ABSENT);
    a_reordered.cookie = 0xA2;
    assert_int_equal(flowtable_mark(ft, &a_reordered), FLOWTABLE_DIFFERENT);
    /* Replacing content keeps one entry. */
    assert_int_equal(flowtable_set(ft, &a_moved), 0);
    assert_int_equal(flowtable_count(ft), 1);
    flowtable_begin(ft);
    assert_int_equal(flowtable_mark(ft, &a_moved), FLOWTABLE_SAME);
    assert_true(flowtable_bytes(ft) > 0);
    unflow(&a);
    unflow(&a_reordered);
    unflow(&a_moved);
    unflow(&b);
    flowtable_destroy(ft);
    assert_int_equal(flowtable_pool_count(pool), 0);     /* every reference given back */
    flowtable_pool_destroy(pool);
}

static void
test_sweep_within_scope(void **state)
{
    (void) state;
    struct flowtable_pool *pool = flowtable_pool_create();
    struct flowtable *ft = flowtable_create(pool);
    enum { N = 300 };
    struct ofmsg_flow_mod f[N];
    for (int i = 0; i < N; i++) {
        flow(&f[i], (uint8_t) (i % 3 * 10), 100, (uint32_t) i, 0x020000000000ULL + (uint64_t) i,
             i % 2, 0xA000000000000000ULL | (uint64_t) (i % 4), (uint32_t) i + 1);
        assert_int_equal(flowtable_set(ft, &f[i]), 0);
    }
    assert_int_equal(flowtable_count(ft), N);
    /* Want everything but flows 7 and 8: of those, only the one in scope
     * (cookie ...3 is 7's; 8's is ...0) is swept. */
    flowtable_begin(ft);
    for (int i = 0; i < N; i++) {
        if (i != 7 && i != 8) {
            assert_int_equal(flowtable_mark(ft, &f[i]), FLOWTABLE_SAME);
        }
    }
    uint64_t scope = 0xA000000000000003ULL;
    struct ofmsg *dels = NULL;
    size_t n = 0, cap = 0;
    assert_int_equal(flowtable_sweep(ft, vm_scope, &scope, &dels, &n, &cap), 0);
    assert_int_equal(n, 1);
    const struct ofmsg_flow_mod *d = &dels[0].u.flow_mod;
    assert_int_equal(d->command, OFPFC_DELETE_STRICT);
    assert_int_equal(d->table_id, f[7].table_id);
    assert_int_equal(d->priority, 100);
    assert_true(ofmatch_equal(&d->match, &f[7].match));
    /* Without a scope both are swept. */
    n = 0;
    assert_int_equal(flowtable_sweep(ft, NULL, NULL, &dels, &n, &cap), 0);
    assert_int_equal(n, 2);
    /* The same through the cookie index, visiting those cookies only. */
    n = 0;
    assert_int_equal(flowtable_sweep_cookies(ft, &scope, 1, &dels, &n, &cap), 0);
    assert_int_equal(n, 1);
    assert_true(ofmatch_equal(&dels[0].u.flow_mod.match, &f[7].match));
    const uint64_t both[] = {0xA000000000000000ULL, 0xA000000000000003ULL,
                             0xA000000000000003ULL, 0xA00000000000000fULL};
    n = 0;
    assert_int_equal(flowtable_sweep_cookies(ft, both, 4, &dels, &n, &cap), 0);
    assert_int_equal(n, 2);
    /* Removal keeps every other flow findable (probe runs re-placed). */
    for (int i = 0; i < N; i += 2) {
        assert_true(flowtable_remove(ft, f[i].table_id, f[i].priority, &f[i].match));
    }
    assert_false(flowtable_remove(ft, f[0].table_id, f[0].priority, &f[0].match));
    assert_int_equal(flowtable_count(ft), N / 2);
    flowtable_begin(ft);
    for (int i = 0; i < N; i++) {
        assert_int_equal(flowtable_mark(ft, &f[i]),
                         i % 2 ? FLOWTABLE_SAME : FLOWTABLE_ABSENT);
    }
    /* The cookie index follows removals and a flow that changes owner:
     * cookies ...0 and ...2 are gone, flow 1 moves from ...1 to ...9. */
    f[1].cookie = 0xA000000000000009ULL;
    assert_int_equal(flowtable_set(ft, &f[1]), 0);
    flowtable_begin(ft);
    const uint64_t all[] = {0xA000000000000000ULL, 0xA000000000000001ULL,
                            0xA000000000000002ULL, 0xA000000000000003ULL};
    n = 0;
    assert_int_equal(flowtable_sweep_cookies(ft, all, 4, &dels, &n, &cap), 0);
    assert_int_equal(n, N / 2 - 1);
    const uint64_t moved = 0xA000000000000009ULL;
    n = 0;
    assert_int_equal(flowtable_sweep_cookies(ft, &moved, 1, &dels, &n, &cap), 0);
    assert_int_equal(n, 1);
    assert_true(ofmatch_equal(&dels[0].u.flow_mod.match, &f[1].match));
    free(dels);
    for (int i = 0; i < N; i++) {
        unflow(&f[i]);
    }
    flowtable_destroy(ft);
    assert_int_equal(flowtable_pool_count(pool), 0);     /* every reference given back */
    flowtable_pool_destroy(pool);
}

static void
test_load_and_compare(void **state)
{
    (void) state;
    struct flowtable_pool *pool = flowtable_pool_create();
    struct flowtable *ft = flowtable_create(pool);
    struct ofmsg_flow_mod a, b, c;
    flow(&a, 0, 10, 1, 0x020000000001ULL, false, 0xA1, 5);
    flow(&b, 10, 10, 2, 0x020000000002ULL, true, 0xA2, 6);
    flow(&c, 20, 10, 3, 0x020000000003ULL, false, 0xA3, 7);
    /* The bridge reports a (fields in its own order) and b. */
    struct offlow_stats rb[2] = {0};
    rb[0].table_id = a.table_id;
    rb[0].priority = a.priority;
    rb[0].cookie = a.cookie;
    rb[0].match = a.match;
    rb[0].insts = a.insts;
    rb[0].n_insts = a.n_insts;
    rb[1].table_id = b.table_id;
    rb[1].priority = b.priority;
    rb[1].cookie = b.cookie;
    rb[1].match = b.match;
    rb[1].insts = b.insts;
    rb[1].n_insts = b.n_insts;
    assert_int_equal(flowtable_load(ft, rb, 2), 0);
    assert_int_equal(flowtable_count(ft), 2);
    size_t missing, extra;
    assert_int_equal(flowtable_compare(ft, rb, 2, &missing, &extra), 0);
    assert_int_equal(missing, 0);
    assert_int_equal(extra, 0);
    /* The table also believes c is installed; the bridge lost b and has a
     * with another cookie. */
    assert_int_equal(flowtable_set(ft, &c), 0);
    rb[0].cookie = 0xEE;
    assert_int_equal(flowtable_compare(ft, rb, 1, &missing, &extra), 0);
    assert_int_equal(missing, 3);           /* a (content), b, c */
    assert_int_equal(extra, 0);
    flowtable_clear(ft);
    assert_int_equal(flowtable_compare(ft, rb, 2, &missing, &extra), 0);
    assert_int_equal(extra, 2);
    unflow(&a);
    unflow(&b);
    unflow(&c);
    flowtable_destroy(ft);
    assert_int_equal(flowtable_pool_count(pool), 0);     /* every reference given back */
    flowtable_pool_destroy(pool);
}

/* The meters the installed flows name, each once, sorted; a flow without
 * a meter instruction names none. */
static void
test_meters_named(void **state)
{
    (void) state;
    struct flowtable_pool *pool = flowtable_pool_create();
    struct flowtable *ft = flowtable_create(pool);
    uint32_t *ids;
    size_t n;
    assert_int_equal(flowtable_meters(ft, &ids, &n), 0);
    assert_int_equal(n, 0);
    free(ids);
    static const uint32_t meter[] = {0x20005, 7, 0, 0x20005, 3};
    for (uint32_t i = 0; i < 5; i++) {
        struct ofmsg_flow_mod fm;
        flow(&fm, 0, 100, i + 1, 0x020000000001ull, false, 1, 9);
        if (meter[i]) {
            struct ofinst *g = realloc(fm.insts, 2 * sizeof *g);
            assert_non_null(g);
            fm.insts = g;
            memmove(&fm.insts[1], &fm.insts[0], sizeof *fm.insts);
            memset(&fm.insts[0], 0, sizeof *fm.insts);
            fm.insts[0].type = OFPIT_METER;     /* a meter comes first */
            fm.insts[0].meter_id = meter[i];
            fm.n_insts = 2;
        }
        assert_int_equal(flowtable_set(ft, &fm), 0);
        unflow(&fm);
    }
    assert_int_equal(flowtable_meters(ft, &ids, &n), 0);
    assert_int_equal(n, 3);
    assert_int_equal(ids[0], 3);
    assert_int_equal(ids[1], 7);
    assert_int_equal(ids[2], 0x20005);
    free(ids);
    flowtable_destroy(ft);
    assert_int_equal(flowtable_pool_count(pool), 0);     /* every reference given back */
    flowtable_pool_destroy(pool);
}

/* Two tables share one pool: a flow installed on both is one key and one
 * instruction list; a string goes when its last flow does; a changed
 * cookie moves the flow to the new cookie's list; freed entries are used
 * again. */
static void
test_pool_shared(void **state)
{
    (void) state;
    struct flowtable_pool *pool = flowtable_pool_create();
    struct flowtable *t1 = flowtable_create(pool), *t2 = flowtable_create(pool);
    struct ofmsg_flow_mod a, a_out7, a_ck;
    flow(&a, 10, 100, 1, 0x020000000001ULL, false, 0xA1, 5);
    flow(&a_out7, 10, 100, 1, 0x020000000001ULL, true, 0xA1, 7);
    flow(&a_ck, 10, 100, 1, 0x020000000001ULL, false, 0xB2, 5);
    assert_int_equal(flowtable_set(t1, &a), 0);
    assert_int_equal(flowtable_set(t2, &a), 0);
    assert_int_equal(flowtable_pool_count(pool), 2);        /* key, instructions */
    size_t one = flowtable_pool_bytes(pool);
    assert_true(one > 0);
    /* Other instructions on t2: a third string; t1 keeps the old ones. */
    assert_int_equal(flowtable_set(t2, &a_out7), 0);
    assert_int_equal(flowtable_pool_count(pool), 3);
    flowtable_begin(t1);
    assert_int_equal(flowtable_mark(t1, &a), FLOWTABLE_SAME);
    flowtable_begin(t2);
    assert_int_equal(flowtable_mark(t2, &a), FLOWTABLE_DIFFERENT);
    assert_int_equal(flowtable_mark(t2, &a_out7), FLOWTABLE_SAME);
    /* Back to the same instructions: the third string goes. */
    assert_int_equal(flowtable_set(t2, &a), 0);
    assert_int_equal(flowtable_pool_count(pool), 2);
    assert_int_equal(flowtable_pool_bytes(pool), one);
    /* A new cookie: the flow is on that cookie's list only. */
    assert_int_equal(flowtable_set(t1, &a_ck), 0);
    assert_int_equal(flowtable_count(t1), 1);
    flowtable_begin(t1);
    struct ofmsg *dels = NULL;
    size_t n = 0, cap = 0;
    uint64_t old_ck = 0xA1, new_ck = 0xB2;
    assert_int_equal(flowtable_sweep_cookies(t1, &old_ck, 1, &dels, &n, &cap), 0);
    assert_int_equal(n, 0);
    assert_int_equal(flowtable_sweep_cookies(t1, &new_ck, 1, &dels, &n, &cap), 0);
    assert_int_equal(n, 1);
    assert_int_equal(dels[0].u.flow_mod.cookie, 0xB2);
    assert_int_equal(dels[0].u.flow_mod.table_id, 10);
    assert_int_equal(dels[0].u.flow_mod.priority, 100);
    free(dels);
    /* Removed from one table, the strings stay for the other. */
    assert_true(flowtable_remove(t1, a.table_id, a.priority, &a.match));
    assert_int_equal(flowtable_pool_count(pool), 2);
    assert_true(flowtable_remove(t2, a.table_id, a.priority, &a.match));
    assert_int_equal(flowtable_pool_count(pool), 0);
    assert_false(flowtable_remove(t2, a.table_id, a.priority, &a.match));
    /* Freed entries are used again: the table's size does not grow. */
    enum { N = 600 };
    static struct ofmsg_flow_mod f[N];
    for (int i = 0; i < N; i++) {
        flow(&f[i], 20, 100, 1, 0x020000001000ULL + (uint64_t) i, false, 0xC0 + (uint64_t) (i % 7),
             (uint32_t) (i % 3) + 1);
        assert_int_equal(flowtable_set(t1, &f[i]), 0);
    }
    assert_int_equal(flowtable_pool_count(pool), N + 3);    /* 3 instruction lists */
    size_t full = flowtable_bytes(t1);
    for (int round = 0; round < 3; round++) {
        for (int i = 0; i < N; i += 2) {
            assert_true(flowtable_remove(t1, f[i].table_id, f[i].priority, &f[i].match));
        }
        assert_int_equal(flowtable_count(t1), N / 2);
        for (int i = 0; i < N; i += 2) {
            assert_int_equal(flowtable_set(t1, &f[i]), 0);
        }
    }
    assert_int_equal(flowtable_count(t1), N);
    assert_int_equal(flowtable_bytes(t1), full);
    flowtable_begin(t1);
    for (int i = 0; i < N; i++) {
        assert_int_equal(flowtable_mark(t1, &f[i]), FLOWTABLE_SAME);
    }
    for (int i = 0; i < N; i++) {
        unflow(&f[i]);
    }
    flowtable_destroy(t1);
    flowtable_destroy(t2);
    assert_int_equal(flowtable_pool_count(pool), 0);
    unflow(&a);
    unflow(&a_out7);
    unflow(&a_ck);
    flowtable_pool_destroy(pool);
}

/* A flow without instructions (a drop) as the first flow a table sees:
 * the empty instruction list is a string of the pool like any other. */
static void
test_empty_instructions(void **state)
{
    (void) state;
    struct flowtable_pool *pool = flowtable_pool_create();
    struct flowtable *ft = flowtable_create(pool);
    struct ofmsg_flow_mod drop;
    flow(&drop, 0, 0, 1, 0x020000000001ULL, false, 0xD0, 1);
    ofaction_free_insts(drop.insts, drop.n_insts);
    drop.insts = NULL;
    drop.n_insts = 0;
    flowtable_begin(ft);
    assert_int_equal(flowtable_mark(ft, &drop), FLOWTABLE_ABSENT);
    assert_int_equal(flowtable_set(ft, &drop), 0);
    assert_int_equal(flowtable_pool_count(pool), 2);
    flowtable_begin(ft);
    assert_int_equal(flowtable_mark(ft, &drop), FLOWTABLE_SAME);
    assert_true(flowtable_remove(ft, drop.table_id, drop.priority, &drop.match));
    flowtable_destroy(ft);
    assert_int_equal(flowtable_pool_count(pool), 0);
    flowtable_pool_destroy(pool);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_identity_and_content),
        cmocka_unit_test(test_sweep_within_scope),
        cmocka_unit_test(test_load_and_compare),
        cmocka_unit_test(test_meters_named),
        cmocka_unit_test(test_pool_shared),
        cmocka_unit_test(test_empty_instructions),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
