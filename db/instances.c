/* instances.c: the statements of instances.h. */
#include "db/instances.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "db/conn_internal.h"

#define LEASE_SECS(P) "make_interval(secs => " P "::integer / 1000.0)"

static const struct db_stmt stmt_heartbeat = {
    "instances_heartbeat",
    "WITH gone AS (DELETE FROM instance WHERE id <> $1::uuid"
    "   AND heartbeat_at < clock_timestamp() - interval '1 hour')"
    " INSERT INTO instance AS i (id, name, api_address, openflow_address, pins,"
    "  lease_ms, heartbeat_ms)"
    " VALUES ($1::uuid, $2, $3, $4, $5::text[], $6::integer, $7::integer)"
    " ON CONFLICT (id) DO UPDATE SET heartbeat_at = clock_timestamp(),"
    "  healthy_since = CASE WHEN clock_timestamp() - i.heartbeat_at"
    "    > make_interval(secs => i.lease_ms / 1000.0)"
    "   THEN clock_timestamp() ELSE i.healthy_since END,"
    "  name = excluded.name, api_address = excluded.api_address,"
    "  openflow_address = excluded.openflow_address, pins = excluded.pins,"
    "  lease_ms = excluded.lease_ms, heartbeat_ms = excluded.heartbeat_ms"
    " RETURNING 1", 7,
};

static const struct db_stmt stmt_deregister = {
    "instances_deregister", "DELETE FROM instance WHERE id = $1::uuid RETURNING 1", 1,
};

/* One clock for every age: the CTE is evaluated once. */
static const struct db_stmt stmt_view = {
    "instances_view",
    "WITH t AS (SELECT clock_timestamp() AS now)"
    " SELECT 'i', i.id::text, NULL, NULL, NULL::bigint,"
    "  floor(extract(epoch FROM t.now - i.heartbeat_at) * 1000)::bigint,"
    "  floor(extract(epoch FROM t.now - i.healthy_since) * 1000)::bigint,"
    "  i.lease_ms, NULL::boolean, NULL"
    " FROM instance i, t"
    " UNION ALL"
    " SELECT 'c', c.id::text, c.name, l.holder::text, l.epoch,"
    "  ceil(extract(epoch FROM l.expires_at - t.now) * 1000)::bigint, NULL, NULL,"
    "  l.cloud_id IS NOT NULL,"
    "  array(SELECT i.id::text FROM instance i WHERE c.name = ANY (i.pins)"
    "        ORDER BY i.id)::text"
    " FROM cloud c LEFT JOIN cloud_lease l ON l.cloud_id = c.id, t", 0,
};

static const struct db_stmt stmt_acquire = {
    "instances_acquire",
    "WITH prev AS (SELECT holder FROM cloud_lease WHERE cloud_id = $1::uuid)"
    " INSERT INTO cloud_lease AS l (cloud_id, holder, epoch, acquired_at, renewed_at,"
    "  expires_at)"
    " SELECT c.id, $2::uuid, sv_lease_epoch(), clock_timestamp(), clock_timestamp(),"
    "  clock_timestamp() + " LEASE_SECS("$3")
    " FROM cloud c WHERE c.id = $1::uuid"
    " ON CONFLICT (cloud_id) DO UPDATE SET holder = excluded.holder,"
    "  epoch = excluded.epoch, acquired_at = excluded.acquired_at,"
    "  renewed_at = excluded.renewed_at, expires_at = excluded.expires_at,"
    "  takeovers = l.takeovers"
    "   + (l.holder IS NOT NULL AND l.holder <> excluded.holder)::integer"
    " WHERE l.expires_at <= clock_timestamp() OR l.holder IS NULL"
    " RETURNING l.epoch,"
    "  coalesce((SELECT p.holder IS NOT NULL AND p.holder <> $2::uuid FROM prev p),"
    "           false)", 3,
};

static const struct db_stmt stmt_renew = {
    "instances_renew",
    "UPDATE cloud_lease SET renewed_at = clock_timestamp(),"
    "  expires_at = clock_timestamp() + " LEASE_SECS("$4")
    " WHERE cloud_id = $1::uuid AND holder = $2::uuid AND epoch = $3::bigint"
    "  AND expires_at > clock_timestamp()"
    " RETURNING 1", 4,
};

static const struct db_stmt stmt_release = {
    "instances_release",
    "UPDATE cloud_lease SET expires_at = clock_timestamp()"
    " WHERE cloud_id = $1::uuid AND holder = $2::uuid AND epoch = $3::bigint"
    "  AND expires_at > clock_timestamp()"
    " RETURNING 1", 3,
};

static const struct db_stmt stmt_release_all = {
    "instances_release_all",
    "WITH r AS (UPDATE cloud_lease SET expires_at = clock_timestamp()"
    "  WHERE holder = $1::uuid AND expires_at > clock_timestamp() RETURNING 1)"
    " SELECT count(*) FROM r", 1,
};

static const struct db_stmt stmt_document = {
    "instances_document",
    "WITH t AS (SELECT clock_timestamp() AS now)"
    " SELECT json_build_object("
    "  'instances', coalesce((SELECT json_agg(json_build_object("
    "    'id', i.id, 'name', i.name, 'api_address', i.api_address,"
    "    'openflow_address', i.openflow_address, 'clouds', i.pins,"
    "    'lease_ms', i.lease_ms, 'heartbeat_ms', i.heartbeat_ms,"
    "    'started_at', i.started_at, 'heartbeat_at', i.heartbeat_at,"
    "    'healthy_since', i.healthy_since,"
    "    'alive', t.now - i.heartbeat_at <= make_interval(secs => i.lease_ms / 1000.0),"
    "    'owns', array(SELECT c.name FROM cloud_lease l JOIN cloud c ON c.id = l.cloud_id"
    "                  WHERE l.holder = i.id AND l.expires_at > t.now ORDER BY c.name))"
    "   ORDER BY i.started_at, i.id) FROM instance i), '[]'),"
    "  'leases', coalesce((SELECT json_agg(json_build_object("
    "    'cloud', c.name, 'cloud_id', c.id, 'holder', l.holder,"
    "    'holder_name', (SELECT i.name FROM instance i WHERE i.id = l.holder),"
    "    'epoch', l.epoch, 'acquired_at', l.acquired_at, 'renewed_at', l.renewed_at,"
    "    'expires_at', l.expires_at, 'expired', l.expires_at <= t.now,"
    "    'takeovers', l.takeovers) ORDER BY c.name)"
    "   FROM cloud c JOIN cloud_lease l ON l.cloud_id = c.id), '[]'))::text"
    " FROM t", 0,
};

/* pins as a text[] literal, each element quoted ("a","b"); NULL when it
 * does not fit. */
static char *
pins_literal(const char *const *pins, size_t n)
{
    size_t len = 3;
    for (size_t i = 0; i < n; i++) {
        len += strlen(pins[i]) * 2 + 3;
    }
    char *s = malloc(len);
    if (!s) {
        return NULL;
    }
    char *p = s;
    *p++ = '{';
    for (size_t i = 0; i < n; i++) {
        if (i) {
            *p++ = ',';
        }
        *p++ = '"';
        for (const char *q = pins[i]; *q; q++) {
            if (*q == '"' || *q == '\\') {
                *p++ = '\\';
            }
            *p++ = *q;
        }
        *p++ = '"';
    }
    *p++ = '}';
    *p = '\0';
    return s;
}

enum db_qs
instances_heartbeat(struct db_conn *c, const struct instances_reg *r)
{
    char *pins = pins_literal(r->pins, r->n_pins);
    if (!pins) {
        return DB_QS_HARD;
    }
    char lease[16], hb[16];
    snprintf(lease, sizeof lease, "%u", r->lease_ms);
    snprintf(hb, sizeof hb, "%u", r->heartbeat_ms);
    const char *params[] = {r->id, r->name, r->api_address, r->openflow_address, pins,
                            lease, hb};
    enum db_qs qs = db_exec_idempotent(c, &stmt_heartbeat, params, NULL);
    free(pins);
    return qs;
}

enum db_qs
instances_deregister(struct db_conn *c, const char *id)
{
    const char *params[] = {id};
    return db_exec(c, &stmt_deregister, params, NULL);
}

void
instances_view_uninit(struct instances_view *v)
{
    free(v->peers);
    free(v->clouds);
    memset(v, 0, sizeof *v);
}

/* Resolves the pinned instances' ids ("{id,id}") to indices of v->peers. */
static void
resolve_pins(const struct instances_view *v, struct lease_cloud *c, const char *ids)
{
    c->n_pins = 0;
    for (const char *p = ids; *p && c->n_pins < LEASE_MAX_PINS;) {
        while (*p == '{' || *p == ',' || *p == '}') {
            p++;
        }
        size_t len = strcspn(p, ",}");
        for (size_t i = 0; len == LEASE_ID_LEN - 1 && i < v->n_peers; i++) {
            if (!strncmp(v->peers[i].id, p, len)) {
                c->pins[c->n_pins++] = i;
                break;
            }
        }
        p += len;
    }
}

enum db_qs
instances_view(struct db_conn *c, struct instances_view *out)
{
    memset(out, 0, sizeof *out);
    PGresult *res;
    enum db_qs qs = db_exec(c, &stmt_view, NULL, &res);
    if (qs < 0) {
        return qs;
    }
    int rows = PQntuples(res);
    out->peers = calloc((size_t) rows + 1, sizeof *out->peers);
    out->clouds = calloc((size_t) rows + 1, sizeof *out->clouds);
    if (!out->peers || !out->clouds) {
        PQclear(res);
        instances_view_uninit(out);
        return DB_QS_HARD;
    }
    for (int i = 0; i < rows; i++) {      /* instances first: pins refer to them */
        if (PQgetvalue(res, i, 0)[0] == 'i') {
            struct lease_peer *p = &out->peers[out->n_peers++];
            snprintf(p->id, sizeof p->id, "%s", PQgetvalue(res, i, 1));
            p->heartbeat_age_ms = atoll(PQgetvalue(res, i, 5));
            p->healthy_ms = atoll(PQgetvalue(res, i, 6));
            p->lease_ms = (unsigned int) strtoul(PQgetvalue(res, i, 7), NULL, 10);
        }
    }
    for (int i = 0; i < rows; i++) {
        if (PQgetvalue(res, i, 0)[0] != 'c') {
            continue;
        }
        struct lease_cloud *k = &out->clouds[out->n_clouds++];
        snprintf(k->id, sizeof k->id, "%s", PQgetvalue(res, i, 1));
        snprintf(k->name, sizeof k->name, "%s", PQgetvalue(res, i, 2));
        k->leased = PQgetvalue(res, i, 8)[0] == 't';
        const char *holder = db_val(res, i, 3);
        snprintf(k->holder, sizeof k->holder, "%s", holder ? holder : "");
        k->epoch = k->leased ? strtoull(PQgetvalue(res, i, 4), NULL, 10) : 0;
        k->expires_in_ms = k->leased ? atoll(PQgetvalue(res, i, 5)) : 0;
        resolve_pins(out, k, PQgetvalue(res, i, 9));
    }
    PQclear(res);
    return DB_QS_ONE;
}

enum db_qs
instances_acquire(struct db_conn *c, const char *cloud_id, const char *holder,
                  unsigned int lease_ms, uint64_t *epoch, bool *takeover)
{
    char lease[16];
    snprintf(lease, sizeof lease, "%u", lease_ms);
    const char *params[] = {cloud_id, holder, lease};
    PGresult *res;
    enum db_qs qs = db_exec(c, &stmt_acquire, params, &res);
    if (qs == DB_QS_ONE) {
        *epoch = strtoull(PQgetvalue(res, 0, 0), NULL, 10);
        *takeover = PQgetvalue(res, 0, 1)[0] == 't';
    }
    PQclear(res);
    return qs;
}

enum db_qs
instances_renew(struct db_conn *c, const char *cloud_id, const char *holder,
                uint64_t epoch, unsigned int lease_ms)
{
    char e[24], lease[16];
    snprintf(e, sizeof e, "%llu", (unsigned long long) epoch);
    snprintf(lease, sizeof lease, "%u", lease_ms);
    const char *params[] = {cloud_id, holder, e, lease};
    return db_exec(c, &stmt_renew, params, NULL);
}

enum db_qs
instances_release(struct db_conn *c, const char *cloud_id, const char *holder,
                  uint64_t epoch)
{
    char e[24];
    snprintf(e, sizeof e, "%llu", (unsigned long long) epoch);
    const char *params[] = {cloud_id, holder, e};
    return db_exec(c, &stmt_release, params, NULL);
}

enum db_qs
instances_release_all(struct db_conn *c, const char *holder, long long *n)
{
    const char *params[] = {holder};
    PGresult *res;
    *n = 0;
    enum db_qs qs = db_exec(c, &stmt_release_all, params, &res);
    if (qs == DB_QS_ONE) {
        *n = atoll(PQgetvalue(res, 0, 0));
    }
    PQclear(res);
    return qs;
}

enum db_qs
instances_document(struct db_conn *c, char **json)
{
    PGresult *res;
    *json = NULL;
    enum db_qs qs = db_exec(c, &stmt_document, NULL, &res);
    if (qs == DB_QS_ONE && !(*json = strdup(PQgetvalue(res, 0, 0)))) {
        qs = DB_QS_HARD;
    }
    PQclear(res);
    return qs;
}
