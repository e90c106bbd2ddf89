/* conn.c: one PostgreSQL connection, lazy statement preparation, execution
 * with error classification, the NOTIFY drain and the transaction runner.
 * See db.h, and conn_internal.h for what only db/ sees. */
#include "db/conn_internal.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/vlog.h"

#define TXN_MAX_ATTEMPTS 6
#define TEXTOID 25

static void
conn_set_error(struct db_conn *c, const PGresult *res)
{
    const char *v;
    memset(&c->err, 0, sizeof c->err);
    if (res) {
        if ((v = PQresultErrorField(res, PG_DIAG_SQLSTATE))) {
            snprintf(c->err.sqlstate, sizeof c->err.sqlstate, "%s", v);
        }
        if ((v = PQresultErrorField(res, PG_DIAG_CONSTRAINT_NAME))) {
            snprintf(c->err.constraint, sizeof c->err.constraint, "%s", v);
        }
        if ((v = PQresultErrorField(res, PG_DIAG_COLUMN_NAME))) {
            snprintf(c->err.column, sizeof c->err.column, "%s", v);
        }
        v = PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY);
        snprintf(c->err.message, sizeof c->err.message, "%s",
                 v ? v : PQresultErrorMessage(res));
    } else {
        snprintf(c->err.message, sizeof c->err.message, "%s",
                 c->pg ? PQerrorMessage(c->pg) : "no connection");
    }
    size_t n = strlen(c->err.message);
    while (n && (c->err.message[n - 1] == '\n' || c->err.message[n - 1] == ' ')) {
        c->err.message[--n] = '\0';
    }
}

static bool
conn_setup(struct db_conn *c)
{
    PGresult *res = PQexec(c->pg, "SET TimeZone = 'UTC'");
    bool ok = PQresultStatus(res) == PGRES_COMMAND_OK;
    if (!ok) {
        conn_set_error(c, res);
    }
    PQclear(res);
    c->n_prepared = 0;
    return ok;
}

struct db_conn *
db_conn_create(const char *conninfo)
{
    struct db_conn *c = calloc(1, sizeof *c);
    if (!c || !(c->conninfo = strdup(conninfo))) {
        free(c);
        return NULL;
    }
    c->pg = PQconnectdb(conninfo);
    if (PQstatus(c->pg) != CONNECTION_OK || !conn_setup(c)) {
        conn_set_error(c, NULL);
        vlog(VLOG_ERR, "db", "cannot connect to the database: %s", c->err.message);
        db_conn_destroy(c);
        return NULL;
    }
    return c;
}

void
db_conn_destroy(struct db_conn *c)
{
    if (!c) {
        return;
    }
    PQfinish(c->pg);
    free(c->prepared);
    free(c->conninfo);
    free(c);
}

bool
db_conn_set_actor(struct db_conn *c, const char *actor)
{
    c->actor[0] = '\0';
    if (!actor || !*actor) {
        return true;
    }
    size_t n = strlen(actor);
    if (n >= sizeof c->actor
        || strspn(actor, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
                         "0123456789:_./-") != n) {
        return false;
    }
    memcpy(c->actor, actor, n + 1);
    return true;
}

const struct db_error *
db_conn_error(const struct db_conn *c)
{
    return &c->err;
}

bool
db_conn_ensure(struct db_conn *c)
{
    if (PQstatus(c->pg) == CONNECTION_OK) {
        return true;
    }
    PQreset(c->pg);
    if (PQstatus(c->pg) != CONNECTION_OK) {
        conn_set_error(c, NULL);
        return false;
    }
    vlog(VLOG_INFO, "db", "reconnected to the database");
    return conn_setup(c);
}

int
db_conn_notifies(struct db_conn *c, bool read_socket)
{
    if (!c->pg || (read_socket && PQconsumeInput(c->pg) != 1)) {
        return -1;
    }
    int n = 0;
    PGnotify *note;
    while ((note = PQnotifies(c->pg))) {
        n++;
        PQfreemem(note);
    }
    return n;
}

int
db_conn_socket(const struct db_conn *c)
{
    return c->pg ? PQsocket(c->pg) : -1;
}

/* Classifies a failed result.  A lost connection is reset (forgetting its
 * prepared statements) and reported as retryable. */
static enum db_qs
conn_fail(struct db_conn *c, const PGresult *res)
{
    conn_set_error(c, res);
    if (PQstatus(c->pg) != CONNECTION_OK) {
        vlog(VLOG_WARN, "db", "connection lost: %s", c->err.message);
        c->n_prepared = 0;
        return db_conn_ensure(c) ? DB_QS_SOFT : DB_QS_HARD;
    }
    if (!strcmp(c->err.sqlstate, "40001") || !strcmp(c->err.sqlstate, "40P01")) {
        return DB_QS_SOFT;
    }
    return DB_QS_HARD;
}

static bool
conn_is_prepared(const struct db_conn *c, const struct db_stmt *s)
{
    for (size_t i = 0; i < c->n_prepared; i++) {
        if (c->prepared[i] == s) {
            return true;
        }
    }
    return false;
}

static enum db_qs
conn_prepare(struct db_conn *c, const struct db_stmt *s)
{
    static const Oid types[16] = {TEXTOID, TEXTOID, TEXTOID, TEXTOID,
                                  TEXTOID, TEXTOID, TEXTOID, TEXTOID,
                                  TEXTOID, TEXTOID, TEXTOID, TEXTOID,
                                  TEXTOID, TEXTOID, TEXTOID, TEXTOID};
    if (s->nparams > 16) {
        snprintf(c->err.message, sizeof c->err.message,
                 "statement %s has too many parameters", s->name);
        return DB_QS_HARD;
    }
    if (c->n_prepared == c->cap_prepared) {
        size_t cap = c->cap_prepared ? 2 * c->cap_prepared : 32;
        const struct db_stmt **p = realloc(c->prepared, cap * sizeof *p);
        if (!p) {
            return DB_QS_HARD;
        }
        c->prepared = p;
        c->cap_prepared = cap;
    }
    PGresult *res = PQprepare(c->pg, s->name, s->sql, s->nparams, types);
    if (PQresultStatus(res) != PGRES_COMMAND_OK) {
        enum db_qs qs = conn_fail(c, res);
        if (qs == DB_QS_HARD) {
            vlog(VLOG_ERR, "db", "cannot prepare %s: %s", s->name, c->err.message);
        }
        PQclear(res);
        return qs;
    }
    PQclear(res);
    c->prepared[c->n_prepared++] = s;
    return DB_QS_ONE;
}

/* True if 's' only reads: it starts with SELECT and names no data-changing
 * command (so a CTE that writes does not count).  Deliberately
 * conservative: a false "no" merely forgoes a retry. */
static bool
stmt_reads_only(const struct db_stmt *s)
{
    const char *sql = s->sql;
    while (*sql == ' ' || *sql == '\n') {
        sql++;
    }
    return !strncmp(sql, "SELECT", 6) && !strstr(sql, "INSERT")
           && !strstr(sql, "UPDATE") && !strstr(sql, "DELETE")
           && !strstr(sql, "nextval") && !strstr(sql, "pg_notify");
}

static enum db_qs exec_once(struct db_conn *, const struct db_stmt *,
                            const char *const *params, PGresult **resp);

static enum db_qs
exec_retrying(struct db_conn *c, const struct db_stmt *s, const char *const *params,
              PGresult **resp, bool idempotent)
{
    bool outside_txn = PQtransactionStatus(c->pg) == PQTRANS_IDLE;
    enum db_qs qs = exec_once(c, s, params, resp);
    if (qs == DB_QS_SOFT && outside_txn && PQstatus(c->pg) == CONNECTION_OK
        && strcmp(c->err.sqlstate, "40001") && strcmp(c->err.sqlstate, "40P01")
        && (idempotent || stmt_reads_only(s))) {
        /* The connection was lost and has been reset (conn_fail): a read
         * outside a transaction can simply run again. */
        vlog(VLOG_DEBUG, "db", "%s: retried on a fresh connection", s->name);
        qs = exec_once(c, s, params, resp);
    }
    return qs;
}

enum db_qs
db_exec(struct db_conn *c, const struct db_stmt *s, const char *const *params,
        PGresult **resp)
{
    return exec_retrying(c, s, params, resp, false);
}

enum db_qs
db_exec_idempotent(struct db_conn *c, const struct db_stmt *s,
                   const char *const *params, PGresult **resp)
{
    return exec_retrying(c, s, params, resp, true);
}

enum db_qs
db_exec_rows(struct db_conn *c, const struct db_stmt *s, const char *const *params,
             size_t size, db_row_fn *fill, void **out, size_t *n)
{
    PGresult *res;
    *out = NULL;
    *n = 0;
    enum db_qs qs = db_exec(c, s, params, &res);
    if (qs < 0) {
        return qs;
    }
    int rows = PQntuples(res);
    unsigned char *elems = rows ? calloc((size_t) rows, size) : NULL;
    if (rows && !elems) {
        PQclear(res);
        return DB_QS_HARD;
    }
    for (int i = 0; i < rows; i++) {
        fill(elems + (size_t) i * size, res, i);
    }
    PQclear(res);
    *out = elems;
    *n = (size_t) rows;
    return qs;
}

static enum db_qs
exec_once(struct db_conn *c, const struct db_stmt *s, const char *const *params,
          PGresult **resp)
{
    if (resp) {
        *resp = NULL;
    }
    if (!conn_is_prepared(c, s)) {
        enum db_qs qs = conn_prepare(c, s);
        if (qs != DB_QS_ONE) {
            return qs;
        }
    }
    PGresult *res = PQexecPrepared(c->pg, s->name, s->nparams, params, NULL,
                                   NULL, 0);
    ExecStatusType st = PQresultStatus(res);
    if (st != PGRES_TUPLES_OK && st != PGRES_COMMAND_OK) {
        enum db_qs qs = conn_fail(c, res);
        PQclear(res);
        return qs;
    }
    enum db_qs qs;
    if (st == PGRES_TUPLES_OK) {
        qs = PQntuples(res) > 0 ? DB_QS_ONE : DB_QS_NONE;
    } else {
        const char *n = PQcmdTuples(res);
        qs = (n[0] && strcmp(n, "0")) ? DB_QS_ONE : DB_QS_NONE;
    }
    if (resp) {
        *resp = res;
    } else {
        PQclear(res);
    }
    return qs;
}

enum db_qs
db_exec_sql(struct db_conn *c, const char *sql)
{
    PGresult *res = PQexec(c->pg, sql);
    ExecStatusType st = PQresultStatus(res);
    enum db_qs qs = DB_QS_ONE;
    if (st != PGRES_TUPLES_OK && st != PGRES_COMMAND_OK) {
        qs = conn_fail(c, res);
    }
    PQclear(res);
    return qs;
}

enum db_qs
db_savepoint(struct db_conn *c, enum db_savepoint_op op, unsigned int level)
{
    static const char *const verbs[] = {
        [DB_SP_SET] = "SAVEPOINT",
        [DB_SP_ROLLBACK] = "ROLLBACK TO SAVEPOINT",
        [DB_SP_RELEASE] = "RELEASE SAVEPOINT",
    };
    char sql[64];
    snprintf(sql, sizeof sql, "%s sv_%u", verbs[op], level);
    return db_exec_sql(c, sql);
}

static void
backoff_sleep(int attempt)
{
    struct timespec ts = {0, (long) (5 << attempt) * 1000000L};
    nanosleep(&ts, NULL);
}

/* COMMIT, classified as db.h says. */
static enum db_qs
txn_commit(struct db_conn *c)
{
    PGresult *res = PQexec(c->pg, "COMMIT");
    ExecStatusType st = PQresultStatus(res);
    enum db_qs qs;
    if (st == PGRES_COMMAND_OK && !strcmp(PQcmdStatus(res), "COMMIT")) {
        qs = DB_QS_ONE;
    } else if (st == PGRES_COMMAND_OK) {
        /* COMMIT of a transaction already aborted answers ROLLBACK. */
        memset(&c->err, 0, sizeof c->err);
        snprintf(c->err.sqlstate, sizeof c->err.sqlstate, "25P02");
        snprintf(c->err.message, sizeof c->err.message,
                 "the transaction was rolled back instead of committed");
        qs = DB_QS_HARD;
    } else if (PQstatus(c->pg) != CONNECTION_OK
               || !PQresultErrorField(res, PG_DIAG_SQLSTATE)
               || !strncmp(PQresultErrorField(res, PG_DIAG_SQLSTATE), "57", 2)
               || !strncmp(PQresultErrorField(res, PG_DIAG_SQLSTATE), "08", 2)) {
        /* The server went away, or is going away, while COMMIT ran. */
        conn_set_error(c, res);
        vlog(VLOG_WARN, "db", "connection lost during COMMIT: %s", c->err.message);
        c->err.outcome_unknown = true;
        c->n_prepared = 0;
        db_conn_ensure(c);
        qs = DB_QS_HARD;
    } else {
        qs = conn_fail(c, res);
    }
    PQclear(res);
    if (qs != DB_QS_ONE) {
        c->err.at_commit = true;
    }
    return qs;
}

enum db_qs
db_txn_run(struct db_conn *c, bool serializable, db_txn_fn *fn, void *ctx)
{
    char begin[256];
    int n = snprintf(begin, sizeof begin, "BEGIN%s",
                     serializable ? " ISOLATION LEVEL SERIALIZABLE" : "");
    if (c->actor[0]) {
        /* db_conn_set_actor admitted only characters that need no quoting. */
        snprintf(begin + n, sizeof begin - (size_t) n,
                 "; SET LOCAL skyvisor.actor = '%s'", c->actor);
    }
    for (int attempt = 0; attempt < TXN_MAX_ATTEMPTS; attempt++) {
        if (attempt) {
            backoff_sleep(attempt);
        }
        memset(&c->err, 0, sizeof c->err);
        if (!db_conn_ensure(c)) {
            return DB_QS_HARD;
        }
        enum db_qs qs = db_exec_sql(c, begin);
        if (qs == DB_QS_SOFT) {
            continue;
        }
        if (qs != DB_QS_ONE) {
            return qs;
        }
        qs = fn(c, ctx);
        if (qs == DB_QS_ONE) {
            qs = txn_commit(c);
            if (qs == DB_QS_ONE) {
                return DB_QS_ONE;
            }
        } else {
            struct db_error saved = c->err;
            if (PQstatus(c->pg) == CONNECTION_OK) {
                db_exec_sql(c, "ROLLBACK");
            }
            c->err = saved;
        }
        if (qs != DB_QS_SOFT) {
            return qs;
        }
        vlog(VLOG_DEBUG, "db", "transaction retry %d: %s", attempt + 1,
             c->err.message);
    }
    if (!c->err.message[0]) {
        /* fn asked for every retry itself (it kept losing a race with
         * concurrent writers): say so rather than report no reason. */
        snprintf(c->err.sqlstate, sizeof c->err.sqlstate, "40001");
        snprintf(c->err.message, sizeof c->err.message, "gave up after %d "
                 "attempts: concurrent writers kept changing the same rows",
                 TXN_MAX_ATTEMPTS);
    }
    return DB_QS_HARD;
}
