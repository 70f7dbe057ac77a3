/* Bounded job pool: see offload.h. */
#include "http/offload.h"

#include <pthread.h>
#include <stdlib.h>

#include "util/mem.h"
#include "util/time.h"

struct job {
    http_job_fn fn;
    void *arg;
};

struct http_pool {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    pthread_t *th;
    unsigned nthreads, started;
    unsigned qmax;
    struct job *ring; /* qmax entries */
    unsigned head, len;
    unsigned reserved; /* slots taken (queued + reserved-not-yet-pushed) */
    unsigned running;
    double ewma_s; /* mean job duration */
    int stop;
};

static void *pool_main(void *arg)
{
    struct http_pool *p = arg;
    pthread_mutex_lock(&p->mu);
    for (;;) {
        while (!p->len && !(p->stop && !p->reserved))
            pthread_cond_wait(&p->cv, &p->mu);
        if (!p->len)
            break; /* stopping, nothing queued or promised */
        struct job j = p->ring[p->head];
        p->head = (p->head + 1) % p->qmax;
        p->len--;
        p->reserved--;
        p->running++;
        pthread_mutex_unlock(&p->mu);
        double t0 = fg_mono_s();
        j.fn(j.arg);
        double dt = fg_mono_s() - t0;
        pthread_mutex_lock(&p->mu);
        p->running--;
        p->ewma_s = p->ewma_s > 0 ? 0.8 * p->ewma_s + 0.2 * dt : dt;
    }
    pthread_mutex_unlock(&p->mu);
    return NULL;
}

struct http_pool *http_pool_start(unsigned threads, unsigned queue_max)
{
    struct http_pool *p = fg_xcalloc(1, sizeof *p);
    p->nthreads = threads ? threads : 1;
    p->qmax = queue_max ? queue_max : 1;
    p->ring = fg_xcalloc(p->qmax, sizeof *p->ring);
    p->th = fg_xcalloc(p->nthreads, sizeof *p->th);
    pthread_mutex_init(&p->mu, NULL);
    pthread_cond_init(&p->cv, NULL);
    for (; p->started < p->nthreads; p->started++)
        if (pthread_create(&p->th[p->started], NULL, pool_main, p) != 0)
            break;
    if (p->started == 0) {
        http_pool_stop(p);
        return NULL;
    }
    return p;
}

int http_pool_reserve(struct http_pool *p)
{
    int rc = -1;
    pthread_mutex_lock(&p->mu);
    if (!p->stop && p->reserved < p->qmax) {
        p->reserved++;
        rc = 0;
    }
    pthread_mutex_unlock(&p->mu);
    return rc;
}

void http_pool_push(struct http_pool *p, http_job_fn fn, void *arg)
{
    pthread_mutex_lock(&p->mu);
    p->ring[(p->head + p->len) % p->qmax] = (struct job){fn, arg};
    p->len++;
    pthread_cond_signal(&p->cv);
    pthread_mutex_unlock(&p->mu);
}

unsigned http_pool_retry_after_s(struct http_pool *p)
{
    pthread_mutex_lock(&p->mu);
    double mean = p->ewma_s > 0 ? p->ewma_s : 0.5;
    double s = mean * (double)(p->reserved + p->running) / (double)p->nthreads;
    pthread_mutex_unlock(&p->mu);
    unsigned r = (unsigned)s;
    if ((double)r < s)
        r++;
    return r < 1 ? 1 : (r > 30 ? 30 : r);
}

unsigned http_pool_depth(struct http_pool *p)
{
    pthread_mutex_lock(&p->mu);
    unsigned n = p->reserved + p->running;
    pthread_mutex_unlock(&p->mu);
    return n;
}

unsigned http_pool_waiting(struct http_pool *p)
{
    pthread_mutex_lock(&p->mu);
    unsigned n = p->reserved;
    pthread_mutex_unlock(&p->mu);
    return n;
}

void http_pool_stop(struct http_pool *p)
{
    if (!p)
        return;
    pthread_mutex_lock(&p->mu);
    p->stop = 1;
    pthread_cond_broadcast(&p->cv);
    pthread_mutex_unlock(&p->mu);
    for (unsigned i = 0; i < p->started; i++)
        pthread_join(p->th[i], NULL);
    pthread_cond_destroy(&p->cv);
    pthread_mutex_destroy(&p->mu);
    free(p->th);
    free(p->ring);
    free(p);
}
