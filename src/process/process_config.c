/* process_config.c — the processor's parameters: defaults (each with its reason) and the
 * [process] keys of the config table that override them. Detector parameters are not config
 * keys: they were tuned on the simulator (docs/anomaly.md) and are changed in code, with a
 * measurement, not per deployment. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "process/process_int.h"

void fl_process_config_defaults(fl_process_config *out)
{
    memset(out, 0, sizeof *out);
    snprintf(out->time_zone, sizeof out->time_zone, "UTC");
    out->dedup_window_us = 300 * FL_US_PER_SEC;
    out->dedup_max_entries = 512;
    out->late_after_us = 300 * FL_US_PER_SEC;
    out->anomaly_threshold = 0.5;
    fl_detector_params *d = &out->det;
    d->baseline_tau_s = 600;     /* follows a daily cycle with < 1 σ of lag, ignores minutes */
    d->scale_tau_s = 1800;       /* the noise level changes more slowly than the level */
    d->level_clip_sigma = 2;     /* Huber: a level shift moves the baseline ≤ 2σ per τ */
    d->spike_z = 6;              /* Gaussian tail 2e-9: ~0 false alarms per device-year */
    d->spike_width = 0.5;        /* score 0.02 at z = 4, 0.98 at z = 8 */
    d->cusum_k = 4;              /* above the slow wander of correlated sensor noise (tuned) */
    d->cusum_h = 40;             /* 40 readings at z = 5: a drift is caught before z = 6 */
    d->stuck_false_alarm = 1e-9; /* same order as the point detector's */
    d->stuck_min_run = 8;
    d->stuck_max_run = 120;      /* beyond two minutes at 1 Hz a longer run adds nothing */
    d->stuck_flat_rate = 0.9;    /* a metric repeating 90 % of the time is normally flat */
    d->warmup_samples = 600;     /* 10 min at 1 Hz: the scale of slow noise needs that long */
    d->gps_max_speed_kmh = 200;  /* no truck does 200 km/h; a GPS jump implies thousands */
    d->gps_slack_m = 50;         /* consumer GPS error is 5-20 m; two fixes, margin */
    d->dropout_factor = 5;       /* five missed readings in a row */
    d->dropout_min_gap_s = 10;   /* a 1 Hz device pausing a few seconds is not a dropout */
    d->scale_floor[METRIC_T] = 0.1;  /* °C: common sensors repeat within ±0.1 °C */
    d->scale_floor[METRIC_H] = 0.5;  /* %RH: ±0.5 %RH repeatability of capacitive sensors */
    d->scale_floor[METRIC_P] = 0.2;  /* hPa: MEMS barometers are good to ±0.1-0.2 hPa */
}

int fl_process_config_from_config(const fl_config *cfg, fl_process_config *out, char *err,
                                  size_t errlen)
{
    fl_process_config_defaults(out);
    snprintf(out->time_zone, sizeof out->time_zone, "%s", cfg->process_time_zone);
    out->dedup_window_us = cfg->process_dedup_window_s * FL_US_PER_SEC;
    out->dedup_max_entries = (int32_t)cfg->process_dedup_max_per_device;
    out->late_after_us = cfg->process_late_after_s * FL_US_PER_SEC;
    char *end;
    const char *s = cfg->process_anomaly_threshold;
    double thr = strtod(s, &end);
    if (end == s || *end != 0 || !(thr > 0 && thr <= 1)) {
        snprintf(err, errlen, "process.anomaly_threshold: expected a number in (0, 1], got '%s'",
                 s);
        return FL_ECONFIG;
    }
    out->anomaly_threshold = thr;
    return 0;
}
