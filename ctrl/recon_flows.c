/* recon_flows.c: flow translation, the diff against the installed-flow
 * tables, and the one ordering engine, on the reconciler thread.
 *
 * Plan (per bridge): the desired flows (core/netmodel.h, with the port
 * numbers OVSDB reports) become ADD flow-mods carrying OFPFF_SEND_FLOW_REM
 * and are marked in the bridge's table (ctrl/flowtable.h): the same flow
 * (identity, cookie, instructions) is kept untouched, an absent or
 * different one is added; the sweep yields the DELETE_STRICTs.  The table
 * is read back first only when the agent asks for it (start, reconnect, a
 * failed batch, an audit, an unexplained miss): an ordinary pass costs no
 * read-back.  A flow a predecessor installed is adopted as it is, unless
 * it lacks the flow-removed flag, which a plain add then gives it.
 * A plan may cover only some cookie owners (the VMs a change touched):
 * their flows are compiled (netmodel_flows_owners) and marked, and the
 * sweep is limited to their cookies, so the rest of the table is neither
 * compiled nor touched.
 *
 * Apply (every bridge of the pass together), make before break:
 *
 *   levels: the inner tables (15 to 40) together, then tenant (10), then
 *          classify (0).  Only an ingress rule (10, 0) or a tunnel from
 *          another bridge's inner tables leads a frame into the inner
 *          tables, and a bridge applies the flow-mods of one connection in
 *          order, so one batch per bridge, deepest table first, needs no
 *          barrier between its inner tables: three round trips for an
 *          ordinary change (a level larger than RECON_LEVEL_CHUNK flows on
 *          a bridge, as in a first pass, goes in rounds of that many), and
 *          a level no bridge has anything for costs none;
 *   adds:  send the deepest level's adds to every bridge (ofctl_submit,
 *          each batch closed by a barrier), wait for every barrier, record
 *          what each confirmed in its table; repeat with the next
 *          shallower level.  Local delivery (40, 30, 20 on the
 *          destination) and transit (20 on gateways) are thus confirmed
 *          everywhere before an ingress rule (10, then 0) sends traffic
 *          their way.  Between 10 and 0, a short wait for the datapath
 *          (RECON_DATAPATH_SETTLE_MS), only while tenant-table misses show
 *          traffic toward unmapped destinations (tenant_misses_recent);
 *          and after a level that replaced a forwarding flow (a path
 *          moved: a VM moved, a migration's step), a longer one
 *          (RECON_REPOINT_SETTLE_MS) before the shallower levels, whose
 *          ingress rules would otherwise send traffic along the old path
 *          the datapath's cached flows still follow;
 *   dels:  the other way round, from the ingress level on, so a path is
 *          closed at its entrance before its inner rules go.
 *
 * A bridge whose batch fails stops there (later levels would lead traffic
 * to what it may lack), gets the error, and is read back by the next pass;
 * the others go on: one broken host does not hold up the rest.  When what
 * failed is a tenant controller's flow (ctrl/vtranslate.h), the flow is
 * remembered and left out of later plans (r->vrejects), so a tenant's flow
 * the switch cannot take costs its bridges one pass, not every pass.
 *
 * Events from the loop thread: a flow-removed of a flow the table holds
 * (deleted behind our back; our own deletions have left the table before
 * their notifications are looked at, as a batch's barrier reply follows
 * them on the connection) drops it from the table and asks for a repair
 * pass; a reactive forward on a bridge the last pass left in sync means
 * the bridge lacks a flow the table holds, and reads it back. */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/packet.h"
#include "core/vlog.h"
#include "ctrl/flowtable.h"
#include "ctrl/ofmsg.h"
#include "ctrl/ovsdb.h"
#include "ctrl/recon_groups.h"
#include "ctrl/recon_internal.h"
#include "ctrl/vtranslate.h"

static const enum mf nf_to_mf[NF__COUNT] = {
    [NF_IN_PORT] = MF_IN_PORT, [NF_ETH_DST] = MF_ETH_DST, [NF_ETH_SRC] = MF_ETH_SRC,
    [NF_ETH_TYPE] = MF_ETH_TYPE, [NF_IPV4_SRC] = MF_IPV4_SRC,
    [NF_ARP_SPA] = MF_ARP_SPA, [NF_ARP_SHA] = MF_ARP_SHA, [NF_METADATA] = MF_METADATA,
    [NF_TUNNEL_ID] = MF_TUNNEL_ID,
};

int
recon_resubmit_action(struct ofaction *a, uint8_t table)
{
    /* nx_action_resubmit, subtype NXAST_RESUBMIT_TABLE, in_port
     * OFPP_IN_PORT: exactly as Open vSwitch reports it back. */
    a->type = 0xffff;
    a->raw = calloc(1, 16);
    if (!a->raw) {
        return ENOMEM;
    }
    a->raw_len = 16;
    memcpy(a->raw, (const uint8_t[]) {
        0xff, 0xff, 0x00, 0x10, 0x00, 0x00, 0x23, 0x20,
        0x00, 0x0e, 0xff, 0xf8, table, 0, 0, 0,
    }, 16);
    return 0;
}

/* Encodes a desired flow as an ADD flow-mod (caller uninits 'msg'). */
static int
to_flow_mod(const struct nm_flow *f, struct ofmsg *msg)
{
    struct ofmsg_flow_mod *fm = ofmsg_flow_mod_init(msg, OFPFC_ADD, f->table, f->priority,
                                                    f->cookie);
    /* Prerequisites first, as OpenFlow wants them. */
    static const enum nm_field order[] = {
        NF_IN_PORT, NF_METADATA, NF_TUNNEL_ID, NF_ETH_DST, NF_ETH_SRC, NF_ETH_TYPE,
        NF_IPV4_SRC, NF_ARP_SPA, NF_ARP_SHA,
    };
    for (size_t i = 0; i < sizeof order / sizeof order[0]; i++) {
        enum nm_field nf = order[i];
        if (!(f->present & (1u << nf))) {
            continue;
        }
        if (f->masked & (1u << nf)) {
            ofmatch_set_masked(&fm->match, nf_to_mf[nf], f->value[nf], f->mask[nf]);
        } else {
            ofmatch_set(&fm->match, nf_to_mf[nf], f->value[nf]);
        }
    }
    size_t ni = (f->n_acts ? 1 : 0) + (f->write_meta ? 1 : 0)
                + (f->goto_table != NM_NO_GOTO ? 1 : 0) + (f->meter ? 1 : 0);
    fm->insts = calloc(ni ? ni : 1, sizeof *fm->insts);
    if (!fm->insts) {
        return ENOMEM;
    }
    size_t k = 0;
    if (f->meter) {                 /* first, as OpenFlow orders them */
        fm->insts[k].type = OFPIT_METER;
        fm->insts[k++].meter_id = f->meter;
    }
    if (f->n_acts) {
        struct ofinst *in = &fm->insts[k++];
        in->type = OFPIT_APPLY_ACTIONS;
        in->actions = calloc(f->n_acts, sizeof *in->actions);
        if (!in->actions) {
            fm->n_insts = k;
            return ENOMEM;
        }
        in->n_actions = f->n_acts;
        for (size_t i = 0; i < f->n_acts; i++) {
            struct ofaction *a = &in->actions[i];
            const struct nm_act *na = &f->acts[i];
            switch (na->type) {
            case NA_OUTPUT:
                a->type = OFPAT_OUTPUT;
                a->u.output.port = (uint32_t) na->arg;
                a->u.output.max_len = 0;
                break;
            case NA_CONTROLLER:
                a->type = OFPAT_OUTPUT;
                a->u.output.port = OFPP_CONTROLLER;
                a->u.output.max_len = OFPCML_NO_BUFFER;
                break;
            case NA_SET_ETH_SRC:
            case NA_SET_ETH_DST:
                a->type = OFPAT_SET_FIELD;
                a->u.set_field.field = na->type == NA_SET_ETH_SRC ? MF_ETH_SRC : MF_ETH_DST;
                a->u.set_field.value = na->arg;
                break;
            case NA_RESUBMIT:
                if (recon_resubmit_action(a, (uint8_t) na->arg)) {
                    fm->n_insts = k;
                    return ENOMEM;
                }
                break;
            case NA_GROUP:
                a->type = OFPAT_GROUP;
                a->u.group_id = (uint32_t) na->arg;
                break;
            case NA_SET_TUN_ID:
                a->type = OFPAT_SET_FIELD;
                a->u.set_field.field = MF_TUNNEL_ID;
                a->u.set_field.value = na->arg;
                break;
            }
        }
    }
    if (f->write_meta) {
        struct ofinst *in = &fm->insts[k++];
        in->type = OFPIT_WRITE_METADATA;
        in->metadata = f->meta;
        in->metadata_mask = f->meta_mask;
    }
    if (f->goto_table != NM_NO_GOTO) {
        struct ofinst *in = &fm->insts[k++];
        in->type = OFPIT_GOTO_TABLE;
        in->table_id = f->goto_table;
    }
    fm->n_insts = k;
    return 0;
}

static int
cmp_add_desc(const void *a, const void *b)
{
    const struct recon_add *x = a, *y = b;
    return (int) y->table - (int) x->table;
}

static int
cmp_table_asc(const void *a, const void *b)
{
    const struct ofmsg *x = a, *y = b;
    return (int) x->u.flow_mod.table_id - (int) y->u.flow_mod.table_id;
}

/* Appends the ADD flow-mod 'msg' to the plan in wire form.  0 or ENOMEM. */
static int
plan_add(struct recon_plan *p, const struct ofmsg *msg)
{
    if (p->n_adds == p->cap_adds) {
        size_t cap = p->cap_adds ? 2 * p->cap_adds : 64;
        struct recon_add *g = realloc(p->adds, cap * sizeof *g);
        if (!g) {
            return ENOMEM;
        }
        p->adds = g;
        p->cap_adds = cap;
    }
    size_t off = p->wire.len;
    if (ofmsg_encode(msg, &p->wire) || p->wire.failed || p->wire.len > UINT32_MAX) {
        return ENOMEM;
    }
    p->adds[p->n_adds++] = (struct recon_add) {
        .table = msg->u.flow_mod.table_id, .off = (uint32_t) off,
        .len = (uint32_t) (p->wire.len - off),
    };
    return 0;
}

static int
cmp_portno_name(const void *key, const void *elem)
{
    return strcmp(key, ((const struct recon_portno *) elem)->name);
}

/* The port numbers the pass took for this bridge (a->now), else the
 * replica's. */
static uint32_t
lookup_ofport(void *aux, int h, const char *name)
{
    (void) h;
    const struct agent *a = aux;
    if (a->now) {
        const struct recon_portno *p = bsearch(name, a->now, a->n_ports, sizeof *a->now,
                                               cmp_portno_name);
        if (p) {
            return p->no;
        }
    }
    return recon_ofport(ovsdb_get_replica(a->db), name);
}

void
recon_plan_clear(struct recon_plan *p)
{
    recon_meters_plan_clear(p);
    buf_uninit(&p->wire);
    free(p->adds);
    free(p->dels);                  /* own nothing */
    memset(p, 0, sizeof *p);
}

/* Reads the bridge's flows into a->ft.  An audit first counts how far the
 * bridge drifted from the table.  Flows a predecessor installed without
 * OFPFF_SEND_FLOW_REM are left out of the table, so the diff sends them
 * again with the flag (a stale one is deleted through 'unflagged'). */
static int
read_back(struct reconciler *r, struct agent *a, struct flowtable *unflagged)
{
    struct offlow_stats *have = NULL;
    size_t n_have = 0;
    int rc = ofctl_dump_flows_wait(r->ctl, a->dpid, NM_COOKIE_MAGIC, NM_COOKIE_MASK,
                                   RECON_OF_TIMEOUT_MS, &have, &n_have);
    if (rc) {
        recon_agent_error(a, "openflow: reading flows: %s", strerror(rc));
        return rc;
    }
    size_t missing = 0, extra = 0;
    if (a->audit && a->ft && !flowtable_compare(a->ft, have, n_have, &missing, &extra)
        && missing + extra) {
        VLOG_INF(RECON_MOD, "audit: bridge %016" PRIx64 " drifted: %zu flows missing "
                 "or changed, %zu unknown", a->dpid, missing, extra);
        a->drift += missing + extra;
    }
    if (!a->ft && !(a->ft = flowtable_create(r->ftpool))) {
        rc = ENOMEM;
    } else {
        rc = flowtable_load(a->ft, have, n_have);
    }
    for (size_t i = 0; !rc && i < n_have; i++) {
        if (!(have[i].flags & OFPFF_SEND_FLOW_REM)) {
            struct ofmsg_flow_mod fm = {
                .cookie = have[i].cookie, .table_id = have[i].table_id,
                .priority = have[i].priority, .match = have[i].match,
                .insts = have[i].insts, .n_insts = have[i].n_insts,
            };
            flowtable_remove(a->ft, have[i].table_id, have[i].priority, &have[i].match);
            rc = flowtable_set(unflagged, &fm);
        }
    }
    ofctl_free_flows(have, n_have);
    if (rc) {
        flowtable_clear(a->ft);
        recon_agent_error(a, "out of memory");
        return rc;
    }
    pthread_mutex_lock(&r->mu);
    r->stats.readbacks++;
    r->stats.drift_found += missing + extra;
    pthread_mutex_unlock(&r->mu);
    a->readback = false;
    a->audit = false;
    a->readback_us = recon_now_us();
    return 0;
}

/* One wanted flow of a plan being built. */
struct plan_ctx {
    struct reconciler *r;
    struct recon_plan *p;
    struct agent *a;
    struct flowtable *unflagged;    /* may be NULL */
};

/* A tenant flow's ADD flow-mod, encoded as a rejection records it (xid
 * 0), into 'b'. */
static void
vreject_key(const struct ofmsg *msg, struct buf *b)
{
    ofmsg_encode(msg, b);
    if (!b->failed && b->len >= 8) {
        memset(b->data + 4, 0, 4);
    }
}

static bool
is_tenant_flow(const struct ofmsg *msg)
{
    return (msg->u.flow_mod.cookie >> 56 & 0xf) == NM_CK_VSW;
}

/* Whether a bridge refused this tenant flow before. */
static bool
vrejected(const struct reconciler *r, const struct ofmsg *msg)
{
    if (!r->n_vrejects || !is_tenant_flow(msg)) {
        return false;
    }
    struct buf b;
    buf_init(&b);
    vreject_key(msg, &b);
    bool found = false;
    for (size_t i = 0; !b.failed && i < r->n_vrejects && !found; i++) {
        found = r->vrejects[i].len == b.len && !memcmp(r->vrejects[i].bytes, b.data, b.len);
    }
    buf_uninit(&b);
    return found;
}

/* Records that a bridge refused tenant flow 'msg' (level_record). */
static void
vreject_add(struct reconciler *r, const struct ofmsg *msg)
{
    struct buf b;
    buf_init(&b);
    vreject_key(msg, &b);
    if (b.failed) {
        buf_uninit(&b);
        return;
    }
    if (r->n_vrejects == RECON_VREJECT_MAX) {
        free(r->vrejects[0].bytes);
        memmove(r->vrejects, r->vrejects + 1, (r->n_vrejects - 1) * sizeof *r->vrejects);
        r->n_vrejects--;
    }
    struct recon_vreject *g = realloc(r->vrejects, (r->n_vrejects + 1) * sizeof *g);
    uint8_t *bytes = malloc(b.len);
    if (g && bytes) {
        memcpy(bytes, b.data, b.len);
        r->vrejects = g;
        r->vrejects[r->n_vrejects++] = (struct recon_vreject) {bytes, b.len};
    } else {
        r->vrejects = g ? g : r->vrejects;
        free(bytes);
    }
    buf_uninit(&b);
}

/* Whether replacing flow 'fm' moves a unicast path: a forwarding flow
 * (table 20) for one destination MAC.  A broadcast's tree (the same
 * table, a group destination) is replaced whenever a component gains or
 * loses a host or a member there, which moves no unicast path: it waits
 * for no revalidation (RECON_REPOINT_SETTLE_MS). */
static bool
repoints_unicast(const struct ofmsg_flow_mod *fm)
{
    uint64_t dst, mask;
    return fm->table_id == NM_T_FORWARD && ofmatch_get(&fm->match, MF_ETH_DST, &dst, &mask)
           && (mask & ETH_MAC_GROUP_BIT) && !(dst & ETH_MAC_GROUP_BIT);
}

/* Marks the ADD flow-mod 'msg' as wanted (a vtranslate_emit_fn too): kept
 * when the bridge has it, else planned; a tenant flow a bridge refused
 * before is left out (level_record).  0 or ENOMEM. */
static int
plan_flow(void *aux, const struct ofmsg *msg_)
{
    struct plan_ctx *c = aux;
    struct ofmsg *msg = (struct ofmsg *) msg_;
    msg->u.flow_mod.flags = OFPFF_SEND_FLOW_REM;
    if (vrejected(c->r, msg)) {
        return 0;
    }
    if (c->unflagged) {
        flowtable_mark(c->unflagged, &msg->u.flow_mod);     /* replaced by the add */
    }
    enum flowtable_state st = flowtable_mark(c->a->ft, &msg->u.flow_mod);
    if (st == FLOWTABLE_SAME) {
        c->p->n_kept++;
        return 0;
    }
    int rc = plan_add(c->p, msg);
    if (!rc) {
        c->p->adds[c->p->n_adds - 1].repoints = st == FLOWTABLE_DIFFERENT
                                                && repoints_unicast(&msg->u.flow_mod);
    }
    return rc;
}

/* What an owners' plan covers on one bridge: the floods of the owners'
 * components only where an owner is or was (a flood lists the members of
 * its own host, so nowhere else does it change), and the cookies swept
 * accordingly: every other cookie of the owners', and those floods'. */
struct host_scope {
    int *comps;                     /* owned */
    size_t n_comps;
    uint64_t *cookies;              /* owned, sorted as owners->cookies */
    size_t n_cookies;
};

/* Whether owners' component 'name' is or was on host 'h' through an owner. */
static bool
flood_here(const struct netmodel *m, int h, const struct recon_owners *o, uint32_t name)
{
    for (size_t i = 0; i < o->n_vms; i++) {
        int v = o->vms[i], c = m->vm_comp[v];
        if (c >= 0 && m->comp_name[c] == name && m->vms[v].host == h) {
            return true;
        }
    }
    for (size_t i = 0; i < o->n_left; i++) {
        if (o->left[i].comp == name && !strcmp(o->left[i].host, m->hosts[h].o.id)) {
            return true;
        }
    }
    return false;
}

/* Fills 'hs' for host 'h'.  0 or ENOMEM (hs's arrays freed by the
 * caller either way). */
static int
host_scope_init(struct host_scope *hs, const struct netmodel *m, int h,
                const struct recon_owners *o)
{
    hs->comps = malloc((o->n_comps ? o->n_comps : 1) * sizeof *hs->comps);
    hs->cookies = malloc((o->n_cookies ? o->n_cookies : 1) * sizeof *hs->cookies);
    if (!hs->comps || !hs->cookies) {
        return ENOMEM;
    }
    for (size_t i = 0; i < o->n_comps; i++) {
        int c = o->comps[i];
        if (c >= 0 && flood_here(m, h, o, m->comp_name[c])) {
            hs->comps[hs->n_comps++] = c;
        }
    }
    for (size_t i = 0; i < o->n_cookies; i++) {
        uint64_t ck = o->cookies[i];
        if ((ck & NM_COOKIE_MASK) != NM_COOKIE_MAGIC || (ck >> 56 & 0xf) != NM_CK_COMP
            || flood_here(m, h, o, (uint32_t) ck)) {
            hs->cookies[hs->n_cookies++] = ck;
        }
    }
    return 0;
}

int
recon_flows_plan(struct reconciler *r, const struct netmodel *m, int h, struct agent *a,
                 const struct recon_owners *owners)
{
    struct recon_plan *p = &a->plan;
    recon_plan_clear(p);
    struct flowtable *unflagged = NULL;
    bool readback = a->readback || !a->ft;
    if (readback) {
        owners = NULL;              /* a read-back is diffed whole */
        unflagged = flowtable_create(r->ftpool);
        int rc = unflagged ? read_back(r, a, unflagged) : ENOMEM;
        if (rc) {
            flowtable_destroy(unflagged);
            return rc;
        }
        if (!flowtable_count(unflagged)) {
            flowtable_destroy(unflagged);
            unflagged = NULL;
        }
    }
    struct nm_flows want = {0};
    struct host_scope hs = {0};
    int rc = ENOMEM;
    if (owners && host_scope_init(&hs, m, h, owners)) {
        goto out;
    }
    if (owners ? netmodel_flows_owners(m, h, lookup_ofport, a, owners->vms, owners->n_vms,
                                       hs.comps, hs.n_comps, &want)
               : netmodel_flows(m, h, lookup_ofport, a, &want)) {
        goto out;
    }
    if ((rc = recon_meters_plan(r, a, &want, !owners, readback))
        || (rc = recon_groups_plan(r, m, h, a, readback, lookup_ofport, a))) {
        goto out;
    }
    rc = ENOMEM;
    flowtable_begin(a->ft);
    if (unflagged) {
        flowtable_begin(unflagged);
    }
    struct plan_ctx pc = { r, p, a, unflagged };
    for (size_t i = 0; i < want.n; i++) {
        struct ofmsg msg;
        rc = to_flow_mod(&want.v[i], &msg);
        if (!rc) {
            rc = plan_flow(&pc, &msg);
        }
        ofmsg_uninit(&msg);
        if (rc) {
            goto out;
        }
    }
    /* The tenant controllers' flows (ctrl/vtranslate.h): every controlled
     * switch in a whole plan, the changed ones in an owners' plan. */
    if ((!owners || owners->n_vsws)
        && (rc = vtranslate_host(m, h, owners ? owners->vsws : NULL,
                                 owners ? owners->n_vsws : 0, plan_flow, &pc))) {
        goto out;
    }
    rc = owners ? flowtable_sweep_cookies(a->ft, hs.cookies, hs.n_cookies,
                                          &p->dels, &p->n_dels, &p->cap_dels)
                : flowtable_sweep(a->ft, NULL, NULL, &p->dels, &p->n_dels, &p->cap_dels);
    if (!rc && unflagged) {
        size_t n_known = p->n_dels;
        rc = flowtable_sweep(unflagged, NULL, NULL, &p->dels, &p->n_dels, &p->cap_dels);
        a->drift += p->n_dels - n_known;
    }
    if (rc) {
        goto out;
    }
    if (p->n_adds) {
        qsort(p->adds, p->n_adds, sizeof *p->adds, cmp_add_desc);
    }
    if (p->n_dels) {
        qsort(p->dels, p->n_dels, sizeof *p->dels, cmp_table_asc);
    }
    p->active = true;

out:
    if (rc) {
        recon_plan_clear(p);
        recon_agent_error(a, "out of memory");
    }
    flowtable_destroy(unflagged);
    nm_flows_clear(&want);
    free(hs.comps);
    free(hs.cookies);
    return rc;
}

/* --- the ordering engine --- */

/* One level's batches in flight, completed on the loop thread. */
struct level {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    size_t pending;
};

struct level_slot {
    struct level *lv;
    struct agent *a;
    struct ofmsg *msgs;             /* additions: decoded, owned */
    size_t n;
    bool adds;
    int error;
    size_t failed;
    uint8_t etype, ecode;
};

static void
level_done(void *aux, int error, size_t failed, const struct ofmsg_error *err)
{
    struct level_slot *s = aux;
    pthread_mutex_lock(&s->lv->mu);
    s->error = error;
    s->failed = failed;
    if (err) {
        s->etype = (uint8_t) err->type;
        s->ecode = (uint8_t) err->code;
    }
    if (!--s->lv->pending) {
        pthread_cond_signal(&s->lv->cv);
    }
    pthread_mutex_unlock(&s->lv->mu);
}

/* Records a confirmed (or failed) batch in its bridge's table. */
static void
level_record(struct reconciler *r, struct level_slot *s)
{
    struct agent *a = s->a;
    if (s->error) {
        const char *what = s->adds ? "flow" : "flow deletion";
        if (s->error == EPROTO && s->adds && s->failed < s->n
            && is_tenant_flow(&s->msgs[s->failed])) {
            /* A tenant's flow the switch cannot take (a prerequisite of an
             * action, say): left out of the next plans, which read the
             * bridge back and go on without it. */
            VLOG_WRN(RECON_MOD, "bridge %016" PRIx64 " refused tenant flow of table %u "
                     "priority %u (error type %u code %u): left out", a->dpid,
                     s->msgs[s->failed].u.flow_mod.table_id,
                     s->msgs[s->failed].u.flow_mod.priority, s->etype, s->ecode);
            vreject_add(r, &s->msgs[s->failed]);
            pthread_mutex_lock(&r->mu);
            r->stats.tenant_flows_rejected++;
            pthread_mutex_unlock(&r->mu);
            recon_agent_error(a, "openflow: the switch refused a tenant controller's flow "
                              "(error type %u code %u); it is left out", s->etype,
                              s->ecode);
        } else if (s->error == EPROTO) {
            recon_agent_error(a, "openflow: the switch rejected %s %zu of %zu "
                              "(error type %u code %u)", what, s->failed + 1, s->n,
                              s->etype, s->ecode);
        } else {
            recon_agent_error(a, "openflow: %s: %s", what, strerror(s->error));
        }
        a->plan.error = s->error;
        a->readback = true;         /* OpenFlow has no transactions */
        return;
    }
    bool oom = false;
    for (size_t i = 0; i < s->n; i++) {
        const struct ofmsg_flow_mod *fm = &s->msgs[i].u.flow_mod;
        if (s->adds) {
            oom |= flowtable_set(a->ft, fm) != 0;
        } else {
            flowtable_remove(a->ft, fm->table_id, fm->priority, &fm->match);
        }
    }
    a->readback |= oom;
    pthread_mutex_lock(&r->mu);
    if (s->adds) {
        r->stats.flows_added += s->n;
    } else {
        r->stats.flows_deleted += s->n;
    }
    pthread_mutex_unlock(&r->mu);
}

/* The additions p->adds[from..to) decoded (caller uninits and frees),
 * NULL if memory runs out. */
static struct ofmsg *
decode_adds(const struct recon_plan *p, size_t from, size_t to)
{
    struct ofmsg *v = calloc(to - from, sizeof *v);
    for (size_t i = from; v && i < to; i++) {
        const struct recon_add *ad = &p->adds[i];
        if (ofmsg_decode(p->wire.data + ad->off, ad->len, &v[i - from]) != OFERR_NONE) {
            for (size_t j = from; j <= i; j++) {
                ofmsg_uninit(&v[j - from]);
            }
            free(v);
            return NULL;
        }
    }
    return v;
}

/* The level a flow-mod of table 'table' goes in: the ingress tables
 * (classify, tenant) each alone, every deeper table together (see the file
 * comment: deeper tables are reached only through an ingress rule or a
 * tunnel from another bridge's deeper table, and one bridge applies one
 * connection's flow-mods in order, so within a bridge the batch keeps the
 * deepest-first order without a barrier between its tables). */
static int level_of(int table);

/* Whether the next additions of level 'level' replace a forwarding flow
 * on any bridge (recon_add.repoints). */
static bool
level_repoints(struct agent **agents, size_t n, int level)
{
    for (size_t i = 0; i < n; i++) {
        const struct recon_plan *p = &agents[i]->plan;
        for (size_t k = p->next_add; !p->error && k < p->n_adds
                                     && level_of(p->adds[k].table) == level; k++) {
            if (p->adds[k].repoints) {
                return true;
            }
        }
    }
    return false;
}

static int
level_of(int table)
{
    return table > NM_T_TENANT ? NM_T_TENANT + 1 : table;
}

/* Sends one level (every bridge's run of flow-mods whose table is of level
 * 'level', adds or deletions; at most RECON_LEVEL_CHUNK per bridge, the
 * rest in the next rounds of the same level) and waits until every bridge
 * confirmed it or failed. */
static void
run_level(struct reconciler *r, struct agent **agents, size_t n, bool adds, int level)
{
    struct level lv = { .pending = 0 };
    pthread_mutex_init(&lv.mu, NULL);
    pthread_cond_init(&lv.cv, NULL);
    struct level_slot *slots = calloc(n ? n : 1, sizeof *slots);
    if (!slots) {
        for (size_t i = 0; i < n; i++) {
            recon_agent_error(agents[i], "out of memory");
            agents[i]->plan.error = ENOMEM;
        }
        goto out;
    }
    for (size_t i = 0; i < n; i++) {
        struct recon_plan *p = &agents[i]->plan;
        size_t total = adds ? p->n_adds : p->n_dels, *next = adds ? &p->next_add
                                                                  : &p->next_del;
        size_t k = *next;
        while (k < total && k - *next < RECON_LEVEL_CHUNK
               && level_of(adds ? p->adds[k].table
                                : p->dels[k].u.flow_mod.table_id) == level) {
            k++;
        }
        if (p->error || k == *next) {
            continue;
        }
        struct ofmsg *msgs = adds ? decode_adds(p, *next, k) : p->dels + *next;
        if (!msgs) {
            recon_agent_error(agents[i], "out of memory");
            p->error = ENOMEM;
            continue;
        }
        slots[i] = (struct level_slot) {
            .lv = &lv, .a = agents[i], .msgs = msgs, .n = k - *next, .adds = adds,
        };
        *next = k;
        pthread_mutex_lock(&lv.mu);
        lv.pending++;
        pthread_mutex_unlock(&lv.mu);
        int rc = ofctl_submit(r->ctl, agents[i]->dpid, slots[i].msgs, slots[i].n,
                              level_done, &slots[i]);
        if (rc) {
            pthread_mutex_lock(&lv.mu);
            lv.pending--;
            pthread_mutex_unlock(&lv.mu);
            slots[i].error = rc;
        }
    }
    /* ofctl calls every completion exactly once (a barrier reply, the
     * connection's loss, or its request timeout), so this wait ends; the
     * OVSDB sessions are kept alive meanwhile (a first pass's levels are
     * long). */
    pthread_mutex_lock(&lv.mu);
    while (lv.pending) {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        ts.tv_nsec += RECON_KEEPALIVE_MS * 1000000L;
        if (ts.tv_nsec >= 1000000000L) {
            ts.tv_sec++;
            ts.tv_nsec -= 1000000000L;
        }
        if (pthread_cond_timedwait(&lv.cv, &lv.mu, &ts) && lv.pending) {
            pthread_mutex_unlock(&lv.mu);
            recon_keepalive(r);
            pthread_mutex_lock(&lv.mu);
        }
    }
    pthread_mutex_unlock(&lv.mu);
    for (size_t i = 0; i < n; i++) {
        if (slots[i].a) {
            level_record(r, &slots[i]);
        }
        if (slots[i].adds) {
            for (size_t j = 0; j < slots[i].n; j++) {
                ofmsg_uninit(&slots[i].msgs[j]);
            }
            free(slots[i].msgs);
        }
    }
out:
    free(slots);
    pthread_cond_destroy(&lv.cv);
    pthread_mutex_destroy(&lv.mu);
}

/* The next level: that of the deepest (adds) or shallowest (deletions)
 * table some bridge still has to change, -1 when none.  A level no bridge
 * has anything for is never sent: it costs no barrier. */
static int
next_table(struct agent **agents, size_t n, bool adds)
{
    int best = -1;
    for (size_t i = 0; i < n; i++) {
        const struct recon_plan *p = &agents[i]->plan;
        if (p->error) {
            continue;
        }
        if (adds && p->next_add < p->n_adds) {
            int t = level_of(p->adds[p->next_add].table);
            best = best < 0 || t > best ? t : best;
        } else if (!adds && p->next_del < p->n_dels) {
            int t = level_of(p->dels[p->next_del].u.flow_mod.table_id);
            best = best < 0 || t < best ? t : best;
        }
    }
    return best;
}

/* Whether a tenant-table miss reached the controller (a reactive forward
 * or drop) within RECON_DATAPATH_IDLE_MS: only then may a datapath hold a
 * cached flow sending some destination's frames to the controller, which
 * a new tenant rule replaces only once revalidated.  A network nobody
 * sends into unmapped destinations pays no settling wait.  Conservative:
 * misses are noticed when this is called, so the first call after a quiet
 * hour that follows old misses answers true once. */
static bool
tenant_misses_recent(struct reconciler *r)
{
    pthread_mutex_lock(&r->mu);
    unsigned long long seen = r->stats.reactive_forwarded + r->stats.reactive_dropped;
    pthread_mutex_unlock(&r->mu);
    long long now = recon_now_us();
    if (seen != r->misses_seen) {
        r->misses_seen = seen;
        r->misses_us = now;
    }
    return r->misses_us && now - r->misses_us < RECON_DATAPATH_IDLE_MS * 1000LL;
}

void
recon_flows_apply(struct reconciler *r, struct agent **agents, size_t n)
{
    recon_meters_apply(r, agents, n, true);     /* before the flows naming them */
    for (int t; (t = next_table(agents, n, true)) >= 0;) {
        recon_keepalive(r);
        bool repoints = level_repoints(agents, n, t);
        run_level(r, agents, n, true, t);
        if (repoints && next_table(agents, n, true) >= 0) {
            /* A path moved (a VM's, a migration's): the barriers confirm
             * the OpenFlow tables, and the datapath's cached flows follow
             * a little later; the ingress rules that send traffic onto the
             * new path wait for them, or the old path would still carry
             * it meanwhile, toward what is about to go. */
            struct timespec ts = { 0, RECON_REPOINT_SETTLE_MS * 1000000L };
            nanosleep(&ts, NULL);
        }
        if (t == NM_T_TENANT && next_table(agents, n, true) == NM_T_CLASSIFY
            && tenant_misses_recent(r)) {
            /* A barrier confirms the OpenFlow tables, not the datapath:
             * ovs-vswitchd revalidates its cached datapath flows (here, a
             * tenant-table miss still sending frames to the controller)
             * asynchronously, a few milliseconds later.  Port security is
             * what lets a new VM's traffic in: it waits that long, when
             * such cached misses can exist at all. */
            struct timespec ts = { 0, RECON_DATAPATH_SETTLE_MS * 1000000L };
            nanosleep(&ts, NULL);
        }
    }
    for (int t; (t = next_table(agents, n, false)) >= 0;) {
        recon_keepalive(r);
        run_level(r, agents, n, false, t);
    }
    for (size_t i = 0; i < n; i++) {
        if (recon_meters_sweep(agents[i])) {
            VLOG_WRN(RECON_MOD, "bridge %016" PRIx64 ": out of memory sweeping meters",
                     agents[i]->dpid);
        }
    }
    recon_meters_apply(r, agents, n, false);    /* once no flow names them */
    unsigned long long kept = 0, repaired = 0;
    for (size_t i = 0; i < n; i++) {
        struct agent *a = agents[i];
        kept += a->plan.n_kept;
        if (!a->plan.error) {
            repaired += a->drift;
            a->drift = 0;
        }
        if (a->plan.n_adds || a->plan.n_dels) {
            VLOG_DBG(RECON_MOD, "bridge %016" PRIx64 ": %zu flows added, %zu deleted, "
                     "%zu kept%s", a->dpid, a->plan.n_adds, a->plan.n_dels,
                     a->plan.n_kept, a->plan.error ? " (failed)" : "");
        }
    }
    pthread_mutex_lock(&r->mu);
    r->stats.flows_kept += kept;
    r->stats.drift_repaired += repaired;
    pthread_mutex_unlock(&r->mu);
}

/* --- what the loop thread reported --- */

static struct agent *
agent_by_dpid(struct reconciler *r, uint64_t dpid)
{
    for (size_t i = 0; i < r->n_agents; i++) {
        if (r->agents[i].dpid == dpid) {
            return &r->agents[i];
        }
    }
    return NULL;
}

void
recon_flows_reconnected(struct reconciler *r)
{
    pthread_mutex_lock(&r->mu);
    for (size_t i = 0; i < r->n_reconnected; i++) {
        struct agent *a = agent_by_dpid(r, r->reconnected[i]);
        if (a) {
            a->readback = true;
            a->fresh = true;
        }
    }
    r->n_reconnected = 0;
    pthread_mutex_unlock(&r->mu);
}

bool
recon_flows_events(struct reconciler *r)
{
    pthread_mutex_lock(&r->mu);
    struct recon_event *ev = r->events;
    size_t n = r->n_events;
    r->events = NULL;
    r->n_events = 0;
    pthread_mutex_unlock(&r->mu);
    bool repair = false;
    unsigned long long found = 0;
    long long now = recon_now_us();
    for (size_t i = 0; i < n; i++) {
        struct agent *a = agent_by_dpid(r, ev[i].dpid);
        if (!a || !a->ft || a->readback) {
            continue;
        }
        if (ev[i].miss) {
            /* The bridge was in sync with the model after the last pass,
             * yet a frame the model forwards missed: something the table
             * holds is not on the bridge.  At most one read-back a second. */
            if (a->in_sync && now - a->readback_us >= RECON_MISS_READBACK_US) {
                a->readback = true;
                repair = true;
            }
        } else if (flowtable_remove(a->ft, ev[i].table, ev[i].priority, &ev[i].match)) {
            a->replan = true;       /* the next pass compiles it again */
            a->drift++;
            found++;
            repair = true;
        }
    }
    free(ev);
    if (found) {
        pthread_mutex_lock(&r->mu);
        r->stats.drift_found += found;
        pthread_mutex_unlock(&r->mu);
    }
    return repair;
}

bool
recon_lldp_probe(struct reconciler *r, const struct netmodel *m, int h, struct agent *a)
{
    const struct ovsdb_replica *rep = ovsdb_get_replica(a->db);
    bool all = true;
    for (const int *peer = m->adj[h]; *peer >= 0; peer++) {
        char name[16];
        netmodel_tunnel_name(m, h, *peer, name);
        uint32_t port = recon_ofport(rep, name);
        uint8_t frame[128];
        size_t n = port ? recon_lldp_build(frame, sizeof frame, a->dpid, port) : 0;
        if (n) {
            recon_packet_out(r, a->dpid, port, frame, n);
        }
        all &= port != 0;
    }
    return all;
}

