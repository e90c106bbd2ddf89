/* vm_phase.h: the phases of a VM's live migration and the moves between
 * them (migrations/006_snapshots_migrations.sql draws the diagram).
 *
 *     prepare -> clone -> dual -> activate -> cleanup -> done
 *     prepare | clone | dual                           -> rolled-back
 *     any phase that is not terminal                   -> failed
 *
 * A phase moves only forward, one step at a time, or to a terminal phase
 * as above; nothing leaves a terminal phase.  The database repeats the rule
 * in a trigger, so a writer that bypasses db/vm_migrations.c is held to it
 * too.  Pure: no I/O. */
#ifndef SKYVISOR_CORE_VM_PHASE_H
#define SKYVISOR_CORE_VM_PHASE_H

#include <stdbool.h>

enum vm_phase {
    VM_PHASE_PREPARE,
    VM_PHASE_CLONE,
    VM_PHASE_DUAL,
    VM_PHASE_ACTIVATE,
    VM_PHASE_CLEANUP,
    VM_PHASE_DONE,
    VM_PHASE_ROLLED_BACK,
    VM_PHASE_FAILED,
    VM_PHASE__N
};

/* The phase's name as the API and the database spell it ("rolled-back");
 * NULL for a value out of range. */
const char *vm_phase_name(enum vm_phase);
/* The phase named 's', or VM_PHASE__N when 's' (may be NULL) names none. */
enum vm_phase vm_phase_parse(const char *s);
/* done, rolled-back and failed. */
bool vm_phase_terminal(enum vm_phase);
/* True if a migration in phase 'from' may move to phase 'to'. */
bool vm_phase_move_ok(enum vm_phase from, enum vm_phase to);
/* True while a rollback may still be asked for (before activate). */
bool vm_phase_may_roll_back(enum vm_phase);

#endif
