/* prune.c — pruning decisions for lake scans, as pure functions of the pushed-down bounds and
 * a file's catalog row or a row group's statistics (unit tested on crafted inputs). Bounds are
 * only ever loosened relative to the SQL predicate — SQLite re-checks every row — so a wrong
 * "may match" costs time, never a wrong answer; "cannot match" must be exact. */
#include <math.h>
#include <string.h>

#include "query/query_int.h"

#define HOUR_US INT64_C(3600000000)

void fl_query_bounds_init(fl_query_bounds *b)
{
    memset(b, 0, sizeof *b);
    for (int i = 0; i < QB_PART_COUNT; i++) {
        b->part_lo[i] = INT64_MIN;
        b->part_hi[i] = INT64_MAX;
    }
    b->ts_lo = INT64_MIN;
    b->ts_hi = INT64_MAX;
}

static void narrow(int64_t *lo, int64_t *hi, int op, int64_t v)
{
    switch (op) {
    case SQLITE_INDEX_CONSTRAINT_EQ:
        if (v > *lo)
            *lo = v;
        if (v < *hi)
            *hi = v;
        break;
    case SQLITE_INDEX_CONSTRAINT_LT:
        if (v == INT64_MIN) {
            *lo = 1;
            *hi = 0;
        } /* nothing is below the minimum */
        else if (v - 1 < *hi)
            *hi = v - 1;
        break;
    case SQLITE_INDEX_CONSTRAINT_LE:
        if (v < *hi)
            *hi = v;
        break;
    case SQLITE_INDEX_CONSTRAINT_GT:
        if (v == INT64_MAX) {
            *lo = 1;
            *hi = 0;
        } else if (v + 1 > *lo)
            *lo = v + 1;
        break;
    case SQLITE_INDEX_CONSTRAINT_GE:
        if (v > *lo)
            *lo = v;
        break;
    default:
        break;
    }
}

void fl_query_bounds_add_int(fl_query_bounds *b, int column, int op, int64_t v)
{
    if (column == QB_TS)
        narrow(&b->ts_lo, &b->ts_hi, op, v);
    else if (column >= 0 && column < QB_PART_COUNT)
        narrow(&b->part_lo[column], &b->part_hi[column], op, v);
}

void fl_query_bounds_add_real(fl_query_bounds *b, int column, int op, double v)
{
    /* Outside ±2^62 (or NaN) the widening below could overflow: push nothing down. */
    if (!(v > -4.6e18 && v < 4.6e18))
        return;
    int64_t f = (int64_t)floor(v), c = (int64_t)ceil(v);
    switch (op) {
    case SQLITE_INDEX_CONSTRAINT_EQ:
        fl_query_bounds_add_int(b, column, SQLITE_INDEX_CONSTRAINT_GE, f);
        fl_query_bounds_add_int(b, column, SQLITE_INDEX_CONSTRAINT_LE, c);
        break;
    case SQLITE_INDEX_CONSTRAINT_LT:
    case SQLITE_INDEX_CONSTRAINT_LE:
        fl_query_bounds_add_int(b, column, SQLITE_INDEX_CONSTRAINT_LE, c);
        break;
    case SQLITE_INDEX_CONSTRAINT_GT:
    case SQLITE_INDEX_CONSTRAINT_GE:
        fl_query_bounds_add_int(b, column, SQLITE_INDEX_CONSTRAINT_GE, f);
        break;
    default:
        break;
    }
}

static int overlaps(int64_t lo1, int64_t hi1, int64_t lo2, int64_t hi2)
{
    return lo1 <= hi2 && lo2 <= hi1;
}

static int in_range(const fl_query_bounds *b, int column, int64_t v)
{
    return v >= b->part_lo[column] && v <= b->part_hi[column];
}

int fl_query_file_may_match(const fl_query_bounds *b, const fl_lake_file *f,
                            int partitioned_by_hour)
{
    if (b->empty || f->rows == 0)
        return 0;
    for (int i = 0; i < QB_PART_COUNT; i++)
        if (b->part_lo[i] > b->part_hi[i])
            return 0;
    if (b->ts_lo > b->ts_hi)
        return 0;
    if (!in_range(b, QB_YEAR, f->year) || !in_range(b, QB_MONTH, f->month) ||
        !in_range(b, QB_DAY, f->day))
        return 0;
    int by_hour = partitioned_by_hour && f->hour >= 0;
    if (by_hour && !in_range(b, QB_HOUR, f->hour))
        return 0;
    /* The partition's time span: every row's time column lies in it. */
    fl_lake_partition p = {f->year, f->month, f->day, by_hour ? f->hour : 0};
    int64_t start = fl_lake_partition_hour(p) * HOUR_US;
    int64_t end = start + (by_hour ? HOUR_US : 24 * HOUR_US) - 1;
    if (!overlaps(start, end, b->ts_lo, b->ts_hi))
        return 0;
    if (f->min_ts != -1 && f->max_ts != -1 && !overlaps(f->min_ts, f->max_ts, b->ts_lo, b->ts_hi))
        return 0;
    return 1;
}

static int slice_cmp(fl_slice a, const char *s, size_t n)
{
    size_t m = a.len < n ? a.len : n;
    int c = m ? memcmp(a.ptr, s, m) : 0;
    if (c)
        return c;
    return a.len < n ? -1 : a.len > n;
}

int fl_query_row_group_may_match(const fl_query_bounds *b, const fl_pq_stats *ts,
                                 const fl_pq_stats *device)
{
    if (b->empty || b->ts_lo > b->ts_hi)
        return 0;
    if (ts && ts->has_min_max && !overlaps(ts->min.i, ts->max.i, b->ts_lo, b->ts_hi))
        return 0;
    if (b->has_device && device && device->has_min_max) {
        size_t n = strlen(b->device_id);
        if (slice_cmp(device->min.s, b->device_id, n) > 0 ||
            slice_cmp(device->max.s, b->device_id, n) < 0)
            return 0;
    }
    return 1;
}
