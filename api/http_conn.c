/* http_conn.c: per-connection state and the request-head deadline (design
 * in http_conn.h). */
#include "api/http_conn.h"

#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

#include "core/vlog.h"

struct http_conn {
    struct http_conns *owner;
    struct http_conn *prev, *next;  /* on owner->waiting while 'listed' */
    int fd;
    bool listed;
    time_t head_start;              /* CLOCK_MONOTONIC seconds */
    void *held;                     /* http_conn_hold(), dropped at close */
    void (*release)(void *);
};

struct http_conns {
    pthread_mutex_t mutex;
    pthread_cond_t wake;
    struct http_conn waiting;       /* list head (sentinel) */
    unsigned int head_seconds;
    bool stop;
    pthread_t reaper;
};

static time_t
now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec;
}

/* Both with owner->mutex held. */
static void
unlist(struct http_conn *c)
{
    if (c->listed) {
        c->prev->next = c->next;
        c->next->prev = c->prev;
        c->listed = false;
    }
}

static void
list_waiting(struct http_conn *c)
{
    struct http_conn *head = &c->owner->waiting;
    unlist(c);
    c->head_start = now_s();
    c->prev = head->prev;
    c->next = head;
    head->prev->next = c;
    head->prev = c;
    c->listed = true;
}

/* The list is in head_start order (entries are appended with the current
 * time), so the walk stops at the first connection still within time. */
static void *
reaper_main(void *arg)
{
    struct http_conns *cs = arg;
    pthread_mutex_lock(&cs->mutex);
    while (!cs->stop) {
        time_t now = now_s();
        struct http_conn *c = cs->waiting.next;
        while (c != &cs->waiting && now - c->head_start >= (time_t) cs->head_seconds) {
            struct http_conn *next = c->next;
            unlist(c);
            vlog(VLOG_DEBUG, "http", "no request head within %u s: closing",
                 cs->head_seconds);
            shutdown(c->fd, SHUT_RDWR);   /* libmicrohttpd sees EOF, closes */
            c = next;
        }
        struct timespec until;
        clock_gettime(CLOCK_REALTIME, &until);
        until.tv_sec += 1;
        pthread_cond_timedwait(&cs->wake, &cs->mutex, &until);
    }
    pthread_mutex_unlock(&cs->mutex);
    return NULL;
}

struct http_conns *
http_conns_create(unsigned int head_seconds)
{
    struct http_conns *cs = calloc(1, sizeof *cs);
    if (!cs) {
        return NULL;
    }
    pthread_mutex_init(&cs->mutex, NULL);
    pthread_cond_init(&cs->wake, NULL);
    cs->waiting.next = cs->waiting.prev = &cs->waiting;
    cs->head_seconds = head_seconds;
    int error = pthread_create(&cs->reaper, NULL, reaper_main, cs);
    if (error) {
        vlog(VLOG_ERR, "http", "cannot start the connection reaper: %s",
             strerror(error));
        pthread_cond_destroy(&cs->wake);
        pthread_mutex_destroy(&cs->mutex);
        free(cs);
        return NULL;
    }
    return cs;
}

void
http_conns_destroy(struct http_conns *cs)
{
    if (!cs) {
        return;
    }
    pthread_mutex_lock(&cs->mutex);
    cs->stop = true;
    pthread_cond_signal(&cs->wake);
    pthread_mutex_unlock(&cs->mutex);
    pthread_join(cs->reaper, NULL);
    pthread_cond_destroy(&cs->wake);
    pthread_mutex_destroy(&cs->mutex);
    free(cs);
}

void
http_conns_notify(void *cls, struct MHD_Connection *conn, void **socket_context,
                  enum MHD_ConnectionNotificationCode code)
{
    struct http_conns *cs = cls;
    if (code == MHD_CONNECTION_NOTIFY_STARTED) {
        struct http_conn *c = calloc(1, sizeof *c);
        const union MHD_ConnectionInfo *fd = MHD_get_connection_info(
            conn, MHD_CONNECTION_INFO_CONNECTION_FD);
        if (!c || !fd) {
            free(c);      /* this connection goes without a deadline */
            return;
        }
        c->owner = cs;
        c->fd = fd->connect_fd;
        pthread_mutex_lock(&cs->mutex);
        list_waiting(c);
        pthread_mutex_unlock(&cs->mutex);
        *socket_context = c;
    } else if (code == MHD_CONNECTION_NOTIFY_CLOSED && *socket_context) {
        struct http_conn *c = *socket_context;
        pthread_mutex_lock(&cs->mutex);
        unlist(c);
        pthread_mutex_unlock(&cs->mutex);
        if (c->release) {
            c->release(c->held);
        }
        free(c);
        *socket_context = NULL;
    }
}

static struct http_conn *
conn_of(struct MHD_Connection *conn)
{
    const union MHD_ConnectionInfo *info = MHD_get_connection_info(
        conn, MHD_CONNECTION_INFO_SOCKET_CONTEXT);
    return info ? info->socket_context : NULL;
}

void
http_conn_head_done(struct MHD_Connection *conn)
{
    struct http_conn *c = conn_of(conn);
    if (c) {
        pthread_mutex_lock(&c->owner->mutex);
        unlist(c);
        pthread_mutex_unlock(&c->owner->mutex);
    }
}

void
http_conn_next_head(struct MHD_Connection *conn)
{
    struct http_conn *c = conn_of(conn);
    if (c) {
        pthread_mutex_lock(&c->owner->mutex);
        list_waiting(c);
        pthread_mutex_unlock(&c->owner->mutex);
    }
}

bool
http_conn_hold(struct MHD_Connection *conn, void *ref, void (*release)(void *))
{
    struct http_conn *c = conn_of(conn);
    if (!c) {
        return false;
    }
    if (c->release) {
        c->release(c->held);      /* a second handshake on the connection */
    }
    c->held = ref;
    c->release = release;
    return true;
}
