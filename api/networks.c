/* networks.c: /v1/tenants/{tenant}/networks and a network's status.  A
 * network has its tenant's own addressing (subnets may overlap other
 * tenants') and one of two isolation modes: mac-prefix (the tenant tag in
 * the first 16 bits of the MAC) or rewrite (the full header space). */
#include <stdlib.h>
#include <string.h>

#include "api/crud.h"
#include "core/validate.h"

static const struct crud_field fields[] = {
    {"id", CT_STRING, CF_READONLY},
    {"name", CT_STRING, CF_REQUIRED},
    {"tenant", CT_STRING, CF_READONLY},
    {"tenant_id", CT_STRING, CF_READONLY},
    {"tagging", CT_STRING, 0},
    {"subnet", CT_STRING, CF_REQUIRED},
    {"labels", CT_LABELS, 0},
    {"status", CT_OBJECT, CF_READONLY},
    {"created_at", CT_STRING, CF_READONLY},
    {"updated_at", CT_STRING, CF_READONLY},
    {NULL, 0, 0},
};

static bool
validate(struct crud_ctx *ctx, json_t *obj)
{
    static const char *const taggings[] = {"mac-prefix", "rewrite", NULL};
    if (!json_object_get(obj, "tagging")) {
        json_object_set_new(obj, "tagging", json_string("mac-prefix"));
    }
    if (!crud_valid_name(ctx, obj)) {
        return false;
    }
    if (!crud_one_of(crud_str(obj, "tagging"), taggings)) {
        return crud_fail(ctx, SVE_INVALID_VALUE, "tagging", "tagging must be "
                         "mac-prefix or rewrite");
    }
    if (!validate_cidr(crud_str(obj, "subnet"), NULL, NULL)) {
        return crud_fail(ctx, SVE_INVALID_VALUE, "subnet", "subnet must be an IPv4 "
                         "CIDR such as 10.0.0.0/24, prefix 8 to 30, host bits zero");
    }
    if (ctx->current) {
        /* VMs hold addresses in the subnet and MACs tagged per the mode. */
        bool moved = !json_equal(json_object_get(obj, "subnet"),
                                 json_object_get(ctx->current, "subnet"))
                     || !json_equal(json_object_get(obj, "tagging"),
                                    json_object_get(ctx->current, "tagging"));
        long long vms = 0;
        if (moved) {
            enum db_qs qs = store_network_vm_count(ctx->req->db,
                                                   crud_str(ctx->current, "id"), &vms);
            if (qs < 0) {
                crud_db_problem(ctx->req, ctx->resp, qs, "network", NULL);
                return false;
            }
        }
        if (vms) {
            return crud_fail(ctx, SVE_CONFLICT, "subnet", "the network has %lld "
                             "VMs; subnet and tagging change only when it has "
                             "none", vms);
        }
    }
    return true;
}

const struct crud_res crud_networks = {
    .store = &store_networks,
    .fields = fields,
    .parent = &crud_tenants,
    .kind = "network",
    .in_use = "still has VMs",
    .validate = validate,
};

void networks_list(struct api_req *q, struct api_resp *r) { crud_list(q, r, &crud_networks); }
void networks_create(struct api_req *q, struct api_resp *r) { crud_create(q, r, &crud_networks); }
void networks_get(struct api_req *q, struct api_resp *r) { crud_get(q, r, &crud_networks); }
void networks_patch(struct api_req *q, struct api_resp *r) { crud_patch(q, r, &crud_networks); }
void networks_delete(struct api_req *q, struct api_resp *r) { crud_delete(q, r, &crud_networks); }

/* GET .../networks/{network}/status: every object's realization state. */
void
networks_status(struct api_req *req, struct api_resp *resp)
{
    crud_network_doc(req, resp, store_network_status, NULL);
}
