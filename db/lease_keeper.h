/* lease_keeper.h: this instance's registration and cloud leases, kept by a
 * thread of their own (migrations/007_instances_leases.sql for the leases
 * and epochs, db/instances.h for their statements, core/lease.h for the
 * decision).  The database side of ownership: the reconciler
 * (ctrl/recon_owner.c) and the tenant-controller agent (db/vswitch_store.h)
 * ask it who writes, GET /v1/instances and /metrics (api/) show it.
 *
 * Every --heartbeat-ms the keeper heartbeats the instance row, reads the
 * view, and acquires, renews or lets go of each cloud's lease as
 * lease_decide() says, on a database connection of its own.  What it holds
 * it publishes as grants: a cloud, the epoch it was acquired with, and a
 * deadline by CLOCK_MONOTONIC (milliseconds, the clock of ctrl/loop.h's
 * loop_now_ms()) taken before the statement that acquired or last renewed
 * it was sent, so the deadline always falls before the lease's expiry in
 * the database.  A grant whose deadline has passed is not ownership, even
 * if the keeper thread has not run since (the process was paused, the
 * database is gone): every query below checks the deadline against the
 * clock at the time of the call.
 *
 * What a writer (the reconciler) must do with it:
 *   - before writing to any switch of cloud C: lease_keeper_owns(C) true,
 *     and write only with the grant's epoch: the OpenFlow role request
 *     ofctl_set_role(ctl, dpid, OFCTL_ROLE_MASTER, epoch, deadline) on each
 *     of C's bridges, the OVSDB fence ovsdb_vswitch_fence(txn, epoch) in
 *     each OVSDB transaction to C's hosts and ovsdb_vswitch_raise_epoch()
 *     once per host after acquiring;
 *   - renewals come every heartbeat with a later deadline and the same
 *     epoch: pass the new deadline on (ofctl_set_role again: same role and
 *     generation only moves the deadline);
 *   - when a switch refuses (ofctl's 'fenced' callback: STALE, IS_SLAVE,
 *     another master) call lease_keeper_fenced(C, epoch): the grant is
 *     dropped at once and not taken again until the database says so with
 *     a new epoch;
 *   - the 'changed' callback (on the keeper thread, must not block) says
 *     the set of grants changed (acquired, yielded, lost, dropped); a new
 *     epoch for a cloud is a takeover: read the installed flows back and
 *     adopt them before changing anything.
 *
 * Threads: every function may be called from any thread; the keeper
 * thread only ever holds the mutex to copy the grants in or out. */
#ifndef SKYVISOR_DB_LEASE_KEEPER_H
#define SKYVISOR_DB_LEASE_KEEPER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/lease.h"

struct lease_keeper;

struct lease_keeper_options {
    const char *conninfo;
    const char *name;               /* host name and port, for people */
    const char *api_address;        /* --listen */
    const char *openflow_address;   /* --openflow-listen, or NULL */
    const char *const *pins;        /* --clouds (names), copied */
    size_t n_pins;
    unsigned int lease_ms;          /* --lease-ms (3000) */
    unsigned int heartbeat_ms;      /* --heartbeat-ms (1000) */
    unsigned int settle_ms;         /* healthy run a pin needs (2 * lease) */
    void (*changed)(void *aux);     /* grants changed; may be NULL */
    void *aux;
};

/* One cloud this instance owns. */
struct lease_grant {
    char cloud_id[LEASE_ID_LEN];
    char cloud[64];
    uint64_t epoch;
    uint64_t deadline_ms;           /* CLOCK_MONOTONIC, loop_now_ms() */
};

struct lease_keeper_stats {
    unsigned long long heartbeats, heartbeat_failures;
    unsigned long long acquired;    /* leases acquired (each a new epoch) */
    unsigned long long takeovers;   /* ... of them from another instance */
    unsigned long long yielded;     /* let go to a pinned instance */
    unsigned long long lost;        /* the row said someone else's */
    unsigned long long expired;     /* the deadline passed unrenewed */
    unsigned long long fenced;      /* a switch refused (lease_keeper_fenced) */
    size_t held;                    /* grants valid now */
    long long heartbeat_age_ms;     /* since the last successful heartbeat,
                                     * -1 before the first */
};

/* Registers the instance (a new id) with one heartbeat, then starts the
 * thread.  NULL on failure (logged).  'opt' and its strings are copied. */
struct lease_keeper *lease_keeper_start(const struct lease_keeper_options *opt);
/* Stops the thread, releases every lease held and deletes the instance
 * row.  The caller must have stopped writing to the switches first.
 * Accepts NULL. */
void lease_keeper_stop(struct lease_keeper *);

/* This instance's id (UUID text), valid until lease_keeper_stop(). */
const char *lease_keeper_id(const struct lease_keeper *);

/* The grants valid now: a malloc'ed array in *out (the caller frees),
 * their number returned (0 and *out NULL when none or out of memory). */
size_t lease_keeper_owned(struct lease_keeper *, struct lease_grant **out);
/* Whether this instance owns cloud 'cloud_id' (UUID text) now; the grant
 * in *g when so ('g' may be NULL). */
bool lease_keeper_owns(struct lease_keeper *, const char *cloud_id,
                       struct lease_grant *g);
/* A switch of 'cloud_id' refused the owner of 'epoch': drops the grant at
 * once (if it is still that epoch's) and counts a fencing refusal. */
void lease_keeper_fenced(struct lease_keeper *, const char *cloud_id, uint64_t epoch);
/* Whether the instance is healthy: its last heartbeat succeeded less than
 * a lease ago.  Writes why not into why[0..len) otherwise. */
bool lease_keeper_healthy(struct lease_keeper *, char *why, size_t len);
void lease_keeper_get_stats(struct lease_keeper *, struct lease_keeper_stats *);

#endif
