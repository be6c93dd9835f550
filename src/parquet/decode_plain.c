/* decode_plain.c — PLAIN and BYTE_STREAM_SPLIT decoding for the reader. Fixed-width values
 * are copied out; BYTE_ARRAY values become slices into the (decompressed) page, each length
 * checked against the bytes left. */
#include "parquet/parquet_int.h"

static int decode_byte_array(const unsigned char *p, size_t n, fl_slice *out, size_t count,
                             size_t *used)
{
    size_t off = 0;
    for (size_t i = 0; i < count; i++) {
        if (n - off < 4)
            return FL_ECORRUPT;
        uint32_t len = fl_get_u32(p + off);
        off += 4;
        if (len > n - off)
            return FL_ECORRUPT;
        out[i].ptr = (const char *)p + off;
        out[i].len = len;
        off += len;
    }
    *used = off;
    return 0;
}

int pq_plain_decode(const unsigned char *p, size_t n, int physical, void *out, size_t count,
                    size_t *used)
{
    size_t width, bytes;
    switch (physical) {
    case FL_PQ_BOOLEAN:
        bytes = count / 8 + (count % 8 != 0);
        if (bytes > n)
            return FL_ECORRUPT;
        for (size_t i = 0; i < count; i++)
            ((uint8_t *)out)[i] = (p[i >> 3] >> (i & 7)) & 1;
        *used = bytes;
        return 0;
    case FL_PQ_INT32:
        width = 4;
        break;
    case FL_PQ_INT64:
    case FL_PQ_DOUBLE:
        width = 8;
        break;
    case FL_PQ_BYTE_ARRAY:
        return decode_byte_array(p, n, out, count, used);
    default:
        return FL_EUNSUPPORTED;
    }
    if (count > n / width)
        return FL_ECORRUPT;
    if (count)
        memcpy(out, p, count * width);
    *used = count * width;
    return 0;
}

int pq_byte_stream_split_decode(const unsigned char *p, size_t n, int physical, void *out,
                                size_t count)
{
    size_t width = physical == FL_PQ_INT32 ? 4 : physical == FL_PQ_INT64 || physical == FL_PQ_DOUBLE ? 8 : 0;
    if (!width)
        return FL_EUNSUPPORTED;
    if (count > n / width)
        return FL_ECORRUPT;
    /* Stream k holds byte k of every value; the page holds exactly width streams, and a
     * longer page is only valid when its length says so. */
    size_t stride = n / width;
    if (stride != count)
        return FL_ECORRUPT;
    unsigned char *o = out;
    for (size_t i = 0; i < count; i++)
        for (size_t k = 0; k < width; k++)
            o[i * width + k] = p[k * stride + i];
    return 0;
}
