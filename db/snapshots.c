/* snapshots.c: the statements of snapshots.h.  A snapshot's representation
 * is built here, once: GET shows the captured content, the list does not. */
#include "db/snapshots.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "db/conn_internal.h"
#include "db/guard.h"

#define SNAP_JSON(CONTENT)                                                    \
    "json_build_object('id', s.id, 'name', s.name,"                           \
    " 'vm', (SELECT name FROM vm WHERE id = s.vm_id), 'vm_id', s.vm_id,"      \
    " 'reason', s.reason, 'labels', s.labels, 'state', s.state,"              \
    " 'detail', s.detail, 'mac', s.mac::text, 'ip', host(s.ip),"              \
    " 'switch', (SELECT name FROM vswitch WHERE id = s.switch_id),"           \
    " 'switch_id', s.switch_id,"                                              \
    " 'host', (SELECT name FROM host WHERE id = s.host_id),"                  \
    " 'host_id', s.host_id, 'size_bytes', s.size_bytes,"                      \
    " 'capture_started_at', s.capture_started_at,"                            \
    " 'captured_at', s.captured_at, 'capture_times', s.capture_times,"        \
    " 'generation', s.generation, 'created_at', s.created_at,"                \
    " 'updated_at', s.updated_at" CONTENT ")::text"

static const struct db_stmt get = {
    "snapshot_get",
    "SELECT " SNAP_JSON(", 'content', s.content") ", s.revision, s.id"
    " FROM vm_snapshot s"
    " WHERE s.vm_id = $1::uuid AND (s.id = $2::uuid OR s.name = $3)", 3,
};
static const struct db_stmt list = {
    "snapshot_list",
    "SELECT " SNAP_JSON("") ", s.name FROM vm_snapshot s WHERE s.vm_id = $1::uuid"
    " AND ($2::text IS NULL OR s.name > $2) ORDER BY s.name LIMIT $3::int", 3,
};
static const struct db_stmt del = {
    "snapshot_delete",
    "DELETE FROM vm_snapshot WHERE vm_id = $1::uuid AND id = $2::uuid"
    " AND ($3::bigint IS NULL OR revision = $3::bigint)", 3,
};

const struct store_res store_snapshots = {"snapshot", &get, &list, NULL, NULL, &del,
                                          NULL};

static const struct db_stmt stmt_insert = {
    "snapshot_insert",
    "INSERT INTO vm_snapshot AS s (vm_id, network_id, name, reason, labels, host_id,"
    "  mac, ip, switch_id)"
    " SELECT v.id, v.network_id, coalesce($2, 'snap-'"
    "   || to_char(now() AT TIME ZONE 'UTC', 'YYYYMMDD-HH24MISS') || '-'"
    "   || substr(md5(gen_random_uuid()::text), 1, 6)),"
    "  $4, coalesce($3::jsonb, '{}'), v.host_id, v.mac, v.ip, v.switch_id"
    " FROM vm v WHERE v.id = $1::uuid"
    " RETURNING " SNAP_JSON("") ", s.revision, s.id", 4,
};
static const struct db_stmt stmt_latest = {
    "snapshot_latest",
    "SELECT " SNAP_JSON("") ", s.revision, s.id FROM vm_snapshot s"
    " WHERE s.vm_id = $1::uuid ORDER BY s.created_at DESC, s.name DESC LIMIT 1", 1,
};
static const struct db_stmt stmt_diff = {
    "snapshot_diff",
    "SELECT (s.mac <> v.mac)::int | ((s.ip <> v.ip)::int << 1)"
    "  | ((s.switch_id <> v.switch_id)::int << 2)"
    " FROM vm_snapshot s JOIN vm v ON v.id = s.vm_id WHERE s.id = $1::uuid", 1,
};
static const struct db_stmt stmt_pending = {
    "snapshot_pending",
    "SELECT s.id, s.vm_id, s.network_id, coalesce(v.host_id::text, ''), s.reason,"
    "  s.generation, extract(epoch FROM s.created_at)::float8"
    " FROM vm_snapshot s JOIN vm v ON v.id = s.vm_id"
    " WHERE s.state = 'pending' ORDER BY s.created_at, s.id", 0,
};
/* A stop's snapshot settled: what the switches must hold of its VM changes
 * (the model leaves a stopped VM out once its stop snapshot is no longer
 * pending), though the VM's row does not, so the change log names the VM
 * too.  Appended to a settling UPDATE ... RETURNING id, vm_id. */
#define SETTLED_STOP                                                          \
    " ), l AS (INSERT INTO change_log (kind, object_id, network_id, op)"      \
    "  SELECT 'vm', v.id, v.network_id, 'update' FROM s JOIN vm v"            \
    "   ON v.id = s.vm_id AND v.power_snapshot_id = s.id"                     \
    "  WHERE v.power = 'stopped')"                                            \
    " SELECT 1 FROM s"

static const struct db_stmt stmt_capture = {
    "snapshot_capture",
    "WITH s AS (UPDATE vm_snapshot SET state = 'ready', detail = NULL,"
    "  content = $2::jsonb, size_bytes = octet_length($2::jsonb::text),"
    "  capture_started_at = to_timestamp($3::float8),"
    "  captured_at = to_timestamp($4::float8), capture_times = $5::jsonb,"
    "  generation = generation + 1"
    " WHERE id = $1::uuid AND state = 'pending' RETURNING id, vm_id" SETTLED_STOP, 5,
};
static const struct db_stmt stmt_error = {
    "snapshot_error",
    "WITH s AS (UPDATE vm_snapshot SET state = 'error', detail = $2,"
    "  generation = generation + 1"
    " WHERE id = $1::uuid AND state = 'pending' RETURNING id, vm_id" SETTLED_STOP, 2,
};

enum db_qs
snapshots_insert(struct db_conn *c, const char *vm_id, const char *name,
                 const char *labels_json, const char *reason, struct store_row *out)
{
    const char *params[] = {vm_id, name, labels_json, reason};
    PGresult *res;
    enum db_qs qs = db_exec(c, &stmt_insert, params, &res);
    return store_take_row(res, qs, out);
}

enum db_qs
snapshots_latest(struct db_conn *c, const char *vm_id, struct store_row *out)
{
    const char *params[] = {vm_id};
    PGresult *res;
    enum db_qs qs = db_exec(c, &stmt_latest, params, &res);
    return store_take_row(res, qs, out);
}

enum db_qs
snapshots_diff(struct db_conn *c, const char *snap_id, unsigned int *diff)
{
    const char *params[] = {snap_id};
    PGresult *res;
    enum db_qs qs = db_exec(c, &stmt_diff, params, &res);
    *diff = qs == DB_QS_ONE ? (unsigned int) atoi(PQgetvalue(res, 0, 0)) : 0;
    PQclear(res);
    return qs;
}

static void
pending_fill(void *elem, const PGresult *res, int i)
{
    struct snapshots_pending *p = elem;
    snprintf(p->id, sizeof p->id, "%s", PQgetvalue(res, i, 0));
    snprintf(p->vm_id, sizeof p->vm_id, "%s", PQgetvalue(res, i, 1));
    snprintf(p->network_id, sizeof p->network_id, "%s", PQgetvalue(res, i, 2));
    snprintf(p->host_id, sizeof p->host_id, "%s", PQgetvalue(res, i, 3));
    snprintf(p->reason, sizeof p->reason, "%s", PQgetvalue(res, i, 4));
    p->generation = atoll(PQgetvalue(res, i, 5));
    p->requested_at = atof(PQgetvalue(res, i, 6));
}

enum db_qs
snapshots_list_pending(struct db_conn *c, struct snapshots_pending **out, size_t *n)
{
    void *rows;
    enum db_qs qs = db_exec_rows(c, &stmt_pending, NULL, sizeof **out, pending_fill,
                                 &rows, n);
    *out = rows;
    return qs;
}

enum db_qs
snapshots_record_capture(struct db_conn *c, const char *id,
                         const struct snapshots_capture *cap)
{
    char started[32], finished[32];
    snprintf(started, sizeof started, "%.6f", cap->started_at);
    snprintf(finished, sizeof finished, "%.6f", cap->finished_at);
    const char *params[] = {id, cap->content_json, started, finished,
                            cap->capture_times_json};
    return guard_run(c, &stmt_capture, params, NULL);
}

enum db_qs
snapshots_record_error(struct db_conn *c, const char *id, const char *detail)
{
    const char *params[] = {id, detail && *detail ? detail : "capture failed"};
    return guard_run(c, &stmt_error, params, NULL);
}
