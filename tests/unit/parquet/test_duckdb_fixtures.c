/* test_duckdb_fixtures.c — reads the DuckDB-written files in fixtures/ (made by
 * make_fixtures.js: every codec with DuckDB's default data page v1 encodings PLAIN and
 * PLAIN_DICTIONARY, and PARQUET_VERSION v2 files with data page v2, DELTA_BINARY_PACKED,
 * DELTA_LENGTH_BYTE_ARRAY, BYTE_STREAM_SPLIT and RLE_DICTIONARY) and checks every value
 * against the formula that generated it, plus schema, logical types and statistics. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "pq_test_util.h"

enum { ROWS = 300 };

static void check_strings(const fl_pq_column_values *str, const fl_pq_column_values *ustr)
{
    const fl_slice *s = str->values, *u = ustr->values;
    char want[64];
    for (int i = 0; i < ROWS; i++) {
        assert_int_equal(str->valid[i], i % 7 != 0);
        if (i % 7) {
            snprintf(want, sizeof want, "dev-%d%s", i % 13, i % 11 == 0 ? "é" : "");
            assert_int_equal(s[i].len, strlen(want));
            assert_memory_equal(s[i].ptr, want, s[i].len);
        } else {
            assert_null(s[i].ptr);
        }
        int n = snprintf(want, sizeof want, "row-%d", i);
        for (int k = 0; k < i % 17; k++)
            want[n++] = 'x';
        assert_int_equal(u[i].len, (size_t)n);
        assert_memory_equal(u[i].ptr, want, (size_t)n);
    }
}

static void check_file(const char *name)
{
    char path[1024];
    const char *src = getenv("FL_SOURCE_DIR");
    snprintf(path, sizeof path, "%s/tests/unit/parquet/fixtures/%s", src ? src : ".", name);
    size_t n = 0;
    unsigned char *p = tu_read_file(path, &n);
    assert_non_null(p);
    tu_file f;
    fl_pq_reader *r;
    assert_int_equal(tu_open(p, n, NULL, &f, &r), 0);
    assert_int_equal(fl_pq_reader_rows(r), ROWS);
    assert_int_equal(fl_pq_reader_column_count(r), 8);
    assert_non_null(strstr(fl_pq_reader_created_by(r), "DuckDB"));
    static const struct { const char *name; int phys, logical; } want[] = {
        {"i32", FL_PQ_INT32, FL_PQ_LOGICAL_INT32}, {"i64", FL_PQ_INT64, FL_PQ_LOGICAL_INT64},
        {"dbl", FL_PQ_DOUBLE, FL_PQ_LOGICAL_NONE}, {"str", FL_PQ_BYTE_ARRAY, FL_PQ_LOGICAL_STRING},
        {"ts", FL_PQ_INT64, FL_PQ_LOGICAL_TIMESTAMP_MICROS}, {"flag", FL_PQ_BOOLEAN, FL_PQ_LOGICAL_NONE},
        {"small", FL_PQ_INT32, FL_PQ_LOGICAL_INT8}, {"ustr", FL_PQ_BYTE_ARRAY, FL_PQ_LOGICAL_STRING}};
    fl_pq_column_values v[8];
    for (size_t c = 0; c < 8; c++) {
        const fl_pq_column_def *d = fl_pq_reader_column(r, c);
        assert_string_equal(d->name, want[c].name);
        assert_int_equal(d->physical, want[c].phys);
        assert_int_equal(d->logical, want[c].logical);
        assert_int_equal(fl_pq_reader_read_column(r, 0, c, &v[c]), 0);
    }
    const int32_t *i32 = v[0].values, *small = v[6].values;
    const int64_t *i64 = v[1].values, *ts = v[4].values;
    const double *dbl = v[2].values;
    const uint8_t *flag = v[5].values;
    for (int i = 0; i < ROWS; i++) {
        assert_int_equal(i32[i], i);
        assert_true(i64[i] == (int64_t)i * 1000000007 - 150000000000LL);
        assert_int_equal(v[2].valid[i], i % 5 != 0);
        if (i % 5)
            assert_true(dbl[i] == i / 4.0 - 20);
        assert_true(ts[i] == 1767323045000000LL + (int64_t)i * 1000001);
        assert_int_equal(v[5].valid[i], i % 3 != 0);
        if (i % 3)
            assert_int_equal(flag[i], i % 2 == 0);
        assert_int_equal(small[i], i % 100);
    }
    check_strings(&v[3], &v[7]);
    fl_pq_stats st;
    assert_int_equal(fl_pq_reader_stats(r, 0, 1, &st), 0);
    assert_true(st.has_min_max && st.min.i == -150000000000LL && st.null_count == 0);
    assert_int_equal(fl_pq_reader_stats(r, 0, 3, &st), 0);
    assert_true(st.has_min_max && fl_slice_eq_cstr(st.min.s, "dev-0") && st.null_count == 43);
    fl_pq_reader_destroy(r);
    free(p);
}

static void test_duckdb_v1(void **state)
{
    (void)state;
    check_file("duckdb_uncompressed.parquet");
    check_file("duckdb_snappy.parquet");
    check_file("duckdb_gzip.parquet");
    check_file("duckdb_zstd.parquet");
}

static void test_duckdb_v2(void **state)
{
    (void)state;
    check_file("duckdb_v2_snappy.parquet");
    check_file("duckdb_v2_zstd.parquet");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_duckdb_v1),
        cmocka_unit_test(test_duckdb_v2),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
