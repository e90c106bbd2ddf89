/* networks.c: the network resource's statements, scoped by tenant (see
 * store.h). */
#include "db/resource_sql.h"
#include "db/store.h"

#define NETWORK_JSON                                                          \
    "json_build_object(" SQL_COMMON("n") ","                                 \
    " 'tenant', (SELECT name FROM tenant WHERE id = n.tenant_id),"            \
    " 'tenant_id', n.tenant_id, 'tagging', n.tagging,"                        \
    " 'subnet', n.subnet::text)::text"

static const struct db_stmt get = {
    "network_get",
    "SELECT " NETWORK_JSON ", n.revision, n.id FROM network n"
    " WHERE n.tenant_id = $1::uuid AND (n.id = $2::uuid OR n.name = $3)", 3,
};
static const struct db_stmt list = {
    "network_list",
    "SELECT " NETWORK_JSON ", n.name FROM network n WHERE n.tenant_id = $1::uuid"
    " AND ($2::text IS NULL OR n.name > $2) ORDER BY n.name LIMIT $3::int", 3,
};
static const struct db_stmt insert = {
    "network_insert",
    "INSERT INTO network AS n (tenant_id, name, tagging, subnet, labels)"
    " SELECT $1::uuid, j->>'name', j->>'tagging', (j->>'subnet')::cidr,"
    "  j->'labels' FROM (SELECT $2::jsonb AS j) s"
    " RETURNING " NETWORK_JSON ", n.revision, n.id", 2,
};
static const struct db_stmt update = {
    "network_update",
    "UPDATE network AS n SET name = j->>'name', tagging = j->>'tagging',"
    " subnet = (j->>'subnet')::cidr, labels = j->'labels', " SQL_SPEC_CHANGED
    " FROM (SELECT $4::jsonb AS j) s"
    " WHERE n.tenant_id = $1::uuid AND n.id = $2::uuid"
    "  AND n.revision = $3::bigint"
    " RETURNING " NETWORK_JSON ", n.revision, n.id", 4,
};
static const struct db_stmt del = {
    "network_delete",
    "DELETE FROM network WHERE tenant_id = $1::uuid AND id = $2::uuid"
    " AND ($3::bigint IS NULL OR revision = $3::bigint)", 3,
};

const struct store_res store_networks = {"network", &get, &list, &insert,
                                         &update, &del, NULL};
