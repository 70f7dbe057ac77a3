/* SQLite implementation of store/immune.h (immune-system responses). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store/immune.h"
#include "store/sqlite/sqlite_int.h"
#include "util/mem.h"

#define RESPONSE_COLS                                                                              \
    "id, threat_type, level, target_type, target_id, action, reason, details, created_at, "        \
    "coalesce(expires_at, 0)"

static void row_response(sqlite3_stmt *st, struct store_immune_response *r, int with_details)
{
    memset(r, 0, sizeof *r);
    sq_col_text(st, 0, r->id, sizeof r->id);
    sq_col_text(st, 1, r->threat_type, sizeof r->threat_type);
    sq_col_text(st, 2, r->level, sizeof r->level);
    sq_col_text(st, 3, r->target_type, sizeof r->target_type);
    sq_col_text(st, 4, r->target_id, sizeof r->target_id);
    sq_col_text(st, 5, r->action, sizeof r->action);
    sq_col_text(st, 6, r->reason, sizeof r->reason);
    if (with_details) {
        const unsigned char *d = sqlite3_column_text(st, 7);
        r->details = fg_xstrdup(d ? (const char *)d : "{}");
    }
    r->created_at = sqlite3_column_int64(st, 8);
    r->expires_at = sqlite3_column_int64(st, 9);
}

static enum fg_err im_record(struct store_conn *c, const struct store_immune_response *r)
{
    static const char sql[] =
        "INSERT INTO immune_responses (id, threat_type, level, target_type, target_id, action, "
        "reason, details, created_at, expires_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)";
    sqlite3_stmt *st = sq_prepare(c, sql);
    if (!st)
        return FG_EDB;
    sq_bind_text(st, 1, r->id);
    sq_bind_text(st, 2, r->threat_type);
    sq_bind_text(st, 3, r->level);
    sq_bind_text(st, 4, r->target_type);
    sq_bind_text(st, 5, r->target_id);
    sq_bind_text(st, 6, r->action);
    sq_bind_text(st, 7, r->reason);
    sq_bind_text(st, 8, r->details ? r->details : "{}");
    sqlite3_bind_int64(st, 9, r->created_at);
    if (r->expires_at)
        sqlite3_bind_int64(st, 10, r->expires_at);
    else
        sqlite3_bind_null(st, 10);
    int rc = sqlite3_step(st);
    sqlite3_reset(st);
    return rc == SQLITE_DONE ? FG_OK : sq_err(c, rc, "immune.record");
}

static void bind_filter(sqlite3_stmt *st, const struct store_immune_filter *f)
{
    sq_bind_text(st, 1, f ? f->threat_type : NULL);
    sq_bind_text(st, 2, f ? f->target_type : NULL);
    sqlite3_bind_int64(st, 3, f ? f->since : 0);
}

static enum fg_err im_list(struct store_conn *c, const struct store_immune_filter *f,
                           long long offset, long long limit, struct store_immune_response **items,
                           size_t *n, long long *total)
{
#define WHERE                                                                                      \
    " WHERE (?1 IS NULL OR threat_type = ?1) AND (?2 IS NULL OR target_type = ?2) AND "            \
    "created_at >= ?3"
    static const char count_sql[] = "SELECT count(*) FROM immune_responses" WHERE;
    static const char sql[] = "SELECT " RESPONSE_COLS " FROM immune_responses" WHERE
                              " ORDER BY created_at DESC, id DESC LIMIT ?4 OFFSET ?5";
#undef WHERE
    *items = NULL;
    *n = 0;
    *total = 0;
    sqlite3_stmt *st = sq_prepare(c, count_sql);
    if (!st)
        return FG_EDB;
    bind_filter(st, f);
    int rc = sqlite3_step(st);
    if (rc == SQLITE_ROW)
        *total = sqlite3_column_int64(st, 0);
    sqlite3_reset(st);
    if (rc != SQLITE_ROW)
        return sq_err(c, rc, "immune.count");
    if (limit <= 0)
        return FG_OK;
    st = sq_prepare(c, sql);
    if (!st)
        return FG_EDB;
    bind_filter(st, f);
    sqlite3_bind_int64(st, 4, limit);
    sqlite3_bind_int64(st, 5, offset);
    struct store_immune_response *arr = fg_xcalloc((size_t)limit, sizeof *arr);
    size_t k = 0;
    while (k < (size_t)limit && (rc = sqlite3_step(st)) == SQLITE_ROW)
        row_response(st, &arr[k++], 1);
    sqlite3_reset(st);
    if (rc != SQLITE_DONE && rc != SQLITE_ROW) {
        store_immune_free_list(arr, k);
        return sq_err(c, rc, "immune.list");
    }
    *items = arr;
    *n = k;
    return FG_OK;
}

static enum fg_err im_active(struct store_conn *c, const char *action, int64_t now,
                             void (*fn)(void *ctx, const struct store_immune_response *r),
                             void *ctx)
{
    static const char sql[] = "SELECT " RESPONSE_COLS " FROM immune_responses WHERE action = ? "
                              "AND expires_at > ? ORDER BY created_at";
    sqlite3_stmt *st = sq_prepare(c, sql);
    if (!st)
        return FG_EDB;
    sq_bind_text(st, 1, action);
    sqlite3_bind_int64(st, 2, now);
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        struct store_immune_response r;
        row_response(st, &r, 0);
        fn(ctx, &r);
    }
    sqlite3_reset(st);
    return rc == SQLITE_DONE ? FG_OK : sq_err(c, rc, "immune.active");
}

const struct store_immune_ops sqlite_immune_ops = {
    .record = im_record,
    .list = im_list,
    .active = im_active,
};
