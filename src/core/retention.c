/* Retention job: see core/retention.h. */
#include "core/retention.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <jansson.h>

#include "core/app.h"
#include "core/audit.h"
#include "store/audit.h"
#include "store/retention.h"
#include "store/store.h"
#include "util/config.h"
#include "util/log.h"
#include "util/mem.h"
#include "util/metrics.h"
#include "util/time.h"

#define DAY_MS        (86400LL * 1000)
#define CAPSULE_BATCH 500
#define AUDIT_BATCH   5000
/* one pass never runs unbounded: a backlog larger than this is finished by the next passes */
#define MAX_BATCHES 200

static struct fg_metric *m_purged;
static struct fg_metric *m_runs;
static pthread_once_t metrics_once = PTHREAD_ONCE_INIT;

static void metrics_init(void)
{
    m_purged = fg_metric_new(FG_COUNTER, "forge_retention_purged_total",
                             "Rows removed by the retention job, by kind", "kind", NULL, 0);
    m_runs = fg_metric_new(FG_COUNTER, "forge_retention_runs_total", "Retention passes, by result",
                           "result", NULL, 0);
    static const char *const kinds[] = {"capsules", "outbox", "audit"};
    for (size_t i = 0; i < 3; i++)
        fg_metric_touch(m_purged, &kinds[i]);
    static const char *const results[] = {"ok", "error"};
    for (size_t i = 0; i < 2; i++)
        fg_metric_touch(m_runs, &results[i]);
}

/* kind of batch a transaction runs */
enum kind { K_CAPSULES, K_OUTBOX, K_AUDIT };

/* Runs one batch of `kind` in its own transaction; committed, or rolled back for a dry run. */
static enum fg_err batch(struct fg_app *app, const struct fg_ctx *ctx, enum kind kind,
                         int64_t before, int dry_run, long long *n, long long *base_seq)
{
    struct store *s = app->store;
    enum fg_err e;
    struct store_conn *c = store_acquire(s, &e);
    if (!c)
        return e;
    if ((e = store_begin(s, c)) != FG_OK) {
        store_release(s, c);
        return e;
    }
    char base_hash[65] = "";
    *n = 0;
    switch (kind) {
    case K_CAPSULES:
        e = s->retention->capsules(c, before, CAPSULE_BATCH, n);
        break;
    case K_OUTBOX:
        e = s->audit->outbox_purge(c, before, n);
        break;
    case K_AUDIT:
        e = s->retention->audit(c, before, AUDIT_BATCH, n, base_seq, base_hash);
        if (e == FG_OK && *n > 0) {
            /* the checkpoint entry: what was cut, so the remaining chain can be explained */
            json_t *d = json_pack("{sIsIss}", "removed", (json_int_t)*n, "through_seq",
                                  (json_int_t)*base_seq, "through_hash", base_hash);
            struct fg_audit_entry ae = {.action = "audit.retention_purged",
                                        .resource_type = "audit_log",
                                        .outcome = "success",
                                        .details = d};
            fg_audit_from_ctx(&ae, ctx);
            e = fg_audit_record(app, c, &ae);
            json_decref(d);
        }
        break;
    }
    if (e == FG_OK && !dry_run)
        e = store_commit(s, c);
    else
        store_rollback(s, c);
    store_release(s, c);
    return e;
}

enum fg_err fg_retention_run(struct fg_app *app, const struct fg_ctx *ctx, int64_t now_ms,
                             int dry_run, struct fg_retention_report *out)
{
    struct fg_job_ctx job;
    if (!ctx)
        ctx = fg_ctx_job(&job, FG_RETENTION_ACTOR);
    pthread_once(&metrics_once, metrics_init);
    memset(out, 0, sizeof *out);
    out->dry_run = dry_run;
    const struct fg_config *cfg = app->cfg;
    struct store *s = app->store;
    if (!s || !s->retention || !s->audit)
        return FG_EUNAVAIL;
    enum fg_err e = FG_OK;
    long long n = 0, base = 0;

    if (cfg->retention_outbox_days > 0) {
        e = batch(app, ctx, K_OUTBOX, now_ms - cfg->retention_outbox_days * DAY_MS, dry_run, &n,
                  &base);
        out->outbox = n;
    }
    /* capsules: a dry run cannot see that purging a child frees its parent, so it counts the
     * first batch only (the leaves removable now) */
    for (int i = 0; e == FG_OK && cfg->retention_deleted_capsules_days > 0 && i < MAX_BATCHES;
         i++) {
        e = batch(app, ctx, K_CAPSULES, now_ms - cfg->retention_deleted_capsules_days * DAY_MS,
                  dry_run, &n, &base);
        out->capsules += n;
        if (dry_run || n == 0)
            break;
    }
    for (int i = 0; e == FG_OK && cfg->retention_audit_days > 0 && i < MAX_BATCHES; i++) {
        e = batch(app, ctx, K_AUDIT, now_ms - cfg->retention_audit_days * DAY_MS, dry_run, &n,
                  &base);
        out->audit += n;
        if (n > 0)
            out->audit_base_seq = base;
        if (dry_run || n < AUDIT_BATCH)
            break;
    }
    if (!dry_run) {
        static const char *const kc[] = {"capsules"}, *const ko[] = {"outbox"},
                                 *const ka[] = {"audit"};
        fg_metric_add(m_purged, kc, (double)out->capsules);
        fg_metric_add(m_purged, ko, (double)out->outbox);
        fg_metric_add(m_purged, ka, (double)out->audit);
        const char *res[] = {e == FG_OK ? "ok" : "error"};
        fg_metric_add(m_runs, res, 1);
    }
    fg_log(e == FG_OK ? FG_LOG_INFO : FG_LOG_ERROR, "retention_run", FG_LF_INT("dry_run", dry_run),
           FG_LF_INT("capsules", out->capsules), FG_LF_INT("outbox", out->outbox),
           FG_LF_INT("audit", out->audit), FG_LF_STR("result", e == FG_OK ? "ok" : fg_err_name(e)),
           FG_LF_END);
    return e;
}

/* ---- periodic job ----------------------------------------------------------------------- */

struct fg_retention {
    struct fg_app *app;
    pthread_t thread;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int stop;
};

static void *job_main(void *arg)
{
    struct fg_retention *r = arg;
    for (;;) {
        struct timespec until;
        clock_gettime(CLOCK_MONOTONIC, &until);
        until.tv_sec += r->app->cfg->retention_interval_s;
        pthread_mutex_lock(&r->mu);
        while (!r->stop && pthread_cond_timedwait(&r->cv, &r->mu, &until) != ETIMEDOUT)
            ;
        int stop = r->stop;
        pthread_mutex_unlock(&r->mu);
        if (stop)
            break;
        struct fg_retention_report rep;
        struct fg_job_ctx job; /* one job id per pass */
        fg_retention_run(r->app, fg_ctx_job(&job, FG_RETENTION_ACTOR), fg_now_ms(), 0, &rep);
    }
    return NULL;
}

int fg_retention_start(struct fg_app *app, char *err, size_t errlen)
{
    pthread_once(&metrics_once, metrics_init);
    const struct fg_config *cfg = app->cfg;
    if (cfg->retention_deleted_capsules_days <= 0 && cfg->retention_audit_days <= 0 &&
        cfg->retention_outbox_days <= 0)
        return 0;
    struct fg_retention *r = fg_xcalloc(1, sizeof *r);
    r->app = app;
    pthread_mutex_init(&r->mu, NULL);
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&r->cv, &ca);
    pthread_condattr_destroy(&ca);
    if (pthread_create(&r->thread, NULL, job_main, r) != 0) {
        pthread_cond_destroy(&r->cv);
        pthread_mutex_destroy(&r->mu);
        free(r);
        snprintf(err, errlen, "internal: cannot start the retention job");
        return -1;
    }
    app->retention = r;
    return 0;
}

void fg_retention_stop(struct fg_app *app)
{
    struct fg_retention *r = app->retention;
    if (!r)
        return;
    pthread_mutex_lock(&r->mu);
    r->stop = 1;
    pthread_cond_signal(&r->cv);
    pthread_mutex_unlock(&r->mu);
    pthread_join(r->thread, NULL);
    pthread_cond_destroy(&r->cv);
    pthread_mutex_destroy(&r->mu);
    free(r);
    app->retention = NULL;
}
