/* ingest_int.h — private declarations shared by the ingest module's files: the single-pass
 * JSON scanner (json_scan.c) that both the body splitter and the schema-specialised record
 * decoder are built on, and the exact number parser (json_number.c). Nothing outside
 * src/ingest/ and its tests includes this header. */
#ifndef FL_INGEST_INGEST_INT_H
#define FL_INGEST_INGEST_INT_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "ingest/ingest.h"

/* Scanner error states; the first error stops scanning (error_at records where). */
enum fl_json_scan_error { FL_JSON_OK = 0, FL_JSON_SYNTAX = 1, FL_JSON_DEPTH = 2 };

/* A cursor over JSON text [p, end). Borrowed text; the scanner never allocates. */
typedef struct fl_json_scanner {
    const char *p;
    const char *end;
    const char *start;
    int64_t max_depth; /* containers nested deeper than this are FL_JSON_DEPTH */
    int error;         /* enum fl_json_scan_error */
    const char *error_at;
} fl_json_scanner;

/* What a number token looked like, enough to convert it without re-reading the grammar. */
typedef struct fl_json_number {
    const char *text; /* the token, e.g. "-12.5e3" */
    size_t len;
    uint64_t mantissa; /* significant digits (valid when digits <= 19) */
    int32_t exp10;     /* value = mantissa * 10^exp10 (clamped far out of double range) */
    int32_t digits;    /* significant digits, leading zeros excluded */
    int negative;
    int is_integer; /* no fraction, no exponent */
} fl_json_number;

static inline void fl_json_scanner_init(fl_json_scanner *sc, const char *p, size_t n,
                                        int64_t max_depth)
{
    sc->p = p;
    sc->start = p;
    sc->end = p + n;
    sc->max_depth = max_depth;
    sc->error = FL_JSON_OK;
    sc->error_at = NULL;
}

static inline int fl_json_fail(fl_json_scanner *sc, int error)
{
    if (!sc->error) {
        sc->error = error;
        sc->error_at = sc->p;
    }
    return -1;
}

static inline int fl_json_is_ws(unsigned char c)
{
    return c == ' ' || c == '\n' || c == '\r' || c == '\t';
}

static inline void fl_json_skip_ws(fl_json_scanner *sc)
{
    const char *p = sc->p, *end = sc->end;
    while (p < end && fl_json_is_ws((unsigned char)*p))
        p++;
    sc->p = p;
}

/* Slow path of fl_json_scan_string: escapes, non-ASCII, errors. */
int fl_json_scan_string_slow(fl_json_scanner *sc, fl_slice *raw, int *has_escapes);

/* Non-zero high bits mark bytes of v that are '"', '\\', < 0x20 or >= 0x80. The lowest marked
 * byte is always a real one (borrows only propagate upwards), so ctz finds the first. */
static inline uint64_t fl_json_swar_special(uint64_t v)
{
    const uint64_t ones = 0x0101010101010101ull, high = 0x8080808080808080ull;
    uint64_t q = v ^ (ones * '"'), b = v ^ (ones * '\\');
    uint64_t zq = (q - ones) & ~q, zb = (b - ones) & ~b;
    uint64_t lt = (v - ones * 0x20) & ~v;
    return (zq | zb | lt | v) & high;
}

/* sc->p at the opening quote. Validates the string (escapes, UTF-8, no raw control bytes),
 * leaves sc->p after the closing quote, sets *raw to the bytes between the quotes and
 * *has_escapes when a backslash occurred. Returns 0 or -1 (sc->error set). Inline fast path
 * for plain ASCII strings, eight bytes at a time; everything else goes to the slow path. */
static inline int fl_json_scan_string(fl_json_scanner *sc, fl_slice *raw, int *has_escapes)
{
    const char *begin = sc->p + 1, *p = begin, *end = sc->end;
    for (;;) {
        if (end - p < 8)
            return fl_json_scan_string_slow(sc, raw, has_escapes);
        uint64_t v;
        memcpy(&v, p, 8);
        uint64_t m = fl_json_swar_special(v);
        if (m) {
            p += __builtin_ctzll(m) >> 3;
            break;
        }
        p += 8;
    }
    if (*p != '"')
        return fl_json_scan_string_slow(sc, raw, has_escapes);
    raw->ptr = begin;
    raw->len = (size_t)(p - begin);
    *has_escapes = 0;
    sc->p = p + 1;
    return 0;
}
/* Decode a validated string body (from fl_json_scan_string) into out, which must hold at least
 * n bytes (unescaping never grows text). Returns the decoded length. */
size_t fl_json_unescape(const char *raw, size_t n, char *out);
/* sc->p at '-' or a digit. Validates the RFC 8259 number grammar and fills *num. */
int fl_json_scan_number(fl_json_scanner *sc, fl_json_number *num);
/* Skip one value of any kind, validating it fully. `depth` is the number of containers that
 * enclose the value; entering one more that makes it exceed max_depth fails with
 * FL_JSON_DEPTH. Leading whitespace is skipped. Returns 0 or -1. */
int fl_json_skip_value(fl_json_scanner *sc, int64_t depth);
/* Is [p, p+n) exactly one JSON value with optional surrounding whitespace? Returns
 * FL_JSON_OK, FL_JSON_SYNTAX or FL_JSON_DEPTH. */
int fl_json_validate(const char *p, size_t n, int64_t max_depth);

/* The value of a scanned number, equal to strtod() on its text. The exact fast path covers
 * mantissas below 2^53 with |exp10| <= 22; everything else goes to strtod() on a
 * NUL-terminated copy, made on the stack or, for tokens of 128 bytes or more, in `spill`
 * (at least num->len + 1 bytes; may be NULL when the caller knows tokens are short). */
double fl_json_number_value(const fl_json_number *num, char *spill);
/* Convenience for tests: parse text that must be exactly one JSON number. Returns 0 and
 * *out, or -1 if the text is not a JSON number. Allocates (fl_malloc) only for tokens of 128
 * bytes or more. */
int fl_json_parse_double(const char *text, size_t n, double *out);

/* Shortest of %.15g/%.16g/%.17g that reads back (strtod) as exactly v. v must be finite.
 * Writes into buf (>= 32 bytes), returns the length. */
size_t fl_json_format_double(double v, char *buf);

/* [A-Za-z0-9._:-], the device_id alphabet. */
extern const unsigned char fl_ingest_device_id_char[256];
/* Checks device_id rules; returns NULL if fine, else a reason for messages. */
const char *fl_ingest_device_id_problem(const char *p, size_t n);

#define FL_INGEST_DEVICE_ID_MAX 128
#define FL_INGEST_META_STRING_MAX 128

#endif
