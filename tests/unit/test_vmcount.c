/* Unit tests for core/vmcount.c: a VM's totals across the interfaces that
 * carry it, as a table of steps (interface, its counters) and the totals
 * and offsets each step must leave. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "core/vmcount.h"

struct step {
    const char *key;
    long long raw;                  /* every counter the same, for brevity */
    long long total;
    bool rebased, changed;
};

struct count_case {
    const char *name;
    long long restored;             /* >= 0: a total read back at start */
    struct step steps[5];
    size_t n;
};

static const struct count_case cases[] = {
    {"a first interface counts from its own zero", -1,
     {{"h1/i1", 7, 7, true, true}, {"h1/i1", 9, 9, false, true},
      {"h1/i1", 9, 9, false, false}}, 3},
    {"a new interface (a start) continues the total", -1,
     {{"h1/i1", 10, 10, true, true}, {"h1/i2", 0, 10, true, false},
      {"h1/i2", 4, 14, false, true}}, 3},
    {"another host, another cloud: the same", -1,
     {{"h1/i1", 10, 10, true, true}, {"h9/i7", 3, 10, true, false},
      {"h9/i7", 5, 12, false, true}}, 3},
    {"counters that go back (a reset) never take the total back", -1,
     {{"h1/i1", 50, 50, true, true}, {"h1/i1", 2, 50, true, false},
      {"h1/i1", 6, 54, false, true}}, 3},
    {"a total restored at start continues on the first interface seen", 100,
     {{"h1/i3", 5, 100, true, true}, {"h1/i3", 8, 103, false, true}}, 2},
};

static void
test_counts(void **state)
{
    (void) state;
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        const struct count_case *cc = &cases[i];
        struct vmcount c;
        memset(&c, 0, sizeof c);
        if (cc->restored >= 0) {
            for (int k = 0; k < VMCOUNT_N; k++) {
                c.total[k] = cc->restored;
            }
            c.counted = true;
        }
        long long last[VMCOUNT_N] = {0};
        for (size_t s = 0; s < cc->n; s++) {
            const struct step *st = &cc->steps[s];
            long long raw[VMCOUNT_N];
            for (int k = 0; k < VMCOUNT_N; k++) {
                raw[k] = st->raw + k;           /* distinct per counter */
            }
            bool changed;
            bool rebased = vmcount_update(&c, st->key, raw, &changed);
            if (rebased != st->rebased || (s && changed != st->changed)) {
                fail_msg("%s, step %zu: rebased %d changed %d", cc->name, s, rebased,
                         changed);
            }
            if (c.total[0] != st->total) {
                fail_msg("%s, step %zu: total %lld, want %lld", cc->name, s, c.total[0],
                         st->total);
            }
            for (int k = 0; k < VMCOUNT_N; k++) {
                assert_true(c.total[k] >= last[k]);     /* never backwards */
                last[k] = c.total[k];
            }
        }
    }
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_counts),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
