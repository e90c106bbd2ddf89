/* uf.h: union-find (disjoint sets) over the integers 0..n-1.
 *
 * The one union-find of the tree: Kruskal's tunnel tree (core/tunnels.c),
 * the data plane's segments (core/netmodel.c) and the API's segments
 * (core/vtopo.c) all use it.  find halves paths (every node on the walk
 * is pointed at its grandparent), union links the smaller set under the
 * larger (ties: under a's root), so both are O(log n) worst case and
 * nearly constant amortised.
 *
 * Which element ends up the root of a set is not part of the contract:
 * a caller that wants a canonical member (the lowest index, say) derives
 * it after the unions, as core/vtopo.c does.
 *
 * Pure, no allocation: the caller owns the two arrays of n entries that
 * uf_init() borrows, and keeps them alive while it uses the struct.
 * uf_find() reads and writes parent[] only; once the caller's last
 * uf_union() is done, size[] is its to reuse. */
#ifndef SKYVISOR_CORE_UF_H
#define SKYVISOR_CORE_UF_H

#include <stdbool.h>
#include <stddef.h>

struct uf {
    size_t *parent;                 /* parent[x] == x: x is a root */
    size_t *size;                   /* at a root: the number of elements of its set */
};

/* Makes n singletons {0} .. {n-1} in 'parent' and 'size' (n entries each,
 * owned by the caller, borrowed by 'uf'). */
void uf_init(struct uf *uf, size_t n, size_t *parent, size_t *size);

/* The root of x's set (x < n).  Halves the path it walks. */
size_t uf_find(struct uf *uf, size_t x);

/* Joins the sets of a and b (both < n).  True when they were apart, false
 * when they already were one set (nothing changes then). */
bool uf_union(struct uf *uf, size_t a, size_t b);

#endif
