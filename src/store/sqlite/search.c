/*
 * SQLite: search area (store/search.h). Full text through the contentless FTS5 table of
 * migrations/040_search.sql, BM25 through bm25() (content weight 1.0, metadata 0.5), the
 * DERIVED_FROM neighbourhood as a layered breadth-first walk over capsule_edges (two indexed
 * lookups per visited capsule, bounded by max_nodes), and the embedding-space bookkeeping in the
 * settings table.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store/search.h"
#include "store/sqlite/sqlite_int.h"
#include "util/mem.h"

#define SPACE_KEY "search.embedding_space"

/* Full-text hits are ranked inside FTS5 first (bm25 needs only the FTS shadow tables), and only
 * the best `window` of them are joined with capsules for the visibility filters: joining every
 * match costs a capsule row read per match (11 ms instead of 3 ms for 1 200 matches in 100 000
 * capsules). When the filters leave fewer than `limit` rows and the window was full, the window
 * grows (×8) until it covers every match. */
#define KW_WINDOW_MIN 64
#define KW_WINDOW_MAX (1LL << 40)

/* Number of matches of `match`, counting at most `cap`. */
static enum fg_err kw_count(struct store_conn *c, const char *match, long long cap, long long *n)
{
    static const char sql[] = "SELECT count(*) FROM (SELECT 1 FROM capsule_fts"
                              " WHERE capsule_fts MATCH ?1 LIMIT ?2)";
    sqlite3_stmt *st = sq_prepare(c, sql);
    if (!st)
        return FG_EDB;
    sqlite3_bind_text(st, 1, match, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 2, cap);
    int rc = sqlite3_step(st);
    enum fg_err e = FG_OK;
    if (rc == SQLITE_ROW)
        *n = sqlite3_column_int64(st, 0);
    else
        e = (rc & 0xff) == SQLITE_ERROR ? FG_EINVAL : sq_err(c, rc, "keyword count");
    sqlite3_reset(st);
    return e;
}

static enum fg_err kw_query(struct store_conn *c, const struct store_keyword_query *q,
                            store_keyword_cb cb, void *ctx)
{
    /* bm25() is negative (more negative = better); ties broken by id for a stable order. */
    static const char sql[] =
        "SELECT d.capsule_id, t.s"
        " FROM (SELECT rowid AS docid, -bm25(capsule_fts, 1.0, 0.5) AS s FROM capsule_fts"
        "       WHERE capsule_fts MATCH ?1 ORDER BY s DESC LIMIT ?5) t"
        " JOIN capsule_fts_docs d ON d.docid = t.docid JOIN capsules c ON c.id = d.capsule_id"
        " WHERE c.is_deleted = 0 AND c.trust_level <= ?2 AND (?3 IS NULL OR c.type = ?3)"
        " ORDER BY t.s DESC, d.capsule_id LIMIT ?4";
    if (!q->match || !q->match[0] || q->limit < 1 || q->limit > STORE_SEARCH_KEYWORD_LIMIT_MAX)
        return FG_EINVAL;
    struct store_keyword_hit *hits = fg_xcalloc((size_t)q->limit, sizeof *hits);
    char(*ids)[37] = fg_xcalloc((size_t)q->limit, sizeof *ids);
    long long window = q->limit * 4 > KW_WINDOW_MIN ? q->limit * 4 : KW_WINDOW_MIN;
    enum fg_err e = FG_OK;
    long long n = 0;
    for (;;) {
        sqlite3_stmt *st = sq_prepare(c, sql);
        if (!st) {
            e = FG_EDB;
            break;
        }
        sqlite3_bind_text(st, 1, q->match, -1, SQLITE_STATIC);
        sqlite3_bind_int(st, 2, q->max_trust);
        sq_bind_text(st, 3, q->type);
        sqlite3_bind_int64(st, 4, q->limit);
        sqlite3_bind_int64(st, 5, window);
        /* Collected first: a wider window starts over, and callbacks see each hit once. */
        n = 0;
        int rc;
        while ((rc = sqlite3_step(st)) == SQLITE_ROW && n < q->limit) {
            const unsigned char *id = sqlite3_column_text(st, 0);
            if (!id || strlen((const char *)id) > 36)
                continue;
            snprintf(ids[n], sizeof ids[n], "%s", (const char *)id);
            hits[n].capsule_id = ids[n];
            hits[n].bm25 = sqlite3_column_double(st, 1);
            n++;
        }
        if (rc != SQLITE_DONE && rc != SQLITE_ROW)
            /* A malformed MATCH expression is SQLITE_ERROR ("fts5: syntax error ..."). */
            e = (rc & 0xff) == SQLITE_ERROR ? FG_EINVAL : sq_err(c, rc, "keyword search");
        sqlite3_reset(st);
        if (e != FG_OK || n >= q->limit || window >= KW_WINDOW_MAX)
            break;
        /* Fewer visible rows than asked: widen only if the window did not hold every match. */
        long long matches = 0;
        if ((e = kw_count(c, q->match, window + 1, &matches)) != FG_OK || matches <= window)
            break;
        window *= 8;
    }
    for (long long i = 0; e == FG_OK && i < n; i++)
        if (cb(&hits[i], ctx))
            break;
    free(hits);
    free(ids);
    return e;
}

/* ---- neighbourhood: a small string set for the visited capsules ------------------------- */

struct idset {
    char (*ids)[37];
    size_t n, cap; /* cap: power of two; slot empty when ids[i][0] == 0 */
};

static uint64_t fnv1a(const char *s)
{
    uint64_t h = 1469598103934665603ull;
    for (; *s; s++) {
        h ^= (unsigned char)*s;
        h *= 1099511628211ull;
    }
    return h;
}

static int idset_has(const struct idset *s, const char *id)
{
    if (!s->cap)
        return 0;
    size_t m = s->cap - 1;
    for (size_t i = fnv1a(id) & m; s->ids[i][0]; i = (i + 1) & m)
        if (strcmp(s->ids[i], id) == 0)
            return 1;
    return 0;
}

/* 1 if added, 0 if already present. */
static int idset_add(struct idset *s, const char *id)
{
    if ((s->n + 1) * 2 > s->cap) {
        struct idset g = {.cap = s->cap ? s->cap * 2 : 64};
        g.ids = fg_xcalloc(g.cap, sizeof *g.ids);
        for (size_t i = 0; i < s->cap; i++)
            if (s->ids[i][0])
                idset_add(&g, s->ids[i]);
        free(s->ids);
        *s = g;
    }
    size_t m = s->cap - 1;
    for (size_t i = fnv1a(id) & m;; i = (i + 1) & m) {
        if (!s->ids[i][0]) {
            snprintf(s->ids[i], sizeof s->ids[i], "%s", id);
            s->n++;
            return 1;
        }
        if (strcmp(s->ids[i], id) == 0)
            return 0;
    }
}

struct idvec {
    char (*v)[37];
    size_t n, cap;
};

static void idvec_push(struct idvec *v, const char *id)
{
    if (v->n == v->cap) {
        v->cap = v->cap ? v->cap * 2 : 16;
        v->v = fg_xrealloc(v->v, v->cap * sizeof *v->v);
    }
    snprintf(v->v[v->n++], 37, "%s", id);
}

/* Adds the neighbours of `id` through `st` (bound to ?1 = id) to `next`, unless already seen. */
static enum fg_err expand(struct store_conn *c, sqlite3_stmt *st, const char *id,
                          struct idset *seen, struct idvec *next, size_t max_nodes, int *full)
{
    sqlite3_bind_text(st, 1, id, -1, SQLITE_TRANSIENT);
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        const char *n = (const char *)sqlite3_column_text(st, 0);
        if (!n || strlen(n) > 36)
            continue;
        if (seen->n >= max_nodes && !idset_has(seen, n)) {
            *full = 1;
            break;
        }
        if (idset_add(seen, n))
            idvec_push(next, n);
    }
    enum fg_err e = (rc == SQLITE_ROW || rc == SQLITE_DONE) ? FG_OK : sq_err(c, rc, "edges");
    sqlite3_reset(st);
    return e;
}

static enum fg_err neighbourhood(struct store_conn *c, const char *id, int max_hops,
                                 size_t max_nodes, store_hop_cb cb, void *ctx, int *truncated)
{
    static const char up[] = "SELECT parent_id FROM capsule_edges "
                             "WHERE child_id = ?1 AND relation = 'DERIVED_FROM'";
    static const char down[] = "SELECT child_id FROM capsule_edges "
                               "WHERE parent_id = ?1 AND relation = 'DERIVED_FROM'";
    struct idset seen = {0};
    struct idvec cur = {0}, next = {0};
    enum fg_err e = FG_OK;
    int full = 0, stop = 0;
    *truncated = 0;
    if (!id || strlen(id) > 36 || max_nodes == 0)
        return FG_EINVAL;
    idset_add(&seen, id);
    idvec_push(&cur, id);
    stop = cb(id, 0, ctx);
    for (int d = 1; d <= max_hops && cur.n && !stop && !full; d++) {
        next.n = 0;
        for (size_t i = 0; i < cur.n && !full; i++) {
            sqlite3_stmt *su = sq_prepare(c, up), *sd = sq_prepare(c, down);
            if (!su || !sd) {
                e = FG_EDB;
                goto out;
            }
            if ((e = expand(c, su, cur.v[i], &seen, &next, max_nodes, &full)) != FG_OK ||
                (e = expand(c, sd, cur.v[i], &seen, &next, max_nodes, &full)) != FG_OK)
                goto out;
        }
        for (size_t i = 0; i < next.n && !stop; i++)
            stop = cb(next.v[i], d, ctx);
        struct idvec t = cur;
        cur = next;
        next = t;
    }
    *truncated = full;
out:
    free(seen.ids);
    free(cur.v);
    free(next.v);
    return e;
}

static enum fg_err scan_live(struct store_conn *c, const char *after_id, long long limit,
                             int with_embedding, store_doc_cb cb, void *ctx)
{
    static const char sql[] =
        "SELECT id, content, content_hash, type, trust_level, NULL, metadata FROM capsules"
        " WHERE id > ?1 AND is_deleted = 0 ORDER BY id LIMIT ?2";
    static const char sql_emb[] =
        "SELECT id, content, content_hash, type, trust_level, embedding, metadata FROM capsules"
        " WHERE id > ?1 AND is_deleted = 0 ORDER BY id LIMIT ?2";
    sqlite3_stmt *st = sq_prepare(c, with_embedding ? sql_emb : sql);
    if (!st)
        return FG_EDB;
    sqlite3_bind_text(st, 1, after_id ? after_id : "", -1, SQLITE_TRANSIENT);
    sqlite3_bind_int64(st, 2, limit);
    int rc, stop = 0;
    while (!stop && (rc = sqlite3_step(st)) == SQLITE_ROW) {
        struct store_search_doc d = {
            .id = (const char *)sqlite3_column_text(st, 0),
            .content = (const char *)sqlite3_column_text(st, 1),
            .content_len = (size_t)sqlite3_column_bytes(st, 1),
            .content_hash = (const char *)sqlite3_column_text(st, 2),
            .type = (const char *)sqlite3_column_text(st, 3),
            .trust_level = sqlite3_column_int(st, 4),
            .metadata = (const char *)sqlite3_column_text(st, 6),
            .metadata_len = (size_t)sqlite3_column_bytes(st, 6),
        };
        if (sqlite3_column_type(st, 5) == SQLITE_BLOB) {
            d.embedding = sqlite3_column_blob(st, 5);
            d.embedding_len = (size_t)sqlite3_column_bytes(st, 5);
        }
        if (!d.id || !d.content || !d.content_hash || !d.type)
            continue;
        stop = cb(&d, ctx);
    }
    enum fg_err e = (stop || rc == SQLITE_DONE) ? FG_OK : sq_err(c, rc, "scan live capsules");
    sqlite3_reset(st);
    return e;
}

static enum fg_err space_get(struct store_conn *c, char *out, size_t outlen)
{
    static const char sql[] = "SELECT value FROM settings WHERE key = '" SPACE_KEY "'";
    sqlite3_stmt *st = sq_prepare(c, sql);
    if (!st)
        return FG_EDB;
    int rc = sqlite3_step(st);
    enum fg_err e = FG_OK;
    if (rc == SQLITE_ROW) {
        const unsigned char *v = sqlite3_column_text(st, 0);
        snprintf(out, outlen, "%s", v ? (const char *)v : "");
    } else if (rc == SQLITE_DONE) {
        snprintf(out, outlen, "%s", "");
    } else {
        e = sq_err(c, rc, "embedding space");
    }
    sqlite3_reset(st);
    return e;
}

static enum fg_err space_set(struct store_conn *c, const char *space)
{
    static const char sql[] =
        "INSERT INTO settings (key, value, updated_at)"
        " VALUES ('" SPACE_KEY "', ?1, strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))"
        " ON CONFLICT (key) DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at";
    if (!space || strlen(space) >= STORE_SEARCH_SPACE_MAX)
        return FG_EINVAL;
    sqlite3_stmt *st = sq_prepare(c, sql);
    if (!st)
        return FG_EDB;
    sqlite3_bind_text(st, 1, space, -1, SQLITE_TRANSIENT);
    int rc = sqlite3_step(st);
    enum fg_err e = rc == SQLITE_DONE ? FG_OK : sq_err(c, rc, "set embedding space");
    sqlite3_reset(st);
    return e;
}

static enum fg_err clear_deleted_embeddings(struct store_conn *c, long long *n)
{
    static const char sql[] =
        "UPDATE capsules SET embedding = NULL WHERE is_deleted <> 0 AND embedding IS NOT NULL";
    sqlite3_stmt *st = sq_prepare(c, sql);
    if (!st)
        return FG_EDB;
    int rc = sqlite3_step(st);
    enum fg_err e = rc == SQLITE_DONE ? FG_OK : sq_err(c, rc, "clear embeddings");
    sqlite3_reset(st);
    *n = e == FG_OK ? sqlite3_changes(c->db) : 0;
    return e;
}

static enum fg_err count_embedded(struct store_conn *c, long long *n)
{
    static const char sql[] =
        "SELECT count(*) FROM capsules WHERE is_deleted = 0 AND embedding IS NOT NULL";
    sqlite3_stmt *st = sq_prepare(c, sql);
    if (!st)
        return FG_EDB;
    int rc = sqlite3_step(st);
    enum fg_err e = rc == SQLITE_ROW ? FG_OK : sq_err(c, rc, "count embedded");
    *n = e == FG_OK ? sqlite3_column_int64(st, 0) : 0;
    sqlite3_reset(st);
    return e;
}

const struct store_search_ops sqlite_search_ops = {
    .keyword = kw_query,
    .neighbourhood = neighbourhood,
    .scan_live = scan_live,
    .space_get = space_get,
    .space_set = space_set,
    .clear_deleted_embeddings = clear_deleted_embeddings,
    .count_embedded = count_embedded,
};
