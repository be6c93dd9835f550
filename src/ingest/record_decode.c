/* record_decode.c — one record's JSON text → a validated fl_record (DESIGN.md §4.1).
 *
 * This is the ingest hot path: every accepted record passes through here once. It is a
 * schema-specialised, single-pass decoder on top of json_scan.c: keys are matched by length
 * and bytes, known values are converted in place (numbers by the exact fast path, timestamps
 * by fl_time_parse_rfc3339), strings without escapes are borrowed from the text (zero copy),
 * and nothing is allocated beyond the caller's scratch buffer, which is sized once per call
 * (2 x text + 128 bytes, amortised to nothing when reused) so no pointer into it ever moves.
 *
 * Scratch layout: [0, len+64) builds `extra`; from len+64 on, decoded (unescaped) strings
 * and, transiently, NUL-terminated copies of long number tokens for strtod().
 *
 * Errors: the first rule broken (in text order) is reported, but scanning continues so that a
 * record that is also malformed JSON is reported as bad_json (or too_deep), which take
 * precedence; missing required fields are checked last.
 *
 * Unknown fields and `extra`: unknown top-level members are kept verbatim as `"key":value`
 * (key bytes as written, escapes included). Unknown members inside `location` or `metadata`
 * are kept verbatim too, grouped under a member of the same name:
 * `{"fw":"x","metadata":{"region":"kr"}}`. A top-level unknown can never be named "location"
 * or "metadata" (those are known), so fl_record_to_json() can merge such groups back into
 * the objects they came from. */
#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "ingest/ingest_int.h"

const unsigned char fl_ingest_device_id_char[256] = {
    ['-'] = 1, ['.'] = 1, [':'] = 1, ['_'] = 1,
    ['0'] = 1, ['1'] = 1, ['2'] = 1, ['3'] = 1, ['4'] = 1, ['5'] = 1, ['6'] = 1, ['7'] = 1,
    ['8'] = 1, ['9'] = 1,
    ['A'] = 1, ['B'] = 1, ['C'] = 1, ['D'] = 1, ['E'] = 1, ['F'] = 1, ['G'] = 1, ['H'] = 1,
    ['I'] = 1, ['J'] = 1, ['K'] = 1, ['L'] = 1, ['M'] = 1, ['N'] = 1, ['O'] = 1, ['P'] = 1,
    ['Q'] = 1, ['R'] = 1, ['S'] = 1, ['T'] = 1, ['U'] = 1, ['V'] = 1, ['W'] = 1, ['X'] = 1,
    ['Y'] = 1, ['Z'] = 1,
    ['a'] = 1, ['b'] = 1, ['c'] = 1, ['d'] = 1, ['e'] = 1, ['f'] = 1, ['g'] = 1, ['h'] = 1,
    ['i'] = 1, ['j'] = 1, ['k'] = 1, ['l'] = 1, ['m'] = 1, ['n'] = 1, ['o'] = 1, ['p'] = 1,
    ['q'] = 1, ['r'] = 1, ['s'] = 1, ['t'] = 1, ['u'] = 1, ['v'] = 1, ['w'] = 1, ['x'] = 1,
    ['y'] = 1, ['z'] = 1,
};

const char *fl_ingest_device_id_problem(const char *p, size_t n)
{
    if (n == 0)
        return "is empty";
    if (n > FL_INGEST_DEVICE_ID_MAX)
        return "is longer than 128 bytes";
    for (size_t i = 0; i < n; i++)
        if (!fl_ingest_device_id_char[(unsigned char)p[i]])
            return "has a byte outside [A-Za-z0-9._:-]";
    return NULL;
}

enum seen_bits {
    SEEN_DEVICE_ID = 1 << 0,
    SEEN_TIMESTAMP = 1 << 1,
    SEEN_TEMPERATURE = 1 << 2,
    SEEN_HUMIDITY = 1 << 3,
    SEEN_PRESSURE = 1 << 4,
    SEEN_LOCATION = 1 << 5,
    SEEN_METADATA = 1 << 6,
    SEEN_LATITUDE = 1 << 7,
    SEEN_LONGITUDE = 1 << 8,
    SEEN_VERSION = 1 << 9,
    SEEN_SOURCE = 1 << 10,
};

enum field {
    F_UNKNOWN, F_DEVICE_ID, F_TIMESTAMP, F_TEMPERATURE, F_HUMIDITY, F_PRESSURE, F_LOCATION,
    F_METADATA, F_LATITUDE, F_LONGITUDE, F_VERSION, F_SOURCE,
};

typedef struct decoder {
    fl_json_scanner sc;
    const fl_ingest_limits *limits;
    int64_t now_us;
    fl_record *rec;
    fl_record_error *err;
    char *extra; /* scratch region for `extra` */
    size_t extra_len, extra_cap;
    int extra_members;
    int extra_overflow;
    char *strings; /* scratch region for unescaped strings */
    size_t strings_len;
    int code; /* first rule broken, 0 if none yet */
    uint32_t seen;
} decoder;

static void reject(decoder *d, int code, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void reject(decoder *d, int code, const char *fmt, ...)
{
    if (d->code)
        return;
    d->code = code;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(d->err->message, sizeof d->err->message, fmt, ap);
    va_end(ap);
}

static const char *type_name(char c)
{
    switch (c) {
    case '"': return "string";
    case '{': return "object";
    case '[': return "array";
    case 't': case 'f': return "boolean";
    case 'n': return "null";
    default: return "number";
    }
}

static inline int at(const decoder *d, char c)
{
    return d->sc.p < d->sc.end && *d->sc.p == c;
}

static inline char peek(const decoder *d)
{
    return d->sc.p < d->sc.end ? *d->sc.p : 0;
}

/* Skips a value of the wrong kind after reporting it. */
static int wrong_type(decoder *d, const char *field, const char *expected, int64_t depth)
{
    reject(d, FL_RECORD_WRONG_TYPE, "%s: expected %s, got %s", field, expected,
           type_name(peek(d)));
    return fl_json_skip_value(&d->sc, depth);
}

/* A string value; escapes are decoded into scratch, otherwise borrowed from the text. */
static int get_string(decoder *d, fl_slice *out)
{
    fl_slice raw;
    int esc;
    if (fl_json_scan_string(&d->sc, &raw, &esc))
        return -1;
    if (!esc) {
        *out = raw;
        return 0;
    }
    char *dst = d->strings + d->strings_len;
    out->ptr = dst;
    out->len = fl_json_unescape(raw.ptr, raw.len, dst);
    d->strings_len += out->len;
    return 0;
}

/* A number value as a double (strtod-exact). */
static int get_number(decoder *d, fl_json_number *num, double *v)
{
    if (fl_json_scan_number(&d->sc, num))
        return -1;
    *v = fl_json_number_value(num, d->strings + d->strings_len);
    return 0;
}

static int null_literal(decoder *d)
{
    return fl_json_skip_value(&d->sc, 0);
}

/* ---- extra ------------------------------------------------------------------------------- */

static void extra_put(decoder *d, const char *p, size_t n)
{
    if (d->extra_len + n > d->extra_cap) {
        d->extra_overflow = 1;
        return;
    }
    memcpy(d->extra + d->extra_len, p, n);
    d->extra_len += n;
}

static void extra_separator(decoder *d)
{
    extra_put(d, d->extra_members++ ? "," : "{", 1);
}

/* Appends "key":value; `group` is NULL for top-level members, else "location"/"metadata",
 * whose group object is opened on its first member (*opened tracks that). */
static void extra_member(decoder *d, fl_slice quoted_key, const char *value, size_t value_len,
                         const char *group, int *opened)
{
    if (group) {
        if (!*opened) {
            extra_separator(d);
            extra_put(d, "\"", 1);
            extra_put(d, group, strlen(group));
            extra_put(d, "\":{", 3);
            *opened = 1;
        } else {
            extra_put(d, ",", 1);
        }
    } else {
        extra_separator(d);
    }
    extra_put(d, quoted_key.ptr, quoted_key.len);
    extra_put(d, ":", 1);
    extra_put(d, value, value_len);
}

/* ---- object members ---------------------------------------------------------------------- */

/* Reads `"key":` leaving sc.p at the value. *key is the decoded key (escapes resolved into
 * keybuf when short enough to be a known key), *quoted the key as written, quotes included. */
static int read_key(decoder *d, fl_slice *key, fl_slice *quoted, char keybuf[128])
{
    int esc;
    if (!at(d, '"'))
        return fl_json_fail(&d->sc, FL_JSON_SYNTAX);
    const char *q = d->sc.p;
    if (fl_json_scan_string(&d->sc, key, &esc))
        return -1;
    quoted->ptr = q;
    quoted->len = (size_t)(d->sc.p - q);
    if (esc && key->len <= 128) {
        key->len = fl_json_unescape(key->ptr, key->len, keybuf);
        key->ptr = keybuf;
    }
    fl_json_skip_ws(&d->sc);
    if (!at(d, ':'))
        return fl_json_fail(&d->sc, FL_JSON_SYNTAX);
    d->sc.p++;
    fl_json_skip_ws(&d->sc);
    return 0;
}

/* After a member's value: 1 if another member follows, 0 at '}' (consumed), -1 on error. */
static int next_member(decoder *d)
{
    fl_json_skip_ws(&d->sc);
    if (at(d, ',')) {
        d->sc.p++;
        fl_json_skip_ws(&d->sc);
        return 1;
    }
    if (at(d, '}')) {
        d->sc.p++;
        return 0;
    }
    return fl_json_fail(&d->sc, FL_JSON_SYNTAX);
}

/* Opens an object at depth `depth`: 1 if it has members, 0 if empty, -1 on error. */
static int open_object(decoder *d, int64_t depth)
{
    if (depth > d->sc.max_depth)
        return fl_json_fail(&d->sc, FL_JSON_DEPTH);
    d->sc.p++;
    fl_json_skip_ws(&d->sc);
    if (at(d, '}')) {
        d->sc.p++;
        return 0;
    }
    return 1;
}

static int is_key(fl_slice k, const char *name, size_t n)
{
    return k.len == n && memcmp(k.ptr, name, n) == 0;
}

static enum field match_top(fl_slice k)
{
    switch (k.len) {
    case 8:
        if (is_key(k, "humidity", 8)) return F_HUMIDITY;
        if (is_key(k, "pressure", 8)) return F_PRESSURE;
        if (is_key(k, "location", 8)) return F_LOCATION;
        if (is_key(k, "metadata", 8)) return F_METADATA;
        return F_UNKNOWN;
    case 9:
        if (is_key(k, "device_id", 9)) return F_DEVICE_ID;
        if (is_key(k, "timestamp", 9)) return F_TIMESTAMP;
        return F_UNKNOWN;
    case 11:
        return is_key(k, "temperature", 11) ? F_TEMPERATURE : F_UNKNOWN;
    default:
        return F_UNKNOWN;
    }
}

/* Marks a key seen; reports duplicate_field and returns 1 if it was seen before. */
static int duplicate(decoder *d, uint32_t bit, const char *field)
{
    if (d->seen & bit) {
        reject(d, FL_RECORD_DUPLICATE_FIELD, "%s: appears more than once", field);
        return 1;
    }
    d->seen |= bit;
    return 0;
}

/* ---- known fields -------------------------------------------------------------------------- */

static int field_device_id(decoder *d)
{
    fl_slice s;
    char c = peek(d);
    if (c == 'n') {
        reject(d, FL_RECORD_MISSING_FIELD, "device_id: missing (null)");
        return null_literal(d);
    }
    if (c != '"')
        return wrong_type(d, "device_id", "a string", 1);
    if (get_string(d, &s))
        return -1;
    if (s.len == 0) {
        reject(d, FL_RECORD_BAD_STRING, "device_id: is empty (1-128 bytes required)");
    } else if (s.len > FL_INGEST_DEVICE_ID_MAX) {
        reject(d, FL_RECORD_BAD_STRING, "device_id: %zu bytes is longer than 128", s.len);
    } else {
        for (size_t i = 0; i < s.len; i++) {
            unsigned char b = (unsigned char)s.ptr[i];
            if (!fl_ingest_device_id_char[b]) {
                reject(d, FL_RECORD_BAD_STRING,
                       "device_id: byte %zu (0x%02x) is not one of [A-Za-z0-9._:-]", i, b);
                return 0;
            }
        }
        d->rec->device_id = s;
    }
    return 0;
}

static void check_timestamp(decoder *d, int64_t us, const char *text, int text_len)
{
    const fl_ingest_limits *lim = d->limits;
    if (us < lim->min_timestamp_us) {
        char min[FL_TIME_RFC3339_MAX];
        fl_time_format_rfc3339(lim->min_timestamp_us, min);
        reject(d, FL_RECORD_BAD_TIMESTAMP, "timestamp: %.*s is before %.10s", text_len, text,
               min);
    } else if (us > d->now_us && (uint64_t)us - (uint64_t)d->now_us >
                                     (uint64_t)lim->max_future_skew_us) {
        reject(d, FL_RECORD_BAD_TIMESTAMP, "timestamp: %.*s is more than %" PRId64
               " s in the future", text_len, text, lim->max_future_skew_us / FL_US_PER_SEC);
    } else {
        d->rec->timestamp_us = us;
    }
}

static int timestamp_number(decoder *d)
{
    fl_json_number num;
    if (fl_json_scan_number(&d->sc, &num))
        return -1;
    int text_len = num.len > 40 ? 40 : (int)num.len;
    if (!num.is_integer) {
        reject(d, FL_RECORD_WRONG_TYPE, "timestamp: expected an RFC 3339 string or integer "
               "epoch milliseconds, got %.*s", text_len, num.text);
        return 0;
    }
    /* 9.2e15 ms is the largest that fits int64 microseconds (year ~294,000). */
    if (num.digits > 16 || num.mantissa > (uint64_t)(INT64_MAX / FL_US_PER_MS)) {
        reject(d, FL_RECORD_BAD_TIMESTAMP, "timestamp: %.*s ms is out of range", text_len,
               num.text);
        return 0;
    }
    int64_t ms = (int64_t)num.mantissa;
    check_timestamp(d, (num.negative ? -ms : ms) * FL_US_PER_MS, num.text, text_len);
    return 0;
}

static int field_timestamp(decoder *d)
{
    char c = peek(d);
    if (c == 'n') {
        reject(d, FL_RECORD_MISSING_FIELD, "timestamp: missing (null)");
        return null_literal(d);
    }
    if (c == '-' || (c >= '0' && c <= '9'))
        return timestamp_number(d);
    if (c != '"')
        return wrong_type(d, "timestamp", "an RFC 3339 string or integer epoch milliseconds", 1);
    fl_slice s;
    if (get_string(d, &s))
        return -1;
    int64_t us;
    int text_len = s.len > 64 ? 64 : (int)s.len;
    if (fl_time_parse_rfc3339(s.ptr, s.len, &us)) {
        reject(d, FL_RECORD_BAD_TIMESTAMP, "timestamp: \"%.*s\" is not RFC 3339 with a zone",
               text_len, s.ptr);
        return 0;
    }
    check_timestamp(d, us, s.ptr, text_len);
    return 0;
}

/* temperature, humidity, pressure: a finite number, or null/absent. */
static int field_sensor(decoder *d, const char *field, double *out, uint32_t present_bit)
{
    char c = peek(d);
    if (c == 'n')
        return null_literal(d);
    if (c != '-' && (c < '0' || c > '9'))
        return wrong_type(d, field, "a number or null", 1);
    fl_json_number num;
    double v;
    if (get_number(d, &num, &v))
        return -1;
    if (!isfinite(v)) {
        reject(d, FL_RECORD_WRONG_TYPE, "%s: %.*s is not a finite number", field,
               num.len > 40 ? 40 : (int)num.len, num.text);
        return 0;
    }
    *out = v;
    d->rec->present |= present_bit;
    return 0;
}

static int coordinate(decoder *d, const char *field, double limit, double *out, int *have)
{
    char c = peek(d);
    if (c == 'n')
        return null_literal(d);
    if (c != '-' && (c < '0' || c > '9'))
        return wrong_type(d, field, "a number or null", 2);
    fl_json_number num;
    double v;
    if (get_number(d, &num, &v))
        return -1;
    if (!(v >= -limit && v <= limit)) {
        reject(d, FL_RECORD_OUT_OF_RANGE, "%s: %.*s is outside %g..%g", field,
               num.len > 40 ? 40 : (int)num.len, num.text, -limit, limit);
        return 0;
    }
    *out = v;
    *have = 1;
    return 0;
}

static int location_member(decoder *d, fl_slice key, fl_slice quoted, int *have_lat,
                           int *have_lon, int *opened)
{
    if (is_key(key, "latitude", 8)) {
        if (duplicate(d, SEEN_LATITUDE, "location.latitude"))
            return fl_json_skip_value(&d->sc, 2);
        return coordinate(d, "location.latitude", 90, &d->rec->latitude, have_lat);
    }
    if (is_key(key, "longitude", 9)) {
        if (duplicate(d, SEEN_LONGITUDE, "location.longitude"))
            return fl_json_skip_value(&d->sc, 2);
        return coordinate(d, "location.longitude", 180, &d->rec->longitude, have_lon);
    }
    const char *v = d->sc.p;
    if (fl_json_skip_value(&d->sc, 2))
        return -1;
    extra_member(d, quoted, v, (size_t)(d->sc.p - v), "location", opened);
    return 0;
}

static int field_location(decoder *d)
{
    char c = peek(d);
    if (c == 'n')
        return null_literal(d);
    if (c != '{')
        return wrong_type(d, "location", "an object or null", 1);
    int have_lat = 0, have_lon = 0, opened = 0, more = open_object(d, 2);
    char keybuf[128];
    fl_slice key, quoted;
    while (more > 0) {
        if (read_key(d, &key, &quoted, keybuf) ||
            location_member(d, key, quoted, &have_lat, &have_lon, &opened))
            return -1;
        more = next_member(d);
    }
    if (more < 0)
        return -1;
    if (opened)
        extra_put(d, "}", 1);
    if (have_lat != have_lon)
        reject(d, FL_RECORD_OUT_OF_RANGE, "location: %s without %s",
               have_lat ? "latitude" : "longitude", have_lat ? "longitude" : "latitude");
    else if (have_lat)
        d->rec->present |= FL_REC_LOCATION;
    return 0;
}

static int meta_string(decoder *d, const char *field, fl_slice *out, uint32_t present_bit)
{
    char c = peek(d);
    if (c == 'n')
        return null_literal(d);
    if (c != '"')
        return wrong_type(d, field, "a string or null", 2);
    fl_slice s;
    if (get_string(d, &s))
        return -1;
    if (s.len > FL_INGEST_META_STRING_MAX) {
        reject(d, FL_RECORD_BAD_STRING, "%s: %zu bytes is longer than 128", field, s.len);
        return 0;
    }
    *out = s;
    d->rec->present |= present_bit;
    return 0;
}

static int metadata_member(decoder *d, fl_slice key, fl_slice quoted, int *opened)
{
    if (is_key(key, "version", 7)) {
        if (duplicate(d, SEEN_VERSION, "metadata.version"))
            return fl_json_skip_value(&d->sc, 2);
        return meta_string(d, "metadata.version", &d->rec->metadata_version,
                           FL_REC_META_VERSION);
    }
    if (is_key(key, "source", 6)) {
        if (duplicate(d, SEEN_SOURCE, "metadata.source"))
            return fl_json_skip_value(&d->sc, 2);
        return meta_string(d, "metadata.source", &d->rec->metadata_source, FL_REC_META_SOURCE);
    }
    const char *v = d->sc.p;
    if (fl_json_skip_value(&d->sc, 2))
        return -1;
    extra_member(d, quoted, v, (size_t)(d->sc.p - v), "metadata", opened);
    return 0;
}

static int field_metadata(decoder *d)
{
    char c = peek(d);
    if (c == 'n')
        return null_literal(d);
    if (c != '{')
        return wrong_type(d, "metadata", "an object or null", 1);
    int opened = 0, more = open_object(d, 2);
    char keybuf[128];
    fl_slice key, quoted;
    while (more > 0) {
        if (read_key(d, &key, &quoted, keybuf) || metadata_member(d, key, quoted, &opened))
            return -1;
        more = next_member(d);
    }
    if (more < 0)
        return -1;
    if (opened)
        extra_put(d, "}", 1);
    return 0;
}

/* ---- the record object ---------------------------------------------------------------------- */

static int top_member(decoder *d, fl_slice key, fl_slice quoted)
{
    fl_record *r = d->rec;
    switch (match_top(key)) {
#define ONCE(bit, name)                                                                            \
    if (duplicate(d, bit, name))                                                                   \
        return fl_json_skip_value(&d->sc, 1);
    case F_DEVICE_ID:
        ONCE(SEEN_DEVICE_ID, "device_id");
        return field_device_id(d);
    case F_TIMESTAMP:
        ONCE(SEEN_TIMESTAMP, "timestamp");
        return field_timestamp(d);
    case F_TEMPERATURE:
        ONCE(SEEN_TEMPERATURE, "temperature");
        return field_sensor(d, "temperature", &r->temperature, FL_REC_TEMPERATURE);
    case F_HUMIDITY:
        ONCE(SEEN_HUMIDITY, "humidity");
        return field_sensor(d, "humidity", &r->humidity, FL_REC_HUMIDITY);
    case F_PRESSURE:
        ONCE(SEEN_PRESSURE, "pressure");
        return field_sensor(d, "pressure", &r->pressure, FL_REC_PRESSURE);
    case F_LOCATION:
        ONCE(SEEN_LOCATION, "location");
        return field_location(d);
    case F_METADATA:
        ONCE(SEEN_METADATA, "metadata");
        return field_metadata(d);
#undef ONCE
    default: {
        const char *v = d->sc.p;
        if (fl_json_skip_value(&d->sc, 1))
            return -1;
        extra_member(d, quoted, v, (size_t)(d->sc.p - v), NULL, NULL);
        return 0;
    }
    }
}

static void decode_record_object(decoder *d)
{
    char keybuf[128];
    fl_slice key, quoted;
    int more = open_object(d, 1);
    while (more > 0) {
        if (read_key(d, &key, &quoted, keybuf) || top_member(d, key, quoted))
            return;
        more = next_member(d);
    }
    if (more < 0)
        return;
    fl_json_skip_ws(&d->sc);
    if (d->sc.p != d->sc.end)
        fl_json_fail(&d->sc, FL_JSON_SYNTAX);
}

/* Non-object records: still validated, so broken JSON says bad_json. */
static void decode_other(decoder *d)
{
    char c = peek(d);
    if (fl_json_skip_value(&d->sc, 0))
        return;
    fl_json_skip_ws(&d->sc);
    if (d->sc.p != d->sc.end) {
        fl_json_fail(&d->sc, FL_JSON_SYNTAX);
        return;
    }
    reject(d, FL_RECORD_NOT_OBJECT, "record: expected a JSON object, got %s", type_name(c));
}

static void finish_extra(decoder *d)
{
    fl_record *r = d->rec;
    if (!d->extra_members)
        return;
    extra_put(d, "}", 1);
    if (d->extra_overflow || (int64_t)d->extra_len > d->limits->max_extra_bytes) {
        reject(d, FL_RECORD_TOO_LARGE, "extra: unknown fields take %zu bytes, more than %" PRId64,
               d->extra_len, d->limits->max_extra_bytes);
        return;
    }
    r->extra.ptr = d->extra;
    r->extra.len = d->extra_len;
    r->present |= FL_REC_EXTRA;
}

static int finish(decoder *d)
{
    fl_record_error *err = d->err;
    if (d->sc.error == FL_JSON_DEPTH) {
        err->code = FL_RECORD_TOO_DEEP;
        snprintf(err->message, sizeof err->message, "record: nested deeper than %" PRId64
                 " levels", d->sc.max_depth);
        return err->code;
    }
    if (d->sc.error) {
        err->code = FL_RECORD_BAD_JSON;
        snprintf(err->message, sizeof err->message, "record: invalid JSON at byte %zu",
                 (size_t)(d->sc.error_at - d->sc.start));
        return err->code;
    }
    finish_extra(d);
    if (!d->code && !(d->seen & SEEN_DEVICE_ID))
        reject(d, FL_RECORD_MISSING_FIELD, "device_id: missing");
    if (!d->code && !(d->seen & SEEN_TIMESTAMP))
        reject(d, FL_RECORD_MISSING_FIELD, "timestamp: missing");
    err->code = d->code;
    if (!d->code)
        err->message[0] = 0;
    return d->code;
}

int fl_record_decode_json(const char *text, size_t len, int64_t now_us,
                          const fl_ingest_limits *limits, fl_record *out, fl_buf *scratch,
                          fl_record_error *err)
{
    decoder d;
    memset(out, 0, sizeof *out);
    fl_buf_reset(scratch);
    if (len > SIZE_MAX / 4 || fl_buf_reserve(scratch, 2 * len + 128)) {
        err->code = FL_RECORD_TOO_LARGE;
        snprintf(err->message, sizeof err->message, "record: out of memory for %zu bytes", len);
        return err->code;
    }
    fl_json_scanner_init(&d.sc, text, len, limits->max_json_depth);
    d.limits = limits;
    d.now_us = now_us;
    d.rec = out;
    d.err = err;
    d.extra = scratch->data;
    d.extra_len = 0;
    d.extra_cap = len + 64;
    d.extra_members = 0;
    d.extra_overflow = 0;
    d.strings = scratch->data + len + 64;
    d.strings_len = 0;
    d.code = 0;
    d.seen = 0;
    fl_json_skip_ws(&d.sc);
    if (at(&d, '{'))
        decode_record_object(&d);
    else
        decode_other(&d);
    int code = finish(&d);
    scratch->len = len + 64 + d.strings_len;
    scratch->data[scratch->len] = 0;
    if (code)
        memset(out, 0, sizeof *out);
    return code;
}
