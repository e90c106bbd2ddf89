/* cloudlinks.c: /v1/cloud-links/{cloud_a}/{cloud_b}, the WAN cost between
 * two clouds that weighs the inter-cloud tunnel tree.  Undirected: a/b and
 * b/a name the same link.  PUT creates (201) or replaces (200). */
#include <stdlib.h>
#include <string.h>

#include "api/crud.h"

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
    PGresult *rows;
    enum db_qs qs = store_cloudlink_list(req->db, after, limit + 1, &rows);
    if (qs < 0) {
        crud_db_problem(req, resp, qs, "cloud link", NULL);
    } else {
        crud_reply_page(req, resp, rows, limit);
        PQclear(rows);
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
        crud_etag(resp->etag, row.id, row.revision);
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
    if (bw && !json_is_null(bw) && json_integer_value(bw) < 1) {
        api_problem(resp, req, SVE_INVALID_VALUE, "bandwidth_mbps", "bandwidth_mbps "
                    "must be a positive integer");
        return false;
    }
    return true;
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
    if (api_header(req, "If-Match")) {
        struct store_row cur = {0};
        enum db_qs qs = store_cloudlink_get(req->db, a, b, &cur);
        char etag[40] = "";
        if (qs == DB_QS_ONE) {
            crud_etag(etag, cur.id, cur.revision);
        }
        store_row_uninit(&cur);
        if (qs < 0) {
            crud_db_problem(req, resp, qs, "cloud link", NULL);
            json_decref(body);
            return;
        }
        if (!crud_if_match(req, resp, etag)) {
            json_decref(body);
            return;
        }
    }
    char *text = json_dumps(body, JSON_COMPACT);
    json_decref(body);
    struct store_row row = {0};
    bool created = false;
    enum db_qs qs = text ? store_cloudlink_put(req->db, a, b, text, &row, &created)
                         : DB_QS_HARD;
    free(text);
    if (qs != DB_QS_ONE) {
        crud_db_problem(req, resp, qs, "cloud link", NULL);
    } else {
        crud_etag(resp->etag, row.id, row.revision);
        api_reply_owned(resp, created ? 201 : 200, row.json, strlen(row.json),
                        "application/json");
        row.json = NULL;
    }
    store_row_uninit(&row);
}

void
cloudlinks_delete(struct api_req *req, struct api_resp *resp)
{
    char a[37], b[37];
    if (!resolve_pair(req, resp, a, b)) {
        return;
    }
    struct store_row row = {0};
    enum db_qs qs = store_cloudlink_get(req->db, a, b, &row);
    if (qs == DB_QS_ONE) {
        char etag[40];
        crud_etag(etag, row.id, row.revision);
        bool conditional = api_header(req, "If-Match") != NULL;
        if (!crud_if_match(req, resp, etag)) {
            store_row_uninit(&row);
            return;
        }
        qs = store_cloudlink_delete(req->db, a, b, conditional ? row.revision : -1);
        if (qs == DB_QS_NONE && conditional) {
            api_problem(resp, req, SVE_PRECONDITION_FAILED, NULL, "the cloud link "
                        "changed while this request ran");
            store_row_uninit(&row);
            return;
        }
    }
    store_row_uninit(&row);
    if (qs < 0) {
        crud_db_problem(req, resp, qs, "cloud link", NULL);
    } else if (qs == DB_QS_NONE) {
        api_problem(resp, req, SVE_NOT_FOUND, NULL, "no link between clouds '%s' "
                    "and '%s'", req->params[0], req->params[1]);
    } else {
        api_reply_owned(resp, 204, NULL, 0, NULL);
    }
}
