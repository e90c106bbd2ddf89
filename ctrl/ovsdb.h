/* ovsdb.h: an OVSDB (RFC 7047) client session with a monitor replica.
 *
 * One struct ovsdb talks to one ovsdb-server database over ctrl/jsonrpc.h
 * ("unix:PATH", "tcp:IP:PORT" or "ssl:IP:PORT").
 * It reconnects with exponential backoff, answers the server's "echo",
 * sends its own echo when idle (a peer silent for 2 probe intervals is
 * declared dead), monitors the Open_vSwitch, Bridge, Port, Interface,
 * Controller, QoS and Queue tables (all columns, unless ovsdb_set_monitor()
 * names fewer) into an ovsdb_replica, and runs
 * "transact" / "get_schema" requests whose
 * replies the caller collects by id.  It monitors with monitor_cond, whose
 * "update2" notifications carry differences (the schema, asked for first,
 * gives the columns' kinds to apply them with), or with the plain monitor
 * of RFC 7047 when the server refuses either request.
 *
 * Two ways to drive it:
 *   event loop   poll ovsdb_fd() for ovsdb_events(), wake up after at most
 *                ovsdb_timeout_ms(), then call ovsdb_run();
 *   synchronous  ovsdb_wait_synced() / ovsdb_wait_reply() block in poll()
 *                until the replica is loaded / the reply arrived.
 *
 * Session states:
 *
 *     BACKOFF --(timer)--> CONNECTING --(connected: send monitor)--> MONITORING
 *        ^                     |                                       |
 *        |                     |                    (monitor reply: replica
 *        |                     |                     rebuilt, backoff reset)
 *        |                     v                                       v
 *        +------------(any error, EOF, malformed message, probe)----- SYNCED
 *
 *   state       event                     action
 *   BACKOFF     backoff timer expires     jsonrpc_open()         -> CONNECTING
 *   CONNECTING  connect (and TLS) done,   send get_schema        -> MONITORING
 *               the peer named (below)    (monitor, once refused)
 *   MONITORING  schema reply              send monitor_cond
 *                                         (monitor, if refused)
 *   MONITORING  monitor_cond refused      send monitor
 *   MONITORING  monitor reply             replica := reply       -> SYNCED
 *   SYNCED      "update2" ("update" with  apply to replica
 *               the plain monitor)
 *   any         echo request              reply with its params
 *                                         (also ovsdb_keepalive(), which
 *                                         holds the rest for ovsdb_run())
 *   any conn.   idle > probe              send echo
 *   any conn.   idle > 2*probe, error     close, fail pending    -> BACKOFF
 *
 * Invariants: requests are only sent while SYNCED (ovsdb_transact returns
 * ENOTCONN otherwise); when a connection drops, every pending request
 * completes with ECONNRESET (an OVSDB transaction may or may not have been
 * committed: callers re-read the replica and recompute, which is what the
 * idempotent ovsdb_vswitch_* operations are for).  The replica keeps its
 * last content while disconnected and is replaced wholesale on re-monitor.
 * Note an "update" caused by a transaction may arrive before its reply.
 *
 * TLS: given a peer name (ovsdb_set_peer_name()), an ssl: session goes on
 * only if the server's certificate names that host (core/certname.h);
 * otherwise it is refused: closed, logged, retried with backoff like any
 * failure, and ovsdb_refused() says so until a session succeeds. */
#ifndef SKYVISOR_CTRL_OVSDB_H
#define SKYVISOR_CTRL_OVSDB_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

#include "ctrl/ovsdb_replica.h"

struct ovsdb_txn;

enum ovsdb_state {
    OVSDB_BACKOFF,
    OVSDB_CONNECTING,
    OVSDB_MONITORING,
    OVSDB_SYNCED,
};

/* Returns a new session (caller owns, ovsdb_destroy()) that will connect to
 * 'target' ("unix:PATH" / "tcp:IP:PORT") and database 'db' at the first
 * ovsdb_run(); NULL on ENOMEM. */
struct ovsdb *ovsdb_create(const char *target, const char *db);
void ovsdb_destroy(struct ovsdb *);
/* One monitored table: its columns (NULL-terminated; NULL: every one). */
struct ovsdb_monitor {
    const char *table;
    const char *const *columns;
};
/* Monitors tables[0..n) instead of the default (the seven tables above,
 * every column): a replica holds only what its owner reads.  'tables' is
 * borrowed and must outlive the session (a static table); it takes effect
 * at the next monitor request, i.e. call it before the first ovsdb_run(). */
void ovsdb_set_monitor(struct ovsdb *, const struct ovsdb_monitor *tables, size_t n);
/* Sets the inactivity probe (default 5000 ms). */
void ovsdb_set_probe_ms(struct ovsdb *, int probe_ms);
/* The host the certificate of a TLS server must name ('name' copied; NULL:
 * no check).  Returns 0 or ENOMEM. */
int ovsdb_set_peer_name(struct ovsdb *, const char *name);
/* Why the last connection attempt or session ended ("" once synced):
 * borrowed, valid until the next ovsdb_run(). */
const char *ovsdb_last_error(const struct ovsdb *);
/* True if that was a refusal that retrying will not cure by itself: the
 * TLS handshake failed (certificate chain), the certificate named another
 * host, or TLS is not configured. */
bool ovsdb_refused(const struct ovsdb *);

/* Processes timers and I/O without blocking. */
void ovsdb_run(struct ovsdb *);
/* Keeps a connected session alive while its owner is busy elsewhere (a
 * long pass over other hosts) without touching the replica or the
 * pending requests: reads what arrived, answers the server's echo, sends
 * our own probe when due, and holds every other message, in order, for
 * the next ovsdb_run(), which handles them first.  So rows and replies
 * the owner borrowed stay valid, and the server's inactivity probe does
 * not drop the session.  Never blocks; a broken connection is left for
 * ovsdb_run() to notice. */
void ovsdb_keepalive(struct ovsdb *);
/* File descriptor to poll (-1 when not connected), its events, and the
 * number of ms until ovsdb_run() must be called anyway (-1: none). */
int ovsdb_fd(const struct ovsdb *);
short ovsdb_events(const struct ovsdb *);
int ovsdb_timeout_ms(const struct ovsdb *);
/* Blocks in poll() for at most 'timeout_ms' then calls ovsdb_run(). */
void ovsdb_wait(struct ovsdb *, int timeout_ms);

enum ovsdb_state ovsdb_get_state(const struct ovsdb *);
bool ovsdb_is_synced(const struct ovsdb *);
/* Number of times a monitor reply (re)built the replica. */
unsigned ovsdb_n_syncs(const struct ovsdb *);
/* The replica (borrowed; valid until the next ovsdb_run()). */
const struct ovsdb_replica *ovsdb_get_replica(const struct ovsdb *);
/* The replica's changed names (ctrl/ovsdb_replica.h): ovsdb_track_changes()
 * starts gathering them (columns 'quiet', static, do not count), and
 * ovsdb_take_changes() hands the one consumer what gathered since its last
 * take (caller owns; NULL with '*allp' set: everything counts as changed,
 * as after the replica was rebuilt). */
void ovsdb_track_changes(struct ovsdb *, const char *const *quiet);
/* Declares a key index of the replica (ovsdb_replica_index_key()), before
 * the first ovsdb_run().  0, ENOSPC or ENOMEM. */
int ovsdb_index_key(struct ovsdb *, const char *table, const char *column, const char *key,
                    size_t prefix_len);
json_t *ovsdb_take_changes(struct ovsdb *, bool *allp);

/* Sends a transaction ('txn' always consumed).  Returns 0 with the request
 * id in '*idp', ENOTCONN when not SYNCED, or ENOMEM. */
int ovsdb_transact(struct ovsdb *, struct ovsdb_txn *txn, uint64_t *idp);
/* Sends "get_schema" for the session's database. */
int ovsdb_get_schema(struct ovsdb *, uint64_t *idp);
/* Collects the reply to request 'id'.  Returns EAGAIN while pending; 0 with
 * '*resultp' (caller owns the reference); EIO for a JSON-RPC error with
 * '*errp' (malloc'ed, caller frees); ECONNRESET if the connection dropped
 * first; ENOENT for an unknown id.  A collected reply is forgotten. */
int ovsdb_poll_reply(struct ovsdb *, uint64_t id, json_t **resultp,
                     char **errp);
/* Runs the session until request 'id' completes or 'timeout_ms' passes
 * (ETIMEDOUT: the request is then forgotten and a late reply ignored);
 * otherwise as ovsdb_poll_reply(). */
int ovsdb_wait_reply(struct ovsdb *, uint64_t id, int timeout_ms,
                     json_t **resultp, char **errp);
/* ovsdb_transact() + ovsdb_wait_reply() + ovsdb_txn_check_result():
 * 'txn' always consumed; on 0 '*resultp' (if nonnull) gets the reply
 * (caller owns); on EIO/EPROTO '*errp' gets the reason (caller frees). */
int ovsdb_transact_wait(struct ovsdb *, struct ovsdb_txn *txn, int timeout_ms,
                        json_t **resultp, char **errp);
/* Runs the session until SYNCED; 0 or ETIMEDOUT. */
int ovsdb_wait_synced(struct ovsdb *, int timeout_ms);

/* Monotonic clock in ms. */
long long ovsdb_now_ms(void);

#endif
