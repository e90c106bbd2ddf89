/* vms.c: .../networks/{network}/vms.  A VM is a tenant endpoint: its MAC and
 * IP (inside the network's subnet), the virtual switch it plugs into, and a
 * placement resolved here, once, to a host with room (core/placement.c).
 * A PATCH that leaves the placement as it was keeps the VM where it is. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/crud.h"
#include "core/placement.h"
#include "core/validate.h"

static const struct crud_field fields[] = {
    {"id", CT_STRING, CF_READONLY},
    {"name", CT_STRING, CF_REQUIRED},
    {"network", CT_STRING, CF_READONLY},
    {"mac", CT_STRING, CF_REQUIRED},
    {"ip", CT_STRING, CF_REQUIRED},
    {"switch", CT_STRING, CF_REQUIRED},
    {"iface", CT_STRING, CF_NULLABLE},
    {"placement", CT_OBJECT, CF_REQUIRED},
    {"host", CT_STRING, CF_READONLY},
    {"host_id", CT_STRING, CF_READONLY},
    {"cloud", CT_STRING, CF_READONLY},
    {"labels", CT_LABELS, 0},
    {"status", CT_OBJECT, CF_READONLY},
    {"created_at", CT_STRING, CF_READONLY},
    {"updated_at", CT_STRING, CF_READONLY},
    {NULL, 0, 0},
};

#define MAX_LIST 64

/* Reads a placement object into 'req' (pointers into 'p').  Writes the
 * problem and returns false when it is malformed. */
static bool
parse_placement(struct crud_ctx *ctx, const json_t *p, struct placement_req *req,
                const char **jur, const char **avoid)
{
    const char *k;
    json_t *v;
    size_t n_keys = json_object_size(p);
    memset(req, 0, sizeof *req);
    json_t *host = json_object_get(p, "host"), *cloud = json_object_get(p, "cloud");
    json_t *jl = json_object_get(p, "jurisdiction");
    json_t *al = json_object_get(p, "avoid_clouds");
    json_object_foreach((json_t *) p, k, v) {
        if (strcmp(k, "host") && strcmp(k, "cloud") && strcmp(k, "jurisdiction")
            && strcmp(k, "avoid_clouds")) {
            return crud_fail(ctx, SVE_UNKNOWN_FIELD, "placement", "placement has "
                             "no field '%s'; use host, cloud, or jurisdiction and "
                             "avoid_clouds", k);
        }
    }
    if (host || cloud) {
        if (n_keys != 1) {
            return crud_fail(ctx, SVE_INVALID_VALUE, "placement", "placement is "
                             "exactly one of {host}, {cloud}, or constraints "
                             "{jurisdiction, avoid_clouds}");
        }
        json_t *t = host ? host : cloud;
        const char *field = host ? "placement.host" : "placement.cloud";
        if (!json_is_string(t)) {
            return crud_fail(ctx, SVE_WRONG_TYPE, field, "'%s' must be a string",
                             field);
        }
        req->kind = host ? PLACEMENT_HOST : PLACEMENT_CLOUD;
        req->target = json_string_value(t);
        return true;
    }
    if (!n_keys) {
        return crud_fail(ctx, SVE_INVALID_VALUE, "placement", "placement is empty; "
                         "give host, cloud, or jurisdiction/avoid_clouds");
    }
    req->kind = PLACEMENT_CONSTRAINTS;
    const struct {
        json_t *list;
        const char *field;
        const char **out;
        size_t *n;
    } lists[] = {
        {jl, "placement.jurisdiction", jur, &req->n_jurisdictions},
        {al, "placement.avoid_clouds", avoid, &req->n_avoid_clouds},
    };
    for (size_t l = 0; l < 2; l++) {
        if (!lists[l].list) {
            continue;
        }
        if (!json_is_array(lists[l].list) || json_array_size(lists[l].list) > MAX_LIST) {
            return crud_fail(ctx, SVE_WRONG_TYPE, lists[l].field, "'%s' must be an "
                             "array of at most %d strings", lists[l].field, MAX_LIST);
        }
        size_t i;
        json_array_foreach(lists[l].list, i, v) {
            const char *s = json_string_value(v);
            if (!s || (l == 0 && !validate_country(s))) {
                return crud_fail(ctx, SVE_INVALID_VALUE, lists[l].field, "'%s' "
                                 "holds %s", lists[l].field,
                                 l == 0 ? "ISO 3166-1 alpha-2 codes such as DE"
                                        : "cloud names or ids");
            }
            lists[l].out[i] = s;
        }
        *lists[l].n = json_array_size(lists[l].list);
    }
    req->jurisdictions = jl ? jur : NULL;
    req->avoid_clouds = avoid;
    return true;
}

/* Resolves the placement to a host id (under the placement lock, which the
 * engine holds for VM writes). */
static bool
place(struct crud_ctx *ctx, const struct placement_req *preq, char host_id[37])
{
    PGresult *res;
    enum db_qs qs = store_placement_candidates(ctx->req->db, &res);
    if (qs < 0) {
        crud_db_problem(ctx->req, ctx->resp, qs, "host", NULL);
        return false;
    }
    int n = PQntuples(res);
    struct placement_host *hosts = calloc((size_t) n + 1, sizeof *hosts);
    if (!hosts) {
        PQclear(res);
        return crud_fail(ctx, SVE_INTERNAL, NULL, "out of memory");
    }
    for (int i = 0; i < n; i++) {
        hosts[i] = (struct placement_host){
            .host_id = PQgetvalue(res, i, 0),
            .host_name = PQgetvalue(res, i, 1),
            .cloud_id = PQgetvalue(res, i, 2),
            .cloud_name = PQgetvalue(res, i, 3),
            .jurisdiction = PQgetvalue(res, i, 4),
            .gateway = PQgetvalue(res, i, 5)[0] == 't',
            .capacity = (unsigned int) atoi(PQgetvalue(res, i, 6)),
            .used = (unsigned int) atoi(PQgetvalue(res, i, 7)),
            .cost_per_hour = atof(PQgetvalue(res, i, 8)),
        };
    }
    size_t chosen;
    char reason[512];
    int error = placement_choose(preq, hosts, (size_t) n, &chosen, reason,
                                 sizeof reason);
    bool ok = !error;
    if (ok) {
        snprintf(host_id, 37, "%s", hosts[chosen].host_id);
    } else if (error == ENOENT && preq->kind != PLACEMENT_CONSTRAINTS) {
        crud_fail(ctx, SVE_INVALID_VALUE,
                  preq->kind == PLACEMENT_HOST ? "placement.host" : "placement.cloud",
                  "%s", reason);
    } else {
        crud_fail(ctx, SVE_PLACEMENT_FAILED, "placement", "%s", reason);
    }
    free(hosts);
    PQclear(res);
    return ok;
}

static bool
validate(struct crud_ctx *ctx, json_t *obj)
{
    if (!crud_valid_name(ctx, obj)) {
        return false;
    }
    char mac[18];
    if (!validate_mac(crud_str(obj, "mac"), NULL, mac)) {
        return crud_fail(ctx, SVE_INVALID_VALUE, "mac", "mac must be a unicast, "
                         "non-zero MAC address such as 02:00:00:00:00:01");
    }
    json_object_set_new(obj, "mac", json_string(mac));
    uint32_t ip, net;
    unsigned int len;
    const char *subnet = crud_str(ctx->parent, "subnet");
    if (!validate_ipv4(crud_str(obj, "ip"), &ip)) {
        return crud_fail(ctx, SVE_INVALID_VALUE, "ip", "ip must be an IPv4 address");
    }
    if (!subnet || !validate_cidr(subnet, &net, &len)
        || !validate_ip_in_subnet(ip, net, len)) {
        return crud_fail(ctx, SVE_INVALID_VALUE, "ip", "ip must be a host address "
                         "of the network's subnet %s", subnet ? subnet : "?");
    }
    const char *iface = crud_str(obj, "iface");
    if (iface && !validate_ifname(iface)) {
        return crud_fail(ctx, SVE_INVALID_VALUE, "iface", "iface must be 1-15 "
                         "characters of A-Z a-z 0-9 _ . -");
    }
    char switch_id[37];
    if (!crud_resolve(ctx, &store_switches, ctx->scope, crud_str(obj, "switch"),
                      "switch", switch_id)) {
        return false;
    }
    json_object_set_new(obj, "_switch_id", json_string(switch_id));

    json_t *p = json_object_get(obj, "placement");
    struct placement_req preq;
    const char *jur[MAX_LIST], *avoid[MAX_LIST];
    if (!parse_placement(ctx, p, &preq, jur, avoid)) {
        return false;
    }
    char host_id[37];
    if (ctx->current && json_equal(p, json_object_get(ctx->current, "placement"))) {
        snprintf(host_id, sizeof host_id, "%s", crud_str(ctx->current, "host_id"));
    } else if (!place(ctx, &preq, host_id)) {
        return false;
    }
    json_object_set_new(obj, "_host_id", json_string(host_id));
    return true;
}

const struct crud_res crud_vms = {
    .store = &store_vms,
    .fields = fields,
    .parent = &crud_networks,
    .kind = "vm",
    .validate = validate,
};

void vms_list(struct api_req *q, struct api_resp *r) { crud_list(q, r, &crud_vms); }
void vms_create(struct api_req *q, struct api_resp *r) { crud_create(q, r, &crud_vms); }
void vms_get(struct api_req *q, struct api_resp *r) { crud_get(q, r, &crud_vms); }
void vms_patch(struct api_req *q, struct api_resp *r) { crud_patch(q, r, &crud_vms); }
void vms_delete(struct api_req *q, struct api_resp *r) { crud_delete(q, r, &crud_vms); }
