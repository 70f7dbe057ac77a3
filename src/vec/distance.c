/* Distance kernels (dot products) with runtime dispatch, normalisation and exact search.
 *
 * The index stores unit vectors, so cosine similarity is a dot product. Three implementations:
 *   scalar - portable C with independent accumulators (auto-vectorised at -O2 by gcc >= 12),
 *   avx2   - AVX2 + FMA intrinsics (float), AVX2 sign-extend + pmaddwd (int8),
 *   avx512 - AVX-512F (float, masked tails), AVX-512BW (int8).
 * The SIMD variants are compiled with __attribute__((target(...))) so the library itself keeps the
 * project's baseline flags; the best one is picked once with __builtin_cpu_supports (gcc and
 * clang). FORGE_VEC_KERNEL=scalar|avx2|avx512 caps the choice (for tests and comparisons). */
#include <math.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "vec/hnsw.h"
#include "vec/vec_kernels.h"

#if defined(__x86_64__) || defined(__i386__)
#define VEC_X86 1
#include <immintrin.h>
#endif

/* ---- scalar ------------------------------------------------------------------------------ */

static float dot_f32_scalar(const float *restrict a, const float *restrict b, size_t n)
{
    float acc[8] = {0};
    size_t i = 0;
    for (; i + 8 <= n; i += 8)
        for (size_t j = 0; j < 8; j++)
            acc[j] += a[i + j] * b[i + j];
    float s = ((acc[0] + acc[4]) + (acc[1] + acc[5])) + ((acc[2] + acc[6]) + (acc[3] + acc[7]));
    for (; i < n; i++)
        s += a[i] * b[i];
    return s;
}

static int32_t dot_i8_scalar(const int8_t *restrict a, const int8_t *restrict b, size_t n)
{
    int32_t acc[8] = {0};
    size_t i = 0;
    for (; i + 8 <= n; i += 8)
        for (size_t j = 0; j < 8; j++)
            acc[j] += (int32_t)a[i + j] * (int32_t)b[i + j];
    int32_t s = acc[0] + acc[1] + acc[2] + acc[3] + acc[4] + acc[5] + acc[6] + acc[7];
    for (; i < n; i++)
        s += (int32_t)a[i] * (int32_t)b[i];
    return s;
}

/* ---- AVX2 / AVX-512 ---------------------------------------------------------------------- */
#ifdef VEC_X86

__attribute__((target("avx2,fma"))) static float hsum256_ps(__m256 v)
{
    __m128 lo = _mm256_castps256_ps128(v);
    __m128 hi = _mm256_extractf128_ps(v, 1);
    lo = _mm_add_ps(lo, hi);
    lo = _mm_add_ps(lo, _mm_movehl_ps(lo, lo));
    lo = _mm_add_ss(lo, _mm_shuffle_ps(lo, lo, 0x55));
    return _mm_cvtss_f32(lo);
}

__attribute__((target("avx2,fma"))) static float dot_f32_avx2(const float *restrict a,
                                                              const float *restrict b, size_t n)
{
    __m256 s0 = _mm256_setzero_ps(), s1 = _mm256_setzero_ps();
    __m256 s2 = _mm256_setzero_ps(), s3 = _mm256_setzero_ps();
    size_t i = 0;
    for (; i + 32 <= n; i += 32) {
        s0 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i), _mm256_loadu_ps(b + i), s0);
        s1 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i + 8), _mm256_loadu_ps(b + i + 8), s1);
        s2 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i + 16), _mm256_loadu_ps(b + i + 16), s2);
        s3 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i + 24), _mm256_loadu_ps(b + i + 24), s3);
    }
    for (; i + 8 <= n; i += 8)
        s0 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i), _mm256_loadu_ps(b + i), s0);
    float s = hsum256_ps(_mm256_add_ps(_mm256_add_ps(s0, s1), _mm256_add_ps(s2, s3)));
    for (; i < n; i++)
        s += a[i] * b[i];
    return s;
}

__attribute__((target("avx2"))) static int32_t hsum256_epi32(__m256i v)
{
    __m128i x = _mm_add_epi32(_mm256_castsi256_si128(v), _mm256_extracti128_si256(v, 1));
    x = _mm_add_epi32(x, _mm_shuffle_epi32(x, 0x4e));
    x = _mm_add_epi32(x, _mm_shuffle_epi32(x, 0xb1));
    return _mm_cvtsi128_si32(x);
}

__attribute__((target("avx2"))) static int32_t dot_i8_avx2(const int8_t *restrict a,
                                                           const int8_t *restrict b, size_t n)
{
    __m256i s0 = _mm256_setzero_si256(), s1 = _mm256_setzero_si256();
    size_t i = 0;
    for (; i + 32 <= n; i += 32) {
        __m256i a0 = _mm256_cvtepi8_epi16(_mm_loadu_si128((const __m128i *)(a + i)));
        __m256i b0 = _mm256_cvtepi8_epi16(_mm_loadu_si128((const __m128i *)(b + i)));
        __m256i a1 = _mm256_cvtepi8_epi16(_mm_loadu_si128((const __m128i *)(a + i + 16)));
        __m256i b1 = _mm256_cvtepi8_epi16(_mm_loadu_si128((const __m128i *)(b + i + 16)));
        s0 = _mm256_add_epi32(s0, _mm256_madd_epi16(a0, b0));
        s1 = _mm256_add_epi32(s1, _mm256_madd_epi16(a1, b1));
    }
    for (; i + 16 <= n; i += 16) {
        __m256i a0 = _mm256_cvtepi8_epi16(_mm_loadu_si128((const __m128i *)(a + i)));
        __m256i b0 = _mm256_cvtepi8_epi16(_mm_loadu_si128((const __m128i *)(b + i)));
        s0 = _mm256_add_epi32(s0, _mm256_madd_epi16(a0, b0));
    }
    int32_t s = hsum256_epi32(_mm256_add_epi32(s0, s1));
    for (; i < n; i++)
        s += (int32_t)a[i] * (int32_t)b[i];
    return s;
}

__attribute__((target("avx512f"))) static float dot_f32_avx512(const float *restrict a,
                                                               const float *restrict b, size_t n)
{
    __m512 s0 = _mm512_setzero_ps(), s1 = _mm512_setzero_ps();
    __m512 s2 = _mm512_setzero_ps(), s3 = _mm512_setzero_ps();
    size_t i = 0;
    for (; i + 64 <= n; i += 64) {
        s0 = _mm512_fmadd_ps(_mm512_loadu_ps(a + i), _mm512_loadu_ps(b + i), s0);
        s1 = _mm512_fmadd_ps(_mm512_loadu_ps(a + i + 16), _mm512_loadu_ps(b + i + 16), s1);
        s2 = _mm512_fmadd_ps(_mm512_loadu_ps(a + i + 32), _mm512_loadu_ps(b + i + 32), s2);
        s3 = _mm512_fmadd_ps(_mm512_loadu_ps(a + i + 48), _mm512_loadu_ps(b + i + 48), s3);
    }
    for (; i + 16 <= n; i += 16)
        s0 = _mm512_fmadd_ps(_mm512_loadu_ps(a + i), _mm512_loadu_ps(b + i), s0);
    if (i < n) {
        __mmask16 m = (__mmask16)((1u << (n - i)) - 1u);
        s1 = _mm512_fmadd_ps(_mm512_maskz_loadu_ps(m, a + i), _mm512_maskz_loadu_ps(m, b + i), s1);
    }
    return _mm512_reduce_add_ps(_mm512_add_ps(_mm512_add_ps(s0, s1), _mm512_add_ps(s2, s3)));
}

__attribute__((target("avx512f,avx512bw"))) static int32_t
dot_i8_avx512(const int8_t *restrict a, const int8_t *restrict b, size_t n)
{
    __m512i s0 = _mm512_setzero_si512(), s1 = _mm512_setzero_si512();
    size_t i = 0;
    for (; i + 64 <= n; i += 64) {
        __m512i a0 = _mm512_cvtepi8_epi16(_mm256_loadu_si256((const __m256i *)(a + i)));
        __m512i b0 = _mm512_cvtepi8_epi16(_mm256_loadu_si256((const __m256i *)(b + i)));
        __m512i a1 = _mm512_cvtepi8_epi16(_mm256_loadu_si256((const __m256i *)(a + i + 32)));
        __m512i b1 = _mm512_cvtepi8_epi16(_mm256_loadu_si256((const __m256i *)(b + i + 32)));
        s0 = _mm512_add_epi32(s0, _mm512_madd_epi16(a0, b0));
        s1 = _mm512_add_epi32(s1, _mm512_madd_epi16(a1, b1));
    }
    if (i + 32 <= n) {
        __m512i a0 = _mm512_cvtepi8_epi16(_mm256_loadu_si256((const __m256i *)(a + i)));
        __m512i b0 = _mm512_cvtepi8_epi16(_mm256_loadu_si256((const __m256i *)(b + i)));
        s0 = _mm512_add_epi32(s0, _mm512_madd_epi16(a0, b0));
        i += 32;
    }
    int32_t tail = 0;
    for (; i < n; i++)
        tail += (int32_t)a[i] * (int32_t)b[i];
    return tail + _mm512_reduce_add_epi32(_mm512_add_epi32(s0, s1));
}

#endif /* VEC_X86 */

/* ---- dispatch ---------------------------------------------------------------------------- */

static const struct vec_kernels k_scalar = {"scalar", dot_f32_scalar, dot_i8_scalar};
#ifdef VEC_X86
static const struct vec_kernels k_avx2 = {"avx2", dot_f32_avx2, dot_i8_avx2};
static const struct vec_kernels k_avx512 = {"avx512", dot_f32_avx512, dot_i8_avx512};
#endif

static int cpu_has(const char *name)
{
#ifdef VEC_X86
    __builtin_cpu_init();
    if (strcmp(name, "avx2") == 0)
        return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
    if (strcmp(name, "avx512") == 0)
        return __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw");
#endif
    return strcmp(name, "scalar") == 0;
}

const struct vec_kernels *vec_kernels_by_name(const char *name)
{
    if (!name || !cpu_has(name))
        return NULL;
#ifdef VEC_X86
    if (strcmp(name, "avx512") == 0)
        return &k_avx512;
    if (strcmp(name, "avx2") == 0)
        return &k_avx2;
#endif
    return &k_scalar;
}

static const struct vec_kernels *g_best = &k_scalar;
static pthread_once_t g_best_once = PTHREAD_ONCE_INIT;

static void pick_best(void)
{
    const char *force = getenv("FORGE_VEC_KERNEL");
    static const char *const order[] = {"avx512", "avx2", "scalar"};
    int allowed = force == NULL;
    for (size_t i = 0; i < sizeof(order) / sizeof(order[0]); i++) {
        if (!allowed && strcmp(force, order[i]) == 0)
            allowed = 1;
        const struct vec_kernels *k = allowed ? vec_kernels_by_name(order[i]) : NULL;
        if (k) {
            g_best = k;
            return;
        }
    }
}

const struct vec_kernels *vec_kernels_best(void)
{
    pthread_once(&g_best_once, pick_best);
    return g_best;
}

/* ---- helpers ----------------------------------------------------------------------------- */

enum fg_err vec_normalize(const float *v, unsigned dim, float *out)
{
    double ss = 0.0;
    for (unsigned i = 0; i < dim; i++) {
        if (!isfinite(v[i]))
            return FG_EINVAL;
        ss += (double)v[i] * (double)v[i];
    }
    if (!(ss > 0.0) || !isfinite(ss))
        return FG_EINVAL;
    double inv = 1.0 / sqrt(ss);
    for (unsigned i = 0; i < dim; i++)
        out[i] = (float)((double)v[i] * inv);
    return FG_OK;
}

/* Min-heap on score (worst of the current top-k at the root). */
static void topk_push(struct hnsw_hit *h, size_t *n, size_t k, struct hnsw_hit x)
{
    size_t i;
    if (*n < k) {
        i = (*n)++;
        while (i > 0) {
            size_t p = (i - 1) / 2;
            if (!(x.score < h[p].score))
                break;
            h[i] = h[p];
            i = p;
        }
        h[i] = x;
        return;
    }
    if (!(x.score > h[0].score))
        return;
    i = 0;
    for (;;) {
        size_t l = 2 * i + 1, r = l + 1, m = i;
        float ms = x.score;
        if (l < *n && h[l].score < ms) {
            m = l;
            ms = h[l].score;
        }
        if (r < *n && h[r].score < ms)
            m = r;
        if (m == i)
            break;
        h[i] = h[m];
        i = m;
    }
    h[i] = x;
}

static int hit_cmp_desc(const void *pa, const void *pb)
{
    const struct hnsw_hit *a = pa, *b = pb;
    if (a->score != b->score)
        return a->score > b->score ? -1 : 1;
    return a->label < b->label ? -1 : (a->label > b->label);
}

size_t vec_exact_search(const float *data, size_t n, unsigned dim, const float *q, size_t k,
                        struct hnsw_hit *out)
{
    if (!data || !q || !out || k == 0 || dim == 0)
        return 0;
    const struct vec_kernels *kern = vec_kernels_best();
    float qn = kern->dot_f32(q, q, dim);
    if (!(qn > 0.0f) || !isfinite(qn))
        return 0;
    float qinv = 1.0f / sqrtf(qn);
    size_t got = 0;
    for (size_t i = 0; i < n; i++) {
        const float *x = data + i * dim;
        float xn = kern->dot_f32(x, x, dim);
        if (!(xn > 0.0f) || !isfinite(xn))
            continue;
        float s = kern->dot_f32(x, q, dim) * qinv / sqrtf(xn);
        if (!isfinite(s))
            continue;
        topk_push(out, &got, k, (struct hnsw_hit){.label = i, .score = s});
    }
    qsort(out, got, sizeof(*out), hit_cmp_desc);
    return got;
}
