/* gunzip.c — undoing Content-Encoding: gzip on request bodies, safely.
 *
 * The gateway calls this before fl_body_split() when a body arrives gzipped. A small body can
 * inflate to gigabytes (a "gzip bomb"), so output is bounded twice: by max_out bytes and by
 * max_ratio x the compressed size. zlib is never given more output space than the tighter of
 * the two limits plus one byte, so crossing a limit is detected the moment it happens and the
 * buffer never grows past it. Concatenated gzip members (RFC 1952 §2.2, what `cat a.gz b.gz`
 * produces) are decoded one after another; anything else after a member is FL_EPARSE. */
#include <string.h>
#include <zlib.h>

#include "ingest/ingest_int.h"

/* First allocation: enough for typical telemetry compression (5-20x) of small bodies. */
#define INITIAL_OUT_BYTES (64 * 1024)

/* The tighter of the two limits, in bytes of output, and which one it is. */
static size_t output_limit(size_t n, size_t max_out, int64_t max_ratio, int *which)
{
    size_t by_ratio = SIZE_MAX;
    if (max_ratio >= 0 && (uint64_t)max_ratio <= SIZE_MAX / (n ? n : 1))
        by_ratio = (size_t)max_ratio * n;
    if (by_ratio < max_out) {
        *which = 2;
        return by_ratio;
    }
    *which = 1;
    return max_out;
}

/* Makes room in out for more output. The buffer is sized by hand (not fl_buf_reserve, which
 * doubles past the need) so it never holds more than limit + 1 bytes plus fl_buf's NUL. */
static int grow(fl_buf *out, size_t limit)
{
    size_t cap = out->cap ? out->cap * 2 : INITIAL_OUT_BYTES;
    if (cap > limit + 2)
        cap = limit + 2;
    if (cap < out->len + 2)
        cap = out->len + 2;
    char *d = fl_realloc(out->data, cap);
    if (!d)
        return FL_ENOMEM;
    out->data = d;
    out->cap = cap;
    return 0;
}

static int inflate_all(z_stream *zs, fl_buf *out, size_t limit)
{
    for (;;) {
        if (out->cap <= out->len + 1 && out->len <= limit) {
            if (grow(out, limit))
                return FL_ENOMEM;
        }
        /* keep fl_buf's spare NUL byte; stop giving space beyond limit + 1 */
        size_t room = out->cap - out->len - 1;
        if (room > limit + 1 - out->len)
            room = limit + 1 - out->len;
        if (room > UINT32_MAX)
            room = UINT32_MAX;
        zs->next_out = (Bytef *)out->data + out->len;
        zs->avail_out = (uInt)room;
        int zrc = inflate(zs, Z_NO_FLUSH);
        out->len += room - zs->avail_out;
        if (out->len > limit)
            return FL_ELIMIT;
        if (zrc == Z_STREAM_END) {
            if (zs->avail_in == 0)
                return 0;
            if (zs->avail_in < 2 || zs->next_in[0] != 0x1f || zs->next_in[1] != 0x8b)
                return FL_EPARSE;
            if (inflateReset(zs) != Z_OK)
                return FL_EPARSE;
            continue;
        }
        if (zrc == Z_BUF_ERROR && zs->avail_in == 0)
            return FL_EPARSE; /* truncated */
        if (zrc != Z_OK && zrc != Z_BUF_ERROR)
            return zrc == Z_MEM_ERROR ? FL_ENOMEM : FL_EPARSE;
    }
}

int fl_ingest_gunzip(const void *in, size_t n, size_t max_out, int64_t max_ratio, fl_buf *out,
                     int *which)
{
    int limit_kind = 0;
    size_t limit = output_limit(n, max_out, max_ratio, &limit_kind);
    fl_buf_reset(out);
    *which = 0;
    if (n == 0)
        return FL_EPARSE;
    if (n > UINT32_MAX) { /* far beyond ingest.max_body_bytes; zlib counts input in uInt */
        *which = 1;
        return FL_ELIMIT;
    }
    z_stream zs;
    memset(&zs, 0, sizeof zs);
    if (inflateInit2(&zs, 16 + MAX_WBITS) != Z_OK)
        return FL_ENOMEM;
    zs.next_in = (Bytef *)in;
    zs.avail_in = (uInt)n;
    int rc = inflate_all(&zs, out, limit);
    inflateEnd(&zs);
    if (rc == FL_ELIMIT) {
        *which = limit_kind;
        out->len = limit < out->len ? limit : out->len;
    }
    if (out->data)
        out->data[out->len] = 0;
    return rc;
}
