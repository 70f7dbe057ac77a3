/* The "local" embedder: deterministic feature hashing, no model, no network.
 *
 * text -> tokens (UTF-8 aware lower-casing, Latin diacritics folded, CJK split per character)
 *      -> stop words dropped (kept when nothing else is left), light English stemming
 *      -> features: word unigrams, bigrams of adjacent content words, character 3- and 4-grams
 *         of each word with boundary marks ("<word>"), weighted per class
 *      -> identical features merged with sublinear tf (1 + ln tf)
 *      -> signed hashing into dims buckets -> L2 normalisation.
 * What this captures and what it cannot: docs/embeddings.md. Any change to the output for some
 * input must bump EMBED_LOCAL_MODEL_ID (stored vectors would no longer be comparable). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "embed/embed_internal.h"
#include "util/mem.h"

/* Class weights (L2 mass each word contributes per class). Tuned on the labelled set of
 * tests/unit/embed/test_local.c: unigrams carry the meaning, char n-grams the typo/morphology
 * robustness, bigrams reward shared phrases. */
#ifndef LOCAL_W_UNIGRAM
#define LOCAL_W_UNIGRAM 1.0
#endif
#ifndef LOCAL_W_BIGRAM
#define LOCAL_W_BIGRAM 0.5
#endif
#ifndef LOCAL_W_CHARS
#define LOCAL_W_CHARS 1.0
#endif
#define LOCAL_MAX_TOKEN_BYTES 128 /* longer tokens are truncated (URLs, base64 blobs) */
#define LOCAL_MAX_GRAM_CPS    40  /* char n-grams only for the first 40 code points of a word */

enum feat_class { F_UNIGRAM = 1, F_BIGRAM = 2, F_CHAR3 = 3, F_CHAR4 = 4, F_RAW = 5, F_SYNSET = 6 };

enum tok_kind {
    T_ALPHA, /* ASCII letters only: stemmed, stop-word checked */
    T_NUM,   /* contains a digit: unigram only */
    T_OTHER, /* non-ASCII letters (Greek, Cyrillic, ...) */
    T_CJK,   /* one Han / kana character */
};

struct token {
    size_t off, len; /* into the normalised byte arena */
    enum tok_kind kind;
    int stop;
};

struct feat {
    uint64_t h;
    double w;
};

struct feats {
    struct feat *v;
    size_t len, cap;
};

/* ---- hashing ---------------------------------------------------------------------------- */

static uint64_t mix64(uint64_t x)
{
    x ^= x >> 30;
    x *= 0xbf58476d1ce4e5b9ULL;
    x ^= x >> 27;
    x *= 0x94d049bb133111ebULL;
    x ^= x >> 31;
    return x;
}

static uint64_t fnv(uint64_t h, const void *p, size_t n)
{
    const unsigned char *b = p;
    for (size_t i = 0; i < n; i++) {
        h ^= b[i];
        h *= 0x100000001b3ULL;
    }
    return h;
}

static uint64_t seed(enum feat_class c)
{
    return 0xcbf29ce484222325ULL ^ ((uint64_t)c * 0x9e3779b97f4a7c15ULL);
}

static void feats_add(struct feats *f, uint64_t h, double w)
{
    if (f->len == f->cap) {
        f->cap = f->cap ? f->cap * 2 : 256;
        f->v = fg_xrealloc(f->v, f->cap * sizeof(*f->v));
    }
    f->v[f->len].h = mix64(h);
    f->v[f->len].w = w;
    f->len++;
}

/* ---- UTF-8 decoding and character classes ------------------------------------------------ */

/* Decodes one code point at s[*i]; invalid sequences yield U+FFFD and advance one byte. */
static uint32_t next_cp(const unsigned char *s, size_t n, size_t *i)
{
    unsigned char c = s[*i];
    uint32_t cp;
    size_t need;
    if (c < 0x80) {
        (*i)++;
        return c;
    }
    if (c >= 0xC2 && c <= 0xDF) {
        cp = c & 0x1F;
        need = 1;
    } else if (c >= 0xE0 && c <= 0xEF) {
        cp = c & 0x0F;
        need = 2;
    } else if (c >= 0xF0 && c <= 0xF4) {
        cp = c & 0x07;
        need = 3;
    } else {
        (*i)++;
        return 0xFFFD;
    }
    if (n - *i <= need) {
        (*i)++;
        return 0xFFFD;
    }
    for (size_t k = 1; k <= need; k++) {
        unsigned char cc = s[*i + k];
        if ((cc & 0xC0) != 0x80) {
            (*i)++;
            return 0xFFFD;
        }
        cp = (cp << 6) | (cc & 0x3F);
    }
    *i += need + 1;
    return cp;
}

static size_t put_utf8(uint32_t cp, char *o)
{
    if (cp < 0x80) {
        o[0] = (char)cp;
        return 1;
    }
    if (cp < 0x800) {
        o[0] = (char)(0xC0 | (cp >> 6));
        o[1] = (char)(0x80 | (cp & 0x3F));
        return 2;
    }
    if (cp < 0x10000) {
        o[0] = (char)(0xE0 | (cp >> 12));
        o[1] = (char)(0x80 | ((cp >> 6) & 0x3F));
        o[2] = (char)(0x80 | (cp & 0x3F));
        return 3;
    }
    o[0] = (char)(0xF0 | (cp >> 18));
    o[1] = (char)(0x80 | ((cp >> 12) & 0x3F));
    o[2] = (char)(0x80 | ((cp >> 6) & 0x3F));
    o[3] = (char)(0x80 | (cp & 0x3F));
    return 4;
}

/* U+00C0..U+017F lower-cased with diacritics removed ("" = not a letter: × and ÷). */
static const char *const latin_fold[192] = {
    "a", "a", "a",  "a",  "a", "a", "ae", "c",  "e", "e", "e", "e", /* U+00C0 */
    "i", "i", "i",  "i",  "d", "n", "o",  "o",  "o", "o", "o", "",  /* U+00CC */
    "o", "u", "u",  "u",  "u", "y", "th", "ss", "a", "a", "a", "a", /* U+00D8 */
    "a", "a", "ae", "c",  "e", "e", "e",  "e",  "i", "i", "i", "i", /* U+00E4 */
    "d", "n", "o",  "o",  "o", "o", "o",  "",   "o", "u", "u", "u", /* U+00F0 */
    "u", "y", "th", "y",  "a", "a", "a",  "a",  "a", "a", "c", "c", /* U+00FC */
    "c", "c", "c",  "c",  "c", "c", "d",  "d",  "d", "d", "e", "e", /* U+0108 */
    "e", "e", "e",  "e",  "e", "e", "e",  "e",  "g", "g", "g", "g", /* U+0114 */
    "g", "g", "g",  "g",  "h", "h", "h",  "h",  "i", "i", "i", "i", /* U+0120 */
    "i", "i", "i",  "i",  "i", "i", "ij", "ij", "j", "j", "k", "k", /* U+012C */
    "k", "l", "l",  "l",  "l", "l", "l",  "l",  "l", "l", "l", "n", /* U+0138 */
    "n", "n", "n",  "n",  "n", "n", "n",  "n",  "o", "o", "o", "o", /* U+0144 */
    "o", "o", "oe", "oe", "r", "r", "r",  "r",  "r", "r", "s", "s", /* U+0150 */
    "s", "s", "s",  "s",  "s", "s", "t",  "t",  "t", "t", "t", "t", /* U+015C */
    "u", "u", "u",  "u",  "u", "u", "u",  "u",  "u", "u", "u", "u", /* U+0168 */
    "w", "w", "y",  "y",  "y", "z", "z",  "z",  "z", "z", "z", "s", /* U+0174 */
};

enum cp_class { C_SEP, C_SKIP, C_WORD, C_CJK, C_APOS };

static int is_cjk(uint32_t cp)
{
    return (cp >= 0x3040 && cp <= 0x30FF) || (cp >= 0x3400 && cp <= 0x4DBF) ||
           (cp >= 0x4E00 && cp <= 0x9FFF) || (cp >= 0xF900 && cp <= 0xFAFF) ||
           (cp >= 0x20000 && cp <= 0x2FFFF);
}

/* Classifies cp and, for word characters, writes its normalised UTF-8 form to o (<= 4 bytes). */
static enum cp_class classify(uint32_t cp, char *o, size_t *olen)
{
    *olen = 0;
    if (cp < 0x80) {
        if (cp >= 'A' && cp <= 'Z')
            cp += 32;
        if ((cp >= 'a' && cp <= 'z') || (cp >= '0' && cp <= '9')) {
            o[0] = (char)cp;
            *olen = 1;
            return C_WORD;
        }
        return cp == '\'' ? C_APOS : C_SEP;
    }
    if (cp == 0x2019 || cp == 0x02BC)
        return C_APOS;
    if (cp < 0xC0 || cp == 0xFFFD)
        return C_SEP; /* C1 controls, NBSP, Latin-1 punctuation and symbols, invalid bytes */
    if (cp < 0x180) {
        const char *f = latin_fold[cp - 0xC0];
        if (!*f)
            return C_SEP;
        *olen = strlen(f);
        memcpy(o, f, *olen);
        return C_WORD;
    }
    if ((cp >= 0x0300 && cp <= 0x036F) || (cp >= 0x200B && cp <= 0x200D) || cp == 0xFEFF)
        return C_SKIP; /* combining diacritics (decomposed input folds like composed), ZW chars */
    if ((cp >= 0x2000 && cp <= 0x2BFF) || (cp >= 0x2E00 && cp <= 0x2E7F) ||
        (cp >= 0x3000 && cp <= 0x303F) || (cp >= 0xFE30 && cp <= 0xFE4F) ||
        (cp >= 0x1F000 && cp <= 0x1FAFF) || (cp >= 0xE000 && cp <= 0xF8FF))
        return C_SEP; /* punctuation, symbols, arrows, math, emoji, CJK punctuation, private use */
    if (cp >= 0xFF01 && cp <= 0xFF5E) { /* full-width ASCII */
        return classify(cp - 0xFF01 + 0x21, o, olen);
    }
    if (cp >= 0xFF5F && cp <= 0xFF65)
        return C_SEP;
    if (is_cjk(cp)) {
        *olen = put_utf8(cp, o);
        return C_CJK;
    }
    if (cp >= 0x0391 && cp <= 0x03A9 && cp != 0x03A2)
        cp += 0x20; /* Greek capitals */
    else if (cp >= 0x0410 && cp <= 0x042F)
        cp += 0x20; /* Cyrillic capitals */
    else if (cp >= 0x0400 && cp <= 0x040F)
        cp += 0x50;
    else if (cp == 0x03C2)
        cp = 0x03C3; /* final sigma */
    *olen = put_utf8(cp, o);
    return C_WORD;
}

/* ---- stop words and stemming ------------------------------------------------------------- */

/* Sorted (strcmp order) for bsearch. Common English function words. */
static const char *const stop_words[] = {
    "a",      "about",  "above", "after",  "again",    "against",    "all",  "also",
    "am",     "an",     "and",   "any",    "are",      "as",         "at",   "be",
    "been",   "before", "being", "below",  "between",  "both",       "but",  "by",
    "can",    "could",  "did",   "do",     "does",     "doing",      "down", "during",
    "each",   "few",    "for",   "from",   "further",  "had",        "has",  "have",
    "having", "he",     "her",   "here",   "hers",     "herself",    "him",  "himself",
    "his",    "how",    "i",     "if",     "in",       "into",       "is",   "it",
    "its",    "itself", "just",  "me",     "more",     "most",       "my",   "myself",
    "no",     "nor",    "not",   "now",    "of",       "off",        "on",   "once",
    "only",   "or",     "other", "our",    "ours",     "ourselves",  "out",  "over",
    "own",    "same",   "she",   "should", "so",       "some",       "such", "than",
    "that",   "the",    "their", "theirs", "them",     "themselves", "then", "there",
    "these",  "they",   "this",  "those",  "through",  "to",         "too",  "under",
    "until",  "up",     "very",  "was",    "we",       "were",       "what", "when",
    "where",  "which",  "while", "who",    "whom",     "why",        "will", "with",
    "would",  "you",    "your",  "yours",  "yourself", "yourselves",
};

struct span {
    const char *p;
    size_t n;
};

static int stop_cmp(const void *k, const void *e)
{
    const struct span *s = k;
    const char *w = *(const char *const *)e;
    size_t wl = strlen(w);
    size_t m = s->n < wl ? s->n : wl;
    int c = memcmp(s->p, w, m);
    if (c)
        return c;
    return s->n < wl ? -1 : (s->n > wl);
}

static int is_stop(const char *p, size_t n)
{
    struct span s = {p, n};
    return bsearch(&s, stop_words, sizeof(stop_words) / sizeof(stop_words[0]),
                   sizeof(stop_words[0]), stop_cmp) != NULL;
}

static int ends(const char *w, size_t n, const char *suf)
{
    size_t k = strlen(suf);
    return n >= k && memcmp(w + n - k, suf, k) == 0;
}

static int has_vowel(const char *w, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (strchr("aeiouy", w[i]))
            return 1;
    return 0;
}

static size_t undouble(const char *w, size_t n)
{
    if (n >= 3 && w[n - 1] == w[n - 2] && !strchr("aeiouylsz", w[n - 1]))
        return n - 1;
    return n;
}

/* Light English suffix stripping on an ASCII lower-case word, in place; returns the new
 * length. plural -s/-es/-ies, -ing, -ed/-ied, final -e; e.g. queries->query, running->run,
 * embedded->embed, caches/caching/cached/cache->cach. */
static size_t stem(char *w, size_t n)
{
    if (n <= 3)
        return n;
    if (ends(w, n, "sses")) {
        n -= 2;
    } else if (n > 4 && ends(w, n, "ies")) {
        w[n - 3] = 'y';
        n -= 2;
    } else if (ends(w, n, "xes") || ends(w, n, "ches") || ends(w, n, "shes") ||
               ends(w, n, "zzes")) {
        n -= 2;
    } else if (w[n - 1] == 's' && !ends(w, n, "ss") && !ends(w, n, "us") && !ends(w, n, "is")) {
        n -= 1;
    }
    if (n >= 5 && ends(w, n, "ing") && has_vowel(w, n - 3)) {
        n = undouble(w, n - 3);
    } else if (n > 4 && ends(w, n, "ied")) {
        w[n - 3] = 'y';
        n -= 2;
    } else if (n >= 4 && ends(w, n, "ed") && !ends(w, n, "eed") && has_vowel(w, n - 2)) {
        n = undouble(w, n - 2);
    }
    if (n >= 3 && w[n - 1] == 'e' && w[n - 2] != 'e')
        n -= 1;
    return n;
}

/* ---- tokenisation ------------------------------------------------------------------------ */

struct toks {
    struct token *v;
    size_t len, cap;
    char *arena; /* normalised bytes; at most 4 bytes out per input byte... bounded below */
    size_t alen, acap;
};

static void arena_put(struct toks *t, const char *b, size_t n)
{
    if (t->alen + n > t->acap) {
        t->acap = (t->alen + n) * 2 + 64;
        t->arena = fg_xrealloc(t->arena, t->acap);
    }
    memcpy(t->arena + t->alen, b, n);
    t->alen += n;
}

static void tok_push(struct toks *t, size_t off, size_t len, enum tok_kind kind)
{
    if (t->len == t->cap) {
        t->cap = t->cap ? t->cap * 2 : 64;
        t->v = fg_xrealloc(t->v, t->cap * sizeof(*t->v));
    }
    t->v[t->len].off = off;
    t->v[t->len].len = len;
    t->v[t->len].kind = kind;
    t->v[t->len].stop = 0;
    t->len++;
}

static void tokenize(const unsigned char *s, size_t n, struct toks *t)
{
    size_t i = 0;
    int in_tok = 0;
    size_t start = 0;
    int ascii_alpha = 1, digit = 0;

#define END_TOKEN()                                                                                \
    do {                                                                                           \
        if (in_tok) {                                                                              \
            tok_push(t, start, t->alen - start,                                                    \
                     digit ? T_NUM : (ascii_alpha ? T_ALPHA : T_OTHER));                           \
            in_tok = 0;                                                                            \
        }                                                                                          \
    } while (0)

    while (i < n) {
        char o[8];
        size_t olen;
        uint32_t cp = next_cp(s, n, &i);
        enum cp_class cls = classify(cp, o, &olen);
        switch (cls) {
        case C_SKIP:
            break;
        case C_SEP:
            END_TOKEN();
            break;
        case C_CJK:
            END_TOKEN();
            tok_push(t, t->alen, olen, T_CJK);
            arena_put(t, o, olen);
            break;
        case C_APOS: {
            /* inside a word: possessive 's is dropped, otherwise the word is joined (don't) */
            size_t j = i;
            char o2[8];
            size_t o2len;
            if (!in_tok || j >= n || classify(next_cp(s, n, &j), o2, &o2len) != C_WORD) {
                END_TOKEN();
                break;
            }
            if (o2len == 1 && o2[0] == 's') {
                size_t k = j;
                if (k >= n || classify(next_cp(s, n, &k), o2, &o2len) != C_WORD) {
                    i = j; /* skip the 's' */
                    END_TOKEN();
                }
            }
            break;
        }
        case C_WORD:
            if (!in_tok) {
                in_tok = 1;
                start = t->alen;
                ascii_alpha = 1;
                digit = 0;
            }
            if (t->alen - start + olen > LOCAL_MAX_TOKEN_BYTES)
                break; /* truncate very long tokens */
            if (olen == 1 && o[0] >= '0' && o[0] <= '9')
                digit = 1;
            else if (olen != 1)
                ascii_alpha = 0;
            arena_put(t, o, olen);
            break;
        }
    }
    END_TOKEN();
#undef END_TOKEN
}

/* ---- features ---------------------------------------------------------------------------- */

static void char_grams2(struct feats *f, const char *w, size_t n, double wchars)
{
    /* code point boundaries of "<" w ">" */
    size_t bounds[LOCAL_MAX_GRAM_CPS + 3];
    char buf[LOCAL_MAX_TOKEN_BYTES + 2];
    size_t nb = 0, blen = 0;
    buf[blen++] = '<';
    bounds[nb++] = 0;
    for (size_t i = 0; i < n && nb < LOCAL_MAX_GRAM_CPS + 1;) {
        size_t cl = 1;
        unsigned char c = (unsigned char)w[i];
        if (c >= 0xF0)
            cl = 4;
        else if (c >= 0xE0)
            cl = 3;
        else if (c >= 0xC0)
            cl = 2;
        if (i + cl > n)
            break;
        bounds[nb++] = blen;
        memcpy(buf + blen, w + i, cl);
        blen += cl;
        i += cl;
    }
    bounds[nb++] = blen;
    buf[blen++] = '>';
    bounds[nb] = blen; /* end sentinel: nb code points in buf */
    size_t ncp = nb;
    size_t grams = (ncp >= 3 ? ncp - 2 : 0) + (ncp >= 4 ? ncp - 3 : 0);
    if (!grams)
        return;
    double w1 = wchars / sqrt((double)grams);
    for (int g = 3; g <= 4; g++) {
        for (size_t a = 0; a + (size_t)g <= ncp; a++) {
            size_t from = bounds[a], to = bounds[a + (size_t)g];
            feats_add(f, fnv(seed(g == 3 ? F_CHAR3 : F_CHAR4), buf + from, to - from), w1);
        }
    }
}

static void char_grams(struct feats *f, const char *w, size_t n)
{
    char_grams2(f, w, n, LOCAL_W_CHARS);
}

static int feat_cmp(const void *a, const void *b)
{
    const struct feat *x = a, *y = b;
    if (x->h != y->h)
        return x->h < y->h ? -1 : 1;
    return (x->w > y->w) - (x->w < y->w); /* deterministic order for equal hashes */
}

/* Merges identical features (sublinear tf), signed-hashes them into dims buckets, normalises. */
static void finish(struct feats *f, const char *text, size_t len, unsigned dims, float *out)
{
    double *acc = fg_xcalloc(dims, sizeof(double));
    if (f->len == 0 && len > 0) /* only punctuation/symbols: identical texts still match */
        feats_add(f, fnv(seed(F_RAW), text, len), 1.0);

    if (f->len > 1) /* f->v is NULL when there is no feature: qsort(NULL, 0) is undefined */
        qsort(f->v, f->len, sizeof(*f->v), feat_cmp);
    for (size_t i = 0; i < f->len;) {
        size_t j = i;
        double sum = 0;
        while (j < f->len && f->v[j].h == f->v[i].h)
            sum += f->v[j++].w;
        double tf = (double)(j - i);
        double val = (1.0 + log(tf)) * (sum / tf); /* sublinear tf, mean instance weight */
        uint64_t h = f->v[i].h;
        size_t bucket = (size_t)(((h >> 32) * (uint64_t)dims) >> 32);
        acc[bucket] += (h & 1) ? val : -val;
        i = j;
    }

    double norm = 0;
    for (unsigned d = 0; d < dims; d++)
        norm += acc[d] * acc[d];
    if (norm > 0) {
        norm = sqrt(norm);
        for (unsigned d = 0; d < dims; d++)
            out[d] = (float)(acc[d] / norm);
    } else { /* empty text (or a pathological cancellation): a fixed unit vector */
        memset(out, 0, dims * sizeof(float));
        out[0] = 1.0f;
    }
    free(acc);
}

/* Tokenises and marks stop words; stems content ASCII words in place when stem_now. Returns 1 when
 * stop words must be kept (nothing else is left). */
static int prepare(const char *text, size_t len, struct toks *t, int stem_now)
{
    tokenize((const unsigned char *)text, len, t);
    size_t content = 0;
    for (size_t i = 0; i < t->len; i++) {
        struct token *k = &t->v[i];
        if (k->kind != T_ALPHA)
            continue;
        k->stop = is_stop(t->arena + k->off, k->len);
        if (!k->stop && stem_now)
            k->len = stem(t->arena + k->off, k->len);
    }
    for (size_t i = 0; i < t->len; i++)
        content += !t->v[i].stop;
    return content == 0; /* "to be or not to be": better stop words than nothing */
}

void embed_local_vector(const char *text, size_t len, unsigned dims, float *out)
{
    struct toks t = {0};
    struct feats f = {0};
    int keep_stops = prepare(text, len, &t, 1);

    const struct token *prev = NULL;
    for (size_t i = 0; i < t.len; i++) {
        const struct token *k = &t.v[i];
        if (k->stop && !keep_stops)
            continue;
        const char *w = t.arena + k->off;
        feats_add(&f, fnv(seed(F_UNIGRAM), w, k->len), LOCAL_W_UNIGRAM);
        if (prev) {
            uint64_t h = fnv(seed(F_BIGRAM), t.arena + prev->off, prev->len);
            h = fnv(h, "\x1f", 1);
            feats_add(&f, fnv(h, w, k->len), LOCAL_W_BIGRAM);
        }
        if (k->kind == T_ALPHA || k->kind == T_OTHER)
            char_grams(&f, w, k->len);
        prev = k;
    }
    finish(&f, text, len, dims, out);
    free(f.v);
    free(t.v);
    free(t.arena);
}

size_t embed_local_shared_words(const char *a, size_t alen, const char *b, size_t blen)
{
    struct toks ta = {0}, tb = {0};
    prepare(a, alen, &ta, 1);
    prepare(b, blen, &tb, 1);
    size_t shared = 0;
    for (size_t i = 0; i < ta.len; i++) {
        if (ta.v[i].stop)
            continue;
        for (size_t j = 0; j < tb.len; j++) {
            if (!tb.v[j].stop && ta.v[i].len == tb.v[j].len &&
                memcmp(ta.arena + ta.v[i].off, tb.arena + tb.v[j].off, ta.v[i].len) == 0) {
                shared++;
                break;
            }
        }
    }
    free(ta.v);
    free(ta.arena);
    free(tb.v);
    free(tb.arena);
    return shared;
}

/* ---- local v2: WordNet lemmas, senses and hypernyms on top of v1's features ------------------ */

/* Tuned on the odd pairs of tests/unit/embed/data/paraphrase.tsv (FORGE_TUNE=1 test_paraphrase),
 * with char n-grams kept at v1's weight so typo matching does not regress. */
static const struct embed_local2_params default2 = {
    .w_unigram = 1.0,
    .w_bigram = 0.5,
    .w_chars = 1.0,
    .w_sense = 4.0,
    .sense_decay = 0.6,
    .hyper_decay = 0.9,
    .max_level = 4,
    .w_deriv = 0.0,
    .pos_alpha = 0.5,
    .max_senses = 3,
    .w_exp = 4.0,
    .w_gloss = 1.0,
    .ic_gamma = 0.0,
    .w_rel = 0.0,
    .tag_beta = 0.0,
    .idf_beta = 0.0,
    .lesk = 0.0,
};

const struct embed_local2_params *embed_local2_default_params(void)
{
    return &default2;
}

static int sense_cmp(const void *a, const void *b)
{
    const struct feat *x = a, *y = b;
    if (x->h != y->h)
        return x->h < y->h ? -1 : 1;
    return (x->w < y->w) - (x->w > y->w); /* heaviest first */
}

#define SENSE_RANKS EMBED_WN_MAX_SENSES

/* How much a word's WordNet features count: rare words (high gloss idf) more than common ones. */
static double idf_factor(const struct embed_wn_entry *e, const struct embed_local2_params *p)
{
    if (p->idf_beta <= 0)
        return 1.0;
    double x = (double)e->idf / 8.0;
    return pow(x > 0.05 ? x : 0.05, p->idf_beta);
}

/* Adds the WordNet features of one word, scaled so their L2 mass is p->w_sense. */
static void sense_feats(struct feats *f, const struct embed_wn_entry *e,
                        const struct embed_local2_params *p, const double (*mult)[SENSE_RANKS])
{
    struct feat tmp[EMBED_WN_MAX_FEATS];
    size_t n = 0;
    for (size_t i = 0; i < e->nsenses && n < sizeof tmp / sizeof tmp[0]; i++) {
        const struct embed_wn_sense *s = &e->senses[i];
        if (s->rank >= p->max_senses)
            continue;
        double w = pow((double)s->posw, p->pos_alpha) * pow(p->sense_decay, s->rank);
        if (mult && s->rank < SENSE_RANKS)
            w *= mult[s->spos & 7][s->rank];
        if (p->tag_beta > 0)
            w *= pow((double)s->tagcnt + 1.0, p->tag_beta);
        if (p->ic_gamma > 0)
            w *= pow((double)s->ic, p->ic_gamma);
        if (s->kind == EMBED_WN_HYPER) {
            if (s->level > p->max_level)
                continue;
            w *= pow(p->hyper_decay, s->level);
        } else if (s->kind == EMBED_WN_DERIV) {
            w *= p->w_deriv;
        } else if (s->kind == EMBED_WN_REL) {
            w *= p->w_rel;
        }
        if (w <= 0)
            continue;
        tmp[n].h = s->key;
        tmp[n].w = w;
        n++;
    }
    if (!n)
        return;
    qsort(tmp, n, sizeof tmp[0], sense_cmp);
    size_t m = 0; /* one feature per synset: its heaviest way in */
    for (size_t i = 0; i < n; i++)
        if (m == 0 || tmp[m - 1].h != tmp[i].h)
            tmp[m++] = tmp[i];
    double ss = 0;
    for (size_t i = 0; i < m; i++)
        ss += tmp[i].w * tmp[i].w;
    double scale = p->w_sense * idf_factor(e, p) / sqrt(ss);
    for (size_t i = 0; i < m; i++) {
        uint64_t key = tmp[i].h;
        feats_add(f, fnv(seed(F_SYNSET), &key, sizeof key), tmp[i].w * scale);
    }
}

int embed_local_is_stop(const char *w, size_t n)
{
    return is_stop(w, n);
}

/* Adds the synonyms and gloss words of one word as unigrams, scaled to L2 mass p->w_exp. */
static void exp_feats(struct feats *f, const struct embed_wn_entry *e,
                      const struct embed_local2_params *p, const double (*mult)[SENSE_RANKS])
{
    struct feat tmp[EMBED_WN_MAX_EXP];
    size_t n = 0;
    for (size_t i = 0; i < e->nexp; i++) {
        const struct embed_wn_exp *x = &e->exps[i];
        if (x->rank >= p->max_senses)
            continue;
        double w = pow(p->sense_decay, x->rank);
        if (mult && x->rank < SENSE_RANKS)
            w *= mult[x->pos & 7][x->rank];
        if (x->kind == EMBED_WN_GLOSS)
            w *= p->w_gloss * x->idf / 10.0;
        if (w <= 0)
            continue;
        const char *s = e->xpool + x->off;
        tmp[n].h = fnv(seed(F_UNIGRAM), s, strlen(s));
        tmp[n].w = w;
        n++;
    }
    if (!n || p->w_exp <= 0)
        return;
    qsort(tmp, n, sizeof tmp[0], sense_cmp);
    size_t m = 0;
    for (size_t i = 0; i < n; i++)
        if (m == 0 || tmp[m - 1].h != tmp[i].h)
            tmp[m++] = tmp[i];
    double ss = 0;
    for (size_t i = 0; i < m; i++)
        ss += tmp[i].w * tmp[i].w;
    double scale = p->w_exp * idf_factor(e, p) / sqrt(ss);
    for (size_t i = 0; i < m; i++)
        feats_add(f, tmp[i].h, tmp[i].w * scale);
}

/* ---- word-sense choice by the text (simplified Lesk) ------------------------------------------
 * A sense of a word gains weight when its concepts (synset, hypernyms, related synsets, weighted
 * by information content) are also concepts of other words of the same text, or when its gloss
 * words and synonyms are also lemmas, synonyms or gloss words of another word (Lesk's gloss
 * overlap). The context is a hash set of every word's concept keys with the
 * number of words that have each. */
struct ctx_slot {
    uint64_t key;
    uint32_t words, last; /* words having the key; last word index + 1 that counted it */
};
struct lesk_ctx {
    struct ctx_slot *v;
    size_t mask;
};

static struct ctx_slot *ctx_get(struct lesk_ctx *c, uint64_t key)
{
    for (size_t i = (size_t)mix64(key) & c->mask;; i = (i + 1) & c->mask)
        if (c->v[i].key == key || c->v[i].key == 0)
            return &c->v[i];
}

static void ctx_add(struct lesk_ctx *c, uint64_t key, uint32_t word)
{
    struct ctx_slot *s = ctx_get(c, key | 1);
    s->key = key | 1;
    if (s->last != word + 1) {
        s->last = word + 1;
        s->words++;
    }
}

static uint64_t lemma_key(const char *l)
{
    return fnv(seed(F_UNIGRAM), l, strlen(l)) | ((uint64_t)1 << 63);
}

static void lesk_weights(const struct embed_wn_entry *const *ents, size_t n,
                         const struct embed_local2_params *p, double (*mult)[8][SENSE_RANKS])
{
    size_t total = 0;
    for (size_t i = 0; i < n; i++)
        if (ents[i])
            total += ents[i]->nsenses + ents[i]->nlemmas + ents[i]->nexp;
    size_t cap = 64;
    while (cap < total * 2 + 2)
        cap *= 2;
    struct lesk_ctx c = {fg_xcalloc(cap, sizeof(struct ctx_slot)), cap - 1};
    for (size_t i = 0; i < n; i++) {
        const struct embed_wn_entry *e = ents[i];
        if (!e)
            continue;
        for (size_t j = 0; j < e->nsenses; j++)
            if (e->senses[j].rank < p->max_senses)
                ctx_add(&c, e->senses[j].key, (uint32_t)i);
        const char *l = e->lemmas;
        for (size_t j = 0; j < e->nlemmas; j++, l += strlen(l) + 1)
            ctx_add(&c, lemma_key(l), (uint32_t)i);
        for (size_t j = 0; j < e->nexp; j++)
            if (e->exps[j].rank < p->max_senses)
                ctx_add(&c, lemma_key(e->xpool + e->exps[j].off), (uint32_t)i);
    }
    for (size_t i = 0; i < n; i++) {
        const struct embed_wn_entry *e = ents[i];
        for (int a = 0; a < 8; a++)
            for (int r = 0; r < SENSE_RANKS; r++)
                mult[i][a][r] = 1.0;
        if (!e)
            continue;
        double ov[8][SENSE_RANKS] = {{0}};
        for (size_t j = 0; j < e->nsenses; j++) {
            const struct embed_wn_sense *s = &e->senses[j];
            if (s->rank >= SENSE_RANKS || s->rank >= p->max_senses)
                continue;
            const struct ctx_slot *cs = ctx_get(&c, s->key | 1);
            if (cs->key && cs->words > 1)
                ov[s->spos & 7][s->rank] += (double)s->ic * (double)s->ic;
        }
        for (size_t j = 0; j < e->nexp; j++) {
            const struct embed_wn_exp *x = &e->exps[j];
            if (x->rank >= SENSE_RANKS || x->rank >= p->max_senses)
                continue;
            /* word i itself added the key: another word has it when two words do */
            const struct ctx_slot *cs = ctx_get(&c, lemma_key(e->xpool + x->off) | 1);
            if (cs->key && cs->words > 1)
                ov[x->pos & 7][x->rank] += 1.0;
        }
        for (int a = 0; a < 8; a++)
            for (int r = 0; r < SENSE_RANKS; r++)
                mult[i][a][r] = 1.0 + p->lesk * ov[a][r];
    }
    free(c.v);
}

void embed_local2_vector(const char *text, size_t len, unsigned dims,
                         const struct embed_local2_params *p, float *out)
{
    struct toks t = {0};
    struct feats f = {0};
    char prev[LOCAL_MAX_TOKEN_BYTES];
    size_t prev_len = 0;
    int have_prev = 0;
    if (!p)
        p = &default2;
    int keep_stops = prepare(text, len, &t, 0);

    /* pass 1: the WordNet analysis of every content word */
    const struct embed_wn_entry **ents = fg_xcalloc(t.len + 1, sizeof *ents);
    struct embed_wn_entry **owns = fg_xcalloc(t.len + 1, sizeof *owns);
    for (size_t i = 0; i < t.len; i++) {
        struct token *k = &t.v[i];
        if (k->kind == T_ALPHA && !k->stop) {
            ents[i] = embed_wn_lookup(t.arena + k->off, k->len, &owns[i]);
            if (ents[i] && !ents[i]->nlemmas)
                ents[i] = NULL;
        }
    }
    double(*mult)[8][SENSE_RANKS] = NULL;
    if (p->lesk > 0) {
        mult = fg_xmalloc((t.len + 1) * sizeof *mult);
        lesk_weights(ents, t.len, p, mult);
    }

    for (size_t i = 0; i < t.len; i++) {
        struct token *k = &t.v[i];
        if (k->stop && !keep_stops)
            continue;
        char *w = t.arena + k->off;
        const char *uni = w; /* unigram: the WordNet lemma(s), else v1's stem */
        const struct embed_wn_entry *e = ents[i];
        if (k->kind == T_ALPHA && !k->stop)
            k->len = stem(w, k->len); /* char n-grams stay on the stem, as in v1 */
        size_t uni_len = k->len;
        if (e) {
            double wl = p->w_unigram / sqrt((double)e->nlemmas);
            const char *l = e->lemmas;
            for (size_t j = 0; j < e->nlemmas; j++) {
                feats_add(&f, fnv(seed(F_UNIGRAM), l, strlen(l)), wl);
                l += strlen(l) + 1;
            }
            sense_feats(&f, e, p, mult ? mult[i] : NULL);
            exp_feats(&f, e, p, mult ? mult[i] : NULL);
            uni = e->lemmas; /* the first lemma names the word in bigrams */
            uni_len = strlen(e->lemmas);
        } else {
            feats_add(&f, fnv(seed(F_UNIGRAM), w, k->len), p->w_unigram);
        }
        if (have_prev) {
            uint64_t h = fnv(seed(F_BIGRAM), prev, prev_len);
            h = fnv(h, "\x1f", 1);
            feats_add(&f, fnv(h, uni, uni_len), p->w_bigram);
        }
        if (k->kind == T_ALPHA || k->kind == T_OTHER)
            char_grams2(&f, w, k->len, p->w_chars);
        prev_len = uni_len < sizeof prev ? uni_len : sizeof prev;
        memcpy(prev, uni, prev_len);
        have_prev = 1;
    }
    for (size_t i = 0; i < t.len; i++)
        free(owns[i]);
    free(owns);
    free(ents);
    free(mult);
    finish(&f, text, len, dims, out);
    free(f.v);
    free(t.v);
    free(t.arena);
}
