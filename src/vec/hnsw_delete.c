/* HNSW deletion: tombstones + batch repair ("vacuum"). Not in the paper.
 *
 * hnsw_delete marks the slot deleted and removes its label: O(1), the label is never returned
 * again (searches skip tombstones when collecting results) but the node keeps routing searches,
 * so recall does not drop right after a delete. An update is a delete + insert.
 *
 * When tombstones exceed vacuum_threshold (default 10%) of the slots in the graph, the writer
 * call that crossed it runs hnsw_vacuum, which, like pgvector's HNSW vacuum, repairs the
 * neighbours of deleted nodes instead of rebuilding:
 *   1. for every live node u and level l whose list points at tombstones: keep u's live
 *      neighbours, and fill the freed places from the tombstones' own neighbour lists (their
 *      live members, i.e. u's 2-hop neighbourhood through the deleted node), chosen with
 *      SELECT-NEIGHBORS-HEURISTIC (Algorithm 4) seeded with the kept neighbours;
 *   2. any live node left with no level-0 out-link or no level-0 in-link is re-linked with a
 *      full construction search (Algorithm 1 at level 0), so no live node becomes unreachable;
 *   3. tombstones are unlinked, their slots go to the free list (reused by inserts), and a new
 *      entry point (highest live level) is chosen if the old one was deleted.
 * The pass holds the write lock. Setting vacuum_threshold < 0 turns the automatic trigger off so
 * a background thread can call hnsw_vacuum at a quiet time instead. */
#include <stdlib.h>
#include <string.h>

#include "util/mem.h"
#include "vec/hnsw_internal.h"

enum fg_err hnsw_delete(hnsw_index_t *idx, uint64_t label)
{
    if (!idx)
        return FG_EINVAL;
    hnsw_wrlock(idx);
    uint32_t id = hnsw_map_find(idx, label);
    if (id == HNSW_NONE) {
        hnsw_unlock(idx);
        return FG_ENOTFOUND;
    }
    hnsw_tombstone(idx, id);
    int vac = hnsw_needs_vacuum(idx);
    hnsw_unlock(idx);
    return vac ? hnsw_vacuum(idx) : FG_OK;
}

static inline int is_dead(const struct hnsw_index *idx, uint32_t id)
{
    return (idx->flags[id] & (HNSW_F_DELETED | HNSW_F_FREE)) != 0;
}

/* Step 1 for one node and level. Returns the new number of links. */
static uint32_t repair_list(struct hnsw_index *idx, struct hnsw_ctx *c, uint32_t u, int lvl)
{
    uint32_t *ll = hnsw_links(idx, u, lvl);
    uint32_t n = ll[0];
    unsigned maxl = hnsw_max_links(idx, lvl);
    uint32_t ndel = 0;
    for (uint32_t j = 1; j <= n; j++)
        ndel += is_dead(idx, ll[j]);
    if (ndel == 0)
        return n;

    uint16_t epoch = hnsw_ctx_epoch(c);
    uint16_t *vis = c->visited;
    vis[u] = epoch;
    hnsw_ctx_reserve(&c->tmp, &c->tmp_cap, (size_t)n + (size_t)ndel * maxl);
    size_t r = 0;
    for (uint32_t j = 1; j <= n; j++) {
        uint32_t v = ll[j];
        vis[v] = epoch;
        if (!is_dead(idx, v))
            c->tmp[r++] = (struct hnsw_cand){hnsw_dist_ids(idx, u, v), v};
    }
    size_t m = r;
    for (uint32_t j = 1; j <= n; j++) {
        uint32_t v = ll[j];
        if (!(idx->flags[v] & HNSW_F_DELETED))
            continue;
        const uint32_t *wl = hnsw_links(idx, v, lvl);
        for (uint32_t t = 1; t <= wl[0]; t++) {
            uint32_t w = wl[t];
            if (vis[w] == epoch)
                continue;
            vis[w] = epoch;
            if (!is_dead(idx, w))
                c->tmp[m++] = (struct hnsw_cand){hnsw_dist_ids(idx, u, w), w};
        }
    }
    hnsw_sort_cands(c->tmp + r, m - r);
    /* SELECT-NEIGHBORS-HEURISTIC seeded with the kept neighbours. */
    for (size_t i = r; i < m && r < maxl; i++) {
        struct hnsw_cand e = c->tmp[i];
        int good = 1;
        for (size_t j = 0; j < r; j++) {
            if (hnsw_dist_ids(idx, e.id, c->tmp[j].id) < e.d) {
                good = 0;
                break;
            }
        }
        if (good)
            c->tmp[r++] = e;
    }
    for (size_t j = 0; j < r; j++)
        ll[1 + j] = c->tmp[j].id;
    ll[0] = (uint32_t)r;
    return (uint32_t)r;
}

static void load_query_from_slot(struct hnsw_index *idx, struct hnsw_ctx *c, uint32_t u)
{
    if (idx->int8) {
        memcpy(c->qi8, idx->vq + (size_t)u * idx->dim, idx->dim);
        c->qscale = idx->vscale[u];
    } else {
        memcpy(c->qf, idx->vf + (size_t)u * idx->dim, (size_t)idx->dim * sizeof(float));
    }
}

enum fg_err hnsw_vacuum(hnsw_index_t *idx)
{
    if (!idx)
        return FG_EINVAL;
    struct hnsw_ctx *c = hnsw_ctx_get(idx);
    hnsw_wrlock(idx);
    if (idx->n_tomb == 0)
        goto out;
    hnsw_ctx_fit(idx, c);
    uint32_t ns = idx->n_slots;

    /* 1. Repair lists that point at tombstones. */
    for (int lvl = idx->max_level; lvl >= 0; lvl--)
        for (uint32_t u = 0; u < ns; u++)
            if (!is_dead(idx, u) && idx->levels[u] >= lvl)
                (void)repair_list(idx, c, u, lvl);

    /* 2. Re-link live nodes with no level-0 out-link or in-link (while tombstones still route). */
    if (idx->n_live > 1) {
        uint8_t *indeg = fg_xcalloc(ns, 1);
        for (uint32_t u = 0; u < ns; u++) {
            if (is_dead(idx, u))
                continue;
            const uint32_t *ll = hnsw_links(idx, u, 0);
            for (uint32_t j = 1; j <= ll[0]; j++)
                if (indeg[ll[j]] < 255)
                    indeg[ll[j]]++;
        }
        for (uint32_t u = 0; u < ns; u++) {
            if (is_dead(idx, u))
                continue;
            if (indeg[u] > 0 && hnsw_links(idx, u, 0)[0] > 0)
                continue;
            if (u == idx->entry && hnsw_links(idx, u, 0)[0] > 0)
                continue;
            load_query_from_slot(idx, c, u);
            hnsw_link_node(idx, c, u, 0, idx->entry, idx->max_level);
        }
        free(indeg);
    }

    /* 3. Free the tombstones. */
    uint32_t need = idx->n_free + idx->n_tomb;
    if (need > idx->free_cap) {
        idx->free_ids = fg_xrealloc(idx->free_ids, (size_t)need * sizeof(uint32_t));
        idx->free_cap = need;
    }
    /* Push in descending id order so that inserts reuse the lowest ids first. */
    for (uint32_t u = ns; u-- > 0;) {
        if (!(idx->flags[u] & HNSW_F_DELETED))
            continue;
        idx->flags[u] = HNSW_F_FREE;
        idx->links0[(size_t)u * (idx->M0 + 1)] = 0;
        if (idx->upper[u]) {
            idx->upper_bytes -= (size_t)idx->levels[u] * (idx->M + 1) * sizeof(uint32_t);
            free(idx->upper[u]);
            idx->upper[u] = NULL;
        }
        idx->levels[u] = 0;
        idx->free_ids[idx->n_free++] = u;
    }
    idx->n_tomb = 0;

    /* Defensive scrub (step 2's fallback may have linked a tombstone when nothing else was
     * reachable) and new entry point if needed. */
    uint32_t best = HNSW_NONE;
    for (uint32_t u = 0; u < ns; u++) {
        if (is_dead(idx, u))
            continue;
        for (int lvl = 0; lvl <= idx->levels[u]; lvl++) {
            uint32_t *ll = hnsw_links(idx, u, lvl);
            uint32_t w = 0;
            for (uint32_t j = 1; j <= ll[0]; j++)
                if (!is_dead(idx, ll[j]))
                    ll[1 + w++] = ll[j];
            ll[0] = w;
        }
        if (best == HNSW_NONE || idx->levels[u] > idx->levels[best])
            best = u;
    }
    if (idx->entry == HNSW_NONE || is_dead(idx, idx->entry)) {
        idx->entry = best;
        idx->max_level = best == HNSW_NONE ? -1 : idx->levels[best];
    }
    idx->vacuums++;
out:
    hnsw_unlock(idx);
    hnsw_ctx_put(idx, c);
    return FG_OK;
}
