/* Immune system: responses and IP blocks (immune.h). */
#include "core/immune.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/app.h"
#include "core/audit.h"
#include "core/events.h"
#include "core/metrics.h"
#include "core/shared_state.h"
#include "core/ctx.h"
#include "store/store.h"
#include "util/config.h"
#include "util/log.h"
#include "util/time.h"
#include "util/uuid.h"

static enum fg_err record_in(struct fg_app *app, struct store_conn *c, const struct fg_ctx *ctx,
                             const struct store_immune_response *r)
{
    enum fg_err e = app->store->immune->record(c, r);
    if (e != FG_OK)
        return e;
    struct fg_audit_entry a = {0};
    if (ctx)
        fg_audit_from_ctx(&a, ctx);
    a.action = "immune.response";
    a.resource_type = r->target_type;
    a.resource_id = r->target_id;
    a.outcome = "success";
    json_t *ad = json_pack("{ssssssss}", "response_id", r->id, "threat_type", r->threat_type,
                           "action", r->action, "level", r->level);
    a.details = ad;
    e = fg_audit_record(app, c, &a);
    json_decref(ad);
    if (e == FG_OK) {
        json_t *payload = fg_immune_response_json(r);
        e = fg_event_emit(app, c, "system.immune_response", r->id, payload);
        json_decref(payload);
    }
    return e;
}

enum fg_err fg_immune_record(struct fg_app *app, struct store_conn *c, const struct fg_ctx *ctx,
                             struct store_immune_response *r)
{
    if (!r->id[0])
        fg_uuid7(r->id);
    if (!r->created_at)
        r->created_at = fg_now_ms();
    enum fg_err e = FG_OK;
    if (c) {
        e = record_in(app, c, ctx, r);
    } else {
        c = store_acquire(app->store, &e);
        if (!c)
            return e;
        if ((e = store_begin(app->store, c)) == FG_OK) {
            e = record_in(app, c, ctx, r);
            if (e == FG_OK)
                e = store_commit(app->store, c);
            else
                store_rollback(app->store, c);
        }
        store_release(app->store, c);
    }
    if (e == FG_OK) {
        if (fgm.immune_responses) {
            const char *v[] = {r->threat_type};
            fg_metric_add(fgm.immune_responses, v, 1);
        }
        fg_log(FG_LOG_WARN, "immune_response", FG_LF_STR("threat_type", r->threat_type),
               FG_LF_STR("action", r->action), FG_LF_STR("level", r->level),
               FG_LF_STR("target_type", r->target_type), FG_LF_STR("response_id", r->id),
               FG_LF_END);
    }
    return e;
}

int fg_immune_ip_blocked(struct fg_app *app, const char *ip, int64_t *until_ms)
{
    if (!app->shared || !ip)
        return 0;
    char key[96], val[32];
    int found = 0;
    int64_t ttl = 0;
    snprintf(key, sizeof key, "ipb:%s", ip);
    if (fg_ss_get(app->shared, key, val, sizeof val, &found, &ttl) != FG_OK)
        return -1;
    if (!found)
        return 0;
    char *end;
    long long v = strtoll(val, &end, 10);
    *until_ms = (*end || v <= 0) ? fg_now_ms() + ttl : v;
    return 1;
}

static void fmt_window(long long s, char *out, size_t len)
{
    if (s >= 60 && s % 60 == 0)
        snprintf(out, len, "%lld minute%s", s / 60, s == 60 ? "" : "s");
    else
        snprintf(out, len, "%lld second%s", s, s == 1 ? "" : "s");
}

void fg_immune_login_failure(struct fg_app *app, const struct fg_ctx *ctx)
{
    const struct fg_config *cfg = app->cfg;
    if (!app->shared || !ctx || !ctx->client_ip || !ctx->client_ip[0])
        return;
    char key[96];
    int64_t n = 0;
    snprintf(key, sizeof key, "ipf:%s", ctx->client_ip);
    if (fg_ss_incr(app->shared, key, cfg->ip_failure_window_s * 1000, &n, NULL) != FG_OK ||
        n < cfg->ip_max_failures)
        return;
    int64_t now = fg_now_ms();
    int64_t block_ms = cfg->ip_block_s * 1000;
    char bkey[96], val[32];
    int stored = 0;
    snprintf(bkey, sizeof bkey, "ipb:%s", ctx->client_ip);
    snprintf(val, sizeof val, "%" PRId64, now + block_ms);
    if (fg_ss_set(app->shared, bkey, val, block_ms, 1, &stored) != FG_OK || !stored)
        return; /* already blocked by a concurrent request */
    fg_ss_del(app->shared, key);

    struct store_immune_response r;
    memset(&r, 0, sizeof r);
    char window[32], details[160];
    fmt_window(cfg->ip_failure_window_s, window, sizeof window);
    snprintf(r.threat_type, sizeof r.threat_type, "brute_force");
    snprintf(r.level, sizeof r.level, "high");
    snprintf(r.target_type, sizeof r.target_type, "ip");
    snprintf(r.target_id, sizeof r.target_id, "%s", ctx->client_ip);
    snprintf(r.action, sizeof r.action, "block_ip");
    snprintf(r.reason, sizeof r.reason, "%lld failed logins within %s", (long long)n, window);
    snprintf(details, sizeof details, "{\"failures\":%lld,\"window_s\":%lld,\"block_s\":%lld}",
             (long long)n, cfg->ip_failure_window_s, cfg->ip_block_s);
    r.details = details;
    r.created_at = now;
    r.expires_at = now + block_ms;
    if (fg_immune_record(app, NULL, ctx, &r) != FG_OK)
        fg_log(FG_LOG_ERROR, "immune_record_failed", FG_LF_STR("action", "block_ip"), FG_LF_END);
}

static void reload_block(void *ctx, const struct store_immune_response *r)
{
    struct fg_app *app = ctx;
    int64_t left = r->expires_at - fg_now_ms();
    if (left <= 0 || strcmp(r->target_type, "ip") != 0)
        return;
    char key[160], val[32];
    snprintf(key, sizeof key, "ipb:%s", r->target_id);
    snprintf(val, sizeof val, "%" PRId64, r->expires_at);
    fg_ss_set(app->shared, key, val, left, 0, NULL);
}

enum fg_err fg_immune_start(struct fg_app *app)
{
    enum fg_err e = FG_OK;
    struct store_conn *c = store_acquire(app->store, &e);
    if (!c)
        return e;
    e = app->store->immune->active(c, "block_ip", fg_now_ms(), reload_block, app);
    store_release(app->store, c);
    return e;
}

json_t *fg_immune_response_json(const struct store_immune_response *r)
{
    char created[40], expires[40];
    fg_time_iso(r->created_at, created, sizeof created);
    if (r->expires_at)
        fg_time_iso(r->expires_at, expires, sizeof expires);
    json_t *o = json_object();
    json_object_set_new(o, "id", json_string(r->id));
    json_object_set_new(o, "threat_type", json_string(r->threat_type));
    json_object_set_new(o, "level", json_string(r->level));
    json_object_set_new(o, "target_type", json_string(r->target_type));
    json_object_set_new(o, "target_id", json_string(r->target_id));
    json_object_set_new(o, "action", json_string(r->action));
    json_object_set_new(o, "reason", json_string(r->reason));
    json_t *d = r->details ? json_loads(r->details, 0, NULL) : NULL;
    json_object_set_new(o, "details", d ? d : json_object());
    json_object_set_new(o, "created_at", json_string(created));
    json_object_set_new(o, "expires_at", r->expires_at ? json_string(expires) : json_null());
    return o;
}
