/* Unit tests for the OVSDB client's pure parts: datum encoding
 * (ctrl/ovsdb_datum.c), the transact builder and reply checker
 * (ctrl/ovsdb_txn.c, golden JSON), the monitor replica
 * (ctrl/ovsdb_replica.c: initial reply, insert, modify, delete, malformed
 * updates leave it untouched) and the idempotent vswitch operations
 * (ctrl/ovsdb_vswitch.c: golden transactions, no-ops, drift repair), and
 * the session state machine (ctrl/ovsdb.c) against a scripted fake server
 * on a unix socket: monitor, echo, update-before-reply, malformed input,
 * reconnect and re-monitor. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>
#include <cmocka.h>

#include "ctrl/jsonrpc.h"
#include "ctrl/ovsdb.h"
#include "ctrl/ovsdb_datum.h"
#include "ctrl/ovsdb_replica.h"
#include "ctrl/ovsdb_txn.h"
#include "ctrl/ovsdb_vswitch.h"

#define U_OVS  "00000000-0000-0000-0000-000000000001"
#define U_BR   "00000000-0000-0000-0000-0000000000b1"
#define U_PORT "00000000-0000-0000-0000-0000000000a1"
#define U_IF   "00000000-0000-0000-0000-0000000000c1"
#define U_LP   "00000000-0000-0000-0000-0000000000a0"

/* Compact, key-sorted dump of 'j' (consumed); caller frees. */
static char *
dump(json_t *j)
{
    char *s = json_dumps(j, JSON_COMPACT | JSON_SORT_KEYS | JSON_ENCODE_ANY);
    json_decref(j);
    return s;
}

static void
assert_json(json_t *j, const char *want)
{
    char *s = dump(j);
    assert_non_null(s);
    if (strcmp(s, want)) {
        fail_msg("got  %s\nwant %s", s, want);
    }
    free(s);
}

static void
test_datum(void **state)
{
    (void) state;
    assert_json(ovsdb_datum_uuid(U_BR), "[\"uuid\",\"" U_BR "\"]");
    assert_json(ovsdb_datum_named_uuid("x"), "[\"named-uuid\",\"x\"]");
    assert_json(ovsdb_datum_empty(), "[\"set\",[]]");
    assert_json(ovsdb_datum_set(json_pack("[ii]", 1, 2)), "[\"set\",[1,2]]");
    assert_json(ovsdb_datum_map(json_pack("{s:s,s:s}", "z", "1", "a", "2")),
                "[\"map\",[[\"a\",\"2\"],[\"z\",\"1\"]]]");
    assert_null(ovsdb_datum_map(json_array()));
    assert_true(ovsdb_datum_is_uuid_string(U_BR));
    assert_false(ovsdb_datum_is_uuid_string("00000000-0000-0000-0000-00000000b1"));
    assert_false(ovsdb_datum_is_uuid_string("0000000000000-0000-0000-0000000000b1"));

    json_t *set = json_loads("[\"set\",[[\"uuid\",\"" U_BR "\"],"
                             "[\"uuid\",\"" U_IF "\"]]]", 0, NULL);
    assert_int_equal(ovsdb_datum_n(set), 2);
    assert_true(ovsdb_datum_has_uuid(set, U_IF));
    assert_false(ovsdb_datum_has_uuid(set, U_OVS));
    assert_string_equal(ovsdb_datum_get_uuid(ovsdb_datum_at(set, 1)), U_IF);
    json_decref(set);
    json_t *atom = json_loads("[\"uuid\",\"" U_BR "\"]", 0, NULL);
    assert_int_equal(ovsdb_datum_n(atom), 1);           /* Bare atom. */
    assert_true(ovsdb_datum_has_uuid(atom, U_BR));
    json_decref(atom);
    json_t *map = json_loads("[\"map\",[[\"k\",\"v\"],[\"n\",1]]]", 0, NULL);
    assert_string_equal(ovsdb_datum_map_get(map, "k"), "v");
    assert_null(ovsdb_datum_map_get(map, "n"));
    assert_null(ovsdb_datum_map_get(map, "x"));
    assert_int_equal(ovsdb_datum_n(map), 0);
    json_decref(map);
    long long v;
    json_t *i = json_integer(5), *e = ovsdb_datum_empty();
    assert_true(ovsdb_datum_integer(i, &v) && v == 5);
    assert_false(ovsdb_datum_integer(e, &v));
    assert_null(ovsdb_datum_string(e));
    json_decref(i);
    json_decref(e);
}

static void
test_txn_builder(void **state)
{
    (void) state;
    struct ovsdb_txn *txn = ovsdb_txn_create();
    assert_int_equal(ovsdb_txn_insert(txn, "Bridge",
                                      json_pack("{s:s}", "name", "br0"),
                                      "nb"), 0);
    assert_int_equal(ovsdb_txn_update(txn, "Bridge", ovsdb_txn_where_uuid(U_BR),
                                      json_pack("{s:s}", "fail_mode",
                                                "secure")), 0);
    assert_int_equal(ovsdb_txn_mutate(
        txn, "Open_vSwitch", ovsdb_txn_where_uuid(U_OVS),
        json_pack("[o]", ovsdb_txn_mutation(
            "bridges", "insert",
            ovsdb_datum_set(json_pack("[o]", ovsdb_datum_named_uuid("nb")))))),
        0);
    assert_int_equal(ovsdb_txn_wait(txn, "Port",
                                    ovsdb_txn_where_eq("name",
                                                       json_string("p")),
                                    json_pack("[s]", "name"), true,
                                    json_array(), 0), 0);
    assert_int_equal(ovsdb_txn_delete(txn, "Queue",
                                      ovsdb_txn_where_uuid(U_IF)), 0);
    assert_int_equal(ovsdb_txn_comment(txn, "hi"), 0);
    assert_int_equal(ovsdb_txn_n_ops(txn), 6);
    assert_json(ovsdb_txn_params(txn, "Open_vSwitch"),
        "[\"Open_vSwitch\","
        "{\"op\":\"insert\",\"row\":{\"name\":\"br0\"},\"table\":\"Bridge\","
        "\"uuid-name\":\"nb\"},"
        "{\"op\":\"update\",\"row\":{\"fail_mode\":\"secure\"},"
        "\"table\":\"Bridge\",\"where\":[[\"_uuid\",\"==\",[\"uuid\",\"" U_BR
        "\"]]]},"
        "{\"mutations\":[[\"bridges\",\"insert\",[\"set\",[[\"named-uuid\","
        "\"nb\"]]]]],\"op\":\"mutate\",\"table\":\"Open_vSwitch\","
        "\"where\":[[\"_uuid\",\"==\",[\"uuid\",\"" U_OVS "\"]]]},"
        "{\"columns\":[\"name\"],\"op\":\"wait\",\"rows\":[],\"table\":\"Port\","
        "\"timeout\":0,\"until\":\"==\",\"where\":[[\"name\",\"==\",\"p\"]]},"
        "{\"op\":\"delete\",\"table\":\"Queue\",\"where\":[[\"_uuid\",\"==\","
        "[\"uuid\",\"" U_IF "\"]]]},"
        "{\"comment\":\"hi\",\"op\":\"comment\"}]");
    ovsdb_txn_destroy(txn);
    ovsdb_txn_destroy(NULL);
}

static void
test_txn_check_result(void **state)
{
    (void) state;
    static const struct {
        const char *reply;
        size_t n_ops;
        int err;
        const char *msg;
    } cases[] = {
        { "[{\"uuid\":[\"uuid\",\"" U_BR "\"]},{}]", 2, 0, NULL },
        { "[{},{\"error\":\"constraint violation\",\"details\":\"d\"},null]",
          3, EIO, "operation 1: constraint violation: d" },
        { "[{},{},{\"error\":\"referential integrity violation\"}]", 2, EIO,
          "commit after operation 1: referential integrity violation" },
        { "[{}]", 2, EPROTO, "transact reply has too few results" },
        { "{}", 1, EPROTO, "transact reply is not an array" },
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        json_t *r = json_loads(cases[i].reply, 0, NULL);
        char *msg;
        assert_int_equal(ovsdb_txn_check_result(r, cases[i].n_ops, &msg),
                         cases[i].err);
        if (cases[i].msg) {
            assert_string_equal(msg, cases[i].msg);
        } else {
            assert_null(msg);
            assert_string_equal(ovsdb_txn_insert_uuid(r, 0), U_BR);
            assert_null(ovsdb_txn_insert_uuid(r, 1));
        }
        free(msg);
        json_decref(r);
    }
}

static void
apply_ok(struct ovsdb_replica *r, const char *updates)
{
    json_t *u = json_loads(updates, 0, NULL);
    const char *why;
    assert_non_null(u);
    assert_int_equal(ovsdb_replica_apply(r, u, &why), 0);
    json_decref(u);
}

/* A replica holding Open_vSwitch, bridge br0 with local port br0 and port
 * p1 (interface p1, internal, external_ids vm=1). */
#define INITIAL \
    "{\"Open_vSwitch\":{\"" U_OVS "\":{\"new\":{\"bridges\":[\"uuid\",\"" U_BR \
    "\"]}}}," \
    "\"Bridge\":{\"" U_BR "\":{\"new\":{\"name\":\"br0\",\"datapath_type\":" \
    "\"netdev\",\"fail_mode\":\"secure\",\"protocols\":\"OpenFlow13\"," \
    "\"controller\":[\"set\",[]],\"other_config\":[\"map\",[[\"hwaddr\"," \
    "\"02:00:00:00:00:01\"]]],\"ports\":[\"set\",[[\"uuid\",\"" U_LP "\"]," \
    "[\"uuid\",\"" U_PORT "\"]]]}}}," \
    "\"Port\":{\"" U_PORT "\":{\"new\":{\"name\":\"p1\",\"interfaces\":" \
    "[\"uuid\",\"" U_IF "\"],\"external_ids\":[\"map\",[[\"vm\",\"1\"]]]}}}," \
    "\"Interface\":{\"" U_IF "\":{\"new\":{\"name\":\"p1\",\"type\":" \
    "\"internal\",\"options\":[\"map\",[]],\"ofport\":[\"set\",[]]," \
    "\"error\":[\"set\",[]],\"external_ids\":[\"map\",[[\"vm\",\"1\"]]]}}}}"

static void
test_replica(void **state)
{
    (void) state;
    struct ovsdb_replica r;
    ovsdb_replica_init(&r);
    apply_ok(&r, INITIAL);
    const char *uuid;
    assert_non_null(ovsdb_replica_find(&r, "Bridge", "name", "br0", &uuid));
    assert_string_equal(uuid, U_BR);
    assert_null(ovsdb_replica_find(&r, "Bridge", "name", "br1", NULL));
    long long ofport;
    const char *err;
    assert_int_equal(ovsdb_vswitch_iface_status(&r, "p1", &ofport, &err), 0);
    assert_int_equal(ofport, 0);
    assert_null(err);
    assert_int_equal(ovsdb_vswitch_iface_status(&r, "zz", &ofport, &err),
                     ENOENT);

    /* Modify (vswitchd assigns ofport / reports an error). */
    uint64_t seq = r.seqno;
    apply_ok(&r, "{\"Interface\":{\"" U_IF "\":{\"old\":{\"ofport\":[\"set\","
                 "[]]},\"new\":{\"name\":\"p1\",\"type\":\"internal\","
                 "\"ofport\":7,\"error\":\"oops\"}}}}");
    assert_true(r.seqno > seq);
    assert_int_equal(ovsdb_vswitch_iface_status(&r, "p1", &ofport, &err), 0);
    assert_int_equal(ofport, 7);
    assert_string_equal(err, "oops");

    /* Malformed updates are rejected whole: the valid first table must not
     * have been applied. */
    static const char *const bad[] = {
        "[]",
        "{\"Port\":[]}",
        "{\"Port\":{\"not-a-uuid\":{\"new\":{}}}}",
        "{\"Port\":{\"" U_PORT "\":{}}}",
        "{\"Port\":{\"" U_PORT "\":{\"new\":1}}}",
        "{\"Bridge\":{\"" U_BR "\":{\"old\":{}}},"
        "\"Port\":{\"" U_PORT "\":{\"old\":[]}}}",
    };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        json_t *u = json_loads(bad[i], 0, NULL);
        assert_non_null(u);
        seq = r.seqno;
        assert_int_equal(ovsdb_replica_apply(&r, u, &err), EPROTO);
        assert_non_null(err);
        assert_int_equal(r.seqno, seq);
        json_decref(u);
    }
    assert_non_null(ovsdb_replica_row(&r, "Bridge", U_BR));

    /* The name index follows a rename. */
    apply_ok(&r, "{\"Port\":{\"" U_PORT "\":{\"new\":{\"name\":\"p2\","
                 "\"interfaces\":[\"uuid\",\"" U_IF "\"]}}}}");
    assert_null(ovsdb_replica_find(&r, "Port", "name", "p1", NULL));
    assert_non_null(ovsdb_replica_find(&r, "Port", "name", "p2", &uuid));
    assert_string_equal(uuid, U_PORT);
    /* A column other than name is scanned. */
    assert_non_null(ovsdb_replica_find(&r, "Interface", "type", "internal", &uuid));
    assert_string_equal(uuid, U_IF);

    /* Delete. */
    apply_ok(&r, "{\"Port\":{\"" U_PORT "\":{\"old\":{\"name\":\"p2\"}}}}");
    assert_null(ovsdb_replica_row(&r, "Port", U_PORT));
    assert_null(ovsdb_replica_find(&r, "Port", "name", "p2", NULL));
    assert_int_equal(json_object_size(ovsdb_replica_table(&r, "Port")), 0);
    ovsdb_replica_clear(&r);
    assert_null(ovsdb_replica_table(&r, "Bridge"));
    ovsdb_replica_uninit(&r);
}

/* The names in a take, sorted and joined by commas ("*" for all). */
static char *
taken(struct ovsdb_replica *r)
{
    bool all;
    json_t *c = ovsdb_replica_take_changes(r, &all);
    static char buf[256];
    buf[0] = 0;
    if (all) {
        assert_null(c);
        return strcpy(buf, "*");
    }
    assert_non_null(c);
    const char *names[16];
    size_t n = 0;
    const char *k;
    json_t *v;
    json_object_foreach(c, k, v) {
        assert_true(n < 16);
        names[n++] = k;
    }
    for (size_t i = 0; i < n; i++) {
        for (size_t j = i + 1; j < n; j++) {
            if (strcmp(names[j], names[i]) < 0) {
                const char *t = names[i];
                names[i] = names[j];
                names[j] = t;
            }
        }
        strcat(strcat(buf, i ? "," : ""), names[i]);
    }
    json_decref(c);
    return buf;
}

static void
test_replica_changes(void **state)
{
    (void) state;
    static const char *const quiet[] = {"statistics", NULL};
    struct ovsdb_replica r;
    ovsdb_replica_init(&r);
    apply_ok(&r, INITIAL);
    assert_string_equal(taken(&r), "*");     /* not tracking: all */
    ovsdb_replica_track(&r, quiet);
    assert_string_equal(taken(&r), "*");     /* until the first take */
    assert_string_equal(taken(&r), "");
    /* A counter alone is quiet; with another column it counts. */
    apply_ok(&r, "{\"Interface\":{\"" U_IF "\":{\"old\":{\"statistics\":[\"map\",[]]},"
                 "\"new\":{\"name\":\"p1\",\"statistics\":[\"map\",[[\"rx\",1]]]}}}}");
    assert_string_equal(taken(&r), "");
    apply_ok(&r, "{\"Interface\":{\"" U_IF "\":{\"old\":{\"statistics\":[\"map\",[]],"
                 "\"ofport\":[\"set\",[]]},\"new\":{\"name\":\"p1\",\"ofport\":3}}}}");
    assert_string_equal(taken(&r), "p1");
    /* A rename counts both names, an insert and a delete theirs; the
     * Bridge's own change (its ports) counts its name. */
    apply_ok(&r, "{\"Port\":{\"" U_PORT "\":{\"old\":{\"name\":\"p1\"},"
                 "\"new\":{\"name\":\"p2\",\"interfaces\":[\"uuid\",\"" U_IF "\"]}}},"
                 "\"Bridge\":{\"" U_BR "\":{\"old\":{\"ports\":[\"set\",[]]},"
                 "\"new\":{\"name\":\"br0\"}}}}");
    apply_ok(&r, "{\"Port\":{\"" U_LP "\":{\"new\":{\"name\":\"p9\"}}}}");
    assert_string_equal(taken(&r), "br0,p1,p2,p9");
    apply_ok(&r, "{\"Port\":{\"" U_LP "\":{\"old\":{\"name\":\"p9\"}}}}");
    assert_string_equal(taken(&r), "p9");
    /* A malformed update gathers nothing; a clear is everything. */
    json_t *u = json_loads("{\"Port\":{\"" U_PORT "\":{}}}", 0, NULL);
    const char *err;
    assert_int_equal(ovsdb_replica_apply(&r, u, &err), EPROTO);
    json_decref(u);
    assert_string_equal(taken(&r), "");
    ovsdb_replica_clear(&r);
    apply_ok(&r, INITIAL);
    assert_string_equal(taken(&r), "*");
    assert_string_equal(taken(&r), "");
    ovsdb_replica_uninit(&r);
}

/* The UUIDs in a key index's set, sorted and joined by commas. */
static char *
keyed(const struct ovsdb_replica *r, const char *prefix)
{
    bool indexed;
    const json_t *set = ovsdb_replica_key_rows(r, "Interface", "external_ids", "vm-id",
                                               prefix, &indexed);
    static char buf[256];
    assert_true(indexed);
    buf[0] = 0;
    const char *k;
    json_t *v;
    json_object_foreach((json_t *) set, k, v) {
        strcat(strcat(buf, buf[0] ? "," : ""), k + strlen(k) - 2);  /* the UUID's tail */
    }
    return buf;
}

static void
test_replica_key_index(void **state)
{
    (void) state;
    struct ovsdb_replica r;
    ovsdb_replica_init(&r);
    assert_int_equal(ovsdb_replica_index_key(&r, "Interface", "external_ids", "vm-id", 4), 0);
    assert_int_equal(ovsdb_replica_index_key(&r, "Port", "external_ids", "x", 0), 0);
    assert_int_equal(ovsdb_replica_index_key(&r, "Port", "external_ids", "y", 0), ENOSPC);
    bool indexed;
    assert_null(ovsdb_replica_key_rows(&r, "Interface", "external_ids", "other", "abcd",
                                       &indexed));
    assert_false(indexed);
    apply_ok(&r, "{\"Interface\":{"
                 "\"" U_IF "\":{\"new\":{\"name\":\"a\",\"external_ids\":"
                 "[\"map\",[[\"vm-id\",\"abcd1234\"]]]}},"
                 "\"" U_PORT "\":{\"new\":{\"name\":\"b\",\"external_ids\":"
                 "[\"map\",[[\"vm-id\",\"abcd9999\"]]]}},"
                 "\"" U_LP "\":{\"new\":{\"name\":\"c\",\"external_ids\":"
                 "[\"map\",[]]}}}}");
    /* By the first 4 characters (a longer prefix is cut to them). */
    assert_string_equal(keyed(&r, "abcd"), "c1,a1");
    assert_string_equal(keyed(&r, "abcdffff"), "c1,a1");
    assert_string_equal(keyed(&r, "zzzz"), "");
    /* A value changed moves the row; a key removed, or the row, drops it. */
    apply_ok(&r, "{\"Interface\":{\"" U_IF "\":{\"old\":{\"external_ids\":[\"map\",[]]},"
                 "\"new\":{\"name\":\"a\",\"external_ids\":"
                 "[\"map\",[[\"vm-id\",\"zzzz\"]]]}},"
                 "\"" U_LP "\":{\"old\":{\"external_ids\":[\"map\",[]]},"
                 "\"new\":{\"name\":\"c\",\"external_ids\":"
                 "[\"map\",[[\"vm-id\",\"ab\"]]]}}}}");
    assert_string_equal(keyed(&r, "abcd"), "a1");
    assert_string_equal(keyed(&r, "zzzz"), "c1");
    assert_string_equal(keyed(&r, "ab"), "a0");
    apply_ok(&r, "{\"Interface\":{\"" U_PORT "\":{\"old\":{\"name\":\"b\"}}}}");
    assert_string_equal(keyed(&r, "abcd"), "");
    ovsdb_replica_clear(&r);
    assert_string_equal(keyed(&r, "zzzz"), "");
    ovsdb_replica_uninit(&r);
}

/* Runs an operation's result through the golden check. */
static void
assert_txn(struct ovsdb_txn *txn, const char *want)
{
    assert_non_null(txn);
    assert_json(ovsdb_txn_params(txn, "DB"), want);
    ovsdb_txn_destroy(txn);
}

/* The difference 'diff' (JSON text) applied to 'old' (JSON text, NULL:
 * none) by 'fn'; its compact dump or "NULL" (caller frees). */
static char *
diffed(json_t *(*fn)(const json_t *, const json_t *), const char *old, const char *diff)
{
    json_t *o = old ? json_loads(old, JSON_DECODE_ANY, NULL) : NULL;
    json_t *d = json_loads(diff, JSON_DECODE_ANY, NULL);
    assert_non_null(d);
    json_t *r = fn(o, d);
    json_decref(o);
    json_decref(d);
    return r ? dump(r) : strdup("NULL");
}

static void
assert_diffed(json_t *(*fn)(const json_t *, const json_t *), const char *old,
              const char *diff, const char *want)
{
    char *got = diffed(fn, old, diff);
    if (strcmp(got, want)) {
        fail_msg("%s + %s: got %s, want %s", old ? old : "(none)", diff, got, want);
    }
    free(got);
}

/* Monitor_cond's differences of sets and maps (ovsdb-server(7) 4.1.14). */
static void
test_datum_diff(void **state)
{
    (void) state;
    json_t *(*set)(const json_t *, const json_t *) = ovsdb_datum_set_apply_diff;
    json_t *(*map)(const json_t *, const json_t *) = ovsdb_datum_map_apply_diff;
    /* A port joins a bridge of two: one UUID, kept order, added last. */
    assert_diffed(set, "[\"set\",[[\"uuid\",\"" U_LP "\"],[\"uuid\",\"" U_PORT "\"]]]",
                  "[\"uuid\",\"" U_IF "\"]",
                  "[\"set\",[[\"uuid\",\"" U_LP "\"],[\"uuid\",\"" U_PORT "\"],"
                  "[\"uuid\",\"" U_IF "\"]]]");
    /* ...and leaves it: one element left is the bare atom. */
    assert_diffed(set, "[\"set\",[[\"uuid\",\"" U_LP "\"],[\"uuid\",\"" U_PORT "\"]]]",
                  "[\"set\",[[\"uuid\",\"" U_PORT "\"]]]", "[\"uuid\",\"" U_LP "\"]");
    /* An optional value: none -> 5 -> 6 -> none. */
    assert_diffed(set, "[\"set\",[]]", "5", "5");
    assert_diffed(set, NULL, "5", "5");
    assert_diffed(set, "5", "[\"set\",[5,6]]", "6");
    assert_diffed(set, "6", "6", "[\"set\",[]]");
    /* Not a set's difference, or not an old set: refused. */
    assert_diffed(set, "[\"set\",[]]", "{}", "NULL");
    assert_diffed(set, "[\"set\",[]]", "[\"map\",[]]", "NULL");
    assert_diffed(set, "[\"set\",[]]", "[\"set\",[null]]", "NULL");
    assert_diffed(set, "[\"map\",[]]", "1", "NULL");

    /* Maps: a key added, one removed (same value), one changed. */
    assert_diffed(map, "[\"map\",[[\"a\",\"1\"],[\"b\",\"2\"],[\"c\",\"3\"]]]",
                  "[\"map\",[[\"b\",\"2\"],[\"c\",\"4\"],[\"d\",\"5\"]]]",
                  "[\"map\",[[\"a\",\"1\"],[\"c\",\"4\"],[\"d\",\"5\"]]]");
    assert_diffed(map, NULL, "[\"map\",[[\"k\",1]]]", "[\"map\",[[\"k\",1]]]");
    assert_diffed(map, "[\"map\",[[\"k\",1]]]", "[\"map\",[[\"k\",1]]]",
                  "[\"map\",[]]");
    assert_diffed(map, "[\"map\",[]]", "[\"set\",[]]", "NULL");
    assert_diffed(map, "[\"map\",[]]", "[\"map\",[[\"k\"]]]", "NULL");
    assert_diffed(map, "[\"map\",[]]", "[\"map\",[[\"k\",1],[\"k\",2]]]", "NULL");
    assert_diffed(map, "[\"set\",[]]", "[\"map\",[]]", "NULL");
}

/* The kinds and defaults of the columns the update2 tests use. */
static json_t *
update2_columns(void)
{
    json_t *c = json_loads(
        "{\"Bridge\":{\"name\":[0,\"\"],\"ports\":[1,[\"set\",[]]],"
        "\"other_config\":[2,[\"map\",[]]]},"
        "\"Interface\":{\"name\":[0,\"\"],\"type\":[0,\"\"],"
        "\"ofport\":[0,[\"set\",[]]],\"error\":[0,[\"set\",[]]],"
        "\"statistics\":[2,[\"map\",[]]]}}", 0, NULL);
    assert_non_null(c);
    return c;
}

static int
apply2(struct ovsdb_replica *r, const char *updates, const char **why)
{
    json_t *u = json_loads(updates, 0, NULL);
    assert_non_null(u);
    int rc = ovsdb_replica_apply2(r, u, why);
    json_decref(u);
    return rc;
}

/* Rows of <table-updates2>: defaults filled in, differences applied, the
 * changed names kept as with whole rows; a bad update changes nothing. */
static void
test_replica_update2(void **state)
{
    (void) state;
    static const char *const quiet[] = {"statistics", NULL};
    struct ovsdb_replica r;
    ovsdb_replica_init(&r);
    const char *why;
    assert_int_equal(apply2(&r, "{\"Bridge\":{\"" U_BR "\":{\"initial\":{}}}}", &why),
                     EPROTO);                       /* no kinds yet */
    ovsdb_replica_set_columns(&r, update2_columns());
    ovsdb_replica_track(&r, quiet);
    assert_int_equal(apply2(&r,
        "{\"Bridge\":{\"" U_BR "\":{\"initial\":{\"name\":\"br0\","
        "\"ports\":[\"uuid\",\"" U_LP "\"]}}},"
        "\"Interface\":{\"" U_IF "\":{\"initial\":{\"name\":\"p1\"}}}}", &why), 0);
    bool all;
    json_decref(ovsdb_replica_take_changes(&r, &all));
    const json_t *br = ovsdb_replica_find(&r, "Bridge", "name", "br0", NULL);
    assert_json(json_incref((json_t *) br),
                "{\"name\":\"br0\",\"other_config\":[\"map\",[]],"
                "\"ports\":[\"uuid\",\"" U_LP "\"]}");
    const json_t *itf = ovsdb_replica_row(&r, "Interface", U_IF);
    assert_json(json_incref((json_t *) itf),
                "{\"error\":[\"set\",[]],\"name\":\"p1\",\"ofport\":[\"set\",[]],"
                "\"statistics\":[\"map\",[]],\"type\":\"\"}");

    /* A port joins: the bridge's set grows by the one UUID sent; the
     * interface is numbered; a counter alone stays quiet. */
    uint64_t seq = r.seqno;
    assert_int_equal(apply2(&r,
        "{\"Bridge\":{\"" U_BR "\":{\"modify\":{\"ports\":[\"uuid\",\"" U_PORT "\"],"
        "\"other_config\":[\"map\",[[\"k\",\"v\"]]]}}},"
        "\"Interface\":{\"" U_IF "\":{\"modify\":{\"statistics\":"
        "[\"map\",[[\"rx_packets\",1]]]}}}}", &why), 0);
    assert_int_equal(r.seqno, seq + 1);
    br = ovsdb_replica_find(&r, "Bridge", "name", "br0", NULL);
    assert_int_equal(ovsdb_datum_n(json_object_get(br, "ports")), 2);
    assert_true(ovsdb_datum_has_uuid(json_object_get(br, "ports"), U_PORT));
    assert_string_equal(ovsdb_datum_map_get(json_object_get(br, "other_config"), "k"), "v");
    json_t *ch = ovsdb_replica_take_changes(&r, &all);
    assert_false(all);
    assert_json(ch, "{\"br0\":null}");
    assert_int_equal(apply2(&r,
        "{\"Interface\":{\"" U_IF "\":{\"modify\":{\"ofport\":7,\"type\":\"internal\"}}}}",
        &why), 0);
    long long ofport = 0;
    itf = ovsdb_replica_find(&r, "Interface", "name", "p1", NULL);
    assert_true(ovsdb_datum_integer(json_object_get(itf, "ofport"), &ofport));
    assert_int_equal(ofport, 7);
    assert_string_equal(json_string_value(json_object_get(itf, "type")), "internal");
    assert_json(ovsdb_replica_take_changes(&r, &all), "{\"p1\":null}");

    /* Columns of at most one value come whole, as ovsdb-server sends them:
     * a device that could not be opened, then could. */
    assert_int_equal(apply2(&r,
        "{\"Interface\":{\"" U_IF "\":{\"modify\":{\"ofport\":-1,\"error\":\"no device\"}}}}",
        &why), 0);
    itf = ovsdb_replica_find(&r, "Interface", "name", "p1", NULL);
    assert_string_equal(ovsdb_datum_string(json_object_get(itf, "error")), "no device");
    assert_int_equal(apply2(&r,
        "{\"Interface\":{\"" U_IF "\":{\"modify\":{\"ofport\":32768,"
        "\"error\":[\"set\",[]]}}}}", &why), 0);
    itf = ovsdb_replica_find(&r, "Interface", "name", "p1", NULL);
    assert_null(ovsdb_datum_string(json_object_get(itf, "error")));
    assert_true(ovsdb_datum_integer(json_object_get(itf, "ofport"), &ofport));
    assert_int_equal(ofport, 32768);
    assert_int_equal(apply2(&r,
        "{\"Interface\":{\"" U_IF "\":{\"modify\":{\"ofport\":[\"set\",[1,2]]}}}}", &why),
        EPROTO);
    json_decref(ovsdb_replica_take_changes(&r, &all));

    /* Refused whole, nothing changed: a modify of a row not held, of a
     * column without a kind, a malformed difference, two members. */
    static const char *const bad[] = {
        "{\"Bridge\":{\"" U_PORT "\":{\"modify\":{\"name\":\"x\"}}}}",
        "{\"Bridge\":{\"" U_BR "\":{\"modify\":{\"fail_mode\":\"x\"}}}}",
        "{\"Bridge\":{\"" U_BR "\":{\"modify\":{\"name\":\"br1\"}}},"
        "\"Interface\":{\"" U_IF "\":{\"modify\":{\"statistics\":[\"set\",[]]}}}}",
        "{\"Bridge\":{\"" U_BR "\":{\"delete\":null,\"modify\":{}}}}",
        "{\"Bridge\":{\"" U_BR "\":{\"delete\":{}}}}",
        "{\"Bridge\":{\"not-a-uuid\":{\"delete\":null}}}",
        "{\"Interface\":{\"" U_PORT "\":{\"delete\":null}}}",
    };
    seq = r.seqno;
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        assert_int_equal(apply2(&r, bad[i], &why), EPROTO);
        assert_non_null(why);
    }
    assert_int_equal(r.seqno, seq);
    assert_non_null(ovsdb_replica_find(&r, "Bridge", "name", "br0", NULL));

    /* A delete drops the row and its name. */
    assert_int_equal(apply2(&r, "{\"Interface\":{\"" U_IF "\":{\"delete\":null}}}", &why),
                     0);
    assert_null(ovsdb_replica_find(&r, "Interface", "name", "p1", NULL));
    assert_json(ovsdb_replica_take_changes(&r, &all), "{\"p1\":null}");
    ovsdb_replica_uninit(&r);
}

static void
test_vswitch_bridge(void **state)
{
    (void) state;
    struct ovsdb_replica r;
    ovsdb_replica_init(&r);
    struct ovsdb_txn *txn;
    struct ovsdb_vswitch_bridge b = {
        .name = "br9", .datapath_type = "netdev", .fail_mode = "secure",
        .protocols = "OpenFlow13", .controller = "tcp:127.0.0.1:6653",
    };
    /* No Open_vSwitch row yet: cannot link a new bridge anywhere. */
    assert_int_equal(ovsdb_vswitch_ensure_bridge(&r, &b, &txn), ENOENT);
    assert_null(txn);
    apply_ok(&r, INITIAL);
    assert_int_equal(ovsdb_vswitch_ensure_bridge(&r, &b, &txn), 0);
    assert_txn(txn,
        "[\"DB\","
        "{\"columns\":[\"name\"],\"op\":\"wait\",\"rows\":[],\"table\":"
        "\"Bridge\",\"timeout\":0,\"until\":\"==\",\"where\":[[\"name\","
        "\"==\",\"br9\"]]},"
        "{\"op\":\"insert\",\"row\":{\"name\":\"br9\",\"type\":\"internal\"},"
        "\"table\":\"Interface\",\"uuid-name\":\"iface\"},"
        "{\"op\":\"insert\",\"row\":{\"interfaces\":[\"set\",[[\"named-uuid\","
        "\"iface\"]]],\"name\":\"br9\"},\"table\":\"Port\",\"uuid-name\":"
        "\"port\"},"
        "{\"op\":\"insert\",\"row\":{\"target\":\"tcp:127.0.0.1:6653\"},"
        "\"table\":\"Controller\",\"uuid-name\":\"ctl\"},"
        "{\"op\":\"insert\",\"row\":{\"controller\":[\"set\",[[\"named-uuid\","
        "\"ctl\"]]],\"datapath_type\":\"netdev\",\"fail_mode\":\"secure\","
        "\"name\":\"br9\",\"ports\":[\"set\",[[\"named-uuid\",\"port\"]]],"
        "\"protocols\":[\"set\",[\"OpenFlow13\"]]},\"table\":\"Bridge\","
        "\"uuid-name\":\"bridge\"},"
        "{\"mutations\":[[\"bridges\",\"insert\",[\"set\",[[\"named-uuid\","
        "\"bridge\"]]]]],\"op\":\"mutate\",\"table\":\"Open_vSwitch\","
        "\"where\":[[\"_uuid\",\"==\",[\"uuid\",\"" U_OVS "\"]]]}]");

    /* br0 already matches: nothing to do, including a managed
     * other_config key that is already set. */
    json_t *oc = json_pack("{s:s}", "hwaddr", "02:00:00:00:00:01");
    struct ovsdb_vswitch_bridge same = {
        .name = "br0", .datapath_type = "netdev", .fail_mode = "secure",
        .protocols = "OpenFlow13", .other_config = oc,
    };
    assert_int_equal(ovsdb_vswitch_ensure_bridge(&r, &same, &txn), 0);
    assert_null(txn);
    /* Drift: one update with only the differing columns; other_config
     * keeps unmanaged keys. */
    json_object_set_new(oc, "datapath-id", json_string("00000000000000a1"));
    same.fail_mode = "standalone";
    assert_int_equal(ovsdb_vswitch_ensure_bridge(&r, &same, &txn), 0);
    assert_txn(txn,
        "[\"DB\",{\"op\":\"update\",\"row\":{\"fail_mode\":\"standalone\","
        "\"other_config\":[\"map\",[[\"datapath-id\",\"00000000000000a1\"],"
        "[\"hwaddr\",\"02:00:00:00:00:01\"]]]},\"table\":\"Bridge\","
        "\"where\":[[\"_uuid\",\"==\",[\"uuid\",\"" U_BR "\"]]]}]");
    json_decref(oc);

    assert_int_equal(ovsdb_vswitch_remove_bridge(&r, "br0", &txn), 0);
    assert_txn(txn,
        "[\"DB\",{\"mutations\":[[\"bridges\",\"delete\",[\"set\",[[\"uuid\","
        "\"" U_BR "\"]]]]],\"op\":\"mutate\",\"table\":\"Open_vSwitch\","
        "\"where\":[[\"_uuid\",\"==\",[\"uuid\",\"" U_OVS "\"]]]}]");
    assert_int_equal(ovsdb_vswitch_remove_bridge(&r, "nope", &txn), 0);
    assert_null(txn);
    struct ovsdb_vswitch_bridge noname = { .name = "" };
    assert_int_equal(ovsdb_vswitch_ensure_bridge(&r, &noname, &txn), EINVAL);
    ovsdb_replica_uninit(&r);
}

static void
test_vswitch_port(void **state)
{
    (void) state;
    struct ovsdb_replica r;
    ovsdb_replica_init(&r);
    apply_ok(&r, INITIAL);
    struct ovsdb_txn *txn;
    json_t *eid = json_pack("{s:s}", "vm", "1");
    struct ovsdb_vswitch_port p = {
        .bridge = "br0", .name = "p1", .type = "internal",
        .external_ids = eid,
    };
    assert_int_equal(ovsdb_vswitch_ensure_port(&r, &p, &txn), 0);
    assert_null(txn);                                   /* Already there. */
    p.bridge = "br-missing";
    assert_int_equal(ovsdb_vswitch_ensure_port(&r, &p, &txn), ENOENT);

    struct ovsdb_vswitch_tunnel t = {
        .bridge = "br0", .name = "tun0", .type = "vxlan",
        .remote_ip = "192.0.2.2", .dst_port = 4790,
    };
    assert_int_equal(ovsdb_vswitch_ensure_tunnel(&r, &t, &txn), 0);
    assert_txn(txn,
        "[\"DB\","
        "{\"columns\":[\"name\"],\"op\":\"wait\",\"rows\":[],\"table\":\"Port\","
        "\"timeout\":0,\"until\":\"==\",\"where\":[[\"name\",\"==\",\"tun0\"]]},"
        "{\"op\":\"insert\",\"row\":{\"name\":\"tun0\",\"options\":[\"map\","
        "[[\"dst_port\",\"4790\"],[\"key\",\"flow\"],[\"remote_ip\","
        "\"192.0.2.2\"]]],\"type\":\"vxlan\"},\"table\":\"Interface\","
        "\"uuid-name\":\"iface\"},"
        "{\"op\":\"insert\",\"row\":{\"interfaces\":[\"set\",[[\"named-uuid\","
        "\"iface\"]]],\"name\":\"tun0\"},\"table\":\"Port\",\"uuid-name\":"
        "\"port\"},"
        "{\"mutations\":[[\"ports\",\"insert\",[\"set\",[[\"named-uuid\","
        "\"port\"]]]]],\"op\":\"mutate\",\"table\":\"Bridge\",\"where\":"
        "[[\"_uuid\",\"==\",[\"uuid\",\"" U_BR "\"]]]}]");
    t.type = "geneve";
    assert_int_equal(ovsdb_vswitch_ensure_tunnel(&r, &t, &txn), EINVAL);

    /* A port inserted asks for its OpenFlow number; one that exists keeps
     * whatever number it has (nothing to change). */
    struct ovsdb_vswitch_port q = { .bridge = "br0", .name = "vm1", .ofport_request = 32768 };
    assert_int_equal(ovsdb_vswitch_ensure_port(&r, &q, &txn), 0);
    assert_txn(txn,
        "[\"DB\","
        "{\"columns\":[\"name\"],\"op\":\"wait\",\"rows\":[],\"table\":\"Port\","
        "\"timeout\":0,\"until\":\"==\",\"where\":[[\"name\",\"==\",\"vm1\"]]},"
        "{\"op\":\"insert\",\"row\":{\"name\":\"vm1\",\"ofport_request\":32768,"
        "\"options\":[\"map\",[]],\"type\":\"\"},\"table\":\"Interface\","
        "\"uuid-name\":\"iface\"},"
        "{\"op\":\"insert\",\"row\":{\"interfaces\":[\"set\",[[\"named-uuid\","
        "\"iface\"]]],\"name\":\"vm1\"},\"table\":\"Port\",\"uuid-name\":"
        "\"port\"},"
        "{\"mutations\":[[\"ports\",\"insert\",[\"set\",[[\"named-uuid\","
        "\"port\"]]]]],\"op\":\"mutate\",\"table\":\"Bridge\",\"where\":"
        "[[\"_uuid\",\"==\",[\"uuid\",\"" U_BR "\"]]]}]");
    p.bridge = "br0";
    p.ofport_request = 40000;
    assert_int_equal(ovsdb_vswitch_ensure_port(&r, &p, &txn), 0);
    assert_null(txn);

    /* p1 turned into a GRE tunnel with a new external id: Interface and
     * Port updates. */
    struct ovsdb_vswitch_tunnel g = {
        .bridge = "br0", .name = "p1", .type = "gre",
        .remote_ip = "192.0.2.3", .key = "7", .external_ids = eid,
    };
    json_object_set_new(eid, "skyvisor-vm-id", json_string("vm-9"));
    assert_int_equal(ovsdb_vswitch_ensure_tunnel(&r, &g, &txn), 0);
    assert_txn(txn,
        "[\"DB\",{\"op\":\"update\",\"row\":{\"external_ids\":[\"map\",[["
        "\"skyvisor-vm-id\",\"vm-9\"],[\"vm\",\"1\"]]],\"options\":[\"map\","
        "[[\"key\",\"7\"],[\"remote_ip\",\"192.0.2.3\"]]],\"type\":\"gre\"},"
        "\"table\":\"Interface\",\"where\":[[\"_uuid\",\"==\",[\"uuid\",\""
        U_IF "\"]]]},"
        "{\"op\":\"update\",\"row\":{\"external_ids\":[\"map\",[["
        "\"skyvisor-vm-id\",\"vm-9\"],[\"vm\",\"1\"]]]},\"table\":\"Port\","
        "\"where\":[[\"_uuid\",\"==\",[\"uuid\",\"" U_PORT "\"]]]}]");
    json_decref(eid);

    assert_int_equal(ovsdb_vswitch_remove_port(&r, "p1", &txn), 0);
    assert_txn(txn,
        "[\"DB\",{\"mutations\":[[\"ports\",\"delete\",[\"set\",[[\"uuid\","
        "\"" U_PORT "\"]]]]],\"op\":\"mutate\",\"table\":\"Bridge\","
        "\"where\":[[\"_uuid\",\"==\",[\"uuid\",\"" U_BR "\"]]]}]");
    assert_int_equal(ovsdb_vswitch_remove_port(&r, "nope", &txn), 0);
    assert_null(txn);

    /* A port that exists on another bridge is not silently moved. */
    apply_ok(&r, "{\"Bridge\":{\"" U_LP "\":{\"new\":{\"name\":\"br1\","
                 "\"ports\":[\"set\",[]]}}}}");
    struct ovsdb_vswitch_port on_br1 = { .bridge = "br1", .name = "p1" };
    assert_int_equal(ovsdb_vswitch_ensure_port(&r, &on_br1, &txn), EEXIST);
    assert_null(txn);
    ovsdb_replica_uninit(&r);
}

/* ---- session against a scripted fake server ---- */

struct fake {
    int lfd, fd;
    struct jsonrpc_splitter in;
    char dir[32], path[64], target[80];
};

static void
fake_listen(struct fake *f)
{
    strcpy(f->dir, "/tmp/skyv-ovsdb-XXXXXX");
    assert_non_null(mkdtemp(f->dir));
    snprintf(f->path, sizeof f->path, "%s/db.sock", f->dir);
    snprintf(f->target, sizeof f->target, "unix:%s", f->path);
    f->lfd = socket(AF_UNIX, SOCK_STREAM, 0);
    struct sockaddr_un sun = { .sun_family = AF_UNIX };
    strcpy(sun.sun_path, f->path);
    assert_int_equal(bind(f->lfd, (struct sockaddr *) &sun, sizeof sun), 0);
    assert_int_equal(listen(f->lfd, 4), 0);
    f->fd = -1;
}

/* Runs the session until the fake server can accept its connection. */
static void
fake_accept(struct fake *f, struct ovsdb *o)
{
    struct pollfd pfd = { .fd = f->lfd, .events = POLLIN };
    for (int i = 0; i < 300 && poll(&pfd, 1, 0) == 0; i++) {
        ovsdb_wait(o, 10);
    }
    f->fd = accept(f->lfd, NULL, NULL);
    assert_true(f->fd >= 0);
    jsonrpc_splitter_init(&f->in);
}

/* Drives the session while the fake server waits for a message from it:
 * ovsdb_wait() (fake_read), or only ovsdb_keepalive() (fake_read_keepalive,
 * which then waits on the server's side itself). */
static void
drive_run(struct ovsdb *o, int fd)
{
    (void) fd;
    ovsdb_wait(o, 10);
}

static void
drive_keepalive(struct ovsdb *o, int fd)
{
    ovsdb_keepalive(o);
    struct pollfd pfd = { .fd = fd, .events = POLLIN };
    poll(&pfd, 1, 10);
}

/* Drives the session with 'drive' until the fake server has read one
 * message from it; returns it (caller owns). */
static json_t *
fake_read_with(struct fake *f, struct ovsdb *o, void (*drive)(struct ovsdb *, int))
{
    for (int i = 0; i < 300; i++) {
        json_t *j;
        const char *why;
        if (!jsonrpc_splitter_next(&f->in, &j, &why)) {
            return j;
        }
        drive(o, f->fd);
        char buf[4096];
        ssize_t n = recv(f->fd, buf, sizeof buf, MSG_DONTWAIT);
        if (n > 0) {
            jsonrpc_splitter_feed(&f->in, buf, (size_t) n);
        }
    }
    fail_msg("no message from the client");
    return NULL;
}

static json_t *
fake_read(struct fake *f, struct ovsdb *o)
{
    return fake_read_with(f, o, drive_run);
}

static void
fake_send(struct fake *f, const char *text)
{
    assert_int_equal(write(f->fd, text, strlen(text)), (ssize_t) strlen(text));
}

static void
fake_drop(struct fake *f)
{
    close(f->fd);
    f->fd = -1;
    jsonrpc_splitter_uninit(&f->in);
}

/* Reads the session's first request; a schema request is refused (the
 * session goes on with the plain monitor of RFC 7047, and asks no more)
 * and the next one returned (caller owns). */
static json_t *
fake_refuse_schema(struct fake *f, struct ovsdb *o)
{
    json_t *req = fake_read(f, o);
    if (strcmp(json_string_value(json_object_get(req, "method")), "get_schema")) {
        return req;
    }
    assert_string_equal(json_string_value(json_object_get(req, "id")), "schema");
    json_decref(req);
    fake_send(f, "{\"id\":\"schema\",\"error\":\"unknown method\"}");
    return fake_read(f, o);
}

/* Accepts a connection, refuses its schema request, checks the monitor
 * request and answers it with 'initial'. */
static void
fake_monitor(struct fake *f, struct ovsdb *o, const char *initial)
{
    fake_accept(f, o);
    json_t *req = fake_refuse_schema(f, o);
    assert_string_equal(json_string_value(json_object_get(req, "method")),
                        "monitor");
    json_t *tables = json_array_get(json_object_get(req, "params"), 2);
    assert_non_null(json_object_get(tables, "Interface"));
    assert_non_null(json_object_get(tables, "Queue"));
    json_decref(req);
    char reply[4096];
    snprintf(reply, sizeof reply,
             "{\"id\":\"monitor\",\"result\":%s,\"error\":null}", initial);
    fake_send(f, reply);
    assert_int_equal(ovsdb_wait_synced(o, 3000), 0);
}

static void
test_session(void **state)
{
    (void) state;
    struct fake f;
    fake_listen(&f);
    struct ovsdb *o = ovsdb_create(f.target, "Open_vSwitch");
    assert_int_equal(ovsdb_get_state(o), OVSDB_BACKOFF);
    uint64_t id;
    assert_int_equal(ovsdb_transact(o, ovsdb_txn_create(), &id), ENOTCONN);
    fake_monitor(&f, o, INITIAL);
    assert_int_equal(ovsdb_n_syncs(o), 1);
    assert_non_null(ovsdb_replica_find(ovsdb_get_replica(o), "Bridge",
                                       "name", "br0", NULL));

    /* The server's echo is answered with the same params and id. */
    fake_send(&f, "{\"method\":\"echo\",\"params\":[\"x\"],\"id\":\"echo\"}");
    json_t *echo = fake_read(&f, o);
    json_t *want = json_loads("{\"result\":[\"x\"],\"error\":null,"
                              "\"id\":\"echo\"}", 0, NULL);
    assert_true(json_equal(echo, want));
    json_decref(echo);
    json_decref(want);

    /* A transaction whose update arrives before its reply. */
    struct ovsdb_txn *txn = ovsdb_txn_create();
    ovsdb_txn_comment(txn, "t");
    assert_int_equal(ovsdb_transact(o, txn, &id), 0);
    json_t *req = fake_read(&f, o);
    assert_string_equal(json_string_value(json_object_get(req, "method")),
                        "transact");
    assert_int_equal(json_integer_value(json_object_get(req, "id")),
                     (json_int_t) id);
    json_decref(req);
    char text[512];
    snprintf(text, sizeof text,
             "{\"id\":null,\"method\":\"update\",\"params\":[\"skyvisor\","
             "{\"Port\":{\"" U_PORT "\":{\"old\":{}}}}]}"
             "{\"id\":%llu,\"result\":[{}],\"error\":null}",
             (unsigned long long) id);
    fake_send(&f, text);
    json_t *result;
    char *err;
    assert_int_equal(ovsdb_wait_reply(o, id, 3000, &result, &err), 0);
    assert_null(ovsdb_replica_find(ovsdb_get_replica(o), "Port", "name",
                                   "p1", NULL));
    json_decref(result);
    assert_int_equal(ovsdb_poll_reply(o, id, &result, &err), ENOENT);

    /* A JSON-RPC error reply (ovsdb-server omits "result"). */
    assert_int_equal(ovsdb_get_schema(o, &id), 0);
    json_decref(fake_read(&f, o));
    snprintf(text, sizeof text, "{\"id\":%llu,\"error\":\"unknown database\"}",
             (unsigned long long) id);
    fake_send(&f, text);
    assert_int_equal(ovsdb_wait_reply(o, id, 3000, &result, &err), EIO);
    assert_string_equal(err, "\"unknown database\"");
    free(err);

    /* A malformed message drops the session; the pending request fails;
     * the session reconnects and rebuilds the replica from scratch. */
    assert_int_equal(ovsdb_get_schema(o, &id), 0);
    json_decref(fake_read(&f, o));
    fake_send(&f, "{\"method\":\"update\",\"params\":5,\"id\":null}");
    assert_int_equal(ovsdb_wait_reply(o, id, 3000, &result, &err),
                     ECONNRESET);
    assert_false(ovsdb_is_synced(o));
    fake_drop(&f);
    fake_monitor(&f, o, "{\"Open_vSwitch\":{\"" U_OVS "\":{\"new\":{}}}}");
    assert_int_equal(ovsdb_n_syncs(o), 2);
    assert_null(ovsdb_replica_table(ovsdb_get_replica(o), "Bridge"));

    /* A silent peer is detected by the inactivity probe. */
    ovsdb_set_probe_ms(o, 100);
    json_t *probe = fake_read(&f, o);
    assert_string_equal(json_string_value(json_object_get(probe, "method")),
                        "echo");
    json_decref(probe);
    for (int i = 0; i < 100 && ovsdb_is_synced(o); i++) {
        ovsdb_wait(o, 10);
    }
    assert_false(ovsdb_is_synced(o));
    fake_drop(&f);

    ovsdb_destroy(o);
    close(f.lfd);
    unlink(f.path);
    rmdir(f.dir);
}

/* A session monitoring chosen columns asks for them; ovsdb_keepalive()
 * answers the server's echo while leaving an update that came before it
 * for ovsdb_run(), in order. */
static void
test_keepalive(void **state)
{
    (void) state;
    static const char *const if_cols[] = {"name", "ofport", NULL};
    static const struct ovsdb_monitor mon[] = {
        {"Bridge", NULL}, {"Port", NULL}, {"Interface", if_cols}, {"Queue", NULL},
    };
    struct fake f;
    fake_listen(&f);
    struct ovsdb *o = ovsdb_create(f.target, "Open_vSwitch");
    ovsdb_set_monitor(o, mon, sizeof mon / sizeof *mon);
    fake_accept(&f, o);
    json_t *req = fake_refuse_schema(&f, o);
    json_t *tables = json_array_get(json_object_get(req, "params"), 2);
    assert_int_equal(json_object_size(tables), 4);
    json_t *want = json_loads("{\"columns\":[\"name\",\"ofport\"]}", 0, NULL);
    assert_true(json_equal(json_object_get(tables, "Interface"), want));
    assert_int_equal(json_object_size(json_object_get(tables, "Port")), 0);
    json_decref(want);
    json_decref(req);
    char reply[4096];
    snprintf(reply, sizeof reply, "{\"id\":\"monitor\",\"result\":%s,\"error\":null}",
             INITIAL);
    fake_send(&f, reply);
    assert_int_equal(ovsdb_wait_synced(o, 3000), 0);

    uint64_t seq = ovsdb_get_replica(o)->seqno;
    fake_send(&f, "{\"id\":null,\"method\":\"update\",\"params\":[\"skyvisor\","
                  "{\"Port\":{\"" U_PORT "\":{\"old\":{}}}}]}"
                  "{\"method\":\"echo\",\"params\":[\"k\"],\"id\":\"echo\"}");
    json_t *echo = fake_read_with(&f, o, drive_keepalive);
    assert_string_equal(json_string_value(json_object_get(echo, "id")), "echo");
    assert_true(json_is_array(json_object_get(echo, "result")));
    json_decref(echo);
    assert_int_equal(ovsdb_get_replica(o)->seqno, seq);
    assert_non_null(ovsdb_replica_row(ovsdb_get_replica(o), "Port", U_PORT));
    assert_int_equal(ovsdb_timeout_ms(o), 0);       /* held: run at once */
    ovsdb_run(o);
    assert_true(ovsdb_get_replica(o)->seqno > seq);
    assert_null(ovsdb_replica_row(ovsdb_get_replica(o), "Port", U_PORT));
    assert_true(ovsdb_is_synced(o));
    fake_drop(&f);

    ovsdb_destroy(o);
    close(f.lfd);
    unlink(f.path);
    rmdir(f.dir);
}

#define SCHEMA \
    "{\"name\":\"Open_vSwitch\",\"tables\":{" \
    "\"Bridge\":{\"columns\":{\"name\":{\"type\":\"string\"}," \
    "\"ports\":{\"type\":{\"key\":{\"type\":\"uuid\",\"refTable\":\"Port\"}," \
    "\"min\":0,\"max\":\"unlimited\"}}}}," \
    "\"Interface\":{\"columns\":{\"name\":{\"type\":\"string\"}," \
    "\"ofport\":{\"type\":{\"key\":\"integer\",\"min\":0,\"max\":1}}," \
    "\"mtu_request\":{\"type\":{\"key\":\"integer\",\"min\":0,\"max\":1}}," \
    "\"external_ids\":{\"type\":{\"key\":\"string\",\"value\":\"string\"," \
    "\"min\":0,\"max\":\"unlimited\"}}}}}}"

/* Reads the schema request and answers it with SCHEMA, then reads the
 * monitor request (caller owns). */
static json_t *
fake_schema(struct fake *f, struct ovsdb *o)
{
    json_t *req = fake_read(f, o);
    assert_string_equal(json_string_value(json_object_get(req, "method")), "get_schema");
    json_decref(req);
    fake_send(f, "{\"id\":\"schema\",\"result\":" SCHEMA ",\"error\":null}");
    return fake_read(f, o);
}

/* With the schema, a session monitors with monitor_cond and keeps its
 * replica from "update2" differences; a server refusing monitor_cond gets
 * the plain monitor. */
static void
test_session_cond(void **state)
{
    (void) state;
    static const char *const if_cols[] = {"name", "ofport", "external_ids", NULL};
    static const struct ovsdb_monitor mon[] = {{"Bridge", NULL}, {"Interface", if_cols}};
    struct fake f;
    fake_listen(&f);
    struct ovsdb *o = ovsdb_create(f.target, "Open_vSwitch");
    ovsdb_set_monitor(o, mon, sizeof mon / sizeof *mon);
    fake_accept(&f, o);
    json_t *req = fake_schema(&f, o);
    assert_string_equal(json_string_value(json_object_get(req, "method")), "monitor_cond");
    json_t *tables = json_array_get(json_object_get(req, "params"), 2);
    assert_json(json_incref(json_object_get(tables, "Interface")),
                "[{\"columns\":[\"name\",\"ofport\",\"external_ids\"]}]");
    assert_json(json_incref(json_object_get(tables, "Bridge")), "[{}]");
    json_decref(req);
    fake_send(&f, "{\"id\":\"monitor\",\"result\":{"
                  "\"Bridge\":{\"" U_BR "\":{\"initial\":{\"name\":\"br0\","
                  "\"ports\":[\"uuid\",\"" U_LP "\"]}}},"
                  "\"Interface\":{\"" U_IF "\":{\"initial\":{\"name\":\"p1\"}}}},"
                  "\"error\":null}");
    assert_int_equal(ovsdb_wait_synced(o, 3000), 0);
    const struct ovsdb_replica *rep = ovsdb_get_replica(o);
    const json_t *itf = ovsdb_replica_find(rep, "Interface", "name", "p1", NULL);
    assert_json(json_incref((json_t *) itf),
                "{\"external_ids\":[\"map\",[]],\"name\":\"p1\",\"ofport\":[\"set\",[]]}");

    /* A port joins: its UUID alone; the interface gets its number. */
    uint64_t seq = rep->seqno;
    fake_send(&f, "{\"id\":null,\"method\":\"update2\",\"params\":[\"skyvisor\",{"
                  "\"Bridge\":{\"" U_BR "\":{\"modify\":{\"ports\":[\"uuid\",\"" U_PORT "\"],"
                  "\"_version\":[\"uuid\",\"" U_LP "\"]}}},"
                  "\"Interface\":{\"" U_IF "\":{\"modify\":{\"ofport\":3,"
                  "\"external_ids\":[\"map\",[[\"vm\",\"1\"]]]}}}}]}");
    for (int i = 0; i < 300 && ovsdb_get_replica(o)->seqno == seq; i++) {
        ovsdb_wait(o, 10);
    }
    rep = ovsdb_get_replica(o);
    const json_t *br = ovsdb_replica_find(rep, "Bridge", "name", "br0", NULL);
    assert_int_equal(ovsdb_datum_n(json_object_get(br, "ports")), 2);
    assert_string_equal(ovsdb_datum_get_uuid(json_object_get(br, "_version")), U_LP);
    itf = ovsdb_replica_find(rep, "Interface", "name", "p1", NULL);
    long long ofport = 0;
    assert_true(ovsdb_datum_integer(json_object_get(itf, "ofport"), &ofport));
    assert_int_equal(ofport, 3);
    assert_string_equal(ovsdb_datum_map_get(json_object_get(itf, "external_ids"), "vm"), "1");

    /* A difference that does not apply drops the session. */
    fake_send(&f, "{\"id\":null,\"method\":\"update2\",\"params\":[\"skyvisor\",{"
                  "\"Interface\":{\"" U_PORT "\":{\"modify\":{\"ofport\":4}}}}]}");
    for (int i = 0; i < 300 && ovsdb_is_synced(o); i++) {
        ovsdb_wait(o, 10);
    }
    assert_false(ovsdb_is_synced(o));
    fake_drop(&f);

    /* The next server refuses monitor_cond: the plain monitor follows. */
    fake_accept(&f, o);
    req = fake_schema(&f, o);
    assert_string_equal(json_string_value(json_object_get(req, "method")), "monitor_cond");
    json_decref(req);
    fake_send(&f, "{\"id\":\"monitor\",\"error\":\"unknown method\"}");
    req = fake_read(&f, o);
    assert_string_equal(json_string_value(json_object_get(req, "method")), "monitor");
    json_decref(req);
    fake_send(&f, "{\"id\":\"monitor\",\"result\":{\"Bridge\":{\"" U_BR "\":{\"new\":"
                  "{\"name\":\"br9\",\"ports\":[\"set\",[]]}}}},\"error\":null}");
    assert_int_equal(ovsdb_wait_synced(o, 3000), 0);
    assert_non_null(ovsdb_replica_find(ovsdb_get_replica(o), "Bridge", "name", "br9", NULL));
    assert_null(ovsdb_replica_find(ovsdb_get_replica(o), "Interface", "name", "p1", NULL));
    fake_drop(&f);

    ovsdb_destroy(o);
    close(f.lfd);
    unlink(f.path);
    rmdir(f.dir);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_datum),
        cmocka_unit_test(test_txn_builder),
        cmocka_unit_test(test_txn_check_result),
        cmocka_unit_test(test_replica),
        cmocka_unit_test(test_replica_changes),
        cmocka_unit_test(test_replica_key_index),
        cmocka_unit_test(test_datum_diff),
        cmocka_unit_test(test_replica_update2),
        cmocka_unit_test(test_vswitch_bridge),
        cmocka_unit_test(test_vswitch_port),
        cmocka_unit_test(test_session),
        cmocka_unit_test(test_keepalive),
        cmocka_unit_test(test_session_cond),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
