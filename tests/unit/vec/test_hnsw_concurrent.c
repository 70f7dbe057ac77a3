/* HNSW index: concurrent searches while a writer inserts, updates and vacuums. */
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

/* ---- concurrency ------------------------------------------------------------------------- */

struct conc {
    hnsw_index_t *idx;
    const float *data;
    const float *qs;
    volatile int done;
    size_t searches;
    int bad;
};

static void *searcher(void *arg)
{
    struct conc *c = arg;
    struct hnsw_hit h[K];
    size_t q = 0, count = 0;
    while (!__atomic_load_n(&c->done, __ATOMIC_ACQUIRE)) {
        size_t live = hnsw_count(c->idx);
        size_t n = hnsw_search(c->idx, c->qs + (q % NQ) * DIM, K, 32, NULL, NULL, h);
        /* Writers only grow the index in this test, so live is a lower bound. */
        if (n > K || (live >= K && n != K))
            __atomic_store_n(&c->bad, 1, __ATOMIC_RELAXED);
        for (size_t i = 1; i < n; i++)
            if (h[i - 1].score < h[i].score || h[i].label >= 2 * N)
                __atomic_store_n(&c->bad, 1, __ATOMIC_RELAXED);
        q++;
        count++;
    }
    __atomic_fetch_add(&c->searches, count, __ATOMIC_RELAXED);
    return NULL;
}

static void test_concurrent_search_insert(void **state)
{
    (void)state;
    const size_t n = 3000;
    float *qs;
    float *data = dataset(n, NQ, 61, &qs);
    for (int int8 = 0; int8 <= 1; int8++) {
        struct hnsw_params p = params(int8);
        p.ef_construction = 100;
        p.vacuum_threshold = 0.05;
        hnsw_index_t *idx = hnsw_new(&p); /* capacity 1024: the writer grows it under readers */
        for (size_t i = 0; i < 500; i++)
            assert_int_equal(hnsw_insert(idx, i, data + i * DIM), FG_OK);
        struct conc c = {.idx = idx, .data = data, .qs = qs};
        pthread_t th[4];
        for (int t = 0; t < 4; t++)
            assert_int_equal(pthread_create(&th[t], NULL, searcher, &c), 0);
        for (size_t i = 500; i < n; i++) {
            assert_int_equal(hnsw_insert(idx, i, data + i * DIM), FG_OK);
            if (i % 10 == 0) /* updates exercise tombstones + vacuum under readers */
                assert_int_equal(hnsw_insert(idx, i / 10, data + (i / 10) * DIM), FG_OK);
        }
        __atomic_store_n(&c.done, 1, __ATOMIC_RELEASE);
        for (int t = 0; t < 4; t++)
            pthread_join(th[t], NULL);
        print_message("%s: %zu concurrent searches during %zu inserts\n", int8 ? "int8" : "float",
                      c.searches, n - 500);
        assert_false(c.bad);
        assert_true(c.searches > 0);
        assert_int_equal(hnsw_count(idx), n);
        assert_true(td_recall(idx, data, n, DIM, NULL, qs, NQ, K, EF) >= 0.95);
        struct hnsw_stats st;
        hnsw_get_stats(idx, &st);
        assert_true(st.vacuums > 0);
        hnsw_free(idx);
    }
    free(data);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_concurrent_search_insert),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
