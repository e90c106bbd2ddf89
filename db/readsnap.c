/* readsnap.c: the reads of the API's read snapshot (readsnap.h). */
#include "db/readsnap.h"

#include <stdlib.h>
#include <string.h>

#include "db/conn_internal.h"
#include "db/store.h"

static const struct db_stmt stmt_snapshot = {
    "readsnap_snapshot", "SELECT pg_current_snapshot()::text", 0,
};

static const struct store_res *const kinds[READSNAP__N] = {
    [READSNAP_CLOUDS] = &store_clouds,
    [READSNAP_HOSTS] = &store_hosts,
    [READSNAP_TENANTS] = &store_tenants,
};

enum db_qs
readsnap_load(struct db_conn *c, char **snapshot, struct store_items out[READSNAP__N])
{
    *snapshot = NULL;
    enum db_qs qs = db_exec_sql(c, "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY");
    PGresult *res = NULL;
    if (qs >= 0 && (qs = db_exec(c, &stmt_snapshot, NULL, &res)) == DB_QS_ONE
        && !(*snapshot = strdup(PQgetvalue(res, 0, 0)))) {
        qs = DB_QS_HARD;
    }
    PQclear(res);
    /* A kind with no rows answers DB_QS_NONE: the next kinds are read
     * all the same. */
    for (size_t k = 0; k < READSNAP__N && qs >= 0; k++) {
        enum db_qs lq = store_list(c, kinds[k], NULL, NULL, 0x7fffffff, &out[k]);
        qs = lq < 0 ? lq : qs;
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
            store_items_uninit(&out[k]);
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
