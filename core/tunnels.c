/* tunnels.c: see tunnels.h.  The clouds are sorted by name once; cloud
 * pairs (i, j), i < j, in that order are the candidate tunnels, which makes
 * index order name order everywhere below.  The MST is Kruskal's algorithm
 * over the complete graph of clouds (every pair is a candidate tunnel:
 * gateways can all reach each other over the WAN; the costs say which pairs
 * are cheap), with core/uf.h's union-find; the
 * backups come from core/augment.c over the pairs not in the tree.  n is
 * the number of clouds, small (tens), so O(n^2 log n) is nothing. */
#include "core/tunnels.h"
#include "core/uf.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

int
tunnels_layout_parse(const char *s, enum tunnels_layout *out)
{
    static const enum tunnels_layout all[] = {
        TUNNELS_MST, TUNNELS_MST_BACKUP, TUNNELS_FULL_MESH,
    };
    for (size_t i = 0; i < sizeof all / sizeof *all; i++) {
        if (!strcmp(s, tunnels_layout_name(all[i]))) {
            *out = all[i];
            return 0;
        }
    }
    return EINVAL;
}

const char *
tunnels_layout_name(enum tunnels_layout layout)
{
    switch (layout) {
    case TUNNELS_MST: return "mst";
    case TUNNELS_MST_BACKUP: return "mst+backup";
    case TUNNELS_FULL_MESH: return "full-mesh";
    }
    return "?";
}

const char *
tunnels_role_name(enum tunnels_role role)
{
    return role == TUNNELS_TREE ? "tree" : "backup";
}

struct edge {
    size_t a, b;        /* indexes into the sorted cloud names, a < b */
    double cost;
    bool kept;
};

static int
cmp_index(const void *x, const void *y, void *names_)
{
    const char *const *names = names_;
    return strcmp(names[*(const size_t *) x], names[*(const size_t *) y]);
}

/* Kruskal's order: cost, then kept first, then the names (index order). */
static int
cmp_edge(const void *x, const void *y)
{
    const struct edge *e = x, *f = y;
    if (e->cost != f->cost) {
        return e->cost < f->cost ? -1 : 1;
    }
    if (e->kept != f->kept) {
        return e->kept ? -1 : 1;
    }
    if (e->a != f->a) {
        return e->a < f->a ? -1 : 1;
    }
    return (e->b > f->b) - (e->b < f->b);
}

/* Position of 'name' in the sorted names, or n. */
static size_t
find_cloud(const char *const *sorted, size_t n, const char *name)
{
    size_t lo = 0, hi = n;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        int c = strcmp(sorted[mid], name);
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

/* Index of the pair (i, j), i < j, among the n * (n - 1) / 2 pairs. */
static size_t
pair_index(size_t n, size_t i, size_t j)
{
    return i * n - i * (i + 1) / 2 + (j - i - 1);
}

/* The pair named by (a, b), in 'edges', or NULL. */
static struct edge *
find_pair(struct edge *edges, const char *const *sorted, size_t n,
          const char *a, const char *b)
{
    size_t i = find_cloud(sorted, n, a), j = find_cloud(sorted, n, b);
    if (i == n || j == n || i == j) {
        return NULL;
    }
    return &edges[i < j ? pair_index(n, i, j) : pair_index(n, j, i)];
}

/* Marks in_tree[] with Kruskal's tree over edges[] (in pair order). */
static int
choose_tree(struct edge *edges, size_t n, bool *in_tree)
{
    size_t n_edges = n * (n - 1) / 2;
    size_t *parent = malloc(n * sizeof *parent);
    size_t *size = malloc(n * sizeof *size);
    struct edge *sorted = malloc(n_edges * sizeof *sorted);
    if (!parent || !size || !sorted) {
        free(parent);
        free(size);
        free(sorted);
        return ENOMEM;
    }
    struct uf uf;
    uf_init(&uf, n, parent, size);
    memcpy(sorted, edges, n_edges * sizeof *sorted);
    qsort(sorted, n_edges, sizeof *sorted, cmp_edge);
    size_t m = 0;
    for (size_t k = 0; k < n_edges && m < n - 1; k++) {
        if (!uf_union(&uf, sorted[k].a, sorted[k].b)) {
            continue;
        }
        in_tree[pair_index(n, sorted[k].a, sorted[k].b)] = true;
        m++;
    }
    free(parent);
    free(size);
    free(sorted);
    return 0;
}

/* Marks use[] with the backups: the chosen links among the pairs not in the
 * tree. */
static int
choose_backups(const struct edge *edges, size_t n, const bool *in_tree,
               enum augment_method method, bool *use,
               struct augment_result *res)
{
    size_t n_edges = n * (n - 1) / 2, nt = 0, nl = 0;
    struct augment_edge *tree = malloc(n * sizeof *tree);
    struct augment_edge *links = malloc((n_edges + 1) * sizeof *links);
    size_t *link_pair = malloc((n_edges + 1) * sizeof *link_pair);
    bool *kept = malloc((n_edges + 1) * sizeof *kept);
    bool *chosen = malloc((n_edges + 1) * sizeof *chosen);
    int error = ENOMEM;
    if (tree && links && link_pair && kept && chosen) {
        for (size_t k = 0; k < n_edges; k++) {
            struct augment_edge e = {edges[k].a, edges[k].b, edges[k].cost};
            if (in_tree[k]) {
                tree[nt++] = e;
            } else {
                kept[nl] = edges[k].kept;
                link_pair[nl] = k;
                links[nl++] = e;
            }
        }
        error = augment_compute(method, n, tree, links, nl, kept, chosen, res);
        for (size_t l = 0; !error && l < nl; l++) {
            use[link_pair[l]] = chosen[l];
        }
    }
    free(tree);
    free(links);
    free(link_pair);
    free(kept);
    free(chosen);
    return error;
}

void
tunnels_overlay_destroy(struct tunnels_overlay *o)
{
    if (o) {
        free(o->clouds);
        free(o->tunnels);
        free(o->ends);
        free(o);
    }
}

int
tunnels_overlay_compute(enum tunnels_layout layout, const char *const *clouds,
                        size_t n, const struct tunnels_cost *costs,
                        size_t n_costs, const struct tunnel *kept,
                        size_t n_kept, enum augment_method method,
                        struct tunnels_overlay **out)
{
    *out = NULL;
    if (method == AUGMENT_EXACT && layout == TUNNELS_MST_BACKUP
        && n > AUGMENT_EXACT_MAX_NODES) {
        return E2BIG;
    }
    size_t n_edges = n > 1 ? n * (n - 1) / 2 : 0;
    struct tunnels_overlay *o = calloc(1, sizeof *o);
    size_t *order = malloc((n + 1) * sizeof *order);
    struct edge *edges = malloc((n_edges + 1) * sizeof *edges);
    bool *in_tree = calloc(n_edges + 1, sizeof *in_tree);
    bool *use = calloc(n_edges + 1, sizeof *use);
    int error = ENOMEM;
    if (!o || !order || !edges || !in_tree || !use) {
        goto out;
    }
    o->layout = layout;
    o->n_clouds = n;
    o->clouds = malloc((n + 1) * sizeof *o->clouds);
    o->tunnels = malloc((n_edges + 1) * sizeof *o->tunnels);
    o->ends = malloc((n_edges + 1) * sizeof *o->ends);
    if (!o->clouds || !o->tunnels || !o->ends) {
        goto out;
    }
    for (size_t i = 0; i < n; i++) {
        order[i] = i;
    }
    qsort_r(order, n, sizeof *order, cmp_index, (void *) clouds);
    for (size_t i = 0; i < n; i++) {
        o->clouds[i] = clouds[order[i]];
    }
    for (size_t i = 0; i < n; i++) {
        for (size_t j = i + 1; j < n; j++) {
            edges[pair_index(n, i, j)] = (struct edge){i, j, 1.0, false};
        }
    }
    for (size_t c = 0; c < n_costs; c++) {
        struct edge *e = find_pair(edges, o->clouds, n, costs[c].a, costs[c].b);
        if (e && costs[c].cost > 0) {
            e->cost = costs[c].cost;
        }
    }
    for (size_t k = 0; k < n_kept; k++) {
        struct edge *e = find_pair(edges, o->clouds, n, kept[k].a, kept[k].b);
        if (e) {
            e->kept = true;
        }
    }
    error = n > 1 ? choose_tree(edges, n, in_tree) : 0;
    struct augment_result res = {.exact = true};
    if (!error && layout == TUNNELS_MST_BACKUP && n > 1) {
        error = choose_backups(edges, n, in_tree, method, use, &res);
    }
    if (error) {
        goto out;
    }
    o->exact = layout == TUNNELS_MST_BACKUP ? res.exact : true;
    for (size_t k = 0; k < n_edges; k++) {
        bool tree = in_tree[k];
        if (!tree && !use[k] && layout != TUNNELS_FULL_MESH) {
            continue;
        }
        struct tunnel *t = &o->tunnels[o->n_tunnels];
        *t = (struct tunnel){o->clouds[edges[k].a], o->clouds[edges[k].b],
                             edges[k].cost, tree ? TUNNELS_TREE : TUNNELS_BACKUP};
        o->ends[o->n_tunnels][0] = edges[k].a;
        o->ends[o->n_tunnels][1] = edges[k].b;
        o->n_tunnels++;
        if (tree) {
            o->n_tree++;
            o->tree_cost += t->cost;
        } else {
            o->n_backup++;
            o->backup_cost += t->cost;
        }
    }
    /* Pair order is name order: o->tunnels is sorted by (a, b). */
    if (layout == TUNNELS_MST_BACKUP) {
        o->n_unprotected = res.n_uncovered;
    } else if (layout == TUNNELS_MST || n == 2) {
        o->n_unprotected = o->n_tree;
    }
out:
    free(order);
    free(edges);
    free(in_tree);
    free(use);
    if (error) {
        tunnels_overlay_destroy(o);
        return error;
    }
    *out = o;
    return 0;
}

int
tunnels_detours(const struct tunnels_overlay *o, struct detour_table **out)
{
    struct detour_edge *e = malloc((o->n_tunnels + 1) * sizeof *e);
    if (!e) {
        *out = NULL;
        return ENOMEM;
    }
    for (size_t t = 0; t < o->n_tunnels; t++) {
        e[t] = (struct detour_edge){o->ends[t][0], o->ends[t][1],
                                    o->tunnels[t].cost,
                                    o->tunnels[t].role == TUNNELS_TREE};
    }
    int error = detour_compute(o->n_clouds, e, o->n_tunnels, out);
    free(e);
    return error;
}

int
tunnels_compute(enum tunnels_layout layout, const char *const *clouds, size_t n,
                const struct tunnels_cost *costs, size_t n_costs,
                struct tunnel **out, size_t *n_out)
{
    *out = NULL;
    *n_out = 0;
    struct tunnels_overlay *o;
    int error = tunnels_overlay_compute(layout, clouds, n, costs, n_costs,
                                        NULL, 0, AUGMENT_AUTO, &o);
    if (error) {
        return error;
    }
    if (o->n_tunnels) {
        *out = o->tunnels;
        *n_out = o->n_tunnels;
        o->tunnels = NULL;
    }
    tunnels_overlay_destroy(o);
    return 0;
}

static int
cmp_tunnel(const struct tunnel *x, const struct tunnel *y)
{
    int c = strcmp(x->a, y->a);
    return c ? c : strcmp(x->b, y->b);
}

/* The merge of two sorted tunnel sets: calls each(kind, tunnel, aux) for
 * every tunnel only in next (ADD), in both with another role (RETAG), only
 * in cur (REMOVE), in (a, b) order. */
static void
merge(const struct tunnel *cur, size_t n_cur, const struct tunnel *next,
      size_t n_next,
      void (*each)(enum tunnels_change_kind, const struct tunnel *, void *),
      void *aux)
{
    size_t i = 0, j = 0;
    while (i < n_cur || j < n_next) {
        int c = i == n_cur ? 1 : j == n_next ? -1 : cmp_tunnel(&cur[i], &next[j]);
        if (c < 0) {
            each(TUNNELS_REMOVE, &cur[i++], aux);
        } else if (c > 0) {
            each(TUNNELS_ADD, &next[j++], aux);
        } else {
            if (cur[i].role != next[j].role) {
                each(TUNNELS_RETAG, &next[j], aux);
            }
            i++;
            j++;
        }
    }
}

struct diff_cb {
    void (*add)(const struct tunnel *, void *);
    void (*del)(const struct tunnel *, void *);
    void *aux;
};

static void
diff_each(enum tunnels_change_kind kind, const struct tunnel *t, void *cb_)
{
    const struct diff_cb *cb = cb_;
    if (kind == TUNNELS_ADD) {
        cb->add(t, cb->aux);
    } else if (kind == TUNNELS_REMOVE) {
        cb->del(t, cb->aux);
    }
}

void
tunnels_diff(const struct tunnel *cur, size_t n_cur, const struct tunnel *next,
             size_t n_next, void (*add)(const struct tunnel *, void *),
             void (*del)(const struct tunnel *, void *), void *aux)
{
    struct diff_cb cb = {add, del, aux};
    merge(cur, n_cur, next, n_next, diff_each, &cb);
}

struct change_list {
    struct tunnels_change *v;
    size_t n;
    enum tunnels_change_kind want;
};

static void
collect_each(enum tunnels_change_kind kind, const struct tunnel *t, void *l_)
{
    struct change_list *l = l_;
    if (kind == l->want) {
        l->v[l->n++] = (struct tunnels_change){kind, t};
    }
}

int
tunnels_changes(const struct tunnel *cur, size_t n_cur,
                const struct tunnel *next, size_t n_next,
                struct tunnels_change **out, size_t *n_out)
{
    struct change_list l = {malloc((n_cur + n_next + 1) * sizeof *l.v), 0,
                            TUNNELS_ADD};
    *out = NULL;
    *n_out = 0;
    if (!l.v) {
        return ENOMEM;
    }
    for (l.want = TUNNELS_ADD; l.want <= TUNNELS_REMOVE; l.want++) {
        merge(cur, n_cur, next, n_next, collect_each, &l);
    }
    *out = l.v;
    *n_out = l.n;
    return 0;
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

size_t
tunnels_gateway_pairs(unsigned n_gw_a, unsigned n_gw_b,
                      struct tunnels_gateway_pair *out)
{
    if (!n_gw_a || !n_gw_b || n_gw_a > TUNNELS_MAX_GATEWAYS
        || n_gw_b > TUNNELS_MAX_GATEWAYS) {
        return 0;
    }
    size_t m = 0;
    for (unsigned ga = 0; ga < n_gw_a; ga++) {
        for (unsigned gb = 0; gb < n_gw_b; gb++) {
            out[m++] = (struct tunnels_gateway_pair){
                ga, gb, gb != ga % n_gw_b, ga != gb % n_gw_a};
        }
    }
    return m;
}

size_t
tunnels_gateway_tunnels(const struct tunnels_overlay *o, const unsigned *n_gw)
{
    size_t sum = 0;
    for (size_t t = 0; t < o->n_tunnels; t++) {
        sum += (size_t) n_gw[o->ends[t][0]] * n_gw[o->ends[t][1]];
    }
    return sum;
}
