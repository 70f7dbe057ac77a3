/* Rate limiting: window math, decisions, per-subject counting over the in-process shared state,
 * limits by trust; and the in-process shared state itself (TTL, NX, eviction bound, atomicity). */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#include "core/authz.h"
#include "core/ratelimit.h"
#include "core/shared_state.h"
#include "util/config.h"

static void test_window_math(void **state)
{
    (void)state;
    int64_t idx, left;
    fg_rate_window(0, 60000, &idx, &left);
    assert_int_equal(idx, 0);
    assert_int_equal(left, 60000);
    fg_rate_window(59999, 60000, &idx, &left);
    assert_int_equal(idx, 0);
    assert_int_equal(left, 1);
    fg_rate_window(60000, 60000, &idx, &left);
    assert_int_equal(idx, 1);
    assert_int_equal(left, 60000);
    fg_rate_window(1800000012345LL, 60000, &idx, &left);
    assert_int_equal(idx, 30000000);
    assert_int_equal(left, 60000 - 12345);
}

static void test_decide(void **state)
{
    (void)state;
    struct fg_rate_result r;
    fg_rate_decide(1, 5, 60000, &r);
    assert_true(r.allowed);
    assert_int_equal(r.remaining, 4);
    assert_int_equal(r.limit, 5);
    assert_int_equal(r.reset_s, 60);
    fg_rate_decide(5, 5, 1500, &r);
    assert_true(r.allowed);
    assert_int_equal(r.remaining, 0);
    assert_int_equal(r.reset_s, 2); /* rounded up */
    fg_rate_decide(6, 5, 1, &r);    /* limit + 1 */
    assert_false(r.allowed);
    assert_int_equal(r.remaining, 0);
    assert_int_equal(r.reset_s, 1);
    assert_int_equal(r.retry_after_s, 1);
    fg_rate_decide(100, 5, 0, &r);
    assert_int_equal(r.reset_s, 1); /* never 0 */
}

static void test_check_counts_per_subject_and_window(void **state)
{
    (void)state;
    struct fg_shared_state *ss = fg_ss_mem_new(0);
    struct fg_rate_result r;
    int64_t now = 1800000000000LL + 1000;
    for (int i = 1; i <= 3; i++) {
        assert_int_equal(fg_rate_check(ss, "u:a", 3, now, &r), FG_OK);
        assert_true(r.allowed);
        assert_int_equal(r.remaining, 3 - i);
    }
    assert_int_equal(fg_rate_check(ss, "u:a", 3, now + 5000, &r), FG_OK);
    assert_false(r.allowed); /* 4th in the same window */
    assert_int_equal(r.reset_s, 54);
    assert_int_equal(fg_rate_check(ss, "u:b", 3, now, &r), FG_OK);
    assert_true(r.allowed); /* another subject */
    assert_int_equal(fg_rate_check(ss, "u:a", 3, now + 60000, &r), FG_OK);
    assert_true(r.allowed); /* next window */
    assert_int_equal(r.remaining, 2);
    fg_ss_close(ss);
}

static void test_limits_by_trust(void **state)
{
    (void)state;
    struct fg_config c;
    memset(&c, 0, sizeof c);
    c.rate_limit_core = 10000;
    c.rate_limit_trusted = 2000;
    c.rate_limit_standard = 1000;
    c.rate_limit_sandbox = 100;
    c.rate_limit_quarantine = 10;
    assert_int_equal(fg_rate_limit_for_trust(&c, FG_TRUST_CORE), 10000);
    assert_int_equal(fg_rate_limit_for_trust(&c, FG_TRUST_TRUSTED), 2000);
    assert_int_equal(fg_rate_limit_for_trust(&c, FG_TRUST_STANDARD), 1000);
    assert_int_equal(fg_rate_limit_for_trust(&c, FG_TRUST_SANDBOX), 100);
    assert_int_equal(fg_rate_limit_for_trust(&c, FG_TRUST_QUARANTINE), 10);
    assert_int_equal(fg_rate_limit_for_trust(&c, 79), 1000); /* between levels: the lower */
}

static void sleep_ms(long ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000};
    nanosleep(&ts, NULL);
}

static void test_mem_state_ops(void **state)
{
    (void)state;
    struct fg_shared_state *ss = fg_ss_mem_new(0);
    int64_t n = 0, ttl = 0;
    int found = 0, stored = 0;
    char buf[32];
    assert_string_equal(ss->ops->name, "memory");
    assert_int_equal(fg_ss_incr(ss, "k", 10000, &n, &ttl), FG_OK);
    assert_int_equal(n, 1);
    assert_true(ttl > 9000 && ttl <= 10000);
    assert_int_equal(fg_ss_incr(ss, "k", 999999, &n, &ttl), FG_OK);
    assert_int_equal(n, 2);
    assert_true(ttl <= 10000); /* an existing key keeps its TTL */
    assert_int_equal(fg_ss_get(ss, "k", buf, sizeof buf, &found, NULL), FG_OK);
    assert_true(found);
    assert_string_equal(buf, "2");
    /* SET NX only when absent; plain SET overwrites */
    assert_int_equal(fg_ss_set(ss, "s", "one", 10000, 1, &stored), FG_OK);
    assert_true(stored);
    assert_int_equal(fg_ss_set(ss, "s", "two", 10000, 1, &stored), FG_OK);
    assert_false(stored);
    fg_ss_get(ss, "s", buf, sizeof buf, &found, NULL);
    assert_string_equal(buf, "one");
    fg_ss_set(ss, "s", "three", 10000, 0, &stored);
    fg_ss_get(ss, "s", buf, sizeof buf, &found, NULL);
    assert_string_equal(buf, "three");
    assert_int_equal(fg_ss_incr(ss, "s", 1000, &n, NULL), FG_EINVAL); /* not an integer */
    /* DEL, expiry */
    fg_ss_del(ss, "s");
    fg_ss_get(ss, "s", buf, sizeof buf, &found, NULL);
    assert_false(found);
    assert_int_equal(fg_ss_del(ss, "absent"), FG_OK);
    fg_ss_set(ss, "short", "x", 20, 0, NULL);
    sleep_ms(40);
    fg_ss_get(ss, "short", buf, sizeof buf, &found, NULL);
    assert_false(found);
    assert_int_equal(fg_ss_incr(ss, "short", 1000, &n, NULL), FG_OK);
    assert_int_equal(n, 1); /* expired counters start again */
    /* bad input */
    char longkey[FG_SS_MAX_KEY + 2];
    memset(longkey, 'k', sizeof longkey - 1);
    longkey[sizeof longkey - 1] = '\0';
    assert_int_equal(fg_ss_set(ss, longkey, "x", 1000, 0, NULL), FG_EINVAL);
    assert_int_equal(fg_ss_set(ss, "", "x", 1000, 0, NULL), FG_EINVAL);
    assert_int_equal(fg_ss_set(ss, "z", "x", 0, 0, NULL), FG_EINVAL);
    fg_ss_close(ss);
}

static void test_mem_state_bounded(void **state)
{
    (void)state;
    struct fg_shared_state *ss = fg_ss_mem_new(64);
    char key[32];
    for (int i = 0; i < 1000; i++) {
        snprintf(key, sizeof key, "key:%d", i);
        assert_int_equal(fg_ss_set(ss, key, "v", 60000 + i, 0, NULL), FG_OK);
        assert_true(fg_ss_mem_size(ss) <= 64);
    }
    assert_int_equal(fg_ss_mem_size(ss), 64);
    /* the most recent (longest-lived) key survived */
    int found = 0;
    fg_ss_get(ss, "key:999", NULL, 0, &found, NULL);
    assert_true(found);
    fg_ss_close(ss);
}

static struct fg_shared_state *g_ss;

static void *incr_many(void *arg)
{
    (void)arg;
    int64_t n;
    for (int i = 0; i < 20000; i++)
        fg_ss_incr(g_ss, "counter", 60000, &n, NULL);
    return NULL;
}

static void test_mem_state_atomic_incr(void **state)
{
    (void)state;
    g_ss = fg_ss_mem_new(0);
    pthread_t t[4];
    for (int i = 0; i < 4; i++)
        pthread_create(&t[i], NULL, incr_many, NULL);
    for (int i = 0; i < 4; i++)
        pthread_join(t[i], NULL);
    char buf[32];
    int found = 0;
    fg_ss_get(g_ss, "counter", buf, sizeof buf, &found, NULL);
    assert_string_equal(buf, "80000");
    fg_ss_close(g_ss);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_window_math),
        cmocka_unit_test(test_decide),
        cmocka_unit_test(test_check_counts_per_subject_and_window),
        cmocka_unit_test(test_limits_by_trust),
        cmocka_unit_test(test_mem_state_ops),
        cmocka_unit_test(test_mem_state_bounded),
        cmocka_unit_test(test_mem_state_atomic_incr),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
