/* links.c: .../networks/{network}/links, virtual links between two virtual
 * switches of the same network (undirected; one per pair). */
#include <stdio.h>
#include <string.h>

#include "api/crud.h"
#include "core/validate.h"

static const struct crud_field fields[] = {
    {"id", CT_STRING, CF_READONLY},
    {"name", CT_STRING, 0},
    {"network", CT_STRING, CF_READONLY},
    {"a", CT_STRING, CF_REQUIRED},
    {"b", CT_STRING, CF_REQUIRED},
    {"bandwidth_mbps", CT_INTEGER, CF_NULLABLE},
    {"labels", CT_LABELS, 0},
    {"status", CT_OBJECT, CF_READONLY},
    {"created_at", CT_STRING, CF_READONLY},
    {"updated_at", CT_STRING, CF_READONLY},
    {NULL, 0, 0},
};

static bool
validate(struct crud_ctx *ctx, json_t *obj)
{
    char a_id[37], b_id[37];
    if (!crud_resolve(ctx, &store_switches, ctx->scope, crud_str(obj, "a"), "a", a_id)
        || !crud_resolve(ctx, &store_switches, ctx->scope, crud_str(obj, "b"), "b",
                         b_id)) {
        return false;
    }
    if (!strcmp(a_id, b_id)) {
        return crud_fail(ctx, SVE_INVALID_VALUE, "b", "a link joins two different "
                         "switches");
    }
    if (!json_object_get(obj, "name")) {
        /* Default name: the two endpoint names, sorted, joined by "--". */
        const char *a = crud_str(obj, "a"), *b = crud_str(obj, "b");
        char name[160];
        snprintf(name, sizeof name, "%s--%s", strcmp(a, b) < 0 ? a : b,
                 strcmp(a, b) < 0 ? b : a);
        json_object_set_new(obj, "name", json_string(name));
    }
    const char *name = crud_str(obj, "name");
    if (!name || !validate_name_len(name, 127)) {
        return crud_fail(ctx, SVE_INVALID_VALUE, "name", "link names are 1-127 "
                         "characters of a-z 0-9 -, starting and ending "
                         "alphanumeric");
    }
    json_t *bw = json_object_get(obj, "bandwidth_mbps");
    if (bw && (json_integer_value(bw) < 1 || json_integer_value(bw) > 400000)) {
        return crud_fail(ctx, SVE_INVALID_VALUE, "bandwidth_mbps", "bandwidth_mbps "
                         "must be from 1 to 400000");
    }
    json_object_set_new(obj, "_a_id", json_string(a_id));
    json_object_set_new(obj, "_b_id", json_string(b_id));
    return true;
}

const struct crud_res crud_links = {
    .store = &store_links,
    .fields = fields,
    .parent = &crud_networks,
    .kind = "link",
    .validate = validate,
};

void links_list(struct api_req *q, struct api_resp *r) { crud_list(q, r, &crud_links); }
void links_create(struct api_req *q, struct api_resp *r) { crud_create(q, r, &crud_links); }
void links_get(struct api_req *q, struct api_resp *r) { crud_get(q, r, &crud_links); }
void links_patch(struct api_req *q, struct api_resp *r) { crud_patch(q, r, &crud_links); }
void links_delete(struct api_req *q, struct api_resp *r) { crud_delete(q, r, &crud_links); }
