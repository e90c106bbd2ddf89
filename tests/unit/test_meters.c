/* Unit tests for core/meters.c: which compiled flows carry which meter,
 * and the meters a bridge needs, on the shared three-cloud world
 * (nm_world.h).  red is capped on the WAN, blue is not; red's web has a
 * rate of its own. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "core/meters.h"
#include "nm_world.h"

#define RED_CAP 40
#define WEB_RATE 10

static struct netmodel world;

static int
setup(void **state)
{
    (void) state;
    build(&world, TUNNELS_MST);
    world.tenants[0].wan_limit_mbps = RED_CAP;
    world.vms[RED_WEB].rate_mbps = WEB_RATE;
    return 0;
}

static int
teardown(void **state)
{
    (void) state;
    netmodel_free(&world);
    return 0;
}

static void
compile(int h, struct nm_flows *fl)
{
    memset(fl, 0, sizeof *fl);
    assert_int_equal(netmodel_flows(&world, h, ofport_of, NULL, fl), 0);
}

/* The tunnel port from 'h' toward 'peer'. */
static uint32_t
tunnel_port(int h, int peer)
{
    char name[16];
    netmodel_tunnel_name(&world, h, peer, name);
    return ofport_of(NULL, h, name);
}

/* A gateway's transit flows into an inter-cloud tunnel, unicast and
 * broadcast, carry the meter of their tenant and tunnel, for the capped
 * tenant only; the meters are one per tunnel, at the cap with a 100 ms
 * burst. */
static void
test_wan_cap_on_gateway(void **state)
{
    (void) state;
    struct nm_flows fl;
    compile(A_GW, &fl);
    uint16_t red = world.tenants[0].tag, blue = world.tenants[1].tag;
    size_t unicast = 0, bcast = 0;
    for (size_t i = 0; i < fl.n; i++) {
        const struct nm_flow *f = &fl.v[i];
        bool wan_out = false, meter_port_out = false;
        for (size_t k = 0; k < f->n_acts; k++) {
            if (f->acts[k].type == NA_OUTPUT) {
                wan_out |= f->acts[k].arg == tunnel_port(A_GW, B_GW)
                           || f->acts[k].arg == tunnel_port(A_GW, C_GW);
                meter_port_out |= f->acts[k].arg == (f->meter & 0xffff);
            }
        }
        uint16_t tag = (uint16_t) (f->cookie >> 40);
        /* Every flow of red into a WAN tunnel is metered, no other. */
        assert_int_equal(!!f->meter, wan_out && tag == red);
        if (!f->meter) {
            continue;
        }
        assert_int_equal(f->table, NM_T_FORWARD);
        assert_int_equal(f->meter >> 16, red);
        assert_int_not_equal(f->meter >> 16, blue);
        assert_int_equal(f->meter_kbps, RED_CAP * 1000);
        assert_int_equal(f->meter_burst, RED_CAP * 100);
        assert_true(meter_port_out);
        if (f->priority == 110) {
            bcast++;                /* broadcasts leaving the cloud */
        } else {
            unicast++;
        }
    }
    /* red's batch (gcp-iowa) and db (onprem-lis) are behind the two WAN
     * tunnels of aws-fra's gateway; web's broadcasts leave through both. */
    assert_int_equal(unicast, 2);
    assert_true(bcast >= 1);
    struct meter_list ml = {0};
    assert_int_equal(meters_collect(fl.v, fl.n, &ml), 0);
    assert_int_equal(ml.n, 2);
    uint32_t to_b = (uint32_t) red << 16 | tunnel_port(A_GW, B_GW);
    uint32_t to_c = (uint32_t) red << 16 | tunnel_port(A_GW, C_GW);
    assert_true(ml.v[0].id < ml.v[1].id);
    assert_true((ml.v[0].id == to_b && ml.v[1].id == to_c)
                || (ml.v[0].id == to_c && ml.v[1].id == to_b));
    meters_clear(&ml);
    nm_flows_clear(&fl);
}

/* A worker sends everything to its gateway: no WAN meter there; its own
 * VM's rate meter sits on that VM's IPv4 port-security flow only. */
static void
test_vm_rate_at_ingress(void **state)
{
    (void) state;
    struct nm_flows fl;
    compile(A_H1, &fl);
    uint32_t web_port = ofport_of(NULL, A_H1, "veth0");
    size_t n = 0;
    for (size_t i = 0; i < fl.n; i++) {
        const struct nm_flow *f = &fl.v[i];
        if (!f->meter) {
            continue;
        }
        n++;
        assert_int_equal(f->table, NM_T_CLASSIFY);
        assert_int_equal(f->meter, web_port);
        assert_int_equal(f->value[NF_IN_PORT], web_port);
        assert_int_equal(f->value[NF_ETH_TYPE], 0x0800);
        assert_int_equal(f->meter_kbps, WEB_RATE * 1000);
        assert_int_equal(f->meter_burst, WEB_RATE * 100);
    }
    assert_int_equal(n, 1);
    nm_flows_clear(&fl);
}

/* No caps, no rates: no meter anywhere; a burst given is kept. */
static void
test_none_and_explicit_burst(void **state)
{
    (void) state;
    world.tenants[0].wan_limit_mbps = 0;
    world.vms[RED_WEB].burst_kb = 777;
    for (int h = 0; h < N_HOSTS; h++) {
        struct nm_flows fl;
        compile(h, &fl);
        for (size_t i = 0; i < fl.n; i++) {
            if (fl.v[i].meter) {
                assert_int_equal(h, A_H1);
                assert_int_equal(fl.v[i].meter_burst, 777);
            }
        }
        nm_flows_clear(&fl);
    }
    world.tenants[0].wan_limit_mbps = RED_CAP;
    world.vms[RED_WEB].burst_kb = 0;
}

/* meters_collect: distinct ids, sorted, whatever the flows' order. */
static void
test_collect(void **state)
{
    (void) state;
    struct nm_flow f[5] = {0};
    f[0].meter = 9, f[0].meter_kbps = 1;
    f[2].meter = 3, f[2].meter_kbps = 2;
    f[3].meter = 9, f[3].meter_kbps = 1;
    f[4].meter = 0x10003, f[4].meter_kbps = 3;
    struct meter_list ml = {0};
    assert_int_equal(meters_collect(f, 5, &ml), 0);
    assert_int_equal(ml.n, 3);
    assert_int_equal(ml.v[0].id, 3);
    assert_int_equal(ml.v[1].id, 9);
    assert_int_equal(ml.v[2].id, 0x10003);
    assert_int_equal(meters_collect(f, 0, &ml), 0);
    assert_int_equal(ml.n, 0);
    meters_clear(&ml);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_wan_cap_on_gateway),
        cmocka_unit_test(test_vm_rate_at_ingress),
        cmocka_unit_test(test_none_and_explicit_burst),
        cmocka_unit_test(test_collect),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
