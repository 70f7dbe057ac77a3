/* Embedding providers behind one interface (SPEC §5), plus an embedding cache.
 *
 * Providers: "local" (default; deterministic feature hashing plus WordNet senses, offline, see
 * docs/embeddings.md),
 * "openai" (POST {base}/v1/embeddings) and "azure" (POST {deployment}/embeddings?api-version=V).
 * An embedder is immutable after embed_new() except for embed_set_cache(); embed_texts() and the
 * getters may be called concurrently from any number of threads. */
#ifndef EMBED_EMBEDDER_H
#define EMBED_EMBEDDER_H

#include <limits.h>
#include <stddef.h>
#include <stdint.h>

#include "util/err.h"

/* ---- limits and defaults (enforced in src/embed/) --------------------------------------- */
#define EMBED_DEFAULT_PROVIDER      "local"
#define EMBED_DEFAULT_OPENAI_BASE   "https://api.openai.com"
#define EMBED_DEFAULT_MODEL         "text-embedding-3-small"
#define EMBED_DEFAULT_AZURE_VERSION "2024-02-01"
#define EMBED_LOCAL_MODEL_ID        "local-hash-v1"    /* v1: words, pairs, char n-grams */
#define EMBED_LOCAL2_MODEL_ID       "local-wordnet-v2" /* v2: v1 + WordNet lemmas and senses */
#define EMBED_DEFAULT_LOCAL_MODEL   EMBED_LOCAL_MODEL_ID
/* Each local id names one fixed algorithm: any change to a local embedder's output gets a new id
 * (stored vectors would no longer be comparable; the index then asks for `forge reindex`). */
#define EMBED_LOCAL_DEFAULT_DIMS       384u
#define EMBED_MIN_DIMS                 16u   /* smaller vectors collide too much to be useful */
#define EMBED_MAX_DIMS                 4096u /* text-embedding-3-large is 3072 */
#define EMBED_DEFAULT_TIMEOUT_MS       10000L
#define EMBED_MAX_TIMEOUT_MS           600000L
#define EMBED_DEFAULT_MAX_RETRIES      3u
#define EMBED_MAX_RETRIES_LIMIT        10u
#define EMBED_NO_RETRIES               UINT_MAX /* max_retries value meaning "0 retries" (0 = default) */
#define EMBED_MAX_BATCH                2048u /* inputs per provider request (OpenAI's limit) */
#define EMBED_MAX_BATCH_TEXT_BYTES     (1024u * 1024u) /* input bytes per provider request */
#define EMBED_MAX_TEXT_BYTES           (1024u * 1024u) /* one input text */
#define EMBED_MAX_RESPONSE_BYTES       (64u * 1024u * 1024u)
#define EMBED_RESPONSE_BYTES_PER_FLOAT 32u /* batches are sized so n*dims*this <= the cap */
#define EMBED_BACKOFF_BASE_MS          200L
#define EMBED_BACKOFF_CAP_MS           5000L
#define EMBED_CACHE_DEFAULT_TTL_S      (7L * 24 * 3600)

/* Default cosine threshold for semantic search with the local embedder, measured on the labelled
 * set in tests/unit/embed/test_local.c (see docs/embeddings.md, "Calibration"). Neural providers
 * keep the SPEC default of 0.7. */
#define EMBED_LOCAL_DEFAULT_MIN_SCORE  0.18
#define EMBED_LOCAL2_DEFAULT_MIN_SCORE 0.20 /* local-wordnet-v2, same method */
#define EMBED_NEURAL_DEFAULT_MIN_SCORE 0.7

struct embed_config {
    const char *provider;          /* "local" | "openai" | "azure"; NULL or "" = "local" */
    const char *base_url;          /* openai: default https://api.openai.com (a base ending in
                                      /v1 is accepted too); azure: the deployment URL, required */
    const char *api_key;           /* required for azure and for the default OpenAI endpoint */
    const char *model;             /* default text-embedding-3-small; ignored by "local" */
    unsigned dimensions;           /* 0 = model default (local 384; OpenAI models' native size) */
    long timeout_ms;               /* per HTTP attempt; <= 0 = 10000 */
    unsigned max_retries;          /* 0 = default 3; EMBED_NO_RETRIES = no retry at all */
    const char *azure_api_version; /* default 2024-02-01 */
    long cache_ttl_s;              /* TTL passed to the cache's put; <= 0 = 7 days */
    const char *local_model;       /* local: "local-wordnet-v2" (default) or "local-hash-v1" */
    const char *model_path;        /* model: directory with config.json, tokenizer.json and
                                      model.safetensors (EMBEDDING_MODEL_PATH) */
};

typedef struct embedder embedder_t; /* opaque */

/** Creates an embedder. The config's strings are copied. On failure returns NULL, sets *err
 * (FG_EINVAL for a bad config) and writes a human message (never containing the key) to errbuf.
 * Caller frees with embed_free(). */
embedder_t *embed_new(const struct embed_config *c, enum fg_err *err, char *errbuf, size_t errlen);
void embed_free(embedder_t *e);
unsigned embed_dimensions(const embedder_t *e);
/** "local-wordnet-v2", "local-hash-v1" or the remote model name: used for cache keys and to detect
 * that a reindex is needed (together with embed_dimensions()). Borrowed; valid until embed_free().
 */
const char *embed_model_id(const embedder_t *e);
/** The calibrated default min_score of semantic search for this embedder's vectors. */
double embed_default_min_score(const embedder_t *e);
/** "local", "openai", "azure" or "model". */
const char *embed_provider_name(const embedder_t *e);

/** Embeds n texts (lens[i] bytes each; lens may be NULL for NUL-terminated texts) into out
 * (n * dims floats, each row L2-normalised). Requests are split into batches of at most
 * EMBED_MAX_BATCH inputs. Thread-safe.
 * Returns FG_EINVAL for bad input (empty text, invalid UTF-8, text over EMBED_MAX_TEXT_BYTES),
 * FG_EUNAVAIL when the provider gives up (caller maps it to HTTP 503 service_unavailable).
 * errbuf gets a human message with no secrets. On error the contents of out are unspecified. */
enum fg_err embed_texts(embedder_t *e, const char *const *texts, const size_t *lens, size_t n,
                        float *out, char *errbuf, size_t errlen);

/* ---- cache hook ------------------------------------------------------------------------- */
/* get returns 1 and fills out (dims floats) on a hit, 0 on a miss. Both must be thread-safe.
 * The local provider does not consult the cache: computing a local vector is cheaper than the
 * lookup. */
struct embed_cache_ops {
    int (*get)(void *ctx, const uint8_t key[32], float *out, unsigned dims);
    void (*put)(void *ctx, const uint8_t key[32], const float *v, unsigned dims, long ttl_s);
    void *ctx;
};
/** Installs (ops != NULL, copied) or removes (ops == NULL) the cache. Safe to call while other
 * threads embed; the ctx must outlive its use by the embedder. */
void embed_set_cache(embedder_t *e, const struct embed_cache_ops *ops);
/** SHA-256 over a length-prefixed framing of (model, dims, text): distinct triples give
 * distinct keys. */
void embed_cache_key(const char *model, unsigned dims, const char *text, size_t len,
                     uint8_t key[32]);

/* In-process cache: LRU with at most max_entries entries, per-entry TTL (put's ttl_s; <= 0 means
 * EMBED_CACHE_DEFAULT_TTL_S), thread-safe. */
struct embed_mem_cache;
/** max_entries 0 is treated as 1. Caller frees with embed_mem_cache_free(). */
struct embed_mem_cache *embed_mem_cache_new(size_t max_entries);
void embed_mem_cache_free(struct embed_mem_cache *c);
struct embed_cache_ops embed_mem_cache_ops(struct embed_mem_cache *c);
size_t embed_mem_cache_len(struct embed_mem_cache *c);
/** Replaces the clock (seconds, monotonic) used for TTLs; NULL restores the default. For tests. */
typedef int64_t (*embed_clock_fn)(void *ctx);
void embed_mem_cache_set_clock(struct embed_mem_cache *c, embed_clock_fn now, void *ctx);

/* ---- counters for metrics ----------------------------------------------------------------- */
struct embed_stats {
    uint64_t requests;       /* embed_texts calls */
    uint64_t texts;          /* texts passed to embed_texts */
    uint64_t cache_hits;     /* texts answered by the cache */
    uint64_t cache_misses;   /* texts looked up in the cache and not found */
    uint64_t errors;         /* embed_texts calls that failed */
    uint64_t retries;        /* HTTP attempts after the first one of a batch */
    uint64_t provider_calls; /* HTTP requests sent (every attempt counts) */
};
void embed_get_stats(const embedder_t *e, struct embed_stats *out);

/* ---- configuration from the environment --------------------------------------------------- */
/* lookup(ctx, name) returns the variable's value or NULL; lookup NULL means getenv. The strings
 * stored in *c are borrowed from lookup's storage. Reads EMBEDDING_PROVIDER, EMBEDDING_BASE_URL,
 * OPENAI_API_KEY (AZURE_OPENAI_API_KEY first for azure), EMBEDDING_MODEL, EMBEDDING_DIMENSIONS,
 * EMBEDDING_TIMEOUT_MS, EMBEDDING_MAX_RETRIES, AZURE_OPENAI_API_VERSION, EMBEDDING_LOCAL_MODEL,
 * EMBEDDING_MODEL_PATH.
 * Unset variables leave the field zero (= default). FG_EINVAL with a message for a malformed
 * number. */
typedef const char *(*embed_env_lookup_fn)(void *ctx, const char *name);
enum fg_err embed_config_from_env(struct embed_config *c, embed_env_lookup_fn lookup, void *ctx,
                                  char *errbuf, size_t errlen);

#endif
