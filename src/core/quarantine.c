/* Manual quarantine of users and governance trust changes (quarantine.h). */
#include "core/quarantine.h"

#include <stdio.h>
#include <string.h>

#include "core/app.h"
#include "core/audit.h"
#include "core/authz.h"
#include "core/events.h"
#include "core/immune.h"
#include "core/shared_state.h"
#include "core/ctx.h"
#include "store/governance.h"
#include "store/store.h"
#include "store/users.h"
#include "util/log.h"
#include "util/time.h"
#include "util/uuid.h"

static void set_why(char *why, size_t len, const char *msg)
{
    if (why && len)
        snprintf(why, len, "%s", msg);
}

/* Copies `src` into dst (cap bytes) without cutting a UTF-8 sequence. */
static void copy_utf8(char *dst, size_t cap, const char *src)
{
    size_t n = strlen(src);
    if (n >= cap) {
        n = cap - 1;
        while (n > 0 && ((unsigned char)src[n] & 0xC0) == 0x80)
            n--;
    }
    memcpy(dst, src, n);
    dst[n] = '\0';
}

enum fg_err fg_user_trust_set_in(struct fg_app *app, struct store_conn *c, const struct fg_ctx *ctx,
                                 const char *user_id, int trust, const char *action,
                                 json_t *details, int *from)
{
    struct store_user u;
    enum fg_err e = app->store->users->get_by_id(c, user_id, &u);
    if (e != FG_OK)
        return e;
    if (from)
        *from = u.trust;
    if (u.trust != trust &&
        (e = app->store->users->set_trust(c, user_id, trust, fg_now_ms())) != FG_OK)
        return e;
    struct fg_audit_entry a = {0};
    if (ctx)
        fg_audit_from_ctx(&a, ctx);
    a.action = action;
    a.resource_type = "user";
    a.resource_id = user_id;
    a.outcome = "success";
    json_t *d = details ? json_deep_copy(details) : json_object();
    json_object_set_new(d, "from", json_string(fg_trust_name(u.trust)));
    json_object_set_new(d, "to", json_string(fg_trust_name(trust)));
    a.details = d;
    e = fg_audit_record(app, c, &a);
    json_decref(d);
    if (e == FG_OK && u.trust != trust) {
        json_t *payload = json_pack("{ssssss}", "user_id", user_id, "from", fg_trust_name(u.trust),
                                    "to", fg_trust_name(trust));
        if (details)
            json_object_update_missing(payload, details);
        e = fg_event_emit(app, c, "user.trust_changed", user_id, payload);
        json_decref(payload);
    }
    return e;
}

static enum fg_err record_response(struct fg_app *app, struct store_conn *c,
                                   const struct fg_ctx *ctx, const char *user_id,
                                   const char *action, const char *level, const char *reason,
                                   json_t *source, int from, int to,
                                   struct fg_quarantine_result *out)
{
    struct store_immune_response *r = &out->response;
    memset(r, 0, sizeof *r);
    snprintf(r->threat_type, sizeof r->threat_type, "manual");
    snprintf(r->level, sizeof r->level, "%s", level);
    snprintf(r->target_type, sizeof r->target_type, "user");
    snprintf(r->target_id, sizeof r->target_id, "%s", user_id);
    snprintf(r->action, sizeof r->action, "%s", action);
    copy_utf8(r->reason, sizeof r->reason, reason);
    json_t *d = json_pack("{ssssssss}", "reason", reason, "previous_trust", fg_trust_name(from),
                          "trust", fg_trust_name(to), "source", source ? "governance" : "admin");
    if (source)
        json_object_update(d, source);
    char *text = json_dumps(d, JSON_COMPACT | JSON_SORT_KEYS);
    json_decref(d);
    r->details = text;
    enum fg_err e = fg_immune_record(app, c, ctx, r);
    r->details = NULL;
    free(text);
    if (e == FG_OK) {
        snprintf(out->user_id, sizeof out->user_id, "%s", user_id);
        snprintf(out->response_id, sizeof out->response_id, "%s", r->id);
        out->previous_trust = from;
        out->trust = to;
    }
    return e;
}

enum fg_err fg_quarantine_user_in(struct fg_app *app, struct store_conn *c,
                                  const struct fg_ctx *ctx, const char *user_id, const char *level,
                                  const char *reason, json_t *source,
                                  struct fg_quarantine_result *out, char *why, size_t whylen)
{
    const struct store_governance_ops *g = app->store->governance;
    memset(out, 0, sizeof *out);
    if (ctx && ctx->user_id && strcmp(ctx->user_id, user_id) == 0) {
        set_why(why, whylen, "you cannot quarantine yourself");
        return FG_EINVAL;
    }
    struct store_user u;
    enum fg_err e = app->store->users->get_by_id(c, user_id, &u);
    if (e == FG_ENOTFOUND)
        set_why(why, whylen, "user not found");
    if (e != FG_OK)
        return e;
    if (u.trust == FG_TRUST_QUARANTINE) {
        set_why(why, whylen, "the user is already quarantined");
        return FG_ECONFLICT;
    }
    /* an open record whose user is no longer quarantined (trust changed elsewhere) is stale */
    struct store_quarantine q;
    e = g->quarantine_get_open(c, "user", user_id, &q);
    if (e == FG_OK)
        e = g->quarantine_release(c, q.id, NULL, fg_now_ms());
    else if (e == FG_ENOTFOUND)
        e = FG_OK;
    if (e != FG_OK)
        return e;

    json_t *d = json_pack("{ss}", "reason", reason);
    if (source)
        json_object_update(d, source);
    int from = 0;
    e = fg_user_trust_set_in(app, c, ctx, user_id, FG_TRUST_QUARANTINE, "immune.quarantine", d,
                             &from);
    json_decref(d);
    if (e == FG_OK)
        e = record_response(app, c, ctx, user_id, "quarantine_user", level, reason, source, from,
                            FG_TRUST_QUARANTINE, out);
    if (e == FG_OK) {
        memset(&q, 0, sizeof q);
        snprintf(q.id, sizeof q.id, "%s", out->response_id);
        snprintf(q.target_type, sizeof q.target_type, "user");
        snprintf(q.target_id, sizeof q.target_id, "%s", user_id);
        q.previous_trust = from;
        q.reason = reason;
        q.created_at = out->response.created_at;
        e = g->quarantine_open(c, &q);
    }
    return e;
}

enum fg_err fg_quarantine_release_in(struct fg_app *app, struct store_conn *c,
                                     const struct fg_ctx *ctx, const char *user_id,
                                     const char *reason, json_t *source,
                                     struct fg_quarantine_result *out, char *why, size_t whylen)
{
    const struct store_governance_ops *g = app->store->governance;
    memset(out, 0, sizeof *out);
    struct store_user u;
    enum fg_err e = app->store->users->get_by_id(c, user_id, &u);
    if (e == FG_ENOTFOUND)
        set_why(why, whylen, "user not found");
    if (e != FG_OK)
        return e;
    if (u.trust != FG_TRUST_QUARANTINE) {
        set_why(why, whylen, "the user is not quarantined");
        return FG_ECONFLICT;
    }
    struct store_quarantine q;
    e = g->quarantine_get_open(c, "user", user_id, &q);
    if (e == FG_ENOTFOUND) {
        set_why(why, whylen,
                "no quarantine record holds the user's previous trust (the trust was set "
                "directly): set it with PUT /api/v1/admin/users/{id}/trust");
        return FG_ECONFLICT;
    }
    if (e != FG_OK)
        return e;
    json_t *d = json_pack("{ssss}", "reason", reason, "quarantine_id", q.id);
    if (source)
        json_object_update(d, source);
    e = fg_user_trust_set_in(app, c, ctx, user_id, q.previous_trust, "immune.release", d, NULL);
    json_decref(d);
    if (e == FG_OK)
        e = record_response(app, c, ctx, user_id, "release_user", "low", reason, source,
                            FG_TRUST_QUARANTINE, q.previous_trust, out);
    if (e == FG_OK)
        e = g->quarantine_release(c, q.id, out->response_id, out->response.created_at);
    return e;
}

void fg_quarantine_forget_user(struct fg_app *app, const char *user_id)
{
    if (!app->shared)
        return;
    char key[64];
    snprintf(key, sizeof key, "usr:%s", user_id);
    if (fg_ss_del(app->shared, key) != FG_OK)
        fg_log(FG_LOG_WARN, "user_cache_forget_failed", FG_LF_STR("user_id", user_id), FG_LF_END);
}

static enum fg_err in_tx(struct fg_app *app, const struct fg_ctx *ctx, const char *user_id,
                         const char *level, const char *reason, struct fg_quarantine_result *out,
                         char *why, size_t whylen, int release)
{
    enum fg_err e = FG_OK;
    if (!app->store || !app->store->governance || !app->store->users) {
        set_why(why, whylen, "quarantine is not available on this store");
        return FG_EUNAVAIL;
    }
    struct store_conn *c = store_acquire(app->store, &e);
    if (!c)
        return e;
    if ((e = store_begin(app->store, c)) != FG_OK) {
        store_release(app->store, c);
        return e;
    }
    if (release)
        e = fg_quarantine_release_in(app, c, ctx, user_id, reason, NULL, out, why, whylen);
    else
        e = fg_quarantine_user_in(app, c, ctx, user_id, level, reason, NULL, out, why, whylen);
    if (e == FG_OK)
        e = store_commit(app->store, c);
    else
        store_rollback(app->store, c);
    store_release(app->store, c);
    if (e == FG_OK)
        fg_quarantine_forget_user(app, user_id);
    return e;
}

enum fg_err fg_quarantine_user(struct fg_app *app, const struct fg_ctx *ctx, const char *user_id,
                               const char *level, const char *reason,
                               struct fg_quarantine_result *out, char *why, size_t whylen)
{
    return in_tx(app, ctx, user_id, level, reason, out, why, whylen, 0);
}

enum fg_err fg_quarantine_release(struct fg_app *app, const struct fg_ctx *ctx, const char *user_id,
                                  const char *reason, struct fg_quarantine_result *out, char *why,
                                  size_t whylen)
{
    return in_tx(app, ctx, user_id, "low", reason, out, why, whylen, 1);
}

json_t *fg_quarantine_result_json(const struct fg_quarantine_result *r)
{
    return json_pack("{ssssssso}", "user_id", r->user_id, "trust_level", fg_trust_name(r->trust),
                     "previous_trust_level", fg_trust_name(r->previous_trust), "response",
                     fg_immune_response_json(&r->response));
}
