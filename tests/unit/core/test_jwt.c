/* JWT HS256: round trip, strict header/segment/base64 checks, signature, expiry, type, claims,
 * and interoperability with the RFC 7515 A.1 example. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <sodium.h>

#include "core/authz.h"
#include "core/jwt.h"

static const char KEY[] = "unit-test-secret-0123456789-0123456789";
#define NOW 1800000000LL

static void fill(struct fg_jwt_claims *c, enum fg_jwt_type t)
{
    memset(c, 0, sizeof *c);
    c->type = t;
    snprintf(c->sub, sizeof c->sub, "01890a5d-ac96-774b-bcce-b302099a8057");
    snprintf(c->sid, sizeof c->sid, "01890a5d-ac96-774b-bcce-b302099a8058");
    snprintf(c->jti, sizeof c->jti, "abc123");
    c->iat = NOW;
    c->exp = NOW + 900;
    snprintf(c->email, sizeof c->email, "a@example.com");
    c->trust = FG_TRUST_STANDARD;
    c->roles = FG_ROLE_USER | FG_ROLE_OPERATOR;
}

static char *sign(const struct fg_jwt_claims *c)
{
    char *t = NULL;
    enum fg_err e = fg_jwt_sign(KEY, strlen(KEY), c, &t);
    assert_int_equal(e, FG_OK);
    assert_non_null(t);
    return t;
}

static enum fg_jwt_error verify(const char *tok, enum fg_jwt_type want, struct fg_jwt_claims *out)
{
    return fg_jwt_verify(KEY, strlen(KEY), tok, want, NOW + 10, out);
}

/* base64url(header).base64url(payload).HMAC over the two, for hand-made tokens. */
static char *craft(const char *header_json, const char *payload_json)
{
    size_t hn = strlen(header_json), pn = strlen(payload_json);
    char *t = malloc(4 * (hn + pn) + 128);
    size_t n = fg_b64url_encode((const unsigned char *)header_json, hn, t);
    t[n++] = '.';
    n += fg_b64url_encode((const unsigned char *)payload_json, pn, t + n);
    t[n] = '\0';
    return t;
}

static char *with_sig(char *hp)
{
    unsigned char mac[32];
    crypto_auth_hmacsha256_state st;
    crypto_auth_hmacsha256_init(&st, (const unsigned char *)KEY, strlen(KEY));
    crypto_auth_hmacsha256_update(&st, (const unsigned char *)hp, strlen(hp));
    crypto_auth_hmacsha256_final(&st, mac);
    size_t n = strlen(hp);
    hp[n++] = '.';
    fg_b64url_encode(mac, sizeof mac, hp + n);
    return hp;
}

static const char GOOD_PAYLOAD[] =
    "{\"sub\":\"01890a5d-ac96-774b-bcce-b302099a8057\",\"email\":\"a@example.com\","
    "\"trust_level\":\"standard\",\"roles\":[\"user\"],\"type\":\"access\","
    "\"sid\":\"01890a5d-ac96-774b-bcce-b302099a8058\",\"iat\":1800000000,\"exp\":1800000900,"
    "\"jti\":\"x\"}";

static void test_round_trip(void **state)
{
    (void)state;
    struct fg_jwt_claims c, out;
    fill(&c, FG_JWT_ACCESS);
    char *t = sign(&c);
    assert_int_equal(verify(t, FG_JWT_ACCESS, &out), FG_JWT_OK);
    assert_string_equal(out.sub, c.sub);
    assert_string_equal(out.sid, c.sid);
    assert_string_equal(out.jti, c.jti);
    assert_string_equal(out.email, c.email);
    assert_int_equal(out.trust, FG_TRUST_STANDARD);
    assert_int_equal(out.roles, FG_ROLE_USER | FG_ROLE_OPERATOR);
    assert_int_equal(out.iat, NOW);
    assert_int_equal(out.exp, NOW + 900);
    assert_true(strncmp(t, "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.", 37) == 0); /* HS256/JWT */
    free(t);

    fill(&c, FG_JWT_REFRESH);
    t = sign(&c);
    assert_int_equal(verify(t, FG_JWT_REFRESH, &out), FG_JWT_OK);
    assert_int_equal(out.type, FG_JWT_REFRESH);
    assert_null(strstr(t, "roles"));
    free(t);

    /* a hand-made token signed with the key verifies: the test helpers are faithful */
    t = with_sig(craft("{\"alg\":\"HS256\"}", GOOD_PAYLOAD));
    assert_int_equal(verify(t, FG_JWT_ACCESS, &out), FG_JWT_OK);
    free(t);
}

static void test_tampered(void **state)
{
    (void)state;
    struct fg_jwt_claims c, out;
    fill(&c, FG_JWT_ACCESS);
    char *t = sign(&c);
    size_t n = strlen(t);
    /* signature: flip the first character of the signature segment */
    char *s = strrchr(t, '.') + 1;
    char saved = *s;
    *s = saved == 'A' ? 'B' : 'A';
    assert_int_equal(verify(t, FG_JWT_ACCESS, &out), FG_JWT_BAD_SIGNATURE);
    *s = saved;
    /* payload: flip one character in the middle */
    char *p = strchr(t, '.') + 5;
    saved = *p;
    *p = saved == 'x' ? 'y' : 'x';
    assert_int_equal(verify(t, FG_JWT_ACCESS, &out), FG_JWT_BAD_SIGNATURE);
    *p = saved;
    /* non-canonical last signature character (same bytes, different text) */
    char last = t[n - 1];
    t[n - 1] = (char)(last ^ 1);
    assert_int_not_equal(verify(t, FG_JWT_ACCESS, &out), FG_JWT_OK);
    t[n - 1] = last;
    assert_int_equal(verify(t, FG_JWT_ACCESS, &out), FG_JWT_OK);
    /* wrong key */
    assert_int_equal(fg_jwt_verify("other-key", 9, t, FG_JWT_ACCESS, NOW, &out),
                     FG_JWT_BAD_SIGNATURE);
    free(t);
}

static void test_algorithms(void **state)
{
    (void)state;
    struct fg_jwt_claims out;
    char *t = craft("{\"alg\":\"none\",\"typ\":\"JWT\"}", GOOD_PAYLOAD);
    memcpy(t + strlen(t), ".", 2); /* empty signature: the classic alg=none token */
    assert_int_equal(verify(t, FG_JWT_ACCESS, &out), FG_JWT_BAD_ALG);
    free(t);
    static const char *const bad_headers[] = {
        "{\"alg\":\"none\"}",
        "{\"alg\":\"HS512\",\"typ\":\"JWT\"}",
        "{\"alg\":\"RS256\"}",
        "{\"alg\":\"hs256\"}",
        "{\"typ\":\"JWT\"}",
        "{\"alg\":\"HS256\",\"kid\":\"1\"}",
        "{\"alg\":\"HS256\",\"crit\":[\"exp\"]}",
        "{\"alg\":[\"HS256\"]}",
    };
    for (size_t i = 0; i < sizeof bad_headers / sizeof bad_headers[0]; i++) {
        t = with_sig(craft(bad_headers[i], GOOD_PAYLOAD));
        assert_int_equal(verify(t, FG_JWT_ACCESS, &out), FG_JWT_BAD_ALG);
        free(t);
    }
    /* typ other than JWT, duplicate keys, not an object */
    static const char *const malformed[] = {"{\"alg\":\"HS256\",\"typ\":\"JOSE\"}",
                                            "{\"alg\":\"HS256\",\"alg\":\"HS256\"}", "[1]"};
    for (size_t i = 0; i < sizeof malformed / sizeof malformed[0]; i++) {
        t = with_sig(craft(malformed[i], GOOD_PAYLOAD));
        assert_int_not_equal(verify(t, FG_JWT_ACCESS, &out), FG_JWT_OK);
        free(t);
    }
}

static void test_times_and_types(void **state)
{
    (void)state;
    struct fg_jwt_claims c, out;
    fill(&c, FG_JWT_ACCESS);
    char *t = sign(&c);
    assert_int_equal(fg_jwt_verify(KEY, strlen(KEY), t, FG_JWT_ACCESS, NOW + 900, &out),
                     FG_JWT_EXPIRED); /* exp is exclusive */
    assert_int_equal(fg_jwt_verify(KEY, strlen(KEY), t, FG_JWT_ACCESS, NOW + 899, &out), FG_JWT_OK);
    assert_int_equal(fg_jwt_verify(KEY, strlen(KEY), t, FG_JWT_ACCESS, NOW - FG_JWT_LEEWAY_S, &out),
                     FG_JWT_OK);
    assert_int_equal(
        fg_jwt_verify(KEY, strlen(KEY), t, FG_JWT_ACCESS, NOW - FG_JWT_LEEWAY_S - 1, &out),
        FG_JWT_NOT_YET_VALID);
    /* access used as refresh, refresh used as access */
    assert_int_equal(verify(t, FG_JWT_REFRESH, &out), FG_JWT_WRONG_TYPE);
    free(t);
    fill(&c, FG_JWT_REFRESH);
    t = sign(&c);
    assert_int_equal(verify(t, FG_JWT_ACCESS, &out), FG_JWT_WRONG_TYPE);
    free(t);
    /* unknown type, exp before iat */
    t = with_sig(craft("{\"alg\":\"HS256\"}",
                       "{\"sub\":\"01890a5d-ac96-774b-bcce-b302099a8057\",\"type\":\"id\","
                       "\"sid\":\"01890a5d-ac96-774b-bcce-b302099a8058\",\"iat\":1,\"exp\":2,"
                       "\"jti\":\"x\"}"));
    assert_int_equal(verify(t, FG_JWT_ACCESS, &out), FG_JWT_WRONG_TYPE);
    free(t);
}

static void test_claims(void **state)
{
    (void)state;
    struct fg_jwt_claims out;
    static const char *const bad[] = {
        /* no sub */
        "{\"email\":\"a@example.com\",\"trust_level\":\"standard\",\"roles\":[],\"type\":"
        "\"access\","
        "\"sid\":\"01890a5d-ac96-774b-bcce-b302099a8058\",\"iat\":1800000000,\"exp\":1800000900,"
        "\"jti\":\"x\"}",
        /* exp not an integer */
        "{\"sub\":\"01890a5d-ac96-774b-bcce-b302099a8057\",\"email\":\"a@example.com\","
        "\"trust_level\":\"standard\",\"roles\":[],\"type\":\"access\","
        "\"sid\":\"01890a5d-ac96-774b-bcce-b302099a8058\",\"iat\":1800000000,\"exp\":\"soon\","
        "\"jti\":\"x\"}",
        /* unknown trust level */
        "{\"sub\":\"01890a5d-ac96-774b-bcce-b302099a8057\",\"email\":\"a@example.com\","
        "\"trust_level\":\"god\",\"roles\":[],\"type\":\"access\","
        "\"sid\":\"01890a5d-ac96-774b-bcce-b302099a8058\",\"iat\":1800000000,\"exp\":1800000900,"
        "\"jti\":\"x\"}",
        /* sub not a UUID */
        "{\"sub\":\"admin\",\"email\":\"a@example.com\",\"trust_level\":\"core\",\"roles\":[],"
        "\"type\":\"access\",\"sid\":\"01890a5d-ac96-774b-bcce-b302099a8058\","
        "\"iat\":1800000000,\"exp\":1800000900,\"jti\":\"x\"}",
        /* roles not an array */
        "{\"sub\":\"01890a5d-ac96-774b-bcce-b302099a8057\",\"email\":\"a@example.com\","
        "\"trust_level\":\"core\",\"roles\":\"admin\",\"type\":\"access\","
        "\"sid\":\"01890a5d-ac96-774b-bcce-b302099a8058\",\"iat\":1800000000,\"exp\":1800000900,"
        "\"jti\":\"x\"}",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        char *t = with_sig(craft("{\"alg\":\"HS256\"}", bad[i]));
        assert_int_equal(verify(t, FG_JWT_ACCESS, &out), FG_JWT_BAD_CLAIMS);
        free(t);
    }
    /* unknown role names grant nothing but do not invalidate the token */
    char *t = with_sig(craft(
        "{\"alg\":\"HS256\"}",
        "{\"sub\":\"01890a5d-ac96-774b-bcce-b302099a8057\",\"email\":\"a@example.com\","
        "\"trust_level\":\"trusted\",\"roles\":[\"wizard\",\"trusted\"],\"type\":\"access\","
        "\"sid\":\"01890a5d-ac96-774b-bcce-b302099a8058\",\"iat\":1800000000,\"exp\":1800000900,"
        "\"jti\":\"x\"}"));
    assert_int_equal(verify(t, FG_JWT_ACCESS, &out), FG_JWT_OK);
    assert_int_equal(out.roles, FG_ROLE_TRUSTED);
    assert_int_equal(out.trust, FG_TRUST_TRUSTED);
    free(t);
}

static void test_malformed(void **state)
{
    (void)state;
    struct fg_jwt_claims c, out;
    fill(&c, FG_JWT_ACCESS);
    char *t = sign(&c);
    char buf[FG_JWT_MAX_LEN + 64];
    assert_int_equal(verify("", FG_JWT_ACCESS, &out), FG_JWT_MALFORMED);
    assert_int_equal(verify(NULL, FG_JWT_ACCESS, &out), FG_JWT_MALFORMED);
    assert_int_equal(verify("abc", FG_JWT_ACCESS, &out), FG_JWT_MALFORMED);
    /* truncated: two segments; and signature cut short */
    snprintf(buf, sizeof buf, "%s", t);
    *strrchr(buf, '.') = '\0';
    assert_int_equal(verify(buf, FG_JWT_ACCESS, &out), FG_JWT_MALFORMED);
    snprintf(buf, sizeof buf, "%s", t);
    buf[strlen(buf) - 4] = '\0';
    assert_int_equal(verify(buf, FG_JWT_ACCESS, &out), FG_JWT_BAD_SIGNATURE);
    /* four segments, padding, characters outside base64url */
    snprintf(buf, sizeof buf, "%s.x", t);
    assert_int_equal(verify(buf, FG_JWT_ACCESS, &out), FG_JWT_MALFORMED);
    snprintf(buf, sizeof buf, "%s=", t);
    assert_int_not_equal(verify(buf, FG_JWT_ACCESS, &out), FG_JWT_OK);
    char *bad = with_sig(craft("{\"alg\":\"HS256\"}", GOOD_PAYLOAD));
    char *dot = strchr(bad, '.');
    dot[3] = '+'; /* standard base64, not base64url */
    char *hp = strndup(bad, (size_t)(strrchr(bad, '.') - bad));
    hp = realloc(hp, strlen(hp) + 64);
    with_sig(hp); /* correctly signed over the bad text: decoding is what fails */
    assert_int_equal(verify(hp, FG_JWT_ACCESS, &out), FG_JWT_MALFORMED);
    free(hp);
    free(bad);
    /* header that is not base64 / not JSON */
    assert_int_equal(verify("!!!.e30.AAAA", FG_JWT_ACCESS, &out), FG_JWT_MALFORMED);
    assert_int_equal(verify("e30.e30.AAAA", FG_JWT_ACCESS, &out), FG_JWT_BAD_ALG);
    /* too long */
    memset(buf, 'A', FG_JWT_MAX_LEN + 10);
    buf[FG_JWT_MAX_LEN + 10] = '\0';
    buf[10] = '.';
    buf[20] = '.';
    assert_int_equal(verify(buf, FG_JWT_ACCESS, &out), FG_JWT_MALFORMED);
    free(t);
}

static void test_base64url(void **state)
{
    (void)state;
    static const struct {
        const char *in;
        const char *out;
    } v[] = {{"", ""},           {"f", "Zg"},          {"fo", "Zm8"},          {"foo", "Zm9v"},
             {"foob", "Zm9vYg"}, {"fooba", "Zm9vYmE"}, {"foobar", "Zm9vYmFy"}, {"\xfb\xff", "-_8"}};
    char enc[32];
    unsigned char dec[32];
    for (size_t i = 0; i < sizeof v / sizeof v[0]; i++) {
        size_t n = strlen(v[i].in);
        assert_int_equal(fg_b64url_encode((const unsigned char *)v[i].in, n, enc),
                         strlen(v[i].out));
        assert_string_equal(enc, v[i].out);
        assert_int_equal(fg_b64url_decode(v[i].out, strlen(v[i].out), dec, sizeof dec), (long)n);
        assert_memory_equal(dec, v[i].in, n);
    }
    assert_int_equal(fg_b64url_decode("Zh", 2, dec, sizeof dec), -1);    /* trailing bits */
    assert_int_equal(fg_b64url_decode("Zm9vY", 5, dec, sizeof dec), -1); /* 1 mod 4 */
    assert_int_equal(fg_b64url_decode("Zg==", 4, dec, sizeof dec), -1);  /* padding */
    assert_int_equal(fg_b64url_decode("Z+8", 3, dec, sizeof dec), -1);   /* '+' */
    assert_int_equal(fg_b64url_decode("Zm9v", 4, dec, 2), -1);           /* no room */
}

static void test_rfc7515_example(void **state)
{
    (void)state;
    /* RFC 7515 A.1: HS256 with a 64-byte key; the signature must verify (then the claims are
     * not Forge's, so the result is "invalid claims", not "invalid signature"). */
    static const char key_b64[] =
        "AyM1SysPpbyDfgZld3umj1qzKObwVMkoqQ-EstJQLr_T-1qS0gZH75aKtMN3Yj0iPS4hcgUuTwjAzZr1Z9CAow";
    static const char tok[] =
        "eyJ0eXAiOiJKV1QiLA0KICJhbGciOiJIUzI1NiJ9."
        "eyJpc3MiOiJqb2UiLA0KICJleHAiOjEzMDA4MTkzODAsDQogImh0dHA6Ly9leGFtcGxlLmNvbS9pc19yb290Ijp0"
        "cnVlfQ.dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
    unsigned char key[64];
    assert_int_equal(fg_b64url_decode(key_b64, strlen(key_b64), key, sizeof key), 64);
    struct fg_jwt_claims out;
    assert_int_equal(fg_jwt_verify(key, sizeof key, tok, FG_JWT_ACCESS, 1300819000, &out),
                     FG_JWT_BAD_CLAIMS);
    key[0] ^= 1;
    assert_int_equal(fg_jwt_verify(key, sizeof key, tok, FG_JWT_ACCESS, 1300819000, &out),
                     FG_JWT_BAD_SIGNATURE);
}

static void test_jti(void **state)
{
    (void)state;
    char a[33], b[33];
    fg_jwt_new_jti(a);
    fg_jwt_new_jti(b);
    assert_int_equal(strlen(a), 32);
    assert_string_not_equal(a, b);
}

int main(void)
{
    if (sodium_init() < 0)
        return 1;
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_round_trip), cmocka_unit_test(test_tampered),
        cmocka_unit_test(test_algorithms), cmocka_unit_test(test_times_and_types),
        cmocka_unit_test(test_claims),     cmocka_unit_test(test_malformed),
        cmocka_unit_test(test_base64url),  cmocka_unit_test(test_rfc7515_example),
        cmocka_unit_test(test_jti),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
