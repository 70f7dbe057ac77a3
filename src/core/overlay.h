/*
 * Overlays (SPEC §8, §7.1): the registry rules, invocation through the sandbox worker pool
 * (src/sandbox/sandbox.h), running stats, self-quarantine and validation hooks.
 *
 * Lifecycle: register → pending (trust sandbox) → activate (admin, or an approved
 * overlay_registration/overlay_update proposal) → active; suspend (admin/operator) → suspended;
 * deprecate → deprecated; quarantine (immune system, automatic or manual) → quarantined, release →
 * active. Only active overlays run.
 *
 * Self-quarantine: every counted invocation updates a window (FG_OVERLAY_WINDOW_MS); when the
 * window holds ≥ FG_OVERLAY_QUARANTINE_MIN invocations and more than half failed, the overlay is
 * quarantined (a conditional status change, so one replica wins), an immune response
 * (threat overlay_failure) is recorded and overlay.quarantined is emitted.
 */
#ifndef CORE_OVERLAY_H
#define CORE_OVERLAY_H

#include <stddef.h>

#include <jansson.h>

#include "sandbox/sandbox.h"
#include "store/overlays.h"
#include "util/err.h"

struct fg_app;
struct fg_ctx;

/* Who acts when the overlay runtime quarantines a failing overlay on its own. */
#define FG_OVERLAY_ACTOR "system:overlay"
/* Who dispatches events to the overlays' on_event hooks (one job id per event). */
#define FG_OVERLAY_HOOKS_ACTOR     "system:overlay-hooks"
#define FG_OVERLAY_NAME_MAX        100
#define FG_OVERLAY_VERSION_MAX     64
#define FG_OVERLAY_DESCRIPTION_MAX 1000
#define FG_OVERLAY_AUTHOR_MAX      100
#define FG_OVERLAY_ENTRY_MAX       16 /* entry points per manifest */
#define FG_OVERLAY_EVENTS_MAX      16
#define FG_OVERLAY_QUARANTINE_MIN  10
#define FG_OVERLAY_WINDOW_MS       (3600LL * 1000) /* self-quarantine window */
#define FG_OVERLAY_INPUT_MAX       (1024 * 1024)   /* bytes of invoke input (compact JSON) */

struct fg_overlay_hooks;
/** Starts the event-hook dispatcher thread (core/overlay_hooks.c); NULL when it cannot. */
struct fg_overlay_hooks *fg_overlay_hooks_start(struct fg_app *app);
void fg_overlay_hooks_stop(struct fg_overlay_hooks *h);

/** Starts the worker pool and the event-hook dispatcher (app->overlays). -1 + message on error. */
int fg_overlay_start(struct fg_app *app, char *err, size_t errlen);
void fg_overlay_stop(struct fg_app *app);

/**
 * Validates a manifest; on success *out is the normalised manifest (defaults filled; new
 * reference). FG_EINVAL with the field ("manifest.name", ...) and a message.
 */
enum fg_err fg_overlay_manifest_check(json_t *manifest, json_t **out, char *field, size_t fieldlen,
                                      char *msg, size_t msglen);

/**
 * Registers an overlay (status pending, trust sandbox) with its source compiled and hashed;
 * audited, overlay.registered emitted. *out receives the row (release with store_overlay_clear).
 * FG_EINVAL (field/msg), FG_ECONFLICT (name+version exists).
 */
enum fg_err fg_overlay_register(struct fg_app *app, const struct fg_ctx *ctx, json_t *manifest,
                                const char *source, size_t source_len, struct store_overlay *out,
                                char *field, size_t fieldlen, char *msg, size_t msglen);

/**
 * Changes the status: "activate" (from pending|suspended), "suspend" (from pending|active),
 * "deprecate" (from any but deprecated), "quarantine" (from active|pending|suspended),
 * "release" (from quarantined → active). Audited (actor from ctx, or the system with `source`
 * details, e.g. a proposal), events overlay.activated / overlay.quarantined; quarantine and
 * release are recorded as immune responses. FG_ENOTFOUND, FG_ECONFLICT (wrong status; why).
 */
enum fg_err fg_overlay_transition(struct fg_app *app, const struct fg_ctx *ctx, const char *id,
                                  const char *action, const char *reason, json_t *source, char *why,
                                  size_t whylen);

/**
 * Runs an entry point of an overlay (a row with source). Not active → LUA_SB_NOT_ACTIVE; an entry
 * point the manifest does not list → LUA_SB_NO_SUCH_ENTRY_POINT (neither counted). Otherwise
 * counted in the stats and forge_overlay_invocations_total, and may quarantine the overlay.
 * The stats of `validate` calls (on the capsule write path) are queued and written in batches
 * (at most ~100 ms later, and before this process reads stats: fg_overlay_stats_flush); the
 * others are written before this returns.
 * FG_EUNAVAIL when no sandbox worker was free.
 */
enum fg_err fg_overlay_run(struct fg_app *app, const struct fg_ctx *ctx,
                           const struct store_overlay *ov, const char *entry, json_t *input,
                           struct lua_sb_result *res);

/** Writes the queued stats of validation hooks now (and applies self-quarantine). */
void fg_overlay_stats_flush(struct fg_app *app);

/**
 * Governance (SPEC §6), inside the caller's transaction `c`:
 *   "registration": activates overlay `id` (pending|suspended → active);
 *   "update": activates overlay `id` (a newer version) and deprecates the other active versions
 *             of its name;
 *   "trust": sets the overlay's trust to `trust`.
 * `name`/`version` (may be NULL) must match the overlay when given. `source` (borrowed) is added
 * to the audit details. *res receives a result object. FG_ENOTFOUND / FG_ECONFLICT / FG_EINVAL
 * with `why` (the proposal fails); store errors otherwise.
 */
enum fg_err fg_overlay_govern_in(struct fg_app *app, const struct fg_ctx *ctx, struct store_conn *c,
                                 const char *kind, const char *id, const char *name,
                                 const char *version, int trust, json_t *source, json_t **res,
                                 char *why, size_t whylen);

/** JSON of an overlay with stats (new reference); the source only when with_source. */
json_t *fg_overlay_json(const struct store_overlay *o, int with_source);

/**
 * How many active overlays validate `op` ("capsule.create" | "capsule.update"): 0 lets the write
 * path skip building the validators' input. The active validators are cached for 1 s (a status
 * change made by this process drops the cache at once; another replica's within the second).
 */
int fg_overlay_validators(struct fg_app *app, const char *op);

/**
 * Validation hooks (manifest `validates`): runs `validate(capsule)` of every active overlay that
 * validates `op` ("capsule.create" | "capsule.update"). `capsule` ({content, type, metadata, ...})
 * is borrowed. Returns 0 when every validator allowed (metadata annotations merged into
 * *metadata_add, a new object or NULL), or 1 with the refusing overlay's name and message.
 * A failing validator refuses when its failure_policy is closed and is skipped when open.
 */
int fg_overlay_validate(struct fg_app *app, const struct fg_ctx *ctx, const char *op,
                        json_t *capsule, json_t **metadata_add, char *overlay, size_t overlaylen,
                        char *msg, size_t msglen);

#endif
