/* lease_keeper.c: the lease keeper thread (see lease_keeper.h).
 *
 * One round per heartbeat:
 *
 *   heartbeat ──fail──> (grants age out by their deadlines) ──> sleep
 *      │ ok
 *   read the view ──fail──> sleep
 *      │
 *   for each cloud: lease_decide(held here?) ─> acquire / renew / yield /
 *      drop / nothing; clouds gone from the view are dropped
 *      │
 *   publish the grants (mutex), 'changed' if the set or an epoch changed
 *
 * Invariants: a grant is only ever created by a successful acquisition
 * (so with a fresh epoch) and only ever extended by a successful renewal of
 * that same epoch; its deadline is the monotonic time before the
 * statement was sent plus the lease, so it passes before the database's
 * expires_at.  A failed statement never extends anything: a keeper that
 * cannot reach the database loses its clouds by its own clock, whatever
 * it believed. */
#include "db/lease_keeper.h"

#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>

#include "core/vlog.h"
#include "ctrl/loop.h"
#include "db/db.h"
#include "db/instances.h"

#define MOD "lease"

struct lease_keeper {
    struct lease_keeper_options opt;
    char id[LEASE_ID_LEN];
    char **pins;
    char *name, *api_address, *openflow_address;    /* copies */
    struct instances_reg reg;
    struct db_conn *db;             /* keeper thread only */
    bool failing;                   /* keeper thread only: heartbeats fail */
    pthread_t thread;

    pthread_mutex_t mutex;          /* guards what follows */
    pthread_cond_t cond;
    bool stopping;
    struct lease_grant *grants;
    size_t n_grants;
    uint64_t last_heartbeat_ms;     /* 0: none yet */
    struct lease_keeper_stats stats;
};

static void
new_uuid(char out[LEASE_ID_LEN])
{
    uint8_t b[16];
    if (getrandom(b, sizeof b, 0) != (ssize_t) sizeof b) {
        uint64_t t = loop_now_ms() ^ (uint64_t) (uintptr_t) out;
        for (size_t i = 0; i < sizeof b; i++) {
            b[i] = (uint8_t) (t >> (8 * (i % 8))) ^ (uint8_t) (i * 37);
        }
    }
    b[6] = (uint8_t) ((b[6] & 0x0f) | 0x40);
    b[8] = (uint8_t) ((b[8] & 0x3f) | 0x80);
    snprintf(out, LEASE_ID_LEN,
             "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x",
             b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7], b[8], b[9], b[10], b[11],
             b[12], b[13], b[14], b[15]);
}

/* The grant of 'cloud_id' (valid or not), or NULL.  Under the mutex. */
static struct lease_grant *
grant_find(struct lease_keeper *k, const char *cloud_id)
{
    for (size_t i = 0; i < k->n_grants; i++) {
        if (!strcmp(k->grants[i].cloud_id, cloud_id)) {
            return &k->grants[i];
        }
    }
    return NULL;
}

static void
grant_remove(struct lease_keeper *k, struct lease_grant *g)
{
    *g = k->grants[--k->n_grants];
}

/* --- the round --- */

/* Carries out 'a' on cloud 'c'.  Returns true if the grants changed. */
static bool
act(struct lease_keeper *k, const struct lease_cloud *c, enum lease_action a,
    const struct lease_grant *held)
{
    uint64_t t0 = loop_now_ms();
    uint64_t epoch = held ? held->epoch : 0;
    bool takeover = false;
    enum db_qs qs = DB_QS_NONE;
    switch (a) {
    case LEASE_NONE:
        return false;
    case LEASE_ACQUIRE:
        qs = instances_acquire(k->db, c->id, k->id, k->opt.lease_ms, &epoch, &takeover);
        break;
    case LEASE_RENEW:
        qs = instances_renew(k->db, c->id, k->id, epoch, k->opt.lease_ms);
        if (qs < 0) {
            return false;           /* unknown: the deadline decides */
        }
        break;
    case LEASE_YIELD:
    case LEASE_DROP:
        break;
    }
    bool changed = false;
    pthread_mutex_lock(&k->mutex);
    struct lease_grant *g = grant_find(k, c->id);
    if (a == LEASE_ACQUIRE && qs == DB_QS_ONE) {
        if (!g) {
            struct lease_grant *n = realloc(k->grants, (k->n_grants + 1) * sizeof *n);
            if (n) {
                k->grants = n;
                g = &k->grants[k->n_grants++];
            }
        }
        if (g) {
            snprintf(g->cloud_id, sizeof g->cloud_id, "%s", c->id);
            snprintf(g->cloud, sizeof g->cloud, "%s", c->name);
            g->epoch = epoch;
            g->deadline_ms = t0 + k->opt.lease_ms;
            k->stats.acquired++;
            k->stats.takeovers += takeover;
            changed = true;
        }
    } else if (a == LEASE_RENEW && qs == DB_QS_ONE && g && g->epoch == epoch) {
        g->deadline_ms = t0 + k->opt.lease_ms;
    } else if (g && (a == LEASE_RENEW || a == LEASE_YIELD || a == LEASE_DROP)) {
        if (a == LEASE_YIELD) {
            k->stats.yielded++;
        } else {
            k->stats.lost++;
        }
        grant_remove(k, g);
        changed = true;
    }
    pthread_mutex_unlock(&k->mutex);
    if (a == LEASE_ACQUIRE && qs == DB_QS_ONE) {
        vlog(VLOG_INFO, MOD, "cloud %s: acquired with epoch %" PRIu64 "%s", c->name,
             epoch, takeover ? " (takeover)" : "");
    } else if (a != LEASE_ACQUIRE && changed) {
        vlog(VLOG_WARN, MOD, "cloud %s: %s the lease of epoch %" PRIu64, c->name,
             a == LEASE_YIELD ? "yielding to its pinned instance"
                              : "lost", epoch);
    }
    return changed;
}

/* Drops the grants whose deadline passed and those of clouds no longer in
 * the view ('v' NULL: only the former).  Returns true if any went. */
static bool
prune(struct lease_keeper *k, const struct instances_view *v)
{
    bool changed = false;
    uint64_t now = loop_now_ms();
    pthread_mutex_lock(&k->mutex);
    for (size_t i = 0; i < k->n_grants;) {
        struct lease_grant *g = &k->grants[i];
        bool listed = !v;
        for (size_t j = 0; v && j < v->n_clouds && !listed; j++) {
            listed = !strcmp(v->clouds[j].id, g->cloud_id);
        }
        if (now >= g->deadline_ms || !listed) {
            vlog(VLOG_WARN, MOD, "cloud %s: epoch %" PRIu64 " %s", g->cloud, g->epoch,
                 listed ? "passed its deadline unrenewed" : "gone (cloud deleted)");
            k->stats.expired += listed;
            grant_remove(k, g);
            changed = true;
        } else {
            i++;
        }
    }
    pthread_mutex_unlock(&k->mutex);
    return changed;
}

static bool
round_run(struct lease_keeper *k)
{
    bool changed = prune(k, NULL);
    uint64_t t0 = loop_now_ms();
    if (!db_conn_ensure(k->db) || instances_heartbeat(k->db, &k->reg) != DB_QS_ONE) {
        pthread_mutex_lock(&k->mutex);
        k->stats.heartbeat_failures++;
        pthread_mutex_unlock(&k->mutex);
        if (!k->failing) {
            vlog(VLOG_WARN, MOD, "heartbeat failed: %s", db_conn_error(k->db)->message);
        }
        k->failing = true;
        return changed;
    }
    if (k->failing) {
        vlog(VLOG_INFO, MOD, "heartbeat recorded again");
    }
    k->failing = false;
    pthread_mutex_lock(&k->mutex);
    k->last_heartbeat_ms = t0;
    k->stats.heartbeats++;
    pthread_mutex_unlock(&k->mutex);
    struct instances_view v;
    if (instances_view(k->db, &v) != DB_QS_ONE) {
        return changed;
    }
    changed |= prune(k, &v);
    struct lease_policy pol = {k->id, k->opt.lease_ms, k->opt.settle_ms};
    struct lease_view lv = {v.peers, v.n_peers, v.clouds, v.n_clouds};
    for (size_t i = 0; i < v.n_clouds; i++) {
        const struct lease_cloud *c = &v.clouds[i];
        struct lease_grant held;
        bool is_held = lease_keeper_owns(k, c->id, &held);
        enum lease_action a = lease_decide(&pol, &lv, c, is_held, is_held ? held.epoch : 0);
        changed |= act(k, c, a, is_held ? &held : NULL);
    }
    instances_view_uninit(&v);
    return changed;
}

static void *
keeper_main(void *aux)
{
    struct lease_keeper *k = aux;
    pthread_mutex_lock(&k->mutex);
    while (!k->stopping) {
        pthread_mutex_unlock(&k->mutex);
        uint64_t start = loop_now_ms();
        if (round_run(k) && k->opt.changed) {
            k->opt.changed(k->opt.aux);
        }
        uint64_t next = start + k->opt.heartbeat_ms;
        struct timespec ts = {(time_t) (next / 1000), (long) (next % 1000) * 1000000L};
        pthread_mutex_lock(&k->mutex);
        while (!k->stopping
               && pthread_cond_timedwait(&k->cond, &k->mutex, &ts) != ETIMEDOUT) {
        }
    }
    pthread_mutex_unlock(&k->mutex);
    return NULL;
}

/* --- public --- */

static void
keeper_free(struct lease_keeper *k)
{
    for (size_t i = 0; k->pins && i < k->opt.n_pins; i++) {
        free(k->pins[i]);
    }
    free(k->pins);
    free(k->name);
    free(k->api_address);
    free(k->openflow_address);
    free(k->grants);
    db_conn_destroy(k->db);
    pthread_cond_destroy(&k->cond);
    pthread_mutex_destroy(&k->mutex);
    free(k);
}

struct lease_keeper *
lease_keeper_start(const struct lease_keeper_options *opt)
{
    struct lease_keeper *k = calloc(1, sizeof *k);
    if (!k) {
        return NULL;
    }
    k->opt = *opt;
    k->opt.lease_ms = opt->lease_ms ? opt->lease_ms : 3000;
    k->opt.heartbeat_ms = opt->heartbeat_ms ? opt->heartbeat_ms : 1000;
    pthread_mutex_init(&k->mutex, NULL);
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&k->cond, &ca);
    pthread_condattr_destroy(&ca);
    k->pins = calloc(opt->n_pins + 1, sizeof *k->pins);
    bool copied = k->pins != NULL;
    for (size_t i = 0; copied && i < opt->n_pins; i++) {
        copied = (k->pins[i] = strdup(opt->pins[i])) != NULL;
    }
    new_uuid(k->id);
    k->name = strdup(opt->name);
    k->api_address = strdup(opt->api_address);
    k->openflow_address = opt->openflow_address ? strdup(opt->openflow_address) : NULL;
    copied = copied && k->name && k->api_address
             && (k->openflow_address || !opt->openflow_address);
    k->reg = (struct instances_reg) {
        .id = k->id, .name = k->name, .api_address = k->api_address,
        .openflow_address = k->openflow_address,
        .pins = (const char *const *) k->pins, .n_pins = opt->n_pins,
        .lease_ms = k->opt.lease_ms, .heartbeat_ms = k->opt.heartbeat_ms,
    };
    k->db = db_conn_create(opt->conninfo);
    if (!copied || !k->db || instances_heartbeat(k->db, &k->reg) != DB_QS_ONE) {
        vlog(VLOG_ERR, MOD, "cannot register the instance: %s",
             !copied ? "out of memory"
             : k->db ? db_conn_error(k->db)->message : "no database connection");
        keeper_free(k);
        return NULL;
    }
    k->last_heartbeat_ms = loop_now_ms();
    if (pthread_create(&k->thread, NULL, keeper_main, k)) {
        instances_deregister(k->db, k->id);
        keeper_free(k);
        return NULL;
    }
    pthread_setname_np(k->thread, "lease");  /* its name in top -H and perf */
    vlog(VLOG_INFO, MOD, "instance %s registered (lease %u ms, heartbeat %u ms)", k->id,
         k->opt.lease_ms, k->opt.heartbeat_ms);
    return k;
}

void
lease_keeper_stop(struct lease_keeper *k)
{
    if (!k) {
        return;
    }
    pthread_mutex_lock(&k->mutex);
    k->stopping = true;
    pthread_cond_signal(&k->cond);
    pthread_mutex_unlock(&k->mutex);
    pthread_join(k->thread, NULL);
    long long n = 0;
    if (db_conn_ensure(k->db) && instances_release_all(k->db, k->id, &n) == DB_QS_ONE) {
        vlog(VLOG_INFO, MOD, "released %lld lease%s", n, n == 1 ? "" : "s");
    }
    instances_deregister(k->db, k->id);
    keeper_free(k);
}

const char *
lease_keeper_id(const struct lease_keeper *k)
{
    return k->id;
}

size_t
lease_keeper_owned(struct lease_keeper *k, struct lease_grant **out)
{
    *out = NULL;
    uint64_t now = loop_now_ms();
    pthread_mutex_lock(&k->mutex);
    size_t n = 0;
    struct lease_grant *a = k->n_grants ? malloc(k->n_grants * sizeof *a) : NULL;
    for (size_t i = 0; a && i < k->n_grants; i++) {
        if (now < k->grants[i].deadline_ms) {
            a[n++] = k->grants[i];
        }
    }
    pthread_mutex_unlock(&k->mutex);
    if (!n) {
        free(a);
        a = NULL;
    }
    *out = a;
    return n;
}

bool
lease_keeper_owns(struct lease_keeper *k, const char *cloud_id, struct lease_grant *g)
{
    uint64_t now = loop_now_ms();
    pthread_mutex_lock(&k->mutex);
    const struct lease_grant *f = grant_find(k, cloud_id);
    bool owns = f && now < f->deadline_ms;
    if (owns && g) {
        *g = *f;
    }
    pthread_mutex_unlock(&k->mutex);
    return owns;
}

void
lease_keeper_fenced(struct lease_keeper *k, const char *cloud_id, uint64_t epoch)
{
    bool dropped = false;
    pthread_mutex_lock(&k->mutex);
    k->stats.fenced++;
    struct lease_grant *g = grant_find(k, cloud_id);
    if (g && g->epoch == epoch) {
        grant_remove(k, g);
        dropped = true;
    }
    pthread_mutex_unlock(&k->mutex);
    vlog(VLOG_WARN, MOD, "cloud %s: a switch refused epoch %" PRIu64 "%s", cloud_id,
         epoch, dropped ? ": stepped down" : "");
    if (dropped && k->opt.changed) {
        k->opt.changed(k->opt.aux);
    }
}

bool
lease_keeper_healthy(struct lease_keeper *k, char *why, size_t len)
{
    uint64_t now = loop_now_ms();
    pthread_mutex_lock(&k->mutex);
    uint64_t last = k->last_heartbeat_ms;
    pthread_mutex_unlock(&k->mutex);
    if (last && now - last < k->opt.lease_ms) {
        return true;
    }
    snprintf(why, len, "no heartbeat recorded for %llu ms (the lease is %u ms)",
             (unsigned long long) (now - last), k->opt.lease_ms);
    return false;
}

void
lease_keeper_get_stats(struct lease_keeper *k, struct lease_keeper_stats *s)
{
    uint64_t now = loop_now_ms();
    pthread_mutex_lock(&k->mutex);
    *s = k->stats;
    s->held = 0;
    for (size_t i = 0; i < k->n_grants; i++) {
        s->held += now < k->grants[i].deadline_ms;
    }
    s->heartbeat_age_ms = k->last_heartbeat_ms ? (long long) (now - k->last_heartbeat_ms)
                                               : -1;
    pthread_mutex_unlock(&k->mutex);
}
