/*
 * SQLite: hash-chained audit log and event outbox (store/audit.h, migrations/030_audit_outbox.sql).
 *
 * Appends are serialised by SQLite's write lock: the caller's BEGIN IMMEDIATE (or ours, when the
 * connection has no transaction open) is held from reading the chain head to moving it, so two
 * writers — threads or processes — can never take the same seq or chain onto the same hash.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store/audit.h"
#include "store/sqlite/sqlite_int.h"
#include "util/buf.h"

#define AUDIT_SQL_MAX 4096

/* Begins a write transaction unless one is open; *own tells the caller to finish it. */
static enum fg_err tx_enter(struct store_conn *c, int *own)
{
    *own = 0;
    if (c->in_tx)
        return FG_OK;
    enum fg_err e = sq_tx_begin(c);
    *own = e == FG_OK;
    return e;
}

static enum fg_err tx_leave(struct store_conn *c, int own, enum fg_err e)
{
    if (!own)
        return e;
    if (e != FG_OK) {
        sq_tx_rollback(c);
        return e;
    }
    return sq_tx_commit(c);
}

static enum fg_err read_chain(struct store_conn *c, struct store_audit_chain *ch)
{
    static const char sql[] =
        "SELECT base_seq, base_hash, head_seq, head_hash FROM audit_chain WHERE id = 1";
    sqlite3_stmt *st = sq_prepare(c, sql);
    if (!st)
        return FG_EDB;
    int rc = sqlite3_step(st);
    enum fg_err e = FG_OK;
    if (rc == SQLITE_ROW) {
        ch->base_seq = sqlite3_column_int64(st, 0);
        snprintf(ch->base_hash, sizeof ch->base_hash, "%s",
                 (const char *)sqlite3_column_text(st, 1));
        ch->head_seq = sqlite3_column_int64(st, 2);
        snprintf(ch->head_hash, sizeof ch->head_hash, "%s",
                 (const char *)sqlite3_column_text(st, 3));
    } else {
        e = sq_err(c, rc == SQLITE_DONE ? SQLITE_CORRUPT : rc, "audit chain");
    }
    sqlite3_reset(st);
    return e;
}

static enum fg_err audit_append(struct store_conn *c, const struct store_audit_row *in,
                                store_audit_seal_fn seal, long long *seq_out)
{
    static const char ins[] =
        "INSERT INTO audit_log (seq, id, at, actor_id, action, resource_type, resource_id, "
        "client_ip, correlation_id, outcome, details, prev_hash, hash) "
        "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13)";
    static const char head[] = "UPDATE audit_chain SET head_seq = ?1, head_hash = ?2 WHERE id = 1";
    int own;
    enum fg_err e = tx_enter(c, &own);
    if (e != FG_OK)
        return e;
    struct store_audit_chain ch;
    if ((e = read_chain(c, &ch)) != FG_OK)
        goto out;
    struct store_audit_row row = *in;
    char hash[STORE_HASH_HEX + 1];
    row.seq = ch.head_seq + 1;
    row.prev_hash = ch.head_hash;
    if (!row.details)
        row.details = "{}";
    seal(&row, hash);
    row.hash = hash;
    sqlite3_stmt *st = sq_prepare(c, ins);
    if (!st) {
        e = FG_EDB;
        goto out;
    }
    sqlite3_bind_int64(st, 1, row.seq);
    sqlite3_bind_text(st, 2, row.id, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 3, row.at);
    sq_bind_text(st, 4, row.actor_id);
    sqlite3_bind_text(st, 5, row.action, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 6, row.resource_type, -1, SQLITE_STATIC);
    sq_bind_text(st, 7, row.resource_id);
    sq_bind_text(st, 8, row.client_ip);
    sq_bind_text(st, 9, row.correlation_id);
    sqlite3_bind_text(st, 10, row.outcome, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 11, row.details, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 12, row.prev_hash, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 13, row.hash, -1, SQLITE_STATIC);
    if ((e = sq_step_done(c, st, "audit insert", NULL)) != FG_OK)
        goto out;
    if (!(st = sq_prepare(c, head))) {
        e = FG_EDB;
        goto out;
    }
    sqlite3_bind_int64(st, 1, row.seq);
    sqlite3_bind_text(st, 2, hash, -1, SQLITE_STATIC);
    if ((e = sq_step_done(c, st, "audit head", NULL)) != FG_OK)
        goto out;
    if (seq_out)
        *seq_out = row.seq;
out:
    return tx_leave(c, own, e);
}

#define AUDIT_COLS                                                                                 \
    "seq, id, at, actor_id, action, resource_type, resource_id, client_ip, correlation_id, "       \
    "outcome, details, prev_hash, hash"

static void audit_row_read(sqlite3_stmt *st, struct store_audit_row *r)
{
    r->seq = sqlite3_column_int64(st, 0);
    r->id = (const char *)sqlite3_column_text(st, 1);
    r->at = sqlite3_column_int64(st, 2);
    r->actor_id = (const char *)sqlite3_column_text(st, 3);
    r->action = (const char *)sqlite3_column_text(st, 4);
    r->resource_type = (const char *)sqlite3_column_text(st, 5);
    r->resource_id = (const char *)sqlite3_column_text(st, 6);
    r->client_ip = (const char *)sqlite3_column_text(st, 7);
    r->correlation_id = (const char *)sqlite3_column_text(st, 8);
    r->outcome = (const char *)sqlite3_column_text(st, 9);
    r->details = (const char *)sqlite3_column_text(st, 10);
    r->prev_hash = (const char *)sqlite3_column_text(st, 11);
    r->hash = (const char *)sqlite3_column_text(st, 12);
    /* NOT NULL columns edited to NULL by hand must not crash the verifier */
    if (!r->id)
        r->id = "";
    if (!r->action)
        r->action = "";
    if (!r->resource_type)
        r->resource_type = "";
    if (!r->outcome)
        r->outcome = "";
    if (!r->details)
        r->details = "";
    if (!r->prev_hash)
        r->prev_hash = "";
    if (!r->hash)
        r->hash = "";
}

static void audit_where(struct fg_buf *b, const struct store_audit_filter *f)
{
    fg_buf_puts(b, " WHERE 1");
    if (f->actor_id)
        fg_buf_puts(b, " AND actor_id = ?1");
    if (f->action)
        fg_buf_puts(b, " AND action = ?2");
    if (f->resource_type)
        fg_buf_puts(b, " AND resource_type = ?3");
    if (f->resource_id)
        fg_buf_puts(b, " AND resource_id = ?4");
    if (f->since)
        fg_buf_puts(b, " AND at >= ?5");
    if (f->until)
        fg_buf_puts(b, " AND at <= ?6");
}

static void audit_bind(sqlite3_stmt *st, const struct store_audit_filter *f)
{
    if (f->actor_id)
        sqlite3_bind_text(st, 1, f->actor_id, -1, SQLITE_STATIC);
    if (f->action)
        sqlite3_bind_text(st, 2, f->action, -1, SQLITE_STATIC);
    if (f->resource_type)
        sqlite3_bind_text(st, 3, f->resource_type, -1, SQLITE_STATIC);
    if (f->resource_id)
        sqlite3_bind_text(st, 4, f->resource_id, -1, SQLITE_STATIC);
    if (f->since)
        sqlite3_bind_int64(st, 5, f->since);
    if (f->until)
        sqlite3_bind_int64(st, 6, f->until);
}

static enum fg_err audit_list(struct store_conn *c, const struct store_audit_filter *f,
                              long long offset, long long limit, store_audit_cb cb, void *ctx,
                              long long *total)
{
    struct fg_buf where, sql;
    fg_buf_init(&where, AUDIT_SQL_MAX);
    fg_buf_init(&sql, AUDIT_SQL_MAX);
    audit_where(&where, f);
    sqlite3_stmt *st = NULL;
    enum fg_err e = FG_OK;
    int rc;
    /* Both statements read one snapshot, so total and page agree. */
    rc = sqlite3_exec(c->db, c->in_tx ? "SAVEPOINT audit_list" : "BEGIN", NULL, NULL, NULL);
    if (rc != SQLITE_OK) {
        e = sq_err(c, rc, "audit list begin");
        goto out_nt;
    }
    fg_buf_printf(&sql, "SELECT count(*) FROM audit_log%s", where.p);
    rc = sqlite3_prepare_v2(c->db, sql.p, -1, &st, NULL);
    if (rc != SQLITE_OK) {
        e = sq_err(c, rc, "audit count");
        goto out;
    }
    audit_bind(st, f);
    rc = sqlite3_step(st);
    if (rc != SQLITE_ROW) {
        e = sq_err(c, rc, "audit count");
        goto out;
    }
    *total = sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    st = NULL;
    if (*total <= offset || limit <= 0)
        goto out;
    fg_buf_reset(&sql);
    fg_buf_printf(&sql,
                  "SELECT " AUDIT_COLS " FROM audit_log%s ORDER BY seq DESC "
                  "LIMIT ?7 OFFSET ?8",
                  where.p);
    rc = sqlite3_prepare_v2(c->db, sql.p, -1, &st, NULL);
    if (rc != SQLITE_OK) {
        e = sq_err(c, rc, "audit list");
        goto out;
    }
    audit_bind(st, f);
    sqlite3_bind_int64(st, 7, limit);
    sqlite3_bind_int64(st, 8, offset);
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        struct store_audit_row r;
        audit_row_read(st, &r);
        if (cb(&r, ctx))
            break;
    }
    if (rc != SQLITE_ROW && rc != SQLITE_DONE)
        e = sq_err(c, rc, "audit list");
out:
    sqlite3_finalize(st);
    sqlite3_exec(c->db, c->in_tx ? "RELEASE audit_list" : "COMMIT", NULL, NULL, NULL);
out_nt:
    fg_buf_free(&where);
    fg_buf_free(&sql);
    return e;
}

static enum fg_err audit_scan(struct store_conn *c, struct store_audit_chain *chain,
                              store_audit_cb cb, void *ctx)
{
    static const char sql[] = "SELECT " AUDIT_COLS " FROM audit_log ORDER BY seq";
    int own = !c->in_tx;
    /* A read transaction: the chain ends and the rows come from the same snapshot. */
    if (own) {
        int rc = sqlite3_exec(c->db, "BEGIN", NULL, NULL, NULL);
        if (rc != SQLITE_OK)
            return sq_err(c, rc, "audit scan begin");
    }
    enum fg_err e = read_chain(c, chain);
    sqlite3_stmt *st = e == FG_OK ? sq_prepare(c, sql) : NULL;
    if (e == FG_OK && !st)
        e = FG_EDB;
    if (st) {
        int rc;
        while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
            struct store_audit_row r;
            audit_row_read(st, &r);
            if (cb(&r, ctx))
                break;
        }
        if (rc != SQLITE_ROW && rc != SQLITE_DONE)
            e = sq_err(c, rc, "audit scan");
        sqlite3_reset(st);
    }
    if (own)
        sqlite3_exec(c->db, "COMMIT", NULL, NULL, NULL);
    return e;
}

/* ---- outbox ---------------------------------------------------------------------------- */

static enum fg_err outbox_add(struct store_conn *c, const struct store_outbox_event *ev)
{
    static const char sql[] = "INSERT INTO outbox (id, type, resource_id, payload, created_at) "
                              "VALUES (?1, ?2, ?3, ?4, ?5)";
    sqlite3_stmt *st = sq_prepare(c, sql);
    if (!st)
        return FG_EDB;
    sqlite3_bind_text(st, 1, ev->id, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, ev->type, -1, SQLITE_STATIC);
    sq_bind_text(st, 3, ev->resource_id);
    sqlite3_bind_text(st, 4, ev->payload ? ev->payload : "{}", -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 5, ev->created_at);
    /* A single INSERT is atomic on its own: no transaction needed when none is open. */
    return sq_step_done(c, st, "outbox insert", NULL);
}

static enum fg_err outbox_pending(struct store_conn *c, long long after_seq, long long limit,
                                  store_outbox_cb cb, void *ctx)
{
    static const char sql[] =
        "SELECT seq, id, type, resource_id, payload, created_at, attempts, last_error "
        "FROM outbox WHERE delivered_at IS NULL AND seq > ?1 ORDER BY seq LIMIT ?2";
    sqlite3_stmt *st = sq_prepare(c, sql);
    if (!st)
        return FG_EDB;
    sqlite3_bind_int64(st, 1, after_seq);
    sqlite3_bind_int64(st, 2, limit);
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        struct store_outbox_event ev = {
            .seq = sqlite3_column_int64(st, 0),
            .id = (const char *)sqlite3_column_text(st, 1),
            .type = (const char *)sqlite3_column_text(st, 2),
            .resource_id = (const char *)sqlite3_column_text(st, 3),
            .payload = (const char *)sqlite3_column_text(st, 4),
            .created_at = sqlite3_column_int64(st, 5),
            .attempts = sqlite3_column_int(st, 6),
            .last_error = (const char *)sqlite3_column_text(st, 7),
        };
        if (cb(&ev, ctx))
            break;
    }
    enum fg_err e = (rc == SQLITE_ROW || rc == SQLITE_DONE) ? FG_OK : sq_err(c, rc, "outbox");
    sqlite3_reset(st);
    return e;
}

static enum fg_err outbox_mark_delivered(struct store_conn *c, long long seq, int64_t at)
{
    static const char sql[] = "UPDATE outbox SET delivered_at = ?2, attempts = attempts + 1 "
                              "WHERE seq = ?1 AND delivered_at IS NULL";
    sqlite3_stmt *st = sq_prepare(c, sql);
    if (!st)
        return FG_EDB;
    sqlite3_bind_int64(st, 1, seq);
    sqlite3_bind_int64(st, 2, at);
    return sq_step_done(c, st, "outbox delivered", NULL);
}

static enum fg_err outbox_mark_failed(struct store_conn *c, long long seq, const char *error)
{
    static const char sql[] = "UPDATE outbox SET attempts = attempts + 1, last_error = ?2 "
                              "WHERE seq = ?1";
    sqlite3_stmt *st = sq_prepare(c, sql);
    if (!st)
        return FG_EDB;
    sqlite3_bind_int64(st, 1, seq);
    sq_bind_text(st, 2, error);
    return sq_step_done(c, st, "outbox failed", NULL);
}

static enum fg_err outbox_backlog(struct store_conn *c, long long *n)
{
    static const char sql[] = "SELECT count(*) FROM outbox WHERE delivered_at IS NULL";
    sqlite3_stmt *st = sq_prepare(c, sql);
    if (!st)
        return FG_EDB;
    int rc = sqlite3_step(st);
    enum fg_err e = FG_OK;
    if (rc == SQLITE_ROW)
        *n = sqlite3_column_int64(st, 0);
    else
        e = sq_err(c, rc, "outbox backlog");
    sqlite3_reset(st);
    return e;
}

static enum fg_err outbox_purge(struct store_conn *c, int64_t before, long long *n)
{
    static const char sql[] =
        "DELETE FROM outbox WHERE delivered_at IS NOT NULL AND delivered_at < ?1";
    sqlite3_stmt *st = sq_prepare(c, sql);
    if (!st)
        return FG_EDB;
    sqlite3_bind_int64(st, 1, before);
    enum fg_err e = sq_step_done(c, st, "outbox purge", NULL);
    if (e == FG_OK)
        *n = sqlite3_changes(c->db);
    return e;
}

const struct store_audit_ops sqlite_audit_ops = {
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
