/*
 * Passwords (SPEC §3.3, §3.5): the policy, and Argon2id hashing with libargon2 in the standard
 * encoding ($argon2id$v=19$m=65536,t=3,p=4$<salt>$<hash>).
 *
 * Memory: one hash or verify allocates FG_ARGON2_M_KIB (64 MiB) for its duration. A counting
 * semaphore admits at most ARGON2_MAX_CONCURRENT of them at once (default 2 → ≤ 128 MiB), so the
 * process stays inside its 512 MiB pod limit however many logins arrive together; the others
 * wait up to FG_ARGON2_WAIT_S and then get FG_EUNAVAIL (503). docs/identity.md has the budget.
 */
#ifndef CORE_PASSWORD_H
#define CORE_PASSWORD_H

#include <stddef.h>

#include "util/err.h"

#define FG_ARGON2_T           3
#define FG_ARGON2_M_KIB       65536
#define FG_ARGON2_P           4
#define FG_ARGON2_HASH_LEN    32
#define FG_ARGON2_SALT_LEN    16
#define FG_ARGON2_WAIT_S      30
#define FG_PASSWORD_HASH_MAX  128 /* buffer for an encoded hash (98 bytes with these parameters) */
#define FG_PASSWORD_MIN_CHARS 8
#define FG_PASSWORD_MAX_CHARS 128

#define FG_PASSWORD_POLICY_MSG                                                                     \
    "password must be 8-128 characters with at least one upper-case letter, one lower-case "       \
    "letter and one digit"

/** Sets the bound on concurrent Argon2 computations (default 2 before the first call). */
void fg_password_init(int max_concurrent);

/** 1 if `pw` (UTF-8, `len` bytes) meets the policy: 8–128 characters (code points), at least one
 * ASCII upper-case letter, one lower-case letter and one digit, no NUL. */
int fg_password_policy_ok(const char *pw, size_t len);

/** Hashes into `out` (≥ FG_PASSWORD_HASH_MAX bytes) with a fresh random salt. FG_EUNAVAIL when
 * the hashing slots stay busy for FG_ARGON2_WAIT_S. */
enum fg_err fg_password_hash(const char *pw, size_t len, char *out, size_t outlen);

/** Verifies `pw` against an encoded hash: *match = 1/0. A malformed hash is a mismatch (logged). */
enum fg_err fg_password_verify(const char *encoded, const char *pw, size_t len, int *match);

/** Spends one verify's time and memory against a fixed hash (unknown accounts: same timing). */
enum fg_err fg_password_verify_dummy(const char *pw, size_t len);

/** Argon2 computations currently running (for tests and metrics). */
int fg_password_active(void);

#endif
