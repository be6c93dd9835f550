/* test_fleet.c — unit tests for the simulated fleet and the record encoder: determinism, every
 * good record valid against DESIGN.md §4.1 (parsed back with jansson), plausible movement, and
 * every anomaly kind present with labels that match the readings. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <jansson.h>
#include <math.h>

#include "sim/sim.h"

#define T0 INT64_C(1795568523000000) /* 2026-11-25T01:02:03Z */

static void test_options(fl_sim_options *o, uint64_t seed)
{
    fl_sim_options_defaults(o);
    o->seed = seed;
    o->start_us = T0;
    o->interval_us = FL_US_PER_SEC;
    o->batch = 500;
    fl_sim_options_resolve(o, T0 + 365LL * 86400 * FL_US_PER_SEC);
}

static void generate(const fl_sim_options *o, int batches, fl_buf *all)
{
    fl_sim_source *src;
    assert_int_equal(fl_sim_source_create(o, &src), 0);
    fl_buf body = {0};
    for (int i = 0; i < batches; i++) {
        assert_int_equal(fl_sim_build_batch(src, 500, 1, &body, NULL), 0);
        assert_int_equal(fl_buf_append(all, body.data, body.len), 0);
    }
    fl_buf_free(&body);
    fl_sim_source_destroy(src);
}

static void same_seed_same_bytes(void **state)
{
    (void)state;
    fl_sim_options o;
    test_options(&o, 42);
    o.bad_rate = o.dup_rate = o.late_rate = o.ooo_rate = 0.02;
    o.anomaly_rate = 0.05;
    fl_buf a = {0}, b = {0}, c = {0};
    generate(&o, 20, &a);
    generate(&o, 20, &b);
    o.seed = 43;
    generate(&o, 20, &c);
    assert_true(a.len > 10000 * 150);
    assert_int_equal(a.len, b.len);
    assert_memory_equal(a.data, b.data, a.len);
    assert_true(a.len != c.len || memcmp(a.data, c.data, a.len) != 0);
    fl_buf_free(&a);
    fl_buf_free(&b);
    fl_buf_free(&c);
}

static int valid_id(const char *s)
{
    size_t n = strlen(s);
    if (n < 1 || n > 128)
        return 0;
    for (size_t i = 0; i < n; i++)
        if (!strchr("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._:-", s[i]))
            return 0;
    return 1;
}

static void good_records_follow_schema(void **state)
{
    (void)state;
    fl_sim_options o;
    test_options(&o, 7);
    o.anomaly_rate = 0; /* implausible values are accepted but not "good" in a range check */
    fl_buf all = {0};
    generate(&o, 10, &all);
    size_t lines = 0;
    for (char *line = all.data, *nl; (nl = strchr(line, '\n')); line = nl + 1, lines++) {
        json_error_t jerr;
        json_t *j = json_loadb(line, (size_t)(nl - line), 0, &jerr);
        assert_non_null(j);
        assert_true(json_is_object(j));
        assert_true(valid_id(json_string_value(json_object_get(j, "device_id"))));
        const char *ts = json_string_value(json_object_get(j, "timestamp"));
        int64_t us;
        assert_int_equal(fl_time_parse_rfc3339(ts, strlen(ts), &us), 0);
        assert_true(us >= T0 && us <= o.horizon_us);
        double t = json_real_value(json_object_get(j, "temperature"));
        double h = json_real_value(json_object_get(j, "humidity"));
        double p = json_real_value(json_object_get(j, "pressure"));
        assert_true(t > -80 && t < 150 && h >= 0 && h <= 100 && p > 300 && p < 1100);
        json_t *loc = json_object_get(j, "location");
        double lat = json_real_value(json_object_get(loc, "latitude"));
        double lon = json_real_value(json_object_get(loc, "longitude"));
        assert_true(fabs(lat - 37.5665) < 0.5 && fabs(lon - 126.978) < 0.5);
        json_t *md = json_object_get(j, "metadata");
        assert_string_equal(json_string_value(json_object_get(md, "version")), "1.2.0");
        assert_string_equal(json_string_value(json_object_get(md, "source")), "fms-gw");
        assert_int_equal(json_object_size(j), 7);
        json_decref(j);
    }
    assert_int_equal(lines, 5000);
    fl_buf_free(&all);
}

static void timestamps_wrap_below_horizon(void **state)
{
    (void)state;
    fl_sim_options o;
    test_options(&o, 1);
    o.devices = 10;
    o.horizon_us = T0 + 100 * FL_US_PER_SEC; /* 100 ticks, then wrap */
    fl_sim_fleet *f;
    assert_int_equal(fl_sim_fleet_create(&o, &f), 0);
    fl_sim_reading r;
    int64_t seen_max = 0;
    int wrapped = 0;
    char first_ts_dev0[8][FL_TIME_RFC3339_MAX];
    int first_count = 0;
    for (int i = 0; i < 3000; i++) {
        fl_sim_fleet_next(f, &r);
        assert_true(r.timestamp_us <= o.horizon_us);
        if (r.timestamp_us < seen_max)
            wrapped = 1;
        seen_max = r.timestamp_us > seen_max ? r.timestamp_us : seen_max;
        if (r.device == 0 && r.timestamp_us < T0 + FL_US_PER_SEC && first_count < 8)
            fl_time_format_rfc3339(r.timestamp_us, first_ts_dev0[first_count++]);
    }
    assert_true(wrapped);
    assert_true(first_count >= 2); /* device 0 at the start of each epoch: distinct times */
    assert_string_not_equal(first_ts_dev0[0], first_ts_dev0[1]);
    fl_sim_fleet_destroy(f);
}

/* ---- movement and anomalies over a long run held in memory ------------------------------- */
#define DEVS 20
#define TICKS 12000

struct run_data {
    fl_sim_reading *r[DEVS];
    size_t n[DEVS];
    fl_sim_label labels[4096];
    char label_ids[4096][32];
    size_t nlabels;
};

static void collect_label(void *ctx, const fl_sim_label *l)
{
    struct run_data *d = ctx;
    if (d->nlabels >= 4096)
        return;
    d->labels[d->nlabels] = *l;
    snprintf(d->label_ids[d->nlabels], 32, "%s", l->device_id);
    d->labels[d->nlabels].device_id = d->label_ids[d->nlabels];
    d->nlabels++;
}

static struct run_data *long_run(void)
{
    struct run_data *d = calloc(1, sizeof *d);
    fl_sim_options o;
    test_options(&o, 99);
    o.devices = DEVS;
    o.anomaly_rate = 0.05;
    fl_sim_fleet *f;
    assert_int_equal(fl_sim_fleet_create(&o, &f), 0);
    fl_sim_fleet_set_label_sink(f, collect_label, d);
    for (int i = 0; i < DEVS; i++)
        d->r[i] = calloc(TICKS, sizeof(fl_sim_reading));
    for (;;) {
        fl_sim_reading r;
        fl_sim_fleet_next(f, &r);
        if (d->n[r.device] >= TICKS)
            break;
        d->r[r.device][d->n[r.device]++] = r;
    }
    fl_sim_fleet_destroy(f);
    return d;
}

static void free_run(struct run_data *d)
{
    for (int i = 0; i < DEVS; i++)
        free(d->r[i]);
    free(d);
}

static double km_between(const fl_sim_reading *a, const fl_sim_reading *b)
{
    double p1 = a->latitude * M_PI / 180, p2 = b->latitude * M_PI / 180;
    double dp = p2 - p1, dl = (b->longitude - a->longitude) * M_PI / 180;
    double h = sin(dp / 2) * sin(dp / 2) + cos(p1) * cos(p2) * sin(dl / 2) * sin(dl / 2);
    return 2 * 6371.0 * asin(sqrt(h));
}

static int in_label(const struct run_data *d, const fl_sim_reading *r, int kind)
{
    for (size_t i = 0; i < d->nlabels; i++) {
        const fl_sim_label *l = &d->labels[i];
        if (l->kind == kind && strcmp(l->device_id, r->device_id) == 0 &&
            r->timestamp_us >= l->start_us && r->timestamp_us <= l->end_us)
            return 1;
    }
    return 0;
}

static double metric_of(const fl_sim_reading *r, const char *m)
{
    return strcmp(m, "temperature") == 0 ? r->temperature
           : strcmp(m, "humidity") == 0  ? r->humidity
                                         : r->pressure;
}

static void movement_is_plausible(void **state)
{
    struct run_data *d = *state;
    size_t pairs = 0, jumps = 0;
    for (int dev = 0; dev < DEVS; dev++) {
        for (size_t i = 1; i < d->n[dev]; i++) {
            const fl_sim_reading *a = &d->r[dev][i - 1], *b = &d->r[dev][i];
            double hours = (double)(b->timestamp_us - a->timestamp_us) / 3.6e9;
            assert_true(hours > 0);
            if (in_label(d, a, FL_SIM_ANOMALY_GPS_JUMP) || in_label(d, b, FL_SIM_ANOMALY_GPS_JUMP)) {
                jumps++;
                continue;
            }
            assert_true(km_between(a, b) / hours < 150.0);
            pairs++;
        }
    }
    assert_true(pairs > DEVS * (TICKS - 200));
    assert_true(jumps > 0);
}

/* Index of the reading of the label's device at or after ts. */
static size_t find_at(const struct run_data *d, int dev, int64_t ts)
{
    size_t i = 0;
    while (i < d->n[dev] && d->r[dev][i].timestamp_us < ts)
        i++;
    return i;
}

static void check_label(const struct run_data *d, const fl_sim_label *l)
{
    int dev = atoi(l->device_id + 6);
    size_t i = find_at(d, dev, l->start_us), j = i;
    while (j < d->n[dev] && d->r[dev][j].timestamp_us <= l->end_us)
        j++; /* [i, j) are the labelled readings */
    const fl_sim_reading *r = d->r[dev];
    if (l->kind == FL_SIM_ANOMALY_DROPOUT) {
        assert_int_equal(i, j);
        return;
    }
    assert_true(j > i);
    if (i == 0 || j >= d->n[dev])
        return; /* at the edges of the run: no neighbours to compare with */
    if (l->kind == FL_SIM_ANOMALY_STUCK) {
        assert_true(j - i >= 3);
        for (size_t k = i + 1; k < j; k++)
            assert_true(metric_of(&r[k], l->metric) == metric_of(&r[i], l->metric));
    } else if (l->kind == FL_SIM_ANOMALY_SPIKE) {
        double v = metric_of(&r[i], l->metric);
        assert_true(fabs(v - metric_of(&r[i - 1], l->metric)) > 10);
        assert_true(fabs(v - metric_of(&r[j], l->metric)) > 10);
    } else if (l->kind == FL_SIM_ANOMALY_GPS_JUMP) {
        assert_true(km_between(&r[i - 1], &r[i]) > 50);
    } else if (l->kind == FL_SIM_ANOMALY_IMPLAUSIBLE) {
        assert_true(r[i].temperature > 150 || r[i].humidity > 100 || r[i].pressure < 300);
    } else if (l->kind == FL_SIM_ANOMALY_DRIFT || l->kind == FL_SIM_ANOMALY_LEVEL_SHIFT) {
        double min_shift = strcmp(l->metric, "temperature") == 0 ? 3 : 5;
        double before = metric_of(&r[i - 1], l->metric), last = metric_of(&r[j - 1], l->metric);
        if (j - i >= 30) /* a span cut short by the end of the run may not have ramped yet */
            assert_true(fabs(last - before) > min_shift);
    }
}

static void anomalies_match_labels(void **state)
{
    struct run_data *d = *state;
    size_t per_kind[FL_SIM_ANOMALY_COUNT] = {0};
    for (size_t k = 0; k < d->nlabels; k++) {
        const fl_sim_label *l = &d->labels[k];
        assert_true(l->kind >= 0 && l->kind < FL_SIM_ANOMALY_COUNT);
        assert_true(l->end_us >= l->start_us);
        per_kind[l->kind]++;
        check_label(d, l);
    }
    for (int k = 0; k < FL_SIM_ANOMALY_COUNT; k++)
        assert_true(per_kind[k] > 0);
    /* affected readings ≈ 5 % of device-time (dropouts are silent, so count spans) */
    uint64_t affected = 0;
    for (int dev = 0; dev < DEVS; dev++)
        for (size_t i = 0; i < d->n[dev]; i++)
            affected += d->r[dev][i].anomaly != FL_SIM_ANOMALY_NONE;
    double frac = (double)affected / (DEVS * TICKS);
    assert_true(frac > 0.02 && frac < 0.08);
}

static int setup_run(void **state)
{
    *state = long_run();
    return 0;
}
static int teardown_run(void **state)
{
    free_run(*state);
    return 0;
}

static void number_formatting(void **state)
{
    (void)state;
    fl_sim_reading r = {.device_id = "truck-0001", .timestamp_us = T0 + 456000,
                        .temperature = -0.004, .humidity = 99.995, .pressure = 1013.1,
                        .latitude = -37.5, .longitude = 126.9780004};
    fl_buf b = {0};
    assert_int_equal(fl_sim_reading_to_json(&r, &b), 0);
    assert_string_equal(b.data, "{\"device_id\":\"truck-0001\",\"timestamp\":"
                                "\"2026-11-25T01:02:03.456Z\",\"temperature\":0.00,"
                                "\"humidity\":100.00,\"pressure\":1013.10,\"location\":"
                                "{\"latitude\":-37.500000,\"longitude\":126.978000},"
                                "\"metadata\":{\"version\":\"1.2.0\",\"source\":\"fms-gw\"}}");
    fl_buf_free(&b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(number_formatting),
        cmocka_unit_test(same_seed_same_bytes),
        cmocka_unit_test(good_records_follow_schema),
        cmocka_unit_test(timestamps_wrap_below_horizon),
        cmocka_unit_test_setup_teardown(movement_is_plausible, setup_run, teardown_run),
        cmocka_unit_test_setup_teardown(anomalies_match_labels, setup_run, teardown_run),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
