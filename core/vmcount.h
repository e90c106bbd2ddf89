/* vmcount.h: a VM's counters, continued across the interfaces that carry
 * it over its life.
 *
 * OpenFlow cannot set a counter, and a port that comes back (a start, on
 * the same host or another one, another cloud) counts from its own zero.
 * So a VM keeps, beside the counters its interface shows ('raw'), an offset
 * ('base') such that its total is base + raw:
 *
 *   first interface ever      base 0: the interface's own count is the VM's;
 *   same interface, growing   base kept;
 *   another interface (its    base = last total - raw: the total continues
 *   key changed), or counters       exactly where it stood, and never goes
 *   that went back (reset)          backwards.
 *
 * Pure: no I/O.  The caller names an interface by a key of its own that
 * changes whenever the interface does (the reconciler uses its host and the
 * Interface row's UUID). */
#ifndef SKYVISOR_CORE_VMCOUNT_H
#define SKYVISOR_CORE_VMCOUNT_H

#include <stdbool.h>

enum { VMCOUNT_N = 6 };

struct vmcount {
    char key[96];                   /* the interface counted, "" for none yet */
    long long base[VMCOUNT_N];      /* total = base + raw */
    long long raw[VMCOUNT_N];       /* the interface's, last seen */
    long long total[VMCOUNT_N];
    bool counted;                   /* 'total' holds a count (maybe restored) */
};

/* Folds interface 'key''s counters 'raw' into 'c'.  True when the offsets
 * changed (a first or new interface, or a reset); *changed tells whether
 * any total moved. */
bool vmcount_update(struct vmcount *c, const char *key, const long long raw[VMCOUNT_N],
                    bool *changed);

#endif
