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

int
wanff_plan(const struct netmodel *m, int g, struct wanff_plan *out)
{
    memset(out, 0, sizeof *out);
    if (m->layout != TUNNELS_MST_BACKUP || g < 0 || (size_t) g >= m->n_hosts
        || !m->hosts[g].gateway) {
        return 0;
    }
    struct nodes nd;
    struct detour_edge *e = malloc((m->n_tunnels + 1) * sizeof *e);
    int rc = nodes_of(m, &nd);
    size_t gi = rc ? DETOUR_NONE : node_by_host(&nd, g);
    size_t n_e = 0;
    for (size_t i = 0; !rc && e && i < m->n_tunnels; i++) {
        size_t u = node_by_name(&nd, m->tunnels[i].a), v = node_by_name(&nd, m->tunnels[i].b);
        if (u != DETOUR_NONE && v != DETOUR_NONE) {
            e[n_e++] = (struct detour_edge) {u, v, m->tunnels[i].cost,
                                             m->tunnels[i].role == TUNNELS_TREE};
        }
    }
    struct detour_table *t = NULL;
    if (!rc && !e) {
        rc = ENOMEM;
    }
    if (!rc && gi != DETOUR_NONE) {
        rc = detour_compute(nd.n, e, n_e, &t);
        rc = rc ? rc : fill(m, &nd, t, gi, out);
    }
    detour_table_destroy(t);
    free(e);
    free(nd.host);
    free(nd.name);
    if (rc) {
        wanff_plan_free(out);
    }
    return rc;
}

void
wanff_plan_free(struct wanff_plan *p)
{
    free(p->groups);
    free(p->rules);
    free(p->fan);
    memset(p, 0, sizeof *p);
}
