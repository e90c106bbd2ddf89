/* vm_phase.c: the migration phase rule of vm_phase.h. */
#include "core/vm_phase.h"

#include <stddef.h>
#include <string.h>

static const char *const names[VM_PHASE__N] = {
    [VM_PHASE_PREPARE] = "prepare",
    [VM_PHASE_CLONE] = "clone",
    [VM_PHASE_DUAL] = "dual",
    [VM_PHASE_ACTIVATE] = "activate",
    [VM_PHASE_CLEANUP] = "cleanup",
    [VM_PHASE_DONE] = "done",
    [VM_PHASE_ROLLED_BACK] = "rolled-back",
    [VM_PHASE_FAILED] = "failed",
};

const char *
vm_phase_name(enum vm_phase p)
{
    return (unsigned int) p < VM_PHASE__N ? names[p] : NULL;
}

enum vm_phase
vm_phase_parse(const char *s)
{
    for (unsigned int p = 0; s && p < VM_PHASE__N; p++) {
        if (!strcmp(s, names[p])) {
            return (enum vm_phase) p;
        }
    }
    return VM_PHASE__N;
}

bool
vm_phase_terminal(enum vm_phase p)
{
    return p == VM_PHASE_DONE || p == VM_PHASE_ROLLED_BACK || p == VM_PHASE_FAILED;
}

bool
vm_phase_may_roll_back(enum vm_phase p)
{
    return p == VM_PHASE_PREPARE || p == VM_PHASE_CLONE || p == VM_PHASE_DUAL;
}

bool
vm_phase_move_ok(enum vm_phase from, enum vm_phase to)
{
    if ((unsigned int) from >= VM_PHASE__N || (unsigned int) to >= VM_PHASE__N
        || vm_phase_terminal(from)) {
        return false;
    }
    switch (to) {
    case VM_PHASE_FAILED:
        return true;
    case VM_PHASE_ROLLED_BACK:
        return vm_phase_may_roll_back(from);
    default:
        return to == from + 1;
    }
}
