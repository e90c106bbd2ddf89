/* Unit tests for core/vtopo.c: segments of virtual topologies, table-driven. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "core/vtopo.h"

#define MAXN 8

struct vtopo_case {
    const char *what;
    size_t n;
    struct vtopo_link links[MAXN];
    size_t n_links;
    size_t want_segments;
    size_t want_seg[MAXN];
};

static const struct vtopo_case cases[] = {
    {"no switches", 0, {{0, 0}}, 0, 0, {0}},
    {"one switch", 1, {{0, 0}}, 0, 1, {0}},
    {"unlinked", 3, {{0, 0}}, 0, 3, {0, 1, 2}},
    {"a chain", 4, {{0, 1}, {1, 2}, {2, 3}}, 3, 1, {0, 0, 0, 0}},
    {"two islands", 4, {{3, 1}, {2, 0}}, 2, 2, {0, 1, 0, 1}},
    {"a cycle and a loner", 4, {{0, 1}, {1, 2}, {2, 0}}, 3, 2, {0, 0, 0, 1}},
    {"linked late to the root", 5, {{3, 4}, {2, 3}, {4, 0}}, 3, 2, {0, 1, 0, 0, 0}},
    {"self loop and out of range", 3, {{1, 1}, {0, 7}, {9, 2}}, 3, 3, {0, 1, 2}},
    {"duplicate links", 2, {{0, 1}, {1, 0}, {0, 1}}, 3, 1, {0, 0}},
};

static void
test_cases(void **state)
{
    (void) state;
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        const struct vtopo_case *t = &cases[c];
        size_t seg[MAXN], scratch[MAXN];
        memset(seg, 0xff, sizeof seg);
        size_t n = vtopo_segments(t->n, t->links, t->n_links, seg, scratch);
        if (n != t->want_segments) {
            fail_msg("%s: %zu segments, want %zu", t->what, n, t->want_segments);
        }
        for (size_t i = 0; i < t->n; i++) {
            if (seg[i] != t->want_seg[i]) {
                fail_msg("%s: switch %zu in segment %zu, want %zu", t->what, i, seg[i],
                         t->want_seg[i]);
            }
        }
    }
}

/* A long chain linked back to front still ends in one segment, numbered 0. */
static void
test_long_chain(void **state)
{
    (void) state;
    enum { N = 1000 };
    struct vtopo_link *l = calloc(N - 1, sizeof *l);
    size_t *seg = calloc(N, sizeof *seg), *scratch = calloc(N, sizeof *scratch);
    assert_non_null(l);
    assert_non_null(seg);
    assert_non_null(scratch);
    for (size_t i = 0; i + 1 < N; i++) {
        l[i] = (struct vtopo_link) {N - 1 - i, N - 2 - i};
    }
    assert_int_equal(vtopo_segments(N, l, N - 1, seg, scratch), 1);
    for (size_t i = 0; i < N; i++) {
        assert_int_equal(seg[i], 0);
    }
    free(l);
    free(seg);
    free(scratch);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_cases),
        cmocka_unit_test(test_long_chain),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
