/*
 * /api/v1/overlays (SPEC §8, docs/overlays.md): register, list, get, versions, activate, suspend,
 * deprecate, invoke. With FEATURE_OVERLAYS_ENABLED=false every route answers 404 not_found (the
 * API does not exist), and validation hooks do not run.
 *
 * Permissions: register overlay:register (trusted+); list/get/versions/invoke overlay:invoke and
 * caller trust ≥ the overlay's; activate admins only; suspend/deprecate overlay:manage. The
 * source is returned to its registrant and to holders of overlay:manage.
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
#include "http/reply.h"
#include "store/store.h"
#include "core/events.h"
#include "util/config.h"
#include "util/time.h"

#define PAGE_MAX     100
#define PAGE_DEFAULT 20

static int enabled_or_reply(struct http_req *req, struct http_resp *resp)
{
    if (req->app->cfg && !req->app->cfg->feature_overlays) {
        http_reply_error(resp, 404, "not_found", "overlays are disabled on this server",
                         json_pack("{ss}", "feature", "FEATURE_OVERLAYS_ENABLED"));
        return -1;
    }
    return 0;
}

static void store_error(struct http_resp *resp, enum fg_err e)
{
    /* here a store error other than not-found or unavailable is a fault: 500, as before */
    if (e != FG_ENOTFOUND && e != FG_EUNAVAIL)
        e = FG_EINTERNAL;
    api_reply_err(resp, e, &(struct fg_why){.what = "overlay", .actual_trust = -1});
}

static void h_register(struct http_req *req, struct http_resp *resp)
{
    static const char *const known[] = {"manifest", "source", NULL};
    if (enabled_or_reply(req, resp) || api_require_or_reply(req, resp, "overlay:register"))
        return;
    json_t *b = http_json_body_or_reply(req, resp);
    if (!b || v_no_unknown(resp, b, known))
        return;
    json_t *src = json_object_get(b, "source");
    if (!json_is_string(src) || json_string_length(src) == 0) {
        http_reply_invalid(resp, "source", "source is required: the overlay's Lua text");
        return;
    }
    if (json_string_length(src) > LUA_SB_MAX_SOURCE) {
        http_reply_error(resp, 413, "payload_too_large", "source is larger than the limit",
                         json_pack("{sssi}", "field", "source", "max_bytes", LUA_SB_MAX_SOURCE));
        return;
    }
    json_t *m = json_object_get(b, "manifest");
    if (!m) {
        http_reply_invalid(resp, "manifest", "manifest is required");
        return;
    }
    struct store_overlay ov;
    char field[64] = "", msg[400] = "";
    enum fg_err e =
        fg_overlay_register(req->app, api_ctx(req), m, json_string_value(src),
                            json_string_length(src), &ov, field, sizeof field, msg, sizeof msg);
    if (e == FG_EINVAL) {
        http_reply_invalid(resp, field, "%s", msg);
        return;
    }
    if (e == FG_ECONFLICT) {
        http_reply_conflict(resp, msg, json_pack("{ss}", "field", field));
        return;
    }
    if (e != FG_OK) {
        store_error(resp, e);
        return;
    }
    http_reply_data(resp, 201, fg_overlay_json(&ov, 0), NULL);
    store_overlay_clear(&ov);
}

static int may_see_source(struct http_req *req, const struct store_overlay *ov)
{
    return req->principal && (strcmp(req->principal->user_id, ov->owner_id) == 0 ||
                              fg_role_grants(req->principal->roles, "overlay:manage"));
}

/* Loads the overlay named by {id} after the permission and trust checks; -1 when replied. */
static int load_or_reply(struct http_req *req, struct http_resp *resp, const char *perm,
                         int with_source, struct store_overlay *ov)
{
    memset(ov, 0, sizeof *ov);
    const char *id;
    if (enabled_or_reply(req, resp) || api_require_or_reply(req, resp, perm) ||
        p_uuid_or_reply(req, resp, "id", "overlay", &id))
        return -1;
    fg_overlay_stats_flush(req->app); /* this process's queued validator stats first */
    enum fg_err e;
    struct store_conn *c = store_acquire(req->app->store, &e);
    if (c) {
        e = req->app->store->overlays->get(c, id, with_source, ov);
        store_release(req->app->store, c);
    }
    if (e != FG_OK) {
        store_error(resp, e);
        return -1;
    }
    if (api_trust_or_reply(req, resp, ov->trust_level, "overlay")) {
        store_overlay_clear(ov);
        return -1;
    }
    return 0;
}

static void h_get(struct http_req *req, struct http_resp *resp)
{
    struct store_overlay ov;
    if (load_or_reply(req, resp, "overlay:invoke", 1, &ov))
        return;
    http_reply_data(resp, 200, fg_overlay_json(&ov, may_see_source(req, &ov)), NULL);
    store_overlay_clear(&ov);
}

struct page_ctx {
    json_t *arr;
    int max_trust;
    long long hidden;
};

static int page_cb(const struct store_overlay *o, void *ctx)
{
    struct page_ctx *p = ctx;
    if (o->trust_level > p->max_trust) {
        p->hidden++;
        return 0;
    }
    json_array_append_new(p->arr, fg_overlay_json(o, 0));
    return 0;
}

static void list(struct http_req *req, struct http_resp *resp, const char *name)
{
    static const char *const statuses[] = {"pending",    "active",      "suspended",
                                           "deprecated", "quarantined", NULL};
    long long page, per_page;
    const char *status = NULL;
    if (q_int(req, resp, "page", 1, 1, 1000000, &page) < 0 ||
        q_int(req, resp, "per_page", PAGE_DEFAULT, 1, PAGE_MAX, &per_page) < 0 ||
        q_enum(req, resp, "status", statuses, &status) < 0)
        return;
    struct page_ctx p = {.arr = json_array(),
                         .max_trust = api_is_admin(req->principal) ? 100 : req->principal->trust};
    long long total = 0;
    fg_overlay_stats_flush(req->app);
    enum fg_err e;
    struct store_conn *c = store_acquire(req->app->store, &e);
    if (c) {
        e = req->app->store->overlays->list(c, name, status, (page - 1) * per_page, per_page,
                                            page_cb, &p, &total);
        store_release(req->app->store, c);
    }
    if (e != FG_OK) {
        json_decref(p.arr);
        store_error(resp, e);
        return;
    }
    /* overlays run at trust sandbox unless governance raised one; a caller below an overlay's
     * trust does not see it (counted out of this page only) */
    http_reply_page(resp, p.arr, total - p.hidden, page, per_page);
}

static void h_list(struct http_req *req, struct http_resp *resp)
{
    if (enabled_or_reply(req, resp) || api_require_or_reply(req, resp, "overlay:invoke"))
        return;
    const char *name = http_query(req, "name");
    list(req, resp, name && *name ? name : NULL);
}

static void h_versions(struct http_req *req, struct http_resp *resp)
{
    struct store_overlay ov;
    if (load_or_reply(req, resp, "overlay:invoke", 0, &ov))
        return;
    char name[sizeof ov.name];
    snprintf(name, sizeof name, "%s", ov.name);
    store_overlay_clear(&ov);
    list(req, resp, name);
}

static void transition(struct http_req *req, struct http_resp *resp, const char *action,
                       const char *perm)
{
    static const char *const known[] = {"reason", NULL};
    const char *id;
    if (enabled_or_reply(req, resp) || api_require_or_reply(req, resp, perm) ||
        p_uuid_or_reply(req, resp, "id", "overlay", &id))
        return;
    if (strcmp(action, "activate") == 0 && !api_is_admin(req->principal)) {
        http_reply_forbidden(resp, "only an admin (or an approved proposal) activates an overlay",
                             json_pack("{ss}", "rule", "admin"));
        return;
    }
    const char *reason = NULL;
    if (req->body_len > 0) {
        json_t *b = http_json_body_or_reply(req, resp);
        if (!b || v_no_unknown(resp, b, known) ||
            v_string(resp, b, "reason", 0, 1, 500, &reason) < 0)
            return;
    }
    char why[240] = "";
    enum fg_err e =
        fg_overlay_transition(req->app, api_ctx(req), id, action, reason, NULL, why, sizeof why);
    if (e == FG_ECONFLICT) {
        http_reply_conflict(resp, why, json_pack("{ss}", "action", action));
        return;
    }
    if (e != FG_OK) {
        store_error(resp, e);
        return;
    }
    struct store_overlay ov;
    memset(&ov, 0, sizeof ov);
    struct store_conn *c = store_acquire(req->app->store, &e);
    if (c) {
        e = req->app->store->overlays->get(c, id, 0, &ov);
        store_release(req->app->store, c);
    }
    if (e != FG_OK) {
        store_error(resp, e);
        return;
    }
    http_reply_data(resp, 200, fg_overlay_json(&ov, 0), NULL);
    store_overlay_clear(&ov);
}

static void h_activate(struct http_req *req, struct http_resp *resp)
{
    transition(req, resp, "activate", "overlay:manage");
}

static void h_suspend(struct http_req *req, struct http_resp *resp)
{
    transition(req, resp, "suspend", "overlay:manage");
}

static void h_deprecate(struct http_req *req, struct http_resp *resp)
{
    transition(req, resp, "deprecate", "overlay:manage");
}

static void h_invoke(struct http_req *req, struct http_resp *resp)
{
    static const char *const known[] = {"function", "input", NULL};
    struct store_overlay ov;
    if (load_or_reply(req, resp, "overlay:invoke", 1, &ov))
        return;
    json_t *b = http_json_body_or_reply(req, resp);
    const char *fn = "process";
    if (!b || v_no_unknown(resp, b, known) || v_string(resp, b, "function", 0, 1, 64, &fn) < 0) {
        store_overlay_clear(&ov);
        return;
    }
    json_t *input = json_object_get(b, "input");
    char *txt = input ? json_dumps(input, JSON_COMPACT | JSON_ENCODE_ANY) : NULL;
    size_t n = txt ? strlen(txt) : 0;
    free(txt);
    if (n > FG_OVERLAY_INPUT_MAX) {
        store_overlay_clear(&ov);
        http_reply_error(resp, 413, "payload_too_large", "input is larger than the limit",
                         json_pack("{sssi}", "field", "input", "max_bytes", FG_OVERLAY_INPUT_MAX));
        return;
    }
    struct lua_sb_result r;
    enum fg_err e = fg_overlay_run(req->app, api_ctx(req), &ov, fn, input, &r);
    if (e == FG_OK && r.outcome != LUA_SB_NOT_ACTIVE) {
        json_t *ev = json_pack("{ss ss ss sf ss}", "name", ov.name, "function", fn, "outcome",
                               lua_sb_outcome_name(r.outcome), "execution_time_ms", r.elapsed_ms,
                               "invoked_by", req->principal->user_id);
        fg_event_emit(req->app, NULL, "overlay.invoked", ov.id, ev);
        json_decref(ev);
    }
    store_overlay_clear(&ov);
    if (e != FG_OK) {
        http_reply_unavailable(resp, "no sandbox worker became free in time; retry shortly");
        return;
    }
    json_t *err =
        r.outcome == LUA_SB_OK
            ? json_null()
            : json_pack("{ssss}", "kind", lua_sb_outcome_name(r.outcome), "message", r.error);
    json_t *d = json_pack("{sbsOsosfsIsI}", "success", r.outcome == LUA_SB_OK, "result",
                          r.result ? r.result : json_null(), "error", err, "execution_time_ms",
                          r.elapsed_ms, "fuel_consumed", (json_int_t)r.fuel_used,
                          "memory_peak_bytes", (json_int_t)r.memory_peak);
    if (r.logs)
        json_object_set(d, "logs", r.logs);
    lua_sb_result_clear(&r);
    http_reply_data(resp, 200, d, NULL);
}

static int inv_cb(const struct store_overlay_invocation *v, void *ctx)
{
    char ts[40];
    fg_time_iso(v->created_at, ts, sizeof ts);
    json_array_append_new(ctx, json_pack("{ss ss ss sI si ss ss* sf ss ss}", "id", v->id,
                                         "event_id", v->event_id, "event_type", v->event_type,
                                         "event_seq", (json_int_t)v->event_seq, "attempt",
                                         v->attempt, "outcome", v->outcome, "error",
                                         v->error[0] ? v->error : NULL, "elapsed_ms", v->elapsed_ms,
                                         "replica", v->holder, "created_at", ts));
    return 0;
}

static void h_invocations(struct http_req *req, struct http_resp *resp)
{
    struct store_overlay ov;
    if (load_or_reply(req, resp, "overlay:invoke", 0, &ov))
        return;
    long long page, per_page, total = 0;
    if (q_int(req, resp, "page", 1, 1, 1000000, &page) < 0 ||
        q_int(req, resp, "per_page", PAGE_DEFAULT, 1, PAGE_MAX, &per_page) < 0) {
        store_overlay_clear(&ov);
        return;
    }
    json_t *arr = json_array();
    enum fg_err e;
    struct store_conn *c = store_acquire(req->app->store, &e);
    if (c) {
        e = req->app->store->overlays->invocations(c, ov.id, (page - 1) * per_page, per_page,
                                                   inv_cb, arr, &total);
        store_release(req->app->store, c);
    }
    store_overlay_clear(&ov);
    if (e != FG_OK) {
        json_decref(arr);
        store_error(resp, e);
        return;
    }
    http_reply_page(resp, arr, total, page, per_page);
}

#define REG_BODY                                                                                   \
    "{\"type\":\"object\",\"required\":[\"manifest\",\"source\"],\"additionalProperties\":false,"  \
    "\"properties\":{\"manifest\":{\"type\":\"object\"},\"source\":{\"type\":\"string\","          \
    "\"maxLength\":262144}}}"
#define INVOKE_BODY                                                                                \
    "{\"type\":\"object\",\"additionalProperties\":false,\"properties\":{\"function\":{\"type\":"  \
    "\"string\",\"default\":\"process\"},\"input\":{}}}"
#define REASON_BODY                                                                                \
    "{\"type\":\"object\",\"additionalProperties\":false,\"properties\":{\"reason\":{\"type\":"    \
    "\"string\",\"maxLength\":500}}}"

const struct http_route api_overlay_routes[] = {
    {"POST", "/api/v1/overlays", h_register, HTTP_AUTH_REQUIRED,
     "Register an overlay (Lua source + manifest; status pending, trust sandbox)", "overlays",
     "overlay:register", 201, REG_BODY, NULL, NULL},
    {"GET", "/api/v1/overlays", h_list, HTTP_AUTH_REQUIRED, "List overlays with their stats",
     "overlays", "overlay:invoke", 200, NULL, NULL, "name,status,page,per_page"},
    {"GET", "/api/v1/overlays/{id}", h_get, HTTP_AUTH_REQUIRED, "An overlay with its stats",
     "overlays", "overlay:invoke", 200, NULL, NULL, NULL},
    {"GET", "/api/v1/overlays/{id}/versions", h_versions, HTTP_AUTH_REQUIRED,
     "Every registered version of the overlay's name", "overlays", "overlay:invoke", 200, NULL,
     NULL, "status,page,per_page"},
    {"POST", "/api/v1/overlays/{id}/activate", h_activate, HTTP_AUTH_REQUIRED,
     "Activate an overlay (admins; or an approved overlay proposal)", "overlays", "overlay:manage",
     200, REASON_BODY, NULL, NULL},
    {"POST", "/api/v1/overlays/{id}/suspend", h_suspend, HTTP_AUTH_REQUIRED, "Suspend an overlay",
     "overlays", "overlay:manage", 200, REASON_BODY, NULL, NULL},
    {"POST", "/api/v1/overlays/{id}/deprecate", h_deprecate, HTTP_AUTH_REQUIRED,
     "Deprecate an overlay version", "overlays", "overlay:manage", 200, REASON_BODY, NULL, NULL},
    {"GET", "/api/v1/overlays/{id}/invocations", h_invocations, HTTP_AUTH_REQUIRED,
     "Event-hook invocation log of an overlay, newest first (one row per attempt)", "overlays",
     "overlay:invoke", 200, NULL, NULL, "page,per_page"},
    {"POST", "/api/v1/overlays/{id}/invoke", h_invoke, HTTP_AUTH_REQUIRED,
     "Run an entry point in the sandbox: {success, result, error, execution_time_ms, "
     "fuel_consumed, memory_peak_bytes}",
     "overlays", "overlay:invoke", 200, INVOKE_BODY, NULL, NULL},
    {NULL, NULL, NULL, 0, NULL, NULL, NULL, 0, NULL, NULL, NULL},
};
