/* readsnap.c: the reads of the API's read snapshot (readsnap.h). */
#include "db/readsnap.h"

#include <stdlib.h>
#include <string.h>

#include "db/store.h"

static const struct db_stmt stmt_snapshot = {
    "readsnap_snapshot", "SELECT pg_current_snapshot()::text", 0,
};

static const struct store_res *const kinds[READSNAP__N] = {
    [READSNAP_CLOUDS] = &store_clouds,
    [READSNAP_HOSTS] = &store_hosts,
    [READSNAP_TENANTS] = &store_tenants,
};

void
readsnap_rows_uninit(struct readsnap_rows *r)
{
    for (size_t i = 0; i < r->n; i++) {
        free(r->rows[i].json);
        free(r->rows[i].name);
    }
    free(r->rows);
    memset(r, 0, sizeof *r);
}

/* Copies the rows (json, name, revision, id) of 'res' into 'out'. */
static enum db_qs
take_rows(PGresult *res, struct readsnap_rows *out)
{
    int n = PQntuples(res);
    out->rows = calloc((size_t) n + 1, sizeof *out->rows);
    if (!out->rows) {
        return DB_QS_HARD;
    }
    for (int i = 0; i < n; i++) {
        struct readsnap_row *row = &out->rows[out->n++];
        row->len = (size_t) PQgetlength(res, i, 0);
        row->json = malloc(row->len + 1);
        row->name = strdup(PQgetvalue(res, i, 1));
        if (!row->json || !row->name) {
            return DB_QS_HARD;
        }
        memcpy(row->json, PQgetvalue(res, i, 0), row->len + 1);
        row->revision = atoll(PQgetvalue(res, i, 2));
        snprintf(row->id, sizeof row->id, "%s", PQgetvalue(res, i, 3));
    }
    return DB_QS_ONE;
}

enum db_qs
readsnap_load(struct db_conn *c, char **snapshot, struct readsnap_rows out[READSNAP__N])
{
    *snapshot = NULL;
    enum db_qs qs = db_exec_sql(c, "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY");
    PGresult *res = NULL;
    if (qs >= 0 && (qs = db_exec(c, &stmt_snapshot, NULL, &res)) == DB_QS_ONE
        && !(*snapshot = strdup(PQgetvalue(res, 0, 0)))) {
        qs = DB_QS_HARD;
    }
    PQclear(res);
    for (size_t k = 0; k < READSNAP__N && qs == DB_QS_ONE; k++) {
        qs = store_list(c, kinds[k], NULL, NULL, 0x7fffffff, &res);
        if (qs >= 0) {
            qs = take_rows(res, &out[k]);
        }
        PQclear(res);
    }
    if (qs >= 0) {
        enum db_qs end = db_exec_sql(c, "COMMIT");
        qs = end < 0 ? end : qs;
    } else {
        db_exec_sql(c, "ROLLBACK");
    }
    if (qs < 0) {
        free(*snapshot);
        *snapshot = NULL;
        for (size_t k = 0; k < READSNAP__N; k++) {
            readsnap_rows_uninit(&out[k]);
        }
    }
    return qs < 0 ? qs : DB_QS_ONE;
}

enum db_qs
readsnap_listen(struct db_conn *c)
{
    enum db_qs qs = db_exec_sql(c, "LISTEN skyvisor_desired");
    return qs < 0 ? qs : db_exec_sql(c, "LISTEN skyvisor_status");
}
