/* Unit tests for core/uf.c: the union-find, as a table of unions and
 * against a naive relabelling on pseudo-random unions. */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "core/uf.h"

#define MAXN 8

struct uf_case {
    const char *what;
    size_t n;
    size_t pairs[MAXN][2];
    size_t n_pairs;
    bool want_joined[MAXN];         /* what each uf_union returns */
    size_t want_label[MAXN];        /* elements with one label are one set */
};

static const struct uf_case cases[] = {
    {"singletons", 3, {{0, 0}}, 0, {false}, {0, 1, 2}},
    {"self union", 2, {{1, 1}}, 1, {false}, {0, 1}},
    {"a chain", 4, {{0, 1}, {1, 2}, {2, 3}}, 3, {true, true, true}, {0, 0, 0, 0}},
    {"back to front", 4, {{3, 2}, {2, 1}, {1, 0}}, 3, {true, true, true}, {0, 0, 0, 0}},
    {"two islands", 4, {{3, 1}, {2, 0}}, 2, {true, true}, {0, 1, 0, 1}},
    {"a cycle", 4, {{0, 1}, {1, 2}, {2, 0}}, 3, {true, true, false}, {0, 0, 0, 3}},
    {"duplicates", 2, {{0, 1}, {1, 0}, {0, 1}}, 3, {true, false, false}, {0, 0}},
    {"islands joined", 6, {{0, 1}, {2, 3}, {4, 5}, {1, 3}, {5, 2}, {0, 4}}, 6,
     {true, true, true, true, true, false}, {0, 0, 0, 0, 0, 0}},
};

static void
test_cases(void **state)
{
    (void) state;
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        const struct uf_case *t = &cases[c];
        size_t parent[MAXN], size[MAXN];
        struct uf uf;
        uf_init(&uf, t->n, parent, size);
        for (size_t k = 0; k < t->n_pairs; k++) {
            bool joined = uf_union(&uf, t->pairs[k][0], t->pairs[k][1]);
            if (joined != t->want_joined[k]) {
                fail_msg("%s: union %zu returned %d", t->what, k, joined);
            }
        }
        for (size_t i = 0; i < t->n; i++) {
            for (size_t j = 0; j < t->n; j++) {
                bool same = uf_find(&uf, i) == uf_find(&uf, j);
                if (same != (t->want_label[i] == t->want_label[j])) {
                    fail_msg("%s: %zu and %zu %s one set", t->what, i, j,
                             same ? "are" : "are not");
                }
            }
            size_t members = 0;
            for (size_t j = 0; j < t->n; j++) {
                members += t->want_label[j] == t->want_label[i];
            }
            assert_int_equal(size[uf_find(&uf, i)], members);
        }
    }
}

/* Pseudo-random unions agree with a naive relabelling; sizes add up; and
 * uf_find() still answers after size[] is overwritten, as uf.h allows. */
static void
test_against_naive(void **state)
{
    (void) state;
    enum { N = 300, UNIONS = 250 };
    static size_t parent[N], size[N], label[N];
    uint32_t x = 12345;
    struct uf uf;
    uf_init(&uf, N, parent, size);
    for (size_t i = 0; i < N; i++) {
        label[i] = i;
    }
    for (size_t k = 0; k < UNIONS; k++) {
        x = x * 1103515245u + 12345u;
        size_t a = (x >> 8) % N;
        x = x * 1103515245u + 12345u;
        size_t b = (x >> 8) % N;
        bool apart = label[a] != label[b];
        assert_int_equal(uf_union(&uf, a, b), apart);
        if (apart) {
            size_t from = label[b];
            for (size_t i = 0; i < N; i++) {
                label[i] = label[i] == from ? label[a] : label[i];
            }
        }
    }
    for (size_t i = 0; i < N; i++) {
        size_t members = 0;
        for (size_t j = 0; j < N; j++) {
            members += label[j] == label[i];
        }
        assert_int_equal(size[uf_find(&uf, i)], members);
    }
    memset(size, 0xff, sizeof size);
    for (size_t i = 0; i < N; i++) {
        for (size_t j = 0; j < N; j++) {
            assert_int_equal(uf_find(&uf, i) == uf_find(&uf, j), label[i] == label[j]);
        }
    }
}

/* A long chain, joined back to front, is one set of every element. */
static void
test_long_chain(void **state)
{
    (void) state;
    enum { N = 10000 };
    size_t *parent = calloc(N, sizeof *parent), *size = calloc(N, sizeof *size);
    assert_non_null(parent);
    assert_non_null(size);
    struct uf uf;
    uf_init(&uf, N, parent, size);
    for (size_t i = N - 1; i > 0; i--) {
        assert_true(uf_union(&uf, i, i - 1));
    }
    size_t r = uf_find(&uf, 0);
    assert_int_equal(size[r], N);
    for (size_t i = 0; i < N; i++) {
        assert_int_equal(uf_find(&uf, i), r);
    }
    free(parent);
    free(size);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_cases),
        cmocka_unit_test(test_against_naive),
        cmocka_unit_test(test_long_chain),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
