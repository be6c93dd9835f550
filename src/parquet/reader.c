/* reader.c — fl_pq_reader: opens a Parquet file through a read-at-offset source, checks the
 * framing (PAR1 at both ends, a footer length that fits the file and footer_bytes_max),
 * parses and validates the footer (metadata_read.c: flat schema only, chunk types matching
 * the schema, row counts adding up), and answers schema, row group, statistics and
 * key-value questions from it. Decoding column chunks is reader_column.c's job. */
#include "parquet/reader_int.h"

/* Defaults for fl_pq_reader_limits, each far above anything fleetlake writes (its footers
 * are kilobytes, pages about 1 MiB, row groups 128 MiB) yet small enough that a hostile
 * file cannot make one call allocate more than about a gigabyte. */
#define FOOTER_BYTES_MAX_DEFAULT ((size_t)16 << 20)
#define PAGE_BYTES_MAX_DEFAULT ((size_t)256 << 20)
#define CHUNK_ROWS_MAX_DEFAULT ((size_t)64 << 20)
#define COLUMNS_MAX_DEFAULT 4096
#define CHUNK_BYTES_MAX_DEFAULT ((size_t)1 << 30)

static void set_limits(fl_pq_reader_limits *l, const fl_pq_reader_limits *in)
{
    if (in)
        *l = *in;
    if (!l->footer_bytes_max)
        l->footer_bytes_max = FOOTER_BYTES_MAX_DEFAULT;
    if (!l->page_bytes_max)
        l->page_bytes_max = PAGE_BYTES_MAX_DEFAULT;
    if (!l->column_chunk_rows_max)
        l->column_chunk_rows_max = CHUNK_ROWS_MAX_DEFAULT;
    if (!l->columns_max)
        l->columns_max = COLUMNS_MAX_DEFAULT;
    if (!l->column_chunk_bytes_max)
        l->column_chunk_bytes_max = CHUNK_BYTES_MAX_DEFAULT;
    if (l->page_bytes_max > INT32_MAX)
        l->page_bytes_max = INT32_MAX; /* page sizes are i32 on the wire */
}

static int read_footer(fl_pq_reader *r, size_t *len)
{
    unsigned char tail[8], head[4];
    if (r->file_size < 12)
        return FL_ECORRUPT;
    int rc = r->read(r->ctx, tail, 8, r->file_size - 8);
    if (!rc)
        rc = r->read(r->ctx, head, 4, 0);
    if (rc)
        return rc;
    if (memcmp(tail + 4, "PAR1", 4) || memcmp(head, "PAR1", 4))
        return memcmp(tail + 4, "PARE", 4) ? FL_ECORRUPT : FL_EUNSUPPORTED; /* encrypted */
    uint32_t n = fl_get_u32(tail);
    if (n == 0 || (uint64_t)n > r->file_size - 12)
        return FL_ECORRUPT;
    if (n > r->limits.footer_bytes_max)
        return FL_ELIMIT;
    r->footer = fl_malloc(n);
    if (!r->footer)
        return FL_ENOMEM;
    *len = n;
    r->data_end = r->file_size - 8 - n;
    return r->read(r->ctx, r->footer, n, r->data_end);
}

static int check_meta(const pq_file_meta *m)
{
    int64_t rows = 0;
    for (int g = 0; g < m->row_group_count; g++) {
        const pq_row_group *rg = &m->row_groups[g];
        if (rg->num_rows < 0 || rg->num_rows > INT64_MAX - rows)
            return FL_ECORRUPT;
        rows += rg->num_rows;
        for (size_t c = 0; c < m->column_count; c++)
            if (rg->chunks[c].type != (int)m->columns[c].physical)
                return FL_ECORRUPT;
    }
    return rows == m->num_rows ? 0 : FL_ECORRUPT;
}

int fl_pq_reader_open(fl_pq_source_read_fn read, void *ctx, uint64_t file_size,
                      const fl_pq_reader_limits *limits, fl_pq_reader **out)
{
    *out = NULL;
    if (!read)
        return FL_EINVAL;
    fl_pq_reader *r = fl_calloc(1, sizeof *r);
    if (!r)
        return FL_ENOMEM;
    r->read = read;
    r->ctx = ctx;
    r->file_size = file_size;
    set_limits(&r->limits, limits);
    size_t len = 0;
    int rc = read_footer(r, &len);
    if (!rc)
        rc = pq_meta_read(r->footer, len, r->limits.columns_max, &r->meta);
    if (!rc)
        rc = check_meta(&r->meta);
    if (!rc && !(r->slots = fl_calloc(r->meta.column_count, sizeof *r->slots)))
        rc = FL_ENOMEM;
    if (rc) {
        fl_pq_reader_destroy(r);
        return rc;
    }
    *out = r;
    return 0;
}

void fl_pq_reader_destroy(fl_pq_reader *r)
{
    if (!r)
        return;
    for (size_t c = 0; r->slots && c < r->meta.column_count; c++) {
        fl_free(r->slots[c].values);
        fl_free(r->slots[c].valid);
        fl_buf_free(&r->slots[c].arena);
    }
    fl_free(r->slots);
    fl_free(r->scratch.body);
    fl_free(r->scratch.page);
    fl_free(r->scratch.header);
    fl_free(r->scratch.levels);
    pq_meta_free(&r->meta);
    fl_free(r->footer);
    fl_free(r);
}

void fl_pq_reader_take_buffers(fl_pq_reader *to, fl_pq_reader *from)
{
    if (!to || !from || to == from)
        return;
    size_t n = to->meta.column_count < from->meta.column_count ? to->meta.column_count
                                                                : from->meta.column_count;
    for (size_t c = 0; c < n; c++) { /* swap: `to`'s slots are empty, so `from`'s become so */
        pq_slot t = to->slots[c];
        to->slots[c] = from->slots[c];
        from->slots[c] = t;
    }
    pq_scratch t = to->scratch;
    to->scratch = from->scratch;
    from->scratch = t;
}

int64_t fl_pq_reader_rows(const fl_pq_reader *r)
{
    return r->meta.num_rows;
}

size_t fl_pq_reader_column_count(const fl_pq_reader *r)
{
    return r->meta.column_count;
}

const fl_pq_column_def *fl_pq_reader_column(const fl_pq_reader *r, size_t i)
{
    return i < r->meta.column_count ? &r->meta.columns[i] : NULL;
}

int fl_pq_reader_column_index(const fl_pq_reader *r, const char *name)
{
    for (size_t i = 0; name && i < r->meta.column_count; i++)
        if (!strcmp(r->meta.columns[i].name, name))
            return (int)i;
    return -1;
}

int fl_pq_reader_row_group_count(const fl_pq_reader *r)
{
    return r->meta.row_group_count;
}

int64_t fl_pq_reader_row_group_rows(const fl_pq_reader *r, int row_group)
{
    if (row_group < 0 || row_group >= r->meta.row_group_count)
        return -1;
    return r->meta.row_groups[row_group].num_rows;
}

int fl_pq_reader_stats(const fl_pq_reader *r, int row_group, size_t column, fl_pq_stats *out)
{
    if (row_group < 0 || row_group >= r->meta.row_group_count || column >= r->meta.column_count)
        return FL_EINVAL;
    const pq_chunk_meta *k = &r->meta.row_groups[row_group].chunks[column];
    int physical = r->meta.columns[column].physical;
    pq_stats_raw raw = k->stats;
    if (physical == FL_PQ_BYTE_ARRAY && raw.has_min == 2)
        raw.has_min = raw.has_max = 0; /* deprecated signed-order min/max: not trusted */
    pq_stats_from_raw(physical, &raw, out);
    return 0;
}

const char *fl_pq_reader_kv(const fl_pq_reader *r, const char *key)
{
    for (size_t i = 0; key && i < r->meta.kv_count; i++)
        if (!strcmp(r->meta.kv[i].key, key))
            return r->meta.kv[i].value;
    return NULL;
}

size_t fl_pq_reader_kv_count(const fl_pq_reader *r)
{
    return r->meta.kv_count;
}

const fl_pq_kv *fl_pq_reader_kv_at(const fl_pq_reader *r, size_t i)
{
    return i < r->meta.kv_count ? &r->meta.kv[i] : NULL;
}

const char *fl_pq_reader_created_by(const fl_pq_reader *r)
{
    return r->meta.created_by ? r->meta.created_by : "";
}

int fl_pq_reader_read_column(fl_pq_reader *r, int row_group, size_t column,
                             fl_pq_column_values *out)
{
    if (row_group < 0 || row_group >= r->meta.row_group_count || column >= r->meta.column_count ||
        !out)
        return FL_EINVAL;
    return pq_read_column_chunk(r, row_group, column, out);
}
