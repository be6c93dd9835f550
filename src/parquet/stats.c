/* stats.c — column statistics in each type's logical sort order, shared by the writer (one
 * accumulator per column chunk and one per file) and the reader (decoding the footer's PLAIN
 * min/max bytes). Orders: signed integers; doubles by value with NaN excluded (counted in
 * nan_count) and, per the format's rules for TypeDefinedOrder, a zero minimum written as
 * -0.0 and a zero maximum as +0.0; byte arrays unsigned-lexicographically; booleans
 * false < true. Also the UTF-8 check the writer applies to STRING columns. */
#include <math.h>

#include "parquet/parquet_int.h"

int pq_bytes_cmp(const void *a, size_t an, const void *b, size_t bn)
{
    size_t n = an < bn ? an : bn;
    int c = n ? memcmp(a, b, n) : 0;
    if (c)
        return c;
    return an < bn ? -1 : an > bn;
}

int pq_utf8_valid(const void *p, size_t n)
{
    const unsigned char *s = p, *end = s + n;
    while (s < end) {
        unsigned char c = *s;
        if (c < 0x80) {
            s++;
            continue;
        }
        size_t len;
        uint32_t cp;
        if (c >= 0xc2 && c <= 0xdf) {
            len = 2;
            cp = c & 0x1f;
        } else if (c >= 0xe0 && c <= 0xef) {
            len = 3;
            cp = c & 0x0f;
        } else if (c >= 0xf0 && c <= 0xf4) {
            len = 4;
            cp = c & 0x07;
        } else {
            return 0;
        }
        if ((size_t)(end - s) < len)
            return 0;
        for (size_t k = 1; k < len; k++) {
            if ((s[k] & 0xc0) != 0x80)
                return 0;
            cp = (cp << 6) | (s[k] & 0x3f);
        }
        if ((len == 3 && cp < 0x800) || (len == 4 && (cp < 0x10000 || cp > 0x10ffff)) ||
            (cp >= 0xd800 && cp <= 0xdfff))
            return 0;
        s += len;
    }
    return 1;
}

void pq_acc_init(pq_acc *a, int physical)
{
    memset(a, 0, sizeof *a);
    a->physical = physical;
}

void pq_acc_reset(pq_acc *a)
{
    a->has = 0;
    a->null_count = a->nan_count = 0;
    fl_buf_reset(&a->smin);
    fl_buf_reset(&a->smax);
}

void pq_acc_free(pq_acc *a)
{
    fl_buf_free(&a->smin);
    fl_buf_free(&a->smax);
}

static void add_int(pq_acc *a, int64_t v)
{
    if (!a->has) {
        a->imin = a->imax = v;
        a->has = 1;
    } else if (v < a->imin) {
        a->imin = v;
    } else if (v > a->imax) {
        a->imax = v;
    }
}

static void add_double(pq_acc *a, double v)
{
    if (isnan(v)) {
        a->nan_count++;
        return;
    }
    if (!a->has) {
        a->dmin = a->dmax = v;
        a->has = 1;
    } else if (v < a->dmin) {
        a->dmin = v;
    } else if (v > a->dmax) {
        a->dmax = v;
    }
}

static int set_buf(fl_buf *b, const void *p, size_t n)
{
    fl_buf_reset(b);
    return fl_buf_append(b, p, n);
}

/* pq_bytes_cmp with the first 8 bytes compared as one big-endian word: most values differ
 * there (or are equal there and short), and a memcmp call per value and bound was the
 * largest single item of the writer's profile. */
static inline int bytes_cmp_fast(const void *a, size_t an, const void *b, size_t bn)
{
    if (an >= 8 && bn >= 8) {
        uint64_t x, y;
        memcpy(&x, a, 8);
        memcpy(&y, b, 8);
        if (x != y) {
            x = __builtin_bswap64(x);
            y = __builtin_bswap64(y);
            return x < y ? -1 : 1;
        }
    }
    return pq_bytes_cmp(a, an, b, bn);
}

static int add_bytes(pq_acc *a, const void *p, size_t n)
{
    int rc = 0;
    if (!a->has) {
        a->has = 1;
        rc = set_buf(&a->smin, p, n);
        if (!rc)
            rc = set_buf(&a->smax, p, n);
        return rc;
    }
    if (bytes_cmp_fast(p, n, a->smin.data, a->smin.len) < 0)
        rc = set_buf(&a->smin, p, n);
    else if (bytes_cmp_fast(p, n, a->smax.data, a->smax.len) > 0)
        rc = set_buf(&a->smax, p, n);
    return rc;
}

/* One loop per type (the switch is outside the loop). T is the value type, ADD the adder. */
#define ACC_LOOP(T, ADD)                                                                        \
    do {                                                                                        \
        const T *v = values;                                                                    \
        for (size_t i = 0; i < rows; i++) {                                                     \
            if (valid && !valid[i])                                                             \
                a->null_count++;                                                                \
            else                                                                                \
                ADD(a, v[i]);                                                                   \
        }                                                                                       \
    } while (0)

#define ADD_BOOL(a, x) add_int(a, (x) ? 1 : 0)

int pq_acc_add(pq_acc *a, const void *values, const uint8_t *valid, size_t rows)
{
    switch (a->physical) {
    case FL_PQ_BOOLEAN:
        ACC_LOOP(uint8_t, ADD_BOOL);
        return 0;
    case FL_PQ_INT32:
        ACC_LOOP(int32_t, add_int);
        return 0;
    case FL_PQ_INT64:
        ACC_LOOP(int64_t, add_int);
        return 0;
    case FL_PQ_DOUBLE:
        ACC_LOOP(double, add_double);
        return 0;
    }
    const fl_slice *s = values;
    for (size_t i = 0; i < rows; i++) {
        if (valid && !valid[i]) {
            a->null_count++;
            continue;
        }
        int rc = add_bytes(a, s[i].ptr, s[i].len);
        if (rc)
            return rc;
    }
    return 0;
}

int pq_acc_merge(pq_acc *into, const pq_acc *from)
{
    into->null_count += from->null_count;
    into->nan_count += from->nan_count;
    if (!from->has)
        return 0;
    switch (into->physical) {
    case FL_PQ_DOUBLE:
        add_double(into, from->dmin);
        add_double(into, from->dmax);
        return 0;
    case FL_PQ_BYTE_ARRAY: {
        int rc = add_bytes(into, from->smin.data, from->smin.len);
        return rc ? rc : add_bytes(into, from->smax.data, from->smax.len);
    }
    default:
        add_int(into, from->imin);
        add_int(into, from->imax);
        return 0;
    }
}

static void put_fixed(const pq_acc *a, int is_max, unsigned char *p, size_t *n)
{
    int64_t i = is_max ? a->imax : a->imin;
    switch (a->physical) {
    case FL_PQ_BOOLEAN: p[0] = (unsigned char)i; *n = 1; return;
    case FL_PQ_INT32: fl_put_u32(p, (uint32_t)(int32_t)i); *n = 4; return;
    case FL_PQ_INT64: fl_put_u64(p, (uint64_t)i); *n = 8; return;
    default: {
        double d = is_max ? a->dmax : a->dmin;
        if (d == 0)
            d = is_max ? 0.0 : -0.0;
        uint64_t bits;
        memcpy(&bits, &d, 8);
        fl_put_u64(p, bits);
        *n = 8;
    }
    }
}

void pq_acc_to_raw(const pq_acc *a, pq_stats_raw *raw, unsigned char scratch[16])
{
    memset(raw, 0, sizeof *raw);
    raw->null_count = a->null_count;
    raw->nan_count = a->physical == FL_PQ_DOUBLE ? a->nan_count : -1;
    if (!a->has)
        return;
    raw->has_min = raw->has_max = 1;
    if (a->physical == FL_PQ_BYTE_ARRAY) {
        raw->min = (fl_slice){a->smin.data ? a->smin.data : "", a->smin.len};
        raw->max = (fl_slice){a->smax.data ? a->smax.data : "", a->smax.len};
        return;
    }
    size_t n;
    put_fixed(a, 0, scratch, &n);
    raw->min = (fl_slice){(const char *)scratch, n};
    put_fixed(a, 1, scratch + 8, &n);
    raw->max = (fl_slice){(const char *)scratch + 8, n};
}

void pq_acc_to_stats(const pq_acc *a, fl_pq_stats *out)
{
    unsigned char scratch[16];
    pq_stats_raw raw;
    pq_acc_to_raw(a, &raw, scratch);
    pq_stats_from_raw(a->physical, &raw, out);
}

static int fixed_value(int physical, fl_slice s, int64_t *i, double *d)
{
    const unsigned char *p = (const unsigned char *)s.ptr;
    switch (physical) {
    case FL_PQ_BOOLEAN:
        if (s.len != 1)
            return 0;
        *i = p[0] != 0;
        return 1;
    case FL_PQ_INT32:
        if (s.len != 4)
            return 0;
        *i = (int32_t)fl_get_u32(p);
        return 1;
    case FL_PQ_INT64:
        if (s.len != 8)
            return 0;
        *i = (int64_t)fl_get_u64(p);
        return 1;
    case FL_PQ_DOUBLE: {
        if (s.len != 8)
            return 0;
        uint64_t bits = fl_get_u64(p);
        memcpy(d, &bits, 8);
        return !isnan(*d);
    }
    default:
        return 0;
    }
}

void pq_stats_from_raw(int physical, const pq_stats_raw *raw, fl_pq_stats *out)
{
    memset(out, 0, sizeof *out);
    out->null_count = raw->null_count;
    if (!raw->has_min || !raw->has_max)
        return;
    if (physical == FL_PQ_BYTE_ARRAY) {
        out->min.s = raw->min;
        out->max.s = raw->max;
        out->has_min_max = 1;
        return;
    }
    int64_t imin = 0, imax = 0;
    double dmin = 0, dmax = 0;
    if (!fixed_value(physical, raw->min, &imin, &dmin) ||
        !fixed_value(physical, raw->max, &imax, &dmax))
        return;
    if (physical == FL_PQ_DOUBLE) {
        out->min.d = dmin;
        out->max.d = dmax;
    } else {
        out->min.i = imin;
        out->max.i = imax;
    }
    out->has_min_max = 1;
}
