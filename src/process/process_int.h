/* process_int.h — private declarations of the process module: the time-zone table, the
 * per-device state and the detector functions shared by enrich.c, dedup.c, detect_*.c and
 * state_codec.c. */
#ifndef FL_PROCESS_PROCESS_INT_H
#define FL_PROCESS_PROCESS_INT_H

#include <errno.h>
#include <string.h>

#include "process/process.h"

/* ---- time zones ---- */
struct tz_rule {
    char form;     /* 'M' (Mm.w.d), 'J' (Jn, 1-365 without Feb 29), 'n' (0-365) */
    int month;     /* M: month; J/n: the day number */
    int week, wday;
    int32_t time_s; /* local wall-clock seconds after midnight, may be negative or > 24 h */
};

struct tz_posix {
    int valid, has_dst;
    int32_t std_off, dst_off; /* east-positive seconds */
    struct tz_rule start, end;
};

struct fl_tz {
    char name[64];
    size_t ntrans, ntypes;
    int64_t *trans_s;      /* UTC seconds, strictly increasing */
    unsigned char *trans_type;
    int32_t *type_off;     /* UTC offset of each local time type */
    char footer[128];
    struct tz_posix posix;
};

/* ---- dedup: the device's recent event timestamps, sorted ascending ---- */
struct dedup_set {
    int64_t *ts;   /* ts[start .. start+count) sorted ascending */
    uint32_t cap;  /* max entries (cfg->dedup_max_entries); the array holds 2*cap */
    uint32_t start, count;
};

/* Returns 1 if ts is already in the set, else inserts it (evicting what falls out of the window
 * behind the newest or beyond capacity, oldest first) and returns 0. */
int dedup_check_insert(struct dedup_set *d, int64_t ts, int64_t window_us);
void dedup_reset(struct dedup_set *d);

/* ---- detectors ---- */
enum { METRIC_T = 0, METRIC_H = 1, METRIC_P = 2, METRICS = 3 };

/* One scalar metric's detector state. Every field is checkpointed. */
struct metric_state {
    double level;        /* EWMA baseline */
    double mad;          /* EWMA of |residual| (mean absolute deviation) */
    double cusum_pos, cusum_neg;
    double last_value;   /* for the stuck run */
    double repeat_rate;  /* EWMA of [value == previous value] in normal operation */
    int64_t last_us;     /* event time of the last reading seen */
    uint32_t samples;    /* readings seen (saturates) */
    uint32_t run;        /* length of the current run of identical values */
    uint32_t outlier_run;/* consecutive readings with |z| over the spike threshold */
    uint8_t drift_onset; /* the CUSUM alarmed before |z| crossed the spike threshold */
};

struct gps_state {
    double lat, lon;           /* last good fix */
    int64_t fix_us;
    double cand_lat, cand_lon; /* a rejected fix: accepted if the next one agrees with it */
    int64_t cand_us;
    uint8_t has_fix, has_cand;
};

struct fl_device_state {
    int64_t newest_us;    /* newest event time processed (0 = none) */
    double interval_s;    /* EWMA of the gap between consecutive readings */
    uint32_t intervals;   /* gaps seen (saturates) */
    struct metric_state m[METRICS];
    struct gps_state gps;
    struct dedup_set dedup;
};

/* What one detector concluded about one reading. */
struct verdict {
    double score;
    int kind;
    int metric;
};

static inline void verdict_take(struct verdict *v, double score, int kind, int metric)
{
    if (score > v->score) {
        v->score = score;
        v->kind = kind;
        v->metric = metric;
    }
}

/* Logistic squashing of a statistic around its decision point: 0.5 at x == centre. */
double detect_logistic(double x, double centre, double width);

/* Score one scalar reading x at event time t_us (t after the metric's last reading). */
void detect_metric(const fl_detector_params *p, int metric, struct metric_state *m, double x,
                   int64_t t_us, struct verdict *v);
/* Score a position fix. */
void detect_gps(const fl_detector_params *p, struct gps_state *g, double lat, double lon,
                int64_t t_us, struct verdict *v);
/* Score the gap since the device's previous reading and learn its usual interval. */
void detect_dropout(const fl_detector_params *p, fl_device_state *st, int64_t t_us,
                    struct verdict *v);

/* Physical range of §4.1 (bounds inclusive); 1 if x is plausible for the metric. */
int metric_plausible(int metric, double x);

/* ---- the processor consumer core (consumer.c; threads in processor.c) ------------------- */

#include <pthread.h>
#include <stdatomic.h>

typedef struct proc_device {
    char *id; /* owned, NUL-terminated */
    size_t id_len;
    fl_device_state *st;
    fl_lake_processed_row latest; /* device_id slice -> id */
    int has_latest;
    int64_t last_seen_us, record_count, anomaly_count;
    int has_anomaly;
    int64_t last_anomaly_us;
    int last_anomaly_kind, last_anomaly_metric;
    double last_anomaly_score;
    int dirty; /* touched since the last commit: its row is saved with the next one */
    struct proc_device *next; /* hash chain */
} proc_device;

typedef struct proc_part {
    int64_t hour;
    uint64_t first_seq, last_seq;
    fl_lake_processed_row *rows; /* device_id slices -> proc_device.id or a loose id */
    size_t n, cap;
} proc_part;

/* Crash points of a commit, for unit tests: a non-zero return of the hook makes the commit
 * return that code at once, leaving everything as a kill -9 there would. */
enum proc_commit_step {
    PROC_AFTER_PUBLISH, /* called after each published file (arg: files published so far) */
    PROC_AFTER_COMMIT,  /* the transaction committed */
};
typedef int (*proc_crash_fn)(void *ctx, enum proc_commit_step step, size_t files);
typedef int64_t (*proc_clock_fn)(void *ctx);

typedef struct proc_metrics {
    fl_counter *records, *duplicates, *undecodable, *over_limit, *files, *bytes;
    fl_counter *anomalies[FL_ANOMALY_KIND_COUNT];
    fl_histogram *commit_latency, *freshness;
} proc_metrics;

typedef struct proc_consumer_options {
    uint32_t shard;
    const fl_process_config *pcfg; /* borrowed */
    const fl_tz *tz;               /* borrowed */
    fl_objstore *store;            /* borrowed */
    fl_catalog *catalog;           /* borrowed; this consumer's own connection */
    int64_t batch_interval_us;
    int64_t buffer_bytes;
    size_t max_devices;
    int codec; /* enum fl_pq_codec */
    proc_clock_fn clock; /* monotonic µs; NULL = fl_time_mono_us */
    void *clock_ctx;
    proc_clock_fn wall_clock; /* µs since the epoch (freshness); NULL = fl_time_now_us */
    proc_crash_fn crash;      /* NULL in production */
    void *crash_ctx;
    int64_t retry_backoff_min_us, retry_backoff_max_us; /* 0 = 1 s, 30 s */
    proc_metrics metrics;
    void (*observe)(void *ctx, uint32_t shard, const fl_processed *p, int64_t arrival_us);
    void *observe_ctx;
} proc_consumer_options;

typedef struct proc_consumer {
    proc_consumer_options o;
    pthread_mutex_t lock; /* guards devices and parts against the query threads */
    proc_device **buckets;
    size_t nbuckets, ndevices;
    proc_part *parts;
    size_t nparts, cap;
    size_t buffered_bytes;
    proc_device **dirty;
    size_t ndirty, dirty_cap;
    char **loose; /* ids of untracked devices (over the limit) referenced by buffered rows */
    size_t nloose, loose_cap;
    fl_device_state *scratch; /* state for an untracked device's reading (no history) */
    int64_t *arrivals; /* stream arrival of every buffered row (freshness at commit) */
    size_t narrivals, arrivals_cap;
    uint64_t last_read, checkpoint;
    int64_t batch_opened_us; /* clock at the first record consumed since the last commit */
    int64_t retry_at_us, backoff_us;
    fl_buf blob;
    /* published for the metrics collector */
    _Atomic uint64_t pub_checkpoint;
    _Atomic int64_t pub_newest_committed_arrival_us;
    _Atomic int64_t pub_last_commit_max_freshness_us; /* oldest row's arrival -> last commit */
    _Atomic uint64_t pub_buffered_bytes, pub_devices;
    /* for tests */
    uint64_t commits, files_committed, orphans_removed;
} proc_consumer;

FL_MUST_USE int proc_consumer_create(const proc_consumer_options *o, proc_consumer **out);
void proc_consumer_destroy(proc_consumer *c);
/* Sweep orphans and stale puts (started before started_before_us), load the checkpoint and
 * this shard's device states. *resume_after receives the checkpoint. */
FL_MUST_USE int proc_consumer_recover(proc_consumer *c, int64_t started_before_us,
                                      uint64_t *resume_after);
/* Take one record in stream order. 0: consumed. FL_EAGAIN: not consumed, the buffer is at
 * its bound and the commit that would free it failed or is backing off (offer it again later).
 * FL_ENOMEM. */
FL_MUST_USE int proc_consumer_offer(proc_consumer *c, const fl_stream_record *rec);
/* Commit if the batch interval has passed since the batch opened (and not backing off). */
FL_MUST_USE int proc_consumer_tick(proc_consumer *c);
/* Commit everything read so far now (ignores the backoff). */
FL_MUST_USE int proc_consumer_commit(proc_consumer *c);
int64_t proc_consumer_backoff_left(const proc_consumer *c);
/* Query helpers (take c->lock). */
int proc_consumer_device_get(proc_consumer *c, fl_slice id, fl_device_info *out);

#endif
