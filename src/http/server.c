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
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <microhttpd.h>

#include "core/app.h"
#include "http/guard.h"
#include "http/middleware.h"
#include "http/reply.h"
#include "http/router.h"
#include "http/web.h"
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
    MHD_socket quiesced_fd; /* listen socket taken back from MHD on drain; closed at stop */
};

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

static void free_req(struct http_req *req)
{
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
    if (r->json)
        json_decref(r->json);
    free(r->body);
    for (size_t i = 0; i < r->nheaders; i++) {
        free(r->headers[i][0]);
        free(r->headers[i][1]);
    }
}

static enum MHD_Result send_resp(struct http_server *s, struct http_req *req,
                                 struct http_resp *resp)
{
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

static void dispatch(struct http_server *s, struct http_req *req, struct http_resp *resp)
{
    const struct fg_config *cfg = s->app->cfg;

    if (strcmp(req->method, "OPTIONS") == 0 && req->_allowed_methods) {
        mw_preflight(req, resp);
        return;
    }
    if (!(req->route && (req->route->flags & HTTP_NO_BLOCK)) &&
        http_guard_ip_or_reply(req, resp) != 0)
        return;
    if (req->_too_large) {
        char msg[128];
        snprintf(msg, sizeof msg, "request body exceeds %lld bytes", s->max_body);
        http_reply_error(resp, 413, "payload_too_large", msg,
                         json_pack("{sI}", "max_bytes", (json_int_t)s->max_body));
        return;
    }
    if (!req->route && !req->_allowed_methods && http_web_serve(req, resp))
        return; /* the web dashboard (http/web.h) */
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
        return;
    }
    if ((req->route->flags & HTTP_NOT_IN_PROD) && cfg->environment == FG_ENV_PRODUCTION) {
        http_reply_error(resp, 404, "not_found", "no such route",
                         json_pack("{ss}", "path", req->path));
        return;
    }
    if (http_guard_auth_or_reply(req, resp) != 0)
        return;
    if (!(req->route->flags & HTTP_RATE_EXEMPT) && http_guard_rate_or_reply(req, resp) != 0)
        return;
    req->route->handler(req, resp);
    if (resp->status < 100 || resp->status > 599) {
        fg_log(FG_LOG_ERROR, "handler_no_response", FG_LF_STR("route", req->route->pattern),
               FG_LF_STR("correlation_id", req->correlation_id), FG_LF_END);
        http_reply_internal(resp);
    }
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn, const char *url,
                                  const char *method, const char *version, const char *upload_data,
                                  size_t *upload_data_size, void **con_cls)
{
    (void)version;
    struct http_server *s = cls;
    struct http_req *req = *con_cls;

    if (!req) {
        req = new_req(s, conn, url, method);
        *con_cls = req;
        atomic_fetch_add(&s->inflight, 1);
        mw_inflight_add(1);
        const char *cl = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "Content-Length");
        if (cl) {
            char *end;
            unsigned long long n = strtoull(cl, &end, 10);
            if (end == cl || *end != '\0' || n > (unsigned long long)s->max_body) {
                /* answer now: MHD closes the connection instead of reading the body */
                req->_too_large = 1;
                struct http_resp resp = {0};
                dispatch(s, req, &resp);
                enum MHD_Result r = send_resp(s, req, &resp);
                free_resp(&resp);
                return r;
            }
        }
        return MHD_YES;
    }
    if (*upload_data_size) {
        if (req->_responded) {
            *upload_data_size = 0;
            return MHD_YES;
        }
        if (!req->_too_large) {
            size_t n = *upload_data_size;
            if (req->body_len + n > (size_t)s->max_body) {
                req->_too_large = 1;
                free(req->body);
                req->body = NULL;
                req->body_len = 0;
            } else {
                req->body = fg_xrealloc(req->body, req->body_len + n + 1);
                memcpy(req->body + req->body_len, upload_data, n);
                req->body_len += n;
                req->body[req->body_len] = '\0';
            }
        }
        *upload_data_size = 0;
        if (fg_mono_s() - req->t_start > s->request_timeout) {
            struct http_resp resp = {0};
            http_reply_error(&resp, 408, "request_timeout",
                             "the request body did not arrive in time", NULL);
            enum MHD_Result r = send_resp(s, req, &resp);
            free_resp(&resp);
            return r;
        }
        return MHD_YES;
    }
    if (req->_responded)
        return MHD_YES;
    struct http_resp resp = {0};
    dispatch(s, req, &resp);
    enum MHD_Result r = send_resp(s, req, &resp);
    free_resp(&resp);
    return r;
}

static void on_completed(void *cls, struct MHD_Connection *conn, void **con_cls,
                         enum MHD_RequestTerminationCode toe)
{
    (void)conn;
    struct http_server *s = cls;
    struct http_req *req = *con_cls;
    if (!req)
        return;
    *con_cls = NULL;
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
    unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_EPOLL | MHD_USE_ITC |
                     MHD_USE_ERROR_LOG | (v6 ? MHD_USE_IPv6 : 0);
    s->d = MHD_start_daemon(
        flags, (uint16_t)c->port, NULL, NULL, on_request, s, MHD_OPTION_SOCK_ADDR,
        (struct sockaddr *)&s->addr, MHD_OPTION_THREAD_POOL_SIZE, (unsigned)c->workers,
        MHD_OPTION_CONNECTION_LIMIT, (unsigned)c->max_connections,
        MHD_OPTION_PER_IP_CONNECTION_LIMIT, (unsigned)c->per_ip_connection_limit,
        MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)c->connection_timeout_s,
        MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)c->max_header_bytes,
        MHD_OPTION_LISTEN_BACKLOG_SIZE, 1024u, MHD_OPTION_NOTIFY_COMPLETED, on_completed, s,
        MHD_OPTION_EXTERNAL_LOGGER, mhd_log, NULL, MHD_OPTION_END);
    if (!s->d) {
        snprintf(err, errlen, "PORT: cannot listen on %s:%lld (in use or not permitted)", c->host,
                 c->port);
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
    MHD_stop_daemon(s->d);
    if (s->quiesced_fd != MHD_INVALID_SOCKET)
        close(s->quiesced_fd);
    free(s);
}
