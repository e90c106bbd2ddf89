/* vm_migrations.h: a VM's live migrations (migrations/006_snapshots_
 * migrations.sql has the phase diagram; core/vm_phase.h the rule), for the
 * API and for the reconciler.
 *
 * The API side: `store_vm_migrations` serves GET and the list (oldest
 * first) through api/crud.c with the VM's id as the scope (a migration has
 * no name: the key is its id); vm_migrations_insert creates one in phase
 * 'prepare'; vm_migrations_request records a rollback or an activation
 * asked for by the tenant.  These run in the caller's transaction.
 *
 * The reconciler side: vm_migrations_list_active gives the work, and the
 * writes below move one migration.  Each is guarded: it changes the
 * migration only if it is still in phase 'from', the phase the caller
 * read, so a stale writer (a second reconciler, one that resumed from an
 * old read) changes nothing and learns it from DB_QS_NONE; a move the
 * phase rule forbids (backwards, skipping a phase, out of a terminal one)
 * is refused before it reaches the database (DB_QS_HARD, err.message
 * says why), and the database refuses it too.  Each runs in a transaction
 * of its own (do not call them inside one), bumps the migration's
 * generation (the change log and a NOTIFY carry it; the audit trail
 * records the phase), and stamps phase_times with the transaction's time.
 * Entering 'activate' also moves the VM: vm.host_id becomes the target and
 * vm.placement the migration's target, in the same transaction.  Entering
 * a terminal phase sets finished_at, which ends the migration's capacity
 * reservation. */
#ifndef SKYVISOR_DB_VM_MIGRATIONS_H
#define SKYVISOR_DB_VM_MIGRATIONS_H

#include <stdbool.h>
#include <stddef.h>

#include "core/vm_phase.h"
#include "db/db.h"
#include "db/store.h"

extern const struct store_res store_vm_migrations;

/* Creates a migration of VM 'vm_id' from 'from_host_id' (the VM's host,
 * which must still be its host, and the VM running) to 'to_host_id'.
 * 'target_json' is the target as asked ({"host": ...}, {"cloud": ...} or
 * constraints); 'dual_timeout_s' NULL: 300.  Touches the VM's row (its
 * revision moves), so a concurrent PATCH of the VM retries and sees the
 * migration.  DB_QS_NONE when the VM is gone, moved or stopped. */
enum db_qs vm_migrations_insert(struct db_conn *, const char *vm_id,
                                const char *from_host_id, const char *to_host_id,
                                const char *target_json, const char *dual_timeout_s,
                                struct store_row *out);

/* The tenant's requests on an active migration read in phase 'phase':
 * VM_MIGRATIONS_ROLLBACK stamps rollback_requested_at (phases before
 * activate), VM_MIGRATIONS_ACTIVATE stamps activate_requested_at (the same
 * phases, no rollback asked for).  The first stamp stays.  DB_QS_NONE when
 * the migration is no longer in 'phase' or no longer takes the request. */
enum vm_migrations_request_kind { VM_MIGRATIONS_ROLLBACK, VM_MIGRATIONS_ACTIVATE };
enum db_qs vm_migrations_request(struct db_conn *, const char *vm_id, const char *id,
                                 enum vm_migrations_request_kind, enum vm_phase phase,
                                 struct store_row *out);

/* A migration the reconciler has to drive. */
struct vm_migrations_work {
    char id[37];
    char vm_id[37];
    char network_id[37];
    char from_host_id[37];
    char to_host_id[37];
    enum vm_phase phase;
    double phase_since;         /* seconds since the epoch */
    bool rollback_requested;    /* DELETE: roll back */
    bool activate_requested;    /* POST .../activate */
    bool dual_expired;          /* in dual for dual_timeout_s or more */
    unsigned int dual_timeout_s;
    long long generation;
    long long duplicated, to_controller, flows_cloned;
};
/* The active migrations (in phase 'only', or all with VM_PHASE__N), oldest
 * first, into *out (malloc'ed, the caller frees) and *n.  One statement,
 * outside any transaction. */
enum db_qs vm_migrations_list_active(struct db_conn *, enum vm_phase only,
                                     struct vm_migrations_work **out, size_t *n);

/* Counter values to record: each < 0 leaves that counter as it is. */
struct vm_migrations_counters {
    long long duplicated, to_controller, flows_cloned;
};
#define VM_MIGRATIONS_COUNTERS_KEEP ((struct vm_migrations_counters){-1, -1, -1})

/* Moves migration 'id' from phase 'from' to 'to', recording 'counters'
 * (NULL: unchanged) and 'detail' (NULL clears it). */
enum db_qs vm_migrations_advance(struct db_conn *, const char *id, enum vm_phase from,
                                 enum vm_phase to,
                                 const struct vm_migrations_counters *counters,
                                 const char *detail);
/* cleanup -> done. */
enum db_qs vm_migrations_finish(struct db_conn *, const char *id, const char *detail);
/* 'from' (prepare, clone or dual) -> rolled-back. */
enum db_qs vm_migrations_roll_back(struct db_conn *, const char *id, enum vm_phase from,
                                   const char *detail);
/* 'from' (any phase that is not terminal) -> failed. */
enum db_qs vm_migrations_fail(struct db_conn *, const char *id, enum vm_phase from,
                              const char *detail);
/* Records counters of a migration still in 'phase' without moving it:
 * live numbers for the dashboard, not a change of desired state (the
 * generation stays, nothing goes to the change log). */
enum db_qs vm_migrations_record_counters(struct db_conn *, const char *id,
                                         enum vm_phase phase,
                                         const struct vm_migrations_counters *);

#endif
