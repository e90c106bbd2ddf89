/* guard.c: guard_run (see guard.h). */
#include "db/guard.h"

#include <stddef.h>

struct guard_call {
    const struct db_stmt *stmt;
    const char *const *params;
    PGresult *res;
};

static enum db_qs
guard_txn(struct db_conn *c, void *arg)
{
    struct guard_call *g = arg;
    PQclear(g->res);
    g->res = NULL;
    return db_exec(c, g->stmt, g->params, &g->res);
}

enum db_qs
guard_run(struct db_conn *c, const struct db_stmt *stmt, const char *const *params,
          PGresult **res)
{
    struct guard_call g = {stmt, params, NULL};
    enum db_qs qs = db_txn_run(c, false, guard_txn, &g);
    if (qs == DB_QS_ONE && res) {
        *res = g.res;
    } else {
        PQclear(g.res);
        if (res) {
            *res = NULL;
        }
    }
    return qs;
}
