/*
 * Governance (core/governance.c, core/quarantine.c, store/sqlite/governance.c) on a temp SQLite
 * store: weights per trust level, trust gates per type, the decision with the worked examples of
 * SPEC §6 and its exact boundaries, payload validation naming the field, the lifecycle (activate,
 * vote, re-vote, deadline, lazy close, cancel), execution of every payload kind in the closing
 * transaction (with failures rolled back to the savepoint), quarantine and release, and 50
 * concurrent voters leaving exact tallies.
 */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include <sqlite3.h>

#include "core/app.h"
#include "core/authz.h"
#include "core/capsule.h"
#include "core/governance.h"
#include "core/quarantine.h"
#include "store/store.h"
#include "util/config.h"
#include "util/time.h"

/* users: half-unit weights 10 + 6 + 2 + 2 + 1 + 1 = 22 (Q quarantined, D disabled: 0) */
#define ADMIN  "0190a000-0000-7000-8000-00000000ad00"
#define TRUST  "0190a000-0000-7000-8000-000000000080"
#define STD1   "0190a000-0000-7000-8000-000000000061"
#define STD2   "0190a000-0000-7000-8000-000000000062"
#define SBX1   "0190a000-0000-7000-8000-000000000041"
#define SBX2   "0190a000-0000-7000-8000-000000000042"
#define QUAR   "0190a000-0000-7000-8000-000000000000"
#define DISA   "0190a000-0000-7000-8000-0000000000d0"
#define NOBODY "0190a000-0000-7000-8000-0000000fffff"

static const struct fg_ctx admin = {.user_id = ADMIN, .trust = 100, .admin = 1};
static const struct fg_ctx trusted = {.user_id = TRUST, .trust = 80};
static const struct fg_ctx std1 = {.user_id = STD1, .trust = 60};
static const struct fg_ctx std2 = {.user_id = STD2, .trust = 60};
static const struct fg_ctx sbx1 = {.user_id = SBX1, .trust = 40};
static const struct fg_ctx sbx2 = {.user_id = SBX2, .trust = 40};
static const struct fg_ctx quar = {.user_id = QUAR, .trust = 60}; /* stale token trust */

struct fx {
    struct fg_config cfg;
    struct fg_app app;
    char dir[64];
    char db[128];
    int64_t offset;
};

static void sql(struct fx *f, const char *q)
{
    sqlite3 *h;
    assert_int_equal(sqlite3_open(f->db, &h), SQLITE_OK);
    sqlite3_busy_timeout(h, 5000);
    if (sqlite3_exec(h, q, NULL, NULL, NULL) != SQLITE_OK)
        fail_msg("%s: %s", q, sqlite3_errmsg(h));
    sqlite3_close(h);
}

static long long count(struct fx *f, const char *q)
{
    sqlite3 *h;
    sqlite3_stmt *st;
    assert_int_equal(sqlite3_open(f->db, &h), SQLITE_OK);
    sqlite3_busy_timeout(h, 5000);
    assert_int_equal(sqlite3_prepare_v2(h, q, -1, &st, NULL), SQLITE_OK);
    assert_int_equal(sqlite3_step(st), SQLITE_ROW);
    long long n = sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    sqlite3_close(h);
    return n;
}

static int user_trust(struct fx *f, const char *id)
{
    char q[200];
    snprintf(q, sizeof q, "SELECT trust_level FROM users WHERE id = '%s'", id);
    return (int)count(f, q);
}

static int setup(void **state)
{
    struct fx *f = calloc(1, sizeof *f);
    snprintf(f->dir, sizeof f->dir, "/tmp/forge-gov-XXXXXX");
    assert_non_null(mkdtemp(f->dir));
    snprintf(f->db, sizeof f->db, "%s/forge.db", f->dir);
    char url[160], err[512];
    snprintf(url, sizeof url, "sqlite://%s", f->db);
    setenv("DATABASE_URL", url, 1);
    setenv("FORGE_ENV_FILE", "/dev/null", 1);
    assert_int_equal(fg_config_load(&f->cfg, NULL, err, sizeof err), 0);
    f->app.cfg = &f->cfg;
    assert_int_equal(store_open(&f->cfg, &f->app.store, err, sizeof err), FG_OK);
    int applied;
    assert_int_equal(f->app.store->ops->migrate(f->app.store, &applied), FG_OK);
    sql(f, "INSERT INTO users (id, email, password_hash, trust_level, roles, is_disabled, "
           "created_at, updated_at) VALUES "
           "('" ADMIN "', 'admin@example.com', 'x', 100, 8, 0, 0, 0),"
           "('" TRUST "', 'trusted@example.com', 'x', 80, 2, 0, 0, 0),"
           "('" STD1 "', 'std1@example.com', 'x', 60, 1, 0, 0, 0),"
           "('" STD2 "', 'std2@example.com', 'x', 60, 1, 0, 0, 0),"
           "('" SBX1 "', 'sbx1@example.com', 'x', 40, 1, 0, 0, 0),"
           "('" SBX2 "', 'sbx2@example.com', 'x', 40, 1, 0, 0, 0),"
           "('" QUAR "', 'quar@example.com', 'x', 0, 1, 0, 0, 0),"
           "('" DISA "', 'disabled@example.com', 'x', 100, 1, 1, 0, 0)");
    fg_time_set_offset_ms(0);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fx *f = *state;
    fg_time_set_offset_ms(0);
    store_close(f->app.store);
    fg_config_free(&f->cfg);
    char cmd[200];
    snprintf(cmd, sizeof cmd, "rm -rf %s", f->dir);
    assert_int_equal(system(cmd), 0);
    free(f);
    return 0;
}

/* Moves the clock past every deadline of the test (1 h windows). */
static void advance(struct fx *f, int64_t ms)
{
    f->offset += ms;
    fg_time_set_offset_ms(f->offset);
}

/* Creates (and with `activate` activates) a proposal; returns its id in `id`. */
static void propose(struct fx *f, const struct fg_ctx *a, const char *type, const char *payload,
                    int activate, char id[37])
{
    json_error_t je;
    json_t *pl = json_loads(payload, 0, &je);
    if (!pl)
        fail_msg("payload %s: %s", payload, je.text);
    struct fg_gov_new in = {.title = "A proposal",
                            .description = "A description long enough to explain the change.",
                            .type = type,
                            .payload = pl,
                            .voting_hours = 1,
                            .quorum_ppm = -1,
                            .threshold_ppm = -1};
    struct fg_gov_why why;
    struct store_proposal p = {0};
    enum fg_err e = fg_gov_create(&f->app, a, &in, &p, &why);
    json_decref(pl);
    if (e != FG_OK)
        fail_msg("create %s: %s (%s: %s)", type, fg_err_name(e), why.field, why.message);
    assert_string_equal(p.status, "draft");
    snprintf(id, 37, "%s", p.id);
    store_proposal_clear(&p);
    if (activate) {
        e = fg_gov_activate(&f->app, a, id, &p, &why);
        if (e != FG_OK)
            fail_msg("activate: %s (%s)", fg_err_name(e), why.message);
        assert_string_equal(p.status, "active");
        store_proposal_clear(&p);
    }
}

static void vote(struct fx *f, const struct fg_ctx *a, const char *id, const char *v,
                 enum fg_err expect, int expect_created)
{
    json_t *out = NULL;
    int created = -1;
    struct fg_gov_why why;
    enum fg_err e = fg_gov_vote(&f->app, a, id, v, "because", &out, &created, &why);
    if (e != expect)
        fail_msg("vote %s by %s: %s, expected %s (%s)", v, a->user_id, fg_err_name(e),
                 fg_err_name(expect), why.message);
    if (e == FG_OK)
        assert_int_equal(created, expect_created);
    json_decref(out);
}

static void get(struct fx *f, const char *id, struct store_proposal *p)
{
    memset(p, 0, sizeof *p);
    assert_int_equal(fg_gov_get(&f->app, NULL, id, p), FG_OK);
}

static json_t *result_of(const struct store_proposal *p)
{
    assert_non_null(p->execution_result);
    json_t *r = json_loads(p->execution_result, 0, NULL);
    assert_non_null(r);
    return r;
}

/* ---- pure rules ------------------------------------------------------------------------ */

static void test_weights(void **state)
{
    (void)state;
    assert_int_equal(fg_gov_weight2(100), 10); /* core 5 */
    assert_int_equal(fg_gov_weight2(80), 6);   /* trusted 3 */
    assert_int_equal(fg_gov_weight2(60), 2);   /* standard 1 */
    assert_int_equal(fg_gov_weight2(40), 1);   /* sandbox 0.5 */
    assert_int_equal(fg_gov_weight2(0), 0);    /* quarantine */
    assert_int_equal(fg_gov_weight2(79), 2);   /* between levels: the level below */
    assert_int_equal(fg_gov_weight2(39), 0);
}

static void test_trust_gates(void **state)
{
    (void)state;
    assert_int_equal(fg_gov_min_trust("configuration"), FG_TRUST_TRUSTED);
    assert_int_equal(fg_gov_min_trust("policy"), FG_TRUST_TRUSTED);
    assert_int_equal(fg_gov_min_trust("trust_adjustment"), FG_TRUST_TRUSTED);
    assert_int_equal(fg_gov_min_trust("overlay_registration"), FG_TRUST_STANDARD);
    assert_int_equal(fg_gov_min_trust("overlay_update"), FG_TRUST_STANDARD);
    assert_int_equal(fg_gov_min_trust("emergency"), FG_TRUST_CORE);
    assert_int_equal(fg_gov_min_trust("coup"), -1);
    assert_int_equal(fg_gov_ppm(0.3), 300000);
    assert_int_equal(fg_gov_ppm(0.5), 500000);
    assert_int_equal(fg_gov_ppm(0), 0);
    assert_int_equal(fg_gov_ppm(1), 1000000);
    assert_int_equal(fg_gov_ppm(0.0000004), 0);
    assert_int_equal(fg_gov_ppm(0.0000006), 1);
}

static void test_decide_examples(void **state)
{
    (void)state;
    struct fg_gov_outcome o;
    /* SPEC §6: for 5, against 1, abstain 1 of 10 → approved */
    fg_gov_decide(10, 2, 2, 20, 300000, 500000, &o);
    assert_true(o.approved);
    assert_int_equal(o.cast2, 14);
    assert_true(o.participation > 0.6999999 && o.participation < 0.7000001);
    assert_true(o.approval > 5.0 / 6 - 1e-12 && o.approval < 5.0 / 6 + 1e-12);
    /* for 2 of 10 → rejected (participation 20 % < 30 %) */
    fg_gov_decide(4, 0, 0, 20, 300000, 500000, &o);
    assert_false(o.approved);
    assert_false(o.quorum_reached);
    assert_true(o.threshold_reached);
    /* exactly 30 % participation and exactly 50 % approval pass */
    fg_gov_decide(3, 3, 0, 20, 300000, 500000, &o); /* 3/10 cast, 1.5 vs 1.5 */
    assert_true(o.quorum_reached);
    assert_true(o.threshold_reached);
    assert_true(o.approved);
    /* a hair below either fails */
    fg_gov_decide(3, 3, 0, 21, 300000, 500000, &o); /* 6/21 < 30 % */
    assert_false(o.quorum_reached);
    fg_gov_decide(3, 4, 0, 20, 300000, 500000, &o); /* 3/7 < 50 % */
    assert_false(o.threshold_reached);
    fg_gov_decide(6, 0, 0, 20, 300001, 500000, &o); /* 30 % < 30.0001 % */
    assert_false(o.quorum_reached);
    /* abstentions count for participation only */
    fg_gov_decide(1, 0, 20, 20, 300000, 500000, &o);
    assert_true(o.approved);
    assert_true(o.approval == 1.0);
    fg_gov_decide(0, 0, 20, 20, 300000, 500000, &o); /* nobody for or against: approval 0 */
    assert_true(o.approval == 0.0);
    assert_false(o.approved);
    fg_gov_decide(0, 0, 0, 0, 0, 0, &o); /* nothing eligible, zero bars */
    assert_true(o.approved);
    assert_true(o.participation == 0.0);
    fg_gov_decide(0, 0, 0, 0, 1, 0, &o);
    assert_false(o.approved);
}

/* Every eligible weight up to 500 half units: the smallest passing cast is exactly
 * ceil(30 % of eligible), and approval passes exactly from 50 %. */
static void test_decide_boundaries_exhaustive(void **state)
{
    (void)state;
    struct fg_gov_outcome o;
    for (int64_t e2 = 1; e2 <= 500; e2++) {
        int64_t need = (3 * e2 + 9) / 10; /* ceil(0.3 × e2) in integers */
        fg_gov_decide(need, 0, 0, e2, 300000, 500000, &o);
        assert_true(o.quorum_reached);
        fg_gov_decide(need - 1, 0, 0, e2, 300000, 500000, &o);
        assert_false(o.quorum_reached);
    }
    for (int64_t f2 = 0; f2 <= 200; f2++)
        for (int64_t a2 = 0; a2 <= 200; a2 += 7) {
            if (f2 + a2 == 0)
                continue;
            fg_gov_decide(f2, a2, 0, f2 + a2, 0, 500000, &o);
            assert_int_equal(o.threshold_reached, f2 >= a2);
        }
}

struct vcase {
    const char *type, *payload, *field; /* field NULL: valid */
};

static void test_validate_payloads(void **state)
{
    (void)state;
    static const struct vcase cases[] = {
        {"trust_adjustment",
         "{\"target_type\":\"user\",\"target_id\":\"" STD1 "\",\"proposed_trust\":\"trusted\","
         "\"reason\":\"r\"}",
         NULL},
        {"trust_adjustment",
         "{\"target_type\":\"user\",\"target_id\":\"" STD1 "\",\"proposed_trust\":\"emperor\","
         "\"reason\":\"r\"}",
         "payload.proposed_trust"},
        {"trust_adjustment",
         "{\"target_type\":\"group\",\"target_id\":\"x\",\"proposed_trust\":\"core\",\"reason\":"
         "\"r\"}",
         "payload.target_type"},
        {"trust_adjustment",
         "{\"target_type\":\"user\",\"target_id\":\"nope\",\"proposed_trust\":\"core\",\"reason\":"
         "\"r\"}",
         "payload.target_id"},
        {"trust_adjustment",
         "{\"target_type\":\"overlay\",\"target_id\":\"my-overlay\",\"proposed_trust\":\"core\"}",
         "payload.reason"},
        {"trust_adjustment",
         "{\"target_type\":\"user\",\"target_id\":\"" STD1 "\",\"proposed_trust\":\"core\","
         "\"reason\":\"r\",\"extra\":1}",
         "payload.extra"},
        {"configuration", "{\"key\":\"RATE_LIMIT_SANDBOX\",\"value\":50}", NULL},
        {"configuration", "{\"key\":\"FEATURE_OVERLAYS_ENABLED\",\"value\":false}", NULL},
        {"configuration", "{\"key\":\"SEARCH_MIN_SCORE\",\"value\":0.25}", NULL},
        {"configuration", "{\"key\":\"RATE_LIMIT_SANDBOX\",\"value\":\"many\"}", "payload.value"},
        {"configuration", "{\"key\":\"RATE_LIMIT_SANDBOX\",\"value\":0}", "payload.value"},
        {"configuration", "{\"key\":\"HNSW_EF_SEARCH\",\"value\":[1]}", "payload.value"},
        {"configuration", "{\"key\":\"JWT_SECRET\",\"value\":\"x\"}", "payload.key"},
        {"configuration", "{\"key\":\"FEATURE_GOVERNANCE_ENABLED\",\"value\":false}",
         "payload.key"},
        {"configuration", "{\"value\":1}", "payload.key"},
        {"policy", "{\"title\":\"Be kind\",\"content\":\"Everyone is kind.\"}", NULL},
        {"policy", "{\"title\":\"\",\"content\":\"x\"}", "payload.title"},
        {"policy", "{\"title\":\"t\"}", "payload.content"},
        {"overlay_registration", "{\"overlay_id\":\"summariser\",\"manifest\":{}}", NULL},
        {"overlay_registration", "{\"manifest\":{}}", "payload.overlay_id"},
        {"overlay_update", "{\"overlay_id\":\"summariser\",\"changes\":3}", "payload.changes"},
        {"emergency", "{\"action\":\"quarantine_user\",\"target\":\"" STD1 "\"}", NULL},
        {"emergency", "{\"action\":\"block_ip\",\"target\":\"192.0.2.7\"}", NULL},
        {"emergency", "{\"action\":\"block_ip\",\"target\":\"2001:db8::1\"}", NULL},
        {"emergency", "{\"action\":\"block_ip\",\"target\":\"999.1.1.1\"}", "payload.target"},
        {"emergency", "{\"action\":\"shutdown\",\"target\":\"all\"}", "payload.action"},
        {"emergency", "[]", "payload"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        json_t *pl = json_loads(cases[i].payload, 0, NULL);
        assert_non_null(pl);
        struct fg_gov_why why;
        enum fg_err e = fg_gov_validate_payload(cases[i].type, pl, &why);
        json_decref(pl);
        if (!cases[i].field) {
            if (e != FG_OK)
                fail_msg("case %zu: %s: %s", i, why.field, why.message);
        } else {
            if (e != FG_EINVAL || strcmp(why.field, cases[i].field) != 0)
                fail_msg("case %zu: expected %s, got %s (%s)", i, cases[i].field, why.field,
                         fg_err_name(e));
            assert_true(why.message[0] != '\0');
        }
    }
}

/* ---- lifecycle ------------------------------------------------------------------------- */

static void test_create_gates_and_targets(void **state)
{
    struct fx *f = *state;
    json_t *pl = json_pack("{ssss}", "key", "RATE_LIMIT_SANDBOX", "value", "50");
    struct fg_gov_new in = {.title = "t",
                            .description = "d",
                            .type = "configuration",
                            .payload = pl,
                            .voting_hours = 1,
                            .quorum_ppm = -1,
                            .threshold_ppm = -1};
    struct fg_gov_why why;
    struct store_proposal p = {0};
    assert_int_equal(fg_gov_create(&f->app, &std1, &in, &p, &why), FG_EFORBIDDEN);
    assert_string_equal(why.rule, "trust");
    assert_int_equal(why.required_trust, FG_TRUST_TRUSTED);
    assert_int_equal(fg_gov_create(&f->app, &trusted, &in, &p, &why), FG_OK);
    assert_int_equal(p.quorum_ppm, 300000);
    assert_int_equal(p.threshold_ppm, 500000);
    assert_int_equal(p.eligible_weight2, -1);
    store_proposal_clear(&p);
    json_decref(pl);

    in.type = "emergency";
    pl = json_pack("{ssss}", "action", "block_ip", "target", "192.0.2.1");
    in.payload = pl;
    assert_int_equal(fg_gov_create(&f->app, &trusted, &in, &p, &why), FG_EFORBIDDEN);
    assert_int_equal(why.required_trust, FG_TRUST_CORE);
    assert_int_equal(fg_gov_create(&f->app, &admin, &in, &p, &why), FG_OK);
    store_proposal_clear(&p);
    json_decref(pl);

    in.type = "overlay_registration";
    pl = json_pack("{ss}", "overlay_id", "summariser");
    in.payload = pl;
    assert_int_equal(fg_gov_create(&f->app, &sbx1, &in, &p, &why), FG_EFORBIDDEN);
    assert_int_equal(why.required_trust, FG_TRUST_STANDARD);
    assert_int_equal(fg_gov_create(&f->app, &std1, &in, &p, &why), FG_OK);
    store_proposal_clear(&p);
    json_decref(pl);

    /* targets must exist */
    in.type = "trust_adjustment";
    pl = json_pack("{ssssssss}", "target_type", "user", "target_id", NOBODY, "proposed_trust",
                   "trusted", "reason", "good work");
    in.payload = pl;
    assert_int_equal(fg_gov_create(&f->app, &trusted, &in, &p, &why), FG_EINVAL);
    assert_string_equal(why.field, "payload.target_id");
    json_decref(pl);
    pl = json_pack("{ssssssss}", "target_type", "capsule", "target_id", NOBODY, "proposed_trust",
                   "trusted", "reason", "good work");
    in.payload = pl;
    assert_int_equal(fg_gov_create(&f->app, &trusted, &in, &p, &why), FG_EINVAL);
    json_decref(pl);
    assert_int_equal(count(f, "SELECT count(*) FROM proposals"), 3);
    assert_int_equal(count(f, "SELECT count(*) FROM outbox WHERE type = 'proposal.created'"), 3);
    assert_int_equal(
        count(f, "SELECT count(*) FROM audit_log WHERE action = 'governance.proposal_create'"), 3);
}

static void test_activate_vote_close(void **state)
{
    struct fx *f = *state;
    char id[37];
    propose(f, &trusted, "policy", "{\"title\":\"Kindness\",\"content\":\"Be kind to others.\"}", 0,
            id);
    struct store_proposal p;
    struct fg_gov_why why;
    /* only the proposer or an admin activates */
    assert_int_equal(fg_gov_activate(&f->app, &std1, id, &p, &why), FG_EFORBIDDEN);
    assert_string_equal(why.rule, "proposer_or_admin");
    vote(f, &std1, id, "for", FG_ECONFLICT, 0); /* drafts take no votes */
    memset(&p, 0, sizeof p);
    assert_int_equal(fg_gov_activate(&f->app, &admin, id, &p, &why), FG_OK);
    assert_string_equal(p.status, "active");
    assert_int_equal(p.eligible_weight2, 22); /* quarantined and disabled accounts excluded */
    assert_int_equal(p.voting_ends_at - p.activated_at, 3600000);
    assert_non_null(p.review);
    json_t *rv = json_loads(p.review, 0, NULL);
    assert_true(json_is_true(json_object_get(rv, "is_advisory")));
    json_decref(rv);
    store_proposal_clear(&p);
    assert_int_equal(fg_gov_activate(&f->app, &admin, id, &p, &why), FG_ECONFLICT);
    assert_string_equal(why.rule, "status");

    vote(f, &quar, id, "for", FG_EFORBIDDEN, 0); /* stored trust decides, not the token */
    vote(f, &admin, id, "for", FG_OK, 1);
    vote(f, &trusted, id, "against", FG_OK, 1);
    get(f, id, &p);
    assert_int_equal(p.for2, 10);
    assert_int_equal(p.against2, 6);
    store_proposal_clear(&p);
    vote(f, &trusted, id, "for", FG_OK, 0); /* re-vote: 200, tallies move */
    vote(f, &std1, id, "against", FG_OK, 1);
    vote(f, &sbx1, id, "abstain", FG_OK, 1);
    get(f, id, &p);
    assert_int_equal(p.for2, 16);
    assert_int_equal(p.against2, 2);
    assert_int_equal(p.abstain2, 1);
    assert_int_equal(p.voters, 4);
    store_proposal_clear(&p);
    assert_int_equal(count(f, "SELECT count(*) FROM votes"), 4);
    assert_int_equal(count(f, "SELECT count(*) FROM outbox WHERE type = 'vote.cast'"), 4);
    assert_int_equal(count(f, "SELECT count(*) FROM outbox WHERE type = 'vote.updated'"), 1);

    /* the deadline passes: a vote is refused and closes it lazily */
    advance(f, 3600000);
    vote(f, &std2, id, "for", FG_ECONFLICT, 0);
    assert_int_equal(count(f, "SELECT count(*) FROM proposals WHERE status = 'executed'"), 1);
    get(f, id, &p);
    assert_string_equal(p.status, "executed");
    assert_true(p.closed_at > 0 && p.executed_at > 0);
    json_t *r = result_of(&p);
    const char *cap = json_string_value(json_object_get(r, "capsule_id"));
    assert_non_null(cap);
    char q[200];
    snprintf(q, sizeof q,
             "SELECT count(*) FROM capsules WHERE id = '%s' AND type = 'policy' AND owner_id = "
             "'" TRUST "' AND trust_level = 60",
             cap);
    assert_int_equal(count(f, q), 1);
    json_decref(r);
    store_proposal_clear(&p);
    assert_int_equal(count(f, "SELECT count(*) FROM outbox WHERE type = 'proposal.closed'"), 1);
    assert_int_equal(count(f, "SELECT count(*) FROM outbox WHERE type = 'proposal.executed'"), 1);
    assert_int_equal(count(f, "SELECT count(*) FROM outbox WHERE type = 'capsule.created'"), 1);
    /* closing again does nothing */
    int closed = -1;
    assert_int_equal(fg_gov_close_due(&f->app, NULL, &closed), FG_OK);
    assert_int_equal(closed, 0);

    struct store_governance_stats st;
    assert_int_equal(fg_gov_stats(&f->app, &st), FG_OK);
    assert_int_equal(st.by_status[4], 1); /* executed */
    assert_int_equal(st.votes, 4);
    assert_true(st.has_mean);
    assert_true(st.mean_participation > 19.0 / 22 - 1e-9 &&
                st.mean_participation < 19.0 / 22 + 1e-9);
}

static void test_rejected_and_background_close(void **state)
{
    struct fx *f = *state;
    char id[37];
    propose(f, &trusted, "configuration", "{\"key\":\"RATE_LIMIT_SANDBOX\",\"value\":55}", 1, id);
    vote(f, &std1, id, "for", FG_OK, 1);
    vote(f, &std2, id, "for", FG_OK, 1); /* 4 of 22 half units: below the quorum */
    advance(f, 3600001);
    int closed = 0;
    assert_int_equal(fg_gov_close_due(&f->app, NULL, &closed), FG_OK);
    assert_int_equal(closed, 1);
    struct store_proposal p;
    get(f, id, &p);
    assert_string_equal(p.status, "rejected");
    assert_null(p.execution_result);
    store_proposal_clear(&p);
    assert_int_equal(f->cfg.rate_limit_sandbox, 100); /* unchanged */
    assert_int_equal(count(f, "SELECT count(*) FROM settings"), 0);
}

static void test_cancel_rules(void **state)
{
    struct fx *f = *state;
    char d[37], a[37], late[37];
    const char *pl = "{\"title\":\"t\",\"content\":\"c\"}";
    propose(f, &trusted, "policy", pl, 0, d);
    propose(f, &trusted, "policy", pl, 1, a);
    propose(f, &trusted, "policy", pl, 1, late);
    struct store_proposal p = {0};
    struct fg_gov_why why;
    assert_int_equal(fg_gov_cancel(&f->app, &admin, d, &p, &why), FG_EFORBIDDEN);
    assert_string_equal(why.rule, "proposer");
    assert_int_equal(fg_gov_cancel(&f->app, &trusted, d, &p, &why), FG_OK);
    assert_string_equal(p.status, "cancelled");
    store_proposal_clear(&p);
    assert_int_equal(fg_gov_cancel(&f->app, &trusted, d, &p, &why), FG_ECONFLICT);
    vote(f, &std1, a, "for", FG_OK, 1);
    assert_int_equal(fg_gov_cancel(&f->app, &trusted, a, &p, &why), FG_OK);
    store_proposal_clear(&p);
    vote(f, &std1, a, "for", FG_ECONFLICT, 0);
    assert_int_equal(fg_gov_activate(&f->app, &trusted, d, &p, &why), FG_ECONFLICT);
    /* after the deadline the result stands: no cancel */
    advance(f, 3600000);
    assert_int_equal(fg_gov_cancel(&f->app, &trusted, late, &p, &why), FG_ECONFLICT);
    assert_string_equal(why.rule, "deadline");
    get(f, late, &p);
    assert_string_equal(p.status, "rejected");
    store_proposal_clear(&p);
    assert_int_equal(count(f, "SELECT count(*) FROM proposals WHERE status = 'cancelled'"), 2);
}

/* Approves `id` with the admin and trusted votes (16 of 22) and closes it. */
static void approve(struct fx *f, const char *id, struct store_proposal *p)
{
    vote(f, &admin, id, "for", FG_OK, 1);
    vote(f, &trusted, id, "for", FG_OK, 1);
    advance(f, 3600000);
    get(f, id, p);
}

static void test_execute_trust_user(void **state)
{
    struct fx *f = *state;
    char id[37];
    propose(f, &trusted, "trust_adjustment",
            "{\"target_type\":\"user\",\"target_id\":\"" STD2 "\",\"proposed_trust\":\"trusted\","
            "\"reason\":\"reviews every capsule carefully\"}",
            1, id);
    struct store_proposal p;
    approve(f, id, &p);
    assert_string_equal(p.status, "executed");
    json_t *r = result_of(&p);
    assert_string_equal(json_string_value(json_object_get(r, "from")), "standard");
    assert_string_equal(json_string_value(json_object_get(r, "to")), "trusted");
    json_decref(r);
    store_proposal_clear(&p);
    assert_int_equal(user_trust(f, STD2), 80);
    assert_int_equal(count(f, "SELECT count(*) FROM outbox WHERE type = 'user.trust_changed'"), 1);
    assert_int_equal(count(f, "SELECT count(*) FROM audit_log WHERE action = "
                              "'governance.user_trust_changed' AND resource_id = '" STD2 "'"),
                     1);

    /* to quarantine: a quarantine record and an immune response; release restores trusted */
    propose(f, &trusted, "trust_adjustment",
            "{\"target_type\":\"user\",\"target_id\":\"" STD2 "\",\"proposed_trust\":"
            "\"quarantine\",\"reason\":\"spam\"}",
            1, id);
    approve(f, id, &p);
    assert_string_equal(p.status, "executed");
    store_proposal_clear(&p);
    assert_int_equal(user_trust(f, STD2), 0);
    assert_int_equal(count(f, "SELECT count(*) FROM immune_responses WHERE action = "
                              "'quarantine_user' AND target_id = '" STD2 "'"),
                     1);
    struct fg_quarantine_result q;
    char why[200];
    assert_int_equal(
        fg_quarantine_release(&f->app, NULL, STD2, "appeal granted", &q, why, sizeof why), FG_OK);
    assert_int_equal(user_trust(f, STD2), 80);
}

static void test_execute_trust_capsule_and_overlay(void **state)
{
    struct fx *f = *state;
    struct fg_capsule_input in = {.content = "secret", .content_len = 6};
    struct fg_capsule_why cw = {0};
    struct store_capsule cap = {0};
    assert_int_equal(fg_capsule_create(&f->app, &std1, &in, &cap, &cw), FG_OK);
    char payload[400], id[37];
    snprintf(payload, sizeof payload,
             "{\"target_type\":\"capsule\",\"target_id\":\"%s\",\"proposed_trust\":\"trusted\","
             "\"reason\":\"contains internal details\"}",
             cap.id);
    propose(f, &trusted, "trust_adjustment", payload, 1, id);
    struct store_proposal p;
    approve(f, id, &p);
    assert_string_equal(p.status, "executed");
    store_proposal_clear(&p);
    char q[200];
    snprintf(q, sizeof q, "SELECT trust_level FROM capsules WHERE id = '%s'", cap.id);
    assert_int_equal(count(f, q), 80);

    /* a capsule deleted before the close: failed, nothing half-done */
    snprintf(payload, sizeof payload,
             "{\"target_type\":\"capsule\",\"target_id\":\"%s\",\"proposed_trust\":\"core\","
             "\"reason\":\"even more internal\"}",
             cap.id);
    propose(f, &trusted, "trust_adjustment", payload, 1, id);
    snprintf(q, sizeof q, "UPDATE capsules SET is_deleted = 1, deleted_at = 1 WHERE id = '%s'",
             cap.id);
    sql(f, q);
    approve(f, id, &p);
    assert_string_equal(p.status, "failed");
    json_t *r = result_of(&p);
    assert_non_null(strstr(json_string_value(json_object_get(r, "reason")), "no longer exists"));
    json_decref(r);
    store_proposal_clear(&p);
    snprintf(q, sizeof q, "SELECT trust_level FROM capsules WHERE id = '%s'", cap.id);
    assert_int_equal(count(f, q), 80);
    store_capsule_clear(&cap);

    propose(f, &trusted, "trust_adjustment",
            "{\"target_type\":\"overlay\",\"target_id\":\"summariser\",\"proposed_trust\":"
            "\"trusted\",\"reason\":\"stable for months\"}",
            1, id);
    approve(f, id, &p);
    assert_string_equal(p.status, "failed");
    r = result_of(&p);
    assert_non_null(strstr(json_string_value(json_object_get(r, "reason")), "does not exist"));
    json_decref(r);
    store_proposal_clear(&p);
    propose(f, &std1, "overlay_update", "{\"overlay_id\":\"summariser\",\"changes\":{}}", 1, id);
    approve(f, id, &p);
    assert_string_equal(p.status, "failed");
    assert_non_null(strstr(p.execution_result, "does not exist"));
    store_proposal_clear(&p);
    assert_int_equal(count(f, "SELECT count(*) FROM outbox WHERE type = 'proposal.executed'"), 4);
}

static void test_execute_configuration_persists(void **state)
{
    struct fx *f = *state;
    char id[37];
    propose(f, &trusted, "configuration", "{\"key\":\"RATE_LIMIT_SANDBOX\",\"value\":77}", 1, id);
    struct store_proposal p;
    approve(f, id, &p);
    assert_string_equal(p.status, "executed");
    json_t *r = result_of(&p);
    assert_string_equal(json_string_value(json_object_get(r, "from")), "100");
    assert_string_equal(json_string_value(json_object_get(r, "to")), "77");
    json_decref(r);
    store_proposal_clear(&p);
    assert_int_equal(fg_cfg_ll(&f->cfg.rate_limit_sandbox), 77);
    assert_int_equal(count(f, "SELECT count(*) FROM settings WHERE key = "
                              "'config:RATE_LIMIT_SANDBOX' AND value = '77'"),
                     1);
    assert_int_equal(count(f, "SELECT count(*) FROM outbox WHERE type = 'system.config_changed'"),
                     1);
    /* a restart: the environment's value first, then the persisted one wins */
    f->cfg.rate_limit_sandbox = 100;
    assert_int_equal(fg_gov_apply_settings(&f->app), FG_OK);
    assert_int_equal(f->cfg.rate_limit_sandbox, 77);
    /* a boolean and a real number */
    propose(f, &trusted, "configuration", "{\"key\":\"FEATURE_OVERLAYS_ENABLED\",\"value\":false}",
            1, id);
    approve(f, id, &p);
    assert_string_equal(p.status, "executed");
    store_proposal_clear(&p);
    assert_int_equal(f->cfg.feature_overlays, 0);
    propose(f, &trusted, "configuration", "{\"key\":\"SEARCH_MIN_SCORE\",\"value\":0.25}", 1, id);
    approve(f, id, &p);
    assert_string_equal(p.status, "executed");
    store_proposal_clear(&p);
    assert_true(f->cfg.search_min_score == 0.25);
}

static void test_execute_emergency(void **state)
{
    struct fx *f = *state;
    char id[37];
    propose(f, &admin, "emergency",
            "{\"action\":\"quarantine_user\",\"target\":\"" SBX2 "\",\"reason\":\"bot\"}", 1, id);
    struct store_proposal p;
    approve(f, id, &p);
    assert_string_equal(p.status, "executed");
    store_proposal_clear(&p);
    assert_int_equal(user_trust(f, SBX2), 0);
    vote(f, &sbx2, id, "for", FG_ECONFLICT, 0);
    propose(f, &admin, "emergency", "{\"action\":\"block_ip\",\"target\":\"192.0.2.7\"}", 1, id);
    vote(f, &sbx2, id, "for", FG_EFORBIDDEN, 0); /* quarantined now */
    approve(f, id, &p);
    assert_string_equal(p.status, "executed");
    store_proposal_clear(&p);
    /* the blocked IP is stored sealed (docs/privacy.md), never in clear */
    assert_int_equal(count(f, "SELECT count(*) FROM immune_responses WHERE action = 'block_ip' "
                              "AND target_type = 'ip' AND target_id LIKE '$fe1$_s$%' "
                              "AND expires_at > created_at"),
                     1);
    assert_int_equal(count(f, "SELECT count(*) FROM immune_responses WHERE target_id = "
                              "'192.0.2.7'"),
                     0);
    /* quarantining an already quarantined user fails cleanly */
    propose(f, &admin, "emergency", "{\"action\":\"quarantine_user\",\"target\":\"" SBX2 "\"}", 1,
            id);
    approve(f, id, &p);
    assert_string_equal(p.status, "failed");
    assert_non_null(strstr(p.execution_result, "already quarantined"));
    store_proposal_clear(&p);
}

static void test_quarantine_release(void **state)
{
    struct fx *f = *state;
    struct fg_quarantine_result r;
    char why[240];
    assert_int_equal(fg_quarantine_user(&f->app, NULL, NOBODY, "high", "x", &r, why, sizeof why),
                     FG_ENOTFOUND);
    assert_int_equal(
        fg_quarantine_user(&f->app, NULL, TRUST, "high", "leaked keys", &r, why, sizeof why),
        FG_OK);
    assert_int_equal(r.previous_trust, 80);
    assert_int_equal(user_trust(f, TRUST), 0);
    assert_string_equal(r.response.threat_type, "manual");
    assert_string_equal(r.response.action, "quarantine_user");
    assert_int_equal(fg_quarantine_user(&f->app, NULL, TRUST, "high", "again", &r, why, sizeof why),
                     FG_ECONFLICT);
    assert_int_equal(fg_quarantine_release(&f->app, NULL, TRUST, "rotated", &r, why, sizeof why),
                     FG_OK);
    assert_int_equal(user_trust(f, TRUST), 80);
    assert_int_equal(fg_quarantine_release(&f->app, NULL, TRUST, "again", &r, why, sizeof why),
                     FG_ECONFLICT);
    /* quarantined without a record (trust set directly): no previous trust to restore */
    assert_int_equal(fg_quarantine_release(&f->app, NULL, QUAR, "appeal", &r, why, sizeof why),
                     FG_ECONFLICT);
    assert_non_null(strstr(why, "previous trust"));
    assert_int_equal(count(f, "SELECT count(*) FROM immune_responses WHERE threat_type = "
                              "'manual'"),
                     2);
    assert_int_equal(count(f, "SELECT count(*) FROM outbox WHERE type = 'user.trust_changed'"), 2);
}

/* ---- concurrency ------------------------------------------------------------------------- */

#define VOTERS 50

struct voter {
    struct fx *f;
    const char *pid;
    char uid[37];
    const char *first, *second;
    int failures;
};

static void *voter_main(void *arg)
{
    struct voter *v = arg;
    struct fg_ctx a = {.user_id = v->uid, .trust = 60};
    const char *seq[2] = {v->first, v->second};
    for (int i = 0; i < 2; i++) {
        if (!seq[i])
            continue;
        json_t *out = NULL;
        int created = 0;
        struct fg_gov_why why;
        if (fg_gov_vote(&v->f->app, &a, v->pid, seq[i], NULL, &out, &created, &why) != FG_OK ||
            created != (i == 0))
            v->failures++;
        json_decref(out);
    }
    return NULL;
}

static void test_concurrent_voters(void **state)
{
    struct fx *f = *state;
    static const char *const kinds[] = {"for", "against", "abstain"};
    struct voter v[VOTERS];
    char q[65536];
    size_t n = (size_t)snprintf(q, sizeof q,
                                "INSERT INTO users (id, email, password_hash, "
                                "trust_level, created_at, updated_at) VALUES ");
    for (int i = 0; i < VOTERS; i++) {
        memset(&v[i], 0, sizeof v[i]);
        snprintf(v[i].uid, sizeof v[i].uid, "0190a000-0000-7000-9000-%012d", i);
        n += (size_t)snprintf(q + n, sizeof q - n, "%s('%s', 'v%d@example.com', 'x', %d, 0, 0)",
                              i ? "," : "", v[i].uid, i, i % 2 ? 60 : 40);
    }
    sql(f, q);
    char id[37];
    propose(f, &trusted, "policy", "{\"title\":\"t\",\"content\":\"c\"}", 1, id);
    int64_t want[3] = {0, 0, 0};
    for (int i = 0; i < VOTERS; i++) {
        v[i].f = f;
        v[i].pid = id;
        v[i].first = kinds[i % 3];
        v[i].second = i % 4 == 0 ? kinds[(i + 1) % 3] : NULL; /* every 4th changes its mind */
        const char *final = v[i].second ? v[i].second : v[i].first;
        int w2 = i % 2 ? 2 : 1;
        want[final[0] == 'f' ? 0 : final[1] == 'g' ? 1 : 2] += w2;
    }
    pthread_t th[VOTERS];
    for (int i = 0; i < VOTERS; i++)
        assert_int_equal(pthread_create(&th[i], NULL, voter_main, &v[i]), 0);
    for (int i = 0; i < VOTERS; i++) {
        pthread_join(th[i], NULL);
        assert_int_equal(v[i].failures, 0);
    }
    struct store_proposal p;
    get(f, id, &p);
    assert_int_equal(p.voters, VOTERS);
    assert_int_equal(p.for2, want[0]);
    assert_int_equal(p.against2, want[1]);
    assert_int_equal(p.abstain2, want[2]);
    store_proposal_clear(&p);
    assert_int_equal(count(f, "SELECT count(*) FROM outbox WHERE type = 'vote.cast'"), VOTERS);
    assert_int_equal(count(f, "SELECT count(*) FROM outbox WHERE type = 'vote.updated'"), 13);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_weights),
        cmocka_unit_test(test_trust_gates),
        cmocka_unit_test(test_decide_examples),
        cmocka_unit_test(test_decide_boundaries_exhaustive),
        cmocka_unit_test(test_validate_payloads),
        cmocka_unit_test_setup_teardown(test_create_gates_and_targets, setup, teardown),
        cmocka_unit_test_setup_teardown(test_activate_vote_close, setup, teardown),
        cmocka_unit_test_setup_teardown(test_rejected_and_background_close, setup, teardown),
        cmocka_unit_test_setup_teardown(test_cancel_rules, setup, teardown),
        cmocka_unit_test_setup_teardown(test_execute_trust_user, setup, teardown),
        cmocka_unit_test_setup_teardown(test_execute_trust_capsule_and_overlay, setup, teardown),
        cmocka_unit_test_setup_teardown(test_execute_configuration_persists, setup, teardown),
        cmocka_unit_test_setup_teardown(test_execute_emergency, setup, teardown),
        cmocka_unit_test_setup_teardown(test_quarantine_release, setup, teardown),
        cmocka_unit_test_setup_teardown(test_concurrent_voters, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
