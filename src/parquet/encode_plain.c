/* encode_plain.c — PLAIN encoding of the five physical types the writer supports: BOOLEAN
 * bit-packed LSB first, INT32/INT64/DOUBLE little-endian, BYTE_ARRAY as a 4-byte length and
 * the bytes. Used for data pages, the dictionary page and (without the length prefix)
 * statistics. */
#include "parquet/parquet_int.h"

static int encode_bool(fl_buf *out, const uint8_t *v, size_t count)
{
    size_t bytes = (count + 7) / 8;
    int rc = fl_buf_reserve(out, bytes);
    if (rc)
        return rc;
    unsigned char *p = (unsigned char *)out->data + out->len;
    memset(p, 0, bytes);
    for (size_t i = 0; i < count; i++)
        if (v[i])
            p[i >> 3] |= (unsigned char)(1u << (i & 7));
    out->len += bytes;
    out->data[out->len] = 0;
    return 0;
}

static int encode_byte_array(fl_buf *out, const fl_slice *v, size_t count)
{
    size_t total = 0;
    for (size_t i = 0; i < count; i++)
        total += 4 + v[i].len;
    int rc = fl_buf_reserve(out, total);
    if (rc)
        return rc;
    unsigned char *p = (unsigned char *)out->data + out->len;
    for (size_t i = 0; i < count; i++) {
        fl_put_u32(p, (uint32_t)v[i].len);
        if (v[i].len)
            memcpy(p + 4, v[i].ptr, v[i].len);
        p += 4 + v[i].len;
    }
    out->len += total;
    out->data[out->len] = 0;
    return 0;
}

/* The supported hosts are little-endian, so fixed-width values are copied as they are; the
 * static assertion keeps that assumption visible. */
_Static_assert(__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__, "PLAIN copy assumes little-endian");

int pq_plain_encode(fl_buf *out, int physical, const void *values, size_t count)
{
    switch (physical) {
    case FL_PQ_BOOLEAN:
        return encode_bool(out, values, count);
    case FL_PQ_INT32:
        return fl_buf_append(out, values, count * 4);
    case FL_PQ_INT64:
    case FL_PQ_DOUBLE:
        return fl_buf_append(out, values, count * 8);
    case FL_PQ_BYTE_ARRAY:
        return encode_byte_array(out, values, count);
    default:
        return FL_EINVAL;
    }
}
