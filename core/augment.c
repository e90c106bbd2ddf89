/* augment.c: see augment.h.  The tree is rooted at node 0; a link's cover
 * is the set of tree edges met walking both ends up to their lowest common
 * ancestor, kept as a bitset over the tree edges (edge i is tree[i]).  The
 * order of link sets is implemented once, by set_key_cmp(), and both methods
 * choose with it. */
#include "core/augment.h"

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define WORD_BITS 64
#define WORDS(bits) (((bits) + WORD_BITS - 1) / WORD_BITS)

static bool
bit_get(const uint64_t *set, size_t i)
{
    return set[i / WORD_BITS] >> (i % WORD_BITS) & 1;
}

static void
bit_set(uint64_t *set, size_t i)
{
    set[i / WORD_BITS] |= (uint64_t) 1 << (i % WORD_BITS);
}

/* A link set in the order of augment.h: 'links' is a bitset over the link
 * indexes (the name rule). */
struct set_key {
    double cost;
    size_t count;
    size_t churn;
    const uint64_t *links;
};

/* < 0 when x comes first (is better). */
static int
set_key_cmp(const struct set_key *x, const struct set_key *y, size_t lw)
{
    if (x->cost != y->cost) {
        return x->cost < y->cost ? -1 : 1;
    }
    if (x->count != y->count) {
        return x->count < y->count ? -1 : 1;
    }
    if (x->churn != y->churn) {
        return x->churn < y->churn ? -1 : 1;
    }
    for (size_t w = 0; w < lw; w++) {
        uint64_t d = x->links[w] ^ y->links[w];
        if (d) {
            return x->links[w] & (d & -d) ? -1 : 1;
        }
    }
    return 0;
}

/* The problem once prepared: every link's cover over the tree edges. */
struct problem {
    size_t n, n_tree, n_links;
    size_t tw, lw;              /* words of a tree-edge and a link bitset */
    const struct augment_edge *links;
    const bool *kept;
    uint64_t *cover;            /* [link * tw + w] */
    uint64_t *coverable;        /* [tw]: union of the covers */
};

static bool
is_kept(const struct problem *p, size_t l)
{
    return p->kept && p->kept[l];
}

/* Roots the tree at 0 and fills every link's cover.  EINVAL when the tree
 * is not a spanning tree of n nodes or a link names an unknown node. */
static int
problem_init(struct problem *p, size_t n, const struct augment_edge *tree,
             const struct augment_edge *links, size_t n_links, const bool *kept)
{
    memset(p, 0, sizeof *p);
    p->n = n;
    p->n_tree = n ? n - 1 : 0;
    p->n_links = n_links;
    p->tw = WORDS(p->n_tree) ? WORDS(p->n_tree) : 1;
    p->lw = WORDS(n_links) ? WORDS(n_links) : 1;
    p->links = links;
    p->kept = kept;
    for (size_t i = 0; i < p->n_tree; i++) {
        if (tree[i].u >= n || tree[i].v >= n || tree[i].u == tree[i].v) {
            return EINVAL;
        }
    }
    for (size_t l = 0; l < n_links; l++) {
        if (links[l].u >= n || links[l].v >= n || links[l].u == links[l].v) {
            return EINVAL;
        }
    }

    /* Adjacency of the tree (compressed rows), then parents by BFS. */
    size_t *start = calloc(n + 1, sizeof *start);
    size_t *adj = malloc((2 * p->n_tree + 1) * sizeof *adj);
    size_t *parent = malloc((n + 1) * sizeof *parent);
    size_t *pedge = malloc((n + 1) * sizeof *pedge);
    size_t *depth = calloc(n + 1, sizeof *depth);
    size_t *queue = malloc((n + 1) * sizeof *queue);
    p->cover = calloc(n_links * p->tw + 1, sizeof *p->cover);
    p->coverable = calloc(p->tw, sizeof *p->coverable);
    int error = 0;
    if (!start || !adj || !parent || !pedge || !depth || !queue || !p->cover
        || !p->coverable) {
        error = ENOMEM;
        goto out;
    }
    for (size_t i = 0; i < p->n_tree; i++) {
        start[tree[i].u + 1]++;
        start[tree[i].v + 1]++;
    }
    for (size_t v = 0; v < n; v++) {
        start[v + 1] += start[v];
        parent[v] = SIZE_MAX;
    }
    for (size_t i = 0; i < p->n_tree; i++) {
        /* depth[] serves as the fill cursor of each row until the BFS. */
        depth[tree[i].u]++;
        depth[tree[i].v]++;
    }
    for (size_t i = 0; i < p->n_tree; i++) {
        adj[start[tree[i].u] + --depth[tree[i].u]] = i;
        adj[start[tree[i].v] + --depth[tree[i].v]] = i;
    }
    size_t head = 0, tail = 0, seen = 0;
    if (n) {
        parent[0] = 0;
        depth[0] = 0;
        queue[tail++] = 0;
    }
    while (head < tail) {
        size_t v = queue[head++];
        seen++;
        for (size_t k = start[v]; k < start[v + 1]; k++) {
            size_t e = adj[k];
            size_t w = tree[e].u == v ? tree[e].v : tree[e].u;
            if (parent[w] == SIZE_MAX) {
                parent[w] = v;
                pedge[w] = e;
                depth[w] = depth[v] + 1;
                queue[tail++] = w;
            }
        }
    }
    if (seen != n) {
        error = EINVAL;
        goto out;
    }
    for (size_t l = 0; l < n_links; l++) {
        uint64_t *c = &p->cover[l * p->tw];
        size_t x = links[l].u, y = links[l].v;
        while (x != y) {
            if (depth[x] < depth[y]) {
                size_t t = x;
                x = y;
                y = t;
            }
            bit_set(c, pedge[x]);
            x = parent[x];
        }
        for (size_t w = 0; w < p->tw; w++) {
            p->coverable[w] |= c[w];
        }
    }
out:
    free(start);
    free(adj);
    free(parent);
    free(pedge);
    free(depth);
    free(queue);
    return error;
}

static void
problem_uninit(struct problem *p)
{
    free(p->cover);
    free(p->coverable);
}

/* The key of the link set 'set' (a link bitset, borrowed by the key). */
static struct set_key
key_of(const struct problem *p, const uint64_t *set)
{
    struct set_key k = {0, 0, 0, set};
    for (size_t l = 0; l < p->n_links; l++) {
        if (bit_get(set, l)) {
            k.cost += p->links[l].cost;
            k.count++;
            k.churn += !is_kept(p, l);
        }
    }
    return k;
}

/* --- exact ---------------------------------------------------------------- */

/* Compares {l} + base (l not in base) with 'other' by the name rule: < 0
 * when the first comes first. */
static int
lex_with(const uint64_t *base, size_t l, const uint64_t *other, size_t lw)
{
    for (size_t w = 0; w < lw; w++) {
        uint64_t x = base[w] | (l / WORD_BITS == w ? (uint64_t) 1 << (l % WORD_BITS) : 0);
        uint64_t d = x ^ other[w];
        if (d) {
            return x & (d & -d) ? -1 : 1;
        }
    }
    return 0;
}

/* A link whose cover lies within a strictly cheaper link's is in no
 * optimal set (swap it for the cheaper one): leave it out of the search. */
static void
drop_dominated(const struct problem *p, const uint32_t *mask, bool *useful)
{
    for (size_t l = 0; l < p->n_links; l++) {
        useful[l] = mask[l] != 0;
        for (size_t m = 0; m < p->n_links && useful[l]; m++) {
            useful[l] = !((mask[l] & ~mask[m]) == 0
                          && p->links[m].cost < p->links[l].cost);
        }
    }
}

static int
solve_exact(const struct problem *p, uint64_t *best)
{
    /* Compact the coverable tree edges to bits 0..k-1. */
    size_t k = 0;
    size_t bit_of[AUGMENT_EXACT_MAX_NODES];
    for (size_t e = 0; e < p->n_tree; e++) {
        bit_of[e] = bit_get(p->coverable, e) ? k++ : SIZE_MAX;
    }
    size_t lw = p->lw, states = (size_t) 1 << k;
    uint32_t *mask = calloc(p->n_links + 1, sizeof *mask);
    bool *useful = malloc((p->n_links + 1) * sizeof *useful);
    size_t *by_bit = malloc((k * p->n_links + 1) * sizeof *by_bit);
    size_t n_by_bit[AUGMENT_EXACT_MAX_NODES] = {0};
    double *cost = malloc(states * sizeof *cost);
    uint32_t *count = malloc(states * sizeof *count);
    uint32_t *churn = malloc(states * sizeof *churn);
    uint64_t *sets = calloc(states * lw, sizeof *sets);
    int error = 0;
    if (!mask || !useful || !by_bit || !cost || !count || !churn || !sets) {
        error = ENOMEM;
        goto out;
    }
    for (size_t l = 0; l < p->n_links; l++) {
        for (size_t e = 0; e < p->n_tree; e++) {
            if (bit_get(&p->cover[l * p->tw], e)) {
                mask[l] |= (uint32_t) 1 << bit_of[e];
            }
        }
    }
    drop_dominated(p, mask, useful);
    for (size_t l = 0; l < p->n_links; l++) {
        for (size_t b = 0; b < k && useful[l]; b++) {
            if (mask[l] >> b & 1) {
                by_bit[b * p->n_links + n_by_bit[b]++] = l;
            }
        }
    }

    /* dp[s]: the first set in the order of augment.h covering the bits of
     * s; its last link covers the lowest bit of s and the rest is dp[r]. */
    cost[0] = 0;
    count[0] = churn[0] = 0;
    for (size_t s = 1; s < states; s++) {
        size_t b = (size_t) __builtin_ctzll(s);
        size_t best_l = SIZE_MAX;
        double bc = 0;
        uint32_t bn = 0, bh = 0;
        for (size_t i = 0; i < n_by_bit[b]; i++) {
            size_t l = by_bit[b * p->n_links + i];
            size_t r = s & ~(size_t) mask[l];
            double c = p->links[l].cost + cost[r];
            uint32_t n = count[r] + 1, h = churn[r] + !is_kept(p, l);
            int cmp = best_l == SIZE_MAX ? -1
                      : c != bc ? (c < bc ? -1 : 1)
                      : n != bn ? (n < bn ? -1 : 1)
                      : h != bh ? (h < bh ? -1 : 1)
                      : lex_with(&sets[r * lw], l, &sets[s * lw], lw);
            if (cmp < 0) {
                best_l = l;
                bc = c;
                bn = n;
                bh = h;
                memcpy(&sets[s * lw], &sets[r * lw], lw * sizeof *sets);
                bit_set(&sets[s * lw], l);
            }
        }
        cost[s] = bc;
        count[s] = bn;
        churn[s] = bh;
    }
    memcpy(best, &sets[(states - 1) * lw], lw * sizeof *best);
out:
    free(mask);
    free(useful);
    free(by_bit);
    free(cost);
    free(count);
    free(churn);
    free(sets);
    return error;
}

/* --- greedy --------------------------------------------------------------- */

/* Link x is a better pick than link y when it costs less per tree edge it
 * newly covers (x_new, y_new > 0), then when kept, then by index. */
static bool
better_ratio(const struct problem *p, size_t x, size_t x_new, size_t y,
             size_t y_new)
{
    double cx = p->links[x].cost * (double) y_new;
    double cy = p->links[y].cost * (double) x_new;
    if (cx != cy) {
        return cx < cy;
    }
    if (is_kept(p, x) != is_kept(p, y)) {
        return is_kept(p, x);
    }
    return x < y;
}

static size_t
new_covered(const struct problem *p, size_t l, const uint64_t *uncovered)
{
    size_t c = 0;
    for (size_t w = 0; w < p->tw; w++) {
        c += (size_t) __builtin_popcountll(p->cover[l * p->tw + w] & uncovered[w]);
    }
    return c;
}

static void
take(const struct problem *p, size_t l, uint64_t *set, uint64_t *uncovered)
{
    bit_set(set, l);
    for (size_t w = 0; w < p->tw; w++) {
        uncovered[w] &= ~p->cover[l * p->tw + w];
    }
}

/* Drops, most expensive first (then the ones not kept, then the highest
 * index), every link of 'set' whose tree edges stay covered without it.
 * 'times' is scratch for n_tree counts, 'order' for n_links indexes. */
static int
cmp_drop_order(const void *x_, const void *y_, void *p_)
{
    const struct problem *p = p_;
    size_t x = *(const size_t *) x_, y = *(const size_t *) y_;
    if (p->links[x].cost != p->links[y].cost) {
        return p->links[x].cost > p->links[y].cost ? -1 : 1;
    }
    if (is_kept(p, x) != is_kept(p, y)) {
        return is_kept(p, x) ? 1 : -1;
    }
    return x > y ? -1 : 1;
}

static void
prune(const struct problem *p, uint64_t *set, size_t *times, size_t *order)
{
    size_t m = 0;
    memset(times, 0, (p->n_tree + 1) * sizeof *times);
    for (size_t l = 0; l < p->n_links; l++) {
        if (bit_get(set, l)) {
            order[m++] = l;
            for (size_t e = 0; e < p->n_tree; e++) {
                times[e] += bit_get(&p->cover[l * p->tw], e);
            }
        }
    }
    qsort_r(order, m, sizeof *order, cmp_drop_order, (void *) p);
    for (size_t i = 0; i < m; i++) {
        const uint64_t *c = &p->cover[order[i] * p->tw];
        bool needed = false;
        for (size_t e = 0; e < p->n_tree && !needed; e++) {
            needed = bit_get(c, e) && times[e] == 1;
        }
        if (!needed) {
            set[order[i] / WORD_BITS] &= ~((uint64_t) 1 << (order[i] % WORD_BITS));
            for (size_t e = 0; e < p->n_tree; e++) {
                times[e] -= bit_get(c, e);
            }
        }
    }
}

static int
solve_greedy(const struct problem *p, uint64_t *best)
{
    uint64_t *uncovered = malloc(p->tw * sizeof *uncovered);
    uint64_t *other = calloc(p->lw, sizeof *other);
    size_t *times = malloc((p->n_tree + 1) * sizeof *times);
    size_t *order = malloc((p->n_links + 1) * sizeof *order);
    if (!uncovered || !other || !times || !order) {
        free(uncovered);
        free(other);
        free(times);
        free(order);
        return ENOMEM;
    }

    /* (1) least cost per newly covered tree edge. */
    memcpy(uncovered, p->coverable, p->tw * sizeof *uncovered);
    for (;;) {
        size_t pick = SIZE_MAX, pick_new = 0;
        for (size_t l = 0; l < p->n_links; l++) {
            size_t c = new_covered(p, l, uncovered);
            if (c && (pick == SIZE_MAX || better_ratio(p, l, c, pick, pick_new))) {
                pick = l;
                pick_new = c;
            }
        }
        if (pick == SIZE_MAX) {
            break;
        }
        take(p, pick, best, uncovered);
    }
    prune(p, best, times, order);

    /* (2) the cheapest cover of each tree edge still uncovered. */
    memcpy(uncovered, p->coverable, p->tw * sizeof *uncovered);
    for (size_t e = 0; e < p->n_tree; e++) {
        if (!bit_get(uncovered, e)) {
            continue;
        }
        size_t pick = SIZE_MAX;
        for (size_t l = 0; l < p->n_links; l++) {
            if (bit_get(&p->cover[l * p->tw], e)
                && (pick == SIZE_MAX || better_ratio(p, l, 1, pick, 1))) {
                pick = l;
            }
        }
        take(p, pick, other, uncovered);
    }
    prune(p, other, times, order);

    struct set_key k1 = key_of(p, best), k2 = key_of(p, other);
    if (set_key_cmp(&k2, &k1, p->lw) < 0) {
        memcpy(best, other, p->lw * sizeof *best);
    }
    free(uncovered);
    free(other);
    free(times);
    free(order);
    return 0;
}

int
augment_compute(enum augment_method method, size_t n,
                const struct augment_edge *tree,
                const struct augment_edge *links, size_t n_links,
                const bool *kept, bool *chosen, struct augment_result *res)
{
    memset(res, 0, sizeof *res);
    for (size_t l = 0; l < n_links; l++) {
        chosen[l] = false;
    }
    if (method == AUGMENT_EXACT && n > AUGMENT_EXACT_MAX_NODES) {
        return E2BIG;
    }
    bool exact = method == AUGMENT_EXACT
                 || (method == AUGMENT_AUTO && n <= AUGMENT_EXACT_MAX_NODES);
    struct problem p;
    int error = problem_init(&p, n, tree, links, n_links, kept);
    uint64_t *set = error ? NULL : calloc(p.lw, sizeof *set);
    if (!error && !set) {
        error = ENOMEM;
    }
    if (!error) {
        error = exact ? solve_exact(&p, set) : solve_greedy(&p, set);
    }
    if (!error) {
        struct set_key k = key_of(&p, set);
        for (size_t l = 0; l < n_links; l++) {
            chosen[l] = bit_get(set, l);
        }
        size_t covered = 0;
        for (size_t w = 0; w < p.tw; w++) {
            covered += (size_t) __builtin_popcountll(p.coverable[w]);
        }
        *res = (struct augment_result) {
            .exact = exact, .n_chosen = k.count,
            .n_uncovered = p.n_tree - covered, .cost = k.cost,
        };
    }
    free(set);
    problem_uninit(&p);
    return error;
}
