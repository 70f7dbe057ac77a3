/* The bounded job pool behind HTTP_OFFLOAD routes (issue 11, finding 8): capacity, refusal when
 * full, every queued job run before stop returns. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#include "http/offload.h"

static int gate_open;
static int ran;

static void blocking_job(void *arg)
{
    (void)arg;
    while (!__atomic_load_n(&gate_open, __ATOMIC_ACQUIRE)) {
        struct timespec ts = {0, 1000000};
        nanosleep(&ts, NULL);
    }
    __atomic_add_fetch(&ran, 1, __ATOMIC_ACQ_REL);
}

static void wait_depth(struct http_pool *p, unsigned want)
{
    for (int i = 0; i < 5000 && http_pool_depth(p) != want; i++) {
        struct timespec ts = {0, 1000000};
        nanosleep(&ts, NULL);
    }
    assert_int_equal(http_pool_depth(p), want);
}

static void test_bounded_queue(void **state)
{
    (void)state;
    gate_open = 0;
    ran = 0;
    struct http_pool *p = http_pool_start(2, 3);
    assert_non_null(p);
    /* 2 run (blocked) + 3 wait; the 6th is refused at once */
    for (int i = 0; i < 5; i++) {
        assert_int_equal(http_pool_reserve(p), 0);
        http_pool_push(p, blocking_job, NULL);
        if (i == 1) /* both threads have taken a job: the queue is empty again */
            for (int k = 0; k < 5000 && http_pool_waiting(p) != 0; k++) {
                struct timespec ts = {0, 1000000};
                nanosleep(&ts, NULL);
            }
    }
    wait_depth(p, 5);
    assert_int_equal(http_pool_waiting(p), 3);
    assert_int_equal(http_pool_reserve(p), -1);
    unsigned ra = http_pool_retry_after_s(p);
    assert_true(ra >= 1 && ra <= 30);
    __atomic_store_n(&gate_open, 1, __ATOMIC_RELEASE);
    wait_depth(p, 0);
    assert_int_equal(ran, 5);
    /* room again */
    assert_int_equal(http_pool_reserve(p), 0);
    http_pool_push(p, blocking_job, NULL);
    http_pool_stop(p);
    assert_int_equal(ran, 6);
}

static void test_stop_runs_queued_jobs(void **state)
{
    (void)state;
    gate_open = 1;
    ran = 0;
    struct http_pool *p = http_pool_start(1, 50);
    for (int i = 0; i < 50; i++) {
        assert_int_equal(http_pool_reserve(p), 0);
        http_pool_push(p, blocking_job, NULL);
    }
    http_pool_stop(p); /* the server relies on this: every suspended connection gets resumed */
    assert_int_equal(ran, 50);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_bounded_queue),
        cmocka_unit_test(test_stop_runs_queued_jobs),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
