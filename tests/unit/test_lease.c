/* Unit tests for core/lease.c: one table row per line of lease.h's rule
 * table, on a view of three instances (A pinned to cloud c, B and C
 * unpinned) whose health each case sets. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "core/lease.h"

#define A "00000000-0000-0000-0000-00000000000a"
#define B "00000000-0000-0000-0000-00000000000b"

enum health { DEAD, FRESH, SETTLED };

struct lease_case {
    const char *name;
    const char *self;
    enum health a_health;       /* the pinned instance A */
    bool pinned;                /* cloud c has A's pin */
    bool leased;
    const char *holder;
    uint64_t epoch;
    long long expires_in_ms;
    bool held;                  /* self holds it by its own clock */
    uint64_t held_epoch;
    enum lease_action want;
};

static const struct lease_case cases[] = {
    /* Held here. */
    {"renew what I hold", B, DEAD, true, true, B, 7, 2000, true, 7, LEASE_RENEW},
    {"renew while the pinned one is fresh", B, FRESH, true, true, B, 7, 2000, true, 7,
     LEASE_RENEW},
    {"yield to the settled pinned one", B, SETTLED, true, true, B, 7, 2000, true, 7,
     LEASE_YIELD},
    {"the pinned one keeps its own", A, SETTLED, true, true, A, 7, 2000, true, 7,
     LEASE_RENEW},
    {"another holder in the row: drop", B, DEAD, false, true, A, 9, 2000, true, 7,
     LEASE_DROP},
    {"another epoch in the row: drop", B, DEAD, false, true, B, 9, 2000, true, 7,
     LEASE_DROP},
    {"expired in the row: drop", B, DEAD, false, true, B, 7, -5, true, 7, LEASE_DROP},
    {"no row at all: drop", B, DEAD, false, false, "", 0, 0, true, 7, LEASE_DROP},
    /* Not held here. */
    {"free, unpinned: acquire", B, DEAD, false, false, "", 0, 0, false, 0,
     LEASE_ACQUIRE},
    {"expired, unpinned: acquire", B, DEAD, false, true, A, 7, -1, false, 0,
     LEASE_ACQUIRE},
    {"held by another: leave it", B, DEAD, false, true, A, 7, 1500, false, 0,
     LEASE_NONE},
    {"my own row I do not hold: wait for expiry", B, DEAD, false, true, B, 7, 1500,
     false, 0, LEASE_NONE},
    {"released (no holder): acquire", B, DEAD, false, true, "", 7, 1500, false, 0,
     LEASE_ACQUIRE},
    {"pinned here: acquire at once", A, FRESH, true, true, B, 7, -1, false, 0,
     LEASE_ACQUIRE},
    {"pinned elsewhere and settled: leave it", B, SETTLED, true, true, A, 7, -100,
     false, 0, LEASE_NONE},
    {"never leased, pinned elsewhere and settled: leave it", B, SETTLED, true, false,
     "", 0, 0, false, 0, LEASE_NONE},
    {"pinned elsewhere, not taken for a lease: acquire", B, SETTLED, true, true, A, 7,
     -3001, false, 0, LEASE_ACQUIRE},
    {"pinned elsewhere but only fresh: acquire", B, FRESH, true, true, A, 7, -100,
     false, 0, LEASE_ACQUIRE},
    {"pinned elsewhere but dead: acquire", B, DEAD, true, true, A, 7, -100, false, 0,
     LEASE_ACQUIRE},
};

static void
test_rule_table(void **state)
{
    (void) state;
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        const struct lease_case *k = &cases[i];
        static const long long healthy[] = {[DEAD] = 0, [FRESH] = 1000, [SETTLED] = 6000};
        struct lease_peer peers[2] = {
            {A, k->a_health == DEAD ? 10000 : 200, healthy[k->a_health], 3000},
            {B, 100, 60000, 3000},
        };
        struct lease_cloud c = {
            .id = "00000000-0000-0000-0000-0000000000c1", .name = "c",
            .leased = k->leased, .epoch = k->epoch, .expires_in_ms = k->expires_in_ms,
            .pins = {0}, .n_pins = k->pinned ? 1 : 0,
        };
        strcpy(c.holder, k->holder);
        struct lease_view v = {peers, 2, &c, 1};
        struct lease_policy pol = {k->self, 3000, 0};
        enum lease_action got = lease_decide(&pol, &v, &c, k->held, k->held_epoch);
        if (got != k->want) {
            fail_msg("%s: got %s, want %s", k->name, lease_action_name(got),
                     lease_action_name(k->want));
        }
    }
}

static void
test_alive_and_settled(void **state)
{
    (void) state;
    struct lease_policy pol = {A, 3000, 0};
    struct lease_peer p = {B, 3000, 6000, 3000};
    assert_true(lease_peer_alive(&p));
    assert_true(lease_peer_settled(&pol, &p));
    p.heartbeat_age_ms = 3001;
    assert_false(lease_peer_alive(&p));
    assert_false(lease_peer_settled(&pol, &p));
    p.heartbeat_age_ms = 10;
    p.healthy_ms = 5999;
    assert_false(lease_peer_settled(&pol, &p));
    pol.settle_ms = 1000;
    assert_true(lease_peer_settled(&pol, &p));
}

static void
test_bad_pin_index_ignored(void **state)
{
    (void) state;
    struct lease_peer peers[1] = {{B, 100, 60000, 3000}};
    struct lease_cloud c = {.id = "x", .leased = false, .pins = {5}, .n_pins = 1};
    struct lease_view v = {peers, 1, &c, 1};
    struct lease_policy pol = {B, 3000, 0};
    assert_int_equal(lease_decide(&pol, &v, &c, false, 0), LEASE_ACQUIRE);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_rule_table),
        cmocka_unit_test(test_alive_and_settled),
        cmocka_unit_test(test_bad_pin_index_ignored),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
