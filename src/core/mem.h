/* mem.h — allocation, slices and growable buffers.
 *
 * All heap allocation goes through fl_malloc/fl_calloc/fl_realloc/fl_free so tests can fail
 * the Nth allocation (fl_mem_fail_after). Slices ({ptr,len}) are borrowed views; fl_buf owns
 * its bytes. */
#ifndef FL_CORE_MEM_H
#define FL_CORE_MEM_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "core/error.h"

void *fl_malloc(size_t n);
void *fl_calloc(size_t count, size_t size);
void *fl_realloc(void *p, size_t n);
void fl_free(void *p);
/* Copy of s (NUL-terminated); caller frees with fl_free. NULL on allocation failure. */
char *fl_strdup(const char *s);
char *fl_strndup(const char *s, size_t n);

/* Test hook: the (n+1)th allocation from now on fails, and every one after it until reset
 * with n < 0. Counts calls from all threads. */
void fl_mem_fail_after(long n);

/* A borrowed view of bytes; never owns. */
typedef struct fl_slice {
    const char *ptr;
    size_t len;
} fl_slice;

#define FL_SLICE_LIT(s) ((fl_slice){(s), sizeof(s) - 1})
static inline fl_slice fl_slice_from_cstr(const char *s)
{
    return (fl_slice){s, s ? strlen(s) : 0};
}
static inline int fl_slice_eq_cstr(fl_slice a, const char *s)
{
    size_t n = strlen(s);
    return a.len == n && memcmp(a.ptr, s, n) == 0;
}

/* A growable byte buffer. Zero-initialised is a valid empty buffer. data is kept
 * NUL-terminated (one spare byte) so text can be passed to C APIs. */
typedef struct fl_buf {
    char *data;
    size_t len;
    size_t cap;
} fl_buf;

FL_MUST_USE int fl_buf_reserve(fl_buf *b, size_t extra);
FL_MUST_USE int fl_buf_append(fl_buf *b, const void *p, size_t n);
FL_MUST_USE int fl_buf_append_cstr(fl_buf *b, const char *s);
FL_MUST_USE int fl_buf_printf(fl_buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Append s as the inside of a JSON string (escapes quotes, backslash, control bytes; invalid
 * UTF-8 bytes become \u00XX-escaped replacement so output is always valid JSON). */
FL_MUST_USE int fl_buf_append_json_string(fl_buf *b, const char *s, size_t n);
/* Append a double as the shortest of %.15g, %.16g and %.17g that reads back as the same
 * double ("0.1", not "0.10000000000000001"). Not finite: "inf", "-inf" or "nan" as printf
 * writes them, which JSON has no spelling for (JSON writers check isfinite first). */
FL_MUST_USE int fl_buf_append_double(fl_buf *b, double v);
static inline void fl_buf_reset(fl_buf *b)
{
    b->len = 0;
    if (b->data)
        b->data[0] = 0;
}
void fl_buf_free(fl_buf *b);

/* Little-endian fixed-width helpers used by every binary format in fleetlake. */
static inline void fl_put_u16(unsigned char *p, uint16_t v)
{
    p[0] = (unsigned char)v;
    p[1] = (unsigned char)(v >> 8);
}
static inline void fl_put_u32(unsigned char *p, uint32_t v)
{
    for (int i = 0; i < 4; i++)
        p[i] = (unsigned char)(v >> (8 * i));
}
static inline void fl_put_u64(unsigned char *p, uint64_t v)
{
    for (int i = 0; i < 8; i++)
        p[i] = (unsigned char)(v >> (8 * i));
}
static inline uint16_t fl_get_u16(const unsigned char *p)
{
    return (uint16_t)(p[0] | (p[1] << 8));
}
static inline uint32_t fl_get_u32(const unsigned char *p)
{
    return (uint32_t)p[0] | ((uint32_t)p[1] << 8) | ((uint32_t)p[2] << 16) | ((uint32_t)p[3] << 24);
}
static inline uint64_t fl_get_u64(const unsigned char *p)
{
    return (uint64_t)fl_get_u32(p) | ((uint64_t)fl_get_u32(p + 4) << 32);
}

#endif
