/*
 * Advisory constitutional review of a proposal (SPEC §6): a deterministic, rule-based analysis
 * against the seven principles of the Forge constitution. No network, no randomness: the same
 * proposal in the same context always gets the same review, and every point of the review names
 * the rule that produced it. The review is advice for voters (`is_advisory: true`); it never
 * blocks a proposal.
 *
 * Scoring: every principle starts at FG_REVIEW_BASELINE; each benefit adds FG_REVIEW_BENEFIT
 * (capped at 100) and each risk subtracts by severity (low 10, medium 20, high 35, critical 70;
 * floored at 0). Recommendation: `reject` when a risk is critical or a score is below
 * FG_REVIEW_REJECT_BELOW; `review` when a risk is high or a score is below FG_REVIEW_REVIEW_BELOW;
 * `approve` otherwise. The rules are listed in docs/governance.md.
 */
#ifndef CORE_CONSTITUTION_H
#define CORE_CONSTITUTION_H

#include <stddef.h>

#include <jansson.h>

#define FG_REVIEW_RULES_VERSION 1
#define FG_REVIEW_BASELINE      80
#define FG_REVIEW_BENEFIT       10
#define FG_REVIEW_REJECT_BELOW  40
#define FG_REVIEW_REVIEW_BELOW  55

/** The seven principles, in the order reported, NULL-terminated. */
extern const char *const fg_principles[];

/** What the review looks at. Context fields are filled by the caller from the live state. */
struct fg_review_input {
    const char *type;      /* proposal type */
    const json_t *payload; /* validated typed payload (borrowed) */
    double voting_hours;
    int quorum_ppm, threshold_ppm;
    size_t description_chars;
    const char *proposer_id;
    /* context; -1 / NULL when unknown or not applicable */
    int target_trust;          /* trust_adjustment: the target's current trust value */
    int target_is_admin;       /* the targeted user holds the admin role */
    const char *current_value; /* configuration: the setting's current value */
};

/**
 * The review as JSON (new reference): {is_advisory: true, rules_version, recommendation,
 * principle_scores{principle: 0..100}, risks[{principle, severity, rule, message}],
 * benefits[{principle, rule, message}], explanation}.
 */
json_t *fg_constitution_review(const struct fg_review_input *in);

#endif
