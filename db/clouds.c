/* clouds.c: the cloud resource's statements (see store.h for the calling
 * convention).  The read-only "gateways" are the cloud's hosts with role
 * gateway (at most two, migrations/011), by name: the first is the
 * preferred one, also given alone as "gateway" (null when none). */
#include "db/resource_sql.h"
#include "db/store.h"

#define CLOUD_JSON                                                            \
    "json_build_object(" SQL_COMMON("c") ", 'provider', c.provider,"         \
    " 'region', c.region, 'jurisdiction', c.jurisdiction, 'kind', c.kind,"    \
    " 'cost_per_hour', trim_scale(c.cost_per_hour)::text,"                    \
    " 'gateway', (SELECT json_build_object('id', g.id, 'name', g.name,"      \
    "   'public_ip', host(g.public_ip)) FROM host g"                          \
    "   WHERE g.cloud_id = c.id AND g.role = 'gateway'"                       \
    "   ORDER BY g.name LIMIT 1),"                                            \
    " 'gateways', (SELECT coalesce(json_agg(json_build_object('id', g.id,"   \
    "   'name', g.name, 'public_ip', host(g.public_ip)) ORDER BY g.name),"    \
    "   '[]') FROM host g"                                                    \
    "   WHERE g.cloud_id = c.id AND g.role = 'gateway'))::text"

static const struct db_stmt get = {
    "cloud_get",
    "SELECT " CLOUD_JSON ", c.revision, c.id FROM cloud c"
    " WHERE c.id = $2::uuid OR c.name = $3", 3,
};
static const struct db_stmt list = {
    "cloud_list",
    "SELECT " CLOUD_JSON ", c.name, c.revision, c.id FROM cloud c"
    " WHERE $2::text IS NULL OR c.name > $2 ORDER BY c.name LIMIT $3::int", 3,
};
static const struct db_stmt insert = {
    "cloud_insert",
    "INSERT INTO cloud AS c (name, provider, region, jurisdiction, kind,"
    " cost_per_hour, labels)"
    " SELECT j->>'name', j->>'provider', j->>'region', j->>'jurisdiction',"
    "  j->>'kind', (j->>'cost_per_hour')::numeric, j->'labels'"
    " FROM (SELECT $2::jsonb AS j) s"
    " RETURNING " CLOUD_JSON ", c.revision, c.id", 2,
};
static const struct db_stmt update = {
    "cloud_update",
    "UPDATE cloud AS c SET name = j->>'name', provider = j->>'provider',"
    " region = j->>'region', jurisdiction = j->>'jurisdiction',"
    " kind = j->>'kind', cost_per_hour = (j->>'cost_per_hour')::numeric,"
    " labels = j->'labels', " SQL_SPEC_CHANGED
    " FROM (SELECT $4::jsonb AS j) s"
    " WHERE c.id = $2::uuid AND c.revision = $3::bigint"
    " RETURNING " CLOUD_JSON ", c.revision, c.id", 4,
};
static const struct db_stmt del = {
    "cloud_delete",
    "DELETE FROM cloud WHERE id = $2::uuid"
    " AND ($3::bigint IS NULL OR revision = $3::bigint)", 3,
};

const struct store_res store_clouds = {"cloud", &get, &list, &insert, &update,
                                       &del, NULL};
