/* HNSW index: delete (tombstones + vacuum repair) and update keep recall. */
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

/* ---- delete / update --------------------------------------------------------------------- */

static void check_delete_update(int int8)
{
    float *fresh;
    float *data = dataset(N, N + NQ, 11, &fresh);
    float *qs = fresh + N * DIM;
    hnsw_index_t *idx = build(data, N, int8);
    unsigned char *alive = fg_xmalloc(N);
    memset(alive, 1, N);
    struct td_rng r = {5};
    size_t deleted = 0;
    while (deleted < N * 3 / 10) {
        size_t i = td_next(&r) % N;
        if (!alive[i])
            continue;
        assert_int_equal(hnsw_delete(idx, i), FG_OK);
        assert_int_equal(hnsw_delete(idx, i), FG_ENOTFOUND);
        alive[i] = 0;
        deleted++;
    }
    size_t updated = 0;
    while (updated < N / 10) {
        size_t i = td_next(&r) % N;
        if (!alive[i])
            continue;
        memcpy(data + i * DIM, fresh + i * DIM, DIM * sizeof(float));
        assert_int_equal(hnsw_insert(idx, i, data + i * DIM), FG_OK);
        updated++;
    }
    assert_int_equal(hnsw_count(idx), N - deleted);
    struct hnsw_stats st;
    hnsw_get_stats(idx, &st);
    assert_true(st.vacuums > 0);
    print_message("vacuums=%llu tombstones=%zu free=%zu slots=%zu\n",
                  (unsigned long long)st.vacuums, st.tombstones, st.free_slots, st.slots);

    double rec = td_recall(idx, data, N, DIM, alive, qs, NQ, K, EF);
    print_message("after 30%% delete + 10%% update (%s): recall %.4f\n", int8 ? "int8" : "float",
                  rec);
    assert_true(rec >= 0.95);

    /* No deleted label ever comes back, even when asking for everything; updated labels score
     * against their new vector. */
    struct hnsw_hit *h = fg_xmalloc(N * sizeof(*h));
    for (size_t q = 0; q < 20; q++) {
        size_t n = hnsw_search(idx, qs + q * DIM, 50, 100, NULL, NULL, h);
        assert_int_equal(n, 50);
        for (size_t i = 0; i < n; i++) {
            assert_true(alive[h[i].label]);
            assert_true(fabsf(td_cosine(qs + q * DIM, data + h[i].label * DIM, DIM) - h[i].score) <
                        1e-5f);
        }
    }
    size_t n = hnsw_search(idx, qs, N, N, NULL, NULL, h);
    assert_int_equal(n, N - deleted);
    for (size_t i = 0; i < n; i++)
        assert_true(alive[h[i].label]);

    /* Re-inserting deleted labels reuses vacuumed slots. */
    size_t slots_before = st.slots, free_before = st.free_slots;
    for (size_t i = 0, done = 0; i < N && done < 100; i++) {
        if (alive[i])
            continue;
        assert_int_equal(hnsw_insert(idx, i, data + i * DIM), FG_OK);
        alive[i] = 1;
        done++;
    }
    hnsw_get_stats(idx, &st);
    if (free_before >= 100)
        assert_int_equal(st.slots, slots_before);
    rec = td_recall(idx, data, N, DIM, alive, qs, NQ, K, EF);
    assert_true(rec >= 0.95);
    free(h);
    free(alive);
    free(data);
    hnsw_free(idx);
}

static void test_delete_update_float(void **state)
{
    (void)state;
    check_delete_update(0);
}

static void test_delete_update_int8(void **state)
{
    (void)state;
    check_delete_update(1);
}

static void test_update_same_label(void **state)
{
    (void)state;
    float *d = td_clustered(3, DIM, 1, 1.0f, 21);
    struct hnsw_params p = params(0);
    p.vacuum_threshold = -1; /* keep the tombstone */
    hnsw_index_t *idx = hnsw_new(&p);
    assert_int_equal(hnsw_insert(idx, 7, d), FG_OK);
    assert_int_equal(hnsw_insert(idx, 8, d + DIM), FG_OK);
    assert_int_equal(hnsw_insert(idx, 7, d + 2 * DIM), FG_OK);
    assert_int_equal(hnsw_count(idx), 2);
    struct hnsw_hit h[3];
    assert_int_equal(hnsw_search(idx, d + 2 * DIM, 3, 10, NULL, NULL, h), 2);
    assert_int_equal(h[0].label, 7);
    assert_true(h[0].score > 0.9999f);
    assert_int_equal(hnsw_search(idx, d, 3, 10, NULL, NULL, h), 2);
    assert_true(h[0].score < 0.9999f || h[0].label != 7);
    struct hnsw_stats st;
    hnsw_get_stats(idx, &st);
    assert_int_equal(st.tombstones, 1);
    assert_int_equal(hnsw_vacuum(idx), FG_OK);
    hnsw_get_stats(idx, &st);
    assert_int_equal(st.tombstones, 0);
    assert_int_equal(st.free_slots, 1);
    assert_int_equal(hnsw_search(idx, d + 2 * DIM, 3, 10, NULL, NULL, h), 2);
    assert_int_equal(h[0].label, 7);
    hnsw_free(idx);
    free(d);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_delete_update_float),
        cmocka_unit_test(test_delete_update_int8),
        cmocka_unit_test(test_update_same_label),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
