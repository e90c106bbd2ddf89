/* loop.c: see loop.h.
 *
 * Registered fds live in a small array searched by fd (a controller has
 * tens of switches, not thousands); epoll's data carries the fd, and the
 * callback is looked up again for every event, so a callback may remove
 * any fd (its own included) and a stale event finds nothing.  Timers are
 * an unsorted array; run_timers() removes a due timer before calling it,
 * so its callback may re-arm or cancel others.  Posted work is a
 * mutex-protected singly linked FIFO, swapped out whole under the mutex
 * and run outside it, so posted functions may post again. */
#include "ctrl/loop.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

struct loop_fd {
    int fd;
    loop_fd_fn *fn;
    void *aux;
};

struct loop_timer {
    uint64_t id, when;
    loop_fn *fn;
    void *aux;
};

struct loop_work {
    struct loop_work *next;
    loop_fn *fn;
    void *aux;
};

struct loop {
    int ep, wake;
    struct loop_fd *fds;
    size_t n_fds, cap_fds;
    struct loop_timer *timers;
    size_t n_timers, cap_timers;
    uint64_t next_timer_id;
    pthread_mutex_t mutex;
    struct loop_work *head, *tail;
    atomic_bool stop;
};

uint64_t
loop_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t) ts.tv_sec * 1000 + (uint64_t) ts.tv_nsec / 1000000;
}

struct loop *
loop_create(void)
{
    struct loop *l = calloc(1, sizeof *l);
    if (!l) {
        return NULL;
    }
    l->ep = epoll_create1(EPOLL_CLOEXEC);
    l->wake = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    pthread_mutex_init(&l->mutex, NULL);
    struct epoll_event ev = {.events = EPOLLIN, .data.fd = l->wake};
    if (l->ep < 0 || l->wake < 0 || epoll_ctl(l->ep, EPOLL_CTL_ADD, l->wake, &ev)) {
        loop_destroy(l);
        return NULL;
    }
    return l;
}

void
loop_destroy(struct loop *l)
{
    if (!l) {
        return;
    }
    struct loop_work *w = l->head;
    while (w) {
        struct loop_work *next = w->next;
        free(w);
        w = next;
    }
    if (l->ep >= 0) {
        close(l->ep);
    }
    if (l->wake >= 0) {
        close(l->wake);
    }
    pthread_mutex_destroy(&l->mutex);
    free(l->fds);
    free(l->timers);
    free(l);
}

int
loop_add_fd(struct loop *l, int fd, uint32_t events, loop_fd_fn *fn, void *aux)
{
    if (l->n_fds == l->cap_fds) {
        size_t cap = l->cap_fds ? 2 * l->cap_fds : 16;
        struct loop_fd *f = realloc(l->fds, cap * sizeof *f);
        if (!f) {
            return ENOMEM;
        }
        l->fds = f;
        l->cap_fds = cap;
    }
    struct epoll_event ev = {.events = events, .data.fd = fd};
    if (epoll_ctl(l->ep, EPOLL_CTL_ADD, fd, &ev)) {
        return errno;
    }
    l->fds[l->n_fds++] = (struct loop_fd){fd, fn, aux};
    return 0;
}

int
loop_mod_fd(struct loop *l, int fd, uint32_t events)
{
    struct epoll_event ev = {.events = events, .data.fd = fd};
    return epoll_ctl(l->ep, EPOLL_CTL_MOD, fd, &ev) ? errno : 0;
}

void
loop_del_fd(struct loop *l, int fd)
{
    epoll_ctl(l->ep, EPOLL_CTL_DEL, fd, NULL);
    for (size_t i = 0; i < l->n_fds; i++) {
        if (l->fds[i].fd == fd) {
            l->fds[i] = l->fds[--l->n_fds];
            return;
        }
    }
}

uint64_t
loop_timer(struct loop *l, uint64_t when, loop_fn *fn, void *aux)
{
    if (l->n_timers == l->cap_timers) {
        size_t cap = l->cap_timers ? 2 * l->cap_timers : 16;
        struct loop_timer *t = realloc(l->timers, cap * sizeof *t);
        if (!t) {
            return 0;
        }
        l->timers = t;
        l->cap_timers = cap;
    }
    uint64_t id = ++l->next_timer_id;
    l->timers[l->n_timers++] = (struct loop_timer){id, when, fn, aux};
    return id;
}

void
loop_timer_cancel(struct loop *l, uint64_t id)
{
    for (size_t i = 0; i < l->n_timers; i++) {
        if (l->timers[i].id == id) {
            l->timers[i] = l->timers[--l->n_timers];
            return;
        }
    }
}

int
loop_post(struct loop *l, loop_fn *fn, void *aux)
{
    struct loop_work *w = malloc(sizeof *w);
    if (!w) {
        return ENOMEM;
    }
    *w = (struct loop_work){NULL, fn, aux};
    pthread_mutex_lock(&l->mutex);
    bool was_empty = !l->head;
    if (l->tail) {
        l->tail->next = w;
    } else {
        l->head = w;
    }
    l->tail = w;
    pthread_mutex_unlock(&l->mutex);
    if (was_empty) {
        /* Only the first job needs a wakeup: run_posted() takes the whole
         * queue after reading the eventfd. */
        uint64_t one = 1;
        ssize_t n = write(l->wake, &one, sizeof one);
        (void) n;
    }
    return 0;
}

void
loop_stop(struct loop *l)
{
    atomic_store(&l->stop, true);
    uint64_t one = 1;
    ssize_t n = write(l->wake, &one, sizeof one);
    (void) n;
}

static void
run_posted(struct loop *l)
{
    uint64_t count;
    ssize_t n = read(l->wake, &count, sizeof count);
    (void) n;
    pthread_mutex_lock(&l->mutex);
    struct loop_work *w = l->head;
    l->head = l->tail = NULL;
    pthread_mutex_unlock(&l->mutex);
    while (w) {
        struct loop_work *next = w->next;
        w->fn(l, w->aux);
        free(w);
        w = next;
    }
}

static void
run_timers(struct loop *l)
{
    uint64_t now = loop_now_ms();
    for (size_t i = 0; i < l->n_timers;) {
        if (l->timers[i].when <= now) {
            struct loop_timer t = l->timers[i];
            l->timers[i] = l->timers[--l->n_timers];
            t.fn(l, t.aux);          /* may add or cancel timers */
            i = 0;
        } else {
            i++;
        }
    }
}

int
loop_run_once(struct loop *l, int max_wait_ms)
{
    struct epoll_event evs[64];
    int timeout = max_wait_ms;
    uint64_t now = loop_now_ms();
    for (size_t i = 0; i < l->n_timers; i++) {
        int64_t d = (int64_t) (l->timers[i].when - now);
        if (d < timeout) {
            timeout = d < 0 ? 0 : (int) d;
        }
    }
    int n = epoll_wait(l->ep, evs, 64, timeout);
    for (int i = 0; i < n; i++) {
        int fd = evs[i].data.fd;
        if (fd == l->wake) {
            run_posted(l);
            continue;
        }
        /* Looked up each time: an earlier callback may have removed it. */
        for (size_t k = 0; k < l->n_fds; k++) {
            if (l->fds[k].fd == fd) {
                l->fds[k].fn(l, fd, evs[i].events, l->fds[k].aux);
                break;
            }
        }
    }
    run_timers(l);
    return n < 0 ? 0 : n;
}

void
loop_run(struct loop *l)
{
    while (!atomic_load(&l->stop)) {
        loop_run_once(l, 1000);
    }
}
