#include "core/embed_cache_shared.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "core/shared_state.h"
#include "util/mem.h"

#define EMB_KEY_PREFIX "emb:"

static void cache_key(const uint8_t key[32], char out[sizeof EMB_KEY_PREFIX + 64])
{
    memcpy(out, EMB_KEY_PREFIX, sizeof EMB_KEY_PREFIX - 1);
    sodium_bin2hex(out + sizeof EMB_KEY_PREFIX - 1, 65, key, 32);
}

static int shared_get(void *ctx, const uint8_t key[32], float *out, unsigned dims)
{
    struct fg_shared_state *ss = ctx;
    char k[sizeof EMB_KEY_PREFIX + 64];
    cache_key(key, k);
    size_t cap = sodium_base64_encoded_len((size_t)dims * 4, sodium_base64_VARIANT_ORIGINAL) + 2;
    if (cap > FG_SS_MAX_VALUE + 1)
        return 0;
    char *buf = fg_xmalloc(cap);
    int found = 0;
    int hit = 0;
    if (fg_ss_get(ss, k, buf, cap, &found, NULL) == FG_OK && found) {
        size_t n = 0;
        unsigned char *raw = fg_xmalloc((size_t)dims * 4);
        if (sodium_base642bin(raw, (size_t)dims * 4, buf, strlen(buf), NULL, &n, NULL,
                              sodium_base64_VARIANT_ORIGINAL) == 0 &&
            n == (size_t)dims * 4) {
            for (unsigned i = 0; i < dims; i++) {
                uint32_t u = (uint32_t)raw[4 * i] | (uint32_t)raw[4 * i + 1] << 8 |
                             (uint32_t)raw[4 * i + 2] << 16 | (uint32_t)raw[4 * i + 3] << 24;
                memcpy(&out[i], &u, 4);
            }
            hit = 1;
        }
        free(raw);
    }
    free(buf);
    return hit;
}

static void shared_put(void *ctx, const uint8_t key[32], const float *v, unsigned dims, long ttl_s)
{
    struct fg_shared_state *ss = ctx;
    size_t blen = sodium_base64_encoded_len((size_t)dims * 4, sodium_base64_VARIANT_ORIGINAL);
    if (blen > FG_SS_MAX_VALUE + 1 || ttl_s <= 0)
        return; /* too large for one value: not cached */
    unsigned char *raw = fg_xmalloc((size_t)dims * 4);
    for (unsigned i = 0; i < dims; i++) {
        uint32_t u;
        memcpy(&u, &v[i], 4);
        raw[4 * i] = (unsigned char)u;
        raw[4 * i + 1] = (unsigned char)(u >> 8);
        raw[4 * i + 2] = (unsigned char)(u >> 16);
        raw[4 * i + 3] = (unsigned char)(u >> 24);
    }
    char *b64 = fg_xmalloc(blen);
    sodium_bin2base64(b64, blen, raw, (size_t)dims * 4, sodium_base64_VARIANT_ORIGINAL);
    char k[sizeof EMB_KEY_PREFIX + 64];
    cache_key(key, k);
    fg_ss_set(ss, k, b64, (int64_t)ttl_s * 1000, 0, NULL);
    free(b64);
    free(raw);
}

struct embed_cache_ops fg_embed_cache_shared_ops(struct fg_shared_state *ss)
{
    struct embed_cache_ops ops = {shared_get, shared_put, ss};
    return ops;
}
