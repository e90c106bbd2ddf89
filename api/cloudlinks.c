/* cloudlinks.c: /v1/cloud-links/{cloud_a}/{cloud_b}, the WAN cost between
 * two clouds that weighs the inter-cloud tunnel tree.  Undirected: a/b and
 * b/a name the same link.  PUT creates (201) or replaces (200).  A
 * bandwidth_mbps below what the tenants' WAN caps add up to is a 409
 * (db/bandwidth.h), checked under the tenant lock. */
#include <stdlib.h>
#include <string.h>

#include "api/crud.h"
#include "db/bandwidth.h"

static const struct crud_field fields[] = {
    {"cloud_a", CT_STRING, CF_READONLY},
    {"cloud_b", CT_STRING, CF_READONLY},
    {"cost", CT_NUMBER, CF_REQUIRED},
    {"rtt_ms", CT_NUMBER, CF_NULLABLE},
    {"bandwidth_mbps", CT_INTEGER, CF_NULLABLE},
    {"created_at", CT_STRING, CF_READONLY},
    {"updated_at", CT_STRING, CF_READONLY},
    {NULL, 0, 0},
};

/* Resolves both path clouds.  Returns false after writing the problem. */
static bool
resolve_pair(struct api_req *req, struct api_resp *resp, char a[37], char b[37])
{
    const char *names[2] = {req->params[0], req->params[1]};
    char *ids[2] = {a, b};
    for (int i = 0; i < 2; i++) {
        struct store_row row = {0};
        enum db_qs qs = store_get(req->db, &store_clouds, NULL, names[i], &row);
        if (qs < 0) {
            crud_db_problem(req, resp, qs, "cloud", NULL);
            return false;
        }
        if (qs == DB_QS_NONE) {
            api_problem(resp, req, SVE_NOT_FOUND, i ? "cloud_b" : "cloud_a",
                        "no cloud '%s'", names[i]);
            return false;
        }
        memcpy(ids[i], row.id, 37);
        store_row_uninit(&row);
    }
    if (!strcmp(a, b)) {
        api_problem(resp, req, SVE_INVALID_VALUE, "cloud_b", "a cloud link joins "
                    "two different clouds");
        return false;
    }
    return true;
}

void
cloudlinks_list(struct api_req *req, struct api_resp *resp)
{
    unsigned int limit;
    char *after;
    if (!crud_page_params(req, resp, &limit, &after)) {
        return;
    }
    struct store_items rows = {0};
    enum db_qs qs = store_cloudlink_list(req->db, after, limit + 1, &rows);
    if (qs < 0) {
        crud_db_problem(req, resp, qs, "cloud link", NULL);
    } else {
        crud_reply_page(req, resp, &rows, limit);
        store_items_uninit(&rows);
    }
    free(after);
}

void
cloudlinks_get(struct api_req *req, struct api_resp *resp)
{
    char a[37], b[37];
    if (!resolve_pair(req, resp, a, b)) {
        return;
    }
    struct store_row row = {0};
    enum db_qs qs = store_cloudlink_get(req->db, a, b, &row);
    if (qs < 0) {
        crud_db_problem(req, resp, qs, "cloud link", NULL);
    } else if (qs == DB_QS_NONE) {
        api_problem(resp, req, SVE_NOT_FOUND, NULL, "no link between clouds '%s' "
                    "and '%s' (its cost defaults to 1)", req->params[0],
                    req->params[1]);
    } else {
        crud_etag(resp->etag, &row);
        api_reply_owned(resp, 200, row.json, strlen(row.json), "application/json");
        row.json = NULL;
    }
    store_row_uninit(&row);
}

static bool
check_body(struct api_req *req, struct api_resp *resp, const json_t *body)
{
    double cost = json_number_value(json_object_get(body, "cost"));
    json_t *rtt = json_object_get(body, "rtt_ms");
    json_t *bw = json_object_get(body, "bandwidth_mbps");
    if (!(cost > 0) || cost > 1e12) {
        api_problem(resp, req, SVE_INVALID_VALUE, "cost", "cost must be a positive "
                    "number");
        return false;
    }
    if (rtt && !json_is_null(rtt)
        && (json_number_value(rtt) < 0 || json_number_value(rtt) > 1e9)) {
        api_problem(resp, req, SVE_INVALID_VALUE, "rtt_ms", "rtt_ms must be a "
                    "non-negative number");
        return false;
    }
    if (bw && !json_is_null(bw)
        && (json_integer_value(bw) < 1 || json_integer_value(bw) > 2147483647)) {
        api_problem(resp, req, SVE_INVALID_VALUE, "bandwidth_mbps", "bandwidth_mbps "
                    "must be a positive 32-bit integer");
        return false;
    }
    return true;
}

/* PUT's transaction: If-Match against the link as it is now (locked), then
 * the upsert.  Writes the answer into 'resp'; crud_write settles it. */
struct put_txn {
    struct api_req *req;
    struct api_resp *resp;
    const char *a, *b, *text;
    long long bandwidth;            /* -1: none */
};

/* Admission: the tenants' WAN caps must fit the new bandwidth.  False
 * (problem written, *qs set) when they do not or the check failed. */
static bool
admit_bandwidth(struct db_conn *db, struct put_txn *t, enum db_qs *qs)
{
    *qs = t->bandwidth < 0 ? DB_QS_ONE : store_lock(db, &store_tenants);
    if (*qs < 0 || t->bandwidth < 0) {
        return *qs >= 0;
    }
    struct bandwidth_excess ex;
    *qs = bandwidth_check_link(db, t->a, t->b, t->bandwidth, &ex);
    if (*qs == DB_QS_ONE) {
        api_problem(t->resp, t->req, SVE_CONFLICT, "bandwidth_mbps", "the WAN caps "
                    "of %lld tenants add up to %lld Mbit/s, more than %lld Mbit/s "
                    "for cloud link %s/%s", ex.n_tenants, ex.total_mbps,
                    ex.bandwidth_mbps, ex.cloud_a, ex.cloud_b);
        *qs = DB_QS_NONE;
        return false;
    }
    return *qs >= 0;
}

static enum db_qs
put_txn(struct db_conn *db, void *arg)
{
    struct put_txn *t = arg;
    enum db_qs qs;
    if (!admit_bandwidth(db, t, &qs)) {
        return qs;
    }
    if (api_header(t->req, "If-Match")) {
        struct store_row cur = {0};
        qs = store_cloudlink_lock(db, t->a, t->b, &cur);
        char etag[40] = "";
        if (qs == DB_QS_ONE) {
            crud_etag(etag, &cur);
        }
        store_row_uninit(&cur);
        if (qs < 0) {
            return qs;
        }
        if (!crud_if_match(t->req, t->resp, etag)) {
            return DB_QS_NONE;
        }
    }
    struct store_row row = {0};
    bool created = false;
    qs = store_cloudlink_put(db, t->a, t->b, t->text, &row, &created);
    if (qs == DB_QS_ONE) {
        crud_etag(t->resp->etag, &row);
        api_reply_owned(t->resp, created ? 201 : 200, row.json, strlen(row.json),
                        "application/json");
        row.json = NULL;
    }
    store_row_uninit(&row);
    return qs == DB_QS_NONE ? DB_QS_HARD : qs;
}

void
cloudlinks_put(struct api_req *req, struct api_resp *resp)
{
    json_t *body = crud_parse_body(req, resp, fields, true);
    char a[37], b[37];
    if (!body || !check_body(req, resp, body) || !resolve_pair(req, resp, a, b)) {
        json_decref(body);
        return;
    }
    json_t *bw = json_object_get(body, "bandwidth_mbps");
    long long bandwidth = json_is_integer(bw) ? (long long) json_integer_value(bw) : -1;
    char *text = json_dumps(body, JSON_COMPACT);
    json_decref(body);
    if (!text) {
        api_problem(resp, req, SVE_INTERNAL, NULL, "out of memory");
        return;
    }
    struct put_txn t = {req, resp, a, b, text, bandwidth};
    crud_write(req, resp, put_txn, &t, "cloud link", NULL);
    free(text);
}

/* DELETE's transaction: the link (locked), If-Match, the delete. */
struct delete_txn {
    struct api_req *req;
    struct api_resp *resp;
    const char *a, *b;
};

static enum db_qs
delete_txn(struct db_conn *db, void *arg)
{
    struct delete_txn *t = arg;
    struct store_row row = {0};
    enum db_qs qs = store_cloudlink_lock(db, t->a, t->b, &row);
    if (qs == DB_QS_ONE) {
        char etag[40];
        crud_etag(etag, &row);
        if (!crud_if_match(t->req, t->resp, etag)) {
            store_row_uninit(&row);
            return DB_QS_NONE;
        }
        qs = store_cloudlink_delete(db, t->a, t->b, row.revision);
    }
    store_row_uninit(&row);
    if (qs == DB_QS_NONE) {
        api_problem(t->resp, t->req, SVE_NOT_FOUND, NULL, "no link between "
                    "clouds '%s' and '%s'", t->req->params[0], t->req->params[1]);
    } else if (qs == DB_QS_ONE) {
        api_reply_owned(t->resp, 204, NULL, 0, NULL);
    }
    return qs;
}

void
cloudlinks_delete(struct api_req *req, struct api_resp *resp)
{
    char a[37], b[37];
    if (!resolve_pair(req, resp, a, b)) {
        return;
    }
    struct delete_txn t = {req, resp, a, b};
    crud_write(req, resp, delete_txn, &t, "cloud link", NULL);
}
