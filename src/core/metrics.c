#include "core/metrics.h"

#include <stdio.h>

struct fg_core_metrics fgm;

static const double search_buckets[] = {0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1,
                                        0.25,  0.5,    1,     2.5,  5,     10};

static const double stage_buckets[] = {0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005,
                                       0.01,    0.025,  0.05,    0.1,    0.25,  0.5,    1};

static void build_info(struct fg_buf *out, void *ctx)
{
    (void)ctx;
    fg_buf_printf(out,
                  "# HELP forge_build_info Build information.\n# TYPE forge_build_info gauge\n"
                  "forge_build_info{version=\"%s\"} 1\n",
                  FORGE_VERSION);
}

void fg_core_metrics_init(const char *provider)
{
    if (fgm.ready)
        return;
    fgm.ready = fg_metric_new(FG_GAUGE, "forge_ready", "1 when the instance is ready to serve.", "",
                              NULL, 0);
    fgm.capsules = fg_metric_new(FG_GAUGE, "forge_capsules_total", "Live (not deleted) capsules.",
                                 "", NULL, 0);
    fgm.capsule_ops = fg_metric_new(FG_COUNTER, "forge_capsule_operations_total",
                                    "Capsule changes by operation.", "op", NULL, 0);
    fgm.search_requests = fg_metric_new(FG_COUNTER, "forge_search_requests_total",
                                        "Searches by mode.", "mode", NULL, 0);
    fgm.search_duration =
        fg_metric_new(FG_HISTOGRAM, "forge_search_duration_seconds", "Search latency in seconds.",
                      "mode", search_buckets, sizeof search_buckets / sizeof search_buckets[0]);
    fgm.embeddings =
        fg_metric_new(FG_COUNTER, "forge_embeddings_total", "Texts embedded.", "provider", NULL, 0);
    fgm.embedding_errors = fg_metric_new(FG_COUNTER, "forge_embedding_errors_total",
                                         "Embedding calls that failed.", "provider", NULL, 0);
    fgm.overlay_invocations =
        fg_metric_new(FG_COUNTER, "forge_overlay_invocations_total",
                      "Overlay invocations by overlay, outcome (ok, timeout, ...) and status "
                      "(success|failure).",
                      "overlay,outcome,status", NULL, 0);
    fgm.immune_responses =
        fg_metric_new(FG_COUNTER, "forge_immune_responses_total",
                      "Immune system responses by threat type.", "threat_type", NULL, 0);
    fgm.index_vectors = fg_metric_new(FG_GAUGE, "forge_index_vectors",
                                      "Vectors in this replica's index.", "", NULL, 0);
    fgm.store_size =
        fg_metric_new(FG_GAUGE, "forge_store_size_bytes", "Size of the store.", "", NULL, 0);
    fgm.outbox_backlog = fg_metric_new(FG_GAUGE, "forge_events_outbox_backlog",
                                       "Events not yet delivered.", "", NULL, 0);
    fgm.rate_limited = fg_metric_new(FG_COUNTER, "forge_rate_limited_total",
                                     "Requests refused by the rate limiter.", "", NULL, 0);
    fgm.proposals = fg_metric_new(FG_COUNTER, "forge_proposals_total",
                                  "Governance proposals reaching a status.", "status", NULL, 0);
    fgm.votes =
        fg_metric_new(FG_COUNTER, "forge_votes_total", "Governance votes cast.", "", NULL, 0);
    fgm.logins = fg_metric_new(FG_COUNTER, "forge_logins_total", "Login attempts by result.",
                               "result", NULL, 0);

    fgm.write_stage = fg_metric_new(
        FG_HISTOGRAM, "forge_capsule_write_stage_seconds",
        "Time of each stage of a capsule write in the request (validate, hooks, begin, insert, "
        "outbox, audit, commit) in seconds.",
        "op,stage", stage_buckets, sizeof stage_buckets / sizeof stage_buckets[0]);
    fgm.index_stage = fg_metric_new(FG_COUNTER, "forge_index_stage_seconds_total",
                                    "Seconds the index follower spent per stage (feed, embed, "
                                    "embedding_write, hnsw, keyword).",
                                    "stage", NULL, 0);

    fg_metric_touch(fgm.ready, NULL);
    fg_metric_touch(fgm.capsules, NULL);
    static const char *const ops[] = {"create", "update", "delete"};
    for (size_t i = 0; i < 3; i++)
        fg_metric_touch(fgm.capsule_ops, &ops[i]);
    static const char *const modes[] = {"semantic", "keyword", "hybrid"};
    for (size_t i = 0; i < 3; i++) {
        fg_metric_touch(fgm.search_requests, &modes[i]);
        fg_metric_touch(fgm.search_duration, &modes[i]);
    }
    const char *pv[] = {provider};
    fg_metric_touch(fgm.embeddings, pv);
    fg_metric_touch(fgm.embedding_errors, pv);
    static const char *const threats[] = {"brute_force", "overlay_failure", "manual"};
    for (size_t i = 0; i < 3; i++)
        fg_metric_touch(fgm.immune_responses, &threats[i]);
    fg_metric_touch(fgm.index_vectors, NULL);
    fg_metric_touch(fgm.store_size, NULL);
    fg_metric_touch(fgm.outbox_backlog, NULL);
    fg_metric_touch(fgm.rate_limited, NULL);
    static const char *const ps[] = {"created",  "activated", "approved", "rejected",
                                     "executed", "failed",    "cancelled"};
    for (size_t i = 0; i < 7; i++)
        fg_metric_touch(fgm.proposals, &ps[i]);
    fg_metric_touch(fgm.votes, NULL);
    static const char *const lr[] = {"success", "failure", "locked"};
    for (size_t i = 0; i < 3; i++)
        fg_metric_touch(fgm.logins, &lr[i]);
    static const char *const ws[] = {"validate", "hooks", "begin", "insert",
                                     "outbox",   "audit", "commit"};
    for (size_t i = 0; i < sizeof ws / sizeof ws[0]; i++) {
        const char *v[] = {"create", ws[i]};
        fg_metric_touch(fgm.write_stage, v);
    }
    static const char *const is[] = {"feed", "embed", "embedding_write", "hnsw", "keyword"};
    for (size_t i = 0; i < sizeof is / sizeof is[0]; i++)
        fg_metric_touch(fgm.index_stage, &is[i]);
    fg_metrics_add_collector(build_info, NULL);
    fg_metrics_add_collector(fg_metrics_process_collector, NULL);
}
