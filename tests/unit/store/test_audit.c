/*
 * Audit chain and outbox against a temp SQLite database: the canonical hash (known answer),
 * appends inside and outside transactions, concurrent appenders, and the verifier catching an
 * edited entry, a re-hashed edit, a removed middle entry and removed newest entries. Outbox
 * events written with and without a transaction, listed, delivered, counted and purged.
 */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include <jansson.h>
#include <sqlite3.h>

#include "core/app.h"
#include "core/audit.h"
#include "core/events.h"
#include "store/audit.h"
#include "store/store.h"
#include "util/config.h"

struct fx {
    struct fg_config cfg;
    struct fg_app app;
    char dir[64];
    char db[128];
};

static int setup(void **state)
{
    struct fx *f = calloc(1, sizeof *f);
    snprintf(f->dir, sizeof f->dir, "/tmp/forge-audit-XXXXXX");
    assert_non_null(mkdtemp(f->dir));
    snprintf(f->db, sizeof f->db, "%s/forge.db", f->dir);
    char url[160], err[512];
    snprintf(url, sizeof url, "sqlite://%s", f->db);
    setenv("DATABASE_URL", url, 1);
    setenv("FORGE_ENV_FILE", "/dev/null", 1);
    assert_int_equal(fg_config_load(&f->cfg, NULL, err, sizeof err), 0);
    f->app.cfg = &f->cfg;
    assert_int_equal(store_open(&f->cfg, &f->app.store, err, sizeof err), FG_OK);
    int applied;
    assert_int_equal(f->app.store->ops->migrate(f->app.store, &applied), FG_OK);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fx *f = *state;
    store_close(f->app.store);
    fg_config_free(&f->cfg);
    char cmd[200];
    snprintf(cmd, sizeof cmd, "rm -rf %s", f->dir);
    assert_int_equal(system(cmd), 0);
    free(f);
    return 0;
}

/* Runs SQL on the database file directly, as someone editing it would. */
static void tamper(struct fx *f, const char *sql)
{
    sqlite3 *h;
    assert_int_equal(sqlite3_open(f->db, &h), SQLITE_OK);
    char *msg = NULL;
    int rc = sqlite3_exec(h, sql, NULL, NULL, &msg);
    if (rc != SQLITE_OK)
        fail_msg("%s: %s", sql, msg);
    sqlite3_close(h);
}

static void record(struct fx *f, struct store_conn *c, int i)
{
    json_t *d = json_pack("{si}", "i", i);
    struct fg_audit_entry e = {.actor_id = "0190a000-0000-7000-8000-000000000001",
                               .action = "capsule.update",
                               .resource_type = "capsule",
                               .resource_id = "0190a000-0000-7000-8000-0000000000c1",
                               .client_ip = "127.0.0.1",
                               .correlation_id = "corr",
                               .outcome = "success",
                               .details = d};
    assert_int_equal(fg_audit_record(&f->app, c, &e), FG_OK);
    json_decref(d);
}

static void verify(struct fx *f, int valid, long long entries, long long first_bad)
{
    struct fg_audit_verify v;
    assert_int_equal(fg_audit_verify(f->app.store, &v), FG_OK);
    if (v.valid != valid || v.entries != entries || (!valid && v.first_bad_seq != first_bad))
        fail_msg("verify: valid=%d entries=%lld first_bad=%lld (%s); expected %d %lld %lld",
                 v.valid, v.entries, v.first_bad_seq, v.reason, valid, entries, first_bad);
}

static void test_hash_known_answer(void **state)
{
    (void)state;
    struct store_audit_row r = {
        .seq = 1,
        .id = "0190a000-0000-7000-8000-0000000000a1",
        .at = 1700000000000,
        .actor_id = "0190a000-0000-7000-8000-000000000001",
        .action = "capsule.create",
        .resource_type = "capsule",
        .resource_id = "0190a000-0000-7000-8000-0000000000c1",
        .client_ip = NULL,
        .correlation_id = "req-1",
        .outcome = "success",
        .details = "{\"type\":\"code\"}",
        .prev_hash = "0000000000000000000000000000000000000000000000000000000000000000",
    };
    char h[65];
    fg_audit_hash(&r, h);
    /* computed independently (python hashlib) from the serialisation documented in audit.c */
    assert_string_equal(h, "a0b16ff71a68cd92531183588511834e1f4f5acbd859db4cf4d34e731b417108");
    r.client_ip = "";
    char h2[65];
    fg_audit_hash(&r, h2);
    assert_string_not_equal(h, h2); /* NULL and "" are different entries */
}

static void test_chain_and_transactions(void **state)
{
    struct fx *f = *state;
    verify(f, 1, 0, 0);
    for (int i = 0; i < 10; i++)
        record(f, NULL, i);
    verify(f, 1, 10, 0);
    enum fg_err e;
    struct store_conn *c = store_acquire(f->app.store, &e);
    /* inside a rolled back transaction: gone, chain intact */
    assert_int_equal(store_begin(f->app.store, c), FG_OK);
    record(f, c, 100);
    record(f, c, 101);
    store_rollback(f->app.store, c);
    verify(f, 1, 10, 0);
    /* committed: part of the chain */
    assert_int_equal(store_begin(f->app.store, c), FG_OK);
    record(f, c, 102);
    assert_int_equal(store_commit(f->app.store, c), FG_OK);
    /* on a connection without a transaction: append opens its own */
    record(f, c, 103);
    store_release(f->app.store, c);
    verify(f, 1, 12, 0);
}

static void test_detects_edit(void **state)
{
    struct fx *f = *state;
    for (int i = 0; i < 10; i++)
        record(f, NULL, i);
    tamper(f, "UPDATE audit_log SET outcome = 'failure' WHERE seq = 7");
    verify(f, 0, 10, 7);
    tamper(f, "UPDATE audit_log SET outcome = 'success' WHERE seq = 7");
    verify(f, 1, 10, 0);
    tamper(f, "UPDATE audit_log SET details = '{\"i\":99}' WHERE seq = 3");
    verify(f, 0, 10, 3);
}

static void test_detects_rehashed_edit(void **state)
{
    struct fx *f = *state;
    for (int i = 0; i < 6; i++)
        record(f, NULL, i);
    /* the editor recomputes the hash of the edited entry: the next entry no longer chains */
    struct {
        char id[40], actor[40], rid[40], prev[70], ip[200], details[400];
        long long at;
    } row;
    sqlite3 *h;
    assert_int_equal(sqlite3_open(f->db, &h), SQLITE_OK);
    sqlite3_stmt *st;
    assert_int_equal(sqlite3_prepare_v2(h,
                                        "SELECT id, actor_id, resource_id, prev_hash, at, "
                                        "client_ip, details FROM audit_log WHERE seq = 4",
                                        -1, &st, NULL),
                     SQLITE_OK);
    assert_int_equal(sqlite3_step(st), SQLITE_ROW);
    snprintf(row.id, sizeof row.id, "%s", sqlite3_column_text(st, 0));
    snprintf(row.actor, sizeof row.actor, "%s", sqlite3_column_text(st, 1));
    snprintf(row.rid, sizeof row.rid, "%s", sqlite3_column_text(st, 2));
    snprintf(row.prev, sizeof row.prev, "%s", sqlite3_column_text(st, 3));
    row.at = sqlite3_column_int64(st, 4);
    /* the hash covers the stored (sealed, docs/privacy.md) IP and details */
    snprintf(row.ip, sizeof row.ip, "%s", sqlite3_column_text(st, 5));
    snprintf(row.details, sizeof row.details, "%s", sqlite3_column_text(st, 6));
    sqlite3_finalize(st);
    struct store_audit_row r = {.seq = 4,
                                .id = row.id,
                                .at = row.at,
                                .actor_id = row.actor,
                                .action = "capsule.delete",
                                .resource_type = "capsule",
                                .resource_id = row.rid,
                                .client_ip = row.ip,
                                .correlation_id = "corr",
                                .outcome = "success",
                                .details = row.details,
                                .prev_hash = row.prev};
    char hash[65];
    fg_audit_hash(&r, hash);
    char sql[300];
    snprintf(sql, sizeof sql,
             "UPDATE audit_log SET action = 'capsule.delete', hash = '%s' WHERE seq = 4", hash);
    assert_int_equal(sqlite3_exec(h, sql, NULL, NULL, NULL), SQLITE_OK);
    sqlite3_close(h);
    verify(f, 0, 6, 5);
}

static void test_detects_removal(void **state)
{
    struct fx *f = *state;
    for (int i = 0; i < 10; i++)
        record(f, NULL, i);
    tamper(f, "DELETE FROM audit_log WHERE seq = 5");
    verify(f, 0, 9, 5);
}

static void test_detects_removed_tail(void **state)
{
    struct fx *f = *state;
    for (int i = 0; i < 10; i++)
        record(f, NULL, i);
    tamper(f, "DELETE FROM audit_log WHERE seq >= 9");
    verify(f, 0, 8, 9);
    /* everything removed */
    tamper(f, "DELETE FROM audit_log");
    verify(f, 0, 0, 1);
}

struct thr {
    struct fx *f;
    int base;
};

static void *appender(void *arg)
{
    struct thr *t = arg;
    for (int i = 0; i < 50; i++)
        record(t->f, NULL, t->base + i);
    return NULL;
}

static void test_concurrent_appenders(void **state)
{
    struct fx *f = *state;
    pthread_t th[4];
    struct thr t[4];
    for (int i = 0; i < 4; i++) {
        t[i] = (struct thr){f, i * 1000};
        assert_int_equal(pthread_create(&th[i], NULL, appender, &t[i]), 0);
    }
    for (int i = 0; i < 4; i++)
        pthread_join(th[i], NULL);
    verify(f, 1, 200, 0);
}

struct evs {
    int n;
    long long seqs[16];
    char types[16][32];
};

static int ev_cb(const struct store_outbox_event *ev, void *ctx)
{
    struct evs *x = ctx;
    if (x->n < 16) {
        x->seqs[x->n] = ev->seq;
        snprintf(x->types[x->n], 32, "%s", ev->type);
    }
    x->n++;
    return 0;
}

static void test_outbox(void **state)
{
    struct fx *f = *state;
    struct store *s = f->app.store;
    json_t *p = json_pack("{ss}", "email_domain", "example.com");
    assert_int_equal(fg_event_emit(&f->app, NULL, "user.registered", "u1", p), FG_OK);
    enum fg_err e;
    struct store_conn *c = store_acquire(s, &e);
    assert_int_equal(store_begin(s, c), FG_OK);
    assert_int_equal(fg_event_emit(&f->app, c, "capsule.created", "c1", NULL), FG_OK);
    store_rollback(s, c); /* the event goes with its transaction */
    assert_int_equal(store_begin(s, c), FG_OK);
    assert_int_equal(fg_event_emit(&f->app, c, "capsule.created", "c2", p), FG_OK);
    assert_int_equal(fg_event_emit(&f->app, c, "capsule.updated", "c2", p), FG_OK);
    assert_int_equal(store_commit(s, c), FG_OK);
    json_decref(p);
    long long n = 0;
    assert_int_equal(s->audit->outbox_backlog(c, &n), FG_OK);
    assert_int_equal(n, 3);
    struct evs x = {0};
    assert_int_equal(s->audit->outbox_pending(c, 0, 10, ev_cb, &x), FG_OK);
    assert_int_equal(x.n, 3);
    assert_string_equal(x.types[0], "user.registered");
    assert_string_equal(x.types[1], "capsule.created");
    assert_string_equal(x.types[2], "capsule.updated");
    assert_int_equal(s->audit->outbox_mark_failed(c, x.seqs[0], "broker down"), FG_OK);
    assert_int_equal(s->audit->outbox_mark_delivered(c, x.seqs[0], 1000), FG_OK);
    assert_int_equal(s->audit->outbox_mark_delivered(c, x.seqs[1], 5000), FG_OK);
    assert_int_equal(s->audit->outbox_backlog(c, &n), FG_OK);
    assert_int_equal(n, 1);
    memset(&x, 0, sizeof x);
    assert_int_equal(s->audit->outbox_pending(c, 0, 10, ev_cb, &x), FG_OK);
    assert_int_equal(x.n, 1);
    assert_string_equal(x.types[0], "capsule.updated");
    assert_int_equal(s->audit->outbox_purge(c, 2000, &n), FG_OK);
    assert_int_equal(n, 1); /* only the event delivered before t=2000 */
    store_release(s, c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_hash_known_answer),
        cmocka_unit_test_setup_teardown(test_chain_and_transactions, setup, teardown),
        cmocka_unit_test_setup_teardown(test_detects_edit, setup, teardown),
        cmocka_unit_test_setup_teardown(test_detects_rehashed_edit, setup, teardown),
        cmocka_unit_test_setup_teardown(test_detects_removal, setup, teardown),
        cmocka_unit_test_setup_teardown(test_detects_removed_tail, setup, teardown),
        cmocka_unit_test_setup_teardown(test_concurrent_appenders, setup, teardown),
        cmocka_unit_test_setup_teardown(test_outbox, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
