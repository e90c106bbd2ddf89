/* Unit tests for the JSON forms a snapshot stores (ctrl/recon_lifecycle.h):
 * a read-back flow of each shape skyvisor installs, field by field, as the
 * snapshot's reader sees it. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "ctrl/ofmsg.h"
#include "ctrl/recon_lifecycle.h"

static void
check_json(json_t *got, const char *want)
{
    char *text = json_dumps(got, JSON_COMPACT | JSON_SORT_KEYS);
    assert_non_null(text);
    if (strcmp(text, want)) {
        fail_msg("got  %s\nwant %s", text, want);
    }
    free(text);
    json_decref(got);
}

static void
test_match(void **state)
{
    (void) state;
    struct ofmatch m;
    ofmatch_init(&m);
    ofmatch_set(&m, MF_IN_PORT, 3);
    ofmatch_set(&m, MF_ETH_SRC, 0x020000005101ull);
    ofmatch_set(&m, MF_ETH_TYPE, 0x0800);
    ofmatch_set(&m, MF_IPV4_SRC, 0x0a330001);
    assert_true(ofmatch_set_masked(&m, MF_METADATA, 0x700000000ull, 0xffffffff00000000ull));
    check_json(recon_life_match_json(&m),
               "{\"eth_src\":\"02:00:00:00:51:01\",\"eth_type\":2048,\"in_port\":3,"
               "\"ipv4_src\":\"10.51.0.1\","
               "\"metadata\":\"0x700000000/0xffffffff00000000\"}");
}

static void
test_instructions(void **state)
{
    (void) state;
    struct ofaction acts[3] = {
        {.type = OFPAT_SET_FIELD, .u.set_field = {MF_ETH_DST, 0x020000005102ull}},
        {.type = OFPAT_OUTPUT, .u.output = {7, 0}},
        {.type = OFPAT_OUTPUT, .u.output = {OFPP_CONTROLLER, 0xffff}},
    };
    struct ofinst in[3] = {
        {.type = OFPIT_WRITE_METADATA, .metadata = 5, .metadata_mask = 0xffffffff},
        {.type = OFPIT_APPLY_ACTIONS, .actions = acts, .n_actions = 3},
        {.type = OFPIT_GOTO_TABLE, .table_id = 40},
    };
    check_json(recon_life_insts_json(in, 3),
               "[{\"write_metadata\":\"0x5/0xffffffff\"},"
               "{\"apply_actions\":[{\"set_field\":{\"eth_dst\":\"02:00:00:00:51:02\"}},"
               "{\"output\":7},{\"output\":\"controller\"}]},{\"goto_table\":40}]");
}

static void
test_flow(void **state)
{
    (void) state;
    struct offlow_stats f;
    memset(&f, 0, sizeof f);
    f.table_id = 20;
    f.priority = 100;
    f.cookie = 0xa200510000000001ull;
    f.packet_count = 12;
    f.byte_count = 1176;
    f.duration_sec = 3;
    f.duration_nsec = 500000000;
    f.flags = 1;
    ofmatch_init(&f.match);
    ofmatch_set(&f.match, MF_ETH_DST, 0x510000000001ull);
    check_json(recon_life_flow_json(&f),
               "{\"bytes\":1176,\"cookie\":\"0xa200510000000001\",\"duration_s\":3.5,"
               "\"flags\":1,\"hard_timeout\":0,\"idle_timeout\":0,\"instructions\":[],"
               "\"match\":{\"eth_dst\":\"51:00:00:00:00:01\"},\"packets\":12,"
               "\"priority\":100,\"table\":20}");
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_match),
        cmocka_unit_test(test_instructions),
        cmocka_unit_test(test_flow),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
