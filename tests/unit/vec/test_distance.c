/* Distance kernels, quantisation, exact search, checksum. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "vec/hnsw_internal.h"
#include "vec/vec_kernels.h"
#include "vec_testdata.h"

static const char *const names[] = {"scalar", "avx2", "avx512"};

/* Every kernel this CPU supports agrees with a double-precision reference (float) and with the
 * scalar kernel exactly (int8), at every length including odd tails. */
static void test_kernels_agree(void **state)
{
    (void)state;
    struct td_rng r = {1};
    const size_t maxn = 4096;
    float *a = fg_xmalloc(maxn * sizeof(float)), *b = fg_xmalloc(maxn * sizeof(float));
    int8_t *qa = fg_xmalloc(maxn), *qb = fg_xmalloc(maxn);
    for (size_t i = 0; i < maxn; i++) {
        a[i] = td_gauss(&r);
        b[i] = td_gauss(&r);
        qa[i] = (int8_t)((int)(td_next(&r) % 255) - 127);
        qb[i] = (int8_t)((int)(td_next(&r) % 255) - 127);
    }
    const struct vec_kernels *sc = vec_kernels_by_name("scalar");
    assert_non_null(sc);
    assert_null(vec_kernels_by_name("nope"));
    assert_non_null(vec_kernels_best());
    size_t lens[] = {1, 2, 3, 7, 8, 15, 16, 17, 31, 32, 33, 63, 64, 65, 100, 384, 767, 4096};
    int tested = 0;
    for (size_t ki = 0; ki < sizeof(names) / sizeof(names[0]); ki++) {
        const struct vec_kernels *k = vec_kernels_by_name(names[ki]);
        if (!k)
            continue;
        tested++;
        for (size_t li = 0; li < sizeof(lens) / sizeof(lens[0]); li++) {
            size_t n = lens[li];
            double ref = 0, mag = 0;
            int64_t iref = 0;
            for (size_t i = 0; i < n; i++) {
                ref += (double)a[i] * b[i];
                mag += fabs((double)a[i] * b[i]);
                iref += (int64_t)qa[i] * qb[i];
            }
            float got = k->dot_f32(a, b, n);
            assert_true(fabs((double)got - ref) <= 1e-5 * mag + 1e-6);
            assert_int_equal(k->dot_i8(qa, qb, n), iref);
            /* Unaligned starts. */
            if (n > 1) {
                assert_int_equal(k->dot_i8(qa + 1, qb + 1, n - 1),
                                 sc->dot_i8(qa + 1, qb + 1, n - 1));
                assert_true(fabsf(k->dot_f32(a + 1, b + 1, n - 1) -
                                  sc->dot_f32(a + 1, b + 1, n - 1)) <= 1e-4f * (float)mag);
            }
        }
        /* Extremes: no int16 overflow inside the int8 kernels. */
        memset(qa, 127, maxn);
        memset(qb, 127, maxn);
        assert_int_equal(k->dot_i8(qa, qb, maxn), 127 * 127 * (int32_t)maxn);
        memset(qb, -127, maxn);
        assert_int_equal(k->dot_i8(qa, qb, maxn), -127 * 127 * (int32_t)maxn);
        for (size_t i = 0; i < maxn; i++) {
            qa[i] = (int8_t)((int)(td_next(&r) % 255) - 127);
            qb[i] = (int8_t)((int)(td_next(&r) % 255) - 127);
        }
    }
    print_message("kernels tested: %d, best: %s\n", tested, vec_kernels_best()->name);
    assert_true(tested >= 1);
    free(a);
    free(b);
    free(qa);
    free(qb);
}

static void test_normalize(void **state)
{
    (void)state;
    float v[4] = {3, 0, 4, 0}, out[4];
    assert_int_equal(vec_normalize(v, 4, out), FG_OK);
    assert_true(fabsf(out[0] - 0.6f) < 1e-7f && fabsf(out[2] - 0.8f) < 1e-7f);
    float z[3] = {0, 0, 0};
    assert_int_equal(vec_normalize(z, 3, out), FG_EINVAL);
    float n[2] = {1, NAN};
    assert_int_equal(vec_normalize(n, 2, out), FG_EINVAL);
    float in[2] = {-INFINITY, 1};
    assert_int_equal(vec_normalize(in, 2, out), FG_EINVAL);
    float big[2] = {3e38f, 3e38f}; /* squares overflow float, not double */
    assert_int_equal(vec_normalize(big, 2, out), FG_OK);
    assert_true(fabsf(out[0] - 0.70710678f) < 1e-6f);
}

static void test_quantize(void **state)
{
    (void)state;
    struct td_rng r = {3};
    const unsigned dim = 384;
    float x[384], nx[384];
    int8_t q[384];
    for (int rep = 0; rep < 50; rep++) {
        for (unsigned i = 0; i < dim; i++)
            x[i] = td_gauss(&r);
        assert_int_equal(vec_normalize(x, dim, nx), FG_OK);
        float s = vec_quantize_i8(nx, dim, q);
        float m = 0;
        for (unsigned i = 0; i < dim; i++)
            m = fabsf(nx[i]) > m ? fabsf(nx[i]) : m;
        assert_true(fabsf(s * 127.0f - m) < 1e-6f);
        int hit_max = 0;
        for (unsigned i = 0; i < dim; i++) {
            assert_true(q[i] >= -127 && q[i] <= 127);
            assert_true(fabsf(nx[i] - s * (float)q[i]) <= s * 0.5f + 1e-7f);
            hit_max |= q[i] == 127 || q[i] == -127;
        }
        assert_true(hit_max);
        /* Self-similarity from codes is close to 1. */
        float self = s * s * (float)vec_kernels_best()->dot_i8(q, q, dim);
        assert_true(fabsf(self - 1.0f) < 0.01f);
    }
    memset(x, 0, sizeof(x));
    assert_true(vec_quantize_i8(x, dim, q) == 0.0f);
    for (unsigned i = 0; i < dim; i++)
        assert_int_equal(q[i], 0);
}

static void test_exact_search(void **state)
{
    (void)state;
    const unsigned dim = 16;
    const size_t n = 300;
    float *d = td_clustered(n, dim, 5, 1.0f, 9);
    memset(d + 7 * dim, 0, dim * sizeof(float)); /* zero row: skipped */
    d[9 * dim] = NAN;                            /* non-finite row: skipped */
    const float *q = d + 3 * dim;
    struct hnsw_hit h[400];
    size_t got = vec_exact_search(d, n, dim, q, 10, h);
    assert_int_equal(got, 10);
    assert_int_equal(h[0].label, 3);
    assert_true(fabsf(h[0].score - 1.0f) < 1e-5f);
    /* Compare with a naive O(n^2) selection in double. */
    unsigned char used[300] = {0};
    used[7] = used[9] = 1;
    for (size_t i = 0; i < 10; i++) {
        size_t best = 0;
        double bs = -2;
        for (size_t j = 0; j < n; j++) {
            if (used[j])
                continue;
            double s = td_cosine(q, d + j * dim, dim);
            if (s > bs) {
                bs = s;
                best = j;
            }
        }
        used[best] = 1;
        assert_true(fabs(h[i].score - bs) < 1e-5);
        if (i)
            assert_true(h[i - 1].score >= h[i].score);
    }
    /* k larger than n: every valid row once. */
    got = vec_exact_search(d, n, dim, q, 400, h);
    assert_int_equal(got, n - 2);
    for (size_t i = 0; i < got; i++)
        assert_true(h[i].label != 7 && h[i].label != 9);
    assert_int_equal(vec_exact_search(d, n, dim, q, 0, h), 0);
    float zq[16] = {0};
    assert_int_equal(vec_exact_search(d, n, dim, zq, 5, h), 0);
    free(d);
}

/* XXH64 reference values (xxhash's own test vectors). */
static void test_xxh64(void **state)
{
    (void)state;
    assert_true(vec_xxh64("", 0) == 0xEF46DB3751D8E999ull);
    assert_true(vec_xxh64("a", 1) == 0xD24EC4F1A98C6E5Bull);
    assert_true(vec_xxh64("abc", 3) == 0x44BC2CF5AD770999ull);
    const char *s = "Nobody inspects the spammish repetition";
    assert_true(vec_xxh64(s, strlen(s)) == 0xFBCEA83C8A378BF1ull);
    unsigned char b[100]; /* > 32 bytes: the four-lane stripe path */
    for (int i = 0; i < 100; i++)
        b[i] = (unsigned char)i;
    assert_true(vec_xxh64(b, 100) == 0x6AC1E58032166597ull);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_kernels_agree), cmocka_unit_test(test_normalize),
        cmocka_unit_test(test_quantize),      cmocka_unit_test(test_exact_search),
        cmocka_unit_test(test_xxh64),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
