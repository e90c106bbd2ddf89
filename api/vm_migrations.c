/* vm_migrations.c: .../vms/{vm}/migrations, a VM's live migrations by
 * cloning (db/vm_migrations.h; the phases in core/vm_phase.h).
 *
 *   POST   with a target, {"host"}, {"cloud"} or the placement constraints
 *          a VM takes ({"jurisdiction", "avoid_clouds"}), and optionally
 *          "dual_timeout_s" (default 300): resolved by the VM's placement
 *          rules (api/vms.c) among the hosts other than the VM's own, with
 *          a free slot, which the migration then holds; 202 and Location,
 *          phase "prepare".  409 when the VM is stopped or migrates
 *          already, when the target is its own host (or only its own host
 *          satisfies it) and when no target host has room.
 *   GET    one or the list (oldest first).
 *   DELETE asks for a rollback (202) before activate; from activate on,
 *          409.  Asking again, or once rolled back, answers 202 as well.
 *   POST   .../{migration}/activate asks for activation (202) before
 *          activate, unless a rollback was asked for (409); from activate
 *          on, 409.
 * The reconciler realizes all of it and records the phases through
 * db/vm_migrations.h; the API never moves a phase itself. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/vm_lifecycle.h"
#include "api/vms.h"
#include "db/vm_migrations.h"

static const struct crud_field fields[] = {
    {"id", CT_STRING, CF_READONLY},
    {"vm", CT_STRING, CF_READONLY},
    {"vm_id", CT_STRING, CF_READONLY},
    {"from_host", CT_STRING, CF_READONLY},
    {"from_host_id", CT_STRING, CF_READONLY},
    {"from_cloud", CT_STRING, CF_READONLY},
    {"to_host", CT_STRING, CF_READONLY},
    {"to_host_id", CT_STRING, CF_READONLY},
    {"to_cloud", CT_STRING, CF_READONLY},
    {"target", CT_OBJECT, CF_READONLY},
    {"phase", CT_STRING, CF_READONLY},
    {"phase_times", CT_OBJECT, CF_READONLY},
    {"counters", CT_OBJECT, CF_READONLY},
    {"detail", CT_STRING, CF_READONLY},
    {"dual_timeout_s", CT_INTEGER, 0},
    {"rollback_requested_at", CT_STRING, CF_READONLY},
    {"activate_requested_at", CT_STRING, CF_READONLY},
    {"finished_at", CT_STRING, CF_READONLY},
    {"generation", CT_INTEGER, CF_READONLY},
    {"created_at", CT_STRING, CF_READONLY},
    {"updated_at", CT_STRING, CF_READONLY},
    {NULL, 0, 0},
};

const struct crud_res crud_vm_migrations = {
    .store = &store_vm_migrations,
    .fields = fields,
    .parent = &crud_vms,
    .kind = "migration",
};

/* The body of POST: a target and the dual phase's limit. */
static const struct crud_field create_fields[] = {
    {"host", CT_STRING, 0},
    {"cloud", CT_STRING, 0},
    {"jurisdiction", CT_STRING_ARRAY, 0},
    {"avoid_clouds", CT_STRING_ARRAY, 0},
    {"dual_timeout_s", CT_INTEGER, 0},
    {NULL, 0, 0},
};

#define DUAL_TIMEOUT_MAX 86400

static enum db_qs
create_step(struct crud_ctx *ctx, struct store_row *out, char **location)
{
    struct db_conn *db = ctx->req->db;
    struct store_row vm = {0};
    json_t *obj = NULL, *target = NULL;
    char *target_text = NULL, to_host[37], timeout[16];
    const char *jur[VMS_MAX_LIST], *avoid[VMS_MAX_LIST];
    struct placement_req preq;
    json_t *t = json_object_get(ctx->body, "dual_timeout_s");
    enum db_qs qs = store_lock(db, &store_vms);
    if (qs < 0 || (qs = vms_load(ctx, &vm)) != DB_QS_ONE) {
        return qs;
    }
    qs = DB_QS_NONE;
    if (t && (json_integer_value(t) < 1 || json_integer_value(t) > DUAL_TIMEOUT_MAX)) {
        crud_fail(ctx, SVE_INVALID_VALUE, "dual_timeout_s", "dual_timeout_s is "
                  "seconds, from 1 to %d", DUAL_TIMEOUT_MAX);
        goto out;
    }
    if (!(obj = json_loads(vm.json, 0, NULL)) || !(target = json_deep_copy(ctx->body))) {
        qs = DB_QS_HARD;
        goto out;
    }
    json_t *m = json_object_get(obj, "migration");
    if (json_is_object(m)) {
        crud_fail(ctx, SVE_CONFLICT, NULL, "vm '%s' is migrating already (migration "
                  "%s, phase %s)", crud_str(obj, "name"), crud_str(m, "id"),
                  crud_str(m, "phase"));
        goto out;
    }
    const char *power = crud_str(obj, "power");
    if (!power || strcmp(power, "running")) {
        crud_fail(ctx, SVE_CONFLICT, NULL, "vm '%s' is stopped: start it where it "
                  "should run instead (POST .../start with a placement)",
                  crud_str(obj, "name"));
        goto out;
    }
    json_object_del(target, "dual_timeout_s");
    if (!vms_parse_placement(ctx, target, "", &preq, jur, avoid)
        || !vms_place(ctx, &preq, "", crud_str(obj, "host_id"), to_host)) {
        goto out;
    }
    if (!(target_text = json_dumps(target, JSON_COMPACT))) {
        qs = DB_QS_HARD;
        goto out;
    }
    snprintf(timeout, sizeof timeout, "%lld", (long long) json_integer_value(t));
    qs = vm_migrations_insert(db, vm.id, crud_str(obj, "host_id"), to_host,
                              target_text, t ? timeout : NULL, out);
    if (qs == DB_QS_ONE) {
        char tail[40];
        snprintf(tail, sizeof tail, "/%s", out->id);
        *location = lifecycle_location(ctx->req->url, 0, tail);
    } else if (qs == DB_QS_NONE) {
        qs = DB_QS_SOFT;        /* the VM moved or stopped under us */
    }
out:
    free(target_text);
    json_decref(target);
    json_decref(obj);
    store_row_uninit(&vm);
    return qs;
}

void
vm_migrations_create(struct api_req *req, struct api_resp *resp)
{
    lifecycle_post(req, resp, create_fields, create_step, "migration");
}

void vm_migrations_list(struct api_req *q, struct api_resp *r)
{
    crud_list(q, r, &crud_vm_migrations);
}

void vm_migrations_get(struct api_req *q, struct api_resp *r)
{
    crud_get(q, r, &crud_vm_migrations);
}

/* DELETE and activate: the migration named by the fourth path parameter,
 * asked for 'kind' in the phase it is read in. */
static enum db_qs
request_step(struct crud_ctx *ctx, struct store_row *out,
             enum vm_migrations_request_kind kind)
{
    struct store_row mig = {0};
    json_t *obj = NULL;
    const char *key = ctx->req->params[3];
    ctx->res = &crud_vm_migrations;
    if (!crud_resolve_scope(ctx)) {
        return DB_QS_NONE;
    }
    enum db_qs qs = store_get(ctx->req->db, &store_vm_migrations, ctx->scope, key, &mig);
    if (qs == DB_QS_NONE) {
        api_problem(ctx->resp, ctx->req, SVE_NOT_FOUND, NULL, "no migration '%s'", key);
    }
    if (qs != DB_QS_ONE) {
        return qs;
    }
    if (!(obj = json_loads(mig.json, 0, NULL))) {
        store_row_uninit(&mig);
        return DB_QS_HARD;
    }
    enum vm_phase phase = vm_phase_parse(crud_str(obj, "phase"));
    bool rolling_back = !json_is_null(json_object_get(obj, "rollback_requested_at"));
    if (kind == VM_MIGRATIONS_ROLLBACK && phase == VM_PHASE_ROLLED_BACK) {
        *out = mig;             /* rolled back already: nothing to ask */
        json_decref(obj);
        return DB_QS_ONE;
    }
    qs = DB_QS_NONE;
    if (!vm_phase_may_roll_back(phase)) {
        crud_fail(ctx, SVE_CONFLICT, "phase", "migration %s is in phase %s: %s",
                  mig.id, vm_phase_name(phase) ? vm_phase_name(phase) : "?",
                  kind == VM_MIGRATIONS_ROLLBACK
                      ? "from activate on it cannot be rolled back"
                      : "it can no longer be activated");
    } else if (kind == VM_MIGRATIONS_ACTIVATE && rolling_back) {
        crud_fail(ctx, SVE_CONFLICT, NULL, "migration %s is being rolled back: it "
                  "cannot be activated", mig.id);
    } else {
        qs = vm_migrations_request(ctx->req->db, ctx->scope, mig.id, kind, phase, out);
        qs = qs == DB_QS_NONE ? DB_QS_SOFT : qs;   /* moved on: read again */
    }
    json_decref(obj);
    store_row_uninit(&mig);
    return qs;
}

static enum db_qs
rollback_step(struct crud_ctx *ctx, struct store_row *out, char **location)
{
    (void) location;
    return request_step(ctx, out, VM_MIGRATIONS_ROLLBACK);
}

static enum db_qs
activate_step(struct crud_ctx *ctx, struct store_row *out, char **location)
{
    (void) location;
    return request_step(ctx, out, VM_MIGRATIONS_ACTIVATE);
}

static const struct crud_field no_fields[] = {{NULL, 0, 0}};

void
vm_migrations_delete(struct api_req *req, struct api_resp *resp)
{
    lifecycle_post(req, resp, no_fields, rollback_step, "migration");
}

void
vm_migrations_activate(struct api_req *req, struct api_resp *resp)
{
    lifecycle_post(req, resp, no_fields, activate_step, "migration");
}
