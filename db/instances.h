/* instances.h: instances and cloud leases
 * (migrations/007_instances_leases.sql explains both and the epoch).
 *
 * Every statement runs on its own, outside any transaction of the
 * caller's, and is a single atomic step: registering or heartbeating
 * (one upsert, so an instance whose row was pruned while it was paused
 * comes back), reading the view core/lease.c decides on, acquiring (a
 * compare-and-set on the expiry), renewing (only the same holder and epoch,
 * only while unexpired), releasing.  Ages and expiries are computed by the
 * database's clock; the caller keeps its own deadline by its monotonic
 * clock (db/lease_keeper.c).
 *
 * Failover: a statement that fails because the connection broke is
 * DB_QS_SOFT (db.h); the caller retries on its next heartbeat, by which
 * time libpq may have found the new primary of a multi-host connection
 * string. */
#ifndef SKYVISOR_DB_INSTANCES_H
#define SKYVISOR_DB_INSTANCES_H

#include <stdint.h>

#include "core/lease.h"
#include "db/db.h"

/* What an instance registers. */
struct instances_reg {
    const char *id;                 /* UUID text the instance chose */
    const char *name;               /* host name and port, for people */
    const char *api_address;        /* "IP:PORT" of its HTTP API */
    const char *openflow_address;   /* its --openflow-listen, or NULL */
    const char *const *pins;        /* --clouds names */
    size_t n_pins;
    unsigned int lease_ms, heartbeat_ms;
};

/* Registers or heartbeats instance reg->id (an upsert): the heartbeat is
 * now; the healthy run restarts when the previous heartbeat is more than
 * a lease old.  Also deletes instances silent for an hour.  DB_QS_ONE on
 * success. */
enum db_qs instances_heartbeat(struct db_conn *, const struct instances_reg *);

/* Deletes instance 'id' (its leases lose their holder).  Clean shutdown,
 * after instances_release_all(). */
enum db_qs instances_deregister(struct db_conn *, const char *id);

/* The view core/lease.c decides on: every instance and every cloud with
 * its lease and pins, in one statement.  On DB_QS_ONE the arrays are the
 * caller's (instances_view_uninit). */
struct instances_view {
    struct lease_peer *peers;
    size_t n_peers;
    struct lease_cloud *clouds;
    size_t n_clouds;
};
enum db_qs instances_view(struct db_conn *, struct instances_view *out);
void instances_view_uninit(struct instances_view *);

/* Acquires the lease of 'cloud_id' for 'holder' if it is free or expired:
 * DB_QS_ONE with the new epoch in *epoch and, in *takeover, whether
 * another instance held it before; DB_QS_NONE when someone holds it (or
 * the cloud is gone). */
enum db_qs instances_acquire(struct db_conn *, const char *cloud_id, const char *holder,
                             unsigned int lease_ms, uint64_t *epoch, bool *takeover);

/* Extends the lease 'holder' holds with 'epoch' to now + lease_ms:
 * DB_QS_ONE, or DB_QS_NONE when it is no longer so (expired, taken). */
enum db_qs instances_renew(struct db_conn *, const char *cloud_id, const char *holder,
                           uint64_t epoch, unsigned int lease_ms);

/* Ends the lease at once (its expiry becomes now).  Only once the holder
 * has stopped writing.  DB_QS_ONE, or DB_QS_NONE if it was not held. */
enum db_qs instances_release(struct db_conn *, const char *cloud_id,
                             const char *holder, uint64_t epoch);
/* Releases every lease of 'holder'; *n receives how many. */
enum db_qs instances_release_all(struct db_conn *, const char *holder, long long *n);

/* The GET /v1/instances document: {"instances": [...], "leases": [...]}
 * (openapi/openapi.json, schema Instances, without "self"), malloc'ed JSON
 * text in *json that the caller frees. */
enum db_qs instances_document(struct db_conn *, char **json);

#endif
