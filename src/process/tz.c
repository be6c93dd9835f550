/* tz.c — IANA time zones from the system tz database, parsed once into a transition table.
 *
 * Enrichment needs the fleet's local hour and weekday for every record. The C library's
 * localtime_r works through the process-global TZ variable and takes a lock per call, so
 * fleetlake reads the zone's TZif file (RFC 8536) itself: the version 2+ 64-bit section gives
 * a sorted table of UTC transition instants and the local time type (UTC offset) each starts;
 * fl_tz_offset_at is a binary search. After the last transition the file's footer, a POSIX TZ
 * string such as "CET-1CEST,M3.5.0,M10.5.0/3", gives the rule; this file evaluates the
 * Mm.w.d, Jn and n rule forms. Untrusted-input discipline applies: every count is checked
 * against the bytes that are actually there.
 *
 * Invariants: (1) trans_s is strictly increasing; (2) every type index < ntypes; (3) offsets
 * are within ±25 h (RFC 8536's bound is 24:59:59). */
#include <stdio.h>
#include <stdlib.h>

#include "process/process_int.h"

#define TZ_DEFAULT_DIR "/usr/share/zoneinfo"
#define TZ_FILE_MAX (1 << 20) /* real TZif files are < 4 KiB; 1 MiB bounds a hostile one */
#define TZ_OFFSET_MAX_S (25 * 3600)
#define US_PER_DAY (INT64_C(86400) * FL_US_PER_SEC)

static int64_t floor_div(int64_t a, int64_t b)
{
    int64_t q = a / b;
    return (a % b != 0 && ((a < 0) != (b < 0))) ? q - 1 : q;
}

/* ---- POSIX TZ footer ------------------------------------------------------------------------ */

static const char *posix_name(const char *p)
{
    if (*p == '<') {
        while (*p && *p != '>')
            p++;
        return *p == '>' ? p + 1 : NULL;
    }
    const char *s = p;
    while ((*p >= 'A' && *p <= 'Z') || (*p >= 'a' && *p <= 'z'))
        p++;
    return p - s >= 3 ? p : NULL;
}

static const char *posix_num(const char *p, int *out, int max)
{
    if (*p < '0' || *p > '9')
        return NULL;
    int v = 0;
    while (*p >= '0' && *p <= '9') {
        v = v * 10 + (*p++ - '0');
        if (v > max)
            return NULL;
    }
    *out = v;
    return p;
}

/* [+-]hh[:mm[:ss]] → seconds; hours up to 167 (RFC 8536 extension for rule times). */
static const char *posix_time(const char *p, int32_t *out)
{
    int sign = 1, h = 0, m = 0, s = 0;
    if (*p == '+' || *p == '-')
        sign = *p++ == '-' ? -1 : 1;
    if (!(p = posix_num(p, &h, 167)))
        return NULL;
    if (*p == ':' && !(p = posix_num(p + 1, &m, 59)))
        return NULL;
    if (p && *p == ':' && !(p = posix_num(p + 1, &s, 59)))
        return NULL;
    *out = sign * (h * 3600 + m * 60 + s);
    return p;
}

static const char *posix_rule(const char *p, struct tz_rule *r)
{
    int a = 0, b = 0, c = 0;
    if (*p == 'M') {
        if (!(p = posix_num(p + 1, &a, 12)) || *p != '.' || !(p = posix_num(p + 1, &b, 5)) ||
            *p != '.' || !(p = posix_num(p + 1, &c, 6)) || a < 1 || b < 1)
            return NULL;
        r->form = 'M';
    } else if (*p == 'J') {
        if (!(p = posix_num(p + 1, &a, 365)) || a < 1)
            return NULL;
        r->form = 'J';
    } else {
        if (!(p = posix_num(p, &a, 365)))
            return NULL;
        r->form = 'n';
    }
    r->month = a, r->week = b, r->wday = c;
    r->time_s = 7200; /* 02:00 local unless given */
    if (*p == '/' && !(p = posix_time(p + 1, &r->time_s)))
        return NULL;
    return p;
}

/* Parse the footer; returns 0 and fills tz->rule, or -1 (then the last transition's type is
 * used forever, the documented fallback). */
static int posix_parse(const char *s, struct fl_tz *tz)
{
    struct tz_posix *P = &tz->posix;
    memset(P, 0, sizeof *P);
    const char *p = posix_name(s);
    int32_t off;
    if (!p || !(p = posix_time(p, &off)))
        return -1;
    P->std_off = -off; /* POSIX offsets are west-positive */
    if (off < -TZ_OFFSET_MAX_S || off > TZ_OFFSET_MAX_S)
        return -1; /* rule times may reach 167 h, UTC offsets may not (found by fuzzing) */
    if (*p == 0) {
        P->valid = 1;
        return 0;
    }
    if (!(p = posix_name(p)))
        return -1;
    P->dst_off = P->std_off + 3600;
    if (*p != ',' && *p != 0) {
        if (!(p = posix_time(p, &off)) || off < -TZ_OFFSET_MAX_S || off > TZ_OFFSET_MAX_S)
            return -1;
        P->dst_off = -off;
    }
    if (*p != ',' || !(p = posix_rule(p + 1, &P->start)) || *p != ',' ||
        !(p = posix_rule(p + 1, &P->end)) || *p != 0)
        return -1;
    P->has_dst = 1;
    P->valid = 1;
    return 0;
}

static int is_leap(int64_t y)
{
    return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

/* Local seconds since the epoch at which rule r fires in year y (wall clock of the rule). */
static int64_t rule_local_s(const struct tz_rule *r, int64_t y)
{
    int64_t day;
    if (r->form == 'M') {
        int64_t first = fl_time_days_from_civil(y, (unsigned)r->month, 1);
        int wd_first = (int)((first % 7 + 7 + 4) % 7); /* 0 = Sunday; 1970-01-01 Thursday */
        int64_t d = first + (r->wday - wd_first + 7) % 7 + 7 * (r->week - 1);
        static const int mdays[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
        int64_t len = mdays[r->month - 1] + (r->month == 2 && is_leap(y));
        while (d >= first + len) /* week 5 = the last such weekday */
            d -= 7;
        day = d;
    } else if (r->form == 'J') { /* 1..365, February 29 never counted */
        day = fl_time_days_from_civil(y, 1, 1) + r->month - 1 + (is_leap(y) && r->month > 59);
    } else { /* 0..365, leap days counted */
        day = fl_time_days_from_civil(y, 1, 1) + r->month;
    }
    return day * 86400 + r->time_s;
}

static int32_t posix_offset(const struct tz_posix *P, int64_t t_s)
{
    if (!P->has_dst)
        return P->std_off;
    int64_t y;
    unsigned m, d;
    fl_time_civil_from_days(floor_div(t_s + P->std_off, 86400), &y, &m, &d);
    /* start is given in standard local time, end in daylight local time */
    int64_t start = rule_local_s(&P->start, y) - P->std_off;
    int64_t end = rule_local_s(&P->end, y) - P->dst_off;
    int dst = start < end ? (t_s >= start && t_s < end) : !(t_s >= end && t_s < start);
    return dst ? P->dst_off : P->std_off;
}

/* ---- TZif ----------------------------------------------------------------------------------------- */

struct tzif_counts {
    uint32_t isut, isstd, leap, time, type, chars;
};

static int read_counts(const unsigned char *p, size_t len, struct tzif_counts *c, int *version)
{
    if (len < 44 || memcmp(p, "TZif", 4) != 0)
        return FL_ECORRUPT;
    *version = p[4] == 0 ? 1 : p[4] - '0';
    if (*version < 1 || *version > 9)
        return FL_ECORRUPT;
    uint32_t v[6];
    for (int i = 0; i < 6; i++)
        v[i] = (uint32_t)p[20 + 4 * i] << 24 | (uint32_t)p[21 + 4 * i] << 16 |
               (uint32_t)p[22 + 4 * i] << 8 | p[23 + 4 * i];
    *c = (struct tzif_counts){v[0], v[1], v[2], v[3], v[4], v[5]};
    if (c->type < 1 || c->type > 256 || c->time > 100000 || c->chars > 100000 ||
        c->leap > 100000 || (c->isut && c->isut != c->type) || (c->isstd && c->isstd != c->type))
        return FL_ECORRUPT;
    return 0;
}

static size_t block_len(const struct tzif_counts *c, size_t tsize)
{
    return (size_t)c->time * tsize + c->time + (size_t)c->type * 6 + c->chars +
           (size_t)c->leap * (tsize + 4) + c->isstd + c->isut;
}

static int64_t get_be(const unsigned char *p, size_t n)
{
    uint64_t v = 0;
    for (size_t i = 0; i < n; i++)
        v = v << 8 | p[i];
    if (n == 4)
        return (int32_t)(uint32_t)v;
    return (int64_t)v;
}

static int fill_table(struct fl_tz *tz, const unsigned char *p, const struct tzif_counts *c,
                      size_t tsize)
{
    tz->ntrans = c->time;
    tz->ntypes = c->type;
    tz->trans_s = fl_calloc(c->time ? c->time : 1, sizeof *tz->trans_s);
    tz->trans_type = fl_calloc(c->time ? c->time : 1, 1);
    tz->type_off = fl_calloc(c->type, sizeof *tz->type_off);
    if (!tz->trans_s || !tz->trans_type || !tz->type_off)
        return FL_ENOMEM;
    const unsigned char *idx = p + (size_t)c->time * tsize, *types = idx + c->time;
    for (uint32_t i = 0; i < c->time; i++) {
        tz->trans_s[i] = get_be(p + i * tsize, tsize);
        if (i > 0 && tz->trans_s[i] <= tz->trans_s[i - 1])
            return FL_ECORRUPT;
        if (idx[i] >= c->type)
            return FL_ECORRUPT;
        tz->trans_type[i] = idx[i];
    }
    for (uint32_t i = 0; i < c->type; i++) {
        int64_t off = get_be(types + 6 * i, 4);
        if (off < -TZ_OFFSET_MAX_S || off > TZ_OFFSET_MAX_S || types[6 * i + 4] > 1 ||
            types[6 * i + 5] >= (c->chars ? c->chars : 1))
            return FL_ECORRUPT;
        tz->type_off[i] = (int32_t)off;
    }
    return 0;
}

static int parse_footer(struct fl_tz *tz, const unsigned char *p, size_t len)
{
    if (len < 2 || p[0] != '\n')
        return FL_ECORRUPT;
    const unsigned char *nl = memchr(p + 1, '\n', len - 1);
    if (!nl || (size_t)(nl - p - 1) >= sizeof tz->footer)
        return FL_ECORRUPT;
    memcpy(tz->footer, p + 1, (size_t)(nl - p - 1));
    tz->footer[nl - p - 1] = 0;
    if (tz->footer[0])
        (void)posix_parse(tz->footer, tz); /* unsupported rule: documented fallback */
    return 0;
}

int fl_tz_parse(const char *name, const void *bytes, size_t len, fl_tz **out)
{
    *out = NULL;
    const unsigned char *p = bytes;
    struct tzif_counts c;
    int version, rc = read_counts(p, len, &c, &version);
    if (rc)
        return rc;
    fl_tz *tz = fl_calloc(1, sizeof *tz);
    if (!tz)
        return FL_ENOMEM;
    snprintf(tz->name, sizeof tz->name, "%s", name ? name : "");
    size_t v1 = 44 + block_len(&c, 4), tsize = 4;
    const unsigned char *data = p + 44;
    if (v1 > len) {
        rc = FL_ECORRUPT;
        goto out;
    }
    if (version >= 2) {
        if ((rc = read_counts(p + v1, len - v1, &c, &version)))
            goto out;
        size_t v2 = v1 + 44 + block_len(&c, 8);
        if (v2 > len) {
            rc = FL_ECORRUPT;
            goto out;
        }
        data = p + v1 + 44;
        tsize = 8;
        if ((rc = parse_footer(tz, p + v2, len - v2)))
            goto out;
    }
    rc = fill_table(tz, data, &c, tsize);
out:
    if (rc) {
        fl_tz_destroy(tz);
        return rc;
    }
    *out = tz;
    return 0;
}

static int fixed_utc(const char *name, fl_tz **out)
{
    static const unsigned char utc[] = "TZif2\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0"
                                       "\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\1\0\0\0\4"
                                       "\0\0\0\0\0\0UTC\0"
                                       "TZif2\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0"
                                       "\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\1\0\0\0\4"
                                       "\0\0\0\0\0\0UTC\0\nUTC0\n";
    return fl_tz_parse(name, utc, sizeof utc - 1, out);
}

static int valid_name(const char *name)
{
    size_t n = strlen(name);
    if (n == 0 || n >= 64 || name[0] == '/' || name[0] == '.' || strstr(name, ".."))
        return 0;
    for (const char *p = name; *p; p++) {
        char ch = *p;
        if (!((ch >= 'A' && ch <= 'Z') || (ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9') ||
              ch == '/' || ch == '_' || ch == '-' || ch == '+'))
            return 0;
    }
    return 1;
}

int fl_tz_load_dir(const char *dir, const char *name, fl_tz **out)
{
    *out = NULL;
    if (!name || !valid_name(name))
        return FL_EINVAL;
    char path[4200];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "rb");
    if (!f) {
        if (strcmp(name, "UTC") == 0 || strcmp(name, "Etc/UTC") == 0)
            return fixed_utc(name, out);
        return FL_ENOTFOUND;
    }
    unsigned char *buf = fl_malloc(TZ_FILE_MAX);
    int rc = FL_ENOMEM;
    if (buf) {
        size_t n = fread(buf, 1, TZ_FILE_MAX, f);
        rc = ferror(f) ? -EIO : n == TZ_FILE_MAX ? FL_ECORRUPT : fl_tz_parse(name, buf, n, out);
    }
    fl_free(buf);
    fclose(f);
    return rc;
}

int fl_tz_load(const char *name, fl_tz **out)
{
    return fl_tz_load_dir(TZ_DEFAULT_DIR, name, out);
}

void fl_tz_destroy(fl_tz *tz)
{
    if (!tz)
        return;
    fl_free(tz->trans_s);
    fl_free(tz->trans_type);
    fl_free(tz->type_off);
    fl_free(tz);
}

const char *fl_tz_name(const fl_tz *tz)
{
    return tz->name;
}

int32_t fl_tz_offset_at(const fl_tz *tz, int64_t utc_us)
{
    int64_t t = floor_div(utc_us, FL_US_PER_SEC);
    size_t n = tz->ntrans;
    if (n == 0 || t < tz->trans_s[0]) {
        if (n == 0 && tz->posix.valid)
            return posix_offset(&tz->posix, t);
        return tz->type_off[0]; /* RFC 8536: type 0 is in force before the first transition */
    }
    if (t >= tz->trans_s[n - 1] && tz->posix.valid)
        return posix_offset(&tz->posix, t);
    size_t lo = 0, hi = n; /* last transition <= t */
    while (hi - lo > 1) {
        size_t mid = lo + (hi - lo) / 2;
        if (tz->trans_s[mid] <= t)
            lo = mid;
        else
            hi = mid;
    }
    return tz->type_off[tz->trans_type[lo]];
}

void fl_tz_local_time(const fl_tz *tz, int64_t utc_us, fl_local_time *out)
{
    int32_t off = fl_tz_offset_at(tz, utc_us);
    int64_t local = utc_us + (int64_t)off * FL_US_PER_SEC;
    int64_t days = floor_div(local, US_PER_DAY);
    unsigned m, d;
    fl_time_civil_from_days(days, &out->year, &m, &d);
    out->month = (int)m;
    out->day = (int)d;
    out->hour = (int)((local - days * US_PER_DAY) / (3600 * FL_US_PER_SEC));
    out->day_of_week = (int)(((days % 7) + 7 + 3) % 7) + 1; /* 1970-01-01 was a Thursday (4) */
    out->is_weekend = out->day_of_week >= 6;
    out->utc_offset_s = off;
}
