/* detour.c: see detour.h.  Per cut: the sides by a walk of the tree minus
 * the cut, then for each direction a Dijkstra over the overlay minus the cut
 * started from the whole target side at distance 0 (labels compared as
 * (cost, hops, parent index), so ties resolve the same way on every run);
 * the parent pointers of the source side are the next hops.  O(n^2) per
 * direction with an array scan, which for tens of clouds beats a heap. */
#include "core/detour.h"

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* The overlay as compressed rows of (neighbour, edge index), each row sorted
 * by neighbour. */
struct graph {
    size_t *start;      /* [n + 1] */
    size_t *nbr, *edge; /* [2 * n_edges] */
};

struct half {
    size_t node, nbr, edge;
};

static int
cmp_half(const void *x_, const void *y_)
{
    const struct half *x = x_, *y = y_;
    if (x->node != y->node) {
        return x->node < y->node ? -1 : 1;
    }
    if (x->nbr != y->nbr) {
        return x->nbr < y->nbr ? -1 : 1;
    }
    return (x->edge > y->edge) - (x->edge < y->edge);
}

static int
graph_init(struct graph *g, size_t n, const struct detour_edge *edges,
           size_t n_edges)
{
    g->start = calloc(n + 2, sizeof *g->start);
    g->nbr = malloc((2 * n_edges + 1) * sizeof *g->nbr);
    g->edge = malloc((2 * n_edges + 1) * sizeof *g->edge);
    struct half *h = malloc((2 * n_edges + 1) * sizeof *h);
    if (!g->start || !g->nbr || !g->edge || !h) {
        free(h);
        return ENOMEM;
    }
    for (size_t i = 0; i < n_edges; i++) {
        h[2 * i] = (struct half) {edges[i].u, edges[i].v, i};
        h[2 * i + 1] = (struct half) {edges[i].v, edges[i].u, i};
        g->start[edges[i].u + 1]++;
        g->start[edges[i].v + 1]++;
    }
    for (size_t v = 0; v < n; v++) {
        g->start[v + 1] += g->start[v];
    }
    qsort(h, 2 * n_edges, sizeof *h, cmp_half);
    for (size_t i = 0; i < 2 * n_edges; i++) {
        g->nbr[i] = h[i].nbr;
        g->edge[i] = h[i].edge;
    }
    free(h);
    return 0;
}

static void
graph_uninit(struct graph *g)
{
    free(g->start);
    free(g->nbr);
    free(g->edge);
}

void
detour_table_destroy(struct detour_table *t)
{
    if (!t) {
        return;
    }
    free(t->cuts);
    free(t->side);
    free(t->next);
    free(t->tree_next);
    free(t->fan_start);
    free(t->fan);
    free(t);
}

/* tree_next[g][.] for every g: a walk of the tree from g carrying the first
 * hop.  'stack' has room for n nodes.  Returns the number reached from node
 * 0 (n when the tree edges span). */
static size_t
fill_tree_next(struct detour_table *t, const struct graph *g,
               const struct detour_edge *edges, size_t *stack)
{
    size_t n = t->n, reached = 0;
    for (size_t s = 0; s < n; s++) {
        size_t *row = &t->tree_next[s * n];
        for (size_t d = 0; d < n; d++) {
            row[d] = DETOUR_NONE;
        }
        size_t top = 0;
        stack[top++] = s;
        size_t seen = 0;
        while (top) {
            size_t v = stack[--top];
            seen++;
            for (size_t k = g->start[v]; k < g->start[v + 1]; k++) {
                size_t w = g->nbr[k];
                if (!edges[g->edge[k]].tree || w == s || row[w] != DETOUR_NONE) {
                    continue;
                }
                row[w] = v == s ? w : row[v];
                stack[top++] = w;
            }
        }
        if (s == 0) {
            reached = seen;
        }
    }
    return reached;
}

/* The labels of one Dijkstra run. */
struct label {
    double cost;
    size_t hops;
    size_t parent;
};

static bool
label_less(const struct label *x, const struct label *y)
{
    if (x->cost != y->cost) {
        return x->cost < y->cost;
    }
    if (x->hops != y->hops) {
        return x->hops < y->hops;
    }
    return x->parent < y->parent;
}

/* Routes the nodes not on side 'target' of cut c to that side, avoiding
 * edge c.edge.  Writes next[] of those nodes; returns false when they
 * cannot reach it. */
static bool
route_to_side(struct detour_table *t, const struct graph *g,
              const struct detour_edge *edges, size_t c, unsigned char target,
              struct label *lab, bool *done)
{
    size_t n = t->n;
    const unsigned char *side = &t->side[c * n];
    for (size_t v = 0; v < n; v++) {
        lab[v] = side[v] == target ? (struct label) {0, 0, DETOUR_NONE}
                                   : (struct label) {0, SIZE_MAX, DETOUR_NONE};
        done[v] = false;
    }
    for (;;) {
        size_t u = DETOUR_NONE;
        for (size_t v = 0; v < n; v++) {
            if (!done[v] && lab[v].hops != SIZE_MAX
                && (u == DETOUR_NONE || label_less(&lab[v], &lab[u]))) {
                u = v;
            }
        }
        if (u == DETOUR_NONE) {
            break;
        }
        done[u] = true;
        for (size_t k = g->start[u]; k < g->start[u + 1]; k++) {
            size_t w = g->nbr[k];
            if (g->edge[k] == t->cuts[c].edge || done[w]) {
                continue;
            }
            struct label cand = {lab[u].cost + edges[g->edge[k]].cost,
                                 lab[u].hops + 1, u};
            if (lab[w].hops == SIZE_MAX || label_less(&cand, &lab[w])) {
                lab[w] = cand;
            }
        }
    }
    bool all = true;
    for (size_t v = 0; v < n; v++) {
        if (side[v] != target) {
            t->next[c * n + v] = lab[v].parent;
            all = all && lab[v].hops != SIZE_MAX;
        }
    }
    size_t from = target ? t->cuts[c].a : t->cuts[c].b;
    t->cuts[c].hops[target] = all ? lab[from].hops : 0;
    t->cuts[c].cost[target] = all ? lab[from].cost : 0;
    return all;
}

int
detour_compute(size_t n, const struct detour_edge *edges, size_t n_edges,
               struct detour_table **out)
{
    *out = NULL;
    size_t n_tree = 0;
    for (size_t i = 0; i < n_edges; i++) {
        if (edges[i].u >= n || edges[i].v >= n || edges[i].u == edges[i].v) {
            return EINVAL;
        }
        n_tree += edges[i].tree;
    }
    if (n_tree != (n ? n - 1 : 0)) {
        return EINVAL;
    }
    struct detour_table *t = calloc(1, sizeof *t);
    struct graph g = {0};
    size_t *stack = malloc((n + 1) * sizeof *stack);
    struct label *lab = malloc((n + 1) * sizeof *lab);
    bool *done = malloc((n + 1) * sizeof *done);
    int error = 0;
    if (!t || !stack || !lab || !done) {
        error = ENOMEM;
        goto out;
    }
    t->n = n;
    t->n_cuts = n_tree;
    t->cuts = calloc(n_tree + 1, sizeof *t->cuts);
    t->side = calloc(n_tree * n + 1, sizeof *t->side);
    t->next = malloc((n_tree * n + 1) * sizeof *t->next);
    t->tree_next = malloc((n * n + 1) * sizeof *t->tree_next);
    t->fan_start = calloc(n_tree * n + 2, sizeof *t->fan_start);
    /* Every tree edge appears twice per cut at most: 2 (n - 1) per cut. */
    t->fan = malloc((n_tree * 2 * n_tree + 1) * sizeof *t->fan);
    if (!t->cuts || !t->side || !t->next || !t->tree_next || !t->fan_start
        || !t->fan) {
        error = ENOMEM;
        goto out;
    }
    error = graph_init(&g, n, edges, n_edges);
    if (error) {
        goto out;
    }
    if (n && fill_tree_next(t, &g, edges, stack) != n) {
        error = EINVAL;
        goto out;
    }

    size_t c = 0, nf = 0;
    for (size_t i = 0; i < n_edges; i++) {
        if (!edges[i].tree) {
            continue;
        }
        struct detour_cut *cut = &t->cuts[c];
        *cut = (struct detour_cut) {.edge = i, .a = edges[i].u, .b = edges[i].v};
        /* b's side: the nodes whose tree path from a starts with b. */
        unsigned char *side = &t->side[c * n];
        for (size_t v = 0; v < n; v++) {
            side[v] = v == cut->b || t->tree_next[cut->a * n + v] == cut->b;
        }
        bool to_b = route_to_side(t, &g, edges, c, 1, lab, done);
        bool to_a = route_to_side(t, &g, edges, c, 0, lab, done);
        cut->survivable = to_a && to_b;
        for (size_t v = 0; v < n; v++) {
            t->fan_start[c * n + v] = nf;
            for (size_t k = g.start[v]; k < g.start[v + 1]; k++) {
                if (edges[g.edge[k]].tree && g.edge[k] != i) {
                    t->fan[nf++] = g.nbr[k];
                }
            }
        }
        c++;
    }
    t->fan_start[n_tree * n] = nf;
out:
    graph_uninit(&g);
    free(stack);
    free(lab);
    free(done);
    if (error) {
        detour_table_destroy(t);
        return error;
    }
    *out = t;
    return 0;
}

size_t
detour_next_hop(const struct detour_table *t, size_t cut, size_t g, size_t dest)
{
    size_t n = t->n;
    if (g == dest || cut >= t->n_cuts || g >= n || dest >= n) {
        return DETOUR_NONE;
    }
    const unsigned char *side = &t->side[cut * n];
    return side[g] == side[dest] ? t->tree_next[g * n + dest]
                                 : t->next[cut * n + g];
}
