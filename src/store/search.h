/*
 * Store area: search (SPEC §4.3, §5) — full-text (BM25) queries, the DERIVED_FROM neighbourhood
 * used by the hybrid hop boost, the scan that (re)builds the vector index, and the bookkeeping of
 * which embedding space the stored capsule embeddings belong to.
 *
 * The full-text index is kept in step with the capsules table by triggers (SQLite:
 * migrations/040_search.sql), so no writer can forget it. Deleted capsules are not in it.
 *
 * Ownership: rows passed to callbacks are borrowed for the duration of the callback.
 */
#ifndef STORE_SEARCH_H
#define STORE_SEARCH_H

#include <stddef.h>
#include <stdint.h>

#include "util/err.h"

struct store_conn;

/* Bounds enforced by the store. */
#define STORE_SEARCH_KEYWORD_LIMIT_MAX 1000 /* rows per keyword query */
#define STORE_SEARCH_SPACE_MAX         256  /* bytes of an embedding-space name */

/** A keyword query. `match` is an FTS expression built by the core from user text (never the
 * raw text: see fg_search_fts_query); visibility filters are applied in SQL. */
struct store_keyword_query {
    const char *match; /* SQLite FTS5 MATCH expression */
    int max_trust;     /* only capsules with trust_level <= max_trust */
    const char *type;  /* NULL: any type */
    long long limit;   /* 1..STORE_SEARCH_KEYWORD_LIMIT_MAX */
};

/** One keyword hit, best first. bm25 is positive: higher is more relevant. */
struct store_keyword_hit {
    const char *capsule_id;
    double bm25;
};

/** A live capsule as the vector index needs it (scan for a rebuild). */
struct store_search_doc {
    const char *id;
    const char *content;
    size_t content_len;
    const char *content_hash;
    const char *type;
    int trust_level;
    const void *embedding; /* NULL when none is stored */
    size_t embedding_len;
    const char *metadata; /* JSON object text (for the keyword index) */
    size_t metadata_len;
};

typedef int (*store_keyword_cb)(const struct store_keyword_hit *h, void *ctx);
typedef int (*store_doc_cb)(const struct store_search_doc *d, void *ctx);
/* d = hops from the start (0 for the start itself). */
typedef int (*store_hop_cb)(const char *id, int d, void *ctx);

struct store_search_ops {
    /** Full-text query over live capsules' content and metadata, BM25 order (ties by id).
     * FG_EINVAL when the store rejects the expression (the core builds only valid ones). */
    enum fg_err (*keyword)(struct store_conn *c, const struct store_keyword_query *q,
                           store_keyword_cb cb, void *ctx);
    /** Breadth-first walk of DERIVED_FROM edges in both directions from `id` (which need not
     * exist), up to `max_hops`, each capsule reported once with its distance, nearest first.
     * Deleted capsules are walked through and reported (callers filter). Stops after
     * `max_nodes` capsules; *truncated = 1 then. */
    enum fg_err (*neighbourhood)(struct store_conn *c, const char *id, int max_hops,
                                 size_t max_nodes, store_hop_cb cb, void *ctx, int *truncated);
    /** Live capsules with id > after_id (NULL/"" = from the start), ascending id, at most
     * `limit`; embeddings included when `with_embedding`. */
    enum fg_err (*scan_live)(struct store_conn *c, const char *after_id, long long limit,
                             int with_embedding, store_doc_cb cb, void *ctx);
    /** The embedding space ("model:dims") the stored embeddings belong to; "" when never set. */
    enum fg_err (*space_get)(struct store_conn *c, char *out, size_t outlen);
    /** Records the embedding space (runs in the caller's transaction, if any). */
    enum fg_err (*space_set)(struct store_conn *c, const char *space);
    /** Drops the stored embeddings of deleted capsules; *n = how many. */
    enum fg_err (*clear_deleted_embeddings)(struct store_conn *c, long long *n);
    /** Number of live capsules with a stored embedding. */
    enum fg_err (*count_embedded)(struct store_conn *c, long long *n);
};

#endif
