#include "core/authz.h"

#include <stdio.h>
#include <string.h>

#include "http/reply.h"

static const struct {
    const char *name;
    int value;
} trust_levels[] = {
    {"core", FG_TRUST_CORE},
    {"trusted", FG_TRUST_TRUSTED},
    {"standard", FG_TRUST_STANDARD},
    {"sandbox", FG_TRUST_SANDBOX},
    {"quarantine", FG_TRUST_QUARANTINE},
};

int fg_trust_from_name(const char *name)
{
    if (!name)
        return -1;
    for (size_t i = 0; i < sizeof trust_levels / sizeof trust_levels[0]; i++)
        if (strcmp(trust_levels[i].name, name) == 0)
            return trust_levels[i].value;
    return -1;
}

const char *fg_trust_name(int value)
{
    for (size_t i = 0; i < sizeof trust_levels / sizeof trust_levels[0]; i++)
        if (value >= trust_levels[i].value)
            return trust_levels[i].name;
    return "quarantine";
}

static const struct {
    const char *name;
    unsigned bit;
} roles[] = {
    {"user", FG_ROLE_USER},
    {"trusted", FG_ROLE_TRUSTED},
    {"operator", FG_ROLE_OPERATOR},
    {"admin", FG_ROLE_ADMIN},
};

unsigned fg_role_from_name(const char *name)
{
    for (size_t i = 0; name && i < sizeof roles / sizeof roles[0]; i++)
        if (strcmp(roles[i].name, name) == 0)
            return roles[i].bit;
    return 0;
}

json_t *fg_roles_json(unsigned r)
{
    json_t *a = json_array();
    for (size_t i = 0; i < sizeof roles / sizeof roles[0]; i++)
        if (r & roles[i].bit)
            json_array_append_new(a, json_string(roles[i].name));
    return a;
}

int fg_roles_parse(const json_t *arr, unsigned *out, const char **bad)
{
    *out = 0;
    *bad = NULL;
    if (!json_is_array(arr))
        return -1;
    size_t i;
    const json_t *v;
    json_array_foreach(arr, i, v)
    {
        unsigned b = json_is_string(v) ? fg_role_from_name(json_string_value(v)) : 0;
        if (!b) {
            *bad = json_is_string(v) ? json_string_value(v) : "(not a string)";
            return -1;
        }
        *out |= b;
    }
    return 0;
}

/* SPEC §3.2: each role's own grants; roles inherit down the chain user < trusted < operator. */
static const char *const user_perms[] = {"capsule:read",    "capsule:create", "capsule:update",
                                         "governance:vote", "overlay:invoke", NULL};
static const char *const trusted_perms[] = {"capsule:delete", "governance:propose",
                                            "overlay:register", NULL};
static const char *const operator_perms[] = {"governance:execute", "overlay:manage", NULL};
static const char *const all_perms[] = {"capsule:read",       "capsule:create",
                                        "capsule:update",     "capsule:delete",
                                        "governance:propose", "governance:vote",
                                        "governance:execute", "overlay:invoke",
                                        "overlay:register",   "overlay:manage",
                                        "admin:users",        "admin:system",
                                        "admin:audit",        NULL};

static int in_list(const char *const *list, const char *p)
{
    for (; *list; list++)
        if (strcmp(*list, p) == 0)
            return 1;
    return 0;
}

int fg_permission_known(const char *perm)
{
    return perm && in_list(all_perms, perm);
}

int fg_role_grants(unsigned r, const char *perm)
{
    if (!fg_permission_known(perm))
        return 0;
    if (r & FG_ROLE_ADMIN)
        return 1;
    if ((r & (FG_ROLE_USER | FG_ROLE_TRUSTED | FG_ROLE_OPERATOR)) && in_list(user_perms, perm))
        return 1;
    if ((r & (FG_ROLE_TRUSTED | FG_ROLE_OPERATOR)) && in_list(trusted_perms, perm))
        return 1;
    if ((r & FG_ROLE_OPERATOR) && in_list(operator_perms, perm))
        return 1;
    return 0;
}

int fg_is_admin(const struct http_principal *p)
{
    return p && (p->roles & FG_ROLE_ADMIN);
}

int fg_authz_require_or_reply(struct http_req *req, struct http_resp *resp, const char *perm)
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

int fg_authz_trust_or_reply(struct http_req *req, struct http_resp *resp, int resource_trust,
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

int fg_authz_owner_or_reply(struct http_req *req, struct http_resp *resp, const char *owner_id)
{
    if (!req->principal) {
        http_reply_unauthorized(resp, "authentication required");
        return -1;
    }
    if (fg_is_admin(req->principal) || (owner_id && strcmp(owner_id, req->principal->user_id) == 0))
        return 0;
    http_reply_forbidden(resp, "only the owner or an admin may change this resource",
                         json_pack("{ss}", "rule", "owner_or_admin"));
    return -1;
}
