/* vms.c: the VM resource's statements, scoped by network (see store.h),
 * and its stop and start (store_vm_stop, store_vm_start).
 * The validated object carries "_switch_id" and the placement's resolved
 * "_host_id".  Placements are serialised by an advisory lock (`lock`) so
 * that two concurrent creations never both take a host's last slot. */
#include "db/conn_internal.h"
#include "db/resource_sql.h"
#include "db/store.h"

#define VM_JSON                                                               \
    "json_build_object(" SQL_COMMON("v") ","                                 \
    " 'network', (SELECT name FROM network WHERE id = v.network_id),"         \
    " 'mac', v.mac::text, 'ip', host(v.ip),"                                  \
    " 'switch', (SELECT name FROM vswitch WHERE id = v.switch_id),"           \
    " 'iface', v.iface, 'placement', v.placement, 'host_id', v.host_id,"      \
    " 'rate_mbps', v.rate_mbps, 'burst_kb', v.burst_kb,"                      \
    " 'host', (SELECT name FROM host WHERE id = v.host_id),"                  \
    " 'cloud', (SELECT c.name FROM host h JOIN cloud c ON c.id = h.cloud_id"  \
    "   WHERE h.id = v.host_id),"                                            \
    " 'power', v.power, 'power_snapshot', v.power_snapshot_id,"               \
    " 'power_changed_at', v.power_changed_at,"                                \
    " 'migration', (SELECT json_build_object('id', m.id, 'phase', m.phase,"   \
    "   'to_host', (SELECT name FROM host WHERE id = m.to_host_id))"          \
    "   FROM vm_migration m WHERE m.vm_id = v.id AND m.finished_at IS NULL))::text"

#define VM_COLUMNS                                                            \
    "name, mac, ip, switch_id, iface, placement, host_id, labels,"            \
    " rate_mbps, burst_kb"
#define VM_VALUES                                                             \
    "j->>'name', (j->>'mac')::macaddr, (j->>'ip')::inet,"                     \
    " (j->>'_switch_id')::uuid, j->>'iface', j->'placement',"                 \
    " (j->>'_host_id')::uuid, j->'labels',"                                   \
    " (j->>'rate_mbps')::integer, (j->>'burst_kb')::integer"

static const struct db_stmt get = {
    "vm_get",
    "SELECT " VM_JSON ", v.revision, v.id FROM vm v"
    " WHERE v.network_id = $1::uuid AND (v.id = $2::uuid OR v.name = $3)", 3,
};
static const struct db_stmt list = {
    "vm_list",
    "SELECT " VM_JSON ", v.name FROM vm v WHERE v.network_id = $1::uuid"
    " AND ($2::text IS NULL OR v.name > $2) ORDER BY v.name LIMIT $3::int", 3,
};
static const struct db_stmt insert = {
    "vm_insert",
    "INSERT INTO vm AS v (network_id, " VM_COLUMNS ")"
    " SELECT $1::uuid, " VM_VALUES " FROM (SELECT $2::jsonb AS j) x"
    " RETURNING " VM_JSON ", v.revision, v.id", 2,
};
static const struct db_stmt update = {
    "vm_update",
    "UPDATE vm AS v SET (" VM_COLUMNS ") = ROW(" VM_VALUES "), "
    SQL_SPEC_CHANGED " FROM (SELECT $4::jsonb AS j) x"
    " WHERE v.network_id = $1::uuid AND v.id = $2::uuid"
    "  AND v.revision = $3::bigint"
    " RETURNING " VM_JSON ", v.revision, v.id", 4,
};
static const struct db_stmt del = {
    "vm_delete",
    "DELETE FROM vm WHERE network_id = $1::uuid AND id = $2::uuid"
    " AND ($3::bigint IS NULL OR revision = $3::bigint)", 3,
};
static const struct db_stmt lock = {
    "vm_lock", "SELECT pg_advisory_xact_lock(7398422)", 0,
};

const struct store_res store_vms = {"vm", &get, &list, &insert, &update, &del,
                                    &lock};

/* Stop and start: the power and the snapshot (see store.h). */
static const struct db_stmt stmt_stop = {
    "vm_stop",
    "UPDATE vm AS v SET power = 'stopped', power_snapshot_id = $3::uuid,"
    " power_changed_at = now(), " SQL_SPEC_CHANGED
    " WHERE v.network_id = $1::uuid AND v.id = $2::uuid AND v.power = 'running'"
    " RETURNING " VM_JSON ", v.revision, v.id", 3,
};
static const struct db_stmt stmt_start = {
    "vm_start",
    "UPDATE vm AS v SET power = 'running', power_snapshot_id = $3::uuid,"
    " host_id = $4::uuid, placement = coalesce($5::jsonb, v.placement),"
    " power_changed_at = now(), " SQL_SPEC_CHANGED
    " WHERE v.network_id = $1::uuid AND v.id = $2::uuid AND v.power = 'stopped'"
    " RETURNING " VM_JSON ", v.revision, v.id", 5,
};

enum db_qs
store_vm_stop(struct db_conn *c, const char *network_id, const char *vm_id,
              const char *snapshot_id, struct store_row *out)
{
    const char *params[] = {network_id, vm_id, snapshot_id};
    PGresult *res;
    enum db_qs qs = db_exec(c, &stmt_stop, params, &res);
    return store_take_row(res, qs, out);
}

enum db_qs
store_vm_start(struct db_conn *c, const char *network_id, const char *vm_id,
               const char *snapshot_id, const char *host_id,
               const char *placement_json, struct store_row *out)
{
    const char *params[] = {network_id, vm_id, snapshot_id, host_id, placement_json};
    PGresult *res;
    enum db_qs qs = db_exec(c, &stmt_start, params, &res);
    return store_take_row(res, qs, out);
}
