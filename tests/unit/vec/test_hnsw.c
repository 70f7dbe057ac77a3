/* HNSW index: parameters, input validation, recall (float, int8), memory. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "hnsw_fixture.h"

/* ---- parameters and input validation ----------------------------------------------------- */

static void test_params(void **state)
{
    (void)state;
    struct hnsw_params p = params(0);
    assert_null(hnsw_new(NULL));
    p.dim = 0;
    assert_null(hnsw_new(&p));
    p.dim = HNSW_DIM_MAX + 1;
    assert_null(hnsw_new(&p));
    p = params(0);
    p.M = 3;
    assert_null(hnsw_new(&p));
    p.M = 65;
    assert_null(hnsw_new(&p));
    p = params(0);
    p.dim = HNSW_DIM_MAX;
    p.M = 64;
    hnsw_index_t *idx = hnsw_new(&p);
    assert_non_null(idx);
    hnsw_free(idx);
    p = params(1);
    p.float_dir = "/nonexistent/dir";
    assert_null(hnsw_new(&p));
}

static void test_nan_rejected(void **state)
{
    (void)state;
    for (int int8 = 0; int8 <= 1; int8++) {
        struct hnsw_params p = params(int8);
        hnsw_index_t *idx = hnsw_new(&p);
        float v[DIM];
        for (int i = 0; i < DIM; i++)
            v[i] = 1.0f + (float)i;
        assert_int_equal(hnsw_insert(idx, 1, v), FG_OK);
        v[5] = NAN;
        assert_int_equal(hnsw_insert(idx, 2, v), FG_EINVAL);
        v[5] = INFINITY;
        assert_int_equal(hnsw_insert(idx, 2, v), FG_EINVAL);
        memset(v, 0, sizeof(v));
        assert_int_equal(hnsw_insert(idx, 2, v), FG_EINVAL);
        assert_int_equal(hnsw_insert(idx, 2, NULL), FG_EINVAL);
        assert_int_equal(hnsw_count(idx), 1);
        /* An invalid update leaves the old vector in place. */
        v[0] = NAN;
        assert_int_equal(hnsw_insert(idx, 1, v), FG_EINVAL);
        assert_int_equal(hnsw_count(idx), 1);
        struct hnsw_hit h[2];
        assert_int_equal(hnsw_search(idx, v, 1, 10, NULL, NULL, h), 0);
        for (int i = 0; i < DIM; i++)
            v[i] = 1.0f + (float)i;
        assert_int_equal(hnsw_search(idx, v, 2, 10, NULL, NULL, h), 1);
        assert_int_equal(h[0].label, 1);
        assert_true(fabsf(h[0].score - 1.0f) < 1e-5f);
        assert_int_equal(hnsw_delete(idx, 99), FG_ENOTFOUND);
        hnsw_free(idx);
    }
}

static void test_empty_and_small(void **state)
{
    (void)state;
    struct hnsw_params p = params(0);
    hnsw_index_t *idx = hnsw_new(&p);
    float *data = td_clustered(5, DIM, 2, SPREAD, 7);
    struct hnsw_hit h[10];
    assert_int_equal(hnsw_search(idx, data, 10, 10, NULL, NULL, h), 0);
    for (size_t i = 0; i < 5; i++)
        assert_int_equal(hnsw_insert(idx, 100 + i, data + i * DIM), FG_OK);
    assert_int_equal(hnsw_search(idx, data, 10, 1, NULL, NULL, h), 5);
    assert_int_equal(h[0].label, 100);
    for (int i = 1; i < 5; i++)
        assert_true(h[i - 1].score >= h[i].score);
    for (size_t i = 0; i < 5; i++)
        assert_int_equal(hnsw_delete(idx, 100 + i), FG_OK);
    assert_int_equal(hnsw_count(idx), 0);
    assert_int_equal(hnsw_search(idx, data, 10, 10, NULL, NULL, h), 0);
    assert_int_equal(hnsw_insert(idx, 7, data), FG_OK);
    assert_int_equal(hnsw_search(idx, data, 10, 10, NULL, NULL, h), 1);
    hnsw_free(idx);
    free(data);
}

/* ---- recall ------------------------------------------------------------------------------ */

static void check_recall(int int8, double min_recall)
{
    float *qs;
    float *data = dataset(N, NQ, 1, &qs);
    hnsw_index_t *idx = build(data, N, int8);
    double r = td_recall(idx, data, N, DIM, NULL, qs, NQ, K, EF);
    print_message("recall@%d ef=%d %s: %.4f\n", K, EF, int8 ? "int8" : "float", r);
    assert_true(r >= min_recall);

    /* Scores are exact cosines (also in int8 mode) and sorted best first. */
    struct hnsw_hit h[K];
    for (size_t q = 0; q < 20; q++) {
        size_t n = hnsw_search(idx, qs + q * DIM, K, EF, NULL, NULL, h);
        assert_int_equal(n, K);
        for (size_t i = 0; i < n; i++) {
            float exact = td_cosine(qs + q * DIM, data + h[i].label * DIM, DIM);
            assert_true(fabsf(exact - h[i].score) < 1e-5f);
            if (i)
                assert_true(h[i - 1].score >= h[i].score);
        }
    }
    struct hnsw_stats st;
    hnsw_get_stats(idx, &st);
    print_message("kernel=%s bytes/vector=%.1f max_level=%u\n", st.kernel,
                  (double)st.memory_bytes / N, st.max_level);
    hnsw_free(idx);
    free(data);
}

static void test_recall_float(void **state)
{
    (void)state;
    check_recall(0, 0.95);
}

static void test_recall_int8(void **state)
{
    (void)state;
    check_recall(1, 0.95);
}

/* The memory goal, at the bench's dimension (384): int8 <= 1/3 of float. */
static void test_int8_memory_third(void **state)
{
    (void)state;
    const unsigned dim = 384;
    const size_t n = 2000;
    float *data = td_clustered(n, dim, 20, SPREAD, 3);
    size_t bytes[2];
    for (int int8 = 0; int8 <= 1; int8++) {
        struct hnsw_params p = {.dim = dim,
                                .M = 16,
                                .ef_construction = 40,
                                .quantize_int8 = int8,
                                .seed = 1,
                                .initial_capacity = n};
        hnsw_index_t *idx = hnsw_new(&p);
        for (size_t i = 0; i < n; i++)
            assert_int_equal(hnsw_insert(idx, i, data + i * dim), FG_OK);
        bytes[int8] = hnsw_memory_bytes(idx);
        struct hnsw_stats st;
        hnsw_get_stats(idx, &st);
        assert_int_equal(st.float_file_bytes, int8 ? n * dim * sizeof(float) : 0);
        hnsw_free(idx);
    }
    print_message("float %zu B, int8 %zu B, ratio %.3f\n", bytes[0], bytes[1],
                  (double)bytes[1] / (double)bytes[0]);
    assert_true(bytes[1] * 3 <= bytes[0]);
    assert_true(bytes[0] >= n * dim * sizeof(float)); /* counts the vectors honestly */
    free(data);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_params),          cmocka_unit_test(test_nan_rejected),
        cmocka_unit_test(test_empty_and_small), cmocka_unit_test(test_recall_float),
        cmocka_unit_test(test_recall_int8),     cmocka_unit_test(test_int8_memory_third),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
