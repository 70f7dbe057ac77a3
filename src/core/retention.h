/*
 * Retention (SPEC §9, docs/operations/data-retention.md): a background job that applies
 * RETENTION_DELETED_CAPSULES_DAYS (hard-delete soft-deleted capsules), RETENTION_OUTBOX_DAYS
 * (delivered outbox rows) and RETENTION_AUDIT_DAYS (oldest audit entries; the chain's base moves
 * to the last entry cut and an `audit.retention_purged` entry records its seq and hash, so the
 * remaining log still verifies). A setting of 0 keeps that kind of data forever.
 *
 * Work is done in bounded batches, each its own short write transaction. A dry run does the same
 * work inside transactions that are rolled back, so its counts are exactly what a real run would
 * remove at that moment.
 */
#ifndef CORE_RETENTION_H
#define CORE_RETENTION_H

#include <stddef.h>
#include <stdint.h>

#include "core/ctx.h"
#include "util/err.h"

/* Who acts in the background retention job. */
#define FG_RETENTION_ACTOR "system:retention"

struct fg_app;

struct fg_retention_report {
    long long capsules; /* soft-deleted capsules hard-deleted */
    long long outbox;   /* delivered outbox rows removed */
    long long audit;    /* audit entries removed */
    long long audit_base_seq;
    int dry_run;
};

/** One pass over the three kinds, as the settings say. `now_ms` is the reference time. `ctx` (the
 * admin's request, the CLI, or the job's FG_RETENTION_ACTOR) is the actor of the audit checkpoint;
 * NULL: the job with a new job id. */
enum fg_err fg_retention_run(struct fg_app *app, const struct fg_ctx *ctx, int64_t now_ms,
                             int dry_run, struct fg_retention_report *out);

/** Starts the periodic job (every RETENTION_INTERVAL_S) when any RETENTION_* setting is > 0. */
int fg_retention_start(struct fg_app *app, char *err, size_t errlen);
void fg_retention_stop(struct fg_app *app);

#endif
