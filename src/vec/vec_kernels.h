/* Distance kernels and int8 quantisation shared by src/vec/ (not part of the public API). */
#ifndef FG_VEC_KERNELS_H
#define FG_VEC_KERNELS_H

#include <stddef.h>
#include <stdint.h>

#include "util/err.h"

typedef float (*vec_dot_f32_fn)(const float *a, const float *b, size_t n);
typedef int32_t (*vec_dot_i8_fn)(const int8_t *a, const int8_t *b, size_t n);

struct vec_kernels {
    const char *name; /* "avx512", "avx2", "scalar" */
    vec_dot_f32_fn dot_f32;
    vec_dot_i8_fn dot_i8;
};

/** Best kernel set for this CPU, chosen once (FORGE_VEC_KERNEL=scalar|avx2|avx512 forces a
 *  lower one). Never NULL. */
const struct vec_kernels *vec_kernels_best(void);
/** A kernel set by name, or NULL when unknown or unsupported by this CPU (tests use this to
 *  compare every available implementation against the scalar one). */
const struct vec_kernels *vec_kernels_by_name(const char *name);

/** Copies v into out scaled to unit length. FG_EINVAL when v contains NaN/Inf or has zero norm. */
enum fg_err vec_normalize(const float *v, unsigned dim, float *out);

/** Symmetric int8 quantisation with one scale per vector: out[i] = round(x[i] / s) where
 *  s = max|x| / 127, so x ~= s * out. Returns s (0 for an all-zero vector). */
float vec_quantize_i8(const float *x, unsigned dim, int8_t *out);

#endif
