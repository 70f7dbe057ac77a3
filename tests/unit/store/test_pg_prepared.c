/*
 * store/pg/pg.c's per-connection prepared statements against a real PostgreSQL
 * (tests/unit/store/pg_fixture.h): a statement is prepared once per connection and run by name
 * after; the cache is bounded (statements beyond it run unnamed and still answer); statements
 * deallocated behind Forge's back (DEALLOCATE ALL, as a pooler or an operator might) are noticed:
 * outside a transaction the query is answered at once, inside one the transaction fails and the
 * connection is reset when released, so the next user of the connection is served.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "pg_fixture.h"

static long long query_int(struct store_conn *c, const char *sql, const char *arg, enum fg_err *e)
{
    const char *p[] = {arg};
    PGresult *r = pg_exec(c, sql, arg ? 1 : 0, arg ? p : NULL, e);
    if (!r)
        return -1;
    long long v = strtoll(PQgetvalue(r, 0, 0), NULL, 10);
    PQclear(r);
    return v;
}

/* Statements of this session as the server sees them. */
static long long server_prepared(struct store_conn *c, const char *sql)
{
    PGconn *pg = pg_conn_of(c)->pg;
    const char *p[] = {sql};
    PGresult *r =
        PQexecParams(pg, "SELECT count(*) FROM pg_prepared_statements WHERE statement = $1", 1,
                     NULL, p, NULL, NULL, 0);
    assert_int_equal(PQresultStatus(r), PGRES_TUPLES_OK);
    long long v = strtoll(PQgetvalue(r, 0, 0), NULL, 10);
    PQclear(r);
    return v;
}

static const char SQL_ADD[] = "SELECT $1::int + 1";

static void test_prepared_once_per_connection(void **state)
{
    (void)state;
    struct store_conn *c = pgfx_conn();
    enum fg_err e;
    size_t before = pg_conn_of(c)->nstmts;
    for (int i = 0; i < 5; i++) {
        char arg[16];
        snprintf(arg, sizeof arg, "%d", i * 10);
        assert_int_equal(query_int(c, SQL_ADD, arg, &e), i * 10 + 1);
        assert_int_equal(e, FG_OK);
    }
    assert_int_equal(server_prepared(c, SQL_ADD), 1);
    assert_int_equal(pg_conn_of(c)->nstmts, before + 1);
    store_release(pgfx.store, c);
}

static void test_cache_bounded(void **state)
{
    (void)state;
    struct store_conn *c = pgfx_conn();
    enum fg_err e;
    for (int i = 0; i < PG_STMT_CACHE_MAX + 20; i++) {
        char sql[64];
        snprintf(sql, sizeof sql, "SELECT %d::int", i);
        assert_int_equal(query_int(c, sql, NULL, &e), i);
        assert_int_equal(e, FG_OK);
    }
    assert_int_equal(pg_conn_of(c)->nstmts, PG_STMT_CACHE_MAX);
    /* a statement beyond the bound runs unnamed: nothing of it is prepared on the server */
    char last[64];
    snprintf(last, sizeof last, "SELECT %d::int", PG_STMT_CACHE_MAX + 19);
    assert_int_equal(server_prepared(c, last), 0);
    /* and the bound is per connection: the cached ones still run by name */
    assert_int_equal(query_int(c, "SELECT 0::int", NULL, &e), 0);
    store_release(pgfx.store, c);
}

static void test_deallocated_outside_tx(void **state)
{
    (void)state;
    struct store_conn *c = pgfx_conn();
    enum fg_err e;
    assert_int_equal(query_int(c, SQL_ADD, "1", &e), 2);
    PQclear(PQexec(pg_conn_of(c)->pg, "DEALLOCATE ALL"));
    assert_int_equal(server_prepared(c, SQL_ADD), 0);
    assert_int_equal(query_int(c, SQL_ADD, "2", &e), 3); /* answered at once */
    assert_int_equal(e, FG_OK);
    assert_int_equal(query_int(c, SQL_ADD, "3", &e), 4); /* prepared again */
    assert_int_equal(server_prepared(c, SQL_ADD), 1);
    store_release(pgfx.store, c);
}

static void test_deallocated_inside_tx(void **state)
{
    (void)state;
    struct store_conn *c = pgfx_conn();
    struct pg_conn *pc = pg_conn_of(c);
    enum fg_err e;
    assert_int_equal(query_int(c, SQL_ADD, "1", &e), 2);
    PQclear(PQexec(pc->pg, "DEALLOCATE ALL"));
    assert_int_equal(store_begin(pgfx.store, c), FG_OK);
    assert_int_equal(query_int(c, SQL_ADD, "5", &e), -1); /* this transaction fails */
    assert_int_equal(e, FG_EDB);
    assert_true(pc->stmts_stale);
    store_rollback(pgfx.store, c);
    store_release(pgfx.store, c); /* resets the connection's statements */
    assert_false(pc->stmts_stale);
    assert_int_equal(pc->nstmts, 0);
    struct store_conn *c2 = pgfx_conn();
    assert_int_equal(store_begin(pgfx.store, c2), FG_OK);
    assert_int_equal(query_int(c2, SQL_ADD, "6", &e), 7);
    assert_int_equal(store_commit(pgfx.store, c2), FG_OK);
    store_release(pgfx.store, c2);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_prepared_once_per_connection),
        cmocka_unit_test(test_cache_bounded),
        cmocka_unit_test(test_deallocated_outside_tx),
        cmocka_unit_test(test_deallocated_inside_tx),
    };
    return cmocka_run_group_tests(tests, pgfx_setup, pgfx_teardown);
}
