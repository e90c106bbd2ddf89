/* lifecycle.c: skyctl snapshot, stop, start and migrate (lifecycle.h).
 *
 * The API answers each with 202: the change is desired state the
 * reconciler realizes.  migrate polls the migration (GET of its Location,
 * every 200 ms) and prints a line whenever its phase changes:
 *
 *   migration 3f0c...: red/prod/web from aws-fra-h1 (aws-fra) to gcp-iowa-h1 (gcp-iowa)
 *     prepare   2024-05-02T10:00:00.101+00:00
 *     clone     2024-05-02T10:00:00.412+00:00  flows cloned 24
 *     ...
 *     done      ...                            duplicated 530
 *
 * and ends with the terminal phase: done is success, rolled-back and
 * failed are errors carrying the migration's detail. */
#include "tools/skyctl/lifecycle.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define EXIT_USAGE 64

/* "/v1/tenants/T/networks/N/vms/V" + 'tail' from "T/N/V".  False (usage
 * message in err) when 'path' has not three non-empty parts. */
static bool
vm_url(const char *path, const char *tail, char *out, size_t len, char *err,
       size_t errlen)
{
    char t[128], n[128], v[128];
    if (sscanf(path, "%127[^/]/%127[^/]/%127[^/]", t, n, v) != 3
        || strlen(t) + strlen(n) + strlen(v) + 2 != strlen(path)) {
        snprintf(err, errlen, "'%s' is not a VM path TENANT/NETWORK/VM", path);
        return false;
    }
    snprintf(out, len, "/v1/tenants/%s/networks/%s/vms/%s%s", t, n, v, tail);
    return true;
}

static const char *
str(const json_t *o, const char *k)
{
    const char *s = json_string_value(json_object_get(o, k));
    return s ? s : "-";
}

/* POSTs 'body' (may be NULL) to 'url'; on a 202 returns 0 with *out
 * filled, else 1 with the problem in err. */
static int
post(struct client *c, const char *url, const json_t *body, struct client_resp *out,
     char *err, size_t errlen)
{
    if (client_request(c, "POST", url, body, NULL, out, err, errlen)) {
        return 1;
    }
    if (out->status != 202 || !json_is_object(out->body)) {
        client_problem(out, "POST", url, err, errlen);
        client_resp_uninit(out);
        return 1;
    }
    return 0;
}

int
lifecycle_snapshot(struct client *c, const char *path, FILE *out, char *err,
                   size_t errlen)
{
    char url[512];
    struct client_resp r;
    if (!vm_url(path, "/snapshots", url, sizeof url, err, errlen)) {
        return EXIT_USAGE;
    }
    json_t *body = json_object();
    int rc = post(c, url, body, &r, err, errlen);
    json_decref(body);
    if (!rc) {
        fprintf(out, "snapshot %s of %s: %s (%s)\n", str(r.body, "name"), path,
                str(r.body, "state"), str(r.body, "id"));
        client_resp_uninit(&r);
    }
    return rc;
}

int
lifecycle_stop(struct client *c, const char *path, FILE *out, char *err, size_t errlen)
{
    char url[512];
    struct client_resp r;
    if (!vm_url(path, "/stop", url, sizeof url, err, errlen)) {
        return EXIT_USAGE;
    }
    json_t *body = json_object();
    int rc = post(c, url, body, &r, err, errlen);
    json_decref(body);
    if (!rc) {
        fprintf(out, "%s: %s, snapshot %s taken at stop (%s)\n", path,
                str(r.body, "power"), str(r.body, "power_snapshot"),
                r.location ? r.location : "-");
        client_resp_uninit(&r);
    }
    return rc;
}

int
lifecycle_start(struct client *c, const char *path, const char *from, FILE *out,
                char *err, size_t errlen)
{
    char url[512];
    struct client_resp r;
    if (!vm_url(path, "/start", url, sizeof url, err, errlen)) {
        return EXIT_USAGE;
    }
    json_t *body = from ? json_pack("{s:s}", "snapshot", from) : json_object();
    int rc = post(c, url, body, &r, err, errlen);
    json_decref(body);
    if (!rc) {
        fprintf(out, "%s: %s on %s (%s), from snapshot %s\n", path, str(r.body, "power"),
                str(r.body, "host"), str(r.body, "cloud"), str(r.body, "power_snapshot"));
        client_resp_uninit(&r);
    }
    return rc;
}

static double
now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double) ts.tv_sec + ts.tv_nsec / 1e9;
}

/* One progress line for the phase 'm' is in. */
static void
print_phase(FILE *out, const json_t *m)
{
    const char *phase = str(m, "phase");
    const json_t *k = json_object_get(m, "counters");
    const char *detail = json_string_value(json_object_get(m, "detail"));
    fprintf(out, "  %-12s %s  flows cloned %lld, duplicated %lld, to controller %lld%s%s\n",
            phase, str(json_object_get(m, "phase_times"), phase),
            (long long) json_integer_value(json_object_get(k, "flows_cloned")),
            (long long) json_integer_value(json_object_get(k, "duplicated")),
            (long long) json_integer_value(json_object_get(k, "to_controller")),
            detail ? ": " : "", detail ? detail : "");
    fflush(out);
}

static bool
terminal(const char *phase)
{
    return !strcmp(phase, "done") || !strcmp(phase, "rolled-back")
           || !strcmp(phase, "failed");
}

int
lifecycle_migrate(struct client *c, const char *path, const char *to, bool no_wait,
                  double timeout, FILE *out, char *err, size_t errlen)
{
    char url[512];
    const char *eq = to ? strchr(to, '=') : NULL;
    if (!eq || eq[1] == '\0'
        || (strncmp(to, "host=", 5) && strncmp(to, "cloud=", 6))) {
        snprintf(err, errlen, "--to takes host=NAME or cloud=NAME, not '%s'",
                 to ? to : "");
        return EXIT_USAGE;
    }
    if (!vm_url(path, "/migrations", url, sizeof url, err, errlen)) {
        return EXIT_USAGE;
    }
    char key[8];
    snprintf(key, sizeof key, "%.*s", (int) (eq - to), to);
    json_t *body = json_pack("{s:s}", key, eq + 1);
    struct client_resp r;
    int rc = post(c, url, body, &r, err, errlen);
    json_decref(body);
    if (rc) {
        return rc;
    }
    fprintf(out, "migration %s: %s from %s (%s) to %s (%s)\n", str(r.body, "id"), path,
            str(r.body, "from_host"), str(r.body, "from_cloud"), str(r.body, "to_host"),
            str(r.body, "to_cloud"));
    print_phase(out, r.body);
    char *loc = r.location ? strdup(r.location) : NULL;
    char phase[16];
    snprintf(phase, sizeof phase, "%s", str(r.body, "phase"));
    client_resp_uninit(&r);
    if (no_wait || !loc) {
        free(loc);
        return 0;
    }
    double deadline = now_s() + timeout;
    while (!terminal(phase)) {
        if (now_s() > deadline) {
            snprintf(err, errlen, "the migration is still in phase %s after %g s "
                     "(%s)", phase, timeout, loc);
            rc = 1;
            break;
        }
        usleep(200 * 1000);
        if (client_request(c, "GET", loc, NULL, NULL, &r, err, errlen)) {
            rc = 1;
            break;
        }
        if (r.status != 200) {
            client_problem(&r, "GET", loc, err, errlen);
            client_resp_uninit(&r);
            rc = 1;
            break;
        }
        if (strcmp(str(r.body, "phase"), phase)) {
            snprintf(phase, sizeof phase, "%s", str(r.body, "phase"));
            print_phase(out, r.body);
        }
        if (terminal(phase) && strcmp(phase, "done")) {
            const char *detail = json_string_value(json_object_get(r.body, "detail"));
            snprintf(err, errlen, "the migration ended %s%s%s", phase,
                     detail ? ": " : "", detail ? detail : "");
            rc = 1;
        }
        client_resp_uninit(&r);
    }
    free(loc);
    return rc;
}
