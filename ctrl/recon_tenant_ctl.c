/* recon_tenant_ctl.c: see recon_tenant_ctl.h. */
#include "ctrl/recon_tenant_ctl.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <urcu/urcu-bp.h>

#include "ctrl/recon_internal.h"

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

bool
recon_tenant_ctl_packet_in(struct reconciler *r, uint64_t dpid,
                           const struct ofmsg_packet_in *pi)
{
    if (pi->table_id != NM_T_CLASSIFY || pi->len < 14) {
        return false;
    }
    bool mine = false;
    urcu_bp_read_lock();
    const struct recon_tenant_ctl *t = atomic_load(&r->tenant_ctl);
    struct snapshot *s = rcu_dereference(r->snap);
    if (t && s) {
        const struct netmodel *m = &s->m;
        int h = netmodel_host_by_dpid(m, dpid);
        uint64_t src = 0;
        for (int i = 6; i < 12; i++) {
            src = src << 8 | pi->data[i];
        }
        int v = h >= 0 ? vm_of_frame(m, h, pi->cookie, src) : -1;
        if (v >= 0 && m->switches[m->vms[v].sw].tenant_ctl) {
            t->frame(t->aux, m->vms[v].o.id, pi->data, pi->len);
            mine = true;
        }
    }
    urcu_bp_read_unlock();
    return mine;
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
