/*
 * /api/v1/admin/users: list, get, trust, roles, disable, enable (SPEC §3.2, §10), all behind the
 * admin:users permission and audited (core/identity.c). An admin cannot disable their own
 * account or drop their own admin role (409), so an instance cannot lose its last admin by a
 * slip of the hand.
 *
 * Also the test clock hook POST /api/v1/admin/test/clock (admin:system): shifts fg_now_ms for
 * tests of time-based rules; it answers 404 unless ENVIRONMENT=development and FORGE_TEST_CLOCK=1.
 */
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
#include "http/reply.h"
#include "store/store.h"
#include "util/log.h"
#include "util/time.h"

#define PAGE_MAX     100
#define PAGE_DEFAULT 20

static void reply_store_error(struct http_resp *resp, enum fg_err e, const char *what)
{
    /* here a store error other than not-found or unavailable is a fault: 500, as before */
    if (e != FG_ENOTFOUND && e != FG_EUNAVAIL && e != FG_ETIMEOUT)
        e = FG_EINTERNAL;
    api_reply_err(resp, e, &(struct fg_why){.what = what, .actual_trust = -1});
}

static void h_list(struct http_req *req, struct http_resp *resp)
{
    if (api_require_or_reply(req, resp, "admin:users") != 0)
        return;
    long long page, per_page;
    if (q_int(req, resp, "page", 1, 1, 1000000, &page) < 0 ||
        q_int(req, resp, "per_page", PAGE_DEFAULT, 1, PAGE_MAX, &per_page) < 0)
        return;
    struct store_user *items = NULL;
    size_t n = 0;
    long long total = 0;
    enum fg_err e = FG_OK;
    struct store_conn *c = store_acquire(req->app->store, &e);
    if (!c) {
        reply_store_error(resp, e, "user");
        return;
    }
    e = req->app->store->users->list(c, (page - 1) * per_page, per_page, &items, &n, &total);
    store_release(req->app->store, c);
    if (e != FG_OK) {
        reply_store_error(resp, e, "user");
        return;
    }
    json_t *arr = json_array();
    for (size_t i = 0; i < n; i++)
        json_array_append_new(arr, fg_user_json(&items[i]));
    free(items);
    http_reply_page(resp, arr, total, page, per_page);
}

/* Path id of an existing user, or a 404 written. */
static const char *user_id_or_reply(struct http_req *req, struct http_resp *resp)
{
    const char *id = NULL;
    if (p_uuid_or_reply(req, resp, "id", "user", &id) != 0)
        return NULL;
    return id;
}

static void h_get(struct http_req *req, struct http_resp *resp)
{
    if (api_require_or_reply(req, resp, "admin:users") != 0)
        return;
    const char *id = user_id_or_reply(req, resp);
    if (!id)
        return;
    struct store_user u;
    enum fg_err e = fg_identity_get_user(req->app, id, &u);
    if (e != FG_OK) {
        reply_store_error(resp, e, "user");
        return;
    }
    http_reply_data(resp, 200, fg_user_json(&u), NULL);
}

static void h_trust(struct http_req *req, struct http_resp *resp)
{
    static const char *const known[] = {"trust_level", NULL};
    static const char *const levels[] = {"core",    "trusted",    "standard",
                                         "sandbox", "quarantine", NULL};
    if (api_require_or_reply(req, resp, "admin:users") != 0)
        return;
    const char *id = user_id_or_reply(req, resp);
    json_t *b = id ? http_json_body_or_reply(req, resp) : NULL;
    const char *level;
    if (!b || v_no_unknown(resp, b, known) || v_enum(resp, b, "trust_level", 1, levels, &level))
        return;
    struct store_user u;
    enum fg_err e =
        fg_identity_set_trust(req->app, api_ctx(req), id, fg_trust_from_name(level), &u);
    if (e != FG_OK) {
        reply_store_error(resp, e, "user");
        return;
    }
    http_reply_data(resp, 200, fg_user_json(&u), NULL);
}

static void h_roles(struct http_req *req, struct http_resp *resp)
{
    static const char *const known[] = {"roles", NULL};
    if (api_require_or_reply(req, resp, "admin:users") != 0)
        return;
    const char *id = user_id_or_reply(req, resp);
    json_t *b = id ? http_json_body_or_reply(req, resp) : NULL;
    if (!b || v_no_unknown(resp, b, known))
        return;
    json_t *arr = json_object_get(b, "roles");
    unsigned roles = 0;
    const char *bad = NULL;
    if (!json_is_array(arr) || json_array_size(arr) == 0 || json_array_size(arr) > 8) {
        http_reply_invalid(resp, "roles",
                           "roles must be a non-empty array of: user, trusted, operator, admin");
        return;
    }
    if (fg_roles_parse(arr, &roles, &bad) != 0) {
        http_reply_invalid(resp, "roles",
                           "unknown role '%.40s' (allowed: user, trusted, operator, admin)",
                           bad ? bad : "?");
        return;
    }
    if (strcmp(id, req->principal->user_id) == 0 && !(roles & FG_ROLE_ADMIN)) {
        http_reply_conflict(resp, "you cannot remove your own admin role",
                            json_pack("{ss}", "field", "roles"));
        return;
    }
    struct store_user u;
    enum fg_err e = fg_identity_set_roles(req->app, api_ctx(req), id, roles, &u);
    if (e != FG_OK) {
        reply_store_error(resp, e, "user");
        return;
    }
    http_reply_data(resp, 200, fg_user_json(&u), NULL);
}

static void set_disabled(struct http_req *req, struct http_resp *resp, int disabled)
{
    if (api_require_or_reply(req, resp, "admin:users") != 0)
        return;
    const char *id = user_id_or_reply(req, resp);
    if (!id)
        return;
    if (disabled && strcmp(id, req->principal->user_id) == 0) {
        http_reply_conflict(resp, "you cannot disable your own account", NULL);
        return;
    }
    struct store_user u;
    enum fg_err e = fg_identity_set_disabled(req->app, api_ctx(req), id, disabled, &u);
    if (e != FG_OK) {
        reply_store_error(resp, e, "user");
        return;
    }
    http_reply_data(resp, 200, fg_user_json(&u), NULL);
}

static void h_disable(struct http_req *req, struct http_resp *resp)
{
    set_disabled(req, resp, 1);
}

static void h_enable(struct http_req *req, struct http_resp *resp)
{
    set_disabled(req, resp, 0);
}

static void h_test_clock(struct http_req *req, struct http_resp *resp)
{
    static const char *const known[] = {"offset_ms", NULL};
    if (!fg_identity_test_clock_enabled(req->app)) {
        http_reply_error(resp, 404, "not_found", "no such route",
                         json_pack("{ss}", "path", req->path));
        return;
    }
    if (api_require_or_reply(req, resp, "admin:system") != 0)
        return;
    json_t *b = http_json_body_or_reply(req, resp);
    long long off = 0;
    if (!b || v_no_unknown(resp, b, known) ||
        v_int(resp, b, "offset_ms", 1, -3153600000000LL, 3153600000000LL, &off))
        return;
    fg_time_set_offset_ms(off);
    fg_log(FG_LOG_WARN, "test_clock_set", FG_LF_INT("offset_ms", off), FG_LF_END);
    char iso[40];
    fg_time_iso(fg_now_ms(), iso, sizeof iso);
    http_reply_data(resp, 200, json_pack("{sIss}", "offset_ms", (json_int_t)off, "now", iso), NULL);
}

#define ADMIN (HTTP_AUTH_REQUIRED)
#define TRUST_BODY                                                                                 \
    "{\"type\":\"object\",\"required\":[\"trust_level\"],\"additionalProperties\":false,"          \
    "\"properties\":{\"trust_level\":{\"enum\":[\"core\",\"trusted\",\"standard\",\"sandbox\","    \
    "\"quarantine\"]}}}"
#define ROLES_BODY                                                                                 \
    "{\"type\":\"object\",\"required\":[\"roles\"],\"additionalProperties\":false,"                \
    "\"properties\":{\"roles\":{\"type\":\"array\",\"minItems\":1,\"items\":{\"enum\":[\"user\","  \
    "\"trusted\",\"operator\",\"admin\"]}}}}"

const struct http_route api_admin_user_routes[] = {
    {"GET", "/api/v1/admin/users", h_list, ADMIN, "List accounts (newest first, paginated)",
     "admin", "admin:users", 200, NULL, NULL, "page,per_page"},
    {"GET", "/api/v1/admin/users/{id}", h_get, ADMIN, "One account", "admin", "admin:users", 200,
     NULL, NULL, NULL},
    {"PUT", "/api/v1/admin/users/{id}/trust", h_trust, ADMIN,
     "Set an account's trust level (quarantine is recorded as an immune response)", "admin",
     "admin:users", 200, TRUST_BODY, NULL, NULL},
    {"PUT", "/api/v1/admin/users/{id}/roles", h_roles, ADMIN, "Replace an account's roles", "admin",
     "admin:users", 200, ROLES_BODY, NULL, NULL},
    {"POST", "/api/v1/admin/users/{id}/disable", h_disable, ADMIN,
     "Disable an account (its sessions are revoked; it cannot log in)", "admin", "admin:users", 200,
     NULL, NULL, NULL},
    {"POST", "/api/v1/admin/users/{id}/enable", h_enable, ADMIN, "Enable a disabled account",
     "admin", "admin:users", 200, NULL, NULL, NULL},
    {"POST", "/api/v1/admin/test/clock", h_test_clock, ADMIN,
     "Shift the service clock (only ENVIRONMENT=development with FORGE_TEST_CLOCK=1)", "admin",
     "admin:system", 200,
     "{\"type\":\"object\",\"required\":[\"offset_ms\"],\"properties\":{\"offset_ms\":"
     "{\"type\":\"integer\"}}}",
     NULL, NULL},
    {NULL, NULL, NULL, 0, NULL, NULL, NULL, 0, NULL, NULL, NULL},
};
