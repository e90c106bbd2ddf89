/* test_loop.c: ctrl/loop.c — fd callbacks, timers (order, cancel, re-arm
 * from a callback), posting from another thread, stop from another thread. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <pthread.h>
#include <sys/epoll.h>
#include <unistd.h>

#include "ctrl/loop.h"

static char order[16];
static size_t n_order;

static void
mark(struct loop *l, void *aux)
{
    (void) l;
    order[n_order++] = *(const char *) aux;
}

static void
test_timers_fire_in_time_order_and_cancel(void **state)
{
    (void) state;
    struct loop *l = loop_create();
    assert_non_null(l);
    n_order = 0;
    uint64_t now = loop_now_ms();
    loop_timer(l, now + 30, mark, "c");
    loop_timer(l, now + 10, mark, "a");
    uint64_t gone = loop_timer(l, now + 20, mark, "x");
    loop_timer(l, now + 20, mark, "b");
    loop_timer_cancel(l, gone);
    while (n_order < 3 && loop_now_ms() < now + 1000) {
        loop_run_once(l, 50);
    }
    assert_int_equal(n_order, 3);
    assert_memory_equal(order, "abc", 3);
    assert_true(loop_now_ms() >= now + 30);
    loop_destroy(l);
}

static int reads;

static void
on_readable(struct loop *l, int fd, uint32_t events, void *aux)
{
    (void) aux;
    assert_true(events & EPOLLIN);
    char c;
    assert_int_equal(read(fd, &c, 1), 1);
    if (++reads == 2) {
        loop_del_fd(l, fd);         /* removing itself inside its callback */
    }
}

static void
test_fd_callbacks_and_removal(void **state)
{
    (void) state;
    struct loop *l = loop_create();
    int p[2];
    assert_int_equal(pipe(p), 0);
    reads = 0;
    assert_int_equal(loop_add_fd(l, p[0], EPOLLIN, on_readable, NULL), 0);
    assert_int_equal(write(p[1], "xyz", 3), 3);
    for (int i = 0; i < 10; i++) {
        loop_run_once(l, 10);
    }
    assert_int_equal(reads, 2);    /* third byte never read: fd removed */
    close(p[0]);
    close(p[1]);
    loop_destroy(l);
}

struct poster {
    struct loop *l;
    int count;                      /* touched on the loop thread only */
};

static void
bump(struct loop *l, void *aux)
{
    struct poster *ps = aux;
    if (++ps->count == 1000) {
        loop_stop(l);
    }
}

static void *
post_many(void *aux)
{
    struct poster *ps = aux;
    for (int i = 0; i < 1000; i++) {
        assert_int_equal(loop_post(ps->l, bump, ps), 0);
    }
    return NULL;
}

static void
test_post_from_other_thread_runs_on_loop(void **state)
{
    (void) state;
    struct poster ps = {.l = loop_create()};
    pthread_t t;
    pthread_create(&t, NULL, post_many, &ps);
    loop_run(ps.l);                 /* returns once the 1000th job stopped it */
    pthread_join(t, NULL);
    assert_int_equal(ps.count, 1000);
    loop_destroy(ps.l);
}

static void *
run_thread(void *aux)
{
    loop_run(aux);
    return NULL;
}

static void
test_stop_from_other_thread(void **state)
{
    (void) state;
    struct loop *l = loop_create();
    pthread_t t;
    pthread_create(&t, NULL, run_thread, l);
    usleep(20000);
    uint64_t t0 = loop_now_ms();
    loop_stop(l);                   /* wakes epoll_wait at once */
    pthread_join(t, NULL);
    assert_true(loop_now_ms() - t0 < 500);
    loop_destroy(l);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_timers_fire_in_time_order_and_cancel),
        cmocka_unit_test(test_fd_callbacks_and_removal),
        cmocka_unit_test(test_post_from_other_thread_runs_on_loop),
        cmocka_unit_test(test_stop_from_other_thread),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
