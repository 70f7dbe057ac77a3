/*
 * Store area: governance (SPEC §6) — proposals, votes, quarantine records of the immune system
 * (SPEC §7.3, the trust to restore on release) and the persisted runtime settings that approved
 * configuration proposals change. Implemented per backend (store/sqlite/governance.c).
 *
 * Weights are stored as integers in half units ("weight2": core 10, trusted 6, standard 2,
 * sandbox 1) so every sum is exact; quorum and approval threshold as parts per million. Tallies
 * are never stored: every read sums the vote rows (votes cannot change once a proposal left
 * `active`), so a tally always equals the sum of the stored votes.
 *
 * State transitions are conditional updates ("... WHERE status = 'draft'"): when the row is not
 * in the expected state they change nothing and answer FG_ECONFLICT, so two racing closers or a
 * cancel racing a close cannot both win. Rules (who may do what, the decision) live in
 * src/core/governance.c. Times are ms since the epoch.
 *
 * Ownership: `struct store_proposal` owns its heap fields (title, description, payload, review,
 * execution_result); release with store_proposal_clear. Callback rows are borrowed for the call.
 */
#ifndef STORE_GOVERNANCE_H
#define STORE_GOVERNANCE_H

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "util/err.h"

struct store_conn;

#define STORE_PROPOSAL_TYPE_MAX   24
#define STORE_PROPOSAL_STATUS_MAX 12

struct store_proposal {
    char id[37];
    char *title;
    char *description;
    char type[STORE_PROPOSAL_TYPE_MAX];
    char *payload; /* JSON object text */
    char proposer_id[37];
    char status
        [STORE_PROPOSAL_STATUS_MAX]; /* draft|active|approved|rejected|executed|failed|cancelled
                                      */
    double voting_duration_hours;
    int quorum_ppm;           /* 0..1000000 */
    int threshold_ppm;        /* 0..1000000 */
    int64_t eligible_weight2; /* fixed at activation; -1 before */
    char *review;             /* advisory review JSON, NULL before activation */
    char *execution_result;   /* JSON, NULL until executed or failed */
    int64_t created_at, updated_at;
    int64_t activated_at, voting_ends_at, closed_at, executed_at, cancelled_at; /* 0 = not yet */
    /* tallies, summed from the vote rows on every read (half units) */
    int64_t for2, against2, abstain2;
    int64_t voters;
};

static inline void store_proposal_clear(struct store_proposal *p)
{
    free(p->title);
    free(p->description);
    free(p->payload);
    free(p->review);
    free(p->execution_result);
    memset(p, 0, sizeof *p);
}

struct store_vote {
    char proposal_id[37];
    char voter_id[37];
    char vote[8]; /* for|against|abstain */
    int weight2;  /* half units */
    int voter_trust;
    const char *reasoning; /* borrowed on put; borrowed from the row in callbacks */
    int64_t created_at, updated_at;
};

/** Filters of list(); NULL fields do not filter. */
struct store_proposal_filter {
    const char *status;
    const char *type;
    const char *proposer_id;
};

/** Numbers for GET /governance/metrics. */
struct store_governance_stats {
    long long by_status[7]; /* in the order of store_proposal_statuses */
    long long total;
    long long votes; /* vote rows */
    int has_mean;    /* 0 when no proposal has closed */
    double mean_participation;
};

/** Quarantine record: the trust a release restores. */
struct store_quarantine {
    char id[37]; /* the immune response that opened it */
    char target_type[16];
    char target_id[128];
    int previous_trust;
    const char *reason; /* borrowed on open; NULL in reads */
    int64_t created_at;
    int64_t released_at; /* 0 while open */
};

/** The statuses in a fixed order (index of store_governance_stats.by_status), NULL-terminated. */
extern const char *const store_proposal_statuses[];

typedef int (*store_proposal_cb)(const struct store_proposal *p, void *ctx);
typedef int (*store_vote_cb)(const struct store_vote *v, void *ctx);
typedef void (*store_trust_count_cb)(void *ctx, int trust, long long users);
typedef void (*store_setting_cb)(void *ctx, const char *key, const char *value);

struct store_governance_ops {
    /** Inserts a proposal in `draft` (status, times and ids already set). */
    enum fg_err (*create)(struct store_conn *c, const struct store_proposal *p);
    /** One proposal with its tallies. FG_ENOTFOUND when absent. `out` must be zeroed. */
    enum fg_err (*get)(struct store_conn *c, const char *id, struct store_proposal *out);
    /** Newest first, rows [offset, offset+limit) through cb; *total counts all matches. */
    enum fg_err (*list)(struct store_conn *c, const struct store_proposal_filter *f,
                        long long offset, long long limit, store_proposal_cb cb, void *ctx,
                        long long *total);
    /** draft → active with the eligible weight, deadline and advisory review. FG_ECONFLICT when
     * the proposal is not a draft. */
    enum fg_err (*activate)(struct store_conn *c, const char *id, int64_t eligible_weight2,
                            int64_t at, int64_t ends_at, const char *review);
    /** draft|active → cancelled. FG_ECONFLICT otherwise. */
    enum fg_err (*cancel)(struct store_conn *c, const char *id, int64_t at);
    /** active → approved|rejected. FG_ECONFLICT when not active. */
    enum fg_err (*close)(struct store_conn *c, const char *id, const char *status, int64_t at);
    /** approved → executed|failed with the result JSON. FG_ECONFLICT when not approved. */
    enum fg_err (*finish)(struct store_conn *c, const char *id, const char *status,
                          const char *result, int64_t at);
    /** Ids of active proposals whose deadline is ≤ now, oldest deadline first, at most `limit`.
     * cb returns non-zero to stop. */
    enum fg_err (*due)(struct store_conn *c, int64_t now, long long limit,
                       int (*cb)(const char *id, void *ctx), void *ctx);
    enum fg_err (*stats)(struct store_conn *c, struct store_governance_stats *out);

    /** A voter's vote on a proposal. FG_ENOTFOUND when none. v->reasoning is NULL here. */
    enum fg_err (*vote_get)(struct store_conn *c, const char *proposal_id, const char *voter_id,
                            struct store_vote *out);
    /** Inserts (`insert`) or replaces a vote. Insert of an existing vote: FG_ECONFLICT. */
    enum fg_err (*vote_put)(struct store_conn *c, const struct store_vote *v, int insert);
    /** Votes of a proposal in the order they were first cast; *total = their number. */
    enum fg_err (*votes_list)(struct store_conn *c, const char *proposal_id, long long offset,
                              long long limit, store_vote_cb cb, void *ctx, long long *total);

    /** Active (not disabled) accounts counted per trust value: the eligible voting weight is
     * computed from this by the core. */
    enum fg_err (*trust_counts)(struct store_conn *c, store_trust_count_cb cb, void *ctx);

    /** Savepoints: execution of an approved proposal runs inside one so a failed execution
     * undoes its partial writes while the status change to `failed` still commits. */
    enum fg_err (*savepoint)(struct store_conn *c);
    enum fg_err (*savepoint_release)(struct store_conn *c);
    enum fg_err (*savepoint_rollback)(struct store_conn *c);

    /** Persisted runtime settings (table `settings`): upsert one key; call back every key that
     * starts with `prefix`. */
    enum fg_err (*setting_put)(struct store_conn *c, const char *key, const char *value);
    enum fg_err (*settings_list)(struct store_conn *c, const char *prefix, store_setting_cb cb,
                                 void *ctx);

    /** Opens a quarantine record. FG_ECONFLICT when the target already has an open one. */
    enum fg_err (*quarantine_open)(struct store_conn *c, const struct store_quarantine *q);
    /** The open record of a target. FG_ENOTFOUND when none. */
    enum fg_err (*quarantine_get_open)(struct store_conn *c, const char *target_type,
                                       const char *target_id, struct store_quarantine *out);
    /** Closes the open record `id`. FG_ECONFLICT when it is not open. */
    enum fg_err (*quarantine_release)(struct store_conn *c, const char *id, const char *release_id,
                                      int64_t at);

    /* ---- issue 11 (docs/security.md) ---- */
    /** Sets the rules a draft is voted under (snapshot at activation): quorum, threshold and
     * voting duration. FG_ECONFLICT when the proposal is not a draft. */
    enum fg_err (*set_rules)(struct store_conn *c, const char *id, int quorum_ppm,
                             int threshold_ppm, double voting_hours);
    /** Records the electorate of proposal `id`: every active (not disabled) account with a trust
     * of at least sandbox, with its weight (fg_gov_weight2) and trust now. *eligible_weight2 =
     * the sum of the weights recorded. */
    enum fg_err (*electorate_snapshot)(struct store_conn *c, const char *id,
                                       int64_t *eligible_weight2);
    /** A voter's entry in the electorate of a proposal. FG_ENOTFOUND when not in it. */
    enum fg_err (*electorate_get)(struct store_conn *c, const char *id, const char *user_id,
                                  int *weight2, int *trust);
};

#endif
