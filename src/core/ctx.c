#include "core/ctx.h"

#include <stdio.h>
#include <string.h>

#include "core/authz.h"

void fg_ctx_system(struct fg_ctx *c, const char *name, const char *correlation_id)
{
    memset(c, 0, sizeof *c);
    c->system = name;
    c->trust = FG_TRUST_CORE;
    c->correlation_id = correlation_id;
}

const struct fg_ctx *fg_ctx_job(struct fg_job_ctx *j, const char *name)
{
    char id[FG_UUID_STRLEN + 1];
    memset(j, 0, sizeof *j);
    fg_uuid7(id);
    snprintf(j->job_id, sizeof j->job_id, "job-%s", id);
    fg_ctx_system(&j->ctx, name, j->job_id);
    return &j->ctx;
}

const char *fg_ctx_actor(const struct fg_ctx *c)
{
    if (!c)
        return NULL;
    return c->user_id ? c->user_id : c->system;
}

int fg_ctx_anonymous(const struct fg_ctx *c)
{
    return c && !c->user_id && !c->system;
}
