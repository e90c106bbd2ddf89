/* reconciler.h: the thread that makes the switches match the database.
 *
 * One reconciler thread wakes on a desired-state notification (the store's
 * file descriptor), on a switch connecting or leaving, on a kick, or every
 * resync interval, and runs a pass:
 *
 *   1. load      what changed: the store's changes() reads its change log
 *                (db/changelog.h) from where it stopped; VMs alone come
 *                with the log, from the same snapshot, and are applied
 *                to a copy of the model
 *                (netmodel_apply_vms); switches, links or networks, or
 *                anything outside networks, load the whole desired state
 *                through the store in one transaction, as do the first
 *                pass and a failed pass (the audit reads the bridges
 *                back, not the database); derive the overlay
 *                (core/netmodel.h); publish the model as an immutable
 *                snapshot with liburcu (readers: the packet-in handler,
 *                the topology endpoints).  A notification only wakes the
 *                thread: the log, not the notification, says what changed;
 *   2. sessions  one OVSDB session per host and one OpenFlow connection
 *                (we connect to the host's `openflow` target, or the bridge
 *                connects to our listener through its `controller`); over
 *                TLS (ssl: targets, an ssl: listener) the switch's
 *                certificate must name the host (core/certname.h): the
 *                OVSDB server's the host the session is for, the OpenFlow
 *                switch's the host whose datapath id it reports; a refused
 *                session puts the host in error with the reason;
 *   3. OVSDB     on every host first (except a host the last pass
 *                realized, whose replica has not moved since and which no
 *                change touches): the integration bridge (netdev or
 *                system datapath, fail-mode secure, OpenFlow 1.3, the
 *                datapath id the platform derives from the host id), its VM
 *                ports and tunnels, removing the ports it owns that are no
 *                longer desired; each change is one idempotent transaction
 *                (ctrl/ovsdb_vswitch.h), a host's port transactions all
 *                sent before any reply is awaited; then, for at most a
 *                second, the sessions of the hosts just changed run until
 *                ovs-vswitchd has numbered their new ports, so their flows
 *                go in this same pass.  The ports of new VMs (not realized
 *                yet, not migrating), a few per host, ask for their
 *                numbers instead and are not waited for here: their
 *                flows go in with those numbers, and the replies and
 *                numbers are checked after the flows, before the
 *                statuses (ctrl/recon_ovsdb.c);
 *   4. flows     per connected bridge, as much as the change needs:
 *                every flow after a reload of everything, on a bridge
 *                carrying a changed network, on a bridge one of whose
 *                port numbers moved since its last plan (other than a
 *                changed VM's) or that the last pass left out of sync;
 *                only the changed VMs' flows (their cookies) and their
 *                components' floods on the other bridges carrying their
 *                networks; nothing on the rest, whose tables stay as
 *                they are.
 *                Compile them with the port numbers OVSDB reports and
 *                diff them by (table, priority, match) against the
 *                bridge's installed-flow table (ctrl/flowtable.h), which
 *                holds what the bridge's barriers confirmed, within the
 *                owners' cookies for a partial plan; then apply every
 *                bridge's changes
 *                make before break: additions level by level, deepest
 *                table first (local delivery and transit before the
 *                ingress rules that lead there), each level confirmed by a
 *                barrier on every bridge before the next is sent, then
 *                deletions the other way round; an unchanged flow is never
 *                touched, so a restarted skyvisord adopts what its
 *                predecessor installed;
 *   5. status    every object's state (pending / realized / error with a
 *                detail naming the cause) and observed generation, written
 *                back when it changed.
 *
 * Drift.  A bridge is read back (its flows carrying a skyvisor cookie)
 * only at start, when it (re)connects, after one of its batches failed,
 * in the periodic audit (audit_ms: the read-back is first compared with
 * the table and the difference counted as drift; a round is spread over
 * passes, a bounded number of installed flows each, so that a change
 * waits for one slice, not for every bridge), and when a packet-in
 * shows a miss on a bridge the table says is in sync.  Every flow is
 * installed with OFPFF_SEND_FLOW_REM, so a flow deleted behind our back
 * comes back as a flow-removed: dropped from the table, it is repaired by
 * a pass shortly after (a burst of removals is repaired at once).
 *
 * A host that is down marks its own objects (and the VMs that need it)
 * error and does not hold up the others.  A pass that leaves anything
 * pending schedules the next one soon.
 *
 * The packet-in handler runs on the controller's thread: ARP requests from
 * VMs (port security already checked them) are answered from the snapshot
 * when the target is in the sender's component; LLDP received on tunnel
 * ports records physical links (the platform's own probes, sent on every
 * tunnel port each pass); a VM's frame that missed in the tenant table is
 * forwarded at once by a packet-out decided from the snapshot as the
 * pipeline would (core/reactive.h), or dropped when its destination is not
 * the sender's to reach, and asks for a pass so the proactive flows follow.
 *
 * Several instances (recon_options.owner, ctrl/recon_owner.c): each pass
 * writes only the bridges of the clouds this instance owns, fenced by the
 * owner's epoch (OpenFlow role, OVSDB epoch, the grant's deadline), follows
 * the others as an OpenFlow slave, adopts a bridge it takes over as a
 * restart does, and writes only the statuses it is the one writer of.
 *
 * Threads: reconciler_* functions may be called from any thread except
 * where noted; the store's functions are only called on the reconciler
 * thread. */
#ifndef SKYVISOR_CTRL_RECONCILER_H
#define SKYVISOR_CTRL_RECONCILER_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/netmodel.h"

struct reconciler;

/* What changed in desired state since the store's previous load() or
 * changes() (the store keeps its place in a change log). */
struct recon_changes {
    bool reload;                    /* anything else: load() everything and
                                     * plan every bridge */
    char (*networks)[40];           /* owned: networks whose switches, links
                                     * or own row changed: load() everything,
                                     * plan the bridges carrying them */
    size_t n_networks;
    struct nm_vm *vms;              /* owned (and details): VMs created or
                                     * updated, with indexes into the model
                                     * changes() was given */
    size_t n_vms;
    char (*vms_gone)[40];           /* owned: VMs deleted */
    size_t n_vms_gone;
};
void recon_changes_uninit(struct recon_changes *);

/* Where desired state comes from and statuses go (db/state.h in skyvisord,
 * anything else in tests). */
struct recon_store {
    /* Fills an initialised, empty model (not yet finished); 0 or an errno. */
    int (*load)(void *aux, struct netmodel *);
    /* Optional: fills 'out' (zeroed by the caller) with what changed since
     * the previous load() or changes(), VMs resolved against 'cur', the
     * model in use; 0 or an errno (then nothing was consumed).  Without
     * it every pass that wakes for a change loads everything. */
    int (*changes)(void *aux, const struct netmodel *cur, struct recon_changes *out);
    /* 0 or an errno. */
    int (*write_status)(void *aux, const struct nm_status *, size_t n);
    /* A descriptor that becomes readable when desired state may have
     * changed, -1 if none; drain() consumes it (true: something changed). */
    int (*fd)(void *aux);
    bool (*drain)(void *aux);
};

/* Several instances on one database (db/lease_keeper.h; ctrl/recon_owner.c
 * says what the reconciler does with it).  Called on the reconciler thread
 * and the controller's loop thread; must not block. */
struct recon_owner_ops {
    /* Whether this instance owns cloud 'cloud_id' now; then the epoch it
     * holds it with and its deadline (CLOCK_MONOTONIC ms). */
    bool (*owns)(void *aux, const char *cloud_id, uint64_t *epoch,
                 uint64_t *deadline_ms);
    /* A switch or OVSDB server of 'cloud_id' refused the owner of 'epoch'. */
    void (*fenced)(void *aux, const char *cloud_id, uint64_t epoch);
    void *aux;
};

struct recon_options {
    enum tunnels_layout layout;
    const char *openflow_listen;    /* "tcp:IP:PORT", "ssl:IP:PORT" or NULL */
    unsigned int resync_ms;         /* periodic pass, reading the change
                                     * log (10000) */
    unsigned int retry_ms;          /* next pass while pending (250) */
    unsigned int audit_ms;          /* read every bridge back and plan it
                                     * whole, a few bridges a pass
                                     * (300000; 0: the default) */
    const struct recon_owner_ops *owner;    /* borrowed; NULL: this instance
                                             * owns every switch */
    int bfd_ms;                     /* BFD min_tx and min_rx on inter-cloud
                                     * tunnels (ctrl/recon_bfd.h); 0:
                                     * RECON_BFD_MS_DEFAULT, < 0: no BFD */
    int holddown_ms;                /* a failed tunnel's hold-down after BFD
                                     * sees it up again (ctrl/recon_bfd.h);
                                     * 0: RECON_HOLDDOWN_MS_DEFAULT, < 0:
                                     * none */
};

/* The hold-down on reversion unless told otherwise, in ms. */
#define RECON_HOLDDOWN_MS_DEFAULT 1000

/* The BFD interval of inter-cloud tunnels unless told otherwise, in ms:
 * a cut is detected after 3 intervals (BFD's detect multiplier). */
#define RECON_BFD_MS_DEFAULT 100

/* Flow-mods per bridge in one round of a level (ctrl/recon_flows.c,
 * run_level; bench/flowrate.c sends the same rounds): a first pass's level
 * holds tens of thousands per bridge, and a switch answers nothing, not
 * even an echo, before it has worked through what came first on the
 * connection; rounds of this size keep barrier replies coming well within
 * the controller's inactivity probe and request timeout. */
#define RECON_LEVEL_CHUNK 4096

/* Starts the thread.  'store' is copied, 'aux' must outlive the
 * reconciler.  NULL on failure (logged). */
struct reconciler *reconciler_create(const struct recon_store *store, void *aux,
                                     const struct recon_options *);
void reconciler_destroy(struct reconciler *);
/* Asks for a pass that takes in what changed (with the store's changes(),
 * else a fresh load). */
void reconciler_kick(struct reconciler *);

/* The stages of a pass, in order, whose time the stats add up (each
 * stage's wall-clock time, so a stage that waits for a switch counts
 * its wait):
 *   desired    the desired state: a whole load, or the change log's
 *              changes applied to the model
 *   ovsdb      the OVSDB transactions of the hosts that changed, sent and
 *              answered (a round trip per host), and the owners' and
 *              agents' bookkeeping
 *   ports      waiting for ovs-vswitchd to number the ports just created,
 *              and after the flows for those that asked for their numbers
 *   plan       interface states read, flows planned against the
 *              installed-flow tables (and read-backs, the audit's slice)
 *   apply      flow-mods, group-mods and meter-mods sent, barriers
 *              awaited, in the ordering engine's rounds (and the memory
 *              a large plan held given back)
 *   statuses   migrations' phases, then the statuses folded and written
 *   lifecycle  the VMs' counters sampled and recorded */
enum recon_stage {
    RECON_STAGE_DESIRED, RECON_STAGE_OVSDB, RECON_STAGE_PORTS,
    RECON_STAGE_PLAN, RECON_STAGE_APPLY, RECON_STAGE_STATUSES,
    RECON_STAGE_LIFECYCLE, RECON_N_STAGES
};
/* The stage's name as the metrics label it ("desired", ...). */
const char *recon_stage_name(enum recon_stage);

struct recon_stats {
    unsigned long long passes;
    unsigned long long stage_us[RECON_N_STAGES];    /* summed over passes */
    unsigned long long flows_added, flows_deleted, flows_kept;
    unsigned long long ovsdb_txns;
    unsigned long long arp_replies, packet_ins, lldp_links;
    unsigned long long reactive_forwarded, reactive_dropped;
    unsigned long long readbacks, audits;
    unsigned long long drift_found;     /* flows missing, changed or unknown */
    unsigned long long drift_repaired;  /* of those, put right since */
    unsigned long long meter_drift_found;   /* meters missing, changed or
                                             * unknown when a bridge whose
                                             * meters were known was read
                                             * back (ctrl/recon_meters.c) */
    unsigned long long tunnel_failovers;    /* inter-cloud tunnel ends whose
                                             * BFD went from up to down */
    unsigned long long tunnel_recoveries;   /* ... and from down to up */
    unsigned long long tenant_flows_rejected;   /* tenant flows a bridge
                                                 * refused (ctrl/vtranslate.h),
                                                 * left out since */
    long long last_pass_us;
    bool converged;                 /* last pass left nothing pending */
    /* At the end of the last pass: the flows the bridges' installed-flow
     * tables hold (ctrl/flowtable.h), and their entries' bytes (keys,
     * instructions and headers; not the indexes or malloc's overhead). */
    unsigned long long installed_flows, installed_bytes;
};
void reconciler_get_stats(struct reconciler *, struct recon_stats *);

/* The physical topology as JSON (new reference): bridges with their
 * datapath ids, the tunnels the overlay wants, the links LLDP
 * confirmed, and the tunnel ends' failovers and recoveries so far (the
 * stats' counts).  NULL before the first load. */
json_t *reconciler_topology(struct reconciler *);

#endif
