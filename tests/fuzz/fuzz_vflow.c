/* libFuzzer target for what a tenant's controller can make the agent check
 * (ctrl/vflow.h): each message of the input that decodes as a flow-mod goes
 * through vflow_check, the canonical form (which must be stable and equal
 * to its own canonical form), covering and overlap against itself; a
 * packet-out through vflow_check_packet_out and, with its data, the packet
 * key of the agent's pipeline.  A flow-mod the check admits is then stored
 * as the agent would store it and compiled into the bridges
 * (ctrl/vtranslate.h) on a small model of two linked controlled switches:
 * every physical flow must encode and decode, and its virtual key must
 * give back the tenant's table and match.  Any crash, sanitizer report or
 * broken promise is a finding. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/ctlset.h"
#include "ctrl/buf.h"
#include "ctrl/vflow.h"
#include "ctrl/vtranslate.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const uint32_t port_nos[] = {1, 2, 3, 7};
static const struct vflow_ports ports = {port_nos, 4};

/* The model: one cloud, its gateway h0 and a worker h1; tenant t (tag 7),
 * switch A (seq 5: v1 port 1, v2 port 2 on h0, v7 port 7 on h1, the link
 * port 3) linked to switch B (seq 6: the link port 1, v9 port 2 on h0),
 * both controlled.  Rebuilt for each input (the set holds its flows). */
static void
obj(struct nm_obj *o, const char *id)
{
    memset(o, 0, sizeof *o);
    strcpy(o->id, id);
    strcpy(o->name, id);
}

static void
model(struct netmodel *m, const struct ofmsg_flow_mod *fm, const uint8_t *match,
      size_t match_len, const uint8_t *insts, size_t insts_len)
{
    netmodel_init(m);
    m->layout = TUNNELS_MST;
    m->n_clouds = 1;
    m->clouds = calloc(1, sizeof *m->clouds);
    obj(&m->clouds[0].o, "c0");
    m->n_hosts = 2;
    m->hosts = calloc(2, sizeof *m->hosts);
    for (int h = 0; h < 2; h++) {
        obj(&m->hosts[h].o, h ? "h1" : "h0");
        m->hosts[h].cloud = 0;
        m->hosts[h].gateway = !h;
        m->hosts[h].tunnel_ip = 0x0a000001u + (uint32_t) h;
        m->hosts[h].public_ip = h ? 0 : 0xc0000201u;
    }
    m->n_tenants = 1;
    m->tenants = calloc(1, sizeof *m->tenants);
    obj(&m->tenants[0].o, "t");
    m->tenants[0].tag = 7;
    m->n_networks = 1;
    m->networks = calloc(1, sizeof *m->networks);
    obj(&m->networks[0].o, "n");
    m->n_switches = 2;
    m->switches = calloc(2, sizeof *m->switches);
    for (int i = 0; i < 2; i++) {
        obj(&m->switches[i].o, i ? "sB" : "sA");
        m->switches[i].seq = 5u + (uint32_t) i;
        m->switches[i].tenant_ctl = true;
    }
    m->n_links = 1;
    m->links = calloc(1, sizeof *m->links);
    obj(&m->links[0].o, "l");
    m->links[0].b = 1;
    static const struct { const char *id; int sw, host; uint32_t port; } vms[] = {
        {"v1", 0, 0, 1}, {"v2", 0, 0, 2}, {"v7", 0, 1, 7}, {"v9", 1, 0, 2},
    };
    m->n_vms = 4;
    m->vms = calloc(4, sizeof *m->vms);
    struct ctlset *set = ctlset_create();
    set->n = 2;
    set->sw = calloc(2, sizeof *set->sw);
    strcpy(set->sw[0].id, "sA");
    strcpy(set->sw[1].id, "sB");
    for (int i = 0; i < 2; i++) {
        set->sw[i].ports = calloc(4, sizeof *set->sw[i].ports);
    }
    for (int i = 0; i < 4; i++) {
        obj(&m->vms[i].o, vms[i].id);
        m->vms[i].sw = vms[i].sw;
        m->vms[i].host = vms[i].host;
        m->vms[i].mac = 0x020000000001ull + (uint64_t) i;
        m->vms[i].ip = 0x0a000101u + (uint32_t) i;
        m->vms[i].wire_low = 1u + (uint32_t) i;
        struct ctl_switch *sw = &set->sw[vms[i].sw];
        struct ctl_port *p = &sw->ports[sw->n_ports++];
        strcpy(p->object_id, vms[i].id);
        p->port_no = vms[i].port;
    }
    for (int i = 0; i < 2; i++) {
        struct ctl_port *p = &set->sw[i].ports[set->sw[i].n_ports++];
        strcpy(p->object_id, "l");
        p->port_no = i ? 1 : 3;
        p->link = true;
    }
    struct ctl_flow *f = set->sw[0].flows = calloc(1, sizeof *f);
    set->sw[0].n_flows = 1;
    f->table = fm->table_id;
    f->priority = fm->priority;
    f->match = malloc(match_len ? match_len : 1);
    memcpy(f->match, match, match_len);
    f->match_len = match_len;
    f->insts = malloc(insts_len ? insts_len : 1);
    if (insts_len) {
        memcpy(f->insts, insts, insts_len);
    }
    f->insts_len = insts_len;
    ctlset_finish(set);
    m->ctl = set;
    if (netmodel_finish(m)) {
        abort();
    }
}

struct want {
    const struct ofmsg_flow_mod *fm;
    size_t n;
};

/* Each physical flow: encodes and decodes; its key gives the tenant's. */
static int
check(void *aux, const struct ofmsg *msg)
{
    struct want *w = aux;
    struct buf b;
    buf_init(&b);
    struct ofmsg back;
    if (ofmsg_encode(msg, &b) || b.failed
        || ofmsg_decode(b.data, b.len, &back) != OFERR_NONE) {
        abort();
    }
    ofmsg_uninit(&back);
    buf_uninit(&b);
    uint8_t vt;
    uint32_t seq;
    struct ofmatch vm, c1, c2;
    if (!vtranslate_virtual_key(msg->u.flow_mod.table_id, &msg->u.flow_mod.match, &vt,
                                &vm, &seq)
        || vt != w->fm->table_id || seq != 5) {
        abort();
    }
    vflow_match_canon(&vm, &c1);
    vflow_match_canon(&w->fm->match, &c2);
    if (!ofmatch_equal(&c1, &c2)) {
        abort();
    }
    w->n++;
    return 0;
}

/* Stores 'fm' as the agent does (canonical match, instructions as given)
 * and compiles it on both hosts: h0 and h1 carry switch A's VMs. */
static void
translate(const struct ofmsg_flow_mod *fm)
{
    struct ofmatch canon;
    vflow_match_canon(&fm->match, &canon);
    struct buf bm, bi;
    buf_init(&bm);
    buf_init(&bi);
    ofmatch_encode(&canon, &bm);
    ofaction_encode_insts(fm->insts, fm->n_insts, &bi);
    struct netmodel m;
    model(&m, fm, bm.data, bm.len, bi.data, bi.len);
    for (int h = 0; h < 2; h++) {
        struct want w = {fm, 0};
        if (vtranslate_host(&m, h, NULL, 0, check, &w) || w.n != 1) {
            abort();
        }
    }
    netmodel_free(&m);
    buf_uninit(&bm);
    buf_uninit(&bi);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    while (size) {
        long n = ofmsg_frame(data, size);
        if (n <= 0 || (size_t) n > size) {
            return 0;
        }
        struct ofmsg m;
        if (ofmsg_decode(data, (size_t) n, &m) == OFERR_NONE) {
            if (m.type == OFPT_FLOW_MOD) {
                struct ofmatch c1, c2, key;
                enum oferr e = vflow_check(&m.u.flow_mod, &ports);
                vflow_match_canon(&m.u.flow_mod.match, &c1);
                vflow_match_canon(&c1, &c2);
                /* A match the check admits is one a packet can meet. */
                if (!ofmatch_equal(&c1, &c2) || !vflow_match_covers(&c1, &c2)
                    || (e == OFERR_NONE && !vflow_match_overlaps(&c1, &c2))) {
                    abort();
                }
                vflow_outputs_to(m.u.flow_mod.insts, m.u.flow_mod.n_insts, 2);
                vflow_packet_key(data, (size_t) n, 1, &key);
                vflow_match_packet(&c1, &key);
                if (e == OFERR_NONE && m.u.flow_mod.command == OFPFC_ADD) {
                    translate(&m.u.flow_mod);
                }
            } else if (m.type == OFPT_PACKET_OUT) {
                struct ofmatch key;
                vflow_check_packet_out(&m.u.packet_out, &ports);
                vflow_packet_key(m.u.packet_out.data, m.u.packet_out.len, 2, &key);
            }
        }
        ofmsg_uninit(&m);
        data += n;
        size -= (size_t) n;
    }
    return 0;
}
