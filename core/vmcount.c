/* vmcount.c: see vmcount.h. */
#include "core/vmcount.h"

#include <stdio.h>
#include <string.h>

bool
vmcount_update(struct vmcount *c, const char *key, const long long raw[VMCOUNT_N],
               bool *changed)
{
    bool rebase = strcmp(c->key, key) != 0;
    for (int k = 0; k < VMCOUNT_N && !rebase; k++) {
        rebase = raw[k] < c->raw[k];        /* the interface was reset */
    }
    if (rebase) {
        for (int k = 0; k < VMCOUNT_N; k++) {
            c->base[k] = c->counted ? c->total[k] - raw[k] : 0;
        }
        snprintf(c->key, sizeof c->key, "%s", key);
    }
    *changed = false;
    for (int k = 0; k < VMCOUNT_N; k++) {
        c->raw[k] = raw[k];
        long long t = c->base[k] + raw[k];
        *changed |= t != c->total[k];
        c->total[k] = t;
    }
    c->counted = true;
    return rebase;
}
