/*
 * Forge's domain metric families (besides http_* and process_*). Registered once at start with
 * zero-valued series so dashboards and alerts have data before the first event. Subsystems update
 * them directly with fg_metric_add/set/observe (util/metrics.h).
 */
#ifndef CORE_METRICS_H
#define CORE_METRICS_H

#include "util/metrics.h"

struct fg_core_metrics {
    struct fg_metric *ready;               /* forge_ready gauge */
    struct fg_metric *capsules;            /* forge_capsules_total gauge (live capsules) */
    struct fg_metric *capsule_ops;         /* forge_capsule_operations_total{op} */
    struct fg_metric *search_requests;     /* forge_search_requests_total{mode} */
    struct fg_metric *search_duration;     /* forge_search_duration_seconds{mode} */
    struct fg_metric *embeddings;          /* forge_embeddings_total{provider} */
    struct fg_metric *embedding_errors;    /* forge_embedding_errors_total{provider} */
    struct fg_metric *overlay_invocations; /* ..._total{overlay,outcome,status} */
    struct fg_metric *immune_responses;    /* forge_immune_responses_total{threat_type} */
    struct fg_metric *index_vectors;       /* forge_index_vectors gauge */
    struct fg_metric *store_size;          /* forge_store_size_bytes gauge */
    struct fg_metric *outbox_backlog;      /* forge_events_outbox_backlog gauge */
    struct fg_metric *rate_limited;        /* forge_rate_limited_total */
    struct fg_metric *proposals;           /* forge_proposals_total{status} */
    struct fg_metric *votes;               /* forge_votes_total */
    struct fg_metric *logins;              /* forge_logins_total{result} */
    struct fg_metric *write_stage; /* forge_capsule_write_stage_seconds{op,stage} (histogram) */
    struct fg_metric *index_stage; /* forge_index_stage_seconds_total{stage} (counter) */
};

/** The families; valid after fg_core_metrics_init. */
extern struct fg_core_metrics fgm;

/** Registers every family (idempotent). `provider` labels the embedding series. */
void fg_core_metrics_init(const char *provider);

#endif
