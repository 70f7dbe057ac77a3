/*
 * SQLite key store (store/keys.h): its own database file `keys.db` next to the data file, with
 * its own WAL and its own backup, so the data file alone never carries the keys that open it.
 * One connection behind a mutex; the crypt module caches unwrapped keys.
 */
#include <errno.h>
#include <pthread.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "store/keys.h"
#include "util/log.h"
#include "util/mem.h"
#include "util/time.h"

struct sq_keys {
    struct store_keystore base;
    sqlite3 *db;
    pthread_mutex_t mu;
    char path[4096];
};

static const char schema[] =
    "CREATE TABLE IF NOT EXISTS data_keys ("
    " owner TEXT PRIMARY KEY NOT NULL,"
    " dk_version INTEGER NOT NULL,"
    " kek_version INTEGER NOT NULL,"
    " wrapped BLOB NOT NULL,"
    " created_at INTEGER NOT NULL) STRICT;"
    "CREATE INDEX IF NOT EXISTS data_keys_kek ON data_keys (kek_version, owner);"
    "CREATE TABLE IF NOT EXISTS meta (name TEXT PRIMARY KEY NOT NULL, value TEXT NOT NULL) STRICT;";

static struct sq_keys *K(struct store_keystore *ks)
{
    return (struct sq_keys *)ks;
}

static enum fg_err sq_fail(struct sq_keys *k, int rc, const char *what)
{
    fg_log(FG_LOG_ERROR, "keystore_error", FG_LF_STR("op", what),
           FG_LF_STR("error", sqlite3_errmsg(k->db)), FG_LF_END);
    if (rc == SQLITE_BUSY || rc == SQLITE_LOCKED)
        return FG_EUNAVAIL;
    if ((rc & 0xff) == SQLITE_CONSTRAINT)
        return FG_ECONFLICT;
    return FG_EDB;
}

static void row_key(sqlite3_stmt *st, struct store_wrapped_key *out)
{
    memset(out, 0, sizeof *out);
    const unsigned char *o = sqlite3_column_text(st, 0);
    snprintf(out->owner, sizeof out->owner, "%s", o ? (const char *)o : "");
    out->dk_version = sqlite3_column_int(st, 1);
    out->kek_version = sqlite3_column_int(st, 2);
    int n = sqlite3_column_bytes(st, 3);
    const void *b = sqlite3_column_blob(st, 3);
    if (b && n > 0 && (size_t)n <= sizeof out->wrapped) {
        memcpy(out->wrapped, b, (size_t)n);
        out->wrapped_len = (size_t)n;
    }
    out->created_at = sqlite3_column_int64(st, 4);
}

static enum fg_err k_get(struct store_keystore *ks, const char *owner,
                         struct store_wrapped_key *out)
{
    struct sq_keys *k = K(ks);
    sqlite3_stmt *st = NULL;
    pthread_mutex_lock(&k->mu);
    int rc = sqlite3_prepare_v2(k->db,
                                "SELECT owner, dk_version, kek_version, wrapped, created_at "
                                "FROM data_keys WHERE owner = ?",
                                -1, &st, NULL);
    enum fg_err e = FG_OK;
    if (rc == SQLITE_OK) {
        sqlite3_bind_text(st, 1, owner, -1, SQLITE_STATIC);
        rc = sqlite3_step(st);
        if (rc == SQLITE_ROW)
            row_key(st, out);
        else if (rc == SQLITE_DONE)
            e = FG_ENOTFOUND;
        else
            e = sq_fail(k, rc, "get");
    } else {
        e = sq_fail(k, rc, "get");
    }
    sqlite3_finalize(st);
    pthread_mutex_unlock(&k->mu);
    return e;
}

static enum fg_err k_insert(struct store_keystore *ks, const struct store_wrapped_key *w)
{
    struct sq_keys *k = K(ks);
    sqlite3_stmt *st = NULL;
    pthread_mutex_lock(&k->mu);
    int rc = sqlite3_prepare_v2(k->db,
                                "INSERT OR IGNORE INTO data_keys (owner, dk_version, kek_version, "
                                "wrapped, created_at) VALUES (?, ?, ?, ?, ?)",
                                -1, &st, NULL);
    if (rc == SQLITE_OK) {
        sqlite3_bind_text(st, 1, w->owner, -1, SQLITE_STATIC);
        sqlite3_bind_int(st, 2, w->dk_version);
        sqlite3_bind_int(st, 3, w->kek_version);
        sqlite3_bind_blob(st, 4, w->wrapped, (int)w->wrapped_len, SQLITE_STATIC);
        sqlite3_bind_int64(st, 5, w->created_at);
        rc = sqlite3_step(st);
    }
    enum fg_err e = rc == SQLITE_DONE ? FG_OK : sq_fail(k, rc, "insert");
    sqlite3_finalize(st);
    pthread_mutex_unlock(&k->mu);
    return e;
}

static enum fg_err k_rewrap(struct store_keystore *ks, const struct store_wrapped_key *w,
                            int old_kek_version, int *changed)
{
    struct sq_keys *k = K(ks);
    sqlite3_stmt *st = NULL;
    *changed = 0;
    pthread_mutex_lock(&k->mu);
    int rc = sqlite3_prepare_v2(k->db,
                                "UPDATE data_keys SET wrapped = ?, kek_version = ? "
                                "WHERE owner = ? AND kek_version = ?",
                                -1, &st, NULL);
    if (rc == SQLITE_OK) {
        sqlite3_bind_blob(st, 1, w->wrapped, (int)w->wrapped_len, SQLITE_STATIC);
        sqlite3_bind_int(st, 2, w->kek_version);
        sqlite3_bind_text(st, 3, w->owner, -1, SQLITE_STATIC);
        sqlite3_bind_int(st, 4, old_kek_version);
        rc = sqlite3_step(st);
    }
    enum fg_err e = rc == SQLITE_DONE ? FG_OK : sq_fail(k, rc, "rewrap");
    if (e == FG_OK)
        *changed = sqlite3_changes(k->db) > 0;
    sqlite3_finalize(st);
    pthread_mutex_unlock(&k->mu);
    return e;
}

static enum fg_err k_list_other(struct store_keystore *ks, int kek_version, const char *after,
                                int limit, store_key_cb cb, void *ctx)
{
    struct sq_keys *k = K(ks);
    sqlite3_stmt *st = NULL;
    pthread_mutex_lock(&k->mu);
    int rc = sqlite3_prepare_v2(k->db,
                                "SELECT owner, dk_version, kek_version, wrapped, created_at "
                                "FROM data_keys WHERE kek_version <> ? AND owner > ? "
                                "ORDER BY owner LIMIT ?",
                                -1, &st, NULL);
    enum fg_err e = FG_OK;
    if (rc == SQLITE_OK) {
        sqlite3_bind_int(st, 1, kek_version);
        sqlite3_bind_text(st, 2, after ? after : "", -1, SQLITE_STATIC);
        sqlite3_bind_int(st, 3, limit);
        /* collect first: the callback may call back into the key store */
        struct store_wrapped_key *rows = fg_xcalloc((size_t)(limit > 0 ? limit : 1), sizeof *rows);
        int n = 0;
        while (n < limit && (rc = sqlite3_step(st)) == SQLITE_ROW)
            row_key(st, &rows[n++]);
        if (rc != SQLITE_ROW && rc != SQLITE_DONE)
            e = sq_fail(k, rc, "list");
        sqlite3_finalize(st);
        st = NULL;
        pthread_mutex_unlock(&k->mu);
        for (int i = 0; e == FG_OK && i < n; i++)
            if (cb(&rows[i], ctx) != 0)
                break;
        for (int i = 0; i < n; i++)
            memset(rows[i].wrapped, 0, sizeof rows[i].wrapped);
        free(rows);
        return e;
    }
    e = sq_fail(k, rc, "list");
    pthread_mutex_unlock(&k->mu);
    return e;
}

static enum fg_err simple_exec(struct sq_keys *k, const char *sql, const char *a, const char *b,
                               int *changes, const char *what)
{
    sqlite3_stmt *st = NULL;
    pthread_mutex_lock(&k->mu);
    int rc = sqlite3_prepare_v2(k->db, sql, -1, &st, NULL);
    if (rc == SQLITE_OK) {
        if (a)
            sqlite3_bind_text(st, 1, a, -1, SQLITE_STATIC);
        if (b)
            sqlite3_bind_text(st, 2, b, -1, SQLITE_STATIC);
        rc = sqlite3_step(st);
    }
    enum fg_err e = rc == SQLITE_DONE ? FG_OK : sq_fail(k, rc, what);
    if (e == FG_OK && changes)
        *changes = sqlite3_changes(k->db);
    sqlite3_finalize(st);
    pthread_mutex_unlock(&k->mu);
    return e;
}

static enum fg_err k_destroy(struct store_keystore *ks, const char *owner)
{
    int n = 0;
    enum fg_err e =
        simple_exec(K(ks), "DELETE FROM data_keys WHERE owner = ?", owner, NULL, &n, "destroy");
    if (e == FG_OK && n == 0)
        e = FG_ENOTFOUND;
    return e;
}

static enum fg_err k_meta_set(struct store_keystore *ks, const char *name, const char *val)
{
    return simple_exec(K(ks),
                       "INSERT INTO meta (name, value) VALUES (?, ?) "
                       "ON CONFLICT (name) DO UPDATE SET value = excluded.value",
                       name, val, NULL, "meta_set");
}

static enum fg_err k_meta_get(struct store_keystore *ks, const char *name, char *val, size_t cap)
{
    struct sq_keys *k = K(ks);
    sqlite3_stmt *st = NULL;
    pthread_mutex_lock(&k->mu);
    int rc = sqlite3_prepare_v2(k->db, "SELECT value FROM meta WHERE name = ?", -1, &st, NULL);
    enum fg_err e = FG_OK;
    if (rc == SQLITE_OK) {
        sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
        rc = sqlite3_step(st);
        if (rc == SQLITE_ROW) {
            const unsigned char *v = sqlite3_column_text(st, 0);
            snprintf(val, cap, "%s", v ? (const char *)v : "");
        } else if (rc == SQLITE_DONE) {
            e = FG_ENOTFOUND;
        } else {
            e = sq_fail(k, rc, "meta_get");
        }
    } else {
        e = sq_fail(k, rc, "meta_get");
    }
    sqlite3_finalize(st);
    pthread_mutex_unlock(&k->mu);
    return e;
}

static enum fg_err k_count(struct store_keystore *ks, long long *n)
{
    struct sq_keys *k = K(ks);
    sqlite3_stmt *st = NULL;
    *n = 0;
    pthread_mutex_lock(&k->mu);
    int rc = sqlite3_prepare_v2(k->db, "SELECT count(*) FROM data_keys", -1, &st, NULL);
    if (rc == SQLITE_OK && (rc = sqlite3_step(st)) == SQLITE_ROW) {
        *n = sqlite3_column_int64(st, 0);
        rc = SQLITE_DONE;
    }
    enum fg_err e = rc == SQLITE_DONE ? FG_OK : sq_fail(k, rc, "count");
    sqlite3_finalize(st);
    pthread_mutex_unlock(&k->mu);
    return e;
}

/* The same online copy as the data file's backup (store/sqlite/sqlite.c), file mode 0600. */
static enum fg_err k_backup(struct store_keystore *ks, const char *path, char *err, size_t errlen)
{
    struct sq_keys *k = K(ks);
    char tmp[4200];
    snprintf(tmp, sizeof tmp, "%s.partial", path);
    remove(tmp);
    sqlite3 *dst = NULL;
    int rc = sqlite3_open(tmp, &dst);
    if (rc == SQLITE_OK)
        chmod(tmp, 0600);
    pthread_mutex_lock(&k->mu);
    if (rc == SQLITE_OK) {
        sqlite3_backup *b = sqlite3_backup_init(dst, "main", k->db, "main");
        if (!b) {
            rc = sqlite3_errcode(dst);
        } else {
            do {
                rc = sqlite3_backup_step(b, -1);
                if (rc == SQLITE_BUSY || rc == SQLITE_LOCKED)
                    sqlite3_sleep(10);
            } while (rc == SQLITE_OK || rc == SQLITE_BUSY || rc == SQLITE_LOCKED);
            sqlite3_backup_finish(b);
            if (rc == SQLITE_DONE)
                rc = SQLITE_OK;
        }
    }
    pthread_mutex_unlock(&k->mu);
    if (rc == SQLITE_OK)
        rc = sqlite3_exec(dst, "PRAGMA journal_mode=DELETE", NULL, NULL, NULL);
    sqlite3_close(dst);
    if (rc != SQLITE_OK) {
        snprintf(err, errlen, "key store backup failed: %s", sqlite3_errstr(rc));
        remove(tmp);
        return FG_EIO;
    }
    if (rename(tmp, path) != 0) {
        snprintf(err, errlen, "cannot move key store backup into place: %s", strerror(errno));
        remove(tmp);
        return FG_EIO;
    }
    return FG_OK;
}

static void k_close(struct store_keystore *ks)
{
    struct sq_keys *k = K(ks);
    if (!k)
        return;
    sqlite3_close(k->db);
    pthread_mutex_destroy(&k->mu);
    free(k);
}

static const struct store_keystore_ops sq_keys_ops = {
    .close = k_close,
    .get = k_get,
    .insert = k_insert,
    .rewrap = k_rewrap,
    .list_other_kek = k_list_other,
    .destroy = k_destroy,
    .meta_get = k_meta_get,
    .meta_set = k_meta_set,
    .backup = k_backup,
    .count = k_count,
};

enum fg_err store_keystore_sqlite_open(const char *path, struct store_keystore **out, char *err,
                                       size_t errlen);
enum fg_err store_keystore_sqlite_open(const char *path, struct store_keystore **out, char *err,
                                       size_t errlen)
{
    *out = NULL;
    struct sq_keys *k = fg_xcalloc(1, sizeof *k);
    snprintf(k->path, sizeof k->path, "%s", path);
    struct stat sb;
    int existed = stat(path, &sb) == 0;
    int rc = sqlite3_open_v2(
        path, &k->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_FULLMUTEX, NULL);
    if (rc == SQLITE_OK && !existed)
        chmod(path, 0600);
    if (rc == SQLITE_OK)
        rc = sqlite3_busy_timeout(k->db, 5000);
    if (rc == SQLITE_OK)
        rc = sqlite3_exec(k->db,
                          "PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL; "
                          "PRAGMA secure_delete=ON;",
                          NULL, NULL, NULL);
    if (rc == SQLITE_OK)
        rc = sqlite3_exec(k->db, schema, NULL, NULL, NULL);
    if (rc != SQLITE_OK) {
        snprintf(err, errlen, "key store %s: %s", path, k->db ? sqlite3_errmsg(k->db) : "oom");
        sqlite3_close(k->db);
        free(k);
        return FG_EIO;
    }
    pthread_mutex_init(&k->mu, NULL);
    k->base.ops = &sq_keys_ops;
    k->base.impl = k;
    *out = &k->base;
    return FG_OK;
}

/* `forge restore --keys FILE`: copies a key-store backup over keys.db (refusing to replace an
 * existing one without `force`). Stop the servers first. */
enum fg_err store_keystore_sqlite_restore(const char *src, const char *dst, int force, char *err,
                                          size_t errlen);
enum fg_err store_keystore_sqlite_restore(const char *src, const char *dst, int force, char *err,
                                          size_t errlen)
{
    struct stat sb;
    if (!force && stat(dst, &sb) == 0) {
        snprintf(err, errlen, "%s exists: run again with --force to replace it", dst);
        return FG_ECONFLICT;
    }
    sqlite3 *in = NULL, *out = NULL;
    sqlite3_stmt *st = NULL;
    int rc = sqlite3_open_v2(src, &in, SQLITE_OPEN_READONLY, NULL);
    if (rc == SQLITE_OK)
        rc = sqlite3_prepare_v2(in, "SELECT count(*) FROM data_keys", -1, &st, NULL);
    if (rc == SQLITE_OK && sqlite3_step(st) != SQLITE_ROW)
        rc = SQLITE_CORRUPT;
    sqlite3_finalize(st);
    if (rc != SQLITE_OK) {
        snprintf(err, errlen, "'%s' is not a Forge key store backup", src);
        sqlite3_close(in);
        return FG_EINVAL;
    }
    rc = sqlite3_open(dst, &out);
    if (rc == SQLITE_OK) {
        chmod(dst, 0600);
        sqlite3_busy_timeout(out, 5000);
        sqlite3_backup *b = sqlite3_backup_init(out, "main", in, "main");
        rc = b ? sqlite3_backup_step(b, -1) : sqlite3_errcode(out);
        if (b)
            sqlite3_backup_finish(b);
        if (rc == SQLITE_DONE)
            rc = SQLITE_OK;
    }
    if (rc == SQLITE_OK)
        rc = sqlite3_exec(out, "PRAGMA journal_mode=WAL", NULL, NULL, NULL);
    sqlite3_close(out);
    sqlite3_close(in);
    if (rc != SQLITE_OK) {
        snprintf(err, errlen, "restoring the key store into %s failed: %s", dst,
                 sqlite3_errstr(rc));
        return FG_EIO;
    }
    return FG_OK;
}
