/* guard.h: one guarded write in a transaction of its own.
 *
 * The reconciler's writes of db/snapshots.c and db/vm_migrations.c each
 * change one row only if it is still as the caller read it (a state, a
 * phase): the guard is in the statement's WHERE clause.  guard_run runs
 * such a statement through db_txn_run (BEGIN, the statement, COMMIT,
 * retried on serialization failures and lost connections), so the change
 * commits entirely or not at all, and a COMMIT whose answer was lost is
 * reported as such (db.h), never as done. */
#ifndef SKYVISOR_DB_GUARD_H
#define SKYVISOR_DB_GUARD_H

#include "db/conn_internal.h"

/* Runs 'stmt' with 'params' in its own transaction.  DB_QS_ONE when it
 * returned or changed a row (committed), DB_QS_NONE when the guard held
 * nothing (rolled back, nothing changed), or an error.  With 'res' not
 * NULL, *res receives the statement's result on DB_QS_ONE (the caller
 * PQclears it), NULL otherwise. */
enum db_qs guard_run(struct db_conn *, const struct db_stmt *stmt,
                     const char *const *params, PGresult **res);

#endif
