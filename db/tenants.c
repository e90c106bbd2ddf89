/* tenants.c: the tenant resource's statements (see store.h).
 *
 * Tag allocation: the lowest free tag in 1..65535 whose bit 8 is clear, computed under an
 * advisory lock held for the transaction (the `lock` statement), so two
 * concurrent creations never pick the same tag.  When all tags are in use
 * the expression yields NULL and the NOT NULL constraint on `tag` refuses
 * the row (reported as tenant-tags-exhausted).  The insert also creates the
 * tenant's first token, the read-write token 'initial', of which only the
 * SHA-256 of the secret ("_token" in the validated object) is stored (see
 * tokens.c). */
#include "db/resource_sql.h"
#include "db/store.h"

#define TENANT_JSON                                                           \
    "json_build_object(" SQL_COMMON("t") ", 'tag', t.tag,"                 \
    " 'wan_limit_mbps', t.wan_limit_mbps,"                                    \
    " 'controller_allow', to_json(t.controller_allow::text[]))::text"
/* The validated object's controller_allow (canonical CIDR texts) as cidr[]. */
#define CONTROLLER_ALLOW(J)                                                   \
    "ARRAY(SELECT jsonb_array_elements_text(" J "->'controller_allow'))::cidr[]"

/* The tag after t, skipping tags whose first MAC byte would have the
 * multicast bit set (bit 8): the tag leads every platform MAC. */
#define NEXT_TAG(t) "(CASE WHEN ((" t " + 1) & 256) <> 0 THEN " t " + 257 ELSE " t " + 1 END)"
#define LOWEST_FREE_TAG                                                       \
    "CASE WHEN NOT EXISTS (SELECT 1 FROM tenant WHERE tag = 1) THEN 1"        \
    " ELSE (SELECT min(" NEXT_TAG("t1.tag") ") FROM tenant t1"                \
    "  WHERE " NEXT_TAG("t1.tag") " <= 65535"                                 \
    "  AND NOT EXISTS (SELECT 1 FROM tenant t2"                               \
    "                   WHERE t2.tag = " NEXT_TAG("t1.tag") "))"              \
    " END"

static const struct db_stmt get = {
    "tenant_get",
    "SELECT " TENANT_JSON ", t.revision, t.id FROM tenant t"
    " WHERE t.id = $2::uuid OR t.name = $3", 3,
};
static const struct db_stmt list = {
    "tenant_list",
    "SELECT " TENANT_JSON ", t.name, t.revision, t.id FROM tenant t"
    " WHERE $2::text IS NULL OR t.name > $2 ORDER BY t.name LIMIT $3::int", 3,
};
static const struct db_stmt insert = {
    "tenant_insert",
    "WITH t AS ("
    " INSERT INTO tenant (name, tag, labels, wan_limit_mbps, controller_allow)"
    " SELECT $2::jsonb->>'name', " LOWEST_FREE_TAG ", $2::jsonb->'labels',"
    "  ($2::jsonb->>'wan_limit_mbps')::integer, " CONTROLLER_ALLOW("$2::jsonb")
    " RETURNING *),"
    " k AS (INSERT INTO token (tenant_id, name, scope, hash, created_by)"
    " SELECT t.id, 'initial', 'read-write',"
    "  sha256(convert_to($2::jsonb->>'_token', 'UTF8')),"
    "  nullif(current_setting('skyvisor.actor', true), '') FROM t)"
    " SELECT " TENANT_JSON ", t.revision, t.id FROM t", 2,
};
static const struct db_stmt del = {
    "tenant_delete",
    "DELETE FROM tenant WHERE id = $2::uuid"
    " AND ($3::bigint IS NULL OR revision = $3::bigint)", 3,
};
static const struct db_stmt lock = {
    "tenant_lock", "SELECT pg_advisory_xact_lock(7398423)", 0,
};

/* PATCH changes the labels, the WAN cap and controller_allow; the name and
 * tag stay. */
static const struct db_stmt update = {
    "tenant_update",
    "UPDATE tenant AS t SET labels = j->'labels',"
    " wan_limit_mbps = (j->>'wan_limit_mbps')::integer,"
    " controller_allow = " CONTROLLER_ALLOW("j") ", " SQL_SPEC_CHANGED
    " FROM (SELECT $4::jsonb AS j) x"
    " WHERE t.id = $2::uuid AND t.revision = $3::bigint"
    " RETURNING " TENANT_JSON ", t.revision, t.id", 4,
};

const struct store_res store_tenants = {"tenant", &get, &list, &insert, &update,
                                        &del, &lock};
