/* summary.c — the hourly_summary job (DESIGN.md §4.2, docs/summary.md): per-device aggregates
 * of each closed UTC hour of processed_sensor_data, written to curated-data/hourly_summary/ and
 * swapped into the catalog atomically; recomputed when late data changes a summarised hour.
 * summary_run.c is serve's thread; src/cli/summarize.c is `fleetlake summarize`.
 *
 * NOTES ON THE DESIGN OF THE SUMMARY JOB
 *
 * Layout. One file per summarised hour H (all devices of H, sorted by device_id):
 *     curated-data/hourly_summary/year=Y/month=M/day=D/part-h<hour of day>-<hash>.parquet
 * hash = FNV-1a of the sorted keys of H's live processed files (the inputs). The name is a
 * pure function of the inputs, so a rerun after a crash derives the same name, and "the live
 * summary's name equals the name the current inputs give" is exactly "the summary is
 * current". Catalog row: table hourly_summary, year/month/day of H, hour NULL (the table is
 * partitioned by day), min_ts = max_ts = H's start (the `hour` column), rows = device-hours.
 *
 * When. An hour is closed once the newest processed event time (max max_ts over processed
 * files) passed its end plus summary.allowed_lateness_s, or the wall clock passed that plus
 * FL_SUMMARY_WALL_CLOCK_SLACK_US (a fleet that went quiet). A pass looks at closed hours with
 * live processed files and (re)summarises those fl_summary_needs_check selects: no live
 * summary, a processed file created after the summary, or (for FL_SUMMARY_RECHECK_MARGIN_US
 * after a summary) one created shortly before it; for those the name comparison above
 * decides, so a processor transaction that straddled the previous summary's listing is never
 * missed, and nothing is rewritten when nothing changed.
 *
 * Invariants.
 *  S1  The new file is published (atomic, durable) BEFORE the one transaction that inserts its
 *      row and retires the hour's previous summary: readers through the catalog see exactly
 *      one live summary per hour, the old or the new, never both, never neither.
 *  S2  Retired summaries are deleted only compaction.retire_grace_s after retirement (queries
 *      that listed them can still read them).
 *  S3  One summarizer per data directory at a time (summary.lock): the removal of
 *      uncatalogued part-h<H>-* objects of an hour relies on it.
 *
 * One hour, and what a crash leaves:
 *   1. list H's live processed files; derive the name; equal to the live summary's: done
 *   2. remove uncatalogued part-h<H>-* objects and stale puts of H's day (leftovers)
 *   3. read the inputs (our Parquet reader), aggregate per device, write, publish
 *                                     crash: an orphan, invisible; removed by 2 next time and
 *                                     the rerun derives the same name
 *   4. BEGIN; retire the old summary; insert the new row; COMMIT
 *                                     crash before COMMIT is durable: as 3
 * A failure (not a crash) at 3-4 deletes the published file and rolls back: the old summary
 * stays live, and the hour is retried at the next pass. */
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ingest/ingest.h"
#include "jobs/jobs_int.h"

#define MODULE "summary"

#define HOUR_US (INT64_C(3600) * 1000000)
/* Summary row groups: a day of 1,000 devices is 24,000 rows (~2 MB); one row group per file. */
#define ROW_GROUP_BYTES (64u << 20)

/* ---- aggregation ----------------------------------------------------------------------------- */

static void measure_add(fl_summary_measure *m, double x)
{
    m->n++;
    if (m->n == 1) {
        m->mean = m->min = m->max = x;
        m->m2 = 0;
        return;
    }
    double delta = x - m->mean;
    m->mean += delta / (double)m->n;
    m->m2 += delta * (x - m->mean);
    m->min = x < m->min ? x : m->min;
    m->max = x > m->max ? x : m->max;
}

void fl_summary_acc_add(fl_summary_acc *a, const fl_lake_processed_row *row)
{
    a->records++;
    a->anomalies += row->anomaly_flag != 0;
    a->clean += row->quality_flags == 0;
    if (row->present & FL_REC_TEMPERATURE)
        measure_add(&a->temperature, row->temperature);
    if (row->present & FL_REC_HUMIDITY)
        measure_add(&a->humidity, row->humidity);
    if (row->present & FL_REC_PRESSURE)
        measure_add(&a->pressure, row->pressure);
}

double fl_summary_measure_stddev(const fl_summary_measure *m, int *ok)
{
    *ok = m->n >= 2;
    if (!*ok)
        return 0;
    double var = m->m2 / (double)(m->n - 1);
    return var > 0 ? sqrt(var) : 0; /* m2 is >= 0 in exact arithmetic; guard rounding */
}

double fl_summary_quality_score(const fl_summary_acc *a)
{
    return a->records ? (double)a->clean / (double)a->records : 1.0;
}

int fl_summary_hour_closed(int64_t hour, int64_t watermark_us, int64_t now_us,
                           int64_t lateness_us)
{
    int64_t end = (hour + 1) * HOUR_US;
    return watermark_us >= end + lateness_us ||
           now_us >= end + lateness_us + FL_SUMMARY_WALL_CLOCK_SLACK_US;
}

int fl_summary_needs_check(int64_t newest_input_created_us, int64_t summary_created_us,
                           int64_t now_us)
{
    if (summary_created_us < 0 || newest_input_created_us > summary_created_us)
        return 1; /* never summarised, or a processed file committed after the summary */
    /* An input stamped shortly before the summary may have committed after its listing: look
     * again (the name comparison decides) until every such transaction has long finished. */
    return newest_input_created_us >= summary_created_us - FL_SUMMARY_RECHECK_MARGIN_US &&
           now_us < summary_created_us + FL_SUMMARY_RECHECK_MARGIN_US;
}

/* ---- names ----------------------------------------------------------------------------------- */

int summary_key_prefix(char *buf, size_t n, int64_t hour)
{
    fl_lake_partition p = fl_lake_partition_of_hour(hour);
    int w = snprintf(buf, n, "%s/year=%" PRId32 "/month=%" PRId32 "/day=%" PRId32 "/part-h%" PRId32 "-",
                     FL_LAKE_SUMMARY_PREFIX, p.year, p.month, p.day, p.hour);
    return w < 0 || (size_t)w >= n ? FL_ERANGE : 0;
}

int summary_key(char *buf, size_t n, int64_t hour, uint64_t inputs_hash)
{
    char prefix[FL_CATALOG_PATH_MAX];
    int rc = summary_key_prefix(prefix, sizeof prefix, hour);
    if (rc)
        return rc;
    int w = snprintf(buf, n, "%s%016" PRIx64 ".parquet", prefix, inputs_hash);
    return w < 0 || (size_t)w >= n ? FL_ERANGE : 0;
}

static uint64_t keys_hash(const fl_lake_file *files, size_t n)
{
    uint64_t h = 1469598103934665603ULL;
    for (size_t i = 0; i < n; i++)
        for (const unsigned char *s = (const unsigned char *)files[i].path;; s++) {
            h = (h ^ (*s ? *s : '\n')) * 1099511628211ULL;
            if (!*s)
                break;
        }
    return h;
}

/* ---- the summarizer -------------------------------------------------------------------------- */

struct fl_summarizer {
    fl_summary_options o;
    fl_catalog *cat;
    fl_lake_stores *stores; /* processed files may be warm (lifecycle) */
    summary_crash_fn crash;
    void *crash_ctx;
    int64_t deleted_through_us;
    struct {
        fl_counter *hours, *recomputed, *failures, *rows_in, *retired_deleted;
    } m;
    _Atomic int64_t last_duration_us;
};

void summary_set_crash_hook(fl_summarizer *s, summary_crash_fn fn, void *ctx)
{
    s->crash = fn;
    s->crash_ctx = ctx;
}

void fl_summary_options_from_config(const fl_config *cfg, fl_summary_options *o)
{
    o->lateness_us = cfg->summary_allowed_lateness_s * FL_US_PER_SEC;
    o->retire_grace_us = cfg->compaction_retire_grace_s * FL_US_PER_SEC;
}

static int64_t now_us(const fl_summarizer *s)
{
    return s->o.clock ? s->o.clock(s->o.clock_ctx) : fl_time_now_us();
}

static int stopping(const fl_summarizer *s)
{
    return s->o.stop && atomic_load(s->o.stop);
}

static int collect_duration(void *ctx, fl_buf *out)
{
    fl_summarizer *s = ctx;
    double v = (double)atomic_load(&s->last_duration_us) / 1e6;
    int rc = fl_metrics_write_header(out, "fleetlake_rollup_last_duration_seconds", "gauge",
                                     "Duration of the last hourly_summary pass or backfill");
    return rc ? rc
              : fl_metrics_write_sample(out, "fleetlake_rollup_last_duration_seconds", NULL, v);
}

static fl_counter *counter(fl_metrics *m, const char *name, const char *help)
{
    fl_counter_family *f = fl_metrics_counter(m, name, help, NULL, NULL);
    return f ? fl_counter_series(f, NULL, NULL) : NULL;
}

static void count(fl_counter *c, uint64_t n)
{
    if (c && n)
        fl_counter_add(c, n);
}

int fl_summarizer_create(const fl_summary_options *o, fl_summarizer **out)
{
    fl_summarizer *s = fl_calloc(1, sizeof *s);
    if (!s)
        return FL_ENOMEM;
    s->o = *o;
    int rc = fl_catalog_open(o->meta_path, &s->cat);
    if (!rc)
        rc = fl_lake_stores_create(o->store, &s->stores);
    fl_metrics *m = o->metrics;
    if (!rc && m) {
        s->m.hours = counter(m, "fleetlake_rollup_partitions_total",
                             "Hours summarised into hourly_summary for the first time");
        s->m.recomputed = counter(m, "fleetlake_rollup_recomputations_total",
                                  "Hours whose summary was recomputed (late data, backfill)");
        s->m.failures = counter(m, "fleetlake_rollup_failures_total",
                                "Hour summaries that failed (retried at the next pass)");
        s->m.rows_in = counter(m, "fleetlake_rollup_rows_read_total",
                               "processed_sensor_data rows read by the summary job");
        s->m.retired_deleted = counter(m, "fleetlake_rollup_retired_deleted_total",
                                       "Replaced summary files deleted after the grace period");
        rc = fl_metrics_add_collector(m, collect_duration, s);
    }
    if (rc) {
        fl_summarizer_destroy(s);
        return rc;
    }
    *out = s;
    return 0;
}

void fl_summarizer_destroy(fl_summarizer *s)
{
    if (!s)
        return;
    fl_catalog_close(s->cat);
    fl_lake_stores_destroy(s->stores);
    fl_free(s);
}

/* ---- catalog look-ups ------------------------------------------------------------------------ */

typedef struct file_list {
    fl_lake_file *v;
    size_t n, cap;
} file_list;

static int on_file(void *arg, const fl_lake_file *f)
{
    file_list *l = arg;
    if (l->n == l->cap) {
        size_t cap = l->cap ? l->cap * 2 : 16;
        fl_lake_file *v = fl_realloc(l->v, cap * sizeof *v);
        if (!v)
            return FL_ENOMEM;
        l->v = v;
        l->cap = cap;
    }
    l->v[l->n++] = *f;
    return 0;
}

/* Live files of table in hour's partition (ordered by path). */
static int live_files(fl_summarizer *s, const char *table, int64_t hour, int by_hour,
                      file_list *out)
{
    fl_lake_partition p = fl_lake_partition_of_hour(hour);
    fl_catalog_filter f = fl_catalog_filter_table(table);
    f.year = p.year;
    f.month = p.month;
    f.day = p.day;
    f.hour = by_hour ? p.hour : -1;
    f.state = FL_CATALOG_STATE_LIVE;
    return fl_catalog_files_query(s->cat, &f, on_file, out);
}

/* The live summary of hour (the first whose name has hour's prefix), or -1 in *index. */
static long find_summary(const file_list *l, const char *prefix)
{
    for (size_t i = 0; i < l->n; i++)
        if (strncmp(l->v[i].path, prefix, strlen(prefix)) == 0)
            return (long)i;
    return -1;
}

/* ---- aggregation over the inputs ------------------------------------------------------------- */

typedef struct device_slot {
    char *id; /* NULL: empty */
    size_t len;
    fl_summary_acc acc;
} device_slot;

typedef struct device_map {
    device_slot *v;
    size_t n, cap; /* cap: power of two */
} device_map;

static uint64_t hash_bytes(const char *p, size_t n)
{
    uint64_t h = 1469598103934665603ULL;
    for (size_t i = 0; i < n; i++)
        h = (h ^ (unsigned char)p[i]) * 1099511628211ULL;
    return h;
}

static int map_grow(device_map *m)
{
    size_t cap = m->cap ? m->cap * 2 : 1024;
    device_slot *v = fl_calloc(cap, sizeof *v);
    if (!v)
        return FL_ENOMEM;
    for (size_t i = 0; i < m->cap; i++) {
        if (!m->v[i].id)
            continue;
        size_t k = hash_bytes(m->v[i].id, m->v[i].len) & (cap - 1);
        while (v[k].id)
            k = (k + 1) & (cap - 1);
        v[k] = m->v[i];
    }
    fl_free(m->v);
    m->v = v;
    m->cap = cap;
    return 0;
}

static fl_summary_acc *map_get(device_map *m, fl_slice id)
{
    if ((m->n + 1) * 2 > m->cap && map_grow(m))
        return NULL;
    size_t k = hash_bytes(id.ptr, id.len) & (m->cap - 1);
    while (m->v[k].id) {
        if (m->v[k].len == id.len && memcmp(m->v[k].id, id.ptr, id.len) == 0)
            return &m->v[k].acc;
        k = (k + 1) & (m->cap - 1);
    }
    char *copy = fl_malloc(id.len + 1);
    if (!copy)
        return NULL;
    memcpy(copy, id.ptr, id.len);
    copy[id.len] = 0;
    m->v[k] = (device_slot){copy, id.len, {0}};
    m->n++;
    return &m->v[k].acc;
}

static void map_free(device_map *m)
{
    for (size_t i = 0; i < m->cap; i++)
        fl_free(m->v[i].id);
    fl_free(m->v);
    memset(m, 0, sizeof *m);
}

enum { IN_DEVICE, IN_TIMESTAMP, IN_TEMPERATURE, IN_HUMIDITY, IN_PRESSURE, IN_ANOMALY, IN_QUALITY,
       IN_COLUMNS };
static const char *const input_columns[IN_COLUMNS] = {
    "device_id", "timestamp", "temperature", "humidity", "pressure", "anomaly_flag",
    "quality_flags"};

static int is_valid(const fl_pq_column_values *c, size_t r)
{
    return !c->valid || c->valid[r];
}

/* Aggregate the rows of one input file whose timestamp lies in hour. */
static int read_input(fl_summarizer *s, const fl_lake_file *in, int64_t hour, device_map *m,
                      uint64_t *rows)
{
    fl_objstore_reader *src = NULL;
    fl_pq_reader *r = NULL;
    fl_objstore *store = NULL;
    int rc = fl_lake_file_store(s->stores, in, &store); /* main lake or warm tier */
    if (!rc)
        rc = fl_objstore_get_open(store, in->path, &src);
    if (!rc)
        rc = fl_pq_reader_open(fl_objstore_source_read, src, fl_objstore_reader_size(src), NULL,
                               &r);
    int idx[IN_COLUMNS];
    for (size_t i = 0; !rc && i < IN_COLUMNS; i++)
        if ((idx[i] = fl_pq_reader_column_index(r, input_columns[i])) < 0)
            rc = FL_EUNSUPPORTED;
    if (!rc && fl_pq_reader_rows(r) != in->rows)
        rc = FL_ECORRUPT; /* the footer disagrees with the catalog */
    for (int g = 0; !rc && g < fl_pq_reader_row_group_count(r); g++) {
        fl_pq_column_values c[IN_COLUMNS];
        size_t n = (size_t)fl_pq_reader_row_group_rows(r, g);
        for (size_t i = 0; !rc && i < IN_COLUMNS; i++)
            rc = fl_pq_reader_read_column(r, g, (size_t)idx[i], &c[i]);
        for (size_t k = 0; !rc && k < n; k++) {
            fl_lake_processed_row row = {
                .device_id = ((const fl_slice *)c[IN_DEVICE].values)[k],
                .timestamp_us = ((const int64_t *)c[IN_TIMESTAMP].values)[k]};
            if (fl_lake_hour_of(row.timestamp_us) != hour)
                continue; /* never in a file of this partition; stay exact if it were */
            if (is_valid(&c[IN_TEMPERATURE], k)) {
                row.present |= FL_REC_TEMPERATURE;
                row.temperature = ((const double *)c[IN_TEMPERATURE].values)[k];
            }
            if (is_valid(&c[IN_HUMIDITY], k)) {
                row.present |= FL_REC_HUMIDITY;
                row.humidity = ((const double *)c[IN_HUMIDITY].values)[k];
            }
            if (is_valid(&c[IN_PRESSURE], k)) {
                row.present |= FL_REC_PRESSURE;
                row.pressure = ((const double *)c[IN_PRESSURE].values)[k];
            }
            row.anomaly_flag = ((const uint8_t *)c[IN_ANOMALY].values)[k];
            row.quality_flags = ((const int32_t *)c[IN_QUALITY].values)[k];
            fl_summary_acc *a = map_get(m, row.device_id);
            if (!a) {
                rc = FL_ENOMEM;
                break;
            }
            fl_summary_acc_add(a, &row);
            (*rows)++;
        }
    }
    fl_pq_reader_destroy(r);
    fl_objstore_get_close(src);
    return rc;
}

/* ---- writing --------------------------------------------------------------------------------- */

static int slot_cmp(const void *pa, const void *pb)
{
    const device_slot *a = pa, *b = pb;
    size_t n = a->len < b->len ? a->len : b->len;
    int c = memcmp(a->id, b->id, n);
    return c ? c : (a->len > b->len) - (a->len < b->len);
}

enum { O_DEVICE, O_HOUR, O_COUNT, O_TAVG, O_TMIN, O_TMAX, O_TSTD, O_ANOM, O_QUALITY, O_HAVG,
       O_HMIN, O_HMAX, O_PAVG, O_PMIN, O_PMAX, O_COLUMNS };

typedef struct out_columns {
    fl_slice *ids;
    int64_t *i64[3]; /* hour, record_count, anomaly_count */
    double *d[O_COLUMNS];
    uint8_t *valid[O_COLUMNS];
} out_columns;

static void put_measure(out_columns *o, size_t r, const fl_summary_measure *m, int avg, int min,
                        int max)
{
    uint8_t ok = m->n > 0;
    o->valid[avg][r] = o->valid[min][r] = o->valid[max][r] = ok;
    o->d[avg][r] = ok ? m->mean : 0;
    o->d[min][r] = ok ? m->min : 0;
    o->d[max][r] = ok ? m->max : 0;
}

static int encode(const device_slot *dev, size_t n, int64_t hour, fl_objstore_writer *w)
{
    const fl_lake_table_info *t = fl_lake_table_find(FL_LAKE_SUMMARY_TABLE);
    out_columns o = {0};
    fl_pq_column_values cols[O_COLUMNS];
    int rc = t && t->column_count == O_COLUMNS ? 0 : FL_EINVAL;
    o.ids = fl_calloc(n, sizeof *o.ids);
    rc = rc ? rc : o.ids ? 0 : FL_ENOMEM;
    for (int i = 0; !rc && i < 3; i++)
        rc = (o.i64[i] = fl_calloc(n, sizeof(int64_t))) ? 0 : FL_ENOMEM;
    for (int c = O_TAVG; !rc && c < O_COLUMNS; c++)
        rc = (o.d[c] = fl_calloc(n, sizeof(double))) && (o.valid[c] = fl_calloc(n, 1))
                 ? 0
                 : FL_ENOMEM;
    for (size_t r = 0; !rc && r < n; r++) {
        const fl_summary_acc *a = &dev[r].acc;
        int ok;
        o.ids[r] = (fl_slice){dev[r].id, dev[r].len};
        o.i64[0][r] = hour * HOUR_US;
        o.i64[1][r] = a->records;
        o.i64[2][r] = a->anomalies;
        put_measure(&o, r, &a->temperature, O_TAVG, O_TMIN, O_TMAX);
        o.d[O_TSTD][r] = fl_summary_measure_stddev(&a->temperature, &ok);
        o.valid[O_TSTD][r] = (uint8_t)ok;
        o.d[O_QUALITY][r] = fl_summary_quality_score(a);
        o.valid[O_QUALITY][r] = 1;
        put_measure(&o, r, &a->humidity, O_HAVG, O_HMIN, O_HMAX);
        put_measure(&o, r, &a->pressure, O_PAVG, O_PMIN, O_PMAX);
    }
    if (!rc) {
        cols[O_DEVICE] = (fl_pq_column_values){o.ids, NULL};
        cols[O_HOUR] = (fl_pq_column_values){o.i64[0], NULL};
        cols[O_COUNT] = (fl_pq_column_values){o.i64[1], NULL};
        cols[O_ANOM] = (fl_pq_column_values){o.i64[2], NULL};
        for (int c = O_TAVG; c < O_COLUMNS; c++)
            if (c != O_ANOM)
                cols[c] = (fl_pq_column_values){o.d[c], c == O_QUALITY ? NULL : o.valid[c]};
    }
    fl_pq_kv kv[] = {{"schema_version", FL_LAKE_SCHEMA_VERSION},
                     {"fleetlake.table", FL_LAKE_SUMMARY_TABLE}};
    fl_pq_writer_options opts = {.codec = FL_PQ_SNAPPY,
                                 .row_group_bytes = ROW_GROUP_BYTES,
                                 .kv = kv,
                                 .kv_count = sizeof kv / sizeof kv[0]};
    fl_pq_writer *pw = NULL;
    fl_pq_file_summary sum;
    if (!rc)
        rc = fl_pq_writer_create(t->columns, t->column_count, &opts, fl_objstore_sink_write, w,
                                 &pw);
    if (!rc)
        rc = fl_pq_writer_write(pw, cols, n);
    if (!rc)
        rc = fl_pq_writer_finish(pw, &sum);
    if (!rc && sum.rows != (int64_t)n)
        rc = FL_ECORRUPT;
    fl_pq_writer_destroy(pw);
    fl_free(o.ids);
    for (int i = 0; i < 3; i++)
        fl_free(o.i64[i]);
    for (int c = 0; c < O_COLUMNS; c++) {
        fl_free(o.d[c]);
        fl_free(o.valid[c]);
    }
    return rc;
}

/* ---- one hour -------------------------------------------------------------------------------- */

typedef struct hour_job {
    fl_summarizer *s;
    int64_t hour;
    file_list inputs, day;  /* H's live processed files; live summaries of H's day */
    long old;               /* index into day of H's live summary, or -1 */
    fl_lake_file out;
    int published, committed, crashed;
    int empty; /* no row of the hour in its files: nothing written */
} hour_job;

struct leftovers {
    fl_catalog *cat;
    const char *prefix;
    fl_buf keys;
};

static int on_listed(void *arg, const char *key, const fl_objstore_info *st)
{
    (void)st;
    struct leftovers *l = arg;
    if (strncmp(key, l->prefix, strlen(l->prefix)) != 0)
        return 0;
    fl_lake_file *f = fl_malloc(sizeof *f);
    int rc = f ? fl_catalog_file_get(l->cat, key, f) : FL_ENOMEM;
    fl_free(f);
    if (rc == FL_ENOTFOUND)
        return fl_buf_append(&l->keys, key, strlen(key) + 1);
    return rc;
}

/* Step 2: uncatalogued part-h<H>-* objects and stale puts under H's day. */
static int clean_leftovers(hour_job *j, const char *prefix, fl_summary_stats *st)
{
    char dir[FL_CATALOG_PATH_MAX];
    snprintf(dir, sizeof dir, "%.*s", (int)(strrchr(prefix, '/') - prefix + 1), prefix);
    int rc = fl_objstore_sweep_incomplete(j->s->o.store, dir, now_us(j->s), NULL);
    struct leftovers l = {j->s->cat, prefix, {0}};
    if (!rc)
        rc = fl_objstore_list(j->s->o.store, dir, on_listed, &l);
    for (size_t off = 0; !rc && off < l.keys.len; off += strlen(l.keys.data + off) + 1) {
        rc = fl_objstore_delete(j->s->o.store, l.keys.data + off);
        if (rc == FL_ENOTFOUND)
            rc = 0;
        else if (!rc) {
            st->orphans_removed++;
            FL_WARN(MODULE, "removed orphan %s (published, never committed: a crash before the "
                            "catalog swap; recomputed now)", l.keys.data + off);
        }
    }
    fl_buf_free(&l.keys);
    return rc;
}

static int aggregate_and_write(hour_job *j, fl_summary_stats *st)
{
    device_map m = {0};
    uint64_t rows = 0;
    int rc = 0;
    for (size_t i = 0; !rc && i < j->inputs.n; i++)
        rc = stopping(j->s) ? FL_ESTOPPED : read_input(j->s, &j->inputs.v[i], j->hour, &m, &rows);
    device_slot *dev = NULL;
    size_t n = 0;
    if (!rc && !(dev = fl_calloc(m.n ? m.n : 1, sizeof *dev)))
        rc = FL_ENOMEM;
    for (size_t i = 0; !rc && i < m.cap; i++)
        if (m.v[i].id)
            dev[n++] = m.v[i];
    if (!rc && n)
        qsort(dev, n, sizeof *dev, slot_cmp);
    fl_objstore_writer *w = NULL;
    j->empty = !rc && n == 0; /* inputs without a row of H: nothing to summarise */
    if (!rc && !j->empty && (rc = fl_objstore_put_open(j->s->o.store, j->out.path, &w)) == 0 &&
        (rc = encode(dev, n, j->hour, w)) != 0)
        fl_objstore_put_abort(w);
    if (!rc && !j->empty) {
        j->out.bytes = (int64_t)fl_objstore_put_bytes(w);
        rc = fl_objstore_put_publish(w);
        j->published = rc == 0;
    }
    for (size_t i = 0; !rc && j->s->o.on_quality && i < n; i++)
        j->s->o.on_quality(j->s->o.on_quality_ctx, dev[i].id, dev[i].len, j->hour,
                           fl_summary_quality_score(&dev[i].acc));
    j->out.rows = (int64_t)n;
    st->rows_in += rows;
    st->rows_out += n;
    count(j->s->m.rows_in, rows);
    fl_free(dev);
    map_free(&m);
    return rc;
}

static int swap_txn(fl_catalog *cat, void *arg)
{
    hour_job *j = arg;
    int64_t now = now_us(j->s);
    int rc = 0;
    if (j->old >= 0) {
        rc = fl_catalog_file_retire(cat, j->day.v[j->old].path, now);
        if (rc == FL_ENOTFOUND)
            rc = FL_EAGAIN; /* swapped by someone else: S3 broken? */
    }
    j->out.created_at = now;
    return rc ? rc : fl_catalog_file_insert(cat, &j->out);
}

static int crash_point(hour_job *j, enum summary_step step)
{
    int rc = j->s->crash ? j->s->crash(j->s->crash_ctx, step) : 0;
    j->crashed = rc != 0;
    return rc;
}

static int run_hour(hour_job *j, int dry_run, fl_summary_stats *st)
{
    fl_summarizer *s = j->s;
    char prefix[FL_CATALOG_PATH_MAX];
    int rc = live_files(s, FL_LAKE_PROCESSED_TABLE, j->hour, 1, &j->inputs);
    if (!rc)
        rc = live_files(s, FL_LAKE_SUMMARY_TABLE, j->hour, 0, &j->day);
    if (!rc)
        rc = summary_key_prefix(prefix, sizeof prefix, j->hour);
    if (rc || j->inputs.n == 0)
        return rc;
    j->old = find_summary(&j->day, prefix);
    if ((rc = summary_key(j->out.path, sizeof j->out.path, j->hour,
                          keys_hash(j->inputs.v, j->inputs.n))))
        return rc;
    if (j->old >= 0 && strcmp(j->day.v[j->old].path, j->out.path) == 0) {
        st->unchanged++;
        return 0;
    }
    if (dry_run) {
        j->committed = 1;
        return 0;
    }
    if ((rc = clean_leftovers(j, prefix, st)) || (rc = aggregate_and_write(j, st)) || j->empty)
        return rc;
    fl_lake_partition p = fl_lake_partition_of_hour(j->hour);
    snprintf(j->out.table_name, sizeof j->out.table_name, "%s", FL_LAKE_SUMMARY_TABLE);
    j->out.year = p.year;
    j->out.month = p.month;
    j->out.day = p.day;
    j->out.hour = -1;
    j->out.min_ts = j->out.max_ts = j->hour * HOUR_US;
    j->out.shard = -1;
    j->out.retired_at = -1;
    if ((rc = crash_point(j, SUMMARY_AFTER_PUBLISH)))
        return rc;
    if ((rc = fl_catalog_transaction(s->cat, swap_txn, j)))
        return rc;
    j->committed = 1;
    return crash_point(j, SUMMARY_AFTER_COMMIT);
}

static void log_hour(const hour_job *j, const char *what)
{
    fl_lake_partition p = fl_lake_partition_of_hour(j->hour);
    FL_INFO(MODULE, "%s %04d-%02d-%02dT%02d: %zu processed file(s) -> %s (%" PRId64
                    " device-hours)",
            what, p.year, p.month, p.day, p.hour, j->inputs.n, j->out.path, j->out.rows);
}

int fl_summarizer_hour(fl_summarizer *s, int64_t hour, int dry_run, fl_summary_stats *stats)
{
    fl_summary_stats local = {0};
    fl_summary_stats *st = stats ? stats : &local;
    if (stopping(s))
        return FL_ESTOPPED;
    hour_job j = {.s = s, .hour = hour, .old = -1};
    uint64_t unchanged = st->unchanged;
    int rc = run_hour(&j, dry_run, st);
    if (rc && j.published && !j.committed && !j.crashed) {
        int d = fl_objstore_delete(s->o.store, j.out.path);
        if (d && d != FL_ENOTFOUND)
            FL_ERROR(MODULE, "cannot delete uncommitted %s: %s (removed at the next attempt)",
                     j.out.path, fl_strerror(d));
    }
    if (rc && rc != FL_ESTOPPED && !j.crashed) {
        fl_lake_partition p = fl_lake_partition_of_hour(hour);
        FL_ERROR(MODULE, "summary of %04d-%02d-%02dT%02d failed: %s (previous summary kept)",
                 p.year, p.month, p.day, p.hour, fl_strerror(rc));
        st->failures++;
        count(s->m.failures, 1);
    }
    if (j.committed && st->unchanged == unchanged) {
        if (j.old >= 0) {
            st->recomputed++;
            if (!dry_run)
                count(s->m.recomputed, 1);
        } else {
            st->hours++;
            if (!dry_run)
                count(s->m.hours, 1);
        }
        if (!dry_run)
            log_hour(&j, j.old >= 0 ? "recomputed" : "summarised");
    }
    fl_free(j.inputs.v);
    fl_free(j.day.v);
    return rc;
}

/* ---- passes ---------------------------------------------------------------------------------- */

typedef struct hour_row {
    int64_t hour, newest_created;
} hour_row;

/* Hours with live processed files and their newest file's created_at; the watermark. */
static int processed_hours(fl_summarizer *s, hour_row **out, size_t *n, int64_t *watermark)
{
    static const char *const sql =
        "SELECT year, month, day, hour, max(created_at), max(max_ts) FROM lake_files"
        " WHERE table_name = ?1 AND state = 'live' AND hour IS NOT NULL"
        " GROUP BY year, month, day, hour";
    sqlite3_stmt *st = NULL;
    size_t cap = 0;
    *out = NULL;
    *n = 0;
    *watermark = INT64_MIN;
    if (sqlite3_prepare_v2(fl_catalog_db(s->cat), sql, -1, &st, NULL) != SQLITE_OK)
        return FL_ESQLITE;
    sqlite3_bind_text(st, 1, FL_LAKE_PROCESSED_TABLE, -1, SQLITE_STATIC);
    int rc = 0, step;
    while (!rc && (step = sqlite3_step(st)) == SQLITE_ROW) {
        if (*n == cap) {
            cap = cap ? cap * 2 : 64;
            hour_row *v = fl_realloc(*out, cap * sizeof *v);
            if (!v) {
                rc = FL_ENOMEM;
                break;
            }
            *out = v;
        }
        fl_lake_partition p = {sqlite3_column_int(st, 0), sqlite3_column_int(st, 1),
                               sqlite3_column_int(st, 2), sqlite3_column_int(st, 3)};
        (*out)[*n].hour = fl_lake_partition_hour(p);
        (*out)[*n].newest_created = sqlite3_column_int64(st, 4);
        int64_t max_ts = sqlite3_column_int64(st, 5);
        *watermark = max_ts > *watermark ? max_ts : *watermark;
        (*n)++;
    }
    if (!rc && step != SQLITE_DONE)
        rc = FL_ESQLITE;
    sqlite3_finalize(st);
    return rc;
}

/* (min_ts, created_at) of every live summary, sorted by min_ts: one query per pass. */
static int live_summaries(fl_summarizer *s, hour_row **out, size_t *n)
{
    static const char *const sql = "SELECT min_ts, max(created_at) FROM lake_files"
                                   " WHERE table_name = ?1 AND state = 'live'"
                                   " GROUP BY min_ts ORDER BY min_ts";
    sqlite3_stmt *st = NULL;
    size_t cap = 0;
    *out = NULL;
    *n = 0;
    if (sqlite3_prepare_v2(fl_catalog_db(s->cat), sql, -1, &st, NULL) != SQLITE_OK)
        return FL_ESQLITE;
    sqlite3_bind_text(st, 1, FL_LAKE_SUMMARY_TABLE, -1, SQLITE_STATIC);
    int rc = 0, step;
    while ((step = sqlite3_step(st)) == SQLITE_ROW) {
        if (*n == cap) {
            cap = cap ? cap * 2 : 64;
            hour_row *v = fl_realloc(*out, cap * sizeof *v);
            if (!v) {
                rc = FL_ENOMEM;
                break;
            }
            *out = v;
        }
        (*out)[*n].hour = sqlite3_column_int64(st, 0) / HOUR_US;
        (*out)[*n].newest_created = sqlite3_column_int64(st, 1);
        (*n)++;
    }
    if (!rc && step != SQLITE_DONE)
        rc = FL_ESQLITE;
    sqlite3_finalize(st);
    return rc;
}

/* created_at of hour's live summary in sums[0..n) (sorted), or -1. */
static int64_t summary_created(const hour_row *sums, size_t n, int64_t hour)
{
    size_t lo = 0, hi = n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (sums[mid].hour < hour)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo < n && sums[lo].hour == hour ? sums[lo].newest_created : -1;
}

struct retired {
    int64_t after, cutoff;
    fl_buf keys;
};

static int on_retired(void *arg, const fl_lake_file *f)
{
    struct retired *r = arg;
    if (f->retired_at < 0 || f->retired_at <= r->after || f->retired_at > r->cutoff)
        return 0;
    return fl_buf_append(&r->keys, f->path, strlen(f->path) + 1);
}

/* S2: delete summaries retired more than the grace ago (their rows stay, as compaction's). */
static int delete_retired(fl_summarizer *s, fl_summary_stats *st)
{
    int64_t cutoff = now_us(s) - s->o.retire_grace_us;
    fl_catalog_filter f = fl_catalog_filter_table(FL_LAKE_SUMMARY_TABLE);
    f.state = FL_CATALOG_STATE_RETIRED;
    struct retired r = {s->deleted_through_us, cutoff, {0}};
    int rc = fl_catalog_files_query(s->cat, &f, on_retired, &r);
    uint64_t deleted = 0;
    for (size_t off = 0; !rc && off < r.keys.len; off += strlen(r.keys.data + off) + 1) {
        rc = fl_objstore_delete(s->o.store, r.keys.data + off);
        if (rc == FL_ENOTFOUND)
            rc = 0;
        else if (!rc)
            deleted++;
    }
    if (!rc && cutoff > s->deleted_through_us)
        s->deleted_through_us = cutoff;
    fl_buf_free(&r.keys);
    st->retired_deleted += deleted;
    count(s->m.retired_deleted, deleted);
    return rc;
}

int fl_summarizer_pass(fl_summarizer *s, fl_summary_stats *stats)
{
    fl_summary_stats local = {0};
    fl_summary_stats *st = stats ? stats : &local;
    int64_t t0 = fl_time_mono_us();
    hour_row *hours = NULL, *sums = NULL;
    size_t n = 0, n_sums = 0;
    int64_t watermark;
    int rc = processed_hours(s, &hours, &n, &watermark);
    if (!rc)
        rc = live_summaries(s, &sums, &n_sums);
    int64_t now = now_us(s);
    for (size_t i = 0; !rc && i < n; i++) {
        if (!fl_summary_hour_closed(hours[i].hour, watermark, now, s->o.lateness_us))
            continue;
        if (!fl_summary_needs_check(hours[i].newest_created,
                                    summary_created(sums, n_sums, hours[i].hour), now))
            continue;
        int hr = fl_summarizer_hour(s, hours[i].hour, 0, st);
        if (hr == FL_ESTOPPED || hr == FL_ESQLITE)
            rc = hr;
    }
    if (!rc)
        rc = stopping(s) ? FL_ESTOPPED : delete_retired(s, st);
    fl_free(hours);
    fl_free(sums);
    atomic_store(&s->last_duration_us, fl_time_mono_us() - t0);
    return rc;
}

int fl_summarizer_range(fl_summarizer *s, int64_t from_us, int64_t to_us, int dry_run,
                        fl_summary_stats *stats)
{
    fl_summary_stats local = {0};
    fl_summary_stats *st = stats ? stats : &local;
    int64_t t0 = fl_time_mono_us();
    hour_row *hours = NULL;
    size_t n = 0;
    int64_t watermark;
    int rc = processed_hours(s, &hours, &n, &watermark);
    for (size_t i = 0; !rc && i < n; i++) {
        int64_t start = hours[i].hour * HOUR_US;
        if (start < from_us || start >= to_us)
            continue;
        int hr = fl_summarizer_hour(s, hours[i].hour, dry_run, st);
        if (hr == FL_ESTOPPED || hr == FL_ESQLITE)
            rc = hr;
    }
    fl_free(hours);
    atomic_store(&s->last_duration_us, fl_time_mono_us() - t0);
    return rc;
}
