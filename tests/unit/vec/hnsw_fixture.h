/* Shared fixtures of the HNSW tests (cmocka must be included first). */
#ifndef FG_TEST_HNSW_FIXTURE_H
#define FG_TEST_HNSW_FIXTURE_H

#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "vec/hnsw.h"
#include "vec_testdata.h"

#define N        5000
#define DIM      64
#define NQ       200
#define K        10
#define EF       64
#define CLUSTERS 40
#define SPREAD   1.5f

static inline struct hnsw_params params(int int8)
{
    struct hnsw_params p = {
        .dim = DIM, .M = 16, .ef_construction = 100, .quantize_int8 = int8, .seed = 42};
    return p;
}

/* n data rows followed by extra rows from the same clusters (queries, replacement vectors). */
static inline float *dataset(size_t n, size_t extra, uint64_t seed, float **rest)
{
    float *all = td_clustered(n + extra, DIM, CLUSTERS, SPREAD, seed);
    *rest = all + n * DIM;
    return all;
}

static inline hnsw_index_t *build(const float *data, size_t n, int int8)
{
    struct hnsw_params p = params(int8);
    hnsw_index_t *idx = hnsw_new(&p);
    assert_non_null(idx);
    for (size_t i = 0; i < n; i++)
        assert_int_equal(hnsw_insert(idx, i, data + i * DIM), FG_OK);
    assert_int_equal(hnsw_count(idx), n);
    return idx;
}

/* Per-executable temp directory (setup/teardown). */
static char tmpdir[] = "/tmp/forge-vec-test-XXXXXX";

static inline void path_in_tmp(char *buf, size_t cap, const char *name)
{
    int n = snprintf(buf, cap, "%s/%s", tmpdir, name);
    assert_true(n > 0 && (size_t)n < cap);
}

static inline int tmp_setup(void **state)
{
    (void)state;
    return mkdtemp(tmpdir) ? 0 : -1;
}

static inline int tmp_teardown(void **state)
{
    (void)state;
    return rmdir(tmpdir);
}

#endif
