/* links.c: the virtual link resource's statements, scoped by network (see
 * store.h).  Endpoints arrive resolved as "_a_id" and "_b_id". */
#include "db/resource_sql.h"
#include "db/store.h"

#define LINK_JSON                                                             \
    "json_build_object(" SQL_COMMON("l") ","                                 \
    " 'network', (SELECT name FROM network WHERE id = l.network_id),"         \
    " 'a', (SELECT name FROM vswitch WHERE id = l.a_id),"                     \
    " 'b', (SELECT name FROM vswitch WHERE id = l.b_id),"                     \
    " 'bandwidth_mbps', l.bandwidth_mbps)::text"

static const struct db_stmt get = {
    "link_get",
    "SELECT " LINK_JSON ", l.revision, l.id FROM vlink l"
    " WHERE l.network_id = $1::uuid AND (l.id = $2::uuid OR l.name = $3)", 3,
};
static const struct db_stmt list = {
    "link_list",
    "SELECT " LINK_JSON ", l.name FROM vlink l WHERE l.network_id = $1::uuid"
    " AND ($2::text IS NULL OR l.name > $2) ORDER BY l.name LIMIT $3::int", 3,
};
static const struct db_stmt insert = {
    "link_insert",
    "INSERT INTO vlink AS l (network_id, name, a_id, b_id, bandwidth_mbps, labels)"
    " SELECT $1::uuid, j->>'name', (j->>'_a_id')::uuid, (j->>'_b_id')::uuid,"
    "  (j->>'bandwidth_mbps')::integer, j->'labels'"
    " FROM (SELECT $2::jsonb AS j) x"
    " RETURNING " LINK_JSON ", l.revision, l.id", 2,
};
static const struct db_stmt update = {
    "link_update",
    "UPDATE vlink AS l SET name = j->>'name', a_id = (j->>'_a_id')::uuid,"
    " b_id = (j->>'_b_id')::uuid,"
    " bandwidth_mbps = (j->>'bandwidth_mbps')::integer, labels = j->'labels', "
    SQL_SPEC_CHANGED " FROM (SELECT $4::jsonb AS j) x"
    " WHERE l.network_id = $1::uuid AND l.id = $2::uuid"
    "  AND l.revision = $3::bigint"
    " RETURNING " LINK_JSON ", l.revision, l.id", 4,
};
static const struct db_stmt del = {
    "link_delete",
    "DELETE FROM vlink WHERE network_id = $1::uuid AND id = $2::uuid"
    " AND ($3::bigint IS NULL OR revision = $3::bigint)", 3,
};

const struct store_res store_links = {"link", &get, &list, &insert, &update,
                                      &del, NULL};
