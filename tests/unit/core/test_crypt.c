/* Envelope encryption (core/crypt.h): round trips, tamper detection (wrong owner, column, key
 * version, flipped byte), plaintext pass-through, blind index, key destruction, master-key
 * rotation and a wrong master key. Runs on a throwaway SQLite key store. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "core/crypt.h"
#include "store/keys.h"
#include "util/config.h"

#define KEY_A "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
#define KEY_B "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb"

static char dir[256];

static int open_with(const char *master)
{
    struct fg_config cfg;
    char err[512], url[400];
    snprintf(url, sizeof url, "sqlite://%s/forge.db", dir);
    setenv("DATABASE_URL", url, 1);
    setenv("FORGE_ENV_FILE", "/dev/null", 1);
    if (master)
        setenv("FORGE_MASTER_KEY", master, 1);
    else
        unsetenv("FORGE_MASTER_KEY");
    if (fg_config_load(&cfg, NULL, err, sizeof err) != 0) {
        fprintf(stderr, "config: %s\n", err);
        return -1;
    }
    int rc = fg_crypt_open(&cfg, err, sizeof err);
    if (rc != 0)
        fprintf(stderr, "crypt open (expected in some tests): %s\n", err);
    fg_config_free(&cfg);
    return rc;
}

static int setup(void **state)
{
    (void)state;
    snprintf(dir, sizeof dir, "/tmp/forge-crypt-XXXXXX");
    if (!mkdtemp(dir))
        return -1;
    unsetenv("FORGE_MASTER_KEY_NEW");
    return open_with(KEY_A);
}

static int teardown(void **state)
{
    (void)state;
    fg_crypt_close();
    char cmd[400];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    return system(cmd) == 0 ? 0 : -1;
}

static void test_round_trip_and_format(void **state)
{
    (void)state;
    char s[512], p[256];
    assert_int_equal(fg_crypt_seal("u1", "users.email", "ann@example.org", 15, s, sizeof s), 0);
    assert_true(fg_crypt_is_sealed(s));
    assert_true(strncmp(s, "$fe1$u1$1$", 10) == 0);
    assert_null(strstr(s, "ann"));
    assert_int_equal(fg_crypt_unseal("users.email", s, p, sizeof p), 0);
    assert_string_equal(p, "ann@example.org");
    /* two seals of the same value differ (random nonce) */
    char s2[512];
    assert_int_equal(fg_crypt_seal("u1", "users.email", "ann@example.org", 15, s2, sizeof s2), 0);
    assert_string_not_equal(s, s2);
    /* too small an output buffer is refused, not truncated */
    char tiny[20];
    assert_int_equal(fg_crypt_seal("u1", "users.email", "ann@example.org", 15, tiny, sizeof tiny),
                     -1);
    char owner[80];
    assert_int_equal(fg_crypt_sealed_owner(s, owner, sizeof owner), 0);
    assert_string_equal(owner, "u1");
}

static void test_plaintext_passes_through(void **state)
{
    (void)state;
    char p[64];
    assert_int_equal(fg_crypt_unseal("users.display_name", "Plain Name", p, sizeof p), 0);
    assert_string_equal(p, "Plain Name");
    assert_false(fg_crypt_is_sealed("Plain Name"));
}

static void test_tamper_detection(void **state)
{
    (void)state;
    char s[512], p[256], t[600];
    assert_int_equal(fg_crypt_seal("u2", "users.display_name", "Bea", 3, s, sizeof s), 0);
    char other[512];
    assert_int_equal(fg_crypt_seal("u3", "users.display_name", "Cy", 2, other, sizeof other), 0);
    /* wrong column (associated data) */
    assert_int_equal(fg_crypt_unseal("users.email", s, p, sizeof p), -1);
    assert_string_equal(p, "");
    /* wrong owner: the same ciphertext claimed for another user (whose key exists) */
    snprintf(t, sizeof t, "$fe1$u3%s", s + strlen("$fe1$u2"));
    assert_int_equal(fg_crypt_unseal("users.display_name", t, p, sizeof p), -1);
    /* wrong data-key version */
    snprintf(t, sizeof t, "%s", s);
    char *v = strstr(t, "$1$");
    assert_non_null(v);
    v[1] = '2';
    assert_int_equal(fg_crypt_unseal("users.display_name", t, p, sizeof p), -1);
    /* a flipped ciphertext character */
    snprintf(t, sizeof t, "%s", s);
    size_t n = strlen(t);
    t[n - 3] = t[n - 3] == 'A' ? 'B' : 'A';
    assert_int_equal(fg_crypt_unseal("users.display_name", t, p, sizeof p), -1);
    /* truncated */
    snprintf(t, sizeof t, "%.*s", (int)(n - 10), s);
    assert_int_equal(fg_crypt_unseal("users.display_name", t, p, sizeof p), -1);
    /* unknown owner */
    snprintf(t, sizeof t, "$fe1$nobody%s", s + strlen("$fe1$u2"));
    assert_int_equal(fg_crypt_unseal("users.display_name", t, p, sizeof p), -1);
    /* the original still opens */
    assert_int_equal(fg_crypt_unseal("users.display_name", s, p, sizeof p), 0);
    assert_string_equal(p, "Bea");
}

static void test_blind_index(void **state)
{
    (void)state;
    char a[65], b[65], c[65];
    assert_int_equal(fg_crypt_blind_index("Ann@Example.org", a), 0);
    assert_int_equal(fg_crypt_blind_index("ann@example.org", b), 0);
    assert_int_equal(fg_crypt_blind_index("ann@example.com", c), 0);
    assert_int_equal(strlen(a), 64);
    assert_string_equal(a, b);
    assert_string_not_equal(a, c);
    assert_null(strchr(a, '@'));
}

static void test_destroyed_key_shreds(void **state)
{
    (void)state;
    char s[512], p[256];
    assert_int_equal(fg_crypt_seal("u9", "users.email", "gone@example.org", 16, s, sizeof s), 0);
    assert_int_equal(fg_crypt_unseal("users.email", s, p, sizeof p), 0);
    assert_int_equal(fg_crypt_destroy_key("u9"), FG_OK);
    assert_int_equal(fg_crypt_unseal("users.email", s, p, sizeof p), -1);
    assert_int_equal(fg_crypt_destroy_key("u9"), FG_ENOTFOUND);
}

static void test_rotation_and_wrong_master(void **state)
{
    (void)state;
    char s[512], p[256], bidx1[65], bidx2[65];
    assert_int_equal(fg_crypt_seal("u5", "audit.client_ip", "192.0.2.1", 9, s, sizeof s), 0);
    assert_int_equal(fg_crypt_blind_index("x@example.org", bidx1), 0);
    int before = fg_crypt_kek_version();
    long long n = 0;
    char err[256];
    assert_int_equal(fg_crypt_rotate(KEY_A, &n, err, sizeof err), -1); /* same key refused */
    assert_int_equal(fg_crypt_rotate(KEY_B, &n, err, sizeof err), 0);
    assert_true(n >= 3); /* u1, u2, u3, u5, _bidx ... */
    assert_int_equal(fg_crypt_kek_version(), before + 1);
    /* running it again is a no-op: every key is already on the new version */
    assert_int_equal(fg_crypt_rotate(KEY_B, &n, err, sizeof err), 0);
    fg_crypt_close();
    /* the old master key no longer opens the key store */
    assert_int_equal(open_with(KEY_A), -1);
    assert_false(fg_crypt_ready());
    /* the new one does, and every value still opens; the blind index is unchanged */
    assert_int_equal(open_with(KEY_B), 0);
    assert_int_equal(fg_crypt_unseal("audit.client_ip", s, p, sizeof p), 0);
    assert_string_equal(p, "192.0.2.1");
    assert_int_equal(fg_crypt_blind_index("x@example.org", bidx2), 0);
    assert_string_equal(bidx1, bidx2);
    /* keys created after the rotation are wrapped with the new version and open again after a
     * reopen (no cache) */
    assert_int_equal(fg_crypt_seal("u6", "users.email", "new@example.org", 15, s, sizeof s), 0);
    fg_crypt_close();
    assert_int_equal(open_with(KEY_B), 0);
    assert_int_equal(fg_crypt_unseal("users.email", s, p, sizeof p), 0);
    assert_string_equal(p, "new@example.org");
}

/* What encryption adds to a login by email: the blind index, then opening email, display name and
 * MFA secret (keys cached, as on a running server). Budget: 1 ms beyond Argon2 (issue 14). */
static void test_login_overhead(void **state)
{
    (void)state;
    char e[512], d[512], m[512], p[512], bidx[65];
    assert_int_equal(fg_crypt_seal("u7", "users.email", "fast@example.org", 16, e, sizeof e), 0);
    assert_int_equal(fg_crypt_seal("u7", "users.display_name", "Fast Person", 11, d, sizeof d), 0);
    assert_int_equal(fg_crypt_seal("u7", "users.mfa_secret", "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP", 32,
                                   m, sizeof m),
                     0);
    enum { N = 2000 };
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    for (int i = 0; i < N; i++) {
        assert_int_equal(fg_crypt_blind_index("Fast@Example.org", bidx), 0);
        assert_int_equal(fg_crypt_unseal("users.email", e, p, sizeof p), 0);
        assert_int_equal(fg_crypt_unseal("users.display_name", d, p, sizeof p), 0);
        assert_int_equal(fg_crypt_unseal("users.mfa_secret", m, p, sizeof p), 0);
    }
    clock_gettime(CLOCK_MONOTONIC, &t1);
    double us =
        ((double)(t1.tv_sec - t0.tv_sec) * 1e6 + (double)(t1.tv_nsec - t0.tv_nsec) / 1e3) / N;
    printf("crypt login overhead: %.2f us per login (blind index + 3 opens)\n", us);
    assert_true(us < 1000.0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_round_trip_and_format),
        cmocka_unit_test(test_plaintext_passes_through),
        cmocka_unit_test(test_tamper_detection),
        cmocka_unit_test(test_blind_index),
        cmocka_unit_test(test_destroyed_key_shreds),
        cmocka_unit_test(test_login_overhead),
        cmocka_unit_test(test_rotation_and_wrong_master),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
