/* tunnels.h: the inter-cloud tunnel layout.
 *
 * Each cloud reaches the others only through its gateway (one public address
 * per cloud, as in the seed paper); gateways are joined either by a minimum
 * spanning tree of the WAN (clouds - 1 tunnels, weighted by the operator's
 * cloud-link costs, default 1) or by a full mesh (clouds * (clouds - 1) / 2
 * tunnels, the paper's baseline).  Pure: the caller passes the clouds and the
 * costs it loaded, gets the tunnel set, and tunnels_diff() says which tunnels
 * to add and which to remove to go from the installed set to the new one, so
 * adding or removing a cloud touches only the tunnels that must change.
 *
 * Determinism: equal costs are broken by the cloud names, so the same input
 * always gives the same tree (the reconciler relies on it to be idempotent). */
#ifndef SKYVISOR_CORE_TUNNELS_H
#define SKYVISOR_CORE_TUNNELS_H

#include <stdbool.h>
#include <stddef.h>

enum tunnels_layout { TUNNELS_MST, TUNNELS_FULL_MESH };

struct tunnels_cost {
    const char *a, *b;      /* cloud names, either order */
    double cost;            /* > 0 */
};

/* An undirected tunnel between two clouds, stored with a < b (strcmp). */
struct tunnel {
    const char *a, *b;      /* point into the caller's cloud names */
    double cost;
};

/* Computes the tunnels joining clouds[0..n) (distinct names).  Costs not
 * listed default to 1; costs naming unknown clouds are ignored.  On success
 * returns 0 and a malloc'ed array in *out (caller frees) with *n_out tunnels
 * sorted by (a, b); ENOMEM on allocation failure. */
int tunnels_compute(enum tunnels_layout layout, const char *const *clouds,
                    size_t n, const struct tunnels_cost *costs, size_t n_costs,
                    struct tunnel **out, size_t *n_out);

/* Compares two tunnel sets (each sorted by (a, b), as tunnels_compute
 * returns them): calls add() for each tunnel only in 'next' and del() for
 * each only in 'cur'.  Tunnels are equal when their endpoints are (the cost
 * only weighs the choice). */
void tunnels_diff(const struct tunnel *cur, size_t n_cur,
                  const struct tunnel *next, size_t n_next,
                  void (*add)(const struct tunnel *, void *),
                  void (*del)(const struct tunnel *, void *), void *aux);

/* Total cost of a tunnel set. */
double tunnels_total_cost(const struct tunnel *t, size_t n);

#endif
