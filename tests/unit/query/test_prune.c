/* test_prune.c — pruning decisions as pure functions: partition columns, time ranges against a
 * file's hour and its min_ts/max_ts, strict vs inclusive bounds, REAL bounds widened, NULL
 * comparisons, empty files, and row-group statistics (time range, device_id equality). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <string.h>

#include "query/query_int.h"

#define HOUR_US INT64_C(3600000000)

/* A file of 2026-01-02 hour h with rows spanning [min, max] minutes into the hour. */
static fl_lake_file file_at(int h, int min_minute, int max_minute)
{
    fl_lake_file f;
    memset(&f, 0, sizeof f);
    f.year = 2026;
    f.month = 1;
    f.day = 2;
    f.hour = h;
    f.rows = 10;
    fl_lake_partition p = {2026, 1, 2, h};
    int64_t start = fl_lake_partition_hour(p) * HOUR_US;
    f.min_ts = start + (int64_t)min_minute * 60000000;
    f.max_ts = start + (int64_t)max_minute * 60000000;
    return f;
}

static int64_t hour_start(int h)
{
    fl_lake_partition p = {2026, 1, 2, h};
    return fl_lake_partition_hour(p) * HOUR_US;
}

static void test_partition_columns(void **state)
{
    (void)state;
    fl_query_bounds b;
    fl_lake_file f = file_at(5, 0, 59);
    fl_query_bounds_init(&b);
    assert_int_equal(fl_query_file_may_match(&b, &f, 1), 1);
    fl_query_bounds_add_int(&b, QB_YEAR, SQLITE_INDEX_CONSTRAINT_EQ, 2026);
    fl_query_bounds_add_int(&b, QB_HOUR, SQLITE_INDEX_CONSTRAINT_GE, 5);
    assert_int_equal(fl_query_file_may_match(&b, &f, 1), 1);
    fl_query_bounds_add_int(&b, QB_HOUR, SQLITE_INDEX_CONSTRAINT_LT, 5);
    assert_int_equal(fl_query_file_may_match(&b, &f, 1), 0);

    fl_query_bounds_init(&b);
    fl_query_bounds_add_int(&b, QB_DAY, SQLITE_INDEX_CONSTRAINT_GT, 2);
    assert_int_equal(fl_query_file_may_match(&b, &f, 1), 0);
    fl_query_bounds_init(&b);
    fl_query_bounds_add_int(&b, QB_MONTH, SQLITE_INDEX_CONSTRAINT_LE, 1);
    assert_int_equal(fl_query_file_may_match(&b, &f, 1), 1);
    fl_query_bounds_add_int(&b, QB_YEAR, SQLITE_INDEX_CONSTRAINT_EQ, 2025);
    assert_int_equal(fl_query_file_may_match(&b, &f, 1), 0);
}

static void test_time_range(void **state)
{
    (void)state;
    fl_query_bounds b;
    fl_lake_file f = file_at(5, 10, 20);
    /* Before the file's min_ts but inside the hour: pruned by min/max, not by the hour. */
    fl_query_bounds_init(&b);
    fl_query_bounds_add_int(&b, QB_TS, SQLITE_INDEX_CONSTRAINT_LT, f.min_ts);
    assert_int_equal(fl_query_file_may_match(&b, &f, 1), 0);
    fl_query_bounds_init(&b);
    fl_query_bounds_add_int(&b, QB_TS, SQLITE_INDEX_CONSTRAINT_LE, f.min_ts);
    assert_int_equal(fl_query_file_may_match(&b, &f, 1), 1);
    fl_query_bounds_init(&b);
    fl_query_bounds_add_int(&b, QB_TS, SQLITE_INDEX_CONSTRAINT_GT, f.max_ts);
    assert_int_equal(fl_query_file_may_match(&b, &f, 1), 0);
    fl_query_bounds_init(&b);
    fl_query_bounds_add_int(&b, QB_TS, SQLITE_INDEX_CONSTRAINT_GE, f.max_ts);
    assert_int_equal(fl_query_file_may_match(&b, &f, 1), 1);
    /* Unknown min/max (-1): only the hour decides. */
    f.min_ts = f.max_ts = -1;
    fl_query_bounds_init(&b);
    fl_query_bounds_add_int(&b, QB_TS, SQLITE_INDEX_CONSTRAINT_GE, hour_start(6));
    assert_int_equal(fl_query_file_may_match(&b, &f, 1), 0);
    fl_query_bounds_init(&b);
    fl_query_bounds_add_int(&b, QB_TS, SQLITE_INDEX_CONSTRAINT_GE, hour_start(6) - 1);
    assert_int_equal(fl_query_file_may_match(&b, &f, 1), 1);
    fl_query_bounds_init(&b);
    fl_query_bounds_add_int(&b, QB_TS, SQLITE_INDEX_CONSTRAINT_EQ, hour_start(5));
    assert_int_equal(fl_query_file_may_match(&b, &f, 1), 1);
    /* A day-partitioned file (hour -1) spans the whole day. */
    f.hour = -1;
    fl_query_bounds_init(&b);
    fl_query_bounds_add_int(&b, QB_TS, SQLITE_INDEX_CONSTRAINT_EQ, hour_start(23));
    assert_int_equal(fl_query_file_may_match(&b, &f, 0), 1);
    fl_query_bounds_add_int(&b, QB_TS, SQLITE_INDEX_CONSTRAINT_EQ, hour_start(24));
    assert_int_equal(fl_query_file_may_match(&b, &f, 0), 0);
}

static void test_real_and_edges(void **state)
{
    (void)state;
    fl_query_bounds b;
    fl_lake_file f = file_at(5, 0, 59);
    /* hour > 4.5 keeps hour 5; hour < 5.5 keeps it too; hour = 5.5 widens to [5, 6]. */
    fl_query_bounds_init(&b);
    fl_query_bounds_add_real(&b, QB_HOUR, SQLITE_INDEX_CONSTRAINT_GT, 4.5);
    fl_query_bounds_add_real(&b, QB_HOUR, SQLITE_INDEX_CONSTRAINT_LT, 5.5);
    assert_int_equal(fl_query_file_may_match(&b, &f, 1), 1);
    fl_query_bounds_add_real(&b, QB_HOUR, SQLITE_INDEX_CONSTRAINT_GE, 5.5);
    assert_int_equal(fl_query_file_may_match(&b, &f, 1), 1); /* widened, SQLite re-checks */
    fl_query_bounds_add_real(&b, QB_HOUR, SQLITE_INDEX_CONSTRAINT_GE, 6.5);
    assert_int_equal(fl_query_file_may_match(&b, &f, 1), 0);
    /* Huge and NaN reals push nothing down. */
    fl_query_bounds_init(&b);
    fl_query_bounds_add_real(&b, QB_TS, SQLITE_INDEX_CONSTRAINT_LT, -1e300);
    assert_int_equal(fl_query_file_may_match(&b, &f, 1), 1);
    /* Extremes do not overflow. */
    fl_query_bounds_init(&b);
    fl_query_bounds_add_int(&b, QB_TS, SQLITE_INDEX_CONSTRAINT_LT, INT64_MIN);
    assert_int_equal(fl_query_file_may_match(&b, &f, 1), 0);
    fl_query_bounds_init(&b);
    fl_query_bounds_add_int(&b, QB_TS, SQLITE_INDEX_CONSTRAINT_GT, INT64_MAX);
    assert_int_equal(fl_query_file_may_match(&b, &f, 1), 0);
    fl_query_bounds_init(&b);
    fl_query_bounds_add_int(&b, QB_TS, SQLITE_INDEX_CONSTRAINT_LE, INT64_MAX);
    assert_int_equal(fl_query_file_may_match(&b, &f, 1), 1);
    /* Comparison with NULL and empty files. */
    fl_query_bounds_init(&b);
    b.empty = 1;
    assert_int_equal(fl_query_file_may_match(&b, &f, 1), 0);
    fl_query_bounds_init(&b);
    f.rows = 0;
    assert_int_equal(fl_query_file_may_match(&b, &f, 1), 0);
}

static fl_pq_stats int_stats(int64_t lo, int64_t hi)
{
    fl_pq_stats s = {.has_min_max = 1, .null_count = 0};
    s.min.i = lo;
    s.max.i = hi;
    return s;
}

static fl_pq_stats str_stats(const char *lo, const char *hi)
{
    fl_pq_stats s = {.has_min_max = 1, .null_count = 0};
    s.min.s = fl_slice_from_cstr(lo);
    s.max.s = fl_slice_from_cstr(hi);
    return s;
}

static void test_row_groups(void **state)
{
    (void)state;
    fl_query_bounds b;
    fl_pq_stats ts = int_stats(100, 200), dev = str_stats("truck-0003", "truck-0007");
    fl_pq_stats none = {0};
    fl_query_bounds_init(&b);
    assert_int_equal(fl_query_row_group_may_match(&b, &ts, &dev), 1);
    fl_query_bounds_add_int(&b, QB_TS, SQLITE_INDEX_CONSTRAINT_GT, 200);
    assert_int_equal(fl_query_row_group_may_match(&b, &ts, &dev), 0);
    assert_int_equal(fl_query_row_group_may_match(&b, &none, &dev), 1); /* no stats: read */
    assert_int_equal(fl_query_row_group_may_match(&b, NULL, NULL), 1);
    fl_query_bounds_init(&b);
    fl_query_bounds_add_int(&b, QB_TS, SQLITE_INDEX_CONSTRAINT_GE, 200);
    assert_int_equal(fl_query_row_group_may_match(&b, &ts, &dev), 1);

    fl_query_bounds_init(&b);
    b.has_device = 1;
    strcpy(b.device_id, "truck-0005");
    assert_int_equal(fl_query_row_group_may_match(&b, &ts, &dev), 1);
    strcpy(b.device_id, "truck-0003");
    assert_int_equal(fl_query_row_group_may_match(&b, &ts, &dev), 1);
    strcpy(b.device_id, "truck-0007");
    assert_int_equal(fl_query_row_group_may_match(&b, &ts, &dev), 1);
    strcpy(b.device_id, "truck-0008");
    assert_int_equal(fl_query_row_group_may_match(&b, &ts, &dev), 0);
    strcpy(b.device_id, "truck-000"); /* a prefix sorts before the minimum */
    assert_int_equal(fl_query_row_group_may_match(&b, &ts, &dev), 0);
    strcpy(b.device_id, "truck-00070"); /* longer than the maximum sorts after it */
    assert_int_equal(fl_query_row_group_may_match(&b, &ts, &dev), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_partition_columns),
        cmocka_unit_test(test_time_range),
        cmocka_unit_test(test_real_and_edges),
        cmocka_unit_test(test_row_groups),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
