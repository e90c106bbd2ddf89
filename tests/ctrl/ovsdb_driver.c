/* ovsdb_driver.c: command-line driver of the OVSDB client for the pytest
 * suite tests/integration/test_ovsdb.py (built to $(BUILD)/tests/ovsdb_driver).
 *
 *   ovsdb_driver TARGET show
 *   ovsdb_driver TARGET watch SECONDS     one "show" line per replica change
 *   ovsdb_driver TARGET schema
 *   ovsdb_driver TARGET ensure-bridge NAME [--datapath-type T] [--fail-mode M]
 *                [--protocols P] [--controller C] [--other-config K=V]...
 *   ovsdb_driver TARGET remove-bridge NAME
 *   ovsdb_driver TARGET ensure-port BRIDGE NAME [--type T] [--option K=V]...
 *                [--external-id K=V]... [--wait-iface MS]
 *   ovsdb_driver TARGET ensure-tunnel BRIDGE NAME --type vxlan|gre
 *                --remote-ip IP [--key K] [--local-ip IP] [--dst-port N]
 *                [--external-id K=V]... [--wait-iface MS]
 *   ovsdb_driver TARGET remove-port NAME
 *   ovsdb_driver TARGET iface NAME [--wait MS]
 *   ovsdb_driver TARGET raise-epoch EPOCH
 *
 * Mutating commands also take --fence EPOCH: the transaction carries
 * ovsdb_vswitch_fence() with that epoch (it fails once a higher one was
 * raised).  raise-epoch prints {"ok":..., "ops":..., "error":...} and
 * "epoch", the value the replica showed before; "error" is "stale" when it
 * was higher.
 *
 * Every command prints one JSON object on stdout.  Mutating commands print
 * {"ok": bool, "ops": N, "error": E} where N is the number of operations of
 * the transaction sent (0: already in the desired state, nothing sent) and,
 * with --wait-iface, "iface": {"ofport": P, "error": E}.  Exit status 0 on
 * success, 1 on failure, 2 on usage errors. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ctrl/ovsdb.h"
#include "ctrl/ovsdb_datum.h"
#include "ctrl/ovsdb_replica.h"
#include "ctrl/ovsdb_txn.h"
#include "ctrl/ovsdb_vswitch.h"

#define TIMEOUT_MS 10000

static void
usage(void)
{
    fprintf(stderr, "usage: ovsdb_driver TARGET COMMAND [ARGS]"
                    " (see the comment at the top of ovsdb_driver.c)\n");
    exit(2);
}

static void
print_json(json_t *j)
{
    char *s = json_dumps(j, JSON_COMPACT | JSON_SORT_KEYS);
    printf("%s\n", s ? s : "null");
    fflush(stdout);
    free(s);
    json_decref(j);
}

/* New object {k: v} of a map datum. */
static json_t *
map_to_object(const json_t *datum)
{
    json_t *obj = json_object();
    size_t i;
    json_t *pair;
    if (ovsdb_datum_map_n(datum)) {
        json_array_foreach(json_array_get(datum, 1), i, pair) {
            json_object_set(obj, json_string_value(json_array_get(pair, 0)),
                            json_array_get(pair, 1));
        }
    }
    return obj;
}

/* New array of the 'column' strings of the rows of 'table' referenced by
 * set datum 'refs'. */
static json_t *
ref_names(const struct ovsdb_replica *rep, const json_t *refs,
          const char *table, const char *column)
{
    json_t *arr = json_array();
    for (size_t i = 0; i < ovsdb_datum_n(refs); i++) {
        const json_t *row = ovsdb_replica_row(
            rep, table, ovsdb_datum_get_uuid(ovsdb_datum_at(refs, i)));
        if (row) {
            json_array_append(arr, json_object_get(row, column));
        }
    }
    return arr;
}

static json_t *
show(struct ovsdb *o)
{
    const struct ovsdb_replica *rep = ovsdb_get_replica(o);
    json_t *brs = json_object(), *ports = json_object(), *ifs = json_object();
    const char *uuid;
    json_t *row;
    json_object_foreach((json_t *) ovsdb_replica_table(rep, "Bridge"),
                        uuid, row) {
        json_t *protos = json_array();
        const json_t *p = json_object_get(row, "protocols");
        for (size_t i = 0; i < ovsdb_datum_n(p); i++) {
            json_array_append(protos, (json_t *) ovsdb_datum_at(p, i));
        }
        const char *fm = ovsdb_datum_string(json_object_get(row, "fail_mode"));
        json_object_set_new(brs, json_string_value(json_object_get(row, "name")),
            json_pack("{s:O, s:o, s:o, s:o, s:o, s:o}",
                      "datapath_type", json_object_get(row, "datapath_type"),
                      "fail_mode", fm ? json_string(fm) : json_null(),
                      "protocols", protos,
                      "ports", ref_names(rep, json_object_get(row, "ports"),
                                         "Port", "name"),
                      "controller", ref_names(rep,
                                              json_object_get(row, "controller"),
                                              "Controller", "target"),
                      "other_config",
                      map_to_object(json_object_get(row, "other_config"))));
    }
    json_object_foreach((json_t *) ovsdb_replica_table(rep, "Port"),
                        uuid, row) {
        json_object_set_new(ports, json_string_value(json_object_get(row, "name")),
            json_pack("{s:o, s:o}",
                      "interfaces", ref_names(rep,
                                              json_object_get(row, "interfaces"),
                                              "Interface", "name"),
                      "external_ids",
                      map_to_object(json_object_get(row, "external_ids"))));
    }
    json_object_foreach((json_t *) ovsdb_replica_table(rep, "Interface"),
                        uuid, row) {
        long long ofport = 0;
        const char *err = NULL;
        const char *name = json_string_value(json_object_get(row, "name"));
        ovsdb_vswitch_iface_status(rep, name, &ofport, &err);
        json_object_set_new(ifs, name, json_pack(
            "{s:O, s:I, s:o, s:o, s:o}",
            "type", json_object_get(row, "type"), "ofport", (json_int_t) ofport,
            "error", err ? json_string(err) : json_null(),
            "options", map_to_object(json_object_get(row, "options")),
            "external_ids", map_to_object(json_object_get(row, "external_ids"))));
    }
    return json_pack("{s:i, s:o, s:o, s:o}", "syncs", (int) ovsdb_n_syncs(o),
                     "bridges", brs, "ports", ports, "interfaces", ifs);
}

/* Adds "K=V" to object '*objp' (created on first use). */
static void
add_kv(json_t **objp, const char *kv)
{
    const char *eq = strchr(kv, '=');
    if (!eq) {
        usage();
    }
    if (!*objp) {
        *objp = json_object();
    }
    char *k = strndup(kv, (size_t) (eq - kv));
    json_object_set_new(*objp, k, json_string(eq + 1));
    free(k);
}

static unsigned long long fence_epoch;     /* --fence: 0 none */

struct opts {
    const char *datapath_type, *fail_mode, *protocols, *controller, *type;
    const char *remote_ip, *key, *local_ip;
    int dst_port, wait_ms;
    json_t *other_config, *options, *external_ids;
};

static void
parse_opts(int argc, char **argv, struct opts *op)
{
    memset(op, 0, sizeof *op);
    op->wait_ms = -1;
    for (int i = 0; i < argc; i++) {
        const char *a = argv[i];
        if (i + 1 >= argc) {
            usage();
        }
        const char *v = argv[++i];
        if (!strcmp(a, "--datapath-type")) op->datapath_type = v;
        else if (!strcmp(a, "--fail-mode")) op->fail_mode = v;
        else if (!strcmp(a, "--protocols")) op->protocols = v;
        else if (!strcmp(a, "--controller")) op->controller = v;
        else if (!strcmp(a, "--type")) op->type = v;
        else if (!strcmp(a, "--remote-ip")) op->remote_ip = v;
        else if (!strcmp(a, "--key")) op->key = v;
        else if (!strcmp(a, "--local-ip")) op->local_ip = v;
        else if (!strcmp(a, "--dst-port")) op->dst_port = atoi(v);
        else if (!strcmp(a, "--wait-iface") || !strcmp(a, "--wait"))
            op->wait_ms = atoi(v);
        else if (!strcmp(a, "--other-config")) add_kv(&op->other_config, v);
        else if (!strcmp(a, "--option")) add_kv(&op->options, v);
        else if (!strcmp(a, "--external-id")) add_kv(&op->external_ids, v);
        else if (!strcmp(a, "--fence")) fence_epoch = strtoull(v, NULL, 10);
        else usage();
    }
}

static int
report(struct ovsdb *o, int err, struct ovsdb_txn *txn, const char *iface,
       int wait_ms)
{
    if (!err && txn && fence_epoch) {
        err = ovsdb_vswitch_fence(txn, fence_epoch);
    }
    size_t n_ops = txn ? ovsdb_txn_n_ops(txn) : 0;
    char *msg = NULL;
    if (!err) {
        err = ovsdb_vswitch_apply(o, txn, TIMEOUT_MS, &msg);
    } else {
        ovsdb_txn_destroy(txn);
    }
    json_t *out = json_pack("{s:b, s:I}", "ok", !err, "ops", (json_int_t) n_ops);
    json_object_set_new(out, "error", err ? json_string(msg ? msg
                                                            : strerror(err))
                                          : json_null());
    free(msg);
    if (!err && iface && wait_ms >= 0) {
        long long ofport;
        char *ierr;
        int werr = ovsdb_vswitch_wait_iface(o, iface, wait_ms, &ofport, &ierr);
        json_object_set_new(out, "iface", json_pack(
            "{s:I, s:o, s:b}", "ofport", (json_int_t) ofport,
            "error", ierr ? json_string(ierr) : json_null(),
            "timed_out", werr == ETIMEDOUT));
        free(ierr);
    }
    print_json(out);
    return err ? 1 : 0;
}

int
main(int argc, char **argv)
{
    if (argc < 3) {
        usage();
    }
    const char *cmd = argv[2];
    struct ovsdb *o = ovsdb_create(argv[1], "Open_vSwitch");
    if (!o || ovsdb_wait_synced(o, TIMEOUT_MS)) {
        fprintf(stderr, "ovsdb_driver: cannot sync with %s\n", argv[1]);
        return 1;
    }
    const struct ovsdb_replica *rep = ovsdb_get_replica(o);
    struct ovsdb_txn *txn = NULL;
    struct opts op = { .wait_ms = -1 };
    int rc = 0, err;

    if (!strcmp(cmd, "show")) {
        print_json(show(o));
    } else if (!strcmp(cmd, "watch") && argc == 4) {
        long long end = ovsdb_now_ms() + atoi(argv[3]) * 1000LL;
        uint64_t seen = 0;
        while (ovsdb_now_ms() < end) {
            if (ovsdb_is_synced(o) && rep->seqno != seen) {
                seen = rep->seqno;
                print_json(show(o));
            }
            ovsdb_wait(o, 100);
        }
    } else if (!strcmp(cmd, "schema")) {
        uint64_t id;
        json_t *schema;
        char *msg;
        err = ovsdb_get_schema(o, &id);
        err = err ? err : ovsdb_wait_reply(o, id, TIMEOUT_MS, &schema, &msg);
        if (err) {
            fprintf(stderr, "schema: %s\n", strerror(err));
            return 1;
        }
        print_json(json_pack("{s:O, s:O}", "name",
                             json_object_get(schema, "name"), "version",
                             json_object_get(schema, "version")));
        json_decref(schema);
    } else if (!strcmp(cmd, "ensure-bridge") && argc >= 4) {
        parse_opts(argc - 4, argv + 4, &op);
        struct ovsdb_vswitch_bridge b = {
            .name = argv[3], .datapath_type = op.datapath_type,
            .fail_mode = op.fail_mode, .protocols = op.protocols,
            .controller = op.controller, .other_config = op.other_config,
        };
        err = ovsdb_vswitch_ensure_bridge(rep, &b, &txn);
        rc = report(o, err, txn, NULL, -1);
    } else if (!strcmp(cmd, "raise-epoch") && argc == 4) {
        unsigned long long before = ovsdb_vswitch_epoch(rep);
        err = ovsdb_vswitch_raise_epoch(rep, strtoull(argv[3], NULL, 10), &txn);
        if (err == ESTALE) {
            print_json(json_pack("{s:b, s:i, s:s, s:I}", "ok", 0, "ops", 0, "error",
                                 "stale", "epoch", (json_int_t) before));
            rc = 1;
        } else {
            rc = report(o, err, txn, NULL, -1);
        }
    } else if (!strcmp(cmd, "remove-bridge") && argc == 4) {
        err = ovsdb_vswitch_remove_bridge(rep, argv[3], &txn);
        rc = report(o, err, txn, NULL, -1);
    } else if (!strcmp(cmd, "ensure-port") && argc >= 5) {
        parse_opts(argc - 5, argv + 5, &op);
        struct ovsdb_vswitch_port p = {
            .bridge = argv[3], .name = argv[4], .type = op.type,
            .options = op.options, .external_ids = op.external_ids,
        };
        err = ovsdb_vswitch_ensure_port(rep, &p, &txn);
        rc = report(o, err, txn, argv[4], op.wait_ms);
    } else if (!strcmp(cmd, "ensure-tunnel") && argc >= 5) {
        parse_opts(argc - 5, argv + 5, &op);
        struct ovsdb_vswitch_tunnel t = {
            .bridge = argv[3], .name = argv[4], .type = op.type,
            .remote_ip = op.remote_ip, .key = op.key,
            .local_ip = op.local_ip, .dst_port = op.dst_port,
            .external_ids = op.external_ids,
        };
        err = ovsdb_vswitch_ensure_tunnel(rep, &t, &txn);
        rc = report(o, err, txn, argv[4], op.wait_ms);
    } else if (!strcmp(cmd, "remove-port") && argc == 4) {
        err = ovsdb_vswitch_remove_port(rep, argv[3], &txn);
        rc = report(o, err, txn, NULL, -1);
    } else if (!strcmp(cmd, "iface") && argc >= 4) {
        parse_opts(argc - 4, argv + 4, &op);
        long long ofport;
        char *ierr = NULL;
        const char *e;
        if (op.wait_ms >= 0) {
            err = ovsdb_vswitch_wait_iface(o, argv[3], op.wait_ms, &ofport,
                                           &ierr);
        } else {
            err = ovsdb_vswitch_iface_status(rep, argv[3], &ofport, &e);
            ierr = e ? strdup(e) : NULL;
        }
        print_json(json_pack("{s:b, s:I, s:o}", "found", err != ENOENT,
                             "ofport", (json_int_t) ofport, "error",
                             ierr ? json_string(ierr) : json_null()));
        free(ierr);
    } else {
        usage();
    }
    json_decref(op.other_config);
    json_decref(op.options);
    json_decref(op.external_ids);
    ovsdb_destroy(o);
    return rc;
}
