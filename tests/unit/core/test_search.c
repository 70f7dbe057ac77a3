/*
 * Search building blocks: FTS query sanitisation (unit cases, and every sanitised query is
 * accepted by the real FTS5 table), reciprocal rank fusion and hop-boost math, checkpoint path
 * resolution; the SQLite search area: BM25 order, trust/type filters, full-text index kept in
 * step with inserts, content updates, soft deletes and purges; the DERIVED_FROM neighbourhood.
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
#include "core/capsule.h"
#include "core/search.h"
#include "store/search.h"
#include "store/store.h"
#include "util/config.h"

#define ALICE "0190a000-0000-7000-8000-00000000a11c"

/* ---- pure functions --------------------------------------------------------------------- */

static size_t fts(const char *in, char *out)
{
    return fg_search_fts_query(in, strlen(in), out, FG_SEARCH_FTS_QUERY_MAX);
}

static void test_fts_basic(void **state)
{
    (void)state;
    char q[FG_SEARCH_FTS_QUERY_MAX];
    assert_int_equal(fts("password reset", q), 2);
    assert_string_equal(q, "\"password\" OR \"reset\"");
    assert_int_equal(fts("  Rotate   TLS-certificates! ", q), 3);
    assert_string_equal(q, "\"Rotate\" OR \"TLS\" OR \"certificates\"");
    assert_int_equal(fts("v2 api_key 42", q), 4);
    assert_string_equal(q, "\"v2\" OR \"api\" OR \"key\" OR \"42\"");
}

static void test_fts_nothing_searchable(void **state)
{
    (void)state;
    char q[FG_SEARCH_FTS_QUERY_MAX];
    static const char *const empty[] = {
        "",
        "   ",
        "!!!",
        "\"\"",
        "*",
        "()",
        "-- ; --",
        "\xe2\x80\x94\xe2\x80\xa6",         /* —… */
        "\xf0\x9f\x94\xa5\xf0\x9f\x94\xa5", /* 🔥🔥 */
        "\xe3\x80\x82\xe3\x80\x81",         /* 。、 */
        "\t\n\r",
        "\xc2\xa0\xc2\xbf", /* nbsp ¿ */
    };
    for (size_t i = 0; i < sizeof empty / sizeof empty[0]; i++) {
        assert_int_equal(fts(empty[i], q), 0);
        assert_string_equal(q, "");
    }
}

static void test_fts_no_syntax_survives(void **state)
{
    (void)state;
    char q[FG_SEARCH_FTS_QUERY_MAX];
    /* Operators become quoted literals; quotes, *, ^, :, (), -, + are separators. */
    assert_int_equal(fts("foo\" NEAR bar*", q), 3);
    assert_string_equal(q, "\"foo\" OR \"NEAR\" OR \"bar\"");
    assert_int_equal(fts("OR AND", q), 2); /* operators alone: quoted literals */
    assert_string_equal(q, "\"OR\" OR \"AND\"");
    assert_int_equal(fts("NEAR(alpha beta, 2)", q), 4);
    assert_string_equal(q, "\"NEAR\" OR \"alpha\" OR \"beta\" OR \"2\"");
    assert_int_equal(fts("content:secret ^start -not +plus", q), 5);
    assert_string_equal(q, "\"content\" OR \"secret\" OR \"start\" OR \"not\" OR \"plus\"");
    assert_int_equal(fts("x AND NOT y", q), 3); /* "and" is a function word: dropped */
    assert_string_equal(q, "\"x\" OR \"NOT\" OR \"y\"");
    assert_null(strchr(q + 1, '*'));
}

static void test_fts_dedupe_and_bounds(void **state)
{
    (void)state;
    char q[FG_SEARCH_FTS_QUERY_MAX];
    assert_int_equal(fts("Cache cache CACHE caches", q), 2);
    assert_string_equal(q, "\"Cache\" OR \"caches\"");

    /* 100 distinct words: only the first FG_SEARCH_FTS_MAX_TERMS are used. */
    char in[2000] = "";
    size_t o = 0;
    for (int i = 0; i < 100; i++)
        o += (size_t)snprintf(in + o, sizeof in - o, "w%d ", i);
    assert_int_equal(fts(in, q), FG_SEARCH_FTS_MAX_TERMS);
    assert_non_null(strstr(q, "\"w63\""));
    assert_null(strstr(q, "\"w64\""));

    /* A long word is cut to FG_SEARCH_FTS_TERM_MAX bytes, at a character boundary. */
    char lw[400];
    memset(lw, 'a', 300);
    lw[300] = '\0';
    assert_int_equal(fts(lw, q), 1);
    assert_int_equal(strlen(q), FG_SEARCH_FTS_TERM_MAX + 2);
    memset(lw, 'b', FG_SEARCH_FTS_TERM_MAX - 1);
    memcpy(lw + FG_SEARCH_FTS_TERM_MAX - 1, "\xc3\xa9", 3); /* é straddles the limit */
    assert_int_equal(fts(lw, q), 1);
    assert_int_equal(strlen(q), FG_SEARCH_FTS_TERM_MAX - 1 + 2);

    /* Output buffer smaller than the documented minimum: nothing. */
    char small[16];
    assert_int_equal(fg_search_fts_query("abc", 3, small, sizeof small), 0);
    assert_string_equal(small, "");
}

static void test_fts_stop_words(void **state)
{
    (void)state;
    char q[FG_SEARCH_FTS_QUERY_MAX];
    assert_int_equal(fts("How do I reset my password?", q), 2);
    assert_string_equal(q, "\"reset\" OR \"password\"");
    /* Only function words: they are the query. */
    assert_int_equal(fts("The Who", q), 2);
    assert_string_equal(q, "\"The\" OR \"Who\"");
    /* "and"/"or" as operators are just words (dropped when others exist). */
    assert_int_equal(fts("cats and dogs or birds", q), 3);
    assert_string_equal(q, "\"cats\" OR \"dogs\" OR \"birds\"");
}

static void test_fts_unicode(void **state)
{
    (void)state;
    char q[FG_SEARCH_FTS_QUERY_MAX];
    assert_int_equal(fts("Caf\xc3\xa9 na\xc3\xafve \xe6\x9d\xb1\xe4\xba\xac\xe3\x80\x82", q), 3);
    assert_string_equal(q, "\"Caf\xc3\xa9\" OR \"na\xc3\xafve\" OR \"\xe6\x9d\xb1\xe4\xba\xac\"");
    /* Invalid UTF-8 bytes are separators, never copied. */
    assert_int_equal(fts("ab\xff\xfe"
                         "cd",
                         q),
                     2);
    assert_string_equal(q, "\"ab\" OR \"cd\"");
    /* An embedded NUL is a separator too (length-delimited input). */
    assert_int_equal(fg_search_fts_query("x\0y", 3, q, sizeof q), 2);
}

static void test_rrf_math(void **state)
{
    (void)state;
    const int k = FG_SEARCH_RRF_K;
    assert_float_equal(fg_search_rrf(1, 1, k), 1.0, 1e-12);
    assert_float_equal(fg_search_rrf(1, 0, k), 0.5, 1e-12);
    assert_float_equal(fg_search_rrf(0, 1, k), 0.5, 1e-12);
    assert_float_equal(fg_search_rrf(0, 0, k), 0.0, 1e-12);
    double two = (1.0 / 62 + 1.0 / 62) / (2.0 / 61);
    assert_float_equal(fg_search_rrf(2, 2, k), two, 1e-12);
    double mixed = (1.0 / 61 + 1.0 / 70) / (2.0 / 61);
    assert_float_equal(fg_search_rrf(1, 10, k), mixed, 1e-12);
    /* Monotone in each rank; symmetric. */
    for (int a = 1; a < 50; a++) {
        assert_true(fg_search_rrf(a, 5, k) > fg_search_rrf(a + 1, 5, k));
        assert_float_equal(fg_search_rrf(a, 7, k), fg_search_rrf(7, a, k), 1e-15);
    }
    /* Being in both lists beats being first in one, unless far down. */
    assert_true(fg_search_rrf(30, 30, k) > fg_search_rrf(1, 0, k));
}

static void test_hop_boost_math(void **state)
{
    (void)state;
    /* SPEC §4.3: score × (1 + 0.1 × (max_hops − d + 1)) for d ≤ max_hops. */
    assert_float_equal(fg_search_hop_boost(0, 2), 1.3, 1e-12);
    assert_float_equal(fg_search_hop_boost(1, 2), 1.2, 1e-12);
    assert_float_equal(fg_search_hop_boost(2, 2), 1.1, 1e-12);
    assert_float_equal(fg_search_hop_boost(3, 2), 1.0, 1e-12);
    assert_float_equal(fg_search_hop_boost(-1, 2), 1.0, 1e-12);
    assert_float_equal(fg_search_hop_boost(0, 0), 1.1, 1e-12);
    assert_float_equal(fg_search_hop_boost(1, 0), 1.0, 1e-12);
    assert_float_equal(fg_search_hop_boost(1, 5), 1.5, 1e-12);
    /* A 1-hop neighbour beats an unrelated capsule one rank ahead of it in both lists. */
    double near = fg_search_rrf(2, 2, FG_SEARCH_RRF_K) * fg_search_hop_boost(1, 2);
    double far = fg_search_rrf(1, 1, FG_SEARCH_RRF_K) * fg_search_hop_boost(-1, 2);
    assert_true(near > far);
}

static void test_index_path(void **state)
{
    (void)state;
    struct fg_config c;
    memset(&c, 0, sizeof c);
    char out[256];
    c.index_path = "";
    c.database_url = "sqlite:///var/lib/forge/forge.db";
    fg_search_index_path(&c, out, sizeof out);
    assert_string_equal(out, "/var/lib/forge/forge.index");
    c.database_url = "sqlite:///./data/forge.db";
    fg_search_index_path(&c, out, sizeof out);
    assert_string_equal(out, "./data/forge.index");
    c.database_url = "sqlite://forge.db";
    fg_search_index_path(&c, out, sizeof out);
    assert_string_equal(out, "forge.index");
    c.database_url = "postgresql://u@h/db";
    fg_search_index_path(&c, out, sizeof out);
    assert_string_equal(out, "");
    c.index_path = "/srv/idx/forge.index";
    fg_search_index_path(&c, out, sizeof out);
    assert_string_equal(out, "/srv/idx/forge.index");
}

/* ---- the SQLite search area --------------------------------------------------------------- */

struct fx {
    struct fg_config cfg;
    struct fg_app app;
    char dir[64];
    char db[128];
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

static int setup(void **state)
{
    struct fx *f = calloc(1, sizeof *f);
    snprintf(f->dir, sizeof f->dir, "/tmp/forge-search-XXXXXX");
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
    sql(f, "INSERT INTO users (id, email, password_hash, created_at, updated_at) VALUES "
           "('" ALICE "', 'alice@example.com', 'x', 0, 0)");
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

static void create(struct fx *f, int trust, const char *type, const char *content,
                   const char *parent, char id[37])
{
    struct fg_ctx a = {.user_id = ALICE, .trust = trust};
    struct fg_capsule_input in = {
        .content = content, .content_len = strlen(content), .type = type, .parent_id = parent};
    struct fg_capsule_why why = {0};
    struct store_capsule cap = {0};
    enum fg_err e = fg_capsule_create(&f->app, &a, &in, &cap, &why);
    if (e != FG_OK)
        fail_msg("create: %s (%s)", fg_err_name(e), why.message);
    memcpy(id, cap.id, 37);
    store_capsule_clear(&cap);
}

struct hits {
    char ids[64][37];
    double bm25[64];
    size_t n;
};

static int hit_cb(const struct store_keyword_hit *h, void *ctx)
{
    struct hits *x = ctx;
    if (x->n < 64) {
        snprintf(x->ids[x->n], 37, "%s", h->capsule_id);
        x->bm25[x->n] = h->bm25;
        x->n++;
    }
    return 0;
}

static enum fg_err kw(struct fx *f, const char *text, int max_trust, const char *type,
                      struct hits *h)
{
    char match[FG_SEARCH_FTS_QUERY_MAX];
    memset(h, 0, sizeof *h);
    if (!fg_search_fts_query(text, strlen(text), match, sizeof match))
        return FG_EINVAL;
    enum fg_err e;
    struct store_conn *c = store_acquire(f->app.store, &e);
    assert_non_null(c);
    struct store_keyword_query q = {match, max_trust, type, 50};
    e = f->app.store->search->keyword(c, &q, hit_cb, h);
    store_release(f->app.store, c);
    return e;
}

static int has(const struct hits *h, const char *id)
{
    for (size_t i = 0; i < h->n; i++)
        if (strcmp(h->ids[i], id) == 0)
            return 1;
    return 0;
}

static void test_keyword_bm25_and_filters(void **state)
{
    struct fx *f = *state;
    char dense[37], sparse[37], other[37], code[37], sand[37];
    create(f, 60, NULL, "latency latency latency: p99 latency budget", NULL, dense);
    create(f, 60, NULL,
           "The quarterly review covered hiring, budgets, the office move, vendor contracts, "
           "and briefly the API latency seen by two customers during the migration weekend.",
           NULL, sparse);
    create(f, 60, NULL, "Chocolate cake with dark cocoa", NULL, other);
    create(f, 60, "code", "int latency_ms(void) { return measure_latency(); }", NULL, code);
    create(f, 40, NULL, "sandbox note on latency", NULL, sand);

    struct hits h;
    assert_int_equal(kw(f, "latency", 60, NULL, &h), FG_OK);
    assert_true(h.n >= 3);
    assert_string_equal(h.ids[0], dense); /* term frequency + short document */
    assert_false(has(&h, other));
    for (size_t i = 1; i < h.n; i++)
        assert_true(h.bm25[i - 1] >= h.bm25[i]);
    assert_true(h.bm25[h.n - 1] > 0);
    size_t pd = 64, ps = 64;
    for (size_t i = 0; i < h.n; i++) {
        if (!strcmp(h.ids[i], dense))
            pd = i;
        if (!strcmp(h.ids[i], sparse))
            ps = i;
    }
    assert_true(pd < ps);

    /* Trust: a sandbox reader sees only the sandbox capsule. */
    assert_int_equal(kw(f, "latency", 40, NULL, &h), FG_OK);
    assert_int_equal(h.n, 1);
    assert_string_equal(h.ids[0], sand);
    /* Type. */
    assert_int_equal(kw(f, "latency", 100, "code", &h), FG_OK);
    assert_int_equal(h.n, 1);
    assert_string_equal(h.ids[0], code);
    /* Porter stemming: "budgets" finds "budget". */
    assert_int_equal(kw(f, "budgets", 100, NULL, &h), FG_OK);
    assert_true(has(&h, dense) && has(&h, sparse));
    /* Metadata text is searchable. */
    char meta[37];
    struct fg_ctx a = {.user_id = ALICE, .trust = 60};
    struct fg_capsule_input in = {
        .content = "plain text", .content_len = 10, .metadata = "{\"tags\":[\"frobnicator\"]}"};
    struct fg_capsule_why why = {0};
    struct store_capsule cap = {0};
    assert_int_equal(fg_capsule_create(&f->app, &a, &in, &cap, &why), FG_OK);
    memcpy(meta, cap.id, 37);
    store_capsule_clear(&cap);
    assert_int_equal(kw(f, "frobnicator", 100, NULL, &h), FG_OK);
    assert_int_equal(h.n, 1);
    assert_string_equal(h.ids[0], meta);
}

static void test_keyword_window_widens(void **state)
{
    struct fx *f = *state;
    /* 300 visible-to-standard capsules rank above 5 sandbox ones: a sandbox reader's 5 hits lie
     * beyond the first ranking window, which must grow to reach them. */
    sql(f, "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 300) "
           "INSERT INTO capsules (id, content, type, metadata, version, owner_id, trust_level, "
           "created_at, updated_at, content_hash, version_created_at, version_author_id) "
           "SELECT printf('0190b000-0000-7000-8000-%012d', i), 'zebra zebra ' || i, 'knowledge', "
           "'{}', '1.0.0', '" ALICE "', 60, i, i, 'h', i, '" ALICE "' FROM n");
    sql(f, "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 5) "
           "INSERT INTO capsules (id, content, type, metadata, version, owner_id, trust_level, "
           "created_at, updated_at, content_hash, version_created_at, version_author_id) "
           "SELECT printf('0190c000-0000-7000-8000-%012d', i), 'a long sandbox text that "
           "mentions a zebra only once among many other words about savannah logistics ' || i, "
           "'knowledge', '{}', '1.0.0', '" ALICE "', 40, i, i, 'h', i, '" ALICE "' FROM n");
    struct hits h;
    char match[FG_SEARCH_FTS_QUERY_MAX];
    assert_true(fg_search_fts_query("zebra", 5, match, sizeof match) == 1);
    enum fg_err e;
    struct store_conn *c = store_acquire(f->app.store, &e);
    memset(&h, 0, sizeof h);
    struct store_keyword_query q = {match, 40, NULL, 5};
    assert_int_equal(f->app.store->search->keyword(c, &q, hit_cb, &h), FG_OK);
    assert_int_equal(h.n, 5);
    for (size_t i = 0; i < h.n; i++)
        assert_memory_equal(h.ids[i], "0190c000", 8);
    memset(&h, 0, sizeof h);
    struct store_keyword_query q2 = {match, 60, NULL, 3};
    assert_int_equal(f->app.store->search->keyword(c, &q2, hit_cb, &h), FG_OK);
    assert_int_equal(h.n, 3);
    assert_memory_equal(h.ids[0], "0190b000", 8);
    memset(&h, 0, sizeof h);
    struct store_keyword_query q3 = {match, 100, "code", 5}; /* nothing visible at all */
    assert_int_equal(f->app.store->search->keyword(c, &q3, hit_cb, &h), FG_OK);
    assert_int_equal(h.n, 0);
    store_release(f->app.store, c);
}

static void test_keyword_follows_changes(void **state)
{
    struct fx *f = *state;
    char a[37], b[37];
    create(f, 60, NULL, "zebra crossing near the station", NULL, a);
    create(f, 60, NULL, "zebra stripes", NULL, b);
    struct hits h;
    assert_int_equal(kw(f, "zebra", 100, NULL, &h), FG_OK);
    assert_int_equal(h.n, 2);

    /* Content update: the old words go, the new ones come. */
    struct fg_ctx al = {.user_id = ALICE, .trust = 60};
    struct fg_capsule_input up = {.content = "giraffe crossing", .content_len = 16};
    struct fg_capsule_why why = {0};
    struct store_capsule cap = {0};
    assert_int_equal(fg_capsule_update(&f->app, &al, a, &up, &cap, &why), FG_OK);
    store_capsule_clear(&cap);
    assert_int_equal(kw(f, "zebra", 100, NULL, &h), FG_OK);
    assert_int_equal(h.n, 1);
    assert_string_equal(h.ids[0], b);
    assert_int_equal(kw(f, "giraffe", 100, NULL, &h), FG_OK);
    assert_int_equal(h.n, 1);
    assert_string_equal(h.ids[0], a);

    /* Metadata-only update keeps the document searchable. */
    struct fg_capsule_input mu = {.metadata = "{\"k\":\"okapi\"}"};
    assert_int_equal(fg_capsule_update(&f->app, &al, a, &mu, &cap, &why), FG_OK);
    store_capsule_clear(&cap);
    assert_int_equal(kw(f, "giraffe okapi", 100, NULL, &h), FG_OK);
    assert_int_equal(h.n, 1);

    /* Soft delete removes it; undelete (maintenance) brings it back; purge removes it. */
    long long n = 0;
    assert_int_equal(fg_capsule_delete(&f->app, &al, a, 0, &n, &why), FG_OK);
    assert_int_equal(kw(f, "giraffe", 100, NULL, &h), FG_OK);
    assert_int_equal(h.n, 0);
    char q[256];
    snprintf(q, sizeof q, "UPDATE capsules SET is_deleted = 0, deleted_at = NULL WHERE id = '%s'",
             a);
    sql(f, q);
    assert_int_equal(kw(f, "giraffe", 100, NULL, &h), FG_OK);
    assert_int_equal(h.n, 1);
    snprintf(q, sizeof q,
             "DELETE FROM capsule_revisions WHERE capsule_id = '%s'; "
             "DELETE FROM capsules WHERE id = '%s'",
             a, a);
    sql(f, q);
    assert_int_equal(kw(f, "giraffe", 100, NULL, &h), FG_OK);
    assert_int_equal(h.n, 0);
    assert_int_equal(kw(f, "zebra", 100, NULL, &h), FG_OK);
    assert_int_equal(h.n, 1);
    /* The FTS index is consistent (FTS5 integrity check over the contentless table). */
    sql(f, "INSERT INTO capsule_fts (capsule_fts, rank) VALUES ('integrity-check', 0)");
}

static void test_sanitised_queries_never_break_fts(void **state)
{
    struct fx *f = *state;
    char id[37];
    create(f, 60, NULL, "alpha beta gamma \"quoted\" NEAR(x) col:val", NULL, id);
    static const char *const nasty[] = {
        "\"",     "\"\"\"",  "a\"b",  "NEAR(a b, 3)", "col:val",
        "alpha*", "^alpha",  "-beta", "(gamma",       "a OR",
        "AND",    "NOT NOT", "{a b}", "a + b",        "'; DROP TABLE capsules; --",
        "\\x00",  "%_",
    };
    struct hits h;
    for (size_t i = 0; i < sizeof nasty / sizeof nasty[0]; i++) {
        char m[FG_SEARCH_FTS_QUERY_MAX];
        size_t terms = fg_search_fts_query(nasty[i], strlen(nasty[i]), m, sizeof m);
        /* No words ("\"", "%_"): nothing to run (the API answers 422); otherwise valid FTS. */
        assert_int_equal(kw(f, nasty[i], 100, NULL, &h), terms ? FG_OK : FG_EINVAL);
    }
    assert_int_equal(kw(f, "NEAR(x)", 100, NULL, &h), FG_OK);
    assert_int_equal(h.n, 1);
    /* Random printable junk: every sanitised query is valid FTS5. */
    srand(7);
    for (int it = 0; it < 2000; it++) {
        char in[64];
        size_t n = (size_t)(rand() % 63);
        for (size_t i = 0; i < n; i++)
            in[i] = (char)(32 + rand() % 95);
        in[n] = '\0';
        enum fg_err e = kw(f, in, 100, NULL, &h);
        assert_true(e == FG_OK || e == FG_EINVAL);
        if (e == FG_EINVAL) {
            char m[FG_SEARCH_FTS_QUERY_MAX];
            assert_int_equal(fg_search_fts_query(in, n, m, sizeof m), 0); /* only when empty */
        }
    }
}

struct hop_list {
    char ids[32][37];
    int d[32];
    size_t n;
};

static int hop_collect(const char *id, int d, void *ctx)
{
    struct hop_list *l = ctx;
    if (l->n < 32) {
        snprintf(l->ids[l->n], 37, "%s", id);
        l->d[l->n++] = d;
    }
    return 0;
}

static int hop_of(const struct hop_list *l, const char *id)
{
    for (size_t i = 0; i < l->n; i++)
        if (!strcmp(l->ids[i], id))
            return l->d[i];
    return -1;
}

static void test_neighbourhood(void **state)
{
    struct fx *f = *state;
    /* root ← a ← b ← c, root ← d ← e, unrelated u */
    char root[37], a[37], b[37], c[37], d[37], e[37], u[37];
    create(f, 60, NULL, "root", NULL, root);
    create(f, 60, NULL, "a", root, a);
    create(f, 60, NULL, "b", a, b);
    create(f, 60, NULL, "c", b, c);
    create(f, 60, NULL, "d", root, d);
    create(f, 60, NULL, "e", d, e);
    create(f, 60, NULL, "u", NULL, u);
    enum fg_err err;
    struct store_conn *conn = store_acquire(f->app.store, &err);
    struct hop_list l = {0};
    int trunc = -1;
    assert_int_equal(f->app.store->search->neighbourhood(conn, a, 2, 1000, hop_collect, &l, &trunc),
                     FG_OK);
    assert_int_equal(trunc, 0);
    assert_int_equal(hop_of(&l, a), 0);
    assert_int_equal(hop_of(&l, root), 1);
    assert_int_equal(hop_of(&l, b), 1);
    assert_int_equal(hop_of(&l, c), 2);
    assert_int_equal(hop_of(&l, d), 2);  /* undirected: up to root, down to d */
    assert_int_equal(hop_of(&l, e), -1); /* 3 hops */
    assert_int_equal(hop_of(&l, u), -1);
    for (size_t i = 1; i < l.n; i++)
        assert_true(l.d[i - 1] <= l.d[i]); /* nearest first */
    memset(&l, 0, sizeof l);
    assert_int_equal(f->app.store->search->neighbourhood(conn, a, 0, 1000, hop_collect, &l, &trunc),
                     FG_OK);
    assert_int_equal(l.n, 1);
    /* Node cap. */
    memset(&l, 0, sizeof l);
    assert_int_equal(f->app.store->search->neighbourhood(conn, root, 5, 3, hop_collect, &l, &trunc),
                     FG_OK);
    assert_int_equal(trunc, 1);
    assert_true(l.n <= 3);
    /* Deleted capsules are walked through (callers filter). */
    struct fg_ctx al = {.user_id = ALICE, .trust = 60};
    struct fg_capsule_why why = {0};
    long long n = 0;
    assert_int_equal(fg_capsule_delete(&f->app, &al, c, 0, &n, &why), FG_OK);
    memset(&l, 0, sizeof l);
    assert_int_equal(f->app.store->search->neighbourhood(conn, b, 1, 1000, hop_collect, &l, &trunc),
                     FG_OK);
    assert_int_equal(hop_of(&l, c), 1);
    store_release(f->app.store, conn);
}

static void test_space_and_scan(void **state)
{
    struct fx *f = *state;
    enum fg_err e;
    struct store_conn *c = store_acquire(f->app.store, &e);
    char sp[STORE_SEARCH_SPACE_MAX];
    assert_int_equal(f->app.store->search->space_get(c, sp, sizeof sp), FG_OK);
    assert_string_equal(sp, "");
    assert_int_equal(f->app.store->search->space_set(c, "local-hash-v1:384"), FG_OK);
    assert_int_equal(f->app.store->search->space_set(c, "m:8"), FG_OK);
    assert_int_equal(f->app.store->search->space_get(c, sp, sizeof sp), FG_OK);
    assert_string_equal(sp, "m:8");
    store_release(f->app.store, c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_fts_basic),
        cmocka_unit_test(test_fts_nothing_searchable),
        cmocka_unit_test(test_fts_no_syntax_survives),
        cmocka_unit_test(test_fts_dedupe_and_bounds),
        cmocka_unit_test(test_fts_stop_words),
        cmocka_unit_test(test_fts_unicode),
        cmocka_unit_test(test_rrf_math),
        cmocka_unit_test(test_hop_boost_math),
        cmocka_unit_test(test_index_path),
        cmocka_unit_test_setup_teardown(test_keyword_bm25_and_filters, setup, teardown),
        cmocka_unit_test_setup_teardown(test_keyword_window_widens, setup, teardown),
        cmocka_unit_test_setup_teardown(test_keyword_follows_changes, setup, teardown),
        cmocka_unit_test_setup_teardown(test_sanitised_queries_never_break_fts, setup, teardown),
        cmocka_unit_test_setup_teardown(test_neighbourhood, setup, teardown),
        cmocka_unit_test_setup_teardown(test_space_and_scan, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
