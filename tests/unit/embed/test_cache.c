/* Embedding cache: key framing, the in-process LRU (bound, recency, TTL, dims), concurrency. */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "embed/embedder.h"

static void key(const char *model, unsigned dims, const char *text, size_t len, uint8_t out[32])
{
    embed_cache_key(model, dims, text, len, out);
}

static void test_key_framing(void **state)
{
    (void)state;
    uint8_t a[32], b[32];

    key("m", 8, "hello", 5, a);
    key("m", 8, "hello", 5, b);
    assert_memory_equal(a, b, 32); /* deterministic */

    key("m2", 8, "hello", 5, b);
    assert_memory_not_equal(a, b, 32); /* model */
    key("m", 16, "hello", 5, b);
    assert_memory_not_equal(a, b, 32); /* dims */
    key("m", 8, "hellO", 5, b);
    assert_memory_not_equal(a, b, 32); /* text */
    key("m", 8, "hello!", 5, b);
    assert_memory_equal(a, b, 32); /* only len bytes count */

    /* shifting bytes between fields never collides */
    key("ab", 8, "c", 1, a);
    key("a", 8, "bc", 2, b);
    assert_memory_not_equal(a, b, 32);
    key("", 8, "abc", 3, a);
    key("abc", 8, "", 0, b);
    assert_memory_not_equal(a, b, 32);
    key(NULL, 8, "x", 1, a);
    key("", 8, "x", 1, b);
    assert_memory_equal(a, b, 32); /* NULL model = "" */
    /* a digit of dims cannot be smuggled into the model name */
    key("m1", 6, "t", 1, a);
    key("m", 16, "t", 1, b);
    assert_memory_not_equal(a, b, 32);
    /* embedded NUL is part of the text */
    key("m", 8, "a\0b", 3, a);
    key("m", 8, "a", 1, b);
    assert_memory_not_equal(a, b, 32);
}

static void fill(float *v, unsigned d, float base)
{
    for (unsigned i = 0; i < d; i++)
        v[i] = base + (float)i;
}

static void kn(int n, uint8_t out[32])
{
    char t[32];
    snprintf(t, sizeof(t), "text-%d", n);
    embed_cache_key("m", 4, t, strlen(t), out);
}

static void test_get_put(void **state)
{
    (void)state;
    struct embed_mem_cache *c = embed_mem_cache_new(10);
    struct embed_cache_ops ops = embed_mem_cache_ops(c);
    uint8_t k[32];
    float v[4], out[4];

    kn(1, k);
    assert_int_equal(ops.get(ops.ctx, k, out, 4), 0);
    fill(v, 4, 1);
    ops.put(ops.ctx, k, v, 4, 0);
    assert_int_equal(embed_mem_cache_len(c), 1);
    memset(out, 0, sizeof(out));
    assert_int_equal(ops.get(ops.ctx, k, out, 4), 1);
    assert_memory_equal(out, v, sizeof(v));
    /* asking with other dims is a miss, not a buffer overrun */
    float out8[8];
    assert_int_equal(ops.get(ops.ctx, k, out8, 8), 0);
    /* replacing a key keeps one entry with the new value */
    fill(v, 4, 100);
    ops.put(ops.ctx, k, v, 4, 0);
    assert_int_equal(embed_mem_cache_len(c), 1);
    assert_int_equal(ops.get(ops.ctx, k, out, 4), 1);
    assert_memory_equal(out, v, sizeof(v));
    /* absurd dims are ignored */
    uint8_t k2[32];
    kn(2, k2);
    ops.put(ops.ctx, k2, v, 0, 0);
    assert_int_equal(embed_mem_cache_len(c), 1);
    embed_mem_cache_free(c);
    embed_mem_cache_free(NULL);
}

static void test_lru_bound(void **state)
{
    (void)state;
    struct embed_mem_cache *c = embed_mem_cache_new(3);
    struct embed_cache_ops ops = embed_mem_cache_ops(c);
    uint8_t k[6][32];
    float v[4], out[4];
    for (int i = 0; i < 6; i++)
        kn(i, k[i]);

    for (int i = 0; i < 3; i++) {
        fill(v, 4, (float)i);
        ops.put(ops.ctx, k[i], v, 4, 0);
    }
    assert_int_equal(embed_mem_cache_len(c), 3);
    /* touch 0 so that 1 is the least recently used */
    assert_int_equal(ops.get(ops.ctx, k[0], out, 4), 1);
    ops.put(ops.ctx, k[3], v, 4, 0);
    assert_int_equal(embed_mem_cache_len(c), 3);
    assert_int_equal(ops.get(ops.ctx, k[1], out, 4), 0); /* evicted */
    assert_int_equal(ops.get(ops.ctx, k[0], out, 4), 1);
    assert_int_equal(ops.get(ops.ctx, k[2], out, 4), 1);
    assert_int_equal(ops.get(ops.ctx, k[3], out, 4), 1);
    /* many more inserts never exceed the bound */
    for (int r = 0; r < 1000; r++) {
        uint8_t kk[32];
        kn(100 + r, kk);
        ops.put(ops.ctx, kk, v, 4, 0);
        assert_true(embed_mem_cache_len(c) <= 3);
    }
    embed_mem_cache_free(c);

    struct embed_mem_cache *one = embed_mem_cache_new(0); /* 0 means 1 */
    ops = embed_mem_cache_ops(one);
    ops.put(ops.ctx, k[4], v, 4, 0);
    ops.put(ops.ctx, k[5], v, 4, 0);
    assert_int_equal(embed_mem_cache_len(one), 1);
    assert_int_equal(ops.get(ops.ctx, k[5], out, 4), 1);
    embed_mem_cache_free(one);
}

static int64_t fake_now(void *ctx)
{
    return *(int64_t *)ctx;
}

static void test_ttl(void **state)
{
    (void)state;
    int64_t now = 1000;
    struct embed_mem_cache *c = embed_mem_cache_new(10);
    embed_mem_cache_set_clock(c, fake_now, &now);
    struct embed_cache_ops ops = embed_mem_cache_ops(c);
    uint8_t a[32], b[32];
    float v[4], out[4];
    fill(v, 4, 1);
    kn(1, a);
    kn(2, b);

    ops.put(ops.ctx, a, v, 4, 10); /* expires at 1010 */
    ops.put(ops.ctx, b, v, 4, 0);  /* default TTL: 7 days */
    now = 1009;
    assert_int_equal(ops.get(ops.ctx, a, out, 4), 1);
    now = 1010;
    assert_int_equal(ops.get(ops.ctx, a, out, 4), 0);
    assert_int_equal(embed_mem_cache_len(c), 1); /* the expired entry was dropped */
    now = 1000 + EMBED_CACHE_DEFAULT_TTL_S - 1;
    assert_int_equal(ops.get(ops.ctx, b, out, 4), 1);
    now = 1000 + EMBED_CACHE_DEFAULT_TTL_S;
    assert_int_equal(ops.get(ops.ctx, b, out, 4), 0);
    /* a huge TTL does not overflow into the past */
    ops.put(ops.ctx, a, v, 4, 0x7fffffffffffffffL);
    assert_int_equal(ops.get(ops.ctx, a, out, 4), 1);
    embed_mem_cache_set_clock(c, NULL, NULL); /* real clock again */
    ops.put(ops.ctx, b, v, 4, 60);
    assert_int_equal(ops.get(ops.ctx, b, out, 4), 1);
    embed_mem_cache_free(c);
}

#define CC_THREADS 8
#define CC_OPS     5000

static void *cc_worker(void *p)
{
    struct embed_cache_ops *ops = p;
    float v[4], out[4];
    uint8_t k[32];
    for (int i = 0; i < CC_OPS; i++) {
        int n = (i * 7919) % 200;
        kn(n, k);
        fill(v, 4, (float)n);
        if (ops->get(ops->ctx, k, out, 4)) {
            if (memcmp(out, v, sizeof(v)) != 0)
                return (void *)1;
        } else {
            ops->put(ops->ctx, k, v, 4, 0);
        }
    }
    return NULL;
}

static void test_concurrent(void **state)
{
    (void)state;
    struct embed_mem_cache *c = embed_mem_cache_new(64);
    struct embed_cache_ops ops = embed_mem_cache_ops(c);
    pthread_t th[CC_THREADS];
    for (int i = 0; i < CC_THREADS; i++)
        assert_int_equal(pthread_create(&th[i], NULL, cc_worker, &ops), 0);
    for (int i = 0; i < CC_THREADS; i++) {
        void *r;
        pthread_join(th[i], &r);
        assert_null(r);
    }
    assert_true(embed_mem_cache_len(c) <= 64);
    embed_mem_cache_free(c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_key_framing), cmocka_unit_test(test_get_put),
        cmocka_unit_test(test_lru_bound),   cmocka_unit_test(test_ttl),
        cmocka_unit_test(test_concurrent),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
