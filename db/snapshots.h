/* snapshots.h: a VM's snapshots (migrations/006_snapshots_migrations.sql),
 * for the API and for the reconciler.
 *
 * The API side follows store.h's convention with the VM's id as the scope:
 * `store_snapshots` serves GET (one, with its content), the list (without
 * content, in name order) and DELETE through api/crud.c; snapshots_insert
 * asks for a new one.
 *
 * The reconciler side: snapshots_list_pending names the snapshots waiting
 * to be captured, oldest first; snapshots_record_capture and
 * snapshots_record_error settle one.  Each settles only a snapshot still
 * 'pending' (DB_QS_NONE otherwise: captured or failed by another writer,
 * or deleted with its VM), in a transaction of its own, bumping the
 * snapshot's generation so the change log and a NOTIFY carry it (and,
 * for the snapshot a stop took, a change of its VM: the model leaves a
 * stopped VM out once that snapshot is settled).  Do not
 * call them inside a transaction. */
#ifndef SKYVISOR_DB_SNAPSHOTS_H
#define SKYVISOR_DB_SNAPSHOTS_H

#include <stddef.h>

#include "db/db.h"
#include "db/store.h"

extern const struct store_res store_snapshots;

/* Inserts a pending snapshot of VM 'vm_id' (its MAC, IP, switch and host
 * recorded as they are now).  'name' NULL: "snap-" and the time and a few
 * hex digits of the id; 'labels_json' NULL: {}; 'reason' "request" or
 * "stop".  Runs in the caller's transaction.  *out as store.h says. */
enum db_qs snapshots_insert(struct db_conn *, const char *vm_id, const char *name,
                            const char *labels_json, const char *reason,
                            struct store_row *out);
/* The VM's newest snapshot (as store_get would return it), DB_QS_NONE when
 * it has none. */
enum db_qs snapshots_latest(struct db_conn *, const char *vm_id, struct store_row *out);

/* What differs between snapshot 'snap_id' and its VM now: a mask of
 * SNAPSHOTS_DIFF_* bits in *diff. */
enum {
    SNAPSHOTS_DIFF_MAC = 1 << 0,
    SNAPSHOTS_DIFF_IP = 1 << 1,
    SNAPSHOTS_DIFF_SWITCH = 1 << 2,
};
enum db_qs snapshots_diff(struct db_conn *, const char *snap_id, unsigned int *diff);

/* A snapshot waiting to be captured. */
struct snapshots_pending {
    char id[37];
    char vm_id[37];
    char network_id[37];
    char host_id[37];       /* where the VM is now; "" when it has none */
    char reason[8];         /* "request" or "stop" */
    long long generation;
    double requested_at;    /* seconds since the epoch */
};
/* Fills *out (malloc'ed, the caller frees) with *n entries, oldest first.
 * One statement, outside any transaction. */
enum db_qs snapshots_list_pending(struct db_conn *, struct snapshots_pending **out,
                                  size_t *n);

/* The capture of one snapshot: 'content_json' the captured state (a JSON
 * object), 'started_at' and 'finished_at' seconds since the epoch, and
 * 'capture_times_json' (a JSON object, may be NULL) the capture time per
 * bridge.  The size recorded is the length of the content as stored.
 * Nothing is consumed. */
struct snapshots_capture {
    const char *content_json;
    double started_at, finished_at;
    const char *capture_times_json;
};
enum db_qs snapshots_record_capture(struct db_conn *, const char *id,
                                    const struct snapshots_capture *);
/* 'detail' says why the snapshot could not be captured. */
enum db_qs snapshots_record_error(struct db_conn *, const char *id, const char *detail);

#endif
