/* tunnels.c: see tunnels.h.  The MST is Kruskal's algorithm over the
 * complete graph of clouds (every pair is a candidate tunnel: gateways can
 * all reach each other over the WAN; the costs say which pairs are cheap),
 * with a union-find of path halving and union by size.  n is the number of
 * clouds, small (tens), so O(n^2 log n) is nothing. */
#include "core/tunnels.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

static int cmp_tunnel_qsort(const void *x, const void *y);

struct edge {
    size_t a, b;        /* indexes into the sorted cloud names, a < b */
    double cost;
};

static int
cmp_index(const void *x, const void *y, void *names_)
{
    const char *const *names = names_;
    return strcmp(names[*(const size_t *) x], names[*(const size_t *) y]);
}

static int
cmp_edge(const void *x, const void *y)
{
    const struct edge *e = x, *f = y;
    if (e->cost != f->cost) {
        return e->cost < f->cost ? -1 : 1;
    }
    if (e->a != f->a) {
        return e->a < f->a ? -1 : 1;
    }
    return (e->b > f->b) - (e->b < f->b);
}

static size_t
uf_find(size_t *parent, size_t x)
{
    while (parent[x] != x) {
        parent[x] = parent[parent[x]];
        x = parent[x];
    }
    return x;
}

/* Position of 'name' in the sorted index, or n. */
static size_t
find_cloud(const char *const *clouds, const size_t *order, size_t n,
           const char *name)
{
    size_t lo = 0, hi = n;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        int c = strcmp(clouds[order[mid]], name);
        if (!c) {
            return mid;
        }
        if (c < 0) {
            lo = mid + 1;
        } else {
            hi = mid;
        }
    }
    return n;
}

int
tunnels_compute(enum tunnels_layout layout, const char *const *clouds, size_t n,
                const struct tunnels_cost *costs, size_t n_costs,
                struct tunnel **out, size_t *n_out)
{
    *out = NULL;
    *n_out = 0;
    if (n < 2) {
        return 0;
    }
    size_t n_edges = n * (n - 1) / 2;
    size_t *order = malloc(n * sizeof *order);
    size_t *parent = malloc(n * sizeof *parent);
    size_t *size = malloc(n * sizeof *size);
    struct edge *edges = malloc(n_edges * sizeof *edges);
    struct tunnel *t = malloc((layout == TUNNELS_MST ? n - 1 : n_edges) * sizeof *t);
    int error = 0;
    if (!order || !parent || !size || !edges || !t) {
        free(t);
        error = ENOMEM;
        goto out;
    }
    for (size_t i = 0; i < n; i++) {
        order[i] = i;
        parent[i] = i;
        size[i] = 1;
    }
    qsort_r(order, n, sizeof *order, cmp_index, (void *) clouds);

    /* Edge (i, j) of sorted positions i < j lives at index
     * i * n - i * (i + 1) / 2 + (j - i - 1). */
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        for (size_t j = i + 1; j < n; j++) {
            edges[k++] = (struct edge){i, j, 1.0};
        }
    }
    for (size_t c = 0; c < n_costs; c++) {
        size_t i = find_cloud(clouds, order, n, costs[c].a);
        size_t j = find_cloud(clouds, order, n, costs[c].b);
        if (i == n || j == n || i == j || !(costs[c].cost > 0)) {
            continue;
        }
        if (i > j) {
            size_t tmp = i;
            i = j;
            j = tmp;
        }
        edges[i * n - i * (i + 1) / 2 + (j - i - 1)].cost = costs[c].cost;
    }

    size_t m = 0;
    if (layout == TUNNELS_FULL_MESH) {
        for (k = 0; k < n_edges; k++) {
            t[m++] = (struct tunnel){clouds[order[edges[k].a]],
                                     clouds[order[edges[k].b]], edges[k].cost};
        }
    } else {
        qsort(edges, n_edges, sizeof *edges, cmp_edge);
        for (k = 0; k < n_edges && m < n - 1; k++) {
            size_t ra = uf_find(parent, edges[k].a), rb = uf_find(parent, edges[k].b);
            if (ra == rb) {
                continue;
            }
            if (size[ra] < size[rb]) {
                size_t tmp = ra;
                ra = rb;
                rb = tmp;
            }
            parent[rb] = ra;
            size[ra] += size[rb];
            t[m++] = (struct tunnel){clouds[order[edges[k].a]],
                                     clouds[order[edges[k].b]], edges[k].cost};
        }
    }
    qsort(t, m, sizeof *t, cmp_tunnel_qsort);
    *out = t;
    *n_out = m;
out:
    free(order);
    free(parent);
    free(size);
    free(edges);
    return error;
}

static int
cmp_tunnel(const struct tunnel *x, const struct tunnel *y)
{
    int c = strcmp(x->a, y->a);
    return c ? c : strcmp(x->b, y->b);
}

static int
cmp_tunnel_qsort(const void *x, const void *y)
{
    return cmp_tunnel(x, y);
}

void
tunnels_diff(const struct tunnel *cur, size_t n_cur, const struct tunnel *next,
             size_t n_next, void (*add)(const struct tunnel *, void *),
             void (*del)(const struct tunnel *, void *), void *aux)
{
    size_t i = 0, j = 0;
    while (i < n_cur || j < n_next) {
        int c = i == n_cur ? 1 : j == n_next ? -1 : cmp_tunnel(&cur[i], &next[j]);
        if (c < 0) {
            del(&cur[i++], aux);
        } else if (c > 0) {
            add(&next[j++], aux);
        } else {
            i++;
            j++;
        }
    }
}

double
tunnels_total_cost(const struct tunnel *t, size_t n)
{
    double sum = 0;
    for (size_t i = 0; i < n; i++) {
        sum += t[i].cost;
    }
    return sum;
}
