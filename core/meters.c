/* meters.c: the meters of bandwidth isolation (meters.h). */
#include "core/meters.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#define DEFAULT_BURST_DIV 10        /* 100 ms of the rate */
#define MIN_BURST_KBIT 64

static void
put_meter(struct nm_flow *f, uint32_t id, uint32_t mbps, uint32_t burst_kbit)
{
    uint32_t kbps = mbps * 1000u;
    if (!burst_kbit) {
        burst_kbit = kbps / DEFAULT_BURST_DIV;
        burst_kbit = burst_kbit < MIN_BURST_KBIT ? MIN_BURST_KBIT : burst_kbit;
    }
    f->meter = id;
    f->meter_kbps = kbps;
    f->meter_burst = burst_kbit;
}

void
meters_vm(const struct netmodel *m, int vm, uint32_t port, struct nm_flow *f)
{
    const struct nm_vm *v = &m->vms[vm];
    if (f && v->rate_mbps && port && port < 0xff00u) {
        put_meter(f, port, v->rate_mbps, v->burst_kb);
    }
}

void
meters_wan(const struct netmodel *m, int h, int next, int vm, uint32_t tun_port,
           struct nm_flow *f)
{
    const struct nm_vm *v = &m->vms[vm];
    if (!f || f->meter || next < 0 || v->network < 0 || !tun_port
        || tun_port >= 0xff00u) {
        return;
    }
    const struct nm_host *a = &m->hosts[h], *b = &m->hosts[next];
    int t = m->networks[v->network].tenant;
    if (!a->gateway || !b->gateway || a->cloud == b->cloud || t < 0
        || !m->tenants[t].wan_limit_mbps) {
        return;
    }
    put_meter(f, (uint32_t) m->tenants[t].tag << 16 | tun_port,
              m->tenants[t].wan_limit_mbps, 0);
}

static int
cmp_spec(const void *x, const void *y)
{
    const struct meter_spec *a = x, *b = y;
    return (a->id > b->id) - (a->id < b->id);
}

int
meters_collect(const struct nm_flow *fl, size_t n, struct meter_list *out)
{
    out->n = 0;
    for (size_t i = 0; i < n; i++) {
        if (!fl[i].meter) {
            continue;
        }
        if (out->n == out->cap) {
            size_t cap = out->cap ? 2 * out->cap : 16;
            struct meter_spec *g = realloc(out->v, cap * sizeof *g);
            if (!g) {
                return ENOMEM;
            }
            out->v = g;
            out->cap = cap;
        }
        out->v[out->n++] = (struct meter_spec) {
            fl[i].meter, fl[i].meter_kbps, fl[i].meter_burst,
        };
    }
    if (out->n) {
        qsort(out->v, out->n, sizeof *out->v, cmp_spec);
    }
    size_t k = 0;
    for (size_t i = 0; i < out->n; i++) {
        if (!k || out->v[k - 1].id != out->v[i].id) {
            out->v[k++] = out->v[i];
        }
    }
    out->n = k;
    return 0;
}

void
meters_clear(struct meter_list *l)
{
    free(l->v);
    memset(l, 0, sizeof *l);
}
