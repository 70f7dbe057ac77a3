/*
 * Manual quarantine of users (SPEC §7.3) and user trust changes made by governance.
 *
 * Quarantine sets a user's trust to `quarantine` (0): the user keeps the account but reads only
 * quarantine-level data, gets the quarantine rate limit and cannot vote. The trust the user had
 * is kept in a quarantine record (store/governance.h) so a release restores it. Each quarantine
 * and release is recorded as an immune response (threat_type "manual", listed by
 * GET /api/v1/immune/responses, counted in forge_immune_responses_total), audited, and emits
 * `user.trust_changed`.
 *
 * The `_in` functions work inside the caller's transaction (governance executes an approved
 * proposal in the transaction that closes it); after the commit the caller calls
 * fg_quarantine_forget_user so the identity cache ("usr:<id>", core/identity.h) does not serve
 * the old trust. The plain functions run their own transaction and do that themselves.
 *
 * Errors: FG_ENOTFOUND (no such user), FG_ECONFLICT (already quarantined; not quarantined; no
 * record of the previous trust), FG_EINVAL (self-quarantine), store errors. `why` (may be NULL)
 * receives a message for the reply.
 */
#ifndef CORE_QUARANTINE_H
#define CORE_QUARANTINE_H

#include <stddef.h>

#include <jansson.h>

#include "store/immune.h"
#include "util/err.h"

struct fg_app;
struct fg_ctx;
struct store_conn;

#define FG_QUARANTINE_REASON_MAX 500 /* characters */

struct fg_quarantine_result {
    char user_id[37];
    int previous_trust; /* before the change */
    int trust;          /* after */
    char response_id[37];
    struct store_immune_response response; /* as recorded (details = NULL) */
};

/** In `c`'s transaction: quarantines a user. `ctx` (may be NULL: the system) is the actor;
 * `source` (borrowed, may be NULL) is merged into the response details (e.g. proposal_id). */
enum fg_err fg_quarantine_user_in(struct fg_app *app, struct store_conn *c,
                                  const struct fg_ctx *ctx, const char *user_id, const char *level,
                                  const char *reason, json_t *source,
                                  struct fg_quarantine_result *out, char *why, size_t whylen);
/** In `c`'s transaction: restores the trust recorded when the user was quarantined. */
enum fg_err fg_quarantine_release_in(struct fg_app *app, struct store_conn *c,
                                     const struct fg_ctx *ctx, const char *user_id,
                                     const char *reason, json_t *source,
                                     struct fg_quarantine_result *out, char *why, size_t whylen);

/** Own-transaction versions (admin API). */
enum fg_err fg_quarantine_user(struct fg_app *app, const struct fg_ctx *ctx, const char *user_id,
                               const char *level, const char *reason,
                               struct fg_quarantine_result *out, char *why, size_t whylen);
enum fg_err fg_quarantine_release(struct fg_app *app, const struct fg_ctx *ctx, const char *user_id,
                                  const char *reason, struct fg_quarantine_result *out, char *why,
                                  size_t whylen);

/**
 * In `c`'s transaction: sets a user's trust, audits it as `action` (actor from `ctx`, or the
 * system) with `details` (borrowed, may be NULL; from/to are added) and emits user.trust_changed
 * when it changed. *from (may be NULL) receives the previous trust. Used by quarantine and by
 * approved trust_adjustment proposals.
 */
enum fg_err fg_user_trust_set_in(struct fg_app *app, struct store_conn *c, const struct fg_ctx *ctx,
                                 const char *user_id, int trust, const char *action,
                                 json_t *details, int *from);

/** After a commit that changed a user's trust: drops the identity cache entry of the user. */
void fg_quarantine_forget_user(struct fg_app *app, const char *user_id);

/** {user_id, trust_level, previous_trust_level, response: immune response} (new reference). */
json_t *fg_quarantine_result_json(const struct fg_quarantine_result *r);

#endif
