/* test_metrics.c — the metrics registry: counters with labels, bounded series, histograms
 * in seconds with cumulative buckets, collectors, and the exposition text. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <string.h>

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

/* /proc/<pid>/stat lines, including a comm with spaces and parentheses. */
static void proc_stat_parse(void **state)
{
    (void)state;
    const char *line =
        "4242 (fleet lake) (x)) S 1 4242 4242 0 -1 4194560 1234 0 0 0 250 75 0 0 20 0 28 0 "
        "98765 21990575489024 12273 18446744073709551615 1 1 0 0 0 0 0 4096 17642 0 0 0 17 1 0 "
        "0 0 0 0\n";
    fl_proc_stat st;
    assert_int_equal(fl_monitor_proc_stat_parse(line, &st), 0);
    assert_int_equal(st.utime_ticks, 250);
    assert_int_equal(st.stime_ticks, 75);
    assert_int_equal(st.threads, 28);
    assert_int_equal(st.start_ticks, 98765);
    assert_int_equal(st.vsize_bytes, 21990575489024ULL);
    assert_int_equal(st.rss_pages, 12273);
    assert_int_equal(fl_monitor_proc_stat_parse("4242 (short) S 1 2 3\n", &st), FL_EPARSE);
    assert_int_equal(fl_monitor_proc_stat_parse("no parenthesis at all", &st), FL_EPARSE);
    assert_int_equal(fl_monitor_proc_stat_parse(NULL, &st), FL_EPARSE);
    /* this process's own line parses, with at least one thread */
    FILE *f = fopen("/proc/self/stat", "r");
    assert_non_null(f);
    char buf[1024];
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = 0;
    assert_int_equal(fl_monitor_proc_stat_parse(buf, &st), 0);
    assert_true(st.threads >= 1 && st.rss_pages > 0);
}

static int owned_frees;
static int collect_nothing(void *ctx, fl_buf *out)
{
    (void)ctx;
    return fl_buf_append_cstr(out, "# owned\n");
}
static void free_owned(void *ctx)
{
    owned_frees++;
    fl_free(ctx);
}

/* The process collector renders the standard families; an owned collector's context is freed
 * with the registry. */
static void process_and_owned_collectors(void **state)
{
    (void)state;
    fl_metrics *m;
    assert_int_equal(fl_metrics_create(&m), 0);
    assert_int_equal(fl_monitor_process_register(m), 0);
    void *ctx = fl_malloc(16);
    assert_int_equal(fl_metrics_add_collector_owned(m, collect_nothing, ctx, free_owned), 0);
    fl_buf b = {0};
    assert_int_equal(fl_metrics_render(m, &b), 0);
    static const char *want[] = {"# TYPE process_cpu_seconds_total counter\n",
                                 "# TYPE process_resident_memory_bytes gauge\n",
                                 "# TYPE process_open_fds gauge\n",
                                 "# TYPE process_max_fds gauge\n",
                                 "# TYPE process_start_time_seconds gauge\n",
                                 "\nprocess_threads ", "# owned\n"};
    for (size_t i = 0; i < sizeof want / sizeof want[0]; i++)
        assert_non_null(strstr(b.data, want[i]));
    fl_buf_free(&b);
    assert_int_equal(owned_frees, 0);
    fl_metrics_destroy(m);
    assert_int_equal(owned_frees, 1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(renders_exposition),
        cmocka_unit_test(series_are_bounded),
        cmocka_unit_test(quantiles),
        cmocka_unit_test(proc_stat_parse),
        cmocka_unit_test(process_and_owned_collectors),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
