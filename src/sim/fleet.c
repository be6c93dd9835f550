/* fleet.c — the simulated fleet: N trucks driving between random waypoints around a centre,
 * each reporting temperature, humidity, pressure and position once per interval of simulated
 * time, with anomalies injected into some readings and their ground-truth labels reported to
 * a callback. Pure and deterministic: no I/O and no clocks, and every device draws from its
 * own PRNG stream, so a device's readings depend only on the seed, its index and the options.
 *
 * Sensor model. temperature = 12 °C + 7 °C · sin(daily phase, peak 15:00 local) + a per-device
 * offset + AR(1) noise (σ 0.4 °C, time constant 2 min) + 0.03 °C measurement noise. humidity
 * falls 2.2 %RH per °C of the daily cycle around 60 %RH, plus offset and AR(1) noise, kept in
 * 1..99. pressure = 1013 hPa + a slow fleet-wide weather wave (±9 hPa over days) + offset +
 * AR(1) noise. Trucks drive at 30-90 km/h, wobbling ±0.5 rad around the bearing to their next
 * waypoint (chosen uniformly in the disc), so consecutive positions never imply > 90 km/h
 * except for a labelled gps_jump.
 *
 * Anomalies start on a reading with probability p (chosen so that the expected fraction of
 * device-time inside an anomaly equals anomaly_rate) and last: spike, gps_jump, implausible
 * one reading; drift 5 min; level_shift 3 min; stuck 2 min; dropout 1 min (at least 3
 * readings). A label is reported when the anomaly ends, or at a wrap or finish. */
#include <math.h>

#include "sim/sim_int.h"

#define KM_PER_DEG_LAT 111.32
#define SPEED_KMH_MIN 30.0
#define SPEED_KMH_MAX 90.0
#define TEMP_MEAN_C 12.0
#define TEMP_DAILY_AMPLITUDE_C 7.0
#define HUMIDITY_MEAN 60.0
#define PRESSURE_MEAN_HPA 1013.0

enum metric { METRIC_TEMPERATURE, METRIC_HUMIDITY, METRIC_PRESSURE, METRIC_LOCATION, METRIC_ALL };
static const char *const metric_names[] = {"temperature", "humidity", "pressure", "location",
                                           "all"};

/* Simulated seconds each span anomaly lasts; 0 = a single reading. */
static const double anomaly_seconds[FL_SIM_ANOMALY_COUNT] = {
    [FL_SIM_ANOMALY_SPIKE] = 0,    [FL_SIM_ANOMALY_DRIFT] = 300, [FL_SIM_ANOMALY_LEVEL_SHIFT] = 180,
    [FL_SIM_ANOMALY_STUCK] = 120,  [FL_SIM_ANOMALY_DROPOUT] = 60, [FL_SIM_ANOMALY_GPS_JUMP] = 0,
    [FL_SIM_ANOMALY_IMPLAUSIBLE] = 0,
};

struct anomaly {
    int kind; /* FL_SIM_ANOMALY_NONE when idle */
    int metric;
    int64_t total, elapsed; /* readings */
    double magnitude;
    double stuck_value;
    int64_t start_us, end_us;
};

struct device {
    sim_rng rng;
    char id[32];
    double lat, lon, target_lat, target_lon;
    double speed_kmh, target_speed_kmh, wobble;
    double temp_offset, temp_noise, hum_offset, hum_noise, press_offset, press_noise;
    struct anomaly an;
};

struct fl_sim_fleet {
    fl_sim_options o;
    struct device *dev;
    uint32_t n;
    uint64_t step;
    uint64_t epoch_tick0; /* tick at which the current wrap epoch began */
    int64_t epoch;
    int64_t now_us;
    double p_start;
    double weight_total;
    int64_t span_ticks[FL_SIM_ANOMALY_COUNT];
    fl_sim_label_fn sink;
    void *sink_ctx;
};

static const char *const anomaly_names[] = {
#define FL_SIM_ANOMALY_NAME_(name, str) str,
    FL_SIM_ANOMALY_MAP(FL_SIM_ANOMALY_NAME_)
#undef FL_SIM_ANOMALY_NAME_
};

const char *fl_sim_anomaly_name(int kind)
{
    if (kind < 0 || kind >= FL_SIM_ANOMALY_COUNT)
        return "none";
    return anomaly_names[kind];
}

void sim_device_id(char out[32], uint32_t i, int64_t n)
{
    int width = 4;
    for (int64_t m = 10000; m < n && width < 12; m *= 10)
        width++;
    snprintf(out, 32, "truck-%0*u", width, i);
}

static void random_point(sim_rng *r, const fl_sim_options *o, double *lat, double *lon)
{
    double d = o->radius_km * sqrt(sim_rng_unit(r));
    double a = 2.0 * M_PI * sim_rng_unit(r);
    *lat = o->center_lat + d * cos(a) / KM_PER_DEG_LAT;
    *lon = o->center_lon + d * sin(a) / (KM_PER_DEG_LAT * cos(o->center_lat * M_PI / 180.0));
}

static void device_init(struct device *d, const fl_sim_options *o, uint32_t i)
{
    sim_rng_seed(&d->rng, o->seed, i);
    sim_device_id(d->id, i, o->devices);
    random_point(&d->rng, o, &d->lat, &d->lon);
    random_point(&d->rng, o, &d->target_lat, &d->target_lon);
    d->speed_kmh = sim_rng_range(&d->rng, SPEED_KMH_MIN, SPEED_KMH_MAX);
    d->target_speed_kmh = sim_rng_range(&d->rng, SPEED_KMH_MIN, SPEED_KMH_MAX);
    d->temp_offset = 1.5 * sim_rng_gauss(&d->rng);
    d->hum_offset = 4.0 * sim_rng_gauss(&d->rng);
    d->press_offset = 1.0 * sim_rng_gauss(&d->rng);
    d->an.kind = FL_SIM_ANOMALY_NONE;
}

int fl_sim_fleet_create(const fl_sim_options *opts, fl_sim_fleet **out)
{
    *out = NULL;
    if (opts->devices < 1 || opts->devices > 10000000 || opts->interval_us < 1)
        return FL_EINVAL;
    fl_sim_fleet *f = fl_calloc(1, sizeof *f);
    if (!f)
        return FL_ENOMEM;
    f->o = *opts;
    f->n = (uint32_t)opts->devices;
    f->dev = fl_calloc(f->n, sizeof *f->dev);
    if (!f->dev) {
        fl_free(f);
        return FL_ENOMEM;
    }
    for (uint32_t i = 0; i < f->n; i++)
        device_init(&f->dev[i], opts, i);
    double dt_s = (double)opts->interval_us / 1e6, weighted_span = 0;
    for (int k = 0; k < FL_SIM_ANOMALY_COUNT; k++) {
        int64_t ticks = 1;
        if (anomaly_seconds[k] > 0) {
            ticks = llround(anomaly_seconds[k] / dt_s);
            ticks = ticks < 3 ? 3 : ticks;
        }
        f->span_ticks[k] = ticks;
        double w = opts->anomaly_weights[k] > 0 ? opts->anomaly_weights[k] : 0;
        f->weight_total += w;
        weighted_span += w * (double)ticks;
    }
    double rate = opts->anomaly_rate;
    if (f->weight_total > 0 && rate > 0 && rate < 1)
        f->p_start = rate / ((1 - rate) * weighted_span / f->weight_total);
    *out = f;
    return 0;
}

static void end_anomaly(fl_sim_fleet *f, struct device *d)
{
    struct anomaly *a = &d->an;
    if (a->kind != FL_SIM_ANOMALY_NONE && a->elapsed > 0 && f->sink) {
        fl_sim_label l = {d->id, a->kind, metric_names[a->metric], a->start_us, a->end_us};
        f->sink(f->sink_ctx, &l);
    }
    a->kind = FL_SIM_ANOMALY_NONE;
}

void fl_sim_fleet_finish(fl_sim_fleet *f)
{
    for (uint32_t i = 0; f && i < f->n; i++)
        end_anomaly(f, &f->dev[i]);
}

void fl_sim_fleet_destroy(fl_sim_fleet *f)
{
    if (!f)
        return;
    if (f->dev)
        fl_sim_fleet_finish(f);
    fl_free(f->dev);
    fl_free(f);
}

void fl_sim_fleet_set_label_sink(fl_sim_fleet *f, fl_sim_label_fn fn, void *ctx)
{
    f->sink = fn;
    f->sink_ctx = ctx;
}

void fl_sim_fleet_set_horizon(fl_sim_fleet *f, int64_t horizon_us)
{
    f->o.horizon_us = horizon_us;
}

int64_t fl_sim_fleet_now_us(const fl_sim_fleet *f)
{
    return f->now_us;
}

static double ar1(sim_rng *r, double x, double dt_s, double tau_s, double sigma)
{
    double phi = exp(-dt_s / tau_s);
    return phi * x + sqrt(1 - phi * phi) * sigma * sim_rng_gauss(r);
}

static void choose_waypoint(struct device *d, const fl_sim_options *o)
{
    random_point(&d->rng, o, &d->target_lat, &d->target_lon);
    d->target_speed_kmh = sim_rng_range(&d->rng, SPEED_KMH_MIN, SPEED_KMH_MAX);
}

static void move(struct device *d, const fl_sim_options *o, double dt_s)
{
    double coslat = cos(d->lat * M_PI / 180.0);
    double dy = (d->target_lat - d->lat) * KM_PER_DEG_LAT;
    double dx = (d->target_lon - d->lon) * KM_PER_DEG_LAT * coslat;
    double dist = sqrt(dx * dx + dy * dy);
    double follow = dt_s / 30.0 < 1 ? dt_s / 30.0 : 1;
    d->speed_kmh += (d->target_speed_kmh - d->speed_kmh) * follow;
    d->speed_kmh = fmin(SPEED_KMH_MAX, fmax(SPEED_KMH_MIN, d->speed_kmh));
    double step_km = d->speed_kmh * dt_s / 3600.0;
    if (dist <= step_km) {
        d->lat = d->target_lat;
        d->lon = d->target_lon;
        choose_waypoint(d, o);
        return;
    }
    d->wobble = 0.98 * d->wobble + 0.05 * sim_rng_gauss(&d->rng);
    d->wobble = fmin(0.5, fmax(-0.5, d->wobble));
    double c = cos(d->wobble), s = sin(d->wobble);
    double ux = (dx * c - dy * s) / dist, uy = (dx * s + dy * c) / dist;
    d->lat += uy * step_km / KM_PER_DEG_LAT;
    d->lon += ux * step_km / (KM_PER_DEG_LAT * coslat);
}

static void sense(struct device *d, const fl_sim_options *o, int64_t ts, double dt_s,
                  fl_sim_reading *r)
{
    double t_s = (double)ts / 1e6;
    double local_h = fmod((t_s + (double)o->tz_offset_s) / 3600.0, 24.0);
    double daily = TEMP_DAILY_AMPLITUDE_C * sin(2 * M_PI * (local_h - 9.0) / 24.0);
    double weather = 6.0 * sin(2 * M_PI * t_s / (3.1 * 86400)) +
                     3.0 * sin(2 * M_PI * t_s / (0.9 * 86400) + 1.0);
    d->temp_noise = ar1(&d->rng, d->temp_noise, dt_s, 120, 0.4);
    d->hum_noise = ar1(&d->rng, d->hum_noise, dt_s, 300, 2.0);
    d->press_noise = ar1(&d->rng, d->press_noise, dt_s, 600, 0.3);
    r->temperature = TEMP_MEAN_C + daily + d->temp_offset + d->temp_noise +
                     0.03 * sim_rng_gauss(&d->rng);
    double hum = HUMIDITY_MEAN - 2.2 * daily + d->hum_offset + d->hum_noise;
    r->humidity = fmin(99.0, fmax(1.0, hum));
    r->pressure = PRESSURE_MEAN_HPA + weather + d->press_offset + d->press_noise;
    r->latitude = d->lat;
    r->longitude = d->lon;
}

static int pick_kind(fl_sim_fleet *f, sim_rng *r)
{
    double x = sim_rng_unit(r) * f->weight_total;
    int last = 0;
    for (int k = 0; k < FL_SIM_ANOMALY_COUNT; k++) {
        double w = f->o.anomaly_weights[k] > 0 ? f->o.anomaly_weights[k] : 0;
        if (w <= 0)
            continue;
        last = k;
        if (x < w)
            return k;
        x -= w;
    }
    return last;
}

static void start_anomaly(fl_sim_fleet *f, struct device *d, int64_t ts)
{
    struct anomaly *a = &d->an;
    sim_rng *r = &d->rng;
    a->kind = pick_kind(f, r);
    a->total = f->span_ticks[a->kind];
    a->elapsed = 0;
    a->start_us = a->end_us = ts;
    a->metric = (int)sim_rng_below(r, 3);
    if (a->kind == FL_SIM_ANOMALY_GPS_JUMP)
        a->metric = METRIC_LOCATION;
    if (a->kind == FL_SIM_ANOMALY_DROPOUT)
        a->metric = METRIC_ALL;
    double sign = sim_rng_unit(r) < 0.5 ? -1 : 1;
    static const double lo[] = {5, 15, 10}, hi[] = {10, 25, 20};
    if (a->metric <= METRIC_PRESSURE)
        a->magnitude = sign * sim_rng_range(r, lo[a->metric], hi[a->metric]);
    if (a->kind == FL_SIM_ANOMALY_SPIKE)
        a->magnitude *= 2.5; /* 12-25 °C, 37-62 %RH, 25-50 hPa off */
    if (a->kind == FL_SIM_ANOMALY_GPS_JUMP)
        a->magnitude = sim_rng_range(r, 60, 120); /* km */
}

static double *metric_value(fl_sim_reading *r, int metric)
{
    return metric == METRIC_TEMPERATURE ? &r->temperature
           : metric == METRIC_HUMIDITY  ? &r->humidity
                                        : &r->pressure;
}

/* Apply the active anomaly to r. */
static void apply_anomaly(struct device *d, fl_sim_reading *r)
{
    struct anomaly *a = &d->an;
    double frac = (double)(a->elapsed + 1) / (double)a->total;
    if (a->metric == METRIC_HUMIDITY && a->elapsed == 0) /* move away from the nearer bound */
        a->magnitude = fabs(a->magnitude) * (r->humidity > 50 ? -1 : 1);
    switch (a->kind) {
    case FL_SIM_ANOMALY_SPIKE:
    case FL_SIM_ANOMALY_LEVEL_SHIFT:
        *metric_value(r, a->metric) += a->magnitude;
        break;
    case FL_SIM_ANOMALY_DRIFT:
        *metric_value(r, a->metric) += a->magnitude * frac;
        break;
    case FL_SIM_ANOMALY_STUCK:
        if (a->elapsed == 0)
            a->stuck_value = *metric_value(r, a->metric);
        *metric_value(r, a->metric) = a->stuck_value;
        break;
    case FL_SIM_ANOMALY_GPS_JUMP: {
        double ang = 2 * M_PI * sim_rng_unit(&d->rng);
        r->latitude += a->magnitude * cos(ang) / KM_PER_DEG_LAT;
        r->longitude += a->magnitude * sin(ang) / (KM_PER_DEG_LAT * cos(r->latitude * M_PI / 180));
        break;
    }
    case FL_SIM_ANOMALY_IMPLAUSIBLE: {
        static const double values[] = {200.0, 150.0, 50.0}; /* °C, %RH, hPa */
        *metric_value(r, a->metric) = values[a->metric];
        break;
    }
    default:
        break;
    }
}

static int64_t step_time(const fl_sim_fleet *f, uint64_t tick, uint32_t i)
{
    int64_t iv = f->o.interval_us;
    return f->o.start_us + (int64_t)(tick - f->epoch_tick0) * iv + (int64_t)i * iv / f->n +
           f->epoch;
}

/* Wrap the clock back to the start when the reading would pass the horizon (see sim.h). */
static int64_t next_time(fl_sim_fleet *f, uint64_t tick, uint32_t i)
{
    int64_t ts = step_time(f, tick, i);
    if (f->o.horizon_us > 0 && ts > f->o.horizon_us && tick > f->epoch_tick0) {
        fl_sim_fleet_finish(f);
        f->epoch++;
        f->epoch_tick0 = tick;
        ts = step_time(f, tick, i);
    }
    return ts;
}

/* Advance device d to ts. Returns 1 with *r filled, or 0 if it is silent (dropout). */
static int device_step(fl_sim_fleet *f, struct device *d, int64_t ts, fl_sim_reading *r)
{
    double dt_s = (double)f->o.interval_us / 1e6;
    move(d, &f->o, dt_s);
    sense(d, &f->o, ts, dt_s, r);
    struct anomaly *a = &d->an;
    if (a->kind == FL_SIM_ANOMALY_NONE && f->p_start > 0 && sim_rng_unit(&d->rng) < f->p_start)
        start_anomaly(f, d, ts);
    r->anomaly = a->kind;
    if (a->kind == FL_SIM_ANOMALY_NONE)
        return 1;
    apply_anomaly(d, r);
    if (a->metric == METRIC_HUMIDITY && a->kind != FL_SIM_ANOMALY_IMPLAUSIBLE)
        r->humidity = fmin(100.0, fmax(0.0, r->humidity));
    a->end_us = ts;
    a->elapsed++;
    int silent = a->kind == FL_SIM_ANOMALY_DROPOUT;
    if (a->elapsed >= a->total)
        end_anomaly(f, d);
    return !silent;
}

void fl_sim_fleet_next(fl_sim_fleet *f, fl_sim_reading *out)
{
    for (;;) {
        uint64_t tick = f->step / f->n;
        uint32_t i = (uint32_t)(f->step % f->n);
        f->step++;
        int64_t ts = next_time(f, tick, i);
        struct device *d = &f->dev[i];
        if (!device_step(f, d, ts, out))
            continue;
        out->device = i;
        memcpy(out->device_id, d->id, sizeof out->device_id);
        out->timestamp_us = ts;
        f->now_us = ts;
        return;
    }
}
