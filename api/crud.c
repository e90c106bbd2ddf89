/* crud.c: the resource engine described in crud.h. */
#include "api/crud.h"

#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/readsnap.h"
#include "core/hash.h"
#include "core/validate.h"
#include "db/changelog.h"
#include "db/db.h"

#define LIMIT_DEFAULT CRUD_LIMIT_DEFAULT
#define LIMIT_MAX 1000
#define MAX_DEPTH 3

bool
crud_fail(struct crud_ctx *ctx, enum sv_error e, const char *field,
          const char *fmt, ...)
{
    char detail[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(detail, sizeof detail, fmt, ap);
    va_end(ap);
    api_problem(ctx->resp, ctx->req, e, field, "%s", detail);
    return false;
}

const char *
crud_str(const json_t *obj, const char *name)
{
    return json_string_value(json_object_get(obj, name));
}

bool
crud_valid_name(struct crud_ctx *ctx, const json_t *obj)
{
    const char *name = crud_str(obj, "name");
    if (name && validate_name(name)) {
        return true;
    }
    return crud_fail(ctx, SVE_INVALID_VALUE, "name", "names are 1-63 characters "
                     "of a-z 0-9 -, starting and ending alphanumeric, and not "
                     "shaped like a UUID");
}

bool
crud_one_of(const char *v, const char *const *options)
{
    for (; v && *options; options++) {
        if (!strcmp(v, *options)) {
            return true;
        }
    }
    return false;
}

void
crud_etag(char out[40], const struct store_row *row)
{
    snprintf(out, 40, "\"%.8s-%016llx\"", row->id,
             (unsigned long long) fnv64_bytes(FNV64_INIT, row->json,
                                              row->json ? strlen(row->json) : 0));
}

/* --- database errors --- */

/* Unique constraints whose violation is not simply a taken name. */
static const struct {
    const char *constraint, *field, *detail;
} unique_conflicts[] = {
    {"host_cloud_public_ip", "public_ip", "another gateway of this cloud has this "
     "public_ip; each gateway needs its own"},
    {"vm_network_id_mac_key", "mac", "another VM of this network has this MAC"},
    {"vm_network_id_ip_key", "ip", "another VM of this network has this IP"},
    {"vlink_pair", "b", "a link between these two switches already exists"},
    {"vm_migration_one_active", NULL, "the VM is migrating already"},
    {"vm_tenant_wire", "mac", "another VM of this tenant has the same lower 32 MAC "
     "bits; mac-prefix tagging carries only those bits and the tenant tag on the wire"},
};

/* Check constraints (and the triggers that raise under a constraint's name)
 * whose violation names a field and has an error of its own. */
static const struct {
    const char *constraint, *field;
    enum sv_error error;
    const char *detail;
} check_conflicts[] = {
    {"vswitch_controller_allowed", "controller", SVE_CONTROLLER_NOT_ALLOWED,
     "the controller's address is not inside the tenant's controller_allow"},
    {"tenant_controller_allow_in_use", "controller_allow", SVE_CONFLICT,
     "a virtual switch of the tenant has its controller outside this list"},
    {"host_two_gateways_per_cloud", "role", SVE_GATEWAYS_FULL,
     "the cloud already has two gateways (migrations/011): make this host a "
     "worker (role host) or remove one of them first"},
};

/* Writes the problem of check_conflicts[] for 'constraint'; false when it
 * has none. */
static bool
check_conflict(struct api_resp *resp, struct api_req *req, const char *constraint)
{
    for (size_t i = 0; i < sizeof check_conflicts / sizeof check_conflicts[0]; i++) {
        if (!strcmp(constraint, check_conflicts[i].constraint)) {
            api_problem(resp, req, check_conflicts[i].error, check_conflicts[i].field,
                        "%s", check_conflicts[i].detail);
            return true;
        }
    }
    return false;
}

void
crud_db_problem(struct api_req *req, struct api_resp *resp, enum db_qs qs,
                const char *kind, const char *in_use)
{
    const struct db_error *err = db_conn_error(req->db);
    const char *st = err->sqlstate;
    if (err->outcome_unknown) {
        api_problem(resp, req, SVE_COMMIT_UNKNOWN, NULL, "the connection to the "
                    "database broke while the change was being committed (%s); "
                    "it may or may not have been made", err->message);
    } else if (err->at_commit && !strncmp(st, "23", 2)) {
        /* A deferred constraint: the change itself is refused. */
        api_problem(resp, req, SVE_CONFLICT, NULL, "the change was refused when "
                    "it was committed: %s%s%s", err->message,
                    err->constraint[0] ? " " : "", err->constraint);
    } else if (err->at_commit && strcmp(st, "40001") && strcmp(st, "40P01")) {
        api_problem(resp, req, SVE_DB_UNAVAILABLE, NULL, "the database did not "
                    "commit the change: %s", err->message);
    } else if (qs == DB_QS_SOFT || !st[0] || !strncmp(st, "08", 2)
               || !strncmp(st, "57", 2) || !strncmp(st, "40", 2)) {
        api_problem(resp, req, SVE_DB_UNAVAILABLE, NULL,
                    "the database did not complete the request: %s", err->message);
    } else if (!strcmp(st, "23505")) {
        for (size_t i = 0; i < sizeof unique_conflicts / sizeof unique_conflicts[0]; i++) {
            if (!strcmp(err->constraint, unique_conflicts[i].constraint)) {
                api_problem(resp, req, SVE_CONFLICT, unique_conflicts[i].field,
                            "%s", unique_conflicts[i].detail);
                return;
            }
        }
        api_problem(resp, req, SVE_NAME_TAKEN, "name",
                    "a %s with this name already exists", kind);
    } else if (!strcmp(st, "23503")) {
        api_problem(resp, req, SVE_IN_USE, NULL, "the %s %s", kind,
                    in_use ? in_use : "is still referenced");
    } else if (!strcmp(st, "23502") && !strcmp(err->column, "tag")) {
        api_problem(resp, req, SVE_TAGS_EXHAUSTED, NULL,
                    "every tenant tag from 1 to 65535 is taken");
    } else if (!strcmp(st, "23514")
               && check_conflict(resp, req, err->constraint)) {
        return;
    } else if (!strcmp(st, "23514") || !strncmp(st, "22", 2)) {
        api_problem(resp, req, SVE_INVALID_VALUE, NULL, "rejected by the "
                    "database: %s%s%s", err->message,
                    err->constraint[0] ? " " : "", err->constraint);
    } else {
        api_problem(resp, req, SVE_INTERNAL, NULL, "database error %s: %s", st,
                    err->message);
    }
}

/* crud_write's wrapper of the handler's transaction: a transaction that is
 * to commit learns its change-log position first (Skyvisor-Seq). */
struct write_txn {
    db_txn_fn *fn;
    void *arg;
    struct api_resp *resp;
};

static enum db_qs
write_txn(struct db_conn *db, void *arg)
{
    struct write_txn *w = arg;
    w->resp->seq[0] = '\0';
    enum db_qs qs = w->fn(db, w->arg);
    if (qs == DB_QS_ONE) {
        enum db_qs pos = changelog_position(db, w->resp->seq);
        qs = pos < 0 ? pos : qs;
    }
    return qs;
}

void
crud_write(struct api_req *req, struct api_resp *resp, db_txn_fn *fn, void *arg,
           const char *kind, const char *in_use)
{
    struct write_txn w = {fn, arg, resp};
    enum db_qs qs = db_txn_run(req->db, false, write_txn, &w);
    readsnap_note_write(req->config->readsnap);
    if (qs != DB_QS_ONE) {
        resp->seq[0] = '\0';     /* nothing committed: no position */
    }
    if (qs >= 0) {
        return;
    }
    if (!db_conn_error(req->db)->at_commit && resp->body && resp->status >= 400) {
        return;     /* fn's own problem for its own error */
    }
    /* Nothing of what fn built may reach the client. */
    free(resp->location);
    resp->location = NULL;
    resp->etag[0] = '\0';
    crud_db_problem(req, resp, qs, kind, in_use);
}

/* --- request parsing --- */

static const char *
type_name(enum crud_type t)
{
    switch (t) {
    case CT_STRING: return "a string";
    case CT_INTEGER: return "an integer";
    case CT_NUMBER: return "a number";
    case CT_OBJECT: return "an object";
    case CT_STRING_ARRAY: return "an array of strings";
    case CT_LABELS: return "an object of string labels";
    }
    return "?";
}

static bool
type_ok(enum crud_type t, const json_t *v)
{
    switch (t) {
    case CT_STRING: return json_is_string(v);
    case CT_INTEGER: return json_is_integer(v);
    case CT_NUMBER: return json_is_number(v);
    case CT_OBJECT:
    case CT_LABELS: return json_is_object(v);
    case CT_STRING_ARRAY: {
        if (!json_is_array(v)) {
            return false;
        }
        size_t i;
        json_t *e;
        json_array_foreach(v, i, e) {
            if (!json_is_string(e)) {
                return false;
            }
        }
        return true;
    }
    }
    return false;
}

static bool
labels_ok(struct api_resp *resp, struct api_req *req, const char *field,
          const json_t *labels)
{
    if (json_object_size(labels) > 64) {
        api_problem(resp, req, SVE_INVALID_VALUE, field, "at most 64 labels");
        return false;
    }
    const char *k;
    json_t *v;
    json_object_foreach((json_t *) labels, k, v) {
        if (!validate_label_key(k)) {
            api_problem(resp, req, SVE_INVALID_VALUE, field, "label key '%s' must "
                        "be 1-63 characters of a-z 0-9 . _ / -, starting and "
                        "ending alphanumeric", k);
            return false;
        }
        if (!json_is_string(v) || !validate_label_value(json_string_value(v))) {
            api_problem(resp, req, SVE_INVALID_VALUE, field, "label '%s' must be "
                        "a string of at most 255 printable characters", k);
            return false;
        }
    }
    return true;
}

static const struct crud_field *
find_field(const struct crud_field *fields, const char *name)
{
    for (const struct crud_field *f = fields; f->name; f++) {
        if (!strcmp(f->name, name)) {
            return f;
        }
    }
    return NULL;
}

json_t *
crud_load_body(struct api_req *req, struct api_resp *resp)
{
    json_error_t jerr;
    if (!req->body_len) {
        api_problem(resp, req, SVE_MALFORMED_JSON, NULL, "the request body is empty");
        return NULL;
    }
    json_t *obj = json_loadb(req->body, req->body_len,
                             JSON_REJECT_DUPLICATES | JSON_DECODE_ANY, &jerr);
    if (!obj) {
        if (strstr(jerr.text, "duplicate object key")) {
            api_problem(resp, req, SVE_DUPLICATE_KEY, NULL, "%s", jerr.text);
        } else {
            api_problem(resp, req, SVE_MALFORMED_JSON, NULL,
                        "%s at line %d, column %d", jerr.text, jerr.line,
                        jerr.column);
        }
        return NULL;
    }
    if (!json_is_object(obj)) {
        api_problem(resp, req, SVE_WRONG_TYPE, NULL, "the body must be a JSON object");
        json_decref(obj);
        return NULL;
    }
    return obj;
}

bool
crud_check_body(struct api_req *req, struct api_resp *resp, json_t *obj,
                const struct crud_field *fields, bool creating)
{
    const char *k;
    json_t *v;
    json_object_foreach(obj, k, v) {
        const struct crud_field *f = find_field(fields, k);
        if (!f) {
            api_problem(resp, req, SVE_UNKNOWN_FIELD, k, "'%s' is not a field of "
                        "this resource", k);
            return false;
        }
        if (f->flags & CF_READONLY) {
            api_problem(resp, req, SVE_READ_ONLY_FIELD, k, "'%s' is set by the "
                        "server", k);
            return false;
        }
        if (json_is_null(v) && (f->flags & CF_NULLABLE)) {
            continue;
        }
        if (!type_ok(f->type, v)) {
            api_problem(resp, req, SVE_WRONG_TYPE, k, "'%s' must be %s", k,
                        type_name(f->type));
            return false;
        }
        if (f->type == CT_INTEGER
            && (json_integer_value(v) < INT32_MIN || json_integer_value(v) > INT32_MAX)) {
            /* Every integer column is a PostgreSQL integer. */
            api_problem(resp, req, SVE_INVALID_VALUE, k, "'%s' must be an integer "
                        "from %d to %d", k, INT32_MIN, INT32_MAX);
            return false;
        }
        if (f->type == CT_LABELS && !labels_ok(resp, req, k, v)) {
            return false;
        }
    }
    if (creating) {
        for (const struct crud_field *f = fields; f->name; f++) {
            json_t *m = json_object_get(obj, f->name);
            if ((f->flags & CF_REQUIRED) && (!m || json_is_null(m))) {
                api_problem(resp, req, SVE_MISSING_FIELD, f->name, "'%s' is "
                            "required", f->name);
                return false;
            }
        }
        if (find_field(fields, "labels") && !json_object_get(obj, "labels")) {
            json_object_set_new(obj, "labels", json_object());
        }
    }
    return true;
}

json_t *
crud_parse_body(struct api_req *req, struct api_resp *resp,
                const struct crud_field *fields, bool creating)
{
    json_t *obj = crud_load_body(req, resp);
    if (obj && !crud_check_body(req, resp, obj, fields, creating)) {
        json_decref(obj);
        return NULL;
    }
    return obj;
}

static bool
hex_decode(const char *hex, char *out, size_t out_len)
{
    size_t n = strlen(hex);
    if (n % 2 || n / 2 >= out_len) {
        return false;
    }
    for (size_t i = 0; i < n / 2; i++) {
        unsigned int b;
        if (sscanf(hex + 2 * i, "%2x", &b) != 1 || !strchr("0123456789abcdef", hex[2 * i])
            || !strchr("0123456789abcdef", hex[2 * i + 1]) || b < 0x20) {
            return false;
        }
        out[i] = (char) b;
    }
    out[n / 2] = '\0';
    return true;
}

bool
crud_page_params(struct api_req *req, struct api_resp *resp, unsigned int *limit,
                 char **after)
{
    *limit = LIMIT_DEFAULT;
    *after = NULL;
    const char *l = api_query(req, "limit");
    if (l) {
        char *end;
        long v = strtol(l, &end, 10);
        if (!*l || *end || v < 1 || v > LIMIT_MAX) {
            api_problem(resp, req, SVE_BAD_QUERY, "limit", "limit must be an "
                        "integer from 1 to %d", LIMIT_MAX);
            return false;
        }
        *limit = (unsigned int) v;
    }
    const char *c = api_query(req, "cursor");
    if (c) {
        char key[256];
        if (!hex_decode(c, key, sizeof key) || !key[0]
            || !validate_text(key, sizeof key)) {
            api_problem(resp, req, SVE_BAD_QUERY, "cursor", "cursor is not one "
                        "this server handed out");
            return false;
        }
        *after = strdup(key);
    }
    return true;
}

/* A strong ETag for a computed body (a list page): 64-bit FNV-1a of the
 * bytes, so an unchanged page keeps its tag across requests. */
void
crud_etag_body(char out[40], const char *body, size_t len)
{
    snprintf(out, 40, "\"l-%016llx\"", (unsigned long long) fnv64_bytes(FNV64_INIT, body, len));
}

char *
crud_page_text(const struct store_item *items, size_t shown, bool more,
               const char *last, size_t *len)
{
    static const char hex[] = "0123456789abcdef";
    size_t cap = 64;
    for (size_t i = 0; i < shown; i++) {
        cap += items[i].len + 1;
    }
    cap += 2 * strlen(last) + 32;
    char *buf = malloc(cap);
    if (!buf) {
        return NULL;
    }
    size_t off = (size_t) snprintf(buf, cap, "{\"items\":[");
    for (size_t i = 0; i < shown; i++) {
        if (i) {
            buf[off++] = ',';
        }
        memcpy(buf + off, items[i].json, items[i].len);
        off += items[i].len;
    }
    off += (size_t) snprintf(buf + off, cap - off, "],\"next_cursor\":");
    if (more) {
        buf[off++] = '"';
        for (const char *p = last; *p; p++) {
            buf[off++] = hex[(unsigned char) *p >> 4];
            buf[off++] = hex[(unsigned char) *p & 15];
        }
        buf[off++] = '"';
    } else {
        off += (size_t) snprintf(buf + off, cap - off, "null");
    }
    buf[off++] = '}';
    buf[off] = '\0';
    *len = off;
    return buf;
}

void
crud_reply_items(struct api_req *req, struct api_resp *resp,
                 const struct store_item *items, size_t shown, bool more,
                 const char *last)
{
    size_t len;
    char *body = crud_page_text(items, shown, more, last, &len);
    if (!body) {
        api_reply_owned(resp, 500, NULL, 0, NULL);
        return;
    }
    crud_reply_computed(req, resp, body, len);
}

void
crud_reply_page(struct api_req *req, struct api_resp *resp,
                const struct store_items *rows, unsigned int limit)
{
    bool more = rows->n > limit;
    size_t shown = more ? limit : rows->n;
    crud_reply_items(req, resp, rows->v, shown, more, shown ? rows->v[shown - 1].key : "");
}

void
crud_reply_computed(struct api_req *req, struct api_resp *resp, char *body,
                    size_t len)
{
    crud_etag_body(resp->etag, body, len);
    if (api_if_none_match(req, resp->etag)) {
        free(body);
        api_reply_owned(resp, 304, NULL, 0, NULL);
        return;
    }
    api_reply_owned(resp, 200, body, len, "application/json");
}

bool
crud_if_match(struct api_req *req, struct api_resp *resp, const char *etag)
{
    return crud_if_match_value(req, resp, api_header(req, "If-Match"), etag);
}

bool
crud_if_match_value(struct api_req *req, struct api_resp *resp, const char *h,
                    const char *etag)
{
    if (!h) {
        return true;
    }
    char buf[512];
    snprintf(buf, sizeof buf, "%s", h);
    char *save = NULL;
    for (char *tok = strtok_r(buf, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
        while (*tok == ' ' || *tok == '\t') {
            tok++;
        }
        size_t n = strlen(tok);
        while (n && (tok[n - 1] == ' ' || tok[n - 1] == '\t')) {
            tok[--n] = '\0';
        }
        if (!strcmp(tok, "*") || !strcmp(tok, etag)) {
            return true;
        }
    }
    api_problem(resp, req, SVE_PRECONDITION_FAILED, NULL, "If-Match %s does not "
                "match the current ETag %s", h, etag);
    return false;
}

/* --- scope resolution --- */

bool
crud_resolve(struct crud_ctx *ctx, const struct store_res *target,
             const char *scope, const char *key, const char *field,
             char id_out[37])
{
    struct store_row row = {0};
    enum db_qs qs = store_get(ctx->req->db, target, scope, key, &row);
    if (qs < 0) {
        crud_db_problem(ctx->req, ctx->resp, qs, target->kind, NULL);
        return false;
    }
    if (qs == DB_QS_NONE) {
        return crud_fail(ctx, SVE_INVALID_VALUE, field, "no %s '%s'%s",
                         target->kind, key,
                         scope ? " in this network" : "");
    }
    snprintf(id_out, 37, "%s", row.id);
    store_row_uninit(&row);
    return true;
}

bool
crud_resolve_scope(struct crud_ctx *ctx)
{
    const struct crud_res *chain[MAX_DEPTH];
    size_t depth = 0;
    for (const struct crud_res *p = ctx->res->parent; p && depth < MAX_DEPTH;
         p = p->parent) {
        chain[depth++] = p;
    }
    ctx->scope[0] = '\0';
    for (size_t i = 0; i < depth; i++) {
        const struct crud_res *p = chain[depth - 1 - i];
        struct store_row row = {0};
        enum db_qs qs = store_get(ctx->req->db, p->store,
                                  ctx->scope[0] ? ctx->scope : NULL,
                                  ctx->req->params[i], &row);
        if (qs < 0) {
            crud_db_problem(ctx->req, ctx->resp, qs, p->kind, NULL);
            return false;
        }
        if (qs == DB_QS_NONE) {
            api_problem(ctx->resp, ctx->req, SVE_NOT_FOUND, p->kind, "no %s '%s'",
                        p->kind, ctx->req->params[i]);
            return false;
        }
        snprintf(ctx->scope, sizeof ctx->scope, "%s", row.id);
        if (i == depth - 1) {
            json_decref(ctx->parent);
            ctx->parent = json_loads(row.json, 0, NULL);
        }
        store_row_uninit(&row);
    }
    return true;
}

static size_t
scope_depth(const struct crud_res *res)
{
    size_t d = 0;
    for (const struct crud_res *p = res->parent; p; p = p->parent) {
        d++;
    }
    return d;
}

static const char *
scope_or_null(const struct crud_ctx *ctx)
{
    return ctx->scope[0] ? ctx->scope : NULL;
}

void
crud_ctx_uninit(struct crud_ctx *ctx)
{
    json_decref(ctx->parent);
    json_decref(ctx->current);
    json_decref(ctx->body);
    json_decref(ctx->extra);
    ctx->parent = ctx->current = ctx->body = ctx->extra = NULL;
}

/* The object of the route: named by the last path parameter. */
static const char *
target_key(const struct crud_ctx *ctx)
{
    return ctx->req->params[scope_depth(ctx->res)];
}

/* Loads the object named 'key' (an id or a name) in ctx's scope.  Returns
 * DB_QS_ONE, or DB_QS_NONE after writing 404, or an error after writing
 * it. */
static enum db_qs
load_target(struct crud_ctx *ctx, const char *key, struct store_row *row)
{
    enum db_qs qs = store_get(ctx->req->db, ctx->res->store, scope_or_null(ctx),
                              key, row);
    if (qs == DB_QS_NONE) {
        api_problem(ctx->resp, ctx->req, SVE_NOT_FOUND, NULL, "no %s '%s'",
                    ctx->res->kind, key);
    } else if (qs < 0) {
        crud_db_problem(ctx->req, ctx->resp, qs, ctx->res->kind, NULL);
    }
    return qs;
}

/* --- handlers --- */

void
crud_list(struct api_req *req, struct api_resp *resp, const struct crud_res *res)
{
    struct crud_ctx ctx = {.req = req, .resp = resp, .res = res};
    unsigned int limit;
    char *after;
    if (!crud_page_params(req, resp, &limit, &after)) {
        return;
    }
    if (!res->parent && readsnap_list(req->config->readsnap, req, resp, res->store,
                                      limit, after) == READSNAP_ANSWERED) {
        free(after);
        return;
    }
    if (crud_resolve_scope(&ctx)) {
        struct store_items rows = {0};
        enum db_qs qs = store_list(req->db, res->store, scope_or_null(&ctx), after,
                                   limit + 1, &rows);
        if (qs < 0) {
            crud_db_problem(req, resp, qs, res->kind, NULL);
        } else {
            crud_reply_page(req, resp, &rows, limit);
            store_items_uninit(&rows);
        }
    }
    free(after);
    crud_ctx_uninit(&ctx);
}

void
crud_get(struct api_req *req, struct api_resp *resp, const struct crud_res *res)
{
    struct crud_ctx ctx = {.req = req, .resp = resp, .res = res};
    struct store_row row = {0};
    if (!res->parent && readsnap_get(req->config->readsnap, req, resp, res->store,
                                     target_key(&ctx)) == READSNAP_ANSWERED) {
        return;
    }
    if (crud_resolve_scope(&ctx) && load_target(&ctx, target_key(&ctx), &row) == DB_QS_ONE) {
        char etag[40];
        crud_etag(etag, &row);
        if (api_if_none_match(req, etag)) {
            api_reply_owned(resp, 304, NULL, 0, NULL);
        } else {
            api_reply_owned(resp, 200, row.json, strlen(row.json),
                            "application/json");
            row.json = NULL;
        }
        memcpy(resp->etag, etag, sizeof etag);
    }
    store_row_uninit(&row);
    crud_ctx_uninit(&ctx);
}

/* --- the write steps (see crud.h) --- */

enum db_qs
crud_idem_claim(struct api_req *req, struct api_resp *resp, const char *key)
{
    const char *principal = req->principal.admin ? "admin" : req->principal.tenant_id;
    const char *method = router_method_name(req->method);
    enum db_qs qs = store_idem_claim(req->db, principal, key, method, req->url,
                                     req->body);
    if (qs != DB_QS_NONE) {
        return qs;
    }
    int status;
    char *answer, *location;
    bool same;
    qs = store_idem_lookup(req->db, principal, key, method, req->url, req->body,
                           &status, &answer, &location, &same);
    if (qs != DB_QS_ONE) {
        return qs < 0 ? qs : DB_QS_SOFT;
    }
    if (!same) {
        free(answer);
        free(location);
        api_problem(resp, req, SVE_IDEMPOTENCY_REUSED, NULL, "Idempotency-Key '%s' "
                    "was first used with another request", key);
        return DB_QS_NONE;
    }
    api_reply_owned(resp, (unsigned int) status, answer, strlen(answer),
                    "application/json");
    free(resp->location);
    resp->location = location;
    return DB_QS_NONE;
}

enum db_qs
crud_idem_finish(struct api_req *req, const char *key, unsigned int status,
                 const char *answer, const char *location)
{
    const char *principal = req->principal.admin ? "admin" : req->principal.tenant_id;
    return store_idem_finish(req->db, principal, key, (int) status, answer, location);
}

bool
crud_idem_key_ok(struct api_req *req, struct api_resp *resp, const char **key)
{
    *key = api_header(req, "Idempotency-Key");
    if (*key && !validate_idempotency_key(*key)) {
        api_problem(resp, req, SVE_BAD_HEADER, "Idempotency-Key", "Idempotency-Key "
                    "must be 1-255 printable ASCII characters");
        return false;
    }
    return true;
}

enum db_qs
crud_insert(struct crud_ctx *ctx, struct store_row *row)
{
    struct db_conn *db = ctx->req->db;
    enum db_qs qs = store_lock(db, ctx->res->store);
    if (qs < 0) {
        return qs;
    }
    json_t *obj = json_deep_copy(ctx->body);
    if (!obj || !ctx->res->validate(ctx, obj)
        || (ctx->res->before_insert && !ctx->res->before_insert(ctx, obj))) {
        json_decref(obj);
        return DB_QS_NONE;
    }
    char *text = json_dumps(obj, JSON_COMPACT);
    json_decref(obj);
    qs = text ? store_insert(db, ctx->res->store, scope_or_null(ctx), text, row)
              : DB_QS_HARD;
    free(text);
    if (qs == DB_QS_ONE) {
        return qs;
    }
    if (qs == DB_QS_HARD || qs == DB_QS_NONE) {
        crud_db_problem(ctx->req, ctx->resp, DB_QS_HARD, ctx->res->kind, NULL);
    }
    return qs == DB_QS_NONE ? DB_QS_HARD : qs;
}

/* Builds the object a PATCH asks for: the current writable fields, then
 * the patch on top.  Returns NULL after writing the problem. */
static json_t *
merge_patch(struct crud_ctx *ctx)
{
    json_t *obj = json_object();
    for (const struct crud_field *f = ctx->res->fields; f->name; f++) {
        json_t *cur = json_object_get(ctx->current, f->name);
        if (!(f->flags & CF_READONLY) && cur) {
            json_object_set(obj, f->name, cur);
        }
    }
    const char *k;
    json_t *v;
    json_object_foreach(ctx->body, k, v) {
        const struct crud_field *f = find_field(ctx->res->fields, k);
        json_t *cur = json_object_get(ctx->current, k);
        if ((f->flags & CF_IMMUTABLE) && !json_equal(v, cur)) {
            crud_fail(ctx, SVE_READ_ONLY_FIELD, k, "'%s' cannot change after "
                      "creation", k);
            json_decref(obj);
            return NULL;
        }
        if (json_is_null(v) && !(f->flags & CF_REQUIRED)) {
            json_object_del(obj, k);
        } else if (json_is_null(v)) {
            crud_fail(ctx, SVE_INVALID_VALUE, k, "'%s' cannot be removed", k);
            json_decref(obj);
            return NULL;
        } else {
            json_object_set(obj, k, v);
        }
    }
    return obj;
}

/* The outcome of an update or delete of the revision read: no row means
 * the object changed since (with If-Match a lost race the client must see,
 * 412; without, the transaction runs again and re-applies); a database
 * refusal becomes its problem. */
static enum db_qs
settle(struct crud_ctx *ctx, enum db_qs qs, const char *if_match, const char *in_use)
{
    if (qs == DB_QS_NONE && if_match) {
        api_problem(ctx->resp, ctx->req, SVE_PRECONDITION_FAILED, NULL,
                    "the %s changed while this request ran", ctx->res->kind);
    } else if (qs == DB_QS_NONE) {
        return DB_QS_SOFT;
    } else if (qs == DB_QS_HARD) {
        crud_db_problem(ctx->req, ctx->resp, qs, ctx->res->kind, in_use);
    }
    return qs;
}

enum db_qs
crud_replace(struct crud_ctx *ctx, const char *key, const char *if_match,
             struct store_row *updated)
{
    struct db_conn *db = ctx->req->db;
    struct store_row row = {0};
    enum db_qs qs = load_target(ctx, key, &row);
    if (qs != DB_QS_ONE) {
        return qs;
    }
    char etag[40];
    crud_etag(etag, &row);
    json_decref(ctx->current);
    ctx->current = json_loads(row.json, 0, NULL);
    json_t *obj = NULL;
    if (!crud_if_match_value(ctx->req, ctx->resp, if_match, etag) || !ctx->current
        || (qs = store_lock(db, ctx->res->store)) < 0
        || !(obj = merge_patch(ctx)) || !ctx->res->validate(ctx, obj)) {
        json_decref(obj);
        store_row_uninit(&row);
        return qs < 0 ? qs : DB_QS_NONE;
    }
    char *text = json_dumps(obj, JSON_COMPACT);
    json_decref(obj);
    qs = text ? store_update(db, ctx->res->store, scope_or_null(ctx), row.id,
                             row.revision, text, updated)
              : DB_QS_HARD;
    free(text);
    store_row_uninit(&row);
    return settle(ctx, qs, if_match, NULL);
}

enum db_qs
crud_remove(struct crud_ctx *ctx, const char *key, const char *if_match,
            struct store_row *row)
{
    enum db_qs qs = load_target(ctx, key, row);
    if (qs != DB_QS_ONE) {
        return qs;
    }
    char etag[40];
    crud_etag(etag, row);
    if (!crud_if_match_value(ctx->req, ctx->resp, if_match, etag)) {
        return DB_QS_NONE;
    }
    qs = store_delete(ctx->req->db, ctx->res->store, scope_or_null(ctx), row->id,
                      if_match ? row->revision : -1);
    return settle(ctx, qs, if_match, ctx->res->in_use);
}

/* --- the single-object write routes --- */

/* The write transaction of create: idempotency claim, scope, validation,
 * insert, idempotency record.  Re-run from the start on a retry. */
static enum db_qs
create_txn(struct db_conn *db, void *arg)
{
    struct crud_ctx *ctx = arg;
    struct api_req *req = ctx->req;
    const char *key = api_header(req, "Idempotency-Key");
    enum db_qs qs;
    (void) db;

    if (key && (qs = crud_idem_claim(req, ctx->resp, key)) != DB_QS_ONE) {
        return qs;
    }
    if (!crud_resolve_scope(ctx)) {
        return DB_QS_NONE;
    }
    struct store_row row = {0};
    if ((qs = crud_insert(ctx, &row)) != DB_QS_ONE) {
        return qs;
    }
    size_t loc_len = strlen(req->url) + 40;
    char *location = malloc(loc_len);
    if (location) {
        snprintf(location, loc_len, "%s/%s", req->url, row.id);
    }
    if (key && (qs = crud_idem_finish(req, key, 201, row.json, location)) < 0) {
        free(location);
        store_row_uninit(&row);
        return qs;
    }
    free(ctx->resp->location);
    ctx->resp->location = location;
    crud_etag(ctx->resp->etag, &row);
    if (ctx->res->decorate_created) {
        json_t *body = json_loads(row.json, 0, NULL);
        if (body) {
            ctx->res->decorate_created(ctx, body);
            api_reply_json(ctx->resp, 201, body);
        }
    } else {
        api_reply_owned(ctx->resp, 201, row.json, strlen(row.json),
                        "application/json");
        row.json = NULL;
    }
    store_row_uninit(&row);
    return DB_QS_ONE;
}

void
crud_create(struct api_req *req, struct api_resp *resp, const struct crud_res *res)
{
    struct crud_ctx ctx = {.req = req, .resp = resp, .res = res};
    const char *key;
    if (!crud_idem_key_ok(req, resp, &key)) {
        return;
    }
    ctx.body = crud_parse_body(req, resp, res->fields, true);
    if (!ctx.body) {
        return;
    }
    crud_write(req, resp, create_txn, &ctx, res->kind, NULL);
    crud_ctx_uninit(&ctx);
}

/* The write transaction of PATCH (ctx->body is the patch) and DELETE (no
 * body) on the object the route names. */
static enum db_qs
target_txn(struct db_conn *db, void *arg)
{
    struct crud_ctx *ctx = arg;
    struct store_row row = {0};
    (void) db;
    if (!crud_resolve_scope(ctx)) {
        return DB_QS_NONE;
    }
    const char *if_match = api_header(ctx->req, "If-Match");
    enum db_qs qs = ctx->body ? crud_replace(ctx, target_key(ctx), if_match, &row)
                              : crud_remove(ctx, target_key(ctx), if_match, &row);
    if (qs == DB_QS_ONE && ctx->body) {
        crud_etag(ctx->resp->etag, &row);
        api_reply_owned(ctx->resp, 200, row.json, strlen(row.json),
                        "application/json");
        row.json = NULL;
    } else if (qs == DB_QS_ONE) {
        api_reply_owned(ctx->resp, 204, NULL, 0, NULL);
    }
    store_row_uninit(&row);
    return qs;
}

void
crud_patch(struct api_req *req, struct api_resp *resp, const struct crud_res *res)
{
    struct crud_ctx ctx = {.req = req, .resp = resp, .res = res};
    ctx.body = crud_parse_body(req, resp, res->fields, false);
    if (ctx.body) {
        crud_write(req, resp, target_txn, &ctx, res->kind, NULL);
        crud_ctx_uninit(&ctx);
    }
}

void
crud_delete(struct api_req *req, struct api_resp *resp, const struct crud_res *res)
{
    struct crud_ctx ctx = {.req = req, .resp = resp, .res = res};
    crud_write(req, resp, target_txn, &ctx, res->kind, res->in_use);
    crud_ctx_uninit(&ctx);
}

void
crud_network_doc(struct api_req *req, struct api_resp *resp, crud_network_doc_fn *fetch,
                 crud_finish_fn *finish)
{
    struct store_row tenant = {0}, network = {0};
    enum db_qs qs = store_get(req->db, &store_tenants, NULL, req->params[0], &tenant);
    if (qs == DB_QS_ONE) {
        qs = store_get(req->db, &store_networks, tenant.id, req->params[1], &network);
    }
    char *json = NULL;
    if (qs == DB_QS_ONE) {
        qs = fetch(req->db, tenant.id, network.id, &json);
    }
    if (qs < 0) {
        crud_db_problem(req, resp, qs, "network", NULL);
    } else if (qs == DB_QS_NONE) {
        api_problem(resp, req, SVE_NOT_FOUND, NULL, "no %s '%s'",
                    tenant.json ? "network" : "tenant",
                    tenant.json ? req->params[1] : req->params[0]);
    } else if (finish && !(json = finish(json))) {
        api_problem(resp, req, SVE_INTERNAL, NULL, "out of memory");
    } else {
        crud_reply_computed(req, resp, json, strlen(json));
        json = NULL;
    }
    free(json);
    store_row_uninit(&tenant);
    store_row_uninit(&network);
}
