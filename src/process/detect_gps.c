/* detect_gps.c — position and timing detectors of one device: impossible GPS jumps (the speed
 * implied by two consecutive fixes) and dropouts (a gap of many usual reporting intervals,
 * noticed on the first reading after it). See docs/anomaly.md. */
#include <math.h>

#include "process/process_int.h"

#define EARTH_RADIUS_M 6371008.8
#define DEG 0.017453292519943295
#define INTERVAL_MEMORY 20.0 /* gaps the usual interval averages over */
#define INTERVALS_MIN 3      /* gaps seen before a dropout can be scored */

/* Great-circle distance (haversine): exact enough at every distance, and cheap. */
static double distance_m(double lat1, double lon1, double lat2, double lon2)
{
    double s1 = sin((lat2 - lat1) * DEG / 2), s2 = sin((lon2 - lon1) * DEG / 2);
    double a = s1 * s1 + cos(lat1 * DEG) * cos(lat2 * DEG) * s2 * s2;
    return 2 * EARTH_RADIUS_M * asin(sqrt(a < 1 ? a : 1));
}

static double speed_kmh(const fl_detector_params *p, double lat1, double lon1, int64_t t1_us,
                        double lat2, double lon2, int64_t t2_us)
{
    double dt_s = (double)(t2_us - t1_us) / 1e6;
    double d = distance_m(lat1, lon1, lat2, lon2) - p->gps_slack_m;
    if (d <= 0)
        return 0;
    return d / (dt_s > 1e-3 ? dt_s : 1e-3) * 3.6;
}

void detect_gps(const fl_detector_params *p, struct gps_state *g, double lat, double lon,
                int64_t t_us, struct verdict *v)
{
    if (!g->has_fix) {
        *g = (struct gps_state){.lat = lat, .lon = lon, .fix_us = t_us, .has_fix = 1};
        return;
    }
    double vmax = p->gps_max_speed_kmh;
    double speed = speed_kmh(p, g->lat, g->lon, g->fix_us, lat, lon, t_us);
    if (speed > vmax && g->has_cand &&
        speed_kmh(p, g->cand_lat, g->cand_lon, g->cand_us, lat, lon, t_us) <= vmax)
        speed = 0; /* two fixes agree: the device really moved (or the old fix was wrong) */
    verdict_take(v, detect_logistic(speed, vmax, 0.1 * vmax), FL_ANOMALY_GPS_JUMP,
                 FL_METRIC_LOCATION);
    if (speed <= vmax) {
        *g = (struct gps_state){.lat = lat, .lon = lon, .fix_us = t_us, .has_fix = 1};
    } else {
        g->cand_lat = lat, g->cand_lon = lon, g->cand_us = t_us;
        g->has_cand = 1;
    }
}

void detect_dropout(const fl_detector_params *p, fl_device_state *st, int64_t t_us,
                    struct verdict *v)
{
    double gap_s = (double)(t_us - st->newest_us) / 1e6;
    if (st->intervals == 0) {
        st->interval_s = gap_s;
        st->intervals = 1;
        return;
    }
    double ratio = gap_s / st->interval_s;
    if (st->intervals >= INTERVALS_MIN && gap_s >= p->dropout_min_gap_s)
        verdict_take(v, detect_logistic(ratio, p->dropout_factor, 0.1 * p->dropout_factor),
                     FL_ANOMALY_DROPOUT, FL_METRIC_ALL);
    if (ratio < p->dropout_factor) { /* a dropout must not teach a longer usual interval */
        double n = st->intervals < INTERVAL_MEMORY ? (double)st->intervals + 1 : INTERVAL_MEMORY;
        st->interval_s += (gap_s - st->interval_s) / n;
        if (st->intervals < 0x7fffffffu)
            st->intervals++;
    }
}
