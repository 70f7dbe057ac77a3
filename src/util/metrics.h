/*
 * Prometheus metrics registry (text exposition format 0.0.4).
 * Families are registered once at start (before worker threads); series are created on first use,
 * capped per family (METRICS_MAX_SERIES) so label values cannot explode memory. Updates take the
 * family's mutex briefly. Collectors add computed series at scrape time (process_*, store sizes).
 */
#ifndef FG_METRICS_H
#define FG_METRICS_H

#include <stddef.h>

#include "util/buf.h"

#define METRICS_MAX_SERIES 4096
#define METRICS_MAX_LABELS 4

enum fg_metric_type { FG_COUNTER, FG_GAUGE, FG_HISTOGRAM };
struct fg_metric;

/**
 * Registers a family. `labels` is a comma-separated list of label names ("" for none). `buckets`
 * (histograms only) are upper bounds in ascending order. The returned pointer lives until
 * fg_metrics_shutdown.
 */
struct fg_metric *fg_metric_new(enum fg_metric_type type, const char *name, const char *help,
                                const char *labels, const double *buckets, size_t nbuckets);

/** Adds v to a counter / sets a gauge / observes v in a histogram. `values` has one string per
 * label (NULL when the family has none). */
void fg_metric_add(struct fg_metric *m, const char *const *values, double v);
void fg_metric_set(struct fg_metric *m, const char *const *values, double v);
void fg_metric_observe(struct fg_metric *m, const char *const *values, double v);
/** Creates the series with value 0 so it is exposed before the first event. */
void fg_metric_touch(struct fg_metric *m, const char *const *values);

typedef void (*fg_metrics_collector_fn)(struct fg_buf *out, void *ctx);
/** Registers a function that appends whole families (with HELP/TYPE) at scrape time. */
void fg_metrics_add_collector(fg_metrics_collector_fn fn, void *ctx);

/** Renders every family and collector. */
void fg_metrics_render(struct fg_buf *out);
void fg_metrics_shutdown(void);

/** Appends the process_* families (resident/virtual memory, CPU seconds, fds, start time). */
void fg_metrics_process_collector(struct fg_buf *out, void *ctx);

#endif
