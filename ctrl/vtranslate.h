/* vtranslate.h: a tenant controller's flows (core/ctlset.h) compiled into
 * the bridges' own tables, so the datapath forwards a tenant-controlled
 * switch's frames without a trip through skyvisord.
 *
 * Where.  A frame of a VM on a controlled switch enters the tenant's
 * tables at its ingress bridge: port security (core/netmodel.h, table 0)
 * writes metadata = the switch's seq << 32 | the VM's virtual port and goes
 * to table NM_T_VTENANT.  Virtual table t is physical table
 * NM_T_VTENANT + t, on every bridge where a VM of the switch sends from
 * (its host, and its migration's second place) or where a VM of a linked
 * switch the platform forwards for sends from (the platform's frames for
 * the switch enter it there: core/netmodel.h); one range of tables is
 * shared by every controlled switch, each flow matching its switch's seq.
 *
 * Match.  The tenant's match as given, its in_port (a virtual port)
 * replaced by the low 32 bits of metadata; metadata's high 32 bits always
 * name the switch.  Frames are matched with the tenant's own addresses:
 * at the ingress edge nothing has rewritten them yet.
 *
 * Instructions.  goto-table t2 becomes NM_T_VTENANT + t2; apply-actions
 * are kept in order, each output translated (set-fields and VLAN actions
 * the tenant may use stay as they are, so an output after them sends what
 * they made):
 *   to a VM port       clone(eth_dst := the VM's platform MAC as an
 *                      ingress edge sends to it, resubmit(,15)): the source
 *                      tag and forwarding tables (15, 20) carry it as any
 *                      platform frame, to a local port or through tunnels,
 *                      and the egress edge restores both addresses; during
 *                      a migration's dual phase one clone per place (the
 *                      platform path moves with the VM: nothing here has to
 *                      be retranslated when a path changes, only when the
 *                      phase does, which recompiles the switch);
 *   to a link port     whose peer switch is controlled too: clone(metadata
 *                      := the peer's seq << 32 | its end's port,
 *                      resubmit(,NM_T_VTENANT)): the frame enters the peer's
 *                      table 0 on the same bridge; whose peer the platform
 *                      forwards for: clone(metadata := the component << 32 |
 *                      NM_META_FROM_VTENANT, resubmit(,NM_T_TENANT)): the
 *                      platform's tenant table forwards it as a frame of the
 *                      component, never back into a controlled switch;
 *   FLOOD, ALL         every VM port of the switch as above (Open vSwitch
 *                      never sends a frame back out of the port it came in
 *                      by, so the sender's own copy is dropped), every link
 *                      port to a controlled peer, and one copy into the
 *                      platform when it has links to the platform's switches
 *                      (none when the frame came in by one of them);
 *   IN_PORT            the frame back out of the VM port it came in by;
 *   CONTROLLER         a packet-in from table NM_T_VTENANT + t, which the
 *                      agent turns into the tenant's packet-in (its virtual
 *                      in_port from metadata, its table, the flow's cookie).
 * Open vSwitch's clone and resubmit extensions keep each output's rewrites
 * to itself.  A broadcast a tenant's flow outputs to one VM arrives with
 * that VM's own MAC as destination (the platform path is unicast).
 *
 * Punted flows.  What the datapath cannot express this way goes to the
 * agent instead (ctrl/vswitch_agent.c runs it in software from that flow):
 * write-actions and clear-actions (the action set), and, on a switch with
 * links, FLOOD, ALL and IN_PORT of a flow whose in_port is not one VM port
 * (the port a frame came in by is then known only per frame).  A punted flow's physical flow outputs to the
 * controller and carries VT_COOKIE_PUNT in its cookie.
 *
 * Cookies: netmodel_vsw_cookie() of the switch (| VT_COOKIE_PUNT for a
 * punted flow), so a switch's flows are one owner for the reconciler's
 * diff; counters are summed per virtual flow by reading the flows back
 * (vtranslate_virtual_key maps a physical flow to its virtual identity).
 *
 * Pure: no I/O; depends on the OpenFlow codec only. */
#ifndef SKYVISOR_CTRL_VTRANSLATE_H
#define SKYVISOR_CTRL_VTRANSLATE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/netmodel.h"
#include "ctrl/ofmsg.h"

#define VT_COOKIE_PUNT (1ull << 32)

/* Called once per compiled flow: an ADD flow-mod (no flags) the callee
 * may keep parts of only by copying.  0 or an errno, which stops the
 * compilation. */
typedef int vtranslate_emit_fn(void *aux, const struct ofmsg *msg);

/* Compiles, for host 'h', the flows of the controlled switches sws[0..n)
 * (model indexes; every controlled switch when 'sws' is NULL) that have a
 * VM sending from 'h', calling 'emit' for each.  A stored flow that does
 * not decode is skipped (the agent refused it when it came).  0, ENOMEM,
 * or what 'emit' returned. */
int vtranslate_host(const struct netmodel *, int h, const int *sws, size_t n,
                    vtranslate_emit_fn *emit, void *aux);

/* The virtual identity of a physical flow of table NM_T_VTENANT + t whose
 * cookie is a switch's (see above): the virtual table in *table and the
 * tenant's match (in_port back from metadata) in *vmatch, and the switch's
 * seq in *seq.  False if the flow is no translated tenant flow. */
bool vtranslate_virtual_key(uint8_t table, const struct ofmatch *match,
                            uint8_t *vtable, struct ofmatch *vmatch, uint32_t *seq);

/* Whether the stored flow (wire bytes of its instructions) of a switch
 * that has ('linked') or has not a link to another controlled switch, with
 * in_port pinned to a VM port ('vm_in') or not, is punted (see above). */
bool vtranslate_punts(const struct ofinst *insts, size_t n, bool linked, bool vm_in);

#endif
