/* lake.h — the data lake (the S3 + Firehose roles): object-store seam, layout and partitioning,
 * and delivery of the stream into Parquet files.
 *
 * Data flow: stream shard ──(one "raw-delivery" consumer thread per shard)──► per event-time
 * partition buffers ──(size / interval / partition limit / shutdown)──► Parquet + GZIP file
 * published atomically through the object store ──► catalog row + consumer checkpoint in one
 * meta.db transaction. The dead-letter log is delivered the same way ("dead-letter-delivery")
 * into errors/rejected_records/. Layout and keys: DESIGN.md §4.3; protocol: docs/lake.md and
 * the notes at the top of delivery.c. Other modules include only this header. */
#ifndef FL_LAKE_LAKE_H
#define FL_LAKE_LAKE_H

#include <stddef.h>
#include <stdint.h>

#include "catalog/catalog.h"
#include "core/core.h"
#include "lake/objstore.h"
#include "monitor/monitor.h"
#include "parquet/parquet.h"
#include "stream/stream.h"

/* ---- layout ---------------------------------------------------------------------------------- */

/* Key prefixes (DESIGN.md §4.3) and SQL table names. */
#define FL_LAKE_RAW_PREFIX "raw-data"
#define FL_LAKE_RAW_TABLE "raw_sensor_data"
#define FL_LAKE_REJECTED_PREFIX "errors/rejected_records"
#define FL_LAKE_REJECTED_TABLE "rejected_records"
/* Consumer names of the checkpoints in meta.db. */
#define FL_LAKE_RAW_CONSUMER "raw-delivery"
#define FL_LAKE_REJECTED_CONSUMER "dead-letter-delivery"
/* Value of the "schema_version" key-value metadata in the files we write: 1, the first
 * schema; 2 appended trace_id to raw_sensor_data, processed_sensor_data and rejected_records.
 * A file of an older version lacks the columns added since, which readers take as NULL. */
#define FL_LAKE_SCHEMA_VERSION        "2"
#define FL_LAKE_SCHEMA_VERSION_NUMBER 2

/* An hourly UTC partition. */
typedef struct fl_lake_partition {
    int32_t year;
    int32_t month; /* 1-12 */
    int32_t day;   /* 1-31 */
    int32_t hour;  /* 0-23 */
} fl_lake_partition;

/* Hours since the epoch (floor, so instants before 1970 land in the right hour too). */
int64_t fl_lake_hour_of(int64_t ts_us);
fl_lake_partition fl_lake_partition_of_hour(int64_t hour);
static inline fl_lake_partition fl_lake_partition_of(int64_t ts_us)
{
    return fl_lake_partition_of_hour(fl_lake_hour_of(ts_us));
}
/* Inverse of fl_lake_partition_of_hour (for catalog rows). */
int64_t fl_lake_partition_hour(fl_lake_partition p);

/* "<prefix>/year=Y/month=M/day=D/hour=H/part-<shard>-<first>-<last>.parquet", values not
 * zero-padded. Returns 0 or -ENAMETOOLONG. */
FL_MUST_USE int fl_lake_part_key(char *buf, size_t n, const char *prefix, fl_lake_partition p,
                                 uint32_t shard, uint64_t first_seq, uint64_t last_seq);
/* Parse a key written by fl_lake_part_key under prefix (exact form only: no padding, no extra
 * components). Returns 0, or FL_EPARSE for any other key. */
FL_MUST_USE int fl_lake_part_key_parse(const char *key, const char *prefix, fl_lake_partition *p,
                                       uint32_t *shard, uint64_t *first_seq, uint64_t *last_seq);

/* ---- where a catalogued file lives (locate.c) ---------------------------------------------- */

/* Resolves a lake_files row's location to the object store holding its file: "" (NULL in the
 * catalog) is the main lake, anything else the absolute directory of a local store (the
 * lifecycle's warm tier). Every reader of lake files goes through this. Thread-safe. */
typedef struct fl_lake_stores fl_lake_stores;
/* main (the main lake) is borrowed for the object's life. *out: caller destroys. */
FL_MUST_USE int fl_lake_stores_create(fl_objstore *main, fl_lake_stores **out);
/* Closes the stores it opened (not main). Accepts NULL. */
void fl_lake_stores_destroy(fl_lake_stores *s);
fl_objstore *fl_lake_stores_main(fl_lake_stores *s);
/* The store for location (opened on first use; borrowed until destroy). FL_EINVAL for a
 * relative location, FL_ERANGE past the bound on distinct locations. */
FL_MUST_USE int fl_lake_stores_get(fl_lake_stores *s, const char *location, fl_objstore **out);
/* The store holding f's file: fl_lake_stores_get(s, f->location). */
FL_MUST_USE int fl_lake_file_store(fl_lake_stores *s, const fl_lake_file *f, fl_objstore **out);

/* ---- the lake's tables, for the catalog, DDL export and SQL --------------------------------- */

/* One table stored in the lake. The partition columns are not in `columns`: they are the
 * path's year=/month=/day=(/hour=) of time_column's UTC value. */
typedef struct fl_lake_table_info {
    const char *name;                /* SQL name, e.g. "raw_sensor_data" */
    const char *prefix;              /* object key prefix, e.g. "raw-data" */
    const fl_pq_column_def *columns; /* the Parquet file columns, in file order */
    size_t column_count;
    const char *time_column;         /* event-time column whose UTC hour is the partition */
    int partitioned_by_hour;         /* 1: year/month/day/hour; 0: year/month/day */
} fl_lake_table_info;

/* The lake's tables in a fixed order (static storage). */
size_t fl_lake_table_count(void);
const fl_lake_table_info *fl_lake_table_at(size_t i);
/* By SQL name; NULL if there is no such lake table. */
const fl_lake_table_info *fl_lake_table_find(const char *name);

/* ---- delivery -------------------------------------------------------------------------------- */

typedef struct fl_delivery fl_delivery;

typedef struct fl_delivery_deps {
    const fl_config *cfg;     /* [raw] keys; borrowed for the delivery's life */
    fl_stream *stream;        /* sensor records */
    fl_stream *dead_letters;  /* may be NULL: no dead-letter delivery */
    fl_objstore *store;       /* the lake */
    const char *meta_path;    /* meta.db; each consumer opens its own connection */
    fl_metrics *metrics;      /* may be NULL */
} fl_delivery_deps;

/* Recover every consumer (orphan files, stale temp files, checkpoints, high-water marks) and
 * start one thread per stream shard plus one for the dead-letter log. Call after the streams
 * are recovered. *out is owned by the caller (fl_delivery_stop). */
FL_MUST_USE int fl_delivery_start(const fl_delivery_deps *deps, fl_delivery **out);
/* Drain: each consumer reads what the stream holds now (bounded by timeout_us), flushes every
 * buffered partition and commits, then the threads stop. Call before closing the streams, after
 * the gateway stopped appending. Returns 0 or the first commit error of the drain (those
 * records are still in the stream and are delivered at the next start). Frees d. The metrics
 * registry still holds d's gauge collector: render it no more after this (serve stops the
 * gateway, the only renderer, first). Accepts NULL. */
int fl_delivery_stop(fl_delivery *d, int64_t timeout_us);

/* ---- processed_sensor_data (written by the real-time processor, src/process) --------------- */

#define FL_LAKE_PROCESSED_PREFIX "processed-data"
#define FL_LAKE_PROCESSED_TABLE "processed_sensor_data"
#define FL_LAKE_PROCESSED_CONSUMER "processor"

/* One row of processed_sensor_data (DESIGN.md §4.2). present holds the FL_REC_TEMPERATURE,
 * HUMIDITY, PRESSURE and LOCATION bits of the record (ingest.h): an absent value is NULL, and
 * temperature_fahrenheit is NULL exactly when temperature is. device_id is borrowed. */
typedef struct fl_lake_processed_row {
    fl_slice device_id;
    int64_t timestamp_us;
    uint32_t present;
    double temperature, humidity, pressure, latitude, longitude;
    double temperature_fahrenheit;
    double anomaly_score;
    int32_t anomaly_flag, day_of_week, is_weekend, local_hour;
    int32_t quality_flags;
    /* The ingest request's W3C trace id as 32 lowercase hex digits (as fl_processed and the
     * alerts carry it); "" when the record had none: NULL in the table. */
    char trace_id[33];
} fl_lake_processed_row;

/* Sort rows[0..n) by (device_id, timestamp) in place, write them as one Parquet file (codec,
 * normally SNAPPY) under processed-data/<partition of hour>/part-<shard>-<first>-<last>.parquet
 * and publish it atomically. *out receives the catalog row to insert (not inserted here: the
 * caller commits it with its checkpoint). Every row must belong to hour. Returns 0, FL_EEXISTS
 * when the key is already catalogued (never overwritten), or a write/publish error (nothing
 * published). catalog is used read-only. */
FL_MUST_USE int fl_lake_processed_write(fl_objstore *store, fl_catalog *catalog,
                                        uint32_t shard, int64_t hour, fl_lake_processed_row *rows,
                                        size_t n, uint64_t first_seq, uint64_t last_seq,
                                        int codec, fl_lake_file *out);

/* Start-up sweep of one (prefix, shard) writer: delete incomplete puts started before
 * started_before_us, then every part-<shard>-* object under prefix that the catalog lacks
 * (an orphan: published, never committed). *orphans receives how many were removed. The raw
 * delivery consumers use the same sweep. */
FL_MUST_USE int fl_lake_sweep_orphans(fl_objstore *store, fl_catalog *catalog,
                                      const char *prefix, const char *table_name, uint32_t shard,
                                      int64_t started_before_us, size_t *orphans);

/* Read the rows of one processed_sensor_data file whose device_id equals device_id and whose
 * timestamp is in [from_us, to_us]; fn(arg, row) per row in file order (device_id borrowed for
 * the call). Returns 0, fn's non-zero return, or a read error. */
typedef int (*fl_lake_processed_row_fn)(void *arg, const fl_lake_processed_row *row);
FL_MUST_USE int fl_lake_processed_read(fl_objstore *store, const char *key, fl_slice device_id,
                                       int64_t from_us, int64_t to_us,
                                       fl_lake_processed_row_fn fn, void *arg);

/* ---- hourly_summary (written by the hourly_summary job, src/jobs) ---------------------------- */

/* Partitioned by year/month/day of `hour`; one file per summarised hour (docs/summary.md). */
#define FL_LAKE_SUMMARY_TABLE "hourly_summary"
#define FL_LAKE_SUMMARY_PREFIX "curated-data/hourly_summary"
#define FL_LAKE_SUMMARY_JOB "hourly-summary"

/* ---- compaction ------------------------------------------------------------------------------ */

/* Compaction (compact.c, compact_run.c; docs/lake.md "Compaction") merges the small files of a
 * closed hour into files of about target_bytes sorted by (device_id, timestamp) (rejected
 * records: by received_at), publishes them, then in ONE catalog transaction inserts their rows
 * and retires the inputs; retired files are deleted after a grace period. Output keys:
 *     <prefix>/year=Y/month=M/day=D/hour=H/compacted-<hash of the input keys>-<n>.parquet
 * deterministic for a given set of inputs, so a rerun after a crash derives the same names. */

typedef struct fl_compactor fl_compactor;

/* One partition a pass would compact. */
typedef struct fl_compact_item {
    const char *table_name; /* static string */
    const char *prefix;     /* static string */
    fl_lake_partition partition;
    size_t files;            /* inputs: live files below target_bytes */
    int64_t bytes, rows;     /* of the inputs */
    size_t files_kept;       /* live files at or above target_bytes, left alone */
    size_t expected_outputs; /* estimate */
} fl_compact_item;

typedef struct fl_compact_plan {
    fl_compact_item *items; /* sorted by table, then hour */
    size_t count;
    int64_t files, bytes, rows; /* totals over items */
} fl_compact_plan;

/* What a pass (or one partition) did. */
typedef struct fl_compact_stats {
    uint64_t partitions, files_in, files_out, bytes_in, bytes_out, rows;
    uint64_t failures;        /* partitions that failed (left as they were) */
    uint64_t retired_deleted; /* retired files deleted after their grace */
    uint64_t orphans_removed; /* uncatalogued compacted-* files removed by recovery */
} fl_compact_stats;

/* Progress of a pass, reported after each input file read and each partition done. */
typedef struct fl_compact_progress {
    const fl_compact_item *item;
    size_t item_index, item_count;
    int64_t files_done, files_total; /* input files of the whole pass */
    int64_t bytes_done, bytes_total;
    int64_t elapsed_us;
    int partition_done; /* 1 when the call reports a finished partition */
} fl_compact_progress;
typedef void (*fl_compact_progress_fn)(void *ctx, const fl_compact_progress *p);

typedef struct fl_compact_options {
    fl_objstore *store;     /* the lake; borrowed */
    const char *meta_path;  /* meta.db; the compactor opens its own connection */
    const char *table_name; /* NULL: raw_sensor_data and rejected_records */
    const char *codec;      /* "gzip" (raw.codec) */
    int64_t target_bytes;   /* compaction.target_bytes */
    int64_t memory_bytes;   /* compaction.memory_bytes */
    int64_t close_after_us; /* compaction.close_after_s */
    int64_t retire_grace_us;
    int include_open_hours; /* also hours not closed yet (`compact --all`) */
    int64_t (*clock)(void *ctx); /* wall clock, µs since the epoch; NULL = fl_time_now_us */
    void *clock_ctx;
    const _Atomic int *stop; /* may be NULL; checked between partitions and input files */
    fl_metrics *metrics;     /* may be NULL; families registered once per compactor */
    fl_compact_progress_fn progress; /* may be NULL */
    void *progress_ctx;
} fl_compact_options;

/* Fill the sizes, times and codec of o from cfg ([compaction] and raw.codec). */
void fl_compact_options_from_config(const fl_config *cfg, fl_compact_options *o);

/* Open the catalog and register metrics. *out is owned by the caller (fl_compactor_destroy). */
FL_MUST_USE int fl_compactor_create(const fl_compact_options *o, fl_compactor **out);
/* Accepts NULL. */
void fl_compactor_destroy(fl_compactor *c);
/* Remove what a crashed compaction left: uncatalogued compacted-* objects (published, never
 * committed; invisible, each logged) and incomplete compacted-* puts. Hold the compaction lock:
 * another compactor's puts in flight would look the same. */
FL_MUST_USE int fl_compactor_recover(fl_compactor *c, fl_compact_stats *stats);
/* The partitions a pass would compact now. Free with fl_compact_plan_free. */
FL_MUST_USE int fl_compactor_plan(fl_compactor *c, fl_compact_plan *out);
void fl_compact_plan_free(fl_compact_plan *p);
/* Compact one planned partition (its inputs are re-read from the catalog). Returns 0, FL_EAGAIN
 * when the plan is stale (its inputs changed: nothing done), FL_ESTOPPED when the stop flag was
 * raised (nothing committed), or the error that made it fail (nothing committed, inputs live). */
FL_MUST_USE int fl_compactor_compact(fl_compactor *c, const fl_compact_item *item,
                                     fl_compact_stats *stats);
/* Delete retired files whose grace period has passed (their catalog rows stay). */
FL_MUST_USE int fl_compactor_delete_retired(fl_compactor *c, fl_compact_stats *stats);
/* A whole pass: plan, compact every item (a failed one is logged, counted and skipped), then
 * delete expired retired files. Returns 0, FL_ESTOPPED, or the first planning/catalog error. */
FL_MUST_USE int fl_compactor_pass(fl_compactor *c, fl_compact_stats *stats);

/* The lock that serialises compactors on a data directory (flock on <data>/compact.lock):
 * serve holds it during a pass, `fleetlake compact` for its run. wait_us 0: fail at once with
 * FL_EAGAIN if held; otherwise poll until then (FL_TIMEOUT). *fd receives the lock. */
FL_MUST_USE int fl_compact_lock(const char *path, int64_t wait_us, int *fd);
void fl_compact_unlock(int fd);

/* serve's compaction thread: a pass every compaction.interval_s under the lock (skipped while
 * another compactor holds it), the first one interval after start. */
typedef struct fl_compaction fl_compaction;
typedef struct fl_compaction_deps {
    const fl_config *cfg;  /* borrowed for the thread's life */
    fl_objstore *store;    /* borrowed */
    const char *meta_path; /* copied */
    const char *lock_path; /* copied */
    fl_metrics *metrics;   /* may be NULL */
} fl_compaction_deps;
FL_MUST_USE int fl_compaction_start(const fl_compaction_deps *deps, fl_compaction **out);
/* Raise the stop flag (the running partition is abandoned at its next check, nothing
 * committed) and join the thread. Accepts NULL. */
void fl_compaction_stop(fl_compaction *c);

/* ---- lifecycle (lifecycle.c; docs/lifecycle.md) ------------------------------------------- */

/* The S3 lifecycle role: by partition age a file belongs in the hot tier (<= hot_days), warm
 * (<= warm_days), cold (<= retention_days) or is expired. This is the planning half: pure
 * functions of the catalog and a caller-supplied `now` (faked in tests). */
enum fl_lifecycle_tier { FL_TIER_HOT = 0, FL_TIER_WARM, FL_TIER_COLD, FL_TIER_EXPIRED };

typedef struct fl_lifecycle_policy {
    int64_t hot_days, warm_days, retention_days; /* lifecycle.* */
} fl_lifecycle_policy;

/* One planned move of one live file (file borrowed for the callback's duration). */
typedef struct fl_lifecycle_move {
    const fl_lake_file *file;
    enum fl_lifecycle_tier from, to; /* to > from always (tiers only move forward) */
    int64_t age_days;
} fl_lifecycle_move;
typedef int (*fl_lifecycle_plan_fn)(void *arg, const fl_lifecycle_move *m);

/* "hot" | "warm" | "cold" | "expired" (static); "?" for anything else. */
const char *fl_lifecycle_tier_name(enum fl_lifecycle_tier t);
/* The tier named name, or -1. */
int fl_lifecycle_tier_parse(const char *name);
void fl_lifecycle_policy_from_config(const fl_config *cfg, fl_lifecycle_policy *p);
/* FL_EINVAL unless 0 <= hot_days < warm_days < retention_days. */
FL_MUST_USE int fl_lifecycle_policy_check(const fl_lifecycle_policy *p);
/* Whole days between the end of UTC day (year, month, day) and now_us; 0 if not yet ended. */
int64_t fl_lifecycle_age_days(int32_t year, int32_t month, int32_t day, int64_t now_us);
enum fl_lifecycle_tier fl_lifecycle_tier_for_age(const fl_lifecycle_policy *p, int64_t age_days);
/* Call fn for every live file of every table whose partition age asks for a later tier than
 * the one the catalog records, ordered by path; fn's non-zero return stops and is returned.
 * FL_EINVAL for an inconsistent policy. Reads only. */
FL_MUST_USE int fl_lifecycle_plan(fl_catalog *cat, const fl_lifecycle_policy *p, int64_t now_us,
                                  fl_lifecycle_plan_fn fn, void *arg);

/* ---- applying the lifecycle (lifecycle_apply.c, lifecycle_run.c) -------------------------- */

/* Cold files live in the main lake under this prefix + "/" + their hot key. */
#define FL_LAKE_ARCHIVE_PREFIX "archived-data"
/* "archived-data/<key>" into buf; FL_ERANGE if it does not fit. */
FL_MUST_USE int fl_lake_cold_key(char *buf, size_t n, const char *key);

/* One move applied (or failed), for reports. */
typedef struct fl_lifecycle_done {
    const fl_lake_file *file; /* the file as it was */
    enum fl_lifecycle_tier from, to;
    int64_t age_days;
    const char *new_path;     /* cold: the archived key; else the same key */
    const char *new_location; /* warm: the warm directory; else "" (the main lake) */
    int64_t new_bytes;        /* cold: the rewritten file's size */
    int rc;                   /* 0, or why the move failed (nothing changed for it) */
} fl_lifecycle_done;
typedef void (*fl_lifecycle_done_fn)(void *ctx, const fl_lifecycle_done *d);

typedef struct fl_lifecycle_options {
    fl_objstore *store;    /* the main lake; borrowed */
    const char *meta_path; /* meta.db; the run opens its own connection */
    const char *warm_dir;  /* absolute directory of the warm tier (lifecycle.warm_dir) */
    fl_lifecycle_policy policy;
    int64_t now_us;        /* the plan's clock (the real one, or faked by --now) */
    /* Replaced objects (the hot copy after a warm move, the original after a cold rewrite,
     * expired files) are deleted this long after the commit (compaction.retire_grace_s),
     * measured on the real clock, so a query that listed them just before can still read
     * them. */
    int64_t grace_us;
    const _Atomic int *stop; /* may be NULL; checked between files */
    fl_lifecycle_done_fn on_done; /* may be NULL: per move applied or failed */
    void *on_done_ctx;
} fl_lifecycle_options;

typedef struct fl_lifecycle_stats {
    uint64_t files[FL_TIER_EXPIRED + 1], rows[FL_TIER_EXPIRED + 1], bytes[FL_TIER_EXPIRED + 1];
    uint64_t failures; /* moves that failed (logged, left as they were, retried next pass) */
    uint64_t deleted;  /* replaced or expired objects deleted (scheduled, now due) */
    uint64_t orphans;  /* uncatalogued objects in the warm tier or archived-data/ removed */
} fl_lifecycle_stats;

/* Fill the policy, warm directory and grace from cfg. warm_dir (n bytes) receives
 * lifecycle.warm_dir made absolute: "" is <data_dir>/lake-warm, a relative path is relative to
 * data_dir. FL_EINVAL for an inconsistent policy, -ENAMETOOLONG, -errno of realpath. */
FL_MUST_USE int fl_lifecycle_options_from_config(const fl_config *cfg, const char *data_dir,
                                                 char *warm_dir, size_t n,
                                                 fl_lifecycle_options *o);
/* One lifecycle pass under the compaction lock (the caller holds it): finish what a crashed
 * pass left (due scheduled deletions; uncatalogued objects and stale puts in the warm
 * directory and archived-data/), then apply every planned move as its own catalog
 * transaction — hot -> warm (copy, verify, move the row, schedule the hot copy's deletion),
 * -> cold (rewrite with ZSTD to archived-data/<key>, insert it, retire the original, schedule
 * its deletion), -> expired (remove the row, schedule the file's deletion) — then delete what
 * is due. A failed move is logged, counted and skipped. Returns 0, FL_ESTOPPED, or the first
 * catalog error outside a move. */
FL_MUST_USE int fl_lifecycle_apply(const fl_lifecycle_options *o, fl_lifecycle_stats *st);

/* serve's lifecycle thread: a pass every lifecycle.interval_s under compact.lock (skipped
 * while another job holds it), the first one a minute after start. */
typedef struct fl_lifecycle_runner fl_lifecycle_runner;
typedef struct fl_lifecycle_deps {
    const fl_config *cfg;  /* borrowed for the thread's life */
    fl_objstore *store;    /* borrowed */
    const char *data_dir;  /* copied (with meta.db and compact.lock under it) */
} fl_lifecycle_deps;
FL_MUST_USE int fl_lifecycle_runner_start(const fl_lifecycle_deps *deps,
                                          fl_lifecycle_runner **out);
/* Raise the stop flag and join the thread (the move in progress finishes or is abandoned
 * before its commit). Accepts NULL. */
void fl_lifecycle_runner_stop(fl_lifecycle_runner *r);

#endif
