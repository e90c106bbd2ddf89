/* vtopo.c: connected components of a virtual topology (see vtopo.h).
 *
 * core/uf.h's union-find over 'scratch' (its parent array) and 'seg' (its
 * size array while the links are joined); a final sweep in index order
 * then reuses 'seg' for the answer and gives each set the next dense
 * segment number when it meets the set's first member, so segment 0
 * always holds switch 0 and numbering is stable for a given order of
 * switches. */
#include "core/vtopo.h"

#include <stdint.h>

#include "core/uf.h"

size_t
vtopo_segments(size_t n, const struct vtopo_link *links, size_t n_links,
               size_t *seg, size_t *scratch)
{
    struct uf uf;
    uf_init(&uf, n, scratch, seg);
    for (size_t i = 0; i < n_links; i++) {
        if (links[i].a < n && links[i].b < n) {
            uf_union(&uf, links[i].a, links[i].b);
        }
    }
    /* The sizes are no longer needed: seg[r] of a root r is SIZE_MAX until
     * the sweep meets r's set. */
    for (size_t i = 0; i < n; i++) {
        seg[i] = SIZE_MAX;
    }
    size_t n_seg = 0;
    for (size_t i = 0; i < n; i++) {
        size_t r = uf_find(&uf, i);
        if (seg[r] == SIZE_MAX) {
            seg[r] = n_seg++;
        }
        seg[i] = seg[r];
    }
    return n_seg;
}
