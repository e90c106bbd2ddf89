/* netmodel.c: components, the overlay, and per-bridge ports and flows.
 * The design is described in netmodel.h; this file keeps to it. */
#include "core/netmodel.h"
#include "core/hash.h"
#include "core/meters.h"
#include "core/packet.h"
#include "core/uf.h"
#include "core/wanff.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define META_COMP_MASK 0xffffffff00000000ull
#define META_PORT_MASK 0x00000000ffffffffull

void
netmodel_init(struct netmodel *m)
{
    memset(m, 0, sizeof *m);
}

static void
free_obj(struct nm_obj *o)
{
    free(o->detail);
}

static void
free_lists(int **lists, size_t n)
{
    if (lists) {
        for (size_t i = 0; i < n; i++) {
            free(lists[i]);
        }
        free(lists);
    }
}

void
netmodel_free(struct netmodel *m)
{
    for (size_t i = 0; i < m->n_clouds; i++) free_obj(&m->clouds[i].o);
    for (size_t i = 0; i < m->n_hosts; i++) free_obj(&m->hosts[i].o);
    for (size_t i = 0; i < m->n_tenants; i++) free_obj(&m->tenants[i].o);
    for (size_t i = 0; i < m->n_networks; i++) free_obj(&m->networks[i].o);
    for (size_t i = 0; i < m->n_switches; i++) free_obj(&m->switches[i].o);
    for (size_t i = 0; i < m->n_links; i++) free_obj(&m->links[i].o);
    for (size_t i = 0; i < m->n_vms; i++) free_obj(&m->vms[i].o);
    free(m->clouds);
    free(m->hosts);
    free(m->tenants);
    free(m->networks);
    free(m->switches);
    free(m->links);
    free(m->vms);
    free(m->cloudlinks);
    free(m->tunnels);
    free_lists(m->adj, m->n_hosts);
    free_lists(m->backup_adj, m->n_hosts);
    free(m->dist);
    free_lists(m->vms_on_host, m->n_hosts);
    free(m->vm_comp);
    free_lists(m->comp_vms, m->n_comps);
    free(m->comp_hosts);
    free(m->comp_name);
    free(m->mig_vms);
    free(m->shift_gone);
    free(m->shift_new);
    ctlset_unref(m->ctl);
    wanff_plans_unref(m->ff);
    memset(m, 0, sizeof *m);
}

/* --- components --- */

static int
finish_components(struct netmodel *m)
{
    size_t ns = m->n_switches;
    size_t *parent = malloc((ns ? ns : 1) * sizeof *parent);
    size_t *size = malloc((ns ? ns : 1) * sizeof *size);
    int *dense = malloc((ns ? ns : 1) * sizeof *dense);
    if (!parent || !size || !dense) {
        free(parent);
        free(size);
        free(dense);
        return ENOMEM;
    }
    struct uf uf;
    uf_init(&uf, ns, parent, size);
    for (size_t i = 0; i < ns; i++) {
        dense[i] = -1;
    }
    for (size_t i = 0; i < m->n_links; i++) {
        const struct nm_link *l = &m->links[i];
        if (l->a >= 0 && l->b >= 0) {
            uf_union(&uf, (size_t) l->a, (size_t) l->b);
        }
    }
    /* Name = the smallest seq of the component; dense index in order of
     * each component's first switch. */
    size_t nc = 0;
    for (size_t i = 0; i < ns; i++) {
        size_t r = uf_find(&uf, i);
        if (dense[r] < 0) {
            dense[r] = (int) nc++;
        }
    }
    m->n_comps = nc;
    m->comp_name = calloc(nc ? nc : 1, sizeof *m->comp_name);
    m->comp_hosts = calloc((nc ? nc : 1) * (m->n_hosts ? m->n_hosts : 1), 1);
    m->comp_vms = calloc(nc ? nc : 1, sizeof *m->comp_vms);
    m->vm_comp = malloc((m->n_vms ? m->n_vms : 1) * sizeof *m->vm_comp);
    size_t *count = calloc(nc ? nc : 1, sizeof *count);
    if (!m->comp_name || !m->comp_hosts || !m->comp_vms || !m->vm_comp || !count) {
        free(count);
        free(parent);
        free(size);
        free(dense);
        return ENOMEM;
    }
    for (size_t i = 0; i < ns; i++) {
        int c = dense[uf_find(&uf, i)];
        uint32_t seq = m->switches[i].seq;
        if (!m->comp_name[c] || seq < m->comp_name[c]) {
            m->comp_name[c] = seq;
        }
    }
    for (size_t i = 0; i < ns; i++) {
        m->switches[i].comp = m->comp_name[dense[uf_find(&uf, i)]];
    }
    for (size_t v = 0; v < m->n_vms; v++) {
        const struct nm_vm *vm = &m->vms[v];
        int c = vm->sw >= 0 && vm->host >= 0 ? dense[uf_find(&uf, (size_t) vm->sw)] : -1;
        m->vm_comp[v] = c;
        if (c >= 0) {
            count[c]++;
            m->comp_hosts[(size_t) c * m->n_hosts + (size_t) vm->host] = 1;
        }
    }
    int rc = 0;
    for (size_t c = 0; c < nc && !rc; c++) {
        m->comp_vms[c] = malloc((count[c] + 1) * sizeof **m->comp_vms);
        if (!m->comp_vms[c]) {
            rc = ENOMEM;
            break;
        }
        m->comp_vms[c][0] = -1;
        count[c] = 0;
    }
    for (size_t v = 0; v < m->n_vms && !rc; v++) {
        int c = m->vm_comp[v];
        if (c >= 0) {
            m->comp_vms[c][count[c]++] = (int) v;
            m->comp_vms[c][count[c]] = -1;
        }
    }
    free(count);
    free(parent);
    free(size);
    free(dense);
    return rc;
}

/* --- overlay --- */

static int
add_edge(int **adj, size_t *deg, int a, int b)
{
    for (size_t i = 0; i < deg[a]; i++) {
        if (adj[a][i] == b) {
            return 0;
        }
    }
    int *grown = realloc(adj[a], (deg[a] + 2) * sizeof *grown);
    if (!grown) {
        return ENOMEM;
    }
    adj[a] = grown;
    adj[a][deg[a]++] = b;
    adj[a][deg[a]] = -1;
    return 0;
}

static int
cmp_int(const void *a, const void *b)
{
    int x = *(const int *) a, y = *(const int *) b;
    return (x > y) - (x < y);
}

/* Whether m->tunnels[t] is a backup tunnel kept out of the forwarding
 * overlay: mst+backup's (full-mesh forwards over every tunnel). */
static bool
is_backup(const struct netmodel *m, size_t t)
{
    return m->layout == TUNNELS_MST_BACKUP && m->tunnels[t].role == TUNNELS_BACKUP;
}

/* The gateway of the cloud named 'name', -1 if none. */
static int
gateway_of(const struct netmodel *m, const char *name)
{
    for (size_t c = 0; c < m->n_clouds; c++) {
        if (!strcmp(m->clouds[c].o.name, name)) {
            return m->clouds[c].gateway;
        }
    }
    return -1;
}

/* Fills m->backup_adj from the backup tunnels (is_backup).  0 or ENOMEM. */
static int
finish_backups(struct netmodel *m)
{
    size_t nh = m->n_hosts;
    size_t *deg = calloc(nh ? nh : 1, sizeof *deg);
    m->backup_adj = calloc(nh ? nh : 1, sizeof *m->backup_adj);
    int rc = !deg || !m->backup_adj ? ENOMEM : 0;
    for (size_t h = 0; h < nh && !rc; h++) {
        m->backup_adj[h] = malloc(sizeof **m->backup_adj);
        rc = m->backup_adj[h] ? 0 : ENOMEM;
        if (!rc) {
            m->backup_adj[h][0] = -1;
        }
    }
    for (size_t t = 0; t < m->n_tunnels && !rc; t++) {
        int ga = gateway_of(m, m->tunnels[t].a), gb = gateway_of(m, m->tunnels[t].b);
        if (is_backup(m, t) && ga >= 0 && gb >= 0) {
            rc = add_edge(m->backup_adj, deg, ga, gb);
            rc = rc ? rc : add_edge(m->backup_adj, deg, gb, ga);
        }
    }
    for (size_t h = 0; h < nh && !rc; h++) {
        qsort(m->backup_adj[h], deg[h], sizeof *m->backup_adj[h], cmp_int);
    }
    free(deg);
    return rc;
}

/* m->tunnels as 'same' has them: 'same' has m's clouds, hosts and cloud
 * links (netmodel_apply_vms copied them), so its tunnels are m's; their
 * cloud names are pointed at m's own copies.  0 or ENOMEM. */
static int
copy_tunnels(const struct netmodel *same, struct netmodel *m)
{
    m->tunnels = malloc((same->n_tunnels ? same->n_tunnels : 1) * sizeof *m->tunnels);
    if (!m->tunnels) {
        return ENOMEM;
    }
    for (size_t t = 0; t < same->n_tunnels; t++) {
        struct tunnel x = same->tunnels[t];
        for (size_t c = 0; c < same->n_clouds; c++) {
            if (same->tunnels[t].a == same->clouds[c].o.name) {
                x.a = m->clouds[c].o.name;
            }
            if (same->tunnels[t].b == same->clouds[c].o.name) {
                x.b = m->clouds[c].o.name;
            }
        }
        m->tunnels[t] = x;
    }
    m->n_tunnels = same->n_tunnels;
    return 0;
}

/* Each cloud's gateways by host name (the first preferred), and each
 * gateway's ordinal; a gateway beyond TUNNELS_MAX_GATEWAYS (the database
 * refuses one) gets the ordinal TUNNELS_MAX_GATEWAYS and no place. */
static void
finish_gateways(struct netmodel *m)
{
    for (size_t c = 0; c < m->n_clouds; c++) {
        struct nm_cloud *cl = &m->clouds[c];
        cl->n_gateways = 0;
        for (unsigned k = 0; k < TUNNELS_MAX_GATEWAYS; k++) {
            cl->gateways[k] = -1;
        }
    }
    for (size_t h = 0; h < m->n_hosts; h++) {
        struct nm_host *ho = &m->hosts[h];
        ho->ordinal = 0;
        if (!ho->gateway || ho->cloud < 0) {
            continue;
        }
        struct nm_cloud *cl = &m->clouds[ho->cloud];
        int x = (int) h;                /* insert by name, the last one falls off */
        for (unsigned k = 0; k < TUNNELS_MAX_GATEWAYS && x >= 0; k++) {
            int y = cl->gateways[k];
            if (y < 0 || strcmp(m->hosts[x].o.name, m->hosts[y].o.name) < 0) {
                cl->gateways[k] = x;
                x = y;
            }
        }
        cl->n_gateways += cl->n_gateways < TUNNELS_MAX_GATEWAYS;
    }
    for (size_t h = 0; h < m->n_hosts; h++) {
        struct nm_host *ho = &m->hosts[h];
        if (ho->gateway && ho->cloud >= 0) {
            ho->ordinal = TUNNELS_MAX_GATEWAYS;
            for (unsigned k = 0; k < TUNNELS_MAX_GATEWAYS; k++) {
                if (m->clouds[ho->cloud].gateways[k] == (int) h) {
                    ho->ordinal = k;
                }
            }
        }
    }
    for (size_t c = 0; c < m->n_clouds; c++) {
        m->clouds[c].gateway = m->clouds[c].gateways[0];
    }
}

/* The overlay of m; its tunnels copied from 'same' when nonnull (a model
 * with the same clouds and links), else computed (core/tunnels.h: with
 * mst+backup an exact search that costs milliseconds, which a change of
 * VMs alone must not pay). */
static int
finish_overlay(struct netmodel *m, const struct netmodel *same)
{
    size_t nh = m->n_hosts, nc = m->n_clouds;
    finish_gateways(m);
    for (size_t h = 0; h < nh; h++) {
        struct nm_host *ho = &m->hosts[h];
        unsigned long long d = 0;
        int k = 0;
        for (const char *p = ho->o.id; *p && k < 16; p++) {
            int x = *p >= '0' && *p <= '9' ? *p - '0'
                  : *p >= 'a' && *p <= 'f' ? *p - 'a' + 10 : -1;
            if (x >= 0) {
                d = d << 4 | (unsigned) x;
                k++;
            }
        }
        /* Datapath ids are 48-bit MAC-like values in OvS's default; keep
         * the top 16 bits at 0x5b (skyvisor) so ours are recognisable. */
        ho->dpid = 0x5b00000000000000ull | (d & 0x00ffffffffffffffull);
    }

    /* Tunnels between the clouds that have a gateway. */
    const char **names = malloc((nc ? nc : 1) * sizeof *names);
    int *gw_of = malloc((nc ? nc : 1) * sizeof *gw_of);
    struct tunnels_cost *costs = malloc((m->n_cloudlinks ? m->n_cloudlinks : 1) * sizeof *costs);
    if (!names || !gw_of || !costs) {
        free(names);
        free(gw_of);
        free(costs);
        return ENOMEM;
    }
    size_t n_names = 0;
    for (size_t c = 0; c < nc; c++) {
        if (m->clouds[c].gateway >= 0) {
            names[n_names++] = m->clouds[c].o.name;
        }
    }
    size_t n_costs = 0;
    for (size_t i = 0; i < m->n_cloudlinks; i++) {
        const struct nm_cloudlink *cl = &m->cloudlinks[i];
        if (cl->a >= 0 && cl->b >= 0) {
            costs[n_costs++] = (struct tunnels_cost) {
                m->clouds[cl->a].o.name, m->clouds[cl->b].o.name, cl->cost };
        }
    }
    int rc = same ? copy_tunnels(same, m)
                  : tunnels_compute(m->layout, names, n_names, costs, n_costs,
                                    &m->tunnels, &m->n_tunnels);
    free(costs);
    free(names);
    free(gw_of);
    if (rc) {
        return rc;
    }

    m->adj = calloc(nh ? nh : 1, sizeof *m->adj);
    size_t *deg = calloc(nh ? nh : 1, sizeof *deg);
    if (!m->adj || !deg) {
        free(deg);
        return ENOMEM;
    }
    for (size_t h = 0; h < nh && !rc; h++) {
        m->adj[h] = malloc(sizeof **m->adj);
        if (!m->adj[h]) {
            rc = ENOMEM;
            break;
        }
        m->adj[h][0] = -1;
    }
    for (size_t h = 0; h < nh && !rc; h++) {
        const struct nm_host *ho = &m->hosts[h];
        if (!ho->gateway && ho->cloud >= 0 && m->clouds[ho->cloud].gateway >= 0) {
            int g = m->clouds[ho->cloud].gateway;
            rc = add_edge(m->adj, deg, (int) h, g);
            rc = rc ? rc : add_edge(m->adj, deg, g, (int) h);
        }
    }
    rc = rc ? rc : finish_backups(m);
    for (size_t t = 0; t < m->n_tunnels && !rc; t++) {
        if (is_backup(m, t)) {
            continue;               /* finish_backups() */
        }
        int ga = -1, gb = -1;
        for (size_t c = 0; c < nc; c++) {
            if (!strcmp(m->clouds[c].o.name, m->tunnels[t].a)) ga = m->clouds[c].gateway;
            if (!strcmp(m->clouds[c].o.name, m->tunnels[t].b)) gb = m->clouds[c].gateway;
        }
        if (ga >= 0 && gb >= 0) {
            rc = add_edge(m->adj, deg, ga, gb);
            rc = rc ? rc : add_edge(m->adj, deg, gb, ga);
        }
    }
    for (size_t h = 0; h < nh && !rc; h++) {
        qsort(m->adj[h], deg[h], sizeof *m->adj[h], cmp_int);
    }
    free(deg);
    if (rc) {
        return rc;
    }

    /* Hop counts from every host (breadth-first). */
    m->dist = malloc((nh ? nh * nh : 1) * sizeof *m->dist);
    int *queue = malloc((nh ? nh : 1) * sizeof *queue);
    if (!m->dist || !queue) {
        free(queue);
        return ENOMEM;
    }
    for (size_t s = 0; s < nh; s++) {
        int *d = &m->dist[s * nh];
        for (size_t i = 0; i < nh; i++) {
            d[i] = -1;
        }
        size_t head = 0, tail = 0;
        d[s] = 0;
        queue[tail++] = (int) s;
        while (head < tail) {
            int x = queue[head++];
            for (const int *n = m->adj[x]; *n >= 0; n++) {
                if (d[*n] < 0) {
                    d[*n] = d[x] + 1;
                    queue[tail++] = *n;
                }
            }
        }
    }
    free(queue);
    return 0;
}

static int
finish_host_vms(struct netmodel *m)
{
    size_t nh = m->n_hosts;
    size_t *count = calloc(nh ? nh : 1, sizeof *count);
    m->vms_on_host = calloc(nh ? nh : 1, sizeof *m->vms_on_host);
    if (!count || !m->vms_on_host) {
        free(count);
        return ENOMEM;
    }
    for (size_t v = 0; v < m->n_vms; v++) {
        if (m->vms[v].host >= 0) {
            count[m->vms[v].host]++;
        }
    }
    for (size_t h = 0; h < nh; h++) {
        m->vms_on_host[h] = malloc((count[h] + 1) * sizeof **m->vms_on_host);
        if (!m->vms_on_host[h]) {
            free(count);
            return ENOMEM;
        }
        m->vms_on_host[h][0] = -1;
        count[h] = 0;
    }
    size_t n_mig = 0;
    for (size_t v = 0; v < m->n_vms; v++) {
        int h = m->vms[v].host;
        if (h >= 0) {
            m->vms_on_host[h][count[h]++] = (int) v;
            m->vms_on_host[h][count[h]] = -1;
        }
        n_mig += m->vms[v].mig != NM_MIG_NONE;
    }
    free(count);
    m->mig_vms = malloc((n_mig + 1) * sizeof *m->mig_vms);
    if (!m->mig_vms) {
        return ENOMEM;
    }
    n_mig = 0;
    for (size_t v = 0; v < m->n_vms; v++) {
        if (m->vms[v].mig != NM_MIG_NONE) {
            m->mig_vms[n_mig++] = (int) v;
        }
    }
    m->mig_vms[n_mig] = -1;
    return 0;
}

/* netmodel_finish(), the tunnels taken from 'same' when nonnull. */
static int
finish(struct netmodel *m, const struct netmodel *same)
{
    int rc = finish_overlay(m, same);
    rc = rc ? rc : finish_components(m);
    rc = rc ? rc : finish_host_vms(m);
    if (!rc && same && same->ff) {
        m->ff = wanff_plans_ref(same->ff);
    } else if (!rc) {
        rc = wanff_plans_build(m, &m->ff);
    }
    return rc;
}

int
netmodel_finish(struct netmodel *m)
{
    return finish(m, NULL);
}

/* --- incremental updates --- */

static int
cmp_obj_id(const void *a, const void *b)
{
    return strcmp(((const struct nm_obj *) a)->id, ((const struct nm_obj *) b)->id);
}

static int
cmp_id40(const void *a, const void *b)
{
    return strcmp(a, b);
}

/* Copies n objects of 'size' bytes, each starting with a struct nm_obj,
 * duplicating their details.  0 or ENOMEM. */
static int
copy_objs(void **dst, const void *src, size_t n, size_t size)
{
    *dst = malloc((n ? n : 1) * size);
    if (!*dst) {
        return ENOMEM;
    }
    if (n) {
        memcpy(*dst, src, n * size);
    }
    int rc = 0;
    for (size_t i = 0; i < n; i++) {
        struct nm_obj *o = (void *) ((char *) *dst + i * size);
        if (o->detail && !(o->detail = strdup(o->detail))) {
            rc = ENOMEM;
        }
    }
    return rc;
}

/* Appends src->vms[from..to) to dst->vms at *n, duplicating their
 * details.  0 or ENOMEM. */
static int
copy_vm_run(struct netmodel *dst, const struct netmodel *src, size_t from, size_t to,
            size_t *n)
{
    if (to <= from) {
        return 0;
    }
    struct nm_vm *v = &dst->vms[*n];
    memcpy(v, &src->vms[from], (to - from) * sizeof *v);
    *n += to - from;
    int rc = 0;
    for (size_t x = 0; x < to - from; x++) {
        if (v[x].o.detail && !(v[x].o.detail = strdup(v[x].o.detail))) {
            rc = ENOMEM;
        }
    }
    return rc;
}

int
netmodel_apply_vms(const struct netmodel *src, struct nm_vm *up, size_t n_up,
                   char (*gone)[40], size_t n_gone, struct netmodel *dst)
{
    netmodel_init(dst);
    dst->layout = src->layout;
    dst->ctl = ctlset_ref(src->ctl);
    int rc = 0;
#define COPY(f) \
    do { \
        dst->n_##f = src->n_##f; \
        rc = rc ? rc : copy_objs((void **) &dst->f, src->f, src->n_##f, sizeof *src->f); \
    } while (0)
    COPY(clouds);
    COPY(hosts);
    COPY(tenants);
    COPY(networks);
    COPY(switches);
    COPY(links);
#undef COPY
    dst->n_cloudlinks = src->n_cloudlinks;
    dst->cloudlinks = malloc((src->n_cloudlinks ? src->n_cloudlinks : 1)
                             * sizeof *dst->cloudlinks);
    dst->vms = malloc((src->n_vms + n_up ? src->n_vms + n_up : 1) * sizeof *dst->vms);
    if (rc || !dst->cloudlinks || !dst->vms) {
        netmodel_free(dst);
        return ENOMEM;
    }
    if (src->n_cloudlinks) {
        memcpy(dst->cloudlinks, src->cloudlinks, src->n_cloudlinks * sizeof *src->cloudlinks);
    }
    if (n_up) {
        qsort(up, n_up, sizeof *up, cmp_obj_id);
    }
    if (n_gone) {
        qsort(gone, n_gone, sizeof *gone, cmp_id40);
    }
    dst->shift_gone = malloc((n_gone + n_up ? n_gone + n_up : 1) * sizeof *dst->shift_gone);
    dst->shift_new = malloc((n_up ? n_up : 1) * sizeof *dst->shift_new);
    if (!dst->shift_gone || !dst->shift_new) {
        netmodel_free(dst);
        return ENOMEM;
    }
    /* The changes in id order ('up' before 'gone' for the same id: the
     * update wins), each placed by a binary search in src; the runs of
     * src between them are copied whole. */
    size_t i = 0, j = 0, k = 0, n = 0;
    while (j < n_up || k < n_gone) {
        bool is_up = k == n_gone || (j < n_up && strcmp(up[j].o.id, gone[k]) <= 0);
        const char *id = is_up ? up[j].o.id : gone[k];
        size_t lo = i, hi = src->n_vms;
        while (lo < hi) {
            size_t mid = lo + (hi - lo) / 2;
            if (strcmp(src->vms[mid].o.id, id) < 0) {
                lo = mid + 1;
            } else {
                hi = mid;
            }
        }
        rc = rc ? rc : copy_vm_run(dst, src, i, lo, &n);
        i = lo;
        bool in_src = i < src->n_vms && !strcmp(src->vms[i].o.id, id);
        if (in_src) {
            dst->shift_gone[dst->n_shift_gone++] = (int) i++;
        }
        if (!is_up) {
            k++;
            continue;
        }
        /* A later copy of the same VM wins; a VM both updated and gone
         * stays. */
        while (j + 1 < n_up && !strcmp(up[j + 1].o.id, id)) {
            free(up[j].o.detail);
            up[j++].o.detail = NULL;
        }
        while (k < n_gone && !strcmp(gone[k], id)) {
            k++;
        }
        dst->shift_new[dst->n_shift_new++] = (int) n;
        dst->vms[n++] = up[j];          /* moved */
        up[j++].o.detail = NULL;
    }
    rc = rc ? rc : copy_vm_run(dst, src, i, src->n_vms, &n);
    dst->n_vms = n;
    rc = rc ? rc : finish(dst, src);    /* VMs alone: the same tunnels */
    if (rc) {
        netmodel_free(dst);
    }
    return rc;
}

/* How many of v[0..n) (ascending) are below 'x'. */
static size_t
count_below(const int *v, size_t n, int x)
{
    size_t lo = 0, hi = n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (v[mid] < x) {
            lo = mid + 1;
        } else {
            hi = mid;
        }
    }
    return lo;
}

int
netmodel_vm_shift(const struct netmodel *m, int old)
{
    size_t below = count_below(m->shift_gone, m->n_shift_gone, old);
    if (below < m->n_shift_gone && m->shift_gone[below] == old) {
        return -1;
    }
    /* Its place t among the survivors, then one further for every VM
     * inserted before it.  Inserted VM x (ascending new indexes, so
     * shift_new[x] - x never decreases) lands before it exactly when
     * shift_new[x] - x <= t: x survivors precede x's slot.  Counted by a
     * binary search. */
    int t = old - (int) below;
    size_t lo = 0, hi = m->n_shift_new;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (m->shift_new[mid] - (int) mid <= t) {
            lo = mid + 1;
        } else {
            hi = mid;
        }
    }
    return t + (int) lo;
}

int
netmodel_index(const void *objs, size_t n, size_t size, const char *id)
{
    size_t lo = 0, hi = n;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        const struct nm_obj *o = (const void *) ((const char *) objs + mid * size);
        int c = strcmp(o->id, id);
        if (!c) {
            return (int) mid;
        }
        if (c < 0) {
            lo = mid + 1;
        } else {
            hi = mid;
        }
    }
    return -1;
}

int
netmodel_vm_by_id(const struct netmodel *m, const char *id)
{
    return netmodel_index(m->vms, m->n_vms, sizeof *m->vms, id);
}

int
netmodel_network_by_id(const struct netmodel *m, const char *id)
{
    return netmodel_index(m->networks, m->n_networks, sizeof *m->networks, id);
}

bool
netmodel_vm_shares_host(const struct netmodel *m, int v)
{
    int c = m->vm_comp[v];
    if (c < 0) {
        return true;
    }
    for (const int *x = m->vms_on_host[m->vms[v].host]; *x >= 0; x++) {
        if (*x != v && m->vm_comp[*x] == c) {
            return true;
        }
    }
    return false;
}

void
netmodel_network_hosts(const struct netmodel *m, int net, uint8_t *mark)
{
    for (size_t h = 0; h < m->n_hosts; h++) {
        if (m->hosts[h].gateway) {
            mark[h] = 1;
        }
    }
    for (size_t v = 0; v < m->n_vms; v++) {
        const struct nm_vm *vm = &m->vms[v];
        if (vm->network == net && vm->host >= 0) {
            mark[vm->host] = 1;
        }
        if (vm->network == net && vm->mig != NM_MIG_NONE) {
            mark[vm->mig_from] = mark[vm->mig_to] = 1;
        }
    }
}

/* --- identities --- */

uint64_t
netmodel_cookie(enum nm_cookie_kind kind, uint16_t tag, uint32_t low)
{
    return NM_COOKIE_MAGIC | (uint64_t) (kind & 0xf) << 56 | (uint64_t) tag << 40 | low;
}

uint16_t
netmodel_vm_tag(const struct netmodel *m, int vm)
{
    int net = m->vms[vm].network;
    return net >= 0 ? m->tenants[m->networks[net].tenant].tag : 0;
}

uint64_t
netmodel_vm_cookie(const struct netmodel *m, int vm)
{
    return netmodel_cookie(NM_CK_VM, netmodel_vm_tag(m, vm), m->vms[vm].wire_low);
}

uint64_t
netmodel_comp_cookie(const struct netmodel *m, int comp)
{
    int v = m->comp_vms[comp][0];
    return netmodel_cookie(NM_CK_COMP, v >= 0 ? netmodel_vm_tag(m, v) : 0, m->comp_name[comp]);
}

uint64_t
netmodel_vsw_cookie(const struct netmodel *m, int sw)
{
    int net = m->switches[sw].network;
    uint16_t tag = net >= 0 ? m->tenants[m->networks[net].tenant].tag : 0;
    return netmodel_cookie(NM_CK_VSW, tag, m->switches[sw].seq);
}

uint32_t
netmodel_vm_vport(const struct netmodel *m, int vm)
{
    int sw = m->vms[vm].sw;
    if (sw < 0 || !m->switches[sw].tenant_ctl) {
        return 0;
    }
    return ctlset_port(ctlset_switch(m->ctl, m->switches[sw].o.id), m->vms[vm].o.id);
}

uint32_t
netmodel_vsw_entry_port(const struct netmodel *m, int sw)
{
    const struct ctl_switch *cs = ctlset_switch(m->ctl, m->switches[sw].o.id);
    for (size_t i = 0; cs && i < m->n_links; i++) {
        const struct nm_link *k = &m->links[i];
        int peer = k->a == sw ? k->b : k->b == sw ? k->a : -1;
        if (peer >= 0 && peer != sw && !m->switches[peer].tenant_ctl) {
            uint32_t p = ctlset_port(cs, k->o.id);
            if (p) {
                return p;
            }
        }
    }
    return 0;
}

uint64_t
netmodel_wire_mac(const struct netmodel *m, int vm)
{
    return (uint64_t) netmodel_vm_tag(m, vm) << 32 | m->vms[vm].wire_low;
}

uint64_t
netmodel_alt_mac(const struct netmodel *m, int vm)
{
    return m->vms[vm].alt_low;      /* tag bytes 00:00 */
}

int
netmodel_vm_second(const struct netmodel *m, int vm)
{
    const struct nm_vm *v = &m->vms[vm];
    switch (v->mig) {
    case NM_MIG_CLONE:
    case NM_MIG_DUAL:
        return v->mig_to;
    case NM_MIG_ACTIVATE:
        return v->mig_from;
    default:
        return -1;
    }
}

/* Where a VM's W leads (see netmodel.h, live migration). */
static int
wire_host(const struct nm_vm *v)
{
    return v->mig >= NM_MIG_CLONE && v->mig <= NM_MIG_ACTIVATE ? v->mig_from : v->host;
}

/* Where a migrating VM's A leads, -1 when it has none. */
static int
alt_host(const struct nm_vm *v)
{
    return v->mig >= NM_MIG_CLONE ? v->mig_to : -1;
}

int
netmodel_vm_ingress_macs(const struct netmodel *m, int vm, uint64_t macs[2])
{
    switch (m->vms[vm].mig) {
    case NM_MIG_DUAL:
        macs[0] = netmodel_alt_mac(m, vm);
        macs[1] = netmodel_wire_mac(m, vm);
        return 2;
    case NM_MIG_ACTIVATE:
        macs[0] = netmodel_alt_mac(m, vm);
        return 1;
    default:
        macs[0] = netmodel_wire_mac(m, vm);
        return 1;
    }
}

uint32_t
netmodel_vm_comp(const struct netmodel *m, int vm)
{
    int c = m->vm_comp[vm];
    return c >= 0 ? m->comp_name[c] : 0;
}

int
netmodel_next_hop(const struct netmodel *m, int h, int dst)
{
    size_t nh = m->n_hosts;
    if (h == dst) {
        return h;
    }
    int d = m->dist[(size_t) dst * nh + (size_t) h];
    if (d < 0) {
        return -1;
    }
    for (const int *n = m->adj[h]; *n >= 0; n++) {
        if (m->dist[(size_t) dst * nh + (size_t) *n] == d - 1) {
            return *n;
        }
    }
    return -1;
}

/* --- ports --- */

void
netmodel_tunnel_name(const struct netmodel *m, int h, int peer, char name[16])
{
    const struct nm_host *a = &m->hosts[h], *b = &m->hosts[peer];
    if (a->gateway && b->gateway) {
        snprintf(name, 16, "svw%08x", (unsigned) b->public_ip);
    } else if (a->gateway) {
        snprintf(name, 16, "svh%08x", (unsigned) b->tunnel_ip);
    } else {
        snprintf(name, 16, "svg%08x", (unsigned) b->tunnel_ip);
    }
}

int
netmodel_pos(const struct netmodel *m, int h)
{
    const struct nm_host *ho = &m->hosts[h];
    return ho->gateway && ho->cloud >= 0 && ho->ordinal ? m->clouds[ho->cloud].gateway : h;
}

bool
netmodel_is_twin(const struct netmodel *m, int h)
{
    const struct nm_host *ho = &m->hosts[h];
    return ho->gateway && ho->cloud >= 0 && ho->ordinal;
}

size_t
netmodel_peers(const struct netmodel *m, int h, int x, int out[TUNNELS_MAX_GATEWAYS])
{
    const struct nm_host *self = &m->hosts[h], *to = &m->hosts[x];
    if (self->ordinal >= TUNNELS_MAX_GATEWAYS) {
        return 0;                   /* a gateway beyond the limit */
    }
    if (!to->gateway || to->cloud < 0) {
        out[0] = x;
        return 1;
    }
    const struct nm_cloud *cl = &m->clouds[to->cloud];
    if (!self->gateway) {           /* a worker: the preferred one first */
        for (unsigned k = 0; k < cl->n_gateways; k++) {
            out[k] = cl->gateways[k];
        }
        return cl->n_gateways;
    }
    /* A gateway: tunnels_gateway_pairs()'s preference, by this gateway's
     * ordinal in a cloud with (at least) that many. */
    const struct nm_cloud *own = &m->clouds[self->cloud];
    struct tunnels_gateway_pair pairs[TUNNELS_MAX_GATEWAYS * TUNNELS_MAX_GATEWAYS];
    size_t np = tunnels_gateway_pairs(own->n_gateways, cl->n_gateways, pairs);
    size_t n = 0;
    for (unsigned rank = 0; rank < TUNNELS_MAX_GATEWAYS; rank++) {
        for (size_t i = 0; i < np; i++) {
            if (pairs[i].ga == self->ordinal && pairs[i].rank_a == rank) {
                out[n++] = cl->gateways[pairs[i].gb];
            }
        }
    }
    return n;
}

/* VM 'v''s port, at its host or (second) at its migration's second place. */
static void
vm_port_spec(const struct netmodel *m, int v, bool second, struct nm_port *p)
{
    const struct nm_vm *vm = &m->vms[v];
    memset(p, 0, sizeof *p);
    p->kind = NM_PORT_VM;
    p->vm = v;
    p->peer = -1;
    p->second = second;
    p->internal = !vm->iface[0];
    netmodel_vm_port_name(m, v, p->name);
}

/* Copied, not formatted: every pass lists every host's ports. */
void
netmodel_vm_port_name(const struct netmodel *m, int vm, char name[16])
{
    const struct nm_vm *v = &m->vms[vm];
    if (v->iface[0]) {
        size_t n = strnlen(v->iface, 15);
        memcpy(name, v->iface, n);
        name[n] = 0;
    } else {
        size_t n = strnlen(v->o.id, 8);
        memcpy(name, "vm", 2);
        memcpy(name + 2, v->o.id, n);
        name[2 + n] = 0;
    }
}

const char *
netmodel_vm_port_id(const char *name)
{
    if (strncmp(name, "vm", 2) || strlen(name) != 10
        || strspn(name + 2, "0123456789abcdef") != 8) {
        return NULL;
    }
    return name + 2;
}

/* The tunnel port from host h to host 'peer'. */
static void
tunnel_port_spec(const struct netmodel *m, int h, int peer, struct nm_port *p)
{
    const struct nm_host *self = &m->hosts[h], *other = &m->hosts[peer];
    memset(p, 0, sizeof *p);
    p->kind = NM_PORT_TUNNEL;
    p->vm = -1;
    p->peer = peer;
    netmodel_tunnel_name(m, h, peer, p->name);
    bool wan = self->gateway && other->gateway;
    p->local_ip = wan ? self->public_ip : self->tunnel_ip;
    p->remote_ip = wan ? other->public_ip : other->tunnel_ip;
}

int
netmodel_ports(const struct netmodel *m, int h, struct nm_port **portsp, size_t *np)
{
    size_t n = 0, cap = 8;
    struct nm_port *ports = malloc(cap * sizeof *ports);
    if (!ports) {
        return ENOMEM;
    }
    for (const int *mv = m->mig_vms; mv && *mv >= 0; mv++) {
        if (netmodel_vm_second(m, *mv) != h) {
            continue;
        }
        if (n == cap) {
            struct nm_port *g = realloc(ports, (cap *= 2) * sizeof *ports);
            if (!g) {
                free(ports);
                return ENOMEM;
            }
            ports = g;
        }
        vm_port_spec(m, *mv, true, &ports[n++]);
    }
    for (const int *v = m->vms_on_host[h]; *v >= 0; v++) {
        if (n == cap) {
            struct nm_port *g = realloc(ports, (cap *= 2) * sizeof *ports);
            if (!g) {
                free(ports);
                return ENOMEM;
            }
            ports = g;
        }
        vm_port_spec(m, *v, false, &ports[n++]);
    }
    int pos = netmodel_pos(m, h);
    for (int pass = 0; pass < 2; pass++) {
        const int *peers = pass ? (m->backup_adj ? m->backup_adj[pos] : NULL) : m->adj[pos];
        for (const int *peer = peers; peer && *peer >= 0; peer++) {
            int real[TUNNELS_MAX_GATEWAYS];
            size_t nr = netmodel_peers(m, h, *peer, real);
            for (size_t k = 0; k < nr; k++) {
                if (n == cap) {
                    struct nm_port *g = realloc(ports, (cap *= 2) * sizeof *ports);
                    if (!g) {
                        free(ports);
                        return ENOMEM;
                    }
                    ports = g;
                }
                tunnel_port_spec(m, h, real[k], &ports[n++]);
            }
        }
    }
    *portsp = ports;
    *np = n;
    return 0;
}

/* --- flows --- */

struct fctx {
    const struct netmodel *m;
    int h;
    nm_ofport_fn *ofport;
    void *aux;
    struct nm_flows *out;
    struct vm_slot *vm_port;    /* the VMs on this host (or whose second
                                 * place it is): their ports, an open
                                 * addressing table of vm_cap slots
                                 * (vmport()), sized by the host's VMs,
                                 * not the model's */
    size_t vm_cap;
    int pos;                    /* netmodel_pos(h): where h forwards from */
    uint32_t *tun_port;         /* per overlay neighbour of pos: the port of
                                 * h's preferred tunnel toward it (its
                                 * group's, netmodel_groups()), 0 none */
    uint32_t *real_port;        /* per host: h's tunnel port to it, 0 none */
    struct nm_group *groups;    /* groups_build() */
    size_t n_groups;
    int rc;
};

struct vm_slot {
    int vm;                     /* -1: empty */
    uint32_t no;
};

/* VM v's slot in c->vm_port: its own, or the empty one where it would
 * go (the table is never full: twice the host's VMs). */
static struct vm_slot *
vm_slot(const struct fctx *c, int v)
{
    size_t mask = c->vm_cap - 1;
    for (size_t i = fnv64_u64(FNV64_INIT, (uint64_t) v) & mask;; i = (i + 1) & mask) {
        if (c->vm_port[i].vm == v || c->vm_port[i].vm < 0) {
            return &c->vm_port[i];
        }
    }
}

/* VM v's port at this host as found so far, 0 unknown. */
static uint32_t
vmport(const struct fctx *c, int v)
{
    const struct vm_slot *s = vm_slot(c, v);
    return s->vm == v ? s->no : 0;
}

/* Records 'no' as VM v's port at this host (v is on it, or it is v's
 * second place); returns it. */
static uint32_t
vmport_set(struct fctx *c, int v, uint32_t no)
{
    struct vm_slot *s = vm_slot(c, v);
    s->vm = v;
    s->no = no;
    return no;
}

static struct nm_flow *
flow_new(struct fctx *c, uint8_t table, uint16_t prio, uint64_t cookie)
{
    struct nm_flows *o = c->out;
    if (c->rc) {
        return NULL;
    }
    if (o->n == o->cap) {
        size_t cap = o->cap ? 2 * o->cap : 64;
        struct nm_flow *g = realloc(o->v, cap * sizeof *g);
        if (!g) {
            c->rc = ENOMEM;
            return NULL;
        }
        o->v = g;
        o->cap = cap;
    }
    struct nm_flow *f = &o->v[o->n++];
    memset(f, 0, sizeof *f);
    f->table = table;
    f->priority = prio;
    f->cookie = cookie;
    f->goto_table = NM_NO_GOTO;
    return f;
}

static void
match(struct nm_flow *f, enum nm_field fld, uint64_t value)
{
    if (f) {
        f->present |= 1u << fld;
        f->value[fld] = value;
        f->mask[fld] = ~0ull;
    }
}

static void
match_masked(struct nm_flow *f, enum nm_field fld, uint64_t value, uint64_t mask)
{
    if (f) {
        f->present |= 1u << fld;
        f->masked |= 1u << fld;
        f->value[fld] = value & mask;
        f->mask[fld] = mask;
    }
}

static void
act(struct fctx *c, struct nm_flow *f, enum nm_act_type type, uint64_t arg)
{
    if (!f || c->rc) {
        return;
    }
    struct nm_act *g = realloc(f->acts, (f->n_acts + 1) * sizeof *g);
    if (!g) {
        c->rc = ENOMEM;
        return;
    }
    f->acts = g;
    f->acts[f->n_acts++] = (struct nm_act) { type, arg };
}

void
netmodel_bcast_tree(const struct netmodel *m, int s, int comp, int *parent, uint8_t *sub,
                    int *queue)
{
    size_t nh = m->n_hosts;
    for (size_t i = 0; i < nh; i++) {
        parent[i] = -2;
        sub[i] = 0;
    }
    size_t head = 0, tail = 0;
    parent[s] = -1;
    queue[tail++] = s;
    while (head < tail) {
        int x = queue[head++];
        for (const int *n = m->adj[x]; *n >= 0; n++) {
            if (parent[*n] == -2) {
                parent[*n] = x;
                queue[tail++] = *n;
            }
        }
    }
    const uint8_t *members = &m->comp_hosts[(size_t) comp * nh];
    for (size_t i = 0; i < nh; i++) {
        if (members[i] && parent[i] != -2) {
            for (int x = (int) i; x >= 0 && !sub[x]; x = parent[x]) {
                sub[x] = 1;
            }
        }
    }
}

/* Outputs to the tunnels of host c->h toward its children in the pruned
 * broadcast tree, a broadcast of VM 'vm' (its tenant's WAN meter, if the
 * tree leaves the cloud here: core/meters.h). */
static void
bcast_children(struct fctx *c, struct nm_flow *f, int vm, const int *parent,
               const uint8_t *sub)
{
    for (const int *n = c->m->adj[c->pos]; *n >= 0; n++) {
        if (parent[*n] == c->pos && sub[*n] && c->tun_port[*n]) {
            act(c, f, NA_OUTPUT, c->tun_port[*n]);
            meters_wan(c->m, c->h, *n, vm, c->tun_port[*n], f);
        }
    }
}

static void
flows_infra(struct fctx *c)
{
    const struct netmodel *m = c->m;
    uint64_t ck = netmodel_cookie(NM_CK_INFRA, 0, 0);
    flow_new(c, NM_T_CLASSIFY, 0, ck);                  /* drop */
    struct nm_flow *f = flow_new(c, NM_T_TENANT, 0, ck);
    act(c, f, NA_CONTROLLER, 0);                        /* reactive path */
    for (const int *n = m->adj[c->pos]; *n >= 0; n++) {
        int real[TUNNELS_MAX_GATEWAYS];
        size_t nr = netmodel_peers(m, c->h, *n, real);
        for (size_t k = 0; k < nr; k++) {
            uint32_t p = c->real_port[real[k]];
            if (!p) {
                continue;
            }
            f = flow_new(c, NM_T_CLASSIFY, 100, ck);
            match(f, NF_IN_PORT, p);
            match(f, NF_ETH_TYPE, ETH_TYPE_LLDP);
            act(c, f, NA_CONTROLLER, 0);
            f = flow_new(c, NM_T_CLASSIFY, 50, ck);
            match(f, NF_IN_PORT, p);
            if (f) {
                f->goto_table = NM_T_FORWARD;
            }
        }
    }
    const struct nm_host *self = &m->hosts[c->h];
    if (!self->gateway && self->cloud >= 0) {
        int g = m->clouds[self->cloud].gateway;
        if (g >= 0 && c->tun_port[g]) {
            f = flow_new(c, NM_T_FORWARD, 10, ck);
            act(c, f, NA_OUTPUT, c->tun_port[g]);
        }
    }
}

static void flows_delivery(struct fctx *, int s, uint32_t port);
static void flows_port_security(struct fctx *, int s, uint32_t port, bool second);

/* Flows for a VM 's' on this host. */
static void
flows_local_vm(struct fctx *c, int s, int *parent, uint8_t *sub, int *queue)
{
    const struct netmodel *m = c->m;
    const struct nm_vm *vm = &m->vms[s];
    uint32_t port = vmport(c, s);
    int comp = m->vm_comp[s];
    if (!port || comp < 0) {
        return;
    }
    uint64_t ck = netmodel_vm_cookie(m, s);
    uint64_t wire = netmodel_wire_mac(m, s);

    /* 0: port security. */
    flows_port_security(c, s, port, false);
    struct nm_flow *f;

    /* 10: broadcast from this VM: the tunnels of its tree with its
     * platform source MAC, then its own MAC back for the local members
     * (25; the flood skips the port it came in on). */
    f = flow_new(c, NM_T_TENANT, 90, ck);
    match(f, NF_IN_PORT, port);
    match_masked(f, NF_ETH_DST, ETH_MAC_GROUP_BIT, ETH_MAC_GROUP_BIT);
    act(c, f, NA_SET_ETH_SRC, wire);
    netmodel_bcast_tree(m, c->pos, comp, parent, sub, queue);
    size_t before = f ? f->n_acts : 0;
    bcast_children(c, f, s, parent, sub);
    if (f && f->n_acts == before) {
        f->n_acts--;                /* no tunnel: no rewrite */
    } else {
        act(c, f, NA_SET_ETH_SRC, vm->mac);
    }
    if (f) {
        f->goto_table = NM_T_FLOOD;
    }

    /* 15: source tag. */
    f = flow_new(c, NM_T_SRC_TAG, 100, ck);
    match(f, NF_IN_PORT, port);
    act(c, f, NA_SET_ETH_SRC, wire);
    if (f) {
        f->goto_table = NM_T_FORWARD;
    }

    flows_delivery(c, s, port);
}

/* 20 and 40: delivery to VM 's' through its port 'port' here, of each of
 * its platform MACs that leads here. */
static void
flows_delivery(struct fctx *c, int s, uint32_t port)
{
    const struct netmodel *m = c->m;
    const struct nm_vm *vm = &m->vms[s];
    uint64_t ck = netmodel_vm_cookie(m, s);
    for (int i = 0; i < 2; i++) {
        if ((i ? alt_host(vm) : wire_host(vm)) != c->h) {
            continue;
        }
        struct nm_flow *f = flow_new(c, NM_T_FORWARD, 100, ck);
        match(f, NF_ETH_DST, i ? netmodel_alt_mac(m, s) : netmodel_wire_mac(m, s));
        act(c, f, NA_SET_ETH_DST, vm->mac);
        if (f) {
            f->write_meta = true;
            f->meta = port;
            f->meta_mask = META_PORT_MASK;
            f->goto_table = NM_T_SRC_RESTORE;
        }
    }
    struct nm_flow *f = flow_new(c, NM_T_OUTPUT, 100, ck);
    match_masked(f, NF_METADATA, port, META_PORT_MASK);
    act(c, f, NA_OUTPUT, port);
}

/* The port security of VM 's' at its port 'port' here: its IPv4 to the
 * tenant table with its component, its ARP to the controller; on a
 * tenant-controlled switch both into the tenant's own tables, once its
 * virtual port is numbered (at a migration's second place, where the first
 * ARP or RARP announces the VM resumed, ARP still to the controller). */
static void
flows_port_security(struct fctx *c, int s, uint32_t port, bool second)
{
    const struct netmodel *m = c->m;
    const struct nm_vm *vm = &m->vms[s];
    uint64_t ck = netmodel_vm_cookie(m, s);
    bool ctl = m->switches[vm->sw].tenant_ctl;
    uint32_t vport = ctl ? netmodel_vm_vport(m, s) : 0;
    struct nm_flow *f = flow_new(c, NM_T_CLASSIFY, 100, ck);
    match(f, NF_IN_PORT, port);
    match(f, NF_ETH_SRC, vm->mac);
    match(f, NF_ETH_TYPE, ETH_TYPE_IP);
    match(f, NF_IPV4_SRC, vm->ip);
    meters_vm(m, s, port, f);
    if (f && vport) {
        f->write_meta = true;       /* the tenant's pipeline decides */
        f->meta = (uint64_t) m->switches[vm->sw].seq << 32 | vport;
        f->meta_mask = UINT64_MAX;
        f->goto_table = NM_T_VTENANT;
    } else if (f && ctl) {
        act(c, f, NA_CONTROLLER, 0);        /* the agent runs the tenant's flows */
    } else if (f) {
        f->write_meta = true;
        f->meta = (uint64_t) netmodel_vm_comp(m, s) << 32;
        f->meta_mask = META_COMP_MASK;
        f->goto_table = NM_T_TENANT;
    }
    f = flow_new(c, NM_T_CLASSIFY, 100, ck);
    match(f, NF_IN_PORT, port);
    match(f, NF_ETH_SRC, vm->mac);
    match(f, NF_ETH_TYPE, ETH_TYPE_ARP);
    match(f, NF_ARP_SPA, vm->ip);
    match(f, NF_ARP_SHA, vm->mac);
    if (f && vport && !second) {
        f->write_meta = true;
        f->meta = (uint64_t) m->switches[vm->sw].seq << 32 | vport;
        f->meta_mask = UINT64_MAX;
        f->goto_table = NM_T_VTENANT;
    } else {
        act(c, f, NA_CONTROLLER, 0);
    }
}

/* Flows for migrating VM 's' at its second place, this host (see
 * netmodel.h, live migration). */
static void
flows_second_vm(struct fctx *c, int s)
{
    const struct netmodel *m = c->m;
    const struct nm_vm *vm = &m->vms[s];
    uint32_t port = vmport(c, s);
    if (!port || m->vm_comp[s] < 0) {
        return;
    }
    uint64_t ck = netmodel_vm_cookie(m, s);
    flows_port_security(c, s, port, true);
    /* 0: RARP, the announcement of a VM resumed here. */
    struct nm_flow *f = flow_new(c, NM_T_CLASSIFY, 100, ck);
    match(f, NF_IN_PORT, port);
    match(f, NF_ETH_SRC, vm->mac);
    match(f, NF_ETH_TYPE, ETH_TYPE_RARP);
    act(c, f, NA_CONTROLLER, 0);
    /* 10: its broadcasts follow its host's tree only: none from here. */
    f = flow_new(c, NM_T_TENANT, 90, ck);
    match(f, NF_IN_PORT, port);
    match_masked(f, NF_ETH_DST, ETH_MAC_GROUP_BIT, ETH_MAC_GROUP_BIT);
    /* 15: source tag. */
    f = flow_new(c, NM_T_SRC_TAG, 100, ck);
    match(f, NF_IN_PORT, port);
    act(c, f, NA_SET_ETH_SRC, netmodel_wire_mac(m, s));
    if (f) {
        f->goto_table = NM_T_FORWARD;
    }
    flows_delivery(c, s, port);
}

/* The flows of VM 'v' that are not local delivery: the tenant-table entry
 * and source restore where a local member of its component sends (table
 * 10, 30), transit on a gateway (20), and its broadcasts when this host is
 * on its pruned tree (20). */
static void flows_vtenant_entry(struct fctx *, int v);

static void
flows_vm(struct fctx *c, int v, const uint8_t *comp_seen, int *parent, uint8_t *sub,
         int *queue)
{
    const struct netmodel *m = c->m;
    const struct nm_vm *vm = &m->vms[v];
    int h = c->h, pos = c->pos;
    int comp = m->vm_comp[v];
    if (comp < 0) {
        return;
    }
    uint64_t ck = netmodel_vm_cookie(m, v);
    uint64_t wire = netmodel_wire_mac(m, v);
    bool local = vm->host == h;
    if (local && !vmport(c, v)) {
        return;
    }
    /* 10: local senders of the component reach it: at W, and during a
     * migration's dual phase at A too (a copy resubmitted to the source
     * tag first), or in activate at A only. */
    if (comp_seen[comp] && m->switches[vm->sw].tenant_ctl) {
        flows_vtenant_entry(c, v);
    } else if (comp_seen[comp]) {
        struct nm_flow *f = flow_new(c, NM_T_TENANT, 100, ck);
        match_masked(f, NF_METADATA, (uint64_t) m->comp_name[comp] << 32, META_COMP_MASK);
        match(f, NF_ETH_DST, vm->mac);
        if (vm->mig == NM_MIG_DUAL) {
            act(c, f, NA_SET_ETH_DST, netmodel_alt_mac(m, v));
            act(c, f, NA_RESUBMIT, NM_T_SRC_TAG);
        }
        act(c, f, NA_SET_ETH_DST, vm->mig == NM_MIG_ACTIVATE ? netmodel_alt_mac(m, v) : wire);
        if (f) {
            f->goto_table = NM_T_SRC_TAG;
        }
    }
    if (comp_seen[comp]) {
        /* 30: its frames to local members get its own MAC back. */
        struct nm_flow *f = flow_new(c, NM_T_SRC_RESTORE, 100, ck);
        match(f, NF_ETH_SRC, wire);
        act(c, f, NA_SET_ETH_SRC, vm->mac);
        if (f) {
            f->goto_table = NM_T_OUTPUT;
        }
    }
    /* 20: transit on gateways, of each platform MAC toward where it
     * leads. */
    for (int i = 0; i < 2 && m->hosts[h].gateway; i++) {
        int to = i ? alt_host(vm) : wire_host(vm);
        int nx = to >= 0 ? netmodel_next_hop(m, pos, to) : -1;
        if (nx >= 0 && nx != pos && c->tun_port[nx]) {
            struct nm_flow *f = flow_new(c, NM_T_FORWARD, 100, ck);
            match(f, NF_ETH_DST, i ? netmodel_alt_mac(m, v) : wire);
            act(c, f, NA_OUTPUT, c->tun_port[nx]);
            meters_wan(m, h, nx, v, c->tun_port[nx], f);
        }
    }
    if (local) {
        return;
    }
    /* 20: its broadcasts, if this host is on its pruned tree. */
    netmodel_bcast_tree(m, vm->host, comp, parent, sub, queue);
    if (parent[pos] == -2 || !sub[pos]) {
        return;
    }
    struct nm_flow *f = flow_new(c, NM_T_FORWARD, 110, ck);
    match(f, NF_ETH_SRC, wire);
    match_masked(f, NF_ETH_DST, ETH_MAC_GROUP_BIT, ETH_MAC_GROUP_BIT);
    bcast_children(c, f, v, parent, sub);
    if (comp_seen[comp]) {
        /* The local members, with its own MAC (25). */
        act(c, f, NA_SET_ETH_SRC, vm->mac);
        if (f) {
            f->write_meta = true;
            f->meta = (uint64_t) m->comp_name[comp] << 32;
            f->meta_mask = META_COMP_MASK;
            f->goto_table = NM_T_FLOOD;
        }
    }
}

/* 10: a frame of a platform-forwarded VM for VM 'v' of a tenant-controlled
 * switch enters that switch's tables on its end of its link to the
 * platform's switches (netmodel_vsw_entry_port), as it would cross that
 * virtual link; a frame a controlled switch itself sent out of such a link
 * (metadata NM_META_FROM_VTENANT) is not sent back in; with no such link,
 * nothing of the platform reaches 'v'.  Nothing at all where the
 * component has no platform-forwarded VM: then only tenant tables send. */
static void
flows_vtenant_entry(struct fctx *c, int v)
{
    const struct netmodel *m = c->m;
    const struct nm_vm *vm = &m->vms[v];
    int comp = m->vm_comp[v];
    bool mixed = false;
    for (const int *d = m->comp_vms[comp]; *d >= 0 && !mixed; d++) {
        mixed = !m->switches[m->vms[*d].sw].tenant_ctl;
    }
    if (!mixed) {
        return;
    }
    uint64_t ck = netmodel_vm_cookie(m, v);
    uint64_t meta = (uint64_t) m->comp_name[comp] << 32;
    uint32_t vport = netmodel_vm_vport(m, v);
    uint32_t entry = vport ? netmodel_vsw_entry_port(m, vm->sw) : 0;
    struct nm_flow *f = flow_new(c, NM_T_TENANT, 100, ck);
    match(f, NF_METADATA, meta);     /* exact: as the switch reports it */
    match(f, NF_ETH_DST, vm->mac);
    if (f && entry) {
        f->write_meta = true;
        f->meta = (uint64_t) m->switches[vm->sw].seq << 32 | entry;
        f->meta_mask = UINT64_MAX;
        f->goto_table = NM_T_VTENANT;
    }
    f = flow_new(c, NM_T_TENANT, 100, ck);
    match(f, NF_METADATA, meta | NM_META_FROM_VTENANT);
    match(f, NF_ETH_DST, vm->mac);
}

/* 25: a broadcast of component 'comp' to its members on this host. */
static void
flows_flood(struct fctx *c, int comp)
{
    const struct netmodel *m = c->m;
    struct nm_flow *f = flow_new(c, NM_T_FLOOD, 100, netmodel_comp_cookie(m, comp));
    match_masked(f, NF_METADATA, (uint64_t) m->comp_name[comp] << 32, META_COMP_MASK);
    match_masked(f, NF_ETH_DST, ETH_MAC_GROUP_BIT, ETH_MAC_GROUP_BIT);
    /* This host's VMs, not the component's: the same members in the same
     * (index) order, without visiting every member on every bridge. */
    for (const int *d = m->vms_on_host[c->h]; *d >= 0; d++) {
        uint32_t port = m->vm_comp[*d] == comp ? vmport(c, *d) : 0;
        if (port && !m->switches[m->vms[*d].sw].tenant_ctl) {    /* its tenant's */
            act(c, f, NA_OUTPUT, port);
        }
    }
}

/* --- fast failover (core/wanff.h) and twin gateways --- */

/* The plan's group for the tree tunnel to overlay neighbour 'x', NULL. */
static const struct wanff_group *
ff_plan_group(const struct wanff_plan *p, int x)
{
    for (size_t i = 0; i < p->n_groups; i++) {
        if (p->groups[i].peer == x) {
            return &p->groups[i];
        }
    }
    return NULL;
}

/* Fills c->groups (room for every overlay neighbour of c->pos) from plan
 * 'p' and the port numbers: per neighbour x, a bucket per numbered tunnel
 * toward x in h's order (so the first outputs to c->tun_port[x]), then the
 * plan's detour bucket if its first tunnel is numbered; a group needs two
 * buckets, the first plain. */
static void
groups_build(struct fctx *c, const struct wanff_plan *p)
{
    const struct netmodel *m = c->m;
    c->n_groups = 0;
    for (const int *x = m->adj[c->pos]; *x >= 0; x++) {
        struct nm_group *g = &c->groups[c->n_groups];
        int real[TUNNELS_MAX_GATEWAYS];
        size_t nr = netmodel_peers(m, c->h, *x, real);
        memset(g, 0, sizeof *g);
        for (size_t k = 0; k < nr; k++) {
            if (c->real_port[real[k]]) {
                g->b[g->n++] = (struct nm_bucket) {c->real_port[real[k]], 0, real[k]};
            }
        }
        const struct wanff_group *w = ff_plan_group(p, *x);
        if (g->n && w && w->backup >= 0 && c->tun_port[w->backup]) {
            int via[TUNNELS_MAX_GATEWAYS];
            size_t nv = netmodel_peers(m, c->h, w->backup, via);
            for (size_t k = 0; k < nv; k++) {
                if (c->real_port[via[k]] == c->tun_port[w->backup]) {
                    g->b[g->n++] = (struct nm_bucket) {c->tun_port[w->backup], w->mark, via[k]};
                    break;
                }
            }
        }
        if (g->n < 2) {
            continue;
        }
        const struct nm_host *to = &m->hosts[*x];
        g->id = g->b[g->n - 1].mark ? w->id : NM_TWIN_GROUP_BASE + (uint32_t) to->cloud;
        c->n_groups++;
    }
}

/* The group that stands for an output to 'port', or NULL. */
static const struct nm_group *
group_of(const struct fctx *c, uint64_t port)
{
    for (size_t i = 0; i < c->n_groups; i++) {
        if (c->groups[i].b[0].out == port) {
            return &c->groups[i];
        }
    }
    return NULL;
}

/* The marks' rules (0) and the divert table (50); infrastructure. */
static void
flows_ff_infra(struct fctx *c, const struct wanff_plan *p)
{
    uint64_t ck = netmodel_cookie(NM_CK_INFRA, 0, 0);
    for (size_t i = 0; i < p->n_rules; i++) {
        const struct wanff_rule *r = &p->rules[i];
        struct nm_flow *f;
        if (r->kind == WANFF_TRANSIT) {
            if (r->next >= 0 && c->tun_port[r->next]) {
                f = flow_new(c, NM_T_CLASSIFY, 60, ck);
                match(f, NF_TUNNEL_ID, r->mark);
                act(c, f, NA_OUTPUT, c->tun_port[r->next]);
            }
            continue;
        }
        int toward = r->end != c->pos ? netmodel_next_hop(c->m, c->pos, r->end) : -1;
        if (toward >= 0 && c->tun_port[toward]) {
            /* A broadcast goes on marked to the cut's end, and floods from
             * here as if it had crossed the cut: to this host's children
             * in its tree, the one it came from excepted (OpenFlow never
             * outputs to the input port), so each host on the way to the
             * end, and the end itself, gives it to the subtrees the
             * others do not reach. */
            f = flow_new(c, NM_T_CLASSIFY, 61, ck);
            match(f, NF_TUNNEL_ID, r->mark);
            match_masked(f, NF_ETH_DST, ETH_MAC_GROUP_BIT, ETH_MAC_GROUP_BIT);
            act(c, f, NA_OUTPUT, c->tun_port[toward]);
            act(c, f, NA_SET_TUN_ID, 0);
            if (f) {
                f->goto_table = NM_T_FORWARD;
            }
        }
        f = flow_new(c, NM_T_CLASSIFY, 60, ck);
        match(f, NF_TUNNEL_ID, r->mark);
        act(c, f, NA_SET_TUN_ID, 0);
        if (f) {
            f->goto_table = NM_T_FORWARD;
        }
    }
    for (size_t i = 0; i < c->n_groups; i++) {
        const struct nm_bucket *d = &c->groups[i].b[c->groups[i].n - 1];
        const struct wanff_group *g = NULL;
        for (size_t k = 0; d->mark && k < p->n_groups; k++) {
            g = p->groups[k].mark == d->mark ? &p->groups[k] : g;
        }
        if (!d->mark || !g) {
            continue;
        }
        struct nm_flow *f = flow_new(c, NM_T_DIVERT, 10, ck);
        match(f, NF_TUNNEL_ID, g->mark);
        act(c, f, NA_OUTPUT, d->out);
        if (g->backup_is_tree) {
            f = flow_new(c, NM_T_DIVERT, 20, ck);
            match(f, NF_IN_PORT, d->out);
            match(f, NF_TUNNEL_ID, g->mark);
            act(c, f, NA_OUTPUT, 0xfffffff8u);              /* OFPP_IN_PORT */
        }
    }
}

/* Outputs toward an overlay neighbour that has a group, of the flows from
 * index 'from' on, go to the group instead (the marks' rules and the
 * divert table keep their ports). */
static void
flows_ff_groups(struct fctx *c, size_t from)
{
    for (size_t i = from; i < c->out->n; i++) {
        struct nm_flow *f = &c->out->v[i];
        for (size_t k = 0; k < f->n_acts; k++) {
            const struct nm_group *g = f->acts[k].type == NA_OUTPUT
                                       ? group_of(c, f->acts[k].arg) : NULL;
            if (g && f->table != NM_T_DIVERT && f->table != NM_T_CLASSIFY) {
                f->acts[k] = (struct nm_act) {NA_GROUP, g->id};
            }
        }
    }
}

/* Sets up c (zeroed but for m, h, ofport, aux, out) for host c->h: its
 * position, the port numbers of its tunnels, its fast-failover plan (*ff,
 * borrowed from the model) and its groups (its VMs' ports are
 * all_ports()' or scoped_ports()' to number).  0 or ENOMEM; fctx_uninit()
 * either way. */
static int
fctx_init(struct fctx *c, const struct wanff_plan **ff)
{
    const struct netmodel *m = c->m;
    size_t nh = m->n_hosts;
    c->pos = netmodel_pos(m, c->h);
    size_t here = 1;
    for (const int *v = m->vms_on_host[c->h]; *v >= 0; v++) {
        here++;
    }
    for (const int *v = m->mig_vms; v && *v >= 0; v++) {
        here++;
    }
    c->vm_cap = 8;
    while (c->vm_cap < 2 * here) {
        c->vm_cap *= 2;
    }
    c->vm_port = malloc(c->vm_cap * sizeof *c->vm_port);
    for (size_t i = 0; c->vm_port && i < c->vm_cap; i++) {
        c->vm_port[i].vm = -1;
    }
    c->tun_port = calloc(nh ? nh : 1, sizeof *c->tun_port);
    c->real_port = calloc(nh ? nh : 1, sizeof *c->real_port);
    c->groups = calloc(nh ? nh : 1, sizeof *c->groups);
    /* Made with the model (an empty plan where none can be made: no
     * spanning tree, plain outputs). */
    *ff = wanff_plans_get(m->ff, c->pos);
    if (!c->vm_port || !c->tun_port || !c->real_port || !c->groups) {
        return ENOMEM;
    }
    for (int pass = 0; pass < 2; pass++) {
        const int *peers = pass ? (m->backup_adj ? m->backup_adj[c->pos] : NULL)
                                : m->adj[c->pos];
        for (const int *x = peers; x && *x >= 0; x++) {
            int real[TUNNELS_MAX_GATEWAYS];
            size_t nr = netmodel_peers(m, c->h, *x, real);
            for (size_t k = 0; k < nr; k++) {
                char name[16];
                netmodel_tunnel_name(m, c->h, real[k], name);
                c->real_port[real[k]] = c->ofport(c->aux, c->h, name);
                /* Toward x, the first numbered of h's tunnels. */
                c->tun_port[*x] = c->tun_port[*x] ? c->tun_port[*x] : c->real_port[real[k]];
            }
        }
    }
    groups_build(c, *ff);
    return 0;
}

static void
fctx_uninit(struct fctx *c)
{
    free(c->vm_port);
    free(c->tun_port);
    free(c->real_port);
    free(c->groups);
}

/* The port numbers of every VM port of host c->h (fctx_init() numbered
 * its tunnels), and the components with a numbered member there
 * (comp_seen). */
static void
all_ports(struct fctx *c, uint8_t *comp_seen)
{
    const struct netmodel *m = c->m;
    int h = c->h;
    struct nm_port *ports;
    size_t n_ports;
    c->rc = netmodel_ports(m, h, &ports, &n_ports);
    if (c->rc) {
        return;
    }
    for (size_t i = 0; i < n_ports; i++) {
        uint32_t no = ports[i].kind == NM_PORT_VM ? c->ofport(c->aux, h, ports[i].name) : 0;
        if (ports[i].kind == NM_PORT_VM) {
            vmport_set(c, ports[i].vm, no);
        }
    }
    free(ports);
    for (const int *v = m->vms_on_host[h]; *v >= 0; v++) {
        if (m->vm_comp[*v] >= 0 && vmport(c, *v)) {
            comp_seen[m->vm_comp[*v]] = 1;
        }
    }
    for (const int *v = m->mig_vms; *v >= 0; v++) {
        if (netmodel_vm_second(m, *v) == h && m->vm_comp[*v] >= 0 && vmport(c, *v)) {
            comp_seen[m->vm_comp[*v]] = 1;
        }
    }
}

/* Records VM v's port at this host (vmport_set()) (its own, or its
 * migration's second place); its number, 0 if none. */
static uint32_t
vm_port_here(struct fctx *c, int v)
{
    const struct netmodel *m = c->m;
    bool second = m->vms[v].host != c->h;
    if (second && netmodel_vm_second(m, v) != c->h) {
        return 0;
    }
    struct nm_port p;
    vm_port_spec(m, v, second, &p);
    return vmport_set(c, v, c->ofport(c->aux, c->h, p.name));
}

/* What all_ports() finds, for what the flows of owners[0..n_owners) and
 * the floods of comps[0..n_comps) use: the owners' ports here, the members' ports here of the floods compiled, and comp_seen
 * for the owners' components (the first numbered member here is
 * enough). */
static void
scoped_ports(struct fctx *c, const int *owners, size_t n_owners, const int *comps,
             size_t n_comps, uint8_t *comp_seen)
{
    const struct netmodel *m = c->m;
    int h = c->h;
    for (size_t i = 0; i < n_owners; i++) {
        vm_port_here(c, owners[i]);
    }
    for (size_t i = 0; i < n_comps; i++) {
        for (const int *v = m->vms_on_host[h]; comps[i] >= 0 && *v >= 0; v++) {
            if (m->vm_comp[*v] == comps[i] && !vmport(c, *v)) {
                vm_port_here(c, *v);
            }
        }
    }
    uint8_t *asked = calloc(m->n_comps ? m->n_comps : 1, 1);
    if (!asked) {
        c->rc = ENOMEM;
        return;
    }
    for (size_t i = 0; i < n_owners; i++) {
        int k = m->vm_comp[owners[i]];
        if (k < 0 || asked[k]) {
            continue;
        }
        asked[k] = 1;
        for (const int *v = m->vms_on_host[h]; *v >= 0 && !comp_seen[k]; v++) {
            comp_seen[k] = m->vm_comp[*v] == k && (vmport(c, *v) || vm_port_here(c, *v));
        }
        for (const int *v = m->mig_vms; *v >= 0 && !comp_seen[k]; v++) {
            comp_seen[k] = m->vm_comp[*v] == k && netmodel_vm_second(m, *v) == h
                           && (vmport(c, *v) || vm_port_here(c, *v));
        }
    }
    for (size_t i = 0; i < n_comps; i++) {
        /* A flood compiled needs to know its component has members here. */
        int k = comps[i];
        for (const int *v = m->vms_on_host[h]; k >= 0 && *v >= 0 && !comp_seen[k]; v++) {
            comp_seen[k] = m->vm_comp[*v] == k && vmport(c, *v);
        }
        for (const int *v = m->mig_vms; k >= 0 && *v >= 0 && !comp_seen[k]; v++) {
            comp_seen[k] = m->vm_comp[*v] == k && netmodel_vm_second(m, *v) == h
                           && (vmport(c, *v) || vm_port_here(c, *v));
        }
    }
    free(asked);
}

/* Compiles the flows of host 'h': every flow, or when 'scoped' only those
 * of the VMs owners[0..n_owners) and the floods of comps[0..n_comps). */
static int
flows_compile(const struct netmodel *m, int h, nm_ofport_fn *ofport, void *aux, bool scoped,
              const int *owners, size_t n_owners, const int *comps, size_t n_comps,
              struct nm_flows *out)
{
    size_t nh = m->n_hosts;
    struct fctx c = { .m = m, .h = h, .ofport = ofport, .aux = aux, .out = out };
    int *parent = malloc((nh ? nh : 1) * sizeof *parent);
    int *queue = malloc((nh ? nh : 1) * sizeof *queue);
    uint8_t *sub = malloc(nh ? nh : 1);
    uint8_t *comp_seen = calloc(m->n_comps ? m->n_comps : 1, 1);
    const struct wanff_plan *ff = NULL;
    size_t first = out->n;
    c.rc = fctx_init(&c, &ff);
    if (!c.rc && (!parent || !queue || !sub || !comp_seen)) {
        c.rc = ENOMEM;
    }
    if (c.rc) {
        goto out;
    }
    if (scoped) {
        /* Only the port numbers these owners' flows use, asked for one by
         * one: a change's cost does not grow with the VMs on the host. */
        scoped_ports(&c, owners, n_owners, comps, n_comps, comp_seen);
    } else {
        all_ports(&c, comp_seen);
    }
    if (c.rc) {
        goto out;
    }

    if (scoped) {                   /* in the order of a whole compile */
        for (size_t i = 0; i < n_owners && !c.rc; i++) {
            if (m->vms[owners[i]].host == h) {
                flows_local_vm(&c, owners[i], parent, sub, queue);
            } else if (netmodel_vm_second(m, owners[i]) == h) {
                flows_second_vm(&c, owners[i]);
            }
        }
        for (size_t i = 0; i < n_comps && !c.rc; i++) {
            if (comps[i] >= 0 && comp_seen[comps[i]]) {
                flows_flood(&c, comps[i]);
            }
        }
        for (size_t i = 0; i < n_owners && !c.rc; i++) {
            flows_vm(&c, owners[i], comp_seen, parent, sub, queue);
        }
        goto out;
    }
    flows_infra(&c);
    flows_ff_infra(&c, ff);
    for (const int *v = m->vms_on_host[h]; *v >= 0 && !c.rc; v++) {
        flows_local_vm(&c, *v, parent, sub, queue);
    }
    for (const int *v = m->mig_vms; *v >= 0 && !c.rc; v++) {
        if (netmodel_vm_second(m, *v) == h) {
            flows_second_vm(&c, *v);
        }
    }
    for (size_t k = 0; k < m->n_comps && !c.rc; k++) {
        if (comp_seen[k]) {
            flows_flood(&c, (int) k);
        }
    }
    for (size_t v = 0; v < m->n_vms && !c.rc; v++) {
        flows_vm(&c, (int) v, comp_seen, parent, sub, queue);
    }

out:
    if (!c.rc) {
        flows_ff_groups(&c, first);
    }
    fctx_uninit(&c);
    free(parent);
    free(queue);
    free(sub);
    free(comp_seen);
    return c.rc;
}

int
netmodel_groups(const struct netmodel *m, int h, nm_ofport_fn *ofport, void *aux,
                struct nm_group **out, size_t *n)
{
    struct fctx c = { .m = m, .h = h, .ofport = ofport, .aux = aux };
    const struct wanff_plan *ff = NULL;
    int rc = fctx_init(&c, &ff);
    *out = NULL;
    *n = 0;
    if (!rc) {
        *out = c.groups;            /* handed over */
        *n = c.n_groups;
        c.groups = NULL;
    }
    fctx_uninit(&c);
    return rc;
}

int
netmodel_flows(const struct netmodel *m, int h, nm_ofport_fn *ofport, void *aux,
               struct nm_flows *out)
{
    return flows_compile(m, h, ofport, aux, false, NULL, 0, NULL, 0, out);
}

int
netmodel_flows_owners(const struct netmodel *m, int h, nm_ofport_fn *ofport, void *aux,
                      const int *vms, size_t n, const int *comps, size_t n_comps,
                      struct nm_flows *out)
{
    return flows_compile(m, h, ofport, aux, true, vms, n, comps, n_comps, out);
}

void
nm_flows_clear(struct nm_flows *fl)
{
    for (size_t i = 0; i < fl->n; i++) {
        free(fl->v[i].acts);
    }
    free(fl->v);
    memset(fl, 0, sizeof *fl);
}

int
netmodel_host_by_dpid(const struct netmodel *m, uint64_t dpid)
{
    for (size_t h = 0; h < m->n_hosts; h++) {
        if (m->hosts[h].dpid == dpid) {
            return (int) h;
        }
    }
    return -1;
}
