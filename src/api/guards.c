/*
 * Request guards (http/guard.h). Placeholder until the identity subsystem lands: no IP blocks,
 * no rate limits, and routes that require authentication answer 401.
 */
#include "http/guard.h"
#include "http/reply.h"

int http_guard_ip_or_reply(struct http_req *req, struct http_resp *resp)
{
    (void)req;
    (void)resp;
    return 0;
}

int http_guard_auth_or_reply(struct http_req *req, struct http_resp *resp)
{
    if (req->route->flags & HTTP_AUTH_REQUIRED) {
        http_reply_unauthorized(resp, "authentication required");
        return -1;
    }
    return 0;
}

int http_guard_rate_or_reply(struct http_req *req, struct http_resp *resp)
{
    (void)req;
    (void)resp;
    return 0;
}
