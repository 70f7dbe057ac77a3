#include "core/jwt.h"

#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <sodium.h>

#include "core/authz.h"
#include "util/mem.h"
#include "util/uuid.h"

#define HEADER_MAX 256 /* decoded header bytes */

static const char b64url_chars[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

const char *fg_jwt_error_message(enum fg_jwt_error e)
{
    switch (e) {
    case FG_JWT_OK:
        return "ok";
    case FG_JWT_MALFORMED:
        return "malformed token";
    case FG_JWT_BAD_ALG:
        return "unsupported token algorithm (only HS256 is accepted)";
    case FG_JWT_BAD_SIGNATURE:
        return "invalid token signature";
    case FG_JWT_EXPIRED:
        return "token expired";
    case FG_JWT_NOT_YET_VALID:
        return "token issued in the future";
    case FG_JWT_WRONG_TYPE:
        return "wrong token type";
    case FG_JWT_BAD_CLAIMS:
        return "invalid token claims";
    }
    return "invalid token";
}

size_t fg_b64url_encode(const unsigned char *in, size_t n, char *out)
{
    size_t o = 0, i = 0;
    for (; i + 3 <= n; i += 3) {
        unsigned v = (unsigned)in[i] << 16 | (unsigned)in[i + 1] << 8 | in[i + 2];
        out[o++] = b64url_chars[v >> 18 & 63];
        out[o++] = b64url_chars[v >> 12 & 63];
        out[o++] = b64url_chars[v >> 6 & 63];
        out[o++] = b64url_chars[v & 63];
    }
    if (n - i == 1) {
        unsigned v = (unsigned)in[i] << 16;
        out[o++] = b64url_chars[v >> 18 & 63];
        out[o++] = b64url_chars[v >> 12 & 63];
    } else if (n - i == 2) {
        unsigned v = (unsigned)in[i] << 16 | (unsigned)in[i + 1] << 8;
        out[o++] = b64url_chars[v >> 18 & 63];
        out[o++] = b64url_chars[v >> 12 & 63];
        out[o++] = b64url_chars[v >> 6 & 63];
    }
    out[o] = '\0';
    return o;
}

static int b64url_val(char c)
{
    if (c >= 'A' && c <= 'Z')
        return c - 'A';
    if (c >= 'a' && c <= 'z')
        return c - 'a' + 26;
    if (c >= '0' && c <= '9')
        return c - '0' + 52;
    if (c == '-')
        return 62;
    if (c == '_')
        return 63;
    return -1;
}

long fg_b64url_decode(const char *in, size_t n, unsigned char *out, size_t outcap)
{
    if (n % 4 == 1)
        return -1;
    size_t need = n / 4 * 3 + (n % 4 ? n % 4 - 1 : 0);
    if (need > outcap)
        return -1;
    size_t o = 0;
    unsigned acc = 0;
    int bits = 0;
    for (size_t i = 0; i < n; i++) {
        int v = b64url_val(in[i]);
        if (v < 0)
            return -1;
        acc = (acc << 6 | (unsigned)v) & 0xffffff;
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            out[o++] = (unsigned char)(acc >> bits & 0xff);
        }
    }
    /* canonical form only: the unused low bits of the last character must be zero */
    if (bits && (acc & ((1u << bits) - 1)))
        return -1;
    return (long)o;
}

void fg_jwt_new_jti(char *out)
{
    unsigned char raw[16];
    randombytes_buf(raw, sizeof raw);
    sodium_bin2hex(out, 33, raw, sizeof raw);
}

static void hmac(const void *key, size_t keylen, const char *msg, size_t n,
                 unsigned char mac[crypto_auth_hmacsha256_BYTES])
{
    crypto_auth_hmacsha256_state st;
    crypto_auth_hmacsha256_init(&st, key, keylen);
    crypto_auth_hmacsha256_update(&st, (const unsigned char *)msg, n);
    crypto_auth_hmacsha256_final(&st, mac);
    sodium_memzero(&st, sizeof st);
}

enum fg_err fg_jwt_sign(const void *key, size_t keylen, const struct fg_jwt_claims *c, char **out)
{
    *out = NULL;
    json_t *p = json_object();
    json_object_set_new(p, "sub", json_string(c->sub));
    if (c->type == FG_JWT_ACCESS) {
        json_object_set_new(p, "email", json_string(c->email));
        json_object_set_new(p, "trust_level", json_string(fg_trust_name(c->trust)));
        json_object_set_new(p, "roles", fg_roles_json(c->roles));
    }
    json_object_set_new(p, "type", json_string(c->type == FG_JWT_ACCESS ? "access" : "refresh"));
    json_object_set_new(p, "sid", json_string(c->sid));
    json_object_set_new(p, "iat", json_integer(c->iat));
    json_object_set_new(p, "exp", json_integer(c->exp));
    json_object_set_new(p, "jti", json_string(c->jti));
    char *payload = json_dumps(p, JSON_COMPACT);
    json_decref(p);
    if (!payload)
        return FG_EINTERNAL;
    static const char header[] = "{\"alg\":\"HS256\",\"typ\":\"JWT\"}";
    size_t plen = strlen(payload);
    size_t cap = 4 * ((sizeof header + 2) / 3) + 4 * ((plen + 2) / 3) + 4 * 11 + 4;
    char *tok = fg_xmalloc(cap);
    size_t n = fg_b64url_encode((const unsigned char *)header, sizeof header - 1, tok);
    tok[n++] = '.';
    n += fg_b64url_encode((const unsigned char *)payload, plen, tok + n);
    free(payload);
    unsigned char mac[crypto_auth_hmacsha256_BYTES];
    hmac(key, keylen, tok, n, mac);
    tok[n++] = '.';
    n += fg_b64url_encode(mac, sizeof mac, tok + n);
    *out = tok;
    return FG_OK;
}

/* Decodes one segment as a JSON object (new reference) or NULL. */
static json_t *segment_json(const char *s, size_t n, size_t maxbytes)
{
    if (n == 0 || n > FG_JWT_MAX_LEN)
        return NULL;
    unsigned char *buf = fg_xmalloc(n);
    long len = fg_b64url_decode(s, n, buf, n);
    json_t *v = NULL;
    if (len > 0 && (size_t)len <= maxbytes)
        v = json_loadb((const char *)buf, (size_t)len, JSON_REJECT_DUPLICATES, NULL);
    free(buf);
    if (v && !json_is_object(v)) {
        json_decref(v);
        v = NULL;
    }
    return v;
}

static enum fg_jwt_error check_header(const char *s, size_t n)
{
    json_t *h = segment_json(s, n, HEADER_MAX);
    if (!h)
        return FG_JWT_MALFORMED;
    enum fg_jwt_error r = FG_JWT_OK;
    const char *k;
    json_t *v;
    int have_alg = 0;
    json_object_foreach(h, k, v)
    {
        if (strcmp(k, "alg") == 0) {
            have_alg = 1;
            if (!json_is_string(v) || strcmp(json_string_value(v), "HS256") != 0)
                r = FG_JWT_BAD_ALG;
        } else if (strcmp(k, "typ") == 0) {
            if (!json_is_string(v) || strcmp(json_string_value(v), "JWT") != 0)
                r = r ? r : FG_JWT_MALFORMED;
        } else {
            r = r ? r : FG_JWT_BAD_ALG; /* kid, crit, jku, ...: nothing else is honoured */
        }
    }
    json_decref(h);
    if (!have_alg)
        return FG_JWT_BAD_ALG;
    return r;
}

static int copy_str(json_t *o, const char *k, char *dst, size_t cap, size_t minlen)
{
    json_t *v = json_object_get(o, k);
    if (!json_is_string(v))
        return -1;
    size_t n = json_string_length(v);
    if (n < minlen || n >= cap || strlen(json_string_value(v)) != n)
        return -1;
    memcpy(dst, json_string_value(v), n + 1);
    return 0;
}

static enum fg_jwt_error parse_claims(json_t *p, struct fg_jwt_claims *c)
{
    char type[16];
    if (copy_str(p, "type", type, sizeof type, 1) != 0)
        return FG_JWT_BAD_CLAIMS;
    if (strcmp(type, "access") == 0)
        c->type = FG_JWT_ACCESS;
    else if (strcmp(type, "refresh") == 0)
        c->type = FG_JWT_REFRESH;
    else
        return FG_JWT_WRONG_TYPE;
    if (copy_str(p, "sub", c->sub, sizeof c->sub, 36) != 0 || !fg_uuid_valid(c->sub) ||
        copy_str(p, "sid", c->sid, sizeof c->sid, 36) != 0 || !fg_uuid_valid(c->sid) ||
        copy_str(p, "jti", c->jti, sizeof c->jti, 1) != 0)
        return FG_JWT_BAD_CLAIMS;
    json_t *iat = json_object_get(p, "iat"), *exp = json_object_get(p, "exp");
    if (!json_is_integer(iat) || !json_is_integer(exp))
        return FG_JWT_BAD_CLAIMS;
    c->iat = json_integer_value(iat);
    c->exp = json_integer_value(exp);
    if (c->exp <= c->iat)
        return FG_JWT_BAD_CLAIMS;
    if (c->type == FG_JWT_ACCESS) {
        char trust[16];
        if (copy_str(p, "email", c->email, sizeof c->email, 3) != 0 ||
            copy_str(p, "trust_level", trust, sizeof trust, 1) != 0)
            return FG_JWT_BAD_CLAIMS;
        c->trust = fg_trust_from_name(trust);
        if (c->trust < 0)
            return FG_JWT_BAD_CLAIMS;
        json_t *roles = json_object_get(p, "roles");
        if (!json_is_array(roles))
            return FG_JWT_BAD_CLAIMS;
        size_t i;
        json_t *r;
        c->roles = 0;
        json_array_foreach(roles, i, r)
        {
            if (!json_is_string(r))
                return FG_JWT_BAD_CLAIMS;
            c->roles |= fg_role_from_name(json_string_value(r));
        }
    }
    return FG_JWT_OK;
}

enum fg_jwt_error fg_jwt_verify(const void *key, size_t keylen, const char *token,
                                enum fg_jwt_type want, int64_t now_s, struct fg_jwt_claims *out)
{
    memset(out, 0, sizeof *out);
    if (!token)
        return FG_JWT_MALFORMED;
    size_t len = strnlen(token, FG_JWT_MAX_LEN + 1);
    if (len == 0 || len > FG_JWT_MAX_LEN)
        return FG_JWT_MALFORMED;
    const char *d1 = memchr(token, '.', len);
    if (!d1)
        return FG_JWT_MALFORMED;
    const char *d2 = memchr(d1 + 1, '.', len - (size_t)(d1 + 1 - token));
    if (!d2 || memchr(d2 + 1, '.', len - (size_t)(d2 + 1 - token)))
        return FG_JWT_MALFORMED;
    size_t hlen = (size_t)(d1 - token), plen = (size_t)(d2 - d1 - 1);
    size_t slen = len - (size_t)(d2 + 1 - token);

    enum fg_jwt_error r = check_header(token, hlen);
    if (r != FG_JWT_OK)
        return r;

    unsigned char sig[crypto_auth_hmacsha256_BYTES + 3];
    if (slen != 43 ||
        fg_b64url_decode(d2 + 1, slen, sig, sizeof sig) != (long)crypto_auth_hmacsha256_BYTES)
        return FG_JWT_BAD_SIGNATURE;
    unsigned char mac[crypto_auth_hmacsha256_BYTES];
    hmac(key, keylen, token, (size_t)(d2 - token), mac);
    if (sodium_memcmp(mac, sig, sizeof mac) != 0)
        return FG_JWT_BAD_SIGNATURE;

    json_t *p = segment_json(d1 + 1, plen, FG_JWT_MAX_LEN);
    if (!p)
        return FG_JWT_MALFORMED;
    r = parse_claims(p, out);
    json_decref(p);
    if (r != FG_JWT_OK)
        return r;
    if (out->type != want)
        return FG_JWT_WRONG_TYPE;
    if (out->exp <= now_s)
        return FG_JWT_EXPIRED;
    if (out->iat > now_s + FG_JWT_LEEWAY_S)
        return FG_JWT_NOT_YET_VALID;
    return FG_JWT_OK;
}
