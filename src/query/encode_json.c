/* encode_json.c — the JSON result encoders. "json": one object {"columns":[...],"rows":[[...],
 * ...],"stats":{...}}, or with "error":{"code","message"} instead of "stats" when the statement
 * fails after output began. "ndjson": one object per row keyed by column name, and a last line
 * {"error":{...}} on such a failure. Values: INTEGER and REAL as numbers (non-finite REAL as
 * null), TEXT as strings, BLOB as a hex string, NULL as null. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "query/query_int.h"

int fl_query_json_value(fl_buf *out, sqlite3_value *v)
{
    switch (sqlite3_value_type(v)) {
    case SQLITE_INTEGER:
        return fl_buf_printf(out, "%lld", (long long)sqlite3_value_int64(v));
    case SQLITE_FLOAT: {
        double x = sqlite3_value_double(v);
        if (!isfinite(x))
            return fl_buf_append_cstr(out, "null");
        return fl_buf_append_double(out, x);
    }
    case SQLITE_TEXT: {
        const char *t = (const char *)sqlite3_value_text(v);
        int rc = fl_buf_append_cstr(out, "\"");
        rc = rc ? rc : fl_buf_append_json_string(out, t ? t : "", (size_t)sqlite3_value_bytes(v));
        return rc ? rc : fl_buf_append_cstr(out, "\"");
    }
    case SQLITE_BLOB: {
        const unsigned char *p = sqlite3_value_blob(v);
        int n = sqlite3_value_bytes(v), rc = fl_buf_append_cstr(out, "\"");
        for (int i = 0; !rc && i < n; i++)
            rc = fl_buf_printf(out, "%02x", p[i]);
        return rc ? rc : fl_buf_append_cstr(out, "\"");
    }
    default:
        return fl_buf_append_cstr(out, "null");
    }
}

static int json_string(fl_buf *out, const char *s)
{
    int rc = fl_buf_append_cstr(out, "\"");
    rc = rc ? rc : fl_buf_append_json_string(out, s ? s : "", s ? strlen(s) : 0);
    return rc ? rc : fl_buf_append_cstr(out, "\"");
}

static int error_object(fl_buf *out, const fl_query_error *err)
{
    int rc = fl_buf_append_cstr(out, "{\"code\":");
    rc = rc ? rc : json_string(out, err->code);
    rc = rc ? rc : fl_buf_append_cstr(out, ",\"message\":");
    rc = rc ? rc : json_string(out, err->message);
    return rc ? rc : fl_buf_append_cstr(out, "}");
}

static int json_begin(fl_buf *out, sqlite3_stmt *st)
{
    int rc = fl_buf_append_cstr(out, "{\"columns\":[");
    for (int i = 0; !rc && i < sqlite3_column_count(st); i++) {
        rc = i ? fl_buf_append_cstr(out, ",") : 0;
        rc = rc ? rc : json_string(out, sqlite3_column_name(st, i));
    }
    return rc ? rc : fl_buf_append_cstr(out, "],\"rows\":[\n");
}

static int json_row(fl_buf *out, sqlite3_stmt *st, int64_t index)
{
    int rc = fl_buf_append_cstr(out, index ? ",[" : "[");
    for (int i = 0; !rc && i < sqlite3_column_count(st); i++) {
        rc = i ? fl_buf_append_cstr(out, ",") : 0;
        rc = rc ? rc : fl_query_json_value(out, sqlite3_column_value(st, i));
    }
    return rc ? rc : fl_buf_append_cstr(out, "]\n");
}

static int json_end(fl_buf *out, const char *stats_json, const fl_query_error *err)
{
    if (err) {
        int rc = fl_buf_append_cstr(out, "],\"error\":");
        rc = rc ? rc : error_object(out, err);
        return rc ? rc : fl_buf_append_cstr(out, "}\n");
    }
    return fl_buf_printf(out, "],\"stats\":%s}\n", stats_json ? stats_json : "{}");
}

static int ndjson_begin(fl_buf *out, sqlite3_stmt *st)
{
    (void)out;
    (void)st;
    return 0;
}

static int ndjson_row(fl_buf *out, sqlite3_stmt *st, int64_t index)
{
    (void)index;
    int rc = fl_buf_append_cstr(out, "{");
    for (int i = 0; !rc && i < sqlite3_column_count(st); i++) {
        rc = i ? fl_buf_append_cstr(out, ",") : 0;
        rc = rc ? rc : json_string(out, sqlite3_column_name(st, i));
        rc = rc ? rc : fl_buf_append_cstr(out, ":");
        rc = rc ? rc : fl_query_json_value(out, sqlite3_column_value(st, i));
    }
    return rc ? rc : fl_buf_append_cstr(out, "}\n");
}

static int ndjson_end(fl_buf *out, const char *stats_json, const fl_query_error *err)
{
    (void)stats_json;
    if (!err)
        return 0;
    int rc = fl_buf_append_cstr(out, "{\"error\":");
    rc = rc ? rc : error_object(out, err);
    return rc ? rc : fl_buf_append_cstr(out, "}\n");
}

const fl_query_encoder fl_query_encoder_json = {"json", "application/json", json_begin, json_row,
                                                json_end};
const fl_query_encoder fl_query_encoder_ndjson = {"ndjson", "application/x-ndjson", ndjson_begin,
                                                  ndjson_row, ndjson_end};
