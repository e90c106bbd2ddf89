/* recon_bfd.h: liveness of the inter-cloud tunnels (reconciler-internal).
 *
 * Every tunnel between two gateways runs BFD on its interface (Open
 * vSwitch's bfd column: enable, min_tx and min_rx, both ends alike; a
 * session is declared down after three intervals without a packet).  BFD
 * lives in ovs-vswitchd: when a session goes down, the port's OpenFlow
 * state loses LIVE at once (what fast-failover groups watch) and the
 * Interface's bfd_status in OVSDB says so.  The reconciler only reads that
 * status from its OVSDB replicas: it keeps the last state of every tunnel
 * end, counts the transitions (metrics) and serves them to
 * GET /v1/topology. */
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
};

/* The bfd column port 'p' of host 'h' must have (a new reference): BFD
 * with the configured interval for a tunnel between two gateways, an empty
 * map (off) for one when BFD is disabled, NULL (left alone) for any other
 * port. */
json_t *recon_bfd_config(const struct reconciler *, const struct netmodel *, int h,
                         const struct nm_port *p);

/* Reads the BFD state of every inter-cloud tunnel end from the replicas
 * that changed since the last call (reconciler thread). */
void recon_bfd_scan(struct reconciler *);

/* The detail of a realized host whose bridge has inter-cloud tunnel ends
 * down ("tunnels down (BFD), traffic on their detours: NAME, ..."), in
 * buf; NULL when none is (any thread). */
const char *recon_bfd_detail(struct reconciler *, uint64_t dpid, char *buf, size_t size);

/* The last known state of tunnel end 'port' on 'dpid' (any thread). */
enum recon_tunnel_state recon_bfd_state(struct reconciler *, uint64_t dpid,
                                        const char *port);

#endif
