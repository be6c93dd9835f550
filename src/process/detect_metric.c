/* detect_metric.c — streaming, causal anomaly detection on one scalar metric of one device
 * (temperature, humidity or pressure). See docs/anomaly.md for the maths.
 *
 * Per reading x at event time t, with dt the time since the metric's previous reading:
 *  - baseline: level L, an EWMA with time constant baseline_tau_s (α = 1 − e^(−dt/τ), so
 *    irregular intervals weigh correctly), updated with the residual r = x − L clipped to
 *    ±level_clip_sigma·scale (a Huber update: an outlier cannot drag the baseline);
 *  - robust scale: s = max(√(π/2)·MAD, floor), MAD an EWMA (scale_tau_s) of |r| clipped to
 *    3·s; z = r / s;
 *  - point detector (spikes, and level shifts while they last): logistic(|z|; spike_z);
 *  - two-sided CUSUM on z with allowance k and decision interval h (drifts and level shifts):
 *    logistic(max(C+, C−); h);
 *  - stuck: the run length of identical values against the run length a normal series of
 *    this metric reaches with probability stuck_false_alarm, learned from its repeat rate.
 * Scores are only produced after warmup_samples readings (the stuck detector too: it needs
 * the repeat rate). Nothing here allocates. */
#include <math.h>

#include "process/process_int.h"

#define SQRT_HALF_PI 1.2533141373155003 /* σ = √(π/2)·E|r| for a normal residual */
#define MAD_CLIP_SIGMA 3.0
#define REPEAT_MEMORY 2000.0 /* readings the repeat rate averages over */
#define SAMPLES_MAX 0x7fffffffu

double detect_logistic(double x, double centre, double width)
{
    double u = (x - centre) / width;
    if (u > 40)
        return 1.0;
    if (u < -40)
        return 0.0;
    return 1.0 / (1.0 + exp(-u));
}

static double clamp(double x, double lo, double hi)
{
    return x < lo ? lo : x > hi ? hi : x;
}

/* Run length a normal series reaches with probability p_fa, given the chance `rate` that a
 * reading repeats the previous one: rate^(N-1) = p_fa. */
static double stuck_length(const fl_detector_params *p, double rate)
{
    double r = rate < 1e-6 ? 1e-6 : rate;
    double n = 1.0 + log(p->stuck_false_alarm) / log(r);
    return clamp(n, p->stuck_min_run, p->stuck_max_run);
}

static void score_stuck(const fl_detector_params *p, int metric, const struct metric_state *m,
                        struct verdict *v)
{
    if (m->repeat_rate > p->stuck_flat_rate || m->run < 2)
        return;
    double n = stuck_length(p, m->repeat_rate);
    verdict_take(v, detect_logistic(m->run, n, fmax(1.0, n / 8)), FL_ANOMALY_STUCK, metric + 1);
}

static void learn_repeats(struct metric_state *m, double x, const fl_detector_params *p)
{
    int same = x == m->last_value;
    m->run = same ? m->run + 1 : 1;
    m->last_value = x;
    if (m->run <= (uint32_t)p->stuck_min_run) { /* a stuck episode must not teach flatness */
        double n = m->samples < REPEAT_MEMORY ? (double)m->samples : REPEAT_MEMORY;
        m->repeat_rate += ((double)same - m->repeat_rate) / (n < 1 ? 1 : n);
    }
}

static void score_deviation(const fl_detector_params *p, int metric, struct metric_state *m,
                            double z, struct verdict *v)
{
    double az = fabs(z);
    m->outlier_run = az >= p->spike_z ? m->outlier_run + 1 : 0;
    double cap = 2 * p->cusum_h;
    m->cusum_pos = fmin(cap, fmax(0.0, m->cusum_pos + z - p->cusum_k));
    m->cusum_neg = fmin(cap, fmax(0.0, m->cusum_neg - z - p->cusum_k));
    double c = fmax(m->cusum_pos, m->cusum_neg);
    if (c >= p->cusum_h && m->outlier_run == 0)
        m->drift_onset = 1;
    else if (c < p->cusum_h && m->outlier_run == 0)
        m->drift_onset = 0;
    int shift = m->drift_onset ? FL_ANOMALY_DRIFT : FL_ANOMALY_LEVEL_SHIFT;
    int point = m->outlier_run <= 1 ? FL_ANOMALY_SPIKE : shift;
    verdict_take(v, detect_logistic(az, p->spike_z, p->spike_width), point, metric + 1);
    verdict_take(v, detect_logistic(c, p->cusum_h, p->cusum_h / 10), shift, metric + 1);
}

void detect_metric(const fl_detector_params *p, int metric, struct metric_state *m, double x,
                   int64_t t_us, struct verdict *v)
{
    if (m->samples == 0) {
        memset(m, 0, sizeof *m);
        m->level = m->last_value = x;
        m->run = 1;
        m->last_us = t_us;
        m->samples = 1;
        return;
    }
    double dt_s = (double)(t_us - m->last_us) / 1e6;
    dt_s = dt_s > 0 ? dt_s : 1e-3;
    m->last_us = t_us;
    learn_repeats(m, x, p);
    double scale = fmax(SQRT_HALF_PI * m->mad, p->scale_floor[metric]);
    double r = x - m->level;
    int warm = m->samples >= (uint32_t)p->warmup_samples;
    if (warm) {
        score_deviation(p, metric, m, r / scale, v);
        score_stuck(p, metric, m, v);
    }
    /* Learning: plain running means while warming up, then time-weighted EWMAs. */
    double n = (double)m->samples + 1;
    double a_level = warm ? -expm1(-dt_s / p->baseline_tau_s) : 1.0 / n;
    double a_scale = -expm1(-dt_s / p->scale_tau_s);
    if (a_scale < 1.0 / n)
        a_scale = 1.0 / n; /* the first scale_tau_s of a device: a running mean of |r| */
    double rc = warm ? clamp(r, -p->level_clip_sigma * scale, p->level_clip_sigma * scale) : r;
    m->level += a_level * rc;
    m->mad += a_scale * (fmin(fabs(r), MAD_CLIP_SIGMA * scale) - m->mad);
    if (m->samples < SAMPLES_MAX)
        m->samples++;
}
