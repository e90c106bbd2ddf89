/* vflow.h: a tenant controller's flows on its virtual switch, as pure
 * functions over the OpenFlow codec's structs (no I/O: the agent,
 * ctrl/vswitch_agent.c, does the talking and the storing).
 *
 * A virtual switch offers VFLOW_N_TABLES tables (0..VFLOW_N_TABLES-1) and
 * the ports its view lists (one per VM, one per virtual link end).  A
 * flow-mod is checked against what the platform can give a tenant without
 * letting it reach past its own network (vflow_check):
 *
 *   what                                             OpenFlow error
 *   table beyond the virtual tables                  FLOW_MOD_FAILED BAD_TABLE_ID
 *   command other than add/modify/delete(_strict)    FLOW_MOD_FAILED BAD_COMMAND
 *   buffer_id other than NO_BUFFER (no buffering)    BAD_REQUEST BUFFER_UNKNOWN
 *   match on metadata or tunnel_id (the platform's)  BAD_MATCH BAD_FIELD
 *   match on a field of another OXM class            BAD_MATCH BAD_FIELD
 *   a field the codec does not model, given twice    BAD_MATCH DUP_FIELD
 *   in_port that is not one of the switch's ports    BAD_MATCH BAD_VALUE
 *   write-metadata                                   BAD_INSTRUCTION UNSUP_METADATA
 *   meter, or an instruction of another kind         BAD_INSTRUCTION UNSUP_INST
 *   goto-table not forward, or past the tables       BAD_INSTRUCTION BAD_TABLE_ID
 *   output to a port that is not the switch's        BAD_ACTION BAD_OUT_PORT
 *     (its own ports, IN_PORT, FLOOD, ALL, CONTROLLER are; LOCAL, NORMAL,
 *     TABLE and physical numbers are not)
 *   group                                            BAD_ACTION BAD_OUT_GROUP
 *   set_queue                                        BAD_ACTION BAD_QUEUE
 *   set-field of eth_src/eth_dst (the egress edge    BAD_ACTION BAD_SET_TYPE
 *     restores the tenant's addresses), metadata,
 *     tunnel_id, in_port
 *   an action of another kind (experimenter)         BAD_ACTION BAD_TYPE
 *   with CHECK_OVERLAP, a flow of the same table     FLOW_MOD_FAILED OVERLAP
 *     and priority that a packet could also match
 *     (the agent checks this one, and the quotas)
 *
 * Identity: two flows are the same flow when table, priority and match are
 * equal; a match is compared in its canonical form (vflow_match_canon:
 * modelled fields in field order, then the other fields sorted by their
 * bytes), which is also the form stored (migrations/009, vflow.match), so
 * the order in which a controller lists fields does not make two flows.
 *
 * Selection (non-strict modify and delete, flow stats): a request's match
 * covers a flow's when every field the request names is in the flow's
 * match with at least the request's mask and the same value under it;
 * fields this codec does not model are compared as whole TLVs. */
#ifndef SKYVISOR_CTRL_VFLOW_H
#define SKYVISOR_CTRL_VFLOW_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ctrl/ofmsg.h"

#define VFLOW_N_TABLES 16
#define OFPTT_ALL 0xff

/* The ports of one virtual switch: a sorted array of numbers. */
struct vflow_ports {
    const uint32_t *no;
    size_t n;
};
bool vflow_port_exists(const struct vflow_ports *, uint32_t port_no);

/* OFERR_NONE when 'fm' may be applied to a switch with 'ports', else the
 * error to answer with (the table above). */
enum oferr vflow_check(const struct ofmsg_flow_mod *fm, const struct vflow_ports *ports);
/* The same for a packet-out's actions and in_port (which may also be
 * CONTROLLER or ANY); OFPP_TABLE is allowed as an output here. */
enum oferr vflow_check_packet_out(const struct ofmsg_packet_out *po,
                                  const struct vflow_ports *ports);

/* Writes the canonical form of 'in' into *out (see above). */
void vflow_match_canon(const struct ofmatch *in, struct ofmatch *out);
/* True if 'req' covers 'flow' (see above). */
bool vflow_match_covers(const struct ofmatch *req, const struct ofmatch *flow);
/* True if some packet could match both 'a' and 'b' (OFPFF_CHECK_OVERLAP
 * between flows of one table and priority): every modelled field both
 * name agrees under both masks, and no field the codec does not model is
 * given different values by the two (such fields compare as whole TLVs, so
 * two masked values of one are taken to overlap unless equal). */
bool vflow_match_overlaps(const struct ofmatch *a, const struct ofmatch *b);
/* True if an action of 'insts' outputs to 'port' (OFPP_ANY: always true). */
bool vflow_outputs_to(const struct ofinst *insts, size_t n, uint32_t port);

/* A virtual switch's datapath id: the tenant tag in bits 32..47 and the
 * switch's stable number in bits 0..31, under the marker 0x5b in the top
 * byte, so it meets no physical bridge's id (those derive from host ids). */
uint64_t vflow_datapath_id(uint16_t tenant_tag, uint64_t switch_seq);
/* A port's name (at most 15 characters and NUL): 'base' (a VM's name, or
 * "to-" and the peer switch's for a link) when it fits, else its first
 * characters, '~' and the port number, so names stay unique. */
void vflow_port_name(const char *base, bool link, uint32_t port_no, char out[16]);


/* The match key of a packet entering a virtual switch on 'in_port': in_port,
 * Ethernet addresses and type (after one 802.1Q tag, whose VID is then
 * vlan_vid with OFPVID_PRESENT, and its PCP; 0 untagged), and for IPv4 the
 * protocol, addresses, DSCP, ECN and TCP/UDP ports or ICMP type and code,
 * for ARP its operation and addresses (the fields the codec does not model
 * as opaque TLVs, which a flow's exact ones must equal).  For packets the
 * agent moves itself (from VMs, to links). */
void vflow_packet_key(const uint8_t *pkt, size_t len, uint32_t in_port,
                      struct ofmatch *key);
/* True if a flow whose match is 'flow' takes a packet with 'key' (a flow
 * naming a field vflow_packet_key does not model takes none of them). */
bool vflow_match_packet(const struct ofmatch *flow, const struct ofmatch *key);
#endif
