/* Forge vector index: HNSW (Malkov & Yashunin, arXiv:1603.09320) over cosine similarity, with
 * optional int8 scalar quantisation. Design, delete strategy, file format and thread model:
 * docs/vector-index.md and the comment at the top of src/vec/hnsw.c. */
#ifndef FG_VEC_HNSW_H
#define FG_VEC_HNSW_H

#include <stddef.h>
#include <stdint.h>

#include "util/err.h"

/* Limits enforced by hnsw_new / hnsw_load / hnsw_search. */
#define HNSW_DIM_MAX             4096u
#define HNSW_M_MIN               4u
#define HNSW_M_MAX               64u
#define HNSW_EF_CONSTRUCTION_MAX 4096u
#define HNSW_EF_MAX              4096u      /* search ef is clamped to max(k, HNSW_EF_MAX) */
#define HNSW_LEVEL_MAX           15         /* random levels are capped here */
#define HNSW_SLOTS_MAX           (1u << 30) /* internal ids are uint32; bounded well below */

/* Defaults used when the corresponding hnsw_params field is 0. */
#define HNSW_EF_CONSTRUCTION_DEFAULT  200u
#define HNSW_VACUUM_THRESHOLD_DEFAULT 0.10 /* tombstone fraction that triggers hnsw_vacuum */
#define HNSW_INITIAL_CAPACITY_DEFAULT 1024u

typedef struct hnsw_index hnsw_index_t; /* opaque */

struct hnsw_params {
    unsigned dim;             /* 1..HNSW_DIM_MAX */
    unsigned M;               /* 4..64, typically 16; level 0 keeps 2*M links */
    unsigned ef_construction; /* 0 = 200 */
    int quantize_int8;        /* 1: graph search on int8 codes, exact float re-ranking */
    uint64_t seed;            /* level generator seed: same seed + same inserts = same graph */
    /* Optional fields (0/NULL = default). */
    size_t initial_capacity; /* slots allocated up front (0 = 1024); grows by 1.5x */
    double vacuum_threshold; /* 0 = 0.10; < 0 disables automatic vacuum (call hnsw_vacuum) */
    const char *float_dir;   /* int8 mode: directory of the float side file (NULL: $TMPDIR, /tmp) */
    unsigned rerank;         /* int8 mode: candidates re-ranked exactly (0 = max(4k, 32), <= ef) */
};

/** Creates an empty index. NULL on bad params (dim 1..4096, M 4..64, ef_construction <= 4096) or,
 *  in int8 mode, when the float side file cannot be created. Caller frees with hnsw_free. */
hnsw_index_t *hnsw_new(const struct hnsw_params *p);
void hnsw_free(hnsw_index_t *idx);

/** Inserts (or, for an existing label, replaces) a vector of params.dim floats. The vector is
 *  normalised internally; NaN/Inf or an all-zero vector is FG_EINVAL. FG_ELIMIT past
 *  HNSW_SLOTS_MAX, FG_EIO if the int8 float side file cannot grow. */
enum fg_err hnsw_insert(hnsw_index_t *idx, uint64_t label, const float *vec);
/** Removes a label (tombstone; the graph is repaired by hnsw_vacuum). FG_ENOTFOUND if absent. */
enum fg_err hnsw_delete(hnsw_index_t *idx, uint64_t label);
/** Repairs the links of every node that points at a tombstone, then frees the tombstones' slots.
 *  Runs automatically when tombstones exceed vacuum_threshold of the slots in use. */
enum fg_err hnsw_vacuum(hnsw_index_t *idx);

/* Called under the index's read lock: must not call back into the same index. */
typedef int (*hnsw_filter_fn)(uint64_t label, void *ctx); /* return 1 to accept */
struct hnsw_hit {
    uint64_t label;
    float score; /* cosine similarity, exact float even in int8 mode */
};
/** Top-k by cosine, best first. The filter is applied during the graph search; when it is so
 *  selective that the search would visit a large part of the graph, or the graph search yields
 *  fewer than k, an exact scan is used instead, so k hits come back whenever k accepted vectors
 *  exist. ef < k is raised to k. Returns the number of hits written to out (<= k); 0 for an
 *  invalid (non-finite or zero) query. */
size_t hnsw_search(hnsw_index_t *idx, const float *query, size_t k, size_t ef, hnsw_filter_fn f,
                   void *ctx, struct hnsw_hit *out);

size_t hnsw_count(const hnsw_index_t *idx); /* live vectors */
/** Bytes held in RAM by the index: vectors, graph, metadata, label map and pooled search
 *  scratch. In int8 mode the float side file (page cache, evictable) is NOT included; see
 *  hnsw_stats.float_file_bytes. */
size_t hnsw_memory_bytes(const hnsw_index_t *idx);

struct hnsw_stats {
    size_t live;             /* = hnsw_count */
    size_t tombstones;       /* deleted, still in the graph until the next vacuum */
    size_t slots;            /* slots in use (live + tombstones + free) */
    size_t free_slots;       /* vacuumed slots awaiting reuse */
    size_t capacity;         /* allocated slots */
    size_t memory_bytes;     /* = hnsw_memory_bytes */
    size_t float_file_bytes; /* int8 mode: size of the float side file, else 0 */
    unsigned max_level;
    uint64_t vacuums;     /* vacuum passes run */
    uint64_t exact_scans; /* searches answered by the exact-scan fallback (selective filters) */
    const char *kernel;   /* distance kernel in use: "avx512", "avx2", "scalar" */
};
void hnsw_get_stats(const hnsw_index_t *idx, struct hnsw_stats *st);

/** Atomic save: temp file in the same directory + fsync + rename + fsync(dir). Checksummed
 *  (XXH64 of header and payload). Runs under the read lock: searches continue. */
enum fg_err hnsw_save(const hnsw_index_t *idx, const char *path);
/** Loads a file written by hnsw_save; validates header, checksum and graph bounds. NULL on error
 *  with *err set (FG_EIO unreadable, FG_EINVAL corrupt/incompatible). Runtime-only params
 *  (float_dir, rerank, vacuum_threshold) take their defaults; see hnsw_load_with. */
hnsw_index_t *hnsw_load(const char *path, enum fg_err *err);
/** As hnsw_load, taking float_dir/rerank/vacuum_threshold from opt (NULL = defaults). */
hnsw_index_t *hnsw_load_with(const char *path, const struct hnsw_params *opt, enum fg_err *err);

/** Exact brute-force top-k by cosine over n row-major vectors of dim floats (rows need not be
 *  normalised; zero or non-finite rows are skipped). Labels are row indices. Returns hits written.
 */
size_t vec_exact_search(const float *data, size_t n, unsigned dim, const float *q, size_t k,
                        struct hnsw_hit *out);

#endif
