/*
 * Rate limiting (SPEC §3.6): a fixed one-minute window aligned to the clock, counted in the
 * shared state (one INCR with a TTL per request). Subjects are "u:<user id>" for authenticated
 * callers (limit by trust level) and "ip:<address>" for anonymous ones.
 *
 * Window math: window index = floor(now / 60 s); the counter key carries the index and expires
 * at the end of its window (+ a little slack), so no cleanup is needed and the Redis version is
 * the same INCR + PEXPIRE. X-RateLimit-Reset is the number of seconds until the window ends.
 * A fixed window admits at most 2 × limit in any 60 s span that straddles a boundary; that is the
 * documented trade for one atomic operation per request (docs/identity.md).
 */
#ifndef CORE_RATELIMIT_H
#define CORE_RATELIMIT_H

#include <stdint.h>

#include "util/err.h"

struct fg_config;
struct fg_shared_state;

#define FG_RATE_WINDOW_MS    60000
#define FG_RATE_KEY_SLACK_MS 5000 /* keys outlive their window a little (clock skew) */

struct fg_rate_result {
    int allowed;           /* 1 = under the limit */
    int64_t limit;         /* X-RateLimit-Limit */
    int64_t remaining;     /* X-RateLimit-Remaining (≥ 0) */
    int64_t reset_s;       /* X-RateLimit-Reset: seconds until the window ends (≥ 1) */
    int64_t retry_after_s; /* Retry-After when refused (= reset_s) */
};

/** Window containing `now_ms`: its index and the milliseconds left in it (1..window_ms). */
void fg_rate_window(int64_t now_ms, int64_t window_ms, int64_t *index, int64_t *ms_left);
/** Decision for the `count`-th request of a window (count includes this request). */
void fg_rate_decide(int64_t count, int64_t limit, int64_t ms_left, struct fg_rate_result *out);
/**
 * Counts one request of `subject` and decides. Errors of the shared state are returned (the
 * caller fails open); *out is then filled as if allowed.
 */
enum fg_err fg_rate_check(struct fg_shared_state *ss, const char *subject, int64_t limit,
                          int64_t now_ms, struct fg_rate_result *out);
/** Per-minute limit of an authenticated caller of trust value `trust`. */
int64_t fg_rate_limit_for_trust(const struct fg_config *cfg, int trust);

#endif
