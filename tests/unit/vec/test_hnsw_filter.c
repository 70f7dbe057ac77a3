/* HNSW index: filtered search returns k accepted hits (graph or exact fallback). */
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

/* ---- filters ----------------------------------------------------------------------------- */

struct fctx {
    unsigned mod;
    size_t calls;
};

static int filt_mod(uint64_t label, void *ctx)
{
    struct fctx *f = ctx;
    f->calls++;
    return label % f->mod == 0;
}

static int filt_lt5(uint64_t label, void *ctx)
{
    (void)ctx;
    return label < 5;
}

static void test_filter(void **state)
{
    (void)state;
    float *qs;
    float *data = dataset(N, 50, 31, &qs);
    for (int int8 = 0; int8 <= 1; int8++) {
        hnsw_index_t *idx = build(data, N, int8);
        unsigned mods[] = {50 /* 2% */, 10 /* 10% */, 3 /* 33% */, 2 /* 50% */};
        for (size_t mi = 0; mi < sizeof(mods) / sizeof(mods[0]); mi++) {
            unsigned mod = mods[mi];
            struct hnsw_stats st0, st1;
            hnsw_get_stats(idx, &st0);
            /* Exact filtered answer: the accepted rows only. */
            size_t m = 0;
            float *sub = fg_xmalloc(N * DIM * sizeof(float));
            for (size_t i = 0; i < N; i += mod, m++)
                memcpy(sub + m * DIM, data + i * DIM, DIM * sizeof(float));
            size_t hits = 0, total = 0;
            for (size_t q = 0; q < 50; q++) {
                struct fctx f = {mod, 0};
                struct hnsw_hit h[K], ex[K];
                size_t n = hnsw_search(idx, qs + q * DIM, K, EF, filt_mod, &f, h);
                assert_int_equal(n, K);
                for (size_t i = 0; i < n; i++)
                    assert_int_equal(h[i].label % mod, 0);
                size_t ne = vec_exact_search(sub, m, DIM, qs + q * DIM, K, ex);
                total += ne;
                for (size_t i = 0; i < ne; i++)
                    for (size_t j = 0; j < n; j++)
                        if (h[j].label == ex[i].label * mod) {
                            hits++;
                            break;
                        }
            }
            double rec = (double)hits / (double)total;
            hnsw_get_stats(idx, &st1);
            print_message("%s filter 1/%u: recall %.4f, exact fallbacks %llu/50\n",
                          int8 ? "int8" : "float", mod, rec,
                          (unsigned long long)(st1.exact_scans - st0.exact_scans));
            assert_true(rec >= 0.95);
            if (mod <= 3) /* permissive filters stay on the graph (filter applied in the search) */
                assert_int_equal(st1.exact_scans, st0.exact_scans);
            free(sub);
        }
        /* Fewer accepted than k: all of them. */
        struct hnsw_hit h[K];
        assert_int_equal(hnsw_search(idx, qs, K, EF, filt_lt5, NULL, h), 5);
        for (size_t i = 0; i < 5; i++)
            assert_true(h[i].label < 5);
        hnsw_free(idx);
    }
    free(data);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_filter),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
