/* writer_chunk.c — turns one buffered column of a row group into a column chunk: picks the
 * encoding, writes the dictionary page (PLAIN) when there is one, cuts the rows into data
 * pages (v1) of about page_bytes, compresses each with the file's codec and streams it to the
 * sink, and fills the chunk's ColumnMetaData and statistics.
 *
 * Encoding choice, made once per chunk and cheaply:
 *  1. BOOLEAN is always PLAIN (bit-packed).
 *  2. Otherwise a dictionary is built over the values in order until its PLAIN size would pass
 *     dictionary_bytes_max; the first k values are dictionary candidates.
 *  3. For INT32/INT64, DELTA_BINARY_PACKED is sized on a sample of the first values.
 *  4. The "rest" encoding (used after the dictionary fills up, or for the whole chunk) is
 *     DELTA when its sample is smaller than PLAIN, else PLAIN.
 *  5. The dictionary is used for its k values when dictionary page + bit-packed indices is
 *     smaller than the rest encoding would be for them; past k the chunk falls back to the
 *     rest encoding, with a page boundary at value k. */
#include "parquet/writer_int.h"

/* Values sized with DELTA_BINARY_PACKED to decide whether it beats PLAIN: 32 blocks, enough
 * to see the delta widths of sorted or clustered data, cheap next to encoding the chunk. */
#define DELTA_SAMPLE_VALUES 4096

typedef struct chunk_plan {
    int physical;
    const void *vals; /* non-null values, n of them */
    size_t n;
    fl_slice *slices; /* owned, BYTE_ARRAY only */
    const uint8_t *valid;
    size_t rows;
    pq_dict dict;
    uint32_t *idx;     /* dictionary index of each of the first dict_values values */
    size_t dict_values;
    int bw;
    int rest_enc;
} chunk_plan;

static size_t value_bytes(const chunk_plan *p, size_t v)
{
    if (p->physical == FL_PQ_BYTE_ARRAY)
        return 4 + p->slices[v].len;
    return p->physical == FL_PQ_BOOLEAN ? 1 : pq_physical_width(p->physical);
}

static size_t plain_bytes(const chunk_plan *p, size_t from, size_t to)
{
    if (p->physical != FL_PQ_BYTE_ARRAY)
        return (to - from) * value_bytes(p, 0);
    size_t n = 0;
    for (size_t v = from; v < to; v++)
        n += 4 + p->slices[v].len;
    return n;
}

static int gather(const pq_colbuf *b, chunk_plan *p)
{
    p->n = b->nonnull;
    p->rows = b->rows;
    p->valid = b->valid.len ? (const uint8_t *)b->valid.data : NULL;
    if (p->physical != FL_PQ_BYTE_ARRAY) {
        p->vals = b->values.data;
        return 0;
    }
    p->slices = fl_malloc((p->n ? p->n : 1) * sizeof *p->slices);
    if (!p->slices)
        return FL_ENOMEM;
    const uint64_t *start = (const uint64_t *)b->values.data;
    for (size_t v = 0; v < p->n; v++) {
        uint64_t end = v + 1 < p->n ? start[v + 1] : b->bytes.len;
        p->slices[v].ptr = b->bytes.data ? b->bytes.data + start[v] : "";
        p->slices[v].len = (size_t)(end - start[v]);
    }
    p->vals = p->slices;
    return 0;
}

static int build_dict(fl_pq_writer *w, chunk_plan *p)
{
    size_t width = pq_physical_width(p->physical);
    p->idx = fl_malloc((p->n ? p->n : 1) * sizeof *p->idx);
    if (!p->idx)
        return FL_ENOMEM;
    pq_dict_init(&p->dict, p->physical, w->opts.dictionary_bytes_max);
    size_t v = 0;
    for (; v < p->n; v++) {
        int rc = pq_dict_index(&p->dict, (const char *)p->vals + v * width, &p->idx[v]);
        if (rc == FL_EFULL)
            break;
        if (rc)
            return rc;
    }
    p->dict_values = v;
    p->bw = pq_bit_width(p->dict.count ? p->dict.count - 1 : 0);
    if (p->bw == 0)
        p->bw = 1; /* width 0 is legal, but some readers mishandle it */
    return 0;
}

static int choose_encoding(fl_pq_writer *w, chunk_plan *p)
{
    p->rest_enc = PQ_ENC_PLAIN;
    if (p->physical == FL_PQ_BOOLEAN || p->n == 0)
        return 0;
    size_t sample = p->n < DELTA_SAMPLE_VALUES ? p->n : DELTA_SAMPLE_VALUES;
    double delta_per_value = 0;
    int is_int = p->physical == FL_PQ_INT32 || p->physical == FL_PQ_INT64;
    if (is_int && !w->opts.disable_delta) {
        fl_buf_reset(&w->comp);
        int rc = pq_delta_encode(&w->comp, p->physical, p->vals, sample);
        if (rc)
            return rc;
        delta_per_value = (double)w->comp.len / (double)sample;
        if (delta_per_value < (double)value_bytes(p, 0))
            p->rest_enc = PQ_ENC_DELTA_BINARY_PACKED;
    }
    if (w->opts.disable_dictionary)
        return 0;
    int rc = build_dict(w, p);
    if (rc)
        return rc;
    size_t k = p->dict_values;
    double dict_est = (double)p->dict.plain_bytes + ((double)k * p->bw + 7) / 8;
    double rest_est = p->rest_enc == PQ_ENC_DELTA_BINARY_PACKED ? delta_per_value * (double)k
                                                                : (double)plain_bytes(p, 0, k);
    if (k == 0 || dict_est >= rest_est)
        p->dict_values = 0;
    return 0;
}

/* Rows [r0, *r1) and values [v0, *v1) of the next page: about page_bytes of PLAIN-sized
 * values, ending before value stop_v (the dictionary fallback point). */
static void cut_page(const chunk_plan *p, size_t page_bytes, size_t r0, size_t v0, size_t stop_v,
                     size_t *r1, size_t *v1)
{
    size_t est = 0, r = r0, v = v0;
    while (r < p->rows && r - r0 < ((size_t)1 << 30)) {
        int has = !p->valid || p->valid[r];
        if (has && v == stop_v)
            break;
        if (has)
            est += value_bytes(p, v++);
        r++;
        if (est >= page_bytes)
            break;
    }
    *r1 = r;
    *v1 = v;
}

static int scratch32(fl_pq_writer *w, size_t n)
{
    if (n <= w->scratch32_cap)
        return 0;
    uint32_t *s = fl_realloc(w->scratch32, n * sizeof *s);
    if (!s)
        return FL_ENOMEM;
    w->scratch32 = s;
    w->scratch32_cap = n;
    return 0;
}

static int encode_levels(fl_pq_writer *w, const chunk_plan *p, size_t r0, size_t r1)
{
    int rc = scratch32(w, r1 - r0);
    if (rc)
        return rc;
    for (size_t r = r0; r < r1; r++)
        w->scratch32[r - r0] = p->valid[r];
    fl_buf_reset(&w->levels);
    rc = pq_rle_encode(&w->levels, w->scratch32, r1 - r0, 1);
    unsigned char len[4];
    fl_put_u32(len, (uint32_t)w->levels.len);
    if (!rc)
        rc = fl_buf_append(&w->page, len, 4);
    return rc ? rc : fl_buf_append(&w->page, w->levels.data, w->levels.len);
}

static int encode_values(fl_pq_writer *w, const chunk_plan *p, size_t v0, size_t v1, int enc)
{
    size_t width = pq_physical_width(p->physical);
    const void *vals = (const char *)p->vals + v0 * width;
    if (enc == PQ_ENC_RLE_DICTIONARY) {
        unsigned char bw = (unsigned char)p->bw;
        int rc = fl_buf_append(&w->page, &bw, 1);
        return rc ? rc : pq_rle_encode(&w->page, p->idx + v0, v1 - v0, p->bw);
    }
    if (enc == PQ_ENC_DELTA_BINARY_PACKED)
        return pq_delta_encode(&w->page, p->physical, vals, v1 - v0);
    return pq_plain_encode(&w->page, p->physical, vals, v1 - v0);
}

/* Compress w->page and write header + body; sizes go into the chunk's totals. */
static int emit_page(fl_pq_writer *w, pq_chunk_meta *k, int type, size_t num_values, int enc)
{
    if (w->page.len > INT32_MAX || num_values > INT32_MAX)
        return FL_ELIMIT;
    fl_buf_reset(&w->comp);
    int rc = pq_compress(w->opts.codec, w->opts.compression_level, w->page.data, w->page.len,
                         &w->comp);
    if (rc)
        return rc;
    if (w->comp.len > INT32_MAX)
        return FL_ELIMIT;
    pq_page_header h = {.type = type,
                        .uncompressed_size = (int32_t)w->page.len,
                        .compressed_size = (int32_t)w->comp.len,
                        .num_values = (int32_t)num_values,
                        .encoding = enc};
    fl_buf_reset(&w->header);
    rc = pq_page_header_write(&h, &w->header);
    if (!rc)
        rc = pq_emit(w, w->header.data, w->header.len);
    if (!rc)
        rc = pq_emit(w, w->comp.data, w->comp.len);
    k->total_uncompressed_size += (int64_t)(w->header.len + w->page.len);
    k->total_compressed_size += (int64_t)(w->header.len + w->comp.len);
    k->encodings |= 1u << enc;
    return rc;
}

static int write_dictionary_page(fl_pq_writer *w, const chunk_plan *p, pq_chunk_meta *k)
{
    fl_buf_reset(&w->page);
    int rc = pq_plain_encode(&w->page, p->physical, p->dict.values.data, p->dict.count);
    k->dictionary_page_offset = (int64_t)w->offset;
    return rc ? rc : emit_page(w, k, PQ_PAGE_DICTIONARY, p->dict.count, PQ_ENC_PLAIN);
}

static int write_pages(fl_pq_writer *w, const chunk_plan *p, const fl_pq_column_def *def,
                       pq_chunk_meta *k)
{
    size_t r0 = 0, v0 = 0;
    k->data_page_offset = (int64_t)w->offset;
    do {
        int dict = v0 < p->dict_values;
        size_t r1, v1;
        cut_page(p, w->opts.page_bytes, r0, v0, dict ? p->dict_values : SIZE_MAX, &r1, &v1);
        int enc = dict ? PQ_ENC_RLE_DICTIONARY : p->rest_enc;
        fl_buf_reset(&w->page);
        int rc = def->optional ? encode_levels(w, p, r0, r1) : 0;
        if (!rc)
            rc = encode_values(w, p, v0, v1, enc);
        if (!rc)
            rc = emit_page(w, k, PQ_PAGE_DATA, r1 - r0, enc);
        if (rc)
            return rc;
        r0 = r1;
        v0 = v1;
    } while (r0 < p->rows);
    k->encodings |= 1u << PQ_ENC_RLE; /* definition levels */
    return 0;
}

static int set_stats(const pq_colbuf *b, pq_chunk_meta *k)
{
    unsigned char scratch[16];
    pq_acc_to_raw(&b->chunk_acc, &k->stats, scratch);
    if (!k->stats.has_min)
        return 0;
    char *min = fl_malloc(k->stats.min.len + 1), *max = fl_malloc(k->stats.max.len + 1);
    if (!min || !max) {
        fl_free(min);
        fl_free(max);
        k->stats.has_min = k->stats.has_max = 0;
        return FL_ENOMEM;
    }
    memcpy(min, k->stats.min.ptr, k->stats.min.len);
    memcpy(max, k->stats.max.ptr, k->stats.max.len);
    k->stats.min.ptr = min;
    k->stats.max.ptr = max;
    return 0;
}

void pq_chunk_stats_free(pq_chunk_meta *k)
{
    if (k->stats.has_min) {
        fl_free((char *)k->stats.min.ptr);
        fl_free((char *)k->stats.max.ptr);
    }
    k->stats.has_min = k->stats.has_max = 0;
}

int pq_write_chunk(fl_pq_writer *w, size_t i, pq_chunk_meta *k)
{
    const fl_pq_column_def *def = &w->meta.columns[i];
    const pq_colbuf *b = &w->cols[i];
    chunk_plan p = {.physical = def->physical};
    memset(k, 0, sizeof *k);
    k->type = def->physical;
    k->codec = w->opts.codec;
    k->num_values = (int64_t)b->rows;
    k->dictionary_page_offset = -1;
    int rc = gather(b, &p);
    if (!rc)
        rc = choose_encoding(w, &p);
    if (!rc && p.dict_values)
        rc = write_dictionary_page(w, &p, k);
    if (!rc)
        rc = write_pages(w, &p, def, k);
    if (!rc)
        rc = set_stats(b, k);
    pq_dict_free(&p.dict);
    fl_free(p.idx);
    fl_free(p.slices);
    return rc;
}
