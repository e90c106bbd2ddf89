/* state_internal.h: how a VM row is selected and read (state.c), shared
 * with the change log's read (changelog.c), which reads the VMs it names
 * in the same statement.  For db/ only: it speaks libpq. */
#ifndef SKYVISOR_DB_STATE_INTERNAL_H
#define SKYVISOR_DB_STATE_INTERNAL_H

#include <libpq-fe.h>
#include <stdbool.h>

#include "core/netmodel.h"

/* A stopped VM leaves the model (its ports and flows go everywhere) once
 * the snapshot its stop asked for has settled; until then it stays, so the
 * snapshot captures it in place.  A VM read by id that this excludes is
 * one the model drops.  A condition on table vm. */
#define STATE_VM_IN_MODEL                                                     \
    "(power = 'running' OR power_snapshot_id IN"                              \
    " (SELECT id FROM vm_snapshot WHERE state = 'pending'))"
/* The columns of a VM row, STATE_VM_NCOLS of them, from table vm: its
 * common columns, references, addresses, bound interface, its active
 * migration as "phase from_host_id to_host_id alt_low" ("" when it has
 * none) and its rate limit (migrations/010, 0 for none). */
/* The columns every desired-state table's rows begin with. */
#define STATE_COMMON_COLS "id, name, generation, observed_generation, state, detail"
#define STATE_VM_COLS                                                         \
    STATE_COMMON_COLS ","                                                     \
    " network_id, switch_id, host_id, mac::text, host(ip), wire_low,"         \
    " coalesce(iface, ''),"                                                   \
    " coalesce((SELECT mg.phase || ' ' || mg.from_host_id || ' '"             \
    " || mg.to_host_id || ' ' || mg.alt_low FROM vm_migration mg"             \
    " WHERE mg.vm_id = vm.id AND mg.finished_at IS NULL), ''),"               \
    " coalesce(rate_mbps, 0), coalesce(burst_kb, 0)"
#define STATE_VM_NCOLS 16

/* Reads the STATE_VM_COLS at columns c0.. of row 'row' into 'v' (its
 * detail allocated: the caller frees v->o.detail), references resolved in
 * 'm'.  False when a reference names an object 'm' lacks. */
bool state_read_vm_row(const PGresult *, int row, int c0, const struct netmodel *m,
                       struct nm_vm *v);

#endif
