/*
 * Request guards (http/guard.h), run before every handler in this order:
 *   1. IP block   – a client IP blocked by the immune system gets 403 on every route except the
 *                   liveness/metrics routes flagged HTTP_NO_BLOCK (SPEC §7.2).
 *   2. auth       – on HTTP_AUTH_REQUIRED / HTTP_AUTH_OPTIONAL routes the bearer token is verified
 *                   (core/identity.h); a missing token on a required route, and any invalid,
 *                   expired, revoked or wrong-type token, is 401 authentication_error with
 *                   WWW-Authenticate: Bearer. Routes with neither flag ignore the header.
 *   3. rate limit – per user by trust when authenticated, per client IP otherwise (SPEC §3.6);
 *                   X-RateLimit-* headers on every limited response, 429 + Retry-After over it.
 * Shared-state failures (docs/identity.md): authentication fails closed (503); the IP-block check
 * and rate limiting fail open (logged) — login is closed anyway while the state is unreachable.
 */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "api/authn.h"
#include "core/app.h"
#include "core/identity.h"
#include "core/immune.h"
#include "core/metrics.h"
#include "core/ratelimit.h"
#include "core/shared_state.h"
#include "http/guard.h"
#include "http/reply.h"
#include "util/config.h"
#include "util/log.h"
#include "util/time.h"

int http_guard_ip_or_reply(struct http_req *req, struct http_resp *resp)
{
    struct fg_app *app = req->app;
    if (!app || !app->identity)
        return 0;
    int64_t until = 0;
    int b = fg_immune_ip_blocked(app, req->client_ip, &until);
    if (b == 0)
        return 0;
    if (b < 0) {
        fg_log(FG_LOG_WARN, "ip_block_check_unavailable",
               FG_LF_STR("correlation_id", req->correlation_id), FG_LF_END);
        return 0; /* fail open: every route that grants access fails closed on its own */
    }
    char iso[40], msg[160], retry[24];
    fg_time_iso(until, iso, sizeof iso);
    int64_t left = (until - fg_now_ms() + 999) / 1000;
    if (left < 1)
        left = 1;
    snprintf(msg, sizeof msg, "client IP blocked until %s after repeated failed logins", iso);
    http_reply_forbidden(resp, msg,
                         json_pack("{sssssI}", "rule", "ip_block", "blocked_until", iso,
                                   "retry_after_s", (json_int_t)left));
    snprintf(retry, sizeof retry, "%" PRId64, left);
    http_resp_header(resp, "Retry-After", retry);
    return -1;
}

static void unauthorized(struct http_resp *resp, const char *error, const char *message)
{
    char h[256];
    http_reply_unauthorized(resp, message);
    if (error) {
        snprintf(h, sizeof h, "Bearer realm=\"forge\", error=\"%s\", error_description=\"%s\"",
                 error, message);
        http_resp_header(resp, "WWW-Authenticate", h);
    }
}

int http_guard_auth_or_reply(struct http_req *req, struct http_resp *resp)
{
    unsigned flags = req->route->flags;
    api_ctx_build(req); /* anonymous until a token is verified */
    if (!(flags & (HTTP_AUTH_REQUIRED | HTTP_AUTH_OPTIONAL)))
        return 0;
    if (!http_header(req, "Authorization")) {
        if (!(flags & HTTP_AUTH_REQUIRED))
            return 0;
        unauthorized(resp, NULL, "authentication required");
        return -1;
    }
    const char *tok = api_bearer(req);
    if (!tok) {
        unauthorized(resp, "invalid_request", "the Authorization header must be 'Bearer <token>'");
        return -1;
    }
    if (!req->app || !req->app->identity) {
        unauthorized(resp, "invalid_token", "authentication is not available");
        return -1;
    }
    const char *reason = "invalid token";
    struct fg_principal p;
    switch (fg_identity_authenticate(req->app, tok, &p, NULL, &reason)) {
    case FG_AUTH_OK: {
        struct http_principal *hp = &req->principal_storage;
        snprintf(hp->user_id, sizeof hp->user_id, "%s", p.user_id);
        snprintf(hp->email, sizeof hp->email, "%s", p.email);
        snprintf(hp->jti, sizeof hp->jti, "%s", p.jti);
        hp->trust = p.trust;
        hp->roles = p.roles;
        req->principal = hp;
        api_ctx_build(req); /* the call context of core, once per request */
        return 0;
    }
    case FG_AUTH_UNAVAILABLE:
        http_reply_unavailable(resp, reason);
        return -1;
    case FG_AUTH_INVALID:
    case FG_AUTH_REVOKED:
    case FG_AUTH_DISABLED:
        break;
    }
    unauthorized(resp, "invalid_token", reason);
    return -1;
}

int http_guard_rate_or_reply(struct http_req *req, struct http_resp *resp)
{
    struct fg_app *app = req->app;
    if (!app || !app->cfg->rate_limit_enabled || !app->shared)
        return 0;
    char subject[96];
    int64_t limit;
    if (req->principal) {
        snprintf(subject, sizeof subject, "u:%s", req->principal->user_id);
        limit = fg_rate_limit_for_trust(app->cfg, req->principal->trust);
    } else {
        snprintf(subject, sizeof subject, "ip:%s", req->client_ip);
        limit = app->cfg->rate_limit_anonymous;
    }
    struct fg_rate_result r;
    enum fg_err e = fg_rate_check(app->shared, subject, limit, fg_now_ms(), &r);
    if (e != FG_OK) {
        fg_log(FG_LOG_WARN, "rate_limit_unavailable", FG_LF_STR("error", fg_err_name(e)),
               FG_LF_END);
        return 0; /* fail open: availability over strictness for a limiter */
    }
    char v[24];
    snprintf(v, sizeof v, "%" PRId64, r.limit);
    http_resp_header(resp, "X-RateLimit-Limit", v);
    snprintf(v, sizeof v, "%" PRId64, r.remaining);
    http_resp_header(resp, "X-RateLimit-Remaining", v);
    snprintf(v, sizeof v, "%" PRId64, r.reset_s);
    http_resp_header(resp, "X-RateLimit-Reset", v);
    if (r.allowed)
        return 0;
    char msg[128];
    snprintf(msg, sizeof msg, "rate limit of %" PRId64 " requests per minute exceeded", r.limit);
    http_reply_error(resp, 429, "rate_limit_exceeded", msg,
                     json_pack("{sIsisI}", "limit", (json_int_t)r.limit, "window_s", 60,
                               "retry_after_s", (json_int_t)r.retry_after_s));
    snprintf(v, sizeof v, "%" PRId64, r.retry_after_s);
    http_resp_header(resp, "Retry-After", v);
    if (fgm.rate_limited)
        fg_metric_add(fgm.rate_limited, NULL, 1);
    return -1;
}
