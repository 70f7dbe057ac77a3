#include "http/middleware.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <netinet/in.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <microhttpd.h>

#include "core/app.h"
#include "http/reply.h"
#include "http/router.h"
#include "util/log.h"
#include "util/metrics.h"
#include "util/uuid.h"

static struct fg_metric *m_requests, *m_duration, *m_dropped;
static atomic_long g_inflight_gauge;
static const struct fg_config *g_cfg;

static const double duration_buckets[] = {0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1,
                                          0.25,  0.5,    1,     2.5,  5,     10};

static void inflight_collector(struct fg_buf *out, void *ctx)
{
    (void)ctx;
    fg_buf_printf(out,
                  "# HELP http_requests_in_flight Requests being served.\n"
                  "# TYPE http_requests_in_flight gauge\nhttp_requests_in_flight %ld\n",
                  atomic_load(&g_inflight_gauge));
}

void mw_init(struct fg_app *app)
{
    g_cfg = app->cfg;
    if (m_requests)
        return;
    m_requests = fg_metric_new(FG_COUNTER, "http_requests_total", "HTTP requests served.",
                               "method,route,status", NULL, 0);
    m_duration = fg_metric_new(
        FG_HISTOGRAM, "http_request_duration_seconds", "HTTP request duration in seconds.",
        "method,route", duration_buckets, sizeof duration_buckets / sizeof duration_buckets[0]);
    const char *v[] = {"GET", "/health", "200"};
    fg_metric_touch(m_requests, v);
    fg_metric_touch(m_duration, v);
    fg_metrics_add_collector(inflight_collector, NULL);
    m_dropped = fg_metric_new(FG_COUNTER, "http_connections_dropped_total",
                              "Connections refused or closed by the server's transport limits.",
                              "reason", NULL, 0);
    static const char *const reasons[] = {"per_ip_limit", "header_timeout",
                                          "header_timeout_pressure", "body_timeout"};
    for (size_t i = 0; i < sizeof reasons / sizeof reasons[0]; i++) {
        const char *lv[] = {reasons[i]};
        fg_metric_touch(m_dropped, lv);
    }
}

void mw_connection_dropped(const char *reason)
{
    struct fg_metric *m = m_dropped;
    if (m) {
        const char *lv[] = {reason};
        fg_metric_add(m, lv, 1);
    }
    fg_log(FG_LOG_DEBUG, "connection_dropped", FG_LF_STR("reason", reason), FG_LF_END);
}

void mw_shutdown(void)
{
    m_requests = m_duration = m_dropped = NULL;
}

static int valid_correlation_id(const char *s)
{
    size_t n = 0;
    for (; s[n]; n++) {
        unsigned char c = (unsigned char)s[n];
        if (!(isalnum(c) || c == '-' || c == '_' || c == '.'))
            return 0;
        if (n >= HTTP_CORRELATION_ID_MAX)
            return 0;
    }
    return n > 0;
}

void mw_correlation_id(struct http_req *req)
{
    const char *in = http_header(req, "X-Correlation-ID");
    if (!in)
        in = http_header(req, "X-Request-ID");
    if (in && valid_correlation_id(in)) {
        snprintf(req->correlation_id, sizeof req->correlation_id, "%s", in);
        return;
    }
    fg_uuid7(req->correlation_id);
}

/* ---- client IP ------------------------------------------------------------------------ */

static int parse_ip(const char *s, unsigned char out[16], int *family)
{
    if (inet_pton(AF_INET, s, out) == 1) {
        *family = AF_INET;
        return 0;
    }
    if (inet_pton(AF_INET6, s, out) == 1) {
        *family = AF_INET6;
        return 0;
    }
    return -1;
}

static int ip_matches(const unsigned char *ip, int fam, const char *entry)
{
    char buf[80];
    size_t elen = strlen(entry);
    if (elen >= sizeof buf)
        return 0;
    memcpy(buf, entry, elen + 1);
    int bits = -1;
    char *slash = strchr(buf, '/');
    if (slash) {
        *slash = '\0';
        char *end;
        long b = strtol(slash + 1, &end, 10);
        if (end == slash + 1 || *end || b < 0 || b > 128)
            return 0;
        bits = (int)b;
    }
    unsigned char net[16];
    int nfam;
    if (parse_ip(buf, net, &nfam) != 0 || nfam != fam)
        return 0;
    int total = fam == AF_INET ? 32 : 128;
    if (bits < 0 || bits > total)
        bits = total;
    for (int i = 0; i < bits / 8; i++)
        if (ip[i] != net[i])
            return 0;
    if (bits % 8) {
        unsigned char mask = (unsigned char)(0xff << (8 - bits % 8));
        if ((ip[bits / 8] & mask) != (net[bits / 8] & mask))
            return 0;
    }
    return 1;
}

int mw_ip_in_list(const char *ip, const char *list)
{
    unsigned char a[16];
    int fam;
    if (!list || !*list || parse_ip(ip, a, &fam) != 0)
        return 0;
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
        if (n && n < 80) {
            char entry[80];
            memcpy(entry, p, n);
            entry[n] = '\0';
            if (ip_matches(a, fam, entry))
                return 1;
        }
        p = e;
    }
    return 0;
}

/* One X-Forwarded-For element (already trimmed): an address, optionally "[v6]", "v4:port" or
 * "[v6]:port". Writes the bare address into out. 0 ok, -1 not an address. */
static int xff_element(const char *p, size_t n, char *out, size_t outlen)
{
    if (n >= 64 || n == 0)
        return -1;
    char buf[64];
    memcpy(buf, p, n);
    buf[n] = '\0';
    char *a = buf;
    if (a[0] == '[') {
        char *close = strchr(a, ']');
        if (!close || (close[1] && (close[1] != ':' || !close[2])))
            return -1;
        *close = '\0';
        a++;
    } else {
        char *colon = strchr(a, ':');
        if (colon && !strchr(colon + 1, ':') && strchr(a, '.'))
            *colon = '\0'; /* "v4:port" (a bare v6 address has several colons) */
    }
    unsigned char bin[16];
    int fam;
    if (parse_ip(a, bin, &fam) != 0)
        return -1;
    size_t l = strlen(a);
    if (l >= outlen)
        return -1;
    memcpy(out, a, l + 1);
    return 0;
}

int mw_forwarded_client(const char *const *lines, size_t nlines, const char *trusted, char *out,
                        size_t outlen)
{
    char cand[64];
    int have = 0;
    for (size_t li = nlines; li-- > 0;) {
        const char *line = lines[li];
        size_t end = strlen(line);
        for (;;) {
            size_t start = end;
            while (start > 0 && line[start - 1] != ',')
                start--;
            size_t a = start, b = end;
            while (a < b && (line[a] == ' ' || line[a] == '\t'))
                a++;
            while (b > a && (line[b - 1] == ' ' || line[b - 1] == '\t'))
                b--;
            if (b > a) { /* empty elements (", ,") are skipped, as RFC 9110 §5.6.1 allows */
                if (xff_element(line + a, b - a, cand, sizeof cand) != 0)
                    return 0; /* garbage: the client is unknown, keep the peer address */
                have = 1;
                if (!mw_ip_in_list(cand, trusted)) {
                    snprintf(out, outlen, "%s", cand);
                    return 1;
                }
            }
            if (start == 0)
                break;
            end = start - 1;
        }
    }
    if (!have)
        return 0;
    snprintf(out, outlen, "%s", cand); /* every hop is a trusted proxy: the left-most one */
    return 1;
}

#define XFF_MAX_LINES 32

struct xff_lines {
    const char *v[XFF_MAX_LINES];
    size_t n;
};

static enum MHD_Result xff_collect(void *cls, enum MHD_ValueKind kind, const char *key,
                                   const char *value)
{
    (void)kind;
    struct xff_lines *l = cls;
    if (!key || !value || strcasecmp(key, "X-Forwarded-For") != 0)
        return MHD_YES;
    if (l->n == XFF_MAX_LINES) { /* keep the right-most lines: those are the trusted hops' */
        memmove(l->v, l->v + 1, (XFF_MAX_LINES - 1) * sizeof l->v[0]);
        l->n--;
    }
    l->v[l->n++] = value;
    return MHD_YES;
}

void mw_client_ip(struct http_req *req)
{
    const union MHD_ConnectionInfo *ci =
        MHD_get_connection_info(req->conn, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
    snprintf(req->client_ip, sizeof req->client_ip, "unknown");
    if (ci && ci->client_addr) {
        const struct sockaddr *sa = ci->client_addr;
        if (sa->sa_family == AF_INET) {
            inet_ntop(AF_INET, &((const struct sockaddr_in *)(const void *)sa)->sin_addr,
                      req->client_ip, sizeof req->client_ip);
        } else if (sa->sa_family == AF_INET6) {
            const struct in6_addr *a6 = &((const struct sockaddr_in6 *)(const void *)sa)->sin6_addr;
            if (IN6_IS_ADDR_V4MAPPED(a6))
                inet_ntop(AF_INET, &a6->s6_addr[12], req->client_ip, sizeof req->client_ip);
            else
                inet_ntop(AF_INET6, a6, req->client_ip, sizeof req->client_ip);
        }
    }
    if (!g_cfg || !g_cfg->trusted_proxies[0] ||
        !mw_ip_in_list(req->client_ip, g_cfg->trusted_proxies))
        return;
    /* Every X-Forwarded-For line, in order: a list split over several lines is one list
     * (RFC 9110 §5.3), and the trusted proxy's own entry is the right-most one. */
    struct xff_lines l = {.n = 0};
    MHD_get_connection_values(req->conn, MHD_HEADER_KIND, xff_collect, &l);
    char client[64];
    if (mw_forwarded_client(l.v, l.n, g_cfg->trusted_proxies, client, sizeof client))
        snprintf(req->client_ip, sizeof req->client_ip, "%s", client);
}

/* ---- headers -------------------------------------------------------------------------- */

static int origin_allowed(const char *origin)
{
    const char *list = g_cfg ? g_cfg->cors_origins : "";
    if (!origin || !*list)
        return 0;
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
        if ((n == 1 && *p == '*') || (n == ol && strncmp(p, origin, n) == 0))
            return 1;
        p = e;
    }
    return 0;
}

/* 1 when the handler already set header `name` (the web dashboard sets its own CSP and cache). */
static int resp_has_header(const struct http_resp *resp, const char *name)
{
    for (size_t i = 0; i < resp->nheaders; i++)
        if (strcasecmp(resp->headers[i][0], name) == 0)
            return 1;
    return 0;
}

void mw_common_headers(struct http_req *req, struct http_resp *resp)
{
    http_resp_header(resp, "X-Correlation-ID", req->correlation_id);
    http_resp_header(resp, "X-Content-Type-Options", "nosniff");
    http_resp_header(resp, "X-Frame-Options", "DENY");
    http_resp_header(resp, "Referrer-Policy", "no-referrer");
    http_resp_header(resp, "Cross-Origin-Opener-Policy", "same-origin");
    int html = resp->content_type && strncmp(resp->content_type, "text/html", 9) == 0;
    if (!resp_has_header(resp, "Content-Security-Policy"))
        http_resp_header(resp, "Content-Security-Policy",
                         html ? "default-src 'self'; script-src 'self' 'unsafe-inline'; style-src "
                                "'self' 'unsafe-inline'; img-src 'self' data:; frame-ancestors "
                                "'none'"
                              : "default-src 'none'; frame-ancestors 'none'");
    if ((!req->route || !(req->route->flags & HTTP_RATE_EXEMPT)) &&
        !resp_has_header(resp, "Cache-Control"))
        http_resp_header(resp, "Cache-Control", "no-store");
    if (g_cfg && g_cfg->environment != FG_ENV_DEVELOPMENT)
        http_resp_header(resp, "Strict-Transport-Security", "max-age=31536000; includeSubDomains");
    const char *origin = http_header(req, "Origin");
    if (origin_allowed(origin)) {
        http_resp_header(resp, "Access-Control-Allow-Origin", origin);
        http_resp_header(resp, "Vary", "Origin");
        http_resp_header(resp, "Access-Control-Expose-Headers",
                         "X-Correlation-ID, X-RateLimit-Limit, X-RateLimit-Remaining, "
                         "X-RateLimit-Reset, Retry-After, WWW-Authenticate");
    }
}

void mw_preflight(struct http_req *req, struct http_resp *resp)
{
    char allow[96];
    unsigned mask = req->_allowed_methods | (1u << 6);
    http_methods_string(mask, allow, sizeof allow);
    http_reply_no_content(resp);
    http_resp_header(resp, "Allow", allow);
    if (origin_allowed(http_header(req, "Origin"))) {
        http_resp_header(resp, "Access-Control-Allow-Methods", allow);
        http_resp_header(resp, "Access-Control-Allow-Headers",
                         "Authorization, Content-Type, X-Correlation-ID");
        http_resp_header(resp, "Access-Control-Max-Age", "600");
    }
}

/* ---- log + metrics -------------------------------------------------------------------- */

static const char *metric_method(const char *m)
{
    static const char *const known[] = {"GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"};
    for (size_t i = 0; i < sizeof known / sizeof known[0]; i++)
        if (strcmp(m, known[i]) == 0)
            return known[i];
    return "OTHER";
}

void mw_observe(struct http_req *req, double seconds, int complete)
{
    const char *route = req->route ? req->route->pattern : "unmatched";
    const char *method = metric_method(req->method);
    int status = req->_status ? req->_status : 499; /* no response: client closed */
    if (m_requests) {
        char st[8];
        snprintf(st, sizeof st, "%d", status);
        const char *lv[] = {method, route, st};
        fg_metric_add(m_requests, lv, 1);
        fg_metric_observe(m_duration, lv, seconds);
    }
    enum fg_log_level lvl = status >= 500 ? FG_LOG_ERROR : FG_LOG_INFO;
    if (req->route && (req->route->flags & HTTP_RATE_EXEMPT) && status < 400)
        lvl = FG_LOG_DEBUG; /* probes and scrapes would drown the log */
    if (!fg_log_enabled(lvl))
        return;
    fg_log(lvl, "http_request", FG_LF_STR("correlation_id", req->correlation_id),
           FG_LF_STR("method", method), FG_LF_STR("route", route),
           FG_LF_STR("path", req->route ? req->path : "-"), FG_LF_INT("status", status),
           FG_LF_DBL("duration_ms", seconds * 1000.0),
           FG_LF_STR("user_id", req->principal ? req->principal->user_id : NULL),
           FG_LF_INT("complete", complete), FG_LF_END);
}

void mw_inflight_add(long d)
{
    atomic_fetch_add(&g_inflight_gauge, d);
}
