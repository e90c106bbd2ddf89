/* changelog.h: reading the log of desired-state changes in commit order
 * (migrations/005_change_log.sql explains the log and its watermark).
 *
 * A reader keeps a watermark, the text of a PostgreSQL snapshot; each read
 * returns the changes committed since the previous watermark and the next
 * watermark, in one statement, so nothing is read twice and nothing that
 * commits late is skipped.  A reader without a watermark, or whose
 * watermark is older than what pruning kept, is told to reload everything
 * (and gets a fresh watermark to continue from after that reload: the
 * reload must read desired state no earlier than the watermark's snapshot,
 * which holds when it starts after changelog_read returned). */
#ifndef SKYVISOR_DB_CHANGELOG_H
#define SKYVISOR_DB_CHANGELOG_H

#include <stdbool.h>
#include <stddef.h>

#include "core/netmodel.h"
#include "db/db.h"

enum changelog_op { CHANGELOG_CREATE, CHANGELOG_UPDATE, CHANGELOG_DELETE };

struct changelog_entry {
    long long seq;
    char kind[16];          /* table name: cloud, host, vm, ... */
    char object_id[37];
    char network_id[37];    /* "" when the object belongs to no network */
    enum changelog_op op;
};

struct changelog_batch {
    struct changelog_entry *entries;   /* owned, in seq order */
    size_t n;
    bool reload;            /* the reader must reload everything */
    char *watermark;        /* owned: the next watermark */
    /* changelog_read_vms() only: the VMs the entries name, as the same
     * snapshot has them, each once, sorted by id (owned, details too); a
     * VM named but absent is gone or out of the model.  vms_unresolved:
     * one of them names an object the model given lacks. */
    struct nm_vm *vms;
    size_t n_vms;
    bool vms_unresolved;
};

/* Reads what committed since 'watermark' (NULL: never read).  On success
 * fills 'out' (changelog_batch_uninit frees it) and returns DB_QS_ONE.
 * Runs outside a transaction (one statement). */
enum db_qs changelog_read(struct db_conn *, const char *watermark,
                          struct changelog_batch *out);
/* changelog_read(), and in the same statement the VMs its entries name
 * (out->vms, their references resolved in 'cur'): what a reader that
 * applies VM changes to its model would read next, without a second round
 * trip, from the very snapshot the watermark is. */
enum db_qs changelog_read_vms(struct db_conn *, const char *watermark,
                              const struct netmodel *cur, struct changelog_batch *out);
void changelog_batch_uninit(struct changelog_batch *);

/* The change-log position of the transaction in progress on the
 * connection: its transaction id (the log's `xid` column), in decimal, into
 * 'out' (assigning one if it has none yet).  What a write answers as
 * Skyvisor-Seq: a reader holding a snapshot of the database has everything
 * that write did exactly when the snapshot sees that id (core/xidsnap.h). */
enum db_qs changelog_position(struct db_conn *, char out[24]);

/* Deletes the rows older than 'keep_seconds', raising the horizon.  *n
 * receives how many went. */
enum db_qs changelog_prune(struct db_conn *, unsigned int keep_seconds,
                           long long *n);

#endif
