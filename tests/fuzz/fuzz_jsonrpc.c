/* fuzz_jsonrpc.c: libFuzzer target for the OVSDB client's input path.
 *
 * The input is a byte stream as ovsdb-server would send it, cut into
 * chunks at the positions given by its first byte (so chunk boundaries are
 * fuzzed too).  Each complete object goes through jsonrpc_msg_from_json();
 * a reply whose result is an object is applied as a fresh monitor_cond
 * reply (<table-updates2>, with the kinds of the columns ovsdb_vswitch.c
 * reads) or, failing that, a monitor reply, an "update2" or "update"
 * notification as an update, as ctrl/ovsdb.c does.
 * After each applied update the idempotent operations of ovsdb_vswitch.c
 * run against the (adversarial) replica and their transactions are
 * serialised, so malformed rows must not crash them either.  Corpus:
 * tests/fuzz/corpus/fuzz_jsonrpc/ (real ovsdb-server traffic). */
#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/vlog.h"
#include "ctrl/jsonrpc.h"
#include "ctrl/ovsdb_replica.h"
#include "ctrl/ovsdb_txn.h"
#include "ctrl/ovsdb_vswitch.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Kinds and defaults of columns, as ctrl/ovsdb.c derives them from the
 * Open_vSwitch schema. */
static const char columns[] =
    "{\"Open_vSwitch\":{\"bridges\":[1,[\"set\",[]]],\"external_ids\":[2,[\"map\",[]]]},"
    "\"Bridge\":{\"name\":[0,\"\"],\"ports\":[1,[\"set\",[]]],"
    "\"datapath_type\":[0,\"\"],\"fail_mode\":[0,[\"set\",[]]],"
    "\"protocols\":[0,[\"set\",[]]],\"controller\":[1,[\"set\",[]]],"
    "\"other_config\":[2,[\"map\",[]]]},"
    "\"Port\":{\"name\":[0,\"\"],\"interfaces\":[1,[\"set\",[]]],"
    "\"external_ids\":[2,[\"map\",[]]],\"tag\":[0,[\"set\",[]]]},"
    "\"Interface\":{\"name\":[0,\"\"],\"type\":[0,\"\"],\"options\":[2,[\"map\",[]]],"
    "\"external_ids\":[2,[\"map\",[]]],\"ofport\":[0,[\"set\",[]]],"
    "\"ofport_request\":[0,[\"set\",[]]],\"error\":[0,[\"set\",[]]],"
    "\"statistics\":[2,[\"map\",[]]]},"
    "\"Controller\":{\"target\":[0,\"\"]}}";

static void
exercise_ops(const struct ovsdb_replica *r)
{
    static const char *const names[] = { "br0", "br-int", "p1", "tun0" };
    struct ovsdb_txn *txn;
    long long ofport;
    const char *err;
    json_t *kv = json_pack("{s:s}", "vm", "1");
    for (size_t i = 0; i < sizeof names / sizeof *names; i++) {
        struct ovsdb_vswitch_bridge b = {
            .name = names[i], .datapath_type = "netdev",
            .fail_mode = "secure", .protocols = "OpenFlow13",
            .controller = "tcp:127.0.0.1:6653", .other_config = kv,
        };
        struct ovsdb_vswitch_tunnel t = {
            .bridge = names[(i + 1) % 4], .name = names[i], .type = "vxlan",
            .remote_ip = "192.0.2.1", .external_ids = kv,
        };
        struct ovsdb_txn *(txns[4]) = { NULL, NULL, NULL, NULL };
        ovsdb_vswitch_ensure_bridge(r, &b, &txns[0]);
        ovsdb_vswitch_ensure_tunnel(r, &t, &txns[1]);
        ovsdb_vswitch_remove_port(r, names[i], &txns[2]);
        ovsdb_vswitch_remove_bridge(r, names[i], &txns[3]);
        for (int k = 0; k < 4; k++) {
            if ((txn = txns[k])) {
                json_decref(ovsdb_txn_params(txn, "Open_vSwitch"));
                ovsdb_txn_destroy(txn);
            }
        }
        ovsdb_vswitch_iface_status(r, names[i], &ofport, &err);
    }
    json_decref(kv);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static bool init;
    if (!init) {
        vlog_set_level(VLOG_ERR);
        init = true;
    }
    if (size < 1) {
        return 0;
    }
    size_t chunk = data[0] ? data[0] : 256;
    data++;
    size--;

    struct jsonrpc_splitter s;
    struct ovsdb_replica r;
    jsonrpc_splitter_init(&s);
    s.max_msg = 1 << 20;
    ovsdb_replica_init(&r);
    ovsdb_replica_set_columns(&r, json_loads(columns, 0, NULL));
    for (size_t off = 0; off < size; off += chunk) {
        size_t n = size - off < chunk ? size - off : chunk;
        jsonrpc_splitter_feed(&s, data + off, n);
        for (;;) {
            json_t *j;
            const char *why;
            int err = jsonrpc_splitter_next(&s, &j, &why);
            if (err) {
                if (err != EAGAIN) {
                    goto out;           /* The session would disconnect. */
                }
                break;
            }
            struct jsonrpc_msg *m;
            if (!jsonrpc_msg_from_json(j, &m, &why)) {
                json_t *back = jsonrpc_msg_to_json(m);
                json_decref(back);
                if (m->type == JSONRPC_REPLY && json_is_object(m->result)) {
                    ovsdb_replica_clear(&r);
                    if (ovsdb_replica_apply2(&r, m->result, &why)) {
                        ovsdb_replica_apply(&r, m->result, &why);
                    }
                    exercise_ops(&r);
                } else if (m->type == JSONRPC_REPLY) {
                    char *msg = NULL;
                    ovsdb_txn_check_result(m->result, 2, &msg);
                    free(msg);
                } else if (m->type == JSONRPC_NOTIFY
                           && !strcmp(m->method, "update2")
                           && json_array_size(m->params) == 2
                           && !ovsdb_replica_apply2(
                               &r, json_array_get(m->params, 1), &why)) {
                    exercise_ops(&r);
                } else if (m->type == JSONRPC_NOTIFY
                           && !strcmp(m->method, "update")
                           && json_array_size(m->params) == 2
                           && !ovsdb_replica_apply(
                               &r, json_array_get(m->params, 1), &why)) {
                    exercise_ops(&r);
                }
                jsonrpc_msg_destroy(m);
            }
            json_decref(j);
        }
    }
out:
    ovsdb_replica_uninit(&r);
    jsonrpc_splitter_uninit(&s);
    return 0;
}
