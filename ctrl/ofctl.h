/* ofctl.h: the embedded OpenFlow 1.3 controller, the API the reconciler
 * drives.
 *
 * A controller owns one event-loop thread (ctrl/loop.h) and every switch
 * connection on it (ctrl/ofconn.h), in both directions: it listens for
 * bridges that connect to it (ofctl_listen), and it connects out to
 * bridges' endpoints (ofctl_connect: a bridge's <bridge>.mgmt unix socket,
 * tcp:IP:PORT or ssl:IP:PORT), reconnecting with exponential backoff.
 * TLS (ctrl/stream.h) needs stream_tls_configure() first; whether a
 * switch's certificate names the switch it claims to be is the owner's
 * call, made in switch_admit.  Switches are
 * known by datapath id once their handshake (HELLO, FEATURES, SET_CONFIG,
 * PORT_DESC) completes; every reconnect re-learns features and ports and
 * calls switch_up again.
 *
 * Threads: every function here may be called from any thread, the loop
 * thread included: requests are posted to the loop thread in call order
 * (FIFO), so two batches submitted by one thread reach the switch in that
 * order.  Submit, send and flow reads made from a callback (on the loop
 * thread) run at once instead, so their completion may be called before
 * the call returns (ENOENT, say).  Callbacks (struct ofctl_callbacks and the completion functions)
 * run on the loop thread and must not block; the *_wait() functions block
 * the calling thread and must never be called from a callback.  No call may
 * race with ofctl_destroy().
 *
 * Batches: ofctl_submit() sends messages to a switch followed by a
 * BARRIER_REQUEST and calls back once the barrier reply arrives: error 0
 * if the switch applied all of them, EPROTO with the index of the first
 * message the switch rejected (the OFPT_ERROR whose xid matches it), or
 * ENOENT (no such switch connected), ECONNRESET (the connection went away
 * first), ETIMEDOUT (no barrier reply within request_timeout_ms), ENOBUFS
 * (the switch's output queue is full), or a fencing refusal (EPERM, ESTALE,
 * ETIME: nothing was sent; see "Fencing").  A rejected message does not stop
 * the switch from applying the others: OpenFlow has no transactions.
 *
 * Fencing: with several controllers on one switch, only the owner of its
 * cloud may write (db/lease_keeper.h says who, with which epoch, until
 * when).  ofctl_set_role(dpid, MASTER, epoch, deadline) makes every
 * connection to that switch ask for the role with generation_id = epoch
 * at once and after every reconnect, before anything else is sent and
 * before switch_up; batches and sends wait for the reply (ctrl/ofconn.h,
 * "Roles"), and are refused without reaching the switch when the role is
 * refused (ESTALE: a higher epoch was seen there; EPERM: made slave),
 * when this process asked SLAVE (EPERM), or once the deadline passed
 * (ETIME).  The switch's refusals (STALE, IS_SLAVE, a role status naming
 * another master) also call 'fenced', so the owner steps down at once
 * (lease_keeper_fenced()).  With ofctl_options.fenced a switch whose role
 * was never set refuses writes (EPERM) instead of writing with the full
 * rights Open vSwitch gives a connection that asked for no role. */
#ifndef SKYVISOR_CTRL_OFCTL_H
#define SKYVISOR_CTRL_OFCTL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ctrl/ofmsg.h"

struct ofctl;

/* What a connected switch told us in its handshake. */
struct ofctl_switch_info {
    uint64_t dpid;
    uint8_t n_tables;
    uint32_t capabilities;
    const struct ofport *ports;     /* valid during the callback */
    size_t n_ports;
    const char *peer;               /* the target: "unix:/path", "tcp:IP:PORT",
                                     * "ssl:IP:PORT" */
    bool tls;
    const char *const *peer_names;  /* TLS: the certificate's names (CN,
                                     * DNS subjectAltNames); else NULL */
    size_t n_peer_names;
};

/* Any member may be NULL.  Messages are borrowed for the callback.
 * switch_admit is asked once the switch has told its datapath id, before
 * anything else is sent to it (ports are not known yet: n_ports is 0); it
 * returns false with the reason in why[0..len) to refuse the connection,
 * which is then closed (and, for ofctl_connect() targets, retried with
 * backoff).  Without it every switch is admitted. */
struct ofctl_callbacks {
    void (*switch_up)(void *aux, const struct ofctl_switch_info *);
    void (*switch_down)(void *aux, uint64_t dpid);
    void (*packet_in)(void *aux, uint64_t dpid, const struct ofmsg_packet_in *);
    void (*port_status)(void *aux, uint64_t dpid, const struct ofmsg_port_status *);
    void (*flow_removed)(void *aux, uint64_t dpid, const struct ofmsg_flow_removed *);
    bool (*switch_admit)(void *aux, const struct ofctl_switch_info *, char *why,
                         size_t len);
    /* The switch refused the role asked with 'generation' (reason ESTALE)
     * or took it away (EPERM): see "Fencing". */
    void (*fenced)(void *aux, uint64_t dpid, int reason, uint64_t generation);
};

/* Zero fields take the defaults in parentheses. */
struct ofctl_options {
    unsigned int probe_ms;          /* echo after this much silence (5000);
                                     * dead peer after twice it */
    unsigned int backoff_min_ms;    /* first reconnect delay (100) */
    unsigned int backoff_max_ms;    /* cap of the doubling delay (8000) */
    unsigned int request_timeout_ms;/* batch / multipart deadline (10000) */
    bool fenced;                    /* no writes without a granted role */
};

/* Starts a controller and its loop thread.  'cbs' is copied; 'aux' must
 * outlive the controller; 'opt' may be NULL.  Returns NULL on failure. */
struct ofctl *ofctl_create(const struct ofctl_callbacks *cbs, void *aux,
                           const struct ofctl_options *opt);
/* Closes every connection (pending requests complete with ECONNRESET,
 * switch_down is called for active switches), stops and joins the loop
 * thread, frees the controller.  Accepts NULL. */
void ofctl_destroy(struct ofctl *);

/* Listens on "tcp:IP:PORT" or, for TLS, "ssl:IP:PORT" (PORT 0: any; the
 * bound port is written to *port_out if non-NULL).  Returns 0 or an errno
 * (ENOKEY: ssl: without a TLS configuration). */
int ofctl_listen(struct ofctl *, const char *target, unsigned int *port_out);
/* Keeps a connection to "unix:PATH", "tcp:IP:PORT" or "ssl:IP:PORT" up,
 * reconnecting with backoff, until ofctl_disconnect().  Returns 0, EINVAL
 * or ENOMEM. */
int ofctl_connect(struct ofctl *, const char *target);
/* Drops the connection made by ofctl_connect(target) (switch_down if it
 * was up).  Returns 0 or ENOMEM. */
int ofctl_disconnect(struct ofctl *, const char *target);

enum ofctl_role {
    OFCTL_ROLE_NONE,                /* ask nothing: Open vSwitch's default
                                     * (EQUAL), writes unfenced */
    OFCTL_ROLE_SLAVE,               /* a follower: reads only */
    OFCTL_ROLE_MASTER,              /* the owner, with its epoch */
    OFCTL_ROLE_EQUAL,
};

/* Sets the role every connection to switch 'dpid' asks for, with
 * generation_id 'generation', now and after every reconnect, and the
 * deadline 'until_ms' (CLOCK_MONOTONIC ms as loop_now_ms(); 0: none) after
 * which its writes are refused with ETIME.  The same role and generation
 * again only moves the deadline (a lease renewal); another asks again.
 * OFCTL_ROLE_NONE forgets the switch's entry.  Returns 0 or ENOMEM; the
 * outcome comes through the writes' completions and 'fenced'. */
int ofctl_set_role(struct ofctl *, uint64_t dpid, enum ofctl_role role,
                   uint64_t generation, uint64_t until_ms);

typedef void ofctl_done_fn(void *aux, int error, size_t failed_index,
                           const struct ofmsg_error *err);
/* Sends msgs[0..n) (encoded now, in the calling thread: the caller keeps
 * ownership of 'msgs'; their xids are ignored) then a barrier to switch
 * 'dpid'; 'done' is called exactly once on the loop thread, with 'err'
 * (borrowed) set only for EPROTO.  Returns 0, or EINVAL (a message that
 * does not encode) / ENOMEM without calling 'done'. */
int ofctl_submit(struct ofctl *, uint64_t dpid, const struct ofmsg *msgs, size_t n,
                 ofctl_done_fn *done, void *aux);

typedef void ofctl_flows_fn(void *aux, int error, struct offlow_stats *flows,
                            size_t n);
/* Reads the flows of 'dpid' whose cookie matches cookie/cookie_mask (all
 * tables), collecting every part of the multipart reply.  'done' is called
 * exactly once and receives an array it owns (free with ofctl_free_flows);
 * NULL on error.  Returns 0 or ENOMEM without calling 'done'. */
int ofctl_dump_flows(struct ofctl *, uint64_t dpid, uint64_t cookie,
                     uint64_t cookie_mask, ofctl_flows_fn *done, void *aux);
void ofctl_free_flows(struct offlow_stats *, size_t n);

typedef void ofctl_meters_fn(void *aux, int error, struct ofmsg_meter_mod *meters,
                             size_t n);
/* Reads every meter's configuration of 'dpid' (multipart METER_CONFIG,
 * every part collected): the same contract as ofctl_dump_flows, the array
 * freed with ofctl_free_meters (each entry a meter-mod whose command is
 * 0). */
int ofctl_dump_meters(struct ofctl *, uint64_t dpid, ofctl_meters_fn *done, void *aux);
void ofctl_free_meters(struct ofmsg_meter_mod *, size_t n);

/* Sends one message without waiting for anything (packet-out, or a
 * flow-mod whose outcome does not matter).  xid 0 gets a fresh xid.
 * Returns 0, EINVAL or ENOMEM; delivery errors (no such switch) are only
 * logged. */
int ofctl_send(struct ofctl *, uint64_t dpid, const struct ofmsg *);

/* Blocking conveniences for tests and the reconciler's start-up.  Each
 * waits at most timeout_ms (ETIMEDOUT) and returns 0 or the error the
 * asynchronous form would report.  ofctl_submit_wait() fills *failed_index
 * and *err on EPROTO (both may be NULL); err->data is then a heap copy the
 * caller frees. */
int ofctl_submit_wait(struct ofctl *, uint64_t dpid, const struct ofmsg *msgs,
                      size_t n, unsigned int timeout_ms, size_t *failed_index,
                      struct ofmsg_error *err);
/* *flows is the caller's (ofctl_free_flows). */
int ofctl_dump_flows_wait(struct ofctl *, uint64_t dpid, uint64_t cookie,
                          uint64_t cookie_mask, unsigned int timeout_ms,
                          struct offlow_stats **flows, size_t *n);
/* *meters is the caller's (ofctl_free_meters). */
int ofctl_dump_meters_wait(struct ofctl *, uint64_t dpid, unsigned int timeout_ms,
                           struct ofmsg_meter_mod **meters, size_t *n);
/* Waits up to timeout_ms until at least 'count' switches are up; writes
 * the first 'count' dpids (in order of arrival) to 'dpids' if non-NULL.
 * Returns 0 or ETIMEDOUT. */
int ofctl_wait_switches(struct ofctl *, size_t count, uint64_t *dpids,
                        unsigned int timeout_ms);
/* A copy of a connected switch's ports (caller frees *ports), or ENOENT.
 * Blocks like the *_wait() functions (never from a callback). */
int ofctl_ports(struct ofctl *, uint64_t dpid, struct ofport **ports, size_t *n);
/* The ports of connected switch 'dpid' as its handshake and PORT_STATUS
 * messages last reported them (NULL and *n = 0 if it is not connected).
 * Only on the loop thread (from a callback), and valid until the callback
 * returns: it is the connection's own list, read in place without
 * blocking, which is what a packet-in handler needs. */
const struct ofport *ofctl_switch_ports(struct ofctl *, uint64_t dpid, size_t *n);

#endif
