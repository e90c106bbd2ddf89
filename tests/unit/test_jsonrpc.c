/* Unit tests for ctrl/jsonrpc.c: the stream splitter (every chunking of a
 * stream yields the same objects; strings holding braces and escapes;
 * garbage, oversize and too-deep input are EPROTO), message shape
 * validation (table-driven), encoding round trip, and a socketpair-backed
 * connection exchanging messages and rejecting a malformed one. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>
#include <cmocka.h>

#include "ctrl/jsonrpc.h"

static const char stream[] =
    "{\"id\":1,\"result\":{\"s\":\"} { ] [ \\\" \\\\\"},\"error\":null}"
    "\n  {\"method\":\"echo\",\"params\":[\"\\u007b\"],\"id\":\"e\"}\r\n"
    "{\"a\":[[[{}]]],\"b\":\"\\\\\"}";

static const char *const expected[] = {
    "{\"id\": 1, \"result\": {\"s\": \"} { ] [ \\\" \\\\\"}, \"error\": null}",
    "{\"method\": \"echo\", \"params\": [\"{\"], \"id\": \"e\"}",
    "{\"a\": [[[{}]]], \"b\": \"\\\\\"}",
};

/* Splits 'stream' into chunks of 'chunk' bytes; checks the 3 objects. */
static void
split_with_chunk(size_t chunk)
{
    struct jsonrpc_splitter s;
    jsonrpc_splitter_init(&s);
    size_t n = strlen(stream), got = 0;
    for (size_t off = 0; off < n; off += chunk) {
        size_t len = n - off < chunk ? n - off : chunk;
        assert_int_equal(jsonrpc_splitter_feed(&s, stream + off, len), 0);
        for (;;) {
            json_t *j;
            const char *why;
            int err = jsonrpc_splitter_next(&s, &j, &why);
            if (err == EAGAIN) {
                break;
            }
            assert_int_equal(err, 0);
            assert_true(got < 3);
            json_t *want = json_loads(expected[got], 0, NULL);
            assert_non_null(want);
            assert_true(json_equal(j, want));
            json_decref(want);
            json_decref(j);
            got++;
        }
    }
    assert_int_equal(got, 3);
    jsonrpc_splitter_uninit(&s);
}

static void
test_split_all_chunk_sizes(void **state)
{
    (void) state;
    for (size_t chunk = 1; chunk <= strlen(stream); chunk++) {
        split_with_chunk(chunk);
    }
}

/* Feeds 'in' whole; returns the first non-zero, non-EAGAIN status or
 * EAGAIN/0 as the last status. */
static int
split_status(const char *in, size_t max_msg, int *n_objs)
{
    struct jsonrpc_splitter s;
    jsonrpc_splitter_init(&s);
    if (max_msg) {
        s.max_msg = max_msg;
    }
    jsonrpc_splitter_feed(&s, in, strlen(in));
    int err;
    *n_objs = 0;
    for (;;) {
        json_t *j;
        const char *why;
        err = jsonrpc_splitter_next(&s, &j, &why);
        if (err) {
            if (err != EAGAIN) {
                assert_non_null(why);
            }
            break;
        }
        json_decref(j);
        ++*n_objs;
    }
    jsonrpc_splitter_uninit(&s);
    return err;
}

static void
test_split_errors(void **state)
{
    (void) state;
    char deep[2 * JSONRPC_MAX_DEPTH + 8];
    memset(deep, '[', sizeof deep - 1);
    deep[0] = '{';
    deep[sizeof deep - 1] = '\0';
    static const struct {
        const char *in;
        size_t max_msg;
        int err, n;
    } cases[] = {
        { "", 0, EAGAIN, 0 },
        { "   \n\t ", 0, EAGAIN, 0 },
        { "{\"a\":1", 0, EAGAIN, 0 },
        { "{\"a\":\"}\"", 0, EAGAIN, 0 },
        { "[1,2]", 0, EPROTO, 0 },
        { "\"str\"", 0, EPROTO, 0 },
        { "{}x", 0, EPROTO, 1 },
        { "{} 42", 0, EPROTO, 1 },
        { "{\"a\":1,\"a\":2}", 0, EPROTO, 0 },        /* Duplicate key. */
        { "{\"a\":tru}", 0, EPROTO, 0 },              /* Invalid JSON. */
        { "{\"a\":[}", 0, EPROTO, 0 },                /* Mismatched. */
        { "{\"a\":\"0123456789\"}", 10, EPROTO, 0 },  /* Oversize. */
        { "{\"a\":\"012\"}{}", 16, EAGAIN, 2 },
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        int n;
        int err = split_status(cases[i].in, cases[i].max_msg, &n);
        if (err != cases[i].err || n != cases[i].n) {
            fail_msg("case %zu \"%s\": err %d n %d", i, cases[i].in, err, n);
        }
    }
    int n;
    assert_int_equal(split_status(deep, 0, &n), EPROTO);
}

static void
test_msg_validation(void **state)
{
    (void) state;
    static const struct {
        const char *json;
        int err;
        enum jsonrpc_msg_type type;
    } cases[] = {
        { "{\"method\":\"echo\",\"params\":[],\"id\":1}", 0, JSONRPC_REQUEST },
        { "{\"method\":\"update\",\"params\":[1,{}],\"id\":null}", 0,
          JSONRPC_NOTIFY },
        { "{\"result\":[{}],\"error\":null,\"id\":3}", 0, JSONRPC_REPLY },
        { "{\"result\":null,\"error\":{\"error\":\"x\"},\"id\":3}", 0,
          JSONRPC_ERROR },
        { "{\"error\":\"unknown database\",\"id\":3}", 0, JSONRPC_ERROR },
        { "{\"method\":\"echo\",\"params\":[]}", EPROTO, 0 },
        { "{\"method\":1,\"params\":[],\"id\":1}", EPROTO, 0 },
        { "{\"method\":\"m\",\"params\":{},\"id\":1}", EPROTO, 0 },
        { "{\"method\":\"m\",\"id\":1}", EPROTO, 0 },
        { "{\"method\":\"m\",\"params\":[],\"result\":1,\"id\":1}", EPROTO, 0 },
        { "{\"result\":1,\"error\":null,\"id\":null}", EPROTO, 0 },
        { "{\"error\":null,\"id\":2}", EPROTO, 0 },
        { "{\"id\":2}", EPROTO, 0 },
        { "{\"result\":1,\"error\":null,\"id\":2,\"x\":0}", EPROTO, 0 },
        { "{\"result\":1,\"params\":[],\"error\":null,\"id\":2}", EPROTO, 0 },
        { "[1]", EPROTO, 0 },
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        json_t *j = json_loads(cases[i].json, JSON_DECODE_ANY, NULL);
        assert_non_null(j);
        struct jsonrpc_msg *m;
        const char *why;
        int err = jsonrpc_msg_from_json(j, &m, &why);
        if (err != cases[i].err) {
            fail_msg("case %zu %s: err %d", i, cases[i].json, err);
        }
        if (!err) {
            assert_int_equal(m->type, cases[i].type);
            /* Round trip through the encoder. */
            json_t *back = jsonrpc_msg_to_json(m);
            struct jsonrpc_msg *m2;
            assert_int_equal(jsonrpc_msg_from_json(back, &m2, &why), 0);
            assert_int_equal(m2->type, m->type);
            jsonrpc_msg_destroy(m2);
            json_decref(back);
        } else {
            assert_null(m);
            assert_non_null(why);
        }
        jsonrpc_msg_destroy(m);
        json_decref(j);
    }
}

static void
test_msg_encoding(void **state)
{
    (void) state;
    struct jsonrpc_msg *m = jsonrpc_msg_create_request(
        "transact", json_pack("[s]", "Open_vSwitch"), json_integer(7));
    json_t *j = jsonrpc_msg_to_json(m);
    char *s = json_dumps(j, JSON_COMPACT | JSON_SORT_KEYS);
    assert_string_equal(s, "{\"id\":7,\"method\":\"transact\","
                           "\"params\":[\"Open_vSwitch\"]}");
    free(s);
    json_decref(j);
    jsonrpc_msg_destroy(m);
    m = jsonrpc_msg_create_reply(json_array(), json_string("e"));
    j = jsonrpc_msg_to_json(m);
    s = json_dumps(j, JSON_COMPACT | JSON_SORT_KEYS);
    assert_string_equal(s, "{\"error\":null,\"id\":\"e\",\"result\":[]}");
    free(s);
    json_decref(j);
    jsonrpc_msg_destroy(m);
    /* Constructors consume their arguments even on failure. */
    assert_null(jsonrpc_msg_create_request("x", NULL, json_integer(1)));
}

static void
test_connection(void **state)
{
    (void) state;
    char dir[] = "/tmp/skyv-jsonrpc-XXXXXX", path[64], target[80];
    assert_non_null(mkdtemp(dir));
    snprintf(path, sizeof path, "%s/s", dir);
    snprintf(target, sizeof target, "unix:%s", path);
    int lfd = socket(AF_UNIX, SOCK_STREAM, 0);
    struct sockaddr_un sun = { .sun_family = AF_UNIX };
    strcpy(sun.sun_path, path);
    assert_int_equal(bind(lfd, (struct sockaddr *) &sun, sizeof sun), 0);
    assert_int_equal(listen(lfd, 1), 0);

    struct jsonrpc *rpc;
    assert_int_equal(jsonrpc_open(target, &rpc), 0);
    int peer = accept(lfd, NULL, NULL);
    assert_true(peer >= 0);
    assert_int_equal(jsonrpc_run(rpc), 0);
    assert_true(jsonrpc_is_connected(rpc));
    assert_int_equal(jsonrpc_send(rpc, jsonrpc_msg_create_request(
        "echo", json_array(), json_integer(1))), 0);
    char buf[256];
    ssize_t n = read(peer, buf, sizeof buf - 1);
    assert_true(n > 0);
    buf[n] = '\0';
    assert_non_null(strstr(buf, "\"method\":\"echo\""));

    struct jsonrpc_msg *m;
    assert_int_equal(jsonrpc_recv(rpc, &m), EAGAIN);
    const char *two = "{\"result\":[],\"error\":null,\"id\":1}{\"meth";
    assert_true(write(peer, two, strlen(two)) > 0);
    assert_int_equal(jsonrpc_recv(rpc, &m), 0);
    assert_int_equal(m->type, JSONRPC_REPLY);
    jsonrpc_msg_destroy(m);
    assert_int_equal(jsonrpc_recv(rpc, &m), EAGAIN);
    /* A malformed message breaks the connection (sticky EPROTO). */
    const char *bad = "od\":\"x\",\"params\":5,\"id\":2}";
    assert_true(write(peer, bad, strlen(bad)) > 0);
    assert_int_equal(jsonrpc_recv(rpc, &m), EPROTO);
    assert_int_equal(jsonrpc_recv(rpc, &m), EPROTO);
    assert_int_not_equal(jsonrpc_send(rpc, jsonrpc_msg_create_notify(
        "x", json_array())), 0);
    jsonrpc_close(rpc);

    /* Peer close is ECONNRESET; bad targets are refused up front. */
    assert_int_equal(jsonrpc_open(target, &rpc), 0);
    close(accept(lfd, NULL, NULL));
    while (jsonrpc_recv(rpc, &m) == EAGAIN) {
        usleep(1000);
    }
    assert_int_equal(jsonrpc_recv(rpc, &m), ECONNRESET);
    jsonrpc_close(rpc);
    assert_int_equal(jsonrpc_open("udp:1.2.3.4:1", &rpc), EAFNOSUPPORT);
    assert_int_equal(jsonrpc_open("tcp:1.2.3.4", &rpc), EINVAL);
    assert_int_equal(jsonrpc_open("tcp:nohost:80", &rpc), EINVAL);
    close(peer);
    close(lfd);
    unlink(path);
    rmdir(dir);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_split_all_chunk_sizes),
        cmocka_unit_test(test_split_errors),
        cmocka_unit_test(test_msg_validation),
        cmocka_unit_test(test_msg_encoding),
        cmocka_unit_test(test_connection),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
