/*
 * PostgreSQL key store (store/keys.h): its own schema `forge_keys` (data_keys, meta) in the
 * DATABASE_URL database, over its own connection (not the data pool), left out of the data dump
 * of `forge backup` and dumped on its own by `forge backup --keys` (pg_dump --schema=forge_keys).
 */
#include <errno.h>
#include <libpq-fe.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "store/keys.h"
#include "store/pg/pg_int.h"
#include "util/log.h"
#include "util/mem.h"

struct pg_keys {
    struct store_keystore base;
    PGconn *pg;
    pthread_mutex_t mu;
    char url[4096];
};

static const char schema[] =
    "BEGIN;"
    "SELECT pg_advisory_xact_lock(7308090);"
    "CREATE SCHEMA IF NOT EXISTS forge_keys;"
    "CREATE TABLE IF NOT EXISTS forge_keys.data_keys ("
    " owner TEXT COLLATE \"C\" PRIMARY KEY,"
    " dk_version INTEGER NOT NULL,"
    " kek_version INTEGER NOT NULL,"
    " wrapped BYTEA NOT NULL,"
    " created_at BIGINT NOT NULL);"
    "CREATE INDEX IF NOT EXISTS data_keys_kek ON forge_keys.data_keys (kek_version, owner);"
    "CREATE TABLE IF NOT EXISTS forge_keys.meta (name TEXT PRIMARY KEY, value TEXT NOT NULL);"
    "COMMIT;";

static struct pg_keys *K(struct store_keystore *ks)
{
    return (struct pg_keys *)ks;
}

/* Runs one statement under the mutex, reconnecting once when the connection dropped. Returns the
 * result (caller clears) or NULL with *e set. Call with k->mu held. */
static PGresult *run(struct pg_keys *k, const char *sql, int n, const char *const *p,
                     enum fg_err *e)
{
    for (int attempt = 0; attempt < 2; attempt++) {
        if (PQstatus(k->pg) != CONNECTION_OK)
            PQreset(k->pg);
        PGresult *r = PQexecParams(k->pg, sql, n, NULL, p, NULL, NULL, 0);
        ExecStatusType st = r ? PQresultStatus(r) : PGRES_FATAL_ERROR;
        if (st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK) {
            *e = FG_OK;
            return r;
        }
        const char *state = r ? PQresultErrorField(r, PG_DIAG_SQLSTATE) : NULL;
        int gone = PQstatus(k->pg) != CONNECTION_OK;
        if (!gone || attempt == 1) {
            fg_log(FG_LOG_ERROR, "keystore_error", FG_LF_STR("sqlstate", state ? state : "-"),
                   FG_LF_STR("error", PQerrorMessage(k->pg)), FG_LF_END);
            *e =
                gone ? FG_EUNAVAIL : (state && strcmp(state, "23505") == 0 ? FG_ECONFLICT : FG_EDB);
            PQclear(r);
            return NULL;
        }
        PQclear(r);
    }
    *e = FG_EUNAVAIL;
    return NULL;
}

static void row_key(const PGresult *r, int i, struct store_wrapped_key *out)
{
    memset(out, 0, sizeof *out);
    snprintf(out->owner, sizeof out->owner, "%s", PQgetvalue(r, i, 0));
    out->dk_version = (int)strtol(PQgetvalue(r, i, 1), NULL, 10);
    out->kek_version = (int)strtol(PQgetvalue(r, i, 2), NULL, 10);
    size_t n = 0;
    const char *t = PQgetvalue(r, i, 3);
    unsigned char *b = pg_bytea_decode(t, strlen(t), &n);
    if (b && n <= sizeof out->wrapped) {
        memcpy(out->wrapped, b, n);
        out->wrapped_len = n;
    }
    free(b);
    out->created_at = strtoll(PQgetvalue(r, i, 4), NULL, 10);
}

#define KEY_COLS "owner, dk_version, kek_version, wrapped, created_at"

static enum fg_err k_get(struct store_keystore *ks, const char *owner,
                         struct store_wrapped_key *out)
{
    struct pg_keys *k = K(ks);
    const char *p[] = {owner};
    enum fg_err e;
    pthread_mutex_lock(&k->mu);
    PGresult *r =
        run(k, "SELECT " KEY_COLS " FROM forge_keys.data_keys WHERE owner = $1", 1, p, &e);
    if (r) {
        if (PQntuples(r) == 1)
            row_key(r, 0, out);
        else
            e = FG_ENOTFOUND;
        PQclear(r);
    }
    pthread_mutex_unlock(&k->mu);
    return e;
}

static enum fg_err k_insert(struct store_keystore *ks, const struct store_wrapped_key *w)
{
    struct pg_keys *k = K(ks);
    char dk[16], kv[16], at[24];
    snprintf(dk, sizeof dk, "%d", w->dk_version);
    snprintf(kv, sizeof kv, "%d", w->kek_version);
    snprintf(at, sizeof at, "%lld", (long long)w->created_at);
    char *hex = pg_bytea_hex(w->wrapped, w->wrapped_len);
    const char *p[] = {w->owner, dk, kv, hex, at};
    enum fg_err e;
    pthread_mutex_lock(&k->mu);
    PGresult *r = run(k,
                      "INSERT INTO forge_keys.data_keys (" KEY_COLS ") VALUES ($1, $2, $3, $4, $5) "
                      "ON CONFLICT (owner) DO NOTHING",
                      5, p, &e);
    PQclear(r);
    pthread_mutex_unlock(&k->mu);
    free(hex);
    return e;
}

static enum fg_err k_rewrap(struct store_keystore *ks, const struct store_wrapped_key *w,
                            int old_kek_version, int *changed)
{
    struct pg_keys *k = K(ks);
    char kv[16], old[16];
    snprintf(kv, sizeof kv, "%d", w->kek_version);
    snprintf(old, sizeof old, "%d", old_kek_version);
    char *hex = pg_bytea_hex(w->wrapped, w->wrapped_len);
    const char *p[] = {hex, kv, w->owner, old};
    enum fg_err e;
    *changed = 0;
    pthread_mutex_lock(&k->mu);
    PGresult *r = run(k,
                      "UPDATE forge_keys.data_keys SET wrapped = $1, kek_version = $2 "
                      "WHERE owner = $3 AND kek_version = $4",
                      4, p, &e);
    if (r) {
        *changed = strtol(PQcmdTuples(r), NULL, 10) > 0;
        PQclear(r);
    }
    pthread_mutex_unlock(&k->mu);
    free(hex);
    return e;
}

static enum fg_err k_list_other(struct store_keystore *ks, int kek_version, const char *after,
                                int limit, store_key_cb cb, void *ctx)
{
    struct pg_keys *k = K(ks);
    char kv[16], lim[16];
    snprintf(kv, sizeof kv, "%d", kek_version);
    snprintf(lim, sizeof lim, "%d", limit);
    const char *p[] = {kv, after ? after : "", lim};
    enum fg_err e;
    pthread_mutex_lock(&k->mu);
    PGresult *r = run(k,
                      "SELECT " KEY_COLS " FROM forge_keys.data_keys WHERE kek_version <> $1 "
                      "AND owner > $2 ORDER BY owner LIMIT $3",
                      3, p, &e);
    pthread_mutex_unlock(&k->mu);
    if (!r)
        return e;
    int n = PQntuples(r);
    for (int i = 0; i < n; i++) {
        struct store_wrapped_key w;
        row_key(r, i, &w);
        int stop = cb(&w, ctx);
        memset(&w, 0, sizeof w);
        if (stop)
            break;
    }
    PQclear(r);
    return FG_OK;
}

static enum fg_err k_destroy(struct store_keystore *ks, const char *owner)
{
    struct pg_keys *k = K(ks);
    const char *p[] = {owner};
    enum fg_err e;
    pthread_mutex_lock(&k->mu);
    PGresult *r = run(k, "DELETE FROM forge_keys.data_keys WHERE owner = $1", 1, p, &e);
    if (r) {
        if (strtol(PQcmdTuples(r), NULL, 10) == 0)
            e = FG_ENOTFOUND;
        PQclear(r);
    }
    pthread_mutex_unlock(&k->mu);
    return e;
}

static enum fg_err k_meta_get(struct store_keystore *ks, const char *name, char *val, size_t cap)
{
    struct pg_keys *k = K(ks);
    const char *p[] = {name};
    enum fg_err e;
    pthread_mutex_lock(&k->mu);
    PGresult *r = run(k, "SELECT value FROM forge_keys.meta WHERE name = $1", 1, p, &e);
    if (r) {
        if (PQntuples(r) == 1)
            snprintf(val, cap, "%s", PQgetvalue(r, 0, 0));
        else
            e = FG_ENOTFOUND;
        PQclear(r);
    }
    pthread_mutex_unlock(&k->mu);
    return e;
}

static enum fg_err k_meta_set(struct store_keystore *ks, const char *name, const char *val)
{
    struct pg_keys *k = K(ks);
    const char *p[] = {name, val};
    enum fg_err e;
    pthread_mutex_lock(&k->mu);
    PGresult *r = run(k,
                      "INSERT INTO forge_keys.meta (name, value) VALUES ($1, $2) "
                      "ON CONFLICT (name) DO UPDATE SET value = excluded.value",
                      2, p, &e);
    PQclear(r);
    pthread_mutex_unlock(&k->mu);
    return e;
}

static enum fg_err k_count(struct store_keystore *ks, long long *n)
{
    struct pg_keys *k = K(ks);
    enum fg_err e;
    *n = 0;
    pthread_mutex_lock(&k->mu);
    PGresult *r = run(k, "SELECT count(*) FROM forge_keys.data_keys", 0, NULL, &e);
    if (r) {
        *n = strtoll(PQgetvalue(r, 0, 0), NULL, 10);
        PQclear(r);
    }
    pthread_mutex_unlock(&k->mu);
    return e;
}

/* Splits postgresql://user:password@host/db into a password-free URL and the password (as
 * store/pg/pg.c does for the data dump). */
static void split_password(const char *url, char *clean, size_t len, char *pw, size_t pwlen)
{
    snprintf(clean, len, "%s", url);
    pw[0] = '\0';
    char *scheme = strstr(clean, "://");
    if (!scheme)
        return;
    char *at = strchr(scheme + 3, '@');
    if (!at)
        return;
    char *colon = memchr(scheme + 3, ':', (size_t)(at - (scheme + 3)));
    if (!colon)
        return;
    size_t n = (size_t)(at - colon - 1);
    if (n >= pwlen)
        n = pwlen - 1;
    memcpy(pw, colon + 1, n);
    pw[n] = '\0';
    memmove(colon, at, strlen(at) + 1);
}

static int run_tool(const char *const *argv, const char *password)
{
    pid_t pid = fork();
    if (pid < 0)
        return -1;
    if (pid == 0) {
        if (password)
            setenv("PGPASSWORD", password, 1);
        execvp(argv[0], (char *const *)argv);
        _exit(127);
    }
    int status = 0;
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
        ;
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

static enum fg_err k_backup(struct store_keystore *ks, const char *path, char *err, size_t errlen)
{
    struct pg_keys *k = K(ks);
    char url[4096], pw[512], tmp[4200];
    split_password(k->url, url, sizeof url, pw, sizeof pw);
    snprintf(tmp, sizeof tmp, "%s.partial", path);
    const char *argv[] = {"pg_dump",    "--format=custom",
                          "--no-owner", "--schema=forge_keys",
                          "--file",     tmp,
                          "--dbname",   url,
                          NULL};
    int rc = run_tool(argv, pw[0] ? pw : NULL);
    memset(pw, 0, sizeof pw);
    if (rc != 0) {
        snprintf(err, errlen, "pg_dump of the key store failed (exit %d)", rc);
        remove(tmp);
        return FG_EIO;
    }
    chmod(tmp, 0600);
    if (rename(tmp, path) != 0) {
        snprintf(err, errlen, "cannot move key store backup into place: %s", strerror(errno));
        return FG_EIO;
    }
    return FG_OK;
}

/* pg_restore of a `forge backup --keys` dump into the forge_keys schema (replacing it). */
enum fg_err store_keystore_pg_restore(const char *url_with_pw, const char *path, char *err,
                                      size_t errlen);
enum fg_err store_keystore_pg_restore(const char *url_with_pw, const char *path, char *err,
                                      size_t errlen)
{
    char url[4096], pw[512];
    split_password(url_with_pw, url, sizeof url, pw, sizeof pw);
    const char *argv[] = {
        "pg_restore", "--clean", "--if-exists", "--no-owner", "--single-transaction",
        "--dbname",   url,       path,          NULL};
    int rc = run_tool(argv, pw[0] ? pw : NULL);
    memset(pw, 0, sizeof pw);
    if (rc != 0) {
        snprintf(err, errlen, "pg_restore of the key store failed (exit %d)", rc);
        return FG_EIO;
    }
    return FG_OK;
}

static void k_close(struct store_keystore *ks)
{
    struct pg_keys *k = K(ks);
    if (!k)
        return;
    PQfinish(k->pg);
    pthread_mutex_destroy(&k->mu);
    memset(k->url, 0, sizeof k->url);
    free(k);
}

static void notice_quiet(void *arg, const char *msg)
{
    (void)arg;
    (void)msg;
}

static const struct store_keystore_ops pg_keys_ops = {
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

enum fg_err store_keystore_pg_open(const char *url, struct store_keystore **out, char *err,
                                   size_t errlen);
enum fg_err store_keystore_pg_open(const char *url, struct store_keystore **out, char *err,
                                   size_t errlen)
{
    *out = NULL;
    struct pg_keys *k = fg_xcalloc(1, sizeof *k);
    snprintf(k->url, sizeof k->url, "%s", url);
    k->pg = PQconnectdb(url);
    if (!k->pg || PQstatus(k->pg) != CONNECTION_OK) {
        snprintf(err, errlen, "key store: cannot connect to PostgreSQL");
        PQfinish(k->pg);
        free(k);
        return FG_EUNAVAIL;
    }
    PQsetNoticeProcessor(k->pg, notice_quiet, NULL);
    PGresult *r = PQexec(k->pg, schema);
    if (!r || PQresultStatus(r) != PGRES_COMMAND_OK) {
        snprintf(err, errlen, "key store: cannot create schema forge_keys: %s",
                 PQerrorMessage(k->pg));
        PQclear(r);
        PQfinish(k->pg);
        free(k);
        return FG_EDB;
    }
    PQclear(r);
    pthread_mutex_init(&k->mu, NULL);
    k->base.ops = &pg_keys_ops;
    k->base.impl = k;
    *out = &k->base;
    return FG_OK;
}
