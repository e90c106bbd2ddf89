/* vtopo.c: connected components of a virtual topology (see vtopo.h).
 *
 * Union-find with path halving over 'scratch' (the parent array); a final
 * sweep in index order gives each root the next dense segment number, so
 * segment 0 always holds switch 0 and numbering is stable for a given
 * order of switches. */
#include "core/vtopo.h"

static size_t
find(size_t *parent, size_t x)
{
    while (parent[x] != x) {
        parent[x] = parent[parent[x]];
        x = parent[x];
    }
    return x;
}

size_t
vtopo_segments(size_t n, const struct vtopo_link *links, size_t n_links,
               size_t *seg, size_t *scratch)
{
    for (size_t i = 0; i < n; i++) {
        scratch[i] = i;
    }
    for (size_t i = 0; i < n_links; i++) {
        if (links[i].a >= n || links[i].b >= n) {
            continue;
        }
        size_t ra = find(scratch, links[i].a), rb = find(scratch, links[i].b);
        if (ra != rb) {
            /* The lower index becomes the root: roots are then the first
             * member of their segment in index order. */
            if (ra < rb) {
                scratch[rb] = ra;
            } else {
                scratch[ra] = rb;
            }
        }
    }
    size_t n_seg = 0;
    for (size_t i = 0; i < n; i++) {
        size_t r = find(scratch, i);
        seg[i] = r == i ? n_seg++ : seg[r];
    }
    return n_seg;
}
