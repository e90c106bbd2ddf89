/* uf.c: union-find with path halving and union by size (see uf.h). */
#include "core/uf.h"

void
uf_init(struct uf *uf, size_t n, size_t *parent, size_t *size)
{
    uf->parent = parent;
    uf->size = size;
    for (size_t i = 0; i < n; i++) {
        parent[i] = i;
        size[i] = 1;
    }
}

size_t
uf_find(struct uf *uf, size_t x)
{
    size_t *parent = uf->parent;
    while (parent[x] != x) {
        parent[x] = parent[parent[x]];
        x = parent[x];
    }
    return x;
}

bool
uf_union(struct uf *uf, size_t a, size_t b)
{
    size_t ra = uf_find(uf, a), rb = uf_find(uf, b);
    if (ra == rb) {
        return false;
    }
    if (uf->size[ra] < uf->size[rb]) {
        size_t tmp = ra;
        ra = rb;
        rb = tmp;
    }
    uf->parent[rb] = ra;
    uf->size[ra] += uf->size[rb];
    return true;
}
