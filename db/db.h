/* db.h: connections, statements and transactions.
 *
 * Every SQL statement of skyvisor is a `struct db_stmt` defined in a db/
 * file and run there (db/conn_internal.h: db_exec and the connection's
 * insides); outside db/ a connection is an opaque handle that db/'s
 * functions take, and no libpq type is seen.  A statement is prepared
 * lazily, once per connection, the first time it runs there (the set of
 * prepared statements is forgotten when the connection is reset).  All
 * parameters are passed as text and cast in SQL, so a statement may leave
 * some of its declared parameters unused.
 *
 * Status: every call returns an `enum db_qs`:
 *   DB_QS_HARD  a hard error (constraint violation, bad SQL, server down);
 *               details in db_conn_error(conn);
 *   DB_QS_SOFT  retryable: serialization failure, deadlock, or a connection
 *               that was lost and has been reset (the transaction is gone);
 *   DB_QS_NONE  success, no row;
 *   DB_QS_ONE   success, one row (or more, for statements that return sets).
 *
 * Transactions: db_txn_run(conn, fn, ctx) runs BEGIN; fn; COMMIT, retrying
 * the whole thing on DB_QS_SOFT (with backoff, a bounded number of times).
 * fn returns DB_QS_ONE to commit, DB_QS_NONE to roll back on purpose (an
 * application-level refusal it recorded in ctx), or an error to roll back.
 * Only a COMMIT that PostgreSQL answered with "COMMIT" is a success: a
 * COMMIT refused (a deferred constraint or trigger) is DB_QS_HARD with
 * err.at_commit set; a COMMIT whose answer never arrived (the connection
 * broke while it was in flight) is DB_QS_HARD with err.at_commit and
 * err.outcome_unknown set, and is never retried, since the transaction may
 * have committed.  A serialization failure at COMMIT is retried like any
 * other (the server rolled the transaction back).  Whatever fn wrote into
 * ctx on an attempt that did not commit describes a change that did not
 * happen: callers must not report it.
 *
 * Actor: when the connection has an actor, every transaction runs
 * `SET LOCAL skyvisor.actor = '<actor>'` right after BEGIN (in the same
 * round trip), for the audit triggers; the actor must match
 * [A-Za-z0-9:_./-]{1,127} (db_conn_set_actor checks it).
 *
 * Statements outside a transaction block: a read-only statement (SQL that
 * starts with SELECT and does not modify anything), or one run with
 * db_exec_idempotent, that fails because the connection was lost is run
 * once more on the reset connection, so a connection left stale by a database
 * restart costs no error; anything else is reported as DB_QS_SOFT for the
 * caller to decide.
 *
 * Threads: a db_conn is used by one thread at a time; db_pool hands them out.
 */
#ifndef SKYVISOR_DB_DB_H
#define SKYVISOR_DB_DB_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum db_qs {
    DB_QS_HARD = -2,
    DB_QS_SOFT = -1,
    DB_QS_NONE = 0,
    DB_QS_ONE = 1,
};

struct db_stmt {
    const char *name;   /* unique prepared-statement name */
    const char *sql;
    int nparams;
};

/* The last error on a connection. */
struct db_error {
    char sqlstate[6];       /* "" when not a server error */
    char constraint[64];    /* violated constraint, if any */
    char column[64];        /* column of a not-null violation, if any */
    char message[256];
    bool at_commit;         /* the failure was the answer to COMMIT */
    bool outcome_unknown;   /* ... which never arrived: may have committed */
};

/* One connection, opaque outside db/ (its libpq side is db/'s alone:
 * db/conn_internal.h). */
struct db_conn;

/* Connects to 'conninfo' (a libpq URL or key=value string), sets the
 * session time zone to UTC.  Returns NULL and logs on failure.  The caller
 * owns the result (db_conn_destroy). */
struct db_conn *db_conn_create(const char *conninfo);
void db_conn_destroy(struct db_conn *);
/* Re-establishes a broken connection; true if it is usable afterwards. */
bool db_conn_ensure(struct db_conn *);
/* Sets (or with NULL or "" clears) the actor recorded by the transactions
 * of this connection.  Returns false, leaving the actor cleared, when
 * 'actor' is not of the allowed form. */
bool db_conn_set_actor(struct db_conn *, const char *actor);
/* The last error on the connection (borrowed: valid until its next call). */
const struct db_error *db_conn_error(const struct db_conn *);

/* Notifications (LISTEN/NOTIFY).  A connection that LISTENs learns of a
 * NOTIFY two ways: the socket becomes readable while it is idle, or libpq
 * reads the notification while a query of its own runs and keeps it in a
 * queue, and then the socket does not become readable for it again.  So a
 * listener drains after every query it runs, not only when its poll says
 * the socket is readable.  db_conn_notifies is that drain, the only one:
 * with 'read_socket' (the poll said readable) it first reads what the
 * socket holds, then consumes every queued notification.  It returns how
 * many it consumed (channels and payloads are dropped: a notification only
 * says "read again"), or -1 when reading the socket failed or there is no
 * connection (notifications may have been lost since).
 * db_conn_socket: the socket to poll for them, -1 when there is none. */
int db_conn_notifies(struct db_conn *, bool read_socket);
int db_conn_socket(const struct db_conn *);

typedef enum db_qs db_txn_fn(struct db_conn *, void *ctx);
/* See the file comment.  'serializable' selects SERIALIZABLE isolation
 * instead of READ COMMITTED. */
enum db_qs db_txn_run(struct db_conn *, bool serializable, db_txn_fn *fn,
                      void *ctx);

/* Savepoints inside fn's transaction, named by a nesting level: sets one,
 * rolls back to it (undoing what followed, a failed statement included, so
 * the transaction goes on), or releases it. */
enum db_savepoint_op { DB_SP_SET, DB_SP_ROLLBACK, DB_SP_RELEASE };
enum db_qs db_savepoint(struct db_conn *, enum db_savepoint_op, unsigned int level);

/* Connection pool: a fixed number of connections, handed out one thread at
 * a time. */
struct db_pool;
struct db_pool_stats {
    unsigned int size;
    unsigned int in_use;
    unsigned long long acquired;    /* total checkouts */
    unsigned long long waited;      /* checkouts that had to wait */
    unsigned long long timeouts;    /* checkouts that gave up */
};
/* Opens 'size' connections to 'conninfo'.  Returns NULL if any fails. */
struct db_pool *db_pool_create(const char *conninfo, unsigned int size);
void db_pool_destroy(struct db_pool *);
/* Borrows a connection, waiting up to 'timeout_ms'.  Returns NULL on
 * timeout.  The connection is checked (and reset if broken) before it is
 * handed out, but may still be unusable if the server is down. */
struct db_conn *db_pool_get(struct db_pool *, unsigned int timeout_ms);
void db_pool_put(struct db_pool *, struct db_conn *);
void db_pool_get_stats(struct db_pool *, struct db_pool_stats *);

#endif
