/* encode_text.c — the text result encoders. "csv": RFC 4180 with a header row (NULL is an
 * empty field, BLOB hex). "table": a header, a rule and one line per row with " | " between
 * values (not padded: output streams, so widths are not known in advance), then "(N rows)".
 * Neither format can carry an error after output began: the caller signals it (the CLI on
 * stderr with a non-zero exit, the server by aborting the chunked response). */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "query/query_int.h"

static int text_value(fl_buf *out, sqlite3_value *v, int csv)
{
    switch (sqlite3_value_type(v)) {
    case SQLITE_NULL:
        return csv ? 0 : fl_buf_append_cstr(out, "NULL");
    case SQLITE_INTEGER:
        return fl_buf_printf(out, "%lld", (long long)sqlite3_value_int64(v));
    case SQLITE_FLOAT:
        return fl_buf_append_double(out, sqlite3_value_double(v));
    case SQLITE_BLOB: {
        const unsigned char *p = sqlite3_value_blob(v);
        int rc = 0;
        for (int i = 0; !rc && i < sqlite3_value_bytes(v); i++)
            rc = fl_buf_printf(out, "%02x", p[i]);
        return rc;
    }
    default:
        break;
    }
    const char *t = (const char *)sqlite3_value_text(v);
    size_t n = (size_t)sqlite3_value_bytes(v);
    if (!csv || !t || strcspn(t, ",\"\r\n") == n)
        return fl_buf_append(out, t ? t : "", t ? n : 0);
    int rc = fl_buf_append_cstr(out, "\"");
    for (size_t i = 0; !rc && i < n; i++)
        rc = t[i] == '"' ? fl_buf_append_cstr(out, "\"\"") : fl_buf_append(out, &t[i], 1);
    return rc ? rc : fl_buf_append_cstr(out, "\"");
}

static int header(fl_buf *out, sqlite3_stmt *st, const char *sep)
{
    int rc = 0;
    for (int i = 0; !rc && i < sqlite3_column_count(st); i++) {
        rc = i ? fl_buf_append_cstr(out, sep) : 0;
        rc = rc ? rc : fl_buf_append_cstr(out, sqlite3_column_name(st, i));
    }
    return rc;
}

static int csv_begin(fl_buf *out, sqlite3_stmt *st)
{
    int rc = header(out, st, ",");
    return rc ? rc : fl_buf_append_cstr(out, "\r\n");
}

static int line(fl_buf *out, sqlite3_stmt *st, const char *sep, const char *eol, int csv)
{
    int rc = 0;
    for (int i = 0; !rc && i < sqlite3_column_count(st); i++) {
        rc = i ? fl_buf_append_cstr(out, sep) : 0;
        rc = rc ? rc : text_value(out, sqlite3_column_value(st, i), csv);
    }
    return rc ? rc : fl_buf_append_cstr(out, eol);
}

static int csv_row(fl_buf *out, sqlite3_stmt *st, int64_t index)
{
    (void)index;
    return line(out, st, ",", "\r\n", 1);
}

static int csv_end(fl_buf *out, const char *stats_json, const fl_query_error *err)
{
    (void)out;
    (void)stats_json;
    (void)err;
    return 0;
}

static int table_begin(fl_buf *out, sqlite3_stmt *st)
{
    size_t start = out->len;
    int rc = header(out, st, " | ");
    size_t width = out->len - start;
    rc = rc ? rc : fl_buf_append_cstr(out, "\n");
    for (size_t i = 0; !rc && i < (width ? width : 1); i++)
        rc = fl_buf_append_cstr(out, "-");
    return rc ? rc : fl_buf_append_cstr(out, "\n");
}

static int table_row(fl_buf *out, sqlite3_stmt *st, int64_t index)
{
    (void)index;
    return line(out, st, " | ", "\n", 0);
}

static int table_end(fl_buf *out, const char *stats_json, const fl_query_error *err)
{
    (void)stats_json;
    (void)err;
    (void)out;
    return 0;
}

const fl_query_encoder fl_query_encoder_csv = {"csv", "text/csv; charset=utf-8", csv_begin, csv_row,
                                               csv_end};
const fl_query_encoder fl_query_encoder_table = {"table", "text/plain; charset=utf-8", table_begin,
                                                 table_row, table_end};

const fl_query_encoder *fl_query_encoder_find(const char *name)
{
    static const fl_query_encoder *const all[] = {&fl_query_encoder_table, &fl_query_encoder_csv,
                                                  &fl_query_encoder_json, &fl_query_encoder_ndjson};
    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++)
        if (name && strcmp(all[i]->name, name) == 0)
            return all[i];
    return NULL;
}

const char *fl_query_encoder_content_type(const fl_query_encoder *e)
{
    return e->content_type;
}
