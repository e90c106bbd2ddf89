/* recon_internal.h: what the reconciler's files share (not a public API).
 *
 * The reconciler (design in reconciler.h) is one job per file:
 *   reconciler.c       the thread, the pass, snapshot publication, stats;
 *   recon_packetin.c   the controller's callbacks, on its loop thread:
 *                      switch admission, up and down, and packet-ins (ARP
 *                      answers, LLDP, the reactive path);
 *   recon_ovsdb.c      OVSDB realization: one agent per host (its OVSDB
 *                      session, its OpenFlow target), bridge and ports,
 *                      interface states;
 *   recon_flows.c      flow translation (netmodel flows to flow-mods), the
 *                      diff and the ordering engine, LLDP probes;
 *   core/statusfold.c  the status fold (pure).
 *
 * Threads.  Everything in struct reconciler above 'mu' belongs to the
 * reconciler thread, except 'snap' (RCU: read by the loop thread and the
 * HTTP workers under urcu_bp_read_lock) and the atomics.  What follows
 * 'mu' is shared with the loop thread and protected by it. */
#ifndef SKYVISOR_CTRL_RECON_INTERNAL_H
#define SKYVISOR_CTRL_RECON_INTERNAL_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "core/netmodel.h"
#include "ctrl/buf.h"
#include "ctrl/ofctl.h"
#include "ctrl/reconciler.h"

struct flowtable;
struct flowtable_pool;
struct meter_spec;
struct ovsdb;
struct ovsdb_replica;
struct recon_life;
struct recon_mig;
struct recon_tenant_ctl;
struct recon_tunnel;

#define RECON_MOD "reconciler"
#define RECON_OVSDB_TIMEOUT_MS 5000
#define RECON_OF_TIMEOUT_MS 10000
/* A session to a newly named host (OVSDB, OpenFlow) that has not come up
 * yet leaves the host pending, not in error, for this long: a bridge that
 * was just created needs a moment before its management socket answers.
 * A session that was up and went down is an error at once. */
#define RECON_CONNECT_GRACE_US 10000000LL
/* A miss on a bridge in sync reads it back at most this often. */
#define RECON_MISS_READBACK_US 1000000LL
/* A flow-removed is repaired by a pass this long after it: a burst of
 * removals (an operator's del-flows) is repaired in one pass, and the
 * reactive path carries the traffic meanwhile. */
#define RECON_REPAIR_DELAY_MS 500
/* The wait between the tenant-table level and the port-security level
 * (recon_flows_apply): Open vSwitch's datapath revalidation.  Paid only
 * while tenant-table misses are recent (RECON_DATAPATH_IDLE_MS). */
#define RECON_DATAPATH_SETTLE_MS 5
/* The wait after a level that moved a path (a forwarding flow replaced)
 * before the shallower levels that lead traffic onto it
 * (recon_flows_apply): ovs-vswitchd's revalidators update the datapath's
 * cached flows a few milliseconds after the barrier, tens of them under
 * load. */
#define RECON_REPOINT_SETTLE_MS 50
/* At start, flows wait this long at most for every bridge to connect
 * (reconciler.c, start_hold). */
#define RECON_START_HOLD_US 3000000LL
/* How long a datapath keeps an idle cached flow (Open vSwitch's
 * other_config:max-idle, 10 s): tenant-table misses older than this have
 * left no cached flow for the settling wait to outlast. */
#define RECON_DATAPATH_IDLE_MS 10000
/* The audit reads back, per pass, bridges holding this many installed
 * flows at most (one bridge at least), and the next slice's pass follows
 * RECON_AUDIT_GAP_MS later (reconciler.c, audit_slice). */
#define RECON_AUDIT_FLOWS 16384
#define RECON_AUDIT_GAP_MS 20
/* A pass that planned this many flows returns its freed memory to the
 * system (malloc_trim). */
#define RECON_TRIM_FLOWS 20000
/* How often a pass keeps the OVSDB sessions alive (recon_keepalive):
 * far within ovsdb-server's 5 s inactivity probe. */
#define RECON_KEEPALIVE_MS 100
/* A bridge's tunnels are probed with LLDP by a pass at most this often,
 * unless its port list changed or a tunnel had no number at the last
 * probe (recon_lldp_probe). */
#define RECON_LLDP_PROBE_US 1000000LL
#define RECON_VREJECT_MAX 1024

struct snapshot {
    struct netmodel m;
    uint64_t gen;                   /* publish() numbers every snapshot */
    uint64_t from;                  /* the gen of the snapshot this one was
                                     * built from by netmodel_apply_vms (its
                                     * VMs' indexes moved as m's shift
                                     * says), 0 for a load */
};

/* One planned addition: an encoded ADD flow-mod in its plan's 'wire'. */
struct recon_add {
    uint8_t table;
    bool repoints;                  /* replaces a forwarding flow (table
                                     * 20) the bridge holds: a path moves */
    uint32_t off, len;
};

/* What a pass will change on one bridge (recon_flows.c): additions
 * sorted deepest table first, deletions ingress table first.  Additions
 * wait in wire form (a fraction of a decoded flow-mod's size: a first
 * pass plans every flow of every bridge at once) and are decoded one
 * level at a time. */
struct recon_plan {
    struct buf wire;                /* owned: the additions, back to back */
    struct recon_add *adds;         /* owned */
    size_t n_adds, cap_adds;
    struct ofmsg *dels;             /* DELETE_STRICT flow-mods, own nothing */
    size_t n_dels, cap_dels;
    size_t n_kept;
    size_t next_add, next_del;      /* the ordering engine's cursors */
    int error;                      /* a batch failed: nothing more goes */
    bool active;                    /* planned this pass */
    /* Meters (recon_meters.c): ADD/MODIFY meter-mods sent before the
     * flows, then DELETEs sent after them; owned. */
    struct ofmsg *meter_mods;
    size_t n_meter_adds, n_meter_dels;
    bool meter_sweep;               /* an owners' plan: recon_meters_sweep()
                                     * after its flows */
};

/* A VM port recon_ovsdb_pass() found as wanted: its name, its Port row's
 * UUID and a signature of what it wanted (bridge, VM).  It stays so while
 * the name is not among the replica's changes and the Port is on the
 * bridge, and is not looked at again. */
struct recon_port_ok {
    char name[16];
    char uuid[40];
    uint64_t sig;
};

/* A VM port this pass inserted with a number of skyvisor's choosing
 * (Interface ofport_request, recon_ovsdb.c): its flows are planned with
 * that number while the transaction is in flight, and
 * recon_ovsdb_finish() collects the reply and checks the number
 * ovs-vswitchd gave once the flows are in. */
struct recon_pend {
    char name[16];
    uint32_t ofport;                /* requested; 0 once its insert failed */
    int vm;                         /* its VM's index in the pass's model */
    uint64_t id;                    /* the transaction's request id */
    size_t n_ops;
};

/* One per host: its sessions and what this pass found. */
struct agent {
    char id[40];
    char name[128];                 /* the host's, as its OVSDB peer name */
    char ovsdb_target[256];
    struct ovsdb *db;
    uint64_t seqno;                 /* replica seqno seen by the last pass */
    char of_target[256];            /* what we ofctl_connect()ed, or "" */
    uint64_t dpid;
    char *err;                      /* this pass's host error, owned */
    const char *note;               /* this pass's pending detail, static */
    unsigned int sent;              /* OVSDB transactions this pass sent */
    long long db_since, of_since;   /* us: sessions (re)named at */
    bool db_ever_up, of_ever_up;    /* came up since then */
    bool realized;
    bool seen;
    uint64_t bfd_seqno;             /* replica seqno recon_bfd_scan() read */
    uint64_t groups_sig;            /* the groups last planned (recon_groups.c) */
    bool fresh;                     /* (re)connected, its flows not confirmed
                                     * since: hold-downs toward it wait
                                     * (recon_bfd.c) */
    uint32_t *groups;               /* the ids of the groups written, sorted;
                                     * owned */
    size_t n_groups;
    struct nm_port *ports;          /* this pass's netmodel_ports(), owned */
    size_t n_ports;
    uint64_t ports_gen;             /* the snapshot 'ports' was computed or
                                     * carried over for; 0: none */
    uint64_t ports_sig;             /* their names, kinds and roles signed, so
                                     * that an unchanged list (the VMs'
                                     * indexes in the model may move) signs
                                     * the same; 0: no list */
    /* The bridge's installed flows (ctrl/flowtable.h), as its barriers
     * confirmed them; read back when 'readback' is set: at start, on a
     * (re)connect, after a batch failed, in an audit, or when a packet-in
     * shows a miss the table cannot explain. */
    struct flowtable *ft;           /* owned, NULL until first read back */
    bool readback;
    bool in_sync;                   /* the last pass confirmed every change */
    bool audit;                     /* this read-back counts drift */
    bool audit_due;                 /* in the audit round, not read back yet
                                     * (reconciler.c, audit_slice) */
    long long readback_us;          /* the last read-back */
    unsigned long long drift;       /* drift found, not yet repaired */
    struct recon_plan plan;
    /* The bridge's meters (recon_meters.c), sorted by id; owned. */
    struct meter_spec *meters;
    size_t n_meters;
    bool meters_known;
    /* What this pass plans (reconciler.c): every flow of the bridge when
     * 'replan' (or the table is not known to be in sync), else the flows
     * of the pass's changed owners when 'owners', else nothing. */
    bool replan;
    bool owners;
    bool vm_here;                   /* a changed VM is or was on this host:
                                     * its ports go through OVSDB */
    bool untouched;                 /* this pass: realized by the last one,
                                     * replica unmoved, no change here */
    /* The VM ports found as wanted (recon_ovsdb.c), sorted by name; owned. */
    struct recon_port_ok *port_ok;
    size_t n_port_ok;
    /* The VM ports this pass inserted with a requested number and did not
     * wait for, sorted by name; owned, emptied by recon_ovsdb_finish().
     * 'next_ofport': the next number to request (0: not yet read from the
     * replica). */
    struct recon_pend *pend;
    size_t n_pend;
    uint32_t next_ofport;
    /* The numbers of the requested range seen in use on the host (a bitmap
     * over OFPORT_OWN_MIN..OFPORT_OWN_MAX, owned; NULL: to be read whole):
     * kept across passes, each pass adding what its replica changes name,
     * so that one port inserted does not read every interface.  A number
     * freed stays marked until the range runs out and it is read again. */
    uint8_t *used_ofports;
    /* The last LLDP probe (reconciler.c): when, over which port list, and
     * whether every tunnel had its number then. */
    long long lldp_us;
    uint64_t lldp_sig;
    bool lldp_all;
    /* The replica's seqno and the port list's signature when a pass last
     * found every tunnel numbered (0: not since the list changed). */
    uint64_t tunnels_seqno;
    uint64_t tunnels_sig;
    /* Its interface counters as the last sample read them (recon_lifecycle.c):
     * the replica's seqno and the port list's signature then (0: read none). */
    uint64_t sample_seqno;
    uint64_t sample_sig;
    const struct recon_portno *now; /* this pass's port numbers, sorted by
                                     * name (a->n_ports), while planning */
    /* The port numbers its last plan compiled with, sorted by name
     * (reconciler.c): a number that moved makes the next plan whole. */
    struct recon_portno *known;     /* owned */
    size_t n_known;
    uint64_t known_sig;             /* the ports_sig of the list it was taken
                                     * from */
    /* Several instances (recon_owner.c; all zero without them). */
    char cloud[40];                 /* its cloud's id */
    bool foreign;                   /* another instance owns its cloud */
    uint64_t epoch;                 /* the owner's epoch held here, 0: none */
    uint64_t deadline_ms;           /* writes stop then (CLOCK_MONOTONIC) */
    uint64_t raised;                /* the epoch its OVSDB fence holds */
    uint64_t slave_gen;             /* foreign: the generation its SLAVE
                                     * role asks with, 0: no connection */
};

struct recon_portno {
    char name[16];
    uint32_t no;
    int vm;                         /* the VM of a VM port, else -1 */
    uint32_t pos;                   /* its index in the agent's a->ports */
};

/* The cookie owners a pass recompiles on the bridges it does not plan
 * whole: the VMs a change touched. */
struct recon_owners {
    int *vms;                       /* owned: their indexes in the model */
    size_t n_vms;
    int *comps;                     /* owned: their components (indexes in
                                     * the model), whose floods change on
                                     * their hosts */
    size_t n_comps;
    int *vsws;                      /* owned: the tenant-controlled switches
                                     * (indexes in the model) whose flows
                                     * (ctrl/vtranslate.h) change with them */
    size_t n_vsws;
    uint64_t *cookies;              /* owned, sorted: their cookies and
                                     * their components', before and after
                                     * the change */
    size_t n_cookies;
    struct recon_left {             /* owned: where they were (host id,
                                     * component name) before the change */
        char host[40];
        uint32_t comp;
    } *left;
    size_t n_left;
};

/* A flow-removed or a miss reported by the loop thread for the reconciler
 * thread (struct reconciler.events). */
struct recon_event {
    uint64_t dpid;
    bool miss;                      /* a reactive forward; else flow-removed */
    uint8_t table;
    uint16_t priority;
    struct ofmatch match;
};

struct lldp_link {
    uint64_t a_dpid, b_dpid;
    uint32_t a_port, b_port;
};

/* The last OpenFlow connection refused for a datapath id (switch_admit),
 * until a connection for it is admitted. */
struct of_refusal {
    uint64_t dpid;
    char why[256];
};

struct reconciler {
    struct recon_store store;
    void *aux;
    struct recon_options opt;
    struct ofctl *ctl;
    struct flowtable_pool *ftpool;  /* owned: the agents' tables' strings */
    pthread_t thread;
    int wake_fd;
    int event_fd;                   /* 'events' or 'reconnected' grew */
    atomic_bool stop;
    atomic_bool need_load;
    atomic_llong reactive_woke_us;  /* last reactive_wake() that woke us */
    /* Passes started, and the number of the last one that got as far as
     * applying its flows (reconciler_passes()). */
    atomic_uint_fast64_t passes_started, passes_ended;
    bool pass_applied;              /* reconciler thread only: this pass did */

    struct snapshot *snap;          /* RCU-protected */
    uint64_t snap_gen;              /* the last snapshot's gen */
    /* Tenant flows a bridge refused (recon_flows.c): their ADD flow-mods
     * as encoded (xid 0), left out of later plans so that one tenant's
     * flow the switch cannot take does not hold up a bridge every pass;
     * reconciler thread only, the oldest dropped beyond
     * RECON_VREJECT_MAX. */
    struct recon_vreject {
        uint8_t *bytes;             /* owned */
        size_t len;
    } *vrejects;
    size_t n_vrejects;

    struct agent *agents;           /* reconciler thread only */
    size_t n_agents;
    long long next_audit_us;        /* reconciler thread only */
    bool audit_more;                /* reconciler thread only: the audit
                                     * round has bridges left */
    bool need_full;                 /* reconciler thread only: the next pass
                                     * loads everything */
    long long owner_reload_us;      /* reconciler thread only: recon_owner.c */
    long long keepalive_ms;         /* reconciler thread only: the last
                                     * recon_keepalive() */
    unsigned long long misses_seen; /* reconciler thread only: tenant-table
                                     * misses counted when last looked at, */
    long long misses_us;            /* and when that count last moved */
    /* Snapshots, stop and start, counters (recon_lifecycle.c); attached
     * once by reconciler_attach_lifecycle(), NULL until then. */
    _Atomic(struct recon_life *) life;
    /* Live migrations (recon_migration.c); attached once by
     * reconciler_attach_migrations(), NULL until then. */
    _Atomic(struct recon_mig *) mig;
    /* Tenant controllers (recon_tenant_ctl.c): the agent's frame hook,
     * attached by reconciler_attach_tenant_ctl(), NULL until then. */
    _Atomic(const struct recon_tenant_ctl *) tenant_ctl;
    long long first_pass_us;        /* reconciler thread only */
    long long mig_next_us;          /* reconciler thread only: a pass wanted
                                     * by then (recon_now_us), 0: none */

    pthread_mutex_t mu;             /* protects what follows */
    uint64_t *up;                   /* connected datapath ids */
    size_t n_up, cap_up;
    struct recon_stats stats;
    struct lldp_link *links;
    size_t n_links;
    struct of_refusal *refusals;
    size_t n_refusals;
    uint64_t *reconnected;          /* dpids up or down since the last pass */
    size_t n_reconnected;
    struct recon_event *events;
    size_t n_events;
    struct recon_tunnel *tunnels;   /* inter-cloud tunnel ends' BFD states
                                     * (recon_bfd.c) */
    size_t n_tunnels;
};

/* reconciler.c */
long long recon_now_us(void);
void recon_wake(struct reconciler *);
bool recon_is_up(struct reconciler *, uint64_t dpid);

/* Queues an event for the reconciler thread (any thread but it). */
void recon_post_event(struct reconciler *, const struct recon_event *);

/* recon_packetin.c: the callbacks reconciler_create() registers. */
extern const struct ofctl_callbacks recon_callbacks;
/* Copies the refusal of 'dpid' into 'buf'; false if there is none. */
bool recon_get_refusal(struct reconciler *, uint64_t dpid, char *buf, size_t size);
/* Sends 'frame' out of 'port' of switch 'dpid'. */
void recon_packet_out(struct reconciler *, uint64_t dpid, uint32_t port,
                      uint8_t *frame, size_t len);
/* An LLDP probe from port 'port' of 'dpid' into f[0..cap); its length, 0
 * if it does not fit. */
size_t recon_lldp_build(uint8_t *f, size_t cap, uint64_t dpid, uint32_t port);

/* recon_ovsdb.c (reconciler thread) */
struct agent *recon_agent_for(struct reconciler *, const struct nm_host *);
void recon_agent_close(struct reconciler *, struct agent *);
void recon_agent_error(struct agent *, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
/* Matches agents to the model's hosts, opening and closing sessions. */
void recon_sync_agents(struct reconciler *, const struct netmodel *);
/* Computes a->ports and a->ports_sig for host 'h' (once per pass); false
 * (and the host's error) when memory runs out. */
bool recon_agent_ports(struct agent *, const struct netmodel *, int h);
void recon_ovsdb_pass(struct reconciler *, const struct netmodel *, int h,
                      struct agent *, char **vm_err);
void recon_settle_ports(struct reconciler *, const struct netmodel *);
/* After the flows went in: collects the replies of the ports inserted
 * with a requested number and waits (bounded) for ovs-vswitchd to number
 * them; fills vm_port for those that have the number their flows were
 * planned with, vm_err for those that failed, and plans a host whose
 * port got another number whole in the next pass. */
void recon_ovsdb_finish(struct reconciler *, const struct netmodel *, char **vm_err,
                        uint32_t *vm_port);
/* The number requested for a port this pass inserted, 0 if none. */
uint32_t recon_pending_ofport(const struct agent *, const char *name);
/* Keeps every host's OVSDB session alive during a long pass
 * (ovsdb_keepalive(): the server's echo answered, the replicas left as
 * they are), at most every RECON_KEEPALIVE_MS; cheap enough to call
 * between any two steps of a pass. */
void recon_keepalive(struct reconciler *);
void recon_iface_pass(struct agent *, char **vm_err, uint32_t *vm_port);
/* The OpenFlow number of interface 'name' in 'rep', 0 if none yet. */
uint32_t recon_ofport(const struct ovsdb_replica *rep, const char *name);
/* The Interface row (borrowed) bound to the model's port 'name': the
 * interface of that name, or for a VM without `iface` the one carrying
 * its external_ids:skyvisor-vm-id; NULL if none.  Its UUID to *uuidp. */
const json_t *recon_vm_iface(const struct ovsdb_replica *rep, const char *name,
                             const char **uuidp);

/* recon_flows.c (reconciler thread) */
/* Reads the bridge back when its table asks for it, compiles host 'h''s
 * desired flows (all of them, or with 'owners' only theirs, diffed within
 * their cookies) and diffs them against the table into a->plan.  0 or an
 * errno (the host's error is set). */
int recon_flows_plan(struct reconciler *, const struct netmodel *, int h,
                     struct agent *, const struct recon_owners *owners);
/* Applies the plans of agents[0..n) (make before break, see the file
 * comment), updating each table from what its barriers confirmed; a
 * failed bridge gets its error and is read back by the next pass. */
void recon_flows_apply(struct reconciler *, struct agent **agents, size_t n);
void recon_plan_clear(struct recon_plan *);
/* recon_meters.c (reconciler thread) */
/* Diffs the meters the flows 'want' name against the bridge's (read back
 * first when 'readback' or never read) into a->plan; deletions when
 * 'whole', else a sweep after the flows (recon_meters_sweep).  0 or an
 * errno (the host's error is set). */
int recon_meters_plan(struct reconciler *, struct agent *, const struct nm_flows *want,
                      bool whole, bool readback);
/* After the flows of an owners' plan (a->plan.meter_sweep): appends a
 * DELETE for each meter of the bridge that no installed flow names any
 * more (a VM's rate removed, the VM gone), so the deletions step removes
 * it without waiting for a whole plan.  0 or ENOMEM (then nothing is
 * appended: the meter stays, unused, until a whole plan). */
int recon_meters_sweep(struct agent *);
/* Sends the planned meter additions ('adds') or deletions of agents[0..n)
 * and waits for their barriers; a failure stops its bridge's plan. */
void recon_meters_apply(struct reconciler *, struct agent **agents, size_t n, bool adds);
void recon_meters_plan_clear(struct recon_plan *);
/* Forgets the bridge's meters (its session closed). */
void recon_meters_forget(struct agent *);
/* Takes the loop thread's events: a flow-removed of a flow a table holds
 * drops it from that table, a miss on a bridge whose table claims the
 * flow schedules a read-back.  True when a pass should repair something. */
bool recon_flows_events(struct reconciler *);
/* Marks the bridges that (re)connected for a read-back. */
void recon_flows_reconnected(struct reconciler *);
/* LLDP probes on every numbered tunnel port of host 'h'; false if a
 * tunnel had no number yet. */
bool recon_lldp_probe(struct reconciler *, const struct netmodel *, int h,
                      struct agent *);

/* recon_owner.c: several instances (reconciler thread unless noted; each
 * does nothing without recon_options.owner). */
struct statusfold_host;
struct statusfold_batch;
struct ovsdb_txn;
/* Before recon_sync_agents(): each host owned (role MASTER with its
 * epoch, adopted on a new epoch) or foreign (role SLAVE with its owner's
 * epoch once its OVSDB shows it, else no connection). */
void recon_owner_pass(struct reconciler *, const struct netmodel *);
/* Whether this pass may write to host 'a' (else a->note or its error
 * says why); raises its OVSDB fence on a new epoch first. */
bool recon_owner_may_write(struct reconciler *, struct agent *);
/* Adds the owner's fence to an OVSDB transaction for 'a'; 0, ETIME past
 * the deadline, or ENOMEM. */
int recon_owner_fence(const struct agent *, struct ovsdb_txn *);
/* Moves the roles' deadlines with the renewals; the longest the run loop
 * may sleep (ms), -1 without owners. */
long long recon_owner_tick(struct reconciler *);
/* The controller's 'fenced' callback (loop thread). */
void recon_owner_fenced(void *aux, uint64_t dpid, int reason, uint64_t generation);
/* Just before the pass applies its plans ready[0..n): the failpoint
 * recon.apply (core/failpoint.h), reached only when a plan adds flows. */
void recon_owner_before_apply(struct agent **ready, size_t n);
/* The foreign hosts' verdicts: their recorded statuses. */
void recon_owner_statuses(struct reconciler *, const struct netmodel *,
                          struct statusfold_host *);
/* Keeps in 'b' only the statuses this instance writes; true while other
 * instances' objects are not realized (read again soon). */
bool recon_owner_filter(struct reconciler *, struct netmodel *, struct statusfold_batch *);

/* recon_lifecycle.c (reconciler thread): after the flows, captures the
 * pending snapshots and samples the VMs' counters. */
void recon_lifecycle_pass(struct reconciler *, const struct netmodel *);

#endif
