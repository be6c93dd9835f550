/* metadata_read.c — parses a (possibly hostile) footer and page headers from the Thrift
 * compact protocol into the module's footer model. Only what the reader needs is kept; every
 * other field, including ones added by newer writers, is skipped. The schema must be flat: a
 * root group whose children are all REQUIRED or OPTIONAL leaves of a supported physical type
 * (BOOLEAN, INT32, INT64, DOUBLE, BYTE_ARRAY); anything else is FL_EUNSUPPORTED. Logical
 * types map to fl_pq_logical where one fits (any TIMESTAMP in microseconds, signed INTEGER
 * widths, STRING/UTF8) and to FL_PQ_LOGICAL_NONE otherwise. */
#include "parquet/parquet_int.h"

typedef struct schema_elem {
    int type; /* -1 = group */
    int repetition; /* -1 = absent */
    fl_slice name;
    int32_t num_children;
    int converted;
    enum fl_pq_logical logical;
    int has_logical;
} schema_elem;

static enum fl_pq_logical read_int_type(tc_dec *d)
{
    int16_t id;
    enum tc_type t;
    int64_t bits = 0;
    int is_signed = 0;
    tc_struct_enter(d);
    while (tc_next_field(d, &id, &t)) {
        if (id == 1)
            bits = tc_read_int_field(d, t);
        else if (id == 2)
            is_signed = tc_read_bool(d, t);
        else
            tc_skip(d, t);
    }
    tc_struct_leave(d);
    if (!is_signed)
        return FL_PQ_LOGICAL_NONE;
    return bits == 8    ? FL_PQ_LOGICAL_INT8
           : bits == 16 ? FL_PQ_LOGICAL_INT16
           : bits == 32 ? FL_PQ_LOGICAL_INT32
           : bits == 64 ? FL_PQ_LOGICAL_INT64
                        : FL_PQ_LOGICAL_NONE;
}

/* TimestampType: 1 isAdjustedToUTC, 2 unit (union: 1 MILLIS, 2 MICROS, 3 NANOS). */
static enum fl_pq_logical read_timestamp_type(tc_dec *d)
{
    int16_t id, uid;
    enum tc_type t, ut;
    int micros = 0;
    tc_struct_enter(d);
    while (tc_next_field(d, &id, &t)) {
        if (id == 2 && t == TC_STRUCT) {
            tc_struct_enter(d);
            while (tc_next_field(d, &uid, &ut)) {
                micros = uid == 2;
                tc_skip(d, ut);
            }
            tc_struct_leave(d);
        } else {
            tc_skip(d, t);
        }
    }
    tc_struct_leave(d);
    return micros ? FL_PQ_LOGICAL_TIMESTAMP_MICROS : FL_PQ_LOGICAL_NONE;
}

static void read_logical(tc_dec *d, schema_elem *s)
{
    int16_t id;
    enum tc_type t;
    tc_struct_enter(d);
    while (tc_next_field(d, &id, &t)) {
        s->has_logical = 1;
        if (id == 1 && t == TC_STRUCT) {
            s->logical = FL_PQ_LOGICAL_STRING;
            tc_skip(d, t);
        } else if (id == 8 && t == TC_STRUCT) {
            s->logical = read_timestamp_type(d);
        } else if (id == 10 && t == TC_STRUCT) {
            s->logical = read_int_type(d);
        } else {
            s->logical = FL_PQ_LOGICAL_NONE;
            tc_skip(d, t);
        }
    }
    tc_struct_leave(d);
}

static void read_schema_elem(tc_dec *d, schema_elem *s)
{
    int16_t id;
    enum tc_type t;
    memset(s, 0, sizeof *s);
    s->type = s->repetition = s->converted = -1;
    tc_struct_enter(d);
    while (tc_next_field(d, &id, &t)) {
        switch (id) {
        case 1: s->type = (int)tc_read_int_field(d, t); break;
        case 3: s->repetition = (int)tc_read_int_field(d, t); break;
        case 4: s->name = t == TC_BINARY ? tc_read_binary(d) : (tc_skip(d, t), s->name); break;
        case 5: s->num_children = (int32_t)tc_read_int_field(d, t); break;
        case 6: s->converted = (int)tc_read_int_field(d, t); break;
        case 10:
            if (t == TC_STRUCT)
                read_logical(d, s);
            else
                tc_skip(d, t);
            break;
        default: tc_skip(d, t);
        }
    }
    tc_struct_leave(d);
}

static enum fl_pq_logical logical_from_converted(int converted)
{
    switch (converted) {
    case 0: return FL_PQ_LOGICAL_STRING;
    case 10: return FL_PQ_LOGICAL_TIMESTAMP_MICROS;
    case 15: return FL_PQ_LOGICAL_INT8;
    case 16: return FL_PQ_LOGICAL_INT16;
    case 17: return FL_PQ_LOGICAL_INT32;
    case 18: return FL_PQ_LOGICAL_INT64;
    default: return FL_PQ_LOGICAL_NONE;
    }
}

/* Keep a logical type only on the physical type it is defined for. */
static enum fl_pq_logical check_logical(enum fl_pq_logical l, int type)
{
    switch (l) {
    case FL_PQ_LOGICAL_STRING: return type == FL_PQ_BYTE_ARRAY ? l : FL_PQ_LOGICAL_NONE;
    case FL_PQ_LOGICAL_TIMESTAMP_MICROS:
    case FL_PQ_LOGICAL_INT64: return type == FL_PQ_INT64 ? l : FL_PQ_LOGICAL_NONE;
    case FL_PQ_LOGICAL_INT8:
    case FL_PQ_LOGICAL_INT16:
    case FL_PQ_LOGICAL_INT32: return type == FL_PQ_INT32 ? l : FL_PQ_LOGICAL_NONE;
    default: return FL_PQ_LOGICAL_NONE;
    }
}

static int leaf_column(const schema_elem *s, fl_pq_column_def *c)
{
    if (s->num_children > 0 || s->type < 0)
        return FL_EUNSUPPORTED; /* nested group */
    if (!s->name.ptr)
        return FL_ECORRUPT; /* name is required */
    if (s->repetition != 0 && s->repetition != 1)
        return s->repetition == -1 ? FL_ECORRUPT : FL_EUNSUPPORTED;
    if (s->type != FL_PQ_BOOLEAN && s->type != FL_PQ_INT32 && s->type != FL_PQ_INT64 &&
        s->type != FL_PQ_DOUBLE && s->type != FL_PQ_BYTE_ARRAY)
        return s->type >= 0 && s->type <= 7 ? FL_EUNSUPPORTED : FL_ECORRUPT;
    char *name = fl_strndup(s->name.ptr, s->name.len);
    if (!name)
        return FL_ENOMEM;
    c->name = name;
    c->physical = (enum fl_pq_physical)s->type;
    c->optional = s->repetition == 1;
    enum fl_pq_logical l = s->has_logical ? s->logical : logical_from_converted(s->converted);
    c->logical = check_logical(l, s->type);
    return 0;
}

static int read_schema(tc_dec *d, pq_file_meta *m, size_t columns_max)
{
    enum tc_type elem;
    size_t n = tc_list(d, &elem);
    if (d->err)
        return d->err;
    if (elem != TC_STRUCT || n == 0)
        return FL_ECORRUPT;
    if (n - 1 > columns_max)
        return FL_ELIMIT;
    schema_elem root, s;
    read_schema_elem(d, &root);
    if (d->err)
        return d->err;
    if (root.num_children < 0 || (size_t)root.num_children != n - 1)
        return root.num_children > 0 && (size_t)root.num_children < n - 1 ? FL_EUNSUPPORTED
                                                                           : FL_ECORRUPT;
    m->columns = fl_calloc(n, sizeof *m->columns);
    if (!m->columns)
        return FL_ENOMEM;
    for (size_t i = 0; i + 1 < n; i++) {
        read_schema_elem(d, &s);
        if (d->err)
            return d->err;
        int rc = leaf_column(&s, &m->columns[i]);
        if (rc)
            return rc;
        m->column_count = i + 1;
    }
    return 0;
}

static void read_stats(tc_dec *d, pq_stats_raw *s)
{
    int16_t id;
    enum tc_type t;
    fl_slice legacy_min = {0}, legacy_max = {0};
    int has_lmin = 0, has_lmax = 0;
    tc_struct_enter(d);
    while (tc_next_field(d, &id, &t)) {
        if (t == TC_BINARY && (id == 1 || id == 2 || id == 5 || id == 6)) {
            fl_slice v = tc_read_binary(d);
            if (id == 1)
                legacy_max = v, has_lmax = 1;
            else if (id == 2)
                legacy_min = v, has_lmin = 1;
            else if (id == 5)
                s->max = v, s->has_max = 1;
            else
                s->min = v, s->has_min = 1;
        } else if (id == 3) {
            s->null_count = tc_read_int_field(d, t);
        } else if (id == 9) {
            s->nan_count = tc_read_int_field(d, t);
        } else {
            tc_skip(d, t);
        }
    }
    tc_struct_leave(d);
    /* The deprecated fields are signed-order: usable only when the new ones are absent; the
     * caller discards them for BYTE_ARRAY, where signed and unsigned orders differ. */
    if (!s->has_min && !s->has_max && has_lmin && has_lmax) {
        s->min = legacy_min;
        s->max = legacy_max;
        s->has_min = s->has_max = 2;
    }
}

static void read_encodings(tc_dec *d, pq_chunk_meta *k)
{
    enum tc_type elem;
    size_t n = tc_list(d, &elem);
    for (size_t i = 0; i < n && !d->err; i++) {
        int64_t enc = tc_read_int_field(d, elem);
        if (enc >= 0 && enc < 32)
            k->encodings |= 1u << enc;
    }
}

static void read_column_meta(tc_dec *d, pq_chunk_meta *k)
{
    int16_t id;
    enum tc_type t;
    tc_struct_enter(d);
    while (tc_next_field(d, &id, &t)) {
        switch (id) {
        case 1: k->type = (int)tc_read_int_field(d, t); break;
        case 2: if (t == TC_LIST) read_encodings(d, k); else tc_skip(d, t); break;
        case 4: k->codec = (int)tc_read_int_field(d, t); break;
        case 5: k->num_values = tc_read_int_field(d, t); break;
        case 6: k->total_uncompressed_size = tc_read_int_field(d, t); break;
        case 7: k->total_compressed_size = tc_read_int_field(d, t); break;
        case 9: k->data_page_offset = tc_read_int_field(d, t); break;
        case 11: k->dictionary_page_offset = tc_read_int_field(d, t); break;
        case 12: if (t == TC_STRUCT) read_stats(d, &k->stats); else tc_skip(d, t); break;
        default: tc_skip(d, t);
        }
    }
    tc_struct_leave(d);
}

static int read_chunk(tc_dec *d, pq_chunk_meta *k)
{
    int16_t id;
    enum tc_type t;
    int has_meta = 0;
    memset(k, 0, sizeof *k);
    k->type = -1;
    k->data_page_offset = k->dictionary_page_offset = -1;
    k->stats.null_count = k->stats.nan_count = -1;
    tc_struct_enter(d);
    while (tc_next_field(d, &id, &t)) {
        if (id == 3 && t == TC_STRUCT) {
            read_column_meta(d, k);
            has_meta = 1;
        } else if (id == 8 || id == 9) {
            tc_skip(d, t);
            if (!d->err)
                d->err = FL_EUNSUPPORTED; /* encrypted column */
        } else {
            tc_skip(d, t);
        }
    }
    tc_struct_leave(d);
    return d->err ? d->err : has_meta ? 0 : FL_ECORRUPT;
}

static int read_chunks(tc_dec *d, const pq_file_meta *m, pq_row_group *rg)
{
    enum tc_type elem;
    size_t n = tc_list(d, &elem);
    if (d->err)
        return d->err;
    if (elem != TC_STRUCT || n != m->column_count || rg->chunks)
        return FL_ECORRUPT;
    rg->chunks = fl_calloc(n ? n : 1, sizeof *rg->chunks);
    if (!rg->chunks)
        return FL_ENOMEM;
    for (size_t i = 0; i < n; i++) {
        int rc = read_chunk(d, &rg->chunks[i]);
        if (rc)
            return rc;
    }
    return 0;
}

static int read_row_group(tc_dec *d, const pq_file_meta *m, pq_row_group *rg)
{
    int16_t id;
    enum tc_type t;
    int rc = 0;
    rg->num_rows = -1;
    tc_struct_enter(d);
    while (!rc && tc_next_field(d, &id, &t)) {
        if (id == 1 && t == TC_LIST)
            rc = read_chunks(d, m, rg);
        else if (id == 2)
            rg->total_byte_size = tc_read_int_field(d, t);
        else if (id == 3)
            rg->num_rows = tc_read_int_field(d, t);
        else
            tc_skip(d, t);
    }
    tc_struct_leave(d);
    if (rc || d->err)
        return rc ? rc : d->err;
    return rg->chunks && rg->num_rows >= 0 ? 0 : FL_ECORRUPT;
}

static int read_row_groups(tc_dec *d, pq_file_meta *m)
{
    enum tc_type elem;
    size_t n = tc_list(d, &elem);
    if (d->err)
        return d->err;
    if (elem != TC_STRUCT || n > INT32_MAX || !m->columns || m->row_groups)
        return FL_ECORRUPT; /* the schema (field 2) comes before the row groups (field 4) */
    m->row_groups = fl_calloc(n ? n : 1, sizeof *m->row_groups);
    if (!m->row_groups)
        return FL_ENOMEM;
    for (size_t g = 0; g < n; g++) {
        m->row_group_count = (int)g + 1;
        int rc = read_row_group(d, m, &m->row_groups[g]);
        if (rc)
            return rc;
    }
    return 0;
}

static int read_kvs(tc_dec *d, pq_file_meta *m)
{
    enum tc_type elem;
    size_t n = tc_list(d, &elem);
    if (d->err)
        return d->err;
    if (elem != TC_STRUCT || m->kv)
        return FL_ECORRUPT;
    m->kv = fl_calloc(n ? n : 1, sizeof *m->kv);
    if (!m->kv)
        return FL_ENOMEM;
    for (size_t i = 0; i < n && !d->err; i++) {
        int16_t id;
        enum tc_type t;
        fl_slice key = {"", 0}, value = {"", 0};
        tc_struct_enter(d);
        while (tc_next_field(d, &id, &t)) {
            if (id == 1 && t == TC_BINARY)
                key = tc_read_binary(d);
            else if (id == 2 && t == TC_BINARY)
                value = tc_read_binary(d);
            else
                tc_skip(d, t);
        }
        tc_struct_leave(d);
        m->kv[i].key = fl_strndup(key.ptr, key.len);
        m->kv[i].value = fl_strndup(value.ptr, value.len);
        m->kv_count = i + 1;
        if (!m->kv[i].key || !m->kv[i].value)
            return FL_ENOMEM;
    }
    return d->err;
}

static int read_field(tc_dec *d, pq_file_meta *m, int16_t id, enum tc_type t, size_t cols_max,
                      int *seen)
{
    switch (id) {
    case 1: m->version = (int32_t)tc_read_int_field(d, t); return 0;
    case 2:
        if (t != TC_LIST || m->columns)
            return FL_ECORRUPT;
        *seen |= 1;
        return read_schema(d, m, cols_max);
    case 3: m->num_rows = tc_read_int_field(d, t); *seen |= 2; return 0;
    case 4:
        if (t != TC_LIST)
            return FL_ECORRUPT;
        *seen |= 4;
        return read_row_groups(d, m);
    case 5: return t == TC_LIST ? read_kvs(d, m) : FL_ECORRUPT;
    case 6: {
        fl_slice s = t == TC_BINARY ? tc_read_binary(d) : (fl_slice){"", 0};
        if (t != TC_BINARY)
            return FL_ECORRUPT;
        fl_free(m->created_by);
        m->created_by = fl_strndup(s.ptr, s.len);
        return m->created_by ? 0 : FL_ENOMEM;
    }
    default: tc_skip(d, t); return 0;
    }
}

int pq_meta_read(const void *footer, size_t n, size_t columns_max, pq_file_meta *m)
{
    tc_dec d;
    int16_t id;
    enum tc_type t;
    int rc = 0, seen = 0;
    memset(m, 0, sizeof *m);
    tc_dec_init(&d, footer, n);
    tc_struct_enter(&d);
    while (!rc && tc_next_field(&d, &id, &t))
        rc = read_field(&d, m, id, t, columns_max, &seen);
    if (!rc)
        rc = d.err;
    if (rc == FL_ETRUNCATED)
        rc = FL_ECORRUPT;
    if (!rc && seen != 7)
        rc = FL_ECORRUPT; /* schema, num_rows and row_groups are required */
    return rc;
}

void pq_meta_free(pq_file_meta *m)
{
    if (!m)
        return;
    for (size_t i = 0; m->columns && i < m->column_count; i++)
        fl_free((char *)m->columns[i].name);
    fl_free(m->columns);
    for (int g = 0; m->row_groups && g < m->row_group_count; g++)
        fl_free(m->row_groups[g].chunks);
    fl_free(m->row_groups);
    for (size_t i = 0; m->kv && i < m->kv_count; i++) {
        fl_free((char *)m->kv[i].key);
        fl_free((char *)m->kv[i].value);
    }
    fl_free(m->kv);
    fl_free(m->created_by);
    memset(m, 0, sizeof *m);
}

static void read_data_header(tc_dec *d, pq_page_header *h, int v2)
{
    int16_t id;
    enum tc_type t;
    tc_struct_enter(d);
    while (tc_next_field(d, &id, &t)) {
        if (t == TC_STRUCT || t == TC_LIST || t == TC_BINARY || t == TC_MAP || t == TC_SET) {
            tc_skip(d, t); /* statistics and future fields */
            continue;
        }
        if (t == TC_TRUE || t == TC_FALSE) {
            if (v2 && id == 7)
                h->is_compressed = t == TC_TRUE;
            continue;
        }
        int64_t v = tc_read_int_field(d, t);
        if (v < INT32_MIN || v > INT32_MAX)
            v = -1;
        int32_t x = (int32_t)v;
        if (id == 1)
            h->num_values = x;
        else if (!v2 && id == 2)
            h->encoding = x;
        else if (!v2 && id == 3)
            h->def_encoding = x;
        else if (v2 && id == 2)
            h->num_nulls = x;
        else if (v2 && id == 3)
            h->num_rows = x;
        else if (v2 && id == 4)
            h->encoding = x;
        else if (v2 && id == 5)
            h->def_bytes = x;
        else if (v2 && id == 6)
            h->rep_bytes = x;
    }
    tc_struct_leave(d);
}

int pq_page_header_read(const void *p, size_t n, pq_page_header *h, size_t *used)
{
    tc_dec d;
    int16_t id;
    enum tc_type t;
    memset(h, 0, sizeof *h);
    h->type = h->uncompressed_size = h->compressed_size = -1;
    h->is_compressed = 1;
    h->def_encoding = PQ_ENC_RLE;
    tc_dec_init(&d, p, n);
    tc_struct_enter(&d);
    while (tc_next_field(&d, &id, &t)) {
        if (id >= 1 && id <= 3) {
            int64_t v = tc_read_int_field(&d, t);
            int32_t x = v < INT32_MIN || v > INT32_MAX ? -1 : (int32_t)v;
            if (id == 1)
                h->type = x;
            else if (id == 2)
                h->uncompressed_size = x;
            else
                h->compressed_size = x;
        } else if (t == TC_STRUCT && (id == 5 || id == 7 || id == 8)) {
            int mine = (id == 5 && h->type == PQ_PAGE_DATA) ||
                       (id == 7 && h->type == PQ_PAGE_DICTIONARY) ||
                       (id == 8 && h->type == PQ_PAGE_DATA_V2);
            h->has_data_header |= mine;
            read_data_header(&d, h, id == 8);
        } else {
            tc_skip(&d, t);
        }
    }
    if (d.err)
        return d.err;
    if (h->type < 0 || h->uncompressed_size < 0 || h->compressed_size < 0)
        return FL_ECORRUPT;
    *used = (size_t)(d.p - (const unsigned char *)p);
    return 0;
}
