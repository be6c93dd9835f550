/* bench_summary.c — the hourly_summary benchmark (issue item 3: "hourly dashboards from
 * hourly_summary in <= 50 ms").
 *
 * Builds a week (168 hours) of processed_sensor_data for 1,000 devices (--records readings per
 * device-hour, default 6: ~1 M rows) in a scratch lake with its catalog, runs the summary job
 * over the week (`fleetlake summarize`'s code path; throughput reported), then times the
 * dashboard query with our Parquet reader: list the week's live hourly_summary files in the
 * catalog, read hour, record_count, avg_temperature, anomaly_count and data_quality_score of
 * every device-hour (168,000 rows) and aggregate them per hour (fleet average temperature
 * weighted by records, anomalies, mean quality) — best and median of --repeat runs, warm cache.
 * With --keep it leaves the lake and prints its path for bench/bench_summary.py (DuckDB).
 *   ./build-release/bench_summary [--devices N] [--records R] [--repeat K] [--keep] */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ingest/ingest.h"
#include "jobs/jobs.h"

#define HOUR_US (INT64_C(3600) * 1000000)
#define HOURS 168

static int cmp_i64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return (x > y) - (x < y);
}

struct files {
    char (*paths)[FL_CATALOG_PATH_MAX];
    size_t n, cap;
    int64_t from, to;
};

static int on_file(void *arg, const fl_lake_file *f)
{
    struct files *l = arg;
    if (f->min_ts < l->from || f->min_ts >= l->to || strcmp(f->state, "live") != 0)
        return 0;
    if (l->n == l->cap) {
        l->cap = l->cap ? l->cap * 2 : 256;
        l->paths = realloc(l->paths, l->cap * sizeof *l->paths);
        if (!l->paths)
            return FL_ENOMEM;
    }
    snprintf(l->paths[l->n++], FL_CATALOG_PATH_MAX, "%s", f->path);
    return 0;
}

typedef struct hour_agg {
    double temp_weighted, quality_sum;
    int64_t temp_records, records, anomalies, devices;
} hour_agg;

/* The dashboard: per hour of [from, to), fleet figures from hourly_summary. */
static int dashboard(fl_objstore *store, fl_catalog *cat, int64_t from, hour_agg *agg,
                     int64_t *rows_read)
{
    struct files l = {NULL, 0, 0, from, from + HOURS * HOUR_US};
    fl_catalog_filter flt = fl_catalog_filter_table(FL_LAKE_SUMMARY_TABLE);
    flt.state = FL_CATALOG_STATE_LIVE;
    int rc = fl_catalog_files_query(cat, &flt, on_file, &l);
    static const char *const names[] = {"hour", "record_count", "avg_temperature",
                                        "anomaly_count", "data_quality_score"};
    memset(agg, 0, HOURS * sizeof *agg);
    *rows_read = 0;
    for (size_t i = 0; !rc && i < l.n; i++) {
        fl_objstore_reader *src = NULL;
        fl_pq_reader *r = NULL;
        rc = fl_objstore_get_open(store, l.paths[i], &src);
        if (!rc)
            rc = fl_pq_reader_open(fl_objstore_source_read, src, fl_objstore_reader_size(src),
                                   NULL, &r);
        for (int g = 0; !rc && g < fl_pq_reader_row_group_count(r); g++) {
            fl_pq_column_values c[5];
            for (size_t k = 0; !rc && k < 5; k++) {
                int idx = fl_pq_reader_column_index(r, names[k]);
                rc = idx < 0 ? FL_ECORRUPT : fl_pq_reader_read_column(r, g, (size_t)idx, &c[k]);
            }
            int64_t n = rc ? 0 : fl_pq_reader_row_group_rows(r, g);
            for (int64_t k = 0; k < n; k++) {
                int64_t h = (((const int64_t *)c[0].values)[k] - from) / HOUR_US;
                if (h < 0 || h >= HOURS)
                    continue;
                hour_agg *a = &agg[h];
                int64_t recs = ((const int64_t *)c[1].values)[k];
                a->records += recs;
                a->devices++;
                if (!c[2].valid || c[2].valid[k]) {
                    a->temp_weighted += ((const double *)c[2].values)[k] * (double)recs;
                    a->temp_records += recs;
                }
                a->anomalies += ((const int64_t *)c[3].values)[k];
                a->quality_sum += ((const double *)c[4].values)[k];
            }
            *rows_read += n;
        }
        fl_pq_reader_destroy(r);
        fl_objstore_get_close(src);
    }
    free(l.paths);
    return rc;
}

static void rm_rf(const char *dir)
{
    char cmd[1200];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    if (system(cmd) != 0)
        fprintf(stderr, "could not remove %s\n", dir);
}

int main(int argc, char **argv)
{
    int devices = 1000, records = 6, repeat = 15, keep = 0;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--devices") && i + 1 < argc)
            devices = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--records") && i + 1 < argc)
            records = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--repeat") && i + 1 < argc)
            repeat = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--keep"))
            keep = 1;
        else {
            fprintf(stderr, "usage: bench_summary [--devices N] [--records R] [--repeat K] "
                            "[--keep]\n");
            return 2;
        }
    }
    fl_log_setup(FL_LOG_WARN, 0, stderr);
    char root[512], lake[600], meta[600];
    const char *base = getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp";
    snprintf(root, sizeof root, "%s/bench-summary-XXXXXX", base);
    if (!mkdtemp(root))
        return 1;
    snprintf(lake, sizeof lake, "%s/lake", root);
    snprintf(meta, sizeof meta, "%s/meta.db", root);
    fl_objstore *store = NULL;
    fl_catalog *cat = NULL;
    fl_summarizer *s = NULL;
    int rc = fl_objstore_local_create(lake, &store);
    if (!rc)
        rc = fl_catalog_open(meta, &cat);
    fl_summary_options o = {.store = store, .meta_path = meta};
    if (!rc)
        rc = fl_summarizer_create(&o, &s);
    const int64_t from = fl_lake_hour_of(fl_time_now_us() - 8 * 24 * HOUR_US) * HOUR_US;
    size_t per_hour = (size_t)devices * (size_t)records;
    fl_lake_processed_row *rows = calloc(per_hour, sizeof *rows);
    char(*ids)[24] = calloc((size_t)devices, 24);
    for (int d = 0; d < devices; d++)
        snprintf(ids[d], 24, "truck-%05d", d % 100000);
    uint64_t seq = 1, x = 88172645463325252ULL;
    for (int h = 0; !rc && h < HOURS; h++) {
        size_t n = 0;
        for (int d = 0; d < devices; d++)
            for (int k = 0; k < records; k++) {
                x ^= x << 13, x ^= x >> 7, x ^= x << 17;
                fl_lake_processed_row *r = &rows[n++];
                memset(r, 0, sizeof *r);
                r->device_id = (fl_slice){ids[d], strlen(ids[d])};
                r->timestamp_us = from + h * HOUR_US + (int64_t)k * (HOUR_US / records) + d;
                r->present = FL_REC_TEMPERATURE | FL_REC_HUMIDITY | FL_REC_PRESSURE |
                             FL_REC_LOCATION;
                r->temperature = 15 + (double)(x % 2000) / 100.0;
                r->humidity = 40 + (double)(x % 300) / 10.0;
                r->pressure = 1000 + (double)(x % 200) / 10.0;
                r->anomaly_flag = x % 97 == 0;
                r->quality_flags = x % 53 == 0 ? 1 : 0;
            }
        fl_lake_file out;
        rc = fl_lake_processed_write(store, cat, 0, fl_lake_hour_of(from) + h, rows, n, seq,
                                     seq + n - 1, FL_PQ_SNAPPY, &out);
        seq += n;
        if (!rc)
            rc = fl_catalog_file_insert(cat, &out);
    }
    fl_summary_stats st = {0};
    int64_t t0 = fl_time_mono_us();
    if (!rc)
        rc = fl_summarizer_range(s, from, from + HOURS * HOUR_US, 0, &st);
    double summarize_s = (double)(fl_time_mono_us() - t0) / 1e6;
    if (rc || st.hours != HOURS) {
        fprintf(stderr, "bench_summary: setup failed: %s (%llu hours)\n", fl_strerror(rc),
                (unsigned long long)st.hours);
        return 1;
    }
    hour_agg *agg = calloc(HOURS, sizeof *agg);
    int64_t *times = calloc((size_t)repeat, sizeof *times), rows_read = 0;
    for (int i = 0; !rc && i < repeat; i++) {
        int64_t t = fl_time_mono_us();
        rc = dashboard(store, cat, from, agg, &rows_read);
        times[i] = fl_time_mono_us() - t;
    }
    qsort(times, (size_t)repeat, sizeof *times, cmp_i64);
    int64_t total_anomalies = 0;
    for (int h = 0; h < HOURS; h++)
        total_anomalies += agg[h].anomalies;
    printf("{\"devices\": %d, \"hours\": %d, \"processed_rows\": %llu, \"summarize_s\": %.3f, "
           "\"summarize_rows_per_s\": %.0f, \"summary_rows\": %lld, \"dashboard_best_ms\": %.2f, "
           "\"dashboard_median_ms\": %.2f, \"anomalies\": %lld, \"fleet_avg_temp_h0\": %.4f, "
           "\"lake\": \"%s\"}\n",
           devices, HOURS, (unsigned long long)st.rows_in, summarize_s,
           (double)st.rows_in / summarize_s, (long long)rows_read, (double)times[0] / 1e3,
           (double)times[repeat / 2] / 1e3, (long long)total_anomalies,
           agg[0].temp_records ? agg[0].temp_weighted / (double)agg[0].temp_records : NAN,
           keep ? lake : "");
    free(times);
    free(agg);
    free(rows);
    free(ids);
    fl_summarizer_destroy(s);
    fl_catalog_close(cat);
    fl_objstore_destroy(store);
    if (!keep)
        rm_rf(root);
    return rc ? 1 : 0;
}
