/* changelog.c: the change log's statements (see changelog.h and
 * migrations/005_change_log.sql): its read, alone or with the VMs it
 * names (their columns and reading are state.c's, db/state_internal.h),
 * the position of a transaction, and pruning. */
#include "db/changelog.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "db/conn_internal.h"
#include "db/state_internal.h"

/* One statement, one snapshot: pg_current_snapshot() is the snapshot the
 * statement reads change_log with, so the rows returned are exactly those
 * the next watermark sees and the previous one did not. */
#define READ_SQL(more_cols, more_from)                                        \
    "WITH s AS (SELECT pg_current_snapshot() AS now, $1::pg_snapshot AS w,"   \
    "  (SELECT bound FROM change_log_horizon) AS horizon)"                    \
    " SELECT s.now::text,"                                                    \
    "  s.w IS NULL OR pg_snapshot_xmin(s.w) <= s.horizon AS reload,"          \
    "  c.seq, c.kind, c.object_id::text, c.network_id::text, c.op" more_cols  \
    " FROM s LEFT JOIN change_log c ON s.w IS NOT NULL"                       \
    "  AND pg_snapshot_xmin(s.w) > s.horizon"                                 \
    "  AND c.xid >= pg_snapshot_xmin(s.w)"                                    \
    "  AND NOT pg_visible_in_snapshot(c.xid, s.w)" more_from                  \
    " ORDER BY c.seq"
#define LOG_COLS 7
static const struct db_stmt stmt_read = {"changelog_read", READ_SQL("", ""), 1};
/* The same, each VM entry beside its VM's row as that snapshot has it
 * (NULLs when the VM is gone or out of the model). */
static const struct db_stmt stmt_read_vms = {
    "changelog_read_vms",
    READ_SQL(", v.*", " LEFT JOIN LATERAL (SELECT " STATE_VM_COLS " FROM vm"
             " WHERE c.kind = 'vm' AND vm.id = c.object_id AND " STATE_VM_IN_MODEL
             ") v ON true"),
    1,
};

static const struct db_stmt stmt_prune = {
    "changelog_prune",
    "WITH h AS (SELECT max(xid) AS x FROM change_log"
    "   WHERE at < now() - make_interval(secs => $1::integer)),"
    " d AS (DELETE FROM change_log c USING h WHERE c.xid <= h.x RETURNING 1),"
    " u AS (UPDATE change_log_horizon SET bound = h.x FROM h"
    "   WHERE h.x IS NOT NULL AND h.x > change_log_horizon.bound RETURNING 1)"
    " SELECT (SELECT count(*) FROM d), (SELECT count(*) FROM u)",
    1,
};

static const struct db_stmt stmt_position = {
    "changelog_position", "SELECT pg_current_xact_id()::text", 0,
};

enum db_qs
changelog_position(struct db_conn *c, char out[24])
{
    PGresult *res;
    enum db_qs qs = db_exec(c, &stmt_position, NULL, &res);
    if (qs == DB_QS_ONE) {
        snprintf(out, 24, "%s", PQgetvalue(res, 0, 0));
    }
    PQclear(res);
    return qs == DB_QS_NONE ? DB_QS_HARD : qs;
}

static enum changelog_op
parse_op(const char *s)
{
    return s[0] == 'c' ? CHANGELOG_CREATE
           : s[0] == 'd' ? CHANGELOG_DELETE : CHANGELOG_UPDATE;
}

static int
cmp_vm_id(const void *a, const void *b)
{
    return strcmp(((const struct nm_vm *) a)->o.id, ((const struct nm_vm *) b)->o.id);
}

/* The VM rows beside the log's rows of 'res' (columns LOG_COLS..), each
 * VM once, sorted by id, into out->vms. */
static bool
read_vm_rows(const PGresult *res, const struct netmodel *cur, struct changelog_batch *out)
{
    int rows = PQntuples(res);
    out->vms = calloc(rows ? (size_t) rows : 1, sizeof *out->vms);
    if (!out->vms) {
        return false;
    }
    for (int i = 0; i < rows; i++) {
        if (!PQgetisnull(res, i, LOG_COLS)) {
            struct nm_vm *v = &out->vms[out->n_vms++];
            out->vms_unresolved |= !state_read_vm_row(res, i, LOG_COLS, cur, v);
        }
    }
    qsort(out->vms, out->n_vms, sizeof *out->vms, cmp_vm_id);
    size_t w = 0;
    for (size_t i = 0; i < out->n_vms; i++) {
        if (w && !strcmp(out->vms[w - 1].o.id, out->vms[i].o.id)) {
            free(out->vms[i].o.detail);     /* the same row, read again */
        } else {
            out->vms[w++] = out->vms[i];
        }
    }
    out->n_vms = w;
    return true;
}

static enum db_qs
read_batch(struct db_conn *c, const char *watermark, const struct netmodel *cur,
           struct changelog_batch *out)
{
    memset(out, 0, sizeof *out);
    const char *params[] = {watermark};
    PGresult *res;
    enum db_qs qs = db_exec_idempotent(c, cur ? &stmt_read_vms : &stmt_read, params, &res);
    if (qs != DB_QS_ONE) {
        PQclear(res);
        return qs < 0 ? qs : DB_QS_HARD;    /* the statement always has a row */
    }
    if (cur && (PQnfields(res) != LOG_COLS + STATE_VM_NCOLS
                || !read_vm_rows(res, cur, out))) {
        PQclear(res);
        changelog_batch_uninit(out);
        return DB_QS_HARD;
    }
    int rows = PQntuples(res);
    out->watermark = strdup(PQgetvalue(res, 0, 0));
    out->reload = PQgetvalue(res, 0, 1)[0] == 't';
    bool any = !PQgetisnull(res, 0, 2);
    out->entries = any ? calloc((size_t) rows, sizeof *out->entries) : NULL;
    if (!out->watermark || (any && !out->entries)) {
        PQclear(res);
        changelog_batch_uninit(out);
        return DB_QS_HARD;
    }
    for (int i = 0; any && i < rows; i++) {
        struct changelog_entry *e = &out->entries[out->n++];
        e->seq = atoll(PQgetvalue(res, i, 2));
        snprintf(e->kind, sizeof e->kind, "%s", PQgetvalue(res, i, 3));
        snprintf(e->object_id, sizeof e->object_id, "%s", PQgetvalue(res, i, 4));
        snprintf(e->network_id, sizeof e->network_id, "%s", PQgetvalue(res, i, 5));
        e->op = parse_op(PQgetvalue(res, i, 6));
    }
    PQclear(res);
    return DB_QS_ONE;
}

enum db_qs
changelog_read(struct db_conn *c, const char *watermark, struct changelog_batch *out)
{
    return read_batch(c, watermark, NULL, out);
}

enum db_qs
changelog_read_vms(struct db_conn *c, const char *watermark, const struct netmodel *cur,
                   struct changelog_batch *out)
{
    return read_batch(c, watermark, cur, out);
}

void
changelog_batch_uninit(struct changelog_batch *b)
{
    for (size_t i = 0; i < b->n_vms; i++) {
        free(b->vms[i].o.detail);
    }
    free(b->vms);
    free(b->entries);
    free(b->watermark);
    memset(b, 0, sizeof *b);
}

enum db_qs
changelog_prune(struct db_conn *c, unsigned int keep_seconds, long long *n)
{
    char keep[16];
    snprintf(keep, sizeof keep, "%u", keep_seconds);
    const char *params[] = {keep};
    PGresult *res;
    enum db_qs qs = db_exec(c, &stmt_prune, params, &res);
    *n = qs == DB_QS_ONE ? atoll(PQgetvalue(res, 0, 0)) : 0;
    PQclear(res);
    return qs < 0 ? qs : DB_QS_ONE;
}
