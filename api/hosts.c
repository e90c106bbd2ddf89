/* hosts.c: /v1/hosts.  A host is an Open vSwitch instance skyvisord
 * manages: a worker (VMs attach to its integration bridge) or one of its
 * cloud's gateways (at most two, each with its own public address for the
 * inter-cloud tunnels; the first by name is preferred, the second its twin:
 * core/tunnels.h).
 * How skyvisord reaches it: OVSDB at `ovsdb`, OpenFlow either by connecting
 * out to `openflow` or by pointing the bridge at `controller`. */
#include <string.h>

#include "api/crud.h"
#include "core/validate.h"

static const struct crud_field fields[] = {
    {"id", CT_STRING, CF_READONLY},
    {"name", CT_STRING, CF_REQUIRED},
    {"cloud", CT_STRING, CF_REQUIRED | CF_IMMUTABLE},
    {"cloud_id", CT_STRING, CF_READONLY},
    {"role", CT_STRING, 0},
    {"tunnel_ip", CT_STRING, CF_REQUIRED},
    {"public_ip", CT_STRING, CF_NULLABLE},
    {"capacity", CT_INTEGER, 0},
    {"ovsdb", CT_STRING, CF_REQUIRED},
    {"bridge", CT_STRING, 0},
    {"datapath", CT_STRING, 0},
    {"openflow", CT_STRING, CF_NULLABLE},
    {"controller", CT_STRING, CF_NULLABLE},
    {"vm_count", CT_INTEGER, CF_READONLY},
    {"labels", CT_LABELS, 0},
    {"status", CT_OBJECT, CF_READONLY},
    {"created_at", CT_STRING, CF_READONLY},
    {"updated_at", CT_STRING, CF_READONLY},
    {NULL, 0, 0},
};

static void
set_default(json_t *obj, const char *name, json_t *value)
{
    if (!json_object_get(obj, name) || json_is_null(json_object_get(obj, name))) {
        json_object_set_new(obj, name, value);
    } else {
        json_decref(value);
    }
}

static bool
validate(struct crud_ctx *ctx, json_t *obj)
{
    static const char *const roles[] = {"host", "gateway", NULL};
    static const char *const datapaths[] = {"system", "netdev", NULL};
    set_default(obj, "role", json_string("host"));
    set_default(obj, "capacity", json_integer(16));
    set_default(obj, "bridge", json_string("br-sky"));
    set_default(obj, "datapath", json_string("system"));

    if (!crud_valid_name(ctx, obj)) {
        return false;
    }
    const char *role = crud_str(obj, "role");
    if (!crud_one_of(role, roles)) {
        return crud_fail(ctx, SVE_INVALID_VALUE, "role", "role must be host or gateway");
    }
    if (!validate_ipv4(crud_str(obj, "tunnel_ip"), NULL)) {
        return crud_fail(ctx, SVE_INVALID_VALUE, "tunnel_ip", "tunnel_ip must be "
                         "an IPv4 address");
    }
    const char *public_ip = crud_str(obj, "public_ip");
    if (!strcmp(role, "gateway") && !public_ip) {
        return crud_fail(ctx, SVE_MISSING_FIELD, "public_ip", "a gateway needs "
                         "public_ip, the cloud's address for inter-cloud tunnels");
    }
    if (strcmp(role, "gateway") && public_ip) {
        return crud_fail(ctx, SVE_INVALID_VALUE, "public_ip", "only gateways have "
                         "a public_ip");
    }
    if (public_ip && !validate_ipv4(public_ip, NULL)) {
        return crud_fail(ctx, SVE_INVALID_VALUE, "public_ip", "public_ip must be "
                         "an IPv4 address");
    }
    json_int_t cap = json_integer_value(json_object_get(obj, "capacity"));
    if (cap < 1 || cap > 100000) {
        return crud_fail(ctx, SVE_INVALID_VALUE, "capacity", "capacity must be "
                         "from 1 to 100000 VMs");
    }
    if (!validate_endpoint(crud_str(obj, "ovsdb"), true)) {
        return crud_fail(ctx, SVE_INVALID_VALUE, "ovsdb", "ovsdb must be "
                         "unix:/absolute/path, tcp:IPv4:PORT or ssl:IPv4:PORT");
    }
    if (!validate_ifname(crud_str(obj, "bridge"))) {
        return crud_fail(ctx, SVE_INVALID_VALUE, "bridge", "bridge must be 1-15 "
                         "characters of A-Z a-z 0-9 _ . -");
    }
    if (!crud_one_of(crud_str(obj, "datapath"), datapaths)) {
        return crud_fail(ctx, SVE_INVALID_VALUE, "datapath", "datapath must be "
                         "system or netdev");
    }
    const char *of = crud_str(obj, "openflow"), *ctl = crud_str(obj, "controller");
    if (!of == !ctl) {
        return crud_fail(ctx, of ? SVE_INVALID_VALUE : SVE_MISSING_FIELD, "openflow",
                         "give exactly one of openflow (skyvisord connects to the "
                         "bridge) and controller (the bridge connects to skyvisord)");
    }
    if (of && !validate_endpoint(of, true)) {
        return crud_fail(ctx, SVE_INVALID_VALUE, "openflow", "openflow must be "
                         "unix:/absolute/path, tcp:IPv4:PORT or ssl:IPv4:PORT");
    }
    if (ctl && !validate_endpoint(ctl, false)) {
        return crud_fail(ctx, SVE_INVALID_VALUE, "controller", "controller must be "
                         "tcp:IPv4:PORT or ssl:IPv4:PORT");
    }
    char cloud_id[37];
    if (!crud_resolve(ctx, &store_clouds, NULL, crud_str(obj, "cloud"), "cloud",
                      cloud_id)) {
        return false;
    }
    json_object_set_new(obj, "_cloud_id", json_string(cloud_id));
    return true;
}

const struct crud_res crud_hosts = {
    .store = &store_hosts,
    .fields = fields,
    .kind = "host",
    .in_use = "still has VMs, or a migration in progress moves one from or to it",
    .validate = validate,
};

void hosts_list(struct api_req *q, struct api_resp *r) { crud_list(q, r, &crud_hosts); }
void hosts_create(struct api_req *q, struct api_resp *r) { crud_create(q, r, &crud_hosts); }
void hosts_get(struct api_req *q, struct api_resp *r) { crud_get(q, r, &crud_hosts); }
void hosts_patch(struct api_req *q, struct api_resp *r) { crud_patch(q, r, &crud_hosts); }
void hosts_delete(struct api_req *q, struct api_resp *r) { crud_delete(q, r, &crud_hosts); }
