/*
 * PostgreSQL: capsules, revisions, DERIVED_FROM edges and the change feed (store/capsules.h).
 *
 * Schema: migrations/020_capsules.sql. The change feed is written by triggers there, so this file
 * never writes capsule_changes itself. Every statement that changes a capsule row first takes
 * forge_write_lock() (the transaction-scoped lock the feed trigger takes anyway): taking it
 * before the row lock keeps the lock order the same in every transaction (no deadlock between
 * a capsule write and an audit/outbox append), and it makes feed seqs commit in order.
 * Parameters are text (pg_exec); integers are formatted here, the embedding travels as bytea hex.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store/capsules.h"
#include "store/pg/pg_int.h"
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

/* ---- helpers shared with the other PostgreSQL area files (declared in pg_int.h) ----------- */

static int hexval(char ch)
{
    if (ch >= '0' && ch <= '9')
        return ch - '0';
    if (ch >= 'a' && ch <= 'f')
        return ch - 'a' + 10;
    if (ch >= 'A' && ch <= 'F')
        return ch - 'A' + 10;
    return -1;
}

char *pg_bytea_hex(const void *blob, size_t len)
{
    static const char digits[] = "0123456789abcdef";
    const unsigned char *p = blob;
    char *out = fg_xmalloc(2 * len + 3);
    out[0] = '\\';
    out[1] = 'x';
    for (size_t i = 0; i < len; i++) {
        out[2 + 2 * i] = digits[p[i] >> 4];
        out[3 + 2 * i] = digits[p[i] & 15];
    }
    out[2 + 2 * len] = '\0';
    return out;
}

void *pg_bytea_decode(const char *text, size_t textlen, size_t *len)
{
    *len = 0;
    if (textlen < 2 || text[0] != '\\' || text[1] != 'x' || (textlen - 2) % 2) {
        /* escape format (bytea_output = escape): let libpq decode it */
        size_t n = 0;
        unsigned char *u = PQunescapeBytea((const unsigned char *)text, &n);
        if (!u)
            return NULL;
        void *out = fg_xmalloc(n ? n : 1);
        memcpy(out, u, n);
        PQfreemem(u);
        *len = n;
        return out;
    }
    size_t n = (textlen - 2) / 2;
    unsigned char *out = fg_xmalloc(n ? n : 1);
    for (size_t i = 0; i < n; i++) {
        int hi = hexval(text[2 + 2 * i]), lo = hexval(text[3 + 2 * i]);
        if (hi < 0 || lo < 0) {
            free(out);
            return NULL;
        }
        out[i] = (unsigned char)(hi << 4 | lo);
    }
    *len = n;
    return out;
}

enum fg_err pg_write_lock(struct store_conn *c)
{
    enum fg_err e;
    PGresult *r = pg_exec(c, "SELECT forge_write_lock()", 0, NULL, &e);
    PQclear(r);
    return e;
}

/* ---- rows ---------------------------------------------------------------------------------- */

static void copy_col(char *dst, size_t n, const PGresult *r, int row, int col)
{
    const char *s = pg_get_opt(r, row, col);
    snprintf(dst, n, "%s", s ? s : "");
}

/* Reads a capsule starting at column `col`. With `borrow` the content and metadata point into
 * the result (valid until PQclear); otherwise they are heap copies. */
static void row_read(const PGresult *r, int row, int col, struct store_capsule *out, int borrow)
{
    copy_col(out->id, sizeof out->id, r, row, col + 0);
    const char *content = pg_get_opt(r, row, col + 1);
    out->content_len = content ? (size_t)PQgetlength(r, row, col + 1) : 0;
    copy_col(out->type, sizeof out->type, r, row, col + 2);
    const char *meta = pg_get_opt(r, row, col + 3);
    copy_col(out->version, sizeof out->version, r, row, col + 4);
    copy_col(out->owner_id, sizeof out->owner_id, r, row, col + 5);
    out->trust_level = (int)pg_get_i64(r, row, col + 6);
    copy_col(out->parent_id, sizeof out->parent_id, r, row, col + 7);
    out->created_at = pg_get_i64(r, row, col + 8);
    out->updated_at = pg_get_i64(r, row, col + 9);
    out->is_deleted = (int)pg_get_i64(r, row, col + 10);
    out->deleted_at = pg_get_i64(r, row, col + 11);
    copy_col(out->content_hash, sizeof out->content_hash, r, row, col + 12);
    out->version_created_at = pg_get_i64(r, row, col + 13);
    copy_col(out->version_author_id, sizeof out->version_author_id, r, row, col + 14);
    copy_col(out->origin_proposal_id, sizeof out->origin_proposal_id, r, row, col + 15);
    out->owner_trust = (int)pg_get_i64(r, row, col + 16);
    if (borrow) {
        out->content = (char *)(uintptr_t)(content ? content : "");
        out->metadata = (char *)(uintptr_t)(meta ? meta : "{}");
    } else {
        out->content = fg_xstrndup(content ? content : "", out->content_len);
        out->metadata = fg_xstrdup(meta ? meta : "{}");
    }
}

/* A query returning one integer (count, max). */
static enum fg_err count_query(struct store_conn *c, const char *sql, const char *id, long long *n)
{
    enum fg_err e;
    const char *p[] = {id};
    PGresult *r = pg_exec(c, sql, id ? 1 : 0, id ? p : NULL, &e);
    if (r && PQntuples(r) == 1)
        *n = pg_get_i64(r, 0, 0);
    else if (r)
        e = FG_EDB;
    PQclear(r);
    return e;
}

/* ---- operations ---------------------------------------------------------------------------- */

static enum fg_err cap_insert(struct store_conn *c, const struct store_capsule *cap,
                              const char *reason)
{
    static const char sql[] =
        "INSERT INTO capsules (id, content, type, metadata, version, owner_id, trust_level, "
        "parent_id, created_at, updated_at, is_deleted, deleted_at, content_hash, "
        "version_created_at, version_author_id, origin_proposal_id) "
        "VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, 0, NULL, $11, $12, $13, $14)";
    static const char edge[] = "INSERT INTO capsule_edges (child_id, parent_id, relation, reason, "
                               "created_at) VALUES ($1, $2, 'DERIVED_FROM', $3, $4)";
    struct pg_num trust = pg_num(cap->trust_level);
    struct pg_num created = pg_num(cap->created_at);
    struct pg_num updated = pg_num(cap->updated_at);
    struct pg_num vcreated =
        pg_num(cap->version_created_at ? cap->version_created_at : cap->created_at);
    const char *p[] = {
        cap->id,
        cap->content,
        cap->type,
        cap->metadata ? cap->metadata : "{}",
        cap->version,
        cap->owner_id,
        trust.s,
        cap->parent_id[0] ? cap->parent_id : NULL,
        created.s,
        updated.s,
        cap->content_hash,
        vcreated.s,
        cap->version_author_id[0] ? cap->version_author_id : cap->owner_id,
        cap->origin_proposal_id[0] ? cap->origin_proposal_id : NULL,
    };
    enum fg_err e = pg_write_lock(c);
    if (e != FG_OK || (e = pg_run(c, sql, 14, p, NULL)) != FG_OK || !cap->parent_id[0])
        return e;
    const char *pe[] = {cap->id, cap->parent_id, reason, created.s};
    return pg_run(c, edge, 4, pe, NULL);
}

static enum fg_err cap_get(struct store_conn *c, const char *id, unsigned flags,
                           struct store_capsule *out)
{
    static const char sql[] = "SELECT " CAP_COLS " FROM capsules c WHERE c.id = $1";
    static const char sql_emb[] =
        "SELECT " CAP_COLS ", c.embedding FROM capsules c WHERE c.id = $1";
    int with_emb = (flags & STORE_CAPSULE_WITH_EMBEDDING) != 0;
    const char *p[] = {id};
    enum fg_err e;
    PGresult *r = pg_exec(c, with_emb ? sql_emb : sql, 1, p, &e);
    if (!r)
        return e;
    if (PQntuples(r) == 0) {
        e = FG_ENOTFOUND;
    } else {
        row_read(r, 0, 0, out, 0);
        if (with_emb && !PQgetisnull(r, 0, CAP_NCOLS)) {
            out->embedding =
                pg_bytea_decode(PQgetvalue(r, 0, CAP_NCOLS), (size_t)PQgetlength(r, 0, CAP_NCOLS),
                                &out->embedding_len);
            if (!out->embedding) {
                store_capsule_clear(out);
                e = FG_EDB;
            }
        }
    }
    PQclear(r);
    return e;
}

/* WHERE clause of a list query from the filters present; parameters are numbered in order and
 * collected into p (PostgreSQL rejects parameters a statement does not use). */
struct list_params {
    const char *p[8];
    int n;
    struct pg_num trust, level, after, before;
};

static void list_where(struct fg_buf *b, const struct store_capsule_filter *f,
                       struct list_params *lp)
{
    lp->n = 0;
    lp->trust = pg_num(f->max_trust);
    lp->p[lp->n++] = lp->trust.s;
    fg_buf_puts(b, " WHERE c.is_deleted = 0 AND c.trust_level <= $1");
    if (f->type) {
        lp->p[lp->n++] = f->type;
        fg_buf_printf(b, " AND c.type = $%d", lp->n);
    }
    if (f->trust_level >= 0) {
        lp->level = pg_num(f->trust_level);
        lp->p[lp->n++] = lp->level.s;
        fg_buf_printf(b, " AND c.trust_level = $%d", lp->n);
    }
    if (f->owner_id) {
        lp->p[lp->n++] = f->owner_id;
        fg_buf_printf(b, " AND c.owner_id = $%d", lp->n);
    }
    if (f->parent_id) {
        lp->p[lp->n++] = f->parent_id;
        fg_buf_printf(b, " AND c.parent_id = $%d", lp->n);
    }
    if (f->created_after) {
        lp->after = pg_num(f->created_after);
        lp->p[lp->n++] = lp->after.s;
        fg_buf_printf(b, " AND c.created_at > $%d", lp->n);
    }
    if (f->created_before) {
        lp->before = pg_num(f->created_before);
        lp->p[lp->n++] = lp->before.s;
        fg_buf_printf(b, " AND c.created_at < $%d", lp->n);
    }
    if (!f->include_quarantined_owners)
        fg_buf_puts(b, " AND NOT EXISTS (SELECT 1 FROM users u WHERE u.id = c.owner_id AND "
                       "u.trust_level < 40)");
}

static enum fg_err cap_list(struct store_conn *c, const struct store_capsule_filter *f,
                            long long offset, long long limit, store_capsule_cb cb, void *ctx,
                            long long *total)
{
    struct fg_buf where, sql;
    struct list_params lp;
    struct pg_num lim, off;
    PGresult *r = NULL;
    enum fg_err e;
    fg_buf_init(&where, LIST_SQL_MAX);
    fg_buf_init(&sql, LIST_SQL_MAX);
    list_where(&where, f, &lp);

    fg_buf_printf(&sql, "SELECT count(*) FROM capsules c%s", where.p);
    r = pg_exec(c, sql.p, lp.n, lp.p, &e);
    if (!r)
        goto out;
    *total = pg_get_i64(r, 0, 0);
    PQclear(r);
    r = NULL;
    if (*total <= offset || limit <= 0)
        goto out;

    lim = pg_num(limit);
    off = pg_num(offset);
    lp.p[lp.n++] = lim.s;
    lp.p[lp.n++] = off.s;
    fg_buf_reset(&sql);
    fg_buf_printf(&sql,
                  "SELECT " CAP_COLS " FROM capsules c%s "
                  "ORDER BY c.created_at DESC, c.id DESC LIMIT $%d OFFSET $%d",
                  where.p, lp.n - 1, lp.n);
    r = pg_exec(c, sql.p, lp.n, lp.p, &e);
    if (!r)
        goto out;
    for (int i = 0; i < PQntuples(r); i++) {
        struct store_capsule cap;
        memset(&cap, 0, sizeof cap);
        row_read(r, i, 0, &cap, 1);
        if (cb(&cap, ctx))
            break;
    }
out:
    PQclear(r);
    fg_buf_free(&where);
    fg_buf_free(&sql);
    return e;
}

static enum fg_err cap_update(struct store_conn *c, const struct store_capsule *cap,
                              const struct store_revision *prev)
{
    static const char rev[] =
        "INSERT INTO capsule_revisions (capsule_id, version, content, metadata, content_hash, "
        "created_at, author, superseded_at, superseded_by) "
        "VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)";
    /* In SET, column names on the right-hand side read the old row: a new content hash drops
     * the embedding computed from the old text. */
    static const char sql[] =
        "UPDATE capsules SET content = $2, type = $3, metadata = $4, version = $5, "
        "embedding = CASE WHEN content_hash = $6 THEN embedding ELSE NULL END, "
        "content_hash = $6, updated_at = $7, version_created_at = $8, version_author_id = $9 "
        "WHERE id = $1 AND is_deleted = 0";
    enum fg_err e = pg_write_lock(c);
    if (e != FG_OK)
        return e;
    if (prev) {
        struct pg_num created = pg_num(prev->created_at);
        struct pg_num superseded = pg_num(prev->superseded_at);
        const char *p[] = {prev->capsule_id, prev->version,      prev->content,
                           prev->metadata,   prev->content_hash, created.s,
                           prev->author,     superseded.s,       prev->superseded_by};
        if ((e = pg_run(c, rev, 9, p, NULL)) != FG_OK)
            return e;
    }
    struct pg_num updated = pg_num(cap->updated_at);
    struct pg_num vcreated = pg_num(cap->version_created_at);
    const char *p[] = {cap->id,
                       cap->content,
                       cap->type,
                       cap->metadata ? cap->metadata : "{}",
                       cap->version,
                       cap->content_hash,
                       updated.s,
                       vcreated.s,
                       cap->version_author_id};
    long long n = 0;
    if ((e = pg_run(c, sql, 9, p, &n)) != FG_OK)
        return e;
    return n == 1 ? FG_OK : FG_ENOTFOUND;
}

static enum fg_err cap_set_trust(struct store_conn *c, const char *id, int trust, int64_t at)
{
    static const char sql[] = "UPDATE capsules SET trust_level = $2, updated_at = $3 "
                              "WHERE id = $1 AND is_deleted = 0";
    struct pg_num t = pg_num(trust);
    struct pg_num a = pg_num(at);
    const char *p[] = {id, t.s, a.s};
    long long n = 0;
    enum fg_err e = pg_write_lock(c);
    if (e != FG_OK || (e = pg_run(c, sql, 3, p, &n)) != FG_OK)
        return e;
    return n == 1 ? FG_OK : FG_ENOTFOUND;
}

static enum fg_err cap_live_children(struct store_conn *c, const char *id, long long *n)
{
    static const char sql[] =
        "SELECT count(*) FROM capsules c WHERE c.parent_id = $1 AND c.is_deleted = 0";
    return count_query(c, sql, id, n);
}

static enum fg_err cap_count_live(struct store_conn *c, long long *n)
{
    static const char sql[] = "SELECT count(*) FROM capsules c WHERE c.is_deleted = 0";
    return count_query(c, sql, NULL, n);
}

static enum fg_err cap_soft_delete(struct store_conn *c, const char *id, int subtree, int64_t at,
                                   store_id_cb cb, void *ctx)
{
    static const char one[] = "UPDATE capsules SET is_deleted = 1, deleted_at = $2, "
                              "updated_at = $2 WHERE id = $1 AND is_deleted = 0 RETURNING id";
    /* Descendants through the edges (walking through already deleted nodes too). */
    static const char sub[] =
        "WITH RECURSIVE sub(id) AS (SELECT $1::text UNION "
        "SELECT e.child_id FROM capsule_edges e JOIN sub ON e.parent_id = sub.id) "
        "UPDATE capsules SET is_deleted = 1, deleted_at = $2, updated_at = $2 "
        "WHERE is_deleted = 0 AND id <> $1 AND id IN (SELECT id FROM sub) RETURNING id";
    struct pg_num a = pg_num(at);
    const char *p[] = {id, a.s};
    PGresult *r1 = NULL, *r2 = NULL;
    enum fg_err e = pg_write_lock(c);
    if (e != FG_OK)
        return e;
    if (!(r1 = pg_exec(c, one, 2, p, &e)))
        goto out;
    if (PQntuples(r1) == 0) {
        e = FG_ENOTFOUND;
        goto out;
    }
    if (subtree && !(r2 = pg_exec(c, sub, 2, p, &e)))
        goto out;
    /* Callbacks run after the statements, so they may use the connection freely. */
    int stop = 0;
    for (int i = 0; cb && !stop && i < PQntuples(r1); i++)
        stop = cb(PQgetvalue(r1, i, 0), ctx);
    for (int i = 0; cb && r2 && !stop && i < PQntuples(r2); i++)
        stop = cb(PQgetvalue(r2, i, 0), ctx);
out:
    PQclear(r1);
    PQclear(r2);
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
        "  WHERE e.child_id = $1 AND e.relation = 'DERIVED_FROM'"
        " UNION ALL"
        " SELECT e.parent_id, a.depth + 1, e.reason, e.created_at FROM anc a"
        "  JOIN capsule_edges e ON e.child_id = a.id AND e.relation = 'DERIVED_FROM'"
        "  WHERE a.depth <= $2::int)"
        " SELECT a.depth, a.reason, a.derived_at, " CAP_COLS_HEAD "substr(c.content, 1, " PREVIEW
        "), " CAP_COLS_TAIL ", octet_length(c.content), c.erased_at IS NOT NULL"
        " FROM anc a JOIN capsules c ON c.id = a.id"
        " WHERE a.depth > $2::int OR c.erased_at IS NOT NULL"
        "  OR (c.is_deleted = 0 AND c.trust_level <= $3::int)"
        " ORDER BY a.depth";
    struct pg_num d = pg_num(max_depth);
    struct pg_num t = pg_num(max_trust);
    const char *p[] = {id, d.s, t.s};
    enum fg_err e;
    *truncated = 0;
    PGresult *r = pg_exec(c, sql, 3, p, &e);
    if (!r)
        return e;
    int stop = 0;
    for (int i = 0; i < PQntuples(r); i++) {
        int depth = (int)pg_get_i64(r, i, 0);
        if (depth > max_depth) {
            *truncated = 1;
            continue;
        }
        if (stop)
            continue;
        struct store_capsule cap;
        memset(&cap, 0, sizeof cap);
        row_read(r, i, 3, &cap, 1);
        struct store_ancestor a = {
            .depth = depth,
            .cap = &cap,
            .reason = pg_get_opt(r, i, 1),
            .derived_at = pg_get_i64(r, i, 2),
            .content_bytes = (size_t)pg_get_i64(r, i, 3 + CAP_NCOLS),
            .erased = PQgetvalue(r, i, 4 + CAP_NCOLS)[0] == 't',
        };
        stop = cb(&a, ctx);
    }
    PQclear(r);
    return FG_OK;
}

static enum fg_err cap_revisions(struct store_conn *c, const char *id, long long offset,
                                 long long limit, store_revision_cb cb, void *ctx, long long *total)
{
    static const char cnt[] = "SELECT count(*) FROM capsule_revisions WHERE capsule_id = $1";
    static const char sql[] =
        "SELECT version, content, metadata, content_hash, created_at, author, superseded_at, "
        "superseded_by FROM capsule_revisions WHERE capsule_id = $1 "
        "ORDER BY seq DESC LIMIT $2 OFFSET $3";
    enum fg_err e = count_query(c, cnt, id, total);
    if (e != FG_OK || *total <= offset || limit <= 0)
        return e;
    struct pg_num l = pg_num(limit);
    struct pg_num o = pg_num(offset);
    const char *p[] = {id, l.s, o.s};
    PGresult *r = pg_exec(c, sql, 3, p, &e);
    if (!r)
        return e;
    for (int i = 0; i < PQntuples(r); i++) {
        struct store_revision rv = {
            .capsule_id = id,
            .version = pg_get_opt(r, i, 0),
            .content = pg_get_opt(r, i, 1),
            .content_len = (size_t)PQgetlength(r, i, 1),
            .metadata = pg_get_opt(r, i, 2),
            .content_hash = pg_get_opt(r, i, 3),
            .created_at = pg_get_i64(r, i, 4),
            .author = pg_get_opt(r, i, 5),
            .superseded_at = pg_get_i64(r, i, 6),
            .superseded_by = pg_get_opt(r, i, 7),
        };
        if (cb(&rv, ctx))
            break;
    }
    PQclear(r);
    return FG_OK;
}

static enum fg_err cap_changes(struct store_conn *c, long long after_seq, long long limit,
                               store_change_cb cb, void *ctx)
{
    /* Gap-free in commit order: seqs are drawn under forge_write_lock (migration 020). */
    static const char sql[] = "SELECT seq, capsule_id, op, at FROM capsule_changes "
                              "WHERE seq > $1 ORDER BY seq LIMIT $2";
    struct pg_num a = pg_num(after_seq);
    struct pg_num l = pg_num(limit);
    const char *p[] = {a.s, l.s};
    enum fg_err e;
    PGresult *r = pg_exec(c, sql, 2, p, &e);
    if (!r)
        return e;
    for (int i = 0; i < PQntuples(r); i++) {
        struct store_change ch = {
            .seq = pg_get_i64(r, i, 0),
            .capsule_id = pg_get_opt(r, i, 1),
            .op = pg_get_opt(r, i, 2),
            .at = pg_get_i64(r, i, 3),
        };
        if (cb(&ch, ctx))
            break;
    }
    PQclear(r);
    return FG_OK;
}

static enum fg_err cap_changes_head(struct store_conn *c, long long *seq)
{
    static const char sql[] = "SELECT coalesce(max(seq), 0) FROM capsule_changes";
    return count_query(c, sql, NULL, seq);
}

static enum fg_err cap_set_embedding(struct store_conn *c, const char *id, const void *blob,
                                     size_t len, const char *expected_hash)
{
    static const char sql[] = "UPDATE capsules SET embedding = $2::bytea "
                              "WHERE id = $1 AND ($3::text IS NULL OR content_hash = $3)";
    static const char exists[] = "SELECT count(*) FROM capsules WHERE id = $1";
    char *hex = blob ? pg_bytea_hex(blob, len) : NULL;
    const char *p[] = {id, hex, expected_hash};
    long long n = 0;
    enum fg_err e = pg_run(c, sql, 3, p, &n);
    free(hex);
    if (e != FG_OK || n == 1)
        return e;
    if ((e = count_query(c, exists, id, &n)) != FG_OK)
        return e;
    return n ? FG_ECONFLICT : FG_ENOTFOUND;
}

static enum fg_err cap_subtree_visibility(struct store_conn *c, const char *id, int max_trust,
                                          int include_quarantined_owners, long long *hidden,
                                          long long *visible_children)
{
    static const char hid[] =
        "WITH RECURSIVE sub(id) AS (SELECT $1::text UNION "
        "SELECT e.child_id FROM capsule_edges e JOIN sub ON e.parent_id = sub.id) "
        "SELECT count(*) FROM capsules c WHERE c.id IN (SELECT id FROM sub) AND c.id <> $1 AND "
        "c.is_deleted = 0 AND (c.trust_level > $2::int OR ($3::int = 0 AND EXISTS (SELECT 1 FROM "
        "users u WHERE u.id = c.owner_id AND u.trust_level < 40)))";
    static const char vis[] =
        "SELECT count(*) FROM capsules c WHERE c.parent_id = $1 AND c.is_deleted = 0 AND "
        "c.trust_level <= $2::int AND ($3::int = 1 OR NOT EXISTS (SELECT 1 FROM users u WHERE u.id "
        "= c.owner_id AND u.trust_level < 40))";
    struct pg_num t = pg_num(max_trust), q = pg_num(include_quarantined_owners ? 1 : 0);
    const char *p[] = {id, t.s, q.s};
    const char *sqls[2] = {hid, vis};
    long long *outs[2] = {hidden, visible_children};
    for (int i = 0; i < 2; i++) {
        enum fg_err e;
        PGresult *r = pg_exec(c, sqls[i], 3, p, &e);
        if (!r)
            return e;
        if (PQntuples(r) == 1)
            *outs[i] = pg_get_i64(r, 0, 0);
        else
            e = FG_EDB;
        PQclear(r);
        if (e != FG_OK)
            return e;
    }
    return FG_OK;
}

/* One query for the whole page: WHERE id = ANY($1), rows matched back to their ids. */
static enum fg_err cap_get_many(struct store_conn *c, const char *const *ids, size_t n,
                                unsigned flags, struct store_capsule *out, unsigned char *found)
{
    static const char sql[] = "SELECT " CAP_COLS " FROM capsules c WHERE c.id = ANY($1::text[])";
    static const char sql_emb[] =
        "SELECT " CAP_COLS ", c.embedding FROM capsules c WHERE c.id = ANY($1::text[])";
    if (n > STORE_GET_MANY_MAX)
        return FG_EINVAL;
    memset(found, 0, n);
    if (n == 0)
        return FG_OK;
    /* array literal {"a","b"}: every element quoted, '"' and '\\' escaped */
    struct fg_buf arr;
    fg_buf_init(&arr, 64 * 1024);
    fg_buf_append(&arr, "{", 1);
    for (size_t i = 0; i < n; i++) {
        if (i)
            fg_buf_append(&arr, ",", 1);
        fg_buf_append(&arr, "\"", 1);
        for (const char *q = ids[i]; *q; q++) {
            if (*q == '"' || *q == '\\')
                fg_buf_append(&arr, "\\", 1);
            fg_buf_append(&arr, q, 1);
        }
        fg_buf_append(&arr, "\"", 1);
    }
    if (fg_buf_append(&arr, "}", 1) != FG_OK) {
        fg_buf_free(&arr);
        return FG_ELIMIT;
    }
    int with_emb = (flags & STORE_CAPSULE_WITH_EMBEDDING) != 0;
    const char *p[] = {arr.p};
    enum fg_err e = FG_OK;
    PGresult *r = pg_exec(c, with_emb ? sql_emb : sql, 1, p, &e);
    fg_buf_free(&arr);
    if (!r)
        return e;
    int rows = PQntuples(r);
    for (int k = 0; k < rows && e == FG_OK; k++) {
        const char *rid = PQgetvalue(r, k, 0);
        for (size_t i = 0; i < n; i++) {
            if (found[i] || strcmp(ids[i], rid) != 0)
                continue;
            row_read(r, k, 0, &out[i], 0);
            found[i] = 1;
            if (with_emb && !PQgetisnull(r, k, CAP_NCOLS)) {
                out[i].embedding =
                    pg_bytea_decode(PQgetvalue(r, k, CAP_NCOLS),
                                    (size_t)PQgetlength(r, k, CAP_NCOLS), &out[i].embedding_len);
                if (!out[i].embedding)
                    e = FG_EDB;
            }
        }
    }
    PQclear(r);
    if (e != FG_OK) {
        for (size_t i = 0; i < n; i++)
            if (found[i])
                store_capsule_clear(&out[i]);
        memset(found, 0, n);
    }
    return e;
}

const struct store_capsule_ops pg_capsule_ops = {
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
