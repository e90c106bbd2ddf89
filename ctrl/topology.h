/* topology.h: the physical topology document (GET /v1/topology).
 *
 * Built from a finished netmodel (core/netmodel.h): every host bridge with
 * its cloud, datapath id, tunnel address and whether its OpenFlow
 * connection is up; every tunnel the overlay wants (intra-cloud
 * host-gateway, inter-cloud gateway-gateway, as laid out by core/tunnels.h,
 * a cloud's second gateway's included, with its role and liveness);
 * and the links the platform's LLDP probes confirmed.  The reconciler
 * serves it from its published snapshot with live connection state; the
 * API builds it from the desired state alone when skyvisord runs without a
 * reconciler (nothing connected, no LLDP links). */
#ifndef SKYVISOR_CTRL_TOPOLOGY_H
#define SKYVISOR_CTRL_TOPOLOGY_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/netmodel.h"

struct topology_lldp {
    uint64_t a_dpid, b_dpid;        /* probe sent by a, received by b */
    uint32_t a_port, b_port;
};

/* Whether the bridge with datapath id 'dpid' is connected. */
typedef bool topology_connected_fn(void *aux, uint64_t dpid);

/* The liveness of tunnel end 'port' on the bridge 'dpid' (BFD, see
 * ctrl/recon_bfd.h): "up", "down", or NULL when unknown. */
typedef const char *topology_tunnel_fn(void *aux, uint64_t dpid, const char *port);

/* Returns the document (a new reference, NULL on allocation failure).
 * 'connected' and 'tunnel' may be NULL (nothing connected, every tunnel's
 * state unknown); 'links' is borrowed.  Each tunnel has its role ("tree"
 * or "backup": an inter-cloud tunnel's in the layout, an intra-cloud
 * tunnel is always "tree") and its state: "down" when either end says so,
 * "up" when one end does and neither says down, else "unknown" (no BFD:
 * intra-cloud tunnels of a cloud with one gateway, or skyvisord without a
 * reconciler). */
json_t *topology_json(const struct netmodel *, topology_connected_fn *connected,
                      topology_tunnel_fn *tunnel, void *aux,
                      const struct topology_lldp *links, size_t n_links);

#endif
