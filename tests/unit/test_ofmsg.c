/* Unit tests for the OpenFlow 1.3 codec (ctrl/ofmsg.c, ofmatch.c,
 * ofaction.c, buf.c).
 *
 * Golden messages: tests/data/ofmsg_golden.txt holds messages captured from
 * Open vSwitch 3.1 (tests/ctrl/golden_capture.py) and the controller's own.
 * Each must decode, re-encode to the same bytes, survive every truncation
 * and a wrong version without reading out of bounds (run under ASan), and
 * carry the fields we know it has. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "ctrl/ofmsg.h"

#define GOLDEN "tests/data/ofmsg_golden.txt"
#define MAX_GOLDEN 64

struct golden {
    char name[64];
    uint8_t *bytes;
    size_t len;
};
static struct golden golden[MAX_GOLDEN];
static size_t n_golden;

static int
load_golden(void **state)
{
    (void) state;
    FILE *f = fopen(GOLDEN, "r");
    if (!f) {
        fprintf(stderr, "cannot open %s (run from the repository root)\n", GOLDEN);
        return -1;
    }
    char line[8192];
    while (fgets(line, sizeof line, f) && n_golden < MAX_GOLDEN) {
        char name[64], hex[8000];
        if (line[0] == '#' || sscanf(line, "%63s %7999s", name, hex) != 2) {
            continue;
        }
        struct golden *g = &golden[n_golden++];
        snprintf(g->name, sizeof g->name, "%s", name);
        g->len = strlen(hex) / 2;
        g->bytes = malloc(g->len);
        for (size_t i = 0; i < g->len; i++) {
            unsigned int b;
            sscanf(hex + 2 * i, "%2x", &b);
            g->bytes[i] = (uint8_t) b;
        }
    }
    fclose(f);
    return n_golden >= 40 ? 0 : -1;
}

static int
free_golden(void **state)
{
    (void) state;
    for (size_t i = 0; i < n_golden; i++) {
        free(golden[i].bytes);
    }
    return 0;
}

static const struct golden *
find(const char *name)
{
    for (size_t i = 0; i < n_golden; i++) {
        if (!strcmp(golden[i].name, name)) {
            return &golden[i];
        }
    }
    fail_msg("no golden message %s", name);
    return NULL;
}

/* Decodes a golden message, checking it decodes cleanly. */
static void
decode_ok(const char *name, struct ofmsg *m)
{
    const struct golden *g = find(name);
    enum oferr e = ofmsg_decode(g->bytes, g->len, m);
    if (e) {
        fail_msg("%s: %s", name, oferr_name(e));
    }
}

/* Every golden message: decode, re-encode byte-identical. */
static void
test_golden_round_trip(void **state)
{
    (void) state;
    for (size_t i = 0; i < n_golden; i++) {
        struct ofmsg m;
        struct buf b;
        buf_init(&b);
        enum oferr e = ofmsg_decode(golden[i].bytes, golden[i].len, &m);
        if (e) {
            fail_msg("%s does not decode: %s", golden[i].name, oferr_name(e));
        }
        assert_int_equal(ofmsg_encode(&m, &b), 0);
        if (b.len != golden[i].len || memcmp(b.data, golden[i].bytes, b.len)) {
            fail_msg("%s re-encodes differently (%zu vs %zu bytes)", golden[i].name,
                     b.len, golden[i].len);
        }
        ofmsg_uninit(&m);
        buf_uninit(&b);
    }
}

/* Every prefix of every golden message, presented both as a short buffer
 * (header length unchanged: must fail BAD_LEN) and as a complete message of
 * that length (header patched): the decoder must never read past the end;
 * what does decode must re-encode identically. */
static void
test_golden_truncations(void **state)
{
    (void) state;
    for (size_t i = 0; i < n_golden; i++) {
        const struct golden *g = &golden[i];
        for (size_t k = 0; k < g->len; k++) {
            uint8_t *p = malloc(k ? k : 1);
            memcpy(p, g->bytes, k);
            struct ofmsg m;
            enum oferr e = ofmsg_decode(p, k, &m);
            assert_int_equal(e, OFERR_BAD_REQUEST_BAD_LEN);
            ofmsg_uninit(&m);
            if (k >= 8) {
                p[2] = (uint8_t) (k >> 8);
                p[3] = (uint8_t) k;
                e = ofmsg_decode(p, k, &m);
                if (!e) {
                    struct buf b;
                    buf_init(&b);
                    assert_int_equal(ofmsg_encode(&m, &b), 0);
                    if (b.len != k || memcmp(b.data, p, k)) {
                        fail_msg("%s cut at %zu decodes but does not re-encode", g->name, k);
                    }
                    buf_uninit(&b);
                }
                ofmsg_uninit(&m);
            }
            free(p);
        }
    }
}

static void
test_wrong_version(void **state)
{
    (void) state;
    for (size_t i = 0; i < n_golden; i++) {
        uint8_t *p = malloc(golden[i].len);
        memcpy(p, golden[i].bytes, golden[i].len);
        struct ofmsg m;
        for (uint8_t v = 1; v <= 6; v++) {
            if (v == 4) {
                continue;
            }
            p[0] = v;
            enum oferr e = ofmsg_decode(p, golden[i].len, &m);
            if (p[1] == OFPT_HELLO) {
                assert_int_equal(e, OFERR_NONE);      /* negotiation decides */
            } else {
                assert_int_equal(e, OFERR_BAD_REQUEST_BAD_VERSION);
            }
            ofmsg_uninit(&m);
        }
        free(p);
    }
}

static void
test_handshake_messages(void **state)
{
    (void) state;
    struct ofmsg m;
    decode_ok("hello_ovs", &m);
    assert_true(m.u.hello.has_bitmap);
    assert_int_equal(ofmsg_hello_negotiate(&m), OFERR_NONE);
    ofmsg_uninit(&m);
    decode_ok("hello_of10", &m);
    assert_int_equal(m.version, 1);
    assert_int_equal(ofmsg_hello_negotiate(&m), OFERR_HELLO_FAILED_INCOMPATIBLE);
    ofmsg_uninit(&m);
    /* A bitmap offering only 1.0 and 1.5. */
    const uint8_t only_10_15[] = {6, 0, 0, 16, 0, 0, 0, 9, 0, 1, 0, 8, 0, 0, 0, 0x42};
    assert_int_equal(ofmsg_decode(only_10_15, sizeof only_10_15, &m), OFERR_NONE);
    assert_int_equal(ofmsg_hello_negotiate(&m), OFERR_HELLO_FAILED_INCOMPATIBLE);
    ofmsg_uninit(&m);

    decode_ok("features_reply", &m);
    assert_int_equal(m.u.features.datapath_id, 0xa01);
    assert_int_equal(m.u.features.n_tables, 254);
    ofmsg_uninit(&m);
    decode_ok("get_config_reply", &m);
    assert_int_equal(m.u.config.miss_send_len, 0xffff);
    ofmsg_uninit(&m);
    decode_ok("role_reply", &m);
    assert_int_equal(m.u.role.role, OFPCR_ROLE_MASTER);
    assert_int_equal(m.u.role.generation_id, 7);
    ofmsg_uninit(&m);
    decode_ok("echo_reply", &m);
    assert_int_equal(m.u.echo.len, 4);
    assert_memory_equal(m.u.echo.data, "ping", 4);
    ofmsg_uninit(&m);
    decode_ok("error_bad_type", &m);
    assert_int_equal(m.u.error.type, 1);
    assert_int_equal(m.u.error.code, 1);
    ofmsg_uninit(&m);
}

static void
test_async_messages(void **state)
{
    (void) state;
    struct ofmsg m;
    uint64_t v;
    decode_ok("packet_in", &m);
    assert_int_equal(m.u.packet_in.buffer_id, OFP_NO_BUFFER);
    assert_true(ofmatch_get(&m.u.packet_in.match, MF_IN_PORT, &v, NULL));
    assert_int_equal(v, 1);
    assert_int_equal(m.u.packet_in.len, 42);
    assert_int_equal(m.u.packet_in.data[12], 0x08);    /* ARP */
    assert_int_equal(m.u.packet_in.data[13], 0x06);
    ofmsg_uninit(&m);
    decode_ok("port_status", &m);
    assert_int_equal(m.u.port_status.reason, OFPPR_ADD);
    assert_string_equal(m.u.port_status.port.name, "gc3");
    assert_int_equal(m.u.port_status.port.port_no, 3);
    ofmsg_uninit(&m);
    decode_ok("flow_removed", &m);
    assert_int_equal(m.u.flow_removed.cookie, 0x77);
    assert_int_equal(m.u.flow_removed.reason, 1);      /* hard timeout */
    assert_true(ofmatch_get(&m.u.flow_removed.match, MF_UDP_DST, &v, NULL));
    assert_int_equal(v, 53);
    ofmsg_uninit(&m);
}

static const struct ofaction *
apply_actions(const struct ofmsg_flow_mod *fm, size_t *n)
{
    for (size_t i = 0; i < fm->n_insts; i++) {
        if (fm->insts[i].type == OFPIT_APPLY_ACTIONS) {
            *n = fm->insts[i].n_actions;
            return fm->insts[i].actions;
        }
    }
    *n = 0;
    return NULL;
}

static void
test_flow_mods(void **state)
{
    (void) state;
    struct ofmsg m;
    uint64_t v, mask;
    size_t n;
    decode_ok("flow_mod_add", &m);
    struct ofmsg_flow_mod *fm = &m.u.flow_mod;
    assert_int_equal(fm->command, OFPFC_ADD);
    assert_int_equal(fm->cookie, 0x10);
    assert_int_equal(fm->idle_timeout, 30);
    assert_int_equal(fm->hard_timeout, 300);
    assert_int_equal(fm->priority, 100);
    assert_true(ofmatch_get(&fm->match, MF_IN_PORT, &v, NULL) && v == 7);
    assert_true(ofmatch_get(&fm->match, MF_ETH_SRC, &v, NULL) && v == 0x020000000001ULL);
    assert_true(ofmatch_get(&fm->match, MF_ETH_DST, &v, &mask));
    assert_int_equal(mask, 0xffffff000000ULL);
    assert_true(ofmatch_get(&fm->match, MF_VLAN_VID, &v, NULL) && v == (OFPVID_PRESENT | 10));
    const struct ofaction *a = apply_actions(fm, &n);
    assert_int_equal(n, 2);
    assert_int_equal(a[0].type, OFPAT_POP_VLAN);
    assert_int_equal(a[1].type, OFPAT_OUTPUT);
    assert_int_equal(a[1].u.output.port, 3);
    ofmsg_uninit(&m);

    decode_ok("flow_mod_add_ip", &m);
    fm = &m.u.flow_mod;
    assert_true(fm->flags & OFPFF_SEND_FLOW_REM);
    assert_true(ofmatch_get(&fm->match, MF_IPV4_SRC, &v, &mask));
    assert_int_equal(v, 0x0a010000);
    assert_int_equal(mask, 0xffff0000);
    assert_int_equal(fm->insts[fm->n_insts - 1].type, OFPIT_GOTO_TABLE);
    assert_int_equal(fm->insts[fm->n_insts - 1].table_id, 1);
    a = apply_actions(fm, &n);
    assert_int_equal(a[0].type, OFPAT_SET_QUEUE);
    assert_int_equal(a[0].u.queue_id, 5);
    ofmsg_uninit(&m);

    decode_ok("flow_mod_add_arp", &m);
    assert_true(ofmatch_get(&m.u.flow_mod.match, MF_ARP_OP, &v, NULL) && v == 1);
    assert_true(ofmatch_get(&m.u.flow_mod.match, MF_ARP_TPA, &v, &mask));
    assert_int_equal(mask, 0xffffff00);
    a = apply_actions(&m.u.flow_mod, &n);
    assert_int_equal(a[0].u.output.port, OFPP_CONTROLLER);
    assert_int_equal(a[0].u.output.max_len, 128);
    ofmsg_uninit(&m);

    decode_ok("flow_mod_add_tun", &m);
    assert_true(ofmatch_get(&m.u.flow_mod.match, MF_TUNNEL_ID, &v, &mask));
    assert_int_equal(v, 0x1234);
    assert_int_equal(mask, 0xffff);
    a = apply_actions(&m.u.flow_mod, &n);
    assert_int_equal(n, 3);
    assert_int_equal(a[0].u.push_vlan_ethertype, 0x8100);
    assert_int_equal(a[1].type, OFPAT_SET_FIELD);
    assert_int_equal(a[1].u.set_field.field, MF_VLAN_VID);
    assert_int_equal(a[1].u.set_field.value, 4196);
    assert_int_equal(a[2].u.group_id, 1);
    ofmsg_uninit(&m);

    decode_ok("flow_mod_add_meter", &m);
    assert_int_equal(m.u.flow_mod.insts[0].type, OFPIT_METER);
    assert_int_equal(m.u.flow_mod.insts[0].meter_id, 1);
    ofmsg_uninit(&m);

    static const struct {
        const char *name;
        uint8_t command;
    } commands[] = {
        {"flow_mod_modify", OFPFC_MODIFY}, {"flow_mod_modify_strict", OFPFC_MODIFY_STRICT},
        {"flow_mod_delete", OFPFC_DELETE}, {"flow_mod_delete_strict", OFPFC_DELETE_STRICT},
    };
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++) {
        decode_ok(commands[i].name, &m);
        assert_int_equal(m.u.flow_mod.command, commands[i].command);
        ofmsg_uninit(&m);
    }
    decode_ok("flow_mod_delete", &m);
    assert_int_equal(m.u.flow_mod.cookie, 0x10);
    assert_int_equal(m.u.flow_mod.cookie_mask, UINT64_MAX);
    ofmsg_uninit(&m);
}

static void
test_group_meter_packet_out(void **state)
{
    (void) state;
    struct ofmsg m;
    decode_ok("group_mod_select", &m);
    assert_int_equal(m.u.group_mod.type, OFPGT_SELECT);
    assert_int_equal(m.u.group_mod.n_buckets, 2);
    assert_int_equal(m.u.group_mod.buckets[1].weight, 20);
    ofmsg_uninit(&m);
    decode_ok("group_mod_ff", &m);
    assert_int_equal(m.u.group_mod.type, OFPGT_FF);
    assert_int_equal(m.u.group_mod.buckets[1].watch_port, 2);
    ofmsg_uninit(&m);
    /* mst+backup's (ctrl/recon_groups.c): add or replace, the detour's
     * bucket marks the tunnel key and resubmits to the divert table. */
    decode_ok("group_mod_ff_detour", &m);
    assert_int_equal(m.u.group_mod.command, OFPGC_ADD_OR_MOD);
    assert_int_equal(m.u.group_mod.type, OFPGT_FF);
    assert_int_equal(m.u.group_mod.group_id, 0x5f000002);
    assert_int_equal(m.u.group_mod.buckets[0].watch_port, 1);
    assert_int_equal(m.u.group_mod.buckets[1].watch_port, 2);
    assert_int_equal(m.u.group_mod.buckets[1].n_actions, 2);
    assert_int_equal(m.u.group_mod.buckets[1].actions[0].u.set_field.field, MF_TUNNEL_ID);
    assert_int_equal(m.u.group_mod.buckets[1].actions[0].u.set_field.value, 2);
    assert_int_equal(m.u.group_mod.buckets[1].actions[1].raw_len, 16);
    ofmsg_uninit(&m);
    decode_ok("group_mod_all", &m);
    assert_int_equal(m.u.group_mod.type, OFPGT_ALL);
    assert_int_equal(m.u.group_mod.buckets[0].actions[0].u.output.port, 1);
    ofmsg_uninit(&m);
    decode_ok("meter_mod_drop", &m);
    assert_int_equal(m.u.meter_mod.meter_id, 1);
    assert_int_equal(m.u.meter_mod.bands[0].type, OFPMBT_DROP);
    assert_int_equal(m.u.meter_mod.bands[0].rate, 1000);
    assert_int_equal(m.u.meter_mod.bands[0].burst_size, 100);
    ofmsg_uninit(&m);
    decode_ok("meter_mod_dscp", &m);
    assert_int_equal(m.u.meter_mod.bands[0].type, OFPMBT_DSCP_REMARK);
    assert_int_equal(m.u.meter_mod.bands[0].prec_level, 1);
    ofmsg_uninit(&m);
    decode_ok("packet_out", &m);
    assert_int_equal(m.u.packet_out.in_port, OFPP_CONTROLLER);
    assert_int_equal(m.u.packet_out.n_actions, 2);
    assert_int_equal(m.u.packet_out.len, 42);
    ofmsg_uninit(&m);
}

static void
test_multipart(void **state)
{
    (void) state;
    struct ofmsg m;
    decode_ok("multipart_reply_port_desc", &m);
    assert_int_equal(m.u.mp.mp_type, OFPMP_PORT_DESC);
    assert_int_equal(m.u.mp.n, 3);
    bool saw_gc2 = false;
    for (size_t i = 0; i < m.u.mp.n; i++) {
        saw_gc2 |= !strcmp(m.u.mp.ports[i].name, "gc2") && m.u.mp.ports[i].port_no == 2;
    }
    assert_true(saw_gc2);
    ofmsg_uninit(&m);
    decode_ok("multipart_reply_flow", &m);
    assert_int_equal(m.u.mp.n, 3);
    bool saw_cookie = false;
    for (size_t i = 0; i < m.u.mp.n; i++) {
        saw_cookie |= m.u.mp.flows[i].cookie == 0x5a00000000000001ULL
                      && m.u.mp.flows[i].priority == 20;
    }
    assert_true(saw_cookie);
    ofmsg_uninit(&m);
    decode_ok("multipart_reply_port_stats", &m);
    assert_int_equal(m.u.mp.n, 3);
    ofmsg_uninit(&m);
    decode_ok("multipart_reply_queue", &m);
    assert_int_equal(m.u.mp.n, 0);
    ofmsg_uninit(&m);
    decode_ok("multipart_reply_meter", &m);
    assert_int_equal(m.u.mp.n, 1);
    assert_int_equal(m.u.mp.meter_stats[0].meter_id, 1);
    assert_int_equal(m.u.mp.meter_stats[0].n_bands, 1);
    ofmsg_uninit(&m);
    decode_ok("multipart_request_meter_config", &m);
    assert_int_equal(m.u.mp.mp_type, OFPMP_METER_CONFIG);
    assert_int_equal(m.u.mp.req.meter_id, OFPM_ALL);
    ofmsg_uninit(&m);
    decode_ok("multipart_reply_meter_config", &m);
    assert_int_equal(m.u.mp.n, 2);
    assert_int_equal(m.u.mp.meter_configs[0].meter_id, 7);
    assert_int_equal(m.u.mp.meter_configs[0].flags, OFPMF_KBPS | OFPMF_BURST);
    assert_int_equal(m.u.mp.meter_configs[0].n_bands, 1);
    assert_int_equal(m.u.mp.meter_configs[0].bands[0].rate, 2500);
    assert_int_equal(m.u.mp.meter_configs[0].bands[0].burst_size, 250);
    assert_int_equal(m.u.mp.meter_configs[1].meter_id, 0x10003);
    assert_int_equal(m.u.mp.meter_configs[1].bands[0].rate, 30000);
    ofmsg_uninit(&m);
    decode_ok("multipart_request_flow", &m);
    assert_int_equal(m.u.mp.req.flow.cookie, 0x10);
    assert_int_equal(m.u.mp.req.flow.cookie_mask, 0xff);
    ofmsg_uninit(&m);
    decode_ok("multipart_request_queue", &m);
    assert_int_equal(m.u.mp.req.queue.port_no, 1);
    assert_int_equal(m.u.mp.req.queue.queue_id, 2);
    ofmsg_uninit(&m);
}

/* Corruptions of embedded lengths and enums, each with its error. */
static void
test_bad_inputs(void **state)
{
    (void) state;
    struct ofmsg m;
    const struct golden *g = find("flow_mod_add");
    uint8_t p[512];
    assert_true(g->len <= sizeof p);
    struct {
        size_t at;
        uint8_t value;
        enum oferr want;
    } cases[] = {
        {1, 99, OFERR_BAD_REQUEST_BAD_TYPE},
        {25, 7, OFERR_FLOW_MOD_FAILED_BAD_COMMAND},
        {49, 2, OFERR_BAD_MATCH_BAD_TYPE},              /* match type */
        {51, 0xff, OFERR_BAD_MATCH_BAD_LEN},             /* match length */
        {55, 4 | 1, OFERR_BAD_MATCH_BAD_LEN},            /* in_port TLV length 5 */
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        memcpy(p, g->bytes, g->len);
        p[cases[i].at] = cases[i].value;
        enum oferr e = ofmsg_decode(p, g->len, &m);
        if (e != cases[i].want) {
            fail_msg("case %zu: got %s, want %s", i, oferr_name(e), oferr_name(cases[i].want));
        }
        ofmsg_uninit(&m);
    }
    /* The same in_port field twice, and a mask on in_port. */
    struct ofmsg fmsg;
    struct buf b;
    ofmsg_init(&fmsg, OFPT_FLOW_MOD, 9);
    ofmatch_set(&fmsg.u.flow_mod.match, MF_IN_PORT, 1);
    buf_init(&b);
    assert_int_equal(ofmsg_encode(&fmsg, &b), 0);
    /* Match: 4-byte header + in_port TLV (8) = 12, padded 16; duplicate it
     * by rewriting the padding as... rebuild by hand instead. */
    uint8_t dup[8 + 40 + 24];
    memcpy(dup, b.data, 48);
    const uint8_t match_dup[] = {0, 1, 0, 20, 0x80, 0, 0, 4, 0, 0, 0, 1,
                                 0x80, 0, 0, 4, 0, 0, 0, 2, 0, 0, 0, 0};
    memcpy(dup + 48, match_dup, sizeof match_dup);
    dup[2] = 0;
    dup[3] = sizeof dup;
    assert_int_equal(ofmsg_decode(dup, sizeof dup, &m), OFERR_BAD_MATCH_DUP_FIELD);
    ofmsg_uninit(&m);
    const uint8_t match_mask[] = {0, 1, 0, 16, 0x80, 0, 1, 8, 0, 0, 0, 1,
                                  0xff, 0xff, 0xff, 0xff, 0, 0, 0, 0, 0, 0, 0, 0};
    memcpy(dup + 48, match_mask, sizeof match_mask);
    assert_int_equal(ofmsg_decode(dup, sizeof dup, &m), OFERR_BAD_MATCH_BAD_MASK);
    ofmsg_uninit(&m);
    /* tcp_dst without ip_proto. */
    const uint8_t match_prereq[] = {0, 1, 0, 10, 0x80, 0, 0x1c, 2, 0, 80, 0, 0,
                                    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0};
    memcpy(dup + 48, match_prereq, sizeof match_prereq);
    assert_int_equal(ofmsg_decode(dup, sizeof dup, &m), OFERR_BAD_MATCH_BAD_PREREQ);
    ofmsg_uninit(&m);
    /* An output action whose length is not a multiple of 8. */
    const uint8_t bad_action[] = {0, 1, 0, 4, 0, 0, 0, 0, /* empty match, padded */
                                  0, 4, 0, 24, 0, 0, 0, 0, /* apply-actions, len 24 */
                                  0, 0, 0, 12, 0, 0, 0, 1, 0, 0, 0, 0};
    uint8_t msg2[8 + 40 + sizeof bad_action];
    memcpy(msg2, b.data, 48);
    memcpy(msg2 + 48, bad_action, sizeof bad_action);
    msg2[2] = 0;
    msg2[3] = sizeof msg2;
    assert_int_equal(ofmsg_decode(msg2, sizeof msg2, &m), OFERR_BAD_INSTRUCTION_BAD_LEN);
    ofmsg_uninit(&m);
    msg2[8 + 40 + 8 + 3] = 16;      /* instruction len 16: action overruns */
    assert_int_equal(ofmsg_decode(msg2, sizeof msg2 - 8, &m), OFERR_BAD_REQUEST_BAD_LEN);
    ofmsg_uninit(&m);
    ofmsg_uninit(&fmsg);
    buf_uninit(&b);
    /* An unknown multipart type in a reply. */
    const uint8_t mp[] = {4, 19, 0, 16, 0, 0, 0, 1, 0, 99, 0, 0, 0, 0, 0, 0};
    assert_int_equal(ofmsg_decode(mp, sizeof mp, &m), OFERR_BAD_REQUEST_BAD_MULTIPART);
    ofmsg_uninit(&m);
    /* Trailing bytes after a fixed-size body. */
    const uint8_t barrier[] = {4, 20, 0, 12, 0, 0, 0, 1, 0, 0, 0, 0};
    assert_int_equal(ofmsg_decode(barrier, sizeof barrier, &m), OFERR_BAD_REQUEST_BAD_LEN);
    ofmsg_uninit(&m);
}

/* Building every modelled field and action, then decoding it back. */
static void
test_builders_round_trip(void **state)
{
    (void) state;
    struct ofmsg m, d;
    ofmsg_init(&m, OFPT_FLOW_MOD, 42);
    struct ofmsg_flow_mod *fm = &m.u.flow_mod;
    fm->cookie = 0x1122334455667788ULL;
    fm->priority = 1000;
    fm->buffer_id = OFP_NO_BUFFER;
    fm->out_port = OFPP_ANY;
    fm->out_group = OFPG_ANY;
    ofmatch_set(&fm->match, MF_IN_PORT, 3);
    ofmatch_set_masked(&fm->match, MF_ETH_SRC, 0x0001000000aaULL, 0xffff00000000ULL);
    ofmatch_set(&fm->match, MF_ETH_TYPE, 0x0800);
    ofmatch_set(&fm->match, MF_IP_PROTO, 17);
    ofmatch_set_masked(&fm->match, MF_IPV4_DST, 0x0a000000, 0xffffff00);
    ofmatch_set(&fm->match, MF_UDP_DST, 4789);
    assert_false(ofmatch_set_masked(&fm->match, MF_IN_PORT, 1, 1));
    struct ofaction acts[] = {
        {.type = OFPAT_SET_FIELD, .u.set_field = {MF_ETH_SRC, 0x02aabbccddeeULL}},
        {.type = OFPAT_SET_FIELD, .u.set_field = {MF_TUNNEL_ID, 77}},
        {.type = OFPAT_OUTPUT, .u.output = {OFPP_FLOOD, 0}},
    };
    struct ofinst insts[] = {
        {.type = OFPIT_APPLY_ACTIONS, .actions = acts, .n_actions = 3},
        {.type = OFPIT_GOTO_TABLE, .table_id = 5},
    };
    fm->insts = insts;
    fm->n_insts = 2;
    struct buf b;
    buf_init(&b);
    assert_int_equal(ofmsg_encode(&m, &b), 0);
    assert_int_equal(b.len % 8, 0);
    assert_int_equal(ofmsg_decode(b.data, b.len, &d), OFERR_NONE);
    assert_true(ofmatch_equal(&fm->match, &d.u.flow_mod.match));
    assert_int_equal(d.u.flow_mod.cookie, fm->cookie);
    assert_int_equal(d.u.flow_mod.n_insts, 2);
    assert_int_equal(d.u.flow_mod.insts[0].actions[1].u.set_field.value, 77);
    assert_int_equal(d.u.flow_mod.insts[1].table_id, 5);
    ofmsg_uninit(&d);
    buf_uninit(&b);
}

/* ofmsg_flow_mod_init's defaults are the wire's: every captured FLOW_MOD
 * with OFP_NO_BUFFER and no out_port/out_group filter, rebuilt from the
 * builder and the fields that are the flow's own (timeouts, flags, match,
 * instructions), encodes to the captured bytes. */
static void
test_flow_mod_init(void **state)
{
    (void) state;
    size_t checked = 0;
    for (size_t i = 0; i < n_golden; i++) {
        const struct golden *g = &golden[i];
        struct ofmsg d, m;
        if (strncmp(g->name, "flow_mod_", 9)
            || ofmsg_decode(g->bytes, g->len, &d) != OFERR_NONE) {
            continue;
        }
        const struct ofmsg_flow_mod *df = &d.u.flow_mod;
        if (df->buffer_id != OFP_NO_BUFFER || df->out_port != OFPP_ANY
            || df->out_group != OFPG_ANY || df->cookie_mask) {
            ofmsg_uninit(&d);
            continue;
        }
        struct ofmsg_flow_mod *fm = ofmsg_flow_mod_init(&m, df->command, df->table_id,
                                                        df->priority, df->cookie);
        assert_ptr_equal(fm, &m.u.flow_mod);
        assert_int_equal(m.type, OFPT_FLOW_MOD);
        assert_int_equal(m.version, OFP13_VERSION);
        m.xid = d.xid;
        fm->idle_timeout = df->idle_timeout;
        fm->hard_timeout = df->hard_timeout;
        fm->flags = df->flags;
        fm->match = df->match;
        fm->insts = df->insts;                  /* borrowed from d */
        fm->n_insts = df->n_insts;
        struct buf b;
        buf_init(&b);
        assert_int_equal(ofmsg_encode(&m, &b), 0);
        if (b.len != g->len || memcmp(b.data, g->bytes, g->len)) {
            fail_msg("%s: the builder's flow-mod differs from the capture", g->name);
        }
        buf_uninit(&b);
        ofmsg_uninit(&d);
        checked++;
    }
    assert_true(checked >= 4);
}

static void
test_error_reply_and_framing(void **state)
{
    (void) state;
    const struct golden *g = find("flow_mod_add");
    struct buf b;
    struct ofmsg m;
    buf_init(&b);
    assert_int_equal(ofmsg_encode_error_reply(OFERR_BAD_MATCH_BAD_FIELD, g->bytes, g->len, &b), 0);
    assert_int_equal(ofmsg_decode(b.data, b.len, &m), OFERR_NONE);
    assert_int_equal(m.type, OFPT_ERROR);
    assert_int_equal(m.xid, ofmsg_xid(g->bytes));
    assert_int_equal(m.u.error.type, 4);
    assert_int_equal(m.u.error.code, 6);
    assert_int_equal(m.u.error.len, 64);
    assert_memory_equal(m.u.error.data, g->bytes, 64);
    ofmsg_uninit(&m);
    buf_uninit(&b);

    assert_int_equal(ofmsg_frame(g->bytes, 7), 0);
    assert_int_equal(ofmsg_frame(g->bytes, g->len - 1), 0);
    assert_int_equal(ofmsg_frame(g->bytes, g->len), (long) g->len);
    const uint8_t liar[] = {4, 0, 0, 4, 0, 0, 0, 0};
    assert_int_equal(ofmsg_frame(liar, sizeof liar), -1);
    assert_string_equal(ofmsg_type_name(OFPT_FLOW_MOD), "FLOW_MOD");
    assert_string_equal(ofmsg_type_name(250), "UNKNOWN");
    assert_string_equal(oferr_name(OFERR_BAD_MATCH_DUP_FIELD), "BAD_MATCH_DUP_FIELD");
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_golden_round_trip),
        cmocka_unit_test(test_golden_truncations),
        cmocka_unit_test(test_wrong_version),
        cmocka_unit_test(test_handshake_messages),
        cmocka_unit_test(test_async_messages),
        cmocka_unit_test(test_flow_mods),
        cmocka_unit_test(test_group_meter_packet_out),
        cmocka_unit_test(test_multipart),
        cmocka_unit_test(test_bad_inputs),
        cmocka_unit_test(test_builders_round_trip),
        cmocka_unit_test(test_flow_mod_init),
        cmocka_unit_test(test_error_reply_and_framing),
    };
    return cmocka_run_group_tests(tests, load_golden, free_golden);
}
