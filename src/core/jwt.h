/*
 * JSON Web Tokens, HS256 only (SPEC §3.4), with libsodium's HMAC-SHA256 and strict parsing:
 *   - exactly three base64url segments without padding, ≤ FG_JWT_MAX_LEN bytes in all;
 *   - the header is a JSON object with "alg": "HS256" and at most "typ": "JWT" besides
 *     (alg none, HS512, RS256, kid, crit, ... are refused);
 *   - the signature is 32 bytes, compared in constant time, and checked before the claims are
 *     parsed;
 *   - claims: sub, type (access|refresh), sid, jti, iat, exp always; email, trust_level, roles
 *     for access tokens. exp must be in the future, iat not beyond FG_JWT_LEEWAY_S from now.
 *
 * Claims of an access token:  {"sub","email","trust_level","roles","type":"access","sid","iat",
 *                              "exp","jti"}
 * Claims of a refresh token:  {"sub","type":"refresh","sid","iat","exp","jti"}
 * `sid` names the session (the refresh-token family) so revocation reaches access tokens too.
 */
#ifndef CORE_JWT_H
#define CORE_JWT_H

#include <stddef.h>
#include <stdint.h>

#include "util/err.h"

#define FG_JWT_MAX_LEN  4096
#define FG_JWT_LEEWAY_S 60
#define FG_JWT_JTI_MAX  64

enum fg_jwt_type { FG_JWT_ACCESS = 1, FG_JWT_REFRESH = 2 };

struct fg_jwt_claims {
    enum fg_jwt_type type;
    char sub[37];
    char sid[37];
    char jti[FG_JWT_JTI_MAX + 1];
    int64_t iat, exp; /* seconds since the epoch */
    /* access tokens only */
    char email[255];
    int trust;      /* value, from the trust_level name */
    unsigned roles; /* core/authz.h bits; unknown role names are ignored (they grant nothing) */
};

/** Why a token was refused (stable short text, safe to return to clients). */
enum fg_jwt_error {
    FG_JWT_OK = 0,
    FG_JWT_MALFORMED,
    FG_JWT_BAD_ALG,
    FG_JWT_BAD_SIGNATURE,
    FG_JWT_EXPIRED,
    FG_JWT_NOT_YET_VALID,
    FG_JWT_WRONG_TYPE,
    FG_JWT_BAD_CLAIMS,
};
const char *fg_jwt_error_message(enum fg_jwt_error e);

/** Signs `c` with `key`. *out is malloc'd (caller frees with free). */
enum fg_err fg_jwt_sign(const void *key, size_t keylen, const struct fg_jwt_claims *c, char **out);

/**
 * Verifies `token` (NUL-terminated) and fills *out. `want` is the required type. `now_s` is the
 * current time in seconds. Returns FG_JWT_OK or the reason for refusal.
 */
enum fg_jwt_error fg_jwt_verify(const void *key, size_t keylen, const char *token,
                                enum fg_jwt_type want, int64_t now_s, struct fg_jwt_claims *out);

/** base64url without padding. Encode: out must hold 4*ceil(n/3)+1 bytes; returns the length. */
size_t fg_b64url_encode(const unsigned char *in, size_t n, char *out);
/** Decodes exactly `n` characters; -1 on any character outside the alphabet, on '=' padding, on
 * an impossible length or non-zero trailing bits. Returns the byte count. */
long fg_b64url_decode(const char *in, size_t n, unsigned char *out, size_t outcap);

/** Writes a random token id (32 hex characters) into out (≥ 33 bytes). */
void fg_jwt_new_jti(char *out);

#endif
