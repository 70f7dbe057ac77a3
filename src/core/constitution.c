/* Advisory constitutional review (constitution.h). */
#include "core/constitution.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "core/authz.h"

const char *const fg_principles[] = {
    "knowledge_preservation", "trust_integrity", "transparency", "gradual_change",
    "human_oversight",        "security",        "fairness",     NULL,
};
#define NPRINCIPLES 7

enum sev { SEV_LOW, SEV_MEDIUM, SEV_HIGH, SEV_CRITICAL };
static const char *const sev_names[] = {"low", "medium", "high", "critical"};
static const int sev_penalty[] = {10, 20, 35, 70};

enum principle { KP, TI, TR, GC, HO, SE, FA };

struct review {
    int score[NPRINCIPLES];
    int worst; /* highest severity seen, -1 none */
    json_t *risks, *benefits;
    char first_risk[160];
};

static void risk(struct review *r, enum principle p, enum sev s, const char *rule, const char *fmt,
                 ...) __attribute__((format(printf, 5, 6)));
static void risk(struct review *r, enum principle p, enum sev s, const char *rule, const char *fmt,
                 ...)
{
    char msg[300];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    r->score[p] -= sev_penalty[s];
    if (r->score[p] < 0)
        r->score[p] = 0;
    if ((int)s > r->worst) {
        r->worst = (int)s;
        snprintf(r->first_risk, sizeof r->first_risk, "%.150s", msg);
    }
    json_array_append_new(r->risks,
                          json_pack("{ssssssss}", "principle", fg_principles[p], "severity",
                                    sev_names[s], "rule", rule, "message", msg));
}

static void benefit(struct review *r, enum principle p, const char *rule, const char *msg)
{
    r->score[p] += FG_REVIEW_BENEFIT;
    if (r->score[p] > 100)
        r->score[p] = 100;
    json_array_append_new(r->benefits, json_pack("{ssssss}", "principle", fg_principles[p], "rule",
                                                 rule, "message", msg));
}

static const char *pstr(const json_t *payload, const char *key)
{
    const char *s = json_string_value(json_object_get(payload, key));
    return s ? s : "";
}

/* Level index of a trust value: quarantine 0, sandbox 1, standard 2, trusted 3, core 4. */
static int level_index(int trust)
{
    if (trust >= FG_TRUST_CORE)
        return 4;
    if (trust >= FG_TRUST_TRUSTED)
        return 3;
    if (trust >= FG_TRUST_STANDARD)
        return 2;
    if (trust >= FG_TRUST_SANDBOX)
        return 1;
    return 0;
}

static int parse_num(const char *s, double *out)
{
    if (!s || !*s)
        return -1;
    char *end;
    errno = 0;
    double d = strtod(s, &end);
    if (errno || *end || !isfinite(d))
        return -1;
    *out = d;
    return 0;
}

static void general_rules(struct review *r, const struct fg_review_input *in)
{
    if (in->voting_hours < 1.0)
        risk(r, HO, SEV_HIGH, "short_voting_window",
             "the voting window of %.4g hours is shorter than an hour: few members can take part",
             in->voting_hours);
    else if (in->voting_hours < 24.0)
        risk(r, HO, SEV_MEDIUM, "short_voting_window",
             "the voting window of %.4g hours is shorter than a day: members in other time zones "
             "may miss it",
             in->voting_hours);
    else if (in->voting_hours >= 48.0)
        benefit(r, HO, "long_voting_window", "the voting window leaves members time to deliberate");

    if (in->quorum_ppm < 100000)
        risk(r, FA, SEV_HIGH, "low_quorum",
             "a quorum of %.4g%% lets a small group decide for everyone", in->quorum_ppm / 1e4);
    else if (in->quorum_ppm < 200000)
        risk(r, FA, SEV_MEDIUM, "low_quorum", "a quorum of %.4g%% is below 20%%",
             in->quorum_ppm / 1e4);
    else if (in->quorum_ppm >= 500000)
        benefit(r, FA, "high_quorum", "a quorum of at least half the voting weight");

    if (in->threshold_ppm < 500000)
        risk(r, TI, SEV_HIGH, "low_threshold",
             "an approval threshold of %.4g%% lets a minority of the votes carry the proposal",
             in->threshold_ppm / 1e4);
    else if (in->threshold_ppm >= 660000)
        benefit(r, TI, "supermajority", "the proposal needs a supermajority of the votes");

    if (in->description_chars < 50)
        risk(r, TR, SEV_MEDIUM, "thin_description",
             "the description has %zu characters: voters cannot judge what they approve",
             in->description_chars);
    else if (in->description_chars >= 200)
        benefit(r, TR, "explained", "the description explains the proposal in detail");
}

static void trust_rules(struct review *r, const struct fg_review_input *in)
{
    const char *tt = pstr(in->payload, "target_type");
    const char *tid = pstr(in->payload, "target_id");
    int to = fg_trust_from_name(pstr(in->payload, "proposed_trust"));
    const char *reason = pstr(in->payload, "reason");
    if (strlen(reason) < 20)
        risk(r, TR, SEV_LOW, "short_reason", "the reason for the trust change is very short");
    if (strcmp(tt, "overlay") == 0) {
        risk(r, SE, SEV_MEDIUM, "overlay_trust",
             "an overlay's trust bounds what its code reads and writes (docs/overlays.md)");
        return;
    }
    if (to < 0)
        return;
    if (in->target_trust < 0) {
        risk(r, TR, SEV_MEDIUM, "unknown_target", "the target could not be found");
        return;
    }
    int from = in->target_trust;
    int steps = level_index(to) - level_index(from);
    if (steps == 0) {
        risk(r, GC, SEV_LOW, "no_change", "the target already has trust level %s",
             fg_trust_name(to));
        return;
    }
    if (abs(steps) >= 2)
        risk(r, GC, SEV_MEDIUM, "large_step",
             "the change skips %d trust levels (%s → %s); one level at a time is safer",
             abs(steps) - 1, fg_trust_name(from), fg_trust_name(to));
    else
        benefit(r, GC, "one_step", "the change moves one trust level");
    if (strcmp(tt, "user") == 0) {
        if (in->proposer_id && strcmp(in->proposer_id, tid) == 0 && steps > 0)
            risk(r, TI, SEV_CRITICAL, "self_promotion",
                 "the proposal raises the proposer's own trust");
        if (to >= FG_TRUST_CORE)
            risk(r, TI, SEV_HIGH, "grants_core",
                 "core is the highest trust level: it may propose emergency actions");
        if (to == FG_TRUST_QUARANTINE) {
            benefit(r, SE, "contains_threat", "quarantine stops a member who may be a threat");
            risk(r, FA, SEV_MEDIUM, "restricts_member",
                 "quarantine takes away the member's vote and most access: make sure they were "
                 "heard");
        } else if (steps < 0) {
            benefit(r, SE, "least_privilege", "lowering trust follows least privilege");
            risk(r, FA, SEV_LOW, "restricts_member", "the member loses access and voting weight");
        } else {
            benefit(r, FA, "recognises_member", "recognises a member's contribution");
        }
        if (in->target_is_admin && steps < 0)
            risk(r, HO, SEV_MEDIUM, "targets_admin",
                 "the target is an administrator: their oversight role is affected");
    } else { /* capsule */
        if (steps < 0) {
            benefit(r, KP, "wider_access", "more members can read the capsule");
            if (level_index(from) >= 3 && level_index(to) <= 2)
                risk(r, SE, SEV_HIGH, "exposes_restricted",
                     "knowledge restricted to %s members becomes readable at %s",
                     fg_trust_name(from), fg_trust_name(to));
        } else {
            risk(r, KP, SEV_LOW, "narrower_access", "fewer members can read the capsule");
            benefit(r, SE, "protects_knowledge", "sensitive knowledge is better protected");
        }
    }
}

static void config_rules(struct review *r, const struct fg_review_input *in)
{
    const char *key = pstr(in->payload, "key");
    const json_t *jv = json_object_get(in->payload, "value");
    char val[64] = "";
    if (json_is_string(jv))
        snprintf(val, sizeof val, "%s", json_string_value(jv));
    else if (json_is_integer(jv))
        snprintf(val, sizeof val, "%lld", (long long)json_integer_value(jv));
    else if (json_is_real(jv))
        snprintf(val, sizeof val, "%.17g", json_real_value(jv));
    else if (json_is_boolean(jv))
        snprintf(val, sizeof val, "%s", json_is_true(jv) ? "true" : "false");
    benefit(r, HO, "voted_change", "a runtime change decided by vote, not by one operator");
    if (strncmp(key, "FEATURE_", 8) == 0) {
        int on = strcasecmp(val, "true") == 0 || strcmp(val, "1") == 0 ||
                 strcasecmp(val, "yes") == 0 || strcasecmp(val, "on") == 0;
        if (on)
            risk(r, SE, SEV_MEDIUM, "enables_feature",
                 "enabling %s exposes new functionality (overlays run extension code)", key);
        else
            risk(r, KP, SEV_LOW, "disables_feature",
                 "disabling %s stops functionality members may rely on", key);
        return;
    }
    double cur, nv;
    if (parse_num(in->current_value, &cur) != 0 || parse_num(val, &nv) != 0)
        return;
    if (cur == nv) {
        risk(r, GC, SEV_LOW, "no_change", "%s already has the value %s", key, val);
        return;
    }
    if (cur > 0 && nv > 0) {
        double ratio = nv > cur ? nv / cur : cur / nv;
        if (ratio > 10.0)
            risk(r, GC, SEV_HIGH, "large_change",
                 "%s changes by more than a factor of 10 (%s → %s)", key, in->current_value, val);
        else if (ratio > 2.0)
            risk(r, GC, SEV_MEDIUM, "large_change",
                 "%s changes by more than a factor of 2 (%s → %s)", key, in->current_value, val);
        else
            benefit(r, GC, "small_change", "the setting changes by at most a factor of 2");
    }
    if (strncmp(key, "RATE_LIMIT_", 11) == 0) {
        if (nv < cur)
            risk(r, FA, SEV_LOW, "fewer_requests", "members get fewer requests per minute");
        else
            risk(r, SE, SEV_LOW, "weaker_limits", "higher limits weaken protection against abuse");
    } else if (strcmp(key, "GOVERNANCE_MIN_VOTING_HOURS") == 0) {
        if (nv < cur)
            risk(r, HO, SEV_HIGH, "shorter_votes",
                 "shorter minimum voting windows let proposals pass before members notice");
        else
            benefit(r, HO, "longer_votes", "longer minimum voting windows give members time");
    } else if (strcmp(key, "SEARCH_MIN_SCORE") == 0 && nv > cur) {
        risk(r, KP, SEV_LOW, "fewer_results", "a higher minimum score hides weaker matches");
    } else if (strcmp(key, "HNSW_EF_SEARCH") == 0 && nv < cur) {
        risk(r, KP, SEV_LOW, "lower_recall", "a smaller search beam may miss relevant knowledge");
    }
}

static int contains_ci(const char *hay, const char *needle)
{
    size_t n = strlen(needle);
    for (const char *p = hay; *p; p++)
        if (strncasecmp(p, needle, n) == 0)
            return 1;
    return 0;
}

static void policy_rules(struct review *r, const struct fg_review_input *in)
{
    static const char *const red_flags[] = {"disable audit", "delete all",   "bypass",
                                            "no review",     "without vote", NULL};
    const char *content = pstr(in->payload, "content");
    benefit(r, KP, "recorded_policy", "the policy is kept as a policy capsule");
    benefit(r, TR, "written_rule", "a written rule everyone can read");
    if (strlen(content) < 100)
        risk(r, TR, SEV_LOW, "short_policy", "the policy text is very short");
    for (size_t i = 0; red_flags[i]; i++)
        if (contains_ci(content, red_flags[i])) {
            risk(r, SE, SEV_MEDIUM, "red_flag",
                 "the policy text mentions \"%s\": check it does not weaken safeguards",
                 red_flags[i]);
            break;
        }
}

static void overlay_rules(struct review *r, const struct fg_review_input *in)
{
    (void)in;
    risk(r, SE, SEV_MEDIUM, "runs_code", "overlays run extension code in the sandbox");
    risk(r, TR, SEV_LOW, "overlay_activation",
         "approval activates the named overlay version (overlay_update also deprecates the "
         "other active versions of its name)");
}

static void emergency_rules(struct review *r, const struct fg_review_input *in)
{
    const char *action = pstr(in->payload, "action");
    risk(r, GC, SEV_MEDIUM, "emergency", "an emergency action takes effect at once when approved");
    if (in->voting_hours < 24.0)
        risk(r, HO, SEV_MEDIUM, "rushed", "emergency with a short vote: little time for oversight");
    if (strcmp(action, "quarantine_user") == 0) {
        benefit(r, SE, "contains_threat", "quarantine stops a member who may be a threat");
        risk(r, FA, SEV_MEDIUM, "restricts_member",
             "quarantine takes away the member's vote and most access");
        if (in->target_is_admin)
            risk(r, HO, SEV_MEDIUM, "targets_admin", "the target is an administrator");
    } else if (strcmp(action, "block_ip") == 0) {
        benefit(r, SE, "blocks_attack", "blocks a client address that may be attacking");
        risk(r, FA, SEV_LOW, "shared_address",
             "an address can be shared by many people (NAT, proxies)");
    }
}

json_t *fg_constitution_review(const struct fg_review_input *in)
{
    struct review r;
    memset(&r, 0, sizeof r);
    r.worst = -1;
    for (size_t i = 0; i < NPRINCIPLES; i++)
        r.score[i] = FG_REVIEW_BASELINE;
    r.risks = json_array();
    r.benefits = json_array();

    general_rules(&r, in);
    const char *t = in->type ? in->type : "";
    if (strcmp(t, "trust_adjustment") == 0)
        trust_rules(&r, in);
    else if (strcmp(t, "configuration") == 0)
        config_rules(&r, in);
    else if (strcmp(t, "policy") == 0)
        policy_rules(&r, in);
    else if (strncmp(t, "overlay_", 8) == 0)
        overlay_rules(&r, in);
    else if (strcmp(t, "emergency") == 0)
        emergency_rules(&r, in);

    int min = 100, min_p = 0;
    json_t *scores = json_object();
    for (int i = 0; i < NPRINCIPLES; i++) {
        json_object_set_new(scores, fg_principles[i], json_integer(r.score[i]));
        if (r.score[i] < min) {
            min = r.score[i];
            min_p = i;
        }
    }
    const char *rec;
    char why[400];
    if (r.worst == SEV_CRITICAL || min < FG_REVIEW_REJECT_BELOW) {
        rec = "reject";
        if (r.worst == SEV_CRITICAL)
            snprintf(why, sizeof why, "a critical risk: %s", r.first_risk);
        else
            snprintf(why, sizeof why, "%s scores %d, below %d", fg_principles[min_p], min,
                     FG_REVIEW_REJECT_BELOW);
    } else if (r.worst == SEV_HIGH || min < FG_REVIEW_REVIEW_BELOW) {
        rec = "review";
        if (r.worst == SEV_HIGH)
            snprintf(why, sizeof why, "a high risk: %s", r.first_risk);
        else
            snprintf(why, sizeof why, "%s scores %d, below %d", fg_principles[min_p], min,
                     FG_REVIEW_REVIEW_BELOW);
    } else {
        rec = "approve";
        snprintf(why, sizeof why, "no high or critical risk and every principle scores at least %d",
                 FG_REVIEW_REVIEW_BELOW);
    }
    char expl[700];
    snprintf(expl, sizeof expl,
             "Advisory only: rule-based review (rules v%d) found %zu risk%s and %zu benefit%s; "
             "recommendation %s: %s.",
             FG_REVIEW_RULES_VERSION, json_array_size(r.risks),
             json_array_size(r.risks) == 1 ? "" : "s", json_array_size(r.benefits),
             json_array_size(r.benefits) == 1 ? "" : "s", rec, why);
    return json_pack("{sbsisssosososo}", "is_advisory", 1, "rules_version", FG_REVIEW_RULES_VERSION,
                     "recommendation", rec, "principle_scores", scores, "risks", r.risks,
                     "benefits", r.benefits, "explanation", json_string(expl));
}
