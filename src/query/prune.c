/* prune.c — pruning decisions for lake scans, as pure functions of the pushed-down bounds and
 * a file's catalog row or a row group's statistics (unit tested on crafted inputs). Bounds are
 * only ever loosened relative to the SQL predicate — SQLite re-checks every row — so a wrong
 * "may match" costs time, never a wrong answer; "cannot match" must be exact. */
#include <math.h>
#include <stdlib.h>
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

int fl_query_slice_cmp(fl_slice a, fl_slice b)
{
    size_t m = a.len < b.len ? a.len : b.len;
    int c = m ? memcmp(a.ptr, b.ptr, m) : 0;
    if (c)
        return c;
    return a.len < b.len ? -1 : a.len > b.len;
}

static int slice_qsort_cmp(const void *a, const void *b)
{
    return fl_query_slice_cmp(*(const fl_slice *)a, *(const fl_slice *)b);
}

/* Index of the first device >= key (device_count if none). */
static size_t device_lower_bound(const fl_query_bounds *b, fl_slice key)
{
    size_t lo = 0, hi = b->device_count;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (fl_query_slice_cmp(b->devices[mid], key) < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

void fl_query_bounds_set_devices(fl_query_bounds *b, fl_slice *ids, size_t n)
{
    if (n > 1)
        qsort(ids, n, sizeof *ids, slice_qsort_cmp);
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        if (k > 0 && fl_query_slice_cmp(ids[k - 1], ids[i]) == 0)
            continue;
        if (b->has_device && !fl_query_device_match(b, ids[i]))
            continue;
        ids[k++] = ids[i];
    }
    b->has_device = 1;
    b->devices = ids;
    b->device_count = k;
    if (k == 0)
        b->empty = 1;
}

int fl_query_device_match(const fl_query_bounds *b, fl_slice id)
{
    if (!b->has_device)
        return 1;
    size_t i = device_lower_bound(b, id);
    return i < b->device_count && fl_query_slice_cmp(b->devices[i], id) == 0;
}

int fl_query_row_group_may_match(const fl_query_bounds *b, const fl_pq_stats *ts,
                                 const fl_pq_stats *device)
{
    if (b->empty || b->ts_lo > b->ts_hi)
        return 0;
    if (ts && ts->has_min_max && !overlaps(ts->min.i, ts->max.i, b->ts_lo, b->ts_hi))
        return 0;
    if (b->has_device && device && device->has_min_max) {
        /* Some listed device in [min, max]? The first one >= min decides. */
        size_t i = device_lower_bound(b, device->min.s);
        if (i == b->device_count || fl_query_slice_cmp(b->devices[i], device->max.s) > 0)
            return 0;
    }
    return 1;
}

/* ---- row filters --------------------------------------------------------------------------- */

void fl_query_row_filter_init(fl_query_row_filter *f, int column, int is_real)
{
    memset(f, 0, sizeof *f);
    f->column = column;
    f->is_real = is_real;
    f->ilo = INT64_MIN;
    f->ihi = INT64_MAX;
    f->dlo = -INFINITY;
    f->dhi = INFINITY;
}

/* Narrow the REAL range by "x op v" (v not NaN). */
static void narrow_real(fl_query_row_filter *f, int op, double v)
{
    int lo = op == SQLITE_INDEX_CONSTRAINT_EQ || op == SQLITE_INDEX_CONSTRAINT_GT ||
             op == SQLITE_INDEX_CONSTRAINT_GE;
    int hi = op == SQLITE_INDEX_CONSTRAINT_EQ || op == SQLITE_INDEX_CONSTRAINT_LT ||
             op == SQLITE_INDEX_CONSTRAINT_LE;
    int strict = op == SQLITE_INDEX_CONSTRAINT_GT || op == SQLITE_INDEX_CONSTRAINT_LT;
    if (lo && (v > f->dlo || (v == f->dlo && strict))) {
        f->dlo = v;
        f->dlo_open = strict;
    }
    if (hi && (v < f->dhi || (v == f->dhi && strict))) {
        f->dhi = v;
        f->dhi_open = strict;
    }
}

void fl_query_row_filter_add_int(fl_query_row_filter *f, int op, int64_t v)
{
    if (!f->is_real) {
        narrow(&f->ilo, &f->ihi, op, v);
        return;
    }
    /* SQLite compares an integer with a REAL exactly; (double)v is exact up to 2^53. Beyond
     * that push nothing down. */
    if (v >= -(INT64_C(1) << 53) && v <= (INT64_C(1) << 53))
        narrow_real(f, op, (double)v);
}

void fl_query_row_filter_add_real(fl_query_row_filter *f, int op, double v)
{
    if (isnan(v))
        return;
    if (f->is_real) {
        narrow_real(f, op, v);
        return;
    }
    /* An INTEGER column against a REAL value: widen to the integers around it, as for the
     * partition bounds (outside ±2^62 nothing is pushed down). */
    if (!(v > -4.6e18 && v < 4.6e18))
        return;
    int64_t fl = (int64_t)floor(v), c = (int64_t)ceil(v);
    switch (op) {
    case SQLITE_INDEX_CONSTRAINT_EQ:
        narrow(&f->ilo, &f->ihi, SQLITE_INDEX_CONSTRAINT_GE, fl);
        narrow(&f->ilo, &f->ihi, SQLITE_INDEX_CONSTRAINT_LE, c);
        break;
    case SQLITE_INDEX_CONSTRAINT_LT:
    case SQLITE_INDEX_CONSTRAINT_LE:
        narrow(&f->ilo, &f->ihi, SQLITE_INDEX_CONSTRAINT_LE, c);
        break;
    case SQLITE_INDEX_CONSTRAINT_GT:
    case SQLITE_INDEX_CONSTRAINT_GE:
        narrow(&f->ilo, &f->ihi, SQLITE_INDEX_CONSTRAINT_GE, fl);
        break;
    default:
        break;
    }
}
