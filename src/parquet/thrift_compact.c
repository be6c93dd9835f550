/* thrift_compact.c — the Thrift compact protocol, as Parquet uses it for its footer and page
 * headers. The encoder appends to an fl_buf; the decoder reads a bounded byte range that may
 * be hostile: every varint is at most 10 bytes, every length and list size is checked against
 * the bytes left, struct nesting is bounded by TC_DEPTH_MAX, and fields of any type can be
 * skipped so footers from newer writers (unknown fields, unions, maps) still parse. Both sides
 * carry a sticky error: the first failure is kept and later calls do nothing. */
#include <string.h>

#include "parquet/parquet_int.h"

/* ---- encoder ------------------------------------------------------------------------------ */

void tc_enc_init(tc_enc *e, fl_buf *out)
{
    memset(e, 0, sizeof *e);
    e->out = out;
}

static void put(tc_enc *e, const void *p, size_t n)
{
    if (!e->err)
        e->err = fl_buf_append(e->out, p, n);
}

static void put_uvarint(tc_enc *e, uint64_t v)
{
    unsigned char b[10];
    size_t n = 0;
    while (v >= 0x80) {
        b[n++] = (unsigned char)(v | 0x80);
        v >>= 7;
    }
    b[n++] = (unsigned char)v;
    put(e, b, n);
}

static uint64_t zigzag(int64_t v)
{
    return ((uint64_t)v << 1) ^ (uint64_t)(v >> 63);
}

void tc_field(tc_enc *e, int16_t id, enum tc_type type)
{
    int16_t last = e->last_id[e->depth];
    int delta = id - last;
    if (delta > 0 && delta <= 15) {
        unsigned char b = (unsigned char)((delta << 4) | type);
        put(e, &b, 1);
    } else {
        unsigned char b = (unsigned char)type;
        put(e, &b, 1);
        put_uvarint(e, zigzag(id));
    }
    e->last_id[e->depth] = id;
}

void tc_write_i8(tc_enc *e, int8_t v)
{
    unsigned char b = (unsigned char)v;
    put(e, &b, 1);
}

void tc_write_i32(tc_enc *e, int32_t v)
{
    put_uvarint(e, zigzag(v));
}

void tc_write_i64(tc_enc *e, int64_t v)
{
    put_uvarint(e, zigzag(v));
}

void tc_write_binary(tc_enc *e, const void *p, size_t n)
{
    put_uvarint(e, n);
    if (n)
        put(e, p, n);
}

void tc_write_double(tc_enc *e, double v)
{
    uint64_t bits;
    unsigned char b[8];
    memcpy(&bits, &v, 8);
    fl_put_u64(b, bits);
    put(e, b, 8);
}

void tc_write_bool(tc_enc *e, int v)
{
    tc_write_i8(e, v ? 1 : 0);
}

void tc_field_i32(tc_enc *e, int16_t id, int32_t v)
{
    tc_field(e, id, TC_I32);
    tc_write_i32(e, v);
}

void tc_field_i64(tc_enc *e, int16_t id, int64_t v)
{
    tc_field(e, id, TC_I64);
    tc_write_i64(e, v);
}

void tc_field_bool(tc_enc *e, int16_t id, int v)
{
    tc_field(e, id, v ? TC_TRUE : TC_FALSE);
}

void tc_field_binary(tc_enc *e, int16_t id, const void *p, size_t n)
{
    tc_field(e, id, TC_BINARY);
    tc_write_binary(e, p, n);
}

void tc_field_double(tc_enc *e, int16_t id, double v)
{
    tc_field(e, id, TC_DOUBLE);
    tc_write_double(e, v);
}

void tc_struct_begin(tc_enc *e)
{
    if (e->depth >= TC_DEPTH_MAX) {
        if (!e->err)
            e->err = FL_ELIMIT;
        return;
    }
    e->depth++;
    e->last_id[e->depth] = 0;
}

void tc_field_struct(tc_enc *e, int16_t id)
{
    tc_field(e, id, TC_STRUCT);
    tc_struct_begin(e);
}

void tc_struct_end(tc_enc *e)
{
    unsigned char stop = TC_STOP;
    put(e, &stop, 1);
    if (e->depth > 0)
        e->depth--;
}

void tc_list_begin(tc_enc *e, enum tc_type elem, size_t count)
{
    if (count < 15) {
        unsigned char b = (unsigned char)((count << 4) | elem);
        put(e, &b, 1);
    } else {
        unsigned char b = (unsigned char)(0xF0 | elem);
        put(e, &b, 1);
        put_uvarint(e, count);
    }
}

/* ---- decoder ------------------------------------------------------------------------------ */

void tc_dec_init(tc_dec *d, const void *p, size_t n)
{
    memset(d, 0, sizeof *d);
    d->p = p;
    d->end = d->p + n;
    d->list_max = SIZE_MAX;
}

static void fail(tc_dec *d, int code)
{
    if (!d->err)
        d->err = code;
    d->p = d->end;
}

/* Running off the end of the input is reported as FL_ETRUNCATED so a page-header reader can
 * fetch more bytes; the footer reader maps it to FL_ECORRUPT. */
static uint64_t get_uvarint(tc_dec *d)
{
    uint64_t v = 0;
    for (int shift = 0; shift < 70; shift += 7) {
        if (d->err)
            return 0;
        if (d->p >= d->end) {
            fail(d, FL_ETRUNCATED);
            return 0;
        }
        unsigned char b = *d->p++;
        if (shift == 63 && (b & 0x7e)) {
            fail(d, FL_ECORRUPT); /* more than 64 bits */
            return 0;
        }
        v |= (uint64_t)(b & 0x7f) << shift;
        if (!(b & 0x80))
            return v;
    }
    fail(d, FL_ECORRUPT);
    return 0;
}

static int64_t unzigzag(uint64_t v)
{
    return (int64_t)(v >> 1) ^ -(int64_t)(v & 1);
}

static int get_byte(tc_dec *d)
{
    if (d->err)
        return 0;
    if (d->p >= d->end) {
        fail(d, FL_ETRUNCATED);
        return 0;
    }
    return *d->p++;
}

int tc_next_field(tc_dec *d, int16_t *id, enum tc_type *type)
{
    int b = get_byte(d);
    if (d->err || b == TC_STOP)
        return 0;
    int t = b & 0x0f, delta = b >> 4;
    int64_t fid;
    if (delta)
        fid = (int64_t)d->last_id[d->depth] + delta;
    else
        fid = unzigzag(get_uvarint(d));
    if (d->err)
        return 0;
    if (t > TC_STRUCT || fid < INT16_MIN || fid > INT16_MAX) {
        fail(d, FL_ECORRUPT);
        return 0;
    }
    d->last_id[d->depth] = (int16_t)fid;
    *id = (int16_t)fid;
    *type = (enum tc_type)t;
    return 1;
}

void tc_struct_enter(tc_dec *d)
{
    if (d->err)
        return;
    if (d->depth >= TC_DEPTH_MAX) {
        fail(d, FL_ELIMIT);
        return;
    }
    d->depth++;
    d->last_id[d->depth] = 0;
}

void tc_struct_leave(tc_dec *d)
{
    if (d->depth > 0)
        d->depth--;
}

size_t tc_list(tc_dec *d, enum tc_type *elem)
{
    int b = get_byte(d);
    uint64_t n = (unsigned)b >> 4;
    *elem = (enum tc_type)(b & 0x0f);
    if (n == 15)
        n = get_uvarint(d);
    if (d->err)
        return 0;
    if (*elem == TC_STOP || *elem > TC_STRUCT) {
        fail(d, FL_ECORRUPT);
        return 0;
    }
    /* Every element takes at least one byte on the wire (a bool element takes one, an empty
     * struct its stop byte), so a count past the bytes left is corrupt or truncated. */
    if (n > (uint64_t)(d->end - d->p)) {
        fail(d, FL_ETRUNCATED);
        return 0;
    }
    if (n > d->list_max) {
        fail(d, FL_ELIMIT);
        return 0;
    }
    return (size_t)n;
}

int64_t tc_read_i64(tc_dec *d)
{
    return unzigzag(get_uvarint(d));
}

int32_t tc_read_i32(tc_dec *d)
{
    int64_t v = tc_read_i64(d);
    if (v < INT32_MIN || v > INT32_MAX) {
        fail(d, FL_ECORRUPT);
        return 0;
    }
    return (int32_t)v;
}

int64_t tc_read_int_field(tc_dec *d, enum tc_type type)
{
    switch (type) {
    case TC_BYTE:
        return (int8_t)get_byte(d);
    case TC_I16:
    case TC_I32:
    case TC_I64:
        return tc_read_i64(d);
    default:
        fail(d, FL_ECORRUPT);
        return 0;
    }
}

int tc_read_bool(tc_dec *d, enum tc_type type)
{
    if (type == TC_TRUE)
        return 1;
    if (type == TC_FALSE)
        return 0;
    fail(d, FL_ECORRUPT);
    return 0;
}

double tc_read_double(tc_dec *d)
{
    if (d->err)
        return 0;
    if (d->end - d->p < 8) {
        fail(d, FL_ETRUNCATED);
        return 0;
    }
    uint64_t bits = fl_get_u64(d->p);
    d->p += 8;
    double v;
    memcpy(&v, &bits, 8);
    return v;
}

fl_slice tc_read_binary(tc_dec *d)
{
    uint64_t n = get_uvarint(d);
    if (d->err)
        return (fl_slice){"", 0};
    if (n > (uint64_t)(d->end - d->p)) {
        fail(d, FL_ETRUNCATED);
        return (fl_slice){"", 0};
    }
    fl_slice s = {(const char *)d->p, (size_t)n};
    d->p += n;
    return s;
}

static void skip_struct(tc_dec *d)
{
    int16_t id;
    enum tc_type t;
    tc_struct_enter(d);
    while (tc_next_field(d, &id, &t))
        tc_skip(d, t);
    tc_struct_leave(d);
}

static void skip_element(tc_dec *d, enum tc_type t)
{
    if (t == TC_TRUE || t == TC_FALSE)
        (void)get_byte(d); /* list/map element bools take one byte */
    else
        tc_skip(d, t);
}

static void skip_map(tc_dec *d)
{
    uint64_t n = get_uvarint(d);
    if (d->err || n == 0)
        return;
    int kv = get_byte(d);
    if (n > (uint64_t)(d->end - d->p)) {
        fail(d, FL_ETRUNCATED);
        return;
    }
    enum tc_type kt = (enum tc_type)(kv >> 4), vt = (enum tc_type)(kv & 0x0f);
    if (kt == TC_STOP || kt > TC_STRUCT || vt == TC_STOP || vt > TC_STRUCT) {
        fail(d, FL_ECORRUPT);
        return;
    }
    for (uint64_t i = 0; i < n && !d->err; i++) {
        skip_element(d, kt);
        skip_element(d, vt);
    }
}

void tc_skip(tc_dec *d, enum tc_type type)
{
    if (d->err)
        return;
    switch (type) {
    case TC_TRUE:
    case TC_FALSE:
        return; /* a bool field's value is in its header */
    case TC_BYTE:
        (void)get_byte(d);
        return;
    case TC_I16:
    case TC_I32:
    case TC_I64:
        (void)get_uvarint(d);
        return;
    case TC_DOUBLE:
        (void)tc_read_double(d);
        return;
    case TC_BINARY:
        (void)tc_read_binary(d);
        return;
    case TC_LIST:
    case TC_SET: {
        enum tc_type elem;
        size_t n = tc_list(d, &elem);
        if (d->depth >= TC_DEPTH_MAX) {
            fail(d, FL_ELIMIT);
            return;
        }
        d->depth++; /* lists of lists recurse too */
        d->last_id[d->depth] = 0;
        for (size_t i = 0; i < n && !d->err; i++)
            skip_element(d, elem);
        d->depth--;
        return;
    }
    case TC_MAP:
        if (d->depth >= TC_DEPTH_MAX) {
            fail(d, FL_ELIMIT);
            return;
        }
        d->depth++;
        d->last_id[d->depth] = 0;
        skip_map(d);
        d->depth--;
        return;
    case TC_STRUCT:
        skip_struct(d);
        return;
    default:
        fail(d, FL_ECORRUPT);
    }
}
