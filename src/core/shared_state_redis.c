/*
 * Shared state in Redis (hiredis), used when REDIS_URL is set so every replica sees the same
 * rate-limit windows, session revocations, failure counters and IP blocks (shared_state.h).
 *
 * Connections: a small pool of blocking redisContexts (mutex-protected free list), each with
 * connect and command timeouts. A context that fails is dropped; the next call reconnects, so the
 * service follows Redis going away and coming back. Every operation is one atomic command or one
 * Lua script (INCR + PEXPIRE + PTTL), so replicas never race on a read-modify-write.
 * Errors: FG_EUNAVAIL when Redis cannot be reached (callers fail closed for auth state and open
 * for rate limits, see docs/identity.md).
 * URL: redis://[user:password@]host[:port][/db]. TLS (rediss://) is not supported.
 */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <hiredis/hiredis.h>

#include "core/shared_state.h"
#include "util/log.h"
#include "util/mem.h"

#define REDIS_POOL_MAX   16
#define REDIS_TIMEOUT_MS 500

struct rconn {
    redisContext *ctx;
    struct rconn *next;
};

struct ss_redis {
    char host[256];
    int port;
    int db;
    char user[128];
    char password[256];
    pthread_mutex_t mu;
    struct rconn *free_list;
};

static const char INCR_SCRIPT[] =
    "local n = redis.call('INCR', KEYS[1]) "
    "if n == 1 then redis.call('PEXPIRE', KEYS[1], ARGV[1]) end "
    "local t = redis.call('PTTL', KEYS[1]) "
    "if t < 0 then redis.call('PEXPIRE', KEYS[1], ARGV[1]) t = tonumber(ARGV[1]) end "
    "return {n, t}";

static const char GET_SCRIPT[] = "return {redis.call('GET', KEYS[1]), redis.call('PTTL', KEYS[1])}";

static int parse_url(struct ss_redis *r, const char *url, char *err, size_t errlen)
{
    if (strncmp(url, "redis://", 8) != 0) {
        snprintf(err, errlen, "REDIS_URL: expected redis://[user:password@]host[:port][/db]");
        return -1;
    }
    const char *p = url + 8;
    const char *at = strrchr(p, '@');
    if (at) {
        const char *colon = memchr(p, ':', (size_t)(at - p));
        size_t ul = colon ? (size_t)(colon - p) : 0;
        size_t pl = colon ? (size_t)(at - colon - 1) : (size_t)(at - p);
        if (ul >= sizeof r->user || pl >= sizeof r->password) {
            snprintf(err, errlen, "REDIS_URL: credentials too long");
            return -1;
        }
        memcpy(r->user, p, ul);
        r->user[ul] = '\0';
        memcpy(r->password, colon ? colon + 1 : p, pl);
        r->password[pl] = '\0';
        p = at + 1;
    }
    const char *slash = strchr(p, '/');
    const char *hend = slash ? slash : p + strlen(p);
    const char *colon = memchr(p, ':', (size_t)(hend - p));
    size_t hl = (size_t)((colon ? colon : hend) - p);
    if (hl == 0 || hl >= sizeof r->host) {
        snprintf(err, errlen, "REDIS_URL: missing or too long host");
        return -1;
    }
    memcpy(r->host, p, hl);
    r->host[hl] = '\0';
    r->port = 6379;
    if (colon) {
        char *end;
        long port = strtol(colon + 1, &end, 10);
        if (end != hend || port < 1 || port > 65535) {
            snprintf(err, errlen, "REDIS_URL: bad port");
            return -1;
        }
        r->port = (int)port;
    }
    r->db = 0;
    if (slash && slash[1]) {
        char *end;
        long db = strtol(slash + 1, &end, 10);
        if (*end || db < 0 || db > 1000) {
            snprintf(err, errlen, "REDIS_URL: bad database number");
            return -1;
        }
        r->db = (int)db;
    }
    return 0;
}

static redisContext *connect_ctx(struct ss_redis *r)
{
    struct timeval tv = {REDIS_TIMEOUT_MS / 1000, (REDIS_TIMEOUT_MS % 1000) * 1000};
    redisContext *c = redisConnectWithTimeout(r->host, r->port, tv);
    if (!c || c->err) {
        fg_log(FG_LOG_WARN, "redis_connect", FG_LF_STR("error", c ? c->errstr : "oom"), FG_LF_END);
        redisFree(c);
        return NULL;
    }
    redisSetTimeout(c, tv);
    redisReply *rep = NULL;
    if (r->password[0]) {
        rep = r->user[0] ? redisCommand(c, "AUTH %s %s", r->user, r->password)
                         : redisCommand(c, "AUTH %s", r->password);
        int ok = rep && rep->type == REDIS_REPLY_STATUS;
        freeReplyObject(rep);
        if (!ok) {
            fg_log(FG_LOG_WARN, "redis_auth", FG_LF_STR("error", "authentication failed"),
                   FG_LF_END);
            redisFree(c);
            return NULL;
        }
    }
    if (r->db) {
        rep = redisCommand(c, "SELECT %d", r->db);
        int ok = rep && rep->type == REDIS_REPLY_STATUS;
        freeReplyObject(rep);
        if (!ok) {
            redisFree(c);
            return NULL;
        }
    }
    return c;
}

static struct rconn *acquire(struct ss_redis *r)
{
    pthread_mutex_lock(&r->mu);
    struct rconn *c = r->free_list;
    if (c)
        r->free_list = c->next;
    pthread_mutex_unlock(&r->mu);
    if (c)
        return c;
    redisContext *ctx = connect_ctx(r);
    if (!ctx)
        return NULL;
    c = fg_xcalloc(1, sizeof *c);
    c->ctx = ctx;
    return c;
}

/* Keeps a healthy context (bounded pool); drops a failed one so the next call reconnects. */
static void release(struct ss_redis *r, struct rconn *c, int failed)
{
    if (failed || c->ctx->err) {
        redisFree(c->ctx);
        free(c);
        return;
    }
    pthread_mutex_lock(&r->mu);
    int n = 0;
    for (struct rconn *x = r->free_list; x; x = x->next)
        n++;
    if (n < REDIS_POOL_MAX) {
        c->next = r->free_list;
        r->free_list = c;
        c = NULL;
    }
    pthread_mutex_unlock(&r->mu);
    if (c) {
        redisFree(c->ctx);
        free(c);
    }
}

/* Runs a command with argv (binary safe). Returns the reply or NULL (connection failure). */
static redisReply *run(struct ss_redis *r, struct rconn **cp, int argc, const char **argv,
                       const size_t *lens)
{
    for (int attempt = 0; attempt < 2; attempt++) {
        struct rconn *c = acquire(r);
        if (!c)
            return NULL;
        redisReply *rep = redisCommandArgv(c->ctx, argc, argv, lens);
        if (rep) {
            *cp = c;
            return rep;
        }
        /* a pooled connection may have died while idle: retry once on a fresh one */
        release(r, c, 1);
    }
    return NULL;
}

static enum fg_err check_key(const char *key)
{
    size_t n = strlen(key);
    return n && n <= FG_SS_MAX_KEY ? FG_OK : FG_EINVAL;
}

static enum fg_err r_incr(struct fg_shared_state *s, const char *key, int64_t ttl_ms,
                          int64_t *count, int64_t *ttl_left_ms)
{
    struct ss_redis *r = s->impl;
    if (check_key(key) || ttl_ms <= 0)
        return FG_EINVAL;
    char ttl[32];
    snprintf(ttl, sizeof ttl, "%lld", (long long)ttl_ms);
    const char *argv[] = {"EVAL", INCR_SCRIPT, "1", key, ttl};
    size_t lens[] = {4, sizeof INCR_SCRIPT - 1, 1, strlen(key), strlen(ttl)};
    struct rconn *c = NULL;
    redisReply *rep = run(r, &c, 5, argv, lens);
    if (!rep)
        return FG_EUNAVAIL;
    enum fg_err e = FG_OK;
    if (rep->type == REDIS_REPLY_ARRAY && rep->elements == 2 &&
        rep->element[0]->type == REDIS_REPLY_INTEGER) {
        *count = rep->element[0]->integer;
        if (ttl_left_ms)
            *ttl_left_ms = rep->element[1]->integer;
    } else {
        e = FG_EINVAL; /* WRONGTYPE or not an integer */
    }
    freeReplyObject(rep);
    release(r, c, 0);
    return e;
}

static enum fg_err r_set(struct fg_shared_state *s, const char *key, const char *value,
                         int64_t ttl_ms, int nx, int *stored)
{
    struct ss_redis *r = s->impl;
    if (check_key(key) || ttl_ms <= 0 || strlen(value) > FG_SS_MAX_VALUE)
        return FG_EINVAL;
    char ttl[32];
    snprintf(ttl, sizeof ttl, "%lld", (long long)ttl_ms);
    const char *argv[] = {"SET", key, value, "PX", ttl, "NX"};
    size_t lens[] = {3, strlen(key), strlen(value), 2, strlen(ttl), 2};
    struct rconn *c = NULL;
    redisReply *rep = run(r, &c, nx ? 6 : 5, argv, lens);
    if (!rep)
        return FG_EUNAVAIL;
    enum fg_err e = FG_OK;
    if (rep->type == REDIS_REPLY_STATUS) {
        if (stored)
            *stored = 1;
    } else if (rep->type == REDIS_REPLY_NIL) {
        if (stored)
            *stored = 0;
    } else {
        e = FG_EUNAVAIL;
    }
    freeReplyObject(rep);
    release(r, c, 0);
    return e;
}

static enum fg_err r_get(struct fg_shared_state *s, const char *key, char *buf, size_t buflen,
                         int *found, int64_t *ttl_left_ms)
{
    struct ss_redis *r = s->impl;
    if (check_key(key) || buflen == 0)
        return FG_EINVAL;
    const char *argv[] = {"EVAL", GET_SCRIPT, "1", key};
    size_t lens[] = {4, sizeof GET_SCRIPT - 1, 1, strlen(key)};
    struct rconn *c = NULL;
    redisReply *rep = run(r, &c, 4, argv, lens);
    if (!rep)
        return FG_EUNAVAIL;
    enum fg_err e = FG_OK;
    *found = 0;
    buf[0] = '\0';
    if (rep->type == REDIS_REPLY_ARRAY && rep->elements >= 1) {
        redisReply *v = rep->element[0];
        if (v->type == REDIS_REPLY_STRING) {
            size_t n = v->len < buflen - 1 ? v->len : buflen - 1;
            memcpy(buf, v->str, n);
            buf[n] = '\0';
            *found = 1;
            if (ttl_left_ms)
                *ttl_left_ms = rep->elements > 1 && rep->element[1]->type == REDIS_REPLY_INTEGER
                                   ? rep->element[1]->integer
                                   : -1;
        }
    } else if (rep->type == REDIS_REPLY_ERROR) {
        e = FG_EUNAVAIL;
    }
    freeReplyObject(rep);
    release(r, c, 0);
    return e;
}

static enum fg_err r_del(struct fg_shared_state *s, const char *key)
{
    struct ss_redis *r = s->impl;
    if (check_key(key))
        return FG_EINVAL;
    const char *argv[] = {"DEL", key};
    size_t lens[] = {3, strlen(key)};
    struct rconn *c = NULL;
    redisReply *rep = run(r, &c, 2, argv, lens);
    if (!rep)
        return FG_EUNAVAIL;
    freeReplyObject(rep);
    release(r, c, 0);
    return FG_OK;
}

static void r_close(struct fg_shared_state *s)
{
    struct ss_redis *r = s->impl;
    while (r->free_list) {
        struct rconn *c = r->free_list;
        r->free_list = c->next;
        redisFree(c->ctx);
        free(c);
    }
    pthread_mutex_destroy(&r->mu);
    memset(r->password, 0, sizeof r->password);
    free(r);
    free(s);
}

static const struct fg_ss_ops redis_ops = {
    .name = "redis",
    .incr = r_incr,
    .set = r_set,
    .get = r_get,
    .del = r_del,
    .close = r_close,
};

enum fg_err fg_ss_redis_open(const char *url, struct fg_shared_state **out, char *err,
                             size_t errlen);
enum fg_err fg_ss_redis_open(const char *url, struct fg_shared_state **out, char *err,
                             size_t errlen)
{
    struct ss_redis *r = fg_xcalloc(1, sizeof *r);
    if (parse_url(r, url, err, errlen) != 0) {
        free(r);
        return FG_EINVAL;
    }
    pthread_mutex_init(&r->mu, NULL);
    struct fg_shared_state *s = fg_xcalloc(1, sizeof *s);
    s->ops = &redis_ops;
    s->impl = r;
    /* Reachability check at start; later failures are handled per call. */
    struct rconn *c = acquire(r);
    if (!c) {
        snprintf(err, errlen, "REDIS_URL: cannot connect to %s:%d", r->host, r->port);
        r_close(s);
        return FG_EUNAVAIL;
    }
    release(r, c, 0);
    *out = s;
    return FG_OK;
}
