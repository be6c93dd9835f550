/* test_core.c — unit tests for core: CRC32C, RFC 3339, durations, buffers, errors. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "core/core.h"

static void crc32c_known_vectors(void **state)
{
    (void)state;
    /* RFC 3720 B.4 test vectors */
    unsigned char zeros[32] = {0}, ones[32], inc[32];
    memset(ones, 0xFF, sizeof ones);
    for (int i = 0; i < 32; i++)
        inc[i] = (unsigned char)i;
    assert_int_equal(fl_crc32c(0, zeros, 32), 0x8A9136AA);
    assert_int_equal(fl_crc32c(0, ones, 32), 0x62A8AB43);
    assert_int_equal(fl_crc32c(0, inc, 32), 0x46DD794E);
    assert_int_equal(fl_crc32c(0, "123456789", 9), 0xE3069283);
    assert_int_equal(fl_crc32c_sw(0, "123456789", 9), 0xE3069283);
}

static void crc32c_hw_matches_sw_and_is_incremental(void **state)
{
    (void)state;
    unsigned char buf[1000];
    for (int i = 0; i < 1000; i++)
        buf[i] = (unsigned char)(i * 7 + 3);
    for (size_t n = 0; n < sizeof buf; n += 37) {
        uint32_t a = fl_crc32c(0, buf, n);
        assert_int_equal(a, fl_crc32c_sw(0, buf, n));
        uint32_t b = fl_crc32c(fl_crc32c(0, buf, n / 3), buf + n / 3, n - n / 3);
        assert_int_equal(a, b);
    }
}

static void rfc3339_parse(void **state)
{
    (void)state;
    int64_t us;
    assert_int_equal(fl_time_parse_rfc3339("1970-01-01T00:00:00Z", 20, &us), 0);
    assert_int_equal(us, 0);
    const char *s = "2026-11-25T01:02:03.456Z";
    assert_int_equal(fl_time_parse_rfc3339(s, strlen(s), &us), 0);
    assert_int_equal(us, INT64_C(1795568523456000));
    s = "2026-11-25T10:02:03.456+09:00";
    assert_int_equal(fl_time_parse_rfc3339(s, strlen(s), &us), 0);
    assert_int_equal(us, INT64_C(1795568523456000));
    s = "2026-11-25T01:02:03.123456789Z";
    assert_int_equal(fl_time_parse_rfc3339(s, strlen(s), &us), 0);
    assert_int_equal(us % 1000000, 123456);
    const char *bad[] = {"2026-11-25",           "2026-11-25T01:02:03",   "2026-13-01T00:00:00Z",
                         "2026-02-30T00:00:00Z", "2026-11-25T24:00:00Z", "2026-11-25T01:02:03.Z",
                         "2026-11-25T01:02:03Zx", "2026-11-25T01:02:03+0900", "abcd-11-25T01:02:03Z"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        assert_int_equal(fl_time_parse_rfc3339(bad[i], strlen(bad[i]), &us), FL_EPARSE);
}

static void rfc3339_format_roundtrip(void **state)
{
    (void)state;
    char buf[FL_TIME_RFC3339_MAX];
    fl_time_format_rfc3339(INT64_C(1795568523456000), buf);
    assert_string_equal(buf, "2026-11-25T01:02:03.456000Z");
    fl_time_format_rfc3339(-1, buf);
    assert_string_equal(buf, "1969-12-31T23:59:59.999999Z");
    for (int64_t us = -INT64_C(100000000000000); us < INT64_C(4000000000000000);
         us += INT64_C(987654321012)) {
        int64_t back;
        size_t n = fl_time_format_rfc3339(us, buf);
        assert_int_equal(fl_time_parse_rfc3339(buf, n, &back), 0);
        assert_int_equal(back, us);
    }
}

static void durations(void **state)
{
    (void)state;
    int64_t us;
    assert_int_equal(fl_time_parse_duration("250ms", &us), 0);
    assert_int_equal(us, 250000);
    assert_int_equal(fl_time_parse_duration("24h", &us), 0);
    assert_int_equal(us, INT64_C(86400000000));
    assert_int_equal(fl_time_parse_duration("30", &us), 0);
    assert_int_equal(us, 30000000);
    assert_int_equal(fl_time_parse_duration("5 parsecs", &us), FL_EPARSE);
    assert_int_equal(fl_time_parse_duration("", &us), FL_EPARSE);
}

static void json_string_escaping(void **state)
{
    (void)state;
    fl_buf b = {0};
    assert_int_equal(fl_buf_append_json_string(&b, "a\"b\\c\n\x01\xc3\xa9\xff", 10), 0);
    assert_string_equal(b.data, "a\\\"b\\\\c\\n\\u0001\xc3\xa9\\ufffd");
    fl_buf_free(&b);
}

static void errors_have_names(void **state)
{
    (void)state;
    assert_string_equal(fl_strerror(FL_ECORRUPT), "data corruption detected");
    assert_string_equal(fl_errname(FL_ESTOPPED), "STOPPED");
    assert_string_equal(fl_errname(-5), "EIO");
    assert_true(FL_ENOMEM < -900 && FL_ENOMEM > -1000);
}

static void allocation_failure_injection(void **state)
{
    (void)state;
    fl_mem_fail_after(1);
    void *a = fl_malloc(8);
    void *b = fl_malloc(8);
    fl_mem_fail_after(-1);
    void *c = fl_malloc(8);
    assert_non_null(a);
    assert_null(b);
    assert_non_null(c);
    fl_free(a);
    fl_free(c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(crc32c_known_vectors),
        cmocka_unit_test(crc32c_hw_matches_sw_and_is_incremental),
        cmocka_unit_test(rfc3339_parse),
        cmocka_unit_test(rfc3339_format_roundtrip),
        cmocka_unit_test(durations),
        cmocka_unit_test(json_string_escaping),
        cmocka_unit_test(errors_have_names),
        cmocka_unit_test(allocation_failure_injection),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
