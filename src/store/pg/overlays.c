/* PostgreSQL implementation of store/overlays.h; mirrors store/sqlite/overlays.c. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store/overlays.h"
#include "store/pg/pg_int.h"
#include "util/mem.h"

#define OV_COLS                                                                                    \
    "id, name, version, status, trust_level, manifest::text, sha256, coalesce(owner_id, ''), "     \
    "created_at, updated_at, invocations, failures, total_ms, coalesce(last_error, ''), "          \
    "window_start, window_invocations, window_failures"

static void row_overlay(const PGresult *r, int i, struct store_overlay *o)
{
    memset(o, 0, sizeof *o);
    pg_get_text(r, i, 0, o->id, sizeof o->id);
    pg_get_text(r, i, 1, o->name, sizeof o->name);
    pg_get_text(r, i, 2, o->version, sizeof o->version);
    pg_get_text(r, i, 3, o->status, sizeof o->status);
    o->trust_level = (int)pg_get_i64(r, i, 4);
    o->manifest = fg_xstrdup(PQgetisnull(r, i, 5) ? "{}" : PQgetvalue(r, i, 5));
    pg_get_text(r, i, 6, o->sha256, sizeof o->sha256);
    pg_get_text(r, i, 7, o->owner_id, sizeof o->owner_id);
    o->created_at = pg_get_i64(r, i, 8);
    o->updated_at = pg_get_i64(r, i, 9);
    o->invocations = pg_get_i64(r, i, 10);
    o->failures = pg_get_i64(r, i, 11);
    o->total_ms = strtod(PQgetvalue(r, i, 12), NULL);
    pg_get_text(r, i, 13, o->last_error, sizeof o->last_error);
    o->window_start = pg_get_i64(r, i, 14);
    o->window_invocations = pg_get_i64(r, i, 15);
    o->window_failures = pg_get_i64(r, i, 16);
}

static enum fg_err ov_insert(struct store_conn *c, const struct store_overlay *o)
{
    static const char sql[] =
        "INSERT INTO overlays (id, name, version, status, trust_level, manifest, source, sha256, "
        "owner_id, created_at, updated_at) VALUES ($1, $2, $3, $4, $5::integer, $6::jsonb, $7, "
        "$8, $9, $10::bigint, $11::bigint)";
    struct pg_num t = pg_num(o->trust_level), ca = pg_num(o->created_at),
                  ua = pg_num(o->updated_at);
    const char *p[] = {o->id,     o->name,   o->version,
                       o->status, t.s,       o->manifest,
                       o->source, o->sha256, o->owner_id[0] ? o->owner_id : NULL,
                       ca.s,      ua.s};
    return pg_run_locked(c, sql, 11, p, NULL);
}

static enum fg_err ov_get(struct store_conn *c, const char *id, int with_source,
                          struct store_overlay *out)
{
    static const char sql[] = "SELECT " OV_COLS ", source FROM overlays WHERE id = $1";
    const char *p[] = {id};
    enum fg_err e;
    PGresult *r = pg_exec(c, sql, 1, p, &e);
    if (!r)
        return e;
    if (PQntuples(r) == 0) {
        PQclear(r);
        return FG_ENOTFOUND;
    }
    row_overlay(r, 0, out);
    if (with_source)
        out->source = fg_xstrdup(PQgetvalue(r, 0, 17));
    PQclear(r);
    return FG_OK;
}

static enum fg_err ov_list(struct store_conn *c, const char *name, const char *status,
                           long long offset, long long limit, store_overlay_cb cb, void *ctx,
                           long long *total)
{
#define WHERE                                                                                      \
    " WHERE ($1::text IS NULL OR name = $1::text) AND ($2::text IS NULL OR status = $2::text)"
    static const char count_sql[] = "SELECT count(*) FROM overlays" WHERE;
    static const char sql[] =
        "SELECT " OV_COLS " FROM overlays" WHERE
        " ORDER BY created_at DESC, id DESC LIMIT $3::bigint OFFSET $4::bigint";
#undef WHERE
    struct pg_num l = pg_num(limit), o = pg_num(offset < 0 ? 0 : offset);
    const char *p[] = {name, status, l.s, o.s};
    enum fg_err e;
    PGresult *r = pg_exec(c, count_sql, 2, p, &e);
    if (!r)
        return e;
    *total = pg_get_i64(r, 0, 0);
    PQclear(r);
    r = pg_exec(c, sql, 4, p, &e);
    if (!r)
        return e;
    for (int i = 0; i < PQntuples(r); i++) {
        struct store_overlay ov;
        row_overlay(r, i, &ov);
        int stop = cb(&ov, ctx);
        store_overlay_clear(&ov);
        if (stop)
            break;
    }
    PQclear(r);
    return FG_OK;
}

static enum fg_err ov_set_status(struct store_conn *c, const char *id, const char *from,
                                 const char *status, int64_t now, int *changed)
{
    static const char sql[] =
        "UPDATE overlays SET status = $1, updated_at = $2::bigint WHERE id = $3 AND "
        "($4::text IS NULL OR status = ANY (string_to_array($4::text, '|')))";
    struct pg_num n = pg_num(now);
    const char *p[] = {status, n.s, id, from};
    long long ch = 0;
    enum fg_err e = pg_run_locked(c, sql, 4, p, &ch);
    if (changed)
        *changed = ch > 0;
    return e;
}

static enum fg_err ov_set_trust(struct store_conn *c, const char *id, int trust, int64_t now)
{
    static const char sql[] =
        "UPDATE overlays SET trust_level = $1::integer, updated_at = $2::bigint WHERE id = $3";
    struct pg_num t = pg_num(trust), n = pg_num(now);
    const char *p[] = {t.s, n.s, id};
    long long ch = 0;
    enum fg_err e = pg_run_locked(c, sql, 3, p, &ch);
    return e == FG_OK && ch == 0 ? FG_ENOTFOUND : e;
}

static enum fg_err ov_record(struct store_conn *c, const char *id, int failed, double ms,
                             const char *error, int64_t now, int64_t window_ms, long long *win_inv,
                             long long *win_fail)
{
    static const char sql[] =
        "UPDATE overlays SET invocations = invocations + 1, failures = failures + $1::bigint, "
        "total_ms = total_ms + $2::double precision, last_error = coalesce($3, last_error), "
        "window_invocations = CASE WHEN window_start <= $4::bigint - $5::bigint THEN 1 "
        "ELSE window_invocations + 1 END, "
        "window_failures = CASE WHEN window_start <= $4::bigint - $5::bigint THEN $1::bigint "
        "ELSE window_failures + $1::bigint END, "
        "window_start = CASE WHEN window_start <= $4::bigint - $5::bigint THEN $4::bigint "
        "ELSE window_start END "
        "WHERE id = $6 RETURNING window_invocations, window_failures";
    char msbuf[40];
    snprintf(msbuf, sizeof msbuf, "%.6f", ms);
    struct pg_num f = pg_num(failed ? 1 : 0), n = pg_num(now), w = pg_num(window_ms);
    const char *p[] = {f.s, msbuf, failed ? error : NULL, n.s, w.s, id};
    enum fg_err e = pg_tx_write_lock(c);
    if (e != FG_OK)
        return e;
    PGresult *r = pg_exec(c, sql, 6, p, &e);
    if (!r)
        return e;
    if (PQntuples(r) == 0) {
        PQclear(r);
        return FG_ENOTFOUND;
    }
    *win_inv = pg_get_i64(r, 0, 0);
    *win_fail = pg_get_i64(r, 0, 1);
    PQclear(r);
    return FG_OK;
}

static enum fg_err ov_active(struct store_conn *c, store_overlay_cb cb, void *ctx)
{
    static const char sql[] =
        "SELECT " OV_COLS ", source FROM overlays WHERE status = 'active' ORDER BY name, id";
    enum fg_err e;
    PGresult *r = pg_exec(c, sql, 0, NULL, &e);
    if (!r)
        return e;
    for (int i = 0; i < PQntuples(r); i++) {
        struct store_overlay ov;
        row_overlay(r, i, &ov);
        ov.source = fg_xstrdup(PQgetvalue(r, i, 17));
        int stop = cb(&ov, ctx);
        store_overlay_clear(&ov);
        if (stop)
            break;
    }
    PQclear(r);
    return FG_OK;
}

static enum fg_err ov_hook_lease(struct store_conn *c, const char *holder, int64_t now,
                                 int64_t ttl_ms, int *got, long long *last_seq)
{
    /* one statement: the row lock serialises replicas; the loser re-evaluates the WHERE */
    static const char upd[] =
        "UPDATE overlay_hook_state SET holder = $1, lease_until = $2::bigint + $3::bigint "
        "WHERE id = 1 AND (holder IS NULL OR holder = $1 OR lease_until < $2::bigint)";
    static const char sel[] = "SELECT last_seq FROM overlay_hook_state WHERE id = 1";
    struct pg_num n = pg_num(now), t = pg_num(ttl_ms);
    const char *p[] = {holder, n.s, t.s};
    long long ch = 0;
    enum fg_err e = pg_run(c, upd, 3, p, &ch);
    if (e != FG_OK)
        return e;
    *got = ch > 0;
    PGresult *r = pg_exec(c, sel, 0, NULL, &e);
    if (!r)
        return e;
    *last_seq = PQntuples(r) ? pg_get_i64(r, 0, 0) : 0;
    PQclear(r);
    return FG_OK;
}

static enum fg_err ov_hook_advance(struct store_conn *c, const char *holder, long long seq, int *ok)
{
    static const char sql[] = "UPDATE overlay_hook_state SET last_seq = $1::bigint WHERE id = 1 "
                              "AND holder = $2 AND last_seq < $1::bigint";
    struct pg_num s = pg_num(seq);
    const char *p[] = {s.s, holder};
    long long ch = 0;
    enum fg_err e = pg_run(c, sql, 2, p, &ch);
    *ok = ch > 0;
    return e;
}

static enum fg_err ov_hook_events(struct store_conn *c, long long after, long long limit,
                                  store_hook_event_cb cb, void *ctx)
{
    static const char sql[] = "SELECT seq, id, type, resource_id, payload, created_at FROM outbox "
                              "WHERE seq > $1::bigint ORDER BY seq LIMIT $2::bigint";
    struct pg_num a = pg_num(after), l = pg_num(limit);
    const char *p[] = {a.s, l.s};
    enum fg_err e;
    PGresult *r = pg_exec(c, sql, 2, p, &e);
    if (!r)
        return e;
    for (int i = 0; i < PQntuples(r); i++) {
        struct store_hook_event ev = {
            .seq = pg_get_i64(r, i, 0),
            .id = PQgetvalue(r, i, 1),
            .type = PQgetvalue(r, i, 2),
            .resource_id = pg_get_opt(r, i, 3),
            .payload = PQgetvalue(r, i, 4),
            .created_at = pg_get_i64(r, i, 5),
        };
        if (cb(&ev, ctx))
            break;
    }
    PQclear(r);
    return FG_OK;
}

static enum fg_err ov_log_invocation(struct store_conn *c, const struct store_overlay_invocation *v)
{
    static const char sql[] =
        "INSERT INTO overlay_invocations (id, overlay_id, event_id, event_type, event_seq, "
        "attempt, "
        "outcome, error, elapsed_ms, holder, created_at) VALUES ($1, $2, $3, $4, $5::bigint, "
        "$6::integer, $7, $8, $9::double precision, $10, $11::bigint)";
    struct pg_num seq = pg_num(v->event_seq), at = pg_num(v->attempt), ca = pg_num(v->created_at);
    char ms[40];
    snprintf(ms, sizeof ms, "%.6f", v->elapsed_ms);
    const char *p[] = {v->id, v->overlay_id, v->event_id, v->event_type,
                       seq.s, at.s,          v->outcome,  v->error[0] ? v->error : NULL,
                       ms,    v->holder,     ca.s};
    return pg_run(c, sql, 11, p, NULL);
}

static enum fg_err ov_invocations(struct store_conn *c, const char *overlay_id, long long offset,
                                  long long limit, store_invocation_cb cb, void *ctx,
                                  long long *total)
{
    static const char cnt[] = "SELECT count(*) FROM overlay_invocations WHERE overlay_id = $1";
    static const char sql[] =
        "SELECT id, overlay_id, event_id, event_type, event_seq, attempt, outcome, "
        "coalesce(error, ''), elapsed_ms, holder, created_at FROM overlay_invocations "
        "WHERE overlay_id = $1 ORDER BY created_at DESC, id DESC LIMIT $2::bigint OFFSET "
        "$3::bigint";
    struct pg_num l = pg_num(limit), o = pg_num(offset < 0 ? 0 : offset);
    const char *p[] = {overlay_id, l.s, o.s};
    enum fg_err e;
    PGresult *r = pg_exec(c, cnt, 1, p, &e);
    if (!r)
        return e;
    *total = pg_get_i64(r, 0, 0);
    PQclear(r);
    r = pg_exec(c, sql, 3, p, &e);
    if (!r)
        return e;
    for (int i = 0; i < PQntuples(r); i++) {
        struct store_overlay_invocation v;
        memset(&v, 0, sizeof v);
        pg_get_text(r, i, 0, v.id, sizeof v.id);
        pg_get_text(r, i, 1, v.overlay_id, sizeof v.overlay_id);
        pg_get_text(r, i, 2, v.event_id, sizeof v.event_id);
        pg_get_text(r, i, 3, v.event_type, sizeof v.event_type);
        v.event_seq = pg_get_i64(r, i, 4);
        v.attempt = (int)pg_get_i64(r, i, 5);
        pg_get_text(r, i, 6, v.outcome, sizeof v.outcome);
        pg_get_text(r, i, 7, v.error, sizeof v.error);
        v.elapsed_ms = strtod(PQgetvalue(r, i, 8), NULL);
        pg_get_text(r, i, 9, v.holder, sizeof v.holder);
        v.created_at = pg_get_i64(r, i, 10);
        if (cb(&v, ctx))
            break;
    }
    PQclear(r);
    return FG_OK;
}

const struct store_overlay_ops pg_overlay_ops = {
    .insert = ov_insert,
    .get = ov_get,
    .list = ov_list,
    .set_status = ov_set_status,
    .set_trust = ov_set_trust,
    .record = ov_record,
    .active = ov_active,
    .hook_lease = ov_hook_lease,
    .hook_advance = ov_hook_advance,
    .hook_events = ov_hook_events,
    .log_invocation = ov_log_invocation,
    .invocations = ov_invocations,
};
