/* model.c: kinds, object sets, paths and URLs (see model.h).
 *
 * Sets are small (a file declares tens to a few thousands of objects), so
 * lookups are linear scans; nothing here does I/O. */
#include "tools/skyctl/model.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const struct {
    const char *name, *plural, *collection;
} kinds[MK__N] = {
    [MK_CLOUD] = {"cloud", "clouds", "clouds"},
    [MK_CLOUDLINK] = {"cloud-link", "cloud-links", "cloud-links"},
    [MK_HOST] = {"host", "hosts", "hosts"},
    [MK_TENANT] = {"tenant", "tenants", "tenants"},
    [MK_NETWORK] = {"network", "networks", "networks"},
    [MK_SWITCH] = {"switch", "switches", "switches"},
    [MK_LINK] = {"link", "links", "links"},
    [MK_VM] = {"vm", "vms", "vms"},
};

const char *
model_kind_name(enum model_kind k)
{
    return (unsigned int) k < MK__N ? kinds[k].name : "?";
}

const char *
model_kind_plural(enum model_kind k)
{
    return (unsigned int) k < MK__N ? kinds[k].plural : "?";
}

enum model_kind
model_kind_parse(const char *s)
{
    for (int k = 0; k < MK__N; k++) {
        if (!strcmp(s, kinds[k].name) || !strcmp(s, kinds[k].plural)) {
            return (enum model_kind) k;
        }
    }
    if (!strcmp(s, "cloudlink") || !strcmp(s, "cloudlinks")) {
        return MK_CLOUDLINK;
    }
    return MK__N;
}

bool
model_kind_has_status(enum model_kind k)
{
    return k != MK_CLOUDLINK;
}

static char *
dup_or_null(const char *s)
{
    return s ? strdup(s) : NULL;
}

struct model_obj *
model_set_add(struct model_set *s, enum model_kind kind, const char *tenant,
              const char *network, const char *name, json_t *body)
{
    if (s->n == s->cap) {
        size_t cap = s->cap ? s->cap * 2 : 16;
        struct model_obj *v = realloc(s->v, cap * sizeof *v);
        if (!v) {
            json_decref(body);
            return NULL;
        }
        s->v = v;
        s->cap = cap;
    }
    struct model_obj *o = &s->v[s->n];
    o->kind = kind;
    o->tenant = dup_or_null(tenant);
    o->network = dup_or_null(network);
    o->name = strdup(name);
    o->body = body;
    if (!o->name || (tenant && !o->tenant) || (network && !o->network)) {
        free(o->tenant);
        free(o->network);
        free(o->name);
        json_decref(body);
        return NULL;
    }
    s->n++;
    return o;
}

static bool
same(const char *a, const char *b)
{
    return (!a && !b) || (a && b && !strcmp(a, b));
}

struct model_obj *
model_set_find(const struct model_set *s, enum model_kind kind, const char *tenant,
               const char *network, const char *name)
{
    for (size_t i = 0; i < s->n; i++) {
        struct model_obj *o = &s->v[i];
        if (o->kind == kind && !strcmp(o->name, name) && same(o->tenant, tenant)
            && same(o->network, network)) {
            return o;
        }
    }
    return NULL;
}

void
model_set_uninit(struct model_set *s)
{
    for (size_t i = 0; i < s->n; i++) {
        free(s->v[i].tenant);
        free(s->v[i].network);
        free(s->v[i].name);
        json_decref(s->v[i].body);
    }
    free(s->v);
    s->v = NULL;
    s->n = s->cap = 0;
}

const char *
model_path(const struct model_obj *o, char *buf, size_t len)
{
    if (o->network) {
        snprintf(buf, len, "%s/%s/%s", o->tenant, o->network, o->name);
    } else if (o->tenant) {
        snprintf(buf, len, "%s/%s", o->tenant, o->name);
    } else {
        snprintf(buf, len, "%s", o->name);
    }
    return buf;
}

bool
model_cloudlink_split(const char *name, char *a, char *b, size_t len)
{
    const char *sep = strstr(name, "--");
    if (!sep || sep == name || !sep[2] || strstr(sep + 2, "--")
        || (size_t) (sep - name) >= len || strlen(sep + 2) >= len) {
        return false;
    }
    memcpy(a, name, (size_t) (sep - name));
    a[sep - name] = '\0';
    strcpy(b, sep + 2);
    return true;
}

void
model_cloudlink_ends(const struct model_obj *o, const char **a, const char **b)
{
    *a = json_string_value(json_object_get(o->body, "a"));
    *b = json_string_value(json_object_get(o->body, "b"));
    if (!*a || !*b) {
        *a = json_string_value(json_object_get(o->body, "cloud_a"));
        *b = json_string_value(json_object_get(o->body, "cloud_b"));
    }
}

const char *
model_url(const struct model_obj *o, bool collection, char *buf, size_t len)
{
    if (o->kind == MK_CLOUDLINK) {
        const char *a, *b;
        model_cloudlink_ends(o, &a, &b);
        snprintf(buf, len, "/v1/cloud-links/%s/%s", a ? a : "?", b ? b : "?");
        return buf;
    }
    int n;
    if (o->network) {
        n = snprintf(buf, len, "/v1/tenants/%s/networks/%s/%s", o->tenant, o->network,
                     kinds[o->kind].collection);
    } else if (o->tenant) {
        n = snprintf(buf, len, "/v1/tenants/%s/networks", o->tenant);
    } else {
        n = snprintf(buf, len, "/v1/%s", kinds[o->kind].collection);
    }
    if (!collection && n > 0 && (size_t) n < len) {
        snprintf(buf + n, len - (size_t) n, "/%s", o->name);
    }
    return buf;
}

const char *
model_managed_by(const struct model_obj *o)
{
    json_t *labels = json_object_get(o->body, "labels");
    return json_string_value(json_object_get(labels, MODEL_LABEL));
}
