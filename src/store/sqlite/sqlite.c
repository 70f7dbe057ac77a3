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
 * concurrently (WAL) on their own connections and never wait for writers. Each connection caches
 * prepared statements; release() resets them so no read snapshot stays open.
 *
 * Group commit: every write transaction (begin .. commit on any pooled connection) runs on the
 * store's one writer connection, as a SAVEPOINT inside the writer's current batch transaction.
 * Writers take turns on a condition variable (no lock polling); while one runs, the others queue.
 * When a writer commits it RELEASEs its savepoint and, if others are queued (and the batch is
 * below GC_BATCH_MAX requests / GC_OPEN_MAX_MS old), hands the writer to them and waits; the last
 * writer of the batch (nobody queued) COMMITs the batch: one fsync for everything that arrived
 * while the previous batch was flushing. Each request is answered only after the COMMIT of its
 * batch succeeded; a rollback undoes that request's savepoint only; if SQLite aborted the whole
 * batch (I/O error, disk full), every request of the batch gets the error. Statements that write
 * outside a transaction (autocommit) still take SQLite's write lock through busy_wait().
 */
#include "store/sqlite/sqlite_int.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

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
    struct sq_store *s;
    struct stmt_entry cache[STMT_CACHE];
};

/* A request waiting for the COMMIT of the batch its savepoint was released into. */
struct gc_wait {
    struct gc_wait *next;
    enum fg_err err;
    int done;
};

#define GC_BATCH_MAX   256 /* requests per batch before it is committed even with others queued */
#define GC_OPEN_MAX_MS 50  /* age of a batch after which it is committed even with others queued */

struct sq_store {
    struct store base;
    char *path;
    int busy_ms;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    struct store_conn *free_list;
    int open_conns, max_conns;
    int lock_fd; /* shared flock on "<path>.lock" while open; forge restore takes it exclusively */
    /* group commit (see the top of this file); guarded by gc_mu */
    pthread_mutex_t gc_mu;
    pthread_cond_t gc_cv;
    struct sq_conn *w;       /* the writer connection (opened at the first write) */
    int gc_busy;             /* a request is inside its savepoint, or a COMMIT is running */
    int gc_waiting;          /* requests queued in begin */
    int gc_open;             /* the writer has an open batch transaction */
    int gc_count;            /* savepoints released into the open batch */
    int64_t gc_opened_ms;    /* when the open batch began */
    struct gc_wait *gc_list; /* requests waiting for the open batch's COMMIT */
    /* page access and the background checkpointer (DATABASE_CACHE_MB, ..._MMAP_MB,
     * ..._CHECKPOINT_MS, ..._WAL_MAX_MB) */
    long long cache_kib, mmap_bytes, wal_max_bytes;
    int ckpt_ms;
    pthread_t ckpt_thread;
    int ckpt_started, ckpt_stop;
    pthread_mutex_t ckpt_mu;
    pthread_cond_t ckpt_cv;
};

static const struct store_ops sqlite_ops;

/* Area vtables live in their own files (weak only while an area does not exist yet). */
extern const struct store_user_ops sqlite_user_ops;
extern const struct store_capsule_ops sqlite_capsule_ops; /* capsules.c */
extern const struct store_audit_ops sqlite_audit_ops;     /* audit.c */
extern const struct store_immune_ops sqlite_immune_ops;
extern const struct store_overlay_ops sqlite_overlay_ops;
extern const struct store_search_ops sqlite_search_ops;         /* search.c */
extern const struct store_graph_ops sqlite_graph_ops;           /* graph.c */
extern const struct store_governance_ops sqlite_governance_ops; /* governance.c */
extern const struct store_retention_ops sqlite_retention_ops;   /* retention.c */
extern const struct store_privacy_ops sqlite_privacy_ops;       /* privacy.c */

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

/* Busy handler: waits for the write lock in short steps, up to DATABASE_BUSY_TIMEOUT_MS.
 * SQLite's built-in handler sleeps up to 100 ms per retry, so under a steady write load a
 * waiter that has drawn long sleeps keeps missing the brief moments the lock is free while
 * others take it: in bench/capsules some creates waited over 2 s (a 503 after 5 s). Retrying
 * every ≤ 2 ms keeps every writer near its turn (p99 ~90 ms instead of ~1 s at 16 concurrent
 * writers on 2 cores) for somewhat less peak throughput. */
#define BUSY_STEP_MAX_US 2000
static int busy_wait(void *ctx, int n)
{
    const struct sq_store *s = ctx;
    /* µs per retry, then BUSY_STEP_MAX_US; `waited` is what the n earlier calls slept */
    static const int steps[] = {50, 100, 200, 500, 1000};
    long long waited = 0;
    for (int i = 0; i < n && i < 5; i++)
        waited += steps[i];
    if (n > 5)
        waited += (long long)(n - 5) * BUSY_STEP_MAX_US;
    if (waited >= (long long)s->busy_ms * 1000)
        return 0; /* give up: SQLITE_BUSY */
    usleep(n < 5 ? (useconds_t)steps[n] : BUSY_STEP_MAX_US);
    return 1;
}

static struct store_conn *conn_open(struct sq_store *s, enum fg_err *err)
{
    sqlite3 *db = NULL;
    int rc = sqlite3_open_v2(
        s->path, &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, NULL);
    if (rc != SQLITE_OK) {
        fg_log(FG_LOG_ERROR, "sqlite_open", FG_LF_STR("error", db ? sqlite3_errmsg(db) : "open"),
               FG_LF_END);
        sqlite3_close(db);
        *err = FG_EUNAVAIL;
        return NULL;
    }
    sqlite3_busy_handler(db, busy_wait, s);
    sqlite3_extended_result_codes(db, 1);
    /* checkpoints run in the background (checkpointer()), never inside a request's COMMIT */
    char pragmas[400];
    snprintf(pragmas, sizeof pragmas,
             "PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL; PRAGMA foreign_keys=ON;"
             "PRAGMA temp_store=MEMORY; PRAGMA cache_size=-%lld; PRAGMA mmap_size=%lld;"
             "PRAGMA wal_autocheckpoint=0;",
             s->cache_kib, s->mmap_bytes);
    if (exec(db, pragmas) != SQLITE_OK) {
        sqlite3_close(db);
        *err = FG_EDB;
        return NULL;
    }
    struct sq_conn *c = fg_xcalloc(1, sizeof *c);
    c->pub.db = db;
    c->pub.own_db = db;
    c->s = s;
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
    if (pc->wr) /* in a write transaction: the writer connection's statements */
        pc = pc->wr;
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
    /* A full disk is a dependency outage, not a bug: 503 (the write was not made; it can be
     * retried once space is freed), like a busy database. */
    if (prim == SQLITE_FULL || (prim == SQLITE_IOERR && c && sqlite3_system_errno(c->db) == ENOSPC))
        return FG_EUNAVAIL;
    return FG_EDB;
}

enum fg_err sq_step_done(struct store_conn *c, sqlite3_stmt *st, const char *what, int *changes)
{
    int rc = sqlite3_step(st);
    enum fg_err e = rc == SQLITE_DONE ? FG_OK : sq_err(c, rc, what);
    sqlite3_reset(st);
    if (e == FG_OK && changes)
        *changes = sqlite3_changes(c->db);
    return e;
}

void sq_col_text(sqlite3_stmt *st, int i, char *dst, size_t cap)
{
    const unsigned char *s = sqlite3_column_text(st, i);
    snprintf(dst, cap, "%s", s ? (const char *)s : "");
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
        sq_tx_rollback(pc);
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

static int64_t mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Resets every statement of the writer (none may stay active across RELEASE/COMMIT). */
static void writer_reset(struct sq_conn *w)
{
    for (size_t i = 0; i < STMT_CACHE; i++)
        if (w->cache[i].st)
            sqlite3_reset(w->cache[i].st);
}

/* COMMITs the open batch and answers its waiters. Called with gc_mu held and gc_busy == 0;
 * returns with gc_mu held. */
static void gc_commit_locked(struct sq_store *s)
{
    s->gc_busy = 1;
    struct gc_wait *list = s->gc_list;
    s->gc_list = NULL;
    pthread_mutex_unlock(&s->gc_mu);
    sqlite3 *db = s->w->pub.own_db;
    enum fg_err e = FG_OK;
    writer_reset(s->w);
    if (sqlite3_get_autocommit(db)) {
        /* SQLite rolled the batch back (I/O error, disk full, ...): nothing of it is stored */
        e = list ? FG_EUNAVAIL : FG_OK; /* not stored: the client may retry (503) */
        if (list)
            fg_log(FG_LOG_ERROR, "sqlite_batch_lost",
                   FG_LF_STR("msg", "the group-commit batch was rolled back by SQLite"), FG_LF_END);
    } else {
        int rc = sqlite3_exec(db, "COMMIT", NULL, NULL, NULL);
        if (rc != SQLITE_OK) {
            e = sq_err(&s->w->pub, rc, "commit");
            sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
        }
    }
    pthread_mutex_lock(&s->gc_mu);
    for (struct gc_wait *w = list; w; w = w->next) {
        w->err = e;
        w->done = 1;
    }
    s->gc_open = 0;
    s->gc_count = 0;
    s->gc_busy = 0;
    pthread_cond_broadcast(&s->gc_cv);
}

/* The writer became free (gc_mu held): hand it to a queued request, or commit the open batch
 * when nobody is queued or the batch is full/old. */
static void gc_free_locked(struct sq_store *s)
{
    if (s->gc_open && (s->gc_waiting == 0 || s->gc_count >= GC_BATCH_MAX ||
                       mono_ms() - s->gc_opened_ms >= GC_OPEN_MAX_MS))
        gc_commit_locked(s);
    else
        pthread_cond_broadcast(&s->gc_cv);
}

enum fg_err sq_tx_begin(struct store_conn *c)
{
    struct sq_store *s = ((struct sq_conn *)c)->s;
    if (c->in_tx)
        return FG_EINTERNAL; /* nested begin on one connection */
    struct timespec deadline;
    clock_gettime(CLOCK_REALTIME, &deadline);
    deadline.tv_sec += s->busy_ms / 1000;
    deadline.tv_nsec += (long)(s->busy_ms % 1000) * 1000000L;
    if (deadline.tv_nsec >= 1000000000L) {
        deadline.tv_sec++;
        deadline.tv_nsec -= 1000000000L;
    }
    pthread_mutex_lock(&s->gc_mu);
    s->gc_waiting++;
    while (s->gc_busy) {
        if (pthread_cond_timedwait(&s->gc_cv, &s->gc_mu, &deadline) == ETIMEDOUT && s->gc_busy) {
            s->gc_waiting--;
            if (!s->gc_busy)
                gc_free_locked(s);
            pthread_mutex_unlock(&s->gc_mu);
            fg_log(FG_LOG_ERROR, "sqlite_error", FG_LF_STR("op", "begin"),
                   FG_LF_STR("error", "timed out waiting for the writer"), FG_LF_END);
            return FG_EUNAVAIL;
        }
    }
    s->gc_waiting--;
    s->gc_busy = 1;
    enum fg_err e = FG_OK;
    if (!s->w) {
        struct store_conn *w = conn_open(s, &e);
        if (w)
            s->w = (struct sq_conn *)w;
    }
    if (s->w && !s->gc_open) {
        pthread_mutex_unlock(&s->gc_mu);
        int rc = sqlite3_exec(s->w->pub.own_db, "BEGIN IMMEDIATE", NULL, NULL, NULL);
        pthread_mutex_lock(&s->gc_mu);
        if (rc == SQLITE_OK) {
            s->gc_open = 1;
            s->gc_count = 0;
            s->gc_opened_ms = mono_ms();
        } else {
            e = sq_err(&s->w->pub, rc, "begin");
        }
    }
    if (!s->w || e != FG_OK) {
        if (e == FG_OK)
            e = FG_EUNAVAIL;
        s->gc_busy = 0;
        gc_free_locked(s);
        pthread_mutex_unlock(&s->gc_mu);
        return e;
    }
    pthread_mutex_unlock(&s->gc_mu);
    int rc = sqlite3_exec(s->w->pub.own_db, "SAVEPOINT fg_req", NULL, NULL, NULL);
    if (rc != SQLITE_OK) {
        e = sq_err(&s->w->pub, rc, "savepoint");
        pthread_mutex_lock(&s->gc_mu);
        s->gc_busy = 0;
        gc_free_locked(s);
        pthread_mutex_unlock(&s->gc_mu);
        return e;
    }
    c->db = s->w->pub.own_db;
    c->wr = &s->w->pub;
    c->in_tx = 1;
    return FG_OK;
}

/* Leaves the writer after this request's savepoint is released or rolled back. */
static void tx_detach(struct store_conn *c)
{
    c->db = c->own_db;
    c->wr = NULL;
    c->in_tx = 0;
}

void sq_tx_rollback(struct store_conn *c)
{
    if (!c->in_tx)
        return;
    struct sq_store *s = ((struct sq_conn *)c)->s;
    sqlite3 *db = s->w->pub.own_db;
    writer_reset(s->w);
    if (!sqlite3_get_autocommit(db)) {
        sqlite3_exec(db, "ROLLBACK TO fg_req", NULL, NULL, NULL);
        sqlite3_exec(db, "RELEASE fg_req", NULL, NULL, NULL);
    }
    tx_detach(c);
    pthread_mutex_lock(&s->gc_mu);
    s->gc_busy = 0;
    gc_free_locked(s);
    pthread_mutex_unlock(&s->gc_mu);
}

enum fg_err sq_tx_commit(struct store_conn *c)
{
    if (!c->in_tx)
        return FG_EINTERNAL;
    struct sq_store *s = ((struct sq_conn *)c)->s;
    sqlite3 *db = s->w->pub.own_db;
    writer_reset(s->w);
    int rc = sqlite3_get_autocommit(db) ? SQLITE_ABORT
                                        : sqlite3_exec(db, "RELEASE fg_req", NULL, NULL, NULL);
    if (rc != SQLITE_OK) {
        enum fg_err e = sq_err(&s->w->pub, rc, "release");
        sq_tx_rollback(c);
        return e == FG_OK ? FG_EDB : e;
    }
    tx_detach(c);
    struct gc_wait me = {.next = NULL, .err = FG_OK, .done = 0};
    pthread_mutex_lock(&s->gc_mu);
    me.next = s->gc_list;
    s->gc_list = &me;
    s->gc_count++;
    s->gc_busy = 0;
    gc_free_locked(s);
    while (!me.done)
        pthread_cond_wait(&s->gc_cv, &s->gc_mu);
    pthread_mutex_unlock(&s->gc_mu);
    return me.err;
}

static enum fg_err sq_begin(struct store_conn *c)
{
    return sq_tx_begin(c);
}

static enum fg_err sq_commit(struct store_conn *c)
{
    return sq_tx_commit(c);
}

static void sq_rollback(struct store_conn *c)
{
    sq_tx_rollback(c);
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

/* Background WAL checkpoints: PASSIVE every ckpt_ms (copies what no reader still needs, never
 * waits); when the WAL has grown past wal_max_bytes, TRUNCATE (waits for readers and writers
 * through the busy handler, then resets the WAL file to zero bytes). */
static void *checkpointer(void *arg)
{
    struct sq_store *s = arg;
    enum fg_err e = FG_OK;
    struct store_conn *c = NULL;
    pthread_mutex_lock(&s->ckpt_mu);
    while (!s->ckpt_stop) {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        ts.tv_sec += s->ckpt_ms / 1000;
        ts.tv_nsec += (long)(s->ckpt_ms % 1000) * 1000000L;
        if (ts.tv_nsec >= 1000000000L) {
            ts.tv_sec++;
            ts.tv_nsec -= 1000000000L;
        }
        pthread_cond_timedwait(&s->ckpt_cv, &s->ckpt_mu, &ts);
        if (s->ckpt_stop)
            break;
        pthread_mutex_unlock(&s->ckpt_mu);
        if (!c)
            c = conn_open(s, &e);
        if (c) {
            char wal[4096];
            struct stat st;
            snprintf(wal, sizeof wal, "%s-wal", s->path);
            int big = stat(wal, &st) == 0 && st.st_size > s->wal_max_bytes;
            int nlog = 0, nckpt = 0;
            int rc = sqlite3_wal_checkpoint_v2(
                c->db, NULL, big ? SQLITE_CHECKPOINT_TRUNCATE : SQLITE_CHECKPOINT_PASSIVE, &nlog,
                &nckpt);
            if (rc != SQLITE_OK && (rc & 0xff) != SQLITE_BUSY)
                fg_log(FG_LOG_WARN, "sqlite_checkpoint", FG_LF_STR("error", sqlite3_errmsg(c->db)),
                       FG_LF_INT("rc", rc), FG_LF_END);
        }
        pthread_mutex_lock(&s->ckpt_mu);
    }
    pthread_mutex_unlock(&s->ckpt_mu);
    if (c)
        conn_close(c);
    return NULL;
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
        /* One step copies every page inside a single read transaction: in WAL mode that does
         * not block writers, and the copy is the snapshot at its start. (Stepping in chunks
         * would restart the copy after every commit by another connection, so under a steady
         * write load it might never finish.) */
        sqlite3_backup *b = sqlite3_backup_init(dst, "main", c->db, "main");
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
    if (s->ckpt_started) {
        pthread_mutex_lock(&s->ckpt_mu);
        s->ckpt_stop = 1;
        pthread_cond_signal(&s->ckpt_cv);
        pthread_mutex_unlock(&s->ckpt_mu);
        pthread_join(s->ckpt_thread, NULL);
    }
    pthread_mutex_destroy(&s->ckpt_mu);
    pthread_cond_destroy(&s->ckpt_cv);
    if (s->w)
        conn_close(&s->w->pub);
    pthread_mutex_destroy(&s->mu);
    pthread_cond_destroy(&s->cv);
    pthread_mutex_destroy(&s->gc_mu);
    pthread_cond_destroy(&s->gc_cv);
    if (s->lock_fd >= 0)
        close(s->lock_fd); /* releases the flock */
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

/* Takes flock `op` (LOCK_SH: a process using the database; LOCK_EX: restore) on "<path>.lock",
 * without waiting. Returns the descriptor, or -1 with a message. */
static int sq_lock(const char *path, int op, char *err, size_t errlen)
{
    char lp[4096];
    snprintf(lp, sizeof lp, "%s.lock", path);
    int fd = open(lp, O_RDWR | O_CREAT | O_CLOEXEC, 0640);
    if (fd < 0) {
        snprintf(err, errlen, "DATABASE_URL: cannot open lock file '%s': %s", lp, strerror(errno));
        return -1;
    }
    if (flock(fd, op | LOCK_NB) != 0) {
        int en = errno;
        close(fd);
        if (en == EWOULDBLOCK)
            snprintf(err, errlen, "%s",
                     op == LOCK_SH ? "the database is being restored (forge restore holds its "
                                     "lock); try again when it has finished"
                                   : "the database is in use by a running forge process (stop "
                                     "the server first)");
        else
            snprintf(err, errlen, "cannot lock '%s': %s", lp, strerror(en));
        return -1;
    }
    return fd;
}

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
    int lock_fd = sq_lock(path, LOCK_SH, err, errlen);
    if (lock_fd < 0)
        return FG_EUNAVAIL;
    struct sq_store *s = fg_xcalloc(1, sizeof *s);
    s->lock_fd = lock_fd;
    s->base.ops = &sqlite_ops;
    s->base.users = &sqlite_user_ops;
    s->base.capsules = &sqlite_capsule_ops;
    s->base.audit = &sqlite_audit_ops;
    s->base.immune = &sqlite_immune_ops;
    s->base.search = &sqlite_search_ops;
    s->base.governance = &sqlite_governance_ops;
    s->base.retention = &sqlite_retention_ops;
    s->base.graph = &sqlite_graph_ops;
    s->base.overlays = &sqlite_overlay_ops;
    s->base.privacy = &sqlite_privacy_ops;
    s->path = fg_xstrdup(path);
    s->busy_ms = (int)cfg->database_busy_timeout_ms;
    s->cache_kib = cfg->database_cache_mb > 0 ? cfg->database_cache_mb * 1024 : 64 * 1024;
    s->mmap_bytes = cfg->database_mmap_mb * 1024 * 1024;
    s->ckpt_ms = cfg->database_checkpoint_ms > 0 ? (int)cfg->database_checkpoint_ms : 1000;
    s->wal_max_bytes = (cfg->database_wal_max_mb > 0 ? cfg->database_wal_max_mb : 64) * 1024 * 1024;
    pthread_mutex_init(&s->ckpt_mu, NULL);
    pthread_cond_init(&s->ckpt_cv, NULL);
    s->max_conns = (int)cfg->database_pool_size;
    pthread_mutex_init(&s->mu, NULL);
    pthread_cond_init(&s->cv, NULL);
    pthread_mutex_init(&s->gc_mu, NULL);
    pthread_cond_init(&s->gc_cv, NULL);
    enum fg_err e = FG_OK;
    struct store_conn *c = sq_acquire(&s->base, &e);
    if (!c) {
        snprintf(err, errlen, "DATABASE_URL: cannot open SQLite database '%s'", path);
        sq_close(&s->base);
        return e;
    }
    sq_release(&s->base, c);
    s->ckpt_started = pthread_create(&s->ckpt_thread, NULL, checkpointer, s) == 0;
    *out = &s->base;
    return FG_OK;
}

/* ---- offline check and restore (forge backup / forge restore) ------------------------------ */

enum fg_err store_sqlite_check_file(const char *path, char *err, size_t errlen);
enum fg_err store_sqlite_restore(const char *src, const char *dst, int force, char *err,
                                 size_t errlen);

/* PRAGMA integrity_check on a database file (read-only), and that it is a Forge database. */
enum fg_err store_sqlite_check_file(const char *path, char *err, size_t errlen)
{
    sqlite3 *db = NULL;
    sqlite3_stmt *st = NULL;
    enum fg_err e = FG_OK;
    int rc = sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL);
    if (rc != SQLITE_OK) {
        snprintf(err, errlen, "cannot open '%s': %s", path,
                 db ? sqlite3_errmsg(db) : sqlite3_errstr(rc));
        e = FG_EIO;
        goto out;
    }
    rc = sqlite3_prepare_v2(db, "PRAGMA integrity_check", -1, &st, NULL);
    if (rc == SQLITE_OK && sqlite3_step(st) == SQLITE_ROW) {
        const char *r = (const char *)sqlite3_column_text(st, 0);
        if (!r || strcmp(r, "ok") != 0) {
            snprintf(err, errlen, "'%s' failed PRAGMA integrity_check: %s", path, r ? r : "?");
            e = FG_EDB;
        }
    } else {
        snprintf(err, errlen, "'%s' is not a readable SQLite database: %s", path,
                 sqlite3_errmsg(db));
        e = FG_EDB;
    }
    sqlite3_finalize(st);
    st = NULL;
    if (e == FG_OK) {
        rc = sqlite3_prepare_v2(db, "SELECT count(*) FROM schema_migrations", -1, &st, NULL);
        if (rc != SQLITE_OK || sqlite3_step(st) != SQLITE_ROW) {
            snprintf(err, errlen, "'%s' is not a Forge database (no schema_migrations table)",
                     path);
            e = FG_EINVAL;
        }
        sqlite3_finalize(st);
    }
out:
    sqlite3_close(db);
    return e;
}

static int fsync_path(const char *path, int dir)
{
    int fd = open(path, (dir ? O_RDONLY | O_DIRECTORY : O_RDWR) | O_CLOEXEC);
    if (fd < 0)
        return -1;
    int rc = fsync(fd);
    close(fd);
    return rc;
}

static int remove_if_exists(const char *path)
{
    return (remove(path) == 0 || errno == ENOENT) ? 0 : -1;
}

/*
 * Replaces the database at `dst` with the backup `src`: holds "<dst>.lock" exclusively (so no
 * forge process has the database open, and none can open it meanwhile), checks `src`, refuses an
 * existing `dst` without `force`, copies `src` next to `dst` with the backup API, checks the copy,
 * removes the old -wal/-shm (they belong to the old file and would corrupt the new one), then
 * renames the copy into place and syncs the directory.
 */
enum fg_err store_sqlite_restore(const char *src, const char *dst, int force, char *err,
                                 size_t errlen)
{
    struct stat sb;
    char tmp[4096], side[4096];
    enum fg_err e = FG_OK;
    int lock_fd = -1, made_tmp = 0;
    if (stat(src, &sb) != 0) {
        snprintf(err, errlen, "cannot read backup '%s': %s", src, strerror(errno));
        return FG_EIO;
    }
    if (!S_ISREG(sb.st_mode)) {
        snprintf(err, errlen, "backup '%s' is not a regular file", src);
        return FG_EIO;
    }
    snprintf(side, sizeof side, "%s-wal", src);
    if (stat(side, &sb) == 0 && sb.st_size > 0) {
        snprintf(err, errlen,
                 "'%s' has a write-ahead log beside it: restore a file written by forge backup",
                 src);
        return FG_EINVAL;
    }
    if (make_parent_dirs(dst) != 0) {
        snprintf(err, errlen, "cannot create the directory of '%s': %s", dst, strerror(errno));
        return FG_EIO;
    }
    char rs[PATH_MAX], rd[PATH_MAX];
    if (realpath(src, rs) && realpath(dst, rd) && strcmp(rs, rd) == 0) {
        snprintf(err, errlen, "the backup '%s' is the database itself", src);
        return FG_EINVAL;
    }
    if ((lock_fd = sq_lock(dst, LOCK_EX, err, errlen)) < 0)
        return FG_ECONFLICT;
    if ((e = store_sqlite_check_file(src, err, errlen)) != FG_OK)
        goto out;
    if (!force && stat(dst, &sb) == 0 && sb.st_size > 0) {
        snprintf(err, errlen, "'%s' exists; refusing to overwrite it without --force", dst);
        e = FG_ECONFLICT;
        goto out;
    }
    snprintf(tmp, sizeof tmp, "%s.restore-tmp", dst);
    remove(tmp);
    made_tmp = 1;
    sqlite3 *in = NULL, *outdb = NULL;
    int rc = sqlite3_open_v2(src, &in, SQLITE_OPEN_READONLY, NULL);
    if (rc == SQLITE_OK)
        rc = sqlite3_open_v2(tmp, &outdb, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, NULL);
    if (rc == SQLITE_OK) {
        sqlite3_backup *b = sqlite3_backup_init(outdb, "main", in, "main");
        if (!b) {
            rc = sqlite3_errcode(outdb);
        } else {
            rc = sqlite3_backup_step(b, -1);
            sqlite3_backup_finish(b);
            rc = rc == SQLITE_DONE ? SQLITE_OK : rc;
        }
    }
    if (rc == SQLITE_OK)
        rc = sqlite3_exec(outdb, "PRAGMA journal_mode=DELETE", NULL, NULL, NULL);
    sqlite3_close(outdb);
    sqlite3_close(in);
    if (rc != SQLITE_OK) {
        snprintf(err, errlen, "copying '%s' failed: %s", src, sqlite3_errstr(rc));
        e = FG_EIO;
        goto out;
    }
    if ((e = store_sqlite_check_file(tmp, err, errlen)) != FG_OK)
        goto out;
    if (fsync_path(tmp, 0) != 0) {
        snprintf(err, errlen, "cannot sync '%s': %s", tmp, strerror(errno));
        e = FG_EIO;
        goto out;
    }
    static const char *const sides[] = {"-wal", "-shm", "-journal"};
    for (size_t i = 0; i < 3; i++) {
        snprintf(side, sizeof side, "%s%s", dst, sides[i]);
        if (remove_if_exists(side) != 0) {
            snprintf(err, errlen, "cannot remove stale '%s': %s", side, strerror(errno));
            e = FG_EIO;
            goto out;
        }
    }
    if (rename(tmp, dst) != 0) {
        snprintf(err, errlen, "cannot move the restored database into place: %s", strerror(errno));
        e = FG_EIO;
        goto out;
    }
    made_tmp = 0;
    snprintf(side, sizeof side, "%s", dst);
    char *slash = strrchr(side, '/');
    if (slash && slash != side)
        *slash = '\0';
    else
        snprintf(side, sizeof side, "%s", slash ? "/" : ".");
    fsync_path(side, 1);
out:
    if (made_tmp)
        remove(tmp);
    close(lock_fd);
    return e;
}
