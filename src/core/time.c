/* time.c — clocks, civil-date arithmetic and RFC 3339 for the whole program. */
#include "core/time.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

int64_t fl_time_now_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * FL_US_PER_SEC + ts.tv_nsec / 1000;
}

int64_t fl_time_mono_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * FL_US_PER_SEC + ts.tv_nsec / 1000;
}

int64_t fl_time_days_from_civil(int64_t y, unsigned m, unsigned d)
{
    y -= m <= 2;
    const int64_t era = (y >= 0 ? y : y - 399) / 400;
    const unsigned yoe = (unsigned)(y - era * 400);
    const unsigned doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
    const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + (int64_t)doe - 719468;
}

void fl_time_civil_from_days(int64_t z, int64_t *y, unsigned *m, unsigned *d)
{
    z += 719468;
    const int64_t era = (z >= 0 ? z : z - 146096) / 146097;
    const unsigned doe = (unsigned)(z - era * 146097);
    const unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    const int64_t yy = (int64_t)yoe + era * 400;
    const unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    const unsigned mp = (5 * doy + 2) / 153;
    *d = doy - (153 * mp + 2) / 5 + 1;
    *m = mp < 10 ? mp + 3 : mp - 9;
    *y = yy + (*m <= 2);
}

static int digits(const char *s, size_t n, size_t at, size_t count, int *out)
{
    if (at + count > n)
        return -1;
    int v = 0;
    for (size_t i = 0; i < count; i++) {
        char c = s[at + i];
        if (c < '0' || c > '9')
            return -1;
        v = v * 10 + (c - '0');
    }
    *out = v;
    return 0;
}

static int days_in_month(int y, int m)
{
    static const int dm[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    if (m == 2 && ((y % 4 == 0 && y % 100 != 0) || y % 400 == 0))
        return 29;
    return dm[m - 1];
}

int fl_time_parse_rfc3339(const char *s, size_t n, int64_t *out_us)
{
    int y, mo, d, h, mi, se;
    if (digits(s, n, 0, 4, &y) || n < 20 || s[4] != '-' || digits(s, n, 5, 2, &mo) ||
        s[7] != '-' || digits(s, n, 8, 2, &d) || (s[10] != 'T' && s[10] != 't' && s[10] != ' ') ||
        digits(s, n, 11, 2, &h) || s[13] != ':' || digits(s, n, 14, 2, &mi) || s[16] != ':' ||
        digits(s, n, 17, 2, &se))
        return FL_EPARSE;
    if (mo < 1 || mo > 12 || d < 1 || d > days_in_month(y, mo) || h > 23 || mi > 59 || se > 60)
        return FL_EPARSE;
    size_t i = 19;
    int64_t frac_us = 0;
    if (i < n && s[i] == '.') {
        i++;
        size_t start = i;
        int64_t scale = 100000;
        while (i < n && s[i] >= '0' && s[i] <= '9') {
            if (i - start < 6) {
                frac_us += (s[i] - '0') * scale;
                scale /= 10;
            }
            i++;
        }
        if (i == start || i - start > 9)
            return FL_EPARSE;
    }
    if (i >= n)
        return FL_EPARSE;
    int64_t offset_s = 0;
    if (s[i] == 'Z' || s[i] == 'z') {
        i++;
    } else if (s[i] == '+' || s[i] == '-') {
        int oh, om;
        if (digits(s, n, i + 1, 2, &oh) || i + 3 >= n || s[i + 3] != ':' ||
            digits(s, n, i + 4, 2, &om) || oh > 23 || om > 59)
            return FL_EPARSE;
        offset_s = (int64_t)(oh * 3600 + om * 60) * (s[i] == '-' ? -1 : 1);
        i += 6;
    } else {
        return FL_EPARSE;
    }
    if (i != n)
        return FL_EPARSE;
    if (se == 60) /* leap second: folded onto the next second, as most engines do */
        se = 59, frac_us = 999999;
    int64_t days = fl_time_days_from_civil(y, (unsigned)mo, (unsigned)d);
    int64_t secs = days * 86400 + h * 3600 + mi * 60 + se - offset_s;
    *out_us = secs * FL_US_PER_SEC + frac_us;
    return 0;
}

size_t fl_time_format_rfc3339(int64_t us, char *buf)
{
    int64_t secs = us / FL_US_PER_SEC;
    int64_t frac = us % FL_US_PER_SEC;
    if (frac < 0) {
        frac += FL_US_PER_SEC;
        secs -= 1;
    }
    int64_t days = secs / 86400;
    int64_t rem = secs % 86400;
    if (rem < 0) {
        rem += 86400;
        days -= 1;
    }
    int64_t y;
    unsigned m, d;
    fl_time_civil_from_days(days, &y, &m, &d);
    int n = snprintf(buf, FL_TIME_RFC3339_MAX, "%04lld-%02u-%02uT%02d:%02d:%02d.%06lldZ",
                     (long long)y, m, d, (int)(rem / 3600), (int)(rem / 60 % 60), (int)(rem % 60),
                     (long long)frac);
    return n < 0 ? 0 : (size_t)n;
}

int fl_time_parse_duration(const char *s, int64_t *out_us)
{
    char *end;
    if (!s || !*s)
        return FL_EPARSE;
    double v = strtod(s, &end);
    if (end == s || v < 0)
        return FL_EPARSE;
    double mult;
    if (!*end || strcmp(end, "s") == 0)
        mult = 1e6;
    else if (strcmp(end, "ms") == 0)
        mult = 1e3;
    else if (strcmp(end, "us") == 0)
        mult = 1;
    else if (strcmp(end, "m") == 0)
        mult = 60e6;
    else if (strcmp(end, "h") == 0)
        mult = 3600e6;
    else if (strcmp(end, "d") == 0)
        mult = 86400e6;
    else
        return FL_EPARSE;
    double r = v * mult;
    if (r > 9.2e18)
        return FL_EPARSE;
    *out_us = (int64_t)r;
    return 0;
}

struct timespec fl_time_deadline_us(int64_t us)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    int64_t ns = (int64_t)ts.tv_nsec + (us % FL_US_PER_SEC) * 1000;
    ts.tv_sec += (time_t)(us / FL_US_PER_SEC + ns / 1000000000);
    ts.tv_nsec = (long)(ns % 1000000000);
    return ts;
}
