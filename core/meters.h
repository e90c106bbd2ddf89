/* meters.h: bandwidth isolation by OpenFlow meters (migrations/010).
 *
 * Two kinds of meter, both single drop bands in kbit/s with an explicit
 * burst, attached by a meter instruction to the flows core/netmodel.c
 * compiles:
 *   - a VM's rate (vm.rate_mbps, vm.burst_kb): on its host's bridge, on
 *     its IPv4 port-security flow (table 0), so what it sends is policed
 *     at the ingress edge, before anything else sees it.  Meter id: the
 *     VM's OpenFlow port number (1..0xfeff), unique on the bridge.
 *   - a tenant's WAN cap (tenant.wan_limit_mbps): on a gateway, on the
 *     transit flows (table 20) that send the tenant's frames into an
 *     inter-cloud tunnel, one meter per tenant and tunnel, so the tenant's
 *     traffic toward each other cloud is policed at the gateway's egress
 *     whatever VM sent it.  Meter id: tag << 16 | the tunnel's port number
 *     (tags are >= 1, so these never meet a VM's ids, and stay below
 *     OFPM_MAX).  The tenant's broadcasts that leave the cloud there are
 *     metered too, by the meter of the first inter-cloud tunnel their flow
 *     outputs to (one meter instruction per flow): on a gateway with one
 *     such tunnel that is exact; with several, the others carry at most
 *     the cap of broadcasts beside their own meter's traffic.
 * A burst not given is 100 ms of the rate (at least 64 kbit): enough for
 * TCP to keep its rate through a policer, small enough that a flood is
 * held to the rate after a tenth of a second.
 *
 * The meters a bridge needs are those its desired flows name
 * (meters_collect), so a meter exists exactly while a flow uses it; the
 * reconciler installs them before the flows and deletes them after
 * (ctrl/recon_meters.c).  Pure: no I/O. */
#ifndef SKYVISOR_CORE_METERS_H
#define SKYVISOR_CORE_METERS_H

#include <stddef.h>
#include <stdint.h>

#include "core/netmodel.h"

struct meter_spec {
    uint32_t id;
    uint32_t kbps;                  /* the drop band's rate */
    uint32_t burst_kbit;            /* its burst */
};

struct meter_list {
    struct meter_spec *v;           /* owned, sorted by id */
    size_t n, cap;
};

/* Puts VM 'vm''s rate meter on flow 'f' (may be NULL) of its port 'port',
 * if the VM has a rate. */
void meters_vm(const struct netmodel *, int vm, uint32_t port, struct nm_flow *f);
/* Puts the WAN meter of VM 'vm''s tenant on flow 'f' (may be NULL) of
 * host 'h' that sends into the tunnel toward host 'next' (port
 * 'tun_port'), if both are gateways of different clouds, the tenant has a
 * cap and the flow has no meter yet. */
void meters_wan(const struct netmodel *, int h, int next, int vm, uint32_t tun_port,
                struct nm_flow *f);
/* The distinct meters the flows fl[0..n) name, sorted by id, into 'out'
 * (cleared first).  0 or ENOMEM. */
int meters_collect(const struct nm_flow *fl, size_t n, struct meter_list *out);
void meters_clear(struct meter_list *);

#endif
