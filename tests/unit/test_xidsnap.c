/* Unit tests for core/xidsnap.c: parsing PostgreSQL snapshots and
 * transaction ids, and the visibility rule, as tables. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "core/xidsnap.h"

static const struct {
    const char *text;
    int error;
} parses[] = {
    {"10:10:", 0},
    {"10:20:12,15", 0},
    {"1:2:1", 0},
    {"10:20:12,", EINVAL},
    {"10:20:9", EINVAL},            /* xip below xmin */
    {"10:20:20", EINVAL},           /* xip at xmax */
    {"20:10:", EINVAL},
    {"10:20", EINVAL},
    {"010:20:", EINVAL},
    {"-1:20:", EINVAL},
    {"10:99999999999999999999:", EINVAL},
    {"", EINVAL},
};

static void
test_parse(void **state)
{
    (void) state;
    for (size_t i = 0; i < sizeof parses / sizeof parses[0]; i++) {
        struct xidsnap s;
        int e = xidsnap_parse(parses[i].text, &s);
        if (e != parses[i].error) {
            fail_msg("%s: %d, expected %d", parses[i].text, e, parses[i].error);
        }
        xidsnap_uninit(&s);
    }
}

static const struct {
    uint64_t xid;
    bool seen;
} sees[] = {
    {1, true}, {11, true},           /* before xmin: committed before */
    {12, false}, {15, false},        /* in progress when taken */
    {13, true}, {19, true},          /* committed between xmin and xmax */
    {20, false}, {1000, false},      /* began after */
};

static void
test_sees(void **state)
{
    (void) state;
    struct xidsnap s;
    assert_int_equal(xidsnap_parse("12:20:12,15", &s), 0);
    assert_int_equal(s.n_xip, 2);
    for (size_t i = 0; i < sizeof sees / sizeof sees[0]; i++) {
        if (xidsnap_sees(&s, sees[i].xid) != sees[i].seen) {
            fail_msg("xid %llu: expected %s", (unsigned long long) sees[i].xid,
                     sees[i].seen ? "seen" : "not seen");
        }
    }
    xidsnap_uninit(&s);
}

static void
test_parse_xid(void **state)
{
    (void) state;
    uint64_t x;
    assert_true(xidsnap_parse_xid("1", &x) && x == 1);
    assert_true(xidsnap_parse_xid("9223372036854775807", &x)
                && x == UINT64_C(9223372036854775807));
    static const char *const bad[] = {"0", "", "01", "1a", " 1", "-1", "+1",
                                      "9223372036854775808", "1.0"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        if (xidsnap_parse_xid(bad[i], &x)) {
            fail_msg("'%s' accepted", bad[i]);
        }
    }
    assert_false(xidsnap_parse_xid(NULL, &x));
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_parse),
        cmocka_unit_test(test_sees),
        cmocka_unit_test(test_parse_xid),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
