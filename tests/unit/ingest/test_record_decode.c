/* test_record_decode.c — fl_record_decode_json against every rule of DESIGN.md §4.1: a table
 * of records with the expected error code and a piece of the message naming the field, plus
 * value checks for accepted records (timestamps, escapes, extra). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "ingest/ingest.h"

#define DEV "\"device_id\":\"truck-0042\""
#define TS "\"timestamp\":\"2026-11-25T01:02:03.456Z\""
#define B DEV "," TS
/* 2026-11-25T01:05:00Z: the server clock for every case */
static const int64_t NOW_US = INT64_C(1795568700000000);

static fl_ingest_limits limits(void)
{
    fl_ingest_limits l = {16, 4096, 300 * FL_US_PER_SEC, INT64_C(946684800000000)};
    return l;
}

typedef struct decode_case {
    const char *json;
    int code;
    const char *message; /* substring of err.message, NULL for accepted records */
} decode_case;

static const decode_case cases[] = {
    /* accepted */
    {"{" B ",\"temperature\":21.5,\"humidity\":40.2,\"pressure\":1013.1,\"location\":{\"latitude\":"
     "37.56,\"longitude\":126.97},\"metadata\":{\"version\":\"1.2.0\",\"source\":\"fms-gw\"}}", 0, NULL},
    {"{" B "}", 0, NULL},
    {"{" B ",\"temperature\":null,\"humidity\":null,\"pressure\":null,\"location\":null,"
     "\"metadata\":null}", 0, NULL},
    {"{" DEV ",\"timestamp\":1795568523456}", 0, NULL},
    {"{" DEV ",\"timestamp\":\"2026-11-25T10:02:03+09:00\"}", 0, NULL},
    {"{\"device_id\":\"truck\\u002d1\"," TS "}", 0, NULL},
    {"{" B ",\"fw\":\"x\",\"tags\":[1,2,{\"a\":null}]}", 0, NULL},
    {"{" B ",\"temperature\":999.5,\"humidity\":-20,\"pressure\":5}", 0, NULL},
    {"{\"device_id\":\"A.b_c:d-9\"," TS "}", 0, NULL},
    {"{" DEV ",\"timestamp\":\"2026-11-25T01:09:59Z\"}", 0, NULL},
    {"{" DEV ",\"timestamp\":946684800000}", 0, NULL},
    {"{" B ",\"temperature\":-0}", 0, NULL},
    {"{" B ",\"location\":{\"latitude\":90,\"longitude\":-180}}", 0, NULL},
    {"{" B ",\"location\":{}}", 0, NULL},
    {"{" B ",\"location\":{\"latitude\":null,\"longitude\":null}}", 0, NULL},
    {"{" B ",\"metadata\":{\"version\":null,\"region\":\"kr\"}}", 0, NULL},
    {"{" B ",\"metadata\":{\"source\":\"\\ud83d\\ude00 \xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80\"}}", 0,
     NULL},
    {"  \r\n\t{ " DEV " , " TS " }\n ", 0, NULL},
    {"{" DEV ",\"timestamp\":\"2026-11-25T01:02:03.123456789Z\"}", 0, NULL},
    {"{" DEV ",\"timestamp\":\"2026-11-25T01:02:03\\u002e456Z\"}", 0, NULL},
    {"{" B ",\"humidity\":1e2,\"pressure\":1.0132500000000001E3}", 0, NULL},
    /* bad_json */
    {"{", FL_RECORD_BAD_JSON, "record: invalid JSON"},
    {"", FL_RECORD_BAD_JSON, "record: invalid JSON"},
    {"   ", FL_RECORD_BAD_JSON, "record"},
    {"{" B ",\"temperature\":NaN}", FL_RECORD_BAD_JSON, "record"},
    {"{" B ",\"temperature\":Infinity}", FL_RECORD_BAD_JSON, "record"},
    {"{" B ",\"temperature\":01}", FL_RECORD_BAD_JSON, "record"},
    {"{" B ",\"temperature\":1.}", FL_RECORD_BAD_JSON, "record"},
    {"{" B ",\"temperature\":.5}", FL_RECORD_BAD_JSON, "record"},
    {"{" B ",\"temperature\":+1}", FL_RECORD_BAD_JSON, "record"},
    {"{" B ",\"temperature\":1e}", FL_RECORD_BAD_JSON, "record"},
    {"{" B ",\"x\":tru}", FL_RECORD_BAD_JSON, "record"},
    {"{\"device_id\":\"a\xff\"," TS "}", FL_RECORD_BAD_JSON, "record"},
    {"{" B ",\"x\":\"\xc0\xaf\"}", FL_RECORD_BAD_JSON, "record"},
    {"{" B ",\"x\":\"\xed\xa0\x80\"}", FL_RECORD_BAD_JSON, "record"},
    {"{" B ",\"x\":\"\xf4\x90\x80\x80\"}", FL_RECORD_BAD_JSON, "record"},
    {"{" B ",\"x\":\"\xe2\x82\"}", FL_RECORD_BAD_JSON, "record"},
    {"{" B ",\"x\":\"\\ud800\"}", FL_RECORD_BAD_JSON, "record"},
    {"{" B ",\"x\":\"\\udc00\\ud800\"}", FL_RECORD_BAD_JSON, "record"},
    {"{" B ",\"x\":\"a\tb\"}", FL_RECORD_BAD_JSON, "record"},
    {"{" B ",\"x\":\"\\x\"}", FL_RECORD_BAD_JSON, "record"},
    {"{" B ",\"x\":\"\\u12g4\"}", FL_RECORD_BAD_JSON, "record"},
    {"{" B "} x", FL_RECORD_BAD_JSON, "record"},
    {"{" B ",}", FL_RECORD_BAD_JSON, "record"},
    {"{" B " \"x\":1}", FL_RECORD_BAD_JSON, "record"},
    {"{" B ",\"x\"1}", FL_RECORD_BAD_JSON, "record"},
    {"{" B ",\"temperature\":\"hot\",\"x\":[1,}", FL_RECORD_BAD_JSON, "record"},
    {"{" B ",\"x\":[1 2]}", FL_RECORD_BAD_JSON, "record"},
    {"{" B ",1:2}", FL_RECORD_BAD_JSON, "record"},
    /* not_object */
    {"[1]", FL_RECORD_NOT_OBJECT, "record: expected a JSON object, got array"},
    {"\"str\"", FL_RECORD_NOT_OBJECT, "got string"},
    {" 42 ", FL_RECORD_NOT_OBJECT, "got number"},
    {"null", FL_RECORD_NOT_OBJECT, "got null"},
    {"true", FL_RECORD_NOT_OBJECT, "got boolean"},
    /* missing_field */
    {"{" TS "}", FL_RECORD_MISSING_FIELD, "device_id: missing"},
    {"{" DEV "}", FL_RECORD_MISSING_FIELD, "timestamp: missing"},
    {"{}", FL_RECORD_MISSING_FIELD, "device_id: missing"},
    {"{\"device_id\":null," TS "}", FL_RECORD_MISSING_FIELD, "device_id: missing"},
    {"{" DEV ",\"timestamp\":null}", FL_RECORD_MISSING_FIELD, "timestamp: missing"},
    /* wrong_type */
    {"{\"device_id\":42," TS "}", FL_RECORD_WRONG_TYPE, "device_id: expected a string, got number"},
    {"{\"device_id\":[\"a\"]," TS "}", FL_RECORD_WRONG_TYPE, "device_id: expected a string, got array"},
    {"{" DEV ",\"timestamp\":1.7955685e12}", FL_RECORD_WRONG_TYPE, "timestamp: expected"},
    {"{" DEV ",\"timestamp\":1795568523456.0}", FL_RECORD_WRONG_TYPE, "timestamp"},
    {"{" DEV ",\"timestamp\":true}", FL_RECORD_WRONG_TYPE, "timestamp: expected an RFC 3339"},
    {"{" DEV ",\"timestamp\":{}}", FL_RECORD_WRONG_TYPE, "got object"},
    {"{" B ",\"temperature\":\"21.5\"}", FL_RECORD_WRONG_TYPE,
     "temperature: expected a number or null, got string"},
    {"{" B ",\"temperature\":true}", FL_RECORD_WRONG_TYPE, "temperature: expected a number or null, got boolean"},
    {"{" B ",\"temperature\":{}}", FL_RECORD_WRONG_TYPE, "temperature: expected a number or null, got object"},
    {"{" B ",\"temperature\":[]}", FL_RECORD_WRONG_TYPE, "temperature: expected a number or null, got array"},
    {"{" B ",\"humidity\":\"x\"}", FL_RECORD_WRONG_TYPE, "humidity: expected a number"},
    {"{" B ",\"pressure\":false}", FL_RECORD_WRONG_TYPE, "pressure: expected a number"},
    {"{" B ",\"temperature\":1e999}", FL_RECORD_WRONG_TYPE, "temperature: 1e999 is not a finite number"},
    {"{" B ",\"pressure\":-1e400}", FL_RECORD_WRONG_TYPE, "pressure: -1e400 is not a finite"},
    {"{" B ",\"location\":\"x\"}", FL_RECORD_WRONG_TYPE, "location: expected an object or null, got string"},
    {"{" B ",\"location\":[1,2]}", FL_RECORD_WRONG_TYPE, "location: expected an object"},
    {"{" B ",\"location\":{\"latitude\":\"1\",\"longitude\":2}}", FL_RECORD_WRONG_TYPE,
     "location.latitude: expected a number"},
    {"{" B ",\"location\":{\"latitude\":1,\"longitude\":true}}", FL_RECORD_WRONG_TYPE,
     "location.longitude: expected a number"},
    {"{" B ",\"metadata\":[]}", FL_RECORD_WRONG_TYPE, "metadata: expected an object or null, got array"},
    {"{" B ",\"metadata\":{\"version\":1}}", FL_RECORD_WRONG_TYPE, "metadata.version: expected a string"},
    {"{" B ",\"metadata\":{\"source\":{}}}", FL_RECORD_WRONG_TYPE, "metadata.source: expected a string"},
    /* out_of_range */
    {"{" B ",\"location\":{\"latitude\":95,\"longitude\":0}}", FL_RECORD_OUT_OF_RANGE,
     "location.latitude: 95 is outside -90..90"},
    {"{" B ",\"location\":{\"latitude\":-90.0001,\"longitude\":0}}", FL_RECORD_OUT_OF_RANGE,
     "location.latitude: -90.0001 is outside"},
    {"{" B ",\"location\":{\"latitude\":0,\"longitude\":-181}}", FL_RECORD_OUT_OF_RANGE,
     "location.longitude: -181 is outside -180..180"},
    {"{" B ",\"location\":{\"latitude\":0,\"longitude\":1e999}}", FL_RECORD_OUT_OF_RANGE,
     "location.longitude: 1e999 is outside"},
    {"{" B ",\"location\":{\"latitude\":1}}", FL_RECORD_OUT_OF_RANGE, "location: latitude without longitude"},
    {"{" B ",\"location\":{\"longitude\":1,\"latitude\":null}}", FL_RECORD_OUT_OF_RANGE,
     "location: longitude without latitude"},
    /* bad_timestamp */
    {"{" DEV ",\"timestamp\":\"yesterday\"}", FL_RECORD_BAD_TIMESTAMP, "timestamp: \"yesterday\" is not RFC 3339"},
    {"{" DEV ",\"timestamp\":\"2026-11-25T01:02:03\"}", FL_RECORD_BAD_TIMESTAMP, "timestamp: \"2026-11-25T01:02:03\""},
    {"{" DEV ",\"timestamp\":\"2026-02-30T01:02:03Z\"}", FL_RECORD_BAD_TIMESTAMP, "timestamp"},
    {"{" DEV ",\"timestamp\":\"\"}", FL_RECORD_BAD_TIMESTAMP, "timestamp"},
    {"{" DEV ",\"timestamp\":\"1999-12-31T23:59:59Z\"}", FL_RECORD_BAD_TIMESTAMP,
     "timestamp: 1999-12-31T23:59:59Z is before 2000-01-01"},
    {"{" DEV ",\"timestamp\":\"2026-11-25T01:10:01Z\"}", FL_RECORD_BAD_TIMESTAMP,
     "timestamp: 2026-11-25T01:10:01Z is more than 300 s in the future"},
    {"{" DEV ",\"timestamp\":99999999999999999999}", FL_RECORD_BAD_TIMESTAMP, "timestamp: 99999999999999999999 ms is out of range"},
    {"{" DEV ",\"timestamp\":-5}", FL_RECORD_BAD_TIMESTAMP, "timestamp: -5 is before 2000-01-01"},
    {"{" DEV ",\"timestamp\":946684799999}", FL_RECORD_BAD_TIMESTAMP, "is before"},
    /* bad_string */
    {"{\"device_id\":\"\"," TS "}", FL_RECORD_BAD_STRING, "device_id: is empty"},
    {"{\"device_id\":\"truck 1\"," TS "}", FL_RECORD_BAD_STRING, "device_id: byte 5 (0x20)"},
    {"{\"device_id\":\"truck/1\"," TS "}", FL_RECORD_BAD_STRING, "device_id: byte 5"},
    {"{\"device_id\":\"truck\\u00e91\"," TS "}", FL_RECORD_BAD_STRING, "device_id: byte 5 (0xc3)"},
    {"{\"device_id\":\"\\u0000\"," TS "}", FL_RECORD_BAD_STRING, "device_id: byte 0"},
    {"{\"device_id\":\"tr\xc3\xbc" "ck\"," TS "}", FL_RECORD_BAD_STRING, "device_id"},
    /* duplicate_field */
    {"{" B "," DEV "}", FL_RECORD_DUPLICATE_FIELD, "device_id: appears more than once"},
    {"{" B ",\"temperature\":1,\"temperature\":2}", FL_RECORD_DUPLICATE_FIELD, "temperature: appears"},
    {"{" B ",\"device\\u005fid\":\"x\"}", FL_RECORD_DUPLICATE_FIELD, "device_id: appears"},
    {"{" B ",\"location\":{\"latitude\":1,\"latitude\":2,\"longitude\":3}}", FL_RECORD_DUPLICATE_FIELD,
     "location.latitude: appears"},
    {"{" B ",\"metadata\":{\"source\":\"a\",\"source\":\"b\"}}", FL_RECORD_DUPLICATE_FIELD,
     "metadata.source: appears"},
    {"{" B ",\"metadata\":null,\"metadata\":{}}", FL_RECORD_DUPLICATE_FIELD, "metadata: appears"},
    {"{" B ",\"timestamp\":null}", FL_RECORD_DUPLICATE_FIELD, "timestamp: appears"},
    /* too_deep */
    {"{" B ",\"x\":[[[[[[[[[[[[[[[[[[[[1]]]]]]]]]]]]]]]]]]]}", FL_RECORD_TOO_DEEP, "record: nested deeper than 16"},
    {"{" B ",\"x\":[[[[[[[[[[[[[[[[[[[[1]]]]]]]]]]]]]]]]]]]", FL_RECORD_TOO_DEEP, "record"},
    {"[[[[[[[[[[[[[[[[[[[[1]]]]]]]]]]]]]]]]]]]]", FL_RECORD_TOO_DEEP, "record"},
    {"{" B ",\"x\":[[[[[[[[[[[[[[1]]]]]]]]]]]]]]}", 0, NULL}, /* 15 levels: at the limit */
    /* first rule broken wins; broken JSON wins over any rule */
    {"{" B ",\"temperature\":\"x\",\"location\":{\"latitude\":95,\"longitude\":0}}", FL_RECORD_WRONG_TYPE,
     "temperature"},
    {"{\"temperature\":\"x\"}", FL_RECORD_WRONG_TYPE, "temperature"},
};

static void table(void **state)
{
    (void)state;
    fl_ingest_limits lim = limits();
    fl_buf scratch = {0};
    size_t n = sizeof cases / sizeof cases[0];
    assert_true(n >= 60);
    for (size_t i = 0; i < n; i++) {
        fl_record rec;
        fl_record_error err;
        memset(&err, 0x55, sizeof err);
        int rc = fl_record_decode_json(cases[i].json, strlen(cases[i].json), NOW_US, &lim, &rec,
                                       &scratch, &err);
        if (rc != cases[i].code ||
            (cases[i].message && !strstr(err.message, cases[i].message))) {
            print_error("case %zu: %s\n  got %d (%s) \"%s\", want %d \"%s\"\n", i, cases[i].json,
                        rc, fl_record_error_name(rc), rc ? err.message : "",
                        cases[i].code, cases[i].message ? cases[i].message : "");
            fail();
        }
        assert_int_equal(err.code, rc);
    }
    fl_buf_free(&scratch);
}

static int decode(const char *json, fl_record *rec, fl_buf *scratch, fl_record_error *err)
{
    fl_ingest_limits lim = limits();
    return fl_record_decode_json(json, strlen(json), NOW_US, &lim, rec, scratch, err);
}

static void full_record_values(void **state)
{
    (void)state;
    fl_record r;
    fl_record_error err;
    fl_buf scratch = {0};
    assert_int_equal(decode(cases[0].json, &r, &scratch, &err), 0);
    assert_true(fl_slice_eq_cstr(r.device_id, "truck-0042"));
    assert_int_equal(r.timestamp_us, INT64_C(1795568523456000));
    assert_true(r.temperature == 21.5 && r.humidity == 40.2 && r.pressure == 1013.1);
    assert_true(r.latitude == 37.56 && r.longitude == 126.97);
    assert_true(fl_slice_eq_cstr(r.metadata_version, "1.2.0"));
    assert_true(fl_slice_eq_cstr(r.metadata_source, "fms-gw"));
    assert_int_equal(r.present, FL_REC_TEMPERATURE | FL_REC_HUMIDITY | FL_REC_PRESSURE |
                                    FL_REC_LOCATION | FL_REC_META_VERSION | FL_REC_META_SOURCE);
    assert_int_equal(r.extra.len, 0);
    /* zero copy: the device id is borrowed from the text */
    assert_true(r.device_id.ptr > cases[0].json && r.device_id.ptr < cases[0].json + 40);
    fl_buf_free(&scratch);
}

static void null_optionals_absent(void **state)
{
    (void)state;
    fl_record r;
    fl_record_error err;
    fl_buf scratch = {0};
    assert_int_equal(decode(cases[2].json, &r, &scratch, &err), 0);
    assert_int_equal(r.present, 0);
    assert_true(r.temperature == 0 && r.latitude == 0);
    fl_buf_free(&scratch);
}

static void timestamps_normalised(void **state)
{
    (void)state;
    fl_record r;
    fl_record_error err;
    fl_buf scratch = {0};
    assert_int_equal(decode("{" DEV ",\"timestamp\":1795568523456}", &r, &scratch, &err), 0);
    assert_int_equal(r.timestamp_us, INT64_C(1795568523456000));
    assert_int_equal(decode("{" DEV ",\"timestamp\":\"2026-11-25T10:02:03.5+09:00\"}", &r, &scratch,
                            &err), 0);
    assert_int_equal(r.timestamp_us, INT64_C(1795568523500000));
    assert_int_equal(decode("{" DEV ",\"timestamp\":\"2026-11-24T20:02:03.000001-05:00\"}", &r,
                            &scratch, &err), 0);
    assert_int_equal(r.timestamp_us, INT64_C(1795568523000001));
    fl_buf_free(&scratch);
}

static void escapes_decoded_into_scratch(void **state)
{
    (void)state;
    fl_record r;
    fl_record_error err;
    fl_buf scratch = {0};
    assert_int_equal(decode("{\"device_id\":\"truck\\u002d1\"," TS ",\"metadata\":{\"source\":"
                            "\"a\\\"b\\\\c\\n\\u00e9\\ud83d\\ude00\"}}", &r, &scratch, &err), 0);
    assert_true(fl_slice_eq_cstr(r.device_id, "truck-1"));
    assert_true(fl_slice_eq_cstr(r.metadata_source, "a\"b\\c\n\xc3\xa9\xf0\x9f\x98\x80"));
    assert_true(r.device_id.ptr >= scratch.data && r.device_id.ptr < scratch.data + scratch.cap);
    fl_buf_free(&scratch);
}

static void extra_keeps_unknown_fields_verbatim(void **state)
{
    (void)state;
    fl_record r;
    fl_record_error err;
    fl_buf scratch = {0};
    assert_int_equal(decode("{\"fw\" : \"2.1\"," B ",\"tags\":[1, {\"a\":null}],\"location\":"
                            "{\"latitude\":1,\"alt\":12.5,\"longitude\":2},\"metadata\":{\"re\\u0067\":"
                            "\"kr\",\"version\":\"1\"},\"z\":-0.0e1}", &r, &scratch, &err), 0);
    assert_true(r.present & FL_REC_EXTRA);
    assert_true(fl_slice_eq_cstr(r.extra, "{\"fw\":\"2.1\",\"tags\":[1, {\"a\":null}],\"location\":"
                                          "{\"alt\":12.5},\"metadata\":{\"re\\u0067\":\"kr\"},"
                                          "\"z\":-0.0e1}"));
    assert_true(r.latitude == 1 && r.longitude == 2);
    assert_true(fl_slice_eq_cstr(r.metadata_version, "1"));
    fl_buf_free(&scratch);
}

static void extra_limit(void **state)
{
    (void)state;
    fl_ingest_limits lim = limits();
    fl_record r;
    fl_record_error err;
    fl_buf scratch = {0};
    char json[256];
    /* {"ab":"xyz"} is 12 bytes */
    snprintf(json, sizeof json, "{" B ",\"ab\":\"xyz\"}");
    lim.max_extra_bytes = 12;
    assert_int_equal(fl_record_decode_json(json, strlen(json), NOW_US, &lim, &r, &scratch, &err), 0);
    assert_int_equal(r.extra.len, 12);
    lim.max_extra_bytes = 11;
    assert_int_equal(fl_record_decode_json(json, strlen(json), NOW_US, &lim, &r, &scratch, &err),
                     FL_RECORD_TOO_LARGE);
    assert_non_null(strstr(err.message, "extra: unknown fields take 12 bytes"));
    lim.max_extra_bytes = 0;
    assert_int_equal(fl_record_decode_json(json, strlen(json), NOW_US, &lim, &r, &scratch, &err),
                     FL_RECORD_TOO_LARGE);
    fl_buf_free(&scratch);
}

static void generated_lengths(void **state)
{
    (void)state;
    fl_record r;
    fl_record_error err;
    fl_buf scratch = {0};
    char id[200], json[600];
    memset(id, 'x', sizeof id);
    snprintf(json, sizeof json, "{\"device_id\":\"%.*s\"," TS "}", 128, id);
    assert_int_equal(decode(json, &r, &scratch, &err), 0);
    assert_int_equal(r.device_id.len, 128);
    snprintf(json, sizeof json, "{\"device_id\":\"%.*s\"," TS "}", 129, id);
    assert_int_equal(decode(json, &r, &scratch, &err), FL_RECORD_BAD_STRING);
    assert_non_null(strstr(err.message, "device_id: 129 bytes is longer than 128"));
    snprintf(json, sizeof json, "{" B ",\"metadata\":{\"version\":\"%.*s\"}}", 128, id);
    assert_int_equal(decode(json, &r, &scratch, &err), 0);
    snprintf(json, sizeof json, "{" B ",\"metadata\":{\"version\":\"%.*s\"}}", 129, id);
    assert_int_equal(decode(json, &r, &scratch, &err), FL_RECORD_BAD_STRING);
    assert_non_null(strstr(err.message, "metadata.version: 129 bytes is longer than 128"));
    snprintf(json, sizeof json, "{" B ",\"metadata\":{\"source\":\"%.*s\"}}", 129, id);
    assert_int_equal(decode(json, &r, &scratch, &err), FL_RECORD_BAD_STRING);
    assert_non_null(strstr(err.message, "metadata.source"));
    fl_buf_free(&scratch);
}

static void error_names_and_limits(void **state)
{
    (void)state;
    assert_string_equal(fl_record_error_name(0), "ok");
    assert_string_equal(fl_record_error_name(FL_RECORD_BAD_JSON), "bad_json");
    assert_string_equal(fl_record_error_name(FL_RECORD_WRONG_TYPE), "wrong_type");
    assert_string_equal(fl_record_error_name(FL_RECORD_DUPLICATE_FIELD), "duplicate_field");
    assert_string_equal(fl_record_error_name(FL_RECORD_ERROR_COUNT), "unknown");
    assert_string_equal(fl_record_error_name(-1), "unknown");
    fl_config cfg;
    fl_config_defaults(&cfg);
    fl_ingest_limits l;
    fl_ingest_limits_from_config(&cfg, &l);
    assert_int_equal(l.max_json_depth, 16);
    assert_int_equal(l.max_extra_bytes, 4096);
    assert_int_equal(l.max_future_skew_us, 300 * FL_US_PER_SEC);
    int64_t y2k;
    assert_int_equal(fl_time_parse_rfc3339("2000-01-01T00:00:00Z", 20, &y2k), 0);
    assert_int_equal(l.min_timestamp_us, y2k);
}

static void not_nul_terminated(void **state)
{
    (void)state;
    /* the decoder must never read past len: the text here is followed by more digits */
    const char *json = "{" B ",\"temperature\":12}345";
    fl_record r;
    fl_record_error err;
    fl_buf scratch = {0};
    fl_ingest_limits lim = limits();
    assert_int_equal(fl_record_decode_json(json, strlen(json) - 3, NOW_US, &lim, &r, &scratch,
                                           &err), 0);
    assert_true(r.temperature == 12);
    assert_int_equal(fl_record_decode_json(json, strlen(json) - 5, NOW_US, &lim, &r, &scratch,
                                           &err), FL_RECORD_BAD_JSON);
    fl_buf_free(&scratch);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(table),
        cmocka_unit_test(full_record_values),
        cmocka_unit_test(null_optionals_absent),
        cmocka_unit_test(timestamps_normalised),
        cmocka_unit_test(escapes_decoded_into_scratch),
        cmocka_unit_test(extra_keeps_unknown_fields_verbatim),
        cmocka_unit_test(extra_limit),
        cmocka_unit_test(generated_lengths),
        cmocka_unit_test(error_names_and_limits),
        cmocka_unit_test(not_nul_terminated),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
