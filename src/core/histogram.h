/* histogram.h — lock-free latency histograms with fixed buckets for Prometheus export.
 *
 * Buckets are upper bounds in microseconds, roughly 1-2.5-5 per decade from 50 µs to 60 s: wide
 * enough for fsync on a slow disk, fine enough to read a p99 of a few ms. Observations are
 * atomic adds, safe from any thread. */
#ifndef FL_CORE_HISTOGRAM_H
#define FL_CORE_HISTOGRAM_H

#include <stdatomic.h>
#include <stdint.h>

#define FL_HISTOGRAM_BUCKETS 19

typedef struct fl_histogram {
    atomic_uint_fast64_t counts[FL_HISTOGRAM_BUCKETS + 1]; /* last is +Inf */
    atomic_uint_fast64_t sum_us;
    atomic_uint_fast64_t count;
} fl_histogram;

/* Upper bounds in µs of the finite buckets, ascending. */
extern const int64_t fl_histogram_bounds_us[FL_HISTOGRAM_BUCKETS];

void fl_histogram_observe(fl_histogram *h, int64_t value_us);
/* Approximate quantile q in [0,1] (bucket upper bound), in µs; 0 if empty. */
int64_t fl_histogram_quantile_us(const fl_histogram *h, double q);

#endif
