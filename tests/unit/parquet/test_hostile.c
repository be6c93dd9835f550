/* test_hostile.c — the reader against damaged files: a valid file truncated at every offset
 * (with its tail magic restored so the footer is parsed), random bytes written over the
 * footer and over page headers, and page headers claiming huge sizes. Every case must end in
 * a clean error code (never a crash, leak or unbounded allocation: ASan checks); sizes past
 * the limits are FL_ELIMIT. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "parquet/parquet_int.h"
#include "pq_test_util.h"

static void make_file(fl_buf *file, enum fl_pq_codec codec)
{
    fl_pq_column_def cols[] = {{"s", FL_PQ_BYTE_ARRAY, FL_PQ_LOGICAL_STRING, 1},
                               {"t", FL_PQ_INT64, FL_PQ_LOGICAL_TIMESTAMP_MICROS, 0},
                               {"d", FL_PQ_DOUBLE, FL_PQ_LOGICAL_NONE, 1},
                               {"b", FL_PQ_BOOLEAN, FL_PQ_LOGICAL_NONE, 0}};
    enum { N = 200 };
    static fl_slice s[N];
    static char strs[N][16];
    static int64_t t[N];
    static double d[N];
    static uint8_t b[N], valid[N];
    for (int i = 0; i < N; i++) {
        snprintf(strs[i], 16, "dev-%d", i % 17);
        s[i] = fl_slice_from_cstr(strs[i]);
        t[i] = 1700000000000000LL + i * 1000;
        d[i] = i * 0.25;
        b[i] = i & 1;
        valid[i] = i % 9 != 0;
    }
    fl_pq_column_values cv[] = {{s, valid}, {t, NULL}, {d, valid}, {b, NULL}};
    fl_pq_writer_options o = {.codec = codec, .page_bytes = 512, .row_group_bytes = 3000};
    assert_int_equal(tu_write(cols, 4, &o, cv, N, file), 0);
}

/* Open and read everything; returns the first error (0 if all worked). */
static int read_all(const unsigned char *p, size_t n)
{
    tu_file f;
    fl_pq_reader *r;
    fl_pq_reader_limits lim = {.page_bytes_max = 1 << 20, .column_chunk_rows_max = 100000};
    int rc = tu_open(p, n, &lim, &f, &r);
    if (rc)
        return rc;
    for (int g = 0; !rc && g < fl_pq_reader_row_group_count(r); g++)
        for (size_t c = 0; !rc && c < fl_pq_reader_column_count(r); c++) {
            fl_pq_column_values v;
            fl_pq_stats st;
            rc = fl_pq_reader_read_column(r, g, c, &v);
            if (!rc)
                rc = fl_pq_reader_stats(r, g, c, &st);
        }
    fl_pq_reader_destroy(r);
    return rc;
}

static int clean_error(int rc)
{
    return rc == 0 || rc == FL_ECORRUPT || rc == FL_EUNSUPPORTED || rc == FL_ELIMIT;
}

static void test_truncation(void **state)
{
    (void)state;
    fl_buf file = {0};
    make_file(&file, FL_PQ_SNAPPY);
    unsigned char *copy = malloc(file.len);
    uint32_t flen = fl_get_u32((unsigned char *)file.data + file.len - 8);
    for (size_t n = 0; n < file.len; n++) {
        memcpy(copy, file.data, n);
        assert_int_not_equal(read_all(copy, n), 0); /* plain truncation */
        /* keep the tail (length + magic) so the damaged footer itself is parsed */
        if (n >= 12 && n >= file.len - 8 - flen) {
            memcpy(copy + n - 8, file.data + file.len - 8, 8);
            int rc = read_all(copy, n);
            assert_true(clean_error(rc));
        }
    }
    free(copy);
    fl_buf_free(&file);
}

static uint64_t rng = 0x9E3779B97F4A7C15ULL;
static uint64_t next(void)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return rng;
}

static void test_random_damage(void **state)
{
    (void)state;
    enum fl_pq_codec codecs[] = {FL_PQ_UNCOMPRESSED, FL_PQ_SNAPPY, FL_PQ_GZIP, FL_PQ_ZSTD};
    for (int k = 0; k < 4; k++) {
        fl_buf file = {0};
        make_file(&file, codecs[k]);
        assert_int_equal(read_all((unsigned char *)file.data, file.len), 0);
        unsigned char *copy = malloc(file.len);
        uint32_t flen = fl_get_u32((unsigned char *)file.data + file.len - 8);
        size_t footer = file.len - 8 - flen;
        for (int iter = 0; iter < 3000; iter++) {
            memcpy(copy, file.data, file.len);
            int hits = 1 + (int)(next() % 4);
            for (int h = 0; h < hits; h++) {
                /* half the hits in the footer, half anywhere in the pages */
                size_t at = iter & 1 ? footer + next() % flen : 4 + next() % (footer - 4);
                copy[at] = (unsigned char)next();
            }
            assert_true(clean_error(read_all(copy, file.len)));
        }
        free(copy);
        fl_buf_free(&file);
    }
}

/* A page header claiming a 2 GiB page: FL_ELIMIT before any allocation. */
static void test_huge_page_header(void **state)
{
    (void)state;
    fl_buf file = {0};
    make_file(&file, FL_PQ_UNCOMPRESSED);
    /* the first page header of column "s" starts at offset 4 */
    /* Limits below the file's real sizes stand in for headers claiming huge ones. */
    tu_file f;
    fl_pq_reader *r;
    fl_pq_reader_limits lim = {.page_bytes_max = 64};
    assert_int_equal(tu_open(file.data, file.len, &lim, &f, &r), 0);
    fl_pq_column_values v;
    assert_int_equal(fl_pq_reader_read_column(r, 0, 0, &v), FL_ELIMIT);
    fl_pq_reader_destroy(r);
    fl_pq_reader_limits rows = {.column_chunk_rows_max = 10};
    assert_int_equal(tu_open(file.data, file.len, &rows, &f, &r), 0);
    assert_int_equal(fl_pq_reader_read_column(r, 0, 1, &v), FL_ELIMIT);
    fl_pq_reader_destroy(r);
    fl_pq_reader_limits foot = {.footer_bytes_max = 16};
    assert_int_equal(tu_open(file.data, file.len, &foot, &f, &r), FL_ELIMIT);
    fl_buf_free(&file);
}

/* A footer length past the file, bad magic, and a nested schema. */
static void test_framing_and_schema(void **state)
{
    (void)state;
    fl_buf file = {0};
    make_file(&file, FL_PQ_ZSTD);
    unsigned char *copy = malloc(file.len);
    memcpy(copy, file.data, file.len);
    fl_put_u32(copy + file.len - 8, 0x7fffffff);
    assert_int_equal(read_all(copy, file.len), FL_ECORRUPT);
    memcpy(copy, file.data, file.len);
    copy[0] = 'X';
    assert_int_equal(read_all(copy, file.len), FL_ECORRUPT);
    free(copy);
    fl_buf_free(&file);

    /* schema: root with 1 child that is a group with 1 leaf -> nested -> unsupported */
    fl_buf meta = {0};
    tc_enc e;
    tc_enc_init(&e, &meta);
    tc_struct_begin(&e);
    tc_field_i32(&e, 1, 1);
    tc_field(&e, 2, TC_LIST);
    tc_list_begin(&e, TC_STRUCT, 3);
    tc_struct_begin(&e);
    tc_field_binary(&e, 4, "schema", 6);
    tc_field_i32(&e, 5, 1);
    tc_struct_end(&e);
    tc_struct_begin(&e);
    tc_field_i32(&e, 3, 1);
    tc_field_binary(&e, 4, "loc", 3);
    tc_field_i32(&e, 5, 1);
    tc_struct_end(&e);
    tc_struct_begin(&e);
    tc_field_i32(&e, 1, FL_PQ_DOUBLE);
    tc_field_i32(&e, 3, 1);
    tc_field_binary(&e, 4, "lat", 3);
    tc_struct_end(&e);
    tc_field_i64(&e, 3, 0);
    tc_field(&e, 4, TC_LIST);
    tc_list_begin(&e, TC_STRUCT, 0);
    tc_struct_end(&e);
    assert_int_equal(e.err, 0);
    fl_buf f2 = {0};
    unsigned char len[4];
    fl_put_u32(len, (uint32_t)meta.len);
    assert_int_equal(fl_buf_append(&f2, "PAR1", 4), 0);
    assert_int_equal(fl_buf_append(&f2, meta.data, meta.len), 0);
    assert_int_equal(fl_buf_append(&f2, len, 4), 0);
    assert_int_equal(fl_buf_append(&f2, "PAR1", 4), 0);
    assert_int_equal(read_all((unsigned char *)f2.data, f2.len), FL_EUNSUPPORTED);
    fl_buf_free(&f2);
    fl_buf_free(&meta);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_truncation),
        cmocka_unit_test(test_random_damage),
        cmocka_unit_test(test_huge_page_header),
        cmocka_unit_test(test_framing_and_schema),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
