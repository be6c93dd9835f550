/* parquet_int.h — private declarations shared by the parquet module's files: the Thrift
 * compact protocol encoder/decoder, the in-memory footer model both the writer and the reader
 * use, the value encoders/decoders (PLAIN, RLE/bit-packed hybrid, dictionary, DELTA_*,
 * BYTE_STREAM_SPLIT) and the page codecs. Nothing here is visible outside src/parquet/ except
 * to the module's unit tests, which exercise the pieces one by one.
 *
 * Error discipline: the Thrift encoder and decoder carry a sticky error (the first failure
 * wins, every later call is a no-op) so struct writers and readers read straight through and
 * check once at the end, which keeps the footer code short without losing any check. */
#ifndef FL_PARQUET_PARQUET_INT_H
#define FL_PARQUET_PARQUET_INT_H

#include <stddef.h>
#include <stdint.h>

#include "parquet/parquet.h"

/* ---- Thrift compact protocol ---------------------------------------------------------------- */

enum tc_type {
    TC_STOP = 0,
    TC_TRUE = 1, /* a bool field's value lives in its type nibble */
    TC_FALSE = 2,
    TC_BYTE = 3,
    TC_I16 = 4,
    TC_I32 = 5,
    TC_I64 = 6,
    TC_DOUBLE = 7,
    TC_BINARY = 8,
    TC_LIST = 9,
    TC_SET = 10,
    TC_MAP = 11,
    TC_STRUCT = 12,
};
#define TC_BOOL TC_TRUE /* element type of a list<bool> */

/* Structs nest at most this deep. parquet.thrift needs 5 (FileMetaData > RowGroup >
 * ColumnChunk > ColumnMetaData > Statistics, or SchemaElement > LogicalType > TimestampType >
 * TimeUnit > MicroSeconds); 32 leaves room for newer writers while bounding the recursion a
 * hostile footer can cause in skip. */
#define TC_DEPTH_MAX 32

typedef struct tc_enc {
    fl_buf *out;
    int err;
    int depth;
    int16_t last_id[TC_DEPTH_MAX + 1];
} tc_enc;

void tc_enc_init(tc_enc *e, fl_buf *out);
void tc_field(tc_enc *e, int16_t id, enum tc_type type);
void tc_field_i32(tc_enc *e, int16_t id, int32_t v);
void tc_field_i64(tc_enc *e, int16_t id, int64_t v);
void tc_field_bool(tc_enc *e, int16_t id, int v);
void tc_field_binary(tc_enc *e, int16_t id, const void *p, size_t n);
void tc_field_double(tc_enc *e, int16_t id, double v);
void tc_field_struct(tc_enc *e, int16_t id); /* field header + struct begin */
void tc_struct_begin(tc_enc *e);             /* bare struct (list element, root) */
void tc_struct_end(tc_enc *e);               /* writes the stop byte */
void tc_list_begin(tc_enc *e, enum tc_type elem, size_t count);
void tc_write_i8(tc_enc *e, int8_t v);
void tc_write_i32(tc_enc *e, int32_t v); /* zigzag varint: i16/i32/i64 values */
void tc_write_i64(tc_enc *e, int64_t v);
void tc_write_binary(tc_enc *e, const void *p, size_t n);
void tc_write_double(tc_enc *e, double v);
void tc_write_bool(tc_enc *e, int v); /* list element: 1 or 0 */

typedef struct tc_dec {
    const unsigned char *p, *end;
    int err; /* 0, FL_ECORRUPT, FL_ELIMIT */
    int depth;
    int16_t last_id[TC_DEPTH_MAX + 1];
    size_t list_max; /* list sizes are bounded by this and by the bytes left */
} tc_dec;

void tc_dec_init(tc_dec *d, const void *p, size_t n);
/* Next field of the current struct: 1 with id and type set, 0 at the stop byte (or on error). */
int tc_next_field(tc_dec *d, int16_t *id, enum tc_type *type);
void tc_struct_enter(tc_dec *d); /* after a TC_STRUCT field header or list element */
void tc_struct_leave(tc_dec *d); /* after tc_next_field returned 0 */
/* Element type and count of a list or set; the count is checked against the bytes left. */
size_t tc_list(tc_dec *d, enum tc_type *elem);
int64_t tc_read_i64(tc_dec *d); /* any integer type (byte, i16, i32, i64) */
int32_t tc_read_i32(tc_dec *d); /* i32 (or narrower); CORRUPT if out of range */
int tc_read_bool(tc_dec *d, enum tc_type type); /* a field's (type TRUE/FALSE) or element's */
double tc_read_double(tc_dec *d);
/* A binary/string: borrowed view into the input. */
fl_slice tc_read_binary(tc_dec *d);
/* Skip a value of any type (unknown fields from newer writers). */
void tc_skip(tc_dec *d, enum tc_type type);
/* Read a value of `type` as an integer field: CORRUPT when the wire type is not an integer. */
int64_t tc_read_int_field(tc_dec *d, enum tc_type type);

/* ---- footer model --------------------------------------------------------------------------- */

enum pq_encoding {
    PQ_ENC_PLAIN = 0,
    PQ_ENC_PLAIN_DICTIONARY = 2,
    PQ_ENC_RLE = 3,
    PQ_ENC_BIT_PACKED = 4,
    PQ_ENC_DELTA_BINARY_PACKED = 5,
    PQ_ENC_DELTA_LENGTH_BYTE_ARRAY = 6,
    PQ_ENC_DELTA_BYTE_ARRAY = 7,
    PQ_ENC_RLE_DICTIONARY = 8,
    PQ_ENC_BYTE_STREAM_SPLIT = 9,
};

enum pq_page_type { PQ_PAGE_DATA = 0, PQ_PAGE_INDEX = 1, PQ_PAGE_DICTIONARY = 2, PQ_PAGE_DATA_V2 = 3 };

/* Statistics as stored: PLAIN bytes (no length prefix for BYTE_ARRAY). The writer owns the
 * bytes; the reader's point into its footer buffer. */
typedef struct pq_stats_raw {
    int has_min, has_max;
    fl_slice min, max;
    int64_t null_count; /* -1 = absent */
    int64_t nan_count;  /* -1 = absent */
} pq_stats_raw;

typedef struct pq_chunk_meta {
    int type;  /* fl_pq_physical, or another parquet Type from a foreign file */
    int codec; /* parquet CompressionCodec value */
    uint32_t encodings; /* bit (1 << enc) per encoding used */
    int64_t num_values;
    int64_t total_uncompressed_size;
    int64_t total_compressed_size;
    int64_t data_page_offset;
    int64_t dictionary_page_offset; /* -1 = none */
    pq_stats_raw stats;
} pq_chunk_meta;

typedef struct pq_row_group {
    int64_t num_rows;
    int64_t total_byte_size;
    int64_t total_compressed_size;
    int64_t file_offset;
    pq_chunk_meta *chunks; /* column_count entries */
} pq_row_group;

typedef struct pq_file_meta {
    int32_t version;
    fl_pq_column_def *columns; /* names NUL-terminated, owned (fl_malloc) */
    size_t column_count;
    int64_t num_rows;
    pq_row_group *row_groups;
    int row_group_count;
    fl_pq_kv *kv; /* keys/values NUL-terminated, owned */
    size_t kv_count;
    char *created_by; /* owned, may be NULL */
} pq_file_meta;

/* Serialise meta (version 2 FileMetaData with column_orders) onto out. */
FL_MUST_USE int pq_meta_write(const pq_file_meta *meta, fl_buf *out);
/* Parse a FileMetaData; stats slices point into footer[0..n) which must outlive meta.
 * FL_ECORRUPT for malformed, FL_EUNSUPPORTED for nested/repeated/unsupported columns,
 * FL_ELIMIT past columns_max. On failure meta is left for pq_meta_free. */
FL_MUST_USE int pq_meta_read(const void *footer, size_t n, size_t columns_max, pq_file_meta *meta);
void pq_meta_free(pq_file_meta *meta);

/* Page headers. */
typedef struct pq_page_header {
    int type;
    int32_t uncompressed_size, compressed_size;
    int32_t num_values;
    int encoding;
    int def_encoding;
    /* v2 */
    int32_t num_nulls, num_rows;
    int32_t def_bytes, rep_bytes;
    int is_compressed;
    int has_data_header; /* the header matching type was present */
} pq_page_header;

FL_MUST_USE int pq_page_header_write(const pq_page_header *h, fl_buf *out);
/* Parse a page header from p[0..n); *used = its size. FL_ETRUNCATED when n is too short
 * (the caller may read more), FL_ECORRUPT when malformed. */
FL_MUST_USE int pq_page_header_read(const void *p, size_t n, pq_page_header *h, size_t *used);

/* ---- bit packing and the RLE/bit-packed hybrid ---------------------------------------------- */

static inline int pq_bit_width(uint64_t max_value)
{
    return max_value ? 64 - __builtin_clzll(max_value) : 0;
}

/* Append varint / zigzag varint (ULEB128) to out. */
FL_MUST_USE int pq_put_uvarint(fl_buf *out, uint64_t v);
FL_MUST_USE int pq_put_zigzag(fl_buf *out, int64_t v);
/* Read a ULEB128 of at most 10 bytes from *p < end; 0 or FL_ECORRUPT. */
FL_MUST_USE int pq_get_uvarint(const unsigned char **p, const unsigned char *end, uint64_t *v);

/* Append `count` values of `width` bits (0..64), LSB first, padded to whole bytes. */
FL_MUST_USE int pq_bitpack(fl_buf *out, const uint64_t *v, size_t count, int width);
/* Unpack count values of width bits from p (needs (count*width+7)/8 bytes). */
void pq_bitunpack(const unsigned char *p, size_t count, int width, uint64_t *v);

/* RLE/bit-packed hybrid of count values (each < 2^width, width 0..32), no length prefix. */
FL_MUST_USE int pq_rle_encode(fl_buf *out, const uint32_t *v, size_t count, int width);
/* Decode exactly count values from p[0..n); values >= 2^width cannot occur. FL_ECORRUPT when the
 * runs end early or are malformed; bytes after the last needed run are ignored. */
FL_MUST_USE int pq_rle_decode(const unsigned char *p, size_t n, int width, uint32_t *out,
                              size_t count);

/* ---- value encodings ---------------------------------------------------------------------- */

static inline size_t pq_physical_width(int physical)
{
    switch (physical) {
    case FL_PQ_BOOLEAN: return 1;
    case FL_PQ_INT32: return 4;
    case FL_PQ_INT64: return 8;
    case FL_PQ_DOUBLE: return 8;
    case FL_PQ_BYTE_ARRAY: return sizeof(fl_slice);
    default: return 0;
    }
}

/* PLAIN: values are the in-memory arrays of parquet.h (uint8_t 0/1, int32_t, int64_t, double,
 * fl_slice). */
FL_MUST_USE int pq_plain_encode(fl_buf *out, int physical, const void *values, size_t count);
/* Decode count values from p[0..n) into out; BYTE_ARRAY slices point into p. *used = bytes
 * consumed. */
FL_MUST_USE int pq_plain_decode(const unsigned char *p, size_t n, int physical, void *out,
                                size_t count, size_t *used);

/* DELTA_BINARY_PACKED (blocks of 128, 4 miniblocks of 32) for INT32 (int32_t) or INT64. */
FL_MUST_USE int pq_delta_encode(fl_buf *out, int physical, const void *values, size_t count);
/* Decode exactly count values (the stream's own count must be >= count... equal); *used =
 * bytes through the last miniblock holding a value. */
FL_MUST_USE int pq_delta_decode(const unsigned char *p, size_t n, int physical, void *out,
                                size_t count, size_t *used);
/* Count values announced by a delta stream header (for DELTA_BYTE_ARRAY's sub-streams). */
FL_MUST_USE int pq_delta_peek_count(const unsigned char *p, size_t n, size_t *count);

/* DELTA_LENGTH_BYTE_ARRAY and DELTA_BYTE_ARRAY decoders. Slices point into p
 * (DELTA_LENGTH) or into *arena (DELTA_BYTE_ARRAY rebuilds values from prefixes, so it copies
 * them; arena growth is bounded by bytes_max). */
FL_MUST_USE int pq_delta_length_decode(const unsigned char *p, size_t n, fl_slice *out,
                                       size_t count);
FL_MUST_USE int pq_delta_byte_array_decode(const unsigned char *p, size_t n, fl_slice *out,
                                           size_t count, fl_buf *arena, size_t bytes_max);
/* BYTE_STREAM_SPLIT for 4- and 8-byte types. */
FL_MUST_USE int pq_byte_stream_split_decode(const unsigned char *p, size_t n, int physical,
                                            void *out, size_t count);

/* Dictionary of distinct values in first-seen order, built over one column chunk. */
typedef struct pq_dict {
    int physical;
    size_t count;      /* distinct values */
    size_t plain_bytes;/* PLAIN size of the dictionary page */
    size_t bytes_max;  /* stop adding past this PLAIN size */
    uint32_t *slots;   /* open addressing: index + 1, 0 = empty */
    size_t slot_count; /* power of two */
    fl_buf values;     /* fixed-width values, or fl_slice for BYTE_ARRAY (pointing at caller data) */
} pq_dict;

void pq_dict_init(pq_dict *d, int physical, size_t bytes_max);
void pq_dict_free(pq_dict *d);
/* Index of value (adding it if new). FL_EFULL when adding it would pass bytes_max. */
FL_MUST_USE int pq_dict_index(pq_dict *d, const void *value, uint32_t *index);

/* ---- codecs ------------------------------------------------------------------------------- */

/* Compress in[0..n) with codec (level 0 = default) appending to out. */
FL_MUST_USE int pq_compress(int codec, int level, const void *in, size_t n, fl_buf *out);
/* Decompress in[0..n) into out[0..out_n); the result must be exactly out_n bytes
 * (FL_ECORRUPT otherwise, FL_EUNSUPPORTED for an unknown codec). */
FL_MUST_USE int pq_decompress(int codec, const void *in, size_t n, void *out, size_t out_n);

/* ---- statistics ---------------------------------------------------------------------------- */

/* Running min/max/null count of one column in its logical order. */
typedef struct pq_acc {
    int physical;
    int has;
    int64_t null_count, nan_count;
    int64_t imin, imax;
    double dmin, dmax;
    fl_buf smin, smax;
} pq_acc;

void pq_acc_init(pq_acc *a, int physical);
void pq_acc_reset(pq_acc *a);
void pq_acc_free(pq_acc *a);
FL_MUST_USE int pq_acc_add(pq_acc *a, const void *values, const uint8_t *valid, size_t rows);
FL_MUST_USE int pq_acc_merge(pq_acc *into, const pq_acc *from);
/* The accumulator as PLAIN stat bytes; min/max point into a (valid until it changes) or into
 * scratch[16]. */
void pq_acc_to_raw(const pq_acc *a, pq_stats_raw *raw, unsigned char scratch[16]);
void pq_acc_to_stats(const pq_acc *a, fl_pq_stats *out);
/* Decode PLAIN stat bytes into the public form (ignores values of the wrong length and NaN). */
void pq_stats_from_raw(int physical, const pq_stats_raw *raw, fl_pq_stats *out);

/* Unsigned lexicographic comparison of byte strings. */
int pq_bytes_cmp(const void *a, size_t an, const void *b, size_t bn);
/* 1 if p[0..n) is valid UTF-8. */
int pq_utf8_valid(const void *p, size_t n);

#endif
