/* metrics.c: Prometheus counters for the HTTP API.
 *
 * Fixed-size arrays of relaxed atomics indexed by (route, method, status
 * class) and (route, latency bucket): observe() is lock-free and never
 * allocates, so it costs nothing worth measuring on the request path.
 * Route index router_n_routes stands for "no route". */
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/api.h"
#include "api/readsnap.h"
#include "db/lease_keeper.h"
#include "ctrl/reconciler.h"
#include "ctrl/vswitch_agent.h"
#include "db/db.h"

#define MAX_ROUTES 128
static const unsigned int status_codes[] = {200, 201, 204, 304, 400, 401, 403,
                                            404, 405, 409, 412, 413, 415, 422,
                                            500, 503, 0};
#define N_STATUS (sizeof status_codes / sizeof status_codes[0])
static const double buckets[] = {0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025,
                                 0.05, 0.1, 0.25, 0.5, 1.0, 2.5};
#define N_BUCKETS (sizeof buckets / sizeof buckets[0])

static atomic_ulong requests[MAX_ROUTES + 1][API__N_METHODS + 1][N_STATUS];
static atomic_ulong latency[MAX_ROUTES + 1][N_BUCKETS + 1];
static atomic_ulong latency_us_sum[MAX_ROUTES + 1];

static unsigned int
status_index(unsigned int status)
{
    for (unsigned int i = 0; i + 1 < N_STATUS; i++) {
        if (status_codes[i] == status) {
            return i;
        }
    }
    return N_STATUS - 1;
}

void
metrics_observe(unsigned int route, enum api_method method, unsigned int status,
                double seconds)
{
    if (route >= router_n_routes || route >= MAX_ROUTES) {
        route = MAX_ROUTES;     /* unrouted requests */
    }
    unsigned int m = (unsigned int) method <= API__N_METHODS ? (unsigned int) method
                                                             : API__N_METHODS;
    atomic_fetch_add_explicit(&requests[route][m][status_index(status)], 1,
                              memory_order_relaxed);
    unsigned int b = 0;
    while (b < N_BUCKETS && seconds > buckets[b]) {
        b++;
    }
    atomic_fetch_add_explicit(&latency[route][b], 1, memory_order_relaxed);
    atomic_fetch_add_explicit(&latency_us_sum[route],
                              (unsigned long) (seconds * 1e6), memory_order_relaxed);
}

struct out {
    char *buf;
    size_t len, cap;
    bool failed;
};

static void __attribute__((format(printf, 2, 3)))
out_printf(struct out *o, const char *fmt, ...)
{
    va_list ap;
    for (;;) {
        va_start(ap, fmt);
        int n = vsnprintf(o->buf + o->len, o->cap - o->len, fmt, ap);
        va_end(ap);
        if (n < 0) {
            o->failed = true;
            return;
        }
        if ((size_t) n < o->cap - o->len) {
            o->len += (size_t) n;
            return;
        }
        size_t cap = o->cap * 2 + (size_t) n;
        char *b = realloc(o->buf, cap);
        if (!b) {
            o->failed = true;
            return;
        }
        o->buf = b;
        o->cap = cap;
    }
}

static const char *
route_label(unsigned int r)
{
    return r < router_n_routes ? router_routes[r].pattern : "(none)";
}

/* This instance's leases (db/lease_keeper.h). */
static void
render_leases(struct out *o, struct lease_keeper *keeper)
{
    struct lease_keeper_stats s;
    lease_keeper_get_stats(keeper, &s);
    out_printf(o, "# HELP skyvisor_leases_held Cloud leases this instance holds now "
                  "(by its own deadline).\n# TYPE skyvisor_leases_held gauge\n"
                  "skyvisor_leases_held %zu\n", s.held);
    static const struct {
        const char *name, *help;
        size_t off;
    } counters[] = {
#define C(FIELD, NAME, HELP) {"skyvisor_lease_" NAME "_total", HELP, \
                              offsetof(struct lease_keeper_stats, FIELD)}
        C(acquired, "acquisitions", "Cloud leases acquired, each with a new epoch."),
        C(takeovers, "takeovers", "Acquisitions of a cloud another instance held."),
        C(yielded, "yields", "Leases let go to the cloud's pinned instance."),
        C(lost, "losses", "Leases found held by another instance or epoch."),
        C(expired, "expirations", "Leases whose deadline passed before a renewal."),
        C(fenced, "fencing_refusals", "Writes or role requests a switch refused "
                                      "(stale epoch, not master)."),
        C(heartbeat_failures, "heartbeat_failures", "Heartbeats not recorded."),
#undef C
    };
    for (size_t i = 0; i < sizeof counters / sizeof counters[0]; i++) {
        unsigned long long v;
        memcpy(&v, (const char *) &s + counters[i].off, sizeof v);
        out_printf(o, "# HELP %s %s\n# TYPE %s counter\n%s %llu\n", counters[i].name,
                   counters[i].help, counters[i].name, counters[i].name, v);
    }
    out_printf(o, "# HELP skyvisor_instance_heartbeat_age_seconds Time since this "
                  "instance's last recorded heartbeat.\n"
                  "# TYPE skyvisor_instance_heartbeat_age_seconds gauge\n"
                  "skyvisor_instance_heartbeat_age_seconds %.3f\n",
               s.heartbeat_age_ms < 0 ? -1.0 : (double) s.heartbeat_age_ms / 1e3);
}

/* The tenant controllers' virtual switches (ctrl/vswitch_agent.h). */
static void
render_tenant_ctl(struct out *o, const struct vswitch_agent *agent)
{
    struct vswitch_agent_stats s;
    vswitch_agent_get_stats(agent, &s);
    static const struct {
        const char *name, *help, *type;
        size_t off;
    } rows[] = {
#define R(NAME, FIELD, TYPE, HELP) {"skyvisor_tenant_ctl_" NAME, HELP, TYPE, \
                                    offsetof(struct vswitch_agent_stats, FIELD)}
        R("switches", switches, "gauge", "Virtual switches that name a tenant controller."),
        R("connected", connected, "gauge", "Of which connected to their controller."),
        R("flows", flows, "gauge", "Virtual flows the tenant controllers hold."),
        R("flow_mods_total", flow_mods, "counter", "Tenant flow-mods applied."),
        R("refused_total", refused, "counter", "Tenant controller messages answered "
                                               "with an OpenFlow error."),
        R("quota_refused_total", quota_refused, "counter", "Of which for the flow "
                                                           "or flow-mod rate quota."),
        R("packet_ins_total", packet_ins, "counter", "Packet-ins sent to tenant "
                                                     "controllers."),
        R("packet_outs_total", packet_outs, "counter", "Tenant packet-outs accepted."),
        R("vm_frames_total", vm_frames, "counter", "Frames from VMs run through their "
                                                   "switches' tenant flows."),
        R("datapath_frames_total", datapath_frames, "counter", "Frames the bridges' "
          "translated tenant flows sent to the agent (outputs to the controller, "
          "punted flows)."),
        R("vm_delivered_total", vm_delivered, "counter", "Frames delivered into VMs."),
        R("vm_dropped_total", vm_dropped, "counter", "Frames from or to VMs dropped "
                                                     "(queue full, no port now)."),
#undef R
    };
    for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
        uint64_t v;
        memcpy(&v, (const char *) &s + rows[i].off, sizeof v);
        out_printf(o, "# HELP %s %s\n# TYPE %s %s\n%s %llu\n", rows[i].name,
                   rows[i].help, rows[i].name, rows[i].type, rows[i].name,
                   (unsigned long long) v);
    }
}

char *
metrics_render(struct db_pool *pool, struct reconciler *recon,
               struct lease_keeper *keeper, const struct vswitch_agent *tenant_ctl,
               struct readsnap *readsnap, size_t *len)
{
    struct out o = {malloc(16384), 0, 16384, false};
    if (!o.buf) {
        return NULL;
    }
    unsigned int n_routes = router_n_routes < MAX_ROUTES ? (unsigned int) router_n_routes
                                                         : MAX_ROUTES;
    out_printf(&o, "# HELP skyvisor_http_requests_total HTTP requests by route, "
                   "method and status.\n# TYPE skyvisor_http_requests_total counter\n");
    for (unsigned int r = 0; r <= MAX_ROUTES; r++) {
        if (r >= n_routes && r != MAX_ROUTES) {
            continue;
        }
        for (unsigned int m = 0; m <= API__N_METHODS; m++) {
            for (unsigned int s = 0; s < N_STATUS; s++) {
                unsigned long v = atomic_load_explicit(&requests[r][m][s],
                                                       memory_order_relaxed);
                if (!v) {
                    continue;
                }
                char st[8];
                snprintf(st, sizeof st, "%u", status_codes[s]);
                out_printf(&o, "skyvisor_http_requests_total{route=\"%s\","
                               "method=\"%s\",status=\"%s\"} %lu\n",
                           route_label(r),
                           m < API__N_METHODS ? router_method_name((enum api_method) m)
                                              : "OTHER",
                           status_codes[s] ? st : "other", v);
            }
        }
    }
    out_printf(&o, "# HELP skyvisor_http_request_duration_seconds Time from "
                   "request start to response.\n"
                   "# TYPE skyvisor_http_request_duration_seconds histogram\n");
    for (unsigned int r = 0; r <= MAX_ROUTES; r++) {
        if (r >= n_routes && r != MAX_ROUTES) {
            continue;
        }
        unsigned long cum = 0;
        for (unsigned int b = 0; b <= N_BUCKETS; b++) {
            cum += atomic_load_explicit(&latency[r][b], memory_order_relaxed);
        }
        if (!cum) {
            continue;
        }
        cum = 0;
        for (unsigned int b = 0; b <= N_BUCKETS; b++) {
            cum += atomic_load_explicit(&latency[r][b], memory_order_relaxed);
            if (b < N_BUCKETS) {
                out_printf(&o, "skyvisor_http_request_duration_seconds_bucket"
                               "{route=\"%s\",le=\"%g\"} %lu\n",
                           route_label(r), buckets[b], cum);
            } else {
                out_printf(&o, "skyvisor_http_request_duration_seconds_bucket"
                               "{route=\"%s\",le=\"+Inf\"} %lu\n",
                           route_label(r), cum);
            }
        }
        out_printf(&o, "skyvisor_http_request_duration_seconds_sum{route=\"%s\"} %.6f\n"
                       "skyvisor_http_request_duration_seconds_count{route=\"%s\"} %lu\n",
                   route_label(r),
                   (double) atomic_load(&latency_us_sum[r]) / 1e6,
                   route_label(r), cum);
    }
    if (pool) {
        struct db_pool_stats s;
        db_pool_get_stats(pool, &s);
        out_printf(&o,
                   "# HELP skyvisor_db_pool_connections Database connections in "
                   "the pool.\n# TYPE skyvisor_db_pool_connections gauge\n"
                   "skyvisor_db_pool_connections %u\n"
                   "# HELP skyvisor_db_pool_in_use Connections lent to requests.\n"
                   "# TYPE skyvisor_db_pool_in_use gauge\n"
                   "skyvisor_db_pool_in_use %u\n"
                   "# HELP skyvisor_db_pool_acquired_total Connection checkouts.\n"
                   "# TYPE skyvisor_db_pool_acquired_total counter\n"
                   "skyvisor_db_pool_acquired_total %llu\n"
                   "# HELP skyvisor_db_pool_waits_total Checkouts that waited "
                   "for a free connection.\n"
                   "# TYPE skyvisor_db_pool_waits_total counter\n"
                   "skyvisor_db_pool_waits_total %llu\n"
                   "# HELP skyvisor_db_pool_timeouts_total Checkouts that gave "
                   "up.\n# TYPE skyvisor_db_pool_timeouts_total counter\n"
                   "skyvisor_db_pool_timeouts_total %llu\n",
                   s.size, s.in_use, s.acquired, s.waited, s.timeouts);
    }
    if (recon) {
        struct recon_stats rs;
        reconciler_get_stats(recon, &rs);
        static const struct {
            const char *name, *help;
            size_t off;
        } counters[] = {
#define C(FIELD, HELP) {"skyvisor_reconciler_" #FIELD "_total", HELP, \
                        offsetof(struct recon_stats, FIELD)}
            C(passes, "Reconciler passes."),
            C(flows_added, "Flows the reconciler installed."),
            C(flows_deleted, "Stale flows the reconciler removed."),
            C(flows_kept, "Installed flows found as desired and left alone."),
            C(ovsdb_txns, "OVSDB transactions the reconciler committed."),
            C(packet_ins, "Packet-ins received."),
            C(arp_replies, "ARP requests answered from the snapshot."),
            C(reactive_forwarded, "Tenant-table misses forwarded by packet-out."),
            C(reactive_dropped, "Tenant-table misses dropped (destination not "
                                "the sender's to reach)."),
            C(lldp_links, "Links between bridges LLDP discovered."),
            C(readbacks, "Bridges whose flows were read back (start, reconnect, "
                         "audit, an unexplained miss)."),
            C(audits, "Periodic audits of every bridge's flows."),
            C(drift_found, "Flows found missing, changed or unknown on a bridge "
                           "(audits, flow-removed notifications)."),
            C(drift_repaired, "Drifted flows put right since."),
            C(meter_drift_found, "Meters found missing, changed or unknown on a bridge "
                                 "read back again (audits, reconnections); the next "
                                 "plan puts them right."),
            C(tenant_flows_rejected, "Tenant controllers' flows a bridge refused "
                                     "(left out of later plans)."),
            C(tunnel_failovers, "Inter-cloud tunnel ends whose BFD session went from up "
                                "to down (the datapath's fast failover moves off them)."),
            C(tunnel_recoveries, "Inter-cloud tunnel ends whose BFD session came back "
                                 "up."),
#undef C
        };
        for (size_t i = 0; i < sizeof counters / sizeof counters[0]; i++) {
            unsigned long long v;
            memcpy(&v, (const char *) &rs + counters[i].off, sizeof v);
            out_printf(&o, "# HELP %s %s\n# TYPE %s counter\n%s %llu\n",
                       counters[i].name, counters[i].help, counters[i].name,
                       counters[i].name, v);
        }
        out_printf(&o, "# HELP skyvisor_reconciler_last_pass_seconds Duration of the "
                       "last pass.\n# TYPE skyvisor_reconciler_last_pass_seconds gauge\n"
                       "skyvisor_reconciler_last_pass_seconds %.6f\n"
                       "# HELP skyvisor_reconciler_converged 1 when the last pass left "
                       "nothing pending.\n# TYPE skyvisor_reconciler_converged gauge\n"
                       "skyvisor_reconciler_converged %d\n",
                   (double) rs.last_pass_us / 1e6, rs.converged ? 1 : 0);
        out_printf(&o, "# HELP skyvisor_reconciler_installed_flows Flows the bridges' "
                       "installed-flow tables held at the end of the last pass.\n"
                       "# TYPE skyvisor_reconciler_installed_flows gauge\n"
                       "skyvisor_reconciler_installed_flows %llu\n"
                       "# HELP skyvisor_reconciler_installed_flow_bytes Bytes those "
                       "tables hold: entries, indexes, and the matches and instructions "
                       "they share.\n"
                       "# TYPE skyvisor_reconciler_installed_flow_bytes gauge\n"
                       "skyvisor_reconciler_installed_flow_bytes %llu\n",
                   rs.installed_flows, rs.installed_bytes);
        out_printf(&o, "# HELP skyvisor_reconciler_stage_seconds_total Time the "
                       "reconciler's passes spent in each stage (ctrl/reconciler.h, "
                       "enum recon_stage).\n"
                       "# TYPE skyvisor_reconciler_stage_seconds_total counter\n");
        for (int i = 0; i < RECON_N_STAGES; i++) {
            out_printf(&o, "skyvisor_reconciler_stage_seconds_total{stage=\"%s\"} %.6f\n",
                       recon_stage_name((enum recon_stage) i),
                       (double) rs.stage_us[i] / 1e6);
        }
    }
    if (keeper) {
        render_leases(&o, keeper);
    }
    if (readsnap) {
        struct readsnap_stats rs;
        readsnap_get_stats(readsnap, &rs);
        out_printf(&o, "# HELP skyvisor_read_snapshot_total GETs of clouds, hosts and "
                       "tenants: answered from the read snapshot, or from PostgreSQL "
                       "and why.\n# TYPE skyvisor_read_snapshot_total counter\n"
                       "skyvisor_read_snapshot_total{answer=\"snapshot\"} %llu\n"
                       "skyvisor_read_snapshot_total{answer=\"database\",why=\"stale\"} %llu\n"
                       "skyvisor_read_snapshot_total{answer=\"database\",why=\"min-seq\"} %llu\n"
                       "skyvisor_read_snapshot_total{answer=\"database\",why=\"other\"} %llu\n"
                       "# HELP skyvisor_read_snapshot_refreshes_total Read snapshots "
                       "read from PostgreSQL.\n"
                       "# TYPE skyvisor_read_snapshot_refreshes_total counter\n"
                       "skyvisor_read_snapshot_refreshes_total %llu\n",
                   rs.served, rs.stale, rs.behind, rs.other, rs.refreshes);
    }
    if (tenant_ctl) {
        render_tenant_ctl(&o, tenant_ctl);
    }
    if (o.failed) {
        free(o.buf);
        return NULL;
    }
    *len = o.len;
    return o.buf;
}
