/*
 * Fuzz target `kw` (src/kw/): the keyword query parser, the tokenizer and the search over a
 * small index. The input is "<document text>\x00<query>" (no NUL: the whole input is the query).
 * The document is indexed beside a few fixed ones, the query is parsed and, when valid, searched
 * both with MaxScore pruning (fg_kw_search) and by brute force (fg_kw_search_exact).
 * Invariants: the parser either accepts or fails with a 1-based position within the query and a
 * message; every term is NUL-terminated within FG_KW_TERM_MAX bytes; both searches return the
 * same number of hits with the same scores, best first; tokenizing never reports more terms than
 * the input has bytes.
 */
#include <math.h>

#include "fuzz_common.h"
#include "kw/kw.h"

static struct fg_kw *kw;

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    static const char *const docs[] = {
        "Postgres failover runbook: promote the replica, then repoint the pool",
        "Le café résumé: naïve façade, Straße, Łódź",
        "Ошибка сети при обновлении индекса",
        "東京の天気は晴れです 서울 날씨",
        "running runners ran quickly; the run is over",
    };
    kw = fg_kw_new();
    char id[37];
    for (size_t i = 0; i < sizeof docs / sizeof docs[0]; i++) {
        snprintf(id, sizeof id, "00000000-0000-7000-8000-%012zu", i);
        fg_kw_upsert(kw, id, (unsigned)(i % 3), 60, docs[i], strlen(docs[i]), "{\"tag\":\"ops\"}",
                     14);
    }
    return 0;
}

static int count_cb(const char *term, size_t len, uint32_t pos, void *ctx)
{
    (void)pos;
    FUZZ_ASSERT(len <= FG_KW_TERM_MAX && strlen(term) == len);
    (*(size_t *)ctx)++;
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!kw)
        LLVMFuzzerInitialize(NULL, NULL);
    if (size > 64 * 1024)
        return 0;
    const char *s = (const char *)data;
    const uint8_t *nul = memchr(data, '\0', size);
    size_t dn = nul ? (size_t)(nul - data) : 0;
    const char *q = nul ? s + dn + 1 : s;
    size_t qn = nul ? size - dn - 1 : size;

    size_t terms = 0;
    size_t r = fg_kw_tokenize(q, qn, 1, count_cb, &terms);
    FUZZ_ASSERT(r == terms && terms <= qn);
    static const char fuzz_id[] = "ffffffff-ffff-7fff-bfff-ffffffffffff";
    if (nul)
        fg_kw_upsert(kw, fuzz_id, 1, 60, s, dn, q, qn);

    struct fg_kw_query query;
    struct fg_kw_parse_error err;
    memset(&err, 0, sizeof err);
    if (fg_kw_parse(q, qn, &query, &err) != FG_OK) {
        FUZZ_ASSERT(err.message[0] != '\0' && memchr(err.message, '\0', sizeof err.message));
        FUZZ_ASSERT(err.position >= 1 && err.position <= qn + 1);
    } else {
        FUZZ_ASSERT(query.nc >= 1 && query.nc <= FG_KW_MAX_CLAUSES && query.nt <= FG_KW_MAX_TERMS);
        for (size_t i = 0; i < query.nt; i++)
            FUZZ_ASSERT(memchr(query.terms[i], '\0', FG_KW_TERM_MAX + 1) != NULL);
        for (size_t i = 0; i < query.nc; i++)
            FUZZ_ASSERT((size_t)query.c[i].first + query.c[i].n <= query.nt);
        static struct fg_kw_hit a[20], b[20];
        for (int pass = 0; pass < 2; pass++) {
            unsigned type = pass ? 1 : FG_KW_TYPE_ANY;
            size_t na = fg_kw_search(kw, &query, 20, 100, type, a);
            size_t nb = fg_kw_search_exact(kw, &query, 20, 100, type, b);
            FUZZ_ASSERT(na == nb);
            for (size_t i = 0; i < na; i++) {
                FUZZ_ASSERT(isfinite(a[i].score) && a[i].score > 0);
                FUZZ_ASSERT(fabs(a[i].score - b[i].score) <= 1e-9 * fabs(b[i].score) + 1e-12);
                if (i)
                    FUZZ_ASSERT(a[i - 1].score >= a[i].score);
            }
        }
    }
    if (nul)
        fg_kw_remove(kw, fuzz_id);
    return 0;
}
