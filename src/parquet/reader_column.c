/* reader_column.c — decodes one column chunk for fl_pq_reader_read_column. Pages are read one
 * at a time through the source (header first, with a window that grows only while the header
 * is truncated, then the body), so memory is one page plus the decoded column (page buffers
 * and the decoded arrays are kept and reused by the next read). Supported:
 * an optional dictionary page first; data pages v1 (levels inside the compressed body, RLE
 * with a 4-byte length) and v2 (levels uncompressed before the body); value encodings PLAIN,
 * PLAIN_DICTIONARY/RLE_DICTIONARY, RLE (booleans), DELTA_BINARY_PACKED,
 * DELTA_LENGTH_BYTE_ARRAY, DELTA_BYTE_ARRAY and BYTE_STREAM_SPLIT; codecs UNCOMPRESSED,
 * SNAPPY, GZIP and ZSTD. Non-null values are decoded densely at the page's first row and
 * then spread backwards over the rows by the definition levels, which needs no second
 * array. BYTE_ARRAY bytes are copied into the column's arena (offsets while decoding,
 * pointers fixed up at the end, since the arena may move as it grows). */
#include "parquet/reader_int.h"

/* First read of a page header. Headers are usually 20-40 bytes; one with page statistics of
 * long strings can be larger, and then the window grows (x8) up to footer_bytes_max. */
#define HEADER_WINDOW_FIRST 256

typedef struct chunk_ctx {
    fl_pq_reader *r;
    const fl_pq_column_def *def;
    int codec;
    size_t width;
    size_t rows, done, nulls;
    pq_slot *slot;
    unsigned char *body, *page, *header; /* compressed body, decompressed page, header window */
    size_t body_cap, page_cap, header_cap;
    uint32_t *scratch; /* levels, dictionary indices */
    size_t scratch_cap;
    unsigned char *dict_page; /* keeps dictionary slices valid */
    void *dict;
    size_t dict_count;
} chunk_ctx;

static int ensure(unsigned char **p, size_t *cap, size_t n)
{
    if (n <= *cap && *p)
        return 0;
    unsigned char *q = fl_realloc(*p, n ? n : 1);
    if (!q)
        return FL_ENOMEM;
    *p = q;
    *cap = n ? n : 1;
    return 0;
}

static int ensure_scratch(chunk_ctx *c, size_t n)
{
    if (n <= c->scratch_cap && c->scratch)
        return 0;
    uint32_t *q = fl_realloc(c->scratch, (n ? n : 1) * sizeof *q);
    if (!q)
        return FL_ENOMEM;
    c->scratch = q;
    c->scratch_cap = n ? n : 1;
    return 0;
}

/* Append decoded slices' bytes to the arena, leaving offsets in ptr. The total is checked
 * and reserved first, so the copy loop is plain memcpy. */
static int copy_to_arena(chunk_ctx *c, fl_slice *s, size_t n)
{
    fl_buf *a = &c->slot->arena;
    size_t total = 0, room = c->r->limits.column_chunk_bytes_max - a->len;
    for (size_t i = 0; i < n; i++) {
        if (s[i].len > room - total)
            return FL_ELIMIT;
        total += s[i].len;
    }
    int rc = fl_buf_reserve(a, total);
    if (rc)
        return rc;
    for (size_t i = 0; i < n; i++) {
        size_t off = a->len;
        if (s[i].len)
            memcpy(a->data + off, s[i].ptr, s[i].len);
        a->len += s[i].len;
        s[i].ptr = (const char *)(uintptr_t)off;
    }
    return 0;
}

static int decode_dict_indices(chunk_ctx *c, const unsigned char *p, size_t n, void *dst,
                               size_t count)
{
    if (!c->dict)
        return FL_ECORRUPT;
    if (n < 1 || p[0] > 32)
        return FL_ECORRUPT;
    int rc = ensure_scratch(c, count);
    if (!rc)
        rc = pq_rle_decode(p + 1, n - 1, p[0], c->scratch, count);
    if (rc)
        return rc;
    const uint32_t *idx = c->scratch;
    for (size_t i = 0; i < count; i++)
        if (idx[i] >= c->dict_count)
            return FL_ECORRUPT;
    /* One loop per width, so each copy is a move of a known size rather than a memcpy call
     * per value (which was the largest item of a scan's profile). */
    switch (c->width) {
    case 4:
        for (size_t i = 0; i < count; i++)
            ((uint32_t *)dst)[i] = ((const uint32_t *)c->dict)[idx[i]];
        break;
    case 8:
        for (size_t i = 0; i < count; i++)
            ((uint64_t *)dst)[i] = ((const uint64_t *)c->dict)[idx[i]];
        break;
    case sizeof(fl_slice):
        for (size_t i = 0; i < count; i++)
            ((fl_slice *)dst)[i] = ((const fl_slice *)c->dict)[idx[i]];
        break;
    default:
        for (size_t i = 0; i < count; i++)
            memcpy((char *)dst + i * c->width, (const char *)c->dict + idx[i] * c->width,
                   c->width);
    }
    return 0;
}

static int decode_rle_bool(chunk_ctx *c, const unsigned char *p, size_t n, uint8_t *dst,
                           size_t count)
{
    if (n < 4 || fl_get_u32(p) > n - 4)
        return FL_ECORRUPT;
    int rc = ensure_scratch(c, count);
    if (!rc)
        rc = pq_rle_decode(p + 4, fl_get_u32(p), 1, c->scratch, count);
    for (size_t i = 0; !rc && i < count; i++)
        dst[i] = (uint8_t)c->scratch[i];
    return rc;
}

static int decode_values(chunk_ctx *c, int enc, const unsigned char *p, size_t n, void *dst,
                         size_t count)
{
    int phys = c->def->physical, ba = phys == FL_PQ_BYTE_ARRAY, rc;
    size_t used, bytes_max = c->r->limits.column_chunk_bytes_max;
    fl_buf tmp = {0};
    switch (enc) {
    case PQ_ENC_PLAIN:
        rc = pq_plain_decode(p, n, phys, dst, count, &used);
        break;
    case PQ_ENC_PLAIN_DICTIONARY:
    case PQ_ENC_RLE_DICTIONARY:
        rc = decode_dict_indices(c, p, n, dst, count);
        break;
    case PQ_ENC_RLE:
        rc = phys == FL_PQ_BOOLEAN ? decode_rle_bool(c, p, n, dst, count) : FL_EUNSUPPORTED;
        break;
    case PQ_ENC_DELTA_BINARY_PACKED:
        rc = pq_delta_decode(p, n, phys, dst, count, &used);
        break;
    case PQ_ENC_DELTA_LENGTH_BYTE_ARRAY:
        rc = ba ? pq_delta_length_decode(p, n, dst, count) : FL_EUNSUPPORTED;
        break;
    case PQ_ENC_DELTA_BYTE_ARRAY:
        rc = ba ? pq_delta_byte_array_decode(p, n, dst, count, &tmp, bytes_max) : FL_EUNSUPPORTED;
        break;
    case PQ_ENC_BYTE_STREAM_SPLIT:
        rc = pq_byte_stream_split_decode(p, n, phys, dst, count);
        break;
    default:
        rc = FL_EUNSUPPORTED;
    }
    /* Dictionary entries' bytes went to the arena once, with the dictionary page: indices
     * copy slices that already hold arena offsets. */
    if (!rc && ba && enc != PQ_ENC_PLAIN_DICTIONARY && enc != PQ_ENC_RLE_DICTIONARY)
        rc = copy_to_arena(c, dst, count);
    fl_buf_free(&tmp);
    return rc;
}

/* Spread nn dense values at dst over rows by validity (backwards, in place). Instantiated per
 * width so the moves are inlined. */
#define SPREAD_LOOP(T)                                                                          \
    do {                                                                                        \
        T *d = dst;                                                                             \
        size_t j = nn;                                                                          \
        for (size_t i = rows; i-- > 0 && j < i + 1;) { /* j == i + 1: the rest is in place */ \
            if (valid[i])                                                                       \
                d[i] = d[--j];                                                                  \
            else                                                                                \
                memset(&d[i], 0, sizeof(T));                                                    \
        }                                                                                       \
    } while (0)

static void spread(void *dst, size_t width, const uint8_t *valid, size_t rows, size_t nn)
{
    if (nn == rows)
        return;
    switch (width) {
    case 1:
        SPREAD_LOOP(uint8_t);
        return;
    case 4:
        SPREAD_LOOP(uint32_t);
        return;
    case 8:
        SPREAD_LOOP(uint64_t);
        return;
    case sizeof(fl_slice):
        SPREAD_LOOP(fl_slice);
        return;
    }
    char *d = dst;
    size_t j = nn;
    for (size_t i = rows; i-- > 0;) {
        if (valid[i]) {
            j--;
            if (j != i)
                memcpy(d + i * width, d + j * width, width);
        } else {
            memset(d + i * width, 0, width);
        }
    }
}

/* Definition levels of n rows from an RLE hybrid run of bytes; returns non-null count. */
static int decode_levels(chunk_ctx *c, const unsigned char *p, size_t len, size_t n, size_t *nn)
{
    int rc = ensure_scratch(c, n);
    if (!rc)
        rc = pq_rle_decode(p, len, 1, c->scratch, n);
    if (rc)
        return rc;
    uint8_t *valid = c->slot->valid + c->done;
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        valid[i] = (uint8_t)c->scratch[i];
        k += c->scratch[i];
    }
    *nn = k;
    return 0;
}

static int finish_page(chunk_ctx *c, int enc, const unsigned char *p, size_t n, size_t rows,
                       size_t nn)
{
    char *dst = (char *)c->slot->values + c->done * c->width;
    int rc = decode_values(c, enc, p, n, dst, nn);
    if (rc)
        return rc;
    if (c->def->optional)
        spread(dst, c->width, c->slot->valid + c->done, rows, nn);
    c->nulls += rows - nn;
    c->done += rows;
    return 0;
}

static int data_page_v1(chunk_ctx *c, const pq_page_header *h)
{
    size_t rows = (size_t)h->num_values, nn = rows;
    const unsigned char *p = c->page;
    size_t n = (size_t)h->uncompressed_size;
    int rc = pq_decompress(c->codec, c->body, (size_t)h->compressed_size, c->page, n);
    if (rc)
        return rc;
    if (c->def->optional) {
        if (h->def_encoding != PQ_ENC_RLE)
            return FL_EUNSUPPORTED; /* BIT_PACKED levels: deprecated, not written since 2013 */
        if (n < 4 || fl_get_u32(p) > n - 4)
            return FL_ECORRUPT;
        size_t len = fl_get_u32(p);
        if ((rc = decode_levels(c, p + 4, len, rows, &nn)))
            return rc;
        p += 4 + len;
        n -= 4 + len;
    }
    return finish_page(c, h->encoding, p, n, rows, nn);
}

static int data_page_v2(chunk_ctx *c, const pq_page_header *h)
{
    size_t rows = (size_t)h->num_values, nn = rows;
    if (h->def_bytes < 0 || h->rep_bytes < 0 ||
        (int64_t)h->def_bytes + h->rep_bytes > h->compressed_size ||
        (int64_t)h->def_bytes + h->rep_bytes > h->uncompressed_size)
        return FL_ECORRUPT;
    size_t levels = (size_t)h->def_bytes + (size_t)h->rep_bytes;
    const unsigned char *def = c->body + h->rep_bytes;
    int rc;
    if (c->def->optional && (rc = decode_levels(c, def, (size_t)h->def_bytes, rows, &nn)))
        return rc;
    const unsigned char *vals = c->body + levels;
    size_t comp_n = (size_t)h->compressed_size - levels, n = (size_t)h->uncompressed_size - levels;
    if (h->is_compressed && c->codec != FL_PQ_UNCOMPRESSED) {
        if ((rc = pq_decompress(c->codec, vals, comp_n, c->page, n)))
            return rc;
        vals = c->page;
    } else if (comp_n != n) {
        return FL_ECORRUPT;
    }
    return finish_page(c, h->encoding, vals, n, rows, nn);
}

static int dictionary_page(chunk_ctx *c, const pq_page_header *h)
{
    size_t n = (size_t)h->uncompressed_size;
    if (c->dict || c->done || h->num_values < 0)
        return FL_ECORRUPT;
    if (h->encoding != PQ_ENC_PLAIN && h->encoding != PQ_ENC_PLAIN_DICTIONARY)
        return FL_EUNSUPPORTED;
    /* Each entry takes at least its PLAIN width (4 bytes for BYTE_ARRAY, 1 bit for BOOLEAN),
     * which bounds the allocation by the page size. */
    size_t count = (size_t)h->num_values;
    size_t min_width = c->def->physical == FL_PQ_BYTE_ARRAY ? 4 : c->width;
    if (c->def->physical == FL_PQ_BOOLEAN ? count / 8 > n : count > n / min_width)
        return FL_ECORRUPT;
    c->dict_page = fl_malloc(n ? n : 1);
    c->dict = fl_malloc(count ? count * c->width : 1);
    if (!c->dict_page || !c->dict)
        return FL_ENOMEM;
    size_t used;
    int rc = pq_decompress(c->codec, c->body, (size_t)h->compressed_size, c->dict_page, n);
    if (!rc)
        rc = pq_plain_decode(c->dict_page, n, c->def->physical, c->dict, count, &used);
    if (!rc && c->def->physical == FL_PQ_BYTE_ARRAY)
        rc = copy_to_arena(c, c->dict, count);
    c->dict_count = count;
    return rc;
}

/* Read the header at *pos (inside [*pos, end)) and the page body after it. */
static int read_page(chunk_ctx *c, uint64_t *pos, uint64_t end, pq_page_header *h)
{
    const fl_pq_reader_limits *lim = &c->r->limits;
    size_t window = HEADER_WINDOW_FIRST, used = 0;
    for (;;) {
        size_t avail = end - *pos < window ? (size_t)(end - *pos) : window;
        int rc = ensure(&c->header, &c->header_cap, avail);
        if (!rc)
            rc = c->r->read(c->r->ctx, c->header, avail, *pos);
        if (!rc)
            rc = pq_page_header_read(c->header, avail, h, &used);
        if (rc != FL_ETRUNCATED)
            if (rc)
                return rc;
        if (!rc)
            break;
        if (avail < window || window >= lim->footer_bytes_max)
            return FL_ECORRUPT;
        window *= 8;
    }
    if ((size_t)h->compressed_size > lim->page_bytes_max ||
        (size_t)h->uncompressed_size > lim->page_bytes_max)
        return FL_ELIMIT;
    if ((uint64_t)h->compressed_size > end - *pos - used)
        return FL_ECORRUPT;
    int rc = ensure(&c->body, &c->body_cap, (size_t)h->compressed_size);
    if (!rc)
        rc = c->r->read(c->r->ctx, c->body, (size_t)h->compressed_size, *pos + used);
    *pos += used + (uint64_t)h->compressed_size;
    return rc;
}

static int page_loop(chunk_ctx *c, uint64_t pos, uint64_t end)
{
    while (c->done < c->rows) {
        pq_page_header h;
        if (pos >= end)
            return FL_ECORRUPT; /* the chunk ended before its rows did */
        int rc = read_page(c, &pos, end, &h);
        if (rc)
            return rc;
        int is_data = h.type == PQ_PAGE_DATA || h.type == PQ_PAGE_DATA_V2;
        if (h.type == PQ_PAGE_DICTIONARY || is_data) {
            if (!h.has_data_header)
                return FL_ECORRUPT;
        } else {
            continue; /* index pages and future page types are skipped */
        }
        if (is_data && (h.num_values < 0 || (size_t)h.num_values > c->rows - c->done))
            return FL_ECORRUPT;
        if ((rc = ensure(&c->page, &c->page_cap, (size_t)h.uncompressed_size)))
            return rc;
        rc = h.type == PQ_PAGE_DICTIONARY ? dictionary_page(c, &h)
             : h.type == PQ_PAGE_DATA     ? data_page_v1(c, &h)
                                          : data_page_v2(c, &h);
        if (rc)
            return rc;
    }
    return 0;
}

/* Byte range of the chunk: from its dictionary page (if any) for total_compressed_size. */
static int chunk_range(const fl_pq_reader *r, const pq_chunk_meta *k, uint64_t *start,
                       uint64_t *end)
{
    int64_t s = k->data_page_offset;
    if (k->dictionary_page_offset >= 4 && k->dictionary_page_offset < s)
        s = k->dictionary_page_offset;
    if (s < 4 || (uint64_t)s >= r->data_end || k->total_compressed_size <= 0 ||
        (uint64_t)k->total_compressed_size > r->data_end - (uint64_t)s)
        return FL_ECORRUPT;
    *start = (uint64_t)s;
    *end = (uint64_t)s + (uint64_t)k->total_compressed_size;
    return 0;
}

static int prepare_slot(chunk_ctx *c)
{
    const fl_pq_reader_limits *lim = &c->r->limits;
    if (c->rows > lim->column_chunk_rows_max)
        return FL_ELIMIT;
    if (c->rows > lim->column_chunk_bytes_max / (c->width + 1))
        return FL_ELIMIT;
    pq_slot *s = c->slot;
    size_t values_bytes = c->rows ? c->rows * c->width : 1, valid_bytes = c->rows ? c->rows : 1;
    /* Reuse the column's arrays when they are big enough: a fresh multi-megabyte allocation
     * per chunk is an mmap, page faults on first touch and an munmap (a quarter of a scan). */
    if (values_bytes > s->values_cap) {
        fl_free(s->values);
        s->values = fl_malloc(values_bytes);
        s->values_cap = s->values ? values_bytes : 0;
    }
    if (valid_bytes > s->valid_cap) {
        fl_free(s->valid);
        s->valid = fl_malloc(valid_bytes);
        s->valid_cap = s->valid ? valid_bytes : 0;
    }
    fl_buf_reset(&s->arena);
    if (!s->values || !s->valid)
        return FL_ENOMEM;
    memset(s->valid, 1, c->rows);
    /* The arena keeps one byte so every (even empty) string points at real memory. */
    return fl_buf_reserve(&s->arena, 1);
}

static void fix_slices(chunk_ctx *c)
{
    fl_slice *s = c->slot->values;
    for (size_t i = 0; i < c->rows; i++) {
        if (c->slot->valid[i])
            s[i].ptr = c->slot->arena.data + (uintptr_t)s[i].ptr;
        else
            s[i] = (fl_slice){NULL, 0};
    }
}

int pq_read_column_chunk(fl_pq_reader *r, int row_group, size_t column, fl_pq_column_values *out)
{
    const pq_row_group *rg = &r->meta.row_groups[row_group];
    const pq_chunk_meta *k = &rg->chunks[column];
    pq_scratch *sc = &r->scratch;
    chunk_ctx c = {.r = r, .def = &r->meta.columns[column], .codec = k->codec,
                   .rows = (size_t)rg->num_rows, .slot = &r->slots[column],
                   .body = sc->body, .page = sc->page, .header = sc->header,
                   .body_cap = sc->body_cap, .page_cap = sc->page_cap,
                   .header_cap = sc->header_cap, .scratch = sc->levels,
                   .scratch_cap = sc->levels_cap};
    c.width = pq_physical_width(c.def->physical);
    uint64_t start = 0, end = 0;
    int rc = 0;
    out->values = NULL;
    out->valid = NULL;
    if (k->codec != FL_PQ_UNCOMPRESSED && k->codec != FL_PQ_SNAPPY && k->codec != FL_PQ_GZIP &&
        k->codec != FL_PQ_ZSTD)
        rc = FL_EUNSUPPORTED;
    if (!rc && (uint64_t)rg->num_rows > SIZE_MAX / 16)
        rc = FL_ELIMIT;
    if (!rc)
        rc = prepare_slot(&c);
    if (!rc && c.rows)
        rc = chunk_range(r, k, &start, &end);
    if (!rc)
        rc = page_loop(&c, start, end);
    if (!rc && c.def->physical == FL_PQ_BYTE_ARRAY)
        fix_slices(&c);
    *sc = (pq_scratch){c.body, c.page, c.header, c.body_cap, c.page_cap, c.header_cap,
                       c.scratch, c.scratch_cap};
    fl_free(c.dict_page);
    fl_free(c.dict);
    if (rc)
        return rc;
    out->values = c.slot->values;
    out->valid = c.nulls ? c.slot->valid : NULL;
    return 0;
}
