/* enrich.c — one record in, one processed_sensor_data row out (DESIGN §4.2).
 *
 * fl_enrich adds what needs no history: Fahrenheit, the local hour and ISO weekday in the
 * fleet's zone, and the MISSING_FIELD and IMPLAUSIBLE quality bits. fl_process_record adds
 * what needs the device's history: DUPLICATE (dedup.c), LATE, and the anomaly score from the
 * detectors (detect_metric.c, detect_gps.c), the maximum of their calibrated scores. */
#include <math.h>

#include "process/process_int.h"

#define REC_SENSORS (FL_REC_TEMPERATURE | FL_REC_HUMIDITY | FL_REC_PRESSURE | FL_REC_LOCATION)

static const char *const kind_names[] = {
#define FL_ANOMALY_KIND_NAME_(name, str) str,
    FL_ANOMALY_KIND_MAP(FL_ANOMALY_KIND_NAME_)
#undef FL_ANOMALY_KIND_NAME_
};

const char *fl_anomaly_kind_name(int kind)
{
    return kind > 0 && kind < FL_ANOMALY_KIND_COUNT ? kind_names[kind] : "none";
}

const char *fl_metric_name(int metric)
{
    static const char *const names[] = {"none",     "temperature", "humidity",
                                        "pressure", "location",    "all"};
    return metric > 0 && metric < FL_METRIC_COUNT ? names[metric] : "none";
}

/* DESIGN §4.1 physical ranges, bounds inclusive. */
int metric_plausible(int metric, double x)
{
    static const double lo[] = {-80, 0, 300}, hi[] = {150, 100, 1100};
    return x >= lo[metric] && x <= hi[metric];
}

void fl_enrich(const fl_tz *tz, const fl_record *rec, fl_processed *out)
{
    memset(out, 0, sizeof *out);
    out->device_id = rec->device_id;
    out->timestamp_us = rec->timestamp_us;
    out->present = rec->present & REC_SENSORS;
    if (rec->present & FL_REC_TRACE)
        fl_hex_encode(rec->trace_id, sizeof rec->trace_id, out->trace_id);
    const double values[] = {rec->temperature, rec->humidity, rec->pressure};
    static const uint32_t bits[] = {FL_REC_TEMPERATURE, FL_REC_HUMIDITY, FL_REC_PRESSURE};
    for (int i = 0; i < METRICS; i++)
        if ((rec->present & bits[i]) && !metric_plausible(i, values[i]))
            out->quality_flags |= FL_QUALITY_IMPLAUSIBLE;
    if (out->present != REC_SENSORS)
        out->quality_flags |= FL_QUALITY_MISSING_FIELD;
    if (rec->present & FL_REC_TEMPERATURE) {
        out->temperature = rec->temperature;
        out->temperature_fahrenheit = rec->temperature * 9.0 / 5.0 + 32.0;
    }
    if (rec->present & FL_REC_HUMIDITY)
        out->humidity = rec->humidity;
    if (rec->present & FL_REC_PRESSURE)
        out->pressure = rec->pressure;
    if (rec->present & FL_REC_LOCATION) {
        out->latitude = rec->latitude;
        out->longitude = rec->longitude;
    }
    fl_local_time lt;
    fl_tz_local_time(tz, rec->timestamp_us, &lt);
    out->local_hour = lt.hour;
    out->day_of_week = lt.day_of_week;
    out->is_weekend = lt.is_weekend;
}

/* The detectors, for a record newer than everything the device sent before. */
static void detect(const fl_process_config *cfg, fl_device_state *st, const fl_record *rec,
                   struct verdict *v)
{
    const fl_detector_params *p = &cfg->det;
    int64_t t = rec->timestamp_us;
    if (st->newest_us != 0)
        detect_dropout(p, st, t, v);
    const double values[] = {rec->temperature, rec->humidity, rec->pressure};
    static const uint32_t bits[] = {FL_REC_TEMPERATURE, FL_REC_HUMIDITY, FL_REC_PRESSURE};
    for (int i = 0; i < METRICS; i++)
        if ((rec->present & bits[i]) && metric_plausible(i, values[i]))
            detect_metric(p, i, &st->m[i], values[i], t, v);
    if (rec->present & FL_REC_LOCATION)
        detect_gps(p, &st->gps, rec->latitude, rec->longitude, t, v);
    st->newest_us = t;
}

void fl_process_record(const fl_process_config *cfg, const fl_tz *tz, fl_device_state *st,
                       const fl_record *rec, int64_t arrival_us, fl_processed *out)
{
    fl_enrich(tz, rec, out);
    int64_t t = rec->timestamp_us;
    if (dedup_check_insert(&st->dedup, t, cfg->dedup_window_us)) {
        out->quality_flags |= FL_QUALITY_DUPLICATE;
        return;
    }
    if ((st->newest_us != 0 && st->newest_us - t > cfg->late_after_us) ||
        arrival_us - t > cfg->late_after_us)
        out->quality_flags |= FL_QUALITY_LATE;
    struct verdict v = {0, FL_ANOMALY_NONE, FL_METRIC_NONE};
    if (out->quality_flags & FL_QUALITY_IMPLAUSIBLE) {
        const double values[] = {rec->temperature, rec->humidity, rec->pressure};
        static const uint32_t bits[] = {FL_REC_TEMPERATURE, FL_REC_HUMIDITY, FL_REC_PRESSURE};
        for (int i = 0; i < METRICS; i++)
            if ((rec->present & bits[i]) && !metric_plausible(i, values[i]))
                verdict_take(&v, 1.0, FL_ANOMALY_IMPLAUSIBLE, i + 1);
    }
    if (st->newest_us == 0 || t > st->newest_us)
        detect(cfg, st, rec, &v);
    out->anomaly_score = v.score < 0 ? 0 : v.score > 1 ? 1 : v.score;
    out->anomaly_flag = out->anomaly_score >= cfg->anomaly_threshold;
    if (out->anomaly_flag) {
        out->anomaly_kind = v.kind;
        out->anomaly_metric = v.metric;
    }
}
