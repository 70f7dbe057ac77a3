/* Passwords: the policy, Argon2id parameters in the encoding, verify, and the bound on
 * concurrent hashes. */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#include "core/password.h"

static int ok(const char *s)
{
    return fg_password_policy_ok(s, strlen(s));
}

static void test_policy(void **state)
{
    (void)state;
    assert_true(ok("Passw0rd"));  /* exactly 8 */
    assert_false(ok("Passw0r"));  /* 7 */
    assert_false(ok("passw0rd")); /* no upper */
    assert_false(ok("PASSW0RD")); /* no lower */
    assert_false(ok("Password")); /* no digit */
    assert_false(ok(""));
    char s[200];
    memset(s, 'a', sizeof s);
    memcpy(s, "A1", 2);
    s[128] = '\0';
    assert_true(ok(s)); /* exactly 128 */
    s[128] = 'a';
    s[129] = '\0';
    assert_false(ok(s)); /* 129 */
    /* characters, not bytes: "é" is 2 bytes but one character */
    assert_true(ok("Aa1\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9")); /* 8 chars, 13 bytes */
    assert_false(ok("Aa1\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9"));        /* 7 chars, 11 bytes */
    /* an embedded NUL is refused */
    assert_false(fg_password_policy_ok("Passw0rd\0x", 10));
    assert_true(fg_password_policy_ok("Passw0rd\0x", 8));
    assert_string_equal(FG_PASSWORD_POLICY_MSG,
                        "password must be 8-128 characters with at least one upper-case letter, "
                        "one lower-case letter and one digit");
}

static void test_hash_and_verify(void **state)
{
    (void)state;
    char h1[FG_PASSWORD_HASH_MAX], h2[FG_PASSWORD_HASH_MAX];
    assert_int_equal(fg_password_hash("Passw0rd!x", 10, h1, sizeof h1), FG_OK);
    assert_int_equal(fg_password_hash("Passw0rd!x", 10, h2, sizeof h2), FG_OK);
    static const char prefix[] = "$argon2id$v=19$m=65536,t=3,p=4$";
    assert_memory_equal(h1, prefix, sizeof prefix - 1);
    /* 16-byte salt → 22 base64 characters; 32-byte hash → 43 */
    const char *salt = h1 + sizeof prefix - 1;
    const char *dollar = strchr(salt, '$');
    assert_non_null(dollar);
    assert_int_equal(dollar - salt, 22);
    assert_int_equal(strlen(dollar + 1), 43);
    assert_string_not_equal(h1, h2); /* fresh salt each time */
    int match = -1;
    assert_int_equal(fg_password_verify(h1, "Passw0rd!x", 10, &match), FG_OK);
    assert_int_equal(match, 1);
    assert_int_equal(fg_password_verify(h2, "Passw0rd!x", 10, &match), FG_OK);
    assert_int_equal(match, 1);
    assert_int_equal(fg_password_verify(h1, "Passw0rd!y", 10, &match), FG_OK);
    assert_int_equal(match, 0);
    assert_int_equal(fg_password_verify(h1, "Passw0rd!", 9, &match), FG_OK);
    assert_int_equal(match, 0);
    assert_int_equal(fg_password_verify("$argon2id$garbage", "x", 1, &match), FG_OK);
    assert_int_equal(match, 0);
    assert_int_equal(fg_password_verify_dummy("anything", 8), FG_OK);
    assert_int_equal(fg_password_hash("x", 1, h1, 16), FG_EINVAL); /* buffer too small */
}

static atomic_int peak;
static atomic_int done;

static void *hasher(void *arg)
{
    (void)arg;
    char h[FG_PASSWORD_HASH_MAX];
    fg_password_hash("Passw0rd!x", 10, h, sizeof h);
    atomic_fetch_add(&done, 1);
    return NULL;
}

static void test_concurrency_bound(void **state)
{
    (void)state;
    enum { N = 6 };
    fg_password_init(2);
    pthread_t t[N];
    for (int i = 0; i < N; i++)
        pthread_create(&t[i], NULL, hasher, NULL);
    while (atomic_load(&done) < N) {
        int a = fg_password_active();
        if (a > atomic_load(&peak))
            atomic_store(&peak, a);
        struct timespec ts = {0, 1000000};
        nanosleep(&ts, NULL);
    }
    for (int i = 0; i < N; i++)
        pthread_join(t[i], NULL);
    assert_true(atomic_load(&peak) >= 1);
    assert_true(atomic_load(&peak) <= 2);
    assert_int_equal(fg_password_active(), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_policy),
        cmocka_unit_test(test_hash_and_verify),
        cmocka_unit_test(test_concurrency_bound),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
