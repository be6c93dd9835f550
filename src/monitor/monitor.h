/* monitor.h — the metrics registry behind GET /metrics (the CloudWatch role).
 *
 * Modules register metric families once at start and keep pointers to their series, so the
 * hot path is one atomic add. Families: counters with up to two labels (series created on
 * first use, bounded per family so a hostile label value cannot grow memory), histograms
 * (fl_histogram, owned by the registry or borrowed from a module such as the stream's fsync
 * histogram), and collectors: callbacks that write gauge families at scrape time (per-shard
 * sequence numbers, queue depths). fl_metrics_render() writes Prometheus text format 0.0.4.
 * Every family is documented in docs/metrics.md (tests/integration/test_metrics.py checks the
 * two against each other and the exposition with promtool). */
#ifndef FL_MONITOR_MONITOR_H
#define FL_MONITOR_MONITOR_H

#include <stdatomic.h>
#include <stdint.h>

#include "core/core.h"

/* Series per counter family; label combinations beyond it are counted under "other". The
 * families here have small closed label sets (routes x statuses, error codes); 256 is ample. */
#define FL_METRICS_MAX_SERIES 256

typedef struct fl_metrics fl_metrics;
typedef struct fl_counter_family fl_counter_family;

typedef struct fl_counter {
    atomic_uint_fast64_t value;
} fl_counter;

/* Writes gauge (or other) families into out at scrape time. */
typedef int (*fl_metrics_collect_fn)(void *ctx, fl_buf *out);

FL_MUST_USE int fl_metrics_create(fl_metrics **out);
void fl_metrics_destroy(fl_metrics *m);

/* Register a counter family (name without the _total suffix is added by the caller: pass the
 * full name). label2 may be NULL (one label) and label1 NULL (no labels). Returns NULL on
 * allocation failure. The family lives as long as the registry. */
fl_counter_family *fl_metrics_counter(fl_metrics *m, const char *name, const char *help,
                                      const char *label1, const char *label2);
/* The series for these label values (created on first use; NULL label values for unused
 * labels). Never NULL: past FL_METRICS_MAX_SERIES the shared overflow series is returned. */
fl_counter *fl_counter_series(fl_counter_family *f, const char *v1, const char *v2);
static inline void fl_counter_add(fl_counter *c, uint64_t n)
{
    atomic_fetch_add_explicit(&c->value, n, memory_order_relaxed);
}

/* Register a histogram in µs exported in seconds. If h is NULL the registry owns a new one,
 * returned; otherwise h is borrowed and must outlive the registry. */
fl_histogram *fl_metrics_histogram(fl_metrics *m, const char *name, const char *help,
                                   fl_histogram *h);
/* Register a scrape-time collector. ctx is borrowed. */
FL_MUST_USE int fl_metrics_add_collector(fl_metrics *m, fl_metrics_collect_fn fn, void *ctx);
/* The same, but the registry takes ownership of ctx and calls free_fn(ctx) when it is
 * destroyed (also when registering fails). */
FL_MUST_USE int fl_metrics_add_collector_owned(fl_metrics *m, fl_metrics_collect_fn fn, void *ctx,
                                               void (*free_fn)(void *ctx));

/* Append the whole exposition to out. */
FL_MUST_USE int fl_metrics_render(fl_metrics *m, fl_buf *out);

/* Helpers for collectors: "# HELP"/"# TYPE" lines, and one sample line. */
FL_MUST_USE int fl_metrics_write_header(fl_buf *out, const char *name, const char *type,
                                        const char *help);
/* labels is the inside of {...} already formatted (e.g. "shard=\"shard-0000\""), or NULL. */
FL_MUST_USE int fl_metrics_write_sample(fl_buf *out, const char *name, const char *labels,
                                        double value);

/* ---- collectors of this module ------------------------------------------------------------ */

/* The fields of /proc/self/stat the process collector exports. */
typedef struct fl_proc_stat {
    unsigned long long utime_ticks, stime_ticks; /* CPU time in clock ticks */
    unsigned long long threads;
    unsigned long long start_ticks; /* start time in clock ticks after boot */
    unsigned long long vsize_bytes;
    unsigned long long rss_pages;
} fl_proc_stat;
/* Parse one /proc/<pid>/stat line (proc(5)); FL_EPARSE if it is not one. */
FL_MUST_USE int fl_monitor_proc_stat_parse(const char *line, fl_proc_stat *out);
/* Register the process_* families (process.c): CPU seconds, resident and virtual memory,
 * start time, threads, open and maximum file descriptors, read from /proc/self per scrape. */
FL_MUST_USE int fl_monitor_process_register(fl_metrics *m);

/* Register the lake collector (lake.c): fleetlake_lake_files / _bytes / _rows by table and
 * tier, from the catalog in meta.db at scrape time (one GROUP BY per lake table on its own
 * connection), and fleetlake_lake_stats_up. meta_path is copied; the registry owns the
 * collector. */
FL_MUST_USE int fl_monitor_lake_register(fl_metrics *m, const char *meta_path);

#endif
