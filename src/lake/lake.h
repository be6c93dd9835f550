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

#include "core/core.h"
#include "lake/objstore.h"
#include "monitor/monitor.h"
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
/* Value of the "schema_version" key-value metadata in the files we write. */
#define FL_LAKE_SCHEMA_VERSION "1"

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

#endif
