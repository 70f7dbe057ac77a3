/* Client address behind trusted proxies (issue 11, finding 5): every X-Forwarded-For line is one
 * list (RFC 9110 §5.3), walked from the right; also the display-name check (same issue). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "core/identity.h"
#include "http/middleware.h"

static const char TRUSTED[] = "10.0.0.0/8, 192.168.1.1, fd00::/8";

static int client(const char *const *lines, size_t n, char *out)
{
    return mw_forwarded_client(lines, n, TRUSTED, out, 64);
}

static void test_single_line(void **state)
{
    (void)state;
    char out[64];
    const char *a[] = {"203.0.113.7"};
    assert_int_equal(client(a, 1, out), 1);
    assert_string_equal(out, "203.0.113.7");
    /* attacker-supplied left part, the proxy's entry on the right */
    const char *b[] = {"1.1.1.1, 2.2.2.2, 203.0.113.7"};
    assert_int_equal(client(b, 1, out), 1);
    assert_string_equal(out, "203.0.113.7");
    /* a chain of trusted proxies is skipped */
    const char *c[] = {"9.9.9.9, 203.0.113.7, 10.1.2.3, 192.168.1.1"};
    assert_int_equal(client(c, 1, out), 1);
    assert_string_equal(out, "203.0.113.7");
}

static void test_several_lines_are_one_list(void **state)
{
    (void)state;
    char out[64];
    /* the finding: an attacker's own line first, the proxy's line last; only the first line
     * used to be read, so the attacker chose their address */
    const char *a[] = {"198.51.100.99", "203.0.113.7"};
    assert_int_equal(client(a, 2, out), 1);
    assert_string_equal(out, "203.0.113.7");
    /* the same list split differently gives the same answer */
    const char *b[] = {"198.51.100.99, 203.0.113.7", "10.0.0.5"};
    const char *c[] = {"198.51.100.99", "203.0.113.7, 10.0.0.5"};
    const char *d[] = {"198.51.100.99", "203.0.113.7", "10.0.0.5"};
    assert_int_equal(client(b, 2, out), 1);
    assert_string_equal(out, "203.0.113.7");
    assert_int_equal(client(c, 2, out), 1);
    assert_string_equal(out, "203.0.113.7");
    assert_int_equal(client(d, 3, out), 1);
    assert_string_equal(out, "203.0.113.7");
    /* trusted hops spread over lines are skipped across line boundaries */
    const char *e[] = {"203.0.113.8, 10.0.0.1", "192.168.1.1"};
    assert_int_equal(client(e, 2, out), 1);
    assert_string_equal(out, "203.0.113.8");
}

static void test_forms_and_garbage(void **state)
{
    (void)state;
    char out[64];
    const char *a[] = {"  203.0.113.7:4711 ,\t10.0.0.1 "};
    assert_int_equal(client(a, 1, out), 1);
    assert_string_equal(out, "203.0.113.7");
    const char *b[] = {"[2001:db8::1]:443"};
    assert_int_equal(client(b, 1, out), 1);
    assert_string_equal(out, "2001:db8::1");
    const char *c[] = {"2001:db8::2, fd00::1"};
    assert_int_equal(client(c, 1, out), 1);
    assert_string_equal(out, "2001:db8::2");
    /* empty elements are skipped */
    const char *d[] = {"203.0.113.7, ,", ""};
    assert_int_equal(client(d, 2, out), 1);
    assert_string_equal(out, "203.0.113.7");
    /* garbage where the walk needs an address: unknown (caller keeps the peer address) */
    const char *e[] = {"203.0.113.7", "unknown"};
    assert_int_equal(client(e, 2, out), 0);
    const char *f[] = {"not-an-ip, 10.0.0.1"};
    assert_int_equal(client(f, 1, out), 0);
    const char *g[] = {"[2001:db8::1"};
    assert_int_equal(client(g, 1, out), 0);
    /* garbage left of the client is never looked at */
    const char *h[] = {"<script>", "203.0.113.7"};
    assert_int_equal(client(h, 2, out), 1);
    assert_string_equal(out, "203.0.113.7");
    /* nothing at all */
    assert_int_equal(client(NULL, 0, out), 0);
    const char *i[] = {" , "};
    assert_int_equal(client(i, 1, out), 0);
    /* all hops trusted: the left-most */
    const char *j[] = {"10.0.0.9, 10.0.0.1"};
    assert_int_equal(client(j, 1, out), 1);
    assert_string_equal(out, "10.0.0.9");
    /* an over-long element is garbage, not truncated into an address */
    char longel[200];
    memset(longel, '1', sizeof longel - 1);
    longel[sizeof longel - 1] = '\0';
    const char *k[] = {longel};
    assert_int_equal(client(k, 1, out), 0);
}

static void test_display_name(void **state)
{
    (void)state;
    static const char *const bad[] = {
        "a\tb",
        "a\x1b[0m",
        "a\x7f",
        "a\xc2\x85z",
        "a\xc2\x9bz",
        "x\xe2\x80\xaey",
        "x\xe2\x80\xaay",
        "x\xe2\x81\xa6y",
        "x\xe2\x81\xa9y",
        "x\xe2\x80\x8fy",
        "x\xd8\x9cy",
        "<b>",
        "a>b",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        assert_non_null(fg_display_name_problem(bad[i], strlen(bad[i])));
    static const char *const good[] = {
        "Ada",
        "Zo\xc3\xab",
        "\xe6\x9d\x8e",
        "\xd9\x85\xd8\xad",
        "\xe2\x80\x94 dash",
        "\xe2\x80\x99quote",
        "\xf0\x9f\x99\x82",
        "a & b",
        "\xc2\xa0nbsp",
    };
    for (size_t i = 0; i < sizeof good / sizeof good[0]; i++)
        assert_null(fg_display_name_problem(good[i], strlen(good[i])));
    /* an embedded NUL counts as a control character */
    assert_non_null(fg_display_name_problem("a\0b", 3));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_single_line),
        cmocka_unit_test(test_several_lines_are_one_list),
        cmocka_unit_test(test_forms_and_garbage),
        cmocka_unit_test(test_display_name),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
