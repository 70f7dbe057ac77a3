/*
 * bench/keyword: single-thread top-10 keyword search on the bench/search corpus model, for
 * Forge's keyword index (src/kw), Xapian (through xapian_shim.cc) and SQLite FTS5, with the
 * recall of each against exact BM25 computed by brute force (fg_kw_search_exact).
 *
 *   kwbench [N=100000] [QUERIES=1000] [ROUNDS=3] [SEED]
 *
 * Corpus (as bench/search/seed.c): 200 topics × 24 words from a 6 000-word synthetic
 * vocabulary; a capsule is 20 words (12 from its topic, 8 random); a query is 3 words of one
 * topic, OR-ed. Forge and Xapian index the same terms (Forge's tokeniser: folded, Snowball
 * stemmed); FTS5 uses the production tokenizer (porter unicode61 remove_diacritics 2) and
 * bm25(content 1.0, metadata 0.5) as the SQLite store did. Recall@10 counts a returned capsule
 * as correct when it is in the exact top 10 or ties the exact 10th score.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <sqlite3.h>

#include <time.h>

#include "kw/kw.h"
#include "util/time.h"
#include "xapian_shim.h"

#define VOCAB       6000
#define TOPICS      200
#define TOPIC_WORDS 24
#define K           10
#define TRUTH_K     50

static char vocab[VOCAB][16];
static int topic_words[TOPICS][TOPIC_WORDS];
static uint64_t rng_state;

static uint64_t rnd(void)
{
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return rng_state;
}

static void make_vocab(void)
{
    static const char *const syl[] = {"ka",  "to",  "ri",  "mo",  "sen", "da",  "lu", "vi",  "pre",
                                      "gor", "tan", "el",  "qua", "zu",  "bi",  "ne", "shi", "ro",
                                      "fa",  "mir", "ost", "ul",  "wen", "dri", "cal"};
    const size_t ns = sizeof syl / sizeof syl[0];
    for (int i = 0; i < VOCAB; i++) {
        size_t a = (size_t)i % ns, b = ((size_t)i / ns) % ns, c = ((size_t)i / ns / ns) % ns;
        snprintf(vocab[i], sizeof vocab[i], "%s%s%s", syl[a], syl[b], syl[c]);
    }
    for (int t = 0; t < TOPICS; t++)
        for (int w = 0; w < TOPIC_WORDS; w++)
            topic_words[t][w] = (int)(rnd() % VOCAB);
}

static size_t make_text(char *out, size_t n, int topic)
{
    size_t o = 0;
    for (int w = 0; w < 20 && o + 20 < n; w++) {
        int word = w % 5 < 3 ? topic_words[topic][rnd() % TOPIC_WORDS] : (int)(rnd() % VOCAB);
        o += (size_t)snprintf(out + o, n - o, "%s%s", w ? " " : "", vocab[word]);
    }
    return o;
}

struct terms {
    char s[64][FG_KW_TERM_MAX + 1];
    const char *p[64];
    size_t n;
};

static int terms_cb(const char *t, size_t len, uint32_t pos, void *ctx)
{
    (void)pos;
    struct terms *x = ctx;
    if (x->n >= 64)
        return 1;
    memcpy(x->s[x->n], t, len + 1);
    x->p[x->n] = x->s[x->n];
    x->n++;
    return 0;
}

static double cpu_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int cmp_dbl(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

struct truth {
    struct fg_kw_hit h[TRUTH_K];
    size_t n;
};

/* Correct results among got[0..n) (ids as doc numbers) against the exact ranking. */
static size_t correct(const struct truth *t, const long *got, size_t n, char (*ids)[37])
{
    size_t want = t->n < K ? t->n : K, ok = 0;
    double tenth = want ? t->h[want - 1].score : 0;
    for (size_t i = 0; i < n && i < K; i++) {
        if (got[i] < 0)
            continue;
        for (size_t j = 0; j < t->n; j++)
            if (strcmp(t->h[j].id, ids[got[i]]) == 0) {
                ok += j < want || t->h[j].score >= tenth * (1 - 1e-12);
                break;
            }
    }
    return ok;
}

static long id_num(const char *id)
{
    return strtol(id + 24, NULL, 10);
}

static void report(const char *name, double build_s, const double *qps, int rounds, size_t ok,
                   size_t want, size_t exact_lists, size_t nq)
{
    double v[16];
    memcpy(v, qps, (size_t)rounds * sizeof *v);
    qsort(v, (size_t)rounds, sizeof *v, cmp_dbl);
    printf("| %-14s | %7.2f s | %9.0f | %7.0f–%-7.0f | %6.4f | %4zu/%zu |\n", name, build_s,
           v[rounds / 2], v[0], v[rounds - 1], want ? (double)ok / (double)want : 0.0, exact_lists,
           nq);
}

int main(int argc, char **argv)
{
    long n = argc > 1 ? strtol(argv[1], NULL, 10) : 100000;
    long nq = argc > 2 ? strtol(argv[2], NULL, 10) : 1000;
    int rounds = argc > 3 ? (int)strtol(argv[3], NULL, 10) : 3;
    rng_state = argc > 4 ? strtoull(argv[4], NULL, 10) : 0x9e3779b97f4a7c15ull;
    if (n <= 0 || n > 10000000 || nq <= 0 || rounds < 1 || rounds > 15 || !rng_state)
        return 2;
    make_vocab();
    char(*texts)[400] = malloc((size_t)n * sizeof *texts);
    size_t *lens = malloc((size_t)n * sizeof *lens);
    char(*ids)[37] = malloc((size_t)n * sizeof *ids);
    unsigned *types = malloc((size_t)n * sizeof *types);
    for (long i = 0; i < n; i++) {
        lens[i] = make_text(texts[i], sizeof texts[i], (int)(rnd() % TOPICS));
        snprintf(ids[i], sizeof ids[i], "01900000-0000-7000-8000-%012ld", i % 1000000000000L);
        types[i] = (unsigned)(rnd() % 6);
    }
    char(*queries)[64] = malloc((size_t)nq * sizeof *queries);
    for (long i = 0; i < nq; i++) {
        int t = (int)(rnd() % TOPICS);
        snprintf(
            queries[i], sizeof queries[i], "%s %s %s", vocab[topic_words[t][rnd() % TOPIC_WORDS]],
            vocab[topic_words[t][rnd() % TOPIC_WORDS]], vocab[topic_words[t][rnd() % TOPIC_WORDS]]);
    }
    printf("# bench/keyword: %ld capsules, %ld queries (3 words, OR), top-%d, %d rounds, "
           "1 thread\n",
           n, nq, K, rounds);

    /* Forge */
    double t0 = fg_mono_s();
    struct fg_kw *kw = fg_kw_new();
    for (long i = 0; i < n; i++)
        fg_kw_upsert(kw, ids[i], types[i], 60, texts[i], lens[i], "{}", 2);
    double forge_build = fg_mono_s() - t0;
    struct fg_kw_stats st;
    fg_kw_get_stats(kw, &st);
    struct fg_kw_query *pq = malloc((size_t)nq * sizeof *pq);
    for (long i = 0; i < nq; i++) {
        struct fg_kw_parse_error err;
        if (fg_kw_parse(queries[i], strlen(queries[i]), &pq[i], &err) != FG_OK)
            return 1;
    }
    /* Ground truth: brute force. */
    struct truth *truth = malloc((size_t)nq * sizeof *truth);
    size_t want = 0, matches = 0;
    t0 = fg_mono_s();
    for (long i = 0; i < nq; i++) {
        truth[i].n = fg_kw_search_exact(kw, &pq[i], TRUTH_K, 100, FG_KW_TYPE_ANY, truth[i].h);
        want += truth[i].n < K ? truth[i].n : K;
    }
    double exact_qps = (double)nq / (fg_mono_s() - t0);
    for (long i = 0; i < 20 && i < nq; i++) {
        struct fg_kw_hit all[FG_KW_K_MAX];
        matches += fg_kw_search_exact(kw, &pq[i], FG_KW_K_MAX, 100, FG_KW_TYPE_ANY, all);
    }
    printf("forge index: %zu docs, %zu terms, %zu postings, ~%.1f MB; exact BM25 brute force "
           "%.0f q/s; ~%zu matches per query (first 20)\n\n",
           st.docs, st.terms, st.postings, (double)st.bytes / 1e6, exact_qps,
           matches / (size_t)(nq < 20 ? nq : 20));
    /* Checkpoint file: save and load time (the load is what a restart pays). */
    {
        char path[] = "/tmp/kwbench_ckpt_XXXXXX";
        int fd = mkstemp(path);
        if (fd < 0)
            return 1;
        close(fd);
        double ts = fg_mono_s();
        if (fg_kw_save(kw, path) != FG_OK)
            return 1;
        double save_s = fg_mono_s() - ts;
        struct fg_kw *k2 = fg_kw_new();
        ts = fg_mono_s();
        double tc = cpu_s();
        if (fg_kw_load(k2, path) != FG_OK)
            return 1;
        double load_s = fg_mono_s() - ts, load_cpu = cpu_s() - tc;
        FILE *f = fopen(path, "rb");
        long sz = 0;
        if (f && fseek(f, 0, SEEK_END) == 0)
            sz = ftell(f);
        if (f)
            fclose(f);
        unlink(path);
        /* Updates of a third of the capsules: tombstones, then one compaction. */
        double worst = 0;
        ts = fg_mono_s();
        for (long i = 0; i < n / 3; i++) {
            double t1 = fg_mono_s();
            fg_kw_upsert(k2, ids[i], types[i], 60, texts[n - 1 - i], lens[n - 1 - i], "{}", 2);
            double dt = fg_mono_s() - t1;
            if (dt > worst)
                worst = dt;
        }
        double upd_s = fg_mono_s() - ts;
        printf("checkpoint file %.1f MB: save %.2f s, load %.2f s (%.2f s CPU); %ld updates in "
               "%.2f s (%.1f µs each), slowest (the compaction) %.2f s\n\n",
               (double)sz / 1e6, save_s, load_s, load_cpu, n / 3, upd_s,
               upd_s * 1e6 / (double)(n / 3), worst);
        fg_kw_free(k2);
    }
    printf("| engine | build | q/s (median) | q/s (min–max) | recall@10 | top-10 = exact |\n");
    printf("|---|---:|---:|---:|---:|---:|\n");

    double qps[16];
    size_t ok = 0, same = 0;
    long got[K];
    for (int r = 0; r < rounds; r++) {
        t0 = fg_mono_s();
        for (long i = 0; i < nq; i++) {
            struct fg_kw_query q;
            struct fg_kw_parse_error err;
            struct fg_kw_hit h[K];
            (void)fg_kw_parse(queries[i], strlen(queries[i]), &q, &err);
            size_t m = fg_kw_search(kw, &q, K, 100, FG_KW_TYPE_ANY, h);
            if (r == 0) {
                for (size_t j = 0; j < m; j++)
                    got[j] = id_num(h[j].id);
                ok += correct(&truth[i], got, m, ids);
                size_t tw = truth[i].n < K ? truth[i].n : K, eq = m == tw;
                for (size_t j = 0; eq && j < m; j++)
                    eq =
                        strcmp(h[j].id, truth[i].h[j].id) == 0 && h[j].score == truth[i].h[j].score;
                same += eq;
            }
        }
        qps[r] = (double)nq / (fg_mono_s() - t0);
    }
    report("Forge (src/kw)", forge_build, qps, rounds, ok, want, same, (size_t)nq);

    /* Xapian, same terms. */
    char dir[] = "/tmp/kwbench_xapian_XXXXXX";
    if (!mkdtemp(dir))
        return 1;
    t0 = fg_mono_s();
    struct xs *x = xs_open(dir);
    if (!x)
        return 1;
    for (long i = 0; i < n; i++) {
        struct terms tt = {.n = 0};
        fg_kw_tokenize(texts[i], lens[i], 1, terms_cb, &tt);
        if (xs_add(x, ids[i], tt.p, tt.n) != 0)
            return 1;
    }
    if (xs_commit(x, dir) != 0)
        return 1;
    double xap_build = fg_mono_s() - t0;
    ok = same = 0;
    for (int r = 0; r < rounds; r++) {
        t0 = fg_mono_s();
        for (long i = 0; i < nq; i++) {
            struct terms tt = {.n = 0};
            fg_kw_tokenize(queries[i], strlen(queries[i]), 1, terms_cb, &tt);
            unsigned d[K];
            size_t m = xs_search(x, tt.p, tt.n, K, d);
            if (r == 0) {
                for (size_t j = 0; j < m; j++)
                    got[j] = (long)d[j] - 1;
                size_t c = correct(&truth[i], got, m, ids);
                ok += c;
                same += c == (truth[i].n < K ? truth[i].n : K) && m == c;
            }
        }
        qps[r] = (double)nq / (fg_mono_s() - t0);
    }
    report("Xapian 1.4", xap_build, qps, rounds, ok, want, same, (size_t)nq);
    xs_close(x);
    char cmd[200];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    if (system(cmd) != 0)
        fprintf(stderr, "could not remove %s\n", dir);

    /* SQLite FTS5 (in memory). */
    sqlite3 *db;
    sqlite3_stmt *ins, *sel;
    t0 = fg_mono_s();
    if (sqlite3_open(":memory:", &db) != SQLITE_OK ||
        sqlite3_exec(db,
                     "CREATE VIRTUAL TABLE f USING fts5(content, metadata, tokenize = 'porter "
                     "unicode61 remove_diacritics 2'); BEGIN",
                     NULL, NULL, NULL) != SQLITE_OK ||
        sqlite3_prepare_v2(db, "INSERT INTO f (rowid, content, metadata) VALUES (?1, ?2, '{}')", -1,
                           &ins, NULL) != SQLITE_OK)
        return 1;
    for (long i = 0; i < n; i++) {
        sqlite3_bind_int64(ins, 1, i + 1);
        sqlite3_bind_text(ins, 2, texts[i], (int)lens[i], SQLITE_STATIC);
        if (sqlite3_step(ins) != SQLITE_DONE)
            return 1;
        sqlite3_reset(ins);
    }
    sqlite3_finalize(ins);
    if (sqlite3_exec(db, "COMMIT", NULL, NULL, NULL) != SQLITE_OK ||
        sqlite3_prepare_v2(db,
                           "SELECT rowid FROM f WHERE f MATCH ?1 ORDER BY bm25(f, 1.0, 0.5) "
                           "LIMIT 10",
                           -1, &sel, NULL) != SQLITE_OK)
        return 1;
    double fts_build = fg_mono_s() - t0;
    ok = same = 0;
    for (int r = 0; r < rounds; r++) {
        t0 = fg_mono_s();
        for (long i = 0; i < nq; i++) {
            char m[200];
            const char *a = queries[i], *b = strchr(a, ' '), *c = strchr(b + 1, ' ');
            snprintf(m, sizeof m, "\"%.*s\" OR \"%.*s\" OR \"%s\"", (int)(b - a), a,
                     (int)(c - b - 1), b + 1, c + 1);
            sqlite3_bind_text(sel, 1, m, -1, SQLITE_TRANSIENT);
            size_t cnt = 0;
            while (sqlite3_step(sel) == SQLITE_ROW)
                if (cnt < K)
                    got[cnt++] = (long)sqlite3_column_int64(sel, 0) - 1;
            sqlite3_reset(sel);
            if (r == 0) {
                size_t cc = correct(&truth[i], got, cnt, ids);
                ok += cc;
                same += cc == (truth[i].n < K ? truth[i].n : K) && cnt == cc;
            }
        }
        qps[r] = (double)nq / (fg_mono_s() - t0);
    }
    report("SQLite FTS5", fts_build, qps, rounds, ok, want, same, (size_t)nq);
    sqlite3_finalize(sel);
    sqlite3_close(db);
    printf("\n(top-10 = exact: Forge compares ids and scores; Xapian and FTS5 the set of "
           "ids, ties aside)\n");
    fg_kw_free(kw);
    free(texts);
    free(lens);
    free(ids);
    free(types);
    free(queries);
    free(pq);
    free(truth);
    return 0;
}
