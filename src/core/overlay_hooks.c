/*
 * Event hooks (SPEC §8, docs/overlays.md): a background thread runs `on_event(event)` of every
 * active overlay whose manifest `events` lists the type of an outbox event.
 *
 * Once per event across replicas: the replicas compete for one lease row (overlay_hook_state) with
 * a conditional UPDATE; only the holder dispatches. It reads outbox rows after its cursor in seq
 * order (the outbox is written after commit of the change — it is part of the same transaction —
 * and in seq order under the writers' lock), runs the hooks of one event, logs each attempt in
 * overlay_invocations, and only then moves the cursor (conditioned on still holding the lease).
 * A crash between running and moving re-runs that event: at least once, in order per capsule
 * (in fact in global outbox order). A failing hook is retried HOOK_ATTEMPTS times with a short
 * backoff, then the cursor moves on (the failures stay in the log and the stats, and count
 * towards self-quarantine).
 */
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "core/app.h"
#include "core/ctx.h"
#include "core/overlay.h"
#include "store/overlays.h"
#include "store/store.h"
#include "util/config.h"
#include "util/log.h"
#include "util/mem.h"
#include "util/time.h"
#include "util/uuid.h"

#define HOOK_POLL_MS    200
#define HOOK_LEASE_MS   15000
#define HOOK_BATCH      100
#define HOOK_ATTEMPTS   3
#define HOOK_BACKOFF_MS 100

struct hook_event {
    long long seq;
    char *id, *type, *resource_id, *payload;
    int64_t created_at;
};

struct fg_overlay_hooks {
    struct fg_app *app;
    pthread_t thread;
    atomic_int stop;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    char holder[64];
    /* the lease as this dispatcher last saw it (only the hook thread touches these) */
    int64_t lease_renewed_ms;
    long long cursor;
};

static int copy_event(const struct store_hook_event *ev, void *ctx)
{
    struct {
        struct hook_event *v;
        size_t n;
    } *l = ctx;
    struct hook_event *h = &l->v[l->n++];
    h->seq = ev->seq;
    h->id = fg_xstrdup(ev->id ? ev->id : "");
    h->type = fg_xstrdup(ev->type ? ev->type : "");
    h->resource_id = ev->resource_id ? fg_xstrdup(ev->resource_id) : NULL;
    h->payload = fg_xstrdup(ev->payload ? ev->payload : "{}");
    h->created_at = ev->created_at;
    return 0;
}

struct ov_set {
    struct store_overlay *v;
    size_t n, cap;
};

static int copy_overlay(const struct store_overlay *o, void *ctx)
{
    struct ov_set *s = ctx;
    json_t *m = json_loads(o->manifest ? o->manifest : "{}", 0, NULL);
    int subscribed = json_array_size(json_object_get(m, "events")) > 0;
    json_decref(m);
    if (!subscribed)
        return 0;
    if (s->n == s->cap) {
        s->cap = s->cap ? s->cap * 2 : 8;
        s->v = fg_xrealloc(s->v, s->cap * sizeof *s->v);
    }
    store_overlay_copy(&s->v[s->n++], o);
    return 0;
}

static int subscribes(const struct store_overlay *o, const char *type)
{
    json_t *m = json_loads(o->manifest, 0, NULL);
    int yes = 0;
    size_t i;
    json_t *x;
    json_array_foreach(json_object_get(m, "events"), i, x) yes |=
        json_string_value(x) && strcmp(json_string_value(x), type) == 0;
    json_decref(m);
    return yes;
}

static void wait_ms(struct fg_overlay_hooks *h, int ms)
{
    pthread_mutex_lock(&h->mu);
    if (!atomic_load(&h->stop)) {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        ts.tv_sec += ms / 1000;
        ts.tv_nsec += (long)(ms % 1000) * 1000000L;
        if (ts.tv_nsec >= 1000000000L) {
            ts.tv_sec++;
            ts.tv_nsec -= 1000000000L;
        }
        pthread_cond_timedwait(&h->cv, &h->mu, &ts);
    }
    pthread_mutex_unlock(&h->mu);
}

static void log_attempt(struct fg_overlay_hooks *h, const struct store_overlay *ov,
                        const struct hook_event *ev, int attempt, const struct lua_sb_result *r,
                        enum fg_err e)
{
    struct store_overlay_invocation v;
    memset(&v, 0, sizeof v);
    fg_uuid7(v.id);
    snprintf(v.overlay_id, sizeof v.overlay_id, "%s", ov->id);
    snprintf(v.event_id, sizeof v.event_id, "%s", ev->id);
    snprintf(v.event_type, sizeof v.event_type, "%s", ev->type);
    v.event_seq = ev->seq;
    v.attempt = attempt;
    snprintf(v.outcome, sizeof v.outcome, "%s",
             e != FG_OK ? "unavailable" : lua_sb_outcome_name(r->outcome));
    snprintf(v.error, sizeof v.error, "%s", e != FG_OK ? "no sandbox worker free" : r->error);
    v.elapsed_ms = e != FG_OK ? 0 : r->elapsed_ms;
    snprintf(v.holder, sizeof v.holder, "%s", h->holder);
    v.created_at = fg_now_ms();
    enum fg_err le;
    struct store_conn *c = store_acquire(h->app->store, &le);
    if (!c)
        return;
    le = h->app->store->overlays->log_invocation(c, &v);
    store_release(h->app->store, c);
    if (le != FG_OK)
        fg_log(FG_LOG_ERROR, "overlay_invocation_log_failed", FG_LF_STR("overlay", ov->name),
               FG_LF_END);
}

/* Runs the hooks of one event; returns the number of overlays subscribed to it. */
static int run_hooks(struct fg_overlay_hooks *h, const struct ov_set *set,
                     const struct hook_event *ev)
{
    int ran = 0;
    json_t *input = NULL;
    struct fg_job_ctx job; /* the dispatch of one event: the system under one job id */
    const struct fg_ctx *ctx = NULL;
    for (size_t i = 0; i < set->n && !atomic_load(&h->stop); i++) {
        const struct store_overlay *ov = &set->v[i];
        if (!subscribes(ov, ev->type))
            continue;
        ran++;
        if (!input) {
            ctx = fg_ctx_job(&job, FG_OVERLAY_HOOKS_ACTOR);
            json_t *pl = json_loads(ev->payload, 0, NULL);
            input = json_pack("{sssssIso}", "id", ev->id, "type", ev->type, "created_at_ms",
                              (json_int_t)ev->created_at, "payload", pl ? pl : json_object());
            json_object_set_new(input, "resource_id",
                                ev->resource_id ? json_string(ev->resource_id) : json_null());
        }
        for (int attempt = 1; attempt <= HOOK_ATTEMPTS && !atomic_load(&h->stop); attempt++) {
            struct lua_sb_result r;
            enum fg_err e = fg_overlay_run(h->app, ctx, ov, "on_event", input, &r);
            log_attempt(h, ov, ev, attempt, &r, e);
            int ok = e == FG_OK && (r.outcome == LUA_SB_OK || r.outcome == LUA_SB_NOT_ACTIVE);
            if (e == FG_OK && r.logs)
                for (size_t k = 0; k < json_array_size(r.logs); k++)
                    fg_log(FG_LOG_INFO, "overlay_log", FG_LF_STR("overlay", ov->name),
                           FG_LF_STR("message", json_string_value(json_array_get(r.logs, k))),
                           FG_LF_END);
            lua_sb_result_clear(&r);
            if (ok)
                break;
            if (attempt < HOOK_ATTEMPTS)
                wait_ms(h, HOOK_BACKOFF_MS * attempt);
        }
    }
    json_decref(input);
    return ran;
}

/* Moves the cursor to `seq`; 0 when the lease was lost (or the store failed). */
static int advance(struct fg_overlay_hooks *h, long long seq)
{
    enum fg_err e;
    int ok = 0;
    struct store_conn *c = store_acquire(h->app->store, &e);
    if (!c)
        return 0;
    e = h->app->store->overlays->hook_advance(c, h->holder, seq, &ok);
    store_release(h->app->store, c);
    if (e == FG_OK && ok) {
        h->cursor = seq;
        return 1;
    }
    if (e == FG_OK) /* the lease moved to another replica: it continues from its cursor */
        fg_log(FG_LOG_WARN, "overlay_hook_lease_lost", FG_LF_END);
    h->lease_renewed_ms = 0;
    return 0;
}

/* One round: 1 when it should poll again at once (hooks ran, or a full batch was read).
 *
 * Store writes per round are kept few because each is a durable commit: the lease is renewed
 * only when a third of its time has passed (hook_advance is conditioned on still holding it, so
 * a lease lost meanwhile is noticed there); the cursor moves after each event whose hooks ran
 * (at least once per event) and otherwise once at the end of the batch. Events nobody
 * subscribes to therefore cost one cursor write per poll (HOOK_POLL_MS), not one per event. */
static int round_once(struct fg_overlay_hooks *h)
{
    struct fg_app *app = h->app;
    if (!app->cfg->feature_overlays)
        return 0;
    enum fg_err e;
    struct store_conn *c = store_acquire(app->store, &e);
    if (!c)
        return 0;
    int got = 1;
    int64_t now = fg_now_ms();
    if (!h->lease_renewed_ms || now - h->lease_renewed_ms >= HOOK_LEASE_MS / 3) {
        long long cursor = 0;
        got = 0;
        e = app->store->overlays->hook_lease(c, h->holder, now, HOOK_LEASE_MS, &got, &cursor);
        if (e == FG_OK && got) {
            h->lease_renewed_ms = now;
            h->cursor = cursor;
        } else {
            h->lease_renewed_ms = 0;
        }
    }
    struct {
        struct hook_event *v;
        size_t n;
    } evs = {fg_xcalloc(HOOK_BATCH, sizeof(struct hook_event)), 0};
    struct ov_set set = {0};
    if (e == FG_OK && got)
        e = app->store->overlays->hook_events(c, h->cursor, HOOK_BATCH, copy_event, &evs);
    if (e == FG_OK && got && evs.n > 0)
        e = app->store->overlays->active(c, copy_overlay, &set);
    store_release(app->store, c);
    int did = evs.n == HOOK_BATCH, alive = 1;
    long long unsaved = 0; /* last event handled without hooks, cursor not yet moved past it */
    for (size_t i = 0; e == FG_OK && got && alive && i < evs.n && !atomic_load(&h->stop); i++) {
        if (set.n > 0 && run_hooks(h, &set, &evs.v[i]) > 0) {
            alive = advance(h, evs.v[i].seq);
            unsaved = 0;
            did = 1;
        } else {
            unsaved = evs.v[i].seq;
        }
    }
    if (alive && unsaved > h->cursor)
        advance(h, unsaved);
    for (size_t i = 0; i < evs.n; i++) {
        free(evs.v[i].id);
        free(evs.v[i].type);
        free(evs.v[i].resource_id);
        free(evs.v[i].payload);
    }
    free(evs.v);
    for (size_t i = 0; i < set.n; i++)
        store_overlay_clear(&set.v[i]);
    free(set.v);
    return did;
}

static void *hook_thread(void *arg)
{
    struct fg_overlay_hooks *h = arg;
    while (!atomic_load(&h->stop)) {
        if (!round_once(h))
            wait_ms(h, HOOK_POLL_MS);
    }
    return NULL;
}

struct fg_overlay_hooks *fg_overlay_hooks_start(struct fg_app *app)
{
    if (!app->store || !app->store->overlays)
        return NULL;
    struct fg_overlay_hooks *h = fg_xcalloc(1, sizeof *h);
    h->app = app;
    char id[FG_UUID_STRLEN + 1];
    fg_uuid7(id);
    snprintf(h->holder, sizeof h->holder, "%d:%s", (int)getpid(), id);
    pthread_mutex_init(&h->mu, NULL);
    pthread_cond_init(&h->cv, NULL);
    if (pthread_create(&h->thread, NULL, hook_thread, h) != 0) {
        pthread_mutex_destroy(&h->mu);
        pthread_cond_destroy(&h->cv);
        free(h);
        return NULL;
    }
    return h;
}

void fg_overlay_hooks_stop(struct fg_overlay_hooks *h)
{
    if (!h)
        return;
    pthread_mutex_lock(&h->mu);
    atomic_store(&h->stop, 1);
    pthread_cond_broadcast(&h->cv);
    pthread_mutex_unlock(&h->mu);
    pthread_join(h->thread, NULL);
    pthread_mutex_destroy(&h->mu);
    pthread_cond_destroy(&h->cv);
    free(h);
}
