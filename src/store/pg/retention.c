/* PostgreSQL retention purges (store/retention.h). Both take the writers' lock first (the order
 * every writer follows), so a purge cannot deadlock with the API's writes. */
#include <stdlib.h>
#include <string.h>

#include "store/pg/pg_int.h"
#include "store/retention.h"

static enum fg_err purge_capsules(struct store_conn *c, int64_t before, long long limit,
                                  long long *n)
{
    /* one statement: pick the leaves, then remove their revisions, edges and rows */
    static const char sql[] =
        "WITH doomed AS (SELECT id FROM capsules c WHERE is_deleted = 1 AND deleted_at < $1 "
        "  AND NOT EXISTS (SELECT 1 FROM capsules ch WHERE ch.parent_id = c.id) "
        "  ORDER BY deleted_at LIMIT $2), "
        "r AS (DELETE FROM capsule_revisions WHERE capsule_id IN (SELECT id FROM doomed)), "
        "e AS (DELETE FROM capsule_edges WHERE child_id IN (SELECT id FROM doomed) "
        "      OR parent_id IN (SELECT id FROM doomed)) "
        "DELETE FROM capsules WHERE id IN (SELECT id FROM doomed)";
    *n = 0;
    struct pg_num b = pg_num(before), l = pg_num(limit);
    const char *p[] = {b.s, l.s};
    return pg_run_locked(c, sql, 2, p, n);
}

static enum fg_err purge_audit(struct store_conn *c, int64_t before, long long limit, long long *n,
                               long long *base_seq, char *base_hash)
{
    static const char pick[] =
        "SELECT seq, hash FROM audit_log WHERE seq = (SELECT max(seq) FROM "
        "(SELECT seq, at FROM audit_log ORDER BY seq LIMIT $2) o WHERE at < $1)";
    static const char del[] = "DELETE FROM audit_log WHERE seq <= $1";
    static const char base[] =
        "UPDATE audit_chain SET base_seq = $1, base_hash = $2 WHERE id = 1 AND base_seq < $1";
    *n = 0;
    enum fg_err e = pg_tx_write_lock(c);
    if (e != FG_OK)
        return e;
    struct pg_num b = pg_num(before), l = pg_num(limit);
    const char *p[] = {b.s, l.s};
    PGresult *r = pg_exec(c, pick, 2, p, &e);
    if (!r)
        return e;
    if (PQntuples(r) == 0) {
        PQclear(r);
        return FG_OK;
    }
    long long cut = pg_get_i64(r, 0, 0);
    char hash[65];
    pg_get_text(r, 0, 1, hash, sizeof hash);
    PQclear(r);
    struct pg_num cs = pg_num(cut);
    const char *pd[] = {cs.s};
    long long removed = 0;
    if ((e = pg_run(c, del, 1, pd, &removed)) != FG_OK)
        return e;
    const char *pb[] = {cs.s, hash};
    if ((e = pg_run(c, base, 2, pb, NULL)) != FG_OK)
        return e;
    *n = removed;
    *base_seq = cut;
    memcpy(base_hash, hash, sizeof hash);
    return FG_OK;
}

const struct store_retention_ops pg_retention_ops = {
    .capsules = purge_capsules,
    .audit = purge_audit,
};
