/*
 * GDPR rights (issue 14 item 3, SPEC §9/§10, docs/privacy.md):
 *   GET    /api/v1/me/data                  access: everything held about the caller (streamed);
 *                                           ?download=1 → the same JSON as an attachment
 *   DELETE /api/v1/me                       erasure of the caller (password + confirmation)
 *   POST   /api/v1/admin/users/{id}/erase   erasure by an admin (admin:users)
 *   GET    /api/v1/me/consents              consent state and history
 *   PUT    /api/v1/me/consents              grant / withdraw purposes
 * The work is in core/privacy.c.
 */
#include <stdio.h>
#include <string.h>

#include "api/authn.h"
#include "api/error.h"
#include "api/routes.h"
#include "api/validate.h"
#include "core/app.h"
#include "core/authz.h"
#include "core/identity.h"
#include "core/privacy.h"
#include "http/reply.h"
#include "store/store.h"
#include "store/users.h"
#include "util/config.h"
#include "util/time.h"

#define ERASE_CONFIRMATION "ERASE"
#define PASSWORD_MAX       1024
#define HISTORY_MAX        100

static void reply_err(struct http_resp *resp, enum fg_err e, const char *what)
{
    /* here a store error other than not-found or unavailable is a fault: 500, as before */
    if (e != FG_ENOTFOUND && e != FG_EUNAVAIL && e != FG_ETIMEOUT)
        e = FG_EINTERNAL;
    api_reply_err(resp, e, &(struct fg_why){.what = what, .actual_trust = -1});
}

static long export_read(void *ctx, char *buf, size_t max)
{
    return (long)fg_export_read(ctx, buf, max);
}

static void export_free(void *ctx)
{
    fg_export_close(ctx);
}

static void h_data(struct http_req *req, struct http_resp *resp)
{
    int download = 0;
    if (q_bool(req, resp, "download", 0, &download) < 0)
        return;
    const char *accept = http_header(req, "Accept");
    if (accept && strstr(accept, "application/octet-stream"))
        download = 1;
    enum fg_err e;
    struct fg_export *x = fg_export_open(req->app, req->principal->user_id, &e);
    if (!x) {
        reply_err(resp, e, "user");
        return;
    }
    resp->status = 200;
    resp->content_type = "application/json";
    resp->stream = export_read;
    resp->stream_free = export_free;
    resp->stream_ctx = x;
    http_resp_header(resp, "Cache-Control", "no-store");
    if (download) {
        char cd[128], day[40];
        fg_time_iso(fg_now_ms(), day, sizeof day);
        day[10] = '\0';
        snprintf(cd, sizeof cd, "attachment; filename=\"forge-export-%s.json\"", day);
        http_resp_header(resp, "Content-Disposition", cd);
    }
}

static void reply_erased(struct http_resp *resp, const char *uid, const struct fg_erase_result *r)
{
    http_reply_data(resp, 200,
                    json_pack("{sssbsbsIsIsI}", "id", uid, "erased", 1, "already_erased",
                              r->already, "capsules_removed", (json_int_t)r->capsules_removed,
                              "capsules_tombstoned", (json_int_t)r->capsules_tombstoned,
                              "votes_anonymised", (json_int_t)r->votes_anonymised),
                    NULL);
}

static int confirmation_ok(struct http_resp *resp, json_t *b)
{
    const char *conf = NULL;
    if (v_string(resp, b, "confirmation", 1, 1, 64, &conf) < 0)
        return 0;
    if (strcmp(conf, ERASE_CONFIRMATION) != 0) {
        http_reply_invalid(resp, "confirmation",
                           "confirmation must be the string \"" ERASE_CONFIRMATION "\"");
        return 0;
    }
    return 1;
}

/* 409 when erasing `uid` would leave the instance without an admin. */
static int last_admin(struct http_req *req, struct http_resp *resp, const char *uid)
{
    struct store_user u;
    enum fg_err e = fg_identity_get_user(req->app, uid, &u);
    if (e != FG_OK) {
        reply_err(resp, e, "user");
        return 1;
    }
    if (!(u.roles & FG_ROLE_ADMIN))
        return 0;
    long long n = 0;
    struct store_conn *c = store_acquire(req->app->store, &e);
    if (c) {
        e = req->app->store->users->count_admins(c, &n);
        store_release(req->app->store, c);
    }
    if (e != FG_OK) {
        reply_err(resp, e, "user");
        return 1;
    }
    if (n <= 1) {
        http_reply_conflict(resp, "the last admin account cannot be erased", NULL);
        return 1;
    }
    return 0;
}

static void h_erase_me(struct http_req *req, struct http_resp *resp)
{
    static const char *const known[] = {"password", "confirmation", NULL};
    json_t *b = http_json_body_or_reply(req, resp);
    const char *pw = NULL;
    if (!b || v_no_unknown(resp, b, known) ||
        v_string(resp, b, "password", 1, 1, PASSWORD_MAX, &pw) < 0 || !confirmation_ok(resp, b))
        return;
    const char *uid = req->principal->user_id;
    enum fg_reauth_status st = FG_REAUTH_WRONG;
    int64_t until = 0;
    enum fg_err e = fg_identity_reauth(req->app, api_ctx(req), uid, pw, strlen(pw), &st, &until);
    if (e != FG_OK) {
        reply_err(resp, e, "user");
        return;
    }
    if (st == FG_REAUTH_LOCKED) {
        http_reply_forbidden(resp, "too many failed attempts; the account is locked for a while",
                             json_pack("{ss}", "reason", "locked"));
        return;
    }
    if (st == FG_REAUTH_WRONG) {
        http_reply_invalid(resp, "password", "password is incorrect");
        return;
    }
    if (last_admin(req, resp, uid))
        return;
    struct fg_erase_result r;
    e = fg_privacy_erase(req->app, api_ctx(req), uid, "self", &r);
    if (e != FG_OK) {
        reply_err(resp, e, "user");
        return;
    }
    reply_erased(resp, uid, &r);
}

static void h_admin_erase(struct http_req *req, struct http_resp *resp)
{
    static const char *const known[] = {"confirmation", NULL};
    if (api_require_or_reply(req, resp, "admin:users") != 0)
        return;
    const char *id = NULL;
    if (p_uuid_or_reply(req, resp, "id", "user", &id) != 0)
        return;
    json_t *b = http_json_body_or_reply(req, resp);
    if (!b || v_no_unknown(resp, b, known) || !confirmation_ok(resp, b))
        return;
    if (strcmp(id, req->principal->user_id) == 0) {
        http_reply_conflict(resp, "erase your own account with DELETE /api/v1/me", NULL);
        return;
    }
    if (last_admin(req, resp, id))
        return;
    struct fg_erase_result r;
    enum fg_err e = fg_privacy_erase(req->app, api_ctx(req), id, "admin", &r);
    if (e != FG_OK) {
        reply_err(resp, e, "user");
        return;
    }
    reply_erased(resp, id, &r);
}

static void h_consents_get(struct http_req *req, struct http_resp *resp)
{
    json_t *o = NULL;
    enum fg_err e = fg_consent_get(req->app, req->principal->user_id, HISTORY_MAX, &o);
    if (e != FG_OK) {
        reply_err(resp, e, "user");
        return;
    }
    http_reply_data(resp, 200, o, NULL);
}

static void h_consents_put(struct http_req *req, struct http_resp *resp)
{
    static const char *const known[] = {"consents", NULL};
    json_t *b = http_json_body_or_reply(req, resp);
    if (!b || v_no_unknown(resp, b, known))
        return;
    json_t *ch = json_object_get(b, "consents");
    if (!json_is_object(ch) || json_object_size(ch) == 0 ||
        json_object_size(ch) > FG_CONSENT_PURPOSES_MAX) {
        http_reply_invalid(resp, "consents",
                           "consents must be a non-empty object {purpose: true|false}");
        return;
    }
    const char *k;
    json_t *v;
    json_object_foreach(ch, k, v)
    {
        if (!fg_consent_purpose_known(req->app, k)) {
            http_reply_invalid(resp, "consents", "unknown purpose '%.64s' (allowed: %s)", k,
                               req->app->cfg->consent_purposes);
            return;
        }
        if (!json_is_boolean(v)) {
            http_reply_invalid(resp, "consents", "the value of '%.64s' must be true or false", k);
            return;
        }
    }
    enum fg_err e = fg_consent_put(req->app, api_ctx(req), req->principal->user_id, ch);
    json_t *o = NULL;
    if (e == FG_OK)
        e = fg_consent_get(req->app, req->principal->user_id, HISTORY_MAX, &o);
    if (e != FG_OK) {
        reply_err(resp, e, "user");
        return;
    }
    http_reply_data(resp, 200, o, NULL);
}

#define ERASED_SCHEMA                                                                              \
    "{\"type\":\"object\",\"properties\":{\"id\":{\"type\":\"string\"},\"erased\":{\"const\":"     \
    "true},"                                                                                       \
    "\"already_erased\":{\"type\":\"boolean\"},\"capsules_removed\":{\"type\":\"integer\"},"       \
    "\"capsules_tombstoned\":{\"type\":\"integer\"},\"votes_anonymised\":{\"type\":\"integer\"}}}"
#define CONSENTS_SCHEMA                                                                            \
    "{\"type\":\"object\",\"properties\":{\"policy_version\":{\"type\":\"string\"},"               \
    "\"purposes\":{\"type\":\"array\",\"items\":{\"type\":\"object\",\"properties\":{"             \
    "\"purpose\":{\"type\":\"string\"},\"granted\":{\"type\":\"boolean\"},"                        \
    "\"policy_version\":{\"type\":[\"string\",\"null\"]},\"updated_at\":{\"type\":[\"string\","    \
    "\"null\"]}}}},\"history\":{\"type\":\"array\",\"description\":\"newest first, at most 100\"," \
    "\"items\":{\"type\":\"object\",\"properties\":{\"purpose\":{\"type\":\"string\"},"            \
    "\"granted\":{\"type\":\"boolean\"},\"policy_version\":{\"type\":\"string\"},"                 \
    "\"at\":{\"type\":\"string\"}}}},\"history_total\":{\"type\":\"integer\"}}}"
#define EXPORT_SCHEMA                                                                              \
    "{\"type\":\"object\",\"description\":\"forge.user-export schema_version 1 "                   \
    "(docs/privacy.md); "                                                                          \
    "the whole response is {data, meta} with meta.schema_version\",\"properties\":{"               \
    "\"schema\":{\"const\":\"forge.user-export\"},\"schema_version\":{\"const\":1},"               \
    "\"generated_at\":{\"type\":\"string\"},\"user\":{\"type\":\"object\"},"                       \
    "\"capsules\":{\"type\":\"array\"},\"votes\":{\"type\":\"array\"},"                            \
    "\"proposals\":{\"type\":\"array\"},\"sessions\":{\"type\":\"array\"},"                        \
    "\"consents\":{\"type\":\"array\"},\"audit\":{\"type\":\"array\"}}}"

const struct http_route api_privacy_routes[] = {
    {"GET", "/api/v1/me/data", h_data, HTTP_AUTH_REQUIRED,
     "Everything held about the caller (GDPR access/portability; streamed JSON; ?download=1 or "
     "Accept: application/octet-stream → attachment)",
     "privacy", NULL, 200, NULL, EXPORT_SCHEMA, "download"},
    {"DELETE", "/api/v1/me", h_erase_me, HTTP_AUTH_REQUIRED | HTTP_LONG,
     "Erase the caller's account (GDPR Art. 17): capsules removed, votes and account anonymised",
     "privacy", NULL, 200,
     "{\"type\":\"object\",\"required\":[\"password\",\"confirmation\"],"
     "\"additionalProperties\":false,\"properties\":{\"password\":{\"type\":\"string\"},"
     "\"confirmation\":{\"const\":\"ERASE\"}}}",
     ERASED_SCHEMA, NULL},
    {"POST", "/api/v1/admin/users/{id}/erase", h_admin_erase, HTTP_AUTH_REQUIRED | HTTP_LONG,
     "Erase an account (GDPR Art. 17; idempotent)", "admin", "admin:users", 200,
     "{\"type\":\"object\",\"required\":[\"confirmation\"],\"additionalProperties\":false,"
     "\"properties\":{\"confirmation\":{\"const\":\"ERASE\"}}}",
     ERASED_SCHEMA, NULL},
    {"GET", "/api/v1/me/consents", h_consents_get, HTTP_AUTH_REQUIRED,
     "The caller's consents (current state per purpose and history)", "privacy", NULL, 200, NULL,
     CONSENTS_SCHEMA, NULL},
    {"PUT", "/api/v1/me/consents", h_consents_put, HTTP_AUTH_REQUIRED,
     "Grant or withdraw consent purposes (CONSENT_PURPOSES); effective at once", "privacy", NULL,
     200,
     "{\"type\":\"object\",\"required\":[\"consents\"],\"additionalProperties\":false,"
     "\"properties\":{\"consents\":{\"type\":\"object\",\"additionalProperties\":"
     "{\"type\":\"boolean\"}}}}",
     CONSENTS_SCHEMA, NULL},
    {NULL, NULL, NULL, 0, NULL, NULL, NULL, 0, NULL, NULL, NULL},
};
