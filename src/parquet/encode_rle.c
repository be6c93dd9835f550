/* encode_rle.c — the integer building blocks of the writer's encodings: ULEB128 varints
 * (plain and zigzag), LSB-first bit packing, and the RLE/bit-packed hybrid that Parquet uses
 * for definition levels, dictionary indices and v2 booleans. The hybrid encoder emits an RLE
 * run for every stretch of 8 or more equal values that starts on a group boundary and
 * bit-packs everything else in groups of 8 (the last group zero-padded). */
#include "parquet/parquet_int.h"

int pq_put_uvarint(fl_buf *out, uint64_t v)
{
    unsigned char b[10];
    size_t n = 0;
    while (v >= 0x80) {
        b[n++] = (unsigned char)(v | 0x80);
        v >>= 7;
    }
    b[n++] = (unsigned char)v;
    return fl_buf_append(out, b, n);
}

int pq_put_zigzag(fl_buf *out, int64_t v)
{
    return pq_put_uvarint(out, ((uint64_t)v << 1) ^ (uint64_t)(v >> 63));
}

int pq_bitpack(fl_buf *out, const uint64_t *v, size_t count, int width)
{
    size_t bytes = (count * (size_t)width + 7) / 8;
    int rc = fl_buf_reserve(out, bytes + 8);
    if (rc)
        return rc;
    unsigned char *p = (unsigned char *)out->data + out->len;
    memset(p, 0, bytes);
    uint64_t mask = width == 64 ? ~0ULL : ((1ULL << width) - 1);
    size_t bit = 0;
    for (size_t i = 0; i < count && width; i++, bit += (size_t)width) {
        uint64_t x = v[i] & mask;
        size_t byte = bit >> 3;
        int shift = (int)(bit & 7);
        p[byte] |= (unsigned char)(x << shift);
        for (int written = 8 - shift; written < width; written += 8)
            p[++byte] |= (unsigned char)(x >> written);
    }
    out->len += bytes;
    out->data[out->len] = 0;
    return 0;
}

static size_t run_length(const uint32_t *v, size_t i, size_t count, size_t cap)
{
    size_t r = 1;
    while (i + r < count && r < cap && v[i + r] == v[i])
        r++;
    return r;
}

static int emit_rle_run(fl_buf *out, uint32_t value, size_t run, int width)
{
    int rc = pq_put_uvarint(out, (uint64_t)run << 1);
    if (rc)
        return rc;
    unsigned char b[4];
    int nbytes = (width + 7) / 8;
    for (int k = 0; k < nbytes; k++)
        b[k] = (unsigned char)(value >> (8 * k));
    return fl_buf_append(out, b, (size_t)nbytes);
}

static int emit_packed(fl_buf *out, const uint32_t *v, size_t n, int width)
{
    size_t groups = (n + 7) / 8;
    uint64_t tmp[64];
    int rc = pq_put_uvarint(out, ((uint64_t)groups << 1) | 1);
    size_t i = 0;
    while (!rc && i < groups * 8) {
        size_t k = 0;
        for (; k < 64 && i < groups * 8; k++, i++)
            tmp[k] = i < n ? v[i] : 0;
        rc = pq_bitpack(out, tmp, k, width);
    }
    return rc;
}

int pq_rle_encode(fl_buf *out, const uint32_t *v, size_t count, int width)
{
    size_t i = 0;
    while (i < count) {
        size_t run = run_length(v, i, count, SIZE_MAX);
        if (run >= 8) {
            int rc = emit_rle_run(out, v[i], run, width);
            if (rc)
                return rc;
            i += run;
            continue;
        }
        /* Bit-pack whole groups of 8 until the next group starts a run of 8 or more. */
        size_t start = i;
        for (;;) {
            i = count - i > 8 ? i + 8 : count;
            if (i >= count || run_length(v, i, count, 8) >= 8)
                break;
        }
        int rc = emit_packed(out, v + start, i - start, width);
        if (rc)
            return rc;
    }
    return 0;
}
