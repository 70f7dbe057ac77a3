/*
 * /api/v1/immune/responses (SPEC §7): the immune system's responses, newest first, for admins
 * (admin:system). Filters: threat_type, target_type, since (RFC 3339); page/per_page as every
 * list (SPEC §4.2).
 */
#include <stdlib.h>

#include "api/authn.h"
#include "api/error.h"
#include "api/routes.h"
#include "api/validate.h"
#include "core/app.h"
#include "core/authz.h"
#include "core/immune.h"
#include "http/reply.h"
#include "store/store.h"

#define PAGE_MAX     100
#define PAGE_DEFAULT 20

static void h_list(struct http_req *req, struct http_resp *resp)
{
    static const char *const threats[] = {"brute_force", "overlay_failure", "manual", NULL};
    static const char *const targets[] = {"ip", "user", "overlay", NULL};
    if (api_require_or_reply(req, resp, "admin:system") != 0)
        return;
    long long page, per_page, since = 0;
    struct store_immune_filter f = {0};
    if (q_int(req, resp, "page", 1, 1, 1000000, &page) < 0 ||
        q_int(req, resp, "per_page", PAGE_DEFAULT, 1, PAGE_MAX, &per_page) < 0 ||
        q_enum(req, resp, "threat_type", threats, &f.threat_type) < 0 ||
        q_enum(req, resp, "target_type", targets, &f.target_type) < 0 ||
        q_time(req, resp, "since", &since) < 0)
        return;
    f.since = since;
    struct store_immune_response *items = NULL;
    size_t n = 0;
    long long total = 0;
    enum fg_err e = FG_OK;
    struct store_conn *c = store_acquire(req->app->store, &e);
    if (c) {
        e = req->app->store->immune->list(c, &f, (page - 1) * per_page, per_page, &items, &n,
                                          &total);
        store_release(req->app->store, c);
    }
    if (e != FG_OK) {
        api_reply_err(resp, e == FG_EUNAVAIL ? e : FG_EINTERNAL, NULL);
        return;
    }
    json_t *arr = json_array();
    for (size_t i = 0; i < n; i++)
        json_array_append_new(arr, fg_immune_response_json(&items[i]));
    store_immune_free_list(items, n);
    http_reply_page(resp, arr, total, page, per_page);
}

const struct http_route api_immune_routes[] = {
    {"GET", "/api/v1/immune/responses", h_list, HTTP_AUTH_REQUIRED,
     "Immune-system responses (IP blocks, quarantines), newest first", "immune", "admin:system",
     200, NULL,
     "{\"type\":\"array\",\"items\":{\"type\":\"object\",\"properties\":{\"id\":{\"type\":"
     "\"string\"},\"threat_type\":{\"type\":\"string\"},\"level\":{\"enum\":[\"low\",\"medium\","
     "\"high\",\"critical\"]},\"target_type\":{\"type\":\"string\"},\"target_id\":{\"type\":"
     "\"string\"},\"action\":{\"type\":\"string\"},\"reason\":{\"type\":\"string\"},\"details\":"
     "{\"type\":\"object\"},\"created_at\":{\"type\":\"string\"},\"expires_at\":{\"type\":"
     "[\"string\",\"null\"]}}}}",
     "threat_type,target_type,since,page,per_page"},
    {NULL, NULL, NULL, 0, NULL, NULL, NULL, 0, NULL, NULL, NULL},
};
