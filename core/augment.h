/* augment.h: the cheapest links that make a spanning tree survive the loss
 * of any one of its edges (weighted tree augmentation).
 *
 * Nodes are 0..n-1; the tree is a spanning tree of them; the links are the
 * candidate edges not in the tree, each with a cost > 0.  Adding a link
 * (u, v) closes a cycle with the tree path u ~ v, so it "covers" the tree
 * edges of that path: removing any one of them leaves the nodes connected
 * through the link.  The tree plus a link set A is 2-edge-connected exactly
 * when A covers every tree edge (the tree edges are the only edges whose loss
 * can disconnect it), so choosing A is a weighted set cover of the tree edges
 * by the links' paths.  That problem is NP-hard in general; here n is the
 * number of clouds (tens), and two methods are offered:
 *
 *   exact      dynamic programming over the subsets of tree edges still to
 *              cover, branching on the links that cover the lowest one (every
 *              cover contains one of them): 2^k states for the k coverable
 *              tree edges, each trying the links that cover one edge, less
 *              those whose cover lies within a strictly cheaper link's (never
 *              in an optimal set).  Used up to AUGMENT_EXACT_MAX_NODES nodes
 *              (k <= 15: 2^15 states of 8 * (2 + ceil(links / 64)) bytes);
 *              each further node multiplies the time by about 2.5 to 3 (at
 *              16 nodes a few milliseconds, at 18 tens: BENCHMARKS.md), and
 *              the layout is recomputed on every change of the clouds.
 *   greedy     "greedy cover with reverse-delete": (1) repeatedly take the
 *              link of least cost per tree edge it newly covers; (2) for each
 *              tree edge in turn not yet covered, take its cheapest covering
 *              link; each candidate set is then pruned by dropping, most
 *              expensive first, every link whose tree edges all stay covered
 *              without it; the better of the two (in the order below) wins.
 *              O(n * links * n / 64) for (1): milliseconds at 64 nodes.  Its
 *              cost against the exact optimum is measured in BENCHMARKS.md.
 *
 * Order of link sets (the same for both methods): A is better than B when
 * its total cost is lower, then when it has fewer links, then when fewer of
 * its links are not marked 'kept' (the caller marks the links already
 * installed, so equal alternatives keep what exists), then when the
 * lowest-indexed link in which the two differ is in A.  The caller indexes
 * the links in name order, which makes the last rule "by name": of two sets
 * of the same size, the one whose sorted names compare first.  Every rule is
 * additive or, for the last, preserved by adding the same link to both sets,
 * so the dynamic programme finds the first set in this order (costs compared
 * as sums of doubles: two sets whose costs differ only by rounding are
 * ordered by their rounded sums).
 *
 * Tree edges that no link covers (bridges of tree + links: a node with one
 * candidate neighbour, or n = 2) are left uncovered and counted; everything
 * else is covered.
 *
 * Pure: no I/O, no global state. */
#ifndef SKYVISOR_CORE_AUGMENT_H
#define SKYVISOR_CORE_AUGMENT_H

#include <stdbool.h>
#include <stddef.h>

#define AUGMENT_EXACT_MAX_NODES 16

struct augment_edge {
    size_t u, v;        /* node indexes, u != v */
    double cost;        /* > 0 */
};

enum augment_method {
    AUGMENT_AUTO,       /* exact up to AUGMENT_EXACT_MAX_NODES, else greedy */
    AUGMENT_EXACT,
    AUGMENT_GREEDY,
};

struct augment_result {
    bool exact;             /* the exact method ran: the set is optimal */
    size_t n_chosen;        /* links set in 'chosen' */
    size_t n_uncovered;     /* tree edges no link covers */
    double cost;            /* total cost of the chosen links */
};

/* Chooses links[0..n_links) to cover the tree edges tree[0..n-1) (a spanning
 * tree of nodes 0..n-1).  kept may be NULL (no link preferred).  Writes
 * chosen[i] for every link and fills *res.  Returns 0; EINVAL if the tree
 * does not span the n nodes or an index is out of range; E2BIG if
 * AUGMENT_EXACT is asked above AUGMENT_EXACT_MAX_NODES; ENOMEM.  Borrows
 * every argument. */
int augment_compute(enum augment_method method, size_t n,
                    const struct augment_edge *tree,
                    const struct augment_edge *links, size_t n_links,
                    const bool *kept, bool *chosen, struct augment_result *res);

#endif
