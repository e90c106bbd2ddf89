/* lease.h: which cloud leases an instance acquires, renews or lets go
 * (pure logic; migrations/007_instances_leases.sql describes the leases,
 * db/lease_keeper.c runs this every heartbeat).
 *
 * Every heartbeat the keeper reads a view of the database (every instance
 * with its heartbeat age and healthy run, every cloud with its lease and
 * the instances pinned to it by --clouds, ages by the database's clock)
 * and asks lease_decide() what to do with each cloud, given whether it
 * holds the cloud now by its own monotonic clock.  The rules:
 *
 *   held here  row says          pins                       action
 *   yes        me, same epoch    I am pinned, or no other   RENEW
 *                                settled pinned instance
 *   yes        me, same epoch    another settled pinned     YIELD (stop now,
 *                                instance, I am not pinned  let it expire)
 *   yes        anything else     -                          DROP
 *   no         free or expired   I am pinned                ACQUIRE
 *   no         free or expired   another settled pinned     NONE while it
 *                                instance                   expired less than
 *                                                           a lease ago (or
 *                                                           was never held)
 *   no         free or expired   otherwise                  ACQUIRE
 *   no         held, unexpired   -                          NONE
 *
 * "Alive": heartbeat no older than the instance's own lease.  "Settled":
 * alive and heartbeating on time for settle_ms (default two leases): the
 * preference's "healthy for a while", so an instance that flaps does not
 * pull its clouds back and forth.  A row that still names this instance
 * while it does not hold the cloud here (a renewal whose answer was lost)
 * is left to expire and acquired again with a new epoch: ownership is
 * only ever taken with a fresh epoch.
 *
 * Nothing here allocates or does I/O. */
#ifndef SKYVISOR_CORE_LEASE_H
#define SKYVISOR_CORE_LEASE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define LEASE_MAX_PINS 8
#define LEASE_ID_LEN 37             /* a UUID's text and its NUL */

/* An instance as the view saw it. */
struct lease_peer {
    char id[LEASE_ID_LEN];
    long long heartbeat_age_ms;     /* since its last heartbeat */
    long long healthy_ms;           /* length of its run of on-time heartbeats */
    unsigned int lease_ms;          /* its own --lease-ms */
};

/* A cloud and its lease as the view saw them. */
struct lease_cloud {
    char id[LEASE_ID_LEN];
    char name[64];
    bool leased;                    /* a lease row exists */
    char holder[LEASE_ID_LEN];      /* "" when none */
    uint64_t epoch;
    long long expires_in_ms;        /* <= 0: expired (by the database's clock) */
    size_t pins[LEASE_MAX_PINS];    /* indices into lease_view.peers */
    size_t n_pins;
};

struct lease_view {
    const struct lease_peer *peers;
    size_t n_peers;
    const struct lease_cloud *clouds;
    size_t n_clouds;
};

struct lease_policy {
    const char *self;               /* this instance's id */
    unsigned int lease_ms;
    unsigned int settle_ms;         /* 0: 2 * lease_ms */
};

enum lease_action {
    LEASE_NONE,                     /* not ours, leave it */
    LEASE_ACQUIRE,                  /* take it with a new epoch */
    LEASE_RENEW,                    /* ours: extend it */
    LEASE_YIELD,                    /* ours, but a pinned instance wants it:
                                     * stop at once and let it expire */
    LEASE_DROP,                     /* we thought it ours, the row disagrees:
                                     * stop at once */
};

const char *lease_action_name(enum lease_action);

/* The action for cloud 'c' of 'view', which this instance holds now
 * (by its monotonic deadline) with 'held_epoch' when 'held' is true. */
enum lease_action lease_decide(const struct lease_policy *, const struct lease_view *,
                               const struct lease_cloud *c, bool held,
                               uint64_t held_epoch);

/* Whether 'p' is alive / settled under 'policy'. */
bool lease_peer_alive(const struct lease_peer *p);
bool lease_peer_settled(const struct lease_policy *, const struct lease_peer *p);

#endif
