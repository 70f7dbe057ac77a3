/*
 * int8 mode keeps the exact float vectors in a memory-mapped side file (src/vec/quant.c). When
 * its filesystem is full, growing the file must fail cleanly (FG_EIO from hnsw_insert) instead
 * of leaving a sparse file whose first write through the map raises SIGBUS (issue 20, found by
 * the fuzzing work). Needs root to mount a 1 MiB tmpfs; skipped otherwise.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <unistd.h>

#include "vec/hnsw.h"

static void test_full_float_dir_fails_cleanly(void **state)
{
    (void)state;
    char dir[] = "/tmp/forge-quant-full-XXXXXX";
    assert_non_null(mkdtemp(dir));
    if (geteuid() != 0 || mount("tmpfs", dir, "tmpfs", 0, "size=1m") != 0) {
        rmdir(dir);
        skip();
    }
    /* 1 MiB holds 1024 vectors of 256 floats; the index grows by 1.5x from 64 slots. */
    struct hnsw_params p = {.dim = 256,
                            .M = 8,
                            .quantize_int8 = 1,
                            .seed = 3,
                            .initial_capacity = 64,
                            .float_dir = dir};
    hnsw_index_t *idx = hnsw_new(&p);
    assert_non_null(idx);
    float v[256];
    enum fg_err e = FG_OK;
    size_t n = 0;
    for (; n < 4096; n++) {
        for (size_t i = 0; i < 256; i++)
            v[i] = (float)((n * 31 + i * 7) % 97) - 48.0f;
        e = hnsw_insert(idx, n + 1, v);
        if (e != FG_OK)
            break;
    }
    assert_int_equal(e, FG_EIO); /* refused with an error, the process is alive */
    assert_true(n >= 64 && n < 1024);
    assert_int_equal(hnsw_count(idx), n);
    struct hnsw_hit hits[5];
    assert_int_equal(hnsw_search(idx, v, 5, 32, NULL, NULL, hits), 5);
    hnsw_free(idx);
    umount2(dir, MNT_DETACH);
    rmdir(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_full_float_dir_fails_cleanly),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
