/*
 * store/pg/governance.c against a real PostgreSQL (tests/unit/store/pg_fixture.h): proposals
 * created, read with tallies summed from the votes, listed with filters; conditional transitions
 * answering FG_ECONFLICT from the wrong state; due deadlines; stats; votes inserted, replaced and
 * listed in casting order; trust counts; savepoints; settings; quarantine records; and a vote
 * racing a close of the same proposal counted by the close (the two run one after the other).
 */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "pg_fixture.h"
#include "store/governance.h"
#include "store/users.h"

static const struct store_governance_ops *G(void)
{
    return pgfx.store->governance;
}

static void make_user(struct store_conn *c, int trust, int disabled, char id[37])
{
    struct store_user u;
    memset(&u, 0, sizeof u);
    pgfx_id(u.id);
    snprintf(u.email, sizeof u.email, "%s@example.org", u.id);
    snprintf(u.password_hash, sizeof u.password_hash, "x");
    u.trust = trust;
    u.roles = 1;
    u.disabled = disabled;
    u.created_at = u.updated_at = 1;
    assert_int_equal(pgfx.store->users->create(c, &u), FG_OK);
    snprintf(id, 37, "%s", u.id);
}

static void make_proposal(struct store_conn *c, const char *proposer, const char *type, int64_t at,
                          char id[37])
{
    struct store_proposal p;
    memset(&p, 0, sizeof p);
    pgfx_id(p.id);
    p.title = "Raise the limit";
    p.description = "Because.";
    snprintf(p.type, sizeof p.type, "%s", type);
    p.payload = "{\"key\": \"RATE_LIMIT\", \"value\": 5}";
    snprintf(p.proposer_id, sizeof p.proposer_id, "%s", proposer);
    p.voting_duration_hours = 0.1;
    p.quorum_ppm = 100000;
    p.threshold_ppm = 500000;
    p.created_at = p.updated_at = at;
    assert_int_equal(G()->create(c, &p), FG_OK);
    snprintf(id, 37, "%s", p.id);
}

static void vote(struct store_conn *c, const char *pid, const char *voter, const char *v, int w2,
                 int insert, int64_t at, enum fg_err want)
{
    struct store_vote x;
    memset(&x, 0, sizeof x);
    snprintf(x.proposal_id, sizeof x.proposal_id, "%s", pid);
    snprintf(x.voter_id, sizeof x.voter_id, "%s", voter);
    snprintf(x.vote, sizeof x.vote, "%s", v);
    x.weight2 = w2;
    x.voter_trust = 60;
    x.reasoning = "because";
    x.created_at = x.updated_at = at;
    assert_int_equal(G()->vote_put(c, &x, insert), want);
}

static int count_cb(const struct store_proposal *p, void *ctx)
{
    (void)p;
    (*(int *)ctx)++;
    return 0;
}

struct vlist {
    int n;
    char voters[4][37];
    char reasoning[32];
};

static int vote_cb(const struct store_vote *v, void *ctx)
{
    struct vlist *l = ctx;
    if (l->n < 4)
        snprintf(l->voters[l->n], 37, "%s", v->voter_id);
    snprintf(l->reasoning, sizeof l->reasoning, "%s", v->reasoning ? v->reasoning : "(null)");
    l->n++;
    return 0;
}

static void test_lifecycle(void **state)
{
    (void)state;
    struct store_conn *c = pgfx_conn();
    char alice[37], bob[37], carol[37], pid[37];
    make_user(c, 60, 0, alice);
    make_user(c, 80, 0, bob);
    make_user(c, 100, 0, carol);
    make_proposal(c, alice, "configuration", 1000, pid);

    struct store_proposal p;
    memset(&p, 0, sizeof p);
    assert_int_equal(G()->get(c, pid, &p), FG_OK);
    assert_string_equal(p.status, "draft");
    assert_string_equal(p.payload, "{\"key\": \"RATE_LIMIT\", \"value\": 5}");
    assert_true(p.voting_duration_hours == 0.1);
    assert_int_equal(p.eligible_weight2, -1);
    assert_null(p.review);
    assert_null(p.execution_result);
    assert_int_equal(p.activated_at, 0);
    store_proposal_clear(&p);
    assert_int_equal(G()->get(c, "nope", &p), FG_ENOTFOUND);

    assert_int_equal(G()->close(c, pid, "approved", 1500), FG_ECONFLICT); /* not active */
    assert_int_equal(store_begin(pgfx.store, c), FG_OK);
    assert_int_equal(G()->activate(c, pid, 18, 2000, 3000, "{\"risk\":\"low\"}"), FG_OK);
    assert_int_equal(store_commit(pgfx.store, c), FG_OK);
    assert_int_equal(G()->activate(c, pid, 18, 2000, 3000, NULL), FG_ECONFLICT);

    vote(c, pid, alice, "for", 2, 1, 2100, FG_OK);
    vote(c, pid, bob, "against", 6, 1, 2200, FG_OK);
    vote(c, pid, carol, "for", 10, 1, 2300, FG_OK);
    vote(c, pid, bob, "for", 6, 1, 2400, FG_ECONFLICT); /* insert of an existing vote */
    vote(c, pid, bob, "abstain", 6, 0, 2500, FG_OK);    /* replace */
    char nobody[37];
    pgfx_id(nobody);
    vote(c, pid, nobody, "for", 2, 0, 2500, FG_ENOTFOUND);

    struct store_vote v;
    assert_int_equal(G()->vote_get(c, pid, bob, &v), FG_OK);
    assert_string_equal(v.vote, "abstain");
    assert_int_equal(v.created_at, 2200);
    assert_int_equal(v.updated_at, 2500);
    assert_null(v.reasoning);
    assert_int_equal(G()->vote_get(c, pid, nobody, &v), FG_ENOTFOUND);

    memset(&p, 0, sizeof p);
    assert_int_equal(G()->get(c, pid, &p), FG_OK);
    assert_string_equal(p.status, "active");
    assert_int_equal(p.for2, 12);
    assert_int_equal(p.against2, 0);
    assert_int_equal(p.abstain2, 6);
    assert_int_equal(p.voters, 3);
    assert_int_equal(p.eligible_weight2, 18);
    assert_string_equal(p.review, "{\"risk\":\"low\"}");
    assert_int_equal(p.voting_ends_at, 3000);
    store_proposal_clear(&p);

    struct vlist l = {0};
    long long total = 0;
    assert_int_equal(G()->votes_list(c, pid, 1, 10, vote_cb, &l, &total), FG_OK);
    assert_int_equal(total, 3);
    assert_int_equal(l.n, 2);
    assert_string_equal(l.voters[0], bob); /* first cast order, not update order */
    assert_string_equal(l.voters[1], carol);
    assert_string_equal(l.reasoning, "because");

    assert_int_equal(G()->close(c, pid, "executed", 3100), FG_ECONFLICT); /* bad status */
    assert_int_equal(G()->close(c, pid, "approved", 3100), FG_OK);
    assert_int_equal(G()->close(c, pid, "rejected", 3100), FG_ECONFLICT);
    assert_int_equal(G()->cancel(c, pid, 3150), FG_ECONFLICT);
    assert_int_equal(G()->finish(c, pid, "approved", NULL, 3200), FG_ECONFLICT);
    assert_int_equal(G()->finish(c, pid, "executed", "{\"ok\":true}", 3200), FG_OK);
    assert_int_equal(G()->finish(c, pid, "failed", NULL, 3300), FG_ECONFLICT);
    memset(&p, 0, sizeof p);
    assert_int_equal(G()->get(c, pid, &p), FG_OK);
    assert_string_equal(p.status, "executed");
    assert_string_equal(p.execution_result, "{\"ok\":true}");
    assert_int_equal(p.closed_at, 3100);
    assert_int_equal(p.executed_at, 3200);
    assert_int_equal(p.updated_at, 3200);
    store_proposal_clear(&p);

    /* cancel from draft */
    char pid2[37];
    make_proposal(c, bob, "policy", 5000, pid2);
    assert_int_equal(G()->cancel(c, pid2, 5100), FG_OK);
    assert_int_equal(G()->cancel(c, pid2, 5200), FG_ECONFLICT);

    struct store_proposal_filter f = {.proposer_id = bob};
    int n = 0;
    assert_int_equal(G()->list(c, &f, 0, 10, count_cb, &n, &total), FG_OK);
    assert_int_equal(total, 1);
    assert_int_equal(n, 1);
    struct store_proposal_filter g = {
        .status = "executed", .type = "configuration", .proposer_id = alice};
    n = 0;
    assert_int_equal(G()->list(c, &g, 0, 0, count_cb, &n, &total), FG_OK);
    assert_int_equal(total, 1);
    assert_int_equal(n, 0);

    struct store_governance_stats st;
    assert_int_equal(G()->stats(c, &st), FG_OK);
    assert_true(st.total >= 2);
    assert_true(st.by_status[4] >= 1); /* executed */
    assert_true(st.by_status[6] >= 1); /* cancelled */
    assert_true(st.votes >= 3);
    assert_int_equal(st.has_mean, 1);
    assert_true(st.mean_participation > 0.0);
    store_release(pgfx.store, c);
}

struct due_ctx {
    int n;
    char first[37];
};

static int due_cb(const char *id, void *ctx)
{
    struct due_ctx *d = ctx;
    if (d->n++ == 0)
        snprintf(d->first, sizeof d->first, "%s", id);
    return 0;
}

static void test_due_and_trust_counts(void **state)
{
    (void)state;
    struct store_conn *c = pgfx_conn();
    char u[37], a[37], b[37];
    make_user(c, 60, 0, u);
    make_proposal(c, u, "policy", 1, a);
    make_proposal(c, u, "policy", 2, b);
    assert_int_equal(G()->activate(c, a, 2, 10, 9000000000002LL, NULL), FG_OK);
    assert_int_equal(G()->activate(c, b, 2, 10, 9000000000001LL, NULL), FG_OK);
    struct due_ctx d = {0};
    assert_int_equal(G()->due(c, 9000000000000LL, 10, due_cb, &d), FG_OK);
    int before = d.n;
    memset(&d, 0, sizeof d);
    assert_int_equal(G()->due(c, 9000000000002LL, 100, due_cb, &d), FG_OK);
    assert_int_equal(d.n, before + 2);
    memset(&d, 0, sizeof d);
    assert_int_equal(G()->due(c, 9000000000002LL, 1, due_cb, &d), FG_OK);
    assert_int_equal(d.n, 1);
    assert_int_equal(G()->due(c, 9000000000001LL, 100, due_cb, &(struct due_ctx){0}), FG_OK);
    store_release(pgfx.store, c);
}

static void trust_cb(void *ctx, int trust, long long users)
{
    long long *counts = ctx;
    if (trust >= 0 && trust <= 100)
        counts[trust] = users;
}

static void test_trust_counts(void **state)
{
    (void)state;
    struct store_conn *c = pgfx_conn();
    long long before[101] = {0}, after[101] = {0};
    assert_int_equal(G()->trust_counts(c, trust_cb, before), FG_OK);
    char id[37];
    make_user(c, 97, 1, id);
    make_user(c, 97, 0, id);
    make_user(c, 97, 0, id);
    assert_int_equal(G()->trust_counts(c, trust_cb, after), FG_OK);
    assert_int_equal(after[97], before[97] + 2);
    store_release(pgfx.store, c);
}

struct kv {
    int n;
    char keys[4][32];
    char vals[4][32];
};

static void setting_cb(void *ctx, const char *key, const char *value)
{
    struct kv *kv = ctx;
    if (kv->n < 4) {
        snprintf(kv->keys[kv->n], 32, "%s", key);
        snprintf(kv->vals[kv->n], 32, "%s", value);
    }
    kv->n++;
}

static void test_savepoint_and_settings(void **state)
{
    (void)state;
    struct store_conn *c = pgfx_conn();
    assert_int_equal(store_begin(pgfx.store, c), FG_OK);
    assert_int_equal(G()->setting_put(c, "cfgtest:B", "1"), FG_OK);
    assert_int_equal(G()->savepoint(c), FG_OK);
    assert_int_equal(G()->setting_put(c, "cfgtest:A", "undone"), FG_OK);
    assert_int_equal(G()->savepoint_rollback(c), FG_OK);
    assert_int_equal(G()->savepoint(c), FG_OK);
    assert_int_equal(G()->setting_put(c, "cfgtest:B", "2"), FG_OK);
    assert_int_equal(G()->setting_put(c, "cfgtest:_", "3"), FG_OK);
    assert_int_equal(G()->savepoint_release(c), FG_OK);
    assert_int_equal(store_commit(pgfx.store, c), FG_OK);
    assert_int_equal(G()->setting_put(c, "other:X", "9"), FG_OK);
    struct kv kv = {0};
    assert_int_equal(G()->settings_list(c, "cfgtest:", setting_cb, &kv), FG_OK);
    assert_int_equal(kv.n, 2);
    assert_string_equal(kv.keys[0], "cfgtest:B"); /* byte order: 'B' < '_' */
    assert_string_equal(kv.vals[0], "2");
    assert_string_equal(kv.keys[1], "cfgtest:_");
    store_release(pgfx.store, c);
}

static void test_quarantines(void **state)
{
    (void)state;
    struct store_conn *c = pgfx_conn();
    char uid[37];
    make_user(c, 60, 0, uid);
    struct store_quarantine q = {.previous_trust = 60, .reason = "manual", .created_at = 10};
    pgfx_id(q.id);
    snprintf(q.target_type, sizeof q.target_type, "user");
    snprintf(q.target_id, sizeof q.target_id, "%s", uid);
    assert_int_equal(G()->quarantine_open(c, &q), FG_OK);
    struct store_quarantine q2 = q;
    pgfx_id(q2.id);
    assert_int_equal(G()->quarantine_open(c, &q2), FG_ECONFLICT); /* one open per target */
    struct store_quarantine got;
    assert_int_equal(G()->quarantine_get_open(c, "user", uid, &got), FG_OK);
    assert_string_equal(got.id, q.id);
    assert_int_equal(got.previous_trust, 60);
    assert_int_equal(got.created_at, 10);
    assert_null(got.reason);
    assert_int_equal(G()->quarantine_release(c, q.id, NULL, 20), FG_OK);
    assert_int_equal(G()->quarantine_release(c, q.id, NULL, 30), FG_ECONFLICT);
    assert_int_equal(G()->quarantine_get_open(c, "user", uid, &got), FG_ENOTFOUND);
    assert_int_equal(G()->quarantine_open(c, &q2), FG_OK); /* again after release */
    store_release(pgfx.store, c);
}

struct voter {
    char pid[37], uid[37];
    enum fg_err e;
};

/* The store side of a vote: lock-read the proposal, check it is active, insert the vote. */
static void *vote_tx(void *arg)
{
    struct voter *w = arg;
    struct store_conn *c = pgfx_conn();
    struct store_proposal p;
    memset(&p, 0, sizeof p);
    w->e = store_begin(pgfx.store, c);
    if (w->e == FG_OK)
        w->e = G()->get(c, w->pid, &p); /* waits for the closer */
    if (w->e == FG_OK && strcmp(p.status, "active") != 0)
        w->e = FG_ECONFLICT;
    if (w->e == FG_OK)
        vote(c, w->pid, w->uid, "for", 2, 1, 100, FG_OK);
    if (w->e == FG_OK)
        w->e = store_commit(pgfx.store, c);
    else
        store_rollback(pgfx.store, c);
    store_proposal_clear(&p);
    store_release(pgfx.store, c);
    return NULL;
}

struct closer {
    char pid[37];
    int64_t for2, voters;
    enum fg_err e;
};

/* The store side of a close: lock-read the proposal with its tallies. */
static void *close_tx(void *arg)
{
    struct closer *w = arg;
    struct store_conn *c = pgfx_conn();
    struct store_proposal p;
    memset(&p, 0, sizeof p);
    w->e = store_begin(pgfx.store, c);
    if (w->e == FG_OK)
        w->e = G()->get(c, w->pid, &p); /* waits for the voter */
    if (w->e == FG_OK) {
        w->for2 = p.for2;
        w->voters = p.voters;
        w->e = G()->close(c, w->pid, "approved", 40);
    }
    if (w->e == FG_OK)
        w->e = store_commit(pgfx.store, c);
    else
        store_rollback(pgfx.store, c);
    store_proposal_clear(&p);
    store_release(pgfx.store, c);
    return NULL;
}

static void test_vote_and_close_serialised(void **state)
{
    (void)state;
    struct store_conn *c = pgfx_conn(), *mon = pgfx_conn();
    char uid[37], pid[37];
    make_user(c, 60, 0, uid);
    make_proposal(c, uid, "policy", 1, pid);
    assert_int_equal(G()->activate(c, pid, 2, 10, 20, NULL), FG_OK);

    /* the voter holds the proposal; the closer's read waits and then sees the vote */
    struct voter w = {.e = FG_EINTERNAL};
    snprintf(w.pid, sizeof w.pid, "%s", pid);
    snprintf(w.uid, sizeof w.uid, "%s", uid);
    struct store_conn *vc = pgfx_conn();
    struct store_proposal p;
    memset(&p, 0, sizeof p);
    assert_int_equal(store_begin(pgfx.store, vc), FG_OK);
    assert_int_equal(G()->get(vc, pid, &p), FG_OK);
    store_proposal_clear(&p);

    pthread_t t;
    assert_int_equal(pthread_create(&t, NULL, vote_tx, &w), 0); /* blocks behind vc */
    assert_true(pgfx_wait_blocked(mon));
    /* vc plays the closer here: it closes the proposal, so the waiting vote is refused */
    assert_int_equal(G()->close(vc, pid, "rejected", 30), FG_OK);
    assert_int_equal(store_commit(pgfx.store, vc), FG_OK);
    pthread_join(t, NULL);
    assert_int_equal(w.e, FG_ECONFLICT);

    /* and the other way round: a vote holding the proposal is counted by the closer */
    char pid2[37];
    make_proposal(c, uid, "policy", 2, pid2);
    assert_int_equal(G()->activate(c, pid2, 2, 10, 20, NULL), FG_OK);
    assert_int_equal(store_begin(pgfx.store, vc), FG_OK);
    memset(&p, 0, sizeof p);
    assert_int_equal(G()->get(vc, pid2, &p), FG_OK);
    store_proposal_clear(&p);
    vote(vc, pid2, uid, "for", 2, 1, 15, FG_OK);
    struct closer cl = {.e = FG_EINTERNAL};
    snprintf(cl.pid, sizeof cl.pid, "%s", pid2);
    assert_int_equal(pthread_create(&t, NULL, close_tx, &cl), 0); /* blocks behind vc */
    assert_true(pgfx_wait_blocked(mon));
    assert_int_equal(store_commit(pgfx.store, vc), FG_OK);
    pthread_join(t, NULL);
    assert_int_equal(cl.e, FG_OK);
    assert_int_equal(cl.for2, 2); /* the vote committed while the closer waited is counted */
    assert_int_equal(cl.voters, 1);
    store_release(pgfx.store, vc);
    store_release(pgfx.store, mon);
    store_release(pgfx.store, c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_lifecycle),    cmocka_unit_test(test_due_and_trust_counts),
        cmocka_unit_test(test_trust_counts), cmocka_unit_test(test_savepoint_and_settings),
        cmocka_unit_test(test_quarantines),  cmocka_unit_test(test_vote_and_close_serialised),
    };
    return cmocka_run_group_tests(tests, pgfx_setup, pgfx_teardown);
}
