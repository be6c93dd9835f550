/* decode_delta.c — the reader's DELTA_* decoders: DELTA_BINARY_PACKED (INT32/INT64, any block
 * and miniblock geometry the format allows), DELTA_LENGTH_BYTE_ARRAY (delta-packed lengths,
 * then the bytes) and DELTA_BYTE_ARRAY (delta-packed prefix lengths, then the suffixes as
 * DELTA_LENGTH_BYTE_ARRAY). Headers, bit widths, counts and every length are checked; the
 * values wanted must all be present. */
#include "parquet/parquet_int.h"

/* Geometry bounds: the format only requires multiples of 128 and 32; real writers use 128
 * (or 256) values per block and 4 (or 8) miniblocks, so 32768 and 1024 are generous while
 * keeping the scratch arrays small and on the heap-free path. */
#define BLOCK_VALUES_MAX 32768
#define MINIBLOCKS_MAX 1024

typedef struct delta_header {
    uint64_t block, miniblocks, total;
    int64_t first;
} delta_header;

static int read_header(const unsigned char **p, const unsigned char *end, delta_header *h)
{
    uint64_t zz;
    if (pq_get_uvarint(p, end, &h->block) || pq_get_uvarint(p, end, &h->miniblocks) ||
        pq_get_uvarint(p, end, &h->total) || pq_get_uvarint(p, end, &zz))
        return FL_ECORRUPT;
    h->first = (int64_t)(zz >> 1) ^ -(int64_t)(zz & 1);
    if (h->block == 0 || h->block % 128 || h->block > BLOCK_VALUES_MAX || h->miniblocks == 0 ||
        h->miniblocks > MINIBLOCKS_MAX || h->block % h->miniblocks ||
        (h->block / h->miniblocks) % 32)
        return FL_ECORRUPT;
    return 0;
}

int pq_delta_peek_count(const unsigned char *p, size_t n, size_t *count)
{
    delta_header h;
    if (read_header(&p, p + n, &h))
        return FL_ECORRUPT;
    if (h.total > SIZE_MAX / 16)
        return FL_ECORRUPT;
    *count = (size_t)h.total;
    return 0;
}

static void store(int physical, void *out, size_t i, uint64_t v)
{
    if (physical == FL_PQ_INT32)
        ((int32_t *)out)[i] = (int32_t)(uint32_t)v;
    else
        ((int64_t *)out)[i] = (int64_t)v;
}

/* Decode one block's miniblocks into out[*done..), advancing *p. */
static int decode_block(const unsigned char **pp, const unsigned char *end, const delta_header *h,
                        int physical, void *out, size_t *done, size_t count, uint64_t *last)
{
    const unsigned char *p = *pp;
    uint64_t zz;
    if (pq_get_uvarint(&p, end, &zz))
        return FL_ECORRUPT;
    uint64_t min = (uint64_t)((int64_t)(zz >> 1) ^ -(int64_t)(zz & 1));
    if ((uint64_t)(end - p) < h->miniblocks)
        return FL_ECORRUPT;
    const unsigned char *widths = p;
    p += h->miniblocks;
    size_t per_mb = (size_t)(h->block / h->miniblocks);
    uint64_t tmp[64];
    for (size_t m = 0; m < h->miniblocks && *done < count; m++) {
        int w = widths[m];
        /* Up to 64 bits for INT32 too: the format computes INT32 deltas wrapping in 32 bits
         * (widths <= 32), but DuckDB computes them in 64 bits and writes up to 33-bit widths
         * for INT32 columns whose values span more than 2^31 (found by the interop test).
         * Decoding in 64 bits and keeping the low 32 gives the right value either way. */
        if (w > 64)
            return FL_ECORRUPT;
        size_t bytes = per_mb * (size_t)w / 8;
        if (bytes > (size_t)(end - p))
            return FL_ECORRUPT;
        for (size_t i = 0; i < per_mb && *done < count; i += 64) {
            size_t k = per_mb - i < 64 ? per_mb - i : 64;
            pq_bitunpack(p + i * (size_t)w / 8, k, w, tmp);
            for (size_t j = 0; j < k && *done < count; j++) {
                *last += min + tmp[j];
                store(physical, out, (*done)++, *last);
            }
        }
        p += bytes;
    }
    *pp = p;
    return 0;
}

int pq_delta_decode(const unsigned char *p, size_t n, int physical, void *out, size_t count,
                    size_t *used)
{
    const unsigned char *start = p, *end = p + n;
    delta_header h;
    if (physical != FL_PQ_INT32 && physical != FL_PQ_INT64)
        return FL_EUNSUPPORTED;
    if (read_header(&p, end, &h))
        return FL_ECORRUPT;
    if (h.total < count)
        return FL_ECORRUPT;
    size_t done = 0;
    uint64_t last = (uint64_t)h.first;
    if (count) {
        store(physical, out, done++, last);
    }
    while (done < count) {
        int rc = decode_block(&p, end, &h, physical, out, &done, count, &last);
        if (rc)
            return rc;
    }
    *used = (size_t)(p - start);
    return 0;
}

int pq_delta_length_decode(const unsigned char *p, size_t n, fl_slice *out, size_t count)
{
    size_t used = 0;
    int32_t *lens = count ? fl_malloc(count * sizeof *lens) : NULL;
    if (count && !lens)
        return FL_ENOMEM;
    int rc = pq_delta_decode(p, n, FL_PQ_INT32, lens, count, &used);
    size_t off = used;
    for (size_t i = 0; !rc && i < count; i++) {
        if (lens[i] < 0 || (size_t)lens[i] > n - off) {
            rc = FL_ECORRUPT;
            break;
        }
        out[i].ptr = (const char *)p + off;
        out[i].len = (size_t)lens[i];
        off += (size_t)lens[i];
    }
    fl_free(lens);
    return rc;
}

static int rebuild_values(const int32_t *prefix, const fl_slice *suffix, fl_slice *out,
                          size_t count, fl_buf *arena, size_t bytes_max)
{
    /* First pass: sizes, so the arena is allocated once and slices stay valid. */
    size_t total = 0, prev = 0;
    for (size_t i = 0; i < count; i++) {
        if (prefix[i] < 0 || (size_t)prefix[i] > prev)
            return FL_ECORRUPT;
        size_t len = (size_t)prefix[i] + suffix[i].len;
        if (len > bytes_max || total > bytes_max - len)
            return FL_ELIMIT;
        total += len;
        prev = len;
    }
    if (arena->len + total > bytes_max)
        return FL_ELIMIT;
    size_t base = arena->len;
    int rc = fl_buf_reserve(arena, total);
    if (rc)
        return rc;
    char *w = arena->data + base;
    const char *last = w;
    for (size_t i = 0; i < count; i++) {
        memmove(w, last, (size_t)prefix[i]);
        memcpy(w + prefix[i], suffix[i].ptr, suffix[i].len);
        last = w;
        w += (size_t)prefix[i] + suffix[i].len;
    }
    w = arena->data + base;
    for (size_t i = 0; i < count; i++) {
        out[i].ptr = w;
        out[i].len = (size_t)prefix[i] + suffix[i].len;
        w += out[i].len;
    }
    arena->len += total;
    arena->data[arena->len] = 0;
    return 0;
}

int pq_delta_byte_array_decode(const unsigned char *p, size_t n, fl_slice *out, size_t count,
                               fl_buf *arena, size_t bytes_max)
{
    size_t used = 0;
    int32_t *prefix = count ? fl_malloc(count * sizeof *prefix) : NULL;
    fl_slice *suffix = count ? fl_malloc(count * sizeof *suffix) : NULL;
    int rc = (count && (!prefix || !suffix)) ? FL_ENOMEM : 0;
    if (!rc)
        rc = pq_delta_decode(p, n, FL_PQ_INT32, prefix, count, &used);
    if (!rc)
        rc = pq_delta_length_decode(p + used, n - used, suffix, count);
    if (!rc)
        rc = rebuild_values(prefix, suffix, out, count, arena, bytes_max);
    fl_free(prefix);
    fl_free(suffix);
    return rc;
}
