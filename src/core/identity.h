/*
 * Identity (SPEC §3): accounts, login with lockout and MFA, sessions with rotating refresh
 * tokens, access-token authentication for the request guard, and the admin operations on users.
 * The HTTP handlers (api/auth.c, api/admin_users.c) validate input and map results to replies;
 * the rules live here. State: the store (users, sessions: the source of truth) and the shared
 * state (core/shared_state.h: failure counters, locks, session/user caches).
 *
 * Session state seen by access tokens: every access token names its session (`sid`). The guard
 * asks the shared state "sess:<sid>" ("1:<owner user id>" = active, "0" = revoked); on a miss it
 * reads the session row and caches the answer with SET NX, while every revocation writes 0 with a
 * plain SET after its commit — so a cache fill racing a revocation can never leave "active"
 * behind. A hit is accepted only when the cached owner equals the token's `sub` (a token whose
 * `sub` differs from its session's user is refused, cached or not). The caller's
 * trust, roles and disabled flag come the same way from "usr:<id>" (written through by admin
 * changes), so a demotion or a disable takes effect on the next request, not at token expiry.
 */
#ifndef CORE_IDENTITY_H
#define CORE_IDENTITY_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "core/jwt.h"
#include "core/ctx.h"
#include "store/users.h"
#include "util/err.h"

struct fg_app;

#define FG_SESSION_CACHE_TTL_MS 300000   /* "sess:<sid>" = "1:<user id>" */
#define FG_USER_CACHE_TTL_MS    60000    /* "usr:<id>" */
#define FG_FAILURE_MEMORY_MS    86400000 /* consecutive-failure counter forgotten after a day */
#define FG_DISPLAY_NAME_MAX     100      /* code points */
#define FG_TOTP_ISSUER          "Forge"

/** Starts identity: shared state, Argon2 bound, TOTP, session purge, IP blocks reloaded from the
 * store, bootstrap admin (FORGE_ADMIN_EMAIL/PASSWORD). -1 + message naming the variable. */
int fg_identity_start(struct fg_app *app, char *err, size_t errlen);
void fg_identity_stop(struct fg_app *app);

/** Validates and lower-cases an email (≤ 254 bytes, local@domain.tld, ASCII). 0 ok, -1 invalid. */
int fg_email_normalize(const char *in, char *out, size_t outlen);

/** NULL if `name` (UTF-8, `len` bytes) is acceptable as a display name, else what it must not
 * contain: NUL, C0/C1 control characters (U+0000–U+001F, U+007F–U+009F), bidirectional
 * formatting characters (U+061C, U+200E–U+200F, U+202A–U+202E, U+2066–U+2069) or markup
 * (`<`, `>`). Length is checked by the caller. */
const char *fg_display_name_problem(const char *name, size_t len);

/** {id, email, display_name, trust_level, roles, mfa_enabled, disabled, created_at, ...} */
json_t *fg_user_json(const struct store_user *u);

/** "account locked for 15 minutes after 5 failed logins" (from the configuration). */
void fg_identity_lock_message(const struct fg_app *app, char *out, size_t len);

/** 1 when the admin-only test clock hook is enabled (development + FORGE_TEST_CLOCK=1). */
int fg_identity_test_clock_enabled(const struct fg_app *app);

struct fg_token_pair {
    char *access;       /* malloc'd */
    char *refresh;      /* malloc'd */
    int64_t expires_in; /* seconds (access token) */
};
void fg_token_pair_free(struct fg_token_pair *t);

/* ---- request authentication (guard) --------------------------------------------------- */

enum fg_auth_result {
    FG_AUTH_OK = 0,
    FG_AUTH_INVALID,     /* bad token: reason says why */
    FG_AUTH_REVOKED,     /* session revoked (logout, reuse, password change, disable) */
    FG_AUTH_DISABLED,    /* account disabled */
    FG_AUTH_UNAVAILABLE, /* store or shared state down: fail closed (503) */
};
/** The authenticated caller of a verified access token. */
struct fg_principal {
    char user_id[37];
    char email[321];
    int trust;      /* trust value 0..100 (live) */
    unsigned roles; /* bit set, see core/authz.h (live) */
    char jti[65];
};
/** Verifies an access token and fills the principal with the live trust and roles. *claims (may
 * be NULL) receives the token's claims. *reason: text for the 401. */
enum fg_auth_result fg_identity_authenticate(struct fg_app *app, const char *token,
                                             struct fg_principal *p, struct fg_jwt_claims *claims,
                                             const char **reason);

/* ---- accounts ------------------------------------------------------------------------- */

/** Creates an account (hashing the password). FG_ECONFLICT: email taken; FG_EUNAVAIL: hashing
 * busy. `ctx` may be NULL (CLI, bootstrap). *out (may be NULL) receives the row. */
enum fg_err fg_identity_create_user(struct fg_app *app, const struct fg_ctx *ctx, const char *email,
                                    const char *password, size_t pwlen, const char *display_name,
                                    int trust, unsigned roles, const char *audit_action,
                                    struct store_user *out);

/**
 * Self-registration (POST /auth/register) without account enumeration: a free email gets a new
 * account (*created = 1); a taken one gets the same Argon2 work and an answer of the same shape
 * (*out filled with a fresh id that names no account, *created = 0), and the attempt is recorded
 * out of band (audit `auth.register_conflict`, event `user.register_conflict`).
 */
enum fg_err fg_identity_register(struct fg_app *app, const struct fg_ctx *ctx, const char *email,
                                 const char *password, size_t pwlen, const char *display_name,
                                 struct store_user *out, int *created);

enum fg_login_status {
    FG_LOGIN_OK = 0,
    FG_LOGIN_BAD_CREDENTIALS,
    FG_LOGIN_LOCKED,
    FG_LOGIN_MFA_REQUIRED,
    FG_LOGIN_MFA_INVALID,
    FG_LOGIN_DISABLED,
};
struct fg_login_result {
    enum fg_login_status status;
    int64_t locked_until;        /* ms, for FG_LOGIN_LOCKED */
    struct store_user user;      /* FG_LOGIN_OK */
    struct fg_token_pair tokens; /* FG_LOGIN_OK; free with fg_token_pair_free */
};
/** Login (SPEC §3.3): lock checked first, then the password (a dummy verify for unknown emails),
 * then the account state and MFA. Failures count per email and per client IP. */
enum fg_err fg_identity_login(struct fg_app *app, const struct fg_ctx *ctx, const char *email,
                              const char *password, size_t pwlen, const char *mfa_code,
                              struct fg_login_result *out);

enum fg_refresh_status {
    FG_REFRESH_OK = 0,
    FG_REFRESH_INVALID,  /* not a valid refresh token (reason set) */
    FG_REFRESH_REVOKED,  /* session revoked or expired */
    FG_REFRESH_REUSED,   /* an old refresh token: the session is now revoked */
    FG_REFRESH_DISABLED, /* account disabled */
};
enum fg_err fg_identity_refresh(struct fg_app *app, const struct fg_ctx *ctx, const char *token,
                                enum fg_refresh_status *status, const char **reason,
                                struct store_user *user, struct fg_token_pair *out);

/** Revokes the session `sid` (logout). */
enum fg_err fg_identity_logout(struct fg_app *app, const struct fg_ctx *ctx, const char *sid);

enum fg_reauth_status { FG_REAUTH_OK = 0, FG_REAUTH_WRONG, FG_REAUTH_LOCKED };

/** Changes the password after checking the current one (a wrong one counts as a failed login);
 * revokes every other session of the user. */
enum fg_err fg_identity_change_password(struct fg_app *app, const struct fg_ctx *ctx,
                                        const char *user_id, const char *keep_sid,
                                        const char *current, size_t curlen, const char *next,
                                        size_t nextlen, enum fg_reauth_status *status,
                                        int64_t *locked_until);

enum fg_err fg_identity_set_display_name(struct fg_app *app, const struct fg_ctx *ctx,
                                         const char *user_id, const char *name,
                                         struct store_user *out);

/** MFA: setup stores a pending secret (FG_ECONFLICT when MFA is already on). *uri malloc'd. */
enum fg_err fg_identity_mfa_setup(struct fg_app *app, const struct fg_ctx *ctx, const char *user_id,
                                  char *secret, size_t secretlen, char **uri);
/** Enables MFA when `code` matches the pending secret: *ok. FG_ECONFLICT: no pending secret or
 * already enabled. */
enum fg_err fg_identity_mfa_verify(struct fg_app *app, const struct fg_ctx *ctx,
                                   const char *user_id, const char *code, int *ok);
/** Disables MFA when `code` is valid (a wrong one counts as a failed login). FG_ECONFLICT: off. */
enum fg_err fg_identity_mfa_disable(struct fg_app *app, const struct fg_ctx *ctx,
                                    const char *user_id, const char *code,
                                    enum fg_reauth_status *status, int64_t *locked_until);

/* ---- admin ---------------------------------------------------------------------------- */

/**
 * Call after committing any change to a user's trust, roles or disabled flag made outside this
 * module (governance trust adjustments, quarantine, GDPR erasure): re-reads the row and writes the
 * live state through to the shared state, so the change applies on the next request instead of
 * after FG_USER_CACHE_TTL_MS. A disabled user also gets `disabled` (tokens refused at once).
 */
void fg_identity_user_changed(struct fg_app *app, const char *user_id);

enum fg_err fg_identity_get_user(struct fg_app *app, const char *user_id, struct store_user *out);
enum fg_err fg_identity_set_trust(struct fg_app *app, const struct fg_ctx *ctx, const char *user_id,
                                  int trust, struct store_user *out);
enum fg_err fg_identity_set_roles(struct fg_app *app, const struct fg_ctx *ctx, const char *user_id,
                                  unsigned roles, struct store_user *out);
/** Disables (revoking every session) or enables an account. */
enum fg_err fg_identity_set_disabled(struct fg_app *app, const struct fg_ctx *ctx,
                                     const char *user_id, int disabled, struct store_user *out);

/** Checks the password of an authenticated user before a destructive action (GDPR erasure):
 * a wrong one counts as a failed login (lockout applies). */
enum fg_err fg_identity_reauth(struct fg_app *app, const struct fg_ctx *ctx, const char *user_id,
                               const char *pw, size_t pwlen, enum fg_reauth_status *status,
                               int64_t *locked_until);

#endif
