/*
 * Domain events (events.h, SPEC §9): the transactional outbox.
 *
 * An event is one outbox row: id (UUIDv7), type, resource id (the delivery key, so events of one
 * resource stay in order), JSON payload (compact, keys sorted), created_at. Written on the
 * caller's connection it commits or rolls back with the change it describes.
 *
 * forge_events_outbox_backlog: set exactly at start, raised by the writers that know their
 * transaction committed (core/capsule.c), and recounted from the store at scrape time at most
 * every OUTBOX_GAUGE_REFRESH_S, which also covers events written inside other subsystems'
 * transactions and deliveries by other processes.
 */
#include "core/events.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>

#include "core/app.h"
#include "core/metrics.h"
#include "store/audit.h"
#include "store/store.h"
#include "util/log.h"
#include "util/metrics.h"
#include "util/time.h"
#include "util/uuid.h"

#define OUTBOX_GAUGE_REFRESH_S 5.0

enum fg_err fg_event_emit(struct fg_app *app, struct store_conn *c, const char *type,
                          const char *resource_id, json_t *payload)
{
    if (!app || !app->store || !app->store->audit) {
        fg_log(FG_LOG_WARN, "event_unavailable", FG_LF_STR("type", type), FG_LF_END);
        return FG_OK;
    }
    char id[FG_UUID_STRLEN + 1];
    fg_uuid7(id);
    char *body = payload ? json_dumps(payload, JSON_COMPACT | JSON_SORT_KEYS) : NULL;
    struct store_outbox_event ev = {
        .id = id,
        .type = type,
        .resource_id = resource_id,
        .payload = body ? body : "{}",
        .created_at = fg_now_ms(),
    };
    enum fg_err e = FG_OK;
    if (c) {
        e = app->store->audit->outbox_add(c, &ev);
    } else {
        struct store_conn *own = store_acquire(app->store, &e);
        if (!own)
            goto out;
        if ((e = store_begin(app->store, own)) == FG_OK) {
            e = app->store->audit->outbox_add(own, &ev);
            if (e == FG_OK)
                e = store_commit(app->store, own);
            else
                store_rollback(app->store, own);
        }
        store_release(app->store, own);
        if (e == FG_OK && fgm.outbox_backlog)
            fg_metric_add(fgm.outbox_backlog, NULL, 1);
    }
out:
    if (e != FG_OK)
        fg_log(FG_LOG_ERROR, "event_write_failed", FG_LF_STR("type", type),
               FG_LF_STR("error", fg_err_name(e)), FG_LF_END);
    else
        fg_log(FG_LOG_DEBUG, "event", FG_LF_STR("type", type),
               FG_LF_STR("resource_id", resource_id), FG_LF_END);
    free(body);
    return e;
}

static void refresh_backlog(struct fg_app *app)
{
    if (!app || !app->store || !app->store->audit || !fgm.outbox_backlog)
        return;
    enum fg_err e;
    struct store_conn *c = store_acquire(app->store, &e);
    if (!c)
        return;
    long long n = 0;
    if (app->store->audit->outbox_backlog(c, &n) == FG_OK)
        fg_metric_set(fgm.outbox_backlog, NULL, (double)n);
    store_release(app->store, c);
}

static struct fg_app *_Atomic g_app;
static _Atomic double g_last_refresh;

/* A collector that renders nothing: it recounts the backlog for the next scrape. */
static void backlog_collector(struct fg_buf *out, void *ctx)
{
    (void)out;
    (void)ctx;
    double now = fg_mono_s();
    if (now - atomic_load(&g_last_refresh) < OUTBOX_GAUGE_REFRESH_S)
        return;
    atomic_store(&g_last_refresh, now);
    refresh_backlog(atomic_load(&g_app));
}

static pthread_once_t g_collector_once = PTHREAD_ONCE_INIT;

static void add_collector(void)
{
    fg_metrics_add_collector(backlog_collector, NULL);
}

void fg_events_start(struct fg_app *app)
{
    atomic_store(&g_app, app);
    atomic_store(&g_last_refresh, fg_mono_s());
    refresh_backlog(app);
    pthread_once(&g_collector_once, add_collector);
}
