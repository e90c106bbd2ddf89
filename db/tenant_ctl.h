/* tenant_ctl.h: the statements behind the tenant-controller agents
 * (ctrl/vswitch_agent.h; migrations/009_tenant_controllers.sql).
 *
 * The agent reads its whole view in one call: every virtual switch that
 * names a controller, with its ports.  The same transaction first keeps the
 * port numbers (table vport) in step with the switches' VMs and links:
 * a port whose VM or link left the switch loses its number, and a VM or
 * link end without one gets the lowest free number of its switch.  The
 * agent is the only writer of vport (one reconciling instance), so two
 * allocations never race; a unique violation (another writer) makes the
 * call fail and the next one tries again.
 *
 * Virtual flows (table vflow) are the tenant controllers' flows as desired
 * state: the agent writes each accepted flow-mod's effect and reads a
 * switch's flows back when it (re)starts. */
#ifndef SKYVISOR_DB_TENANT_CTL_H
#define SKYVISOR_DB_TENANT_CTL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "db/db.h"

/* The view, as malloc'ed JSON text in *json (the caller frees), an array
 * ordered by switch id of
 *   {"id", "name", "network_id", "controller", "fail_mode", "tag" (the
 *    tenant's), "seq" (the switch's stable number), "home_cloud" (the
 *    cloud of its first VM by id, else the first cloud by id; null when
 *    there is no cloud),
 *    "ports": [{"port_no", "kind": "vm"|"link", "object_id", "name" (the
 *               VM's, or the peer switch's for a link), "mac" (VMs), "up"}]}
 * with ports ordered by port_no.  Its own transaction. */
enum db_qs tenant_ctl_view(struct db_conn *, char **json);

/* One virtual flow.  'match' and 'insts' are wire bytes (the OXM TLVs of
 * an ofp_match without its header and padding; the instructions), borrowed
 * by the insert, malloc'ed by the list. */
struct tenant_ctl_flow {
    long long id;
    uint8_t table_id;
    uint16_t priority, flags, idle_timeout, hard_timeout;
    uint64_t cookie;
    uint8_t *match;
    size_t match_len;
    uint8_t *insts;
    size_t insts_len;
    uint64_t packet_offset, byte_offset;
};

/* Adds or replaces (same switch, table, priority and match) a flow of
 * switch 'vswitch_id'; a replaced flow keeps its id and, unless
 * 'reset_counts', its counters' offsets.  *id_out (may be NULL) gets its
 * id.  One statement. */
enum db_qs tenant_ctl_flow_put(struct db_conn *, const char *vswitch_id,
                               const struct tenant_ctl_flow *, int reset_counts,
                               long long *id_out);
/* Deletes the flows with the given ids (a JSON array of integers). */
enum db_qs tenant_ctl_flow_delete(struct db_conn *, const char *ids_json);
/* Every flow of switch 'vswitch_id', in id order: *flows (malloc'ed array
 * whose members own their bytes; tenant_ctl_flows_free) and *n. */
enum db_qs tenant_ctl_flow_list(struct db_conn *, const char *vswitch_id,
                                struct tenant_ctl_flow **flows, size_t *n);
void tenant_ctl_flows_free(struct tenant_ctl_flow *, size_t n);

/* The controlled switches' ports and flows as the datapath carries them
 * (core/ctlset.h), read inside the caller's transaction (db/state.c's
 * load): *out gets a new set (one reference) on success.  Every switch
 * that names a controller is in it, with its numbered ports and its
 * flows. */
struct ctlset;
enum db_qs tenant_ctl_load_set(struct db_conn *, struct ctlset **out);

/* Records whether switch 'vswitch_id''s controller is connected
 * (migrations/014); a row that says so already is left alone. */
enum db_qs tenant_ctl_set_connected(struct db_conn *, const char *vswitch_id,
                                    bool connected);

/* The counters of switch 'vswitch_id''s VM ports as their interfaces
 * counted them (the reconciler's samples, db/vm_stats.h), from the port's
 * side: what it received is what the VM sent.  One row per sampled VM
 * port in *ports (caller frees), *n of them. */
struct tenant_ctl_port_counters {
    uint32_t port_no;
    uint64_t rx_packets, rx_bytes, tx_packets, tx_bytes, tx_dropped;
};
enum db_qs tenant_ctl_port_counters(struct db_conn *, const char *vswitch_id,
                                    struct tenant_ctl_port_counters **ports, size_t *n);

#endif
