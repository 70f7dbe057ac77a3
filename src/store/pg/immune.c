/* PostgreSQL implementation of store/immune.h (immune-system responses); mirrors
 * store/sqlite/immune.c. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store/immune.h"
#include "store/pg/pg_int.h"
#include "util/mem.h"

#define RESPONSE_COLS                                                                              \
    "id, threat_type, level, target_type, target_id, action, reason, details, created_at, "        \
    "coalesce(expires_at, 0)"

static void row_response(const PGresult *r, int i, struct store_immune_response *out,
                         int with_details)
{
    memset(out, 0, sizeof *out);
    pg_get_text(r, i, 0, out->id, sizeof out->id);
    pg_get_text(r, i, 1, out->threat_type, sizeof out->threat_type);
    pg_get_text(r, i, 2, out->level, sizeof out->level);
    pg_get_text(r, i, 3, out->target_type, sizeof out->target_type);
    pg_get_text(r, i, 4, out->target_id, sizeof out->target_id);
    pg_get_text(r, i, 5, out->action, sizeof out->action);
    pg_get_text(r, i, 6, out->reason, sizeof out->reason);
    if (with_details)
        out->details = fg_xstrdup(PQgetisnull(r, i, 7) ? "{}" : PQgetvalue(r, i, 7));
    out->created_at = pg_get_i64(r, i, 8);
    out->expires_at = pg_get_i64(r, i, 9);
}

static enum fg_err im_record(struct store_conn *c, const struct store_immune_response *r)
{
    static const char sql[] =
        "INSERT INTO immune_responses (id, threat_type, level, target_type, target_id, action, "
        "reason, details, created_at, expires_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, "
        "$9::bigint, $10::bigint)";
    struct pg_num ca = pg_num(r->created_at), ex = pg_num(r->expires_at);
    const char *p[] = {r->id,        r->threat_type,
                       r->level,     r->target_type,
                       r->target_id, r->action,
                       r->reason,    r->details ? r->details : "{}",
                       ca.s,         r->expires_at ? ex.s : NULL};
    /* inside a transaction, the writers' lock first (lock order; see store/pg/users.c) */
    enum fg_err e = pg_conn_of(c)->in_tx ? pg_write_lock(c) : FG_OK;
    if (e != FG_OK)
        return e;
    PGresult *res = pg_exec(c, sql, 10, p, &e);
    PQclear(res);
    return e;
}

static enum fg_err im_list(struct store_conn *c, const struct store_immune_filter *f,
                           long long offset, long long limit, struct store_immune_response **items,
                           size_t *n, long long *total)
{
#define WHERE                                                                                      \
    " WHERE ($1::text IS NULL OR threat_type = $1::text) AND "                                     \
    "($2::text IS NULL OR target_type = $2::text) AND created_at >= $3::bigint"
    static const char count_sql[] = "SELECT count(*) FROM immune_responses" WHERE;
    static const char sql[] =
        "SELECT " RESPONSE_COLS " FROM immune_responses" WHERE
        " ORDER BY created_at DESC, id DESC LIMIT $4::bigint OFFSET $5::bigint";
#undef WHERE
    *items = NULL;
    *n = 0;
    *total = 0;
    struct pg_num since = pg_num(f ? f->since : 0), l = pg_num(limit),
                  o = pg_num(offset < 0 ? 0 : offset);
    const char *p[] = {f ? f->threat_type : NULL, f ? f->target_type : NULL, since.s, l.s, o.s};
    enum fg_err e;
    PGresult *r = pg_exec(c, count_sql, 3, p, &e);
    if (!r)
        return e;
    *total = PQntuples(r) ? pg_get_i64(r, 0, 0) : 0;
    PQclear(r);
    if (limit <= 0)
        return FG_OK;
    if (!(r = pg_exec(c, sql, 5, p, &e)))
        return e;
    int rows = PQntuples(r);
    struct store_immune_response *arr = fg_xcalloc(rows > 0 ? (size_t)rows : 1, sizeof *arr);
    for (int i = 0; i < rows; i++)
        row_response(r, i, &arr[i], 1);
    PQclear(r);
    *items = arr;
    *n = (size_t)rows;
    return FG_OK;
}

static enum fg_err im_active(struct store_conn *c, const char *action, int64_t now,
                             void (*fn)(void *ctx, const struct store_immune_response *r),
                             void *ctx)
{
    static const char sql[] = "SELECT " RESPONSE_COLS " FROM immune_responses WHERE action = $1 "
                              "AND expires_at > $2::bigint ORDER BY created_at";
    struct pg_num t = pg_num(now);
    const char *p[] = {action, t.s};
    enum fg_err e;
    PGresult *r = pg_exec(c, sql, 2, p, &e);
    if (!r)
        return e;
    for (int i = 0; i < PQntuples(r); i++) {
        struct store_immune_response resp;
        row_response(r, i, &resp, 0);
        fn(ctx, &resp);
    }
    PQclear(r);
    return FG_OK;
}

const struct store_immune_ops pg_immune_ops = {
    .record = im_record,
    .list = im_list,
    .active = im_active,
};
