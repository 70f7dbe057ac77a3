/*
 * PostgreSQL: search area (store/search.h). Full text through the capsules.search_doc tsvector
 * of migrations/040_search.sql (GIN index, kept in step by a trigger; NULL for deleted capsules),
 * ranked with ts_rank_cd (content weight 1.0, metadata 0.5) normalised by document length (so a
 * short note dense in the query words beats a long text that mentions them once, as BM25 does)
 * and mapped into (0, 1) (rank/(rank+1)). The DERIVED_FROM neighbourhood is one recursive CTE,
 * and the embedding-space bookkeeping lives in the settings table.
 *
 * Keyword queries: the core hands over an FTS5 expression built by fg_search_fts_query — only
 * double-quoted runs of word characters joined by " OR " — which websearch_to_tsquery reads with
 * the same meaning ("a" OR "b": either term, a quoted term of several tokens a phrase). Nothing in
 * it can raise a tsquery syntax error: websearch_to_tsquery never does.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store/pg/pg_int.h"
#include "store/search.h"
#include "util/mem.h"

#define SPACE_KEY "search.embedding_space"

/* ts_rank_cd weights {D, C, B, A}: content is A (1.0), metadata B (0.5).
 * Normalisation 2|32: divide by the document length, then rank/(rank+1). */
#define KW_RANK "ts_rank_cd('{0, 0, 0.5, 1}'::float4[], c.search_doc, q, 34)"

static enum fg_err kw_query(struct store_conn *c, const struct store_keyword_query *q,
                            store_keyword_cb cb, void *ctx)
{
    static const char sql[] =
        "SELECT c.id, " KW_RANK " AS s"
        " FROM capsules c, websearch_to_tsquery('forge_english', $1) q"
        " WHERE c.search_doc @@ q AND c.is_deleted = 0 AND c.trust_level <= $2"
        "   AND ($3::text IS NULL OR c.type = $3)"
        " ORDER BY s DESC, c.id LIMIT $4";
    if (!q->match || !q->match[0] || q->limit < 1 || q->limit > STORE_SEARCH_KEYWORD_LIMIT_MAX)
        return FG_EINVAL;
    struct pg_num trust = pg_num(q->max_trust), lim = pg_num(q->limit);
    const char *p[] = {q->match, trust.s, q->type, lim.s};
    enum fg_err e;
    PGresult *r = pg_exec(c, sql, 4, p, &e);
    if (!r)
        return e;
    for (int i = 0; i < PQntuples(r); i++) {
        const char *id = pg_get_opt(r, i, 0);
        if (!id || strlen(id) > 36)
            continue;
        struct store_keyword_hit h = {.capsule_id = id, .bm25 = strtod(PQgetvalue(r, i, 1), NULL)};
        if (cb(&h, ctx))
            break;
    }
    PQclear(r);
    return FG_OK;
}

static enum fg_err neighbourhood(struct store_conn *c, const char *id, int max_hops,
                                 size_t max_nodes, store_hop_cb cb, void *ctx, int *truncated)
{
    /* Breadth first: a recursive CTE produces its rows layer by layer and is evaluated only as
     * far as the LIMIT reads, so a hub with many children costs max_nodes rows, not all of them.
     * Edges form a forest (one parent per capsule, fixed at creation), so a walk that never
     * returns along its own path (CYCLE) reaches every capsule once; the GROUP BY keeps the
     * nearest distance should hand-made edges ever join two paths. */
    static const char sql[] = "WITH RECURSIVE walk(id, d) AS ("
                              " SELECT $1::text, 0"
                              " UNION ALL"
                              " SELECT n.id, w.d + 1 FROM walk w CROSS JOIN LATERAL ("
                              "   SELECT e.parent_id AS id FROM capsule_edges e"
                              "    WHERE e.child_id = w.id AND e.relation = 'DERIVED_FROM'"
                              "   UNION ALL"
                              "   SELECT e.child_id FROM capsule_edges e"
                              "    WHERE e.parent_id = w.id AND e.relation = 'DERIVED_FROM') n"
                              " WHERE w.d < $2::int"
                              ") CYCLE id SET is_cycle USING path"
                              " SELECT id, min(d) AS d"
                              " FROM (SELECT id, d FROM walk WHERE NOT is_cycle LIMIT $3) t"
                              " GROUP BY id ORDER BY d, id";
    *truncated = 0;
    if (!id || strlen(id) > 36 || max_nodes == 0)
        return FG_EINVAL;
    if (max_hops < 0)
        max_hops = 0;
    struct pg_num hops = pg_num(max_hops), lim = pg_num((long long)max_nodes + 1);
    const char *p[] = {id, hops.s, lim.s};
    enum fg_err e;
    PGresult *r = pg_exec(c, sql, 3, p, &e);
    if (!r)
        return e;
    size_t n = (size_t)PQntuples(r);
    if (n > max_nodes) {
        *truncated = 1;
        n = max_nodes;
    }
    for (size_t i = 0; i < n; i++)
        if (cb(PQgetvalue(r, (int)i, 0), (int)pg_get_i64(r, (int)i, 1), ctx))
            break;
    PQclear(r);
    return FG_OK;
}

static enum fg_err scan_live(struct store_conn *c, const char *after_id, long long limit,
                             int with_embedding, store_doc_cb cb, void *ctx)
{
    static const char sql[] =
        "SELECT id, content, content_hash, type, trust_level, NULL, metadata FROM capsules"
        " WHERE id > $1 AND is_deleted = 0 ORDER BY id LIMIT $2";
    static const char sql_emb[] =
        "SELECT id, content, content_hash, type, trust_level, embedding, metadata FROM capsules"
        " WHERE id > $1 AND is_deleted = 0 ORDER BY id LIMIT $2";
    struct pg_num lim = pg_num(limit);
    const char *p[] = {after_id ? after_id : "", lim.s};
    enum fg_err e;
    PGresult *r = pg_exec(c, with_embedding ? sql_emb : sql, 2, p, &e);
    if (!r)
        return e;
    int stop = 0;
    for (int i = 0; i < PQntuples(r) && !stop; i++) {
        struct store_search_doc d = {
            .id = pg_get_opt(r, i, 0),
            .content = pg_get_opt(r, i, 1),
            .content_len = (size_t)PQgetlength(r, i, 1),
            .content_hash = pg_get_opt(r, i, 2),
            .type = pg_get_opt(r, i, 3),
            .trust_level = (int)pg_get_i64(r, i, 4),
            .metadata = pg_get_opt(r, i, 6),
            .metadata_len = (size_t)PQgetlength(r, i, 6),
        };
        void *emb = NULL;
        if (!PQgetisnull(r, i, 5)) {
            emb = pg_bytea_decode(PQgetvalue(r, i, 5), (size_t)PQgetlength(r, i, 5),
                                  &d.embedding_len);
            d.embedding = emb;
            if (!emb)
                d.embedding_len = 0;
        }
        if (d.id && d.content && d.content_hash && d.type)
            stop = cb(&d, ctx);
        free(emb);
    }
    PQclear(r);
    return FG_OK;
}

static enum fg_err space_get(struct store_conn *c, char *out, size_t outlen)
{
    static const char sql[] = "SELECT value FROM settings WHERE key = '" SPACE_KEY "'";
    enum fg_err e;
    PGresult *r = pg_exec(c, sql, 0, NULL, &e);
    if (!r)
        return e;
    const char *v = PQntuples(r) ? pg_get_opt(r, 0, 0) : NULL;
    snprintf(out, outlen, "%s", v ? v : "");
    PQclear(r);
    return FG_OK;
}

static enum fg_err space_set(struct store_conn *c, const char *space)
{
    static const char sql[] =
        "INSERT INTO settings (key, value, updated_at) VALUES ('" SPACE_KEY "', $1, now())"
        " ON CONFLICT (key) DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at";
    if (!space || strlen(space) >= STORE_SEARCH_SPACE_MAX)
        return FG_EINVAL;
    const char *p[] = {space};
    enum fg_err e;
    PGresult *r = pg_exec(c, sql, 1, p, &e);
    PQclear(r);
    return e;
}

static enum fg_err clear_deleted_embeddings(struct store_conn *c, long long *n)
{
    static const char sql[] =
        "UPDATE capsules SET embedding = NULL WHERE is_deleted <> 0 AND embedding IS NOT NULL";
    enum fg_err e;
    PGresult *r = pg_exec(c, sql, 0, NULL, &e);
    *n = r ? pg_changes(r) : 0;
    PQclear(r);
    return e;
}

static enum fg_err count_embedded(struct store_conn *c, long long *n)
{
    static const char sql[] =
        "SELECT count(*) FROM capsules WHERE is_deleted = 0 AND embedding IS NOT NULL";
    enum fg_err e;
    PGresult *r = pg_exec(c, sql, 0, NULL, &e);
    *n = r ? pg_get_i64(r, 0, 0) : 0;
    PQclear(r);
    return e;
}

const struct store_search_ops pg_search_ops = {
    .keyword = kw_query,
    .neighbourhood = neighbourhood,
    .scan_live = scan_live,
    .space_get = space_get,
    .space_set = space_set,
    .clear_deleted_embeddings = clear_deleted_embeddings,
    .count_embedded = count_embedded,
};
