/* conn_internal.h: the libpq side of db.h, for db/'s own files only.
 *
 * libpq stays inside db/: no header that api/, ctrl/ or a test includes
 * includes this one, so no code outside db/ sees a PGconn, a PGresult or
 * the inside of a struct db_conn.  What db/ answers to the rest of the
 * program is typed: a status (enum db_qs), a struct store_row or
 * struct store_items (db/store.h), a struct of its own (db/state.h,
 * db/instances.h, ...) or malloc'ed JSON text.  The files of db/ that run
 * statements include this header; those that only use other db/ files
 * (the stores of the reconciler and the agent, the lease keeper) include
 * db.h like any caller.
 *
 * Invariants of struct db_conn: 'prepared' lists the statements prepared on
 * 'pg' since it was last (re)established (conn.c empties it on a reset);
 * 'err' describes the last failure only (it is not cleared by a success);
 * 'actor' is "" or matches db_conn_set_actor's rule. */
#ifndef SKYVISOR_DB_CONN_INTERNAL_H
#define SKYVISOR_DB_CONN_INTERNAL_H

#include <libpq-fe.h>

#include "db/db.h"

struct db_conn {
    PGconn *pg;
    char *conninfo;
    const struct db_stmt **prepared;   /* statements prepared on 'pg' */
    size_t n_prepared, cap_prepared;
    struct db_error err;
    char actor[128];        /* see "Actor" in db.h; "" for none */
};

/* Runs 'stmt' with 'params' (stmt->nparams text values, NULL = SQL NULL).
 * On DB_QS_ONE/DB_QS_NONE, *res (if 'res' is non-NULL) receives the result,
 * owned by the caller (PQclear); otherwise *res is NULL. */
enum db_qs db_exec(struct db_conn *, const struct db_stmt *stmt,
                   const char *const *params, PGresult **res);
/* db_exec for a statement whose repetition has no further effect (a read
 * that also stamps a last-used time, say), which may therefore be retried
 * outside a transaction like a read. */
enum db_qs db_exec_idempotent(struct db_conn *, const struct db_stmt *stmt,
                              const char *const *params, PGresult **res);
/* db_exec for a statement that answers rows of one kind: fill() copies row
 * 'row' of 'res' into 'elem', one element of 'size' bytes of an array
 * calloc'ed for all the rows.  On success *out is that array (NULL when
 * there are no rows), owned by the caller (free), and *n its length; on
 * failure *out is NULL and *n 0. */
typedef void db_row_fn(void *elem, const PGresult *res, int row);
enum db_qs db_exec_rows(struct db_conn *, const struct db_stmt *stmt,
                        const char *const *params, size_t size, db_row_fn *fill,
                        void **out, size_t *n);
/* Runs unprepared SQL without parameters (migrations, BEGIN/COMMIT). */
enum db_qs db_exec_sql(struct db_conn *, const char *sql);

/* Convenience accessors for a result row. */
static inline const char *
db_val(const PGresult *res, int row, int col)
{
    return PQgetisnull(res, row, col) ? NULL : PQgetvalue(res, row, col);
}

/* Copying answers into db/store.h's rows (store.c), for the statements of
 * other files that answer like a resource's get or list.  Both always
 * PQclear 'res' and return qs (DB_QS_HARD when memory runs out):
 * store_take_row copies (json, revision, id) of row 0 into 'out' when qs
 * is DB_QS_ONE; store_take_items copies every row (json, key[, revision,
 * id]) into 'out' (zeroed by the caller; left empty on failure) when qs is
 * not an error. */
struct store_row;
struct store_items;
enum db_qs store_take_row(PGresult *res, enum db_qs qs, struct store_row *out);
enum db_qs store_take_items(PGresult *res, enum db_qs qs, struct store_items *out);

#endif
