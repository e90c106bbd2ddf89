/* state.c: loading the desired state and writing statuses back (state.h).
 *
 * Each table is read ordered by id; references between rows are resolved
 * by binary search on those ids, so a model of n objects loads in
 * O(n log n) with one round trip per table. */
#include "db/state.h"

#include <arpa/inet.h>
#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/packet.h"
#include "db/conn_internal.h"
#include "db/state_internal.h"
#include "db/tenant_ctl.h"


static const struct db_stmt q_clouds = {
    "state_clouds", "SELECT " STATE_COMMON_COLS " FROM cloud ORDER BY id", 0};
static const struct db_stmt q_hosts = {
    "state_hosts",
    "SELECT " STATE_COMMON_COLS ", cloud_id, role = 'gateway', host(tunnel_ip),"
    " host(public_ip), ovsdb, bridge, datapath, coalesce(openflow, ''),"
    " coalesce(controller, '') FROM host ORDER BY id", 0};
static const struct db_stmt q_tenants = {
    "state_tenants",
    "SELECT " STATE_COMMON_COLS ", tag, coalesce(wan_limit_mbps, 0) FROM tenant ORDER BY id", 0};
static const struct db_stmt q_networks = {
    "state_networks",
    "SELECT " STATE_COMMON_COLS ", tenant_id, tagging = 'rewrite' FROM network ORDER BY id", 0};
static const struct db_stmt q_switches = {
    "state_switches",
    "SELECT " STATE_COMMON_COLS ", network_id, seq,"
    " controller IS NOT NULL AND (fail_mode = 'secure' OR EXISTS (SELECT 1"
    "  FROM vswitch_controller c WHERE c.vswitch_id = vswitch.id AND c.connected))"
    " FROM vswitch ORDER BY id", 0};
static const struct db_stmt q_links = {
    "state_links",
    "SELECT " STATE_COMMON_COLS ", network_id, a_id, b_id FROM vlink ORDER BY id", 0};
static const struct db_stmt q_vms = {
    "state_vms",
    "SELECT " STATE_VM_COLS " FROM vm WHERE " STATE_VM_IN_MODEL " ORDER BY id", 0};
static const struct db_stmt q_cloudlinks = {
    "state_cloudlinks", "SELECT cloud_a, cloud_b, cost FROM cloud_link", 0};

/* Reads STATE_COMMON_COLS from columns c0.. of row 'row'. */
static void
read_obj_at(const PGresult *r, int row, int c0, struct nm_obj *o)
{
    snprintf(o->id, sizeof o->id, "%s", PQgetvalue(r, row, c0));
    snprintf(o->name, sizeof o->name, "%s", PQgetvalue(r, row, c0 + 1));
    o->generation = atoll(PQgetvalue(r, row, c0 + 2));
    o->observed_generation = atoll(PQgetvalue(r, row, c0 + 3));
    const char *st = PQgetvalue(r, row, c0 + 4);
    o->state = !strcmp(st, "realized") ? NM_REALIZED
             : !strcmp(st, "error") ? NM_ERROR : NM_PENDING;
    const char *d = db_val(r, row, c0 + 5);
    o->detail = d ? strdup(d) : NULL;
}

static void
read_obj(const PGresult *r, int row, struct nm_obj *o)
{
    read_obj_at(r, row, 0, o);
}

static uint32_t
ip4(const char *s)
{
    struct in_addr a;
    return s && inet_pton(AF_INET, s, &a) == 1 ? ntohl(a.s_addr) : 0;
}

/* The MAC as PostgreSQL writes a macaddr, as a number; 0 if unreadable. */
static uint64_t
mac48(const char *s)
{
    uint8_t b[6];
    return s && packet_parse_mac(s, b) ? packet_get_mac(b) : 0;
}

#define FIND(arr, n, id) netmodel_index((arr), (n), sizeof *(arr), (id))

/* Reads VM_MIGRATION's text into v->mig and the fields beside it.  False
 * when it names a host 'm' lacks. */
static bool
read_migration(const char *text, const struct netmodel *m, struct nm_vm *v)
{
    static const char *const phases[] = {
        [NM_MIG_PREPARE] = "prepare", [NM_MIG_CLONE] = "clone", [NM_MIG_DUAL] = "dual",
        [NM_MIG_ACTIVATE] = "activate", [NM_MIG_CLEANUP] = "cleanup",
    };
    char phase[16], from[40], to[40];
    unsigned long alt;
    v->mig = NM_MIG_NONE;
    v->mig_from = v->mig_to = -1;
    if (!text[0]) {
        return true;
    }
    if (sscanf(text, "%15s %39s %39s %lu", phase, from, to, &alt) != 4) {
        return false;
    }
    for (unsigned int i = NM_MIG_PREPARE; i <= NM_MIG_CLEANUP; i++) {
        if (!strcmp(phase, phases[i])) {
            v->mig = (uint8_t) i;
        }
    }
    v->mig_from = FIND(m->hosts, m->n_hosts, from);
    v->mig_to = FIND(m->hosts, m->n_hosts, to);
    v->alt_low = (uint32_t) alt;
    if (v->mig == NM_MIG_NONE || v->mig_from < 0 || v->mig_to < 0) {
        v->mig = NM_MIG_NONE;
        return false;
    }
    return true;
}

bool
state_read_vm_row(const PGresult *r, int row, int c0, const struct netmodel *m,
                  struct nm_vm *v)
{
    read_obj_at(r, row, c0, &v->o);
    v->network = FIND(m->networks, m->n_networks, PQgetvalue(r, row, c0 + 6));
    v->sw = FIND(m->switches, m->n_switches, PQgetvalue(r, row, c0 + 7));
    v->host = FIND(m->hosts, m->n_hosts, PQgetvalue(r, row, c0 + 8));
    v->mac = mac48(PQgetvalue(r, row, c0 + 9));
    v->ip = ip4(PQgetvalue(r, row, c0 + 10));
    v->wire_low = (uint32_t) strtoul(PQgetvalue(r, row, c0 + 11), NULL, 10);
    snprintf(v->iface, sizeof v->iface, "%s", PQgetvalue(r, row, c0 + 12));
    v->rate_mbps = (uint32_t) strtoul(PQgetvalue(r, row, c0 + 14), NULL, 10);
    v->burst_kb = (uint32_t) strtoul(PQgetvalue(r, row, c0 + 15), NULL, 10);
    return read_migration(PQgetvalue(r, row, c0 + 13), m, v)
           && (v->network >= 0 || PQgetisnull(r, row, c0 + 6))
           && (v->sw >= 0 || PQgetisnull(r, row, c0 + 7))
           && (v->host >= 0 || PQgetisnull(r, row, c0 + 8));
}


struct load_ctx {
    struct netmodel *m;
};

static enum db_qs
query(struct db_conn *c, const struct db_stmt *st, PGresult **r, void **arr,
      size_t *n, size_t size)
{
    enum db_qs qs = db_exec(c, st, NULL, r);
    if (qs < 0) {
        return qs;
    }
    *n = (size_t) PQntuples(*r);
    *arr = calloc(*n ? *n : 1, size);
    if (!*arr) {
        PQclear(*r);
        *r = NULL;
        return DB_QS_HARD;
    }
    return qs;
}

static enum db_qs
load_txn(struct db_conn *c, void *ctx_)
{
    struct load_ctx *ctx = ctx_;
    struct netmodel *m = ctx->m;
    netmodel_free(m);
    netmodel_init(m);
    PGresult *r = NULL;
    enum db_qs qs;

    if ((qs = query(c, &q_clouds, &r, (void **) &m->clouds, &m->n_clouds,
                    sizeof *m->clouds)) < 0) {
        return qs;
    }
    for (size_t i = 0; i < m->n_clouds; i++) {
        read_obj(r, (int) i, &m->clouds[i].o);
        m->clouds[i].gateway = -1;
    }
    PQclear(r);

    if ((qs = query(c, &q_hosts, &r, (void **) &m->hosts, &m->n_hosts,
                    sizeof *m->hosts)) < 0) {
        return qs;
    }
    for (size_t i = 0; i < m->n_hosts; i++) {
        struct nm_host *h = &m->hosts[i];
        int row = (int) i;
        read_obj(r, row, &h->o);
        h->cloud = FIND(m->clouds, m->n_clouds, PQgetvalue(r, row, 6));
        h->gateway = PQgetvalue(r, row, 7)[0] == 't';
        h->tunnel_ip = ip4(db_val(r, row, 8));
        h->public_ip = ip4(db_val(r, row, 9));
        snprintf(h->ovsdb, sizeof h->ovsdb, "%s", PQgetvalue(r, row, 10));
        snprintf(h->bridge, sizeof h->bridge, "%s", PQgetvalue(r, row, 11));
        snprintf(h->datapath, sizeof h->datapath, "%s", PQgetvalue(r, row, 12));
        snprintf(h->openflow, sizeof h->openflow, "%s", PQgetvalue(r, row, 13));
        snprintf(h->controller, sizeof h->controller, "%s", PQgetvalue(r, row, 14));
    }
    PQclear(r);

    if ((qs = query(c, &q_tenants, &r, (void **) &m->tenants, &m->n_tenants,
                    sizeof *m->tenants)) < 0) {
        return qs;
    }
    for (size_t i = 0; i < m->n_tenants; i++) {
        read_obj(r, (int) i, &m->tenants[i].o);
        m->tenants[i].tag = (uint16_t) atoi(PQgetvalue(r, (int) i, 6));
        m->tenants[i].wan_limit_mbps = (uint32_t) strtoul(PQgetvalue(r, (int) i, 7), NULL, 10);
    }
    PQclear(r);

    if ((qs = query(c, &q_networks, &r, (void **) &m->networks, &m->n_networks,
                    sizeof *m->networks)) < 0) {
        return qs;
    }
    for (size_t i = 0; i < m->n_networks; i++) {
        read_obj(r, (int) i, &m->networks[i].o);
        m->networks[i].tenant = FIND(m->tenants, m->n_tenants, PQgetvalue(r, (int) i, 6));
        m->networks[i].rewrite = PQgetvalue(r, (int) i, 7)[0] == 't';
    }
    PQclear(r);

    if ((qs = query(c, &q_switches, &r, (void **) &m->switches, &m->n_switches,
                    sizeof *m->switches)) < 0) {
        return qs;
    }
    for (size_t i = 0; i < m->n_switches; i++) {
        read_obj(r, (int) i, &m->switches[i].o);
        m->switches[i].network = FIND(m->networks, m->n_networks,
                                      PQgetvalue(r, (int) i, 6));
        m->switches[i].seq = (uint32_t) strtoul(PQgetvalue(r, (int) i, 7), NULL, 10);
        m->switches[i].tenant_ctl = PQgetvalue(r, (int) i, 8)[0] == 't';
    }
    PQclear(r);

    if ((qs = query(c, &q_links, &r, (void **) &m->links, &m->n_links,
                    sizeof *m->links)) < 0) {
        return qs;
    }
    for (size_t i = 0; i < m->n_links; i++) {
        int row = (int) i;
        read_obj(r, row, &m->links[i].o);
        m->links[i].network = FIND(m->networks, m->n_networks, PQgetvalue(r, row, 6));
        m->links[i].a = FIND(m->switches, m->n_switches, PQgetvalue(r, row, 7));
        m->links[i].b = FIND(m->switches, m->n_switches, PQgetvalue(r, row, 8));
    }
    PQclear(r);

    if ((qs = query(c, &q_vms, &r, (void **) &m->vms, &m->n_vms,
                    sizeof *m->vms)) < 0) {
        return qs;
    }
    for (size_t i = 0; i < m->n_vms; i++) {
        state_read_vm_row(r, (int) i, 0, m, &m->vms[i]);
    }
    PQclear(r);

    size_t n = 0;
    if ((qs = query(c, &q_cloudlinks, &r, (void **) &m->cloudlinks, &n,
                    sizeof *m->cloudlinks)) < 0) {
        return qs;
    }
    m->n_cloudlinks = n;
    for (size_t i = 0; i < n; i++) {
        m->cloudlinks[i].a = FIND(m->clouds, m->n_clouds, PQgetvalue(r, (int) i, 0));
        m->cloudlinks[i].b = FIND(m->clouds, m->n_clouds, PQgetvalue(r, (int) i, 1));
        m->cloudlinks[i].cost = atof(PQgetvalue(r, (int) i, 2));
    }
    PQclear(r);
    return tenant_ctl_load_set(c, &m->ctl);
}

enum db_qs
state_load(struct db_conn *c, struct netmodel *m)
{
    struct load_ctx ctx = { m };
    enum db_qs qs = db_txn_run(c, true, load_txn, &ctx);
    if (qs < 0) {
        netmodel_free(m);
        netmodel_init(m);
    }
    return qs < 0 ? qs : DB_QS_ONE;
}

/* --- status write-back --- */

#define STATUS_SQL(t)                                                         \
    "UPDATE " t " AS o SET state = s.state, detail = s.detail,"               \
    " observed_generation = greatest(o.observed_generation, s.og)"            \
    " FROM jsonb_to_recordset($1::jsonb) AS s(id uuid, state text,"           \
    "                                         detail text, og bigint)"        \
    " WHERE o.id = s.id AND (o.state, o.detail, o.observed_generation)"       \
    "   IS DISTINCT FROM (s.state, s.detail, greatest(o.observed_generation, s.og))"

static const struct db_stmt q_status[NK__COUNT] = {
    [NK_CLOUD] = {"state_st_cloud", STATUS_SQL("cloud"), 1},
    [NK_HOST] = {"state_st_host", STATUS_SQL("host"), 1},
    [NK_TENANT] = {"state_st_tenant", STATUS_SQL("tenant"), 1},
    [NK_NETWORK] = {"state_st_network", STATUS_SQL("network"), 1},
    [NK_SWITCH] = {"state_st_switch", STATUS_SQL("vswitch"), 1},
    [NK_LINK] = {"state_st_link", STATUS_SQL("vlink"), 1},
    [NK_VM] = {"state_st_vm", STATUS_SQL("vm"), 1},
};

struct write_ctx {
    char *payload[NK__COUNT];
};

static enum db_qs
write_txn(struct db_conn *c, void *ctx_)
{
    struct write_ctx *ctx = ctx_;
    for (int t = 0; t < NK__COUNT; t++) {
        if (!ctx->payload[t]) {
            continue;
        }
        const char *params[1] = { ctx->payload[t] };
        enum db_qs qs = db_exec(c, &q_status[t], params, NULL);
        if (qs < 0) {
            return qs;
        }
    }
    return DB_QS_ONE;              /* commit */
}

enum db_qs
state_write_status(struct db_conn *c, const struct nm_status *st, size_t n)
{
    static const char *const names[] = {"pending", "realized", "error"};
    json_t *arr[NK__COUNT] = {NULL};
    struct write_ctx ctx = {{NULL}};
    enum db_qs qs = DB_QS_NONE;
    for (size_t i = 0; i < n; i++) {
        enum nm_kind t = st[i].kind;
        if (!arr[t] && !(arr[t] = json_array())) {
            qs = DB_QS_HARD;
            goto out;
        }
        json_t *o = json_pack("{s:s, s:s, s:s?, s:I}", "id", st[i].id,
                              "state", names[st[i].state], "detail", st[i].detail,
                              "og", (json_int_t) st[i].observed_generation);
        if (!o || json_array_append_new(arr[t], o)) {
            qs = DB_QS_HARD;
            goto out;
        }
    }
    for (int t = 0; t < NK__COUNT; t++) {
        if (arr[t] && !(ctx.payload[t] = json_dumps(arr[t], JSON_COMPACT))) {
            qs = DB_QS_HARD;
            goto out;
        }
    }
    int kinds = 0, only = 0;
    for (int t = 0; t < NK__COUNT; t++) {
        if (ctx.payload[t]) {
            kinds++;
            only = t;
        }
    }
    if (kinds == 1) {
        /* One statement is atomic without BEGIN and COMMIT around it: one
         * round trip, not three (a change's status is most often its own
         * kind's alone).  It sets values, so running it again is harmless;
         * a deadlock or serialization failure goes the transaction's way. */
        const char *params[1] = { ctx.payload[only] };
        qs = db_exec_idempotent(c, &q_status[only], params, NULL);
    }
    if (kinds > 1 || qs == DB_QS_SOFT) {
        qs = db_txn_run(c, false, write_txn, &ctx);
    }
out:
    for (int t = 0; t < NK__COUNT; t++) {
        json_decref(arr[t]);
        free(ctx.payload[t]);
    }
    return qs < 0 ? qs : DB_QS_NONE;
}

/* --- notifications --- */

bool
state_listen(struct db_conn *c)
{
    return db_exec_sql(c, "LISTEN skyvisor_desired") >= 0;
}
