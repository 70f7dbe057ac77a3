#include "api/authn.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "core/app.h"
#include "core/authz.h"
#include "http/reply.h"
#include "util/config.h"
#include "util/time.h"

const char *api_bearer(struct http_req *req)
{
    const char *h = http_header(req, "Authorization");
    if (!h)
        return NULL;
    while (*h == ' ')
        h++;
    if (strncasecmp(h, "Bearer ", 7) != 0)
        return NULL;
    h += 7;
    while (*h == ' ')
        h++;
    return *h ? h : NULL;
}

int api_request_claims(struct http_req *req, struct fg_jwt_claims *claims)
{
    const char *tok = api_bearer(req);
    const struct fg_config *cfg = req->app->cfg;
    if (!tok)
        return -1;
    return fg_jwt_verify(cfg->jwt_secret, strlen(cfg->jwt_secret), tok, FG_JWT_ACCESS,
                         fg_now_ms() / 1000, claims) == FG_JWT_OK
               ? 0
               : -1;
}

void api_ctx_build(struct http_req *req)
{
    struct fg_ctx *c = &req->ctx;
    memset(c, 0, sizeof *c);
    if (req->principal) {
        c->user_id = req->principal->user_id;
        c->trust = req->principal->trust;
        c->roles = req->principal->roles;
        c->admin = api_is_admin(req->principal);
    }
    c->client_ip = req->client_ip;
    c->correlation_id = req->correlation_id;
    req->ctx_built = 1;
}

const struct fg_ctx *api_ctx(struct http_req *req)
{
    if (!req->ctx_built)
        api_ctx_build(req);
    return &req->ctx;
}

int api_is_admin(const struct http_principal *p)
{
    return p && (p->roles & FG_ROLE_ADMIN);
}

int api_require_or_reply(struct http_req *req, struct http_resp *resp, const char *perm)
{
    if (!req->principal) {
        http_reply_unauthorized(resp, "authentication required");
        return -1;
    }
    if (fg_role_grants(req->principal->roles, perm)) {
        /* quarantined accounts (trust below sandbox, admins included) only read (issue 11) */
        if (req->principal->trust >= FG_TRUST_SANDBOX || strcmp(perm, "capsule:read") == 0 ||
            strcmp(perm, "admin:audit") == 0)
            return 0;
        char qmsg[160];
        snprintf(qmsg, sizeof qmsg, "quarantined accounts cannot use %s (read-only until released)",
                 perm);
        http_reply_forbidden(resp, qmsg,
                             json_pack("{ssss}", "permission", perm, "rule", "quarantine"));
        return -1;
    }
    char msg[160];
    snprintf(msg, sizeof msg, "missing permission %s", perm);
    http_reply_forbidden(resp, msg, json_pack("{ssss}", "permission", perm, "rule", "rbac"));
    return -1;
}

int api_trust_or_reply(struct http_req *req, struct http_resp *resp, int resource_trust,
                       const char *what)
{
    if (!req->principal) {
        http_reply_unauthorized(resp, "authentication required");
        return -1;
    }
    if (req->principal->trust >= resource_trust)
        return 0;
    char msg[200];
    snprintf(msg, sizeof msg, "trust level %s is below the %s's trust level %s",
             fg_trust_name(req->principal->trust), what, fg_trust_name(resource_trust));
    http_reply_forbidden(resp, msg,
                         json_pack("{ssssss}", "rule", "trust", "required",
                                   fg_trust_name(resource_trust), "actual",
                                   fg_trust_name(req->principal->trust)));
    return -1;
}

int api_owner_or_reply(struct http_req *req, struct http_resp *resp, const char *owner_id)
{
    if (!req->principal) {
        http_reply_unauthorized(resp, "authentication required");
        return -1;
    }
    if (api_is_admin(req->principal) ||
        (owner_id && strcmp(owner_id, req->principal->user_id) == 0))
        return 0;
    http_reply_forbidden(resp, "only the owner or an admin may change this resource",
                         json_pack("{ss}", "rule", "owner_or_admin"));
    return -1;
}
