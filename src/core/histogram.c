/* histogram.c — fixed-bucket histogram observation and quantile estimate. */
#include "core/histogram.h"

const int64_t fl_histogram_bounds_us[FL_HISTOGRAM_BUCKETS] = {
    50,     100,    250,     500,     1000,    2500,    5000,     10000,    25000,   50000,
    100000, 250000, 500000, 1000000, 2500000, 5000000, 10000000, 30000000, 60000000};

void fl_histogram_observe(fl_histogram *h, int64_t v)
{
    int i = 0;
    while (i < FL_HISTOGRAM_BUCKETS && v > fl_histogram_bounds_us[i])
        i++;
    atomic_fetch_add_explicit(&h->counts[i], 1, memory_order_relaxed);
    atomic_fetch_add_explicit(&h->sum_us, (uint64_t)(v < 0 ? 0 : v), memory_order_relaxed);
    atomic_fetch_add_explicit(&h->count, 1, memory_order_relaxed);
}

int64_t fl_histogram_quantile_us(const fl_histogram *h, double q)
{
    uint64_t total = 0;
    for (int i = 0; i <= FL_HISTOGRAM_BUCKETS; i++)
        total += atomic_load(&h->counts[i]);
    if (!total)
        return 0;
    uint64_t rank = (uint64_t)(q * (double)total);
    if (rank >= total)
        rank = total - 1;
    uint64_t seen = 0;
    for (int i = 0; i < FL_HISTOGRAM_BUCKETS; i++) {
        seen += atomic_load(&h->counts[i]);
        if (seen > rank)
            return fl_histogram_bounds_us[i];
    }
    return fl_histogram_bounds_us[FL_HISTOGRAM_BUCKETS - 1] * 2;
}
