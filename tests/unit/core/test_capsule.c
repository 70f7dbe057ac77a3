/*
 * Capsule rules (core/capsule.c, core/lineage.c) on a temp SQLite store: validation, trust
 * inheritance, owner-or-admin, version bumps and revisions, delete conflicts and cascade,
 * visibility, and that every change commits with exactly one outbox event and one audit entry
 * per capsule (and nothing when refused).
 */
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
#include "core/audit.h"
#include "core/authz.h"
#include "core/capsule.h"
#include "core/lineage.h"
#include "store/store.h"
#include "util/config.h"

#define ALICE "0190a000-0000-7000-8000-00000000a11c"
#define BOB   "0190a000-0000-7000-8000-0000000000b0"
#define ROOT  "0190a000-0000-7000-8000-00000000ad00"

struct fx {
    struct fg_config cfg;
    struct fg_app app;
    char dir[64];
    char db[128];
};

static const struct fg_ctx alice = {.user_id = ALICE, .trust = 60};
static const struct fg_ctx bob = {.user_id = BOB, .trust = 60};
static const struct fg_ctx sandboxed = {.user_id = BOB, .trust = 40};
static const struct fg_ctx trusted_alice = {.user_id = ALICE, .trust = 80};
static const struct fg_ctx admin = {.user_id = ROOT, .trust = 60, .admin = 1};

static void sql(struct fx *f, const char *q)
{
    sqlite3 *h;
    assert_int_equal(sqlite3_open(f->db, &h), SQLITE_OK);
    assert_int_equal(sqlite3_exec(h, q, NULL, NULL, NULL), SQLITE_OK);
    sqlite3_close(h);
}

static long long count(struct fx *f, const char *q)
{
    sqlite3 *h;
    sqlite3_stmt *st;
    assert_int_equal(sqlite3_open(f->db, &h), SQLITE_OK);
    assert_int_equal(sqlite3_prepare_v2(h, q, -1, &st, NULL), SQLITE_OK);
    assert_int_equal(sqlite3_step(st), SQLITE_ROW);
    long long n = sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    sqlite3_close(h);
    return n;
}

static int setup(void **state)
{
    struct fx *f = calloc(1, sizeof *f);
    snprintf(f->dir, sizeof f->dir, "/tmp/forge-capcore-XXXXXX");
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
    sql(f,
        "INSERT INTO users (id, email, password_hash, created_at, updated_at) VALUES "
        "('" ALICE "', 'alice@example.com', 'x', 0, 0), ('" BOB "', 'bob@example.com', 'x', 0, 0),"
        "('" ROOT "', 'root@example.com', 'x', 0, 0)");
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fx *f = *state;
    store_close(f->app.store);
    fg_config_free(&f->cfg);
    char cmd[200];
    snprintf(cmd, sizeof cmd, "rm -rf %s", f->dir);
    assert_int_equal(system(cmd), 0);
    free(f);
    return 0;
}

static void create(struct fx *f, const struct fg_ctx *a, const char *content, const char *parent,
                   char id[37], int expect_trust)
{
    struct fg_capsule_input in = {.content = content,
                                  .content_len = strlen(content),
                                  .parent_id = parent,
                                  .reason = parent ? "refines" : NULL};
    struct fg_capsule_why why = {0};
    struct store_capsule cap = {0};
    enum fg_err e = fg_capsule_create(&f->app, a, &in, &cap, &why);
    if (e != FG_OK)
        fail_msg("create: %s (%s)", fg_err_name(e), why.message);
    assert_int_equal(cap.trust_level, expect_trust);
    assert_string_equal(cap.version, "1.0.0");
    assert_string_equal(cap.type, "knowledge");
    memcpy(id, cap.id, 37);
    store_capsule_clear(&cap);
}

static void test_version_bump(void **state)
{
    (void)state;
    char out[32];
    assert_int_equal(fg_version_bump_minor("1.0.0", out, sizeof out), 0);
    assert_string_equal(out, "1.1.0");
    assert_int_equal(fg_version_bump_minor("2.9.7", out, sizeof out), 0);
    assert_string_equal(out, "2.10.0");
    assert_int_equal(fg_version_bump_minor("1.0", out, sizeof out), -1);
    assert_int_equal(fg_version_bump_minor("1.0.0-beta", out, sizeof out), -1);
    assert_int_equal(fg_version_bump_minor("a.b.c", out, sizeof out), -1);
}

static void expect_invalid(const struct fg_capsule_input *in, const char *field)
{
    struct fg_capsule_why why = {0};
    assert_int_equal(fg_capsule_validate(in, &why), FG_EINVAL);
    assert_string_equal(why.field, field);
}

static void test_validation(void **state)
{
    (void)state;
    struct fg_capsule_input in = {.content = "", .content_len = 0};
    expect_invalid(&in, "content");
    char *big = malloc(FG_CAPSULE_CONTENT_MAX + 1);
    memset(big, 'a', FG_CAPSULE_CONTENT_MAX + 1);
    in = (struct fg_capsule_input){.content = big, .content_len = FG_CAPSULE_CONTENT_MAX};
    struct fg_capsule_why why = {0};
    assert_int_equal(fg_capsule_validate(&in, &why), FG_OK); /* exactly 1 MB is fine */
    in.content_len++;
    expect_invalid(&in, "content");
    free(big);
    static const char *const bad_utf8[] = {"\xc3\x28", "\xe2\x82", "\xed\xa0\x80", "\xc0\xaf",
                                           "\xf4\x90\x80\x80"};
    for (size_t i = 0; i < sizeof bad_utf8 / sizeof bad_utf8[0]; i++) {
        in = (struct fg_capsule_input){.content = bad_utf8[i], .content_len = strlen(bad_utf8[i])};
        expect_invalid(&in, "content");
    }
    in = (struct fg_capsule_input){.content = "ok \xe2\x9c\x93", .content_len = 6};
    assert_int_equal(fg_capsule_validate(&in, &why), FG_OK);
    in = (struct fg_capsule_input){.type = "poem"};
    expect_invalid(&in, "type");
    in = (struct fg_capsule_input){.metadata = "[1,2]"};
    expect_invalid(&in, "metadata");
    char *meta = malloc(FG_CAPSULE_METADATA_MAX + 32);
    int n = snprintf(meta, 16, "{\"k\":\"");
    memset(meta + n, 'x', FG_CAPSULE_METADATA_MAX);
    snprintf(meta + n + FG_CAPSULE_METADATA_MAX, 8, "\"}");
    in = (struct fg_capsule_input){.metadata = meta};
    expect_invalid(&in, "metadata");
    free(meta);
}

static void test_trust_inheritance(void **state)
{
    struct fx *f = *state;
    char p_std[37], p_trusted[37], child[37], id[37];
    create(f, &alice, "standard root", NULL, p_std, FG_TRUST_STANDARD);
    create(f, &trusted_alice, "no parent: standard even for trusted", NULL, id, FG_TRUST_STANDARD);
    create(f, &sandboxed, "sandbox creator: never above its own trust", NULL, id, FG_TRUST_SANDBOX);
    /* raise one root to trusted (admin), then derive from it */
    struct store_capsule cap = {0};
    struct fg_capsule_why why = {0};
    create(f, &alice, "to be trusted", NULL, p_trusted, FG_TRUST_STANDARD);
    assert_int_equal(fg_capsule_set_trust(&f->app, &admin, p_trusted, FG_TRUST_TRUSTED, &cap, &why),
                     FG_OK);
    store_capsule_clear(&cap);
    create(f, &trusted_alice, "child of trusted by trusted", p_trusted, child, FG_TRUST_TRUSTED);
    /* standard creator cannot derive from a trusted parent */
    struct fg_capsule_input in = {.content = "x", .content_len = 1, .parent_id = p_trusted};
    memset(&why, 0, sizeof why);
    assert_int_equal(fg_capsule_create(&f->app, &bob, &in, &cap, &why), FG_EFORBIDDEN);
    assert_string_equal(why.rule, "trust");
    /* child takes the lower trust: trusted creator under a standard parent */
    create(f, &trusted_alice, "trusted creator, standard parent", p_std, id, FG_TRUST_STANDARD);
    /* a sandboxed creator cannot reach a standard parent */
    in.parent_id = p_std;
    memset(&why, 0, sizeof why);
    assert_int_equal(fg_capsule_create(&f->app, &sandboxed, &in, &cap, &why), FG_EFORBIDDEN);
    assert_int_equal(why.required_trust, FG_TRUST_STANDARD);
    assert_int_equal(why.actual_trust, FG_TRUST_SANDBOX);
    /* missing and deleted parents are 404 */
    in.parent_id = "0190a000-0000-7000-8000-0000000000ff";
    memset(&why, 0, sizeof why);
    assert_int_equal(fg_capsule_create(&f->app, &alice, &in, &cap, &why), FG_ENOTFOUND);
    assert_string_equal(why.what, "parent capsule");
    long long n;
    assert_int_equal(fg_capsule_delete(&f->app, &bob, id, 0, &n, &why), FG_EFORBIDDEN);
    char leaf[37];
    create(f, &alice, "leaf", p_std, leaf, FG_TRUST_STANDARD);
    assert_int_equal(fg_capsule_delete(&f->app, &alice, leaf, 0, &n, &why), FG_OK);
    in.parent_id = leaf;
    memset(&why, 0, sizeof why);
    assert_int_equal(fg_capsule_create(&f->app, &alice, &in, &cap, &why), FG_ENOTFOUND);
    /* the edge carries the reason */
    assert_int_equal(count(f, "SELECT count(*) FROM capsule_edges WHERE reason = 'refines'"), 3);
}

static void test_update_versions(void **state)
{
    struct fx *f = *state;
    char id[37];
    create(f, &alice, "v1", NULL, id, FG_TRUST_STANDARD);
    struct fg_capsule_why why = {0};
    struct store_capsule cap = {0};
    struct fg_capsule_input in = {.metadata = "{\"tag\":\"a\"}"};
    assert_int_equal(fg_capsule_update(&f->app, &alice, id, &in, &cap, &why), FG_OK);
    assert_string_equal(cap.version, "1.0.0"); /* metadata only: no bump */
    store_capsule_clear(&cap);
    in = (struct fg_capsule_input){.content = "v2", .content_len = 2};
    assert_int_equal(fg_capsule_update(&f->app, &alice, id, &in, &cap, &why), FG_OK);
    assert_string_equal(cap.version, "1.1.0");
    store_capsule_clear(&cap);
    /* same content again: nothing changes, nothing written */
    long long events = count(f, "SELECT count(*) FROM outbox");
    assert_int_equal(fg_capsule_update(&f->app, &alice, id, &in, &cap, &why), FG_OK);
    assert_string_equal(cap.version, "1.1.0");
    store_capsule_clear(&cap);
    assert_int_equal(count(f, "SELECT count(*) FROM outbox"), events);
    /* not the owner: refused and audited as denied; admin may */
    in = (struct fg_capsule_input){.content = "v3", .content_len = 2};
    memset(&why, 0, sizeof why);
    assert_int_equal(fg_capsule_update(&f->app, &bob, id, &in, &cap, &why), FG_EFORBIDDEN);
    assert_string_equal(why.rule, "owner_or_admin");
    assert_int_equal(
        count(f,
              "SELECT count(*) FROM audit_log WHERE outcome = 'denied' AND actor_id = '" BOB "'"),
        1);
    assert_int_equal(fg_capsule_update(&f->app, &admin, id, &in, &cap, &why), FG_OK);
    assert_string_equal(cap.version, "1.2.0");
    store_capsule_clear(&cap);
    assert_int_equal(count(f, "SELECT count(*) FROM capsule_revisions"), 2);
    assert_int_equal(count(f, "SELECT count(*) FROM capsule_revisions WHERE version = '1.1.0' "
                              "AND content = 'v2' AND author = '" ALICE
                              "' AND superseded_by = '" ROOT "'"),
                     1);
    /* one event and one audit entry per change: create + 3 updates */
    assert_int_equal(count(f, "SELECT count(*) FROM outbox WHERE resource_id IS NOT NULL"), 4);
    assert_int_equal(count(f, "SELECT count(*) FROM audit_log WHERE outcome = 'success'"), 4);
}

static void test_delete_and_cascade(void **state)
{
    struct fx *f = *state;
    char root[37], c1[37], c2[37], g1[37], g2[37];
    create(f, &alice, "root", NULL, root, 60);
    create(f, &alice, "c1", root, c1, 60);
    create(f, &bob, "c2", root, c2, 60);
    create(f, &bob, "g1", c1, g1, 60);
    create(f, &alice, "g2", c2, g2, 60);
    struct fg_capsule_why why = {0};
    long long n = 0;
    assert_int_equal(fg_capsule_delete(&f->app, &alice, root, 0, &n, &why), FG_ECONFLICT);
    assert_int_equal(why.children, 2);
    assert_int_equal(fg_capsule_delete(&f->app, &bob, root, 1, &n, &why), FG_EFORBIDDEN);
    long long before = count(f, "SELECT count(*) FROM outbox");
    assert_int_equal(fg_capsule_delete(&f->app, &alice, root, 1, &n, &why), FG_OK);
    assert_int_equal(n, 5);
    assert_int_equal(count(f, "SELECT count(*) FROM capsules WHERE is_deleted = 1"), 5);
    assert_int_equal(count(f, "SELECT count(*) FROM outbox") - before, 5);
    assert_int_equal(count(f, "SELECT count(*) FROM audit_log WHERE action = 'capsule.delete' "
                              "AND outcome = 'success'"),
                     5);
    struct store_capsule cap = {0};
    assert_int_equal(fg_capsule_get(&f->app, &alice, g2, 0, 0, &cap), FG_ENOTFOUND);
    assert_int_equal(fg_capsule_get(&f->app, &admin, g2, 0, 1, &cap), FG_OK);
    assert_int_equal(cap.is_deleted, 1);
    store_capsule_clear(&cap);
    assert_int_equal(fg_capsule_delete(&f->app, &alice, root, 1, &n, &why), FG_ENOTFOUND);
}

static int depth_cb(const struct store_ancestor *a, void *ctx)
{
    int *last = ctx;
    *last = a->depth;
    return 0;
}

static void test_visibility(void **state)
{
    struct fx *f = *state;
    char id[37], child[37];
    create(f, &alice, "secret", NULL, id, 60);
    create(f, &alice, "derived", id, child, 60);
    struct store_capsule cap = {0};
    struct fg_capsule_why why = {0};
    assert_int_equal(fg_capsule_set_trust(&f->app, &admin, id, FG_TRUST_CORE, &cap, &why), FG_OK);
    assert_int_equal(cap.trust_level, FG_TRUST_CORE);
    store_capsule_clear(&cap);
    /* invisible to a standard reader, even its owner: absent */
    assert_int_equal(fg_capsule_get(&f->app, &alice, id, 0, 0, &cap), FG_ENOTFOUND);
    assert_int_equal(fg_capsule_get(&f->app, &admin, id, 0, 0, &cap), FG_OK);
    store_capsule_clear(&cap);
    struct fg_capsule_input in = {.content = "x", .content_len = 1};
    assert_int_equal(fg_capsule_update(&f->app, &alice, id, &in, &cap, &why), FG_ENOTFOUND);
    /* lineage of the child leaves the core ancestor out */
    int last = 0, truncated = 0;
    assert_int_equal(fg_lineage_ancestors(&f->app, &alice, child, 10, depth_cb, &last, &truncated),
                     FG_OK);
    assert_int_equal(last, 0);
    assert_int_equal(fg_lineage_ancestors(&f->app, &admin, child, 10, depth_cb, &last, &truncated),
                     FG_OK);
    assert_int_equal(last, 1);
    assert_int_equal(count(f, "SELECT count(*) FROM audit_log WHERE action = "
                              "'capsule.trust_change'"),
                     1);
}

/* Response content budget and UTF-8 safe previews (issue 11, finding 3). */
static void test_content_budget(void **state)
{
    (void)state;
    /* "€" is 3 bytes: a 2-character prefix of "€€x" is 6 bytes, never a split character */
    assert_int_equal(fg_utf8_prefix("\xe2\x82\xac\xe2\x82\xacx", 7, 2), 6);
    assert_int_equal(fg_utf8_prefix("\xe2\x82\xac\xe2\x82\xacx", 7, 3), 7);
    assert_int_equal(fg_utf8_prefix("abc", 3, 10), 3);
    assert_int_equal(fg_utf8_prefix("abc", 3, 0), 0);
    struct fg_content_budget b;
    fg_content_budget_init(&b);
    assert_int_equal(fg_content_budget_take(&b, "x", FG_RESPONSE_CONTENT_BUDGET - 10),
                     FG_RESPONSE_CONTENT_BUDGET - 10);
    assert_false(b.capped);
    assert_int_equal(fg_content_budget_take(&b, "0123456789", 10), 10);
    assert_int_equal(b.left, 0);
    char big[300];
    memset(big, 'a', sizeof big);
    assert_int_equal(fg_content_budget_take(&b, big, sizeof big), FG_CONTENT_PREVIEW_CHARS);
    assert_true(b.capped);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_version_bump),
        cmocka_unit_test(test_validation),
        cmocka_unit_test(test_content_budget),
        cmocka_unit_test_setup_teardown(test_trust_inheritance, setup, teardown),
        cmocka_unit_test_setup_teardown(test_update_versions, setup, teardown),
        cmocka_unit_test_setup_teardown(test_delete_and_cascade, setup, teardown),
        cmocka_unit_test_setup_teardown(test_visibility, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
