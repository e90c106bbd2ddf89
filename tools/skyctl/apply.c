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

#include "tools/skyctl/fetch.h"

#define MAX_ATTEMPTS 16
#define TRANSPORT_RETRIES 2

/* FNV-1a, 64 bits, over a NUL-separated sequence of strings. */
static uint64_t
fnv(uint64_t h, const char *s)
{
    for (; *s; s++) {
        h ^= (unsigned char) *s;
        h *= 0x100000001b3ull;
    }
    h ^= 0xff;      /* the separator: no two sequences hash the same text */
    h *= 0x100000001b3ull;
    return h;
}

void
apply_idem_key(const char *file_id, const char *path, const json_t *body,
               unsigned int attempt, char *buf, size_t len)
{
    char *text = body ? json_dumps(body, JSON_COMPACT | JSON_SORT_KEYS) : NULL;
    uint64_t h1 = 0xcbf29ce484222325ull, h2 = 0x84222325cbf29ce4ull;
    const char *parts[] = {file_id, "POST", path, text ? text : ""};
    for (size_t i = 0; i < 4; i++) {
        h1 = fnv(h1, parts[i]);
        h2 = fnv(h2, parts[i]);
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
        fprintf(out, "+ cloud-link %s created\n", path);
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
        fprintf(out, "+ %s %s created\n", model_kind_name(d->kind), path);
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
    char url[512], path[400];
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
    fprintf(out, "~ %s %s updated\n", model_kind_name(a->want->kind),
            model_path(a->want, path, sizeof path));
    return 0;
}

static int
do_delete(struct client *c, const struct plan_action *a, FILE *out, char *err,
          size_t errlen)
{
    char url[512], path[400];
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
    fprintf(out, "- %s %s deleted\n", model_kind_name(a->have->kind),
            model_path(a->have, path, sizeof path));
    return 0;
}

int
apply_run(struct client *c, const struct spec *spec, const struct plan *plan, FILE *out,
          char *err, size_t errlen)
{
    for (size_t i = 0; i < plan->n; i++) {
        const struct plan_action *a = &plan->v[i];
        int rc = a->op == PLAN_CREATE ? do_create(c, spec, a, out, err, errlen)
                 : a->op == PLAN_UPDATE ? do_update(c, a, out, err, errlen)
                 : do_delete(c, a, out, err, errlen);
        if (rc) {
            return rc;
        }
        fflush(out);
    }
    return 0;
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
