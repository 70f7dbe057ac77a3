/*
 * Store area: accounts and sessions (identity, SPEC §3). Implemented per backend
 * (store/sqlite/users.c). Every function takes a connection from store_acquire so callers can
 * group calls in one transaction with audit and outbox writes.
 *
 * Emails are stored lower-cased (callers normalise); uniqueness is case-insensitive in the store
 * too. Times are milliseconds since the epoch. `roles` is the bit set of core/authz.h.
 * A session is one login: its id is the refresh-token family, `refresh_jti` the one refresh
 * token of the family that may still be used.
 */
#ifndef STORE_USERS_H
#define STORE_USERS_H

#include <stddef.h>
#include <stdint.h>

#include "util/err.h"

struct store_conn;

#define STORE_EMAIL_MAX              254
#define STORE_DISPLAY_NAME_MAX_BYTES 400 /* 100 code points of up to 4 bytes */
#define STORE_SEALED_MAX             768 /* a sealed display name: prefix, owner, base64 */

struct store_user {
    char id[37];
    char email[STORE_EMAIL_MAX + 1];
    char display_name[STORE_DISPLAY_NAME_MAX_BYTES + 1]; /* "" = none */
    char password_hash[128];
    int trust;      /* 0..100 */
    unsigned roles; /* core/authz.h FG_ROLE_* */
    int disabled;
    int mfa_enabled;
    char mfa_secret[65]; /* base32; "" = none (pending while mfa_enabled = 0) */
    int64_t mfa_last_step;
    int64_t locked_until;                          /* ms; 0 = not locked */
    int64_t created_at, updated_at, last_login_at; /* last_login_at 0 = never */
    /* At-rest forms (issue 14, core/crypt.h): exchanged only between a backend and the crypt
     * decorator (core/crypt_store.c), which fills them on write and opens them on read. The
     * backend writes and reads them verbatim: email_enc ↔ users.email_enc, display_name_enc ↔
     * users.display_name, mfa_secret_enc ↔ users.mfa_secret ("" = NULL); the `email` column
     * holds the keyed blind index of the email. Callers above the store never see them set. */
    char email_enc[STORE_SEALED_MAX];
    char display_name_enc[STORE_SEALED_MAX];
    char mfa_secret_enc[STORE_SEALED_MAX];
};

struct store_session {
    char id[37];
    char user_id[37];
    char refresh_jti[65];
    int64_t created_at, last_used_at, expires_at;
    int64_t revoked_at; /* 0 = active */
};

struct store_user_ops {
    /** Inserts a user. FG_ECONFLICT when the email is taken. */
    enum fg_err (*create)(struct store_conn *c, const struct store_user *u);
    /** FG_ENOTFOUND when absent. */
    enum fg_err (*get_by_id)(struct store_conn *c, const char *id, struct store_user *out);
    enum fg_err (*get_by_email)(struct store_conn *c, const char *email, struct store_user *out);
    /** A page, newest first. *items is malloc'd (caller frees), *n its length. */
    enum fg_err (*list)(struct store_conn *c, long long offset, long long limit,
                        struct store_user **items, size_t *n, long long *total);
    /** Field updates; each bumps updated_at to `now` and answers FG_ENOTFOUND for no such id. */
    enum fg_err (*set_display_name)(struct store_conn *c, const char *id, const char *name,
                                    int64_t now);
    enum fg_err (*set_password_hash)(struct store_conn *c, const char *id, const char *hash,
                                     int64_t now);
    enum fg_err (*set_trust)(struct store_conn *c, const char *id, int trust, int64_t now);
    enum fg_err (*set_roles)(struct store_conn *c, const char *id, unsigned roles, int64_t now);
    enum fg_err (*set_disabled)(struct store_conn *c, const char *id, int disabled, int64_t now);
    /** secret NULL clears it. */
    enum fg_err (*set_mfa)(struct store_conn *c, const char *id, const char *secret, int enabled,
                           int64_t last_step, int64_t now);
    /** Records a used TOTP step only if it is later than the last one: *ok = 0 on replay. */
    enum fg_err (*use_mfa_step)(struct store_conn *c, const char *id, int64_t step, int *ok);
    enum fg_err (*set_locked_until)(struct store_conn *c, const char *id, int64_t until);
    enum fg_err (*set_last_login)(struct store_conn *c, const char *id, int64_t now);
    /** Users holding the admin role (any state). */
    enum fg_err (*count_admins)(struct store_conn *c, long long *n);

    enum fg_err (*session_create)(struct store_conn *c, const struct store_session *s);
    enum fg_err (*session_get)(struct store_conn *c, const char *id, struct store_session *out);
    /** Replaces refresh_jti old → new (and the expiry) only if the session is active and its
     * current jti is `old_jti`: *rotated = 0 otherwise. */
    enum fg_err (*session_rotate)(struct store_conn *c, const char *id, const char *old_jti,
                                  const char *new_jti, int64_t new_expires, int64_t now,
                                  int *rotated);
    /** Revokes one session (no-op if already revoked). */
    enum fg_err (*session_revoke)(struct store_conn *c, const char *id, const char *reason,
                                  int64_t now);
    /** Revokes every active session of a user except `except_id` (may be NULL), calling `fn`
     * with each revoked id first. Run it inside a transaction so the set is exact. */
    enum fg_err (*session_revoke_user)(struct store_conn *c, const char *user_id,
                                       const char *except_id, const char *reason, int64_t now,
                                       void (*fn)(void *ctx, const char *sid), void *ctx);
    /** Deletes sessions expired or revoked before `before`; *deleted (may be NULL). */
    enum fg_err (*session_purge)(struct store_conn *c, int64_t before, long long *deleted);
    /** Sets the email's at-rest forms (blind index, sealed value) without touching updated_at
     * (core/crypt_store.c: sealing rows written before encryption). FG_ECONFLICT when the blind
     * index is taken. */
    enum fg_err (*set_email)(struct store_conn *c, const char *id, const char *email_bidx,
                             const char *email_enc);
};

#endif
