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
    fl_buf arena;
} pq_slot;

struct fl_pq_reader {
    fl_pq_source_read_fn read;
    void *ctx;
    uint64_t file_size;
    uint64_t data_end; /* column chunks lie in [4, data_end): before the footer */
    fl_pq_reader_limits limits;
    unsigned char *footer;
    pq_file_meta meta;
    pq_slot *slots;
};

FL_MUST_USE int pq_read_column_chunk(fl_pq_reader *r, int row_group, size_t column,
                                     fl_pq_column_values *out);

#endif
