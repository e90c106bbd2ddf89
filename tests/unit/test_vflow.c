/* test_vflow.c: ctrl/vflow.c, the checks and selections of a tenant
 * controller's flows, and the packet key of the agent's own pipeline. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "ctrl/vflow.h"

static const uint32_t port_nos[] = {1, 2, 5};
static const struct vflow_ports ports = {port_nos, 3};

static void
test_ports_names_ids(void **state)
{
    (void) state;
    assert_true(vflow_port_exists(&ports, 5));
    assert_false(vflow_port_exists(&ports, 3));
    char name[16];
    vflow_port_name("web-1", false, 1, name);
    assert_string_equal(name, "web-1");
    vflow_port_name("s2", true, 3, name);
    assert_string_equal(name, "to-s2");
    vflow_port_name("a-very-long-vm-name", false, 12, name);
    assert_string_equal(name, "a-very-long-~12");
    assert_int_equal(strlen(name), 15);
    assert_true(vflow_datapath_id(7, 3) == 0x5b00000700000003ULL);
    assert_true(vflow_datapath_id(7, 3) != vflow_datapath_id(8, 3));
}

/* A flow-mod with one apply-actions instruction of one action. */
static void
one_action(struct ofmsg_flow_mod *fm, struct ofinst *inst, struct ofaction *a)
{
    memset(fm, 0, sizeof *fm);
    fm->buffer_id = OFP_NO_BUFFER;
    fm->out_port = OFPP_ANY;
    ofmatch_init(&fm->match);
    memset(inst, 0, sizeof *inst);
    inst->type = OFPIT_APPLY_ACTIONS;
    inst->actions = a;
    inst->n_actions = 1;
    fm->insts = inst;
    fm->n_insts = 1;
}

static void
test_check(void **state)
{
    (void) state;
    struct ofmsg_flow_mod fm;
    struct ofinst inst;
    struct ofaction a = {.type = OFPAT_OUTPUT, .u.output = {2, 0xffff}};
    one_action(&fm, &inst, &a);
    assert_int_equal(vflow_check(&fm, &ports), OFERR_NONE);
    static const struct {
        uint32_t port;
        enum oferr want;
    } outs[] = {
        {5, OFERR_NONE}, {OFPP_FLOOD, OFERR_NONE}, {OFPP_CONTROLLER, OFERR_NONE},
        {OFPP_IN_PORT, OFERR_NONE}, {3, OFERR_BAD_ACTION_BAD_OUT_PORT},
        {OFPP_NORMAL, OFERR_BAD_ACTION_BAD_OUT_PORT},
        {OFPP_LOCAL, OFERR_BAD_ACTION_BAD_OUT_PORT},
        {OFPP_TABLE, OFERR_BAD_ACTION_BAD_OUT_PORT},
    };
    for (size_t i = 0; i < sizeof outs / sizeof outs[0]; i++) {
        a.u.output.port = outs[i].port;
        assert_int_equal(vflow_check(&fm, &ports), outs[i].want);
    }
    a = (struct ofaction) {.type = OFPAT_SET_FIELD, .u.set_field = {MF_ETH_DST, 1}};
    assert_int_equal(vflow_check(&fm, &ports), OFERR_BAD_ACTION_BAD_SET_TYPE);
    a.u.set_field.field = MF_IPV4_DST;
    assert_int_equal(vflow_check(&fm, &ports), OFERR_NONE);
    a = (struct ofaction) {.type = OFPAT_GROUP};
    assert_int_equal(vflow_check(&fm, &ports), OFERR_BAD_ACTION_BAD_OUT_GROUP);
    a = (struct ofaction) {.type = OFPAT_OUTPUT, .u.output = {2, 0}};
    inst.type = OFPIT_WRITE_METADATA;
    assert_int_equal(vflow_check(&fm, &ports), OFERR_BAD_INSTRUCTION_UNSUP_METADATA);
    inst.type = OFPIT_METER;
    assert_int_equal(vflow_check(&fm, &ports), OFERR_BAD_INSTRUCTION_UNSUP_INST);
    inst.type = OFPIT_GOTO_TABLE;
    inst.table_id = 0;
    assert_int_equal(vflow_check(&fm, &ports), OFERR_BAD_INSTRUCTION_BAD_TABLE_ID);
    inst.table_id = VFLOW_N_TABLES;
    assert_int_equal(vflow_check(&fm, &ports), OFERR_BAD_INSTRUCTION_BAD_TABLE_ID);
    inst.table_id = 1;
    assert_int_equal(vflow_check(&fm, &ports), OFERR_NONE);
    ofmatch_set(&fm.match, MF_IN_PORT, 9);
    assert_int_equal(vflow_check(&fm, &ports), OFERR_BAD_MATCH_BAD_VALUE);
    ofmatch_set(&fm.match, MF_IN_PORT, 1);
    ofmatch_set(&fm.match, MF_METADATA, 1);
    assert_int_equal(vflow_check(&fm, &ports), OFERR_BAD_MATCH_BAD_FIELD);
    ofmatch_init(&fm.match);
    fm.table_id = VFLOW_N_TABLES;
    assert_int_equal(vflow_check(&fm, &ports), OFERR_FLOW_MOD_FAILED_BAD_TABLE_ID);
    fm.table_id = OFPTT_ALL;
    fm.command = OFPFC_DELETE;
    assert_int_equal(vflow_check(&fm, &ports), OFERR_NONE);
    fm.command = 9;
    assert_int_equal(vflow_check(&fm, &ports), OFERR_FLOW_MOD_FAILED_BAD_COMMAND);
}

static void
test_canon_and_covers(void **state)
{
    (void) state;
    struct ofmatch a, b, ca, cb, req;
    ofmatch_init(&a);
    ofmatch_set(&a, MF_ETH_TYPE, 0x0800);
    ofmatch_set(&a, MF_IPV4_DST, 0x0a000001);
    ofmatch_init(&b);
    ofmatch_set(&b, MF_IPV4_DST, 0x0a000001);
    ofmatch_set(&b, MF_ETH_TYPE, 0x0800);
    vflow_match_canon(&a, &ca);
    vflow_match_canon(&b, &cb);
    /* The stored form: the same bytes whatever the order given. */
    struct buf ba, bb;
    buf_init(&ba);
    buf_init(&bb);
    ofmatch_encode(&ca, &ba);
    ofmatch_encode(&cb, &bb);
    assert_int_equal(ba.len, bb.len);
    assert_memory_equal(ba.data, bb.data, ba.len);
    buf_uninit(&ba);
    buf_uninit(&bb);
    ofmatch_init(&req);
    assert_true(vflow_match_covers(&req, &ca));         /* empty covers all */
    ofmatch_set(&req, MF_ETH_TYPE, 0x0800);
    ofmatch_set_masked(&req, MF_IPV4_DST, 0x0a000000, 0xffffff00);
    assert_true(vflow_match_covers(&req, &ca));
    ofmatch_set_masked(&req, MF_IPV4_DST, 0x0b000000, 0xffffff00);
    assert_false(vflow_match_covers(&req, &ca));
    ofmatch_init(&req);
    ofmatch_set(&req, MF_TCP_DST, 80);
    assert_false(vflow_match_covers(&req, &ca));        /* flow lacks the field */
    /* Overlap: a wider match overlaps; a different value of a shared field
     * does not. */
    ofmatch_init(&req);
    ofmatch_set(&req, MF_ETH_TYPE, 0x0800);
    assert_true(vflow_match_overlaps(&req, &ca));
    ofmatch_set_masked(&req, MF_IPV4_DST, 0x0a000100, 0xffffff00);
    assert_false(vflow_match_overlaps(&req, &ca));
    ofmatch_init(&req);
    ofmatch_set(&req, MF_ETH_TYPE, 0x0806);
    assert_false(vflow_match_overlaps(&req, &ca));
}

static void
test_packet_key(void **state)
{
    (void) state;
    uint8_t pkt[54] = {
        0x02, 0, 0, 0, 0, 2, 0x02, 0, 0, 0, 0, 1, 0x08, 0x00,
        0x45, 0, 0, 40, 0, 0, 0x40, 0, 64, 6, 0, 0, 10, 0, 0, 1, 10, 0, 0, 2,
        0x30, 0x39, 0x00, 0x50,
    };
    struct ofmatch key, flow;
    vflow_packet_key(pkt, sizeof pkt, 4, &key);
    uint64_t v;
    assert_true(ofmatch_get(&key, MF_IN_PORT, &v, NULL) && v == 4);
    assert_true(ofmatch_get(&key, MF_TCP_DST, &v, NULL) && v == 80);
    assert_true(ofmatch_get(&key, MF_IPV4_SRC, &v, NULL) && v == 0x0a000001);
    assert_true(ofmatch_get(&key, MF_ETH_DST, &v, NULL) && v == 0x020000000002ULL);
    ofmatch_init(&flow);
    ofmatch_set(&flow, MF_ETH_TYPE, 0x0800);
    ofmatch_set(&flow, MF_IP_PROTO, 6);
    ofmatch_set(&flow, MF_TCP_DST, 80);
    assert_true(vflow_match_packet(&flow, &key));
    ofmatch_set(&flow, MF_TCP_DST, 443);
    assert_false(vflow_match_packet(&flow, &key));
    /* A flow naming a field the codec does not model, as ovs-testcontroller's
     * exact matches do (ip_dscp 0 here): it takes the packet when equal. */
    static const uint8_t tlvs[] = {
        0x00, 0x01, 0x00, 0x14, 0x80, 0x00, 0x0a, 0x02, 0x08, 0x00,    /* eth_type */
        0x80, 0x00, 0x10, 0x01, 0x00,                                  /* ip_dscp 0 */
        0x80, 0x00, 0x14, 0x01, 0x06,                                  /* ip_proto 6 */
        0, 0, 0, 0,
    };
    struct pull pl;
    pull_init(&pl, tlvs, sizeof tlvs);
    assert_int_equal(ofmatch_decode(&pl, &flow), OFERR_NONE);
    vflow_packet_key(pkt, sizeof pkt, 4, &key);
    assert_true(vflow_match_packet(&flow, &key));
    pkt[15] = 0x04;                                     /* DSCP 1 */
    vflow_packet_key(pkt, sizeof pkt, 4, &key);
    assert_false(vflow_match_packet(&flow, &key));
    pkt[15] = 0;
    /* A runt carries only its in_port. */
    vflow_packet_key(pkt, 10, 4, &key);
    assert_false(ofmatch_get(&key, MF_ETH_TYPE, NULL, NULL));
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_ports_names_ids),
        cmocka_unit_test(test_check),
        cmocka_unit_test(test_canon_and_covers),
        cmocka_unit_test(test_packet_key),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
