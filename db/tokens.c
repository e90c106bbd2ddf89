/* tokens.c: a tenant's API tokens (see migrations/003_tokens_audit.sql):
 * the resource's statements, scoped by tenant (store.h), and the lookup
 * that authenticates a request.
 *
 * Only the SHA-256 of a secret is stored; the validated object of a create
 * carries the freshly drawn secret as "_token" and the insert hashes it.
 * There is no cache in front of the lookup: every request reads the token's
 * row, so a deleted (revoked) or expired token fails on the first request
 * that starts after the deletion committed, on every skyvisord of the
 * database.  The lookup is a plain read; only when the token's last_used_at
 * is a minute old or more does a second statement stamp it, so a busy token
 * does not turn every read into a write. */
#include <stdio.h>

#include "db/conn_internal.h"
#include "db/store.h"

#define TOKEN_JSON                                                            \
    "json_build_object('id', k.id, 'name', k.name, 'tenant_id', k.tenant_id," \
    " 'scope', k.scope, 'expires_at', k.expires_at,"                          \
    " 'last_used_at', k.last_used_at, 'created_by', k.created_by,"            \
    " 'created_at', k.created_at)::text"

static const struct db_stmt get = {
    "token_get",
    "SELECT " TOKEN_JSON ", k.revision, k.id FROM token k"
    " WHERE k.tenant_id = $1::uuid AND (k.id = $2::uuid OR k.name = $3)", 3,
};
static const struct db_stmt list = {
    "token_list",
    "SELECT " TOKEN_JSON ", k.name FROM token k WHERE k.tenant_id = $1::uuid"
    " AND ($2::text IS NULL OR k.name > $2) ORDER BY k.name LIMIT $3::int", 3,
};
static const struct db_stmt insert = {
    "token_insert",
    "INSERT INTO token AS k (tenant_id, name, scope, hash, expires_at, created_by)"
    " SELECT $1::uuid, j->>'name', j->>'scope',"
    "  sha256(convert_to(j->>'_token', 'UTF8')), (j->>'expires_at')::timestamptz,"
    "  nullif(current_setting('skyvisor.actor', true), '')"
    " FROM (SELECT $2::jsonb AS j) s"
    " RETURNING " TOKEN_JSON ", k.revision, k.id", 2,
};
static const struct db_stmt del = {
    "token_delete",
    "DELETE FROM token WHERE tenant_id = $1::uuid AND id = $2::uuid"
    " AND ($3::bigint IS NULL OR revision = $3::bigint)", 3,
};

/* Tokens have no PATCH: a token is created, read and revoked. */
const struct store_res store_tokens = {"token", &get, &list, &insert, NULL,
                                       &del, NULL};

static const struct db_stmt auth = {
    "token_auth",
    "SELECT k.tenant_id::text, k.id::text, k.scope = 'read-only',"
    "  coalesce(t.id::text = $2 OR t.name = $2, false),"
    "  k.last_used_at IS NULL OR k.last_used_at < now() - interval '1 minute'"
    " FROM token k JOIN tenant t ON t.id = k.tenant_id"
    " WHERE k.hash = sha256(convert_to($1, 'UTF8'))"
    "  AND (k.expires_at IS NULL OR k.expires_at > now())",
    2,
};
static const struct db_stmt touch = {
    "token_touch",
    "UPDATE token SET last_used_at = now() WHERE id = $1::uuid"
    " AND (last_used_at IS NULL OR last_used_at < now() - interval '1 minute')",
    1,
};

enum db_qs
store_token_auth(struct db_conn *c, const char *secret, const char *path_tenant,
                 struct store_token_auth *out)
{
    const char *params[] = {secret, path_tenant};
    PGresult *res;
    /* Stamping last_used_at twice is stamping it once. */
    enum db_qs qs = db_exec_idempotent(c, &auth, params, &res);
    if (qs == DB_QS_ONE) {
        snprintf(out->tenant_id, sizeof out->tenant_id, "%s", PQgetvalue(res, 0, 0));
        snprintf(out->token_id, sizeof out->token_id, "%s", PQgetvalue(res, 0, 1));
        out->read_only = PQgetvalue(res, 0, 2)[0] == 't';
        out->path_is_own = PQgetvalue(res, 0, 3)[0] == 't';
        if (PQgetvalue(res, 0, 4)[0] == 't') {
            /* Best effort: a failed stamp does not fail the request. */
            const char *id[] = {out->token_id};
            struct db_error saved = c->err;
            db_exec_idempotent(c, &touch, id, NULL);
            c->err = saved;
        }
    }
    PQclear(res);
    return qs;
}
