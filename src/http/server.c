/*
 * libmicrohttpd glue. See http.h for the request lifecycle and server.h for limits.
 *
 * Threading: MHD runs WORKERS epoll threads; each connection stays on one thread, so one request's
 * callbacks never run concurrently. Shared state here is only atomics (in-flight counter, last
 * activity) and the metrics registry (its own locks).
 *
 * Shutdown: http_server_drain() quiesces the daemon (the listen socket is closed, so new
 * connections are refused), marks the app as draining so every response carries `Connection:
 * close`, and waits until no request is in flight and the open connections are gone (or idle for a
 * second).
 */
#include "http/server.h"

#include <arpa/inet.h>
#include <netdb.h>
#include <netinet/in.h>
#include <strings.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <microhttpd.h>

#include "core/app.h"
#include "http/conntrack.h"
#include "http/guard.h"
#include "http/middleware.h"
#include "http/offload.h"
#include "http/reply.h"
#include "http/router.h"
#include "http/web.h"
#include "util/buf.h"
#include "util/log.h"
#include "util/mem.h"
#include "util/time.h"

struct http_server {
    struct fg_app *app;
    struct MHD_Daemon *d;
    struct sockaddr_storage addr;
    atomic_long inflight;
    _Atomic double last_activity;
    long long max_body;
    double request_timeout;
    unsigned port;
    MHD_socket quiesced_fd;      /* listen socket taken back from MHD on drain; closed at stop */
    struct http_ct *ct;          /* slow-client defences (conntrack.h) */
    struct http_pool *pool;      /* HTTP_OFFLOAD handlers (offload.h) */
    struct http_pool *long_pool; /* HTTP_LONG handlers: seconds of work must not hold a worker */
};

/* HTTP_LONG routes: admin-only jobs of seconds to minutes (an erasure of 100 000 capsules, a
 * verification of the whole audit chain). Two run at once and eight wait; more get 503. They have
 * their own pool so that they never hold the MHD workers nor delay a login on the Argon2 pool. */
#define HTTP_LONG_THREADS 2u
#define HTTP_LONG_QUEUE   8u

#define HTTP_LINGER_S 2.0 /* after an early error: keep reading (discarding) this long */

static void mhd_log(void *cls, const char *fmt, va_list ap) __attribute__((format(printf, 2, 0)));
static void mhd_log(void *cls, const char *fmt, va_list ap)
{
    (void)cls;
    char msg[512];
    vsnprintf(msg, sizeof msg, fmt, ap);
    size_t n = strlen(msg);
    while (n && (msg[n - 1] == '\n' || msg[n - 1] == '\r'))
        msg[--n] = '\0';
    fg_log(FG_LOG_DEBUG, "mhd", FG_LF_STR("msg", msg), FG_LF_END);
}

static struct http_req *new_req(struct http_server *s, struct MHD_Connection *conn, const char *url,
                                const char *method)
{
    struct http_req *req = fg_xcalloc(1, sizeof *req);
    req->app = s->app;
    req->conn = conn;
    req->t_start = fg_mono_s();
    req->method = fg_xstrdup(method);
    req->path = fg_xstrdup(url);
    mw_correlation_id(req);
    mw_client_ip(req);
    unsigned allowed = 0;
    enum http_match m = http_router_match(s->app->router, method, url, req, &req->route, &allowed);
    if (m == HTTP_MATCH_NO_METHOD)
        req->_allowed_methods = allowed;
    else if (m == HTTP_MATCH_OK)
        req->_allowed_methods = allowed;
    return req;
}

static void free_resp(struct http_resp *r);

static void free_req(struct http_req *req)
{
    if (req->_job_resp) {
        free_resp(req->_job_resp);
        free(req->_job_resp);
    }
    for (size_t i = 0; i < req->nparams; i++)
        free(req->params[i]);
    if (req->json)
        json_decref(req->json);
    free(req->body);
    free(req->method);
    free(req->path);
    free(req);
}

static void free_resp(struct http_resp *r)
{
    if (r->stream && r->stream_free) /* never handed to libmicrohttpd */
        r->stream_free(r->stream_ctx);
    r->stream = NULL;
    if (r->json)
        json_decref(r->json);
    free(r->body);
    for (size_t i = 0; i < r->nheaders; i++) {
        free(r->headers[i][0]);
        free(r->headers[i][1]);
    }
}

/* Streamed bodies (http_resp.stream): libmicrohttpd pulls them chunk by chunk. */
struct stream_cls {
    long (*fn)(void *ctx, char *buf, size_t max);
    void (*free_fn)(void *ctx);
    void *ctx;
};

static ssize_t stream_reader(void *cls, uint64_t pos, char *buf, size_t max)
{
    (void)pos;
    struct stream_cls *sc = cls;
    long n = sc->fn(sc->ctx, buf, max);
    if (n > 0)
        return (ssize_t)n;
    return n == 0 ? MHD_CONTENT_READER_END_OF_STREAM : MHD_CONTENT_READER_END_WITH_ERROR;
}

static void stream_free(void *cls)
{
    struct stream_cls *sc = cls;
    if (sc->free_fn)
        sc->free_fn(sc->ctx);
    free(sc);
}

static enum MHD_Result send_resp(struct http_server *s, struct http_req *req,
                                 struct http_resp *resp)
{
    if (resp->stream) {
        struct stream_cls *sc = fg_xcalloc(1, sizeof *sc);
        sc->fn = resp->stream;
        sc->free_fn = resp->stream_free;
        sc->ctx = resp->stream_ctx;
        resp->stream = NULL; /* owned by the MHD response from here */
        struct MHD_Response *r = MHD_create_response_from_callback(MHD_SIZE_UNKNOWN, 64 * 1024,
                                                                   stream_reader, sc, stream_free);
        if (!r) {
            stream_free(sc);
            return MHD_NO;
        }
        if (resp->content_type)
            MHD_add_response_header(r, "Content-Type", resp->content_type);
        mw_common_headers(req, resp);
        for (size_t i = 0; i < resp->nheaders; i++)
            MHD_add_response_header(r, resp->headers[i][0], resp->headers[i][1]);
        if (atomic_load(&s->app->draining))
            MHD_add_response_header(r, "Connection", "close");
        req->_status = resp->status;
        req->_responded = 1;
        enum MHD_Result ret = MHD_queue_response(req->conn, (unsigned)resp->status, r);
        MHD_destroy_response(r);
        return ret;
    }
    char *body = NULL;
    size_t len = 0;
    const char *ctype = resp->content_type;
    if (resp->json) {
        body = json_dumps(resp->json, JSON_COMPACT | JSON_REAL_PRECISION(15));
        if (!body) {
            json_decref(resp->json);
            resp->json = NULL;
            resp->status = 500;
            body = fg_xstrdup("{\"code\":\"internal_error\",\"message\":\"internal server "
                              "error\",\"details\":{}}");
        }
        len = strlen(body);
        ctype = "application/json";
    } else if (resp->body) {
        body = resp->body;
        len = resp->body_len;
        resp->body = NULL;
    }
    struct MHD_Response *r = MHD_create_response_from_buffer(
        len, body ? body : (void *)"", body ? MHD_RESPMEM_MUST_FREE : MHD_RESPMEM_PERSISTENT);
    if (!r) {
        free(body);
        return MHD_NO;
    }
    if (ctype && resp->status != 204)
        MHD_add_response_header(r, "Content-Type", ctype);
    mw_common_headers(req, resp);
    for (size_t i = 0; i < resp->nheaders; i++)
        MHD_add_response_header(r, resp->headers[i][0], resp->headers[i][1]);
    if (atomic_load(&s->app->draining))
        MHD_add_response_header(r, "Connection", "close");
    req->_status = resp->status;
    req->_responded = 1;
    enum MHD_Result ret = MHD_queue_response(req->conn, (unsigned)resp->status, r);
    MHD_destroy_response(r);
    return ret;
}

/* Runs the guards and the handler. Returns 1 instead of running an HTTP_OFFLOAD or HTTP_LONG
 * handler (the guards have passed; the caller hands the request to its pool), else 0. */
static int dispatch(struct http_server *s, struct http_req *req, struct http_resp *resp)
{
    const struct fg_config *cfg = s->app->cfg;

    if (strcmp(req->method, "OPTIONS") == 0 && req->_allowed_methods) {
        mw_preflight(req, resp);
        return 0;
    }
    if (!(req->route && (req->route->flags & HTTP_NO_BLOCK)) &&
        http_guard_ip_or_reply(req, resp) != 0)
        return 0;
    if (req->_too_large) {
        char msg[128];
        snprintf(msg, sizeof msg, "request body exceeds %lld bytes", s->max_body);
        http_reply_error(resp, 413, "payload_too_large", msg,
                         json_pack("{sI}", "max_bytes", (json_int_t)s->max_body));
        return 0;
    }
    if (!req->route && !req->_allowed_methods && http_web_serve(req, resp))
        return 0; /* the web dashboard (http/web.h) */
    if (!req->route) {
        if (req->_allowed_methods) {
            char allow[96];
            unsigned mask = req->_allowed_methods;
            if (mask & 1u)
                mask |= 1u << 5; /* GET implies HEAD */
            mask |= 1u << 6;     /* OPTIONS (CORS preflight) */
            http_methods_string(mask, allow, sizeof allow);
            char msg[160];
            snprintf(msg, sizeof msg, "method %s not allowed; allowed: %s", req->method, allow);
            http_reply_error(resp, 405, "method_not_allowed", msg,
                             json_pack("{ss}", "allow", allow));
            http_resp_header(resp, "Allow", allow);
        } else {
            http_reply_error(resp, 404, "not_found", "no such route",
                             json_pack("{ss}", "path", req->path));
        }
        return 0;
    }
    if ((req->route->flags & HTTP_NOT_IN_PROD) && cfg->environment == FG_ENV_PRODUCTION) {
        http_reply_error(resp, 404, "not_found", "no such route",
                         json_pack("{ss}", "path", req->path));
        return 0;
    }
    if (http_guard_auth_or_reply(req, resp) != 0)
        return 0;
    if (!(req->route->flags & HTTP_RATE_EXEMPT) && http_guard_rate_or_reply(req, resp) != 0)
        return 0;
    if ((req->route->flags & (HTTP_OFFLOAD | HTTP_LONG)) && s->pool && s->long_pool)
        return 1;
    req->route->handler(req, resp);
    if (resp->status < 100 || resp->status > 599) {
        fg_log(FG_LOG_ERROR, "handler_no_response", FG_LF_STR("route", req->route->pattern),
               FG_LF_STR("correlation_id", req->correlation_id), FG_LF_END);
        http_reply_internal(resp);
    }
    return 0;
}

/* ---- framing (issue 11, finding 10) ---------------------------------------------------------- */

struct framing {
    int cl, te;
    const char *te_value;
};

static enum MHD_Result framing_count(void *cls, enum MHD_ValueKind kind, const char *key,
                                     const char *value)
{
    (void)kind;
    struct framing *f = cls;
    if (!key)
        return MHD_YES;
    if (strcasecmp(key, "Content-Length") == 0)
        f->cl++;
    else if (strcasecmp(key, "Transfer-Encoding") == 0) {
        f->te++;
        f->te_value = value;
    }
    return MHD_YES;
}

/* Why the message framing of this request is ambiguous (RFC 9112 §6.1, §6.3), or NULL. MHD
 * 0.9.75 would follow Transfer-Encoding over Content-Length, take the first of several
 * Content-Lengths and read a body of unknown framing until the connection closes; all of that
 * lets a front proxy and Forge disagree about where the next request starts. */
static const char *framing_problem(struct MHD_Connection *conn)
{
    struct framing f = {0, 0, NULL};
    MHD_get_connection_values(conn, MHD_HEADER_KIND, framing_count, &f);
    if (f.cl && f.te)
        return "Content-Length and Transfer-Encoding must not both be present";
    if (f.cl > 1)
        return "more than one Content-Length header";
    if (f.te > 1)
        return "more than one Transfer-Encoding header";
    if (f.te) {
        const char *v = f.te_value ? f.te_value : "";
        while (*v == ' ' || *v == '\t')
            v++;
        size_t n = strlen(v);
        while (n && (v[n - 1] == ' ' || v[n - 1] == '\t'))
            n--;
        if (n != 7 || strncasecmp(v, "chunked", 7) != 0)
            return "Transfer-Encoding other than 'chunked' is not supported";
    }
    return NULL;
}

/* ---- answers written straight to the socket (finding 9) ----------------------------------------
 */

/* MHD 0.9.75 cannot queue a response while a body is being received, so an error that must be
 * sent mid-body (the body cap crossed, the body deadline passed) is written to the socket here:
 * the worker thread owns the connection and MHD has nothing else to write on it in this state.
 * The write side is then shut (FIN after the answer); the rest of the body is read and dropped
 * for at most HTTP_LINGER_S so the client sees the answer instead of a reset, then MHD closes. */
static void early_reply(struct http_server *s, struct http_req *req, struct http_resp *resp)
{
    (void)s;
    mw_common_headers(req, resp);
    http_resp_header(resp, "Connection", "close");
    char *body = resp->json ? json_dumps(resp->json, JSON_COMPACT) : NULL;
    size_t blen = body ? strlen(body) : 0;
    struct fg_buf outb;
    struct fg_buf *out = &outb;
    fg_buf_init(out, 64 * 1024);
    const char *reason = MHD_get_reason_phrase_for((unsigned)resp->status);
    char date[64];
    time_t now = time(NULL);
    struct tm tm;
    gmtime_r(&now, &tm);
    strftime(date, sizeof date, "%a, %d %b %Y %H:%M:%S GMT", &tm);
    fg_buf_printf(out,
                  "HTTP/1.1 %d %s\r\nDate: %s\r\nContent-Type: application/json\r\n"
                  "Content-Length: %zu\r\n",
                  resp->status, reason ? reason : "Error", date, blen);
    for (size_t i = 0; i < resp->nheaders; i++)
        fg_buf_printf(out, "%s: %s\r\n", resp->headers[i][0], resp->headers[i][1]);
    fg_buf_printf(out, "\r\n%s", body ? body : "");
    free(body);
    const union MHD_ConnectionInfo *ci =
        MHD_get_connection_info(req->conn, MHD_CONNECTION_INFO_CONNECTION_FD);
    if (ci) {
        size_t off = 0, len = out->len;
        const char *data = out->p;
        while (off < len) {
            ssize_t w = send(ci->connect_fd, data + off, len - off, MSG_NOSIGNAL | MSG_DONTWAIT);
            if (w <= 0)
                break; /* a client that does not read gets no more than fits in the buffer */
            off += (size_t)w;
        }
        shutdown(ci->connect_fd, SHUT_WR);
    }
    fg_buf_free(out);
    req->_status = resp->status;
    req->_responded = 1;
    req->_early = 1;
    req->_early_t = fg_mono_s();
}

/* ---- the pool (finding 8) ------------------------------------------------------------------ */

static void run_offloaded(void *arg)
{
    struct http_req *req = arg;
    struct http_resp *resp = req->_job_resp;
    req->route->handler(req, resp);
    if (resp->status < 100 || resp->status > 599) {
        fg_log(FG_LOG_ERROR, "handler_no_response", FG_LF_STR("route", req->route->pattern),
               FG_LF_STR("correlation_id", req->correlation_id), FG_LF_END);
        http_reply_internal(resp);
    }
    struct MHD_Connection *conn = req->conn;
    __atomic_store_n(&req->_job_done, 1, __ATOMIC_RELEASE);
    MHD_resume_connection(conn); /* req may be gone once the worker has it back */
}

/* Hands a request whose guards passed to the pool (its connection suspended until the answer is
 * ready). 0 when queued; -1 with a 503 in resp when the queue is full. */
static int offload(struct http_server *s, struct http_req *req, struct http_resp *resp)
{
    int is_long = (req->route->flags & HTTP_LONG) != 0;
    struct http_pool *pool = is_long ? s->long_pool : s->pool;
    if (http_pool_reserve(pool) != 0) {
        char retry[16];
        snprintf(retry, sizeof retry, "%u", http_pool_retry_after_s(pool));
        /* resp may already carry the rate-limit headers: keep them */
        http_reply_error(
            resp, 503, "service_unavailable",
            is_long ? "too many long-running jobs (erasure, audit verification) in progress; retry "
                      "shortly"
                    : "too many password operations in progress; retry shortly",
            json_pack("{ss}", "reason", is_long ? "long_job_queue_full" : "argon2_queue_full"));
        http_resp_header(resp, "Retry-After", retry);
        return -1;
    }
    req->_job_resp = fg_xcalloc(1, sizeof *req->_job_resp);
    *req->_job_resp = *resp;
    memset(resp, 0, sizeof *resp);
    MHD_suspend_connection(req->conn);
    http_pool_push(pool, run_offloaded, req);
    return 0;
}

static enum MHD_Result answer(struct http_server *s, struct http_req *req, struct http_resp *resp)
{
    enum MHD_Result r = send_resp(s, req, resp);
    free_resp(resp);
    return r;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn, const char *url,
                                  const char *method, const char *version, const char *upload_data,
                                  size_t *upload_data_size, void **con_cls)
{
    (void)version;
    struct http_server *s = cls;
    struct http_req *req = *con_cls;

    if (!req) {
        /* first call: the header section is complete */
        req = new_req(s, conn, url, method);
        *con_cls = req;
        atomic_fetch_add(&s->inflight, 1);
        mw_inflight_add(1);
        http_ct_phase(s->ct, conn, HTTP_CT_BODY);
        const char *why = framing_problem(conn);
        if (why) {
            /* answered before any body byte is read; MHD then refuses the body and every
             * pipelined request after it, and closes */
            struct http_resp resp = {0};
            http_reply_error(&resp, 400, "bad_request", why,
                             json_pack("{ss}", "rule", "message_framing"));
            http_resp_header(&resp, "Connection", "close");
            http_ct_phase(s->ct, conn, HTTP_CT_BUSY);
            return answer(s, req, &resp);
        }
        const char *cl = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "Content-Length");
        if (cl) {
            char *end;
            unsigned long long n = strtoull(cl, &end, 10);
            /* MHD has already refused a Content-Length that is not 1*DIGIT (400/413) */
            if (end == cl || *end != '\0' || n > (unsigned long long)s->max_body) {
                /* answer now: MHD closes the connection instead of reading the body */
                req->_too_large = 1;
                struct http_resp resp = {0};
                http_ct_phase(s->ct, conn, HTTP_CT_BUSY);
                dispatch(s, req, &resp);
                return answer(s, req, &resp);
            }
        }
        return MHD_YES;
    }
    if (req->_job_resp) {
        /* back from the pool (or a spurious call while it still runs) */
        if (!__atomic_load_n(&req->_job_done, __ATOMIC_ACQUIRE))
            return MHD_YES;
        struct http_resp *jr = req->_job_resp;
        req->_job_resp = NULL;
        enum MHD_Result r = answer(s, req, jr);
        free(jr);
        return r;
    }
    if (*upload_data_size) {
        size_t n = *upload_data_size;
        *upload_data_size = 0;
        if (req->_early) /* lingering after an early answer: drop, for a bounded time */
            return fg_mono_s() - req->_early_t > HTTP_LINGER_S ? MHD_NO : MHD_YES;
        if (req->_responded)
            return MHD_YES;
        if (req->body_len + n > (size_t)s->max_body) {
            /* the cap is crossed (a chunked body: a declared length was checked above) */
            req->_too_large = 1;
            free(req->body);
            req->body = NULL;
            req->body_len = 0;
            struct http_resp resp = {0};
            char msg[128];
            snprintf(msg, sizeof msg, "request body exceeds %lld bytes", s->max_body);
            http_reply_error(&resp, 413, "payload_too_large", msg,
                             json_pack("{sI}", "max_bytes", (json_int_t)s->max_body));
            early_reply(s, req, &resp);
            free_resp(&resp);
            return MHD_YES;
        }
        req->body = fg_xrealloc(req->body, req->body_len + n + 1);
        memcpy(req->body + req->body_len, upload_data, n);
        req->body_len += n;
        req->body[req->body_len] = '\0';
        if (fg_mono_s() - req->t_start > s->request_timeout) {
            struct http_resp resp = {0};
            http_reply_error(&resp, 408, "request_timeout",
                             "the request body did not arrive in time", NULL);
            early_reply(s, req, &resp);
            free_resp(&resp);
        }
        return MHD_YES;
    }
    if (req->_early)
        return MHD_NO; /* the body ended after an early answer: close */
    if (req->_responded)
        return MHD_YES;
    http_ct_phase(s->ct, conn, HTTP_CT_BUSY);
    struct http_resp resp = {0};
    if (dispatch(s, req, &resp) == 1 && offload(s, req, &resp) == 0)
        return MHD_YES; /* suspended until the pool resumes the connection */
    return answer(s, req, &resp);
}

static void on_completed(void *cls, struct MHD_Connection *conn, void **con_cls,
                         enum MHD_RequestTerminationCode toe)
{
    struct http_server *s = cls;
    struct http_req *req = *con_cls;
    if (!req)
        return;
    *con_cls = NULL;
    /* the connection waits for its next request: the header deadline starts now */
    if (toe == MHD_REQUEST_TERMINATED_COMPLETED_OK)
        http_ct_phase(s->ct, conn, HTTP_CT_HEADERS);
    mw_observe(req, fg_mono_s() - req->t_start, toe == MHD_REQUEST_TERMINATED_COMPLETED_OK);
    free_req(req);
    atomic_store(&s->last_activity, fg_mono_s());
    atomic_fetch_sub(&s->inflight, 1);
    mw_inflight_add(-1);
}

static int resolve(const char *host, unsigned port, struct sockaddr_storage *out, int *v6,
                   char *err, size_t errlen)
{
    struct addrinfo hints = {0}, *res = NULL;
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
    char ps[16];
    snprintf(ps, sizeof ps, "%u", port);
    int rc = getaddrinfo(host, ps, &hints, &res);
    if (rc != 0 || !res) {
        snprintf(err, errlen, "HOST: cannot resolve '%s': %s", host, gai_strerror(rc));
        return -1;
    }
    memcpy(out, res->ai_addr, res->ai_addrlen);
    *v6 = res->ai_family == AF_INET6;
    freeaddrinfo(res);
    return 0;
}

struct http_server *http_server_start(struct fg_app *app, char *err, size_t errlen)
{
    const struct fg_config *c = app->cfg;
    struct http_server *s = fg_xcalloc(1, sizeof *s);
    s->app = app;
    s->max_body = c->max_body_bytes;
    s->request_timeout = (double)c->request_timeout_s;
    s->quiesced_fd = MHD_INVALID_SOCKET;
    atomic_store(&s->last_activity, fg_mono_s());
    int v6 = 0;
    if (resolve(c->host, (unsigned)c->port, &s->addr, &v6, err, errlen) != 0) {
        free(s);
        return NULL;
    }
    mw_init(app);
    struct http_ct_limits lim = {
        .per_ip = (unsigned)c->per_ip_connection_limit,
        .header_timeout = (double)c->header_timeout_s,
        .body_timeout = (double)c->request_timeout_s,
        .max_conns = (unsigned)c->max_connections,
        .trusted = c->trusted_proxies,
    };
    s->ct = http_ct_start(&lim);
    s->pool = http_pool_start((unsigned)c->argon2_max_concurrent, (unsigned)c->argon2_queue_max);
    s->long_pool = http_pool_start(HTTP_LONG_THREADS, HTTP_LONG_QUEUE);
    if (!s->ct || !s->pool || !s->long_pool) {
        snprintf(err, errlen, "internal: cannot start the HTTP helper threads");
        http_ct_stop(s->ct);
        http_pool_stop(s->pool);
        http_pool_stop(s->long_pool);
        free(s);
        return NULL;
    }
    unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_EPOLL | MHD_ALLOW_SUSPEND_RESUME |
                     MHD_USE_ERROR_LOG | (v6 ? MHD_USE_IPv6 : 0);
    /* per-IP connections are counted by conntrack (MHD's own limit cannot exempt a proxy) */
    s->d = MHD_start_daemon(
        flags, (uint16_t)c->port, http_ct_accept, s->ct, on_request, s, MHD_OPTION_SOCK_ADDR,
        (struct sockaddr *)&s->addr, MHD_OPTION_THREAD_POOL_SIZE, (unsigned)c->workers,
        MHD_OPTION_CONNECTION_LIMIT, (unsigned)c->max_connections, MHD_OPTION_CONNECTION_TIMEOUT,
        (unsigned)c->connection_timeout_s, MHD_OPTION_CONNECTION_MEMORY_LIMIT,
        (size_t)c->max_header_bytes, MHD_OPTION_LISTEN_BACKLOG_SIZE, 1024u,
        MHD_OPTION_NOTIFY_COMPLETED, on_completed, s, MHD_OPTION_NOTIFY_CONNECTION, http_ct_notify,
        s->ct, MHD_OPTION_EXTERNAL_LOGGER, mhd_log, NULL, MHD_OPTION_END);
    if (!s->d) {
        snprintf(err, errlen, "PORT: cannot listen on %s:%lld (in use or not permitted)", c->host,
                 c->port);
        http_pool_stop(s->pool);
        http_pool_stop(s->long_pool);
        http_ct_stop(s->ct);
        free(s);
        return NULL;
    }
    const union MHD_DaemonInfo *info = MHD_get_daemon_info(s->d, MHD_DAEMON_INFO_BIND_PORT);
    s->port = info ? info->port : (unsigned)c->port;
    return s;
}

unsigned http_server_port(const struct http_server *s)
{
    return s->port;
}

long http_server_inflight(const struct http_server *s)
{
    return atomic_load(&s->inflight);
}

int http_server_drain(struct http_server *s, double timeout_s)
{
    atomic_store(&s->app->draining, 1);
    /* The worker threads drop the listen socket from their epoll sets asynchronously, so it must
     * stay a valid descriptor until MHD_stop_daemon: shut it down now (the kernel refuses new
     * connections) and close it in http_server_stop. */
    s->quiesced_fd = MHD_quiesce_daemon(s->d);
    if (s->quiesced_fd != MHD_INVALID_SOCKET)
        shutdown(s->quiesced_fd, SHUT_RDWR);
    double deadline = fg_mono_s() + timeout_s;
    for (;;) {
        long inflight = atomic_load(&s->inflight);
        const union MHD_DaemonInfo *info =
            MHD_get_daemon_info(s->d, MHD_DAEMON_INFO_CURRENT_CONNECTIONS);
        unsigned conns = info ? info->num_connections : 0;
        double idle = fg_mono_s() - atomic_load(&s->last_activity);
        if (inflight == 0 && (conns == 0 || idle >= 1.0))
            return 0;
        if (fg_mono_s() >= deadline)
            return (int)inflight;
        struct timespec ts = {0, 20 * 1000 * 1000};
        nanosleep(&ts, NULL);
    }
}

void http_server_stop(struct http_server *s)
{
    if (!s)
        return;
    /* every queued password job runs and resumes its connection: MHD must not be stopped with
     * suspended connections */
    http_pool_stop(s->pool);
    http_pool_stop(s->long_pool);
    MHD_stop_daemon(s->d);
    http_ct_stop(s->ct);
    if (s->quiesced_fd != MHD_INVALID_SOCKET)
        close(s->quiesced_fd);
    free(s);
}
