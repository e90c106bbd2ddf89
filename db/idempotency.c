/* idempotency.c: stored answers to POSTs that carried an Idempotency-Key.
 * The claim is an INSERT ... ON CONFLICT DO NOTHING in the request's own
 * transaction: a concurrent request with the same key blocks on it until the
 * first commits (then finds its answer) or rolls back (then proceeds). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "db/conn_internal.h"
#include "db/store.h"

static const struct db_stmt claim = {
    "idem_claim",
    "INSERT INTO idempotency (principal, key, method, path, request_hash,"
    " status, body) VALUES ($1, $2, $3, $4, sha256(convert_to($5, 'UTF8')), 0, '')"
    " ON CONFLICT DO NOTHING", 5,
};
static const struct db_stmt lookup = {
    "idem_lookup",
    "SELECT status, body, location, method = $3 AND path = $4"
    "  AND request_hash = sha256(convert_to($5, 'UTF8'))"
    " FROM idempotency WHERE principal = $1 AND key = $2", 5,
};
static const struct db_stmt finish = {
    "idem_finish",
    "UPDATE idempotency SET status = $3::integer, body = $4, location = $5"
    " WHERE principal = $1 AND key = $2", 5,
};

enum db_qs
store_idem_claim(struct db_conn *c, const char *principal, const char *key,
                 const char *method, const char *path, const char *body)
{
    const char *params[] = {principal, key, method, path, body};
    return db_exec(c, &claim, params, NULL);
}

enum db_qs
store_idem_lookup(struct db_conn *c, const char *principal, const char *key,
                  const char *method, const char *path, const char *body,
                  int *status, char **answer, char **location, bool *same)
{
    const char *params[] = {principal, key, method, path, body};
    PGresult *res;
    enum db_qs qs = db_exec(c, &lookup, params, &res);
    if (qs == DB_QS_ONE) {
        *status = atoi(PQgetvalue(res, 0, 0));
        *answer = strdup(PQgetvalue(res, 0, 1));
        *location = db_val(res, 0, 2) ? strdup(db_val(res, 0, 2)) : NULL;
        *same = PQgetvalue(res, 0, 3)[0] == 't';
        if (!*answer) {
            free(*location);
            *location = NULL;
            qs = DB_QS_HARD;
        }
    }
    PQclear(res);
    return qs;
}

enum db_qs
store_idem_finish(struct db_conn *c, const char *principal, const char *key,
                  int status, const char *answer, const char *location)
{
    char st[16];
    snprintf(st, sizeof st, "%d", status);
    const char *params[] = {principal, key, st, answer, location};
    return db_exec(c, &finish, params, NULL);
}
