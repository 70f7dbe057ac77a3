/* HNSW persistence: hnsw_save / hnsw_load.
 *
 * File format (version 1, host byte order = little-endian on every platform Forge targets; the
 * magic doubles as an endianness check):
 *   header, 128 bytes (struct hnsw_file_header), its last 8 bytes = XXH64 of the first 120
 *   payload, payload_bytes long, XXH64 = header.payload_hash:
 *     labels   u64 * n_slots
 *     levels   u8  * n_slots
 *     flags    u8  * n_slots          (0 live, 1 tombstone, 2 free slot)
 *     scales   f32 * n_slots          (int8 mode only)
 *     vectors  n_slots * dim * (4 float | 1 int8), normalised
 *     links0   u32 * n_slots * (2M + 1)
 *     upper    u32 * upper_words      (for each slot with level > 0, in id order: level * (M+1))
 *     free     u32 * n_free           (free-slot stack, bottom first)
 *     floats   f32 * n_slots * dim    (int8 mode only: exact vectors for re-ranking)
 * Save writes a temp file beside the target, fsyncs it, renames it over the target and fsyncs the
 * directory, so a crash leaves either the old or the new file. Load reads each section with one
 * read(2) straight into the index's arrays, hashes as it goes, then bounds-checks the whole graph
 * (every link id < n_slots, at the right level, counts within M) before the index is returned. */
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "util/mem.h"
#include "vec/hnsw_internal.h"

#define HNSW_FILE_MAGIC   "FGHNSW1\n"
#define HNSW_FILE_VERSION 1u
#define HNSW_PATH_MAX     4096u
#define HNSW_WBUF         (1u << 20)

struct hnsw_file_header {
    char magic[8];
    uint32_t version;
    uint32_t header_bytes;
    uint32_t dim, M, M0, efc;
    uint32_t flags; /* bit 0: int8 */
    uint32_t n_slots, n_live, n_tomb, n_free;
    uint32_t entry;
    int32_t max_level;
    uint32_t reserved0;
    uint64_t seed, rng, vacuums;
    uint64_t upper_words;
    uint64_t payload_bytes;
    uint64_t payload_hash;
    uint8_t reserved1[8];
    uint64_t header_hash;
};
_Static_assert(sizeof(struct hnsw_file_header) == 128, "header layout");

/* ---- XXH64 (Y. Collet, BSD-2), streaming ------------------------------------------------- */
#define XP1 0x9E3779B185EBCA87ull
#define XP2 0xC2B2AE3D27D4EB4Full
#define XP3 0x165667B19E3779F9ull
#define XP4 0x85EBCA77C2B2AE63ull
#define XP5 0x27D4EB2F165667C5ull

struct xxh64 {
    uint64_t v[4];
    uint64_t total;
    uint8_t buf[32];
    size_t bl;
};

static inline uint64_t rotl64(uint64_t x, int r)
{
    return (x << r) | (x >> (64 - r));
}

static inline uint64_t rd64(const uint8_t *p)
{
    uint64_t v;
    memcpy(&v, p, 8);
    return v;
}

static inline uint64_t xround(uint64_t acc, uint64_t in)
{
    acc += in * XP2;
    acc = rotl64(acc, 31);
    return acc * XP1;
}

static inline uint64_t xmerge(uint64_t acc, uint64_t v)
{
    acc ^= xround(0, v);
    return acc * XP1 + XP4;
}

static void xxh_init(struct xxh64 *s)
{
    memset(s, 0, sizeof(*s));
    s->v[0] = XP1 + XP2;
    s->v[1] = XP2;
    s->v[2] = 0;
    s->v[3] = (uint64_t)0 - XP1;
}

static void xxh_update(struct xxh64 *s, const void *data, size_t len)
{
    const uint8_t *p = data;
    if (len == 0)
        return;
    s->total += len;
    if (s->bl) {
        size_t take = 32 - s->bl < len ? 32 - s->bl : len;
        memcpy(s->buf + s->bl, p, take);
        s->bl += take;
        p += take;
        len -= take;
        if (s->bl < 32)
            return;
        for (int i = 0; i < 4; i++)
            s->v[i] = xround(s->v[i], rd64(s->buf + 8 * i));
        s->bl = 0;
    }
    uint64_t v0 = s->v[0], v1 = s->v[1], v2 = s->v[2], v3 = s->v[3];
    while (len >= 32) {
        v0 = xround(v0, rd64(p));
        v1 = xround(v1, rd64(p + 8));
        v2 = xround(v2, rd64(p + 16));
        v3 = xround(v3, rd64(p + 24));
        p += 32;
        len -= 32;
    }
    s->v[0] = v0;
    s->v[1] = v1;
    s->v[2] = v2;
    s->v[3] = v3;
    if (len) {
        memcpy(s->buf, p, len);
        s->bl = len;
    }
}

static uint64_t xxh_digest(const struct xxh64 *s)
{
    uint64_t h;
    if (s->total >= 32) {
        h = rotl64(s->v[0], 1) + rotl64(s->v[1], 7) + rotl64(s->v[2], 12) + rotl64(s->v[3], 18);
        for (int i = 0; i < 4; i++)
            h = xmerge(h, s->v[i]);
    } else {
        h = s->v[2] + XP5;
    }
    h += s->total;
    const uint8_t *p = s->buf;
    size_t len = s->bl;
    while (len >= 8) {
        h ^= xround(0, rd64(p));
        h = rotl64(h, 27) * XP1 + XP4;
        p += 8;
        len -= 8;
    }
    if (len >= 4) {
        uint32_t w;
        memcpy(&w, p, 4);
        h ^= (uint64_t)w * XP1;
        h = rotl64(h, 23) * XP2 + XP3;
        p += 4;
        len -= 4;
    }
    while (len--) {
        h ^= (*p++) * XP5;
        h = rotl64(h, 11) * XP1;
    }
    h ^= h >> 33;
    h *= XP2;
    h ^= h >> 29;
    h *= XP3;
    h ^= h >> 32;
    return h;
}

uint64_t vec_xxh64(const void *data, size_t len)
{
    struct xxh64 s;
    xxh_init(&s);
    xxh_update(&s, data, len);
    return xxh_digest(&s);
}

/* ---- buffered, hashing writer ------------------------------------------------------------ */

struct wr {
    int fd;
    uint8_t *buf;
    size_t n;
    struct xxh64 h;
    uint64_t total;
    enum fg_err err;
};

static void write_full(struct wr *w, const void *data, size_t len)
{
    const uint8_t *p = data;
    while (len && w->err == FG_OK) {
        ssize_t r = write(w->fd, p, len > (1u << 30) ? (1u << 30) : len);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0) {
            w->err = FG_EIO;
            return;
        }
        p += r;
        len -= (size_t)r;
    }
}

static void wr_flush(struct wr *w)
{
    write_full(w, w->buf, w->n);
    w->n = 0;
}

static void wr_put(struct wr *w, const void *data, size_t len)
{
    if (len == 0)
        return;
    xxh_update(&w->h, data, len);
    w->total += len;
    if (w->n + len > HNSW_WBUF) {
        wr_flush(w);
        if (len >= HNSW_WBUF) {
            write_full(w, data, len);
            return;
        }
    }
    memcpy(w->buf + w->n, data, len);
    w->n += len;
}

static enum fg_err fsync_dir_of(const char *path)
{
    char dir[HNSW_PATH_MAX];
    const char *slash = strrchr(path, '/');
    if (!slash) {
        memcpy(dir, ".", 2);
    } else if (slash == path) {
        memcpy(dir, "/", 2);
    } else {
        size_t n = (size_t)(slash - path);
        memcpy(dir, path, n);
        dir[n] = '\0';
    }
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0)
        return FG_EIO;
    int rc = fsync(fd);
    close(fd);
    return rc == 0 ? FG_OK : FG_EIO;
}

enum fg_err hnsw_save(const hnsw_index_t *cidx, const char *path)
{
    if (!cidx || !path)
        return FG_EINVAL;
    char tmp[HNSW_PATH_MAX];
    int n = snprintf(tmp, sizeof(tmp), "%s.tmp.XXXXXX", path);
    if (n < 0 || (size_t)n >= sizeof(tmp))
        return FG_EINVAL;
    struct hnsw_index *idx = (struct hnsw_index *)cidx; /* read-only below, under the read lock */
    struct wr w = {.fd = -1, .err = FG_OK};
    int fd = mkstemp(tmp);
    if (fd < 0)
        return FG_EIO;
    w.fd = fd;
    w.buf = fg_xmalloc(HNSW_WBUF);
    xxh_init(&w.h);

    hnsw_rdlock(idx);
    struct hnsw_file_header hd;
    memset(&hd, 0, sizeof(hd));
    write_full(&w, &hd, sizeof(hd)); /* placeholder, rewritten at the end */
    size_t ns = idx->n_slots;
    wr_put(&w, idx->labels, ns * sizeof(uint64_t));
    wr_put(&w, idx->levels, ns);
    wr_put(&w, idx->flags, ns);
    if (idx->int8) {
        wr_put(&w, idx->vscale, ns * sizeof(float));
        wr_put(&w, idx->vq, ns * idx->dim);
    } else {
        wr_put(&w, idx->vf, ns * idx->vec_bytes);
    }
    wr_put(&w, idx->links0, ns * (idx->M0 + 1) * sizeof(uint32_t));
    uint64_t upper_words = 0;
    for (size_t id = 0; id < ns; id++) {
        if (idx->levels[id] == 0)
            continue;
        size_t words = (size_t)idx->levels[id] * (idx->M + 1);
        wr_put(&w, idx->upper[id], words * sizeof(uint32_t));
        upper_words += words;
    }
    wr_put(&w, idx->free_ids, (size_t)idx->n_free * sizeof(uint32_t));
    if (idx->int8)
        wr_put(&w, idx->fs_map, ns * idx->dim * sizeof(float));
    wr_flush(&w);

    memcpy(hd.magic, HNSW_FILE_MAGIC, 8);
    hd.version = HNSW_FILE_VERSION;
    hd.header_bytes = sizeof(hd);
    hd.dim = idx->dim;
    hd.M = idx->M;
    hd.M0 = idx->M0;
    hd.efc = idx->efc;
    hd.flags = idx->int8 ? 1u : 0u;
    hd.n_slots = idx->n_slots;
    hd.n_live = idx->n_live;
    hd.n_tomb = idx->n_tomb;
    hd.n_free = idx->n_free;
    hd.entry = idx->entry;
    hd.max_level = idx->max_level;
    hd.seed = idx->seed;
    hd.rng = idx->rng;
    hd.vacuums = idx->vacuums;
    hd.upper_words = upper_words;
    hd.payload_bytes = w.total;
    hd.payload_hash = xxh_digest(&w.h);
    hnsw_unlock(idx);
    hd.header_hash = vec_xxh64(&hd, offsetof(struct hnsw_file_header, header_hash));

    enum fg_err err = w.err;
    if (err == FG_OK && pwrite(fd, &hd, sizeof(hd), 0) != (ssize_t)sizeof(hd))
        err = FG_EIO;
    if (err == FG_OK && fsync(fd) != 0)
        err = FG_EIO;
    if (close(fd) != 0 && err == FG_OK)
        err = FG_EIO;
    free(w.buf);
    if (err == FG_OK && rename(tmp, path) != 0)
        err = FG_EIO;
    if (err != FG_OK) {
        (void)unlink(tmp);
        return err;
    }
    return fsync_dir_of(path);
}

/* ---- load -------------------------------------------------------------------------------- */

struct rd {
    int fd;
    struct xxh64 h;
    enum fg_err err;
};

static void rd_get(struct rd *r, void *dst, size_t len)
{
    uint8_t *p = dst;
    size_t left = len;
    while (left && r->err == FG_OK) {
        ssize_t n = read(r->fd, p, left > (1u << 30) ? (1u << 30) : left);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) {
            r->err = n == 0 ? FG_EINVAL : FG_EIO; /* short file = corrupt */
            return;
        }
        p += n;
        left -= (size_t)n;
    }
    if (r->err == FG_OK)
        xxh_update(&r->h, dst, len);
}

static int header_ok(const struct hnsw_file_header *h, uint64_t file_size)
{
    if (memcmp(h->magic, HNSW_FILE_MAGIC, 8) != 0 || h->version != HNSW_FILE_VERSION ||
        h->header_bytes != sizeof(*h))
        return 0;
    if (vec_xxh64(h, offsetof(struct hnsw_file_header, header_hash)) != h->header_hash)
        return 0;
    if (h->dim < 1 || h->dim > HNSW_DIM_MAX || h->M < HNSW_M_MIN || h->M > HNSW_M_MAX ||
        h->M0 != 2 * h->M || h->efc < 1 || h->efc > HNSW_EF_CONSTRUCTION_MAX || h->flags > 1)
        return 0;
    if (h->n_slots > HNSW_SLOTS_MAX ||
        (uint64_t)h->n_live + h->n_tomb + h->n_free != (uint64_t)h->n_slots)
        return 0;
    if (h->max_level < -1 || h->max_level > HNSW_LEVEL_MAX)
        return 0;
    if ((h->entry == HNSW_NONE) != (h->max_level == -1))
        return 0;
    if (h->entry != HNSW_NONE && h->entry >= h->n_slots)
        return 0;
    if (h->entry == HNSW_NONE && h->n_live + h->n_tomb != 0)
        return 0;
    uint64_t n = h->n_slots, vb = h->flags ? h->dim : (uint64_t)h->dim * 4;
    if (h->upper_words > n * HNSW_LEVEL_MAX * (h->M + 1))
        return 0;
    uint64_t want = n * 8 + n + n + (h->flags ? n * 4 : 0) + n * vb + n * (h->M0 + 1) * 4 +
                    h->upper_words * 4 + (uint64_t)h->n_free * 4 + (h->flags ? n * h->dim * 4 : 0);
    return want == h->payload_bytes && file_size == sizeof(*h) + want;
}

/* Every stored number of a used slot is finite: a NaN or infinite component (or scale) would make
 * every distance to it NaN, which breaks the ordering of the search heaps. 1 when sound. */
static int vectors_ok(const struct hnsw_index *idx)
{
    size_t dim = idx->dim;
    for (uint32_t u = 0; u < idx->n_slots; u++) {
        if (idx->flags[u] & HNSW_F_FREE)
            continue;
        if (idx->int8 && !isfinite(idx->vscale[u]))
            return 0;
        const float *v = idx->int8 ? idx->fs_map + (size_t)u * dim : idx->vf + (size_t)u * dim;
        for (size_t i = 0; i < dim; i++)
            if (!isfinite(v[i]))
                return 0;
    }
    return 1;
}

/* Bounds and consistency of everything loaded; 1 when sound. */
static int graph_ok(struct hnsw_index *idx, const struct hnsw_file_header *h)
{
    uint32_t ns = idx->n_slots, live = 0, tomb = 0, fr = 0;
    for (uint32_t u = 0; u < ns; u++) {
        uint8_t f = idx->flags[u];
        if (f != 0 && f != HNSW_F_DELETED && f != HNSW_F_FREE)
            return 0;
        if ((int)idx->levels[u] > idx->max_level)
            return 0;
        if (f == HNSW_F_FREE) {
            if (idx->levels[u] != 0 || idx->links0[(size_t)u * (idx->M0 + 1)] != 0)
                return 0;
            fr++;
            continue;
        }
        live += f == 0;
        tomb += f == HNSW_F_DELETED;
        for (int lvl = 0; lvl <= idx->levels[u]; lvl++) {
            const uint32_t *ll = hnsw_links(idx, u, lvl);
            if (ll[0] > hnsw_max_links(idx, lvl))
                return 0;
            for (uint32_t j = 1; j <= ll[0]; j++) {
                uint32_t v = ll[j];
                if (v >= ns || (idx->flags[v] & HNSW_F_FREE) || idx->levels[v] < lvl)
                    return 0;
            }
        }
    }
    if (live != h->n_live || tomb != h->n_tomb || fr != h->n_free)
        return 0;
    for (uint32_t i = 0; i < idx->n_free; i++)
        if (idx->free_ids[i] >= ns || idx->flags[idx->free_ids[i]] != HNSW_F_FREE)
            return 0;
    if (idx->entry != HNSW_NONE &&
        ((idx->flags[idx->entry] & HNSW_F_FREE) || idx->levels[idx->entry] != idx->max_level))
        return 0;
    /* Live labels must be unique. */
    hnsw_map_rebuild(idx, live > 1024 ? live : 1024);
    idx->map_used = 0;
    memset(idx->map, 0, idx->map_cap * sizeof(uint32_t));
    for (uint32_t u = 0; u < ns; u++) {
        if (idx->flags[u] != 0)
            continue;
        if (hnsw_map_find(idx, idx->labels[u]) != HNSW_NONE)
            return 0;
        hnsw_map_put(idx, idx->labels[u], u);
    }
    return 1;
}

hnsw_index_t *hnsw_load_with(const char *path, const struct hnsw_params *opt, enum fg_err *err)
{
    enum fg_err e = FG_EINVAL;
    struct hnsw_index *idx = NULL;
    uint32_t *upper_buf = NULL;
    struct rd r = {.fd = -1, .err = FG_OK};
    if (!path)
        goto fail;
    r.fd = open(path, O_RDONLY | O_CLOEXEC);
    e = FG_EIO;
    if (r.fd < 0)
        goto fail;
    struct stat st;
    if (fstat(r.fd, &st) != 0)
        goto fail;
    struct hnsw_file_header h;
    e = FG_EINVAL;
    if (read(r.fd, &h, sizeof(h)) != (ssize_t)sizeof(h) || !header_ok(&h, (uint64_t)st.st_size))
        goto fail;

    struct hnsw_params p = {0};
    if (opt)
        p = *opt;
    p.dim = h.dim;
    p.M = h.M;
    p.ef_construction = h.efc;
    p.quantize_int8 = (int)(h.flags & 1u);
    p.seed = h.seed;
    p.initial_capacity = 0;
    idx = hnsw_alloc(&p, &e);
    if (!idx)
        goto fail;
    uint32_t cap =
        h.n_slots > HNSW_INITIAL_CAPACITY_DEFAULT ? h.n_slots : HNSW_INITIAL_CAPACITY_DEFAULT;
    e = hnsw_reserve(idx, cap);
    if (e != FG_OK)
        goto fail;
    idx->n_slots = h.n_slots;
    idx->n_live = h.n_live;
    idx->n_tomb = h.n_tomb;
    idx->entry = h.entry;
    idx->max_level = h.max_level;
    idx->rng = h.rng;
    idx->vacuums = h.vacuums;

    size_t ns = h.n_slots;
    xxh_init(&r.h);
    rd_get(&r, idx->labels, ns * sizeof(uint64_t));
    rd_get(&r, idx->levels, ns);
    rd_get(&r, idx->flags, ns);
    if (idx->int8) {
        rd_get(&r, idx->vscale, ns * sizeof(float));
        rd_get(&r, idx->vq, ns * idx->dim);
    } else {
        rd_get(&r, idx->vf, ns * idx->vec_bytes);
    }
    rd_get(&r, idx->links0, ns * (idx->M0 + 1) * sizeof(uint32_t));
    upper_buf = fg_xmalloc(h.upper_words * sizeof(uint32_t));
    rd_get(&r, upper_buf, h.upper_words * sizeof(uint32_t));
    if (h.n_free) {
        idx->free_ids = fg_xmalloc((size_t)h.n_free * sizeof(uint32_t));
        idx->free_cap = h.n_free;
        rd_get(&r, idx->free_ids, (size_t)h.n_free * sizeof(uint32_t));
        idx->n_free = h.n_free;
    }
    if (idx->int8)
        rd_get(&r, idx->fs_map, ns * idx->dim * sizeof(float));
    e = r.err;
    if (e != FG_OK)
        goto fail;
    e = FG_EINVAL;
    if (xxh_digest(&r.h) != h.payload_hash)
        goto fail;

    /* Distribute the upper-level blocks. */
    uint64_t off = 0;
    for (size_t id = 0; id < ns; id++) {
        if (idx->levels[id] == 0)
            continue;
        if (idx->levels[id] > HNSW_LEVEL_MAX)
            goto fail;
        size_t words = (size_t)idx->levels[id] * (idx->M + 1);
        if (off + words > h.upper_words)
            goto fail;
        idx->upper[id] = fg_xmalloc(words * sizeof(uint32_t));
        memcpy(idx->upper[id], upper_buf + off, words * sizeof(uint32_t));
        idx->upper_bytes += words * sizeof(uint32_t);
        off += words;
    }
    if (off != h.upper_words || !graph_ok(idx, &h) || !vectors_ok(idx))
        goto fail;
    free(upper_buf);
    close(r.fd);
    if (err)
        *err = FG_OK;
    return idx;
fail:
    free(upper_buf);
    if (r.fd >= 0)
        close(r.fd);
    hnsw_free(idx);
    if (err)
        *err = e;
    return NULL;
}

hnsw_index_t *hnsw_load(const char *path, enum fg_err *err)
{
    return hnsw_load_with(path, NULL, err);
}
