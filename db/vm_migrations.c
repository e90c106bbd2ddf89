/* vm_migrations.c: the statements of vm_migrations.h.  The representation
 * of a migration is built here, once. */
#include "db/vm_migrations.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "db/conn_internal.h"
#include "db/guard.h"
#include "db/resource_sql.h"

#define HOST_NAME(COL) "(SELECT name FROM host WHERE id = " COL ")"
#define CLOUD_NAME(COL)                                                       \
    "(SELECT c.name FROM host h JOIN cloud c ON c.id = h.cloud_id"            \
    " WHERE h.id = " COL ")"

#define MIG_JSON                                                              \
    "json_build_object('id', m.id,"                                           \
    " 'vm', (SELECT name FROM vm WHERE id = m.vm_id), 'vm_id', m.vm_id,"      \
    " 'from_host', " HOST_NAME("m.from_host_id") ","                         \
    " 'from_host_id', m.from_host_id,"                                        \
    " 'from_cloud', " CLOUD_NAME("m.from_host_id") ","                       \
    " 'to_host', " HOST_NAME("m.to_host_id") ", 'to_host_id', m.to_host_id,"  \
    " 'to_cloud', " CLOUD_NAME("m.to_host_id") ","                           \
    " 'target', m.target, 'phase', m.phase, 'phase_times', m.phase_times,"    \
    " 'counters', json_build_object('duplicated', m.duplicated,"              \
    "   'to_controller', m.to_controller, 'flows_cloned', m.flows_cloned),"   \
    " 'detail', m.detail, 'dual_timeout_s', m.dual_timeout_s,"                \
    " 'rollback_requested_at', m.rollback_requested_at,"                      \
    " 'activate_requested_at', m.activate_requested_at,"                      \
    " 'finished_at', m.finished_at, 'generation', m.generation,"              \
    " 'created_at', m.created_at, 'updated_at', m.updated_at)::text"
/* The list's order and cursor: creation time, then id. */
#define MIG_KEY "(to_char(m.created_at, 'YYYYMMDDHH24MISSUS') || '-' || m.id)"

static const struct db_stmt get = {
    "vm_migration_get",
    "SELECT " MIG_JSON ", m.revision, m.id FROM vm_migration m"
    " WHERE m.vm_id = $1::uuid AND m.id = $2::uuid", 3,
};
static const struct db_stmt list = {
    "vm_migration_list",
    "SELECT " MIG_JSON ", " MIG_KEY " FROM vm_migration m WHERE m.vm_id = $1::uuid"
    " AND ($2::text IS NULL OR " MIG_KEY " > $2) ORDER BY 2 LIMIT $3::int", 3,
};

const struct store_res store_vm_migrations = {"migration", &get, &list, NULL, NULL,
                                              NULL, NULL};

static const struct db_stmt stmt_insert = {
    "vm_migration_insert",
    "WITH v AS (UPDATE vm SET updated_at = now() WHERE id = $1::uuid"
    "   AND host_id = $2::uuid AND power = 'running'"
    "   RETURNING id, network_id, host_id)"
    " INSERT INTO vm_migration AS m (vm_id, network_id, target, from_host_id,"
    "  to_host_id, dual_timeout_s)"
    " SELECT v.id, v.network_id, $4::jsonb, v.host_id, $3::uuid,"
    "  coalesce($5::integer, 300) FROM v"
    " RETURNING " MIG_JSON ", m.revision, m.id", 5,
};
static const struct db_stmt stmt_request = {
    "vm_migration_request",
    "UPDATE vm_migration AS m SET"
    "  rollback_requested_at = CASE WHEN $4 = 'rollback'"
    "    THEN coalesce(m.rollback_requested_at, now()) ELSE m.rollback_requested_at END,"
    "  activate_requested_at = CASE WHEN $4 = 'activate'"
    "    THEN coalesce(m.activate_requested_at, now()) ELSE m.activate_requested_at END,"
    "  generation = m.generation + 1"
    " WHERE m.vm_id = $1::uuid AND m.id = $2::uuid AND m.phase = $3"
    "  AND m.phase IN ('prepare', 'clone', 'dual')"
    "  AND ($4 = 'rollback' OR m.rollback_requested_at IS NULL)"
    " RETURNING " MIG_JSON ", m.revision, m.id", 4,
};
static const struct db_stmt stmt_active = {
    "vm_migration_active",
    "SELECT m.id, m.vm_id, m.network_id, coalesce(m.from_host_id::text, ''),"
    "  coalesce(m.to_host_id::text, ''), m.phase,"
    "  extract(epoch FROM (m.phase_times ->> m.phase)::timestamptz)::float8,"
    "  m.rollback_requested_at IS NOT NULL, m.activate_requested_at IS NOT NULL,"
    "  m.phase = 'dual' AND now() >= (m.phase_times ->> 'dual')::timestamptz"
    "    + make_interval(secs => m.dual_timeout_s),"
    "  m.dual_timeout_s, m.generation, m.duplicated, m.to_controller, m.flows_cloned"
    " FROM vm_migration m WHERE m.finished_at IS NULL"
    "  AND ($1::text IS NULL OR m.phase = $1) ORDER BY m.created_at, m.id", 1,
};
/* One statement: the guarded move, and on entering activate the VM's move
 * to the target (a spec change of the VM). */
static const struct db_stmt stmt_advance = {
    "vm_migration_advance",
    "WITH m AS (UPDATE vm_migration SET phase = $3,"
    "   duplicated = CASE WHEN $4::bigint < 0 THEN duplicated ELSE $4::bigint END,"
    "   to_controller = CASE WHEN $5::bigint < 0 THEN to_controller"
    "     ELSE $5::bigint END,"
    "   flows_cloned = CASE WHEN $6::bigint < 0 THEN flows_cloned ELSE $6::bigint END,"
    "   detail = $7,"
    "   finished_at = CASE WHEN $3 IN ('done', 'rolled-back', 'failed') THEN now() END,"
    "   generation = generation + 1"
    "  WHERE id = $1::uuid AND phase = $2"
    "  RETURNING vm_id, to_host_id, target, phase),"
    " v AS (UPDATE vm SET host_id = m.to_host_id, placement = m.target, "
    SQL_SPEC_CHANGED
    "  FROM m WHERE vm.id = m.vm_id AND m.phase = 'activate' RETURNING vm.id)"
    " SELECT m.phase, (SELECT count(*) FROM v) FROM m", 7,
};
static const struct db_stmt stmt_counters = {
    "vm_migration_counters",
    "UPDATE vm_migration SET"
    "  duplicated = CASE WHEN $3::bigint < 0 THEN duplicated ELSE $3::bigint END,"
    "  to_controller = CASE WHEN $4::bigint < 0 THEN to_controller ELSE $4::bigint END,"
    "  flows_cloned = CASE WHEN $5::bigint < 0 THEN flows_cloned ELSE $5::bigint END"
    " WHERE id = $1::uuid AND phase = $2 AND finished_at IS NULL", 5,
};

enum db_qs
vm_migrations_insert(struct db_conn *c, const char *vm_id, const char *from_host_id,
                     const char *to_host_id, const char *target_json,
                     const char *dual_timeout_s, struct store_row *out)
{
    const char *params[] = {vm_id, from_host_id, to_host_id, target_json,
                            dual_timeout_s};
    PGresult *res;
    enum db_qs qs = db_exec(c, &stmt_insert, params, &res);
    return store_take_row(res, qs, out);
}

enum db_qs
vm_migrations_request(struct db_conn *c, const char *vm_id, const char *id,
                      enum vm_migrations_request_kind kind, enum vm_phase phase,
                      struct store_row *out)
{
    const char *params[] = {vm_id, id, vm_phase_name(phase),
                            kind == VM_MIGRATIONS_ROLLBACK ? "rollback" : "activate"};
    PGresult *res;
    enum db_qs qs = db_exec(c, &stmt_request, params, &res);
    return store_take_row(res, qs, out);
}

static void
copy_col(char *dst, size_t len, const PGresult *res, int row, int col)
{
    snprintf(dst, len, "%s", PQgetvalue(res, row, col));
}

static void
work_fill(void *elem, const PGresult *res, int i)
{
    struct vm_migrations_work *w = elem;
    copy_col(w->id, sizeof w->id, res, i, 0);
    copy_col(w->vm_id, sizeof w->vm_id, res, i, 1);
    copy_col(w->network_id, sizeof w->network_id, res, i, 2);
    copy_col(w->from_host_id, sizeof w->from_host_id, res, i, 3);
    copy_col(w->to_host_id, sizeof w->to_host_id, res, i, 4);
    w->phase = vm_phase_parse(PQgetvalue(res, i, 5));
    w->phase_since = atof(PQgetvalue(res, i, 6));
    w->rollback_requested = PQgetvalue(res, i, 7)[0] == 't';
    w->activate_requested = PQgetvalue(res, i, 8)[0] == 't';
    w->dual_expired = PQgetvalue(res, i, 9)[0] == 't';
    w->dual_timeout_s = (unsigned int) atoi(PQgetvalue(res, i, 10));
    w->generation = atoll(PQgetvalue(res, i, 11));
    w->duplicated = atoll(PQgetvalue(res, i, 12));
    w->to_controller = atoll(PQgetvalue(res, i, 13));
    w->flows_cloned = atoll(PQgetvalue(res, i, 14));
}

enum db_qs
vm_migrations_list_active(struct db_conn *c, enum vm_phase only,
                          struct vm_migrations_work **out, size_t *n)
{
    const char *params[] = {vm_phase_name(only)};
    void *rows;
    enum db_qs qs = db_exec_rows(c, &stmt_active, params, sizeof **out, work_fill,
                                 &rows, n);
    *out = rows;
    return qs;
}

/* The three counters as statement parameters. */
static void
counter_params(const struct vm_migrations_counters *k, char buf[3][24])
{
    const struct vm_migrations_counters keep = VM_MIGRATIONS_COUNTERS_KEEP;
    if (!k) {
        k = &keep;
    }
    snprintf(buf[0], 24, "%lld", k->duplicated);
    snprintf(buf[1], 24, "%lld", k->to_controller);
    snprintf(buf[2], 24, "%lld", k->flows_cloned);
}

enum db_qs
vm_migrations_advance(struct db_conn *c, const char *id, enum vm_phase from,
                      enum vm_phase to, const struct vm_migrations_counters *counters,
                      const char *detail)
{
    if (!vm_phase_move_ok(from, to)) {
        memset(&c->err, 0, sizeof c->err);
        snprintf(c->err.message, sizeof c->err.message, "a migration cannot move "
                 "from %s to %s", vm_phase_name(from) ? vm_phase_name(from) : "?",
                 vm_phase_name(to) ? vm_phase_name(to) : "?");
        return DB_QS_HARD;
    }
    char k[3][24];
    counter_params(counters, k);
    const char *params[] = {id, vm_phase_name(from), vm_phase_name(to), k[0], k[1],
                            k[2], detail};
    return guard_run(c, &stmt_advance, params, NULL);
}

enum db_qs
vm_migrations_finish(struct db_conn *c, const char *id, const char *detail)
{
    return vm_migrations_advance(c, id, VM_PHASE_CLEANUP, VM_PHASE_DONE, NULL, detail);
}

enum db_qs
vm_migrations_roll_back(struct db_conn *c, const char *id, enum vm_phase from,
                        const char *detail)
{
    return vm_migrations_advance(c, id, from, VM_PHASE_ROLLED_BACK, NULL, detail);
}

enum db_qs
vm_migrations_fail(struct db_conn *c, const char *id, enum vm_phase from,
                   const char *detail)
{
    return vm_migrations_advance(c, id, from, VM_PHASE_FAILED, NULL, detail);
}

enum db_qs
vm_migrations_record_counters(struct db_conn *c, const char *id, enum vm_phase phase,
                              const struct vm_migrations_counters *counters)
{
    char k[3][24];
    counter_params(counters, k);
    const char *params[] = {id, vm_phase_name(phase), k[0], k[1], k[2]};
    return guard_run(c, &stmt_counters, params, NULL);
}
