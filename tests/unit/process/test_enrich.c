/* test_enrich.c — enrichment and quality flags: Fahrenheit, local hour and ISO weekday at
 * midnight and week boundaries (UTC and Asia/Seoul), the leap day, every quality bit, and
 * duplicate detection (window, first wins, bounded memory). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <cmocka.h>

#include "process/process.h"

#define S FL_US_PER_SEC
#define MON_2026_03_02 (INT64_C(1772409600) * S) /* 2026-03-02T00:00:00Z, a Monday */
#define ALL (FL_REC_TEMPERATURE | FL_REC_HUMIDITY | FL_REC_PRESSURE | FL_REC_LOCATION)

static fl_record rec_at(int64_t ts)
{
    fl_record r = {0};
    r.device_id = FL_SLICE_LIT("truck-0001");
    r.timestamp_us = ts;
    r.temperature = 21.5, r.humidity = 40, r.pressure = 1013;
    r.latitude = 37.5, r.longitude = 127.0;
    r.present = ALL;
    return r;
}

static void enrich_in(const char *zone, int64_t ts, fl_processed *out)
{
    fl_tz *tz;
    assert_int_equal(fl_tz_load(zone, &tz), 0);
    fl_record r = rec_at(ts);
    fl_enrich(tz, &r, out);
    fl_tz_destroy(tz);
}

static void test_fahrenheit(void **state)
{
    (void)state;
    fl_tz *tz;
    assert_int_equal(fl_tz_load("UTC", &tz), 0);
    const double c[] = {100, -40, 0, 37, -80, 150, 21.5};
    const double f[] = {212, -40, 32, 98.6, -112, 302, 70.7};
    for (size_t i = 0; i < sizeof c / sizeof c[0]; i++) {
        fl_record r = rec_at(MON_2026_03_02);
        r.temperature = c[i];
        fl_processed p;
        fl_enrich(tz, &r, &p);
        assert_float_equal(p.temperature_fahrenheit, f[i], 1e-12);
        assert_true(p.present & FL_REC_TEMPERATURE);
    }
    fl_record r = rec_at(MON_2026_03_02);
    r.present &= ~FL_REC_TEMPERATURE; /* NULL temperature: NULL Fahrenheit, MISSING_FIELD */
    fl_processed p;
    fl_enrich(tz, &r, &p);
    assert_false(p.present & FL_REC_TEMPERATURE);
    assert_int_equal(p.quality_flags, FL_QUALITY_MISSING_FIELD);
    fl_tz_destroy(tz);
}

static void test_midnight_and_week(void **state)
{
    (void)state;
    fl_processed p;
    enrich_in("UTC", MON_2026_03_02 - 1, &p); /* Sunday 23:59:59.999999 */
    assert_int_equal(p.local_hour, 23);
    assert_int_equal(p.day_of_week, 7);
    assert_int_equal(p.is_weekend, 1);
    enrich_in("UTC", MON_2026_03_02, &p);
    assert_int_equal(p.local_hour, 0);
    assert_int_equal(p.day_of_week, 1);
    assert_int_equal(p.is_weekend, 0);
    /* Seoul (+09:00): Monday starts at Sunday 15:00 UTC */
    const int64_t seoul_monday = MON_2026_03_02 - 9 * 3600 * S;
    enrich_in("Asia/Seoul", seoul_monday - S, &p);
    assert_int_equal(p.local_hour, 23);
    assert_int_equal(p.day_of_week, 7);
    assert_int_equal(p.is_weekend, 1);
    enrich_in("Asia/Seoul", seoul_monday, &p);
    assert_int_equal(p.local_hour, 0);
    assert_int_equal(p.day_of_week, 1);
    assert_int_equal(p.is_weekend, 0);
    enrich_in("Asia/Seoul", MON_2026_03_02, &p); /* UTC midnight = 09:00 Monday in Seoul */
    assert_int_equal(p.local_hour, 9);
    /* Friday -> Saturday in Seoul */
    enrich_in("Asia/Seoul", seoul_monday - 2 * 86400 * S - S, &p);
    assert_int_equal(p.day_of_week, 5);
    assert_int_equal(p.is_weekend, 0);
    enrich_in("Asia/Seoul", seoul_monday - 2 * 86400 * S, &p);
    assert_int_equal(p.day_of_week, 6);
    assert_int_equal(p.is_weekend, 1);
}

static void test_leap_day(void **state)
{
    (void)state;
    fl_tz *tz;
    assert_int_equal(fl_tz_load("Asia/Seoul", &tz), 0);
    fl_local_time lt; /* 2028-02-28T23:30Z = 2028-02-29 08:30 in Seoul, a Tuesday */
    fl_tz_local_time(tz, INT64_C(1835393400) * S, &lt);
    assert_int_equal(lt.year, 2028);
    assert_int_equal(lt.month, 2);
    assert_int_equal(lt.day, 29);
    assert_int_equal(lt.hour, 8);
    assert_int_equal(lt.day_of_week, 2);
    fl_tz_local_time(tz, INT64_C(1835438400) * S + 3 * 3600 * S, &lt); /* 03-01 00:00 KST */
    assert_int_equal(lt.month, 3);
    assert_int_equal(lt.day, 1);
    assert_int_equal(lt.hour, 0);
    assert_int_equal(lt.day_of_week, 3);
    fl_tz_destroy(tz);
}

struct proc {
    fl_process_config cfg;
    fl_tz *tz;
    fl_device_state *st;
};

static void proc_init(struct proc *p, int32_t dedup_max)
{
    fl_process_config_defaults(&p->cfg);
    p->cfg.dedup_max_entries = dedup_max;
    assert_int_equal(fl_tz_load("UTC", &p->tz), 0);
    assert_int_equal(fl_device_state_create(&p->cfg, &p->st), 0);
}

static void proc_free(struct proc *p)
{
    fl_device_state_destroy(p->st);
    fl_tz_destroy(p->tz);
}

static uint32_t flags_of(struct proc *p, fl_record r, int64_t arrival)
{
    fl_processed out;
    fl_process_record(&p->cfg, p->tz, p->st, &r, arrival, &out);
    return out.quality_flags;
}

static void test_quality_flags(void **state)
{
    (void)state;
    struct proc p;
    proc_init(&p, 512);
    int64_t t = MON_2026_03_02;
    assert_int_equal(flags_of(&p, rec_at(t), t), 0);
    fl_record r = rec_at(t + S);
    r.present &= ~FL_REC_LOCATION;
    assert_int_equal(flags_of(&p, r, r.timestamp_us), FL_QUALITY_MISSING_FIELD);
    const double bad[][3] = {{150.01, 40, 1013}, {-80.5, 40, 1013}, {20, 100.1, 1013},
                             {20, -0.1, 1013},   {20, 40, 299.9},   {20, 40, 1100.5}};
    for (int i = 0; i < 6; i++) {
        r = rec_at(t + (2 + i) * S);
        r.temperature = bad[i][0], r.humidity = bad[i][1], r.pressure = bad[i][2];
        fl_processed out;
        fl_process_record(&p.cfg, p.tz, p.st, &r, r.timestamp_us, &out);
        assert_int_equal(out.quality_flags, FL_QUALITY_IMPLAUSIBLE);
        assert_float_equal(out.anomaly_score, 1.0, 0);
        assert_int_equal(out.anomaly_flag, 1);
        assert_int_equal(out.anomaly_kind, FL_ANOMALY_IMPLAUSIBLE);
    }
    r = rec_at(t + 10 * S); /* the bounds themselves are plausible */
    r.temperature = -80, r.humidity = 100, r.pressure = 1100;
    assert_int_equal(flags_of(&p, r, r.timestamp_us), 0);
    /* duplicate of an earlier reading */
    assert_int_equal(flags_of(&p, rec_at(t + S), t + 20 * S), FL_QUALITY_DUPLICATE);
    /* late: behind the device's newest by more than late_after (300 s) ... */
    assert_int_equal(flags_of(&p, rec_at(t + 1000 * S), t + 1000 * S), 0);
    assert_int_equal(flags_of(&p, rec_at(t + 699 * S), t + 1000 * S), FL_QUALITY_LATE);
    assert_int_equal(flags_of(&p, rec_at(t + 701 * S), t + 1000 * S), 0);
    /* ... or behind its own arrival */
    assert_int_equal(flags_of(&p, rec_at(t + 1001 * S), t + 1302 * S), FL_QUALITY_LATE);
    assert_int_equal(flags_of(&p, rec_at(t + 1002 * S), t + 1301 * S), 0);
    proc_free(&p);
}

static void test_dedup(void **state)
{
    (void)state;
    struct proc p;
    proc_init(&p, 512);
    const int64_t t = MON_2026_03_02, w = p.cfg.dedup_window_us;
    fl_processed out;
    fl_record first = rec_at(t), retry = rec_at(t);
    retry.temperature = 99; /* first one wins whatever the retry says */
    fl_process_record(&p.cfg, p.tz, p.st, &first, t, &out);
    assert_false(out.quality_flags & FL_QUALITY_DUPLICATE);
    fl_process_record(&p.cfg, p.tz, p.st, &retry, t, &out);
    assert_int_equal(out.quality_flags, FL_QUALITY_DUPLICATE);
    assert_int_equal(out.anomaly_flag, 0);
    /* out of order, then its retry */
    assert_int_equal(flags_of(&p, rec_at(t + 10 * S), t + 10 * S), 0);
    assert_int_equal(flags_of(&p, rec_at(t + 5 * S), t + 10 * S), 0);
    assert_int_equal(flags_of(&p, rec_at(t + 5 * S), t + 10 * S), FL_QUALITY_DUPLICATE);
    assert_int_equal(flags_of(&p, rec_at(t + 10 * S), t + 10 * S), FL_QUALITY_DUPLICATE);
    /* once the newest is more than the window ahead, t is forgotten */
    assert_int_equal(flags_of(&p, rec_at(t + w), t + w), 0);
    assert_int_equal(flags_of(&p, rec_at(t), t + w), FL_QUALITY_DUPLICATE);
    assert_int_equal(flags_of(&p, rec_at(t + w + 1), t + w + 1), 0);
    /* beyond the window: cannot tell (it is late, though) */
    assert_int_equal(flags_of(&p, rec_at(t), t), FL_QUALITY_LATE);
    proc_free(&p);

    /* bounded memory: 8 entries remember the newest 8 timestamps only */
    proc_init(&p, 8);
    for (int i = 0; i < 1000; i++)
        assert_int_equal(flags_of(&p, rec_at(t + i * S), t + i * S), 0);
    for (int i = 992; i < 1000; i++)
        assert_int_equal(flags_of(&p, rec_at(t + i * S), t + i * S), FL_QUALITY_DUPLICATE);
    assert_int_equal(flags_of(&p, rec_at(t + 991 * S), t + 1000 * S), 0);
    fl_buf b = {0};
    assert_int_equal(fl_device_state_encode(p.st, &b), 0);
    assert_true(b.len < 400); /* the checkpoint is bounded too */
    fl_buf_free(&b);
    proc_free(&p);

    /* dedup disabled */
    proc_init(&p, 0);
    assert_int_equal(flags_of(&p, rec_at(t), t), 0);
    assert_int_equal(flags_of(&p, rec_at(t), t), 0);
    proc_free(&p);
}

static void test_config(void **state)
{
    (void)state;
    fl_config cfg;
    fl_config_defaults(&cfg);
    fl_process_config pc;
    char err[256];
    assert_int_equal(fl_process_config_from_config(&cfg, &pc, err, sizeof err), 0);
    assert_string_equal(pc.time_zone, "UTC");
    assert_int_equal(pc.dedup_window_us, 300 * S);
    assert_int_equal(pc.late_after_us, 300 * S);
    assert_int_equal(pc.dedup_max_entries, 512);
    assert_float_equal(pc.anomaly_threshold, 0.5, 0);
    assert_int_equal(fl_config_set(&cfg, "process.time_zone=Asia/Seoul", err, sizeof err), 0);
    assert_int_equal(fl_config_set(&cfg, "process.anomaly_threshold=0.8", err, sizeof err), 0);
    assert_int_equal(fl_process_config_from_config(&cfg, &pc, err, sizeof err), 0);
    assert_string_equal(pc.time_zone, "Asia/Seoul");
    assert_float_equal(pc.anomaly_threshold, 0.8, 0);
    const char *bad[] = {"process.anomaly_threshold=1.5", "process.anomaly_threshold=0",
                         "process.anomaly_threshold=high", "process.anomaly_threshold=0.5x"};
    for (int i = 0; i < 4; i++) {
        assert_int_equal(fl_config_set(&cfg, bad[i], err, sizeof err), 0);
        assert_int_equal(fl_process_config_from_config(&cfg, &pc, err, sizeof err), FL_ECONFIG);
        assert_non_null(strstr(err, "process.anomaly_threshold"));
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_fahrenheit),    cmocka_unit_test(test_midnight_and_week),
        cmocka_unit_test(test_leap_day),      cmocka_unit_test(test_quality_flags),
        cmocka_unit_test(test_dedup),         cmocka_unit_test(test_config),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
