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

#endif
