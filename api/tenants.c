/* tenants.c: /v1/tenants.  Creating a tenant assigns its 16-bit tag (the
 * tenant id carried in the first 16 bits of its MACs on the wire) and mints
 * its first API token, the read-write token 'initial' (tokens.c), which
 * appears in the 201 answer only: the database keeps its SHA-256, and an
 * Idempotency-Key replay does not show it again.  Further tokens live under
 * /v1/tenants/{tenant}/tokens.  PATCH (admin) changes the labels and
 * controller_allow: the IPv4 CIDRs (at most 64) where the controllers of the
 * tenant's virtual switches may be (api/switches.c), empty by default; a
 * list that leaves a switch's controller outside is refused (409, the
 * database's trigger, migrations/009). */
#include "api/tokens.h"
#include "core/validate.h"

static const struct crud_field fields[] = {
    {"id", CT_STRING, CF_READONLY},
    {"name", CT_STRING, CF_REQUIRED | CF_IMMUTABLE},
    {"tag", CT_INTEGER, CF_READONLY},
    {"token", CT_STRING, CF_READONLY},
    {"controller_allow", CT_STRING_ARRAY, 0},
    {"labels", CT_LABELS, 0},
    {"status", CT_OBJECT, CF_READONLY},
    {"created_at", CT_STRING, CF_READONLY},
    {"updated_at", CT_STRING, CF_READONLY},
    {NULL, 0, 0},
};

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
    return crud_valid_name(ctx, obj) && valid_controller_allow(ctx, obj);
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
