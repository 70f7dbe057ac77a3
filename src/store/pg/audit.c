/*
 * PostgreSQL: hash-chained audit log and event outbox (store/audit.h,
 * migrations/030_audit_outbox.sql).
 *
 * Appends are serialised by forge_write_lock() (a transaction-scoped advisory lock, migration
 * 020), taken before the chain head is read and held until the caller's transaction (or ours,
 * when the connection has none open) ends: two writers — threads or replicas — can never take
 * the same seq or chain onto the same hash. The outbox takes the same lock before drawing a seq,
 * so outbox seq order is commit order. Listing and verification read one snapshot (REPEATABLE
 * READ) when the caller has no transaction open.
 */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store/audit.h"
#include "store/pg/pg_int.h"
#include "util/buf.h"

#define AUDIT_SQL_MAX    4096
#define AUDIT_SCAN_BATCH 1000 /* rows per page of a verification scan */

/* Begins a transaction (`begin_sql`) unless one is open; *own tells the caller to finish it. */
static enum fg_err tx_enter(struct store_conn *c, const char *begin_sql, int *own)
{
    *own = 0;
    if (pg_conn_of(c)->in_tx)
        return FG_OK;
    enum fg_err e = pg_run(c, begin_sql, 0, NULL, NULL);
    if (e != FG_OK)
        return e;
    pg_conn_of(c)->in_tx = 1;
    *own = 1;
    return FG_OK;
}

static enum fg_err tx_leave(struct store_conn *c, int own, enum fg_err e)
{
    if (!own)
        return e;
    enum fg_err ce = pg_run(c, e == FG_OK ? "COMMIT" : "ROLLBACK", 0, NULL, NULL);
    if (e == FG_OK && ce != FG_OK) {
        e = ce;
        pg_run(c, "ROLLBACK", 0, NULL, NULL);
    }
    pg_conn_of(c)->in_tx = 0;
    return e;
}

static enum fg_err read_chain(struct store_conn *c, struct store_audit_chain *ch, int for_update)
{
    static const char sql[] =
        "SELECT base_seq, base_hash, head_seq, head_hash FROM audit_chain WHERE id = 1";
    static const char sql_upd[] = "SELECT base_seq, base_hash, head_seq, head_hash FROM "
                                  "audit_chain WHERE id = 1 FOR UPDATE";
    enum fg_err e;
    PGresult *r = pg_exec(c, for_update ? sql_upd : sql, 0, NULL, &e);
    if (!r)
        return e;
    if (PQntuples(r) == 1) {
        ch->base_seq = pg_get_i64(r, 0, 0);
        pg_get_text(r, 0, 1, ch->base_hash, sizeof ch->base_hash);
        ch->head_seq = pg_get_i64(r, 0, 2);
        pg_get_text(r, 0, 3, ch->head_hash, sizeof ch->head_hash);
    } else {
        e = FG_EDB; /* the chain row is gone: the store is damaged */
    }
    PQclear(r);
    return e;
}

static enum fg_err audit_append(struct store_conn *c, const struct store_audit_row *in,
                                store_audit_seal_fn seal, long long *seq_out)
{
    static const char ins[] =
        "INSERT INTO audit_log (seq, id, at, actor_id, action, resource_type, resource_id, "
        "client_ip, correlation_id, outcome, details, prev_hash, hash) "
        "VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)";
    static const char head[] = "UPDATE audit_chain SET head_seq = $1, head_hash = $2 WHERE id = 1";
    int own;
    enum fg_err e = tx_enter(c, "BEGIN", &own);
    if (e != FG_OK)
        return e;
    struct store_audit_chain ch;
    if ((e = pg_write_lock(c)) != FG_OK || (e = read_chain(c, &ch, 1)) != FG_OK)
        goto out;
    struct store_audit_row row = *in;
    char hash[STORE_HASH_HEX + 1];
    row.seq = ch.head_seq + 1;
    row.prev_hash = ch.head_hash;
    if (!row.details)
        row.details = "{}";
    seal(&row, hash);
    row.hash = hash;
    struct pg_num seq = pg_num(row.seq), at = pg_num(row.at);
    const char *p[] = {seq.s,           row.id,        at.s,
                       row.actor_id,    row.action,    row.resource_type,
                       row.resource_id, row.client_ip, row.correlation_id,
                       row.outcome,     row.details,   row.prev_hash,
                       row.hash};
    if ((e = pg_run(c, ins, 13, p, NULL)) != FG_OK)
        goto out;
    const char *ph[] = {seq.s, hash};
    if ((e = pg_run(c, head, 2, ph, NULL)) != FG_OK)
        goto out;
    if (seq_out)
        *seq_out = row.seq;
out:
    return tx_leave(c, own, e);
}

#define AUDIT_COLS                                                                                 \
    "seq, id, at, actor_id, action, resource_type, resource_id, client_ip, correlation_id, "       \
    "outcome, details, prev_hash, hash"

static const char *nn(const char *s)
{
    return s ? s : "";
}

static void audit_row_read(const PGresult *r, int i, struct store_audit_row *row)
{
    row->seq = pg_get_i64(r, i, 0);
    row->id = nn(pg_get_opt(r, i, 1));
    row->at = pg_get_i64(r, i, 2);
    row->actor_id = pg_get_opt(r, i, 3);
    row->action = nn(pg_get_opt(r, i, 4));
    row->resource_type = nn(pg_get_opt(r, i, 5));
    row->resource_id = pg_get_opt(r, i, 6);
    row->client_ip = pg_get_opt(r, i, 7);
    row->correlation_id = pg_get_opt(r, i, 8);
    row->outcome = nn(pg_get_opt(r, i, 9));
    row->details = nn(pg_get_opt(r, i, 10));
    row->prev_hash = nn(pg_get_opt(r, i, 11));
    row->hash = nn(pg_get_opt(r, i, 12));
}

struct audit_params {
    const char *p[8];
    int n;
    struct pg_num since, until, limit, offset;
};

static void audit_where(struct fg_buf *b, const struct store_audit_filter *f,
                        struct audit_params *ap)
{
    ap->n = 0;
    fg_buf_puts(b, " WHERE TRUE");
    if (f->actor_id) {
        ap->p[ap->n++] = f->actor_id;
        fg_buf_printf(b, " AND actor_id = $%d", ap->n);
    }
    if (f->action) {
        ap->p[ap->n++] = f->action;
        fg_buf_printf(b, " AND action = $%d", ap->n);
    }
    if (f->resource_type) {
        ap->p[ap->n++] = f->resource_type;
        fg_buf_printf(b, " AND resource_type = $%d", ap->n);
    }
    if (f->resource_id) {
        ap->p[ap->n++] = f->resource_id;
        fg_buf_printf(b, " AND resource_id = $%d", ap->n);
    }
    if (f->since) {
        ap->since = pg_num(f->since);
        ap->p[ap->n++] = ap->since.s;
        fg_buf_printf(b, " AND at >= $%d", ap->n);
    }
    if (f->until) {
        ap->until = pg_num(f->until);
        ap->p[ap->n++] = ap->until.s;
        fg_buf_printf(b, " AND at <= $%d", ap->n);
    }
}

static enum fg_err audit_list(struct store_conn *c, const struct store_audit_filter *f,
                              long long offset, long long limit, store_audit_cb cb, void *ctx,
                              long long *total)
{
    struct fg_buf where, sql;
    struct audit_params ap;
    PGresult *r = NULL;
    int own;
    fg_buf_init(&where, AUDIT_SQL_MAX);
    fg_buf_init(&sql, AUDIT_SQL_MAX);
    audit_where(&where, f, &ap);
    /* Both statements read one snapshot, so total and page agree. */
    enum fg_err e = tx_enter(c, "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY", &own);
    if (e != FG_OK)
        goto out_nt;
    fg_buf_printf(&sql, "SELECT count(*) FROM audit_log%s", where.p);
    if (!(r = pg_exec(c, sql.p, ap.n, ap.p, &e)))
        goto out;
    *total = pg_get_i64(r, 0, 0);
    PQclear(r);
    r = NULL;
    if (*total <= offset || limit <= 0)
        goto out;
    ap.limit = pg_num(limit);
    ap.offset = pg_num(offset);
    ap.p[ap.n++] = ap.limit.s;
    ap.p[ap.n++] = ap.offset.s;
    fg_buf_reset(&sql);
    fg_buf_printf(&sql,
                  "SELECT " AUDIT_COLS " FROM audit_log%s ORDER BY seq DESC "
                  "LIMIT $%d OFFSET $%d",
                  where.p, ap.n - 1, ap.n);
    if (!(r = pg_exec(c, sql.p, ap.n, ap.p, &e)))
        goto out;
    for (int i = 0; i < PQntuples(r); i++) {
        struct store_audit_row row;
        audit_row_read(r, i, &row);
        if (cb(&row, ctx))
            break;
    }
out:
    PQclear(r);
    /* read-only: ending it cannot lose anything */
    e = tx_leave(c, own, e);
out_nt:
    fg_buf_free(&where);
    fg_buf_free(&sql);
    return e;
}

static enum fg_err audit_scan(struct store_conn *c, struct store_audit_chain *chain,
                              store_audit_cb cb, void *ctx)
{
    static const char sql[] =
        "SELECT " AUDIT_COLS " FROM audit_log WHERE seq > $1 ORDER BY seq LIMIT $2";
    int own;
    /* The chain ends and the rows come from the same snapshot; rows are read in pages. */
    enum fg_err e = tx_enter(c, "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY", &own);
    if (e != FG_OK)
        return e;
    if ((e = read_chain(c, chain, 0)) != FG_OK)
        goto out;
    long long after = LLONG_MIN; /* seq may be anything after hand edits */
    int stop = 0, more = 1;
    struct pg_num lim = pg_num(AUDIT_SCAN_BATCH);
    while (more && !stop) {
        struct pg_num a = pg_num(after);
        const char *p[] = {a.s, lim.s};
        PGresult *r = pg_exec(c, sql, 2, p, &e);
        if (!r)
            break;
        int n = PQntuples(r);
        more = n == AUDIT_SCAN_BATCH;
        for (int i = 0; i < n && !stop; i++) {
            struct store_audit_row row;
            audit_row_read(r, i, &row);
            after = row.seq;
            stop = cb(&row, ctx);
        }
        PQclear(r);
    }
out:
    return tx_leave(c, own, e);
}

/* ---- outbox ---------------------------------------------------------------------------- */

static enum fg_err outbox_add(struct store_conn *c, const struct store_outbox_event *ev)
{
    static const char sql[] = "INSERT INTO outbox (id, type, resource_id, payload, created_at) "
                              "VALUES ($1, $2, $3, $4, $5)";
    struct pg_num at = pg_num(ev->created_at);
    const char *p[] = {ev->id, ev->type, ev->resource_id, ev->payload ? ev->payload : "{}", at.s};
    int own;
    /* The lock must be held until commit for seq order to be commit order: so a transaction
     * even for this single statement. */
    enum fg_err e = tx_enter(c, "BEGIN", &own);
    if (e != FG_OK)
        return e;
    if ((e = pg_write_lock(c)) == FG_OK)
        e = pg_run(c, sql, 5, p, NULL);
    return tx_leave(c, own, e);
}

static enum fg_err outbox_pending(struct store_conn *c, long long after_seq, long long limit,
                                  store_outbox_cb cb, void *ctx)
{
    static const char sql[] =
        "SELECT seq, id, type, resource_id, payload, created_at, attempts, last_error "
        "FROM outbox WHERE delivered_at IS NULL AND seq > $1 ORDER BY seq LIMIT $2";
    struct pg_num a = pg_num(after_seq), l = pg_num(limit);
    const char *p[] = {a.s, l.s};
    enum fg_err e;
    PGresult *r = pg_exec(c, sql, 2, p, &e);
    if (!r)
        return e;
    for (int i = 0; i < PQntuples(r); i++) {
        struct store_outbox_event ev = {
            .seq = pg_get_i64(r, i, 0),
            .id = nn(pg_get_opt(r, i, 1)),
            .type = nn(pg_get_opt(r, i, 2)),
            .resource_id = pg_get_opt(r, i, 3),
            .payload = nn(pg_get_opt(r, i, 4)),
            .created_at = pg_get_i64(r, i, 5),
            .attempts = (int)pg_get_i64(r, i, 6),
            .last_error = pg_get_opt(r, i, 7),
        };
        if (cb(&ev, ctx))
            break;
    }
    PQclear(r);
    return FG_OK;
}

static enum fg_err outbox_mark_delivered(struct store_conn *c, long long seq, int64_t at)
{
    static const char sql[] = "UPDATE outbox SET delivered_at = $2, attempts = attempts + 1 "
                              "WHERE seq = $1 AND delivered_at IS NULL";
    struct pg_num s = pg_num(seq), a = pg_num(at);
    const char *p[] = {s.s, a.s};
    return pg_run(c, sql, 2, p, NULL);
}

static enum fg_err outbox_mark_failed(struct store_conn *c, long long seq, const char *error)
{
    static const char sql[] = "UPDATE outbox SET attempts = attempts + 1, last_error = $2 "
                              "WHERE seq = $1";
    struct pg_num s = pg_num(seq);
    const char *p[] = {s.s, error};
    return pg_run(c, sql, 2, p, NULL);
}

static enum fg_err outbox_backlog(struct store_conn *c, long long *n)
{
    static const char sql[] = "SELECT count(*) FROM outbox WHERE delivered_at IS NULL";
    enum fg_err e;
    PGresult *r = pg_exec(c, sql, 0, NULL, &e);
    if (r)
        *n = pg_get_i64(r, 0, 0);
    PQclear(r);
    return e;
}

static enum fg_err outbox_purge(struct store_conn *c, int64_t before, long long *n)
{
    static const char sql[] =
        "DELETE FROM outbox WHERE delivered_at IS NOT NULL AND delivered_at < $1";
    struct pg_num b = pg_num(before);
    const char *p[] = {b.s};
    enum fg_err e;
    PGresult *r = pg_exec(c, sql, 1, p, &e);
    *n = r ? pg_changes(r) : 0;
    PQclear(r);
    return e;
}

const struct store_audit_ops pg_audit_ops = {
    .append = audit_append,
    .list = audit_list,
    .scan = audit_scan,
    .outbox_add = outbox_add,
    .outbox_pending = outbox_pending,
    .outbox_mark_delivered = outbox_mark_delivered,
    .outbox_mark_failed = outbox_mark_failed,
    .outbox_backlog = outbox_backlog,
    .outbox_purge = outbox_purge,
};
