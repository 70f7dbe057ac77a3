/* Seeded synthetic data and recall helpers shared by the src/vec unit tests. */
#ifndef FG_TEST_VEC_TESTDATA_H
#define FG_TEST_VEC_TESTDATA_H

#include <math.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "util/mem.h"
#include "vec/hnsw.h"

struct td_rng {
    uint64_t s;
};

static inline uint64_t td_next(struct td_rng *r)
{
    uint64_t z = (r->s += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

static inline double td_unif(struct td_rng *r)
{
    return ((double)(td_next(r) >> 11) + 0.5) * (1.0 / 9007199254740992.0);
}

static inline float td_gauss(struct td_rng *r)
{
    double u = td_unif(r), v = td_unif(r);
    return (float)(sqrt(-2.0 * log(u)) * cos(6.283185307179586 * v));
}

/* n points around `clusters` Gaussian centres; spread = noise std relative to the centres'. */
static inline float *td_clustered(size_t n, unsigned dim, unsigned clusters, float spread,
                                  uint64_t seed)
{
    struct td_rng r = {seed};
    float *cent = fg_xmalloc((size_t)clusters * dim * sizeof(float));
    for (size_t i = 0; i < (size_t)clusters * dim; i++)
        cent[i] = td_gauss(&r);
    float *x = fg_xmalloc(n * dim * sizeof(float));
    for (size_t i = 0; i < n; i++) {
        const float *c = cent + (size_t)(td_next(&r) % clusters) * dim;
        for (unsigned j = 0; j < dim; j++)
            x[i * dim + j] = c[j] + spread * td_gauss(&r);
    }
    free(cent);
    return x;
}

/* Fraction of the exact top-k (over the rows with alive[row] != 0, or all rows when alive is
 * NULL) found by the index, averaged over nq queries. Labels are row numbers. */
static inline double td_recall(hnsw_index_t *idx, const float *data, size_t n, unsigned dim,
                               const unsigned char *alive, const float *queries, size_t nq,
                               size_t k, size_t ef)
{
    float *live = fg_xmalloc(n * dim * sizeof(float));
    size_t *row = fg_xmalloc(n * sizeof(size_t));
    size_t m = 0;
    for (size_t i = 0; i < n; i++) {
        if (alive && !alive[i])
            continue;
        memcpy(live + m * dim, data + i * dim, dim * sizeof(float));
        row[m++] = i;
    }
    struct hnsw_hit *ex = fg_xmalloc(k * sizeof(*ex));
    struct hnsw_hit *got = fg_xmalloc(k * sizeof(*got));
    size_t hit = 0, total = 0;
    for (size_t q = 0; q < nq; q++) {
        size_t ne = vec_exact_search(live, m, dim, queries + q * dim, k, ex);
        size_t ng = hnsw_search(idx, queries + q * dim, k, ef, NULL, NULL, got);
        total += ne;
        for (size_t i = 0; i < ne; i++)
            for (size_t j = 0; j < ng; j++)
                if (got[j].label == row[ex[i].label]) {
                    hit++;
                    break;
                }
    }
    free(live);
    free(row);
    free(ex);
    free(got);
    return total ? (double)hit / (double)total : 1.0;
}

static inline float td_cosine(const float *a, const float *b, unsigned dim)
{
    double ab = 0, aa = 0, bb = 0;
    for (unsigned i = 0; i < dim; i++) {
        ab += (double)a[i] * b[i];
        aa += (double)a[i] * a[i];
        bb += (double)b[i] * b[i];
    }
    return (float)(ab / sqrt(aa * bb));
}

#endif
