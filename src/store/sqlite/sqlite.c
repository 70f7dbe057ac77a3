/*
 * SQLite backend: lifecycle, connection pool, transactions, migrations, backup.
 *
 * Durability: WAL journal with synchronous=FULL. In WAL mode a commit is durable against a process
 * kill (kill -9) already at NORMAL, because the WAL frames are in the OS page cache when COMMIT
 * returns; FULL additionally fsyncs the WAL at every commit so an acknowledged write also
 * survives power loss or a kernel crash. That is what "a 2xx means it is stored" must mean for a
 * production service, so FULL is the default (docs/operations/backup.md).
 *
 * Concurrency: a pool of DATABASE_POOL_SIZE connections (mutex + condition variable). Readers run
 * concurrently (WAL); writers serialise on BEGIN IMMEDIATE with busy_timeout waiting. Each
 * connection caches prepared statements; release() resets them so no read snapshot stays open.
 */
#include "store/sqlite/sqlite_int.h"

#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "store/migrations.h"
#include "util/config.h"
#include "util/log.h"
#include "util/mem.h"

#define STMT_CACHE 256

struct stmt_entry {
    const char *sql;
    sqlite3_stmt *st;
};

struct sq_conn {
    struct store_conn pub; /* first: cast between the two */
    struct stmt_entry cache[STMT_CACHE];
};

struct sq_store {
    struct store base;
    char *path;
    int busy_ms;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    struct store_conn *free_list;
    int open_conns, max_conns;
};

static const struct store_ops sqlite_ops;

/* Area vtables live in their own files; weak so the backend links while an area is missing. */
extern const struct store_user_ops sqlite_user_ops __attribute__((weak));
extern const struct store_capsule_ops sqlite_capsule_ops __attribute__((weak));
extern const struct store_audit_ops sqlite_audit_ops __attribute__((weak));
extern const struct store_immune_ops sqlite_immune_ops __attribute__((weak));
extern const struct store_governance_ops sqlite_governance_ops __attribute__((weak));

static int exec(sqlite3 *db, const char *sql)
{
    char *msg = NULL;
    int rc = sqlite3_exec(db, sql, NULL, NULL, &msg);
    if (rc != SQLITE_OK) {
        fg_log(FG_LOG_ERROR, "sqlite_exec", FG_LF_STR("error", msg ? msg : sqlite3_errstr(rc)),
               FG_LF_END);
        sqlite3_free(msg);
    }
    return rc;
}

static struct store_conn *conn_open(struct sq_store *s, enum fg_err *err)
{
    sqlite3 *db = NULL;
    int rc = sqlite3_open_v2(s->path, &db,
                             SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, NULL);
    if (rc != SQLITE_OK) {
        fg_log(FG_LOG_ERROR, "sqlite_open", FG_LF_STR("error", db ? sqlite3_errmsg(db) : "open"),
               FG_LF_END);
        sqlite3_close(db);
        *err = FG_EUNAVAIL;
        return NULL;
    }
    sqlite3_busy_timeout(db, s->busy_ms);
    sqlite3_extended_result_codes(db, 1);
    if (exec(db, "PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL; PRAGMA foreign_keys=ON;"
                 "PRAGMA temp_store=MEMORY; PRAGMA cache_size=-16000;") != SQLITE_OK) {
        sqlite3_close(db);
        *err = FG_EDB;
        return NULL;
    }
    struct sq_conn *c = fg_xcalloc(1, sizeof *c);
    c->pub.db = db;
    return &c->pub;
}

static void conn_close(struct store_conn *pc)
{
    struct sq_conn *c = (struct sq_conn *)pc;
    for (size_t i = 0; i < STMT_CACHE; i++)
        if (c->cache[i].st)
            sqlite3_finalize(c->cache[i].st);
    sqlite3_close(pc->db);
    free(c);
}

sqlite3_stmt *sq_prepare(struct store_conn *pc, const char *sql)
{
    struct sq_conn *c = (struct sq_conn *)pc;
    size_t h = ((uintptr_t)sql >> 3) % STMT_CACHE;
    for (size_t n = 0; n < STMT_CACHE; n++) {
        struct stmt_entry *e = &c->cache[(h + n) % STMT_CACHE];
        if (e->sql == sql) {
            sqlite3_reset(e->st);
            sqlite3_clear_bindings(e->st);
            return e->st;
        }
        if (!e->sql) {
            sqlite3_stmt *st = NULL;
            int rc = sqlite3_prepare_v3(pc->db, sql, -1, SQLITE_PREPARE_PERSISTENT, &st, NULL);
            if (rc != SQLITE_OK) {
                fg_log(FG_LOG_ERROR, "sqlite_prepare", FG_LF_STR("error", sqlite3_errmsg(pc->db)),
                       FG_LF_END);
                return NULL;
            }
            e->sql = sql;
            e->st = st;
            return st;
        }
    }
    /* cache full: should not happen with a fixed set of statements */
    fg_log(FG_LOG_ERROR, "sqlite_prepare", FG_LF_STR("error", "statement cache full"), FG_LF_END);
    return NULL;
}

enum fg_err sq_err(struct store_conn *c, int rc, const char *what)
{
    int prim = rc & 0xff;
    if (prim == SQLITE_OK || prim == SQLITE_DONE || prim == SQLITE_ROW)
        return FG_OK;
    if (prim == SQLITE_CONSTRAINT)
        return FG_ECONFLICT;
    fg_log(FG_LOG_ERROR, "sqlite_error", FG_LF_STR("op", what),
           FG_LF_STR("error", c ? sqlite3_errmsg(c->db) : sqlite3_errstr(rc)), FG_LF_INT("rc", rc),
           FG_LF_END);
    if (prim == SQLITE_BUSY || prim == SQLITE_LOCKED)
        return FG_EUNAVAIL;
    return FG_EDB;
}

int sq_bind_text(sqlite3_stmt *st, int i, const char *s)
{
    return s ? sqlite3_bind_text(st, i, s, -1, SQLITE_TRANSIENT) : sqlite3_bind_null(st, i);
}

static struct store_conn *sq_acquire(struct store *base, enum fg_err *err)
{
    struct sq_store *s = (struct sq_store *)base;
    struct timespec deadline;
    clock_gettime(CLOCK_REALTIME, &deadline);
    deadline.tv_sec += s->busy_ms / 1000 + 1;
    pthread_mutex_lock(&s->mu);
    for (;;) {
        if (s->free_list) {
            struct store_conn *c = s->free_list;
            s->free_list = c->next_free;
            pthread_mutex_unlock(&s->mu);
            return c;
        }
        if (s->open_conns < s->max_conns) {
            s->open_conns++;
            pthread_mutex_unlock(&s->mu);
            struct store_conn *c = conn_open(s, err);
            if (!c) {
                pthread_mutex_lock(&s->mu);
                s->open_conns--;
                pthread_cond_signal(&s->cv);
                pthread_mutex_unlock(&s->mu);
            }
            return c;
        }
        if (pthread_cond_timedwait(&s->cv, &s->mu, &deadline) == ETIMEDOUT) {
            pthread_mutex_unlock(&s->mu);
            *err = FG_EUNAVAIL;
            return NULL;
        }
    }
}

static void sq_release(struct store *base, struct store_conn *pc)
{
    struct sq_store *s = (struct sq_store *)base;
    struct sq_conn *c = (struct sq_conn *)pc;
    if (pc->in_tx) {
        fg_log(FG_LOG_ERROR, "sqlite_tx_leak", FG_LF_STR("msg", "rolled back an open transaction"),
               FG_LF_END);
        exec(pc->db, "ROLLBACK");
        pc->in_tx = 0;
    }
    for (size_t i = 0; i < STMT_CACHE; i++)
        if (c->cache[i].st)
            sqlite3_reset(c->cache[i].st);
    pthread_mutex_lock(&s->mu);
    pc->next_free = s->free_list;
    s->free_list = pc;
    pthread_cond_signal(&s->cv);
    pthread_mutex_unlock(&s->mu);
}

static enum fg_err sq_begin(struct store_conn *c)
{
    int rc = sqlite3_exec(c->db, "BEGIN IMMEDIATE", NULL, NULL, NULL);
    if (rc != SQLITE_OK)
        return sq_err(c, rc, "begin");
    c->in_tx = 1;
    return FG_OK;
}

static enum fg_err sq_commit(struct store_conn *c)
{
    int rc = sqlite3_exec(c->db, "COMMIT", NULL, NULL, NULL);
    if (rc != SQLITE_OK) {
        enum fg_err e = sq_err(c, rc, "commit");
        sqlite3_exec(c->db, "ROLLBACK", NULL, NULL, NULL);
        c->in_tx = 0;
        return e;
    }
    c->in_tx = 0;
    return FG_OK;
}

static void sq_rollback(struct store_conn *c)
{
    if (c->in_tx)
        sqlite3_exec(c->db, "ROLLBACK", NULL, NULL, NULL);
    c->in_tx = 0;
}

static enum fg_err sq_migrate(struct store *base, int *applied)
{
    enum fg_err e = FG_OK;
    *applied = 0;
    struct store_conn *c = sq_acquire(base, &e);
    if (!c)
        return e;
    if (exec(c->db, "CREATE TABLE IF NOT EXISTS schema_migrations (name TEXT PRIMARY KEY, "
                    "applied_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ','now')))") !=
        SQLITE_OK) {
        e = FG_EDB;
        goto out;
    }
    for (const struct fg_migration *m = fg_sqlite_migrations; m->name; m++) {
        if ((e = sq_begin(c)) != FG_OK)
            goto out;
        sqlite3_stmt *st = sq_prepare(c, "SELECT 1 FROM schema_migrations WHERE name = ?");
        if (!st) {
            e = FG_EDB;
            sq_rollback(c);
            goto out;
        }
        sqlite3_bind_text(st, 1, m->name, -1, SQLITE_STATIC);
        int done = sqlite3_step(st) == SQLITE_ROW;
        sqlite3_reset(st);
        if (done) {
            sq_rollback(c);
            continue;
        }
        if (exec(c->db, m->sql) != SQLITE_OK) {
            fg_log(FG_LOG_ERROR, "migration_failed", FG_LF_STR("name", m->name), FG_LF_END);
            sq_rollback(c);
            e = FG_EDB;
            goto out;
        }
        st = sq_prepare(c, "INSERT INTO schema_migrations (name) VALUES (?)");
        sqlite3_bind_text(st, 1, m->name, -1, SQLITE_STATIC);
        int rc = sqlite3_step(st);
        sqlite3_reset(st);
        if (rc != SQLITE_DONE) {
            e = sq_err(c, rc, "migration record");
            sq_rollback(c);
            goto out;
        }
        if ((e = sq_commit(c)) != FG_OK)
            goto out;
        fg_log(FG_LOG_INFO, "migration_applied", FG_LF_STR("name", m->name), FG_LF_END);
        (*applied)++;
    }
out:
    sq_release(base, c);
    return e;
}

static enum fg_err sq_ping(struct store *base)
{
    enum fg_err e = FG_OK;
    struct store_conn *c = sq_acquire(base, &e);
    if (!c)
        return e;
    sqlite3_stmt *st = sq_prepare(c, "SELECT count(*) FROM schema_migrations");
    int rc = st ? sqlite3_step(st) : SQLITE_ERROR;
    if (st)
        sqlite3_reset(st);
    sq_release(base, c);
    return rc == SQLITE_ROW ? FG_OK : FG_EUNAVAIL;
}

static enum fg_err sq_backup(struct store *base, const char *path, char *err, size_t errlen)
{
    struct sq_store *s = (struct sq_store *)base;
    enum fg_err e = FG_OK;
    struct store_conn *c = sq_acquire(base, &e);
    if (!c) {
        snprintf(err, errlen, "store unavailable");
        return e;
    }
    char tmp[4096];
    snprintf(tmp, sizeof tmp, "%s.partial", path);
    remove(tmp);
    sqlite3 *dst = NULL;
    int rc = sqlite3_open(tmp, &dst);
    if (rc == SQLITE_OK) {
        /* Step in chunks so writers are not blocked for the whole copy; a write in between
         * restarts the copy from the source's new state, which keeps the result consistent. */
        sqlite3_backup *b = sqlite3_backup_init(dst, "main", c->db, "main");
        if (!b) {
            rc = sqlite3_errcode(dst);
        } else {
            do {
                rc = sqlite3_backup_step(b, 256);
                if (rc == SQLITE_BUSY || rc == SQLITE_LOCKED)
                    sqlite3_sleep(10);
            } while (rc == SQLITE_OK || rc == SQLITE_BUSY || rc == SQLITE_LOCKED);
            sqlite3_backup_finish(b);
            if (rc == SQLITE_DONE)
                rc = SQLITE_OK;
        }
    }
    if (rc == SQLITE_OK)
        rc = sqlite3_exec(dst, "PRAGMA journal_mode=DELETE", NULL, NULL, NULL);
    sqlite3_close(dst);
    sq_release(base, c);
    if (rc != SQLITE_OK) {
        snprintf(err, errlen, "backup of %s failed: %s", s->path, sqlite3_errstr(rc));
        remove(tmp);
        return FG_EIO;
    }
    if (rename(tmp, path) != 0) {
        snprintf(err, errlen, "cannot move backup into place: %s", strerror(errno));
        remove(tmp);
        return FG_EIO;
    }
    return FG_OK;
}

static long long sq_size(struct store *base)
{
    struct sq_store *s = (struct sq_store *)base;
    struct stat st;
    long long n = 0;
    if (stat(s->path, &st) == 0)
        n += st.st_size;
    char wal[4096];
    snprintf(wal, sizeof wal, "%s-wal", s->path);
    if (stat(wal, &st) == 0)
        n += st.st_size;
    return n;
}

static void sq_close(struct store *base)
{
    struct sq_store *s = (struct sq_store *)base;
    while (s->free_list) {
        struct store_conn *c = s->free_list;
        s->free_list = c->next_free;
        conn_close(c);
    }
    pthread_mutex_destroy(&s->mu);
    pthread_cond_destroy(&s->cv);
    free(s->path);
    free(s);
}

static const struct store_ops sqlite_ops = {
    .name = "sqlite",
    .close = sq_close,
    .migrate = sq_migrate,
    .ping = sq_ping,
    .acquire = sq_acquire,
    .release = sq_release,
    .begin = sq_begin,
    .commit = sq_commit,
    .rollback = sq_rollback,
    .backup = sq_backup,
    .size_bytes = sq_size,
};

/* mkdir -p of the directory holding `path`. */
static int make_parent_dirs(const char *path)
{
    char dir[4096];
    snprintf(dir, sizeof dir, "%s", path);
    char *slash = strrchr(dir, '/');
    if (!slash || slash == dir)
        return 0;
    *slash = '\0';
    for (char *p = dir + 1; *p; p++) {
        if (*p == '/') {
            *p = '\0';
            if (mkdir(dir, 0750) != 0 && errno != EEXIST)
                return -1;
            *p = '/';
        }
    }
    if (mkdir(dir, 0750) != 0 && errno != EEXIST)
        return -1;
    return 0;
}

enum fg_err store_sqlite_open(const char *path, const struct fg_config *cfg, struct store **out,
                              char *err, size_t errlen);
enum fg_err store_sqlite_open(const char *path, const struct fg_config *cfg, struct store **out,
                              char *err, size_t errlen)
{
    if (!*path) {
        snprintf(err, errlen, "DATABASE_URL: empty SQLite path");
        return FG_EINVAL;
    }
    if (make_parent_dirs(path) != 0) {
        snprintf(err, errlen, "DATABASE_URL: cannot create the directory of '%s': %s", path,
                 strerror(errno));
        return FG_EIO;
    }
    struct sq_store *s = fg_xcalloc(1, sizeof *s);
    s->base.ops = &sqlite_ops;
    s->base.users = &sqlite_user_ops ? &sqlite_user_ops : NULL;
    s->base.capsules = &sqlite_capsule_ops ? &sqlite_capsule_ops : NULL;
    s->base.audit = &sqlite_audit_ops ? &sqlite_audit_ops : NULL;
    s->base.immune = &sqlite_immune_ops ? &sqlite_immune_ops : NULL;
    s->base.governance = &sqlite_governance_ops ? &sqlite_governance_ops : NULL;
    s->path = fg_xstrdup(path);
    s->busy_ms = (int)cfg->database_busy_timeout_ms;
    s->max_conns = (int)cfg->database_pool_size;
    pthread_mutex_init(&s->mu, NULL);
    pthread_cond_init(&s->cv, NULL);
    enum fg_err e = FG_OK;
    struct store_conn *c = sq_acquire(&s->base, &e);
    if (!c) {
        snprintf(err, errlen, "DATABASE_URL: cannot open SQLite database '%s'", path);
        sq_close(&s->base);
        return e;
    }
    sq_release(&s->base, c);
    *out = &s->base;
    return FG_OK;
}
