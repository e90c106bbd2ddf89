/* readsnap.c: the read snapshot of readsnap.h.
 *
 * States of the refresher thread:
 *
 *   DOWN --connect+LISTEN ok (changes++)--> UP
 *   UP --changes != snap->changes--> read, publish --> UP
 *   UP --a query or the socket fails (changes++)--> DOWN (retried every
 *        RETRY_MS; the snapshot answers nothing meanwhile)
 *   UP --nothing to do--> wait for the socket, the eventfd or WAIT_MS
 *
 * Invariant: a published snapshot's 'changes' was read before its database
 * snapshot was taken, so every write acknowledged and every notification
 * received before that read is in it. */
#include "api/readsnap.h"

#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>
#include <urcu/urcu-bp.h>

#include "api/crud.h"
#include "core/validate.h"
#include "core/vlog.h"
#include "core/xidsnap.h"
#include "db/readsnap.h"
#include "db/store.h"

#define RETRY_MS 200
#define WAIT_MS 1000

/* One kind's rows, in list order, and its first page built once. */
struct snap_kind {
    struct store_items rows;        /* in list order, keyed by name */
    char (*etags)[40];              /* owned: the rows' ETags */
    char *page;                     /* owned: the first page, limit 100 */
    size_t page_len;
    char page_etag[40];
};

struct snap {
    unsigned long long changes;     /* readsnap.changes when read */
    struct xidsnap vis;
    struct snap_kind kinds[READSNAP__N];
};

struct readsnap {
    char *conninfo;
    struct db_conn *conn;           /* the thread's */
    pthread_t thread;
    int wake_fd;
    atomic_bool stop;
    atomic_ullong changes;
    struct snap *snap;              /* RCU */
    atomic_ullong served, stale, behind, other, refreshes;
};

static void
snap_free(struct snap *s)
{
    if (s) {
        for (size_t k = 0; k < READSNAP__N; k++) {
            store_items_uninit(&s->kinds[k].rows);
            free(s->kinds[k].etags);
            free(s->kinds[k].page);
        }
        xidsnap_uninit(&s->vis);
        free(s);
    }
}

/* Builds kind k's ETags and first page (the page crud_reply_items would
 * build for limit 100 and no cursor); false when memory runs out. */
static bool
snap_kind_finish(struct snap_kind *sk)
{
    size_t n = sk->rows.n;
    sk->etags = calloc(n + 1, sizeof *sk->etags);
    if (!sk->etags) {
        return false;
    }
    for (size_t i = 0; i < n; i++) {
        const struct store_item *row = &sk->rows.v[i];
        struct store_row as_stored = {.json = row->json, .revision = row->revision};
        memcpy(as_stored.id, row->id, sizeof as_stored.id);
        crud_etag(sk->etags[i], &as_stored);
    }
    size_t shown = n > CRUD_LIMIT_DEFAULT ? CRUD_LIMIT_DEFAULT : n;
    sk->page = crud_page_text(sk->rows.v, shown, n > shown,
                              shown ? sk->rows.v[shown - 1].key : "", &sk->page_len);
    if (!sk->page) {
        return false;
    }
    crud_etag_body(sk->page_etag, sk->page, sk->page_len);
    return true;
}

static void
wake(struct readsnap *rs)
{
    uint64_t one = 1;
    if (write(rs->wake_fd, &one, sizeof one) < 0) {
        /* the counter is full: the thread is awake anyway */
    }
}

void
readsnap_note_write(struct readsnap *rs)
{
    if (rs) {
        atomic_fetch_add(&rs->changes, 1);
        wake(rs);
    }
}

/* Counts a change when the connection held notifications (one that
 * arrives during a query is queued, not signalled: db_conn_notifies). */
static void
absorb(struct readsnap *rs)
{
    if (db_conn_notifies(rs->conn, false) > 0) {
        atomic_fetch_add(&rs->changes, 1);
    }
}

/* Reads and publishes a new snapshot; false when the database failed. */
static bool
refresh(struct readsnap *rs)
{
    struct snap *s = calloc(1, sizeof *s);
    if (!s) {
        return true;                /* try again at the next wake-up */
    }
    s->changes = atomic_load(&rs->changes);
    char *text = NULL;
    struct store_items rows[READSNAP__N] = {{0}};
    if (readsnap_load(rs->conn, &text, rows) < 0) {
        free(s);
        return false;
    }
    bool ok = !xidsnap_parse(text, &s->vis);
    for (size_t k = 0; k < READSNAP__N; k++) {
        s->kinds[k].rows = rows[k];
        ok = ok && snap_kind_finish(&s->kinds[k]);
    }
    free(text);
    absorb(rs);
    if (!ok) {
        snap_free(s);
        return true;
    }
    struct snap *old = rcu_xchg_pointer(&rs->snap, s);
    atomic_fetch_add(&rs->refreshes, 1);
    if (old) {
        urcu_bp_synchronize_rcu();
        snap_free(old);
    }
    return true;
}

static void *
refresher(void *arg)
{
    struct readsnap *rs = arg;
    bool up = false;
    while (!atomic_load(&rs->stop)) {
        if (!up) {
            if (!rs->conn) {
                rs->conn = db_conn_create(rs->conninfo);
            }
            up = rs->conn && db_conn_ensure(rs->conn)
                 && readsnap_listen(rs->conn) >= 0;
            if (!up) {
                poll(&(struct pollfd){.fd = rs->wake_fd, .events = POLLIN}, 1,
                     RETRY_MS);
                continue;
            }
            atomic_fetch_add(&rs->changes, 1);  /* anything may have been missed */
        }
        struct snap *cur = rcu_dereference(rs->snap);   /* this thread writes it */
        if (!cur || cur->changes != atomic_load(&rs->changes)) {
            if (!refresh(rs)) {
                vlog(VLOG_WARN, "readsnap", "cannot read the snapshot: %s",
                     db_conn_error(rs->conn)->message);
                atomic_fetch_add(&rs->changes, 1);
                up = false;
            }
            continue;
        }
        struct pollfd fds[2] = {
            {.fd = rs->wake_fd, .events = POLLIN},
            {.fd = db_conn_socket(rs->conn), .events = POLLIN},
        };
        if (poll(fds, 2, WAIT_MS) < 0) {
            continue;
        }
        if (fds[0].revents) {
            uint64_t v;
            if (read(rs->wake_fd, &v, sizeof v) < 0) {
                /* nothing was pending */
            }
        }
        if (fds[1].revents) {
            int n = db_conn_notifies(rs->conn, true);
            if (n < 0) {
                /* Notifications may be lost from here on: the snapshot
                 * answers nothing until one read after the reconnection. */
                atomic_fetch_add(&rs->changes, 1);
                up = false;
                continue;
            }
            if (n > 0) {
                atomic_fetch_add(&rs->changes, 1);
            }
        }
    }
    return NULL;
}

struct readsnap *
readsnap_start(const char *conninfo)
{
    struct readsnap *rs = calloc(1, sizeof *rs);
    if (!rs || !(rs->conninfo = strdup(conninfo))) {
        free(rs);
        return NULL;
    }
    rs->wake_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (rs->wake_fd < 0 || pthread_create(&rs->thread, NULL, refresher, rs)) {
        if (rs->wake_fd >= 0) {
            close(rs->wake_fd);
        }
        free(rs->conninfo);
        free(rs);
        return NULL;
    }
    pthread_setname_np(rs->thread, "readsnap");  /* its name in top -H and perf */
    return rs;
}

void
readsnap_stop(struct readsnap *rs)
{
    if (!rs) {
        return;
    }
    atomic_store(&rs->stop, true);
    wake(rs);
    pthread_join(rs->thread, NULL);
    urcu_bp_synchronize_rcu();
    snap_free(rs->snap);
    db_conn_destroy(rs->conn);
    close(rs->wake_fd);
    free(rs->conninfo);
    free(rs);
}

static int
kind_of(const struct store_res *store)
{
    return store == &store_clouds ? READSNAP_CLOUDS
           : store == &store_hosts ? READSNAP_HOSTS
           : store == &store_tenants ? READSNAP_TENANTS : -1;
}

/* Reads Skyvisor-Min-Seq into *min (0 when absent); false after writing
 * the 400 when it is not a transaction id. */
static bool
min_seq(struct api_req *req, struct api_resp *resp, uint64_t *min)
{
    const char *h = api_header(req, "Skyvisor-Min-Seq");
    *min = 0;
    if (h && !xidsnap_parse_xid(h, min)) {
        api_problem(resp, req, SVE_BAD_HEADER, "Skyvisor-Min-Seq", "Skyvisor-Min-Seq "
                    "is the Skyvisor-Seq of a write: a positive decimal integer");
        return false;
    }
    return true;
}

/* The start of either read: Skyvisor-Min-Seq into *min, then the kind of
 * 'store' in the snapshot; -2 after writing the 400 for a malformed
 * header, -1 when the snapshot holds nothing of the kind (or there is no
 * snapshot). */
static int
start_read(struct readsnap *rs, struct api_req *req, struct api_resp *resp,
           const struct store_res *store, uint64_t *min)
{
    if (!min_seq(req, resp, min)) {
        return -2;
    }
    return rs ? kind_of(store) : -1;
}

/* The snapshot when it may answer, under the read lock the caller holds
 * (and releases); NULL after counting why not. */
static struct snap *
usable(struct readsnap *rs, uint64_t min)
{
    struct snap *s = rcu_dereference(rs->snap);
    if (!s) {
        atomic_fetch_add(&rs->other, 1);
        return NULL;
    }
    if (s->changes != atomic_load(&rs->changes)) {
        atomic_fetch_add(&rs->stale, 1);
        return NULL;
    }
    if (min && !xidsnap_sees(&s->vis, min)) {
        atomic_fetch_add(&rs->behind, 1);
        return NULL;
    }
    return s;
}

/* Answers 200 with a copy of text[0..len) and 'etag', or 304 when
 * If-None-Match holds it; READSNAP_DATABASE when memory runs out. */
static enum readsnap_answer
reply_copy(struct api_req *req, struct api_resp *resp, const char *text, size_t len,
           const char etag[40])
{
    memcpy(resp->etag, etag, sizeof resp->etag);
    if (api_if_none_match(req, etag)) {
        api_reply_owned(resp, 304, NULL, 0, NULL);
        return READSNAP_ANSWERED;
    }
    char *copy = malloc(len + 1);
    if (!copy) {
        resp->etag[0] = '\0';
        return READSNAP_DATABASE;
    }
    memcpy(copy, text, len + 1);
    api_reply_owned(resp, 200, copy, len, "application/json");
    return READSNAP_ANSWERED;
}

enum readsnap_answer
readsnap_list(struct readsnap *rs, struct api_req *req, struct api_resp *resp,
              const struct store_res *store, unsigned int limit, const char *after)
{
    uint64_t min;
    int k = start_read(rs, req, resp, store, &min);
    if (k < 0) {
        return k == -2 ? READSNAP_ANSWERED : READSNAP_DATABASE;
    }
    enum readsnap_answer a = READSNAP_DATABASE;
    urcu_bp_read_lock();
    struct snap *s = usable(rs, min);
    if (s) {
        const struct snap_kind *sk = &s->kinds[k];
        /* The rows after 'after' are those whose names follow it in the
         * database's order only when it is one of them: otherwise the
         * database's collation decides, and it is asked. */
        size_t from = 0;
        bool found = !after;
        for (size_t i = 0; after && i < sk->rows.n && !found; i++) {
            if (!strcmp(sk->rows.v[i].key, after)) {
                from = i + 1;
                found = true;
            }
        }
        if (found && !after && limit == CRUD_LIMIT_DEFAULT) {
            a = reply_copy(req, resp, sk->page, sk->page_len, sk->page_etag);
        } else if (found) {
            size_t left = sk->rows.n - from;
            size_t shown = left > limit ? limit : left;
            crud_reply_items(req, resp, sk->rows.v + from, shown, left > shown,
                             shown ? sk->rows.v[from + shown - 1].key : "");
            a = READSNAP_ANSWERED;
        } else {
            atomic_fetch_add(&rs->other, 1);
        }
    }
    urcu_bp_read_unlock();
    if (a == READSNAP_ANSWERED) {
        atomic_fetch_add(&rs->served, 1);
    }
    return a;
}

enum readsnap_answer
readsnap_get(struct readsnap *rs, struct api_req *req, struct api_resp *resp,
             const struct store_res *store, const char *key)
{
    uint64_t min;
    int k = start_read(rs, req, resp, store, &min);
    if (k < 0) {
        return k == -2 ? READSNAP_ANSWERED : READSNAP_DATABASE;
    }
    bool by_id = validate_uuid(key);
    enum readsnap_answer a = READSNAP_DATABASE;
    urcu_bp_read_lock();
    struct snap *s = usable(rs, min);
    for (size_t i = 0; s && i < s->kinds[k].rows.n; i++) {
        const struct store_item *row = &s->kinds[k].rows.v[i];
        if (strcmp(by_id ? row->id : row->key, key)) {
            continue;
        }
        a = reply_copy(req, resp, row->json, row->len, s->kinds[k].etags[i]);
        break;
    }
    /* An object the snapshot lacks is asked of the database too: the 404
     * (and its wording) stays the database's. */
    urcu_bp_read_unlock();
    atomic_fetch_add(a == READSNAP_ANSWERED ? &rs->served : &rs->other, s ? 1 : 0);
    return a;
}

void
readsnap_get_stats(struct readsnap *rs, struct readsnap_stats *out)
{
    memset(out, 0, sizeof *out);
    if (rs) {
        out->served = atomic_load(&rs->served);
        out->stale = atomic_load(&rs->stale);
        out->behind = atomic_load(&rs->behind);
        out->other = atomic_load(&rs->other);
        out->refreshes = atomic_load(&rs->refreshes);
    }
}
