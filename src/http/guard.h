/*
 * Request guards run by the server before a route's handler, in this order:
 *   1. http_guard_ip_or_reply    – blocked client IPs get 403 (immune system, SPEC §7.2)
 *   2. http_guard_auth_or_reply  – bearer token → req->principal; 401 when required and
 * absent/invalid
 *   3. http_guard_rate_or_reply  – per-user / per-IP rate limit with X-RateLimit-* headers (SPEC
 * §3.6) Each returns 0 to continue, or -1 after writing the error response. They are implemented by
 * the identity subsystem (src/api/guards.c).
 */
#ifndef HTTP_GUARD_H
#define HTTP_GUARD_H

#include "http/http.h"

int http_guard_ip_or_reply(struct http_req *req, struct http_resp *resp);
int http_guard_auth_or_reply(struct http_req *req, struct http_resp *resp);
int http_guard_rate_or_reply(struct http_req *req, struct http_resp *resp);

#endif
