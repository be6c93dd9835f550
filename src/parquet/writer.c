/* writer.c — fl_pq_writer: takes rows in columnar batches, buffers one row group in columnar
 * form (non-null values and validity per column), and when the buffered bytes pass
 * row_group_bytes hands each column to writer_chunk.c, which streams its pages to the sink.
 * finish() writes the footer (metadata_write.c), its length and the closing magic. Memory is
 * one row group plus one page of scratch. Batches are validated whole before any row is
 * buffered (REQUIRED columns without NULLs, STRING values valid UTF-8), so a rejected batch
 * leaves the file as it was. */
#include <stdio.h>

#include "parquet/writer_int.h"

/* Rows appended between row-group size checks: at most 8192 (the check then costs nothing)
 * and few enough that a slice is about an eighth of row_group_bytes, so a row group
 * overshoots its bound by little. */
#define APPEND_SLICE_ROWS 8192

static size_t slice_rows(const fl_pq_writer *w)
{
    size_t row_bytes = 1;
    for (size_t c = 0; c < w->meta.column_count; c++)
        row_bytes += w->meta.columns[c].physical == FL_PQ_BYTE_ARRAY
                         ? 24 : pq_physical_width(w->meta.columns[c].physical);
    size_t n = w->opts.row_group_bytes / 8 / row_bytes;
    return n < 1 ? 1 : n > APPEND_SLICE_ROWS ? APPEND_SLICE_ROWS : n;
}

int pq_emit(fl_pq_writer *w, const void *p, size_t n)
{
    if (w->err)
        return w->err;
    if (n == 0)
        return 0;
    int rc = w->sink(w->sink_ctx, p, n);
    if (rc)
        return w->err = rc < 0 ? rc : FL_EINVAL;
    w->offset += n;
    return 0;
}

static int check_columns(const fl_pq_column_def *columns, size_t count)
{
    if (!columns || count == 0 || count > INT32_MAX)
        return FL_EINVAL;
    for (size_t i = 0; i < count; i++) {
        const fl_pq_column_def *c = &columns[i];
        if (!c->name || !*c->name || pq_physical_width(c->physical) == 0)
            return FL_EINVAL;
        int ok = c->logical == FL_PQ_LOGICAL_NONE ||
                 (c->logical == FL_PQ_LOGICAL_STRING && c->physical == FL_PQ_BYTE_ARRAY) ||
                 ((c->logical == FL_PQ_LOGICAL_TIMESTAMP_MICROS ||
                   c->logical == FL_PQ_LOGICAL_INT64) && c->physical == FL_PQ_INT64) ||
                 ((c->logical == FL_PQ_LOGICAL_INT8 || c->logical == FL_PQ_LOGICAL_INT16 ||
                   c->logical == FL_PQ_LOGICAL_INT32) && c->physical == FL_PQ_INT32);
        if (!ok)
            return FL_EINVAL;
    }
    return 0;
}

static int copy_metadata(fl_pq_writer *w, const fl_pq_column_def *columns, size_t count)
{
    pq_file_meta *m = &w->meta;
    char created_by[128];
    m->version = 2;
    m->columns = fl_calloc(count, sizeof *m->columns);
    w->cols = fl_calloc(count, sizeof *w->cols);
    m->kv = fl_calloc(w->opts.kv_count + 1, sizeof *m->kv);
    if (!m->columns || !w->cols || !m->kv)
        return FL_ENOMEM;
    for (size_t i = 0; i < count; i++) {
        m->columns[i] = columns[i];
        m->columns[i].name = fl_strdup(columns[i].name);
        m->column_count = i + 1;
        if (!m->columns[i].name)
            return FL_ENOMEM;
        pq_acc_init(&w->cols[i].chunk_acc, columns[i].physical);
        pq_acc_init(&w->cols[i].file_acc, columns[i].physical);
        pq_acc_init(&w->cols[i].view, columns[i].physical);
    }
    snprintf(created_by, sizeof created_by, "fleetlake version %s (build fleetlake)", FL_VERSION);
    m->created_by = fl_strdup(created_by);
    m->kv[0].key = fl_strdup("fleetlake.writer");
    m->kv[0].value = fl_strdup("fleetlake " FL_VERSION);
    m->kv_count = 1;
    for (size_t i = 0; i < w->opts.kv_count; i++) {
        const fl_pq_kv *kv = &w->opts.kv[i];
        if (!kv->key || !kv->value)
            return FL_EINVAL;
        m->kv[i + 1].key = fl_strdup(kv->key);
        m->kv[i + 1].value = fl_strdup(kv->value);
        m->kv_count = i + 2;
    }
    for (size_t i = 0; i < m->kv_count; i++)
        if (!m->kv[i].key || !m->kv[i].value)
            return FL_ENOMEM;
    w->opts.kv = NULL;
    return m->created_by ? 0 : FL_ENOMEM;
}

int fl_pq_writer_create(const fl_pq_column_def *columns, size_t column_count,
                        const fl_pq_writer_options *opts, fl_pq_sink_write_fn sink,
                        void *sink_ctx, fl_pq_writer **out)
{
    *out = NULL;
    int rc = check_columns(columns, column_count);
    if (rc || !sink)
        return rc ? rc : FL_EINVAL;
    if (opts && opts->codec != FL_PQ_UNCOMPRESSED && opts->codec != FL_PQ_SNAPPY &&
        opts->codec != FL_PQ_GZIP && opts->codec != FL_PQ_ZSTD)
        return FL_EINVAL;
    fl_pq_writer *w = fl_calloc(1, sizeof *w);
    if (!w)
        return FL_ENOMEM;
    if (opts)
        w->opts = *opts;
    if (!w->opts.page_bytes)
        w->opts.page_bytes = 1 << 20;
    if (!w->opts.row_group_bytes)
        w->opts.row_group_bytes = (size_t)128 << 20;
    if (!w->opts.dictionary_bytes_max)
        w->opts.dictionary_bytes_max = 1 << 20;
    w->sink = sink;
    w->sink_ctx = sink_ctx;
    rc = copy_metadata(w, columns, column_count);
    if (!rc)
        rc = pq_emit(w, "PAR1", 4);
    if (rc) {
        fl_pq_writer_destroy(w);
        return rc;
    }
    *out = w;
    return 0;
}

static int validate_batch(const fl_pq_writer *w, const fl_pq_column_values *cv, size_t rows)
{
    if (rows == 0)
        return 0;
    for (size_t c = 0; c < w->meta.column_count; c++) {
        const fl_pq_column_def *def = &w->meta.columns[c];
        if (rows && !cv[c].values)
            return FL_EINVAL;
        for (size_t i = 0; cv[c].valid && i < rows; i++)
            if (!cv[c].valid[i] && !def->optional)
                return FL_EINVAL;
        if (def->logical != FL_PQ_LOGICAL_STRING)
            continue;
        const fl_slice *s = cv[c].values;
        for (size_t i = 0; i < rows; i++)
            if ((!cv[c].valid || cv[c].valid[i]) &&
                ((s[i].len && !s[i].ptr) || !pq_utf8_valid(s[i].ptr, s[i].len)))
                return FL_EINVAL;
    }
    return 0;
}

static int append_byte_arrays(pq_colbuf *b, const fl_slice *s, const uint8_t *valid, size_t rows)
{
    for (size_t i = 0; i < rows; i++) {
        if (valid && !valid[i])
            continue;
        uint64_t start = b->bytes.len;
        int rc = fl_buf_append(&b->values, &start, sizeof start);
        if (!rc && s[i].len)
            rc = fl_buf_append(&b->bytes, s[i].ptr, s[i].len);
        if (rc)
            return rc;
        b->nonnull++;
    }
    return 0;
}

static int append_fixed(pq_colbuf *b, const void *values, size_t width, const uint8_t *valid,
                        size_t rows)
{
    const char *v = values;
    if (!valid) {
        b->nonnull += rows;
        return fl_buf_append(&b->values, v, rows * width);
    }
    int rc = fl_buf_reserve(&b->values, rows * width);
    if (rc)
        return rc;
    for (size_t i = 0; i < rows; i++) {
        if (!valid[i])
            continue;
        memcpy(b->values.data + b->values.len, v + i * width, width);
        b->values.len += width;
        b->nonnull++;
    }
    return 0;
}

static int append_column(fl_pq_writer *w, size_t c, const fl_pq_column_values *cv, size_t first,
                         size_t rows)
{
    const fl_pq_column_def *def = &w->meta.columns[c];
    pq_colbuf *b = &w->cols[c];
    size_t width = pq_physical_width(def->physical);
    const void *values = (const char *)cv->values + first * width;
    const uint8_t *valid = cv->valid ? cv->valid + first : NULL;
    int rc = pq_acc_add(&b->chunk_acc, values, valid, rows);
    if (!rc && def->optional) {
        if (valid)
            rc = fl_buf_append(&b->valid, valid, rows);
        else if (!(rc = fl_buf_reserve(&b->valid, rows))) {
            memset(b->valid.data + b->valid.len, 1, rows);
            b->valid.len += rows;
        }
    }
    if (!rc && def->physical == FL_PQ_BYTE_ARRAY)
        rc = append_byte_arrays(b, values, valid, rows);
    else if (!rc)
        rc = append_fixed(b, values, width, valid, rows);
    b->rows += rows;
    return rc;
}

static size_t buffered_bytes(const fl_pq_writer *w)
{
    size_t n = 0;
    for (size_t c = 0; c < w->meta.column_count; c++)
        n += w->cols[c].values.len + w->cols[c].bytes.len + w->cols[c].valid.len;
    return n;
}

static int flush_row_group(fl_pq_writer *w)
{
    pq_file_meta *m = &w->meta;
    if (m->row_group_count == w->row_group_cap) {
        int cap = w->row_group_cap ? w->row_group_cap * 2 : 8;
        pq_row_group *rgs = fl_realloc(m->row_groups, (size_t)cap * sizeof *rgs);
        if (!rgs)
            return FL_ENOMEM;
        m->row_groups = rgs;
        w->row_group_cap = cap;
    }
    pq_row_group *rg = &m->row_groups[m->row_group_count];
    memset(rg, 0, sizeof *rg);
    rg->chunks = fl_calloc(m->column_count, sizeof *rg->chunks);
    if (!rg->chunks)
        return FL_ENOMEM;
    m->row_group_count++;
    rg->num_rows = (int64_t)w->buffered_rows;
    rg->file_offset = (int64_t)w->offset;
    for (size_t c = 0; c < m->column_count; c++) {
        int rc = pq_write_chunk(w, c, &rg->chunks[c]);
        if (!rc)
            rc = pq_acc_merge(&w->cols[c].file_acc, &w->cols[c].chunk_acc);
        if (rc)
            return w->err = rc;
        rg->total_byte_size += rg->chunks[c].total_uncompressed_size;
        rg->total_compressed_size += rg->chunks[c].total_compressed_size;
        pq_colbuf *b = &w->cols[c];
        fl_buf_reset(&b->values);
        fl_buf_reset(&b->bytes);
        fl_buf_reset(&b->valid);
        b->rows = b->nonnull = 0;
        pq_acc_reset(&b->chunk_acc);
    }
    m->num_rows += (int64_t)w->buffered_rows;
    w->buffered_rows = 0;
    return 0;
}

int fl_pq_writer_write(fl_pq_writer *w, const fl_pq_column_values *columns, size_t rows)
{
    if (w->err)
        return w->err;
    if (w->finished || (!columns && rows))
        return FL_EINVAL;
    int rc = validate_batch(w, columns, rows);
    size_t slice = slice_rows(w);
    for (size_t first = 0; !rc && first < rows;) {
        size_t n = rows - first < slice ? rows - first : slice;
        for (size_t c = 0; !rc && c < w->meta.column_count; c++)
            rc = append_column(w, c, &columns[c], first, n);
        if (rc)
            return w->err = rc; /* columns may now disagree: the writer is poisoned */
        first += n;
        w->buffered_rows += n;
        if (buffered_bytes(w) >= w->opts.row_group_bytes)
            rc = flush_row_group(w);
    }
    return rc;
}

int fl_pq_writer_finish(fl_pq_writer *w, fl_pq_file_summary *out)
{
    if (w->err)
        return w->err;
    if (w->finished)
        return FL_EINVAL;
    int rc = w->buffered_rows ? flush_row_group(w) : 0;
    fl_buf footer = {0};
    if (!rc)
        rc = pq_meta_write(&w->meta, &footer);
    if (!rc && footer.len > UINT32_MAX)
        rc = FL_ELIMIT;
    unsigned char tail[8];
    fl_put_u32(tail, (uint32_t)footer.len);
    memcpy(tail + 4, "PAR1", 4);
    if (!rc)
        rc = pq_emit(w, footer.data, footer.len);
    if (!rc)
        rc = pq_emit(w, tail, 8);
    fl_buf_free(&footer);
    if (rc)
        return w->err = rc;
    w->finished = 1;
    if (out) {
        out->rows = w->meta.num_rows;
        out->bytes = (int64_t)w->offset;
        out->row_groups = w->meta.row_group_count;
    }
    return 0;
}

int fl_pq_writer_column_stats(const fl_pq_writer *w, size_t column, fl_pq_stats *out)
{
    if (column >= w->meta.column_count)
        return FL_EINVAL;
    /* File stats so far = flushed row groups merged with the buffered one, built in the
     * column's `view` scratch (the only state this const call touches) so BYTE_ARRAY min/max
     * stay valid until the next call for this column or destroy. */
    pq_colbuf *b = &w->cols[column];
    pq_acc_reset(&b->view);
    int rc = pq_acc_merge(&b->view, &b->file_acc);
    if (!rc)
        rc = pq_acc_merge(&b->view, &b->chunk_acc);
    if (rc)
        return rc;
    pq_acc_to_stats(&b->view, out);
    return 0;
}

void fl_pq_writer_destroy(fl_pq_writer *w)
{
    if (!w)
        return;
    for (int g = 0; g < w->meta.row_group_count; g++)
        for (size_t c = 0; c < w->meta.column_count; c++)
            pq_chunk_stats_free(&w->meta.row_groups[g].chunks[c]);
    for (size_t c = 0; w->cols && c < w->meta.column_count; c++) {
        fl_buf_free(&w->cols[c].values);
        fl_buf_free(&w->cols[c].bytes);
        fl_buf_free(&w->cols[c].valid);
        pq_acc_free(&w->cols[c].chunk_acc);
        pq_acc_free(&w->cols[c].file_acc);
        pq_acc_free(&w->cols[c].view);
    }
    fl_free(w->cols);
    pq_meta_free(&w->meta);
    fl_buf_free(&w->page);
    fl_buf_free(&w->comp);
    fl_buf_free(&w->header);
    fl_buf_free(&w->levels);
    fl_free(w->scratch32);
    fl_free(w);
}
