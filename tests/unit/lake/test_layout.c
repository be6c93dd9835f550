/* test_layout.c — the lake's pure parts: UTC hour partitions (hour and day boundaries, leap
 * years, instants before 1970), keys without zero padding (month=1) and their strict parsing,
 * the safe checkpoint and the per-partition high-water marks of exactly-once delivery, and
 * UTF-8 validation and replacement for string columns. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <errno.h>
#include <string.h>

#include "lake/lake_int.h"

static int64_t ts(const char *rfc3339)
{
    int64_t us = 0;
    if (fl_time_parse_rfc3339(rfc3339, strlen(rfc3339), &us))
        fail_msg("bad test timestamp %s", rfc3339);
    return us;
}

static void check_partition(const char *when, int y, int m, int d, int h)
{
    fl_lake_partition p = fl_lake_partition_of(ts(when));
    if (p.year != y || p.month != m || p.day != d || p.hour != h)
        fail_msg("%s -> %d-%d-%d %d, want %d-%d-%d %d", when, p.year, p.month, p.day, p.hour, y, m,
                 d, h);
    assert_int_equal(fl_lake_partition_hour(p), fl_lake_hour_of(ts(when)));
}

static void utc_hour_partitions(void **state)
{
    (void)state;
    check_partition("2026-11-25T01:02:03.456Z", 2026, 11, 25, 1);
    /* hour boundaries: the last µs of an hour and the first of the next */
    check_partition("2026-01-05T00:59:59.999999Z", 2026, 1, 5, 0);
    check_partition("2026-01-05T01:00:00Z", 2026, 1, 5, 1);
    /* a zone offset is converted to UTC first: 09:30 in Seoul is 00:30 UTC */
    check_partition("2026-01-05T09:30:00+09:00", 2026, 1, 5, 0);
    check_partition("2026-01-05T08:59:59+09:00", 2026, 1, 4, 23);
    /* year and leap-day boundaries */
    check_partition("2025-12-31T23:59:59.999999Z", 2025, 12, 31, 23);
    check_partition("2026-01-01T00:00:00Z", 2026, 1, 1, 0);
    check_partition("2024-02-29T12:00:00Z", 2024, 2, 29, 12);
    check_partition("2024-03-01T00:00:00Z", 2024, 3, 1, 0);
    check_partition("2000-02-29T23:00:00Z", 2000, 2, 29, 23); /* 2000 is a leap year */
    check_partition("2100-03-01T00:00:00Z", 2100, 3, 1, 0);   /* 2100 is not */
    check_partition("2100-02-28T23:59:59Z", 2100, 2, 28, 23);
    /* before the epoch: floor, not truncation toward zero */
    check_partition("1969-12-31T23:59:59.999999Z", 1969, 12, 31, 23);
    check_partition("1970-01-01T00:00:00Z", 1970, 1, 1, 0);
    assert_int_equal(fl_lake_hour_of(-1), -1);
    assert_int_equal(fl_lake_hour_of(0), 0);
    assert_int_equal(fl_lake_hour_of(INT64_C(3600000000) - 1), 0);
    assert_int_equal(fl_lake_hour_of(INT64_C(3600000000)), 1);
}

static void keys_not_zero_padded(void **state)
{
    (void)state;
    char key[256];
    fl_lake_partition p = fl_lake_partition_of(ts("2026-01-05T01:02:03Z"));
    assert_int_equal(fl_lake_part_key(key, sizeof key, FL_LAKE_RAW_PREFIX, p, 0, 1, 500), 0);
    assert_string_equal(key, "raw-data/year=2026/month=1/day=5/hour=1/part-0-1-500.parquet");
    p = fl_lake_partition_of(ts("2026-12-31T23:00:00Z"));
    assert_int_equal(fl_lake_part_key(key, sizeof key, FL_LAKE_REJECTED_PREFIX, p, 255,
                                      UINT64_C(9007199254740993), UINT64_C(9007199254740999)),
                     0);
    assert_string_equal(key, "errors/rejected_records/year=2026/month=12/day=31/hour=23/"
                             "part-255-9007199254740993-9007199254740999.parquet");
    char small[20];
    assert_int_equal(fl_lake_part_key(small, sizeof small, FL_LAKE_RAW_PREFIX, p, 0, 1, 2),
                     -ENAMETOOLONG);

    fl_lake_partition q;
    uint32_t shard;
    uint64_t first, last;
    assert_int_equal(fl_lake_part_key_parse(key, FL_LAKE_REJECTED_PREFIX, &q, &shard, &first, &last),
                     0);
    assert_int_equal(q.year, 2026);
    assert_int_equal(q.month, 12);
    assert_int_equal(q.day, 31);
    assert_int_equal(q.hour, 23);
    assert_int_equal(shard, 255);
    assert_int_equal(first, UINT64_C(9007199254740993));
    assert_int_equal(last, UINT64_C(9007199254740999));
    /* anything but the exact form is not ours */
    static const char *const not_ours[] = {
        "raw-data/year=2026/month=01/day=5/hour=1/part-0-1-5.parquet", /* padded */
        "raw-data/year=2026/month=1/day=5/hour=1/part-0-5-1.parquet",  /* first > last */
        "raw-data/year=2026/month=1/day=5/hour=24/part-0-1-5.parquet",
        "raw-data/year=2026/month=13/day=5/hour=1/part-0-1-5.parquet",
        "raw-data/year=2026/month=0/day=5/hour=1/part-0-1-5.parquet",
        "raw-data/year=2026/month=1/day=5/hour=1/part-0-1-5.parquet.tmp",
        "raw-data/year=2026/month=1/day=5/hour=1/part-0-1-5.csv",
        "raw-data/year=2026/month=1/day=5/hour=1/x/part-0-1-5.parquet",
        "raw-data/year=2026/month=1/day=5/part-0-1-5.parquet",
        "raw-data/year=2026/month=1/day=5/hour=1/part--1-1-5.parquet",
        "raw-data/year=2026/month=1/day=5/hour=1/part-0-1-99999999999999999999.parquet",
        "raw-data2/year=2026/month=1/day=5/hour=1/part-0-1-5.parquet",
        "processed-data/year=2026/month=1/day=5/hour=1/part-0-1-5.parquet",
    };
    for (size_t i = 0; i < sizeof not_ours / sizeof not_ours[0]; i++)
        if (fl_lake_part_key_parse(not_ours[i], FL_LAKE_RAW_PREFIX, &q, &shard, &first, &last) !=
            FL_EPARSE)
            fail_msg("parsed %s", not_ours[i]);
    assert_int_equal(fl_lake_part_key_parse("raw-data/year=2026/month=1/day=5/hour=1/part-3-7-7.parquet",
                                            FL_LAKE_RAW_PREFIX, &q, &shard, &first, &last),
                     0);
    assert_int_equal(shard, 3);
    assert_int_equal(first, 7);
}

static lake_partition_buf part(uint64_t first, uint64_t last, size_t rows)
{
    lake_partition_buf p;
    memset(&p, 0, sizeof p);
    p.first_seq = first;
    p.last_seq = last;
    p.rows = rows;
    return p;
}

static void safe_checkpoint(void **state)
{
    (void)state;
    /* nothing buffered: everything read is covered */
    assert_int_equal(lake_safe_checkpoint(42, 0, NULL, 0, -1), 42);
    /* interleaved partitions: A holds 3,5,9; B holds 4,6; C holds 7,8 */
    lake_partition_buf ps[3] = {part(3, 9, 3), part(4, 6, 2), part(7, 8, 2)};
    assert_int_equal(lake_safe_checkpoint(9, 0, ps, 3, -1), 2);
    /* committing A leaves B (first 4) buffered: checkpoint 3 */
    assert_int_equal(lake_safe_checkpoint(9, 0, ps, 3, 0), 3);
    /* committing C while A and B stay: still 2 */
    assert_int_equal(lake_safe_checkpoint(9, 0, ps, 3, 2), 2);
    /* never below the saved checkpoint */
    assert_int_equal(lake_safe_checkpoint(9, 5, ps, 3, 0), 5);
    /* an emptied slot does not hold the checkpoint back */
    ps[1].rows = 0;
    assert_int_equal(lake_safe_checkpoint(9, 0, ps, 3, 0), 6);
}

static void high_water_marks(void **state)
{
    (void)state;
    lake_hwm_table t = {0};
    assert_false(lake_hwm_covers(&t, 10, 1));
    assert_int_equal(lake_hwm_set(&t, 10, 20), 0);
    assert_int_equal(lake_hwm_set(&t, 5, 30), 0);
    assert_int_equal(lake_hwm_set(&t, 7, 25), 0);
    assert_int_equal(lake_hwm_set(&t, 10, 15), 0); /* never lowered */
    assert_int_equal(t.n, 3);
    assert_int_equal(t.v[0].hour, 5); /* sorted */
    assert_int_equal(t.v[2].hour, 10);
    assert_int_equal(t.max_seq, 30);
    assert_true(lake_hwm_covers(&t, 10, 20));
    assert_true(lake_hwm_covers(&t, 10, 1));
    assert_false(lake_hwm_covers(&t, 10, 21)); /* 21..30 of hour 10 were not committed */
    assert_true(lake_hwm_covers(&t, 5, 30));
    assert_false(lake_hwm_covers(&t, 6, 2)); /* no file of hour 6 */
    assert_false(lake_hwm_covers(&t, 5, 31));
    for (int64_t h = 100; h < 300; h++) /* growth */
        assert_int_equal(lake_hwm_set(&t, h, (uint64_t)h), 0);
    assert_true(lake_hwm_covers(&t, 250, 250));
    assert_false(lake_hwm_covers(&t, 250, 251));
    lake_hwm_free(&t);
    assert_int_equal(t.n, 0);
}

static void utf8(void **state)
{
    (void)state;
    assert_true(lake_utf8_valid("plain", 5));
    assert_true(lake_utf8_valid("\xC3\xA9\xE2\x82\xAC\xF0\x9F\x9A\x9A", 9)); /* é € 🚚 */
    assert_false(lake_utf8_valid("\xC3", 1));         /* truncated */
    assert_false(lake_utf8_valid("\xC0\xAF", 2));     /* overlong */
    assert_false(lake_utf8_valid("\xED\xA0\x80", 3)); /* surrogate */
    assert_false(lake_utf8_valid("\xF4\x90\x80\x80", 4)); /* > U+10FFFF */
    assert_false(lake_utf8_valid("\xFF", 1));
    fl_buf b = {0};
    assert_int_equal(lake_utf8_sanitize(&b, "a\xFF" "b\xC3\xA9" "c\xC3", 7), 0);
    assert_int_equal(b.len, 11);
    assert_memory_equal(b.data, "a\xEF\xBF\xBD" "b\xC3\xA9" "c\xEF\xBF\xBD", 11);
    assert_true(lake_utf8_valid(b.data, b.len));
    fl_buf_reset(&b);
    assert_int_equal(lake_utf8_sanitize(&b, "", 0), 0);
    assert_int_equal(b.len, 0);
    fl_buf_free(&b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(utc_hour_partitions), cmocka_unit_test(keys_not_zero_padded),
        cmocka_unit_test(safe_checkpoint),     cmocka_unit_test(high_water_marks),
        cmocka_unit_test(utf8),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
