/* recon_migration.c: the moves of live migrations between phases, on the
 * reconciler thread (design in recon_migration.h).
 *
 * State: the store; per VM, the frames its clone sent to the controller
 * (written by the loop thread under 'mu'); per migration, timers of this
 * process (struct mig_timer): when its phase was first seen confirmed (the
 * drain waits count from it), since when its target is unusable, when its
 * copies are next counted.  The phases themselves live in the database and
 * the model only, so a restarted process starts its timers afresh. */
#include "ctrl/recon_migration.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/failpoint.h"
#include "core/netmodel.h"
#include "core/vlog.h"
#include "ctrl/ofmsg.h"
#include "ctrl/ovsdb.h"
#include "ctrl/recon_internal.h"

/* A target bridge that is not connected when a migration is asked for may
 * come up for this long before the migration rolls back. */
#define PREPARE_WAIT_S 10.0
/* A target bridge that goes unusable during clone or dual (or is not
 * connected yet after a restart) rolls the migration back once it has
 * stayed so for this long. */
#define TARGET_WAIT_US 3000000LL
/* While a migration is active, a pass at least this often. */
#define POLL_US 100000LL
/* The dump of the target's flows at activation waits at most this long. */
#define DUMP_TIMEOUT_MS 2000
/* During dual, the copies are counted and recorded this often. */
#define COUNT_EVERY_US 1000000LL

struct mig_frames {
    char vm_id[40];
    long long n;                    /* frames at its second place */
};

struct mig_timer {
    char id[40];
    enum vm_phase phase;
    long long since_us;             /* the phase first seen confirmed */
    long long bad_since_us;         /* the target first seen unusable, 0:
                                     * it is usable */
    long long next_count_us;        /* dual: when to record the copies */
    bool told;                      /* the wait for other instances logged */
};

struct recon_mig {
    struct recon_mig_store store;
    void *aux;
    long long drain_us;

    pthread_mutex_t mu;             /* protects 'frames' */
    struct mig_frames *frames;
    size_t n_frames;

    struct mig_timer *timers;       /* reconciler thread only */
    size_t n_timers;
};

struct recon_mig *
recon_mig_create(const struct recon_mig_store *store, void *aux, unsigned int drain_ms)
{
    struct recon_mig *g = calloc(1, sizeof *g);
    if (g) {
        g->store = *store;
        g->aux = aux;
        g->drain_us = (long long) drain_ms * 1000;
        pthread_mutex_init(&g->mu, NULL);
    }
    return g;
}

void
recon_mig_destroy(struct recon_mig *g)
{
    if (g) {
        pthread_mutex_destroy(&g->mu);
        free(g->frames);
        free(g->timers);
        free(g);
    }
}

void
reconciler_attach_migrations(struct reconciler *r, struct recon_mig *g)
{
    atomic_store(&r->mig, g);
    recon_wake(r);
}

void
recon_mig_first_frame(struct reconciler *r, const char *vm_id)
{
    struct recon_mig *g = atomic_load(&r->mig);
    if (!g) {
        return;
    }
    pthread_mutex_lock(&g->mu);
    struct mig_frames *f = NULL;
    for (size_t i = 0; i < g->n_frames && !f; i++) {
        f = strcmp(g->frames[i].vm_id, vm_id) ? NULL : &g->frames[i];
    }
    if (!f) {
        struct mig_frames *grown = realloc(g->frames, (g->n_frames + 1) * sizeof *grown);
        if (grown) {
            g->frames = grown;
            f = &g->frames[g->n_frames++];
            memset(f, 0, sizeof *f);
            snprintf(f->vm_id, sizeof f->vm_id, "%s", vm_id);
        }
    }
    if (f) {
        f->n++;
    }
    pthread_mutex_unlock(&g->mu);
    recon_wake(r);
}

/* The frames VM 'vm_id''s clone sent to the controller so far. */
static long long
frames_of(struct recon_mig *g, const char *vm_id)
{
    long long n = 0;
    pthread_mutex_lock(&g->mu);
    for (size_t i = 0; i < g->n_frames; i++) {
        if (!strcmp(g->frames[i].vm_id, vm_id)) {
            n = g->frames[i].n;
        }
    }
    pthread_mutex_unlock(&g->mu);
    return n;
}

/* Forgets VM 'vm_id''s frames (its migration ended). */
static void
frames_forget(struct recon_mig *g, const char *vm_id)
{
    pthread_mutex_lock(&g->mu);
    for (size_t i = 0; i < g->n_frames; i++) {
        if (!strcmp(g->frames[i].vm_id, vm_id)) {
            g->frames[i] = g->frames[--g->n_frames];
            break;
        }
    }
    pthread_mutex_unlock(&g->mu);
}

/* The timers of migration 'id' in 'phase' (reset when its phase moved),
 * created if need be; NULL when memory runs out. */
static struct mig_timer *
timer_get(struct recon_mig *g, const char *id, enum vm_phase phase)
{
    struct mig_timer *t = NULL;
    for (size_t i = 0; i < g->n_timers && !t; i++) {
        t = strcmp(g->timers[i].id, id) ? NULL : &g->timers[i];
    }
    if (!t) {
        struct mig_timer *grown = realloc(g->timers, (g->n_timers + 1) * sizeof *grown);
        if (!grown) {
            return NULL;
        }
        g->timers = grown;
        t = &g->timers[g->n_timers++];
        memset(t, 0, sizeof *t);
        snprintf(t->id, sizeof t->id, "%s", id);
        t->phase = phase;
    }
    if (t->phase != phase) {
        t->phase = phase;
        t->since_us = 0;
    }
    return t;
}

static double
wall_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (double) ts.tv_sec + ts.tv_nsec / 1e9;
}

/* The agent of host 'h', if it has one (recon_sync_agents made them). */
static struct agent *
agent_of(struct reconciler *r, const struct netmodel *m, int h)
{
    return h >= 0 ? recon_agent_for(r, &m->hosts[h]) : NULL;
}

/* Why host 'h''s bridge cannot take a migration now, NULL if it can. */
static const char *
unusable(struct reconciler *r, const struct netmodel *m, int h)
{
    struct agent *a = agent_of(r, m, h);
    if (!a || !a->db || !ovsdb_is_synced(a->db)) {
        return "its OVSDB server is not connected";
    }
    if (a->err) {
        return a->err;
    }
    if (!recon_is_up(r, a->dpid)) {
        return "its bridge's OpenFlow connection is down";
    }
    return NULL;
}

/* VM 'v''s port at host 'h' in this pass's port list, NULL if none. */
static const struct nm_port *
port_at(const struct agent *a, int v)
{
    for (size_t i = 0; a && i < a->n_ports; i++) {
        if (a->ports[i].kind == NM_PORT_VM && a->ports[i].vm == v) {
            return &a->ports[i];
        }
    }
    return NULL;
}

/* With several instances (--leases): whether this instance writes every
 * bridge that VM 'v''s migration touches (those of its network, its
 * source and target).  A migration is driven only then: another
 * instance's bridges cannot be confirmed from here. */
static bool
owns_all(struct reconciler *r, const struct netmodel *m, int v)
{
    uint8_t *mark = calloc(m->n_hosts ? m->n_hosts : 1, 1);
    if (!mark) {
        return false;
    }
    netmodel_network_hosts(m, m->vms[v].network, mark);
    bool ok = true;
    for (size_t h = 0; ok && h < m->n_hosts; h++) {
        struct agent *a = mark[h] ? agent_of(r, m, (int) h) : NULL;
        ok = !a || !a->foreign;
    }
    free(mark);
    return ok;
}

/* Whether every flow of VM 'v''s migration in its current phase is
 * confirmed: on its source and target bridges, and on every other bridge
 * that carries its network and is connected.  A disconnected peer's
 * bridge is read back and fixed when it returns; no frame comes from it
 * meanwhile. */
static bool
confirmed(struct reconciler *r, const struct netmodel *m, int v)
{
    const struct nm_vm *vm = &m->vms[v];
    uint8_t *mark = calloc(m->n_hosts ? m->n_hosts : 1, 1);
    if (!mark) {
        return false;
    }
    netmodel_network_hosts(m, vm->network, mark);
    bool ok = true;
    for (size_t h = 0; ok && h < m->n_hosts; h++) {
        if (!mark[h]) {
            continue;
        }
        struct agent *a = agent_of(r, m, (int) h);
        bool end = (int) h == vm->mig_from || (int) h == vm->mig_to;
        bool synced = a && a->in_sync && !a->err && !a->note;
        ok = synced || (!end && a && a->err);
    }
    free(mark);
    return ok;
}

static uint32_t
replica_ofport(void *aux, int h, const char *name)
{
    (void) h;
    const struct agent *a = aux;
    return a && a->db ? recon_ofport(ovsdb_get_replica(a->db), name) : 0;
}

/* The flows the clone of VM 'v' added: its flows at the target, and the
 * transit flows toward A elsewhere, as compiled now. */
static long long
flows_cloned(struct reconciler *r, const struct netmodel *m, int v)
{
    const struct nm_vm *vm = &m->vms[v];
    uint64_t alt = netmodel_alt_mac(m, v);
    uint8_t *mark = calloc(m->n_hosts ? m->n_hosts : 1, 1);
    long long n = 0;
    if (!mark) {
        return -1;
    }
    netmodel_network_hosts(m, vm->network, mark);
    for (size_t h = 0; h < m->n_hosts; h++) {
        struct agent *a = mark[h] ? agent_of(r, m, (int) h) : NULL;
        struct nm_flows fl = {0};
        if (!a || netmodel_flows_owners(m, (int) h, replica_ofport, a, &v, 1, NULL, 0,
                                        &fl)) {
            nm_flows_clear(&fl);
            continue;
        }
        for (size_t i = 0; i < fl.n; i++) {
            const struct nm_flow *f = &fl.v[i];
            bool to_alt = (f->present & 1u << NF_ETH_DST) && f->value[NF_ETH_DST] == alt;
            n += (int) h == vm->mig_to || to_alt;
        }
        nm_flows_clear(&fl);
    }
    free(mark);
    return n;
}

/* The packets the target's delivery of A forwarded: the copies of dual.
 * -1 when the target could not be read. */
static long long
duplicated(struct reconciler *r, const struct netmodel *m, int v)
{
    const struct nm_vm *vm = &m->vms[v];
    struct offlow_stats *flows = NULL;
    size_t n = 0;
    if (ofctl_dump_flows_wait(r->ctl, m->hosts[vm->mig_to].dpid, netmodel_vm_cookie(m, v),
                              UINT64_MAX, DUMP_TIMEOUT_MS, &flows, &n)) {
        return -1;
    }
    long long sum = 0;
    uint64_t alt = netmodel_alt_mac(m, v);
    for (size_t i = 0; i < n; i++) {
        uint64_t dst;
        if (flows[i].table_id == NM_T_FORWARD
            && ofmatch_get(&flows[i].match, MF_ETH_DST, &dst, NULL) && dst == alt) {
            sum += (long long) flows[i].packet_count;
        }
    }
    ofctl_free_flows(flows, n);
    return sum;
}

/* Failpoint migration.PHASE (core/failpoint.h): reached once 'phase' is
 * recorded. */
static void
failpoint(enum vm_phase phase)
{
    char name[32];
    snprintf(name, sizeof name, "migration.%s", vm_phase_name(phase));
    failpoint_hit(name);
}

/* Moves 'w' to 'to' through the store; true when it moved. */
static bool
move(struct reconciler *r, struct recon_mig *g, const struct recon_mig_work *w,
     enum vm_phase to, const struct recon_mig_counters *c, const char *detail)
{
    int rc = g->store.move(g->aux, w->id, w->phase, to, c, detail);
    if (rc) {
        if (rc != ESTALE) {
            VLOG_WRN(RECON_MOD, "migration %s: recording %s: %s", w->id,
                     vm_phase_name(to), strerror(rc));
        }
        return false;
    }
    VLOG_INF(RECON_MOD, "migration %s of vm %s: %s -> %s%s%s", w->id, w->vm_id,
              vm_phase_name(w->phase), vm_phase_name(to), detail ? ": " : "",
              detail ? detail : "");
    if (vm_phase_terminal(to)) {
        frames_forget(g, w->vm_id);
    }
    failpoint(to);
    reconciler_kick(r);
    return true;
}

/* One migration's move, if it has one this pass; *next_us is lowered to
 * the time a wait of it ends. */
static void
drive(struct reconciler *r, struct recon_mig *g, const struct netmodel *m,
      const struct recon_mig_work *w, long long *next_us)
{
    char why[512];
    int v = netmodel_vm_by_id(m, w->vm_id);
    if (v < 0) {
        if (wall_now() - w->phase_since > PREPARE_WAIT_S) {
            move(r, g, w, VM_PHASE_FAILED, NULL, "the VM is no longer running");
        }
        return;
    }
    const struct nm_vm *vm = &m->vms[v];
    if (vm->mig != w->phase + 1) {
        return;                     /* the model has not caught up yet */
    }
    long long frames = frames_of(g, w->vm_id);
    struct recon_mig_counters keep = {-1, frames, -1};
    const char *tgt = m->hosts[vm->mig_to].o.name;
    const char *bad = unusable(r, m, vm->mig_to);
    struct mig_timer *t = timer_get(g, w->id, w->phase);
    if (!t) {
        return;
    }
    struct agent *home = agent_of(r, m, vm->host);
    if (!home || home->foreign) {
        return;                     /* its own cloud's owner drives it */
    }
    if (!owns_all(r, m, v)) {
        if (!t->told) {
            VLOG_WRN(RECON_MOD, "migration %s of vm %s waits: its network spans "
                     "clouds other instances hold", w->id, w->vm_id);
            t->told = true;
        }
        return;
    }
    long long now = recon_now_us();
    t->bad_since_us = !bad ? 0 : t->bad_since_us ? t->bad_since_us : now;
    if (vm_phase_may_roll_back(w->phase)) {
        if (w->rollback_requested) {
            move(r, g, w, VM_PHASE_ROLLED_BACK, &keep, "rollback requested");
            return;
        }
        if (w->dual_expired) {
            move(r, g, w, VM_PHASE_ROLLED_BACK, &keep,
                 "dual_timeout_s passed before the VM was activated at the target");
            return;
        }
        if (bad && (w->phase == VM_PHASE_PREPARE
                    ? wall_now() - w->phase_since > PREPARE_WAIT_S
                    : now - t->bad_since_us >= TARGET_WAIT_US)) {
            snprintf(why, sizeof why, "target host %s: %s", tgt, bad);
            move(r, g, w, VM_PHASE_ROLLED_BACK, &keep, why);
            return;
        }
    }
    switch (w->phase) {
    case VM_PHASE_PREPARE:
        if (!bad) {
            move(r, g, w, VM_PHASE_CLONE, &keep, NULL);
        }
        break;
    case VM_PHASE_CLONE: {
        if (bad) {
            break;
        }
        struct agent *a = agent_of(r, m, vm->mig_to);
        const struct nm_port *p = port_at(a, v);
        if (!p || !recon_ofport(ovsdb_get_replica(a->db), p->name)) {
            if (wall_now() - w->phase_since > w->dual_timeout_s) {
                snprintf(why, sizeof why, "no interface of the VM appeared on host %s",
                         tgt);
                move(r, g, w, VM_PHASE_ROLLED_BACK, &keep, why);
            }
            break;
        }
        if (confirmed(r, m, v)) {
            struct recon_mig_counters c = keep;
            c.flows_cloned = flows_cloned(r, m, v);
            move(r, g, w, VM_PHASE_DUAL, &c, NULL);
        }
        break;
    }
    case VM_PHASE_DUAL:
        if (!bad && (frames || w->activate_requested) && confirmed(r, m, v)) {
            struct recon_mig_counters c = keep;
            c.duplicated = duplicated(r, m, v);
            move(r, g, w, VM_PHASE_ACTIVATE, &c,
                 w->activate_requested && !frames ? "activated on request" : NULL);
        } else {
            if (now >= t->next_count_us && g->store.record) {
                struct recon_mig_counters c = keep;
                c.duplicated = duplicated(r, m, v);
                g->store.record(g->aux, w->id, w->phase, &c);
                t->next_count_us = now + COUNT_EVERY_US;
            }
            if (t->next_count_us < *next_us) {
                *next_us = t->next_count_us;
            }
            long long end = recon_now_us()
                            + (long long) ((w->phase_since + w->dual_timeout_s - wall_now())
                                           * 1e6);
            if (end < *next_us) {
                *next_us = end;
            }
        }
        break;
    case VM_PHASE_ACTIVATE:
    case VM_PHASE_CLEANUP: {
        if (!t->since_us && confirmed(r, m, v)) {
            t->since_us = now;
        }
        if (!t->since_us) {
            break;
        }
        long long end = t->since_us + g->drain_us;
        if (now >= end) {
            move(r, g, w, w->phase == VM_PHASE_ACTIVATE ? VM_PHASE_CLEANUP : VM_PHASE_DONE,
                 &keep, NULL);
        } else if (end < *next_us) {
            *next_us = end;
        }
        break;
    }
    default:
        break;
    }
}

long long
recon_migration_pass(struct reconciler *r, const struct netmodel *m)
{
    struct recon_mig *g = atomic_load(&r->mig);
    if (!g || !m->mig_vms || m->mig_vms[0] < 0) {
        if (g) {
            g->n_timers = 0;
        }
        return 0;
    }
    struct recon_mig_work *w = NULL;
    size_t n = 0;
    long long next = recon_now_us() + POLL_US;
    if (g->store.active(g->aux, &w, &n)) {
        return next;
    }
    for (size_t i = 0; i < n; i++) {
        drive(r, g, m, &w[i], &next);
    }
    /* Timers of migrations that ended. */
    for (size_t i = 0; i < g->n_timers;) {
        bool listed = false;
        for (size_t k = 0; k < n && !listed; k++) {
            listed = !strcmp(w[k].id, g->timers[i].id);
        }
        if (listed) {
            i++;
        } else {
            g->timers[i] = g->timers[--g->n_timers];
        }
    }
    free(w);
    return next;
}
