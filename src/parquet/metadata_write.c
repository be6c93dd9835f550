/* metadata_write.c — serialises the footer (FileMetaData) and page headers in the Thrift
 * compact protocol. The footer is format version 2 metadata with a flat schema (a root group
 * and one leaf per column), each leaf carrying both its LogicalType and the legacy
 * ConvertedType older readers understand; column chunks carry statistics in the min_value /
 * max_value fields, and column_orders declares TypeDefinedOrder for every column so readers
 * (parquet-mr, Arrow, DuckDB) trust those statistics. The deprecated min/max fields are also
 * written for non-BYTE_ARRAY columns, whose signed order is the same. */
#include "parquet/parquet_int.h"

enum converted {
    CONV_UTF8 = 0,
    CONV_TIMESTAMP_MICROS = 10,
    CONV_INT_8 = 15,
    CONV_INT_16 = 16,
    CONV_INT_32 = 17,
    CONV_INT_64 = 18,
};

static void write_logical(tc_enc *e, enum fl_pq_logical logical)
{
    static const int8_t int_bits[] = {
        [FL_PQ_LOGICAL_INT8] = 8, [FL_PQ_LOGICAL_INT16] = 16,
        [FL_PQ_LOGICAL_INT32] = 32, [FL_PQ_LOGICAL_INT64] = 64};
    switch (logical) {
    case FL_PQ_LOGICAL_STRING:
        tc_field_i32(e, 6, CONV_UTF8);
        tc_field_struct(e, 10);
        tc_field_struct(e, 1); /* StringType {} */
        tc_struct_end(e);
        tc_struct_end(e);
        return;
    case FL_PQ_LOGICAL_TIMESTAMP_MICROS:
        tc_field_i32(e, 6, CONV_TIMESTAMP_MICROS);
        tc_field_struct(e, 10);
        tc_field_struct(e, 8); /* TimestampType */
        tc_field_bool(e, 1, 1); /* isAdjustedToUTC */
        tc_field_struct(e, 2);  /* unit: TimeUnit */
        tc_field_struct(e, 2);  /* MICROS: MicroSeconds {} */
        tc_struct_end(e);
        tc_struct_end(e);
        tc_struct_end(e);
        tc_struct_end(e);
        return;
    case FL_PQ_LOGICAL_INT8:
    case FL_PQ_LOGICAL_INT16:
    case FL_PQ_LOGICAL_INT32:
    case FL_PQ_LOGICAL_INT64:
        tc_field_i32(e, 6, CONV_INT_8 + (int)(logical - FL_PQ_LOGICAL_INT8));
        tc_field_struct(e, 10);
        tc_field_struct(e, 10); /* IntType */
        tc_field(e, 1, TC_BYTE);
        tc_write_i8(e, int_bits[logical]);
        tc_field_bool(e, 2, 1); /* isSigned */
        tc_struct_end(e);
        tc_struct_end(e);
        return;
    default:
        return;
    }
}

static void write_schema(tc_enc *e, const pq_file_meta *m)
{
    tc_field(e, 2, TC_LIST);
    tc_list_begin(e, TC_STRUCT, m->column_count + 1);
    tc_struct_begin(e);
    tc_field_binary(e, 4, "schema", 6);
    tc_field_i32(e, 5, (int32_t)m->column_count);
    tc_struct_end(e);
    for (size_t i = 0; i < m->column_count; i++) {
        const fl_pq_column_def *c = &m->columns[i];
        tc_struct_begin(e);
        tc_field_i32(e, 1, (int32_t)c->physical);
        tc_field_i32(e, 3, c->optional ? 1 : 0);
        tc_field_binary(e, 4, c->name, strlen(c->name));
        write_logical(e, c->logical);
        tc_struct_end(e);
    }
}

static void write_stats(tc_enc *e, int physical, const pq_stats_raw *s)
{
    tc_field_struct(e, 12);
    if (s->has_min && physical != FL_PQ_BYTE_ARRAY) {
        tc_field_binary(e, 1, s->max.ptr, s->max.len);
        tc_field_binary(e, 2, s->min.ptr, s->min.len);
    }
    if (s->null_count >= 0)
        tc_field_i64(e, 3, s->null_count);
    if (s->has_min) {
        tc_field_binary(e, 5, s->max.ptr, s->max.len);
        tc_field_binary(e, 6, s->min.ptr, s->min.len);
        tc_field_bool(e, 7, 1);
        tc_field_bool(e, 8, 1);
    }
    if (s->nan_count >= 0)
        tc_field_i64(e, 9, s->nan_count);
    tc_struct_end(e);
}

static void write_chunk(tc_enc *e, const fl_pq_column_def *c, const pq_chunk_meta *k)
{
    tc_struct_begin(e);
    tc_field_i64(e, 2, 0); /* file_offset: no ColumnMetaData outside the footer */
    tc_field_struct(e, 3);
    tc_field_i32(e, 1, k->type);
    tc_field(e, 2, TC_LIST);
    tc_list_begin(e, TC_I32, (size_t)__builtin_popcount(k->encodings));
    for (int enc = 0; enc < 32; enc++)
        if (k->encodings & (1u << enc))
            tc_write_i32(e, enc);
    tc_field(e, 3, TC_LIST);
    tc_list_begin(e, TC_BINARY, 1);
    tc_write_binary(e, c->name, strlen(c->name));
    tc_field_i32(e, 4, k->codec);
    tc_field_i64(e, 5, k->num_values);
    tc_field_i64(e, 6, k->total_uncompressed_size);
    tc_field_i64(e, 7, k->total_compressed_size);
    tc_field_i64(e, 9, k->data_page_offset);
    if (k->dictionary_page_offset >= 0)
        tc_field_i64(e, 11, k->dictionary_page_offset);
    write_stats(e, k->type, &k->stats);
    tc_struct_end(e);
    tc_struct_end(e);
}

static void write_row_groups(tc_enc *e, const pq_file_meta *m)
{
    tc_field(e, 4, TC_LIST);
    tc_list_begin(e, TC_STRUCT, (size_t)m->row_group_count);
    for (int g = 0; g < m->row_group_count; g++) {
        const pq_row_group *rg = &m->row_groups[g];
        tc_struct_begin(e);
        tc_field(e, 1, TC_LIST);
        tc_list_begin(e, TC_STRUCT, m->column_count);
        for (size_t i = 0; i < m->column_count; i++)
            write_chunk(e, &m->columns[i], &rg->chunks[i]);
        tc_field_i64(e, 2, rg->total_byte_size);
        tc_field_i64(e, 3, rg->num_rows);
        tc_field_i64(e, 5, rg->file_offset);
        tc_field_i64(e, 6, rg->total_compressed_size);
        tc_field(e, 7, TC_I16);
        tc_write_i32(e, (int16_t)g);
        tc_struct_end(e);
    }
}

int pq_meta_write(const pq_file_meta *m, fl_buf *out)
{
    tc_enc e;
    tc_enc_init(&e, out);
    tc_struct_begin(&e);
    tc_field_i32(&e, 1, m->version);
    write_schema(&e, m);
    tc_field_i64(&e, 3, m->num_rows);
    write_row_groups(&e, m);
    if (m->kv_count) {
        tc_field(&e, 5, TC_LIST);
        tc_list_begin(&e, TC_STRUCT, m->kv_count);
        for (size_t i = 0; i < m->kv_count; i++) {
            tc_struct_begin(&e);
            tc_field_binary(&e, 1, m->kv[i].key, strlen(m->kv[i].key));
            tc_field_binary(&e, 2, m->kv[i].value, strlen(m->kv[i].value));
            tc_struct_end(&e);
        }
    }
    if (m->created_by)
        tc_field_binary(&e, 6, m->created_by, strlen(m->created_by));
    tc_field(&e, 7, TC_LIST);
    tc_list_begin(&e, TC_STRUCT, m->column_count);
    for (size_t i = 0; i < m->column_count; i++) {
        tc_struct_begin(&e);
        tc_field_struct(&e, 1); /* TYPE_ORDER: TypeDefinedOrder {} */
        tc_struct_end(&e);
        tc_struct_end(&e);
    }
    tc_struct_end(&e);
    return e.err;
}

int pq_page_header_write(const pq_page_header *h, fl_buf *out)
{
    tc_enc e;
    tc_enc_init(&e, out);
    tc_struct_begin(&e);
    tc_field_i32(&e, 1, h->type);
    tc_field_i32(&e, 2, h->uncompressed_size);
    tc_field_i32(&e, 3, h->compressed_size);
    if (h->type == PQ_PAGE_DICTIONARY) {
        tc_field_struct(&e, 7);
        tc_field_i32(&e, 1, h->num_values);
        tc_field_i32(&e, 2, h->encoding);
        tc_struct_end(&e);
    } else {
        tc_field_struct(&e, 5);
        tc_field_i32(&e, 1, h->num_values);
        tc_field_i32(&e, 2, h->encoding);
        tc_field_i32(&e, 3, PQ_ENC_RLE);
        tc_field_i32(&e, 4, PQ_ENC_RLE);
        tc_struct_end(&e);
    }
    tc_struct_end(&e);
    return e.err;
}
