/* reader_int.h — the reader's state, shared by reader.c (opening the file, the footer and
 * metadata accessors) and reader_column.c (decoding one column chunk's pages). */
#ifndef FL_PARQUET_READER_INT_H
#define FL_PARQUET_READER_INT_H

#include "parquet/parquet_int.h"

/* One decoded column chunk, as handed to the caller: values (rows x width), validity and the
 * bytes BYTE_ARRAY slices point into. Kept per column index until the next read of it. */
typedef struct pq_slot {
    void *values;
    uint8_t *valid;
    size_t values_cap, valid_cap; /* bytes allocated: reused by the next read of the column */
    fl_buf arena;
} pq_slot;

/* Page buffers and level/index scratch, reused by every read_column call (one runs at a
 * time), so a scan does not allocate, fault in and unmap a page-sized buffer per chunk. */
typedef struct pq_scratch {
    unsigned char *body, *page, *header; /* compressed body, decompressed page, header window */
    size_t body_cap, page_cap, header_cap;
    uint32_t *levels; /* levels, dictionary indices */
    size_t levels_cap;
} pq_scratch;

struct fl_pq_reader {
    fl_pq_source_read_fn read;
    void *ctx;
    uint64_t file_size;
    uint64_t data_end; /* column chunks lie in [4, data_end): before the footer */
    fl_pq_reader_limits limits;
    unsigned char *footer;
    pq_file_meta meta;
    pq_slot *slots;
    pq_scratch scratch;
};

FL_MUST_USE int pq_read_column_chunk(fl_pq_reader *r, int row_group, size_t column,
                                     fl_pq_column_values *out);

#endif
