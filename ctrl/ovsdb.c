/* ovsdb.c: OVSDB client session; the state machine is drawn in ovsdb.h.
 *
 * Pending requests live in a small array (a handful at a time: the
 * reconciler sends one transaction per object and waits).  Ids are
 * integers counting up from 1 per session; the monitor request uses the
 * string id "monitor", its schema request "schema" and our echo probes the
 * string id "echo", so replies to them never collide with a caller's id.
 *
 * Monitoring.  A session first asks for the schema, and with the kinds of
 * the monitored columns from it monitors with monitor_cond: its "update2"
 * notifications carry a modified row's changed columns only, and a set's
 * or map's difference, not the whole (ctrl/ovsdb_replica.h).  A server
 * that refuses either gets the plain monitor of RFC 7047 and its whole
 * rows, from then on. */
#include "ctrl/ovsdb.h"

#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/certname.h"
#include "core/vlog.h"
#include "ctrl/jsonrpc.h"
#include "ctrl/stream.h"
#include "ctrl/ovsdb_datum.h"
#include "ctrl/ovsdb_txn.h"

#define BACKOFF_MIN_MS 100
#define BACKOFF_MAX_MS 8000
#define MONITOR_ID "skyvisor"

static const struct ovsdb_monitor default_monitor[] = {
    {"Open_vSwitch", NULL}, {"Bridge", NULL}, {"Port", NULL},
    {"Interface", NULL}, {"Controller", NULL}, {"QoS", NULL}, {"Queue", NULL},
};

struct pending {
    uint64_t id;
    int status;             /* EAGAIN while waiting, then 0/EIO/ECONNRESET. */
    json_t *result;         /* Owned, status 0. */
    char *error;            /* Owned, status EIO. */
};

struct ovsdb {
    char *target, *db;
    enum ovsdb_state state;
    struct jsonrpc *rpc;
    long long backoff_ms;
    long long next_try;     /* BACKOFF: when to reconnect. */
    long long last_rx;      /* Connected: last time bytes arrived. */
    bool probe_sent;
    bool more;              /* ovsdb_run() stopped with input left over */
    /* Messages ovsdb_keepalive() read and left for ovsdb_run(), in order:
     * held[head..n) (owned). */
    struct jsonrpc_msg **held;
    size_t head, n_held, cap_held;
    int probe_ms;
    unsigned n_syncs;
    uint64_t next_id;
    struct pending *pend;
    size_t n_pend, cap_pend;
    struct ovsdb_replica replica;
    const struct ovsdb_monitor *mon;    /* borrowed: what to monitor */
    size_t n_mon;
    char *peer_name;        /* Host a TLS peer's certificate must name. */
    bool cond;              /* this connection monitors with monitor_cond */
    bool plain_only;        /* the server refused monitor_cond or its schema */
    char why[256];          /* Why the last connection ended ("": none). */
    bool refused;           /* ...and it was refused, not lost. */
};

long long
ovsdb_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long) ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

struct ovsdb *
ovsdb_create(const char *target, const char *db)
{
    struct ovsdb *o = calloc(1, sizeof *o);
    if (!o) {
        return NULL;
    }
    o->target = strdup(target);
    o->db = strdup(db);
    ovsdb_replica_init(&o->replica);
    if (!o->target || !o->db || !o->replica.tables) {
        ovsdb_destroy(o);
        return NULL;
    }
    o->state = OVSDB_BACKOFF;
    o->backoff_ms = BACKOFF_MIN_MS;
    o->next_try = 0;
    o->probe_ms = 5000;
    o->next_id = 1;
    o->mon = default_monitor;
    o->n_mon = sizeof default_monitor / sizeof *default_monitor;
    return o;
}

static void
pending_free(struct pending *p)
{
    json_decref(p->result);
    free(p->error);
}

/* Frees the held messages not yet handled. */
static void
held_clear(struct ovsdb *o)
{
    for (size_t i = o->head; i < o->n_held; i++) {
        jsonrpc_msg_destroy(o->held[i]);
    }
    o->head = o->n_held = 0;
}

void
ovsdb_destroy(struct ovsdb *o)
{
    if (o) {
        held_clear(o);
        free(o->held);
        jsonrpc_close(o->rpc);
        for (size_t i = 0; i < o->n_pend; i++) {
            pending_free(&o->pend[i]);
        }
        free(o->pend);
        ovsdb_replica_uninit(&o->replica);
        free(o->target);
        free(o->db);
        free(o->peer_name);
        free(o);
    }
}

void
ovsdb_set_probe_ms(struct ovsdb *o, int probe_ms)
{
    o->probe_ms = probe_ms;
}

void
ovsdb_set_monitor(struct ovsdb *o, const struct ovsdb_monitor *tables, size_t n)
{
    o->mon = tables;
    o->n_mon = n;
}

int
ovsdb_set_peer_name(struct ovsdb *o, const char *name)
{
    char *copy = name ? strdup(name) : NULL;
    if (name && !copy) {
        return ENOMEM;
    }
    free(o->peer_name);
    o->peer_name = copy;
    return 0;
}

const char *ovsdb_last_error(const struct ovsdb *o) { return o->why; }
bool ovsdb_refused(const struct ovsdb *o) { return o->refused; }

/* Closes the connection (if any), fails pending requests, and schedules
 * the next attempt with doubled backoff.  'why' is copied first: it may
 * belong to the connection. */
static void
disconnect(struct ovsdb *o, const char *why)
{
    o->more = false;
    held_clear(o);                  /* they belong to the lost connection */
    if (why != o->why) {
        snprintf(o->why, sizeof o->why, "%s", why);
    }
    if (o->rpc) {
        vlog(VLOG_WARN, "ovsdb", "%s: disconnected: %s", o->target, o->why);
        jsonrpc_close(o->rpc);
        o->rpc = NULL;
    }
    for (size_t i = 0; i < o->n_pend; i++) {
        if (o->pend[i].status == EAGAIN) {
            o->pend[i].status = ECONNRESET;
        }
    }
    o->state = OVSDB_BACKOFF;
    o->next_try = ovsdb_now_ms() + o->backoff_ms;
    o->backoff_ms = o->backoff_ms * 2 > BACKOFF_MAX_MS ? BACKOFF_MAX_MS
                                                       : o->backoff_ms * 2;
}

static int
send_request(struct ovsdb *o, const char *method, json_t *params, json_t *id)
{
    struct jsonrpc_msg *m = jsonrpc_msg_create_request(method, params, id);
    return m ? jsonrpc_send(o->rpc, m) : ENOMEM;
}

/* Sends the monitor request: monitor_cond (each table's request in an
 * array) with 'cond', else monitor. */
static int
send_monitor_request(struct ovsdb *o, bool cond)
{
    json_t *reqs = json_object();
    for (size_t i = 0; reqs && i < o->n_mon; i++) {
        json_t *req = json_object();
        const char *const *c = o->mon[i].columns;
        if (c) {
            json_t *cols = json_array();
            for (; *c; c++) {
                json_array_append_new(cols, json_string(*c));
            }
            json_object_set_new(req, "columns", cols);
        }
        json_object_set_new(reqs, o->mon[i].table, cond ? json_pack("[o]", req) : req);
    }
    o->cond = cond;
    return send_request(o, cond ? "monitor_cond" : "monitor",
                        json_pack("[s s o]", o->db, MONITOR_ID, reqs),
                        json_string("monitor"));
}

/* Starts monitoring on a new connection: the schema first (see the file
 * comment), unless the server refused it before. */
static int
send_monitor(struct ovsdb *o)
{
    if (o->plain_only) {
        return send_monitor_request(o, false);
    }
    return send_request(o, "get_schema", json_pack("[s]", o->db), json_string("schema"));
}

/* The default value of a column of type 'type' (RFC 7047 3.2 <type>) and
 * its kind, a new reference; NULL if the type is malformed. */
static json_t *
column_default(const json_t *type, enum ovsdb_col_kind *kind)
{
    const json_t *key = json_is_object(type) ? json_object_get(type, "key") : type;
    const char *base = json_is_object(key) ? json_string_value(json_object_get(key, "type"))
                                           : json_string_value(key);
    if (!base) {
        return NULL;
    }
    long long min = 1, max = 1;
    if (json_is_object(type)) {
        const json_t *jmin = json_object_get(type, "min"), *jmax = json_object_get(type, "max");
        min = jmin ? json_integer_value(jmin) : 1;
        max = !jmax ? 1 : json_is_integer(jmax) ? json_integer_value(jmax) : -1;
        if (json_object_get(type, "value")) {
            *kind = OVSDB_COL_MAP;
            return ovsdb_datum_map(json_object());
        }
    }
    /* A column of at most one value is replaced whole by a difference
     * (ovsdb-server sends the new value, ["set", []] when it empties). */
    *kind = max == 1 ? OVSDB_COL_SCALAR : OVSDB_COL_SET;
    if (min != 1 || max != 1) {
        return ovsdb_datum_empty();
    }
    return !strcmp(base, "integer") ? json_integer(0)
         : !strcmp(base, "real") ? json_real(0.0)
         : !strcmp(base, "boolean") ? json_false()
         : !strcmp(base, "string") ? json_string("")
         : !strcmp(base, "uuid") ? ovsdb_datum_uuid("00000000-0000-0000-0000-000000000000")
         : NULL;
}

/* {table: {column: [kind, default]}} of the monitored tables and columns
 * in 'schema' (a get_schema result), NULL when one is missing or
 * malformed or memory runs out. */
static json_t *
monitored_columns(const struct ovsdb *o, const json_t *schema)
{
    const json_t *tables = json_object_get(schema, "tables");
    json_t *out = json_object();
    for (size_t i = 0; out && i < o->n_mon; i++) {
        const json_t *defs = json_object_get(json_object_get(tables, o->mon[i].table),
                                             "columns");
        json_t *cols = json_is_object(defs) ? json_object() : NULL;
        if (!cols || json_object_set_new(out, o->mon[i].table, cols)) {
            json_decref(out);       /* set_new dropped 'cols' when it failed */
            return NULL;
        }
        const char *name;
        json_t *def;
        json_object_foreach((json_t *) defs, name, def) {
            bool wanted = !o->mon[i].columns;
            for (const char *const *c = o->mon[i].columns; c && *c && !wanted; c++) {
                wanted = !strcmp(*c, name);
            }
            enum ovsdb_col_kind kind;
            json_t *dflt = wanted ? column_default(json_object_get(def, "type"), &kind) : NULL;
            if (wanted && (!dflt || json_object_set_new(cols, name,
                                                        json_pack("[Io]", (json_int_t) kind,
                                                                  dflt)))) {
                json_decref(out);
                return NULL;
            }
        }
        for (const char *const *c = o->mon[i].columns; c && *c; c++) {
            if (!json_object_get(cols, *c)) {
                json_decref(out);
                return NULL;        /* a column the schema lacks */
            }
        }
    }
    return out;
}

static struct pending *
pending_find(struct ovsdb *o, uint64_t id)
{
    for (size_t i = 0; i < o->n_pend; i++) {
        if (o->pend[i].id == id) {
            return &o->pend[i];
        }
    }
    return NULL;
}

static void
handle_reply(struct ovsdb *o, struct jsonrpc_msg *m)
{
    const char *sid = json_string_value(m->id);
    if (sid && !strcmp(sid, "schema")) {
        json_t *cols = m->type == JSONRPC_REPLY ? monitored_columns(o, m->result) : NULL;
        if (!cols) {
            vlog(VLOG_INFO, "ovsdb", "%s: no usable schema: plain monitor", o->target);
            o->plain_only = true;
        }
        ovsdb_replica_set_columns(&o->replica, cols);
        if (send_monitor_request(o, cols != NULL)) {
            disconnect(o, "cannot send monitor");
        }
        return;
    }
    if (sid && !strcmp(sid, "monitor")) {
        const char *why;
        if (m->type == JSONRPC_ERROR && o->cond) {
            vlog(VLOG_INFO, "ovsdb", "%s: monitor_cond refused: plain monitor", o->target);
            o->plain_only = true;
            if (send_monitor_request(o, false)) {
                disconnect(o, "cannot send monitor");
            }
            return;
        }
        if (m->type == JSONRPC_ERROR) {
            disconnect(o, "monitor request failed");
            return;
        }
        ovsdb_replica_clear(&o->replica);
        if (o->cond ? ovsdb_replica_apply2(&o->replica, m->result, &why)
                    : ovsdb_replica_apply(&o->replica, m->result, &why)) {
            disconnect(o, why);
            return;
        }
        o->state = OVSDB_SYNCED;
        o->why[0] = '\0';
        o->refused = false;
        o->backoff_ms = BACKOFF_MIN_MS;
        o->n_syncs++;
        vlog(VLOG_INFO, "ovsdb", "%s: monitoring %s", o->target, o->db);
        return;
    }
    if (!json_is_integer(m->id)) {
        return;                         /* Echo reply or stray id. */
    }
    struct pending *p = pending_find(o, (uint64_t) json_integer_value(m->id));
    if (!p || p->status != EAGAIN) {
        return;
    }
    if (m->type == JSONRPC_REPLY) {
        p->result = json_incref(m->result);
        p->status = 0;
    } else {
        p->error = json_dumps(m->error, JSON_COMPACT | JSON_ENCODE_ANY);
        p->status = EIO;
    }
}

/* Returns false if the session was disconnected. */
static bool
handle_msg(struct ovsdb *o, struct jsonrpc_msg *m)
{
    if (m->type == JSONRPC_REQUEST && !strcmp(m->method, "echo")) {
        struct jsonrpc_msg *r = jsonrpc_msg_create_reply(
            json_incref(m->params), json_incref(m->id));
        if (!r || jsonrpc_send(o->rpc, r)) {
            disconnect(o, "cannot answer echo");
            return false;
        }
    } else if (m->type == JSONRPC_NOTIFY
               && !strcmp(m->method, o->cond ? "update2" : "update")) {
        const char *why;
        const json_t *tu = json_array_get(m->params, 1);
        if (o->state != OVSDB_SYNCED
            || json_array_size(m->params) != 2
            || (o->cond ? ovsdb_replica_apply2(&o->replica, tu, &why)
                        : ovsdb_replica_apply(&o->replica, tu, &why))) {
            disconnect(o, "malformed update notification");
            return false;
        }
    } else if (m->type == JSONRPC_REPLY || m->type == JSONRPC_ERROR) {
        handle_reply(o, m);
        return o->rpc != NULL;
    } else {
        vlog(VLOG_DEBUG, "ovsdb", "%s: ignoring %s \"%s\"", o->target,
             jsonrpc_msg_type_name(m->type), m->method);
    }
    return true;
}

/* A TLS peer must name the host this session is for (core/certname.h).
 * Returns false (disconnected, refused) if it does not. */
static bool
check_peer(struct ovsdb *o)
{
    size_t n;
    const char *const *names = jsonrpc_peer_names(o->rpc, &n);
    if (!o->peer_name || !jsonrpc_is_tls(o->rpc)
        || certname_names_host(names, n, o->peer_name)) {
        return true;
    }
    char why[sizeof o->why - 16];
    certname_refusal(names, n, o->peer_name, why, sizeof why);
    snprintf(o->why, sizeof o->why, "refused: %s", why);
    o->refused = true;
    disconnect(o, o->why);
    return false;
}

/* Sends our echo once the peer has been silent for the probe interval.
 * False if the session was disconnected. */
static bool
probe(struct ovsdb *o, long long now)
{
    if (now - o->last_rx > o->probe_ms && !o->probe_sent) {
        o->probe_sent = true;
        if (send_request(o, "echo", json_array(), json_string("echo"))) {
            disconnect(o, "cannot send echo");
            return false;
        }
    }
    return true;
}

void
ovsdb_run(struct ovsdb *o)
{
    long long now = ovsdb_now_ms();
    if (o->state == OVSDB_BACKOFF) {
        if (now < o->next_try) {
            return;
        }
        int err = jsonrpc_open(o->target, &o->rpc);
        if (err) {
            vlog(VLOG_DEBUG, "ovsdb", "%s: connect: %s", o->target,
                 stream_strerror(err));
            o->refused = err == ENOKEY;
            disconnect(o, stream_strerror(err));
            return;
        }
        o->state = OVSDB_CONNECTING;
        o->last_rx = now;
        o->probe_sent = false;
    }
    if (o->state == OVSDB_CONNECTING) {
        int err = jsonrpc_run(o->rpc);
        if (err) {
            o->refused = err == EPROTO;     /* TLS refused the peer */
            disconnect(o, jsonrpc_error(o->rpc));
            return;
        }
        if (!jsonrpc_is_connected(o->rpc)) {
            if (now - o->last_rx > 2LL * o->probe_ms) {
                disconnect(o, "connect timed out");
            }
            return;
        }
        if (!check_peer(o)) {
            return;
        }
        o->refused = false;
        if (send_monitor(o)) {
            disconnect(o, "cannot send monitor");
            return;
        }
        o->state = OVSDB_MONITORING;
    }
    /* What ovsdb_keepalive() read comes first, in the order it came. */
    while (o->head < o->n_held) {
        struct jsonrpc_msg *m = o->held[o->head++];
        bool alive = handle_msg(o, m);
        jsonrpc_msg_destroy(m);
        if (!alive) {
            return;
        }
    }
    o->head = o->n_held = 0;
    /* Bounded, to let others run too; what is left (complete messages
     * already buffered, which the socket will not announce again) makes
     * ovsdb_timeout_ms() 0, so the caller's next poll returns at once. */
    o->more = true;
    for (int i = 0; i < 64; i++) {
        struct jsonrpc_msg *m;
        int err = jsonrpc_recv(o->rpc, &m);
        if (err == EAGAIN) {
            o->more = false;
            break;
        }
        if (err) {
            disconnect(o, err == ECONNRESET ? "connection closed by peer"
                                            : jsonrpc_error(o->rpc));
            return;
        }
        o->last_rx = now;
        o->probe_sent = false;
        bool alive = handle_msg(o, m);
        jsonrpc_msg_destroy(m);
        if (!alive) {
            return;
        }
    }
    if (now - o->last_rx > 2LL * o->probe_ms) {
        disconnect(o, "no response to inactivity probe");
        return;
    }
    if (!probe(o, now)) {
        return;
    }
    int err = jsonrpc_run(o->rpc);
    if (err) {
        disconnect(o, jsonrpc_error(o->rpc));
    }
}

void
ovsdb_keepalive(struct ovsdb *o)
{
    if (o->state != OVSDB_MONITORING && o->state != OVSDB_SYNCED) {
        return;
    }
    long long now = ovsdb_now_ms();
    for (int i = 0; i < 1024; i++) {    /* bounded: the next call goes on */
        struct jsonrpc_msg *m;
        if (jsonrpc_recv(o->rpc, &m)) {
            break;                  /* EAGAIN; an error is sticky: ovsdb_run() */
        }
        o->last_rx = now;
        o->probe_sent = false;
        const char *sid = json_string_value(m->id);
        if (m->type == JSONRPC_REQUEST && !strcmp(m->method, "echo")) {
            handle_msg(o, m);       /* answers it; touches nothing else */
            jsonrpc_msg_destroy(m);
            if (!o->rpc) {
                return;
            }
            continue;
        }
        if (m->type == JSONRPC_REPLY && sid && !strcmp(sid, "echo")) {
            jsonrpc_msg_destroy(m); /* the answer to our probe */
            continue;
        }
        if (o->n_held == o->cap_held) {
            size_t cap = o->cap_held ? 2 * o->cap_held : 16;
            struct jsonrpc_msg **v = realloc(o->held, cap * sizeof *v);
            if (!v) {
                jsonrpc_msg_destroy(m);
                disconnect(o, "out of memory");
                return;
            }
            o->held = v;
            o->cap_held = cap;
        }
        o->held[o->n_held++] = m;
    }
    if (probe(o, now)) {
        (void) jsonrpc_run(o->rpc); /* an error is sticky: ovsdb_run() */
    }
}

int
ovsdb_fd(const struct ovsdb *o)
{
    return o->rpc ? jsonrpc_fd(o->rpc) : -1;
}

short
ovsdb_events(const struct ovsdb *o)
{
    return o->rpc ? jsonrpc_events(o->rpc) : 0;
}

int
ovsdb_timeout_ms(const struct ovsdb *o)
{
    long long now = ovsdb_now_ms(), when;
    if ((o->more || o->head < o->n_held) && o->state != OVSDB_BACKOFF) {
        return 0;
    }
    if (o->state == OVSDB_BACKOFF) {
        when = o->next_try;
    } else {
        when = o->last_rx + (o->probe_sent ? 2LL : 1LL) * o->probe_ms + 1;
    }
    return when <= now ? 0 : (int) (when - now);
}

void
ovsdb_wait(struct ovsdb *o, int timeout_ms)
{
    int t = ovsdb_timeout_ms(o);
    if (timeout_ms >= 0 && (t < 0 || timeout_ms < t)) {
        t = timeout_ms;
    }
    struct pollfd pfd = { .fd = ovsdb_fd(o), .events = ovsdb_events(o) };
    poll(&pfd, pfd.fd >= 0 ? 1 : 0, t);
    ovsdb_run(o);
}

enum ovsdb_state ovsdb_get_state(const struct ovsdb *o) { return o->state; }
bool ovsdb_is_synced(const struct ovsdb *o) { return o->state == OVSDB_SYNCED; }
unsigned ovsdb_n_syncs(const struct ovsdb *o) { return o->n_syncs; }

const struct ovsdb_replica *
ovsdb_get_replica(const struct ovsdb *o)
{
    return &o->replica;
}

void
ovsdb_track_changes(struct ovsdb *o, const char *const *quiet)
{
    ovsdb_replica_track(&o->replica, quiet);
}

int
ovsdb_index_key(struct ovsdb *o, const char *table, const char *column, const char *key,
                size_t prefix_len)
{
    return ovsdb_replica_index_key(&o->replica, table, column, key, prefix_len);
}

json_t *
ovsdb_take_changes(struct ovsdb *o, bool *allp)
{
    return ovsdb_replica_take_changes(&o->replica, allp);
}

/* Sends 'method' with 'params' (consumed) as a tracked request. */
static int
send_tracked(struct ovsdb *o, const char *method, json_t *params,
             uint64_t *idp)
{
    if (!params) {
        return ENOMEM;
    }
    if (o->state != OVSDB_SYNCED) {
        json_decref(params);
        return ENOTCONN;
    }
    if (o->n_pend == o->cap_pend) {
        size_t cap = o->cap_pend ? 2 * o->cap_pend : 8;
        struct pending *p = realloc(o->pend, cap * sizeof *p);
        if (!p) {
            json_decref(params);
            return ENOMEM;
        }
        o->pend = p;
        o->cap_pend = cap;
    }
    uint64_t id = o->next_id++;
    int err = send_request(o, method, params, json_integer((json_int_t) id));
    if (err) {
        disconnect(o, strerror(err));
        return ENOTCONN;
    }
    o->pend[o->n_pend++] = (struct pending) { .id = id, .status = EAGAIN };
    *idp = id;
    return 0;
}

int
ovsdb_transact(struct ovsdb *o, struct ovsdb_txn *txn, uint64_t *idp)
{
    json_t *params = ovsdb_txn_params(txn, o->db);
    ovsdb_txn_destroy(txn);
    return send_tracked(o, "transact", params, idp);
}

int
ovsdb_get_schema(struct ovsdb *o, uint64_t *idp)
{
    return send_tracked(o, "get_schema", json_pack("[s]", o->db), idp);
}

int
ovsdb_poll_reply(struct ovsdb *o, uint64_t id, json_t **resultp, char **errp)
{
    *resultp = NULL;
    *errp = NULL;
    struct pending *p = pending_find(o, id);
    if (!p) {
        return ENOENT;
    }
    int status = p->status;
    if (status == EAGAIN) {
        return EAGAIN;
    }
    *resultp = p->result;
    *errp = p->error;
    *p = o->pend[--o->n_pend];
    return status;
}

int
ovsdb_wait_reply(struct ovsdb *o, uint64_t id, int timeout_ms,
                 json_t **resultp, char **errp)
{
    long long deadline = ovsdb_now_ms() + timeout_ms;
    for (;;) {
        int err = ovsdb_poll_reply(o, id, resultp, errp);
        if (err != EAGAIN) {
            return err;
        }
        long long left = deadline - ovsdb_now_ms();
        if (left <= 0) {
            struct pending *p = pending_find(o, id);
            *p = o->pend[--o->n_pend];  /* A late reply will be ignored. */
            return ETIMEDOUT;
        }
        ovsdb_wait(o, (int) left);
    }
}

int
ovsdb_transact_wait(struct ovsdb *o, struct ovsdb_txn *txn, int timeout_ms,
                    json_t **resultp, char **errp)
{
    size_t n_ops = ovsdb_txn_n_ops(txn);
    uint64_t id;
    json_t *result;
    if (resultp) {
        *resultp = NULL;
    }
    *errp = NULL;
    int err = ovsdb_transact(o, txn, &id);
    if (!err) {
        err = ovsdb_wait_reply(o, id, timeout_ms, &result, errp);
    }
    if (!err) {
        err = ovsdb_txn_check_result(result, n_ops, errp);
        if (!err && resultp) {
            *resultp = result;
        } else {
            json_decref(result);
        }
    }
    return err;
}

int
ovsdb_wait_synced(struct ovsdb *o, int timeout_ms)
{
    long long deadline = ovsdb_now_ms() + timeout_ms;
    ovsdb_run(o);
    while (o->state != OVSDB_SYNCED) {
        long long left = deadline - ovsdb_now_ms();
        if (left <= 0) {
            return ETIMEDOUT;
        }
        ovsdb_wait(o, (int) left);
    }
    return 0;
}
