/* encode_delta.c — DELTA_BINARY_PACKED for INT32 and INT64 columns: blocks of 128 deltas in
 * 4 miniblocks of 32, each miniblock bit-packed at the width of its largest (delta - block
 * minimum). Deltas use the column's own integer width with wrap-around (INT32 deltas are
 * 32-bit), as the format requires, so an INT32 miniblock never needs more than 32 bits and
 * INT64 extremes (INT64_MIN next to INT64_MAX) encode exactly. */
#include "parquet/parquet_int.h"

#define BLOCK_VALUES 128
#define MINIBLOCKS 4
#define MINIBLOCK_VALUES (BLOCK_VALUES / MINIBLOCKS)

static uint64_t value_at(int physical, const void *values, size_t i)
{
    if (physical == FL_PQ_INT32)
        return (uint64_t)(int64_t)((const int32_t *)values)[i];
    return (uint64_t)((const int64_t *)values)[i];
}

/* One block of deltas d[0..n) (n <= 128), stored as wrapped unsigned differences. */
static int encode_block(fl_buf *out, const uint64_t *d, size_t n, int is32)
{
    uint64_t mask = is32 ? 0xffffffffULL : ~0ULL;
    int64_t min = is32 ? (int32_t)(uint32_t)d[0] : (int64_t)d[0];
    for (size_t i = 1; i < n; i++) {
        int64_t x = is32 ? (int32_t)(uint32_t)d[i] : (int64_t)d[i];
        if (x < min)
            min = x;
    }
    int rc = pq_put_zigzag(out, min);
    uint64_t adj[BLOCK_VALUES] = {0};
    unsigned char widths[MINIBLOCKS] = {0};
    for (size_t i = 0; i < n; i++)
        adj[i] = (d[i] - (uint64_t)min) & mask;
    size_t used_mb = (n + MINIBLOCK_VALUES - 1) / MINIBLOCK_VALUES;
    for (size_t m = 0; m < used_mb; m++) {
        uint64_t max = 0;
        for (size_t i = m * MINIBLOCK_VALUES; i < (m + 1) * MINIBLOCK_VALUES && i < n; i++)
            max |= adj[i];
        widths[m] = (unsigned char)pq_bit_width(max);
    }
    if (!rc)
        rc = fl_buf_append(out, widths, MINIBLOCKS);
    for (size_t m = 0; m < used_mb && !rc; m++)
        rc = pq_bitpack(out, adj + m * MINIBLOCK_VALUES, MINIBLOCK_VALUES, widths[m]);
    return rc;
}

int pq_delta_encode(fl_buf *out, int physical, const void *values, size_t count)
{
    if (physical != FL_PQ_INT32 && physical != FL_PQ_INT64)
        return FL_EINVAL;
    int is32 = physical == FL_PQ_INT32;
    int rc = pq_put_uvarint(out, BLOCK_VALUES);
    if (!rc)
        rc = pq_put_uvarint(out, MINIBLOCKS);
    if (!rc)
        rc = pq_put_uvarint(out, count);
    if (!rc)
        rc = pq_put_zigzag(out, count ? (int64_t)value_at(physical, values, 0) : 0);
    uint64_t d[BLOCK_VALUES];
    for (size_t i = 1; i < count && !rc;) {
        size_t n = 0;
        for (; n < BLOCK_VALUES && i < count; n++, i++)
            d[n] = value_at(physical, values, i) - value_at(physical, values, i - 1);
        rc = encode_block(out, d, n, is32);
    }
    return rc;
}
