/*
 * The call context (issue 12): every core entry point that acts on behalf of someone takes a
 * `const struct fg_ctx *` saying who acts (a user with its trust and roles, or the system under
 * a name such as "system:governance", "system:retention" or "cli"), from where (client IP) and
 * under which correlation id (the HTTP request id, or a job id for background work). Audit
 * entries take their actor, client IP and correlation id from it.
 *
 * The API (src/api/authn.c) builds one per request in its guard; background jobs and the CLI build
 * theirs with fg_ctx_system / fg_ctx_job. No HTTP types here: core never includes http/ or api/.
 * Strings are borrowed for the call.
 */
#ifndef CORE_CTX_H
#define CORE_CTX_H

#include "util/uuid.h"

struct fg_ctx {
    const char *user_id;        /* the acting user, or NULL (the system or anonymous) */
    int trust;                  /* trust value 0..100 of the user */
    unsigned roles;             /* role bits (core/authz.h) of the user */
    int admin;                  /* role admin */
    const char *system;         /* NULL, or who acts when no user does: "system:governance", ... */
    const char *client_ip;      /* may be NULL */
    const char *correlation_id; /* request id, or job id; may be NULL */
};

/* Who acts in `forge admin ...` commands run on the server's host. */
#define FG_CLI_ACTOR "cli"

/** A context with storage for a generated job id (background jobs, CLI commands). */
struct fg_job_ctx {
    struct fg_ctx ctx;
    char job_id[FG_UUID_STRLEN + 5]; /* "job-<uuid v7>" */
};

/** `c` = the system acting as `name` ("system:governance", "cli", ...) under `correlation_id`
 * (may be NULL). Trust core, no roles (system work does not go through role checks). */
void fg_ctx_system(struct fg_ctx *c, const char *name, const char *correlation_id);

/** `j->ctx` = the system acting as `name` under a new job id "job-<uuid>". Returns &j->ctx. */
const struct fg_ctx *fg_ctx_job(struct fg_job_ctx *j, const char *name);

/** The actor recorded in audit entries: the user id, else the system name, else NULL
 * (anonymous, or `c` NULL). */
const char *fg_ctx_actor(const struct fg_ctx *c);

/** 1 when nobody is identified: `c` has neither a user nor a system name (anonymous requests). */
int fg_ctx_anonymous(const struct fg_ctx *c);

#endif
