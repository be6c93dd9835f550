/* jobs.h — batch jobs over the lake (the Spark-batch role of DESIGN.md §2). Today: the
 * hourly_summary job, which turns each closed UTC hour of processed_sensor_data into one
 * curated-data/hourly_summary file of per-device aggregates (DESIGN.md §4.2), recomputes an
 * hour atomically when late data reaches it, and backfills ranges on demand
 * (`fleetlake summarize`). Protocol and crash safety: the notes at the top of summary.c;
 * user-facing description: docs/summary.md. Other modules include only this header. */
#ifndef FL_JOBS_JOBS_H
#define FL_JOBS_JOBS_H

#include <stdint.h>

#include "core/core.h"
#include "lake/lake.h"

/* ---- aggregation (pure) ---------------------------------------------------------------------- */

/* Running statistics of one measure (Welford: numerically stable mean and variance). */
typedef struct fl_summary_measure {
    int64_t n;
    double mean, m2, min, max;
} fl_summary_measure;

/* The aggregate of one device-hour. */
typedef struct fl_summary_acc {
    int64_t records;   /* processed rows */
    int64_t anomalies; /* rows with anomaly_flag */
    int64_t clean;     /* rows with quality_flags == 0 (pass every quality check) */
    fl_summary_measure temperature, humidity, pressure;
} fl_summary_acc;

/* Add one processed row (absent measures, per row->present, are skipped: NULLs). */
void fl_summary_acc_add(fl_summary_acc *a, const fl_lake_processed_row *row);
/* Sample standard deviation (n - 1); 0 and *ok = 0 (NULL) for fewer than 2 values. */
double fl_summary_measure_stddev(const fl_summary_measure *m, int *ok);
/* clean / records, in [0, 1]; 1 for an empty accumulator (never written). */
double fl_summary_quality_score(const fl_summary_acc *a);

/* ---- watermark and closing decisions (pure) -------------------------------------------------- */

/* Past the allowed lateness, an hour still waits this long by the wall clock when no newer
 * event time arrives (an idle fleet), so the processor's last batches of it are committed. */
#define FL_SUMMARY_WALL_CLOCK_SLACK_US (INT64_C(300) * 1000000)

/* 1 if hour (fl_lake_hour_of units) is closed: the newest processed event time (watermark_us,
 * INT64_MIN when there is none) reached its end plus lateness_us, or the wall clock reached its
 * end plus lateness_us plus FL_SUMMARY_WALL_CLOCK_SLACK_US. */
int fl_summary_hour_closed(int64_t hour, int64_t watermark_us, int64_t now_us,
                           int64_t lateness_us);

/* A processor file's created_at is stamped before its COMMIT, so one created up to this long
 * before a summary may have been invisible when that summary listed its inputs. Commits take
 * milliseconds; 10 minutes is a wide margin and costs only a few extra look-ups per hour. */
#define FL_SUMMARY_RECHECK_MARGIN_US (INT64_C(600) * 1000000)

/* Recompute detection for a closed hour: 1 if its inputs must be listed again (then the
 * summary is rewritten only if the input set differs from the one it was computed from).
 * summary_created_us < 0: no summary yet. All times µs, catalog created_at values. */
int fl_summary_needs_check(int64_t newest_input_created_us, int64_t summary_created_us,
                           int64_t now_us);

/* ---- the job --------------------------------------------------------------------------------- */

typedef struct fl_summarizer fl_summarizer;

typedef struct fl_summary_options {
    fl_objstore *store;        /* the lake; borrowed */
    const char *meta_path;     /* meta.db; the summarizer opens its own connection */
    int64_t lateness_us;       /* summary.allowed_lateness_s */
    int64_t retire_grace_us;   /* compaction.retire_grace_s: replaced summaries deleted after */
    int64_t (*clock)(void *ctx); /* wall clock, µs; NULL = fl_time_now_us */
    void *clock_ctx;
    const _Atomic int *stop; /* may be NULL; checked between hours and input files */
    fl_metrics *metrics;     /* may be NULL */
    /* Called with each device's data_quality_score of each hour summarised (alerting:
     * quality rules), before the hour's commit; a recomputed hour is reported again. */
    void (*on_quality)(void *ctx, const char *device, size_t len, int64_t hour_us, double score);
    void *on_quality_ctx;
} fl_summary_options;

typedef struct fl_summary_stats {
    uint64_t hours;        /* hours summarised for the first time */
    uint64_t recomputed;   /* hours whose summary was replaced (late data, backfill) */
    uint64_t unchanged;    /* hours checked whose summary was already current */
    uint64_t failures;     /* hours that failed (left as they were) */
    uint64_t rows_in, rows_out;
    uint64_t orphans_removed, retired_deleted;
} fl_summary_stats;

/* Fill lateness and grace of o from cfg. */
void fl_summary_options_from_config(const fl_config *cfg, fl_summary_options *o);
FL_MUST_USE int fl_summarizer_create(const fl_summary_options *o, fl_summarizer **out);
void fl_summarizer_destroy(fl_summarizer *s); /* accepts NULL */

/* Summarise one hour now, whether closed or not: a no-op (stats->unchanged) when its live
 * summary was computed from exactly the hour's live processed files, else a new file swapped
 * in atomically. Hold the summary lock. Returns 0, FL_ESTOPPED or the error (nothing
 * committed). dry_run: decide only (counted as it would be), change nothing. */
FL_MUST_USE int fl_summarizer_hour(fl_summarizer *s, int64_t hour, int dry_run,
                                   fl_summary_stats *stats);
/* A scheduled pass: every closed hour with processed data that has no summary, or whose
 * processed files changed since its summary, then delete replaced summaries past the grace.
 * Returns 0, FL_ESTOPPED, or a catalog error; a failed hour is logged, counted and skipped. */
FL_MUST_USE int fl_summarizer_pass(fl_summarizer *s, fl_summary_stats *stats);
/* Backfill: fl_summarizer_hour for every hour in [from_us, to_us) that has processed data. */
FL_MUST_USE int fl_summarizer_range(fl_summarizer *s, int64_t from_us, int64_t to_us,
                                    int dry_run, fl_summary_stats *stats);

/* serve's summary thread: a pass every summary.interval_s under <data>/summary.lock (skipped
 * while `fleetlake summarize` holds it). */
typedef struct fl_summary_job fl_summary_job;
typedef struct fl_summary_job_deps {
    const fl_config *cfg;  /* borrowed for the thread's life */
    fl_objstore *store;    /* borrowed */
    const char *meta_path; /* copied */
    const char *lock_path; /* copied */
    fl_metrics *metrics;   /* may be NULL */
    void (*on_quality)(void *ctx, const char *device, size_t len, int64_t hour_us, double score);
    void *on_quality_ctx;  /* see fl_summary_options */
} fl_summary_job_deps;
FL_MUST_USE int fl_summary_job_start(const fl_summary_job_deps *deps, fl_summary_job **out);
/* Raise the stop flag (the hour in progress is abandoned, nothing committed) and join.
 * Accepts NULL. */
void fl_summary_job_stop(fl_summary_job *j);

/* ---- right to erasure (erase.c; docs/lake.md "Erasure") ------------------------------------- */

/* One lake file that holds the device: what erasure did (or, dry run, would do) to it. */
typedef struct fl_erase_file {
    const char *table_name; /* static string */
    const char *path;       /* the original; borrowed for the callback */
    const char *new_path;   /* its replacement, or NULL: every row was the device's (retired
                             * with no replacement) */
    int64_t rows, rows_removed;
    int retired; /* a file already retired (compaction's grace): deleted, no catalog change */
} fl_erase_file;
typedef void (*fl_erase_file_fn)(void *ctx, const fl_erase_file *f);

typedef struct fl_erase_options {
    fl_objstore *store;     /* the lake; borrowed */
    const char *meta_path;  /* meta.db; opened for the run */
    fl_slice device_id;     /* borrowed */
    const char *raw_codec;  /* codec of rewritten raw/rejected files ("gzip"); others SNAPPY */
    int dry_run;            /* find and report only; change nothing */
    /* <data>/lake-quarantine (may be NULL): files there holding the device are deleted */
    const char *quarantine_dir;
    fl_erase_file_fn on_file; /* may be NULL; called per file that holds the device */
    void *on_file_ctx;
} fl_erase_options;

typedef struct fl_erase_stats {
    uint64_t files_scanned, files_rewritten, files_removed, rows_removed;
    uint64_t state_rows; /* device_state rows deleted (dry run: that would be) */
    /* objects the lifecycle scheduled for deletion (replaced or expired, in their grace),
     * deleted at once (dry run: that would be) */
    uint64_t scheduled_deleted;
    uint64_t quarantined_deleted; /* lake-quarantine/ files holding the device (dry run: too) */
} fl_erase_stats;

/* Erase one device from the lake and the catalog: every live file of every lake table whose
 * rows hold the device (device_id column; rejected_records: a JSON string equal to the id in
 * raw, raw_text or error_message) is rewritten without them (or retired with no replacement
 * when nothing is left), all swaps and the device_state delete in ONE catalog transaction,
 * then the originals are deleted at once (no grace). Hold the compaction and summary locks
 * and make sure serve is stopped (its processor would write the device's state back).
 * Returns 0 or the first error; before the commit nothing is changed (outputs published so far
 * are deleted again), after it only undeleted originals may remain (logged; retired rows). */
FL_MUST_USE int fl_erase_device(const fl_erase_options *o, fl_erase_stats *stats);
/* 1 if the bytes s hold the JSON string "id" (quote-delimited, the opening quote not
 * escaped) — the rejected_records match. Pure, for tests. */
int fl_erase_json_mentions(fl_slice s, fl_slice id);

#endif
