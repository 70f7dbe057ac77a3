/*
 * Store area: overlays (SPEC §8) — registry rows with running stats and the self-quarantine
 * window (SPEC §7.1). Strings in a row are owned by the row (store_overlay_clear frees them).
 */
#ifndef STORE_OVERLAYS_H
#define STORE_OVERLAYS_H

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include "util/err.h"
#include "util/mem.h"

struct store_conn;

struct store_overlay {
    char id[37];
    char name[101];
    char version[65];
    char status[16]; /* pending | active | suspended | deprecated | quarantined */
    int trust_level;
    char *manifest; /* JSON object text */
    char *source;   /* NULL unless asked for */
    char sha256[65];
    char owner_id[37];
    int64_t created_at, updated_at;
    long long invocations, failures;
    double total_ms;
    char last_error[501];
    int64_t window_start;
    long long window_invocations, window_failures;
};

static inline void store_overlay_clear(struct store_overlay *o)
{
    free(o->manifest);
    free(o->source);
    o->manifest = o->source = NULL;
}

/* A deep copy of a row handed to a store callback (which owns its strings only for the call);
 * a missing manifest becomes "{}" and a missing source "". Free it with store_overlay_clear. */
static inline void store_overlay_copy(struct store_overlay *dst, const struct store_overlay *src)
{
    *dst = *src;
    dst->manifest = fg_xstrdup(src->manifest ? src->manifest : "{}");
    dst->source = fg_xstrdup(src->source ? src->source : "");
}

typedef int (*store_overlay_cb)(const struct store_overlay *o, void *ctx);

struct store_overlay_invocation {
    char id[37];
    char overlay_id[37];
    char event_id[37];
    char event_type[64];
    long long event_seq;
    int attempt;
    char outcome[32];
    char error[501];
    double elapsed_ms;
    char holder[64];
    int64_t created_at;
};
typedef int (*store_invocation_cb)(const struct store_overlay_invocation *v, void *ctx);

/* An outbox row for hooks (borrowed for the callback). */
struct store_hook_event {
    long long seq;
    const char *id, *type, *resource_id, *payload;
    int64_t created_at;
};
typedef int (*store_hook_event_cb)(const struct store_hook_event *ev, void *ctx);

struct store_overlay_ops {
    /** Inserts a new overlay (stats zero). FG_ECONFLICT when name+version exists. */
    enum fg_err (*insert)(struct store_conn *c, const struct store_overlay *o);
    /** Reads one; with_source also reads the source. FG_ENOTFOUND. */
    enum fg_err (*get)(struct store_conn *c, const char *id, int with_source,
                       struct store_overlay *out);
    /** Overlays (without source) newest first, filtered by name/status (NULL: any). */
    enum fg_err (*list)(struct store_conn *c, const char *name, const char *status,
                        long long offset, long long limit, store_overlay_cb cb, void *ctx,
                        long long *total);
    /** Sets status when the current one is in `from` ("a|b|c", NULL: any). *changed = 0|1. */
    enum fg_err (*set_status)(struct store_conn *c, const char *id, const char *from,
                              const char *status, int64_t now, int *changed);
    /** Sets the trust level. FG_ENOTFOUND. */
    enum fg_err (*set_trust)(struct store_conn *c, const char *id, int trust, int64_t now);
    /**
     * Counts one invocation (failed when `failed`), atomically; restarts the window when it is
     * older than window_ms. *win_inv / *win_fail receive the window counts after the update.
     */
    enum fg_err (*record)(struct store_conn *c, const char *id, int failed, double ms,
                          const char *error, int64_t now, int64_t window_ms, long long *win_inv,
                          long long *win_fail);
    /** Every active overlay, with source (hooks). */
    enum fg_err (*active)(struct store_conn *c, store_overlay_cb cb, void *ctx);

    /**
     * Takes or renews the event-hook lease for `holder` until now + ttl_ms when it is free,
     * expired or already held by `holder`. *got = 1 when held; *last_seq = the cursor.
     */
    enum fg_err (*hook_lease)(struct store_conn *c, const char *holder, int64_t now, int64_t ttl_ms,
                              int *got, long long *last_seq);
    /** Moves the cursor to `seq` when `holder` still holds the lease (*ok = 0 otherwise). */
    enum fg_err (*hook_advance)(struct store_conn *c, const char *holder, long long seq, int *ok);
    /** Outbox events with seq > after (delivered or not), in seq order, at most `limit`. */
    enum fg_err (*hook_events)(struct store_conn *c, long long after, long long limit,
                               store_hook_event_cb cb, void *ctx);
    /** Appends to the invocation log. */
    enum fg_err (*log_invocation)(struct store_conn *c, const struct store_overlay_invocation *v);
    /** The log of one overlay, newest first. */
    enum fg_err (*invocations)(struct store_conn *c, const char *overlay_id, long long offset,
                               long long limit, store_invocation_cb cb, void *ctx,
                               long long *total);
};

#endif
