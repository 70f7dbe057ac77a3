/*
 * PostgreSQL: the knowledge graph (store/graph.h), the dialect of store/sqlite/graph.c. A BFS
 * level is one round trip: the level's ids are bound as one text[] parameter (unnest). Writes
 * take the writers' lock first (pg_run_locked) because the same transaction appends to the
 * outbox and the audit chain.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store/graph.h"
#include "store/pg/pg_int.h"
#include "util/buf.h"
#include "util/mem.h"

#define IDS_ARRAY_MAX (64u << 20)

/* text[] literal of ids (UUIDs: only hex digits and dashes are copied, so no quoting needed). */
static char *ids_array(const char *const *ids, size_t n)
{
    struct fg_buf b;
    fg_buf_init(&b, IDS_ARRAY_MAX);
    fg_buf_puts(&b, "{");
    for (size_t i = 0; i < n; i++) {
        char id[37];
        size_t k = 0;
        for (const char *p = ids[i]; *p && k < 36; p++)
            if ((*p >= '0' && *p <= '9') || (*p >= 'a' && *p <= 'f') || *p == '-')
                id[k++] = *p;
        id[k] = '\0';
        fg_buf_printf(&b, "%s%s", i ? "," : "", k ? id : "\"\"");
    }
    fg_buf_puts(&b, "}");
    return fg_buf_steal(&b, NULL);
}

/* The type of l as its STORE_EDGE_* bit. */
#define TYPE_BIT_L                                                                                 \
    "(CASE l.type WHEN 'supports' THEN 1 WHEN 'contradicts' THEN 2 WHEN 'supersedes' THEN 4 "      \
    "WHEN 'related_to' THEN 8 WHEN 'references' THEN 16 ELSE 0 END)"

#define EXPAND_UNION                                                                               \
    "SELECT x.src, x.id, x.source_id, x.target_id, x.type, x.note, x.weight, x.creator_id, "       \
    "x.created_at, c.id, c.type, c.version, c.trust_level, c.owner_id, c.created_at, "             \
    "c.updated_at FROM ("                                                                          \
    " SELECT f.id AS src, l.id, l.source_id, l.target_id, l.type, l.note, l.weight, "              \
    "  l.creator_id, l.created_at, l.target_id AS far"                                             \
    "  FROM unnest($1::text[]) f(id) JOIN capsule_links l ON l.source_id = f.id"                   \
    "  WHERE ($2::int & 1) <> 0 AND ($3::int & " TYPE_BIT_L ") <> 0"                               \
    " UNION ALL"                                                                                   \
    " SELECT f.id, l.id, l.source_id, l.target_id, l.type, l.note, l.weight, l.creator_id, "       \
    "  l.created_at, l.source_id"                                                                  \
    "  FROM unnest($1::text[]) f(id) JOIN capsule_links l ON l.target_id = f.id"                   \
    "  WHERE ($2::int & 2) <> 0 AND ($3::int & " TYPE_BIT_L ") <> 0"                               \
    " UNION ALL"                                                                                   \
    " SELECT f.id, '', e.child_id, e.parent_id, 'derived_from', e.reason, 1.0::float8,"            \
    "  (SELECT o.owner_id FROM capsules o WHERE o.id = e.child_id), e.created_at, e.parent_id"     \
    "  FROM unnest($1::text[]) f(id) JOIN capsule_edges e ON e.child_id = f.id"                    \
    "  WHERE ($2::int & 1) <> 0 AND ($3::int & 32) <> 0 AND e.relation = 'DERIVED_FROM'"           \
    " UNION ALL"                                                                                   \
    " SELECT f.id, '', e.child_id, e.parent_id, 'derived_from', e.reason, 1.0::float8,"            \
    "  (SELECT o.owner_id FROM capsules o WHERE o.id = e.child_id), e.created_at, e.child_id"      \
    "  FROM unnest($1::text[]) f(id) JOIN capsule_edges e ON e.parent_id = f.id"                   \
    "  WHERE ($2::int & 2) <> 0 AND ($3::int & 32) <> 0 AND e.relation = 'DERIVED_FROM'"           \
    ") x JOIN capsules c ON c.id = x.far WHERE c.is_deleted = 0 AND c.trust_level <= $4::int"

static void read_edge(const PGresult *r, int row, int col, struct store_edge *e)
{
    pg_get_text(r, row, col + 0, e->id, sizeof e->id);
    pg_get_text(r, row, col + 1, e->source_id, sizeof e->source_id);
    pg_get_text(r, row, col + 2, e->target_id, sizeof e->target_id);
    pg_get_text(r, row, col + 3, e->type, sizeof e->type);
    e->note = pg_get_opt(r, row, col + 4);
    e->weight = strtod(PQgetvalue(r, row, col + 5), NULL);
    pg_get_text(r, row, col + 6, e->creator_id, sizeof e->creator_id);
    e->created_at = pg_get_i64(r, row, col + 7);
}

static void read_node(const PGresult *r, int row, int col, struct store_node *n)
{
    pg_get_text(r, row, col + 0, n->id, sizeof n->id);
    pg_get_text(r, row, col + 1, n->type, sizeof n->type);
    pg_get_text(r, row, col + 2, n->version, sizeof n->version);
    n->trust_level = (int)pg_get_i64(r, row, col + 3);
    pg_get_text(r, row, col + 4, n->owner_id, sizeof n->owner_id);
    n->created_at = pg_get_i64(r, row, col + 5);
    n->updated_at = pg_get_i64(r, row, col + 6);
}

static enum fg_err g_insert(struct store_conn *c, const struct store_edge *e)
{
    static const char sql[] =
        "INSERT INTO capsule_links (id, source_id, target_id, type, note, weight, creator_id, "
        "created_at) VALUES ($1, $2, $3, $4, $5, $6::float8, $7, $8::bigint)";
    char w[40];
    snprintf(w, sizeof w, "%.17g", e->weight);
    struct pg_num at = pg_num(e->created_at);
    const char *p[] = {e->id, e->source_id, e->target_id, e->type, e->note, w, e->creator_id, at.s};
    return pg_run_locked(c, sql, 8, p, NULL);
}

static enum fg_err g_get(struct store_conn *c, const char *id, struct store_edge *out,
                         char *note_buf, size_t note_len)
{
    static const char sql[] = "SELECT id, source_id, target_id, type, note, weight, creator_id, "
                              "created_at FROM capsule_links WHERE id = $1";
    enum fg_err e;
    const char *p[] = {id};
    PGresult *r = pg_exec(c, sql, 1, p, &e);
    if (!r)
        return e;
    if (PQntuples(r) == 0) {
        PQclear(r);
        return FG_ENOTFOUND;
    }
    read_edge(r, 0, 0, out);
    snprintf(note_buf, note_len, "%s", out->note ? out->note : "");
    out->note = out->note ? note_buf : NULL;
    PQclear(r);
    return FG_OK;
}

static enum fg_err g_find(struct store_conn *c, const char *source, const char *target,
                          const char *type, char id_out[37])
{
    static const char sql[] = "SELECT id FROM capsule_links WHERE source_id = $1 AND "
                              "target_id = $2 AND type = $3";
    /* The first read of a link transaction: take the writers' lock now, so the duplicate and
     * cycle checks that follow see every edge committed before, and no edge commits in between
     * (READ COMMITTED: each statement reads the latest commits). */
    enum fg_err e = pg_tx_write_lock(c);
    if (e != FG_OK)
        return e;
    const char *p[] = {source, target, type};
    PGresult *r = pg_exec(c, sql, 3, p, &e);
    if (!r)
        return e;
    e = PQntuples(r) ? FG_OK : FG_ENOTFOUND;
    if (e == FG_OK)
        pg_get_text(r, 0, 0, id_out, 37);
    PQclear(r);
    return e;
}

static enum fg_err g_remove(struct store_conn *c, const char *id)
{
    static const char sql[] = "DELETE FROM capsule_links WHERE id = $1";
    const char *p[] = {id};
    long long n = 0;
    enum fg_err e = pg_run_locked(c, sql, 1, p, &n);
    return e == FG_OK && n == 0 ? FG_ENOTFOUND : e;
}

static enum fg_err one_int(struct store_conn *c, const char *sql, int np, const char *const *p,
                           long long *out)
{
    enum fg_err e;
    PGresult *r = pg_exec(c, sql, np, p, &e);
    if (!r)
        return e;
    *out = PQntuples(r) ? pg_get_i64(r, 0, 0) : 0;
    PQclear(r);
    return FG_OK;
}

static enum fg_err g_count_out(struct store_conn *c, const char *source, long long *n)
{
    static const char sql[] = "SELECT count(*) FROM capsule_links WHERE source_id = $1";
    const char *p[] = {source};
    return one_int(c, sql, 1, p, n);
}

static enum fg_err g_expand(struct store_conn *c, const struct store_expand *q, store_step_cb cb,
                            void *ctx)
{
    static const char fast[] = EXPAND_UNION " LIMIT $5::bigint";
    static const char ordered[] =
        EXPAND_UNION " ORDER BY x.created_at DESC, x.id DESC, "
                     "x.source_id DESC LIMIT $5::bigint OFFSET $6::bigint";
    static const char counted[] = "SELECT count(*) FROM (" EXPAND_UNION ") y";
    char *arr = ids_array(q->ids, q->n);
    struct pg_num dir = pg_num(q->dir), types = pg_num(q->types), trust = pg_num(q->max_trust);
    struct pg_num lim = pg_num(q->limit), off = pg_num(q->offset);
    const char *p[] = {arr, dir.s, types.s, trust.s, lim.s, off.s};
    enum fg_err e = FG_OK;
    if (q->ordered && q->total) {
        if ((e = one_int(c, counted, 4, p, q->total)) != FG_OK || *q->total <= q->offset)
            goto out;
    }
    if (q->limit <= 0)
        goto out;
    PGresult *r = pg_exec(c, q->ordered ? ordered : fast, q->ordered ? 6 : 5, p, &e);
    if (!r)
        goto out;
    for (int i = 0; i < PQntuples(r); i++) {
        struct store_edge ed;
        struct store_node nd;
        read_edge(r, i, 1, &ed);
        read_node(r, i, 9, &nd);
        struct store_step s = {.from = PQgetvalue(r, i, 0), .edge = &ed, .node = &nd};
        if (cb(&s, ctx))
            break;
    }
    PQclear(r);
out:
    free(arr);
    return e;
}

static enum fg_err g_remove_touching(struct store_conn *c, const char *capsule_id, store_edge_cb cb,
                                     void *ctx)
{
    static const char sql[] =
        "DELETE FROM capsule_links WHERE source_id = $1 OR target_id = $1 RETURNING id, "
        "source_id, target_id, type, note, weight, creator_id, created_at";
    enum fg_err e = pg_tx_write_lock(c);
    if (e != FG_OK)
        return e;
    const char *p[] = {capsule_id};
    PGresult *r = pg_exec(c, sql, 1, p, &e);
    if (!r)
        return e;
    int n = PQntuples(r);
    struct store_edge *v = fg_xcalloc((size_t)(n ? n : 1), sizeof *v);
    for (int i = 0; i < n; i++) {
        read_edge(r, i, 0, &v[i]);
        v[i].note = NULL;
    }
    PQclear(r);
    for (int i = 0; cb && i < n; i++)
        if (cb(&v[i], ctx))
            break;
    free(v);
    return FG_OK;
}

static enum fg_err g_contradictions(struct store_conn *c, int max_trust, long long offset,
                                    long long limit, store_edge_cb cb, void *ctx, long long *total)
{
#define CONTRA_FROM                                                                                \
    " FROM capsule_links l JOIN capsules s ON s.id = l.source_id"                                  \
    " JOIN capsules t ON t.id = l.target_id WHERE l.type = 'contradicts'"                          \
    " AND s.is_deleted = 0 AND s.trust_level <= $1::int AND t.is_deleted = 0"                      \
    " AND t.trust_level <= $1::int"
    static const char cnt[] = "SELECT count(*)" CONTRA_FROM;
    static const char sql[] = "SELECT l.id, l.source_id, l.target_id, l.type, l.note, l.weight, "
                              "l.creator_id, l.created_at" CONTRA_FROM
                              " ORDER BY l.created_at DESC, l.id DESC LIMIT $2::bigint "
                              "OFFSET $3::bigint";
#undef CONTRA_FROM
    struct pg_num t = pg_num(max_trust), l = pg_num(limit), o = pg_num(offset);
    const char *p[] = {t.s, l.s, o.s};
    enum fg_err e = one_int(c, cnt, 1, p, total);
    if (e != FG_OK || *total <= offset || limit <= 0)
        return e;
    PGresult *r = pg_exec(c, sql, 3, p, &e);
    if (!r)
        return e;
    for (int i = 0; i < PQntuples(r); i++) {
        struct store_edge ed;
        read_edge(r, i, 0, &ed);
        if (cb(&ed, ctx))
            break;
    }
    PQclear(r);
    return FG_OK;
}

static enum fg_err g_successors(struct store_conn *c, const char *const *ids, size_t n,
                                int max_trust, store_pair_cb cb, void *ctx)
{
    static const char sql[] =
        "SELECT l.target_id, l.source_id FROM unnest($1::text[]) f(id)"
        " JOIN capsule_links l ON l.target_id = f.id AND l.type = 'supersedes'"
        " JOIN capsules s ON s.id = l.source_id"
        " WHERE s.is_deleted = 0 AND s.trust_level <= $2::int"
        " ORDER BY l.target_id, l.created_at DESC, l.id DESC";
    if (n == 0)
        return FG_OK;
    char *arr = ids_array(ids, n);
    struct pg_num t = pg_num(max_trust);
    const char *p[] = {arr, t.s};
    enum fg_err e;
    PGresult *r = pg_exec(c, sql, 2, p, &e);
    free(arr);
    if (!r)
        return e;
    for (int i = 0; i < PQntuples(r); i++)
        if (cb(PQgetvalue(r, i, 0), PQgetvalue(r, i, 1), ctx))
            break;
    PQclear(r);
    return FG_OK;
}

static enum fg_err g_nodes(struct store_conn *c, const char *const *ids, size_t n, int max_trust,
                           store_node_cb cb, void *ctx)
{
    static const char sql[] =
        "SELECT c.id, c.type, c.version, c.trust_level, c.owner_id, c.created_at, c.updated_at"
        " FROM unnest($1::text[]) f(id) JOIN capsules c ON c.id = f.id"
        " WHERE c.is_deleted = 0 AND c.trust_level <= $2::int";
    if (n == 0)
        return FG_OK;
    char *arr = ids_array(ids, n);
    struct pg_num t = pg_num(max_trust);
    const char *p[] = {arr, t.s};
    enum fg_err e;
    PGresult *r = pg_exec(c, sql, 2, p, &e);
    free(arr);
    if (!r)
        return e;
    for (int i = 0; i < PQntuples(r); i++) {
        struct store_node nd;
        read_node(r, i, 0, &nd);
        if (cb(&nd, ctx))
            break;
    }
    PQclear(r);
    return FG_OK;
}

static enum fg_err version_query(struct store_conn *c, const char *sql, const char *id,
                                 const char *arg, store_version_cb cb, void *ctx)
{
    enum fg_err e;
    const char *p[] = {id, arg};
    PGresult *r = pg_exec(c, sql, 2, p, &e);
    if (!r)
        return e;
    if (PQntuples(r) == 0) {
        PQclear(r);
        return FG_ENOTFOUND;
    }
    struct store_version v = {
        .version = pg_get_opt(r, 0, 0),
        .content = pg_get_opt(r, 0, 1),
        .content_len = (size_t)PQgetlength(r, 0, 1),
        .metadata = pg_get_opt(r, 0, 2),
        .content_hash = pg_get_opt(r, 0, 3),
        .created_at = pg_get_i64(r, 0, 4),
        .author = pg_get_opt(r, 0, 5),
        .superseded_at = pg_get_i64(r, 0, 6),
    };
    cb(&v, ctx);
    PQclear(r);
    return FG_OK;
}

#define REV_COLS "version, content, metadata, content_hash, created_at, author, superseded_at"

static enum fg_err g_revision(struct store_conn *c, const char *id, const char *version,
                              store_version_cb cb, void *ctx)
{
    static const char sql[] =
        "SELECT " REV_COLS " FROM capsule_revisions WHERE capsule_id = $1 AND version = $2";
    return version_query(c, sql, id, version, cb, ctx);
}

static enum fg_err g_revision_at(struct store_conn *c, const char *id, int64_t at,
                                 store_version_cb cb, void *ctx)
{
    static const char sql[] =
        "SELECT * FROM (SELECT " REV_COLS " FROM capsule_revisions WHERE capsule_id = $1 AND "
        "created_at <= $2::bigint ORDER BY seq DESC LIMIT 1) v WHERE superseded_at > $2::bigint";
    struct pg_num a = pg_num(at);
    return version_query(c, sql, id, a.s, cb, ctx);
}

const struct store_graph_ops pg_graph_ops = {
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
