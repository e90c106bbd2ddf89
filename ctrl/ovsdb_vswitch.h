/* ovsdb_vswitch.h: idempotent Open vSwitch configuration over OVSDB.
 *
 * Each ovsdb_vswitch_ensure_* / _remove_* function compares the desired
 * state with the replica (ctrl/ovsdb_replica.h) and returns either no
 * transaction at all ('*txnp' NULL: already in the desired state) or ONE
 * transaction that moves the database there, guarded by "wait" operations
 * where a concurrent writer could make it wrong (for example "no Bridge
 * named N exists yet" before inserting one).  They are pure functions of
 * the replica: no I/O, so they are unit-tested with golden JSON, and the
 * caller (the reconciler, or ovsdb_vswitch_apply()) sends the transaction
 * with ovsdb_transact().  If the transaction fails (a wait failed, the
 * connection dropped), the caller simply recomputes from the newer replica.
 *
 * vswitch schema facts encoded here: a new Bridge must be referenced from
 * Open_vSwitch.bridges or it is garbage-collected (Bridge, Port, Interface
 * and Controller are not root tables), so removing a bridge/port is just
 * dropping that reference; a bridge gets its local internal port named
 * after itself, like ovs-vsctl add-br does.
 *
 * Ownership: spec strings and json_t members are borrowed; '*txnp' is a
 * new transaction owned by the caller. */
#ifndef SKYVISOR_CTRL_OVSDB_VSWITCH_H
#define SKYVISOR_CTRL_OVSDB_VSWITCH_H

#include <jansson.h>
#include <stdint.h>

struct ovsdb;
struct ovsdb_replica;
struct ovsdb_txn;

struct ovsdb_vswitch_bridge {
    const char *name;
    const char *datapath_type;  /* "netdev", "system"...; NULL: leave. */
    const char *fail_mode;      /* "secure" / "standalone"; NULL: leave. */
    const char *protocols;      /* One version, "OpenFlow13"; NULL: leave. */
    const char *controller;     /* Target "tcp:IP:PORT"; NULL: leave. */
    const json_t *other_config; /* Object of strings (datapath-id, hwaddr);
                                   only these keys are managed; NULL: leave. */
};

struct ovsdb_vswitch_port {
    const char *bridge;
    const char *name;
    const char *type;           /* Interface type: NULL/""/"system" (same),
                                   "internal", "vxlan", "gre"... */
    const json_t *options;      /* Interface options, exact; NULL = {}. */
    const json_t *external_ids; /* Managed keys on Port and Interface
                                   (e.g. skyvisor-vm-id); NULL: none. */
    const json_t *bfd;          /* Interface bfd, exact; NULL: left as it
                                   is. */
    long long ofport_request;   /* Interface ofport_request of a port
                                   inserted (an existing one keeps its
                                   own); 0: none. */
    /* Optional: the UUIDs of the bridge's ports in the same replica,
     * sorted by strcmp (borrowed), so that a bridge of many ports is not
     * searched once per port; NULL: its "ports" column is searched. */
    const char *const *bridge_ports;
    size_t n_bridge_ports;
};

struct ovsdb_vswitch_tunnel {
    const char *bridge;
    const char *name;
    const char *type;           /* "vxlan" or "gre". */
    const char *remote_ip;
    const char *key;            /* NULL: "flow". */
    const char *local_ip;       /* NULL: unset. */
    int dst_port;               /* 0: default. */
    const json_t *external_ids;
    const json_t *bfd;          /* Interface bfd (e.g. enable, min_tx,
                                   min_rx), exact; NULL: left as it is. */
};

/* Each returns 0 (with '*txnp' NULL when nothing is to be done), ENOENT
 * when a prerequisite row is missing from the replica (the bridge of a
 * port, the Open_vSwitch row), EEXIST when the port exists on another
 * bridge, EINVAL for a bad spec, or ENOMEM. */
int ovsdb_vswitch_ensure_bridge(const struct ovsdb_replica *,
                                const struct ovsdb_vswitch_bridge *,
                                struct ovsdb_txn **txnp);
int ovsdb_vswitch_remove_bridge(const struct ovsdb_replica *,
                                const char *name, struct ovsdb_txn **txnp);
int ovsdb_vswitch_ensure_port(const struct ovsdb_replica *,
                              const struct ovsdb_vswitch_port *,
                              struct ovsdb_txn **txnp);
int ovsdb_vswitch_ensure_tunnel(const struct ovsdb_replica *,
                                const struct ovsdb_vswitch_tunnel *,
                                struct ovsdb_txn **txnp);
int ovsdb_vswitch_remove_port(const struct ovsdb_replica *,
                              const char *name, struct ovsdb_txn **txnp);

/* The Interface 'name': '*ofport' is its OpenFlow port number, 0 while
 * ovs-vswitchd has not assigned one yet, -1 if it failed; '*errorp' is its
 * "error" column or NULL (borrowed from the replica).  0 or ENOENT. */
int ovsdb_vswitch_iface_status(const struct ovsdb_replica *,
                               const char *name, long long *ofport,
                               const char **errorp);

/* Fencing (several instances, one owner per cloud: db/lease_keeper.h).
 * The owner's epoch lives in external_ids:skyvisor-epoch of the
 * Open_vSwitch row.  A new owner raises it once per host after acquiring
 * its lease (ovsdb_vswitch_raise_epoch: only ever upwards, guarded by a
 * wait that the row's external_ids are still what the replica showed);
 * every transaction an owner sends carries ovsdb_vswitch_fence(txn,
 * epoch), a wait that the key still holds its epoch, so once a newer owner
 * raised it, whatever an older one sends fails whole ("timed out" on the
 * wait) and changes nothing.
 *
 * raise: 0 with '*txnp' NULL when the key already holds 'epoch', 0 with
 * the transaction, ESTALE when the replica shows a higher epoch (another
 * owner took over: step down), ENOENT without an Open_vSwitch row, ENOMEM.
 * fence: appends the wait to 'txn'; 0 or ENOMEM.  epoch: the value the
 * replica shows, 0 when none. */
#define OVSDB_VSWITCH_EPOCH_KEY "skyvisor-epoch"
int ovsdb_vswitch_raise_epoch(const struct ovsdb_replica *, uint64_t epoch,
                              struct ovsdb_txn **txnp);
int ovsdb_vswitch_fence(struct ovsdb_txn *, uint64_t epoch);
uint64_t ovsdb_vswitch_epoch(const struct ovsdb_replica *);

/* Synchronous helpers over a session.  apply: sends 'txn' (consumed; NULL
 * is a no-op returning 0) and waits for a successful reply; '*errp' as in
 * ovsdb_transact_wait().  wait_iface: runs the session until Interface
 * 'name' has an ofport > 0 or an error (0), or 'timeout_ms' (ETIMEDOUT);
 * outputs as ovsdb_vswitch_iface_status(), '*errorp' copied (caller frees). */
int ovsdb_vswitch_apply(struct ovsdb *, struct ovsdb_txn *txn,
                        int timeout_ms, char **errp);
int ovsdb_vswitch_wait_iface(struct ovsdb *, const char *name,
                             int timeout_ms, long long *ofport,
                             char **errorp);

#endif
