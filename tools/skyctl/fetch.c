/* fetch.c: reads the server's objects (see fetch.h).
 *
 * One list request per collection, every page of it: 4 for the top-level
 * kinds, then 1 per tenant and 3 per network.  Cloud links are named
 * "A--B" with their two clouds in strcmp order, as spec.c names them. */
#include "tools/skyctl/fetch.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

static int
add_items(struct model_set *out, enum model_kind kind, const char *tenant,
          const char *network, json_t *items, char *err, size_t errlen)
{
    size_t i;
    json_t *it;
    json_array_foreach(items, i, it) {
        char name[300];
        const char *n = json_string_value(json_object_get(it, "name"));
        if (kind == MK_CLOUDLINK) {
            const char *a = json_string_value(json_object_get(it, "cloud_a"));
            const char *b = json_string_value(json_object_get(it, "cloud_b"));
            if (!a || !b) {
                continue;
            }
            /* Sorted as the file's names are, whatever the server's
             * collation. */
            if (strcmp(a, b) > 0) {
                const char *t = a;
                a = b;
                b = t;
            }
            snprintf(name, sizeof name, "%s--%s", a, b);
            n = name;
        }
        if (!n) {
            continue;
        }
        if (!model_set_add(out, kind, tenant, network, n, json_incref(it))) {
            snprintf(err, errlen, "out of memory");
            return ENOMEM;
        }
    }
    return 0;
}

static int
list_into(struct client *c, const char *path, struct model_set *out, enum model_kind kind,
          const char *tenant, const char *network, char *err, size_t errlen)
{
    json_t *items;
    int rc = client_list(c, path, &items, err, errlen);
    if (!rc) {
        rc = add_items(out, kind, tenant, network, items, err, errlen);
        json_decref(items);
    }
    return rc;
}

static bool
wanted_tenant(const struct spec *spec, const json_t *t)
{
    if (!spec) {
        return true;
    }
    const char *name = json_string_value(json_object_get(t, "name"));
    const char *mark = json_string_value(json_object_get(json_object_get(t, "labels"),
                                                         MODEL_LABEL));
    return (name && model_set_find(&spec->objs, MK_TENANT, NULL, NULL, name))
           || (mark && !strcmp(mark, spec->id));
}

int
fetch_state(struct client *c, const struct spec *spec, bool deep, struct model_set *out,
            char *err, size_t errlen)
{
    int rc;
    if ((rc = list_into(c, "/v1/clouds", out, MK_CLOUD, NULL, NULL, err, errlen))
        || (rc = list_into(c, "/v1/cloud-links", out, MK_CLOUDLINK, NULL, NULL, err,
                           errlen))
        || (rc = list_into(c, "/v1/hosts", out, MK_HOST, NULL, NULL, err, errlen))) {
        return rc;
    }
    json_t *tenants;
    if ((rc = client_list(c, "/v1/tenants", &tenants, err, errlen))) {
        return rc;
    }
    size_t i;
    json_t *t;
    json_array_foreach(tenants, i, t) {
        const char *tn = json_string_value(json_object_get(t, "name"));
        if (!tn || !wanted_tenant(spec, t)) {
            continue;
        }
        if (!model_set_add(out, MK_TENANT, NULL, NULL, tn, json_incref(t))) {
            snprintf(err, errlen, "out of memory");
            rc = ENOMEM;
            break;
        }
        if (!deep) {
            continue;
        }
        char path[512];
        json_t *nets;
        snprintf(path, sizeof path, "/v1/tenants/%s/networks", tn);
        if ((rc = client_list(c, path, &nets, err, errlen))) {
            break;
        }
        rc = add_items(out, MK_NETWORK, tn, NULL, nets, err, errlen);
        size_t j;
        json_t *n;
        json_array_foreach(nets, j, n) {
            const char *nn = json_string_value(json_object_get(n, "name"));
            if (rc || !nn) {
                continue;
            }
            static const struct {
                const char *coll;
                enum model_kind kind;
            } subs[] = {{"switches", MK_SWITCH}, {"links", MK_LINK}, {"vms", MK_VM}};
            for (size_t k = 0; k < 3 && !rc; k++) {
                snprintf(path, sizeof path, "/v1/tenants/%s/networks/%s/%s", tn, nn,
                         subs[k].coll);
                rc = list_into(c, path, out, subs[k].kind, tn, nn, err, errlen);
            }
        }
        json_decref(nets);
        if (rc) {
            break;
        }
    }
    json_decref(tenants);
    return rc;
}
