/* hosts.c: the host resource's statements (see store.h).  The validated
 * object carries the cloud already resolved to "_cloud_id"; vm_count is
 * the counter migrations/016 keeps, not a count over the VMs. */
#include "db/resource_sql.h"
#include "db/store.h"

#define HOST_JSON                                                             \
    "json_build_object(" SQL_COMMON("h") ","                                 \
    " 'cloud', (SELECT name FROM cloud WHERE id = h.cloud_id),"               \
    " 'cloud_id', h.cloud_id, 'role', h.role,"                                \
    " 'tunnel_ip', host(h.tunnel_ip), 'public_ip', host(h.public_ip),"        \
    " 'capacity', h.capacity, 'ovsdb', h.ovsdb, 'bridge', h.bridge,"          \
    " 'datapath', h.datapath, 'openflow', h.openflow,"                        \
    " 'controller', h.controller,"                                            \
    " 'vm_count', COALESCE((SELECT vms FROM host_slots WHERE host_id = h.id), 0))::text"

#define HOST_COLUMNS                                                          \
    "name, cloud_id, role, tunnel_ip, public_ip, capacity, ovsdb, bridge,"    \
    " datapath, openflow, controller, labels"
#define HOST_VALUES                                                           \
    "j->>'name', (j->>'_cloud_id')::uuid, j->>'role', (j->>'tunnel_ip')::inet," \
    " (j->>'public_ip')::inet, (j->>'capacity')::integer, j->>'ovsdb',"       \
    " j->>'bridge', j->>'datapath', j->>'openflow', j->>'controller',"        \
    " j->'labels'"

static const struct db_stmt get = {
    "host_get",
    "SELECT " HOST_JSON ", h.revision, h.id FROM host h"
    " WHERE h.id = $2::uuid OR h.name = $3", 3,
};
static const struct db_stmt list = {
    "host_list",
    "SELECT " HOST_JSON ", h.name, h.revision, h.id FROM host h"
    " WHERE $2::text IS NULL OR h.name > $2 ORDER BY h.name LIMIT $3::int", 3,
};
static const struct db_stmt insert = {
    "host_insert",
    "INSERT INTO host AS h (" HOST_COLUMNS ")"
    " SELECT " HOST_VALUES " FROM (SELECT $2::jsonb AS j) s"
    " RETURNING " HOST_JSON ", h.revision, h.id", 2,
};
static const struct db_stmt update = {
    "host_update",
    "UPDATE host AS h SET (" HOST_COLUMNS ") = ROW(" HOST_VALUES "),"
    " " SQL_SPEC_CHANGED
    " FROM (SELECT $4::jsonb AS j) s"
    " WHERE h.id = $2::uuid AND h.revision = $3::bigint"
    " RETURNING " HOST_JSON ", h.revision, h.id", 4,
};
static const struct db_stmt del = {
    "host_delete",
    "DELETE FROM host WHERE id = $2::uuid"
    " AND ($3::bigint IS NULL OR revision = $3::bigint)", 3,
};

const struct store_res store_hosts = {"host", &get, &list, &insert, &update,
                                      &del, NULL};
