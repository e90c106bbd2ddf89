/* recon_groups.c: the fast-failover groups (see recon_groups.h), on the
 * reconciler thread.
 *
 * A bridge's groups are a function of the model, its ports' numbers and
 * which of its tunnel ends are held (ctrl/recon_bfd.h), so a signature of
 * what is about to be written says whether anything changed since the last
 * plan; a group is then (re)written with Open vSwitch's ADD_OR_MOD, which
 * needs no knowledge of what the bridge holds.  They go out in the batch
 * of the meters' additions, which recon_meters_apply() sends and confirms
 * before any flow level, so no flow ever names a missing group.  The ids
 * this instance wrote are kept (a->groups, sorted): one no longer wanted
 * is deleted in the batch of the meters' deletions, after the flows, so no
 * flow names it any more (deleting a group deletes the flows that use it).
 * Groups that an earlier run of skyvisord left and that no longer serve
 * are not known, and stay until the bridge restarts.  A failed batch reads
 * the bridge back, and the next plan writes every group again. */
#include "ctrl/recon_groups.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "ctrl/ofmsg.h"
#include "ctrl/recon_bfd.h"
#include "ctrl/recon_internal.h"

static uint64_t
mix(uint64_t h, uint64_t v)
{
    return (h ^ v) * 0x100000001b3ull;
}

static int
cmp_u32(const void *x, const void *y)
{
    uint32_t a = *(const uint32_t *) x, b = *(const uint32_t *) y;
    return (a > b) - (a < b);
}

/* Fills 'msg' with group 'g' (ADD_OR_MOD).  0 or ENOMEM. */
static int
group_mod(const struct nm_group *g, struct ofmsg *msg)
{
    ofmsg_init(msg, OFPT_GROUP_MOD, 0);
    struct ofmsg_group_mod *gm = &msg->u.group_mod;
    gm->command = OFPGC_ADD_OR_MOD;
    gm->type = OFPGT_FF;
    gm->group_id = g->id;
    gm->buckets = calloc(g->n, sizeof *gm->buckets);
    if (!gm->buckets) {
        return ENOMEM;
    }
    gm->n_buckets = g->n;
    for (size_t i = 0; i < g->n; i++) {
        const struct nm_bucket *nb = &g->b[i];
        struct ofbucket *b = &gm->buckets[i];
        b->watch_port = nb->out;
        b->watch_group = OFPG_ANY;
        b->actions = calloc(2, sizeof *b->actions);
        if (!b->actions) {
            return ENOMEM;
        }
        if (!nb->mark) {
            b->n_actions = 1;
            b->actions[0].type = OFPAT_OUTPUT;
            b->actions[0].u.output.port = nb->out;
            continue;
        }
        b->n_actions = 2;
        b->actions[0].type = OFPAT_SET_FIELD;
        b->actions[0].u.set_field.field = MF_TUNNEL_ID;
        b->actions[0].u.set_field.value = nb->mark;
        int rc = recon_resubmit_action(&b->actions[1], NM_T_DIVERT);
        if (rc) {
            return rc;
        }
    }
    return 0;
}

/* Leaves out of 'g' the buckets of host 'h''s held tunnel ends, unless
 * every bucket is held. */
static void
drop_held(struct reconciler *r, const struct netmodel *m, int h, uint64_t dpid,
          struct nm_group *g)
{
    struct nm_group kept = *g;
    kept.n = 0;
    for (size_t i = 0; i < g->n; i++) {
        char name[16];
        netmodel_tunnel_name(m, h, g->b[i].peer, name);
        if (!recon_bfd_held(r, dpid, name)) {
            kept.b[kept.n++] = g->b[i];
        }
    }
    if (kept.n) {
        *g = kept;
    }
}

/* Appends msgs[0..n) to the meters' additions (dels false) or deletions
 * of plan 'pl'; consumes them.  0 or ENOMEM (then uninitialised). */
static int
append(struct recon_plan *pl, struct ofmsg *msgs, size_t n, bool dels)
{
    size_t have = pl->n_meter_adds + pl->n_meter_dels;
    struct ofmsg *grown = n ? realloc(pl->meter_mods, (have + n) * sizeof *grown) : NULL;
    if (n && !grown) {
        for (size_t i = 0; i < n; i++) {
            ofmsg_uninit(&msgs[i]);
        }
        return ENOMEM;
    }
    if (!n) {
        return 0;
    }
    pl->meter_mods = grown;
    if (dels) {
        memcpy(&grown[have], msgs, n * sizeof *msgs);
        pl->n_meter_dels += n;
    } else {
        /* After the meters' additions, before their deletions. */
        memmove(&grown[pl->n_meter_adds + n], &grown[pl->n_meter_adds],
                pl->n_meter_dels * sizeof *grown);
        memcpy(&grown[pl->n_meter_adds], msgs, n * sizeof *msgs);
        pl->n_meter_adds += n;
    }
    return 0;
}

int
recon_groups_plan(struct reconciler *r, const struct netmodel *m, int h, struct agent *a,
                  bool readback, nm_ofport_fn *ofport, void *aux)
{
    struct nm_group *gs = NULL;
    size_t n = 0;
    int rc = netmodel_groups(m, h, ofport, aux, &gs, &n);
    uint32_t *ids = rc ? NULL : malloc((n + 1) * sizeof *ids);
    struct ofmsg *msgs = rc ? NULL : calloc(n + a->n_groups + 1, sizeof *msgs);
    if (!ids || !msgs) {
        free(gs);
        free(ids);
        free(msgs);
        recon_agent_error(a, "out of memory");
        return ENOMEM;
    }
    uint64_t sig = 0xcbf29ce484222325ull;
    for (size_t i = 0; i < n; i++) {
        drop_held(r, m, h, a->dpid, &gs[i]);
        ids[i] = gs[i].id;
        sig = mix(sig, gs[i].id);
        for (size_t k = 0; k < gs[i].n; k++) {
            sig = mix(mix(sig, gs[i].b[k].out), gs[i].b[k].mark);
        }
    }
    qsort(ids, n, sizeof *ids, cmp_u32);
    size_t n_mod = 0, n_del = 0;
    if (readback || sig != a->groups_sig) {
        for (size_t i = 0; i < n && !rc; i++) {
            rc = group_mod(&gs[i], &msgs[n_mod++]);
        }
    }
    /* The ids written before and not wanted now: deleted after the flows. */
    for (size_t i = 0; i < a->n_groups && !rc; i++) {
        if (!bsearch(&a->groups[i], ids, n, sizeof *ids, cmp_u32)) {
            struct ofmsg *d = &msgs[n_mod + n_del++];
            ofmsg_init(d, OFPT_GROUP_MOD, 0);
            d->u.group_mod.command = OFPGC_DELETE;
            d->u.group_mod.type = OFPGT_FF;
            d->u.group_mod.group_id = a->groups[i];
        }
    }
    free(gs);
    if (!rc) {
        rc = append(&a->plan, msgs, n_mod, false);
        for (size_t i = n_mod; rc && i < n_mod + n_del; i++) {
            ofmsg_uninit(&msgs[i]);
        }
        rc = rc ? rc : append(&a->plan, msgs + n_mod, n_del, true);
    } else {
        for (size_t i = 0; i < n_mod + n_del; i++) {
            ofmsg_uninit(&msgs[i]);
        }
    }
    free(msgs);
    if (rc) {
        free(ids);
        recon_agent_error(a, "out of memory");
        return ENOMEM;
    }
    a->groups_sig = sig;
    free(a->groups);
    a->groups = ids;
    a->n_groups = n;
    return 0;
}

void
recon_groups_forget(struct agent *a)
{
    free(a->groups);
    a->groups = NULL;
    a->n_groups = 0;
    a->groups_sig = 0;
}
