/*
 * Cross-cutting request behaviour: correlation ids, client IP (TRUSTED_PROXIES / X-Forwarded-For),
 * security and CORS headers, CORS preflight, and the request log + metrics on completion.
 */
#ifndef HTTP_MIDDLEWARE_H
#define HTTP_MIDDLEWARE_H

#include "http/http.h"

struct fg_app;

/** Parses CORS_ORIGINS / TRUSTED_PROXIES and registers the http_* metric families. */
void mw_init(struct fg_app *app);
/** Frees what mw_init built. */
void mw_shutdown(void);

/** Sets req->correlation_id: a well-formed incoming X-Correlation-ID (1–64 of [A-Za-z0-9._-]),
 * else a new UUIDv7. */
void mw_correlation_id(struct http_req *req);
/** Sets req->client_ip from the socket, or from X-Forwarded-For when the peer is a trusted proxy.
 * Every X-Forwarded-For line counts (one list, RFC 9110 §5.3); `Forwarded` is not read. */
void mw_client_ip(struct http_req *req);
/**
 * The client address behind trusted proxies: walks the X-Forwarded-For `lines` (in arrival
 * order, each a comma-separated list) from the right and writes the first address that is not in
 * `trusted` into out (the left-most one when every hop is trusted). Elements may be "addr",
 * "v4:port", "[v6]" or "[v6]:port". Returns 1 when found, 0 when there is no element or the walk
 * meets one that is not an address (the caller keeps the peer's address).
 */
int mw_forwarded_client(const char *const *lines, size_t nlines, const char *trusted, char *out,
                        size_t outlen);
/** Adds X-Correlation-ID, security headers and CORS headers to a response. */
void mw_common_headers(struct http_req *req, struct http_resp *resp);
/** Answers an OPTIONS (CORS preflight) request for an existing path. */
void mw_preflight(struct http_req *req, struct http_resp *resp);
/** Logs the request and records metrics. `complete` is 0 when the client went away. */
void mw_observe(struct http_req *req, double seconds, int complete);

/** Counts a connection refused or closed by a transport limit (http_connections_dropped_total,
 * label `reason`: per_ip_limit, header_timeout, header_timeout_pressure, body_timeout). */
void mw_connection_dropped(const char *reason);

/** Adjusts the http_requests_in_flight gauge. */
void mw_inflight_add(long d);

/** 1 if `ip` (text) is in the comma-separated list of addresses / CIDR blocks. */
int mw_ip_in_list(const char *ip, const char *list);

#endif
