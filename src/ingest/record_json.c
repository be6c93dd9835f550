/* record_json.c — a normalised record back to the incoming JSON schema, plus the small
 * shared pieces of the ingest module: error-code names and limits from the config table.
 *
 * fl_record_to_json() is what readers of the stream show to people (GET /v1/stream, the
 * dead-letter tools, debugging) and what the fuzz harness uses to check that decoding is
 * lossless: the timestamp comes out as RFC 3339 UTC with microseconds, numbers as the
 * shortest text that reads back to the same double, and `extra` is merged back: its
 * "location"/"metadata" groups (unknown members of those objects, see record_decode.c) go
 * back inside those objects, every other member is appended at the top level verbatim. */
#include <string.h>

#include "ingest/ingest_int.h"

static const char *const record_error_names[] = {
    "ok",
#define FL_REC_ERR_NAME_(name, str) str,
    FL_RECORD_ERROR_MAP(FL_REC_ERR_NAME_)
#undef FL_REC_ERR_NAME_
};

const char *fl_record_error_name(int code)
{
    if (code < 0 || code >= FL_RECORD_ERROR_COUNT)
        return "unknown";
    return record_error_names[code];
}

void fl_ingest_limits_from_config(const fl_config *cfg, fl_ingest_limits *out)
{
    out->max_json_depth = cfg->max_json_depth;
    out->max_extra_bytes = cfg->max_extra_bytes;
    out->max_future_skew_us = cfg->max_future_skew_s * FL_US_PER_SEC;
    out->min_timestamp_us = INT64_C(946684800) * FL_US_PER_SEC; /* 2000-01-01T00:00:00Z */
}

/* ---- extra, taken apart -------------------------------------------------------------------- */

typedef struct extra_parts {
    fl_slice location; /* inside of the "location" group's braces, or empty */
    fl_slice metadata;
} extra_parts;

/* Calls back with each member's text (`"key":value`) of the extra object; groups named
 * location/metadata are put into *parts instead when `parts` is non-NULL. */
typedef int (*extra_member_cb)(void *ctx, const char *p, size_t n);

static fl_slice trim_braces(const char *v, size_t n)
{
    fl_slice s = {v + 1, n - 2};
    while (s.len && fl_json_is_ws((unsigned char)s.ptr[0]))
        s.ptr++, s.len--;
    while (s.len && fl_json_is_ws((unsigned char)s.ptr[s.len - 1]))
        s.len--;
    return s;
}

static int walk_extra(fl_slice extra, extra_parts *parts, extra_member_cb cb, void *ctx)
{
    fl_json_scanner sc;
    fl_json_scanner_init(&sc, extra.ptr, extra.len, 1024);
    fl_json_skip_ws(&sc);
    if (sc.p >= sc.end || *sc.p != '{')
        return FL_EINVAL;
    sc.p++;
    fl_json_skip_ws(&sc);
    while (sc.p < sc.end && *sc.p == '"') {
        const char *member = sc.p;
        fl_slice key;
        int esc;
        if (fl_json_scan_string(&sc, &key, &esc))
            return FL_EINVAL;
        fl_json_skip_ws(&sc);
        if (sc.p >= sc.end || *sc.p++ != ':')
            return FL_EINVAL;
        fl_json_skip_ws(&sc);
        const char *v = sc.p;
        if (fl_json_skip_value(&sc, 1))
            return FL_EINVAL;
        int group_loc = fl_slice_eq_cstr(key, "location") && *v == '{';
        int group_meta = fl_slice_eq_cstr(key, "metadata") && *v == '{';
        if (parts && group_loc)
            parts->location = trim_braces(v, (size_t)(sc.p - v));
        else if (parts && group_meta)
            parts->metadata = trim_braces(v, (size_t)(sc.p - v));
        else if (cb && !group_loc && !group_meta) {
            int rc = cb(ctx, member, (size_t)(sc.p - member));
            if (rc)
                return rc;
        }
        fl_json_skip_ws(&sc);
        if (sc.p < sc.end && *sc.p == ',') {
            sc.p++;
            fl_json_skip_ws(&sc);
        }
    }
    return sc.p < sc.end && *sc.p == '}' ? 0 : FL_EINVAL;
}

static int append_member_cb(void *ctx, const char *p, size_t n)
{
    fl_buf *out = ctx;
    int rc = fl_buf_append(out, ",", 1);
    return rc ? rc : fl_buf_append(out, p, n);
}

/* ---- writing ------------------------------------------------------------------------------- */

static int put_number(fl_buf *out, const char *key, double v)
{
    char num[32];
    size_t n = fl_json_format_double(v, num);
    int rc = fl_buf_append_cstr(out, key);
    return rc ? rc : fl_buf_append(out, num, n);
}

static int put_string(fl_buf *out, const char *key, fl_slice s)
{
    int rc = fl_buf_append_cstr(out, key);
    if (!rc)
        rc = fl_buf_append_json_string(out, s.ptr, s.len);
    return rc ? rc : fl_buf_append(out, "\"", 1);
}

/* Appends `,<extra members>` inside a just-opened object; `first` says nothing precedes. */
static int put_group(fl_buf *out, fl_slice members, int first)
{
    if (!members.len)
        return 0;
    int rc = first ? 0 : fl_buf_append(out, ",", 1);
    return rc ? rc : fl_buf_append(out, members.ptr, members.len);
}

static int put_location(fl_buf *out, const fl_record *rec, fl_slice group)
{
    int has = rec->present & FL_REC_LOCATION;
    if (!has && !group.len)
        return 0;
    int rc = fl_buf_append_cstr(out, ",\"location\":{");
    if (!rc && has)
        rc = put_number(out, "\"latitude\":", rec->latitude);
    if (!rc && has)
        rc = put_number(out, ",\"longitude\":", rec->longitude);
    if (!rc)
        rc = put_group(out, group, !has);
    return rc ? rc : fl_buf_append(out, "}", 1);
}

static int put_metadata(fl_buf *out, const fl_record *rec, fl_slice group)
{
    int v = rec->present & FL_REC_META_VERSION, s = rec->present & FL_REC_META_SOURCE;
    if (!v && !s && !group.len)
        return 0;
    int rc = fl_buf_append_cstr(out, ",\"metadata\":{");
    if (!rc && v)
        rc = put_string(out, "\"version\":\"", rec->metadata_version);
    if (!rc && s)
        rc = put_string(out, v ? ",\"source\":\"" : "\"source\":\"", rec->metadata_source);
    if (!rc)
        rc = put_group(out, group, !v && !s);
    return rc ? rc : fl_buf_append(out, "}", 1);
}

int fl_record_to_json(const fl_record *rec, fl_buf *out)
{
    extra_parts parts = {{NULL, 0}, {NULL, 0}};
    int has_extra = rec->present & FL_REC_EXTRA;
    int rc = has_extra ? walk_extra(rec->extra, &parts, NULL, NULL) : 0;
    if (rc)
        return rc;
    char ts[FL_TIME_RFC3339_MAX];
    size_t ts_len = fl_time_format_rfc3339(rec->timestamp_us, ts);
    rc = put_string(out, "{\"device_id\":\"", rec->device_id);
    if (!rc)
        rc = put_string(out, ",\"timestamp\":\"", (fl_slice){ts, ts_len});
    if (!rc && (rec->present & FL_REC_TEMPERATURE))
        rc = put_number(out, ",\"temperature\":", rec->temperature);
    if (!rc && (rec->present & FL_REC_HUMIDITY))
        rc = put_number(out, ",\"humidity\":", rec->humidity);
    if (!rc && (rec->present & FL_REC_PRESSURE))
        rc = put_number(out, ",\"pressure\":", rec->pressure);
    if (!rc)
        rc = put_location(out, rec, parts.location);
    if (!rc)
        rc = put_metadata(out, rec, parts.metadata);
    if (!rc && has_extra)
        rc = walk_extra(rec->extra, NULL, append_member_cb, out);
    return rc ? rc : fl_buf_append(out, "}", 1);
}
