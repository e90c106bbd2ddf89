/* snapshots.c: .../vms/{vm}/snapshots.  A snapshot is the VM's network
 * state at one instant (db/snapshots.h, migrations/006): POST asks for one
 * and answers 202 with it in state "pending" and its Location; the
 * reconciler captures it ("ready", with its content and size) or says why
 * not ("error").  GET one shows the content; the list (name order) does
 * not.  DELETE removes one, except the snapshot the VM was last stopped
 * with or started from (409).  A stopped VM has no network state to
 * capture: POST answers 409 and names the snapshot its stop took. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/vm_lifecycle.h"
#include "api/vms.h"
#include "db/snapshots.h"

static const struct crud_field fields[] = {
    {"id", CT_STRING, CF_READONLY},
    {"name", CT_STRING, 0},
    {"labels", CT_LABELS, 0},
    {"vm", CT_STRING, CF_READONLY},
    {"vm_id", CT_STRING, CF_READONLY},
    {"reason", CT_STRING, CF_READONLY},
    {"state", CT_STRING, CF_READONLY},
    {"detail", CT_STRING, CF_READONLY},
    {"mac", CT_STRING, CF_READONLY},
    {"ip", CT_STRING, CF_READONLY},
    {"switch", CT_STRING, CF_READONLY},
    {"switch_id", CT_STRING, CF_READONLY},
    {"host", CT_STRING, CF_READONLY},
    {"host_id", CT_STRING, CF_READONLY},
    {"size_bytes", CT_INTEGER, CF_READONLY},
    {"capture_started_at", CT_STRING, CF_READONLY},
    {"captured_at", CT_STRING, CF_READONLY},
    {"capture_times", CT_OBJECT, CF_READONLY},
    {"content", CT_OBJECT, CF_READONLY},
    {"generation", CT_INTEGER, CF_READONLY},
    {"created_at", CT_STRING, CF_READONLY},
    {"updated_at", CT_STRING, CF_READONLY},
    {NULL, 0, 0},
};

const struct crud_res crud_snapshots = {
    .store = &store_snapshots,
    .fields = fields,
    .parent = &crud_vms,
    .kind = "snapshot",
    .in_use = "is the one its VM was last stopped with or started from",
};

static enum db_qs
create_step(struct crud_ctx *ctx, struct store_row *out, char **location)
{
    struct db_conn *db = ctx->req->db;
    struct store_row vm = {0};
    json_t *obj = NULL;
    char *labels = NULL;
    const char *name = crud_str(ctx->body, "name");
    enum db_qs qs = vms_load(ctx, &vm);
    if (qs != DB_QS_ONE) {
        return qs;
    }
    if (name && !crud_valid_name(ctx, ctx->body)) {
        qs = DB_QS_NONE;
        goto out;
    }
    if (!(obj = json_loads(vm.json, 0, NULL))) {
        qs = DB_QS_HARD;
        goto out;
    }
    const char *power = crud_str(obj, "power");
    if (power && !strcmp(power, "stopped")) {
        const char *snap = crud_str(obj, "power_snapshot");
        qs = DB_QS_NONE;
        crud_fail(ctx, SVE_CONFLICT, NULL, "vm '%s' is stopped: it has no network "
                  "state to capture; its stop took snapshot %s", crud_str(obj, "name"),
                  snap ? snap : "(deleted)");
        goto out;
    }
    json_t *l = json_object_get(ctx->body, "labels");
    if (l && !(labels = json_dumps(l, JSON_COMPACT))) {
        qs = DB_QS_HARD;
        goto out;
    }
    qs = snapshots_insert(db, vm.id, name, labels, "request", out);
    if (qs == DB_QS_ONE) {
        char tail[40];
        snprintf(tail, sizeof tail, "/%s", out->id);
        *location = lifecycle_location(ctx->req->url, 0, tail);
    } else if (qs == DB_QS_NONE) {
        qs = DB_QS_SOFT;        /* the VM went away under us: run again */
    }
out:
    free(labels);
    json_decref(obj);
    store_row_uninit(&vm);
    return qs;
}

void snapshots_list(struct api_req *q, struct api_resp *r) { crud_list(q, r, &crud_snapshots); }
void snapshots_get(struct api_req *q, struct api_resp *r) { crud_get(q, r, &crud_snapshots); }
void snapshots_delete(struct api_req *q, struct api_resp *r) { crud_delete(q, r, &crud_snapshots); }

void
snapshots_create(struct api_req *req, struct api_resp *resp)
{
    lifecycle_post(req, resp, fields, create_step, "snapshot");
}
