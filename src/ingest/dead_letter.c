/* dead_letter.c — the stored form of a rejected record.
 *
 * Every record the decoder rejects is kept with its raw bytes, its error code and message, the
 * time it was rejected and the W3C trace id of the request that sent it, so operators can
 * query errors/ (rejected_records), go from a rejected record to the request's log lines and
 * audit entry, and replay fixed records. Binary layout, little-endian:
 *
 *   u8 version (1 or 2) · i64 time_us · [u8[16] trace id: version 2 only] ·
 *   u16 code length + code · u16 message length + message · u32 raw length + raw
 *
 * Version 1 (before the trace id, and still written for a dead letter without one) and version
 * 2 (with one) are both read, so a dead-letter log written by an older fleetlake is delivered
 * as before, its rows' trace_id NULL. A version 2 trace id is never all zeros (W3C forbids
 * that id, and it would be indistinguishable from none). A reader from before version 2
 * refuses version 2 letters as unknown rather than misreading them; downgrading across it is
 * not supported (as for the stream record's trace id, record_codec.c).
 *
 * Decoding treats bytes as hostile (every length checked, no trailing bytes, unknown versions
 * refused); to_json renders one dead letter for the API and CLI, the raw bytes as a JSON
 * string (bytes that are not UTF-8 become U+FFFD, see fl_buf_append_json_string). */
#include <string.h>

#include "ingest/ingest_int.h"

#define DEAD_LETTER_V1 1
#define DEAD_LETTER_V2 2 /* adds the trace id */
#define TRACE_ID_BYTES 16
/* Codes are short names; messages fit fl_record_error.message (192 bytes); keep slack. */
#define CODE_MAX 64
#define MESSAGE_MAX 1024

static int all_zero(const uint8_t *p, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (p[i])
            return 0;
    return 1;
}

int fl_dead_letter_encode(const fl_dead_letter *dl, fl_buf *out)
{
    if (dl->code.len > CODE_MAX || dl->message.len > MESSAGE_MAX || dl->raw.len > UINT32_MAX ||
        (dl->has_trace && all_zero(dl->trace_id, TRACE_ID_BYTES)))
        return FL_EINVAL;
    size_t trace_len = dl->has_trace ? TRACE_ID_BYTES : 0;
    size_t n = 1 + 8 + trace_len + 2 + dl->code.len + 2 + dl->message.len + 4 + dl->raw.len;
    int rc = fl_buf_reserve(out, n);
    if (rc)
        return rc;
    unsigned char *p = (unsigned char *)out->data + out->len;
    *p++ = dl->has_trace ? DEAD_LETTER_V2 : DEAD_LETTER_V1;
    fl_put_u64(p, (uint64_t)dl->time_us);
    p += 8;
    memcpy(p, dl->trace_id, trace_len);
    p += trace_len;
    fl_put_u16(p, (uint16_t)dl->code.len);
    memcpy(p + 2, dl->code.ptr, dl->code.len);
    p += 2 + dl->code.len;
    fl_put_u16(p, (uint16_t)dl->message.len);
    memcpy(p + 2, dl->message.ptr, dl->message.len);
    p += 2 + dl->message.len;
    fl_put_u32(p, (uint32_t)dl->raw.len);
    if (dl->raw.len)
        memcpy(p + 4, dl->raw.ptr, dl->raw.len);
    out->len += n;
    out->data[out->len] = 0;
    return 0;
}

static int take_string(const unsigned char **p, const unsigned char *end, size_t len_bytes,
                       size_t max, fl_slice *s)
{
    if ((size_t)(end - *p) < len_bytes)
        return -1;
    size_t n = len_bytes == 2 ? fl_get_u16(*p) : fl_get_u32(*p);
    *p += len_bytes;
    if (n > max || (size_t)(end - *p) < n)
        return -1;
    s->ptr = (const char *)*p;
    s->len = n;
    *p += n;
    return 0;
}

int fl_dead_letter_decode(const void *data, size_t n, fl_dead_letter *out)
{
    const unsigned char *p = data, *end = p + n;
    memset(out, 0, sizeof *out);
    if (n < 9 || (p[0] != DEAD_LETTER_V1 && p[0] != DEAD_LETTER_V2))
        goto corrupt;
    out->time_us = (int64_t)fl_get_u64(p + 1);
    out->has_trace = p[0] == DEAD_LETTER_V2;
    p += 9;
    if (out->has_trace) {
        if ((size_t)(end - p) < TRACE_ID_BYTES || all_zero(p, TRACE_ID_BYTES))
            goto corrupt;
        memcpy(out->trace_id, p, TRACE_ID_BYTES);
        p += TRACE_ID_BYTES;
    }
    if (take_string(&p, end, 2, CODE_MAX, &out->code) ||
        take_string(&p, end, 2, MESSAGE_MAX, &out->message) ||
        take_string(&p, end, 4, UINT32_MAX, &out->raw) || p != end)
        goto corrupt;
    return 0;
corrupt:
    memset(out, 0, sizeof *out);
    return FL_ECORRUPT;
}

static int put_field(fl_buf *out, const char *key, fl_slice value)
{
    int rc = fl_buf_append_cstr(out, key);
    if (!rc)
        rc = fl_buf_append_json_string(out, value.ptr, value.len);
    return rc ? rc : fl_buf_append(out, "\"", 1);
}

int fl_dead_letter_to_json(const fl_dead_letter *dl, fl_buf *out)
{
    char ts[FL_TIME_RFC3339_MAX];
    size_t ts_len = fl_time_format_rfc3339(dl->time_us, ts);
    int rc = put_field(out, "{\"time\":\"", (fl_slice){ts, ts_len});
    if (!rc)
        rc = put_field(out, ",\"code\":\"", dl->code);
    if (!rc)
        rc = put_field(out, ",\"message\":\"", dl->message);
    if (!rc)
        rc = put_field(out, ",\"raw\":\"", dl->raw);
    if (!rc && dl->has_trace) {
        char hex[2 * TRACE_ID_BYTES + 1];
        fl_hex_encode(dl->trace_id, TRACE_ID_BYTES, hex);
        rc = put_field(out, ",\"trace_id\":\"", (fl_slice){hex, 2 * TRACE_ID_BYTES});
    }
    return rc ? rc : fl_buf_append(out, "}", 1);
}
