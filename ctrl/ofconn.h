/* ofconn.h: one OpenFlow 1.3 switch connection and its state machine.
 *
 * An ofconn lives on the loop thread (ctrl/loop.h) and is only touched
 * there.  It owns one stream (ctrl/stream.h: a socket, plain or TLS), an
 * input buffer cut into messages by
 * ofmsg_frame(), an output queue, the handshake, the echo keepalive, xid
 * allocation and the table of outstanding requests (batches closed by a
 * barrier, multipart reads).  ctrl/ofctl.c owns the ofconns and routes the
 * public API to them.
 *
 * Two kinds:
 *   active   ofconn_create_active(): connects out to "unix:PATH",
 *            "tcp:IP:PORT" or "ssl:IP:PORT" and keeps reconnecting with
 *            exponential backoff (backoff_min doubling to backoff_max,
 *            reset by a completed handshake) until destroyed;
 *   passive  ofconn_create_passive(): adopts an accepted (or socketpair)
 *            stream; when it closes it stays CLOSED and tells its owner
 *            (handler 'closed'), which destroys it.
 *
 * State machine:
 *
 *      create_active / create_passive
 *            |
 *            v     stream open, HELLO sent
 *      CONNECTING --------------------------> HELLO_SENT
 *        ^   |                                     | peer HELLO has 1.3:
 *        |   | connect failed                      | FEATURES_REQUEST sent
 *        |   v                                     v
 *      BACKOFF <----- any failure ----------- FEATURES_WAIT
 *        ^    (active)                             | FEATURES_REPLY and the
 *        |                                         | whole PORT_DESC reply
 *        +------------- any failure ---------- ACTIVE (handler 'up')
 *   (passive conns go to CLOSED instead of BACKOFF)
 *
 *   state          event                         action / next state
 *   CONNECTING     stream open (connect() and,   send HELLO; HELLO_SENT
 *                  for TLS, the handshake done)
 *   CONNECTING     connect() or TLS failed       BACKOFF (CLOSED)
 *   HELLO_SENT     HELLO without 1.3             send ERROR HELLO_FAILED,
 *                                                flush, fail
 *   HELLO_SENT     HELLO with 1.3                send FEATURES_REQUEST;
 *                                                FEATURES_WAIT
 *   FEATURES_WAIT  FEATURES_REPLY, 'admit'       record dpid; send
 *                  accepts                       SET_CONFIG (full packet-ins)
 *                                                and PORT_DESC request
 *   FEATURES_WAIT  FEATURES_REPLY, 'admit'       log the reason, fail
 *                  refuses
 *   FEATURES_WAIT  PACKET_IN, PORT_STATUS,       held (up to 1 MiB)
 *                  FLOW_REMOVED
 *   FEATURES_WAIT  last PORT_DESC part           ACTIVE, backoff reset, 'up',
 *                                                then the held messages
 *   ACTIVE         PACKET_IN, FLOW_REMOVED       handler 'message'
 *   ACTIVE         PORT_STATUS                   update port list; 'message'
 *   ACTIVE         ERROR / BARRIER_REPLY /       complete requests by xid
 *                  MULTIPART_REPLY
 *   any open       ECHO_REQUEST                  ECHO_REPLY (same xid, data)
 *   any open       undecodable message           ERROR reply, go on
 *   any open       header length < 8, EOF,       fail: fail every pending
 *                  socket error, 2*probe silent  request (ECONNRESET), 'down'
 *                                                if it was ACTIVE; BACKOFF
 *                                                or CLOSED
 *   any open       probe_ms silent               ECHO_REQUEST
 *   BACKOFF        timer                         CONNECTING
 *
 * Invariants: fd >= 0 exactly in CONNECTING..ACTIVE; every pending request
 * gets exactly one completion (reply, ECONNRESET on failure, ETIMEDOUT on
 * its deadline); no message is decoded before its whole frame arrived; the
 * only input error that closes the connection is an impossible header
 * length, which leaves no way to find the next message.
 *
 * Roles (fencing: several controllers, one owner).  ofconn_set_role() sets
 * the role and generation_id the connection asks for; it asks at once if
 * the connection is ACTIVE and again after every handshake, before the
 * 'up' handler runs, so the ROLE_REQUEST is the first thing after the
 * handshake and no write precedes it.  Writes (ofconn_submit,
 * ofconn_send, ofconn_send_raw) pass a gate:
 *
 *   role asked   role state   write
 *   none         -            sent (refused EPERM when cfg.fenced)
 *   SLAVE        any          refused EPERM (a slave never writes)
 *   MASTER/EQUAL PENDING      held, in order, until the reply
 *   MASTER/EQUAL GRANTED      sent while now < until_ms (0: no deadline),
 *                             refused ETIME after it
 *   MASTER/EQUAL REFUSED      refused with the reason (ESTALE: the switch
 *                             has seen a higher generation; EPERM: it made
 *                             us a slave; ETIMEDOUT: no reply)
 *
 * A granted role is lost (REFUSED, EPERM) when the switch answers a write
 * with BAD_REQUEST/IS_SLAVE or reports a role status naming us slave
 * (Open vSwitch sends the ONF extension ROLE_STATUS to OpenFlow 1.3
 * connections when another controller becomes master).  A refusal the
 * switch made (ESTALE, EPERM) calls the 'fenced' handler, so the owner
 * steps down at once.  Held writes go out when the role is granted, or
 * complete with the refusal's errno, or with ECONNRESET if the connection
 * fails first.  A new ofconn_set_role() with the same role and generation
 * only moves the deadline; any other asks again.
 *
 * Backpressure: while more than OFCONN_TX_HIGH bytes wait to be written the
 * connection stops reading (so a switch flooding echoes or packet-ins
 * cannot grow our queue without bound); ofconn_send() refuses new messages
 * with ENOBUFS above OFCONN_TX_MAX. */
#ifndef SKYVISOR_CTRL_OFCONN_H
#define SKYVISOR_CTRL_OFCONN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ctrl/loop.h"
#include "ctrl/ofmsg.h"

#define OFCONN_TX_HIGH (1u << 20)
#define OFCONN_TX_MAX (64u << 20)
/* An output buffer that emptied keeps its memory up to this size: the
 * buffer of a batch of tens of thousands of flow-mods would otherwise stay
 * allocated for the life of the connection. */
#define OFCONN_TX_KEEP (256u << 10)

enum ofconn_state {
    OFCONN_CONNECTING, OFCONN_HELLO_SENT, OFCONN_FEATURES_WAIT,
    OFCONN_ACTIVE, OFCONN_BACKOFF, OFCONN_CLOSED,
};

struct ofconn_config {
    unsigned int probe_ms;          /* echo after this much silence; 0: 5000 */
    unsigned int backoff_min_ms;    /* 0: 100 */
    unsigned int backoff_max_ms;    /* 0: 8000 */
    unsigned int request_timeout_ms;/* batches and multipart reads; 0: 10000 */
    bool fenced;                    /* writes need a granted MASTER or EQUAL
                                     * role (see "Roles") */
};

enum ofconn_role_state {
    OFCONN_ROLE_UNSET,              /* nothing asked (or not since the
                                     * connection came up) */
    OFCONN_ROLE_PENDING,            /* ROLE_REQUEST out, no reply yet */
    OFCONN_ROLE_GRANTED,
    OFCONN_ROLE_REFUSED,
};

struct ofconn;

/* Called on the loop thread.  'message' gets PACKET_IN, FLOW_REMOVED and
 * PORT_STATUS (after the port list is updated); the message is borrowed.
 * 'closed' (passive conns only) means the owner must destroy the conn; it
 * is called from a timer, never from inside an ofconn function.  'admit'
 * (optional) decides, once the switch has told its datapath id, whether
 * the connection may go on (ofconn_dpid(), ofconn_peer_names() are set);
 * to refuse it returns false with the reason in why[0..len).  'fenced'
 * (optional) reports that the switch refused the role asked with
 * 'generation' (reason ESTALE) or took it away (EPERM); see "Roles". */
struct ofconn_handler {
    void (*up)(struct ofconn *, void *aux);
    void (*down)(struct ofconn *, void *aux);
    void (*message)(struct ofconn *, const struct ofmsg *, void *aux);
    void (*closed)(struct ofconn *, void *aux);
    bool (*admit)(struct ofconn *, void *aux, char *why, size_t len);
    void (*fenced)(struct ofconn *, void *aux, int reason, uint64_t generation);
};

/* Creates a connection; 'target' and 'cfg' are copied, 'h' must outlive
 * it.  Active: connects at once (EINVAL for a bad target).  Passive: takes
 * ownership of stream 's' (closed on failure too; named after it) and
 * sends HELLO once it is open.  Returns 0 and the new conn in *out, or an
 * errno. */
int ofconn_create_active(struct loop *, const char *target,
                         const struct ofconn_config *cfg,
                         const struct ofconn_handler *h, void *aux,
                         struct ofconn **out);
struct stream;
int ofconn_create_passive(struct loop *, struct stream *s,
                          const struct ofconn_config *cfg,
                          const struct ofconn_handler *h, void *aux,
                          struct ofconn **out);
/* Closes the socket, fails pending requests with ECONNRESET (without
 * calling 'down'), frees.  Accepts NULL. */
void ofconn_destroy(struct ofconn *);

enum ofconn_state ofconn_state(const struct ofconn *);
const char *ofconn_state_name(enum ofconn_state);
const char *ofconn_target(const struct ofconn *);
uint64_t ofconn_dpid(const struct ofconn *);
const struct ofmsg_features *ofconn_features(const struct ofconn *);
/* The switch's ports (borrowed; valid until the next loop callback). */
const struct ofport *ofconn_ports(const struct ofconn *, size_t *n);
/* Whether the connection is (or will be) over TLS, and the names in the
 * switch's certificate (borrowed; NULL for plain or before the TLS
 * handshake is done). */
bool ofconn_is_tls(const struct ofconn *);
const char *const *ofconn_peer_names(const struct ofconn *, size_t *n);
/* Number of completed handshakes (reconnects + 1), for tests. */
unsigned int ofconn_n_handshakes(const struct ofconn *);

/* Sets the role (OFPCR_ROLE_MASTER, _SLAVE, _EQUAL, or _NOCHANGE for none)
 * and generation_id asked for now (if ACTIVE) and after every handshake,
 * and the deadline (CLOCK_MONOTONIC ms, loop_now_ms(); 0: none) after
 * which writes are refused with ETIME whatever the switch says. */
void ofconn_set_role(struct ofconn *, uint32_t role, uint64_t generation,
                     uint64_t until_ms);
enum ofconn_role_state ofconn_role_state(const struct ofconn *);
const char *ofconn_role_state_name(enum ofconn_role_state);
/* What a write would meet now: 0 (sent), EAGAIN (held until the role
 * reply), or the errno it is refused with (see "Roles"). */
int ofconn_write_gate(const struct ofconn *);

/* Encodes and queues one message; xid 0 gets a fresh xid.  Returns 0,
 * ENOTCONN (not ACTIVE), ENOBUFS (queue full), the encoder's error or a
 * role refusal; a write held for the role reply returns 0. */
int ofconn_send(struct ofconn *, const struct ofmsg *);

/* Queues one already-encoded message (len bytes, one whole frame); an xid
 * of 0 in it is replaced by a fresh one.  Same errors as ofconn_send(),
 * plus EINVAL for bytes that are not one frame; a held write whose role
 * is then refused is dropped with a log line. */
int ofconn_send_raw(struct ofconn *, const uint8_t *msg, size_t len);

/* Completion of a batch: error 0 (all applied), EPROTO (message
 * 'failed_index' was rejected with 'err', borrowed), ECONNRESET, ETIMEDOUT,
 * ENOTCONN, or a role refusal (EPERM, ESTALE, ETIME, ETIMEDOUT) with
 * nothing sent. */
typedef void ofconn_batch_fn(void *aux, int error, size_t failed_index,
                             const struct ofmsg_error *err);
/* Sends 'n' already-encoded messages (concatenated in 'msgs', 'len' bytes;
 * their xids are rewritten) and a BARRIER_REQUEST; 'done' is called exactly
 * once, possibly before this returns (ENOTCONN, EINVAL for bytes that do
 * not frame into exactly 'n' messages, ENOBUFS). */
void ofconn_submit(struct ofconn *, const uint8_t *msgs, size_t len, size_t n,
                   ofconn_batch_fn *done, void *aux);

/* Completion of a flow read: 'flows' (n entries) is owned by the callee,
 * free with ofconn_free_flows().  NULL/0 on error. */
typedef void ofconn_flows_fn(void *aux, int error, struct offlow_stats *flows,
                             size_t n);
/* Sends a flow-stats multipart request for all tables, filtered by
 * cookie/mask, and collects every part of the reply.  'done' is called
 * exactly once, possibly before this returns. */
void ofconn_dump_flows(struct ofconn *, uint64_t cookie, uint64_t cookie_mask,
                       ofconn_flows_fn *done, void *aux);
void ofconn_free_flows(struct offlow_stats *, size_t n);

/* Completion of a meter read: 'meters' (n configurations, command 0) is
 * owned by the callee, free with ofconn_free_meters().  NULL/0 on error. */
typedef void ofconn_meters_fn(void *aux, int error, struct ofmsg_meter_mod *meters,
                              size_t n);
/* Sends a METER_CONFIG multipart request for every meter and collects every
 * part of the reply.  'done' is called exactly once, possibly before this
 * returns. */
void ofconn_dump_meters(struct ofconn *, ofconn_meters_fn *done, void *aux);
void ofconn_free_meters(struct ofmsg_meter_mod *, size_t n);

#endif
