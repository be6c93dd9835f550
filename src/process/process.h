/* process.h — the pure core of the real-time processor: enrichment and streaming anomaly
 * detection for one record at a time.
 *
 * Data flow: a stream consumer (built on top of this header) decodes a stream record into an
 * fl_record, finds the per-device fl_device_state it keeps (in memory, checkpointed into
 * meta.db with fl_device_state_encode next to its stream checkpoint), and calls
 * fl_process_record(), which fills one row of processed_sensor_data (DESIGN.md §4.2) plus the
 * anomaly kind and metric for alerts. Nothing here does I/O except fl_tz_load (which reads one
 * file of the system tz database once at start), nothing logs, and nothing allocates per
 * record. The method and its maths are in docs/anomaly.md.
 *
 * Threading: an fl_tz and an fl_process_config are immutable after creation and may be shared
 * by any number of threads; an fl_device_state belongs to one thread at a time (the consumer of
 * the device's shard). */
#ifndef FL_PROCESS_PROCESS_H
#define FL_PROCESS_PROCESS_H

#include <stddef.h>
#include <stdint.h>

#include "core/core.h"
#include "ingest/ingest.h"
#include "lake/lake.h"

/* ---- time zones ----------------------------------------------------------------------------- */

typedef struct fl_tz fl_tz;

/* Load the IANA zone `name` ("Asia/Seoul", "Europe/Berlin", "UTC") from the system tz database
 * (/usr/share/zoneinfo, Debian package tzdata). "UTC" works without the database. Returns 0
 * and *out (caller frees with fl_tz_destroy); FL_ENOTFOUND for an unknown zone, FL_EINVAL for a
 * name that is not a zone name (empty, "..", absolute, odd characters), FL_ECORRUPT for a file
 * that is not valid TZif, FL_ENOMEM. */
FL_MUST_USE int fl_tz_load(const char *name, fl_tz **out);
/* The same, from another tz database directory (tests). */
FL_MUST_USE int fl_tz_load_dir(const char *dir, const char *name, fl_tz **out);
/* Parse TZif bytes (version 2 or later: the 64-bit section and the POSIX TZ footer are used;
 * a version 1 file falls back to its 32-bit section). `name` is copied. Untrusted bytes:
 * returns 0, FL_ECORRUPT or FL_ENOMEM. */
FL_MUST_USE int fl_tz_parse(const char *name, const void *bytes, size_t len, fl_tz **out);
void fl_tz_destroy(fl_tz *tz);
/* The zone's name as loaded (borrowed; lives as long as tz). */
const char *fl_tz_name(const fl_tz *tz);
/* UTC offset in seconds (local = UTC + offset) in force at utc_us. Never fails. */
int32_t fl_tz_offset_at(const fl_tz *tz, int64_t utc_us);

/* Local calendar fields of an instant. */
typedef struct fl_local_time {
    int64_t year;
    int month, day;     /* 1-12, 1-31 */
    int hour;           /* 0-23 */
    int day_of_week;    /* ISO: 1 = Monday ... 7 = Sunday */
    int is_weekend;     /* Saturday or Sunday */
    int32_t utc_offset_s;
} fl_local_time;
void fl_tz_local_time(const fl_tz *tz, int64_t utc_us, fl_local_time *out);

/* ---- quality flags (bits of processed_sensor_data.quality_flags) ------------------------- */
enum fl_quality_flag {
    /* temperature, humidity, pressure or location absent from the record */
    FL_QUALITY_MISSING_FIELD = 1u << 0,
    /* a present value outside DESIGN §4.1's physical range: temperature −80..150 °C,
     * humidity 0..100 %RH, pressure 300..1100 hPa (bounds inclusive) */
    FL_QUALITY_IMPLAUSIBLE = 1u << 1,
    /* the same (device_id, timestamp) was already processed within the dedup window: the
     * first one wins in processed-data, this one is to be dropped */
    FL_QUALITY_DUPLICATE = 1u << 2,
    /* event time more than late_after_s older than the device's newest event time seen so
     * far, or than the record's arrival (stream) time */
    FL_QUALITY_LATE = 1u << 3,
};
/* All bits a record may carry; a record "passes every quality check" iff flags == 0. */
#define FL_QUALITY_ALL_MASK 0xFu

/* ---- anomaly kinds and metrics (alerts) ------------------------------------------------------ */
#define FL_ANOMALY_KIND_MAP(XX)                                                                    \
    XX(NONE, "none")                                                                               \
    XX(SPIKE, "spike")             /* one reading far from the baseline */                         \
    XX(DRIFT, "drift")             /* a slow departure caught by the CUSUM first */                \
    XX(LEVEL_SHIFT, "level_shift") /* a sudden departure that persists */                          \
    XX(STUCK, "stuck")             /* the same value repeated where it normally varies */          \
    XX(DROPOUT, "dropout")         /* first reading after a gap of many usual intervals */         \
    XX(GPS_JUMP, "gps_jump")       /* implied speed from the last good fix is impossible */        \
    XX(IMPLAUSIBLE, "implausible") /* outside the physical range */

enum fl_anomaly_kind {
#define FL_ANOMALY_KIND_ENUM_(name, str) FL_ANOMALY_##name,
    FL_ANOMALY_KIND_MAP(FL_ANOMALY_KIND_ENUM_)
#undef FL_ANOMALY_KIND_ENUM_
        FL_ANOMALY_KIND_COUNT
};
const char *fl_anomaly_kind_name(int kind); /* "spike"; "none" for anything unknown */

enum fl_metric {
    FL_METRIC_NONE = 0,
    FL_METRIC_TEMPERATURE,
    FL_METRIC_HUMIDITY,
    FL_METRIC_PRESSURE,
    FL_METRIC_LOCATION,
    FL_METRIC_ALL, /* the device as a whole (dropout) */
    FL_METRIC_COUNT
};
const char *fl_metric_name(int metric); /* "temperature", ..., "none" */

/* ---- configuration ---------------------------------------------------------------------------- */

/* Detector parameters: defaults and their reasons are in docs/anomaly.md and
 * fl_process_config_defaults(). Times in seconds of event time. */
typedef struct fl_detector_params {
    double baseline_tau_s;    /* EWMA time constant of the level, 600 */
    double scale_tau_s;       /* EWMA time constant of the mean absolute residual, 1800 */
    double level_clip_sigma;  /* Huber clip of a residual before it updates the level, 2 */
    double spike_z;           /* |z| at which the point detector scores 0.5, 6 */
    double spike_width;       /* logistic width of that score in z units, 0.5 */
    double cusum_k;           /* CUSUM allowance in z units, 4 */
    double cusum_h;           /* CUSUM decision interval (scores 0.5), 40 */
    double stuck_false_alarm; /* chance a normal run reaches the stuck length, 1e-9 */
    int32_t stuck_min_run;    /* shortest run of identical values called stuck, 8 */
    int32_t stuck_max_run;    /* longest run length ever required, 120 */
    double stuck_flat_rate;   /* repeat rate above which a metric counts as normally flat, 0.9 */
    int32_t warmup_samples;   /* readings before z-based and stuck detectors score, 600 */
    double gps_max_speed_kmh; /* implied speed that scores 0.5, 200 */
    double gps_slack_m;       /* distance discounted for fix noise, 50 */
    double dropout_factor;    /* gap (in usual intervals) that scores 0.5, 5 */
    double dropout_min_gap_s; /* and a gap always shorter than this is never a dropout, 10 */
    double scale_floor[3];    /* smallest residual scale: 0.1 °C, 0.5 %RH, 0.2 hPa */
} fl_detector_params;

typedef struct fl_process_config {
    char time_zone[64];         /* IANA name, "UTC" */
    int64_t dedup_window_us;    /* process.dedup_window_s, 300 s */
    int32_t dedup_max_entries;  /* process.dedup_max_per_device, 512 */
    int64_t late_after_us;      /* process.late_after_s, 300 s */
    double anomaly_threshold;   /* process.anomaly_threshold, 0.5 */
    fl_detector_params det;
} fl_process_config;

/* Every default (time zone "UTC"). */
void fl_process_config_defaults(fl_process_config *out);
/* Defaults overridden by the [process] section of cfg. Returns 0, or FL_ECONFIG with a message
 * naming the key in err (e.g. an anomaly_threshold that is not a number in [0, 1]). */
FL_MUST_USE int fl_process_config_from_config(const fl_config *cfg, fl_process_config *out,
                                              char *err, size_t errlen);

/* ---- per-device state ------------------------------------------------------------------------- */

typedef struct fl_device_state fl_device_state;

/* A fresh state (no history) sized for cfg's dedup limits. Returns 0, FL_EINVAL, FL_ENOMEM.
 * Caller frees with fl_device_state_destroy (accepts NULL). */
FL_MUST_USE int fl_device_state_create(const fl_process_config *cfg, fl_device_state **out);
void fl_device_state_destroy(fl_device_state *st);

/* Append a compact versioned binary form of st to out (about 290 bytes plus ~3 bytes
 * per remembered timestamp). Returns 0 or FL_ENOMEM. */
FL_MUST_USE int fl_device_state_encode(const fl_device_state *st, fl_buf *out);
/* Replace st's contents (st from fl_device_state_create with the same cfg) with a decoded blob.
 * Untrusted bytes: returns 0, or FL_ECORRUPT (st then holds a fresh, empty state).
 * Timestamps beyond st's dedup capacity are dropped, oldest first. */
FL_MUST_USE int fl_device_state_decode(fl_device_state *st, const void *p, size_t n);

/* ---- processing --------------------------------------------------------------------------------- */

/* One row of processed_sensor_data plus what alerts need. device_id borrows from the record. */
typedef struct fl_processed {
    fl_slice device_id;
    int64_t timestamp_us;
    uint32_t present; /* FL_REC_TEMPERATURE | HUMIDITY | PRESSURE | LOCATION as in the record */
    double temperature, humidity, pressure, latitude, longitude; /* 0 when absent */
    double temperature_fahrenheit;  /* valid iff FL_REC_TEMPERATURE is present (else NULL) */
    double anomaly_score;           /* [0, 1] */
    int anomaly_flag;               /* score >= cfg->anomaly_threshold */
    int day_of_week;                /* ISO 1-7 in the fleet's zone */
    int is_weekend;
    int local_hour;                 /* 0-23 in the fleet's zone */
    uint32_t quality_flags;         /* enum fl_quality_flag bits */
    int anomaly_kind;               /* enum fl_anomaly_kind of the highest-scoring detector */
    int anomaly_metric;             /* enum fl_metric it watched */
    char trace_id[33]; /* W3C trace id (hex) of the ingest request, "" for records without */
} fl_processed;

/* Enrich and score one record of the device whose state is st. arrival_us is when the record
 * entered the stream (for LATE; pass rec->timestamp_us when unknown). Fills *out completely.
 * A DUPLICATE is enriched but not scored (score 0) and leaves the detectors untouched; a record
 * older than the device's newest event time is scored only by the stateless physical-bounds
 * check (detectors are causal and see each device's readings in event-time order). Never
 * fails. */
void fl_process_record(const fl_process_config *cfg, const fl_tz *tz, fl_device_state *st,
                       const fl_record *rec, int64_t arrival_us, fl_processed *out);

/* Enrichment alone (no state): Fahrenheit, local calendar fields, MISSING_FIELD and
 * IMPLAUSIBLE flags. fl_process_record calls it. */
void fl_enrich(const fl_tz *tz, const fl_record *rec, fl_processed *out);

/* ---- the processor: per-shard consumers into processed-data (consumer.c, processor.c) ------
 *
 * One "processor" consumer thread per stream shard reads from its checkpoint, runs
 * fl_process_record with the device's state, drops DUPLICATE records, buffers rows per UTC
 * hour and every process.batch_interval_s commits ALL of them: one sorted Parquet+SNAPPY file
 * per hour under processed-data/, their catalog rows, the checkpoint (= the last record read)
 * and the state of every device touched since the last commit, in ONE meta.db transaction.
 * docs/processing.md has the protocol and why scores survive restarts unchanged. */

typedef struct fl_processor fl_processor;

typedef struct fl_processor_deps {
    const fl_config *cfg;  /* [process] keys; borrowed for the processor's life */
    fl_stream *stream;     /* sensor records */
    fl_objstore *store;    /* the lake */
    const char *meta_path; /* meta.db; each consumer opens its own connection */
    fl_metrics *metrics;   /* may be NULL */
    /* Called for every new (non-duplicate) scored reading, from the shard's thread, before it
     * is committed (alerting: src/notify). Must be quick; may block briefly for backpressure.
     * After a crash, readings after the last commit are observed again. NULL: none. */
    void (*observe)(void *ctx, uint32_t shard, const fl_processed *p, int64_t arrival_us);
    void *observe_ctx;
} fl_processor_deps;

/* Recover every consumer (orphans, checkpoints, device states) and start one thread per
 * shard. *out is owned by the caller (fl_processor_stop). */
FL_MUST_USE int fl_processor_start(const fl_processor_deps *deps, fl_processor **out);
/* Drain: read what the stream holds now (bounded by timeout_us), commit, stop the threads and
 * free p. Call after the gateway stopped (it queries p). Returns 0 or the first commit error
 * of the drain. Accepts NULL. */
int fl_processor_stop(fl_processor *p, int64_t timeout_us);

/* Device status, against the wall clock at query time (process.stale_after_s/offline_after_s
 * of silence since last_seen). */
enum fl_device_status { FL_DEVICE_ONLINE = 0, FL_DEVICE_STALE, FL_DEVICE_OFFLINE };
const char *fl_device_status_name(int status); /* "online" | "stale" | "offline" */
int fl_device_status_parse(const char *s);     /* -1 if unknown */

#define FL_DEVICE_ID_BYTES_MAX 128
/* What the device API shows of one device (a copy: no lock held after the call). */
typedef struct fl_device_info {
    char device_id[FL_DEVICE_ID_BYTES_MAX + 1];
    uint32_t shard;
    fl_lake_processed_row latest; /* newest reading by event time; device_id not set */
    int64_t last_seen_us;         /* stream arrival of the device's last record */
    int64_t record_count, anomaly_count;
    int has_anomaly;
    int64_t last_anomaly_us; /* event time */
    int last_anomaly_kind, last_anomaly_metric;
    double last_anomaly_score;
    int status; /* enum fl_device_status at now_us */
} fl_device_info;

/* Thread-safe queries (the gateway's device routes). */
/* FL_ENOTFOUND if no consumer knows the device. */
FL_MUST_USE int fl_processor_device_get(fl_processor *p, fl_slice device_id, int64_t now_us,
                                        fl_device_info *out);
/* Devices ordered by device_id, strictly after `after` (NULL/"" = from the start), with status
 * `status` (-1 = any), at most max; *n receives how many were written to out, *more 1 if
 * further devices match. */
FL_MUST_USE int fl_processor_devices_list(fl_processor *p, int status, const char *after,
                                          int64_t now_us, fl_device_info *out, size_t max,
                                          size_t *n, int *more);
/* Readings of one device with timestamp in [from_us, to_us], ordered by timestamp: the
 * committed processed-data files (through the catalog, pruned by hour) plus the rows processed
 * and not flushed yet. At most max rows into out (device_id not set); *n how many, *more 1 if
 * more matched. */
FL_MUST_USE int fl_processor_readings(fl_processor *p, fl_slice device_id, int64_t from_us,
                                      int64_t to_us, fl_lake_processed_row *out, size_t max,
                                      size_t *n, int *more);

#endif
