/*
 * SQLite capsule store (store/capsules.h) against a temp database: insert/get, list filters and
 * trust visibility in SQL, update + revisions, soft delete of a subtree, the lineage walk (a
 * 1000-deep chain, walked whole and capped), the trigger-written change feed and embeddings.
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

#include "store/capsules.h"
#include "store/store.h"
#include "util/config.h"
#include "util/time.h"
#include "util/uuid.h"

#define OWNER "0190a000-0000-7000-8000-000000000001"
#define OTHER "0190a000-0000-7000-8000-000000000002"

struct fx {
    struct fg_config cfg;
    struct store *st;
    struct store_conn *c;
    char dir[64];
    char db[128];
};

static void add_user(const char *db, const char *id, const char *email)
{
    sqlite3 *h;
    assert_int_equal(sqlite3_open(db, &h), SQLITE_OK);
    char sql[512];
    snprintf(sql, sizeof sql,
             "INSERT INTO users (id, email, password_hash, created_at, updated_at) "
             "VALUES ('%s', '%s', 'x', 0, 0)",
             id, email);
    assert_int_equal(sqlite3_exec(h, sql, NULL, NULL, NULL), SQLITE_OK);
    sqlite3_close(h);
}

static int setup(void **state)
{
    struct fx *f = calloc(1, sizeof *f);
    snprintf(f->dir, sizeof f->dir, "/tmp/forge-capstore-XXXXXX");
    assert_non_null(mkdtemp(f->dir));
    snprintf(f->db, sizeof f->db, "%s/forge.db", f->dir);
    char url[160], err[512];
    snprintf(url, sizeof url, "sqlite://%s", f->db);
    setenv("DATABASE_URL", url, 1);
    setenv("FORGE_ENV_FILE", "/dev/null", 1);
    assert_int_equal(fg_config_load(&f->cfg, NULL, err, sizeof err), 0);
    assert_int_equal(store_open(&f->cfg, &f->st, err, sizeof err), FG_OK);
    int applied;
    assert_int_equal(f->st->ops->migrate(f->st, &applied), FG_OK);
    add_user(f->db, OWNER, "owner@example.com");
    add_user(f->db, OTHER, "other@example.com");
    enum fg_err e;
    f->c = store_acquire(f->st, &e);
    assert_non_null(f->c);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fx *f = *state;
    store_release(f->st, f->c);
    store_close(f->st);
    fg_config_free(&f->cfg);
    char cmd[200];
    snprintf(cmd, sizeof cmd, "rm -rf %s", f->dir);
    assert_int_equal(system(cmd), 0);
    free(f);
    return 0;
}

static int64_t g_clock = 1700000000000;

/* Inserts a capsule (in a transaction of its own); id written to `id`. */
static void put(struct fx *f, char id[37], const char *content, const char *type, int trust,
                const char *parent, const char *owner)
{
    struct store_capsule c;
    memset(&c, 0, sizeof c);
    fg_uuid7(c.id);
    c.content = (char *)(uintptr_t)content;
    c.content_len = strlen(content);
    snprintf(c.type, sizeof c.type, "%s", type);
    c.metadata = "{\"k\":1}";
    snprintf(c.version, sizeof c.version, "1.0.0");
    snprintf(c.owner_id, sizeof c.owner_id, "%s", owner ? owner : OWNER);
    c.trust_level = trust;
    if (parent)
        snprintf(c.parent_id, sizeof c.parent_id, "%s", parent);
    c.created_at = c.updated_at = c.version_created_at = ++g_clock;
    snprintf(c.content_hash, sizeof c.content_hash, "h-%s", content);
    assert_int_equal(store_begin(f->st, f->c), FG_OK);
    assert_int_equal(f->st->capsules->insert(f->c, &c, parent ? "because" : NULL), FG_OK);
    assert_int_equal(store_commit(f->st, f->c), FG_OK);
    memcpy(id, c.id, 37);
}

static void test_insert_get(void **state)
{
    struct fx *f = *state;
    char id[37];
    put(f, id, "hello", "knowledge", 60, NULL, NULL);
    struct store_capsule c;
    memset(&c, 0, sizeof c);
    assert_int_equal(f->st->capsules->get(f->c, id, 0, &c), FG_OK);
    assert_string_equal(c.content, "hello");
    assert_int_equal(c.content_len, 5);
    assert_string_equal(c.type, "knowledge");
    assert_string_equal(c.metadata, "{\"k\":1}");
    assert_string_equal(c.version, "1.0.0");
    assert_string_equal(c.owner_id, OWNER);
    assert_int_equal(c.trust_level, 60);
    assert_string_equal(c.parent_id, "");
    assert_int_equal(c.is_deleted, 0);
    assert_null(c.embedding);
    store_capsule_clear(&c);
    assert_int_equal(f->st->capsules->get(f->c, "0190a000-0000-7000-8000-0000000000ff", 0, &c),
                     FG_ENOTFOUND);
    /* schema checks hold even for direct writers: unknown owner, bad type */
    struct store_capsule bad;
    memset(&bad, 0, sizeof bad);
    fg_uuid7(bad.id);
    bad.content = "x";
    bad.content_len = 1;
    snprintf(bad.type, sizeof bad.type, "poem");
    snprintf(bad.version, sizeof bad.version, "1.0.0");
    snprintf(bad.owner_id, sizeof bad.owner_id, "%s", OWNER);
    snprintf(bad.content_hash, sizeof bad.content_hash, "h");
    assert_int_equal(f->st->capsules->insert(f->c, &bad, NULL), FG_ECONFLICT);
    snprintf(bad.type, sizeof bad.type, "code");
    snprintf(bad.owner_id, sizeof bad.owner_id, "0190a000-0000-7000-8000-0000000000aa");
    assert_int_equal(f->st->capsules->insert(f->c, &bad, NULL), FG_ECONFLICT);
}

struct collect {
    int n;
    char ids[64][37];
};

static int collect_cb(const struct store_capsule *cap, void *ctx)
{
    struct collect *x = ctx;
    if (x->n < 64)
        memcpy(x->ids[x->n], cap->id, 37);
    x->n++;
    return 0;
}

static void test_list_filters_and_visibility(void **state)
{
    struct fx *f = *state;
    char a[37], b[37], c[37], d[37], e[37];
    put(f, a, "a", "knowledge", 60, NULL, NULL);
    put(f, b, "b", "code", 60, NULL, OTHER);
    put(f, c, "c", "code", 80, NULL, NULL);
    put(f, d, "d", "decision", 100, NULL, NULL);
    put(f, e, "e", "knowledge", 40, a, NULL);
    struct store_capsule_filter flt = {.max_trust = 60, .trust_level = -1};
    struct collect x = {0};
    long long total = 0;
    assert_int_equal(f->st->capsules->list(f->c, &flt, 0, 10, collect_cb, &x, &total), FG_OK);
    assert_int_equal(total, 3); /* a, b, e: trusted and core ones neither returned nor counted */
    assert_int_equal(x.n, 3);
    assert_string_equal(x.ids[0], e); /* newest first */
    assert_string_equal(x.ids[2], a);
    flt.max_trust = 100;
    flt.type = "code";
    memset(&x, 0, sizeof x);
    assert_int_equal(f->st->capsules->list(f->c, &flt, 0, 10, collect_cb, &x, &total), FG_OK);
    assert_int_equal(total, 2);
    flt.type = NULL;
    flt.owner_id = OTHER;
    memset(&x, 0, sizeof x);
    assert_int_equal(f->st->capsules->list(f->c, &flt, 0, 10, collect_cb, &x, &total), FG_OK);
    assert_int_equal(total, 1);
    assert_string_equal(x.ids[0], b);
    flt.owner_id = NULL;
    flt.parent_id = a;
    memset(&x, 0, sizeof x);
    assert_int_equal(f->st->capsules->list(f->c, &flt, 0, 10, collect_cb, &x, &total), FG_OK);
    assert_int_equal(total, 1);
    assert_string_equal(x.ids[0], e);
    flt.parent_id = NULL;
    flt.trust_level = 80;
    memset(&x, 0, sizeof x);
    assert_int_equal(f->st->capsules->list(f->c, &flt, 0, 10, collect_cb, &x, &total), FG_OK);
    assert_int_equal(total, 1);
    assert_string_equal(x.ids[0], c);
    /* created window (exclusive bounds) and pagination */
    struct store_capsule cb_, cd_;
    memset(&cb_, 0, sizeof cb_);
    memset(&cd_, 0, sizeof cd_);
    assert_int_equal(f->st->capsules->get(f->c, b, 0, &cb_), FG_OK);
    assert_int_equal(f->st->capsules->get(f->c, d, 0, &cd_), FG_OK);
    flt = (struct store_capsule_filter){.max_trust = 100,
                                        .trust_level = -1,
                                        .created_after = cb_.created_at,
                                        .created_before = cd_.created_at};
    memset(&x, 0, sizeof x);
    assert_int_equal(f->st->capsules->list(f->c, &flt, 0, 10, collect_cb, &x, &total), FG_OK);
    assert_int_equal(total, 1);
    assert_string_equal(x.ids[0], c);
    store_capsule_clear(&cb_);
    store_capsule_clear(&cd_);
    flt = (struct store_capsule_filter){.max_trust = 100, .trust_level = -1};
    memset(&x, 0, sizeof x);
    assert_int_equal(f->st->capsules->list(f->c, &flt, 2, 2, collect_cb, &x, &total), FG_OK);
    assert_int_equal(total, 5);
    assert_int_equal(x.n, 2);
    assert_string_equal(x.ids[0], c);
    assert_string_equal(x.ids[1], b);
}

static int rev_count_cb(const struct store_revision *r, void *ctx)
{
    int *n = ctx;
    if (*n == 0) {
        assert_string_equal(r->version, "1.1.0");
        assert_string_equal(r->content, "v2");
    }
    (*n)++;
    return 0;
}

static void test_update_revisions_embedding(void **state)
{
    struct fx *f = *state;
    char id[37];
    put(f, id, "v1", "knowledge", 60, NULL, NULL);
    float vec[3] = {1, 2, 3};
    assert_int_equal(f->st->capsules->set_embedding(f->c, id, vec, sizeof vec, "stale"),
                     FG_ECONFLICT);
    assert_int_equal(f->st->capsules->set_embedding(f->c, id, vec, sizeof vec, "h-v1"), FG_OK);
    long long head0 = 0, head1 = 0;
    assert_int_equal(f->st->capsules->changes_head(f->c, &head0), FG_OK);

    struct store_capsule cur;
    memset(&cur, 0, sizeof cur);
    assert_int_equal(f->st->capsules->get(f->c, id, STORE_CAPSULE_WITH_EMBEDDING, &cur), FG_OK);
    assert_int_equal(cur.embedding_len, sizeof vec);
    /* metadata-only: embedding kept */
    struct store_capsule next = cur;
    next.metadata = "{\"k\":2}";
    next.updated_at = ++g_clock;
    assert_int_equal(store_begin(f->st, f->c), FG_OK);
    assert_int_equal(f->st->capsules->update(f->c, &next, NULL), FG_OK);
    assert_int_equal(store_commit(f->st, f->c), FG_OK);
    store_capsule_clear(&cur);
    assert_int_equal(f->st->capsules->get(f->c, id, STORE_CAPSULE_WITH_EMBEDDING, &cur), FG_OK);
    assert_non_null(cur.embedding);
    assert_string_equal(cur.metadata, "{\"k\":2}");

    /* content change twice: two revisions, embedding dropped */
    const char *contents[] = {"v2", "v3"};
    const char *versions[] = {"1.1.0", "1.2.0"};
    for (int i = 0; i < 2; i++) {
        next = cur;
        next.content = (char *)(uintptr_t)contents[i];
        next.content_len = 2;
        snprintf(next.content_hash, sizeof next.content_hash, "h-%s", contents[i]);
        snprintf(next.version, sizeof next.version, "%s", versions[i]);
        next.updated_at = next.version_created_at = ++g_clock;
        struct store_revision prev = {.capsule_id = id,
                                      .version = cur.version,
                                      .content = cur.content,
                                      .content_len = cur.content_len,
                                      .metadata = cur.metadata,
                                      .content_hash = cur.content_hash,
                                      .created_at = cur.version_created_at,
                                      .author = OWNER,
                                      .superseded_at = g_clock,
                                      .superseded_by = OWNER};
        assert_int_equal(store_begin(f->st, f->c), FG_OK);
        assert_int_equal(f->st->capsules->update(f->c, &next, &prev), FG_OK);
        assert_int_equal(store_commit(f->st, f->c), FG_OK);
        store_capsule_clear(&cur);
        assert_int_equal(f->st->capsules->get(f->c, id, STORE_CAPSULE_WITH_EMBEDDING, &cur), FG_OK);
    }
    assert_string_equal(cur.version, "1.2.0");
    assert_string_equal(cur.content, "v3");
    assert_null(cur.embedding);
    store_capsule_clear(&cur);
    int n = 0;
    long long total = 0;
    assert_int_equal(f->st->capsules->revisions(f->c, id, 0, 10, rev_count_cb, &n, &total), FG_OK);
    assert_int_equal(total, 2);
    assert_int_equal(n, 2);
    /* metadata + 2 content updates = 3 feed rows; the embedding writes none */
    assert_int_equal(f->st->capsules->changes_head(f->c, &head1), FG_OK);
    assert_int_equal(head1 - head0, 3);
}

struct feed {
    int n;
    char ops[16][8];
};

static int feed_cb(const struct store_change *ch, void *ctx)
{
    struct feed *x = ctx;
    if (x->n < 16)
        snprintf(x->ops[x->n], 8, "%s", ch->op);
    x->n++;
    return 0;
}

static int count_ids(const char *id, void *ctx)
{
    (void)id;
    (*(int *)ctx)++;
    return 0;
}

static void test_soft_delete_subtree_and_feed(void **state)
{
    struct fx *f = *state;
    char root[37], c1[37], c2[37], g1[37], other[37];
    put(f, root, "root", "knowledge", 60, NULL, NULL);
    put(f, c1, "c1", "knowledge", 60, root, NULL);
    put(f, c2, "c2", "knowledge", 60, root, NULL);
    put(f, g1, "g1", "knowledge", 60, c1, OTHER);
    put(f, other, "other", "knowledge", 60, NULL, NULL);
    long long n = 0;
    assert_int_equal(f->st->capsules->live_children(f->c, root, &n), FG_OK);
    assert_int_equal(n, 2);
    int deleted = 0;
    assert_int_equal(store_begin(f->st, f->c), FG_OK);
    assert_int_equal(f->st->capsules->soft_delete(f->c, c2, 0, ++g_clock, count_ids, &deleted),
                     FG_OK);
    assert_int_equal(store_commit(f->st, f->c), FG_OK);
    assert_int_equal(deleted, 1);
    assert_int_equal(f->st->capsules->live_children(f->c, root, &n), FG_OK);
    assert_int_equal(n, 1);
    deleted = 0;
    assert_int_equal(store_begin(f->st, f->c), FG_OK);
    assert_int_equal(f->st->capsules->soft_delete(f->c, root, 1, ++g_clock, count_ids, &deleted),
                     FG_OK);
    assert_int_equal(store_commit(f->st, f->c), FG_OK);
    assert_int_equal(deleted, 3); /* root, c1, g1 (c2 already gone) */
    assert_int_equal(f->st->capsules->soft_delete(f->c, root, 1, ++g_clock, NULL, NULL),
                     FG_ENOTFOUND);
    assert_int_equal(f->st->capsules->count_live(f->c, &n), FG_OK);
    assert_int_equal(n, 1);
    struct store_capsule g;
    memset(&g, 0, sizeof g);
    assert_int_equal(f->st->capsules->get(f->c, g1, 0, &g), FG_OK);
    assert_int_equal(g.is_deleted, 1);
    assert_true(g.deleted_at > 0);
    store_capsule_clear(&g);
    struct feed x = {0};
    assert_int_equal(f->st->capsules->changes(f->c, 0, 100, feed_cb, &x), FG_OK);
    assert_int_equal(x.n, 9); /* 5 creates, 4 deletes */
    for (int i = 0; i < 5; i++)
        assert_string_equal(x.ops[i], "create");
    for (int i = 5; i < 9; i++)
        assert_string_equal(x.ops[i], "delete");
    memset(&x, 0, sizeof x);
    assert_int_equal(f->st->capsules->changes(f->c, 7, 100, feed_cb, &x), FG_OK);
    assert_int_equal(x.n, 2);
}

struct walk {
    int n;
    int depths[64];
};

static int walk_cb(const struct store_ancestor *a, void *ctx)
{
    struct walk *w = ctx;
    if (w->n < 64)
        w->depths[w->n] = a->depth;
    w->n++;
    return 0;
}

static void exec_sql(struct fx *f, const char *sql)
{
    sqlite3 *h;
    assert_int_equal(sqlite3_open(f->db, &h), SQLITE_OK);
    sqlite3_busy_timeout(h, 5000);
    if (sqlite3_exec(h, sql, NULL, NULL, NULL) != SQLITE_OK)
        fail_msg("%s: %s", sql, sqlite3_errmsg(h));
    sqlite3_close(h);
}

/* One number from a query on a connection of its own (ids in the tests are generated UUIDs, so
 * formatting them into the text is safe here). */
static long long sql_count(struct fx *f, const char *sql)
{
    sqlite3 *h;
    sqlite3_stmt *st;
    assert_int_equal(sqlite3_open(f->db, &h), SQLITE_OK);
    sqlite3_busy_timeout(h, 5000);
    if (sqlite3_prepare_v2(h, sql, -1, &st, NULL) != SQLITE_OK || sqlite3_step(st) != SQLITE_ROW)
        fail_msg("%s: %s", sql, sqlite3_errmsg(h));
    long long n = sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    sqlite3_close(h);
    return n;
}

/* The total a list should report, counted the slow way from the capsules themselves. */
static long long brute_total(struct fx *f, const struct store_capsule_filter *flt)
{
    char sql[1024];
    int n = snprintf(sql, sizeof sql,
                     "SELECT count(*) FROM capsules c WHERE c.is_deleted = 0 AND "
                     "c.trust_level <= %d AND NOT EXISTS (SELECT 1 FROM users u WHERE "
                     "u.id = c.owner_id AND u.trust_level < 40)",
                     flt->max_trust);
    if (flt->type)
        n += snprintf(sql + n, sizeof sql - (size_t)n, " AND c.type = '%s'", flt->type);
    if (flt->trust_level >= 0)
        n += snprintf(sql + n, sizeof sql - (size_t)n, " AND c.trust_level = %d", flt->trust_level);
    if (flt->owner_id)
        snprintf(sql + n, sizeof sql - (size_t)n, " AND c.owner_id = '%s'", flt->owner_id);
    return sql_count(f, sql);
}

static int row_exists(struct fx *f, const char *id)
{
    char sql[128];
    snprintf(sql, sizeof sql, "SELECT count(*) FROM capsules WHERE id = '%s'", id);
    return sql_count(f, sql) > 0;
}

static int null_cb(const struct store_capsule *cap, void *ctx)
{
    (void)cap;
    (void)ctx;
    return 0;
}

/* List totals come from capsule_live_counts (migration 110) unless a parent or date filter is
 * set: after every kind of change (insert, trust change, soft delete of a subtree, type and
 * owner changed in SQL, a hard delete as erasure does, an owner quarantined and released) the
 * totals of every filter combination equal a count over the capsules. */
static void test_list_totals_follow_every_change(void **state)
{
    struct fx *f = *state;
    static const char *const types[] = {"knowledge", "code", "decision"};
    static const char *const owners[] = {OWNER, OTHER};
    static const int trusts[] = {0, 40, 60, 80, 100};
    char ids[64][37];
    int nid = 0;
    unsigned seed = 12345;
    for (int step = 0; step < 120; step++) {
        seed = seed * 1103515245u + 12345u;
        unsigned r = (seed >> 16) & 0x7fff;
        char sql[1024];
        switch (nid < 8 ? 0 : r % 8) {
        case 0:
        case 1:
        case 2: /* insert, sometimes as a child */
            if (nid < 64) {
                const char *parent = nid && r % 4 == 0 ? ids[r % (unsigned)nid] : NULL;
                put(f, ids[nid], "x", types[r % 3], trusts[(r / 3) % 5],
                    parent && row_exists(f, parent) ? parent : NULL, owners[(r / 7) % 2]);
                nid++;
            }
            break;
        case 3: { /* the capsule may have been removed outright (case 6) */
            assert_int_equal(store_begin(f->st, f->c), FG_OK);
            enum fg_err e = f->st->capsules->set_trust(f->c, ids[r % (unsigned)nid],
                                                       trusts[(r / 5) % 5], ++g_clock);
            assert_true(e == FG_OK || e == FG_ENOTFOUND);
            assert_int_equal(store_commit(f->st, f->c), FG_OK);
            break;
        }
        case 4: {
            assert_int_equal(store_begin(f->st, f->c), FG_OK);
            enum fg_err e = f->st->capsules->soft_delete(f->c, ids[r % (unsigned)nid], 1, ++g_clock,
                                                         NULL, NULL);
            assert_true(e == FG_OK || e == FG_ENOTFOUND);
            assert_int_equal(store_commit(f->st, f->c), FG_OK);
            break;
        }
        case 5:
            snprintf(sql, sizeof sql,
                     "UPDATE capsules SET type = '%s', owner_id = '%s' WHERE id = '%s'",
                     types[(r / 3) % 3], owners[(r / 11) % 2], ids[r % (unsigned)nid]);
            exec_sql(f, sql);
            break;
        case 6: /* a leaf removed outright; a capsule with children stays (foreign keys) */
            snprintf(sql, sizeof sql,
                     "DELETE FROM capsule_revisions WHERE capsule_id = '%1$s' AND NOT EXISTS "
                     "(SELECT 1 FROM capsules WHERE parent_id = '%1$s'); "
                     "DELETE FROM capsule_edges WHERE child_id = '%1$s' AND NOT EXISTS "
                     "(SELECT 1 FROM capsules WHERE parent_id = '%1$s'); "
                     "DELETE FROM capsules WHERE id = '%1$s' AND NOT EXISTS "
                     "(SELECT 1 FROM capsules WHERE parent_id = '%1$s')",
                     ids[r % (unsigned)nid]);
            exec_sql(f, sql);
            break;
        case 7:
            snprintf(sql, sizeof sql, "UPDATE users SET trust_level = %d WHERE id = '%s'",
                     r % 2 ? 20 : 60, owners[(r / 13) % 2]);
            exec_sql(f, sql);
            break;
        }
        for (int mt = 0; mt < 5; mt++) {
            for (int ty = -1; ty < 3; ty++) {
                for (int ow = -1; ow < 2; ow++) {
                    struct store_capsule_filter flt = {.max_trust = trusts[mt],
                                                       .trust_level = ow == 1 ? 40 : -1,
                                                       .type = ty < 0 ? NULL : types[ty],
                                                       .owner_id = ow == 0 ? OWNER : NULL};
                    long long total = -1;
                    assert_int_equal(f->st->capsules->list(f->c, &flt, 0, 1, null_cb, NULL, &total),
                                     FG_OK);
                    if (total != brute_total(f, &flt))
                        fail_msg("step %d: max_trust %d type %s owner %s trust %d: total %lld, "
                                 "counted %lld",
                                 step, flt.max_trust, flt.type ? flt.type : "-",
                                 flt.owner_id ? "owner" : "-", flt.trust_level, total,
                                 brute_total(f, &flt));
                }
            }
        }
    }
}

/* get_many: found/absent flags per position, rows in the caller's order, deleted ones included. */
static void test_get_many(void **state)
{
    struct fx *f = *state;
    char a[37], b[37], d[37];
    put(f, a, "alpha", "knowledge", 0, NULL, NULL);
    put(f, b, "beta", "decision", 60, NULL, OTHER);
    put(f, d, "gone", "knowledge", 0, NULL, NULL);
    assert_int_equal(store_begin(f->st, f->c), FG_OK);
    assert_int_equal(f->st->capsules->soft_delete(f->c, d, 0, ++g_clock, NULL, NULL), FG_OK);
    assert_int_equal(store_commit(f->st, f->c), FG_OK);
    const char *ids[] = {b, "0190a000-0000-7000-8000-0000000000ff", a, d};
    struct store_capsule out[4];
    unsigned char found[4];
    memset(out, 0, sizeof out);
    memset(found, 7, sizeof found);
    assert_int_equal(f->st->capsules->get_many(f->c, ids, 4, 0, out, found), FG_OK);
    assert_int_equal(found[0], 1);
    assert_int_equal(found[1], 0);
    assert_int_equal(found[2], 1);
    assert_int_equal(found[3], 1);
    assert_string_equal(out[0].content, "beta");
    assert_string_equal(out[0].owner_id, OTHER);
    assert_string_equal(out[2].content, "alpha");
    assert_int_equal(out[3].is_deleted, 1);
    for (int i = 0; i < 4; i++)
        if (found[i])
            store_capsule_clear(&out[i]);
    assert_int_equal(f->st->capsules->get_many(f->c, ids, 0, 0, out, found), FG_OK);
    assert_int_equal(f->st->capsules->get_many(f->c, ids, STORE_GET_MANY_MAX + 1, 0, out, found),
                     FG_EINVAL);
}

static void test_lineage_1000_deep(void **state)
{
    struct fx *f = *state;
    enum { DEPTH = 1000 };
    char(*ids)[37] = calloc(DEPTH + 1, 37);
    /* one transaction for the whole chain: the walk, not the inserts, is under test */
    assert_int_equal(store_begin(f->st, f->c), FG_OK);
    for (int i = 0; i <= DEPTH; i++) {
        struct store_capsule c;
        memset(&c, 0, sizeof c);
        fg_uuid7(c.id);
        c.content = "link";
        c.content_len = 4;
        snprintf(c.type, sizeof c.type, "knowledge");
        snprintf(c.version, sizeof c.version, "1.0.0");
        snprintf(c.owner_id, sizeof c.owner_id, OWNER);
        /* trust rises toward the root: 40 near the leaf, 80 for the oldest 100 */
        c.trust_level = i < 100 ? 80 : i > 900 ? 40 : 60;
        if (i)
            memcpy(c.parent_id, ids[i - 1], 37);
        c.created_at = c.updated_at = c.version_created_at = ++g_clock;
        snprintf(c.content_hash, sizeof c.content_hash, "h");
        assert_int_equal(f->st->capsules->insert(f->c, &c, "step"), FG_OK);
        memcpy(ids[i], c.id, 37);
    }
    assert_int_equal(store_commit(f->st, f->c), FG_OK);
    const char *leaf = ids[DEPTH];

    struct walk w = {0};
    int truncated = -1;
    double t0 = fg_mono_s();
    assert_int_equal(f->st->capsules->ancestors(f->c, leaf, 100000, 100, walk_cb, &w, &truncated),
                     FG_OK);
    double dt = fg_mono_s() - t0;
    print_message("full 1000-deep lineage walk: %.2f ms\n", dt * 1e3);
    assert_int_equal(w.n, DEPTH);
    assert_int_equal(truncated, 0);
    assert_int_equal(w.depths[0], 1);
    assert_int_equal(w.depths[49], 50);
    assert_true(dt < 0.5);

    memset(&w, 0, sizeof w);
    assert_int_equal(f->st->capsules->ancestors(f->c, leaf, 50, 100, walk_cb, &w, &truncated),
                     FG_OK);
    assert_int_equal(w.n, 50);
    assert_int_equal(truncated, 1);
    for (int i = 0; i < 50; i++)
        assert_int_equal(w.depths[i], i + 1);

    /* a reader of trust 60 sees the 800 standard/sandbox ancestors, not the 100 trusted ones */
    memset(&w, 0, sizeof w);
    assert_int_equal(f->st->capsules->ancestors(f->c, leaf, DEPTH, 60, walk_cb, &w, &truncated),
                     FG_OK);
    assert_int_equal(w.n, DEPTH - 100);
    assert_int_equal(truncated, 0);

    /* deleting ancestors 2 and 3 hops up: walked through, not reported */
    assert_int_equal(store_begin(f->st, f->c), FG_OK);
    assert_int_equal(f->st->capsules->soft_delete(f->c, ids[DEPTH - 2], 0, ++g_clock, NULL, NULL),
                     FG_OK);
    assert_int_equal(f->st->capsules->soft_delete(f->c, ids[DEPTH - 3], 0, ++g_clock, NULL, NULL),
                     FG_OK);
    assert_int_equal(store_commit(f->st, f->c), FG_OK);
    memset(&w, 0, sizeof w);
    assert_int_equal(f->st->capsules->ancestors(f->c, leaf, 5, 100, walk_cb, &w, &truncated),
                     FG_OK);
    assert_int_equal(w.n, 3);
    assert_int_equal(w.depths[0], 1);
    assert_int_equal(w.depths[1], 4);
    assert_int_equal(w.depths[2], 5);
    assert_int_equal(truncated, 1);
    /* the root has no ancestors */
    memset(&w, 0, sizeof w);
    assert_int_equal(f->st->capsules->ancestors(f->c, ids[0], 10, 100, walk_cb, &w, &truncated),
                     FG_OK);
    assert_int_equal(w.n, 0);
    assert_int_equal(truncated, 0);
    free(ids);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_insert_get, setup, teardown),
        cmocka_unit_test_setup_teardown(test_list_filters_and_visibility, setup, teardown),
        cmocka_unit_test_setup_teardown(test_update_revisions_embedding, setup, teardown),
        cmocka_unit_test_setup_teardown(test_soft_delete_subtree_and_feed, setup, teardown),
        cmocka_unit_test_setup_teardown(test_lineage_1000_deep, setup, teardown),
        cmocka_unit_test_setup_teardown(test_get_many, setup, teardown),
        cmocka_unit_test_setup_teardown(test_list_totals_follow_every_change, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
