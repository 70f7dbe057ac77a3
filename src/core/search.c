/*
 * Search: request execution for the three modes, the subsystem lifecycle and readiness. See
 * search.h for the contract and docs/search.md for the design.
 *
 * Every mode ends the same way: candidates (capsule id + ranking data) in order → each is read
 * from the store and re-checked (live, readable by the caller, right type) → the first `limit`
 * survivors are the answer. The index and the full-text query already filter, so the re-check
 * only drops what changed in between; a few extra candidates are fetched to cover that.
 */
#include "core/search.h"
#include "core/embed_cache_shared.h"
#include "core/shared_state.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/app.h"
#include "core/graph.h"
#include "core/authz.h"
#include "core/index.h"
#include "core/metrics.h"
#include "embed/embedder.h"
#include "kw/kw.h"
#include "store/search.h"
#include "store/store.h"
#include "util/config.h"
#include "util/log.h"
#include "util/mem.h"
#include "util/time.h"

const char *const fg_search_modes[] = {"semantic", "keyword", "hybrid", NULL};

struct fg_search {
    embedder_t *emb;
    struct embed_mem_cache *cache;
    struct fg_index *ix; /* NULL: the store has no search support */
    double default_min_score;
};

/* ---- pure building blocks ------------------------------------------------------------------ */

/* Decodes one UTF-8 character at s[0..n); returns its length (1 for an invalid byte, cp = -1). */
static size_t utf8_next(const unsigned char *s, size_t n, long *cp)
{
    unsigned char c = s[0];
    size_t len;
    long v;
    if (c < 0x80) {
        *cp = c;
        return 1;
    } else if ((c & 0xe0) == 0xc0) {
        len = 2;
        v = c & 0x1f;
    } else if ((c & 0xf0) == 0xe0) {
        len = 3;
        v = c & 0x0f;
    } else if ((c & 0xf8) == 0xf0) {
        len = 4;
        v = c & 0x07;
    } else {
        *cp = -1;
        return 1;
    }
    if (len > n) {
        *cp = -1;
        return 1;
    }
    for (size_t i = 1; i < len; i++) {
        if ((s[i] & 0xc0) != 0x80) {
            *cp = -1;
            return 1;
        }
        v = v << 6 | (s[i] & 0x3f);
    }
    *cp = v;
    return len;
}

/* A character that belongs to a word: ASCII letters/digits, and non-ASCII characters outside
 * the punctuation, symbol, space, control and emoji blocks (the FTS5 unicode61 tokenizer makes
 * the final decision inside the quoted term; a term it finds empty matches nothing). */
static int word_char(long cp)
{
    if (cp < 0)
        return 0;
    if (cp < 0x80)
        return (cp >= '0' && cp <= '9') || (cp >= 'a' && cp <= 'z') || (cp >= 'A' && cp <= 'Z');
    if (cp < 0xc0)
        return cp == 0xaa || cp == 0xb5 || cp == 0xba; /* ª µ º; the rest is symbols/space */
    if (cp == 0xd7 || cp == 0xf7)
        return 0; /* × ÷ */
    static const long sep[][2] = {
        {0x2000, 0x206f}, /* general punctuation, spaces, zero-width joiners */
        {0x20a0, 0x20cf}, /* currency */
        {0x2100, 0x214f}, /* letterlike symbols */
        {0x2190, 0x2bff}, /* arrows, math operators, technical, box drawing, shapes, dingbats */
        {0x2e00, 0x2e7f}, /* supplemental punctuation */
        {0x3000, 0x303f}, /* CJK symbols and punctuation */
        {0xfe00, 0xfe0f}, /* variation selectors */
        {0xfe30, 0xfe6f}, /* CJK compatibility forms, small forms */
        {0xfeff, 0xfeff}, /* BOM */
        {0xff00, 0xff0f}, /* full-width punctuation */
        {0xff1a, 0xff20},   {0xff3b, 0xff40}, {0xff5b, 0xff65}, {0xfff0, 0xffff}, /* specials */
        {0x1f000, 0x1faff}, /* emoji, pictographs, symbols */
        {0xe0000, 0xe007f}, /* tags */
    };
    for (size_t i = 0; i < sizeof sep / sizeof sep[0]; i++)
        if (cp >= sep[i][0] && cp <= sep[i][1])
            return 0;
    return 1;
}

static int same_term_ci(const char *a, size_t al, const char *b, size_t bl)
{
    if (al != bl)
        return 0;
    for (size_t i = 0; i < al; i++) {
        unsigned char x = (unsigned char)a[i], y = (unsigned char)b[i];
        if (x >= 'A' && x <= 'Z')
            x = (unsigned char)(x + 32);
        if (y >= 'A' && y <= 'Z')
            y = (unsigned char)(y + 32);
        if (x != y)
            return 0;
    }
    return 1;
}

/* English function words dropped from a keyword query that has other words: they match most
 * documents, add nothing to BM25 (their IDF is ~0) and make the query slow. */
static int stop_word(const char *w, size_t n)
{
    static const char *const words[] = {
        "a",    "about", "after", "all",   "also",   "am",   "an",   "and",   "any",  "are",
        "as",   "at",    "be",    "been",  "but",    "by",   "can",  "could", "did",  "do",
        "does", "for",   "from",  "had",   "has",    "have", "he",   "her",   "his",  "how",
        "i",    "if",    "in",    "into",  "is",     "it",   "its",  "me",    "my",   "of",
        "on",   "or",    "our",   "she",   "should", "so",   "than", "that",  "the",  "their",
        "them", "then",  "there", "these", "they",   "this", "to",   "us",    "was",  "we",
        "were", "what",  "when",  "where", "which",  "who",  "why",  "will",  "with", "would",
        "you",  "your",  NULL};
    for (size_t i = 0; words[i]; i++)
        if (same_term_ci(words[i], strlen(words[i]), w, n))
            return 1;
    return 0;
}

size_t fg_search_fts_query(const char *text, size_t len, char *out, size_t outlen)
{
    struct {
        const char *p;
        size_t n;
    } terms[FG_SEARCH_FTS_MAX_TERMS];
    size_t nt = 0;
    const unsigned char *s = (const unsigned char *)text;
    size_t i = 0;
    if (!out || outlen == 0)
        return 0;
    out[0] = '\0';
    if (outlen < FG_SEARCH_FTS_QUERY_MAX || !text)
        return 0;
    while (i < len && nt < FG_SEARCH_FTS_MAX_TERMS) {
        long cp;
        size_t cl = utf8_next(s + i, len - i, &cp);
        if (!word_char(cp)) {
            i += cl;
            continue;
        }
        size_t start = i, end = i;
        while (i < len) {
            cl = utf8_next(s + i, len - i, &cp);
            if (!word_char(cp))
                break;
            i += cl;
            if (i - start <= FG_SEARCH_FTS_TERM_MAX)
                end = i; /* the term is cut at the last whole character that fits */
        }
        int dup = 0;
        for (size_t t = 0; t < nt && !dup; t++)
            dup = same_term_ci(terms[t].p, terms[t].n, text + start, end - start);
        if (!dup && end > start) {
            terms[nt].p = text + start;
            terms[nt].n = end - start;
            nt++;
        }
    }
    size_t content = 0;
    for (size_t t = 0; t < nt; t++)
        content += !stop_word(terms[t].p, terms[t].n);
    if (content && content < nt) {
        size_t k = 0;
        for (size_t t = 0; t < nt; t++)
            if (!stop_word(terms[t].p, terms[t].n))
                terms[k++] = terms[t];
        nt = k;
    }
    size_t o = 0;
    for (size_t t = 0; t < nt; t++) {
        /* Bounded by FG_SEARCH_FTS_QUERY_MAX: 4 (" OR ") + 2 quotes + ≤ TERM_MAX bytes each. */
        if (t) {
            memcpy(out + o, " OR ", 4);
            o += 4;
        }
        out[o++] = '"';
        memcpy(out + o, terms[t].p, terms[t].n); /* no '"' inside: it is a separator */
        o += terms[t].n;
        out[o++] = '"';
    }
    out[o] = '\0';
    return nt;
}

double fg_search_rrf(int rank_a, int rank_b, int k)
{
    double s = 0;
    if (rank_a > 0)
        s += 1.0 / (double)(k + rank_a);
    if (rank_b > 0)
        s += 1.0 / (double)(k + rank_b);
    return s / (2.0 / (double)(k + 1));
}

double fg_search_hop_boost(int hops, int max_hops)
{
    if (hops < 0 || hops > max_hops)
        return 1.0;
    return 1.0 + FG_SEARCH_HOP_BOOST * (double)(max_hops - hops + 1);
}

/* ---- configuration -------------------------------------------------------------------------- */

void fg_search_index_path(const struct fg_config *cfg, char *out, size_t outlen)
{
    out[0] = '\0';
    if (cfg->index_path && cfg->index_path[0]) {
        snprintf(out, outlen, "%s", cfg->index_path);
        return;
    }
    const char *url = cfg->database_url ? cfg->database_url : "";
    if (strncmp(url, "sqlite://", 9) != 0)
        return;
    /* Same rules as store_open: sqlite:///abs/path, sqlite:///./rel/path. */
    const char *path = url + 9;
    if (strncmp(path, "/./", 3) == 0 || strncmp(path, "/../", 4) == 0)
        path++;
    while (path[0] == '/' && path[1] == '/')
        path++;
    const char *slash = strrchr(path, '/');
    if (!slash)
        snprintf(out, outlen, "%s", FG_SEARCH_INDEX_FILE);
    else
        snprintf(out, outlen, "%.*s/%s", (int)(slash - path), path, FG_SEARCH_INDEX_FILE);
}

void fg_search_index_options(const struct fg_config *cfg, struct fg_index_options *o, char *pathbuf,
                             size_t pathlen)
{
    memset(o, 0, sizeof *o);
    fg_search_index_path(cfg, pathbuf, pathlen);
    o->path = pathbuf[0] ? pathbuf : NULL;
    o->M = (unsigned)cfg->hnsw_m;
    o->ef_construction = (unsigned)cfg->hnsw_ef_construction;
    o->ef_search = (unsigned)cfg->hnsw_ef_search;
    o->quantize = cfg->index_quantize ? 1 : 0;
}

embedder_t *fg_search_embedder_new(const struct fg_config *cfg, char *err, size_t errlen)
{
    struct embed_config ec = {
        .provider = cfg->embedding_provider,
        .base_url = cfg->embedding_base_url,
        .api_key = cfg->openai_api_key,
        .model = cfg->embedding_model,
        .dimensions = (unsigned)cfg->embedding_dimensions,
        .timeout_ms = (long)cfg->embedding_timeout_ms,
        .azure_api_version = cfg->azure_api_version,
        .local_model = cfg->embedding_local_model,
        .model_path = cfg->embedding_model_path,
    };
    enum fg_err e = FG_OK;
    char eb[300] = "";
    embedder_t *emb = embed_new(&ec, &e, eb, sizeof eb);
    if (!emb)
        snprintf(err, errlen, "EMBEDDING_*: %s", eb[0] ? eb : fg_err_name(e));
    return emb;
}

/* ---- lifecycle --------------------------------------------------------------------------------
 */

int fg_search_start(struct fg_app *app, char *err, size_t errlen)
{
    struct fg_search *s = fg_xcalloc(1, sizeof *s);
    if (!(s->emb = fg_search_embedder_new(app->cfg, err, errlen))) {
        free(s);
        return -1;
    }
    if (strcmp(embed_provider_name(s->emb), "local") != 0) {
        /* with Redis the replicas share one cache; otherwise a bounded in-process LRU */
        struct embed_cache_ops ops;
        if (app->shared && strcmp(app->shared->ops->name, "redis") == 0) {
            ops = fg_embed_cache_shared_ops(app->shared);
        } else {
            s->cache = embed_mem_cache_new(FG_SEARCH_EMBED_CACHE_ENTRIES);
            ops = embed_mem_cache_ops(s->cache);
        }
        embed_set_cache(s->emb, &ops);
    }
    s->default_min_score = app->cfg->search_min_score >= 0 ? app->cfg->search_min_score
                                                           : embed_default_min_score(s->emb);
    app->search = s;
    if (!app->store->search || !app->store->capsules) {
        fg_log(FG_LOG_WARN, "search_index_disabled",
               FG_LF_STR("msg", "this store has no search support: semantic and hybrid search "
                                "answer 503"),
               FG_LF_STR("store", app->store->ops->name), FG_LF_END);
        return 0;
    }
    struct fg_index_options o;
    char path[4096];
    fg_search_index_options(app->cfg, &o, path, sizeof path);
    if (!(s->ix = fg_index_new(app->store, s->emb, &o, err, errlen)))
        return -1;
    if (fg_index_start(s->ix) != FG_OK) {
        snprintf(err, errlen, "internal: cannot start the index thread");
        return -1;
    }
    fg_log(FG_LOG_INFO, "search_started", FG_LF_STR("provider", embed_provider_name(s->emb)),
           FG_LF_STR("model", embed_model_id(s->emb)), FG_LF_INT("dims", embed_dimensions(s->emb)),
           FG_LF_DBL("default_min_score", s->default_min_score), FG_LF_STR("index_path", path),
           FG_LF_END);
    return 0;
}

void fg_search_stop(struct fg_app *app)
{
    struct fg_search *s = app->search;
    if (!s)
        return;
    fg_index_free(s->ix);
    embed_free(s->emb);
    if (s->cache)
        embed_mem_cache_free(s->cache);
    free(s);
    app->search = NULL;
}

enum fg_err fg_search_sync(struct fg_app *app)
{
    struct fg_search *s = app->search;
    if (!s || !s->ix)
        return FG_EUNAVAIL;
    return fg_index_sync(s->ix);
}

double fg_search_default_min_score(const struct fg_app *app)
{
    const struct fg_search *s = app->search;
    return s ? s->default_min_score : EMBED_NEURAL_DEFAULT_MIN_SCORE;
}

int fg_search_ready_checks(struct fg_app *app, json_t *checks)
{
    struct fg_search *s = app->search;
    if (!s) {
        json_object_set_new(checks, "index", json_string("starting"));
        return 0;
    }
    if (!s->ix) {
        json_object_set_new(checks, "index", json_string("disabled"));
        return 1;
    }
    struct fg_index_status st;
    fg_index_get_status(s->ix, &st);
    static const char *const names[] = {"loading", "ok", "reindex_required", "failed"};
    json_object_set_new(checks, "index", json_string(names[st.state]));
    json_object_set_new(checks, "index_vectors", json_integer((json_int_t)st.vectors));
    if (st.head_seq >= 0)
        json_object_set_new(
            checks, "index_lag",
            json_integer(
                (json_int_t)(st.head_seq > st.applied_seq ? st.head_seq - st.applied_seq : 0)));
    if (st.pending)
        json_object_set_new(checks, "index_pending", json_integer((json_int_t)st.pending));
    if (st.state != FG_INDEX_READY)
        json_object_set_new(checks, "index_reason", json_string(st.reason));
    return st.state == FG_INDEX_READY;
}

/* ---- running a search ----------------------------------------------------------------------- */

/* A candidate before the store re-check. */
struct cand {
    char id[37];
    double sem;   /* cosine (sem_rank > 0, or computed later) */
    int sem_rank; /* 0 = absent */
    int kw_rank;  /* 0 = absent */
    double bm25;
    int hops;
    double score;
};

struct cands {
    struct cand *v;
    size_t n, cap;
};

static struct cand *cands_add(struct cands *c, const char *id)
{
    if (c->n == c->cap) {
        c->cap = c->cap ? c->cap * 2 : 64;
        c->v = fg_xrealloc(c->v, c->cap * sizeof *c->v);
    }
    struct cand *x = &c->v[c->n++];
    memset(x, 0, sizeof *x);
    snprintf(x->id, sizeof x->id, "%s", id);
    x->hops = -1;
    return x;
}

static struct cand *cands_find(struct cands *c, const char *id)
{
    for (size_t i = 0; i < c->n; i++)
        if (strcmp(c->v[i].id, id) == 0)
            return &c->v[i];
    return NULL;
}

static int by_score_then_id(const void *a, const void *b)
{
    const struct cand *x = a, *y = b;
    if (x->score != y->score)
        return x->score < y->score ? 1 : -1;
    if (x->sem != y->sem)
        return x->sem < y->sem ? 1 : -1;
    return strcmp(x->id, y->id);
}

static int hit_cmp(const void *a, const void *b)
{
    const struct fg_index_hit *x = a, *y = b;
    if (x->score != y->score)
        return x->score < y->score ? 1 : -1;
    return strcmp(x->id, y->id);
}

static void count_embedding(struct fg_search *s, int failed)
{
    const char *pv[] = {embed_provider_name(s->emb)};
    struct fg_metric *m = failed ? fgm.embedding_errors : fgm.embeddings;
    if (m)
        fg_metric_add(m, pv, 1);
}

/* Embeds the query (L2-normalised). */
static enum fg_err embed_query(struct fg_search *s, const struct fg_search_request *rq, float *qv,
                               struct fg_search_why *why)
{
    char eb[300] = "";
    const char *t = rq->query;
    size_t len = rq->query_len;
    enum fg_err e = embed_texts(s->emb, &t, &len, 1, qv, eb, sizeof eb);
    count_embedding(s, e != FG_OK);
    if (e == FG_EINVAL) {
        why->field = "query";
        snprintf(why->message, sizeof why->message, "query cannot be embedded: %.250s", eb);
    } else if (e != FG_OK) {
        snprintf(why->message, sizeof why->message, "the embedding provider is unavailable");
        fg_log(FG_LOG_WARN, "search_embed_failed", FG_LF_STR("error", eb),
               FG_LF_STR("provider", embed_provider_name(s->emb)), FG_LF_END);
        e = FG_EUNAVAIL;
    }
    return e;
}

/* Semantic candidates with cosine >= min_score, best first (ties by id), ranks 1..n. */
static void semantic_cands(struct fg_search *s, const float *qv, size_t k, int max_trust,
                           unsigned type, double min_score, struct cands *out, size_t *raw)
{
    struct fg_index_hit *hits = fg_xmalloc(k * sizeof *hits);
    size_t n = fg_index_search(s->ix, qv, k, max_trust, type, hits);
    *raw = n;
    qsort(hits, n, sizeof *hits, hit_cmp);
    for (size_t i = 0; i < n; i++) {
        if ((double)hits[i].score < min_score)
            break;
        struct cand *c = cands_add(out, hits[i].id);
        c->sem = hits[i].score;
        c->sem_rank = (int)out->n;
    }
    free(hits);
}

static int kw_cb(const struct store_keyword_hit *h, void *ctx)
{
    struct cand *c = cands_add(ctx, h->capsule_id);
    c->bm25 = h->bm25;
    return 0;
}

/* Keyword candidates in BM25 order; kw_rank is the position in that order. With merge, hits
 * already in `out` (semantic candidates) are updated instead of added. */
static enum fg_err keyword_cands(struct fg_app *app, struct store_conn *c, const char *match,
                                 int max_trust, const char *type, size_t limit, struct cands *out,
                                 int merge)
{
    struct cands tmp = {0};
    struct store_keyword_query q = {match, max_trust, type, (long long)limit};
    enum fg_err e = app->store->search->keyword(c, &q, kw_cb, &tmp);
    for (size_t i = 0; e == FG_OK && i < tmp.n; i++) {
        struct cand *x = merge ? cands_find(out, tmp.v[i].id) : NULL;
        if (!x)
            x = cands_add(out, tmp.v[i].id);
        x->bm25 = tmp.v[i].bm25;
        x->kw_rank = (int)i + 1;
    }
    free(tmp.v);
    return e;
}

/* Keyword candidates from the in-memory keyword index (filters applied inside it), BM25 order;
 * like keyword_cands otherwise. FG_EUNAVAIL when the index is not ready. */
static enum fg_err kw_index_cands(struct fg_search *s, const struct fg_kw_query *q, int max_trust,
                                  const char *type, size_t limit, struct cands *out, int merge)
{
    struct fg_kw_hit *h = fg_xmalloc(limit * sizeof *h);
    size_t n = 0;
    enum fg_err e = fg_index_keyword(s->ix, q, limit, max_trust, fg_index_type_code(type), h, &n);
    for (size_t i = 0; e == FG_OK && i < n; i++) {
        struct cand *x = merge ? cands_find(out, h[i].id) : NULL;
        if (!x)
            x = cands_add(out, h[i].id);
        x->bm25 = h[i].score;
        x->kw_rank = (int)i + 1;
    }
    free(h);
    return e;
}

/* Hop distances from the context capsule: sorted (id, d) pairs. */
struct hop {
    char id[37];
    int d;
    double s; /* strength of the path (product of edge-type weights, core/graph.h) */
};

struct hops {
    struct hop *v;
    size_t n, cap;
};

static int hop_cb(const char *id, int d, void *ctx)
{
    struct hops *h = ctx;
    if (h->n == h->cap) {
        h->cap = h->cap ? h->cap * 2 : 64;
        h->v = fg_xrealloc(h->v, h->cap * sizeof *h->v);
    }
    snprintf(h->v[h->n].id, sizeof h->v[h->n].id, "%s", id);
    h->v[h->n].d = d;
    h->n++;
    return 0;
}

static int hop_cb_weighted(const char *id, int d, double strength, void *ctx)
{
    struct hops *h = ctx;
    hop_cb(id, d, ctx);
    h->v[h->n - 1].s = strength;
    return 0;
}

static int hop_cmp(const void *a, const void *b)
{
    return strcmp(((const struct hop *)a)->id, ((const struct hop *)b)->id);
}

static int hops_of(const struct hops *h, const char *id, double *strength)
{
    struct hop key = {.d = 0};
    snprintf(key.id, sizeof key.id, "%s", id);
    const struct hop *f = h->n ? bsearch(&key, h->v, h->n, sizeof *h->v, hop_cmp) : NULL;
    *strength = f ? f->s : 0;
    return f ? f->d : -1;
}

static double cosine_blob(const float *qv, unsigned dims, const void *blob, size_t len)
{
    if (!blob || len != (size_t)dims * sizeof(float))
        return NAN;
    double dot = 0, nn = 0;
    const unsigned char *p = blob;
    for (unsigned i = 0; i < dims; i++) {
        float f;
        memcpy(&f, p + (size_t)i * 4, 4);
        dot += (double)f * qv[i];
        nn += (double)f * f;
    }
    return nn > 0 ? dot / sqrt(nn) : NAN;
}

/* Reads candidates in order, keeps those the caller may see (and of the asked type) until
 * `limit` results are collected. With qv, results get an exact semantic_score from their stored
 * embedding when they have none yet. Returns the number of candidates consumed. */
static enum fg_err collect(struct fg_app *app, struct store_conn *c, int max_trust,
                           const char *type, const struct cands *cs, size_t from, size_t limit,
                           const float *qv, unsigned dims, struct fg_search_response *out,
                           size_t *consumed)
{
    enum fg_err e = FG_OK;
    size_t i = from;
    struct store_capsule win[FG_SEARCH_FETCH_WINDOW];
    const char *ids[FG_SEARCH_FETCH_WINDOW];
    unsigned char found[FG_SEARCH_FETCH_WINDOW];
    while (i < cs->n && out->n < limit) {
        /* the next window of candidates in one store call: what is still missing plus a few
         * for those the filters drop */
        size_t want = limit - out->n + FG_SEARCH_FETCH_SLACK;
        size_t w = cs->n - i;
        if (w > want)
            w = want;
        if (w > FG_SEARCH_FETCH_WINDOW)
            w = FG_SEARCH_FETCH_WINDOW;
        unsigned flags = 0;
        for (size_t k = 0; k < w; k++) {
            ids[k] = cs->v[i + k].id;
            if (qv && !cs->v[i + k].sem_rank)
                flags = STORE_CAPSULE_WITH_EMBEDDING;
        }
        memset(win, 0, sizeof win[0] * w);
        e = app->store->capsules->get_many(c, ids, w, flags, win, found);
        if (e != FG_OK)
            break;
        size_t k = 0;
        for (; k < w && out->n < limit; k++) {
            const struct cand *x = &cs->v[i + k];
            if (!found[k])
                continue;
            struct store_capsule *cap = &win[k];
            found[k] = 0; /* taken (moved or cleared) */
            if (cap->is_deleted || cap->trust_level > max_trust ||
                (!out->see_quarantined_owners && cap->owner_trust < FG_TRUST_SANDBOX) ||
                (type && strcmp(cap->type, type) != 0)) {
                store_capsule_clear(cap);
                continue;
            }
            struct fg_search_result *r = &out->v[out->n];
            memset(r, 0, sizeof *r);
            r->cap = *cap;
            r->score = x->score;
            r->semantic_rank = x->sem_rank;
            r->keyword_rank = x->kw_rank;
            r->bm25 = x->bm25;
            r->hops = x->hops;
            if (x->sem_rank) {
                r->semantic_score = x->sem;
                r->has_semantic = 1;
            } else if (qv) {
                double cs1 = cosine_blob(qv, dims, r->cap.embedding, r->cap.embedding_len);
                if (!isnan(cs1)) {
                    r->semantic_score = cs1;
                    r->has_semantic = 1;
                }
            }
            /* the response carries at most FG_RESPONSE_CONTENT_BUDGET bytes of content */
            size_t keep = fg_content_budget_take(&out->budget, r->cap.content, r->cap.content_len);
            if (keep < r->cap.content_len) {
                r->content_bytes = r->cap.content_len;
                r->cap.content = fg_xrealloc(r->cap.content, keep + 1);
                r->cap.content[keep] = '\0';
                r->cap.content_len = keep;
            }
            free(r->cap.embedding); /* never returned by search */
            r->cap.embedding = NULL;
            r->cap.embedding_len = 0;
            out->n++;
        }
        for (size_t j = k; j < w; j++) /* fetched but not needed */
            if (found[j])
                store_capsule_clear(&win[j]);
        i += k;
    }
    *consumed = i;
    return e;
}

static void clear_results(struct fg_search_response *out)
{
    for (size_t i = 0; i < out->n; i++)
        store_capsule_clear(&out->v[i].cap);
    out->n = 0;
}

static enum fg_err run_semantic(struct fg_app *app, struct fg_search *s, struct store_conn *c,
                                const struct fg_search_request *rq, int max_trust, const float *qv,
                                double min_score, struct fg_search_response *out)
{
    unsigned type = fg_index_type_code(rq->type);
    size_t k = (size_t)rq->limit + FG_SEARCH_OVERFETCH;
    enum fg_err e = FG_OK;
    for (;;) {
        struct cands cs = {0};
        size_t raw = 0, used = 0;
        semantic_cands(s, qv, k, max_trust, type, min_score, &cs, &raw);
        for (size_t i = 0; i < cs.n; i++)
            cs.v[i].score = cs.v[i].sem;
        clear_results(out);
        e = collect(app, c, max_trust, rq->type, &cs, 0, (size_t)rq->limit, NULL, 0, out, &used);
        free(cs.v);
        /* Done: enough results, the index has no more candidates, or the rest score too low. */
        if (e != FG_OK || out->n >= (size_t)rq->limit || raw < k || cs.n < raw ||
            k >= FG_SEARCH_SEMANTIC_K_MAX)
            break;
        k = k * 4 > FG_SEARCH_SEMANTIC_K_MAX ? FG_SEARCH_SEMANTIC_K_MAX : k * 4;
    }
    return e;
}

static enum fg_err run_keyword(struct fg_app *app, struct fg_search *s, struct store_conn *c,
                               const struct fg_search_request *rq, int max_trust, const char *match,
                               const struct fg_kw_query *kq, double min_score,
                               struct fg_search_response *out)
{
    struct cands cs = {0};
    size_t used = 0, k = (size_t)rq->limit + FG_SEARCH_OVERFETCH;
    /* The in-memory index when it is ready; the store's full-text index while it loads. */
    enum fg_err e = kq ? kw_index_cands(s, kq, max_trust, rq->type, k, &cs, 0) : FG_EUNAVAIL;
    if (e == FG_EUNAVAIL)
        e = keyword_cands(app, c, match, max_trust, rq->type, k, &cs, 0);
    if (e == FG_OK) {
        e = collect(app, c, max_trust, rq->type, &cs, 0, (size_t)rq->limit, NULL, 0, out, &used);
        /* Scores relative to the best visible result; ranks are positions among the results. */
        double top = out->n ? out->v[0].bm25 : 0;
        size_t kept = 0;
        for (size_t i = 0; i < out->n; i++) {
            struct fg_search_result *r = &out->v[i];
            r->score = top > 0 ? r->bm25 / top : 1.0;
            r->keyword_rank = (int)kept + 1;
            if (min_score >= 0 && r->score < min_score) {
                store_capsule_clear(&r->cap);
                continue;
            }
            out->v[kept++] = *r;
        }
        out->n = kept;
    }
    free(cs.v);
    return e;
}

static enum fg_err run_hybrid(struct fg_app *app, struct fg_search *s, struct store_conn *c,
                              const struct fg_search_request *rq, int max_trust, const float *qv,
                              const char *match, const struct fg_kw_query *kq, double min_score,
                              struct fg_search_response *out)
{
    size_t w = (size_t)rq->limit * 3;
    w = w < FG_SEARCH_HYBRID_WINDOW_MIN   ? FG_SEARCH_HYBRID_WINDOW_MIN
        : w > FG_SEARCH_HYBRID_WINDOW_MAX ? FG_SEARCH_HYBRID_WINDOW_MAX
                                          : w;
    struct cands cs = {0};
    struct hops hp = {0};
    size_t raw = 0, used = 0;
    enum fg_err e = FG_OK;
    semantic_cands(s, qv, w, max_trust, fg_index_type_code(rq->type), min_score, &cs, &raw);
    e = kw_index_cands(s, kq, max_trust, rq->type, w, &cs, 1);
    if (e == FG_EUNAVAIL) /* the index left the ready state since the sync */
        e = keyword_cands(app, c, match, max_trust, rq->type, w, &cs, 1);
    if (e != FG_OK)
        goto out;
    if (rq->context_id) {
        int truncated = 0;
        /* every edge type, weighted (docs/knowledge-graph.md), through readable capsules */
        e = fg_graph_hops(app, c, rq->context_id, rq->max_hops, max_trust, FG_SEARCH_HOPS_MAX_NODES,
                          hop_cb_weighted, &hp, &truncated);
        if (e != FG_OK)
            goto out;
        if (hp.n > 1)
            qsort(hp.v, hp.n, sizeof *hp.v, hop_cmp);
    }
    for (size_t i = 0; i < cs.n; i++) {
        struct cand *x = &cs.v[i];
        double strength = 0;
        x->hops = rq->context_id ? hops_of(&hp, x->id, &strength) : -1;
        x->score = fg_search_rrf(x->sem_rank, x->kw_rank, FG_SEARCH_RRF_K) *
                   (1.0 + (fg_search_hop_boost(x->hops, rq->max_hops) - 1.0) * strength);
        if (!x->sem_rank)
            x->sem = -2; /* ties among keyword-only candidates fall back to id order */
    }
    if (cs.n > 1)
        qsort(cs.v, cs.n, sizeof *cs.v, by_score_then_id);
    e = collect(app, c, max_trust, rq->type, &cs, 0, (size_t)rq->limit, qv,
                fg_index_dimensions(s->ix), out, &used);
out:
    free(cs.v);
    free(hp.v);
    return e;
}

void fg_search_response_clear(struct fg_search_response *r)
{
    if (!r)
        return;
    clear_results(r);
    free(r->v);
    r->v = NULL;
}

/* Knowledge graph (docs/knowledge-graph.md): a result superseded by a live capsule the caller
 * can read scores × FG_GRAPH_SUPERSEDED_FACTOR, and the results are re-ordered (stable). */
static enum fg_err downrank_superseded(struct fg_app *app, struct store_conn *c, int max_trust,
                                       struct fg_search_response *out)
{
    if (!c || out->n == 0)
        return FG_OK;
    const char **ids = fg_xcalloc(out->n, sizeof *ids);
    char(*sup)[FG_GRAPH_ID_LEN] = fg_xcalloc(out->n, sizeof *sup);
    for (size_t i = 0; i < out->n; i++)
        ids[i] = out->v[i].cap.id;
    enum fg_err e = fg_graph_superseded(app, c, ids, out->n, max_trust, sup);
    for (size_t i = 0; e == FG_OK && i < out->n; i++) {
        memcpy(out->v[i].superseded_by, sup[i], sizeof sup[i]);
        if (sup[i][0])
            out->v[i].score *= FG_GRAPH_SUPERSEDED_FACTOR;
    }
    for (size_t i = 1; e == FG_OK && i < out->n; i++) /* insertion sort: n <= 100, stable */
        for (size_t j = i; j > 0 && out->v[j - 1].score < out->v[j].score; j--) {
            struct fg_search_result t = out->v[j];
            out->v[j] = out->v[j - 1];
            out->v[j - 1] = t;
        }
    free(ids);
    free(sup);
    return e;
}

enum fg_err fg_search_run(struct fg_app *app, const struct fg_ctx *a,
                          const struct fg_search_request *rq, struct fg_search_response *out,
                          struct fg_search_why *why)
{
    struct fg_search *s = app->search;
    double t0 = fg_mono_s();
    enum fg_err e = FG_OK;
    struct store_conn *c = NULL;
    float *qv = NULL;
    struct fg_kw_query *kq = NULL;
    int use_kw = 0;
    char match[FG_SEARCH_FTS_QUERY_MAX];
    int max_trust = fg_ctx_read_trust(a);
    memset(out, 0, sizeof *out);
    memset(why, 0, sizeof *why);
    out->mode = rq->mode;
    out->see_quarantined_owners = a->admin;
    fg_content_budget_init(&out->budget);
    const char *mode = fg_search_modes[rq->mode];

    if (fg_search_fts_query(rq->query, rq->query_len, match, sizeof match) == 0) {
        why->field = "query";
        snprintf(why->message, sizeof why->message,
                 "query must contain at least one word (letters or digits)");
        e = FG_EINVAL;
        goto done;
    }
    if (rq->mode != FG_SEARCH_SEMANTIC) {
        /* Keyword syntax (phrases, prefix, +/-): a malformed query says where. */
        struct fg_kw_parse_error pe;
        kq = fg_xmalloc(sizeof *kq);
        if (fg_kw_parse(rq->query, rq->query_len, kq, &pe) != FG_OK) {
            why->field = "query";
            why->position = pe.position;
            snprintf(why->message, sizeof why->message, "query: %s (at character %zu)", pe.message,
                     pe.position);
            e = FG_EINVAL;
            goto done;
        }
    }
    if (!s || !app->store->search) {
        snprintf(why->message, sizeof why->message, "search is not available with this store");
        e = FG_EUNAVAIL;
        goto done;
    }
    if (rq->mode == FG_SEARCH_KEYWORD) {
        out->min_score = rq->min_score >= 0 ? rq->min_score : -1;
    } else {
        out->min_score = rq->min_score >= 0 ? rq->min_score : s->default_min_score;
        if (!s->ix) {
            snprintf(why->message, sizeof why->message,
                     "semantic search is not available with this store");
            e = FG_EUNAVAIL;
            goto done;
        }
    }
    out->v = fg_xcalloc((size_t)rq->limit, sizeof *out->v);
    if (!(c = store_acquire(app->store, &e)))
        goto done;
    if (rq->context_id) {
        struct store_capsule ctx;
        memset(&ctx, 0, sizeof ctx);
        e = app->store->capsules->get(c, rq->context_id, 0, &ctx);
        int visible = e == FG_OK && !ctx.is_deleted && ctx.trust_level <= max_trust &&
                      !fg_capsule_owner_hidden(a, &ctx);
        store_capsule_clear(&ctx);
        if (e == FG_ENOTFOUND || (e == FG_OK && !visible)) {
            why->what = "context capsule";
            e = FG_ENOTFOUND;
            goto done;
        }
        if (e != FG_OK)
            goto done;
    }
    if (rq->mode == FG_SEARCH_KEYWORD && s->ix) {
        /* Read-your-writes for the in-memory keyword index; while it is not ready (loading,
         * reindex required) the store's full-text index answers instead. */
        store_release(app->store, c);
        c = NULL;
        e = fg_index_sync(s->ix);
        use_kw = e == FG_OK;
        if (e == FG_EUNAVAIL)
            e = FG_OK;
        if (e != FG_OK)
            goto done;
        if (!(c = store_acquire(app->store, &e)))
            goto done;
    }
    if (rq->mode != FG_SEARCH_KEYWORD) {
        /* Read-your-writes: apply what this (or any) process committed before the search. */
        store_release(app->store, c);
        c = NULL;
        e = fg_index_sync(s->ix);
        if (e == FG_EUNAVAIL) {
            struct fg_index_status st;
            fg_index_get_status(s->ix, &st);
            snprintf(why->message, sizeof why->message, "the search index is not ready: %.250s",
                     st.reason[0] ? st.reason : "loading");
            goto done;
        }
        if (e != FG_OK)
            goto done;
        qv = fg_xmalloc((size_t)fg_index_dimensions(s->ix) * sizeof *qv);
        if ((e = embed_query(s, rq, qv, why)) != FG_OK)
            goto done;
        if (!(c = store_acquire(app->store, &e)))
            goto done;
    }
    switch (rq->mode) {
    case FG_SEARCH_SEMANTIC:
        e = run_semantic(app, s, c, rq, max_trust, qv, out->min_score, out);
        break;
    case FG_SEARCH_KEYWORD:
        e = run_keyword(app, s, c, rq, max_trust, match, use_kw ? kq : NULL, out->min_score, out);
        break;
    case FG_SEARCH_HYBRID:
        e = run_hybrid(app, s, c, rq, max_trust, qv, match, kq, out->min_score, out);
        break;
    }
    if (e == FG_OK)
        e = downrank_superseded(app, c, max_trust, out);
done:
    store_release(app->store, c);
    free(qv);
    free(kq);
    if (e != FG_OK)
        fg_search_response_clear(out);
    if (e == FG_EINVAL && !why->field) {
        why->field = "query";
        snprintf(why->message, sizeof why->message, "query is not searchable");
    }
    out->took_ms = (fg_mono_s() - t0) * 1000.0;
    const char *lv[] = {mode};
    if (fgm.search_requests) {
        fg_metric_add(fgm.search_requests, lv, 1);
        fg_metric_observe(fgm.search_duration, lv, out->took_ms / 1000.0);
    }
    return e;
}
