/* Small utilities: buffers, UUIDv7, time parsing, metrics rendering. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "util/buf.h"
#include "util/metrics.h"
#include "util/time.h"
#include "util/uuid.h"

static void test_buf_cap(void **state)
{
    (void)state;
    struct fg_buf b;
    fg_buf_init(&b, 10);
    assert_int_equal(fg_buf_puts(&b, "hello"), FG_OK);
    assert_int_equal(fg_buf_puts(&b, "world"), FG_OK);
    assert_int_equal(fg_buf_puts(&b, "!"), FG_ELIMIT);
    assert_string_equal(b.p, "helloworld");
    assert_int_equal(b.len, 10);
    fg_buf_reset(&b);
    assert_int_equal(fg_buf_printf(&b, "%d-%s", 42, "x"), FG_OK);
    assert_string_equal(b.p, "42-x");
    fg_buf_free(&b);
    fg_buf_init(&b, 100000);
    char big[3000];
    memset(big, 'a', sizeof big - 1);
    big[sizeof big - 1] = '\0';
    assert_int_equal(fg_buf_printf(&b, "[%s]", big), FG_OK);
    assert_int_equal(b.len, sizeof big + 1);
    size_t n;
    char *p = fg_buf_steal(&b, &n);
    assert_int_equal(n, sizeof big + 1);
    assert_int_equal(p[0], '[');
    free(p);
}

static void test_uuid7(void **state)
{
    (void)state;
    char a[37], b[37];
    fg_uuid7(a);
    fg_uuid7(b);
    assert_true(fg_uuid_valid(a));
    assert_int_equal(a[14], '7');
    assert_true(strchr("89ab", a[19]) != NULL);
    assert_string_not_equal(a, b);
    assert_true(strncmp(a, b, 8) <= 0); /* time-ordered prefix */
    assert_false(fg_uuid_valid("not-a-uuid"));
    assert_false(fg_uuid_valid("0192d1c0-0000-7000-8000-00000000000g"));
    assert_true(fg_uuid_valid("0192d1c0-0000-7000-8000-000000000000"));
}

static void test_time_parse(void **state)
{
    (void)state;
    int64_t ms;
    assert_int_equal(fg_time_parse_iso("2026-01-02T03:04:05Z", &ms), 0);
    assert_int_equal(ms, 1767323045000LL);
    assert_int_equal(fg_time_parse_iso("2026-01-02T03:04:05.250Z", &ms), 0);
    assert_int_equal(ms, 1767323045250LL);
    assert_int_equal(fg_time_parse_iso("2026-01-02T05:04:05+02:00", &ms), 0);
    assert_int_equal(ms, 1767323045000LL);
    assert_int_equal(fg_time_parse_iso("2026-01-02", &ms), 0);
    assert_int_equal(fg_time_parse_iso("2026-13-02", &ms), -1);
    assert_int_equal(fg_time_parse_iso("yesterday", &ms), -1);
    assert_int_equal(fg_time_parse_iso("2026-01-02T03:04", &ms), -1);
    char out[32];
    fg_time_iso(1767323045250LL, out, sizeof out);
    assert_string_equal(out, "2026-01-02T03:04:05.250Z");
}

static void test_metrics_render(void **state)
{
    (void)state;
    static const double b[] = {0.1, 1};
    struct fg_metric *c = fg_metric_new(FG_COUNTER, "t_total", "help", "a,b", NULL, 0);
    struct fg_metric *h = fg_metric_new(FG_HISTOGRAM, "t_seconds", "help", "", b, 2);
    const char *v[] = {"x", "q\"uote\n"};
    fg_metric_add(c, v, 2);
    fg_metric_add(c, v, 1);
    fg_metric_observe(h, NULL, 0.05);
    fg_metric_observe(h, NULL, 0.5);
    fg_metric_observe(h, NULL, 5);
    struct fg_buf out;
    fg_buf_init(&out, 1 << 20);
    fg_metrics_render(&out);
    assert_non_null(strstr(out.p, "# TYPE t_total counter\n"));
    assert_non_null(strstr(out.p, "t_total{a=\"x\",b=\"q\\\"uote\\n\"} 3\n"));
    assert_non_null(strstr(out.p, "t_seconds_bucket{le=\"0.1\"} 1\n"));
    assert_non_null(strstr(out.p, "t_seconds_bucket{le=\"1\"} 2\n"));
    assert_non_null(strstr(out.p, "t_seconds_bucket{le=\"+Inf\"} 3\n"));
    assert_non_null(strstr(out.p, "t_seconds_count 3\n"));
    assert_non_null(strstr(out.p, "t_seconds_sum 5.55"));
    fg_buf_free(&out);
    /* series cap: label explosion is bounded */
    struct fg_metric *many = fg_metric_new(FG_COUNTER, "many_total", "help", "k", NULL, 0);
    for (int i = 0; i < METRICS_MAX_SERIES + 100; i++) {
        char k[16];
        snprintf(k, sizeof k, "%d", i);
        const char *kv[] = {k};
        fg_metric_add(many, kv, 1);
    }
    fg_buf_init(&out, 8 << 20);
    fg_metrics_render(&out);
    size_t lines = 0;
    for (char *p = strstr(out.p, "many_total{"); p; p = strstr(p + 1, "many_total{"))
        lines++;
    assert_int_equal(lines, METRICS_MAX_SERIES);
    fg_buf_free(&out);
    fg_metrics_shutdown();
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_buf_cap),
        cmocka_unit_test(test_uuid7),
        cmocka_unit_test(test_time_parse),
        cmocka_unit_test(test_metrics_render),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
