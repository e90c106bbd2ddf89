/* migrate.c: see migrate.h.
 *
 * Invariant: schema_migration holds one row per applied migration, inserted
 * in the same transaction as the migration itself, so a crash leaves the
 * database either before or after a migration, never half-way. */
#include "db/migrate.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/vlog.h"
#include "db/conn_internal.h"

#define MIGRATE_LOCK_KEY "7398421"   /* pg_advisory_lock key */

static const struct db_stmt stmt_create_table = {
    "migrate_create_table",
    "CREATE TABLE IF NOT EXISTS schema_migration ("
    " version integer PRIMARY KEY,"
    " name text NOT NULL,"
    " applied_at timestamptz NOT NULL DEFAULT now())",
    0,
};
static const struct db_stmt stmt_lock = {
    "migrate_lock", "SELECT pg_advisory_lock(" MIGRATE_LOCK_KEY ")", 0,
};
static const struct db_stmt stmt_unlock = {
    "migrate_unlock", "SELECT pg_advisory_unlock(" MIGRATE_LOCK_KEY ")", 0,
};
static const struct db_stmt stmt_current = {
    "migrate_current",
    "SELECT coalesce(max(version), 0), "
    " (SELECT name FROM schema_migration ORDER BY version DESC LIMIT 1)"
    " FROM schema_migration",
    0,
};
static const struct db_stmt stmt_applied = {
    "migrate_applied",
    "SELECT 1 FROM schema_migration WHERE version = $1::integer", 1,
};
static const struct db_stmt stmt_record = {
    "migrate_record",
    "INSERT INTO schema_migration (version, name) VALUES ($1::integer, $2)",
    2,
};

/* "001_init.sql" -> 1; -1 when the name does not start with digits and '_'. */
static int
migration_version(const char *name)
{
    int v = 0;
    size_t i = 0;
    for (; name[i] >= '0' && name[i] <= '9' && i < 6; i++) {
        v = v * 10 + (name[i] - '0');
    }
    return (i > 0 && name[i] == '_' && v > 0) ? v : -1;
}

struct migrate_step {
    const struct embed_file *file;
    int version;
};

static enum db_qs
migrate_step_txn(struct db_conn *c, void *ctx_)
{
    const struct migrate_step *step = ctx_;
    enum db_qs qs = db_exec_sql(c, step->file->data);
    if (qs != DB_QS_ONE) {
        return qs;
    }
    char version[16];
    snprintf(version, sizeof version, "%d", step->version);
    const char *params[] = {version, step->file->name};
    qs = db_exec(c, &stmt_record, params, NULL);
    return qs == DB_QS_NONE ? DB_QS_HARD : qs;
}

static int
migrate_locked(struct db_conn *c, const struct embed_file *files, size_t n,
               char *err, size_t errlen)
{
    PGresult *res;
    if (db_exec(c, &stmt_create_table, NULL, NULL) < 0
        || db_exec(c, &stmt_current, NULL, &res) != DB_QS_ONE) {
        snprintf(err, errlen, "cannot read schema_migration: %s", c->err.message);
        return EIO;
    }
    int current = atoi(PQgetvalue(res, 0, 0));
    char current_name[128];
    snprintf(current_name, sizeof current_name, "%s",
             db_val(res, 0, 1) ? db_val(res, 0, 1) : "none");
    PQclear(res);

    int newest = 0, prev = 0;
    for (size_t i = 0; i < n; i++) {
        int v = migration_version(files[i].name);
        if (v <= prev) {
            snprintf(err, errlen, "migration %s: name must be NNN_name.sql, "
                     "numbered in increasing order", files[i].name);
            return EINVAL;
        }
        prev = newest = v;
    }
    if (current > newest) {
        snprintf(err, errlen, "the database schema is at version %d (%s), newer "
                 "than this skyvisord, which knows up to version %d; run a newer "
                 "skyvisord", current, current_name, newest);
        return EPROTO;
    }
    for (size_t i = 0; i < n; i++) {
        struct migrate_step step = {&files[i], migration_version(files[i].name)};
        if (step.version <= current) {
            /* Numbers are handed out ahead of landing: one below the newest
             * applied may have landed after it.  Apply it if it is not
             * recorded. */
            char version[16];
            snprintf(version, sizeof version, "%d", step.version);
            const char *params[] = {version};
            enum db_qs qs = db_exec(c, &stmt_applied, params, NULL);
            if (qs < 0) {
                snprintf(err, errlen, "cannot read schema_migration: %s",
                         c->err.message);
                return EIO;
            }
            if (qs == DB_QS_ONE) {
                continue;
            }
        }
        if (db_txn_run(c, false, migrate_step_txn, &step) != DB_QS_ONE) {
            snprintf(err, errlen, "migration %s failed: %s", files[i].name,
                     c->err.message);
            return EIO;
        }
        vlog(VLOG_INFO, "db", "applied migration %s", files[i].name);
    }
    return 0;
}

int
migrate_apply(struct db_conn *c, const struct embed_file *files, size_t n,
              char *err, size_t errlen)
{
    if (db_exec(c, &stmt_lock, NULL, NULL) < 0) {
        snprintf(err, errlen, "cannot take the migration lock: %s", c->err.message);
        return EIO;
    }
    int error = migrate_locked(c, files, n, err, errlen);
    db_exec(c, &stmt_unlock, NULL, NULL);
    return error;
}
