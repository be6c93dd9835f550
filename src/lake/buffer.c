/* buffer.c — columnar partition buffers and the Parquet encoder of a buffer.
 *
 * Rows are appended column by column into growable arrays (fixed-width values, or bytes plus
 * end offsets for strings), so a flush hands the Parquet writer whole columns without
 * reshaping anything. A partition's buffer is only emptied by a successful commit: a failed
 * flush keeps every row, which is what lets delivery retry without re-reading the stream.
 * A string equal to the previous row's is not stored again (LAKE_CELL_REPEAT, lake_int.h). */
#include <string.h>

#include "lake/lake_int.h"

static size_t fixed_width(enum fl_pq_physical t)
{
    switch (t) {
    case FL_PQ_BOOLEAN: return 1;
    case FL_PQ_INT32: return 4;
    case FL_PQ_INT64:
    case FL_PQ_DOUBLE: return 8;
    case FL_PQ_BYTE_ARRAY: return 0;
    }
    return 0;
}

static size_t end_at(const lake_column *c, size_t r)
{
    size_t e;
    memcpy(&e, c->ends.data + r * sizeof e, sizeof e);
    return e;
}

/* End offset of the bytes stored up to and including row r. */
static size_t stored_end(const lake_column *c, size_t r)
{
    size_t e = end_at(c, r);
    return e & LAKE_CELL_REPEAT ? end_at(c, e & ~LAKE_CELL_REPEAT) : e;
}

fl_slice lake_column_cell(const lake_column *c, size_t r)
{
    size_t e = end_at(c, r);
    if (e & LAKE_CELL_REPEAT) {
        r = e & ~LAKE_CELL_REPEAT;
        e = end_at(c, r);
    }
    size_t start = r ? stored_end(c, r - 1) : 0;
    return (fl_slice){c->values.data ? c->values.data + start : "", e - start};
}

/* Append a BYTE_ARRAY cell as row `row` of c (valid already appended); *bytes += its cost. */
static int append_cell(lake_column *c, size_t row, const lake_value *v, size_t *bytes)
{
    size_t end = c->values.len;
    if (!v->is_null && row > 0 && ((const uint8_t *)c->valid.data)[row - 1]) {
        fl_slice prev = lake_column_cell(c, row - 1);
        if (prev.len == v->v.s.len && memcmp(prev.ptr, v->v.s.ptr, prev.len) == 0) {
            size_t e = end_at(c, row - 1);
            end = LAKE_CELL_REPEAT | (e & LAKE_CELL_REPEAT ? e & ~LAKE_CELL_REPEAT : row - 1);
            *bytes += sizeof end;
            return fl_buf_append(&c->ends, &end, sizeof end);
        }
    }
    int rc = v->is_null ? 0 : fl_buf_append(&c->values, v->v.s.ptr, v->v.s.len);
    end = c->values.len;
    *bytes += (v->is_null ? 0 : v->v.s.len) + sizeof end;
    return rc ? rc : fl_buf_append(&c->ends, &end, sizeof end);
}

/* Append one row; on FL_ENOMEM the columns may hold a partial row: the caller discards it with
 * lake_partition_truncate(p, rows). */
int lake_partition_append(const lake_table_spec *spec, lake_partition_buf *p,
                          const lake_value *row, size_t *row_bytes)
{
    size_t bytes = 0;
    for (size_t i = 0; i < spec->column_count; i++) {
        lake_column *c = &p->cols[i];
        const lake_value *v = &row[i];
        uint8_t valid = v->is_null ? 0 : 1;
        int rc = fl_buf_append(&c->valid, &valid, 1);
        size_t w = fixed_width(spec->columns[i].physical);
        if (rc)
            return rc;
        if (w) {
            const void *src = &v->v;
            uint8_t b = (uint8_t)(v->v.i32 != 0);
            if (spec->columns[i].physical == FL_PQ_BOOLEAN)
                src = &b;
            rc = fl_buf_append(&c->values, src, w);
            bytes += w;
        } else {
            rc = append_cell(c, p->rows, v, &bytes);
        }
        if (rc)
            return rc;
        c->nulls += v->is_null;
        bytes += 1;
    }
    p->rows++;
    *row_bytes = bytes;
    return 0;
}

/* Cut every column back to `rows` rows (after a failed append). */
void lake_partition_truncate(const lake_table_spec *spec, lake_partition_buf *p, size_t rows)
{
    for (size_t i = 0; i < spec->column_count; i++) {
        lake_column *c = &p->cols[i];
        size_t w = fixed_width(spec->columns[i].physical);
        size_t valid_len = c->valid.len < rows ? c->valid.len : rows;
        size_t nulls = 0;
        for (size_t r = 0; r < valid_len; r++)
            nulls += !((uint8_t *)c->valid.data)[r];
        c->nulls = nulls;
        c->valid.len = valid_len;
        if (w) {
            if (c->values.len > rows * w)
                c->values.len = rows * w;
        } else {
            size_t n_ends = c->ends.len / sizeof(size_t);
            if (n_ends > rows)
                c->ends.len = rows * sizeof(size_t);
            c->values.len = rows && n_ends ? stored_end(c, (n_ends < rows ? n_ends : rows) - 1) : 0;
        }
    }
    p->rows = rows;
}

void lake_partition_free_columns(const lake_table_spec *spec, lake_partition_buf *p)
{
    if (!p->cols)
        return;
    for (size_t i = 0; i < spec->column_count; i++) {
        fl_buf_free(&p->cols[i].values);
        fl_buf_free(&p->cols[i].ends);
        fl_buf_free(&p->cols[i].valid);
    }
    fl_free(p->cols);
    p->cols = NULL;
}

int lake_partition_columns(const lake_table_spec *spec, const lake_partition_buf *p,
                           fl_pq_column_values *cols, fl_slice **slice_arrays)
{
    for (size_t i = 0; i < spec->column_count; i++) {
        const lake_column *c = &p->cols[i];
        slice_arrays[i] = NULL;
        cols[i].valid = c->nulls ? (const uint8_t *)c->valid.data : NULL;
        if (fixed_width(spec->columns[i].physical)) {
            cols[i].values = c->values.data;
            continue;
        }
        fl_slice *s = fl_malloc((p->rows ? p->rows : 1) * sizeof *s);
        if (!s)
            return FL_ENOMEM;
        size_t start = 0;
        for (size_t r = 0; r < p->rows; r++) {
            size_t end = end_at(c, r);
            if (end & LAKE_CELL_REPEAT) {
                s[r] = s[end & ~LAKE_CELL_REPEAT]; /* the same bytes: one copy */
                continue;
            }
            s[r] = (fl_slice){c->values.data ? c->values.data + start : "", end - start};
            start = end;
        }
        slice_arrays[i] = s;
        cols[i].values = s;
    }
    return 0;
}
