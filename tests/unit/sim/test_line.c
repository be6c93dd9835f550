/* test_line.c — unit tests for the InfluxDB line-protocol rendering of `sim --target influx`:
 * exact lines, escaping of tag values (spaces, commas, equals signs), float formatting,
 * absent (NaN) fields, points that cannot be written, line-protocol bodies carrying the same
 * readings as the JSON bodies of the same seed, and the flags of the influx target. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <jansson.h>
#include <math.h>

#include "sim/sim.h"

#define T0 INT64_C(1795568523000000)

static fl_sim_reading reading(const char *id)
{
    fl_sim_reading r = {0};
    snprintf(r.device_id, sizeof r.device_id, "%s", id);
    r.timestamp_us = T0 + 456789;
    r.temperature = 21.5;
    r.humidity = 40.2;
    r.pressure = 1013.1;
    r.latitude = 37.56;
    r.longitude = 126.97;
    r.anomaly = FL_SIM_ANOMALY_NONE;
    return r;
}

static void line_of(const fl_sim_reading *r, const char *version, const char *source,
                    const char *want)
{
    fl_buf b = {0};
    assert_int_equal(fl_sim_reading_to_line(r, version, source, &b), 0);
    assert_string_equal(b.data, want);
    fl_buf_free(&b);
}

static void exact_line(void **state)
{
    (void)state;
    fl_sim_reading r = reading("truck-0042");
    line_of(&r, "1.2.0", "fms-gw",
            "sensor,device_id=truck-0042,source=fms-gw,version=1.2.0 temperature=21.50,"
            "humidity=40.20,pressure=1013.10,latitude=37.560000,longitude=126.970000 "
            "1795568523456789\n");
    /* appends: a second line follows the first */
    fl_buf b = {0};
    assert_int_equal(fl_sim_reading_to_line(&r, NULL, NULL, &b), 0);
    size_t first = b.len;
    assert_int_equal(fl_sim_reading_to_line(&r, NULL, NULL, &b), 0);
    assert_int_equal(b.len, 2 * first);
    assert_memory_equal(b.data, b.data + first, first);
    fl_buf_free(&b);
}

static void tag_values_escaped(void **state)
{
    (void)state;
    fl_sim_reading r = reading("truck 1,a=b");
    r.humidity = r.pressure = r.latitude = r.longitude = NAN;
    line_of(&r, "1.2 beta", "gw,x=1",
            "sensor,device_id=truck\\ 1\\,a\\=b,source=gw\\,x\\=1,version=1.2\\ beta "
            "temperature=21.50 1795568523456789\n");
    /* a backslash inside a value is literal; other bytes pass through */
    fl_sim_reading q = reading("a\\b:c.d-e");
    q.humidity = q.pressure = q.latitude = q.longitude = NAN;
    line_of(&q, "", NULL, "sensor,device_id=a\\b:c.d-e temperature=21.50 1795568523456789\n");
}

static void floats_formatted(void **state)
{
    (void)state;
    fl_sim_reading r = reading("t");
    r.temperature = -3.456;         /* rounds half away from zero to 2 decimals */
    r.humidity = 0.004;             /* rounds to zero: no minus sign, no exponent */
    r.pressure = 1100;              /* whole numbers keep their decimals: still a float */
    r.latitude = -0.0000004;        /* rounds to -0.000000: printed without the sign */
    r.longitude = -122.123456789;
    r.timestamp_us = 946684800000000; /* 2000-01-01 */
    line_of(&r, NULL, NULL,
            "sensor,device_id=t temperature=-3.46,humidity=0.00,pressure=1100.00,"
            "latitude=0.000000,longitude=-122.123457 946684800000000\n");
}

static void missing_fields_absent(void **state)
{
    (void)state;
    fl_sim_reading r = reading("t");
    r.temperature = NAN; /* first field absent: no leading comma */
    r.pressure = NAN;    /* one in the middle: no double comma */
    line_of(&r, NULL, "s",
            "sensor,device_id=t,source=s humidity=40.20,latitude=37.560000,"
            "longitude=126.970000 1795568523456789\n");
    r = reading("t");
    r.latitude = r.longitude = NAN; /* no location: the line ends with pressure */
    line_of(&r, NULL, NULL,
            "sensor,device_id=t temperature=21.50,humidity=40.20,pressure=1013.10 "
            "1795568523456789\n");
    r.temperature = INFINITY; /* not representable: left out like a NaN */
    line_of(&r, NULL, NULL,
            "sensor,device_id=t humidity=40.20,pressure=1013.10 1795568523456789\n");
}

static void invalid_points_refused(void **state)
{
    (void)state;
    fl_buf b = {0};
    fl_sim_reading r = reading("t");
    r.temperature = r.humidity = r.pressure = r.latitude = r.longitude = NAN;
    assert_int_equal(fl_sim_reading_to_line(&r, NULL, NULL, &b), FL_EINVAL); /* no field */
    r = reading("");
    assert_int_equal(fl_sim_reading_to_line(&r, NULL, NULL, &b), FL_EINVAL); /* no series */
    r = reading("truck\n1");
    assert_int_equal(fl_sim_reading_to_line(&r, NULL, NULL, &b), FL_EINVAL); /* newline */
    r = reading("truck\\");
    assert_int_equal(fl_sim_reading_to_line(&r, NULL, NULL, &b), FL_EINVAL); /* escapes ' ' */
    r = reading("t");
    char big[200];
    memset(big, 'v', sizeof big - 1);
    big[sizeof big - 1] = 0;
    assert_int_equal(fl_sim_reading_to_line(&r, big, NULL, &b), FL_EINVAL); /* > 128 bytes */
    assert_int_equal(b.len, 0); /* nothing half-written */
    /* the longest tag values allowed, all escaped, still fit */
    char worst[129];
    memset(worst, ',', 128);
    worst[128] = 0;
    memset(r.device_id, '=', sizeof r.device_id - 1);
    r.device_id[sizeof r.device_id - 1] = 0;
    r.temperature = r.humidity = r.pressure = -9.99e14;
    assert_int_equal(fl_sim_reading_to_line(&r, worst, worst, &b), 0);
    assert_true(b.len > 2 * 128 + 2 * 128 + 2 * 31);
    fl_buf_free(&b);
}

static void base_options(fl_sim_options *o)
{
    fl_sim_options_defaults(o);
    o->start_us = T0;
    o->interval_us = FL_US_PER_SEC;
    o->devices = 100;
    o->anomaly_rate = 0.05;
    fl_sim_options_resolve(o, T0 + 365LL * 86400 * FL_US_PER_SEC);
}

/* The value text of `key=` in a line, up to ',' or ' '. */
static void field_text(const char *line, const char *key, char *out, size_t cap)
{
    char pat[32];
    snprintf(pat, sizeof pat, "%s=", key);
    const char *p = strstr(line, pat);
    assert_non_null(p);
    p += strlen(pat);
    size_t n = strcspn(p, ", \n");
    assert_true(n < cap);
    memcpy(out, p, n);
    out[n] = 0;
}

/* The same seed gives the same readings in both formats: same device, timestamp and digits. */
static void bodies_match_json(void **state)
{
    (void)state;
    fl_sim_options o;
    base_options(&o);
    o.bad_rate = 0.3; /* ignored for line protocol: no bad records there */
    fl_sim_source *ls, *js;
    assert_int_equal(fl_sim_source_create(&o, &ls), 0);
    o.bad_rate = 0;
    assert_int_equal(fl_sim_source_create(&o, &js), 0);
    fl_buf lb = {0}, jb = {0};
    fl_sim_batch_meta meta = {.want_ids = 1};
    for (int batch = 0; batch < 4; batch++) {
        assert_int_equal(fl_sim_build_batch(ls, 500, FL_SIM_BODY_LINE_PROTOCOL, &lb, &meta), 0);
        assert_int_equal(fl_sim_build_batch(js, 500, FL_SIM_BODY_NDJSON, &jb, NULL), 0);
        assert_int_equal(meta.count, 500);
        assert_int_equal(meta.bad, 0);
        assert_int_equal(lb.data[lb.len - 1], '\n');
        char *l = lb.data, *j = jb.data;
        for (int i = 0; i < 500; i++) {
            char *lnl = strchr(l, '\n'), *jnl = strchr(j, '\n');
            assert_non_null(lnl);
            assert_non_null(jnl);
            *lnl = *jnl = 0;
            assert_int_equal(meta.kinds[i], 0);
            assert_int_equal(meta.id_len[i], 0); /* no ids: --acked-out is refused */
            json_error_t jerr;
            json_t *rec = json_loads(j, 0, &jerr);
            assert_non_null(rec);
            char want[128], got[64];
            snprintf(want, sizeof want, "sensor,device_id=%s,source=fms-gw,version=1.2.0 ",
                     json_string_value(json_object_get(rec, "device_id")));
            assert_memory_equal(l, want, strlen(want));
            int64_t us;
            const char *ts = json_string_value(json_object_get(rec, "timestamp"));
            assert_int_equal(fl_time_parse_rfc3339(ts, strlen(ts), &us), 0);
            assert_int_equal(strtoll(strrchr(l, ' ') + 1, NULL, 10), us);
            static const char *const keys[] = {"temperature", "humidity", "pressure",
                                               "latitude", "longitude"};
            for (int k = 0; k < 5; k++) { /* the very digits of the JSON record */
                field_text(l, keys[k], got, sizeof got);
                char jkey[128];
                snprintf(jkey, sizeof jkey, "\"%s\":%s", keys[k], got);
                assert_non_null(strstr(j, jkey));
            }
            json_decref(rec);
            l = lnl + 1;
            j = jnl + 1;
        }
        assert_int_equal((size_t)(l - lb.data), lb.len);
    }
    fl_sim_gen_stats st;
    fl_sim_source_stats(ls, &st);
    assert_int_equal(st.bad, 0);
    assert_int_equal(st.good, 2000);
    fl_sim_batch_meta_free(&meta);
    fl_buf_free(&lb);
    fl_buf_free(&jb);
    fl_sim_source_destroy(ls);
    fl_sim_source_destroy(js);
}

static void influx_flags(void **state)
{
    (void)state;
    fl_sim_options o;
    char err[512];
    char *plain[] = {"sim", "--target", "influx"};
    assert_int_equal(fl_sim_options_parse(&o, 3, plain, stdout, err, sizeof err), 0);
    assert_int_equal(o.target, FL_SIM_TARGET_INFLUX);
    assert_string_equal(o.url, "http://127.0.0.1:8086"); /* influxd's port unless --url */
    assert_string_equal(o.influx_db, "fleetlake");
    char *full[] = {"sim", "--url", "http://127.0.0.1:9999", "--target=influx", "--influx-db",
                    "bench_1", "--gzip"};
    assert_int_equal(fl_sim_options_parse(&o, 7, full, stdout, err, sizeof err), 0);
    assert_string_equal(o.url, "http://127.0.0.1:9999");
    assert_string_equal(o.influx_db, "bench_1");
    char *fl[] = {"sim"};
    assert_int_equal(fl_sim_options_parse(&o, 1, fl, stdout, err, sizeof err), 0);
    assert_int_equal(o.target, FL_SIM_TARGET_FLEETLAKE);
    assert_string_equal(o.url, "http://127.0.0.1:8080");

    struct {
        int argc;
        char *argv[5];
        const char *needle;
    } bad[] = {
        {5, {"sim", "--target", "influx", "--bad-rate", "0.1"}, "--bad-rate"},
        {5, {"sim", "--bad-rate", "0.01", "--target", "influx"}, "--target influx"},
        {4, {"sim", "--target", "influx", "--ndjson"}, "--ndjson"},
        {5, {"sim", "--target", "influx", "--acked-out", "x"}, "--acked-out"},
        {3, {"sim", "--target", "prometheus"}, "--target"},
        {3, {"sim", "--influx-db", "a b"}, "--influx-db"},
        {3, {"sim", "--influx-db", "db&q=DROP"}, "--influx-db"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        err[0] = 0;
        assert_int_equal(fl_sim_options_parse(&o, bad[i].argc, bad[i].argv, stdout, err, sizeof err),
                         FL_EINVAL);
        if (!strstr(err, bad[i].needle))
            fail_msg("case %zu: '%s' does not name '%s'", i, err, bad[i].needle);
    }
    assert_int_equal(fl_sim_main(5, bad[0].argv), 2); /* a usage error, with the message */
    /* fl_sim_run refuses the same combination for in-process callers */
    fl_sim_options_defaults(&o);
    o.target = FL_SIM_TARGET_INFLUX;
    o.bad_rate = 0.5;
    fl_sim_summary sum;
    assert_int_equal(fl_sim_run(&o, &sum, NULL), FL_EINVAL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(exact_line),
        cmocka_unit_test(tag_values_escaped),
        cmocka_unit_test(floats_formatted),
        cmocka_unit_test(missing_fields_absent),
        cmocka_unit_test(invalid_points_refused),
        cmocka_unit_test(bodies_match_json),
        cmocka_unit_test(influx_flags),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
