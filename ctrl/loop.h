/* loop.h: a small epoll event loop with timers and cross-thread posting
 * (in the spirit of Redis's ae.c).
 *
 * One thread runs loop_run() (ctrl/ofctl.c starts it in its own pthread);
 * it owns every fd registered here and calls their callbacks.  Other
 * threads talk to it only through loop_post(), which queues a function to
 * run on the loop thread, in FIFO order, and wakes it (eventfd); and
 * loop_stop(), which makes loop_run() return.  Timers are one-shot, in
 * monotonic milliseconds, checked after each wait; there are few of them
 * (one per connection), so a linear scan is fine.
 *
 * Invariants: every function but loop_post(), loop_stop() and
 * loop_now_ms() is called on the loop thread only (or before the thread
 * starts / after it returned); callbacks never block. */
#ifndef SKYVISOR_CTRL_LOOP_H
#define SKYVISOR_CTRL_LOOP_H

#include <stdbool.h>
#include <stdint.h>

struct loop;
typedef void loop_fd_fn(struct loop *, int fd, uint32_t events, void *aux);
typedef void loop_fn(struct loop *, void *aux);

/* Returns NULL on failure (errno set).  The caller owns it (loop_destroy,
 * after the loop thread has returned from loop_run; work still queued is
 * freed without running). */
struct loop *loop_create(void);
void loop_destroy(struct loop *);

/* Loop thread only. */
int loop_add_fd(struct loop *, int fd, uint32_t events, loop_fd_fn *, void *aux);
int loop_mod_fd(struct loop *, int fd, uint32_t events);
void loop_del_fd(struct loop *, int fd);
/* Arms a one-shot timer at monotonic time 'when_ms' (loop_now_ms()
 * clock); returns its id, or 0 if out of memory. */
uint64_t loop_timer(struct loop *, uint64_t when_ms, loop_fn *, void *aux);
void loop_timer_cancel(struct loop *, uint64_t id);

/* Any thread: runs fn(aux) on the loop thread soon.  Returns 0 or ENOMEM. */
int loop_post(struct loop *, loop_fn *fn, void *aux);
/* Any thread: makes loop_run() return after the current iteration. */
void loop_stop(struct loop *);
/* Runs until loop_stop(). */
void loop_run(struct loop *);
/* One iteration: waits at most 'max_wait_ms' (less if a timer is due),
 * runs ready fd callbacks, posted work, due timers.  Returns the number of
 * epoll events handled.  For tests that drive the loop by hand. */
int loop_run_once(struct loop *, int max_wait_ms);

uint64_t loop_now_ms(void);

#endif
