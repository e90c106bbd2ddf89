/* tenants.c: /v1/tenants.  Creating a tenant assigns its 16-bit tag (the
 * tenant id carried in the first 16 bits of its MACs on the wire) and mints
 * its API token, which appears in the 201 answer only: the database keeps
 * its SHA-256, and an Idempotency-Key replay does not show it again. */
#include "api/crud.h"

static const struct crud_field fields[] = {
    {"id", CT_STRING, CF_READONLY},
    {"name", CT_STRING, CF_REQUIRED},
    {"tag", CT_INTEGER, CF_READONLY},
    {"token", CT_STRING, CF_READONLY},
    {"labels", CT_LABELS, 0},
    {"status", CT_OBJECT, CF_READONLY},
    {"created_at", CT_STRING, CF_READONLY},
    {"updated_at", CT_STRING, CF_READONLY},
    {NULL, 0, 0},
};

static bool
validate(struct crud_ctx *ctx, json_t *obj)
{
    return crud_valid_name(ctx, obj);
}

static bool
mint_token(struct crud_ctx *ctx, json_t *obj)
{
    char token[80];
    if (auth_new_token(token, sizeof token)) {
        return crud_fail(ctx, SVE_INTERNAL, NULL, "cannot draw random bytes for "
                         "the token");
    }
    json_object_set_new(obj, "_token", json_string(token));
    json_decref(ctx->extra);
    ctx->extra = json_string(token);
    return true;
}

static void
show_token(struct crud_ctx *ctx, json_t *body)
{
    json_object_set(body, "token", ctx->extra);
}

const struct crud_res crud_tenants = {
    .store = &store_tenants,
    .fields = fields,
    .kind = "tenant",
    .in_use = "still has networks",
    .validate = validate,
    .before_insert = mint_token,
    .decorate_created = show_token,
};

void tenants_list(struct api_req *q, struct api_resp *r) { crud_list(q, r, &crud_tenants); }
void tenants_create(struct api_req *q, struct api_resp *r) { crud_create(q, r, &crud_tenants); }
void tenants_get(struct api_req *q, struct api_resp *r) { crud_get(q, r, &crud_tenants); }
void tenants_delete(struct api_req *q, struct api_resp *r) { crud_delete(q, r, &crud_tenants); }
