/* lake_int.h — private declarations of the lake module: table specs (columns and how a stream
 * record becomes a row), columnar partition buffers, and the consumer core that delivery.c's
 * threads drive. The core takes its clock and file encoder as parameters so unit tests can
 * drive flushes by size, interval and partition count deterministically, and crash it at any
 * point, without threads or a Parquet writer. */
#ifndef FL_LAKE_LAKE_INT_H
#define FL_LAKE_LAKE_INT_H

#include <stdatomic.h>

#include "catalog/catalog.h"
#include "lake/lake.h"
#include "parquet/parquet.h"

/* ---- rows and tables ------------------------------------------------------------------------- */

/* One value of a row being appended; for BYTE_ARRAY, s is copied by the buffer. */
typedef struct lake_value {
    int is_null;
    union {
        int32_t i32;
        int64_t i64;
        double d;
        fl_slice s;
    } v;
} lake_value;

/* Scratch space a decode function may build values in (valid until the next decode). */
#define LAKE_SCRATCH_BUFS 4
typedef struct lake_scratch {
    fl_buf b[LAKE_SCRATCH_BUFS];
    char trace_hex[2 * 16 + 1]; /* a trace id as 32 lowercase hex digits (no allocation) */
} lake_scratch;

/* A trace_id column value: 32 lowercase hex digits of id (written into hex, 33 bytes) when
 * present, else NULL. */
void lake_trace_value(lake_value *v, int present, const uint8_t id[16], char *hex);

/* Turn one stream record into one row (values[column_count]) and its event time (the
 * partition is the UTC hour of *event_us). Returns 0, or FL_ECORRUPT/FL_EUNSUPPORTED for a
 * record that cannot become a row (skipped and counted), or FL_ENOMEM. */
typedef int (*lake_decode_fn)(const fl_stream_record *rec, lake_value *values, int64_t *event_us,
                              lake_scratch *scratch);

typedef struct lake_table_spec {
    const char *table_name; /* catalog and metrics name, e.g. raw_sensor_data */
    const char *prefix;     /* object key prefix, e.g. raw-data */
    const char *consumer;   /* checkpoint name, e.g. raw-delivery */
    const fl_pq_column_def *columns;
    size_t column_count;
    lake_decode_fn decode;
} lake_table_spec;

extern const lake_table_spec lake_raw_table;      /* raw_sensor_data from the stream */
extern const lake_table_spec lake_rejected_table; /* rejected_records from the dead letters */
extern const lake_table_spec lake_processed_table; /* processed_sensor_data (processed.c) */
extern const lake_table_spec lake_summary_table;   /* hourly_summary (summary_table.c) */

/* Valid UTF-8 (no overlongs, no surrogates, <= U+10FFFF)? */
int lake_utf8_valid(const char *p, size_t n);
/* Append p with each invalid UTF-8 sequence replaced by U+FFFD. Returns 0 or FL_ENOMEM. */
FL_MUST_USE int lake_utf8_sanitize(fl_buf *out, const char *p, size_t n);

/* ---- columnar buffers ------------------------------------------------------------------------ */

/* BYTE_ARRAY cells: a value equal to the previous row's is stored once per run. ends[r] is the
 * end offset of row r's bytes in values, or LAKE_CELL_REPEAT | q when row r repeats the value
 * of row q (the first row of the run, never itself a repeat). One ingest request's records
 * arrive together and share their trace id (and usually their metadata), so a run costs the
 * bytes of one value plus 9 bytes a row, in memory and in the size-flush accounting. */
#define LAKE_CELL_REPEAT ((size_t)1 << (sizeof(size_t) * 8 - 1))

typedef struct lake_column {
    fl_buf values;  /* fixed-width values, or the concatenated bytes of BYTE_ARRAY values */
    fl_buf ends;    /* BYTE_ARRAY: size_t per row, see LAKE_CELL_REPEAT */
    fl_buf valid;   /* one byte per row: 1 value, 0 NULL */
    size_t nulls;
} lake_column;

/* Row r's bytes of a BYTE_ARRAY column (empty for NULL). */
fl_slice lake_column_cell(const lake_column *c, size_t r);

/* The buffered rows of one event-time partition of one shard. */
typedef struct lake_partition_buf {
    int64_t hour;                 /* fl_lake_hour_of: the partition */
    uint64_t first_seq, last_seq; /* sequence range of the rows */
    int64_t min_ts, max_ts;       /* event time range, µs */
    int64_t first_arrival_us;     /* stream arrival of the first row (lag metric) */
    int64_t opened_us;            /* consumer clock at the first row: interval flush */
    int64_t updated_us;           /* consumer clock at the last row: least recently updated */
    size_t rows;
    size_t bytes; /* approximate in-memory size of the rows: the size flush trigger */
    lake_column *cols;
} lake_partition_buf;

/* Append one row (values[spec->column_count]); *row_bytes receives its approximate size.
 * On FL_ENOMEM the columns may hold part of the row: cut it with lake_partition_truncate. */
FL_MUST_USE int lake_partition_append(const lake_table_spec *spec, lake_partition_buf *p,
                                      const lake_value *row, size_t *row_bytes);
void lake_partition_truncate(const lake_table_spec *spec, lake_partition_buf *p, size_t rows);
void lake_partition_free_columns(const lake_table_spec *spec, lake_partition_buf *p);

/* A read-only view of a buffer as writer columns: values arrays built from the buffer (slices
 * for BYTE_ARRAY). Valid until the buffer changes. */
FL_MUST_USE int lake_partition_columns(const lake_table_spec *spec, const lake_partition_buf *p,
                                       fl_pq_column_values *cols, fl_slice **slice_arrays);

/* Write the rows of p as one file into w (the object-store writer). Returns 0 or an error
 * (the caller aborts w). lake_encode_parquet writes Parquet; ctx is a const enum fl_pq_codec *. */
typedef int (*lake_encode_fn)(void *ctx, const lake_table_spec *spec, const lake_partition_buf *p,
                              fl_objstore_writer *w);
int lake_encode_parquet(void *ctx, const lake_table_spec *spec, const lake_partition_buf *p,
                        fl_objstore_writer *w);

/* ---- the pure parts of exactly-once ---------------------------------------------------------- */

/* The checkpoint to save: the highest S such that every record <= S that the consumer read is
 * committed (or was skipped), i.e. min over buffered partitions of first_seq - 1, or last_read
 * when nothing is buffered. `except` (an index into parts, or -1) is the partition being
 * committed, counted as already committed. Never below floor (the saved checkpoint). */
uint64_t lake_safe_checkpoint(uint64_t last_read, uint64_t floor, const lake_partition_buf *parts,
                              size_t n, long except);

/* Per-partition committed high-water marks of one (table, shard), sorted by hour. */
typedef struct lake_hwm {
    int64_t hour;
    uint64_t last_seq;
} lake_hwm;
typedef struct lake_hwm_table {
    lake_hwm *v;
    size_t n, cap;
    uint64_t max_seq; /* max over all partitions: records above it are never skipped */
} lake_hwm_table;

/* Raise the mark of hour to last_seq (never lowers it). Returns 0 or FL_ENOMEM. */
FL_MUST_USE int lake_hwm_set(lake_hwm_table *t, int64_t hour, uint64_t last_seq);
/* 1 if a record (hour, seq) re-read after a restart is already in a committed file. */
int lake_hwm_covers(const lake_hwm_table *t, int64_t hour, uint64_t seq);
void lake_hwm_free(lake_hwm_table *t);

/* ---- the consumer core ----------------------------------------------------------------------- */

enum lake_flush_reason {
    LAKE_FLUSH_SIZE = 0,   /* partition reached buffer_bytes */
    LAKE_FLUSH_INTERVAL,   /* partition's first row is buffer_interval old */
    LAKE_FLUSH_PARTITIONS, /* max_active_partitions reached: least recently updated flushed */
    LAKE_FLUSH_SHUTDOWN,   /* drain at stop */
    LAKE_FLUSH_REASON_COUNT
};
extern const char *const lake_flush_reason_names[LAKE_FLUSH_REASON_COUNT];

typedef int64_t (*lake_clock_fn)(void *ctx);

/* Metric series of one consumer (any may be NULL). */
typedef struct lake_consumer_metrics {
    fl_counter *files, *bytes, *records;
    fl_counter *skipped_replayed, *skipped_undecodable;
    fl_counter *flushes[LAKE_FLUSH_REASON_COUNT];
    fl_counter_family *failures; /* labels table, error */
    fl_histogram *commit_latency;
} lake_consumer_metrics;

typedef struct lake_consumer_options {
    const lake_table_spec *spec;
    uint32_t shard;
    fl_objstore *store;     /* borrowed */
    fl_catalog *catalog;    /* borrowed; this consumer's own connection */
    int64_t buffer_bytes;
    int64_t buffer_interval_us;
    size_t max_active_partitions;
    lake_clock_fn clock; /* monotonic µs; NULL = fl_time_mono_us */
    void *clock_ctx;
    lake_encode_fn encode; /* lake_encode_parquet, or a test's */
    void *encode_ctx;      /* lake_encode_parquet: const enum fl_pq_codec * */
    int64_t retry_backoff_min_us, retry_backoff_max_us; /* 0 = 1 s, 30 s */
    lake_consumer_metrics metrics;
} lake_consumer_options;

typedef struct lake_consumer {
    lake_consumer_options o;
    lake_partition_buf *parts;
    size_t nparts, cap;
    size_t buffered_bytes;
    lake_hwm_table hwm;
    uint64_t last_read;  /* highest seq offered and consumed */
    uint64_t checkpoint; /* last saved checkpoint */
    lake_scratch scratch;
    lake_value *row;
    int64_t retry_at_us; /* clock: no flush before this after a failure */
    int64_t backoff_us;
    long hot; /* index of the partition that took the last row (most rows go to one hour) */
    /* Published for the metrics collector (other threads). */
    _Atomic uint64_t pub_checkpoint;
    _Atomic uint64_t pub_buffered_bytes;
    _Atomic uint64_t pub_partitions;
    _Atomic int64_t pub_oldest_arrival_us; /* 0: nothing buffered */
    /* Counters for tests (also mirrored in metrics). */
    uint64_t files_committed, commit_failures, orphans_removed, skipped_replayed;
    uint64_t flushes[LAKE_FLUSH_REASON_COUNT];
} lake_consumer;

FL_MUST_USE int lake_consumer_create(const lake_consumer_options *o, lake_consumer **out);
void lake_consumer_destroy(lake_consumer *c);
/* Start-up: remove this consumer's orphan files (in the lake, not in the catalog) and stale
 * incomplete puts (started before started_before_us), load the checkpoint and high-water
 * marks. *resume_after receives the checkpoint (0: read from the trim horizon). */
FL_MUST_USE int lake_consumer_recover(lake_consumer *c, int64_t started_before_us,
                                      uint64_t *resume_after);
/* Take one record (in stream order). Returns 0 when consumed (buffered or skipped; a size
 * flush that failed leaves the rows buffered and the consumer in backoff), FL_EAGAIN when not
 * consumed because a partition had to be flushed first and that failed (offer it again after
 * the backoff), or FL_ENOMEM. */
FL_MUST_USE int lake_consumer_offer(lake_consumer *c, const fl_stream_record *rec);
/* Flush partitions due by size or interval, or save the checkpoint when nothing is buffered
 * and records were skipped. Returns 0 or the first commit error (rows stay buffered). */
FL_MUST_USE int lake_consumer_tick(lake_consumer *c);
/* Flush every buffered partition (ignoring the backoff). Returns 0 or the first error. */
FL_MUST_USE int lake_consumer_flush_all(lake_consumer *c, enum lake_flush_reason reason);
/* µs to wait before flushing may be retried after a failure (0: not in backoff). */
int64_t lake_consumer_backoff_left(const lake_consumer *c);

/* ---- compaction internals -------------------------------------------------------------------- */

/* Key of compaction output number index of the input set with hash:
 * "<prefix>/year=Y/month=M/day=D/hour=H/compacted-<16 hex digits>-<index>.parquet". */
FL_MUST_USE int lake_compacted_key(char *buf, size_t n, const char *prefix, fl_lake_partition p,
                                   uint64_t hash, size_t index);
/* 1 if key's file name is a compaction output's ("compacted-*.parquet"). */
int lake_is_compacted_key(const char *key);
/* Hash naming the outputs of a set of input keys (given sorted): FNV-1a over "key\n"... */
uint64_t lake_compact_inputs_hash(char *const *keys, size_t n);

/* Crash simulation for unit tests: called at each step; a non-zero return makes the partition's
 * compaction return that code at once, leaving everything as a kill -9 there would. */
enum lake_compact_step {
    LAKE_COMPACT_AFTER_PUBLISH, /* outputs published, catalog transaction not started */
    LAKE_COMPACT_AFTER_COMMIT,  /* transaction committed */
};
typedef int (*lake_compact_crash_fn)(void *ctx, enum lake_compact_step step);
void lake_compactor_set_crash_hook(fl_compactor *c, lake_compact_crash_fn fn, void *ctx);

#endif
