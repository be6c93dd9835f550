/* json_scan.c — the single-pass JSON tokenizer under the ingest hot path.
 *
 * fl_body_split() uses it to validate whole bodies and cut them into records; the record
 * decoder uses its string and number scanners for the fields it knows and fl_json_skip_value()
 * for everything else. It validates the full RFC 8259 grammar: strings (escapes including
 * \uXXXX surrogate pairs; lone surrogates are rejected; raw bytes must be valid UTF-8 per
 * RFC 3629, no overlong forms, no UTF-16 surrogates, nothing above U+10FFFF), numbers, the
 * literals true/false/null, and a nesting-depth limit that also bounds recursion. It never
 * allocates. Plain ASCII runs inside strings are skipped eight bytes at a time (SWAR). */
#include <string.h>

#include "ingest/ingest_int.h"

/* 0 for bytes that can appear unescaped in a string without further checks. */
static const unsigned char string_special[256] = {
    ['\0'] = 1, [1] = 1, [2] = 1, [3] = 1, [4] = 1, [5] = 1, [6] = 1, [7] = 1, [8] = 1,
    [9] = 1, [10] = 1, [11] = 1, [12] = 1, [13] = 1, [14] = 1, [15] = 1, [16] = 1,
    [17] = 1, [18] = 1, [19] = 1, [20] = 1, [21] = 1, [22] = 1, [23] = 1, [24] = 1,
    [25] = 1, [26] = 1, [27] = 1, [28] = 1, [29] = 1, [30] = 1, [31] = 1, ['"'] = 1,
    ['\\'] = 1,
#define HI16(b) [b] = 1, [b + 1] = 1, [b + 2] = 1, [b + 3] = 1, [b + 4] = 1, [b + 5] = 1,      \
                [b + 6] = 1, [b + 7] = 1, [b + 8] = 1, [b + 9] = 1, [b + 10] = 1, [b + 11] = 1, \
                [b + 12] = 1, [b + 13] = 1, [b + 14] = 1, [b + 15] = 1
    HI16(0x80), HI16(0x90), HI16(0xA0), HI16(0xB0), HI16(0xC0), HI16(0xD0), HI16(0xE0),
    HI16(0xF0),
#undef HI16
};

static inline uint64_t load64(const char *p)
{
    uint64_t v;
    memcpy(&v, p, 8);
    return v;
}

static int hex_value(unsigned char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    c |= 0x20;
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    return -1;
}

/* Four hex digits at p (bounds already checked); -1 if not hex. */
static long hex4(const char *p)
{
    long v = 0;
    for (int i = 0; i < 4; i++) {
        int h = hex_value((unsigned char)p[i]);
        if (h < 0)
            return -1;
        v = v * 16 + h;
    }
    return v;
}

/* Length of the valid UTF-8 sequence at p (lead byte >= 0x80), or 0. */
static size_t utf8_len(const unsigned char *p, const unsigned char *end)
{
    unsigned char c = p[0];
    if (c >= 0xC2 && c <= 0xDF)
        return end - p >= 2 && (p[1] & 0xC0) == 0x80 ? 2 : 0;
    if (c >= 0xE0 && c <= 0xEF) {
        if (end - p < 3 || (p[1] & 0xC0) != 0x80 || (p[2] & 0xC0) != 0x80)
            return 0;
        if ((c == 0xE0 && p[1] < 0xA0) || (c == 0xED && p[1] >= 0xA0))
            return 0; /* overlong, or a UTF-16 surrogate */
        return 3;
    }
    if (c >= 0xF0 && c <= 0xF4) {
        if (end - p < 4 || (p[1] & 0xC0) != 0x80 || (p[2] & 0xC0) != 0x80 ||
            (p[3] & 0xC0) != 0x80)
            return 0;
        if ((c == 0xF0 && p[1] < 0x90) || (c == 0xF4 && p[1] >= 0x90))
            return 0; /* overlong, or above U+10FFFF */
        return 4;
    }
    return 0;
}

/* p at a backslash; returns the escape's length or 0 if invalid. */
static size_t escape_len(const char *p, const char *end)
{
    if (end - p < 2)
        return 0;
    switch (p[1]) {
    case '"': case '\\': case '/': case 'b': case 'f': case 'n': case 'r': case 't':
        return 2;
    case 'u':
        break;
    default:
        return 0;
    }
    if (end - p < 6)
        return 0;
    long u = hex4(p + 2);
    if (u < 0 || (u >= 0xDC00 && u <= 0xDFFF))
        return 0;
    if (u < 0xD800 || u > 0xDBFF)
        return 6;
    if (end - p < 12 || p[6] != '\\' || p[7] != 'u')
        return 0;
    long lo = hex4(p + 8);
    return lo >= 0xDC00 && lo <= 0xDFFF ? 12 : 0;
}

int fl_json_scan_string_slow(fl_json_scanner *sc, fl_slice *raw, int *has_escapes)
{
    const char *p = sc->p + 1, *end = sc->end;
    const char *begin = p;
    int esc = 0;
    for (;;) {
        while (end - p >= 8 && !fl_json_swar_special(load64(p)))
            p += 8;
        while (p < end && !string_special[(unsigned char)*p])
            p++;
        if (p >= end)
            goto bad;
        unsigned char c = (unsigned char)*p;
        if (c == '"')
            break;
        size_t n;
        if (c == '\\') {
            esc = 1;
            n = escape_len(p, end);
        } else if (c >= 0x80) {
            n = utf8_len((const unsigned char *)p, (const unsigned char *)end);
        } else {
            n = 0; /* raw control byte */
        }
        if (!n)
            goto bad;
        p += n;
    }
    raw->ptr = begin;
    raw->len = (size_t)(p - begin);
    *has_escapes = esc;
    sc->p = p + 1;
    return 0;
bad:
    sc->p = p;
    return fl_json_fail(sc, FL_JSON_SYNTAX);
}

static size_t put_utf8(char *out, unsigned long cp)
{
    if (cp < 0x80) {
        out[0] = (char)cp;
        return 1;
    }
    if (cp < 0x800) {
        out[0] = (char)(0xC0 | (cp >> 6));
        out[1] = (char)(0x80 | (cp & 0x3F));
        return 2;
    }
    if (cp < 0x10000) {
        out[0] = (char)(0xE0 | (cp >> 12));
        out[1] = (char)(0x80 | ((cp >> 6) & 0x3F));
        out[2] = (char)(0x80 | (cp & 0x3F));
        return 3;
    }
    out[0] = (char)(0xF0 | (cp >> 18));
    out[1] = (char)(0x80 | ((cp >> 12) & 0x3F));
    out[2] = (char)(0x80 | ((cp >> 6) & 0x3F));
    out[3] = (char)(0x80 | (cp & 0x3F));
    return 4;
}

size_t fl_json_unescape(const char *raw, size_t n, char *out)
{
    size_t i = 0, o = 0;
    while (i < n) {
        if (raw[i] != '\\') {
            out[o++] = raw[i++];
            continue;
        }
        char c = raw[i + 1];
        i += 2;
        switch (c) {
        case 'b': out[o++] = '\b'; break;
        case 'f': out[o++] = '\f'; break;
        case 'n': out[o++] = '\n'; break;
        case 'r': out[o++] = '\r'; break;
        case 't': out[o++] = '\t'; break;
        case 'u': {
            unsigned long cp = (unsigned long)hex4(raw + i);
            i += 4;
            if (cp >= 0xD800 && cp <= 0xDBFF) {
                unsigned long lo = (unsigned long)hex4(raw + i + 2);
                i += 6;
                cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
            }
            o += put_utf8(out + o, cp);
            break;
        }
        default: out[o++] = c; break; /* " \ / */
        }
    }
    return o;
}

static inline int is_digit(char c)
{
    return (unsigned char)(c - '0') < 10;
}

int fl_json_scan_number(fl_json_scanner *sc, fl_json_number *num)
{
    const char *p = sc->p, *end = sc->end;
    uint64_t m = 0;
    int32_t digits = 0, exp10 = 0;
    num->text = p;
    num->negative = 0;
    num->is_integer = 1;
    if (p < end && *p == '-') {
        num->negative = 1;
        p++;
    }
    if (p >= end || !is_digit(*p))
        goto bad;
    if (*p == '0') {
        p++;
    } else {
        while (p < end && is_digit(*p)) {
            if (digits < 19)
                m = m * 10 + (uint64_t)(*p - '0');
            else
                exp10++;
            digits++;
            p++;
        }
    }
    if (p < end && *p == '.') {
        p++;
        num->is_integer = 0;
        if (p >= end || !is_digit(*p))
            goto bad;
        while (p < end && is_digit(*p)) {
            if (m == 0 && *p == '0') {
                exp10--; /* leading zeros of 0.000x are not significant */
            } else {
                if (digits < 19) {
                    m = m * 10 + (uint64_t)(*p - '0');
                    exp10--;
                }
                digits++;
            }
            p++;
        }
    }
    if (p < end && (*p == 'e' || *p == 'E')) {
        p++;
        num->is_integer = 0;
        int eneg = 0;
        if (p < end && (*p == '+' || *p == '-'))
            eneg = *p++ == '-';
        if (p >= end || !is_digit(*p))
            goto bad;
        int32_t e = 0;
        while (p < end && is_digit(*p)) {
            if (e < 100000)
                e = e * 10 + (*p - '0');
            p++;
        }
        exp10 += eneg ? -e : e;
    }
    num->len = (size_t)(p - num->text);
    num->mantissa = m;
    num->exp10 = exp10;
    num->digits = digits;
    sc->p = p;
    return 0;
bad:
    sc->p = p;
    return fl_json_fail(sc, FL_JSON_SYNTAX);
}

static int skip_literal(fl_json_scanner *sc, const char *lit, size_t n)
{
    if ((size_t)(sc->end - sc->p) < n || memcmp(sc->p, lit, n) != 0)
        return fl_json_fail(sc, FL_JSON_SYNTAX);
    sc->p += n;
    return 0;
}

static int skip_object(fl_json_scanner *sc, int64_t depth)
{
    fl_slice key;
    int esc;
    sc->p++;
    fl_json_skip_ws(sc);
    if (sc->p < sc->end && *sc->p == '}') {
        sc->p++;
        return 0;
    }
    for (;;) {
        if (sc->p >= sc->end || *sc->p != '"')
            return fl_json_fail(sc, FL_JSON_SYNTAX);
        if (fl_json_scan_string(sc, &key, &esc))
            return -1;
        fl_json_skip_ws(sc);
        if (sc->p >= sc->end || *sc->p != ':')
            return fl_json_fail(sc, FL_JSON_SYNTAX);
        sc->p++;
        if (fl_json_skip_value(sc, depth))
            return -1;
        fl_json_skip_ws(sc);
        if (sc->p < sc->end && *sc->p == ',') {
            sc->p++;
            fl_json_skip_ws(sc);
            continue;
        }
        if (sc->p < sc->end && *sc->p == '}') {
            sc->p++;
            return 0;
        }
        return fl_json_fail(sc, FL_JSON_SYNTAX);
    }
}

static int skip_array(fl_json_scanner *sc, int64_t depth)
{
    sc->p++;
    fl_json_skip_ws(sc);
    if (sc->p < sc->end && *sc->p == ']') {
        sc->p++;
        return 0;
    }
    for (;;) {
        if (fl_json_skip_value(sc, depth))
            return -1;
        fl_json_skip_ws(sc);
        if (sc->p < sc->end && *sc->p == ',') {
            sc->p++;
            continue;
        }
        if (sc->p < sc->end && *sc->p == ']') {
            sc->p++;
            return 0;
        }
        return fl_json_fail(sc, FL_JSON_SYNTAX);
    }
}

int fl_json_skip_value(fl_json_scanner *sc, int64_t depth)
{
    fl_slice s;
    int esc;
    fl_json_number num;
    fl_json_skip_ws(sc);
    if (sc->p >= sc->end)
        return fl_json_fail(sc, FL_JSON_SYNTAX);
    switch (*sc->p) {
    case '{':
        if (depth + 1 > sc->max_depth)
            return fl_json_fail(sc, FL_JSON_DEPTH);
        return skip_object(sc, depth + 1);
    case '[':
        if (depth + 1 > sc->max_depth)
            return fl_json_fail(sc, FL_JSON_DEPTH);
        return skip_array(sc, depth + 1);
    case '"':
        return fl_json_scan_string(sc, &s, &esc);
    case 't':
        return skip_literal(sc, "true", 4);
    case 'f':
        return skip_literal(sc, "false", 5);
    case 'n':
        return skip_literal(sc, "null", 4);
    default:
        return fl_json_scan_number(sc, &num);
    }
}

int fl_json_validate(const char *p, size_t n, int64_t max_depth)
{
    fl_json_scanner sc;
    fl_json_scanner_init(&sc, p, n, max_depth);
    if (fl_json_skip_value(&sc, 0) == 0) {
        fl_json_skip_ws(&sc);
        if (sc.p != sc.end)
            fl_json_fail(&sc, FL_JSON_SYNTAX);
    }
    return sc.error;
}
