/*
 * Audit log for admins (SPEC §9): GET /api/v1/admin/audit (filters, pagination, newest first)
 * and GET /api/v1/admin/audit/verify (walks the hash chain). Permission admin:audit.
 */
#include <string.h>

#include "api/authn.h"
#include "api/capsules_int.h"
#include "api/error.h"
#include "api/routes.h"
#include "api/validate.h"
#include "core/app.h"
#include "core/audit.h"
#include "core/authz.h"
#include "http/reply.h"
#include "store/audit.h"
#include "store/store.h"
#include "util/time.h"

#define AUDIT_FILTER_MAX 200 /* characters of an action / resource filter */

static json_t *iso_json(int64_t ms)
{
    char b[40];
    fg_time_iso(ms, b, sizeof b);
    return json_string(b);
}

static json_t *opt_string(const char *s)
{
    return s ? json_string(s) : json_null();
}

static int append_entry(const struct store_audit_row *r, void *ctx)
{
    json_t *details = json_loads(r->details, 0, NULL);
    if (!details)
        details = json_string(r->details); /* not JSON: show it as stored */
    json_t *o = json_object();
    json_object_set_new(o, "seq", json_integer(r->seq));
    json_object_set_new(o, "id", json_string(r->id));
    json_object_set_new(o, "at", iso_json(r->at));
    json_object_set_new(o, "actor_id", opt_string(r->actor_id));
    json_object_set_new(o, "action", json_string(r->action));
    json_object_set_new(o, "resource_type", json_string(r->resource_type));
    json_object_set_new(o, "resource_id", opt_string(r->resource_id));
    json_object_set_new(o, "client_ip", opt_string(r->client_ip));
    json_object_set_new(o, "correlation_id", opt_string(r->correlation_id));
    json_object_set_new(o, "outcome", json_string(r->outcome));
    json_object_set_new(o, "details", details);
    json_object_set_new(o, "prev_hash", json_string(r->prev_hash));
    json_object_set_new(o, "hash", json_string(r->hash));
    json_array_append_new(ctx, o);
    return 0;
}

/* A free-text query filter of bounded length; 1 when absent. */
static int q_text(struct http_req *req, struct http_resp *resp, const char *name, const char **out)
{
    const char *s = http_query(req, name);
    if (!s)
        return 1;
    if (!*s || strlen(s) > AUDIT_FILTER_MAX) {
        http_reply_invalid(resp, name, "%s must be 1 to %d characters long", name,
                           AUDIT_FILTER_MAX);
        return -1;
    }
    *out = s;
    return 0;
}

static void h_list(struct http_req *req, struct http_resp *resp)
{
    long long page, per_page, since = 0, until = 0;
    struct store_audit_filter f = {0};
    if (api_require_or_reply(req, resp, "admin:audit") ||
        api_page_params(req, resp, &page, &per_page) ||
        q_uuid(req, resp, "user_id", &f.actor_id) < 0 ||
        q_text(req, resp, "action", &f.action) < 0 ||
        q_text(req, resp, "resource_type", &f.resource_type) < 0 ||
        q_text(req, resp, "resource_id", &f.resource_id) < 0 ||
        q_time(req, resp, "since", &since) < 0 || q_time(req, resp, "until", &until) < 0)
        return;
    f.since = since;
    f.until = until;
    struct store *s = req->app->store;
    if (!s || !s->audit) {
        http_reply_unavailable(resp, "audit log unavailable");
        return;
    }
    enum fg_err e;
    struct store_conn *c = store_acquire(s, &e);
    if (!c) {
        api_reply_err(resp, FG_EUNAVAIL, NULL);
        return;
    }
    json_t *items = json_array();
    long long total = 0;
    e = s->audit->list(c, &f, (page - 1) * per_page, per_page, append_entry, items, &total);
    store_release(s, c);
    if (e != FG_OK) {
        json_decref(items);
        struct fg_capsule_why why = {0};
        api_capsule_error(resp, e, &why);
        return;
    }
    http_reply_page(resp, items, total, page, per_page);
}

static void h_verify(struct http_req *req, struct http_resp *resp)
{
    if (api_require_or_reply(req, resp, "admin:audit"))
        return;
    struct fg_audit_verify v;
    enum fg_err e = fg_audit_verify(req->app->store, &v);
    if (e != FG_OK) {
        struct fg_capsule_why why = {0};
        api_capsule_error(resp, e, &why);
        return;
    }
    json_t *d = json_object();
    json_object_set_new(d, "valid", json_boolean(v.valid));
    json_object_set_new(d, "entries", json_integer(v.entries));
    json_object_set_new(d, "first_bad_seq", v.valid ? json_null() : json_integer(v.first_bad_seq));
    json_object_set_new(d, "reason", v.valid ? json_null() : json_string(v.reason));
    json_object_set_new(d, "head_seq", json_integer(v.head_seq));
    json_object_set_new(d, "head_hash", json_string(v.head_hash));
    http_reply_data(resp, 200, d, NULL);
}

const struct http_route api_admin_audit_routes[] = {
    {"GET", "/api/v1/admin/audit", h_list, HTTP_AUTH_REQUIRED,
     "Audit log, newest first (filters: user_id, action, resource_type, resource_id, since, "
     "until)",
     "admin", "admin:audit", 200, NULL, NULL,
     "page,per_page,user_id,action,resource_type,resource_id,since,until"},
    {"GET", "/api/v1/admin/audit/verify", h_verify, HTTP_AUTH_REQUIRED | HTTP_LONG,
     "Verify the audit hash chain: {valid, entries, first_bad_seq}", "admin", "admin:audit", 200,
     NULL,
     "{\"type\":\"object\",\"properties\":{\"valid\":{\"type\":\"boolean\"},\"entries\":"
     "{\"type\":\"integer\"},\"first_bad_seq\":{\"type\":[\"integer\",\"null\"]}}}",
     NULL},
    {NULL, NULL, NULL, 0, NULL, NULL, NULL, 0, NULL, NULL, NULL},
};
