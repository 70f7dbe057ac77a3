/*
 * HTTP request/response model shared by the server, the middleware and the API handlers.
 *
 * Lifecycle of one request (server.c): the request line and headers arrive → a `struct http_req`
 * is created, the route is matched, the body is read up to the cap → middleware runs (IP block,
 * authentication, rate limit; guard.h) → the route's handler fills `struct http_resp` → the
 * response is sent with the common headers (correlation id, security, CORS) → on completion the
 * request is logged, counted in metrics and freed.
 *
 * Ownership: everything hanging off `http_req` belongs to the request and is freed with it.
 * Handlers give JSON to the response with the `_steal`-less helpers of reply.h, which consume
 * the reference (jansson's `_new` convention).
 */
#ifndef HTTP_HTTP_H
#define HTTP_HTTP_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "core/ctx.h"

struct MHD_Connection;
struct fg_app;
struct http_req;
struct http_resp;

#define HTTP_MAX_PARAMS         4
#define HTTP_MAX_RESP_HEADERS   32
#define HTTP_CORRELATION_ID_MAX 64

typedef void (*http_handler_fn)(struct http_req *req, struct http_resp *resp);

/* Route flags */
#define HTTP_AUTH_REQUIRED 0x01u /* 401 without a valid access token */
#define HTTP_AUTH_OPTIONAL 0x02u /* token parsed when present (invalid → 401) */
#define HTTP_RATE_EXEMPT   0x04u /* no rate limit (health, metrics) */
#define HTTP_NOT_IN_PROD   0x08u /* 404 when ENVIRONMENT=production (/docs) */
#define HTTP_NO_BLOCK      0x10u /* liveness: answered even for blocked IPs */
#define HTTP_OFFLOAD       0x20u /* handler computes Argon2: runs on the bounded pool (offload.h) */
#define HTTP_LONG          0x40u /* long job (erasure, audit verify, retention): its own pool */

/** One entry of the declarative route table (api/routes.c). Also the source of /openapi.json. */
struct http_route {
    const char *method;  /* "GET", "POST", "PUT", "PATCH", "DELETE" */
    const char *pattern; /* "/api/v1/capsules/{id}"; NULL terminates a table */
    http_handler_fn handler;
    unsigned flags;
    const char *summary;
    const char *tag;
    const char *permission;      /* documentation: the permission the handler checks, or NULL */
    int success_status;          /* 200, 201, 204 (OpenAPI) */
    const char *request_schema;  /* JSON Schema (text) of the body, or NULL */
    const char *response_schema; /* JSON Schema (text) of `data`, or NULL */
    const char *query_params;    /* comma-separated names of query parameters, or NULL */
};

/** The authenticated caller, filled by the authentication guard. */
struct http_principal {
    char user_id[37];
    char email[321];
    int trust;      /* trust value 0..100 */
    unsigned roles; /* bit set, see core/authz.h */
    char jti[65];
};

struct http_req {
    struct fg_app *app;
    struct MHD_Connection *conn;
    const struct http_route *route; /* NULL when no route matched */
    char *method;
    char *path; /* decoded path, no query string */
    char *params[HTTP_MAX_PARAMS];
    const char *param_names[HTTP_MAX_PARAMS]; /* borrowed from the router */
    size_t nparams;
    char *body;
    size_t body_len;
    json_t *json; /* parsed body (http_json_body_or_reply) */
    char correlation_id[HTTP_CORRELATION_ID_MAX + 1];
    char client_ip[64];
    struct http_principal *principal; /* NULL when anonymous */
    struct http_principal principal_storage;
    struct fg_ctx ctx; /* the call context of core (api/authn.h: api_ctx) */
    int ctx_built;
    double t_start;
    /* server-private state */
    int _too_large;
    int _responded;
    int _draining;
    int _status;
    unsigned _allowed_methods;   /* for 405 */
    struct http_resp *_job_resp; /* HTTP_OFFLOAD: the pool's answer, set before the resume */
    int _job_done;               /* atomic: the pool job has finished */
    int _early;                  /* an error was written straight to the socket (413/408) */
    double _early_t;
};

struct http_resp {
    int status;
    json_t *json; /* JSON body (owned), or NULL */
    char *body;   /* raw body (owned, malloc'd), or NULL */
    size_t body_len;
    const char *content_type;
    char *headers[HTTP_MAX_RESP_HEADERS][2]; /* owned copies */
    size_t nheaders;
    /* streamed body (chunked): when set, the server pulls the body from `stream` (> 0 bytes,
     * 0 at the end, -1 on error: the connection is closed) and calls stream_free(ctx) once */
    long (*stream)(void *ctx, char *buf, size_t max);
    void (*stream_free)(void *ctx);
    void *stream_ctx;
};

/** Value of a request header (case-insensitive name), or NULL. Borrowed for the request. */
const char *http_header(struct http_req *req, const char *name);
/** Value of a query parameter, or NULL. Borrowed for the request. */
const char *http_query(struct http_req *req, const char *name);
/** Value of a path parameter by name ("id"), or NULL. */
const char *http_param(struct http_req *req, const char *name);

#endif
