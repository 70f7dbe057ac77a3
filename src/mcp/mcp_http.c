/*
 * MCP Streamable HTTP transport at /mcp on `forge serve` (docs/mcp.md, issue 22).
 *
 *   POST /mcp     one JSON-RPC message (or a batch on 2025-03-26); the answer is one JSON body
 *                 (application/json; no SSE stream). Notifications and responses only: 202.
 *   DELETE /mcp   ends the session named by Mcp-Session-Id (204).
 *   GET /mcp      405: this server offers no server-initiated SSE stream.
 *
 * Checks, in order: MCP_HTTP_ENABLED (404 when off), Origin against MCP_ALLOWED_ORIGINS (403;
 * DNS-rebinding protection; absent Origin allowed), a bearer JWT (401 + WWW-Authenticate; invalid,
 * expired and revoked tokens are refused by the auth guard before the handler),
 * MCP-Protocol-Version (400 when unsupported), then the session: initialize creates one and returns
 * its id in Mcp-Session-Id; every later request must carry it (400 without, 404 when unknown,
 * expired or another account's). Sessions live in memory (MCP_HTTP_MAX_SESSIONS,
 * MCP_HTTP_SESSIONS_PER_USER, idle expiry MCP_HTTP_IDLE_S).
 *
 * Tools run as loopback HTTP calls to this same server with the caller's own bearer token (libcurl,
 * a fresh connection per call), so every API guard applies unchanged. Such a call needs a free
 * worker thread while the /mcp request holds one: at most WORKERS-1 /mcp requests that call the
 * API run at once, the others get 503 + Retry-After.
 */
#include <curl/curl.h>
#include <pthread.h>
#include <sodium.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "api/authn.h"
#include "api/routes.h"
#include "core/app.h"
#include "core/identity.h"
#include "http/reply.h"
#include "mcp/mcp.h"
#include "util/buf.h"
#include "util/config.h"
#include "util/log.h"
#include "util/mem.h"
#include "util/time.h"

#define MCP_HTTP_MAX_SESSIONS      1024
#define MCP_HTTP_SESSIONS_PER_USER 32
#define MCP_HTTP_IDLE_S            3600.0
#define MCP_HTTP_RESPONSE_MAX      (16u << 20) /* largest API answer read back */
#define MCP_HTTP_CALL_TIMEOUT_S    30L
#define MCP_SESSION_ID_BYTES       24 /* random bytes; hex in the header */

struct session {
    char id[2 * MCP_SESSION_ID_BYTES + 1]; /* "" = free slot */
    char user_id[37];
    char protocol[16];
    double last_used; /* monotonic seconds */
};

static pthread_mutex_t g_mu = PTHREAD_MUTEX_INITIALIZER;
static struct session g_sessions[MCP_HTTP_MAX_SESSIONS];
static atomic_int g_inflight;

/* ---- origin ------------------------------------------------------------------------------- */

static int loopback_origin(const char *o)
{
    const char *p = strstr(o, "://");
    if (!p)
        return 0;
    p += 3;
    static const char *const hosts[] = {"localhost", "127.0.0.1", "[::1]", NULL};
    for (int i = 0; hosts[i]; i++) {
        size_t n = strlen(hosts[i]);
        if (strncasecmp(p, hosts[i], n) == 0 && (p[n] == 0 || p[n] == ':' || p[n] == '/'))
            return 1;
    }
    return 0;
}

static int origin_ok(const struct fg_config *cfg, const char *origin)
{
    if (!origin)
        return 1; /* not a browser: nothing to rebind */
    const char *list = cfg->mcp_allowed_origins ? cfg->mcp_allowed_origins : "";
    if (!*list)
        return loopback_origin(origin);
    size_t ol = strlen(origin);
    const char *p = list;
    while (*p) {
        while (*p == ' ' || *p == ',')
            p++;
        const char *e = p;
        while (*e && *e != ',')
            e++;
        size_t n = (size_t)(e - p);
        while (n && p[n - 1] == ' ')
            n--;
        if ((n == 1 && *p == '*') || (n == ol && n && strncmp(p, origin, n) == 0))
            return 1;
        p = e;
    }
    return 0;
}

/* ---- sessions ----------------------------------------------------------------------------- */

static int id_eq(const char *a, const char *b)
{
    size_t n = strlen(a);
    return n == strlen(b) && n > 0 && sodium_memcmp(a, b, n) == 0;
}

/* Creates a session; 0 on success (id filled), -1 when the table is full. */
static int session_new(const char *user_id, const char *protocol, char *id_out)
{
    unsigned char raw[MCP_SESSION_ID_BYTES];
    randombytes_buf(raw, sizeof raw);
    sodium_bin2hex(id_out, 2 * MCP_SESSION_ID_BYTES + 1, raw, sizeof raw);
    double now = fg_mono_s();
    pthread_mutex_lock(&g_mu);
    int free_slot = -1, oldest_own = -1, own = 0;
    for (int i = 0; i < MCP_HTTP_MAX_SESSIONS; i++) {
        struct session *s = &g_sessions[i];
        if (s->id[0] && now - s->last_used > MCP_HTTP_IDLE_S)
            s->id[0] = 0; /* expired */
        if (!s->id[0]) {
            if (free_slot < 0)
                free_slot = i;
            continue;
        }
        if (strcmp(s->user_id, user_id) == 0) {
            own++;
            if (oldest_own < 0 || s->last_used < g_sessions[oldest_own].last_used)
                oldest_own = i;
        }
    }
    int slot = own >= MCP_HTTP_SESSIONS_PER_USER ? oldest_own : free_slot;
    if (slot >= 0) {
        struct session *s = &g_sessions[slot];
        snprintf(s->id, sizeof s->id, "%s", id_out);
        snprintf(s->user_id, sizeof s->user_id, "%s", user_id);
        snprintf(s->protocol, sizeof s->protocol, "%s", protocol);
        s->last_used = now;
    }
    pthread_mutex_unlock(&g_mu);
    return slot >= 0 ? 0 : -1;
}

/* Finds the caller's live session; copies its protocol. remove: ends it. 0 found, -1 not. */
static int session_use(const char *id, const char *user_id, char *protocol, size_t plen, int remove)
{
    double now = fg_mono_s();
    int found = -1;
    pthread_mutex_lock(&g_mu);
    for (int i = 0; i < MCP_HTTP_MAX_SESSIONS; i++) {
        struct session *s = &g_sessions[i];
        if (!s->id[0] || !id_eq(s->id, id))
            continue;
        if (now - s->last_used > MCP_HTTP_IDLE_S) {
            s->id[0] = 0;
            break;
        }
        if (strcmp(s->user_id, user_id) != 0)
            break; /* another account's session: as unknown */
        if (protocol)
            snprintf(protocol, plen, "%s", s->protocol);
        if (remove)
            s->id[0] = 0;
        else
            s->last_used = now;
        found = 0;
        break;
    }
    pthread_mutex_unlock(&g_mu);
    return found;
}

/* ---- loopback API calls ------------------------------------------------------------------- */

struct loop {
    char base[300];
    char auth[4200];
    char corr[120];
};

static size_t on_body(char *p, size_t sz, size_t n, void *ud)
{
    struct fg_buf *b = ud;
    return fg_buf_append(b, p, sz * n) == FG_OK ? sz * n : 0;
}

static void curl_once(void)
{
    curl_global_init(CURL_GLOBAL_DEFAULT); /* no-op when the embedder already did it */
}

static long loop_api(void *ud, const char *method, const char *path, json_t *body, json_t **out)
{
    static pthread_once_t once = PTHREAD_ONCE_INIT;
    pthread_once(&once, curl_once);
    struct loop *l = ud;
    *out = NULL;
    CURL *h = curl_easy_init();
    if (!h)
        return 0;
    char url[1024];
    snprintf(url, sizeof url, "%s%s", l->base, path);
    char *payload = body ? json_dumps(body, JSON_COMPACT) : NULL;
    struct curl_slist *hdr = NULL;
    hdr = curl_slist_append(hdr, "Accept: application/json");
    hdr = curl_slist_append(hdr, l->auth);
    hdr = curl_slist_append(hdr, l->corr);
    hdr = curl_slist_append(hdr, "Expect:");
    if (payload)
        hdr = curl_slist_append(hdr, "Content-Type: application/json");
    struct fg_buf b;
    fg_buf_init(&b, MCP_HTTP_RESPONSE_MAX);
    curl_easy_setopt(h, CURLOPT_URL, url);
    curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, method);
    if (payload) {
        curl_easy_setopt(h, CURLOPT_POSTFIELDS, payload);
        curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)strlen(payload));
    } else if (strcmp(method, "GET") == 0) {
        curl_easy_setopt(h, CURLOPT_HTTPGET, 1L);
    }
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, hdr);
    curl_easy_setopt(h, CURLOPT_USERAGENT, "forge-mcp/" FORGE_VERSION);
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, &b);
    curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(h, CURLOPT_TIMEOUT, MCP_HTTP_CALL_TIMEOUT_S);
    curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT, 5L);
    curl_easy_setopt(h, CURLOPT_FRESH_CONNECT, 1L); /* never a keep-alive socket of a busy worker */
    curl_easy_setopt(h, CURLOPT_FORBID_REUSE, 1L);
    curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http");
    CURLcode rc = curl_easy_perform(h);
    long status = 0;
    if (rc == CURLE_OK) {
        curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status);
        if (b.len)
            *out = json_loadb(b.p, b.len, 0, NULL);
    } else {
        fg_log(FG_LOG_WARN, "mcp_loopback_failed", FG_LF_STR("error", curl_easy_strerror(rc)),
               FG_LF_END);
        *out = json_pack("{ssss}", "code", "unavailable", "message",
                         "the server could not run the call (loopback request failed)");
    }
    curl_slist_free_all(hdr);
    curl_easy_cleanup(h);
    fg_buf_free(&b);
    free(payload);
    return status;
}

static void loop_init(struct loop *l, struct http_req *req, const char *token)
{
    const struct fg_config *cfg = req->app->cfg;
    const char *host = cfg->host && *cfg->host ? cfg->host : "127.0.0.1";
    if (strcmp(host, "0.0.0.0") == 0 || strcmp(host, "*") == 0)
        host = "127.0.0.1";
    if (strcmp(host, "::") == 0)
        host = "::1";
    int v6 = strchr(host, ':') != NULL;
    snprintf(l->base, sizeof l->base, "http://%s%s%s:%lld", v6 ? "[" : "", host, v6 ? "]" : "",
             cfg->port);
    snprintf(l->auth, sizeof l->auth, "Authorization: Bearer %s", token);
    snprintf(l->corr, sizeof l->corr, "X-Correlation-ID: %s", req->correlation_id);
}

/* ---- handlers ----------------------------------------------------------------------------- */

static int enabled_or_reply(struct http_req *req, struct http_resp *resp)
{
    if (req->app && req->app->cfg && fg_cfg_int(&req->app->cfg->mcp_http_enabled))
        return 0;
    http_reply_not_found(resp, "route");
    return -1;
}

/* Origin, then the bearer token (the route is HTTP_AUTH_OPTIONAL so that a foreign Origin is
 * refused before authentication is discussed). */
static int gate_or_reply(struct http_req *req, struct http_resp *resp)
{
    if (enabled_or_reply(req, resp))
        return -1;
    if (!origin_ok(req->app->cfg, http_header(req, "Origin"))) {
        http_reply_forbidden(resp, "Origin not allowed for /mcp (MCP_ALLOWED_ORIGINS)",
                             json_pack("{ss}", "rule", "origin"));
        return -1;
    }
    if (!req->principal) {
        http_reply_unauthorized(resp, "authentication required: send Authorization: Bearer "
                                      "<access token>");
        return -1;
    }
    return 0;
}

static void rpc_reply(struct http_resp *resp, int status, json_t *msg_new)
{
    resp->status = status;
    resp->json = msg_new;
    resp->content_type = "application/json";
}

/* 1 when the message (or a batch member) is a request that may call the API. */
static int needs_api(json_t *msg)
{
    if (json_is_array(msg)) {
        size_t i;
        json_t *x;
        json_array_foreach(msg, i, x)
        {
            if (needs_api(x))
                return 1;
        }
        return 0;
    }
    const char *m = json_string_value(json_object_get(msg, "method"));
    return m && (strcmp(m, "tools/call") == 0 || strcmp(m, "resources/list") == 0 ||
                 strcmp(m, "resources/read") == 0);
}

static void h_post(struct http_req *req, struct http_resp *resp)
{
    if (gate_or_reply(req, resp))
        return;
    const char *pv = http_header(req, "MCP-Protocol-Version");
    if (pv && !mcp_protocol_supported(pv)) {
        rpc_reply(resp, 400,
                  mcp_error_new(NULL, MCP_E_INVALID_REQUEST,
                                "Bad Request: unsupported MCP-Protocol-Version",
                                json_pack("{sss[ssss]}", "got", pv, "supported", "2025-11-25",
                                          "2025-06-18", "2025-03-26", "2024-11-05")));
        return;
    }
    json_error_t je;
    json_t *msg = req->body_len ? json_loadb(req->body, req->body_len,
                                             JSON_REJECT_DUPLICATES | JSON_DECODE_ANY, &je)
                                : NULL;
    if (!msg) {
        rpc_reply(
            resp, 400,
            mcp_error_new(NULL, MCP_E_PARSE, "Parse error",
                          json_pack("{ss}", "reason", req->body_len ? je.text : "empty body")));
        return;
    }
    const char *token = api_bearer(req);
    struct loop *l = fg_xcalloc(1, sizeof *l);
    loop_init(l, req, token ? token : "");
    struct mcp_conn conn;
    mcp_conn_init(&conn, loop_api, l);
    const char *sid = http_header(req, "Mcp-Session-Id");
    json_t *out = NULL;
    int counted = 0;
    if (!json_is_array(msg) && mcp_is_initialize(msg)) {
        out = mcp_handle(&conn, msg);
        if (out && json_object_get(out, "result")) {
            char id[2 * MCP_SESSION_ID_BYTES + 1];
            if (session_new(req->principal->user_id, conn.protocol, id) != 0) {
                json_decref(out);
                out = NULL;
                http_reply_unavailable(resp, "too many MCP sessions; retry later");
                http_resp_header(resp, "Retry-After", "10");
                goto done;
            }
            http_resp_header(resp, "Mcp-Session-Id", id);
            fg_log(FG_LOG_INFO, "mcp_session_started",
                   FG_LF_STR("user_id", req->principal->user_id),
                   FG_LF_STR("protocol", conn.protocol), FG_LF_STR("client", conn.client_name),
                   FG_LF_END);
        }
        rpc_reply(resp, 200, out);
        goto done;
    }
    if (!sid) {
        rpc_reply(resp, 400,
                  mcp_error_new(NULL, MCP_E_INVALID_REQUEST,
                                "Bad Request: Mcp-Session-Id header is required (send initialize "
                                "first)",
                                NULL));
        goto done;
    }
    if (strlen(sid) > 2 * MCP_SESSION_ID_BYTES ||
        session_use(sid, req->principal->user_id, conn.protocol, sizeof conn.protocol, 0) != 0) {
        rpc_reply(resp, 404,
                  mcp_error_new(NULL, -32001,
                                "Session not found (expired or ended): initialize "
                                "a new session",
                                NULL));
        goto done;
    }
    conn.initialized = 1;
    if (needs_api(msg)) {
        long long workers = req->app->cfg->workers;
        int limit = workers > 1 ? (int)(workers - 1) : 1;
        if (atomic_fetch_add(&g_inflight, 1) >= limit) {
            atomic_fetch_sub(&g_inflight, 1);
            http_reply_unavailable(resp, "too many MCP tool calls in flight; retry shortly");
            http_resp_header(resp, "Retry-After", "1");
            goto done;
        }
        counted = 1;
    }
    out = mcp_handle(&conn, msg);
    if (counted)
        atomic_fetch_sub(&g_inflight, 1);
    if (out)
        rpc_reply(resp, 200, out);
    else
        resp->status = 202; /* only notifications / responses: nothing to answer */
done:
    sodium_memzero(l->auth, sizeof l->auth);
    free(l);
    json_decref(msg);
}

static void h_delete(struct http_req *req, struct http_resp *resp)
{
    if (gate_or_reply(req, resp))
        return;
    const char *sid = http_header(req, "Mcp-Session-Id");
    if (!sid) {
        http_reply_invalid(resp, "Mcp-Session-Id", "the Mcp-Session-Id header is required");
        return;
    }
    if (strlen(sid) > 2 * MCP_SESSION_ID_BYTES ||
        session_use(sid, req->principal->user_id, NULL, 0, 1) != 0) {
        http_reply_not_found(resp, "session");
        return;
    }
    http_reply_no_content(resp);
}

#define MCP_AUTH (HTTP_AUTH_OPTIONAL)

// clang-format off
const struct http_route api_mcp_routes[] = {
    {"POST", "/mcp", h_post, MCP_AUTH,
     "Model Context Protocol, Streamable HTTP (JSON-RPC 2.0; docs/mcp.md). Bearer token required",
     "mcp", NULL, 200, "{\"type\":[\"object\",\"array\"]}", "{\"type\":[\"object\",\"array\"]}", NULL},
    {"DELETE", "/mcp", h_delete, MCP_AUTH, "End an MCP session (Mcp-Session-Id header)", "mcp",
     NULL, 204, NULL, NULL, NULL},
    {NULL, NULL, NULL, 0, NULL, NULL, NULL, 0, NULL, NULL, NULL},
};
// clang-format on
