/* test_prune.c — pruning decisions as pure functions: partition columns, time ranges against a
 * file's hour and its min_ts/max_ts, strict vs inclusive bounds, REAL bounds widened, NULL
 * comparisons, empty files, row-group statistics (time range, device_id equality and IN
 * lists), device sets (IN, intersected with '=') and the row filters of numeric columns. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <math.h>
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

    const char *cases[][2] = {
        {"truck-0005", "1"}, {"truck-0003", "1"}, {"truck-0007", "1"}, {"truck-0008", "0"},
        {"truck-000", "0"},   /* a prefix sorts before the minimum */
        {"truck-00070", "0"}, /* longer than the maximum sorts after it */
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        fl_slice one = fl_slice_from_cstr(cases[i][0]);
        fl_query_bounds_init(&b);
        fl_query_bounds_set_devices(&b, &one, 1);
        assert_int_equal(fl_query_row_group_may_match(&b, &ts, &dev), cases[i][1][0] == '1');
    }
}

/* IN lists: sorted and deduplicated, intersected with '=', empty when nothing is left. */
static void test_device_sets(void **state)
{
    (void)state;
    fl_query_bounds b;
    fl_slice in[] = {fl_slice_from_cstr("truck-0009"), fl_slice_from_cstr("truck-0002"),
                     fl_slice_from_cstr("truck-0009"), fl_slice_from_cstr("truck-00")};
    fl_query_bounds_init(&b);
    assert_int_equal(fl_query_device_match(&b, fl_slice_from_cstr("anything")), 1);
    fl_query_bounds_set_devices(&b, in, 4);
    assert_int_equal(b.has_device, 1);
    assert_int_equal(b.empty, 0);
    assert_int_equal(b.device_count, 3);
    assert_int_equal(fl_query_slice_cmp(b.devices[0], fl_slice_from_cstr("truck-00")), 0);
    assert_int_equal(fl_query_slice_cmp(b.devices[1], fl_slice_from_cstr("truck-0002")), 0);
    assert_int_equal(fl_query_slice_cmp(b.devices[2], fl_slice_from_cstr("truck-0009")), 0);
    assert_int_equal(fl_query_device_match(&b, fl_slice_from_cstr("truck-0002")), 1);
    assert_int_equal(fl_query_device_match(&b, fl_slice_from_cstr("truck-0003")), 0);
    assert_int_equal(fl_query_device_match(&b, fl_slice_from_cstr("truck-000")), 0);

    /* ... AND device_id = 'truck-0009': the intersection */
    fl_slice eq = fl_slice_from_cstr("truck-0009");
    fl_query_bounds_set_devices(&b, &eq, 1);
    assert_int_equal(b.device_count, 1);
    assert_int_equal(fl_query_device_match(&b, fl_slice_from_cstr("truck-0002")), 0);
    assert_int_equal(fl_query_device_match(&b, fl_slice_from_cstr("truck-0009")), 1);
    /* ... AND device_id = 'truck-0001': nothing can match */
    fl_slice other = fl_slice_from_cstr("truck-0001");
    fl_query_bounds_set_devices(&b, &other, 1);
    assert_int_equal(b.device_count, 0);
    assert_int_equal(b.empty, 1);
    fl_lake_file f = file_at(5, 0, 59);
    assert_int_equal(fl_query_file_may_match(&b, &f, 1), 0);

    /* IN () of only NULLs arrives as an empty list */
    fl_query_bounds_init(&b);
    fl_query_bounds_set_devices(&b, NULL, 0);
    assert_int_equal(b.empty, 1);
}

/* Row groups against an IN list: read when any listed device lies in [min, max]. */
static void test_row_groups_in(void **state)
{
    (void)state;
    fl_query_bounds b;
    fl_pq_stats dev = str_stats("truck-0100", "truck-0199");
    struct {
        const char *ids[3];
        int n, want;
    } cases[] = {
        {{"truck-0050", "truck-0150", "truck-0250"}, 3, 1}, /* one inside */
        {{"truck-0050", "truck-0250", "truck-0300"}, 3, 0}, /* around, none inside */
        {{"truck-0100", "truck-0300"}, 2, 1},               /* equal to min */
        {{"truck-0000", "truck-0199"}, 2, 1},               /* equal to max */
        {{"truck-01", "truck-0199x", "truck-02"}, 3, 0},    /* prefix below, longer above */
        {{"truck-0200"}, 1, 0},
        {{"truck-0099", "truck-0200"}, 2, 0},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        fl_slice ids[3];
        for (int k = 0; k < cases[i].n; k++)
            ids[k] = fl_slice_from_cstr(cases[i].ids[k]);
        fl_query_bounds_init(&b);
        fl_query_bounds_set_devices(&b, ids, (size_t)cases[i].n);
        assert_int_equal(fl_query_row_group_may_match(&b, NULL, &dev), cases[i].want);
    }
    /* no statistics: read */
    fl_pq_stats none = {0};
    fl_slice one = fl_slice_from_cstr("truck-0500");
    fl_query_bounds_init(&b);
    fl_query_bounds_set_devices(&b, &one, 1);
    assert_int_equal(fl_query_row_group_may_match(&b, NULL, &none), 1);
    assert_int_equal(fl_query_row_group_may_match(&b, NULL, NULL), 1);
}

/* Row filters: ranges of INTEGER and REAL columns, strict bounds, mixed types, NaN. */
static void test_row_filters(void **state)
{
    (void)state;
    fl_query_row_filter f;
    fl_query_row_filter_init(&f, 3, 0);
    fl_query_row_filter_add_int(&f, SQLITE_INDEX_CONSTRAINT_GT, 5);
    fl_query_row_filter_add_int(&f, SQLITE_INDEX_CONSTRAINT_LE, 9);
    assert_int_equal(fl_query_row_filter_int(&f, 5), 0);
    assert_int_equal(fl_query_row_filter_int(&f, 6), 1);
    assert_int_equal(fl_query_row_filter_int(&f, 9), 1);
    assert_int_equal(fl_query_row_filter_int(&f, 10), 0);
    /* an INTEGER column against REAL values: widened, never narrower than the predicate */
    fl_query_row_filter_init(&f, 3, 0);
    fl_query_row_filter_add_real(&f, SQLITE_INDEX_CONSTRAINT_GT, 2.5);
    assert_int_equal(fl_query_row_filter_int(&f, 3), 1);
    assert_int_equal(fl_query_row_filter_int(&f, 1), 0);
    fl_query_row_filter_add_real(&f, SQLITE_INDEX_CONSTRAINT_LT, NAN); /* ignored */
    assert_int_equal(fl_query_row_filter_int(&f, 3), 1);
    fl_query_row_filter_init(&f, 3, 0);
    fl_query_row_filter_add_int(&f, SQLITE_INDEX_CONSTRAINT_EQ, 1);
    assert_int_equal(fl_query_row_filter_int(&f, 1), 1);
    assert_int_equal(fl_query_row_filter_int(&f, 0), 0);
    fl_query_row_filter_add_int(&f, SQLITE_INDEX_CONSTRAINT_EQ, 2); /* contradiction */
    assert_int_equal(fl_query_row_filter_int(&f, 1), 0);
    assert_int_equal(fl_query_row_filter_int(&f, 2), 0);

    fl_query_row_filter_init(&f, 1, 1);
    assert_int_equal(fl_query_row_filter_real(&f, -1e300), 1);
    assert_int_equal(fl_query_row_filter_real(&f, NAN), 0); /* NULL to SQLite */
    fl_query_row_filter_add_real(&f, SQLITE_INDEX_CONSTRAINT_GE, 20.5);
    fl_query_row_filter_add_int(&f, SQLITE_INDEX_CONSTRAINT_LT, 30);
    assert_int_equal(fl_query_row_filter_real(&f, 20.5), 1);
    assert_int_equal(fl_query_row_filter_real(&f, 20.49), 0);
    assert_int_equal(fl_query_row_filter_real(&f, 29.999), 1);
    assert_int_equal(fl_query_row_filter_real(&f, 30), 0);
    /* a strict bound at the same value wins over an inclusive one */
    fl_query_row_filter_add_real(&f, SQLITE_INDEX_CONSTRAINT_GT, 20.5);
    assert_int_equal(fl_query_row_filter_real(&f, 20.5), 0);
    fl_query_row_filter_add_real(&f, SQLITE_INDEX_CONSTRAINT_GE, 20.5);
    assert_int_equal(fl_query_row_filter_real(&f, 20.5), 0);
    /* integers beyond 2^53 are not exact as doubles: nothing pushed down */
    fl_query_row_filter_init(&f, 1, 1);
    fl_query_row_filter_add_int(&f, SQLITE_INDEX_CONSTRAINT_GT, (INT64_C(1) << 53) + 1);
    assert_int_equal(fl_query_row_filter_real(&f, 1.0), 1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_partition_columns),
        cmocka_unit_test(test_time_range),
        cmocka_unit_test(test_real_and_edges),
        cmocka_unit_test(test_row_groups),
        cmocka_unit_test(test_device_sets),
        cmocka_unit_test(test_row_groups_in),
        cmocka_unit_test(test_row_filters),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
