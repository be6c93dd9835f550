/* time.h — clocks and UTC calendar conversions (RFC 3339 parse and format).
 *
 * Timestamps in fleetlake are int64 microseconds since the Unix epoch, UTC. */
#ifndef FL_CORE_TIME_H
#define FL_CORE_TIME_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "core/error.h"

#define FL_US_PER_SEC INT64_C(1000000)
#define FL_US_PER_MS INT64_C(1000)

int64_t fl_time_now_us(void);   /* CLOCK_REALTIME */
int64_t fl_time_mono_us(void);  /* CLOCK_MONOTONIC */
/* The CLOCK_REALTIME deadline us from now, as pthread_cond_timedwait wants it. */
struct timespec fl_time_deadline_us(int64_t us);

/* Days since 1970-01-01 for a proleptic Gregorian date (Howard Hinnant's algorithm). */
int64_t fl_time_days_from_civil(int64_t y, unsigned m, unsigned d);
/* Inverse of fl_time_days_from_civil. */
void fl_time_civil_from_days(int64_t days, int64_t *y, unsigned *m, unsigned *d);

/* Parse an RFC 3339 date-time with a zone ("2026-11-25T01:02:03.456Z", "...+09:00");
 * fractional seconds up to 9 digits are accepted and truncated to microseconds. 'T' or ' '
 * separates date and time; 'z' is accepted. Returns 0 and *out_us, or FL_EPARSE. */
FL_MUST_USE int fl_time_parse_rfc3339(const char *s, size_t n, int64_t *out_us);

/* Format us as "YYYY-MM-DDTHH:MM:SS.ffffffZ" into buf (at least FL_TIME_RFC3339_MAX bytes,
 * NUL-terminated). Returns the length written. */
#define FL_TIME_RFC3339_MAX 40
size_t fl_time_format_rfc3339(int64_t us, char *buf);

/* Parse a duration such as "250ms", "10s", "5m", "24h", "7d" or a bare number of seconds into
 * microseconds. Returns 0 or FL_EPARSE. */
FL_MUST_USE int fl_time_parse_duration(const char *s, int64_t *out_us);

#endif
