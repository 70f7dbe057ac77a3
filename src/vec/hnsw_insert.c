/* HNSW insertion: INSERT (Algorithm 1) and SELECT-NEIGHBORS-HEURISTIC (Algorithm 4).
 * Locking: hnsw_insert holds the write lock for the whole insertion (see hnsw.c). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "util/mem.h"
#include "vec/hnsw_internal.h"

static uint64_t rng_next(uint64_t *s)
{
    /* splitmix64 */
    uint64_t z = (*s += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

/* l = floor(-ln(unif(0..1)) * mL), mL = 1/ln(M) (paper, section 4.1). */
static int random_level(struct hnsw_index *idx)
{
    double u = (double)(rng_next(&idx->rng) >> 11) * (1.0 / 9007199254740992.0);
    if (u <= 0.0)
        u = 1e-300;
    double l = -log(u) * idx->level_mult;
    return l >= HNSW_LEVEL_MAX ? HNSW_LEVEL_MAX : (int)l;
}

/* ---- Algorithm 4: SELECT-NEIGHBORS-HEURISTIC(q, C, M) ------------------------------------
 * Walk the candidates from the closest; keep e only if it is closer to q than to every neighbour
 * kept so far (extendCandidates = keepPrunedConnections = false, as in hnswlib). */
size_t hnsw_select_heuristic(struct hnsw_index *idx, struct hnsw_cand *cand, size_t n, size_t m)
{
    size_t r = 0;
    for (size_t i = 0; i < n && r < m; i++) {
        struct hnsw_cand e = cand[i];
        int good = 1;
        for (size_t j = 0; j < r; j++) {
            if (hnsw_dist_ids(idx, e.id, cand[j].id) < e.d) {
                good = 0;
                break;
            }
        }
        if (good)
            cand[r++] = e;
    }
    return r;
}

/* Adds the edge from -> to at level; a full list is shrunk with the heuristic (Algorithm 1,
 * lines 13-16). */
static void add_link(struct hnsw_index *idx, struct hnsw_ctx *c, uint32_t from, uint32_t to,
                     int level)
{
    uint32_t *ll = hnsw_links(idx, from, level);
    uint32_t n = ll[0];
    unsigned maxl = hnsw_max_links(idx, level);
    for (uint32_t j = 1; j <= n; j++)
        if (ll[j] == to)
            return;
    if (n < maxl) {
        ll[1 + n] = to;
        ll[0] = n + 1;
        return;
    }
    hnsw_ctx_reserve(&c->tmp2, &c->tmp2_cap, (size_t)n + 1);
    for (uint32_t j = 0; j < n; j++)
        c->tmp2[j] = (struct hnsw_cand){hnsw_dist_ids(idx, from, ll[1 + j]), ll[1 + j]};
    c->tmp2[n] = (struct hnsw_cand){hnsw_dist_ids(idx, from, to), to};
    hnsw_sort_cands(c->tmp2, (size_t)n + 1);
    size_t r = hnsw_select_heuristic(idx, c->tmp2, (size_t)n + 1, maxl);
    for (size_t j = 0; j < r; j++)
        ll[1 + j] = c->tmp2[j].id;
    ll[0] = (uint32_t)r;
}

/* Links slot id (vector in c, level `level`) into the graph from entry point ep at level top.
 * Shared by insert and by vacuum's re-linking of stranded nodes. */
void hnsw_link_node(struct hnsw_index *idx, struct hnsw_ctx *c, uint32_t id, int level, uint32_t ep,
                    int top)
{
    if (top > level)
        ep = hnsw_greedy(idx, c, ep, top, level);
    for (int lc = level < top ? level : top; lc >= 0; lc--) {
        (void)hnsw_search_layer(idx, c, ep, idx->efc, lc, 1, NULL, NULL, 0);
        size_t n = c->res_n;
        hnsw_ctx_reserve(&c->tmp, &c->tmp_cap, n);
        for (size_t i = 0; i < n; i++)
            c->tmp[i] = c->res[i];
        hnsw_sort_cands(c->tmp, n);
        if (n)
            ep = c->tmp[0].id;
        /* Never link to tombstones (or to itself), unless nothing else was found. */
        size_t live = 0;
        for (size_t i = 0; i < n; i++)
            if (c->tmp[i].id != id && !(idx->flags[c->tmp[i].id] & HNSW_F_DELETED))
                c->tmp[live++] = c->tmp[i];
        if (live)
            n = live;
        else
            for (size_t i = 0; i < n; i++)
                if (c->tmp[i].id == id)
                    c->tmp[i] = c->tmp[--n];
        size_t r = hnsw_select_heuristic(idx, c->tmp, n, idx->M);
        uint32_t *ll = hnsw_links(idx, id, lc);
        for (size_t j = 0; j < r; j++)
            ll[1 + j] = c->tmp[j].id;
        ll[0] = (uint32_t)r;
        for (size_t j = 0; j < r; j++)
            add_link(idx, c, c->tmp[j].id, id, lc);
    }
}

void hnsw_tombstone(struct hnsw_index *idx, uint32_t id)
{
    hnsw_map_remove(idx, idx->labels[id]);
    idx->flags[id] |= HNSW_F_DELETED;
    idx->n_live--;
    idx->n_tomb++;
}

int hnsw_needs_vacuum(const struct hnsw_index *idx)
{
    if (idx->vacuum_threshold < 0.0 || idx->n_tomb == 0)
        return 0;
    return (double)idx->n_tomb > idx->vacuum_threshold * (double)(idx->n_tomb + idx->n_live);
}

/* ---- Algorithm 1: INSERT(hnsw, q, M, Mmax, efConstruction, mL) --------------------------- */
enum fg_err hnsw_insert(hnsw_index_t *idx, uint64_t label, const float *vec)
{
    if (!idx || !vec)
        return FG_EINVAL;
    int vac = 0;
    struct hnsw_ctx *c = hnsw_ctx_get(idx);
    enum fg_err err = vec_normalize(vec, idx->dim, c->qf);
    if (err != FG_OK)
        goto out;
    if (idx->int8)
        c->qscale = vec_quantize_i8(c->qf, idx->dim, c->qi8);

    hnsw_wrlock(idx);
    /* Slot first, so that a failed growth leaves an update's old vector in place. */
    uint32_t id;
    if (idx->n_free) {
        id = idx->free_ids[--idx->n_free];
    } else {
        if (idx->n_slots == idx->cap) {
            uint64_t want = (uint64_t)idx->cap + idx->cap / 2;
            if (want < (uint64_t)idx->cap + HNSW_INITIAL_CAPACITY_DEFAULT)
                want = (uint64_t)idx->cap + HNSW_INITIAL_CAPACITY_DEFAULT;
            if (want > HNSW_SLOTS_MAX)
                want = HNSW_SLOTS_MAX;
            err = want > idx->cap ? hnsw_reserve(idx, (uint32_t)want) : FG_ELIMIT;
            if (err != FG_OK)
                goto unlock;
        }
        id = idx->n_slots++;
    }
    /* Update = tombstone the old slot + insert a new one; vacuum repairs the old one's edges. */
    uint32_t old = hnsw_map_find(idx, label);
    if (old != HNSW_NONE)
        hnsw_tombstone(idx, old);

    int level = random_level(idx);
    idx->labels[id] = label;
    idx->levels[id] = (uint8_t)level;
    idx->flags[id] = 0;
    if (idx->int8) {
        memcpy(idx->vq + (size_t)id * idx->dim, c->qi8, idx->dim);
        idx->vscale[id] = c->qscale;
        memcpy(idx->fs_map + (size_t)id * idx->dim, c->qf, (size_t)idx->dim * sizeof(float));
    } else {
        memcpy(idx->vf + (size_t)id * idx->dim, c->qf, (size_t)idx->dim * sizeof(float));
    }
    idx->links0[(size_t)id * (idx->M0 + 1)] = 0;
    free(idx->upper[id]);
    idx->upper[id] = NULL;
    if (level > 0) {
        size_t b = (size_t)level * (idx->M + 1) * sizeof(uint32_t);
        idx->upper[id] = fg_xcalloc(1, b);
        idx->upper_bytes += b;
    }
    hnsw_map_put(idx, label, id);
    idx->n_live++;

    if (idx->entry == HNSW_NONE) {
        idx->entry = id;
        idx->max_level = level;
    } else {
        hnsw_ctx_fit(idx, c);
        hnsw_link_node(idx, c, id, level, idx->entry, idx->max_level);
        if (level > idx->max_level) {
            idx->entry = id;
            idx->max_level = level;
        }
    }
    vac = hnsw_needs_vacuum(idx);
unlock:
    hnsw_unlock(idx);
    if (err == FG_OK && vac)
        err = hnsw_vacuum(idx);
out:
    hnsw_ctx_put(idx, c);
    return err;
}
