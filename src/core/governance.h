/*
 * Governance (SPEC §6): proposals, trust-weighted votes, closing by quorum and threshold, and the
 * execution of approved proposals. No SQL and no HTTP here: the store (store/governance.h) keeps
 * the rows, the API (api/governance.c) turns requests into calls and results into JSON.
 *
 * Lifecycle: draft → active (activation fixes the eligible weight and the deadline and stores the
 * advisory review, core/constitution.h) → approved | rejected when the deadline passes →
 * executed | failed (approved ones, in the same transaction as the close). A proposer may cancel
 * while draft or active (before the deadline).
 *
 * Exactness: weights are integers in half units (fg_gov_weight2), quorum and threshold parts per
 * million, and the decision compares integer cross products, so the boundaries (exactly 30 %,
 * exactly 50 %) are decided exactly. Tallies are summed from the stored votes on every read.
 *
 * Closing: a background thread (fg_gov_start) closes due proposals every
 * GOVERNANCE_CLOSE_INTERVAL_S; reads close a due proposal first (fg_gov_get, fg_gov_list,
 * fg_gov_vote), so results never wait for the thread. Closing is serialised in the process and
 * conditional in the store, so it happens exactly once.
 *
 * Errors: FG_EINVAL (why->field names the field), FG_ENOTFOUND, FG_EFORBIDDEN (why->rule:
 * "trust", "proposer_or_admin", "proposer", "quarantine", "electorate", "self_promotion"),
 * FG_ECONFLICT (why->rule: "status", "deadline"), FG_EUNAVAIL / FG_EDB from the store. why->message
 * is a sentence for the reply.
 */
#ifndef CORE_GOVERNANCE_H
#define CORE_GOVERNANCE_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "core/ctx.h"
#include "store/governance.h"
#include "util/err.h"

struct fg_app;

/* Who acts when an approved proposal is executed (audit actor_id of closes and executions). */
#define FG_GOV_ACTOR                 "system:governance"
#define FG_GOV_TITLE_MAX             200        /* characters */
#define FG_GOV_DESCRIPTION_MAX       10000      /* characters */
#define FG_GOV_REASONING_MAX         2000       /* characters of a vote's reasoning */
#define FG_GOV_REASON_MAX            2000       /* characters of a payload's reason */
#define FG_GOV_TARGET_ID_MAX         128        /* characters of an overlay id */
#define FG_GOV_PAYLOAD_MAX           (1u << 21) /* bytes of compact payload JSON */
#define FG_GOV_MAX_VOTING_HOURS      168.0
#define FG_GOV_DEFAULT_VOTING_HOURS  72.0
#define FG_GOV_PPM                   1000000
#define FG_GOV_DEFAULT_QUORUM_PPM    300000    /* 0.30 */
#define FG_GOV_DEFAULT_THRESHOLD_PPM 500000    /* 0.50 */
#define FG_GOV_CLOSE_BATCH           100       /* due proposals closed per pass */
#define FG_GOV_SETTING_PREFIX        "config:" /* persisted runtime settings: settings.key */
/* Changes to governance's own settings (configuration proposals on a GOVERNANCE_* key) need a
 * supermajority: at least this quorum and this approval, whatever the community floors are.
 * 666 666 ppm is two thirds rounded down to the ppm, so an exact 2 : 1 vote passes. */
#define FG_GOV_SUPER_QUORUM_PPM    500000
#define FG_GOV_SUPER_THRESHOLD_PPM 666666
#define FG_GOV_META_PREFIX         "GOVERNANCE_"

/** The proposal types of SPEC §6, NULL-terminated. */
extern const char *const fg_gov_types[];
/** The runtime settings a configuration proposal may change, NULL-terminated. */
extern const char *const fg_gov_config_whitelist[];
/** 1 if `key` is in fg_gov_config_whitelist. */
int fg_gov_config_allowed(const char *key);

/** 1 when a proposal of `type` with `payload` changes governance's own settings (a
 * configuration proposal on a GOVERNANCE_* key): it needs a supermajority. */
int fg_gov_is_meta(const char *type, const json_t *payload);
/** The community floors now (GOVERNANCE_QUORUM, GOVERNANCE_APPROVAL_THRESHOLD) in ppm. */
int fg_gov_quorum_floor_ppm(struct fg_app *app);
int fg_gov_threshold_floor_ppm(struct fg_app *app);

/** Minimum trust value to propose `type` (SPEC §6), or -1 for an unknown type. */
int fg_gov_min_trust(const char *type);
/** Voting weight in half units of a trust value: core 10, trusted 6, standard 2, sandbox 1,
 * quarantine (and anything below sandbox) 0. */
int fg_gov_weight2(int trust);
/** Proportion (0..1, resolution 1e-6) → parts per million, rounded to the nearest. */
int fg_gov_ppm(double x);

struct fg_gov_outcome {
    int64_t cast2;         /* for + against + abstain */
    double participation;  /* cast / eligible (0 when nothing is eligible) */
    double approval;       /* for / (for + against) (0 when neither) */
    int quorum_reached;    /* cast × 1e6 ≥ quorum_ppm × eligible */
    int threshold_reached; /* for × 1e6 ≥ threshold_ppm × (for + against) */
    int approved;          /* both */
};
/** The decision of SPEC §6 on half-unit weights (pure). */
void fg_gov_decide(int64_t for2, int64_t against2, int64_t abstain2, int64_t eligible2,
                   int quorum_ppm, int threshold_ppm, struct fg_gov_outcome *out);

struct fg_gov_why {
    char field[64]; /* FG_EINVAL: "title", "payload.proposed_trust", ... */
    char message[320];
    const char *rule;
    int required_trust; /* rule "trust" */
};

/** Validates the typed payload of `type` (format only; FG_EINVAL with why->field). */
enum fg_err fg_gov_validate_payload(const char *type, const json_t *payload,
                                    struct fg_gov_why *why);

/** Fields of a new proposal (validated by the caller except the payload). Borrowed. */
struct fg_gov_new {
    const char *title;
    const char *description;
    const char *type;
    const json_t *payload;
    double voting_hours; /* ≤ 0: FG_GOV_DEFAULT_VOTING_HOURS */
    int quorum_ppm;      /* < 0: the community's; else at least the community floor */
    int threshold_ppm;   /* < 0: the community's; else at least the community floor */
};

/**
 * Creates a draft proposed by the actor: trust gate of the type (FG_EFORBIDDEN, rule "trust",
 * why->required_trust), payload validation and existence of its targets (FG_EINVAL). `out`
 * (zeroed by the caller) receives it; release with store_proposal_clear.
 */
enum fg_err fg_gov_create(struct fg_app *app, const struct fg_ctx *a, const struct fg_gov_new *in,
                          struct store_proposal *out, struct fg_gov_why *why);
/** One proposal with tallies; a due one is closed (and executed) first, under the correlation id
 * of `ctx` (may be NULL). */
enum fg_err fg_gov_get(struct fg_app *app, const struct fg_ctx *ctx, const char *id,
                       struct store_proposal *out);
/** A page of proposals, newest first; due ones are closed first. */
enum fg_err fg_gov_list(struct fg_app *app, const struct fg_ctx *actx,
                        const struct store_proposal_filter *f, long long page, long long per_page,
                        store_proposal_cb cb, void *ctx, long long *total);
/** draft → active (proposer or admin). */
enum fg_err fg_gov_activate(struct fg_app *app, const struct fg_ctx *a, const char *id,
                            struct store_proposal *out, struct fg_gov_why *why);
/** draft|active → cancelled (the proposer, before the deadline). */
enum fg_err fg_gov_cancel(struct fg_app *app, const struct fg_ctx *a, const char *id,
                          struct store_proposal *out, struct fg_gov_why *why);
/**
 * Casts or changes the actor's vote ("for"|"against"|"abstain"; reasoning may be NULL) with the
 * weight of the voter's stored trust. *created = 1 for a first vote. *vote_json (new reference)
 * is the stored vote.
 */
enum fg_err fg_gov_vote(struct fg_app *app, const struct fg_ctx *a, const char *id,
                        const char *vote, const char *reasoning, json_t **vote_json, int *created,
                        struct fg_gov_why *why);
/** The votes of a proposal (FG_ENOTFOUND when it does not exist), in casting order. */
enum fg_err fg_gov_votes(struct fg_app *app, const char *id, long long page, long long per_page,
                         store_vote_cb cb, void *ctx, long long *total);
/** Closes every due proposal (and executes the approved ones) as the system (FG_GOV_ACTOR) under
 * the correlation id of `ctx` (may be NULL: a new job id per proposal). *closed (may be NULL). */
enum fg_err fg_gov_close_due(struct fg_app *app, const struct fg_ctx *ctx, int *closed);
enum fg_err fg_gov_stats(struct fg_app *app, struct store_governance_stats *out);

/** API representation of a proposal with tallies, participation and approval (new ref). */
json_t *fg_gov_proposal_json(const struct store_proposal *p);
/** API representation of a vote (new reference). */
json_t *fg_gov_vote_json(const struct store_vote *v);

/** Applies the persisted runtime settings (approved configuration proposals) to app->cfg. */
enum fg_err fg_gov_apply_settings(struct fg_app *app);
/** Applies persisted settings and starts the closing thread (app->governance). -1 + message. */
int fg_gov_start(struct fg_app *app, char *err, size_t errlen);
/** Stops the closing thread. Safe when not started. */
void fg_gov_stop(struct fg_app *app);

#endif
