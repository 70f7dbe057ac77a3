/* The local (feature-hashing) embedder: determinism, normalisation, similarity behaviour, input
 * edge cases, thread safety, and the min_score calibration reported in docs/embeddings.md. */
#include <math.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "embed/embedder.h"

#define DIMS EMBED_LOCAL_DEFAULT_DIMS

/* Every test runs for both local embedders (two groups in main). */
static const char *model = EMBED_LOCAL_MODEL_ID;

static embedder_t *new_local(unsigned dims)
{
    struct embed_config c = {.provider = "local", .dimensions = dims, .local_model = model};
    enum fg_err err;
    char eb[256];
    embedder_t *e = embed_new(&c, &err, eb, sizeof(eb));
    assert_non_null(e);
    assert_int_equal(err, FG_OK);
    return e;
}

static void vec(embedder_t *e, const char *t, float *out)
{
    char eb[256];
    const char *texts[1] = {t};
    assert_int_equal(embed_texts(e, texts, NULL, 1, out, eb, sizeof(eb)), FG_OK);
}

static double dot(const float *a, const float *b, unsigned d)
{
    double s = 0;
    for (unsigned i = 0; i < d; i++)
        s += (double)a[i] * (double)b[i];
    return s;
}

static double cosine(embedder_t *e, const char *a, const char *b)
{
    float va[DIMS], vb[DIMS];
    vec(e, a, va);
    vec(e, b, vb);
    return dot(va, vb, DIMS);
}

static void test_defaults(void **state)
{
    (void)state;
    embedder_t *e = embed_new(NULL, NULL, NULL, 0); /* NULL config: local v1, 384 */
    assert_non_null(e);
    assert_int_equal(embed_dimensions(e), 384);
    assert_string_equal(embed_model_id(e), "local-hash-v1");
    assert_string_equal(embed_provider_name(e), "local");
    embed_free(e);
    e = new_local(0);
    assert_string_equal(embed_model_id(e), model);
    assert_string_equal(embed_provider_name(e), "local");
    embed_free(e);

    struct embed_config bad = {.provider = "local", .dimensions = 8};
    enum fg_err err = FG_OK;
    char eb[256] = "";
    assert_null(embed_new(&bad, &err, eb, sizeof(eb)));
    assert_int_equal(err, FG_EINVAL);
    assert_non_null(strstr(eb, "EMBEDDING_DIMENSIONS"));

    struct embed_config badlocal = {.provider = "local", .local_model = "local-hash-v3"};
    assert_null(embed_new(&badlocal, &err, eb, sizeof(eb)));
    assert_int_equal(err, FG_EINVAL);
    assert_non_null(strstr(eb, "EMBEDDING_LOCAL_MODEL"));

    struct embed_config unknown = {.provider = "word2vec"};
    assert_null(embed_new(&unknown, &err, eb, sizeof(eb)));
    assert_int_equal(err, FG_EINVAL);
    assert_non_null(strstr(eb, "EMBEDDING_PROVIDER"));
}

static void test_deterministic_and_normalised(void **state)
{
    (void)state;
    embedder_t *e = new_local(DIMS);
    embedder_t *e2 = new_local(DIMS);
    const char *samples[] = {
        "The quick brown fox jumps over the lazy dog",
        "a",
        "to be or not to be", /* only stop words */
        "!!! ??? ...",        /* only punctuation */
        "Ünïcödé façade naïve",
        "Привет, мир! Γειά σου κόσμε",
        "東京は日本の首都です",
        "x\xcc\x81", /* combining mark */
        "emoji 🚀🚀 rocket",
        "1234 5678 v2.0.1",
    };
    for (size_t i = 0; i < sizeof(samples) / sizeof(samples[0]); i++) {
        float a[DIMS], b[DIMS];
        vec(e, samples[i], a);
        vec(e2, samples[i], b);
        assert_memory_equal(a, b, sizeof(a));
        double n = sqrt(dot(a, a, DIMS));
        assert_true(fabs(n - 1.0) < 1e-5);
        for (unsigned k = 0; k < DIMS; k++)
            assert_true(isfinite(a[k]));
    }
    /* another dimension count works and is normalised too */
    embedder_t *big = new_local(1024);
    float vb[1024];
    const char *t[1] = {"hello world"};
    assert_int_equal(embed_texts(big, t, NULL, 1, vb, NULL, 0), FG_OK);
    assert_true(fabs(dot(vb, vb, 1024) - 1.0) < 1e-5);
    embed_free(big);
    embed_free(e);
    embed_free(e2);
}

/* Pins the algorithm: if this fails, the local vectors changed and EMBED_LOCAL_MODEL_ID must be
 * bumped (stored vectors would no longer be comparable, a reindex is needed). */
#define GOLDEN_CHECKSUM  (-4.902506)
#define GOLDEN_NONZERO   50u
#define GOLDEN2_CHECKSUM (-3.020305)
#define GOLDEN2_NONZERO  205u
static void test_golden(void **state)
{
    (void)state;
    embedder_t *e = new_local(DIMS);
    float v[DIMS];
    vec(e, "Forge stores capsules and searches them by meaning.", v);
    double checksum = 0;
    for (unsigned k = 0; k < DIMS; k++)
        checksum += v[k] * (double)((k % 7) + 1);
    unsigned nonzero = 0;
    for (unsigned k = 0; k < DIMS; k++)
        nonzero += v[k] != 0.0f;
    printf("golden: checksum=%.6f nonzero=%u\n", checksum, nonzero);
    int v1 = strcmp(model, EMBED_LOCAL_MODEL_ID) == 0;
    assert_true(fabs(checksum - (v1 ? GOLDEN_CHECKSUM : GOLDEN2_CHECKSUM)) < 1e-4);
    assert_int_equal(nonzero, v1 ? GOLDEN_NONZERO : GOLDEN2_NONZERO);
    embed_free(e);
}

static void test_similarity(void **state)
{
    (void)state;
    embedder_t *e = new_local(DIMS);
    double same = cosine(e, "Reset your password", "reset your password");
    assert_true(same > 0.999);

    double related = cosine(e, "how do I reset my password",
                            "To reset a forgotten password, click the reset link we email you.");
    double unrelated = cosine(e, "how do I reset my password",
                              "Tomatoes need full sun and deep watering twice a week.");
    printf("related=%.3f unrelated=%.3f\n", related, unrelated);
    assert_true(related > 0.3);
    assert_true(fabs(unrelated) < 0.15);
    assert_true(related > unrelated + 0.2);

    /* morphology: plural / -ing / -ed forms meet */
    double morph = cosine(e, "caching embeddings", "the embedding was cached");
    double morph_other = cosine(e, "caching embeddings", "the garden was watered");
    printf("morph=%.3f other=%.3f\n", morph, morph_other);
    assert_true(morph > 0.6);
    assert_true(morph > morph_other + 0.4);

    /* case, diacritics and decomposed accents are folded */
    assert_true(cosine(e, "CAFÉ Crème", "cafe creme") > 0.999);
    assert_true(cosine(e, "cafe\xcc\x81", "caf\xc3\xa9") > 0.999);
    assert_true(cosine(e, "don't", "dont") > 0.999);
    assert_true(cosine(e, "the user's settings", "user settings") > 0.999);
    embed_free(e);
}

static void test_typo_robustness(void **state)
{
    (void)state;
    embedder_t *e = new_local(DIMS);
    const char *pairs[][2] = {
        {"retrieval", "retreival"},
        {"kubernetes", "kuberentes"},
        {"password reset", "pasword reset"},
        {"configuration", "configuraton"},
        {"authentication", "authentification"},
    };
    for (size_t i = 0; i < sizeof(pairs) / sizeof(pairs[0]); i++) {
        double typo = cosine(e, pairs[i][0], pairs[i][1]);
        double other = cosine(e, pairs[i][0], "banana smoothie");
        printf("typo %-16s vs %-18s %.3f (unrelated %.3f)\n", pairs[i][0], pairs[i][1], typo,
               other);
        if (strcmp(model, EMBED_LOCAL_MODEL_ID) == 0) {
            assert_true(typo > 0.2);
            assert_true(typo > other + 0.15);
        } else {
            /* v2: a known word also carries its WordNet features, which its misspelling lacks,
             * so an isolated typo scores much lower (docs/embeddings.md); in a sentence the rest
             * of the text carries the match (the calibration's typo queries all rank first). */
            assert_true(typo > other);
        }
    }
    embed_free(e);
}

static void test_inputs(void **state)
{
    (void)state;
    embedder_t *e = new_local(DIMS);
    float v[2 * DIMS];
    char eb[256];
    const char *empty[1] = {""};
    assert_int_equal(embed_texts(e, empty, NULL, 1, v, eb, sizeof(eb)), FG_EINVAL);
    assert_non_null(strstr(eb, "empty"));
    const char *nul[1] = {NULL};
    assert_int_equal(embed_texts(e, nul, NULL, 1, v, eb, sizeof(eb)), FG_EINVAL);
    const char *bad[1] = {"abc\xff"};
    assert_int_equal(embed_texts(e, bad, NULL, 1, v, eb, sizeof(eb)), FG_EINVAL);
    assert_non_null(strstr(eb, "UTF-8"));
    const char *surrogate[1] = {"\xed\xa0\x80"};
    assert_int_equal(embed_texts(e, surrogate, NULL, 1, v, eb, sizeof(eb)), FG_EINVAL);
    const char *overlong[1] = {"\xc0\xaf"};
    assert_int_equal(embed_texts(e, overlong, NULL, 1, v, eb, sizeof(eb)), FG_EINVAL);
    assert_int_equal(embed_texts(e, NULL, NULL, 0, NULL, eb, sizeof(eb)), FG_OK); /* n = 0 */

    /* explicit lengths: embedded NUL and a prefix */
    const char *t2[2] = {"hello\0world", "hello world and more"};
    size_t l2[2] = {11, 11};
    assert_int_equal(embed_texts(e, t2, l2, 2, v, eb, sizeof(eb)), FG_OK);
    assert_true(dot(v, v + DIMS, DIMS) > 0.99); /* NUL is a separator like the space */

    /* long input: the limit itself is accepted, one byte more is not */
    size_t big = EMBED_MAX_TEXT_BYTES;
    char *txt = malloc(big + 2);
    assert_non_null(txt);
    const char *words[] = {"alpha ", "beta ", "gamma ", "delta ", "epsilon "};
    size_t o = 0;
    for (size_t i = 0; o < big; i++) {
        size_t wl = strlen(words[i % 5]);
        size_t take = big - o < wl ? big - o : wl;
        memcpy(txt + o, words[i % 5], take);
        o += take;
    }
    txt[big] = 'x';
    txt[big + 1] = '\0';
    const char *tl[1] = {txt};
    size_t ll[1] = {big};
    assert_int_equal(embed_texts(e, tl, ll, 1, v, eb, sizeof(eb)), FG_OK);
    assert_true(fabs(dot(v, v, DIMS) - 1.0) < 1e-5);
    float short_v[DIMS];
    vec(e, "alpha beta gamma delta epsilon", short_v);
    assert_true(dot(v, short_v, DIMS) > 0.8); /* sublinear tf: same bag of words */
    ll[0] = big + 1;
    assert_int_equal(embed_texts(e, tl, ll, 1, v, eb, sizeof(eb)), FG_EINVAL);
    free(txt);

    struct embed_stats st;
    embed_get_stats(e, &st);
    assert_int_equal(st.errors, 6);
    assert_int_equal(st.cache_hits + st.cache_misses, 0); /* local never consults a cache */
    embed_free(e);
}

/* ---- thread safety ------------------------------------------------------------------------ */

#define TS_THREADS 8
#define TS_TEXTS   64
#define TS_ROUNDS  20

struct ts_arg {
    embedder_t *e;
    const char *const *texts;
    const float *ref;
    int ok;
};

static void *ts_worker(void *p)
{
    struct ts_arg *a = p;
    float *out = malloc(sizeof(float) * TS_TEXTS * DIMS);
    a->ok = out != NULL;
    for (int r = 0; r < TS_ROUNDS && a->ok; r++) {
        if (embed_texts(a->e, a->texts, NULL, TS_TEXTS, out, NULL, 0) != FG_OK ||
            memcmp(out, a->ref, sizeof(float) * TS_TEXTS * DIMS) != 0)
            a->ok = 0;
    }
    free(out);
    return NULL;
}

static void test_thread_safety(void **state)
{
    (void)state;
    embedder_t *e = new_local(DIMS);
    static char bufs[TS_TEXTS][96];
    const char *texts[TS_TEXTS];
    for (int i = 0; i < TS_TEXTS; i++) {
        snprintf(bufs[i], sizeof(bufs[i]), "document %d about topic %d with words w%d and x%d", i,
                 i % 7, i * 31, i * 17);
        texts[i] = bufs[i];
    }
    float *ref = malloc(sizeof(float) * TS_TEXTS * DIMS);
    assert_non_null(ref);
    assert_int_equal(embed_texts(e, texts, NULL, TS_TEXTS, ref, NULL, 0), FG_OK);
    pthread_t th[TS_THREADS];
    struct ts_arg args[TS_THREADS];
    for (int i = 0; i < TS_THREADS; i++) {
        args[i] = (struct ts_arg){.e = e, .texts = texts, .ref = ref};
        assert_int_equal(pthread_create(&th[i], NULL, ts_worker, &args[i]), 0);
    }
    for (int i = 0; i < TS_THREADS; i++) {
        pthread_join(th[i], NULL);
        assert_true(args[i].ok);
    }
    struct embed_stats st;
    embed_get_stats(e, &st);
    assert_int_equal(st.requests, 1 + TS_THREADS * TS_ROUNDS);
    assert_int_equal(st.texts, TS_TEXTS * (1 + TS_THREADS * TS_ROUNDS));
    free(ref);
    embed_free(e);
}

/* ---- calibration of min_score ----------------------------------------------------------------
 * A small labelled set: each query has one relevant passage. "lexical" queries share words or
 * word forms (including typos) with their passage, as real search queries mostly do; "paraphrase"
 * queries express the same need with different words (the local embedder's blind spot). Every
 * other (query, passage) pair counts as irrelevant. */

static const char *const passages[] = {
    /* 0 */ "To reset a forgotten password, open the login page and click \"Forgot password\". "
            "A reset link is emailed to you.",
    /* 1 */
    "Backups of the database run every night at 02:00 UTC and are kept for 30 days. You "
    "can change the schedule in the admin panel.",
    /* 2 */
    "Use pip to install packages: run pip install requests inside your virtual "
    "environment.",
    /* 3 */
    "This recipe makes two dozen chewy cookies: cream butter and sugar, add eggs, flour "
    "and chocolate chips, then bake at 180°C for 10 minutes.",
    /* 4 */
    "Common flu symptoms include fever, cough, sore throat, muscle aches and fatigue, "
    "usually lasting about a week.",
    /* 5 */
    "Direct trains between Paris and Berlin take about eight hours; tickets can be "
    "booked online up to three months ahead.",
    /* 6 */
    "The API limits each key to 60 requests per minute. When the limit is exceeded it "
    "answers 429 Too Many Requests with a Retry-After header.",
    /* 7 */
    "In nginx, point ssl_certificate and ssl_certificate_key at your certificate files "
    "inside the server block that listens on 443.",
    /* 8 */
    "Plant tomato seedlings in a sunny spot of your garden after the last frost, and "
    "water them deeply twice a week.",
    /* 9 */
    "When git cannot merge two branches automatically it marks the conflicting lines; "
    "edit the files, then git add and commit to finish the merge.",
    /* 10 */
    "Most electric cars now offer a range of 300 to 500 km on a full battery, depending "
    "on speed and temperature.",
    /* 11 */
    "Beginners should learn the open chords G, C, D and E minor first; practise "
    "switching between chords slowly.",
    /* 12 */
    "A C program leaks memory when malloc'd blocks are never freed. Run it under "
    "valgrind or AddressSanitizer to find the leaking allocation.",
    /* 13 */
    "Index funds track a stock market index such as the S&P 500 and charge lower fees "
    "than actively managed funds.",
    /* 14 */
    "If a pod keeps restarting, check kubectl describe pod for the last state and "
    "kubectl logs --previous for the crash output.",
    /* 15 */
    "Semantic search converts each document into an embedding vector and ranks "
    "results by cosine similarity to the query embedding.",
    /* 16 */
    "Tomorrow's forecast: heavy rain in the morning, clearing in the afternoon, highs "
    "of 14 degrees.",
    /* 17 */
    "The national park has over 40 marked hiking trails, from short lakeside walks to "
    "steep mountain routes.",
    /* 18 */
    "Mocks replace real dependencies in unit tests so that each test checks one "
    "component in isolation.",
    /* 19 */
    "Popular ways to brew coffee include the French press, pour-over, espresso and "
    "cold brew, each extracting different flavours.",
    /* 20 */
    "Each user is assigned one or more roles; a role grants a set of permissions such "
    "as read, write or admin.",
    /* 21 */
    "Entries in the cache expire after a TTL, and writes invalidate the cached value "
    "for the affected key.",
    /* 22 */
    "Start training your puppy early: reward good behaviour with treats and keep "
    "training sessions short.",
    /* 23 */
    "A slow query often means a missing index; run EXPLAIN to see whether the "
    "database scans the whole table.",
    /* 24 */
    "Solar panels convert sunlight into electricity; rooftop installations can cover "
    "most of a household's energy use.",
    /* 25 */
    "Failed webhook deliveries are retried with exponential backoff for up to 24 hours "
    "before being marked as failed.",
    /* 26 */
    "Brazil has won the FIFA World Cup five times, more than any other national "
    "football team.",
    /* 27 */
    "To rotate an API key, create a new key, update your clients, then revoke the old "
    "key.",
    /* 28 */
    "Vitamin D deficiency is common in winter when there is little sunlight; symptoms "
    "include tiredness and bone pain.",
    /* 29 */
    "A JSON parse error usually means the body is not valid JSON, for example a "
    "trailing comma or an unquoted key.",
    /* 30 */ "You can schedule a visit with your doctor through the clinic's website.",
    /* 31 */ "Cats need a diet rich in animal protein; avoid feeding them onions or chocolate.",
    /* 32 */
    "To repair a punctured bike tyre, remove the inner tube, find the hole and apply a "
    "patch.",
    /* 33 */ "Buying a house usually requires a mortgage and a deposit of 10 to 20 percent.",
};
#define NPASS (sizeof(passages) / sizeof(passages[0]))

struct labelled {
    const char *query;
    int relevant; /* index into passages */
};

static const struct labelled lexical[] = {
    {"how do I reset my password", 0},
    {"database backup schedule", 1},
    {"install python packages with pip", 2},
    {"chocolate chip cookie recipe", 3},
    {"symptoms of the flu", 4},
    {"train tickets from Paris to Berlin", 5},
    {"rate limiting API requests", 6},
    {"configure TLS certificates for nginx", 7},
    {"planting tomatoes in the garden", 8},
    {"git merge conflict", 9},
    {"electric car battery range", 10},
    {"learning to play guitar chords", 11},
    {"memory leak in C program", 12},
    {"stock market index funds", 13},
    {"kubernetes pod restarts", 14},
    {"search embeddings similarity", 15},
    {"weather forecast rain tomorrow", 16},
    {"hiking trails near mountains", 17},
    {"unit testing with mocks", 18},
    {"coffee brewing methods", 19},
    {"user permissions and roles", 20},
    {"cache invalidation strategy", 21},
    {"dog training tips for puppies", 22},
    {"sql query slow index", 23},
    {"renewable solar energy panels", 24},
    {"webhook delivery retries", 25},
    {"football world cup winners", 26},
    {"rotating api keys", 27},
    {"vitamin d deficiency", 28},
    {"json parsing error", 29},
    /* typos */
    {"pasword reset", 0},
    {"kubernets pod restarting", 14},
    {"chocolat cookies recipie", 3},
    {"webhok delivery retrys", 25},
};
#define NLEX (sizeof(lexical) / sizeof(lexical[0]))

static const struct labelled paraphrase[] = {
    {"how far can an automobile go on one charge", 10},
    {"physician appointment booking", 30},
    {"feline nutrition", 31},
    {"how to fix a flat bicycle tire", 32},
    {"purchase a home", 33},
    {"réinitialiser le mot de passe", 0}, /* cross-language */
};
#define NPARA (sizeof(paraphrase) / sizeof(paraphrase[0]))

/* For the "long" variant every passage is diluted with three of these generic sentences (about
 * four times the length), as a passage inside a longer chunk of a real document would be. */
static const char *const filler[] = {
    "This page was last updated in March and applies to all current versions.",
    "See the related articles below for more background information.",
    "Contact the support team if anything here is unclear or out of date.",
    "Many readers found this section helpful when getting started.",
    "The following notes summarise what most people ask about first.",
    "Screenshots may differ slightly from what you see on your own screen.",
    "Feedback on this article is always welcome and helps us improve it.",
    "Some details vary by region, so check the local guidance as well.",
    "Remember to bookmark this page so that you can find it again later.",
    "Examples are simplified to keep the explanation short and readable.",
    "A printable version of this guide is available from the menu.",
    "We review this content regularly together with our community.",
};
#define NFILL (sizeof(filler) / sizeof(filler[0]))

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static double pct(const double *sorted, size_t n, double p)
{
    size_t i = (size_t)(p * (double)(n - 1) + 0.5);
    return sorted[i];
}

static void summary(const char *name, double *v, size_t n)
{
    double mean = 0;
    qsort(v, n, sizeof(*v), cmp_double);
    for (size_t i = 0; i < n; i++)
        mean += v[i];
    mean /= (double)n;
    printf("calib %-11s n=%4zu min=%.3f p05=%.3f p25=%.3f median=%.3f mean=%.3f p75=%.3f "
           "p95=%.3f p99=%.3f max=%.3f\n",
           name, n, v[0], pct(v, n, 0.05), pct(v, n, 0.25), pct(v, n, 0.5), mean, pct(v, n, 0.75),
           pct(v, n, 0.95), pct(v, n, 0.99), v[n - 1]);
}

static size_t count_at_least(const double *v, size_t n, double t)
{
    size_t c = 0;
    for (size_t i = 0; i < n; i++)
        c += v[i] >= t;
    return c;
}

static void calibrate(embedder_t *e, int longer, double th)
{
    float *pv = malloc(sizeof(float) * NPASS * DIMS);
    assert_non_null(pv);
    if (!longer) {
        assert_int_equal(embed_texts(e, (const char *const *)passages, NULL, NPASS, pv, NULL, 0),
                         FG_OK);
    } else {
        for (size_t p = 0; p < NPASS; p++) {
            char doc[2048];
            snprintf(doc, sizeof(doc), "%s %s %s %s", filler[p % NFILL], passages[p],
                     filler[(p * 5 + 1) % NFILL], filler[(p * 7 + 3) % NFILL]);
            vec(e, doc, pv + p * DIMS);
        }
    }
    printf("calib ---- %s passages ----\n", longer ? "long (diluted x4)" : "short");

    double rel[NLEX], para[NPARA];
    double *irr = malloc(sizeof(double) * (NLEX + NPARA) * NPASS);
    assert_non_null(irr);
    size_t nirr = 0, top1 = 0, top1_para = 0;
    for (size_t set = 0; set < 2; set++) {
        const struct labelled *L = set == 0 ? lexical : paraphrase;
        size_t n = set == 0 ? NLEX : NPARA;
        for (size_t q = 0; q < n; q++) {
            float qv[DIMS];
            vec(e, L[q].query, qv);
            double best = -2;
            size_t best_i = 0;
            for (size_t p = 0; p < NPASS; p++) {
                double s = dot(qv, pv + p * DIMS, DIMS);
                if (s > best) {
                    best = s;
                    best_i = p;
                }
                if ((int)p == L[q].relevant)
                    (set == 0 ? rel : para)[q] = s;
                else
                    irr[nirr++] = s;
                if ((int)p != L[q].relevant && s >= 0.2)
                    printf("calib high irrelevant %.3f: \"%s\" vs passage %zu\n", s, L[q].query, p);
            }
            if ((int)best_i == L[q].relevant)
                (set == 0 ? top1++ : top1_para++);
            else
                printf("calib miss: \"%s\" ranked passage %zu (%.3f) above its own\n", L[q].query,
                       best_i, best);
        }
    }
    printf("calib top-1: lexical %zu/%zu, paraphrase %zu/%zu\n", top1, (size_t)NLEX, top1_para,
           (size_t)NPARA);
    summary("relevant", rel, NLEX);
    summary("paraphrase", para, NPARA);
    summary("irrelevant", irr, nirr);
    printf("calib threshold | relevant kept | paraphrase kept | irrelevant kept\n");
    static const double ths[] = {0.05, 0.10, 0.125, 0.15, 0.18, 0.20, 0.225, 0.25, 0.30, 0.35};
    for (size_t ti = 0; ti < sizeof(ths) / sizeof(ths[0]); ti++) {
        double t = ths[ti];
        printf("calib     %.3f | %5.1f%% (%2zu/%2zu) | %5.1f%% (%zu/%zu) | %5.2f%% (%zu/%zu)\n", t,
               100.0 * (double)count_at_least(rel, NLEX, t) / NLEX, count_at_least(rel, NLEX, t),
               (size_t)NLEX, 100.0 * (double)count_at_least(para, NPARA, t) / NPARA,
               count_at_least(para, NPARA, t), (size_t)NPARA,
               100.0 * (double)count_at_least(irr, nirr, t) / (double)nirr,
               count_at_least(irr, nirr, t), nirr);
    }

    /* The shipped default must keep (almost) all lexically relevant results and drop (almost)
     * all unrelated ones; search ranks relevant passages first. */
    if (!longer)
        assert_true(count_at_least(rel, NLEX, th) >= NLEX - 1);
    printf("calib default threshold %.3f\n", th);
    assert_true((double)count_at_least(irr, nirr, th) <= 0.02 * (double)nirr);
    if (!longer)
        assert_true(top1 >= NLEX - 1);
    free(irr);
    free(pv);
}

static void test_calibration(void **state)
{
    (void)state;
    embedder_t *e = new_local(DIMS);
    double th = embed_default_min_score(e);
    assert_true(th == (strcmp(model, EMBED_LOCAL_MODEL_ID) == 0 ? EMBED_LOCAL_DEFAULT_MIN_SCORE
                                                                : EMBED_LOCAL2_DEFAULT_MIN_SCORE));
    calibrate(e, 0, th);
    calibrate(e, 1, th);
    embed_free(e);
}

static int use_v1(void **state)
{
    (void)state;
    model = EMBED_LOCAL_MODEL_ID;
    return 0;
}

static int use_v2(void **state)
{
    (void)state;
    model = EMBED_LOCAL2_MODEL_ID;
    return 0;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_defaults),        cmocka_unit_test(test_deterministic_and_normalised),
        cmocka_unit_test(test_golden),          cmocka_unit_test(test_similarity),
        cmocka_unit_test(test_typo_robustness), cmocka_unit_test(test_inputs),
        cmocka_unit_test(test_thread_safety),   cmocka_unit_test(test_calibration),
    };
    int rc = cmocka_run_group_tests_name("local-hash-v1", tests, use_v1, NULL);
    rc |= cmocka_run_group_tests_name("local-wordnet-v2", tests, use_v2, NULL);
    return rc;
}
