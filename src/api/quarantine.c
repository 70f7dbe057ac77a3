/*
 * /api/v1/immune/quarantine and /api/v1/immune/release (SPEC §7.3): manual quarantine of a user
 * (trust → quarantine) and its release (the previous trust restored), admins only (admin:users).
 * Both are recorded as immune responses (threat_type "manual"; GET /api/v1/immune/responses),
 * audited and counted. An overlay target quarantines / releases the overlay (core/overlay.h).
 *
 * Errors: 404 no such user; 409 already quarantined / not quarantined / no record of the
 * previous trust / own account; 422 validation.
 */
#include <stdio.h>
#include <string.h>

#include "api/authn.h"
#include "api/error.h"
#include "api/routes.h"
#include "api/validate.h"
#include "core/app.h"
#include "core/authz.h"
#include "core/overlay.h"
#include "core/quarantine.h"
#include "http/reply.h"
#include "util/uuid.h"

static void handle(struct http_req *req, struct http_resp *resp, int release)
{
    static const char *const known_q[] = {"target_type", "target_id", "reason", "level", NULL};
    static const char *const known_r[] = {"target_type", "target_id", "reason", NULL};
    static const char *const types[] = {"user", "overlay", NULL};
    static const char *const levels[] = {"low", "medium", "high", "critical", NULL};
    if (api_require_or_reply(req, resp, "admin:users") != 0)
        return;
    json_t *b = http_json_body_or_reply(req, resp);
    const char *type, *target, *reason, *level = "high";
    if (!b || v_no_unknown(resp, b, release ? known_r : known_q) ||
        v_enum(resp, b, "target_type", 1, types, &type) ||
        v_string(resp, b, "target_id", 1, 1, 128, &target) ||
        v_string(resp, b, "reason", 1, 1, FG_QUARANTINE_REASON_MAX, &reason) ||
        (!release && v_enum(resp, b, "level", 0, levels, &level) < 0))
        return;
    if (strcmp(type, "overlay") == 0) {
        const char *id = target;
        char why[240] = "";
        if (!fg_uuid_valid(id)) {
            http_reply_not_found(resp, "overlay");
            return;
        }
        enum fg_err oe =
            fg_overlay_transition(req->app, api_ctx(req), id, release ? "release" : "quarantine",
                                  reason, NULL, why, sizeof why);
        if (oe == FG_OK)
            http_reply_data(resp, release ? 200 : 201,
                            json_pack("{ssssss}", "target_type", "overlay", "target_id", id,
                                      "status", release ? "active" : "quarantined"),
                            NULL);
        else if (oe == FG_ENOTFOUND)
            http_reply_not_found(resp, "overlay");
        else if (oe == FG_ECONFLICT)
            http_reply_conflict(resp, why,
                                json_pack("{ssss}", "target_type", type, "target_id", id));
        else if (oe == FG_EUNAVAIL)
            api_reply_err(resp, FG_EUNAVAIL, NULL);
        else
            http_reply_internal(resp);
        return;
    }
    if (!fg_uuid_valid(target)) {
        http_reply_invalid(resp, "target_id", "target_id must be the UUID of a user");
        return;
    }
    struct fg_quarantine_result r;
    char why[240] = "";
    enum fg_err e =
        release ? fg_quarantine_release(req->app, api_ctx(req), target, reason, &r, why, sizeof why)
                : fg_quarantine_user(req->app, api_ctx(req), target, level, reason, &r, why,
                                     sizeof why);
    switch (e) {
    case FG_OK:
        http_reply_data(resp, release ? 200 : 201, fg_quarantine_result_json(&r), NULL);
        return;
    case FG_ENOTFOUND:
        http_reply_not_found(resp, "user");
        return;
    case FG_EINVAL:
    case FG_ECONFLICT:
        http_reply_conflict(resp, why[0] ? why : "conflict",
                            json_pack("{ssss}", "target_type", type, "target_id", target));
        return;
    case FG_EUNAVAIL:
        api_reply_err(resp, FG_EUNAVAIL, NULL);
        return;
    default:
        http_reply_internal(resp);
        return;
    }
}

static void h_quarantine(struct http_req *req, struct http_resp *resp)
{
    handle(req, resp, 0);
}

static void h_release(struct http_req *req, struct http_resp *resp)
{
    handle(req, resp, 1);
}

#define QBODY                                                                                      \
    "{\"type\":\"object\",\"required\":[\"target_type\",\"target_id\",\"reason\"],"                \
    "\"additionalProperties\":false,\"properties\":{\"target_type\":{\"enum\":[\"user\","          \
    "\"overlay\"]},\"target_id\":{\"type\":\"string\"},\"reason\":{\"type\":\"string\","           \
    "\"minLength\":1,\"maxLength\":500},\"level\":{\"enum\":[\"low\",\"medium\",\"high\","         \
    "\"critical\"],\"default\":\"high\"}}}"
#define RBODY                                                                                      \
    "{\"type\":\"object\",\"required\":[\"target_type\",\"target_id\",\"reason\"],"                \
    "\"additionalProperties\":false,\"properties\":{\"target_type\":{\"enum\":[\"user\","          \
    "\"overlay\"]},\"target_id\":{\"type\":\"string\"},\"reason\":{\"type\":\"string\","           \
    "\"minLength\":1,\"maxLength\":500}}}"

const struct http_route api_quarantine_routes[] = {
    {"POST", "/api/v1/immune/quarantine", h_quarantine, HTTP_AUTH_REQUIRED,
     "Quarantine a user (trust → quarantine; recorded as an immune response)", "immune",
     "admin:users", 201, QBODY, NULL, NULL},
    {"POST", "/api/v1/immune/release", h_release, HTTP_AUTH_REQUIRED,
     "Release a quarantined user (the previous trust is restored)", "immune", "admin:users", 200,
     RBODY, NULL, NULL},
    {NULL, NULL, NULL, 0, NULL, NULL, NULL, 0, NULL, NULL, NULL},
};
