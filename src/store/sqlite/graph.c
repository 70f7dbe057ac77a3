/*
 * SQLite: the knowledge graph (store/graph.h). Typed edges live in capsule_links (migration 070),
 * DERIVED_FROM edges in capsule_edges (020); one expansion query reads both, in the directions
 * asked, for a whole BFS level at once (the level's ids are bound as one JSON array and read with
 * json_each — inline in each branch, and every join written CROSS JOIN so SQLite keeps the
 * given order (the few ids outside, index lookups inside) whatever its statistics say: a shared CTE
 * made SQLite materialise it and build a Bloom filter over the whole edge table, 20 ms instead of
 * 0.9 ms for a 250-edge hub at 25 000 edges), and joins the far end for visibility. Every lookup is
 * an index range: outgoing typed edges by the UNIQUE (source_id, target_id, type) index, incoming
 * by capsule_links_target, derivations by the capsule_edges primary key (child) and
 * capsule_edges_parent.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store/graph.h"
#include "store/sqlite/sqlite_int.h"
#include "util/buf.h"
#include "util/mem.h"

#define IDS_JSON_MAX (64u << 20)

/* JSON array text of ids (ids are UUIDs: only hex digits and dashes are copied). */
static char *ids_json(const char *const *ids, size_t n)
{
    struct fg_buf b;
    fg_buf_init(&b, IDS_JSON_MAX);
    fg_buf_puts(&b, "[");
    for (size_t i = 0; i < n; i++) {
        char id[37];
        size_t k = 0;
        for (const char *p = ids[i]; *p && k < 36; p++)
            if ((*p >= '0' && *p <= '9') || (*p >= 'a' && *p <= 'f') || *p == '-')
                id[k++] = *p;
        id[k] = '\0';
        fg_buf_printf(&b, "%s\"%s\"", i ? "," : "", id);
    }
    fg_buf_puts(&b, "]");
    return fg_buf_steal(&b, NULL);
}

/* The type of l as its STORE_EDGE_* bit. */
#define TYPE_BIT_L                                                                                 \
    "(CASE l.type WHEN 'supports' THEN 1 WHEN 'contradicts' THEN 2 WHEN 'supersedes' THEN 4 "      \
    "WHEN 'related_to' THEN 8 WHEN 'references' THEN 16 ELSE 0 END)"

/* Columns: from, edge (id, source, target, type, note, weight, creator, created_at), far end. */
#define EXPAND_UNION                                                                               \
    "SELECT x.src, x.id, x.source_id, x.target_id, x.type, x.note, x.weight, x.creator_id, "       \
    "x.created_at, c.id, c.type, c.version, c.trust_level, c.owner_id, c.created_at, "             \
    "c.updated_at FROM ("                                                                          \
    " SELECT f.value AS src, l.id, l.source_id, l.target_id, l.type, l.note, l.weight, "           \
    "  l.creator_id, l.created_at, l.target_id AS far"                                             \
    "  FROM json_each(?1) f CROSS JOIN capsule_links l ON l.source_id = f.value"                   \
    "  WHERE (?2 & 1) <> 0 AND (?3 & " TYPE_BIT_L ") <> 0"                                         \
    " UNION ALL"                                                                                   \
    " SELECT f.value, l.id, l.source_id, l.target_id, l.type, l.note, l.weight, l.creator_id, "    \
    "  l.created_at, l.source_id"                                                                  \
    "  FROM json_each(?1) f CROSS JOIN capsule_links l ON l.target_id = f.value"                   \
    "  WHERE (?2 & 2) <> 0 AND (?3 & " TYPE_BIT_L ") <> 0"                                         \
    " UNION ALL"                                                                                   \
    " SELECT f.value, '', e.child_id, e.parent_id, 'derived_from', e.reason, 1.0,"                 \
    "  (SELECT o.owner_id FROM capsules o WHERE o.id = e.child_id), e.created_at, e.parent_id"     \
    "  FROM json_each(?1) f CROSS JOIN capsule_edges e ON e.child_id = f.value"                    \
    "  WHERE (?2 & 1) <> 0 AND (?3 & 32) <> 0 AND e.relation = 'DERIVED_FROM'"                     \
    " UNION ALL"                                                                                   \
    " SELECT f.value, '', e.child_id, e.parent_id, 'derived_from', e.reason, 1.0,"                 \
    "  (SELECT o.owner_id FROM capsules o WHERE o.id = e.child_id), e.created_at, e.child_id"      \
    "  FROM json_each(?1) f CROSS JOIN capsule_edges e ON e.parent_id = f.value"                   \
    "  WHERE (?2 & 2) <> 0 AND (?3 & 32) <> 0 AND e.relation = 'DERIVED_FROM'"                     \
    ") x CROSS JOIN capsules c WHERE c.id = x.far AND c.is_deleted = 0 AND c.trust_level <= ?4"

static void read_edge(sqlite3_stmt *st, int col, struct store_edge *e)
{
    sq_col_text(st, col + 0, e->id, sizeof e->id);
    sq_col_text(st, col + 1, e->source_id, sizeof e->source_id);
    sq_col_text(st, col + 2, e->target_id, sizeof e->target_id);
    sq_col_text(st, col + 3, e->type, sizeof e->type);
    e->note = (const char *)sqlite3_column_text(st, col + 4);
    e->weight = sqlite3_column_double(st, col + 5);
    sq_col_text(st, col + 6, e->creator_id, sizeof e->creator_id);
    e->created_at = sqlite3_column_int64(st, col + 7);
}

static void read_node(sqlite3_stmt *st, int col, struct store_node *n)
{
    sq_col_text(st, col + 0, n->id, sizeof n->id);
    sq_col_text(st, col + 1, n->type, sizeof n->type);
    sq_col_text(st, col + 2, n->version, sizeof n->version);
    n->trust_level = sqlite3_column_int(st, col + 3);
    sq_col_text(st, col + 4, n->owner_id, sizeof n->owner_id);
    n->created_at = sqlite3_column_int64(st, col + 5);
    n->updated_at = sqlite3_column_int64(st, col + 6);
}

static enum fg_err g_insert(struct store_conn *c, const struct store_edge *e)
{
    static const char sql[] =
        "INSERT INTO capsule_links (id, source_id, target_id, type, note, weight, creator_id, "
        "created_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)";
    sqlite3_stmt *st = sq_prepare(c, sql);
    if (!st)
        return FG_EDB;
    sqlite3_bind_text(st, 1, e->id, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, e->source_id, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 3, e->target_id, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 4, e->type, -1, SQLITE_STATIC);
    sq_bind_text(st, 5, e->note);
    sqlite3_bind_double(st, 6, e->weight);
    sqlite3_bind_text(st, 7, e->creator_id, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 8, e->created_at);
    return sq_step_done(c, st, "edge insert", NULL);
}

static enum fg_err g_get(struct store_conn *c, const char *id, struct store_edge *out,
                         char *note_buf, size_t note_len)
{
    static const char sql[] = "SELECT id, source_id, target_id, type, note, weight, creator_id, "
                              "created_at FROM capsule_links WHERE id = ?1";
    sqlite3_stmt *st = sq_prepare(c, sql);
    if (!st)
        return FG_EDB;
    sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
    int rc = sqlite3_step(st);
    enum fg_err e = FG_OK;
    if (rc == SQLITE_ROW) {
        read_edge(st, 0, out);
        snprintf(note_buf, note_len, "%s", out->note ? out->note : "");
        out->note = out->note ? note_buf : NULL;
    } else {
        e = rc == SQLITE_DONE ? FG_ENOTFOUND : sq_err(c, rc, "edge get");
    }
    sqlite3_reset(st);
    return e;
}

static enum fg_err g_find(struct store_conn *c, const char *source, const char *target,
                          const char *type, char id_out[37])
{
    static const char sql[] = "SELECT id FROM capsule_links WHERE source_id = ?1 AND "
                              "target_id = ?2 AND type = ?3";
    sqlite3_stmt *st = sq_prepare(c, sql);
    if (!st)
        return FG_EDB;
    sqlite3_bind_text(st, 1, source, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, target, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 3, type, -1, SQLITE_STATIC);
    int rc = sqlite3_step(st);
    enum fg_err e = FG_OK;
    if (rc == SQLITE_ROW)
        sq_col_text(st, 0, id_out, 37);
    else
        e = rc == SQLITE_DONE ? FG_ENOTFOUND : sq_err(c, rc, "edge find");
    sqlite3_reset(st);
    return e;
}

static enum fg_err g_remove(struct store_conn *c, const char *id)
{
    static const char sql[] = "DELETE FROM capsule_links WHERE id = ?1";
    sqlite3_stmt *st = sq_prepare(c, sql);
    if (!st)
        return FG_EDB;
    sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
    int n = 0;
    enum fg_err e = sq_step_done(c, st, "edge delete", &n);
    return e == FG_OK && n == 0 ? FG_ENOTFOUND : e;
}

static enum fg_err g_count_out(struct store_conn *c, const char *source, long long *n)
{
    static const char sql[] = "SELECT count(*) FROM capsule_links WHERE source_id = ?1";
    sqlite3_stmt *st = sq_prepare(c, sql);
    if (!st)
        return FG_EDB;
    sqlite3_bind_text(st, 1, source, -1, SQLITE_STATIC);
    int rc = sqlite3_step(st);
    enum fg_err e = FG_OK;
    if (rc == SQLITE_ROW)
        *n = sqlite3_column_int64(st, 0);
    else
        e = sq_err(c, rc == SQLITE_DONE ? SQLITE_ERROR : rc, "edge count");
    sqlite3_reset(st);
    return e;
}

static enum fg_err g_expand(struct store_conn *c, const struct store_expand *q, store_step_cb cb,
                            void *ctx)
{
    static const char fast[] = EXPAND_UNION " LIMIT ?5";
    static const char ordered[] =
        EXPAND_UNION " ORDER BY x.created_at DESC, x.id DESC, x.source_id DESC LIMIT ?5 OFFSET ?6";
    static const char counted[] = "SELECT count(*) FROM (" EXPAND_UNION ")";
    char *json = ids_json(q->ids, q->n);
    enum fg_err e = FG_OK;
    sqlite3_stmt *st;
    if (q->ordered && q->total) {
        if (!(st = sq_prepare(c, counted))) {
            e = FG_EDB;
            goto out;
        }
        sqlite3_bind_text(st, 1, json, -1, SQLITE_STATIC);
        sqlite3_bind_int(st, 2, (int)q->dir);
        sqlite3_bind_int(st, 3, (int)q->types);
        sqlite3_bind_int(st, 4, q->max_trust);
        int rc = sqlite3_step(st);
        if (rc == SQLITE_ROW)
            *q->total = sqlite3_column_int64(st, 0);
        else
            e = sq_err(c, rc == SQLITE_DONE ? SQLITE_ERROR : rc, "edge count");
        sqlite3_reset(st);
        if (e != FG_OK || *q->total <= q->offset)
            goto out;
    }
    if (q->limit <= 0)
        goto out;
    if (!(st = sq_prepare(c, q->ordered ? ordered : fast))) {
        e = FG_EDB;
        goto out;
    }
    sqlite3_bind_text(st, 1, json, -1, SQLITE_STATIC);
    sqlite3_bind_int(st, 2, (int)q->dir);
    sqlite3_bind_int(st, 3, (int)q->types);
    sqlite3_bind_int(st, 4, q->max_trust);
    sqlite3_bind_int64(st, 5, q->limit);
    if (q->ordered)
        sqlite3_bind_int64(st, 6, q->offset);
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        struct store_edge ed;
        struct store_node nd;
        read_edge(st, 1, &ed);
        read_node(st, 9, &nd);
        struct store_step s = {
            .from = (const char *)sqlite3_column_text(st, 0), .edge = &ed, .node = &nd};
        if (cb(&s, ctx))
            break;
    }
    if (rc != SQLITE_ROW && rc != SQLITE_DONE)
        e = sq_err(c, rc, "edge expand");
    sqlite3_reset(st);
out:
    free(json);
    return e;
}

static enum fg_err g_remove_touching(struct store_conn *c, const char *capsule_id, store_edge_cb cb,
                                     void *ctx)
{
    static const char sql[] =
        "DELETE FROM capsule_links WHERE source_id = ?1 OR target_id = ?1 RETURNING id, "
        "source_id, target_id, type, note, weight, creator_id, created_at";
    sqlite3_stmt *st = sq_prepare(c, sql);
    if (!st)
        return FG_EDB;
    sqlite3_bind_text(st, 1, capsule_id, -1, SQLITE_STATIC);
    /* Collect first: callbacks write (outbox, audit) on the same connection. */
    struct store_edge *v = NULL;
    size_t n = 0, cap = 0;
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        if (n == cap) {
            cap = cap ? cap * 2 : 8;
            v = fg_xrealloc(v, cap * sizeof *v);
        }
        read_edge(st, 0, &v[n]);
        v[n].note = NULL;
        n++;
    }
    enum fg_err e = rc == SQLITE_DONE ? FG_OK : sq_err(c, rc, "edge cascade");
    sqlite3_reset(st);
    for (size_t i = 0; e == FG_OK && cb && i < n; i++)
        if (cb(&v[i], ctx))
            break;
    free(v);
    return e;
}

/* CROSS JOIN fixes the join order: walk capsule_links_type_created newest first and stop after
 * the page, instead of the planner's choice of scanning every live capsule by trust. */
static enum fg_err g_contradictions(struct store_conn *c, int max_trust, long long offset,
                                    long long limit, store_edge_cb cb, void *ctx, long long *total)
{
#define CONTRA_FROM                                                                                \
    " FROM capsule_links l CROSS JOIN capsules s CROSS JOIN capsules t"                            \
    " WHERE s.id = l.source_id AND t.id = l.target_id AND l.type = 'contradicts'"                  \
    " AND s.is_deleted = 0 AND s.trust_level <= ?1 AND t.is_deleted = 0 AND t.trust_level <= ?1"
    static const char cnt[] = "SELECT count(*)" CONTRA_FROM;
    static const char sql[] = "SELECT l.id, l.source_id, l.target_id, l.type, l.note, l.weight, "
                              "l.creator_id, l.created_at" CONTRA_FROM
                              " ORDER BY l.created_at DESC, l.id DESC LIMIT ?2 OFFSET ?3";
#undef CONTRA_FROM
    sqlite3_stmt *st = sq_prepare(c, cnt);
    if (!st)
        return FG_EDB;
    sqlite3_bind_int(st, 1, max_trust);
    int rc = sqlite3_step(st);
    enum fg_err e = FG_OK;
    if (rc == SQLITE_ROW)
        *total = sqlite3_column_int64(st, 0);
    else
        e = sq_err(c, rc == SQLITE_DONE ? SQLITE_ERROR : rc, "contradictions count");
    sqlite3_reset(st);
    if (e != FG_OK || *total <= offset || limit <= 0)
        return e;
    if (!(st = sq_prepare(c, sql)))
        return FG_EDB;
    sqlite3_bind_int(st, 1, max_trust);
    sqlite3_bind_int64(st, 2, limit);
    sqlite3_bind_int64(st, 3, offset);
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        struct store_edge ed;
        read_edge(st, 0, &ed);
        if (cb(&ed, ctx))
            break;
    }
    if (rc != SQLITE_ROW && rc != SQLITE_DONE)
        e = sq_err(c, rc, "contradictions");
    sqlite3_reset(st);
    return e;
}

static enum fg_err g_successors(struct store_conn *c, const char *const *ids, size_t n,
                                int max_trust, store_pair_cb cb, void *ctx)
{
    static const char sql[] =
        "SELECT l.target_id, l.source_id FROM json_each(?1) f"
        " CROSS JOIN capsule_links l ON l.target_id = f.value AND l.type = 'supersedes'"
        " CROSS JOIN capsules s ON s.id = l.source_id"
        " WHERE s.is_deleted = 0 AND s.trust_level <= ?2"
        " ORDER BY l.target_id, l.created_at DESC, l.id DESC";
    if (n == 0)
        return FG_OK;
    sqlite3_stmt *st = sq_prepare(c, sql);
    if (!st)
        return FG_EDB;
    char *json = ids_json(ids, n);
    sqlite3_bind_text(st, 1, json, -1, SQLITE_STATIC);
    sqlite3_bind_int(st, 2, max_trust);
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW)
        if (cb((const char *)sqlite3_column_text(st, 0), (const char *)sqlite3_column_text(st, 1),
               ctx))
            break;
    enum fg_err e = rc == SQLITE_ROW || rc == SQLITE_DONE ? FG_OK : sq_err(c, rc, "successors");
    sqlite3_reset(st);
    free(json);
    return e;
}

static enum fg_err g_nodes(struct store_conn *c, const char *const *ids, size_t n, int max_trust,
                           store_node_cb cb, void *ctx)
{
    static const char sql[] =
        "SELECT c.id, c.type, c.version, c.trust_level, c.owner_id, c.created_at, c.updated_at"
        " FROM json_each(?1) f CROSS JOIN capsules c ON c.id = f.value"
        " WHERE c.is_deleted = 0 AND c.trust_level <= ?2";
    if (n == 0)
        return FG_OK;
    sqlite3_stmt *st = sq_prepare(c, sql);
    if (!st)
        return FG_EDB;
    char *json = ids_json(ids, n);
    sqlite3_bind_text(st, 1, json, -1, SQLITE_STATIC);
    sqlite3_bind_int(st, 2, max_trust);
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        struct store_node nd;
        read_node(st, 0, &nd);
        if (cb(&nd, ctx))
            break;
    }
    enum fg_err e = rc == SQLITE_ROW || rc == SQLITE_DONE ? FG_OK : sq_err(c, rc, "nodes");
    sqlite3_reset(st);
    free(json);
    return e;
}

static enum fg_err version_query(struct store_conn *c, const char *sql, const char *id,
                                 const char *version, int64_t at, store_version_cb cb, void *ctx)
{
    sqlite3_stmt *st = sq_prepare(c, sql);
    if (!st)
        return FG_EDB;
    sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
    if (version)
        sqlite3_bind_text(st, 2, version, -1, SQLITE_STATIC);
    else
        sqlite3_bind_int64(st, 2, at);
    int rc = sqlite3_step(st);
    enum fg_err e = FG_OK;
    if (rc == SQLITE_ROW) {
        struct store_version v = {
            .version = (const char *)sqlite3_column_text(st, 0),
            .content = (const char *)sqlite3_column_text(st, 1),
            .content_len = (size_t)sqlite3_column_bytes(st, 1),
            .metadata = (const char *)sqlite3_column_text(st, 2),
            .content_hash = (const char *)sqlite3_column_text(st, 3),
            .created_at = sqlite3_column_int64(st, 4),
            .author = (const char *)sqlite3_column_text(st, 5),
            .superseded_at = sqlite3_column_int64(st, 6),
        };
        cb(&v, ctx);
    } else {
        e = rc == SQLITE_DONE ? FG_ENOTFOUND : sq_err(c, rc, "revision");
    }
    sqlite3_reset(st);
    return e;
}

#define REV_COLS "version, content, metadata, content_hash, created_at, author, superseded_at"

static enum fg_err g_revision(struct store_conn *c, const char *id, const char *version,
                              store_version_cb cb, void *ctx)
{
    static const char sql[] =
        "SELECT " REV_COLS " FROM capsule_revisions WHERE capsule_id = ?1 AND version = ?2";
    return version_query(c, sql, id, version, 0, cb, ctx);
}

static enum fg_err g_revision_at(struct store_conn *c, const char *id, int64_t at,
                                 store_version_cb cb, void *ctx)
{
    /* Revisions of one capsule follow each other: the newest one written at or before `at`,
     * provided it was still current then. */
    static const char sql[] =
        "SELECT * FROM (SELECT " REV_COLS " FROM capsule_revisions WHERE capsule_id = ?1 AND "
        "created_at <= ?2 ORDER BY seq DESC LIMIT 1) WHERE superseded_at > ?2";
    return version_query(c, sql, id, NULL, at, cb, ctx);
}

const struct store_graph_ops sqlite_graph_ops = {
    .insert = g_insert,
    .get = g_get,
    .find = g_find,
    .remove = g_remove,
    .count_out = g_count_out,
    .expand = g_expand,
    .remove_touching = g_remove_touching,
    .contradictions = g_contradictions,
    .successors = g_successors,
    .nodes = g_nodes,
    .revision = g_revision,
    .revision_at = g_revision_at,
};
