/* switches.c: the virtual switch resource's statements, scoped by network
 * (see store.h).  A switch's controller and fail_mode are NULL together
 * (migrations/009: a trigger also holds the controller inside the tenant's
 * controller_allow). */
#include "db/resource_sql.h"
#include "db/store.h"

#define SWITCH_JSON                                                           \
    "json_build_object(" SQL_COMMON("s") ","                                 \
    " 'network', (SELECT name FROM network WHERE id = s.network_id),"          \
    " 'controller', s.controller, 'fail_mode', s.fail_mode)::text"

static const struct db_stmt get = {
    "switch_get",
    "SELECT " SWITCH_JSON ", s.revision, s.id FROM vswitch s"
    " WHERE s.network_id = $1::uuid AND (s.id = $2::uuid OR s.name = $3)", 3,
};
static const struct db_stmt list = {
    "switch_list",
    "SELECT " SWITCH_JSON ", s.name FROM vswitch s WHERE s.network_id = $1::uuid"
    " AND ($2::text IS NULL OR s.name > $2) ORDER BY s.name LIMIT $3::int", 3,
};
static const struct db_stmt insert = {
    "switch_insert",
    "INSERT INTO vswitch AS s (network_id, name, labels, controller, fail_mode)"
    " SELECT $1::uuid, j->>'name', j->'labels', j->>'controller', j->>'fail_mode'"
    " FROM (SELECT $2::jsonb AS j) x"
    " RETURNING " SWITCH_JSON ", s.revision, s.id", 2,
};
static const struct db_stmt update = {
    "switch_update",
    "UPDATE vswitch AS s SET name = j->>'name', labels = j->'labels',"
    " controller = j->>'controller', fail_mode = j->>'fail_mode', "
    SQL_SPEC_CHANGED " FROM (SELECT $4::jsonb AS j) x"
    " WHERE s.network_id = $1::uuid AND s.id = $2::uuid"
    "  AND s.revision = $3::bigint"
    " RETURNING " SWITCH_JSON ", s.revision, s.id", 4,
};
static const struct db_stmt del = {
    "switch_delete",
    "DELETE FROM vswitch WHERE network_id = $1::uuid AND id = $2::uuid"
    " AND ($3::bigint IS NULL OR revision = $3::bigint)", 3,
};

const struct store_res store_switches = {"switch", &get, &list, &insert,
                                         &update, &del, NULL};
