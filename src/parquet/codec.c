/* codec.c — page compression for the four codecs fleetlake reads and writes: UNCOMPRESSED,
 * SNAPPY (raw snappy blocks, snappy-c.h), GZIP (a gzip member via zlib, default level 6) and
 * ZSTD (one frame, default level 3). Decompression writes into a buffer of exactly the size
 * the page header announced (already bounded by the reader's limits) and fails unless the
 * result fills it exactly, so a hostile page can never make the reader allocate more. */
#include <snappy-c.h>
#include <string.h>
#include <zlib.h>
#include <zstd.h>

#include "parquet/parquet_int.h"

int fl_pq_codec_parse(const char *name)
{
    if (!name)
        return -1;
    if (!strcasecmp(name, "uncompressed") || !strcasecmp(name, "none"))
        return FL_PQ_UNCOMPRESSED;
    if (!strcasecmp(name, "snappy"))
        return FL_PQ_SNAPPY;
    if (!strcasecmp(name, "gzip"))
        return FL_PQ_GZIP;
    if (!strcasecmp(name, "zstd"))
        return FL_PQ_ZSTD;
    return -1;
}

const char *fl_pq_codec_name(enum fl_pq_codec codec)
{
    switch (codec) {
    case FL_PQ_UNCOMPRESSED: return "uncompressed";
    case FL_PQ_SNAPPY: return "snappy";
    case FL_PQ_GZIP: return "gzip";
    case FL_PQ_ZSTD: return "zstd";
    }
    return "unknown";
}

static int gzip_compress(int level, const void *in, size_t n, fl_buf *out)
{
    z_stream z;
    memset(&z, 0, sizeof z);
    if (deflateInit2(&z, level ? level : 6, Z_DEFLATED, 16 + MAX_WBITS, 8, Z_DEFAULT_STRATEGY) !=
        Z_OK)
        return FL_ENOMEM;
    size_t bound = deflateBound(&z, (uLong)n);
    int rc = fl_buf_reserve(out, bound);
    if (!rc) {
        z.next_in = (Bytef *)(uintptr_t)in;
        z.avail_in = (uInt)n;
        z.next_out = (Bytef *)out->data + out->len;
        z.avail_out = (uInt)bound;
        if (deflate(&z, Z_FINISH) != Z_STREAM_END)
            rc = FL_ENOMEM;
        else
            out->len += bound - z.avail_out;
    }
    deflateEnd(&z);
    return rc;
}

static int gzip_decompress(const void *in, size_t n, void *out, size_t out_n)
{
    z_stream z;
    memset(&z, 0, sizeof z);
    /* 32 + MAX_WBITS accepts gzip and zlib headers: some writers used the zlib wrapper. */
    if (inflateInit2(&z, 32 + MAX_WBITS) != Z_OK)
        return FL_ENOMEM;
    z.next_in = (Bytef *)(uintptr_t)in;
    z.avail_in = (uInt)n;
    z.next_out = out;
    z.avail_out = (uInt)out_n;
    int zr = inflate(&z, Z_FINISH);
    size_t got = out_n - z.avail_out;
    inflateEnd(&z);
    if (zr == Z_STREAM_END && got == out_n)
        return 0;
    if (zr == Z_BUF_ERROR && got == out_n && out_n == 0)
        return 0;
    return FL_ECORRUPT;
}

int pq_compress(int codec, int level, const void *in, size_t n, fl_buf *out)
{
    int rc;
    switch (codec) {
    case FL_PQ_UNCOMPRESSED:
        return fl_buf_append(out, in, n);
    case FL_PQ_SNAPPY: {
        size_t cap = snappy_max_compressed_length(n);
        if ((rc = fl_buf_reserve(out, cap)))
            return rc;
        if (snappy_compress(in, n, out->data + out->len, &cap) != SNAPPY_OK)
            return FL_ENOMEM;
        out->len += cap;
        return 0;
    }
    case FL_PQ_GZIP:
        return gzip_compress(level, in, n, out);
    case FL_PQ_ZSTD: {
        size_t cap = ZSTD_compressBound(n);
        if ((rc = fl_buf_reserve(out, cap)))
            return rc;
        size_t z = ZSTD_compress(out->data + out->len, cap, in, n, level ? level : 3);
        if (ZSTD_isError(z))
            return FL_ENOMEM;
        out->len += z;
        return 0;
    }
    default:
        return FL_EINVAL;
    }
}

int pq_decompress(int codec, const void *in, size_t n, void *out, size_t out_n)
{
    switch (codec) {
    case FL_PQ_UNCOMPRESSED:
        if (n != out_n)
            return FL_ECORRUPT;
        if (n)
            memcpy(out, in, n);
        return 0;
    case FL_PQ_SNAPPY: {
        size_t len;
        if (snappy_uncompressed_length(in, n, &len) != SNAPPY_OK || len != out_n)
            return FL_ECORRUPT;
        if (out_n == 0)
            return 0;
        return snappy_uncompress(in, n, out, &len) == SNAPPY_OK && len == out_n ? 0 : FL_ECORRUPT;
    }
    case FL_PQ_GZIP:
        return gzip_decompress(in, n, out, out_n);
    case FL_PQ_ZSTD: {
        size_t z = ZSTD_decompress(out, out_n, in, n);
        return !ZSTD_isError(z) && z == out_n ? 0 : FL_ECORRUPT;
    }
    default:
        return FL_EUNSUPPORTED;
    }
}
