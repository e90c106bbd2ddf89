/* health.c: the unauthenticated endpoints: liveness, readiness (the
 * database answers and this instance's heartbeat is being recorded, so an
 * instance that lost its database or was paused past its lease says so),
 * Prometheus metrics and the OpenAPI document. */
#include <string.h>

#include "api/api.h"
#include "db/lease_keeper.h"
#include "db/db.h"
#include "db/store.h"

void
health_healthz(struct api_req *req, struct api_resp *resp)
{
    (void) req;
    api_reply_text(resp, 200, "{\"status\":\"ok\"}", "application/json");
}

void
health_readyz(struct api_req *req, struct api_resp *resp)
{
    struct db_conn *c = db_pool_get(req->config->pool, 2000);
    enum db_qs qs = c ? store_ping(c) : DB_QS_HARD;
    char why[160];
    if (qs == DB_QS_ONE && req->config->keeper
        && !lease_keeper_healthy(req->config->keeper, why, sizeof why)) {
        api_problem(resp, req, SVE_INSTANCE_UNHEALTHY, NULL, "%s", why);
    } else if (qs == DB_QS_ONE) {
        api_reply_text(resp, 200, "{\"status\":\"ready\"}", "application/json");
    } else {
        api_problem(resp, req, SVE_DB_UNAVAILABLE, NULL, "the database does not "
                    "answer%s%s", c ? ": " : " (no free connection)",
                    c ? db_conn_error(c)->message : "");
    }
    db_pool_put(req->config->pool, c);
}

void
health_metrics(struct api_req *req, struct api_resp *resp)
{
    size_t len;
    char *text = metrics_render(req->config->pool, req->config->recon,
                                req->config->keeper, req->config->tenant_ctl,
                                req->config->readsnap, &len);
    if (!text) {
        api_problem(resp, req, SVE_INTERNAL, NULL, "cannot render metrics");
        return;
    }
    api_reply_owned(resp, 200, text, len, "text/plain; version=0.0.4");
}

void
health_openapi(struct api_req *req, struct api_resp *resp)
{
    api_reply_text(resp, 200, req->config->openapi_json, "application/json");
}
