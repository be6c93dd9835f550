/* writer_int.h — the writer's state, shared by writer.c (buffering rows, the file's framing
 * and footer) and writer_chunk.c (encoding one buffered column into pages). */
#ifndef FL_PARQUET_WRITER_INT_H
#define FL_PARQUET_WRITER_INT_H

#include "parquet/parquet_int.h"

/* One column of the buffered row group: non-null values only (fixed-width values, or for
 * BYTE_ARRAY the start offset of each value in `bytes`), plus one validity byte per row for
 * OPTIONAL columns. */
typedef struct pq_colbuf {
    fl_buf values;
    fl_buf bytes;
    fl_buf valid;
    size_t rows, nonnull;
    pq_acc chunk_acc, file_acc;
    pq_acc view; /* scratch for fl_pq_writer_column_stats */
} pq_colbuf;

struct fl_pq_writer {
    fl_pq_writer_options opts;
    fl_pq_sink_write_fn sink;
    void *sink_ctx;
    int err; /* sticky: a failed sink write or encode poisons the writer */
    int finished;
    uint64_t offset; /* bytes written to the sink so far */
    pq_file_meta meta; /* columns, kvs, created_by and the flushed row groups */
    int row_group_cap;
    pq_colbuf *cols;
    size_t buffered_rows;
    /* Scratch reused across pages and chunks. */
    fl_buf page, comp, header, levels;
    uint32_t *scratch32;
    size_t scratch32_cap;
};

/* Encode buffered column i into pages written to the sink; fills *k (stats bytes owned by k,
 * freed with pq_chunk_stats_free). */
FL_MUST_USE int pq_write_chunk(fl_pq_writer *w, size_t i, pq_chunk_meta *k);
void pq_chunk_stats_free(pq_chunk_meta *k);
/* Pass bytes to the sink, tracking the offset; sticky error. */
FL_MUST_USE int pq_emit(fl_pq_writer *w, const void *p, size_t n);

#endif
