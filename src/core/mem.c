/* mem.c — the allocator seam (fault injection for tests) and fl_buf. */
#include "core/mem.h"

#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static atomic_long fail_countdown = -1;

void fl_mem_fail_after(long n)
{
    atomic_store(&fail_countdown, n < 0 ? -1 : n);
}

static int should_fail(void)
{
    long c = atomic_load_explicit(&fail_countdown, memory_order_relaxed);
    if (c < 0)
        return 0;
    if (c == 0)
        return 1;
    return atomic_fetch_sub(&fail_countdown, 1) <= 0;
}

void *fl_malloc(size_t n)
{
    return should_fail() ? NULL : malloc(n ? n : 1);
}

void *fl_calloc(size_t count, size_t size)
{
    return should_fail() ? NULL : calloc(count ? count : 1, size ? size : 1);
}

void *fl_realloc(void *p, size_t n)
{
    return should_fail() ? NULL : realloc(p, n ? n : 1);
}

void fl_free(void *p)
{
    free(p);
}

char *fl_strndup(const char *s, size_t n)
{
    char *d = fl_malloc(n + 1);
    if (!d)
        return NULL;
    memcpy(d, s, n);
    d[n] = 0;
    return d;
}

char *fl_strdup(const char *s)
{
    return fl_strndup(s, strlen(s));
}

int fl_buf_reserve(fl_buf *b, size_t extra)
{
    if (extra > SIZE_MAX / 2 - b->len)
        return FL_ENOMEM;
    size_t need = b->len + extra + 1;
    if (need <= b->cap)
        return 0;
    size_t cap = b->cap ? b->cap : 64;
    while (cap < need)
        cap *= 2;
    char *d = fl_realloc(b->data, cap);
    if (!d)
        return FL_ENOMEM;
    b->data = d;
    b->cap = cap;
    return 0;
}

int fl_buf_append(fl_buf *b, const void *p, size_t n)
{
    int rc = fl_buf_reserve(b, n);
    if (rc)
        return rc;
    if (n)
        memcpy(b->data + b->len, p, n);
    b->len += n;
    b->data[b->len] = 0;
    return 0;
}

int fl_buf_append_cstr(fl_buf *b, const char *s)
{
    return fl_buf_append(b, s, strlen(s));
}

int fl_buf_printf(fl_buf *b, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n < 0)
        return FL_EINVAL;
    int rc = fl_buf_reserve(b, (size_t)n);
    if (rc)
        return rc;
    va_start(ap, fmt);
    vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap);
    va_end(ap);
    b->len += (size_t)n;
    return 0;
}

/* Length of the valid UTF-8 sequence at s[0..n), or 0 if invalid. */
static size_t utf8_seq_len(const unsigned char *s, size_t n)
{
    unsigned char c = s[0];
    size_t len;
    uint32_t cp;
    if (c < 0x80)
        return 1;
    if ((c & 0xE0) == 0xC0) {
        len = 2;
        cp = c & 0x1F;
    } else if ((c & 0xF0) == 0xE0) {
        len = 3;
        cp = c & 0x0F;
    } else if ((c & 0xF8) == 0xF0) {
        len = 4;
        cp = c & 0x07;
    } else {
        return 0;
    }
    if (n < len)
        return 0;
    for (size_t i = 1; i < len; i++) {
        if ((s[i] & 0xC0) != 0x80)
            return 0;
        cp = (cp << 6) | (s[i] & 0x3F);
    }
    if ((len == 2 && cp < 0x80) || (len == 3 && cp < 0x800) || (len == 4 && cp < 0x10000) ||
        cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
        return 0;
    return len;
}

int fl_buf_append_double(fl_buf *b, double v)
{
    static const char *const formats[] = {"%.15g", "%.16g", "%.17g"};
    char t[40];
    for (int i = 0; i < 3; i++) {
        snprintf(t, sizeof t, formats[i], v);
        if (strtod(t, NULL) == v)
            break;
    }
    return fl_buf_append_cstr(b, t);
}

int fl_buf_append_json_string(fl_buf *b, const char *s, size_t n)
{
    static const char hex[] = "0123456789abcdef";
    const unsigned char *p = (const unsigned char *)s;
    int rc = fl_buf_reserve(b, n + 2);
    if (rc)
        return rc;
    size_t i = 0;
    while (i < n) {
        size_t run = i;
        while (run < n && p[run] >= 0x20 && p[run] < 0x80 && p[run] != '"' && p[run] != '\\')
            run++;
        if (run > i) {
            if ((rc = fl_buf_append(b, s + i, run - i)))
                return rc;
            i = run;
            continue;
        }
        unsigned char c = p[i];
        char esc[8];
        if (c == '"' || c == '\\') {
            esc[0] = '\\';
            esc[1] = (char)c;
            rc = fl_buf_append(b, esc, 2);
            i++;
        } else if (c == '\n') {
            rc = fl_buf_append(b, "\\n", 2);
            i++;
        } else if (c == '\r') {
            rc = fl_buf_append(b, "\\r", 2);
            i++;
        } else if (c == '\t') {
            rc = fl_buf_append(b, "\\t", 2);
            i++;
        } else if (c < 0x20) {
            memcpy(esc, "\\u00", 4);
            esc[4] = hex[c >> 4];
            esc[5] = hex[c & 15];
            rc = fl_buf_append(b, esc, 6);
            i++;
        } else {
            size_t l = utf8_seq_len(p + i, n - i);
            if (l) {
                rc = fl_buf_append(b, s + i, l);
                i += l;
            } else {
                rc = fl_buf_append(b, "\\ufffd", 6);
                i++;
            }
        }
        if (rc)
            return rc;
    }
    return 0;
}

void fl_buf_free(fl_buf *b)
{
    fl_free(b->data);
    b->data = NULL;
    b->len = b->cap = 0;
}
