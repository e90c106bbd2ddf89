/* nm_world.h: the model the netmodel and reactive unit tests share.
 *
 * Three clouds (aws-fra, gcp-iowa, onprem-lis), a gateway and a worker
 * each, MST between the gateways; two tenants with the same subnet: red
 * (mac-prefix) with front/back linked and lab alone, blue (rewrite) with
 * the very same MACs and IPs.  A test that defines NM_WORLD_EXTRA_VMS
 * before including it gets two more VMs (red's app beside web, blue's only
 * VM on a gateway); one that defines NM_WORLD_HOOK(m) changes the model
 * before netmodel_finish().  Also the port numbering the tests hand to the flow
 * compiler: a name gets the next number on its host on first sight.
 * Static definitions, using cmocka: included after <cmocka.h>, by one test
 * file each. */
#ifndef SKYVISOR_TESTS_UNIT_NM_WORLD_H
#define SKYVISOR_TESTS_UNIT_NM_WORLD_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/netmodel.h"

/* --- the model --- */

static void
obj(struct nm_obj *o, const char *id, const char *name)
{
    memset(o, 0, sizeof *o);
    snprintf(o->id, sizeof o->id, "%s", id);
    snprintf(o->name, sizeof o->name, "%s", name);
    o->generation = 1;
}

enum { A_GW, A_H1, B_GW, B_H1, C_GW, C_H1, N_HOSTS };
enum { RED_WEB, RED_DB, RED_BATCH, RED_LAB, BLUE_WEB, BLUE_DB,
#ifdef NM_WORLD_EXTRA_VMS
       RED_APP, BLUE_ONLY,
#endif
       N_VMS };

static void
build(struct netmodel *m, enum tunnels_layout layout)
{
    netmodel_init(m);
    m->layout = layout;
    static const char *clouds[] = {"aws-fra", "gcp-iowa", "onprem-lis"};
    m->n_clouds = 3;
    m->clouds = calloc(3, sizeof *m->clouds);
    for (int c = 0; c < 3; c++) {
        char id[40];
        snprintf(id, sizeof id, "c000000%d-0000-0000-0000-000000000000", c);
        obj(&m->clouds[c].o, id, clouds[c]);
    }
    m->n_hosts = N_HOSTS;
    m->hosts = calloc(N_HOSTS, sizeof *m->hosts);
    for (int h = 0; h < N_HOSTS; h++) {
        struct nm_host *ho = &m->hosts[h];
        char id[40], name[32];
        snprintf(id, sizeof id, "a000000%d-0000-0000-0000-000000000000", h);
        snprintf(name, sizeof name, "%s-%s", clouds[h / 2], h % 2 ? "h1" : "gw");
        obj(&ho->o, id, name);
        ho->cloud = h / 2;
        ho->gateway = h % 2 == 0;
        ho->tunnel_ip = 0xc6120000u | (uint32_t) (h / 2 + 1) << 8 | (uint32_t) (h % 2 + 1);
        ho->public_ip = ho->gateway ? 0xc6130000u | (uint32_t) (h / 2 + 1) : 0;
        snprintf(ho->bridge, sizeof ho->bridge, "br-sky");
    }
    /* aws-fra--onprem-lis is cheap, gcp-iowa--onprem-lis expensive. */
    m->n_cloudlinks = 3;
    m->cloudlinks = calloc(3, sizeof *m->cloudlinks);
    m->cloudlinks[0] = (struct nm_cloudlink) {0, 1, 10};
    m->cloudlinks[1] = (struct nm_cloudlink) {0, 2, 3};
    m->cloudlinks[2] = (struct nm_cloudlink) {1, 2, 12};

    m->n_tenants = 2;
    m->tenants = calloc(2, sizeof *m->tenants);
    obj(&m->tenants[0].o, "70000000-0000-0000-0000-000000000001", "red");
    m->tenants[0].tag = 0x0201;   /* bit 8 clear, as the allocator ensures */
    obj(&m->tenants[1].o, "70000000-0000-0000-0000-000000000002", "blue");
    m->tenants[1].tag = 0xfe02;
    m->n_networks = 2;
    m->networks = calloc(2, sizeof *m->networks);
    obj(&m->networks[0].o, "80000000-0000-0000-0000-000000000001", "prod");
    m->networks[0].tenant = 0;
    obj(&m->networks[1].o, "80000000-0000-0000-0000-000000000002", "prod");
    m->networks[1].tenant = 1;
    m->networks[1].rewrite = true;

    /* red: front, back (linked), lab (alone); blue: front, back (linked). */
    m->n_switches = 5;
    m->switches = calloc(5, sizeof *m->switches);
    static const struct { const char *name; int net; uint32_t seq; } sw[] = {
        {"front", 0, 11}, {"back", 0, 12}, {"lab", 0, 13},
        {"front", 1, 21}, {"back", 1, 22},
    };
    for (int i = 0; i < 5; i++) {
        char id[40];
        snprintf(id, sizeof id, "9000000%d-0000-0000-0000-000000000000", i);
        obj(&m->switches[i].o, id, sw[i].name);
        m->switches[i].network = sw[i].net;
        m->switches[i].seq = sw[i].seq;
    }
    m->n_links = 2;
    m->links = calloc(2, sizeof *m->links);
    obj(&m->links[0].o, "b0000000-0000-0000-0000-000000000001", "front-back");
    m->links[0].network = 0;
    m->links[0].a = 0;
    m->links[0].b = 1;
    obj(&m->links[1].o, "b0000000-0000-0000-0000-000000000002", "front-back");
    m->links[1].network = 1;
    m->links[1].a = 3;
    m->links[1].b = 4;

    m->n_vms = N_VMS;
    m->vms = calloc(N_VMS, sizeof *m->vms);
    static const struct { const char *name; int net, sw, host; uint64_t mac;
                          uint32_t ip, wire; } vm[] = {
        [RED_WEB] = {"web", 0, 0, A_H1, 0x020000000001, 0x0a000001, 1},
        [RED_DB] = {"db", 0, 1, C_H1, 0x020000000002, 0x0a000002, 2},
        [RED_BATCH] = {"batch", 0, 1, B_H1, 0x020000000003, 0x0a000003, 3},
        [RED_LAB] = {"lab1", 0, 2, A_H1, 0x020000000004, 0x0a000004, 4},
        /* blue: the very same MACs and IPs, platform-allocated wire_low. */
        [BLUE_WEB] = {"web", 1, 3, A_H1, 0x020000000001, 0x0a000001, 1001},
        [BLUE_DB] = {"db", 1, 4, C_H1, 0x020000000002, 0x0a000002, 1002},
#ifdef NM_WORLD_EXTRA_VMS
        /* red's second VM beside web; blue's only VM on a gateway. */
        [RED_APP] = {"app", 0, 0, A_H1, 0x020000000005, 0x0a000005, 5},
        [BLUE_ONLY] = {"only", 1, 4, A_GW, 0x020000000009, 0x0a000009, 1009},
#endif
    };
    for (int i = 0; i < N_VMS; i++) {
        char id[40];
        snprintf(id, sizeof id, "e000000%d-0000-0000-0000-000000000000", i);
        obj(&m->vms[i].o, id, vm[i].name);
        m->vms[i].network = vm[i].net;
        m->vms[i].sw = vm[i].sw;
        m->vms[i].host = vm[i].host;
        m->vms[i].mac = vm[i].mac;
        m->vms[i].ip = vm[i].ip;
        m->vms[i].wire_low = vm[i].wire;
        snprintf(m->vms[i].iface, sizeof m->vms[i].iface, "veth%d", i);
    }
#ifdef NM_WORLD_HOOK
    NM_WORLD_HOOK(m);               /* the test's change, before finishing */
#endif
    assert_int_equal(netmodel_finish(m), 0);
}

/* --- port numbers: assigned on first sight, per host --- */

#define MAX_PORTS 32
static struct { char name[16]; } portnames[N_HOSTS][MAX_PORTS];

static uint32_t
ofport_of(void *aux, int h, const char *name)
{
    (void) aux;
    for (uint32_t i = 0; i < MAX_PORTS; i++) {
        if (!portnames[h][i].name[0]) {
            snprintf(portnames[h][i].name, 16, "%s", name);
            return i + 1;
        }
        if (!strcmp(portnames[h][i].name, name)) {
            return i + 1;
        }
    }
    fail_msg("too many ports");
    return 0;
}

#endif
