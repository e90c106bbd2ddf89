/* detour.h: where traffic goes when one tree tunnel is down, precomputed
 * for every tree tunnel, as data a flow compiler turns into fast-failover
 * groups and forwarding of marked packets.
 *
 * The overlay is a graph on the clouds (nodes 0..n-1, one gateway each as
 * far as this module is concerned): its tree edges carry all traffic while
 * they are up (unicast along the tree path, broadcast flooded over the tree);
 * its backup edges carry nothing until a tree edge is cut.  For a cut tree
 * edge c = (a, b), T - c falls into two sides, a's and b's.
 *
 * The scheme, per cut c and per direction (toward b's side, diverted at a;
 * toward a's side, diverted at b):
 *
 *   divert   a's fast-failover group for the tunnel to b falls back to the
 *            detour: the packet is marked (c, toward b's side) and sent to
 *            next[c][a].  Only a and b see the cut (BFD on their tunnel); no
 *            other gateway needs to know.
 *   transit  a gateway g on the source side receiving a packet marked
 *            (c, toward the other side) sends it on to next[c][g], never to
 *            its tree next hop (which may point back toward the cut), and
 *            never delivers it locally.  next[c][.] are parent pointers of a
 *            shortest-path forest of the overlay minus c, rooted at the
 *            target side (cost, then hops, then the lower node index), so a
 *            path is simple: a transit gateway never sends the packet back
 *            where it came from, and every path ends on a backup edge
 *            crossing to the target side (c is the only tree edge across).
 *   arrive   the first gateway x on the target side clears the mark and
 *            forwards by the tree: the tree path from x to any destination on
 *            its side stays on that side (so never uses c), and the packet
 *            entered x by a backup tunnel, which tree forwarding never
 *            outputs to, so x never sends it back either.
 *   flood    a broadcast reaching a (flooded over the tree from its origin on
 *            a's side) is diverted the same way: marked, sent along next[][]
 *            only (a's side already has it), and at the target side flooded
 *            marked over the tree edges of that side, fan[c][g] (g's tree
 *            neighbours except across c): every gateway of the target side
 *            gets it exactly once, and b, receiving it marked, does not
 *            divert it back.  A marked broadcast is delivered locally only
 *            on the target side.
 *
 * The marks are 2 * cut + direction (direction 1 when the target is b's
 * side): 2 * (clouds - 1) values.  A gateway tells the direction of a marked
 * packet from the mark, the side it is on from side[c][g].
 *
 * The one output to the input port: at the diverting gateway a, next[c][a]
 * may be the tree neighbour on a's side the packet came from (when the only
 * way around runs back through it); Open vSwitch drops an output to the
 * input port unless the action names OFPP_IN_PORT, so that bucket must use
 * it.  No transit gateway ever needs it.
 *
 * A cut with no way around (a bridge of the overlay) has survivable false
 * and next[c][g] = DETOUR_NONE on the source side.
 *
 * Pure: no I/O.  Memory: n * n for the tree next hops, (n - 1) * n for the
 * sides and next hops, and the fan-outs. */
#ifndef SKYVISOR_CORE_DETOUR_H
#define SKYVISOR_CORE_DETOUR_H

#include <stdbool.h>
#include <stddef.h>

#define DETOUR_NONE ((size_t) -1)

struct detour_edge {
    size_t u, v;        /* node indexes */
    double cost;        /* > 0 */
    bool tree;          /* a tree edge (else a backup) */
};

struct detour_cut {
    size_t edge;        /* index into the caller's edges */
    size_t a, b;        /* its ends (edge.u, edge.v) */
    bool survivable;    /* the overlay minus this edge is connected */
    size_t hops[2];     /* detour length from a to b's side ([1]) and from b
                         * to a's side ([0]), in tunnels; 0 if not survivable */
    double cost[2];     /* the same paths' costs */
};

struct detour_table {
    size_t n;               /* nodes */
    size_t n_cuts;          /* tree edges, in the caller's order */
    struct detour_cut *cuts;
    unsigned char *side;    /* [cut * n + g]: 0 on a's side, 1 on b's */
    size_t *next;           /* [cut * n + g]: toward the other side */
    size_t *tree_next;      /* [g * n + d]: g's tree neighbour toward d;
                             * DETOUR_NONE when d == g */
    size_t *fan_start;      /* [cut * n + g], one past the end: fan-out of a
                             * marked broadcast on g's side of the cut */
    size_t *fan;
};

/* Computes the detours of the overlay edges[0..n_edges) on nodes 0..n-1,
 * whose tree edges must form a spanning tree.  Returns 0 and a table in *out
 * (caller frees with detour_table_destroy()); EINVAL if the tree edges do
 * not span or an index is out of range; ENOMEM.  Borrows edges. */
int detour_compute(size_t n, const struct detour_edge *edges, size_t n_edges,
                   struct detour_table **out);

void detour_table_destroy(struct detour_table *t);

/* The next hop at gateway g of a packet for destination dest while cut c is
 * down: the detour hop while g is on the other side of c from dest (the
 * packet is marked), else the tree hop (it has arrived).  DETOUR_NONE when
 * g == dest or the cut has no detour. */
size_t detour_next_hop(const struct detour_table *t, size_t cut, size_t g,
                       size_t dest);

#endif
