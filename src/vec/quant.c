/* int8 scalar quantisation and the float side file of int8 mode.
 *
 * Quantisation: symmetric, one scale per vector, s = max|x_i| / 127, code_i = round(x_i / s).
 * Vectors are unit length, so every dot product of two coded vectors is sa * sb * sum(ca_i * cb_i)
 * computed exactly in int32 (|c| <= 127, dim <= 4096: |sum| < 2^27). A per-vector scale needs no
 * training pass (the index is built online) and adapts to each vector's spread; the error of one
 * component is at most s/2, i.e. max|x|/254.
 *
 * Float side file: the int8 graph search finds candidates; their exact cosine comes from the
 * normalised float vectors, which in int8 mode are kept in an unlinked temporary file mapped
 * MAP_SHARED (float_dir, default $TMPDIR or /tmp). Those pages are page cache: the kernel writes
 * them back to the file and evicts them under memory pressure, so they are not part of
 * hnsw_memory_bytes (hnsw_get_stats reports the file size separately). */
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <unistd.h>

#include "util/mem.h"
#include "vec/hnsw_internal.h"

float vec_quantize_i8(const float *x, unsigned dim, int8_t *out)
{
    float m = 0.0f;
    for (unsigned i = 0; i < dim; i++) {
        float a = fabsf(x[i]);
        if (a > m)
            m = a;
    }
    if (!(m > 0.0f)) {
        for (unsigned i = 0; i < dim; i++)
            out[i] = 0;
        return 0.0f;
    }
    float s = m / 127.0f;
    float inv = 127.0f / m;
    for (unsigned i = 0; i < dim; i++) {
        long c = lrintf(x[i] * inv);
        if (c > 127)
            c = 127;
        if (c < -127)
            c = -127;
        out[i] = (int8_t)c;
    }
    return s;
}

static int open_tmp(const char *dir)
{
#ifdef O_TMPFILE
    int fd = open(dir, O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
    if (fd >= 0)
        return fd;
#endif
    char path[4096];
    int n = snprintf(path, sizeof(path), "%s/forge-hnsw-f32-XXXXXX", dir);
    if (n < 0 || (size_t)n >= sizeof(path))
        return -1;
    int fd2 = mkstemp(path);
    if (fd2 < 0)
        return -1;
    (void)unlink(path);
    return fd2;
}

enum fg_err hnsw_fstore_open(struct hnsw_index *idx)
{
    const char *dir = idx->float_dir;
    if (!dir)
        dir = getenv("TMPDIR");
    if (!dir || !*dir)
        dir = "/tmp";
    idx->fs_fd = open_tmp(dir);
    if (idx->fs_fd < 0)
        return FG_EIO;
    idx->fs_map = NULL;
    idx->fs_bytes = 0;
    return FG_OK;
}

enum fg_err hnsw_fstore_grow(struct hnsw_index *idx, uint32_t cap)
{
    size_t want = (size_t)cap * idx->dim * sizeof(float);
    if (want <= idx->fs_bytes)
        return FG_OK;
    /* Reserve the blocks before mapping them: with ftruncate alone the file is sparse, and a
     * full disk would surface as SIGBUS on the first write through the map instead of an error. */
    int frc = posix_fallocate(idx->fs_fd, 0, (off_t)want);
    if (frc != 0 && frc != EOPNOTSUPP && frc != EINVAL)
        return FG_EIO;
    if (ftruncate(idx->fs_fd, (off_t)want) != 0)
        return FG_EIO;
    void *p;
    if (idx->fs_map)
        p = mremap(idx->fs_map, idx->fs_bytes, want, MREMAP_MAYMOVE);
    else
        p = mmap(NULL, want, PROT_READ | PROT_WRITE, MAP_SHARED, idx->fs_fd, 0);
    if (p == MAP_FAILED)
        return FG_EIO;
    idx->fs_map = p;
    idx->fs_bytes = want;
    return FG_OK;
}

void hnsw_fstore_close(struct hnsw_index *idx)
{
    if (idx->fs_map)
        munmap(idx->fs_map, idx->fs_bytes);
    if (idx->fs_fd >= 0)
        close(idx->fs_fd);
    idx->fs_map = NULL;
    idx->fs_fd = -1;
    idx->fs_bytes = 0;
}
