/* recon_bfd.h: liveness of the tunnels that have an alternative
 * (reconciler-internal).
 *
 * Every tunnel between two gateways runs BFD on its interface (Open
 * vSwitch's bfd column: enable, min_tx and min_rx, both ends alike; a
 * session is declared down after three intervals without a packet), and so
 * does every tunnel between a worker and a gateway of a cloud with two
 * gateways (the worker's group falls to the twin: core/netmodel.h).  BFD
 * lives in ovs-vswitchd: when a session goes down, the port's OpenFlow
 * state loses LIVE at once (what fast-failover groups watch) and the
 * Interface's bfd_status in OVSDB says so.  The reconciler reads that
 * status from its OVSDB replicas: it keeps the last state of every tunnel
 * end, counts the transitions (metrics) and serves them to
 * GET /v1/topology.
 *
 * Hold-down on reversion.  A fast-failover group returns to a bucket the
 * moment its port is live again, which BFD may say of a flapping link.  So
 * a tunnel end that failed (went down from up) is held: the groups the
 * reconciler writes (ctrl/recon_groups.c) leave its buckets out while it
 * is down and for --wan-holddown-ms after BFD sees it up again, and
 * longer if the far end's bridge reconnected and its flows are not
 * confirmed yet (a restarted ovs-vswitchd runs BFD before skyvisord has
 * given it any flow); then a pass writes them back and traffic returns.  The datapath's own failover
 * needs none of this; only the return waits for skyvisord (with skyvisord
 * stopped, the groups it last wrote stay, and a tunnel whose bucket was
 * never left out returns at once). */
#ifndef SKYVISOR_CTRL_RECON_BFD_H
#define SKYVISOR_CTRL_RECON_BFD_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/netmodel.h"

struct reconciler;

enum recon_tunnel_state { RECON_TUNNEL_UNKNOWN, RECON_TUNNEL_UP, RECON_TUNNEL_DOWN };

/* One tunnel end: the port 'port' on the bridge 'dpid'. */
struct recon_tunnel {
    uint64_t dpid;
    char port[16];
    enum recon_tunnel_state state;
    bool failed;                    /* went down from up, not up since */
    long long up_ms;                /* monotonic ms it came back up after
                                     * failing, while its hold-down runs;
                                     * 0 none */
    uint64_t peer_dpid;             /* the bridge at the far end */
};

/* The bfd column port 'p' of host 'h' must have (a new reference): BFD
 * with the configured interval for a watched tunnel, an empty map (off)
 * for one when BFD is disabled, NULL (left alone) for any other port. */
json_t *recon_bfd_config(const struct reconciler *, const struct netmodel *, int h,
                         const struct nm_port *p);

/* Whether port 'p' of host 'h' runs BFD (see above). */
bool recon_bfd_watched(const struct netmodel *, int h, const struct nm_port *p);

/* Reads the BFD state of every watched tunnel end from the replicas that
 * changed since the last call, and ends the hold-downs that ran out; a
 * bridge whose held set changed is replanned (agent.replan).  Returns the
 * ms until the next hold-down ends (0: a pass is due now), -1 for none
 * (reconciler thread). */
long long recon_bfd_scan(struct reconciler *);

/* Whether tunnel end 'port' of bridge 'dpid' is held (see above):
 * reconciler thread. */
bool recon_bfd_held(struct reconciler *, uint64_t dpid, const char *port);

/* The detail of a realized host whose bridge has inter-cloud tunnel ends
 * down ("tunnels down (BFD), traffic on their detours: NAME, ..."), in
 * buf; NULL when none is (any thread). */
const char *recon_bfd_detail(struct reconciler *, uint64_t dpid, char *buf, size_t size);

/* The last known state of tunnel end 'port' on 'dpid' (any thread). */
enum recon_tunnel_state recon_bfd_state(struct reconciler *, uint64_t dpid,
                                        const char *port);

#endif
