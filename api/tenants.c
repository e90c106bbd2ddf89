/* tenants.c: /v1/tenants.  Creating a tenant assigns its 16-bit tag (the
 * tenant id carried in the first 16 bits of its MACs on the wire) and mints
 * its first API token, the read-write token 'initial' (tokens.c), which
 * appears in the 201 answer only: the database keeps its SHA-256, and an
 * Idempotency-Key replay does not show it again.  Further tokens live under
 * /v1/tenants/{tenant}/tokens.  PATCH (admin) changes the labels and the
 * WAN cap, wan_limit_mbps: the tenant's limit on each inter-cloud link,
 * admitted only while the caps of all tenants fit every link's
 * bandwidth_mbps (db/bandwidth.h; 409 naming the link otherwise), and
 * controller_allow: the IPv4 CIDRs (at most 64) where the controllers of the
 * tenant's virtual switches may be (api/switches.c), empty by default; a
 * list that leaves a switch's controller outside is refused (409, the
 * database's trigger, migrations/009). */
#include "api/tokens.h"
#include "core/validate.h"
#include "db/bandwidth.h"

static const struct crud_field fields[] = {
    {"id", CT_STRING, CF_READONLY},
    {"name", CT_STRING, CF_REQUIRED | CF_IMMUTABLE},
    {"tag", CT_INTEGER, CF_READONLY},
    {"wan_limit_mbps", CT_INTEGER, CF_NULLABLE},
    {"token", CT_STRING, CF_READONLY},
    {"controller_allow", CT_STRING_ARRAY, 0},
    {"labels", CT_LABELS, 0},
    {"status", CT_OBJECT, CF_READONLY},
    {"created_at", CT_STRING, CF_READONLY},
    {"updated_at", CT_STRING, CF_READONLY},
    {NULL, 0, 0},
};

#define WAN_LIMIT_MAX 400000

/* A cap in range that, with every other tenant's, fits each cloud link
 * (run under the tenant lock the engine takes before validating). */
static bool
admit_wan_limit(struct crud_ctx *ctx, const json_t *obj)
{
    json_t *cap = json_object_get(obj, "wan_limit_mbps");
    if (!cap || json_is_null(cap)) {
        return true;
    }
    json_int_t v = json_integer_value(cap);
    if (v < 1 || v > WAN_LIMIT_MAX) {
        return crud_fail(ctx, SVE_INVALID_VALUE, "wan_limit_mbps", "wan_limit_mbps "
                         "must be an integer from 1 to %d", WAN_LIMIT_MAX);
    }
    json_t *unchanged = ctx->current ? json_object_get(ctx->current, "wan_limit_mbps")
                                     : NULL;
    if (unchanged && json_is_integer(unchanged) && json_integer_value(unchanged) >= v) {
        return true;                /* not raised: nothing more to admit */
    }
    struct bandwidth_excess ex;
    enum db_qs qs = bandwidth_check_tenant(ctx->req->db, crud_str(ctx->current, "id"),
                                           (long long) v, &ex);
    if (qs < 0) {
        crud_db_problem(ctx->req, ctx->resp, qs, "tenant", NULL);
        return false;
    }
    if (qs == DB_QS_ONE) {
        return crud_fail(ctx, SVE_CONFLICT, "wan_limit_mbps", "the WAN caps of %lld "
                         "tenants would add up to %lld Mbit/s, more than the %lld "
                         "Mbit/s of cloud link %s/%s", ex.n_tenants, ex.total_mbps,
                         ex.bandwidth_mbps, ex.cloud_a, ex.cloud_b);
    }
    return true;
}

#define CONTROLLER_ALLOW_MAX 64

/* controller_allow: each entry an IPv4 prefix without host bits (any
 * length); absent on create means empty. */
static bool
valid_controller_allow(struct crud_ctx *ctx, json_t *obj)
{
    json_t *list = json_object_get(obj, "controller_allow");
    if (!list) {
        json_object_set_new(obj, "controller_allow", json_array());
        return true;
    }
    if (json_array_size(list) > CONTROLLER_ALLOW_MAX) {
        return crud_fail(ctx, SVE_INVALID_VALUE, "controller_allow", "at most %d "
                         "prefixes", CONTROLLER_ALLOW_MAX);
    }
    size_t i;
    json_t *v;
    json_array_foreach(list, i, v) {
        if (!validate_prefix(json_string_value(v), 0, 32, NULL, NULL)) {
            return crud_fail(ctx, SVE_INVALID_VALUE, "controller_allow", "'%s' is not "
                             "an IPv4 prefix a.b.c.d/len without host bits",
                             json_string_value(v));
        }
    }
    return true;
}

static bool
validate(struct crud_ctx *ctx, json_t *obj)
{
    return crud_valid_name(ctx, obj) && admit_wan_limit(ctx, obj)
           && valid_controller_allow(ctx, obj);
}

const struct crud_res crud_tenants = {
    .store = &store_tenants,
    .fields = fields,
    .kind = "tenant",
    .in_use = "still has networks",
    .validate = validate,
    .before_insert = tokens_mint,
    .decorate_created = tokens_show,
};

void tenants_list(struct api_req *q, struct api_resp *r) { crud_list(q, r, &crud_tenants); }
void tenants_create(struct api_req *q, struct api_resp *r) { crud_create(q, r, &crud_tenants); }
void tenants_get(struct api_req *q, struct api_resp *r) { crud_get(q, r, &crud_tenants); }
void tenants_patch(struct api_req *q, struct api_resp *r) { crud_patch(q, r, &crud_tenants); }
void tenants_delete(struct api_req *q, struct api_resp *r) { crud_delete(q, r, &crud_tenants); }
