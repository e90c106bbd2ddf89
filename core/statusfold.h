/* statusfold.h: every object's status from what a reconciler pass found.
 *
 * Input: the model (after netmodel_finish), each host's verdict (its
 * bridge realized, pending with a reason, or in error with the cause), and
 * per VM an error found while configuring its port (or NULL) and its
 * OpenFlow port number (0: not numbered yet).  The fold:
 *   VM       error when it has no host, its host is in error, its port
 *            failed, or a host on the tunnel path to another member of its
 *            component is in error (or no path exists); pending while its
 *            port is unnumbered or a host on the way is not realized
 *            (a VM without `iface` whose host is realized and that has no
 *            port number is unbound: its detail names the host and the
 *            external_ids:skyvisor-vm-id an interface there must carry).
 *            A realized VM whose way to another member crosses a tree
 *            tunnel that is down at either end stays realized and says
 *            so, once per cloud it reaches that way: "path to cloud
 *            gcp-iowa via backup: tunnel aws-fra-gw--gcp-iowa-gw down"
 *            while the overlay (tree and backup tunnels, the down ones
 *            left out) still joins the tunnel's two ends, else "path to
 *            cloud gcp-iowa lost: tunnel ... down, no backup" (the host
 *            names in name order); the detail goes when the tunnel is up.
 *            With two gateways in a cloud, an overlay edge is cut when
 *            every tunnel between the gateways standing at its ends is
 *            down (the twins carry it otherwise), but its first hop, from
 *            the VM's own host, only when that host's own tunnels are: a
 *            preferred gateway's group falls to the detour, not its twin;
 *   switch   folds its VMs, network its switches and links, link its two
 *            switches, tenant its networks, cloud its gateway host (a
 *            cloud with hosts and no gateway is an error; with two
 *            gateways, one realized and the other not, the cloud is
 *            realized and names the one that carries it, and a path
 *            through the preferred one is whole while the twin is
 *            realized; a VM on the twin is in error: it takes none);
 * a fold keeps the first error, else the first pending ("waiting for
 * vm web"), else realized; a realized switch, network, link, tenant or
 * cloud takes the first note of its realized children ("vm web: path to
 * ...", "gateway aws-fra-gw: tunnels down ...").
 * Only statuses that differ from what the model holds (state, detail, or
 * an observed generation behind) are returned.  Pure: no I/O,
 * deterministic for a given input.
 *
 * Ownership: the batch owns its arrays and details (statusfold_batch_
 * uninit); its ids and objects point into the model, which must outlive
 * it.  statusfold_commit() records a written batch in the model. */
#ifndef SKYVISOR_CORE_STATUSFOLD_H
#define SKYVISOR_CORE_STATUSFOLD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/netmodel.h"

struct statusfold_host {
    enum nm_state state;
    const char *detail;             /* borrowed, NULL for none */
    bool foreign;                   /* several instances: another instance
                                     * owns the host's cloud and writes its
                                     * status and its VMs' (state and
                                     * detail above are its recorded
                                     * status); its VMs fold in with their
                                     * recorded statuses, and neither keeps
                                     * this pass from being done */
    const int *down;                /* borrowed: the peers (host indexes) of
                                     * its inter-cloud tunnels whose end here
                                     * is down (BFD), -1 ends; NULL: none */
};

struct statusfold_batch {
    struct nm_status *v;            /* owned, details owned */
    struct nm_obj **obj;            /* the object of each status */
    size_t n, cap;
    bool oom;                       /* a status did not fit: memory ran out */
};

/* Fills 'out' (initialised by this call) with the statuses that changed;
 * 'hosts' has m->n_hosts entries, vm_err and vm_port m->n_vms.  True when
 * nothing is left pending (clouds, hosts and VMs); false too when memory
 * runs out (then 'out' is empty). */
bool statusfold_compute(struct netmodel *m, const struct statusfold_host *hosts,
                        char *const *vm_err, const uint32_t *vm_port,
                        struct statusfold_batch *out);
/* Records the batch's statuses in the objects it names. */
void statusfold_commit(struct statusfold_batch *);
void statusfold_batch_uninit(struct statusfold_batch *);

#endif
