/* SQLite retention purges (store/retention.h). */
#include <stdlib.h>
#include <string.h>

#include "store/retention.h"
#include "store/sqlite/sqlite_int.h"
#include "util/mem.h"

static enum fg_err run_id(struct store_conn *c, const char *sql, const char *id)
{
    sqlite3_stmt *st = sq_prepare(c, sql);
    if (!st)
        return FG_EDB;
    sqlite3_bind_text(st, 1, id, -1, SQLITE_TRANSIENT);
    return sq_step_done(c, st, "retention purge", NULL);
}

static enum fg_err purge_capsules(struct store_conn *c, int64_t before, long long limit,
                                  long long *n)
{
    static const char pick[] =
        "SELECT id FROM capsules c WHERE is_deleted = 1 AND deleted_at < ?1 "
        "AND NOT EXISTS (SELECT 1 FROM capsules ch WHERE ch.parent_id = c.id) "
        "ORDER BY deleted_at LIMIT ?2";
    static const char *const del[] = {
        "DELETE FROM capsule_revisions WHERE capsule_id = ?1",
        "DELETE FROM capsule_edges WHERE child_id = ?1 OR parent_id = ?1",
        "DELETE FROM capsules WHERE id = ?1",
    };
    *n = 0;
    sqlite3_stmt *st = sq_prepare(c, pick);
    if (!st)
        return FG_EDB;
    sqlite3_bind_int64(st, 1, before);
    sqlite3_bind_int64(st, 2, limit);
    size_t cap = 64, cnt = 0;
    char **ids = fg_xmalloc(cap * sizeof *ids);
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        if (cnt == cap) {
            cap *= 2;
            ids = fg_xrealloc(ids, cap * sizeof *ids);
        }
        ids[cnt++] = fg_xstrdup((const char *)sqlite3_column_text(st, 0));
    }
    enum fg_err e = rc == SQLITE_DONE ? FG_OK : sq_err(c, rc, "retention pick");
    sqlite3_reset(st);
    for (size_t i = 0; i < cnt && e == FG_OK; i++) {
        for (size_t k = 0; k < sizeof del / sizeof del[0] && e == FG_OK; k++)
            e = run_id(c, del[k], ids[i]);
        if (e == FG_OK)
            (*n)++;
    }
    for (size_t i = 0; i < cnt; i++)
        free(ids[i]);
    free(ids);
    return e;
}

static enum fg_err purge_audit(struct store_conn *c, int64_t before, long long limit, long long *n,
                               long long *base_seq, char *base_hash)
{
    /* the newest entry of the oldest `limit` entries that is older than the cutoff */
    static const char pick[] =
        "SELECT seq, hash FROM audit_log WHERE seq = (SELECT max(seq) FROM "
        "(SELECT seq, at FROM audit_log ORDER BY seq LIMIT ?2) WHERE at < ?1)";
    static const char del[] = "DELETE FROM audit_log WHERE seq <= ?1";
    static const char base[] =
        "UPDATE audit_chain SET base_seq = ?1, base_hash = ?2 WHERE id = 1 AND base_seq < ?1";
    *n = 0;
    sqlite3_stmt *st = sq_prepare(c, pick);
    if (!st)
        return FG_EDB;
    sqlite3_bind_int64(st, 1, before);
    sqlite3_bind_int64(st, 2, limit);
    int rc = sqlite3_step(st);
    if (rc == SQLITE_DONE) {
        sqlite3_reset(st);
        return FG_OK;
    }
    if (rc != SQLITE_ROW) {
        enum fg_err e = sq_err(c, rc, "audit retention");
        sqlite3_reset(st);
        return e;
    }
    long long cut = sqlite3_column_int64(st, 0);
    char hash[65];
    sq_col_text(st, 1, hash, sizeof hash);
    sqlite3_reset(st);

    int changes = 0;
    if (!(st = sq_prepare(c, del)))
        return FG_EDB;
    sqlite3_bind_int64(st, 1, cut);
    enum fg_err e = sq_step_done(c, st, "audit retention", &changes);
    if (e != FG_OK)
        return e;
    if (!(st = sq_prepare(c, base)))
        return FG_EDB;
    sqlite3_bind_int64(st, 1, cut);
    sqlite3_bind_text(st, 2, hash, -1, SQLITE_TRANSIENT);
    if ((e = sq_step_done(c, st, "audit retention base", NULL)) != FG_OK)
        return e;
    *n = changes;
    *base_seq = cut;
    memcpy(base_hash, hash, sizeof hash);
    return FG_OK;
}

const struct store_retention_ops sqlite_retention_ops = {
    .capsules = purge_capsules,
    .audit = purge_audit,
};
