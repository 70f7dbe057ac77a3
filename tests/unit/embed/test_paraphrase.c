/* Paraphrase retrieval with the local embedders (docs/embeddings.md, "Paraphrase results").
 *
 * tests/unit/embed/data/paraphrase.tsv holds query/passage pairs whose query shares no content
 * word with its passage. All passages form the corpus; a query is a hit at k when its own passage
 * is among the k passages most similar to it. Odd pairs tuned the v2 weights, even pairs are the
 * held-out half whose numbers are reported here (computed on every run). The targets
 * (held-out top-1 >= 70 %, top-3 >= 85 %) are NOT reached by local-wordnet-v2, nor by the WordNet
 * techniques added later (information content, lateral relations, sense tag counts, Lesk, word
 * idf: docs/embeddings.md, "Techniques tried after the first version"); the test prints them as
 * met / NOT MET and asserts only that v2 beats v1.
 *
 * FORGE_TUNE=1 runs the grid search over the v2 weights on the tuning half instead (slow) and
 * prints the best settings; the shipped defaults in local.c come from it. FORGE_PARAMS="ic_gamma=1,
 * lesk=0.5" evaluates one setting (FORGE_VERBOSE=1 lists the tuning half's misses), and
 * FORGE_BESTMATCH=1 computes the exact best-match similarity of Mihalcea et al. (2006). */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "embed/embed_internal.h"
#include "embed/embedder.h"

#ifndef DIMS
#define DIMS EMBED_LOCAL_DEFAULT_DIMS
#endif
#define MAX_PAIRS 256

/* Targets of issue 21 for the held-out half. */
#define TARGET_TOP1 0.70
#define TARGET_TOP3 0.85

static char *queries[MAX_PAIRS], *passages[MAX_PAIRS];
static size_t npairs;

static void load(void)
{
    if (npairs)
        return;
    char path[1024];
    const char *me = __FILE__;
    const char *slash = strrchr(me, '/');
    snprintf(path, sizeof path, "%.*s/data/paraphrase.tsv", slash ? (int)(slash - me) : 1,
             slash ? me : ".");
    FILE *f = fopen(path, "r");
    assert_non_null(f);
    char line[2048];
    while (fgets(line, sizeof line, f)) {
        if (line[0] == '#' || line[0] == '\n')
            continue;
        line[strcspn(line, "\r\n")] = '\0';
        char *tab = strchr(line, '\t');
        assert_non_null(tab);
        *tab = '\0';
        assert_true(npairs < MAX_PAIRS);
        queries[npairs] = strdup(line);
        passages[npairs] = strdup(tab + 1);
        npairs++;
    }
    fclose(f);
}

struct score {
    size_t n, top1, top3;
};

/* Embeds with version 1 (p unused) or 2 (p) and scores the queries of one half (0 tuning, 1
 * held-out; 2 both). */
static void evaluate(int version, const struct embed_local2_params *p, int half, struct score *out,
                     int verbose)
{
    float *pv = malloc(sizeof(float) * DIMS * npairs);
    assert_non_null(pv);
    for (size_t i = 0; i < npairs; i++) {
        if (version == 1)
            embed_local_vector(passages[i], strlen(passages[i]), DIMS, pv + i * DIMS);
        else
            embed_local2_vector(passages[i], strlen(passages[i]), DIMS, p, pv + i * DIMS);
    }
    memset(out, 0, sizeof *out);
    for (size_t q = 0; q < npairs; q++) {
        if (half != 2 && (int)(q % 2) != half)
            continue;
        float qv[DIMS];
        if (version == 1)
            embed_local_vector(queries[q], strlen(queries[q]), DIMS, qv);
        else
            embed_local2_vector(queries[q], strlen(queries[q]), DIMS, p, qv);
        double own = 0;
        double s[MAX_PAIRS];
        for (size_t i = 0; i < npairs; i++) {
            double d = 0;
            for (unsigned k = 0; k < DIMS; k++)
                d += (double)qv[k] * (double)pv[i * DIMS + k];
            s[i] = d;
        }
        own = s[q];
        size_t above = 0; /* passages scoring higher than the right one (ties count against) */
        for (size_t i = 0; i < npairs; i++)
            if (i != q && s[i] >= own)
                above++;
        out->n++;
        out->top1 += above == 0;
        out->top3 += above < 3;
        if (verbose && above > 0)
            printf("para v%d miss (rank %zu, %.3f): \"%s\"\n", version, above + 1, own, queries[q]);
    }
    free(pv);
}

static void test_no_shared_words(void **state)
{
    (void)state;
    load();
    assert_true(npairs >= 50);
    for (size_t i = 0; i < npairs; i++) {
        size_t shared = embed_local_shared_words(queries[i], strlen(queries[i]), passages[i],
                                                 strlen(passages[i]));
        if (shared)
            printf("pair %zu shares %zu word(s): %s\n", i + 1, shared, queries[i]);
        assert_int_equal(shared, 0);
    }
}

static void report(const char *name, const struct score *s)
{
    printf("para %-24s n=%2zu top-1 %2zu (%5.1f%%) top-3 %2zu (%5.1f%%)\n", name, s->n, s->top1,
           100.0 * (double)s->top1 / (double)s->n, s->top3, 100.0 * (double)s->top3 / (double)s->n);
}

/* The weights by name (FORGE_PARAMS="ic_gamma=1,w_rel=0.5" overrides them for an experiment). */
struct knob {
    const char *name;
    double *d;
    unsigned *u;
};
static size_t knobs_of(struct embed_local2_params *p, struct knob *k)
{
    const struct knob all[] = {
        {"w_sense", &p->w_sense, NULL},
        {"sense_decay", &p->sense_decay, NULL},
        {"hyper_decay", &p->hyper_decay, NULL},
        {"w_deriv", &p->w_deriv, NULL},
        {"pos_alpha", &p->pos_alpha, NULL},
        {"w_chars", &p->w_chars, NULL},
        {"w_unigram", &p->w_unigram, NULL},
        {"w_bigram", &p->w_bigram, NULL},
        {"max_level", NULL, &p->max_level},
        {"max_senses", NULL, &p->max_senses},
        {"w_exp", &p->w_exp, NULL},
        {"w_gloss", &p->w_gloss, NULL},
        {"ic_gamma", &p->ic_gamma, NULL},
        {"w_rel", &p->w_rel, NULL},
        {"tag_beta", &p->tag_beta, NULL},
        {"idf_beta", &p->idf_beta, NULL},
        {"lesk", &p->lesk, NULL},
    };
    memcpy(k, all, sizeof all);
    return sizeof all / sizeof all[0];
}

static void params_from_env(struct embed_local2_params *p)
{
    const char *e = getenv("FORGE_PARAMS");
    struct knob k[32];
    size_t n = knobs_of(p, k);
    while (e && *e) {
        size_t len = strcspn(e, ",");
        const char *eq = memchr(e, '=', len);
        for (size_t i = 0; eq && i < n; i++) {
            if (strlen(k[i].name) == (size_t)(eq - e) && !memcmp(k[i].name, e, (size_t)(eq - e))) {
                if (k[i].d)
                    *k[i].d = strtod(eq + 1, NULL);
                else
                    *k[i].u = (unsigned)strtoul(eq + 1, NULL, 10);
            }
        }
        e += len + (e[len] == ',');
    }
}

static void print_params(const char *what, struct embed_local2_params *p)
{
    struct knob k[32];
    size_t n = knobs_of(p, k);
    printf("%s:", what);
    for (size_t i = 0; i < n; i++)
        printf(" %s=%g", k[i].name, k[i].d ? *k[i].d : (double)*k[i].u);
    printf("\n");
}

static void test_heldout(void **state)
{
    (void)state;
    load();
    char eb[512] = "";
    assert_int_equal(embed_wn_open(eb, sizeof eb), FG_OK);
    struct score v1t, v1h, v2t, v2h;
    evaluate(1, NULL, 0, &v1t, 0);
    evaluate(1, NULL, 1, &v1h, 0);
    struct embed_local2_params p = *embed_local2_default_params();
    params_from_env(&p);
    evaluate(2, &p, 0, &v2t, getenv("FORGE_VERBOSE") != NULL);
    evaluate(2, &p, 1, &v2h, 0);
    report("local-hash-v1 tuning", &v1t);
    report("local-hash-v1 held-out", &v1h);
    report("local-wordnet-v2 tuning", &v2t);
    report("local-wordnet-v2 held-out", &v2h);
    assert_true(v2h.n >= 25);
    printf("para targets (issue 21) top-1 >= %.0f%%: %s, top-3 >= %.0f%%: %s\n", 100 * TARGET_TOP1,
           (double)v2h.top1 >= TARGET_TOP1 * (double)v2h.n ? "met" : "NOT MET", 100 * TARGET_TOP3,
           (double)v2h.top3 >= TARGET_TOP3 * (double)v2h.n ? "met" : "NOT MET");
    /* What v2 does achieve (docs/embeddings.md): never worse than v1, better at top-3 on both
     * halves. The targets above are not reached and are reported, not asserted. */
    assert_true(v2h.top1 >= v1h.top1);
    assert_true(v2h.top3 > v1h.top3);
    assert_true(v2t.top1 > v1t.top1);
    assert_true(v2t.top3 > v1t.top3);
}

/* The WordNet techniques added for issue 21 (2026-12-06), off in the shipped weights: their data
 * must still be right, so that the knobs measure what they claim to. */
static void test_information_content(void **state)
{
    (void)state;
    assert_int_equal(embed_wn_open(NULL, 0), FG_OK);
    /* data.noun offsets: entity, artifact, vehicle, car */
    float entity = embed_wn_ic(1, 1740), artifact = embed_wn_ic(1, 21939),
          vehicle = embed_wn_ic(1, 4524313), car = embed_wn_ic(1, 2958343);
    printf("ic entity %.3f artifact %.3f vehicle %.3f car %.3f\n", (double)entity, (double)artifact,
           (double)vehicle, (double)car);
    assert_true(entity < 0.01f); /* the root: every noun is below it */
    assert_true(artifact > entity && vehicle > artifact && car > vehicle && car < 1.0f);
    assert_true(embed_wn_ic(1, 123456789) == 1.0f); /* not a synset */

    struct embed_wn_entry *own = NULL;
    const struct embed_wn_entry *e = embed_wn_lookup("car", 3, &own);
    assert_non_null(e);
    int first = -1, tagged_first = 0;
    for (size_t i = 0; i < e->nsenses; i++) {
        const struct embed_wn_sense *f = &e->senses[i];
        if (f->kind == EMBED_WN_SYNSET && f->rank == 0 && f->pos == 1) {
            first = (int)i;
            tagged_first = f->tagcnt;
            assert_true(f->ic > 0.5f && f->ic < 0.8f); /* car has tens of hyponyms */
        }
        if (f->kind == EMBED_WN_HYPER)
            assert_true(f->ic <= 1.0f && f->ic >= 0.0f);
    }
    assert_true(first >= 0);
    assert_true(tagged_first > 10); /* cntlist.rev: car, sense 1, is tagged 71 times */
    assert_true(e->idf > 0);
    free(own);

    /* similar-to / also-see of an adjective are kept as EMBED_WN_REL features */
    e = embed_wn_lookup("sick", 4, &own);
    assert_non_null(e);
    size_t rel = 0;
    for (size_t i = 0; i < e->nsenses; i++)
        rel += e->senses[i].kind == EMBED_WN_REL;
    assert_true(rel > 0);
    free(own);
}

static double cosine(const float *a, const float *b)
{
    double d = 0;
    for (unsigned k = 0; k < DIMS; k++)
        d += (double)a[k] * (double)b[k];
    return d;
}

static void test_knobs_change_vectors(void **state)
{
    (void)state;
    assert_int_equal(embed_wn_open(NULL, 0), FG_OK);
    const char *a = "the bank of the river flooded", *b = "sloping land beside a stream";
    struct embed_local2_params p = *embed_local2_default_params();
    float va[DIMS], vb[DIMS], wa[DIMS], wb[DIMS];
    embed_local2_vector(a, strlen(a), DIMS, &p, va);
    embed_local2_vector(b, strlen(b), DIMS, &p, vb);
    /* Lesk: "river" makes the slope sense of "bank" heavier, so the text moves towards b */
    p.lesk = 4;
    embed_local2_vector(a, strlen(a), DIMS, &p, wa);
    embed_local2_vector(b, strlen(b), DIMS, &p, wb);
    printf("lesk: bank/slope %.3f -> %.3f\n", cosine(va, vb), cosine(wa, wb));
    assert_true(cosine(wa, wb) > cosine(va, vb));
    /* information content: generic hypernyms no longer make unrelated words alike */
    p = *embed_local2_default_params();
    const char *x = "engineers", *y = "developers";
    embed_local2_vector(x, strlen(x), DIMS, &p, va);
    embed_local2_vector(y, strlen(y), DIMS, &p, vb);
    p.ic_gamma = 2;
    embed_local2_vector(x, strlen(x), DIMS, &p, wa);
    embed_local2_vector(y, strlen(y), DIMS, &p, wb);
    printf("ic: engineers/developers %.3f -> %.3f\n", cosine(va, vb), cosine(wa, wb));
    assert_true(cosine(wa, wb) < cosine(va, vb) - 0.1);
}

/* FORGE_BESTMATCH=1: the sentence similarity of Mihalcea et al. (2006) computed exactly, not
 * through one vector per text: sim(a, b) = mean of the idf-weighted best match of each word of a
 * among the words of b (word similarity: cosine of the one-word v2 vectors, 4096 dims, so no
 * hashing noise), averaged over both directions. It is the ceiling of what a fixed vector emulating
 * it could reach with these word similarities (docs/embeddings.md, "Paraphrase results").
 * FORGE_PARAMS sets the word vectors' weights; FORGE_BESTMATCH_HALF=1 scores the held-out half. */
#define BM_DIMS  4096
#define BM_WORDS 48
struct bm_text {
    size_t n;
    float *v[BM_WORDS];
    double idf[BM_WORDS];
};

static void bm_text(const char *s, const struct embed_local2_params *p, struct bm_text *t)
{
    char w[EMBED_WN_MAX_WORD];
    size_t n = 0;
    t->n = 0;
    for (const char *c = s;; c++) {
        char ch = *c >= 'A' && *c <= 'Z' ? (char)(*c + 32) : *c;
        if (ch >= 'a' && ch <= 'z') {
            if (n + 1 < sizeof w)
                w[n++] = ch;
            continue;
        }
        if (n >= 2 && !embed_local_is_stop(w, n) && t->n < BM_WORDS) {
            float *v = malloc(sizeof(float) * BM_DIMS);
            assert_non_null(v);
            embed_local2_vector(w, n, BM_DIMS, p, v);
            struct embed_wn_entry *own = NULL;
            const struct embed_wn_entry *e = embed_wn_lookup(w, n, &own);
            t->idf[t->n] = e && e->nlemmas ? (e->idf > 0.5f ? (double)e->idf : 0.5) : 10.0;
            free(own);
            t->v[t->n++] = v;
        }
        n = 0;
        if (!*c)
            break;
    }
}

static double bm_dir(const struct bm_text *a, const struct bm_text *b)
{
    double num = 0, den = 0;
    for (size_t i = 0; i < a->n; i++) {
        double best = 0;
        for (size_t j = 0; j < b->n; j++) {
            double d = 0;
            for (unsigned k = 0; k < BM_DIMS; k++)
                d += (double)a->v[i][k] * (double)b->v[j][k];
            best = d > best ? d : best;
        }
        num += a->idf[i] * best;
        den += a->idf[i];
    }
    return den > 0 ? num / den : 0;
}

static void test_best_match(void **state)
{
    (void)state;
    const char *t = getenv("FORGE_BESTMATCH");
    if (!t || strcmp(t, "1") != 0)
        skip();
    load();
    assert_int_equal(embed_wn_open(NULL, 0), FG_OK);
    struct embed_local2_params p = *embed_local2_default_params();
    params_from_env(&p);
    const char *h = getenv("FORGE_BESTMATCH_HALF");
    int half = h && strcmp(h, "1") == 0;
    struct bm_text *q = calloc(npairs, sizeof *q), *d = calloc(npairs, sizeof *d);
    assert_true(q && d);
    for (size_t i = 0; i < npairs; i++) {
        bm_text(queries[i], &p, &q[i]);
        bm_text(passages[i], &p, &d[i]);
    }
    struct score sc = {0};
    for (size_t i = 0; i < npairs; i++) {
        if ((int)(i % 2) != half)
            continue;
        double own = 0.5 * (bm_dir(&q[i], &d[i]) + bm_dir(&d[i], &q[i]));
        size_t above = 0;
        for (size_t j = 0; j < npairs; j++)
            if (j != i && 0.5 * (bm_dir(&q[i], &d[j]) + bm_dir(&d[j], &q[i])) >= own)
                above++;
        sc.n++;
        sc.top1 += above == 0;
        sc.top3 += above < 3;
    }
    report(half ? "best-match held-out" : "best-match tuning", &sc);
    print_params("best-match params", &p);
    for (size_t i = 0; i < npairs; i++) {
        for (size_t k = 0; k < q[i].n; k++)
            free(q[i].v[k]);
        for (size_t k = 0; k < d[i].n; k++)
            free(d[i].v[k]);
    }
    free(q);
    free(d);
}

/* Coordinate search on the tuning half (FORGE_TUNE=1): each weight in turn takes the value of its
 * candidate list that maximises top-1 + 0.5 top-3 (ties keep the current value), three rounds. */
static double objective(const struct embed_local2_params *p)
{
    struct score s;
    evaluate(2, p, 0, &s, 0);
    return (double)s.top1 + 0.5 * (double)s.top3;
}

static void test_tune(void **state)
{
    (void)state;
    const char *t = getenv("FORGE_TUNE");
    if (!t || strcmp(t, "1") != 0)
        skip();
    load();
    assert_int_equal(embed_wn_open(NULL, 0), FG_OK);
    struct embed_local2_params p = *embed_local2_default_params();
    params_from_env(&p);
    static const double w_sense[] = {0.5, 1, 1.5, 2, 3, 4, 6, 8}, decay[] = {0.2, 0.4, 0.6, 0.8, 1},
                        hdecay[] = {0.3, 0.5, 0.7, 0.9, 1}, deriv[] = {0, 0.3, 0.6, 1},
                        alpha[] = {0, 0.5, 1}, chars[] = {0.1, 0.25, 0.5, 1}, uni[] = {0.5, 1, 1.5},
                        bigram[] = {0, 0.25, 0.5}, wexp[] = {0, 0.5, 1, 1.5, 2, 3, 4},
                        wgloss[] = {0.1, 0.3, 0.6, 1, 2, 4}, icg[] = {0, 0.5, 1, 2, 3, 4},
                        wrel[] = {0, 0.3, 0.6, 1}, tagb[] = {0, 0.25, 0.5, 1},
                        idfb[] = {0, 0.5, 1, 2}, lesk[] = {0, 0.5, 1, 2, 4};
    static const unsigned levels[] = {0, 1, 2, 3, 4}, senses[] = {1, 2, 3};
    struct {
        double *d;
        unsigned *u;
        const double *dv;
        const unsigned *uv;
        size_t n;
    } knobs[] = {
        {&p.w_sense, NULL, w_sense, NULL, 8},    {&p.sense_decay, NULL, decay, NULL, 5},
        {&p.hyper_decay, NULL, hdecay, NULL, 5}, {&p.w_deriv, NULL, deriv, NULL, 4},
        {&p.pos_alpha, NULL, alpha, NULL, 3},    {&p.w_chars, NULL, chars, NULL, 4},
        {&p.w_unigram, NULL, uni, NULL, 3},      {&p.w_bigram, NULL, bigram, NULL, 3},
        {NULL, &p.max_level, NULL, levels, 5},   {NULL, &p.max_senses, NULL, senses, 3},
        {&p.w_exp, NULL, wexp, NULL, 7},         {&p.w_gloss, NULL, wgloss, NULL, 6},
        {&p.ic_gamma, NULL, icg, NULL, 6},       {&p.w_rel, NULL, wrel, NULL, 4},
        {&p.tag_beta, NULL, tagb, NULL, 4},      {&p.idf_beta, NULL, idfb, NULL, 4},
        {&p.lesk, NULL, lesk, NULL, 5},
    };
    double best = objective(&p);
    for (int round = 0; round < 3; round++) {
        for (size_t k = 0; k < sizeof knobs / sizeof knobs[0]; k++) {
            if (knobs[k].d == &p.w_chars && getenv("FORGE_TUNE_KEEP_CHARS"))
                continue; /* char n-grams carry typo matching: tune the rest only */
            for (size_t c = 0; c < knobs[k].n; c++) {
                struct embed_local2_params save = p;
                if (knobs[k].d)
                    *knobs[k].d = knobs[k].dv[c];
                else
                    *knobs[k].u = knobs[k].uv[c];
                double o = objective(&p);
                if (o > best)
                    best = o;
                else
                    p = save;
            }
        }
        struct score s;
        evaluate(2, &p, 0, &s, 0);
        printf("tune round %d: top1=%zu top3=%zu\n", round, s.top1, s.top3);
        print_params("tune params", &p);
        fflush(stdout);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_no_shared_words),     cmocka_unit_test(test_heldout),
        cmocka_unit_test(test_information_content), cmocka_unit_test(test_knobs_change_vectors),
        cmocka_unit_test(test_best_match),          cmocka_unit_test(test_tune),
    };
    int rc = cmocka_run_group_tests(tests, NULL, NULL);
    for (size_t i = 0; i < npairs; i++) {
        free(queries[i]);
        free(passages[i]);
    }
    return rc;
}
