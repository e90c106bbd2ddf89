/* recon_tenant_ctl.h: the reconciler's side of tenant controllers
 * (ctrl/vswitch_agent.h).
 *
 * A VM on a switch whose tenant's controller forwards for it (controller
 * set, fail_mode secure: nm_switch.tenant_ctl) sends its IPv4 and ARP into
 * its tenant's flows, which ctrl/vtranslate.h compiled into the bridge
 * (core/netmodel.h, "Tenant controllers").  Two kinds of packet-in are
 * then not the platform's to answer, and go to the hooks attached here,
 * which are the agent's:
 *   - from the tenant tables (NM_T_VTENANT and up): a tenant flow's output
 *     to its controller, or a flow the datapath cannot run (punted); the
 *     switch, the virtual in_port (metadata) and the virtual table go with
 *     the frame to 'vframe';
 *   - from the classify table, recognised by its VM's cookie: a VM whose
 *     virtual port has no number yet sends there; the VM's id goes with the
 *     frame (its own addresses) to 'frame'.
 * The way back is reconciler_deliver_to_vm(): a packet-out at the VM's own
 * bridge, straight to its port, whichever cloud it is in.
 * reconciler_vswitch_stats() reads a switch's translated flows back from
 * its bridges, for the agent's counters and idle timeouts. */
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

/* The same, for a packet-in from tenant table NM_T_VTENANT + 'vtable' of
 * switch 'vswitch_id' on its virtual port 'vport'; 'punt' when its flow is
 * one the agent runs (ctrl/vtranslate.h, VT_COOKIE_PUNT). */
typedef void recon_vswitch_frame_fn(void *aux, const char *vswitch_id, uint32_t vport,
                                    uint8_t vtable, bool punt, const uint8_t *frame,
                                    size_t len);

struct recon_tenant_ctl {
    recon_vm_frame_fn *frame;
    recon_vswitch_frame_fn *vframe;
    void *aux;
};

/* The counters of one virtual flow on one bridge: its virtual table and
 * match (in_port virtual), summed over what that bridge holds for it. */
struct recon_vflow_stats {
    uint64_t dpid;
    uint8_t vtable;
    uint16_t priority;
    struct ofmatch match;
    uint64_t packets, bytes;
};

/* Reads back the translated flows (not the punted ones) of switch
 * 'vswitch_id' from every bridge that holds them; *out (caller frees) gets
 * one entry per physical flow.  From any thread but the controller's loop
 * (it waits for the bridges' replies).  0, ENOENT (no such controlled
 * switch now), or an errno of the reads (what was read is kept). */
int reconciler_vswitch_stats(struct reconciler *, const char *vswitch_id,
                             struct recon_vflow_stats **out, size_t *n);

/* The reconciler's passes: how many started and how many ended (any thread).
 * A change committed before pass N started is realized, as far as that
 * pass could, once 'ended' reaches N. */
void reconciler_passes(struct reconciler *, uint64_t *started, uint64_t *ended);

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

/* A frame switch 'vswitch_id''s flows, run by the agent, sent out of its
 * link to a switch the platform forwards for (one component): what the
 * platform does with a frame of its own there.  An ARP request for a VM
 * the platform forwards for is answered as the platform answers ARP: the
 * reply is written to reply[0..*reply_len) (room for 64 bytes) and 1
 * returned, for the agent to send back in on that link.  Anything else
 * goes by packet-out to the platform-forwarded VMs of the component it is
 * for (its destination MAC; every one of them for a broadcast), and 0 is
 * returned.  -1 (ENOENT) when the switch is not a controlled one now.
 * From any thread but the controller's loop. */
int reconciler_vswitch_to_platform(struct reconciler *, const char *vswitch_id,
                                   const uint8_t *frame, size_t len, uint8_t *reply,
                                   size_t *reply_len);

/* recon_packetin.c: hands a packet-in of either kind above to its hook;
 * false when it is not one (or no hook is attached). */
bool recon_tenant_ctl_packet_in(struct reconciler *, uint64_t dpid,
                                const struct ofmsg_packet_in *);

#endif
