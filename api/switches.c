/* switches.c: .../networks/{network}/switches, the tenant's virtual
 * switches.  A switch is an abstraction: the reconciler maps it onto the
 * integration bridges of the hosts where its VMs run. */
#include "api/crud.h"

static const struct crud_field fields[] = {
    {"id", CT_STRING, CF_READONLY},
    {"name", CT_STRING, CF_REQUIRED},
    {"network", CT_STRING, CF_READONLY},
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

const struct crud_res crud_switches = {
    .store = &store_switches,
    .fields = fields,
    .parent = &crud_networks,
    .kind = "switch",
    .in_use = "still has VMs or links",
    .validate = validate,
};

void switches_list(struct api_req *q, struct api_resp *r) { crud_list(q, r, &crud_switches); }
void switches_create(struct api_req *q, struct api_resp *r) { crud_create(q, r, &crud_switches); }
void switches_get(struct api_req *q, struct api_resp *r) { crud_get(q, r, &crud_switches); }
void switches_patch(struct api_req *q, struct api_resp *r) { crud_patch(q, r, &crud_switches); }
void switches_delete(struct api_req *q, struct api_resp *r) { crud_delete(q, r, &crud_switches); }
