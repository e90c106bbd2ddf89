/* placement.c: see placement.h for the policy. */
#include "core/placement.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

static bool
matches(const char *key, const char *id, const char *name)
{
    return !strcmp(key, id) || !strcmp(key, name);
}

static bool
in_list(const char *const *list, size_t n, const char *id, const char *name)
{
    for (size_t i = 0; i < n; i++) {
        if (matches(list[i], id, name)) {
            return true;
        }
    }
    return false;
}

static bool
eligible(const struct placement_req *req, const struct placement_host *h)
{
    switch (req->kind) {
    case PLACEMENT_HOST:
        return matches(req->target, h->host_id, h->host_name);
    case PLACEMENT_CLOUD:
        return !h->gateway && matches(req->target, h->cloud_id, h->cloud_name);
    case PLACEMENT_CONSTRAINTS:
        if (h->gateway) {
            return false;
        }
        if (req->jurisdictions) {
            bool ok = false;
            for (size_t i = 0; i < req->n_jurisdictions && !ok; i++) {
                ok = !strcmp(req->jurisdictions[i], h->jurisdiction);
            }
            if (!ok) {
                return false;
            }
        }
        return !in_list(req->avoid_clouds, req->n_avoid_clouds, h->cloud_id,
                        h->cloud_name);
    }
    return false;
}

/* True if 'a' is a better choice than 'b'.  Load is compared as the ratio
 * used/capacity by cross-multiplication (no floating point rounding). */
static bool
better(const struct placement_req *req, const struct placement_host *a,
       const struct placement_host *b)
{
    if (req->kind == PLACEMENT_CONSTRAINTS && a->cost_per_hour != b->cost_per_hour) {
        return a->cost_per_hour < b->cost_per_hour;
    }
    unsigned long long la = (unsigned long long) a->used * b->capacity;
    unsigned long long lb = (unsigned long long) b->used * a->capacity;
    if (la != lb) {
        return la < lb;
    }
    return strcmp(a->host_name, b->host_name) < 0;
}

static void
describe(const struct placement_req *req, char *buf, size_t len)
{
    switch (req->kind) {
    case PLACEMENT_HOST:
        snprintf(buf, len, "host '%s'", req->target);
        break;
    case PLACEMENT_CLOUD:
        snprintf(buf, len, "worker hosts of cloud '%s'", req->target);
        break;
    case PLACEMENT_CONSTRAINTS: {
        size_t off = (size_t) snprintf(buf, len, "worker hosts");
        if (req->jurisdictions && off < len) {
            off += (size_t) snprintf(buf + off, len - off, " in jurisdiction");
            for (size_t i = 0; i < req->n_jurisdictions && off < len; i++) {
                off += (size_t) snprintf(buf + off, len - off, "%s%s",
                                         i ? ", " : " ", req->jurisdictions[i]);
            }
        }
        if (req->n_avoid_clouds && off < len) {
            off += (size_t) snprintf(buf + off, len - off, " outside cloud");
            for (size_t i = 0; i < req->n_avoid_clouds && off < len; i++) {
                off += (size_t) snprintf(buf + off, len - off, "%s%s",
                                         i ? ", " : " ", req->avoid_clouds[i]);
            }
        }
        break;
    }
    }
}

int
placement_choose(const struct placement_req *req,
                 const struct placement_host *hosts, size_t n, size_t *chosen,
                 char *reason, size_t reason_len)
{
    size_t matched = 0, best = n;
    for (size_t i = 0; i < n; i++) {
        const struct placement_host *h = &hosts[i];
        if (!eligible(req, h)) {
            continue;
        }
        matched++;
        if (h->used >= h->capacity) {
            continue;
        }
        if (best == n || better(req, h, &hosts[best])) {
            best = i;
        }
    }
    if (best < n) {
        *chosen = best;
        if (reason_len) {
            reason[0] = '\0';
        }
        return 0;
    }
    char what[256];
    describe(req, what, sizeof what);
    if (!matched) {
        snprintf(reason, reason_len, "no %s", what);
        return ENOENT;
    }
    snprintf(reason, reason_len, "all %zu %s are at capacity", matched, what);
    return ENOSPC;
}
