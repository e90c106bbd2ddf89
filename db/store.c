/* store.c: the generic engine of store.h and the small queries that belong
 * to no single resource. */
#include "db/store.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/validate.h"
#include "db/conn_internal.h"
#include "db/resource_sql.h"

void
store_row_uninit(struct store_row *row)
{
    free(row->json);
    row->json = NULL;
}

void
store_items_uninit(struct store_items *items)
{
    for (size_t i = 0; i < items->n; i++) {
        free(items->v[i].json);
        free(items->v[i].key);
    }
    free(items->v);
    memset(items, 0, sizeof *items);
}

enum db_qs
store_take_items(PGresult *res, enum db_qs qs, struct store_items *out)
{
    int n = qs < 0 ? 0 : PQntuples(res), cols = qs < 0 ? 0 : PQnfields(res);
    if (qs >= 0 && !(out->v = calloc((size_t) n + 1, sizeof *out->v))) {
        qs = DB_QS_HARD;
    }
    for (int i = 0; qs >= 0 && i < n; i++) {
        struct store_item *it = &out->v[out->n++];
        it->len = (size_t) PQgetlength(res, i, 0);
        it->json = malloc(it->len + 1);
        it->key = strdup(PQgetvalue(res, i, 1));
        if (!it->json || !it->key) {
            qs = DB_QS_HARD;
            break;
        }
        memcpy(it->json, PQgetvalue(res, i, 0), it->len + 1);
        it->revision = cols > 2 ? atoll(PQgetvalue(res, i, 2)) : 0;
        snprintf(it->id, sizeof it->id, "%s", cols > 3 ? PQgetvalue(res, i, 3) : "");
    }
    if (qs < 0) {
        store_items_uninit(out);
    }
    PQclear(res);
    return qs;
}

enum db_qs
store_take_row(PGresult *res, enum db_qs qs, struct store_row *out)
{
    if (qs == DB_QS_ONE) {
        out->json = strdup(PQgetvalue(res, 0, 0));
        out->revision = PQnfields(res) > 1 ? atoll(PQgetvalue(res, 0, 1)) : 0;
        snprintf(out->id, sizeof out->id, "%s",
                 PQnfields(res) > 2 ? PQgetvalue(res, 0, 2) : "");
        if (!out->json) {
            qs = DB_QS_HARD;
        }
    }
    PQclear(res);
    return qs;
}

enum db_qs
store_get(struct db_conn *c, const struct store_res *r, const char *scope,
          const char *key, struct store_row *out)
{
    bool is_id = validate_uuid(key);
    const char *params[] = {scope, is_id ? key : NULL, is_id ? NULL : key};
    PGresult *res;
    enum db_qs qs = db_exec(c, r->get, params, &res);
    return store_take_row(res, qs, out);
}

enum db_qs
store_list(struct db_conn *c, const struct store_res *r, const char *scope,
           const char *after, unsigned int limit, struct store_items *out)
{
    char lim[16];
    snprintf(lim, sizeof lim, "%u", limit);
    const char *params[] = {scope, after, lim};
    PGresult *res;
    enum db_qs qs = db_exec(c, r->list, params, &res);
    return store_take_items(res, qs, out);
}

enum db_qs
store_insert(struct db_conn *c, const struct store_res *r, const char *scope,
             const char *body, struct store_row *out)
{
    const char *params[] = {scope, body};
    PGresult *res;
    enum db_qs qs = db_exec(c, r->insert, params, &res);
    return store_take_row(res, qs, out);
}

enum db_qs
store_update(struct db_conn *c, const struct store_res *r, const char *scope,
             const char *id, long long revision, const char *body,
             struct store_row *out)
{
    char rev[24];
    snprintf(rev, sizeof rev, "%lld", revision);
    const char *params[] = {scope, id, rev, body};
    PGresult *res;
    enum db_qs qs = db_exec(c, r->update, params, &res);
    return store_take_row(res, qs, out);
}

enum db_qs
store_delete(struct db_conn *c, const struct store_res *r, const char *scope,
             const char *id, long long revision)
{
    char rev[24];
    snprintf(rev, sizeof rev, "%lld", revision);
    const char *params[] = {scope, id, revision >= 0 ? rev : NULL};
    return db_exec(c, r->del, params, NULL);
}

enum db_qs
store_lock(struct db_conn *c, const struct store_res *r)
{
    return r->lock ? db_exec(c, r->lock, NULL, NULL) : DB_QS_ONE;
}

static const struct db_stmt stmt_ping = {"ping", "SELECT 1", 0};

enum db_qs
store_ping(struct db_conn *c)
{
    return db_exec(c, &stmt_ping, NULL, NULL);
}

/* The used slots come from host_slots (migrations/015), one row per host:
 * O(hosts), whatever the number of VMs. */
static const struct db_stmt stmt_placement_candidates = {
    "placement_candidates",
    "SELECT h.id::text, h.name, c.id::text, c.name, c.jurisdiction,"
    "       h.role = 'gateway', h.capacity, coalesce(s.used, 0),"
    "       c.cost_per_hour::float8"
    " FROM host h JOIN cloud c ON c.id = h.cloud_id"
    " LEFT JOIN host_slots s ON s.host_id = h.id ORDER BY h.name",
    0,
};

static void
candidate_fill(void *elem, const PGresult *res, int i)
{
    struct store_candidate *k = elem;
    snprintf(k->host_id, sizeof k->host_id, "%s", PQgetvalue(res, i, 0));
    snprintf(k->host_name, sizeof k->host_name, "%s", PQgetvalue(res, i, 1));
    snprintf(k->cloud_id, sizeof k->cloud_id, "%s", PQgetvalue(res, i, 2));
    snprintf(k->cloud_name, sizeof k->cloud_name, "%s", PQgetvalue(res, i, 3));
    snprintf(k->jurisdiction, sizeof k->jurisdiction, "%s", PQgetvalue(res, i, 4));
    k->gateway = PQgetvalue(res, i, 5)[0] == 't';
    k->capacity = (unsigned int) atoi(PQgetvalue(res, i, 6));
    k->used = (unsigned int) atoi(PQgetvalue(res, i, 7));
    k->cost_per_hour = atof(PQgetvalue(res, i, 8));
}

enum db_qs
store_placement_candidates(struct db_conn *c, struct store_candidate **out, size_t *n)
{
    void *rows;
    enum db_qs qs = db_exec_rows(c, &stmt_placement_candidates, NULL, sizeof **out,
                                 candidate_fill, &rows, n);
    *out = rows;
    return qs;
}

static const struct db_stmt stmt_network_vm_count = {
    "network_vm_count",
    "SELECT count(*) FROM vm WHERE network_id = $1::uuid", 1,
};

enum db_qs
store_network_vm_count(struct db_conn *c, const char *network_id, long long *count)
{
    const char *params[] = {network_id};
    PGresult *res;
    enum db_qs qs = db_exec(c, &stmt_network_vm_count, params, &res);
    if (qs == DB_QS_ONE) {
        *count = atoll(PQgetvalue(res, 0, 0));
    }
    PQclear(res);
    return qs;
}

#define ITEMS_OF(TABLE, A)                                                    \
    "coalesce((SELECT json_agg(json_build_object('id', " A ".id, 'name', "  \
    A ".name, " SQL_STATUS(A) ") ORDER BY " A ".name) FROM " TABLE " " A       \
    " WHERE " A ".network_id = n.id), '[]'::json)"

static const struct db_stmt stmt_network_status = {
    "network_status",
    "SELECT json_build_object("
    " 'network', json_build_object('id', n.id, 'name', n.name, "
    SQL_STATUS("n") "),"
    " 'switches', " ITEMS_OF("vswitch", "s") ","
    " 'links', " ITEMS_OF("vlink", "l") ","
    " 'vms', " ITEMS_OF("vm", "v") ","
    " 'summary', (SELECT json_build_object("
    "    'pending', count(*) FILTER (WHERE x.state = 'pending'),"
    "    'realized', count(*) FILTER (WHERE x.state = 'realized'),"
    "    'error', count(*) FILTER (WHERE x.state = 'error'))"
    "   FROM (SELECT n.state UNION ALL"
    "         SELECT state FROM vswitch WHERE network_id = n.id UNION ALL"
    "         SELECT state FROM vlink WHERE network_id = n.id UNION ALL"
    "         SELECT state FROM vm WHERE network_id = n.id) x)"
    ")::text FROM network n WHERE n.tenant_id = $1::uuid AND n.id = $2::uuid",
    2,
};

/* The virtual topology: switches by name, each with its VMs and where they
 * run; links with the names of the switches they join. */
static const struct db_stmt stmt_network_topology = {
    "network_topology",
    "SELECT json_build_object("
    " 'network', json_build_object('id', n.id, 'name', n.name, 'subnet', n.subnet,"
    "   'tagging', n.tagging, " SQL_STATUS("n") "),"
    " 'switches', coalesce((SELECT json_agg(json_build_object("
    "     'id', s.id, 'name', s.name, " SQL_STATUS("s") ","
    "     'vms', coalesce((SELECT json_agg(json_build_object("
    "         'id', v.id, 'name', v.name, 'mac', v.mac, 'ip', host(v.ip),"
    "         'host', h.name, 'cloud', c.name, " SQL_STATUS("v") ") ORDER BY v.name)"
    "       FROM vm v JOIN host h ON h.id = v.host_id JOIN cloud c ON c.id = h.cloud_id"
    "       WHERE v.switch_id = s.id), '[]'::json)) ORDER BY s.name)"
    "   FROM vswitch s WHERE s.network_id = n.id), '[]'::json),"
    " 'links', coalesce((SELECT json_agg(json_build_object("
    "     'id', l.id, 'name', l.name, 'a', sa.name, 'b', sb.name, " SQL_STATUS("l") ")"
    "     ORDER BY l.name)"
    "   FROM vlink l JOIN vswitch sa ON sa.id = l.a_id JOIN vswitch sb ON sb.id = l.b_id"
    "   WHERE l.network_id = n.id), '[]'::json)"
    ")::text FROM network n WHERE n.tenant_id = $1::uuid AND n.id = $2::uuid",
    2,
};

enum db_qs
store_network_topology(struct db_conn *c, const char *tenant_id,
                       const char *network_id, char **json)
{
    const char *params[] = {tenant_id, network_id};
    PGresult *res;
    enum db_qs qs = db_exec(c, &stmt_network_topology, params, &res);
    if (qs == DB_QS_ONE) {
        *json = strdup(PQgetvalue(res, 0, 0));
        if (!*json) {
            qs = DB_QS_HARD;
        }
    }
    PQclear(res);
    return qs;
}

enum db_qs
store_network_status(struct db_conn *c, const char *tenant_id,
                     const char *network_id, char **json)
{
    const char *params[] = {tenant_id, network_id};
    PGresult *res;
    enum db_qs qs = db_exec(c, &stmt_network_status, params, &res);
    if (qs == DB_QS_ONE) {
        *json = strdup(PQgetvalue(res, 0, 0));
        if (!*json) {
            qs = DB_QS_HARD;
        }
    }
    PQclear(res);
    return qs;
}
