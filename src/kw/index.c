/*
 * Keyword index: dictionary, postings, documents, BM25 top-k with MaxScore, persistence.
 * Contract in kw.h, design in docs/search.md ("Keyword search").
 *
 * Documents are numbered densely in insertion order; a capsule update takes a new number and
 * tombstones the old one, so every postings list stays sorted by document number with appends
 * only. Each live document keeps its forward list (term ids in token order, content then
 * metadata): it gives phrase matching, df bookkeeping on delete, compaction and the checkpoint.
 *
 * Top-k (MaxScore, Turtle & Flood 1995): the query's scored terms are sorted by their score
 * upper bound (idf × the BM25 of the term's largest weighted tf at the shortest document that
 * holds it); terms whose bounds together cannot beat the current k-th score are non-essential:
 * they are never iterated, only probed (galloping search) for documents found through the
 * essential ones, and only while the document can still make the top k. Required clauses
 * instead drive the iteration from their rarest list. The result is exact: the final scores
 * are recomputed in one fixed term order, so the index and fg_kw_search_exact agree bit for bit.
 */
#include "kw/kw.h"

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sodium.h>

#include "util/mem.h"

#define KW_MAGIC   "FGKWIX1\n"
#define KW_VERSION 2u
#define NONE       UINT32_MAX

struct posting {
    uint32_t doc;
    uint16_t tfc, tfm; /* term frequency in content, metadata (saturating) */
};

struct term {
    char *s;
    uint32_t len;
    struct posting *p;
    uint32_t n, cap;
    uint32_t df;     /* live documents containing it */
    float max_wtf;   /* largest weighted tf in its postings (live or not) */
    uint32_t min_dl; /* shortest document in its postings */
};

struct doc {
    char id[37];
    uint8_t type, trust, live;
    uint32_t nc, nm; /* tokens in content, metadata */
    uint32_t *fwd;   /* nc + nm term ids; NULL once dead */
};

struct fg_kw {
    pthread_rwlock_t lock; /* first: fg_kw_swap exchanges everything after it */
    struct term *terms;
    size_t nterms, cap_terms;
    uint32_t *tmap; /* open addressing: term id + 1 */
    size_t tmap_cap;
    struct doc *docs;
    size_t ndocs, cap_docs;
    uint32_t *dmap; /* open addressing over live docs: doc + 1 */
    size_t dmap_cap, dmap_n;
    size_t live, dead;
    uint64_t total_len; /* tokens of the live documents */
    size_t npostings;
};

static uint64_t hash_bytes(const char *s, size_t n)
{
    uint64_t h = 1469598103934665603ull;
    for (size_t i = 0; i < n; i++) {
        h ^= (unsigned char)s[i];
        h *= 1099511628211ull;
    }
    return h ^ (h >> 29);
}

/* ---- dictionary ------------------------------------------------------------------------- */

static uint32_t term_find(const struct fg_kw *kw, const char *s, size_t n)
{
    if (!kw->tmap_cap)
        return NONE;
    size_t m = kw->tmap_cap - 1;
    for (size_t i = hash_bytes(s, n) & m; kw->tmap[i]; i = (i + 1) & m) {
        const struct term *t = &kw->terms[kw->tmap[i] - 1];
        if (t->len == n && memcmp(t->s, s, n) == 0)
            return kw->tmap[i] - 1;
    }
    return NONE;
}

static void tmap_put(uint32_t *map, size_t cap, const struct term *terms, uint32_t id)
{
    size_t m = cap - 1;
    size_t i = hash_bytes(terms[id].s, terms[id].len) & m;
    while (map[i])
        i = (i + 1) & m;
    map[i] = id + 1;
}

static uint32_t term_intern(struct fg_kw *kw, const char *s, size_t n)
{
    uint32_t id = term_find(kw, s, n);
    if (id != NONE)
        return id;
    if ((kw->nterms + 1) * 2 > kw->tmap_cap) {
        size_t cap = kw->tmap_cap ? kw->tmap_cap * 2 : 4096;
        uint32_t *nm = fg_xcalloc(cap, sizeof *nm);
        for (size_t t = 0; t < kw->nterms; t++)
            tmap_put(nm, cap, kw->terms, (uint32_t)t);
        free(kw->tmap);
        kw->tmap = nm;
        kw->tmap_cap = cap;
    }
    if (kw->nterms == kw->cap_terms) {
        kw->cap_terms = kw->cap_terms ? kw->cap_terms * 2 : 4096;
        kw->terms = fg_xrealloc(kw->terms, kw->cap_terms * sizeof *kw->terms);
    }
    id = (uint32_t)kw->nterms++;
    struct term *t = &kw->terms[id];
    memset(t, 0, sizeof *t);
    t->s = fg_xstrndup(s, n);
    t->len = (uint32_t)n;
    t->min_dl = UINT32_MAX;
    tmap_put(kw->tmap, kw->tmap_cap, kw->terms, id);
    return id;
}

/* ---- documents ------------------------------------------------------------------------- */

static uint32_t doc_find(const struct fg_kw *kw, const char *id)
{
    if (!kw->dmap_cap)
        return NONE;
    size_t m = kw->dmap_cap - 1;
    for (size_t i = hash_bytes(id, strlen(id)) & m; kw->dmap[i]; i = (i + 1) & m)
        if (strcmp(kw->docs[kw->dmap[i] - 1].id, id) == 0)
            return kw->dmap[i] - 1;
    return NONE;
}

static void dmap_put_raw(uint32_t *map, size_t cap, const struct doc *docs, uint32_t d)
{
    size_t m = cap - 1;
    size_t i = hash_bytes(docs[d].id, strlen(docs[d].id)) & m;
    while (map[i])
        i = (i + 1) & m;
    map[i] = d + 1;
}

static void dmap_rehash(struct fg_kw *kw, size_t cap)
{
    uint32_t *nm = fg_xcalloc(cap, sizeof *nm);
    for (size_t i = 0; i < kw->dmap_cap; i++)
        if (kw->dmap[i])
            dmap_put_raw(nm, cap, kw->docs, kw->dmap[i] - 1);
    free(kw->dmap);
    kw->dmap = nm;
    kw->dmap_cap = cap;
}

static void dmap_put(struct fg_kw *kw, uint32_t d)
{
    if ((kw->dmap_n + 1) * 2 > kw->dmap_cap)
        dmap_rehash(kw, kw->dmap_cap ? kw->dmap_cap * 2 : 4096);
    dmap_put_raw(kw->dmap, kw->dmap_cap, kw->docs, d);
    kw->dmap_n++;
}

/* Linear probing deletion with backward shift. */
static void dmap_del(struct fg_kw *kw, uint32_t d)
{
    size_t m = kw->dmap_cap - 1;
    size_t i = hash_bytes(kw->docs[d].id, strlen(kw->docs[d].id)) & m;
    while (kw->dmap[i] && kw->dmap[i] != d + 1)
        i = (i + 1) & m;
    if (!kw->dmap[i])
        return;
    kw->dmap[i] = 0;
    kw->dmap_n--;
    for (size_t j = (i + 1) & m; kw->dmap[j]; j = (j + 1) & m) {
        const struct doc *x = &kw->docs[kw->dmap[j] - 1];
        size_t home = hash_bytes(x->id, strlen(x->id)) & m;
        int in_range = i <= j ? (home > i && home <= j) : (home > i || home <= j);
        if (!in_range) {
            kw->dmap[i] = kw->dmap[j];
            kw->dmap[j] = 0;
            i = j;
        }
    }
}

static int u64_cmp(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

static void sort_u64(uint64_t *v, size_t n)
{
    if (n > 32) {
        qsort(v, n, sizeof *v, u64_cmp);
        return;
    }
    for (size_t i = 1; i < n; i++) {
        uint64_t x = v[i];
        size_t j = i;
        while (j && v[j - 1] > x) {
            v[j] = v[j - 1];
            j--;
        }
        v[j] = x;
    }
}

static void posting_append(struct fg_kw *kw, uint32_t tid, uint32_t d, uint32_t tfc, uint32_t tfm,
                           uint32_t dl)
{
    struct term *t = &kw->terms[tid];
    if (t->n == t->cap) {
        t->cap = t->cap ? t->cap * 2 : 4;
        t->p = fg_xrealloc(t->p, t->cap * sizeof *t->p);
    }
    struct posting *p = &t->p[t->n++];
    p->doc = d;
    p->tfc = (uint16_t)(tfc > UINT16_MAX ? UINT16_MAX : tfc);
    p->tfm = (uint16_t)(tfm > UINT16_MAX ? UINT16_MAX : tfm);
    float wtf = (float)(p->tfc * FG_KW_W_CONTENT + p->tfm * FG_KW_W_META);
    if (wtf > t->max_wtf)
        t->max_wtf = wtf;
    if (dl < t->min_dl)
        t->min_dl = dl;
    t->df++;
    kw->npostings++;
}

/* Adds a live document with its forward list (term ids; ownership taken). Write lock held. */
static void doc_add(struct fg_kw *kw, const char *id, uint8_t type, uint8_t trust, uint32_t nc,
                    uint32_t nm, uint32_t *fwd)
{
    if (kw->ndocs == kw->cap_docs) {
        kw->cap_docs = kw->cap_docs ? kw->cap_docs * 2 : 4096;
        kw->docs = fg_xrealloc(kw->docs, kw->cap_docs * sizeof *kw->docs);
    }
    uint32_t d = (uint32_t)kw->ndocs++;
    struct doc *D = &kw->docs[d];
    memset(D, 0, sizeof *D);
    snprintf(D->id, sizeof D->id, "%s", id);
    D->type = type;
    D->trust = trust;
    D->live = 1;
    D->nc = nc;
    D->nm = nm;
    D->fwd = fwd;
    dmap_put(kw, d);
    kw->live++;
    uint32_t dl = nc + nm;
    kw->total_len += dl;
    size_t n = (size_t)dl;
    if (!n)
        return;
    uint64_t stackkeys[256];
    uint64_t *keys = n <= 256 ? stackkeys : fg_xmalloc(n * sizeof *keys);
    for (size_t i = 0; i < n; i++)
        keys[i] = (uint64_t)fwd[i] << 1 | (i >= nc);
    sort_u64(keys, n);
    for (size_t i = 0; i < n;) {
        uint32_t tid = (uint32_t)(keys[i] >> 1);
        uint32_t tfc = 0, tfm = 0;
        while (i < n && (uint32_t)(keys[i] >> 1) == tid) {
            if (keys[i] & 1)
                tfm++;
            else
                tfc++;
            i++;
        }
        posting_append(kw, tid, d, tfc, tfm, dl);
    }
    if (keys != stackkeys)
        free(keys);
}

/* Tombstones document d. Write lock held. */
static void doc_kill(struct fg_kw *kw, uint32_t d)
{
    struct doc *D = &kw->docs[d];
    if (!D->live)
        return;
    size_t n = (size_t)D->nc + D->nm;
    uint64_t stackkeys[256];
    uint64_t *v = n <= 256 ? stackkeys : fg_xmalloc(n * sizeof *v);
    for (size_t i = 0; i < n; i++)
        v[i] = D->fwd[i];
    sort_u64(v, n);
    for (size_t i = 0; i < n; i++)
        if (i == 0 || v[i] != v[i - 1])
            kw->terms[v[i]].df--;
    if (v != stackkeys)
        free(v);
    dmap_del(kw, d);
    free(D->fwd);
    D->fwd = NULL;
    D->live = 0;
    kw->live--;
    kw->dead++;
    kw->total_len -= n;
}

static void terms_free(struct term *t, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        free(t[i].s);
        free(t[i].p);
    }
    free(t);
}

static void reset_locked(struct fg_kw *kw)
{
    terms_free(kw->terms, kw->nterms);
    for (size_t d = 0; d < kw->ndocs; d++)
        free(kw->docs[d].fwd);
    free(kw->docs);
    free(kw->tmap);
    free(kw->dmap);
    kw->terms = NULL;
    kw->docs = NULL;
    kw->tmap = kw->dmap = NULL;
    kw->nterms = kw->cap_terms = kw->tmap_cap = 0;
    kw->ndocs = kw->cap_docs = kw->dmap_cap = kw->dmap_n = 0;
    kw->live = kw->dead = kw->npostings = 0;
    kw->total_len = 0;
}

/* Renumbers the live documents densely and filters every postings list in place (one
 * sequential pass per list; terms left without postings stay in the dictionary, the checkpoint
 * drops them). Write lock held. */
static void compact_locked(struct fg_kw *kw)
{
    uint32_t *remap = fg_xmalloc((kw->ndocs ? kw->ndocs : 1) * sizeof *remap);
    size_t nd = 0;
    for (size_t d = 0; d < kw->ndocs; d++) {
        if (kw->docs[d].live) {
            remap[d] = (uint32_t)nd;
            kw->docs[nd++] = kw->docs[d];
        } else {
            remap[d] = NONE;
            free(kw->docs[d].fwd);
        }
    }
    kw->ndocs = nd;
    kw->npostings = 0;
    for (size_t t = 0; t < kw->nterms; t++) {
        struct term *T = &kw->terms[t];
        uint32_t k = 0;
        T->max_wtf = 0;
        T->min_dl = UINT32_MAX;
        for (uint32_t i = 0; i < T->n; i++) {
            uint32_t nd2 = remap[T->p[i].doc];
            if (nd2 == NONE)
                continue;
            struct posting x = T->p[i];
            x.doc = nd2;
            T->p[k++] = x;
            float wtf = (float)(x.tfc * FG_KW_W_CONTENT + x.tfm * FG_KW_W_META);
            uint32_t dl = kw->docs[nd2].nc + kw->docs[nd2].nm;
            if (wtf > T->max_wtf)
                T->max_wtf = wtf;
            if (dl < T->min_dl)
                T->min_dl = dl;
        }
        T->n = k;
        kw->npostings += k;
    }
    free(remap);
    size_t cap = 4096;
    while (cap < kw->live * 2 + 2)
        cap *= 2;
    memset(kw->dmap, 0, kw->dmap_cap * sizeof *kw->dmap);
    kw->dmap_n = 0;
    if (cap != kw->dmap_cap) {
        free(kw->dmap);
        kw->dmap = fg_xcalloc(cap, sizeof *kw->dmap);
        kw->dmap_cap = cap;
    }
    for (size_t d = 0; d < kw->ndocs; d++) {
        dmap_put_raw(kw->dmap, kw->dmap_cap, kw->docs, (uint32_t)d);
        kw->dmap_n++;
    }
    kw->dead = 0;
}

static void maybe_compact(struct fg_kw *kw)
{
    if (kw->dead >= FG_KW_COMPACT_MIN && kw->dead * 4 >= kw->live)
        compact_locked(kw);
}

/* ---- public: lifecycle and changes ---------------------------------------------------- */

struct fg_kw *fg_kw_new(void)
{
    struct fg_kw *kw = fg_xcalloc(1, sizeof *kw);
    pthread_rwlockattr_t ra;
    pthread_rwlockattr_init(&ra);
    pthread_rwlockattr_setkind_np(&ra, PTHREAD_RWLOCK_PREFER_WRITER_NONRECURSIVE_NP);
    pthread_rwlock_init(&kw->lock, &ra);
    pthread_rwlockattr_destroy(&ra);
    return kw;
}

void fg_kw_free(struct fg_kw *kw)
{
    if (!kw)
        return;
    reset_locked(kw);
    pthread_rwlock_destroy(&kw->lock);
    free(kw);
}

void fg_kw_clear(struct fg_kw *kw)
{
    pthread_rwlock_wrlock(&kw->lock);
    reset_locked(kw);
    pthread_rwlock_unlock(&kw->lock);
}

void fg_kw_swap(struct fg_kw *a, struct fg_kw *b)
{
    if (a == b)
        return;
    pthread_rwlock_wrlock(&a->lock);
    pthread_rwlock_wrlock(&b->lock);
    struct fg_kw tmp;
    size_t off = offsetof(struct fg_kw, terms), len = sizeof tmp - off;
    memcpy((char *)&tmp + off, (char *)a + off, len);
    memcpy((char *)a + off, (char *)b + off, len);
    memcpy((char *)b + off, (char *)&tmp + off, len);
    pthread_rwlock_unlock(&b->lock);
    pthread_rwlock_unlock(&a->lock);
}

struct toks {
    char *buf; /* NUL-separated terms */
    size_t len, cap;
    uint32_t *off;
    size_t n, ncap, limit;
};

static int toks_cb(const char *term, size_t len, uint32_t pos, void *ctx)
{
    (void)pos;
    struct toks *t = ctx;
    if (t->n >= t->limit)
        return 1;
    if (t->len + len + 1 > t->cap) {
        t->cap = (t->len + len + 1) * 2;
        t->buf = fg_xrealloc(t->buf, t->cap);
    }
    if (t->n == t->ncap) {
        t->ncap = t->ncap ? t->ncap * 2 : 64;
        t->off = fg_xrealloc(t->off, t->ncap * sizeof *t->off);
    }
    t->off[t->n++] = (uint32_t)t->len;
    memcpy(t->buf + t->len, term, len + 1);
    t->len += len + 1;
    return 0;
}

static uint8_t clamp_u8(int v)
{
    return (uint8_t)(v < 0 ? 0 : v > 255 ? 255 : v);
}

void fg_kw_upsert(struct fg_kw *kw, const char *id, unsigned type_code, int trust,
                  const char *content, size_t content_len, const char *meta, size_t meta_len)
{
    struct toks t = {.limit = FG_KW_DOC_TOKENS_MAX};
    fg_kw_tokenize(content, content_len, 1, toks_cb, &t);
    size_t nc = t.n;
    t.limit = nc + FG_KW_DOC_TOKENS_MAX;
    fg_kw_tokenize(meta, meta_len, 1, toks_cb, &t);
    size_t nm = t.n - nc;
    pthread_rwlock_wrlock(&kw->lock);
    uint32_t old = doc_find(kw, id);
    if (old != NONE)
        doc_kill(kw, old);
    uint32_t *fwd = fg_xmalloc((t.n ? t.n : 1) * sizeof *fwd);
    for (size_t i = 0; i < t.n; i++) {
        const char *s = t.buf + t.off[i];
        fwd[i] = term_intern(kw, s, strlen(s));
    }
    doc_add(kw, id, (uint8_t)(type_code > 255 ? 255 : type_code), clamp_u8(trust), (uint32_t)nc,
            (uint32_t)nm, fwd);
    maybe_compact(kw);
    pthread_rwlock_unlock(&kw->lock);
    free(t.buf);
    free(t.off);
}

int fg_kw_set_meta(struct fg_kw *kw, const char *id, unsigned type_code, int trust)
{
    pthread_rwlock_wrlock(&kw->lock);
    uint32_t d = doc_find(kw, id);
    if (d != NONE) {
        kw->docs[d].type = (uint8_t)(type_code > 255 ? 255 : type_code);
        kw->docs[d].trust = clamp_u8(trust);
    }
    pthread_rwlock_unlock(&kw->lock);
    return d != NONE;
}

void fg_kw_remove(struct fg_kw *kw, const char *id)
{
    pthread_rwlock_wrlock(&kw->lock);
    uint32_t d = doc_find(kw, id);
    if (d != NONE) {
        doc_kill(kw, d);
        maybe_compact(kw);
    }
    pthread_rwlock_unlock(&kw->lock);
}

void fg_kw_get_stats(struct fg_kw *kw, struct fg_kw_stats *out)
{
    pthread_rwlock_rdlock(&kw->lock);
    out->docs = kw->live;
    out->dead = kw->dead;
    out->terms = kw->nterms;
    out->postings = kw->npostings;
    size_t b = kw->cap_terms * sizeof(struct term) + kw->tmap_cap * 4 +
               kw->cap_docs * sizeof(struct doc) + kw->dmap_cap * 4;
    for (size_t t = 0; t < kw->nterms; t++)
        b += kw->terms[t].cap * sizeof(struct posting) + kw->terms[t].len + 1;
    b += (size_t)kw->total_len * 4;
    out->bytes = b;
    pthread_rwlock_unlock(&kw->lock);
}

/* ---- queries ------------------------------------------------------------------------------ */

/* A clause resolved against the dictionary. */
struct rclause {
    enum fg_kw_kind kind;
    enum fg_kw_op op;
    uint32_t *tids; /* word: 1, prefix: expansions, phrase: the terms in order (NONE: absent) */
    size_t n;
};

struct prepared {
    struct rclause c[FG_KW_MAX_CLAUSES];
    size_t nc;
    uint32_t scored[FG_KW_MAX_CLAUSES * FG_KW_PREFIX_EXPAND]; /* distinct, canonical order */
    double idf[FG_KW_MAX_CLAUSES * FG_KW_PREFIX_EXPAND];
    size_t ns;
    int impossible; /* a required clause can never match */
    int has_required;
    double avgdl;
    uint32_t tidbuf[FG_KW_MAX_CLAUSES * FG_KW_PREFIX_EXPAND + FG_KW_MAX_TERMS];
    size_t ntid;
};

/* Read lock held. */
static void prepare(const struct fg_kw *kw, const struct fg_kw_query *q, struct prepared *p)
{
    memset(p, 0, offsetof(struct prepared, tidbuf));
    p->ntid = 0;
    p->avgdl = kw->live ? (double)kw->total_len / (double)kw->live : 1.0;
    if (p->avgdl <= 0)
        p->avgdl = 1.0;
    for (size_t i = 0; i < q->nc && i < FG_KW_MAX_CLAUSES; i++) {
        const struct fg_kw_clause *x = &q->c[i];
        struct rclause *r = &p->c[p->nc++];
        r->kind = x->kind;
        r->op = x->op;
        r->tids = p->tidbuf + p->ntid;
        if (x->kind == FG_KW_PREFIX) {
            const char *pre = q->terms[x->first];
            size_t pl = strlen(pre);
            /* Keep the FG_KW_PREFIX_EXPAND most frequent live terms with this prefix. */
            uint32_t cand[FG_KW_PREFIX_EXPAND] = {0};
            size_t nc = 0;
            for (size_t t = 0; t < kw->nterms; t++) {
                const struct term *T = &kw->terms[t];
                if (!T->df || T->len < pl || memcmp(T->s, pre, pl) != 0)
                    continue;
                if (nc == FG_KW_PREFIX_EXPAND && T->df <= kw->terms[cand[nc - 1]].df)
                    continue;
                /* Insert keeping cand sorted by df descending (ties: earlier term first). */
                size_t j = nc < FG_KW_PREFIX_EXPAND ? nc++ : nc - 1;
                while (j && kw->terms[cand[j - 1]].df < T->df) {
                    cand[j] = cand[j - 1];
                    j--;
                }
                cand[j] = (uint32_t)t;
            }
            memcpy(r->tids, cand, nc * sizeof *cand);
            r->n = nc;
        } else {
            for (size_t k = 0; k < x->n; k++) {
                const char *s = q->terms[x->first + k];
                uint32_t tid = term_find(kw, s, strlen(s));
                r->tids[r->n++] = tid != NONE && kw->terms[tid].df ? tid : NONE;
            }
        }
        p->ntid += r->n;
        int absent = r->n == 0;
        for (size_t k = 0; k < r->n && r->kind != FG_KW_PREFIX; k++)
            absent |= r->tids[k] == NONE;
        int required = r->op == FG_KW_MUST || r->kind == FG_KW_PHRASE;
        if (r->op != FG_KW_NOT && required) {
            p->has_required = 1;
            if (absent)
                p->impossible = 1;
        }
        if (r->op == FG_KW_NOT && absent)
            r->n = 0; /* excludes nothing */
        if (r->op == FG_KW_NOT)
            continue;
        for (size_t k = 0; k < r->n; k++) {
            uint32_t tid = r->tids[k];
            if (tid == NONE)
                continue;
            int dup = 0;
            for (size_t s = 0; s < p->ns && !dup; s++)
                dup = p->scored[s] == tid;
            if (dup)
                continue;
            double N = (double)kw->live, df = (double)kw->terms[tid].df;
            p->scored[p->ns] = tid;
            p->idf[p->ns] = log(1.0 + (N - df + 0.5) / (df + 0.5));
            p->ns++;
        }
    }
}

static double bm25_term(double idf, double wtf, double norm)
{
    return idf * (wtf * (FG_KW_K1 + 1.0)) / (wtf + norm);
}

static double doc_norm(const struct prepared *p, const struct doc *D)
{
    return FG_KW_K1 * (1.0 - FG_KW_B + FG_KW_B * (double)(D->nc + D->nm) / p->avgdl);
}

/* Phrase match on the forward list: the terms consecutive within one field. */
static int phrase_in(const struct doc *D, const uint32_t *tids, size_t n)
{
    if (!n)
        return 0;
    for (int f = 0; f < 2; f++) {
        const uint32_t *v = D->fwd + (f ? D->nc : 0);
        size_t len = f ? D->nm : D->nc;
        for (size_t i = 0; i + n <= len; i++) {
            size_t k = 0;
            while (k < n && v[i + k] == tids[k])
                k++;
            if (k == n)
                return 1;
        }
    }
    return 0;
}

static int fwd_has(const struct doc *D, uint32_t tid)
{
    size_t n = (size_t)D->nc + D->nm;
    for (size_t i = 0; i < n; i++)
        if (D->fwd[i] == tid)
            return 1;
    return 0;
}

static int visible(const struct doc *D, int max_trust, unsigned type_code)
{
    return D->live && (int)D->trust <= max_trust &&
           (type_code == FG_KW_TYPE_ANY || D->type == type_code);
}

/* Exact score of a document from its forward list, in canonical term order (0: no term). */
static double score_fwd(const struct fg_kw *kw, const struct prepared *p, const struct doc *D)
{
    (void)kw;
    double norm = doc_norm(p, D), s = 0;
    size_t n = (size_t)D->nc + D->nm;
    for (size_t t = 0; t < p->ns; t++) {
        uint32_t tfc = 0, tfm = 0;
        for (size_t i = 0; i < n; i++)
            if (D->fwd[i] == p->scored[t]) {
                if (i < D->nc)
                    tfc++;
                else
                    tfm++;
            }
        tfc = tfc > UINT16_MAX ? UINT16_MAX : tfc;
        tfm = tfm > UINT16_MAX ? UINT16_MAX : tfm;
        if (tfc || tfm)
            s += bm25_term(p->idf[t], tfc * FG_KW_W_CONTENT + tfm * FG_KW_W_META, norm);
    }
    return s;
}

/* Required and excluded clauses checked on the forward list. */
static int constraints_fwd(const struct prepared *p, const struct doc *D)
{
    for (size_t i = 0; i < p->nc; i++) {
        const struct rclause *r = &p->c[i];
        int required = r->op == FG_KW_MUST || (r->kind == FG_KW_PHRASE && r->op != FG_KW_NOT);
        if (!required && r->op != FG_KW_NOT)
            continue;
        if (r->op == FG_KW_NOT && !r->n)
            continue;
        int m = 0;
        if (r->kind == FG_KW_PHRASE)
            m = phrase_in(D, r->tids, r->n);
        else
            for (size_t k = 0; k < r->n && !m; k++)
                m = r->tids[k] != NONE && fwd_has(D, r->tids[k]);
        if (r->op == FG_KW_NOT ? m : !m)
            return 0;
    }
    return 1;
}

/* ---- top-k heap (min-heap on (score, reversed id)) ---------------------------------------- */

struct heap {
    struct {
        double s;
        uint32_t d;
    } * v;
    size_t n, k;
    const struct doc *docs;
};

/* 1 when a is worse than b (lower score, or equal score and larger id). */
static int worse(const struct heap *h, double as, uint32_t ad, double bs, uint32_t bd)
{
    if (as != bs)
        return as < bs;
    return strcmp(h->docs[ad].id, h->docs[bd].id) > 0;
}

static void heap_push(struct heap *h, double s, uint32_t d)
{
    size_t i;
    if (h->n < h->k) {
        i = h->n++;
        while (i) {
            size_t par = (i - 1) / 2;
            if (!worse(h, s, d, h->v[par].s, h->v[par].d))
                break;
            h->v[i] = h->v[par];
            i = par;
        }
        h->v[i].s = s;
        h->v[i].d = d;
        return;
    }
    if (!worse(h, h->v[0].s, h->v[0].d, s, d))
        return;
    i = 0;
    for (;;) {
        size_t l = 2 * i + 1, r = l + 1, m = i;
        double ms = s;
        uint32_t md = d;
        if (l < h->n && worse(h, h->v[l].s, h->v[l].d, ms, md)) {
            m = l;
            ms = h->v[l].s;
            md = h->v[l].d;
        }
        if (r < h->n && worse(h, h->v[r].s, h->v[r].d, ms, md))
            m = r;
        if (m == i)
            break;
        h->v[i] = h->v[m];
        i = m;
    }
    h->v[i].s = s;
    h->v[i].d = d;
}

static double heap_threshold(const struct heap *h)
{
    return h->n < h->k ? 0.0 : h->v[0].s;
}

/* Sorted output: best first, ties by id. */
static size_t heap_out(struct heap *h, const struct fg_kw *kw, struct fg_kw_hit *out)
{
    size_t n = h->n;
    for (size_t i = 0; i < n; i++) {
        out[i].score = h->v[i].s;
        snprintf(out[i].id, sizeof out[i].id, "%s", kw->docs[h->v[i].d].id);
    }
    for (size_t i = 1; i < n; i++) {
        struct fg_kw_hit x = out[i];
        size_t j = i;
        while (j && (out[j - 1].score < x.score ||
                     (out[j - 1].score == x.score && strcmp(out[j - 1].id, x.id) > 0))) {
            out[j] = out[j - 1];
            j--;
        }
        out[j] = x;
    }
    return n;
}

/* ---- cursors ---------------------------------------------------------------------------- */

struct cursor {
    const struct posting *p;
    uint32_t n, i;
    double idf, ub;
    size_t canon; /* index in prepared.scored */
};

static uint32_t cur_doc(const struct cursor *c)
{
    return c->i < c->n ? c->p[c->i].doc : NONE;
}

/* Moves to the first posting with doc >= d (galloping search). */
static void cur_seek(struct cursor *c, uint32_t d)
{
    if (c->i >= c->n || c->p[c->i].doc >= d)
        return;
    uint32_t lo = c->i, step = 1, hi = lo + 1;
    while (hi < c->n && c->p[hi].doc < d) {
        lo = hi;
        step *= 2;
        hi = lo + step;
    }
    if (hi > c->n)
        hi = c->n;
    /* p[lo] < d, answer in (lo, hi] */
    while (lo + 1 < hi) {
        uint32_t mid = lo + (hi - lo) / 2;
        if (c->p[mid].doc < d)
            lo = mid;
        else
            hi = mid;
    }
    c->i = hi;
}

static void cur_init(struct cursor *c, const struct fg_kw *kw, uint32_t tid)
{
    const struct term *T = &kw->terms[tid];
    c->p = T->p;
    c->n = T->n;
    c->i = 0;
}

static double posting_wtf(const struct posting *p)
{
    return p->tfc * FG_KW_W_CONTENT + p->tfm * FG_KW_W_META;
}

/* Does clause r (word/prefix, not excluded-empty) hold document d? Seeks the clause's cursors. */
static int clause_has(struct cursor *cs, size_t n, uint32_t d)
{
    for (size_t k = 0; k < n; k++) {
        cur_seek(&cs[k], d);
        if (cur_doc(&cs[k]) == d)
            return 1;
    }
    return 0;
}

struct search_ctx {
    const struct fg_kw *kw;
    const struct prepared *p;
    int max_trust;
    unsigned type_code;
    /* per clause cursors for membership checks (word/prefix) */
    struct cursor *ccur[FG_KW_MAX_CLAUSES];
};

static int check_clauses(struct search_ctx *sc, uint32_t d)
{
    const struct prepared *p = sc->p;
    const struct doc *D = &sc->kw->docs[d];
    for (size_t i = 0; i < p->nc; i++) {
        const struct rclause *r = &p->c[i];
        int required = r->op == FG_KW_MUST || (r->kind == FG_KW_PHRASE && r->op != FG_KW_NOT);
        if (!required && r->op != FG_KW_NOT)
            continue;
        if (r->op == FG_KW_NOT && !r->n)
            continue;
        int m = r->kind == FG_KW_PHRASE ? phrase_in(D, r->tids, r->n)
                                        : clause_has(sc->ccur[i], r->n, d);
        if (r->op == FG_KW_NOT ? m : !m)
            return 0;
    }
    return 1;
}

static int ub_asc(const void *a, const void *b)
{
    const struct cursor *x = a, *y = b;
    if (x->ub != y->ub)
        return x->ub < y->ub ? -1 : 1;
    return x->canon < y->canon ? -1 : x->canon > y->canon;
}

/* Canonical score of document d from the postings (same order and arithmetic as score_fwd,
 * so both give the same bits). */
static double rescore(const struct fg_kw *kw, const struct prepared *p, uint32_t d)
{
    double norm = doc_norm(p, &kw->docs[d]), s = 0;
    for (size_t t = 0; t < p->ns; t++) {
        const struct term *T = &kw->terms[p->scored[t]];
        uint32_t lo = 0, hi = T->n;
        while (lo < hi) {
            uint32_t mid = lo + (hi - lo) / 2;
            if (T->p[mid].doc < d)
                lo = mid + 1;
            else
                hi = mid;
        }
        if (lo < T->n && T->p[lo].doc == d)
            s += bm25_term(p->idf[t], posting_wtf(&T->p[lo]), norm);
    }
    return s;
}

size_t fg_kw_search(struct fg_kw *kw, const struct fg_kw_query *q, size_t k, int max_trust,
                    unsigned type_code, struct fg_kw_hit *out)
{
    if (!k || !q)
        return 0;
    if (k > FG_KW_K_MAX)
        k = FG_KW_K_MAX;
    struct prepared *p = fg_xmalloc(sizeof *p);
    struct heap h = {.k = k};
    h.v = fg_xmalloc(k * sizeof *h.v);
    size_t nout = 0;
    struct cursor *cur = NULL, *ccbuf = NULL;
    pthread_rwlock_rdlock(&kw->lock);
    h.docs = kw->docs;
    prepare(kw, q, p);
    if (p->impossible || !p->ns || !kw->live)
        goto out;
    struct search_ctx sc = {.kw = kw, .p = p, .max_trust = max_trust, .type_code = type_code};
    /* Membership cursors for required/excluded word and prefix clauses. */
    size_t ncc = 0;
    for (size_t i = 0; i < p->nc; i++)
        if (p->c[i].kind != FG_KW_PHRASE)
            ncc += p->c[i].n;
    ccbuf = fg_xcalloc(ncc ? ncc : 1, sizeof *ccbuf);
    ncc = 0;
    for (size_t i = 0; i < p->nc; i++) {
        if (p->c[i].kind == FG_KW_PHRASE)
            continue;
        sc.ccur[i] = ccbuf + ncc;
        for (size_t j = 0; j < p->c[i].n; j++)
            if (p->c[i].tids[j] != NONE)
                cur_init(&ccbuf[ncc++], kw, p->c[i].tids[j]);
            else
                ccbuf[ncc++] = (struct cursor){0};
    }
    /* Scored-term cursors with their upper bounds. */
    cur = fg_xmalloc(p->ns * sizeof *cur);
    for (size_t t = 0; t < p->ns; t++) {
        const struct term *T = &kw->terms[p->scored[t]];
        cur_init(&cur[t], kw, p->scored[t]);
        cur[t].idf = p->idf[t];
        cur[t].canon = t;
        double mn = FG_KW_K1 * (1.0 - FG_KW_B + FG_KW_B * (double)T->min_dl / p->avgdl);
        cur[t].ub = bm25_term(p->idf[t], T->max_wtf, mn) * (1.0 + 1e-9);
    }
    if (p->has_required) {
        /* Drive from the rarest required clause (a word, a prefix's expansions, or a phrase's
         * rarest term); every other constraint is probed. No pruning is needed: the driver
         * bounds the work. */
        size_t best = SIZE_MAX, bi = 0;
        for (size_t i = 0; i < p->nc; i++) {
            const struct rclause *r = &p->c[i];
            if (r->op == FG_KW_NOT || !(r->op == FG_KW_MUST || r->kind == FG_KW_PHRASE))
                continue;
            size_t cost = 0;
            if (r->kind == FG_KW_PHRASE) {
                cost = SIZE_MAX;
                for (size_t j = 0; j < r->n; j++)
                    if (kw->terms[r->tids[j]].n < cost)
                        cost = kw->terms[r->tids[j]].n;
            } else {
                for (size_t j = 0; j < r->n; j++)
                    cost += kw->terms[r->tids[j]].n;
            }
            if (cost < best) {
                best = cost;
                bi = i;
            }
        }
        const struct rclause *r = &p->c[bi];
        struct cursor drv[FG_KW_PREFIX_EXPAND];
        size_t nd = 0;
        if (r->kind == FG_KW_PHRASE) {
            uint32_t rare = r->tids[0];
            for (size_t j = 1; j < r->n; j++)
                if (kw->terms[r->tids[j]].n < kw->terms[rare].n)
                    rare = r->tids[j];
            cur_init(&drv[nd++], kw, rare);
        } else {
            for (size_t j = 0; j < r->n && nd < FG_KW_PREFIX_EXPAND; j++)
                cur_init(&drv[nd++], kw, r->tids[j]);
        }
        for (;;) {
            uint32_t d = NONE;
            for (size_t j = 0; j < nd; j++)
                if (cur_doc(&drv[j]) < d)
                    d = cur_doc(&drv[j]);
            if (d == NONE)
                break;
            for (size_t j = 0; j < nd; j++)
                if (cur_doc(&drv[j]) == d)
                    drv[j].i++;
            const struct doc *D = &kw->docs[d];
            if (!visible(D, max_trust, type_code) || !check_clauses(&sc, d))
                continue;
            double norm = doc_norm(p, D), s = 0;
            for (size_t t = 0; t < p->ns; t++) {
                cur_seek(&cur[t], d);
                if (cur_doc(&cur[t]) == d)
                    s += bm25_term(cur[t].idf, posting_wtf(&cur[t].p[cur[t].i]), norm);
            }
            if (s > 0)
                heap_push(&h, s, d);
        }
    } else {
        /* MaxScore over the optional terms. */
        size_t m = p->ns;
        qsort(cur, m, sizeof *cur, ub_asc);
        double *cum = fg_xmalloc(m * sizeof *cum);
        double acc = 0;
        for (size_t t = 0; t < m; t++) {
            acc += cur[t].ub;
            cum[t] = acc;
        }
        size_t ess = 0;                         /* cur[ess..m) are essential */
        double *cv = fg_xcalloc(m, sizeof *cv); /* contributions by canonical index */
        for (;;) {
            double theta = heap_threshold(&h);
            /* Bounds are compared with a margin so that rounding never prunes a tie. */
            double cut = theta * (1.0 - 1e-9);
            while (ess < m && h.n == h.k && cum[ess] < cut)
                ess++;
            if (ess >= m)
                break;
            uint32_t d = NONE;
            for (size_t t = ess; t < m; t++)
                if (cur_doc(&cur[t]) < d)
                    d = cur_doc(&cur[t]);
            if (d == NONE)
                break;
            const struct doc *D = &kw->docs[d];
            if (!visible(D, max_trust, type_code)) {
                for (size_t t = ess; t < m; t++)
                    if (cur_doc(&cur[t]) == d)
                        cur[t].i++;
                continue;
            }
            double norm = doc_norm(p, D), s = 0;
            for (size_t t = ess; t < m; t++)
                if (cur_doc(&cur[t]) == d) {
                    double c = bm25_term(cur[t].idf, posting_wtf(&cur[t].p[cur[t].i]), norm);
                    cv[cur[t].canon] = c;
                    s += c;
                    cur[t].i++;
                }
            int alive = 1;
            for (size_t t = ess; t-- > 0;) {
                if (h.n == h.k && s + cum[t] < cut) {
                    alive = 0;
                    break;
                }
                cur_seek(&cur[t], d);
                if (cur_doc(&cur[t]) == d) {
                    double c = bm25_term(cur[t].idf, posting_wtf(&cur[t].p[cur[t].i]), norm);
                    cv[cur[t].canon] = c;
                    s += c;
                }
            }
            if (alive) {
                s = 0; /* the canonical sum: same bits as the exact computation */
                for (size_t t = 0; t < m; t++)
                    s += cv[t];
            }
            memset(cv, 0, m * sizeof *cv);
            if (!alive || (h.n == h.k && s < theta) || !check_clauses(&sc, d))
                continue;
            heap_push(&h, s, d);
        }
        free(cv);
        free(cum);
    }
    /* Canonical scores (fixed term order) so that results equal the exact computation. */
    for (size_t i = 0; i < h.n; i++)
        h.v[i].s = rescore(kw, p, h.v[i].d);
    nout = heap_out(&h, kw, out);
out:
    pthread_rwlock_unlock(&kw->lock);
    free(cur);
    free(ccbuf);
    free(h.v);
    free(p);
    return nout;
}

size_t fg_kw_search_exact(struct fg_kw *kw, const struct fg_kw_query *q, size_t k, int max_trust,
                          unsigned type_code, struct fg_kw_hit *out)
{
    if (!k || !q)
        return 0;
    if (k > FG_KW_K_MAX)
        k = FG_KW_K_MAX;
    struct prepared *p = fg_xmalloc(sizeof *p);
    struct heap h = {.k = k};
    h.v = fg_xmalloc(k * sizeof *h.v);
    size_t nout = 0;
    pthread_rwlock_rdlock(&kw->lock);
    h.docs = kw->docs;
    prepare(kw, q, p);
    if (!p->impossible && p->ns) {
        for (size_t d = 0; d < kw->ndocs; d++) {
            const struct doc *D = &kw->docs[d];
            if (!visible(D, max_trust, type_code) || !constraints_fwd(p, D))
                continue;
            double s = score_fwd(kw, p, D);
            if (s > 0)
                heap_push(&h, s, (uint32_t)d);
        }
    }
    nout = heap_out(&h, kw, out);
    pthread_rwlock_unlock(&kw->lock);
    free(h.v);
    free(p);
    return nout;
}

/* ---- persistence -------------------------------------------------------------------------- */

struct wbuf {
    unsigned char *b;
    size_t n, cap;
};

static void wb_put(struct wbuf *w, const void *p, size_t n)
{
    if (w->n + n > w->cap) {
        w->cap = (w->n + n) * 2;
        w->b = fg_xrealloc(w->b, w->cap);
    }
    memcpy(w->b + w->n, p, n);
    w->n += n;
}

static void wb_u32(struct wbuf *w, uint32_t v)
{
    wb_put(w, &v, 4);
}

enum fg_err fg_kw_save(struct fg_kw *kw, const char *path)
{
    struct wbuf w = {0};
    pthread_rwlock_rdlock(&kw->lock);
    /* Live documents and terms only, both renumbered densely; postings are written as they are
     * in memory (minus tombstones), so a load is mostly copying. */
    uint32_t *tmap = fg_xmalloc((kw->nterms ? kw->nterms : 1) * sizeof *tmap);
    uint32_t *dmap = fg_xmalloc((kw->ndocs ? kw->ndocs : 1) * sizeof *dmap);
    uint32_t used = 0, live = 0;
    for (size_t t = 0; t < kw->nterms; t++)
        tmap[t] = kw->terms[t].df ? used++ : NONE;
    for (size_t d = 0; d < kw->ndocs; d++)
        dmap[d] = kw->docs[d].live ? live++ : NONE;
    wb_put(&w, KW_MAGIC, 8);
    wb_u32(&w, KW_VERSION);
    wb_u32(&w, used);
    wb_u32(&w, live);
    wb_u32(&w, 0);
    for (size_t t = 0; t < kw->nterms; t++) {
        const struct term *T = &kw->terms[t];
        if (tmap[t] == NONE)
            continue;
        wb_u32(&w, T->len);
        wb_put(&w, T->s, T->len);
        wb_u32(&w, T->df);
        for (uint32_t i = 0; i < T->n; i++) {
            if (dmap[T->p[i].doc] == NONE)
                continue;
            struct posting x = T->p[i];
            x.doc = dmap[x.doc];
            wb_put(&w, &x, sizeof x);
        }
    }
    for (size_t d = 0; d < kw->ndocs; d++) {
        const struct doc *D = &kw->docs[d];
        if (!D->live)
            continue;
        wb_put(&w, D->id, 36);
        unsigned char tt[2] = {D->type, D->trust};
        wb_put(&w, tt, 2);
        wb_u32(&w, D->nc);
        wb_u32(&w, D->nm);
        size_t n = (size_t)D->nc + D->nm;
        for (size_t i = 0; i < n; i++)
            wb_u32(&w, tmap[D->fwd[i]]);
    }
    pthread_rwlock_unlock(&kw->lock);
    free(tmap);
    free(dmap);
    unsigned char digest[32];
    crypto_generichash(digest, sizeof digest, w.b, w.n, NULL, 0);
    wb_put(&w, digest, sizeof digest);

    char tmp[4200];
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    enum fg_err e = FG_OK;
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0640);
    if (fd < 0) {
        e = FG_EIO;
        goto out;
    }
    size_t off = 0;
    while (off < w.n) {
        ssize_t r = write(fd, w.b + off, w.n - off);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0) {
            e = FG_EIO;
            break;
        }
        off += (size_t)r;
    }
    if (e == FG_OK && fsync(fd) != 0)
        e = FG_EIO;
    close(fd);
    if (e == FG_OK && rename(tmp, path) != 0)
        e = FG_EIO;
    if (e != FG_OK)
        unlink(tmp);
out:
    free(w.b);
    return e;
}

static int rd(const unsigned char *b, size_t n, size_t *off, void *out, size_t len)
{
    if (len > n - *off)
        return -1;
    memcpy(out, b + *off, len);
    *off += len;
    return 0;
}

enum fg_err fg_kw_load(struct fg_kw *kw, const char *path)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return errno == ENOENT ? FG_ENOTFOUND : FG_EIO;
    struct stat sb;
    unsigned char *b = NULL;
    enum fg_err e = FG_EINVAL;
    if (fstat(fd, &sb) != 0 || sb.st_size < 8 + 16 + 32) {
        close(fd);
        return FG_EINVAL;
    }
    size_t size = (size_t)sb.st_size, got = 0;
    b = fg_xmalloc(size);
    while (got < size) {
        ssize_t r = read(fd, b + got, size - got);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            break;
        got += (size_t)r;
    }
    close(fd);
    if (got != size) {
        free(b);
        return FG_EIO;
    }
    unsigned char digest[32];
    crypto_generichash(digest, sizeof digest, b, size - 32, NULL, 0);
    size_t n = size - 32, off = 8;
    uint32_t ver, nterms, ndocs, res;
    if (sodium_memcmp(digest, b + n, 32) != 0 || memcmp(b, KW_MAGIC, 8) != 0 ||
        rd(b, n, &off, &ver, 4) || rd(b, n, &off, &nterms, 4) || rd(b, n, &off, &ndocs, 4) ||
        rd(b, n, &off, &res, 4) || ver != KW_VERSION || nterms > n || ndocs > n) {
        free(b);
        fg_kw_clear(kw);
        return FG_EINVAL;
    }
    pthread_rwlock_wrlock(&kw->lock);
    reset_locked(kw);
    /* Terms with their postings (doc numbers ascending, < ndocs), then the documents. */
    for (uint32_t t = 0; t < nterms; t++) {
        uint32_t len, cnt;
        if (rd(b, n, &off, &len, 4) || len == 0 || len > FG_KW_TERM_MAX * 2 || len > n - off)
            goto bad;
        uint32_t id = term_intern(kw, (const char *)b + off, len);
        off += len;
        if (id != t || rd(b, n, &off, &cnt, 4) || cnt == 0 || cnt > ndocs ||
            (size_t)cnt * sizeof(struct posting) > n - off)
            goto bad; /* duplicate term, or counts beyond the file */
        struct term *T = &kw->terms[id];
        T->p = fg_xmalloc((size_t)cnt * sizeof *T->p);
        memcpy(T->p, b + off, (size_t)cnt * sizeof *T->p);
        off += (size_t)cnt * sizeof *T->p;
        T->n = T->cap = T->df = cnt;
        for (uint32_t i = 0; i < cnt; i++)
            if (T->p[i].doc >= ndocs || (i && T->p[i].doc <= T->p[i - 1].doc))
                goto bad;
        kw->npostings += cnt;
    }
    kw->docs = fg_xmalloc((ndocs ? ndocs : 1) * sizeof *kw->docs);
    kw->cap_docs = ndocs ? ndocs : 1;
    size_t cap = 4096;
    while (cap < (size_t)ndocs * 2 + 2)
        cap *= 2;
    kw->dmap = fg_xcalloc(cap, sizeof *kw->dmap);
    kw->dmap_cap = cap;
    for (uint32_t d = 0; d < ndocs; d++) {
        struct doc *D = &kw->docs[d];
        unsigned char tt[2];
        uint32_t nc, nm;
        memset(D, 0, sizeof *D);
        if (rd(b, n, &off, D->id, 36) || rd(b, n, &off, tt, 2) || rd(b, n, &off, &nc, 4) ||
            rd(b, n, &off, &nm, 4))
            goto bad;
        D->id[36] = '\0';
        if (strlen(D->id) != 36 || nc > FG_KW_DOC_TOKENS_MAX || nm > FG_KW_DOC_TOKENS_MAX ||
            ((size_t)nc + nm) * 4 > n - off)
            goto bad;
        size_t cnt = (size_t)nc + nm;
        D->fwd = fg_xmalloc((cnt ? cnt : 1) * sizeof *D->fwd);
        memcpy(D->fwd, b + off, cnt * 4);
        off += cnt * 4;
        kw->ndocs = d + 1; /* owned from here (reset_locked frees it) */
        for (size_t i = 0; i < cnt; i++)
            if (D->fwd[i] >= nterms)
                goto bad;
        D->type = tt[0];
        D->trust = tt[1];
        D->live = 1;
        D->nc = nc;
        D->nm = nm;
        /* Insert, refusing a duplicate id on the way (one probe sequence). */
        size_t m = kw->dmap_cap - 1, slot = hash_bytes(D->id, 36) & m;
        for (; kw->dmap[slot]; slot = (slot + 1) & m)
            if (memcmp(kw->docs[kw->dmap[slot] - 1].id, D->id, 36) == 0)
                goto bad;
        kw->dmap[slot] = d + 1;
        kw->dmap_n++;
        kw->live++;
        kw->total_len += cnt;
    }
    /* Score bounds from the postings and the document lengths. */
    for (size_t t = 0; t < kw->nterms; t++) {
        struct term *T = &kw->terms[t];
        for (uint32_t i = 0; i < T->n; i++) {
            float wtf = (float)(T->p[i].tfc * FG_KW_W_CONTENT + T->p[i].tfm * FG_KW_W_META);
            const struct doc *D = &kw->docs[T->p[i].doc];
            if (wtf > T->max_wtf)
                T->max_wtf = wtf;
            if (D->nc + D->nm < T->min_dl)
                T->min_dl = D->nc + D->nm;
        }
    }
    if (off != n)
        goto bad;
    e = FG_OK;
    goto done;
bad:
    reset_locked(kw);
    e = FG_EINVAL;
done:
    pthread_rwlock_unlock(&kw->lock);
    free(b);
    return e;
}
