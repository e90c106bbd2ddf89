/* clouds.c: /v1/clouds.  A cloud is a provider region (or the tenant's own
 * datacenter) with one or two gateway hosts; see crud.h for the engine. */
#include <string.h>

#include "api/crud.h"
#include "core/validate.h"

static const struct crud_field fields[] = {
    {"id", CT_STRING, CF_READONLY},
    {"name", CT_STRING, CF_REQUIRED},
    {"provider", CT_STRING, CF_REQUIRED},
    {"region", CT_STRING, CF_REQUIRED},
    {"jurisdiction", CT_STRING, CF_REQUIRED},
    {"kind", CT_STRING, CF_REQUIRED},
    {"cost_per_hour", CT_STRING, 0},
    {"labels", CT_LABELS, 0},
    {"gateway", CT_OBJECT, CF_READONLY},
    {"gateways", CT_OBJECT, CF_READONLY},      /* an array: read-only, never parsed */
    {"status", CT_OBJECT, CF_READONLY},
    {"created_at", CT_STRING, CF_READONLY},
    {"updated_at", CT_STRING, CF_READONLY},
    {NULL, 0, 0},
};

static bool
validate(struct crud_ctx *ctx, json_t *obj)
{
    static const char *const providers[] = {"aws", "gcp", "azure", "private",
                                            "other", NULL};
    static const char *const kinds[] = {"public", "private", NULL};
    if (!crud_valid_name(ctx, obj)) {
        return false;
    }
    if (!crud_one_of(crud_str(obj, "provider"), providers)) {
        return crud_fail(ctx, SVE_INVALID_VALUE, "provider", "provider must be "
                         "aws, gcp, azure, private or other");
    }
    if (!validate_text(crud_str(obj, "region"), 64)) {
        return crud_fail(ctx, SVE_INVALID_VALUE, "region", "region must be 1-64 "
                         "printable characters");
    }
    if (!validate_country(crud_str(obj, "jurisdiction"))) {
        return crud_fail(ctx, SVE_INVALID_VALUE, "jurisdiction", "jurisdiction "
                         "must be an ISO 3166-1 alpha-2 code such as DE");
    }
    if (!crud_one_of(crud_str(obj, "kind"), kinds)) {
        return crud_fail(ctx, SVE_INVALID_VALUE, "kind", "kind must be public or "
                         "private");
    }
    const char *cost = crud_str(obj, "cost_per_hour");
    if (!cost) {
        json_object_set_new(obj, "cost_per_hour", json_string("0"));
    } else if (!validate_decimal(cost)) {
        return crud_fail(ctx, SVE_INVALID_VALUE, "cost_per_hour", "cost_per_hour "
                         "must be a decimal string such as \"0.12\" (up to 9 "
                         "integer and 6 fraction digits)");
    }
    return true;
}

const struct crud_res crud_clouds = {
    .store = &store_clouds,
    .fields = fields,
    .kind = "cloud",
    .in_use = "still has hosts",
    .validate = validate,
};

void clouds_list(struct api_req *q, struct api_resp *r) { crud_list(q, r, &crud_clouds); }
void clouds_create(struct api_req *q, struct api_resp *r) { crud_create(q, r, &crud_clouds); }
void clouds_get(struct api_req *q, struct api_resp *r) { crud_get(q, r, &crud_clouds); }
void clouds_patch(struct api_req *q, struct api_resp *r) { crud_patch(q, r, &crud_clouds); }
void clouds_delete(struct api_req *q, struct api_resp *r) { crud_delete(q, r, &crud_clouds); }
