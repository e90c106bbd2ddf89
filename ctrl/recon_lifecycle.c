/* recon_lifecycle.c: snapshots captured and counters sampled, on the
 * reconciler thread (design in recon_lifecycle.h).
 *
 * State: the store and, per VM seen, its counter offsets (struct vm_count,
 * an array sorted by VM id), read back from the store's samples before the
 * first sample.  A snapshot is not remembered here: the store's pending
 * list is the work, and each capture settles one entry of it. */
#include "ctrl/recon_lifecycle.h"

#include <errno.h>
#include <inttypes.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/packet.h"
#include "core/vlog.h"
#include "core/vmcount.h"
#include "ctrl/ovsdb.h"
#include "ctrl/ovsdb_datum.h"
#include "ctrl/ovsdb_replica.h"
#include "ctrl/recon_internal.h"

/* A snapshot whose VM's host bridge is unreachable waits this long after
 * the request before it is settled in error. */
#define CAPTURE_WAIT_S 10.0
/* Counters are read at most this often (ovs-vswitchd refreshes them every
 * 5 s). */
#define SAMPLE_EVERY_US 1000000LL

const char *const recon_life_counter_names[RLC__COUNT] = {
    "rx_packets", "rx_bytes", "rx_dropped", "tx_packets", "tx_bytes", "tx_dropped",
};
/* The Interface statistics key of each counter, as the switch sees the
 * port: what it received is what the VM sent. */
static const char *const iface_keys[RLC__COUNT] = {
    "tx_packets", "tx_bytes", "tx_dropped", "rx_packets", "rx_bytes", "rx_dropped",
};

_Static_assert((int) RLC__COUNT == (int) VMCOUNT_N, "one offset per counter");

struct vm_count {
    char vm_id[40];
    struct vmcount c;               /* its key: "host id/Interface UUID" */
    bool recorded;                  /* 'c.total' is what the store holds */
    bool offsets_dirty;             /* 'c.key' and 'c.base' not recorded yet */
};

struct recon_life {
    struct recon_life_store store;
    void *aux;
    bool loaded;                    /* the store's samples were read */
    long long next_sample_us;
    struct vm_count *vc;            /* sorted by vm_id */
    size_t n_vc, cap_vc;
};

struct recon_life *
recon_life_create(const struct recon_life_store *store, void *aux)
{
    struct recon_life *l = calloc(1, sizeof *l);
    if (l) {
        l->store = *store;
        l->aux = aux;
    }
    return l;
}

void
recon_life_destroy(struct recon_life *l)
{
    if (l) {
        free(l->vc);
        free(l);
    }
}

void
reconciler_attach_lifecycle(struct reconciler *r, struct recon_life *l)
{
    atomic_store(&r->life, l);
    recon_wake(r);
}

static double
wall_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (double) ts.tv_sec + ts.tv_nsec / 1e9;
}

/* --- JSON forms --- */

static json_t *
field_value(enum mf f, uint64_t v)
{
    char buf[32];
    if (ofmatch_field_len(f) == 6) {
        packet_format_mac(v, buf);
        return json_string(buf);
    }
    if (f == MF_IPV4_SRC || f == MF_IPV4_DST || f == MF_ARP_SPA || f == MF_ARP_TPA) {
        snprintf(buf, sizeof buf, "%u.%u.%u.%u", (unsigned) (v >> 24 & 255),
                 (unsigned) (v >> 16 & 255), (unsigned) (v >> 8 & 255),
                 (unsigned) (v & 255));
        return json_string(buf);
    }
    return json_integer((json_int_t) v);
}

json_t *
recon_life_match_json(const struct ofmatch *mt)
{
    json_t *o = json_object();
    for (size_t i = 0; o && i < mt->n; i++) {
        unsigned int item = mt->order[i];
        if (item & 0x80) {
            continue;               /* fields skyvisor does not model */
        }
        enum mf f = (enum mf) item;
        json_t *v;
        if (mt->masked & (1u << f)) {
            char buf[48];
            snprintf(buf, sizeof buf, "0x%" PRIx64 "/0x%" PRIx64, mt->value[f], mt->mask[f]);
            v = json_string(buf);
        } else {
            v = field_value(f, mt->value[f]);
        }
        json_object_set_new(o, ofmatch_field_name(f), v);
    }
    return o;
}

static json_t *
actions_json(const struct ofaction *a, size_t n)
{
    json_t *arr = json_array();
    for (size_t i = 0; arr && i < n; i++) {
        json_t *x;
        switch (a[i].type) {
        case OFPAT_OUTPUT:
            x = a[i].u.output.port == OFPP_CONTROLLER
                ? json_pack("{s:s}", "output", "controller")
                : json_pack("{s:I}", "output", (json_int_t) a[i].u.output.port);
            break;
        case OFPAT_SET_FIELD:
            x = json_pack("{s:{s:o}}", "set_field",
                          ofmatch_field_name((enum mf) a[i].u.set_field.field),
                          field_value((enum mf) a[i].u.set_field.field,
                                      a[i].u.set_field.value));
            break;
        case OFPAT_GROUP:
            x = json_pack("{s:I}", "group", (json_int_t) a[i].u.group_id);
            break;
        case OFPAT_SET_QUEUE:
            x = json_pack("{s:I}", "set_queue", (json_int_t) a[i].u.queue_id);
            break;
        default:
            x = json_pack("{s:i}", "type", (int) a[i].type);
            break;
        }
        json_array_append_new(arr, x);
    }
    return arr;
}

json_t *
recon_life_insts_json(const struct ofinst *in, size_t n)
{
    json_t *arr = json_array();
    for (size_t i = 0; arr && i < n; i++) {
        json_t *x;
        char buf[48];
        switch (in[i].type) {
        case OFPIT_GOTO_TABLE:
            x = json_pack("{s:i}", "goto_table", (int) in[i].table_id);
            break;
        case OFPIT_WRITE_METADATA:
            snprintf(buf, sizeof buf, "0x%" PRIx64 "/0x%" PRIx64, in[i].metadata,
                     in[i].metadata_mask);
            x = json_pack("{s:s}", "write_metadata", buf);
            break;
        case OFPIT_APPLY_ACTIONS:
            x = json_pack("{s:o}", "apply_actions",
                          actions_json(in[i].actions, in[i].n_actions));
            break;
        case OFPIT_WRITE_ACTIONS:
            x = json_pack("{s:o}", "write_actions",
                          actions_json(in[i].actions, in[i].n_actions));
            break;
        case OFPIT_CLEAR_ACTIONS:
            x = json_pack("{s:b}", "clear_actions", 1);
            break;
        case OFPIT_METER:
            x = json_pack("{s:I}", "meter", (json_int_t) in[i].meter_id);
            break;
        default:
            x = json_pack("{s:i}", "type", (int) in[i].type);
            break;
        }
        json_array_append_new(arr, x);
    }
    return arr;
}

json_t *
recon_life_flow_json(const struct offlow_stats *f)
{
    char cookie[24];
    snprintf(cookie, sizeof cookie, "0x%016" PRIx64, f->cookie);
    return json_pack("{s:i, s:i, s:s, s:o, s:o, s:I, s:I, s:f, s:i, s:i, s:i}",
                     "table", (int) f->table_id, "priority", (int) f->priority,
                     "cookie", cookie, "match", recon_life_match_json(&f->match),
                     "instructions", recon_life_insts_json(f->insts, f->n_insts),
                     "packets", (json_int_t) f->packet_count,
                     "bytes", (json_int_t) f->byte_count,
                     "duration_s", f->duration_sec + f->duration_nsec / 1e9,
                     "idle_timeout", (int) f->idle_timeout,
                     "hard_timeout", (int) f->hard_timeout, "flags", (int) f->flags);
}

/* An OVSDB datum as plain JSON: a map as an object, a set as an array
 * (one element: the element, none: null), a UUID as its text. */
static json_t *
datum_json(const json_t *d)
{
    const char *tag = json_is_array(d) ? json_string_value(json_array_get(d, 0)) : NULL;
    if (tag && !strcmp(tag, "map")) {
        json_t *o = json_object();
        const json_t *pairs = json_array_get(d, 1);
        for (size_t i = 0; o && i < json_array_size(pairs); i++) {
            const json_t *kv = json_array_get(pairs, i);
            const json_t *k = json_array_get(kv, 0);
            char key[32];
            const char *ks = json_string_value(k);
            if (!ks && json_is_integer(k)) {
                snprintf(key, sizeof key, "%" JSON_INTEGER_FORMAT, json_integer_value(k));
                ks = key;
            }
            if (ks) {
                json_object_set_new(o, ks, datum_json(json_array_get(kv, 1)));
            }
        }
        return o;
    }
    if (tag && !strcmp(tag, "set")) {
        const json_t *elems = json_array_get(d, 1);
        if (json_array_size(elems) == 0) {
            return json_null();
        }
        if (json_array_size(elems) == 1) {
            return datum_json(json_array_get(elems, 0));
        }
        json_t *arr = json_array();
        for (size_t i = 0; arr && i < json_array_size(elems); i++) {
            json_array_append_new(arr, datum_json(json_array_get(elems, i)));
        }
        return arr;
    }
    if (tag && !strcmp(tag, "uuid")) {
        return json_deep_copy(json_array_get(d, 1));
    }
    return d ? json_deep_copy(d) : json_null();
}

/* Columns 'cols' (NULL-terminated) of 'row' as plain JSON. */
static json_t *
row_json(const json_t *row, const char *const *cols)
{
    json_t *o = json_object();
    for (size_t i = 0; o && cols[i]; i++) {
        const json_t *d = json_object_get(row, cols[i]);
        json_object_set_new(o, cols[i], d ? datum_json(d) : json_null());
    }
    return o;
}

/* The Port row holding Interface 'if_uuid', or NULL. */
static const json_t *
port_of(const struct ovsdb_replica *rep, const char *if_uuid)
{
    const char *uuid;
    json_t *row;
    json_object_foreach((json_t *) ovsdb_replica_table(rep, "Port"), uuid, row) {
        if (ovsdb_datum_has_uuid(json_object_get(row, "interfaces"), if_uuid)) {
            return row;
        }
    }
    return NULL;
}

/* The VM's port as OVSDB has it: its interface, its port, and the port's
 * QoS with its queues (null when it has none). */
static json_t *
port_view(const struct ovsdb_replica *rep, const json_t *iface, const char *if_uuid)
{
    static const char *const if_cols[] = {
        "name", "type", "mac_in_use", "mac", "mtu", "ofport", "external_ids",
        "statistics", "link_state", "admin_state", "options", NULL,
    };
    static const char *const port_cols[] = {"name", "external_ids", "tag", NULL};
    static const char *const qos_cols[] = {"type", "other_config", NULL};
    static const char *const queue_cols[] = {"dscp", "other_config", NULL};
    json_t *view = json_pack("{s:s, s:o}", "uuid", if_uuid, "interface",
                             row_json(iface, if_cols));
    const json_t *port = port_of(rep, if_uuid);
    json_t *qos = json_null();
    if (port) {
        const char *qu = ovsdb_datum_get_uuid(ovsdb_datum_at(json_object_get(port, "qos"),
                                                             0));
        const json_t *qrow = qu ? ovsdb_replica_row(rep, "QoS", qu) : NULL;
        if (qrow) {
            json_decref(qos);
            qos = row_json(qrow, qos_cols);
            json_t *queues = json_object();
            const json_t *pairs = json_array_get(json_object_get(qrow, "queues"), 1);
            for (size_t i = 0; queues && i < json_array_size(pairs); i++) {
                const json_t *kv = json_array_get(pairs, i);
                const char *uu = ovsdb_datum_get_uuid(json_array_get(kv, 1));
                const json_t *q = uu ? ovsdb_replica_row(rep, "Queue", uu) : NULL;
                char key[24];
                snprintf(key, sizeof key, "%" JSON_INTEGER_FORMAT,
                         json_integer_value(json_array_get(kv, 0)));
                if (q) {
                    json_object_set_new(queues, key, row_json(q, queue_cols));
                }
            }
            json_object_set_new(qos, "queues", queues);
        }
    }
    json_object_set_new(view, "port", port ? row_json(port, port_cols) : json_null());
    json_object_set_new(view, "qos", qos);
    return view;
}

static void
ip_text(uint32_t ip, char buf[16])
{
    snprintf(buf, 16, "%u.%u.%u.%u", ip >> 24, ip >> 16 & 255, ip >> 8 & 255, ip & 255);
}

/* --- counters --- */

static int
cmp_vc(const void *k, const void *e)
{
    return strcmp(k, ((const struct vm_count *) e)->vm_id);
}

/* VM 'vm_id''s entry, created (zero) when 'create'; NULL if absent or out
 * of memory. */
static struct vm_count *
vc_get(struct recon_life *l, const char *vm_id, bool create)
{
    size_t lo = 0, hi = l->n_vc;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        int c = cmp_vc(vm_id, &l->vc[mid]);
        if (!c) {
            return &l->vc[mid];
        }
        if (c < 0) {
            hi = mid;
        } else {
            lo = mid + 1;
        }
    }
    if (!create) {
        return NULL;
    }
    if (l->n_vc == l->cap_vc) {
        size_t cap = l->cap_vc ? 2 * l->cap_vc : 64;
        struct vm_count *g = realloc(l->vc, cap * sizeof *g);
        if (!g) {
            return NULL;
        }
        l->vc = g;
        l->cap_vc = cap;
    }
    memmove(&l->vc[lo + 1], &l->vc[lo], (l->n_vc - lo) * sizeof *l->vc);
    l->n_vc++;
    struct vm_count *c = &l->vc[lo];
    memset(c, 0, sizeof *c);
    snprintf(c->vm_id, sizeof c->vm_id, "%s", vm_id);
    return c;
}

/* Reads the store's samples into the table (once). */
static bool
load_samples(struct recon_life *l)
{
    if (l->loaded) {
        return true;
    }
    json_t *all = NULL;
    if (l->store.samples(l->aux, &all)) {
        return false;
    }
    const char *vm_id;
    json_t *s;
    json_object_foreach(all, vm_id, s) {
        struct vm_count *c = vc_get(l, vm_id, true);
        if (!c) {
            break;
        }
        const json_t *off = json_object_get(s, "offsets");
        const char *key = json_string_value(json_object_get(off, "iface"));
        snprintf(c->c.key, sizeof c->c.key, "%s", key ? key : "");
        for (int k = 0; k < RLC__COUNT; k++) {
            const char *name = recon_life_counter_names[k];
            c->c.total[k] = json_integer_value(json_object_get(s, name));
            c->c.base[k] = json_integer_value(json_object_get(json_object_get(off, "base"),
                                                              name));
            c->c.raw[k] = c->c.total[k] - c->c.base[k];
        }
        c->c.counted = true;
        c->recorded = true;
    }
    json_decref(all);
    l->loaded = true;
    return true;
}

static json_t *
counters_json(const long long v[RLC__COUNT])
{
    json_t *o = json_object();
    for (int k = 0; o && k < RLC__COUNT; k++) {
        json_object_set_new(o, recon_life_counter_names[k], json_integer(v[k]));
    }
    return o;
}

static json_t *
offsets_json(const struct vm_count *c)
{
    return json_pack("{s:s, s:o}", "iface", c->c.key, "base", counters_json(c->c.base));
}

/* The VM's counters from Interface statistics 'stats' (a map). */
static void
read_stats(const json_t *stats, long long raw[RLC__COUNT])
{
    const json_t *pairs = json_array_get(stats, 1);
    for (int k = 0; k < RLC__COUNT; k++) {
        raw[k] = 0;
        for (size_t i = 0; i < json_array_size(pairs); i++) {
            const json_t *kv = json_array_get(pairs, i);
            const char *name = json_string_value(json_array_get(kv, 0));
            if (name && !strcmp(name, iface_keys[k])) {
                raw[k] = json_integer_value(json_array_get(kv, 1));
            }
        }
    }
}

/* One sample of VM 'c' taken at 'as_of' (new reference, NULL when memory
 * runs out). */
static json_t *
sample_json(const struct vm_count *c, double as_of)
{
    json_t *o = counters_json(c->c.total);
    if (o && (json_object_set_new(o, "vm_id", json_string(c->vm_id))
              || json_object_set_new(o, "as_of", json_real(as_of))
              || json_object_set_new(o, "offsets", offsets_json(c)))) {
        json_decref(o);
        o = NULL;
    }
    return o;
}

/* Reads the counters of every VM port of the hosts this instance owns and
 * records what changed.  A host whose replica has not moved since its last
 * sample, with the same port list, has the same counters: it is skipped
 * (Open vSwitch writes Interface statistics every few seconds, and an idle
 * emulated host never), unless the last record failed. */
static void
sample(struct reconciler *r, struct recon_life *l, const struct netmodel *m)
{
    long long now = recon_now_us();
    if (now < l->next_sample_us || !load_samples(l)) {
        return;
    }
    l->next_sample_us = now + SAMPLE_EVERY_US;
    double as_of = wall_now();
    json_t *batch = json_array();
    for (size_t h = 0; batch && h < m->n_hosts; h++) {
        struct agent *a = recon_agent_for(r, &m->hosts[h]);
        if (!a || a->foreign || !a->db || !ovsdb_is_synced(a->db)) {
            continue;               /* another instance owns it (recon_owner.c) */
        }
        const struct ovsdb_replica *rep = ovsdb_get_replica(a->db);
        uint64_t sig = a->ports_sig;
        if (a->sample_sig == sig && a->sample_seqno == rep->seqno) {
            continue;
        }
        a->sample_sig = sig;
        a->sample_seqno = rep->seqno;
        for (size_t i = 0; i < a->n_ports; i++) {
            const struct nm_port *p = &a->ports[i];
            const char *uuid;
            const json_t *row = p->kind == NM_PORT_VM && !p->second
                                ? recon_vm_iface(rep, p->name, &uuid) : NULL;
            const json_t *stats = row ? json_object_get(row, "statistics") : NULL;
            if (!stats || !ovsdb_datum_map_n(stats)) {
                continue;           /* not plugged, or not counted yet */
            }
            struct vm_count *c = vc_get(l, m->vms[p->vm].o.id, true);
            if (!c) {
                a->sample_sig = 0;  /* read again next time */
                break;
            }
            char key[96];
            snprintf(key, sizeof key, "%s/%s", a->id, uuid);
            long long raw[RLC__COUNT];
            bool changed;
            read_stats(stats, raw);
            c->offsets_dirty |= vmcount_update(&c->c, key, raw, &changed);
            c->recorded &= !changed;
            if ((!c->recorded || c->offsets_dirty)
                && json_array_append_new(batch, sample_json(c, as_of))) {
                a->sample_sig = 0;  /* not in this record: read again */
            }
        }
    }
    char *text = batch && json_array_size(batch)
                 ? json_dumps(batch, JSON_COMPACT) : NULL;
    if ((batch && json_array_size(batch) && !text)
        || (text && l->store.record(l->aux, text))) {
        for (size_t i = 0; i < r->n_agents; i++) {
            r->agents[i].sample_sig = 0;    /* not recorded: all read again */
        }
    } else if (text) {
        /* Every VM sampled is recorded now (a VM whose vc_get failed was
         * not counted at all). */
        for (size_t i = 0; i < json_array_size(batch); i++) {
            const char *id = json_string_value(json_object_get(json_array_get(batch, i),
                                                               "vm_id"));
            struct vm_count *c = id ? vc_get(l, id, false) : NULL;
            if (c) {
                c->recorded = true;
                c->offsets_dirty = false;
            }
        }
    }
    free(text);
    json_decref(batch);
}

/* --- snapshots --- */

/* The VM's port on its host's bridge (from the pass's port list). */
static const struct nm_port *
vm_port_of(const struct agent *a, int v)
{
    for (size_t i = 0; i < a->n_ports; i++) {
        if (a->ports[i].kind == NM_PORT_VM && a->ports[i].vm == v && !a->ports[i].second) {
            return &a->ports[i];
        }
    }
    return NULL;
}

static json_t *
tunnels_json(const struct netmodel *m, const struct agent *a)
{
    const struct ovsdb_replica *rep = ovsdb_get_replica(a->db);
    json_t *arr = json_array();
    for (size_t i = 0; arr && i < a->n_ports; i++) {
        const struct nm_port *p = &a->ports[i];
        if (p->kind != NM_PORT_TUNNEL) {
            continue;
        }
        char lip[16], rip[16];
        ip_text(p->local_ip, lip);
        ip_text(p->remote_ip, rip);
        json_array_append_new(arr, json_pack(
            "{s:s, s:s, s:s, s:s, s:s, s:I}", "name", p->name,
            "peer", m->hosts[p->peer].o.name, "type", "vxlan", "local_ip", lip,
            "remote_ip", rip, "ofport", (json_int_t) recon_ofport(rep, p->name)));
    }
    return arr;
}

/* Captures snapshot 'q' of VM 'v' (see the header); 0, EAGAIN to wait, or
 * an errno with *why (malloc'ed) set. */
static int
capture(struct reconciler *r, struct recon_life *l, const struct netmodel *m,
        const struct recon_life_request *q, int v, char **why)
{
    const struct nm_vm *vm = &m->vms[v];
    const struct nm_host *ho = &m->hosts[vm->host];
    struct agent *home = recon_agent_for(r, ho);
    if (home && home->foreign) {
        return EAGAIN;              /* its cloud's owner captures it */
    }
    if (!home || !home->db || !ovsdb_is_synced(home->db) || !recon_is_up(r, home->dpid)) {
        if (wall_now() - q->requested_at < CAPTURE_WAIT_S) {
            return EAGAIN;
        }
        return asprintf(why, "host %s: its bridge %s is not reachable", ho->o.name,
                        ho->bridge) < 0 ? ENOMEM : ENOTCONN;
    }
    double started = wall_now();
    uint64_t cookie = netmodel_vm_cookie(m, v);
    /* The first barrier on every bridge: what was sent before is applied. */
    bool *up = calloc(m->n_hosts ? m->n_hosts : 1, sizeof *up);
    if (!up) {
        return ENOMEM;
    }
    for (size_t h = 0; h < m->n_hosts; h++) {
        /* A bridge another instance owns is read as its slave sees it (a
         * slave may not even send a barrier). */
        const struct agent *x = recon_agent_for(r, &m->hosts[h]);
        up[h] = recon_is_up(r, m->hosts[h].dpid)
                && ((x && x->foreign)
                    || !ofctl_submit_wait(r->ctl, m->hosts[h].dpid, NULL, 0,
                                          RECON_OF_TIMEOUT_MS, NULL, NULL));
    }
    json_t *bridges = json_array(), *times = json_object(), *missing = json_array();
    size_t n_flows = 0;
    int rc = 0;
    for (size_t h = 0; h < m->n_hosts && !rc; h++) {
        const struct nm_host *x = &m->hosts[h];
        struct offlow_stats *flows = NULL;
        size_t n = 0;
        if (!up[h] || ofctl_dump_flows_wait(r->ctl, x->dpid, cookie, UINT64_MAX,
                                            RECON_OF_TIMEOUT_MS, &flows, &n)) {
            json_array_append_new(missing, json_string(x->o.name));
            if ((int) h == vm->host) {
                rc = asprintf(why, "host %s: reading bridge %s failed", x->o.name,
                              x->bridge) < 0 ? ENOMEM : EIO;
            }
            continue;
        }
        double at = wall_now();
        if (n || (int) h == vm->host) {
            json_t *fl = json_array();
            for (size_t i = 0; fl && i < n; i++) {
                json_array_append_new(fl, recon_life_flow_json(&flows[i]));
            }
            char dpid[20];
            snprintf(dpid, sizeof dpid, "%016" PRIx64, x->dpid);
            json_array_append_new(bridges, json_pack(
                "{s:s, s:s, s:s, s:f, s:o}", "host", x->o.name, "bridge", x->bridge,
                "datapath_id", dpid, "captured_at", at, "flows", fl));
            json_object_set_new(times, x->o.name, json_real(at));
            n_flows += n;
        }
        ofctl_free_flows(flows, n);
    }
    free(up);
    if (rc) {
        json_decref(bridges);
        json_decref(times);
        json_decref(missing);
        return rc;
    }
    /* The port and the tunnels, from the host's replica. */
    const struct ovsdb_replica *rep = ovsdb_get_replica(home->db);
    const struct nm_port *p = vm_port_of(home, v);
    const char *if_uuid = NULL;
    const json_t *iface = p ? recon_vm_iface(rep, p->name, &if_uuid) : NULL;
    json_t *port = iface ? port_view(rep, iface, if_uuid) : json_null();
    struct vm_count *c = load_samples(l) ? vc_get(l, vm->o.id, false) : NULL;
    json_t *counters = c ? json_pack("{s:o, s:o}", "totals", counters_json(c->c.total),
                                     "offsets", offsets_json(c))
                         : json_null();
    char mac[20], ip[16];
    packet_format_mac(vm->mac, mac);
    ip_text(vm->ip, ip);
    char cookie_s[24];
    snprintf(cookie_s, sizeof cookie_s, "0x%016" PRIx64, cookie);
    json_t *content = json_pack(
        "{s:i, s:{s:s, s:s, s:s, s:s, s:s, s:s, s:s}, s:o, s:o, s:o, s:o, s:o, s:I,"
        " s:[]}",
        "format", 1,
        "vm", "id", vm->o.id, "name", vm->o.name, "mac", mac, "ip", ip,
        "host", ho->o.name, "bridge", ho->bridge, "cookie", cookie_s,
        "port", port, "tunnels", tunnels_json(m, home), "bridges", bridges,
        "unreachable", missing, "counters", counters, "flows", (json_int_t) n_flows,
        "tenant_flows");
    char *text = content ? json_dumps(content, JSON_COMPACT) : NULL;
    char *times_text = json_dumps(times, JSON_COMPACT);
    json_decref(content);
    json_decref(times);
    if (!text || !times_text) {
        free(text);
        free(times_text);
        return ENOMEM;
    }
    rc = l->store.captured(l->aux, q->id, text, started, wall_now(), times_text);
    if (!rc) {
        VLOG_INF(RECON_MOD, "snapshot %s of vm %s: %zu flows, %zu bytes", q->id,
                 vm->o.name, n_flows, strlen(text));
    }
    free(text);
    free(times_text);
    return rc ? EAGAIN : 0;
}

static void
capture_pending(struct reconciler *r, struct recon_life *l, const struct netmodel *m)
{
    struct recon_life_request *q = NULL;
    size_t n = 0;
    if (l->store.pending(l->aux, &q, &n)) {
        return;
    }
    for (size_t i = 0; i < n; i++) {
        int v = netmodel_vm_by_id(m, q[i].vm_id);
        char *why = NULL;
        int rc;
        if (v < 0 || m->vms[v].host < 0 || m->vm_comp[v] < 0) {
            rc = asprintf(&why, "the VM is on no switch (%s)",
                          v < 0 ? "stopped" : "it has no host") < 0 ? ENOMEM : ENOENT;
        } else {
            rc = capture(r, l, m, &q[i], v, &why);
        }
        if (rc && rc != EAGAIN && why) {
            VLOG_WRN(RECON_MOD, "snapshot %s: %s", q[i].id, why);
            l->store.failed(l->aux, q[i].id, why);
        }
        free(why);
    }
    free(q);
}

void
recon_lifecycle_pass(struct reconciler *r, const struct netmodel *m)
{
    struct recon_life *l = atomic_load(&r->life);
    if (!l) {
        return;
    }
    sample(r, l, m);
    capture_pending(r, l, m);
}
