/* ofctl_driver.c: drives ctrl/ofctl.h against a real Open vSwitch for
 * tests/integration/test_ofctl.py.
 *
 * A line protocol on stdin/stdout: one command per line, one answer line
 * per command, "ok ..." or "err ...".  Commands:
 *   connect TARGET            ofctl_connect
 *   disconnect TARGET         ofctl_disconnect
 *   listen TARGET             ofctl_listen; answers "ok PORT"
 *   wait N MS                 N switches up; answers "ok DPID..." (hex)
 *   waitups N MS              N switch_up events seen so far (reconnects)
 *   install DPID              the fixed flow set below, one batch
 *   delcookie DPID COOKIE     delete flows with this exact cookie, all tables
 *   bad DPID                  3 flow-mods, the 2nd outputs to an impossible
 *                             port; answers "rejected INDEX TYPE CODE"
 *   dump DPID COOKIE MASK     flow stats; answers "ok N COOKIE..."
 *   ports DPID                answers "ok NAME..." sorted by port number
 *   learn DPID                table-miss to controller, learning switch on
 *   stats                     "ok packet_ins=N flow_mods=N packet_outs=N"
 *   role DPID ROLE GEN [MS]   ofctl_set_role, ROLE master|slave|equal|none,
 *                             deadline MS from now (0 or none: no deadline)
 *   addflow DPID COOKIE       one drop flow (priority 1000 + the cookie's low
 *                             12 bits) with that cookie,
 *                             one batch: "ok", "rejected ..." or "err ERRNO"
 *   onup DPID COOKIE          on the next switch_up of DPID, submit that flow
 *                             from the callback (as an owner would at once)
 *   onupresult MS             the outcome of that submit, like addflow
 *   fenced                    "ok N ERRNO GEN": 'fenced' calls, the last one
 *   quit
 * Numbers may be decimal or 0x-hex.  Everything the controller does happens
 * on its own thread; this program only calls the public API. */
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "ctrl/ofctl.h"

static struct ofctl *ctl;
static atomic_uint n_ups, n_packet_ins, n_flow_mods, n_packet_outs;
static atomic_uint n_fenced;
static atomic_int fenced_reason, onup_result = -1;
static atomic_ullong fenced_gen, onup_dpid, onup_cookie;
static atomic_bool learning;

/* MAC table of the learning switch: touched on the loop thread only. */
#define MACS 256
static struct { uint64_t mac; uint32_t port; } macs[MACS];
static size_t n_macs;

static void flow_mod_drop(struct ofmsg *m, uint64_t cookie);

static void
onup_done(void *aux, int error, size_t failed_index, const struct ofmsg_error *err)
{
    (void) aux;
    (void) failed_index;
    (void) err;
    atomic_store(&onup_result, error);
}

static void
on_up(void *aux, const struct ofctl_switch_info *info)
{
    (void) aux;
    atomic_fetch_add(&n_ups, 1);
    if (atomic_load(&onup_cookie) && info->dpid == atomic_load(&onup_dpid)) {
        struct ofmsg m;
        flow_mod_drop(&m, atomic_exchange(&onup_cookie, 0));
        ofctl_submit(ctl, info->dpid, &m, 1, onup_done, NULL);
    }
}

static void
on_fenced(void *aux, uint64_t dpid, int reason, uint64_t generation)
{
    (void) aux;
    (void) dpid;
    atomic_store(&fenced_reason, reason);
    atomic_store(&fenced_gen, generation);
    atomic_fetch_add(&n_fenced, 1);
}

static const char *
errno_name(int e)
{
    return e == EPERM ? "EPERM" : e == ESTALE ? "ESTALE" : e == ETIME ? "ETIME"
           : e == ENOENT ? "ENOENT" : e == ETIMEDOUT ? "ETIMEDOUT" : strerror(e);
}

static uint64_t
get_mac(const uint8_t *p)
{
    uint64_t m = 0;
    for (int i = 0; i < 6; i++) {
        m = m << 8 | p[i];
    }
    return m;
}

static void
output_action(struct ofaction *a, uint32_t port)
{
    memset(a, 0, sizeof *a);
    a->type = OFPAT_OUTPUT;
    a->u.output.port = port;
    a->u.output.max_len = OFPCML_NO_BUFFER;
}

/* The learning switch: learn the source, forward to the known port with a
 * flow for next time, or flood. */
static void
on_packet_in(void *aux, uint64_t dpid, const struct ofmsg_packet_in *pi)
{
    (void) aux;
    atomic_fetch_add(&n_packet_ins, 1);
    uint64_t in_port, mask;
    if (!atomic_load(&learning) || pi->len < 14
        || !ofmatch_get(&pi->match, MF_IN_PORT, &in_port, &mask)) {
        return;
    }
    uint64_t dst = get_mac(pi->data), src = get_mac(pi->data + 6);
    uint32_t out = OFPP_FLOOD;
    bool found_src = false;
    for (size_t i = 0; i < n_macs; i++) {
        if (macs[i].mac == src) {
            macs[i].port = (uint32_t) in_port;
            found_src = true;
        }
        if (macs[i].mac == dst) {
            out = macs[i].port;
        }
    }
    if (!found_src && n_macs < MACS) {
        macs[n_macs].mac = src;
        macs[n_macs++].port = (uint32_t) in_port;
    }
    struct ofaction act;
    if (out != OFPP_FLOOD) {
        struct ofinst inst = {.type = OFPIT_APPLY_ACTIONS, .actions = &act, .n_actions = 1};
        output_action(&act, out);
        struct ofmsg fm;
        ofmsg_flow_mod_init(&fm, OFPFC_ADD, 0, 10, 0x99);
        ofmatch_set(&fm.u.flow_mod.match, MF_ETH_DST, dst);
        fm.u.flow_mod.insts = &inst;
        fm.u.flow_mod.n_insts = 1;
        if (!ofctl_send(ctl, dpid, &fm)) {
            atomic_fetch_add(&n_flow_mods, 1);
        }
    }
    output_action(&act, out);
    struct ofmsg po;
    ofmsg_init(&po, OFPT_PACKET_OUT, 0);
    po.u.packet_out.buffer_id = OFP_NO_BUFFER;
    po.u.packet_out.in_port = (uint32_t) in_port;
    po.u.packet_out.actions = &act;
    po.u.packet_out.n_actions = 1;
    po.u.packet_out.data = pi->data;
    po.u.packet_out.len = pi->len;
    if (!ofctl_send(ctl, dpid, &po)) {
        atomic_fetch_add(&n_packet_outs, 1);
    }
}

/* --- flow builders --- */

struct flow {
    uint64_t cookie;
    uint8_t table;
    uint16_t priority;
    struct ofmatch match;
    struct ofaction act;
    struct ofinst inst;
    bool has_inst;
};

static void
flow_to_msg(struct flow *f, enum ofp_flow_mod_command command, struct ofmsg *m)
{
    struct ofmsg_flow_mod *fm = ofmsg_flow_mod_init(m, command, f->table, f->priority,
                                                    f->cookie);
    fm->match = f->match;
    if (f->has_inst) {
        if (f->inst.type != OFPIT_GOTO_TABLE) {
            f->inst.actions = &f->act;
            f->inst.n_actions = 1;
        }
        fm->insts = &f->inst;
        fm->n_insts = 1;
    }
}

static void
flow_output(struct flow *f, uint32_t port)
{
    output_action(&f->act, port);
    f->inst.type = OFPIT_APPLY_ACTIONS;
    f->has_inst = true;
}

/* The flow set 'install' sends; test_ofctl.py knows its dump-flows text. */
static size_t
flow_set(struct flow *fl)
{
    memset(fl, 0, 5 * sizeof *fl);
    fl[0] = (struct flow){.cookie = 0x10, .priority = 100};
    ofmatch_set(&fl[0].match, MF_ETH_TYPE, 0x0800);
    ofmatch_set(&fl[0].match, MF_IPV4_DST, 0x0a000001);
    flow_output(&fl[0], 1);

    fl[1] = (struct flow){.cookie = 0x10, .priority = 200};
    ofmatch_set(&fl[1].match, MF_IN_PORT, 1);
    ofmatch_set(&fl[1].match, MF_ETH_DST, 0x000000000002ull);
    flow_output(&fl[1], 2);

    fl[2] = (struct flow){.cookie = 0x10, .table = 1, .priority = 50};
    ofmatch_set(&fl[2].match, MF_ETH_TYPE, 0x0806);
    flow_output(&fl[2], OFPP_CONTROLLER);

    fl[3] = (struct flow){.cookie = 0x20, .priority = 300};
    ofmatch_set(&fl[3].match, MF_ETH_TYPE, 0x0800);
    ofmatch_set(&fl[3].match, MF_IP_PROTO, 6);
    ofmatch_set(&fl[3].match, MF_TCP_DST, 80);

    fl[4] = (struct flow){.cookie = 0x20, .priority = 10};
    fl[4].inst.type = OFPIT_GOTO_TABLE;
    fl[4].inst.table_id = 1;
    fl[4].has_inst = true;
    return 5;
}

static void
print_submit_result(int error, size_t idx, struct ofmsg_error *err)
{
    if (!error) {
        printf("ok\n");
    } else if (error == EPROTO) {
        printf("rejected %zu %u %u\n", idx, err->type, err->code);
        free(err->data);
    } else {
        printf("err %s\n", errno_name(error));
    }
}

/* A flow-mod adding a drop flow with 'cookie' to table 0, its priority
 * 1000 + the cookie's low 12 bits (so flows of different cookies differ). */
static void
flow_mod_drop(struct ofmsg *m, uint64_t cookie)
{
    ofmsg_flow_mod_init(m, OFPFC_ADD, 0, (uint16_t) (1000 + (cookie & 0xfff)), cookie);
}

static void
cmd_role(uint64_t dpid, const char *role, uint64_t gen, uint64_t ms)
{
    enum ofctl_role r = !strcmp(role, "master") ? OFCTL_ROLE_MASTER
                        : !strcmp(role, "slave") ? OFCTL_ROLE_SLAVE
                        : !strcmp(role, "equal") ? OFCTL_ROLE_EQUAL : OFCTL_ROLE_NONE;
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    uint64_t now = (uint64_t) ts.tv_sec * 1000 + (uint64_t) ts.tv_nsec / 1000000;
    int e = ofctl_set_role(ctl, dpid, r, gen, ms ? now + ms : 0);
    printf(e ? "err %s\n" : "ok\n", errno_name(e));
}

static void
cmd_addflow(uint64_t dpid, uint64_t cookie)
{
    struct ofmsg m;
    flow_mod_drop(&m, cookie);
    size_t idx = 0;
    struct ofmsg_error err = {0};
    print_submit_result(ofctl_submit_wait(ctl, dpid, &m, 1, 5000, &idx, &err), idx, &err);
}

static void
cmd_onupresult(unsigned int ms)
{
    for (unsigned int t = 0; t < ms && atomic_load(&onup_result) < 0; t += 20) {
        struct timespec ts = {0, 20 * 1000000L};
        nanosleep(&ts, NULL);
    }
    int e = atomic_load(&onup_result);
    if (e < 0) {
        printf("err timeout\n");
    } else {
        printf(e ? "err %s\n" : "ok\n", errno_name(e));
    }
}

static uint64_t
num(const char *s)
{
    return s ? strtoull(s, NULL, 0) : 0;
}

static void
cmd_install(uint64_t dpid)
{
    struct flow fl[5];
    size_t n = flow_set(fl);
    struct ofmsg msgs[5];
    for (size_t i = 0; i < n; i++) {
        flow_to_msg(&fl[i], OFPFC_ADD, &msgs[i]);
    }
    size_t idx = 0;
    struct ofmsg_error err = {0};
    int error = ofctl_submit_wait(ctl, dpid, msgs, n, 5000, &idx, &err);
    print_submit_result(error, idx, &err);
}

static void
cmd_bad(uint64_t dpid)
{
    struct flow fl[3];
    memset(fl, 0, sizeof fl);
    for (int i = 0; i < 3; i++) {
        fl[i].cookie = 0x30;
        fl[i].priority = (uint16_t) (1000 + i);
        ofmatch_set(&fl[i].match, MF_ETH_TYPE, 0x0800);
        ofmatch_set(&fl[i].match, MF_IPV4_SRC, 0x0a0000f0u + (uint32_t) i);
        flow_output(&fl[i], 1);
    }
    flow_output(&fl[1], 0x10000);   /* beyond any OpenFlow port number */
    struct ofmsg msgs[3];
    for (size_t i = 0; i < 3; i++) {
        flow_to_msg(&fl[i], OFPFC_ADD, &msgs[i]);
    }
    size_t idx = 0;
    struct ofmsg_error err = {0};
    int error = ofctl_submit_wait(ctl, dpid, msgs, 3, 5000, &idx, &err);
    print_submit_result(error, idx, &err);
}

static void
cmd_delcookie(uint64_t dpid, uint64_t cookie)
{
    struct ofmsg m;
    ofmsg_flow_mod_init(&m, OFPFC_DELETE, 0xff, 0, cookie);
    m.u.flow_mod.cookie_mask = UINT64_MAX;
    size_t idx = 0;
    struct ofmsg_error err = {0};
    print_submit_result(ofctl_submit_wait(ctl, dpid, &m, 1, 5000, &idx, &err), idx, &err);
}

static int
cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *) a, y = *(const uint64_t *) b;
    return x < y ? -1 : x > y;
}

static void
cmd_dump(uint64_t dpid, uint64_t cookie, uint64_t mask)
{
    struct offlow_stats *flows;
    size_t n;
    int error = ofctl_dump_flows_wait(ctl, dpid, cookie, mask, 5000, &flows, &n);
    if (error) {
        printf("err %s\n", strerror(error));
        return;
    }
    uint64_t *cookies = calloc(n + 1, sizeof *cookies);
    for (size_t i = 0; cookies && i < n; i++) {
        cookies[i] = flows[i].cookie;
    }
    if (cookies) {
        qsort(cookies, n, sizeof *cookies, cmp_u64);
    }
    printf("ok %zu", n);
    for (size_t i = 0; cookies && i < n; i++) {
        printf(" 0x%llx", (unsigned long long) cookies[i]);
    }
    printf("\n");
    free(cookies);
    ofctl_free_flows(flows, n);
}

static int
cmp_port(const void *a, const void *b)
{
    const struct ofport *x = a, *y = b;
    return x->port_no < y->port_no ? -1 : x->port_no > y->port_no;
}

static void
cmd_ports(uint64_t dpid)
{
    struct ofport *ports;
    size_t n;
    int error = ofctl_ports(ctl, dpid, &ports, &n);
    if (error) {
        printf("err %s\n", strerror(error));
        return;
    }
    qsort(ports, n, sizeof *ports, cmp_port);
    printf("ok");
    for (size_t i = 0; i < n; i++) {
        printf(" %s", ports[i].name);
    }
    printf("\n");
    free(ports);
}

static void
cmd_learn(uint64_t dpid)
{
    struct flow miss = {.cookie = 0x98, .priority = 0};
    flow_output(&miss, OFPP_CONTROLLER);
    struct ofmsg m;
    flow_to_msg(&miss, OFPFC_ADD, &m);
    atomic_store(&learning, true);
    size_t idx = 0;
    struct ofmsg_error err = {0};
    print_submit_result(ofctl_submit_wait(ctl, dpid, &m, 1, 5000, &idx, &err), idx, &err);
}

static void
cmd_wait(size_t n, unsigned int ms)
{
    uint64_t dpids[16];
    if (n > 16) {
        n = 16;
    }
    if (ofctl_wait_switches(ctl, n, dpids, ms)) {
        printf("err timeout\n");
        return;
    }
    printf("ok");
    for (size_t i = 0; i < n; i++) {
        printf(" 0x%llx", (unsigned long long) dpids[i]);
    }
    printf("\n");
}

static void
cmd_waitups(unsigned int n, unsigned int ms)
{
    for (unsigned int t = 0; t < ms; t += 50) {
        if (atomic_load(&n_ups) >= n) {
            printf("ok %u\n", atomic_load(&n_ups));
            return;
        }
        struct timespec ts = {0, 50 * 1000000L};
        nanosleep(&ts, NULL);
    }
    printf("err timeout %u\n", atomic_load(&n_ups));
}

int
main(int argc, char **argv)
{
    struct ofctl_options opt = {0};
    if (argc > 1) {
        opt.probe_ms = (unsigned int) num(argv[1]);
    }
    struct ofctl_callbacks cbs = {.switch_up = on_up, .packet_in = on_packet_in,
                                  .fenced = on_fenced};
    ctl = ofctl_create(&cbs, NULL, &opt);
    if (!ctl) {
        fprintf(stderr, "ofctl_create failed\n");
        return 1;
    }
    setvbuf(stdout, NULL, _IOLBF, 0);
    char line[512];
    while (fgets(line, sizeof line, stdin)) {
        char *save = NULL;
        char *cmd = strtok_r(line, " \t\n", &save);
        char *a1 = strtok_r(NULL, " \t\n", &save);
        char *a2 = strtok_r(NULL, " \t\n", &save);
        char *a3 = strtok_r(NULL, " \t\n", &save);
        if (!cmd) {
            continue;
        } else if (!strcmp(cmd, "quit")) {
            break;
        } else if (!strcmp(cmd, "connect") && a1) {
            int e = ofctl_connect(ctl, a1);
            printf(e ? "err %s\n" : "ok\n", strerror(e));
        } else if (!strcmp(cmd, "disconnect") && a1) {
            int e = ofctl_disconnect(ctl, a1);
            printf(e ? "err %s\n" : "ok\n", strerror(e));
        } else if (!strcmp(cmd, "listen") && a1) {
            unsigned int port = 0;
            int e = ofctl_listen(ctl, a1, &port);
            if (e) {
                printf("err %s\n", strerror(e));
            } else {
                printf("ok %u\n", port);
            }
        } else if (!strcmp(cmd, "wait")) {
            cmd_wait((size_t) num(a1), (unsigned int) num(a2));
        } else if (!strcmp(cmd, "waitups")) {
            cmd_waitups((unsigned int) num(a1), (unsigned int) num(a2));
        } else if (!strcmp(cmd, "install")) {
            cmd_install(num(a1));
        } else if (!strcmp(cmd, "delcookie")) {
            cmd_delcookie(num(a1), num(a2));
        } else if (!strcmp(cmd, "bad")) {
            cmd_bad(num(a1));
        } else if (!strcmp(cmd, "dump")) {
            cmd_dump(num(a1), num(a2), num(a3));
        } else if (!strcmp(cmd, "ports")) {
            cmd_ports(num(a1));
        } else if (!strcmp(cmd, "learn")) {
            cmd_learn(num(a1));
        } else if (!strcmp(cmd, "role") && a1 && a2) {
            char *a4 = strtok_r(NULL, " \t\n", &save);
            cmd_role(num(a1), a2, num(a3), num(a4));
        } else if (!strcmp(cmd, "addflow")) {
            cmd_addflow(num(a1), num(a2));
        } else if (!strcmp(cmd, "onup")) {
            atomic_store(&onup_result, -1);
            atomic_store(&onup_dpid, num(a1));
            atomic_store(&onup_cookie, num(a2));
            printf("ok\n");
        } else if (!strcmp(cmd, "onupresult")) {
            cmd_onupresult((unsigned int) num(a1));
        } else if (!strcmp(cmd, "fenced")) {
            printf("ok %u %s %llu\n", atomic_load(&n_fenced),
                   atomic_load(&n_fenced) ? errno_name(atomic_load(&fenced_reason)) : "-",
                   (unsigned long long) atomic_load(&fenced_gen));
        } else if (!strcmp(cmd, "stats")) {
            printf("ok packet_ins=%u flow_mods=%u packet_outs=%u\n",
                   atomic_load(&n_packet_ins), atomic_load(&n_flow_mods),
                   atomic_load(&n_packet_outs));
        } else {
            printf("err unknown command\n");
        }
    }
    ofctl_destroy(ctl);
    return 0;
}
