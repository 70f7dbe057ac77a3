/*
 * store/pg/immune.c against a real PostgreSQL (tests/unit/store/pg_fixture.h): responses recorded
 * with and without expiry and details, listed newest first with filters, paging and totals, and
 * the active ones of an action found by expiry.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "pg_fixture.h"
#include "store/immune.h"

static const struct store_immune_ops *IM(void)
{
    return pgfx.store->immune;
}

static void resp(struct store_immune_response *r, const char *threat, const char *target_type,
                 const char *action, int64_t at, int64_t expires, char *details)
{
    memset(r, 0, sizeof *r);
    pgfx_id(r->id);
    snprintf(r->threat_type, sizeof r->threat_type, "%s", threat);
    snprintf(r->level, sizeof r->level, "high");
    snprintf(r->target_type, sizeof r->target_type, "%s", target_type);
    snprintf(r->target_id, sizeof r->target_id, "203.0.113.7");
    snprintf(r->action, sizeof r->action, "%s", action);
    snprintf(r->reason, sizeof r->reason, "10 failed logins");
    r->details = details;
    r->created_at = at;
    r->expires_at = expires;
}

static void test_record_and_list(void **state)
{
    (void)state;
    struct store_conn *c = pgfx_conn();
    struct store_immune_response r[4];
    resp(&r[0], "brute_force", "ip", "block_ip", 1000, 5000, "{\"failures\": 10}");
    resp(&r[1], "brute_force", "ip", "block_ip", 2000, 0, NULL);
    resp(&r[2], "manual", "user", "quarantine_user", 3000, 0, NULL);
    resp(&r[3], "manual", "user", "quarantine_user", 4000, 0, NULL);
    assert_int_equal(store_begin(pgfx.store, c), FG_OK);
    for (int i = 0; i < 4; i++)
        assert_int_equal(IM()->record(c, &r[i]), FG_OK);
    assert_int_equal(store_commit(pgfx.store, c), FG_OK);
    assert_int_equal(IM()->record(c, &r[0]), FG_ECONFLICT);

    struct store_immune_response *items = NULL;
    size_t n = 0;
    long long total = 0;
    assert_int_equal(IM()->list(c, NULL, 0, 10, &items, &n, &total), FG_OK);
    assert_int_equal(total, 4);
    assert_int_equal(n, 4);
    assert_string_equal(items[0].id, r[3].id);
    assert_string_equal(items[3].id, r[0].id);
    assert_string_equal(items[3].details, "{\"failures\": 10}"); /* byte for byte */
    assert_int_equal(items[3].expires_at, 5000);
    assert_string_equal(items[2].details, "{}");
    assert_int_equal(items[2].expires_at, 0);
    assert_string_equal(items[3].reason, "10 failed logins");
    assert_string_equal(items[3].level, "high");
    store_immune_free_list(items, n);

    struct store_immune_filter f = {.threat_type = "manual"};
    assert_int_equal(IM()->list(c, &f, 1, 10, &items, &n, &total), FG_OK);
    assert_int_equal(total, 2);
    assert_int_equal(n, 1);
    assert_string_equal(items[0].id, r[2].id);
    store_immune_free_list(items, n);

    struct store_immune_filter g = {.target_type = "ip", .since = 1500};
    assert_int_equal(IM()->list(c, &g, 0, 0, &items, &n, &total), FG_OK);
    assert_int_equal(total, 1);
    assert_int_equal(n, 0);
    assert_null(items);
    store_release(pgfx.store, c);
}

struct seen {
    int n;
    char id[37];
    int64_t expires;
};

static void on_active(void *ctx, const struct store_immune_response *r)
{
    struct seen *s = ctx;
    s->n++;
    snprintf(s->id, sizeof s->id, "%s", r->id);
    s->expires = r->expires_at;
}

static void test_active(void **state)
{
    (void)state;
    struct store_conn *c = pgfx_conn();
    struct store_immune_response r;
    resp(&r, "brute_force", "ip", "block_ip_test", 1000, 9000, NULL);
    assert_int_equal(IM()->record(c, &r), FG_OK);
    struct store_immune_response forever;
    resp(&forever, "brute_force", "ip", "block_ip_test", 1000, 0, NULL);
    assert_int_equal(IM()->record(c, &forever), FG_OK);
    struct seen s = {0};
    assert_int_equal(IM()->active(c, "block_ip_test", 8999, on_active, &s), FG_OK);
    assert_int_equal(s.n, 1);
    assert_string_equal(s.id, r.id);
    assert_int_equal(s.expires, 9000);
    memset(&s, 0, sizeof s);
    assert_int_equal(IM()->active(c, "block_ip_test", 9000, on_active, &s), FG_OK);
    assert_int_equal(s.n, 0);
    store_release(pgfx.store, c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_record_and_list),
        cmocka_unit_test(test_active),
    };
    return cmocka_run_group_tests(tests, pgfx_setup, pgfx_teardown);
}
