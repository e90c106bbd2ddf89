/* reconciler.c: desired state -> OVSDB and OpenFlow, statuses back.
 * The design is in reconciler.h, the split into files in
 * recon_internal.h.
 *
 * Snapshot publication uses liburcu's bulletproof flavour (urcu-bp), so
 * reader threads (the controller's loop, the HTTP server's pool) need no
 * registration: a reader holds urcu_bp_read_lock() while it uses the
 * model, and the reconciler frees a replaced model only after
 * urcu_bp_synchronize_rcu().  The reconciler thread alone writes the
 * status fields of the current model (nm_obj.state/detail); readers never
 * look at them. */
#include "ctrl/reconciler.h"

#include <errno.h>
#include <malloc.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>
#include <urcu/urcu-bp.h>

#include "core/statusfold.h"
#include "core/vlog.h"
#include "ctrl/flowtable.h"
#include "ctrl/ovsdb.h"
#include "ctrl/ovsdb_replica.h"
#include "ctrl/recon_internal.h"
#include "ctrl/recon_migration.h"
#include "ctrl/recon_bfd.h"
#include "ctrl/topology.h"
#include "ctrl/vtranslate.h"

long long
recon_now_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long) ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

const char *
recon_stage_name(enum recon_stage s)
{
    static const char *const names[RECON_N_STAGES] = {
        "desired", "ovsdb", "ports", "plan", "apply", "statuses", "lifecycle",
    };
    return s < RECON_N_STAGES ? names[s] : "?";
}

/* Adds the time since '*mark' to stage 's' of 'st' and moves the mark. */
static void
stage_done(long long st[RECON_N_STAGES], long long *mark, enum recon_stage s)
{
    long long now = recon_now_us();
    st[s] += now - *mark;
    *mark = now;
}

void
recon_wake(struct reconciler *r)
{
    uint64_t one = 1;
    ssize_t n = write(r->wake_fd, &one, sizeof one);
    (void) n;
}

void
reconciler_kick(struct reconciler *r)
{
    atomic_store(&r->need_load, true);
    recon_wake(r);
}

bool
recon_is_up(struct reconciler *r, uint64_t dpid)
{
    bool up = false;
    pthread_mutex_lock(&r->mu);
    for (size_t i = 0; i < r->n_up && !up; i++) {
        up = r->up[i] == dpid;
    }
    pthread_mutex_unlock(&r->mu);
    return up;
}


void
recon_changes_uninit(struct recon_changes *c)
{
    for (size_t i = 0; i < c->n_vms; i++) {
        free(c->vms[i].o.detail);
    }
    free(c->vms);
    free(c->networks);
    free(c->vms_gone);
    memset(c, 0, sizeof *c);
}

static void
owners_uninit(struct recon_owners *o)
{
    free(o->vms);
    free(o->comps);
    free(o->vsws);
    free(o->cookies);
    free(o->left);
    memset(o, 0, sizeof *o);
}

static int
cmp_portno(const void *a, const void *b)
{
    return strcmp(((const struct recon_portno *) a)->name,
                  ((const struct recon_portno *) b)->name);
}

/* The port numbers of a->ports now, sorted by name (caller frees); NULL
 * when memory runs out. */
static struct recon_portno *
portnos(const struct agent *a)
{
    struct recon_portno *v = malloc((a->n_ports ? a->n_ports : 1) * sizeof *v);
    const struct ovsdb_replica *rep = ovsdb_get_replica(a->db);
    for (size_t i = 0; v && i < a->n_ports; i++) {
        snprintf(v[i].name, sizeof v[i].name, "%s", a->ports[i].name);
        v[i].pos = (uint32_t) i;
        v[i].no = recon_ofport(rep, a->ports[i].name);
        if (!v[i].no) {
            v[i].no = recon_pending_ofport(a, a->ports[i].name);
        }
        v[i].vm = a->ports[i].kind == NM_PORT_VM && !a->ports[i].second
                  ? a->ports[i].vm : -1;
    }
    if (v) {
        qsort(v, a->n_ports, sizeof *v, cmp_portno);
    }
    return v;
}

static int
cmp_name_portno(const void *key, const void *elem)
{
    return strcmp(key, ((const struct recon_portno *) elem)->name);
}

/* The numbers of a->known for the same ports a->ports names, with their
 * VMs' indexes in the current model (caller frees); NULL when memory runs
 * out or a port is not known.  When a->ports is the list a->known was
 * taken from (a->ports_sig), each entry's port is found by its position,
 * without a search: a host no change touched, on every pass. */
static struct recon_portno *
copy_portnos(const struct agent *a)
{
    struct recon_portno *v = malloc((a->n_known ? a->n_known : 1) * sizeof *v);
    if (v && a->n_known) {
        memcpy(v, a->known, a->n_known * sizeof *v);
    }
    if (v && a->n_known == a->n_ports && a->ports_sig && a->known_sig == a->ports_sig) {
        for (size_t j = 0; j < a->n_known; j++) {
            const struct nm_port *p = &a->ports[v[j].pos];
            v[j].vm = p->kind == NM_PORT_VM && !p->second ? p->vm : -1;
        }
        return v;
    }
    for (size_t i = 0; v && i < a->n_ports; i++) {
        struct recon_portno *p = bsearch(a->ports[i].name, v, a->n_known, sizeof *v,
                                         cmp_name_portno);
        if (!p) {
            free(v);
            return NULL;
        }
        p->vm = a->ports[i].kind == NM_PORT_VM && !a->ports[i].second
                ? a->ports[i].vm : -1;
        p->pos = (uint32_t) i;
    }
    return v;
}

static bool
is_owner(const struct recon_owners *o, int vm)
{
    for (size_t i = 0; vm >= 0 && i < o->n_vms; i++) {
        if (o->vms[i] == vm) {
            return true;
        }
    }
    return false;
}

/* Whether component 'comp' (its name) has a member on host 'h' whose port
 * is numbered in now[0..n). */
static bool
comp_numbered(const struct netmodel *m, int h, uint32_t comp,
              const struct recon_portno *now, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (now[i].vm >= 0 && now[i].no && m->vms[now[i].vm].host == h
            && netmodel_vm_comp(m, now[i].vm) == comp) {
            return true;
        }
    }
    return false;
}

/* Whether bridge 'h' must be planned whole although no change asked for
 * it: a port number its flows use moved since its last plan (a VM port
 * numbered late, a restarted switch), unless it is the port of a changed
 * VM, whose flows the owners' plan compiles anyway; or a changed VM here
 * is (or was) the only member of its component with a numbered port,
 * which changes the component's other flows here. */
static bool
plan_whole(const struct agent *a, const struct netmodel *m, int h,
           const struct recon_owners *o, const struct recon_portno *now)
{
    size_t i = 0, k = 0;
    while (i < a->n_ports || k < a->n_known) {
        int c = i == a->n_ports ? 1 : k == a->n_known ? -1
                : strcmp(now[i].name, a->known[k].name);
        if (c > 0) {
            k++;                    /* gone: its VM left this host */
            continue;
        }
        if ((c < 0 || now[i].no != a->known[k].no) && !is_owner(o, now[i].vm)) {
            return true;
        }
        k += c == 0;
        i++;
    }
    for (size_t j = 0; j < o->n_vms; j++) {
        int v = o->vms[j];
        if (m->vms[v].host == h && m->vm_comp[v] >= 0) {
            /* Its component's other flows here stay as they are only if
             * another member here had a number already. */
            bool other = false;
            for (size_t x = 0; x < a->n_ports && !other; x++) {
                other = now[x].vm >= 0 && now[x].vm != v && now[x].no
                        && !is_owner(o, now[x].vm) && m->vms[now[x].vm].host == h
                        && m->vm_comp[now[x].vm] == m->vm_comp[v];
            }
            if (!other) {
                return true;
            }
        }
    }
    for (size_t j = 0; j < o->n_left; j++) {
        if (!strcmp(o->left[j].host, m->hosts[h].o.id)
            && !comp_numbered(m, h, o->left[j].comp, now, a->n_ports)) {
            return true;
        }
    }
    return false;
}


/* Publishes 's' (consumed) and frees the snapshot it replaces once no
 * reader holds it. */
static void
publish(struct reconciler *r, struct snapshot *s)
{
    struct snapshot *old = r->snap;
    s->gen = ++r->snap_gen;
    rcu_assign_pointer(r->snap, s);
    if (old) {
        urcu_bp_synchronize_rcu();
        netmodel_free(&old->m);
        free(old);
    }
}

static bool
load(struct reconciler *r)
{
    struct snapshot *s = calloc(1, sizeof *s);
    if (!s) {
        return false;
    }
    netmodel_init(&s->m);
    int rc = r->store.load(r->aux, &s->m);
    if (!rc) {
        s->m.layout = r->opt.layout;
        rc = netmodel_finish(&s->m);
    }
    if (rc) {
        VLOG_WRN(RECON_MOD, "loading the desired state: %s", strerror(rc));
        netmodel_free(&s->m);
        free(s);
        return false;
    }
    publish(r, s);
    return true;
}

/* The agent of the host with this id, NULL if none (none is created). */
static struct agent *
agent_find(struct reconciler *r, const char *host_id)
{
    for (size_t i = 0; i < r->n_agents; i++) {
        if (!strcmp(r->agents[i].id, host_id)) {
            return &r->agents[i];
        }
    }
    return NULL;
}

/* Marks the bridges that may carry network 'net' of 'm' for a whole plan
 * ('whole') or an owners' plan. */
static bool
mark_network(struct reconciler *r, const struct netmodel *m, int net, bool whole)
{
    if (net < 0) {
        return true;
    }
    uint8_t *mark = calloc(m->n_hosts ? m->n_hosts : 1, 1);
    if (!mark) {
        return false;
    }
    netmodel_network_hosts(m, net, mark);
    for (size_t h = 0; h < m->n_hosts; h++) {
        struct agent *a = mark[h] ? agent_find(r, m->hosts[h].o.id) : NULL;
        if (a) {
            a->replan |= whole;
            a->owners = true;
        }
    }
    free(mark);
    return true;
}

static void
add_comp(struct recon_owners *o, int c)
{
    for (size_t i = 0; i < o->n_comps; i++) {
        if (o->comps[i] == c) {
            return;
        }
    }
    o->comps[o->n_comps++] = c;
}

/* Records what a change to VM 'v' of 'm' (the model before the change,
 * 'after' false, or after it) makes this pass plan (core/netmodel.h,
 * incremental updates): its cookie and its component's flood on the
 * bridges carrying its network, and every bridge carrying its network
 * whole when it is its component's first or last member on its host.
 * Its own bridge's port numbers decide the rest (plan_whole()). */
static bool
note_vm(struct reconciler *r, const struct netmodel *m, int v, bool after,
        struct recon_owners *o)
{
    const struct nm_vm *vm = &m->vms[v];
    int c = m->vm_comp[v];
    struct agent *a = vm->host >= 0 ? agent_find(r, m->hosts[vm->host].o.id) : NULL;
    if (a) {
        a->vm_here = true;
    }
    /* A migration changes the component's flows at both of its ends (the
     * second place's peers, its port): both planned whole. */
    for (int i = 0; vm->mig != NM_MIG_NONE && i < 2; i++) {
        a = agent_find(r, m->hosts[i ? vm->mig_to : vm->mig_from].o.id);
        if (a) {
            a->vm_here = a->replan = true;
        }
    }
    o->cookies[o->n_cookies++] = netmodel_vm_cookie(m, v);
    if (vm->sw >= 0 && m->switches[vm->sw].tenant_ctl) {
        /* Its tenant's flows name it (ctrl/vtranslate.h): recompiled,
         * punted ones too.  The switches are the same in both models. */
        uint64_t ck = netmodel_vsw_cookie(m, vm->sw);
        o->cookies[o->n_cookies++] = ck;
        o->cookies[o->n_cookies++] = ck | VT_COOKIE_PUNT;
        bool seen = false;
        for (size_t i = 0; i < o->n_vsws && !seen; i++) {
            seen = o->vsws[i] == vm->sw;
        }
        if (!seen) {
            o->vsws[o->n_vsws++] = vm->sw;
        }
    }
    if (c >= 0) {
        o->cookies[o->n_cookies++] = netmodel_comp_cookie(m, c);
        if (after) {
            add_comp(o, c);
        } else {
            struct recon_left *l = &o->left[o->n_left++];
            snprintf(l->host, sizeof l->host, "%s", m->hosts[vm->host].o.id);
            l->comp = m->comp_name[c];
        }
    }
    return mark_network(r, m, vm->network, !netmodel_vm_shares_host(m, v));
}

static int
cmp_cookie(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *) a, y = *(const uint64_t *) b;
    return (x > y) - (x < y);
}

/* Host h's port list for this pass (a->ports): an untouched host's
 * (no changed VM is or was on it, nor a migration's end) is the one
 * computed for the last snapshot, carried over with the VMs' indexes
 * moved (netmodel_vm_shift()) when that snapshot is the one this was
 * built from; any other is computed (recon_agent_ports()).  False when
 * memory runs out (the host's error). */
static bool
host_ports(struct reconciler *r, struct agent *a, const struct netmodel *m, int h)
{
    const struct snapshot *s = r->snap;
    if (a->untouched && a->ports && a->ports_gen
        && (a->ports_gen == s->gen || a->ports_gen == s->from)) {
        bool moved = a->ports_gen != s->gen;
        size_t k = 0;
        for (; moved && k < a->n_ports; k++) {
            struct nm_port *p = &a->ports[k];
            if (p->kind == NM_PORT_VM && (p->vm = netmodel_vm_shift(m, p->vm)) < 0) {
                break;              /* a changed VM after all: compute */
            }
        }
        if (!moved || k == a->n_ports) {
            a->ports_gen = s->gen;
            return true;
        }
    }
    if (!recon_agent_ports(a, m, h)) {
        return false;
    }
    a->ports_gen = s->gen;
    return true;
}

/* Builds the next snapshot from the current one and the changed VMs in
 * 'ch' (netmodel_apply_vms), filling 'o' with the owners to recompile.
 * 0 or ENOMEM. */
static int
apply_vms(struct reconciler *r, struct recon_changes *ch, struct recon_owners *o)
{
    size_t n = ch->n_vms + ch->n_vms_gone;
    size_t cap = n ? n : 1;         /* malloc(0) may answer NULL */
    const char **ids = malloc(cap * sizeof *ids);
    o->vms = malloc(cap * sizeof *o->vms);
    o->comps = malloc(2 * cap * sizeof *o->comps);
    o->left = malloc(cap * sizeof *o->left);
    o->vsws = malloc(2 * cap * sizeof *o->vsws);
    o->cookies = malloc(8 * cap * sizeof *o->cookies);
    struct snapshot *s = calloc(1, sizeof *s);
    int rc = ids && o->vms && o->comps && o->vsws && o->left && o->cookies && s ? 0 : ENOMEM;
    for (size_t i = 0; !rc && i < n; i++) {
        ids[i] = i < ch->n_vms ? ch->vms[i].o.id : ch->vms_gone[i - ch->n_vms];
        int v = netmodel_vm_by_id(&r->snap->m, ids[i]);
        if (v >= 0 && !note_vm(r, &r->snap->m, v, false, o)) {
            rc = ENOMEM;
        }
    }
    /* netmodel_apply_vms sorts ch->vms: copy the ids first. */
    char (*after)[40] = rc ? NULL : malloc(cap * sizeof *after);
    for (size_t i = 0; after && i < n; i++) {
        snprintf(after[i], sizeof *after, "%s", ids[i]);
    }
    if (!rc && (!after || netmodel_apply_vms(&r->snap->m, ch->vms, ch->n_vms, ch->vms_gone,
                                             ch->n_vms_gone, &s->m))) {
        rc = ENOMEM;
    }
    free(ids);
    if (rc) {
        free(after);
        free(s);
        return rc;
    }
    s->from = r->snap->gen;
    publish(r, s);
    const struct netmodel *m = &r->snap->m;
    for (size_t i = 0; !rc && i < n; i++) {
        int v = netmodel_vm_by_id(m, after[i]);
        if (v >= 0) {
            o->vms[o->n_vms++] = v;
            rc = note_vm(r, m, v, true, o) ? 0 : ENOMEM;
        }
    }
    free(after);
    /* The floods of the components they left change too. */
    for (size_t i = 0; i < o->n_left; i++) {
        for (size_t c = 0; c < m->n_comps; c++) {
            if (m->comp_name[c] == o->left[i].comp) {
                add_comp(o, (int) c);
            }
        }
    }
    qsort(o->cookies, o->n_cookies, sizeof *o->cookies, cmp_cookie);
    return rc;
}

/* Takes in what changed through the store: a reload (every bridge), a
 * reload for changed networks (the bridges carrying them, before and
 * after), or the changed VMs applied to the model (their owners in 'o').
 * *all is set when every bridge is to be planned whole.  0 or an errno;
 * a failure after the store consumed the changes asks for a full load. */
static int
take_changes(struct reconciler *r, struct recon_owners *o, bool *all)
{
    struct recon_changes ch = {0};
    int rc = r->store.changes(r->aux, &r->snap->m, &ch);
    if (rc) {
        return rc;
    }
    if (ch.reload) {
        *all = true;
        rc = load(r) ? 0 : EAGAIN;
    } else if (ch.n_networks) {
        for (size_t i = 0; i < ch.n_networks; i++) {
            mark_network(r, &r->snap->m, netmodel_network_by_id(&r->snap->m,
                                                                ch.networks[i]), true);
        }
        rc = load(r) ? 0 : EAGAIN;
        for (size_t i = 0; !rc && i < ch.n_networks; i++) {
            mark_network(r, &r->snap->m, netmodel_network_by_id(&r->snap->m,
                                                                ch.networks[i]), true);
        }
    } else if (ch.n_vms || ch.n_vms_gone) {
        rc = apply_vms(r, &ch, o);
    }
    recon_changes_uninit(&ch);
    if (rc) {
        r->need_full = true;
    }
    return rc;
}

/* Writes at 'out' the peers of agent 'a''s tunnel ends that BFD reports
 * down (statusfold_host.down), then -1; returns the slot after the -1
 * ('out' has room for a->n_ports + 1). */
static int *
tunnels_down(struct reconciler *r, const struct netmodel *m, const struct agent *a,
             int *out)
{
    for (size_t k = 0; k < a->n_ports; k++) {
        const struct nm_port *p = &a->ports[k];
        if (p->kind == NM_PORT_TUNNEL && p->peer >= 0 && p->peer < (int) m->n_hosts
            && recon_bfd_state(r, a->dpid, p->name) == RECON_TUNNEL_DOWN) {
            *out++ = p->peer;
        }
    }
    *out++ = -1;
    return out;
}

/* The status fold (core/statusfold.h) of this pass, written back through
 * the store and recorded in the model once written.  True when nothing is
 * left pending. */
static bool
write_statuses(struct reconciler *r, struct netmodel *m, char **vm_err,
               const uint32_t *vm_port)
{
    struct statusfold_host *hs = calloc(m->n_hosts ? m->n_hosts : 1, sizeof *hs);
    if (!hs) {
        return false;
    }
    char (*down)[160] = calloc(m->n_hosts ? m->n_hosts : 1, sizeof *down);
    size_t n_ends = m->n_hosts;
    for (size_t h = 0; h < m->n_hosts; h++) {
        struct agent *a = recon_agent_for(r, &m->hosts[h]);
        n_ends += a ? a->n_ports : 0;
    }
    int *peers = calloc(n_ends ? n_ends : 1, sizeof *peers);
    if (!down || !peers) {
        free(hs);
        free(down);
        free(peers);
        return false;
    }
    int *next = peers;
    for (size_t h = 0; h < m->n_hosts; h++) {
        struct agent *a = recon_agent_for(r, &m->hosts[h]);
        if (a && a->err) {
            hs[h] = (struct statusfold_host) { NM_ERROR, a->err, false, NULL };
        } else if (a && a->realized) {
            hs[h] = (struct statusfold_host) {
                NM_REALIZED, recon_bfd_detail(r, a->dpid, down[h], sizeof down[h]), false,
                next,
            };
            next = tunnels_down(r, m, a, next);
        } else {
            hs[h] = (struct statusfold_host) {
                NM_PENDING, a && a->note ? a->note : "configuring the bridge", false, NULL,
            };
        }
    }
    recon_owner_statuses(r, m, hs);
    struct statusfold_batch batch;
    bool done = statusfold_compute(m, hs, vm_err, vm_port, &batch);
    done &= !recon_owner_filter(r, m, &batch);
    if (batch.n) {
        int rc = r->store.write_status(r->aux, batch.v, batch.n);
        if (rc) {
            VLOG_WRN(RECON_MOD, "writing %zu statuses: %s", batch.n, strerror(rc));
            done = false;
        } else {
            statusfold_commit(&batch);
        }
    }
    statusfold_batch_uninit(&batch);
    free(hs);
    free(down);
    free(peers);
    return done;
}

/* Frees what reconciler.c keeps in the agents of hosts 'm' no longer has
 * (recon_sync_agents() closes them). */
static void
forget_hosts_gone(struct reconciler *r, const struct netmodel *m)
{
    for (size_t i = 0; i < r->n_agents; i++) {
        struct agent *a = &r->agents[i];
        if (netmodel_index(m->hosts, m->n_hosts, sizeof *m->hosts, a->id) < 0) {
            free(a->known);
            a->known = NULL;
        }
    }
}

/* The periodic audit, spread over passes: every audit_ms a round starts
 * (counted in stats.audits) that reads every bridge back and plans it
 * whole, the read-back first compared with its table (drift); each pass
 * takes the next bridges of the round, as many as hold RECON_AUDIT_FLOWS
 * installed flows (one at least), and r->audit_more asks for the next
 * pass soon.  A change waits for one slice at most, not for every bridge
 * of the platform.  The desired state needs no reload for it: the change
 * log carries every change (db/changelog.h), and a replica that moves
 * sends its host through OVSDB again anyway. */
static void
audit_slice(struct reconciler *r)
{
    long long now = recon_now_us();
    if (r->opt.audit_ms && now >= r->next_audit_us) {
        if (r->next_audit_us) {
            for (size_t i = 0; i < r->n_agents; i++) {
                r->agents[i].audit_due = true;
            }
            pthread_mutex_lock(&r->mu);
            r->stats.audits++;
            pthread_mutex_unlock(&r->mu);
        }
        r->next_audit_us = now + (long long) r->opt.audit_ms * 1000;
    }
    size_t flows = 0;
    bool took = false;
    r->audit_more = false;
    for (size_t i = 0; i < r->n_agents; i++) {
        struct agent *a = &r->agents[i];
        if (!a->audit_due) {
            continue;
        }
        size_t n = a->ft ? flowtable_count(a->ft) : 0;
        if (took && flows + n > RECON_AUDIT_FLOWS) {
            r->audit_more = true;
            break;
        }
        a->audit_due = false;
        a->readback = a->audit = true;
        flows += n;
        took = true;
    }
}

/* Whether this pass's flows wait: for RECON_START_HOLD_US after the
 * first pass, while a bridge this instance writes has not connected yet
 * (its OpenFlow connection, or its OVSDB replica, which a plan needs for
 * the port numbers).  Planned one by one as they connect, a change that
 * spans bridges (a migration's next phase, a VM moved while skyvisord was
 * away) could reach a peer's ingress before the bridges it leads to; the
 * ordering engine prevents that only among the bridges of one pass. */
static bool
start_hold(struct reconciler *r, const struct netmodel *m)
{
    long long now = recon_now_us();
    if (!r->first_pass_us) {
        r->first_pass_us = now;
    }
    if (now - r->first_pass_us >= RECON_START_HOLD_US) {
        return false;
    }
    for (size_t h = 0; h < m->n_hosts; h++) {
        struct agent *a = agent_find(r, m->hosts[h].o.id);
        if (a && !a->err && !a->foreign
            && (!a->db || !ovsdb_is_synced(a->db) || !recon_is_up(r, a->dpid))) {
            return true;
        }
    }
    return false;
}

static bool
pass(struct reconciler *r)
{
    long long t0 = recon_now_us(), mark = t0, st[RECON_N_STAGES] = {0};
    bool woke = atomic_exchange(&r->need_load, false);
    bool all = false;
    struct recon_owners owners = {0};
    if (!r->snap || r->need_full || (woke && !r->store.changes)) {
        if (!load(r)) {
            atomic_store(&r->need_load, true);
            return false;
        }
        r->need_full = false;
        all = true;
    } else if (woke && take_changes(r, &owners, &all)) {
        owners_uninit(&owners);
        atomic_store(&r->need_load, true);
        return false;
    }
    struct netmodel *m = &r->snap->m;
    stage_done(st, &mark, RECON_STAGE_DESIRED);
    forget_hosts_gone(r, m);
    recon_owner_pass(r, m);
    recon_sync_agents(r, m);
    char **vm_err = calloc(m->n_vms ? m->n_vms : 1, sizeof *vm_err);
    uint32_t *vm_port = calloc(m->n_vms ? m->n_vms : 1, sizeof *vm_port);
    if (!vm_err || !vm_port) {
        free(vm_err);
        free(vm_port);
        owners_uninit(&owners);
        return false;
    }
    /* OVSDB first, on every host: the port numbers ovs-vswitchd assigns to
     * new ports arrive while the other hosts are being configured, and the
     * flows that need them can go in this same pass. */
    for (size_t h = 0; h < m->n_hosts; h++) {
        struct agent *a = recon_agent_for(r, &m->hosts[h]);
        if (!a) {
            continue;
        }
        /* A bridge realized by the last pass whose replica has not moved
         * since, and that no change touches, has the ports it needs. */
        bool untouched = !all && !a->replan && !a->vm_here && a->realized && a->db
                         && ovsdb_is_synced(a->db)
                         && ovsdb_get_replica(a->db)->seqno == a->seqno;
        a->vm_here = false;
        a->untouched = untouched;
        free(a->err);
        a->err = NULL;
        a->note = NULL;
        a->sent = 0;
        a->realized = false;
        if (recon_owner_may_write(r, a) && host_ports(r, a, m, (int) h)
            && !a->untouched) {
            recon_ovsdb_pass(r, m, (int) h, a, vm_err);
        }
        recon_keepalive(r);
    }
    stage_done(st, &mark, RECON_STAGE_OVSDB);
    recon_settle_ports(r, m);
    stage_done(st, &mark, RECON_STAGE_PORTS);
    recon_flows_reconnected(r);
    audit_slice(r);
    struct agent **ready = calloc(m->n_hosts ? m->n_hosts : 1, sizeof *ready);
    size_t n_ready = 0, planned = 0;
    bool hold = start_hold(r, m);
    for (size_t h = 0; ready && h < m->n_hosts; h++) {
        struct agent *a = recon_agent_for(r, &m->hosts[h]);
        if (!a) {
            continue;
        }
        recon_keepalive(r);
        bool whole = all || a->replan || !a->in_sync || !a->known;
        bool scoped = a->owners && owners.n_cookies;
        a->replan = a->owners = false;
        a->in_sync = false;         /* until this pass confirms it */
        if (hold && !a->err && !a->note) {
            a->note = "waiting for every bridge to connect before the first plan";
        }
        if (a->err || a->note) {
            continue;
        }
        /* An untouched host's interfaces are as the last pass read them
         * (the VMs' indexes may have moved with the model). */
        struct recon_portno *same = a->untouched && a->known && a->n_known == a->n_ports
                                    ? copy_portnos(a) : NULL;
        if (same) {
            for (size_t k = 0; k < a->n_ports; k++) {
                if (same[k].vm >= 0) {
                    vm_port[same[k].vm] = same[k].no;
                }
            }
        } else {
            recon_iface_pass(a, vm_err, vm_port);
        }
        if (a->err) {
            free(same);
            continue;
        }
        char refusal[256];
        if (!recon_is_up(r, a->dpid)
            && recon_get_refusal(r, a->dpid, refusal, sizeof refusal)) {
            recon_agent_error(a, "openflow: bridge %s refused: %s", m->hosts[h].bridge,
                              refusal);
            free(same);
            continue;
        }
        if (!recon_is_up(r, a->dpid)) {
            if (!a->of_ever_up && recon_now_us() - a->of_since < RECON_CONNECT_GRACE_US) {
                a->note = "waiting for the bridge's OpenFlow connection";
            } else {
                recon_agent_error(a, "openflow: bridge %s is not connected (%s)",
                                  m->hosts[h].bridge, m->hosts[h].openflow[0]
                                  ? m->hosts[h].openflow : "waiting for it to connect");
            }
            free(same);
            continue;
        }
        a->of_ever_up = true;
        struct recon_portno *now = same ? same : portnos(a);
        if (!now) {
            recon_agent_error(a, "out of memory");
            continue;
        }
        whole = whole || plan_whole(a, m, (int) h, &owners, now);
        a->now = now;
        if (!whole && !scoped && !a->readback && a->ft) {
            ready[n_ready++] = a;   /* untouched: nothing to plan */
            free(now);
        } else if (!recon_flows_plan(r, m, (int) h, a, whole ? NULL : &owners)) {
            ready[n_ready++] = a;
            free(a->known);         /* taken back if the plan fails */
            a->known = now;
            a->n_known = a->n_ports;
            a->known_sig = a->ports_sig;
        } else {
            free(now);
        }
        a->now = NULL;
    }
    owners_uninit(&owners);
    recon_owner_before_apply(ready, n_ready);
    stage_done(st, &mark, RECON_STAGE_PLAN);
    /* Every bridge's changes together, so that no bridge's ingress rule is
     * confirmed before the deeper rules it leads to on other bridges. */
    recon_flows_apply(r, ready, n_ready);
    r->pass_applied = true;
    for (size_t i = 0; i < n_ready; i++) {
        struct agent *a = ready[i];
        if (!a->plan.error) {
            /* Every tunnel numbered: as a pass found it last, while the
             * replica and the port list have not moved since. */
            const struct ovsdb_replica *rep = ovsdb_get_replica(a->db);
            bool all_ports = a->tunnels_seqno == rep->seqno && a->tunnels_sig == a->ports_sig
                             && a->ports_sig;
            for (size_t k = 0; !all_ports && k < a->n_ports; k++) {
                if (a->ports[k].kind == NM_PORT_TUNNEL
                    && !recon_ofport(rep, a->ports[k].name)) {
                    break;
                }
                all_ports = k + 1 == a->n_ports;
            }
            all_ports |= !a->n_ports;
            a->tunnels_seqno = all_ports ? rep->seqno : 0;
            a->tunnels_sig = all_ports ? a->ports_sig : 0;
            a->realized = all_ports;
            /* LLDP: links once confirmed stay known (recon_packetin.c), so
             * a bridge's tunnels are probed again only when its ports
             * changed, a tunnel lacked its number, or a while passed. */
            int h = netmodel_host_by_dpid(m, a->dpid);
            long long now = recon_now_us();
            if (h >= 0 && (!a->lldp_all || a->lldp_sig != a->ports_sig
                           || now - a->lldp_us >= RECON_LLDP_PROBE_US)) {
                a->lldp_all = recon_lldp_probe(r, m, h, a);
                a->lldp_sig = a->ports_sig;
                a->lldp_us = now;
            }
        }
        a->in_sync = !a->plan.error && !a->readback;
        if (a->fresh && a->in_sync && !a->plan.error && a->realized) {
            a->fresh = false;       /* every tunnel numbered, every flow in */
            VLOG_INF(RECON_MOD, "%s: flows confirmed since it reconnected", a->name);
        }
        if (!a->in_sync) {
            free(a->known);         /* the next plan is whole */
            a->known = NULL;
        }
        planned += a->plan.n_adds + a->plan.n_dels + a->plan.n_kept;
        recon_plan_clear(&a->plan);
        a->seqno = ovsdb_get_replica(a->db)->seqno;
    }
    free(ready);
    stage_done(st, &mark, RECON_STAGE_APPLY);
    /* The ports inserted with numbers of our own: their replies and
     * numbers, awaited while the flows went in (recon_ovsdb.c). */
    recon_ovsdb_finish(r, m, vm_err, vm_port);
    if (all || planned >= RECON_TRIM_FLOWS) {
        /* A pass that planned many flows (every bridge, a large batch of
         * VMs) held them all in its plans at once, between the entries
         * the tables keep: give the freed pages back rather than keep
         * them resident (after a 1 000-VM batch, half the RSS). */
        malloc_trim(0);
    }
    stage_done(st, &mark, RECON_STAGE_PORTS);
    r->mig_next_us = recon_migration_pass(r, m);
    bool done = write_statuses(r, m, vm_err, vm_port);
    stage_done(st, &mark, RECON_STAGE_STATUSES);
    /* After the statuses: its periodic sample reads every VM's counters,
     * which a change's status must not wait for. */
    recon_lifecycle_pass(r, m);
    stage_done(st, &mark, RECON_STAGE_LIFECYCLE);
    for (size_t v = 0; v < m->n_vms; v++) {
        /* A port that failed is tried again: its host is not left alone. */
        struct agent *a = vm_err[v] && m->vms[v].host >= 0
                          ? agent_find(r, m->hosts[m->vms[v].host].o.id) : NULL;
        if (a) {
            a->replan = true;
        }
        free(vm_err[v]);
    }
    free(vm_err);
    free(vm_port);
    unsigned long long n_flows = 0, flow_bytes = 0;
    for (size_t i = 0; i < r->n_agents; i++) {
        if (r->agents[i].ft) {
            n_flows += flowtable_count(r->agents[i].ft);
            flow_bytes += flowtable_bytes(r->agents[i].ft);
        }
    }
    flow_bytes += flowtable_pool_bytes(r->ftpool);
    pthread_mutex_lock(&r->mu);
    r->stats.passes++;
    r->stats.installed_flows = n_flows;
    r->stats.installed_bytes = flow_bytes;
    for (int i = 0; i < RECON_N_STAGES; i++) {
        r->stats.stage_us[i] += st[i];
    }
    r->stats.last_pass_us = recon_now_us() - t0;
    r->stats.converged = done;
    pthread_mutex_unlock(&r->mu);
    return done;
}

static void *
run(void *arg)
{
    struct reconciler *r = arg;
    long long next = 0;             /* ms, monotonic */
    while (!atomic_load(&r->stop)) {
        size_t cap = r->n_agents + 3;
        struct pollfd *pfd = calloc(cap, sizeof *pfd);
        if (!pfd) {
            usleep(100000);
            continue;
        }
        size_t n = 0;
        pfd[n++] = (struct pollfd) { .fd = r->wake_fd, .events = POLLIN };
        int sfd = r->store.fd ? r->store.fd(r->aux) : -1;
        pfd[n++] = (struct pollfd) { .fd = sfd, .events = POLLIN };
        pfd[n++] = (struct pollfd) { .fd = r->event_fd, .events = POLLIN };
        long long now = ovsdb_now_ms();
        long long timeout = next > now ? next - now : 0;
        long long owner_ms = recon_owner_tick(r);
        if (owner_ms >= 0 && owner_ms < timeout) {
            timeout = owner_ms;
        }
        for (size_t i = 0; i < r->n_agents; i++) {
            struct ovsdb *db = r->agents[i].db;
            pfd[n++] = (struct pollfd) { .fd = db ? ovsdb_fd(db) : -1,
                                         .events = db ? ovsdb_events(db) : 0 };
            int t = db ? ovsdb_timeout_ms(db) : -1;
            if (t >= 0 && t < timeout) {
                timeout = t;
            }
        }
        poll(pfd, n, (int) (timeout > 1000 ? 1000 : timeout));
        now = ovsdb_now_ms();
        if (pfd[0].revents & POLLIN) {
            uint64_t v;
            ssize_t k = read(r->wake_fd, &v, sizeof v);
            (void) k;
            next = now;
        }
        if (sfd >= 0 && pfd[1].revents && r->store.drain && r->store.drain(r->aux)) {
            atomic_store(&r->need_load, true);
            next = now;
        }
        if (pfd[2].revents & POLLIN) {
            uint64_t v;
            ssize_t k = read(r->event_fd, &v, sizeof v);
            (void) k;
            if (recon_flows_events(r) && next > now + RECON_REPAIR_DELAY_MS) {
                next = now + RECON_REPAIR_DELAY_MS;
            }
        }
        for (size_t i = 0; i < r->n_agents; i++) {
            struct agent *a = &r->agents[i];
            if (a->db) {
                ovsdb_run(a->db);
                if (ovsdb_get_replica(a->db)->seqno != a->seqno && next > now + 20) {
                    next = now + 20;
                }
            }
        }
        long long held_ms = recon_bfd_scan(r);     /* hold-downs (recon_bfd.h) */
        if (held_ms >= 0 && next > now + held_ms) {
            next = now + held_ms;
        }
        free(pfd);
        if (now >= next) {
            uint64_t number = atomic_fetch_add(&r->passes_started, 1) + 1;
            r->pass_applied = false;
            bool done = pass(r);
            if (r->pass_applied) {
                atomic_store(&r->passes_ended, number);
            }
            now = ovsdb_now_ms();
            if (done) {
                atomic_store(&r->need_load, true);  /* the resync reads the log */
            }
            next = now + (done ? r->opt.resync_ms : r->opt.retry_ms);
            if (r->audit_more && next > now + RECON_AUDIT_GAP_MS) {
                next = now + RECON_AUDIT_GAP_MS;    /* the audit's next slice */
            }
            long long mig = r->mig_next_us ? r->mig_next_us / 1000 : 0;
            if (mig && mig < next) {
                next = mig > now ? mig : now;   /* recon_now_us is monotonic too */
            }
        }
    }
    return NULL;
}

struct reconciler *
reconciler_create(const struct recon_store *store, void *aux,
                  const struct recon_options *opt)
{
    struct reconciler *r = calloc(1, sizeof *r);
    if (!r) {
        return NULL;
    }
    r->store = *store;
    r->aux = aux;
    r->opt = *opt;
    if (!r->opt.resync_ms) r->opt.resync_ms = 10000;
    if (!r->opt.retry_ms) r->opt.retry_ms = 250;
    if (!r->opt.audit_ms) r->opt.audit_ms = 300000;
    atomic_init(&r->stop, false);
    atomic_init(&r->need_load, true);
    atomic_init(&r->reactive_woke_us, 0);
    pthread_mutex_init(&r->mu, NULL);
    r->wake_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    r->event_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    /* A bridge's management socket appears only once the reconciler has
     * created the bridge, and reappears soon after a switch restarts: keep
     * retrying often (a refused connect to a local socket costs nothing),
     * so a bridge is programmed within a second of coming up. */
    const struct ofctl_options ofopt = {
        .backoff_min_ms = 50, .backoff_max_ms = 1000,
        .fenced = r->opt.owner != NULL,     /* no write without a role */
    };
    r->ftpool = flowtable_pool_create();
    r->ctl = r->wake_fd >= 0 && r->event_fd >= 0 && r->ftpool
             ? ofctl_create(&recon_callbacks, r, &ofopt) : NULL;
    if (!r->ctl) {
        VLOG_ERR_(RECON_MOD, "cannot start the OpenFlow controller");
        goto fail;
    }
    if (r->opt.openflow_listen) {
        int rc = ofctl_listen(r->ctl, r->opt.openflow_listen, NULL);
        if (rc) {
            VLOG_ERR_(RECON_MOD, "cannot listen for OpenFlow on %s: %s",
                      r->opt.openflow_listen, strerror(rc));
            goto fail;
        }
        VLOG_INF(RECON_MOD, "listening for bridges on %s", r->opt.openflow_listen);
    }
    if (pthread_create(&r->thread, NULL, run, r)) {
        goto fail;
    }
    pthread_setname_np(r->thread, "reconciler");  /* its name in top -H and perf */
    return r;

fail:
    ofctl_destroy(r->ctl);
    flowtable_pool_destroy(r->ftpool);
    if (r->wake_fd >= 0) {
        close(r->wake_fd);
    }
    if (r->event_fd >= 0) {
        close(r->event_fd);
    }
    pthread_mutex_destroy(&r->mu);
    free(r);
    return NULL;
}

void
reconciler_destroy(struct reconciler *r)
{
    if (!r) {
        return;
    }
    atomic_store(&r->stop, true);
    recon_wake(r);
    pthread_join(r->thread, NULL);
    for (size_t i = 0; i < r->n_agents; i++) {
        free(r->agents[i].known);
        recon_agent_close(r, &r->agents[i]);
    }
    ofctl_destroy(r->ctl);
    flowtable_pool_destroy(r->ftpool);     /* after the agents' tables */
    free(r->agents);
    for (size_t i = 0; i < r->n_vrejects; i++) {
        free(r->vrejects[i].bytes);
    }
    free(r->vrejects);
    if (r->snap) {
        urcu_bp_synchronize_rcu();
        netmodel_free(&r->snap->m);
        free(r->snap);
    }
    close(r->wake_fd);
    close(r->event_fd);
    pthread_mutex_destroy(&r->mu);
    free(r->up);
    free(r->reconnected);
    free(r->events);
    free(r->links);
    free(r->refusals);
    free(r->tunnels);
    free(r);
}

void
reconciler_get_stats(struct reconciler *r, struct recon_stats *out)
{
    pthread_mutex_lock(&r->mu);
    *out = r->stats;
    pthread_mutex_unlock(&r->mu);
}

static bool
topology_is_up(void *aux, uint64_t dpid)
{
    return recon_is_up(aux, dpid);
}

static const char *
topology_tunnel_state(void *aux, uint64_t dpid, const char *port)
{
    enum recon_tunnel_state st = recon_bfd_state(aux, dpid, port);
    return st == RECON_TUNNEL_UP ? "up" : st == RECON_TUNNEL_DOWN ? "down" : NULL;
}

json_t *
reconciler_topology(struct reconciler *r)
{
    json_t *out = NULL;
    pthread_mutex_lock(&r->mu);
    unsigned long long failovers = r->stats.tunnel_failovers;
    unsigned long long recoveries = r->stats.tunnel_recoveries;
    size_t n = r->n_links;
    struct topology_lldp *links = calloc(n ? n : 1, sizeof *links);
    for (size_t i = 0; links && i < n; i++) {
        links[i] = (struct topology_lldp) {
            r->links[i].a_dpid, r->links[i].b_dpid, r->links[i].a_port, r->links[i].b_port,
        };
    }
    pthread_mutex_unlock(&r->mu);
    if (!links) {
        return NULL;
    }
    urcu_bp_read_lock();
    struct snapshot *s = rcu_dereference(r->snap);
    if (s) {
        out = topology_json(&s->m, topology_is_up, topology_tunnel_state, r, links, n);
    }
    if (out) {
        json_object_set_new(out, "failovers", json_integer((json_int_t) failovers));
        json_object_set_new(out, "recoveries", json_integer((json_int_t) recoveries));
    }
    urcu_bp_read_unlock();
    free(links);
    return out;
}
