/*
 * Outbox → Kafka worker (delivery.h).
 *
 * One round: read up to batch_size pending events (outbox order), produce them all, flush until
 * every delivery report arrived or the message timeout passed, then mark delivered the longest
 * prefix of acknowledged events. The first failure ends the round (recorded with
 * outbox_mark_failed); the next round starts again from it. The store connection is held only
 * while reading and while marking, never while waiting on the broker.
 */
#include "core/delivery.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>
#include <librdkafka/rdkafka.h>

#include "core/metrics.h"
#include "store/audit.h"
#include "store/store.h"
#include "util/log.h"
#include "util/mem.h"
#include "util/time.h"

struct pending {
    long long seq;
    char *topic;
    char *key;
    char *value;
    _Atomic int state; /* 0 in flight, 1 acked, -1 failed */
    char error[160];
};

struct fg_delivery {
    struct store *st;
    rd_kafka_t *rk;
    char *prefix;
    int batch, poll_ms, timeout_ms;
    pthread_t thread;
    int running;
    atomic_int stop;
    atomic_llong delivered, failed;
    struct pending *items;
    size_t nitems;
};

static void on_delivery(rd_kafka_t *rk, const rd_kafka_message_t *m, void *opaque)
{
    (void)rk;
    (void)opaque;
    struct pending *p = m->_private;
    if (!p)
        return;
    if (m->err) {
        snprintf(p->error, sizeof p->error, "%s", rd_kafka_err2str(m->err));
        atomic_store(&p->state, -1);
    } else {
        atomic_store(&p->state, 1);
    }
}

static int set_conf(rd_kafka_conf_t *conf, const char *k, const char *v, char *err, size_t errlen)
{
    char e[256];
    if (rd_kafka_conf_set(conf, k, v, e, sizeof e) != RD_KAFKA_CONF_OK) {
        snprintf(err, errlen, "KAFKA: %s=%s: %s", k, v, e);
        return -1;
    }
    return 0;
}

struct fg_delivery *fg_delivery_new(struct store *st, const struct fg_delivery_config *cfg,
                                    char *err, size_t errlen)
{
    if (!st->audit) {
        snprintf(err, errlen, "KAFKA_BOOTSTRAP_SERVERS: this store has no outbox");
        return NULL;
    }
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    char tmo[32];
    int timeout = cfg->message_timeout_ms > 0 ? cfg->message_timeout_ms : 10000;
    snprintf(tmo, sizeof tmo, "%d", timeout);
    if (set_conf(conf, "bootstrap.servers", cfg->bootstrap_servers, err, errlen) ||
        set_conf(conf, "acks", "all", err, errlen) ||
        set_conf(conf, "enable.idempotence", "true", err, errlen) ||
        set_conf(conf, "message.timeout.ms", tmo, err, errlen) ||
        set_conf(conf, "linger.ms", "5", err, errlen) ||
        set_conf(conf, "client.id", "forge", err, errlen)) {
        rd_kafka_conf_destroy(conf);
        return NULL;
    }
    if (cfg->extra_config && *cfg->extra_config) {
        char *copy = fg_xstrdup(cfg->extra_config), *save = NULL;
        for (char *kv = strtok_r(copy, ",", &save); kv; kv = strtok_r(NULL, ",", &save)) {
            char *eq = strchr(kv, '=');
            if (!eq || (*eq = '\0', set_conf(conf, kv, eq + 1, err, errlen))) {
                if (!eq)
                    snprintf(err, errlen, "KAFKA: bad property '%s'", kv);
                free(copy);
                rd_kafka_conf_destroy(conf);
                return NULL;
            }
        }
        free(copy);
    }
    rd_kafka_conf_set_dr_msg_cb(conf, on_delivery);
    char e[512];
    rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, e, sizeof e);
    if (!rk) {
        snprintf(err, errlen, "KAFKA: cannot create producer: %s", e);
        rd_kafka_conf_destroy(conf);
        return NULL;
    }
    struct fg_delivery *d = fg_xcalloc(1, sizeof *d);
    d->st = st;
    d->rk = rk;
    d->prefix = fg_xstrdup(cfg->topic_prefix ? cfg->topic_prefix : "forge.");
    d->batch = cfg->batch_size > 0 ? cfg->batch_size : 500;
    d->poll_ms = cfg->poll_interval_ms > 0 ? cfg->poll_interval_ms : 200;
    d->timeout_ms = timeout;
    d->items = fg_xcalloc((size_t)d->batch, sizeof *d->items);
    return d;
}

struct collect {
    struct fg_delivery *d;
};

static int collect_cb(const struct store_outbox_event *ev, void *ctx)
{
    struct fg_delivery *d = ((struct collect *)ctx)->d;
    if (d->nitems >= (size_t)d->batch)
        return 1;
    struct pending *p = &d->items[d->nitems++];
    memset(p, 0, sizeof *p);
    p->seq = ev->seq;
    size_t tl = strlen(d->prefix) + strlen(ev->type) + 1;
    p->topic = fg_xmalloc(tl);
    snprintf(p->topic, tl, "%s%s", d->prefix, ev->type);
    p->key = ev->resource_id ? fg_xstrdup(ev->resource_id) : NULL;
    json_error_t je;
    json_t *payload = json_loads(ev->payload ? ev->payload : "null", JSON_DECODE_ANY, &je);
    char at[40];
    fg_time_iso(ev->created_at, at, sizeof at);
    json_t *msg = json_pack("{ss ss so* ss so}", "id", ev->id ? ev->id : "", "type", ev->type,
                            "resource_id", ev->resource_id ? json_string(ev->resource_id) : NULL,
                            "created_at", at, "payload", payload ? payload : json_null());
    p->value = json_dumps(msg, JSON_COMPACT);
    json_decref(msg);
    return 0;
}

static void clear_items(struct fg_delivery *d)
{
    for (size_t i = 0; i < d->nitems; i++) {
        free(d->items[i].topic);
        free(d->items[i].key);
        free(d->items[i].value);
    }
    d->nitems = 0;
}

enum fg_err fg_delivery_round(struct fg_delivery *d, int *delivered_out)
{
    *delivered_out = 0;
    enum fg_err e = FG_OK;
    struct store_conn *c = store_acquire(d->st, &e);
    if (!c)
        return e;
    struct collect col = {d};
    e = d->st->audit->outbox_pending(c, 0, d->batch, collect_cb, &col);
    long long backlog = 0;
    if (d->st->audit->outbox_backlog(c, &backlog) == FG_OK && fgm.outbox_backlog)
        fg_metric_set(fgm.outbox_backlog, NULL, (double)backlog);
    store_release(d->st, c);
    if (e != FG_OK || d->nitems == 0) {
        clear_items(d);
        return e;
    }
    /* produce everything in order; the idempotent producer keeps per-partition order */
    size_t produced = 0;
    for (; produced < d->nitems; produced++) {
        struct pending *p = &d->items[produced];
        rd_kafka_resp_err_t perr = rd_kafka_producev(
            d->rk, RD_KAFKA_V_TOPIC(p->topic), RD_KAFKA_V_KEY(p->key, p->key ? strlen(p->key) : 0),
            RD_KAFKA_V_VALUE(p->value, strlen(p->value)), RD_KAFKA_V_OPAQUE(p), RD_KAFKA_V_END);
        if (perr == RD_KAFKA_RESP_ERR__QUEUE_FULL) {
            rd_kafka_poll(d->rk, 50);
            produced--;
            continue;
        }
        if (perr) {
            snprintf(p->error, sizeof p->error, "%s", rd_kafka_err2str(perr));
            atomic_store(&p->state, -1);
            break;
        }
    }
    rd_kafka_flush(d->rk, d->timeout_ms + 1000);
    if (rd_kafka_outq_len(d->rk) > 0) {
        /* reports still missing: purge so no late callback can touch the reused batch */
        rd_kafka_purge(d->rk, RD_KAFKA_PURGE_F_QUEUE | RD_KAFKA_PURGE_F_INFLIGHT);
        for (int i = 0; i < 100 && rd_kafka_outq_len(d->rk) > 0; i++)
            rd_kafka_poll(d->rk, 50);
    }
    /* a report still missing after the flush counts as a failure for this round */
    c = store_acquire(d->st, &e);
    if (!c) {
        clear_items(d);
        return e;
    }
    int n = 0;
    for (size_t i = 0; i < d->nitems; i++) {
        struct pending *p = &d->items[i];
        int st = i < produced || atomic_load(&p->state) != 0 ? atomic_load(&p->state) : -1;
        if (st == 1) {
            if ((e = d->st->audit->outbox_mark_delivered(c, p->seq, fg_now_ms())) != FG_OK)
                break;
            n++;
            continue;
        }
        d->st->audit->outbox_mark_failed(c, p->seq, p->error[0] ? p->error : "not acknowledged");
        atomic_fetch_add(&d->failed, 1);
        fg_log(FG_LOG_WARN, "event_delivery_failed", FG_LF_INT("seq", p->seq),
               FG_LF_STR("topic", p->topic), FG_LF_STR("error", p->error), FG_LF_END);
        break;
    }
    store_release(d->st, c);
    atomic_fetch_add(&d->delivered, n);
    clear_items(d);
    *delivered_out = n;
    return e;
}

static void *worker(void *arg)
{
    struct fg_delivery *d = arg;
    int backoff = d->poll_ms;
    while (!atomic_load(&d->stop)) {
        int n = 0;
        enum fg_err e = fg_delivery_round(d, &n);
        if (n > 0 && e == FG_OK) {
            backoff = d->poll_ms;
            continue; /* more may be waiting */
        }
        if (e != FG_OK)
            backoff = backoff * 2 > 5000 ? 5000 : backoff * 2;
        for (int waited = 0; waited < backoff && !atomic_load(&d->stop); waited += 50) {
            rd_kafka_poll(d->rk, 0);
            struct timespec ts = {0, 50 * 1000000L};
            nanosleep(&ts, NULL);
        }
    }
    return NULL;
}

struct fg_delivery *fg_delivery_start(struct store *st, const struct fg_delivery_config *cfg,
                                      char *err, size_t errlen)
{
    struct fg_delivery *d = fg_delivery_new(st, cfg, err, errlen);
    if (!d)
        return NULL;
    if (pthread_create(&d->thread, NULL, worker, d) != 0) {
        snprintf(err, errlen, "KAFKA: cannot start the delivery thread");
        fg_delivery_stop(d, 0);
        return NULL;
    }
    d->running = 1;
    return d;
}

void fg_delivery_stop(struct fg_delivery *d, int timeout_ms)
{
    if (!d)
        return;
    atomic_store(&d->stop, 1);
    if (d->running)
        pthread_join(d->thread, NULL);
    rd_kafka_flush(d->rk, timeout_ms);
    rd_kafka_destroy(d->rk);
    clear_items(d);
    free(d->items);
    free(d->prefix);
    free(d);
}

void fg_delivery_stats(const struct fg_delivery *d, long long *delivered, long long *failed)
{
    *delivered = atomic_load(&d->delivered);
    *failed = atomic_load(&d->failed);
}
