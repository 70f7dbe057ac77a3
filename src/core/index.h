/*
 * Vector index manager (SPEC §5, docs/search.md "Index lifecycle"): keeps this process's HNSW
 * index (src/vec/hnsw.h) in step with the capsules in the store.
 *
 *   start    load the checkpoint (INDEX_PATH: a manifest with the change-feed seq, the embedding
 *            space and the label table, naming a graph file written by hnsw_save), then replay
 *            the change feed since its seq. No usable checkpoint: rebuild from the embeddings
 *            stored with the capsules (embedding only capsules that have none).
 *   follow   a thread polls the change feed (capsule_changes) every poll_ms and applies it, so
 *            changes written by other processes or replicas become searchable; fg_index_sync()
 *            applies what is pending synchronously (read-your-writes for the caller).
 *   persist  a checkpoint every checkpoint_changes applied changes or checkpoint_s seconds
 *            (when something changed) and at shutdown, by the one process that holds the
 *            checkpoint lock (<INDEX_PATH>.lock); other processes on the same files only read.
 *
 * Labels: capsule ids (UUIDv7 text) map to dense uint64 labels through an in-memory table that
 * is saved with the checkpoint. Per label the table keeps what the search filters need (type,
 * trust level, state), so filtering happens inside the HNSW search (filter callback).
 *
 * Embedding space: the stored embeddings belong to one "model:dims" space, recorded in the store
 * (store/search.h space_get). When the configured embedder differs and live capsules exist the
 * index refuses to load (state FG_INDEX_REINDEX_REQUIRED) until `forge reindex` has run.
 *
 * Thread model: one mutex serialises every change to the index (apply, rebuild, checkpoint);
 * searches take a read lock on the label table and run concurrently with each other. All
 * functions are thread-safe.
 */
#ifndef CORE_INDEX_H
#define CORE_INDEX_H

#include <stddef.h>
#include <stdint.h>

#include "embed/embedder.h"
#include "util/err.h"

struct store;

/* Defaults and limits. */
#define FG_INDEX_POLL_MS_DEFAULT            150 /* follower poll interval */
#define FG_INDEX_POLL_MS_MAX                60000
#define FG_INDEX_CHECKPOINT_CHANGES_DEFAULT 20000      /* applied changes between checkpoints */
#define FG_INDEX_CHECKPOINT_S_DEFAULT       300        /* seconds between checkpoints (if dirty) */
#define FG_INDEX_FEED_BATCH                 512        /* change-feed rows read per step */
#define FG_INDEX_EMBED_BATCH                256        /* texts per embedding call while applying */
#define FG_INDEX_EMBED_BATCH_BYTES          (4u << 20) /* text bytes per embedding call */
#define FG_INDEX_SCAN_PAGE                  512        /* capsules per page of a rebuild scan */
#define FG_INDEX_REPLAY_MAX                                                                        \
    20000                           /* a checkpoint further behind (and behind by more rows than   \
                                       it has vectors) is not replayed: the index is rebuilt */
#define FG_INDEX_RETRY_S       5    /* retry of capsules whose embedding failed */
#define FG_INDEX_SYNC_WAIT_MS  2000 /* fg_index_sync waits this long for another applier */
#define FG_INDEX_SPACE_CHECK_S 2    /* how often the stored embedding space is re-read */
#define FG_INDEX_SEED          0x466f726765ull /* HNSW level seed ("Forge"): reproducible graphs */
#define FG_INDEX_TYPE_ANY      255

enum fg_index_state {
    FG_INDEX_LOADING = 0,      /* loading or rebuilding: not searchable yet */
    FG_INDEX_READY,            /* searchable, following the change feed */
    FG_INDEX_REINDEX_REQUIRED, /* the configured embedder differs from the stored embeddings */
    FG_INDEX_FAILED,           /* the store failed during loading; retried by the thread */
};

struct fg_index_options {
    const char *path; /* checkpoint manifest; NULL or "" = no checkpoints (in-memory only) */
    unsigned M, ef_construction, ef_search;
    int quantize;                 /* int8 scalar quantisation */
    long poll_ms;                 /* 0 = FG_INDEX_POLL_MS_DEFAULT */
    long long checkpoint_changes; /* 0 = default */
    long checkpoint_s;            /* 0 = default */
    long long replay_max;         /* 0 = FG_INDEX_REPLAY_MAX */
};

struct fg_index_status {
    enum fg_index_state state;
    char reason[300];      /* why not ready ("" when ready) */
    long long applied_seq; /* last change-feed seq applied */
    long long head_seq;    /* the feed's head (-1 if the store did not answer) */
    size_t vectors;        /* live vectors in the index */
    size_t pending;        /* live capsules waiting for an embedding (provider failures) */
    int owner;             /* 1 if this process writes the checkpoint */
    char space[128];       /* "model:dims" of the configured embedder */
};

/** Startup counters of the last load (for logs, tests and the bench). */
struct fg_index_load_info {
    const char *source;   /* "checkpoint" | "rebuild" | "empty" */
    double seconds;       /* until ready */
    long long replayed;   /* change-feed rows applied after the checkpoint */
    long long embedded;   /* texts embedded while loading */
    long long from_store; /* vectors taken from stored embeddings (rebuild) */
};

struct fg_index_hit {
    char id[37];
    float score; /* cosine similarity */
};

struct fg_index;

/** Creates a manager (no I/O besides taking the checkpoint lock). `emb` and `st` are borrowed
 * and must outlive it. NULL with a message on a bad option. Free with fg_index_free. */
struct fg_index *fg_index_new(struct store *st, embedder_t *emb, const struct fg_index_options *o,
                              char *err, size_t errlen);
/** Stops the follower, writes a final checkpoint (owner, when changed) and frees. */
void fg_index_free(struct fg_index *ix);

/** Loads (checkpoint + replay, or rebuild) in a background thread that then follows the feed. */
enum fg_err fg_index_start(struct fg_index *ix);
/** Loads synchronously in the calling thread, without a follower (CLI, tests). */
enum fg_err fg_index_load(struct fg_index *ix);

/** Applies every change up to the feed's current head. FG_EUNAVAIL when the index is not ready;
 * cheap (one query) when nothing is pending. When another thread is applying and does not finish
 * within FG_INDEX_SYNC_WAIT_MS, returns FG_OK without waiting further (the caller searches the
 * index as it is). */
enum fg_err fg_index_sync(struct fg_index *ix);

/** Top-k live vectors by cosine with trust_level <= max_trust and (type_code != ANY) the given
 * type (index in fg_capsule_types), best first. Returns the number of hits written. */
size_t fg_index_search(struct fg_index *ix, const float *q, size_t k, int max_trust,
                       unsigned type_code, struct fg_index_hit *out);

struct fg_kw_query;
struct fg_kw_hit;
/** Keyword search (src/kw) over the same capsules, kept at the same feed position as the
 * vectors and saved with the checkpoint ("<INDEX_PATH>.<gen>.kw"). Top-k by BM25 with
 * trust_level <= max_trust and (type_code != ANY) the given type; *n hits written.
 * FG_EUNAVAIL when the index is not ready (loading, reindex required): callers fall back to the
 * store's full-text search. */
enum fg_err fg_index_keyword(struct fg_index *ix, const struct fg_kw_query *q, size_t k,
                             int max_trust, unsigned type_code, struct fg_kw_hit *out, size_t *n);

/** Writes a checkpoint now (owner only; FG_EFORBIDDEN otherwise). */
enum fg_err fg_index_checkpoint(struct fg_index *ix);

void fg_index_get_status(struct fg_index *ix, struct fg_index_status *out);
void fg_index_get_load_info(struct fg_index *ix, struct fg_index_load_info *out);
unsigned fg_index_dimensions(const struct fg_index *ix);

/** `forge reindex`: re-embeds every live capsule with the configured embedder, stores the
 * embeddings, drops those of deleted capsules, records the new embedding space, rebuilds the
 * index and writes the checkpoint. Requires the checkpoint lock (no server running on the same
 * INDEX_PATH) unless the manager has no path. progress(done, total, ctx) is called every few
 * thousand capsules and at the end. */
typedef void (*fg_index_progress_fn)(long long done, long long total, void *ctx);
enum fg_err fg_index_reindex(struct fg_index *ix, fg_index_progress_fn progress, void *ctx,
                             char *err, size_t errlen);

/** "model:dims" of an embedder. */
void fg_index_space_name(embedder_t *emb, char *out, size_t outlen);
/** Type code (index in fg_capsule_types) of a type name, FG_INDEX_TYPE_ANY for NULL/unknown. */
unsigned fg_index_type_code(const char *type);

#endif
