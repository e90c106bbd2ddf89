/* ovsdb_vswitch.c: idempotent bridge/port/tunnel operations; see
 * ovsdb_vswitch.h.  Every builder follows the same shape: look the object
 * up in the replica, compute the columns that differ, and emit nothing,
 * an update of those columns, or the inserts (guarded by a "wait" that the
 * name is still free) plus the mutate that links the new row to its
 * parent. */
#include "ctrl/ovsdb_vswitch.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ctrl/ovsdb.h"
#include "ctrl/ovsdb_datum.h"
#include "ctrl/ovsdb_replica.h"
#include "ctrl/ovsdb_txn.h"

/* Creates '*txnp' on first use.  Returns it or NULL on ENOMEM. */
static struct ovsdb_txn *
txn_get(struct ovsdb_txn **txnp)
{
    if (!*txnp) {
        *txnp = ovsdb_txn_create();
    }
    return *txnp;
}

/* ["set", [[KIND, ID]]]: a one-element set of a reference, KIND "uuid"
 * or "named-uuid" (new reference). */
static json_t *
ref_set(const char *kind, const char *id)
{
    return ovsdb_datum_set(json_pack("[[ss]]", kind, id));
}

/* Adds to 'txn' the mutate that inserts into / deletes from ('mutator')
 * set column 'column' of row 'uuid' of 'table' the reference [KIND, ID]. */
static int
mutate_ref(struct ovsdb_txn *txn, const char *table, const char *uuid,
           const char *column, const char *mutator, const char *kind,
           const char *id)
{
    return ovsdb_txn_mutate(txn, table, ovsdb_txn_where_uuid(uuid),
                            json_pack("[o]", ovsdb_txn_mutation(
                                column, mutator, ref_set(kind, id))));
}

/* Adds "wait until no row of 'table' has name 'name'" to 'txn'. */
static int
wait_name_free(struct ovsdb_txn *txn, const char *table, const char *name)
{
    return ovsdb_txn_wait(txn, table,
                          ovsdb_txn_where_eq("name", json_string(name)),
                          json_pack("[s]", "name"), true, json_array(), 0);
}

/* True if every key of 'want' (object of strings) has the same value in
 * map datum 'have'. */
static bool
map_has_all(const json_t *have, const json_t *want)
{
    const char *k;
    json_t *v;
    json_object_foreach((json_t *) want, k, v) {
        const char *h = ovsdb_datum_map_get(have, k);
        if (!h || !json_is_string(v) || strcmp(h, json_string_value(v))) {
            return false;
        }
    }
    return true;
}

/* True if map datum 'have' equals 'want' (object of strings, NULL = {}). */
static bool
map_equals(const json_t *have, const json_t *want)
{
    size_t n = want ? json_object_size(want) : 0;
    return ovsdb_datum_map_n(have) == n && (!want || map_has_all(have, want));
}

/* New object: the string pairs of map datum 'have' overridden by 'want'. */
static json_t *
map_merge(const json_t *have, const json_t *want)
{
    json_t *obj = json_object();
    const json_t *pairs = json_array_get(have, 1);
    size_t i;
    json_t *pair;
    if (ovsdb_datum_map_n(have)) {
        json_array_foreach(pairs, i, pair) {
            json_object_set(obj, json_string_value(json_array_get(pair, 0)),
                            json_array_get(pair, 1));
        }
    }
    if (want) {
        json_object_update(obj, (json_t *) want);
    }
    return obj;
}

static bool
str_eq(const char *a, const char *b)
{
    return !strcmp(a ? a : "", b ? b : "");
}

static json_t *
string_set(const char *s)
{
    return ovsdb_datum_set(json_pack("[s]", s));
}

/* Columns of a Bridge row that differ from 'spec', as an update row. */
static json_t *
bridge_diff(const struct ovsdb_replica *rep, const json_t *row,
            const struct ovsdb_vswitch_bridge *spec, bool *new_ctl)
{
    json_t *upd = json_object();
    *new_ctl = false;
    if (spec->datapath_type
        && !str_eq(json_string_value(json_object_get(row, "datapath_type")),
                   spec->datapath_type)) {
        json_object_set_new(upd, "datapath_type",
                            json_string(spec->datapath_type));
    }
    if (spec->fail_mode
        && !str_eq(ovsdb_datum_string(json_object_get(row, "fail_mode")),
                   spec->fail_mode)) {
        json_object_set_new(upd, "fail_mode", json_string(spec->fail_mode));
    }
    if (spec->protocols
        && !str_eq(ovsdb_datum_string(json_object_get(row, "protocols")),
                   spec->protocols)) {
        json_object_set_new(upd, "protocols", string_set(spec->protocols));
    }
    if (spec->other_config) {
        const json_t *oc = json_object_get(row, "other_config");
        if (!map_has_all(oc, spec->other_config)) {
            json_object_set_new(upd, "other_config", ovsdb_datum_map(
                                    map_merge(oc, spec->other_config)));
        }
    }
    if (spec->controller) {
        const json_t *ctl = json_object_get(row, "controller");
        const json_t *crow = ovsdb_datum_n(ctl) == 1
            ? ovsdb_replica_row(rep, "Controller",
                                ovsdb_datum_get_uuid(ovsdb_datum_at(ctl, 0)))
            : NULL;
        if (!crow || !str_eq(json_string_value(json_object_get(crow, "target")),
                             spec->controller)) {
            json_object_set_new(upd, "controller",
                                ref_set("named-uuid", "ctl"));
            *new_ctl = true;
        }
    }
    return upd;
}

static int
insert_controller(struct ovsdb_txn *txn, const char *target)
{
    return ovsdb_txn_insert(txn, "Controller",
                            json_pack("{s:s}", "target", target), "ctl");
}

int
ovsdb_vswitch_ensure_bridge(const struct ovsdb_replica *rep,
                            const struct ovsdb_vswitch_bridge *spec,
                            struct ovsdb_txn **txnp)
{
    const char *br_uuid, *ovs_uuid;
    *txnp = NULL;
    if (!spec->name || !*spec->name) {
        return EINVAL;
    }
    const json_t *row = ovsdb_replica_find(rep, "Bridge", "name", spec->name,
                                           &br_uuid);
    if (row) {
        bool new_ctl;
        json_t *upd = bridge_diff(rep, row, spec, &new_ctl);
        if (!upd || !json_object_size(upd)) {
            json_decref(upd);
            return upd ? 0 : ENOMEM;
        }
        struct ovsdb_txn *txn = txn_get(txnp);
        int err = !txn ? ENOMEM
            : new_ctl ? insert_controller(txn, spec->controller) : 0;
        err = err ? err : ovsdb_txn_update(txn, "Bridge",
                                           ovsdb_txn_where_uuid(br_uuid), upd);
        if (err) {
            ovsdb_txn_destroy(*txnp);
            *txnp = NULL;
        }
        return err;
    }
    if (!ovsdb_replica_first(rep, "Open_vSwitch", &ovs_uuid)) {
        return ENOENT;
    }
    struct ovsdb_txn *txn = txn_get(txnp);
    if (!txn) {
        return ENOMEM;
    }
    json_t *br = json_pack("{s:s, s:o}", "name", spec->name, "ports",
                           ref_set("named-uuid", "port"));
    if (spec->datapath_type) {
        json_object_set_new(br, "datapath_type",
                            json_string(spec->datapath_type));
    }
    if (spec->fail_mode) {
        json_object_set_new(br, "fail_mode", json_string(spec->fail_mode));
    }
    if (spec->protocols) {
        json_object_set_new(br, "protocols", string_set(spec->protocols));
    }
    if (spec->other_config) {
        json_object_set_new(br, "other_config", ovsdb_datum_map(
                                json_deep_copy(spec->other_config)));
    }
    int err = wait_name_free(txn, "Bridge", spec->name);
    err = err ? err : ovsdb_txn_insert(txn, "Interface", json_pack(
        "{s:s, s:s}", "name", spec->name, "type", "internal"), "iface");
    err = err ? err : ovsdb_txn_insert(txn, "Port", json_pack(
        "{s:s, s:o}", "name", spec->name, "interfaces",
        ref_set("named-uuid", "iface")), "port");
    if (!err && spec->controller) {
        err = insert_controller(txn, spec->controller);
        json_object_set_new(br, "controller", ref_set("named-uuid", "ctl"));
    }
    err = err ? err : ovsdb_txn_insert(txn, "Bridge", json_incref(br),
                                       "bridge");
    err = err ? err : mutate_ref(txn, "Open_vSwitch", ovs_uuid, "bridges",
                                 "insert", "named-uuid", "bridge");
    json_decref(br);
    if (err) {
        ovsdb_txn_destroy(*txnp);
        *txnp = NULL;
    }
    return err;
}

int
ovsdb_vswitch_remove_bridge(const struct ovsdb_replica *rep,
                            const char *name, struct ovsdb_txn **txnp)
{
    const char *br_uuid, *ovs_uuid;
    *txnp = NULL;
    if (!ovsdb_replica_find(rep, "Bridge", "name", name, &br_uuid)) {
        return 0;
    }
    if (!ovsdb_replica_first(rep, "Open_vSwitch", &ovs_uuid)) {
        return ENOENT;
    }
    struct ovsdb_txn *txn = txn_get(txnp);
    if (!txn) {
        return ENOMEM;
    }
    return mutate_ref(txn, "Open_vSwitch", ovs_uuid, "bridges", "delete",
                      "uuid", br_uuid);
}

static const char *
iface_type(const char *type)
{
    return !type || !strcmp(type, "system") ? "" : type;
}

/* Adds the update of an existing Port/Interface pair to '*txnp' if needed. */
static int
update_port(const struct ovsdb_replica *rep, const char *port_uuid,
            const json_t *port, const struct ovsdb_vswitch_port *spec,
            struct ovsdb_txn **txnp)
{
    const json_t *ifaces = json_object_get(port, "interfaces");
    const char *if_uuid = ovsdb_datum_get_uuid(ovsdb_datum_at(ifaces, 0));
    const json_t *iface = if_uuid ? ovsdb_replica_row(rep, "Interface",
                                                      if_uuid) : NULL;
    if (!iface) {
        return ENOENT;
    }
    json_t *ui = json_object(), *up = json_object();
    const json_t *eid;
    if (!str_eq(json_string_value(json_object_get(iface, "type")),
                iface_type(spec->type))) {
        json_object_set_new(ui, "type", json_string(iface_type(spec->type)));
    }
    if (!map_equals(json_object_get(iface, "options"), spec->options)) {
        json_object_set_new(ui, "options", ovsdb_datum_map(
            spec->options ? json_deep_copy(spec->options) : json_object()));
    }
    if (spec->bfd && !map_equals(json_object_get(iface, "bfd"), spec->bfd)) {
        json_object_set_new(ui, "bfd", ovsdb_datum_map(json_deep_copy(spec->bfd)));
    }
    if (spec->external_ids) {
        eid = json_object_get(iface, "external_ids");
        if (!map_has_all(eid, spec->external_ids)) {
            json_object_set_new(ui, "external_ids", ovsdb_datum_map(
                                    map_merge(eid, spec->external_ids)));
        }
        eid = json_object_get(port, "external_ids");
        if (!map_has_all(eid, spec->external_ids)) {
            json_object_set_new(up, "external_ids", ovsdb_datum_map(
                                    map_merge(eid, spec->external_ids)));
        }
    }
    int err = 0;
    if ((json_object_size(ui) || json_object_size(up)) && !txn_get(txnp)) {
        err = ENOMEM;
    }
    if (!err && json_object_size(ui)) {
        err = ovsdb_txn_update(*txnp, "Interface",
                               ovsdb_txn_where_uuid(if_uuid), json_incref(ui));
    }
    if (!err && json_object_size(up)) {
        err = ovsdb_txn_update(*txnp, "Port",
                               ovsdb_txn_where_uuid(port_uuid),
                               json_incref(up));
    }
    json_decref(ui);
    json_decref(up);
    return err;
}

static int
cmp_str_ptr(const void *a, const void *b)
{
    return strcmp(*(const char *const *) a, *(const char *const *) b);
}

int
ovsdb_vswitch_ensure_port(const struct ovsdb_replica *rep,
                          const struct ovsdb_vswitch_port *spec,
                          struct ovsdb_txn **txnp)
{
    const char *br_uuid, *port_uuid;
    *txnp = NULL;
    if (!spec->name || !*spec->name || !spec->bridge) {
        return EINVAL;
    }
    const json_t *br = ovsdb_replica_find(rep, "Bridge", "name", spec->bridge,
                                          &br_uuid);
    if (!br) {
        return ENOENT;
    }
    const json_t *port = ovsdb_replica_find(rep, "Port", "name", spec->name,
                                            &port_uuid);
    int err;
    if (port) {
        bool here = spec->bridge_ports
                    ? bsearch(&port_uuid, spec->bridge_ports, spec->n_bridge_ports,
                              sizeof *spec->bridge_ports, cmp_str_ptr) != NULL
                    : ovsdb_datum_has_uuid(json_object_get(br, "ports"), port_uuid);
        if (!here) {
            return EEXIST;
        }
        err = update_port(rep, port_uuid, port, spec, txnp);
    } else {
        struct ovsdb_txn *txn = txn_get(txnp);
        if (!txn) {
            return ENOMEM;
        }
        json_t *iface = json_pack("{s:s, s:s, s:o}", "name", spec->name,
                                  "type", iface_type(spec->type), "options",
                                  ovsdb_datum_map(spec->options
                                      ? json_deep_copy(spec->options)
                                      : json_object()));
        if (iface && spec->bfd) {
            json_object_set_new(iface, "bfd", ovsdb_datum_map(json_deep_copy(spec->bfd)));
        }
        if (iface && spec->ofport_request > 0) {
            json_object_set_new(iface, "ofport_request",
                                json_integer(spec->ofport_request));
        }
        json_t *p = json_pack("{s:s, s:o}", "name", spec->name, "interfaces",
                              ref_set("named-uuid", "iface"));
        if (iface && p && spec->external_ids) {
            json_object_set_new(iface, "external_ids", ovsdb_datum_map(
                                    json_deep_copy(spec->external_ids)));
            json_object_set_new(p, "external_ids", ovsdb_datum_map(
                                    json_deep_copy(spec->external_ids)));
        }
        err = wait_name_free(txn, "Port", spec->name);
        err = err ? err : ovsdb_txn_insert(txn, "Interface", iface, "iface");
        iface = NULL;
        err = err ? err : ovsdb_txn_insert(txn, "Port", p, "port");
        p = NULL;
        err = err ? err : mutate_ref(txn, "Bridge", br_uuid, "ports",
                                     "insert", "named-uuid", "port");
        json_decref(iface);
        json_decref(p);
    }
    if (err) {
        ovsdb_txn_destroy(*txnp);
        *txnp = NULL;
    }
    return err;
}

int
ovsdb_vswitch_ensure_tunnel(const struct ovsdb_replica *rep,
                            const struct ovsdb_vswitch_tunnel *spec,
                            struct ovsdb_txn **txnp)
{
    *txnp = NULL;
    if (!spec->type || (strcmp(spec->type, "vxlan")
                        && strcmp(spec->type, "gre")) || !spec->remote_ip
        || spec->dst_port < 0 || spec->dst_port > 65535) {
        return EINVAL;
    }
    json_t *opts = json_pack("{s:s, s:s}", "remote_ip", spec->remote_ip,
                             "key", spec->key ? spec->key : "flow");
    if (!opts) {
        return ENOMEM;
    }
    if (spec->local_ip) {
        json_object_set_new(opts, "local_ip", json_string(spec->local_ip));
    }
    if (spec->dst_port) {
        char port[8];
        snprintf(port, sizeof port, "%d", spec->dst_port);
        json_object_set_new(opts, "dst_port", json_string(port));
    }
    struct ovsdb_vswitch_port p = {
        .bridge = spec->bridge, .name = spec->name, .type = spec->type,
        .options = opts, .external_ids = spec->external_ids, .bfd = spec->bfd,
    };
    int err = ovsdb_vswitch_ensure_port(rep, &p, txnp);
    json_decref(opts);
    return err;
}

int
ovsdb_vswitch_remove_port(const struct ovsdb_replica *rep, const char *name,
                          struct ovsdb_txn **txnp)
{
    const char *port_uuid, *br_uuid;
    json_t *br;
    *txnp = NULL;
    if (!ovsdb_replica_find(rep, "Port", "name", name, &port_uuid)) {
        return 0;
    }
    json_object_foreach((json_t *) ovsdb_replica_table(rep, "Bridge"),
                        br_uuid, br) {
        if (ovsdb_datum_has_uuid(json_object_get(br, "ports"), port_uuid)) {
            struct ovsdb_txn *txn = txn_get(txnp);
            return !txn ? ENOMEM : mutate_ref(txn, "Bridge", br_uuid, "ports",
                                              "delete", "uuid", port_uuid);
        }
    }
    return 0;                   /* Orphan: the server collects it. */
}

int
ovsdb_vswitch_iface_status(const struct ovsdb_replica *rep, const char *name,
                           long long *ofport, const char **errorp)
{
    const json_t *row = ovsdb_replica_find(rep, "Interface", "name", name,
                                           NULL);
    *ofport = 0;
    *errorp = NULL;
    if (!row) {
        return ENOENT;
    }
    if (!ovsdb_datum_integer(json_object_get(row, "ofport"), ofport)) {
        *ofport = 0;
    }
    *errorp = ovsdb_datum_string(json_object_get(row, "error"));
    return 0;
}

int
ovsdb_vswitch_apply(struct ovsdb *o, struct ovsdb_txn *txn, int timeout_ms,
                    char **errp)
{
    *errp = NULL;
    return txn ? ovsdb_transact_wait(o, txn, timeout_ms, NULL, errp) : 0;
}

int
ovsdb_vswitch_wait_iface(struct ovsdb *o, const char *name, int timeout_ms,
                         long long *ofport, char **errorp)
{
    long long deadline = ovsdb_now_ms() + timeout_ms;
    const char *e;
    *errorp = NULL;
    for (;;) {
        int err = ovsdb_vswitch_iface_status(ovsdb_get_replica(o), name,
                                             ofport, &e);
        if (!err && (*ofport > 0 || e)) {
            *errorp = e ? strdup(e) : NULL;
            return 0;
        }
        long long left = deadline - ovsdb_now_ms();
        if (left <= 0) {
            *errorp = e ? strdup(e) : NULL;
            return ETIMEDOUT;
        }
        ovsdb_wait(o, (int) (left < 100 ? left : 100));
    }
}

/* --- fencing (ovsdb_vswitch.h) --- */

uint64_t
ovsdb_vswitch_epoch(const struct ovsdb_replica *rep)
{
    const json_t *row = ovsdb_replica_first(rep, "Open_vSwitch", NULL);
    const char *v = row ? ovsdb_datum_map_get(json_object_get(row, "external_ids"),
                                              OVSDB_VSWITCH_EPOCH_KEY)
                        : NULL;
    return v ? strtoull(v, NULL, 10) : 0;
}

/* ["map", [[KEY, "EPOCH"]]] (new reference). */
static json_t *
epoch_map(uint64_t epoch)
{
    char v[24];
    snprintf(v, sizeof v, "%llu", (unsigned long long) epoch);
    return ovsdb_datum_map(json_pack("{ss}", OVSDB_VSWITCH_EPOCH_KEY, v));
}

int
ovsdb_vswitch_fence(struct ovsdb_txn *txn, uint64_t epoch)
{
    /* The one Open_vSwitch row, selected only while its external_ids hold
     * the epoch: exactly one row ({} projected on no column) or fail. */
    json_t *where = json_pack("[[sso]]", "external_ids", "includes", epoch_map(epoch));
    return ovsdb_txn_wait(txn, "Open_vSwitch", where, json_array(), true,
                          json_pack("[{}]"), 0);
}

int
ovsdb_vswitch_raise_epoch(const struct ovsdb_replica *rep, uint64_t epoch,
                          struct ovsdb_txn **txnp)
{
    const char *ovs_uuid;
    *txnp = NULL;
    const json_t *row = ovsdb_replica_first(rep, "Open_vSwitch", &ovs_uuid);
    if (!row) {
        return ENOENT;
    }
    uint64_t have = ovsdb_vswitch_epoch(rep);
    if (have > epoch) {
        return ESTALE;
    } else if (have == epoch) {
        return 0;
    }
    struct ovsdb_txn *txn = txn_get(txnp);
    if (!txn) {
        return ENOMEM;
    }
    const json_t *ids = json_object_get(row, "external_ids");
    int err = ovsdb_txn_wait(txn, "Open_vSwitch", ovsdb_txn_where_uuid(ovs_uuid),
                             json_pack("[s]", "external_ids"), true,
                             json_pack("[{sO}]", "external_ids", ids), 0);
    err = err ? err : ovsdb_txn_mutate(
        txn, "Open_vSwitch", ovsdb_txn_where_uuid(ovs_uuid),
        json_pack("[o, o]",
                  ovsdb_txn_mutation("external_ids", "delete",
                                     string_set(OVSDB_VSWITCH_EPOCH_KEY)),
                  ovsdb_txn_mutation("external_ids", "insert", epoch_map(epoch))));
    return err;
}
