/* overlay.c: `make bench-overlay`, the inter-cloud layouts side by side.
 *
 * For 4 to 64 clouds: the tunnels and total cost of mst, mst+backup (the
 * exact method where it applies, the greedy cover everywhere) and
 * full-mesh, and the time to compute each (core/tunnels.c, plus the detours
 * of mst+backup, core/detour.c).  Two cost models: clouds as random points
 * in a 1000 x 1000 square, a link costing its length (distinct costs, the
 * WAN-like case), and every link costing 1 (the default when no cloud-link
 * cost is set, where ties decide everything).  Each row is the mean over
 * SEEDS instances; a time is the mean of repeated calls over >= 20 ms.
 * Prints Markdown. */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/tunnels.h"

#define MAX_CLOUDS 64
#define SEEDS 8

static uint64_t rng_state;

static double
uniform(void)
{
    rng_state = rng_state * 6364136223846793005ull + 1442695040888963407ull;
    return (double) (rng_state >> 11) / 9007199254740992.0;
}

static double
now_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1e6 + ts.tv_nsec / 1e3;
}

struct instance {
    size_t n;
    const char *names[MAX_CLOUDS];
    struct tunnels_cost costs[MAX_CLOUDS * MAX_CLOUDS / 2];
    size_t n_costs;
};

struct measure {
    double us;              /* per call */
    size_t tunnels;
    double cost;
    bool exact;
};

/* Computes the layout repeatedly for >= 20 ms; with 'detours', only the
 * detours of one layout are repeated. */
static int
measure(const struct instance *in, enum tunnels_layout layout,
        enum augment_method method, bool detours, struct measure *m)
{
    if (detours) {
        struct tunnels_overlay *o;
        int error = tunnels_overlay_compute(layout, in->names, in->n, in->costs,
                                            in->n_costs, NULL, 0, method, &o);
        double start = now_us(), end;
        size_t calls = 0;
        do {
            struct detour_table *d = NULL;
            error = error ? error : tunnels_detours(o, &d);
            detour_table_destroy(d);
            calls++;
            end = now_us();
        } while (!error && end - start < 20000);
        tunnels_overlay_destroy(o);
        m->us = (end - start) / (double) calls;
        return error;
    }
    double start = now_us(), end;
    size_t calls = 0;
    do {
        struct tunnels_overlay *o;
        int error = tunnels_overlay_compute(layout, in->names, in->n, in->costs,
                                            in->n_costs, NULL, 0, method, &o);
        if (error) {
            return error;
        }
        m->tunnels = o->n_tunnels;
        m->cost = o->tree_cost + o->backup_cost;
        m->exact = o->exact;
        tunnels_overlay_destroy(o);
        calls++;
        end = now_us();
    } while (end - start < 20000);
    m->us = (end - start) / (double) calls;
    return 0;
}

static char names_buf[MAX_CLOUDS][8];

static void
make_instance(struct instance *in, size_t n, bool euclid, uint64_t seed)
{
    double x[MAX_CLOUDS], y[MAX_CLOUDS];
    rng_state = seed * 7919 + n;
    in->n = n;
    in->n_costs = 0;
    for (size_t i = 0; i < n; i++) {
        in->names[i] = names_buf[i];
        x[i] = 1000 * uniform();
        y[i] = 1000 * uniform();
    }
    for (size_t i = 0; euclid && i < n; i++) {
        for (size_t j = i + 1; j < n; j++) {
            double d = hypot(x[i] - x[j], y[i] - y[j]);
            in->costs[in->n_costs++] = (struct tunnels_cost){
                in->names[i], in->names[j], d > 1 ? d : 1};
        }
    }
}

enum { MST, EXACT, GREEDY, MESH, N_RUNS };

int
main(void)
{
    static const size_t sizes[] = {4, 8, 16, 32, 64};
    for (size_t i = 0; i < MAX_CLOUDS; i++) {
        snprintf(names_buf[i], sizeof names_buf[i], "c%02zu", i);
    }
    for (int euclid = 1; euclid >= 0; euclid--) {
        printf("\n%s costs, mean of %d instances per row\n\n",
               euclid ? "Euclidean" : "Unit (default)", SEEDS);
        printf("| clouds | mst: tunnels, cost, us | mst+backup exact: tunnels, cost, us"
               " | mst+backup greedy: tunnels, cost, us | full-mesh: tunnels, cost, us"
               " | greedy / exact cost | mst+backup / mst cost | full-mesh / mst+backup cost"
               " | detours of mst+backup, us |\n");
        printf("|---|---|---|---|---|---|---|---|---|\n");
        for (size_t s = 0; s < sizeof sizes / sizeof *sizes; s++) {
            size_t n = sizes[s];
            struct measure sum[N_RUNS] = {{0}};
            double det_us = 0;
            bool have_exact = n <= AUGMENT_EXACT_MAX_NODES;
            for (uint64_t seed = 1; seed <= SEEDS; seed++) {
                static struct instance in;
                make_instance(&in, n, euclid, seed);
                struct measure m[N_RUNS], with_detours;
                if (measure(&in, TUNNELS_MST, AUGMENT_AUTO, false, &m[MST])
                    || (have_exact && measure(&in, TUNNELS_MST_BACKUP, AUGMENT_EXACT,
                                              false, &m[EXACT]))
                    || measure(&in, TUNNELS_MST_BACKUP, AUGMENT_GREEDY, false,
                               &m[GREEDY])
                    || measure(&in, TUNNELS_FULL_MESH, AUGMENT_AUTO, false, &m[MESH])
                    || measure(&in, TUNNELS_MST_BACKUP, AUGMENT_AUTO, true,
                               &with_detours)) {
                    fprintf(stderr, "bench-overlay: out of memory\n");
                    return 1;
                }
                for (int r = 0; r < N_RUNS; r++) {
                    if (r == EXACT && !have_exact) {
                        continue;
                    }
                    sum[r].us += m[r].us / SEEDS;
                    sum[r].tunnels += m[r].tunnels;
                    sum[r].cost += m[r].cost / SEEDS;
                }
                det_us += with_detours.us / SEEDS;
            }
            printf("| %zu |", n);
            for (int r = 0; r < N_RUNS; r++) {
                if (r == EXACT && !have_exact) {
                    printf(" (above %d) |", AUGMENT_EXACT_MAX_NODES);
                    continue;
                }
                printf(" %.1f, %.0f, %.0f |", (double) sum[r].tunnels / SEEDS,
                       sum[r].cost, sum[r].us);
            }
            const struct measure *best = have_exact ? &sum[EXACT] : &sum[GREEDY];
            if (have_exact) {
                printf(" %.3f |", sum[GREEDY].cost / sum[EXACT].cost);
            } else {
                printf(" - |");
            }
            printf(" %.2f | %.2f | %.0f |\n", best->cost / sum[MST].cost,
                   sum[MESH].cost / best->cost, det_us);
        }
    }
    return 0;
}
