/* test_detect.c — each detector on a synthetic series with a known anomaly (spike, level
 * shift, slow drift, stuck, implausible, GPS jump, dropout), two days of a clean series with a
 * daily cycle (no flag at all), the checkpoint round trip (identical continuation) and hostile
 * checkpoint blobs. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <cmocka.h>

#include "process/process.h"

#define S FL_US_PER_SEC
#define T0 (INT64_C(1772409600) * S) /* 2026-03-02T00:00:00Z */
#define ALL (FL_REC_TEMPERATURE | FL_REC_HUMIDITY | FL_REC_PRESSURE | FL_REC_LOCATION)

/* A deterministic sensor: daily cycle, AR(1) noise, 2-decimal values, driving north at 60 km/h. */
struct series {
    uint64_t rng;
    double t_noise, h_noise, p_noise;
};

static double gauss(struct series *s)
{
    double u[2];
    for (int i = 0; i < 2; i++) {
        s->rng ^= s->rng << 13, s->rng ^= s->rng >> 7, s->rng ^= s->rng << 17;
        u[i] = ((double)(s->rng >> 11) + 0.5) / 9007199254740992.0;
    }
    return sqrt(-2 * log(u[0])) * cos(2 * M_PI * u[1]);
}

static fl_record reading(struct series *s, int64_t i)
{
    double t = (double)i, day = sin(2 * M_PI * t / 86400);
    s->t_noise = 0.99 * s->t_noise + 0.14 * 0.3 * gauss(s);
    s->h_noise = 0.995 * s->h_noise + 0.1 * 1.5 * gauss(s);
    s->p_noise = 0.998 * s->p_noise + 0.063 * 0.3 * gauss(s);
    fl_record r = {0};
    r.device_id = FL_SLICE_LIT("truck-0007");
    r.timestamp_us = T0 + i * S;
    r.temperature = round((15 + 7 * day + s->t_noise + 0.03 * gauss(s)) * 100) / 100;
    r.humidity = round((60 - 15 * day + s->h_noise) * 100) / 100;
    r.pressure = round((1010 + 3 * sin(2 * M_PI * t / 200000) + s->p_noise) * 100) / 100;
    r.latitude = 37.0 + t * (60.0 / 3600) / 111.32;
    r.longitude = 127.0;
    r.present = ALL;
    return r;
}

struct run {
    fl_process_config cfg;
    fl_tz *tz;
    fl_device_state *st;
    struct series s;
};

static void run_init(struct run *r)
{
    fl_process_config_defaults(&r->cfg);
    assert_int_equal(fl_tz_load("Asia/Seoul", &r->tz), 0);
    assert_int_equal(fl_device_state_create(&r->cfg, &r->st), 0);
    r->s = (struct series){.rng = 0x9E3779B97F4A7C15ull};
}

static void run_free(struct run *r)
{
    fl_device_state_destroy(r->st);
    fl_tz_destroy(r->tz);
}

static void step(struct run *r, fl_record *rec, fl_processed *out)
{
    fl_process_record(&r->cfg, r->tz, r->st, rec, rec->timestamp_us, out);
}

/* Feed readings [from, to) unchanged; return how many were flagged. */
static int feed_clean(struct run *r, int64_t from, int64_t to)
{
    int flags = 0;
    for (int64_t i = from; i < to; i++) {
        fl_record rec = reading(&r->s, i);
        fl_processed out;
        step(r, &rec, &out);
        assert_true(out.anomaly_score >= 0 && out.anomaly_score <= 1);
        flags += out.anomaly_flag;
    }
    return flags;
}

static const int64_t WARM = 3600; /* an hour of history before the anomaly */

static void test_clean_daily_cycle(void **state)
{
    (void)state;
    struct run r;
    run_init(&r);
    assert_int_equal(feed_clean(&r, 0, 2 * 86400), 0);
    run_free(&r);
}

static void test_spike(void **state)
{
    (void)state;
    struct run r;
    run_init(&r);
    assert_int_equal(feed_clean(&r, 0, WARM), 0);
    fl_record rec = reading(&r.s, WARM);
    rec.temperature += 12;
    fl_processed out;
    step(&r, &rec, &out);
    assert_int_equal(out.anomaly_flag, 1);
    assert_true(out.anomaly_score > 0.99);
    assert_int_equal(out.anomaly_kind, FL_ANOMALY_SPIKE);
    assert_int_equal(out.anomaly_metric, FL_METRIC_TEMPERATURE);
    assert_string_equal(fl_anomaly_kind_name(out.anomaly_kind), "spike");
    assert_string_equal(fl_metric_name(out.anomaly_metric), "temperature");
    assert_int_equal(feed_clean(&r, WARM + 1, WARM + 1800), 0); /* the baseline was not dragged */
    run_free(&r);
}

static void test_level_shift(void **state)
{
    (void)state;
    struct run r;
    run_init(&r);
    assert_int_equal(feed_clean(&r, 0, WARM), 0);
    int flagged = 0, shift_kind = 0;
    for (int64_t i = WARM; i < WARM + 180; i++) {
        fl_record rec = reading(&r.s, i);
        rec.pressure += 12;
        fl_processed out;
        step(&r, &rec, &out);
        if (i == WARM)
            assert_int_equal(out.anomaly_flag, 1); /* caught on its first reading */
        flagged += out.anomaly_flag;
        shift_kind += out.anomaly_kind == FL_ANOMALY_LEVEL_SHIFT;
        assert_true(!out.anomaly_flag || out.anomaly_metric == FL_METRIC_PRESSURE);
    }
    assert_true(flagged >= 170); /* flagged for as long as it lasts */
    assert_true(shift_kind >= 150);
    run_free(&r);
}

static void test_slow_drift(void **state)
{
    (void)state;
    struct run r;
    run_init(&r);
    assert_int_equal(feed_clean(&r, 0, WARM), 0);
    int64_t first = -1;
    int kind = 0;
    for (int64_t i = 0; i < 300; i++) { /* +6 °C over 5 minutes: 0.02 °C per reading */
        fl_record rec = reading(&r.s, WARM + i);
        rec.temperature += 6.0 * (double)(i + 1) / 300;
        fl_processed out;
        step(&r, &rec, &out);
        if (out.anomaly_flag && first < 0) {
            first = i;
            kind = out.anomaly_kind;
            assert_int_equal(out.anomaly_metric, FL_METRIC_TEMPERATURE);
        }
    }
    assert_true(first > 0 && first < 300);
    assert_int_equal(kind, FL_ANOMALY_DRIFT); /* the CUSUM fires before the point detector */
    run_free(&r);
}

static void test_stuck(void **state)
{
    (void)state;
    struct run r;
    run_init(&r);
    assert_int_equal(feed_clean(&r, 0, WARM), 0);
    double stuck = 0;
    int64_t first = -1;
    for (int64_t i = 0; i < 120; i++) {
        fl_record rec = reading(&r.s, WARM + i);
        if (i == 0)
            stuck = rec.humidity;
        rec.humidity = stuck;
        fl_processed out;
        step(&r, &rec, &out);
        if (out.anomaly_flag && first < 0) {
            first = i;
            assert_int_equal(out.anomaly_kind, FL_ANOMALY_STUCK);
            assert_int_equal(out.anomaly_metric, FL_METRIC_HUMIDITY);
        }
    }
    assert_true(first >= 6 && first <= 30);
    run_free(&r);
}

static void test_implausible_gps_dropout(void **state)
{
    (void)state;
    struct run r;
    run_init(&r);
    assert_int_equal(feed_clean(&r, 0, WARM), 0);
    fl_processed out;
    fl_record rec = reading(&r.s, WARM);
    rec.humidity = 150;
    step(&r, &rec, &out);
    assert_float_equal(out.anomaly_score, 1.0, 0);
    assert_int_equal(out.anomaly_kind, FL_ANOMALY_IMPLAUSIBLE);
    assert_int_equal(out.anomaly_metric, FL_METRIC_HUMIDITY);
    assert_true(out.quality_flags & FL_QUALITY_IMPLAUSIBLE);
    /* GPS: 80 km away for one fix, then back on the route */
    rec = reading(&r.s, WARM + 1);
    rec.latitude += 80 / 111.32;
    step(&r, &rec, &out);
    assert_int_equal(out.anomaly_flag, 1);
    assert_int_equal(out.anomaly_kind, FL_ANOMALY_GPS_JUMP);
    assert_int_equal(out.anomaly_metric, FL_METRIC_LOCATION);
    assert_int_equal(feed_clean(&r, WARM + 2, WARM + 600), 0);
    /* dropout: 60 s of silence, noticed on the first reading after it */
    for (int64_t i = WARM + 600; i < WARM + 660; i++)
        (void)reading(&r.s, i);
    rec = reading(&r.s, WARM + 660);
    step(&r, &rec, &out);
    assert_int_equal(out.anomaly_flag, 1);
    assert_int_equal(out.anomaly_kind, FL_ANOMALY_DROPOUT);
    assert_int_equal(out.anomaly_metric, FL_METRIC_ALL);
    assert_int_equal(feed_clean(&r, WARM + 661, WARM + 1200), 0);
    /* a relocation (two agreeing fixes far away) is flagged once, then accepted */
    int flagged = 0;
    for (int64_t i = WARM + 1200; i < WARM + 1260; i++) {
        rec = reading(&r.s, i);
        rec.longitude += 1.0;
        step(&r, &rec, &out);
        flagged += out.anomaly_flag;
    }
    assert_int_equal(flagged, 1);
    run_free(&r);
}

/* Anomalies at fixed places of a 3 h series: for the round trip. */
static void anomalous(struct series *s, int64_t i, fl_record *rec)
{
    *rec = reading(s, i);
    if (i % 2000 == 1500)
        rec->temperature += 15;
    if (i % 3000 >= 2500 && i % 3000 < 2600)
        rec->humidity += 20;
    if (i == 7000)
        rec->latitude += 1;
}

static void test_state_round_trip(void **state)
{
    (void)state;
    const int64_t n = 3 * 3600, half = 5000;
    struct run a, b;
    run_init(&a);
    run_init(&b);
    double *scores = malloc((size_t)n * sizeof *scores);
    int flags = 0;
    for (int64_t i = 0; i < n; i++) {
        fl_record rec;
        fl_processed out;
        anomalous(&a.s, i, &rec);
        step(&a, &rec, &out);
        scores[i] = out.anomaly_score;
        flags += out.anomaly_flag;
    }
    assert_true(flags > 50);
    fl_buf blob = {0};
    for (int64_t i = 0; i < n; i++) {
        if (i == half) { /* "restart": checkpoint, decode into a fresh state, continue */
            assert_int_equal(fl_device_state_encode(b.st, &blob), 0);
            fl_device_state_destroy(b.st);
            assert_int_equal(fl_device_state_create(&b.cfg, &b.st), 0);
            assert_int_equal(fl_device_state_decode(b.st, blob.data, blob.len), 0);
        }
        fl_record rec;
        fl_processed out;
        anomalous(&b.s, i, &rec);
        step(&b, &rec, &out);
        assert_memory_equal(&out.anomaly_score, &scores[i], sizeof(double));
    }
    /* the dedup memory survived too: a retry of a pre-restart reading is still a duplicate */
    fl_buf_reset(&blob);
    assert_int_equal(fl_device_state_encode(b.st, &blob), 0);
    fl_device_state *c;
    assert_int_equal(fl_device_state_create(&b.cfg, &c), 0);
    assert_int_equal(fl_device_state_decode(c, blob.data, blob.len), 0);
    fl_record rec = reading(&b.s, n - 10);
    fl_processed out;
    fl_process_record(&b.cfg, b.tz, c, &rec, rec.timestamp_us, &out);
    assert_int_equal(out.quality_flags & FL_QUALITY_DUPLICATE, FL_QUALITY_DUPLICATE);
    fl_device_state_destroy(c);
    fl_buf_free(&blob);
    free(scores);
    run_free(&a);
    run_free(&b);
}

static void test_hostile_blobs(void **state)
{
    (void)state;
    struct run r;
    run_init(&r);
    assert_int_equal(feed_clean(&r, 0, 1000), 0);
    fl_buf blob = {0};
    assert_int_equal(fl_device_state_encode(r.st, &blob), 0);
    unsigned char *b = (unsigned char *)blob.data;
    assert_int_equal(fl_device_state_decode(r.st, b, blob.len), 0);
    for (size_t len = 0; len < blob.len; len++) /* every truncation */
        assert_int_equal(fl_device_state_decode(r.st, b, len), FL_ECORRUPT);
    for (size_t i = 0; i < blob.len; i++) { /* every single-bit flip */
        b[i] ^= 0x10;
        assert_int_equal(fl_device_state_decode(r.st, b, blob.len), FL_ECORRUPT);
        b[i] ^= 0x10;
    }
    /* valid CRC, hostile content: a NaN scale, a huge dedup count, non-increasing timestamps */
    const size_t mad_off = 28 + 8; /* header 28 bytes, then level, mad */
    static const unsigned char nan_bits[8] = {0, 0, 0, 0, 0, 0, 0xf8, 0x7f};
    unsigned char *copy = malloc(blob.len);
    memcpy(copy, b, blob.len);
    memcpy(copy + mad_off, nan_bits, 8);
    fl_put_u32(copy + blob.len - 4, fl_crc32c(0, copy, blob.len - 4));
    assert_int_equal(fl_device_state_decode(r.st, copy, blob.len), FL_ECORRUPT);
    size_t count_off = 28 + 3 * 69 + 50;
    assert_int_equal(fl_get_u32(b + count_off), 301); /* the 300 s window, both ends */
    memcpy(copy, b, blob.len);
    fl_put_u32(copy + count_off, 0xffffffffu);
    fl_put_u32(copy + blob.len - 4, fl_crc32c(0, copy, blob.len - 4));
    assert_int_equal(fl_device_state_decode(r.st, copy, blob.len), FL_ECORRUPT);
    memcpy(copy, b, blob.len);
    copy[count_off + 4 + 8] = 0; /* a zero delta */
    fl_put_u32(copy + blob.len - 4, fl_crc32c(0, copy, blob.len - 4));
    assert_int_equal(fl_device_state_decode(r.st, copy, blob.len), FL_ECORRUPT);
    /* after a failed decode the state is fresh and usable */
    fl_record rec = reading(&r.s, 1000);
    fl_processed out;
    step(&r, &rec, &out);
    assert_int_equal(out.quality_flags, 0);
    free(copy);
    fl_buf_free(&blob);
    run_free(&r);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_clean_daily_cycle),
        cmocka_unit_test(test_spike),
        cmocka_unit_test(test_level_shift),
        cmocka_unit_test(test_slow_drift),
        cmocka_unit_test(test_stuck),
        cmocka_unit_test(test_implausible_gps_dropout),
        cmocka_unit_test(test_state_round_trip),
        cmocka_unit_test(test_hostile_blobs),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
