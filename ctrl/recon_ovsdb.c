/* recon_ovsdb.c: OVSDB realization, on the reconciler thread.
 *
 * One agent per host holds its OVSDB session (a monitored replica of
 * Open_vSwitch, ctrl/ovsdb.h) and the OpenFlow target the controller keeps
 * connected.  Per pass: recon_agent_ports() computes the host's port list
 * once (a host no change touches keeps the last one, reconciler.c);
 * recon_ovsdb_pass() ensures the bridge, then every port's
 * transaction (ctrl/ovsdb_vswitch.h) computed from one replica and all sent
 * before any reply is awaited, then removes the ports skyvisor owns that
 * are no longer wanted.  A VM port found as wanted is remembered
 * (a->port_ok) and not checked again while the replica reports no change
 * of a row of its name (ovsdb_take_changes(), taken once per pass), its
 * wanted state is the same and its Port row is still there (see
 * port_still_ok()).
 * recon_settle_ports() waits (bounded) for ovs-vswitchd to number new
 * ports; recon_iface_pass() reads interface states into per-VM errors and
 * port numbers.  A host's failure is kept
 * in its agent (the first cause) and becomes its status.
 *
 * Numbers of our own.  The port of a VM not realized yet and not migrating,
 * when skyvisor inserts it, asks for its OpenFlow number (Interface
 * ofport_request) from the upper half of the range, which Open vSwitch
 * never gives out by itself, each host counting up from the highest number
 * its replica shows, so that a number freed is not soon given again (flows
 * that named it may be on their way out); the numbers in use are kept per
 * host (a->used_ofports) and brought up to date from the changed names.  When a pass inserts at most
 * PEND_MAX ports on a host, their transactions are not waited for: their
 * flows are planned and go in with those numbers (a->pend,
 * recon_pending_ofport()), and recon_ovsdb_finish() collects the replies
 * and checks the numbers afterwards, before any status is written.  A
 * change's port and its flows thus share their round trips instead of
 * following each other.  No traffic can be on its way to such a VM yet; the
 * port of one that is realized or migrating (traffic is there, and the
 * flows may steer it to the new port) is numbered by ovs-vswitchd and
 * waited for before the flows that name it, as ever.  A port whose number
 * was taken meanwhile by someone else's request gets another from
 * ovs-vswitchd; its host is then planned whole in the next pass, and until
 * then its VM stays pending.
 *
 * Binding.  A VM with an `iface` is bound to the interface of that name,
 * which skyvisor adds to the bridge.  A VM without one is bound to the
 * interface its hypervisor plugged into the bridge with
 * external_ids:skyvisor-vm-id set to the VM's id (recon_vm_iface); skyvisor
 * makes no port for it, and until such an interface is on its host the VM
 * has no port number, so the status fold keeps it pending with the host it
 * waits on.  The model names such a port "vm" and the first 8 hex digits
 * of the VM's id (netmodel_vm_port_name); every lookup by that name here
 * goes to the bound interface. */
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/hash.h"
#include "core/vlog.h"
#include "ctrl/flowtable.h"
#include "ctrl/ovsdb.h"
#include "ctrl/ovsdb_datum.h"
#include "ctrl/ovsdb_replica.h"
#include "ctrl/ovsdb_txn.h"
#include "ctrl/ovsdb_vswitch.h"
#include "ctrl/recon_bfd.h"
#include "ctrl/recon_groups.h"
#include "ctrl/recon_internal.h"

#define SETTLE_MS 1000              /* recon_settle_ports(): the wait for numbers */
#define OFPORT_OWN_MIN 0x8000u     /* requested numbers: Open vSwitch numbers */
#define OFPORT_OWN_MAX 0xfeffu     /* ports below the first by itself, the
                                    * second is the last below OFPP_MAX */
#define PEND_MAX 8                  /* inserts of a host a pass does not wait
                                     * for (recon_ovsdb_finish()) */
#define VM_ID_PREFIX 8              /* a VM port's name carries that much of
                                     * its id (netmodel_vm_port_id()) */

/* The columns the reconciler reads, and only those: a replica of every
 * column holds each interface's status, statistics of ports and bridges
 * and dozens of configuration columns nothing here looks at.  Who reads
 * what: ovsdb_vswitch.c (bridge and port realization, interface states,
 * the epoch in Open_vSwitch:external_ids), recon_ovsdb.c (bound
 * interfaces by external_ids, stale ports), recon_bfd.c (tunnels' bfd
 * and bfd_status), recon_lifecycle.c (a
 * snapshot's port view: its if_cols, port_cols, qos_cols and queue_cols,
 * and the counters in statistics).  A column read anywhere must be named
 * here, or it reads as absent. */
static const char *const ovs_cols[] = {"external_ids", NULL};
static const char *const bridge_cols[] = {
    "name", "ports", "datapath_type", "fail_mode", "protocols", "other_config",
    "controller", NULL,
};
static const char *const port_cols[] = {
    "name", "interfaces", "external_ids", "qos", "tag", NULL,
};
static const char *const iface_cols[] = {
    "name", "type", "options", "external_ids", "ofport", "ofport_request", "error",
    "statistics",
    "mac_in_use", "mac", "mtu", "link_state", "admin_state", "bfd", "bfd_status", NULL,
};
static const char *const controller_cols[] = {"target", NULL};
static const char *const qos_cols[] = {"type", "other_config", "queues", NULL};
static const char *const queue_cols[] = {"dscp", "other_config", NULL};
/* Columns Open vSwitch rewrites as it runs, not as it is configured: a
 * change of only these leaves a port as recon_ovsdb_pass() found it. */
static const char *const quiet_cols[] = {
    "statistics", "bfd_status", "link_state", "admin_state", NULL,
};
static const struct ovsdb_monitor monitor[] = {
    {"Open_vSwitch", ovs_cols}, {"Bridge", bridge_cols}, {"Port", port_cols},
    {"Interface", iface_cols}, {"Controller", controller_cols}, {"QoS", qos_cols},
    {"Queue", queue_cols},
};

const json_t *
recon_vm_iface(const struct ovsdb_replica *rep, const char *name, const char **uuidp)
{
    if (uuidp) {
        *uuidp = NULL;
    }
    const char *id_prefix = netmodel_vm_port_id(name);
    if (!id_prefix) {
        return ovsdb_replica_find(rep, "Interface", "name", name, uuidp);
    }
    /* The candidates from the replica's index by that key, which
     * recon_sync_agents() declares for every session. */
    bool indexed;
    const json_t *set = ovsdb_replica_key_rows(rep, "Interface", "external_ids",
                                               "skyvisor-vm-id", id_prefix, &indexed);
    const json_t *t = ovsdb_replica_table(rep, "Interface");
    const char *uuid;
    json_t *v;
    json_object_foreach((json_t *) set, uuid, v) {
        const json_t *row = json_object_get(t, uuid);
        const json_t *eid = json_object_get(row, "external_ids");
        const char *id = ovsdb_datum_map_get(eid, "skyvisor-vm-id");
        if (id && !strncmp(id, id_prefix, VM_ID_PREFIX)
            && !ovsdb_datum_map_get(eid, "skyvisor")) {
            if (uuidp) {
                *uuidp = uuid;
            }
            return row;
        }
    }
    return NULL;
}

/* ovsdb_vswitch_iface_status() of the interface bound to port 'name'. */
static int
iface_status(const struct ovsdb_replica *rep, const char *name, long long *ofport,
             const char **errorp)
{
    const json_t *row = recon_vm_iface(rep, name, NULL);
    const char *iname = row ? json_string_value(json_object_get(row, "name")) : NULL;
    if (!iname) {
        *ofport = 0;
        *errorp = NULL;
        return ENOENT;
    }
    return ovsdb_vswitch_iface_status(rep, iname, ofport, errorp);
}

/* Forgets the ports found as wanted: a pass that took the replica's
 * changes and did not look at them all leaves nothing to trust, nor does
 * a closed session. */
static void
forget_ok(struct agent *a)
{
    free(a->port_ok);
    a->port_ok = NULL;
    a->n_port_ok = 0;
}

struct agent *
recon_agent_for(struct reconciler *r, const struct nm_host *h)
{
    for (size_t i = 0; i < r->n_agents; i++) {
        if (!strcmp(r->agents[i].id, h->o.id)) {
            return &r->agents[i];
        }
    }
    struct agent *g = realloc(r->agents, (r->n_agents + 1) * sizeof *g);
    if (!g) {
        return NULL;
    }
    r->agents = g;
    struct agent *a = &r->agents[r->n_agents++];
    memset(a, 0, sizeof *a);
    snprintf(a->id, sizeof a->id, "%s", h->o.id);
    return a;
}

void
recon_agent_close(struct reconciler *r, struct agent *a)
{
    ovsdb_destroy(a->db);
    a->db = NULL;
    a->ovsdb_target[0] = 0;
    if (a->of_target[0]) {
        ofctl_disconnect(r->ctl, a->of_target);
        a->of_target[0] = 0;
    }
    free(a->err);
    a->err = NULL;
    free(a->ports);
    a->ports = NULL;
    a->n_ports = 0;
    a->ports_sig = 0;
    a->ports_gen = 0;
    forget_ok(a);
    free(a->pend);
    a->pend = NULL;
    a->n_pend = 0;
    a->next_ofport = 0;
    free(a->used_ofports);
    a->used_ofports = NULL;
    flowtable_destroy(a->ft);
    a->ft = NULL;
    recon_plan_clear(&a->plan);
    recon_meters_forget(a);
    recon_groups_forget(a);
}

void
recon_agent_error(struct agent *a, const char *fmt, ...)
{
    if (a->err) {
        return;                     /* keep the first cause */
    }
    va_list ap;
    va_start(ap, fmt);
    if (vasprintf(&a->err, fmt, ap) < 0) {
        a->err = NULL;
    }
    va_end(ap);
}

void
recon_sync_agents(struct reconciler *r, const struct netmodel *m)
{
    for (size_t i = 0; i < r->n_agents; i++) {
        r->agents[i].seen = false;
    }
    for (size_t h = 0; h < m->n_hosts; h++) {
        const struct nm_host *ho = &m->hosts[h];
        struct agent *a = recon_agent_for(r, ho);
        if (!a) {
            continue;
        }
        a->seen = true;
        a->dpid = ho->dpid;
        if (strcmp(a->name, ho->o.name)) {
            snprintf(a->name, sizeof a->name, "%s", ho->o.name);
            if (a->db) {
                ovsdb_set_peer_name(a->db, a->name);
            }
        }
        if (!a->of_since) {
            a->of_since = recon_now_us();     /* a bridge that connects to us */
        }
        if (strcmp(a->ovsdb_target, ho->ovsdb)) {
            ovsdb_destroy(a->db);
            a->db = ovsdb_create(ho->ovsdb, "Open_vSwitch");
            if (a->db) {
                ovsdb_set_monitor(a->db, monitor, sizeof monitor / sizeof *monitor);
                ovsdb_track_changes(a->db, quiet_cols);
            }
            if (a->db && (ovsdb_set_peer_name(a->db, a->name)
                          || ovsdb_index_key(a->db, "Interface", "external_ids",
                                             "skyvisor-vm-id", VM_ID_PREFIX))) {
                ovsdb_destroy(a->db);
                a->db = NULL;
            }
            snprintf(a->ovsdb_target, sizeof a->ovsdb_target, "%s", ho->ovsdb);
            a->seqno = 0;
            a->db_since = recon_now_us();
            a->db_ever_up = false;
            if (a->db) {
                ovsdb_run(a->db);
            }
        }
        /* The owner of its cloud connects, and a follower once it knows
         * the generation to ask SLAVE with (recon_owner.c). */
        const char *of = a->foreign && !a->slave_gen ? "" : ho->openflow;
        if (strcmp(a->of_target, of)) {
            if (a->of_target[0]) {
                ofctl_disconnect(r->ctl, a->of_target);
            }
            snprintf(a->of_target, sizeof a->of_target, "%s", of);
            a->of_since = recon_now_us();
            a->of_ever_up = false;
            if (a->of_target[0] && ofctl_connect(r->ctl, a->of_target)) {
                a->of_target[0] = 0;
            }
        }
    }
    size_t w = 0;
    for (size_t i = 0; i < r->n_agents; i++) {
        if (r->agents[i].seen) {
            r->agents[w++] = r->agents[i];
        } else {
            recon_agent_close(r, &r->agents[i]);
        }
    }
    r->n_agents = w;
}

static int
apply_txn(struct reconciler *r, struct agent *a, struct ovsdb_txn *txn,
          const char *what)
{
    if (!txn) {
        return 0;
    }
    char *err = NULL;
    int rc = recon_owner_fence(a, txn);
    if (rc) {
        ovsdb_txn_destroy(txn);
    } else {
        rc = ovsdb_vswitch_apply(a->db, txn, RECON_OVSDB_TIMEOUT_MS, &err);
    }
    a->sent++;
    pthread_mutex_lock(&r->mu);
    r->stats.ovsdb_txns++;
    pthread_mutex_unlock(&r->mu);
    if (rc) {
        recon_agent_error(a, "ovsdb %s: %s: %s", a->ovsdb_target, what,
                    err ? err : strerror(rc));
    }
    free(err);
    return rc;
}

/* Records that port 'p''s transaction failed: its VM's error, or the
 * host's for a tunnel. */
static void
port_failed(struct agent *a, const struct nm_port *p, char **vm_err, const char *why)
{
    if (p->kind != NM_PORT_VM) {
        recon_agent_error(a, "ovsdb %s: %s: %s", a->ovsdb_target, p->name, why);
    } else if (p->second) {
        VLOG_WRN(RECON_MOD, "%s: migration port %s: %s", a->name, p->name, why);
    } else if (!vm_err[p->vm]
               && asprintf(&vm_err[p->vm], "port %s: %s", p->name, why) < 0) {
        vm_err[p->vm] = NULL;
    }
}

/* ovsdb_wait_reply() on a->db that keeps the other hosts' sessions alive
 * meanwhile: a host with hundreds of ports to add takes a while. */
static int
wait_reply(struct reconciler *r, struct agent *a, uint64_t id, int timeout_ms,
           json_t **resultp, char **errp)
{
    long long deadline = ovsdb_now_ms() + timeout_ms;
    for (;;) {
        long long left = deadline - ovsdb_now_ms();
        if (left <= 0) {
            return ovsdb_wait_reply(a->db, id, 0, resultp, errp);  /* or forgets it */
        }
        int rc = ovsdb_poll_reply(a->db, id, resultp, errp);
        if (rc != EAGAIN) {
            return rc;
        }
        ovsdb_wait(a->db, (int) (left < RECON_KEEPALIVE_MS ? left : RECON_KEEPALIVE_MS));
        recon_keepalive(r);
    }
}

static int
cmp_pend(const void *a, const void *b)
{
    return strcmp(((const struct recon_pend *) a)->name,
                  ((const struct recon_pend *) b)->name);
}

static const struct recon_pend *
pend_find(const struct agent *a, const char *name)
{
    struct recon_pend key;
    if (!a->n_pend || snprintf(key.name, sizeof key.name, "%s", name) >= (int) sizeof key.name) {
        return NULL;
    }
    return bsearch(&key, a->pend, a->n_pend, sizeof key, cmp_pend);
}

uint32_t
recon_pending_ofport(const struct agent *a, const char *name)
{
    const struct recon_pend *p = pend_find(a, name);
    return p ? p->ofport : 0;
}

/* Sends every non-NULL txns[i] (each consumed; the slot is cleared), and
 * only then collects the replies, each within RECON_OVSDB_TIMEOUT_MS of the
 * one before: a server that answers is given the time its queue takes (a
 * host given hundreds of ports at once), a silent one 5 s in all.  A port
 * with a requested number (req[i], req may be NULL) is not waited for: it
 * joins a->pend for recon_ovsdb_finish(). */
static void
apply_txns(struct reconciler *r, struct agent *a, const struct nm_port *ports, size_t n,
           struct ovsdb_txn **txns, const uint32_t *req, char **vm_err)
{
    uint64_t *ids = calloc(n ? n : 1, sizeof *ids);
    size_t *n_ops = calloc(n ? n : 1, sizeof *n_ops);
    bool *sent = calloc(n ? n : 1, sizeof *sent);
    unsigned long long count = 0;
    for (size_t i = 0; i < n; i++) {
        if (!txns[i]) {
            continue;
        }
        if (!ids || !n_ops || !sent) {
            ovsdb_txn_destroy(txns[i]);
            txns[i] = NULL;
            port_failed(a, &ports[i], vm_err, "out of memory");
            continue;
        }
        int rc = recon_owner_fence(a, txns[i]);
        n_ops[i] = ovsdb_txn_n_ops(txns[i]);
        if (rc) {
            ovsdb_txn_destroy(txns[i]);
        } else {
            rc = ovsdb_transact(a->db, txns[i], &ids[i]);
        }
        txns[i] = NULL;
        if (rc) {
            port_failed(a, &ports[i], vm_err, strerror(rc));
            continue;
        }
        count++;
        struct recon_pend *pd = req && req[i] ? &a->pend[a->n_pend] : NULL;
        if (pd) {
            *pd = (struct recon_pend) {
                .ofport = req[i], .vm = ports[i].vm, .id = ids[i], .n_ops = n_ops[i],
            };
            snprintf(pd->name, sizeof pd->name, "%s", ports[i].name);
            a->n_pend++;
        } else {
            sent[i] = true;
        }
    }
    if (a->n_pend) {
        qsort(a->pend, a->n_pend, sizeof *a->pend, cmp_pend);
    }
    long long deadline = ovsdb_now_ms() + RECON_OVSDB_TIMEOUT_MS;
    for (size_t i = 0; sent && i < n; i++) {
        if (!sent[i]) {
            continue;
        }
        long long left = deadline - ovsdb_now_ms();
        json_t *result = NULL;
        char *err = NULL;
        int rc = wait_reply(r, a, ids[i], left > 0 ? (int) left : 1, &result, &err);
        if (!rc) {
            rc = ovsdb_txn_check_result(result, n_ops[i], &err);
        }
        json_decref(result);
        if (rc) {
            port_failed(a, &ports[i], vm_err, err ? err : strerror(rc));
        }
        if (rc != ETIMEDOUT) {
            deadline = ovsdb_now_ms() + RECON_OVSDB_TIMEOUT_MS;     /* it answers */
        }
        free(err);
    }
    free(ids);
    free(n_ops);
    free(sent);
    a->sent += count;
    pthread_mutex_lock(&r->mu);
    r->stats.ovsdb_txns += count;
    pthread_mutex_unlock(&r->mu);
}

static int
cmp_str_ptr(const void *a, const void *b)
{
    return strcmp(*(const char *const *) a, *(const char *const *) b);
}

/* The UUIDs of bridge 'name''s ports in 'rep', sorted (borrowed from the
 * replica: valid until it changes; the array is the caller's), NULL when
 * memory runs out.  An unknown bridge has none. */
static const char **
bridge_port_uuids(const struct ovsdb_replica *rep, const char *name, size_t *n)
{
    const json_t *brow = ovsdb_replica_find(rep, "Bridge", "name", name, NULL);
    const json_t *pset = brow ? json_object_get(brow, "ports") : NULL;
    size_t np = pset ? ovsdb_datum_n(pset) : 0;
    const char **v = malloc((np ? np : 1) * sizeof *v);
    *n = 0;
    for (size_t i = 0; v && i < np; i++) {
        const char *u = ovsdb_datum_get_uuid(ovsdb_datum_at(pset, i));
        if (u) {
            v[(*n)++] = u;
        }
    }
    if (v) {
        qsort(v, *n, sizeof *v, cmp_str_ptr);
    }
    return v;
}

static int
cmp_port_ok(const void *a, const void *b)
{
    return strcmp(((const struct recon_port_ok *) a)->name,
                  ((const struct recon_port_ok *) b)->name);
}

/* What VM port 'name' wants on bridge 'bridge' for VM 'vm_id', signed. */
static uint64_t
port_sig(const char *bridge, const char *name, const char *vm_id)
{
    return fnv64_str(fnv64_str(fnv64_str(FNV64_INIT, bridge), name), vm_id);
}

/* Whether VM port 'name' (wanting 'sig') is as the last pass found it:
 * recorded in 'a->port_ok' with that signature, its name not among the
 * replica's changes since ('changed'; NULL with 'all': everything changed),
 * and its Port row still in 'rep'.  That row lives only while a bridge
 * lists it (Port is not a root table), and a port taken off the bridge
 * or moved to another one changes its Interface (of the same name: its
 * OpenFlow number goes or moves), so the bridge's port set, thousands of
 * UUIDs on a busy host, is not read for it. */
static const struct recon_port_ok *
port_still_ok(const struct agent *a, const char *name, uint64_t sig, const json_t *changed,
              bool all, const struct ovsdb_replica *rep)
{
    struct recon_port_ok key;
    if (all || json_object_get(changed, name)
        || snprintf(key.name, sizeof key.name, "%s", name) >= (int) sizeof key.name) {
        return NULL;
    }
    const struct recon_port_ok *ok = bsearch(&key, a->port_ok, a->n_port_ok, sizeof key,
                                             cmp_port_ok);
    return ok && ok->sig == sig && ovsdb_replica_row(rep, "Port", ok->uuid) ? ok : NULL;
}

#define OFPORT_OWN_N (OFPORT_OWN_MAX - OFPORT_OWN_MIN + 1)

/* Marks in 'used' the numbers of the requested range that Interface row
 * 'row' has as its ofport or ofport_request; returns the highest marked
 * ('top' if none is higher). */
static uint32_t
mark_ofports(uint8_t *used, const json_t *row, uint32_t top)
{
    static const char *const cols[] = {"ofport", "ofport_request"};
    for (size_t c = 0; row && c < sizeof cols / sizeof *cols; c++) {
        long long v = 0;
        if (ovsdb_datum_integer(json_object_get(row, cols[c]), &v)
            && v >= OFPORT_OWN_MIN && v <= OFPORT_OWN_MAX) {
            uint32_t k = (uint32_t) v - OFPORT_OWN_MIN;
            used[k / 8] |= (uint8_t) (1u << k % 8);
            top = (uint32_t) v > top ? (uint32_t) v : top;
        }
    }
    return top;
}

/* Brings a->used_ofports up to 'rep': read whole when there is none yet
 * (or 'all': the replica's changes are not known), else the Interface
 * rows named in 'changed' added; a->next_ofport is set past the highest
 * if it is not set yet.  False when memory runs out. */
static bool
update_used_ofports(struct agent *a, const struct ovsdb_replica *rep, const json_t *changed,
                    bool all)
{
    uint32_t top = 0;
    if (!a->used_ofports || all) {
        free(a->used_ofports);
        if (!(a->used_ofports = calloc(OFPORT_OWN_N / 8 + 1, 1))) {
            return false;
        }
        const char *uuid;
        json_t *row;
        json_object_foreach((json_t *) ovsdb_replica_table(rep, "Interface"), uuid, row) {
            top = mark_ofports(a->used_ofports, row, top);
        }
    } else {
        const char *name;
        json_t *v;
        json_object_foreach((json_t *) changed, name, v) {
            top = mark_ofports(a->used_ofports,
                               ovsdb_replica_find(rep, "Interface", "name", name, NULL), top);
        }
    }
    if (!a->next_ofport) {
        a->next_ofport = top ? top + 1 : OFPORT_OWN_MIN;
    }
    return true;
}

/* A number for a port host 'a' is about to insert, from the requested
 * range: the next one up that a->used_ofports does not mark, going round
 * to the bottom after the top, marked as used; when every one is marked,
 * the replica 'rep' is read whole once more (numbers freed since).  0
 * when none is free or memory runs out (the port is then inserted without
 * a request, and waited for). */
static uint32_t
request_ofport(struct agent *a, const struct ovsdb_replica *rep)
{
    for (int round = 0; round < 2; round++) {
        if (round && !update_used_ofports(a, rep, NULL, true)) {
            return 0;
        }
        uint8_t *used = a->used_ofports;
        for (uint32_t tries = 0; used && tries < OFPORT_OWN_N; tries++) {
            if (a->next_ofport < OFPORT_OWN_MIN || a->next_ofport > OFPORT_OWN_MAX) {
                a->next_ofport = OFPORT_OWN_MIN;
            }
            uint32_t no = a->next_ofport++, k = no - OFPORT_OWN_MIN;
            if (!(used[k / 8] & 1u << k % 8)) {
                used[k / 8] |= (uint8_t) (1u << k % 8);
                return no;
            }
        }
    }
    return 0;
}

/* Ensures the bridge and its ports on host 'h'.  Fills vm_err for this
 * host's VMs whose port could not be configured; their port numbers are
 * read afterwards (iface_pass), once ovs-vswitchd has had its say. */
void
recon_ovsdb_pass(struct reconciler *r, const struct netmodel *m, int h, struct agent *a,
           char **vm_err)
{
    const struct nm_host *ho = &m->hosts[h];
    if (!a->db || !ovsdb_is_synced(a->db)) {
        const char *why = a->db ? ovsdb_last_error(a->db) : "";
        if (a->db && !a->db_ever_up && !ovsdb_refused(a->db)
            && recon_now_us() - a->db_since < RECON_CONNECT_GRACE_US) {
            a->note = "connecting to its OVSDB server";
        } else {
            recon_agent_error(a, "ovsdb %s: not connected%s%s", ho->ovsdb, why[0] ? ": " : "",
                        why);
        }
        return;
    }
    a->db_ever_up = true;
    bool all;
    json_t *changed = ovsdb_take_changes(a->db, &all);
    const struct ovsdb_replica *rep = ovsdb_get_replica(a->db);
    char dpid[17];
    snprintf(dpid, sizeof dpid, "%016" PRIx64, ho->dpid);
    json_t *oc = json_pack("{s:s, s:s}", "datapath-id", dpid, "disable-in-band", "true");
    struct ovsdb_vswitch_bridge br = {
        .name = ho->bridge, .datapath_type = ho->datapath, .fail_mode = "secure",
        .protocols = "OpenFlow13",
        .controller = ho->controller[0] ? ho->controller : NULL,
        .other_config = oc,
    };
    struct ovsdb_txn *txn = NULL;
    int rc = ovsdb_vswitch_ensure_bridge(rep, &br, &txn);
    json_decref(oc);
    if (rc) {
        json_decref(changed);
        forget_ok(a);
        recon_agent_error(a, "ovsdb %s: bridge %s: %s", ho->ovsdb, ho->bridge, strerror(rc));
        return;
    }
    all |= txn != NULL;             /* a bridge made or remade */
    if (apply_txn(r, a, txn, "creating the bridge")) {
        json_decref(changed);
        forget_ok(a);
        return;
    }
    rep = ovsdb_get_replica(a->db);
    bool used_ok = update_used_ofports(a, rep, changed, all);

    const struct nm_port *ports = a->ports;
    size_t n = a->n_ports;
    /* Every port's transaction is computed from this one replica, then all
     * are sent before any reply is awaited: one round trip for the host,
     * not one per port.  They are independent (each inserts its own Port
     * and Interface and adds it to the bridge), so their order does not
     * matter, and a failed one is recomputed by the next pass. */
    struct ovsdb_txn **txns = calloc(n ? n : 1, sizeof *txns);
    uint32_t *req = calloc(n ? n : 1, sizeof *req);
    /* The bridge's port UUIDs, sorted, once more than a few existing
     * ports are to be checked (ovsdb_vswitch_ensure_port() searches the
     * bridge's set for each otherwise). */
    size_t n_bp = 0, n_ok = 0, n_checked = 0;
    const char **bp = NULL;
    struct recon_port_ok *ok = malloc((n ? n : 1) * sizeof *ok);
    free(a->pend);                  /* recon_ovsdb_finish() emptied it */
    a->pend = malloc((n ? n : 1) * sizeof *a->pend);
    a->n_pend = 0;
    if (!txns || !req || !ok || !a->pend) {
        free(txns);
        free(req);
        free(bp);
        free(ok);
        json_decref(changed);
        forget_ok(a);
        recon_agent_error(a, "out of memory");
        return;
    }
    for (size_t i = 0; i < n; i++) {
        const struct nm_port *p = &ports[i];
        txn = NULL;
        if (p->kind == NM_PORT_VM && p->internal) {
            continue;               /* bound by its hypervisor, see above */
        }
        if (p->kind == NM_PORT_VM) {
            uint64_t sig = port_sig(ho->bridge, p->name, m->vms[p->vm].o.id);
            const struct recon_port_ok *was = port_still_ok(a, p->name, sig, changed, all,
                                                            rep);
            if (was) {
                ok[n_ok++] = *was;
                continue;
            }
            if (!bp && ++n_checked > 8) {
                bp = bridge_port_uuids(rep, ho->bridge, &n_bp);     /* NULL: searched */
            }
            json_t *eid = json_pack("{s:s, s:s}", "skyvisor", "vm",
                                    "skyvisor-vm-id", m->vms[p->vm].o.id);
            struct ovsdb_vswitch_port spec = {
                .bridge = ho->bridge, .name = p->name,
                .type = p->internal ? "internal" : NULL, .external_ids = eid,
                .bridge_ports = bp, .n_bridge_ports = n_bp,
            };
            const struct nm_vm *vm = &m->vms[p->vm];
            if (!p->second && vm->o.state != NM_REALIZED && vm->mig == NM_MIG_NONE
                && strlen(p->name) < sizeof a->pend->name
                && !ovsdb_replica_find(rep, "Port", "name", p->name, NULL)
                && !ovsdb_replica_find(rep, "Interface", "name", p->name, NULL)) {
                req[i] = used_ok ? request_ofport(a, rep) : 0;
                spec.ofport_request = req[i];
            }
            rc = ovsdb_vswitch_ensure_port(rep, &spec, &txn);
            json_decref(eid);
            if (rc || !txn) {
                req[i] = 0;
            }
            const char *pu = NULL;
            if (!rc && !txn && ovsdb_replica_find(rep, "Port", "name", p->name, &pu)
                && strlen(pu) < sizeof ok->uuid) {
                struct recon_port_ok *o = &ok[n_ok++];
                snprintf(o->name, sizeof o->name, "%s", p->name);
                snprintf(o->uuid, sizeof o->uuid, "%s", pu);
                o->sig = sig;
            }
        } else {
            char rip[16], lip[16];
            snprintf(rip, sizeof rip, "%u.%u.%u.%u", p->remote_ip >> 24,
                     p->remote_ip >> 16 & 255, p->remote_ip >> 8 & 255, p->remote_ip & 255);
            snprintf(lip, sizeof lip, "%u.%u.%u.%u", p->local_ip >> 24,
                     p->local_ip >> 16 & 255, p->local_ip >> 8 & 255, p->local_ip & 255);
            json_t *eid = json_pack("{s:s, s:s}", "skyvisor", "tunnel",
                                    "skyvisor-peer", m->hosts[p->peer].o.name);
            json_t *bfd = recon_bfd_config(r, m, h, p);
            struct ovsdb_vswitch_tunnel spec = {
                .bridge = ho->bridge, .name = p->name, .type = "vxlan",
                .remote_ip = rip, .local_ip = lip, .external_ids = eid, .bfd = bfd,
            };
            rc = ovsdb_vswitch_ensure_tunnel(rep, &spec, &txn);
            json_decref(eid);
            json_decref(bfd);
        }
        if (rc) {
            if (p->kind == NM_PORT_VM) {
                if (!p->second && !vm_err[p->vm] && asprintf(&vm_err[p->vm], "port %s: %s", p->name,
                                               rc == EEXIST ? "already on another bridge"
                                                            : strerror(rc)) < 0) {
                    vm_err[p->vm] = NULL;
                }
            } else {
                recon_agent_error(a, "tunnel %s: %s", p->name, strerror(rc));
            }
            continue;
        }
        txns[i] = txn;
    }
    free(bp);                       /* points into the replica: before it moves */
    json_decref(changed);
    qsort(ok, n_ok, sizeof *ok, cmp_port_ok);
    free(a->port_ok);
    a->port_ok = ok;
    a->n_port_ok = n_ok;
    size_t n_req = 0;
    for (size_t i = 0; i < n; i++) {
        n_req += req[i] != 0;
    }
    /* A large batch is waited for here, before its flows are planned: the
     * rows of its new ports are then read before the plans are built, not
     * scattered through the memory the plans free (at 1 000 VMs declared at
     * once, 20 MiB more resident), and it has more to plan than to wait. */
    apply_txns(r, a, ports, n, txns, n_req <= PEND_MAX ? req : NULL, vm_err);
    free(txns);
    free(req);
    rep = ovsdb_get_replica(a->db);

    /* Ports we own that are no longer desired. */
    const char *br_uuid;
    const json_t *brow = ovsdb_replica_find(rep, "Bridge", "name", ho->bridge, &br_uuid);
    const json_t *pset = brow ? json_object_get(brow, "ports") : NULL;
    size_t np = pset ? ovsdb_datum_n(pset) : 0;
    char **stale = calloc(np ? np : 1, sizeof *stale);
    size_t n_stale = 0, n_wanted = 0;
    const char **wanted_names = malloc((n ? n : 1) * sizeof *wanted_names);
    for (size_t j = 0; wanted_names && j < n; j++) {
        if (!ports[j].internal) {
            wanted_names[n_wanted++] = ports[j].name;
        }
    }
    if (wanted_names) {
        qsort(wanted_names, n_wanted, sizeof *wanted_names, cmp_str_ptr);
    }
    for (size_t i = 0; stale && wanted_names && i < np; i++) {
        const char *pu = ovsdb_datum_get_uuid(ovsdb_datum_at(pset, i));
        const json_t *prow = pu ? ovsdb_replica_row(rep, "Port", pu) : NULL;
        const char *pname = prow ? json_string_value(json_object_get(prow, "name")) : NULL;
        if (!pname || !ovsdb_datum_map_get(json_object_get(prow, "external_ids"),
                                           "skyvisor")) {
            continue;
        }
        if (!bsearch(&pname, wanted_names, n_wanted, sizeof *wanted_names, cmp_str_ptr)) {
            stale[n_stale++] = strdup(pname);
        }
    }
    free(wanted_names);
    for (size_t i = 0; i < n_stale; i++) {
        txn = NULL;
        if (stale[i] && !ovsdb_vswitch_remove_port(ovsdb_get_replica(a->db), stale[i], &txn)) {
            apply_txn(r, a, txn, stale[i]);
        }
        free(stale[i]);
    }
    free(stale);
}

/* Whether every port host 'h' wants has its OpenFlow number (or an error)
 * in the replica: what ovs-vswitchd writes shortly after a port is added. */
static bool
ports_numbered(const struct agent *a)
{
    const struct ovsdb_replica *rep = ovsdb_get_replica(a->db);
    bool all = true;
    for (size_t i = 0; i < a->n_ports && all; i++) {
        long long ofport = 0;
        const char *ierr = NULL;
        if ((a->ports[i].internal && !recon_vm_iface(rep, a->ports[i].name, NULL))
            || pend_find(a, a->ports[i].name)) {
            continue;               /* not plugged yet: nothing to wait for;
                                     * or numbered by us, checked after */
        }
        all = !iface_status(rep, a->ports[i].name, &ofport, &ierr)
              && (ofport != 0 || ierr);
    }
    return all;
}

/* Runs host 'a''s OVSDB session (the others kept alive) until done(a) or
 * the session is not synced; false if the deadline (ms) came first. */
static bool
run_until(struct reconciler *r, struct agent *a, long long deadline,
          bool (*done)(const struct agent *))
{
    while (ovsdb_is_synced(a->db) && !done(a)) {
        long long left = deadline - ovsdb_now_ms();
        if (left <= 0) {
            return false;
        }
        ovsdb_wait(a->db, (int) (left < 50 ? left : 50));
        recon_keepalive(r);
    }
    return true;
}

/* Runs the OVSDB sessions of the hosts this pass changed until every
 * port they want is numbered, for at most SETTLE_MS: ovs-vswitchd numbers
 * a new port within milliseconds, and a host that does not answer only
 * leaves its own VMs pending for the next pass. */
void
recon_settle_ports(struct reconciler *r, const struct netmodel *m)
{
    long long deadline = ovsdb_now_ms() + SETTLE_MS;
    for (size_t h = 0; h < m->n_hosts; h++) {
        struct agent *a = recon_agent_for(r, &m->hosts[h]);
        if (!a || a->sent <= a->n_pend || a->err || a->note || !a->db) {
            continue;               /* nothing sent, or only inserts with
                                     * their numbers (recon_ovsdb_finish()) */
        }
        if (!run_until(r, a, deadline, ports_numbered)) {
            return;
        }
    }
}

/* Whether every port in a->pend that has not failed has a number or an
 * error in the replica. */
static bool
pend_numbered(const struct agent *a)
{
    const struct ovsdb_replica *rep = ovsdb_get_replica(a->db);
    for (size_t i = 0; i < a->n_pend; i++) {
        long long ofport = 0;
        const char *ierr = NULL;
        if (a->pend[i].ofport
            && (iface_status(rep, a->pend[i].name, &ofport, &ierr) || (!ofport && !ierr))) {
            return false;
        }
    }
    return true;
}

void
recon_ovsdb_finish(struct reconciler *r, const struct netmodel *m, char **vm_err,
                   uint32_t *vm_port)
{
    long long deadline = ovsdb_now_ms() + SETTLE_MS;
    for (size_t h = 0; h < m->n_hosts; h++) {
        struct agent *a = recon_agent_for(r, &m->hosts[h]);
        if (!a || !a->n_pend) {
            continue;
        }
        for (size_t i = 0; i < a->n_pend; i++) {
            struct recon_pend *pd = &a->pend[i];
            json_t *result = NULL;
            char *err = NULL;
            int rc = a->db ? wait_reply(r, a, pd->id, RECON_OVSDB_TIMEOUT_MS, &result, &err)
                           : ECONNRESET;
            if (!rc) {
                rc = ovsdb_txn_check_result(result, pd->n_ops, &err);
            }
            json_decref(result);
            if (rc) {
                pd->ofport = 0;
                if (!vm_err[pd->vm] && asprintf(&vm_err[pd->vm], "port %s: %s", pd->name,
                                                err ? err : strerror(rc)) < 0) {
                    vm_err[pd->vm] = NULL;
                }
            }
            free(err);
        }
        if (a->db) {
            run_until(r, a, deadline, pend_numbered);
        }
        const struct ovsdb_replica *rep = a->db ? ovsdb_get_replica(a->db) : NULL;
        bool moved = false;
        for (size_t i = 0; rep && i < a->n_pend; i++) {
            const struct recon_pend *pd = &a->pend[i];
            long long ofport = 0;
            const char *ierr = NULL;
            if (!pd->ofport || iface_status(rep, pd->name, &ofport, &ierr)) {
                vm_port[pd->vm] = 0;
                moved |= pd->ofport != 0;
            } else if (ierr || ofport < 0) {
                vm_port[pd->vm] = 0;
                if (!vm_err[pd->vm] && asprintf(&vm_err[pd->vm], "interface %s: %s",
                                                pd->name, ierr ? ierr : "no OpenFlow port") < 0) {
                    vm_err[pd->vm] = NULL;
                }
            } else if ((uint32_t) ofport != pd->ofport) {
                /* Numbered otherwise (0: not yet): its flows name the
                 * number asked for, so the VM stays pending and the
                 * next pass plans the host with the number it has. */
                vm_port[pd->vm] = 0;
                moved = true;
                if (ofport) {
                    VLOG_WRN(RECON_MOD, "%s: port %s asked for OpenFlow port %u, got %lld",
                             a->name, pd->name, pd->ofport, ofport);
                }
            } else {
                vm_port[pd->vm] = pd->ofport;
            }
        }
        if (moved) {
            a->replan = true;
            free(a->known);
            a->known = NULL;
        } else if (rep && a->realized) {
            a->seqno = rep->seqno;  /* its own inserts: no pass for them */
        }
        a->n_pend = 0;
    }
}

void
recon_keepalive(struct reconciler *r)
{
    long long now = ovsdb_now_ms();
    if (now - r->keepalive_ms < RECON_KEEPALIVE_MS) {
        return;
    }
    r->keepalive_ms = now;
    for (size_t i = 0; i < r->n_agents; i++) {
        if (r->agents[i].db) {
            ovsdb_keepalive(r->agents[i].db);
        }
    }
}

uint32_t
recon_ofport(const struct ovsdb_replica *rep, const char *name)
{
    long long ofport = 0;
    const char *err = NULL;
    if (iface_status(rep, name, &ofport, &err) || ofport <= 0) {
        return 0;
    }
    return (uint32_t) ofport;
}

/* Reads host 'h''s interface states: fills vm_err/vm_port for its VMs,
 * and the host's error for a failed tunnel. */
void
recon_iface_pass(struct agent *a, char **vm_err, uint32_t *vm_port)
{
    const struct ovsdb_replica *rep = ovsdb_get_replica(a->db);
    for (size_t i = 0; i < a->n_ports; i++) {
        const struct nm_port *p = &a->ports[i];
        long long ofport = 0;
        const char *ierr = NULL;
        if (iface_status(rep, p->name, &ofport, &ierr)) {
            continue;
        }
        if (p->kind == NM_PORT_VM && p->second) {
            continue;               /* the VM's status is its host's port */
        }
        if (p->kind == NM_PORT_VM) {
            if ((ierr || ofport < 0) && !vm_err[p->vm]
                && asprintf(&vm_err[p->vm], "interface %s: %s", p->name,
                            ierr ? ierr : "no OpenFlow port") < 0) {
                vm_err[p->vm] = NULL;
            }
            vm_port[p->vm] = ofport > 0 ? (uint32_t) ofport : 0;
        } else if (ierr) {
            recon_agent_error(a, "tunnel %s: %s", p->name, ierr);
        }
    }
}

bool
recon_agent_ports(struct agent *a, const struct netmodel *m, int h)
{
    free(a->ports);
    a->ports = NULL;
    a->n_ports = 0;
    a->ports_sig = 0;
    a->ports_gen = 0;
    if (netmodel_ports(m, h, &a->ports, &a->n_ports)) {
        a->ports = NULL;
        a->n_ports = 0;
        recon_agent_error(a, "out of memory");
        return false;
    }
    uint64_t sig = fnv64_u64(FNV64_INIT, a->n_ports);
    for (size_t i = 0; i < a->n_ports; i++) {
        sig = fnv64_str(sig, a->ports[i].name);
        sig = fnv64_u64(sig, (uint64_t) (a->ports[i].kind << 1 | a->ports[i].second));
    }
    a->ports_sig = sig ? sig : 1;
    return true;
}

