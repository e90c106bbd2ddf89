/* recon_meters.c: the meters of bandwidth isolation (core/meters.h) on
 * each bridge, diffed like its flows, on the reconciler thread.
 *
 * Installed meters.  Each agent keeps the meters its bridge holds, as the
 * barriers confirmed them or a read-back (multipart METER_CONFIG) found
 * them: a->meters, sorted by id, known once read.  A bridge is read back
 * when its flows are (start, reconnect, a failed batch, an audit), so an
 * ordinary pass costs no read-back.  A read-back of a bridge whose meters
 * were known (an audit, a reconnection) counts how far they drifted: the
 * meters missing, changed or unknown (stats.meter_drift_found), which the
 * plan then puts right.  A switch that refuses to list its
 * meters (a datapath without them) is taken as having none.
 *
 * Plan.  The meters a bridge must have are those its desired flows name
 * (meters_collect).  Each wanted meter that is absent is an ADD, one whose
 * band differs a MODIFY; with a whole plan, each installed meter no flow
 * names is a DELETE.  A plan of some owners only compiles their flows, so
 * it cannot tell which installed meters the other flows still name: it adds
 * and modifies its owners' meters, and once its flows are confirmed, the
 * installed flow table (ctrl/flowtable.h) says which meters no flow names
 * any more; those are deleted with the step's deletions
 * (recon_meters_sweep).  Every meter on a bridge is skyvisor's: the bridge
 * is its own.
 *
 * Apply.  A flow's meter instruction needs its meter (Open vSwitch
 * refuses the flow otherwise), and a meter in use may only go once no
 * flow names it, so:
 *     meter ADD / MODIFY  ->  flow levels (recon_flows.c)  ->  meter DELETE
 * each step closed by a barrier on every bridge before the next.  A
 * bridge whose meter batch fails stops there (its flows would name
 * missing meters), gets the error and is read back by the next pass,
 * like a failed flow batch. */
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "core/meters.h"
#include "core/vlog.h"
#include "ctrl/flowtable.h"
#include "ctrl/recon_internal.h"

#define METER_FLAGS (OFPMF_KBPS | OFPMF_BURST)

static int
cmp_u32(const void *x, const void *y)
{
    uint32_t a = *(const uint32_t *) x, b = *(const uint32_t *) y;
    return (a > b) - (a < b);
}

static int
cmp_spec(const void *x, const void *y)
{
    const struct meter_spec *a = x, *b = y;
    return (a->id > b->id) - (a->id < b->id);
}

/* A read-back meter as a spec; a meter of another shape (other flags,
 * bands) becomes one that matches no wanted spec (rate 0), so the diff
 * modifies or deletes it. */
static struct meter_spec
spec_of(const struct ofmsg_meter_mod *mc)
{
    struct meter_spec s = {mc->meter_id, 0, 0};
    if ((mc->flags & (OFPMF_KBPS | OFPMF_PKTPS | OFPMF_BURST)) == METER_FLAGS
        && mc->n_bands == 1 && mc->bands[0].type == OFPMBT_DROP) {
        s.kbps = mc->bands[0].rate;
        s.burst_kbit = mc->bands[0].burst_size;
    }
    return s;
}

/* How many meters differ between the lists a[0..na) and b[0..nb), both
 * sorted by id: in one only, or in both with another band. */
static size_t
drift(const struct meter_spec *a, size_t na, const struct meter_spec *b, size_t nb)
{
    size_t i = 0, k = 0, d = 0;
    while (i < na || k < nb) {
        if (k == nb || (i < na && a[i].id < b[k].id)) {
            d++;                        /* gone from the bridge */
            i++;
        } else if (i == na || b[k].id < a[i].id) {
            d++;                        /* on the bridge, not known */
            k++;
        } else {
            d += a[i].kbps != b[k].kbps || a[i].burst_kbit != b[k].burst_kbit;
            i++;
            k++;
        }
    }
    return d;
}

/* Reads the bridge's meters into a->meters. */
static int
read_back(struct reconciler *r, struct agent *a)
{
    struct ofmsg_meter_mod *have = NULL;
    size_t n = 0;
    int rc = ofctl_dump_meters_wait(r->ctl, a->dpid, RECON_OF_TIMEOUT_MS, &have, &n);
    if (rc == EPROTO) {
        /* A switch without meters refuses the request: it has none, and
         * only a bridge that needs one fails (its METER_MOD is refused). */
        VLOG_WRN(RECON_MOD, "bridge %016" PRIx64 " cannot list meters: taken as "
                 "having none", a->dpid);
        have = NULL;
        n = 0;
    } else if (rc) {
        recon_agent_error(a, "openflow: reading meters: %s", strerror(rc));
        return rc;
    }
    struct meter_spec *v = calloc(n ? n : 1, sizeof *v);
    if (!v) {
        ofctl_free_meters(have, n);
        recon_agent_error(a, "out of memory");
        return ENOMEM;
    }
    for (size_t i = 0; i < n; i++) {
        v[i] = spec_of(&have[i]);
    }
    ofctl_free_meters(have, n);
    qsort(v, n, sizeof *v, cmp_spec);
    if (a->meters_known) {
        size_t d = drift(a->meters, a->n_meters, v, n);
        if (d) {
            VLOG_INF(RECON_MOD, "bridge %016" PRIx64 ": %zu meters drifted (missing, "
                     "changed or unknown)", a->dpid, d);
            pthread_mutex_lock(&r->mu);
            r->stats.meter_drift_found += d;
            pthread_mutex_unlock(&r->mu);
        }
    }
    free(a->meters);
    a->meters = v;
    a->n_meters = n;
    a->meters_known = true;
    return 0;
}

/* Appends a METER_MOD 'command' of 's' to p->meter_mods.  0 or ENOMEM. */
static int
plan_mod(struct recon_plan *p, size_t *cap, uint16_t command, const struct meter_spec *s)
{
    size_t n = p->n_meter_adds + p->n_meter_dels;
    if (n == *cap) {
        size_t c = *cap ? 2 * *cap : 8;
        struct ofmsg *g = realloc(p->meter_mods, c * sizeof *g);
        if (!g) {
            return ENOMEM;
        }
        p->meter_mods = g;
        *cap = c;
    }
    struct ofmsg *msg = &p->meter_mods[n];
    ofmsg_init(msg, OFPT_METER_MOD, 0);
    struct ofmsg_meter_mod *mm = &msg->u.meter_mod;
    mm->command = command;
    mm->meter_id = s->id;
    if (command != OFPMC_DELETE) {
        mm->flags = METER_FLAGS;
        mm->bands = calloc(1, sizeof *mm->bands);
        if (!mm->bands) {
            return ENOMEM;
        }
        mm->n_bands = 1;
        mm->bands[0] = (struct ofband) {
            .type = OFPMBT_DROP, .rate = s->kbps, .burst_size = s->burst_kbit,
        };
    }
    if (command == OFPMC_DELETE) {
        p->n_meter_dels++;
    } else {
        p->n_meter_adds++;
    }
    return 0;
}

static const struct meter_spec *
find_spec(const struct meter_spec *v, size_t n, uint32_t id)
{
    struct meter_spec key = {id, 0, 0};
    return n ? bsearch(&key, v, n, sizeof *v, cmp_spec) : NULL;   /* v may be NULL */
}

int
recon_meters_plan(struct reconciler *r, struct agent *a, const struct nm_flows *want,
                  bool whole, bool readback)
{
    struct recon_plan *p = &a->plan;
    if ((readback || !a->meters_known) && read_back(r, a)) {
        return EIO;
    }
    struct meter_list wl = {0};
    size_t cap = 0;
    int rc = meters_collect(want->v, want->n, &wl);
    for (size_t i = 0; !rc && i < wl.n; i++) {
        const struct meter_spec *have = find_spec(a->meters, a->n_meters, wl.v[i].id);
        if (!have) {
            rc = plan_mod(p, &cap, OFPMC_ADD, &wl.v[i]);
        } else if (have->kbps != wl.v[i].kbps || have->burst_kbit != wl.v[i].burst_kbit) {
            rc = plan_mod(p, &cap, OFPMC_MODIFY, &wl.v[i]);
        }
    }
    for (size_t i = 0; !rc && whole && i < a->n_meters; i++) {
        if (!find_spec(wl.v, wl.n, a->meters[i].id)) {
            rc = plan_mod(p, &cap, OFPMC_DELETE, &a->meters[i]);
        }
    }
    meters_clear(&wl);
    p->meter_sweep = !whole;
    if (rc) {
        recon_meters_plan_clear(p);
        recon_agent_error(a, "out of memory");
    }
    return rc;
}

void
recon_meters_plan_clear(struct recon_plan *p)
{
    for (size_t i = 0; i < p->n_meter_adds + p->n_meter_dels; i++) {
        ofmsg_uninit(&p->meter_mods[i]);
    }
    free(p->meter_mods);
    p->meter_mods = NULL;
    p->n_meter_adds = p->n_meter_dels = 0;
    p->meter_sweep = false;
}

int
recon_meters_sweep(struct agent *a)
{
    struct recon_plan *p = &a->plan;
    if (!p->meter_sweep || p->error || !a->ft || !a->meters_known || !a->n_meters) {
        return 0;
    }
    uint32_t *named;
    size_t n_named, cap = p->n_meter_adds + p->n_meter_dels, n_plan = cap;
    if (flowtable_meters(a->ft, &named, &n_named)) {
        return ENOMEM;
    }
    int rc = 0;
    for (size_t i = 0; !rc && i < a->n_meters; i++) {
        uint32_t id = a->meters[i].id;
        if (!n_named || !bsearch(&id, named, n_named, sizeof *named, cmp_u32)) {
            rc = plan_mod(p, &cap, OFPMC_DELETE, &a->meters[i]);
        }
    }
    free(named);
    if (rc) {                       /* drop what this sweep appended */
        for (size_t i = n_plan; i < p->n_meter_adds + p->n_meter_dels; i++) {
            ofmsg_uninit(&p->meter_mods[i]);
        }
        p->n_meter_dels -= p->n_meter_adds + p->n_meter_dels - n_plan;
    }
    return rc;
}

void
recon_meters_forget(struct agent *a)
{
    free(a->meters);
    a->meters = NULL;
    a->n_meters = 0;
    a->meters_known = false;
}

/* Records what a confirmed batch changed in a->meters.  0 or ENOMEM. */
static int
record(struct agent *a, const struct ofmsg *msgs, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (msgs[i].type != OFPT_METER_MOD) {
            continue;               /* a group sent with them (recon_groups.c) */
        }
        const struct ofmsg_meter_mod *mm = &msgs[i].u.meter_mod;
        struct meter_spec s = {mm->meter_id, 0, 0};
        if (mm->n_bands) {
            s.kbps = mm->bands[0].rate;
            s.burst_kbit = mm->bands[0].burst_size;
        }
        struct meter_spec *have = (struct meter_spec *) find_spec(a->meters, a->n_meters,
                                                                  s.id);
        if (mm->command == OFPMC_DELETE) {
            if (have) {
                size_t k = (size_t) (have - a->meters);
                memmove(have, have + 1, (a->n_meters - k - 1) * sizeof *have);
                a->n_meters--;
            }
        } else if (have) {
            *have = s;
        } else {
            struct meter_spec *g = realloc(a->meters, (a->n_meters + 1) * sizeof *g);
            if (!g) {
                return ENOMEM;
            }
            a->meters = g;
            a->meters[a->n_meters++] = s;
            qsort(a->meters, a->n_meters, sizeof *a->meters, cmp_spec);
        }
    }
    return 0;
}

/* One step's batches in flight. */
struct step {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    size_t pending;
};

struct step_slot {
    struct step *st;
    int error;
    size_t failed;
    uint16_t etype, ecode;
};

static void
step_done(void *aux, int error, size_t failed, const struct ofmsg_error *err)
{
    struct step_slot *s = aux;
    pthread_mutex_lock(&s->st->mu);
    s->error = error;
    s->failed = failed;
    if (err) {
        s->etype = err->type;
        s->ecode = err->code;
    }
    if (!--s->st->pending) {
        pthread_cond_signal(&s->st->cv);
    }
    pthread_mutex_unlock(&s->st->mu);
}

void
recon_meters_apply(struct reconciler *r, struct agent **agents, size_t n, bool adds)
{
    struct step st = {.pending = 0};
    struct step_slot *slots = calloc(n ? n : 1, sizeof *slots);
    if (!slots) {
        for (size_t i = 0; i < n; i++) {
            if (agents[i]->plan.n_meter_adds + agents[i]->plan.n_meter_dels) {
                recon_agent_error(agents[i], "out of memory");
                agents[i]->plan.error = ENOMEM;
            }
        }
        return;
    }
    pthread_mutex_init(&st.mu, NULL);
    pthread_cond_init(&st.cv, NULL);
    for (size_t i = 0; i < n; i++) {
        struct recon_plan *p = &agents[i]->plan;
        size_t k = adds ? p->n_meter_adds : p->n_meter_dels;
        if (p->error || !k) {
            continue;
        }
        slots[i].st = &st;
        pthread_mutex_lock(&st.mu);
        st.pending++;
        pthread_mutex_unlock(&st.mu);
        int rc = ofctl_submit(r->ctl, agents[i]->dpid,
                              p->meter_mods + (adds ? 0 : p->n_meter_adds), k,
                              step_done, &slots[i]);
        if (rc) {
            pthread_mutex_lock(&st.mu);
            st.pending--;
            pthread_mutex_unlock(&st.mu);
            slots[i].error = rc;
        }
    }
    /* Every completion is called exactly once (ofctl.h). */
    pthread_mutex_lock(&st.mu);
    while (st.pending) {
        pthread_cond_wait(&st.cv, &st.mu);
    }
    pthread_mutex_unlock(&st.mu);
    for (size_t i = 0; i < n; i++) {
        struct agent *a = agents[i];
        struct recon_plan *p = &a->plan;
        if (!slots[i].st) {
            continue;
        }
        size_t k = adds ? p->n_meter_adds : p->n_meter_dels;
        const struct ofmsg *msgs = p->meter_mods + (adds ? 0 : p->n_meter_adds);
        if (slots[i].error == EPROTO) {
            recon_agent_error(a, "openflow: the switch rejected meter %" PRIu32 " "
                              "(error type %u code %u)",
                              msgs[slots[i].failed < k ? slots[i].failed : 0]
                                  .u.meter_mod.meter_id,
                              slots[i].etype, slots[i].ecode);
        } else if (slots[i].error) {
            recon_agent_error(a, "openflow: meters: %s", strerror(slots[i].error));
        }
        if (slots[i].error || record(a, msgs, k)) {
            p->error = slots[i].error ? slots[i].error : ENOMEM;
            a->readback = true;
            a->meters_known = false;
            continue;
        }
        VLOG_DBG(RECON_MOD, "bridge %016" PRIx64 ": %zu meters %s", a->dpid, k,
                 adds ? "added or modified" : "deleted");
    }
    pthread_cond_destroy(&st.cv);
    pthread_mutex_destroy(&st.mu);
    free(slots);
}
