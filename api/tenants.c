/* tenants.c: /v1/tenants.  Creating a tenant assigns its 16-bit tag (the
 * tenant id carried in the first 16 bits of its MACs on the wire) and mints
 * its first API token, the read-write token 'initial' (tokens.c), which
 * appears in the 201 answer only: the database keeps its SHA-256, and an
 * Idempotency-Key replay does not show it again.  Further tokens live under
 * /v1/tenants/{tenant}/tokens. */
#include "api/tokens.h"

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
void tenants_delete(struct api_req *q, struct api_resp *r) { crud_delete(q, r, &crud_tenants); }
