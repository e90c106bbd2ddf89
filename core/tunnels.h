/* tunnels.h: the inter-cloud tunnel layout.
 *
 * Each cloud reaches the others only through its gateway; gateways are
 * joined by one of three layouts (the operator's cloud-link costs weigh
 * every pair, default 1):
 *
 *   mst          a minimum spanning tree of the WAN: clouds - 1 tunnels, all
 *                of role tree; any one lost tunnel splits the clouds in two.
 *   mst+backup   the same tree plus the backup tunnels that keep every cloud
 *                reachable after the loss of any one tunnel: the cheapest set
 *                of other pairs that makes the overlay 2-edge-connected
 *                (core/augment.h: exact up to AUGMENT_EXACT_MAX_NODES clouds,
 *                the greedy-cover heuristic above).  Backups carry nothing
 *                while the tree is whole; tunnels_detours() says how traffic
 *                uses them when a tree tunnel is down (core/detour.h).
 *   full-mesh    every pair: clouds * (clouds - 1) / 2 tunnels, the tree's of
 *                role tree, the others backup.
 *
 * Roles: a tree tunnel carries traffic in normal operation (the tree is the
 * one broadcast tree and the unicast path); a backup tunnel only carries
 * detoured traffic.
 *
 * Choices and ties.  The tree is Kruskal's over (cost, then kept, then the
 * pair's names); the backups minimise their total cost, then their number,
 * then how many are not kept, then by name (core/augment.h has the exact
 * rule).  "Kept" tunnels are those the caller passes as already installed:
 * among equal alternatives the installed ones stay, so recomputing from what
 * is installed gives it back (the reconciler relies on the result being a
 * function of its inputs: the same clouds, costs and installed set always
 * give the same layout).  Without a kept set the names decide every tie.
 *
 * Churn.  tunnels_changes() lists what to add, retag and remove to go from
 * one layout to the next, so adding a cloud or changing a cost touches only
 * the tunnels that must change: a cost change that keeps the tree keeps
 * every tunnel when the backups' costs did not change, since the backups
 * depend only on the tree and the other pairs' costs.
 *
 * Two gateways per cloud.  The layout is between clouds.  A cloud may have
 * up to TUNNELS_MAX_GATEWAYS gateways, each with its own public address; an
 * overlay edge between clouds with g_a and g_b gateways carries g_a * g_b
 * tunnels, one per gateway pair (4 when both have two): every gateway keeps
 * a direct tunnel to every gateway of each adjacent cloud, so the death of
 * one gateway needs no detour through a third cloud: the peers' buckets for
 * that cloud fall from the dead gateway to its twin (and the workers, which
 * tunnel to both gateways of their cloud, fall to the other one).
 * tunnels_gateway_pairs() lists the pairs with each side's preference (each
 * gateway prefers the peer of the same ordinal, else the first); the
 * datapath's fast-failover buckets at a gateway toward an adjacent cloud are
 * its rank-0 peer, its rank-1 peer, then the cloud-level detour of that edge
 * (taken when every tunnel of the edge from this gateway is down).  A
 * gateway ordinal is the gateway's position in its cloud, the caller's
 * order (by host name, say).
 *
 * Pure: the caller passes the clouds and costs it loaded; no I/O. */
#ifndef SKYVISOR_CORE_TUNNELS_H
#define SKYVISOR_CORE_TUNNELS_H

#include <stdbool.h>
#include <stddef.h>

#include "core/augment.h"
#include "core/detour.h"

enum tunnels_layout { TUNNELS_MST, TUNNELS_FULL_MESH, TUNNELS_MST_BACKUP };

enum tunnels_role { TUNNELS_TREE, TUNNELS_BACKUP };

struct tunnels_cost {
    const char *a, *b;      /* cloud names, either order */
    double cost;            /* > 0 */
};

/* An undirected tunnel between two clouds, stored with a < b (strcmp). */
struct tunnel {
    const char *a, *b;      /* point into the caller's cloud names */
    double cost;
    enum tunnels_role role;
};

/* "mst", "mst+backup", "full-mesh" to the layout: 0, or EINVAL. */
int tunnels_layout_parse(const char *s, enum tunnels_layout *out);

/* The names back (static strings): the layout's, a role's ("tree",
 * "backup"). */
const char *tunnels_layout_name(enum tunnels_layout layout);
const char *tunnels_role_name(enum tunnels_role role);

/* A computed layout.  Owns its arrays; the names point into the caller's. */
struct tunnels_overlay {
    enum tunnels_layout layout;
    size_t n_clouds;
    const char **clouds;        /* sorted by name: the cloud indexes below */
    struct tunnel *tunnels;     /* sorted by (a, b) */
    size_t n_tunnels;
    size_t (*ends)[2];          /* [t]: cloud indexes of tunnels[t].a, .b */
    size_t n_tree, n_backup;
    bool exact;                 /* mst+backup: the backups are optimal */
    size_t n_unprotected;       /* tree tunnels without any way around
                                 * (fewer than three clouds) */
    double tree_cost, backup_cost;
};

/* Computes the layout of clouds[0..n) (distinct names).  Costs not listed
 * default to 1; costs naming unknown clouds or not > 0 are ignored.  kept
 * (n_kept tunnels, matched by names, any order; may be NULL) are preferred
 * among equal choices.  method picks the backups' algorithm (AUGMENT_AUTO
 * normally).  Returns 0 and the layout in *out (caller destroys);
 * ENOMEM; E2BIG for AUGMENT_EXACT above AUGMENT_EXACT_MAX_NODES clouds.
 * Borrows its arguments. */
int tunnels_overlay_compute(enum tunnels_layout layout,
                            const char *const *clouds, size_t n,
                            const struct tunnels_cost *costs, size_t n_costs,
                            const struct tunnel *kept, size_t n_kept,
                            enum augment_method method,
                            struct tunnels_overlay **out);

void tunnels_overlay_destroy(struct tunnels_overlay *o);

/* The detours of the overlay's tree tunnels (core/detour.h): node i is
 * o->clouds[i], cut c the c-th tree tunnel in o->tunnels order, and
 * cuts[c].edge its index in o->tunnels.  Caller destroys with
 * detour_table_destroy().  0 or ENOMEM. */
int tunnels_detours(const struct tunnels_overlay *o, struct detour_table **out);

/* Computes the tunnels joining clouds[0..n): tunnels_overlay_compute()
 * without a kept set, the tunnels only.  On success returns 0 and a
 * malloc'ed array in *out (caller frees) with *n_out tunnels sorted by
 * (a, b); ENOMEM on allocation failure. */
int tunnels_compute(enum tunnels_layout layout, const char *const *clouds,
                    size_t n, const struct tunnels_cost *costs, size_t n_costs,
                    struct tunnel **out, size_t *n_out);

/* Compares two tunnel sets (each sorted by (a, b), as tunnels_compute
 * returns them): calls add() for each tunnel only in 'next' and del() for
 * each only in 'cur'.  Tunnels are equal when their endpoints are (the cost
 * only weighs the choice, the role only decides the flows). */
void tunnels_diff(const struct tunnel *cur, size_t n_cur,
                  const struct tunnel *next, size_t n_next,
                  void (*add)(const struct tunnel *, void *),
                  void (*del)(const struct tunnel *, void *), void *aux);

enum tunnels_change_kind {
    TUNNELS_ADD,        /* only in next: create the tunnel */
    TUNNELS_RETAG,      /* in both, the role changed: flows only */
    TUNNELS_REMOVE,     /* only in cur: delete it */
};

struct tunnels_change {
    enum tunnels_change_kind kind;
    const struct tunnel *tunnel;    /* in next (ADD, RETAG), in cur (REMOVE) */
};

/* The changes from cur to next (both sorted by (a, b)), every ADD first,
 * then every RETAG, then every REMOVE (make before break), each group in
 * (a, b) order.  Returns 0 and a malloc'ed array in *out (caller frees;
 * its entries point into cur and next), or ENOMEM. */
int tunnels_changes(const struct tunnel *cur, size_t n_cur,
                    const struct tunnel *next, size_t n_next,
                    struct tunnels_change **out, size_t *n_out);

/* Total cost of a tunnel set. */
double tunnels_total_cost(const struct tunnel *t, size_t n);

#define TUNNELS_MAX_GATEWAYS 2

/* One tunnel of an overlay edge (a, b) between gateway ga of cloud a and
 * gateway gb of cloud b; rank_a is gb's rank among ga's peers in b (0 the
 * first choice, 1 the standby), rank_b the other way round. */
struct tunnels_gateway_pair {
    unsigned ga, gb;
    unsigned rank_a, rank_b;
};

/* The gateway pairs of an edge between clouds with n_gw_a and n_gw_b
 * gateways, ga-major: n_gw_a * n_gw_b of them in out[] (room for
 * TUNNELS_MAX_GATEWAYS^2).  Returns the count, 0 when a count is 0 or above
 * TUNNELS_MAX_GATEWAYS. */
size_t tunnels_gateway_pairs(unsigned n_gw_a, unsigned n_gw_b,
                             struct tunnels_gateway_pair *out);

/* The number of gateway-to-gateway tunnels that realise the overlay when
 * cloud i has n_gw[i] gateways (indexed like o->clouds). */
size_t tunnels_gateway_tunnels(const struct tunnels_overlay *o,
                               const unsigned *n_gw);

#endif
