/*
 * store/pg/users.c against a real PostgreSQL (tests/unit/store/pg_fixture.h): accounts with
 * case-insensitive email uniqueness, paging, field updates and their not-found answers, TOTP step
 * replay, sessions (rotation, revocation with the exact revoked set, purge), a session of an
 * unknown user refused, and a user read inside a transaction holding the row until commit.
 */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "pg_fixture.h"
#include "store/users.h"

static const struct store_user_ops *U(void)
{
    return pgfx.store->users;
}

static void make_user(struct store_conn *c, const char *email, int64_t at, struct store_user *u)
{
    memset(u, 0, sizeof *u);
    pgfx_id(u->id);
    snprintf(u->email, sizeof u->email, "%s", email);
    snprintf(u->display_name, sizeof u->display_name, "Ann");
    snprintf(u->password_hash, sizeof u->password_hash, "$argon2id$fake");
    u->trust = 60;
    u->roles = 1;
    u->created_at = u->updated_at = at;
    assert_int_equal(U()->create(c, u), FG_OK);
}

static void test_create_get_email_nocase(void **state)
{
    (void)state;
    struct store_conn *c = pgfx_conn();
    struct store_user u, got, dup;
    char email[80];
    snprintf(email, sizeof email, "ann.%d@example.org", (int)getpid());
    make_user(c, email, 1000, &u);
    assert_int_equal(U()->get_by_id(c, u.id, &got), FG_OK);
    assert_string_equal(got.email, email);
    assert_string_equal(got.display_name, "Ann");
    assert_int_equal(got.trust, 60);
    assert_int_equal(got.roles, 1);
    assert_int_equal(got.mfa_enabled, 0);
    assert_string_equal(got.mfa_secret, "");
    assert_int_equal(got.last_login_at, 0);
    assert_int_equal(got.created_at, 1000);

    char upper[80];
    snprintf(upper, sizeof upper, "ANN.%d@Example.ORG", (int)getpid());
    memset(&got, 0, sizeof got);
    assert_int_equal(U()->get_by_email(c, upper, &got), FG_OK);
    assert_string_equal(got.id, u.id);

    dup = u;
    pgfx_id(dup.id);
    snprintf(dup.email, sizeof dup.email, "%s", upper);
    assert_int_equal(U()->create(c, &dup), FG_ECONFLICT);
    assert_int_equal(U()->get_by_id(c, "no-such-id", &got), FG_ENOTFOUND);
    assert_int_equal(U()->get_by_email(c, "nobody@example.org", &got), FG_ENOTFOUND);
    store_release(pgfx.store, c);
}

static void test_list_newest_first(void **state)
{
    (void)state;
    struct store_conn *c = pgfx_conn();
    long long before = 0;
    struct store_user *items = NULL;
    size_t n = 0;
    assert_int_equal(U()->list(c, 0, 0, &items, &n, &before), FG_OK);
    assert_null(items);
    struct store_user u[3];
    for (int i = 0; i < 3; i++) {
        char email[80];
        snprintf(email, sizeof email, "list%d.%d@example.org", i, (int)getpid());
        make_user(c, email, 4000000000000LL + i, &u[i]); /* newest of the database */
    }
    long long total = 0;
    assert_int_equal(U()->list(c, 0, 2, &items, &n, &total), FG_OK);
    assert_int_equal(total, before + 3);
    assert_int_equal(n, 2);
    assert_string_equal(items[0].id, u[2].id);
    assert_string_equal(items[1].id, u[1].id);
    free(items);
    assert_int_equal(U()->list(c, 2, 2, &items, &n, &total), FG_OK);
    assert_true(n >= 1);
    assert_string_equal(items[0].id, u[0].id);
    free(items);
    store_release(pgfx.store, c);
}

static void test_setters(void **state)
{
    (void)state;
    struct store_conn *c = pgfx_conn();
    struct store_user u, got;
    char email[80];
    snprintf(email, sizeof email, "set.%d@example.org", (int)getpid());
    make_user(c, email, 2000, &u);
    assert_int_equal(U()->set_display_name(c, u.id, "Bob", 2001), FG_OK);
    assert_int_equal(U()->set_password_hash(c, u.id, "$argon2id$new", 2002), FG_OK);
    assert_int_equal(U()->set_trust(c, u.id, 0, 2003), FG_OK);
    assert_int_equal(U()->set_roles(c, u.id, 9, 2004), FG_OK);
    assert_int_equal(U()->set_disabled(c, u.id, 1, 2005), FG_OK);
    assert_int_equal(U()->set_locked_until(c, u.id, 99999), FG_OK);
    assert_int_equal(U()->get_by_id(c, u.id, &got), FG_OK);
    assert_string_equal(got.display_name, "Bob");
    assert_string_equal(got.password_hash, "$argon2id$new");
    assert_int_equal(got.trust, 0);
    assert_int_equal(got.roles, 9);
    assert_int_equal(got.disabled, 1);
    assert_int_equal(got.locked_until, 99999);
    assert_int_equal(got.updated_at, 2005);
    assert_int_equal(U()->set_last_login(c, u.id, 3000), FG_OK);
    assert_int_equal(U()->get_by_id(c, u.id, &got), FG_OK);
    assert_int_equal(got.last_login_at, 3000);
    assert_int_equal(got.locked_until, 0);
    long long admins = 0;
    assert_int_equal(U()->count_admins(c, &admins), FG_OK);
    assert_true(admins >= 1);
    assert_int_equal(U()->set_roles(c, u.id, 1, 3001), FG_OK);
    long long admins2 = 0;
    assert_int_equal(U()->count_admins(c, &admins2), FG_OK);
    assert_int_equal(admins2, admins - 1);

    const char *missing = "00000000-0000-7000-8000-000000000000";
    assert_int_equal(U()->set_display_name(c, missing, "x", 1), FG_ENOTFOUND);
    assert_int_equal(U()->set_password_hash(c, missing, "x", 1), FG_ENOTFOUND);
    assert_int_equal(U()->set_trust(c, missing, 1, 1), FG_ENOTFOUND);
    assert_int_equal(U()->set_roles(c, missing, 1, 1), FG_ENOTFOUND);
    assert_int_equal(U()->set_disabled(c, missing, 1, 1), FG_ENOTFOUND);
    assert_int_equal(U()->set_mfa(c, missing, NULL, 0, 0, 1), FG_ENOTFOUND);
    assert_int_equal(U()->set_locked_until(c, missing, 1), FG_ENOTFOUND);
    assert_int_equal(U()->set_last_login(c, missing, 1), FG_ENOTFOUND);
    store_release(pgfx.store, c);
}

static void test_mfa_steps(void **state)
{
    (void)state;
    struct store_conn *c = pgfx_conn();
    struct store_user u, got;
    char email[80];
    snprintf(email, sizeof email, "mfa.%d@example.org", (int)getpid());
    make_user(c, email, 2000, &u);
    assert_int_equal(U()->set_mfa(c, u.id, "JBSWY3DPEHPK3PXP", 1, 100, 2001), FG_OK);
    assert_int_equal(U()->get_by_id(c, u.id, &got), FG_OK);
    assert_int_equal(got.mfa_enabled, 1);
    assert_string_equal(got.mfa_secret, "JBSWY3DPEHPK3PXP");
    assert_int_equal(got.mfa_last_step, 100);
    int ok = -1;
    assert_int_equal(U()->use_mfa_step(c, u.id, 100, &ok), FG_OK);
    assert_int_equal(ok, 0); /* replay */
    assert_int_equal(U()->use_mfa_step(c, u.id, 101, &ok), FG_OK);
    assert_int_equal(ok, 1);
    assert_int_equal(U()->use_mfa_step(c, u.id, 101, &ok), FG_OK);
    assert_int_equal(ok, 0);
    assert_int_equal(U()->set_mfa(c, u.id, NULL, 0, 0, 2002), FG_OK);
    assert_int_equal(U()->get_by_id(c, u.id, &got), FG_OK);
    assert_int_equal(got.mfa_enabled, 0);
    assert_string_equal(got.mfa_secret, "");
    store_release(pgfx.store, c);
}

struct ids {
    char v[8][37];
    int n;
};

static void collect(void *ctx, const char *sid)
{
    struct ids *ids = ctx;
    if (ids->n < 8)
        snprintf(ids->v[ids->n++], 37, "%s", sid);
}

static void test_sessions(void **state)
{
    (void)state;
    struct store_conn *c = pgfx_conn();
    struct store_user u;
    char email[80];
    snprintf(email, sizeof email, "sess.%d@example.org", (int)getpid());
    make_user(c, email, 2000, &u);
    struct store_session s[3], got;
    for (int i = 0; i < 3; i++) {
        memset(&s[i], 0, sizeof s[i]);
        pgfx_id(s[i].id);
        snprintf(s[i].user_id, sizeof s[i].user_id, "%s", u.id);
        snprintf(s[i].refresh_jti, sizeof s[i].refresh_jti, "jti-%d", i);
        s[i].created_at = s[i].last_used_at = 5000;
        s[i].expires_at = 10000;
        assert_int_equal(U()->session_create(c, &s[i]), FG_OK);
    }
    assert_int_equal(U()->session_create(c, &s[0]), FG_ECONFLICT);
    struct store_session orphan = s[0];
    pgfx_id(orphan.id);
    snprintf(orphan.user_id, sizeof orphan.user_id, "00000000-0000-7000-8000-00000000dead");
    assert_int_equal(U()->session_create(c, &orphan), FG_ECONFLICT); /* foreign key */

    assert_int_equal(U()->session_get(c, s[0].id, &got), FG_OK);
    assert_string_equal(got.refresh_jti, "jti-0");
    assert_int_equal(got.revoked_at, 0);
    assert_int_equal(got.expires_at, 10000);
    assert_int_equal(U()->session_get(c, "nope", &got), FG_ENOTFOUND);

    int rotated = -1;
    assert_int_equal(U()->session_rotate(c, s[0].id, "wrong", "jti-x", 20000, 6000, &rotated),
                     FG_OK);
    assert_int_equal(rotated, 0);
    assert_int_equal(U()->session_rotate(c, s[0].id, "jti-0", "jti-0b", 20000, 6000, &rotated),
                     FG_OK);
    assert_int_equal(rotated, 1);
    assert_int_equal(U()->session_get(c, s[0].id, &got), FG_OK);
    assert_string_equal(got.refresh_jti, "jti-0b");
    assert_int_equal(got.expires_at, 20000);
    assert_int_equal(got.last_used_at, 6000);
    /* expired: not rotated */
    assert_int_equal(U()->session_rotate(c, s[1].id, "jti-1", "jti-1b", 20000, 10000, &rotated),
                     FG_OK);
    assert_int_equal(rotated, 0);

    assert_int_equal(U()->session_revoke(c, s[1].id, "logout", 7000), FG_OK);
    assert_int_equal(U()->session_revoke(c, s[1].id, "again", 8000), FG_OK);
    assert_int_equal(U()->session_get(c, s[1].id, &got), FG_OK);
    assert_int_equal(got.revoked_at, 7000);
    assert_int_equal(U()->session_rotate(c, s[1].id, "jti-1", "jti-1c", 20000, 7500, &rotated),
                     FG_OK);
    assert_int_equal(rotated, 0);

    /* revoke all but s[0]: exactly s[2] (s[1] was already revoked) */
    struct ids ids = {0};
    assert_int_equal(store_begin(pgfx.store, c), FG_OK);
    assert_int_equal(
        U()->session_revoke_user(c, u.id, s[0].id, "password_changed", 9000, collect, &ids), FG_OK);
    assert_int_equal(store_commit(pgfx.store, c), FG_OK);
    assert_int_equal(ids.n, 1);
    assert_string_equal(ids.v[0], s[2].id);
    ids.n = 0;
    assert_int_equal(U()->session_revoke_user(c, u.id, NULL, "disabled", 9500, collect, &ids),
                     FG_OK);
    assert_int_equal(ids.n, 1);
    assert_string_equal(ids.v[0], s[0].id);

    long long deleted = -1;
    assert_int_equal(U()->session_purge(c, 7000, &deleted), FG_OK);
    assert_int_equal(deleted, 0);
    assert_int_equal(U()->session_purge(c, 9600, &deleted), FG_OK);
    assert_true(deleted >= 3);
    assert_int_equal(U()->session_get(c, s[0].id, &got), FG_ENOTFOUND);
    assert_int_equal(U()->session_purge(c, 9600, NULL), FG_OK);
    store_release(pgfx.store, c);
}

struct writer {
    char id[37];
    enum fg_err e;
};

static void *set_trust_tx(void *arg)
{
    struct writer *w = arg;
    struct store_conn *c = pgfx_conn();
    struct store_user u;
    w->e = store_begin(pgfx.store, c);
    if (w->e == FG_OK)
        w->e = U()->get_by_id(c, w->id, &u); /* waits for the other transaction */
    if (w->e == FG_OK)
        w->e = U()->set_trust(c, w->id, u.trust + 1, 1);
    if (w->e == FG_OK)
        w->e = store_commit(pgfx.store, c);
    else
        store_rollback(pgfx.store, c);
    store_release(pgfx.store, c);
    return NULL;
}

/* Read-modify-write of a user in two transactions at once loses no update (as SQLite's
 * serialised writers). */
static void test_read_in_tx_locks_row(void **state)
{
    (void)state;
    struct store_conn *c = pgfx_conn(), *mon = pgfx_conn();
    struct store_user u, got;
    char email[80];
    snprintf(email, sizeof email, "lock.%d@example.org", (int)getpid());
    make_user(c, email, 2000, &u);
    assert_int_equal(store_begin(pgfx.store, c), FG_OK);
    assert_int_equal(U()->get_by_id(c, u.id, &got), FG_OK);
    struct writer w = {.e = FG_EINTERNAL};
    snprintf(w.id, sizeof w.id, "%s", u.id);
    pthread_t t;
    assert_int_equal(pthread_create(&t, NULL, set_trust_tx, &w), 0);
    assert_true(pgfx_wait_blocked(mon));
    assert_int_equal(U()->set_trust(c, u.id, got.trust + 1, 1), FG_OK);
    assert_int_equal(store_commit(pgfx.store, c), FG_OK);
    pthread_join(t, NULL);
    assert_int_equal(w.e, FG_OK);
    assert_int_equal(U()->get_by_id(c, u.id, &got), FG_OK);
    assert_int_equal(got.trust, 62);
    store_release(pgfx.store, mon);
    store_release(pgfx.store, c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_create_get_email_nocase),
        cmocka_unit_test(test_list_newest_first),
        cmocka_unit_test(test_setters),
        cmocka_unit_test(test_mfa_steps),
        cmocka_unit_test(test_sessions),
        cmocka_unit_test(test_read_in_tx_locks_row),
    };
    return cmocka_run_group_tests(tests, pgfx_setup, pgfx_teardown);
}
