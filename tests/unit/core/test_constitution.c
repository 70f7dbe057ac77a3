/*
 * Advisory constitutional review (core/constitution.c): shape (seven principles, scores 0..100,
 * is_advisory), determinism, and the rules that decide the recommendation — self-promotion is a
 * critical risk (reject), granting core or a large configuration jump is high (review), a
 * well-explained policy with a long vote is approved.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <jansson.h>

#include "core/authz.h"
#include "core/constitution.h"

#define ME    "0190a000-0000-7000-8000-000000000001"
#define OTHER "0190a000-0000-7000-8000-000000000002"

static struct fg_review_input base(const char *type, json_t *payload)
{
    struct fg_review_input in;
    memset(&in, 0, sizeof in);
    in.type = type;
    in.payload = payload;
    in.voting_hours = 72;
    in.quorum_ppm = 300000;
    in.threshold_ppm = 500000;
    in.description_chars = 250;
    in.proposer_id = ME;
    in.target_trust = -1;
    return in;
}

static const char *rec(json_t *r)
{
    return json_string_value(json_object_get(r, "recommendation"));
}

static int has_rule(json_t *arr, const char *rule)
{
    size_t i;
    json_t *v;
    json_array_foreach(arr, i, v)
    {
        if (strcmp(json_string_value(json_object_get(v, "rule")), rule) == 0)
            return 1;
    }
    return 0;
}

static void test_shape_and_determinism(void **state)
{
    (void)state;
    json_t *pl = json_pack("{ssss}", "title", "Citations", "content",
                           "Every capsule that summarises a source must cite it, so "
                           "readers can check the original and judge it themselves.");
    struct fg_review_input in = base("policy", pl);
    json_t *a = fg_constitution_review(&in);
    json_t *b = fg_constitution_review(&in);
    char *sa = json_dumps(a, JSON_SORT_KEYS), *sb = json_dumps(b, JSON_SORT_KEYS);
    assert_string_equal(sa, sb);
    free(sa);
    free(sb);
    assert_true(json_is_true(json_object_get(a, "is_advisory")));
    json_t *scores = json_object_get(a, "principle_scores");
    assert_int_equal(json_object_size(scores), 7);
    for (size_t i = 0; fg_principles[i]; i++) {
        json_int_t s = json_integer_value(json_object_get(scores, fg_principles[i]));
        assert_true(s >= 0 && s <= 100);
    }
    assert_string_equal(rec(a), "approve");
    assert_true(has_rule(json_object_get(a, "benefits"), "recorded_policy"));
    assert_non_null(strstr(json_string_value(json_object_get(a, "explanation")), "Advisory"));
    json_decref(a);
    json_decref(b);
    json_decref(pl);
}

static void test_trust_rules(void **state)
{
    (void)state;
    json_t *pl = json_pack("{ssssssss}", "target_type", "user", "target_id", ME, "proposed_trust",
                           "core", "reason", "I deserve it because I am great");
    struct fg_review_input in = base("trust_adjustment", pl);
    in.target_trust = FG_TRUST_TRUSTED;
    json_t *r = fg_constitution_review(&in);
    assert_string_equal(rec(r), "reject"); /* self-promotion is critical */
    assert_true(has_rule(json_object_get(r, "risks"), "self_promotion"));
    assert_true(has_rule(json_object_get(r, "risks"), "grants_core"));
    json_decref(r);
    json_decref(pl);

    pl = json_pack("{ssssssss}", "target_type", "user", "target_id", OTHER, "proposed_trust",
                   "core", "reason", "maintains the instance since years");
    in = base("trust_adjustment", pl);
    in.target_trust = FG_TRUST_TRUSTED;
    r = fg_constitution_review(&in);
    assert_string_equal(rec(r), "review"); /* core is a high risk, not critical */
    json_decref(r);
    json_decref(pl);

    pl = json_pack("{ssssssss}", "target_type", "user", "target_id", OTHER, "proposed_trust",
                   "trusted", "reason", "has reviewed capsules for a year");
    in = base("trust_adjustment", pl);
    in.target_trust = FG_TRUST_SANDBOX; /* two levels up */
    r = fg_constitution_review(&in);
    assert_true(has_rule(json_object_get(r, "risks"), "large_step"));
    json_decref(r);
    in.target_trust = FG_TRUST_STANDARD; /* one level */
    r = fg_constitution_review(&in);
    assert_true(has_rule(json_object_get(r, "benefits"), "one_step"));
    assert_string_equal(rec(r), "approve");
    json_decref(r);
    json_decref(pl);

    pl = json_pack("{ssssssss}", "target_type", "capsule", "target_id", OTHER, "proposed_trust",
                   "standard", "reason", "nothing in it is sensitive anymore");
    in = base("trust_adjustment", pl);
    in.target_trust = FG_TRUST_CORE;
    r = fg_constitution_review(&in);
    assert_true(has_rule(json_object_get(r, "risks"), "exposes_restricted"));
    assert_string_equal(rec(r), "review");
    json_decref(r);
    json_decref(pl);
}

static void test_general_and_config_rules(void **state)
{
    (void)state;
    json_t *pl = json_pack("{sssi}", "key", "RATE_LIMIT_STANDARD", "value", 20000);
    struct fg_review_input in = base("configuration", pl);
    in.current_value = "1000";
    json_t *r = fg_constitution_review(&in);
    assert_true(has_rule(json_object_get(r, "risks"), "large_change")); /* ×20 */
    assert_string_equal(rec(r), "review");
    json_decref(r);
    json_decref(pl);

    pl = json_pack("{sssi}", "key", "RATE_LIMIT_STANDARD", "value", 1200);
    in = base("configuration", pl);
    in.current_value = "1000";
    r = fg_constitution_review(&in);
    assert_true(has_rule(json_object_get(r, "benefits"), "small_change"));
    assert_string_equal(rec(r), "approve");
    json_decref(r);
    /* the same change rushed, with a tiny quorum, a low bar and no explanation */
    in.voting_hours = 0.5;
    in.quorum_ppm = 50000;
    in.threshold_ppm = 400000;
    in.description_chars = 10;
    r = fg_constitution_review(&in);
    json_t *risks = json_object_get(r, "risks");
    assert_true(has_rule(risks, "short_voting_window"));
    assert_true(has_rule(risks, "low_quorum"));
    assert_true(has_rule(risks, "low_threshold"));
    assert_true(has_rule(risks, "thin_description"));
    assert_string_equal(rec(r), "review");
    json_decref(r);
    json_decref(pl);

    pl = json_pack("{sssf}", "key", "GOVERNANCE_MIN_VOTING_HOURS", "value", 0.1);
    in = base("configuration", pl);
    in.current_value = "1";
    r = fg_constitution_review(&in);
    assert_true(has_rule(json_object_get(r, "risks"), "shorter_votes"));
    json_decref(r);
    json_decref(pl);

    pl = json_pack("{ssss}", "action", "block_ip", "target", "192.0.2.1");
    in = base("emergency", pl);
    r = fg_constitution_review(&in);
    assert_true(has_rule(json_object_get(r, "risks"), "emergency"));
    assert_true(has_rule(json_object_get(r, "benefits"), "blocks_attack"));
    json_decref(r);
    json_decref(pl);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_shape_and_determinism),
        cmocka_unit_test(test_trust_rules),
        cmocka_unit_test(test_general_and_config_rules),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
