/* apply.c: plan actions as API requests, and the wait for realization
 * (see apply.h). */
#include "tools/skyctl/apply.h"

#include <errno.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "core/hash.h"
#include "tools/skyctl/fetch.h"

#define MAX_ATTEMPTS 16
#define TRANSPORT_RETRIES 2

void
apply_idem_key(const char *file_id, const char *path, const json_t *body,
               unsigned int attempt, char *buf, size_t len)
{
    char *text = body ? json_dumps(body, JSON_COMPACT | JSON_SORT_KEYS) : NULL;
    uint64_t h1 = FNV64_INIT, h2 = 0x84222325cbf29ce4ull;
    const char *parts[] = {file_id, "POST", path, text ? text : ""};
    for (size_t i = 0; i < 4; i++) {
        h1 = fnv64_str(h1, parts[i]);
        h2 = fnv64_str(h2, parts[i]);
    }
    free(text);
    snprintf(buf, len, "skyctl-%016" PRIx64 "%016" PRIx64 "-%u", h1, h2, attempt);
}

/* One request, retried on transport failures (every request skyctl sends
 * is safe to repeat: POSTs carry their key). */
static int
request(struct client *c, const char *method, const char *path, const json_t *body,
        const char *key, struct client_resp *r, char *err, size_t errlen)
{
    int rc = 0;
    for (int i = 0; i <= TRANSPORT_RETRIES; i++) {
        if (i) {
            sleep(1);
        }
        if ((rc = client_request(c, method, path, body, key, r, err, errlen)) != EIO) {
            break;
        }
    }
    return rc;
}

/* The object an action is about: the declared one, or for a delete the
 * server's. */
static const struct model_obj *
subject(const struct plan_action *a)
{
    return a->want ? a->want : a->have;
}

/* "+ vm red/prod/web created" (or ~ updated, - deleted). */
static void
print_done(FILE *out, const struct plan_action *a)
{
    static const char *const signs[] = {"+", "~", "-"};
    static const char *const verbs[] = {"created", "updated", "deleted"};
    char path[400];
    fprintf(out, "%s %s %s %s\n", signs[a->op], model_kind_name(subject(a)->kind),
            model_path(subject(a), path, sizeof path), verbs[a->op]);
}

static int
do_create(struct client *c, const struct spec *spec, const struct plan_action *a,
          FILE *out, char *err, size_t errlen)
{
    const struct model_obj *d = a->want;
    char url[512], path[400];
    model_path(d, path, sizeof path);
    struct client_resp r;
    int rc;

    if (d->kind == MK_CLOUDLINK) {
        model_url(d, false, url, sizeof url);
        if ((rc = request(c, "PUT", url, a->body, NULL, &r, err, errlen))) {
            return rc;
        }
        if (r.status != 200 && r.status != 201) {
            client_problem(&r, "PUT", url, err, errlen);
            client_resp_uninit(&r);
            return EPROTO;
        }
        client_resp_uninit(&r);
        print_done(out, a);
        return 0;
    }

    model_url(d, true, url, sizeof url);
    for (unsigned int attempt = 1; attempt <= MAX_ATTEMPTS; attempt++) {
        char key[128];
        apply_idem_key(spec->id, url, a->body, attempt, key, sizeof key);
        if ((rc = request(c, "POST", url, a->body, key, &r, err, errlen))) {
            return rc;
        }
        if (r.status != 201) {
            client_problem(&r, "POST", url, err, errlen);
            client_resp_uninit(&r);
            return EPROTO;
        }
        /* Is the object this answer names alive?  (A replay after a destroy
         * names one that is gone.) */
        const char *id = json_string_value(json_object_get(r.body, "id"));
        char obj[600];
        snprintf(obj, sizeof obj, "%s/%s", url, id ? id : d->name);
        struct client_resp g;
        if ((rc = request(c, "GET", obj, NULL, NULL, &g, err, errlen))) {
            client_resp_uninit(&r);
            return rc;
        }
        long gs = g.status;
        if (gs != 200 && gs != 404) {
            client_problem(&g, "GET", obj, err, errlen);
        }
        client_resp_uninit(&g);
        if (gs == 404) {
            client_resp_uninit(&r);
            continue;
        }
        if (gs != 200) {
            client_resp_uninit(&r);
            return EPROTO;
        }
        print_done(out, a);
        if (d->kind == MK_TENANT) {
            const char *token = json_string_value(json_object_get(r.body, "token"));
            if (token) {
                fprintf(out, "  tenant %s token (shown once, keep it): %s\n", d->name,
                        token);
            } else {
                fprintf(out, "  tenant %s: its token is not shown: this create was a "
                        "replay (its first answer was lost, or came to an earlier "
                        "run)\n", d->name);
            }
        }
        client_resp_uninit(&r);
        return 0;
    }
    snprintf(err, errlen, "POST %s: every Idempotency-Key up to attempt %d answers "
             "with an object that no longer exists", url, MAX_ATTEMPTS);
    return EPROTO;
}

static int
do_update(struct client *c, const struct plan_action *a, FILE *out, char *err,
          size_t errlen)
{
    char url[512];
    const char *method = a->want->kind == MK_CLOUDLINK ? "PUT" : "PATCH";
    model_url(a->want, false, url, sizeof url);
    struct client_resp r;
    int rc = request(c, method, url, a->body, NULL, &r, err, errlen);
    if (rc) {
        return rc;
    }
    if (r.status != 200 && r.status != 201) {
        client_problem(&r, method, url, err, errlen);
        client_resp_uninit(&r);
        return EPROTO;
    }
    client_resp_uninit(&r);
    print_done(out, a);
    return 0;
}

static int
do_delete(struct client *c, const struct plan_action *a, FILE *out, char *err,
          size_t errlen)
{
    char url[512];
    model_url(a->have, false, url, sizeof url);
    struct client_resp r;
    int rc = request(c, "DELETE", url, NULL, NULL, &r, err, errlen);
    if (rc) {
        return rc;
    }
    /* 404: gone already (a network takes its switches and links along). */
    if (r.status != 200 && r.status != 204 && r.status != 404) {
        client_problem(&r, "DELETE", url, err, errlen);
        client_resp_uninit(&r);
        return EPROTO;
    }
    client_resp_uninit(&r);
    print_done(out, a);
    return 0;
}

/* --- batches: the switches, links and VMs of a network in one request --- */

static bool
in_network(const struct plan_action *a)
{
    enum model_kind k = subject(a)->kind;
    return k == MK_SWITCH || k == MK_LINK || k == MK_VM;
}

/* The pending actions of one network, as indices into the plan. */
struct group {
    const char *tenant, *network;
    size_t *idx;
    size_t n, cap;
};

struct groups {
    struct group *v;
    size_t n, cap;
};

static void
groups_uninit(struct groups *gs)
{
    for (size_t i = 0; i < gs->n; i++) {
        free(gs->v[i].idx);
    }
    free(gs->v);
    memset(gs, 0, sizeof *gs);
}

/* Adds action 'i' to its network's group (made on first use).  Returns 0
 * or ENOMEM. */
static int
groups_add(struct groups *gs, const struct plan *plan, size_t i)
{
    const struct model_obj *o = subject(&plan->v[i]);
    struct group *g = NULL;
    for (size_t k = 0; k < gs->n && !g; k++) {
        if (!strcmp(gs->v[k].tenant, o->tenant) && !strcmp(gs->v[k].network, o->network)) {
            g = &gs->v[k];
        }
    }
    if (!g) {
        if (gs->n == gs->cap) {
            size_t cap = gs->cap ? 2 * gs->cap : 4;
            struct group *v = realloc(gs->v, cap * sizeof *v);
            if (!v) {
                return ENOMEM;
            }
            gs->v = v, gs->cap = cap;
        }
        g = &gs->v[gs->n++];
        *g = (struct group){.tenant = o->tenant, .network = o->network};
    }
    if (g->n == g->cap) {
        size_t cap = g->cap ? 2 * g->cap : 16;
        size_t *v = realloc(g->idx, cap * sizeof *v);
        if (!v) {
            return ENOMEM;
        }
        g->idx = v, g->cap = cap;
    }
    g->idx[g->n++] = i;
    return 0;
}

/* {"operations": [...]} for a group: creates with their POST body, updates
 * and deletes aimed at the server's object by id. */
static json_t *
batch_body(const struct plan *plan, const struct group *g)
{
    static const char *const ops[] = {"create", "update", "delete"};
    json_t *list = json_array();
    for (size_t k = 0; list && k < g->n; k++) {
        const struct plan_action *a = &plan->v[g->idx[k]];
        json_t *op = json_pack("{s:s, s:s}", "op", ops[a->op], "kind",
                               model_kind_name(subject(a)->kind));
        if (op && a->op != PLAN_CREATE) {
            const char *id = json_string_value(json_object_get(a->have->body, "id"));
            json_object_set_new(op, "target", json_string(id ? id : a->have->name));
        }
        if (op && a->op != PLAN_DELETE) {
            json_object_set(op, "body", a->body);
        }
        if (!op || json_array_append_new(list, op)) {
            json_decref(list);
            return NULL;
        }
    }
    return list ? json_pack("{s:o}", "operations", list) : NULL;
}

/* The server's refusal of a batch, each error put back on its object:
 * "POST URL: 422 title: detail" and a line per error "  vm red/prod/web:
 * 400 title: detail (field: ip)". */
static void
batch_problem(const struct client_resp *r, const char *url, const struct plan *plan,
              const struct group *g, char *err, size_t errlen)
{
    client_problem(r, "POST", url, err, errlen);
    size_t i;
    json_t *e;
    json_array_foreach(json_object_get(r->body, "errors"), i, e) {
        const char *ptr = json_string_value(json_object_get(e, "pointer"));
        const char *title = json_string_value(json_object_get(e, "title"));
        const char *detail = json_string_value(json_object_get(e, "detail"));
        unsigned long op = 0;
        int used = 0;
        char where[400] = "the batch", field[200] = "";
        if (ptr && sscanf(ptr, "/operations/%lu%n", &op, &used) == 1 && op < g->n) {
            const struct plan_action *a = &plan->v[g->idx[op]];
            char path[300];
            snprintf(where, sizeof where, "%s %s", model_kind_name(subject(a)->kind),
                     model_path(subject(a), path, sizeof path));
            const char *rest = ptr + used;
            if (!strncmp(rest, "/body/", 6)) {
                rest += 6;
            } else if (*rest == '/') {
                rest++;
            }
            snprintf(field, sizeof field, "%s", rest);
            for (char *p = field; *p; p++) {
                *p = *p == '/' ? '.' : *p;
            }
        }
        size_t n = strlen(err);
        if (n + 1 < errlen) {
            snprintf(err + n, errlen - n, "\n  %s: %lld %s: %s%s%s%s", where,
                     (long long) json_integer_value(json_object_get(e, "status")),
                     title ? title : "", detail ? detail : "", *field ? " (field: " : "",
                     field, *field ? ")" : "");
        }
    }
}

/* The id of the object the first create of a batch answer made, or NULL;
 * its kind's collection URL into 'coll'. */
static const char *
first_created(const json_t *answer, const struct plan *plan, const struct group *g,
              char *coll, size_t len)
{
    size_t i;
    json_t *r;
    json_array_foreach(json_object_get(answer, "results"), i, r) {
        const char *op = json_string_value(json_object_get(r, "op"));
        if (i < g->n && op && !strcmp(op, "create")) {
            model_url(subject(&plan->v[g->idx[i]]), true, coll, len);
            return json_string_value(json_object_get(r, "id"));
        }
    }
    return NULL;
}

/* Whether every error of a refused batch is about a VM's placement. */
static bool
only_placement(const json_t *answer)
{
    size_t i;
    json_t *e;
    json_array_foreach(json_object_get(answer, "errors"), i, e) {
        const char *ptr = json_string_value(json_object_get(e, "pointer"));
        const char *type = json_string_value(json_object_get(e, "type"));
        if (!(ptr && strstr(ptr, "/body/placement"))
            && !(type && strstr(type, ":placement-failed"))) {
            return false;
        }
    }
    return i > 0;
}

/* Sends a group as one batch (a dry run when 'dry').  A real run carries
 * an Idempotency-Key of the file, the URL and the body; its answer is
 * checked like a create's (is the first object it made alive?), moving to
 * the next key when a replay names objects that are gone. */
static int
run_batch(struct client *c, const struct spec *spec, const struct plan *plan,
          const struct group *g, bool dry, bool *placement_refused, char *err,
          size_t errlen)
{
    char url[600];
    snprintf(url, sizeof url, "/v1/tenants/%s/networks/%s/batch%s", g->tenant, g->network,
             dry ? "?dry_run=true" : "");
    json_t *body = batch_body(plan, g);
    if (!body) {
        snprintf(err, errlen, "out of memory");
        return ENOMEM;
    }
    int rc = EPROTO;
    snprintf(err, errlen, "POST %s: every Idempotency-Key up to attempt %d answers with "
             "objects that no longer exist", url, MAX_ATTEMPTS);
    for (unsigned int attempt = 1; attempt <= MAX_ATTEMPTS; attempt++) {
        char key[128], coll[600], obj[700];
        apply_idem_key(spec->id, url, body, attempt, key, sizeof key);
        struct client_resp r;
        if ((rc = request(c, "POST", url, body, dry ? NULL : key, &r, err, errlen))) {
            break;
        }
        if (r.status == 422 && placement_refused && only_placement(r.body)) {
            *placement_refused = true;
            client_resp_uninit(&r);
            rc = 0;
            break;
        }
        if (r.status != 200) {
            batch_problem(&r, url, plan, g, err, errlen);
            client_resp_uninit(&r);
            rc = EPROTO;
            break;
        }
        const char *id = dry ? NULL : first_created(r.body, plan, g, coll, sizeof coll);
        long gs = 200;
        if (id) {
            struct client_resp got;
            snprintf(obj, sizeof obj, "%s/%s", coll, id);
            if ((rc = request(c, "GET", obj, NULL, NULL, &got, err, errlen))) {
                client_resp_uninit(&r);
                break;
            }
            if ((gs = got.status) != 200 && gs != 404) {
                client_problem(&got, "GET", obj, err, errlen);
            }
            client_resp_uninit(&got);
        }
        client_resp_uninit(&r);
        rc = gs == 200 ? 0 : EPROTO;
        if (gs != 404) {
            break;
        }
    }
    json_decref(body);
    return rc;
}

/* Sends the pending groups in the order they began, then prints what was
 * done among plan actions [from, to) in the plan's order.  Stops at the
 * first refusal. */
static int
flush(struct client *c, const struct spec *spec, const struct plan *plan,
      struct groups *gs, size_t from, size_t to, FILE *out, char *err, size_t errlen)
{
    int rc = 0;
    size_t sent = 0;
    while (sent < gs->n && !(rc = run_batch(c, spec, plan, &gs->v[sent], false, NULL,
                                            err, errlen))) {
        sent++;
    }
    for (size_t i = from; i < to; i++) {
        for (size_t k = 0; in_network(&plan->v[i]) && k < sent; k++) {
            const struct group *g = &gs->v[k];
            if (!strcmp(g->tenant, subject(&plan->v[i])->tenant)
                && !strcmp(g->network, subject(&plan->v[i])->network)) {
                print_done(out, &plan->v[i]);
            }
        }
    }
    groups_uninit(gs);
    return rc;
}

int
apply_run(struct client *c, const struct spec *spec, const struct plan *plan, FILE *out,
          char *err, size_t errlen)
{
    struct groups gs = {0};
    size_t from = 0;
    int rc = 0;
    for (size_t i = 0; i < plan->n && !rc; i++) {
        const struct plan_action *a = &plan->v[i];
        if (in_network(a)) {
            if (!gs.n) {
                from = i;
            }
            if ((rc = groups_add(&gs, plan, i))) {
                snprintf(err, errlen, "out of memory");
            }
            continue;
        }
        if (gs.n && (rc = flush(c, spec, plan, &gs, from, i, out, err, errlen))) {
            break;
        }
        rc = a->op == PLAN_CREATE ? do_create(c, spec, a, out, err, errlen)
             : a->op == PLAN_UPDATE ? do_update(c, a, out, err, errlen)
             : do_delete(c, a, out, err, errlen);
        fflush(out);
    }
    if (!rc && gs.n) {
        rc = flush(c, spec, plan, &gs, from, plan->n, out, err, errlen);
    }
    groups_uninit(&gs);
    fflush(out);
    return rc;
}

int
apply_check(struct client *c, const struct spec *spec, const struct plan *plan,
            const struct model_set *server, FILE *out, char *err, size_t errlen)
{
    struct groups gs = {0};
    bool placement_moves = false;
    int rc = 0;
    for (size_t i = 0; i < plan->n && !rc; i++) {
        enum model_kind k = subject(&plan->v[i])->kind;
        placement_moves |= k == MK_CLOUD || k == MK_HOST;
        if (in_network(&plan->v[i]) && (rc = groups_add(&gs, plan, i))) {
            snprintf(err, errlen, "out of memory");
        }
    }
    for (size_t k = 0; k < gs.n && !rc; k++) {
        const struct group *g = &gs.v[k];
        bool fresh = !model_set_find(server, MK_NETWORK, g->tenant, NULL, g->network);
        for (size_t i = 0; i < plan->n && !fresh; i++) {
            const struct plan_action *a = &plan->v[i];
            fresh = subject(a)->kind == MK_NETWORK && a->op != PLAN_UPDATE
                    && !strcmp(subject(a)->tenant, g->tenant)
                    && !strcmp(subject(a)->name, g->network);
        }
        bool placement_refused = false;
        if (!fresh) {
            rc = run_batch(c, spec, plan, g, true,
                           placement_moves ? &placement_refused : NULL, err, errlen);
        }
        if (fresh || placement_refused) {
            fprintf(out, "note: network %s/%s: %s\n", g->tenant, g->network,
                    fresh ? "not checked by the server before apply: the network is new"
                    : "placement not checked by the server before apply: the plan "
                      "changes clouds or hosts first");
        }
    }
    groups_uninit(&gs);
    return rc;
}

/* --- waiting --- */

static double
now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double) ts.tv_sec + (double) ts.tv_nsec / 1e9;
}

enum verdict { V_DONE, V_PENDING, V_ERROR };

static enum verdict
judge(const struct model_obj *s, const char **state, const char **detail)
{
    const json_t *st = json_object_get(s->body, "status");
    *state = json_string_value(json_object_get(st, "state"));
    *detail = json_string_value(json_object_get(st, "detail"));
    json_int_t gen = json_integer_value(json_object_get(st, "generation"));
    json_int_t og = json_integer_value(json_object_get(st, "observed_generation"));
    if (!*state) {
        *state = "?";
    }
    if (og != gen) {
        return V_PENDING;
    }
    if (!strcmp(*state, "realized")) {
        return V_DONE;
    }
    return !strcmp(*state, "error") ? V_ERROR : V_PENDING;
}

/* Appends "  kind path: state: detail\n" to err. */
static void
add_line(char *err, size_t errlen, const struct model_obj *d, const char *state,
         const char *detail)
{
    size_t n = strlen(err);
    char path[400];
    if (n + 1 < errlen) {
        snprintf(err + n, errlen - n, "\n  %s %s: %s%s%s", model_kind_name(d->kind),
                 model_path(d, path, sizeof path), state, detail ? ": " : "",
                 detail ? detail : "");
    }
}

static int
wait_loop(struct client *c, const struct spec *spec, double start, double deadline,
          double timeout_s, double *since, char *last, size_t lastlen, FILE *out,
          char *err, size_t errlen)
{
    for (;;) {
        struct model_set srv = {0};
        int rc = fetch_state(c, spec, true, &srv, err, errlen);
        if (rc) {
            model_set_uninit(&srv);
            return rc;
        }
        size_t total = 0, done = 0, errors = 0;
        const struct model_obj *first = NULL;
        const char *first_detail = NULL, *first_state = NULL;
        bool first_error = false;
        for (size_t i = 0; i < spec->objs.n; i++) {
            const struct model_obj *d = &spec->objs.v[i];
            if (!model_kind_has_status(d->kind)) {
                continue;
            }
            total++;
            const struct model_obj *s = model_set_find(&srv, d->kind, d->tenant,
                                                       d->network, d->name);
            const char *state = "missing", *detail = "not on the server";
            enum verdict v = s ? judge(s, &state, &detail) : V_PENDING;
            if (v != V_ERROR) {
                since[i] = 0;
            } else if (!since[i]) {
                since[i] = now_s();
            }
            done += v == V_DONE;
            errors += v == V_ERROR && now_s() - since[i] >= APPLY_ERROR_GRACE_S;
            if (v != V_DONE && (!first || (v == V_ERROR && !first_error))) {
                first = d, first_state = state, first_detail = detail;
                first_error = v == V_ERROR;
            }
        }
        if (errors) {
            snprintf(err, errlen, "%zu object%s failed:", errors, errors == 1 ? "" : "s");
            for (size_t i = 0; i < spec->objs.n; i++) {
                const struct model_obj *d = &spec->objs.v[i];
                const struct model_obj *s = model_kind_has_status(d->kind)
                    ? model_set_find(&srv, d->kind, d->tenant, d->network, d->name) : NULL;
                const char *state, *detail;
                if (s && judge(s, &state, &detail) == V_ERROR && since[i]) {
                    add_line(err, errlen, d, state, detail);
                }
            }
            model_set_uninit(&srv);
            return EPROTO;
        }
        char line[512], path[400];
        if (first) {
            snprintf(line, sizeof line, "waiting: %zu/%zu realized (%s %s: %s%s%s)", done,
                     total, model_kind_name(first->kind),
                     model_path(first, path, sizeof path), first_state,
                     first_detail ? ": " : "", first_detail ? first_detail : "");
        } else {
            snprintf(line, sizeof line, "%zu/%zu realized", done, total);
        }
        if (strcmp(line, last)) {
            fprintf(out, "%s [%.1fs]\n", line, now_s() - start);
            fflush(out);
            snprintf(last, lastlen, "%s", line);
        }
        if (done == total) {
            model_set_uninit(&srv);
            return 0;
        }
        if (now_s() >= deadline) {
            snprintf(err, errlen, "timed out after %.0f s with %zu of %zu objects not "
                     "realized:", timeout_s, total - done, total);
            size_t shown = 0;
            for (size_t i = 0; i < spec->objs.n && shown < 20; i++) {
                const struct model_obj *d = &spec->objs.v[i];
                if (!model_kind_has_status(d->kind)) {
                    continue;
                }
                const struct model_obj *s = model_set_find(&srv, d->kind, d->tenant,
                                                           d->network, d->name);
                const char *state = "missing", *detail = "not on the server";
                if (!s || judge(s, &state, &detail) != V_DONE) {
                    add_line(err, errlen, d, state, detail);
                    shown++;
                }
            }
            model_set_uninit(&srv);
            return ETIMEDOUT;
        }
        model_set_uninit(&srv);
        usleep(300 * 1000);
    }
}

int
apply_wait(struct client *c, const struct spec *spec, double timeout_s, FILE *out,
           char *err, size_t errlen)
{
    double start = now_s(), deadline = start + timeout_s;
    char last[512] = "";
    /* When each declared object was first seen in error (0: it is not). */
    double *since = calloc(spec->objs.n + 1, sizeof *since);
    if (!since) {
        snprintf(err, errlen, "out of memory");
        return ENOMEM;
    }
    int rc = wait_loop(c, spec, start, deadline, timeout_s, since, last, sizeof last, out,
                       err, errlen);
    free(since);
    return rc;
}
