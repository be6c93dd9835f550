/* processed.c — the lake side of processed_sensor_data (DESIGN.md §4.2): its columns, writing
 * one sorted Parquet file of a processor batch, reading one device's rows back for the
 * readings API, and the start-up orphan sweep shared with raw delivery.
 *
 * The real-time processor (src/process) decides what is committed when; this file only turns
 * rows into published objects and back. It reuses delivery's columnar buffers and Parquet
 * encoder through a table spec (lake_processed_table), so the two tables are written by the
 * same code. Rows are sorted by (device_id, timestamp) before encoding: a reader of one device
 * (the readings API, DuckDB with row-group statistics) then touches one run of the file. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ingest/ingest.h"
#include "lake/lake_int.h"

#define MODULE "lake"

enum {
    P_DEVICE_ID,
    P_TEMPERATURE,
    P_HUMIDITY,
    P_PRESSURE,
    P_TIMESTAMP,
    P_FAHRENHEIT,
    P_ANOMALY_FLAG,
    P_ANOMALY_SCORE,
    P_DAY_OF_WEEK,
    P_IS_WEEKEND,
    P_LATITUDE,
    P_LONGITUDE,
    P_LOCAL_HOUR,
    P_QUALITY_FLAGS,
    P_TRACE_ID, /* schema 2 */
    P_COLUMNS
};

/* Column order follows DESIGN §4.2 (the seed's schema, then the added columns; new columns are
 * appended and nullable, see tables.c on schema evolution). */
static const fl_pq_column_def processed_columns[P_COLUMNS] = {
    {"device_id", FL_PQ_BYTE_ARRAY, FL_PQ_LOGICAL_STRING, 0},
    {"temperature", FL_PQ_DOUBLE, FL_PQ_LOGICAL_NONE, 1},
    {"humidity", FL_PQ_DOUBLE, FL_PQ_LOGICAL_NONE, 1},
    {"pressure", FL_PQ_DOUBLE, FL_PQ_LOGICAL_NONE, 1},
    {"timestamp", FL_PQ_INT64, FL_PQ_LOGICAL_TIMESTAMP_MICROS, 0},
    {"temperature_fahrenheit", FL_PQ_DOUBLE, FL_PQ_LOGICAL_NONE, 1},
    {"anomaly_flag", FL_PQ_BOOLEAN, FL_PQ_LOGICAL_NONE, 0},
    {"anomaly_score", FL_PQ_DOUBLE, FL_PQ_LOGICAL_NONE, 0},
    {"day_of_week", FL_PQ_INT32, FL_PQ_LOGICAL_INT8, 0},
    {"is_weekend", FL_PQ_BOOLEAN, FL_PQ_LOGICAL_NONE, 0},
    {"latitude", FL_PQ_DOUBLE, FL_PQ_LOGICAL_NONE, 1},
    {"longitude", FL_PQ_DOUBLE, FL_PQ_LOGICAL_NONE, 1},
    {"local_hour", FL_PQ_INT32, FL_PQ_LOGICAL_INT8, 0},
    {"quality_flags", FL_PQ_INT32, FL_PQ_LOGICAL_NONE, 0},
    /* The ingest request's trace id, as in raw_sensor_data: an anomalous row leads straight to
     * the request (logs, audit) without a join on (device_id, timestamp). */
    {"trace_id", FL_PQ_BYTE_ARRAY, FL_PQ_LOGICAL_STRING, 1},
};

/* The processor builds rows itself (it needs the device's state), so there is no decode. */
const lake_table_spec lake_processed_table = {
    FL_LAKE_PROCESSED_TABLE, FL_LAKE_PROCESSED_PREFIX, FL_LAKE_PROCESSED_CONSUMER,
    processed_columns,       P_COLUMNS,                NULL,
};

static int row_cmp(const void *a, const void *b)
{
    const fl_lake_processed_row *x = a, *y = b;
    size_t n = x->device_id.len < y->device_id.len ? x->device_id.len : y->device_id.len;
    int c = memcmp(x->device_id.ptr, y->device_id.ptr, n);
    if (c)
        return c;
    if (x->device_id.len != y->device_id.len)
        return x->device_id.len < y->device_id.len ? -1 : 1;
    return (x->timestamp_us > y->timestamp_us) - (x->timestamp_us < y->timestamp_us);
}

static void put_double(lake_value *v, int present, double d)
{
    v->is_null = !present;
    v->v.d = present ? d : 0;
}

static void row_values(const fl_lake_processed_row *r, lake_value *v)
{
    v[P_DEVICE_ID] = (lake_value){0, {.s = r->device_id}};
    put_double(&v[P_TEMPERATURE], r->present & FL_REC_TEMPERATURE, r->temperature);
    put_double(&v[P_HUMIDITY], r->present & FL_REC_HUMIDITY, r->humidity);
    put_double(&v[P_PRESSURE], r->present & FL_REC_PRESSURE, r->pressure);
    v[P_TIMESTAMP] = (lake_value){0, {.i64 = r->timestamp_us}};
    put_double(&v[P_FAHRENHEIT], r->present & FL_REC_TEMPERATURE, r->temperature_fahrenheit);
    v[P_ANOMALY_FLAG] = (lake_value){0, {.i32 = r->anomaly_flag != 0}};
    v[P_ANOMALY_SCORE] = (lake_value){0, {.d = r->anomaly_score}};
    v[P_DAY_OF_WEEK] = (lake_value){0, {.i32 = r->day_of_week}};
    v[P_IS_WEEKEND] = (lake_value){0, {.i32 = r->is_weekend != 0}};
    put_double(&v[P_LATITUDE], r->present & FL_REC_LOCATION, r->latitude);
    put_double(&v[P_LONGITUDE], r->present & FL_REC_LOCATION, r->longitude);
    v[P_LOCAL_HOUR] = (lake_value){0, {.i32 = r->local_hour}};
    v[P_QUALITY_FLAGS] = (lake_value){0, {.i32 = r->quality_flags}};
    size_t trace_len = strnlen(r->trace_id, sizeof r->trace_id - 1);
    v[P_TRACE_ID] = (lake_value){trace_len == 0, {.s = {r->trace_id, trace_len}}};
}

int fl_lake_processed_write(fl_objstore *store, fl_catalog *catalog, uint32_t shard, int64_t hour,
                            fl_lake_processed_row *rows, size_t n, uint64_t first_seq,
                            uint64_t last_seq, int codec, fl_lake_file *out)
{
    const lake_table_spec *spec = &lake_processed_table;
    fl_lake_partition part = fl_lake_partition_of_hour(hour);
    lake_partition_buf p = {.hour = hour};
    lake_value v[P_COLUMNS];
    fl_objstore_writer *w = NULL;
    enum fl_pq_codec c = (enum fl_pq_codec)codec;
    char key[FL_CATALOG_PATH_MAX];
    int rc = fl_lake_part_key(key, sizeof key, spec->prefix, part, shard, first_seq, last_seq);
    if (rc || n == 0)
        return rc ? rc : FL_EINVAL;
    /* A new file never has the name of a committed one (sequence ranges of batches are
     * disjoint); refuse to overwrite committed data if that were ever broken. */
    rc = fl_catalog_file_get(catalog, key, out);
    if (rc != FL_ENOTFOUND)
        return rc ? rc : FL_EEXISTS;
    rc = 0;
    qsort(rows, n, sizeof *rows, row_cmp);
    if (!(p.cols = fl_calloc(P_COLUMNS, sizeof *p.cols)))
        return FL_ENOMEM;
    p.min_ts = p.max_ts = rows[0].timestamp_us;
    for (size_t i = 0; i < n && !rc; i++) {
        size_t row_bytes;
        row_values(&rows[i], v);
        rc = lake_partition_append(spec, &p, v, &row_bytes);
        p.bytes += row_bytes;
        if (rows[i].timestamp_us < p.min_ts)
            p.min_ts = rows[i].timestamp_us;
        if (rows[i].timestamp_us > p.max_ts)
            p.max_ts = rows[i].timestamp_us;
    }
    if (!rc && (rc = fl_objstore_put_open(store, key, &w)) == 0 &&
        (rc = lake_encode_parquet(&c, spec, &p, w)) != 0)
        fl_objstore_put_abort(w);
    uint64_t bytes = rc ? 0 : fl_objstore_put_bytes(w);
    if (!rc)
        rc = fl_objstore_put_publish(w);
    if (!rc) {
        memset(out, 0, sizeof *out);
        snprintf(out->path, sizeof out->path, "%s", key);
        snprintf(out->table_name, sizeof out->table_name, "%s", spec->table_name);
        out->year = part.year;
        out->month = part.month;
        out->day = part.day;
        out->hour = part.hour;
        out->rows = (int64_t)n;
        out->bytes = (int64_t)bytes;
        out->min_ts = p.min_ts;
        out->max_ts = p.max_ts;
        out->shard = (int32_t)shard;
        out->first_seq = first_seq;
        out->last_seq = last_seq;
        out->retired_at = -1;
    }
    lake_partition_free_columns(spec, &p);
    return rc;
}

/* ---- reading one device's rows back ------------------------------------------------------ */

static double dbl(const fl_pq_column_values *c, size_t r, uint32_t *present, uint32_t bit)
{
    if (c->valid && !c->valid[r])
        return 0;
    *present |= bit;
    return ((const double *)c->values)[r];
}

int fl_lake_processed_read(fl_objstore *store, const char *key, fl_slice device_id,
                           int64_t from_us, int64_t to_us, fl_lake_processed_row_fn fn, void *arg)
{
    fl_objstore_reader *src = NULL;
    fl_pq_reader *r = NULL;
    int rc = fl_objstore_get_open(store, key, &src);
    if (!rc)
        rc = fl_pq_reader_open(fl_objstore_source_read, src, fl_objstore_reader_size(src), NULL,
                               &r);
    /* The readings need the columns of schema 1 only (files of every version have them). */
    int idx[P_TRACE_ID];
    for (size_t i = 0; !rc && i < P_TRACE_ID; i++)
        if ((idx[i] = fl_pq_reader_column_index(r, processed_columns[i].name)) < 0)
            rc = FL_ECORRUPT;
    for (int g = 0; !rc && g < fl_pq_reader_row_group_count(r); g++) {
        fl_pq_column_values c[P_TRACE_ID];
        size_t rows = (size_t)fl_pq_reader_row_group_rows(r, g);
        for (size_t i = 0; !rc && i < P_TRACE_ID; i++)
            rc = fl_pq_reader_read_column(r, g, (size_t)idx[i], &c[i]);
        const fl_slice *ids = rc ? NULL : c[P_DEVICE_ID].values;
        for (size_t i = 0; !rc && i < rows; i++) {
            const int64_t ts = ((const int64_t *)c[P_TIMESTAMP].values)[i];
            if (ids[i].len != device_id.len || memcmp(ids[i].ptr, device_id.ptr, device_id.len) ||
                ts < from_us || ts > to_us)
                continue;
            fl_lake_processed_row row = {.device_id = ids[i], .timestamp_us = ts};
            row.temperature = dbl(&c[P_TEMPERATURE], i, &row.present, FL_REC_TEMPERATURE);
            row.humidity = dbl(&c[P_HUMIDITY], i, &row.present, FL_REC_HUMIDITY);
            row.pressure = dbl(&c[P_PRESSURE], i, &row.present, FL_REC_PRESSURE);
            row.latitude = dbl(&c[P_LATITUDE], i, &row.present, FL_REC_LOCATION);
            row.longitude = dbl(&c[P_LONGITUDE], i, &row.present, 0);
            uint32_t unused = 0;
            row.temperature_fahrenheit = dbl(&c[P_FAHRENHEIT], i, &unused, 0);
            row.anomaly_flag = ((const uint8_t *)c[P_ANOMALY_FLAG].values)[i];
            row.anomaly_score = ((const double *)c[P_ANOMALY_SCORE].values)[i];
            row.day_of_week = ((const int32_t *)c[P_DAY_OF_WEEK].values)[i];
            row.is_weekend = ((const uint8_t *)c[P_IS_WEEKEND].values)[i];
            row.local_hour = ((const int32_t *)c[P_LOCAL_HOUR].values)[i];
            row.quality_flags = ((const int32_t *)c[P_QUALITY_FLAGS].values)[i];
            rc = fn(arg, &row);
        }
    }
    fl_pq_reader_destroy(r);
    fl_objstore_get_close(src);
    return rc;
}

/* ---- start-up sweep ------------------------------------------------------------------------ */

struct orphan_scan {
    fl_catalog *catalog;
    const char *prefix;
    uint32_t shard;
    fl_buf keys; /* NUL-separated keys to delete (deleting while listing would race the walk) */
};

static int on_listed(void *arg, const char *key, const fl_objstore_info *st)
{
    (void)st;
    struct orphan_scan *s = arg;
    fl_lake_partition p;
    uint32_t shard;
    uint64_t first, last;
    if (fl_lake_part_key_parse(key, s->prefix, &p, &shard, &first, &last) || shard != s->shard)
        return 0; /* not this consumer's: never touch it */
    fl_lake_file *f = fl_malloc(sizeof *f);
    if (!f)
        return FL_ENOMEM;
    int rc = fl_catalog_file_get(s->catalog, key, f);
    fl_free(f);
    if (rc == FL_ENOTFOUND)
        return fl_buf_append(&s->keys, key, strlen(key) + 1);
    return rc;
}

int fl_lake_sweep_orphans(fl_objstore *store, fl_catalog *catalog, const char *prefix,
                          const char *table_name, uint32_t shard, int64_t started_before_us,
                          size_t *orphans)
{
    struct orphan_scan s = {catalog, prefix, shard, {0}};
    char dir[256];
    size_t swept = 0;
    *orphans = 0;
    snprintf(dir, sizeof dir, "%s/", prefix);
    int rc = fl_objstore_sweep_incomplete(store, dir, started_before_us, &swept);
    if (rc)
        return rc;
    if (swept)
        FL_INFO(MODULE, "%s: discarded %zu incomplete file(s) left by a crash", table_name, swept);
    rc = fl_objstore_list(store, dir, on_listed, &s);
    for (size_t off = 0; !rc && off < s.keys.len;) {
        const char *key = s.keys.data + off;
        rc = fl_objstore_delete(store, key);
        if (rc == FL_ENOTFOUND)
            rc = 0;
        if (!rc) {
            (*orphans)++;
            FL_WARN(MODULE, "%s shard %u: removed orphan %s (written, never committed: a crash "
                            "between publish and catalog commit; its rows are re-delivered)",
                    table_name, shard, key);
        }
        off += strlen(key) + 1;
    }
    fl_buf_free(&s.keys);
    return rc;
}
