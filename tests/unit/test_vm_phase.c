/* Unit tests for core/vm_phase.c: every pair of phases against the
 * migration's diagram. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "core/vm_phase.h"

/* allowed[from][to], written out from the diagram in vm_phase.h. */
#define P VM_PHASE__N
static const bool allowed[P][P] = {
    /*             prep   clone  dual   activ  clean  done   rb     failed */
    /* prepare */ {false, true,  false, false, false, false, true,  true},
    /* clone   */ {false, false, true,  false, false, false, true,  true},
    /* dual    */ {false, false, false, true,  false, false, true,  true},
    /* activate*/ {false, false, false, false, true,  false, false, true},
    /* cleanup */ {false, false, false, false, false, true,  false, true},
    /* done    */ {false, false, false, false, false, false, false, false},
    /* rb      */ {false, false, false, false, false, false, false, false},
    /* failed  */ {false, false, false, false, false, false, false, false},
};

static void
test_every_pair(void **state)
{
    (void) state;
    for (unsigned int f = 0; f < P; f++) {
        for (unsigned int t = 0; t < P; t++) {
            if (vm_phase_move_ok(f, t) != allowed[f][t]) {
                fail_msg("%s -> %s", vm_phase_name(f), vm_phase_name(t));
            }
        }
    }
    assert_false(vm_phase_move_ok(P, VM_PHASE_FAILED));
    assert_false(vm_phase_move_ok(VM_PHASE_PREPARE, P));
}

static void
test_names_round_trip(void **state)
{
    (void) state;
    for (unsigned int p = 0; p < P; p++) {
        assert_int_equal(vm_phase_parse(vm_phase_name(p)), p);
    }
    assert_string_equal(vm_phase_name(VM_PHASE_ROLLED_BACK), "rolled-back");
    assert_int_equal(vm_phase_parse("rolled_back"), P);
    assert_int_equal(vm_phase_parse(NULL), P);
    assert_null(vm_phase_name(P));
}

static void
test_rollback_window(void **state)
{
    (void) state;
    assert_true(vm_phase_may_roll_back(VM_PHASE_DUAL));
    assert_false(vm_phase_may_roll_back(VM_PHASE_ACTIVATE));
    assert_true(vm_phase_terminal(VM_PHASE_FAILED));
    assert_false(vm_phase_terminal(VM_PHASE_CLEANUP));
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_every_pair),
        cmocka_unit_test(test_names_round_trip),
        cmocka_unit_test(test_rollback_window),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
