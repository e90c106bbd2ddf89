/* recon_flows.c: flow translation, the diff and the ordering engine, on
 * the reconciler thread.
 *
 * A bridge's desired flows (core/netmodel.h, with the port numbers OVSDB
 * reports) are encoded as ADD flow-mods and diffed against what the
 * bridge holds by identity (table, priority, match): a flow with the same
 * cookie and instructions is kept untouched, so a restarted skyvisord
 * adopts what its predecessor installed.  Additions go deepest table
 * first, deletions from the ingress table on, each batch closed by a
 * barrier. */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/vlog.h"
#include "ctrl/ofmsg.h"
#include "ctrl/ovsdb.h"
#include "ctrl/recon_internal.h"

static const enum mf nf_to_mf[NF__COUNT] = {
    [NF_IN_PORT] = MF_IN_PORT, [NF_ETH_DST] = MF_ETH_DST, [NF_ETH_SRC] = MF_ETH_SRC,
    [NF_ETH_TYPE] = MF_ETH_TYPE, [NF_IPV4_SRC] = MF_IPV4_SRC,
    [NF_ARP_SPA] = MF_ARP_SPA, [NF_ARP_SHA] = MF_ARP_SHA, [NF_METADATA] = MF_METADATA,
};

/* Encodes a desired flow as an ADD flow-mod (caller uninits 'msg'). */
static int
to_flow_mod(const struct nm_flow *f, struct ofmsg *msg)
{
    ofmsg_init(msg, OFPT_FLOW_MOD, 0);
    struct ofmsg_flow_mod *fm = &msg->u.flow_mod;
    fm->cookie = f->cookie;
    fm->table_id = f->table;
    fm->command = OFPFC_ADD;
    fm->priority = f->priority;
    fm->buffer_id = OFP_NO_BUFFER;
    fm->out_port = OFPP_ANY;
    fm->out_group = OFPG_ANY;
    ofmatch_init(&fm->match);
    /* Prerequisites first, as OpenFlow wants them. */
    static const enum nm_field order[] = {
        NF_IN_PORT, NF_METADATA, NF_ETH_DST, NF_ETH_SRC, NF_ETH_TYPE, NF_IPV4_SRC,
        NF_ARP_SPA, NF_ARP_SHA,
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
                + (f->goto_table != NM_NO_GOTO ? 1 : 0);
    fm->insts = calloc(ni ? ni : 1, sizeof *fm->insts);
    if (!fm->insts) {
        return ENOMEM;
    }
    size_t k = 0;
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

static uint64_t
mix(uint64_t h, uint64_t v)
{
    h ^= v + 0x9e3779b97f4a7c15ull + (h << 6) + (h >> 2);
    return h * 0xff51afd7ed558ccdull;
}

static uint64_t
flow_key_hash(uint8_t table, uint16_t prio, const struct ofmatch *m)
{
    uint64_t h = mix(table, prio);
    for (int f = 0; f < MF__COUNT; f++) {
        uint64_t v, mask;
        if (ofmatch_get(m, (enum mf) f, &v, &mask)) {
            h = mix(h, (uint64_t) f);
            h = mix(h, v);
            h = mix(h, mask);
        }
    }
    return h;
}

/* Compares two instruction lists by their encodings, in the reconciler's
 * two scratch buffers (reused, so a pass over thousands of flows does not
 * allocate per comparison). */
static bool
insts_equal(struct reconciler *r, const struct ofinst *a, size_t na,
            const struct ofinst *b, size_t nb)
{
    struct buf *x = &r->scratch[0], *y = &r->scratch[1];
    buf_clear(x);
    buf_clear(y);
    ofaction_encode_insts(a, na, x);
    ofaction_encode_insts(b, nb, y);
    return !x->failed && !y->failed && x->len == y->len
           && (!x->len || !memcmp(x->data, y->data, x->len));
}

static int
cmp_table_desc(const void *a, const void *b)
{
    const struct ofmsg *x = a, *y = b;
    return (int) y->u.flow_mod.table_id - (int) x->u.flow_mod.table_id;
}

static int
cmp_table_asc(const void *a, const void *b)
{
    return -cmp_table_desc(a, b);
}

static uint32_t
lookup_ofport(void *aux, int h, const char *name)
{
    (void) h;
    return recon_ofport(aux, name);
}

static int
submit(struct reconciler *r, struct agent *a, struct ofmsg *msgs, size_t n,
       const char *what)
{
    if (!n) {
        return 0;
    }
    size_t failed = 0;
    struct ofmsg_error err = {0};
    int rc = ofctl_submit_wait(r->ctl, a->dpid, msgs, n, RECON_OF_TIMEOUT_MS, &failed, &err);
    if (rc == EPROTO) {
        recon_agent_error(a, "openflow: the switch rejected %s %zu of %zu (error type %u code %u)",
                    what, failed + 1, n, err.type, err.code);
        free(err.data);
    } else if (rc) {
        recon_agent_error(a, "openflow: %s: %s", what, strerror(rc));
    }
    return rc;
}

int
recon_flow_pass(struct reconciler *r, const struct netmodel *m, int h, struct agent *a)
{
    struct nm_flows want = {0};
    if (netmodel_flows(m, h, lookup_ofport, (void *) ovsdb_get_replica(a->db), &want)) {
        recon_agent_error(a, "out of memory");
        return ENOMEM;
    }
    struct offlow_stats *have = NULL;
    size_t n_have = 0;
    int rc = ofctl_dump_flows_wait(r->ctl, a->dpid, NM_COOKIE_MAGIC, NM_COOKIE_MASK,
                                   RECON_OF_TIMEOUT_MS, &have, &n_have);
    if (rc) {
        recon_agent_error(a, "openflow: reading flows: %s", strerror(rc));
        nm_flows_clear(&want);
        return rc;
    }

    size_t cap = 16;
    while (cap < 2 * (n_have + 1)) {
        cap *= 2;
    }
    size_t *slots = malloc(cap * sizeof *slots);         /* index + 1, 0 empty */
    bool *kept = calloc(n_have ? n_have : 1, sizeof *kept);
    struct ofmsg *adds = calloc(want.n ? want.n : 1, sizeof *adds);
    struct ofmsg *dels = calloc(n_have ? n_have : 1, sizeof *dels);
    size_t n_adds = 0, n_dels = 0, n_kept = 0;
    if (!slots || !kept || !adds || !dels) {
        rc = ENOMEM;
        goto out;
    }
    memset(slots, 0, cap * sizeof *slots);
    for (size_t i = 0; i < n_have; i++) {
        uint64_t k = flow_key_hash(have[i].table_id, have[i].priority, &have[i].match);
        size_t s = k & (cap - 1);
        while (slots[s]) {
            s = (s + 1) & (cap - 1);
        }
        slots[s] = i + 1;
    }
    for (size_t i = 0; i < want.n; i++) {
        struct ofmsg *msg = &adds[n_adds];
        if ((rc = to_flow_mod(&want.v[i], msg))) {
            ofmsg_uninit(msg);
            goto out;
        }
        const struct ofmsg_flow_mod *fm = &msg->u.flow_mod;
        uint64_t k = flow_key_hash(fm->table_id, fm->priority, &fm->match);
        bool same = false;
        for (size_t s = k & (cap - 1); slots[s]; s = (s + 1) & (cap - 1)) {
            const struct offlow_stats *fs = &have[slots[s] - 1];
            if (fs->table_id == fm->table_id && fs->priority == fm->priority
                && ofmatch_equal(&fs->match, &fm->match)) {
                kept[slots[s] - 1] = true;
                same = fs->cookie == fm->cookie
                       && insts_equal(r, fs->insts, fs->n_insts, fm->insts, fm->n_insts);
                break;
            }
        }
        if (same) {
            ofmsg_uninit(msg);
            n_kept++;
        } else {
            n_adds++;
        }
    }
    for (size_t i = 0; i < n_have; i++) {
        if (kept[i]) {
            continue;
        }
        struct ofmsg *msg = &dels[n_dels++];
        ofmsg_init(msg, OFPT_FLOW_MOD, 0);
        struct ofmsg_flow_mod *fm = &msg->u.flow_mod;
        fm->table_id = have[i].table_id;
        fm->command = OFPFC_DELETE_STRICT;
        fm->priority = have[i].priority;
        fm->buffer_id = OFP_NO_BUFFER;
        fm->out_port = OFPP_ANY;
        fm->out_group = OFPG_ANY;
        fm->match = have[i].match;
    }
    qsort(adds, n_adds, sizeof *adds, cmp_table_desc);
    qsort(dels, n_dels, sizeof *dels, cmp_table_asc);
    rc = submit(r, a, adds, n_adds, "flow");
    if (!rc) {
        rc = submit(r, a, dels, n_dels, "flow deletion");
    }
    pthread_mutex_lock(&r->mu);
    r->stats.flows_added += rc ? 0 : n_adds;
    r->stats.flows_deleted += rc ? 0 : n_dels;
    r->stats.flows_kept += n_kept;
    pthread_mutex_unlock(&r->mu);
    if (n_adds || n_dels) {
        VLOG_DBG(RECON_MOD, "host %s: %zu flows added, %zu deleted, %zu kept",
                 m->hosts[h].o.name, n_adds, n_dels, n_kept);
    }

out:
    for (size_t i = 0; adds && i < n_adds; i++) {
        ofmsg_uninit(&adds[i]);
    }
    free(adds);
    free(dels);                     /* matches were copied, nothing owned */
    free(kept);
    free(slots);
    ofctl_free_flows(have, n_have);
    nm_flows_clear(&want);
    return rc;
}

void
recon_lldp_probe(struct reconciler *r, const struct netmodel *m, int h, struct agent *a)
{
    const struct ovsdb_replica *rep = ovsdb_get_replica(a->db);
    for (const int *peer = m->adj[h]; *peer >= 0; peer++) {
        char name[16];
        netmodel_tunnel_name(m, h, *peer, name);
        uint32_t port = recon_ofport(rep, name);
        uint8_t frame[128];
        size_t n = port ? recon_lldp_build(frame, sizeof frame, a->dpid, port) : 0;
        if (n) {
            recon_packet_out(r, a->dpid, port, frame, n);
        }
    }
}

