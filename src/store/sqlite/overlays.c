/* SQLite implementation of store/overlays.h. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store/overlays.h"
#include "store/sqlite/sqlite_int.h"
#include "util/mem.h"

#define OV_COLS                                                                                    \
    "id, name, version, status, trust_level, manifest, sha256, coalesce(owner_id, ''), "           \
    "created_at, updated_at, invocations, failures, total_ms, coalesce(last_error, ''), "          \
    "window_start, window_invocations, window_failures"

static void row_overlay(sqlite3_stmt *st, struct store_overlay *o)
{
    memset(o, 0, sizeof *o);
    sq_col_text(st, 0, o->id, sizeof o->id);
    sq_col_text(st, 1, o->name, sizeof o->name);
    sq_col_text(st, 2, o->version, sizeof o->version);
    sq_col_text(st, 3, o->status, sizeof o->status);
    o->trust_level = sqlite3_column_int(st, 4);
    const unsigned char *m = sqlite3_column_text(st, 5);
    o->manifest = fg_xstrdup(m ? (const char *)m : "{}");
    sq_col_text(st, 6, o->sha256, sizeof o->sha256);
    sq_col_text(st, 7, o->owner_id, sizeof o->owner_id);
    o->created_at = sqlite3_column_int64(st, 8);
    o->updated_at = sqlite3_column_int64(st, 9);
    o->invocations = sqlite3_column_int64(st, 10);
    o->failures = sqlite3_column_int64(st, 11);
    o->total_ms = sqlite3_column_double(st, 12);
    sq_col_text(st, 13, o->last_error, sizeof o->last_error);
    o->window_start = sqlite3_column_int64(st, 14);
    o->window_invocations = sqlite3_column_int64(st, 15);
    o->window_failures = sqlite3_column_int64(st, 16);
}

static void read_source(sqlite3_stmt *st, int col, struct store_overlay *o)
{
    const unsigned char *s = sqlite3_column_text(st, col);
    int n = sqlite3_column_bytes(st, col);
    o->source = fg_xstrndup(s ? (const char *)s : "", s ? (size_t)n : 0);
}

static enum fg_err ov_insert(struct store_conn *c, const struct store_overlay *o)
{
    static const char sql[] =
        "INSERT INTO overlays (id, name, version, status, trust_level, manifest, source, sha256, "
        "owner_id, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)";
    sqlite3_stmt *st = sq_prepare(c, sql);
    if (!st)
        return FG_EDB;
    sq_bind_text(st, 1, o->id);
    sq_bind_text(st, 2, o->name);
    sq_bind_text(st, 3, o->version);
    sq_bind_text(st, 4, o->status);
    sqlite3_bind_int(st, 5, o->trust_level);
    sq_bind_text(st, 6, o->manifest);
    sq_bind_text(st, 7, o->source);
    sq_bind_text(st, 8, o->sha256);
    sq_bind_text(st, 9, o->owner_id[0] ? o->owner_id : NULL);
    sqlite3_bind_int64(st, 10, o->created_at);
    sqlite3_bind_int64(st, 11, o->updated_at);
    return sq_step_done(c, st, "overlays.insert", NULL);
}

static enum fg_err ov_get(struct store_conn *c, const char *id, int with_source,
                          struct store_overlay *out)
{
    static const char sql[] = "SELECT " OV_COLS ", source FROM overlays WHERE id = ?";
    sqlite3_stmt *st = sq_prepare(c, sql);
    if (!st)
        return FG_EDB;
    sq_bind_text(st, 1, id);
    int rc = sqlite3_step(st);
    enum fg_err e = FG_OK;
    if (rc == SQLITE_ROW) {
        row_overlay(st, out);
        if (with_source)
            read_source(st, 17, out);
    } else {
        e = rc == SQLITE_DONE ? FG_ENOTFOUND : sq_err(c, rc, "overlays.get");
    }
    sqlite3_reset(st);
    return e;
}

static enum fg_err ov_list(struct store_conn *c, const char *name, const char *status,
                           long long offset, long long limit, store_overlay_cb cb, void *ctx,
                           long long *total)
{
#define WHERE " WHERE (?1 IS NULL OR name = ?1) AND (?2 IS NULL OR status = ?2)"
    static const char count_sql[] = "SELECT count(*) FROM overlays" WHERE;
    static const char sql[] = "SELECT " OV_COLS " FROM overlays" WHERE
                              " ORDER BY created_at DESC, id DESC LIMIT ?3 OFFSET ?4";
#undef WHERE
    sqlite3_stmt *st = sq_prepare(c, count_sql);
    if (!st)
        return FG_EDB;
    sq_bind_text(st, 1, name);
    sq_bind_text(st, 2, status);
    int rc = sqlite3_step(st);
    *total = rc == SQLITE_ROW ? sqlite3_column_int64(st, 0) : 0;
    sqlite3_reset(st);
    if (rc != SQLITE_ROW)
        return sq_err(c, rc, "overlays.count");
    st = sq_prepare(c, sql);
    if (!st)
        return FG_EDB;
    sq_bind_text(st, 1, name);
    sq_bind_text(st, 2, status);
    sqlite3_bind_int64(st, 3, limit);
    sqlite3_bind_int64(st, 4, offset);
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        struct store_overlay o;
        row_overlay(st, &o);
        int stop = cb(&o, ctx);
        store_overlay_clear(&o);
        if (stop) {
            rc = SQLITE_DONE;
            break;
        }
    }
    sqlite3_reset(st);
    return rc == SQLITE_DONE ? FG_OK : sq_err(c, rc, "overlays.list");
}

static enum fg_err ov_set_status(struct store_conn *c, const char *id, const char *from,
                                 const char *status, int64_t now, int *changed)
{
    static const char sql[] = "UPDATE overlays SET status = ?1, updated_at = ?2 WHERE id = ?3 AND "
                              "(?4 IS NULL OR instr('|' || ?4 || '|', '|' || status || '|') > 0)";
    sqlite3_stmt *st = sq_prepare(c, sql);
    if (!st)
        return FG_EDB;
    sq_bind_text(st, 1, status);
    sqlite3_bind_int64(st, 2, now);
    sq_bind_text(st, 3, id);
    sq_bind_text(st, 4, from);
    int n = 0;
    enum fg_err e = sq_step_done(c, st, "overlays.set_status", &n);
    if (changed)
        *changed = n > 0;
    return e;
}

static enum fg_err ov_set_trust(struct store_conn *c, const char *id, int trust, int64_t now)
{
    static const char sql[] = "UPDATE overlays SET trust_level = ?, updated_at = ? WHERE id = ?";
    sqlite3_stmt *st = sq_prepare(c, sql);
    if (!st)
        return FG_EDB;
    sqlite3_bind_int(st, 1, trust);
    sqlite3_bind_int64(st, 2, now);
    sq_bind_text(st, 3, id);
    int n = 0;
    enum fg_err e = sq_step_done(c, st, "overlays.set_trust", &n);
    return e == FG_OK && n == 0 ? FG_ENOTFOUND : e;
}

static enum fg_err ov_record(struct store_conn *c, const char *id, int failed, double ms,
                             const char *error, int64_t now, int64_t window_ms, long long *win_inv,
                             long long *win_fail)
{
    static const char sql[] =
        "UPDATE overlays SET invocations = invocations + 1, failures = failures + ?1, "
        "total_ms = total_ms + ?2, last_error = coalesce(?3, last_error), "
        "window_invocations = CASE WHEN window_start <= ?4 - ?5 THEN 1 "
        "ELSE window_invocations + 1 END, "
        "window_failures = CASE WHEN window_start <= ?4 - ?5 THEN ?1 "
        "ELSE window_failures + ?1 END, "
        "window_start = CASE WHEN window_start <= ?4 - ?5 THEN ?4 ELSE window_start END "
        "WHERE id = ?6 RETURNING window_invocations, window_failures";
    sqlite3_stmt *st = sq_prepare(c, sql);
    if (!st)
        return FG_EDB;
    sqlite3_bind_int(st, 1, failed ? 1 : 0);
    sqlite3_bind_double(st, 2, ms);
    sq_bind_text(st, 3, failed ? error : NULL);
    sqlite3_bind_int64(st, 4, now);
    sqlite3_bind_int64(st, 5, window_ms);
    sq_bind_text(st, 6, id);
    int rc = sqlite3_step(st);
    enum fg_err e = FG_OK;
    if (rc == SQLITE_ROW) {
        *win_inv = sqlite3_column_int64(st, 0);
        *win_fail = sqlite3_column_int64(st, 1);
        rc = sqlite3_step(st);
    } else if (rc == SQLITE_DONE) {
        e = FG_ENOTFOUND;
    }
    if (e == FG_OK && rc != SQLITE_DONE)
        e = sq_err(c, rc, "overlays.record");
    sqlite3_reset(st);
    return e;
}

static enum fg_err ov_active(struct store_conn *c, store_overlay_cb cb, void *ctx)
{
    static const char sql[] =
        "SELECT " OV_COLS ", source FROM overlays WHERE status = 'active' ORDER BY name, id";
    sqlite3_stmt *st = sq_prepare(c, sql);
    if (!st)
        return FG_EDB;
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        struct store_overlay o;
        row_overlay(st, &o);
        read_source(st, 17, &o);
        int stop = cb(&o, ctx);
        store_overlay_clear(&o);
        if (stop) {
            rc = SQLITE_DONE;
            break;
        }
    }
    sqlite3_reset(st);
    return rc == SQLITE_DONE ? FG_OK : sq_err(c, rc, "overlays.active");
}

static enum fg_err ov_hook_lease(struct store_conn *c, const char *holder, int64_t now,
                                 int64_t ttl_ms, int *got, long long *last_seq)
{
    static const char upd[] =
        "UPDATE overlay_hook_state SET holder = ?1, lease_until = ?2 + ?3 "
        "WHERE id = 1 AND (holder IS NULL OR holder = ?1 OR lease_until < ?2)";
    static const char sel[] = "SELECT last_seq, holder FROM overlay_hook_state WHERE id = 1";
    sqlite3_stmt *st = sq_prepare(c, upd);
    if (!st)
        return FG_EDB;
    sq_bind_text(st, 1, holder);
    sqlite3_bind_int64(st, 2, now);
    sqlite3_bind_int64(st, 3, ttl_ms);
    int n = 0;
    enum fg_err e = sq_step_done(c, st, "overlays.hook_lease", &n);
    if (e != FG_OK)
        return e;
    *got = n > 0;
    st = sq_prepare(c, sel);
    if (!st)
        return FG_EDB;
    int rc = sqlite3_step(st);
    if (rc == SQLITE_ROW)
        *last_seq = sqlite3_column_int64(st, 0);
    sqlite3_reset(st);
    return rc == SQLITE_ROW ? FG_OK : sq_err(c, rc, "overlays.hook_state");
}

static enum fg_err ov_hook_advance(struct store_conn *c, const char *holder, long long seq, int *ok)
{
    static const char sql[] = "UPDATE overlay_hook_state SET last_seq = ?1 WHERE id = 1 AND holder "
                              "= ?2 AND last_seq < ?1";
    sqlite3_stmt *st = sq_prepare(c, sql);
    if (!st)
        return FG_EDB;
    sqlite3_bind_int64(st, 1, seq);
    sq_bind_text(st, 2, holder);
    int n = 0;
    enum fg_err e = sq_step_done(c, st, "overlays.hook_advance", &n);
    *ok = n > 0;
    return e;
}

static enum fg_err ov_hook_events(struct store_conn *c, long long after, long long limit,
                                  store_hook_event_cb cb, void *ctx)
{
    static const char sql[] = "SELECT seq, id, type, resource_id, payload, created_at FROM outbox "
                              "WHERE seq > ? ORDER BY seq LIMIT ?";
    sqlite3_stmt *st = sq_prepare(c, sql);
    if (!st)
        return FG_EDB;
    sqlite3_bind_int64(st, 1, after);
    sqlite3_bind_int64(st, 2, limit);
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        struct store_hook_event ev = {
            .seq = sqlite3_column_int64(st, 0),
            .id = (const char *)sqlite3_column_text(st, 1),
            .type = (const char *)sqlite3_column_text(st, 2),
            .resource_id = (const char *)sqlite3_column_text(st, 3),
            .payload = (const char *)sqlite3_column_text(st, 4),
            .created_at = sqlite3_column_int64(st, 5),
        };
        if (cb(&ev, ctx)) {
            rc = SQLITE_DONE;
            break;
        }
    }
    sqlite3_reset(st);
    return rc == SQLITE_DONE ? FG_OK : sq_err(c, rc, "overlays.hook_events");
}

static enum fg_err ov_log_invocation(struct store_conn *c, const struct store_overlay_invocation *v)
{
    static const char sql[] =
        "INSERT INTO overlay_invocations (id, overlay_id, event_id, event_type, event_seq, "
        "attempt, "
        "outcome, error, elapsed_ms, holder, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)";
    sqlite3_stmt *st = sq_prepare(c, sql);
    if (!st)
        return FG_EDB;
    sq_bind_text(st, 1, v->id);
    sq_bind_text(st, 2, v->overlay_id);
    sq_bind_text(st, 3, v->event_id);
    sq_bind_text(st, 4, v->event_type);
    sqlite3_bind_int64(st, 5, v->event_seq);
    sqlite3_bind_int(st, 6, v->attempt);
    sq_bind_text(st, 7, v->outcome);
    sq_bind_text(st, 8, v->error[0] ? v->error : NULL);
    sqlite3_bind_double(st, 9, v->elapsed_ms);
    sq_bind_text(st, 10, v->holder);
    sqlite3_bind_int64(st, 11, v->created_at);
    return sq_step_done(c, st, "overlays.log_invocation", NULL);
}

static enum fg_err ov_invocations(struct store_conn *c, const char *overlay_id, long long offset,
                                  long long limit, store_invocation_cb cb, void *ctx,
                                  long long *total)
{
    static const char cnt[] = "SELECT count(*) FROM overlay_invocations WHERE overlay_id = ?";
    static const char sql[] =
        "SELECT id, overlay_id, event_id, event_type, event_seq, attempt, outcome, "
        "coalesce(error, ''), elapsed_ms, holder, created_at FROM overlay_invocations "
        "WHERE overlay_id = ? ORDER BY created_at DESC, id DESC LIMIT ? OFFSET ?";
    sqlite3_stmt *st = sq_prepare(c, cnt);
    if (!st)
        return FG_EDB;
    sq_bind_text(st, 1, overlay_id);
    int rc = sqlite3_step(st);
    *total = rc == SQLITE_ROW ? sqlite3_column_int64(st, 0) : 0;
    sqlite3_reset(st);
    if (rc != SQLITE_ROW)
        return sq_err(c, rc, "overlays.invocations_count");
    st = sq_prepare(c, sql);
    if (!st)
        return FG_EDB;
    sq_bind_text(st, 1, overlay_id);
    sqlite3_bind_int64(st, 2, limit);
    sqlite3_bind_int64(st, 3, offset);
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        struct store_overlay_invocation v;
        memset(&v, 0, sizeof v);
        sq_col_text(st, 0, v.id, sizeof v.id);
        sq_col_text(st, 1, v.overlay_id, sizeof v.overlay_id);
        sq_col_text(st, 2, v.event_id, sizeof v.event_id);
        sq_col_text(st, 3, v.event_type, sizeof v.event_type);
        v.event_seq = sqlite3_column_int64(st, 4);
        v.attempt = sqlite3_column_int(st, 5);
        sq_col_text(st, 6, v.outcome, sizeof v.outcome);
        sq_col_text(st, 7, v.error, sizeof v.error);
        v.elapsed_ms = sqlite3_column_double(st, 8);
        sq_col_text(st, 9, v.holder, sizeof v.holder);
        v.created_at = sqlite3_column_int64(st, 10);
        if (cb(&v, ctx)) {
            rc = SQLITE_DONE;
            break;
        }
    }
    sqlite3_reset(st);
    return rc == SQLITE_DONE ? FG_OK : sq_err(c, rc, "overlays.invocations");
}

const struct store_overlay_ops sqlite_overlay_ops = {
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
