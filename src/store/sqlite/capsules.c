/*
 * SQLite: capsules, revisions, DERIVED_FROM edges and the change feed (store/capsules.h).
 *
 * Schema: migrations/020_capsules.sql. The change feed is written by triggers there, so this file
 * never writes capsule_changes itself. Statements with a fixed text go through the per-connection
 * cache (sq_prepare, keyed by the address of the SQL string); the two list queries are built from
 * the filters present, so they are prepared per call and finalized — that keeps each filter
 * combination on its own index instead of one generic "(? IS NULL OR col = ?)" plan.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store/capsules.h"
#include "store/sqlite/sqlite_int.h"
#include "util/buf.h"
#include "util/mem.h"

#define LIST_SQL_MAX 4096

/* Column list of a capsule row (alias c); row_read() relies on this order. */
#define CAP_COLS      CAP_COLS_HEAD "c.content, " CAP_COLS_TAIL
#define CAP_COLS_HEAD "c.id, "
#define CAP_COLS_TAIL                                                                              \
    "c.type, c.metadata, c.version, c.owner_id, c.trust_level, c.parent_id, "                      \
    "c.created_at, c.updated_at, c.is_deleted, c.deleted_at, c.content_hash, "                     \
    "c.version_created_at, c.version_author_id, c.origin_proposal_id, "                            \
    "coalesce((SELECT u.trust_level FROM users u WHERE u.id = c.owner_id), 0)"
#define CAP_NCOLS 17

static void copy_col(char *dst, size_t n, sqlite3_stmt *st, int col)
{
    const unsigned char *s = sqlite3_column_text(st, col);
    snprintf(dst, n, "%s", s ? (const char *)s : "");
}

/* Reads a capsule starting at column `col`. With `borrow` the content and metadata point into
 * the statement (valid until the next step); otherwise they are heap copies. */
static void row_read(sqlite3_stmt *st, int col, struct store_capsule *out, int borrow)
{
    copy_col(out->id, sizeof out->id, st, col + 0);
    const char *content = (const char *)sqlite3_column_text(st, col + 1);
    out->content_len = (size_t)sqlite3_column_bytes(st, col + 1);
    copy_col(out->type, sizeof out->type, st, col + 2);
    const char *meta = (const char *)sqlite3_column_text(st, col + 3);
    copy_col(out->version, sizeof out->version, st, col + 4);
    copy_col(out->owner_id, sizeof out->owner_id, st, col + 5);
    out->trust_level = sqlite3_column_int(st, col + 6);
    copy_col(out->parent_id, sizeof out->parent_id, st, col + 7);
    out->created_at = sqlite3_column_int64(st, col + 8);
    out->updated_at = sqlite3_column_int64(st, col + 9);
    out->is_deleted = sqlite3_column_int(st, col + 10);
    out->deleted_at = sqlite3_column_int64(st, col + 11);
    copy_col(out->content_hash, sizeof out->content_hash, st, col + 12);
    out->version_created_at = sqlite3_column_int64(st, col + 13);
    copy_col(out->version_author_id, sizeof out->version_author_id, st, col + 14);
    copy_col(out->origin_proposal_id, sizeof out->origin_proposal_id, st, col + 15);
    out->owner_trust = sqlite3_column_int(st, col + 16);
    if (borrow) {
        out->content = (char *)(uintptr_t)(content ? content : "");
        out->metadata = (char *)(uintptr_t)(meta ? meta : "{}");
    } else {
        out->content = fg_xstrndup(content ? content : "", out->content_len);
        out->metadata = fg_xstrdup(meta ? meta : "{}");
    }
}

static enum fg_err cap_insert(struct store_conn *c, const struct store_capsule *cap,
                              const char *reason)
{
    static const char sql[] =
        "INSERT INTO capsules (id, content, type, metadata, version, owner_id, trust_level, "
        "parent_id, created_at, updated_at, is_deleted, deleted_at, content_hash, "
        "version_created_at, version_author_id, origin_proposal_id) "
        "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, 0, NULL, ?11, ?12, ?13, ?14)";
    sqlite3_stmt *st = sq_prepare(c, sql);
    if (!st)
        return FG_EDB;
    sqlite3_bind_text(st, 1, cap->id, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, cap->content, (int)cap->content_len, SQLITE_STATIC);
    sqlite3_bind_text(st, 3, cap->type, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 4, cap->metadata ? cap->metadata : "{}", -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 5, cap->version, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 6, cap->owner_id, -1, SQLITE_STATIC);
    sqlite3_bind_int(st, 7, cap->trust_level);
    sq_bind_text(st, 8, cap->parent_id[0] ? cap->parent_id : NULL);
    sqlite3_bind_int64(st, 9, cap->created_at);
    sqlite3_bind_int64(st, 10, cap->updated_at);
    sqlite3_bind_text(st, 11, cap->content_hash, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 12, cap->version_created_at ? cap->version_created_at : cap->created_at);
    sqlite3_bind_text(st, 13, cap->version_author_id[0] ? cap->version_author_id : cap->owner_id,
                      -1, SQLITE_STATIC);
    sq_bind_text(st, 14, cap->origin_proposal_id[0] ? cap->origin_proposal_id : NULL);
    enum fg_err e = sq_step_done(c, st, "capsule insert", NULL);
    if (e != FG_OK || !cap->parent_id[0])
        return e;
    static const char edge[] = "INSERT INTO capsule_edges (child_id, parent_id, relation, reason, "
                               "created_at) VALUES (?1, ?2, 'DERIVED_FROM', ?3, ?4)";
    st = sq_prepare(c, edge);
    if (!st)
        return FG_EDB;
    sqlite3_bind_text(st, 1, cap->id, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, cap->parent_id, -1, SQLITE_STATIC);
    sq_bind_text(st, 3, reason);
    sqlite3_bind_int64(st, 4, cap->created_at);
    return sq_step_done(c, st, "capsule edge insert", NULL);
}

static enum fg_err cap_get(struct store_conn *c, const char *id, unsigned flags,
                           struct store_capsule *out)
{
    static const char sql[] = "SELECT " CAP_COLS " FROM capsules c WHERE c.id = ?1";
    static const char sql_emb[] =
        "SELECT " CAP_COLS ", c.embedding FROM capsules c WHERE c.id = ?1";
    int with_emb = (flags & STORE_CAPSULE_WITH_EMBEDDING) != 0;
    sqlite3_stmt *st = sq_prepare(c, with_emb ? sql_emb : sql);
    if (!st)
        return FG_EDB;
    sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
    int rc = sqlite3_step(st);
    enum fg_err e = FG_OK;
    if (rc == SQLITE_ROW) {
        row_read(st, 0, out, 0);
        if (with_emb && sqlite3_column_type(st, CAP_NCOLS) == SQLITE_BLOB) {
            size_t n = (size_t)sqlite3_column_bytes(st, CAP_NCOLS);
            out->embedding = fg_xmalloc(n ? n : 1);
            if (n)
                memcpy(out->embedding, sqlite3_column_blob(st, CAP_NCOLS), n);
            out->embedding_len = n;
        }
    } else if (rc == SQLITE_DONE) {
        e = FG_ENOTFOUND;
    } else {
        e = sq_err(c, rc, "capsule get");
    }
    sqlite3_reset(st);
    return e;
}

/* Conditions of a list query after `WHERE`, built from the filters present; binds follow the
 * same order. Over columns that both capsules and capsule_live_counts (migration 110) have, as
 * long as neither a parent nor a date filter is set; the capsules query adds `is_deleted = 0`. */
static void list_where(struct fg_buf *b, const struct store_capsule_filter *f)
{
    fg_buf_puts(b, "c.trust_level <= ?1");
    if (f->type)
        fg_buf_puts(b, " AND c.type = ?2");
    if (f->trust_level >= 0)
        fg_buf_puts(b, " AND c.trust_level = ?3");
    if (f->owner_id)
        fg_buf_puts(b, " AND c.owner_id = ?4");
    if (f->parent_id)
        fg_buf_puts(b, " AND c.parent_id = ?5");
    if (f->created_after)
        fg_buf_puts(b, " AND c.created_at > ?6");
    if (f->created_before)
        fg_buf_puts(b, " AND c.created_at < ?7");
    if (!f->include_quarantined_owners)
        fg_buf_puts(b, " AND NOT EXISTS (SELECT 1 FROM users u WHERE u.id = c.owner_id AND "
                       "u.trust_level < 40)");
}

static void list_bind(sqlite3_stmt *st, const struct store_capsule_filter *f)
{
    sqlite3_bind_int(st, 1, f->max_trust);
    if (f->type)
        sqlite3_bind_text(st, 2, f->type, -1, SQLITE_STATIC);
    if (f->trust_level >= 0)
        sqlite3_bind_int(st, 3, f->trust_level);
    if (f->owner_id)
        sqlite3_bind_text(st, 4, f->owner_id, -1, SQLITE_STATIC);
    if (f->parent_id)
        sqlite3_bind_text(st, 5, f->parent_id, -1, SQLITE_STATIC);
    if (f->created_after)
        sqlite3_bind_int64(st, 6, f->created_after);
    if (f->created_before)
        sqlite3_bind_int64(st, 7, f->created_before);
}

static enum fg_err prepare_once(struct store_conn *c, const char *sql, sqlite3_stmt **st)
{
    int rc = sqlite3_prepare_v2(c->db, sql, -1, st, NULL);
    return rc == SQLITE_OK ? FG_OK : sq_err(c, rc, "prepare");
}

static enum fg_err cap_list(struct store_conn *c, const struct store_capsule_filter *f,
                            long long offset, long long limit, store_capsule_cb cb, void *ctx,
                            long long *total)
{
    struct fg_buf where, sql;
    fg_buf_init(&where, LIST_SQL_MAX);
    fg_buf_init(&sql, LIST_SQL_MAX);
    sqlite3_stmt *st = NULL;
    enum fg_err e;
    int rc;

    /* The total: summed from the per-combination counts when the filters allow (constant in
     * the number of capsules), else counted. */
    int by_counts = !f->parent_id && !f->created_after && !f->created_before;
    list_where(&where, f);
    fg_buf_printf(&sql,
                  by_counts ? "SELECT coalesce(sum(c.n), 0) FROM capsule_live_counts c WHERE %s"
                            : "SELECT count(*) FROM capsules c WHERE c.is_deleted = 0 AND %s",
                  where.p);
    if ((e = prepare_once(c, sql.p, &st)) != FG_OK)
        goto out;
    list_bind(st, f);
    rc = sqlite3_step(st);
    if (rc != SQLITE_ROW) {
        e = sq_err(c, rc, "capsule count");
        goto out;
    }
    *total = sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    st = NULL;
    if (*total <= offset || limit <= 0)
        goto out;

    fg_buf_reset(&sql);
    fg_buf_printf(&sql,
                  "SELECT " CAP_COLS " FROM capsules c WHERE c.is_deleted = 0 AND %s "
                  "ORDER BY c.created_at DESC, c.id DESC LIMIT ?8 OFFSET ?9",
                  where.p);
    if ((e = prepare_once(c, sql.p, &st)) != FG_OK)
        goto out;
    list_bind(st, f);
    sqlite3_bind_int64(st, 8, limit);
    sqlite3_bind_int64(st, 9, offset);
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        struct store_capsule cap;
        memset(&cap, 0, sizeof cap);
        row_read(st, 0, &cap, 1);
        if (cb(&cap, ctx))
            break;
    }
    if (rc != SQLITE_ROW && rc != SQLITE_DONE)
        e = sq_err(c, rc, "capsule list");
out:
    sqlite3_finalize(st);
    fg_buf_free(&where);
    fg_buf_free(&sql);
    return e;
}

static enum fg_err cap_update(struct store_conn *c, const struct store_capsule *cap,
                              const struct store_revision *prev)
{
    enum fg_err e;
    sqlite3_stmt *st;
    if (prev) {
        static const char rev[] =
            "INSERT INTO capsule_revisions (capsule_id, version, content, metadata, content_hash, "
            "created_at, author, superseded_at, superseded_by) "
            "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)";
        if (!(st = sq_prepare(c, rev)))
            return FG_EDB;
        sqlite3_bind_text(st, 1, prev->capsule_id, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 2, prev->version, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 3, prev->content, (int)prev->content_len, SQLITE_STATIC);
        sqlite3_bind_text(st, 4, prev->metadata, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 5, prev->content_hash, -1, SQLITE_STATIC);
        sqlite3_bind_int64(st, 6, prev->created_at);
        sqlite3_bind_text(st, 7, prev->author, -1, SQLITE_STATIC);
        sqlite3_bind_int64(st, 8, prev->superseded_at);
        sqlite3_bind_text(st, 9, prev->superseded_by, -1, SQLITE_STATIC);
        if ((e = sq_step_done(c, st, "revision insert", NULL)) != FG_OK)
            return e;
    }
    /* In SET, column names on the right-hand side read the old row: a new content hash drops
     * the embedding computed from the old text. */
    static const char sql[] =
        "UPDATE capsules SET content = ?2, type = ?3, metadata = ?4, version = ?5, "
        "embedding = CASE WHEN content_hash = ?6 THEN embedding ELSE NULL END, "
        "content_hash = ?6, updated_at = ?7, version_created_at = ?8, version_author_id = ?9 "
        "WHERE id = ?1 AND is_deleted = 0";
    if (!(st = sq_prepare(c, sql)))
        return FG_EDB;
    sqlite3_bind_text(st, 1, cap->id, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, cap->content, (int)cap->content_len, SQLITE_STATIC);
    sqlite3_bind_text(st, 3, cap->type, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 4, cap->metadata ? cap->metadata : "{}", -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 5, cap->version, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 6, cap->content_hash, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 7, cap->updated_at);
    sqlite3_bind_int64(st, 8, cap->version_created_at);
    sqlite3_bind_text(st, 9, cap->version_author_id, -1, SQLITE_STATIC);
    if ((e = sq_step_done(c, st, "capsule update", NULL)) != FG_OK)
        return e;
    return sqlite3_changes(c->db) == 1 ? FG_OK : FG_ENOTFOUND;
}

static enum fg_err cap_set_trust(struct store_conn *c, const char *id, int trust, int64_t at)
{
    static const char sql[] = "UPDATE capsules SET trust_level = ?2, updated_at = ?3 "
                              "WHERE id = ?1 AND is_deleted = 0";
    sqlite3_stmt *st = sq_prepare(c, sql);
    if (!st)
        return FG_EDB;
    sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
    sqlite3_bind_int(st, 2, trust);
    sqlite3_bind_int64(st, 3, at);
    enum fg_err e = sq_step_done(c, st, "capsule trust", NULL);
    if (e != FG_OK)
        return e;
    return sqlite3_changes(c->db) == 1 ? FG_OK : FG_ENOTFOUND;
}

static enum fg_err count_query(struct store_conn *c, const char *sql, const char *id, long long *n)
{
    sqlite3_stmt *st = sq_prepare(c, sql);
    if (!st)
        return FG_EDB;
    if (id)
        sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
    int rc = sqlite3_step(st);
    enum fg_err e = FG_OK;
    if (rc == SQLITE_ROW)
        *n = sqlite3_column_int64(st, 0);
    else
        e = sq_err(c, rc == SQLITE_DONE ? SQLITE_ERROR : rc, "count");
    sqlite3_reset(st);
    return e;
}

static enum fg_err cap_live_children(struct store_conn *c, const char *id, long long *n)
{
    static const char sql[] =
        "SELECT count(*) FROM capsules c WHERE c.parent_id = ?1 AND c.is_deleted = 0";
    return count_query(c, sql, id, n);
}

static enum fg_err cap_count_live(struct store_conn *c, long long *n)
{
    static const char sql[] = "SELECT count(*) FROM capsules c WHERE c.is_deleted = 0";
    return count_query(c, sql, NULL, n);
}

struct idlist {
    char (*ids)[37];
    size_t n, cap;
};

static void idlist_add(struct idlist *l, const unsigned char *id)
{
    if (l->n == l->cap) {
        l->cap = l->cap ? l->cap * 2 : 16;
        l->ids = fg_xrealloc(l->ids, l->cap * sizeof *l->ids);
    }
    snprintf(l->ids[l->n++], 37, "%s", id ? (const char *)id : "");
}

/* Steps an UPDATE ... RETURNING id to the end, collecting the ids (callbacks run only after the
 * statement is finished, so they may use the connection freely). */
static enum fg_err collect_ids(struct store_conn *c, sqlite3_stmt *st, struct idlist *l,
                               const char *what)
{
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW)
        idlist_add(l, sqlite3_column_text(st, 0));
    enum fg_err e = rc == SQLITE_DONE ? FG_OK : sq_err(c, rc, what);
    sqlite3_reset(st);
    return e;
}

static enum fg_err cap_soft_delete(struct store_conn *c, const char *id, int subtree, int64_t at,
                                   store_id_cb cb, void *ctx)
{
    static const char one[] = "UPDATE capsules SET is_deleted = 1, deleted_at = ?2, "
                              "updated_at = ?2 WHERE id = ?1 AND is_deleted = 0 RETURNING id";
    /* Descendants through the edges (walking through already deleted nodes too). */
    static const char sub[] =
        "WITH RECURSIVE sub(id) AS (SELECT ?1 UNION "
        "SELECT e.child_id FROM capsule_edges e JOIN sub ON e.parent_id = sub.id) "
        "UPDATE capsules SET is_deleted = 1, deleted_at = ?2, updated_at = ?2 "
        "WHERE is_deleted = 0 AND id <> ?1 AND id IN (SELECT id FROM sub) RETURNING id";
    struct idlist l = {0};
    enum fg_err e;
    sqlite3_stmt *st = sq_prepare(c, one);
    if (!st)
        return FG_EDB;
    sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 2, at);
    if ((e = collect_ids(c, st, &l, "capsule delete")) != FG_OK)
        goto out;
    if (l.n == 0) {
        e = FG_ENOTFOUND;
        goto out;
    }
    if (subtree) {
        if (!(st = sq_prepare(c, sub))) {
            e = FG_EDB;
            goto out;
        }
        sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
        sqlite3_bind_int64(st, 2, at);
        if ((e = collect_ids(c, st, &l, "capsule cascade delete")) != FG_OK)
            goto out;
    }
    for (size_t i = 0; cb && i < l.n; i++)
        if (cb(l.ids[i], ctx))
            break;
out:
    free(l.ids);
    return e;
}

#define STR2(x) #x
#define STR(x)  STR2(x)
#define PREVIEW STR(STORE_ANCESTOR_PREVIEW_CHARS)

static enum fg_err cap_ancestors(struct store_conn *c, const char *id, int max_depth, int max_trust,
                                 store_ancestor_cb cb, void *ctx, int *truncated)
{
    /* Depth counts hops; the recursion goes one step past max_depth only to learn whether the
     * chain continues (`truncated`). */
    static const char sql[] =
        "WITH RECURSIVE anc(id, depth, reason, derived_at) AS ("
        " SELECT e.parent_id, 1, e.reason, e.created_at FROM capsule_edges e"
        "  WHERE e.child_id = ?1 AND e.relation = 'DERIVED_FROM'"
        " UNION ALL"
        " SELECT e.parent_id, a.depth + 1, e.reason, e.created_at FROM anc a"
        "  JOIN capsule_edges e ON e.child_id = a.id AND e.relation = 'DERIVED_FROM'"
        "  WHERE a.depth <= ?2)"
        " SELECT a.depth, a.reason, a.derived_at, " CAP_COLS_HEAD "substr(c.content, 1, " PREVIEW
        "), " CAP_COLS_TAIL ", length(CAST(c.content AS BLOB)), c.erased_at IS NOT NULL"
        " FROM anc a JOIN capsules c ON c.id = a.id"
        " WHERE a.depth > ?2 OR c.erased_at IS NOT NULL"
        "  OR (c.is_deleted = 0 AND c.trust_level <= ?3)"
        " ORDER BY a.depth";
    sqlite3_stmt *st = sq_prepare(c, sql);
    if (!st)
        return FG_EDB;
    sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
    sqlite3_bind_int(st, 2, max_depth);
    sqlite3_bind_int(st, 3, max_trust);
    *truncated = 0;
    int rc, stop = 0;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        int depth = sqlite3_column_int(st, 0);
        if (depth > max_depth) {
            *truncated = 1;
            continue;
        }
        if (stop)
            continue;
        struct store_capsule cap;
        memset(&cap, 0, sizeof cap);
        row_read(st, 3, &cap, 1);
        struct store_ancestor a = {
            .depth = depth,
            .cap = &cap,
            .reason = (const char *)sqlite3_column_text(st, 1),
            .derived_at = sqlite3_column_int64(st, 2),
            .content_bytes = (size_t)sqlite3_column_int64(st, 3 + CAP_NCOLS),
            .erased = sqlite3_column_int(st, 4 + CAP_NCOLS),
        };
        stop = cb(&a, ctx);
    }
    enum fg_err e = rc == SQLITE_DONE ? FG_OK : sq_err(c, rc, "capsule lineage");
    sqlite3_reset(st);
    return e;
}

static enum fg_err cap_revisions(struct store_conn *c, const char *id, long long offset,
                                 long long limit, store_revision_cb cb, void *ctx, long long *total)
{
    static const char cnt[] = "SELECT count(*) FROM capsule_revisions WHERE capsule_id = ?1";
    static const char sql[] =
        "SELECT version, content, metadata, content_hash, created_at, author, superseded_at, "
        "superseded_by FROM capsule_revisions WHERE capsule_id = ?1 "
        "ORDER BY seq DESC LIMIT ?2 OFFSET ?3";
    enum fg_err e = count_query(c, cnt, id, total);
    if (e != FG_OK || *total <= offset || limit <= 0)
        return e;
    sqlite3_stmt *st = sq_prepare(c, sql);
    if (!st)
        return FG_EDB;
    sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 2, limit);
    sqlite3_bind_int64(st, 3, offset);
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        struct store_revision r = {
            .capsule_id = id,
            .version = (const char *)sqlite3_column_text(st, 0),
            .content = (const char *)sqlite3_column_text(st, 1),
            .content_len = (size_t)sqlite3_column_bytes(st, 1),
            .metadata = (const char *)sqlite3_column_text(st, 2),
            .content_hash = (const char *)sqlite3_column_text(st, 3),
            .created_at = sqlite3_column_int64(st, 4),
            .author = (const char *)sqlite3_column_text(st, 5),
            .superseded_at = sqlite3_column_int64(st, 6),
            .superseded_by = (const char *)sqlite3_column_text(st, 7),
        };
        if (cb(&r, ctx))
            break;
    }
    e = (rc == SQLITE_ROW || rc == SQLITE_DONE) ? FG_OK : sq_err(c, rc, "revisions");
    sqlite3_reset(st);
    return e;
}

static enum fg_err cap_changes(struct store_conn *c, long long after_seq, long long limit,
                               store_change_cb cb, void *ctx)
{
    static const char sql[] = "SELECT seq, capsule_id, op, at FROM capsule_changes "
                              "WHERE seq > ?1 ORDER BY seq LIMIT ?2";
    sqlite3_stmt *st = sq_prepare(c, sql);
    if (!st)
        return FG_EDB;
    sqlite3_bind_int64(st, 1, after_seq);
    sqlite3_bind_int64(st, 2, limit);
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        struct store_change ch = {
            .seq = sqlite3_column_int64(st, 0),
            .capsule_id = (const char *)sqlite3_column_text(st, 1),
            .op = (const char *)sqlite3_column_text(st, 2),
            .at = sqlite3_column_int64(st, 3),
        };
        if (cb(&ch, ctx))
            break;
    }
    enum fg_err e = (rc == SQLITE_ROW || rc == SQLITE_DONE) ? FG_OK : sq_err(c, rc, "changes");
    sqlite3_reset(st);
    return e;
}

static enum fg_err cap_changes_head(struct store_conn *c, long long *seq)
{
    static const char sql[] = "SELECT coalesce(max(seq), 0) FROM capsule_changes";
    return count_query(c, sql, NULL, seq);
}

static enum fg_err cap_set_embedding(struct store_conn *c, const char *id, const void *blob,
                                     size_t len, const char *expected_hash)
{
    static const char sql[] = "UPDATE capsules SET embedding = ?2 "
                              "WHERE id = ?1 AND (?3 IS NULL OR content_hash = ?3)";
    static const char exists[] = "SELECT count(*) FROM capsules WHERE id = ?1";
    sqlite3_stmt *st = sq_prepare(c, sql);
    if (!st)
        return FG_EDB;
    sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
    if (blob)
        sqlite3_bind_blob(st, 2, blob, (int)len, SQLITE_STATIC);
    else
        sqlite3_bind_null(st, 2);
    sq_bind_text(st, 3, expected_hash);
    enum fg_err e = sq_step_done(c, st, "capsule embedding", NULL);
    if (e != FG_OK || sqlite3_changes(c->db) == 1)
        return e;
    long long n = 0;
    if ((e = count_query(c, exists, id, &n)) != FG_OK)
        return e;
    return n ? FG_ECONFLICT : FG_ENOTFOUND;
}

static enum fg_err cap_subtree_visibility(struct store_conn *c, const char *id, int max_trust,
                                          int include_quarantined_owners, long long *hidden,
                                          long long *visible_children)
{
    static const char hid[] =
        "WITH RECURSIVE sub(id) AS (SELECT ?1 UNION "
        "SELECT e.child_id FROM capsule_edges e JOIN sub ON e.parent_id = sub.id) "
        "SELECT count(*) FROM capsules c WHERE c.id IN (SELECT id FROM sub) AND c.id <> ?1 AND "
        "c.is_deleted = 0 AND (c.trust_level > ?2 OR (?3 = 0 AND EXISTS (SELECT 1 FROM users u "
        "WHERE u.id = c.owner_id AND u.trust_level < 40)))";
    static const char vis[] =
        "SELECT count(*) FROM capsules c WHERE c.parent_id = ?1 AND c.is_deleted = 0 AND "
        "c.trust_level <= ?2 AND (?3 = 1 OR NOT EXISTS (SELECT 1 FROM users u WHERE u.id = "
        "c.owner_id AND u.trust_level < 40))";
    const char *sqls[2] = {hid, vis};
    long long *outs[2] = {hidden, visible_children};
    for (int i = 0; i < 2; i++) {
        sqlite3_stmt *st = sq_prepare(c, sqls[i]);
        if (!st)
            return FG_EDB;
        sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
        sqlite3_bind_int(st, 2, max_trust);
        sqlite3_bind_int(st, 3, include_quarantined_owners ? 1 : 0);
        int rc = sqlite3_step(st);
        if (rc == SQLITE_ROW)
            *outs[i] = sqlite3_column_int64(st, 0);
        sqlite3_reset(st);
        if (rc != SQLITE_ROW)
            return sq_err(c, rc, "capsule subtree visibility");
    }
    return FG_OK;
}

/* In-process: one reused prepared statement per id is already free of round trips. */
static enum fg_err cap_get_many(struct store_conn *c, const char *const *ids, size_t n,
                                unsigned flags, struct store_capsule *out, unsigned char *found)
{
    if (n > STORE_GET_MANY_MAX)
        return FG_EINVAL;
    for (size_t i = 0; i < n; i++) {
        found[i] = 0;
        enum fg_err e = cap_get(c, ids[i], flags, &out[i]);
        if (e == FG_ENOTFOUND)
            continue;
        if (e != FG_OK) {
            for (size_t j = 0; j < i; j++)
                if (found[j])
                    store_capsule_clear(&out[j]);
            return e;
        }
        found[i] = 1;
    }
    return FG_OK;
}

const struct store_capsule_ops sqlite_capsule_ops = {
    .insert = cap_insert,
    .get = cap_get,
    .list = cap_list,
    .update = cap_update,
    .set_trust = cap_set_trust,
    .live_children = cap_live_children,
    .soft_delete = cap_soft_delete,
    .ancestors = cap_ancestors,
    .revisions = cap_revisions,
    .changes = cap_changes,
    .changes_head = cap_changes_head,
    .set_embedding = cap_set_embedding,
    .count_live = cap_count_live,
    .subtree_visibility = cap_subtree_visibility,
    .get_many = cap_get_many,
};
