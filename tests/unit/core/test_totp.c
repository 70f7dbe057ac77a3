/* TOTP: RFC 6238 Appendix B test vectors (SHA-1), the ±1 step window, code format, secrets and
 * the otpauth URI. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <liboath/oath.h>

#include "core/totp.h"

static const char RFC_SECRET[] = "12345678901234567890";
/* base32 of RFC_SECRET */
static const char RFC_SECRET_B32[] = "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ";

static void test_rfc6238_vectors(void **state)
{
    (void)state;
    static const struct {
        int64_t t;
        const char *code;
    } v[] = {{59, "94287082"},         {1111111109, "07081804"}, {1111111111, "14050471"},
             {1234567890, "89005924"}, {2000000000, "69279037"}, {20000000000LL, "65353130"}};
    char out[11];
    for (size_t i = 0; i < sizeof v / sizeof v[0]; i++) {
        assert_int_equal(fg_totp_generate(RFC_SECRET, 20, v[i].t, 8, out), FG_OK);
        assert_string_equal(out, v[i].code);
        /* the 6-digit code is the same HOTP value mod 10^6, and fg_totp_check accepts it */
        int64_t step = -1;
        assert_int_equal(fg_totp_check(RFC_SECRET_B32, v[i].code + 2, v[i].t, &step), 1);
        assert_int_equal(step, v[i].t / 30);
    }
}

static void test_window(void **state)
{
    (void)state;
    int64_t step = 0;
    /* "287082" belongs to step 1 (t = 30..59) */
    assert_int_equal(fg_totp_check(RFC_SECRET_B32, "287082", 59, &step), 1);
    assert_int_equal(step, 1);
    assert_int_equal(fg_totp_check(RFC_SECRET_B32, "287082", 30, &step), 1);
    assert_int_equal(fg_totp_check(RFC_SECRET_B32, "287082", 89, &step), 1); /* one step late */
    assert_int_equal(fg_totp_check(RFC_SECRET_B32, "287082", 0, &step), 1);  /* one step early */
    assert_int_equal(fg_totp_check(RFC_SECRET_B32, "287082", 90, &step), 0); /* two late */
    assert_int_equal(fg_totp_check(RFC_SECRET_B32, "287082", 119, &step), 0);
    assert_int_equal(step, 1);
}

static void test_code_format(void **state)
{
    (void)state;
    int64_t step = 0;
    static const char *const bad[] = {"",       "28708",  "2870822", "28708a",
                                      " 87082", "+87082", "94287082"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        assert_int_equal(fg_totp_check(RFC_SECRET_B32, bad[i], 59, &step), 0);
    assert_int_equal(fg_totp_check("not base32!", "287082", 59, &step), -1);
    assert_int_equal(fg_totp_check(NULL, "287082", 59, &step), -1);
}

static void test_secret_and_uri(void **state)
{
    (void)state;
    char a[FG_TOTP_SECRET_B32_MAX], b[FG_TOTP_SECRET_B32_MAX];
    assert_int_equal(fg_totp_new_secret(a, sizeof a), FG_OK);
    assert_int_equal(fg_totp_new_secret(b, sizeof b), FG_OK);
    assert_int_equal(strlen(a), 32); /* 20 bytes, no padding */
    assert_int_equal(strspn(a, "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"), 32);
    assert_string_not_equal(a, b);
    char small[8];
    assert_int_not_equal(fg_totp_new_secret(small, sizeof small), FG_OK);
    /* a fresh secret round-trips: decode, generate the current code, check it */
    char *raw = NULL;
    size_t rawlen = 0;
    assert_int_equal(oath_base32_decode(a, strlen(a), &raw, &rawlen), OATH_OK);
    assert_int_equal(rawlen, FG_TOTP_SECRET_BYTES);
    char code[11];
    int64_t step = 0, t = 1800000000;
    assert_int_equal(fg_totp_generate(raw, rawlen, t, 6, code), FG_OK);
    free(raw);
    assert_int_equal(fg_totp_check(a, code, t, &step), 1);
    assert_int_equal(step, t / 30);
    assert_int_equal(fg_totp_check(b, code, t, &step), 0); /* another secret: no (p ≈ 3e-6) */

    char *uri = fg_totp_uri("Forge", "a+b c@example.com", a);
    char want[256];
    snprintf(want, sizeof want,
             "otpauth://totp/Forge:a%%2Bb%%20c@example.com?secret=%s&issuer=Forge"
             "&algorithm=SHA1&digits=6&period=30",
             a);
    assert_string_equal(uri, want);
    free(uri);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_rfc6238_vectors),
        cmocka_unit_test(test_window),
        cmocka_unit_test(test_code_format),
        cmocka_unit_test(test_secret_and_uri),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
