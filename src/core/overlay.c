/* Overlays: registry rules, invocation, stats, self-quarantine, validation hooks (overlay.h). */
#include "core/overlay.h"

#include <ctype.h>
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "core/app.h"
#include "core/audit.h"
#include "core/authz.h"
#include "core/capsule.h"
#include "core/events.h"
#include "core/immune.h"
#include "core/metrics.h"
#include "core/search.h"
#include "store/capsules.h"
#include "store/store.h"
#include "util/config.h"
#include "util/log.h"
#include "util/mem.h"
#include "util/time.h"
#include "util/uuid.h"

#define SANDBOX_AS_MB 1024 /* RLIMIT_AS of a worker: the largest max_memory_mb (512) + room */

/* Stats of validation-hook invocations are not written on the capsule write path (one more
 * durable commit per create): they are queued and written by a flusher thread, in one transaction
 * per batch, every FG_OVERLAY_STATS_FLUSH_MS, and before this process reads overlay stats. */
#define FG_OVERLAY_STATS_FLUSH_MS 100
#define FG_OVERLAY_STATS_QUEUE    4096 /* a full queue is flushed by the caller */

struct ov_pending {
    char id[37];
    char name[FG_OVERLAY_NAME_MAX + 1];
    int failed;
    double ms;
    int64_t at;
    char error[LUA_SB_MAX_ERROR + 40];
};

struct fg_overlays {
    struct lua_sb_pool *pool;
    struct fg_overlay_hooks *hooks;
    /* deferred stats (validation hooks) */
    pthread_mutex_t qmu;   /* guards q, qn, stop */
    pthread_cond_t qcond;  /* signalled on a full queue and at stop */
    pthread_mutex_t flush; /* one flush at a time */
    struct ov_pending *q;
    size_t qn;
    int stop;
    pthread_t flusher;
    int flusher_started;
    /* the active validators, cached for the capsule write path (fg_overlay_validate) */
    pthread_mutex_t vmu;      /* guards vset, dirty_until */
    struct ov_vset *vset;     /* NULL: read the store at the next call */
    int64_t vset_dirty_until; /* a status change of this process: no caching before this */
};

/* Validation hooks run on every capsule create and update. Reading the active set from the store
 * each time cost a pool connection (2.3 ms per create under load, waiting for one), so the set
 * of active overlays that validate something is cached for FG_OVERLAY_VSET_TTL_MS, shared by
 * reference. A status change made by this process (transition_in) drops the cache and disables
 * caching for FG_OVERLAY_VSET_DIRTY_MS, longer than the transaction that made it can stay open,
 * so a reader never caches the state from before that commit. A change made by another replica
 * is seen within the TTL (docs/overlays.md). */
#define FG_OVERLAY_VSET_TTL_MS   1000
#define FG_OVERLAY_VSET_DIRTY_MS 10000

#define VOP_CREATE 1
#define VOP_UPDATE 2

struct ov_validator {
    struct store_overlay ov;
    int ops;         /* VOP_* */
    int open_policy; /* failure_policy "open" */
};

struct ov_vset {
    atomic_int refs;
    int64_t loaded_ms;
    size_t n, cap;
    struct ov_validator *v;
};

static void stats_flush(struct fg_app *app);

static void vset_put(struct ov_vset *s)
{
    if (!s || atomic_fetch_sub(&s->refs, 1) != 1)
        return;
    for (size_t i = 0; i < s->n; i++)
        store_overlay_clear(&s->v[i].ov);
    free(s->v);
    free(s);
}

/* A status change of this process: drop the cached validators, cache nothing for a while. */
static void vset_invalidate(struct fg_app *app)
{
    struct fg_overlays *o = app->overlays;
    if (!o)
        return;
    pthread_mutex_lock(&o->vmu);
    o->vset_dirty_until = fg_now_ms() + FG_OVERLAY_VSET_DIRTY_MS;
    struct ov_vset *old = o->vset;
    o->vset = NULL;
    pthread_mutex_unlock(&o->vmu);
    vset_put(old);
}

static void *flusher_main(void *arg)
{
    struct fg_app *app = arg;
    struct fg_overlays *o = app->overlays;
    pthread_mutex_lock(&o->qmu);
    while (!o->stop) {
        if (o->qn == 0) {
            struct timespec ts;
            clock_gettime(CLOCK_REALTIME, &ts);
            ts.tv_nsec += (long)FG_OVERLAY_STATS_FLUSH_MS * 1000000L;
            ts.tv_sec += ts.tv_nsec / 1000000000L;
            ts.tv_nsec %= 1000000000L;
            int rc = pthread_cond_timedwait(&o->qcond, &o->qmu, &ts);
            if (rc != 0 && rc != ETIMEDOUT)
                break;
            continue;
        }
        pthread_mutex_unlock(&o->qmu);
        stats_flush(app);
        /* batch what arrives in the next interval */
        struct timespec nap = {0, (long)FG_OVERLAY_STATS_FLUSH_MS * 1000000L};
        nanosleep(&nap, NULL);
        pthread_mutex_lock(&o->qmu);
    }
    pthread_mutex_unlock(&o->qmu);
    return NULL;
}

int fg_overlay_start(struct fg_app *app, char *err, size_t errlen)
{
    struct fg_overlays *o = fg_xcalloc(1, sizeof *o);
    int n = app->cfg ? (int)app->cfg->overlay_workers : 2;
    o->pool = lua_sb_pool_new(n < 1 ? 1 : n, SANDBOX_AS_MB);
    if (!o->pool) {
        snprintf(err, errlen, "OVERLAY_WORKERS: cannot create the sandbox pool");
        free(o);
        return -1;
    }
    pthread_mutex_init(&o->qmu, NULL);
    pthread_cond_init(&o->qcond, NULL);
    pthread_mutex_init(&o->flush, NULL);
    pthread_mutex_init(&o->vmu, NULL);
    o->q = fg_xcalloc(FG_OVERLAY_STATS_QUEUE, sizeof *o->q);
    app->overlays = o;
    o->flusher_started = pthread_create(&o->flusher, NULL, flusher_main, app) == 0;
    o->hooks = fg_overlay_hooks_start(app);
    return 0;
}

void fg_overlay_stop(struct fg_app *app)
{
    struct fg_overlays *o = app ? app->overlays : NULL;
    if (!o)
        return;
    fg_overlay_hooks_stop(o->hooks);
    if (o->flusher_started) {
        pthread_mutex_lock(&o->qmu);
        o->stop = 1;
        pthread_cond_signal(&o->qcond);
        pthread_mutex_unlock(&o->qmu);
        pthread_join(o->flusher, NULL);
    }
    stats_flush(app); /* what the validators of the last moments counted */
    lua_sb_pool_free(o->pool);
    pthread_mutex_destroy(&o->qmu);
    pthread_cond_destroy(&o->qcond);
    pthread_mutex_destroy(&o->flush);
    vset_put(o->vset);
    pthread_mutex_destroy(&o->vmu);
    free(o->q);
    free(o);
    app->overlays = NULL;
}

/* ---- manifest ---- */
static int name_ok(const char *s)
{
    if (!*s)
        return 0;
    for (; *s; s++)
        if (!(islower((unsigned char)*s) || isdigit((unsigned char)*s) || *s == '-'))
            return 0;
    return 1;
}

static int semver_ok(const char *s)
{
    for (int part = 0; part < 3; part++) {
        if (!isdigit((unsigned char)*s))
            return 0;
        if (*s == '0' && isdigit((unsigned char)s[1]))
            return 0;
        while (isdigit((unsigned char)*s))
            s++;
        if (part < 2 && *s++ != '.')
            return 0;
    }
    return *s == 0;
}

static int ident_ok(const char *s)
{
    if (!*s || strlen(s) > 64 || !(isalpha((unsigned char)*s) || *s == '_'))
        return 0;
    for (; *s; s++)
        if (!(isalnum((unsigned char)*s) || *s == '_'))
            return 0;
    return 1;
}

static const char *const event_types[] = {"capsule.created",
                                          "capsule.updated",
                                          "capsule.deleted",
                                          "user.registered",
                                          "user.trust_changed",
                                          "proposal.created",
                                          "proposal.executed",
                                          "overlay.registered",
                                          "overlay.activated",
                                          "overlay.quarantined",
                                          NULL};

static int in_list(const char *s, const char *const *l)
{
    for (; *l; l++)
        if (strcmp(s, *l) == 0)
            return 1;
    return 0;
}

#define BAD(f, ...)                                                                                \
    do {                                                                                           \
        snprintf(field, fieldlen, "manifest.%s", f);                                               \
        snprintf(msg, msglen, __VA_ARGS__);                                                        \
        goto fail;                                                                                 \
    } while (0)

/* A string array with unique items checked by `ok`; *out a new array (default when absent). */
static int str_array(json_t *m, const char *k, size_t max, int (*ok)(const char *),
                     const char *const *allowed, json_t *dflt, json_t **out, char *msg,
                     size_t msglen)
{
    json_t *a = json_object_get(m, k);
    if (!a) {
        *out = dflt;
        return 0;
    }
    json_decref(dflt);
    if (!json_is_array(a) || json_array_size(a) > max) {
        snprintf(msg, msglen, "%s must be an array of at most %zu strings", k, max);
        return -1;
    }
    json_t *res = json_array();
    size_t i;
    json_t *x;
    json_array_foreach(a, i, x)
    {
        const char *s = json_string_value(x);
        if (!s || (ok && !ok(s)) || (allowed && !in_list(s, allowed))) {
            snprintf(msg, msglen, "%s[%zu] is not allowed", k, i);
            json_decref(res);
            return -1;
        }
        for (size_t j = 0; j < json_array_size(res); j++)
            if (strcmp(json_string_value(json_array_get(res, j)), s) == 0) {
                snprintf(msg, msglen, "%s[%zu] is a duplicate", k, i);
                json_decref(res);
                return -1;
            }
        json_array_append_new(res, json_string(s));
    }
    *out = res;
    return 0;
}

static int int_field(json_t *m, const char *k, long long lo, long long hi, long long dflt,
                     long long *out)
{
    json_t *v = json_object_get(m, k);
    if (!v) {
        *out = dflt;
        return 0;
    }
    if (!json_is_integer(v) || json_integer_value(v) < lo || json_integer_value(v) > hi)
        return -1;
    *out = json_integer_value(v);
    return 0;
}

static int opt_string(json_t *m, const char *k, size_t max, const char **out)
{
    json_t *v = json_object_get(m, k);
    if (!v) {
        *out = "";
        return 0;
    }
    if (!json_is_string(v) || json_string_length(v) > max * 4)
        return -1;
    /* characters, not bytes */
    size_t chars = 0;
    for (const unsigned char *p = (const unsigned char *)json_string_value(v); *p; p++)
        chars += (*p & 0xC0) != 0x80;
    if (chars > max)
        return -1;
    *out = json_string_value(v);
    return 0;
}

enum fg_err fg_overlay_manifest_check(json_t *m, json_t **out, char *field, size_t fieldlen,
                                      char *msg, size_t msglen)
{
    static const char *const known[] = {
        "name",          "version",          "description", "author",       "capabilities",
        "max_memory_mb", "max_execution_ms", "max_fuel",    "entry_points", "events",
        "validates",     "failure_policy",   NULL};
    static const char *const caps[] = {"capsule:read", "capsule:write", "capsule:search", "log",
                                       NULL};
    static const char *const validates[] = {"capsule.create", "capsule.update", NULL};
    json_t *capsj = NULL, *entries = NULL, *events = NULL, *vals = NULL;
    *out = NULL;
    if (!json_is_object(m)) {
        snprintf(field, fieldlen, "manifest");
        snprintf(msg, msglen, "manifest must be an object");
        return FG_EINVAL;
    }
    const char *k;
    json_t *v;
    json_object_foreach(m, k, v)
    {
        if (!in_list(k, known))
            BAD(k, "unknown field %s", k);
    }
    const char *name = json_string_value(json_object_get(m, "name"));
    if (!name || strlen(name) > FG_OVERLAY_NAME_MAX || !name_ok(name))
        BAD("name", "name is required: 1-%d characters of a-z, 0-9 and -", FG_OVERLAY_NAME_MAX);
    const char *version = json_string_value(json_object_get(m, "version"));
    if (!version || strlen(version) > FG_OVERLAY_VERSION_MAX || !semver_ok(version))
        BAD("version", "version is required: MAJOR.MINOR.PATCH");
    const char *desc, *author;
    if (opt_string(m, "description", FG_OVERLAY_DESCRIPTION_MAX, &desc))
        BAD("description", "description: a string of at most %d characters",
            FG_OVERLAY_DESCRIPTION_MAX);
    if (opt_string(m, "author", FG_OVERLAY_AUTHOR_MAX, &author))
        BAD("author", "author: a string of at most %d characters", FG_OVERLAY_AUTHOR_MAX);
    char sub[200];
    if (str_array(m, "capabilities", 4, NULL, caps, json_array(), &capsj, sub, sizeof sub))
        BAD("capabilities", "%s (known: capsule:read, capsule:write, capsule:search, log)", sub);
    long long mem, ms, fuel;
    if (int_field(m, "max_memory_mb", 1, 512, 64, &mem))
        BAD("max_memory_mb", "max_memory_mb: an integer 1-512");
    if (int_field(m, "max_execution_ms", 100, 30000, 5000, &ms))
        BAD("max_execution_ms", "max_execution_ms: an integer 100-30000");
    if (int_field(m, "max_fuel", 1000, 10000000000LL, 1000000, &fuel))
        BAD("max_fuel", "max_fuel: an integer 1000-10000000000");
    if (str_array(m, "entry_points", FG_OVERLAY_ENTRY_MAX, ident_ok, NULL,
                  json_pack("[s]", "process"), &entries, sub, sizeof sub))
        BAD("entry_points", "%s (Lua identifiers)", sub);
    if (json_array_size(entries) == 0)
        BAD("entry_points", "entry_points must name at least one function");
    if (str_array(m, "events", FG_OVERLAY_EVENTS_MAX, NULL, event_types, json_array(), &events, sub,
                  sizeof sub))
        BAD("events", "%s (event types such as capsule.created)", sub);
    if (str_array(m, "validates", 2, NULL, validates, json_array(), &vals, sub, sizeof sub))
        BAD("validates", "%s (capsule.create, capsule.update)", sub);
    const char *policy = "closed";
    json_t *pv = json_object_get(m, "failure_policy");
    if (pv) {
        policy = json_string_value(pv);
        if (!policy || (strcmp(policy, "open") != 0 && strcmp(policy, "closed") != 0))
            BAD("failure_policy", "failure_policy: open or closed");
    }
    int has_validate = 0, has_on_event = 0;
    size_t i;
    json_t *x;
    json_array_foreach(entries, i, x)
    {
        has_validate |= strcmp(json_string_value(x), "validate") == 0;
        has_on_event |= strcmp(json_string_value(x), "on_event") == 0;
    }
    if (json_array_size(vals) > 0 && !has_validate)
        BAD("entry_points", "a manifest with validates must list the entry point validate");
    if (json_array_size(events) > 0 && !has_on_event)
        BAD("entry_points", "a manifest with events must list the entry point on_event");
    *out =
        json_pack("{sssssssssOsIsIsIsOsOsOss}", "name", name, "version", version, "description",
                  desc, "author", author, "capabilities", capsj, "max_memory_mb", (json_int_t)mem,
                  "max_execution_ms", (json_int_t)ms, "max_fuel", (json_int_t)fuel, "entry_points",
                  entries, "events", events, "validates", vals, "failure_policy", policy);
    json_decref(capsj);
    json_decref(entries);
    json_decref(events);
    json_decref(vals);
    return FG_OK;
fail:
    json_decref(capsj);
    json_decref(entries);
    json_decref(events);
    json_decref(vals);
    return FG_EINVAL;
}
#undef BAD

/* ---- JSON ---- */
json_t *fg_overlay_json(const struct store_overlay *o, int with_source)
{
    json_error_t je;
    json_t *m = json_loads(o->manifest ? o->manifest : "{}", 0, &je);
    json_t *j =
        json_pack("{ss ss ss ss ss ss ss*}", "id", o->id, "name", o->name, "version", o->version,
                  "status", o->status, "trust_level", fg_trust_name(o->trust_level), "sha256",
                  o->sha256, "owner_id", o->owner_id[0] ? o->owner_id : NULL);
    double inv = (double)o->invocations;
    json_object_set_new(j, "stats",
                        json_pack("{sI sI sf sf ss* sI sI}", "invocations",
                                  (json_int_t)o->invocations, "failures", (json_int_t)o->failures,
                                  "mean_ms", o->invocations ? o->total_ms / inv : 0.0,
                                  "failure_rate", o->invocations ? (double)o->failures / inv : 0.0,
                                  "last_error", o->last_error[0] ? o->last_error : NULL,
                                  "window_invocations", (json_int_t)o->window_invocations,
                                  "window_failures", (json_int_t)o->window_failures));
    json_object_set_new(j, "manifest", m ? m : json_object());
    char ts[40];
    fg_time_iso(o->created_at, ts, sizeof ts);
    json_object_set_new(j, "created_at", json_string(ts));
    fg_time_iso(o->updated_at, ts, sizeof ts);
    json_object_set_new(j, "updated_at", json_string(ts));
    if (with_source && o->source)
        json_object_set_new(j, "source", json_string(o->source));
    return j;
}

/* ---- audit + events ---- */
static void audit(struct fg_app *app, struct store_conn *c, const struct fg_ctx *ctx,
                  const char *action, const char *id, const char *outcome, json_t *details)
{
    struct fg_audit_entry e = {
        .action = action,
        .resource_type = "overlay",
        .resource_id = id,
        .outcome = outcome,
        .details = details,
    };
    if (ctx)
        fg_audit_from_ctx(&e, ctx);
    if (fg_audit_record(app, c, &e) != FG_OK)
        fg_log(FG_LOG_ERROR, "audit_failed", FG_LF_STR("action", action), FG_LF_END);
}

enum fg_err fg_overlay_register(struct fg_app *app, const struct fg_ctx *ctx, json_t *manifest,
                                const char *source, size_t source_len, struct store_overlay *out,
                                char *field, size_t fieldlen, char *msg, size_t msglen)
{
    memset(out, 0, sizeof *out);
    json_t *norm = NULL;
    enum fg_err e = fg_overlay_manifest_check(manifest, &norm, field, fieldlen, msg, msglen);
    if (e != FG_OK)
        return e;
    char cerr[300];
    if (lua_sb_check_source(source, source_len, cerr, sizeof cerr) != FG_OK) {
        snprintf(field, fieldlen, "source");
        snprintf(msg, msglen, "source does not compile: %s", cerr);
        json_decref(norm);
        return FG_EINVAL;
    }
    unsigned char h[crypto_hash_sha256_BYTES];
    crypto_hash_sha256(h, (const unsigned char *)source, source_len);
    sodium_bin2hex(out->sha256, sizeof out->sha256, h, sizeof h);
    fg_uuid7(out->id);
    snprintf(out->name, sizeof out->name, "%s", json_string_value(json_object_get(norm, "name")));
    snprintf(out->version, sizeof out->version, "%s",
             json_string_value(json_object_get(norm, "version")));
    snprintf(out->status, sizeof out->status, "pending");
    out->trust_level = fg_trust_from_name("sandbox");
    out->manifest = json_dumps(norm, JSON_COMPACT | JSON_SORT_KEYS);
    out->source = fg_xstrndup(source, source_len);
    if (ctx && ctx->user_id)
        snprintf(out->owner_id, sizeof out->owner_id, "%s", ctx->user_id);
    out->created_at = out->updated_at = fg_now_ms();
    struct store_conn *c = store_acquire(app->store, &e);
    if (!c)
        goto done;
    if ((e = store_begin(app->store, c)) != FG_OK)
        goto release;
    e = app->store->overlays->insert(c, out);
    if (e == FG_OK) {
        json_t *d = json_pack("{sssssss[]}", "name", out->name, "version", out->version, "sha256",
                              out->sha256, "capabilities");
        json_object_set(d, "capabilities", json_object_get(norm, "capabilities"));
        audit(app, c, ctx, "overlay.register", out->id, "success", d);
        e = fg_event_emit(app, c, "overlay.registered", out->id, d);
        json_decref(d);
    }
    if (e == FG_OK)
        e = store_commit(app->store, c);
    else
        store_rollback(app->store, c);
release:
    store_release(app->store, c);
done:
    if (e == FG_ECONFLICT) {
        snprintf(field, fieldlen, "manifest.version");
        snprintf(msg, msglen, "overlay %s version %s is already registered", out->name,
                 out->version);
    }
    if (e != FG_OK)
        store_overlay_clear(out);
    json_decref(norm);
    return e;
}

/* ---- transitions ---- */
struct transition {
    const char *action, *from, *to, *audit;
};

static const struct transition transitions[] = {
    {"activate", "pending|suspended", "active", "overlay.activate"},
    {"suspend", "pending|active", "suspended", "overlay.suspend"},
    {"deprecate", "pending|active|suspended|quarantined", "deprecated", "overlay.deprecate"},
    {"quarantine", "pending|active|suspended", "quarantined", "overlay.quarantine"},
    {"release", "quarantined", "active", "overlay.release"},
};

static enum fg_err transition_in(struct fg_app *app, struct store_conn *c, const struct fg_ctx *ctx,
                                 const struct store_overlay *ov, const struct transition *t,
                                 const char *reason, json_t *source, const char *threat,
                                 int *changed)
{
    enum fg_err e =
        app->store->overlays->set_status(c, ov->id, t->from, t->to, fg_now_ms(), changed);
    if (e != FG_OK || !*changed)
        return e;
    vset_invalidate(app); /* before the commit: see FG_OVERLAY_VSET_DIRTY_MS */
    json_t *d = json_pack("{ss ss ss ss ss?}", "name", ov->name, "version", ov->version, "from",
                          ov->status, "to", t->to, "reason", reason);
    if (source)
        json_object_update(d, source);
    audit(app, c, ctx, t->audit, ov->id, "success", d);
    if (strcmp(t->to, "active") == 0)
        e = fg_event_emit(app, c, "overlay.activated", ov->id, d);
    if (e == FG_OK && strcmp(t->to, "quarantined") == 0)
        e = fg_event_emit(app, c, "overlay.quarantined", ov->id, d);
    if (e == FG_OK && (strcmp(t->action, "quarantine") == 0 || strcmp(t->action, "release") == 0)) {
        struct store_immune_response r = {0};
        snprintf(r.threat_type, sizeof r.threat_type, "%s", threat ? threat : "manual");
        snprintf(r.level, sizeof r.level, "high");
        snprintf(r.target_type, sizeof r.target_type, "overlay");
        snprintf(r.target_id, sizeof r.target_id, "%s", ov->id);
        snprintf(r.action, sizeof r.action, "%s",
                 t->action[0] == 'q' ? "quarantine_overlay" : "release_overlay");
        snprintf(r.reason, sizeof r.reason, "%s", reason ? reason : t->action);
        char *dt = json_dumps(d, JSON_COMPACT);
        r.details = dt;
        e = fg_immune_record(app, c, ctx, &r);
        free(dt);
    }
    json_decref(d);
    return e;
}

enum fg_err fg_overlay_transition(struct fg_app *app, const struct fg_ctx *ctx, const char *id,
                                  const char *action, const char *reason, json_t *source, char *why,
                                  size_t whylen)
{
    const struct transition *t = NULL;
    for (size_t i = 0; i < sizeof transitions / sizeof transitions[0]; i++)
        if (strcmp(transitions[i].action, action) == 0)
            t = &transitions[i];
    if (!t)
        return FG_EINVAL;
    enum fg_err e;
    struct store_conn *c = store_acquire(app->store, &e);
    if (!c)
        return e;
    struct store_overlay ov;
    memset(&ov, 0, sizeof ov);
    if ((e = store_begin(app->store, c)) != FG_OK)
        goto out;
    e = app->store->overlays->get(c, id, 0, &ov);
    int changed = 0;
    if (e == FG_OK)
        e = transition_in(app, c, ctx, &ov, t, reason, source, NULL, &changed);
    if (e == FG_OK && !changed) {
        snprintf(why, whylen, "cannot %s an overlay that is %s (allowed from %s)", action,
                 ov.status, t->from);
        e = FG_ECONFLICT;
    }
    if (e == FG_OK)
        e = store_commit(app->store, c);
    else
        store_rollback(app->store, c);
out:
    store_overlay_clear(&ov);
    store_release(app->store, c);
    return e;
}

struct same_name {
    char (*ids)[37];
    size_t n;
};

static int same_name_cb(const struct store_overlay *o, void *ctx)
{
    struct same_name *s = ctx;
    if (s->n < 64)
        snprintf(s->ids[s->n++], 37, "%s", o->id);
    return 0;
}

enum fg_err fg_overlay_govern_in(struct fg_app *app, const struct fg_ctx *ctx, struct store_conn *c,
                                 const char *kind, const char *id, const char *name,
                                 const char *version, int trust, json_t *source, json_t **res,
                                 char *why, size_t whylen)
{
    *res = NULL;
    if (!app->store->overlays)
        return FG_EUNAVAIL;
    if (!id || !fg_uuid_valid(id)) {
        snprintf(why, whylen, "overlay %s does not exist (overlay_id must be its UUID)",
                 id ? id : "(none)");
        return FG_ENOTFOUND;
    }
    struct store_overlay ov;
    memset(&ov, 0, sizeof ov);
    enum fg_err e = app->store->overlays->get(c, id, 0, &ov);
    if (e == FG_ENOTFOUND) {
        snprintf(why, whylen, "overlay %s does not exist", id);
        return e;
    }
    if (e != FG_OK)
        return e;
    if ((name && strcmp(name, ov.name) != 0) || (version && strcmp(version, ov.version) != 0)) {
        snprintf(why, whylen, "overlay %s is %s %s, not the name/version the proposal names", id,
                 ov.name, ov.version);
        store_overlay_clear(&ov);
        return FG_ECONFLICT;
    }
    if (strcmp(kind, "trust") == 0) {
        e = app->store->overlays->set_trust(c, id, trust, fg_now_ms());
        if (e == FG_OK) {
            json_t *d = json_pack("{ss ss ss}", "name", ov.name, "from",
                                  fg_trust_name(ov.trust_level), "to", fg_trust_name(trust));
            if (source)
                json_object_update(d, source);
            audit(app, c, ctx, "overlay.trust_change", id, "success", d);
            *res = json_pack("{ss ss ss ss}", "action", "overlay_trust", "overlay_id", id, "from",
                             fg_trust_name(ov.trust_level), "to", fg_trust_name(trust));
            json_decref(d);
        }
        store_overlay_clear(&ov);
        return e;
    }
    int changed = 0;
    e = transition_in(app, c, ctx, &ov, &transitions[0], "approved proposal", source, NULL,
                      &changed);
    if (e == FG_OK && !changed) {
        snprintf(why, whylen, "overlay %s is %s: only a pending or suspended overlay is activated",
                 id, ov.status);
        e = FG_ECONFLICT;
    }
    json_t *deprecated = json_array();
    if (e == FG_OK && strcmp(kind, "update") == 0) {
        char ids[64][37];
        struct same_name sn = {ids, 0};
        long long total = 0;
        e = app->store->overlays->list(c, ov.name, "active", 0, 64, same_name_cb, &sn, &total);
        for (size_t i = 0; e == FG_OK && i < sn.n; i++) {
            if (strcmp(ids[i], id) == 0)
                continue;
            struct store_overlay old;
            memset(&old, 0, sizeof old);
            e = app->store->overlays->get(c, ids[i], 0, &old);
            int ch = 0;
            if (e == FG_OK)
                e = transition_in(app, c, ctx, &old, &transitions[2], "superseded by an update",
                                  source, NULL, &ch);
            if (e == FG_OK && ch)
                json_array_append_new(deprecated, json_string(ids[i]));
            store_overlay_clear(&old);
        }
    }
    if (e == FG_OK)
        *res = json_pack("{ss ss ss ss sO}", "action", "overlay_activate", "overlay_id", id, "name",
                         ov.name, "version", ov.version, "deprecated", deprecated);
    json_decref(deprecated);
    store_overlay_clear(&ov);
    return e;
}

/* ---- invocation ---- */
struct host_ctx {
    struct fg_app *app;
    const struct store_overlay *ov;
    const struct fg_ctx *trigger; /* who ran the overlay (may be NULL) */
};

static json_t *host_call(void *vctx, const char *fn, json_t *args, char *err, size_t errlen,
                         int *denied)
{
    struct host_ctx *h = vctx;
    /* the overlay acts as its owner at its own trust, under the correlation id of what ran it */
    struct fg_ctx a = {
        .user_id = h->ov->owner_id[0] ? h->ov->owner_id : NULL,
        .trust = h->ov->trust_level,
        .admin = 0,
        .system = FG_OVERLAY_ACTOR,
        .correlation_id = h->trigger ? h->trigger->correlation_id : NULL,
    };
    if (strcmp(fn, "capsule.get") == 0) {
        const char *id = json_string_value(json_array_get(args, 0));
        if (!id || !fg_uuid_valid(id)) {
            snprintf(err, errlen, "expects a capsule id");
            return NULL;
        }
        struct store_capsule cap;
        memset(&cap, 0, sizeof cap);
        enum fg_err e = fg_capsule_get(h->app, &a, id, 0, 0, &cap);
        if (e == FG_ENOTFOUND)
            return json_null(); /* absent, or above the overlay's trust: the same answer */
        if (e != FG_OK) {
            snprintf(err, errlen, "store error (%s)", fg_err_name(e));
            return NULL;
        }
        json_t *j = fg_capsule_json(&cap, 0);
        store_capsule_clear(&cap);
        return j;
    }
    if (strcmp(fn, "capsule.search") == 0) {
        json_t *q = json_array_get(args, 0);
        json_t *opts = json_array_get(args, 1);
        const char *query = json_string_value(q);
        if (!query || json_string_length(q) == 0 || json_string_length(q) > 10000) {
            snprintf(err, errlen, "expects a query string of 1-10000 bytes");
            return NULL;
        }
        struct fg_search_request rq = {
            .query = query,
            .query_len = json_string_length(q),
            .mode = FG_SEARCH_KEYWORD,
            .limit = 10,
            .min_score = -1,
        };
        json_t *lim = json_object_get(opts, "limit");
        if (json_is_integer(lim) && json_integer_value(lim) >= 1 && json_integer_value(lim) <= 100)
            rq.limit = (int)json_integer_value(lim);
        const char *mode = json_string_value(json_object_get(opts, "mode"));
        for (int i = 0; mode && fg_search_modes[i]; i++)
            if (strcmp(mode, fg_search_modes[i]) == 0)
                rq.mode = (enum fg_search_mode)i;
        struct fg_search_response res;
        memset(&res, 0, sizeof res);
        struct fg_search_why why;
        memset(&why, 0, sizeof why);
        enum fg_err e = fg_search_run(h->app, &a, &rq, &res, &why);
        if (e != FG_OK) {
            snprintf(err, errlen, "search failed (%s)",
                     why.message[0] ? why.message : fg_err_name(e));
            return NULL;
        }
        json_t *arr = json_array();
        for (size_t i = 0; i < res.n; i++) {
            json_t *c = fg_capsule_json(&res.v[i].cap, 0);
            json_array_append_new(arr, json_pack("{sosf}", "capsule", c, "score", res.v[i].score));
        }
        fg_search_response_clear(&res);
        return arr;
    }
    int create = strcmp(fn, "capsule.create") == 0;
    if (create || strcmp(fn, "capsule.update") == 0) {
        if (!a.user_id) {
            snprintf(err, errlen, "the overlay has no owner to write as");
            *denied = 1;
            return NULL;
        }
        json_t *fields = json_array_get(args, create ? 0 : 1);
        const char *id = create ? NULL : json_string_value(json_array_get(args, 0));
        if (!json_is_object(fields) || (!create && (!id || !fg_uuid_valid(id)))) {
            snprintf(err, errlen,
                     create ? "expects {content, type, metadata}"
                            : "expects (id, {content, type, metadata})");
            return NULL;
        }
        json_t *content = json_object_get(fields, "content");
        json_t *meta = json_object_get(fields, "metadata");
        char *meta_txt = json_is_object(meta) ? json_dumps(meta, JSON_COMPACT) : NULL;
        struct fg_capsule_input in = {
            .content = json_string_value(content),
            .content_len = json_string_length(content),
            .type = json_string_value(json_object_get(fields, "type")),
            .metadata = meta_txt,
        };
        struct store_capsule cap;
        memset(&cap, 0, sizeof cap);
        struct fg_capsule_why why;
        memset(&why, 0, sizeof why);
        enum fg_err e = FG_OK;
        struct fg_ctx writer = a;
        if (!create) {
            /* capsule:write updates any capsule the overlay can read (at its trust); the owner
             * rule is replaced by the capability, granted when an admin activated it */
            e = fg_capsule_get(h->app, &a, id, 0, 0, &cap);
            store_capsule_clear(&cap);
            memset(&cap, 0, sizeof cap);
            writer.admin = 1;
        }
        if (e == FG_OK)
            e = create ? fg_capsule_create(h->app, &a, &in, &cap, &why)
                       : fg_capsule_update(h->app, &writer, id, &in, &cap, &why);
        free(meta_txt);
        if (e != FG_OK) {
            if (e == FG_EFORBIDDEN)
                *denied = 1;
            snprintf(err, errlen, "%s", why.message[0] ? why.message : fg_err_name(e));
            if (e == FG_ENOTFOUND)
                snprintf(err, errlen, "no such capsule");
            return NULL;
        }
        json_t *j = fg_capsule_json(&cap, 0);
        store_capsule_clear(&cap);
        return j;
    }
    snprintf(err, errlen, "unknown host function");
    return NULL;
}

/* Self-quarantine (SPEC §7.1) once the window holds enough invocations, more than half failed. */
static void maybe_quarantine(struct fg_app *app, struct store_conn *c, const char *id,
                             const char *name, long long win_inv, long long win_fail)
{
    if (win_inv < FG_OVERLAY_QUARANTINE_MIN || win_fail * 2 <= win_inv ||
        store_begin(app->store, c) != FG_OK)
        return;
    struct store_overlay cur;
    memset(&cur, 0, sizeof cur);
    int changed = 0;
    char reason[200];
    snprintf(reason, sizeof reason, "%lld of %lld invocations failed within the window", win_fail,
             win_inv);
    json_t *src = json_pack("{sIsI}", "window_invocations", (json_int_t)win_inv, "window_failures",
                            (json_int_t)win_fail);
    enum fg_err e = app->store->overlays->get(c, id, 0, &cur);
    struct fg_job_ctx job;
    if (e == FG_OK)
        e = transition_in(app, c, fg_ctx_job(&job, FG_OVERLAY_ACTOR), &cur, &transitions[3], reason,
                          src, "overlay_failure", &changed);
    json_decref(src);
    store_overlay_clear(&cur);
    if (e == FG_OK)
        e = store_commit(app->store, c);
    else
        store_rollback(app->store, c);
    if (e == FG_OK && changed)
        fg_log(FG_LOG_WARN, "overlay_quarantined", FG_LF_STR("overlay", name),
               FG_LF_STR("overlay_id", id), FG_LF_END);
}

/* Writes the queued stats in one transaction, then applies self-quarantine where a window
 * crossed the line. Safe to call from any thread; a no-op when nothing is queued. */
static void stats_flush(struct fg_app *app)
{
    struct fg_overlays *o = app->overlays;
    pthread_mutex_lock(&o->flush);
    pthread_mutex_lock(&o->qmu);
    size_t n = o->qn;
    struct ov_pending *batch = NULL;
    if (n) {
        batch = fg_xmalloc(n * sizeof *batch);
        memcpy(batch, o->q, n * sizeof *batch);
        o->qn = 0;
    }
    pthread_mutex_unlock(&o->qmu);
    if (!n) {
        pthread_mutex_unlock(&o->flush);
        return;
    }
    enum fg_err e;
    struct store_conn *c = store_acquire(app->store, &e);
    long long *win_inv = fg_xcalloc(n, sizeof *win_inv);
    long long *win_fail = fg_xcalloc(n, sizeof *win_fail);
    unsigned char *ok = fg_xcalloc(n, 1);
    if (c && (e = store_begin(app->store, c)) == FG_OK) {
        for (size_t i = 0; i < n && e == FG_OK; i++) {
            e = app->store->overlays->record(c, batch[i].id, batch[i].failed, batch[i].ms,
                                             batch[i].error, batch[i].at, FG_OVERLAY_WINDOW_MS,
                                             &win_inv[i], &win_fail[i]);
            ok[i] = e == FG_OK;
            if (e == FG_ENOTFOUND) /* the overlay is gone */
                e = FG_OK;
        }
        if (e == FG_OK)
            e = store_commit(app->store, c);
        else
            store_rollback(app->store, c);
    }
    if (!c || e != FG_OK) {
        fg_log(FG_LOG_WARN, "overlay_stats_lost", FG_LF_INT("invocations", (long long)n),
               FG_LF_STR("error", fg_err_name(e)), FG_LF_END);
    } else {
        /* the last failed invocation of each overlay carries its newest window */
        for (size_t i = n; i-- > 0;) {
            if (!ok[i] || !batch[i].failed)
                continue;
            int seen = 0;
            for (size_t j = i + 1; j < n && !seen; j++)
                seen = ok[j] && batch[j].failed && strcmp(batch[j].id, batch[i].id) == 0;
            if (!seen)
                maybe_quarantine(app, c, batch[i].id, batch[i].name, win_inv[i], win_fail[i]);
        }
    }
    if (c)
        store_release(app->store, c);
    free(win_inv);
    free(win_fail);
    free(ok);
    free(batch);
    pthread_mutex_unlock(&o->flush);
}

void fg_overlay_stats_flush(struct fg_app *app)
{
    if (app && app->overlays)
        stats_flush(app);
}

static void count(struct fg_app *app, const struct store_overlay *ov, struct lua_sb_result *res,
                  int deferred)
{
    int failed = res->outcome != LUA_SB_OK;
    if (fgm.overlay_invocations) {
        const char *v[] = {ov->name, lua_sb_outcome_name(res->outcome),
                           failed ? "failure" : "success"};
        fg_metric_add(fgm.overlay_invocations, v, 1);
    }
    if (failed)
        fg_log(FG_LOG_WARN, "overlay_failure", FG_LF_STR("overlay", ov->name),
               FG_LF_STR("overlay_id", ov->id),
               FG_LF_STR("kind", lua_sb_outcome_name(res->outcome)), FG_LF_END);
    char errtxt[LUA_SB_MAX_ERROR + 40];
    snprintf(errtxt, sizeof errtxt, "%s: %s", lua_sb_outcome_name(res->outcome), res->error);
    struct fg_overlays *o = app->overlays;
    if (deferred) {
        int full;
        pthread_mutex_lock(&o->qmu);
        struct ov_pending *p = &o->q[o->qn++];
        snprintf(p->id, sizeof p->id, "%s", ov->id);
        snprintf(p->name, sizeof p->name, "%s", ov->name);
        p->failed = failed;
        p->ms = res->elapsed_ms;
        p->at = fg_now_ms();
        snprintf(p->error, sizeof p->error, "%s", errtxt);
        full = o->qn == FG_OVERLAY_STATS_QUEUE;
        pthread_mutex_unlock(&o->qmu);
        if (full)
            stats_flush(app);
        return;
    }
    enum fg_err e;
    struct store_conn *c = store_acquire(app->store, &e);
    if (!c)
        return;
    long long win_inv = 0, win_fail = 0;
    e = app->store->overlays->record(c, ov->id, failed, res->elapsed_ms, errtxt, fg_now_ms(),
                                     FG_OVERLAY_WINDOW_MS, &win_inv, &win_fail);
    if (e == FG_OK && failed)
        maybe_quarantine(app, c, ov->id, ov->name, win_inv, win_fail);
    store_release(app->store, c);
}

enum fg_err fg_overlay_run(struct fg_app *app, const struct fg_ctx *ctx,
                           const struct store_overlay *ov, const char *entry, json_t *input,
                           struct lua_sb_result *res)
{
    memset(res, 0, sizeof *res);
    struct fg_overlays *o = app->overlays;
    if (!o)
        return FG_EUNAVAIL;
    if (strcmp(ov->status, "active") != 0) {
        res->outcome = LUA_SB_NOT_ACTIVE;
        snprintf(res->error, sizeof res->error, "overlay is %s, not active", ov->status);
        return FG_OK;
    }
    json_t *m = json_loads(ov->manifest ? ov->manifest : "{}", 0, NULL);
    if (!m)
        return FG_EINTERNAL;
    int listed = 0, caps = 0;
    size_t i;
    json_t *x;
    json_array_foreach(json_object_get(m, "entry_points"), i, x) listed |=
        strcmp(json_string_value(x) ? json_string_value(x) : "", entry) == 0;
    json_array_foreach(json_object_get(m, "capabilities"), i, x) caps |=
        lua_sb_cap_bit(json_string_value(x));
    if (!listed) {
        json_decref(m);
        res->outcome = LUA_SB_NO_SUCH_ENTRY_POINT;
        snprintf(res->error, sizeof res->error, "%s is not an entry point of the manifest", entry);
        return FG_OK;
    }
    char chunk[FG_OVERLAY_NAME_MAX + 2];
    snprintf(chunk, sizeof chunk, "=%s", ov->name);
    struct lua_sb_call call = {
        .source = ov->source,
        .source_len = ov->source ? strlen(ov->source) : 0,
        .chunkname = chunk,
        .entry = entry,
        .input = input,
        .max_memory = (size_t)json_integer_value(json_object_get(m, "max_memory_mb")) * 1024 * 1024,
        .max_fuel = json_integer_value(json_object_get(m, "max_fuel")),
        .max_ms = json_integer_value(json_object_get(m, "max_execution_ms")),
        .caps = caps,
    };
    json_decref(m);
    struct host_ctx h = {.app = app, .ov = ov, .trigger = ctx};
    enum fg_err e = lua_sb_pool_run(o->pool, &call, host_call, &h, res);
    if (e != FG_OK)
        return e;
    count(app, ov, res, strcmp(entry, "validate") == 0);
    return FG_OK;
}

/* ---- validation hooks ---- */
struct vctx {
    struct fg_app *app;
    const struct fg_ctx *ctx;
    const char *op;
    json_t *capsule;
    json_t *add;
    int refused;
    char *overlay;
    size_t overlaylen;
    char *msg;
    size_t msglen;
};

static int op_bit(const char *op)
{
    return strcmp(op, "capsule.create") == 0   ? VOP_CREATE
           : strcmp(op, "capsule.update") == 0 ? VOP_UPDATE
                                               : 0;
}

static int validate_one(const struct ov_validator *val, struct vctx *v)
{
    const struct store_overlay *ov = &val->ov;
    int open_policy = val->open_policy;
    struct lua_sb_result r;
    enum fg_err e = fg_overlay_run(v->app, v->ctx, ov, "validate", v->capsule, &r);
    if (e != FG_OK || r.outcome != LUA_SB_OK) {
        if (!open_policy) {
            v->refused = 1;
            snprintf(v->overlay, v->overlaylen, "%s", ov->name);
            snprintf(v->msg, v->msglen, "validator failed (%s); its failure policy is closed",
                     e != FG_OK ? "no sandbox worker free" : lua_sb_outcome_name(r.outcome));
        }
        lua_sb_result_clear(&r);
        return v->refused;
    }
    json_t *allow = json_object_get(r.result, "allow");
    if (!json_is_boolean(allow) && !open_policy) {
        v->refused = 1;
        snprintf(v->overlay, v->overlaylen, "%s", ov->name);
        snprintf(v->msg, v->msglen,
                 "validator returned no boolean allow; its failure policy is "
                 "closed");
    } else if (json_is_false(allow)) {
        v->refused = 1;
        snprintf(v->overlay, v->overlaylen, "%s", ov->name);
        const char *m = json_string_value(json_object_get(r.result, "message"));
        snprintf(v->msg, v->msglen, "%s", m ? m : "refused");
    } else if (json_is_true(allow)) {
        json_t *md = json_object_get(r.result, "metadata");
        if (json_is_object(md)) {
            if (!v->add)
                v->add = json_object();
            json_object_update(v->add, md);
        }
    }
    lua_sb_result_clear(&r);
    return v->refused;
}

/* Keeps the active overlays whose manifest validates an operation. */
static int collect_cb(const struct store_overlay *o, void *ctx)
{
    struct ov_vset *s = ctx;
    json_t *m = json_loads(o->manifest ? o->manifest : "{}", 0, NULL);
    int ops = 0;
    size_t i;
    json_t *x;
    json_array_foreach(json_object_get(m, "validates"), i, x) ops |=
        json_string_value(x) ? op_bit(json_string_value(x)) : 0;
    const char *p = json_string_value(json_object_get(m, "failure_policy"));
    int open_policy = p && strcmp(p, "open") == 0;
    json_decref(m);
    if (!ops)
        return 0;
    if (s->n == s->cap) {
        s->cap = s->cap ? s->cap * 2 : 8;
        s->v = fg_xrealloc(s->v, s->cap * sizeof *s->v);
    }
    struct ov_validator *d = &s->v[s->n++];
    store_overlay_copy(&d->ov, o);
    d->ops = ops;
    d->open_policy = open_policy;
    return 0;
}

/* The active validators (a reference: vset_put it), from the cache or the store; NULL when the
 * store cannot be read (the write path then runs no validator, as before the cache). */
static struct ov_vset *vset_get(struct fg_app *app)
{
    struct fg_overlays *o = app->overlays;
    int64_t now = fg_now_ms();
    pthread_mutex_lock(&o->vmu);
    struct ov_vset *s = o->vset;
    if (s && now - s->loaded_ms < FG_OVERLAY_VSET_TTL_MS) {
        atomic_fetch_add(&s->refs, 1);
        pthread_mutex_unlock(&o->vmu);
        return s;
    }
    pthread_mutex_unlock(&o->vmu);
    /* read outside the lock: concurrent misses may each read, the last one is cached */
    s = fg_xcalloc(1, sizeof *s);
    atomic_init(&s->refs, 1);
    s->loaded_ms = now;
    enum fg_err e;
    struct store_conn *c = store_acquire(app->store, &e);
    if (c) {
        e = app->store->overlays->active(c, collect_cb, s);
        store_release(app->store, c);
    }
    if (!c || e != FG_OK) {
        vset_put(s);
        return NULL;
    }
    pthread_mutex_lock(&o->vmu);
    if (fg_now_ms() >= o->vset_dirty_until) {
        struct ov_vset *old = o->vset;
        atomic_fetch_add(&s->refs, 1);
        o->vset = s;
        pthread_mutex_unlock(&o->vmu);
        vset_put(old);
    } else {
        pthread_mutex_unlock(&o->vmu);
    }
    return s;
}

static int overlays_on(const struct fg_app *app)
{
    return app && app->overlays && app->cfg && app->cfg->feature_overlays && app->store->overlays;
}

int fg_overlay_validators(struct fg_app *app, const char *op)
{
    if (!overlays_on(app))
        return 0;
    struct ov_vset *s = vset_get(app);
    int n = 0, bit = op_bit(op);
    for (size_t i = 0; s && i < s->n; i++)
        n += (s->v[i].ops & bit) != 0;
    vset_put(s);
    return n;
}

int fg_overlay_validate(struct fg_app *app, const struct fg_ctx *ctx, const char *op,
                        json_t *capsule, json_t **metadata_add, char *overlay, size_t overlaylen,
                        char *msg, size_t msglen)
{
    *metadata_add = NULL;
    if (!overlays_on(app))
        return 0;
    struct vctx v = {.app = app,
                     .ctx = ctx,
                     .op = op,
                     .capsule = capsule,
                     .overlay = overlay,
                     .overlaylen = overlaylen,
                     .msg = msg,
                     .msglen = msglen};
    struct ov_vset *s = vset_get(app);
    int bit = op_bit(op);
    for (size_t i = 0; s && i < s->n && !v.refused; i++)
        if (s->v[i].ops & bit)
            validate_one(&s->v[i], &v);
    vset_put(s);
    if (v.refused) {
        json_decref(v.add);
        return 1;
    }
    *metadata_add = v.add;
    return 0;
}
