/*
 * Router: matches a method and a decoded path against the route table. Patterns are split into
 * segments once (http_router_new); `{name}` segments match any non-empty segment and become path
 * parameters. Literal segments win over parameters when both match (first literal match order).
 */
#ifndef HTTP_ROUTER_H
#define HTTP_ROUTER_H

#include <stddef.h>

#include "http/http.h"

#define HTTP_MAX_SEGMENTS 12
#define HTTP_MAX_PATH     2048
#define HTTP_MAX_SEGMENT  256

struct http_router;

/** Builds a router over `tables`, a NULL-terminated array of route tables (each ends with a
 * NULL pattern). Returns NULL (and logs) when a pattern is malformed. */
struct http_router *http_router_new(const struct http_route *const *tables);
void http_router_free(struct http_router *r);

enum http_match { HTTP_MATCH_OK, HTTP_MATCH_NO_PATH, HTTP_MATCH_NO_METHOD };

/** Bit for a method name in `allowed` masks (0 for unknown methods). */
unsigned http_method_bit(const char *method);
/** Writes "GET, POST" for a mask. */
void http_methods_string(unsigned mask, char *out, size_t len);

/**
 * Matches `method path`. On HTTP_MATCH_OK sets *route and fills req->params / param_names (owned
 * by req). On HTTP_MATCH_NO_METHOD, *allowed is the mask of methods the path accepts.
 */
enum http_match http_router_match(const struct http_router *r, const char *method, const char *path,
                                  struct http_req *req, const struct http_route **route,
                                  unsigned *allowed);

/** Iterates the routes in table order (for OpenAPI). Returns NULL past the end. */
const struct http_route *http_router_at(const struct http_router *r, size_t i);

#endif
