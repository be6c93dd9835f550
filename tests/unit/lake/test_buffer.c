/* test_buffer.c — the columnar partition buffer (src/lake/buffer.c) and the raw and rejected
 * tables' decode into it: string cells equal to the previous row's are stored once per run
 * (LAKE_CELL_REPEAT) and still read back row by row — through lake_column_cell (compaction's
 * random access) and lake_partition_columns (the encoder) — across NULLs, empty strings and
 * truncation inside a run; a run costs 9 bytes a row in the size accounting. The raw table's
 * trace_id is the record's trace id as 32 lowercase hex digits (NULL without one), and
 * rejected_records' the dead letter's. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdlib.h>
#include <string.h>

#include "ingest/ingest.h"
#include "lake/lake_int.h"

/* A two-column table: a string and an INT64 row number. */
static const fl_pq_column_def cols[] = {
    {"s", FL_PQ_BYTE_ARRAY, FL_PQ_LOGICAL_STRING, 1},
    {"n", FL_PQ_INT64, FL_PQ_LOGICAL_NONE, 0},
};
static const lake_table_spec spec = {"t", "t", "t", cols, 2, NULL};

/* NULL is written as a NULL pointer. */
static const char *const values[] = {"abc", "abc", "abc", NULL, "abc", "", "", "xy", "xy", "abc"};
#define N (sizeof values / sizeof values[0])

static size_t append_all(lake_partition_buf *p, size_t *total)
{
    *total = 0;
    for (size_t i = 0; i < N; i++) {
        lake_value row[2] = {
            {values[i] == NULL, {.s = fl_slice_from_cstr(values[i] ? values[i] : "")}},
            {0, {.i64 = (int64_t)i}}};
        size_t bytes;
        assert_int_equal(lake_partition_append(&spec, p, row, &bytes), 0);
        *total += bytes;
    }
    return p->rows;
}

static void check_rows(const lake_partition_buf *p, size_t rows)
{
    assert_int_equal(p->rows, rows);
    fl_pq_column_values cv[2];
    fl_slice *slices[2];
    assert_int_equal(lake_partition_columns(&spec, p, cv, slices), 0);
    const fl_slice *s = cv[0].values;
    for (size_t i = 0; i < rows; i++) {
        fl_slice cell = lake_column_cell(&p->cols[0], i);
        int valid = !cv[0].valid || cv[0].valid[i];
        assert_int_equal(valid, values[i] != NULL);
        const char *want = values[i] ? values[i] : "";
        assert_int_equal(cell.len, strlen(want));
        assert_memory_equal(cell.ptr, want, cell.len);
        assert_int_equal(s[i].len, strlen(want));
        assert_memory_equal(s[i].ptr, want, s[i].len);
        assert_int_equal(((const int64_t *)cv[1].values)[i], (int64_t)i);
    }
    free(slices[0]);
    free(slices[1]);
}

static void runs_stored_once(void **state)
{
    (void)state;
    lake_partition_buf p = {0};
    p.cols = calloc(2, sizeof *p.cols);
    size_t total;
    append_all(&p, &total);
    /* stored bytes: "abc" (rows 0-2), "abc" (4, after a NULL), "" (5, 6), "xy" (7, 8), "abc" */
    assert_int_equal(p.cols[0].values.len, 3 + 3 + 0 + 2 + 3);
    /* accounting: per row 8 (end) + 1 (valid) + 8 + 1 (INT64), plus each stored value's bytes */
    assert_int_equal(total, N * (8 + 1 + 8 + 1) + 3 + 3 + 2 + 3);
    check_rows(&p, N);
    /* cut inside a run, after a repeat, at a NULL, to nothing: what stays reads back the same */
    static const size_t cuts[] = {9, 8, 7, 6, 4, 3, 2, 1, 0};
    for (size_t k = 0; k < sizeof cuts / sizeof cuts[0]; k++) {
        lake_partition_truncate(&spec, &p, cuts[k]);
        check_rows(&p, cuts[k]);
        /* appending again after a cut continues the runs correctly */
        lake_partition_buf q = {0};
        q.cols = calloc(2, sizeof *q.cols);
        append_all(&q, &total);
        lake_partition_truncate(&spec, &q, cuts[k]);
        for (size_t i = cuts[k]; i < N; i++) {
            lake_value row[2] = {
                {values[i] == NULL, {.s = fl_slice_from_cstr(values[i] ? values[i] : "")}},
                {0, {.i64 = (int64_t)i}}};
            size_t bytes;
            assert_int_equal(lake_partition_append(&spec, &q, row, &bytes), 0);
        }
        check_rows(&q, N);
        lake_partition_free_columns(&spec, &q);
    }
    lake_partition_free_columns(&spec, &p);
}

static void decode_record(const fl_record *r, lake_value *v, lake_scratch *scratch, fl_buf *bin)
{
    fl_buf_reset(bin);
    assert_int_equal(fl_record_encode(r, bin), 0);
    fl_stream_record rec = {1, 42, 7, FL_STREAM_KIND_SENSOR, r->device_id, {bin->data, bin->len}};
    int64_t event;
    assert_int_equal(lake_raw_table.decode(&rec, v, &event, scratch), 0);
    assert_int_equal(event, r->timestamp_us);
}

static void raw_and_rejected_trace_ids(void **state)
{
    (void)state;
    static const uint8_t id[16] = {0x4b, 0xf9, 0x2f, 0x35, 0x77, 0xb3, 0x4d, 0xa6,
                                   0xa3, 0xce, 0x92, 0x9d, 0x0e, 0x0e, 0x47, 0x36};
    const lake_table_spec *raw = &lake_raw_table;
    size_t trace_col = raw->column_count - 1;
    assert_string_equal(raw->columns[trace_col].name, "trace_id");
    assert_int_equal(raw->columns[trace_col].optional, 1);
    lake_value v[32];
    lake_scratch scratch = {0};
    fl_buf bin = {0};
    fl_record r;
    memset(&r, 0, sizeof r);
    r.device_id = fl_slice_from_cstr("truck-1");
    r.timestamp_us = INT64_C(1767574923456000);
    r.present = FL_REC_TRACE;
    memcpy(r.trace_id, id, sizeof id);
    decode_record(&r, v, &scratch, &bin);
    assert_false(v[trace_col].is_null);
    assert_int_equal(v[trace_col].v.s.len, 32);
    assert_memory_equal(v[trace_col].v.s.ptr, "4bf92f3577b34da6a3ce929d0e0e4736", 32);
    r.present = 0;
    decode_record(&r, v, &scratch, &bin);
    assert_true(v[trace_col].is_null);
    /* rejected_records: the dead letter's trace id, NULL for a version 1 letter */
    const lake_table_spec *rej = &lake_rejected_table;
    size_t rcol = rej->column_count - 1;
    assert_string_equal(rej->columns[rcol].name, "trace_id");
    fl_dead_letter dl = {5, FL_SLICE_LIT("bad_json"), FL_SLICE_LIT("m"), FL_SLICE_LIT("x"), 1, {0}};
    memcpy(dl.trace_id, id, sizeof id);
    for (int traced = 1; traced >= 0; traced--) {
        dl.has_trace = traced;
        fl_buf_reset(&bin);
        assert_int_equal(fl_dead_letter_encode(&dl, &bin), 0);
        fl_stream_record rec = {0, 9, 5, FL_STREAM_KIND_DEAD_LETTER, {"", 0}, {bin.data, bin.len}};
        int64_t event;
        assert_int_equal(rej->decode(&rec, v, &event, &scratch), 0);
        assert_int_equal(v[rcol].is_null, !traced);
        if (traced)
            assert_memory_equal(v[rcol].v.s.ptr, "4bf92f3577b34da6a3ce929d0e0e4736", 32);
    }
    for (int i = 0; i < LAKE_SCRATCH_BUFS; i++)
        fl_buf_free(&scratch.b[i]);
    fl_buf_free(&bin);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(runs_stored_once),
        cmocka_unit_test(raw_and_rejected_trace_ids),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
