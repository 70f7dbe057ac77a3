/*
 * Runtime settings changed by governance (util/config.h: fg_config_check, fg_config_set_runtime):
 * validation without storing, refusal of strings, every whitelisted setting settable, and readers
 * on other threads never seeing anything but an old or a new value while a writer flips it.
 */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "core/governance.h"
#include "util/config.h"

static struct fg_config cfg;

static int setup(void **state)
{
    (void)state;
    char err[256];
    setenv("FORGE_ENV_FILE", "/dev/null", 1);
    unsetenv("DATABASE_URL");
    assert_int_equal(fg_config_load(&cfg, NULL, err, sizeof err), 0);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    fg_config_free(&cfg);
    return 0;
}

static void test_check_and_set(void **state)
{
    (void)state;
    char err[256];
    assert_int_equal(fg_config_check("RATE_LIMIT_SANDBOX", "5", err, sizeof err), 0);
    assert_int_equal(cfg.rate_limit_sandbox, 100); /* nothing stored */
    assert_int_equal(fg_config_check("RATE_LIMIT_SANDBOX", "0", err, sizeof err), -1);
    assert_non_null(strstr(err, "RATE_LIMIT_SANDBOX"));
    assert_int_equal(fg_config_check("NO_SUCH_SETTING", "1", err, sizeof err), -1);

    assert_int_equal(fg_config_set_runtime(&cfg, "RATE_LIMIT_SANDBOX", "5", err, sizeof err), 0);
    assert_int_equal(fg_cfg_ll(&cfg.rate_limit_sandbox), 5);
    assert_int_equal(fg_config_set_runtime(&cfg, "RATE_LIMIT_SANDBOX", "x", err, sizeof err), -1);
    assert_int_equal(cfg.rate_limit_sandbox, 5); /* unchanged on error */
    assert_int_equal(fg_config_set_runtime(&cfg, "SEARCH_MIN_SCORE", "0.5", err, sizeof err), 0);
    assert_true(fg_cfg_dbl(&cfg.search_min_score) == 0.5);
    assert_int_equal(
        fg_config_set_runtime(&cfg, "FEATURE_OVERLAYS_ENABLED", "false", err, sizeof err), 0);
    assert_int_equal(fg_cfg_int(&cfg.feature_overlays), 0);
    char out[64];
    assert_int_equal(fg_config_get(&cfg, "FEATURE_OVERLAYS_ENABLED", out, sizeof out), 0);
    assert_string_equal(out, "false");
    /* strings cannot change while threads read them */
    assert_int_equal(fg_config_set_runtime(&cfg, "HOST", "0.0.0.0", err, sizeof err), -1);
    assert_non_null(strstr(err, "cannot be changed"));
    assert_int_equal(fg_config_set_runtime(&cfg, "EMBEDDING_PROVIDER", "openai", err, sizeof err),
                     -1);
    assert_string_equal(cfg.host, "127.0.0.1");
}

static void test_whitelist_is_runtime_settable(void **state)
{
    (void)state;
    for (size_t i = 0; fg_gov_config_whitelist[i]; i++) {
        assert_true(fg_config_runtime_settable(fg_gov_config_whitelist[i]));
        char cur[128], err[256];
        assert_int_equal(fg_config_get(&cfg, fg_gov_config_whitelist[i], cur, sizeof cur), 0);
        assert_int_equal(
            fg_config_set_runtime(&cfg, fg_gov_config_whitelist[i], cur, err, sizeof err), 0);
    }
    assert_false(fg_gov_config_allowed("FEATURE_GOVERNANCE_ENABLED"));
    assert_false(fg_gov_config_allowed("FEATURE_COMPLIANCE_LOGGING"));
    assert_false(fg_gov_config_allowed("JWT_SECRET"));
}

struct reader {
    int stop;
    long long bad;
    long long reads;
};

static void *reader_main(void *arg)
{
    struct reader *r = arg;
    while (!__atomic_load_n(&r->stop, __ATOMIC_ACQUIRE)) {
        long long v = fg_cfg_ll(&cfg.rate_limit_core);
        double d = fg_cfg_dbl(&cfg.search_min_score);
        if ((v != 1 && v != 10000000) || (d != 0.125 && d != 0.875))
            r->bad++;
        __atomic_fetch_add(&r->reads, 1, __ATOMIC_RELAXED);
    }
    return NULL;
}

static void test_concurrent_readers(void **state)
{
    (void)state;
    char err[256];
    assert_int_equal(fg_config_set_runtime(&cfg, "RATE_LIMIT_CORE", "1", err, sizeof err), 0);
    assert_int_equal(fg_config_set_runtime(&cfg, "SEARCH_MIN_SCORE", "0.125", err, sizeof err), 0);
    struct reader r[3];
    pthread_t th[3];
    memset(r, 0, sizeof r);
    for (int i = 0; i < 3; i++)
        assert_int_equal(pthread_create(&th[i], NULL, reader_main, &r[i]), 0);
    /* keep writing until every reader has raced with the writer a while (a loaded machine may
     * not schedule a reader before a fixed number of writes is over) */
    for (long k = 0; k < 20000000; k++) {
        fg_config_set_runtime(&cfg, "RATE_LIMIT_CORE", k % 2 ? "1" : "10000000", err, sizeof err);
        fg_config_set_runtime(&cfg, "SEARCH_MIN_SCORE", k % 2 ? "0.125" : "0.875", err, sizeof err);
        if (k >= 20000 && __atomic_load_n(&r[0].reads, __ATOMIC_RELAXED) > 1000 &&
            __atomic_load_n(&r[1].reads, __ATOMIC_RELAXED) > 1000 &&
            __atomic_load_n(&r[2].reads, __ATOMIC_RELAXED) > 1000)
            break;
    }
    for (int i = 0; i < 3; i++) {
        __atomic_store_n(&r[i].stop, 1, __ATOMIC_RELEASE);
        pthread_join(th[i], NULL);
        assert_int_equal(r[i].bad, 0);
        assert_true(r[i].reads > 0);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_check_and_set),
        cmocka_unit_test(test_whitelist_is_runtime_settable),
        cmocka_unit_test(test_concurrent_readers),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
