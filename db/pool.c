/* pool.c: a fixed set of connections handed out one thread at a time.
 *
 * The HTTP layer runs a thread pool; each request borrows a connection for
 * its duration, so no PGconn is ever shared between threads.  With as many
 * connections as worker threads nobody waits; the statistics show it when
 * they do.  Invariant: free[0..n_free) holds exactly the connections not
 * lent out; everything is guarded by 'mutex'. */
#include "db/db.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <time.h>

#include "core/vlog.h"

struct db_pool {
    pthread_mutex_t mutex;
    pthread_cond_t cond;
    struct db_conn **all;
    struct db_conn **free;
    unsigned int size;
    unsigned int n_free;
    unsigned long long acquired, waited, timeouts;
};

struct db_pool *
db_pool_create(const char *conninfo, unsigned int size)
{
    struct db_pool *p = calloc(1, sizeof *p);
    if (!p) {
        return NULL;
    }
    pthread_mutex_init(&p->mutex, NULL);
    pthread_condattr_t attr;
    pthread_condattr_init(&attr);
    pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
    pthread_cond_init(&p->cond, &attr);
    pthread_condattr_destroy(&attr);
    p->all = calloc(size, sizeof *p->all);
    p->free = calloc(size, sizeof *p->free);
    if (!p->all || !p->free) {
        db_pool_destroy(p);
        return NULL;
    }
    for (unsigned int i = 0; i < size; i++) {
        p->all[i] = db_conn_create(conninfo);
        if (!p->all[i]) {
            db_pool_destroy(p);
            return NULL;
        }
        p->free[p->n_free++] = p->all[i];
        p->size++;
    }
    return p;
}

void
db_pool_destroy(struct db_pool *p)
{
    if (!p) {
        return;
    }
    if (p->all) {
        for (unsigned int i = 0; i < p->size; i++) {
            db_conn_destroy(p->all[i]);
        }
    }
    free(p->all);
    free(p->free);
    pthread_cond_destroy(&p->cond);
    pthread_mutex_destroy(&p->mutex);
    free(p);
}

struct db_conn *
db_pool_get(struct db_pool *p, unsigned int timeout_ms)
{
    struct timespec deadline;
    clock_gettime(CLOCK_MONOTONIC, &deadline);
    deadline.tv_sec += timeout_ms / 1000;
    deadline.tv_nsec += (long) (timeout_ms % 1000) * 1000000L;
    if (deadline.tv_nsec >= 1000000000L) {
        deadline.tv_sec++;
        deadline.tv_nsec -= 1000000000L;
    }
    pthread_mutex_lock(&p->mutex);
    if (!p->n_free) {
        p->waited++;
    }
    while (!p->n_free) {
        if (pthread_cond_timedwait(&p->cond, &p->mutex, &deadline) == ETIMEDOUT
            && !p->n_free) {
            p->timeouts++;
            pthread_mutex_unlock(&p->mutex);
            return NULL;
        }
    }
    struct db_conn *c = p->free[--p->n_free];
    p->acquired++;
    pthread_mutex_unlock(&p->mutex);
    db_conn_ensure(c);
    return c;
}

void
db_pool_put(struct db_pool *p, struct db_conn *c)
{
    if (!c) {
        return;
    }
    pthread_mutex_lock(&p->mutex);
    p->free[p->n_free++] = c;
    pthread_cond_signal(&p->cond);
    pthread_mutex_unlock(&p->mutex);
}

void
db_pool_get_stats(struct db_pool *p, struct db_pool_stats *s)
{
    pthread_mutex_lock(&p->mutex);
    s->size = p->size;
    s->in_use = p->size - p->n_free;
    s->acquired = p->acquired;
    s->waited = p->waited;
    s->timeouts = p->timeouts;
    pthread_mutex_unlock(&p->mutex);
}
