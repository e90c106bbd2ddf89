/* recon_owner.c: the reconciler with several instances on one database:
 * it writes only the switches of the clouds this instance owns
 * (recon_options.owner, db/lease_keeper.h), fenced by the owner's epoch,
 * and writes only the statuses it is the one writer of.  Without
 * recon_options.owner every function here leaves the pass as it was: this
 * instance owns every switch and writes every status.
 *
 * Ownership per host, decided by recon_owner_pass() at the start of every
 * pass from its cloud's grant:
 *   owned, new epoch  a takeover (or the first acquisition): the bridge's
 *                     role becomes MASTER with generation_id = epoch
 *                     (ofctl_set_role: asked first on every (re)connect,
 *                     no flow-mod before the reply), the OpenFlow
 *                     connection is made, the installed flows are read
 *                     back and the next plan is whole, so the flows are
 *                     adopted exactly as a restart adopts them (nothing
 *                     unchanged is deleted or re-added); the OVSDB fence
 *                     is raised to the epoch before any other OVSDB write
 *                     (recon_owner_may_write);
 *   owned, same epoch the role's deadline follows the grant's (also
 *                     between passes: recon_owner_tick);
 *   not owned         a follower: the OVSDB session stays (read only),
 *                     and once it shows the owner's epoch the OpenFlow
 *                     connection asks SLAVE with that generation (equal to
 *                     the owner's, so not stale: the switch sends it no
 *                     packet-ins and refuses its writes, which the
 *                     controller refuses first anyway: a slave never
 *                     writes, and the controller is fenced, so a switch
 *                     without a granted role gets no write either); until
 *                     then it has no OpenFlow connection (recon_sync_agents)
 *                     and asks nothing.  The host is left alone.
 * Writes stop at the grant's deadline by this process's monotonic clock
 * whatever the switch says: the role's deadline refuses flow-mods and
 * packet-outs (ETIME), recon_owner_fence() OVSDB transactions.  A switch
 * that refuses the role (STALE, IS_SLAVE, another master) or an OVSDB
 * server whose epoch is above ours steps this instance down at once
 * (recon_owner_ops.fenced: the grant is dropped until the database grants
 * the cloud again with a new epoch).
 *
 * One writer per status.  A host's status is its realization record: it
 * is written only by the owner of the host's cloud, and so are its VMs'
 * and its cloud's.  Every other instance folds those hosts and VMs in
 * with the statuses their owner recorded (statusfold_host.foreign).  An
 * object that spans clouds (switch, link, network, tenant) is written by
 * the owner of the model's first cloud alone, folded from its own hosts'
 * verdicts and the other hosts' and VMs' recorded statuses.  While a host
 * of another instance is not realized (every instance folds hosts on its
 * VMs' paths), or for the writer of spanning objects a VM of another
 * instance, the pass reloads the desired state (and the statuses with it)
 * at most once a second, as status writes are not in the change log. */
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <urcu/urcu-bp.h>

#include "core/failpoint.h"
#include "core/statusfold.h"
#include "core/vlog.h"
#include "ctrl/ovsdb.h"
#include "ctrl/ovsdb_txn.h"
#include "ctrl/ovsdb_vswitch.h"
#include "ctrl/recon_internal.h"

/* How often recon_owner_tick() at least runs (the run loop's timeout). */
#define TICK_MS 100
/* The least time between two reloads for other instances' statuses. */
#define FOREIGN_RELOAD_US 1000000LL

static uint64_t
now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t) ts.tv_sec * 1000 + (uint64_t) ts.tv_nsec / 1000000;
}

/* Whether this instance owns cloud 'cloud_id' now, with its grant. */
static bool
owns(const struct reconciler *r, const char *cloud_id, uint64_t *epoch, uint64_t *deadline)
{
    const struct recon_owner_ops *o = r->opt.owner;
    *epoch = *deadline = 0;
    return cloud_id[0] && o->owns(o->aux, cloud_id, epoch, deadline);
}

/* Steps down from host 'a' now (the grant is gone or was refused). */
static void
step_down(struct reconciler *r, struct agent *a, const char *why)
{
    if (a->epoch) {
        VLOG_WRN(RECON_MOD, "host %s: not the owner any more (epoch %" PRIu64 "): %s",
                 a->name[0] ? a->name : a->id, a->epoch, why);
        ofctl_set_role(r->ctl, a->dpid, OFCTL_ROLE_NONE, 0, 0);
    }
    a->epoch = a->deadline_ms = a->raised = a->slave_gen = 0;
    a->foreign = true;
}

/* Follows host 'a' owned elsewhere: SLAVE with the epoch its OVSDB shows. */
static void
follow(struct reconciler *r, struct agent *a)
{
    uint64_t gen = a->db && ovsdb_is_synced(a->db)
                   ? ovsdb_vswitch_epoch(ovsdb_get_replica(a->db)) : 0;
    if (gen != a->slave_gen) {
        a->slave_gen = gen;
        ofctl_set_role(r->ctl, a->dpid, gen ? OFCTL_ROLE_SLAVE : OFCTL_ROLE_NONE, gen, 0);
    }
}

/* A refusal of our epoch on host 'a': the grant goes at once. */
static void
refused(struct reconciler *r, struct agent *a, const char *why)
{
    uint64_t epoch = a->epoch;
    step_down(r, a, why);
    if (epoch) {
        r->opt.owner->fenced(r->opt.owner->aux, a->cloud, epoch);
    }
}

void
recon_owner_pass(struct reconciler *r, const struct netmodel *m)
{
    if (!r->opt.owner) {
        return;
    }
    /* A host gone from the model: its bridge's role goes with it. */
    for (size_t i = 0; i < r->n_agents; i++) {
        struct agent *a = &r->agents[i];
        if ((a->epoch || a->slave_gen)
            && netmodel_index(m->hosts, m->n_hosts, sizeof *m->hosts, a->id) < 0) {
            ofctl_set_role(r->ctl, a->dpid, OFCTL_ROLE_NONE, 0, 0);
            a->epoch = a->slave_gen = 0;
        }
    }
    bool taken = false;
    for (size_t h = 0; h < m->n_hosts; h++) {
        const struct nm_host *ho = &m->hosts[h];
        struct agent *a = recon_agent_for(r, ho);
        if (!a) {
            continue;
        }
        snprintf(a->cloud, sizeof a->cloud, "%s", ho->cloud >= 0
                 ? m->clouds[ho->cloud].o.id : "");
        a->dpid = ho->dpid;
        uint64_t epoch, deadline;
        if (!owns(r, a->cloud, &epoch, &deadline)) {
            if (!a->foreign) {
                step_down(r, a, "its cloud's lease is not held here");
            }
            follow(r, a);
            continue;
        }
        if (a->epoch != epoch) {
            VLOG_INF(RECON_MOD, "host %s: owner with epoch %" PRIu64 ": adopting its flows",
                     ho->o.name, epoch);
            a->raised = 0;
            a->readback = true;     /* adopt what is installed */
            a->in_sync = false;
            free(a->known);
            a->known = NULL;
            taken = true;
        }
        a->foreign = false;
        a->slave_gen = 0;
        a->epoch = epoch;
        a->deadline_ms = deadline;
        ofctl_set_role(r->ctl, a->dpid, OFCTL_ROLE_MASTER, epoch, deadline);
    }
    if (taken) {
        /* The other clouds' statuses as their owners recorded them now. */
        r->need_full = true;
    }
}

bool
recon_owner_may_write(struct reconciler *r, struct agent *a)
{
    if (!r->opt.owner) {
        return true;
    }
    if (a->foreign) {
        a->note = "owned by another instance";
        if (a->db) {
            /* Seen: its changes (its owner's writes) are not ours to act
             * on, only its epoch, which every pass reads. */
            a->seqno = ovsdb_get_replica(a->db)->seqno;
        }
        return false;
    }
    if (now_ms() >= a->deadline_ms) {
        step_down(r, a, "its lease's deadline passed");
        a->note = "owned by another instance";
        return false;
    }
    if (!a->db || !ovsdb_is_synced(a->db)) {
        return true;                /* recon_ovsdb_pass says why */
    }
    const struct ovsdb_replica *rep = ovsdb_get_replica(a->db);
    uint64_t seen = ovsdb_vswitch_epoch(rep);
    if (seen > a->epoch) {
        char why[96];
        snprintf(why, sizeof why, "its OVSDB server holds epoch %" PRIu64, seen);
        refused(r, a, why);
        a->note = "owned by another instance";
        return false;
    }
    if (seen < a->raised) {
        a->raised = 0;              /* a database recreated under us */
    }
    if (a->raised == a->epoch) {
        return true;
    }
    struct ovsdb_txn *txn = NULL;
    int rc = ovsdb_vswitch_raise_epoch(rep, a->epoch, &txn);
    char *err = NULL;
    if (!rc && txn) {
        rc = ovsdb_vswitch_apply(a->db, txn, RECON_OVSDB_TIMEOUT_MS, &err);
    }
    if (rc == ESTALE) {
        refused(r, a, "its OVSDB server holds a higher epoch");
        a->note = "owned by another instance";
        return false;
    }
    if (rc) {
        recon_agent_error(a, "ovsdb %s: raising the owner's epoch: %s", a->ovsdb_target,
                          err ? err : strerror(rc));
        free(err);
        return false;
    }
    a->raised = a->epoch;
    return true;
}

int
recon_owner_fence(const struct agent *a, struct ovsdb_txn *txn)
{
    if (!a->epoch) {
        return 0;                   /* one instance: nothing to fence */
    }
    if (now_ms() >= a->deadline_ms) {
        return ETIME;
    }
    return ovsdb_vswitch_fence(txn, a->epoch);
}

long long
recon_owner_tick(struct reconciler *r)
{
    if (!r->opt.owner) {
        return -1;
    }
    for (size_t i = 0; i < r->n_agents; i++) {
        struct agent *a = &r->agents[i];
        if (!a->epoch) {
            continue;
        }
        uint64_t epoch, deadline;
        if (!owns(r, a->cloud, &epoch, &deadline) || epoch != a->epoch) {
            recon_wake(r);          /* the pass steps down or takes over */
        } else if (deadline != a->deadline_ms) {
            a->deadline_ms = deadline;
            ofctl_set_role(r->ctl, a->dpid, OFCTL_ROLE_MASTER, epoch, deadline);
        }
    }
    return TICK_MS;
}

void
recon_owner_fenced(void *aux, uint64_t dpid, int reason, uint64_t generation)
{
    struct reconciler *r = aux;
    if (!r->opt.owner) {
        return;
    }
    char cloud[40] = "";
    urcu_bp_read_lock();
    struct snapshot *s = rcu_dereference(r->snap);
    int h = s ? netmodel_host_by_dpid(&s->m, dpid) : -1;
    if (h >= 0 && s->m.hosts[h].cloud >= 0) {
        snprintf(cloud, sizeof cloud, "%s", s->m.clouds[s->m.hosts[h].cloud].o.id);
    }
    urcu_bp_read_unlock();
    VLOG_WRN(RECON_MOD, "switch %016" PRIx64 " refused role generation %" PRIu64 " (%s)",
             dpid, generation, reason == ESTALE ? "stale" : "made slave");
    if (cloud[0]) {
        r->opt.owner->fenced(r->opt.owner->aux, cloud, generation);
    }
    recon_wake(r);
}

void
recon_owner_before_apply(struct agent **ready, size_t n)
{
    bool adds = false;
    for (size_t i = 0; i < n && !adds; i++) {
        adds = ready[i]->plan.n_adds > 0;
    }
    if (adds) {
        failpoint_hit("recon.apply");
    }
}

void
recon_owner_statuses(struct reconciler *r, const struct netmodel *m,
                     struct statusfold_host *hs)
{
    if (!r->opt.owner) {
        return;
    }
    for (size_t h = 0; h < m->n_hosts; h++) {
        struct agent *a = recon_agent_for(r, &m->hosts[h]);
        if (!a || a->foreign) {
            hs[h] = (struct statusfold_host) {
                m->hosts[h].o.state, m->hosts[h].o.detail, true, NULL,
            };
        }
    }
}

/* Whether this instance writes the status of 'kind' object 'obj' of 'm'. */
static bool
writes(struct reconciler *r, const struct netmodel *m, enum nm_kind kind,
       const struct nm_obj *obj, bool spans)
{
    const struct agent *a;
    int h = -1;
    uint64_t epoch, deadline;
    switch (kind) {
    case NK_CLOUD:
        return owns(r, obj->id, &epoch, &deadline);
    case NK_HOST:
        h = (int) ((const struct nm_host *) (const void *) obj - m->hosts);
        break;
    case NK_VM:
        h = m->vms[(const struct nm_vm *) (const void *) obj - m->vms].host;
        break;
    default:
        break;
    }
    if (h < 0) {
        return spans;
    }
    a = recon_agent_for(r, &m->hosts[h]);
    return a && !a->foreign;
}

bool
recon_owner_filter(struct reconciler *r, struct netmodel *m, struct statusfold_batch *b)
{
    if (!r->opt.owner) {
        return false;
    }
    uint64_t epoch, deadline;
    bool spans = !m->n_clouds || owns(r, m->clouds[0].o.id, &epoch, &deadline);
    size_t w = 0;
    for (size_t i = 0; i < b->n; i++) {
        if (writes(r, m, b->v[i].kind, b->obj[i], spans)) {
            b->v[w] = b->v[i];
            b->obj[w++] = b->obj[i];
        } else {
            free((char *) b->v[i].detail);
        }
    }
    b->n = w;
    /* Statuses other instances owe and this one folds: their hosts' (on
     * its VMs' paths), and for the writer of spanning objects their VMs'
     * too.  Read again soon. */
    bool waiting = false;
    for (size_t h = 0; h < m->n_hosts && !waiting; h++) {
        const struct agent *a = recon_agent_for(r, &m->hosts[h]);
        waiting = (!a || a->foreign) && m->hosts[h].o.state != NM_REALIZED;
    }
    for (size_t v = 0; spans && v < m->n_vms && !waiting; v++) {
        int h = m->vms[v].host;
        const struct agent *a = h >= 0 ? recon_agent_for(r, &m->hosts[h]) : NULL;
        waiting = h >= 0 && (!a || a->foreign) && m->vms[v].o.state != NM_REALIZED;
    }
    long long now = recon_now_us();
    if (waiting && now >= r->owner_reload_us) {
        r->need_full = true;
        r->owner_reload_us = now + FOREIGN_RELOAD_US;
    }
    return waiting;
}
