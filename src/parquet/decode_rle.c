/* decode_rle.c — the reader's side of encode_rle.c: varints, LSB-first bit unpacking and the
 * RLE/bit-packed hybrid decoder. Input is hostile: every run header, run length and packed
 * group is checked against the bytes left and the values still wanted. */
#include "parquet/parquet_int.h"

int pq_get_uvarint(const unsigned char **pp, const unsigned char *end, uint64_t *v)
{
    const unsigned char *p = *pp;
    uint64_t x = 0;
    for (int shift = 0; shift < 64; shift += 7) {
        if (p >= end)
            return FL_ECORRUPT;
        unsigned char b = *p++;
        if (shift == 63 && (b & 0x7e))
            return FL_ECORRUPT;
        x |= (uint64_t)(b & 0x7f) << shift;
        if (!(b & 0x80)) {
            *pp = p;
            *v = x;
            return 0;
        }
    }
    return FL_ECORRUPT;
}

void pq_bitunpack(const unsigned char *p, size_t count, int width, uint64_t *v)
{
    if (width == 0) {
        memset(v, 0, count * sizeof *v);
        return;
    }
    uint64_t mask = width == 64 ? ~0ULL : ((1ULL << width) - 1);
    size_t bit = 0;
    for (size_t i = 0; i < count; i++, bit += (size_t)width) {
        size_t byte = bit >> 3;
        int shift = (int)(bit & 7);
        uint64_t x = (uint64_t)p[byte] >> shift;
        for (int got = 8 - shift; got < width; got += 8)
            x |= (uint64_t)p[++byte] << got;
        v[i] = x & mask;
    }
}

static int decode_packed(const unsigned char **pp, const unsigned char *end, int width,
                         size_t groups, uint32_t *out, size_t *done, size_t count)
{
    const unsigned char *p = *pp;
    size_t values = groups * 8;
    size_t bytes = (values * (size_t)width + 7) / 8;
    if (bytes > (size_t)(end - p)) {
        /* Some writers end the last run early; accept whole values that are present. */
        values = (size_t)(end - p) * 8 / (width ? (size_t)width : 1);
        bytes = (size_t)(end - p);
    }
    size_t take = values < count - *done ? values : count - *done;
    uint64_t tmp[64];
    size_t bit = 0;
    for (size_t i = 0; i < take;) {
        size_t k = take - i < 64 ? take - i : 64;
        pq_bitunpack(p + bit / 8, k, width, tmp);
        for (size_t j = 0; j < k; j++)
            out[*done + i + j] = (uint32_t)tmp[j];
        i += k;
        bit += k * (size_t)width; /* k is a multiple of 8 except at the end */
    }
    *done += take;
    *pp = p + bytes;
    return 0;
}

int pq_rle_decode(const unsigned char *p, size_t n, int width, uint32_t *out, size_t count)
{
    const unsigned char *end = p + n;
    size_t done = 0;
    if (width < 0 || width > 32)
        return FL_ECORRUPT;
    int vbytes = (width + 7) / 8;
    while (done < count) {
        uint64_t h;
        if (pq_get_uvarint(&p, end, &h))
            return FL_ECORRUPT;
        if (h & 1) {
            uint64_t groups = h >> 1;
            if (groups == 0 || groups > ((uint64_t)1 << 40))
                return FL_ECORRUPT;
            int rc = decode_packed(&p, end, width, (size_t)groups, out, &done, count);
            if (rc)
                return rc;
            if (p >= end && done < count)
                return FL_ECORRUPT;
        } else {
            uint64_t run = h >> 1;
            if (run == 0 || (size_t)(end - p) < (size_t)vbytes)
                return FL_ECORRUPT;
            uint32_t value = 0;
            for (int k = 0; k < vbytes; k++)
                value |= (uint32_t)p[k] << (8 * k);
            p += vbytes;
            if (width < 32 && (value >> width))
                return FL_ECORRUPT;
            size_t take = run < count - done ? (size_t)run : count - done;
            for (size_t i = 0; i < take; i++)
                out[done + i] = value;
            done += take;
        }
    }
    return 0;
}
