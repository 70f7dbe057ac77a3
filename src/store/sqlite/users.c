/* SQLite implementation of store/users.h (accounts and sessions). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store/sqlite/sqlite_int.h"
#include "store/users.h"
#include "util/mem.h"

#define USER_COLS                                                                                  \
    "id, email, display_name, password_hash, trust_level, roles, is_disabled, mfa_enabled, "       \
    "mfa_secret, mfa_last_step, locked_until, created_at, updated_at, last_login_at, email_enc"

static void row_user(sqlite3_stmt *st, struct store_user *u)
{
    memset(u, 0, sizeof *u);
    sq_col_text(st, 0, u->id, sizeof u->id);
    sq_col_text(st, 1, u->email, sizeof u->email);
    sq_col_text(st, 2, u->display_name_enc, sizeof u->display_name_enc);
    sq_col_text(st, 3, u->password_hash, sizeof u->password_hash);
    u->trust = sqlite3_column_int(st, 4);
    u->roles = (unsigned)sqlite3_column_int(st, 5);
    u->disabled = sqlite3_column_int(st, 6);
    u->mfa_enabled = sqlite3_column_int(st, 7);
    sq_col_text(st, 8, u->mfa_secret_enc, sizeof u->mfa_secret_enc);
    u->mfa_last_step = sqlite3_column_int64(st, 9);
    u->locked_until = sqlite3_column_int64(st, 10);
    u->created_at = sqlite3_column_int64(st, 11);
    u->updated_at = sqlite3_column_int64(st, 12);
    u->last_login_at = sqlite3_column_int64(st, 13);
    sq_col_text(st, 14, u->email_enc, sizeof u->email_enc);
}

static enum fg_err u_create(struct store_conn *c, const struct store_user *u)
{
    static const char sql[] =
        "INSERT INTO users (id, email, display_name, password_hash, trust_level, roles, "
        "is_disabled, mfa_enabled, mfa_secret, mfa_last_step, locked_until, created_at, "
        "updated_at, email_enc) VALUES (?, ?, ?, ?, ?, ?, ?, 0, NULL, 0, 0, ?, ?, ?)";
    sqlite3_stmt *st = sq_prepare(c, sql);
    if (!st)
        return FG_EDB;
    sq_bind_text(st, 1, u->id);
    sq_bind_text(st, 2, u->email);
    sq_bind_text(st, 3, u->display_name_enc);
    sq_bind_text(st, 4, u->password_hash);
    sqlite3_bind_int(st, 5, u->trust);
    sqlite3_bind_int(st, 6, (int)u->roles);
    sqlite3_bind_int(st, 7, u->disabled ? 1 : 0);
    sqlite3_bind_int64(st, 8, u->created_at);
    sqlite3_bind_int64(st, 9, u->updated_at);
    sq_bind_text(st, 10, u->email_enc);
    return sq_step_done(c, st, "users.create", NULL);
}

static enum fg_err get_one(struct store_conn *c, const char *sql, const char *arg,
                           struct store_user *out)
{
    sqlite3_stmt *st = sq_prepare(c, sql);
    if (!st)
        return FG_EDB;
    sq_bind_text(st, 1, arg);
    int rc = sqlite3_step(st);
    enum fg_err e = FG_OK;
    if (rc == SQLITE_ROW)
        row_user(st, out);
    else if (rc == SQLITE_DONE)
        e = FG_ENOTFOUND;
    else
        e = sq_err(c, rc, "users.get");
    sqlite3_reset(st);
    return e;
}

static enum fg_err u_get_by_id(struct store_conn *c, const char *id, struct store_user *out)
{
    static const char sql[] = "SELECT " USER_COLS " FROM users WHERE id = ?";
    return get_one(c, sql, id, out);
}

static enum fg_err u_get_by_email(struct store_conn *c, const char *email, struct store_user *out)
{
    static const char sql[] = "SELECT " USER_COLS " FROM users WHERE email = ? COLLATE NOCASE";
    return get_one(c, sql, email, out);
}

static enum fg_err u_list(struct store_conn *c, long long offset, long long limit,
                          struct store_user **items, size_t *n, long long *total)
{
    static const char count_sql[] = "SELECT count(*) FROM users";
    static const char sql[] =
        "SELECT " USER_COLS " FROM users ORDER BY created_at DESC, id DESC LIMIT ? OFFSET ?";
    *items = NULL;
    *n = 0;
    *total = 0;
    sqlite3_stmt *st = sq_prepare(c, count_sql);
    if (!st)
        return FG_EDB;
    int rc = sqlite3_step(st);
    if (rc == SQLITE_ROW)
        *total = sqlite3_column_int64(st, 0);
    sqlite3_reset(st);
    if (rc != SQLITE_ROW)
        return sq_err(c, rc, "users.count");
    if (limit <= 0)
        return FG_OK;
    st = sq_prepare(c, sql);
    if (!st)
        return FG_EDB;
    sqlite3_bind_int64(st, 1, limit);
    sqlite3_bind_int64(st, 2, offset);
    struct store_user *arr = fg_xcalloc((size_t)limit, sizeof *arr);
    size_t k = 0;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW && k < (size_t)limit)
        row_user(st, &arr[k++]);
    sqlite3_reset(st);
    if (rc != SQLITE_DONE && rc != SQLITE_ROW) {
        free(arr);
        return sq_err(c, rc, "users.list");
    }
    *items = arr;
    *n = k;
    return FG_OK;
}

static enum fg_err update_found(struct store_conn *c, sqlite3_stmt *st, const char *what)
{
    int changes = 0;
    enum fg_err e = sq_step_done(c, st, what, &changes);
    if (e == FG_OK && changes == 0)
        e = FG_ENOTFOUND;
    return e;
}

static enum fg_err u_set_display_name(struct store_conn *c, const char *id, const char *name,
                                      int64_t now)
{
    static const char sql[] = "UPDATE users SET display_name = ?, updated_at = ? WHERE id = ?";
    sqlite3_stmt *st = sq_prepare(c, sql);
    if (!st)
        return FG_EDB;
    sq_bind_text(st, 1, name ? name : "");
    sqlite3_bind_int64(st, 2, now);
    sq_bind_text(st, 3, id);
    return update_found(c, st, "users.set_display_name");
}

static enum fg_err u_set_password_hash(struct store_conn *c, const char *id, const char *hash,
                                       int64_t now)
{
    static const char sql[] = "UPDATE users SET password_hash = ?, updated_at = ? WHERE id = ?";
    sqlite3_stmt *st = sq_prepare(c, sql);
    if (!st)
        return FG_EDB;
    sq_bind_text(st, 1, hash);
    sqlite3_bind_int64(st, 2, now);
    sq_bind_text(st, 3, id);
    return update_found(c, st, "users.set_password_hash");
}

static enum fg_err u_set_trust(struct store_conn *c, const char *id, int trust, int64_t now)
{
    static const char sql[] = "UPDATE users SET trust_level = ?, updated_at = ? WHERE id = ?";
    sqlite3_stmt *st = sq_prepare(c, sql);
    if (!st)
        return FG_EDB;
    sqlite3_bind_int(st, 1, trust);
    sqlite3_bind_int64(st, 2, now);
    sq_bind_text(st, 3, id);
    return update_found(c, st, "users.set_trust");
}

static enum fg_err u_set_roles(struct store_conn *c, const char *id, unsigned roles, int64_t now)
{
    static const char sql[] = "UPDATE users SET roles = ?, updated_at = ? WHERE id = ?";
    sqlite3_stmt *st = sq_prepare(c, sql);
    if (!st)
        return FG_EDB;
    sqlite3_bind_int(st, 1, (int)roles);
    sqlite3_bind_int64(st, 2, now);
    sq_bind_text(st, 3, id);
    return update_found(c, st, "users.set_roles");
}

static enum fg_err u_set_disabled(struct store_conn *c, const char *id, int disabled, int64_t now)
{
    static const char sql[] = "UPDATE users SET is_disabled = ?, updated_at = ? WHERE id = ?";
    sqlite3_stmt *st = sq_prepare(c, sql);
    if (!st)
        return FG_EDB;
    sqlite3_bind_int(st, 1, disabled ? 1 : 0);
    sqlite3_bind_int64(st, 2, now);
    sq_bind_text(st, 3, id);
    return update_found(c, st, "users.set_disabled");
}

static enum fg_err u_set_mfa(struct store_conn *c, const char *id, const char *secret, int enabled,
                             int64_t last_step, int64_t now)
{
    static const char sql[] = "UPDATE users SET mfa_secret = ?, mfa_enabled = ?, "
                              "mfa_last_step = ?, updated_at = ? WHERE id = ?";
    sqlite3_stmt *st = sq_prepare(c, sql);
    if (!st)
        return FG_EDB;
    sq_bind_text(st, 1, secret);
    sqlite3_bind_int(st, 2, enabled ? 1 : 0);
    sqlite3_bind_int64(st, 3, last_step);
    sqlite3_bind_int64(st, 4, now);
    sq_bind_text(st, 5, id);
    return update_found(c, st, "users.set_mfa");
}

static enum fg_err u_use_mfa_step(struct store_conn *c, const char *id, int64_t step, int *ok)
{
    static const char sql[] =
        "UPDATE users SET mfa_last_step = ? WHERE id = ? AND mfa_last_step < ?";
    *ok = 0;
    sqlite3_stmt *st = sq_prepare(c, sql);
    if (!st)
        return FG_EDB;
    sqlite3_bind_int64(st, 1, step);
    sq_bind_text(st, 2, id);
    sqlite3_bind_int64(st, 3, step);
    int changes = 0;
    enum fg_err e = sq_step_done(c, st, "users.use_mfa_step", &changes);
    *ok = changes > 0;
    return e;
}

static enum fg_err u_set_locked_until(struct store_conn *c, const char *id, int64_t until)
{
    static const char sql[] = "UPDATE users SET locked_until = ? WHERE id = ?";
    sqlite3_stmt *st = sq_prepare(c, sql);
    if (!st)
        return FG_EDB;
    sqlite3_bind_int64(st, 1, until);
    sq_bind_text(st, 2, id);
    return update_found(c, st, "users.set_locked_until");
}

static enum fg_err u_set_last_login(struct store_conn *c, const char *id, int64_t now)
{
    static const char sql[] = "UPDATE users SET last_login_at = ?, locked_until = 0 WHERE id = ?";
    sqlite3_stmt *st = sq_prepare(c, sql);
    if (!st)
        return FG_EDB;
    sqlite3_bind_int64(st, 1, now);
    sq_bind_text(st, 2, id);
    return update_found(c, st, "users.set_last_login");
}

static enum fg_err u_count_admins(struct store_conn *c, long long *n)
{
    static const char sql[] = "SELECT count(*) FROM users WHERE (roles & 8) != 0";
    sqlite3_stmt *st = sq_prepare(c, sql);
    if (!st)
        return FG_EDB;
    int rc = sqlite3_step(st);
    *n = rc == SQLITE_ROW ? sqlite3_column_int64(st, 0) : 0;
    sqlite3_reset(st);
    return rc == SQLITE_ROW ? FG_OK : sq_err(c, rc, "users.count_admins");
}

/* ---- sessions ------------------------------------------------------------------------- */

static enum fg_err s_create(struct store_conn *c, const struct store_session *s)
{
    static const char sql[] = "INSERT INTO sessions (id, user_id, refresh_jti, created_at, "
                              "last_used_at, expires_at) VALUES (?, ?, ?, ?, ?, ?)";
    sqlite3_stmt *st = sq_prepare(c, sql);
    if (!st)
        return FG_EDB;
    sq_bind_text(st, 1, s->id);
    sq_bind_text(st, 2, s->user_id);
    sq_bind_text(st, 3, s->refresh_jti);
    sqlite3_bind_int64(st, 4, s->created_at);
    sqlite3_bind_int64(st, 5, s->last_used_at);
    sqlite3_bind_int64(st, 6, s->expires_at);
    return sq_step_done(c, st, "sessions.create", NULL);
}

static enum fg_err s_get(struct store_conn *c, const char *id, struct store_session *out)
{
    static const char sql[] = "SELECT id, user_id, refresh_jti, created_at, last_used_at, "
                              "expires_at, coalesce(revoked_at, 0) FROM sessions WHERE id = ?";
    sqlite3_stmt *st = sq_prepare(c, sql);
    if (!st)
        return FG_EDB;
    sq_bind_text(st, 1, id);
    int rc = sqlite3_step(st);
    enum fg_err e = FG_OK;
    if (rc == SQLITE_ROW) {
        memset(out, 0, sizeof *out);
        sq_col_text(st, 0, out->id, sizeof out->id);
        sq_col_text(st, 1, out->user_id, sizeof out->user_id);
        sq_col_text(st, 2, out->refresh_jti, sizeof out->refresh_jti);
        out->created_at = sqlite3_column_int64(st, 3);
        out->last_used_at = sqlite3_column_int64(st, 4);
        out->expires_at = sqlite3_column_int64(st, 5);
        out->revoked_at = sqlite3_column_int64(st, 6);
    } else if (rc == SQLITE_DONE) {
        e = FG_ENOTFOUND;
    } else {
        e = sq_err(c, rc, "sessions.get");
    }
    sqlite3_reset(st);
    return e;
}

static enum fg_err s_rotate(struct store_conn *c, const char *id, const char *old_jti,
                            const char *new_jti, int64_t new_expires, int64_t now, int *rotated)
{
    static const char sql[] =
        "UPDATE sessions SET refresh_jti = ?, expires_at = ?, last_used_at = ? "
        "WHERE id = ? AND refresh_jti = ? AND revoked_at IS NULL AND expires_at > ?";
    *rotated = 0;
    sqlite3_stmt *st = sq_prepare(c, sql);
    if (!st)
        return FG_EDB;
    sq_bind_text(st, 1, new_jti);
    sqlite3_bind_int64(st, 2, new_expires);
    sqlite3_bind_int64(st, 3, now);
    sq_bind_text(st, 4, id);
    sq_bind_text(st, 5, old_jti);
    sqlite3_bind_int64(st, 6, now);
    int changes = 0;
    enum fg_err e = sq_step_done(c, st, "sessions.rotate", &changes);
    *rotated = changes > 0;
    return e;
}

static enum fg_err s_revoke(struct store_conn *c, const char *id, const char *reason, int64_t now)
{
    static const char sql[] = "UPDATE sessions SET revoked_at = ?, revoke_reason = ? "
                              "WHERE id = ? AND revoked_at IS NULL";
    sqlite3_stmt *st = sq_prepare(c, sql);
    if (!st)
        return FG_EDB;
    sqlite3_bind_int64(st, 1, now);
    sq_bind_text(st, 2, reason);
    sq_bind_text(st, 3, id);
    return sq_step_done(c, st, "sessions.revoke", NULL);
}

static enum fg_err s_revoke_user(struct store_conn *c, const char *user_id, const char *except_id,
                                 const char *reason, int64_t now,
                                 void (*fn)(void *ctx, const char *sid), void *ctx)
{
    static const char list_sql[] = "SELECT id FROM sessions WHERE user_id = ? AND revoked_at IS "
                                   "NULL AND id != coalesce(?, '')";
    static const char sql[] = "UPDATE sessions SET revoked_at = ?, revoke_reason = ? WHERE "
                              "user_id = ? AND revoked_at IS NULL AND id != coalesce(?, '')";
    sqlite3_stmt *st = sq_prepare(c, list_sql);
    if (!st)
        return FG_EDB;
    sq_bind_text(st, 1, user_id);
    sq_bind_text(st, 2, except_id);
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        if (fn)
            fn(ctx, (const char *)sqlite3_column_text(st, 0));
    }
    sqlite3_reset(st);
    if (rc != SQLITE_DONE)
        return sq_err(c, rc, "sessions.list_user");
    st = sq_prepare(c, sql);
    if (!st)
        return FG_EDB;
    sqlite3_bind_int64(st, 1, now);
    sq_bind_text(st, 2, reason);
    sq_bind_text(st, 3, user_id);
    sq_bind_text(st, 4, except_id);
    return sq_step_done(c, st, "sessions.revoke_user", NULL);
}

static enum fg_err s_purge(struct store_conn *c, int64_t before, long long *deleted)
{
    static const char sql[] = "DELETE FROM sessions WHERE expires_at < ?1 OR revoked_at < ?1";
    sqlite3_stmt *st = sq_prepare(c, sql);
    if (!st)
        return FG_EDB;
    sqlite3_bind_int64(st, 1, before);
    int changes = 0;
    enum fg_err e = sq_step_done(c, st, "sessions.purge", &changes);
    if (deleted)
        *deleted = changes;
    return e;
}

static enum fg_err u_set_email(struct store_conn *c, const char *id, const char *bidx,
                               const char *enc)
{
    static const char sql[] = "UPDATE users SET email = ?, email_enc = ? WHERE id = ?";
    sqlite3_stmt *st = sq_prepare(c, sql);
    if (!st)
        return FG_EDB;
    sq_bind_text(st, 1, bidx);
    sq_bind_text(st, 2, enc);
    sq_bind_text(st, 3, id);
    return update_found(c, st, "users.set_email");
}

const struct store_user_ops sqlite_user_ops = {
    .create = u_create,
    .get_by_id = u_get_by_id,
    .get_by_email = u_get_by_email,
    .list = u_list,
    .set_display_name = u_set_display_name,
    .set_password_hash = u_set_password_hash,
    .set_trust = u_set_trust,
    .set_roles = u_set_roles,
    .set_disabled = u_set_disabled,
    .set_mfa = u_set_mfa,
    .use_mfa_step = u_use_mfa_step,
    .set_locked_until = u_set_locked_until,
    .set_last_login = u_set_last_login,
    .count_admins = u_count_admins,
    .session_create = s_create,
    .session_get = s_get,
    .session_rotate = s_rotate,
    .session_revoke = s_revoke,
    .session_revoke_user = s_revoke_user,
    .session_purge = s_purge,
    .set_email = u_set_email,
};
