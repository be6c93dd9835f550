/* parquet.h — fleetlake's own Apache Parquet writer and reader, for flat schemas.
 *
 * Debian packages no Parquet library for C, so this module implements the format from the
 * specification (apache/parquet-format: the Thrift definitions in parquet.thrift, encodings in
 * Encodings.md): the footer in the Thrift compact protocol; PLAIN, RLE_DICTIONARY (with
 * PLAIN fallback past a dictionary size bound), DELTA_BINARY_PACKED and the RLE/bit-packed
 * hybrid for definition levels; codecs UNCOMPRESSED, SNAPPY, GZIP and ZSTD; column statistics;
 * data pages (v1) of bounded size; row groups bounded by bytes.
 *
 * The writer takes rows in columnar batches and streams pages to a sink (the lake's object
 * store seam); it buffers one row group at most. The reader reads files written by us and by
 * other engines (DuckDB, Arrow) for the same types and codecs, decodes only the projected
 * columns of the row groups the caller selects (statistics are exposed for skipping), and
 * treats every byte as hostile: every length and offset is checked and every allocation is
 * bounded by fl_pq_reader_limits. Like every library-like module it never logs. */
#ifndef FL_PARQUET_PARQUET_H
#define FL_PARQUET_PARQUET_H

#include <stddef.h>
#include <stdint.h>

#include "core/core.h"

/* ---- schema ---------------------------------------------------------------------------------- */

enum fl_pq_physical {
    FL_PQ_BOOLEAN = 0,
    FL_PQ_INT32 = 1,
    FL_PQ_INT64 = 2,
    FL_PQ_DOUBLE = 5,
    FL_PQ_BYTE_ARRAY = 6, /* values match parquet.thrift's Type enum */
};

enum fl_pq_logical {
    FL_PQ_LOGICAL_NONE = 0,
    FL_PQ_LOGICAL_STRING,           /* BYTE_ARRAY, UTF-8 */
    FL_PQ_LOGICAL_TIMESTAMP_MICROS, /* INT64, isAdjustedToUTC = true */
    FL_PQ_LOGICAL_INT8,             /* INT32, signed */
    FL_PQ_LOGICAL_INT16,            /* INT32, signed */
    FL_PQ_LOGICAL_INT32,            /* INT32, signed */
    FL_PQ_LOGICAL_INT64,            /* INT64, signed */
};

enum fl_pq_codec {
    FL_PQ_UNCOMPRESSED = 0,
    FL_PQ_SNAPPY = 1,
    FL_PQ_GZIP = 2,
    FL_PQ_ZSTD = 6, /* values match parquet.thrift's CompressionCodec */
};

typedef struct fl_pq_column_def {
    const char *name;
    enum fl_pq_physical physical;
    enum fl_pq_logical logical;
    int optional; /* 0 = REQUIRED, 1 = OPTIONAL (definition levels 0/1) */
} fl_pq_column_def;

/* "snappy" -> FL_PQ_SNAPPY etc.; -1 if unknown. */
int fl_pq_codec_parse(const char *name);
const char *fl_pq_codec_name(enum fl_pq_codec codec);

/* ---- values -------------------------------------------------------------------------------- */

/* One column of a batch of rows, as the writer takes it and the reader returns it.
 * values points to `rows` elements of: uint8_t (BOOLEAN, 0/1), int32_t (INT32), int64_t (INT64),
 * double (DOUBLE) or fl_slice (BYTE_ARRAY). valid is NULL when every row has a value, else one
 * byte per row (1 = value, 0 = NULL); a NULL row's slot in values is ignored by the writer and
 * zeroed by the reader. */
typedef struct fl_pq_column_values {
    const void *values;
    const uint8_t *valid;
} fl_pq_column_values;

/* Min/max statistics of a column chunk in its logical sort order (signed integers, IEEE
 * doubles with NaN excluded, BYTE_ARRAY as unsigned bytes lexicographically). has_min_max is 0
 * when every value is NULL (or the file had no statistics). For BYTE_ARRAY, min/max point into
 * memory owned by the writer/reader and are valid as long as it is. */
typedef struct fl_pq_stats {
    int has_min_max;
    int64_t null_count; /* -1 if unknown */
    union {
        int64_t i; /* BOOLEAN (0/1), INT32, INT64 */
        double d;
        fl_slice s;
    } min, max;
} fl_pq_stats;

/* ---- writer -------------------------------------------------------------------------------- */

/* Where the writer's bytes go: called in order with consecutive chunks. Returns 0 or a negative
 * code, which the writer returns from the call that produced the bytes. */
typedef int (*fl_pq_sink_write_fn)(void *ctx, const void *p, size_t n);

typedef struct fl_pq_kv {
    const char *key;
    const char *value;
} fl_pq_kv;

typedef struct fl_pq_writer_options {
    enum fl_pq_codec codec;
    int compression_level;      /* 0 = the codec's default */
    size_t page_bytes;          /* target uncompressed data page size; 0 = 1 MiB */
    size_t row_group_bytes;     /* row group flushed past this much buffered data; 0 = 128 MiB */
    size_t dictionary_bytes_max;/* per column chunk; past it the chunk falls back to PLAIN; 0 = 1 MiB */
    int disable_dictionary;     /* never use RLE_DICTIONARY */
    int disable_delta;          /* never use DELTA_BINARY_PACKED for integers */
    const fl_pq_kv *kv;         /* extra key-value metadata (copied), e.g. schema_version */
    size_t kv_count;
} fl_pq_writer_options;

typedef struct fl_pq_writer fl_pq_writer;

/* Start a file with `columns` (copied). Nothing is written to the sink until the first flush
 * except the 4-byte magic. The footer records "created_by" = "fleetlake version X". */
FL_MUST_USE int fl_pq_writer_create(const fl_pq_column_def *columns, size_t column_count,
                                    const fl_pq_writer_options *opts, fl_pq_sink_write_fn sink,
                                    void *sink_ctx, fl_pq_writer **out);
/* Append `rows` rows given as one fl_pq_column_values per column (in schema order). Values are
 * copied; the caller's arrays may be reused after the call. FL_EINVAL if a REQUIRED column has
 * a NULL or a STRING is not valid UTF-8. */
FL_MUST_USE int fl_pq_writer_write(fl_pq_writer *w, const fl_pq_column_values *columns,
                                   size_t rows);

typedef struct fl_pq_file_summary {
    int64_t rows;
    int64_t bytes; /* total file size */
    int row_groups;
} fl_pq_file_summary;

/* Flush the last row group and write the footer. The writer must still be destroyed. */
FL_MUST_USE int fl_pq_writer_finish(fl_pq_writer *w, fl_pq_file_summary *out);
/* Statistics of column `column` over the whole file so far (all row groups). */
FL_MUST_USE int fl_pq_writer_column_stats(const fl_pq_writer *w, size_t column, fl_pq_stats *out);
void fl_pq_writer_destroy(fl_pq_writer *w);

/* ---- reader -------------------------------------------------------------------------------- */

/* Where the reader's bytes come from: read exactly n bytes at offset into p (0 or negative
 * code; a short file is FL_ECORRUPT). */
typedef int (*fl_pq_source_read_fn)(void *ctx, void *p, size_t n, uint64_t offset);

/* Bounds on what a (possibly hostile) file can make the reader allocate. */
typedef struct fl_pq_reader_limits {
    size_t footer_bytes_max;   /* 0 = 16 MiB */
    size_t page_bytes_max;     /* compressed or uncompressed page; 0 = 256 MiB */
    size_t column_chunk_rows_max; /* rows decoded at once; 0 = 64 Mi */
    size_t columns_max;        /* 0 = 4096 */
    size_t column_chunk_bytes_max; /* decoded bytes of one read_column (value arrays, validity,
                                      string bytes); 0 = 1 GiB */
} fl_pq_reader_limits;

typedef struct fl_pq_reader fl_pq_reader;

/* Open a file of file_size bytes: reads and validates the footer. */
FL_MUST_USE int fl_pq_reader_open(fl_pq_source_read_fn read, void *ctx, uint64_t file_size,
                                  const fl_pq_reader_limits *limits, fl_pq_reader **out);
void fl_pq_reader_destroy(fl_pq_reader *r);

int64_t fl_pq_reader_rows(const fl_pq_reader *r);
size_t fl_pq_reader_column_count(const fl_pq_reader *r);
/* Column i's definition (name owned by the reader). Only flat schemas are supported:
 * a nested schema fails fl_pq_reader_open with FL_EUNSUPPORTED. */
const fl_pq_column_def *fl_pq_reader_column(const fl_pq_reader *r, size_t i);
/* Index of the column named name, or -1. */
int fl_pq_reader_column_index(const fl_pq_reader *r, const char *name);
int fl_pq_reader_row_group_count(const fl_pq_reader *r);
int64_t fl_pq_reader_row_group_rows(const fl_pq_reader *r, int row_group);
/* Statistics of one column chunk (for skipping row groups). */
FL_MUST_USE int fl_pq_reader_stats(const fl_pq_reader *r, int row_group, size_t column,
                                   fl_pq_stats *out);
/* Key-value metadata value for key, or NULL. */
const char *fl_pq_reader_kv(const fl_pq_reader *r, const char *key);
/* All key-value metadata, in file order (to copy it into a rewritten file): count, and entry
 * i (owned by the reader; NULL past the end). */
size_t fl_pq_reader_kv_count(const fl_pq_reader *r);
const fl_pq_kv *fl_pq_reader_kv_at(const fl_pq_reader *r, size_t i);
/* The footer's created_by, or "". */
const char *fl_pq_reader_created_by(const fl_pq_reader *r);

/* Move the reusable decode buffers of `from` (each column's value/validity arrays and string
 * arena, by column index, and the page scratch) into `to`, which must not have decoded a
 * column yet. `from` keeps working (its decoded columns are gone). A scan that opens file
 * after file with the same columns calls this so the multi-megabyte arrays are not allocated,
 * faulted in and unmapped again for every file. */
void fl_pq_reader_take_buffers(fl_pq_reader *to, fl_pq_reader *from);

/* Decode column `column` of `row_group` entirely. On success *out points to arrays owned by
 * the reader, valid until the next read_column call for the same column index or destroy
 * (so a caller can hold one decoded chunk per projected column at a time). */
FL_MUST_USE int fl_pq_reader_read_column(fl_pq_reader *r, int row_group, size_t column,
                                         fl_pq_column_values *out);

#endif
