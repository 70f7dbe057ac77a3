/* HNSW search: SEARCH-LAYER (Algorithm 2), K-NN-SEARCH (Algorithm 5), filtered search with exact
 * fallback, int8 re-ranking. Locking: hnsw_search holds the read lock (see hnsw.c). */
#include <math.h>
#include <stdlib.h>

#include "util/mem.h"
#include "vec/hnsw_internal.h"

/* ---- binary heaps on (distance, id) ------------------------------------------------------ */

void hnsw_heap_push_min(struct hnsw_cand *h, size_t *n, struct hnsw_cand c)
{
    size_t i = (*n)++;
    while (i > 0) {
        size_t p = (i - 1) / 2;
        if (!(c.d < h[p].d))
            break;
        h[i] = h[p];
        i = p;
    }
    h[i] = c;
}

struct hnsw_cand hnsw_heap_pop_min(struct hnsw_cand *h, size_t *n)
{
    struct hnsw_cand top = h[0], x = h[--(*n)];
    size_t i = 0, len = *n;
    for (;;) {
        size_t l = 2 * i + 1, r = l + 1, m = i;
        float md = x.d;
        if (l < len && h[l].d < md) {
            m = l;
            md = h[l].d;
        }
        if (r < len && h[r].d < md)
            m = r;
        if (m == i)
            break;
        h[i] = h[m];
        i = m;
    }
    if (len)
        h[i] = x;
    return top;
}

void hnsw_heap_push_max(struct hnsw_cand *h, size_t *n, struct hnsw_cand c)
{
    size_t i = (*n)++;
    while (i > 0) {
        size_t p = (i - 1) / 2;
        if (!(c.d > h[p].d))
            break;
        h[i] = h[p];
        i = p;
    }
    h[i] = c;
}

struct hnsw_cand hnsw_heap_pop_max(struct hnsw_cand *h, size_t *n)
{
    struct hnsw_cand top = h[0], x = h[--(*n)];
    size_t i = 0, len = *n;
    for (;;) {
        size_t l = 2 * i + 1, r = l + 1, m = i;
        float md = x.d;
        if (l < len && h[l].d > md) {
            m = l;
            md = h[l].d;
        }
        if (r < len && h[r].d > md)
            m = r;
        if (m == i)
            break;
        h[i] = h[m];
        i = m;
    }
    if (len)
        h[i] = x;
    return top;
}

static int cand_cmp(const void *pa, const void *pb)
{
    const struct hnsw_cand *a = pa, *b = pb;
    if (a->d != b->d)
        return a->d < b->d ? -1 : 1;
    return a->id < b->id ? -1 : (a->id > b->id);
}

void hnsw_sort_cands(struct hnsw_cand *a, size_t n)
{
    qsort(a, n, sizeof(*a), cand_cmp);
}

/* ---- greedy descent through the upper layers (Algorithm 5, lines 4-6, ef = 1) ------------ */

uint32_t hnsw_greedy(struct hnsw_index *idx, struct hnsw_ctx *c, uint32_t ep, int from, int stop)
{
    uint32_t cur = ep;
    float dcur = hnsw_dist_q(idx, c, cur);
    for (int lc = from; lc > stop; lc--) {
        int changed = 1;
        while (changed) {
            changed = 0;
            const uint32_t *ll = hnsw_links(idx, cur, lc);
            uint32_t n = ll[0];
            for (uint32_t j = 1; j <= n; j++)
                hnsw_prefetch_vec(idx, ll[j]);
            for (uint32_t j = 1; j <= n; j++) {
                float d = hnsw_dist_q(idx, c, ll[j]);
                if (d < dcur) {
                    dcur = d;
                    cur = ll[j];
                    changed = 1;
                }
            }
        }
    }
    return cur;
}

/* ---- Algorithm 2: SEARCH-LAYER(q, ep, ef, lc) --------------------------------------------
 * C (candidates, min-heap) and W (results, max-heap bounded by ef). Tombstones and
 * filter-rejected nodes are traversed (they keep the graph navigable) but never enter W, as in
 * hnswlib's filtered search; the loop only stops early once W holds ef accepted nodes. */

static inline int accepted(const struct hnsw_index *idx, uint32_t id, int accept_deleted,
                           hnsw_filter_fn f, void *fctx)
{
    if (!accept_deleted && (idx->flags[id] & HNSW_F_DELETED))
        return 0;
    return !f || f(idx->labels[id], fctx) == 1;
}

int hnsw_search_layer(struct hnsw_index *idx, struct hnsw_ctx *c, uint32_t ep, size_t ef, int level,
                      int accept_deleted, hnsw_filter_fn f, void *fctx, size_t visit_budget)
{
    uint16_t epoch = hnsw_ctx_epoch(c);
    uint16_t *vis = c->visited;
    hnsw_ctx_reserve(&c->res, &c->res_cap, ef + 1);
    hnsw_ctx_reserve(&c->cand, &c->cand_cap, 256);
    c->cand_n = 0;
    c->res_n = 0;

    struct hnsw_cand e0 = {hnsw_dist_q(idx, c, ep), ep};
    vis[ep] = epoch;
    hnsw_heap_push_min(c->cand, &c->cand_n, e0);
    if (accepted(idx, ep, accept_deleted, f, fctx))
        hnsw_heap_push_max(c->res, &c->res_n, e0);
    float lower = c->res_n ? c->res[0].d : INFINITY;
    size_t nvisited = 1;
    unsigned maxl = hnsw_max_links(idx, level);

    while (c->cand_n) {
        struct hnsw_cand cur = hnsw_heap_pop_min(c->cand, &c->cand_n);
        if (c->res_n >= ef && cur.d > lower)
            break;
        const uint32_t *ll = hnsw_links(idx, cur.id, level);
        uint32_t n = ll[0];
        if (n > maxl)
            n = maxl;
        for (uint32_t j = 1; j <= n; j++)
            __builtin_prefetch(vis + ll[j], 0, 3);
        uint32_t m = 0;
        for (uint32_t j = 1; j <= n; j++) {
            uint32_t id = ll[j];
            if (vis[id] == epoch)
                continue;
            vis[id] = epoch;
            c->ids[m++] = id;
            __builtin_prefetch(idx->int8 ? (const void *)(idx->vq + (size_t)id * idx->dim)
                                         : (const void *)(idx->vf + (size_t)id * idx->dim),
                               0, 3);
        }
        nvisited += m;
        hnsw_ctx_reserve(&c->cand, &c->cand_cap, c->cand_n + m);
        for (uint32_t t = 0; t < m; t++) {
            uint32_t id = c->ids[t];
            if (t + 1 < m)
                hnsw_prefetch_vec(idx, c->ids[t + 1]);
            float d = hnsw_dist_q(idx, c, id);
            if (c->res_n < ef || d < lower) {
                struct hnsw_cand e = {d, id};
                hnsw_heap_push_min(c->cand, &c->cand_n, e);
                if (accepted(idx, id, accept_deleted, f, fctx)) {
                    hnsw_heap_push_max(c->res, &c->res_n, e);
                    if (c->res_n > ef)
                        (void)hnsw_heap_pop_max(c->res, &c->res_n);
                    lower = c->res[0].d;
                }
            }
        }
        if (visit_budget && nvisited > visit_budget)
            return 1;
    }
    return 0;
}

/* ---- exact scan (filter fallback, disconnected graph) ------------------------------------ */

static size_t exact_scan(struct hnsw_index *idx, struct hnsw_ctx *c, size_t k, hnsw_filter_fn f,
                         void *fctx)
{
    hnsw_ctx_reserve(&c->tmp, &c->tmp_cap, k + 1);
    size_t n = 0;
    for (uint32_t id = 0; id < idx->n_slots; id++) {
        if (idx->flags[id] & (HNSW_F_DELETED | HNSW_F_FREE))
            continue;
        if (f && f(idx->labels[id], fctx) != 1)
            continue;
        struct hnsw_cand e = {-hnsw_exact_score(idx, c->qf, id), id};
        if (n < k) {
            hnsw_heap_push_max(c->tmp, &n, e);
        } else if (e.d < c->tmp[0].d) {
            (void)hnsw_heap_pop_max(c->tmp, &n);
            hnsw_heap_push_max(c->tmp, &n, e);
        }
    }
    hnsw_sort_cands(c->tmp, n);
    return n;
}

/* ---- Algorithm 5: K-NN-SEARCH(q, K, ef) -------------------------------------------------- */

size_t hnsw_search(hnsw_index_t *idx, const float *query, size_t k, size_t ef, hnsw_filter_fn f,
                   void *fctx, struct hnsw_hit *out)
{
    if (!idx || !query || !out || k == 0)
        return 0;
    struct hnsw_ctx *c = hnsw_ctx_get(idx);
    size_t got = 0;
    if (vec_normalize(query, idx->dim, c->qf) != FG_OK)
        goto out;
    if (idx->int8)
        c->qscale = vec_quantize_i8(c->qf, idx->dim, c->qi8);

    hnsw_rdlock(idx);
    if (idx->n_live == 0 || idx->entry == HNSW_NONE)
        goto unlock;
    hnsw_ctx_fit(idx, c);
    if (k > idx->n_live) /* bounds every allocation below by the index size */
        k = idx->n_live;
    if (ef < k)
        ef = k;
    size_t ef_max = k > HNSW_EF_MAX ? k : HNSW_EF_MAX;
    if (ef > ef_max)
        ef = ef_max;
    size_t want = k;

    uint32_t ep = hnsw_greedy(idx, c, idx->entry, idx->max_level, 0);
    size_t budget = 0;
    if (f) {
        /* Give up on the graph once it has cost a fair fraction of an exact scan; never below
         * what an unfiltered search at this ef may visit (~ef * 2M). */
        budget = (size_t)((double)idx->n_slots * HNSW_FILTER_VISIT_FRACTION);
        if (budget < 2 * ef * idx->M0)
            budget = 2 * ef * idx->M0;
    }
    int aborted = hnsw_search_layer(idx, c, ep, ef, 0, 0, f, fctx, budget);

    size_t n;
    if (aborted || c->res_n < want) {
        n = exact_scan(idx, c, k, f, fctx); /* sorted, exact scores */
        __atomic_fetch_add(&idx->exact_scans, 1, __ATOMIC_RELAXED);
    } else {
        n = c->res_n;
        hnsw_ctx_reserve(&c->tmp, &c->tmp_cap, n);
        for (size_t i = 0; i < n; i++)
            c->tmp[i] = c->res[i];
        hnsw_sort_cands(c->tmp, n);
        if (idx->int8) {
            /* Exact float re-ranking of the best candidates by int8 distance. */
            size_t r = idx->rerank ? idx->rerank : k * HNSW_RERANK_PER_K;
            if (r < HNSW_RERANK_MIN)
                r = HNSW_RERANK_MIN;
            if (r < k)
                r = k;
            if (r > n)
                r = n;
            for (size_t i = 0; i < r; i++) {
                if (i + 1 < r)
                    __builtin_prefetch(idx->fs_map + (size_t)c->tmp[i + 1].id * idx->dim, 0, 1);
                c->tmp[i].d = -hnsw_exact_score(idx, c->qf, c->tmp[i].id);
            }
            hnsw_sort_cands(c->tmp, r);
            n = r;
        }
    }
    if (n > k)
        n = k;
    for (size_t i = 0; i < n; i++) {
        out[i].label = idx->labels[c->tmp[i].id];
        out[i].score = -c->tmp[i].d;
    }
    got = n;
unlock:
    hnsw_unlock(idx);
out:
    hnsw_ctx_put(idx, c);
    return got;
}
