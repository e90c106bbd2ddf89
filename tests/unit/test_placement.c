/* Unit tests for core/placement.c: the placement policy, table-driven over
 * one fixed fleet. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "core/placement.h"

/*            host       cloud    jur  gw     cap used cost */
static const struct placement_host fleet[] = {
    {"h-de-gw", "de-gw", "c-de", "aws-de", "DE", true, 10, 0, 0.10},
    {"h-de-1", "de-1", "c-de", "aws-de", "DE", false, 4, 3, 0.10},
    {"h-de-2", "de-2", "c-de", "aws-de", "DE", false, 4, 1, 0.10},
    {"h-us-1", "us-1", "c-us", "gcp-us", "US", false, 8, 0, 0.05},
    {"h-pt-gw", "pt-gw", "c-pt", "onprem", "PT", true, 10, 0, 0.00},
    {"h-pt-1", "pt-1", "c-pt", "onprem", "PT", false, 2, 2, 0.00},
};
#define N (sizeof fleet / sizeof fleet[0])

struct pcase {
    const char *what;
    struct placement_req req;
    int error;
    const char *host;       /* expected host name when error == 0 */
    const char *reason;     /* substring of the reason when error != 0 */
};

static const char *const de[] = {"DE"};
static const char *const de_us[] = {"DE", "US"};
static const char *const pt[] = {"PT"};
static const char *const fr[] = {"FR"};
static const char *const avoid_us[] = {"gcp-us"};
static const char *const avoid_by_id[] = {"c-us", "c-de"};

static const struct pcase cases[] = {
    {"explicit host", {PLACEMENT_HOST, "de-1", NULL, 0, NULL, 0}, 0, "de-1", NULL},
    {"explicit host by id", {PLACEMENT_HOST, "h-us-1", NULL, 0, NULL, 0}, 0, "us-1", NULL},
    {"explicit gateway allowed", {PLACEMENT_HOST, "pt-gw", NULL, 0, NULL, 0}, 0, "pt-gw", NULL},
    {"full host", {PLACEMENT_HOST, "pt-1", NULL, 0, NULL, 0}, ENOSPC, NULL, "capacity"},
    {"unknown host", {PLACEMENT_HOST, "nope", NULL, 0, NULL, 0}, ENOENT, NULL, "no host 'nope'"},
    {"cloud: least loaded worker", {PLACEMENT_CLOUD, "aws-de", NULL, 0, NULL, 0}, 0, "de-2", NULL},
    {"cloud by id", {PLACEMENT_CLOUD, "c-de", NULL, 0, NULL, 0}, 0, "de-2", NULL},
    {"cloud whose workers are full", {PLACEMENT_CLOUD, "onprem", NULL, 0, NULL, 0}, ENOSPC, NULL, "all 1"},
    {"unknown cloud", {PLACEMENT_CLOUD, "mars", NULL, 0, NULL, 0}, ENOENT, NULL, "cloud 'mars'"},
    {"jurisdiction DE", {PLACEMENT_CONSTRAINTS, NULL, de, 1, NULL, 0}, 0, "de-2", NULL},
    {"DE or US: cheapest cloud", {PLACEMENT_CONSTRAINTS, NULL, de_us, 2, NULL, 0}, 0, "us-1", NULL},
    {"any, avoiding gcp-us", {PLACEMENT_CONSTRAINTS, NULL, NULL, 0, avoid_us, 1}, 0, "de-2", NULL},
    {"PT workers full, gateway not used", {PLACEMENT_CONSTRAINTS, NULL, pt, 1, NULL, 0}, ENOSPC, NULL, "jurisdiction PT"},
    {"no cloud in FR", {PLACEMENT_CONSTRAINTS, NULL, fr, 1, NULL, 0}, ENOENT, NULL, "jurisdiction FR"},
    {"everything avoided", {PLACEMENT_CONSTRAINTS, NULL, de_us, 2, avoid_by_id, 2}, ENOENT, NULL, "outside cloud c-us, c-de"},
};

static void
test_policy(void **state)
{
    (void) state;
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        const struct pcase *c = &cases[i];
        size_t chosen = 99;
        char reason[256] = "unset";
        int error = placement_choose(&c->req, fleet, N, &chosen, reason, sizeof reason);
        if (error != c->error) {
            fail_msg("%s: error %d, want %d (%s)", c->what, error, c->error, reason);
        }
        if (!error && strcmp(fleet[chosen].host_name, c->host)) {
            fail_msg("%s: chose %s, want %s", c->what, fleet[chosen].host_name, c->host);
        }
        if (error && !strstr(reason, c->reason)) {
            fail_msg("%s: reason '%s' lacks '%s'", c->what, reason, c->reason);
        }
    }
}

/* Load ties break by name; loads compare as ratios, not counts. */
static void
test_ratio_and_ties(void **state)
{
    (void) state;
    const struct placement_host hosts[] = {
        {"b", "b", "c", "c", "DE", false, 100, 10, 0},  /* 10% */
        {"a", "a", "c", "c", "DE", false, 10, 2, 0},    /* 20% */
        {"c", "c", "c", "c", "DE", false, 100, 10, 0},  /* 10%, after b */
    };
    struct placement_req req = {PLACEMENT_CLOUD, "c", NULL, 0, NULL, 0};
    size_t chosen;
    char reason[64];
    assert_int_equal(placement_choose(&req, hosts, 3, &chosen, reason, sizeof reason), 0);
    assert_string_equal(hosts[chosen].host_name, "b");
    assert_int_equal(placement_choose(&req, hosts, 0, &chosen, reason, sizeof reason), ENOENT);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_policy),
        cmocka_unit_test(test_ratio_and_ties),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
