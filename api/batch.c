/* batch.c: POST /v1/tenants/{tenant}/networks/{network}/batch, many writes
 * to one network's switches, links and VMs as one transaction.
 *
 * The request:
 *   {"operations": [
 *      {"op": "create", "kind": "switch" | "link" | "vm", "body": {...}},
 *      {"op": "update", "kind": ..., "target": ID-OR-NAME, "body": {patch},
 *       "if_match": ETAG?},
 *      {"op": "delete", "kind": ..., "target": ID-OR-NAME, "if_match": ETAG?}],
 *    "dry_run": false}
 * at most BATCH_MAX_OPS operations in at most BATCH_MAX_BODY bytes (the
 * route's own limit, api/router.c).  ?dry_run=true works like the member.
 *
 * Rules.  Each operation is exactly the single-object route's write: the
 * body is checked against the resource's field spec (crud_check_body), then
 * crud_insert / crud_replace / crud_remove run the resource's validate
 * hook and its statement (api/crud.c), in the order given, in one
 * transaction.  A later operation therefore sees what earlier ones did: a
 * VM may plug into a switch created above it, a name deleted above may be
 * created again.
 *
 * All or nothing, every error at once.  A refused operation does not stop
 * the run: the next ones still run, so one answer names every failure, each
 * as an entry of the 422 batch-refused problem's "errors" with a JSON
 * Pointer into the request ("/operations/3/body/ip").  A refusal by a
 * validate hook leaves the transaction usable; a refusal by PostgreSQL (a
 * unique name, MAC or IP, a switch still in use) aborts it.  The fast path
 * runs without per-operation savepoints; at the first database refusal it
 * rolls back to a savepoint taken at the start and runs every operation
 * again, each under its own savepoint, so a database refusal costs only
 * that operation (state diagram):
 *
 *        start ── SAVEPOINT sv_0 ──> FAST ──(all ran)──> DONE
 *                                     │ database refusal
 *                                     v
 *                  ROLLBACK TO sv_0, DIAGNOSE (SAVEPOINT sv_1 around each
 *                  operation; a refusal rolls back to it) ──> DONE
 *   DONE: errors -> 422 and ROLLBACK; dry run -> 200 and ROLLBACK;
 *         otherwise 200, the Idempotency-Key's record, COMMIT.
 * Placement: the VMs of one batch are placed against candidates read
 * once per attempt (api/vms.h, struct vms_placing), each VM created taking
 * its slot there, so a batch of n VMs reads the hosts' used slots (a
 * counter per host, migrations/015) once, not n times; a rollback to
 * sv_0, or a VM update or delete, makes the next placement read them
 * again.
 * A failure of the database itself (connection, serialization) ends the
 * transaction as on any write route; crud_write() settles the answer after
 * COMMIT, so a batch is acknowledged only once it committed.
 *
 * The answer lists per operation the object as stored (create, update) or
 * its id and name (delete), with the counts of each.  A dry run answers the
 * same document, with "dry_run": true, after rolling everything back: its
 * ids are never kept.  A dry run takes no Idempotency-Key record. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/crud.h"
#include "api/vms.h"
#include "db/db.h"

#define BATCH_MAX_OPS 10000

enum batch_verb { BV_CREATE, BV_UPDATE, BV_DELETE };
static const char *const verb_names[] = {"create", "update", "delete", NULL};
static const char *const kind_names[] = {"switch", "link", "vm", NULL};

struct batch_op {
    enum batch_verb verb;
    const struct crud_res *res;
    const char *target;         /* update, delete: borrowed from the body */
    const char *if_match;       /* or NULL */
    json_t *body;               /* create, update: borrowed */
    json_t *errors;             /* what the request's shape got wrong;
                                 * owned */
    bool refused;               /* the shape is wrong (even when memory ran
                                 * out for 'errors'): the operation never
                                 * runs */
};

struct batch {
    struct api_req *req;
    struct api_resp *resp;
    json_t *doc;                /* the request body; owned */
    json_t *top_errors;         /* envelope errors; owned */
    struct batch_op *ops;
    size_t n_ops;
    bool dry_run;
    const char *idem_key;       /* NULL for none and for a dry run */
    /* One attempt of the transaction: */
    json_t *results, *errors;
    size_t counts[3];
    bool lost;                  /* a result or a refusal could not be
                                 * recorded (out of memory) */
};

static const struct crud_res *const kinds[] = {&crud_switches, &crud_links, &crud_vms};

static const char *const member_names[] = {
    "op", "kind", "target", "body", "if_match", NULL,
};
static const struct {
    const char *name;
    const char *const *values;
    const char *rule;
} choices[] = {
    {"op", verb_names, "op is create, update or delete"},
    {"kind", kind_names, "kind is switch, link or vm"},
};

/* The members of an operation besides op and kind: per verb (create,
 * update, delete) refused (0), optional (1) or required (2). */
static const struct {
    const char *name;
    unsigned char use[3];
    json_type type;
    const char *rule;
} members[] = {
    {"target", {0, 2, 2}, JSON_STRING, "'target' names the object of an update or "
     "a delete, a string (an id or a name); a create names it in body.name"},
    {"if_match", {0, 1, 1}, JSON_STRING, "'if_match' is an ETag string, for an "
     "update or a delete"},
    {"body", {2, 2, 0}, JSON_OBJECT, "'body' holds the fields of a create or an "
     "update, an object; a delete has none"},
};

static int
index_of(const char *v, const char *const *names)
{
    for (int i = 0; v && names[i]; i++) {
        if (!strcmp(v, names[i])) {
            return i;
        }
    }
    return -1;
}

/* Appends 'entry' (always consumed) to *list (created on first use).
 * False when memory ran out and the entry is not in the list. */
static bool
add_error(json_t **list, json_t *entry)
{
    if (!*list) {
        *list = json_array();
    }
    bool added = *list && entry && !json_array_append(*list, entry);
    json_decref(entry);
    return added;
}

/* --- the request's shape --- */

/* Refuses 'op' for 'entry' (always consumed). */
static void
op_refuse(struct batch_op *op, json_t *entry)
{
    op->refused = true;
    add_error(&op->errors, entry);
}

/* Reads operation 'i'; what is wrong refuses it (op->refused, op->errors). */
static void
parse_op(struct batch *b, size_t i, json_t *o, struct batch_op *op)
{
    char at[64], ptr[160];
    snprintf(at, sizeof at, "/operations/%zu", i);
    if (!json_is_object(o)) {
        op_refuse(op, api_problem_entry(SVE_WRONG_TYPE, at, "an operation is an object"));
        return;
    }
    const char *k;
    json_t *v;
    json_object_foreach(o, k, v) {
        if (index_of(k, member_names) < 0) {
            snprintf(ptr, sizeof ptr, "%s", at);
            api_pointer_append(ptr, sizeof ptr, k);
            op_refuse(op, api_problem_entry(
                SVE_UNKNOWN_FIELD, ptr, "'%s' is not a member of an operation (op, "
                "kind, target, body, if_match)", k));
        }
    }
    int pick[2];
    for (size_t e = 0; e < 2; e++) {
        v = json_object_get(o, choices[e].name);
        if ((pick[e] = index_of(json_string_value(v), choices[e].values)) < 0) {
            snprintf(ptr, sizeof ptr, "%s/%s", at, choices[e].name);
            op_refuse(op, api_problem_entry(
                v ? SVE_INVALID_VALUE : SVE_MISSING_FIELD, ptr, "%s", choices[e].rule));
        }
    }
    int verb = pick[0], kind = pick[1];
    for (size_t m = 0; verb >= 0 && m < sizeof members / sizeof members[0]; m++) {
        v = json_object_get(o, members[m].name);
        int use = members[m].use[verb];
        enum sv_error e = !v ? (use == 2 ? SVE_MISSING_FIELD : SVE_OK)
                          : !use ? SVE_INVALID_VALUE
                          : json_typeof(v) != members[m].type ? SVE_WRONG_TYPE : SVE_OK;
        if (e != SVE_OK) {
            snprintf(ptr, sizeof ptr, "%s/%s", at, members[m].name);
            op_refuse(op, api_problem_entry(e, ptr, "%s", members[m].rule));
        }
    }
    json_t *body = json_object_get(o, "body");
    if (!op->refused && verb != BV_DELETE) {
        struct api_resp scratch = {.status = 500};
        snprintf(ptr, sizeof ptr, "%s/body", at);
        if (!crud_check_body(b->req, &scratch, body, kinds[kind]->fields,
                             verb == BV_CREATE)) {
            op_refuse(op, api_problem_entry_of(&scratch, ptr, body, ptr));
        }
        free(scratch.body);
        free(scratch.location);
    }
    if (verb >= 0 && kind >= 0) {
        op->verb = (enum batch_verb) verb;
        op->res = kinds[kind];
        op->target = json_string_value(json_object_get(o, "target"));
        op->if_match = json_string_value(json_object_get(o, "if_match"));
        op->body = body;
    }
}

/* Reads the envelope.  Returns false when there is nothing to run (then
 * b->top_errors says why). */
static bool
parse_batch(struct batch *b)
{
    const char *k;
    json_t *v;
    json_object_foreach(b->doc, k, v) {
        char ptr[300] = "";
        api_pointer_append(ptr, sizeof ptr, k);
        if (!strcmp(k, "dry_run")) {
            if (!json_is_boolean(v)
                && !add_error(&b->top_errors, api_problem_entry(SVE_WRONG_TYPE, "/dry_run",
                                                                "dry_run is a boolean"))) {
                return false;       /* out of memory: nothing may run */
            }
            b->dry_run |= json_is_true(v);
        } else if (strcmp(k, "operations")
                   && !add_error(&b->top_errors, api_problem_entry(
                       SVE_UNKNOWN_FIELD, ptr, "'%s' is not a member of a batch "
                       "(operations, dry_run)", k))) {
            return false;
        }
    }
    json_t *ops = json_object_get(b->doc, "operations");
    if (!json_is_array(ops)) {
        add_error(&b->top_errors, api_problem_entry(
            ops ? SVE_WRONG_TYPE : SVE_MISSING_FIELD, "/operations",
            "operations is an array of operations"));
        return false;
    }
    if (json_array_size(ops) > BATCH_MAX_OPS) {
        add_error(&b->top_errors, api_problem_entry(
            SVE_INVALID_VALUE, "/operations", "a batch holds at most %d operations, "
            "not %zu", BATCH_MAX_OPS, json_array_size(ops)));
        return false;
    }
    b->ops = calloc(json_array_size(ops) + 1, sizeof *b->ops);
    if (!b->ops) {
        return false;
    }
    b->n_ops = json_array_size(ops);
    for (size_t i = 0; i < b->n_ops; i++) {
        parse_op(b, i, json_array_get(ops, i), &b->ops[i]);
    }
    return true;
}

/* --- the transaction --- */

static void
attempt_reset(struct batch *b)
{
    json_decref(b->results);
    json_decref(b->errors);
    b->results = json_array();
    b->errors = b->top_errors ? json_deep_copy(b->top_errors) : json_array();
    memset(b->counts, 0, sizeof b->counts);
    b->lost = !b->results || !b->errors;
}

/* A refusal of the operation itself (a constraint, a value PostgreSQL would
 * not take), after which a savepoint lets the transaction go on; anything
 * else is a failure of the database. */
static bool
refused_by_database(const struct db_conn *db)
{
    const struct db_error *err = db_conn_error(db);
    const char *st = err->sqlstate;
    return !err->at_commit && (!strncmp(st, "23", 2) || !strncmp(st, "22", 2));
}

static void
record_result(struct batch *b, const struct batch_op *op, struct store_row *row)
{
    json_t *obj = row->json ? json_loads(row->json, 0, NULL) : NULL;
    json_t *r = json_pack("{s:s, s:s, s:s}", "op", verb_names[op->verb], "kind",
                          op->res->kind, "id", row->id);
    if (r && obj) {
        json_object_set(r, "name", json_object_get(obj, "name"));
        if (op->verb != BV_DELETE) {
            json_object_set(r, "object", obj);
        }
    }
    json_decref(obj);
    b->lost |= !r || json_array_append_new(b->results, r);
    b->counts[op->verb]++;
}

/* Runs every operation in order.  DB_QS_ONE when all ran (refusals are in
 * b->errors); with !diagnose, DB_QS_NONE when the database refused one
 * (*again: rerun with savepoints); or a failure of the database. */
static enum db_qs
run_ops(struct batch *b, struct crud_ctx *ctx, bool diagnose, bool *again)
{
    struct db_conn *db = b->req->db;
    enum db_qs qs = DB_QS_ONE;
    for (size_t i = 0; i < b->n_ops && qs >= 0; i++) {
        struct batch_op *op = &b->ops[i];
        if (op->refused) {
            b->lost |= json_array_extend(b->errors, op->errors) != 0;
            continue;
        }
        struct api_resp scratch = {.status = 500};
        struct store_row row = {0};
        ctx->res = op->res;
        ctx->resp = &scratch;
        ctx->body = json_incref(op->body);
        if (diagnose && (qs = db_savepoint(db, DB_SP_SET, 1)) < 0) {
            break;
        }
        qs = op->verb == BV_CREATE ? crud_insert(ctx, &row)
             : op->verb == BV_UPDATE ? crud_replace(ctx, op->target, op->if_match, &row)
             : crud_remove(ctx, op->target, op->if_match, &row);
        bool refused = qs == DB_QS_NONE;
        if (refused && scratch.status >= 500) {
            /* A validate hook's query failed (a lost connection, a
             * serialization failure, a timeout): the transaction is gone or
             * aborted, so no later operation may run in it. */
            refused = false;
            qs = DB_QS_HARD;
        }
        if (qs == DB_QS_HARD && refused_by_database(db)) {
            if (!diagnose) {
                *again = true;
            } else if ((qs = db_savepoint(db, DB_SP_ROLLBACK, 1)) >= 0) {
                refused = true;
            }
        }
        if (refused) {
            char at[64], body[80];
            snprintf(at, sizeof at, "/operations/%zu", i);
            snprintf(body, sizeof body, "%s/body", at);
            if (op->verb != BV_CREATE && scratch.status == 404) {
                snprintf(at, sizeof at, "/operations/%zu/target", i);
            }
            b->lost |= !add_error(&b->errors,
                                  api_problem_entry_of(&scratch, body, op->body, at));
            qs = DB_QS_ONE;
        } else if (qs == DB_QS_ONE) {
            record_result(b, op, &row);
        }
        if (op->res == &crud_vms && op->verb == BV_CREATE) {
            vms_placing_settle(ctx->placing, !refused && qs == DB_QS_ONE);
        } else if (op->res == &crud_vms && !refused && qs == DB_QS_ONE) {
            vms_placing_forget(ctx->placing);
        } else {
            vms_placing_settle(ctx->placing, false);
        }
        if (diagnose && qs >= 0) {
            qs = db_savepoint(db, DB_SP_RELEASE, 1);
        }
        store_row_uninit(&row);
        free(scratch.body);
        free(scratch.location);
        json_decref(ctx->body);
        json_decref(ctx->current);
        json_decref(ctx->extra);
        ctx->body = ctx->current = ctx->extra = NULL;
        if (*again) {
            return DB_QS_NONE;
        }
    }
    return qs;
}

static json_t *
answer(const struct batch *b)
{
    return json_pack("{s:b, s:I, s:I, s:I, s:O}", "dry_run", b->dry_run, "created",
                     (json_int_t) b->counts[BV_CREATE], "updated",
                     (json_int_t) b->counts[BV_UPDATE], "deleted",
                     (json_int_t) b->counts[BV_DELETE], "results", b->results);
}

static enum db_qs
batch_txn(struct db_conn *db, void *arg)
{
    struct batch *b = arg;
    struct api_req *req = b->req;
    enum db_qs qs;
    attempt_reset(b);
    if (b->idem_key && (qs = crud_idem_claim(req, b->resp, b->idem_key)) != DB_QS_ONE) {
        return qs;
    }
    /* Switches, links and VMs share their parent chain: the network. */
    struct crud_ctx ctx = {.req = req, .resp = b->resp, .res = &crud_vms,
                           .placing = vms_placing_create()};
    if (!crud_resolve_scope(&ctx)) {
        vms_placing_destroy(ctx.placing);
        crud_ctx_uninit(&ctx);
        return DB_QS_NONE;
    }
    bool again = false;
    if ((qs = db_savepoint(db, DB_SP_SET, 0)) >= 0) {
        qs = run_ops(b, &ctx, false, &again);
    }
    if (again && (qs = db_savepoint(db, DB_SP_ROLLBACK, 0)) >= 0) {
        attempt_reset(b);
        vms_placing_forget(ctx.placing);
        again = false;
        qs = run_ops(b, &ctx, true, &again);
    }
    vms_placing_destroy(ctx.placing);
    crud_ctx_uninit(&ctx);
    if (qs < 0) {
        return qs;
    }
    if (b->lost) {
        /* A refusal not recorded would let the rest commit alone. */
        api_problem(b->resp, req, SVE_INTERNAL, NULL, "out of memory");
        return DB_QS_NONE;
    }
    if (json_array_size(b->errors)) {
        size_t n = json_array_size(b->errors);
        api_problem_errors(b->resp, req, SVE_BATCH_REFUSED, json_incref(b->errors),
                           "%zu error%s; nothing was changed", n, n == 1 ? "" : "s");
        return DB_QS_NONE;
    }
    json_t *doc = answer(b);
    char *text = doc ? json_dumps(doc, JSON_COMPACT) : NULL;
    json_decref(doc);
    if (!text) {
        api_problem(b->resp, req, SVE_INTERNAL, NULL, "out of memory");
        return DB_QS_NONE;
    }
    api_reply_owned(b->resp, 200, text, strlen(text), "application/json");
    if (b->dry_run) {
        return DB_QS_NONE;
    }
    if (b->idem_key && (qs = crud_idem_finish(req, b->idem_key, 200, text, NULL)) < 0) {
        return qs;
    }
    return DB_QS_ONE;
}

void
batch_post(struct api_req *req, struct api_resp *resp)
{
    struct batch b = {.req = req, .resp = resp};
    const char *key;
    const char *q = api_query(req, "dry_run");
    if (q && strcmp(q, "true") && strcmp(q, "false")) {
        api_problem(resp, req, SVE_BAD_QUERY, "dry_run", "dry_run is true or false");
        return;
    }
    if (!crud_idem_key_ok(req, resp, &key) || !(b.doc = crud_load_body(req, resp))) {
        return;
    }
    b.dry_run = q && !strcmp(q, "true");
    if (!parse_batch(&b)) {
        if (b.top_errors) {
            api_problem_errors(resp, req, SVE_BATCH_REFUSED, json_incref(b.top_errors),
                               "the batch has no list of operations to run");
        } else {
            api_problem(resp, req, SVE_INTERNAL, NULL, "out of memory");
        }
    } else {
        b.idem_key = b.dry_run ? NULL : key;
        crud_write(req, resp, batch_txn, &b, "object", NULL);
    }
    for (size_t i = 0; i < b.n_ops; i++) {
        json_decref(b.ops[i].errors);
    }
    free(b.ops);
    json_decref(b.results);
    json_decref(b.errors);
    json_decref(b.top_errors);
    json_decref(b.doc);
}
