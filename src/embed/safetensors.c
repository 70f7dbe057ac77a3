/* Read-only safetensors files (https://huggingface.co/docs/safetensors): an 8-byte little-endian
 * header length N, N bytes of JSON {name: {"dtype", "shape", "data_offsets": [begin, end]}}, then
 * the raw little-endian tensor data. The file is untrusted: every offset, shape and dtype is
 * checked against the file size before a tensor is handed out. The file is mmapped read-only;
 * F32 tensors at 4-byte aligned offsets are used in place, F16 and BF16 ones are converted. */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <jansson.h>

#include "embed/model_internal.h"
#include "util/mem.h"

#define ST_MAX_HEADER (100u * 1024u * 1024u) /* the reference implementation's limit */
#define ST_MAX_DIMS   8

struct st_owned {
    float *p;
    struct st_owned *next;
};

struct embed_st {
    void *map;
    size_t size;
    const unsigned char *data; /* start of the byte buffer */
    size_t data_len;
    json_t *hdr;
    struct st_owned *owned; /* converted tensors */
};

void embed_st_close(struct embed_st *st)
{
    if (!st)
        return;
    if (st->map && st->map != MAP_FAILED)
        munmap(st->map, st->size);
    json_decref(st->hdr);
    while (st->owned) {
        struct st_owned *o = st->owned;
        st->owned = o->next;
        free(o->p);
        free(o);
    }
    free(st);
}

struct embed_st *embed_st_open(const char *path, char *errbuf, size_t errlen)
{
    struct embed_st *st = fg_xcalloc(1, sizeof(*st));
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        embed_errf(errbuf, errlen, "cannot open %s: %s", path, strerror(errno));
        goto fail;
    }
    struct stat sb;
    if (fstat(fd, &sb) != 0 || !S_ISREG(sb.st_mode)) {
        embed_errf(errbuf, errlen, "%s is not a regular file", path);
        close(fd);
        goto fail;
    }
    if (sb.st_size < 8) {
        embed_errf(errbuf, errlen, "%s: truncated safetensors file (%lld bytes)", path,
                   (long long)sb.st_size);
        close(fd);
        goto fail;
    }
    st->size = (size_t)sb.st_size;
    st->map = mmap(NULL, st->size, PROT_READ, MAP_PRIVATE, fd, 0);
    close(fd);
    if (st->map == MAP_FAILED) {
        st->map = NULL;
        embed_errf(errbuf, errlen, "cannot map %s: %s", path, strerror(errno));
        goto fail;
    }
    const unsigned char *b = st->map;
    uint64_t n = 0;
    for (int i = 7; i >= 0; i--)
        n = n << 8 | b[i];
    if (n < 2 || n > ST_MAX_HEADER || n > st->size - 8) {
        embed_errf(errbuf, errlen, "%s: bad safetensors header length %llu (file %zu bytes)", path,
                   (unsigned long long)n, st->size);
        goto fail;
    }
    json_error_t jerr;
    st->hdr = json_loadb((const char *)b + 8, (size_t)n, JSON_REJECT_DUPLICATES, &jerr);
    if (!json_is_object(st->hdr)) {
        embed_errf(errbuf, errlen, "%s: safetensors header is not a JSON object (%s)", path,
                   jerr.text);
        goto fail;
    }
    st->data = b + 8 + n;
    st->data_len = st->size - 8 - (size_t)n;
    return st;
fail:
    embed_st_close(st);
    return NULL;
}

static float half_to_float(uint16_t h)
{
    uint32_t sign = (uint32_t)(h >> 15) << 31, exp = (h >> 10) & 0x1f, man = h & 0x3ff, f;
    if (exp == 0) {
        if (man == 0) {
            f = sign;
        } else { /* subnormal */
            exp = 127 - 15 + 1;
            while (!(man & 0x400)) {
                man <<= 1;
                exp--;
            }
            f = sign | exp << 23 | (man & 0x3ff) << 13;
        }
    } else if (exp == 31) {
        f = sign | 0x7f800000u | man << 13;
    } else {
        f = sign | (exp + 127 - 15) << 23 | man << 13;
    }
    float out;
    memcpy(&out, &f, sizeof(out));
    return out;
}

const float *embed_st_tensor(struct embed_st *st, const char *name, int ndim, const size_t *shape,
                             char *errbuf, size_t errlen)
{
    json_t *t = json_object_get(st->hdr, name);
    if (!t) {
        embed_errf(errbuf, errlen, "model.safetensors has no tensor %s", name);
        return NULL;
    }
    const char *dtype = json_string_value(json_object_get(t, "dtype"));
    json_t *jshape = json_object_get(t, "shape"), *offs = json_object_get(t, "data_offsets");
    size_t esize;
    if (!dtype) {
        embed_errf(errbuf, errlen, "tensor %s: no dtype", name);
        return NULL;
    }
    if (strcmp(dtype, "F32") == 0)
        esize = 4;
    else if (strcmp(dtype, "F16") == 0 || strcmp(dtype, "BF16") == 0)
        esize = 2;
    else {
        embed_errf(errbuf, errlen, "tensor %s: unsupported dtype %.16s (F32, F16 or BF16)", name,
                   dtype);
        return NULL;
    }
    if (!json_is_array(jshape) || json_array_size(jshape) != (size_t)ndim || ndim > ST_MAX_DIMS) {
        embed_errf(errbuf, errlen, "tensor %s: expected %d dimensions", name, ndim);
        return NULL;
    }
    size_t count = 1;
    for (int i = 0; i < ndim; i++) {
        json_t *d = json_array_get(jshape, (size_t)i);
        if (!json_is_integer(d) || json_integer_value(d) < 0 ||
            (uint64_t)json_integer_value(d) != shape[i]) {
            embed_errf(errbuf, errlen, "tensor %s: shape mismatch in dimension %d (expected %zu)",
                       name, i, shape[i]);
            return NULL;
        }
        if (shape[i] && count > SIZE_MAX / 4 / shape[i]) {
            embed_errf(errbuf, errlen, "tensor %s: too large", name);
            return NULL;
        }
        count *= shape[i];
    }
    json_t *jb = json_array_get(offs, 0), *je = json_array_get(offs, 1);
    if (!json_is_array(offs) || json_array_size(offs) != 2 || !json_is_integer(jb) ||
        !json_is_integer(je) || json_integer_value(jb) < 0 ||
        json_integer_value(je) < json_integer_value(jb) ||
        (uint64_t)json_integer_value(je) > st->data_len) {
        embed_errf(errbuf, errlen, "tensor %s: data_offsets out of range", name);
        return NULL;
    }
    size_t begin = (size_t)json_integer_value(jb), end = (size_t)json_integer_value(je);
    if (end - begin != count * esize) {
        embed_errf(errbuf, errlen, "tensor %s: %zu data bytes for %zu elements of %s", name,
                   end - begin, count, dtype);
        return NULL;
    }
    const unsigned char *p = st->data + begin;
    if (esize == 4 && ((uintptr_t)p % sizeof(float)) == 0)
        return (const float *)(const void *)p;
    float *f = fg_xmalloc((count ? count : 1) * sizeof(float));
    for (size_t i = 0; i < count; i++) {
        if (esize == 4) {
            memcpy(&f[i], p + 4 * i, 4);
        } else {
            uint16_t h = (uint16_t)(p[2 * i] | p[2 * i + 1] << 8);
            if (dtype[0] == 'B') {
                uint32_t u = (uint32_t)h << 16;
                memcpy(&f[i], &u, 4);
            } else {
                f[i] = half_to_float(h);
            }
        }
    }
    struct st_owned *o = fg_xmalloc(sizeof(*o));
    o->p = f;
    o->next = st->owned;
    st->owned = o;
    return f;
}

int embed_st_has(const struct embed_st *st, const char *name)
{
    return json_object_get(st->hdr, name) != NULL;
}

const void *embed_st_bytes(const struct embed_st *st, size_t *len)
{
    *len = st->size;
    return st->map;
}
