/* layout.c — the lake's key layout (DESIGN.md §4.3): UTC hour partitions, part file names and
 * their parsing, plus the pure functions of exactly-once delivery (safe checkpoint, committed
 * high-water marks) and UTF-8 checks for string columns. No I/O here. */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lake/lake_int.h"

#define US_PER_HOUR (INT64_C(3600) * FL_US_PER_SEC)

int64_t fl_lake_hour_of(int64_t ts_us)
{
    int64_t h = ts_us / US_PER_HOUR;
    if (ts_us % US_PER_HOUR < 0)
        h--; /* floor, not truncation, for instants before 1970 */
    return h;
}

fl_lake_partition fl_lake_partition_of_hour(int64_t hour)
{
    int64_t days = hour / 24, h = hour % 24;
    if (h < 0) {
        h += 24;
        days--;
    }
    int64_t y;
    unsigned m, d;
    fl_time_civil_from_days(days, &y, &m, &d);
    fl_lake_partition p = {(int32_t)y, (int32_t)m, (int32_t)d, (int32_t)h};
    return p;
}

int64_t fl_lake_partition_hour(fl_lake_partition p)
{
    return fl_time_days_from_civil(p.year, (unsigned)p.month, (unsigned)p.day) * 24 + p.hour;
}

int fl_lake_part_key(char *buf, size_t n, const char *prefix, fl_lake_partition p, uint32_t shard,
                     uint64_t first_seq, uint64_t last_seq)
{
    int w = snprintf(buf, n,
                     "%s/year=%" PRId32 "/month=%" PRId32 "/day=%" PRId32 "/hour=%" PRId32
                     "/part-%" PRIu32 "-%" PRIu64 "-%" PRIu64 ".parquet",
                     prefix, p.year, p.month, p.day, p.hour, shard, first_seq, last_seq);
    return w < 0 || (size_t)w >= n ? -ENAMETOOLONG : 0;
}

/* Parse a canonical decimal (no sign, no leading zero unless "0") up to a delimiter. */
static int parse_dec(const char **s, char delim, uint64_t max, uint64_t *out)
{
    const char *p = *s;
    uint64_t v = 0;
    if (*p < '0' || *p > '9' || (*p == '0' && p[1] >= '0' && p[1] <= '9'))
        return FL_EPARSE;
    for (; *p >= '0' && *p <= '9'; p++) {
        unsigned digit = (unsigned)(*p - '0');
        if (v > (max - digit) / 10)
            return FL_EPARSE;
        v = v * 10 + digit;
    }
    if (*p != delim)
        return FL_EPARSE;
    *s = p + (delim ? 1 : 0);
    *out = v;
    return 0;
}

static int parse_field(const char **s, const char *name, uint64_t max, uint64_t *out)
{
    size_t n = strlen(name);
    if (strncmp(*s, name, n) != 0 || (*s)[n] != '=')
        return FL_EPARSE;
    *s += n + 1;
    return parse_dec(s, '/', max, out);
}

int fl_lake_part_key_parse(const char *key, const char *prefix, fl_lake_partition *p,
                           uint32_t *shard, uint64_t *first_seq, uint64_t *last_seq)
{
    size_t pl = strlen(prefix);
    if (strncmp(key, prefix, pl) != 0 || key[pl] != '/')
        return FL_EPARSE;
    const char *s = key + pl + 1;
    uint64_t y, mo, d, h, sh, first, last;
    if (parse_field(&s, "year", 999999, &y) || parse_field(&s, "month", 12, &mo) ||
        parse_field(&s, "day", 31, &d) || parse_field(&s, "hour", 23, &h) || mo < 1 || d < 1)
        return FL_EPARSE;
    if (strncmp(s, "part-", 5) != 0)
        return FL_EPARSE;
    s += 5;
    if (parse_dec(&s, '-', UINT32_MAX, &sh) || parse_dec(&s, '-', INT64_MAX, &first) ||
        parse_dec(&s, '.', INT64_MAX, &last) || strcmp(s, "parquet") != 0 || first > last)
        return FL_EPARSE;
    fl_lake_partition part = {(int32_t)y, (int32_t)mo, (int32_t)d, (int32_t)h};
    *p = part;
    *shard = (uint32_t)sh;
    *first_seq = first;
    *last_seq = last;
    return 0;
}

/* ---- exactly-once: checkpoint and high-water marks ------------------------------------------- */

uint64_t lake_safe_checkpoint(uint64_t last_read, uint64_t floor, const lake_partition_buf *parts,
                              size_t n, long except)
{
    uint64_t s = last_read;
    for (size_t i = 0; i < n; i++)
        if ((long)i != except && parts[i].rows && parts[i].first_seq - 1 < s)
            s = parts[i].first_seq - 1;
    return s > floor ? s : floor;
}

static size_t hwm_find(const lake_hwm_table *t, int64_t hour)
{
    size_t lo = 0, hi = t->n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (t->v[mid].hour < hour)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

int lake_hwm_set(lake_hwm_table *t, int64_t hour, uint64_t last_seq)
{
    size_t i = hwm_find(t, hour);
    if (i < t->n && t->v[i].hour == hour) {
        if (last_seq > t->v[i].last_seq)
            t->v[i].last_seq = last_seq;
    } else {
        if (t->n == t->cap) {
            size_t cap = t->cap ? t->cap * 2 : 64;
            lake_hwm *v = fl_realloc(t->v, cap * sizeof *v);
            if (!v)
                return FL_ENOMEM;
            t->v = v;
            t->cap = cap;
        }
        memmove(t->v + i + 1, t->v + i, (t->n - i) * sizeof *t->v);
        t->v[i].hour = hour;
        t->v[i].last_seq = last_seq;
        t->n++;
    }
    if (last_seq > t->max_seq)
        t->max_seq = last_seq;
    return 0;
}

int lake_hwm_covers(const lake_hwm_table *t, int64_t hour, uint64_t seq)
{
    if (seq > t->max_seq)
        return 0;
    size_t i = hwm_find(t, hour);
    return i < t->n && t->v[i].hour == hour && seq <= t->v[i].last_seq;
}

void lake_hwm_free(lake_hwm_table *t)
{
    fl_free(t->v);
    memset(t, 0, sizeof *t);
}

/* ---- UTF-8 ----------------------------------------------------------------------------------- */

/* Length of the valid UTF-8 sequence at p (n bytes left), or 0 if invalid. */
static size_t utf8_seq(const unsigned char *p, size_t n)
{
    unsigned c = p[0];
    if (c < 0x80)
        return 1;
    size_t len;
    unsigned min;
    if (c >= 0xC2 && c <= 0xDF) {
        len = 2;
        min = 0x80;
    } else if (c >= 0xE0 && c <= 0xEF) {
        len = 3;
        min = 0x800;
    } else if (c >= 0xF0 && c <= 0xF4) {
        len = 4;
        min = 0x10000;
    } else {
        return 0;
    }
    if (n < len)
        return 0;
    unsigned cp = c & (0x7F >> len);
    for (size_t i = 1; i < len; i++) {
        if ((p[i] & 0xC0) != 0x80)
            return 0;
        cp = (cp << 6) | (p[i] & 0x3F);
    }
    if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
        return 0;
    return len;
}

int lake_utf8_valid(const char *p, size_t n)
{
    const unsigned char *s = (const unsigned char *)p;
    for (size_t i = 0; i < n;) {
        if (s[i] < 0x80) {
            i++;
            continue;
        }
        size_t l = utf8_seq(s + i, n - i);
        if (!l)
            return 0;
        i += l;
    }
    return 1;
}

int lake_utf8_sanitize(fl_buf *out, const char *p, size_t n)
{
    const unsigned char *s = (const unsigned char *)p;
    size_t run = 0; /* start of the pending run of valid bytes */
    int rc = fl_buf_reserve(out, n);
    for (size_t i = 0; !rc && i < n;) {
        size_t l = s[i] < 0x80 ? 1 : utf8_seq(s + i, n - i);
        if (l) {
            i += l;
            continue;
        }
        rc = fl_buf_append(out, p + run, i - run);
        if (!rc)
            rc = fl_buf_append(out, "\xEF\xBF\xBD", 3); /* U+FFFD for one bad byte */
        i++;
        run = i;
    }
    return rc ? rc : fl_buf_append(out, p + run, n - run);
}
