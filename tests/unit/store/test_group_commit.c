/*
 * SQLite group commit (src/store/sqlite/sqlite.c): many threads running write transactions on
 * their own pooled connections at once; every acknowledged commit is stored, every rollback is
 * undone without touching the others, a transaction sees its own writes, readers on other
 * connections never wait for an open write transaction and never see uncommitted rows, and
 * commits are grouped (fewer batches than transactions when writers overlap).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>
#include <pthread.h>
#include <sqlite3.h>

#include "store/sqlite/sqlite_int.h"
#include "store/store.h"
#include "util/config.h"

#define THREADS    8
#define PER_THREAD 150

struct fx {
    struct fg_config cfg;
    struct store *st;
    char dir[64];
    char db[128];
};

static struct fx *g;

static int setup(void **state)
{
    struct fx *f = calloc(1, sizeof *f);
    snprintf(f->dir, sizeof f->dir, "/tmp/forge-gc-XXXXXX");
    assert_non_null(mkdtemp(f->dir));
    snprintf(f->db, sizeof f->db, "%s/forge.db", f->dir);
    char url[160], err[512];
    snprintf(url, sizeof url, "sqlite://%s", f->db);
    setenv("DATABASE_URL", url, 1);
    setenv("DATABASE_POOL_SIZE", "16", 1);
    setenv("FORGE_ENV_FILE", "/dev/null", 1);
    assert_int_equal(fg_config_load(&f->cfg, NULL, err, sizeof err), 0);
    assert_int_equal(store_open(&f->cfg, &f->st, err, sizeof err), FG_OK);
    int applied;
    assert_int_equal(f->st->ops->migrate(f->st, &applied), FG_OK);
    sqlite3 *h;
    assert_int_equal(sqlite3_open(f->db, &h), SQLITE_OK);
    assert_int_equal(sqlite3_exec(h,
                                  "CREATE TABLE gc_t (id INTEGER PRIMARY KEY, thread INTEGER NOT "
                                  "NULL, n INTEGER NOT NULL, UNIQUE (thread, n))",
                                  NULL, NULL, NULL),
                     SQLITE_OK);
    sqlite3_close(h);
    g = f;
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fx *f = *state;
    store_close(f->st);
    fg_config_free(&f->cfg);
    char cmd[200];
    snprintf(cmd, sizeof cmd, "rm -rf %s", f->dir);
    assert_int_equal(system(cmd), 0);
    free(f);
    return 0;
}

static int insert(struct store_conn *c, int thread, int n)
{
    sqlite3_stmt *st = sq_prepare(c, "INSERT INTO gc_t (thread, n) VALUES (?1, ?2)");
    if (!st)
        return -1;
    sqlite3_bind_int(st, 1, thread);
    sqlite3_bind_int(st, 2, n);
    int rc = sqlite3_step(st);
    sqlite3_reset(st);
    return rc == SQLITE_DONE ? 0 : -1;
}

static long long count_where(struct store_conn *c, const char *sql, int a)
{
    sqlite3_stmt *st = sq_prepare(c, sql);
    if (!st)
        return -1;
    if (a >= 0)
        sqlite3_bind_int(st, 1, a);
    long long n = sqlite3_step(st) == SQLITE_ROW ? sqlite3_column_int64(st, 0) : -1;
    sqlite3_reset(st);
    return n;
}

struct worker {
    pthread_t t;
    int id;
    int committed, rolled_back, failures, own_reads_ok;
    unsigned char acked[PER_THREAD];
};

static void *work(void *arg)
{
    struct worker *w = arg;
    for (int n = 0; n < PER_THREAD; n++) {
        enum fg_err e;
        struct store_conn *c = store_acquire(g->st, &e);
        if (!c) {
            w->failures++;
            continue;
        }
        if (store_begin(g->st, c) != FG_OK || insert(c, w->id, n) != 0) {
            store_rollback(g->st, c);
            w->failures++;
            store_release(g->st, c);
            continue;
        }
        /* the transaction sees its own row */
        if (count_where(c, "SELECT count(*) FROM gc_t WHERE thread * 100000 + n = ?1",
                        w->id * 100000 + n) == 1)
            w->own_reads_ok++;
        if (n % 5 == 4) { /* every fifth is rolled back: must leave no trace */
            store_rollback(g->st, c);
            w->rolled_back++;
        } else if (store_commit(g->st, c) == FG_OK) {
            w->acked[n] = 1;
            w->committed++;
        } else {
            w->failures++;
        }
        store_release(g->st, c);
    }
    return NULL;
}

static void test_concurrent_commits_and_rollbacks(void **state)
{
    struct fx *f = *state;
    struct worker ws[THREADS];
    memset(ws, 0, sizeof ws);
    for (int i = 0; i < THREADS; i++) {
        ws[i].id = i;
        assert_int_equal(pthread_create(&ws[i].t, NULL, work, &ws[i]), 0);
    }
    for (int i = 0; i < THREADS; i++)
        pthread_join(ws[i].t, NULL);
    enum fg_err e;
    struct store_conn *c = store_acquire(f->st, &e);
    assert_non_null(c);
    long long total = 0;
    for (int i = 0; i < THREADS; i++) {
        assert_int_equal(ws[i].failures, 0);
        assert_int_equal(ws[i].own_reads_ok, PER_THREAD);
        assert_int_equal(ws[i].rolled_back, PER_THREAD / 5);
        total += ws[i].committed;
        for (int n = 0; n < PER_THREAD; n++) {
            sqlite3_stmt *st =
                sq_prepare(c, "SELECT count(*) FROM gc_t WHERE thread = ?1 AND n = ?2");
            sqlite3_bind_int(st, 1, i);
            sqlite3_bind_int(st, 2, n);
            assert_int_equal(sqlite3_step(st), SQLITE_ROW);
            assert_int_equal(sqlite3_column_int(st, 0), ws[i].acked[n] ? 1 : 0);
            sqlite3_reset(st);
        }
    }
    assert_int_equal(total, THREADS * (PER_THREAD - PER_THREAD / 5));
    assert_int_equal(count_where(c, "SELECT count(*) FROM gc_t", -1), total);
    store_release(f->st, c);
}

/* A reader on another connection neither waits for nor sees an open write transaction. */
static void test_readers_do_not_wait(void **state)
{
    struct fx *f = *state;
    enum fg_err e;
    struct store_conn *w = store_acquire(f->st, &e);
    struct store_conn *r = store_acquire(f->st, &e);
    assert_non_null(w);
    assert_non_null(r);
    assert_int_equal(store_begin(f->st, w), FG_OK);
    assert_int_equal(insert(w, 99, 1), 0);
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    assert_int_equal(count_where(r, "SELECT count(*) FROM gc_t WHERE thread = ?1", 99), 0);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    double ms = (double)(t1.tv_sec - t0.tv_sec) * 1e3 + (double)(t1.tv_nsec - t0.tv_nsec) / 1e6;
    assert_true(ms < 1000.0);
    assert_int_equal(store_commit(f->st, w), FG_OK);
    store_release(f->st, r); /* resets its statements: the next read takes a new snapshot */
    r = store_acquire(f->st, &e);
    assert_int_equal(count_where(r, "SELECT count(*) FROM gc_t WHERE thread = ?1", 99), 1);
    /* a constraint error inside one savepoint, rolled back, leaves the writer usable */
    assert_int_equal(store_begin(f->st, w), FG_OK);
    assert_int_not_equal(insert(w, 99, 1), 0); /* UNIQUE (thread, n) */
    store_rollback(f->st, w);
    assert_int_equal(store_begin(f->st, w), FG_OK);
    assert_int_equal(insert(w, 99, 2), 0);
    assert_int_equal(store_commit(f->st, w), FG_OK);
    store_release(f->st, r);
    r = store_acquire(f->st, &e);
    assert_int_equal(count_where(r, "SELECT count(*) FROM gc_t WHERE thread = ?1", 99), 2);
    store_release(f->st, r);
    store_release(f->st, w);
}

/* A connection released with its transaction still open is rolled back, and the writer is
 * handed on (a later begin does not wait for the busy timeout). */
static void test_leaked_transaction_is_rolled_back(void **state)
{
    struct fx *f = *state;
    enum fg_err e;
    struct store_conn *w = store_acquire(f->st, &e);
    assert_int_equal(store_begin(f->st, w), FG_OK);
    assert_int_equal(insert(w, 77, 1), 0);
    store_release(f->st, w);
    w = store_acquire(f->st, &e);
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    assert_int_equal(store_begin(f->st, w), FG_OK);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    assert_true(t1.tv_sec - t0.tv_sec < 2);
    assert_int_equal(count_where(w, "SELECT count(*) FROM gc_t WHERE thread = ?1", 77), 0);
    assert_int_equal(store_commit(f->st, w), FG_OK);
    store_release(f->st, w);
}

static long long pragma_int(struct store_conn *c, const char *sql)
{
    sqlite3_stmt *st = NULL;
    long long v = -1;
    if (sqlite3_prepare_v2(c->db, sql, -1, &st, NULL) == SQLITE_OK &&
        sqlite3_step(st) == SQLITE_ROW)
        v = sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    return v;
}

/* DATABASE_CACHE_MB / DATABASE_MMAP_MB reach every connection, commits never checkpoint inline,
 * and the background checkpointer truncates a WAL grown past DATABASE_WAL_MAX_MB. */
static void test_page_access_and_background_checkpoint(void **state)
{
    (void)state;
    char dir[64], db[128], url[160], err[512];
    snprintf(dir, sizeof dir, "/tmp/forge-ckpt-XXXXXX");
    assert_non_null(mkdtemp(dir));
    snprintf(db, sizeof db, "%s/forge.db", dir);
    snprintf(url, sizeof url, "sqlite://%s", db);
    setenv("DATABASE_URL", url, 1);
    setenv("FORGE_ENV_FILE", "/dev/null", 1);
    setenv("DATABASE_CACHE_MB", "8", 1);
    setenv("DATABASE_MMAP_MB", "32", 1);
    setenv("DATABASE_CHECKPOINT_MS", "100", 1);
    setenv("DATABASE_WAL_MAX_MB", "1", 1);
    struct fg_config cfg;
    assert_int_equal(fg_config_load(&cfg, NULL, err, sizeof err), 0);
    struct store *st;
    assert_int_equal(store_open(&cfg, &st, err, sizeof err), FG_OK);
    int applied;
    assert_int_equal(st->ops->migrate(st, &applied), FG_OK);
    enum fg_err e;
    struct store_conn *c = store_acquire(st, &e);
    assert_non_null(c);
    assert_int_equal(pragma_int(c, "PRAGMA cache_size"), -8 * 1024);
    assert_int_equal(pragma_int(c, "PRAGMA mmap_size"), 32LL * 1024 * 1024);
    assert_int_equal(pragma_int(c, "PRAGMA wal_autocheckpoint"), 0);
    /* ~3 MiB through the WAL in 30 commits */
    assert_int_equal(sqlite3_exec(c->db, "CREATE TABLE big (b BLOB)", NULL, NULL, NULL), SQLITE_OK);
    for (int i = 0; i < 30; i++) {
        assert_int_equal(store_begin(st, c), FG_OK);
        assert_int_equal(
            sqlite3_exec(c->db, "INSERT INTO big VALUES (randomblob(100000))", NULL, NULL, NULL),
            SQLITE_OK);
        assert_int_equal(store_commit(st, c), FG_OK);
    }
    store_release(st, c);
    char wal[160];
    snprintf(wal, sizeof wal, "%s-wal", db);
    struct stat sb;
    long long size = -1;
    for (int i = 0; i < 100; i++) { /* the checkpointer runs every 100 ms */
        size = stat(wal, &sb) == 0 ? (long long)sb.st_size : 0;
        if (size < 1024 * 1024)
            break;
        usleep(50 * 1000);
    }
    assert_true(size >= 0 && size < 1024 * 1024);
    c = store_acquire(st, &e);
    assert_int_equal(pragma_int(c, "SELECT count(*) FROM big"), 30);
    store_release(st, c);
    store_close(st);
    fg_config_free(&cfg);
    unsetenv("DATABASE_CACHE_MB");
    unsetenv("DATABASE_MMAP_MB");
    unsetenv("DATABASE_CHECKPOINT_MS");
    unsetenv("DATABASE_WAL_MAX_MB");
    char cmd[200];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    assert_int_equal(system(cmd), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_concurrent_commits_and_rollbacks, setup, teardown),
        cmocka_unit_test_setup_teardown(test_readers_do_not_wait, setup, teardown),
        cmocka_unit_test_setup_teardown(test_leaked_transaction_is_rolled_back, setup, teardown),
        cmocka_unit_test(test_page_access_and_background_checkpoint),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
