/*
 * Keyword query parser: user text → clauses (word, prefix, phrase; optional, required,
 * excluded). Syntax in kw.h (fg_kw_parse) and docs/search.md "Query syntax". Single pass over
 * the bytes, bounded output, no recursion: any byte string is a valid input, and the only
 * errors are an unclosed quote, an empty phrase, no term, and only excluded clauses.
 */
#include "kw/kw.h"

#include <stdio.h>
#include <string.h>

static int lower_eq(const char *a, size_t al, const char *w)
{
    size_t wl = strlen(w);
    if (al != wl)
        return 0;
    for (size_t i = 0; i < al; i++) {
        unsigned char x = (unsigned char)a[i];
        if (x >= 'A' && x <= 'Z')
            x = (unsigned char)(x + 32);
        if (x != (unsigned char)w[i])
            return 0;
    }
    return 1;
}

/* English function words dropped from optional words when the query has other terms: they
 * match most documents and add nothing to BM25. */
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
        if (lower_eq(w, n, words[i]))
            return 1;
    return 0;
}

struct collect {
    char (*out)[FG_KW_TERM_MAX + 1];
    size_t n, max;
};

static int collect_cb(const char *term, size_t len, uint32_t pos, void *ctx)
{
    (void)pos;
    struct collect *c = ctx;
    if (c->n >= c->max)
        return 1;
    memcpy(c->out[c->n], term, len + 1);
    c->n++;
    return 0;
}

static void fail(struct fg_kw_parse_error *err, size_t pos, const char *msg)
{
    if (!err)
        return;
    err->position = pos;
    snprintf(err->message, sizeof err->message, "%s", msg);
}

/* Adds a clause over the terms of text[0..len); returns 0 when the query is full. */
static int add_clause(struct fg_kw_query *q, enum fg_kw_kind kind, enum fg_kw_op op,
                      const char *text, size_t len, unsigned char *stop, size_t *n_added)
{
    *n_added = 0;
    if (q->nc >= FG_KW_MAX_CLAUSES || q->nt >= FG_KW_MAX_TERMS)
        return 0;
    struct collect c = {q->terms + q->nt, 0, FG_KW_MAX_TERMS - q->nt};
    fg_kw_tokenize(text, len, kind != FG_KW_PREFIX, collect_cb, &c);
    if (!c.n)
        return 1;
    *n_added = c.n;
    if (kind == FG_KW_PREFIX && c.n > 1)
        kind = FG_KW_WORD; /* CJK or mixed runs: no prefix matching, plain terms */
    if (c.n > 1 && kind == FG_KW_WORD && op == FG_KW_SHOULD) {
        /* Several terms from one run (CJK bigrams, "中文abc"): optional terms each. */
        for (size_t t = 0; t < c.n && q->nc < FG_KW_MAX_CLAUSES; t++) {
            stop[q->nc] = 0;
            q->c[q->nc++] =
                (struct fg_kw_clause){FG_KW_WORD, FG_KW_SHOULD, (uint16_t)(q->nt + t), 1};
        }
        q->nt += c.n;
        return 1;
    }
    if (c.n > 1)
        kind = FG_KW_PHRASE; /* +中文 / -中文: the bigrams in order */
    stop[q->nc] = kind == FG_KW_WORD && op == FG_KW_SHOULD && stop_word(text, len);
    q->c[q->nc++] = (struct fg_kw_clause){kind, op, (uint16_t)q->nt, (uint16_t)c.n};
    q->nt += c.n;
    return 1;
}

enum fg_err fg_kw_parse(const char *text, size_t n, struct fg_kw_query *q,
                        struct fg_kw_parse_error *err)
{
    const unsigned char *s = (const unsigned char *)text;
    unsigned char stop[FG_KW_MAX_CLAUSES];
    size_t i = 0, ci = 0; /* byte offset, character index (0-based) */
    int prev_sep = 1;     /* the previous character separates clauses */
    enum fg_kw_op op = FG_KW_SHOULD;
    size_t op_pos = 0;
    memset(q, 0, sizeof *q);
    if (err) {
        err->position = 0;
        err->message[0] = '\0';
    }
    if (!text)
        n = 0;
    while (i < n) {
        long cp;
        size_t cl = fg_kw_utf8_next(s + i, n - i, &cp);
        if (cp == '"') {
            size_t j = i + 1, cj = ci + 1;
            while (j < n && s[j] != '"') {
                long c2;
                j += fg_kw_utf8_next(s + j, n - j, &c2);
                cj++;
            }
            if (j >= n) {
                fail(err, ci + 1, "unclosed quote");
                return FG_EINVAL;
            }
            size_t added = 0;
            if (!add_clause(q, FG_KW_PHRASE, op, text + i + 1, j - i - 1, stop, &added))
                break;
            if (!added) {
                fail(err, ci + 1, "empty phrase: a quoted phrase needs at least one word");
                return FG_EINVAL;
            }
            op = FG_KW_SHOULD;
            i = j + 1;
            ci = cj + 1;
            prev_sep = 1;
            continue;
        }
        if ((cp == '+' || cp == '-') && prev_sep && i + 1 < n) {
            long nx;
            fg_kw_utf8_next(s + i + 1, n - i - 1, &nx);
            int nc = fg_kw_char_class(nx);
            if (nx == '"' || nc == 1 || nc == 2) {
                op = cp == '+' ? FG_KW_MUST : FG_KW_NOT;
                op_pos = ci + 1;
                i += 1;
                ci += 1;
                continue;
            }
        }
        int cls = fg_kw_char_class(cp);
        if (cls == 0) {
            i += cl;
            ci++;
            prev_sep = 1;
            op = FG_KW_SHOULD;
            continue;
        }
        /* A run of word characters, maybe followed by '*'. */
        size_t start = i;
        while (i < n) {
            long c2;
            size_t l2 = fg_kw_utf8_next(s + i, n - i, &c2);
            if (fg_kw_char_class(c2) == 0)
                break;
            i += l2;
            ci++;
        }
        size_t end = i;
        int prefix = i < n && s[i] == '*';
        if (prefix) {
            i++;
            ci++;
        }
        size_t added = 0;
        if (!add_clause(q, prefix ? FG_KW_PREFIX : FG_KW_WORD, op, text + start, end - start, stop,
                        &added))
            break;
        op = FG_KW_SHOULD;
        prev_sep = 0;
    }
    (void)op_pos;
    if (!q->nt) {
        fail(err, 1, "query must contain at least one word (letters or digits)");
        return FG_EINVAL;
    }
    /* Drop repeated optional words, then function words when something else remains. */
    size_t k = 0, content = 0, positive = 0;
    for (size_t c = 0; c < q->nc; c++) {
        struct fg_kw_clause *x = &q->c[c];
        int dup = 0;
        if (x->kind == FG_KW_WORD && x->op == FG_KW_SHOULD)
            for (size_t d = 0; d < k && !dup; d++)
                dup = q->c[d].kind == FG_KW_WORD && q->c[d].op == FG_KW_SHOULD &&
                      strcmp(q->terms[q->c[d].first], q->terms[x->first]) == 0;
        if (dup)
            continue;
        stop[k] = stop[c];
        q->c[k++] = *x;
    }
    q->nc = k;
    for (size_t c = 0; c < q->nc; c++) {
        content += !stop[c] && q->c[c].op != FG_KW_NOT;
        positive += q->c[c].op != FG_KW_NOT;
    }
    if (!positive) {
        fail(err, 1, "the query has only excluded terms (-word): add a term to search for");
        return FG_EINVAL;
    }
    if (content && content < positive) {
        k = 0;
        for (size_t c = 0; c < q->nc; c++)
            if (!stop[c])
                q->c[k++] = q->c[c];
        q->nc = k;
    }
    return FG_OK;
}
