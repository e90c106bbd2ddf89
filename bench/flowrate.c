/* flowrate: the skyvisor side of `make bench-flowmod` (bench/flowmod.py).
 *
 * Pushes N distinct flow-mods into one bridge through skyvisor's embedded
 * controller (ctrl/ofctl.h) the way the reconciler sends a level
 * (ctrl/recon_flows.c, run_level): rounds of RECON_LEVEL_CHUNK
 * (ctrl/reconciler.h) flow-mods unless --chunk says otherwise, each closed
 * by a barrier (ofctl_submit), the next round sent once the barrier reply
 * of the one before came back.  --window W keeps W rounds in flight instead
 * of one, to show what pipelining would give.  The flows have the shape of
 * the tenant table's unicast rule (core/netmodel.h, table 10): metadata's
 * component and a VM's MAC, rewritten to its platform MAC, on to the source
 * tag table; `flowrate print N` writes the same N flows in ovs-ofctl's
 * syntax, so ovs-ofctl installs exactly these.
 *
 *   flowrate print N
 *   flowrate [--chunk C] [--window W] [--tls KEY CERT CA] TARGET N
 *
 * TARGET is the bridge's listener (tcp:IP:PORT or ssl:IP:PORT).  The clock
 * runs from the first flow-mod built to the last barrier reply; connecting
 * and the OpenFlow handshake come before it.  Prints "flows=N seconds=S
 * rate=R" and exits 0 when every round was confirmed, 1 otherwise. */
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/netmodel.h"
#include "core/packet.h"
#include "ctrl/ofctl.h"
#include "ctrl/reconciler.h"
#include "ctrl/stream.h"

#define VMS_PER_COMPONENT 64
#define TENANT_TAG 0x0206          /* unicast, locally administered */

/* Flow i: the VM's own MAC, its component's metadata, its platform MAC. */
static uint64_t vm_mac(size_t i) { return 0x020000000000ull | (uint64_t) (i + 1); }
static uint64_t component(size_t i) { return (uint64_t) (i / VMS_PER_COMPONENT + 1) << 32; }
static uint32_t wire_low(size_t i) { return (uint32_t) (i + 1); }
static uint64_t wire_mac(size_t i) { return (uint64_t) TENANT_TAG << 32 | wire_low(i); }
#define COMP_MASK UINT64_C(0xffffffff00000000)

/* Storage for one flow-mod's instructions, which 'msg' points into. */
struct flow_slot {
    struct ofmsg msg;
    struct ofinst insts[2];
    struct ofaction act;
};

static void
flow_build(struct flow_slot *s, size_t i)
{
    struct ofmsg_flow_mod *fm
        = ofmsg_flow_mod_init(&s->msg, OFPFC_ADD, NM_T_TENANT, 100,
                              netmodel_cookie(NM_CK_VM, TENANT_TAG, wire_low(i)));
    ofmatch_set_masked(&fm->match, MF_METADATA, component(i), COMP_MASK);
    ofmatch_set(&fm->match, MF_ETH_DST, vm_mac(i));
    s->act = (struct ofaction) {
        .type = OFPAT_SET_FIELD, .u.set_field = {MF_ETH_DST, wire_mac(i)},
    };
    s->insts[0] = (struct ofinst) {
        .type = OFPIT_APPLY_ACTIONS, .actions = &s->act, .n_actions = 1,
    };
    s->insts[1] = (struct ofinst) {.type = OFPIT_GOTO_TABLE, .table_id = NM_T_SRC_TAG};
    fm->insts = s->insts;
    fm->n_insts = 2;
}

/* The same flows as flow_build(), one ovs-ofctl flow a line. */
static void
flows_print(size_t n)
{
    for (size_t i = 0; i < n; i++) {
        char dst[18], set[18];
        packet_format_mac(vm_mac(i), dst);
        packet_format_mac(wire_mac(i), set);
        printf("table=%d,priority=100,cookie=%#" PRIx64 ",metadata=%#" PRIx64 "/%#" PRIx64
               ",dl_dst=%s,actions=set_field:%s->eth_dst,goto_table:%d\n", NM_T_TENANT,
               netmodel_cookie(NM_CK_VM, TENANT_TAG, wire_low(i)), component(i), COMP_MASK,
               dst, set, NM_T_SRC_TAG);
    }
}

/* Rounds in flight, completed on the loop thread. */
static struct {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    size_t in_flight;
    int error;
    struct timespec last;           /* when the last barrier reply came */
} rounds = {PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, 0, 0, {0, 0}};

static void
round_done(void *aux, int error, size_t failed, const struct ofmsg_error *err)
{
    (void) aux;
    pthread_mutex_lock(&rounds.mu);
    if (error && !rounds.error) {
        rounds.error = error;
        fprintf(stderr, "flowrate: round failed: %s (message %zu, error type %u code %u)\n",
                strerror(error), failed, err ? err->type : 0, err ? err->code : 0);
    }
    clock_gettime(CLOCK_MONOTONIC, &rounds.last);
    rounds.in_flight--;
    pthread_cond_signal(&rounds.cv);
    pthread_mutex_unlock(&rounds.mu);
}

/* Waits until at most 'max' rounds are in flight; returns the first error. */
static int
rounds_wait(size_t max)
{
    pthread_mutex_lock(&rounds.mu);
    while (rounds.in_flight > max) {
        pthread_cond_wait(&rounds.cv, &rounds.mu);
    }
    int error = rounds.error;
    pthread_mutex_unlock(&rounds.mu);
    return error;
}

/* Sends flows [0, n) in rounds of 'chunk', 'window' rounds in flight. */
static int
push(struct ofctl *ctl, uint64_t dpid, size_t n, size_t chunk, size_t window)
{
    struct flow_slot *slots = calloc(chunk, sizeof *slots);
    struct ofmsg *msgs = calloc(chunk, sizeof *msgs);
    int error = slots && msgs ? 0 : ENOMEM;
    for (size_t from = 0; !error && from < n; from += chunk) {
        size_t k = n - from < chunk ? n - from : chunk;
        for (size_t j = 0; j < k; j++) {
            flow_build(&slots[j], from + j);
            msgs[j] = slots[j].msg;
        }
        error = rounds_wait(window - 1);
        if (!error) {
            pthread_mutex_lock(&rounds.mu);
            rounds.in_flight++;
            pthread_mutex_unlock(&rounds.mu);
            /* Encoded before it returns: 'msgs' is ours again. */
            error = ofctl_submit(ctl, dpid, msgs, k, round_done, NULL);
            if (error) {
                pthread_mutex_lock(&rounds.mu);
                rounds.in_flight--;
                pthread_mutex_unlock(&rounds.mu);
            }
        }
    }
    int last = rounds_wait(0);
    free(slots);
    free(msgs);
    return error ? error : last;
}

static double
seconds_between(const struct timespec *a, const struct timespec *b)
{
    return (double) (b->tv_sec - a->tv_sec) + (double) (b->tv_nsec - a->tv_nsec) / 1e9;
}

static int
usage(void)
{
    fprintf(stderr, "usage: flowrate print N\n"
                    "       flowrate [--chunk C] [--window W] [--tls KEY CERT CA] TARGET N\n");
    return 2;
}

int
main(int argc, char **argv)
{
    size_t chunk = RECON_LEVEL_CHUNK, window = 1;
    const char *key = NULL, *cert = NULL, *ca = NULL;
    int i = 1;
    for (; i < argc && !strncmp(argv[i], "--", 2); i++) {
        if (!strcmp(argv[i], "--chunk") && i + 1 < argc) {
            chunk = strtoul(argv[++i], NULL, 10);
        } else if (!strcmp(argv[i], "--window") && i + 1 < argc) {
            window = strtoul(argv[++i], NULL, 10);
        } else if (!strcmp(argv[i], "--tls") && i + 3 < argc) {
            key = argv[++i];
            cert = argv[++i];
            ca = argv[++i];
        } else {
            return usage();
        }
    }
    if (argc - i != 2 || !chunk || !window) {
        return usage();
    }
    size_t n = strtoul(argv[i + 1], NULL, 10);
    if (!strcmp(argv[i], "print")) {
        flows_print(n);
        return 0;
    }
    char err[256];
    if (key && stream_tls_configure(key, cert, ca, err, sizeof err)) {
        fprintf(stderr, "flowrate: TLS: %s\n", err);
        return 1;
    }
    struct ofctl_callbacks cbs = {0};
    struct ofctl *ctl = ofctl_create(&cbs, NULL, NULL);
    uint64_t dpid;
    if (!ctl || ofctl_connect(ctl, argv[i])
        || ofctl_wait_switches(ctl, 1, &dpid, 10000)) {
        fprintf(stderr, "flowrate: no switch at %s\n", argv[i]);
        ofctl_destroy(ctl);
        return 1;
    }
    struct timespec start;
    clock_gettime(CLOCK_MONOTONIC, &start);
    int error = push(ctl, dpid, n, chunk, window);
    ofctl_destroy(ctl);
    if (error) {
        fprintf(stderr, "flowrate: %s\n", strerror(error));
        return 1;
    }
    double s = seconds_between(&start, &rounds.last);
    printf("flows=%zu seconds=%.4f rate=%.0f\n", n, s, s > 0 ? (double) n / s : 0);
    return 0;
}
