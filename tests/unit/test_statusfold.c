/* Unit tests for core/statusfold.c: the status of every object from the
 * hosts' verdicts and the VMs' port results, on the shared three-cloud
 * world (tests/unit/nm_world.h): errors and pending states travel along
 * tunnel paths and up the object tree with the first cause named, and
 * only what changed is returned. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "core/statusfold.h"

/* With twin_world set, gcp-iowa-h1 becomes onprem-lis's second gateway,
 * onprem-lis-gx (test_twin_*); with 2, red's db moves to onprem-lis-gw,
 * the preferred one. */
static int twin_world;
static void make_twin(struct netmodel *m);
#define NM_WORLD_HOOK(m) make_twin(m)
#include "nm_world.h"

static void
make_twin(struct netmodel *m)
{
    if (twin_world) {
        struct nm_host *h = &m->hosts[3];       /* B_H1 */
        snprintf(h->o.name, sizeof h->o.name, "onprem-lis-gx");
        h->cloud = 2;
        h->gateway = true;
        h->public_ip = 0xc6130009u;
    }
    if (twin_world == 2) {
        m->vms[RED_DB].host = C_GW;
    }
}

struct fold_case {
    const char *name;
    int bad_host;                   /* -1: none */
    enum nm_state bad_state;
    const char *bad_detail;
    int vm_failed;                  /* -1: none; vm_err "port p: boom" */
    int vm_unnumbered;              /* -1: none */
    bool all_done;
    /* expected (state, detail) of: red web, red db, red lab1, blue web,
     * red's switch front, red's network, red tenant, the cloud onprem-lis */
    struct { enum nm_state state; const char *detail; } want[8];
};

static const struct fold_case cases[] = {
    {"all realized", -1, NM_REALIZED, NULL, -1, -1, true, {
        {NM_REALIZED, NULL}, {NM_REALIZED, NULL}, {NM_REALIZED, NULL},
        {NM_REALIZED, NULL}, {NM_REALIZED, NULL}, {NM_REALIZED, NULL},
        {NM_REALIZED, NULL}, {NM_REALIZED, NULL}}},
    {"a transit gateway in error", C_GW, NM_ERROR, "bridge down", -1, -1, true, {
        {NM_ERROR, "host onprem-lis-gw on the path to host onprem-lis-h1: bridge down"},
        {NM_ERROR, "host onprem-lis-gw on the path to host aws-fra-h1: bridge down"},
        {NM_REALIZED, NULL},
        {NM_ERROR, "host onprem-lis-gw on the path to host onprem-lis-h1: bridge down"},
        {NM_ERROR, "vm web: host onprem-lis-gw on the path to host onprem-lis-h1: "
                   "bridge down"},
        {NM_ERROR, "switch front: vm web: host onprem-lis-gw on the path to host "
                   "onprem-lis-h1: bridge down"},
        {NM_ERROR, "network prod: switch front: vm web: host onprem-lis-gw on the "
                   "path to host onprem-lis-h1: bridge down"},
        {NM_ERROR, "gateway onprem-lis-gw: bridge down"}}},
    {"a gateway still pending", B_GW, NM_PENDING, "configuring the bridge", -1, -1,
     false, {
        {NM_PENDING, "waiting for host gcp-iowa-gw"}, {NM_PENDING,
                                                      "waiting for host gcp-iowa-gw"},
        {NM_REALIZED, NULL}, {NM_REALIZED, NULL},
        {NM_PENDING, "waiting for vm web"}, {NM_PENDING, "waiting for switch front"},
        {NM_PENDING, "waiting for network prod"}, {NM_REALIZED, NULL}}},
    {"the VM's own host in error", A_H1, NM_ERROR, "ovsdb down", -1, -1, true, {
        {NM_ERROR, "host aws-fra-h1: ovsdb down"},
        {NM_REALIZED, NULL},    /* its side is in place: web's host is web's */
        {NM_ERROR, "host aws-fra-h1: ovsdb down"},
        {NM_ERROR, "host aws-fra-h1: ovsdb down"},
        {NM_ERROR, "vm web: host aws-fra-h1: ovsdb down"},
        {NM_ERROR, "switch front: vm web: host aws-fra-h1: ovsdb down"},
        {NM_ERROR, "network prod: switch front: vm web: host aws-fra-h1: ovsdb down"},
        {NM_REALIZED, NULL}}},
    {"a port that failed", -1, NM_REALIZED, NULL, RED_LAB, -1, true, {
        {NM_REALIZED, NULL}, {NM_REALIZED, NULL}, {NM_ERROR, "port p: boom"},
        {NM_REALIZED, NULL}, {NM_REALIZED, NULL},
        {NM_ERROR, "switch lab: vm lab1: port p: boom"},
        {NM_ERROR, "network prod: switch lab: vm lab1: port p: boom"},
        {NM_REALIZED, NULL}}},
    {"a port not numbered yet", -1, NM_REALIZED, NULL, -1, RED_DB, false, {
        {NM_REALIZED, NULL}, {NM_PENDING, "waiting for host onprem-lis-h1"},
        {NM_REALIZED, NULL}, {NM_REALIZED, NULL}, {NM_REALIZED, NULL},
        {NM_PENDING, "waiting for switch back"},
        {NM_PENDING, "waiting for network prod"}, {NM_REALIZED, NULL}}},
};

/* The status the batch holds for 'o', or NULL. */
static const struct nm_status *
find(const struct statusfold_batch *b, const struct nm_obj *o)
{
    for (size_t i = 0; i < b->n; i++) {
        if (b->obj[i] == o) {
            return &b->v[i];
        }
    }
    return NULL;
}

static void
check(const struct statusfold_batch *b, const struct nm_obj *o, enum nm_state state,
      const char *detail, const char *what)
{
    const struct nm_status *s = find(b, o);
    if (!s) {
        fail_msg("%s: no status for %s", what, o->name);
    }
    if (s->state != state || strcmp(s->detail ? s->detail : "", detail ? detail : "")) {
        fail_msg("%s: %s is %d \"%s\", want %d \"%s\"", what, o->name, s->state,
                 s->detail ? s->detail : "", state, detail ? detail : "");
    }
}

static void
fold_case(struct netmodel *m, const struct fold_case *c, struct statusfold_batch *b)
{
    struct statusfold_host hs[N_HOSTS];
    for (int h = 0; h < N_HOSTS; h++) {
        hs[h] = (struct statusfold_host) { NM_REALIZED, NULL, false, NULL };
    }
    if (c->bad_host >= 0) {
        hs[c->bad_host] = (struct statusfold_host) { c->bad_state, c->bad_detail, false, NULL };
    }
    char *vm_err[N_VMS] = {0};
    uint32_t vm_port[N_VMS];
    for (int v = 0; v < N_VMS; v++) {
        vm_port[v] = (uint32_t) v + 1;
    }
    if (c->vm_failed >= 0) {
        vm_err[c->vm_failed] = "port p: boom";
    }
    if (c->vm_unnumbered >= 0) {
        vm_port[c->vm_unnumbered] = 0;
    }
    bool done = statusfold_compute(m, hs, vm_err, vm_port, b);
    if (done != c->all_done) {
        fail_msg("%s: all_done %d", c->name, done);
    }
}

static void
test_fold_table(void **state)
{
    (void) state;
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        const struct fold_case *c = &cases[i];
        struct netmodel m;
        build(&m, TUNNELS_MST);
        struct statusfold_batch b;
        fold_case(&m, c, &b);
        const struct nm_obj *objs[8] = {
            &m.vms[RED_WEB].o, &m.vms[RED_DB].o, &m.vms[RED_LAB].o, &m.vms[BLUE_WEB].o,
            &m.switches[0].o, &m.networks[0].o, &m.tenants[0].o, &m.clouds[2].o,
        };
        for (int k = 0; k < 8; k++) {
            check(&b, objs[k], c->want[k].state, c->want[k].detail, c->name);
        }
        /* Everything was pending at generation 1, observed 0: every object
         * changed, and a settled one now observes its generation. */
        assert_int_equal(b.n, m.n_clouds + m.n_hosts + m.n_tenants + m.n_networks
                              + m.n_switches + m.n_links + m.n_vms);
        const struct nm_status *lab = find(&b, &m.vms[RED_LAB].o);
        assert_int_equal(lab->observed_generation, 1);
        statusfold_batch_uninit(&b);
        netmodel_free(&m);
    }
}

static void
test_only_changes_are_returned(void **state)
{
    (void) state;
    struct netmodel m;
    build(&m, TUNNELS_MST);
    struct statusfold_batch b;
    fold_case(&m, &cases[0], &b);
    statusfold_commit(&b);
    assert_int_equal(m.vms[RED_WEB].o.state, NM_REALIZED);
    assert_int_equal(m.vms[RED_WEB].o.observed_generation, 1);
    statusfold_batch_uninit(&b);

    fold_case(&m, &cases[0], &b);
    assert_int_equal(b.n, 0);
    statusfold_batch_uninit(&b);

    /* A new generation of one VM: that VM alone, observing it. */
    m.vms[RED_DB].o.generation = 2;
    fold_case(&m, &cases[0], &b);
    assert_int_equal(b.n, 1);
    assert_ptr_equal(b.obj[0], &m.vms[RED_DB].o);
    assert_int_equal(b.v[0].observed_generation, 2);
    statusfold_commit(&b);
    statusfold_batch_uninit(&b);

    /* A pending VM keeps the generation it last observed. */
    m.vms[RED_DB].o.generation = 3;
    fold_case(&m, &cases[5], &b);
    const struct nm_status *db = find(&b, &m.vms[RED_DB].o);
    assert_non_null(db);
    assert_int_equal(db->state, NM_PENDING);
    assert_int_equal(db->observed_generation, 2);
    statusfold_batch_uninit(&b);
    netmodel_free(&m);
}

/* A cloud with two gateways: its preferred one in error, the twin
 * realized: the cloud stays realized and names the gateway that carries
 * it, the VMs whose paths cross it stay realized, and the VM placed on the
 * twin is in error (a twin takes no VMs). */
static void
test_twin_carries_the_cloud(void **state)
{
    (void) state;
    struct netmodel m;
    twin_world = 1;
    build(&m, TUNNELS_MST);
    twin_world = 0;
    assert_int_equal(m.clouds[2].n_gateways, 2);
    assert_int_equal(m.clouds[2].gateway, C_GW);
    struct statusfold_batch b;
    fold_case(&m, &cases[1], &b);           /* onprem-lis-gw: "bridge down" */
    check(&b, &m.clouds[2].o, NM_REALIZED, "gateway onprem-lis-gw: bridge down; traffic "
          "goes through gateway onprem-lis-gx", "twin");
    check(&b, &m.vms[RED_WEB].o, NM_REALIZED, NULL, "twin");    /* to db, by onprem */
    check(&b, &m.vms[RED_BATCH].o, NM_ERROR, "host onprem-lis-gx is its cloud's second "
          "gateway, which takes no VMs (it stands in for the first one)", "twin");
    statusfold_batch_uninit(&b);
    /* Both gateways down: the cloud is in error, as with one. */
    struct statusfold_host hs[N_HOSTS];
    for (int h = 0; h < N_HOSTS; h++) {
        hs[h] = (struct statusfold_host) { NM_REALIZED, NULL, false, NULL };
    }
    hs[C_GW] = (struct statusfold_host) { NM_ERROR, "bridge down", false, NULL };
    hs[3] = (struct statusfold_host) { NM_ERROR, "ovsdb down", false, NULL };
    char *vm_err[N_VMS] = {0};
    uint32_t vm_port[N_VMS];
    for (int v = 0; v < N_VMS; v++) {
        vm_port[v] = (uint32_t) v + 1;
    }
    statusfold_compute(&m, hs, vm_err, vm_port, &b);
    check(&b, &m.clouds[2].o, NM_ERROR, "gateway onprem-lis-gw: bridge down", "both");
    statusfold_batch_uninit(&b);
    netmodel_free(&m);
}

/* Two gateways: a preferred gateway's own tunnel to aws-fra down, its
 * twin's up.  A VM on that gateway detours (its gateway's group falls to
 * the backup, not to the twin) and says so; one in aws-fra reaching it
 * does not (aws-fra-gw's group falls to the twin's tunnel). */
static void
test_twin_tunnel_down(void **state)
{
    (void) state;
    struct netmodel m;
    twin_world = 2;
    build(&m, TUNNELS_MST_BACKUP);
    twin_world = 0;
    static int down_c[] = {A_GW, -1};
    struct statusfold_host hs[N_HOSTS];
    for (int h = 0; h < N_HOSTS; h++) {
        hs[h] = (struct statusfold_host) { NM_REALIZED, NULL, false, NULL };
    }
    hs[C_GW].down = down_c;
    char *vm_err[N_VMS] = {0};
    uint32_t vm_port[N_VMS];
    for (int v = 0; v < N_VMS; v++) {
        vm_port[v] = (uint32_t) v + 1;
    }
    struct statusfold_batch b;
    statusfold_compute(&m, hs, vm_err, vm_port, &b);
    check(&b, &m.vms[RED_DB].o, NM_REALIZED, "path to cloud aws-fra via backup: tunnel "
          "aws-fra-gw--onprem-lis-gw down", "own tunnel");
    check(&b, &m.vms[RED_WEB].o, NM_REALIZED, NULL, "twin carries");
    statusfold_batch_uninit(&b);
    netmodel_free(&m);
}

static void
test_cloud_without_gateway(void **state)
{
    (void) state;
    struct netmodel m;
    build(&m, TUNNELS_MST);
    m.clouds[1].gateway = -1;
    struct statusfold_batch b;
    fold_case(&m, &cases[0], &b);
    check(&b, &m.clouds[1].o, NM_ERROR, "no gateway host: the cloud's hosts cannot "
          "reach other clouds", "no gateway");
    statusfold_batch_uninit(&b);
    netmodel_free(&m);
}

/* A VM without `iface` is bound by its hypervisor: with no port number on
 * a realized host it waits for an interface there, named in the detail;
 * with one it is realized like any other. */
static void
test_unbound_vm(void **state)
{
    (void) state;
    struct netmodel m;
    build(&m, TUNNELS_MST);
    m.vms[RED_DB].iface[0] = 0;
    struct statusfold_batch b;
    fold_case(&m, &cases[5], &b);
    check(&b, &m.vms[RED_DB].o, NM_PENDING, "waiting for an interface on host "
          "onprem-lis-h1 with external_ids:skyvisor-vm-id="
          "e0000001-0000-0000-0000-000000000000", "unbound");
    statusfold_batch_uninit(&b);
    /* Its host not realized yet: the host is what it waits for. */
    fold_case(&m, &cases[2], &b);
    check(&b, &m.vms[RED_DB].o, NM_PENDING, "waiting for host gcp-iowa-gw", "host");
    statusfold_batch_uninit(&b);
    fold_case(&m, &cases[0], &b);
    check(&b, &m.vms[RED_DB].o, NM_REALIZED, NULL, "bound");
    statusfold_batch_uninit(&b);
    netmodel_free(&m);
}

/* Several instances: a host another instance owns folds in with the
 * status its owner recorded, and so do its VMs (their port numbers and
 * errors here mean nothing); neither keeps the pass from being done. */
static void
test_foreign_host(void **state)
{
    (void) state;
    struct netmodel m;
    build(&m, TUNNELS_MST);
    m.hosts[C_H1].o.state = NM_PENDING;
    m.hosts[C_H1].o.detail = strdup("configuring the bridge");
    m.vms[RED_DB].o.state = NM_PENDING;
    m.vms[RED_DB].o.detail = strdup("waiting for host onprem-lis-h1");
    struct statusfold_host hs[N_HOSTS];
    for (int h = 0; h < N_HOSTS; h++) {
        hs[h] = (struct statusfold_host) { NM_REALIZED, NULL, false, NULL };
    }
    hs[C_H1] = (struct statusfold_host) { NM_PENDING, m.hosts[C_H1].o.detail, true, NULL };
    char *vm_err[N_VMS] = {0};
    uint32_t vm_port[N_VMS] = {0};
    for (int v = 0; v < N_VMS; v++) {
        vm_port[v] = m.vms[v].host == C_H1 ? 0 : (uint32_t) v + 1;
    }
    vm_err[BLUE_DB] = "not ours to say";
    struct statusfold_batch b;
    assert_true(statusfold_compute(&m, hs, vm_err, vm_port, &b));
    assert_null(find(&b, &m.hosts[C_H1].o));
    assert_null(find(&b, &m.vms[RED_DB].o));
    check(&b, &m.switches[1].o, NM_PENDING, "waiting for vm db", "foreign vm");
    const struct nm_status *blue = find(&b, &m.vms[BLUE_DB].o);
    assert_true(!blue || blue->state != NM_ERROR);
    statusfold_batch_uninit(&b);
    netmodel_free(&m);
}

/* Tree tunnels down (BFD): the VMs whose ways cross one stay realized and
 * name it, per cloud they reach that way, "via backup" while the other
 * tunnels still join its ends; their switch, network and tenant carry the
 * first note.  The world's tree is aws-fra--onprem-lis and
 * aws-fra--gcp-iowa; mst+backup adds gcp-iowa--onprem-lis. */
struct cut_case {
    const char *name;
    enum tunnels_layout layout;
    int down[4][2];                 /* (host, peer) ends down; {-1} ends */
    const char *error_host;         /* a host in error too, or NULL */
    /* expected details (all realized unless error_host): red web, red db,
     * red batch, red lab1, red's switch front, red's network, red tenant */
    const char *want[7];
};

#define AO "tunnel aws-fra-gw--onprem-lis-gw down"
#define VIA_BACKUP {                                                                  \
        "path to cloud onprem-lis via backup: " AO,                                   \
        "path to cloud aws-fra via backup: " AO "; path to cloud gcp-iowa via backup: " AO, \
        "path to cloud onprem-lis via backup: " AO,                                   \
        NULL,                                                                         \
        "vm web: path to cloud onprem-lis via backup: " AO,                           \
        "switch front: vm web: path to cloud onprem-lis via backup: " AO,             \
        "network prod: switch front: vm web: path to cloud onprem-lis via backup: " AO}
#define LOST {                                                                        \
        "path to cloud onprem-lis lost: " AO ", no backup",                           \
        "path to cloud aws-fra lost: " AO ", no backup; path to cloud gcp-iowa lost: " \
        AO ", no backup",                                                             \
        "path to cloud onprem-lis lost: " AO ", no backup",                           \
        NULL,                                                                         \
        "vm web: path to cloud onprem-lis lost: " AO ", no backup",                   \
        "switch front: vm web: path to cloud onprem-lis lost: " AO ", no backup",     \
        "network prod: switch front: vm web: path to cloud onprem-lis lost: " AO      \
        ", no backup"}
static const struct cut_case cut_cases[] = {
    {"aws-fra end of a tree tunnel", TUNNELS_MST_BACKUP, {{A_GW, C_GW}, {-1}}, NULL, VIA_BACKUP},
    {"the far end alone", TUNNELS_MST_BACKUP, {{C_GW, A_GW}, {-1}}, NULL, VIA_BACKUP},
    {"no backup in mst", TUNNELS_MST, {{A_GW, C_GW}, {C_GW, A_GW}, {-1}}, NULL, LOST},
    {"the backup down too", TUNNELS_MST_BACKUP, {{A_GW, C_GW}, {B_GW, C_GW}, {-1}}, NULL, LOST},
    {"a backup down alone", TUNNELS_MST_BACKUP, {{B_GW, C_GW}, {-1}}, NULL, {
        NULL, NULL, NULL, NULL, NULL, NULL, NULL}},
    {"an error first", TUNNELS_MST_BACKUP, {{A_GW, C_GW}, {-1}}, "onprem-lis-h1", {
        "path to cloud onprem-lis via backup: " AO,
        "host onprem-lis-h1: ovsdb down",
        "path to cloud onprem-lis via backup: " AO,
        NULL,
        "vm web: path to cloud onprem-lis via backup: " AO,
        "switch back: vm db: host onprem-lis-h1: ovsdb down",
        "network prod: switch back: vm db: host onprem-lis-h1: ovsdb down"}},
};
#undef VIA_BACKUP
#undef LOST
#undef AO

/* Folds 'c' into 'b' on 'm' (built with c's layout). */
static void
cut_fold(struct netmodel *m, const struct cut_case *c, bool with_down,
         struct statusfold_batch *b)
{
    static int lists[N_HOSTS][4];
    struct statusfold_host hs[N_HOSTS];
    for (int h = 0; h < N_HOSTS; h++) {
        int n = 0;
        for (int k = 0; with_down && k < 4 && c->down[k][0] >= 0; k++) {
            if (c->down[k][0] == h) {
                lists[h][n++] = c->down[k][1];
            }
        }
        lists[h][n] = -1;
        hs[h] = (struct statusfold_host) { NM_REALIZED, NULL, false, lists[h] };
        if (c->error_host && !strcmp(m->hosts[h].o.name, c->error_host)) {
            hs[h].state = NM_ERROR;
            hs[h].detail = "ovsdb down";
        }
    }
    char *vm_err[N_VMS] = {0};
    uint32_t vm_port[N_VMS];
    for (int v = 0; v < N_VMS; v++) {
        vm_port[v] = (uint32_t) v + 1;
    }
    assert_true(statusfold_compute(m, hs, vm_err, vm_port, b));
}

static void
test_tunnel_down_table(void **state)
{
    (void) state;
    for (size_t i = 0; i < sizeof cut_cases / sizeof cut_cases[0]; i++) {
        const struct cut_case *c = &cut_cases[i];
        struct netmodel m;
        build(&m, c->layout);
        struct statusfold_batch b;
        cut_fold(&m, c, true, &b);
        const struct nm_obj *objs[7] = {
            &m.vms[RED_WEB].o, &m.vms[RED_DB].o, &m.vms[RED_BATCH].o, &m.vms[RED_LAB].o,
            &m.switches[0].o, &m.networks[0].o, &m.tenants[0].o,
        };
        for (int k = 0; k < 7; k++) {
            bool err = c->error_host && c->want[k]
                       && (strstr(c->want[k], "ovsdb down") != NULL);
            check(&b, objs[k], err ? NM_ERROR : NM_REALIZED, c->want[k], c->name);
        }
        /* The gateways' own statuses are the reconciler's BFD detail, not
         * this fold's: a down end alone leaves a host and its cloud as
         * they are. */
        check(&b, &m.hosts[A_GW].o, NM_REALIZED, NULL, c->name);
        check(&b, &m.clouds[0].o, NM_REALIZED, NULL, c->name);
        statusfold_batch_uninit(&b);
        netmodel_free(&m);
    }
}

/* The tunnel back up: the notes go, and only the objects that had one
 * change. */
static void
test_tunnel_back_up(void **state)
{
    (void) state;
    struct netmodel m;
    build(&m, TUNNELS_MST_BACKUP);
    struct statusfold_batch b;
    cut_fold(&m, &cut_cases[0], false, &b);
    statusfold_commit(&b);
    statusfold_batch_uninit(&b);
    cut_fold(&m, &cut_cases[0], true, &b);
    /* web, db, batch, blue web, blue db; both tenants' front and back,
     * their networks, tenants and links (their switches' notes). */
    assert_int_equal(b.n, 5 + 4 + 2 + 2 + 2);
    statusfold_commit(&b);
    statusfold_batch_uninit(&b);
    cut_fold(&m, &cut_cases[0], false, &b);
    assert_int_equal(b.n, 15);
    check(&b, &m.vms[RED_WEB].o, NM_REALIZED, NULL, "back up");
    check(&b, &m.tenants[0].o, NM_REALIZED, NULL, "back up");
    statusfold_batch_uninit(&b);
    netmodel_free(&m);
}

int
main(void)
{
    (void) ofport_of;               /* nm_world.h's, for the flow tests */
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_fold_table),
        cmocka_unit_test(test_only_changes_are_returned),
        cmocka_unit_test(test_cloud_without_gateway),
        cmocka_unit_test(test_twin_carries_the_cloud),
        cmocka_unit_test(test_unbound_vm),
        cmocka_unit_test(test_foreign_host),
        cmocka_unit_test(test_tunnel_down_table),
        cmocka_unit_test(test_twin_tunnel_down),
        cmocka_unit_test(test_tunnel_back_up),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
