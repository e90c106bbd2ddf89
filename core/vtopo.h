/* vtopo.h: the shape of a tenant's virtual topology.
 *
 * A virtual network is a graph of virtual switches joined by virtual links;
 * VMs hang off switches.  Two VMs can talk exactly when their switches are
 * in the same connected component ("segment").  The reconciler derives the
 * same components for the data plane (core/netmodel.c); this module gives
 * the API the tenant's view of them.  Pure: no I/O, no allocation beyond
 * what the caller passes in. */
#ifndef SKYVISOR_CORE_VTOPO_H
#define SKYVISOR_CORE_VTOPO_H

#include <stddef.h>

struct vtopo_link {
    size_t a, b;                    /* switch indexes */
};

/* Labels each of 'n' switches with its segment in seg[] (dense, numbered
 * in order of each segment's lowest switch index) and returns the number
 * of segments.  Links naming a switch index >= n are ignored.  'scratch'
 * holds n entries; the caller owns every array. */
size_t vtopo_segments(size_t n, const struct vtopo_link *links, size_t n_links,
                      size_t *seg, size_t *scratch);

#endif
