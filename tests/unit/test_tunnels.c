/* Unit tests for core/tunnels.c: MST and full-mesh layouts, determinism,
 * and the diff that keeps tunnel churn to what must change. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "core/tunnels.h"

static bool
has(const struct tunnel *t, size_t n, const char *a, const char *b)
{
    for (size_t i = 0; i < n; i++) {
        if (!strcmp(t[i].a, a) && !strcmp(t[i].b, b)) {
            return true;
        }
    }
    return false;
}

static void
test_counts(void **state)
{
    (void) state;
    const char *clouds[] = {"c1", "c2", "c3", "c4", "c5", "c6", "c7", "c8"};
    for (size_t n = 0; n <= 8; n++) {
        struct tunnel *t;
        size_t m;
        assert_int_equal(tunnels_compute(TUNNELS_MST, clouds, n, NULL, 0, &t, &m), 0);
        assert_int_equal(m, n ? n - 1 : 0);
        free(t);
        assert_int_equal(tunnels_compute(TUNNELS_FULL_MESH, clouds, n, NULL, 0, &t, &m), 0);
        assert_int_equal(m, n * (n ? n - 1 : 0) / 2);
        for (size_t i = 0; i < m; i++) {
            assert_true(strcmp(t[i].a, t[i].b) < 0);
            if (i) {
                int c = strcmp(t[i - 1].a, t[i].a);
                assert_true(c < 0 || (c == 0 && strcmp(t[i - 1].b, t[i].b) < 0));
            }
        }
        free(t);
    }
}

/* The tree follows the costs: a cheap triangle side is used, the
 * expensive one avoided; costs may name clouds in either order. */
static void
test_mst_follows_costs(void **state)
{
    (void) state;
    const char *clouds[] = {"gcp", "aws", "onprem"};
    const struct tunnels_cost costs[] = {
        {"gcp", "aws", 10}, {"onprem", "aws", 3}, {"gcp", "onprem", 12},
        {"aws", "mars", 0.1},  /* unknown cloud: ignored */
    };
    struct tunnel *t;
    size_t m;
    assert_int_equal(tunnels_compute(TUNNELS_MST, clouds, 3, costs, 4, &t, &m), 0);
    assert_int_equal(m, 2);
    assert_true(has(t, m, "aws", "onprem"));
    assert_true(has(t, m, "aws", "gcp"));
    assert_false(has(t, m, "gcp", "onprem"));
    assert_true(tunnels_total_cost(t, m) == 13.0);
    free(t);
}

static size_t n_added, n_deleted;
static void
count_add(const struct tunnel *t, void *aux)
{
    (void) t;
    (void) aux;
    n_added++;
}
static void
count_del(const struct tunnel *t, void *aux)
{
    (void) t;
    (void) aux;
    n_deleted++;
}

/* Adding a cloud that is expensive to reach adds one tunnel and removes
 * none; removing a leaf cloud removes its one tunnel. */
static void
test_diff_minimal_churn(void **state)
{
    (void) state;
    const char *four[] = {"a", "b", "c", "d"};
    const char *five[] = {"a", "b", "c", "d", "e"};
    const struct tunnels_cost costs[] = {
        {"a", "b", 1}, {"b", "c", 1}, {"c", "d", 1},
        {"a", "e", 5}, {"b", "e", 6}, {"c", "e", 7}, {"d", "e", 8},
    };
    struct tunnel *t4, *t5;
    size_t m4, m5;
    assert_int_equal(tunnels_compute(TUNNELS_MST, four, 4, costs, 7, &t4, &m4), 0);
    assert_int_equal(tunnels_compute(TUNNELS_MST, five, 5, costs, 7, &t5, &m5), 0);
    n_added = n_deleted = 0;
    tunnels_diff(t4, m4, t5, m5, count_add, count_del, NULL);
    assert_int_equal(n_added, 1);
    assert_int_equal(n_deleted, 0);
    assert_true(has(t5, m5, "a", "e"));
    n_added = n_deleted = 0;
    tunnels_diff(t5, m5, t4, m4, count_add, count_del, NULL);
    assert_int_equal(n_added, 0);
    assert_int_equal(n_deleted, 1);
    n_added = n_deleted = 0;
    tunnels_diff(t5, m5, t5, m5, count_add, count_del, NULL);
    assert_int_equal(n_added + n_deleted, 0);
    free(t4);
    free(t5);
}

/* Equal costs: the same input in any order gives the same tree. */
static void
test_deterministic(void **state)
{
    (void) state;
    const char *x[] = {"d", "b", "a", "c"};
    const char *y[] = {"a", "c", "b", "d"};
    struct tunnel *tx, *ty;
    size_t mx, my;
    assert_int_equal(tunnels_compute(TUNNELS_MST, x, 4, NULL, 0, &tx, &mx), 0);
    assert_int_equal(tunnels_compute(TUNNELS_MST, y, 4, NULL, 0, &ty, &my), 0);
    assert_int_equal(mx, my);
    for (size_t i = 0; i < mx; i++) {
        assert_string_equal(tx[i].a, ty[i].a);
        assert_string_equal(tx[i].b, ty[i].b);
    }
    free(tx);
    free(ty);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_counts),
        cmocka_unit_test(test_mst_follows_costs),
        cmocka_unit_test(test_diff_minimal_churn),
        cmocka_unit_test(test_deterministic),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
