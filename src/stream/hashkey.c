/* hashkey.c — placement of partition keys on shards, the Kinesis way: MD5 of the key read as
 * a 128-bit big-endian unsigned integer, over shard_count equal ranges of [0, 2^128), the
 * last range ending at 2^128-1 (what CreateStream's even split gives). The gateway calls it
 * for every record; the Kinesis-compatible API shows the ranges as decimal strings. Backend
 * independent and pure. */
#include <string.h>

#include "stream/stream.h"

typedef unsigned __int128 u128;

#define U128_MAX (~(u128)0)

/* floor(2^128 / n) for n >= 2 (2^128 itself does not fit, so work from 2^128 - 1). */
static u128 range_step(uint32_t n)
{
    return U128_MAX / n + (U128_MAX % n == (u128)(n - 1) ? 1 : 0);
}

uint32_t fl_stream_shard_for_key(uint32_t shard_count, const void *key, size_t n)
{
    if (shard_count <= 1)
        return 0;
    unsigned char digest[16];
    fl_md5(key, n, digest);
    u128 h = 0;
    for (int i = 0; i < 16; i++)
        h = (h << 8) | digest[i];
    u128 shard = h / range_step(shard_count);
    return shard >= shard_count ? shard_count - 1 : (uint32_t)shard;
}

static void u128_format(u128 v, char *out)
{
    char tmp[40];
    int n = 0;
    do {
        tmp[n++] = (char)('0' + (int)(v % 10));
        v /= 10;
    } while (v);
    for (int i = 0; i < n; i++)
        out[i] = tmp[n - 1 - i];
    out[n] = 0;
}

void fl_stream_shard_hash_range(uint32_t shard_count, uint32_t shard, char *start, char *end)
{
    if (shard_count <= 1 || shard >= shard_count) {
        if (shard_count <= 1 && shard == 0) {
            u128_format(0, start);
            u128_format(U128_MAX, end);
        } else {
            start[0] = end[0] = 0; /* no such shard */
        }
        return;
    }
    u128 step = range_step(shard_count);
    u128_format(step * shard, start);
    u128_format(shard + 1 == shard_count ? U128_MAX : step * (shard + 1) - 1, end);
}
