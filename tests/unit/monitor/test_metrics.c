/* test_metrics.c — the metrics registry: counters with labels, bounded series, histograms
 * in seconds with cumulative buckets, collectors, and the exposition text. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>

#include "monitor/monitor.h"

static int collect(void *ctx, fl_buf *out)
{
    int *calls = ctx;
    (*calls)++;
    int rc = fl_metrics_write_header(out, "test_gauge", "gauge", "A gauge.");
    return rc ? rc : fl_metrics_write_sample(out, "test_gauge", "shard=\"shard-0001\"", 42);
}

static void renders_exposition(void **state)
{
    (void)state;
    fl_metrics *m;
    assert_int_equal(fl_metrics_create(&m), 0);
    fl_counter_family *req = fl_metrics_counter(m, "t_requests_total", "Requests.", "route", "status");
    assert_non_null(req);
    fl_counter_add(fl_counter_series(req, "/v1/records", "200"), 3);
    fl_counter_add(fl_counter_series(req, "/v1/records", "200"), 2);
    fl_counter_add(fl_counter_series(req, "/a\"b\\c", "404"), 1);
    fl_histogram *h = fl_metrics_histogram(m, "t_latency_seconds", "Latency.", NULL);
    assert_non_null(h);
    fl_histogram_observe(h, 40);     /* <= 50 µs */
    fl_histogram_observe(h, 3000);   /* <= 5 ms */
    fl_histogram_observe(h, 999999999); /* +Inf */
    int calls = 0;
    assert_int_equal(fl_metrics_add_collector(m, collect, &calls), 0);
    fl_buf out = {0};
    assert_int_equal(fl_metrics_render(m, &out), 0);
    assert_int_equal(calls, 1);
    const char *t = out.data;
    assert_non_null(strstr(t, "# TYPE t_requests_total counter\n"));
    assert_non_null(strstr(t, "t_requests_total{route=\"/v1/records\",status=\"200\"} 5\n"));
    assert_non_null(strstr(t, "t_requests_total{route=\"/a\\\"b\\\\c\",status=\"404\"} 1\n"));
    assert_non_null(strstr(t, "# TYPE t_latency_seconds histogram\n"));
    assert_non_null(strstr(t, "t_latency_seconds_bucket{le=\"5e-05\"} 1\n"));
    assert_non_null(strstr(t, "t_latency_seconds_bucket{le=\"0.005\"} 2\n"));
    assert_non_null(strstr(t, "t_latency_seconds_bucket{le=\"60\"} 2\n"));
    assert_non_null(strstr(t, "t_latency_seconds_bucket{le=\"+Inf\"} 3\n"));
    assert_non_null(strstr(t, "t_latency_seconds_count 3\n"));
    assert_non_null(strstr(t, "test_gauge{shard=\"shard-0001\"} 42\n"));
    fl_buf_free(&out);
    fl_metrics_destroy(m);
}

static void series_are_bounded(void **state)
{
    (void)state;
    fl_metrics *m;
    assert_int_equal(fl_metrics_create(&m), 0);
    fl_counter_family *f = fl_metrics_counter(m, "t_total", "T.", "k", NULL);
    char v[32];
    for (int i = 0; i < FL_METRICS_MAX_SERIES + 10; i++) {
        snprintf(v, sizeof v, "v%d", i);
        fl_counter_add(fl_counter_series(f, v, NULL), 1);
    }
    /* existing series still resolve to themselves */
    fl_counter *first = fl_counter_series(f, "v0", NULL);
    assert_int_equal(atomic_load(&first->value), 1);
    fl_buf out = {0};
    assert_int_equal(fl_metrics_render(m, &out), 0);
    assert_non_null(strstr(out.data, "t_total{k=\"other\"} 10\n"));
    assert_null(strstr(out.data, "k=\"v300\""));
    fl_buf_free(&out);
    fl_metrics_destroy(m);
}

static void quantiles(void **state)
{
    (void)state;
    fl_histogram h = {0};
    assert_int_equal(fl_histogram_quantile_us(&h, 0.99), 0);
    for (int i = 0; i < 99; i++)
        fl_histogram_observe(&h, 800); /* bucket <= 1000 µs */
    fl_histogram_observe(&h, 40000);   /* bucket <= 50 ms */
    assert_int_equal(fl_histogram_quantile_us(&h, 0.5), 1000);
    assert_int_equal(fl_histogram_quantile_us(&h, 0.999), 50000);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(renders_exposition),
        cmocka_unit_test(series_are_bounded),
        cmocka_unit_test(quantiles),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
