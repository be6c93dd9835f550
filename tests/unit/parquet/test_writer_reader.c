/* test_writer_reader.c — files written by fl_pq_writer and read back by fl_pq_reader: every
 * physical type x REQUIRED/OPTIONAL x codec x dictionary on/off x delta on/off, many row
 * groups and many pages, NULL-only columns, empty strings, integer extremes, -0.0, NaN and
 * non-ASCII text; every value compared, and the statistics (chunk and file) checked in
 * logical order. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <math.h>

#include "pq_test_util.h"

enum { ROWS = 3000 };

static const char *const WORDS[] = {"", "a", "zeta", "Ünïcødé ✓", "truck-0042", "b", "\x7f", "é"};

/* Deterministic value i of a column; NULL when optional and i % 7 == 3, or every row when
 * all_null. Values include the extremes and, for doubles, -0.0 and NaN. */
static int make_valid(int optional, int all_null, size_t i)
{
    if (!optional)
        return 1;
    return !all_null && i % 7 != 3;
}

static void make_value(enum fl_pq_physical t, size_t i, void *out, char *strbuf)
{
    switch (t) {
    case FL_PQ_BOOLEAN: *(uint8_t *)out = (i * 7 + i / 13) % 3 == 0; break;
    case FL_PQ_INT32:
        *(int32_t *)out = i == 5 ? INT32_MIN : i == 6 ? INT32_MAX : (int32_t)(i % 50) - 25;
        break;
    case FL_PQ_INT64:
        *(int64_t *)out = i == 5 ? INT64_MIN : i == 9 ? INT64_MAX
                          : (int64_t)i * 1000003 - 1500000000LL;
        break;
    case FL_PQ_DOUBLE:
        *(double *)out = i == 2 ? -0.0 : i == 4 ? NAN : i == 8 ? -1e308 : (double)(i % 200) / 4.0 - 7.25;
        break;
    case FL_PQ_BYTE_ARRAY: {
        const char *w = WORDS[i % 8];
        size_t n = (size_t)snprintf(strbuf, 64, "%s%s", w, i % 3 ? "" : "-x");
        if (i % 16 == 0)
            n = 0; /* empty strings */
        *(fl_slice *)out = (fl_slice){strbuf, n};
        break;
    }
    }
}

typedef struct col_data {
    void *values;
    uint8_t *valid;
    char (*strs)[64];
} col_data;

static void fill(const fl_pq_column_def *c, int all_null, size_t rows, col_data *d)
{
    size_t width = c->physical == FL_PQ_BOOLEAN ? 1
                   : c->physical == FL_PQ_INT32 ? 4
                   : c->physical == FL_PQ_BYTE_ARRAY ? sizeof(fl_slice) : 8;
    d->values = calloc(rows, width);
    d->valid = calloc(rows, 1);
    d->strs = calloc(rows, 64);
    for (size_t i = 0; i < rows; i++) {
        d->valid[i] = (uint8_t)make_valid(c->optional, all_null, i);
        make_value(c->physical, i, (char *)d->values + i * width, d->strs[i]);
    }
}

static void free_data(col_data *d)
{
    free(d->values);
    free(d->valid);
    free(d->strs);
}

static void compare_value(enum fl_pq_physical t, const void *a, const void *b, size_t i)
{
    switch (t) {
    case FL_PQ_BOOLEAN: assert_int_equal(((const uint8_t *)a)[i] != 0, ((const uint8_t *)b)[i]); break;
    case FL_PQ_INT32: assert_int_equal(((const int32_t *)a)[i], ((const int32_t *)b)[i]); break;
    case FL_PQ_INT64: assert_true(((const int64_t *)a)[i] == ((const int64_t *)b)[i]); break;
    case FL_PQ_DOUBLE:
        /* bit-exact: -0.0 and NaN must survive */
        assert_memory_equal((const double *)a + i, (const double *)b + i, 8);
        break;
    case FL_PQ_BYTE_ARRAY: {
        const fl_slice *x = (const fl_slice *)a + i, *y = (const fl_slice *)b + i;
        assert_int_equal(x->len, y->len);
        if (x->len)
            assert_memory_equal(x->ptr, y->ptr, x->len);
        break;
    }
    }
}

/* Read every row group of column 0 and compare with d. */
static void check_column(fl_pq_reader *r, const fl_pq_column_def *c, const col_data *d, size_t rows)
{
    size_t base = 0;
    for (int g = 0; g < fl_pq_reader_row_group_count(r); g++) {
        fl_pq_column_values v;
        assert_int_equal(fl_pq_reader_read_column(r, g, 0, &v), 0);
        size_t n = (size_t)fl_pq_reader_row_group_rows(r, g);
        for (size_t i = 0; i < n; i++) {
            int valid = v.valid ? v.valid[i] : 1;
            assert_int_equal(valid, d->valid[base + i]);
            if (valid) {
                size_t w = c->physical == FL_PQ_BOOLEAN ? 1 : c->physical == FL_PQ_INT32 ? 4
                           : c->physical == FL_PQ_BYTE_ARRAY ? sizeof(fl_slice) : 8;
                compare_value(c->physical, (const char *)d->values + (base + i) * w,
                              (const char *)v.values + i * w, 0);
            }
        }
        base += n;
    }
    assert_int_equal(base, rows);
}

static void round_trip(enum fl_pq_physical t, int optional, enum fl_pq_codec codec, int nodict,
                       int nodelta, int all_null, size_t page_bytes, size_t rg_bytes)
{
    enum fl_pq_logical logical = t == FL_PQ_BYTE_ARRAY ? FL_PQ_LOGICAL_STRING
                                 : t == FL_PQ_INT64  ? FL_PQ_LOGICAL_TIMESTAMP_MICROS
                                                     : FL_PQ_LOGICAL_NONE;
    fl_pq_column_def c = {"c", t, logical, optional};
    col_data d;
    fill(&c, all_null, ROWS, &d);
    fl_pq_column_values cv = {d.values, optional ? d.valid : NULL};
    fl_pq_writer_options o = {.codec = codec, .page_bytes = page_bytes,
                              .row_group_bytes = rg_bytes, .disable_dictionary = nodict,
                              .disable_delta = nodelta};
    fl_buf file = {0};
    assert_int_equal(tu_write(&c, 1, &o, &cv, ROWS, &file), 0);
    tu_file f;
    fl_pq_reader *r;
    assert_int_equal(tu_open(file.data, file.len, NULL, &f, &r), 0);
    assert_int_equal(fl_pq_reader_rows(r), ROWS);
    assert_int_equal(fl_pq_reader_column(r, 0)->physical, t);
    assert_int_equal(fl_pq_reader_column(r, 0)->logical, logical);
    assert_int_equal(fl_pq_reader_column(r, 0)->optional, optional);
    check_column(r, &c, &d, ROWS);
    fl_pq_reader_destroy(r);
    fl_buf_free(&file);
    free_data(&d);
}

static void test_matrix(void **state)
{
    (void)state;
    static const enum fl_pq_physical types[] = {FL_PQ_BOOLEAN, FL_PQ_INT32, FL_PQ_INT64,
                                                FL_PQ_DOUBLE, FL_PQ_BYTE_ARRAY};
    static const enum fl_pq_codec codecs[] = {FL_PQ_UNCOMPRESSED, FL_PQ_SNAPPY, FL_PQ_GZIP,
                                              FL_PQ_ZSTD};
    for (size_t t = 0; t < 5; t++)
        for (int opt = 0; opt < 2; opt++)
            for (size_t c = 0; c < 4; c++)
                for (int nodict = 0; nodict < 2; nodict++)
                    for (int nodelta = 0; nodelta < 2; nodelta++)
                        round_trip(types[t], opt, codecs[c], nodict, nodelta, 0, 0, 0);
}

static void test_many_pages_and_row_groups(void **state)
{
    (void)state;
    for (int t = 0; t < 5; t++) {
        enum fl_pq_physical types[] = {FL_PQ_BOOLEAN, FL_PQ_INT32, FL_PQ_INT64, FL_PQ_DOUBLE,
                                       FL_PQ_BYTE_ARRAY};
        round_trip(types[t], 1, FL_PQ_SNAPPY, 0, 0, 0, 100, 4000);
        round_trip(types[t], 0, FL_PQ_ZSTD, 0, 0, 0, 1, 1);
        round_trip(types[t], 1, FL_PQ_GZIP, 1, 1, 0, 333, 10000);
    }
}

static void test_null_only_columns(void **state)
{
    (void)state;
    enum fl_pq_physical types[] = {FL_PQ_BOOLEAN, FL_PQ_INT32, FL_PQ_INT64, FL_PQ_DOUBLE,
                                   FL_PQ_BYTE_ARRAY};
    for (int t = 0; t < 5; t++) {
        round_trip(types[t], 1, FL_PQ_SNAPPY, 0, 0, 1, 0, 0);
        fl_pq_column_def c = {"n", types[t], FL_PQ_LOGICAL_NONE, 1};
        col_data d;
        fill(&c, 1, 100, &d);
        fl_pq_column_values cv = {d.values, d.valid};
        fl_buf file = {0};
        assert_int_equal(tu_write(&c, 1, NULL, &cv, 100, &file), 0);
        tu_file f;
        fl_pq_reader *r;
        assert_int_equal(tu_open(file.data, file.len, NULL, &f, &r), 0);
        fl_pq_stats st;
        assert_int_equal(fl_pq_reader_stats(r, 0, 0, &st), 0);
        assert_int_equal(st.has_min_max, 0);
        assert_int_equal(st.null_count, 100);
        fl_pq_reader_destroy(r);
        fl_buf_free(&file);
        free_data(&d);
    }
}

/* Statistics in logical order: negatives below positives, "" lowest, bytes unsigned. */
static void test_statistics_order(void **state)
{
    (void)state;
    fl_pq_column_def cols[] = {{"i", FL_PQ_INT32, FL_PQ_LOGICAL_NONE, 1},
                               {"l", FL_PQ_INT64, FL_PQ_LOGICAL_NONE, 0},
                               {"d", FL_PQ_DOUBLE, FL_PQ_LOGICAL_NONE, 0},
                               {"s", FL_PQ_BYTE_ARRAY, FL_PQ_LOGICAL_STRING, 0},
                               {"b", FL_PQ_BOOLEAN, FL_PQ_LOGICAL_NONE, 0}};
    int32_t iv[] = {5, -7, 3, 100};
    uint8_t ivalid[] = {1, 1, 1, 0};
    int64_t lv[] = {-1, INT64_MIN, 0, 42};
    double dv[] = {NAN, 0.0, -2.5, 0.0};
    fl_slice sv[] = {FL_SLICE_LIT("b"), FL_SLICE_LIT("é"), FL_SLICE_LIT(""), FL_SLICE_LIT("a")};
    uint8_t bv[] = {1, 1, 1, 1};
    fl_pq_column_values cv[] = {{iv, ivalid}, {lv, NULL}, {dv, NULL}, {sv, NULL}, {bv, NULL}};
    fl_buf file = {0};
    fl_pq_writer *w;
    assert_int_equal(fl_pq_writer_create(cols, 5, NULL, tu_sink, &file, &w), 0);
    assert_int_equal(fl_pq_writer_write(w, cv, 4), 0);
    fl_pq_stats st;
    assert_int_equal(fl_pq_writer_column_stats(w, 0, &st), 0); /* buffered rows count */
    assert_int_equal(st.min.i, -7);
    assert_int_equal(st.max.i, 5);
    assert_int_equal(st.null_count, 1);
    assert_int_equal(fl_pq_writer_finish(w, NULL), 0);
    assert_int_equal(fl_pq_writer_column_stats(w, 3, &st), 0);
    assert_int_equal(st.min.s.len, 0);
    assert_true(fl_slice_eq_cstr(st.max.s, "é"));
    fl_pq_writer_destroy(w);

    tu_file f;
    fl_pq_reader *r;
    assert_int_equal(tu_open(file.data, file.len, NULL, &f, &r), 0);
    assert_int_equal(fl_pq_reader_stats(r, 0, 0, &st), 0);
    assert_true(st.has_min_max && st.min.i == -7 && st.max.i == 5 && st.null_count == 1);
    assert_int_equal(fl_pq_reader_stats(r, 0, 1, &st), 0);
    assert_true(st.min.i == INT64_MIN && st.max.i == 42 && st.null_count == 0);
    assert_int_equal(fl_pq_reader_stats(r, 0, 2, &st), 0);
    assert_true(st.has_min_max && st.min.d == -2.5 && st.max.d == 0.0 && !signbit(st.max.d));
    assert_int_equal(fl_pq_reader_stats(r, 0, 3, &st), 0);
    assert_true(st.min.s.len == 0 && fl_slice_eq_cstr(st.max.s, "é"));
    assert_int_equal(fl_pq_reader_stats(r, 0, 4, &st), 0);
    assert_true(st.min.i == 1 && st.max.i == 1);
    assert_string_equal(fl_pq_reader_created_by(r), "fleetlake version " FL_VERSION " (build fleetlake)");
    assert_string_equal(fl_pq_reader_kv(r, "fleetlake.writer"), "fleetlake " FL_VERSION);
    assert_int_equal(fl_pq_reader_column_index(r, "s"), 3);
    assert_int_equal(fl_pq_reader_column_index(r, "nope"), -1);
    fl_pq_reader_destroy(r);
    fl_buf_free(&file);
}

/* Per-row-group stats with several row groups, and a zero minimum written as -0.0. */
static void test_row_group_stats_and_kv(void **state)
{
    (void)state;
    fl_pq_column_def c = {"x", FL_PQ_DOUBLE, FL_PQ_LOGICAL_NONE, 0};
    double v[1000];
    for (int i = 0; i < 1000; i++)
        v[i] = i < 600 ? -(double)i : (double)i; /* v[0] is -0.0 */
    fl_pq_column_values cv = {v, NULL};
    fl_pq_kv kv[] = {{"schema_version", "7"}};
    fl_pq_writer_options o = {.row_group_bytes = 4000, .kv = kv, .kv_count = 1};
    fl_buf file = {0};
    assert_int_equal(tu_write(&c, 1, &o, &cv, 1000, &file), 0);
    tu_file f;
    fl_pq_reader *r;
    assert_int_equal(tu_open(file.data, file.len, NULL, &f, &r), 0);
    assert_true(fl_pq_reader_row_group_count(r) > 1);
    assert_string_equal(fl_pq_reader_kv(r, "schema_version"), "7");
    fl_pq_stats st;
    assert_int_equal(fl_pq_reader_stats(r, 0, 0, &st), 0);
    assert_true(st.max.d == 0.0 && !signbit(st.max.d)); /* max zero written as +0.0 */
    assert_true(st.min.d < 0);
    int last = fl_pq_reader_row_group_count(r) - 1;
    assert_int_equal(fl_pq_reader_stats(r, last, 0, &st), 0);
    assert_true(st.max.d == 999.0);
    fl_pq_reader_destroy(r);
    fl_buf_free(&file);
}

/* A reader that takes another's decode buffers decodes the same values, and the giver still
 * decodes correctly afterwards (into fresh buffers). */
static void test_take_buffers(void **state)
{
    (void)state;
    fl_pq_column_def c[2] = {{"x", FL_PQ_DOUBLE, FL_PQ_LOGICAL_NONE, 1},
                             {"s", FL_PQ_BYTE_ARRAY, FL_PQ_LOGICAL_STRING, 0}};
    double v[3000];
    uint8_t valid[3000];
    fl_slice str[3000];
    for (int i = 0; i < 3000; i++) {
        v[i] = i * 0.5;
        valid[i] = i % 7 != 0;
        str[i] = fl_slice_from_cstr(WORDS[i % 8]);
    }
    fl_pq_column_values cv[2] = {{v, valid}, {str, NULL}};
    fl_buf file = {0};
    fl_pq_writer_options o = {0};
    assert_int_equal(tu_write(c, 2, &o, cv, 3000, &file), 0);
    tu_file fa, fb;
    fl_pq_reader *a, *b;
    assert_int_equal(tu_open(file.data, file.len, NULL, &fa, &a), 0);
    assert_int_equal(tu_open(file.data, file.len, NULL, &fb, &b), 0);
    fl_pq_column_values out;
    assert_int_equal(fl_pq_reader_read_column(a, 0, 0, &out), 0);
    assert_int_equal(fl_pq_reader_read_column(a, 0, 1, &out), 0);
    fl_pq_reader_take_buffers(b, a);
    fl_pq_reader_take_buffers(b, NULL); /* no-op */
    for (int round = 0; round < 2; round++) {
        fl_pq_reader *r = round ? a : b;
        assert_int_equal(fl_pq_reader_read_column(r, 0, 0, &out), 0);
        for (int i = 0; i < 3000; i++) {
            assert_int_equal(out.valid[i], valid[i]);
            if (valid[i])
                assert_true(((const double *)out.values)[i] == v[i]);
        }
        assert_int_equal(fl_pq_reader_read_column(r, 0, 1, &out), 0);
        for (int i = 0; i < 3000; i++) {
            fl_slice got = ((const fl_slice *)out.values)[i];
            assert_int_equal(got.len, str[i].len);
            assert_memory_equal(got.len ? got.ptr : "", str[i].len ? str[i].ptr : "", got.len);
        }
    }
    fl_pq_reader_destroy(a);
    fl_pq_reader_destroy(b);
    fl_buf_free(&file);
}

static void test_invalid_input(void **state)
{
    (void)state;
    fl_pq_column_def c = {"s", FL_PQ_BYTE_ARRAY, FL_PQ_LOGICAL_STRING, 0};
    fl_slice bad[] = {{"\xff\xfe", 2}};
    fl_pq_column_values cv = {bad, NULL};
    fl_buf file = {0};
    fl_pq_writer *w;
    assert_int_equal(fl_pq_writer_create(&c, 1, NULL, tu_sink, &file, &w), 0);
    assert_int_equal(fl_pq_writer_write(w, &cv, 1), FL_EINVAL); /* not UTF-8 */
    uint8_t nulls[] = {0};
    fl_slice ok[] = {FL_SLICE_LIT("ok")};
    fl_pq_column_values cv2 = {ok, nulls};
    assert_int_equal(fl_pq_writer_write(w, &cv2, 1), FL_EINVAL); /* NULL in REQUIRED */
    fl_pq_column_values cv3 = {ok, NULL};
    assert_int_equal(fl_pq_writer_write(w, &cv3, 1), 0); /* rejected batches left no trace */
    fl_pq_file_summary s;
    assert_int_equal(fl_pq_writer_finish(w, &s), 0);
    assert_int_equal(s.rows, 1);
    fl_pq_writer_destroy(w);
    fl_buf_free(&file);
    fl_pq_column_def wrong = {"t", FL_PQ_DOUBLE, FL_PQ_LOGICAL_STRING, 0};
    assert_int_equal(fl_pq_writer_create(&wrong, 1, NULL, tu_sink, &file, &w), FL_EINVAL);
    fl_buf_free(&file);
    assert_int_equal(fl_pq_codec_parse("ZSTD"), FL_PQ_ZSTD);
    assert_int_equal(fl_pq_codec_parse("snappy"), FL_PQ_SNAPPY);
    assert_int_equal(fl_pq_codec_parse("lz4"), -1);
    assert_string_equal(fl_pq_codec_name(FL_PQ_GZIP), "gzip");
}

/* An empty file (no rows) is valid, and a sink failure is returned and sticks. */
static int failing_sink(void *ctx, const void *p, size_t n)
{
    (void)p;
    (void)n;
    return --*(int *)ctx < 0 ? -5 : 0;
}

static void test_empty_file_and_sink_error(void **state)
{
    (void)state;
    fl_pq_column_def c = {"x", FL_PQ_INT32, FL_PQ_LOGICAL_INT16, 1};
    fl_buf file = {0};
    assert_int_equal(tu_write(&c, 1, NULL, NULL, 0, &file), 0);
    tu_file f;
    fl_pq_reader *r;
    assert_int_equal(tu_open(file.data, file.len, NULL, &f, &r), 0);
    assert_int_equal(fl_pq_reader_rows(r), 0);
    assert_int_equal(fl_pq_reader_row_group_count(r), 0);
    assert_int_equal(fl_pq_reader_column(r, 0)->logical, FL_PQ_LOGICAL_INT16);
    fl_pq_reader_destroy(r);
    fl_buf_free(&file);

    int budget = 2;
    fl_pq_writer *w;
    assert_int_equal(fl_pq_writer_create(&c, 1, NULL, failing_sink, &budget, &w), 0);
    int32_t v[3] = {1, 2, 3};
    fl_pq_column_values cv = {v, NULL};
    assert_int_equal(fl_pq_writer_write(w, &cv, 3), 0);
    assert_int_equal(fl_pq_writer_finish(w, NULL), -5);
    assert_int_equal(fl_pq_writer_write(w, &cv, 3), -5);
    fl_pq_writer_destroy(w);
}

/* Allocation failures anywhere in a write/read cycle return FL_ENOMEM (or succeed) and leak
 * nothing (ASan checks the leaks). */
static void test_allocation_failures(void **state)
{
    (void)state;
    fl_pq_column_def cols[] = {{"s", FL_PQ_BYTE_ARRAY, FL_PQ_LOGICAL_STRING, 1},
                               {"i", FL_PQ_INT64, FL_PQ_LOGICAL_NONE, 0}};
    fl_slice sv[50];
    int64_t iv[50];
    uint8_t valid[50];
    char strs[50][8];
    for (int i = 0; i < 50; i++) {
        snprintf(strs[i], 8, "v%d", i % 9);
        sv[i] = fl_slice_from_cstr(strs[i]);
        iv[i] = i * 3;
        valid[i] = i % 4 != 0;
    }
    fl_pq_column_values cv[] = {{sv, valid}, {iv, NULL}};
    for (long n = 0; n < 200; n++) {
        fl_buf file = {0};
        fl_mem_fail_after(n);
        int rc = tu_write(cols, 2, NULL, cv, 50, &file);
        tu_file f;
        fl_pq_reader *r = NULL;
        if (!rc)
            rc = tu_open(file.data, file.len, NULL, &f, &r);
        fl_pq_column_values out;
        if (!rc)
            rc = fl_pq_reader_read_column(r, 0, 0, &out);
        fl_mem_fail_after(-1);
        assert_true(rc == 0 || rc == FL_ENOMEM);
        fl_pq_reader_destroy(r);
        fl_buf_free(&file);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_matrix),
        cmocka_unit_test(test_many_pages_and_row_groups),
        cmocka_unit_test(test_null_only_columns),
        cmocka_unit_test(test_statistics_order),
        cmocka_unit_test(test_row_group_stats_and_kv),
        cmocka_unit_test(test_take_buffers),
        cmocka_unit_test(test_invalid_input),
        cmocka_unit_test(test_empty_file_and_sink_error),
        cmocka_unit_test(test_allocation_failures),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
