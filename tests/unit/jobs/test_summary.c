/* test_summary.c — the hourly_summary job: aggregation maths (sample stddev, NULLs, a single
 * record, the quality score per flag, anomaly count, numerical stability), closing decisions,
 * a pass over real processed files (values read back with our Parquet reader), recomputation
 * when a late processed file arrives (one live summary, the old one retired, then deleted after
 * the grace), backfill of an open hour, idempotence, and crashes after publish and after commit
 * (the orphan is removed and the rerun derives the same name). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <errno.h>
#include <math.h>
#include <string.h>

#include "ingest/ingest.h"
#include "jobs/jobs_int.h"
#include "process/process.h"
#include "../lake/lake_test_util.h"

#define HOUR_US (INT64_C(3600) * 1000000)
#define ALL_PRESENT (FL_REC_TEMPERATURE | FL_REC_HUMIDITY | FL_REC_PRESSURE | FL_REC_LOCATION)

static fl_lake_processed_row row_t(const char *dev, int64_t ts, double t)
{
    fl_lake_processed_row r = {.device_id = {dev, strlen(dev)}, .timestamp_us = ts,
                               .present = ALL_PRESENT, .temperature = t, .humidity = 50,
                               .pressure = 1000};
    return r;
}

/* ---- pure maths ---------------------------------------------------------------------------- */

static void test_stddev_sample_and_nulls(void **state)
{
    (void)state;
    fl_summary_acc a = {0};
    const double v[] = {2, 4, 4, 4, 5, 5, 7, 9};
    for (size_t i = 0; i < 8; i++) {
        fl_lake_processed_row r = row_t("d", (int64_t)i, v[i]);
        if (i == 3)
            r.present &= ~FL_REC_HUMIDITY; /* NULL humidity: skipped by its measure only */
        fl_summary_acc_add(&a, &r);
    }
    int ok;
    assert_int_equal(a.records, 8);
    assert_int_equal(a.temperature.n, 8);
    assert_int_equal(a.humidity.n, 7);
    assert_true(fabs(a.temperature.mean - 5.0) < 1e-12);
    assert_true(fabs(fl_summary_measure_stddev(&a.temperature, &ok) - sqrt(32.0 / 7.0)) < 1e-12);
    assert_true(ok);
    assert_true(a.temperature.min == 2 && a.temperature.max == 9);

    fl_summary_acc one = {0};
    fl_lake_processed_row r = row_t("d", 0, 21.5);
    fl_summary_acc_add(&one, &r);
    (void)fl_summary_measure_stddev(&one.temperature, &ok);
    assert_false(ok); /* one value: NULL */
    assert_true(one.temperature.mean == 21.5 && one.temperature.min == 21.5);

    fl_summary_acc none = {0};
    r.present = 0;
    fl_summary_acc_add(&none, &r);
    assert_int_equal(none.records, 1);
    assert_int_equal(none.temperature.n, 0); /* avg/min/max NULL */
    (void)fl_summary_measure_stddev(&none.temperature, &ok);
    assert_false(ok);

    /* Welford keeps precision where the naive sum of squares cancels: var of 1e9 + {4,7,13,16}
     * is exactly 30. */
    fl_summary_acc big = {0};
    const double off[] = {4, 7, 13, 16};
    for (size_t i = 0; i < 4; i++) {
        r = row_t("d", 0, 1e9 + off[i]);
        fl_summary_acc_add(&big, &r);
    }
    assert_true(fabs(fl_summary_measure_stddev(&big.temperature, &ok) - sqrt(30.0)) < 1e-6);
}

static void test_quality_score_and_anomalies(void **state)
{
    (void)state;
    fl_summary_acc a = {0};
    const uint32_t flags[] = {0, FL_QUALITY_MISSING_FIELD, FL_QUALITY_IMPLAUSIBLE,
                              FL_QUALITY_DUPLICATE, FL_QUALITY_LATE, 0, 0,
                              FL_QUALITY_LATE | FL_QUALITY_IMPLAUSIBLE};
    for (size_t i = 0; i < 8; i++) {
        fl_lake_processed_row r = row_t("d", (int64_t)i, 20);
        r.quality_flags = (int32_t)flags[i];
        r.anomaly_flag = i % 3 == 0;
        fl_summary_acc_add(&a, &r);
    }
    assert_int_equal(a.clean, 3);
    assert_true(fabs(fl_summary_quality_score(&a) - 3.0 / 8.0) < 1e-15);
    assert_int_equal(a.anomalies, 3); /* i = 0, 3, 6 */
    for (size_t bit = 0; bit < 4; bit++) { /* each flag alone fails the record */
        fl_summary_acc b = {0};
        fl_lake_processed_row r = row_t("d", 0, 20);
        r.quality_flags = (int32_t)(1u << bit);
        fl_summary_acc_add(&b, &r);
        assert_true(fl_summary_quality_score(&b) == 0.0);
    }
}

static void test_hour_closed(void **state)
{
    (void)state;
    const int64_t h = 500000, end = (h + 1) * HOUR_US, late = 600 * INT64_C(1000000);
    assert_false(fl_summary_hour_closed(h, end + late - 1, end, late));
    assert_true(fl_summary_hour_closed(h, end + late, end, late));
    assert_false(fl_summary_hour_closed(h, INT64_MIN, end + late, late)); /* wall clock: slack */
    assert_true(fl_summary_hour_closed(h, INT64_MIN, end + late + FL_SUMMARY_WALL_CLOCK_SLACK_US,
                                       late));
    /* recompute detection */
    const int64_t t = INT64_C(1800000000000000), m = FL_SUMMARY_RECHECK_MARGIN_US;
    assert_true(fl_summary_needs_check(t, -1, t));             /* never summarised */
    assert_true(fl_summary_needs_check(t + 1, t, t + 10 * m)); /* a file after the summary */
    assert_false(fl_summary_needs_check(t - m - 1, t, t));     /* long before: current */
    assert_true(fl_summary_needs_check(t - 1, t, t + m - 1));  /* may have straddled: look */
    assert_false(fl_summary_needs_check(t - 1, t, t + m));     /* ...but not forever */
    char key[256];
    assert_int_equal(summary_key(key, sizeof key, 491280 /* 2026-01-17T00 */, 0xabcULL), 0);
    assert_string_equal(key, "curated-data/hourly_summary/year=2026/month=1/day=17/"
                             "part-h0-0000000000000abc.parquet");
}

/* ---- the job over real files --------------------------------------------------------------- */

typedef struct fixture {
    char root[512], lake[600], meta[600];
    fl_objstore *store;
    fl_catalog *cat;
    fl_summarizer *s;
    uint64_t next_seq;
    int crash_at; /* -1: none; else enum summary_step */
} fixture;

static int crash_hook(void *ctx, enum summary_step step)
{
    fixture *f = ctx;
    return (int)step == f->crash_at ? -EIO : 0;
}

static int setup(void **state)
{
    fixture *f = calloc(1, sizeof *f);
    lt_tmpdir("summary", f->root, sizeof f->root);
    snprintf(f->lake, sizeof f->lake, "%s/lake", f->root);
    snprintf(f->meta, sizeof f->meta, "%s/meta.db", f->root);
    assert_int_equal(fl_objstore_local_create(f->lake, &f->store), 0);
    assert_int_equal(fl_catalog_open(f->meta, &f->cat), 0);
    fl_summary_options o = {.store = f->store, .meta_path = f->meta,
                            .lateness_us = 600 * INT64_C(1000000), .retire_grace_us = 0};
    assert_int_equal(fl_summarizer_create(&o, &f->s), 0);
    summary_set_crash_hook(f->s, crash_hook, f);
    f->crash_at = -1;
    f->next_seq = 1;
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fixture *f = *state;
    fl_summarizer_destroy(f->s);
    fl_catalog_close(f->cat);
    fl_objstore_destroy(f->store);
    lt_rm_rf(f->root);
    free(f);
    return 0;
}

/* Commit one processed file of rows (as the processor would). */
static void add_processed(fixture *f, int64_t hour, fl_lake_processed_row *rows, size_t n)
{
    fl_lake_file out;
    uint64_t first = f->next_seq;
    f->next_seq += n;
    assert_int_equal(fl_lake_processed_write(f->store, f->cat, 0, hour, rows, n, first,
                                             f->next_seq - 1, FL_PQ_SNAPPY, &out),
                     0);
    assert_int_equal(fl_catalog_file_insert(f->cat, &out), 0);
}

typedef struct live_scan {
    int live, retired;
    fl_lake_file last_live, last_retired;
} live_scan;

static int on_row(void *arg, const fl_lake_file *file)
{
    live_scan *s = arg;
    if (strcmp(file->state, FL_CATALOG_STATE_LIVE) == 0) {
        s->live++;
        s->last_live = *file;
    } else {
        s->retired++;
        s->last_retired = *file;
    }
    return 0;
}

static live_scan summaries(fixture *f)
{
    live_scan s = {0};
    fl_catalog_filter flt = fl_catalog_filter_table(FL_LAKE_SUMMARY_TABLE);
    assert_int_equal(fl_catalog_files_query(f->cat, &flt, on_row, &s), 0);
    return s;
}

/* Read a summary file: the row of dev; returns the number of rows in the file. */
typedef struct summary_row {
    int64_t hour, records, anomalies;
    double avg_t, min_t, max_t, std_t, quality;
    int std_valid, t_valid;
} summary_row;

static int64_t read_summary(fixture *f, const char *key, const char *dev, summary_row *out)
{
    fl_objstore_reader *src = NULL;
    fl_pq_reader *r = NULL;
    assert_int_equal(fl_objstore_get_open(f->store, key, &src), 0);
    assert_int_equal(fl_pq_reader_open(fl_objstore_source_read, src, fl_objstore_reader_size(src),
                                       NULL, &r),
                     0);
    const char *names[] = {"device_id", "hour", "record_count", "avg_temperature",
                           "min_temperature", "max_temperature", "temp_stddev",
                           "anomaly_count", "data_quality_score"};
    fl_pq_column_values c[9];
    assert_int_equal(fl_pq_reader_row_group_count(r), 1);
    for (size_t i = 0; i < 9; i++) {
        int k = fl_pq_reader_column_index(r, names[i]);
        assert_true(k >= 0);
        assert_int_equal(fl_pq_reader_read_column(r, 0, (size_t)k, &c[i]), 0);
    }
    int64_t rows = fl_pq_reader_rows(r);
    int found = 0;
    for (int64_t i = 0; i < rows; i++) {
        fl_slice id = ((const fl_slice *)c[0].values)[i];
        if (id.len != strlen(dev) || memcmp(id.ptr, dev, id.len))
            continue;
        found = 1;
        out->hour = ((const int64_t *)c[1].values)[i];
        out->records = ((const int64_t *)c[2].values)[i];
        out->t_valid = !c[3].valid || c[3].valid[i];
        out->avg_t = ((const double *)c[3].values)[i];
        out->min_t = ((const double *)c[4].values)[i];
        out->max_t = ((const double *)c[5].values)[i];
        out->std_valid = !c[6].valid || c[6].valid[i];
        out->std_t = ((const double *)c[6].values)[i];
        out->anomalies = ((const int64_t *)c[7].values)[i];
        out->quality = ((const double *)c[8].values)[i];
    }
    assert_true(found);
    fl_pq_reader_destroy(r);
    fl_objstore_get_close(src);
    return rows;
}

/* An hour long closed (2026-01-17T05) and its first batch: two devices. */
static const int64_t H = 491285;

static void first_batch(fixture *f)
{
    fl_lake_processed_row rows[5] = {
        row_t("truck-b", H * HOUR_US + 10, 10), row_t("truck-a", H * HOUR_US + 20, 20),
        row_t("truck-a", H * HOUR_US + 30, 22), row_t("truck-a", H * HOUR_US + 40, 27),
        row_t("truck-b", H * HOUR_US + 50, 0)};
    rows[4].present = FL_REC_HUMIDITY; /* no temperature, missing fields */
    rows[4].quality_flags = FL_QUALITY_MISSING_FIELD;
    rows[2].anomaly_flag = 1;
    add_processed(f, H, rows, 5);
}

static void test_pass_recompute_and_grace(void **state)
{
    fixture *f = *state;
    first_batch(f);
    fl_summary_stats st = {0};
    assert_int_equal(fl_summarizer_pass(f->s, &st), 0);
    assert_int_equal(st.hours, 1);
    assert_int_equal(st.rows_in, 5);
    assert_int_equal(st.rows_out, 2);
    live_scan ls = summaries(f);
    assert_int_equal(ls.live, 1);
    assert_int_equal(ls.last_live.min_ts, H * HOUR_US);
    assert_int_equal(ls.last_live.rows, 2);
    summary_row a, b;
    assert_int_equal(read_summary(f, ls.last_live.path, "truck-a", &a), 2);
    assert_int_equal(a.hour, H * HOUR_US);
    assert_int_equal(a.records, 3);
    assert_true(fabs(a.avg_t - 23.0) < 1e-12 && a.min_t == 20 && a.max_t == 27);
    assert_true(a.std_valid && fabs(a.std_t - sqrt(13.0)) < 1e-12);
    assert_int_equal(a.anomalies, 1);
    assert_true(a.quality == 1.0);
    (void)read_summary(f, ls.last_live.path, "truck-b", &b);
    assert_int_equal(b.records, 2);
    assert_true(b.t_valid && b.avg_t == 10 && !b.std_valid); /* one temperature */
    assert_true(b.quality == 0.5);

    /* Nothing changed: the next pass rewrites nothing. */
    fl_summary_stats st2 = {0};
    assert_int_equal(fl_summarizer_pass(f->s, &st2), 0);
    assert_int_equal(st2.hours + st2.recomputed, 0);
    char first[FL_CATALOG_PATH_MAX];
    snprintf(first, sizeof first, "%s", ls.last_live.path);

    /* A late record for truck-a: a new processed file of H -> recomputed, old one retired. */
    fl_lake_processed_row late = row_t("truck-a", H * HOUR_US + 60, 31);
    late.quality_flags = FL_QUALITY_LATE;
    add_processed(f, H, &late, 1);
    fl_summary_stats st3 = {0};
    assert_int_equal(fl_summarizer_pass(f->s, &st3), 0);
    assert_int_equal(st3.recomputed, 1);
    assert_int_equal(st3.hours, 0);
    ls = summaries(f);
    assert_int_equal(ls.live, 1);
    assert_int_equal(ls.retired, 1);
    assert_string_equal(ls.last_retired.path, first);
    assert_string_not_equal(ls.last_live.path, first);
    assert_int_equal(read_summary(f, ls.last_live.path, "truck-a", &a), 2);
    assert_int_equal(a.records, 4);
    assert_true(fabs(a.avg_t - 25.0) < 1e-12 && a.max_t == 31);
    assert_true(fabs(a.quality - 0.75) < 1e-15);
    /* grace 0: the retired file went at that pass or goes at the next; its row stays. */
    assert_int_equal(fl_summarizer_pass(f->s, &st3), 0);
    assert_false(lt_exists(f->lake, first));
    assert_true(lt_exists(f->lake, ls.last_live.path));
    assert_int_equal(summaries(f).retired, 1);
}

static void test_open_hour_and_backfill(void **state)
{
    fixture *f = *state;
    int64_t now_hour = fl_lake_hour_of(fl_time_now_us());
    fl_lake_processed_row r = row_t("truck-a", now_hour * HOUR_US + 1, 5);
    add_processed(f, now_hour, &r, 1);
    fl_summary_stats st = {0};
    assert_int_equal(fl_summarizer_pass(f->s, &st), 0);
    assert_int_equal(st.hours, 0); /* not closed: watermark and wall clock are inside it */
    assert_int_equal(summaries(f).live, 0);
    assert_int_equal(fl_summarizer_range(f->s, now_hour * HOUR_US, (now_hour + 1) * HOUR_US, 1,
                                         &st),
                     0);
    assert_int_equal(st.hours, 1); /* dry run counts */
    assert_int_equal(summaries(f).live, 0);
    assert_int_equal(lt_count_files(f->lake, ".parquet"), 1);
    fl_summary_stats st2 = {0};
    assert_int_equal(fl_summarizer_range(f->s, now_hour * HOUR_US, (now_hour + 1) * HOUR_US, 0,
                                         &st2),
                     0);
    assert_int_equal(st2.hours, 1);
    assert_int_equal(summaries(f).live, 1);
    fl_summary_stats st3 = {0};
    assert_int_equal(fl_summarizer_range(f->s, now_hour * HOUR_US, (now_hour + 1) * HOUR_US, 0,
                                         &st3),
                     0);
    assert_int_equal(st3.hours + st3.recomputed, 0);
    assert_int_equal(st3.unchanged, 1); /* idempotent */
    /* Out of range: nothing. */
    fl_summary_stats st4 = {0};
    assert_int_equal(fl_summarizer_range(f->s, 0, now_hour * HOUR_US, 0, &st4), 0);
    assert_int_equal(st4.hours + st4.recomputed + st4.unchanged, 0);
}

static void test_crash_after_publish(void **state)
{
    fixture *f = *state;
    first_batch(f);
    f->crash_at = SUMMARY_AFTER_PUBLISH;
    fl_summary_stats st = {0};
    assert_int_equal(fl_summarizer_hour(f->s, H, 0, &st), -EIO);
    assert_int_equal(summaries(f).live, 0);
    assert_int_equal(lt_count_files(f->lake, ".parquet"), 2); /* the input and the orphan */
    char key[FL_CATALOG_PATH_MAX];
    assert_int_equal(lt_count_files(f->lake, ".parquet"), 2);
    f->crash_at = -1;
    fl_summary_stats st2 = {0};
    assert_int_equal(fl_summarizer_pass(f->s, &st2), 0);
    assert_int_equal(st2.orphans_removed, 1);
    assert_int_equal(st2.hours, 1);
    live_scan ls = summaries(f);
    assert_int_equal(ls.live, 1);
    /* The rerun derived the same name: the orphan's key is now the catalogued one. */
    assert_int_equal(summary_key_prefix(key, sizeof key, H), 0);
    assert_memory_equal(ls.last_live.path, key, strlen(key));
    assert_int_equal(lt_count_files(f->lake, ".parquet"), 2);
}

static void test_crash_after_commit(void **state)
{
    fixture *f = *state;
    first_batch(f);
    f->crash_at = SUMMARY_AFTER_COMMIT;
    fl_summary_stats st = {0};
    assert_int_equal(fl_summarizer_hour(f->s, H, 0, &st), -EIO);
    assert_int_equal(summaries(f).live, 1); /* committed before the "crash" */
    f->crash_at = -1;
    fl_summary_stats st2 = {0};
    assert_int_equal(fl_summarizer_hour(f->s, H, 0, &st2), 0);
    assert_int_equal(st2.unchanged, 1);
    assert_int_equal(st2.orphans_removed, 0);
    assert_int_equal(summaries(f).live, 1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_stddev_sample_and_nulls),
        cmocka_unit_test(test_quality_score_and_anomalies),
        cmocka_unit_test(test_hour_closed),
        cmocka_unit_test_setup_teardown(test_pass_recompute_and_grace, setup, teardown),
        cmocka_unit_test_setup_teardown(test_open_hour_and_backfill, setup, teardown),
        cmocka_unit_test_setup_teardown(test_crash_after_publish, setup, teardown),
        cmocka_unit_test_setup_teardown(test_crash_after_commit, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
