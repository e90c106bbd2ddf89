/* recon_bfd.c: BFD on the inter-cloud tunnels (see recon_bfd.h).
 *
 * A tunnel end's state comes from its Interface's bfd_status "state":
 * "up" is up; "down" and "init" (the session is not forwarding) are down;
 * "admin_down" or no status at all is unknown (BFD off at either end, or
 * not reported yet).  The states live in the reconciler under its mutex,
 * replaced per bridge each time that bridge's replica moves; a transition
 * from up to down counts as a failover, the return to up after one as a
 * recovery (a session coming up the first time is neither); both are
 * logged. */
#include "ctrl/recon_bfd.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/vlog.h"
#include "ctrl/ovsdb.h"
#include "ctrl/ovsdb_datum.h"
#include "ctrl/ovsdb_replica.h"
#include "ctrl/recon_internal.h"

bool
recon_bfd_watched(const struct netmodel *m, int h, const struct nm_port *p)
{
    if (p->kind != NM_PORT_TUNNEL || p->peer < 0 || (size_t) p->peer >= m->n_hosts) {
        return false;
    }
    const struct nm_host *a = &m->hosts[h], *b = &m->hosts[p->peer];
    if (a->gateway && b->gateway) {
        return true;
    }
    const struct nm_host *worker = a->gateway ? b : a;
    return worker->cloud >= 0 && m->clouds[worker->cloud].n_gateways > 1;
}

json_t *
recon_bfd_config(const struct reconciler *r, const struct netmodel *m, int h,
                 const struct nm_port *p)
{
    if (!recon_bfd_watched(m, h, p)) {
        return NULL;
    }
    int ms = r->opt.bfd_ms ? r->opt.bfd_ms : RECON_BFD_MS_DEFAULT;
    if (ms < 0) {
        return json_object();
    }
    char v[16];
    snprintf(v, sizeof v, "%d", ms);
    return json_pack("{s:s, s:s, s:s}", "enable", "true", "min_tx", v, "min_rx", v);
}

static enum recon_tunnel_state
iface_state(const struct ovsdb_replica *rep, const char *name)
{
    const json_t *row = ovsdb_replica_find(rep, "Interface", "name", name, NULL);
    const char *s = row ? ovsdb_datum_map_get(json_object_get(row, "bfd_status"), "state")
                        : NULL;
    if (!s) {
        return RECON_TUNNEL_UNKNOWN;
    }
    if (!strcmp(s, "up")) {
        return RECON_TUNNEL_UP;
    }
    return !strcmp(s, "down") || !strcmp(s, "init") ? RECON_TUNNEL_DOWN
                                                    : RECON_TUNNEL_UNKNOWN;
}

/* Index of (dpid, port) in r->tunnels, or -1; under r->mu. */
static long
find(const struct reconciler *r, uint64_t dpid, const char *port)
{
    for (size_t i = 0; i < r->n_tunnels; i++) {
        if (r->tunnels[i].dpid == dpid && !strcmp(r->tunnels[i].port, port)) {
            return (long) i;
        }
    }
    return -1;
}

static int
holddown_ms(const struct reconciler *r)
{
    int ms = r->opt.holddown_ms ? r->opt.holddown_ms : RECON_HOLDDOWN_MS_DEFAULT;
    return ms < 0 ? 0 : ms;
}

static bool
held(const struct recon_tunnel *t)
{
    return t->failed || t->up_ms;
}

/* Replaces agent 'a''s entries by its tunnel ends now[0..n); under r->mu.
 * True when the set of its held ends changed. */
static bool
replace(struct reconciler *r, const struct agent *a, struct recon_tunnel *now, size_t n)
{
    bool changed = false;
    long long t = ovsdb_now_ms();
    for (size_t i = 0; i < n; i++) {
        long k = find(r, a->dpid, now[i].port);
        enum recon_tunnel_state was = k >= 0 ? r->tunnels[k].state : RECON_TUNNEL_UNKNOWN;
        now[i].failed = k >= 0 && r->tunnels[k].failed;
        now[i].up_ms = k >= 0 ? r->tunnels[k].up_ms : 0;
        bool before = k >= 0 && held(&r->tunnels[k]);
        if (was == RECON_TUNNEL_UP && now[i].state == RECON_TUNNEL_DOWN) {
            r->stats.tunnel_failovers++;
            now[i].failed = true;
            now[i].up_ms = 0;
            VLOG_WRN(RECON_MOD, "%s: tunnel %s: BFD down", a->name, now[i].port);
        } else if (now[i].failed && now[i].state == RECON_TUNNEL_UP) {
            r->stats.tunnel_recoveries++;
            now[i].failed = false;
            now[i].up_ms = holddown_ms(r) ? (t ? t : 1) : 0;
            VLOG_INF(RECON_MOD, "%s: tunnel %s: BFD up again (held %d ms)", a->name,
                     now[i].port, holddown_ms(r));
        } else if (now[i].up_ms && now[i].state != RECON_TUNNEL_UP) {
            now[i].up_ms = 0;       /* gone again before its hold-down ran out */
            now[i].failed = now[i].state == RECON_TUNNEL_DOWN;
        }
        changed |= before != held(&now[i]);
    }
    for (size_t i = 0; i < r->n_tunnels; i++) {
        if (r->tunnels[i].dpid == a->dpid && held(&r->tunnels[i])) {
            bool still = false;
            for (size_t j = 0; j < n; j++) {
                still |= !strcmp(now[j].port, r->tunnels[i].port);
            }
            changed |= !still;      /* a held end that is gone */
        }
    }
    size_t kept = 0;
    for (size_t i = 0; i < r->n_tunnels; i++) {
        if (r->tunnels[i].dpid != a->dpid) {
            r->tunnels[kept++] = r->tunnels[i];
        }
    }
    struct recon_tunnel *grown = realloc(r->tunnels, (kept + n + 1) * sizeof *grown);
    if (!grown) {
        r->n_tunnels = kept;        /* this bridge's states read as unknown */
        return true;
    }
    r->tunnels = grown;
    memcpy(&r->tunnels[kept], now, n * sizeof *now);
    r->n_tunnels = kept + n;
    return changed;
}

/* Ends the hold-downs that ran out, replanning their bridges; returns the
 * ms until the next one ends, -1 for none.  Under r->mu. */
static long long
expire(struct reconciler *r)
{
    long long t = ovsdb_now_ms(), next = -1;
    for (size_t i = 0; i < r->n_tunnels; i++) {
        struct recon_tunnel *tu = &r->tunnels[i];
        if (!tu->up_ms) {
            continue;
        }
        long long left = tu->up_ms + holddown_ms(r) - t;
        const struct agent *peer = NULL;
        for (size_t k = 0; k < r->n_agents && tu->peer_dpid; k++) {
            peer = r->agents[k].dpid == tu->peer_dpid ? &r->agents[k] : peer;
        }
        if (left <= 0 && peer && peer->fresh) {
            left = 50;              /* its flows first: look again soon */
        } else if (left <= 0) {
            tu->up_ms = 0;
            for (size_t k = 0; k < r->n_agents; k++) {
                if (r->agents[k].dpid == tu->dpid) {
                    r->agents[k].replan = true;
                }
            }
            VLOG_INF(RECON_MOD, "tunnel %s: hold-down over, traffic returns", tu->port);
            left = 0;
        }
        next = next < 0 || left < next ? left : next;
    }
    return next;
}

long long
recon_bfd_scan(struct reconciler *r)
{
    struct snapshot *s = r->snap;   /* the reconciler thread publishes it */
    long long next = -1;
    if (!s) {
        return next;
    }
    const struct netmodel *m = &s->m;
    for (size_t i = 0; i < r->n_agents; i++) {
        struct agent *a = &r->agents[i];
        if (!a->db || !ovsdb_is_synced(a->db)
            || ovsdb_get_replica(a->db)->seqno == a->bfd_seqno) {
            continue;
        }
        const struct ovsdb_replica *rep = ovsdb_get_replica(a->db);
        int h = netmodel_host_by_dpid(m, a->dpid);
        struct recon_tunnel *now = calloc(a->n_ports + 1, sizeof *now);
        if (h < 0 || !now) {
            free(now);
            continue;
        }
        size_t n = 0;
        for (size_t k = 0; k < a->n_ports; k++) {
            const struct nm_port *p = &a->ports[k];
            if (recon_bfd_watched(m, h, p)) {
                now[n].dpid = a->dpid;
                snprintf(now[n].port, sizeof now[n].port, "%s", p->name);
                now[n].state = iface_state(rep, p->name);
                now[n].peer_dpid = m->hosts[p->peer].dpid;
                n++;
            }
        }
        a->bfd_seqno = rep->seqno;
        pthread_mutex_lock(&r->mu);
        if (replace(r, a, now, n)) {
            a->replan = true;
            next = 0;
        }
        pthread_mutex_unlock(&r->mu);
        free(now);
    }
    pthread_mutex_lock(&r->mu);
    long long left = expire(r);
    pthread_mutex_unlock(&r->mu);
    return next == 0 ? 0 : left;
}

bool
recon_bfd_held(struct reconciler *r, uint64_t dpid, const char *port)
{
    pthread_mutex_lock(&r->mu);
    long k = find(r, dpid, port);
    bool h = k >= 0 && held(&r->tunnels[k]);
    pthread_mutex_unlock(&r->mu);
    return h;
}

enum recon_tunnel_state
recon_bfd_state(struct reconciler *r, uint64_t dpid, const char *port)
{
    pthread_mutex_lock(&r->mu);
    long k = find(r, dpid, port);
    enum recon_tunnel_state st = k >= 0 ? r->tunnels[k].state : RECON_TUNNEL_UNKNOWN;
    pthread_mutex_unlock(&r->mu);
    return st;
}

const char *
recon_bfd_detail(struct reconciler *r, uint64_t dpid, char *buf, size_t size)
{
    size_t n = 0;
    pthread_mutex_lock(&r->mu);
    for (size_t i = 0; i < r->n_tunnels && size; i++) {
        const struct recon_tunnel *t = &r->tunnels[i];
        if (t->dpid != dpid || t->state != RECON_TUNNEL_DOWN) {
            continue;
        }
        int k = snprintf(buf + n, size - n, "%s%s", n ? ", " : "tunnels down (BFD), traffic "
                         "on their detours: ", t->port);
        n = k < 0 || (size_t) k >= size - n ? size - 1 : n + (size_t) k;
    }
    pthread_mutex_unlock(&r->mu);
    return n ? buf : NULL;
}
