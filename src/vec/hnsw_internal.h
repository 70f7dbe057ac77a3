/* Internal layout of the HNSW index, shared by the src/vec/hnsw*.c files. Not a public header. */
#ifndef FG_VEC_HNSW_INTERNAL_H
#define FG_VEC_HNSW_INTERNAL_H

#include <pthread.h>
#include <stddef.h>
#include <stdint.h>

#include "vec/hnsw.h"
#include "vec/vec_kernels.h"

#define HNSW_NONE UINT32_MAX

/* flags[] bits */
#define HNSW_F_DELETED 0x1u /* tombstone: still routes searches, never returned */
#define HNSW_F_FREE    0x2u /* vacuumed: out of the graph, slot on the free list */

/* A filtered graph search that has visited more than this fraction of the slots gives up and
 * does an exact scan instead (cheaper: the filter is called once per vector, distances only for
 * accepted ones). */
#define HNSW_FILTER_VISIT_FRACTION 0.30
#define HNSW_RERANK_MIN            32u
#define HNSW_RERANK_PER_K          4u

struct hnsw_cand {
    float d; /* distance: -cosine (float) or -(sq * sx * dot_i8) (int8); smaller is closer */
    uint32_t id;
};

/* Per-search scratch, pooled so that a search allocates nothing once warm. */
struct hnsw_ctx {
    struct hnsw_ctx *next;
    uint16_t *visited; /* epoch marks, one per slot */
    size_t vcap;
    uint16_t epoch;
    struct hnsw_cand *cand; /* min-heap of candidates (C in the paper) */
    size_t cand_n, cand_cap;
    struct hnsw_cand *res; /* max-heap of results (W in the paper) */
    size_t res_n, res_cap;
    struct hnsw_cand *tmp; /* selection / re-ranking scratch */
    size_t tmp_cap;
    struct hnsw_cand *tmp2;
    size_t tmp2_cap;
    uint32_t *ids; /* unvisited-neighbour batch */
    float *qf;     /* normalised query */
    int8_t *qi8;   /* quantised query (int8 mode) */
    float qscale;
    size_t counted; /* bytes of this context included in idx->pool_bytes */
};

struct hnsw_index {
    /* Immutable after hnsw_new / hnsw_load. */
    unsigned dim, M, M0, efc;
    int int8;
    uint64_t seed;
    double level_mult; /* mL = 1 / ln(M) */
    double vacuum_threshold;
    unsigned rerank;
    char *float_dir;
    size_t vec_bytes; /* bytes of one stored vector: dim * 4 (float) or dim (int8) */
    const struct vec_kernels *kern;

    pthread_rwlock_t lock; /* see the thread model in hnsw.c */

    /* Everything below is guarded by lock. */
    uint32_t cap;     /* allocated slots */
    uint32_t n_slots; /* high-water mark of used slot ids */
    uint32_t n_live;
    uint32_t n_tomb;
    uint32_t entry; /* entry point, HNSW_NONE when the graph is empty */
    int max_level;  /* level of the entry point, -1 when empty */
    uint64_t rng;
    uint64_t vacuums;
    uint64_t exact_scans; /* atomic: searches answered by the exact fallback */

    uint64_t *labels;
    uint8_t *levels;
    uint8_t *flags;
    float *vf;        /* float mode: cap * dim normalised floats */
    int8_t *vq;       /* int8 mode: cap * dim codes */
    float *vscale;    /* int8 mode: per-vector scale */
    uint32_t *links0; /* cap * (M0 + 1): [count, id...] for level 0 */
    uint32_t **upper; /* cap pointers: levels[i] * (M + 1) u32 for levels 1..levels[i], or NULL */
    size_t upper_bytes;

    uint32_t *free_ids; /* vacuumed slots, reused by inserts */
    uint32_t n_free, free_cap;

    uint32_t *map; /* label -> id + 1, open addressing, linear probing; 0 = empty */
    size_t map_cap, map_used;

    /* int8 mode: exact normalised floats for re-ranking live in an unlinked file mapped
     * MAP_SHARED (page cache, not counted as index memory). */
    int fs_fd;
    float *fs_map;
    size_t fs_bytes;

    /* Search-scratch pool. */
    pthread_mutex_t pool_mu;
    struct hnsw_ctx *pool;
    size_t pool_bytes;
};

/* ---- hnsw.c: lifecycle, storage, label map, scratch pool ---- */
struct hnsw_index *hnsw_alloc(const struct hnsw_params *p, enum fg_err *err);
enum fg_err hnsw_reserve(struct hnsw_index *idx, uint32_t want_cap);
uint32_t hnsw_map_find(const struct hnsw_index *idx, uint64_t label);
void hnsw_map_put(struct hnsw_index *idx, uint64_t label, uint32_t id);
void hnsw_map_remove(struct hnsw_index *idx, uint64_t label);
void hnsw_map_rebuild(struct hnsw_index *idx, size_t want);
struct hnsw_ctx *hnsw_ctx_get(struct hnsw_index *idx);
void hnsw_ctx_put(struct hnsw_index *idx, struct hnsw_ctx *c);
void hnsw_ctx_fit(struct hnsw_index *idx, struct hnsw_ctx *c); /* visited[] >= cap; needs lock */
uint16_t hnsw_ctx_epoch(struct hnsw_ctx *c);                   /* new visited epoch */
void hnsw_ctx_reserve(struct hnsw_cand **a, size_t *cap, size_t want);
void hnsw_wrlock(struct hnsw_index *idx);
void hnsw_rdlock(const struct hnsw_index *idx);
void hnsw_unlock(const struct hnsw_index *idx);

/* ---- hnsw_io.c ---- */
uint64_t vec_xxh64(const void *data, size_t len); /* XXH64, seed 0 */

/* ---- quant.c: int8 float side file ---- */
enum fg_err hnsw_fstore_open(struct hnsw_index *idx);
enum fg_err hnsw_fstore_grow(struct hnsw_index *idx, uint32_t cap);
void hnsw_fstore_close(struct hnsw_index *idx);

/* ---- hnsw_search.c ---- */
void hnsw_heap_push_min(struct hnsw_cand *h, size_t *n, struct hnsw_cand c);
struct hnsw_cand hnsw_heap_pop_min(struct hnsw_cand *h, size_t *n);
void hnsw_heap_push_max(struct hnsw_cand *h, size_t *n, struct hnsw_cand c);
struct hnsw_cand hnsw_heap_pop_max(struct hnsw_cand *h, size_t *n);
void hnsw_sort_cands(struct hnsw_cand *a, size_t n); /* ascending distance, then id */
/** Greedy descent (ef = 1) from the entry point down to level stop+1; returns the closest id. */
uint32_t hnsw_greedy(struct hnsw_index *idx, struct hnsw_ctx *c, uint32_t ep, int from, int stop);
/** SEARCH-LAYER (Algorithm 2) from one entry point. Results are left in c->res (max-heap,
 *  c->res_n entries). accept_deleted: tombstones may enter the results (construction). Returns 0,
 *  or 1 when visit_budget was exhausted (the results are then incomplete). */
int hnsw_search_layer(struct hnsw_index *idx, struct hnsw_ctx *c, uint32_t ep, size_t ef, int level,
                      int accept_deleted, hnsw_filter_fn f, void *fctx, size_t visit_budget);

/* ---- hnsw_insert.c ---- */
/** SELECT-NEIGHBORS-HEURISTIC (Algorithm 4) over cand[0..n) sorted ascending; keeps at most m in
 *  place at the front and returns their number. */
size_t hnsw_select_heuristic(struct hnsw_index *idx, struct hnsw_cand *cand, size_t n, size_t m);
/** Links slot id (its vector already loaded in c as the query) at levels min(level, top)..0,
 *  descending from ep at level top. */
void hnsw_link_node(struct hnsw_index *idx, struct hnsw_ctx *c, uint32_t id, int level, uint32_t ep,
                    int top);
/** Marks a live slot deleted and drops its label from the map. */
void hnsw_tombstone(struct hnsw_index *idx, uint32_t id);
/** Tombstones exceed vacuum_threshold of (live + tombstones), and auto-vacuum is on. */
int hnsw_needs_vacuum(const struct hnsw_index *idx);

static inline uint32_t *hnsw_links(const struct hnsw_index *idx, uint32_t id, int level)
{
    if (level == 0)
        return idx->links0 + (size_t)id * (idx->M0 + 1);
    return idx->upper[id] + (size_t)(level - 1) * (idx->M + 1);
}

static inline unsigned hnsw_max_links(const struct hnsw_index *idx, int level)
{
    return level == 0 ? idx->M0 : idx->M;
}

/** Distance between the query held in c and slot id. */
static inline float hnsw_dist_q(const struct hnsw_index *idx, const struct hnsw_ctx *c, uint32_t id)
{
    if (idx->int8)
        return -(c->qscale * idx->vscale[id] *
                 (float)idx->kern->dot_i8(c->qi8, idx->vq + (size_t)id * idx->dim, idx->dim));
    return -idx->kern->dot_f32(c->qf, idx->vf + (size_t)id * idx->dim, idx->dim);
}

/** Distance between two stored slots. */
static inline float hnsw_dist_ids(const struct hnsw_index *idx, uint32_t a, uint32_t b)
{
    if (idx->int8)
        return -(idx->vscale[a] * idx->vscale[b] *
                 (float)idx->kern->dot_i8(idx->vq + (size_t)a * idx->dim,
                                          idx->vq + (size_t)b * idx->dim, idx->dim));
    return -idx->kern->dot_f32(idx->vf + (size_t)a * idx->dim, idx->vf + (size_t)b * idx->dim,
                               idx->dim);
}

/** Exact cosine between the normalised query and slot id (float vectors or the side file). */
static inline float hnsw_exact_score(const struct hnsw_index *idx, const float *qf, uint32_t id)
{
    const float *v =
        idx->int8 ? idx->fs_map + (size_t)id * idx->dim : idx->vf + (size_t)id * idx->dim;
    return idx->kern->dot_f32(qf, v, idx->dim);
}

static inline void hnsw_prefetch_vec(const struct hnsw_index *idx, uint32_t id)
{
    const char *p = idx->int8 ? (const char *)(idx->vq + (size_t)id * idx->dim)
                              : (const char *)(idx->vf + (size_t)id * idx->dim);
    size_t lines = idx->vec_bytes > 512 ? 8 : (idx->vec_bytes + 63) / 64;
    for (size_t i = 0; i < lines; i++)
        __builtin_prefetch(p + i * 64, 0, 3);
}

#endif
