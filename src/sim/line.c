/* line.c — renders simulated readings as InfluxDB line protocol, for `fleetlake sim --target
 * influx`: the benchmark peer (bench/e2e.py) gets the very readings fleetlake gets, as
 *   sensor,device_id=truck-0042,source=fms-gw,version=1.2.0 temperature=21.50,humidity=40.20,
 *   pressure=1013.10,latitude=37.560000,longitude=126.970000 1795568523456000
 * (one line; the timestamp in µs, sent with precision=u). Choices, and why:
 *  - measurement `sensor`, tag `device_id`: the series key InfluxDB indexes, one per truck;
 *  - metadata version/source as tags, not string fields: they describe the producer, have a
 *    handful of values (no cardinality cost) and are what a query groups or filters by; tags
 *    are written sorted by key, which spares InfluxDB a sort per point;
 *  - fields are floats with the digits of the JSON records (2 decimals, 6 for coordinates), so
 *    both systems parse numbers of the same length; a NaN field is left out (absent), as an
 *    absent or null JSON field is.
 * Like the JSON encoder, no printf on the hot path. */
#include <math.h>
#include <string.h>

#include "sim/sim_int.h"

#define PUT_LIT(p, s) (memcpy((p), (s), sizeof(s) - 1), (p) += sizeof(s) - 1)

/* Escape a tag value (',', '=' and ' ' get a backslash) into p. Returns bytes written (at most
 * 2n), or 0 if the value cannot be a tag value: empty, holds a newline, or ends in a backslash
 * (which would escape the separator after it). */
size_t sim_line_escape_tag(char *p, const char *s, size_t n)
{
    if (n == 0 || s[n - 1] == '\\')
        return 0;
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (c == '\n' || c == '\r')
            return 0;
        if (c == ',' || c == '=' || c == ' ')
            p[k++] = '\\';
        p[k++] = c;
    }
    return k;
}

static size_t format_u64(char *p, uint64_t v)
{
    char tmp[24];
    size_t n = 0;
    do {
        tmp[n++] = (char)('0' + v % 10);
        v /= 10;
    } while (v);
    for (size_t i = 0; i < n; i++)
        p[i] = tmp[n - 1 - i];
    return n;
}

static size_t format_i64(char *p, int64_t v)
{
    if (v >= 0)
        return format_u64(p, (uint64_t)v);
    p[0] = '-';
    return 1 + format_u64(p + 1, (uint64_t)0 - (uint64_t)v);
}

/* Append `,tag=value` (escaped). Returns 0 or FL_EINVAL. */
static int put_tag(char **pp, const char *key, size_t keylen, const char *v)
{
    if (!v || !v[0])
        return 0;
    char *p = *pp;
    *p++ = ',';
    memcpy(p, key, keylen);
    p += keylen;
    *p++ = '=';
    size_t n = sim_line_escape_tag(p, v, strlen(v));
    if (n == 0)
        return FL_EINVAL;
    *pp = p + n;
    return 0;
}

/* Append `[,]key=value` for a present field. NaN is absent; so are infinities and values
 * beyond what sim_format_fixed holds in 64 bits (|v| < 1e15 with 2 decimals, 1e12 with 6),
 * which no sensor reading comes near. */
static void put_field(char **pp, int *fields, const char *key, size_t keylen, double v,
                      int decimals)
{
    if (!isfinite(v) || fabs(v) >= (decimals > 2 ? 1e12 : 1e15))
        return;
    char *p = *pp;
    if (*fields)
        *p++ = ',';
    memcpy(p, key, keylen);
    p += keylen;
    *p++ = '=';
    p += sim_format_fixed(p, v, decimals);
    (*fields)++;
    *pp = p;
}

#define TAG_(p, key, v) put_tag(p, key, sizeof(key) - 1, v)
#define FIELD_(p, n, key, v, d) put_field(p, n, key, sizeof(key) - 1, v, d)

size_t sim_encode_line(const fl_sim_reading *r, const char *version, const char *source,
                       char *p)
{
    char *s = p;
    PUT_LIT(p, "sensor");
    /* the tags in key order: device_id < source < version */
    if (!r->device_id[0] || TAG_(&p, "device_id", r->device_id) || TAG_(&p, "source", source) ||
        TAG_(&p, "version", version))
        return 0;
    *p++ = ' ';
    int fields = 0;
    FIELD_(&p, &fields, "temperature", r->temperature, 2);
    FIELD_(&p, &fields, "humidity", r->humidity, 2);
    FIELD_(&p, &fields, "pressure", r->pressure, 2);
    FIELD_(&p, &fields, "latitude", r->latitude, 6);
    FIELD_(&p, &fields, "longitude", r->longitude, 6);
    if (fields == 0)
        return 0;
    *p++ = ' ';
    p += format_i64(p, r->timestamp_us);
    *p++ = '\n';
    return (size_t)(p - s);
}

int fl_sim_reading_to_line(const fl_sim_reading *r, const char *version, const char *source,
                           fl_buf *out)
{
    size_t vlen = version ? strlen(version) : 0, slen = source ? strlen(source) : 0;
    if (vlen > SIM_LINE_TAG_MAX || slen > SIM_LINE_TAG_MAX)
        return FL_EINVAL;
    int rc = fl_buf_reserve(out, SIM_LINE_MAX_BYTES);
    if (rc)
        return rc;
    size_t n = sim_encode_line(r, version, source, out->data + out->len);
    if (n == 0)
        return FL_EINVAL;
    out->len += n;
    out->data[out->len] = 0;
    return 0;
}
