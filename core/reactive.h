/* reactive.h: the reactive path, what to do with a frame the tenant table
 * did not match.
 *
 * The proactive pipeline (core/netmodel.h) sends a VM's frame to the
 * controller when it misses in table 10 (the tenant L2 table): the flows
 * for its destination are not installed yet (a VM was just added and the
 * pass is still running, or a flow went missing on the switch).  The frame
 * must not be lost: the controller decides here, from the same published
 * model the proactive flows come from, and answers with a packet-out whose
 * actions forward this very frame as the pipeline would have:
 *
 *   sender      the VM on this host whose port is the packet-in's in_port,
 *               with the frame's source MAC and IPv4 source and the
 *               component the port-security flow wrote to metadata[63:32];
 *               anything else is dropped (table 0 let nothing else through,
 *               so a mismatch means a stale switch or a forged packet-in);
 *   unicast     to a member of the sender's component only (same tenant,
 *               connected virtual switches): a local member gets the frame
 *               as sent on its port; a remote one gets the platform MACs
 *               (tenant tag + wire_low, destination and source) and the
 *               tunnel toward the next overlay hop to its host;
 *   broadcast   the local members of the component as sent, then the
 *               sender's platform source MAC and the tunnels toward the
 *               children of the breadth-first tree rooted at this host,
 *               pruned to branches holding members (the tree table 10's
 *               broadcast flow uses);
 *   groups      an output into a tunnel that has a fast-failover group
 *               (netmodel_groups(): at a gateway of mst+backup a tree tunnel
 *               with a detour, and toward a cloud with two gateways) becomes
 *               that group, as in the proactive flows: a frame sent while
 *               the tunnel is cut or its far end dead takes the detour or the
 *               twin, not the dead tunnel;
 *   drop        a destination outside the component (another tenant, an
 *               unconnected switch, an unknown MAC), the sender itself, a
 *               VM of a tenant-controlled switch (its tenant's flows decide:
 *               core/netmodel.h, "Tenant controllers"; broadcasts leave such
 *               VMs out too), or a port whose number is not known yet.
 *
 * Isolation on this path rests on the same fact as on the proactive one:
 * the only destinations ever mapped are members of the sender's own
 * component, found in the model, never taken from the frame.
 *
 * Open vSwitch reports a table-miss packet-in with reason no_match (or
 * action, for an explicit controller action), table_id 10, the cookie of
 * the table-miss flow (the infrastructure cookie), and in its match
 * in_port plus metadata when non-zero.  A packet-in that is not that is
 * REACTIVE_NOT_MINE: the caller handles it otherwise.
 *
 * Everything here is pure: no I/O, no allocation but the result's action
 * array (and the host's groups, freed before returning).  Port
 * numbers come from the caller's lookup (the switch's port list, by port
 * name), as in netmodel_flows(). */
#ifndef SKYVISOR_CORE_REACTIVE_H
#define SKYVISOR_CORE_REACTIVE_H

#include <stddef.h>
#include <stdint.h>

#include "core/netmodel.h"

/* A packet-in as the reactive path sees it: its metadata and the frame's
 * headers (reactive_parse fills the latter). */
struct reactive_pkt {
    uint8_t table_id, reason;
    uint64_t cookie;
    uint32_t in_port;
    uint64_t metadata;              /* 0 when the match had none */
    uint64_t eth_dst, eth_src;
    uint16_t eth_type;              /* after one 802.1Q tag, if any */
    uint32_t ipv4_src;              /* when eth_type is IPv4 */
};

/* Fills the frame fields of 'pkt' from an Ethernet frame.  0, or EINVAL
 * for a frame too short for its headers. */
int reactive_parse(const uint8_t *frame, size_t len, struct reactive_pkt *pkt);

enum reactive_verdict {
    REACTIVE_NOT_MINE,              /* not a tenant-table miss */
    REACTIVE_FORWARD,               /* packet-out with 'acts' */
    REACTIVE_DROP,                  /* nothing to send; 'why' says why */
};

struct reactive_result {
    enum reactive_verdict verdict;
    int src_vm, dst_vm;             /* model indexes, -1: none / broadcast */
    const char *why;                /* static string, for logs */
    struct nm_act *acts;            /* owned: reactive_result_free() */
    size_t n_acts, cap_acts;
};

/* Decides what host 'h' does with the frame of 'pkt', from model 'm'
 * (finished).  'ofport' gives port numbers by name (0: unknown), as for
 * netmodel_flows().  *res is overwritten; free it with
 * reactive_result_free() whatever the outcome.  0, EINVAL (h out of
 * range) or ENOMEM. */
int reactive_decide(const struct netmodel *m, int h, nm_ofport_fn *ofport, void *aux,
                    const struct reactive_pkt *pkt, struct reactive_result *res);
void reactive_result_free(struct reactive_result *);

#endif
