/* recon_groups.c: the fast-failover groups of mst+backup (see
 * recon_groups.h and core/wanff.h), on the reconciler thread.
 *
 * A gateway's groups are a function of its plan and its tunnels' port
 * numbers, so a signature of both says whether anything changed since the
 * last plan; a group is then (re)written with Open vSwitch's ADD_OR_MOD,
 * which needs no knowledge of what the bridge holds.  They go out in the
 * batch of the meters' additions, which recon_meters_apply() sends and
 * confirms before any flow level, so no flow ever names a missing group.
 * A failed batch reads the bridge back, and the next plan writes every
 * group again. */
#include "ctrl/recon_groups.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "core/wanff.h"
#include "ctrl/ofmsg.h"
#include "ctrl/ovsdb.h"
#include "ctrl/recon_internal.h"

static uint64_t
mix(uint64_t h, uint64_t v)
{
    return (h ^ v) * 0x100000001b3ull;
}

/* Fills 'msg' with the group 'g' whose tree tunnel is port 'tree' and
 * whose detour starts on port 'backup'.  0 or ENOMEM. */
static int
group_mod(const struct wanff_group *g, uint32_t tree, uint32_t backup, struct ofmsg *msg)
{
    ofmsg_init(msg, OFPT_GROUP_MOD, 0);
    struct ofmsg_group_mod *gm = &msg->u.group_mod;
    gm->command = OFPGC_ADD_OR_MOD;
    gm->type = OFPGT_FF;
    gm->group_id = g->id;
    gm->buckets = calloc(2, sizeof *gm->buckets);
    if (!gm->buckets) {
        return ENOMEM;
    }
    gm->n_buckets = 2;
    struct ofbucket *b0 = &gm->buckets[0], *b1 = &gm->buckets[1];
    b0->watch_port = tree;
    b1->watch_port = backup;
    b0->watch_group = b1->watch_group = OFPG_ANY;
    b0->actions = calloc(1, sizeof *b0->actions);
    b1->actions = calloc(2, sizeof *b1->actions);
    if (!b0->actions || !b1->actions) {
        return ENOMEM;
    }
    b0->n_actions = 1;
    b0->actions[0].type = OFPAT_OUTPUT;
    b0->actions[0].u.output.port = tree;
    b1->n_actions = 2;
    b1->actions[0].type = OFPAT_SET_FIELD;
    b1->actions[0].u.set_field.field = MF_TUNNEL_ID;
    b1->actions[0].u.set_field.value = g->mark;
    return recon_resubmit_action(&b1->actions[1], NM_T_DIVERT);
}

int
recon_groups_plan(struct reconciler *r, const struct netmodel *m, int h, struct agent *a,
                  bool readback)
{
    (void) r;
    struct wanff_plan p;
    int rc = wanff_plan(m, h, &p);
    if (rc || !p.n_groups) {
        wanff_plan_free(&p);
        if (rc == ENOMEM) {
            recon_agent_error(a, "out of memory");
        }
        return rc == ENOMEM ? ENOMEM : 0;
    }
    const struct ovsdb_replica *rep = ovsdb_get_replica(a->db);
    struct ofmsg *msgs = calloc(p.n_groups, sizeof *msgs);
    size_t n = 0;
    uint64_t sig = 0xcbf29ce484222325ull;
    for (size_t i = 0; msgs && !rc && i < p.n_groups; i++) {
        const struct wanff_group *g = &p.groups[i];
        char tname[16], bname[16];
        if (g->backup < 0) {
            continue;
        }
        netmodel_tunnel_name(m, h, g->peer, tname);
        netmodel_tunnel_name(m, h, g->backup, bname);
        uint32_t tree = recon_ofport(rep, tname), backup = recon_ofport(rep, bname);
        if (!tree || !backup) {
            continue;               /* the flows keep plain outputs too */
        }
        sig = mix(mix(mix(sig, g->id), tree), (uint64_t) backup << 32 | g->mark);
        rc = group_mod(g, tree, backup, &msgs[n++]);
    }
    wanff_plan_free(&p);
    struct recon_plan *pl = &a->plan;
    struct ofmsg *grown = NULL;
    if (msgs && !rc && n && (readback || sig != a->groups_sig)) {
        size_t have = pl->n_meter_adds + pl->n_meter_dels;
        grown = realloc(pl->meter_mods, (have + n) * sizeof *grown);
    }
    if (grown) {
        /* After the meters' additions, before their deletions. */
        pl->meter_mods = grown;
        memmove(&grown[pl->n_meter_adds + n], &grown[pl->n_meter_adds],
                pl->n_meter_dels * sizeof *grown);
        memcpy(&grown[pl->n_meter_adds], msgs, n * sizeof *msgs);
        pl->n_meter_adds += n;
        a->groups_sig = sig;
        free(msgs);
        return 0;
    }
    for (size_t i = 0; msgs && i < n; i++) {
        ofmsg_uninit(&msgs[i]);
    }
    bool failed = !msgs || rc || (n && (readback || sig != a->groups_sig));
    free(msgs);
    if (failed) {
        recon_agent_error(a, "out of memory");
        return ENOMEM;
    }
    return 0;
}
