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

struct ovsdb;
struct ovsdb_replica;

#define RECON_MOD "reconciler"
#define RECON_OVSDB_TIMEOUT_MS 5000
#define RECON_OF_TIMEOUT_MS 10000
/* A session to a newly named host (OVSDB, OpenFlow) that has not come up
 * yet leaves the host pending, not in error, for this long: a bridge that
 * was just created needs a moment before its management socket answers.
 * A session that was up and went down is an error at once. */
#define RECON_CONNECT_GRACE_US 10000000LL

struct snapshot {
    struct netmodel m;
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
    struct nm_port *ports;          /* this pass's netmodel_ports(), owned */
    size_t n_ports;
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
    pthread_t thread;
    int wake_fd;
    atomic_bool stop;
    atomic_bool need_load;
    atomic_llong reactive_woke_us;  /* last reactive_wake() that woke us */

    struct snapshot *snap;          /* RCU-protected */

    struct agent *agents;           /* reconciler thread only */
    size_t n_agents;
    struct buf scratch[2];          /* reconciler thread only: insts_equal() */

    pthread_mutex_t mu;             /* protects what follows */
    uint64_t *up;                   /* connected datapath ids */
    size_t n_up, cap_up;
    struct recon_stats stats;
    struct lldp_link *links;
    size_t n_links;
    struct of_refusal *refusals;
    size_t n_refusals;
};

/* reconciler.c */
long long recon_now_us(void);
void recon_wake(struct reconciler *);
bool recon_is_up(struct reconciler *, uint64_t dpid);

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
/* Computes a->ports for host 'h' (once per pass); false (and the host's
 * error) when memory runs out. */
bool recon_agent_ports(struct agent *, const struct netmodel *, int h);
void recon_ovsdb_pass(struct reconciler *, const struct netmodel *, int h,
                      struct agent *, char **vm_err);
void recon_settle_ports(struct reconciler *, const struct netmodel *);
void recon_iface_pass(struct agent *, char **vm_err, uint32_t *vm_port);
/* The OpenFlow number of interface 'name' in 'rep', 0 if none yet. */
uint32_t recon_ofport(const struct ovsdb_replica *rep, const char *name);

/* recon_flows.c (reconciler thread) */
/* Makes the flows of host 'h' match the model.  0 when in sync. */
int recon_flow_pass(struct reconciler *, const struct netmodel *, int h,
                    struct agent *);
/* LLDP probes on every numbered tunnel port of host 'h'. */
void recon_lldp_probe(struct reconciler *, const struct netmodel *, int h,
                      struct agent *);

#endif
