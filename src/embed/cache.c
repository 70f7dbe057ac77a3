/* Embedding cache: key derivation and the in-process LRU implementation. */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <sodium.h>

#include "embed/embed_internal.h"
#include "util/mem.h"

#define EMBED_CACHE_KEY_DOMAIN "forge-embed-cache-v1"
#define EMBED_CACHE_MAX_TTL_S  (100L * 365 * 24 * 3600)

static void be32(uint8_t o[4], uint32_t v)
{
    for (int i = 0; i < 4; i++)
        o[i] = (uint8_t)(v >> (24 - 8 * i));
}

static void be64(uint8_t o[8], uint64_t v)
{
    for (int i = 0; i < 8; i++)
        o[i] = (uint8_t)(v >> (56 - 8 * i));
}

void embed_cache_key(const char *model, unsigned dims, const char *text, size_t len,
                     uint8_t key[32])
{
    crypto_hash_sha256_state st;
    uint8_t b[8];
    size_t ml = model ? strlen(model) : 0;

    crypto_hash_sha256_init(&st);
    /* domain string includes its NUL; then every field is length-prefixed */
    crypto_hash_sha256_update(&st, (const unsigned char *)EMBED_CACHE_KEY_DOMAIN,
                              sizeof(EMBED_CACHE_KEY_DOMAIN));
    be64(b, (uint64_t)ml);
    crypto_hash_sha256_update(&st, b, 8);
    if (ml)
        crypto_hash_sha256_update(&st, (const unsigned char *)model, ml);
    be32(b, dims);
    crypto_hash_sha256_update(&st, b, 4);
    be64(b, (uint64_t)len);
    crypto_hash_sha256_update(&st, b, 8);
    if (len)
        crypto_hash_sha256_update(&st, (const unsigned char *)text, len);
    crypto_hash_sha256_final(&st, key);
}

/* ---- in-process LRU ---------------------------------------------------------------------- */

struct mc_entry {
    struct mc_entry *hnext;       /* hash chain */
    struct mc_entry *prev, *next; /* LRU list, head = most recent */
    int64_t expires;
    unsigned dims;
    uint8_t key[32];
    float v[]; /* dims floats */
};

struct embed_mem_cache {
    pthread_mutex_t mu;
    struct mc_entry **buckets;
    size_t nbuckets; /* power of two */
    size_t len, max;
    struct mc_entry *head, *tail;
    embed_clock_fn now;
    void *now_ctx;
};

static int64_t mono_now(void *ctx)
{
    (void)ctx;
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec;
}

static size_t bucket_of(const struct embed_mem_cache *c, const uint8_t key[32])
{
    uint64_t h;
    memcpy(&h, key, sizeof(h)); /* the key is a SHA-256: already uniformly distributed */
    return (size_t)(h & (c->nbuckets - 1));
}

struct embed_mem_cache *embed_mem_cache_new(size_t max_entries)
{
    struct embed_mem_cache *c = fg_xcalloc(1, sizeof(*c));
    if (max_entries == 0)
        max_entries = 1;
    c->max = max_entries;
    c->nbuckets = 16;
    while (c->nbuckets < max_entries && c->nbuckets < ((size_t)1 << 24))
        c->nbuckets <<= 1;
    c->buckets = fg_xcalloc(c->nbuckets, sizeof(*c->buckets));
    c->now = mono_now;
    pthread_mutex_init(&c->mu, NULL);
    return c;
}

void embed_mem_cache_free(struct embed_mem_cache *c)
{
    if (!c)
        return;
    for (struct mc_entry *e = c->head, *n; e; e = n) {
        n = e->next;
        free(e);
    }
    free(c->buckets);
    pthread_mutex_destroy(&c->mu);
    free(c);
}

void embed_mem_cache_set_clock(struct embed_mem_cache *c, embed_clock_fn now, void *ctx)
{
    pthread_mutex_lock(&c->mu);
    c->now = now ? now : mono_now;
    c->now_ctx = now ? ctx : NULL;
    pthread_mutex_unlock(&c->mu);
}

size_t embed_mem_cache_len(struct embed_mem_cache *c)
{
    pthread_mutex_lock(&c->mu);
    size_t n = c->len;
    pthread_mutex_unlock(&c->mu);
    return n;
}

static void lru_unlink(struct embed_mem_cache *c, struct mc_entry *e)
{
    if (e->prev)
        e->prev->next = e->next;
    else
        c->head = e->next;
    if (e->next)
        e->next->prev = e->prev;
    else
        c->tail = e->prev;
    e->prev = e->next = NULL;
}

static void lru_push_front(struct embed_mem_cache *c, struct mc_entry *e)
{
    e->prev = NULL;
    e->next = c->head;
    if (c->head)
        c->head->prev = e;
    c->head = e;
    if (!c->tail)
        c->tail = e;
}

/* Finds key; with unlink set, also removes it from its chain (the caller owns it then). */
static struct mc_entry *find(struct embed_mem_cache *c, const uint8_t key[32], int unlink)
{
    struct mc_entry **pp = &c->buckets[bucket_of(c, key)];
    for (; *pp; pp = &(*pp)->hnext) {
        struct mc_entry *e = *pp;
        if (memcmp(e->key, key, 32) == 0) {
            if (unlink) {
                *pp = e->hnext;
                lru_unlink(c, e);
                c->len--;
            }
            return e;
        }
    }
    return NULL;
}

static int mc_get(void *ctx, const uint8_t key[32], float *out, unsigned dims)
{
    struct embed_mem_cache *c = ctx;
    struct mc_entry *dead = NULL;
    int hit = 0;

    pthread_mutex_lock(&c->mu);
    struct mc_entry *e = find(c, key, 0);
    if (e && c->now(c->now_ctx) >= e->expires) {
        dead = find(c, key, 1);
    } else if (e && e->dims == dims) {
        memcpy(out, e->v, dims * sizeof(float));
        lru_unlink(c, e);
        lru_push_front(c, e);
        hit = 1;
    }
    pthread_mutex_unlock(&c->mu);
    free(dead);
    return hit;
}

static void mc_put(void *ctx, const uint8_t key[32], const float *v, unsigned dims, long ttl_s)
{
    struct embed_mem_cache *c = ctx;
    struct mc_entry *old = NULL, *evicted = NULL;

    if (dims == 0 || dims > EMBED_MAX_DIMS)
        return;
    if (ttl_s <= 0)
        ttl_s = EMBED_CACHE_DEFAULT_TTL_S;
    if (ttl_s > EMBED_CACHE_MAX_TTL_S)
        ttl_s = EMBED_CACHE_MAX_TTL_S; /* keeps now + ttl far from overflow */
    struct mc_entry *e = fg_xmalloc(sizeof(*e) + dims * sizeof(float));
    memcpy(e->key, key, 32);
    memcpy(e->v, v, dims * sizeof(float));
    e->dims = dims;

    pthread_mutex_lock(&c->mu);
    e->expires = c->now(c->now_ctx) + ttl_s;
    old = find(c, key, 1);
    if (c->len >= c->max && c->tail)
        evicted = find(c, c->tail->key, 1);
    size_t b = bucket_of(c, key);
    e->hnext = c->buckets[b];
    c->buckets[b] = e;
    lru_push_front(c, e);
    c->len++;
    pthread_mutex_unlock(&c->mu);
    free(old);
    free(evicted);
}

struct embed_cache_ops embed_mem_cache_ops(struct embed_mem_cache *c)
{
    struct embed_cache_ops ops = {.get = mc_get, .put = mc_put, .ctx = c};
    return ops;
}
