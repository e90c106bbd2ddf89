/* instances.c: GET /v1/instances (admin): every skyvisord instance sharing
 * the database with its heartbeat and the clouds it owns, every cloud's
 * lease with its epoch and expiry (db/instances.h builds both by the
 * database's clock), and "self": the answering instance's own view from
 * its lease keeper, by its own monotonic clock, which is what decides
 * whether it writes (db/lease_keeper.h). */
#include <stdlib.h>
#include <string.h>

#include "api/api.h"
#include "api/crud.h"
#include "db/lease_keeper.h"
#include "ctrl/loop.h"
#include "db/instances.h"

/* The keeper's view as JSON (a new reference). */
static json_t *
self_view(struct lease_keeper *k)
{
    char why[160] = "";
    bool healthy = lease_keeper_healthy(k, why, sizeof why);
    struct lease_grant *g;
    size_t n = lease_keeper_owned(k, &g);
    uint64_t now = loop_now_ms();
    json_t *owns = json_array();
    for (size_t i = 0; i < n; i++) {
        json_array_append_new(owns, json_pack(
            "{s:s, s:s, s:I, s:I}", "cloud", g[i].cloud, "cloud_id", g[i].cloud_id,
            "epoch", (json_int_t) g[i].epoch,
            "remaining_ms", (json_int_t) (g[i].deadline_ms > now
                                              ? g[i].deadline_ms - now : 0)));
    }
    free(g);
    struct lease_keeper_stats s;
    lease_keeper_get_stats(k, &s);
    json_t *self = json_pack("{s:s, s:b, s:o, s:{s:I, s:I, s:I, s:I, s:I, s:I}}",
                             "id", lease_keeper_id(k), "healthy", healthy, "owns", owns,
                             "counters", "acquired", (json_int_t) s.acquired,
                             "takeovers", (json_int_t) s.takeovers,
                             "yielded", (json_int_t) s.yielded,
                             "lost", (json_int_t) s.lost,
                             "expired", (json_int_t) s.expired,
                             "fencing_refusals", (json_int_t) s.fenced);
    if (self && !healthy) {
        json_object_set_new(self, "unhealthy", json_string(why));
    }
    return self;
}

void
instances_list(struct api_req *req, struct api_resp *resp)
{
    char *text = NULL;
    enum db_qs qs = instances_document(req->db, &text);
    if (qs != DB_QS_ONE) {
        crud_db_problem(req, resp, qs < 0 ? qs : DB_QS_HARD, "instance", NULL);
        free(text);
        return;
    }
    json_t *doc = json_loads(text, 0, NULL);
    free(text);
    if (doc && req->config->keeper) {
        json_object_set_new(doc, "self", self_view(req->config->keeper));
    } else if (doc) {
        json_object_set_new(doc, "self", json_null());
    }
    char *body = doc ? json_dumps(doc, JSON_COMPACT) : NULL;
    json_decref(doc);
    if (!body) {
        api_problem(resp, req, SVE_INTERNAL, NULL, "cannot build the instance list");
        return;
    }
    api_reply_owned(resp, 200, body, strlen(body), "application/json");
}
