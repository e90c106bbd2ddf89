/* Unit tests for core/tunnels.c, core/augment.c and core/detour.c: the
 * layouts (mst, mst+backup, full-mesh), the backups' optimality against
 * brute force, the tie-breaks, the greedy cover's validity on larger graphs,
 * detours that never send a packet back where it came from (unicast and
 * broadcast, simulated hop by hop), the gateway pairs, and the diff that
 * keeps tunnel churn to what must change. */
#include <setjmp.h>
#include <errno.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "core/tunnels.h"
#include "core/augment.h"
#include "core/detour.h"

static bool
has(const struct tunnel *t, size_t n, const char *a, const char *b)
{
    for (size_t i = 0; i < n; i++) {
        if (!strcmp(t[i].a, a) && !strcmp(t[i].b, b)) {
            return true;
        }
    }
    return false;
}

static void
test_counts(void **state)
{
    (void) state;
    const char *clouds[] = {"c1", "c2", "c3", "c4", "c5", "c6", "c7", "c8"};
    for (size_t n = 0; n <= 8; n++) {
        struct tunnel *t;
        size_t m;
        assert_int_equal(tunnels_compute(TUNNELS_MST, clouds, n, NULL, 0, &t, &m), 0);
        assert_int_equal(m, n ? n - 1 : 0);
        free(t);
        assert_int_equal(tunnels_compute(TUNNELS_FULL_MESH, clouds, n, NULL, 0, &t, &m), 0);
        assert_int_equal(m, n * (n ? n - 1 : 0) / 2);
        for (size_t i = 0; i < m; i++) {
            assert_true(strcmp(t[i].a, t[i].b) < 0);
            if (i) {
                int c = strcmp(t[i - 1].a, t[i].a);
                assert_true(c < 0 || (c == 0 && strcmp(t[i - 1].b, t[i].b) < 0));
            }
        }
        free(t);
    }
}

/* The tree follows the costs: a cheap triangle side is used, the
 * expensive one avoided; costs may name clouds in either order. */
static void
test_mst_follows_costs(void **state)
{
    (void) state;
    const char *clouds[] = {"gcp", "aws", "onprem"};
    const struct tunnels_cost costs[] = {
        {"gcp", "aws", 10}, {"onprem", "aws", 3}, {"gcp", "onprem", 12},
        {"aws", "mars", 0.1},  /* unknown cloud: ignored */
    };
    struct tunnel *t;
    size_t m;
    assert_int_equal(tunnels_compute(TUNNELS_MST, clouds, 3, costs, 4, &t, &m), 0);
    assert_int_equal(m, 2);
    assert_true(has(t, m, "aws", "onprem"));
    assert_true(has(t, m, "aws", "gcp"));
    assert_false(has(t, m, "gcp", "onprem"));
    assert_true(tunnels_total_cost(t, m) == 13.0);
    free(t);
}

static size_t n_added, n_deleted;
static void
count_add(const struct tunnel *t, void *aux)
{
    (void) t;
    (void) aux;
    n_added++;
}
static void
count_del(const struct tunnel *t, void *aux)
{
    (void) t;
    (void) aux;
    n_deleted++;
}

/* Adding a cloud that is expensive to reach adds one tunnel and removes
 * none; removing a leaf cloud removes its one tunnel. */
static void
test_diff_minimal_churn(void **state)
{
    (void) state;
    const char *four[] = {"a", "b", "c", "d"};
    const char *five[] = {"a", "b", "c", "d", "e"};
    const struct tunnels_cost costs[] = {
        {"a", "b", 1}, {"b", "c", 1}, {"c", "d", 1},
        {"a", "e", 5}, {"b", "e", 6}, {"c", "e", 7}, {"d", "e", 8},
    };
    struct tunnel *t4, *t5;
    size_t m4, m5;
    assert_int_equal(tunnels_compute(TUNNELS_MST, four, 4, costs, 7, &t4, &m4), 0);
    assert_int_equal(tunnels_compute(TUNNELS_MST, five, 5, costs, 7, &t5, &m5), 0);
    n_added = n_deleted = 0;
    tunnels_diff(t4, m4, t5, m5, count_add, count_del, NULL);
    assert_int_equal(n_added, 1);
    assert_int_equal(n_deleted, 0);
    assert_true(has(t5, m5, "a", "e"));
    n_added = n_deleted = 0;
    tunnels_diff(t5, m5, t4, m4, count_add, count_del, NULL);
    assert_int_equal(n_added, 0);
    assert_int_equal(n_deleted, 1);
    n_added = n_deleted = 0;
    tunnels_diff(t5, m5, t5, m5, count_add, count_del, NULL);
    assert_int_equal(n_added + n_deleted, 0);
    free(t4);
    free(t5);
}

/* Equal costs: the same input in any order gives the same tree. */
static void
test_deterministic(void **state)
{
    (void) state;
    const char *x[] = {"d", "b", "a", "c"};
    const char *y[] = {"a", "c", "b", "d"};
    struct tunnel *tx, *ty;
    size_t mx, my;
    assert_int_equal(tunnels_compute(TUNNELS_MST, x, 4, NULL, 0, &tx, &mx), 0);
    assert_int_equal(tunnels_compute(TUNNELS_MST, y, 4, NULL, 0, &ty, &my), 0);
    assert_int_equal(mx, my);
    for (size_t i = 0; i < mx; i++) {
        assert_string_equal(tx[i].a, ty[i].a);
        assert_string_equal(tx[i].b, ty[i].b);
    }
    free(tx);
    free(ty);
}


/* --- helpers: a deterministic generator, graphs, connectivity ------------ */

static uint64_t rng_state;

static uint32_t
rng(void)
{
    rng_state = rng_state * 6364136223846793005ull + 1442695040888963407ull;
    return (uint32_t) (rng_state >> 33);
}

#define MAXN 64

/* Is nodes 0..n-1 connected by edges[0..m) (pairs), leaving out 'skip'? */
static bool
connected(size_t n, const size_t (*edges)[2], size_t m, size_t skip)
{
    size_t root[MAXN];
    for (size_t v = 0; v < n; v++) {
        root[v] = v;
    }
    size_t parts = n;
    for (size_t i = 0; i < m; i++) {
        if (i == skip) {
            continue;
        }
        size_t x = edges[i][0], y = edges[i][1];
        while (root[x] != x) {
            x = root[x];
        }
        while (root[y] != y) {
            y = root[y];
        }
        if (x != y) {
            root[x] = y;
            parts--;
        }
    }
    return parts <= 1;
}

/* Does the loss of any one edge leave the graph connected? */
static bool
two_edge_connected(size_t n, const size_t (*edges)[2], size_t m)
{
    for (size_t i = 0; i < m; i++) {
        if (!connected(n, edges, m, i)) {
            return false;
        }
    }
    return connected(n, edges, m, SIZE_MAX);
}

static const char *const NAMES[MAXN] = {
    "c00", "c01", "c02", "c03", "c04", "c05", "c06", "c07", "c08", "c09",
    "c10", "c11", "c12", "c13", "c14", "c15", "c16", "c17", "c18", "c19",
    "c20", "c21", "c22", "c23", "c24", "c25", "c26", "c27", "c28", "c29",
    "c30", "c31", "c32", "c33", "c34", "c35", "c36", "c37", "c38", "c39",
    "c40", "c41", "c42", "c43", "c44", "c45", "c46", "c47", "c48", "c49",
    "c50", "c51", "c52", "c53", "c54", "c55", "c56", "c57", "c58", "c59",
    "c60", "c61", "c62", "c63",
};

/* Random costs for every pair of the first n NAMES (cloud i is NAMES[i],
 * so the sorted index is i): integers 1..max_cost, many ties when small. */
static size_t
random_costs(size_t n, uint32_t max_cost, struct tunnels_cost *costs,
             double cost[MAXN][MAXN])
{
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        for (size_t j = i + 1; j < n; j++) {
            double c = 1 + rng() % max_cost;
            cost[i][j] = cost[j][i] = c;
            /* Either order of names: the layout must not care. */
            costs[k++] = rng() & 1 ? (struct tunnels_cost){NAMES[i], NAMES[j], c}
                                   : (struct tunnels_cost){NAMES[j], NAMES[i], c};
        }
    }
    return k;
}

static void
overlay_pairs(const struct tunnels_overlay *o, size_t (*edges)[2])
{
    for (size_t t = 0; t < o->n_tunnels; t++) {
        edges[t][0] = o->ends[t][0];
        edges[t][1] = o->ends[t][1];
    }
}

/* --- mst+backup: optimality, tie-breaks ---------------------------------- */

/* Exhaustively: the best valid set of backups among the pairs not in the
 * tree (cost, then count, then the sorted pair indexes compared
 * lexicographically), as a bitmask over those pairs. */
static uint32_t
brute_force(size_t n, size_t (*tree)[2], double cost[MAXN][MAXN],
            size_t (*cand)[2], size_t n_cand, double *best_cost)
{
    size_t edges[MAXN * 2][2];
    uint32_t best = 0;
    bool have = false;
    double bc = 0;
    for (uint32_t mask = 0; mask < (uint32_t) 1 << n_cand; mask++) {
        size_t m = 0;
        double c = 0;
        for (size_t i = 0; i + 1 < n; i++) {
            edges[m][0] = tree[i][0];
            edges[m++][1] = tree[i][1];
        }
        for (size_t l = 0; l < n_cand; l++) {
            if (mask >> l & 1) {
                edges[m][0] = cand[l][0];
                edges[m++][1] = cand[l][1];
                c += cost[cand[l][0]][cand[l][1]];
            }
        }
        if (!two_edge_connected(n, (const size_t (*)[2]) edges, m)) {
            continue;
        }
        bool better = !have || c < bc;
        if (have && c == bc) {
            int pc = __builtin_popcount(mask), pb = __builtin_popcount(best);
            if (pc != pb) {
                better = pc < pb;
            } else {
                /* The lowest pair in which they differ decides. */
                uint32_t d = mask ^ best;
                better = d && (mask & (d & -d));
            }
        }
        if (better) {
            best = mask;
            bc = c;
            have = true;
        }
    }
    assert_true(have);
    *best_cost = bc;
    return best;
}

static void
test_backup_optimal_brute_force(void **state)
{
    (void) state;
    rng_state = 12;
    static const struct { size_t n; int graphs; uint32_t max_cost; } runs[] = {
        {3, 10, 3}, {4, 30, 2}, {4, 30, 9}, {5, 30, 3}, {5, 20, 20},
        {6, 12, 4}, {6, 8, 50}, {7, 3, 3},
    };
    for (size_t r = 0; r < sizeof runs / sizeof *runs; r++) {
        for (int g = 0; g < runs[r].graphs; g++) {
            size_t n = runs[r].n;
            struct tunnels_cost costs[MAXN * MAXN / 2];
            double cost[MAXN][MAXN];
            size_t n_costs = random_costs(n, runs[r].max_cost, costs, cost);
            struct tunnels_overlay *o, *greedy;
            assert_int_equal(tunnels_overlay_compute(TUNNELS_MST_BACKUP, NAMES, n,
                                 costs, n_costs, NULL, 0, AUGMENT_EXACT, &o), 0);
            assert_int_equal(tunnels_overlay_compute(TUNNELS_MST_BACKUP, NAMES, n,
                                 costs, n_costs, NULL, 0, AUGMENT_GREEDY, &greedy), 0);
            assert_true(o->exact);
            assert_false(greedy->exact);
            assert_int_equal(o->n_tree, n - 1);
            assert_int_equal(o->n_unprotected, 0);

            /* Valid: every single tunnel loss leaves the clouds connected. */
            size_t edges[MAXN * MAXN / 2][2];
            overlay_pairs(o, edges);
            assert_true(two_edge_connected(n, (const size_t (*)[2]) edges, o->n_tunnels));
            overlay_pairs(greedy, edges);
            assert_true(two_edge_connected(n, (const size_t (*)[2]) edges,
                                           greedy->n_tunnels));

            /* Optimal, and the very set the tie-breaks name. */
            size_t tree[MAXN][2], cand[MAXN * MAXN / 2][2], nt = 0, nc = 0;
            uint32_t got = 0;
            for (size_t i = 0; i < n; i++) {
                for (size_t j = i + 1; j < n; j++) {
                    bool in_tree = false, backup = false;
                    for (size_t t = 0; t < o->n_tunnels; t++) {
                        if (o->ends[t][0] == i && o->ends[t][1] == j) {
                            in_tree = o->tunnels[t].role == TUNNELS_TREE;
                            backup = !in_tree;
                        }
                    }
                    if (in_tree) {
                        tree[nt][0] = i;
                        tree[nt++][1] = j;
                    } else {
                        got |= (uint32_t) backup << nc;
                        cand[nc][0] = i;
                        cand[nc++][1] = j;
                    }
                }
            }
            double best_cost;
            uint32_t best = brute_force(n, tree, cost, cand, nc, &best_cost);
            assert_true(o->backup_cost == best_cost);
            assert_int_equal(got, best);
            assert_true(greedy->backup_cost >= best_cost);
            tunnels_overlay_destroy(o);
            tunnels_overlay_destroy(greedy);
        }
    }
}

static bool
has_role(const struct tunnels_overlay *o, const char *a, const char *b,
         enum tunnels_role role)
{
    for (size_t t = 0; t < o->n_tunnels; t++) {
        if (!strcmp(o->tunnels[t].a, a) && !strcmp(o->tunnels[t].b, b)) {
            return o->tunnels[t].role == role;
        }
    }
    return false;
}

/* Four clouds, every cost 1: the tree is the star at "a" (Kruskal by
 * name); any two of b-c, b-d, c-d cover it; by name: b-c and b-d.  Kept
 * tunnels win the ties instead, and recomputing from the result is a fixed
 * point.  Input order never matters. */
static void
test_backup_tie_breaks(void **state)
{
    (void) state;
    const char *x[] = {"d", "b", "a", "c"};
    const char *y[] = {"c", "a", "d", "b"};
    struct tunnels_overlay *o, *p;
    assert_int_equal(tunnels_overlay_compute(TUNNELS_MST_BACKUP, x, 4, NULL, 0,
                                             NULL, 0, AUGMENT_AUTO, &o), 0);
    assert_int_equal(o->n_tunnels, 5);
    assert_true(has_role(o, "a", "b", TUNNELS_TREE));
    assert_true(has_role(o, "a", "c", TUNNELS_TREE));
    assert_true(has_role(o, "a", "d", TUNNELS_TREE));
    assert_true(has_role(o, "b", "c", TUNNELS_BACKUP));
    assert_true(has_role(o, "b", "d", TUNNELS_BACKUP));
    assert_true(o->exact);
    assert_true(o->backup_cost == 2.0);

    assert_int_equal(tunnels_overlay_compute(TUNNELS_MST_BACKUP, y, 4, NULL, 0,
                                             NULL, 0, AUGMENT_GREEDY, &p), 0);
    assert_int_equal(p->n_tunnels, o->n_tunnels);
    for (size_t t = 0; t < o->n_tunnels; t++) {
        assert_string_equal(o->tunnels[t].a, p->tunnels[t].a);
        assert_string_equal(o->tunnels[t].b, p->tunnels[t].b);
        assert_int_equal(o->tunnels[t].role, p->tunnels[t].role);
    }
    tunnels_overlay_destroy(p);

    /* The star made cheapest: the same backups by name; kept tunnels win
     * the ties instead. */
    const struct tunnels_cost star[] = {
        {"a", "b", 1}, {"a", "c", 1}, {"a", "d", 1},
        {"b", "c", 2}, {"b", "d", 2}, {"c", "d", 2},
    };
    const struct tunnel kept[] = {
        {"d", "c", 2, TUNNELS_BACKUP}, {"b", "d", 2, TUNNELS_BACKUP},
    };
    assert_int_equal(tunnels_overlay_compute(TUNNELS_MST_BACKUP, y, 4, star, 6,
                                             NULL, 0, AUGMENT_EXACT, &p), 0);
    assert_true(has_role(p, "b", "c", TUNNELS_BACKUP));
    assert_true(has_role(p, "b", "d", TUNNELS_BACKUP));
    tunnels_overlay_destroy(p);
    assert_int_equal(tunnels_overlay_compute(TUNNELS_MST_BACKUP, y, 4, star, 6,
                                             kept, 2, AUGMENT_EXACT, &p), 0);
    assert_int_equal(p->n_backup, 2);
    assert_true(has_role(p, "b", "d", TUNNELS_BACKUP));
    assert_true(has_role(p, "c", "d", TUNNELS_BACKUP));
    assert_true(p->backup_cost == 4.0);
    struct tunnels_overlay *g;
    assert_int_equal(tunnels_overlay_compute(TUNNELS_MST_BACKUP, y, 4, star, 6,
                                             kept, 2, AUGMENT_GREEDY, &g), 0);
    assert_true(has_role(g, "b", "d", TUNNELS_BACKUP));
    assert_true(has_role(g, "c", "d", TUNNELS_BACKUP));
    tunnels_overlay_destroy(g);
    /* Recomputing from the result gives it back. */
    struct tunnels_overlay *q;
    assert_int_equal(tunnels_overlay_compute(TUNNELS_MST_BACKUP, y, 4, star, 6,
                                             p->tunnels, p->n_tunnels,
                                             AUGMENT_EXACT, &q), 0);
    struct tunnels_change *ch;
    size_t n_ch;
    assert_int_equal(tunnels_changes(p->tunnels, p->n_tunnels, q->tunnels,
                                     q->n_tunnels, &ch, &n_ch), 0);
    assert_int_equal(n_ch, 0);
    free(ch);
    tunnels_overlay_destroy(q);
    tunnels_overlay_destroy(p);
    tunnels_overlay_destroy(o);
}

/* The greedy cover on random sparse graphs of 10 to 64 nodes: every tree
 * edge that some link covers is covered (so the overlay is 2-edge-connected
 * exactly when tree plus links is), no chosen link is redundant, and on up
 * to AUGMENT_EXACT_MAX_NODES nodes it never beats the exact method. */
static void
test_greedy_valid_large(void **state)
{
    (void) state;
    rng_state = 99;
    for (int g = 0; g < 40; g++) {
        size_t n = 10 + rng() % 55;
        unsigned pct = 2 + rng() % 25;
        struct augment_edge tree[MAXN], links[MAXN * MAXN / 2];
        size_t nl = 0;
        bool adj[MAXN][MAXN] = {{false}};
        for (size_t v = 1; v < n; v++) {
            size_t u = rng() % v;
            tree[v - 1] = (struct augment_edge){u, v, 1 + rng() % 100};
            adj[u][v] = adj[v][u] = true;
        }
        for (size_t i = 0; i < n; i++) {
            for (size_t j = i + 1; j < n; j++) {
                if (!adj[i][j] && rng() % 100 < pct) {
                    links[nl++] = (struct augment_edge){i, j, 1 + rng() % 100};
                }
            }
        }
        bool chosen[MAXN * MAXN / 2];
        struct augment_result res;
        assert_int_equal(augment_compute(AUGMENT_GREEDY, n, tree, links, nl,
                                         NULL, chosen, &res), 0);
        assert_false(res.exact);

        size_t all[MAXN * MAXN / 2][2], over[MAXN * MAXN / 2][2];
        size_t na = 0, no = 0;
        double sum = 0;
        for (size_t i = 0; i + 1 < n; i++) {
            all[na][0] = over[no][0] = tree[i].u;
            all[na++][1] = over[no++][1] = tree[i].v;
        }
        for (size_t l = 0; l < nl; l++) {
            all[na][0] = links[l].u;
            all[na++][1] = links[l].v;
            if (chosen[l]) {
                over[no][0] = links[l].u;
                over[no++][1] = links[l].v;
                sum += links[l].cost;
            }
        }
        size_t bridges = 0;
        for (size_t i = 0; i + 1 < n; i++) {
            bool bridge = !connected(n, (const size_t (*)[2]) all, na, i);
            bridges += bridge;
            assert_int_equal(connected(n, (const size_t (*)[2]) over, no, i), !bridge);
        }
        assert_int_equal(res.n_uncovered, bridges);
        assert_true(res.cost == sum);
        if (!bridges) {
            assert_true(two_edge_connected(n, (const size_t (*)[2]) over, no));
        }
        /* Pruned: dropping any chosen link uncovers some tree edge. */
        for (size_t k = n - 1; k < no; k++) {
            bool needed = false;
            for (size_t i = 0; i + 1 < n && !needed; i++) {
                size_t trial[MAXN * MAXN / 2][2];
                size_t m = 0;
                for (size_t e = 0; e < no; e++) {
                    if (e != k) {
                        trial[m][0] = over[e][0];
                        trial[m++][1] = over[e][1];
                    }
                }
                needed = connected(n, (const size_t (*)[2]) over, no, i)
                         && !connected(n, (const size_t (*)[2]) trial, m, i);
            }
            assert_true(needed);
        }
        if (n <= AUGMENT_EXACT_MAX_NODES) {
            bool ex[MAXN * MAXN / 2];
            struct augment_result er;
            assert_int_equal(augment_compute(AUGMENT_EXACT, n, tree, links, nl,
                                             NULL, ex, &er), 0);
            assert_true(er.exact);
            assert_int_equal(er.n_uncovered, bridges);
            assert_true(er.cost <= res.cost);
        }
    }
    /* Not a spanning tree; the exact method's bound. */
    struct augment_edge bad[] = {{0, 1, 1}, {0, 1, 1}};
    bool chosen[1];
    struct augment_result res;
    assert_int_equal(augment_compute(AUGMENT_AUTO, 3, bad, NULL, 0, NULL, chosen,
                                     &res), EINVAL);
    struct tunnels_overlay *o;
    assert_int_equal(tunnels_overlay_compute(TUNNELS_MST_BACKUP, NAMES,
                                             AUGMENT_EXACT_MAX_NODES + 1, NULL, 0,
                                             NULL, 0, AUGMENT_EXACT, &o), E2BIG);
    /* Above the bound, AUTO falls back to the greedy cover, still valid. */
    assert_int_equal(tunnels_overlay_compute(TUNNELS_MST_BACKUP, NAMES, 40, NULL, 0,
                                             NULL, 0, AUGMENT_AUTO, &o), 0);
    assert_false(o->exact);
    size_t edges[MAXN * MAXN / 2][2];
    overlay_pairs(o, edges);
    assert_true(two_edge_connected(40, (const size_t (*)[2]) edges, o->n_tunnels));
    tunnels_overlay_destroy(o);
}

/* --- detours ------------------------------------------------------------- */

/* The overlay tunnel between clouds u and v, or SIZE_MAX. */
static size_t
tunnel_between(const struct tunnels_overlay *o, size_t u, size_t v)
{
    for (size_t t = 0; t < o->n_tunnels; t++) {
        if ((o->ends[t][0] == u && o->ends[t][1] == v)
            || (o->ends[t][0] == v && o->ends[t][1] == u)) {
            return t;
        }
    }
    return SIZE_MAX;
}

/* One hop from g to h while cut c is down: a live tunnel. */
static void
hop_ok(const struct tunnels_overlay *o, const struct detour_table *d, size_t c,
       size_t g, size_t h)
{
    assert_true(h < o->n_clouds);
    size_t t = tunnel_between(o, g, h);
    assert_true(t != SIZE_MAX);
    assert_true(t != d->cuts[c].edge);
}

/* Every packet across every cut, hop by hop: tree forwarding to the
 * diverting gateway, the marked detour, then the tree on the far side.
 * Returns how many diversions went back out the tunnel they came in on
 * (the OFPP_IN_PORT case of detour.h, only ever at the diverting gateway). */
static size_t
check_unicast(const struct tunnels_overlay *o, const struct detour_table *d)
{
    size_t n = o->n_clouds, in_port = 0;
    for (size_t c = 0; c < d->n_cuts; c++) {
        const struct detour_cut *cut = &d->cuts[c];
        const unsigned char *side = &d->side[c * n];
        size_t pairs[MAXN * MAXN / 2][2];
        overlay_pairs(o, pairs);
        bool survivable = connected(n, (const size_t (*)[2]) pairs, o->n_tunnels,
                                    cut->edge);
        assert_int_equal(cut->survivable, survivable);
        assert_int_equal(o->tunnels[cut->edge].role, TUNNELS_TREE);
        assert_int_equal(side[cut->a], 0);
        assert_int_equal(side[cut->b], 1);
        if (!survivable) {
            assert_int_equal(d->next[c * n + cut->a], DETOUR_NONE);
            continue;
        }
        for (size_t s = 0; s < n; s++) {
            for (size_t dst = 0; dst < n; dst++) {
                if (side[s] == side[dst]) {
                    continue;
                }
                size_t divert = side[s] ? cut->b : cut->a;
                size_t g = s, prev = SIZE_MAX, steps = 0;
                while (g != divert) {
                    size_t h = d->tree_next[g * n + dst];
                    hop_ok(o, d, c, g, h);
                    prev = g;
                    g = h;
                    assert_true(++steps <= n);
                }
                /* Diverted and marked. */
                size_t h = detour_next_hop(d, c, g, dst);
                assert_int_equal(h, d->next[c * n + g]);
                hop_ok(o, d, c, g, h);
                in_port += h == prev;
                prev = g;
                g = h;
                size_t marked_hops = 1;
                while (side[g] != side[dst]) {
                    h = detour_next_hop(d, c, g, dst);
                    hop_ok(o, d, c, g, h);
                    assert_true(h != prev);     /* no transit hairpin */
                    prev = g;
                    g = h;
                    marked_hops++;
                    assert_true(marked_hops <= n);
                }
                assert_int_equal(marked_hops, cut->hops[side[dst]]);
                /* Arrived: unmarked, by the tree, never back. */
                while (g != dst) {
                    h = detour_next_hop(d, c, g, dst);
                    assert_int_equal(h, d->tree_next[g * n + dst]);
                    hop_ok(o, d, c, g, h);
                    assert_true(h != prev);
                    prev = g;
                    g = h;
                    assert_true(++steps <= 3 * n);
                }
            }
        }
    }
    return in_port;
}

struct bmsg {
    size_t g, from;
    bool marked;
    unsigned char target;
};

/* Every broadcast origin across every survivable cut: flooded over the tree,
 * diverted at the cut, carried marked along the detour, flooded marked on
 * the far side.  Every cloud gets it exactly once; no transit gateway sends
 * it back. */
static void
check_broadcast(const struct tunnels_overlay *o, const struct detour_table *d)
{
    size_t n = o->n_clouds;
    for (size_t c = 0; c < d->n_cuts; c++) {
        if (!d->cuts[c].survivable) {
            continue;
        }
        const unsigned char *side = &d->side[c * n];
        for (size_t origin = 0; origin < n; origin++) {
            struct bmsg q[4 * MAXN * MAXN];
            size_t head = 0, tail = 0;
            unsigned got[MAXN] = {0};
            q[tail++] = (struct bmsg){origin, SIZE_MAX, false, 0};
            while (head < tail) {
                struct bmsg m = q[head++];
                assert_true(tail + n < sizeof q / sizeof *q);
                if (!m.marked) {
                    got[m.g]++;
                    for (size_t t = 0; t < o->n_tunnels; t++) {
                        if (o->tunnels[t].role != TUNNELS_TREE
                            || (o->ends[t][0] != m.g && o->ends[t][1] != m.g)) {
                            continue;
                        }
                        size_t w = o->ends[t][0] == m.g ? o->ends[t][1] : o->ends[t][0];
                        if (w == m.from) {
                            continue;
                        }
                        if (t == d->cuts[c].edge) {
                            size_t h = d->next[c * n + m.g];
                            hop_ok(o, d, c, m.g, h);
                            q[tail++] = (struct bmsg){h, m.g, true, side[w]};
                        } else {
                            q[tail++] = (struct bmsg){w, m.g, false, 0};
                        }
                    }
                } else if (side[m.g] == m.target) {
                    got[m.g]++;
                    for (size_t k = d->fan_start[c * n + m.g];
                         k < d->fan_start[c * n + m.g + 1]; k++) {
                        size_t w = d->fan[k];
                        assert_int_equal(side[w], m.target);
                        if (w != m.from) {
                            hop_ok(o, d, c, m.g, w);
                            q[tail++] = (struct bmsg){w, m.g, true, m.target};
                        }
                    }
                } else {
                    size_t h = d->next[c * n + m.g];
                    hop_ok(o, d, c, m.g, h);
                    assert_true(h != m.from);
                    q[tail++] = (struct bmsg){h, m.g, true, m.target};
                }
            }
            for (size_t g = 0; g < n; g++) {
                assert_int_equal(got[g], 1);
            }
        }
    }
}

/* A path w-x-y-z whose only backup is w-z: cutting x-y takes two hops
 * either way round (x, w, z and y, z, w); traffic from w for y reaches x
 * and has to go back to w (the OFPP_IN_PORT bucket). */
static void
test_detour_two_hops(void **state)
{
    (void) state;
    const char *clouds[] = {"z", "y", "x", "w"};
    const struct tunnels_cost costs[] = {
        {"w", "x", 1}, {"x", "y", 1}, {"y", "z", 1},
        {"w", "z", 5}, {"w", "y", 10}, {"x", "z", 10},
    };
    struct tunnels_overlay *o;
    assert_int_equal(tunnels_overlay_compute(TUNNELS_MST_BACKUP, clouds, 4, costs,
                                             6, NULL, 0, AUGMENT_AUTO, &o), 0);
    assert_int_equal(o->n_tunnels, 4);
    assert_true(has_role(o, "w", "z", TUNNELS_BACKUP));
    struct detour_table *d;
    assert_int_equal(tunnels_detours(o, &d), 0);
    assert_int_equal(d->n_cuts, 3);
    enum { W, X, Y, Z };
    const struct detour_cut *cut = &d->cuts[1];
    assert_string_equal(o->tunnels[cut->edge].a, "x");
    assert_string_equal(o->tunnels[cut->edge].b, "y");
    assert_int_equal(cut->a, X);
    assert_int_equal(cut->b, Y);
    assert_true(cut->survivable);
    assert_int_equal(cut->hops[1], 2);
    assert_int_equal(cut->hops[0], 2);
    assert_true(cut->cost[1] == 6.0);
    assert_int_equal(d->next[1 * 4 + X], W);
    assert_int_equal(d->next[1 * 4 + W], Z);
    assert_int_equal(d->next[1 * 4 + Y], Z);
    assert_int_equal(d->next[1 * 4 + Z], W);
    assert_int_equal(detour_next_hop(d, 1, X, Y), W);
    assert_int_equal(detour_next_hop(d, 1, Z, Y), Y);  /* arrived: the tree */
    assert_int_equal(detour_next_hop(d, 1, W, X), X);  /* same side: the tree */
    assert_int_equal(detour_next_hop(d, 1, Y, Y), DETOUR_NONE);
    assert_true(check_unicast(o, d) > 0);
    check_broadcast(o, d);
    detour_table_destroy(d);
    tunnels_overlay_destroy(o);

    /* mst alone: no cut survives. */
    assert_int_equal(tunnels_overlay_compute(TUNNELS_MST, clouds, 4, costs, 6,
                                             NULL, 0, AUGMENT_AUTO, &o), 0);
    assert_int_equal(o->n_unprotected, 3);
    assert_int_equal(tunnels_detours(o, &d), 0);
    for (size_t c = 0; c < d->n_cuts; c++) {
        assert_false(d->cuts[c].survivable);
    }
    check_unicast(o, d);
    detour_table_destroy(d);
    tunnels_overlay_destroy(o);
}

static void
test_detours_never_hairpin(void **state)
{
    (void) state;
    rng_state = 7;
    for (int g = 0; g < 60; g++) {
        size_t n = 2 + rng() % 13;
        enum tunnels_layout layout = g % 6 == 5 ? TUNNELS_FULL_MESH : TUNNELS_MST_BACKUP;
        struct tunnels_cost costs[MAXN * MAXN / 2];
        double cost[MAXN][MAXN];
        size_t n_costs = random_costs(n, g % 2 ? 4 : 100, costs, cost);
        struct tunnels_overlay *o;
        assert_int_equal(tunnels_overlay_compute(layout, NAMES, n, costs, n_costs,
                                                 NULL, 0, AUGMENT_AUTO, &o), 0);
        assert_int_equal(o->n_unprotected, n == 2 ? 1 : 0);
        struct detour_table *d;
        assert_int_equal(tunnels_detours(o, &d), 0);
        assert_int_equal(d->n_cuts, n - 1);
        check_unicast(o, d);
        check_broadcast(o, d);
        detour_table_destroy(d);
        tunnels_overlay_destroy(o);
    }
}

/* --- churn, gateways, names ---------------------------------------------- */

static void
count_changes(const struct tunnels_overlay *x, const struct tunnels_overlay *y,
              size_t counts[3])
{
    struct tunnels_change *ch;
    size_t n;
    assert_int_equal(tunnels_changes(x->tunnels, x->n_tunnels, y->tunnels,
                                     y->n_tunnels, &ch, &n), 0);
    counts[0] = counts[1] = counts[2] = 0;
    for (size_t i = 0; i < n; i++) {
        counts[ch[i].kind]++;
        if (i) {
            assert_true(ch[i - 1].kind <= ch[i].kind);  /* adds, retags, removes */
        }
    }
    free(ch);
}

/* A cost change that keeps the tree keeps every tunnel (cheaper tree
 * tunnels, every cost scaled); a change that swaps a tree tunnel with a
 * backup only retags; switching layouts only adds or only removes. */
static void
test_changes_keep_tunnels(void **state)
{
    (void) state;
    rng_state = 3;
    for (int g = 0; g < 20; g++) {
        size_t n = 3 + rng() % 14;
        struct tunnels_cost costs[MAXN * MAXN / 2];
        double cost[MAXN][MAXN];
        size_t n_costs = random_costs(n, 50, costs, cost);
        struct tunnels_overlay *before, *after;
        assert_int_equal(tunnels_overlay_compute(TUNNELS_MST_BACKUP, NAMES, n, costs,
                             n_costs, NULL, 0, AUGMENT_AUTO, &before), 0);
        for (size_t k = 0; k < n_costs; k++) {
            if (has_role(before, costs[k].a, costs[k].b, TUNNELS_TREE)
                || has_role(before, costs[k].b, costs[k].a, TUNNELS_TREE)) {
                costs[k].cost /= 2;
            }
        }
        assert_int_equal(tunnels_overlay_compute(TUNNELS_MST_BACKUP, NAMES, n, costs,
                             n_costs, before->tunnels, before->n_tunnels,
                             AUGMENT_AUTO, &after), 0);
        size_t counts[3];
        count_changes(before, after, counts);
        assert_int_equal(counts[TUNNELS_ADD] + counts[TUNNELS_RETAG]
                         + counts[TUNNELS_REMOVE], 0);
        tunnels_overlay_destroy(after);
        for (size_t k = 0; k < n_costs; k++) {
            costs[k].cost *= 3;
        }
        assert_int_equal(tunnels_overlay_compute(TUNNELS_MST_BACKUP, NAMES, n, costs,
                             n_costs, NULL, 0, AUGMENT_AUTO, &after), 0);
        count_changes(before, after, counts);
        assert_int_equal(counts[TUNNELS_ADD] + counts[TUNNELS_REMOVE], 0);
        tunnels_overlay_destroy(after);
        tunnels_overlay_destroy(before);
    }

    const char *abc[] = {"a", "b", "c"};
    struct tunnels_cost tri[] = {{"a", "b", 1}, {"b", "c", 2}, {"a", "c", 3}};
    struct tunnels_overlay *x, *y;
    assert_int_equal(tunnels_overlay_compute(TUNNELS_MST_BACKUP, abc, 3, tri, 3,
                                             NULL, 0, AUGMENT_AUTO, &x), 0);
    assert_true(has_role(x, "a", "c", TUNNELS_BACKUP));
    tri[2].cost = 1.5;
    assert_int_equal(tunnels_overlay_compute(TUNNELS_MST_BACKUP, abc, 3, tri, 3,
                                             NULL, 0, AUGMENT_AUTO, &y), 0);
    assert_true(has_role(y, "a", "c", TUNNELS_TREE));
    assert_true(has_role(y, "b", "c", TUNNELS_BACKUP));
    size_t counts[3];
    count_changes(x, y, counts);
    assert_int_equal(counts[TUNNELS_ADD], 0);
    assert_int_equal(counts[TUNNELS_RETAG], 2);
    assert_int_equal(counts[TUNNELS_REMOVE], 0);
    n_added = n_deleted = 0;
    tunnels_diff(x->tunnels, x->n_tunnels, y->tunnels, y->n_tunnels, count_add,
                 count_del, NULL);
    assert_int_equal(n_added + n_deleted, 0);
    tunnels_overlay_destroy(x);
    tunnels_overlay_destroy(y);

    /* mst -> mst+backup -> full-mesh -> mst over 9 clouds. */
    struct tunnels_overlay *l[4];
    const enum tunnels_layout seq[] = {TUNNELS_MST, TUNNELS_MST_BACKUP,
                                       TUNNELS_FULL_MESH, TUNNELS_MST};
    rng_state = 5;
    double cost[MAXN][MAXN];
    struct tunnels_cost costs[MAXN * MAXN / 2];
    size_t n_costs = random_costs(9, 20, costs, cost);
    for (int i = 0; i < 4; i++) {
        assert_int_equal(tunnels_overlay_compute(seq[i], NAMES, 9, costs, n_costs,
                                                 NULL, 0, AUGMENT_AUTO, &l[i]), 0);
    }
    count_changes(l[0], l[1], counts);
    assert_int_equal(counts[TUNNELS_ADD], l[1]->n_backup);
    assert_int_equal(counts[TUNNELS_RETAG] + counts[TUNNELS_REMOVE], 0);
    count_changes(l[1], l[2], counts);
    assert_int_equal(counts[TUNNELS_ADD], 36 - l[1]->n_tunnels);
    assert_int_equal(counts[TUNNELS_RETAG] + counts[TUNNELS_REMOVE], 0);
    count_changes(l[2], l[3], counts);
    assert_int_equal(counts[TUNNELS_REMOVE], 36 - 8);
    assert_int_equal(counts[TUNNELS_ADD] + counts[TUNNELS_RETAG], 0);
    for (int i = 0; i < 4; i++) {
        tunnels_overlay_destroy(l[i]);
    }
}

static void
test_gateway_pairs(void **state)
{
    (void) state;
    struct tunnels_gateway_pair p[TUNNELS_MAX_GATEWAYS * TUNNELS_MAX_GATEWAYS];
    assert_int_equal(tunnels_gateway_pairs(1, 1, p), 1);
    assert_int_equal(p[0].rank_a + p[0].rank_b, 0);
    assert_int_equal(tunnels_gateway_pairs(0, 1, p), 0);
    assert_int_equal(tunnels_gateway_pairs(3, 1, p), 0);
    for (unsigned ga = 1; ga <= 2; ga++) {
        for (unsigned gb = 1; gb <= 2; gb++) {
            size_t m = tunnels_gateway_pairs(ga, gb, p);
            assert_int_equal(m, ga * gb);
            /* Each gateway has exactly one first choice on the other side. */
            unsigned first_a[2] = {0}, first_b[2] = {0};
            for (size_t i = 0; i < m; i++) {
                first_a[p[i].ga] += p[i].rank_a == 0;
                first_b[p[i].gb] += p[i].rank_b == 0;
                assert_true(p[i].rank_a <= 1 && p[i].rank_b <= 1);
            }
            for (unsigned i = 0; i < ga; i++) {
                assert_int_equal(first_a[i], 1);
            }
            for (unsigned i = 0; i < gb; i++) {
                assert_int_equal(first_b[i], 1);
            }
        }
    }
    /* Two and two: gateway 0 with 0, 1 with 1 first; the crossed standby. */
    tunnels_gateway_pairs(2, 2, p);
    assert_int_equal(p[0].ga * 2 + p[0].gb, 0);
    assert_int_equal(p[0].rank_a, 0);
    assert_int_equal(p[1].rank_a, 1);
    assert_int_equal(p[3].rank_b, 0);

    const char *clouds[] = {"a", "b", "c", "d"};
    struct tunnels_overlay *o;
    assert_int_equal(tunnels_overlay_compute(TUNNELS_MST_BACKUP, clouds, 4, NULL, 0,
                                             NULL, 0, AUGMENT_AUTO, &o), 0);
    const unsigned one[] = {1, 1, 1, 1}, two[] = {2, 2, 2, 2}, mixed[] = {2, 1, 1, 1};
    assert_int_equal(tunnels_gateway_tunnels(o, one), 5);
    assert_int_equal(tunnels_gateway_tunnels(o, two), 20);
    /* a is on the three tree tunnels: 3 * 2 + 2 backups. */
    assert_int_equal(tunnels_gateway_tunnels(o, mixed), 8);
    tunnels_overlay_destroy(o);
}

static void
test_layout_names(void **state)
{
    (void) state;
    enum tunnels_layout l;
    const char *names[] = {"mst", "mst+backup", "full-mesh"};
    for (size_t i = 0; i < 3; i++) {
        assert_int_equal(tunnels_layout_parse(names[i], &l), 0);
        assert_string_equal(tunnels_layout_name(l), names[i]);
    }
    assert_int_equal(tunnels_layout_parse("mst+", &l), EINVAL);
    assert_int_equal(tunnels_layout_parse("", &l), EINVAL);
    assert_string_equal(tunnels_role_name(TUNNELS_TREE), "tree");
    assert_string_equal(tunnels_role_name(TUNNELS_BACKUP), "backup");
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_counts),
        cmocka_unit_test(test_mst_follows_costs),
        cmocka_unit_test(test_diff_minimal_churn),
        cmocka_unit_test(test_deterministic),
        cmocka_unit_test(test_backup_optimal_brute_force),
        cmocka_unit_test(test_backup_tie_breaks),
        cmocka_unit_test(test_greedy_valid_large),
        cmocka_unit_test(test_detour_two_hops),
        cmocka_unit_test(test_detours_never_hairpin),
        cmocka_unit_test(test_changes_keep_tunnels),
        cmocka_unit_test(test_gateway_pairs),
        cmocka_unit_test(test_layout_names),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
