/* lifecycle_store.c: the reconciler's lifecycle store on PostgreSQL (see
 * lifecycle_store.h). */
#include "db/lifecycle_store.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "core/vlog.h"
#include "ctrl/recon_lifecycle.h"
#include "ctrl/recon_migration.h"
#include "db/db.h"
#include "db/snapshots.h"
#include "db/vm_migrations.h"
#include "db/vm_stats.h"

struct lifecycle_store {
    struct db_conn *conn;
    struct recon_life *life;
    struct recon_mig *mig;
};

#define MOD "reconciler"

/* 0 for a write done or one the guard refused (settled by another
 * writer, or its object deleted), EAGAIN otherwise (logged). */
static int
settled(struct lifecycle_store *s, enum db_qs qs, const char *what)
{
    if (qs >= 0) {
        return 0;
    }
    vlog(VLOG_WARN, MOD, "%s: %s", what, db_conn_error(s->conn)->message);
    return EAGAIN;
}

static int
ls_pending(void *aux, struct recon_life_request **out, size_t *n)
{
    struct lifecycle_store *s = aux;
    struct snapshots_pending *p = NULL;
    *out = NULL;
    *n = 0;
    if (!db_conn_ensure(s->conn)) {
        return EAGAIN;
    }
    size_t k = 0;
    if (snapshots_list_pending(s->conn, &p, &k) < 0) {
        return settled(s, DB_QS_HARD, "listing pending snapshots");
    }
    *out = calloc(k ? k : 1, sizeof **out);
    if (!*out) {
        free(p);
        return ENOMEM;
    }
    for (size_t i = 0; i < k; i++) {
        memcpy((*out)[i].id, p[i].id, sizeof p[i].id);
        memcpy((*out)[i].vm_id, p[i].vm_id, sizeof p[i].vm_id);
        (*out)[i].requested_at = p[i].requested_at;
    }
    *n = k;
    free(p);
    return 0;
}

static int
ls_captured(void *aux, const char *id, const char *content, double started_at,
            double finished_at, const char *times)
{
    struct lifecycle_store *s = aux;
    struct snapshots_capture cap = {content, started_at, finished_at, times};
    return settled(s, snapshots_record_capture(s->conn, id, &cap), "recording a snapshot");
}

static int
ls_failed(void *aux, const char *id, const char *detail)
{
    struct lifecycle_store *s = aux;
    return settled(s, snapshots_record_error(s->conn, id, detail),
                   "recording a snapshot's error");
}

static int
ls_samples(void *aux, json_t **out)
{
    struct lifecycle_store *s = aux;
    char *text = NULL;
    *out = NULL;
    if (!db_conn_ensure(s->conn)) {
        return EAGAIN;
    }
    if (vm_stats_samples(s->conn, &text) < 0) {
        return settled(s, DB_QS_HARD, "reading the VMs' counters");
    }
    *out = json_loads(text, 0, NULL);
    free(text);
    return *out ? 0 : EPROTO;
}

static int
ls_record(void *aux, const char *samples)
{
    struct lifecycle_store *s = aux;
    return settled(s, vm_stats_record_many(s->conn, samples), "recording the VMs' counters");
}

static int
ls_mig_active(void *aux, struct recon_mig_work **out, size_t *n)
{
    struct lifecycle_store *s = aux;
    struct vm_migrations_work *w = NULL;
    size_t k = 0;
    *out = NULL;
    *n = 0;
    if (!db_conn_ensure(s->conn)) {
        return EAGAIN;
    }
    if (vm_migrations_list_active(s->conn, VM_PHASE__N, &w, &k) < 0) {
        return settled(s, DB_QS_HARD, "listing migrations");
    }
    *out = calloc(k ? k : 1, sizeof **out);
    if (!*out) {
        free(w);
        return ENOMEM;
    }
    for (size_t i = 0; i < k; i++) {
        struct recon_mig_work *o = &(*out)[i];
        snprintf(o->id, sizeof o->id, "%s", w[i].id);
        snprintf(o->vm_id, sizeof o->vm_id, "%s", w[i].vm_id);
        snprintf(o->from_host_id, sizeof o->from_host_id, "%s", w[i].from_host_id);
        snprintf(o->to_host_id, sizeof o->to_host_id, "%s", w[i].to_host_id);
        o->phase = w[i].phase;
        o->phase_since = w[i].phase_since;
        o->rollback_requested = w[i].rollback_requested;
        o->activate_requested = w[i].activate_requested;
        o->dual_expired = w[i].dual_expired;
        o->dual_timeout_s = w[i].dual_timeout_s;
    }
    *n = k;
    free(w);
    return 0;
}

static int
ls_mig_move(void *aux, const char *id, enum vm_phase from, enum vm_phase to,
            const struct recon_mig_counters *c, const char *detail)
{
    struct lifecycle_store *s = aux;
    if (!db_conn_ensure(s->conn)) {
        return EAGAIN;
    }
    enum db_qs qs;
    if (to == VM_PHASE_ROLLED_BACK) {
        qs = vm_migrations_roll_back(s->conn, id, from, detail);
    } else if (to == VM_PHASE_FAILED) {
        qs = vm_migrations_fail(s->conn, id, from, detail);
    } else {
        struct vm_migrations_counters k = VM_MIGRATIONS_COUNTERS_KEEP;
        if (c) {
            k = (struct vm_migrations_counters) {c->duplicated, c->to_controller,
                                                 c->flows_cloned};
        }
        qs = vm_migrations_advance(s->conn, id, from, to, &k, detail);
    }
    if (qs == DB_QS_NONE) {
        return ESTALE;
    }
    return settled(s, qs, "moving a migration");
}

static int
ls_mig_record(void *aux, const char *id, enum vm_phase phase,
              const struct recon_mig_counters *c)
{
    struct lifecycle_store *s = aux;
    if (!db_conn_ensure(s->conn)) {
        return EAGAIN;
    }
    struct vm_migrations_counters k = {c->duplicated, c->to_controller, c->flows_cloned};
    enum db_qs qs = vm_migrations_record_counters(s->conn, id, phase, &k);
    return qs == DB_QS_NONE ? ESTALE : settled(s, qs, "recording a migration's counters");
}

struct lifecycle_store *
lifecycle_store_start(const char *conninfo, struct reconciler *r, unsigned int drain_ms)
{
    static const struct recon_life_store store = {
        .pending = ls_pending, .captured = ls_captured, .failed = ls_failed,
        .samples = ls_samples, .record = ls_record,
    };
    static const struct recon_mig_store mig_store = {
        .active = ls_mig_active, .move = ls_mig_move, .record = ls_mig_record,
    };
    struct lifecycle_store *s = calloc(1, sizeof *s);
    if (!s || !(s->conn = db_conn_create(conninfo))
        || !(s->life = recon_life_create(&store, s))
        || !(s->mig = recon_mig_create(&mig_store, s, drain_ms))) {
        vlog(VLOG_ERR, MOD, "cannot start the lifecycle store");
        lifecycle_store_stop(s);
        return NULL;
    }
    reconciler_attach_lifecycle(r, s->life);
    reconciler_attach_migrations(r, s->mig);
    return s;
}

void
lifecycle_store_stop(struct lifecycle_store *s)
{
    if (s) {
        recon_mig_destroy(s->mig);
        recon_life_destroy(s->life);
        db_conn_destroy(s->conn);
        free(s);
    }
}
