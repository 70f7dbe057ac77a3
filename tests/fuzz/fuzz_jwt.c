/*
 * Fuzz target `jwt` (src/core/jwt.c): the token parser and verifier.
 * The first byte picks the mode:
 *   even: the rest is a token, verified as is (framing, base64url, header, signature);
 *   odd:  the rest is "<header JSON>\n<claims JSON>"; the harness encodes and signs them with the
 *         key, so the claims parser behind the signature check is reached too.
 * Invariants: an accepted token re-signs to a token that verifies to the same claims; the
 * base64url decoder never writes past its buffer and round-trips what the encoder wrote.
 */
#include <sodium.h>

#include "core/jwt.h"
#include "fuzz_common.h"

static const char KEY[] = "fuzz-key-0123456789-0123456789-0123456789";
#define NOW 1900000000LL

static void check_accepted(const struct fg_jwt_claims *c, enum fg_jwt_type want)
{
    char *tok = NULL;
    FUZZ_ASSERT(fg_jwt_sign(KEY, sizeof KEY - 1, c, &tok) == FG_OK && tok);
    struct fg_jwt_claims again;
    FUZZ_ASSERT(fg_jwt_verify(KEY, sizeof KEY - 1, tok, want, NOW, &again) == FG_JWT_OK);
    FUZZ_ASSERT(strcmp(again.sub, c->sub) == 0 && strcmp(again.sid, c->sid) == 0 &&
                strcmp(again.jti, c->jti) == 0 && again.exp == c->exp && again.iat == c->iat &&
                again.type == c->type);
    if (want == FG_JWT_ACCESS)
        FUZZ_ASSERT(strcmp(again.email, c->email) == 0 && again.trust == c->trust &&
                    again.roles == c->roles);
    free(tok);
}

static void verify_both(const char *tok)
{
    static const enum fg_jwt_type types[] = {FG_JWT_ACCESS, FG_JWT_REFRESH};
    for (size_t i = 0; i < 2; i++) {
        struct fg_jwt_claims c;
        enum fg_jwt_error e = fg_jwt_verify(KEY, sizeof KEY - 1, tok, types[i], NOW, &c);
        FUZZ_ASSERT(fg_jwt_error_message(e) != NULL);
        if (e == FG_JWT_OK)
            check_accepted(&c, types[i]);
    }
}

static void b64_roundtrip(const uint8_t *d, size_t n)
{
    unsigned char out[96];
    long k = fg_b64url_decode((const char *)d, n, out, sizeof out);
    FUZZ_ASSERT(k >= -1 && k <= (long)sizeof out);
    if (n <= 64) {
        char enc[4 * 22 + 1];
        size_t m = fg_b64url_encode(d, n, enc);
        unsigned char back[64];
        FUZZ_ASSERT(fg_b64url_decode(enc, m, back, sizeof back) == (long)n);
        FUZZ_ASSERT(n == 0 || memcmp(back, d, n) == 0);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size == 0 || size > 3 * FG_JWT_MAX_LEN)
        return 0;
    b64_roundtrip(data + 1, size - 1);
    if ((data[0] & 1) == 0) {
        char *tok = fuzz_strndup(data + 1, size - 1);
        verify_both(tok);
        free(tok);
        return 0;
    }
    const uint8_t *nl = memchr(data + 1, '\n', size - 1);
    if (!nl)
        return 0;
    size_t hn = (size_t)(nl - (data + 1)), pn = size - 1 - hn - 1;
    size_t cap = 4 * ((hn + pn) / 3 + 2) + 64;
    char *tok = malloc(cap + 4 * 11 + 8);
    if (!tok)
        abort();
    size_t n = fg_b64url_encode(data + 1, hn, tok);
    tok[n++] = '.';
    n += fg_b64url_encode(nl + 1, pn, tok + n);
    unsigned char mac[crypto_auth_hmacsha256_BYTES];
    crypto_auth_hmacsha256_state st;
    crypto_auth_hmacsha256_init(&st, (const unsigned char *)KEY, sizeof KEY - 1);
    crypto_auth_hmacsha256_update(&st, (const unsigned char *)tok, n);
    crypto_auth_hmacsha256_final(&st, mac);
    tok[n++] = '.';
    n += fg_b64url_encode(mac, sizeof mac, tok + n);
    tok[n] = '\0';
    verify_both(tok);
    free(tok);
    return 0;
}
