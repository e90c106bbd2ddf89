/* vswitch_agent.h: skyvisord as an OpenFlow 1.3 switch to tenants' own
 * controllers, one virtual switch per controlled virtual switch.
 *
 * A virtual switch whose `controller` is set (api/switches.c; inside its
 * tenant's controller_allow) gets a connection from skyvisord to that
 * address, over which skyvisord plays the switch: it sends HELLO and
 * answers as OpenFlow 1.3 asks of a switch.  What the controller sees:
 *
 *   datapath id   vflow_datapath_id(tenant tag, switch seq): stable;
 *   features      n_buffers 0 (no buffering: every packet-in carries the
 *                 whole packet, buffer_id NO_BUFFER), VFLOW_N_TABLES
 *                 tables, capabilities FLOW_STATS | TABLE_STATS | PORT_STATS;
 *   ports         one per VM on the switch (named after the VM, its MAC
 *                 as hw_addr, LINK_DOWN while the VM is stopped) and one
 *                 per virtual link end (named "to-" and the peer switch),
 *                 numbered from 1 (db/tenant_ctl.h keeps the numbers);
 *                 PORT_STATUS add / delete / modify as they come, go or
 *                 change;
 *   flows         flow-mods are checked (ctrl/vflow.h lists every refusal
 *                 and its OpenFlow error), held within the quotas below,
 *                 and stored in PostgreSQL (vflow) as desired state before
 *                 they are acknowledged, so a restart keeps them; flow
 *                 stats, hard and idle timeouts and flow-removed are the
 *                 agent's; a barrier reply follows every flow-mod before
 *                 it, each already stored;
 *   links         a packet-out to a virtual link port enters the peer
 *                 switch on its end of the link and runs through that
 *                 switch's flow table, or, when the platform forwards for
 *                 the peer, reaches the platform's VMs of the component
 *                 (an ARP request for one is answered as the platform
 *                 answers ARP, in on the link), so LLDP sent
 *                 out of a link port comes back to the peer's controller
 *                 as a packet-in on the peer's port: topology discovery
 *                 finds exactly the tenant's virtual links;
 *   roles         EQUAL, MASTER, SLAVE with generation ids (a stale one is
 *                 refused); a SLAVE may not modify flows or send packets;
 *   the rest      DESC, PORT_DESC, FLOW, TABLE, PORT_STATS multiparts (a VM
 *                 port's counters are its interface's, as the reconciler
 *                 last sampled them, every frame whichever way it went; a
 *                 link port's, and a VM port's before its first sample,
 *                 what the agent moved in and out of it; a table's lookups
 *                 are its packets matched); anything
 *                 else (groups, meters, table-mod, port-mod, other
 *                 multiparts) is answered with the error OpenFlow gives
 *                 for a message or multipart type not supported.
 *
 *   VMs         a VM's IPv4 and ARP run through its switch's flows in
 *                 the bridges' own tables (ctrl/vtranslate.h): what
 *                 reaches the agent from there (a flow's output to the
 *                 controller, a punted flow, vswitch_agent_vswitch_frame)
 *                 becomes the tenant's packet-in or runs through the
 *                 agent's pipeline, whose outputs to a VM port are
 *                 delivered by packet-out at that VM's bridge (so is a
 *                 packet-out to a VM port).  Flow stats add what the
 *                 bridges' translated flows counted (read every
 *                 VSWITCH_AGENT_STATS_MS, which also runs idle timeouts);
 *                 a barrier reply waits until the reconciler realized the
 *                 flow-mods before it (at most VSWITCH_AGENT_BARRIER_WAIT_MS).
 *                 No flow, no forwarding (secure).  With `standalone` the
 *                 platform forwards as for any switch while the controller
 *                 is not connected (the agent records the connection).
 *
 * Quotas (per tenant, over all its controlled switches): at most
 * VSWITCH_AGENT_MAX_FLOWS flows (FLOW_MOD_FAILED TABLE_FULL beyond), and
 * flow-mods at VSWITCH_AGENT_RATE per second with bursts of
 * VSWITCH_AGENT_BURST (FLOW_MOD_FAILED EPERM beyond).  A message that does
 * not decode is answered with the decoder's error; a stream that cannot be
 * framed, or a controller that stops reading (over VSWITCH_AGENT_MAX_OUT
 * bytes queued), loses its connection, which is retried with backoff.
 * Every refusal is counted (vswitch_agent_stats, /metrics).
 *
 * Storage: the agent reaches PostgreSQL only through the store it is given
 * (struct vswitch_agent_store; db/vswitch_store.c glues it to
 * db/tenant_ctl.h), called on the agent's thread only.
 *
 * Several instances: each runs an agent, and a switch's controller gets one
 * connection, from the instance that holds the lease of the switch's home
 * cloud (its first VM's, db/tenant_ctl.h), which takes the switch over
 * when that lease moves.  Its barrier replies then cover the bridges that
 * instance writes, and the packet-ins that bridges of another instance's
 * clouds send for the switch are dropped there (counted as dropped frames).
 *
 * Threads: the agent runs on its own thread; it reads the controlled
 * switches and their ports every
 * poll_ms (a change of a VM, a link or a switch shows within that time),
 * and polls the controllers' sockets in between.  Stats are read with
 * atomics from any thread. */
#ifndef SKYVISOR_CTRL_VSWITCH_AGENT_H
#define SKYVISOR_CTRL_VSWITCH_AGENT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define VSWITCH_AGENT_MAX_FLOWS 1000
#define VSWITCH_AGENT_RATE 200
#define VSWITCH_AGENT_BURST 400
#define VSWITCH_AGENT_MAX_OUT (4u << 20)

struct vswitch_agent;
struct recon_vflow_stats;

/* A VM port's counters from its interface (vswitch_agent_store). */
struct vswitch_agent_port_counters {
    uint32_t port_no;
    uint64_t rx_packets, rx_bytes, tx_packets, tx_bytes, tx_dropped;
};

/* One stored virtual flow: the wire bytes of its canonical match (a whole
 * ofp_match) and of its instructions. */
struct vswitch_agent_flow {
    long long id;
    uint8_t table_id;
    uint16_t priority, flags, idle_timeout, hard_timeout;
    uint64_t cookie;
    uint8_t *match;             /* borrowed by put, owned by a list */
    size_t match_len;
    uint8_t *insts;
    size_t insts_len;
};

/* Each returns 0, or an errno after which the agent tries again later. */
struct vswitch_agent_store {
    /* The view (db/tenant_ctl.h, tenant_ctl_view): malloc'ed JSON text. */
    int (*view)(void *aux, char **json);
    /* Adds or replaces a flow of a switch (same table, priority, match);
     * *id gets its id. */
    int (*flow_put)(void *aux, const char *vswitch_id,
                    const struct vswitch_agent_flow *, bool reset_counts,
                    long long *id);
    /* Deletes flows by id (a JSON array of integers). */
    int (*flow_delete)(void *aux, const char *ids_json);
    /* A switch's flows: a malloc'ed array whose members own their bytes
     * (vswitch_agent_flows_free). */
    int (*flow_list)(void *aux, const char *vswitch_id,
                     struct vswitch_agent_flow **, size_t *n);
    /* Delivers a frame into VM 'vm_id' (may be NULL: frames to VMs are
     * dropped). */
    int (*deliver)(void *aux, const char *vm_id, const uint8_t *frame, size_t len);
    /* The counters the bridges hold for switch 'vswitch_id''s translated
     * flows (ctrl/recon_tenant_ctl.h: reconciler_vswitch_stats); may be
     * NULL (no datapath: the agent's own counts only). */
    int (*flow_stats)(void *aux, const char *vswitch_id,
                      struct recon_vflow_stats **out, size_t *n);
    /* The reconciler's passes started and ended (reconciler_passes), and a
     * nudge to start one; NULL: barrier replies wait for nothing. */
    void (*passes)(void *aux, uint64_t *started, uint64_t *ended);
    void (*kick)(void *aux);
    /* Records whether switch 'vswitch_id''s controller is connected (the
     * platform forwards a standalone switch only while it is not); may be
     * NULL. */
    int (*connected)(void *aux, const char *vswitch_id, bool connected);
    /* Whether this instance serves the switches whose home is cloud
     * 'cloud_id' ("" when there is no cloud): with several instances
     * (--leases), the one that holds that cloud's lease connects to the
     * switch's controller, and the others leave it alone.  NULL: all. */
    bool (*serves)(void *aux, const char *cloud_id);
    /* The counters of switch 'vswitch_id''s VM ports as their interfaces
     * counted them (the reconciler's samples), from the port's side: a
     * malloc'ed array in *out (caller frees).  May be NULL. */
    int (*port_counters)(void *aux, const char *vswitch_id,
                         struct vswitch_agent_port_counters **out, size_t *n);
    /* A frame out of switch 'vswitch_id''s link to a switch the platform
     * forwards for (ctrl/recon_tenant_ctl.h,
     * reconciler_vswitch_to_platform): 1 with the platform's ARP reply in
     * reply[0..*reply_len) to run in on that link, 0, or -1.  May be NULL
     * (such links then lead nowhere). */
    int (*to_platform)(void *aux, const char *vswitch_id, const uint8_t *frame,
                       size_t len, uint8_t *reply, size_t *reply_len);
    void *aux;
};
void vswitch_agent_flows_free(struct vswitch_agent_flow *, size_t n);

struct vswitch_agent_options {
    const struct vswitch_agent_store *store;    /* borrowed; outlives the agent */
    unsigned int poll_ms;       /* 0: 500 */
    unsigned int max_flows;     /* 0: VSWITCH_AGENT_MAX_FLOWS */
    unsigned int rate, burst;   /* 0: the defaults above */
};

struct vswitch_agent_stats {
    uint64_t switches;          /* controlled switches known */
    uint64_t connected;         /* of which connected to their controller */
    uint64_t flow_mods;         /* flow-mods applied */
    uint64_t flows;             /* virtual flows held */
    uint64_t refused;           /* messages answered with an error */
    uint64_t quota_refused;     /* ... of which for a quota */
    uint64_t packet_ins;        /* packet-ins sent */
    uint64_t packet_outs;       /* packet-outs accepted */
    uint64_t vm_frames;         /* frames from VMs run through their switches */
    uint64_t datapath_frames;   /* frames from the translated flows */
    uint64_t vm_delivered;      /* frames delivered into VMs */
    uint64_t vm_dropped;        /* frames from VMs dropped: queue full, no port */
};

/* Starts the agent's thread.  Returns NULL (and logs) on failure.  The
 * caller owns the agent: vswitch_agent_stop() stops and frees it. */
struct vswitch_agent *vswitch_agent_start(const struct vswitch_agent_options *);
/* Closes every controller connection, joins the thread, frees.  Accepts
 * NULL. */
void vswitch_agent_stop(struct vswitch_agent *);
/* Any thread, never blocks: a frame VM 'vm_id' sent (its own addresses),
 * to run through its switch's flows on the agent's thread (copied; dropped
 * and counted when VSWITCH_AGENT_MAX_QUEUE frames wait already). */
void vswitch_agent_vm_frame(struct vswitch_agent *, const char *vm_id,
                            const uint8_t *frame, size_t len);
#define VSWITCH_AGENT_MAX_QUEUE 4096
/* Any thread, never blocks: a frame that left switch 'vswitch_id''s
 * translated flows for the agent (ctrl/recon_tenant_ctl.h): from virtual
 * table 'vtable', entered on virtual port 'vport'; 'punt' when the agent is
 * to run that flow itself.  Queued as above. */
void vswitch_agent_vswitch_frame(struct vswitch_agent *, const char *vswitch_id,
                                 uint32_t vport, uint8_t vtable, bool punt,
                                 const uint8_t *frame, size_t len);
/* How often the agent reads its switches' flow counters from the bridges
 * (flow stats, idle timeouts), and how long a barrier reply waits at most
 * for the reconciler to realize the flow-mods before it. */
#define VSWITCH_AGENT_STATS_MS 1000
#define VSWITCH_AGENT_BARRIER_WAIT_MS 5000

/* Any thread. */
void vswitch_agent_get_stats(const struct vswitch_agent *, struct vswitch_agent_stats *);

#endif
