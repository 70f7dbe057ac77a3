/*
 * Shared short-lived state (SPEC §1): rate-limit windows, the session-state cache (revocation),
 * login-failure counters, account locks and IP blocks. One small vtable; the embedded default is
 * an in-process table (shared_state_mem.c), and with REDIS_URL a Redis implementation (issue 6)
 * makes the same state common to every replica. Each operation maps 1:1 to one atomic Redis
 * command, so the Redis version is a thin translation:
 *
 *   incr(key, ttl)          EVAL "local n = redis.call('INCR', KEYS[1])
 *                                 if n == 1 then redis.call('PEXPIRE', KEYS[1], ARGV[1]) end
 *                                 return {n, redis.call('PTTL', KEYS[1])}"
 *   set(key, v, ttl, nx)    SET key v PX ttl [NX]
 *   get(key)                GET key (+ PTTL in the same script when ttl_left is wanted)
 *   del(key)                DEL key
 *
 * Keys are short printable ASCII (≤ FG_SS_MAX_KEY bytes) with a prefix naming their owner
 * ("rl:", "lf:", "lk:", "ipf:", "ipb:", "sess:", "usr:"); values are NUL-free strings
 * (≤ FG_SS_MAX_VALUE bytes). Every key has a TTL: nothing here is permanent, and anything that
 * must survive a restart is also in the store (sessions, locks, immune responses).
 *
 * Errors: an implementation returns FG_EUNAVAIL when its backend cannot be reached. Callers decide
 * per use: authentication state fails closed (503), rate limiting fails open (logged).
 */
#ifndef CORE_SHARED_STATE_H
#define CORE_SHARED_STATE_H

#include <stddef.h>
#include <stdint.h>

#include "util/err.h"

struct fg_config;
struct fg_shared_state;

#define FG_SS_MAX_KEY   200
#define FG_SS_MAX_VALUE 65536 /* an embedding of 3072 float32 in base64 is 16 388 bytes */
/** In-process table: maximum number of live keys (oldest-expiring are evicted beyond it). */
#define FG_SS_MEM_MAX_ENTRIES_DEFAULT 65536

struct fg_ss_ops {
    const char *name; /* "memory" | "redis" */
    /** Atomically adds 1 to the integer at `key` (absent = 0). When the key is created its TTL is
     * set to `ttl_ms`; an existing key keeps its TTL. *count = the new value; *ttl_left_ms (may be
     * NULL) = milliseconds until the key expires. FG_EINVAL if the value is not an integer. */
    enum fg_err (*incr)(struct fg_shared_state *s, const char *key, int64_t ttl_ms, int64_t *count,
                        int64_t *ttl_left_ms);
    /** Stores `value` with a TTL. nx != 0: only when the key does not exist; *stored (may be NULL)
     * tells whether it was written. */
    enum fg_err (*set)(struct fg_shared_state *s, const char *key, const char *value,
                       int64_t ttl_ms, int nx, int *stored);
    /** Reads `key` into buf (NUL-terminated, truncated to buflen - 1). *found = 0 when absent or
     * expired. *ttl_left_ms (may be NULL) = milliseconds to expiry. */
    enum fg_err (*get)(struct fg_shared_state *s, const char *key, char *buf, size_t buflen,
                       int *found, int64_t *ttl_left_ms);
    /** Removes `key` (absent is not an error). */
    enum fg_err (*del)(struct fg_shared_state *s, const char *key);
    void (*close)(struct fg_shared_state *s);
};

struct fg_shared_state {
    const struct fg_ss_ops *ops;
    void *impl;
};

/**
 * Opens the shared state named by the configuration: REDIS_URL set → Redis (FG_EUNAVAIL with a
 * message until that implementation lands), else the in-process table. Close with fg_ss_close.
 */
enum fg_err fg_ss_open(const struct fg_config *cfg, struct fg_shared_state **out, char *err,
                       size_t errlen);
/** The in-process implementation with room for `max_entries` keys (0 → the default). */
struct fg_shared_state *fg_ss_mem_new(size_t max_entries);
/** Number of live keys in an in-process table (tests, metrics); -1 for other implementations. */
long fg_ss_mem_size(struct fg_shared_state *s);

static inline void fg_ss_close(struct fg_shared_state *s)
{
    if (s)
        s->ops->close(s);
}
static inline enum fg_err fg_ss_incr(struct fg_shared_state *s, const char *key, int64_t ttl_ms,
                                     int64_t *count, int64_t *ttl_left_ms)
{
    return s->ops->incr(s, key, ttl_ms, count, ttl_left_ms);
}
static inline enum fg_err fg_ss_set(struct fg_shared_state *s, const char *key, const char *value,
                                    int64_t ttl_ms, int nx, int *stored)
{
    return s->ops->set(s, key, value, ttl_ms, nx, stored);
}
static inline enum fg_err fg_ss_get(struct fg_shared_state *s, const char *key, char *buf,
                                    size_t buflen, int *found, int64_t *ttl_left_ms)
{
    return s->ops->get(s, key, buf, buflen, found, ttl_left_ms);
}
static inline enum fg_err fg_ss_del(struct fg_shared_state *s, const char *key)
{
    return s->ops->del(s, key);
}

#endif
