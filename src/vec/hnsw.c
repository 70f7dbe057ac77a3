/* HNSW index: lifecycle, storage, label map, scratch pool.
 *
 * Design (details and measurements in docs/vector-index.md)
 * ---------------------------------------------------------
 * Hierarchical Navigable Small World graphs, Y. Malkov & D. Yashunin, "Efficient and robust
 * approximate nearest neighbor search using Hierarchical Navigable Small World graphs",
 * IEEE TPAMI 2018 (arXiv:1603.09320). The algorithms of the paper live in:
 *   Algorithm 1 INSERT                       hnsw_insert.c  hnsw_insert()
 *   Algorithm 2 SEARCH-LAYER                 hnsw_search.c  hnsw_search_layer()
 *   Algorithm 4 SELECT-NEIGHBORS-HEURISTIC   hnsw_insert.c  hnsw_select_heuristic()
 *   Algorithm 5 K-NN-SEARCH                  hnsw_search.c  hnsw_search()
 * (Algorithm 3, the simple selection, is not used.) Deletion is not in the paper: hnsw_delete.c.
 *
 * Storage. Every vector has a uint32 slot id. Per-slot arrays (labels, levels, flags, vectors,
 * level-0 links) are contiguous and indexed by id; level-0 links are a fixed-size block of
 * 1 + 2M uint32 (count, then ids) so a node's neighbours are one cache line or two. Nodes with
 * level > 0 (about 1/M of them) own one extra block of level * (1 + M) uint32. Vectors are stored
 * normalised, so cosine = dot product, and distance is -dot (float) or -(sq*sx*dot_i8) (int8).
 * A label -> id open-addressing table (4 bytes per bucket, the label is read from labels[id]) maps
 * caller labels to slots.
 *
 * Delete strategy: tombstones + batch repair ("vacuum"), see hnsw_delete.c.
 *
 * Thread model. One pthread rwlock per index, writer-preferring (so a stream of searches cannot
 * starve an insert):
 *   read lock : hnsw_search, hnsw_count, hnsw_memory_bytes, hnsw_get_stats, hnsw_save
 *   write lock: hnsw_insert, hnsw_delete, hnsw_vacuum (and array growth, which only happens
 *               inside them)
 * Any number of searches run in parallel; a writer waits for the searches in flight and holds
 * back new ones for the duration of one insert (a fraction of a millisecond at ef_construction
 * 200) or one vacuum pass. Searches allocate nothing once warm: each takes a scratch context
 * (visited epochs, heaps, query buffers) from a mutex-protected pool and returns it. The
 * distance kernel is chosen once (pthread_once) and is immutable afterwards. The filter
 * callback runs under the read lock and must not call back into the same index.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "util/mem.h"
#include "vec/hnsw_internal.h"

/* ---- locking ----------------------------------------------------------------------------- */

void hnsw_wrlock(struct hnsw_index *idx)
{
    pthread_rwlock_wrlock(&idx->lock);
}

void hnsw_rdlock(const struct hnsw_index *idx)
{
    /* The lock is the one mutable part of a const index. */
    pthread_rwlock_rdlock((pthread_rwlock_t *)&idx->lock);
}

void hnsw_unlock(const struct hnsw_index *idx)
{
    pthread_rwlock_unlock((pthread_rwlock_t *)&idx->lock);
}

/* ---- lifecycle --------------------------------------------------------------------------- */

struct hnsw_index *hnsw_alloc(const struct hnsw_params *p, enum fg_err *err)
{
    *err = FG_EINVAL;
    if (!p || p->dim < 1 || p->dim > HNSW_DIM_MAX || p->M < HNSW_M_MIN || p->M > HNSW_M_MAX ||
        p->ef_construction > HNSW_EF_CONSTRUCTION_MAX || p->initial_capacity > HNSW_SLOTS_MAX ||
        isnan(p->vacuum_threshold) || p->vacuum_threshold >= 1.0)
        return NULL;
    struct hnsw_index *idx = fg_xcalloc(1, sizeof(*idx));
    idx->dim = p->dim;
    idx->M = p->M;
    idx->M0 = 2 * p->M;
    idx->efc = p->ef_construction ? p->ef_construction : HNSW_EF_CONSTRUCTION_DEFAULT;
    idx->int8 = p->quantize_int8 ? 1 : 0;
    idx->seed = p->seed;
    idx->rng = p->seed ^ 0x9e3779b97f4a7c15ull;
    idx->level_mult = 1.0 / log((double)p->M);
    idx->vacuum_threshold =
        p->vacuum_threshold == 0.0 ? HNSW_VACUUM_THRESHOLD_DEFAULT : p->vacuum_threshold;
    idx->rerank = p->rerank;
    idx->float_dir = p->float_dir ? fg_xstrdup(p->float_dir) : NULL;
    idx->vec_bytes = idx->int8 ? p->dim : (size_t)p->dim * sizeof(float);
    idx->kern = vec_kernels_best();
    idx->entry = HNSW_NONE;
    idx->max_level = -1;
    idx->fs_fd = -1;

    pthread_rwlockattr_t ra;
    pthread_rwlockattr_init(&ra);
    pthread_rwlockattr_setkind_np(&ra, PTHREAD_RWLOCK_PREFER_WRITER_NONRECURSIVE_NP);
    pthread_rwlock_init(&idx->lock, &ra);
    pthread_rwlockattr_destroy(&ra);
    pthread_mutex_init(&idx->pool_mu, NULL);

    if (idx->int8 && hnsw_fstore_open(idx) != FG_OK) {
        *err = FG_EIO;
        hnsw_free(idx);
        return NULL;
    }
    *err = FG_OK;
    return idx;
}

hnsw_index_t *hnsw_new(const struct hnsw_params *p)
{
    enum fg_err err;
    struct hnsw_index *idx = hnsw_alloc(p, &err);
    if (!idx)
        return NULL;
    size_t cap = p->initial_capacity ? p->initial_capacity : HNSW_INITIAL_CAPACITY_DEFAULT;
    if (hnsw_reserve(idx, (uint32_t)cap) != FG_OK) {
        hnsw_free(idx);
        return NULL;
    }
    return idx;
}

static void ctx_free(struct hnsw_ctx *c)
{
    free(c->visited);
    free(c->cand);
    free(c->res);
    free(c->tmp);
    free(c->tmp2);
    free(c->ids);
    free(c->qf);
    free(c->qi8);
    free(c);
}

void hnsw_free(hnsw_index_t *idx)
{
    if (!idx)
        return;
    if (idx->upper)
        for (uint32_t i = 0; i < idx->cap; i++)
            free(idx->upper[i]);
    free(idx->upper);
    free(idx->labels);
    free(idx->levels);
    free(idx->flags);
    free(idx->vf);
    free(idx->vq);
    free(idx->vscale);
    free(idx->links0);
    free(idx->free_ids);
    free(idx->map);
    free(idx->float_dir);
    hnsw_fstore_close(idx);
    while (idx->pool) {
        struct hnsw_ctx *c = idx->pool;
        idx->pool = c->next;
        ctx_free(c);
    }
    pthread_rwlock_destroy(&idx->lock);
    pthread_mutex_destroy(&idx->pool_mu);
    free(idx);
}

/* Grows every per-slot array to want_cap slots (never shrinks). Caller holds the write lock (or
 * owns the index exclusively). */
enum fg_err hnsw_reserve(struct hnsw_index *idx, uint32_t want_cap)
{
    if (want_cap <= idx->cap)
        return FG_OK;
    if (want_cap > HNSW_SLOTS_MAX)
        return FG_ELIMIT;
    if (idx->int8) {
        enum fg_err e = hnsw_fstore_grow(idx, want_cap);
        if (e != FG_OK)
            return e;
    }
    size_t old = idx->cap, n = want_cap, add = n - old;
    size_t l0 = idx->M0 + 1;
    idx->labels = fg_xrealloc(idx->labels, n * sizeof(*idx->labels));
    idx->levels = fg_xrealloc(idx->levels, n);
    idx->flags = fg_xrealloc(idx->flags, n);
    idx->links0 = fg_xrealloc(idx->links0, n * l0 * sizeof(uint32_t));
    idx->upper = fg_xrealloc(idx->upper, n * sizeof(*idx->upper));
    memset(idx->labels + old, 0, add * sizeof(*idx->labels));
    memset(idx->levels + old, 0, add);
    memset(idx->flags + old, 0, add);
    memset(idx->links0 + old * l0, 0, add * l0 * sizeof(uint32_t));
    memset(idx->upper + old, 0, add * sizeof(*idx->upper));
    if (idx->int8) {
        idx->vq = fg_xrealloc(idx->vq, n * idx->dim);
        idx->vscale = fg_xrealloc(idx->vscale, n * sizeof(float));
        memset(idx->vq + old * idx->dim, 0, add * idx->dim);
        memset(idx->vscale + old, 0, add * sizeof(float));
    } else {
        idx->vf = fg_xrealloc(idx->vf, n * idx->vec_bytes);
        memset((char *)idx->vf + old * idx->vec_bytes, 0, add * idx->vec_bytes);
    }
    idx->cap = want_cap;
    return FG_OK;
}

/* ---- label map --------------------------------------------------------------------------- */

static inline uint64_t mix64(uint64_t x)
{
    x ^= x >> 30;
    x *= 0xbf58476d1ce4e5b9ull;
    x ^= x >> 27;
    x *= 0x94d049bb133111ebull;
    x ^= x >> 31;
    return x;
}

uint32_t hnsw_map_find(const struct hnsw_index *idx, uint64_t label)
{
    if (!idx->map_cap)
        return HNSW_NONE;
    size_t mask = idx->map_cap - 1;
    for (size_t i = mix64(label) & mask;; i = (i + 1) & mask) {
        uint32_t v = idx->map[i];
        if (v == 0)
            return HNSW_NONE;
        if (idx->labels[v - 1] == label)
            return v - 1;
    }
}

static void map_put_raw(struct hnsw_index *idx, uint64_t label, uint32_t id)
{
    size_t mask = idx->map_cap - 1;
    size_t i = mix64(label) & mask;
    while (idx->map[i] != 0)
        i = (i + 1) & mask;
    idx->map[i] = id + 1;
    idx->map_used++;
}

/* Rebuilds the table for at least `want` entries from the live slots. */
void hnsw_map_rebuild(struct hnsw_index *idx, size_t want)
{
    size_t cap = 16;
    while (cap * 7 < want * 10)
        cap *= 2;
    free(idx->map);
    idx->map = fg_xcalloc(cap, sizeof(uint32_t));
    idx->map_cap = cap;
    idx->map_used = 0;
    for (uint32_t id = 0; id < idx->n_slots; id++)
        if (!(idx->flags[id] & (HNSW_F_DELETED | HNSW_F_FREE)))
            map_put_raw(idx, idx->labels[id], id);
}

/* labels[id] must already hold label. */
void hnsw_map_put(struct hnsw_index *idx, uint64_t label, uint32_t id)
{
    if ((idx->map_used + 1) * 10 > idx->map_cap * 7) {
        /* The rebuild walks the live slots, which may already include id. */
        hnsw_map_rebuild(idx, idx->map_used + 1 > 1024 ? (idx->map_used + 1) * 2 : 1024);
        if (hnsw_map_find(idx, label) == id)
            return;
    }
    map_put_raw(idx, label, id);
}

/* Backward-shift deletion keeps probe chains intact without tombstones. labels[] of the removed
 * id must still hold label. */
void hnsw_map_remove(struct hnsw_index *idx, uint64_t label)
{
    if (!idx->map_cap)
        return;
    size_t mask = idx->map_cap - 1;
    size_t i = mix64(label) & mask;
    for (;; i = (i + 1) & mask) {
        uint32_t v = idx->map[i];
        if (v == 0)
            return;
        if (idx->labels[v - 1] == label)
            break;
    }
    size_t j = i;
    for (;;) {
        j = (j + 1) & mask;
        uint32_t v = idx->map[j];
        if (v == 0)
            break;
        size_t home = mix64(idx->labels[v - 1]) & mask;
        /* Move v back to the hole at i unless its home lies cyclically in (i, j]. */
        int in_range = i <= j ? (home > i && home <= j) : (home > i || home <= j);
        if (!in_range) {
            idx->map[i] = v;
            i = j;
        }
    }
    idx->map[i] = 0;
    idx->map_used--;
}

/* ---- scratch pool ------------------------------------------------------------------------ */

struct hnsw_ctx *hnsw_ctx_get(struct hnsw_index *idx)
{
    pthread_mutex_lock(&idx->pool_mu);
    struct hnsw_ctx *c = idx->pool;
    if (c)
        idx->pool = c->next;
    pthread_mutex_unlock(&idx->pool_mu);
    if (c)
        return c;
    c = fg_xcalloc(1, sizeof(*c));
    c->qf = fg_xmalloc((size_t)idx->dim * sizeof(float));
    c->qi8 = fg_xmalloc(idx->dim);
    c->ids = fg_xmalloc((size_t)(idx->M0 + 1) * sizeof(uint32_t));
    c->epoch = 0;
    return c;
}

static size_t ctx_bytes(const struct hnsw_index *idx, const struct hnsw_ctx *c)
{
    return sizeof(*c) + c->vcap * sizeof(uint16_t) +
           (c->cand_cap + c->res_cap + c->tmp_cap + c->tmp2_cap) * sizeof(struct hnsw_cand) +
           (size_t)idx->dim * (sizeof(float) + 1) + (size_t)(idx->M0 + 1) * sizeof(uint32_t);
}

void hnsw_ctx_put(struct hnsw_index *idx, struct hnsw_ctx *c)
{
    size_t b = ctx_bytes(idx, c);
    pthread_mutex_lock(&idx->pool_mu);
    c->next = idx->pool;
    idx->pool = c;
    /* Every context ever created stays in the pool: pool_bytes is their summed footprint. */
    idx->pool_bytes += b - c->counted;
    c->counted = b;
    pthread_mutex_unlock(&idx->pool_mu);
}

void hnsw_ctx_fit(struct hnsw_index *idx, struct hnsw_ctx *c)
{
    if (c->vcap >= idx->cap)
        return;
    free(c->visited);
    c->visited = fg_xcalloc(idx->cap, sizeof(uint16_t));
    c->vcap = idx->cap;
    c->epoch = 0;
}

uint16_t hnsw_ctx_epoch(struct hnsw_ctx *c)
{
    c->epoch++;
    if (c->epoch == 0) {
        memset(c->visited, 0, c->vcap * sizeof(uint16_t));
        c->epoch = 1;
    }
    return c->epoch;
}

void hnsw_ctx_reserve(struct hnsw_cand **a, size_t *cap, size_t want)
{
    if (want <= *cap)
        return;
    size_t n = *cap ? *cap : 64;
    while (n < want)
        n *= 2;
    *a = fg_xrealloc(*a, n * sizeof(**a));
    *cap = n;
}

/* ---- accounting -------------------------------------------------------------------------- */

size_t hnsw_count(const hnsw_index_t *idx)
{
    if (!idx)
        return 0;
    hnsw_rdlock(idx);
    size_t n = idx->n_live;
    hnsw_unlock(idx);
    return n;
}

static size_t memory_locked(const struct hnsw_index *idx)
{
    size_t per_slot = sizeof(uint64_t) + 2 /* level, flags */ + sizeof(uint32_t *) +
                      (size_t)(idx->M0 + 1) * sizeof(uint32_t) + idx->vec_bytes +
                      (idx->int8 ? sizeof(float) : 0);
    return sizeof(*idx) + (size_t)idx->cap * per_slot + idx->upper_bytes +
           idx->map_cap * sizeof(uint32_t) + (size_t)idx->free_cap * sizeof(uint32_t);
}

size_t hnsw_memory_bytes(const hnsw_index_t *idx)
{
    if (!idx)
        return 0;
    hnsw_rdlock(idx);
    size_t b = memory_locked(idx);
    hnsw_unlock(idx);
    pthread_mutex_lock((pthread_mutex_t *)&idx->pool_mu);
    b += idx->pool_bytes;
    pthread_mutex_unlock((pthread_mutex_t *)&idx->pool_mu);
    return b;
}

void hnsw_get_stats(const hnsw_index_t *idx, struct hnsw_stats *st)
{
    memset(st, 0, sizeof(*st));
    if (!idx)
        return;
    st->memory_bytes = hnsw_memory_bytes(idx);
    hnsw_rdlock(idx);
    st->live = idx->n_live;
    st->tombstones = idx->n_tomb;
    st->slots = idx->n_slots;
    st->free_slots = idx->n_free;
    st->capacity = idx->cap;
    st->float_file_bytes = idx->int8 ? idx->fs_bytes : 0;
    st->max_level = idx->max_level < 0 ? 0 : (unsigned)idx->max_level;
    st->vacuums = idx->vacuums;
    st->exact_scans = __atomic_load_n(&idx->exact_scans, __ATOMIC_RELAXED);
    st->kernel = idx->kern->name;
    hnsw_unlock(idx);
}
