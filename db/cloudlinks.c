/* cloudlinks.c: the WAN cost between two clouds.  A link is undirected: it
 * is stored once with cloud_a < cloud_b (by id) and shown with the two cloud
 * names in alphabetical order. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "db/conn_internal.h"
#include "db/store.h"

#define LINK_NAMES                                                            \
    " FROM cloud_link l JOIN cloud ca ON ca.id = l.cloud_a"                   \
    " JOIN cloud cb ON cb.id = l.cloud_b"
#define CLOUDLINK_JSON                                                        \
    "json_build_object('cloud_a', least(ca.name, cb.name),"                  \
    " 'cloud_b', greatest(ca.name, cb.name), 'cost', l.cost,"                 \
    " 'rtt_ms', l.rtt_ms, 'bandwidth_mbps', l.bandwidth_mbps,"                \
    " 'created_at', l.created_at, 'updated_at', l.updated_at)::text"

static const struct db_stmt get = {
    "cloudlink_get",
    "SELECT " CLOUDLINK_JSON ", l.revision, l.id" LINK_NAMES
    " WHERE l.cloud_a = least($1::uuid, $2::uuid)"
    "  AND l.cloud_b = greatest($1::uuid, $2::uuid)", 2,
};
static const struct db_stmt lock = {
    "cloudlink_lock",
    "SELECT " CLOUDLINK_JSON ", l.revision, l.id" LINK_NAMES
    " WHERE l.cloud_a = least($1::uuid, $2::uuid)"
    "  AND l.cloud_b = greatest($1::uuid, $2::uuid) FOR UPDATE OF l", 2,
};
static const struct db_stmt list = {
    "cloudlink_list",
    "SELECT * FROM (SELECT " CLOUDLINK_JSON " AS j,"
    "  least(ca.name, cb.name) || '/' || greatest(ca.name, cb.name) AS k"
    LINK_NAMES ") x WHERE $1::text IS NULL OR x.k > $1"
    " ORDER BY x.k LIMIT $2::int", 2,
};
static const struct db_stmt put = {
    "cloudlink_put",
    "WITH up AS ("
    " INSERT INTO cloud_link AS l (cloud_a, cloud_b, cost, rtt_ms, bandwidth_mbps)"
    " SELECT least($1::uuid, $2::uuid), greatest($1::uuid, $2::uuid),"
    "  (j->>'cost')::float8, (j->>'rtt_ms')::float8,"
    "  (j->>'bandwidth_mbps')::integer FROM (SELECT $3::jsonb AS j) s"
    " ON CONFLICT (cloud_a, cloud_b) DO UPDATE SET cost = EXCLUDED.cost,"
    "  rtt_ms = EXCLUDED.rtt_ms, bandwidth_mbps = EXCLUDED.bandwidth_mbps,"
    "  generation = l.generation + 1"
    " RETURNING l.*, (xmax = 0) AS created)"
    " SELECT " CLOUDLINK_JSON ", l.revision, l.id, l.created"
    " FROM up l JOIN cloud ca ON ca.id = l.cloud_a"
    " JOIN cloud cb ON cb.id = l.cloud_b", 3,
};
static const struct db_stmt del = {
    "cloudlink_delete",
    "DELETE FROM cloud_link WHERE cloud_a = least($1::uuid, $2::uuid)"
    " AND cloud_b = greatest($1::uuid, $2::uuid)"
    " AND ($3::bigint IS NULL OR revision = $3::bigint)", 3,
};

enum db_qs
store_cloudlink_get(struct db_conn *c, const char *a, const char *b,
                    struct store_row *out)
{
    const char *params[] = {a, b};
    PGresult *res;
    enum db_qs qs = db_exec(c, &get, params, &res);
    return store_take_row(res, qs, out);
}

enum db_qs
store_cloudlink_lock(struct db_conn *c, const char *a, const char *b,
                     struct store_row *out)
{
    const char *params[] = {a, b};
    PGresult *res;
    enum db_qs qs = db_exec(c, &lock, params, &res);
    return store_take_row(res, qs, out);
}

enum db_qs
store_cloudlink_list(struct db_conn *c, const char *after, unsigned int limit,
                     struct store_items *out)
{
    char lim[16];
    snprintf(lim, sizeof lim, "%u", limit);
    const char *params[] = {after, lim};
    PGresult *res;
    enum db_qs qs = db_exec(c, &list, params, &res);
    return store_take_items(res, qs, out);
}

enum db_qs
store_cloudlink_put(struct db_conn *c, const char *a, const char *b,
                    const char *body, struct store_row *out, bool *created)
{
    const char *params[] = {a, b, body};
    PGresult *res;
    enum db_qs qs = db_exec(c, &put, params, &res);
    if (qs == DB_QS_ONE) {
        *created = PQgetvalue(res, 0, 3)[0] == 't';
    }
    return store_take_row(res, qs, out);
}

enum db_qs
store_cloudlink_delete(struct db_conn *c, const char *a, const char *b,
                       long long revision)
{
    char rev[24];
    snprintf(rev, sizeof rev, "%lld", revision);
    const char *params[] = {a, b, revision >= 0 ? rev : NULL};
    return db_exec(c, &del, params, NULL);
}
