/* netmodel.h: the desired state of the whole platform, and what every
 * bridge must hold to realize it.
 *
 * The reconciler loads a struct netmodel from the database in one
 * transaction (db/state.c), calls netmodel_finish() to derive the
 * connected components and the overlay, and then asks, per host bridge:
 *   netmodel_ports()  which ports (VM ports, tunnels) the bridge must have;
 *   netmodel_flows()  which flows, given the OpenFlow port numbers the
 *                     switch assigned to those ports.
 * Everything here is pure: no I/O, deterministic for a given model (the
 * reconciler relies on that to adopt flows a previous run installed).
 *
 * The physical overlay.  Hosts reach other clouds only through their
 * cloud's gateway: each worker host has one tunnel to its gateway (over the
 * cloud-local tunnel_ip); gateways are joined by the tunnels of core/tunnels.h
 * (minimum spanning tree of the cloud-link costs, the tree plus backups, or
 * full mesh) over their public_ip; mst+backup's backup tunnels are ports
 * only (backup_adj), outside the overlay that forwarding follows.  Unicast
 * follows shortest overlay paths; a broadcast from a VM
 * follows the breadth-first tree rooted at its bridge, pruned to branches
 * that hold members of the sender's component, so it never loops and never
 * visits a bridge twice, whatever the layout.
 *
 * Two gateways per cloud (migrations/011, core/tunnels.h).  A cloud's
 * gateways are ordered by host name: the first is its preferred gateway
 * (nm_cloud.gateway), the one the overlay above (adj, dist, the broadcast
 * trees, core/wanff.h's plan) is built on; the second is its twin, which
 * stands in the overlay at the preferred one's place (netmodel_pos()):
 * it has tunnels to the same neighbours' hosts, holds the same transit,
 * delivery, broadcast and detour flows, and so forwards whatever reaches
 * it exactly as the preferred one would.  Every neighbour of the overlay is
 * then reached by up to two tunnels (netmodel_peers(): a worker's gateway
 * by one to each of its cloud's gateways; an adjacent cloud, from either
 * gateway, by one to each of that cloud's gateways, an overlay edge thus
 * carrying up to four), every tunnel runs BFD, and an output toward a
 * neighbour with two goes to a fast-failover group (netmodel_groups())
 * whose buckets watch the preferred tunnel, then the other (a gateway
 * prefers the peer of its own ordinal: tunnels_gateway_pairs()), then, at
 * a gateway of mst+backup, the cloud-level detour.  Traffic enters a cloud
 * at exactly one of its gateways (each sender's bucket picks one), so a
 * broadcast still reaches every member once.  A cloud with one gateway has
 * exactly the ports, flows and groups it had before.  A twin takes no VMs
 * (status error): the overlay has no place for them.
 *
 * Tenant isolation.  A frame between bridges carries platform MACs: the
 * tenant's 16-bit tag in the first two bytes, the VM's wire_low (see
 * migrations/002_wire.sql) in the last four; the ingress edge sets them,
 * the egress edge restores the VM's own addresses, so a VM only ever sees
 * real MACs.  Forwarding between bridges matches platform MACs only, which
 * are unique on the platform; the ingress edge only maps destinations of
 * the sender's own component (VMs on virtual switches connected to its
 * own), so nothing else is reachable, broadcasts included.
 *
 * The pipeline of every bridge (tables):
 *    0 classify    tunnel ports: LLDP to the controller, the rest to 20;
 *                  VM ports (port security): IPv4 from the VM's MAC and IP
 *                  sets metadata[63:32] = component and goes to 10; ARP
 *                  with the VM's MAC and IP goes to the controller, which
 *                  answers it; anything else (forged source, LLDP, other
 *                  ethertypes) is dropped.
 *   10 tenant L2   unicast to a component member: platform destination MAC,
 *                  then 15; broadcast: the platform source MAC to the
 *                  tunnels of the tree, then as sent to 25; a miss goes to
 *                  the controller (the reactive path).
 *   15 src tag     the sender's platform source MAC, then 20.
 *   20 forward     by platform destination: local VM (restore its MAC,
 *                  metadata[31:0] = its port, then 30) or the next tunnel;
 *                  broadcasts by platform source along the tree, and with
 *                  the sender's own MAC and metadata[63:32] = component to
 *                  25 where the component has local members; a worker host
 *                  sends whatever else to its gateway.
 *   25 flood       a component's broadcast to its members on this host (the
 *                  port it came in on excepted, as OpenFlow does): one flow
 *                  per component, so a member added changes this flow and
 *                  its own, not every sender's.
 *   30 src restore the sender's own source MAC, then 40.
 *   40 output      to the port in metadata[31:0].
 *
 * Live migration (migrations/006 and 008).  A VM that migrates from host S
 * to host T has two platform MACs while it does: its own W (above) and the
 * migration's A (tag bytes 00:00, the migration's alt_low), each delivered
 * to one place and forwarded there by the same transit rules as any other
 * platform MAC.  Per phase (the VM's host in the database is S until
 * activate, T from then on):
 *
 *   phase     W goes to  A goes to  second place  ingress (10) sends to
 *   prepare   S          -          -             W
 *   clone     S          T          T             W
 *   dual      S          T          T             W and a copy to A
 *   activate  S          T          S             A
 *   cleanup   T          T          -             W
 *
 * The second place has the VM's port with port security (0), its source
 * tag (15) and the deliveries that lead there; ARP and RARP from it go to
 * the controller (the first frame of a VM resumed at T activates it), its
 * broadcasts are dropped (they follow the tree of the VM's host only).
 * Each step changes where a MAC leads only once nothing is sent to that
 * MAC any more (activate stops sending W before cleanup moves it; cleanup
 * sends W again only to T), so the ordering engine's deepest-first order
 * is enough for no frame to be lost, and in dual every frame reaches both
 * places.  The copy is made at the ingress edge by resubmitting it to the
 * source tag table with A (an Open vSwitch extension) before the frame
 * goes on with W.
 *
 * Meters (core/meters.h): a VM's rate limit on its IPv4 port-security
 * flow (0), a tenant's WAN cap on a gateway's transit flows into an
 * inter-cloud tunnel (20); a flow names its meter first.
 *
 * Tenant controllers (ctrl/vswitch_agent.h, core/ctlset.h).  The port
 * security of a VM on a switch with tenant_ctl sends its IPv4 and ARP into
 * the tenant's own tables (60 .. 60 + NM_VT_TABLES - 1, the virtual
 * tables 0 .. 15 of its switch) with metadata = the switch's seq << 32 |
 * the VM's virtual port (netmodel_vm_vport), instead of the platform's
 * tenant table; ctrl/vtranslate.h compiles the controller's flows into
 * those tables at the ingress bridge (cookie: netmodel_vsw_cookie), their
 * outputs to VM ports through the source tag and forwarding tables (15,
 * 20) like any platform frame.  A VM whose virtual port has no number yet
 * sends to the controller instead (the agent runs the tenant's flows on
 * it in software).  The platform's forwarding never carries their frames
 * but as a virtual link would: where a controlled switch is linked to a
 * switch the platform forwards for (one component), the platform's tenant
 * table (10) sends a platform VM's frames for a controlled VM into the
 * controlled switch's tables on its end of that link
 * (netmodel_vsw_entry_port), and a controlled switch's output to that link
 * enters the platform's tenant table (10) like a frame of the platform's;
 * the platform's floods (25) leave controlled VMs out.
 *
 * Fast failover (mst+backup, core/wanff.h).  At a gateway, an output into
 * a tree tunnel that has a detour goes to that tunnel's fast-failover group
 * (WANFF_GROUP_BASE + mark): bucket 0 the tunnel, watched (BFD); bucket 1,
 * watching the detour's first tunnel, sets the mark in the tunnel key and
 * resubmits to 50 (divert), which outputs to that tunnel (by IN_PORT when
 * the packet came in by it).  A marked packet arriving on any tunnel (0,
 * above the tunnels' rules, by its key) is sent on along the detour while
 * this gateway is on the cut's source side; on the target side it loses
 * the mark and is forwarded by the tree (20), and a broadcast also goes on
 * marked along the tree to the cut's end there: each host on that way
 * floods it to its own subtrees (the input port is never an output), so the
 * side gets it once.  The groups themselves are the reconciler's
 * (ctrl/recon_groups.c), from the same plan.
 *
 * Cookies name a flow's owner: 0xA in bits 63..60, the kind in 59..56
 * (infrastructure, a VM, or a component's flood), the tenant tag in 55..40
 * and the VM's wire_low (the component's name) in 31..0, so the reconciler
 * can read back exactly the flows it owns, tell whose are missing or
 * stale, and recompile one owner's flows alone.
 *
 * Ownership: a netmodel owns every array in it (netmodel_free); flow and
 * port lists returned by the planning functions belong to the caller. */
#ifndef SKYVISOR_CORE_NETMODEL_H
#define SKYVISOR_CORE_NETMODEL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/ctlset.h"
#include "core/tunnels.h"

struct wanff_plans;

enum nm_state { NM_PENDING, NM_REALIZED, NM_ERROR };

/* What every object shares: identity, generations and the status last
 * written to the database. */
struct nm_obj {
    char id[40];                    /* a UUID */
    char name[128];
    long long generation, observed_generation;
    enum nm_state state;
    char *detail;                   /* owned, may be NULL */
};

/* A status to write back: the object's kind and id, borrowed strings. */
enum nm_kind {
    NK_CLOUD, NK_HOST, NK_TENANT, NK_NETWORK, NK_SWITCH, NK_LINK, NK_VM,
    NK__COUNT
};

struct nm_status {
    enum nm_kind kind;
    const char *id;
    enum nm_state state;
    const char *detail;             /* NULL for none */
    long long observed_generation;
};

struct nm_cloud {
    struct nm_obj o;
    int gateway;                    /* its preferred gateway (host index),
                                     * -1 if none */
    /* netmodel_finish(): its gateways by host name (the first is
     * 'gateway', the second its twin), -1 past n_gateways. */
    int gateways[TUNNELS_MAX_GATEWAYS];
    unsigned n_gateways;
};

struct nm_host {
    struct nm_obj o;
    int cloud;
    bool gateway;
    unsigned ordinal;               /* netmodel_finish(): a gateway's place
                                     * in its cloud's gateways (0 preferred,
                                     * 1 the twin); TUNNELS_MAX_GATEWAYS for
                                     * one beyond them, which gets nothing */
    uint32_t tunnel_ip, public_ip;  /* host order; public_ip 0 if none */
    char ovsdb[256];
    char bridge[16];
    char datapath[8];
    char openflow[256];             /* "" when the bridge connects to us */
    char controller[256];           /* "" when we connect to the bridge */
    uint64_t dpid;                  /* derived from the id */
};

struct nm_tenant {
    struct nm_obj o;
    uint16_t tag;
    uint32_t wan_limit_mbps;        /* cap per inter-cloud link, 0: none
                                     * (core/meters.h) */
};

struct nm_network {
    struct nm_obj o;
    int tenant;
    bool rewrite;                   /* tagging "rewrite", else "mac-prefix" */
};

struct nm_switch {
    struct nm_obj o;
    int network;
    uint32_t seq;
    uint32_t comp;                  /* netmodel_finish(): component name */
    bool tenant_ctl;                /* its tenant's controller forwards its VMs'
                                     * frames (controller set, fail_mode secure):
                                     * see "Tenant controllers" above */
};

struct nm_link {
    struct nm_obj o;
    int network;
    int a, b;                       /* switch indexes */
};

struct nm_vm {
    struct nm_obj o;
    int network, sw, host;
    uint64_t mac;                   /* low 48 bits */
    uint32_t ip;                    /* host order */
    uint32_t wire_low;
    char iface[16];                 /* "" when its hypervisor plugs an
                                     * interface carrying
                                     * external_ids:skyvisor-vm-id */
    /* Its active live migration (see above): NM_MIG_NONE, or the phase,
     * the hosts it moves from and to, and the low bytes of A. */
    uint8_t mig;                    /* enum nm_mig */
    int mig_from, mig_to;
    uint32_t alt_low;
    uint32_t rate_mbps, burst_kb;   /* its rate limit, 0: none (core/meters.h) */
};

enum nm_mig {
    NM_MIG_NONE, NM_MIG_PREPARE, NM_MIG_CLONE, NM_MIG_DUAL, NM_MIG_ACTIVATE,
    NM_MIG_CLEANUP
};

struct nm_cloudlink {
    int a, b;                       /* cloud indexes */
    double cost;
};

struct netmodel {
    enum tunnels_layout layout;
    struct nm_cloud *clouds;        size_t n_clouds;
    struct nm_host *hosts;          size_t n_hosts;
    struct nm_tenant *tenants;      size_t n_tenants;
    struct nm_network *networks;    size_t n_networks;
    struct nm_switch *switches;     size_t n_switches;
    struct nm_link *links;          size_t n_links;
    struct nm_vm *vms;              size_t n_vms;
    struct nm_cloudlink *cloudlinks; size_t n_cloudlinks;
    struct ctlset *ctl;             /* one reference, may be NULL: the
                                     * tenant-controlled switches (above) */

    /* netmodel_finish(): */
    struct tunnel *tunnels;         size_t n_tunnels;   /* between clouds */
    int **adj;                      /* per host: overlay neighbours, -1 ends */
    int **backup_adj;               /* per host: the peers of its backup
                                     * tunnels (mst+backup), -1 ends: ports
                                     * only, outside adj and unicast paths */
    int *dist;                      /* n_hosts x n_hosts hop counts, -1: none */
    struct wanff_plans *ff;         /* one reference: every gateway's
                                     * fast-failover plan (core/wanff.h),
                                     * shared with the model it was derived
                                     * from by netmodel_apply_vms (the same
                                     * overlay) */
    int **vms_on_host;              /* per host: VM indexes, -1 ends */
    size_t n_comps;
    int *vm_comp;                   /* per VM: dense component index, -1 if
                                     * its switch or host is unknown */
    int **comp_vms;                 /* per component: VM indexes, -1 ends */
    uint8_t *comp_hosts;            /* n_comps x n_hosts: 1 = has a member */
    uint32_t *comp_name;            /* per component: its metadata value */
    int *mig_vms;                   /* VMs with an active migration,
                                     * -1 ends */
    /* netmodel_apply_vms(): how the VMs' indexes moved from the model this
     * one was built from (netmodel_vm_shift()); empty otherwise. */
    int *shift_gone;                /* its indexes removed or replaced,
                                     * ascending */
    size_t n_shift_gone;
    int *shift_new;                 /* this model's indexes inserted (or
                                     * replacing), ascending */
    size_t n_shift_new;
};

void netmodel_init(struct netmodel *);
void netmodel_free(struct netmodel *);
/* Derives components, tunnels, the overlay and per-host VM lists; fills
 * each host's dpid.  0 or ENOMEM. */
int netmodel_finish(struct netmodel *);

/* Cookies. */
#define NM_COOKIE_MAGIC   0xA000000000000000ull
#define NM_COOKIE_MASK    0xF000000000000000ull
enum nm_cookie_kind { NM_CK_INFRA = 1, NM_CK_VM = 2, NM_CK_COMP = 3, NM_CK_VSW = 4 };
uint64_t netmodel_cookie(enum nm_cookie_kind, uint16_t tag, uint32_t low);
uint64_t netmodel_vm_cookie(const struct netmodel *, int vm);
/* A component's local flood (table 25): its tenant's tag, its name. */
uint64_t netmodel_comp_cookie(const struct netmodel *, int comp);

/* A VM's platform MAC, and the tag of its tenant. */
uint64_t netmodel_wire_mac(const struct netmodel *, int vm);
/* The flows a tenant's controller put on switch 'sw' (tables 60 and up):
 * its tenant's tag, its seq. */
uint64_t netmodel_vsw_cookie(const struct netmodel *, int sw);
/* The port of tenant-controlled switch 'sw' through which the platform's
 * frames enter it: its end of its first link (model order) to a switch the
 * platform forwards for, 0 when it has none numbered. */
uint32_t netmodel_vsw_entry_port(const struct netmodel *, int sw);
/* Metadata[31:0] of a frame a controlled switch's flows sent out of a link
 * into the platform's tenant table (ctrl/vtranslate.h): not sent back into
 * a controlled switch from there. */
#define NM_META_FROM_VTENANT 1u
/* The virtual port of VM 'vm' on its tenant-controlled switch (its
 * tenant_ctl set and its number in m->ctl), 0 when it has none. */
uint32_t netmodel_vm_vport(const struct netmodel *, int vm);
/* The platform MACs an ingress edge sends VM 'vm''s frames to in its
 * migration's phase (see "Live migration": W, A, or both in dual, A
 * first); returns how many (1 or 2). */
int netmodel_vm_ingress_macs(const struct netmodel *, int vm, uint64_t macs[2]);
/* The platform MAC A of a migrating VM's second identity. */
uint64_t netmodel_alt_mac(const struct netmodel *, int vm);
/* The second place of a migrating VM (see "Live migration" above), -1 if
 * none in its phase. */
int netmodel_vm_second(const struct netmodel *, int vm);
uint16_t netmodel_vm_tag(const struct netmodel *, int vm);

/* --- ports --- */

enum nm_port_kind { NM_PORT_VM, NM_PORT_TUNNEL };

struct nm_port {
    char name[16];
    enum nm_port_kind kind;
    bool internal;                  /* VM port its hypervisor plugs, bound
                                     * by external_ids:skyvisor-vm-id */
    bool second;                    /* the VM's port at its migration's
                                     * second place, not at its host */
    int vm;                         /* NM_PORT_VM */
    int peer;                       /* NM_PORT_TUNNEL: the host at the far end */
    uint32_t local_ip, remote_ip;   /* NM_PORT_TUNNEL */
};

/* The ports host 'h' must have: its VMs' ports, the ports of the VMs
 * whose second place it is, then its tunnels.  Caller
 * frees *ports.  0 or ENOMEM. */
int netmodel_ports(const struct netmodel *, int h, struct nm_port **ports,
                   size_t *n);
/* VM ports' names: the one rule, which every lookup of a VM's port on a
 * bridge follows (the flows' ports, the reactive path's, ctrl/'s bindings).
 * A name is a Linux interface name, so at most 15 characters and the NUL
 * (IFNAMSIZ, 16):
 *   a VM with an iface   that name (the API takes 1..15 of [A-Za-z0-9_.-]):
 *                        skyvisor makes the port, named so;
 *   a VM without one     "vm" and the first 8 hex digits of its id (10
 *                        characters): the name the model gives the
 *                        interface its hypervisor plugs with
 *                        external_ids:skyvisor-vm-id, which ctrl/ binds by
 *                        that id (recon_vm_iface), whatever its real name.
 * netmodel_vm_port_name writes VM 'vm''s name; netmodel_vm_port_id reads
 * the second form back: the id's first 8 characters in 'name', or NULL
 * for any other name.  Neither allocates. */
void netmodel_vm_port_name(const struct netmodel *, int vm, char name[16]);
const char *netmodel_vm_port_id(const char *name);
/* The name of the tunnel port from host 'h' to host 'peer'. */
void netmodel_tunnel_name(const struct netmodel *, int h, int peer, char name[16]);

/* The host that stands for host 'h' in the overlay (adj, dist, broadcast
 * trees, next hops): its cloud's preferred gateway when 'h' is a twin,
 * else 'h'. */
int netmodel_pos(const struct netmodel *, int h);

/* Whether host 'h' is a cloud's second gateway (see "Two gateways"). */
bool netmodel_is_twin(const struct netmodel *, int h);

/* The hosts that host 'h' tunnels to for the overlay neighbour 'x' of
 * netmodel_pos(h), in h's order of preference, into out[]: the gateways of
 * x's cloud when x is a gateway, else x alone.  Returns their count. */
size_t netmodel_peers(const struct netmodel *, int h, int x,
                      int out[TUNNELS_MAX_GATEWAYS]);

/* --- flows --- */

enum nm_field {
    NF_IN_PORT, NF_ETH_DST, NF_ETH_SRC, NF_ETH_TYPE, NF_IPV4_SRC,
    NF_ARP_SPA, NF_ARP_SHA, NF_METADATA, NF_TUNNEL_ID, NF__COUNT
};

/* NA_RESUBMIT: Open vSwitch's resubmit to table 'arg' (in_port kept).
 * NA_GROUP: to group 'arg'; NA_SET_TUN_ID: the tunnel key (a detour's
 * mark, "Fast failover" below). */
enum nm_act_type {
    NA_OUTPUT, NA_CONTROLLER, NA_SET_ETH_SRC, NA_SET_ETH_DST, NA_RESUBMIT,
    NA_GROUP, NA_SET_TUN_ID
};

struct nm_act {
    uint8_t type;                   /* enum nm_act_type */
    uint64_t arg;                   /* port or MAC */
};

#define NM_NO_GOTO 0xff

struct nm_flow {
    uint8_t table;
    uint16_t priority;
    uint64_t cookie;
    uint16_t present;               /* bit (1 << enum nm_field) */
    uint16_t masked;
    uint64_t value[NF__COUNT], mask[NF__COUNT];
    struct nm_act *acts;            /* owned */
    size_t n_acts;
    bool write_meta;
    uint64_t meta, meta_mask;
    uint8_t goto_table;             /* NM_NO_GOTO: none */
    uint32_t meter;                 /* a meter instruction, 0: none; its */
    uint32_t meter_kbps, meter_burst;   /* band (core/meters.h) */
};

enum {
    NM_T_CLASSIFY = 0, NM_T_TENANT = 10, NM_T_SRC_TAG = 15, NM_T_FORWARD = 20,
    NM_T_FLOOD = 25, NM_T_SRC_RESTORE = 30, NM_T_OUTPUT = 40, NM_T_DIVERT = 50,
    NM_T_VTENANT = 60,
};
#define NM_VT_TABLES 16             /* the tenant tables: 60 .. 75 */

struct nm_flows {
    struct nm_flow *v;
    size_t n, cap;
};

/* The OpenFlow number of port 'name' on host 'h', 0 when not known yet. */
typedef uint32_t nm_ofport_fn(void *aux, int h, const char *name);

/* Appends host 'h''s desired flows to 'out'.  A flow that would need a port
 * whose number is not known yet is left out (the VM stays pending until the
 * next pass).  0 or ENOMEM. */
int netmodel_flows(const struct netmodel *, int h, nm_ofport_fn *ofport,
                   void *aux, struct nm_flows *out);
void nm_flows_clear(struct nm_flows *);

/* --- groups ---
 *
 * The fast-failover groups a bridge needs: one per overlay neighbour that
 * its flows reach through a group (see "Two gateways" and "Fast failover"
 * above).  A bucket watches and outputs to port 'out' (its tunnel to host
 * 'peer'), or, when 'mark' is set, watches port 'out' (the detour's first
 * tunnel) and sets the mark in the tunnel key and resubmits to the divert
 * table (50).  Ids: WANFF_GROUP_BASE + mark for a tree tunnel with a
 * detour (core/wanff.h), NM_TWIN_GROUP_BASE + the neighbour's cloud index
 * for a neighbour reached by two tunnels without one. */
#define NM_TWIN_GROUP_BASE 0x5e000000u

struct nm_bucket {
    uint32_t out;
    uint32_t mark;                  /* 0: output to 'out' */
    int peer;                       /* the host at the far end of 'out' */
};

struct nm_group {
    uint32_t id;
    struct nm_bucket b[TUNNELS_MAX_GATEWAYS + 1];
    size_t n;
};

/* Host 'h''s groups, by the port numbers 'ofport' knows (a tunnel not
 * numbered yet has no bucket; a group left with a single plain bucket is
 * no group, its flows output to the port), in a malloc'ed array (caller
 * frees).  0 or ENOMEM. */
int netmodel_groups(const struct netmodel *, int h, nm_ofport_fn *ofport, void *aux,
                    struct nm_group **out, size_t *n);

/* Appends to 'out' only the flows of host 'h' whose owners are the VMs
 * vms[0..n) (their cookies, netmodel_vm_cookie()) and the components
 * comps[0..n_comps) (their local floods, netmodel_comp_cookie(); -1
 * entries are skipped), as netmodel_flows() would compile them.  0 or
 * ENOMEM. */
int netmodel_flows_owners(const struct netmodel *, int h, nm_ofport_fn *ofport,
                          void *aux, const int *vms, size_t n, const int *comps,
                          size_t n_comps, struct nm_flows *out);

/* The component of a VM, and whether two VMs may talk. */
uint32_t netmodel_vm_comp(const struct netmodel *, int vm);

/* The broadcast tree of sender host 's' pruned to component 'comp', in
 * caller-owned arrays of n_hosts entries: parent[x] is x's parent in the
 * breadth-first tree of the overlay rooted at 's' (-1 for 's', -2 for a
 * host not reached), sub[x] whether x's subtree holds a member of 'comp';
 * 'queue' is scratch.  A broadcast goes down to the children x with sub[x]. */
void netmodel_bcast_tree(const struct netmodel *, int s, int comp, int *parent,
                         uint8_t *sub, int *queue);

/* The host whose bridge has datapath id 'dpid', -1 if none. */
int netmodel_host_by_dpid(const struct netmodel *, uint64_t dpid);

/* Next hop from host 'h' toward host 'dst': an overlay neighbour of 'h',
 * 'h' itself when h == dst, -1 when unreachable. */
int netmodel_next_hop(const struct netmodel *, int h, int dst);

/* --- incremental updates ---
 *
 * A change to VMs alone (their switches, networks and hosts unchanged)
 * does not need a reload: netmodel_apply_vms() builds the next model from
 * the current one.  What it changes (the pipeline above): the VM's own
 * flows (its cookie) on every host carrying its network
 * (netmodel_network_hosts()); on its own host, its component's flood
 * (25) too; and when the VM is its component's first or last member on
 * its host (!netmodel_vm_shares_host()), the pruned broadcast trees: every
 * flow of the component on every host carrying the network. */

/* Builds 'dst' (uninitialised) from 'src': the same objects, but the VMs
 * named in gone[0..n_gone) removed and up[0..n_up) inserted or replacing
 * the VM of the same id; their network, switch and host indexes refer to
 * src's arrays (the same in dst).  Then finishes dst.  Sorts 'up' and
 * 'gone' and moves each up[i].o.detail into dst.  0 or ENOMEM (dst is
 * then empty). */
int netmodel_apply_vms(const struct netmodel *src, struct nm_vm *up, size_t n_up,
                       char (*gone)[40], size_t n_gone, struct netmodel *dst);
/* The index in 'm' of the VM at index 'old' of the model 'm' was built
 * from by netmodel_apply_vms(): -1 when that VM was removed or replaced
 * (a changed VM), else its index moved past the VMs inserted and removed
 * before it.  O(log n) for n changed VMs.  Meaningless for a model that
 * netmodel_apply_vms() did not build. */
int netmodel_vm_shift(const struct netmodel *m, int old);
/* The index of the object with this id in objs[0..n), an array sorted by
 * id of elements of 'size' bytes that start with a struct nm_obj (every
 * array of the model is, as the store loads it); -1 if none. */
int netmodel_index(const void *objs, size_t n, size_t size, const char *id);
/* The index of the VM or network with this id, -1 if none. */
int netmodel_vm_by_id(const struct netmodel *, const char *id);
int netmodel_network_by_id(const struct netmodel *, const char *id);
/* True unless VM 'v' is in a component and is its only member on its host. */
bool netmodel_vm_shares_host(const struct netmodel *, int v);
/* Sets mark[h] (n_hosts entries) for every host that may hold flows of
 * network 'net': the hosts of its VMs, the hosts its VMs migrate from and
 * to, and every gateway (transit). */
void netmodel_network_hosts(const struct netmodel *, int net, uint8_t *mark);

#endif
