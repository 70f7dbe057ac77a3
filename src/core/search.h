/*
 * Search (SPEC §4.3): semantic (cosine over the vector index), keyword (full text, BM25) and
 * hybrid (reciprocal rank fusion of both, boosted by DERIVED_FROM proximity to a context
 * capsule). Design, scores and calibration: docs/search.md.
 *
 * The subsystem owns the embedder and the vector index manager (core/index.h) of the process;
 * fg_search_start() creates them and starts loading the index in the background, and
 * app->search points at its state. No SQL and no HTTP here: the store (store/search.h,
 * store/capsules.h) answers queries, the API (api/search.c) turns requests into calls.
 *
 * Visibility is the same as everywhere (core/capsule.h): a result is returned only when it is
 * live and the caller's read trust reaches its trust level; the index filters during the graph
 * search and every returned capsule is checked again against the store.
 */
#ifndef CORE_SEARCH_H
#define CORE_SEARCH_H

#include <stddef.h>

#include <jansson.h>

#include "core/capsule.h"
#include "store/capsules.h"
#include "util/err.h"
#include "util/uuid.h"

struct fg_app;
struct fg_config;
struct fg_index_options;

/* Limits of a request (SPEC §4.3) and of the work it may cause. */
#define FG_SEARCH_QUERY_MAX_CHARS     10000
#define FG_SEARCH_LIMIT_DEFAULT       10
#define FG_SEARCH_LIMIT_MAX           100
#define FG_SEARCH_MAX_HOPS_DEFAULT    2
#define FG_SEARCH_MAX_HOPS_MAX        5
#define FG_SEARCH_RRF_K               60 /* reciprocal rank fusion constant (Cormack et al. 2009) */
#define FG_SEARCH_HOP_BOOST           0.1 /* score × (1 + 0.1 × (max_hops − d + 1)) */
#define FG_SEARCH_OVERFETCH           8 /* extra candidates fetched to survive the store re-check */
#define FG_SEARCH_FETCH_WINDOW        32 /* candidates read from the store in one get_many call */
#define FG_SEARCH_FETCH_SLACK         4  /* extra candidates per window for those filtered out */
#define FG_SEARCH_HYBRID_WINDOW_MIN   50 /* candidates per ranking fused in hybrid mode */
#define FG_SEARCH_HYBRID_WINDOW_MAX   200
#define FG_SEARCH_SEMANTIC_K_MAX      1000  /* widest semantic fetch after re-check losses */
#define FG_SEARCH_HOPS_MAX_NODES      10000 /* capsules visited by the hop walk */
#define FG_SEARCH_FTS_MAX_TERMS       64    /* words of a query used for full text */
#define FG_SEARCH_FTS_TERM_MAX        128   /* bytes of one word */
#define FG_SEARCH_FTS_QUERY_MAX       (FG_SEARCH_FTS_MAX_TERMS * (FG_SEARCH_FTS_TERM_MAX + 6) + 1)
#define FG_SEARCH_EMBED_CACHE_ENTRIES 10000         /* query embedding cache (remote providers) */
#define FG_SEARCH_INDEX_FILE          "forge.index" /* default checkpoint, next to the SQLite file */

enum fg_search_mode { FG_SEARCH_SEMANTIC = 0, FG_SEARCH_KEYWORD, FG_SEARCH_HYBRID };

/** Mode names, NULL-terminated, in enum order. */
extern const char *const fg_search_modes[];

struct fg_search_request {
    const char *query; /* UTF-8, 1..FG_SEARCH_QUERY_MAX_CHARS characters */
    size_t query_len;  /* bytes */
    enum fg_search_mode mode;
    int limit;              /* 1..FG_SEARCH_LIMIT_MAX */
    double min_score;       /* 0..1; < 0: the default (fg_search_default_min_score) */
    const char *type;       /* NULL: any type */
    const char *context_id; /* hybrid only: boost capsules near this one; NULL: none */
    int max_hops;           /* 0..FG_SEARCH_MAX_HOPS_MAX (with context_id) */
};

struct fg_search_result {
    struct store_capsule cap; /* owned: release with fg_search_response_clear */
    double score;             /* the mode's score (see docs/search.md "Scores") */
    double semantic_score;    /* cosine similarity (has_semantic) */
    int has_semantic;
    int semantic_rank;    /* 1-based rank in the semantic candidates, 0 = not among them */
    int keyword_rank;     /* 1-based rank in the keyword candidates, 0 = not among them */
    double bm25;          /* keyword relevance (positive; has meaning when keyword_rank > 0) */
    int hops;             /* DERIVED_FROM distance to the context capsule, -1 = unrelated/none */
    size_t content_bytes; /* > 0: cap.content was cut to a preview (budget); the full size */
    char superseded_by[FG_UUID_STRLEN + 1]; /* the live capsule superseding this one ("" =
                                               none), as fg_graph_annotate reports it */
};

struct fg_search_response {
    struct fg_search_result *v;
    size_t n;
    enum fg_search_mode mode;
    double min_score; /* the threshold applied (-1 in keyword mode when none was asked for) */
    double took_ms;
    int see_quarantined_owners;      /* internal: admins also get capsules of quarantined owners */
    struct fg_content_budget budget; /* internal: content bytes the results may still carry */
};

/** Why a search failed (FG_EINVAL: field + message; FG_ENOTFOUND: what; FG_EUNAVAIL: message). */
struct fg_search_why {
    const char *field;
    const char *what;
    char message[300];
    size_t position; /* FG_EINVAL on query syntax: 1-based character position (0: none) */
};

/** Creates the embedder and the index manager from the configuration and starts loading the
 * index in the background (sets app->search). -1 with a message for a bad configuration. */
int fg_search_start(struct fg_app *app, char *err, size_t errlen);
/** Stops the follower (final checkpoint) and frees the subsystem. */
void fg_search_stop(struct fg_app *app);

/** Applies pending change-feed rows to the index up to the current head (read-your-writes).
 * FG_EUNAVAIL when the index is not loaded. Cheap when nothing is pending. */
enum fg_err fg_search_sync(struct fg_app *app);

/** Runs a search for the actor. On success `out` holds up to rq->limit results, best first;
 * release with fg_search_response_clear. */
enum fg_err fg_search_run(struct fg_app *app, const struct fg_ctx *a,
                          const struct fg_search_request *rq, struct fg_search_response *out,
                          struct fg_search_why *why);
void fg_search_response_clear(struct fg_search_response *r);

/** The min_score used when a request gives none: SEARCH_MIN_SCORE, or the embedder's
 * calibrated default (local 0.18, neural providers 0.7). */
double fg_search_default_min_score(const struct fg_app *app);

/** Readiness of the index for /health/ready: adds "index" (ok | loading | reindex_required |
 * failed | disabled), "index_lag" (change-feed rows not yet applied), "index_vectors" and, when
 * not ready, "index_reason" to `checks`. Returns 1 when the index does not block readiness. */
int fg_search_ready_checks(struct fg_app *app, json_t *checks);

/* ---- building blocks (pure; unit-tested) ---------------------------------------------- */

/** Builds a safe SQLite FTS5 MATCH expression from user text: every run of word characters
 * (ASCII letters and digits, and non-ASCII characters outside the common punctuation and
 * symbol blocks) becomes a double-quoted term; terms are joined with OR; repeated terms
 * (ASCII case-insensitive) are dropped, and so are English function words ("the", "how", ...)
 * when the query has other words; at most FG_SEARCH_FTS_MAX_TERMS terms of at most
 * FG_SEARCH_FTS_TERM_MAX bytes (cut at a character boundary). No FTS syntax of the input
 * survives: quotes, operators, parentheses, column filters and '*' are separators. Returns the
 * number of terms (0: nothing searchable; out is then ""). outlen ≥ FG_SEARCH_FTS_QUERY_MAX. */
size_t fg_search_fts_query(const char *text, size_t len, char *out, size_t outlen);

/** Reciprocal rank fusion of two rankings (1-based ranks, 0 = absent), normalised so that
 * rank 1 in both gives 1.0: (1/(k+r1) + 1/(k+r2)) / (2/(k+1)). */
double fg_search_rrf(int rank_a, int rank_b, int k);

/** SPEC §4.3 hop boost multiplier: 1 + 0.1 × (max_hops − d + 1) for 0 ≤ d ≤ max_hops, else 1. */
double fg_search_hop_boost(int hops, int max_hops);

/** Resolves the checkpoint path: INDEX_PATH, or "<directory of the SQLite file>/forge.index";
 * "" when there is neither (PostgreSQL without INDEX_PATH: no checkpoint). */
void fg_search_index_path(const struct fg_config *cfg, char *out, size_t outlen);
/** Index options from the configuration (path into pathbuf). */
void fg_search_index_options(const struct fg_config *cfg, struct fg_index_options *o, char *pathbuf,
                             size_t pathlen);
/** The embedder configured by EMBEDDING_* (caller frees with embed_free). */
struct embedder *fg_search_embedder_new(const struct fg_config *cfg, char *err, size_t errlen);

#endif
