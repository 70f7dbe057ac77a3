/*
 * Keyword index: tokeniser (folding, stemming, CJK bigrams, bounds, invalid UTF-8), query
 * parser (syntax, errors with positions, 5 000 random inputs never crash), BM25 values against
 * a hand computation, filters, phrases/prefix/required/excluded, updates, deletes and
 * compaction, save/load (and damaged files refused), and the property that the pruned top-k
 * equals brute-force BM25 on random corpora with random queries.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include <math.h>

#include "kw/kw.h"

/* ---- helpers ---------------------------------------------------------------------------- */

struct tl {
    char s[32][FG_KW_TERM_MAX + 1];
    uint32_t pos[32];
    size_t n;
};

static int tl_cb(const char *t, size_t len, uint32_t pos, void *ctx)
{
    struct tl *l = ctx;
    assert_int_equal(strlen(t), len);
    if (l->n < 32) {
        snprintf(l->s[l->n], sizeof l->s[l->n], "%s", t);
        l->pos[l->n] = pos;
        l->n++;
    }
    return 0;
}

static struct tl toks(const char *s, int stem)
{
    struct tl l;
    memset(&l, 0, sizeof l);
    fg_kw_tokenize(s, strlen(s), stem, tl_cb, &l);
    return l;
}

static void parse_ok(const char *s, struct fg_kw_query *q)
{
    struct fg_kw_parse_error err;
    enum fg_err e = fg_kw_parse(s, strlen(s), q, &err);
    if (e != FG_OK)
        fail_msg("parse failed for '%s': %s at %zu", s, err.message, err.position);
}

static char idbuf[64];
static const char *id_of(int i)
{
    snprintf(idbuf, sizeof idbuf, "0190a000-0000-7000-8000-%012d", i);
    return idbuf;
}

static size_t search_ids(struct fg_kw *kw, const char *qs, size_t k, int trust, unsigned type,
                         struct fg_kw_hit *out)
{
    struct fg_kw_query q;
    parse_ok(qs, &q);
    return fg_kw_search(kw, &q, k, trust, type, out);
}

/* ---- tokeniser ---------------------------------------------------------------------------- */

static void test_tokenize_fold_stem(void **state)
{
    (void)state;
    struct tl l = toks("Crème BRÛLÉE, naïve façade; Straße Łódź ŒUVRE", 0);
    assert_int_equal(l.n, 7);
    assert_string_equal(l.s[0], "creme");
    assert_string_equal(l.s[1], "brulee");
    assert_string_equal(l.s[2], "naive");
    assert_string_equal(l.s[3], "facade");
    assert_string_equal(l.s[4], "strasse");
    assert_string_equal(l.s[5], "lodz");
    assert_string_equal(l.s[6], "oeuvre");
    /* Decomposed accents fold like precomposed ones. */
    l = toks("cafe\xcc\x81", 0);
    assert_int_equal(l.n, 1);
    assert_string_equal(l.s[0], "cafe");
    /* Stemming (Snowball English): word forms meet. */
    l = toks("queries query running runs connection connected", 1);
    assert_string_equal(l.s[0], l.s[1]);
    assert_string_equal(l.s[2], l.s[3]);
    assert_string_equal(l.s[4], l.s[5]);
    assert_int_equal(l.pos[5], 5);
    /* Greek and Cyrillic are lower-cased, not stemmed. */
    l = toks("ΑΘΗΝΑ Москва", 1);
    assert_int_equal(l.n, 2);
    assert_string_equal(l.s[0], "αθηνα");
    assert_string_equal(l.s[1], "москва");
    /* Digits are words; punctuation separates. */
    l = toks("v2.1 p99-latency 404", 1);
    assert_int_equal(l.n, 5);
    assert_string_equal(l.s[0], "v2");
    assert_string_equal(l.s[1], "1");
}

static void test_tokenize_cjk_bounds(void **state)
{
    (void)state;
    struct tl l = toks("東京都 abc 日", 1);
    assert_int_equal(l.n, 4);
    assert_string_equal(l.s[0], "東京");
    assert_string_equal(l.s[1], "京都");
    assert_string_equal(l.s[2], "abc");
    assert_string_equal(l.s[3], "日");
    assert_int_equal(l.pos[1], 1);
    /* Long words are cut at FG_KW_TERM_MAX bytes on a character boundary. */
    char big[300];
    memset(big, 'x', 200);
    big[200] = '\0';
    l = toks(big, 0);
    assert_int_equal(l.n, 1);
    assert_int_equal(strlen(l.s[0]), FG_KW_TERM_MAX);
    char eacute[256];
    size_t o = 0;
    for (int i = 0; i < 50; i++) {
        eacute[o++] = (char)0xc3;
        eacute[o++] = (char)0xa9; /* é folds to one byte */
        eacute[o++] = (char)0xce;
        eacute[o++] = (char)0xb1; /* α stays two bytes */
    }
    eacute[o] = '\0';
    l = toks(eacute, 0);
    assert_int_equal(l.n, 1);
    assert_true(strlen(l.s[0]) <= FG_KW_TERM_MAX);
    assert_true(strlen(l.s[0]) >= FG_KW_TERM_MAX - 2);
    /* Invalid UTF-8 bytes are separators; emoji too. */
    l = toks("ab\xff\xfe"
             "cd\xf0\x9f\x94\xa5"
             "ef\xc3",
             0);
    assert_int_equal(l.n, 3);
    assert_string_equal(l.s[2], "ef");
}

/* ---- parser -------------------------------------------------------------------------------- */

static void test_parse_syntax(void **state)
{
    (void)state;
    struct fg_kw_query q;
    parse_ok("how do I reset my password", &q);
    assert_int_equal(q.nc, 2); /* function words dropped */
    assert_string_equal(q.terms[q.c[0].first], "reset");
    assert_string_equal(q.terms[q.c[1].first], "password");
    parse_ok("+cache -redis \"p99 latency\" deploy* e-mail", &q);
    assert_int_equal(q.nc, 6);
    assert_int_equal(q.c[0].op, FG_KW_MUST);
    assert_int_equal(q.c[1].op, FG_KW_NOT);
    assert_int_equal(q.c[2].kind, FG_KW_PHRASE);
    assert_int_equal(q.c[2].n, 2);
    assert_int_equal(q.c[3].kind, FG_KW_PREFIX);
    assert_string_equal(q.terms[q.c[3].first], "deploy");
    assert_int_equal(q.c[4].op, FG_KW_SHOULD); /* '-' inside a word separates */
    assert_string_equal(q.terms[q.c[4].first], "e");
    parse_ok("-\"to be\" or not", &q);
    assert_int_equal(q.c[0].op, FG_KW_NOT);
    assert_int_equal(q.c[0].kind, FG_KW_PHRASE);
    parse_ok("latency\" OR \"cake", &q); /* a balanced phrase in the middle */
    parse_ok("NEAR(latency cake) content:latency (x -- ; DROP TABLE", &q);
    parse_ok("the", &q); /* only function words: kept */
    assert_int_equal(q.nc, 1);
    parse_ok("a a a b", &q);
    assert_int_equal(q.nc, 1); /* duplicates dropped, then the function word */
    parse_ok("+東京都", &q);
    assert_int_equal(q.c[0].kind, FG_KW_PHRASE);
}

static void test_parse_errors(void **state)
{
    (void)state;
    struct fg_kw_query q;
    struct fg_kw_parse_error err;
    const char *s = "reset \"password";
    assert_int_equal(fg_kw_parse(s, strlen(s), &q, &err), FG_EINVAL);
    assert_int_equal(err.position, 7);
    assert_non_null(strstr(err.message, "unclosed quote"));
    s = "é \"\" x"; /* positions count characters, not bytes */
    assert_int_equal(fg_kw_parse(s, strlen(s), &q, &err), FG_EINVAL);
    assert_int_equal(err.position, 3);
    assert_non_null(strstr(err.message, "empty phrase"));
    s = "-cake -pie";
    assert_int_equal(fg_kw_parse(s, strlen(s), &q, &err), FG_EINVAL);
    assert_non_null(strstr(err.message, "excluded"));
    s = "?! -- ***";
    assert_int_equal(fg_kw_parse(s, strlen(s), &q, &err), FG_EINVAL);
    assert_int_equal(fg_kw_parse(NULL, 0, &q, &err), FG_EINVAL);
}

static uint64_t rng = 88172645463325252ull;
static uint64_t rnd(void)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return rng;
}

static void test_parse_fuzz(void **state)
{
    (void)state;
    static const char *const pieces[] = {"\"",   "+", "-", "*", " ",   "ab", "é",  "中",  "\xff",
                                         "\xc3", "(", ")", ":", "the", "x*", "--", "\"\""};
    struct fg_kw_query q;
    struct fg_kw_parse_error err;
    for (int it = 0; it < 5000; it++) {
        char buf[256];
        size_t n = 0;
        int parts = (int)(rnd() % 20);
        for (int p = 0; p < parts; p++) {
            if (rnd() % 4 == 0) {
                buf[n++] = (char)(rnd() & 0xff);
                continue;
            }
            const char *x = pieces[rnd() % (sizeof pieces / sizeof pieces[0])];
            size_t l = strlen(x);
            memcpy(buf + n, x, l);
            n += l;
        }
        enum fg_err e = fg_kw_parse(buf, n, &q, &err);
        assert_true(e == FG_OK || e == FG_EINVAL);
        if (e == FG_OK) {
            assert_true(q.nc >= 1 && q.nc <= FG_KW_MAX_CLAUSES && q.nt <= FG_KW_MAX_TERMS);
            for (size_t c = 0; c < q.nc; c++)
                assert_true(q.c[c].first + q.c[c].n <= q.nt && q.c[c].n >= 1);
        } else {
            assert_true(err.position >= 1 && err.position <= n + 1);
            assert_true(err.message[0] != '\0');
        }
    }
}

/* ---- index ----------------------------------------------------------------------------------- */

static void test_bm25_values_and_filters(void **state)
{
    (void)state;
    struct fg_kw *kw = fg_kw_new();
    fg_kw_upsert(kw, id_of(1), 0, 60, "alpha beta alpha", 16, "{\"k\": \"beta\"}", 13);
    fg_kw_upsert(kw, id_of(2), 1, 60, "gamma delta", 11, "{}", 2);
    fg_kw_upsert(kw, id_of(3), 0, 80, "alpha", 5, "{}", 2);
    struct fg_kw_hit h[10];
    size_t n = search_ids(kw, "alpha", 10, 100, FG_KW_TYPE_ANY, h);
    assert_int_equal(n, 2);
    /* N = 3, df = 2, doc 1: tf 2 in content, length 5 (3 content + "k", "beta"); doc 3: tf 1,
     * length 1; avgdl = (5 + 2 + 1) / 3. */
    double idf = log(1 + (3 - 2 + 0.5) / (2 + 0.5)), avg = 8.0 / 3;
    double s1 = idf * 2 * 2.2 / (2 + 1.2 * (0.25 + 0.75 * 5 / avg));
    double s3 = idf * 1 * 2.2 / (1 + 1.2 * (0.25 + 0.75 * 1 / avg));
    assert_true(s3 > s1);
    assert_string_equal(h[0].id, id_of(3));
    assert_true(fabs(h[0].score - s3) < 1e-12);
    assert_true(fabs(h[1].score - s1) < 1e-12);
    /* Metadata counts half. */
    n = search_ids(kw, "beta", 10, 100, FG_KW_TYPE_ANY, h);
    assert_int_equal(n, 1);
    double idfb = log(1 + (3 - 1 + 0.5) / 1.5);
    double sb = idfb * (1 + 0.5) * 2.2 / (1.5 + 1.2 * (0.25 + 0.75 * 5 / avg));
    assert_true(fabs(h[0].score - sb) < 1e-12);
    /* Trust and type filters inside the index. */
    n = search_ids(kw, "alpha", 10, 60, FG_KW_TYPE_ANY, h);
    assert_int_equal(n, 1);
    assert_string_equal(h[0].id, id_of(1));
    n = search_ids(kw, "alpha gamma", 10, 100, 1, h);
    assert_int_equal(n, 1);
    assert_string_equal(h[0].id, id_of(2));
    /* Metadata-only change of trust/type. */
    assert_int_equal(fg_kw_set_meta(kw, id_of(3), 0, 10), 1);
    n = search_ids(kw, "alpha", 10, 60, FG_KW_TYPE_ANY, h);
    assert_int_equal(n, 2);
    assert_int_equal(fg_kw_set_meta(kw, id_of(99), 0, 10), 0);
    fg_kw_free(kw);
}

static void test_syntax_in_index(void **state)
{
    (void)state;
    struct fg_kw *kw = fg_kw_new();
    const char *docs[] = {
        "reset the password of the admin account", "password reset requires the admin",
        "deployment pipeline for the account service", "deploying canary builds with redis cache",
        "cache invalidation with memcached"};
    for (int i = 0; i < 5; i++)
        fg_kw_upsert(kw, id_of(i), 0, 0, docs[i], strlen(docs[i]), "{}", 2);
    struct fg_kw_hit h[10];
    size_t n = search_ids(kw, "\"reset the password\"", 10, 0, FG_KW_TYPE_ANY, h);
    assert_int_equal(n, 1);
    assert_string_equal(h[0].id, id_of(0));
    n = search_ids(kw, "\"password reset\"", 10, 0, FG_KW_TYPE_ANY, h);
    assert_int_equal(n, 1);
    assert_string_equal(h[0].id, id_of(1));
    n = search_ids(kw, "\"admin deployment\"", 10, 0, FG_KW_TYPE_ANY, h);
    assert_int_equal(n, 0); /* never across documents/fields */
    n = search_ids(kw, "deploy*", 10, 0, FG_KW_TYPE_ANY, h);
    assert_int_equal(n, 2);
    n = search_ids(kw, "cache -redis", 10, 0, FG_KW_TYPE_ANY, h);
    assert_int_equal(n, 1);
    assert_string_equal(h[0].id, id_of(4));
    n = search_ids(kw, "+admin account", 10, 0, FG_KW_TYPE_ANY, h);
    assert_int_equal(n, 2);
    assert_string_equal(h[0].id, id_of(0)); /* both words */
    n = search_ids(kw, "+account -\"admin account\"", 10, 0, FG_KW_TYPE_ANY, h);
    assert_int_equal(n, 1);
    assert_string_equal(h[0].id, id_of(2));
    n = search_ids(kw, "+nosuchword cache", 10, 0, FG_KW_TYPE_ANY, h);
    assert_int_equal(n, 0);
    n = search_ids(kw, "cache -nosuchword", 10, 0, FG_KW_TYPE_ANY, h);
    assert_int_equal(n, 2);
    n = search_ids(kw, "+deploy* +cache", 10, 0, FG_KW_TYPE_ANY, h);
    assert_int_equal(n, 1);
    assert_string_equal(h[0].id, id_of(3));
    fg_kw_free(kw);
}

static void test_updates_deletes_compaction_persistence(void **state)
{
    (void)state;
    struct fg_kw *kw = fg_kw_new();
    struct fg_kw_hit h[10];
    for (int i = 0; i < 3000; i++) {
        char t[64];
        snprintf(t, sizeof t, "word%d common filler", i);
        fg_kw_upsert(kw, id_of(i), 0, 0, t, strlen(t), "{}", 2);
    }
    /* Updates move the document; the old text stops matching. */
    for (int i = 0; i < 2000; i++) {
        char t[64];
        snprintf(t, sizeof t, "changed%d common", i);
        fg_kw_upsert(kw, id_of(i), 0, 0, t, strlen(t), "{}", 2);
    }
    assert_int_equal(search_ids(kw, "word5", 10, 0, FG_KW_TYPE_ANY, h), 0);
    assert_int_equal(search_ids(kw, "changed5", 10, 0, FG_KW_TYPE_ANY, h), 1);
    assert_int_equal(search_ids(kw, "word2500", 10, 0, FG_KW_TYPE_ANY, h), 1);
    struct fg_kw_stats st;
    fg_kw_get_stats(kw, &st);
    assert_int_equal(st.docs, 3000);
    assert_true(st.dead < FG_KW_COMPACT_MIN || st.dead * 4 < st.docs); /* compacted */
    for (int i = 0; i < 3000; i += 2)
        fg_kw_remove(kw, id_of(i));
    fg_kw_remove(kw, id_of(99999)); /* absent: no-op */
    fg_kw_get_stats(kw, &st);
    assert_int_equal(st.docs, 1500);
    assert_int_equal(search_ids(kw, "changed4", 10, 0, FG_KW_TYPE_ANY, h), 0);
    assert_int_equal(search_ids(kw, "changed5", 10, 0, FG_KW_TYPE_ANY, h), 1);
    assert_int_equal(search_ids(kw, "common", 10, 0, FG_KW_TYPE_ANY, h), 10);

    char path[] = "/tmp/test_kw_XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    close(fd);
    assert_int_equal(fg_kw_save(kw, path), FG_OK);
    struct fg_kw *k2 = fg_kw_new();
    assert_int_equal(fg_kw_load(k2, path), FG_OK);
    struct fg_kw_stats s2;
    fg_kw_get_stats(k2, &s2);
    assert_int_equal(s2.docs, 1500);
    assert_int_equal(s2.dead, 0);
    struct fg_kw_hit h2[10];
    const char *qs[] = {"common changed7", "word2501 filler", "changed1999"};
    for (int i = 0; i < 3; i++) {
        size_t a = search_ids(kw, qs[i], 10, 0, FG_KW_TYPE_ANY, h);
        size_t b = search_ids(k2, qs[i], 10, 0, FG_KW_TYPE_ANY, h2);
        assert_int_equal(a, b);
        for (size_t j = 0; j < a; j++) {
            assert_string_equal(h[j].id, h2[j].id);
            assert_true(h[j].score == h2[j].score);
        }
    }
    /* A damaged file is refused and leaves the index empty. */
    FILE *f = fopen(path, "r+b");
    assert_non_null(f);
    fseek(f, 40, SEEK_SET);
    fputc('#', f);
    fclose(f);
    assert_int_equal(fg_kw_load(k2, path), FG_EINVAL);
    fg_kw_get_stats(k2, &s2);
    assert_int_equal(s2.docs, 0);
    unlink(path);
    assert_int_equal(fg_kw_load(k2, path), FG_ENOTFOUND);
    fg_kw_free(k2);
    fg_kw_free(kw);
}

/* Random corpora: the pruned search returns exactly the brute-force top-k. */
static void test_property_vs_exact(void **state)
{
    (void)state;
    static const char *const ops[] = {"", "", "", "", "+", "-"};
    for (int round = 0; round < 12; round++) {
        struct fg_kw *kw = fg_kw_new();
        int vocab = 30 + (int)(rnd() % 300), ndocs = 200 + (int)(rnd() % 2000);
        for (int d = 0; d < ndocs; d++) {
            char t[1200];
            size_t o = 0;
            int len = 1 + (int)(rnd() % 40);
            for (int w = 0; w < len; w++) {
                /* Zipf-ish: small word numbers are common. */
                int x = (int)(rnd() % (uint64_t)vocab);
                x = (int)(rnd() % (uint64_t)(x + 1));
                o += (size_t)snprintf(t + o, sizeof t - o, "w%dq ", x);
            }
            char m[64];
            int ml = snprintf(m, sizeof m, "{\"tag\": \"w%dq\"}", (int)(rnd() % 20));
            fg_kw_upsert(kw, id_of(d), (unsigned)(rnd() % 3), (int)(rnd() % 3) * 30, t, o, m,
                         (size_t)ml);
            if (rnd() % 7 == 0)
                fg_kw_remove(kw, id_of((int)(rnd() % (uint64_t)(d + 1))));
        }
        for (int qi = 0; qi < 150; qi++) {
            char qs[400];
            size_t o = 0;
            int nt = 1 + (int)(rnd() % 5);
            for (int t = 0; t < nt; t++) {
                int x = (int)(rnd() % (uint64_t)vocab);
                int kind = (int)(rnd() % 10);
                const char *op = qi % 3 == 0 ? ops[rnd() % 6] : "";
                if (kind == 0)
                    o += (size_t)snprintf(qs + o, sizeof qs - o, "%s\"w%dq w%dq\" ", op, x,
                                          (int)(rnd() % 5));
                else if (kind == 1)
                    o += (size_t)snprintf(qs + o, sizeof qs - o, "%sw%d* ", op, x % 10);
                else
                    o += (size_t)snprintf(qs + o, sizeof qs - o, "%sw%dq ", op, x);
            }
            struct fg_kw_query q;
            struct fg_kw_parse_error err;
            if (fg_kw_parse(qs, o, &q, &err) != FG_OK)
                continue;
            size_t k = 1 + rnd() % 30;
            int trust = (int)(rnd() % 3) * 30;
            unsigned type = rnd() % 2 ? FG_KW_TYPE_ANY : (unsigned)(rnd() % 3);
            struct fg_kw_hit a[30], b[30];
            size_t na = fg_kw_search(kw, &q, k, trust, type, a);
            size_t nb = fg_kw_search_exact(kw, &q, k, trust, type, b);
            if (na != nb)
                fail_msg("round %d query '%s': %zu vs %zu hits", round, qs, na, nb);
            for (size_t i = 0; i < na; i++) {
                if (strcmp(a[i].id, b[i].id) != 0 || a[i].score != b[i].score)
                    fail_msg("round %d query '%s' rank %zu: %s %.17g vs %s %.17g", round, qs, i,
                             a[i].id, a[i].score, b[i].id, b[i].score);
            }
        }
        fg_kw_free(kw);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_tokenize_fold_stem),
        cmocka_unit_test(test_tokenize_cjk_bounds),
        cmocka_unit_test(test_parse_syntax),
        cmocka_unit_test(test_parse_errors),
        cmocka_unit_test(test_parse_fuzz),
        cmocka_unit_test(test_bm25_values_and_filters),
        cmocka_unit_test(test_syntax_in_index),
        cmocka_unit_test(test_updates_deletes_compaction_persistence),
        cmocka_unit_test(test_property_vs_exact),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
