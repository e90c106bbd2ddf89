/* recon_db.c: the reconciler's store on PostgreSQL (see recon_db.h). */
#include "db/recon_db.h"

#include <errno.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "core/vlog.h"
#include "db/changelog.h"
#include "db/db.h"
#include "db/state.h"

struct recon_db {
    struct db_conn *conn;
    bool listening;
    struct reconciler *recon;
    /* The same reconciler, for the reconciler thread (set once started). */
    _Atomic(struct reconciler *) kick;
    atomic_bool absorbed;           /* absorbed before 'kick' was set */
    char *watermark;                /* the change log read up to here
                                     * (db/changelog.h), NULL: never */
};

/* libpq reads a NOTIFY that arrives while a query runs into its own queue,
 * and the socket does not become readable for it again: without this the
 * change it announces waited for the next periodic resync.  Called after
 * every query on the listening connection; asks for a pass with a fresh
 * load when anything was absorbed. */
static void
absorb_notifies(struct recon_db *s)
{
    bool any = db_conn_notifies(s->conn, false) > 0;
    if (any) {
        struct reconciler *r = atomic_load(&s->kick);
        if (r) {
            reconciler_kick(r);
        } else {
            atomic_store(&s->absorbed, true);
        }
    }
}

/* Makes sure the connection is up and LISTENing; false if the database
 * is unreachable. */
static bool
ready(struct recon_db *s)
{
    if (!db_conn_ensure(s->conn)) {
        s->listening = false;
        return false;
    }
    if (!s->listening) {
        s->listening = state_listen(s->conn);
    }
    return s->listening;
}

/* Reads the change log from the watermark into 'b', with the VMs it names
 * resolved in 'cur' unless that is NULL; false if the database is
 * unreachable or failed (the watermark is kept). */
static bool
read_log(struct recon_db *s, const struct netmodel *cur, struct changelog_batch *b)
{
    if (!ready(s)) {
        return false;
    }
    if ((cur ? changelog_read_vms(s->conn, s->watermark, cur, b)
             : changelog_read(s->conn, s->watermark, b)) != DB_QS_ONE) {
        s->listening = false;
        return false;
    }
    absorb_notifies(s);
    return true;
}

static void
advance(struct recon_db *s, struct changelog_batch *b)
{
    free(s->watermark);
    s->watermark = b->watermark;
    b->watermark = NULL;
}

static int
store_load(void *aux, struct netmodel *m)
{
    struct recon_db *s = aux;
    /* The watermark first: what commits after it is read by the next
     * changes(), and the load below sees at least what it saw. */
    struct changelog_batch b;
    if (!read_log(s, NULL, &b)) {
        return EAGAIN;
    }
    char *prev = s->watermark;
    s->watermark = NULL;
    advance(s, &b);
    changelog_batch_uninit(&b);
    if (state_load(s->conn, m) < 0) {
        free(s->watermark);
        s->watermark = prev;        /* read these changes again */
        s->listening = false;
        return EAGAIN;
    }
    free(prev);
    absorb_notifies(s);
    return 0;
}

static int
cmp_id(const void *a, const void *b)
{
    return strcmp(a, b);
}

/* Appends 'id' to v[0..*n), duplicates and all (ids_dedupe() sorts them
 * out once the batch is read: a batch of k changes costs O(k log k), not
 * a scan per entry).  The array grows by doubling, its capacity implied
 * by *n (8, then each power of two; ids_dedupe() only lowers *n, which
 * keeps it enough).  False when memory runs out. */
static bool
id_add(char (**v)[40], size_t *n, const char *id)
{
    if (*n == 0 || (*n >= 8 && !(*n & (*n - 1)))) {
        char (*g)[40] = realloc(*v, (*n ? 2 * *n : 8) * sizeof *g);
        if (!g) {
            return false;
        }
        *v = g;
    }
    snprintf((*v)[(*n)++], sizeof **v, "%s", id);
    return true;
}

/* Sorts v[0..*n) and drops its duplicates. */
static void
ids_dedupe(char (*v)[40], size_t *n)
{
    if (*n < 2) {
        return;
    }
    qsort(v, *n, sizeof *v, cmp_id);
    size_t w = 1;
    for (size_t i = 1; i < *n; i++) {
        if (strcmp(v[i], v[w - 1])) {
            memmove(v[w++], v[i], sizeof *v);
        }
    }
    *n = w;
}

/* Sorts the change log's entries: VMs by id into vm_ids (their networks
 * into vm_nets), the networks of switches, links and networks into
 * out->networks; anything outside networks (clouds, cloud links, hosts,
 * tenants, or a kind this code does not know) is a reload.  Snapshots and
 * migrations realize nothing by themselves (a migration moves its VM by
 * updating the VM).  False when memory runs out. */
static bool
classify(const struct changelog_batch *b, struct recon_changes *out,
         char (**vm_ids)[40], size_t *n_vm_ids, char (**vm_nets)[40], size_t *n_vm_nets)
{
    bool ok = true;
    for (size_t i = 0; ok && i < b->n && !out->reload; i++) {
        const struct changelog_entry *e = &b->entries[i];
        if (!strcmp(e->kind, "vm")) {
            ok = id_add(vm_ids, n_vm_ids, e->object_id)
                 && (!e->network_id[0] || id_add(vm_nets, n_vm_nets, e->network_id));
        } else if (!strcmp(e->kind, "vswitch") || !strcmp(e->kind, "vlink")
                   || !strcmp(e->kind, "network")) {
            ok = id_add(&out->networks, &out->n_networks, e->network_id);
            out->reload |= !e->network_id[0];
        } else if (strcmp(e->kind, "vm_snapshot") && strcmp(e->kind, "vm_migration")) {
            out->reload = true;
        }
    }
    ids_dedupe(*vm_ids, n_vm_ids);
    ids_dedupe(*vm_nets, n_vm_nets);
    ids_dedupe(out->networks, &out->n_networks);
    return ok;
}

/* Takes the VMs named in ids[0..n) (sorted) from the batch's rows into
 * out->vms and lists those that are gone.  0 or ENOMEM; out->reload when
 * a VM names what the model lacks. */
static int
take_vms(struct changelog_batch *b, char (*ids)[40], size_t n, struct recon_changes *out)
{
    if (b->vms_unresolved) {
        out->reload = true;
        return 0;
    }
    out->vms = b->vms;
    out->n_vms = b->n_vms;
    b->vms = NULL;
    b->n_vms = 0;
    /* Both lists are ordered by id: the ids not read are gone. */
    for (size_t i = 0, k = 0; i < n; i++) {
        while (k < out->n_vms && strcmp(out->vms[k].o.id, ids[i]) < 0) {
            k++;
        }
        if ((k == out->n_vms || strcmp(out->vms[k].o.id, ids[i]))
            && !id_add(&out->vms_gone, &out->n_vms_gone, ids[i])) {
            return ENOMEM;
        }
    }
    return 0;
}

/* What changed since the last read (struct recon_store.changes): the
 * change log from the watermark; when it names only VMs, those VMs as the
 * same statement read them; when it names switches, links or networks,
 * the networks touched (the VMs' included) for a reload.  The watermark
 * advances only once everything was read. */
static int
store_changes(void *aux, const struct netmodel *cur, struct recon_changes *out)
{
    struct recon_db *s = aux;
    struct changelog_batch b;
    if (!read_log(s, cur, &b)) {
        return EAGAIN;
    }
    char (*ids)[40] = NULL, (*nets)[40] = NULL;
    size_t n_ids = 0, n_nets = 0;
    int rc = 0;
    out->reload = b.reload;
    if (!classify(&b, out, &ids, &n_ids, &nets, &n_nets)) {
        rc = ENOMEM;
    } else if (out->reload) {
        /* nothing more to read */
    } else if (out->n_networks) {
        for (size_t i = 0; !rc && i < n_nets; i++) {
            rc = id_add(&out->networks, &out->n_networks, nets[i]) ? 0 : ENOMEM;
        }
        ids_dedupe(out->networks, &out->n_networks);
    } else if (n_ids) {
        rc = take_vms(&b, ids, n_ids, out);         /* sorted, each once */
    }
    free(ids);
    free(nets);
    if (rc) {
        recon_changes_uninit(out);
    } else {
        advance(s, &b);
    }
    changelog_batch_uninit(&b);
    return rc;
}

static int
store_write(void *aux, const struct nm_status *st, size_t n)
{
    struct recon_db *s = aux;
    int rc = 0;
    if (state_write_status(s->conn, st, n) < 0) {
        vlog(VLOG_WARN, "reconciler", "writing statuses: %s", db_conn_error(s->conn)->message);
        rc = EAGAIN;
    }
    absorb_notifies(s);
    return rc;
}

static int
store_fd(void *aux)
{
    struct recon_db *s = aux;
    return s->listening ? db_conn_socket(s->conn) : -1;
}

static bool
store_drain(void *aux)
{
    struct recon_db *s = aux;
    return db_conn_notifies(s->conn, true) > 0;
}

struct recon_db *
recon_db_start(const char *conninfo, const struct recon_options *opt)
{
    struct recon_db *s = calloc(1, sizeof *s);
    if (!s) {
        return NULL;
    }
    s->conn = db_conn_create(conninfo);
    if (!s->conn) {
        free(s);
        return NULL;
    }
    ready(s);
    static const struct recon_store store = {
        .load = store_load, .changes = store_changes, .write_status = store_write,
        .fd = store_fd, .drain = store_drain,
    };
    s->recon = reconciler_create(&store, s, opt);
    if (!s->recon) {
        db_conn_destroy(s->conn);
        free(s);
        return NULL;
    }
    atomic_store(&s->kick, s->recon);
    if (atomic_exchange(&s->absorbed, false)) {
        reconciler_kick(s->recon);
    }
    return s;
}

void
recon_db_stop(struct recon_db *s)
{
    if (s) {
        reconciler_destroy(s->recon);
        db_conn_destroy(s->conn);
        free(s->watermark);
        free(s);
    }
}

struct reconciler *
recon_db_reconciler(struct recon_db *s)
{
    return s ? s->recon : NULL;
}
