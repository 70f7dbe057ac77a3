/*
 * TOTP (RFC 6238) with liboath: HMAC-SHA-1, 6 digits, 30-second steps, ±1 step accepted.
 * Secrets are 20 random bytes, exchanged and stored in base32 (RFC 4648, no padding: 32 chars).
 * A verifier also remembers the last step it accepted, so each code works once (RFC 6238 §5.2).
 */
#ifndef CORE_TOTP_H
#define CORE_TOTP_H

#include <stddef.h>
#include <stdint.h>

#include "util/err.h"

#define FG_TOTP_DIGITS         6
#define FG_TOTP_STEP_S         30
#define FG_TOTP_WINDOW         1
#define FG_TOTP_SECRET_BYTES   20
#define FG_TOTP_SECRET_B32_MAX 64

/** Initialises liboath (idempotent, thread-safe). */
enum fg_err fg_totp_init(void);

/** A new random secret in base32 into out (≥ FG_TOTP_SECRET_B32_MAX bytes). */
enum fg_err fg_totp_new_secret(char *out, size_t outlen);

/** otpauth://totp/<issuer>:<account>?secret=…&issuer=…&algorithm=SHA1&digits=6&period=30
 * (percent-encoded label and issuer). Caller frees with free(). */
char *fg_totp_uri(const char *issuer, const char *account, const char *secret_b32);

/**
 * Checks a code against a base32 secret at time `now_s` (±FG_TOTP_WINDOW steps). *step receives
 * the time step the code belongs to. Returns 1 valid, 0 invalid (also: not exactly 6 digits),
 * -1 on an unusable secret.
 */
int fg_totp_check(const char *secret_b32, const char *code, int64_t now_s, int64_t *step);

/** The `digits`-digit code of a raw secret at time t (RFC 6238 test vectors use 8). */
enum fg_err fg_totp_generate(const void *secret, size_t len, int64_t t, unsigned digits,
                             char out[11]);

#endif
