/*
 * Fuzz target `hnsw` (src/vec/hnsw_io.c, src/vec/quant.c): loading an index file.
 * The first byte picks the mode: even = the rest is the file as is; odd = the harness first
 * recomputes the payload and header XXH64 hashes of the rest (offsets 104 and 120 of the
 * 128-byte header), so mutations reach the structural checks behind the hashes.
 * Invariants: a file that loads is searchable (finite scores, best first, no label twice),
 * takes an insert and a delete, and saves to a file that loads again with the same count.
 *
 * FUZZ_HNSW_WRITE_SEEDS=<dir> (replay binary or fuzzer) writes seed index files into <dir> and
 * exits: how tests/fuzz/corpus/hnsw/ was made.
 */
#include <math.h>

#include "fuzz_common.h"
#include "vec/hnsw.h"

uint64_t vec_xxh64(const void *data, size_t len); /* vec/hnsw_internal.h */

static char in_path[600], out_path[600];

static void write_seeds(const char *dir)
{
    for (int int8 = 0; int8 <= 1; int8++)
        for (unsigned n = 0; n <= 12; n += 6) {
            struct hnsw_params p = {.dim = 4,
                                    .M = 4,
                                    .quantize_int8 = int8,
                                    .seed = 7,
                                    .initial_capacity = 16,
                                    .float_dir = fuzz_tmpdir()};
            hnsw_index_t *idx = hnsw_new(&p);
            FUZZ_ASSERT(idx);
            for (unsigned i = 0; i < n; i++) {
                float v[4] = {(float)(i % 3) + 0.5f, (float)i, 1.0f, (float)(i * i % 5)};
                FUZZ_ASSERT(hnsw_insert(idx, 100 + i, v) == FG_OK);
            }
            if (n)
                FUZZ_ASSERT(hnsw_delete(idx, 100) == FG_OK);
            char path[700], tmp[700];
            snprintf(tmp, sizeof tmp, "%s/seed.idx", fuzz_tmpdir());
            FUZZ_ASSERT(hnsw_save(idx, tmp) == FG_OK);
            hnsw_free(idx);
            FILE *f = fopen(tmp, "rb");
            FUZZ_ASSERT(f);
            static uint8_t buf[1 << 16];
            size_t len = fread(buf + 1, 1, sizeof buf - 1, f);
            fclose(f);
            buf[0] = 1; /* fix-up mode: mutations keep their hashes right */
            snprintf(path, sizeof path, "%s/seed-%s-%u", dir, int8 ? "int8" : "f32", n);
            FUZZ_ASSERT(fuzz_write_file(path, buf, len + 1) == 0);
        }
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    snprintf(in_path, sizeof in_path, "%s/in.idx", fuzz_tmpdir());
    snprintf(out_path, sizeof out_path, "%s/out.idx", fuzz_tmpdir());
    const char *seeds = getenv("FUZZ_HNSW_WRITE_SEEDS");
    if (seeds) {
        write_seeds(seeds);
        exit(0);
    }
    return 0;
}

static void exercise(hnsw_index_t *idx, unsigned dim)
{
    float *q = calloc(dim, sizeof(float));
    FUZZ_ASSERT(q);
    for (unsigned i = 0; i < dim; i++)
        q[i] = (float)((i * 7) % 5) - 1.5f;
    struct hnsw_hit hits[8];
    size_t k = hnsw_search(idx, q, 8, 16, NULL, NULL, hits);
    FUZZ_ASSERT(k <= 8 && k <= hnsw_count(idx));
    for (size_t i = 0; i < k; i++) {
        FUZZ_ASSERT(isfinite(hits[i].score));
        if (i)
            FUZZ_ASSERT(hits[i - 1].score >= hits[i].score);
        for (size_t j = 0; j < i; j++)
            FUZZ_ASSERT(hits[j].label != hits[i].label);
    }
    size_t before = hnsw_count(idx);
    uint64_t label = 0xF0F0F0F0F0F0ull;
    if (hnsw_insert(idx, label, q) == FG_OK) {
        FUZZ_ASSERT(hnsw_count(idx) == before + 1);
        FUZZ_ASSERT(hnsw_delete(idx, label) == FG_OK);
    }
    free(q);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!in_path[0])
        LLVMFuzzerInitialize(NULL, NULL);
    if (size < 1 || size > (1u << 20))
        return 0;
    uint8_t *buf = malloc(size);
    FUZZ_ASSERT(buf);
    memcpy(buf, data + 1, size - 1);
    size_t n = size - 1;
    if ((data[0] & 1) && n >= 128) {
        uint64_t ph = vec_xxh64(buf + 128, n - 128);
        memcpy(buf + 104, &ph, 8);
        uint64_t hh = vec_xxh64(buf, 120);
        memcpy(buf + 120, &hh, 8);
    }
    int wrote = fuzz_write_file(in_path, buf, n);
    free(buf);
    if (wrote != 0)
        return 0;
    struct hnsw_params opt = {.float_dir = fuzz_tmpdir(), .vacuum_threshold = -1};
    enum fg_err e = FG_OK;
    hnsw_index_t *idx = hnsw_load_with(in_path, &opt, &e);
    if (!idx) {
        FUZZ_ASSERT(e != FG_OK);
        return 0;
    }
    FUZZ_ASSERT(e == FG_OK);
    struct hnsw_stats st;
    hnsw_get_stats(idx, &st);
    unsigned dim = 0;
    memcpy(&dim, data + 1 + 16, 4);
    exercise(idx, dim);
    size_t count = hnsw_count(idx);
    FUZZ_ASSERT(hnsw_save(idx, out_path) == FG_OK);
    hnsw_free(idx);
    idx = hnsw_load_with(out_path, &opt, &e);
    FUZZ_ASSERT(idx != NULL);
    FUZZ_ASSERT(hnsw_count(idx) == count);
    hnsw_free(idx);
    return 0;
}
