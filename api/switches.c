/* switches.c: .../networks/{network}/switches, the tenant's virtual
 * switches.  A switch is an abstraction: the reconciler maps it onto the
 * integration bridges of the hosts where its VMs run.
 *
 * A switch may name its tenant's own OpenFlow controller, "tcp:IPv4:PORT"
 * or "ssl:IPv4:PORT", to which skyvisord connects as a virtual OpenFlow 1.3
 * switch (ctrl/vswitch_agent.c); fail_mode ('secure', the default, or
 * 'standalone') is set exactly when controller is: clearing the controller
 * clears it.  The address must lie in the tenant's controller_allow (set by
 * the admin on the tenant): the database's trigger decides that, in the
 * write's transaction, and the engine answers 422 controller-not-allowed. */
#include "api/crud.h"
#include "core/validate.h"

static const struct crud_field fields[] = {
    {"id", CT_STRING, CF_READONLY},
    {"name", CT_STRING, CF_REQUIRED},
    {"network", CT_STRING, CF_READONLY},
    {"labels", CT_LABELS, 0},
    {"controller", CT_STRING, CF_NULLABLE},
    {"fail_mode", CT_STRING, CF_NULLABLE},
    {"status", CT_OBJECT, CF_READONLY},
    {"created_at", CT_STRING, CF_READONLY},
    {"updated_at", CT_STRING, CF_READONLY},
    {NULL, 0, 0},
};

/* controller's syntax; fail_mode defaulted to 'secure' with a controller
 * and cleared without one (a body naming a fail_mode without a controller
 * is refused). */
static bool
valid_controller(struct crud_ctx *ctx, json_t *obj)
{
    static const char *const modes[] = {"secure", "standalone", NULL};
    const char *ctl = crud_str(obj, "controller");
    const char *mode = crud_str(obj, "fail_mode");
    if (ctl && !validate_endpoint(ctl, false)) {
        return crud_fail(ctx, SVE_INVALID_VALUE, "controller", "controller must be "
                         "tcp:IPv4:PORT or ssl:IPv4:PORT");
    }
    if (mode && !crud_one_of(mode, modes)) {
        return crud_fail(ctx, SVE_INVALID_VALUE, "fail_mode", "fail_mode must be "
                         "secure or standalone");
    }
    if (!ctl) {
        if (crud_str(ctx->body, "fail_mode")) {
            return crud_fail(ctx, SVE_INVALID_VALUE, "fail_mode", "fail_mode needs "
                             "a controller");
        }
        json_object_set_new(obj, "fail_mode", json_null());
    } else if (!mode) {
        json_object_set_new(obj, "fail_mode", json_string("secure"));
    }
    return true;
}

static bool
validate(struct crud_ctx *ctx, json_t *obj)
{
    return crud_valid_name(ctx, obj) && valid_controller(ctx, obj);
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
