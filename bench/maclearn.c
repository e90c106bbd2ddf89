/* maclearn.c: the benchmarks' MAC table (see maclearn.h).  Linear probing
 * from a multiplicative hash of both keys. */
#include "bench/maclearn.h"

#include <errno.h>
#include <stdlib.h>

int
maclearn_init(struct maclearn *t, unsigned int bits)
{
    size_t n = (size_t) 1 << bits;
    t->slots = calloc(n, sizeof *t->slots);
    t->mask = n - 1;
    return t->slots ? 0 : ENOMEM;
}

void
maclearn_uninit(struct maclearn *t)
{
    free(t->slots);
    t->slots = NULL;
}

struct maclearn_slot *
maclearn_lookup(struct maclearn *t, uint64_t dpid, uint64_t mac, bool insert)
{
    uint64_t h = (dpid * 0x9e3779b97f4a7c15ULL) ^ (mac * 0xc2b2ae3d27d4eb4fULL);
    for (uint64_t i = h ^ (h >> 29);; i++) {
        struct maclearn_slot *s = &t->slots[i & t->mask];
        if (!s->used) {
            if (!insert) {
                return NULL;
            }
            *s = (struct maclearn_slot) { dpid, mac, 0, true };
            return s;
        }
        if (s->dpid == dpid && s->mac == mac) {
            return s;
        }
    }
}

