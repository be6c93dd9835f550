/* devices.c — the device routes (the DynamoDB-backed API of the reference): the list of
 * devices with their status, one device's latest state, and its processed readings. The
 * handlers parse and bound the query, call the processor's thread-safe query interface
 * (process.h) and encode JSON; they never look inside the processor. */
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gateway/gateway_int.h"

/* Page sizes: a page of devices is ~600 B each, of readings ~350 B each; these bound one
 * response to a few MiB however many devices or readings match. */
#define DEVICES_LIMIT_DEFAULT 100
#define DEVICES_LIMIT_MAX 1000
#define READINGS_LIMIT_DEFAULT 1000
#define READINGS_LIMIT_MAX 10000

static const char *arg(fl_request *req, const char *name)
{
    const char *v = MHD_lookup_connection_value(req->conn, MHD_GET_ARGUMENT_KIND, name);
    return v && *v ? v : NULL;
}

/* limit=: absent -> def; 1..max; otherwise -1. */
static long parse_limit(const char *s, long def, long max)
{
    if (!s)
        return def;
    char *end;
    long v = strtol(s, &end, 10);
    return *end || v < 1 || v > max ? -1 : v;
}

static int json_double(fl_buf *b, const char *name, int present, double v)
{
    int rc = fl_buf_printf(b, "\"%s\":", name);
    if (rc || !present || !isfinite(v))
        return rc ? rc : fl_buf_append_cstr(b, "null");
    return fl_buf_append_double(b, v);
}

static int json_time(fl_buf *b, const char *name, int64_t us)
{
    char t[40];
    fl_time_format_rfc3339(us, t);
    return fl_buf_printf(b, "\"%s\":\"%s\"", name, t);
}

/* show_location: the caller's classification reaches confidential (latitude/longitude are
 * personal data; below it the members are left out, not nulled). */
static int json_reading(fl_buf *b, const fl_lake_processed_row *r, int show_location)
{
    uint32_t p = r->present;
    int rc = fl_buf_append_cstr(b, "{");
    rc = rc ? rc : json_time(b, "timestamp", r->timestamp_us);
    rc = rc ? rc : fl_buf_append_cstr(b, ",");
    rc = rc ? rc : json_double(b, "temperature", p & FL_REC_TEMPERATURE, r->temperature);
    rc = rc ? rc : fl_buf_append_cstr(b, ",");
    rc = rc ? rc : json_double(b, "humidity", p & FL_REC_HUMIDITY, r->humidity);
    rc = rc ? rc : fl_buf_append_cstr(b, ",");
    rc = rc ? rc : json_double(b, "pressure", p & FL_REC_PRESSURE, r->pressure);
    rc = rc ? rc : fl_buf_append_cstr(b, ",");
    if (show_location) {
        rc = rc ? rc : json_double(b, "latitude", p & FL_REC_LOCATION, r->latitude);
        rc = rc ? rc : fl_buf_append_cstr(b, ",");
        rc = rc ? rc : json_double(b, "longitude", p & FL_REC_LOCATION, r->longitude);
        rc = rc ? rc : fl_buf_append_cstr(b, ",");
    }
    rc = rc ? rc
            : json_double(b, "temperature_fahrenheit", p & FL_REC_TEMPERATURE,
                          r->temperature_fahrenheit);
    rc = rc ? rc : fl_buf_append_cstr(b, ",");
    rc = rc ? rc : json_double(b, "anomaly_score", 1, r->anomaly_score);
    rc = rc ? rc
            : fl_buf_printf(b,
                            ",\"anomaly_flag\":%s,\"day_of_week\":%d,\"is_weekend\":%s,"
                            "\"local_hour\":%d,\"quality_flags\":%d}",
                            r->anomaly_flag ? "true" : "false", (int)r->day_of_week,
                            r->is_weekend ? "true" : "false", (int)r->local_hour,
                            (int)r->quality_flags);
    return rc;
}

static int json_device(fl_buf *b, const fl_device_info *d, int show_location)
{
    int rc = fl_buf_append_cstr(b, "{\"device_id\":\"");
    rc = rc ? rc : fl_buf_append_json_string(b, d->device_id, strlen(d->device_id));
    rc = rc ? rc
            : fl_buf_printf(b, "\",\"shard\":\"shard-%04u\",\"status\":\"%s\",", d->shard,
                            fl_device_status_name(d->status));
    rc = rc ? rc : json_time(b, "last_seen", d->last_seen_us);
    rc = rc ? rc
            : fl_buf_printf(b, ",\"record_count\":%" PRId64 ",\"anomaly_count\":%" PRId64
                               ",\"latest\":",
                            d->record_count, d->anomaly_count);
    rc = rc ? rc
            : d->latest.timestamp_us || d->record_count ? json_reading(b, &d->latest, show_location)
                                                         : fl_buf_append_cstr(b, "null");
    rc = rc ? rc : fl_buf_append_cstr(b, ",\"last_anomaly\":");
    if (!rc && d->has_anomaly) {
        rc = fl_buf_append_cstr(b, "{");
        rc = rc ? rc : json_time(b, "timestamp", d->last_anomaly_us);
        rc = rc ? rc
                : fl_buf_printf(b, ",\"kind\":\"%s\",\"metric\":\"%s\",",
                                fl_anomaly_kind_name(d->last_anomaly_kind),
                                fl_metric_name(d->last_anomaly_metric));
        rc = rc ? rc : json_double(b, "score", 1, d->last_anomaly_score);
        rc = rc ? rc : fl_buf_append_cstr(b, "}");
    } else if (!rc) {
        rc = fl_buf_append_cstr(b, "null");
    }
    return rc ? rc : fl_buf_append_cstr(b, "}");
}

/* Cursors are the hex of the last device id returned: opaque, and safe in a URL. */
static void cursor_encode(const char *id, char *out)
{
    static const char hex[] = "0123456789abcdef";
    for (; *id; id++) {
        *out++ = hex[(unsigned char)*id >> 4];
        *out++ = hex[(unsigned char)*id & 15];
    }
    *out = 0;
}

static int cursor_decode(const char *s, char *out, size_t n)
{
    size_t len = strlen(s);
    if (len % 2 || len / 2 >= n)
        return -1;
    for (size_t i = 0; i < len; i += 2) {
        unsigned v;
        if (sscanf(s + i, "%2x", &v) != 1 || !v)
            return -1;
        *out++ = (char)v;
    }
    *out = 0;
    return 0;
}

static int show_location(const fl_request *req)
{
    return fl_column_class("device_state", "latitude") <= req->access.max_class;
}

/* A device the key may not see is answered like one that does not exist. */
static int device_hidden(const fl_request *req, fl_slice id)
{
    return !fl_access_device_allowed(&req->access, id.ptr, id.len);
}

static int unavailable(fl_gateway *gw, fl_request *req)
{
    if (gw->deps.processor)
        return 0;
    fl_respond_error_retry(req, 503, 5, "unavailable", "the processor is not running");
    return 1;
}

void fl_handle_devices(fl_gateway *gw, fl_request *req)
{
    if (unavailable(gw, req))
        return;
    const char *st = arg(req, "status"), *cur = arg(req, "cursor");
    int status = st ? fl_device_status_parse(st) : -1;
    long limit = parse_limit(arg(req, "limit"), DEVICES_LIMIT_DEFAULT, DEVICES_LIMIT_MAX);
    char after[FL_DEVICE_ID_BYTES_MAX + 1] = "";
    if (st && status < 0) {
        fl_respond_error(req, 400, "bad_parameter", "status must be online, stale or offline");
        return;
    }
    if (limit < 0) {
        fl_respond_error(req, 400, "bad_parameter", "limit must be an integer in 1..%d",
                         DEVICES_LIMIT_MAX);
        return;
    }
    if (cur && cursor_decode(cur, after, sizeof after)) {
        fl_respond_error(req, 400, "bad_parameter", "cursor is not one this server returned");
        return;
    }
    fl_device_info *v = fl_calloc((size_t)limit, sizeof *v);
    size_t n = 0;
    int more = 0;
    fl_buf b = {0};
    int rc = v ? 0 : FL_ENOMEM;
    /* Fill the page with devices the key may see: pages of the processor's list, filtered,
     * until the page is full or the list ends (bounded by the number of devices). */
    while (!rc && n < (size_t)limit) {
        size_t got = 0;
        rc = fl_processor_devices_list(gw->deps.processor, status, after, fl_time_now_us(),
                                       v + n, (size_t)limit - n, &got, &more);
        size_t base = n;
        for (size_t i = 0; !rc && i < got; i++) {
            const char *id = v[base + i].device_id;
            snprintf(after, sizeof after, "%s", id);
            if (fl_access_device_allowed(&req->access, id, strlen(id))) {
                if (n != base + i)
                    v[n] = v[base + i];
                n++;
            }
        }
        if (!more || got == 0)
            break;
    }
    rc = rc ? rc : fl_buf_append_cstr(&b, "{\"devices\":[");
    for (size_t i = 0; !rc && i < n; i++)
        rc = (i ? fl_buf_append_cstr(&b, ",") : 0) ? FL_ENOMEM
                                                   : json_device(&b, &v[i], show_location(req));
    if (!rc && more && n) {
        char next[2 * FL_DEVICE_ID_BYTES_MAX + 1];
        cursor_encode(v[n - 1].device_id, next);
        rc = fl_buf_printf(&b, "],\"next_cursor\":\"%s\"}\n", next);
    } else if (!rc) {
        rc = fl_buf_append_cstr(&b, "],\"next_cursor\":null}\n");
    }
    fl_free(v);
    if (rc) {
        fl_buf_free(&b);
        fl_respond_error(req, 500, "internal", "cannot list devices: %s", fl_strerror(rc));
        return;
    }
    fl_respond_json(req, 200, &b);
}

/* from/to: RFC 3339 or integer epoch milliseconds. */
static int parse_time(const char *s, int64_t *out_us)
{
    char *end;
    long long ms = strtoll(s, &end, 10);
    if (*end == 0 && end != s) {
        if (ms > INT64_MAX / 1000 || ms < INT64_MIN / 1000)
            return -1;
        *out_us = (int64_t)ms * 1000;
        return 0;
    }
    return fl_time_parse_rfc3339(s, strlen(s), out_us) ? -1 : 0;
}

static void handle_readings(fl_gateway *gw, fl_request *req, fl_slice id)
{
    int64_t from = INT64_MIN, to = INT64_MAX;
    const char *f = arg(req, "from"), *t = arg(req, "to");
    long limit = parse_limit(arg(req, "limit"), READINGS_LIMIT_DEFAULT, READINGS_LIMIT_MAX);
    if ((f && parse_time(f, &from)) || (t && parse_time(t, &to))) {
        fl_respond_error(req, 400, "bad_parameter",
                         "from and to must be RFC 3339 times or epoch milliseconds");
        return;
    }
    if (limit < 0) {
        fl_respond_error(req, 400, "bad_parameter", "limit must be an integer in 1..%d",
                         READINGS_LIMIT_MAX);
        return;
    }
    fl_device_info info;
    if (device_hidden(req, id) ||
        fl_processor_device_get(gw->deps.processor, id, fl_time_now_us(), &info)) {
        fl_respond_error(req, 404, "not_found", "no device %.*s", (int)id.len, id.ptr);
        return;
    }
    fl_lake_processed_row *v = fl_calloc((size_t)limit, sizeof *v);
    size_t n = 0;
    int more = 0;
    fl_buf b = {0};
    int rc = v ? fl_processor_readings(gw->deps.processor, id, from, to, v, (size_t)limit, &n,
                                       &more)
               : FL_ENOMEM;
    rc = rc ? rc : fl_buf_append_cstr(&b, "{\"device_id\":\"");
    rc = rc ? rc : fl_buf_append_json_string(&b, id.ptr, id.len);
    rc = rc ? rc : fl_buf_append_cstr(&b, "\",\"readings\":[");
    for (size_t i = 0; !rc && i < n; i++)
        rc = (i ? fl_buf_append_cstr(&b, ",") : 0) ? FL_ENOMEM
                                                   : json_reading(&b, &v[i], show_location(req));
    rc = rc ? rc : fl_buf_printf(&b, "],\"truncated\":%s}\n", more ? "true" : "false");
    fl_free(v);
    if (rc) {
        fl_buf_free(&b);
        fl_respond_error(req, 500, "internal", "cannot read readings: %s", fl_strerror(rc));
        return;
    }
    fl_respond_json(req, 200, &b);
}

void fl_handle_device(fl_gateway *gw, fl_request *req)
{
    if (unavailable(gw, req))
        return;
    const char *rest = req->url + strlen("/v1/devices/");
    const char *slash = strchr(rest, '/');
    fl_slice id = {rest, slash ? (size_t)(slash - rest) : strlen(rest)};
    if (id.len == 0 || id.len > FL_DEVICE_ID_BYTES_MAX ||
        (slash && strcmp(slash, "/readings") != 0)) {
        fl_respond_error(req, 404, "not_found", "no route GET %s", req->url);
        return;
    }
    if (slash) {
        handle_readings(gw, req, id);
        return;
    }
    fl_device_info info;
    if (device_hidden(req, id) ||
        fl_processor_device_get(gw->deps.processor, id, fl_time_now_us(), &info)) {
        fl_respond_error(req, 404, "not_found", "no device %.*s", (int)id.len, id.ptr);
        return;
    }
    fl_buf b = {0};
    int rc = json_device(&b, &info, show_location(req));
    rc = rc ? rc : fl_buf_append_cstr(&b, "\n");
    if (rc) {
        fl_buf_free(&b);
        fl_respond_error(req, 500, "internal", "out of memory");
        return;
    }
    fl_respond_json(req, 200, &b);
}
