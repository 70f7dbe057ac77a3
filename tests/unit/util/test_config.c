/* Configuration loader: defaults, .env, environment precedence, validation messages. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "util/config.h"

static const char *const vars_to_clear[] = {
    "PORT",    "LOG_LEVEL",    "ENVIRONMENT",    "JWT_SECRET", "FORGE_MASTER_KEY",
    "WORKERS", "DATABASE_URL", "FORGE_ENV_FILE", "DEBUG",      "SEARCH_MIN_SCORE",
    NULL};

static int setup(void **state)
{
    (void)state;
    for (size_t i = 0; vars_to_clear[i]; i++)
        unsetenv(vars_to_clear[i]);
    return 0;
}

static void test_defaults(void **state)
{
    (void)state;
    struct fg_config c;
    char err[256];
    assert_int_equal(fg_config_load(&c, "/nonexistent/.env-none", err, sizeof err), -1);
    assert_non_null(strstr(err, "FORGE_ENV_FILE"));
    setenv("FORGE_ENV_FILE", "/dev/null", 1);
    assert_int_equal(fg_config_load(&c, NULL, err, sizeof err), 0);
    assert_int_equal(c.port, 8000);
    assert_string_equal(c.host, "127.0.0.1");
    assert_int_equal(c.environment, FG_ENV_DEVELOPMENT);
    assert_int_equal(c.max_body_bytes, 2 * 1024 * 1024);
    assert_string_equal(c.database_url, "sqlite:///./data/forge.db");
    assert_true(c.jwt_secret_ephemeral);
    assert_true(strlen(c.jwt_secret) >= 32);
    assert_true(c.workers >= 2);
    fg_config_free(&c);
}

static void expect_error(const char *var, const char *value, const char *needle)
{
    struct fg_config c;
    char err[256] = "";
    setenv("FORGE_ENV_FILE", "/dev/null", 1);
    setenv(var, value, 1);
    int rc = fg_config_load(&c, NULL, err, sizeof err);
    unsetenv(var);
    if (rc == 0)
        fg_config_free(&c);
    assert_int_equal(rc, -1);
    if (!strstr(err, needle))
        fail_msg("message '%s' lacks '%s'", err, needle);
    assert_int_equal(strncmp(err, var, strlen(var)), 0); /* names the variable first */
}

static void test_bad_values(void **state)
{
    (void)state;
    expect_error("PORT", "abc", "between 1 and 65535");
    expect_error("PORT", "70000", "between 1 and 65535");
    expect_error("PORT", "80x", "integer");
    expect_error("LOG_LEVEL", "loud", "debug, info, warning, error");
    expect_error("ENVIRONMENT", "prod", "development, staging, production");
    expect_error("DEBUG", "maybe", "true or false");
    expect_error("WORKERS", "-1", "between 0 and 256");
    expect_error("DATABASE_URL", "mysql://x", "sqlite:///path");
    expect_error("FORGE_MASTER_KEY", "short", "64 hexadecimal");
    expect_error("SEARCH_MIN_SCORE", "nan", "number");
}

static void test_production_rules(void **state)
{
    (void)state;
    struct fg_config c;
    char err[256];
    setenv("FORGE_ENV_FILE", "/dev/null", 1);
    setenv("ENVIRONMENT", "production", 1);
    assert_int_equal(fg_config_load(&c, NULL, err, sizeof err), -1);
    assert_non_null(strstr(err, "JWT_SECRET"));
    setenv("JWT_SECRET", "too-short", 1);
    assert_int_equal(fg_config_load(&c, NULL, err, sizeof err), -1);
    assert_non_null(strstr(err, "32 bytes"));
    setenv("JWT_SECRET", "0123456789abcdef0123456789abcdef", 1);
    assert_int_equal(fg_config_load(&c, NULL, err, sizeof err), -1);
    assert_non_null(strstr(err, "FORGE_MASTER_KEY"));
    setenv("FORGE_MASTER_KEY", "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff",
           1);
    assert_int_equal(fg_config_load(&c, NULL, err, sizeof err), 0);
    assert_false(c.jwt_secret_ephemeral);
    fg_config_free(&c);
}

static void test_env_file_and_precedence(void **state)
{
    (void)state;
    char path[] = "/tmp/forge-env-XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    const char *text = "# comment\n\nexport PORT=9001\nLOG_LEVEL = \"debug\"\nUNKNOWN_X=1\n"
                       "JWT_SECRET='abc def'\n";
    assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
    close(fd);
    struct fg_config c;
    char err[256];
    assert_int_equal(fg_config_load(&c, path, err, sizeof err), 0);
    assert_int_equal(c.port, 9001);
    assert_int_equal(c.log_level, 0);
    assert_string_equal(c.jwt_secret, "abc def");
    fg_config_free(&c);
    setenv("PORT", "9002", 1); /* environment wins over .env */
    assert_int_equal(fg_config_load(&c, path, err, sizeof err), 0);
    assert_int_equal(c.port, 9002);
    fg_config_free(&c);
    unsetenv("PORT");
    unlink(path);
}

static void test_print_masks_secrets(void **state)
{
    (void)state;
    struct fg_config c;
    char err[256];
    setenv("FORGE_ENV_FILE", "/dev/null", 1);
    setenv("JWT_SECRET", "super-secret-value-0123456789-abcdef", 1);
    setenv("DATABASE_URL", "postgresql://forge:hunter2@db:5432/forge", 1);
    assert_int_equal(fg_config_load(&c, NULL, err, sizeof err), 0);
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    fg_config_print(&c, f);
    fclose(f);
    assert_null(strstr(buf, "super-secret-value"));
    assert_null(strstr(buf, "hunter2"));
    assert_non_null(strstr(buf, "postgresql://forge:******@db:5432/forge"));
    assert_non_null(strstr(buf, "PORT"));
    free(buf);
    char val[64];
    assert_int_equal(fg_config_set(&c, "RATE_LIMIT_STANDARD", "5", err, sizeof err), 0);
    assert_int_equal(c.rate_limit_standard, 5);
    assert_int_equal(fg_config_set(&c, "RATE_LIMIT_STANDARD", "0", err, sizeof err), -1);
    assert_int_equal(fg_config_get(&c, "RATE_LIMIT_STANDARD", val, sizeof val), 0);
    assert_string_equal(val, "5");
    assert_int_equal(fg_config_set(&c, "NOPE", "1", err, sizeof err), -1);
    unsetenv("JWT_SECRET");
    unsetenv("DATABASE_URL");
    fg_config_free(&c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup(test_defaults, setup),
        cmocka_unit_test_setup(test_bad_values, setup),
        cmocka_unit_test_setup(test_production_rules, setup),
        cmocka_unit_test_setup(test_env_file_and_precedence, setup),
        cmocka_unit_test_setup(test_print_masks_secrets, setup),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
