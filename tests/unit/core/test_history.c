/*
 * The line diff of time travel (core/history.c): edit scripts are minimal on small cases, always
 * transform a into b (checked on random inputs), hunks carry the unified-diff numbers, the edit
 * bound falls back to a coarse but correct diff, and metadata changes are listed by key.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "core/history.h"

/* Applies an edit script to the lines of a and b and checks it yields b from a; returns the
 * number of edits. */
static size_t check_script(const char *a, const char *b, const struct fg_diff *d)
{
    /* split into lines */
    const char *pa = a, *pb = b;
    size_t edits = 0;
    char out[4096] = "";
    size_t on = 0;
    for (size_t i = 0; i < d->n; i++) {
        const char *la = pa, *lb = pb;
        size_t na = strcspn(pa, "\n"), nb = strcspn(pb, "\n");
        if (d->ops[i] == 'e') {
            assert_int_equal(na, nb);
            assert_memory_equal(la, lb, na);
            memcpy(out + on, la, na + (la[na] == '\n'));
            on += na + (la[na] == '\n');
            pa += na + (pa[na] == '\n');
            pb += nb + (pb[nb] == '\n');
        } else if (d->ops[i] == 'd') {
            pa += na + (pa[na] == '\n');
            edits++;
        } else {
            memcpy(out + on, lb, nb + (lb[nb] == '\n'));
            on += nb + (lb[nb] == '\n');
            pb += nb + (pb[nb] == '\n');
            edits++;
        }
    }
    out[on] = '\0';
    assert_string_equal(pa, "");
    assert_string_equal(pb, "");
    assert_string_equal(out, b);
    return edits;
}

static size_t diff_edits(const char *a, const char *b, int max_edits, int *coarse)
{
    struct fg_diff d;
    fg_diff_lines(a, strlen(a), b, strlen(b), max_edits, &d);
    size_t n = check_script(a, b, &d);
    if (coarse)
        *coarse = d.coarse;
    fg_diff_free(&d);
    return n;
}

static void test_small_cases(void **state)
{
    (void)state;
    assert_int_equal(diff_edits("", "", 100, NULL), 0);
    assert_int_equal(diff_edits("a\nb\nc\n", "a\nb\nc\n", 100, NULL), 0);
    assert_int_equal(diff_edits("", "a\nb\n", 100, NULL), 2);
    assert_int_equal(diff_edits("a\nb\n", "", 100, NULL), 2);
    assert_int_equal(diff_edits("a\nb\nc\n", "a\nx\nc\n", 100, NULL), 2);
    assert_int_equal(diff_edits("a\nb\nc\nd\n", "b\nc\nd\ne\n", 100, NULL), 2);
    /* the classic Myers example: ABCABBA → CBABAC needs 5 edits */
    assert_int_equal(diff_edits("A\nB\nC\nA\nB\nB\nA\n", "C\nB\nA\nB\nA\nC\n", 100, NULL), 5);
    /* a missing final newline is a change of the last line */
    assert_int_equal(diff_edits("a\nb", "a\nb\n", 100, NULL), 2);
}

static void test_random_scripts_are_correct(void **state)
{
    (void)state;
    srand(7);
    for (int round = 0; round < 300; round++) {
        char a[512] = "", b[512] = "";
        int na = rand() % 30, nb = rand() % 30;
        for (int i = 0; i < na; i++) {
            char l[4] = {(char)('a' + rand() % 4), '\n', 0};
            strcat(a, l);
        }
        for (int i = 0; i < nb; i++) {
            char l[4] = {(char)('a' + rand() % 4), '\n', 0};
            strcat(b, l);
        }
        int coarse = 0;
        size_t full = diff_edits(a, b, 1000, &coarse);
        assert_false(coarse);
        /* the bound: with at most 3 edits searched the script is still correct */
        size_t bounded = diff_edits(a, b, 3, &coarse);
        if (full > 3)
            assert_true(coarse);
        assert_true(bounded >= full);
    }
}

static void test_hunks(void **state)
{
    (void)state;
    const char *a = "1\n2\n3\n4\n5\n6\n7\n8\n9\n10\n11\n12\n13\n14\n15\n16\n17\n18\n19\n20\n";
    const char *b = "1\n2\nthree\n4\n5\n6\n7\n8\n9\n10\n11\n12\n13\n14\n15\n16\n17\n18\n19\n20\n"
                    "21\n";
    long long added, removed;
    int coarse;
    json_t *h = fg_diff_hunks(a, strlen(a), b, strlen(b), 3, 100, &added, &removed, &coarse);
    assert_int_equal(json_array_size(h), 2);
    assert_int_equal(added, 2);
    assert_int_equal(removed, 1);
    json_t *h0 = json_array_get(h, 0), *h1 = json_array_get(h, 1);
    assert_int_equal(json_integer_value(json_object_get(h0, "old_start")), 1);
    assert_int_equal(json_integer_value(json_object_get(h0, "old_lines")), 6);
    assert_int_equal(json_integer_value(json_object_get(h0, "new_start")), 1);
    assert_int_equal(json_integer_value(json_object_get(h0, "new_lines")), 6);
    json_t *lines = json_object_get(h0, "lines");
    assert_string_equal(json_string_value(json_array_get(lines, 2)), "-3");
    assert_string_equal(json_string_value(json_array_get(lines, 3)), "+three");
    assert_string_equal(json_string_value(json_array_get(lines, 0)), " 1");
    assert_int_equal(json_integer_value(json_object_get(h1, "old_start")), 18);
    assert_int_equal(json_integer_value(json_object_get(h1, "old_lines")), 3);
    assert_int_equal(json_integer_value(json_object_get(h1, "new_lines")), 4);
    json_decref(h);
    /* changes 6 lines apart share one hunk */
    const char *c = "x\n2\n3\n4\n5\n6\n7\ny\n9\n10\n";
    const char *d0 = "1\n2\n3\n4\n5\n6\n7\n8\n9\n10\n";
    h = fg_diff_hunks(d0, strlen(d0), c, strlen(c), 3, 100, &added, &removed, &coarse);
    assert_int_equal(json_array_size(h), 1);
    json_decref(h);
    h = fg_diff_hunks(d0, strlen(d0), d0, strlen(d0), 3, 100, &added, &removed, &coarse);
    assert_int_equal(json_array_size(h), 0);
    json_decref(h);
}

static void test_large_input_bounded(void **state)
{
    (void)state;
    /* 20 000 lines, every other one changed: beyond the edit bound, coarse but correct */
    size_t n = 20000;
    char *a = malloc(n * 8 + 1), *b = malloc(n * 8 + 1);
    size_t oa = 0, ob = 0;
    for (size_t i = 0; i < n; i++) {
        oa += (size_t)sprintf(a + oa, "%06zu\n", i);
        ob += (size_t)sprintf(b + ob, "%06zu\n", i % 2 ? i : i + 1000000);
    }
    struct fg_diff d;
    fg_diff_lines(a, oa, b, ob, FG_DIFF_EDITS_MAX, &d);
    assert_true(d.coarse);
    size_t ins = 0, del = 0;
    for (size_t i = 0; i < d.n; i++) {
        ins += d.ops[i] == 'i';
        del += d.ops[i] == 'd';
    }
    assert_true(ins == del && ins > 0);
    fg_diff_free(&d);
    /* one changed line in the middle: found exactly */
    memcpy(b, a, oa);
    b[oa / 2 + 2] = 'X';
    fg_diff_lines(a, oa, b, oa, FG_DIFF_EDITS_MAX, &d);
    assert_false(d.coarse);
    size_t edits = 0;
    for (size_t i = 0; i < d.n; i++)
        edits += d.ops[i] != 'e';
    assert_int_equal(edits, 2);
    fg_diff_free(&d);
    free(a);
    free(b);
}

static void test_metadata_changes(void **state)
{
    (void)state;
    json_t *m =
        fg_diff_metadata("{\"a\":1,\"b\":[1],\"c\":\"x\"}", "{\"c\":\"y\",\"a\":1,\"d\":null}");
    char *s = json_dumps(m, JSON_COMPACT | JSON_SORT_KEYS);
    assert_string_equal(s, "[{\"change\":\"removed\",\"from\":[1],\"key\":\"b\"},"
                           "{\"change\":\"changed\",\"from\":\"x\",\"key\":\"c\",\"to\":\"y\"},"
                           "{\"change\":\"added\",\"key\":\"d\",\"to\":null}]");
    free(s);
    json_decref(m);
    m = fg_diff_metadata("not json", "{}");
    assert_int_equal(json_array_size(m), 0);
    json_decref(m);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_small_cases),
        cmocka_unit_test(test_random_scripts_are_correct),
        cmocka_unit_test(test_hunks),
        cmocka_unit_test(test_large_input_bounded),
        cmocka_unit_test(test_metadata_changes),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
