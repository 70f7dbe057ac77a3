/*
 * Authorization (SPEC §3.1–3.2): trust levels, roles, permissions and the attribute rules. Pure
 * logic, no I/O. Every handler checks through here so the rules live in one place.
 */
#ifndef CORE_AUTHZ_H
#define CORE_AUTHZ_H

#include <stddef.h>

#include <jansson.h>

/* Trust levels: values and names. */
#define FG_TRUST_CORE       100
#define FG_TRUST_TRUSTED    80
#define FG_TRUST_STANDARD   60
#define FG_TRUST_SANDBOX    40
#define FG_TRUST_QUARANTINE 0

/** Trust value for a name ("core", ...) or -1. */
int fg_trust_from_name(const char *name);
/** Name for a value (exact levels only; other values map to the highest level ≤ value). */
const char *fg_trust_name(int value);

/* Roles (bit set in fg_ctx.roles). Unknown roles grant nothing. */
#define FG_ROLE_USER     0x1u
#define FG_ROLE_TRUSTED  0x2u
#define FG_ROLE_OPERATOR 0x4u
#define FG_ROLE_ADMIN    0x8u

/** Role bit for a name ("user", "trusted", "operator", "admin"), 0 if unknown. */
unsigned fg_role_from_name(const char *name);
/** Writes role names of a mask as a JSON array (new reference). */
json_t *fg_roles_json(unsigned roles);
/** Parses a JSON array of role names; unknown names → -1 and *bad = the offending name. */
int fg_roles_parse(const json_t *arr, unsigned *roles, const char **bad);

/** 1 if any of `roles` grants `perm` ("capsule:read", ...). */
int fg_role_grants(unsigned roles, const char *perm);
/** 1 if `perm` is a known permission name. */
int fg_permission_known(const char *perm);

#endif
