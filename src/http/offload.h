/*
 * A bounded job pool for handlers that must not hold an HTTP worker thread (issue 11, finding 8):
 * routes flagged HTTP_OFFLOAD (the ones that compute Argon2: register, login, password change)
 * are run here while their connection is suspended (MHD_suspend_connection), so the MHD worker
 * goes on serving its other connections — /health stays fast however many logins wait.
 *
 * Capacity: `threads` jobs run at once (ARGON2_MAX_CONCURRENT, so no pool thread ever waits for
 * an Argon2 slot) and at most `queue_max` wait (ARGON2_QUEUE_MAX). A job that finds the queue full
 * is refused at once (the server answers 503 with Retry-After), never queued without bound.
 */
#ifndef HTTP_OFFLOAD_H
#define HTTP_OFFLOAD_H

typedef void (*http_job_fn)(void *arg);

struct http_pool;

/** Starts `threads` (≥ 1) pool threads. NULL when a thread cannot start. */
struct http_pool *http_pool_start(unsigned threads, unsigned queue_max);
/** Takes a queue slot: 0, or -1 when `queue_max` jobs already wait. */
int http_pool_reserve(struct http_pool *p);
/** Queues a job on a slot taken with http_pool_reserve (cannot fail). */
void http_pool_push(struct http_pool *p, http_job_fn fn, void *arg);
/** Seconds a refused client should wait: the queue's expected drain time, 1..30. */
unsigned http_pool_retry_after_s(struct http_pool *p);
/** Jobs waiting + running (for tests and metrics). */
unsigned http_pool_depth(struct http_pool *p);
/** Jobs waiting (queue slots taken), not running. */
unsigned http_pool_waiting(struct http_pool *p);
/** Runs every queued job to its end, joins the threads, frees the pool. */
void http_pool_stop(struct http_pool *p);

#endif
