/* statusfold.c: see statusfold.h. */
#include "core/statusfold.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct verdict {
    enum nm_state state;            /* or WAY_UNKNOWN in the ways memo */
    char *detail;                   /* owned */
};

#define WAY_UNKNOWN ((enum nm_state) -1)

static void
verdict_set(struct verdict *v, enum nm_state st, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void
verdict_set(struct verdict *v, enum nm_state st, const char *fmt, ...)
{
    free(v->detail);
    v->detail = NULL;
    v->state = st;
    if (fmt) {
        va_list ap;
        va_start(ap, fmt);
        if (vasprintf(&v->detail, fmt, ap) < 0) {
            v->detail = NULL;
        }
        va_end(ap);
    }
}

/* Folds child verdict 'c' named 'what' into parent 'p' (error beats
 * pending beats realized; the first error is kept; a realized parent
 * without a note takes a realized child's). */
static void
fold(struct verdict *p, const struct verdict *c, const char *what)
{
    if (c->state == NM_ERROR && p->state != NM_ERROR) {
        verdict_set(p, NM_ERROR, "%s: %s", what, c->detail ? c->detail : "error");
    } else if (c->state == NM_PENDING && p->state == NM_REALIZED) {
        verdict_set(p, NM_PENDING, "waiting for %s", what);
    } else if (c->state == NM_REALIZED && c->detail && p->state == NM_REALIZED
               && !p->detail) {
        verdict_set(p, NM_REALIZED, "%s: %s", what, c->detail);
    }
}

static bool
status_changed(const struct nm_obj *o, const struct verdict *v)
{
    const char *a = o->detail ? o->detail : "", *b = v->detail ? v->detail : "";
    return o->state != v->state || strcmp(a, b)
           || (v->state != NM_PENDING && o->observed_generation < o->generation);
}

static void
emit(struct statusfold_batch *b, enum nm_kind kind, struct nm_obj *o, const struct verdict *v)
{
    if (!status_changed(o, v)) {
        return;
    }
    if (b->n == b->cap) {
        /* Grown as statuses change, not sized by the model: a change
         * moves a handful. */
        size_t cap = b->cap ? 2 * b->cap : 16;
        struct nm_status *nv = realloc(b->v, cap * sizeof *nv);
        b->v = nv ? nv : b->v;
        struct nm_obj **no = nv ? realloc(b->obj, cap * sizeof *no) : NULL;
        b->obj = no ? no : b->obj;
        if (!nv || !no) {
            b->oom = true;
            return;
        }
        b->cap = cap;
    }
    b->obj[b->n] = o;
    struct nm_status *s = &b->v[b->n++];
    s->kind = kind;
    s->id = o->id;
    s->state = v->state;
    s->detail = v->detail ? strdup(v->detail) : NULL;     /* owned by the batch */
    s->observed_generation = v->state == NM_PENDING ? o->observed_generation : o->generation;
}

void
statusfold_commit(struct statusfold_batch *b)
{
    for (size_t i = 0; i < b->n; i++) {
        struct nm_obj *o = b->obj[i];
        o->state = b->v[i].state;
        free(o->detail);
        o->detail = b->v[i].detail ? strdup(b->v[i].detail) : NULL;
        o->observed_generation = b->v[i].observed_generation;
    }
}

/* What the way from one host to another holds for the VMs of the first
 * (the same for all of them): PATH_OK, or the first host 'at' that stops
 * it (no tunnel onward from it, in error, or pending).  A way that is OK
 * may cross a tree tunnel that is down: the first such, cut_a--cut_b in
 * the way's direction (-1: none), and whether a detour joins its ends. */
enum path_kind { PATH_UNKNOWN, PATH_OK, PATH_NONE, PATH_ERROR, PATH_PENDING };
enum detour_kind { DETOUR_UNKNOWN, DETOUR_YES, DETOUR_NO };
struct path {
    uint8_t kind;
    uint8_t detour;                 /* enum detour_kind, when cut_a >= 0 */
    int at;
    int cut_a, cut_b;
};

/* Whether the tunnel between hosts x and y is down at either end. */
static bool
tunnel_down(const struct statusfold_host *hosts, int x, int y)
{
    for (const int *p = hosts[x].down; p && *p >= 0; p++) {
        if (*p == y) {
            return true;
        }
    }
    for (const int *p = hosts[y].down; p && *p >= 0; p++) {
        if (*p == x) {
            return true;
        }
    }
    return false;
}

/* The hosts that stand at overlay node x: x, and its twin when x is the
 * preferred gateway of a cloud with two (core/netmodel.h, "Two
 * gateways").  Returns their count. */
static size_t
standing_at(const struct netmodel *m, int x, int out[2])
{
    const struct nm_host *ho = &m->hosts[x];
    out[0] = x;
    if (ho->gateway && ho->cloud >= 0 && m->clouds[ho->cloud].n_gateways > 1
        && m->clouds[ho->cloud].gateways[0] == x) {
        out[1] = m->clouds[ho->cloud].gateways[1];
        return 2;
    }
    return 1;
}

/* Whether overlay neighbours x and y are cut: every tunnel between the
 * hosts standing at them is down at either end.  With 'x_alone', only x's
 * own tunnels count: a frame that starts at x (a VM's host) leaves by
 * them, and x's twin does not carry it (a preferred gateway's group toward
 * y falls to the detour, not to its twin). */
static bool
link_down(const struct netmodel *m, const struct statusfold_host *hosts, int x, int y,
          bool x_alone)
{
    int xs[2], ys[2];
    size_t nx = x_alone ? (xs[0] = x, 1) : standing_at(m, x, xs);
    size_t ny = standing_at(m, y, ys);
    for (size_t i = 0; i < nx; i++) {
        for (size_t k = 0; k < ny; k++) {
            if (!tunnel_down(hosts, xs[i], ys[k])) {
                return false;
            }
        }
    }
    return true;
}

/* Whether the tree and backup tunnels that are up (or unknown) join hosts
 * a and b: a breadth-first search; 'queue' and 'seen' are n_hosts of
 * scratch. */
static bool
detour_exists(const struct netmodel *m, const struct statusfold_host *hosts, int a,
              int b, int *queue, uint8_t *seen)
{
    memset(seen, 0, m->n_hosts);
    size_t head = 0, tail = 0;
    queue[tail++] = a;
    seen[a] = 1;
    while (head < tail) {
        int x = queue[head++];
        int *const *lists[2] = { m->adj, m->backup_adj };
        for (int l = 0; l < 2; l++) {
            for (const int *y = lists[l] ? lists[l][x] : NULL; y && *y >= 0; y++) {
                if (seen[*y] || link_down(m, hosts, x, *y, false)) {
                    continue;
                }
                if (*y == b) {
                    return true;
                }
                seen[*y] = 1;
                queue[tail++] = *y;
            }
        }
    }
    return false;
}

/* The realized second gateway of the cloud whose preferred gateway is
 * host 'g', when 'g' itself is not realized: traffic for that cloud goes
 * through the twin (core/netmodel.h, "Two gateways"); -1 otherwise. */
static int
standing_twin(const struct netmodel *m, const struct verdict *hv, int g)
{
    const struct nm_host *ho = &m->hosts[g];
    if (!ho->gateway || ho->cloud < 0 || hv[g].state == NM_REALIZED) {
        return -1;
    }
    const struct nm_cloud *cl = &m->clouds[ho->cloud];
    int t = cl->n_gateways > 1 && cl->gateways[0] == g ? cl->gateways[1] : -1;
    return t >= 0 && hv[t].state == NM_REALIZED ? t : -1;
}

/* The way from host 'h' to host 'dst', computed once per fold ('paths' is
 * nh * nh, zeroed: every pair PATH_UNKNOWN). */
static struct path *
path_get(const struct netmodel *m, const struct statusfold_host *hosts,
         const struct verdict *hv, struct path *paths, int h, int dst)
{
    struct path *p = &paths[(size_t) h * m->n_hosts + (size_t) dst];
    if (p->kind != PATH_UNKNOWN) {
        return p;
    }
    *p = (struct path) { PATH_OK, DETOUR_UNKNOWN, -1, -1, -1 };
    for (int x = h; x != dst;) {
        int nx = netmodel_next_hop(m, x, dst);
        if (nx < 0) {
            *p = (struct path) { PATH_NONE, DETOUR_UNKNOWN, x, -1, -1 };
            break;
        }
        if (p->cut_a < 0 && link_down(m, hosts, x, nx, x == h)) {
            p->cut_a = x;
            p->cut_b = nx;
        }
        if (nx == dst) {
            break;
        }
        int twin = standing_twin(m, hv, nx);
        if (twin >= 0) {
            x = nx;                 /* its cloud's other gateway forwards */
            continue;
        }
        if (hv[nx].state == NM_ERROR) {
            *p = (struct path) { PATH_ERROR, DETOUR_UNKNOWN, nx, -1, -1 };
            break;
        }
        if (hv[nx].state != NM_REALIZED) {
            *p = (struct path) { PATH_PENDING, DETOUR_UNKNOWN, nx, -1, -1 };
            break;
        }
        x = nx;
    }
    return p;
}

/* A cloud a realized VM reaches across a down tree tunnel, and that way. */
struct cut {
    int dc;
    const struct path *p;
};

/* The note of a realized VM on cuts[0..n) (one per cloud, reordered here
 * by cloud name): "path to cloud C via backup: tunnel A--B down" each,
 * "; " between them.  A new string (the caller frees it), NULL when
 * memory runs out. */
static char *
note_cuts(const struct netmodel *m, struct cut *cuts, size_t n)
{
    for (size_t i = 1; i < n; i++) {            /* a handful: insertion sort */
        for (size_t k = i; k > 0 && strcmp(m->clouds[cuts[k - 1].dc].o.name,
                                           m->clouds[cuts[k].dc].o.name) > 0; k--) {
            struct cut t = cuts[k];
            cuts[k] = cuts[k - 1];
            cuts[k - 1] = t;
        }
    }
    char *out = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&out, &len);
    if (!f) {
        return NULL;
    }
    for (size_t i = 0; i < n; i++) {
        const struct path *p = cuts[i].p;
        const char *a = m->hosts[p->cut_a].o.name, *b = m->hosts[p->cut_b].o.name;
        if (strcmp(a, b) > 0) {
            const char *t = a;
            a = b;
            b = t;
        }
        fprintf(f, "%spath to cloud %s %s: tunnel %s--%s down%s", i ? "; " : "",
                m->clouds[cuts[i].dc].o.name, p->detour == DETOUR_YES ? "via backup" : "lost",
                a, b, p->detour == DETOUR_YES ? "" : ", no backup");
    }
    if (fclose(f)) {
        free(out);
        return NULL;
    }
    return out;
}

bool
statusfold_compute(struct netmodel *m, const struct statusfold_host *hosts,
                   char *const *vm_err, const uint32_t *vm_port,
                   struct statusfold_batch *batch)
{
    size_t nh = m->n_hosts;
    struct verdict *hv = calloc(nh ? nh : 1, sizeof *hv);
    struct verdict *vv = calloc(m->n_vms ? m->n_vms : 1, sizeof *vv);
    struct verdict *sv = calloc(m->n_switches ? m->n_switches : 1, sizeof *sv);
    struct verdict *nv = calloc(m->n_networks ? m->n_networks : 1, sizeof *nv);
    struct path *paths = calloc(nh ? nh * nh : 1, sizeof *paths);
    int *queue = calloc(nh ? nh : 1, sizeof *queue);
    uint8_t *seen = calloc(nh ? nh : 1, 1);
    size_t *noted = calloc(m->n_clouds ? m->n_clouds : 1, sizeof *noted);
    struct cut *cuts = calloc(m->n_clouds ? m->n_clouds : 1, sizeof *cuts);
    /* Per component and host, what its members' ways hold (a memo kept
     * while it stays small; else found per VM). */
    size_t n_ways = m->n_comps * nh;
    struct verdict *ways = n_ways && n_ways <= (1u << 20) ? malloc(n_ways * sizeof *ways)
                                                         : NULL;
    for (size_t i = 0; ways && i < n_ways; i++) {
        ways[i] = (struct verdict) { WAY_UNKNOWN, NULL };
    }
    memset(batch, 0, sizeof *batch);
    bool all_done = true;
    if (!hv || !vv || !sv || !nv || !paths || !queue || !seen || !noted || !cuts) {
        all_done = false;
        goto out;
    }

    for (size_t h = 0; h < nh; h++) {
        if (hosts[h].detail) {
            verdict_set(&hv[h], hosts[h].state, "%s", hosts[h].detail);
        } else {
            verdict_set(&hv[h], hosts[h].state, NULL);
        }
    }
    for (size_t v = 0; v < m->n_vms; v++) {
        const struct nm_vm *vm = &m->vms[v];
        int h = vm->host, c = m->vm_comp[v];
        verdict_set(&vv[v], NM_REALIZED, NULL);
        if (h >= 0 && hosts[h].foreign) {
            if (vm->o.detail) {
                verdict_set(&vv[v], vm->o.state, "%s", vm->o.detail);
            } else {
                verdict_set(&vv[v], vm->o.state, NULL);
            }
            continue;
        }
        if (h < 0 || c < 0) {
            verdict_set(&vv[v], NM_ERROR, "%s", "no host");
            continue;
        }
        if (netmodel_is_twin(m, h)) {
            verdict_set(&vv[v], NM_ERROR, "host %s is its cloud's second gateway, which "
                        "takes no VMs (it stands in for the first one)",
                        m->hosts[h].o.name);
            continue;
        }
        if (hv[h].state == NM_ERROR) {
            verdict_set(&vv[v], NM_ERROR, "host %s: %s", m->hosts[h].o.name,
                        hv[h].detail ? hv[h].detail : "error");
            continue;
        }
        if (vm_err[v]) {
            verdict_set(&vv[v], NM_ERROR, "%s", vm_err[v]);
            continue;
        }
        if (!vm_port[v] && !vm->iface[0] && hv[h].state == NM_REALIZED) {
            /* Bound by its hypervisor (ctrl/recon_ovsdb.c): no interface
             * on its host carries it yet. */
            verdict_set(&vv[v], NM_PENDING, "waiting for an interface on host %s "
                        "with external_ids:skyvisor-vm-id=%s", m->hosts[h].o.name,
                        vm->o.id);
            continue;
        }
        if (!vm_port[v] || hv[h].state != NM_REALIZED) {
            verdict_set(&vv[v], NM_PENDING, "waiting for host %s", m->hosts[h].o.name);
            continue;
        }
        /* Every bridge on the way to the other members' hosts.  The
         * member's own host is not on the way: when it is down, that
         * member is in error, not this VM, whose side is in place.  What
         * the ways hold is the same for every member of the component on
         * this host: found for the first, copied for the others (ways). */
        struct verdict *way = ways ? &ways[(size_t) c * nh + (size_t) h] : NULL;
        if (way && way->state != WAY_UNKNOWN) {
            if (way->detail) {
                verdict_set(&vv[v], way->state, "%s", way->detail);
            } else {
                verdict_set(&vv[v], way->state, NULL);
            }
            continue;
        }
        size_t n_cuts = 0;
        for (size_t dst = 0; dst < nh && vv[v].state == NM_REALIZED; dst++) {
            if (!m->comp_hosts[(size_t) c * nh + dst] || (int) dst == h
                || netmodel_is_twin(m, (int) dst)) {     /* its VMs: in error */
                continue;
            }
            struct path *p = path_get(m, hosts, hv, paths, h, (int) dst);
            int dc = m->hosts[dst].cloud;
            if (p->kind == PATH_OK && p->cut_a >= 0 && dc >= 0 && noted[dc] != v + 1) {
                noted[dc] = v + 1;
                if (p->detour == DETOUR_UNKNOWN) {
                    p->detour = detour_exists(m, hosts, p->cut_a, p->cut_b, queue, seen)
                                ? DETOUR_YES : DETOUR_NO;
                }
                cuts[n_cuts++] = (struct cut) { dc, p };
            }
            if (p->kind == PATH_NONE) {
                const struct nm_host *a = &m->hosts[p->at], *b = &m->hosts[dst];
                verdict_set(&vv[v], NM_ERROR, "no tunnel path from cloud %s to "
                            "cloud %s (each cloud needs a gateway host)",
                            a->cloud >= 0 ? m->clouds[a->cloud].o.name : "?",
                            b->cloud >= 0 ? m->clouds[b->cloud].o.name : "?");
            } else if (p->kind == PATH_ERROR) {
                verdict_set(&vv[v], NM_ERROR, "host %s on the path to host %s: %s",
                            m->hosts[p->at].o.name, m->hosts[dst].o.name,
                            hv[p->at].detail ? hv[p->at].detail : "error");
            } else if (p->kind == PATH_PENDING) {
                verdict_set(&vv[v], NM_PENDING, "waiting for host %s",
                            m->hosts[p->at].o.name);
            }
        }
        if (vv[v].state == NM_REALIZED && n_cuts) {
            char *note = note_cuts(m, cuts, n_cuts);
            verdict_set(&vv[v], NM_REALIZED, "%s", note ? note : "tunnels down");
            free(note);
        }
        if (way) {
            way->state = vv[v].state;
            way->detail = vv[v].detail ? strdup(vv[v].detail) : NULL;
        }
    }
    for (size_t s = 0; s < m->n_switches; s++) {
        verdict_set(&sv[s], NM_REALIZED, NULL);
    }
    for (size_t v = 0; v < m->n_vms; v++) {
        if (m->vms[v].sw >= 0 && (vv[v].state != NM_REALIZED || vv[v].detail)) {
            char what[160];
            snprintf(what, sizeof what, "vm %s", m->vms[v].o.name);
            fold(&sv[m->vms[v].sw], &vv[v], what);
        }
    }
    for (size_t n = 0; n < m->n_networks; n++) {
        verdict_set(&nv[n], NM_REALIZED, NULL);
    }
    for (size_t s = 0; s < m->n_switches; s++) {
        if (m->switches[s].network >= 0) {
            char what[160];
            snprintf(what, sizeof what, "switch %s", m->switches[s].o.name);
            fold(&nv[m->switches[s].network], &sv[s], what);
        }
    }

    for (size_t c = 0; c < m->n_clouds; c++) {
        struct verdict cv = {NM_REALIZED, NULL};
        bool has_hosts = false;
        for (size_t h = 0; h < nh; h++) {
            has_hosts |= m->hosts[h].cloud == (int) c;
        }
        int g = m->clouds[c].gateway;
        int t = m->clouds[c].n_gateways > 1 ? m->clouds[c].gateways[1] : -1;
        if (has_hosts && g < 0) {
            verdict_set(&cv, NM_ERROR, "%s", "no gateway host: the cloud's hosts "
                        "cannot reach other clouds");
        } else if (t >= 0 && (hv[g].state == NM_REALIZED) != (hv[t].state == NM_REALIZED)) {
            /* One of two gateways stands: the cloud is reached through it. */
            int up = hv[g].state == NM_REALIZED ? g : t, down = up == g ? t : g;
            verdict_set(&cv, NM_REALIZED, "gateway %s: %s; traffic goes through gateway %s",
                        m->hosts[down].o.name,
                        hv[down].detail ? hv[down].detail : "not realized",
                        m->hosts[up].o.name);
        } else if (g >= 0) {
            for (int k = 0; k < 2; k++) {
                int x = k ? t : g;
                if (x >= 0) {
                    char what[160];
                    snprintf(what, sizeof what, "gateway %s", m->hosts[x].o.name);
                    fold(&cv, &hv[x], what);
                }
            }
        }
        emit(batch, NK_CLOUD, &m->clouds[c].o, &cv);
        all_done &= cv.state != NM_PENDING || (g >= 0 && hosts[g].foreign);
        free(cv.detail);
    }
    for (size_t h = 0; h < nh; h++) {
        emit(batch, NK_HOST, &m->hosts[h].o, &hv[h]);
        all_done &= hv[h].state != NM_PENDING || hosts[h].foreign;
    }
    for (size_t v = 0; v < m->n_vms; v++) {
        emit(batch, NK_VM, &m->vms[v].o, &vv[v]);
        all_done &= vv[v].state != NM_PENDING
                    || (m->vms[v].host >= 0 && hosts[m->vms[v].host].foreign);
    }
    for (size_t s = 0; s < m->n_switches; s++) {
        emit(batch, NK_SWITCH, &m->switches[s].o, &sv[s]);
    }
    for (size_t l = 0; l < m->n_links; l++) {
        const struct nm_link *lk = &m->links[l];
        struct verdict lv = {NM_REALIZED, NULL};
        if (lk->a >= 0) fold(&lv, &sv[lk->a], m->switches[lk->a].o.name);
        if (lk->b >= 0) fold(&lv, &sv[lk->b], m->switches[lk->b].o.name);
        emit(batch, NK_LINK, &m->links[l].o, &lv);
        if (lk->network >= 0) {
            char what[160];
            snprintf(what, sizeof what, "link %s", lk->o.name);
            fold(&nv[lk->network], &lv, what);
        }
        free(lv.detail);
    }
    for (size_t n = 0; n < m->n_networks; n++) {
        emit(batch, NK_NETWORK, &m->networks[n].o, &nv[n]);
    }
    for (size_t t = 0; t < m->n_tenants; t++) {
        struct verdict tv = {NM_REALIZED, NULL};
        for (size_t n = 0; n < m->n_networks; n++) {
            if (m->networks[n].tenant == (int) t) {
                char what[160];
                snprintf(what, sizeof what, "network %s", m->networks[n].o.name);
                fold(&tv, &nv[n], what);
            }
        }
        emit(batch, NK_TENANT, &m->tenants[t].o, &tv);
        free(tv.detail);
    }

out:
    for (size_t h = 0; hv && h < nh; h++) free(hv[h].detail);
    for (size_t v = 0; vv && v < m->n_vms; v++) free(vv[v].detail);
    for (size_t s = 0; sv && s < m->n_switches; s++) free(sv[s].detail);
    for (size_t n = 0; nv && n < m->n_networks; n++) free(nv[n].detail);
    free(hv);
    free(vv);
    free(sv);
    free(nv);
    free(paths);
    free(queue);
    free(seen);
    free(noted);
    for (size_t i = 0; ways && i < n_ways; i++) {
        free(ways[i].detail);
    }
    free(ways);
    free(cuts);
    if (batch->oom) {
        statusfold_batch_uninit(batch);
        all_done = false;
    }
    return all_done;
}

void
statusfold_batch_uninit(struct statusfold_batch *b)
{
    for (size_t i = 0; b->v && i < b->n; i++) {
        free((char *) b->v[i].detail);
    }
    free(b->v);
    free(b->obj);
    memset(b, 0, sizeof *b);
}
