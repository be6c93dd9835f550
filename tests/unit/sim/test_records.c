/* test_records.c — unit tests for the record source and the flags: every bad-record kind is
 * produced and breaks the rule its expected code names, duplicate/late/out-of-order rates
 * match the configuration over 100k records, JSON-array bodies are arrays, and bad flags are
 * refused with a message naming them. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <jansson.h>

#include "sim/sim.h"

#define T0 INT64_C(1795568523000000)

static void base_options(fl_sim_options *o)
{
    fl_sim_options_defaults(o);
    o->start_us = T0;
    o->interval_us = FL_US_PER_SEC;
    o->batch = 500;
    fl_sim_options_resolve(o, T0 + 365LL * 86400 * FL_US_PER_SEC);
}

/* Check that record text t of bad kind k breaks its rule. */
static void check_bad(int k, const char *t, size_t n)
{
    json_error_t jerr;
    json_t *j = json_loadb(t, n, JSON_DECODE_ANY, &jerr);
    const char *code = fl_sim_bad_expected_code(k);
    if (k == FL_SIM_BAD_MALFORMED_JSON) {
        assert_null(j);
        assert_string_equal(code, "bad_json");
        return;
    }
    assert_non_null(j);
    json_t *id = json_object_get(j, "device_id"), *ts = json_object_get(j, "timestamp");
    json_t *loc = json_object_get(j, "location"), *md = json_object_get(j, "metadata");
    const char *tss = json_string_value(ts);
    int64_t us = 0;
    switch (k) {
    case FL_SIM_BAD_NOT_OBJECT: assert_false(json_is_object(j)); break;
    case FL_SIM_BAD_MISSING_DEVICE_ID: assert_null(id); break;
    case FL_SIM_BAD_MISSING_TIMESTAMP: assert_null(ts); break;
    case FL_SIM_BAD_TEMPERATURE_STRING:
        assert_true(json_is_string(json_object_get(j, "temperature")));
        break;
    case FL_SIM_BAD_HUMIDITY_BOOL: assert_true(json_is_boolean(json_object_get(j, "humidity"))); break;
    case FL_SIM_BAD_COORDINATE_RANGE:
        assert_true(json_real_value(json_object_get(loc, "latitude")) > 90);
        break;
    case FL_SIM_BAD_ONLY_LATITUDE:
        assert_non_null(json_object_get(loc, "latitude"));
        assert_null(json_object_get(loc, "longitude"));
        break;
    case FL_SIM_BAD_TIMESTAMP_STRING:
        assert_int_equal(fl_time_parse_rfc3339(tss, strlen(tss), &us), FL_EPARSE);
        break;
    case FL_SIM_BAD_TIMESTAMP_BEFORE_2000:
        assert_int_equal(fl_time_parse_rfc3339(tss, strlen(tss), &us), 0);
        assert_true(us < 946684800000000LL);
        break;
    case FL_SIM_BAD_TIMESTAMP_FUTURE:
        assert_int_equal(fl_time_parse_rfc3339(tss, strlen(tss), &us), 0);
        assert_true(us > T0 + 365LL * 86400 * FL_US_PER_SEC);
        break;
    case FL_SIM_BAD_DEVICE_ID_CHARS: assert_non_null(strpbrk(json_string_value(id), " /")); break;
    case FL_SIM_BAD_DEVICE_ID_TOO_LONG: assert_true(strlen(json_string_value(id)) > 128); break;
    case FL_SIM_BAD_VERSION_TOO_LONG:
        assert_true(strlen(json_string_value(json_object_get(md, "version"))) > 128);
        break;
    case FL_SIM_BAD_EXTRA_TOO_LARGE: assert_true(n > 4096); break;
    default: fail();
    }
    json_decref(j);
}

static void every_bad_kind_with_its_code(void **state)
{
    (void)state;
    static const char *const expected[FL_SIM_BAD_COUNT] = {
        "bad_json",      "not_object",    "missing_field", "missing_field", "wrong_type",
        "wrong_type",    "out_of_range",  "out_of_range",  "bad_timestamp", "bad_timestamp",
        "bad_timestamp", "bad_string",    "bad_string",    "bad_string",    "too_large"};
    fl_sim_options o;
    base_options(&o);
    o.bad_rate = 1.0;
    fl_sim_source *src;
    assert_int_equal(fl_sim_source_create(&o, &src), 0);
    fl_buf body = {0};
    fl_sim_batch_meta meta = {0};
    size_t seen[FL_SIM_BAD_COUNT] = {0};
    assert_int_equal(fl_sim_build_batch(src, 3000, 1, &body, &meta), 0);
    assert_int_equal(meta.bad, 2999); /* the very first record is always good */
    char *line = body.data;
    for (size_t i = 0; i < meta.count; i++) {
        char *nl = strchr(line, '\n');
        assert_non_null(nl);
        if (meta.kinds[i]) {
            int k = meta.kinds[i] - 1;
            assert_string_equal(fl_sim_bad_expected_code(k), expected[k]);
            check_bad(k, line, (size_t)(nl - line));
            seen[k]++;
        }
        line = nl + 1;
    }
    for (int k = 0; k < FL_SIM_BAD_COUNT; k++)
        assert_true(seen[k] > 100); /* uniform: ~200 each */
    fl_sim_gen_stats st;
    fl_sim_source_stats(src, &st);
    assert_int_equal(st.bad, 2999);
    fl_sim_batch_meta_free(&meta);
    fl_buf_free(&body);
    fl_sim_source_destroy(src);
}

static void json_array_bodies(void **state)
{
    (void)state;
    fl_sim_options o;
    base_options(&o);
    o.bad_rate = 0.2;
    o.dup_rate = 0.1;
    fl_sim_source *src;
    assert_int_equal(fl_sim_source_create(&o, &src), 0);
    fl_buf body = {0};
    fl_sim_batch_meta meta = {.want_ids = 1};
    for (int b = 0; b < 5; b++) {
        assert_int_equal(fl_sim_build_batch(src, 400, 0, &body, &meta), 0);
        json_error_t jerr;
        json_t *j = json_loadb(body.data, body.len, 0, &jerr);
        assert_non_null(j);
        assert_true(json_is_array(j));
        assert_int_equal(json_array_size(j), 400);
        for (size_t i = 0; i < 400; i++) {
            assert_int_not_equal(meta.kinds[i], 1 + FL_SIM_BAD_MALFORMED_JSON);
            if (meta.kinds[i] == 0) { /* the id prefix names this very record */
                json_t *rec = json_array_get(j, i);
                char want[256];
                snprintf(want, sizeof want, "{\"device_id\":\"%s\",\"timestamp\":\"%s\",",
                         json_string_value(json_object_get(rec, "device_id")),
                         json_string_value(json_object_get(rec, "timestamp")));
                assert_int_equal(meta.id_len[i], strlen(want));
                assert_memory_equal(meta.ids.data + meta.id_off[i], want, strlen(want));
            }
        }
        json_decref(j);
    }
    fl_sim_batch_meta_free(&meta);
    fl_buf_free(&body);
    fl_sim_source_destroy(src);
}

static void near(uint64_t got, double want)
{
    if ((double)got < want * 0.8 || (double)got > want * 1.2)
        fail_msg("got %llu, want %.0f ±20%%", (unsigned long long)got, want);
}

static void rates_as_configured(void **state)
{
    (void)state;
    fl_sim_options o;
    base_options(&o);
    o.devices = 10; /* 10 000 s of simulated time: late readings have time to come back */
    o.dup_rate = 0.03;
    o.late_rate = 0.02;
    o.ooo_rate = 0.01;
    o.bad_rate = 0.01;
    fl_sim_source *src;
    assert_int_equal(fl_sim_source_create(&o, &src), 0);
    fl_buf body = {0};
    uint64_t late_seen = 0, lines = 0;
    int64_t max_ts = 0;
    for (int b = 0; b < 200; b++) {
        assert_int_equal(fl_sim_build_batch(src, 500, 1, &body, NULL), 0);
        for (char *p = body.data, *nl; (nl = strchr(p, '\n')); p = nl + 1, lines++) {
            char *ts = strstr(p, "\"timestamp\":\"");
            if (!ts || ts > nl)
                continue;
            ts += 13;
            int64_t us;
            if (fl_time_parse_rfc3339(ts, (size_t)(strchr(ts, '"') - ts), &us) != 0 ||
                us < T0 || us > T0 + 86400LL * FL_US_PER_SEC)
                continue;
            if (us < max_ts - 100 * FL_US_PER_SEC)
                late_seen++;
            max_ts = us > max_ts ? us : max_ts;
        }
    }
    fl_sim_gen_stats st;
    fl_sim_source_stats(src, &st);
    assert_int_equal(lines, 100000);
    assert_int_equal(st.records, 100000);
    near(st.duplicates, 3000);
    near(st.late, 2000 * 0.94); /* readings delayed in the last 10 min have not come back */
    near(st.out_of_order, 1000);
    near(st.bad, 1000);
    /* a late record is minutes older than what was already sent (so may be a duplicate: its
     * original is from an earlier batch) */
    assert_true((double)late_seen >= 0.8 * (double)st.late);
    assert_true(late_seen <= st.late + st.duplicates);
    fl_buf_free(&body);
    fl_sim_source_destroy(src);
}

static void parse_flags(void **state)
{
    (void)state;
    fl_sim_options o;
    char err[512];
    char *ok[] = {"sim", "--devices", "50", "--rate=1000", "--gzip", "--ndjson", "--seed", "9",
                  "--header", "Authorization: Bearer X", "--duration", "2m", "--center",
                  "35.1,129.0", "--anomaly-weights", "spike=2,stuck=1", "--no-retry",
                  "--tz-offset", "-05:30", "--start", "2026-01-01T00:00:00Z"};
    assert_int_equal(fl_sim_options_parse(&o, 21, ok, stdout, err, sizeof err), 0);
    assert_int_equal(o.devices, 50);
    assert_true(o.rate == 1000 && o.gzip && o.ndjson && !o.retry);
    assert_int_equal(o.seed, 9);
    assert_int_equal(o.header_count, 1);
    assert_string_equal(o.headers[0], "Authorization: Bearer X");
    assert_int_equal(o.duration_us, 120 * FL_US_PER_SEC);
    assert_true(o.center_lat == 35.1 && o.center_lon == 129.0);
    assert_true(o.anomaly_weights[FL_SIM_ANOMALY_SPIKE] == 2 &&
                o.anomaly_weights[FL_SIM_ANOMALY_DRIFT] == 0);
    assert_int_equal(o.tz_offset_s, -(5 * 3600 + 30 * 60));
    fl_sim_options_resolve(&o, INT64_C(1800000000000000));
    assert_int_equal(o.interval_us, 50000); /* 50 devices at 1000/s: sim time tracks wall time */
    assert_int_equal(o.batch, 100);

    struct {
        int argc;
        char *argv[4];
        const char *needle;
    } bad[] = {
        {2, {"sim", "--bogus"}, "--bogus"},
        {3, {"sim", "--devices", "0"}, "--devices"},
        {3, {"sim", "--bad-rate", "1.5"}, "--bad-rate"},
        {2, {"sim", "--batch"}, "--batch"},
        {3, {"sim", "--url", "ftp://x"}, "--url"},
        {3, {"sim", "--duration", "soon"}, "--duration"},
        {3, {"sim", "--anomaly-weights", "wobble=1"}, "--anomaly-weights"},
        {2, {"sim", "--gzip=yes"}, "--gzip"},
        {2, {"sim", "stray"}, "stray"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        err[0] = 0;
        assert_int_equal(fl_sim_options_parse(&o, bad[i].argc, bad[i].argv, stdout, err, sizeof err),
                         FL_EINVAL);
        assert_non_null(strstr(err, bad[i].needle));
    }
    FILE *devnull = fopen("/dev/null", "w");
    char *help[] = {"sim", "--help"};
    assert_int_equal(fl_sim_options_parse(&o, 2, help, devnull, err, sizeof err), 1);
    fclose(devnull);
    assert_int_equal(fl_sim_main(2, bad[0].argv), 2);
}

static void resolve_start_for_fast_runs(void **state)
{
    (void)state;
    fl_sim_options o;
    fl_sim_options_defaults(&o);
    o.records = 200 * 600; /* 10 min of a 200-truck fleet */
    int64_t now = INT64_C(1800000000000000);
    fl_sim_options_resolve(&o, now);
    assert_int_equal(o.start_us, now - 600 * FL_US_PER_SEC);
    assert_int_equal(o.horizon_us, now + 240 * FL_US_PER_SEC);
    assert_int_equal(o.batch, 500);
    assert_int_equal(o.interval_us, FL_US_PER_SEC);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(every_bad_kind_with_its_code),
        cmocka_unit_test(json_array_bodies),
        cmocka_unit_test(rates_as_configured),
        cmocka_unit_test(parse_flags),
        cmocka_unit_test(resolve_start_for_fast_runs),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
