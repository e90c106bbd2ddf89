/* wanff.c: a gateway's fast-failover plan (see wanff.h).
 *
 * The node of a cloud is its rank among the clouds with a gateway, by
 * name; netmodel.tunnels name clouds, so each tunnel's ends are found by
 * name.  The detour table (core/detour.c) does the routing; this file only
 * reads it for one gateway. */
#include "core/wanff.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "core/detour.h"

struct nodes {
    size_t n;
    int *host;                      /* [node]: its gateway host */
    const char **name;              /* [node]: its cloud's name */
};

static int
cmp_name(const void *x, const void *y)
{
    return strcmp(*(const char *const *) x, *(const char *const *) y);
}

/* The clouds with a gateway, by name.  0 or ENOMEM. */
static int
nodes_of(const struct netmodel *m, struct nodes *nd)
{
    nd->n = 0;
    nd->host = malloc((m->n_clouds + 1) * sizeof *nd->host);
    nd->name = malloc((m->n_clouds + 1) * sizeof *nd->name);
    if (!nd->host || !nd->name) {
        return ENOMEM;
    }
    for (size_t c = 0; c < m->n_clouds; c++) {
        if (m->clouds[c].gateway >= 0) {
            nd->name[nd->n++] = m->clouds[c].o.name;
        }
    }
    qsort(nd->name, nd->n, sizeof *nd->name, cmp_name);
    for (size_t i = 0; i < nd->n; i++) {
        for (size_t c = 0; c < m->n_clouds; c++) {
            if (!strcmp(m->clouds[c].o.name, nd->name[i])) {
                nd->host[i] = m->clouds[c].gateway;
            }
        }
    }
    return 0;
}

static size_t
node_by_name(const struct nodes *nd, const char *name)
{
    const char **p = bsearch(&name, nd->name, nd->n, sizeof *nd->name, cmp_name);
    return p ? (size_t) (p - nd->name) : DETOUR_NONE;
}

static size_t
node_by_host(const struct nodes *nd, int h)
{
    for (size_t i = 0; i < nd->n; i++) {
        if (nd->host[i] == h) {
            return i;
        }
    }
    return DETOUR_NONE;
}

/* Whether hosts x and y share a tree tunnel (netmodel.adj holds the
 * tree's, the backups are in backup_adj). */
static bool
tree_neighbours(const struct netmodel *m, int x, int y)
{
    for (const int *p = m->adj[x]; *p >= 0; p++) {
        if (*p == y) {
            return true;
        }
    }
    return false;
}

/* Fills 'out' from detour table 't' for node gi. */
static int
fill(const struct netmodel *m, const struct nodes *nd, const struct detour_table *t,
     size_t gi, struct wanff_plan *out)
{
    size_t n = t->n;
    int g = nd->host[gi];
    out->groups = calloc(t->n_cuts + 1, sizeof *out->groups);
    out->rules = calloc(2 * t->n_cuts + 1, sizeof *out->rules);
    out->fan = malloc((2 * t->n_cuts * n + 1) * sizeof *out->fan);
    if (!out->groups || !out->rules || !out->fan) {
        return ENOMEM;
    }
    for (size_t c = 0; c < t->n_cuts; c++) {
        const struct detour_cut *cut = &t->cuts[c];
        const unsigned char *side = &t->side[c * n];
        size_t nx = t->next[c * n + gi];
        if (gi == cut->a || gi == cut->b) {
            uint32_t target = gi == cut->a;     /* toward the far end's side */
            struct wanff_group *gr = &out->groups[out->n_groups++];
            gr->mark = 1 + 2 * (uint32_t) c + target;
            gr->id = WANFF_GROUP_BASE + gr->mark;
            gr->peer = nd->host[gi == cut->a ? cut->b : cut->a];
            gr->backup = cut->survivable && nx != DETOUR_NONE ? nd->host[nx] : -1;
            gr->backup_is_tree = gr->backup >= 0 && tree_neighbours(m, g, gr->backup);
        }
        for (uint32_t target = 0; target < 2; target++) {
            struct wanff_rule *r = &out->rules[out->n_rules++];
            r->mark = 1 + 2 * (uint32_t) c + target;
            if (side[gi] != target) {
                r->kind = WANFF_TRANSIT;
                r->next = cut->survivable && nx != DETOUR_NONE ? nd->host[nx] : -1;
            } else {
                r->kind = WANFF_ARRIVE;
                r->next = -1;
                r->end = nd->host[target ? cut->b : cut->a];
                r->fan_start = out->n_fan;
                for (size_t k = t->fan_start[c * n + gi]; k < t->fan_start[c * n + gi + 1];
                     k++) {
                    out->fan[out->n_fan++] = nd->host[t->fan[k]];
                }
                r->n_fan = out->n_fan - r->fan_start;
            }
        }
    }
    return 0;
}

/* The gateways' nodes and the detour table of m's overlay.  0 with *tp
 * NULL when the layout is not mst+backup or the tree does not span
 * (EINVAL from detour_compute: plain outputs); ENOMEM.  The caller frees
 * nd's arrays and *tp either way. */
static int
prepare(const struct netmodel *m, struct nodes *nd, struct detour_table **tp)
{
    *tp = NULL;
    memset(nd, 0, sizeof *nd);
    if (m->layout != TUNNELS_MST_BACKUP) {
        return 0;
    }
    struct detour_edge *e = malloc((m->n_tunnels + 1) * sizeof *e);
    int rc = e ? nodes_of(m, nd) : ENOMEM;
    size_t n_e = 0;
    for (size_t i = 0; !rc && i < m->n_tunnels; i++) {
        size_t u = node_by_name(nd, m->tunnels[i].a), v = node_by_name(nd, m->tunnels[i].b);
        if (u != DETOUR_NONE && v != DETOUR_NONE) {
            e[n_e++] = (struct detour_edge) {u, v, m->tunnels[i].cost,
                                             m->tunnels[i].role == TUNNELS_TREE};
        }
    }
    rc = rc ? rc : detour_compute(nd->n, e, n_e, tp);
    free(e);
    return rc;
}

static void
nodes_free(struct nodes *nd)
{
    free(nd->host);
    free(nd->name);
}

int
wanff_plan(const struct netmodel *m, int g, struct wanff_plan *out)
{
    memset(out, 0, sizeof *out);
    if (m->layout != TUNNELS_MST_BACKUP || g < 0 || (size_t) g >= m->n_hosts
        || !m->hosts[g].gateway) {
        return 0;
    }
    struct nodes nd;
    struct detour_table *t = NULL;
    int rc = prepare(m, &nd, &t);
    size_t gi = rc ? DETOUR_NONE : node_by_host(&nd, g);
    if (!rc && t && gi != DETOUR_NONE) {
        rc = fill(m, &nd, t, gi, out);
    }
    detour_table_destroy(t);
    nodes_free(&nd);
    if (rc) {
        wanff_plan_free(out);
    }
    return rc;
}

struct wanff_plans {
    unsigned int refs;
    size_t n;                       /* hosts */
    struct wanff_plan *plan;        /* [host] */
};

int
wanff_plans_build(const struct netmodel *m, struct wanff_plans **out)
{
    *out = NULL;
    struct wanff_plans *p = calloc(1, sizeof *p);
    if (!p || !(p->plan = calloc(m->n_hosts ? m->n_hosts : 1, sizeof *p->plan))) {
        free(p);
        return ENOMEM;
    }
    p->refs = 1;
    p->n = m->n_hosts;
    struct nodes nd;
    struct detour_table *t = NULL;
    int rc = prepare(m, &nd, &t);
    if (rc == EINVAL) {
        rc = 0;                     /* no spanning tree: plain outputs */
    }
    for (size_t gi = 0; !rc && t && gi < nd.n; gi++) {
        int g = nd.host[gi];
        if (g >= 0 && (size_t) g < m->n_hosts && m->hosts[g].gateway) {
            rc = fill(m, &nd, t, gi, &p->plan[g]);
        }
    }
    detour_table_destroy(t);
    nodes_free(&nd);
    if (rc) {
        wanff_plans_unref(p);
        return rc;
    }
    *out = p;
    return 0;
}

struct wanff_plans *
wanff_plans_ref(struct wanff_plans *p)
{
    if (p) {
        p->refs++;
    }
    return p;
}

void
wanff_plans_unref(struct wanff_plans *p)
{
    if (!p || --p->refs) {
        return;
    }
    for (size_t i = 0; i < p->n; i++) {
        wanff_plan_free(&p->plan[i]);
    }
    free(p->plan);
    free(p);
}

const struct wanff_plan *
wanff_plans_get(const struct wanff_plans *p, int g)
{
    static const struct wanff_plan empty;
    return p && g >= 0 && (size_t) g < p->n ? &p->plan[g] : &empty;
}

void
wanff_plan_free(struct wanff_plan *p)
{
    free(p->groups);
    free(p->rules);
    free(p->fan);
    memset(p, 0, sizeof *p);
}
