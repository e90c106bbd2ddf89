/* vms.c: .../networks/{network}/vms.  A VM is a tenant endpoint: its MAC and
 * IP (inside the network's subnet), the virtual switch it plugs into, and a
 * placement resolved here, once, to a host with room (core/placement.c).
 * A PATCH that leaves the placement as it was keeps the VM where it is; while
 * the VM migrates, a PATCH of its placement, MAC, IP or switch is a 409 and
 * its DELETE too (a trigger refuses it: migrations/006).  rate_mbps and
 * burst_kb (both nullable) limit what the VM sends, policed by a meter at
 * its ingress edge (migrations/010). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/vms.h"
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
    {"rate_mbps", CT_INTEGER, CF_NULLABLE},
    {"burst_kb", CT_INTEGER, CF_NULLABLE},
    {"host", CT_STRING, CF_READONLY},
    {"host_id", CT_STRING, CF_READONLY},
    {"cloud", CT_STRING, CF_READONLY},
    {"power", CT_STRING, CF_READONLY},
    {"power_snapshot", CT_STRING, CF_READONLY},
    {"power_changed_at", CT_STRING, CF_READONLY},
    {"migration", CT_OBJECT, CF_READONLY},
    {"labels", CT_LABELS, 0},
    {"status", CT_OBJECT, CF_READONLY},
    {"created_at", CT_STRING, CF_READONLY},
    {"updated_at", CT_STRING, CF_READONLY},
    {NULL, 0, 0},
};

bool
vms_parse_placement(struct crud_ctx *ctx, const json_t *p, const char *prefix,
                    struct placement_req *req, const char **jur, const char **avoid)
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
            return crud_fail(ctx, SVE_UNKNOWN_FIELD, prefix[0] ? "placement" : k,
                             "%s has no field '%s'; use host, cloud, or "
                             "jurisdiction and avoid_clouds",
                             prefix[0] ? "placement" : "the target", k);
        }
    }
    if (host || cloud) {
        if (n_keys != 1) {
            return crud_fail(ctx, SVE_INVALID_VALUE, prefix[0] ? "placement" : NULL,
                             "%s is exactly one of {host}, {cloud}, or constraints "
                             "{jurisdiction, avoid_clouds}",
                             prefix[0] ? "placement" : "the target");
        }
        json_t *t = host ? host : cloud;
        char field[48];
        snprintf(field, sizeof field, "%s%s", prefix, host ? "host" : "cloud");
        if (!json_is_string(t)) {
            return crud_fail(ctx, SVE_WRONG_TYPE, field, "'%s' must be a string",
                             field);
        }
        req->kind = host ? PLACEMENT_HOST : PLACEMENT_CLOUD;
        req->target = json_string_value(t);
        return true;
    }
    if (!n_keys) {
        return crud_fail(ctx, SVE_INVALID_VALUE, prefix[0] ? "placement" : NULL,
                         "%s is empty; give host, cloud, or "
                         "jurisdiction/avoid_clouds",
                         prefix[0] ? "placement" : "the target");
    }
    req->kind = PLACEMENT_CONSTRAINTS;
    char jf[48], af[48];
    snprintf(jf, sizeof jf, "%sjurisdiction", prefix);
    snprintf(af, sizeof af, "%savoid_clouds", prefix);
    const struct {
        json_t *list;
        const char *field;
        const char **out;
        size_t *n;
    } lists[] = {
        {jl, jf, jur, &req->n_jurisdictions},
        {al, af, avoid, &req->n_avoid_clouds},
    };
    for (size_t l = 0; l < 2; l++) {
        if (!lists[l].list) {
            continue;
        }
        if (!json_is_array(lists[l].list)
            || json_array_size(lists[l].list) > VMS_MAX_LIST) {
            return crud_fail(ctx, SVE_WRONG_TYPE, lists[l].field, "'%s' must be an "
                             "array of at most %d strings", lists[l].field,
                             VMS_MAX_LIST);
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

/* True if host 'h' is the one 'key' (an id or a name) names. */
static bool
host_is(const struct placement_host *h, const char *key)
{
    return key && (!strcmp(h->host_id, key) || !strcmp(h->host_name, key));
}

struct vms_placing {
    struct store_candidate *cand;   /* owned: the rows 'hosts' points into */
    struct placement_host *hosts;   /* owned; NULL: not loaded */
    size_t n;
    size_t pending;                 /* the host the operation in progress
                                     * chose, n: none */
};

struct vms_placing *
vms_placing_create(void)
{
    return calloc(1, sizeof(struct vms_placing));
}

void
vms_placing_forget(struct vms_placing *pl)
{
    if (pl) {
        free(pl->hosts);
        free(pl->cand);
        memset(pl, 0, sizeof *pl);
    }
}

void
vms_placing_destroy(struct vms_placing *pl)
{
    vms_placing_forget(pl);
    free(pl);
}

void
vms_placing_settle(struct vms_placing *pl, bool created)
{
    if (pl && pl->hosts && created && pl->pending < pl->n) {
        pl->hosts[pl->pending].used++;
    }
    if (pl) {
        pl->pending = pl->n;
    }
}

/* Reads the candidates into the empty 'pl'; false after writing the
 * problem. */
static bool
placing_load(struct crud_ctx *ctx, struct vms_placing *pl)
{
    size_t n;
    enum db_qs qs = store_placement_candidates(ctx->req->db, &pl->cand, &n);
    if (qs < 0) {
        crud_db_problem(ctx->req, ctx->resp, qs, "host", NULL);
        return false;
    }
    pl->hosts = calloc(n + 1, sizeof *pl->hosts);
    if (!pl->hosts) {
        vms_placing_forget(pl);
        return crud_fail(ctx, SVE_INTERNAL, NULL, "out of memory");
    }
    for (size_t i = 0; i < n; i++) {
        const struct store_candidate *k = &pl->cand[i];
        pl->hosts[i] = (struct placement_host){
            .host_id = k->host_id,
            .host_name = k->host_name,
            .cloud_id = k->cloud_id,
            .cloud_name = k->cloud_name,
            .jurisdiction = k->jurisdiction,
            .gateway = k->gateway,
            .capacity = k->capacity,
            .used = k->used,
            .cost_per_hour = k->cost_per_hour,
        };
    }
    pl->n = pl->pending = n;
    return true;
}

bool
vms_place(struct crud_ctx *ctx, const struct placement_req *preq, const char *prefix,
          const char *exclude, char host_id[37])
{
    struct vms_placing local = {0};
    struct vms_placing *pl = ctx->placing && !exclude ? ctx->placing : &local;
    if (!pl->hosts && !placing_load(ctx, pl)) {
        return false;
    }
    struct placement_host *hosts = pl->hosts;
    size_t chosen;
    char reason[512], field[48];
    snprintf(field, sizeof field, "%s%s", prefix,
             preq->kind == PLACEMENT_HOST ? "host" : "cloud");
    /* The excluded host (a migration's source) is not a candidate: a
     * target that names it, or that only it satisfies, is a conflict.
     * (Only a local load is reordered here.) */
    size_t n_cand = pl->n;
    bool only_excluded = false;
    for (size_t i = 0; exclude && i < n_cand; i++) {
        if (host_is(&hosts[i], exclude)) {
            struct placement_host alone = hosts[i];
            alone.used = 0;         /* whether it matches, full or not */
            alone.capacity = 1;
            only_excluded = !placement_choose(preq, &alone, 1, &chosen, reason,
                                              sizeof reason)
                            || (preq->kind == PLACEMENT_HOST
                                && host_is(&hosts[i], preq->target));
            hosts[i] = hosts[--n_cand];
            break;
        }
    }
    int error = preq->kind == PLACEMENT_HOST && only_excluded
                    ? EEXIST
                    : placement_choose(preq, hosts, n_cand, &chosen, reason,
                                       sizeof reason);
    bool ok = !error;
    if (ok) {
        snprintf(host_id, 37, "%s", hosts[chosen].host_id);
        pl->pending = chosen;
    } else if (exclude && only_excluded && (error == EEXIST || error == ENOENT)) {
        crud_fail(ctx, SVE_CONFLICT, field, "the target is the VM's own host: "
                  "no other host satisfies it");
    } else if (error == ENOENT && preq->kind != PLACEMENT_CONSTRAINTS) {
        crud_fail(ctx, SVE_INVALID_VALUE, field, "%s", reason);
    } else {
        crud_fail(ctx, SVE_PLACEMENT_FAILED, prefix[0] ? "placement" : NULL, "%s",
                  reason);
    }
    vms_placing_forget(&local);
    return ok;
}

/* While the VM migrates, what the migration moves or relies on stays as
 * it is: its placement, MAC, IP and switch. */
static bool
not_migrating(struct crud_ctx *ctx)
{
    static const char *const frozen[] = {"placement", "mac", "ip", "switch"};
    json_t *m = json_object_get(ctx->current, "migration");
    for (size_t i = 0; json_is_object(m) && i < 4; i++) {
        json_t *v = json_object_get(ctx->body, frozen[i]);
        if (v && !json_equal(v, json_object_get(ctx->current, frozen[i]))) {
            return crud_fail(ctx, SVE_CONFLICT, frozen[i], "the VM is migrating "
                             "(migration %s, phase %s): its %s cannot change until "
                             "the migration ends", crud_str(m, "id"),
                             crud_str(m, "phase"), frozen[i]);
        }
    }
    return true;
}

/* rate_mbps 1..400000 and burst_kb 1..4000000, a burst only with a rate. */
static bool
valid_rate(struct crud_ctx *ctx, const json_t *obj)
{
    json_t *rate = json_object_get(obj, "rate_mbps");
    json_t *burst = json_object_get(obj, "burst_kb");
    bool has_rate = rate && !json_is_null(rate);
    if (has_rate && (json_integer_value(rate) < 1 || json_integer_value(rate) > 400000)) {
        return crud_fail(ctx, SVE_INVALID_VALUE, "rate_mbps", "rate_mbps must be an "
                         "integer from 1 to 400000");
    }
    if (burst && !json_is_null(burst)) {
        if (json_integer_value(burst) < 1 || json_integer_value(burst) > 4000000) {
            return crud_fail(ctx, SVE_INVALID_VALUE, "burst_kb", "burst_kb must be an "
                             "integer from 1 to 4000000");
        }
        if (!has_rate) {
            return crud_fail(ctx, SVE_INVALID_VALUE, "burst_kb", "burst_kb needs "
                             "rate_mbps: a burst is a burst above a rate");
        }
    }
    return true;
}

static bool
validate(struct crud_ctx *ctx, json_t *obj)
{
    if (!crud_valid_name(ctx, obj) || (ctx->current && !not_migrating(ctx))
        || !valid_rate(ctx, obj)) {
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
    const char *jur[VMS_MAX_LIST], *avoid[VMS_MAX_LIST];
    if (!vms_parse_placement(ctx, p, "placement.", &preq, jur, avoid)) {
        return false;
    }
    char host_id[37];
    if (ctx->current && json_equal(p, json_object_get(ctx->current, "placement"))) {
        snprintf(host_id, sizeof host_id, "%s", crud_str(ctx->current, "host_id"));
    } else if (!vms_place(ctx, &preq, "placement.", NULL, host_id)) {
        return false;
    }
    json_object_set_new(obj, "_host_id", json_string(host_id));
    return true;
}

enum db_qs
vms_load(struct crud_ctx *ctx, struct store_row *vm)
{
    ctx->res = &crud_vms;
    if (!crud_resolve_scope(ctx)) {
        return DB_QS_NONE;
    }
    const char *key = ctx->req->params[2];
    enum db_qs qs = store_get(ctx->req->db, &store_vms, ctx->scope, key, vm);
    if (qs == DB_QS_NONE) {
        api_problem(ctx->resp, ctx->req, SVE_NOT_FOUND, "vm", "no vm '%s'", key);
    } else if (qs < 0) {
        crud_db_problem(ctx->req, ctx->resp, qs, "vm", NULL);
    }
    return qs;
}

const struct crud_res crud_vms = {
    .store = &store_vms,
    .fields = fields,
    .parent = &crud_networks,
    .kind = "vm",
    .in_use = "has a migration in progress: wait until it ends, or DELETE the "
              "migration to roll it back",
    .validate = validate,
};

void vms_list(struct api_req *q, struct api_resp *r) { crud_list(q, r, &crud_vms); }
void vms_create(struct api_req *q, struct api_resp *r) { crud_create(q, r, &crud_vms); }
void vms_get(struct api_req *q, struct api_resp *r) { crud_get(q, r, &crud_vms); }
void vms_patch(struct api_req *q, struct api_resp *r) { crud_patch(q, r, &crud_vms); }
void vms_delete(struct api_req *q, struct api_resp *r) { crud_delete(q, r, &crud_vms); }
