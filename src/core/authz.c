#include "core/authz.h"

#include <stdio.h>
#include <string.h>

#include <jansson.h>

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
