/*
 * Fuzz target `embed` (src/embed/local.c, src/embed/wordnet.c): the local embedders' tokenizer,
 * stop words, stemmer and (v2) WordNet lookups on arbitrary bytes. The first byte picks the
 * dimension and the model (v1, or v2 when the WordNet dictionary is installed); the rest is the
 * text. Invariants: every component is finite and the vector has unit L2 norm; the embedding is
 * deterministic (the same text gives the same vector twice); embed_local_shared_words of the
 * two halves of the text is bounded by the first half's length.
 */
#include <math.h>

#include "embed/embed_internal.h"
#include "fuzz_common.h"

static int have_wordnet = -1;

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    char err[256];
    have_wordnet = embed_wn_open(err, sizeof err) == FG_OK;
    if (!have_wordnet)
        fprintf(stderr, "fuzz_embed: WordNet unavailable (%s): v2 not fuzzed\n", err);
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const unsigned dims_set[] = {1, 8, 64, 384};
    if (have_wordnet < 0)
        LLVMFuzzerInitialize(NULL, NULL);
    if (size < 1 || size > 16 * 1024)
        return 0;
    unsigned dims = dims_set[data[0] & 3];
    int v2 = (data[0] & 4) && have_wordnet;
    const char *text = (const char *)data + 1;
    size_t len = size - 1;
    float *a = calloc(dims, sizeof(float)), *b = calloc(dims, sizeof(float));
    FUZZ_ASSERT(a && b);
    if (v2) {
        embed_local2_vector(text, len, dims, NULL, a);
        embed_local2_vector(text, len, dims, NULL, b);
    } else {
        embed_local_vector(text, len, dims, a);
        embed_local_vector(text, len, dims, b);
    }
    double ss = 0;
    for (unsigned i = 0; i < dims; i++) {
        FUZZ_ASSERT(isfinite(a[i]));
        ss += (double)a[i] * a[i];
    }
    FUZZ_ASSERT(fabs(ss - 1.0) < 1e-3);
    FUZZ_ASSERT(memcmp(a, b, dims * sizeof(float)) == 0);
    free(a);
    free(b);
    size_t h = len / 2;
    FUZZ_ASSERT(embed_local_shared_words(text, h, text + h, len - h) <= h);
    return 0;
}
