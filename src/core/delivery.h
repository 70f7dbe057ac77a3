/*
 * Event delivery (SPEC §9): a background worker drains the outbox to Kafka when
 * KAFKA_BOOTSTRAP_SERVERS is set. Topic = KAFKA_TOPIC_PREFIX + event type
 * ("forge.capsule.created"), key = resource id, value = the event JSON ({id, type, resource_id,
 * created_at, payload}). Producer: acks=all, enable.idempotence=true (ordered, no duplicates from
 * retries within a session, no gaps per partition). Rows are marked delivered only after the broker
 * acknowledged them, strictly in outbox order: delivery stops at the first unacknowledged event and
 * resumes from it on the next round (at least once; a consumer may see a duplicate after a failure,
 * never a gap or a reordering per key).
 */
#ifndef CORE_DELIVERY_H
#define CORE_DELIVERY_H

#include <stddef.h>

#include "util/err.h"

struct store;
struct fg_delivery;

struct fg_delivery_config {
    const char *bootstrap_servers;
    const char *topic_prefix; /* "forge." */
    int batch_size;           /* events per round (default 500) */
    int poll_interval_ms;     /* idle wait between rounds (default 200) */
    int message_timeout_ms;   /* per-message delivery timeout (default 10000) */
    const char *extra_config; /* "k=v,k=v" librdkafka properties (tests), or NULL */
};

/** Starts the worker thread. NULL (+ message) when the producer cannot be configured. */
struct fg_delivery *fg_delivery_start(struct store *st, const struct fg_delivery_config *cfg,
                                      char *err, size_t errlen);
/** Runs one round synchronously (tests): delivers up to batch_size events; *delivered = count. */
enum fg_err fg_delivery_round(struct fg_delivery *d, int *delivered);
/** Stops the worker: finishes the round in progress and flushes (≤ timeout_ms). */
void fg_delivery_stop(struct fg_delivery *d, int timeout_ms);
/** Events delivered since start, and failures (for metrics). */
void fg_delivery_stats(const struct fg_delivery *d, long long *delivered, long long *failed);

/** Creates the worker without a thread (tests drive it with fg_delivery_round). */
struct fg_delivery *fg_delivery_new(struct store *st, const struct fg_delivery_config *cfg,
                                    char *err, size_t errlen);

#endif
