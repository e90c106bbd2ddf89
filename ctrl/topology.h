/* topology.h: the physical topology document (GET /v1/topology).
 *
 * Built from a finished netmodel (core/netmodel.h): every host bridge with
 * its cloud, datapath id, tunnel address and whether its OpenFlow
 * connection is up; every tunnel the overlay wants (intra-cloud
 * host-gateway, inter-cloud gateway-gateway, as laid out by core/tunnels.h);
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

/* Returns the document (a new reference, NULL on allocation failure).
 * 'connected' may be NULL (nothing connected); 'links' is borrowed. */
json_t *topology_json(const struct netmodel *, topology_connected_fn *connected,
                      void *aux, const struct topology_lldp *links, size_t n_links);

#endif
