/* recon_lifecycle.h: a VM's snapshots and counters, realized by the
 * reconciler (migrations/006_snapshots_migrations.sql says what the
 * database asks for).
 *
 * Once per pass, after the flows (recon_lifecycle_pass, on the reconciler
 * thread), with the switches as the pass left them:
 *
 *   snapshots  every snapshot the store lists as pending is captured:
 *              on every connected bridge, first a barrier (everything
 *              sent before is applied), then the flows whose cookie names
 *              the VM (netmodel_vm_cookie), read back with their counts,
 *              durations and timeouts, each bridge's capture time beside
 *              them; the VM's port as its host's OVSDB has it (interface
 *              name and type, MAC in use, MTU, ofport, external_ids,
 *              statistics, QoS and queues); the tunnel ports of its host
 *              and their peers; the counter offsets below.  Consistency:
 *              the reconciler thread is the only sender of skyvisor's
 *              flow-mods (the packet-in path sends packet-outs only), and
 *              it does nothing else from the first barrier to the last
 *              read, so no flow-mod of skyvisor's touches the VM in
 *              between.  The capture is recorded ready (with its size), or
 *              in error with the reason: the VM is on no switch (stopped,
 *              or without a host), or its host's bridge stayed
 *              unreachable for CAPTURE_WAIT after the request.
 *   counters   every bound VM port's Interface statistics (ovs-vswitchd
 *              refreshes them every 5 s) become the VM's counters, as the
 *              VM sees them: what the switch received from the port is
 *              what the VM sent (tx).  OpenFlow cannot set a counter, and a
 *              port that comes back (a start, another host, another cloud)
 *              counts from its own zero, so each VM keeps offsets that
 *              carry its totals across interfaces (core/vmcount.h): they
 *              continue and never go backwards.  The offsets are
 *              recorded beside the sample and read back at start.  A sample
 *              is recorded when a total or an offset changed, with its time
 *              as `as_of`; a pass records all of its samples at once.
 *
 * Stop and start need nothing more here: a stop's snapshot is captured
 * like any other while the model still holds the VM; the model leaves a
 * stopped VM out once its stop snapshot is no longer pending (its port
 * and flows are then removed like any other object's), and holds a
 * started VM on its (new) host, where ports, tunnels and flows are
 * compiled afresh; its counters continue through the offsets.
 *
 * Threads: the store's functions are called on the reconciler thread
 * only. */
#ifndef SKYVISOR_CTRL_RECON_LIFECYCLE_H
#define SKYVISOR_CTRL_RECON_LIFECYCLE_H

#include <jansson.h>
#include <stddef.h>

struct reconciler;
struct recon_life;

/* A snapshot waiting to be captured. */
struct recon_life_request {
    char id[40];
    char vm_id[40];
    double requested_at;            /* seconds since the epoch */
};

/* A VM's counters, as the VM sees them. */
enum recon_life_counter {
    RLC_RX_PACKETS, RLC_RX_BYTES, RLC_RX_DROPPED,
    RLC_TX_PACKETS, RLC_TX_BYTES, RLC_TX_DROPPED,
    RLC__COUNT
};
extern const char *const recon_life_counter_names[RLC__COUNT];

/* Where snapshots and samples go (db/snapshots.h and db/vm_stats.h in
 * skyvisord).  Every function returns 0 or an errno. */
struct recon_life_store {
    /* Fills *out (malloc'ed, the caller frees) with *n requests, oldest
     * first. */
    int (*pending)(void *aux, struct recon_life_request **out, size_t *n);
    /* Settles snapshot 'id' as ready with 'content' (a JSON object text)
     * and 'times' (capture time per bridge, a JSON object text). */
    int (*captured)(void *aux, const char *id, const char *content,
                    double started_at, double finished_at, const char *times);
    int (*failed)(void *aux, const char *id, const char *detail);
    /* Every VM's last recorded sample, {vm_id: {"offsets": {...},
     * "rx_packets": N, ...}}, a new reference in *out. */
    int (*samples)(void *aux, json_t **out);
    /* Records samples, all at once: 'samples' is a JSON array text of
     * {"vm_id", "as_of", the counters by name, "offsets": {...}}. */
    int (*record)(void *aux, const char *samples);
};

/* 'store' is copied; 'aux' must outlive the result.  NULL when memory
 * runs out.  The caller owns it and destroys it after the reconciler it
 * was attached to (recon_life_destroy accepts NULL). */
struct recon_life *recon_life_create(const struct recon_life_store *, void *aux);
void recon_life_destroy(struct recon_life *);
/* Attaches 'life' (borrowed) to 'r' from any thread, once; the next pass
 * uses it. */
void reconciler_attach_lifecycle(struct reconciler *r, struct recon_life *life);

/* The JSON forms a snapshot stores (new references; NULL when memory runs
 * out).  A match as {field: value}, MACs as text, IPv4 addresses dotted,
 * other values decimal, a masked field "value/mask" in hex; instructions
 * as [{"goto_table": N}, {"write_metadata": "0xV/0xM"},
 * {"apply_actions": [{"output": N or "controller"}, {"set_field":
 * {field: value}}, ...]}, ...]. */
struct ofmatch;
struct ofinst;
struct offlow_stats;
json_t *recon_life_match_json(const struct ofmatch *);
json_t *recon_life_insts_json(const struct ofinst *, size_t n);
/* One read-back flow: table, priority, cookie, match, instructions,
 * packet and byte counts, duration, timeouts and flags. */
json_t *recon_life_flow_json(const struct offlow_stats *);

#endif
