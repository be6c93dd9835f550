/* body_split.c — cutting a POST /v1/records body into one text per record.
 *
 * The gateway calls this once per request, after gunzip and before decoding records. It is a
 * single pass over the body with the json_scan.c validator: a JSON array must be valid as a
 * whole (one broken element makes the whole body bad_json, since where the next element starts
 * is then unknowable), while NDJSON lines stand alone (a broken line becomes an item carrying
 * FL_RECORD_BAD_JSON, so that one bad line costs one record, not the request). Nesting depth
 * is checked everywhere and counted per record. Scanning stops as soon as the body is known to
 * hold more than max_records, so an oversized batch costs no more than max_records records'
 * worth of work. */
#include <string.h>

#include "ingest/ingest_int.h"

typedef struct splitter {
    fl_buf *items;
    size_t start_len;
    size_t count;
    size_t max_records;
} splitter;

static int add_item(splitter *s, const char *p, size_t n, int code)
{
    if (s->count >= s->max_records)
        return FL_BODY_TOO_MANY_RECORDS;
    fl_body_item item = {{p, n}, code};
    if (fl_buf_append(s->items, &item, sizeof item))
        return FL_BODY_NOMEM;
    s->count++;
    return FL_BODY_OK;
}

static int scan_error(const fl_json_scanner *sc)
{
    return sc->error == FL_JSON_DEPTH ? FL_BODY_TOO_DEEP : FL_BODY_BAD_JSON;
}

static int at_end_after_ws(fl_json_scanner *sc)
{
    fl_json_skip_ws(sc);
    return sc->p == sc->end;
}

static int split_array(splitter *s, fl_json_scanner *sc)
{
    sc->p++;
    fl_json_skip_ws(sc);
    if (sc->p < sc->end && *sc->p == ']') {
        sc->p++;
        return at_end_after_ws(sc) ? FL_BODY_EMPTY : FL_BODY_BAD_JSON;
    }
    for (;;) {
        fl_json_skip_ws(sc);
        const char *start = sc->p;
        if (fl_json_skip_value(sc, 0))
            return scan_error(sc);
        int rc = add_item(s, start, (size_t)(sc->p - start), 0);
        if (rc)
            return rc;
        fl_json_skip_ws(sc);
        if (sc->p < sc->end && *sc->p == ',') {
            sc->p++;
            continue;
        }
        if (sc->p < sc->end && *sc->p == ']') {
            sc->p++;
            return at_end_after_ws(sc) ? FL_BODY_OK : FL_BODY_BAD_JSON;
        }
        return FL_BODY_BAD_JSON;
    }
}

static int split_json(splitter *s, const char *body, size_t len, int64_t max_depth)
{
    fl_json_scanner sc;
    fl_json_scanner_init(&sc, body, len, max_depth);
    fl_json_skip_ws(&sc);
    if (sc.p == sc.end)
        return FL_BODY_EMPTY;
    if (*sc.p == '[')
        return split_array(s, &sc);
    if (*sc.p != '{')
        return FL_BODY_BAD_JSON;
    const char *start = sc.p;
    if (fl_json_skip_value(&sc, 0))
        return scan_error(&sc);
    size_t n = (size_t)(sc.p - start);
    if (!at_end_after_ws(&sc))
        return FL_BODY_BAD_JSON;
    return add_item(s, start, n, 0);
}

/* One NDJSON line [p, p+n) without its line break; blank lines are skipped. */
static int split_line(splitter *s, const char *p, size_t n, int64_t max_depth)
{
    fl_json_scanner sc;
    fl_json_scanner_init(&sc, p, n, max_depth);
    fl_json_skip_ws(&sc);
    if (sc.p == sc.end)
        return FL_BODY_OK;
    int code = 0;
    if (fl_json_skip_value(&sc, 0) == 0 && !at_end_after_ws(&sc))
        fl_json_fail(&sc, FL_JSON_SYNTAX);
    if (sc.error == FL_JSON_DEPTH)
        return FL_BODY_TOO_DEEP;
    if (sc.error)
        code = FL_RECORD_BAD_JSON;
    return add_item(s, p, n, code);
}

static int split_ndjson(splitter *s, const char *body, size_t len, int64_t max_depth)
{
    const char *p = body, *end = body + len;
    while (p < end) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        const char *line_end = nl ? nl : end;
        const char *text_end = line_end;
        if (text_end > p && text_end[-1] == '\r')
            text_end--;
        int rc = split_line(s, p, (size_t)(text_end - p), max_depth);
        if (rc)
            return rc;
        p = nl ? nl + 1 : end;
    }
    return s->count ? FL_BODY_OK : FL_BODY_EMPTY;
}

int fl_body_split(const char *body, size_t len, enum fl_body_format format, size_t max_records,
                  int64_t max_depth, fl_buf *items, size_t *count)
{
    splitter s = {items, items->len, 0, max_records};
    if (len >= 3 && memcmp(body, "\xEF\xBB\xBF", 3) == 0) {
        body += 3;
        len -= 3;
    }
    int rc = format == FL_BODY_NDJSON ? split_ndjson(&s, body, len, max_depth)
                                      : split_json(&s, body, len, max_depth);
    if (rc) {
        items->len = s.start_len;
        if (items->data)
            items->data[items->len] = 0;
        s.count = 0;
    }
    *count = s.count;
    return rc;
}
