/*
 * GDPR rights (issue 14 item 3, SPEC §9, docs/privacy.md): access/portability export, erasure,
 * consent. SQL lives in store/privacy.h; this module orders the steps, audits and emits events.
 *
 * Export: a stream of one JSON document (schema "forge.user-export", FG_EXPORT_SCHEMA_VERSION)
 * produced a page at a time, so memory stays bounded whatever the user holds.
 *
 * Erasure: recorded first in the erasure ledger (ids only, kept apart from the data), then run as
 * a job of short transactions (capsules in batches, votes, account) whose state is stored, so a
 * crash mid-way is resumed by fg_privacy_start; at start every ledger entry whose account is not
 * anonymised in the data (e.g. after `forge restore` of an older backup) is re-applied as well.
 */
#ifndef CORE_PRIVACY_H
#define CORE_PRIVACY_H

#include <stddef.h>
#include <sys/types.h>

#include <jansson.h>

#include "core/ctx.h"
#include "util/err.h"

/* Who acts when erasures are resumed or re-applied without a request (startup). */
#define FG_ERASURE_ACTOR "system:erasure"

struct fg_app;
struct fg_ctx;

#define FG_EXPORT_SCHEMA         "forge.user-export"
#define FG_EXPORT_SCHEMA_VERSION 1
#define FG_CONSENT_PURPOSES_MAX  32
#define FG_ERASE_BATCH           500 /* capsules per erasure transaction */

/** Validates CONSENT_PURPOSES, then resumes unfinished erasures and re-applies the ledger
 * (synchronously, before the server serves). -1 + message on a bad setting. */
int fg_privacy_start(struct fg_app *app, char *err, size_t errlen);

/** Re-applies every ledger entry whose account is not anonymised and finishes every pending
 * erasure job, as `ctx` (the CLI; NULL: FG_ERASURE_ACTOR under a new job id). *applied (may be
 * NULL) = erasures run. */
enum fg_err fg_privacy_reapply(struct fg_app *app, const struct fg_ctx *ctx, int *applied);

/* ---- export -------------------------------------------------------------------------------- */
struct fg_export;
/** Opens the export of `user_id` (FG_ENOTFOUND: no such user). */
struct fg_export *fg_export_open(struct fg_app *app, const char *user_id, enum fg_err *err);
/** Copies up to `max` next bytes of the document into buf: > 0 bytes, 0 at the end, -1 on a
 * store error (the document is then incomplete). */
ssize_t fg_export_read(struct fg_export *x, char *buf, size_t max);
void fg_export_close(struct fg_export *x);

/* ---- erasure ------------------------------------------------------------------------------- */
struct fg_erase_result {
    long long capsules_removed, capsules_tombstoned, votes_anonymised;
    int already; /* the account was already erased (nothing left to do) */
};
/** Erases `user_id` (requested_by "self" | "admin"); idempotent. `ctx` (may be NULL) gives the
 * actor and correlation id of the audit entry (never the client IP). */
enum fg_err fg_privacy_erase(struct fg_app *app, const struct fg_ctx *ctx, const char *user_id,
                             const char *requested_by, struct fg_erase_result *out);

/* ---- consent ------------------------------------------------------------------------------- */
/** 1 if `purpose` is one of CONSENT_PURPOSES. */
int fg_consent_purpose_known(const struct fg_app *app, const char *purpose);
/** {"policy_version", "purposes": [{purpose, granted, policy_version, updated_at}],
 *  "history": [... newest first, at most `history_max`], "history_total"} (new reference). */
enum fg_err fg_consent_get(struct fg_app *app, const char *user_id, long long history_max,
                           json_t **out);
/** Records the changes in `changes` ({purpose: bool}, purposes checked by the caller), one
 * history row each, audited, in one transaction. */
enum fg_err fg_consent_put(struct fg_app *app, const struct fg_ctx *ctx, const char *user_id,
                           json_t *changes);
/** *granted = the current consent of `user_id` for `purpose` (0 when never given): read from
 * the store on every call, so a withdrawal applies at once. */
enum fg_err fg_consent_granted(struct fg_app *app, const char *user_id, const char *purpose,
                               int *granted);

#endif
