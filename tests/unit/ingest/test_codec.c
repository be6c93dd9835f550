/* test_codec.c — the binary record form: encode/decode round trips keep every value bit for
 * bit, and any truncation, corruption, trailing byte or rule-breaking value is FL_ECORRUPT;
 * fl_record_to_json writes the incoming schema back, extra merged. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <math.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "ingest/ingest.h"

static fl_record full_record(void)
{
    fl_record r;
    memset(&r, 0, sizeof r);
    r.device_id = FL_SLICE_LIT("truck-0042");
    r.timestamp_us = INT64_C(1795568523456789);
    r.temperature = 21.5;
    r.humidity = -0.0;
    r.pressure = 1013.1;
    r.latitude = 37.56;
    r.longitude = -126.97;
    r.metadata_version = FL_SLICE_LIT("1.2.0");
    r.metadata_source = FL_SLICE_LIT("fms-gw");
    r.extra = FL_SLICE_LIT("{\"fw\":\"x\",\"metadata\":{\"region\":\"kr\"}}");
    r.present = FL_REC_TEMPERATURE | FL_REC_HUMIDITY | FL_REC_PRESSURE | FL_REC_LOCATION |
                FL_REC_META_VERSION | FL_REC_META_SOURCE | FL_REC_EXTRA;
    return r;
}

static void assert_same(const fl_record *a, const fl_record *b)
{
    assert_int_equal(a->present, b->present);
    assert_int_equal(a->timestamp_us, b->timestamp_us);
    assert_int_equal(a->device_id.len, b->device_id.len);
    assert_memory_equal(a->device_id.ptr, b->device_id.ptr, a->device_id.len);
    assert_memory_equal(&a->temperature, &b->temperature, sizeof(double));
    assert_memory_equal(&a->humidity, &b->humidity, sizeof(double));
    assert_memory_equal(&a->pressure, &b->pressure, sizeof(double));
    assert_memory_equal(&a->latitude, &b->latitude, sizeof(double));
    assert_memory_equal(&a->longitude, &b->longitude, sizeof(double));
    assert_int_equal(a->metadata_version.len, b->metadata_version.len);
    if (a->metadata_version.len)
        assert_memory_equal(a->metadata_version.ptr, b->metadata_version.ptr, a->metadata_version.len);
    assert_int_equal(a->metadata_source.len, b->metadata_source.len);
    if (a->metadata_source.len)
        assert_memory_equal(a->metadata_source.ptr, b->metadata_source.ptr, a->metadata_source.len);
    assert_int_equal(a->extra.len, b->extra.len);
    if (a->extra.len)
        assert_memory_equal(a->extra.ptr, b->extra.ptr, a->extra.len);
}

static void round_trip(void **state)
{
    (void)state;
    fl_record r = full_record(), back;
    fl_buf b = {0};
    assert_int_equal(fl_record_encode(&r, &b), 0);
    /* 1+1+8 + 2+10 + 5*8 + 2+5 + 2+6 + 4+37 */
    assert_int_equal(b.len, 118);
    assert_int_equal(fl_record_decode(b.data, b.len, &back), 0);
    assert_same(&r, &back);
    assert_true(back.device_id.ptr > b.data && back.device_id.ptr < b.data + b.len);

    /* minimal record, and appending after existing bytes */
    fl_record m;
    memset(&m, 0, sizeof m);
    m.device_id = FL_SLICE_LIT("a");
    m.timestamp_us = INT64_C(946684800000000);
    size_t at = b.len;
    assert_int_equal(fl_record_encode(&m, &b), 0);
    assert_int_equal(b.len - at, 13);
    assert_int_equal(fl_record_decode(b.data + at, b.len - at, &back), 0);
    assert_same(&m, &back);
    fl_buf_free(&b);
}

static void truncation_and_trailing_bytes(void **state)
{
    (void)state;
    fl_record r = full_record(), back;
    fl_buf b = {0};
    assert_int_equal(fl_record_encode(&r, &b), 0);
    for (size_t n = 0; n < b.len; n++)
        assert_int_equal(fl_record_decode(b.data, n, &back), FL_ECORRUPT);
    assert_int_equal(fl_buf_append(&b, "", 1), 0);
    assert_int_equal(fl_record_decode(b.data, b.len, &back), FL_ECORRUPT);
    assert_int_equal(back.present, 0);
    assert_int_equal(back.device_id.len, 0);
    fl_buf_free(&b);
}

static int decode_patched(const fl_buf *b, size_t off, unsigned char v)
{
    unsigned char tmp[512];
    fl_record back;
    memcpy(tmp, b->data, b->len);
    tmp[off] = v;
    return fl_record_decode(tmp, b->len, &back);
}

static void corrupt_fields(void **state)
{
    (void)state;
    fl_record r = full_record();
    fl_buf b = {0};
    assert_int_equal(fl_record_encode(&r, &b), 0);
    assert_int_equal(decode_patched(&b, 0, 2), FL_ECORRUPT);    /* unknown version */
    assert_int_equal(decode_patched(&b, 1, 0xFF), FL_ECORRUPT); /* trace bit, no trace bytes */
    assert_int_equal(decode_patched(&b, 10, 0), FL_ECORRUPT);   /* device_id length 0 ... */
    assert_int_equal(decode_patched(&b, 9, 0x80), FL_ECORRUPT);  /* timestamp before year 0 */
    assert_int_equal(decode_patched(&b, 11, 1), FL_ECORRUPT);   /* length 266 */
    assert_int_equal(decode_patched(&b, 12, '/'), FL_ECORRUPT); /* bad device_id byte */
    assert_int_equal(decode_patched(&b, 9, 0x7F), FL_ECORRUPT);  /* timestamp after year 9999 */
    /* temperature's top bytes to 0x7FF0...: infinity */
    unsigned char tmp[512];
    fl_record back;
    memcpy(tmp, b.data, b.len);
    memcpy(tmp + 22, "\0\0\0\0\0\0\xF0\x7F", 8);
    assert_int_equal(fl_record_decode(tmp, b.len, &back), FL_ECORRUPT);
    /* latitude 95 */
    double lat = 95;
    memcpy(tmp, b.data, b.len);
    memcpy(tmp + 46, &lat, 8);
    assert_int_equal(fl_record_decode(tmp, b.len, &back), FL_ECORRUPT);
    /* extra that is not a JSON object: break its closing brace */
    assert_int_equal(decode_patched(&b, b.len - 1, 'x'), FL_ECORRUPT);
    assert_int_equal(decode_patched(&b, b.len - 37, '['), FL_ECORRUPT);
    /* every single-byte flip either decodes to a valid record or is rejected, never crashes */
    for (size_t off = 0; off < b.len; off++) {
        for (int bit = 0; bit < 8; bit++) {
            memcpy(tmp, b.data, b.len);
            tmp[off] ^= (unsigned char)(1 << bit);
            int rc = fl_record_decode(tmp, b.len, &back);
            assert_true(rc == 0 || rc == FL_ECORRUPT);
        }
    }
    fl_record m = full_record();
    char id[200];
    memset(id, 'a', sizeof id);
    m.device_id = (fl_slice){id, 129};
    fl_buf_reset(&b);
    assert_int_equal(fl_record_encode(&m, &b), 0);
    assert_int_equal(fl_record_decode(b.data, b.len, &back), FL_ECORRUPT);
    m.device_id = (fl_slice){id, 128};
    m.metadata_source = (fl_slice){id, 129};
    fl_buf_reset(&b);
    assert_int_equal(fl_record_encode(&m, &b), 0);
    assert_int_equal(fl_record_decode(b.data, b.len, &back), FL_ECORRUPT);
    fl_buf_free(&b);
}

/* The trace id (FL_REC_TRACE, bit 7) rides after everything else; records written before it
 * existed (bit 7 clear) still decode, byte for byte as they were stored. */
static void trace_id(void **state)
{
    (void)state;
    fl_record r = full_record(), back;
    for (int i = 0; i < 16; i++)
        r.trace_id[i] = (uint8_t)(0xA0 + i);
    r.present |= FL_REC_TRACE;
    fl_buf b = {0};
    assert_int_equal(fl_record_encode(&r, &b), 0);
    assert_int_equal(b.len, 118 + 16);
    assert_int_equal(fl_record_decode(b.data, b.len, &back), 0);
    assert_same(&r, &back);
    assert_memory_equal(back.trace_id, r.trace_id, 16);
    assert_memory_equal(b.data + b.len - 16, r.trace_id, 16);
    for (size_t n = b.len - 16; n < b.len; n++) /* a cut trace id is damage */
        assert_int_equal(fl_record_decode(b.data, n, &back), FL_ECORRUPT);
    fl_slice dev;
    assert_int_equal(fl_record_encoded_device_id(b.data, b.len, &dev), 0);
    assert_int_equal(dev.len, 10);
    /* a minimal record as written before trace ids: version 1, no bits, 2000-01-01, "a" */
    static const unsigned char old[] = {1, 0, 0x00, 0xe0, 0x37, 0x3b, 0x01, 0x5d, 0x03, 0x00,
                                        1, 0, 'a'};
    assert_int_equal(fl_record_decode(old, sizeof old, &back), 0);
    assert_int_equal(back.present, 0);
    assert_int_equal(back.timestamp_us, INT64_C(946684800000000));
    assert_int_equal(back.device_id.len, 1);
    fl_buf_free(&b);
}

static void encoded_device_id(void **state)
{
    (void)state;
    fl_record r = full_record();
    fl_buf b = {0};
    fl_slice id;
    assert_int_equal(fl_record_encode(&r, &b), 0);
    assert_int_equal(fl_record_encoded_device_id(b.data, b.len, &id), 0);
    assert_int_equal(id.len, r.device_id.len);
    assert_memory_equal(id.ptr, r.device_id.ptr, id.len);
    assert_ptr_equal(id.ptr, b.data + 12); /* borrowed from the encoded bytes */
    assert_int_equal(fl_record_encoded_device_id(b.data, 11, &id), FL_ECORRUPT);
    assert_int_equal(fl_record_encoded_device_id(b.data, 12 + r.device_id.len - 1, &id),
                     FL_ECORRUPT);
    b.data[0] = 9; /* unknown version */
    assert_int_equal(fl_record_encoded_device_id(b.data, b.len, &id), FL_ECORRUPT);
    fl_buf_free(&b);
}

static void to_json(void **state)
{
    (void)state;
    fl_record r = full_record();
    fl_buf out = {0};
    assert_int_equal(fl_record_to_json(&r, &out), 0);
    assert_string_equal(out.data,
                        "{\"device_id\":\"truck-0042\",\"timestamp\":\"2026-11-25T01:02:03.456789Z\","
                        "\"temperature\":21.5,\"humidity\":-0,\"pressure\":1013.1,\"location\":"
                        "{\"latitude\":37.56,\"longitude\":-126.97},\"metadata\":{\"version\":\"1.2.0\","
                        "\"source\":\"fms-gw\",\"region\":\"kr\"},\"fw\":\"x\"}");
    /* groups alone re-create their objects */
    fl_record m;
    memset(&m, 0, sizeof m);
    m.device_id = FL_SLICE_LIT("d");
    m.timestamp_us = 0;
    m.extra = FL_SLICE_LIT("{\"location\":{\"alt\":1},\"a\":[1],\"metadata\":{\"x\":null}}");
    m.present = FL_REC_EXTRA;
    fl_buf_reset(&out);
    assert_int_equal(fl_record_to_json(&m, &out), 0);
    assert_string_equal(out.data, "{\"device_id\":\"d\",\"timestamp\":\"1970-01-01T00:00:00.000000Z\","
                                  "\"location\":{\"alt\":1},\"metadata\":{\"x\":null},\"a\":[1]}");
    m.extra = FL_SLICE_LIT("[1]");
    assert_int_equal(fl_record_to_json(&m, &out), FL_EINVAL);
    /* strings are escaped */
    m.present = FL_REC_META_SOURCE;
    m.metadata_source = FL_SLICE_LIT("a\"b\n");
    fl_buf_reset(&out);
    assert_int_equal(fl_record_to_json(&m, &out), 0);
    assert_non_null(strstr(out.data, "\"metadata\":{\"source\":\"a\\\"b\\n\"}"));
    fl_buf_free(&out);
}

static void json_round_trip(void **state)
{
    (void)state;
    fl_ingest_limits lim = {16, 4096, 300 * FL_US_PER_SEC, INT64_C(946684800000000)};
    const char *in = "{\"x\":1,\"device_id\":\"truck\\u002d7\",\"timestamp\":1795568523456,"
                     "\"temperature\":0.1,\"location\":{\"k\":true,\"latitude\":-0,\"longitude\":"
                     "1e-7},\"metadata\":{\"source\":\"\\u00e9\",\"m\":{}}}";
    fl_record a, b, c;
    fl_record_error err;
    fl_buf s1 = {0}, s2 = {0}, bin = {0}, json = {0};
    assert_int_equal(fl_record_decode_json(in, strlen(in), INT64_C(1795568700000000), &lim, &a, &s1,
                                           &err), 0);
    assert_int_equal(fl_record_encode(&a, &bin), 0);
    assert_int_equal(fl_record_decode(bin.data, bin.len, &b), 0);
    assert_same(&a, &b);
    assert_int_equal(fl_record_to_json(&b, &json), 0);
    assert_int_equal(fl_record_decode_json(json.data, json.len, INT64_C(1795568700000000), &lim, &c,
                                           &s2, &err), 0);
    assert_int_equal(c.present, a.present);
    assert_int_equal(c.extra.len, a.extra.len);
    assert_true(signbit(c.latitude) && c.longitude == 1e-7 && c.temperature == 0.1);
    assert_true(fl_slice_eq_cstr(c.device_id, "truck-7"));
    assert_true(fl_slice_eq_cstr(c.metadata_source, "\xc3\xa9"));
    fl_buf_free(&s1);
    fl_buf_free(&s2);
    fl_buf_free(&bin);
    fl_buf_free(&json);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(round_trip),
        cmocka_unit_test(truncation_and_trailing_bytes),
        cmocka_unit_test(corrupt_fields),
        cmocka_unit_test(trace_id),
        cmocka_unit_test(encoded_device_id),
        cmocka_unit_test(to_json),
        cmocka_unit_test(json_round_trip),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
