/* sim.h — the fleet simulator and load generator (`fleetlake sim`, `serve --demo`, benchmarks).
 *
 * Three layers, each usable on its own:
 *  1. The fleet (fl_sim_fleet_*): a pure, deterministic generator of sensor readings for N
 *     trucks driving around a centre, with injected anomalies whose ground-truth labels are
 *     reported to a callback. No I/O, no clocks: the same options and seed give the same
 *     readings, byte for byte once encoded.
 *  2. The record source (fl_sim_source_*, fl_sim_build_batch): turns readings into the JSON
 *     records of DESIGN.md §4.1 and mixes in bad records of every failure kind, duplicates
 *     (retries), late and out-of-order records at configured rates; builds request bodies.
 *  3. The load generator (fl_sim_run): prepares bodies ahead of time in a producer thread and
 *     POSTs them over C keep-alive connections, reads the PutRecords-style answers, honours
 *     429/503 Retry-After, writes acknowledged records (--acked-out) and a summary.
 *     With --target influx the same readings go to an InfluxDB 1.x `/write` endpoint as line
 *     protocol instead (the benchmark peer, bench/e2e.py).
 *
 * Time model. Each device emits one reading every interval of simulated time; device i's
 * readings are offset by i*interval/N, so the fleet's readings are in event-time order and
 * spread evenly. Readings never carry a timestamp later than `horizon_us` (the load generator
 * sets it to now + 4 min, inside the server's 5 min future-skew limit): when the simulated
 * clock would pass it, the clock wraps back to the start and every later timestamp is shifted
 * by one more microsecond per wrap ("epoch"), so (device_id, timestamp) stays unique per
 * device. A run that must be evaluated against labels should not wrap; fl_sim_run picks the
 * start so that it does not (as fast as possible: start = now - the simulated span the run
 * needs, or 24 h when only --duration bounds it; with --rate: start = now and the interval
 * chosen so simulated time tracks wall time). */
#ifndef FL_SIM_SIM_H
#define FL_SIM_SIM_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "core/core.h"

/* ---- anomaly kinds (ground truth) ------------------------------------------------------- */
#define FL_SIM_ANOMALY_MAP(XX)                                                                     \
    XX(SPIKE, "spike")             /* one reading far off its neighbours */                        \
    XX(DRIFT, "drift")             /* slow linear ramp over minutes */                             \
    XX(LEVEL_SHIFT, "level_shift") /* constant offset over minutes */                              \
    XX(STUCK, "stuck")             /* the same value repeated exactly */                           \
    XX(DROPOUT, "dropout")         /* the device is silent; the label covers the gap */           \
    XX(GPS_JUMP, "gps_jump")       /* one position > 50 km away from the route */                  \
    XX(IMPLAUSIBLE, "implausible") /* one value outside the physical range (§4.1) */

enum fl_sim_anomaly {
#define FL_SIM_ANOMALY_ENUM_(name, str) FL_SIM_ANOMALY_##name,
    FL_SIM_ANOMALY_MAP(FL_SIM_ANOMALY_ENUM_)
#undef FL_SIM_ANOMALY_ENUM_
        FL_SIM_ANOMALY_COUNT,
    FL_SIM_ANOMALY_NONE = -1
};
/* "spike" etc.; "none" for FL_SIM_ANOMALY_NONE. */
const char *fl_sim_anomaly_name(int kind);

/* ---- bad-record kinds and the error code the server must answer -------------------------- */
#define FL_SIM_BAD_MAP(XX)                                                                         \
    XX(MALFORMED_JSON, "malformed_json", "bad_json")                                               \
    XX(NOT_OBJECT, "not_object", "not_object")                                                     \
    XX(MISSING_DEVICE_ID, "missing_device_id", "missing_field")                                    \
    XX(MISSING_TIMESTAMP, "missing_timestamp", "missing_field")                                    \
    XX(TEMPERATURE_STRING, "temperature_string", "wrong_type")                                     \
    XX(HUMIDITY_BOOL, "humidity_bool", "wrong_type")                                               \
    XX(COORDINATE_RANGE, "coordinate_out_of_range", "out_of_range")                                \
    XX(ONLY_LATITUDE, "only_latitude", "out_of_range")                                             \
    XX(TIMESTAMP_STRING, "timestamp_unparseable", "bad_timestamp")                                 \
    XX(TIMESTAMP_BEFORE_2000, "timestamp_before_2000", "bad_timestamp")                            \
    XX(TIMESTAMP_FUTURE, "timestamp_far_future", "bad_timestamp")                                  \
    XX(DEVICE_ID_CHARS, "device_id_bad_chars", "bad_string")                                       \
    XX(DEVICE_ID_TOO_LONG, "device_id_too_long", "bad_string")                                     \
    XX(VERSION_TOO_LONG, "metadata_version_too_long", "bad_string")                                \
    XX(EXTRA_TOO_LARGE, "extra_too_large", "too_large")

enum fl_sim_bad {
#define FL_SIM_BAD_ENUM_(name, str, code) FL_SIM_BAD_##name,
    FL_SIM_BAD_MAP(FL_SIM_BAD_ENUM_)
#undef FL_SIM_BAD_ENUM_
        FL_SIM_BAD_COUNT
};
const char *fl_sim_bad_name(int kind);          /* "only_latitude" */
const char *fl_sim_bad_expected_code(int kind); /* "out_of_range" */

/* Server error codes the summary counts (DESIGN §4.1); anything else is "other". */
#define FL_SIM_CODE_MAP(XX)                                                                        \
    XX(BAD_JSON, "bad_json")                                                                       \
    XX(NOT_OBJECT, "not_object")                                                                   \
    XX(MISSING_FIELD, "missing_field")                                                             \
    XX(WRONG_TYPE, "wrong_type")                                                                   \
    XX(OUT_OF_RANGE, "out_of_range")                                                               \
    XX(BAD_TIMESTAMP, "bad_timestamp")                                                             \
    XX(BAD_STRING, "bad_string")                                                                   \
    XX(TOO_LARGE, "too_large")                                                                     \
    XX(TOO_DEEP, "too_deep")                                                                       \
    XX(DUPLICATE_FIELD, "duplicate_field")                                                         \
    XX(HTTP_ERROR, "http_error") /* a whole request failed with a non-retryable status */          \
    XX(OTHER, "other")

enum fl_sim_code {
#define FL_SIM_CODE_ENUM_(name, str) FL_SIM_CODE_##name,
    FL_SIM_CODE_MAP(FL_SIM_CODE_ENUM_)
#undef FL_SIM_CODE_ENUM_
        FL_SIM_CODE_COUNT
};
const char *fl_sim_code_name(int code);
/* Code for a name of n bytes; FL_SIM_CODE_OTHER if unknown. */
int fl_sim_code_from_name(const char *s, size_t n);

/* ---- options ------------------------------------------------------------------------------ */
#define FL_SIM_PATH_MAX 4096
#define FL_SIM_HEADERS_MAX 16
#define FL_SIM_INFLUX_DB_MAX 64

/* Where the load generator sends (--target). */
enum fl_sim_target {
    FL_SIM_TARGET_FLEETLAKE = 0, /* POST /v1/records, JSON, PutRecords-style answers */
    FL_SIM_TARGET_INFLUX = 1     /* POST /write?db=NAME&precision=u, line protocol, 204 */
};

/* Request body formats of fl_sim_build_batch (0 and 1 are the old `ndjson` flag values). */
enum fl_sim_body_format {
    FL_SIM_BODY_JSON_ARRAY = 0,
    FL_SIM_BODY_NDJSON = 1,
    FL_SIM_BODY_LINE_PROTOCOL = 2 /* InfluxDB line protocol, one point per line, µs times */
};

typedef struct fl_sim_options {
    /* fleet */
    int64_t devices;       /* --devices, 200 */
    uint64_t seed;         /* --seed, 1 */
    double center_lat;     /* --center LAT,LON, Seoul */
    double center_lon;
    double radius_km;      /* --radius-km, 30 */
    int64_t interval_us;   /* --interval-ms; 0 = auto (1 s, or N/rate with --rate) */
    int64_t start_us;      /* --start; 0 = auto (see the time model above) */
    int64_t horizon_us;    /* latest timestamp allowed; 0 = none (set by fl_sim_run) */
    int64_t tz_offset_s;   /* --tz-offset, +09:00: local time drives the daily cycle */
    double anomaly_rate;   /* --anomaly-rate: fraction of device-time inside an anomaly */
    double anomaly_weights[FL_SIM_ANOMALY_COUNT]; /* --anomaly-weights kind=w,...; all 1 */
    /* record source */
    double bad_rate;       /* --bad-rate: fraction of records that are bad, 0 */
    double dup_rate;       /* --dup-rate: fraction that are verbatim resends, 0 */
    double late_rate;      /* --late-rate: fraction held back 2-10 min of simulated time */
    double ooo_rate;       /* --ooo-rate: swaps within a batch per record, 0 */
    int ndjson;            /* --ndjson: bodies as NDJSON instead of a JSON array */
    int64_t batch;         /* --batch records per request; 0 = auto (500, or rate/10) */
    /* load generator */
    int target;            /* --target: enum fl_sim_target, fleetlake */
    char influx_db[FL_SIM_INFLUX_DB_MAX]; /* --influx-db, "fleetlake" */
    char url[1024];        /* --url base (or full endpoint), http://127.0.0.1:8080
                            * (http://127.0.0.1:8086 with --target influx) */
    double rate;           /* --rate records/s; 0 = as fast as possible */
    int64_t connections;   /* --connections, 4 */
    int gzip;              /* --gzip */
    int retry;             /* --retry / --no-retry, on */
    int64_t duration_us;   /* --duration, 10 s */
    int64_t records;       /* --records: stop after this many records sent; 0 = no limit */
    int64_t queue_bodies;  /* --queue: bodies prepared ahead; 0 = auto */
    int64_t body_pool;     /* --body-pool K: build K bodies once and resend them in a cycle */
    char cacert[FL_SIM_PATH_MAX];  /* --cacert FILE: PEM CA (or self-signed) for https:// */
    int insecure;                  /* --insecure: https:// without checking the certificate */
    int tls_pinned_cert;           /* not a flag (serve --demo): cacert is the server's own
                                    * certificate, trusted as the only anchor, and its names
                                    * are not checked against the URL's 127.0.0.1 */
    char headers[FL_SIM_HEADERS_MAX][512]; /* --header, repeatable */
    int header_count;
    char acked_out[FL_SIM_PATH_MAX];  /* --acked-out FILE */
    char labels_out[FL_SIM_PATH_MAX]; /* --labels-out FILE */
    char out[FL_SIM_PATH_MAX];        /* --out FILE ("-" = stdout): generate, do not send */
    int dry_run;                      /* --dry-run: like --out - */
    int json_summary;                 /* --json */
    int quiet;                        /* --quiet */
} fl_sim_options;

/* Fill every default. */
void fl_sim_options_defaults(fl_sim_options *opts);
/* Parse `sim` arguments (argv[0] is "sim"). Returns 0; 1 if --help was printed to `out`;
 * FL_EINVAL with a message naming the bad flag in err (also for flags that do not go
 * together, see fl_sim_options_check). */
FL_MUST_USE int fl_sim_options_parse(fl_sim_options *opts, int argc, char **argv, FILE *out,
                                     char *err, size_t errlen);
/* Check flags that depend on each other: --target influx refuses --bad-rate > 0 (line
 * protocol has no per-record errors to check bad records against) and --acked-out (InfluxDB
 * answers no sequence numbers). Returns 0 or FL_EINVAL with a message in err. */
FL_MUST_USE int fl_sim_options_check(const fl_sim_options *opts, char *err, size_t errlen);
/* Replace the automatic values (interval, batch, start, horizon) given the wall clock now_us.
 * fl_sim_run calls this itself; exposed for tests and in-process users. */
void fl_sim_options_resolve(fl_sim_options *opts, int64_t now_us);

/* ---- layer 1: the fleet --------------------------------------------------------------------- */
typedef struct fl_sim_reading {
    uint32_t device;       /* index 0..N-1 */
    char device_id[32];    /* "truck-0042" */
    int64_t timestamp_us;
    double temperature, humidity, pressure;
    double latitude, longitude;
    int anomaly;           /* enum fl_sim_anomaly affecting this reading, or NONE */
} fl_sim_reading;

typedef struct fl_sim_label {
    const char *device_id; /* borrowed for the duration of the callback */
    int kind;              /* enum fl_sim_anomaly */
    const char *metric;    /* "temperature", "humidity", "pressure", "location" or "all" */
    int64_t start_us;      /* first affected (for dropout: first missing) reading */
    int64_t end_us;        /* last affected reading, inclusive */
} fl_sim_label;
/* Called once per finished anomaly, from the thread that drives the fleet. */
typedef void (*fl_sim_label_fn)(void *ctx, const fl_sim_label *label);

typedef struct fl_sim_fleet fl_sim_fleet;

/* Create a fleet from resolved options (copied). Returns 0, FL_EINVAL or FL_ENOMEM. */
FL_MUST_USE int fl_sim_fleet_create(const fl_sim_options *opts, fl_sim_fleet **out);
/* Ends open anomalies (reporting their labels) and frees. Accepts NULL. */
void fl_sim_fleet_destroy(fl_sim_fleet *fleet);
void fl_sim_fleet_set_label_sink(fl_sim_fleet *fleet, fl_sim_label_fn fn, void *ctx);
/* Move the horizon (the latest timestamp allowed), e.g. to track the wall clock. */
void fl_sim_fleet_set_horizon(fl_sim_fleet *fleet, int64_t horizon_us);
/* The next reading of the fleet in event-time order. Never fails. */
void fl_sim_fleet_next(fl_sim_fleet *fleet, fl_sim_reading *out);
/* End every open anomaly now, reporting its label (also done by destroy). */
void fl_sim_fleet_finish(fl_sim_fleet *fleet);
/* Timestamp of the latest reading produced (0 before the first). */
int64_t fl_sim_fleet_now_us(const fl_sim_fleet *fleet);

/* ---- layer 2: records and batches ------------------------------------------------------------ */
typedef struct fl_sim_gen_stats {
    uint64_t records;   /* all records produced, good + bad + duplicates */
    uint64_t good;      /* fresh readings (late ones included) */
    uint64_t bad;
    uint64_t bad_by_kind[FL_SIM_BAD_COUNT];
    uint64_t duplicates;
    uint64_t late;
    uint64_t out_of_order; /* swaps */
} fl_sim_gen_stats;

/* What the sender needs to know about each record of a body. kinds[i] is 0 for a good record
 * or 1 + enum fl_sim_bad. With want_ids, ids holds for each good record the JSON prefix
 * `{"device_id":"...","timestamp":"...",` at id_off[i] (id_len[i] bytes; 0 for bad ones). */
typedef struct fl_sim_batch_meta {
    size_t count;
    size_t cap;
    uint8_t *kinds;
    uint32_t *id_off;
    uint16_t *id_len;
    fl_buf ids;
    int want_ids;
    size_t bad; /* records of the batch that are bad */
} fl_sim_batch_meta;
void fl_sim_batch_meta_free(fl_sim_batch_meta *meta);

typedef struct fl_sim_source fl_sim_source;

/* Create a record source over a new fleet (options copied). */
FL_MUST_USE int fl_sim_source_create(const fl_sim_options *opts, fl_sim_source **out);
void fl_sim_source_destroy(fl_sim_source *src);
/* The fleet inside (borrowed: to set a label sink or the horizon). */
fl_sim_fleet *fl_sim_source_fleet(fl_sim_source *src);
void fl_sim_source_stats(const fl_sim_source *src, fl_sim_gen_stats *out);
/* Build one request body of n records (reset first) in `format` (enum fl_sim_body_format:
 * a JSON array, NDJSON, or InfluxDB line protocol). meta (may be NULL) is filled for the
 * sender. Returns 0 or FL_ENOMEM. In a JSON array a malformed element would make the whole
 * body malformed (a whole-request 400), so malformed_json records are produced only in NDJSON
 * bodies. Line-protocol bodies never hold bad records (--bad-rate is ignored for them):
 * InfluxDB has no per-record answer to check them against. A source should build bodies of
 * one format only (duplicates are drawn from its earlier bodies, verbatim). */
FL_MUST_USE int fl_sim_build_batch(fl_sim_source *src, size_t n, int format, fl_buf *body,
                                   fl_sim_batch_meta *meta);
/* Append one reading as a §4.1 JSON object (no newline). */
FL_MUST_USE int fl_sim_reading_to_json(const fl_sim_reading *r, fl_buf *out);
/* Append one reading as one InfluxDB line-protocol line, newline included:
 *   sensor,device_id=ID[,source=S][,version=V] temperature=T,humidity=H,pressure=P,
 *   latitude=LAT,longitude=LON TIMESTAMP_US
 * The metadata goes in tags (sorted by key, as InfluxDB recommends): it describes the
 * producer, has few values, and is what one groups or filters by. version and source may be
 * NULL or "" (no tag). Tag values escape ',', '=' and ' ' with a backslash. Fields are floats
 * with the same digits as the JSON records (2 decimals; 6 for coordinates); a NaN field is
 * absent. Returns 0, FL_ENOMEM, or FL_EINVAL when the point would be invalid (no field left,
 * an empty device_id, a newline in a tag, or a tag value ending in a backslash). */
FL_MUST_USE int fl_sim_reading_to_line(const fl_sim_reading *r, const char *version,
                                       const char *source, fl_buf *out);

/* ---- layer 3: the load generator -------------------------------------------------------------- */
typedef struct fl_sim_summary {
    double duration_s;
    uint64_t requests;          /* HTTP requests answered (retries included) */
    uint64_t records_sent;      /* records in bodies that got a final answer */
    uint64_t records_acked;
    uint64_t records_failed;
    uint64_t failed_by_code[FL_SIM_CODE_COUNT];
    uint64_t bad_sent;
    uint64_t bad_sent_by_kind[FL_SIM_BAD_COUNT];
    uint64_t bad_accepted;      /* bad records the server accepted (should be 0) */
    uint64_t code_mismatches;   /* failures whose code differs from the expected one */
    uint64_t good_rejected;     /* good records the server rejected */
    uint64_t duplicates_sent;
    uint64_t late_sent;
    uint64_t out_of_order;
    uint64_t retries;           /* requests re-sent after 429/503 or a connection error */
    uint64_t throttled;         /* 429/503 answers (any 5xx with --target influx) */
    uint64_t connection_errors;
    uint64_t http_errors;       /* other non-2xx/400 answers */
    uint64_t connections_opened;
    uint64_t bytes_sent;
    uint64_t labels;
    double records_per_s_acked;
    double latency_ms_p50, latency_ms_p90, latency_ms_p99, latency_ms_max;
    double cpu_s;
    int connect_failed;         /* the server could not be reached (exit code 1) */
    char last_connection_error[256]; /* libcurl's message for the last one, e.g. a
                                      * certificate that does not verify */
    int dry_run;
    int target;                 /* enum fl_sim_target the run sent to */
} fl_sim_summary;

/* Run the generator against opts->url (or write records to opts->out with --out/--dry-run)
 * until the duration or record count is reached or *stop_flag becomes non-zero (may be
 * NULL). Safe to run in a thread; prints nothing. Returns 0, or a negative code (failure to
 * open an output file, out of memory, FL_EINVAL for options fl_sim_options_check refuses);
 * an unreachable server is reported in out->connect_failed, not as an error.
 * With --target influx: 204 acknowledges every record of the body; any other 4xx fails them
 * all (counted under http_error); 429 and 5xx are retried like fleetlake's 503. */
FL_MUST_USE int fl_sim_run(const fl_sim_options *opts, fl_sim_summary *out,
                           volatile int *stop_flag);
/* Print the summary as text, or one JSON object with json. */
void fl_sim_summary_print(const fl_sim_summary *s, int json, FILE *out);

/* `fleetlake sim ...`: argv starts at "sim". Exit code 0, 1 (server unreachable) or 2 (usage). */
int fl_sim_main(int argc, char **argv);

#endif
