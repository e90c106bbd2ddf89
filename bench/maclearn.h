/* maclearn.h: the MAC table of the benchmarks' learning switches
 * (bench/ofctl_learn, the "off" side of bench/cpo).
 *
 * One open-addressing hash keyed by (datapath id, MAC) for every switch;
 * entries are never removed (a benchmark's MACs are a fixed set), so the
 * table must be sized above the number of (switch, MAC) pairs.  Single
 * thread: the controller's loop thread is the only user. */
#ifndef SKYVISOR_BENCH_MACLEARN_H
#define SKYVISOR_BENCH_MACLEARN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct maclearn_slot {
    uint64_t dpid, mac;
    uint32_t port;
    bool used;
};

struct maclearn {
    struct maclearn_slot *slots;    /* owned */
    size_t mask;                    /* slots - 1, a power of two less one */
};

/* 2^bits slots.  0 or ENOMEM; maclearn_uninit() frees. */
int maclearn_init(struct maclearn *, unsigned int bits);
void maclearn_uninit(struct maclearn *);
/* The entry of (dpid, mac); with 'insert', a new one (port 0) if none,
 * else NULL when none. */
struct maclearn_slot *maclearn_lookup(struct maclearn *, uint64_t dpid, uint64_t mac,
                                      bool insert);

#endif
