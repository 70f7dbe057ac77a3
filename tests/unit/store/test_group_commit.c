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
            sqlite3_stmt *st = sq_prepare(c, "SELECT count(*) FROM gc_t WHERE thread = ?1 AND n = ?2");
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

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_concurrent_commits_and_rollbacks, setup, teardown),
        cmocka_unit_test_setup_teardown(test_readers_do_not_wait, setup, teardown),
        cmocka_unit_test_setup_teardown(test_leaked_transaction_is_rolled_back, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
