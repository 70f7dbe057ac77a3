/*
 * System endpoints: liveness, readiness, metrics, OpenAPI document and the API reference page.
 */
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "api/routes.h"
#include "core/app.h"
#include "core/metrics.h"
#include "core/search.h"
#include "http/reply.h"
#include "store/store.h"
#include "util/buf.h"
#include "util/metrics.h"

#define METRICS_MAX_BYTES (16u << 20)

static void h_health(struct http_req *req, struct http_resp *resp)
{
    (void)req;
    static const char body[] = "{\"status\":\"healthy\",\"version\":\"" FORGE_VERSION "\"}";
    http_reply_raw(resp, 200, "application/json", body, sizeof body - 1);
}

static void h_ready(struct http_req *req, struct http_resp *resp)
{
    struct fg_app *app = req->app;
    json_t *checks = json_object();
    int ok = 1;
    if (app->store && app->store->ops->ping(app->store) == FG_OK) {
        json_object_set_new(checks, "store", json_string("ok"));
    } else {
        json_object_set_new(checks, "store", json_string("unavailable"));
        ok = 0;
    }
    if (!fg_search_ready_checks(app, checks)) /* index loaded (503 until then), index_lag */
        ok = 0;
    if (!atomic_load(&app->ready)) {
        json_object_set_new(checks, "startup", json_string("in_progress"));
        ok = 0;
    } else {
        json_object_set_new(checks, "startup", json_string("ok"));
    }
    fg_metric_set(fgm.ready, NULL, ok);
    if (app->store)
        fg_metric_set(fgm.store_size, NULL, (double)app->store->ops->size_bytes(app->store));
    json_t *body = json_pack("{ssso}", "status", ok ? "ready" : "not_ready", "checks", checks);
    char *s = json_dumps(body, JSON_COMPACT);
    json_decref(body);
    http_reply_raw(resp, ok ? 200 : 503, "application/json", s, strlen(s));
    free(s);
}

static void h_metrics(struct http_req *req, struct http_resp *resp)
{
    struct fg_app *app = req->app;
    if (app->store)
        fg_metric_set(fgm.store_size, NULL, (double)app->store->ops->size_bytes(app->store));
    struct fg_buf b;
    fg_buf_init(&b, METRICS_MAX_BYTES);
    fg_metrics_render(&b);
    http_reply_raw(resp, 200, "text/plain; version=0.0.4; charset=utf-8", b.p ? b.p : "", b.len);
    fg_buf_free(&b);
}

static char *g_openapi;
static pthread_once_t g_openapi_once = PTHREAD_ONCE_INIT;

static void build_openapi(void)
{
    json_t *doc = api_openapi_build();
    g_openapi = json_dumps(doc, JSON_COMPACT | JSON_SORT_KEYS);
    json_decref(doc);
}

__attribute__((destructor)) static void free_openapi(void)
{
    free(g_openapi);
}

static void h_openapi(struct http_req *req, struct http_resp *resp)
{
    (void)req;
    pthread_once(&g_openapi_once, build_openapi);
    if (!g_openapi) {
        http_reply_internal(resp);
        return;
    }
    http_reply_raw(resp, 200, "application/json", g_openapi, strlen(g_openapi));
}

static void html_escape(struct fg_buf *b, const char *s)
{
    for (; s && *s; s++) {
        switch (*s) {
        case '<':
            fg_buf_puts(b, "&lt;");
            break;
        case '>':
            fg_buf_puts(b, "&gt;");
            break;
        case '&':
            fg_buf_puts(b, "&amp;");
            break;
        case '"':
            fg_buf_puts(b, "&quot;");
            break;
        default:
            fg_buf_append(b, s, 1);
        }
    }
}

static void h_docs(struct http_req *req, struct http_resp *resp)
{
    (void)req;
    struct fg_buf b;
    fg_buf_init(&b, 1u << 20);
    fg_buf_puts(&b,
                "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\">"
                "<title>Forge API reference</title><style>body{font-family:system-ui,sans-serif;"
                "margin:2rem;max-width:70rem}table{border-collapse:collapse;width:100%}"
                "td,th{border-bottom:1px solid #ddd;padding:.35rem .5rem;text-align:left}"
                "code{font-size:.95em}.m{font-weight:600}</style></head><body>"
                "<h1>Forge API " FORGE_VERSION "</h1><p>Machine-readable: "
                "<a href=\"/openapi.json\">/openapi.json</a> (OpenAPI 3.1). Errors are "
                "<code>{\"code\",\"message\",\"details\"}</code>; successes "
                "<code>{\"data\",\"meta\"}</code>.</p><table><tr><th>Method</th><th>Path</th>"
                "<th>Summary</th><th>Auth</th><th>Permission</th></tr>");
    for (size_t t = 0; api_route_tables[t]; t++) {
        for (const struct http_route *r = api_route_tables[t]; r->pattern; r++) {
            fg_buf_puts(&b, "<tr><td class=\"m\">");
            html_escape(&b, r->method);
            fg_buf_puts(&b, "</td><td><code>");
            html_escape(&b, r->pattern);
            fg_buf_puts(&b, "</code></td><td>");
            html_escape(&b, r->summary);
            fg_buf_printf(&b, "</td><td>%s</td><td>",
                          (r->flags & HTTP_AUTH_REQUIRED)   ? "bearer"
                          : (r->flags & HTTP_AUTH_OPTIONAL) ? "optional"
                                                            : "none");
            html_escape(&b, r->permission ? r->permission : "");
            fg_buf_puts(&b, "</td></tr>");
        }
    }
    fg_buf_puts(&b, "</table></body></html>");
    http_reply_raw(resp, 200, "text/html; charset=utf-8", b.p, b.len);
    fg_buf_free(&b);
}

#define SYS (HTTP_RATE_EXEMPT)

const struct http_route api_system_routes[] = {
    {"GET", "/health", h_health, SYS | HTTP_NO_BLOCK, "Liveness (no I/O)", "system", NULL, 200,
     NULL,
     "{\"type\":\"object\",\"properties\":{\"status\":{\"type\":\"string\"},"
     "\"version\":{\"type\":\"string\"}}}",
     NULL},
    {"GET", "/health/ready", h_ready, SYS | HTTP_NO_BLOCK,
     "Readiness: store reachable, startup finished, vector index loaded (503 otherwise)", "system",
     NULL, 200, NULL, NULL, NULL},
    {"GET", "/metrics", h_metrics, SYS | HTTP_NO_BLOCK, "Prometheus metrics (text format 0.0.4)",
     "system", NULL, 200, NULL, NULL, NULL},
    {"GET", "/openapi.json", h_openapi, 0, "This API as OpenAPI 3.1", "system", NULL, 200, NULL,
     NULL, NULL},
    {"GET", "/docs", h_docs, HTTP_NOT_IN_PROD, "API reference page (not in production)", "system",
     NULL, 200, NULL, NULL, NULL},
    {NULL, NULL, NULL, 0, NULL, NULL, NULL, 0, NULL, NULL, NULL},
};
