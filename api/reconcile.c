/* reconcile.c: the reconciler's store on PostgreSQL (see reconcile.h). */
#include "api/reconcile.h"

#include <errno.h>
#include <stdatomic.h>
#include <stdlib.h>

#include "core/vlog.h"
#include "db/db.h"
#include "db/state.h"

struct sky_reconcile {
    struct db_conn *conn;
    bool listening;
    struct reconciler *recon;
    /* The same reconciler, for the reconciler thread (set once started). */
    _Atomic(struct reconciler *) kick;
    atomic_bool absorbed;           /* absorbed before 'kick' was set */
};

/* libpq reads a NOTIFY that arrives while a query runs into its own queue,
 * and the socket does not become readable for it again: without this the
 * change it announces waited for the next periodic resync.  Called after
 * every query on the listening connection; asks for a pass with a fresh
 * load when anything was absorbed. */
static void
absorb_notifies(struct sky_reconcile *s)
{
    bool any = false;
    PGnotify *n;
    while (s->conn->pg && (n = PQnotifies(s->conn->pg))) {
        any = true;
        PQfreemem(n);
    }
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
ready(struct sky_reconcile *s)
{
    if (!db_conn_ensure(s->conn)) {
        s->listening = false;
        return false;
    }
    if (PQstatus(s->conn->pg) != CONNECTION_OK) {
        s->listening = false;
        return false;
    }
    if (!s->listening) {
        s->listening = state_listen(s->conn);
    }
    return s->listening;
}

static int
store_load(void *aux, struct netmodel *m)
{
    struct sky_reconcile *s = aux;
    if (!ready(s)) {
        return EAGAIN;
    }
    if (state_load(s->conn, m) < 0) {
        s->listening = false;
        return EAGAIN;
    }
    absorb_notifies(s);
    return 0;
}

static int
store_write(void *aux, const struct nm_status *st, size_t n)
{
    struct sky_reconcile *s = aux;
    int rc = 0;
    if (state_write_status(s->conn, st, n) < 0) {
        vlog(VLOG_WARN, "reconciler", "writing statuses: %s", s->conn->err.message);
        rc = EAGAIN;
    }
    absorb_notifies(s);
    return rc;
}

static int
store_fd(void *aux)
{
    struct sky_reconcile *s = aux;
    return s->listening && s->conn->pg ? PQsocket(s->conn->pg) : -1;
}

static bool
store_drain(void *aux)
{
    struct sky_reconcile *s = aux;
    return state_drain(s->conn);
}

struct sky_reconcile *
sky_reconcile_start(const char *conninfo, const struct recon_options *opt)
{
    struct sky_reconcile *s = calloc(1, sizeof *s);
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
        .load = store_load, .write_status = store_write,
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
sky_reconcile_stop(struct sky_reconcile *s)
{
    if (s) {
        reconciler_destroy(s->recon);
        db_conn_destroy(s->conn);
        free(s);
    }
}

struct reconciler *
sky_reconcile_get(struct sky_reconcile *s)
{
    return s ? s->recon : NULL;
}
