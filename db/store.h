/* store.h: the queries behind the API's resources.
 *
 * Most resources are served by five statements with one calling convention
 * (struct store_res), so one generic engine (api/crud.c) can create, read,
 * list, replace and delete all of them:
 *   get     $1 scope id, $2 id (uuid text or NULL), $3 name (or NULL)
 *           -> (json, revision, id)
 *   list    $1 scope id, $2 list after this name (NULL: from the start),
 *           $3 limit -> rows of (json, name), ordered by name; clouds,
 *           hosts and tenants add (revision, id), for the API's read
 *           snapshot (db/readsnap.h)
 *   insert  $1 scope id, $2 the validated object as jsonb -> (json, revision, id)
 *   update  $1 scope id, $2 id, $3 expected revision, $4 object
 *           -> (json, revision, id); no row when the revision moved on
 *   delete  $1 scope id, $2 id, $3 expected revision (NULL: any)
 *   lock    (optional) taken before insert/update: serialises tag
 *           allocation and placement
 * "scope id" is the parent's id (tenant for networks, network for switches,
 * links and VMs); global resources ignore it.  The JSON representation is
 * built by PostgreSQL (json_build_object), so it is defined once, here,
 * next to the columns it shows.  Internal fields of the validated object
 * start with '_' (e.g. "_cloud_id": a reference already resolved to an id). */
#ifndef SKYVISOR_DB_STORE_H
#define SKYVISOR_DB_STORE_H

#include <stdbool.h>
#include <stddef.h>

#include "db/db.h"

struct store_res {
    const char *kind;           /* "cloud", for messages */
    const struct db_stmt *get, *list, *insert, *update, *del, *lock;
};

extern const struct store_res store_clouds, store_hosts, store_tenants,
    store_networks, store_switches, store_links, store_vms, store_tokens;

/* One object.  'json' is malloc'ed and owned by the row. */
struct store_row {
    char *json;
    long long revision;
    char id[37];
};
void store_row_uninit(struct store_row *);

/* A list's rows, in list order, copied out of the statement's answer:
 * (json, key) where 'key' is what the next page starts after (a name; an
 * audit record's id), and (revision, id) where the statement gives them
 * too (clouds, hosts and tenants, for db/readsnap.h; else 0 and ""). */
struct store_item {
    char *json;                 /* owned */
    size_t len;
    char *key;                  /* owned */
    long long revision;
    char id[37];
};
struct store_items {
    struct store_item *v;       /* owned */
    size_t n;
};
void store_items_uninit(struct store_items *);

/* 'key' is an id or a name; it is looked up as an id when it has the shape
 * of a UUID, else as a name. */
enum db_qs store_get(struct db_conn *, const struct store_res *, const char *scope,
                     const char *key, struct store_row *out);
/* On success 'out' (zeroed by the caller; store_items_uninit) holds the
 * rows, keyed by name. */
enum db_qs store_list(struct db_conn *, const struct store_res *, const char *scope,
                      const char *after, unsigned int limit, struct store_items *out);
enum db_qs store_insert(struct db_conn *, const struct store_res *, const char *scope,
                        const char *body, struct store_row *out);
enum db_qs store_update(struct db_conn *, const struct store_res *, const char *scope,
                        const char *id, long long revision, const char *body,
                        struct store_row *out);
/* revision < 0: any revision. */
enum db_qs store_delete(struct db_conn *, const struct store_res *, const char *scope,
                        const char *id, long long revision);
/* Takes the resource's lock, if it has one, for the current transaction. */
enum db_qs store_lock(struct db_conn *, const struct store_res *);

/* A VM's power (vms.c; migrations/006_snapshots_migrations.sql): stop
 * marks running VM 'vm_id' of network 'network_id' stopped, with the
 * snapshot its stop took; start marks a stopped one running on 'host_id'
 * from 'snapshot_id', with placement 'placement_json' (NULL: unchanged).
 * Both are spec changes (generation bumped).  DB_QS_NONE when the VM is
 * not in the power the move starts from.  *out as store_get's. */
enum db_qs store_vm_stop(struct db_conn *, const char *network_id, const char *vm_id,
                         const char *snapshot_id, struct store_row *out);
enum db_qs store_vm_start(struct db_conn *, const char *network_id, const char *vm_id,
                          const char *snapshot_id, const char *host_id,
                          const char *placement_json, struct store_row *out);

/* Authentication (tokens.c): finds the live (not expired) token whose
 * secret is 'secret' and stamps its last_used_at (at most once a minute).
 * DB_QS_NONE when there is none. */
struct store_token_auth {
    char tenant_id[37];
    char token_id[37];
    bool read_only;         /* scope 'read-only' */
    bool path_is_own;       /* 'path_tenant' (an id or a name, may be NULL)
                             * names the token's tenant */
};
enum db_qs store_token_auth(struct db_conn *, const char *secret,
                            const char *path_tenant, struct store_token_auth *out);

/* The audit trail (audit.c), newest first, keyed by id, into 'out' as
 * store_list's.  Each
 * filter member may be NULL (any). */
struct store_audit_filter {
    const char *before;     /* only rows with a smaller id (decimal) */
    const char *kind;       /* "vm" */
    const char *object_id;  /* a UUID */
    const char *actor;      /* "admin", or "tenant:<id>" with or without
                             * "/token:<id>" */
};
enum db_qs store_audit_list(struct db_conn *, const struct store_audit_filter *,
                            unsigned int limit, struct store_items *out);

/* Readiness: a trivial round trip. */
enum db_qs store_ping(struct db_conn *);

/* Placement candidates: every host with its cloud, by host name.  'used'
 * is the host's used slots, read from the counter the triggers of
 * migrations/015_host_slots.sql keep (one row per host, no count over VMs):
 * a slot is used by each running VM placed there (a stopped one releases
 * its slot) and by each active migration's other copy of its VM: the
 * target before activate (phases prepare, clone, dual), the source from
 * activate on.  Names are at most 63 characters (the schema's rule). */
struct store_candidate {
    char host_id[37];
    char host_name[64];
    char cloud_id[37];
    char cloud_name[64];
    char jurisdiction[3];       /* ISO 3166-1 alpha-2 */
    bool gateway;
    unsigned int capacity;
    unsigned int used;
    double cost_per_hour;       /* of the host's cloud */
};
/* On success *out is a malloc'ed array of *n candidates (NULL when there
 * are none) that the caller frees with free(). */
enum db_qs store_placement_candidates(struct db_conn *, struct store_candidate **out,
                                      size_t *n);
/* Number of VMs in network 'network_id'. */
enum db_qs store_network_vm_count(struct db_conn *, const char *network_id,
                                  long long *count);
/* The status document of a network (see openapi/openapi.json), malloc'ed. */
enum db_qs store_network_status(struct db_conn *, const char *tenant_id,
                                const char *network_id, char **json);

/* The virtual topology document of a network (switches with their VMs,
 * links by switch name), malloc'ed. */
enum db_qs store_network_topology(struct db_conn *, const char *tenant_id,
                                  const char *network_id, char **json);

/* Cloud links, keyed by the two cloud ids in any order. */
enum db_qs store_cloudlink_get(struct db_conn *, const char *a, const char *b,
                               struct store_row *out);
/* The same, locking the link's row until the transaction ends. */
enum db_qs store_cloudlink_lock(struct db_conn *, const char *a, const char *b,
                                struct store_row *out);
/* Into 'out' as store_list's, keyed by the pair's sort key. */
enum db_qs store_cloudlink_list(struct db_conn *, const char *after,
                                unsigned int limit, struct store_items *out);
/* *created tells whether the link is new. */
enum db_qs store_cloudlink_put(struct db_conn *, const char *a, const char *b,
                               const char *body, struct store_row *out,
                               bool *created);
enum db_qs store_cloudlink_delete(struct db_conn *, const char *a, const char *b,
                                  long long revision);

/* Idempotency keys (see migrations/001_init.sql).  claim: DB_QS_ONE when
 * this request now owns the key, DB_QS_NONE when it was used before, in
 * which case lookup returns the stored answer and whether the stored
 * request was the same (method, path and body). */
enum db_qs store_idem_claim(struct db_conn *, const char *principal, const char *key,
                            const char *method, const char *path, const char *body);
enum db_qs store_idem_lookup(struct db_conn *, const char *principal, const char *key,
                             const char *method, const char *path, const char *body,
                             int *status, char **answer, char **location,
                             bool *same_request);
enum db_qs store_idem_finish(struct db_conn *, const char *principal, const char *key,
                             int status, const char *answer, const char *location);

#endif
