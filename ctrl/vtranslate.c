/* vtranslate.c: see vtranslate.h. */
#include "ctrl/vtranslate.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "ctrl/buf.h"

#define META_HIGH 0xffffffff00000000ull
#define NXAST_CLONE 42
#define NXAST_RESUBMIT_TABLE 14

/* A link of the switch to a controlled peer: its port here, the peer's
 * seq and its end's port. */
struct vt_link {
    uint32_t port, peer_seq, peer_port;
};

/* One controlled switch being compiled. */
struct vt_sw {
    int sw;
    uint32_t seq;
    const struct ctl_switch *cs;
    int *vms;                       /* its VMs with a virtual port */
    size_t n_vms;
    struct vt_link *links;
    size_t n_links;
    uint32_t *plinks;               /* its ports on links to switches the
                                     * platform forwards for */
    size_t n_plinks;
    uint32_t comp;                  /* its component's name */
};

/* --- actions --- */

struct vt_acts {
    struct ofaction *v;
    size_t n, cap;
};

static struct ofaction *
acts_push(struct vt_acts *l)
{
    if (l->n == l->cap) {
        size_t cap = l->cap ? 2 * l->cap : 8;
        struct ofaction *g = realloc(l->v, cap * sizeof *g);
        if (!g) {
            return NULL;
        }
        l->v = g;
        l->cap = cap;
    }
    struct ofaction *a = &l->v[l->n++];
    memset(a, 0, sizeof *a);
    return a;
}

/* An Open vSwitch extension action of 'subtype' whose body is 'body'
 * (len bytes, a multiple of 8 after the 10-byte header's padding) into
 * a->raw. */
static int
nx_action(struct ofaction *a, uint16_t subtype, const uint8_t *head, size_t head_len,
          const uint8_t *body, size_t len)
{
    size_t total = 10 + head_len + len;
    a->type = 0xffff;
    a->raw = calloc(1, total);
    if (!a->raw) {
        return ENOMEM;
    }
    a->raw_len = total;
    uint8_t *p = a->raw;
    p[0] = 0xff;
    p[1] = 0xff;
    p[2] = (uint8_t) (total >> 8);
    p[3] = (uint8_t) total;
    p[6] = 0x23;                    /* NX_VENDOR_ID 0x00002320 */
    p[7] = 0x20;
    p[8] = (uint8_t) (subtype >> 8);
    p[9] = (uint8_t) subtype;
    memcpy(p + 10, head, head_len);
    if (len) {
        memcpy(p + 10 + head_len, body, len);
    }
    return 0;
}

/* resubmit(,table), in_port kept: exactly as Open vSwitch reports it. */
static int
act_resubmit(struct ofaction *a, uint8_t table)
{
    const uint8_t head[6] = { 0xff, 0xf8, table, 0, 0, 0 };
    return nx_action(a, NXAST_RESUBMIT_TABLE, head, sizeof head, NULL, 0);
}

/* clone(set_field:'value'->'field', resubmit(,'table')). */
static int
push_clone(struct vt_acts *l, enum mf field, uint64_t value, uint8_t table)
{
    struct ofaction inner[2];
    memset(inner, 0, sizeof inner);
    inner[0].type = OFPAT_SET_FIELD;
    inner[0].u.set_field.field = (uint8_t) field;
    inner[0].u.set_field.value = value;
    int rc = act_resubmit(&inner[1], table);
    struct ofaction *a = rc ? NULL : acts_push(l);
    if (!rc && a) {
        struct buf b;
        buf_init(&b);
        ofaction_encode_list(inner, 2, &b);
        static const uint8_t pad[6];
        rc = b.failed ? ENOMEM : nx_action(a, NXAST_CLONE, pad, sizeof pad, b.data, b.len);
        buf_uninit(&b);
        if (rc) {
            l->n--;
        }
    } else if (!rc) {
        rc = ENOMEM;
    }
    free(inner[1].raw);
    return rc;
}

/* The clones that deliver to VM 'v' (one per platform MAC an ingress
 * edge sends to in its phase). */
static int
push_vm(const struct netmodel *m, struct vt_acts *l, int v)
{
    uint64_t macs[2];
    int n = netmodel_vm_ingress_macs(m, v, macs);
    int rc = 0;
    for (int i = 0; !rc && i < n; i++) {
        rc = push_clone(l, MF_ETH_DST, macs[i], NM_T_SRC_TAG);
    }
    return rc;
}

static int
push_link(struct vt_acts *l, const struct vt_link *k)
{
    return push_clone(l, MF_METADATA, (uint64_t) k->peer_seq << 32 | k->peer_port,
                      NM_T_VTENANT);
}

static int
push_copy(struct vt_acts *l, const struct ofaction *src)
{
    struct ofaction *a = acts_push(l);
    if (!a) {
        return ENOMEM;
    }
    *a = *src;
    if (src->raw) {
        if (!(a->raw = malloc(src->raw_len))) {
            l->n--;
            return ENOMEM;
        }
        memcpy(a->raw, src->raw, src->raw_len);
    }
    return 0;
}

/* Into the platform's tenant table as a frame of the component, marked as
 * a controlled switch's (core/netmodel.h, NM_META_FROM_VTENANT). */
static int
push_platform(struct vt_acts *l, const struct vt_sw *s)
{
    return push_clone(l, MF_METADATA, (uint64_t) s->comp << 32 | NM_META_FROM_VTENANT,
                      NM_T_TENANT);
}

static bool
sw_plink(const struct vt_sw *s, uint32_t port)
{
    for (size_t i = 0; i < s->n_plinks; i++) {
        if (s->plinks[i] == port) {
            return true;
        }
    }
    return false;
}

static const struct vt_link *
sw_link(const struct vt_sw *s, uint32_t port)
{
    for (size_t i = 0; i < s->n_links; i++) {
        if (s->links[i].port == port) {
            return &s->links[i];
        }
    }
    return NULL;
}

static int
sw_vm(const struct netmodel *m, const struct vt_sw *s, uint32_t port)
{
    for (size_t i = 0; i < s->n_vms; i++) {
        if (netmodel_vm_vport(m, s->vms[i]) == port) {
            return s->vms[i];
        }
    }
    return -1;
}

/* One tenant output, translated (vtranslate.h). */
static int
push_output(const struct netmodel *m, const struct vt_sw *s, struct vt_acts *l,
            const struct ofaction *a, uint32_t in_port)
{
    uint32_t port = a->u.output.port;
    const struct vt_link *k;
    int v, rc = 0;
    switch (port) {
    case OFPP_CONTROLLER:
        return push_copy(l, a);
    case OFPP_IN_PORT:
        if (in_port && (k = sw_link(s, in_port))) {
            return push_link(l, k);
        }
        if (in_port && sw_plink(s, in_port)) {
            return push_platform(l, s);
        }
        return push_copy(l, a);
    case OFPP_FLOOD:
    case OFPP_ALL:
        for (size_t i = 0; !rc && i < s->n_vms; i++) {
            rc = push_vm(m, l, s->vms[i]);
        }
        for (size_t i = 0; !rc && i < s->n_links; i++) {
            if (s->links[i].port != in_port) {
                rc = push_link(l, &s->links[i]);
            }
        }
        if (!rc && s->n_plinks && !sw_plink(s, in_port)) {
            rc = push_platform(l, s);   /* one copy: the platform floods */
        }
        return rc;
    default:
        if ((k = sw_link(s, port))) {
            return push_link(l, k);
        }
        if (sw_plink(s, port)) {
            return push_platform(l, s);
        }
        v = sw_vm(m, s, port);
        return v >= 0 ? push_vm(m, l, v) : 0;
    }
}

/* --- flows --- */

bool
vtranslate_punts(const struct ofinst *insts, size_t n, bool linked, bool vm_in)
{
    for (size_t i = 0; i < n; i++) {
        const struct ofinst *in = &insts[i];
        if (in->type == OFPIT_WRITE_ACTIONS || in->type == OFPIT_CLEAR_ACTIONS) {
            return true;
        }
        for (size_t k = 0; in->type == OFPIT_APPLY_ACTIONS && k < in->n_actions; k++) {
            const struct ofaction *a = &in->actions[k];
            uint32_t p = a->u.output.port;
            if (!a->raw && a->type == OFPAT_OUTPUT && linked && !vm_in
                && (p == OFPP_FLOOD || p == OFPP_ALL || p == OFPP_IN_PORT)) {
                return true;
            }
        }
    }
    return false;
}

/* The physical match of tenant match 'tm' on switch 's' into *pm; its
 * virtual in_port in *in_port (0: none). */
static void
phys_match(const struct ofmatch *tm, uint32_t seq, struct ofmatch *pm, uint32_t *in_port)
{
    *pm = *tm;
    uint64_t v = 0, mask;
    bool has_in = ofmatch_get(tm, MF_IN_PORT, &v, &mask);
    *in_port = has_in ? (uint32_t) v : 0;
    if (has_in) {
        size_t w = 0;
        for (size_t i = 0; i < pm->n; i++) {
            if (pm->order[i] != MF_IN_PORT) {
                pm->order[w++] = pm->order[i];
            }
        }
        pm->n = (uint8_t) w;
        pm->value[MF_IN_PORT] = pm->mask[MF_IN_PORT] = 0;
        pm->masked &= ~(1u << MF_IN_PORT);
        ofmatch_set(pm, MF_METADATA, (uint64_t) seq << 32 | *in_port);
    } else {
        ofmatch_set_masked(pm, MF_METADATA, (uint64_t) seq << 32, META_HIGH);
    }
}

static int
compile_flow(const struct netmodel *m, const struct vt_sw *s, const struct ctl_flow *cf,
             uint64_t cookie, vtranslate_emit_fn *emit, void *aux)
{
    struct ofmatch tm;
    struct ofinst *ti = NULL;
    size_t n_ti = 0;
    struct pull pm, pi;
    pull_init(&pm, cf->match, cf->match_len);
    pull_init(&pi, cf->insts, cf->insts_len);
    if (cf->table >= NM_VT_TABLES || ofmatch_decode(&pm, &tm) != OFERR_NONE
        || ofaction_decode_insts(&pi, cf->insts_len, &ti, &n_ti) != OFERR_NONE) {
        return 0;
    }
    struct ofmsg msg;
    struct ofmsg_flow_mod *fm = ofmsg_flow_mod_init(
        &msg, OFPFC_ADD, (uint8_t) (NM_T_VTENANT + cf->table), cf->priority, cookie);
    uint32_t in_port;
    phys_match(&tm, s->seq, &fm->match, &in_port);
    bool vm_in = in_port && sw_vm(m, s, in_port) >= 0;
    bool punt = vtranslate_punts(ti, n_ti, s->n_links + s->n_plinks > 0, vm_in);
    fm->cookie |= punt ? VT_COOKIE_PUNT : 0;
    int rc = 0;
    fm->insts = calloc(n_ti ? n_ti : 1, sizeof *fm->insts);
    if (!fm->insts) {
        rc = ENOMEM;
    } else if (punt) {
        struct ofinst *in = &fm->insts[fm->n_insts++];
        in->type = OFPIT_APPLY_ACTIONS;
        struct vt_acts l = {0};
        struct ofaction *a = acts_push(&l);
        if (a) {
            a->type = OFPAT_OUTPUT;
            a->u.output.port = OFPP_CONTROLLER;
            a->u.output.max_len = OFPCML_NO_BUFFER;
        }
        in->actions = l.v;
        in->n_actions = l.n;
        rc = a ? 0 : ENOMEM;
    } else {
        for (size_t i = 0; !rc && i < n_ti; i++) {
            const struct ofinst *t = &ti[i];
            if (t->type == OFPIT_GOTO_TABLE) {
                struct ofinst *in = &fm->insts[fm->n_insts++];
                in->type = OFPIT_GOTO_TABLE;
                in->table_id = (uint8_t) (NM_T_VTENANT + t->table_id);
            } else if (t->type == OFPIT_APPLY_ACTIONS) {
                struct vt_acts l = {0};
                for (size_t k = 0; !rc && k < t->n_actions; k++) {
                    const struct ofaction *a = &t->actions[k];
                    rc = !a->raw && a->type == OFPAT_OUTPUT
                         ? push_output(m, s, &l, a, in_port) : push_copy(&l, a);
                }
                struct ofinst *in = &fm->insts[fm->n_insts++];
                in->type = OFPIT_APPLY_ACTIONS;
                in->actions = l.v;
                in->n_actions = l.n;
            }
        }
    }
    if (!rc) {
        rc = emit(aux, &msg);
    }
    ofmsg_uninit(&msg);
    ofaction_free_insts(ti, n_ti);
    return rc;
}

/* Whether VM 'v' sends from host 'h'. */
static bool
sends_from(const struct netmodel *m, int v, int h)
{
    return m->vms[v].host == h || netmodel_vm_second(m, v) == h;
}

/* Fills s->links: the links of switch s->sw to controlled peers whose
 * ends both have their numbers; and s->plinks, its numbered ends of links
 * to switches the platform forwards for. */
static int
sw_links(const struct netmodel *m, struct vt_sw *s)
{
    for (size_t i = 0; i < m->n_links; i++) {
        const struct nm_link *k = &m->links[i];
        int peer = k->a == s->sw ? k->b : k->b == s->sw ? k->a : -1;
        if (peer < 0 || peer == s->sw) {
            continue;
        }
        uint32_t here = ctlset_port(s->cs, k->o.id);
        if (!m->switches[peer].tenant_ctl) {
            uint32_t *g = here ? realloc(s->plinks, (s->n_plinks + 1) * sizeof *g) : NULL;
            if (here && !g) {
                return ENOMEM;
            }
            if (g) {
                s->plinks = g;
                s->plinks[s->n_plinks++] = here;
            }
            continue;
        }
        uint32_t there = ctlset_port(ctlset_switch(m->ctl, m->switches[peer].o.id),
                                     k->o.id);
        if (!here || !there) {
            continue;
        }
        struct vt_link *g = realloc(s->links, (s->n_links + 1) * sizeof *g);
        if (!g) {
            return ENOMEM;
        }
        s->links = g;
        s->links[s->n_links++] = (struct vt_link) {
            .port = here, .peer_seq = m->switches[peer].seq, .peer_port = there,
        };
    }
    return 0;
}

/* Whether the platform's frames enter switch 'sw' on host 'h': it has an
 * entry port (netmodel_vsw_entry_port) and a VM the platform forwards for
 * in its component sends from 'h'. */
static bool
entered_at(const struct netmodel *m, int h, int sw)
{
    if (!netmodel_vsw_entry_port(m, sw) || !m->vms_on_host) {
        return false;
    }
    for (const int *v = m->vms_on_host[h]; *v >= 0; v++) {
        int vsw = m->vms[*v].sw;
        if (vsw >= 0 && !m->switches[vsw].tenant_ctl && m->switches[vsw].comp
            == m->switches[sw].comp) {
            return true;
        }
    }
    return false;
}

static int
compile_switch(const struct netmodel *m, int h, int sw, const int *vms, size_t n_vms,
               vtranslate_emit_fn *emit, void *aux)
{
    bool here = false;
    for (size_t i = 0; i < n_vms && !here; i++) {
        here = sends_from(m, vms[i], h);
    }
    if (!here && !entered_at(m, h, sw)) {
        return 0;
    }
    struct vt_sw s = {
        .sw = sw, .seq = m->switches[sw].seq,
        .cs = ctlset_switch(m->ctl, m->switches[sw].o.id),
        .vms = (int *) vms, .n_vms = n_vms, .comp = m->switches[sw].comp,
    };
    int rc = s.cs ? sw_links(m, &s) : 0;
    uint64_t cookie = netmodel_vsw_cookie(m, sw);
    for (size_t i = 0; !rc && s.cs && i < s.cs->n_flows; i++) {
        rc = compile_flow(m, &s, &s.cs->flows[i], cookie, emit, aux);
    }
    free(s.links);
    free(s.plinks);
    return rc;
}

int
vtranslate_host(const struct netmodel *m, int h, const int *sws, size_t n,
                vtranslate_emit_fn *emit, void *aux)
{
    if (!m->ctl || !m->ctl->n) {
        return 0;
    }
    /* The VMs of each controlled switch that have a virtual port, by
     * switch: one pass over the VMs. */
    size_t ns = m->n_switches;
    size_t *count = calloc(ns + 1, sizeof *count);
    int *by_sw = calloc(m->n_vms ? m->n_vms : 1, sizeof *by_sw);
    int rc = count && by_sw ? 0 : ENOMEM;
    for (size_t v = 0; !rc && v < m->n_vms; v++) {
        int sw = m->vms[v].sw;
        if (sw >= 0 && m->switches[sw].tenant_ctl && netmodel_vm_vport(m, (int) v)) {
            count[sw + 1]++;
        }
    }
    for (size_t i = 0; !rc && i < ns; i++) {
        count[i + 1] += count[i];
    }
    size_t *fill = rc ? NULL : calloc(ns ? ns : 1, sizeof *fill);
    rc = rc ? rc : fill ? 0 : ENOMEM;
    for (size_t v = 0; !rc && v < m->n_vms; v++) {
        int sw = m->vms[v].sw;
        if (sw >= 0 && m->switches[sw].tenant_ctl && netmodel_vm_vport(m, (int) v)) {
            by_sw[count[sw] + fill[sw]++] = (int) v;
        }
    }
    for (size_t i = 0; !rc && i < (sws ? n : ns); i++) {
        int sw = sws ? sws[i] : (int) i;
        if (sw >= 0 && (size_t) sw < ns && m->switches[sw].tenant_ctl
            && count[sw + 1] > count[sw]) {
            rc = compile_switch(m, h, sw, by_sw + count[sw], count[sw + 1] - count[sw],
                                emit, aux);
        }
    }
    free(fill);
    free(by_sw);
    free(count);
    return rc;
}

bool
vtranslate_virtual_key(uint8_t table, const struct ofmatch *match, uint8_t *vtable,
                       struct ofmatch *vmatch, uint32_t *seq)
{
    uint64_t v, mask;
    if (table < NM_T_VTENANT || table >= NM_T_VTENANT + NM_VT_TABLES
        || !ofmatch_get(match, MF_METADATA, &v, &mask) || (mask & META_HIGH) != META_HIGH) {
        return false;
    }
    *vtable = (uint8_t) (table - NM_T_VTENANT);
    *seq = (uint32_t) (v >> 32);
    *vmatch = *match;
    size_t w = 0;
    for (size_t i = 0; i < vmatch->n; i++) {
        if (vmatch->order[i] != MF_METADATA) {
            vmatch->order[w++] = vmatch->order[i];
        }
    }
    vmatch->n = (uint8_t) w;
    vmatch->value[MF_METADATA] = vmatch->mask[MF_METADATA] = 0;
    vmatch->masked &= ~(1u << MF_METADATA);
    if ((mask & 0xffffffffu) == 0xffffffffu) {
        ofmatch_set(vmatch, MF_IN_PORT, v & 0xffffffffu);
    }
    return true;
}
