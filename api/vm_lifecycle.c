/* vm_lifecycle.c: POST .../vms/{vm}/stop and .../start, GET .../vms/{vm}/
 * stats, and the POST engine of vm_lifecycle.h the lifecycle routes share.
 *
 * Stop and start (migrations/006_snapshots_migrations.sql):
 *
 *     running --stop--> stopped --start [snapshot] [placement]--> running
 *
 *   stop   takes a snapshot (reason "stop", pending until the reconciler
 *          captures it) and marks the VM stopped: the reconciler removes
 *          its port and flows after the capture; its MAC and IP stay
 *          reserved, its host slot is released.  409 when the VM is
 *          stopped already or migrating.
 *   start  from the snapshot named in "snapshot", else the VM's newest;
 *          it must be ready, and the VM's MAC, IP and switch must be those
 *          the snapshot recorded (409 naming each that differs).  On the
 *          VM's host, or where "placement" says (another host, another
 *          cloud), with a free slot (409 otherwise).
 * Both are spec changes of the VM (its generation moves); both take the VM
 * lock first, so stop, start and a migration's creation are serialised
 * with each other and with placements. */
#include "api/vm_lifecycle.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/vms.h"
#include "core/validate.h"
#include "db/snapshots.h"
#include "db/vm_stats.h"

/* --- the POST engine --- */

struct lifecycle_call {
    struct crud_ctx ctx;
    lifecycle_step_fn *step;
};

static enum db_qs
lifecycle_txn(struct db_conn *db, void *arg)
{
    struct lifecycle_call *call = arg;
    struct crud_ctx *ctx = &call->ctx;
    const char *key = api_header(ctx->req, "Idempotency-Key");
    enum db_qs qs;
    (void) db;
    if (key && (qs = crud_idem_claim(ctx->req, ctx->resp, key)) != DB_QS_ONE) {
        return qs;
    }
    struct store_row row = {0};
    char *location = NULL;
    if ((qs = call->step(ctx, &row, &location)) != DB_QS_ONE) {
        free(location);
        store_row_uninit(&row);
        return qs;
    }
    if (key && (qs = crud_idem_finish(ctx->req, key, 202, row.json, location)) < 0) {
        free(location);
        store_row_uninit(&row);
        return qs;
    }
    free(ctx->resp->location);
    ctx->resp->location = location;
    crud_etag(ctx->resp->etag, &row);
    api_reply_owned(ctx->resp, 202, row.json, strlen(row.json), "application/json");
    row.json = NULL;
    return DB_QS_ONE;
}

void
lifecycle_post(struct api_req *req, struct api_resp *resp, const struct crud_field *fields,
               lifecycle_step_fn *step, const char *kind)
{
    struct lifecycle_call call = {.ctx = {.req = req, .resp = resp}, .step = step};
    const char *key;
    if (!crud_idem_key_ok(req, resp, &key)) {
        return;
    }
    call.ctx.body = req->body_len ? crud_parse_body(req, resp, fields, true)
                                  : json_object();
    if (!call.ctx.body) {
        return;
    }
    crud_write(req, resp, lifecycle_txn, &call, kind, NULL);
    crud_ctx_uninit(&call.ctx);
}

char *
lifecycle_location(const char *url, unsigned int drop, const char *tail)
{
    size_t n = strlen(url);
    for (unsigned int i = 0; i < drop && n; i++) {
        while (n && url[n - 1] != '/') {
            n--;
        }
        n -= n > 0;
    }
    size_t len = n + strlen(tail) + 1;
    char *out = malloc(len);
    if (out) {
        snprintf(out, len, "%.*s%s", (int) n, url, tail);
    }
    return out;
}

/* --- stop and start --- */

static const struct crud_field stop_fields[] = {
    {"snapshot", CT_STRING, 0},     /* the name of the snapshot stop takes */
    {NULL, 0, 0},
};

static const struct crud_field start_fields[] = {
    {"snapshot", CT_STRING, 0},     /* an id or a name; default: the newest */
    {"placement", CT_OBJECT, 0},    /* default: the VM's host */
    {NULL, 0, 0},
};

/* Refuses (409) a VM that is not in power 'want' or that migrates. */
static bool
power_is(struct crud_ctx *ctx, const json_t *vm, const char *want, const char *verb)
{
    const char *power = crud_str(vm, "power");
    json_t *m = json_object_get(vm, "migration");
    if (json_is_object(m)) {
        return crud_fail(ctx, SVE_CONFLICT, NULL, "vm '%s' is migrating (migration "
                         "%s, phase %s): it cannot %s until the migration ends",
                         crud_str(vm, "name"), crud_str(m, "id"),
                         crud_str(m, "phase"), verb);
    }
    if (!power || strcmp(power, want)) {
        return crud_fail(ctx, SVE_CONFLICT, NULL, "vm '%s' is %s already",
                         crud_str(vm, "name"), power ? power : "?");
    }
    return true;
}

/* Loads the VM under the VM lock into *vm (and its JSON into *obj).
 * DB_QS_ONE or the outcome with its problem written. */
static enum db_qs
load_locked(struct crud_ctx *ctx, struct store_row *vm, json_t **obj)
{
    enum db_qs qs = store_lock(ctx->req->db, &store_vms);
    if (qs < 0) {
        return qs;
    }
    if ((qs = vms_load(ctx, vm)) != DB_QS_ONE) {
        return qs;
    }
    if (!(*obj = json_loads(vm->json, 0, NULL))) {
        crud_fail(ctx, SVE_INTERNAL, NULL, "out of memory");
        return DB_QS_NONE;
    }
    return DB_QS_ONE;
}

static enum db_qs
stop_step(struct crud_ctx *ctx, struct store_row *out, char **location)
{
    struct db_conn *db = ctx->req->db;
    struct store_row vm = {0}, snap = {0};
    json_t *obj = NULL;
    const char *name = crud_str(ctx->body, "snapshot");
    enum db_qs qs = load_locked(ctx, &vm, &obj);
    if (qs != DB_QS_ONE) {
        goto out;
    }
    if (name && !validate_name(name)) {
        qs = DB_QS_NONE;
        crud_fail(ctx, SVE_INVALID_VALUE, "snapshot", "snapshot names are 1-63 "
                  "characters of a-z 0-9 -, starting and ending alphanumeric, "
                  "and not shaped like a UUID");
        goto out;
    }
    if (!power_is(ctx, obj, "running", "stop")) {
        qs = DB_QS_NONE;
        goto out;
    }
    if ((qs = snapshots_insert(db, vm.id, name, NULL, "stop", &snap)) != DB_QS_ONE) {
        qs = qs == DB_QS_NONE ? DB_QS_HARD : qs;
        if (qs == DB_QS_HARD && !strcmp(db_conn_error(db)->sqlstate, "23505")) {
            crud_fail(ctx, SVE_NAME_TAKEN, "snapshot", "the VM has a snapshot "
                      "named '%s' already", name ? name : "");
        }
        goto out;
    }
    qs = store_vm_stop(db, ctx->scope, vm.id, snap.id, out);
    if (qs == DB_QS_NONE) {
        qs = DB_QS_SOFT;        /* changed under us: run again */
    } else if (qs == DB_QS_ONE) {
        char tail[64];
        snprintf(tail, sizeof tail, "/snapshots/%s", snap.id);
        *location = lifecycle_location(ctx->req->url, 1, tail);
    }
out:
    json_decref(obj);
    store_row_uninit(&vm);
    store_row_uninit(&snap);
    return qs;
}

/* Finds the snapshot to start from (named in the body, else the newest)
 * and checks it: ready, and recorded for the VM's present MAC, IP and
 * switch.  Writes its id. */
static enum db_qs
start_snapshot(struct crud_ctx *ctx, const struct store_row *vm, char snap_id[37])
{
    struct db_conn *db = ctx->req->db;
    const char *key = crud_str(ctx->body, "snapshot");
    struct store_row snap = {0};
    enum db_qs qs = key ? store_get(db, &store_snapshots, vm->id, key, &snap)
                        : snapshots_latest(db, vm->id, &snap);
    json_t *s = NULL;
    if (qs == DB_QS_NONE) {
        if (key) {
            crud_fail(ctx, SVE_INVALID_VALUE, "snapshot", "vm has no snapshot '%s'",
                      key);
        } else {
            crud_fail(ctx, SVE_CONFLICT, "snapshot", "the VM has no snapshot to "
                      "start from");
        }
        return DB_QS_NONE;
    }
    if (qs < 0) {
        return qs;
    }
    unsigned int diff = 0;
    if (!(s = json_loads(snap.json, 0, NULL))) {
        qs = DB_QS_NONE;
        crud_fail(ctx, SVE_INTERNAL, NULL, "out of memory");
    } else if (!crud_str(s, "state") || strcmp(crud_str(s, "state"), "ready")) {
        qs = DB_QS_NONE;
        crud_fail(ctx, SVE_CONFLICT, "snapshot", "snapshot '%s' is %s%s%s: only a "
                  "ready snapshot can be started from", crud_str(s, "name"),
                  crud_str(s, "state"), crud_str(s, "detail") ? ": " : "",
                  crud_str(s, "detail") ? crud_str(s, "detail") : "");
    } else if ((qs = snapshots_diff(db, snap.id, &diff)) == DB_QS_ONE && diff) {
        static const char *const what[] = {"mac", "ip", "switch"};
        char list[64] = "";
        const char *first = NULL;
        for (unsigned int i = 0; i < 3; i++) {
            if (diff & (1u << i)) {
                first = first ? first : what[i];
                snprintf(list + strlen(list), sizeof list - strlen(list), "%s%s",
                         list[0] ? ", " : "", what[i]);
            }
        }
        qs = DB_QS_NONE;
        crud_fail(ctx, SVE_CONFLICT, first, "the VM's %s changed since snapshot "
                  "'%s' (it recorded mac %s, ip %s, switch %s): restore them or "
                  "start from a newer snapshot", list, crud_str(s, "name"),
                  crud_str(s, "mac"), crud_str(s, "ip"),
                  crud_str(s, "switch") ? crud_str(s, "switch") : "(deleted)");
    } else if (qs == DB_QS_ONE) {
        snprintf(snap_id, 37, "%s", snap.id);
    }
    json_decref(s);
    store_row_uninit(&snap);
    return qs;
}

static enum db_qs
start_step(struct crud_ctx *ctx, struct store_row *out, char **location)
{
    struct db_conn *db = ctx->req->db;
    struct store_row vm = {0};
    json_t *obj = NULL;
    char snap_id[37], host_id[37];
    char *placement = NULL;
    enum db_qs qs = load_locked(ctx, &vm, &obj);
    if (qs != DB_QS_ONE || !power_is(ctx, obj, "stopped", "start")
        || (qs = start_snapshot(ctx, &vm, snap_id)) != DB_QS_ONE) {
        qs = qs == DB_QS_ONE ? DB_QS_NONE : qs;
        goto out;
    }
    json_t *p = json_object_get(ctx->body, "placement");
    struct placement_req preq = {.kind = PLACEMENT_HOST,
                                 .target = crud_str(obj, "host_id")};
    const char *jur[VMS_MAX_LIST], *avoid[VMS_MAX_LIST];
    if ((p && !vms_parse_placement(ctx, p, "placement.", &preq, jur, avoid))
        || !vms_place(ctx, &preq, "placement.", NULL, host_id)) {
        qs = DB_QS_NONE;
        goto out;
    }
    if (p && !(placement = json_dumps(p, JSON_COMPACT))) {
        qs = DB_QS_HARD;
        goto out;
    }
    qs = store_vm_start(db, ctx->scope, vm.id, snap_id, host_id, placement, out);
    if (qs == DB_QS_NONE) {
        qs = DB_QS_SOFT;
    } else if (qs == DB_QS_ONE) {
        *location = lifecycle_location(ctx->req->url, 1, "");
    }
out:
    free(placement);
    json_decref(obj);
    store_row_uninit(&vm);
    return qs;
}

void
vms_stop(struct api_req *req, struct api_resp *resp)
{
    lifecycle_post(req, resp, stop_fields, stop_step, "vm");
}

void
vms_start(struct api_req *req, struct api_resp *resp)
{
    lifecycle_post(req, resp, start_fields, start_step, "vm");
}

/* --- stats --- */

void
vms_stats(struct api_req *req, struct api_resp *resp)
{
    struct crud_ctx ctx = {.req = req, .resp = resp};
    struct store_row vm = {0};
    char *json = NULL;
    enum db_qs qs = vms_load(&ctx, &vm);
    if (qs == DB_QS_ONE) {
        qs = vm_stats_document(req->db, ctx.scope, vm.id, &json);
        if (qs < 0) {
            crud_db_problem(req, resp, qs, "vm", NULL);
        } else if (qs == DB_QS_NONE) {
            api_problem(resp, req, SVE_NOT_FOUND, "vm", "no vm '%s'", req->params[2]);
        } else {
            crud_reply_computed(req, resp, json, strlen(json));
            json = NULL;
        }
    }
    free(json);
    store_row_uninit(&vm);
    crud_ctx_uninit(&ctx);
}
