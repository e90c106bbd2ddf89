/* recon_migration.h: live migrations driven by the reconciler
 * (migrations/006_snapshots_migrations.sql has the phases, core/netmodel.h
 * what each phase compiles to).
 *
 * A migration is desired state: its phase is loaded with its VM and
 * compiled by the model like everything else, so a pass realizes whatever
 * phase the database holds, and an audit or a restart re-installs it
 * rather than "repairing" it away.  What this file adds is the move from
 * one phase to the next, once per pass after the flows (on the reconciler
 * thread), each move a guarded write through the store:
 *
 *   prepare   -> clone     the target host's bridge is connected (OVSDB and
 *                          OpenFlow) and has no error;
 *   clone     -> dual      every flow of the clone is confirmed by barriers
 *                          on every bridge that carries it, and the VM's
 *                          interface is bound at the target;
 *   dual      -> activate  confirmed as above, and the VM announced itself
 *                          at the target (its first ARP or RARP there,
 *                          reported by the packet-in path) or the tenant
 *                          asked (POST .../activate); the database moves
 *                          the VM to the target in the same transaction;
 *   activate  -> cleanup   confirmed, then the drain wait (drain_ms: at
 *                          least the WAN's one-way delay) so that no copy
 *                          still in flight toward the source is cut off;
 *   cleanup   -> done      confirmed (the source's flows are gone), and
 *                          the drain wait again for copies addressed to A.
 *
 * Rollback (before activate): asked for by DELETE, after dual_timeout_s in
 * dual (the same limit for an interface that never appears in clone), or
 * when the target's bridge is unusable (OVSDB or OpenFlow not connected,
 * or in error): for 10 s after the request in prepare, for 3 s on end in
 * clone or dual (the grace a restarted skyvisord needs to reconnect); the
 * source never stopped forwarding, so the VM never loses connectivity; the
 * model then drops the clone's flows, and the detail names the target and
 * why.
 *
 * Several instances (--leases): a migration is driven by the instance
 * that holds the VM's cloud, and only while it holds every cloud the VM's
 * network spans (it cannot confirm another instance's bridges); otherwise
 * it waits in its phase, logged once, until one instance holds them all.
 *
 * Restart: nothing here is needed to resume; each phase is re-compiled
 * from the database and the move above is re-checked.  Only the waits
 * restart (a drain begins again).
 *
 * Counters: flows_cloned is the number of flows the clone added (the VM's
 * flows at the target and the transit flows toward A) when entering dual;
 * duplicated is the packet count of the delivery of A at the target
 * (every packet delivered there in dual is a copy), recorded every second
 * during dual and when entering activate;
 * to_controller counts the VM's frames at the target sent to the
 * controller while it migrates.
 *
 * Failpoints (core/failpoint.h): migration.PHASE is reached right after
 * PHASE is recorded, before any flow of it is sent; with
 * SKYVISOR_FAILPOINT=migration.PHASE skyvisord exits there (status 70), so
 * a test can restart it in any phase. */
#ifndef SKYVISOR_CTRL_RECON_MIGRATION_H
#define SKYVISOR_CTRL_RECON_MIGRATION_H

#include <stdbool.h>
#include <stddef.h>

#include "core/vm_phase.h"

struct reconciler;
struct netmodel;
struct recon_mig;

/* An active migration as the store reads it. */
struct recon_mig_work {
    char id[40];
    char vm_id[40];
    char from_host_id[40];
    char to_host_id[40];
    enum vm_phase phase;
    double phase_since;             /* seconds since the epoch */
    bool rollback_requested;
    bool activate_requested;
    bool dual_expired;
    unsigned int dual_timeout_s;
};

/* Counter values to record with a move; < 0 keeps one. */
struct recon_mig_counters {
    long long duplicated, to_controller, flows_cloned;
};

/* Where migrations are read and moved (db/vm_migrations.h in skyvisord).
 * Every function returns 0, ESTALE when the migration is no longer in
 * phase 'from' (another writer moved it), or another errno. */
struct recon_mig_store {
    /* The active migrations, oldest first, into *out (malloc'ed, the
     * caller frees). */
    int (*active)(void *aux, struct recon_mig_work **out, size_t *n);
    /* Moves migration 'id' from 'from' to 'to' (a next phase, or
     * rolled-back, or failed), recording 'c' (NULL: unchanged) and
     * 'detail' (NULL: none). */
    int (*move)(void *aux, const char *id, enum vm_phase from, enum vm_phase to,
                const struct recon_mig_counters *c, const char *detail);
    /* Records counters of migration 'id' still in 'phase', without moving
     * it (live numbers; not a change of desired state). */
    int (*record)(void *aux, const char *id, enum vm_phase phase,
                  const struct recon_mig_counters *c);
};

/* 'store' is copied; 'aux' must outlive the result.  NULL when memory runs
 * out.  The caller destroys it after the reconciler it was attached to. */
struct recon_mig *recon_mig_create(const struct recon_mig_store *, void *aux,
                                   unsigned int drain_ms);
void recon_mig_destroy(struct recon_mig *);
/* Attaches 'mig' (borrowed) to 'r' from any thread, once. */
void reconciler_attach_migrations(struct reconciler *r, struct recon_mig *mig);

/* The packet-in path (loop thread): VM 'vm_id''s frame arrived at its
 * second place while it migrates.  Wakes the reconciler. */
void recon_mig_first_frame(struct reconciler *, const char *vm_id);

/* The pass (reconciler thread): moves what can move; returns the time
 * (recon_now_us) by which the next pass is wanted, 0 for none. */
long long recon_migration_pass(struct reconciler *, const struct netmodel *);

#endif
