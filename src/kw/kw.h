/*
 * Keyword index (docs/search.md "Keyword search"): an in-memory inverted index over the live
 * capsules' content and metadata, ranked by BM25 with exact top-k pruning (MaxScore), with the
 * visibility filters (type, trust level, deleted) applied inside the index.
 *
 *   tokens    fg_kw_tokenize: UTF-8 → folded terms with positions. Letters and digits of every
 *             script form words; Latin letters are case- and accent-folded (é → e, ß → ss,
 *             Ł → l), Greek and Cyrillic lower-cased; English words (ASCII after folding) are
 *             stemmed with Snowball's English (Porter2) stemmer from libstemmer; runs of CJK
 *             ideographs, kana and hangul become overlapping character bigrams.
 *   scoring   BM25 (k1 = 1.2, b = 0.75) with field weights: a term's frequency is
 *             tf(content) + 0.5 × tf(metadata), the document length is the token count of both
 *             fields, idf = ln(1 + (N − df + 0.5) / (df + 0.5)) over the live documents.
 *   updates   an update or delete tombstones the old document number (postings are append-only
 *             and sorted by document number); compaction renumbers when a quarter is dead.
 *   queries   fg_kw_parse: words, "phrases", prefix*, +required, -excluded (see fg_kw_parse).
 *
 * Thread model: one rwlock; searches share it, changes take it exclusively for the in-memory
 * update only (tokenising happens before). All functions are thread-safe.
 */
#ifndef KW_KW_H
#define KW_KW_H

#include <stddef.h>
#include <stdint.h>

#include "util/err.h"

#define FG_KW_TERM_MAX       64   /* bytes of one folded term (longer ones are cut) */
#define FG_KW_K1             1.2  /* BM25 term-frequency saturation */
#define FG_KW_B              0.75 /* BM25 length normalisation */
#define FG_KW_W_CONTENT      1.0  /* field weights */
#define FG_KW_W_META         0.5
#define FG_KW_MAX_CLAUSES    64   /* clauses of a parsed query (more are ignored) */
#define FG_KW_MAX_TERMS      64   /* terms of a parsed query, phrases included (more: ignored) */
#define FG_KW_PREFIX_EXPAND  64   /* indexed terms a prefix expands to (the most frequent) */
#define FG_KW_K_MAX          1000 /* results of one search */
#define FG_KW_DOC_TOKENS_MAX (1u << 20) /* tokens indexed per field of one document */
#define FG_KW_TYPE_ANY       255
#define FG_KW_COMPACT_MIN    1024 /* dead documents before compaction is considered */

/* ---- tokeniser -------------------------------------------------------------------------- */

/** Called for each term (folded, stemmed when `stem`), NUL-terminated, with its position.
 * Return non-zero to stop. */
typedef int (*fg_kw_token_cb)(const char *term, size_t len, uint32_t pos, void *ctx);

/** Tokenises UTF-8 text (invalid bytes are separators). Returns the number of terms. */
size_t fg_kw_tokenize(const char *s, size_t n, int stem, fg_kw_token_cb cb, void *ctx);

/** Character class used by the tokeniser and the query parser: 0 separator, 1 word character,
 * 2 CJK (bigrammed), 3 combining mark (ignored inside a word). */
int fg_kw_char_class(long cp);

/** Decodes one UTF-8 character of s[0..n) (n ≥ 1); returns its length, *cp = -1 when invalid. */
size_t fg_kw_utf8_next(const unsigned char *s, size_t n, long *cp);

/* ---- queries ---------------------------------------------------------------------------- */

enum fg_kw_op { FG_KW_SHOULD = 0, FG_KW_MUST, FG_KW_NOT };
enum fg_kw_kind { FG_KW_WORD = 0, FG_KW_PREFIX, FG_KW_PHRASE };

struct fg_kw_clause {
    enum fg_kw_kind kind;
    enum fg_kw_op op;
    uint16_t first, n; /* terms[first .. first + n) */
};

struct fg_kw_query {
    struct fg_kw_clause c[FG_KW_MAX_CLAUSES];
    size_t nc;
    char terms[FG_KW_MAX_TERMS][FG_KW_TERM_MAX + 1];
    size_t nt;
};

struct fg_kw_parse_error {
    size_t position; /* 1-based character (not byte) position in the query */
    char message[160];
};

/**
 * Parses user query text. Syntax (docs/search.md "Query syntax"):
 *   word        optional term (documents matching more/rarer terms rank higher)
 *   "a b c"     phrase: the words in this order, next to each other, in one field (required)
 *   word*       prefix: any indexed term starting with the folded word (up to
 *               FG_KW_PREFIX_EXPAND of them, the most frequent), scored as optional terms
 *   +x  -x      x (word, prefix or phrase) required / excluded; '+'/'-' are operators only at
 *               the start of a clause and directly followed by a word character or '"'
 * Everything else (punctuation, parentheses, ':', AND/OR...) separates words. English function
 * words are dropped from optional words when the query has other terms.
 * Returns FG_OK, or FG_EINVAL with err filled: unclosed quote, empty phrase, no term at all, or
 * only excluded clauses. Never reads past s[n]; any byte string is accepted as input.
 */
enum fg_err fg_kw_parse(const char *s, size_t n, struct fg_kw_query *q,
                        struct fg_kw_parse_error *err);

/* ---- index ------------------------------------------------------------------------------ */

struct fg_kw;

struct fg_kw_hit {
    char id[37];
    double score; /* BM25 (positive) */
};

struct fg_kw_stats {
    size_t docs;  /* live documents */
    size_t dead;  /* tombstoned document numbers not yet compacted */
    size_t terms; /* dictionary size */
    size_t postings;
    size_t bytes; /* approximate memory */
};

struct fg_kw *fg_kw_new(void);
void fg_kw_free(struct fg_kw *kw);
/** Removes every document. */
void fg_kw_clear(struct fg_kw *kw);
/** Exchanges the contents of two indexes (each under its write lock): a loaded index replaces
 * a live one without invalidating pointers searches hold. */
void fg_kw_swap(struct fg_kw *a, struct fg_kw *b);

/** Indexes (or replaces) capsule `id` with its content and metadata text. type_code: index in
 * fg_capsule_types (FG_KW_TYPE_ANY never matches a type filter); trust: its trust level. */
void fg_kw_upsert(struct fg_kw *kw, const char *id, unsigned type_code, int trust,
                  const char *content, size_t content_len, const char *meta, size_t meta_len);
/** Updates only type and trust (no-op when absent). Returns 1 when the document exists. */
int fg_kw_set_meta(struct fg_kw *kw, const char *id, unsigned type_code, int trust);
/** Removes capsule `id` (no-op when absent). */
void fg_kw_remove(struct fg_kw *kw, const char *id);

/** Top-k live documents matching the query with trust <= max_trust and (type_code != ANY) that
 * type, by BM25 descending (ties by capsule id). Returns the number of hits (≤ k ≤ K_MAX). */
size_t fg_kw_search(struct fg_kw *kw, const struct fg_kw_query *q, size_t k, int max_trust,
                    unsigned type_code, struct fg_kw_hit *out);
/** The same result computed by brute force over every live document (tests, bench). */
size_t fg_kw_search_exact(struct fg_kw *kw, const struct fg_kw_query *q, size_t k, int max_trust,
                          unsigned type_code, struct fg_kw_hit *out);

void fg_kw_get_stats(struct fg_kw *kw, struct fg_kw_stats *out);

/** Writes the index to `path` (temp file + fsync + rename), BLAKE2b-checked. */
enum fg_err fg_kw_save(struct fg_kw *kw, const char *path);
/** Replaces the contents with the file's. FG_ENOTFOUND when absent, FG_EINVAL when damaged
 * (the index is then left empty). */
enum fg_err fg_kw_load(struct fg_kw *kw, const char *path);

#endif
