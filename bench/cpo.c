/* cpo: the controller side of `make bench-cpo`, the control-plane overhead
 * of the virtualization layer (Figure 3 of the multi-cloud network
 * virtualization paper skyvisor follows).
 *
 *   cpo profile T FILE        writes the ofbench profile (bench/ofbench.c)
 *                             of T tenants: T switches, one per tenant's
 *                             virtual network, with 5 VMs (unique MACs)
 *                             each, and the packet-ins their frames make
 *                             when they miss in the tenant table;
 *   cpo on T tcp:IP:PORT      the virtualization layer on: skyvisor's
 *                             reconciler with its embedded controller,
 *                             desired state = the same T tenants (a
 *                             synthetic struct recon_store);
 *   cpo off tcp:IP:PORT       the virtualization layer off: the same
 *                             embedded controller (ctrl/ofctl.h) answering
 *                             the same packet-ins as a plain MAC-learning
 *                             switch.
 *
 * Both answer each packet-in with one packet-out and nothing else, so the
 * difference is the tenant layer: "on" finds the host by datapath id in
 * the RCU snapshot, the sender by port, MAC and component, the destination
 * among the sender's component, and decides the actions (core/reactive.h);
 * "off" learns the source MAC and looks the destination up in a hash
 * table.  The profile's packet-ins are the ones Open vSwitch sends for a
 * table-10 miss (table 10, no_match, the infrastructure cookie, in_port
 * and metadata = component << 32), and each says which port the answer
 * must output to, so ofbench checks the answers, not only their number.
 *
 * The hosts of the synthetic state have OVSDB targets nobody listens on
 * (unix sockets under a path that does not exist): the reconciler's passes
 * mark them in error and never program the emulated switches, which is
 * what this benchmark wants: every packet-in takes the reactive path, and
 * the packet-in handler serves from the published snapshot whatever the
 * hosts' state.  The emulated switches connect to the reconciler's
 * listener (the hosts' `openflow` target is empty).
 *
 * Its own CPU time is the robust figure on a shared machine: on SIGUSR1
 * it prints "cpu_us=N handled=M" (user + system time of the whole process,
 * reconciler thread included, and the packet-ins handled so far), so the
 * caller can charge each run its CPU time per packet-in.  Runs until
 * SIGINT/SIGTERM. */
#include <errno.h>
#include <inttypes.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include "bench/maclearn.h"
#include "core/netmodel.h"
#include "core/packet.h"
#include "core/vlog.h"
#include "ctrl/ofctl.h"
#include "ctrl/reconciler.h"

#define VMS_PER_TENANT 5

/* --- the synthetic desired state --- */

static void
obj(struct nm_obj *o, const char *id, const char *name)
{
    memset(o, 0, sizeof *o);
    snprintf(o->id, sizeof o->id, "%s", id);
    snprintf(o->name, sizeof o->name, "%s", name);
    o->generation = 1;
}

static uint64_t
vm_mac(unsigned int t, unsigned int v)
{
    return 0x020000000000ull | (uint64_t) (t + 1) << 16 | (v + 1);
}

static uint32_t
vm_ip(unsigned int v)
{
    return 0x0a000000u | (v + 1);           /* every tenant: 10.0.0.0/24 */
}

/* T tenants, each: one network, one switch, one host (its bridge is the
 * tenant's emulated switch) holding its 5 VMs.  All hosts are in one
 * cloud, the first one its gateway.  Fills an initialised model. */
static int
build(struct netmodel *m, unsigned int T)
{
    m->n_clouds = 1;
    m->n_hosts = m->n_tenants = m->n_networks = m->n_switches = T;
    m->n_vms = (size_t) T * VMS_PER_TENANT;
    m->clouds = calloc(1, sizeof *m->clouds);
    m->hosts = calloc(T, sizeof *m->hosts);
    m->tenants = calloc(T, sizeof *m->tenants);
    m->networks = calloc(T, sizeof *m->networks);
    m->switches = calloc(T, sizeof *m->switches);
    m->vms = calloc(m->n_vms, sizeof *m->vms);
    if (!m->clouds || !m->hosts || !m->tenants || !m->networks || !m->switches || !m->vms) {
        return ENOMEM;
    }
    obj(&m->clouds[0].o, "c0000000-0000-0000-0000-000000000001", "bench");
    for (unsigned int t = 0; t < T; t++) {
        char id[40], name[32];
        struct nm_host *h = &m->hosts[t];
        snprintf(id, sizeof id, "00000000-0000-%04x-8000-000000000000", (t + 1) & 0xffff);
        snprintf(name, sizeof name, "host%u", t);
        obj(&h->o, id, name);
        h->cloud = 0;
        h->gateway = t == 0;
        h->tunnel_ip = 0xc6120000u | (t + 1);
        h->public_ip = t == 0 ? 0xc6130001u : 0;
        snprintf(h->ovsdb, sizeof h->ovsdb, "unix:/nonexistent/skyvisor-bench/%u.sock", t);
        snprintf(h->bridge, sizeof h->bridge, "br-sky");
        snprintf(h->datapath, sizeof h->datapath, "netdev");
        snprintf(id, sizeof id, "70000000-0000-0000-0000-%012x", t + 1);
        snprintf(name, sizeof name, "tenant%u", t);
        obj(&m->tenants[t].o, id, name);
        m->tenants[t].tag = (uint16_t) (t + 1);
        snprintf(id, sizeof id, "80000000-0000-0000-0000-%012x", t + 1);
        obj(&m->networks[t].o, id, "net");
        m->networks[t].tenant = (int) t;
        snprintf(id, sizeof id, "90000000-0000-0000-0000-%012x", t + 1);
        obj(&m->switches[t].o, id, "sw");
        m->switches[t].network = (int) t;
        m->switches[t].seq = t + 1;
        for (unsigned int v = 0; v < VMS_PER_TENANT; v++) {
            struct nm_vm *vm = &m->vms[t * VMS_PER_TENANT + v];
            snprintf(id, sizeof id, "e0000000-0000-0000-%04x-%012x", (t + 1) & 0xffff, v + 1);
            snprintf(name, sizeof name, "vm%u", v);
            obj(&vm->o, id, name);
            vm->network = vm->sw = vm->host = (int) t;
            vm->mac = vm_mac(t, v);
            vm->ip = vm_ip(v);
            vm->wire_low = (uint32_t) vm->mac;
            snprintf(vm->iface, sizeof vm->iface, "t%uv%u", t, v);
        }
    }
    return 0;
}

static unsigned int n_tenants;

static int
store_load(void *aux, struct netmodel *m)
{
    (void) aux;
    return build(m, n_tenants);
}

static int
store_write_status(void *aux, const struct nm_status *st, size_t n)
{
    (void) aux;
    (void) st;
    (void) n;
    return 0;
}

/* The profile: per switch its dpid, its VM ports (port v + 1 = VM v) and
 * the frames VM v sends to VM (v + 1 + k) % 5, for every k, as table-10
 * misses. */
static int
write_profile(unsigned int T, const char *path)
{
    struct netmodel m;
    netmodel_init(&m);
    int rc = build(&m, T);
    rc = rc ? rc : netmodel_finish(&m);
    FILE *f = rc ? NULL : fopen(path, "w");
    if (!f) {
        netmodel_free(&m);
        return rc ? rc : errno;
    }
    uint64_t infra = netmodel_cookie(NM_CK_INFRA, 0, 0);
    fprintf(f, "# cpo profile: %u tenants, %d VMs each\n", T, VMS_PER_TENANT);
    for (unsigned int t = 0; t < T; t++) {
        fprintf(f, "switch %" PRIx64 "\n", m.hosts[t].dpid);
        for (unsigned int v = 0; v < VMS_PER_TENANT; v++) {
            fprintf(f, "port %u %s\n", v + 1, m.vms[t * VMS_PER_TENANT + v].iface);
        }
        uint64_t meta = (uint64_t) netmodel_vm_comp(&m, (int) (t * VMS_PER_TENANT)) << 32;
        for (unsigned int k = 1; k < VMS_PER_TENANT; k++) {
            for (unsigned int v = 0; v < VMS_PER_TENANT; v++) {
                unsigned int d = (v + k) % VMS_PER_TENANT;
                fprintf(f, "frame %u 0 %" PRIx64 " %u %" PRIx64 " %" PRIx64 " %" PRIx64
                        " %" PRIx32 " %" PRIx32 " %u\n", NM_T_TENANT, infra, v + 1, meta,
                        vm_mac(t, v), vm_mac(t, d), vm_ip(v), vm_ip(d), d + 1);
            }
        }
    }
    rc = fclose(f) ? errno : 0;
    netmodel_free(&m);
    return rc;
}

/* --- off: a MAC-learning switch on the same controller --- */

static struct maclearn table;
static struct ofctl *ctl;
static atomic_ulong answered;

static void
learn_packet_in(void *aux, uint64_t dpid, const struct ofmsg_packet_in *pi)
{
    (void) aux;
    uint64_t in_port;
    if (pi->len < 14 || !ofmatch_get(&pi->match, MF_IN_PORT, &in_port, NULL)) {
        return;
    }
    maclearn_lookup(&table, dpid, packet_get_mac(pi->data + 6), true)->port =
        (uint32_t) in_port;
    struct maclearn_slot *d = maclearn_lookup(&table, dpid, packet_get_mac(pi->data),
                                              false);
    struct ofaction act = {.type = OFPAT_OUTPUT,
                           .u.output = {d ? d->port : OFPP_FLOOD, 0}};
    struct ofmsg po;
    ofmsg_init(&po, OFPT_PACKET_OUT, 0);
    po.u.packet_out.buffer_id = OFP_NO_BUFFER;
    po.u.packet_out.in_port = (uint32_t) in_port;
    po.u.packet_out.actions = &act;
    po.u.packet_out.n_actions = 1;
    po.u.packet_out.data = pi->data;
    po.u.packet_out.len = pi->len;
    if (!ofctl_send(ctl, dpid, &po)) {
        atomic_fetch_add_explicit(&answered, 1, memory_order_relaxed);
    }
}

static void
usage(void)
{
    fprintf(stderr, "usage: cpo profile TENANTS FILE\n"
                    "       cpo on TENANTS tcp:IP:PORT\n"
                    "       cpo off tcp:IP:PORT\n");
    exit(2);
}

static unsigned int
parse_tenants(const char *s)
{
    char *end;
    unsigned long t = strtoul(s, &end, 10);
    if (*end || t < 1 || t > 4096) {
        fprintf(stderr, "cpo: tenants must be 1 to 4096, not \"%s\"\n", s);
        exit(2);
    }
    return (unsigned int) t;
}

int
main(int argc, char **argv)
{
    if (argc == 4 && !strcmp(argv[1], "profile")) {
        int rc = write_profile(parse_tenants(argv[2]), argv[3]);
        if (rc) {
            fprintf(stderr, "cpo: %s: %s\n", argv[3], strerror(rc));
        }
        return rc ? 1 : 0;
    }
    bool on = argc == 4 && !strcmp(argv[1], "on");
    if (!on && !(argc == 3 && !strcmp(argv[1], "off"))) {
        usage();
    }
    sigset_t stop;
    sigemptyset(&stop);
    sigaddset(&stop, SIGINT);
    sigaddset(&stop, SIGTERM);
    sigaddset(&stop, SIGUSR1);
    pthread_sigmask(SIG_BLOCK, &stop, NULL);
    vlog_set_level(VLOG_ERR);           /* hosts in error are the setting here */
    struct reconciler *r = NULL;
    if (on) {
        n_tenants = parse_tenants(argv[2]);
        static const struct recon_store store = {
            .load = store_load, .write_status = store_write_status,
        };
        /* A long retry keeps the passes (which only find the hosts in
         * error) out of the measurement's way; a miss still asks for one. */
        struct recon_options o = { .layout = TUNNELS_MST, .openflow_listen = argv[3],
                                   .resync_ms = 10000, .retry_ms = 2000 };
        r = reconciler_create(&store, NULL, &o);
        if (!r) {
            fprintf(stderr, "cpo: cannot start the reconciler on %s\n", argv[3]);
            return 1;
        }
    } else {
        struct ofctl_callbacks cbs = {.packet_in = learn_packet_in};
        ctl = !maclearn_init(&table, 16) ? ofctl_create(&cbs, NULL, NULL) : NULL;
        if (!ctl || ofctl_listen(ctl, argv[2], NULL)) {
            fprintf(stderr, "cpo: cannot listen on %s\n", argv[2]);
            return 1;
        }
    }
    printf("listening\n");
    fflush(stdout);
    int sig;
    while (!sigwait(&stop, &sig) && sig == SIGUSR1) {
        struct rusage ru;
        getrusage(RUSAGE_SELF, &ru);
        unsigned long long handled = atomic_load(&answered);
        if (r) {
            struct recon_stats st;
            reconciler_get_stats(r, &st);
            handled = st.packet_ins;
        }
        printf("cpu_us=%lld handled=%llu\n",
               (long long) (ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * 1000000
               + ru.ru_utime.tv_usec + ru.ru_stime.tv_usec, handled);
        fflush(stdout);
    }
    if (r) {
        struct recon_stats st;
        reconciler_get_stats(r, &st);
        reconciler_destroy(r);
        printf("packet_ins=%llu passes=%llu\n", st.packet_ins, st.passes);
    } else {
        ofctl_destroy(ctl);
        maclearn_uninit(&table);
        printf("answered=%lu\n", atomic_load(&answered));
    }
    return 0;
}
