/* dedup.c — duplicate detection on (device_id, timestamp) for one device.
 *
 * Producer retries resend a record verbatim (DESIGN §5): the first copy wins in processed-data
 * and later ones carry FL_QUALITY_DUPLICATE. Each device remembers the event timestamps it has
 * processed within the dedup window behind its newest one, at most `cap` of them, in a sorted
 * array: records nearly always arrive in event-time order, so the common case is an O(1)
 * append after one comparison with the newest; an out-of-order record costs a binary search
 * and a memmove. Eviction is from the front (oldest) — by the window, or by capacity when a
 * device reports faster than cap/window records per second (then the effective window is
 * shorter; the defaults, 512 entries for 300 s, leave room for a reading every 0.6 s).
 *
 * Memory: the array holds 2 x cap timestamps so that front evictions are an index increment
 * and the live range is slid back only once per cap inserts (amortised O(1)). */
#include "process/process_int.h"

void dedup_reset(struct dedup_set *d)
{
    d->start = d->count = 0;
}

static uint32_t lower_bound(const int64_t *a, uint32_t n, int64_t ts)
{
    uint32_t lo = 0, hi = n;
    while (lo < hi) {
        uint32_t mid = lo + (hi - lo) / 2;
        if (a[mid] < ts)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

static void evict(struct dedup_set *d, int64_t window_us)
{
    int64_t newest = d->ts[d->start + d->count - 1];
    while (d->count > 0 && (d->count > d->cap || d->ts[d->start] < newest - window_us)) {
        d->start++;
        d->count--;
    }
}

int dedup_check_insert(struct dedup_set *d, int64_t ts, int64_t window_us)
{
    if (d->cap == 0)
        return 0;
    int64_t *a = d->ts + d->start;
    if (d->count > 0 && ts <= a[d->count - 1]) {
        if (ts < a[0] && (d->count == d->cap || ts < a[d->count - 1] - window_us))
            return 0; /* older than anything remembered: cannot tell, treat as new */
        uint32_t i = lower_bound(a, d->count, ts);
        if (i < d->count && a[i] == ts)
            return 1;
        if (d->start + d->count == 2 * d->cap) {
            memmove(d->ts, a, d->count * sizeof *a);
            d->start = 0;
            a = d->ts;
        }
        memmove(a + i + 1, a + i, (d->count - i) * sizeof *a);
        a[i] = ts;
        d->count++;
        evict(d, window_us);
        return 0;
    }
    if (d->start + d->count == 2 * d->cap) {
        memmove(d->ts, a, d->count * sizeof *a);
        d->start = 0;
    }
    d->ts[d->start + d->count++] = ts;
    evict(d, window_us);
    return 0;
}
