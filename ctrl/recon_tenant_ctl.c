/* recon_tenant_ctl.c: see recon_tenant_ctl.h. */
#include "ctrl/recon_tenant_ctl.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <stdint.h>
#include <string.h>
#include <urcu/urcu-bp.h>

#include "core/packet.h"
#include "ctrl/recon_internal.h"
#include "ctrl/vtranslate.h"

void
reconciler_attach_tenant_ctl(struct reconciler *r, const struct recon_tenant_ctl *t)
{
    atomic_store(&r->tenant_ctl, t);
    if (!t) {
        /* The hook is called inside a read-side section (below). */
        urcu_bp_synchronize_rcu();
    }
}

/* The VM of host 'h' whose flows carry 'cookie' and whose MAC is 'src'
 * (among the host's own VMs only: every ARP packet-in of the platform
 * passes here first). */
static int
vm_of_frame(const struct netmodel *m, int h, uint64_t cookie, uint64_t src)
{
    for (const int *v = m->vms_on_host ? m->vms_on_host[h] : NULL; v && *v >= 0; v++) {
        if (m->vms[*v].mac == src && netmodel_vm_cookie(m, *v) == cookie) {
            return *v;
        }
    }
    return -1;
}

/* The controlled switch of model 'm' whose seq is 'seq' and whose flows
 * carry 'cookie' (its tenant's tag), -1 if none. */
static int
switch_of(const struct netmodel *m, uint32_t seq, uint64_t cookie)
{
    for (size_t i = 0; i < m->n_switches; i++) {
        if (m->switches[i].seq == seq && m->switches[i].tenant_ctl
            && netmodel_vsw_cookie(m, (int) i) == (cookie & ~VT_COOKIE_PUNT)) {
            return (int) i;
        }
    }
    return -1;
}

bool
recon_tenant_ctl_packet_in(struct reconciler *r, uint64_t dpid,
                           const struct ofmsg_packet_in *pi)
{
    bool vtable = pi->table_id >= NM_T_VTENANT
                  && pi->table_id < NM_T_VTENANT + NM_VT_TABLES;
    if ((pi->table_id != NM_T_CLASSIFY && !vtable) || pi->len < 14) {
        return false;
    }
    uint64_t meta = 0, mask;
    if (vtable && !ofmatch_get(&pi->match, MF_METADATA, &meta, &mask)) {
        meta = 0;                   /* Open vSwitch leaves out a zero */
    }
    bool mine = false;
    urcu_bp_read_lock();
    const struct recon_tenant_ctl *t = atomic_load(&r->tenant_ctl);
    struct snapshot *s = rcu_dereference(r->snap);
    if (t && s && vtable) {
        /* A tenant table's: the agent's whatever it is, even when the
         * switch is gone from the model (then dropped). */
        const struct netmodel *m = &s->m;
        int sw = switch_of(m, (uint32_t) (meta >> 32), pi->cookie);
        if (sw >= 0 && t->vframe) {
            t->vframe(t->aux, m->switches[sw].o.id, (uint32_t) meta,
                      (uint8_t) (pi->table_id - NM_T_VTENANT),
                      (pi->cookie & VT_COOKIE_PUNT) != 0, pi->data, pi->len);
        }
        mine = true;
    } else if (t && s) {
        const struct netmodel *m = &s->m;
        int h = netmodel_host_by_dpid(m, dpid);
        uint64_t src = packet_get_mac(pi->data + 6);
        int v = h >= 0 ? vm_of_frame(m, h, pi->cookie, src) : -1;
        if (v >= 0 && m->switches[m->vms[v].sw].tenant_ctl) {
            t->frame(t->aux, m->vms[v].o.id, pi->data, pi->len);
            mine = true;
        }
    }
    urcu_bp_read_unlock();
    return mine || vtable;
}

void
reconciler_passes(struct reconciler *r, uint64_t *started, uint64_t *ended)
{
    *started = atomic_load(&r->passes_started);
    *ended = atomic_load(&r->passes_ended);
}

/* How long a read of one bridge's tenant flows may take. */
#define VSTATS_TIMEOUT_MS 2000

int
reconciler_vswitch_stats(struct reconciler *r, const char *vswitch_id,
                         struct recon_vflow_stats **out, size_t *n_out)
{
    *out = NULL;
    *n_out = 0;
    uint64_t cookie = 0, *dpids = NULL;
    size_t n_dpids = 0;
    urcu_bp_read_lock();
    struct snapshot *s = rcu_dereference(r->snap);
    int sw = s ? netmodel_index(s->m.switches, s->m.n_switches, sizeof *s->m.switches,
                                vswitch_id) : -1;
    if (sw >= 0 && s->m.switches[sw].tenant_ctl) {
        const struct netmodel *m = &s->m;
        cookie = netmodel_vsw_cookie(m, sw);
        uint8_t *mark = calloc(m->n_hosts ? m->n_hosts : 1, 1);
        dpids = calloc(m->n_hosts ? m->n_hosts : 1, sizeof *dpids);
        for (size_t v = 0; mark && dpids && v < m->n_vms; v++) {
            int second = netmodel_vm_second(m, (int) v);
            for (int k = 0; m->vms[v].sw == sw && k < 2; k++) {
                int h = k ? second : m->vms[v].host;
                if (h >= 0 && !mark[h]) {
                    mark[h] = 1;
                    dpids[n_dpids++] = m->hosts[h].dpid;
                }
            }
        }
        free(mark);
    }
    urcu_bp_read_unlock();
    if (!cookie) {
        free(dpids);
        return ENOENT;
    }
    int rc = 0;
    for (size_t i = 0; i < n_dpids; i++) {
        struct offlow_stats *fl = NULL;
        size_t n = 0;
        int e = ofctl_dump_flows_wait(r->ctl, dpids[i], cookie, UINT64_MAX,
                                      VSTATS_TIMEOUT_MS, &fl, &n);
        if (e) {
            rc = e;
            continue;
        }
        struct recon_vflow_stats *g = n ? realloc(*out, (*n_out + n) * sizeof *g) : *out;
        if (n && !g) {
            ofctl_free_flows(fl, n);
            rc = ENOMEM;
            break;
        }
        *out = g;
        for (size_t k = 0; k < n; k++) {
            struct recon_vflow_stats *st = &(*out)[*n_out];
            uint32_t seq;
            if (vtranslate_virtual_key(fl[k].table_id, &fl[k].match, &st->vtable,
                                       &st->match, &seq)) {
                st->dpid = dpids[i];
                st->priority = fl[k].priority;
                st->packets = fl[k].packet_count;
                st->bytes = fl[k].byte_count;
                (*n_out)++;
            }
        }
        ofctl_free_flows(fl, n);
    }
    free(dpids);
    return rc;
}

int
reconciler_deliver_to_vm(struct reconciler *r, const char *vm_id, const uint8_t *frame,
                         size_t len)
{
    char name[16] = "";
    uint64_t dpid = 0;
    urcu_bp_read_lock();
    struct snapshot *s = rcu_dereference(r->snap);
    int v = s ? netmodel_vm_by_id(&s->m, vm_id) : -1;
    if (v >= 0 && s->m.vms[v].host >= 0) {
        int h = s->m.vms[v].host;
        struct nm_port *ports;
        size_t n;
        if (!netmodel_ports(&s->m, h, &ports, &n)) {
            for (size_t i = 0; i < n; i++) {
                if (ports[i].kind == NM_PORT_VM && ports[i].vm == v && !ports[i].second) {
                    snprintf(name, sizeof name, "%s", ports[i].name);
                }
            }
            free(ports);
        }
        dpid = s->m.hosts[h].dpid;
    }
    urcu_bp_read_unlock();
    if (!name[0]) {
        return ENOENT;
    }
    struct ofport *ports;
    size_t n;
    if (ofctl_ports(r->ctl, dpid, &ports, &n)) {
        return ENOENT;
    }
    uint32_t port_no = 0;
    for (size_t i = 0; i < n; i++) {
        if (!strcmp(ports[i].name, name)) {
            port_no = ports[i].port_no;
        }
    }
    free(ports);
    if (!port_no) {
        return ENOENT;
    }
    recon_packet_out(r, dpid, port_no, (uint8_t *) frame, len);
    return 0;
}

int
reconciler_vswitch_to_platform(struct reconciler *r, const char *vswitch_id,
                               const uint8_t *frame, size_t len, uint8_t *reply,
                               size_t *reply_len)
{
    if (len < 14) {
        return 0;
    }
    uint64_t dst = packet_get_mac(frame);
    bool arp_request = len >= 42 && (frame[12] << 8 | frame[13]) == ETH_TYPE_ARP
                       && frame[20] == 0 && frame[21] == ARP_OP_REQUEST;
    uint32_t tpa = arp_request ? (uint32_t) frame[38] << 24 | (uint32_t) frame[39] << 16
                                 | (uint32_t) frame[40] << 8 | frame[41] : 0;
    char (*ids)[40] = NULL;
    size_t n = 0;
    int rc = -1;
    urcu_bp_read_lock();
    struct snapshot *s = rcu_dereference(r->snap);
    const struct netmodel *m = s ? &s->m : NULL;
    int sw = m ? netmodel_index(m->switches, m->n_switches, sizeof *m->switches,
                                vswitch_id) : -1;
    int comp = -1;
    for (size_t v = 0; sw >= 0 && m->switches[sw].tenant_ctl && v < m->n_vms && comp < 0;
         v++) {
        if (m->vms[v].sw >= 0 && m->switches[m->vms[v].sw].comp == m->switches[sw].comp) {
            comp = m->vm_comp[v];
        }
    }
    if (sw >= 0 && m->switches[sw].tenant_ctl) {
        rc = 0;
    }
    for (const int *v = comp >= 0 ? m->comp_vms[comp] : NULL; v && *v >= 0; v++) {
        const struct nm_vm *vm = &m->vms[*v];
        if (m->switches[vm->sw].tenant_ctl) {
            continue;                       /* not the platform's */
        }
        if (arp_request) {
            if (vm->ip == tpa && rc == 0) {
                uint8_t *p = reply;
                memset(p, 0, 64);
                memcpy(p, frame + 6, 6);    /* to the asker */
                packet_put_mac(p + 6, vm->mac);
                memcpy(p + 12, frame + 12, 8);  /* ethertype, htype .. plen */
                p[21] = ARP_OP_REPLY;
                packet_put_mac(p + 22, vm->mac);
                memcpy(p + 28, frame + 38, 4);  /* spa = the asked address */
                memcpy(p + 32, frame + 22, 10); /* tha, tpa = the asker's */
                *reply_len = 60;
                rc = 1;
            }
        } else if ((dst & (1ull << 40)) || vm->mac == dst) {
            char (*g)[40] = realloc(ids, (n + 1) * sizeof *g);
            if (g) {
                ids = g;
                snprintf(ids[n++], sizeof *ids, "%s", vm->o.id);
            }
        }
    }
    urcu_bp_read_unlock();
    for (size_t i = 0; i < n; i++) {
        reconciler_deliver_to_vm(r, ids[i], frame, len);
    }
    free(ids);
    return rc;
}
