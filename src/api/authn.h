/*
 * The request side of authentication and authorization (issue 12): the bearer token of a request,
 * the call context (core/ctx.h) built once per request by the auth guard (api/guards.c), and the
 * permission / trust / owner checks that write the 401/403 reply on failure. The rules themselves
 * live in core/authz.h and core/identity.h; core never sees a request.
 */
#ifndef API_AUTHN_H
#define API_AUTHN_H

#include "core/ctx.h"
#include "core/jwt.h"
#include "http/http.h"

/** The token of an "Authorization: Bearer <token>" header (scheme case-insensitive), or NULL. */
const char *api_bearer(struct http_req *req);
/** The verified claims of the request's bearer token (handlers needing `sid`). -1 if none. */
int api_request_claims(struct http_req *req, struct fg_jwt_claims *claims);

/** (Re)builds req->ctx from the principal, client IP and correlation id of the request. The auth
 * guard calls it once the principal is known. */
void api_ctx_build(struct http_req *req);
/** The call context of the request (built on first use when no guard built it). Borrowed from
 * `req`. */
const struct fg_ctx *api_ctx(struct http_req *req);

/** 1 if the principal is an admin. */
int api_is_admin(const struct http_principal *p);

/**
 * Checks that the caller holds `perm`; on failure writes 401 (anonymous) or 403
 * authorization_error naming the permission and returns -1.
 */
int api_require_or_reply(struct http_req *req, struct http_resp *resp, const char *perm);
/** Trust rule: caller trust ≥ resource trust. Writes 403 naming the rule on failure. */
int api_trust_or_reply(struct http_req *req, struct http_resp *resp, int resource_trust,
                       const char *what);
/** Owner-or-admin rule for update/delete. Writes 403 on failure. */
int api_owner_or_reply(struct http_req *req, struct http_resp *resp, const char *owner_id);

#endif
