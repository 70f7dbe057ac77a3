/*
 * PostgreSQL implementation of store/users.h (accounts and sessions); mirrors
 * store/sqlite/users.c. Emails are unique without regard to ASCII case (index on
 * lower(email COLLATE "C"), as SQLite's NOCASE).
 *
 * Serialisation: SQLite serialises whole write transactions (BEGIN IMMEDIATE), so a read of a user
 * inside a transaction followed by a write sees no concurrent change. Here, inside a transaction,
 * every write and every read of a user first takes forge_write_lock() (pg_write_lock, the lock
 * every writer takes before its row locks, so the lock order is the same everywhere and
 * transactions do not deadlock), and the read locks the row (FOR NO KEY UPDATE: it does not block
 * inserting sessions that reference the user) until commit, which also orders it against the
 * single-statement updates made outside transactions. Those (use_mfa_step, session_rotate, ...)
 * are atomic conditional updates.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store/pg/pg_int.h"
#include "store/users.h"
#include "util/mem.h"

#define USER_COLS                                                                                  \
    "id, email, display_name, password_hash, trust_level, roles, is_disabled, mfa_enabled, "       \
    "mfa_secret, mfa_last_step, locked_until, created_at, updated_at, last_login_at, email_enc"

static void row_user(const PGresult *r, int i, struct store_user *u)
{
    memset(u, 0, sizeof *u);
    pg_get_text(r, i, 0, u->id, sizeof u->id);
    pg_get_text(r, i, 1, u->email, sizeof u->email);
    pg_get_text(r, i, 2, u->display_name_enc, sizeof u->display_name_enc);
    pg_get_text(r, i, 3, u->password_hash, sizeof u->password_hash);
    u->trust = (int)pg_get_i64(r, i, 4);
    u->roles = (unsigned)pg_get_i64(r, i, 5);
    u->disabled = (int)pg_get_i64(r, i, 6);
    u->mfa_enabled = (int)pg_get_i64(r, i, 7);
    pg_get_text(r, i, 8, u->mfa_secret_enc, sizeof u->mfa_secret_enc);
    u->mfa_last_step = pg_get_i64(r, i, 9);
    u->locked_until = pg_get_i64(r, i, 10);
    u->created_at = pg_get_i64(r, i, 11);
    u->updated_at = pg_get_i64(r, i, 12);
    u->last_login_at = pg_get_i64(r, i, 13);
    pg_get_text(r, i, 14, u->email_enc, sizeof u->email_enc);
}

/* An UPDATE of one user by id: FG_ENOTFOUND when no row changed. */
static enum fg_err update_found(struct store_conn *c, const char *sql, int n, const char *const *p)
{
    long long changes = 0;
    enum fg_err e = pg_run_locked(c, sql, n, p, &changes);
    if (e == FG_OK && changes == 0)
        e = FG_ENOTFOUND;
    return e;
}

static enum fg_err u_create(struct store_conn *c, const struct store_user *u)
{
    static const char sql[] =
        "INSERT INTO users (id, email, display_name, password_hash, trust_level, roles, "
        "is_disabled, mfa_enabled, mfa_secret, mfa_last_step, locked_until, created_at, "
        "updated_at, email_enc) VALUES ($1, $2, $3, $4, $5::integer, $6::integer, $7::smallint, "
        "0, NULL, 0, 0, $8::bigint, $9::bigint, $10)";
    struct pg_num trust = pg_num(u->trust), roles = pg_num((long long)u->roles),
                  dis = pg_num(u->disabled ? 1 : 0), ca = pg_num(u->created_at),
                  ua = pg_num(u->updated_at);
    const char *p[] = {
        u->id, u->email, u->display_name_enc, u->password_hash, trust.s, roles.s, dis.s,
        ca.s,  ua.s,     u->email_enc};
    return pg_run_locked(c, sql, 10, p, NULL);
}

/* One user by `sql` (a SELECT with one parameter); locked until commit inside a transaction. */
static enum fg_err get_one(struct store_conn *c, const char *sql, const char *sql_lock,
                           const char *arg, struct store_user *out)
{
    enum fg_err e = pg_tx_write_lock(c);
    if (e != FG_OK)
        return e;
    const char *p[] = {arg};
    PGresult *r = pg_exec(c, pg_conn_of(c)->in_tx ? sql_lock : sql, 1, p, &e);
    if (!r)
        return e;
    if (PQntuples(r) > 0)
        row_user(r, 0, out);
    else
        e = FG_ENOTFOUND;
    PQclear(r);
    return e;
}

static enum fg_err u_get_by_id(struct store_conn *c, const char *id, struct store_user *out)
{
    static const char sql[] = "SELECT " USER_COLS " FROM users WHERE id = $1";
    static const char lock[] = "SELECT " USER_COLS " FROM users WHERE id = $1 FOR NO KEY UPDATE";
    return get_one(c, sql, lock, id, out);
}

static enum fg_err u_get_by_email(struct store_conn *c, const char *email, struct store_user *out)
{
    static const char sql[] = "SELECT " USER_COLS " FROM users WHERE lower(email COLLATE \"C\") "
                              "= lower($1::text COLLATE \"C\")";
    static const char lock[] = "SELECT " USER_COLS " FROM users WHERE lower(email COLLATE \"C\") "
                               "= lower($1::text COLLATE \"C\") FOR NO KEY UPDATE";
    return get_one(c, sql, lock, email, out);
}

static enum fg_err u_list(struct store_conn *c, long long offset, long long limit,
                          struct store_user **items, size_t *n, long long *total)
{
    static const char count_sql[] = "SELECT count(*) FROM users";
    static const char sql[] = "SELECT " USER_COLS " FROM users ORDER BY created_at DESC, id DESC "
                              "LIMIT $1::bigint OFFSET $2::bigint";
    *items = NULL;
    *n = 0;
    *total = 0;
    enum fg_err e;
    PGresult *r = pg_exec(c, count_sql, 0, NULL, &e);
    if (!r)
        return e;
    *total = PQntuples(r) ? pg_get_i64(r, 0, 0) : 0;
    PQclear(r);
    if (limit <= 0)
        return FG_OK;
    struct pg_num l = pg_num(limit), o = pg_num(offset < 0 ? 0 : offset);
    const char *p[] = {l.s, o.s};
    if (!(r = pg_exec(c, sql, 2, p, &e)))
        return e;
    int rows = PQntuples(r);
    struct store_user *arr = fg_xcalloc(rows > 0 ? (size_t)rows : 1, sizeof *arr);
    for (int i = 0; i < rows; i++)
        row_user(r, i, &arr[i]);
    PQclear(r);
    *items = arr;
    *n = (size_t)rows;
    return FG_OK;
}

static enum fg_err u_set_display_name(struct store_conn *c, const char *id, const char *name,
                                      int64_t now)
{
    static const char sql[] =
        "UPDATE users SET display_name = $1, updated_at = $2::bigint WHERE id = $3";
    struct pg_num t = pg_num(now);
    const char *p[] = {name ? name : "", t.s, id};
    return update_found(c, sql, 3, p);
}

static enum fg_err u_set_password_hash(struct store_conn *c, const char *id, const char *hash,
                                       int64_t now)
{
    static const char sql[] =
        "UPDATE users SET password_hash = $1, updated_at = $2::bigint WHERE id = $3";
    struct pg_num t = pg_num(now);
    const char *p[] = {hash, t.s, id};
    return update_found(c, sql, 3, p);
}

static enum fg_err u_set_trust(struct store_conn *c, const char *id, int trust, int64_t now)
{
    static const char sql[] =
        "UPDATE users SET trust_level = $1::integer, updated_at = $2::bigint WHERE id = $3";
    struct pg_num v = pg_num(trust), t = pg_num(now);
    const char *p[] = {v.s, t.s, id};
    return update_found(c, sql, 3, p);
}

static enum fg_err u_set_roles(struct store_conn *c, const char *id, unsigned roles, int64_t now)
{
    static const char sql[] =
        "UPDATE users SET roles = $1::integer, updated_at = $2::bigint WHERE id = $3";
    struct pg_num v = pg_num((long long)roles), t = pg_num(now);
    const char *p[] = {v.s, t.s, id};
    return update_found(c, sql, 3, p);
}

static enum fg_err u_set_disabled(struct store_conn *c, const char *id, int disabled, int64_t now)
{
    static const char sql[] =
        "UPDATE users SET is_disabled = $1::smallint, updated_at = $2::bigint WHERE id = $3";
    struct pg_num v = pg_num(disabled ? 1 : 0), t = pg_num(now);
    const char *p[] = {v.s, t.s, id};
    return update_found(c, sql, 3, p);
}

static enum fg_err u_set_mfa(struct store_conn *c, const char *id, const char *secret, int enabled,
                             int64_t last_step, int64_t now)
{
    static const char sql[] =
        "UPDATE users SET mfa_secret = $1, mfa_enabled = $2::smallint, mfa_last_step = "
        "$3::bigint, updated_at = $4::bigint WHERE id = $5";
    struct pg_num en = pg_num(enabled ? 1 : 0), st = pg_num(last_step), t = pg_num(now);
    const char *p[] = {secret, en.s, st.s, t.s, id};
    return update_found(c, sql, 5, p);
}

static enum fg_err u_use_mfa_step(struct store_conn *c, const char *id, int64_t step, int *ok)
{
    /* one conditional UPDATE: a concurrent use of the same step waits for the row lock and then
     * re-checks the condition, so exactly one of them succeeds */
    static const char sql[] =
        "UPDATE users SET mfa_last_step = $1::bigint WHERE id = $2 AND mfa_last_step < $1::bigint";
    *ok = 0;
    struct pg_num s = pg_num(step);
    const char *p[] = {s.s, id};
    long long changes = 0;
    enum fg_err e = pg_run_locked(c, sql, 2, p, &changes);
    *ok = changes > 0;
    return e;
}

static enum fg_err u_set_locked_until(struct store_conn *c, const char *id, int64_t until)
{
    static const char sql[] = "UPDATE users SET locked_until = $1::bigint WHERE id = $2";
    struct pg_num u = pg_num(until);
    const char *p[] = {u.s, id};
    return update_found(c, sql, 2, p);
}

static enum fg_err u_set_last_login(struct store_conn *c, const char *id, int64_t now)
{
    static const char sql[] =
        "UPDATE users SET last_login_at = $1::bigint, locked_until = 0 WHERE id = $2";
    struct pg_num t = pg_num(now);
    const char *p[] = {t.s, id};
    return update_found(c, sql, 2, p);
}

static enum fg_err u_count_admins(struct store_conn *c, long long *n)
{
    static const char sql[] = "SELECT count(*) FROM users WHERE (roles & 8) != 0";
    enum fg_err e;
    *n = 0;
    PGresult *r = pg_exec(c, sql, 0, NULL, &e);
    if (!r)
        return e;
    *n = PQntuples(r) ? pg_get_i64(r, 0, 0) : 0;
    PQclear(r);
    return FG_OK;
}

/* ---- sessions ------------------------------------------------------------------------- */

static enum fg_err s_create(struct store_conn *c, const struct store_session *s)
{
    static const char sql[] = "INSERT INTO sessions (id, user_id, refresh_jti, created_at, "
                              "last_used_at, expires_at) VALUES ($1, $2, $3, $4::bigint, "
                              "$5::bigint, $6::bigint)";
    struct pg_num ca = pg_num(s->created_at), lu = pg_num(s->last_used_at),
                  ex = pg_num(s->expires_at);
    const char *p[] = {s->id, s->user_id, s->refresh_jti, ca.s, lu.s, ex.s};
    return pg_run_locked(c, sql, 6, p, NULL);
}

static enum fg_err s_get(struct store_conn *c, const char *id, struct store_session *out)
{
    static const char sql[] = "SELECT id, user_id, refresh_jti, created_at, last_used_at, "
                              "expires_at, coalesce(revoked_at, 0) FROM sessions WHERE id = $1";
    enum fg_err e;
    const char *p[] = {id};
    PGresult *r = pg_exec(c, sql, 1, p, &e);
    if (!r)
        return e;
    if (PQntuples(r) > 0) {
        memset(out, 0, sizeof *out);
        pg_get_text(r, 0, 0, out->id, sizeof out->id);
        pg_get_text(r, 0, 1, out->user_id, sizeof out->user_id);
        pg_get_text(r, 0, 2, out->refresh_jti, sizeof out->refresh_jti);
        out->created_at = pg_get_i64(r, 0, 3);
        out->last_used_at = pg_get_i64(r, 0, 4);
        out->expires_at = pg_get_i64(r, 0, 5);
        out->revoked_at = pg_get_i64(r, 0, 6);
    } else {
        e = FG_ENOTFOUND;
    }
    PQclear(r);
    return e;
}

static enum fg_err s_rotate(struct store_conn *c, const char *id, const char *old_jti,
                            const char *new_jti, int64_t new_expires, int64_t now, int *rotated)
{
    static const char sql[] =
        "UPDATE sessions SET refresh_jti = $1, expires_at = $2::bigint, last_used_at = $3::bigint "
        "WHERE id = $4 AND refresh_jti = $5 AND revoked_at IS NULL AND expires_at > $3::bigint";
    *rotated = 0;
    struct pg_num ex = pg_num(new_expires), t = pg_num(now);
    const char *p[] = {new_jti, ex.s, t.s, id, old_jti};
    long long changes = 0;
    enum fg_err e = pg_run_locked(c, sql, 5, p, &changes);
    *rotated = changes > 0;
    return e;
}

static enum fg_err s_revoke(struct store_conn *c, const char *id, const char *reason, int64_t now)
{
    static const char sql[] = "UPDATE sessions SET revoked_at = $1::bigint, revoke_reason = $2 "
                              "WHERE id = $3 AND revoked_at IS NULL";
    struct pg_num t = pg_num(now);
    const char *p[] = {t.s, reason, id};
    return pg_run_locked(c, sql, 3, p, NULL);
}

static enum fg_err s_revoke_user(struct store_conn *c, const char *user_id, const char *except_id,
                                 const char *reason, int64_t now,
                                 void (*fn)(void *ctx, const char *sid), void *ctx)
{
    /* one statement: the ids reported are exactly the sessions this call revoked */
    static const char sql[] =
        "UPDATE sessions SET revoked_at = $1::bigint, revoke_reason = $2 WHERE user_id = $3 AND "
        "revoked_at IS NULL AND id != coalesce($4::text, '') RETURNING id";
    struct pg_num t = pg_num(now);
    const char *p[] = {t.s, reason, user_id, except_id};
    enum fg_err e = pg_tx_write_lock(c);
    if (e != FG_OK)
        return e;
    PGresult *r = pg_exec(c, sql, 4, p, &e);
    if (!r)
        return e;
    for (int i = 0; fn && i < PQntuples(r); i++)
        fn(ctx, PQgetvalue(r, i, 0));
    PQclear(r);
    return FG_OK;
}

static enum fg_err s_purge(struct store_conn *c, int64_t before, long long *deleted)
{
    /* rows another transaction holds are left for the next purge (never a deadlock with it) */
    static const char sql[] =
        "DELETE FROM sessions WHERE id IN (SELECT id FROM sessions WHERE expires_at < $1::bigint "
        "OR revoked_at < $1::bigint FOR UPDATE SKIP LOCKED)";
    struct pg_num b = pg_num(before);
    const char *p[] = {b.s};
    long long changes = 0;
    enum fg_err e = pg_run_locked(c, sql, 1, p, &changes);
    if (deleted)
        *deleted = e == FG_OK ? changes : 0;
    return e;
}

static enum fg_err u_set_email(struct store_conn *c, const char *id, const char *bidx,
                               const char *enc)
{
    static const char sql[] = "UPDATE users SET email = $1, email_enc = $2 WHERE id = $3";
    const char *p[] = {bidx, enc, id};
    return update_found(c, sql, 3, p);
}

const struct store_user_ops pg_user_ops = {
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
