/* record_codec.c — the compact binary form of a normalised record, as stored in the stream.
 *
 * Consumers (lake delivery, the realtime processor) read records back with fl_record_decode()
 * instead of parsing JSON again. Layout, all integers little-endian:
 *
 *   u8  version (1)
 *   u8  present bits (enum fl_record_field_bits)
 *   i64 timestamp_us
 *   u16 device_id length (1..128), device_id bytes
 *   f64 temperature, humidity, pressure     — each only if its present bit is set
 *   f64 latitude, f64 longitude             — only if FL_REC_LOCATION
 *   u16 length + bytes of metadata.version  — only if FL_REC_META_VERSION (<= 128)
 *   u16 length + bytes of metadata.source   — only if FL_REC_META_SOURCE (<= 128)
 *   u32 length + bytes of extra             — only if FL_REC_EXTRA (a JSON object text)
 *   u8[16] trace id                         — only if FL_REC_TRACE (bit 7)
 *
 * The trace id came later: bit 7 was "must be zero" until then, so every record written
 * before has it clear and decodes as before, and the version stays 1 (a reader from before
 * the trace id rejects new records as FL_ECORRUPT instead of misreading them; downgrading
 * across it is not supported). The id is the W3C trace id of the ingest request; the
 * processor hands it to the alert engine, so an alert names the request that opened it.
 *
 * A simulator-like record takes about 80 bytes (96 with its trace id) instead of ~230 as
 * JSON. The stream's CRC catches bit rot, but the decoder still treats its input as hostile:
 * every length is checked against what remains, every value against the rules the JSON
 * decoder enforced (device_id alphabet, finite numbers, coordinate ranges, string limits,
 * extra being a JSON object), and unknown versions and trailing bytes are FL_ECORRUPT. So
 * whatever decodes here can be turned into valid JSON by fl_record_to_json(). */
#include <math.h>
#include <string.h>

#include "ingest/ingest_int.h"

#define RECORD_VERSION 1
#define KNOWN_BITS 0xFFu
#define TRACE_ID_BYTES 16
/* Extra is bounded by ingest.max_extra_bytes (at most 1 MiB); anything larger is damage. */
#define EXTRA_MAX ((size_t)1 << 20)
/* Years 0000..9999: what RFC 3339 can express. */
#define TIMESTAMP_MIN_US INT64_C(-62167219200000000)
#define TIMESTAMP_MAX_US INT64_C(253402300799999999)
/* Same as the largest ingest.max_json_depth the config allows. */
#define EXTRA_DEPTH_MAX 256

static size_t encoded_size(const fl_record *r)
{
    size_t n = 1 + 1 + 8 + 2 + r->device_id.len;
    n += 8 * (size_t)(!!(r->present & FL_REC_TEMPERATURE) + !!(r->present & FL_REC_HUMIDITY) +
                      !!(r->present & FL_REC_PRESSURE));
    if (r->present & FL_REC_LOCATION)
        n += 16;
    if (r->present & FL_REC_META_VERSION)
        n += 2 + r->metadata_version.len;
    if (r->present & FL_REC_META_SOURCE)
        n += 2 + r->metadata_source.len;
    if (r->present & FL_REC_EXTRA)
        n += 4 + r->extra.len;
    if (r->present & FL_REC_TRACE)
        n += TRACE_ID_BYTES;
    return n;
}

static unsigned char *put_double(unsigned char *p, double v)
{
    uint64_t bits;
    memcpy(&bits, &v, 8);
    fl_put_u64(p, bits);
    return p + 8;
}

static unsigned char *put_string16(unsigned char *p, fl_slice s)
{
    fl_put_u16(p, (uint16_t)s.len);
    memcpy(p + 2, s.ptr, s.len);
    return p + 2 + s.len;
}

int fl_record_encode(const fl_record *rec, fl_buf *out)
{
    size_t n = encoded_size(rec);
    int rc = fl_buf_reserve(out, n);
    if (rc)
        return rc;
    unsigned char *p = (unsigned char *)out->data + out->len;
    *p++ = RECORD_VERSION;
    *p++ = (unsigned char)(rec->present & KNOWN_BITS);
    fl_put_u64(p, (uint64_t)rec->timestamp_us);
    p = put_string16(p + 8, rec->device_id);
    if (rec->present & FL_REC_TEMPERATURE)
        p = put_double(p, rec->temperature);
    if (rec->present & FL_REC_HUMIDITY)
        p = put_double(p, rec->humidity);
    if (rec->present & FL_REC_PRESSURE)
        p = put_double(p, rec->pressure);
    if (rec->present & FL_REC_LOCATION) {
        p = put_double(p, rec->latitude);
        p = put_double(p, rec->longitude);
    }
    if (rec->present & FL_REC_META_VERSION)
        p = put_string16(p, rec->metadata_version);
    if (rec->present & FL_REC_META_SOURCE)
        p = put_string16(p, rec->metadata_source);
    if (rec->present & FL_REC_EXTRA) {
        fl_put_u32(p, (uint32_t)rec->extra.len);
        memcpy(p + 4, rec->extra.ptr, rec->extra.len);
        p += 4 + rec->extra.len;
    }
    if (rec->present & FL_REC_TRACE)
        memcpy(p, rec->trace_id, TRACE_ID_BYTES);
    out->len += n;
    out->data[out->len] = 0;
    return 0;
}

/* A bounds-checked cursor over hostile bytes. */
typedef struct reader {
    const unsigned char *p, *end;
} reader;

static int take(reader *r, size_t n, const unsigned char **at)
{
    if ((size_t)(r->end - r->p) < n)
        return -1;
    *at = r->p;
    r->p += n;
    return 0;
}

static int get_double(reader *r, double *v)
{
    const unsigned char *at;
    if (take(r, 8, &at))
        return -1;
    uint64_t bits = fl_get_u64(at);
    memcpy(v, &bits, 8);
    return isfinite(*v) ? 0 : -1;
}

static int get_string(reader *r, size_t len_bytes, size_t max, fl_slice *s)
{
    const unsigned char *at;
    if (take(r, len_bytes, &at))
        return -1;
    size_t n = len_bytes == 2 ? fl_get_u16(at) : fl_get_u32(at);
    if (n > max || take(r, n, &at))
        return -1;
    s->ptr = (const char *)at;
    s->len = n;
    return 0;
}

static int valid_extra(fl_slice s)
{
    size_t i = 0;
    while (i < s.len && fl_json_is_ws((unsigned char)s.ptr[i]))
        i++;
    if (i >= s.len || s.ptr[i] != '{')
        return 0;
    return fl_json_validate(s.ptr, s.len, EXTRA_DEPTH_MAX) == FL_JSON_OK;
}

static int decode_values(reader *r, fl_record *rec)
{
    uint32_t pr = rec->present;
    if ((pr & FL_REC_TEMPERATURE) && get_double(r, &rec->temperature))
        return -1;
    if ((pr & FL_REC_HUMIDITY) && get_double(r, &rec->humidity))
        return -1;
    if ((pr & FL_REC_PRESSURE) && get_double(r, &rec->pressure))
        return -1;
    if (pr & FL_REC_LOCATION) {
        if (get_double(r, &rec->latitude) || get_double(r, &rec->longitude) ||
            fabs(rec->latitude) > 90 || fabs(rec->longitude) > 180)
            return -1;
    }
    if ((pr & FL_REC_META_VERSION) &&
        get_string(r, 2, FL_INGEST_META_STRING_MAX, &rec->metadata_version))
        return -1;
    if ((pr & FL_REC_META_SOURCE) &&
        get_string(r, 2, FL_INGEST_META_STRING_MAX, &rec->metadata_source))
        return -1;
    if (pr & FL_REC_EXTRA) {
        if (get_string(r, 4, EXTRA_MAX, &rec->extra) || !valid_extra(rec->extra))
            return -1;
    }
    if (pr & FL_REC_TRACE) {
        const unsigned char *at;
        if (take(r, TRACE_ID_BYTES, &at))
            return -1;
        memcpy(rec->trace_id, at, TRACE_ID_BYTES);
    }
    return 0;
}

int fl_record_decode(const void *p, size_t n, fl_record *out)
{
    reader r = {p, (const unsigned char *)p + n};
    const unsigned char *at;
    memset(out, 0, sizeof *out);
    if (take(&r, 10, &at) || at[0] != RECORD_VERSION || (at[1] & ~KNOWN_BITS))
        goto corrupt;
    out->present = at[1];
    out->timestamp_us = (int64_t)fl_get_u64(at + 2);
    if (out->timestamp_us < TIMESTAMP_MIN_US || out->timestamp_us > TIMESTAMP_MAX_US)
        goto corrupt;
    if (get_string(&r, 2, FL_INGEST_DEVICE_ID_MAX, &out->device_id) ||
        fl_ingest_device_id_problem(out->device_id.ptr, out->device_id.len))
        goto corrupt;
    if (decode_values(&r, out) || r.p != r.end)
        goto corrupt;
    return 0;
corrupt:
    memset(out, 0, sizeof *out);
    return FL_ECORRUPT;
}

int fl_record_encoded_device_id(const void *p, size_t n, fl_slice *out)
{
    const unsigned char *b = p;
    if (n < 12 || b[0] != RECORD_VERSION)
        return FL_ECORRUPT;
    size_t len = fl_get_u16(b + 10);
    if (len == 0 || len > 128 || 12 + len > n)
        return FL_ECORRUPT;
    *out = (fl_slice){(const char *)b + 12, len};
    return 0;
}
