/* ofctl_learn: the controller side of `make bench-ctrl`.
 *
 * A MAC-learning switch application on skyvisor's embedded controller
 * (ctrl/ofctl.h), the same job ovs-testcontroller does: learn the source
 * MAC of every packet-in, then answer with a flow-mod when the destination
 * is known and always with a packet-out of the (unbuffered) packet.  It
 * listens on the address given and runs until SIGINT/SIGTERM, then prints
 * how many packet-ins it answered.
 *
 *   ofctl_learn tcp:127.0.0.1:PORT */
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bench/maclearn.h"
#include "core/packet.h"
#include "ctrl/ofctl.h"

/* Per-switch MAC tables in one hash keyed by (dpid, mac). */
static struct maclearn table;
static struct ofctl *ctl;
static atomic_ulong answered, flow_mods;

static void
packet_in(void *aux, uint64_t dpid, const struct ofmsg_packet_in *pi)
{
    (void) aux;
    uint64_t in_port;
    if (pi->len < 14 || !ofmatch_get(&pi->match, MF_IN_PORT, &in_port, NULL)) {
        return;
    }
    uint64_t dst = packet_get_mac(pi->data), src = packet_get_mac(pi->data + 6);
    maclearn_lookup(&table, dpid, src, true)->port = (uint32_t) in_port;
    struct maclearn_slot *d = maclearn_lookup(&table, dpid, dst, false);
    uint32_t out_port = d ? d->port : OFPP_FLOOD;
    struct ofaction act = {.type = OFPAT_OUTPUT, .u.output = {out_port, 0}};
    if (d) {
        struct ofinst inst = {.type = OFPIT_APPLY_ACTIONS, .actions = &act, .n_actions = 1};
        struct ofmsg fm;
        struct ofmsg_flow_mod *f = ofmsg_flow_mod_init(&fm, OFPFC_ADD, 0, 1, 0);
        f->idle_timeout = 60;
        ofmatch_set(&f->match, MF_IN_PORT, in_port);
        ofmatch_set(&f->match, MF_ETH_DST, dst);
        f->insts = &inst;
        f->n_insts = 1;
        if (!ofctl_send(ctl, dpid, &fm)) {
            atomic_fetch_add_explicit(&flow_mods, 1, memory_order_relaxed);
        }
    }
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

int
main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: ofctl_learn tcp:IP:PORT\n");
        return 2;
    }
    int nomem = maclearn_init(&table, 20);
    sigset_t stop;
    sigemptyset(&stop);
    sigaddset(&stop, SIGINT);
    sigaddset(&stop, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &stop, NULL);
    struct ofctl_callbacks cbs = {.packet_in = packet_in};
    ctl = ofctl_create(&cbs, NULL, NULL);
    if (nomem || !ctl || ofctl_listen(ctl, argv[1], NULL)) {
        fprintf(stderr, "ofctl_learn: cannot listen on %s\n", argv[1]);
        return 1;
    }
    printf("listening\n");
    fflush(stdout);
    int sig;
    sigwait(&stop, &sig);
    ofctl_destroy(ctl);
    printf("answered=%lu flow_mods=%lu\n", atomic_load(&answered), atomic_load(&flow_mods));
    maclearn_uninit(&table);
    return 0;
}
