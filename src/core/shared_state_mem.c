/*
 * In-process shared state (the embedded default): a chained hash table under one mutex, every
 * entry with an expiry on the monotonic clock (like Redis TTLs, not moved by the test clock).
 *
 * Expired entries are dropped when touched, and an incremental sweep looks at SWEEP_BUCKETS
 * buckets on every insert, so dead keys do not pile up. The table is bounded: at max_entries
 * live keys, an insert first sweeps everything, then evicts the entry closest to expiry among
 * the next EVICT_SAMPLE non-empty buckets (sampled eviction, as Redis's volatile-ttl policy).
 * Eviction loses at worst a rate-limit window or a failure counter early; the durable parts of
 * identity (sessions, locks, IP blocks) are in the store and reloaded from it.
 *
 * Every operation is O(1) expected under the lock; the lock is held for a hash walk and a small
 * copy, never for I/O.
 */
#include "core/shared_state.h"

#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "util/mem.h"

#define SWEEP_BUCKETS 2
#define EVICT_SAMPLE  64
#define INT_VALUE_CAP 24 /* room for any int64 in decimal */

struct ss_entry {
    struct ss_entry *next;
    int64_t expires_ms; /* monotonic */
    char *val;
    size_t vcap;
    char key[];
};

struct ss_mem {
    struct fg_shared_state pub;
    pthread_mutex_t mu;
    struct ss_entry **buckets;
    size_t nbuckets; /* power of two */
    size_t count;
    size_t max_entries;
    size_t cursor; /* incremental sweep / eviction position */
};

static int64_t mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static uint64_t hash_key(const char *k)
{
    uint64_t h = 1469598103934665603ull; /* FNV-1a */
    for (; *k; k++) {
        h ^= (unsigned char)*k;
        h *= 1099511628211ull;
    }
    return h;
}

static void entry_free(struct ss_entry *e)
{
    free(e->val);
    free(e);
}

static int key_ok(const char *key)
{
    size_t n = key ? strnlen(key, FG_SS_MAX_KEY + 1) : 0;
    return n > 0 && n <= FG_SS_MAX_KEY;
}

/* Drops the expired entries of one bucket. */
static void sweep_bucket(struct ss_mem *m, size_t b, int64_t now)
{
    struct ss_entry **pp = &m->buckets[b];
    while (*pp) {
        struct ss_entry *e = *pp;
        if (e->expires_ms <= now) {
            *pp = e->next;
            entry_free(e);
            m->count--;
        } else {
            pp = &e->next;
        }
    }
}

/* Finds a live entry; unlinks it if it has expired. *slot receives the link pointing at it. */
static struct ss_entry *find(struct ss_mem *m, const char *key, int64_t now,
                             struct ss_entry ***slot)
{
    size_t b = (size_t)(hash_key(key) & (m->nbuckets - 1));
    struct ss_entry **pp = &m->buckets[b];
    while (*pp) {
        struct ss_entry *e = *pp;
        if (strcmp(e->key, key) == 0) {
            if (e->expires_ms <= now) {
                *pp = e->next;
                entry_free(e);
                m->count--;
                return NULL;
            }
            if (slot)
                *slot = pp;
            return e;
        }
        pp = &e->next;
    }
    return NULL;
}

/* Makes room for one more entry (sweep, then sampled eviction of the soonest-expiring key). */
static void make_room(struct ss_mem *m, int64_t now)
{
    for (size_t i = 0; i < SWEEP_BUCKETS; i++) {
        sweep_bucket(m, m->cursor, now);
        m->cursor = (m->cursor + 1) & (m->nbuckets - 1);
    }
    if (m->count < m->max_entries)
        return;
    for (size_t b = 0; b < m->nbuckets; b++)
        sweep_bucket(m, b, now);
    while (m->count >= m->max_entries) {
        struct ss_entry **victim = NULL;
        size_t seen = 0;
        for (size_t n = 0; n < m->nbuckets && seen < EVICT_SAMPLE; n++) {
            size_t b = (m->cursor + n) & (m->nbuckets - 1);
            for (struct ss_entry **pp = &m->buckets[b]; *pp; pp = &(*pp)->next) {
                seen++;
                if (!victim || (*pp)->expires_ms < (*victim)->expires_ms)
                    victim = pp;
            }
        }
        if (!victim)
            return;
        struct ss_entry *e = *victim;
        *victim = e->next;
        entry_free(e);
        m->count--;
        m->cursor = (m->cursor + 1) & (m->nbuckets - 1);
    }
}

static struct ss_entry *insert(struct ss_mem *m, const char *key, int64_t now)
{
    make_room(m, now);
    size_t klen = strlen(key);
    struct ss_entry *e = fg_xcalloc(1, sizeof *e + klen + 1);
    memcpy(e->key, key, klen + 1);
    size_t b = (size_t)(hash_key(key) & (m->nbuckets - 1));
    e->next = m->buckets[b];
    m->buckets[b] = e;
    m->count++;
    return e;
}

static void set_value(struct ss_entry *e, const char *v, size_t n)
{
    if (e->vcap < n + 1) {
        e->val = fg_xrealloc(e->val, n + 1);
        e->vcap = n + 1;
    }
    memcpy(e->val, v, n);
    e->val[n] = '\0';
}

static enum fg_err mem_incr(struct fg_shared_state *s, const char *key, int64_t ttl_ms,
                            int64_t *count, int64_t *ttl_left_ms)
{
    struct ss_mem *m = (struct ss_mem *)s;
    if (!key_ok(key) || ttl_ms <= 0)
        return FG_EINVAL;
    enum fg_err rc = FG_OK;
    pthread_mutex_lock(&m->mu);
    int64_t now = mono_ms();
    struct ss_entry *e = find(m, key, now, NULL);
    long long v = 0;
    if (e) {
        char *end;
        errno = 0;
        v = strtoll(e->val, &end, 10);
        if (errno || end == e->val || *end || v == INT64_MAX) {
            rc = FG_EINVAL;
            goto out;
        }
    } else {
        e = insert(m, key, now);
        e->expires_ms = now + ttl_ms;
    }
    v++;
    char buf[INT_VALUE_CAP];
    int n = snprintf(buf, sizeof buf, "%lld", v);
    set_value(e, buf, (size_t)n);
    *count = v;
    if (ttl_left_ms)
        *ttl_left_ms = e->expires_ms - now;
out:
    pthread_mutex_unlock(&m->mu);
    return rc;
}

static enum fg_err mem_set(struct fg_shared_state *s, const char *key, const char *value,
                           int64_t ttl_ms, int nx, int *stored)
{
    struct ss_mem *m = (struct ss_mem *)s;
    size_t n = value ? strnlen(value, FG_SS_MAX_VALUE + 1) : 0;
    if (!key_ok(key) || !value || n > FG_SS_MAX_VALUE || ttl_ms <= 0)
        return FG_EINVAL;
    pthread_mutex_lock(&m->mu);
    int64_t now = mono_ms();
    struct ss_entry *e = find(m, key, now, NULL);
    int did = 0;
    if (!e || !nx) {
        if (!e)
            e = insert(m, key, now);
        set_value(e, value, n);
        e->expires_ms = now + ttl_ms;
        did = 1;
    }
    pthread_mutex_unlock(&m->mu);
    if (stored)
        *stored = did;
    return FG_OK;
}

static enum fg_err mem_get(struct fg_shared_state *s, const char *key, char *buf, size_t buflen,
                           int *found, int64_t *ttl_left_ms)
{
    struct ss_mem *m = (struct ss_mem *)s;
    *found = 0;
    if (!key_ok(key))
        return FG_EINVAL;
    pthread_mutex_lock(&m->mu);
    int64_t now = mono_ms();
    struct ss_entry *e = find(m, key, now, NULL);
    if (e) {
        *found = 1;
        if (buf && buflen)
            snprintf(buf, buflen, "%s", e->val ? e->val : "");
        if (ttl_left_ms)
            *ttl_left_ms = e->expires_ms - now;
    }
    pthread_mutex_unlock(&m->mu);
    return FG_OK;
}

static enum fg_err mem_del(struct fg_shared_state *s, const char *key)
{
    struct ss_mem *m = (struct ss_mem *)s;
    if (!key_ok(key))
        return FG_EINVAL;
    pthread_mutex_lock(&m->mu);
    struct ss_entry **slot = NULL;
    struct ss_entry *e = find(m, key, mono_ms(), &slot);
    if (e) {
        *slot = e->next;
        entry_free(e);
        m->count--;
    }
    pthread_mutex_unlock(&m->mu);
    return FG_OK;
}

static void mem_close(struct fg_shared_state *s)
{
    struct ss_mem *m = (struct ss_mem *)s;
    for (size_t b = 0; b < m->nbuckets; b++) {
        struct ss_entry *e = m->buckets[b];
        while (e) {
            struct ss_entry *next = e->next;
            entry_free(e);
            e = next;
        }
    }
    free(m->buckets);
    pthread_mutex_destroy(&m->mu);
    free(m);
}

static const struct fg_ss_ops mem_ops = {
    .name = "memory",
    .incr = mem_incr,
    .set = mem_set,
    .get = mem_get,
    .del = mem_del,
    .close = mem_close,
};

struct fg_shared_state *fg_ss_mem_new(size_t max_entries)
{
    struct ss_mem *m = fg_xcalloc(1, sizeof *m);
    m->pub.ops = &mem_ops;
    m->pub.impl = m;
    m->max_entries = max_entries ? max_entries : FG_SS_MEM_MAX_ENTRIES_DEFAULT;
    size_t nb = 16;
    while (nb < m->max_entries / 2 && nb < ((size_t)1 << 24))
        nb <<= 1;
    m->nbuckets = nb;
    m->buckets = fg_xcalloc(nb, sizeof *m->buckets);
    pthread_mutex_init(&m->mu, NULL);
    return &m->pub;
}

long fg_ss_mem_size(struct fg_shared_state *s)
{
    if (!s || s->ops != &mem_ops)
        return -1;
    struct ss_mem *m = (struct ss_mem *)s;
    pthread_mutex_lock(&m->mu);
    long n = (long)m->count;
    pthread_mutex_unlock(&m->mu);
    return n;
}
