/* audit.c: reading the audit trail (see migrations/003_tokens_audit.sql,
 * where triggers write it in the transaction of each change).
 *
 * Rows are listed newest first, by their id (an identity column), which is
 * also the page cursor; each filter is optional (SQL NULL: any). */
#include <stdio.h>

#include "db/conn_internal.h"
#include "db/store.h"

static const struct db_stmt list = {
    "audit_list",
    "SELECT json_build_object('id', a.id, 'at', a.at, 'actor', a.actor,"
    " 'kind', a.kind, 'object_id', a.object_id, 'op', a.op, 'old', a.old,"
    " 'new', a.new)::text, a.id::text"
    " FROM audit a"
    " WHERE ($1::bigint IS NULL OR a.id < $1::bigint)"
    "  AND ($2::text IS NULL OR a.kind = $2)"
    "  AND ($3::uuid IS NULL OR a.object_id = $3::uuid)"
    "  AND ($4::text IS NULL OR a.actor = $4"
    "       OR left(a.actor, length($4) + 1) = $4 || '/')"
    " ORDER BY a.id DESC LIMIT $5::int",
    5,
};

enum db_qs
store_audit_list(struct db_conn *c, const struct store_audit_filter *f,
                 unsigned int limit, struct store_items *out)
{
    char lim[16];
    snprintf(lim, sizeof lim, "%u", limit);
    const char *params[] = {f->before, f->kind, f->object_id, f->actor, lim};
    PGresult *res;
    enum db_qs qs = db_exec(c, &list, params, &res);
    return store_take_items(res, qs, out);
}
