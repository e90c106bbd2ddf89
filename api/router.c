/* router.c: the one table that maps URLs to handlers.
 *
 * Patterns are literal segments and "{name}" placeholders matching exactly
 * one non-empty segment; a final "{name*}" matches the rest of the path
 * (one or more segments, possibly empty: "/ui/" matches "/ui/{path*}").  Matching is a linear scan: the table is small and
 * the scan touches only static data.  A path that matches some pattern under
 * another method yields 405 with the Allow list; one that matches none yields
 * 404.  HEAD takes the GET route; the Allow list names HEAD beside GET and
 * always OPTIONS, which http.c answers for every known path.  The OpenAPI
 * document must list exactly these operations
 * (tests/integration/test_openapi.py compares `skyvisord --list-routes`). */
#include <stdio.h>
#include <string.h>

#include "api/api.h"

#define TN "/v1/tenants/{tenant}/networks/{network}"

const struct api_route router_routes[] = {
    {API_GET, "/healthz", ACCESS_PUBLIC, health_healthz},
    {API_GET, "/readyz", ACCESS_PUBLIC, health_readyz},
    {API_GET, "/metrics", ACCESS_PUBLIC, health_metrics},
    {API_GET, "/openapi.json", ACCESS_PUBLIC, health_openapi},
    {API_GET, "/ui/{path*}", ACCESS_PUBLIC, web_static},

    {API_GET, "/v1/clouds", ACCESS_ADMIN, clouds_list},
    {API_POST, "/v1/clouds", ACCESS_ADMIN, clouds_create},
    {API_GET, "/v1/clouds/{cloud}", ACCESS_ADMIN, clouds_get},
    {API_PATCH, "/v1/clouds/{cloud}", ACCESS_ADMIN, clouds_patch},
    {API_DELETE, "/v1/clouds/{cloud}", ACCESS_ADMIN, clouds_delete},

    {API_GET, "/v1/cloud-links", ACCESS_ADMIN, cloudlinks_list},
    {API_GET, "/v1/cloud-links/{cloud_a}/{cloud_b}", ACCESS_ADMIN, cloudlinks_get},
    {API_PUT, "/v1/cloud-links/{cloud_a}/{cloud_b}", ACCESS_ADMIN, cloudlinks_put},
    {API_DELETE, "/v1/cloud-links/{cloud_a}/{cloud_b}", ACCESS_ADMIN, cloudlinks_delete},

    {API_GET, "/v1/topology", ACCESS_ADMIN, topology_physical},

    {API_GET, "/v1/audit", ACCESS_ADMIN, audit_list},

    {API_GET, "/v1/instances", ACCESS_ADMIN, instances_list},

    {API_GET, "/v1/hosts", ACCESS_ADMIN, hosts_list},
    {API_POST, "/v1/hosts", ACCESS_ADMIN, hosts_create},
    {API_GET, "/v1/hosts/{host}", ACCESS_ADMIN, hosts_get},
    {API_PATCH, "/v1/hosts/{host}", ACCESS_ADMIN, hosts_patch},
    {API_DELETE, "/v1/hosts/{host}", ACCESS_ADMIN, hosts_delete},

    {API_GET, "/v1/tenants", ACCESS_ADMIN, tenants_list},
    {API_POST, "/v1/tenants", ACCESS_ADMIN, tenants_create},
    {API_GET, "/v1/tenants/{tenant}", ACCESS_TENANT, tenants_get},
    {API_PATCH, "/v1/tenants/{tenant}", ACCESS_ADMIN, tenants_patch},
    {API_DELETE, "/v1/tenants/{tenant}", ACCESS_ADMIN, tenants_delete},

    {API_GET, "/v1/tenants/{tenant}/tokens", ACCESS_TENANT, tokens_list},
    {API_POST, "/v1/tenants/{tenant}/tokens", ACCESS_TENANT, tokens_create},
    {API_GET, "/v1/tenants/{tenant}/tokens/{token}", ACCESS_TENANT, tokens_get},
    {API_DELETE, "/v1/tenants/{tenant}/tokens/{token}", ACCESS_TENANT, tokens_delete},

    {API_GET, "/v1/tenants/{tenant}/networks", ACCESS_TENANT, networks_list},
    {API_POST, "/v1/tenants/{tenant}/networks", ACCESS_TENANT, networks_create},
    {API_GET, TN, ACCESS_TENANT, networks_get},
    {API_PATCH, TN, ACCESS_TENANT, networks_patch},
    {API_DELETE, TN, ACCESS_TENANT, networks_delete},
    {API_GET, TN "/status", ACCESS_TENANT, networks_status},
    {API_GET, TN "/topology", ACCESS_TENANT, topology_network},

    {API_GET, TN "/switches", ACCESS_TENANT, switches_list},
    {API_POST, TN "/switches", ACCESS_TENANT, switches_create},
    {API_GET, TN "/switches/{switch}", ACCESS_TENANT, switches_get},
    {API_PATCH, TN "/switches/{switch}", ACCESS_TENANT, switches_patch},
    {API_DELETE, TN "/switches/{switch}", ACCESS_TENANT, switches_delete},

    {API_GET, TN "/links", ACCESS_TENANT, links_list},
    {API_POST, TN "/links", ACCESS_TENANT, links_create},
    {API_GET, TN "/links/{link}", ACCESS_TENANT, links_get},
    {API_PATCH, TN "/links/{link}", ACCESS_TENANT, links_patch},
    {API_DELETE, TN "/links/{link}", ACCESS_TENANT, links_delete},

    {API_GET, TN "/vms", ACCESS_TENANT, vms_list},
    {API_POST, TN "/vms", ACCESS_TENANT, vms_create},
    {API_GET, TN "/vms/{vm}", ACCESS_TENANT, vms_get},
    {API_PATCH, TN "/vms/{vm}", ACCESS_TENANT, vms_patch},
    {API_DELETE, TN "/vms/{vm}", ACCESS_TENANT, vms_delete},
    {API_POST, TN "/vms/{vm}/stop", ACCESS_TENANT, vms_stop},
    {API_POST, TN "/vms/{vm}/start", ACCESS_TENANT, vms_start},
    {API_GET, TN "/vms/{vm}/stats", ACCESS_TENANT, vms_stats},
    {API_GET, TN "/vms/{vm}/snapshots", ACCESS_TENANT, snapshots_list},
    {API_POST, TN "/vms/{vm}/snapshots", ACCESS_TENANT, snapshots_create},
    {API_GET, TN "/vms/{vm}/snapshots/{snapshot}", ACCESS_TENANT, snapshots_get},
    {API_DELETE, TN "/vms/{vm}/snapshots/{snapshot}", ACCESS_TENANT, snapshots_delete},
    {API_GET, TN "/vms/{vm}/migrations", ACCESS_TENANT, vm_migrations_list},
    {API_POST, TN "/vms/{vm}/migrations", ACCESS_TENANT, vm_migrations_create},
    {API_GET, TN "/vms/{vm}/migrations/{migration}", ACCESS_TENANT, vm_migrations_get},
    {API_DELETE, TN "/vms/{vm}/migrations/{migration}", ACCESS_TENANT,
     vm_migrations_delete},
    {API_POST, TN "/vms/{vm}/migrations/{migration}/activate", ACCESS_TENANT,
     vm_migrations_activate},

    {API_POST, TN "/batch", ACCESS_TENANT, batch_post},
};
const size_t router_n_routes = sizeof router_routes / sizeof router_routes[0];

/* The routes that take a body larger than API_MAX_BODY. */
static const struct {
    api_handler *handler;
    size_t max_body;
} body_limits[] = {
    {batch_post, BATCH_MAX_BODY},
};

static const char *const method_names[API__N_METHODS] = {
    "GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS",
};

const char *
router_method_name(enum api_method m)
{
    return (unsigned int) m < API__N_METHODS ? method_names[m] : "?";
}

/* Matches 'path' against 'pattern'; on success stores pointers to the
 * parameter segments in 'seg_buf' (a writable copy of the path, split in
 * place) into params[]. */
static bool
match_pattern(const char *pattern, const char *path, const char **params,
              size_t *n_params, char *seg_buf, size_t seg_buf_len)
{
    size_t n = 0, used = 0;
    const char *p = pattern, *u = path;
    while (*p && *u) {
        if (*p != '/' || *u != '/') {
            return false;
        }
        p++;
        u++;
        const char *pe = strchr(p, '/'), *ue = strchr(u, '/');
        size_t plen = pe ? (size_t) (pe - p) : strlen(p);
        size_t ulen = ue ? (size_t) (ue - u) : strlen(u);
        if (plen >= 3 && p[0] == '{' && p[plen - 2] == '*' && !p[plen]) {
            /* Rest-of-path placeholder: takes everything that is left. */
            ulen = strlen(u);
            if (n == API_MAX_PARAMS || used + ulen + 1 > seg_buf_len) {
                return false;
            }
            memcpy(seg_buf + used, u, ulen + 1);
            params[n++] = seg_buf + used;
            used += ulen + 1;
        } else if (plen >= 2 && p[0] == '{') {
            if (ulen == 0 || n == API_MAX_PARAMS || used + ulen + 1 > seg_buf_len) {
                return false;
            }
            memcpy(seg_buf + used, u, ulen);
            seg_buf[used + ulen] = '\0';
            params[n++] = seg_buf + used;
            used += ulen + 1;
        } else if (plen != ulen || memcmp(p, u, plen)) {
            return false;
        }
        p += plen;
        u += ulen;
    }
    if (*p || *u) {
        return false;
    }
    *n_params = n;
    return true;
}

/* Appends a method to the Allow list being built in allow[0..*off). */
static void
allow_add(char *allow, size_t allow_len, size_t *off, enum api_method m)
{
    int w = snprintf(allow + *off, allow_len - *off, "%s%s", *off ? ", " : "",
                     router_method_name(m));
    if (w > 0 && (size_t) w < allow_len - *off) {
        *off += (size_t) w;
    }
}

enum sv_error
router_match(struct api_req *req, char *allow, size_t allow_len)
{
    static __thread char seg_buf[1024];
    char scratch[1024];
    const char *params[API_MAX_PARAMS];
    size_t n_params;
    size_t off = 0;
    bool path_known = false;
    enum api_method want = req->method == API_HEAD ? API_GET : req->method;
    allow[0] = '\0';
    for (size_t i = 0; i < router_n_routes; i++) {
        const struct api_route *r = &router_routes[i];
        if (!match_pattern(r->pattern, req->url, params, &n_params, scratch,
                           sizeof scratch)) {
            continue;
        }
        path_known = true;
        if (r->method == want) {
            memcpy(seg_buf, scratch, sizeof scratch);
            for (size_t k = 0; k < n_params; k++) {
                req->params[k] = seg_buf + (params[k] - scratch);
            }
            req->n_params = n_params;
            req->route = r;
            req->route_index = (unsigned int) i;
            return SVE_OK;
        }
        allow_add(allow, allow_len, &off, r->method);
        if (r->method == API_GET) {
            allow_add(allow, allow_len, &off, API_HEAD);
        }
    }
    if (!path_known) {
        return SVE_NO_ROUTE;
    }
    allow_add(allow, allow_len, &off, API_OPTIONS);
    return SVE_METHOD_NOT_ALLOWED;
}

void
router_list(void *out_file)
{
    for (size_t i = 0; i < router_n_routes; i++) {
        fprintf(out_file, "%s %s\n", router_method_name(router_routes[i].method),
                router_routes[i].pattern);
    }
}

size_t
router_max_body(enum api_method method, const char *path)
{
    struct api_req probe = {.method = method, .url = path};
    char allow[64];
    if (router_match(&probe, allow, sizeof allow) != SVE_OK) {
        return API_MAX_BODY;
    }
    for (size_t i = 0; i < sizeof body_limits / sizeof body_limits[0]; i++) {
        if (body_limits[i].handler == probe.route->handler) {
            return body_limits[i].max_body;
        }
    }
    return API_MAX_BODY;
}
