/* test_dead_letter.c — dead letters: binary round trip (version 1 without a trace id, version 2
 * with one), hostile bytes refused, JSON form. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "ingest/ingest.h"

static fl_dead_letter sample(void)
{
    fl_dead_letter dl = {INT64_C(1795568523456789), FL_SLICE_LIT("wrong_type"),
                         FL_SLICE_LIT("temperature: expected a number or null, got string"),
                         FL_SLICE_LIT("{\"temperature\":\"hot\"}\n\xff"),
                         0,
                         {0}};
    return dl;
}

static const uint8_t trace[16] = {0x4b, 0xf9, 0x2f, 0x35, 0x77, 0xb3, 0x4d, 0xa6,
                                  0xa3, 0xce, 0x92, 0x9d, 0x0e, 0x0e, 0x47, 0x36};

static fl_dead_letter traced(void)
{
    fl_dead_letter dl = sample();
    dl.has_trace = 1;
    memcpy(dl.trace_id, trace, sizeof trace);
    return dl;
}

static void round_trip(void **state)
{
    (void)state;
    fl_dead_letter dl = sample(), back;
    fl_buf b = {0};
    assert_int_equal(fl_dead_letter_encode(&dl, &b), 0);
    assert_int_equal(b.len, 1 + 8 + 2 + 10 + 2 + dl.message.len + 4 + dl.raw.len);
    assert_int_equal(fl_dead_letter_decode(b.data, b.len, &back), 0);
    assert_int_equal(back.time_us, dl.time_us);
    assert_true(fl_slice_eq_cstr(back.code, "wrong_type"));
    assert_int_equal(back.message.len, dl.message.len);
    assert_memory_equal(back.message.ptr, dl.message.ptr, dl.message.len);
    assert_int_equal(back.raw.len, dl.raw.len);
    assert_memory_equal(back.raw.ptr, dl.raw.ptr, dl.raw.len);
    assert_int_equal(back.has_trace, 0);
    assert_int_equal(b.data[0], 1); /* no trace id: the version 1 form, byte for byte */
    fl_dead_letter empty = {0, {"", 0}, {"", 0}, {"", 0}, 0, {0}};
    fl_buf_reset(&b);
    assert_int_equal(fl_dead_letter_encode(&empty, &b), 0);
    assert_int_equal(fl_dead_letter_decode(b.data, b.len, &back), 0);
    assert_int_equal(back.raw.len, 0);
    fl_buf_free(&b);
}

/* Version 2: the trace id after the time, 16 bytes more; decoded back exactly. */
static void round_trip_trace(void **state)
{
    (void)state;
    fl_dead_letter dl = traced(), back;
    fl_buf b = {0};
    assert_int_equal(fl_dead_letter_encode(&dl, &b), 0);
    assert_int_equal(b.len, 1 + 8 + 16 + 2 + 10 + 2 + dl.message.len + 4 + dl.raw.len);
    assert_int_equal(b.data[0], 2);
    assert_memory_equal(b.data + 9, trace, 16);
    assert_int_equal(fl_dead_letter_decode(b.data, b.len, &back), 0);
    assert_int_equal(back.has_trace, 1);
    assert_memory_equal(back.trace_id, trace, 16);
    assert_int_equal(back.time_us, dl.time_us);
    assert_true(fl_slice_eq_cstr(back.code, "wrong_type"));
    assert_int_equal(back.raw.len, dl.raw.len);
    assert_memory_equal(back.raw.ptr, dl.raw.ptr, dl.raw.len);
    /* every truncation refused; an all-zero trace id is neither written nor read */
    for (size_t n = 0; n < b.len; n++)
        assert_int_equal(fl_dead_letter_decode(b.data, n, &back), FL_ECORRUPT);
    unsigned char tmp[256];
    memcpy(tmp, b.data, b.len);
    memset(tmp + 9, 0, 16);
    assert_int_equal(fl_dead_letter_decode(tmp, b.len, &back), FL_ECORRUPT);
    assert_int_equal(back.has_trace, 0);
    fl_dead_letter zero = traced();
    memset(zero.trace_id, 0, sizeof zero.trace_id);
    fl_buf_reset(&b);
    assert_int_equal(fl_dead_letter_encode(&zero, &b), FL_EINVAL);
    assert_int_equal(b.len, 0);
    /* a version 1 letter (as written before trace ids) still decodes, without one */
    fl_dead_letter v1 = sample();
    assert_int_equal(fl_dead_letter_encode(&v1, &b), 0);
    assert_int_equal(fl_dead_letter_decode(b.data, b.len, &back), 0);
    assert_int_equal(back.has_trace, 0);
    fl_buf_free(&b);
}

static void hostile(void **state)
{
    (void)state;
    fl_dead_letter dl = sample(), back;
    fl_buf b = {0};
    assert_int_equal(fl_dead_letter_encode(&dl, &b), 0);
    for (size_t n = 0; n < b.len; n++)
        assert_int_equal(fl_dead_letter_decode(b.data, n, &back), FL_ECORRUPT);
    unsigned char tmp[256];
    memcpy(tmp, b.data, b.len);
    tmp[0] = 9;
    assert_int_equal(fl_dead_letter_decode(tmp, b.len, &back), FL_ECORRUPT);
    memcpy(tmp, b.data, b.len);
    tmp[9] = 0xFF; /* code length 0xFF > 64 */
    assert_int_equal(fl_dead_letter_decode(tmp, b.len, &back), FL_ECORRUPT);
    memcpy(tmp, b.data, b.len);
    tmp[b.len] = 0;
    assert_int_equal(fl_dead_letter_decode(tmp, b.len + 1, &back), FL_ECORRUPT);
    assert_int_equal(back.raw.len, 0);
    for (size_t off = 0; off < b.len; off++) {
        memcpy(tmp, b.data, b.len);
        tmp[off] ^= 0x80;
        int rc = fl_dead_letter_decode(tmp, b.len, &back);
        assert_true(rc == 0 || rc == FL_ECORRUPT);
    }
    fl_dead_letter too_long = sample();
    char code[100];
    memset(code, 'c', sizeof code);
    too_long.code = (fl_slice){code, sizeof code};
    assert_int_equal(fl_dead_letter_encode(&too_long, &b), FL_EINVAL);
    fl_buf_free(&b);
}

static void to_json(void **state)
{
    (void)state;
    fl_dead_letter dl = sample();
    fl_buf out = {0};
    assert_int_equal(fl_dead_letter_to_json(&dl, &out), 0);
    assert_string_equal(out.data,
                        "{\"time\":\"2026-11-25T01:02:03.456789Z\",\"code\":\"wrong_type\","
                        "\"message\":\"temperature: expected a number or null, got string\","
                        "\"raw\":\"{\\\"temperature\\\":\\\"hot\\\"}\\n\\ufffd\"}");
    fl_dead_letter t = traced();
    fl_buf_reset(&out);
    assert_int_equal(fl_dead_letter_to_json(&t, &out), 0);
    const char *tail = "\"raw\":\"{\\\"temperature\\\":\\\"hot\\\"}\\n\\ufffd\","
                       "\"trace_id\":\"4bf92f3577b34da6a3ce929d0e0e4736\"}";
    assert_true(out.len > strlen(tail));
    assert_string_equal(out.data + out.len - strlen(tail), tail);
    fl_buf_free(&out);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(round_trip),
        cmocka_unit_test(round_trip_trace),
        cmocka_unit_test(hostile),
        cmocka_unit_test(to_json),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
