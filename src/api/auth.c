/*
 * /api/v1/auth: register, login, refresh, logout, me, password change, MFA (SPEC §3.3–3.4).
 * Handlers validate input and map core/identity.h outcomes to replies; docs/identity.md lists
 * every status and code.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/authn.h"
#include "api/error.h"
#include "api/routes.h"
#include "api/validate.h"
#include "core/app.h"
#include "core/authz.h"
#include "core/identity.h"
#include "core/password.h"
#include "core/totp.h"
#include "http/reply.h"
#include "util/config.h"
#include "util/time.h"

#define PASSWORD_FIELD_MAX 1024 /* characters accepted on input before the policy check */
#define TOKEN_FIELD_MAX    4096
#define MFA_CODE_FIELD_MAX 16
#define LOGIN_FAILED_MSG   "invalid email or password, or a missing or wrong mfa_code"

/* ---- helpers -------------------------------------------------------------------------- */

static void reply_store_error(struct http_resp *resp, enum fg_err e, const char *what)
{
    /* here a store error other than not-found or unavailable is a fault: 500, as before */
    if (e != FG_ENOTFOUND && e != FG_EUNAVAIL && e != FG_ETIMEOUT)
        e = FG_EINTERNAL;
    api_reply_err(resp, e, &(struct fg_why){.what = what, .actual_trust = -1});
}

/* A string field without NUL bytes: *len set. Same return convention as v_string. */
static int v_secret(struct http_resp *resp, json_t *b, const char *field, int required,
                    size_t max_chars, const char **out, size_t *len)
{
    int rc = v_string(resp, b, field, required, 1, max_chars, out);
    if (rc != 0)
        return rc;
    json_t *v = json_object_get(b, field);
    *len = json_string_length(v);
    if (strlen(*out) != *len) {
        http_reply_invalid(resp, field, "%s must not contain NUL characters", field);
        return -1;
    }
    return 0;
}

static int v_display_name(struct http_resp *resp, json_t *b, int required, const char **out)
{
    int rc = v_string(resp, b, "display_name", required, 0, FG_DISPLAY_NAME_MAX, out);
    if (rc != 0)
        return rc;
    const char *why =
        fg_display_name_problem(*out, json_string_length(json_object_get(b, "display_name")));
    if (why) {
        http_reply_invalid(resp, "display_name", "display_name must not contain %s", why);
        return -1;
    }
    return 0;
}

static void reply_locked(struct fg_app *app, struct http_resp *resp, int status,
                         int64_t locked_until)
{
    char msg[160], iso[40], retry[24];
    fg_identity_lock_message(app, msg, sizeof msg);
    fg_time_iso(locked_until, iso, sizeof iso);
    int64_t left = (locked_until - fg_now_ms() + 999) / 1000;
    if (left < 1)
        left = 1;
    json_t *d = json_pack("{sssssI}", "reason", "locked", "locked_until", iso, "retry_after_s",
                          (json_int_t)left);
    if (status == 401) {
        http_reply_unauthorized(resp, msg);
        json_object_set_new(resp->json, "details", d);
    } else {
        http_reply_forbidden(resp, msg, d);
    }
    snprintf(retry, sizeof retry, "%" PRId64, left);
    http_resp_header(resp, "Retry-After", retry);
}

static void reply_tokens(struct http_resp *resp, struct fg_token_pair *t,
                         const struct store_user *u)
{
    json_t *d = json_object();
    json_object_set_new(d, "access_token", json_string(t->access));
    json_object_set_new(d, "refresh_token", json_string(t->refresh));
    json_object_set_new(d, "token_type", json_string("bearer"));
    json_object_set_new(d, "expires_in", json_integer(t->expires_in));
    json_object_set_new(d, "user", fg_user_json(u));
    http_reply_data(resp, 200, d, NULL);
    http_resp_header(resp, "Cache-Control", "no-store");
}

/* ---- handlers ------------------------------------------------------------------------- */

static void h_register(struct http_req *req, struct http_resp *resp)
{
    static const char *const known[] = {"email", "password", "display_name", NULL};
    json_t *b = http_json_body_or_reply(req, resp);
    const char *email_in, *pw, *dn = NULL;
    size_t pwlen = 0;
    if (!b || v_no_unknown(resp, b, known) || v_string(resp, b, "email", 1, 1, 320, &email_in) ||
        v_secret(resp, b, "password", 1, PASSWORD_FIELD_MAX, &pw, &pwlen) < 0 ||
        v_display_name(resp, b, 0, &dn) < 0)
        return;
    char email[STORE_EMAIL_MAX + 1];
    if (fg_email_normalize(email_in, email, sizeof email) != 0) {
        http_reply_invalid(resp, "email",
                           "email must be a valid address of at most 254 characters");
        return;
    }
    if (!fg_password_policy_ok(pw, pwlen)) {
        http_reply_invalid(resp, "password", "%s", FG_PASSWORD_POLICY_MSG);
        return;
    }
    struct store_user u;
    int created = 0;
    /* a taken email answers exactly like a free one (issue 11, finding 13; docs/identity.md) */
    enum fg_err e =
        fg_identity_register(req->app, api_ctx(req), email, pw, pwlen, dn, &u, &created);
    if (e != FG_OK) {
        reply_store_error(resp, e, "user");
        return;
    }
    http_reply_data(resp, 201, fg_user_json(&u), NULL);
}

static void h_login(struct http_req *req, struct http_resp *resp)
{
    static const char *const known[] = {"email", "password", "mfa_code", NULL};
    json_t *b = http_json_body_or_reply(req, resp);
    const char *email_in, *pw, *code = NULL;
    size_t pwlen = 0;
    if (!b || v_no_unknown(resp, b, known) || v_string(resp, b, "email", 1, 1, 320, &email_in) ||
        v_secret(resp, b, "password", 1, PASSWORD_FIELD_MAX, &pw, &pwlen) < 0 ||
        v_string(resp, b, "mfa_code", 0, 0, MFA_CODE_FIELD_MAX, &code) < 0)
        return;
    char email[STORE_EMAIL_MAX + 1];
    if (fg_email_normalize(email_in, email, sizeof email) != 0) {
        http_reply_invalid(resp, "email",
                           "email must be a valid address of at most 254 characters");
        return;
    }
    struct fg_login_result r;
    enum fg_err e = fg_identity_login(req->app, api_ctx(req), email, pw, pwlen, code, &r);
    if (e != FG_OK) {
        reply_store_error(resp, e, "user");
        return;
    }
    switch (r.status) {
    case FG_LOGIN_OK:
        reply_tokens(resp, &r.tokens, &r.user);
        fg_token_pair_free(&r.tokens);
        return;
    case FG_LOGIN_BAD_CREDENTIALS:
    case FG_LOGIN_MFA_REQUIRED:
    case FG_LOGIN_MFA_INVALID:
        /* one answer for a wrong password, a missing code and a wrong code: a right password
         * is never confirmed without its second factor (issue 11, finding 14) */
        http_reply_unauthorized(resp, LOGIN_FAILED_MSG);
        return;
    case FG_LOGIN_LOCKED:
        reply_locked(req->app, resp, 401, r.locked_until);
        return;
    case FG_LOGIN_DISABLED:
        http_reply_forbidden(resp, "account disabled", json_pack("{ss}", "reason", "disabled"));
        return;
    }
    http_reply_internal(resp);
}

static void h_refresh(struct http_req *req, struct http_resp *resp)
{
    static const char *const known[] = {"refresh_token", NULL};
    json_t *b = http_json_body_or_reply(req, resp);
    const char *tok;
    if (!b || v_no_unknown(resp, b, known) ||
        v_string(resp, b, "refresh_token", 1, 1, TOKEN_FIELD_MAX, &tok))
        return;
    enum fg_refresh_status st = FG_REFRESH_INVALID;
    const char *reason = "invalid refresh token";
    struct store_user u;
    struct fg_token_pair t;
    enum fg_err e = fg_identity_refresh(req->app, api_ctx(req), tok, &st, &reason, &u, &t);
    if (e != FG_OK) {
        reply_store_error(resp, e, "session");
        return;
    }
    if (st != FG_REFRESH_OK) {
        char h[200];
        http_reply_unauthorized(resp, reason);
        snprintf(h, sizeof h, "Bearer realm=\"forge\", error=\"invalid_token\"");
        http_resp_header(resp, "WWW-Authenticate", h);
        return;
    }
    reply_tokens(resp, &t, &u);
    fg_token_pair_free(&t);
}

static void h_logout(struct http_req *req, struct http_resp *resp)
{
    struct fg_jwt_claims cl;
    if (api_request_claims(req, &cl) != 0) {
        http_reply_unauthorized(resp, "authentication required");
        return;
    }
    enum fg_err e = fg_identity_logout(req->app, api_ctx(req), cl.sid);
    if (e != FG_OK) {
        reply_store_error(resp, e, "session");
        return;
    }
    http_reply_no_content(resp);
}

static void h_me(struct http_req *req, struct http_resp *resp)
{
    struct store_user u;
    enum fg_err e = fg_identity_get_user(req->app, req->principal->user_id, &u);
    if (e != FG_OK) {
        reply_store_error(resp, e, "user");
        return;
    }
    http_reply_data(resp, 200, fg_user_json(&u), NULL);
}

static void h_me_patch(struct http_req *req, struct http_resp *resp)
{
    static const char *const known[] = {"display_name", NULL};
    json_t *b = http_json_body_or_reply(req, resp);
    const char *dn = NULL;
    if (!b || v_no_unknown(resp, b, known) || v_display_name(resp, b, 1, &dn) < 0)
        return;
    struct store_user u;
    enum fg_err e =
        fg_identity_set_display_name(req->app, api_ctx(req), req->principal->user_id, dn, &u);
    if (e != FG_OK) {
        reply_store_error(resp, e, "user");
        return;
    }
    http_reply_data(resp, 200, fg_user_json(&u), NULL);
}

static void h_password(struct http_req *req, struct http_resp *resp)
{
    static const char *const known[] = {"current_password", "new_password", NULL};
    json_t *b = http_json_body_or_reply(req, resp);
    const char *cur, *next;
    size_t curlen = 0, nextlen = 0;
    if (!b || v_no_unknown(resp, b, known) ||
        v_secret(resp, b, "current_password", 1, PASSWORD_FIELD_MAX, &cur, &curlen) < 0 ||
        v_secret(resp, b, "new_password", 1, PASSWORD_FIELD_MAX, &next, &nextlen) < 0)
        return;
    if (!fg_password_policy_ok(next, nextlen)) {
        http_reply_invalid(resp, "new_password", "%s", FG_PASSWORD_POLICY_MSG);
        return;
    }
    struct fg_jwt_claims cl;
    if (api_request_claims(req, &cl) != 0) {
        http_reply_unauthorized(resp, "authentication required");
        return;
    }
    enum fg_reauth_status st = FG_REAUTH_WRONG;
    int64_t until = 0;
    enum fg_err e = fg_identity_change_password(req->app, api_ctx(req), req->principal->user_id,
                                                cl.sid, cur, curlen, next, nextlen, &st, &until);
    if (e != FG_OK) {
        reply_store_error(resp, e, "user");
        return;
    }
    if (st == FG_REAUTH_LOCKED) {
        reply_locked(req->app, resp, 403, until);
        return;
    }
    if (st == FG_REAUTH_WRONG) {
        http_reply_invalid(resp, "current_password", "current password is incorrect");
        return;
    }
    http_reply_no_content(resp);
}

static void h_mfa_setup(struct http_req *req, struct http_resp *resp)
{
    char secret[FG_TOTP_SECRET_B32_MAX];
    char *uri = NULL;
    enum fg_err e = fg_identity_mfa_setup(req->app, api_ctx(req), req->principal->user_id, secret,
                                          sizeof secret, &uri);
    if (e == FG_ECONFLICT) {
        http_reply_conflict(resp, "MFA is already enabled; disable it first", NULL);
        return;
    }
    if (e != FG_OK) {
        reply_store_error(resp, e, "user");
        return;
    }
    http_reply_data(resp, 200,
                    json_pack("{sssssisi}", "secret", secret, "otpauth_uri", uri, "digits",
                              FG_TOTP_DIGITS, "period", FG_TOTP_STEP_S),
                    NULL);
    http_resp_header(resp, "Cache-Control", "no-store");
    free(uri);
}

static int read_code(struct http_req *req, struct http_resp *resp, const char **code)
{
    static const char *const known[] = {"code", NULL};
    json_t *b = http_json_body_or_reply(req, resp);
    if (!b || v_no_unknown(resp, b, known) ||
        v_string(resp, b, "code", 1, 1, MFA_CODE_FIELD_MAX, code))
        return -1;
    return 0;
}

static void h_mfa_verify(struct http_req *req, struct http_resp *resp)
{
    const char *code;
    if (read_code(req, resp, &code) != 0)
        return;
    int ok = 0;
    enum fg_err e =
        fg_identity_mfa_verify(req->app, api_ctx(req), req->principal->user_id, code, &ok);
    if (e == FG_ECONFLICT) {
        http_reply_conflict(resp,
                            "no MFA setup in progress (MFA is enabled, or POST "
                            "/api/v1/auth/mfa/setup first)",
                            NULL);
        return;
    }
    if (e != FG_OK) {
        reply_store_error(resp, e, "user");
        return;
    }
    if (!ok) {
        http_reply_invalid(resp, "code", "invalid MFA code");
        return;
    }
    http_reply_data(resp, 200, json_pack("{sb}", "mfa_enabled", 1), NULL);
}

static void h_mfa_disable(struct http_req *req, struct http_resp *resp)
{
    const char *code;
    if (read_code(req, resp, &code) != 0)
        return;
    enum fg_reauth_status st = FG_REAUTH_WRONG;
    int64_t until = 0;
    enum fg_err e =
        fg_identity_mfa_disable(req->app, api_ctx(req), req->principal->user_id, code, &st, &until);
    if (e == FG_ECONFLICT) {
        http_reply_conflict(resp, "MFA is not enabled", NULL);
        return;
    }
    if (e != FG_OK) {
        reply_store_error(resp, e, "user");
        return;
    }
    if (st == FG_REAUTH_LOCKED) {
        reply_locked(req->app, resp, 403, until);
        return;
    }
    if (st == FG_REAUTH_WRONG) {
        http_reply_invalid(resp, "code", "invalid MFA code");
        return;
    }
    http_reply_data(resp, 200, json_pack("{sb}", "mfa_enabled", 0), NULL);
}

/* ---- route table ---------------------------------------------------------------------- */

#define USER_SCHEMA                                                                                \
    "{\"type\":\"object\",\"properties\":{\"id\":{\"type\":\"string\",\"format\":\"uuid\"},"       \
    "\"email\":{\"type\":\"string\"},\"display_name\":{\"type\":[\"string\",\"null\"]},"           \
    "\"trust_level\":{\"enum\":[\"core\",\"trusted\",\"standard\",\"sandbox\",\"quarantine\"]},"   \
    "\"roles\":{\"type\":\"array\",\"items\":{\"enum\":[\"user\",\"trusted\",\"operator\","        \
    "\"admin\"]}},\"mfa_enabled\":{\"type\":\"boolean\"},\"disabled\":{\"type\":\"boolean\"},"     \
    "\"created_at\":{\"type\":\"string\"},\"updated_at\":{\"type\":\"string\"},"                   \
    "\"last_login_at\":{\"type\":[\"string\",\"null\"]}}}"
#define TOKENS_SCHEMA                                                                              \
    "{\"type\":\"object\",\"properties\":{\"access_token\":{\"type\":\"string\"},"                 \
    "\"refresh_token\":{\"type\":\"string\"},\"token_type\":{\"const\":\"bearer\"},"               \
    "\"expires_in\":{\"type\":\"integer\"},\"user\":" USER_SCHEMA "}}"
#define PASSWORD_PROP                                                                              \
    "{\"type\":\"string\",\"minLength\":8,\"maxLength\":128,\"description\":"                      \
    "\"" FG_PASSWORD_POLICY_MSG "\"}"
#define CODE_BODY                                                                                  \
    "{\"type\":\"object\",\"required\":[\"code\"],\"additionalProperties\":false,"                 \
    "\"properties\":{\"code\":{\"type\":\"string\",\"pattern\":\"^[0-9]{6}$\"}}}"

const struct http_route api_auth_routes[] = {
    {"POST", "/api/v1/auth/register", h_register, HTTP_OFFLOAD,
     "Create an account (trust standard, role user)", "auth", NULL, 201,
     "{\"type\":\"object\",\"required\":[\"email\",\"password\"],\"additionalProperties\":false,"
     "\"properties\":{\"email\":{\"type\":\"string\",\"maxLength\":254},\"password\":" PASSWORD_PROP
     ",\"display_name\":{\"type\":\"string\",\"maxLength\":100}}}",
     USER_SCHEMA, NULL},
    {"POST", "/api/v1/auth/login", h_login, HTTP_OFFLOAD,
     "Log in: access + refresh token (MFA accounts send mfa_code; one 401 for every failure)",
     "auth", NULL, 200,
     "{\"type\":\"object\",\"required\":[\"email\",\"password\"],\"additionalProperties\":false,"
     "\"properties\":{\"email\":{\"type\":\"string\"},\"password\":{\"type\":\"string\"},"
     "\"mfa_code\":{\"type\":\"string\",\"pattern\":\"^[0-9]{6}$\"}}}",
     TOKENS_SCHEMA, NULL},
    {"POST", "/api/v1/auth/refresh", h_refresh, 0,
     "Rotate both tokens; a refresh token works once (reuse revokes the session)", "auth", NULL,
     200,
     "{\"type\":\"object\",\"required\":[\"refresh_token\"],\"additionalProperties\":false,"
     "\"properties\":{\"refresh_token\":{\"type\":\"string\"}}}",
     TOKENS_SCHEMA, NULL},
    {"POST", "/api/v1/auth/logout", h_logout, HTTP_AUTH_REQUIRED,
     "Revoke the current session (its access and refresh tokens)", "auth", NULL, 204, NULL, NULL,
     NULL},
    {"GET", "/api/v1/auth/me", h_me, HTTP_AUTH_REQUIRED, "The caller's account", "auth", NULL, 200,
     NULL, USER_SCHEMA, NULL},
    {"PATCH", "/api/v1/auth/me", h_me_patch, HTTP_AUTH_REQUIRED, "Change the display name", "auth",
     NULL, 200,
     "{\"type\":\"object\",\"required\":[\"display_name\"],\"additionalProperties\":false,"
     "\"properties\":{\"display_name\":{\"type\":\"string\",\"maxLength\":100}}}",
     USER_SCHEMA, NULL},
    {"POST", "/api/v1/auth/me/password", h_password, HTTP_AUTH_REQUIRED | HTTP_OFFLOAD,
     "Change the password (needs the current one; other sessions are revoked)", "auth", NULL, 204,
     "{\"type\":\"object\",\"required\":[\"current_password\",\"new_password\"],"
     "\"additionalProperties\":false,\"properties\":{\"current_password\":{\"type\":\"string\"},"
     "\"new_password\":" PASSWORD_PROP "}}",
     NULL, NULL},
    {"POST", "/api/v1/auth/mfa/setup", h_mfa_setup, HTTP_AUTH_REQUIRED,
     "Start TOTP setup: a new secret and its otpauth:// URI", "auth", NULL, 200, NULL,
     "{\"type\":\"object\",\"properties\":{\"secret\":{\"type\":\"string\"},"
     "\"otpauth_uri\":{\"type\":\"string\"},\"digits\":{\"type\":\"integer\"},"
     "\"period\":{\"type\":\"integer\"}}}",
     NULL},
    {"POST", "/api/v1/auth/mfa/verify", h_mfa_verify, HTTP_AUTH_REQUIRED,
     "Enable MFA with a code from the new secret", "auth", NULL, 200, CODE_BODY, NULL, NULL},
    {"POST", "/api/v1/auth/mfa/disable", h_mfa_disable, HTTP_AUTH_REQUIRED,
     "Disable MFA (needs a current code)", "auth", NULL, 200, CODE_BODY, NULL, NULL},
    {NULL, NULL, NULL, 0, NULL, NULL, NULL, 0, NULL, NULL, NULL},
};
