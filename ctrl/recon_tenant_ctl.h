/* recon_tenant_ctl.h: the reconciler's side of tenant controllers
 * (ctrl/vswitch_agent.h).
 *
 * A VM on a switch whose tenant's controller forwards for it (controller
 * set, fail_mode secure: nm_switch.tenant_ctl) sends its IPv4 and ARP to
 * the controller (core/netmodel.h, "Tenant controllers").  Such a
 * packet-in, recognised by its VM's cookie at the classify table, is not
 * the platform's to answer: it goes, with the VM's id and the frame as the
 * VM sent it (its own addresses), to the frame hook attached here, which
 * is the agent's.  The way back is reconciler_deliver_to_vm(): a
 * packet-out at the VM's own bridge, straight to its port, whichever cloud
 * it is in.  Nothing crosses a tunnel: each frame makes one trip through
 * skyvisord, which is the price of running a tenant's flows in the agent
 * (not yet in the bridges' tables). */
#ifndef SKYVISOR_CTRL_RECON_TENANT_CTL_H
#define SKYVISOR_CTRL_RECON_TENANT_CTL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ctrl/ofmsg.h"

struct reconciler;

/* Called on the controller's loop thread: must not block; 'frame' is
 * borrowed for the call. */
typedef void recon_vm_frame_fn(void *aux, const char *vm_id, const uint8_t *frame,
                               size_t len);

struct recon_tenant_ctl {
    recon_vm_frame_fn *frame;
    void *aux;
};

/* Attaches 't' (borrowed: the caller keeps it until it detaches) from any
 * thread; NULL detaches, and returns only once no call of the previous
 * hook is still running. */
void reconciler_attach_tenant_ctl(struct reconciler *, const struct recon_tenant_ctl *t);

/* Delivers 'frame' into VM 'vm_id' by a packet-out at its bridge, to its
 * port.  From any thread but the controller's loop (it waits for the
 * bridge's port list).  0 (sent; a send that fails is only logged), or
 * ENOENT (no such VM, bridge or port now). */
int reconciler_deliver_to_vm(struct reconciler *, const char *vm_id,
                             const uint8_t *frame, size_t len);

/* recon_packetin.c: hands a classify-table packet-in of such a VM to the
 * hook; false when it is not one (or no hook is attached). */
bool recon_tenant_ctl_packet_in(struct reconciler *, uint64_t dpid,
                                const struct ofmsg_packet_in *);

#endif
