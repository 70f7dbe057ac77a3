/* HNSW index: save/load round trip, corrupt files rejected. */
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

/* ---- persistence ------------------------------------------------------------------------- */

static void check_save_load(int int8)
{
    float *qs;
    float *data = dataset(2000, 50, 41, &qs);
    hnsw_index_t *idx = build(data, 2000, int8);
    for (size_t i = 0; i < 300; i++) /* a vacuum (free slots) and some tombstones */
        assert_int_equal(hnsw_delete(idx, i * 3), FG_OK);
    char path[256];
    path_in_tmp(path, sizeof(path), int8 ? "i8.hnsw" : "f32.hnsw");
    assert_int_equal(hnsw_save(idx, path), FG_OK);
    enum fg_err err = FG_EINTERNAL;
    hnsw_index_t *back = hnsw_load(path, &err);
    assert_int_equal(err, FG_OK);
    assert_non_null(back);
    assert_int_equal(hnsw_count(back), hnsw_count(idx));
    struct hnsw_stats a, b;
    hnsw_get_stats(idx, &a);
    hnsw_get_stats(back, &b);
    assert_int_equal(a.tombstones, b.tombstones);
    assert_int_equal(a.free_slots, b.free_slots);
    for (size_t q = 0; q < 50; q++) {
        struct hnsw_hit h1[K], h2[K];
        size_t n1 = hnsw_search(idx, qs + q * DIM, K, EF, NULL, NULL, h1);
        size_t n2 = hnsw_search(back, qs + q * DIM, K, EF, NULL, NULL, h2);
        assert_int_equal(n1, n2);
        for (size_t i = 0; i < n1; i++) {
            assert_int_equal(h1[i].label, h2[i].label);
            assert_true(h1[i].score == h2[i].score);
        }
    }
    /* The loaded index keeps working, identically to the original (same rng state). */
    for (size_t i = 0; i < 100; i++) {
        assert_int_equal(hnsw_insert(idx, 10000 + i, qs + (i % 50) * DIM), FG_OK);
        assert_int_equal(hnsw_insert(back, 10000 + i, qs + (i % 50) * DIM), FG_OK);
    }
    struct hnsw_hit h1[K], h2[K];
    size_t n1 = hnsw_search(idx, qs, K, EF, NULL, NULL, h1);
    size_t n2 = hnsw_search(back, qs, K, EF, NULL, NULL, h2);
    assert_int_equal(n1, n2);
    for (size_t i = 0; i < n1; i++)
        assert_int_equal(h1[i].label, h2[i].label);
    /* Saving over an existing file replaces it atomically and leaves no temp file behind. */
    assert_int_equal(hnsw_save(back, path), FG_OK);
    hnsw_free(back);
    back = hnsw_load(path, &err);
    assert_non_null(back);
    assert_int_equal(hnsw_count(back), hnsw_count(idx));
    char cmd[512];
    int n = snprintf(cmd, sizeof(cmd), "ls %s | grep -c tmp", tmpdir);
    assert_true(n > 0);
    FILE *pp = popen(cmd, "r");
    int c = fgetc(pp);
    pclose(pp);
    assert_int_equal(c, '0');
    hnsw_free(back);
    hnsw_free(idx);
    unlink(path);
    free(data);
}

static void test_save_load_float(void **state)
{
    (void)state;
    check_save_load(0);
}

static void test_save_load_int8(void **state)
{
    (void)state;
    check_save_load(1);
}

static void flip_byte(const char *path, off_t off)
{
    int fd = open(path, O_RDWR);
    assert_true(fd >= 0);
    unsigned char b;
    assert_int_equal(pread(fd, &b, 1, off), 1);
    b ^= 0x40;
    assert_int_equal(pwrite(fd, &b, 1, off), 1);
    close(fd);
}

static void test_corrupt_rejected(void **state)
{
    (void)state;
    float *data = td_clustered(500, DIM, 10, SPREAD, 51);
    hnsw_index_t *idx = build(data, 500, 0);
    char path[256], bad[256];
    path_in_tmp(path, sizeof(path), "good.hnsw");
    path_in_tmp(bad, sizeof(bad), "bad.hnsw");
    assert_int_equal(hnsw_save(idx, path), FG_OK);
    struct stat st;
    assert_int_equal(stat(path, &st), 0);
    enum fg_err err;
    char cmd[600];

    /* A flipped bit anywhere: header fields, labels, vectors, links, last byte. */
    off_t offs[] = {0, 20, 64, 127, 128, 128 + 500 * 8 + 3, st.st_size / 2, st.st_size - 1};
    for (size_t i = 0; i < sizeof(offs) / sizeof(offs[0]); i++) {
        int n = snprintf(cmd, sizeof(cmd), "cp %s %s", path, bad);
        assert_true(n > 0 && system(cmd) == 0);
        flip_byte(bad, offs[i]);
        err = FG_OK;
        assert_null(hnsw_load(bad, &err));
        assert_int_equal(err, FG_EINVAL);
    }
    /* Truncated, extended, empty. */
    int n = snprintf(cmd, sizeof(cmd), "cp %s %s", path, bad);
    assert_true(n > 0 && system(cmd) == 0);
    assert_int_equal(truncate(bad, st.st_size - 4), 0);
    assert_null(hnsw_load(bad, &err));
    assert_int_equal(err, FG_EINVAL);
    assert_int_equal(truncate(bad, st.st_size + 4), 0);
    assert_null(hnsw_load(bad, &err));
    assert_int_equal(err, FG_EINVAL);
    assert_int_equal(truncate(bad, 0), 0);
    assert_null(hnsw_load(bad, &err));
    assert_int_equal(err, FG_EINVAL);
    /* Missing file. */
    path_in_tmp(bad, sizeof(bad), "missing.hnsw");
    assert_null(hnsw_load(bad, &err));
    assert_int_equal(err, FG_EIO);
    /* Unwritable target: error, nothing left behind. */
    assert_int_equal(hnsw_save(idx, "/nonexistent/dir/x.hnsw"), FG_EIO);

    hnsw_index_t *ok = hnsw_load(path, &err);
    assert_non_null(ok);
    hnsw_free(ok);
    unlink(path);
    unlink(bad);
    path_in_tmp(bad, sizeof(bad), "bad.hnsw");
    unlink(bad);
    hnsw_free(idx);
    free(data);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_save_load_float),
        cmocka_unit_test(test_save_load_int8),
        cmocka_unit_test(test_corrupt_rejected),
    };
    return cmocka_run_group_tests(tests, tmp_setup, tmp_teardown);
}
