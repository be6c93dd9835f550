/* test_compact.c — lake compaction against the real local object store, Parquet writer/reader
 * and a real meta.db, with an injected wall clock: planning (closed vs open hours, a file at
 * target left alone), merge + sort (every value and NULL preserved, order by (device_id,
 * timestamp), rejected records by received_at), deterministic output names, a crash after
 * publish (orphans removed at recovery, the rerun writes the same names and result) and after
 * commit (inputs retired, deleted only after the grace period, delivery's high-water marks
 * unchanged), injected write/fsync/rename failures (nothing committed, inputs live), and the
 * memory bound (several runs, each sorted), and schema evolution: files of schema 1 (no
 * trace_id) merged with files of schema 2 give outputs of schema 2 with NULL trace ids for the
 * old rows; a file of a newer schema is refused. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <errno.h>
#include <inttypes.h>

#include "lake/compact_int.h"
#include "lake_test_util.h"

#define HOUR_US (INT64_C(3600) * FL_US_PER_SEC)
#define BASE_US (INT64_C(1767225600) * FL_US_PER_SEC) /* 2026-01-01T00:00:00Z */

enum {
    C_DEV,
    C_TS,
    C_TEMP,
    C_HUM,
    C_PRES,
    C_LAT,
    C_LON,
    C_VER,
    C_SRC,
    C_EXTRA,
    C_RECV,
    C_SHARD,
    C_SEQ,
    C_TRACE,
    C_COLUMNS
};
#define C_COLUMNS_V1 C_TRACE /* schema 1 had no trace_id */

struct fx {
    char dir[512], root[600], meta[600];
    fl_objstore *store;
    fl_catalog *cat;
    fl_compactor *comp;
    int64_t now;
    int64_t target, memory;
    int crash_at;                 /* -1: no crash; else the lake_compact_step to "crash" at */
    uint64_t old_first, old_last; /* seqs written as schema 1 files (no trace_id) */
};

static int64_t fake_clock(void *ctx)
{
    return ((struct fx *)ctx)->now;
}

static int crash_hook(void *ctx, enum lake_compact_step step)
{
    struct fx *f = ctx;
    return f->crash_at == (int)step ? FL_ECLOSED : 0;
}

static void open_compactor(struct fx *f)
{
    fl_compactor_destroy(f->comp);
    fl_compact_options o = {.store = f->store,
                            .meta_path = f->meta,
                            .codec = "gzip",
                            .target_bytes = f->target,
                            .memory_bytes = f->memory,
                            .close_after_us = 2 * HOUR_US,
                            .retire_grace_us = HOUR_US,
                            .clock = fake_clock,
                            .clock_ctx = f};
    assert_int_equal(fl_compactor_create(&o, &f->comp), 0);
    lake_compactor_set_crash_hook(f->comp, crash_hook, f);
}

static int setup(void **state)
{
    struct fx *f = calloc(1, sizeof *f);
    lt_tmpdir("compact", f->dir, sizeof f->dir);
    snprintf(f->root, sizeof f->root, "%s/lake", f->dir);
    snprintf(f->meta, sizeof f->meta, "%s/meta.db", f->dir);
    assert_int_equal(fl_objstore_local_create(f->root, &f->store), 0);
    assert_int_equal(fl_catalog_open(f->meta, &f->cat), 0);
    f->now = BASE_US + 10 * HOUR_US;
    f->target = 128 << 20;
    f->memory = 512 << 20;
    f->crash_at = -1;
    open_compactor(f);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fx *f = *state;
    fl_fs_fault_clear();
    fl_compactor_destroy(f->comp);
    fl_catalog_close(f->cat);
    fl_objstore_destroy(f->store);
    lt_rm_rf(f->dir);
    free(f);
    return 0;
}

/* ---- building inputs --------------------------------------------------------------------------- */

/* The strings of one row (make_row's values point into it). */
struct cells {
    char dev[32];
    char trace[33];
};

/* Row i of a deterministic data set: device "dev-<k>" with k scrambled, a timestamp inside the
 * hour, some NULLs and odd strings, a trace id shared by runs of 10 sequence numbers. */
static void make_row(lake_value *v, int64_t hour, uint32_t shard, uint64_t seq, struct cells *c)
{
    unsigned k = (unsigned)((seq * 7919u) % 13u);
    snprintf(c->dev, sizeof c->dev, "dev-%02u", k);
    memset(v, 0, C_COLUMNS * sizeof *v);
    v[C_DEV].v.s = fl_slice_from_cstr(c->dev);
    v[C_TS].v.i64 = hour * HOUR_US + (int64_t)((seq * 104729u) % 3600000u) * 1000;
    v[C_TEMP].is_null = seq % 5 == 0;
    v[C_TEMP].v.d = v[C_TEMP].is_null ? 0 : (double)seq / 3.0 - 20.0;
    v[C_HUM].is_null = 1;
    v[C_PRES].v.d = 1013.25 + (double)(seq % 7);
    v[C_LAT].is_null = v[C_LON].is_null = seq % 3 == 0;
    v[C_LAT].v.d = v[C_LAT].is_null ? 0 : 37.5 + (double)seq * 1e-6;
    v[C_LON].v.d = v[C_LON].is_null ? 0 : 126.9;
    v[C_VER].v.s = FL_SLICE_LIT("1.2.0");
    v[C_SRC].is_null = seq % 2;
    v[C_SRC].v.s = v[C_SRC].is_null ? (fl_slice){"", 0} : FL_SLICE_LIT("fms-\xc3\xa9");
    v[C_EXTRA].is_null = seq % 4 != 1;
    v[C_EXTRA].v.s = v[C_EXTRA].is_null ? (fl_slice){"", 0} : FL_SLICE_LIT("{\"x\":[1,2]}");
    v[C_RECV].v.i64 = BASE_US + 20 * HOUR_US + (int64_t)seq;
    v[C_SHARD].v.i32 = (int32_t)shard;
    v[C_SEQ].v.i64 = (int64_t)seq;
    snprintf(c->trace, sizeof c->trace, "4bf92f3577b34da6a3ce%012" PRIx64,
             (seq / 10) & 0xffffffffffffu);
    v[C_TRACE].is_null = seq % 10 == 7;
    v[C_TRACE].v.s = v[C_TRACE].is_null ? (fl_slice){"", 0} : (fl_slice){c->trace, 32};
}

/* A file as fleetlake wrote it before trace_id: the first 13 columns, schema_version "1". */
static int encode_schema_v1(void *ctx, const lake_table_spec *spec, const lake_partition_buf *p,
                            fl_objstore_writer *w)
{
    (void)ctx;
    fl_pq_column_values cols[C_COLUMNS_V1];
    fl_slice *slices[C_COLUMNS_V1] = {0};
    assert_int_equal(lake_partition_columns(spec, p, cols, slices), 0);
    fl_pq_kv kv[] = {{"schema_version", "1"}, {"fleetlake.table", spec->table_name}};
    fl_pq_writer_options opts = {.codec = FL_PQ_GZIP, .kv = kv, .kv_count = 2};
    fl_pq_writer *pw = NULL;
    fl_pq_file_summary sum;
    int rc =
        fl_pq_writer_create(spec->columns, C_COLUMNS_V1, &opts, fl_objstore_sink_write, w, &pw);
    rc = rc ? rc : fl_pq_writer_write(pw, cols, p->rows);
    rc = rc ? rc : fl_pq_writer_finish(pw, &sum);
    fl_pq_writer_destroy(pw);
    for (size_t i = 0; i < C_COLUMNS_V1; i++)
        free(slices[i]);
    return rc;
}

/* Write a delivery-style file part-<shard>-<first>-<last> of hour with rows first..last and
 * catalogue it; rows in f's old range are written as schema 1 (all or none of a file's). */
static void put_part(struct fx *f, int64_t hour, uint32_t shard, uint64_t first, uint64_t last)
{
    int old = first >= f->old_first && first <= f->old_last;
    lake_table_spec spec = lake_raw_table;
    if (old)
        spec.column_count = C_COLUMNS_V1;
    lake_partition_buf p = {0};
    p.cols = calloc(spec.column_count, sizeof *p.cols);
    lake_value v[C_COLUMNS];
    struct cells cells;
    for (uint64_t s = first; s <= last; s++) {
        size_t rb;
        make_row(v, hour, shard, s, &cells);
        assert_int_equal(lake_partition_append(&spec, &p, v, &rb), 0);
    }
    fl_lake_partition part = fl_lake_partition_of_hour(hour);
    fl_lake_file fi = {0};
    assert_int_equal(
        fl_lake_part_key(fi.path, sizeof fi.path, spec.prefix, part, shard, first, last), 0);
    fl_objstore_writer *w;
    enum fl_pq_codec codec = FL_PQ_GZIP;
    assert_int_equal(fl_objstore_put_open(f->store, fi.path, &w), 0);
    assert_int_equal(
        old ? encode_schema_v1(NULL, &spec, &p, w) : lake_encode_parquet(&codec, &spec, &p, w), 0);
    fi.bytes = (int64_t)fl_objstore_put_bytes(w);
    assert_int_equal(fl_objstore_put_publish(w), 0);
    snprintf(fi.table_name, sizeof fi.table_name, "%s", spec.table_name);
    fi.year = part.year, fi.month = part.month, fi.day = part.day, fi.hour = part.hour;
    fi.rows = (int64_t)p.rows;
    fi.min_ts = hour * HOUR_US;
    fi.max_ts = hour * HOUR_US + HOUR_US - 1;
    fi.shard = (int32_t)shard;
    fi.first_seq = first;
    fi.last_seq = last;
    fi.retired_at = -1;
    assert_int_equal(fl_catalog_file_insert(f->cat, &fi), 0);
    lake_partition_free_columns(&spec, &p);
}

/* ---- reading back ------------------------------------------------------------------------------ */

struct row {
    char dev[32];
    char trace[33];
    int64_t ts, seq, recv;
    int temp_null, src_null, extra_null, lat_null, trace_null;
    double temp, lat;
};

/* Append every row of key to rows (grown); returns the number read. */
static size_t read_rows(struct fx *f, const char *key, struct row **rows, size_t *n)
{
    fl_objstore_reader *src;
    fl_pq_reader *r;
    assert_int_equal(fl_objstore_get_open(f->store, key, &src), 0);
    assert_int_equal(fl_pq_reader_open(fl_objstore_source_read, src,
                                       fl_objstore_reader_size(src), NULL, &r), 0);
    assert_string_equal(fl_pq_reader_kv(r, "schema_version"), FL_LAKE_SCHEMA_VERSION);
    size_t total = (size_t)fl_pq_reader_rows(r), at = *n;
    *rows = realloc(*rows, (*n + total + 1) * sizeof **rows);
    for (int rg = 0; rg < fl_pq_reader_row_group_count(r); rg++) {
        fl_pq_column_values cv[C_COLUMNS];
        assert_int_equal(fl_pq_reader_column_count(r), C_COLUMNS);
        for (size_t i = 0; i < C_COLUMNS; i++)
            assert_int_equal(fl_pq_reader_read_column(r, rg, i, &cv[i]), 0);
        int64_t m = fl_pq_reader_row_group_rows(r, rg);
        for (int64_t k = 0; k < m; k++, at++) {
            struct row *o = &(*rows)[at];
            fl_slice d = ((const fl_slice *)cv[C_DEV].values)[k];
            snprintf(o->dev, sizeof o->dev, "%.*s", (int)d.len, d.ptr);
            o->ts = ((const int64_t *)cv[C_TS].values)[k];
            o->seq = ((const int64_t *)cv[C_SEQ].values)[k];
            o->recv = ((const int64_t *)cv[C_RECV].values)[k];
            o->temp_null = cv[C_TEMP].valid && !cv[C_TEMP].valid[k];
            o->temp = ((const double *)cv[C_TEMP].values)[k];
            o->lat_null = cv[C_LAT].valid && !cv[C_LAT].valid[k];
            o->lat = ((const double *)cv[C_LAT].values)[k];
            o->src_null = cv[C_SRC].valid && !cv[C_SRC].valid[k];
            o->extra_null = cv[C_EXTRA].valid && !cv[C_EXTRA].valid[k];
            if (!o->src_null) {
                fl_slice s = ((const fl_slice *)cv[C_SRC].values)[k];
                assert_true(s.len == 6 && memcmp(s.ptr, "fms-\xc3\xa9", 6) == 0);
            }
            assert_true(cv[C_HUM].valid && !cv[C_HUM].valid[k]);
            o->trace_null = cv[C_TRACE].valid && !cv[C_TRACE].valid[k];
            fl_slice t = ((const fl_slice *)cv[C_TRACE].values)[k];
            snprintf(o->trace, sizeof o->trace, "%.*s", (int)t.len, t.ptr ? t.ptr : "");
        }
    }
    fl_pq_reader_destroy(r);
    fl_objstore_get_close(src);
    *n = at;
    return total;
}

struct keys {
    char k[64][FL_CATALOG_PATH_MAX];
    size_t n;
};

static int on_key(void *arg, const fl_lake_file *f)
{
    struct keys *k = arg;
    if (k->n < 64)
        snprintf(k->k[k->n++], FL_CATALOG_PATH_MAX, "%s", f->path);
    return 0;
}

static void live_keys(struct fx *f, struct keys *k)
{
    fl_catalog_filter flt = fl_catalog_filter_table(FL_LAKE_RAW_TABLE);
    flt.state = FL_CATALOG_STATE_LIVE;
    k->n = 0;
    assert_int_equal(fl_catalog_files_query(f->cat, &flt, on_key, k), 0);
}

/* Every row of seqs 1..n present once with the values make_row gave it; each file sorted. */
static void check_live_rows(struct fx *f, uint64_t n, int expect_sorted_files)
{
    struct keys k;
    live_keys(f, &k);
    struct row *rows = NULL;
    size_t count = 0;
    char *seen = calloc(n + 1, 1);
    for (size_t i = 0; i < k.n; i++) {
        size_t start = count;
        read_rows(f, k.k[i], &rows, &count);
        for (size_t r = start + 1; expect_sorted_files && r < count; r++) {
            int c = strcmp(rows[r - 1].dev, rows[r].dev);
            assert_true(c < 0 || (c == 0 && rows[r - 1].ts <= rows[r].ts));
        }
    }
    assert_int_equal(count, n);
    for (size_t i = 0; i < count; i++) {
        struct row *o = &rows[i];
        assert_true(o->seq >= 1 && (uint64_t)o->seq <= n);
        assert_false(seen[o->seq]);
        seen[o->seq] = 1;
        lake_value v[C_COLUMNS];
        struct cells cells;
        make_row(v, fl_lake_hour_of(o->ts), 0, (uint64_t)o->seq, &cells);
        assert_string_equal(o->dev, cells.dev);
        assert_int_equal(o->ts, v[C_TS].v.i64);
        assert_int_equal(o->recv, v[C_RECV].v.i64);
        assert_int_equal(o->temp_null, v[C_TEMP].is_null);
        if (!o->temp_null)
            assert_memory_equal(&o->temp, &v[C_TEMP].v.d, sizeof o->temp); /* bit-exact */
        assert_int_equal(o->lat_null, v[C_LAT].is_null);
        if (!o->lat_null)
            assert_memory_equal(&o->lat, &v[C_LAT].v.d, sizeof o->lat);
        assert_int_equal(o->src_null, v[C_SRC].is_null);
        assert_int_equal(o->extra_null, v[C_EXTRA].is_null);
        /* rows of schema 1 files have no trace id: NULL in the outputs */
        int old = (uint64_t)o->seq >= f->old_first && (uint64_t)o->seq <= f->old_last;
        assert_int_equal(o->trace_null, old || v[C_TRACE].is_null);
        assert_string_equal(o->trace, o->trace_null ? "" : cells.trace);
    }
    free(seen);
    free(rows);
}

static int64_t count_state(struct fx *f, const char *state)
{
    fl_catalog_filter flt = fl_catalog_filter_table(FL_LAKE_RAW_TABLE);
    flt.state = state;
    int64_t n = 0;
    assert_int_equal(fl_catalog_files_count(f->cat, &flt, &n, NULL, NULL), 0);
    return n;
}

static int64_t hour0(void)
{
    return fl_lake_hour_of(BASE_US);
}

/* Three shards' files for hour h: rows 1..300 split in 6 files. */
static void six_files(struct fx *f, int64_t h)
{
    put_part(f, h, 0, 1, 40);
    put_part(f, h, 0, 41, 100);
    put_part(f, h, 0, 101, 130);
    put_part(f, h, 0, 131, 200);
    put_part(f, h, 0, 201, 250);
    put_part(f, h, 0, 251, 300);
}

/* ---- tests ------------------------------------------------------------------------------------- */

static void plan_closed_open_and_at_target(void **state)
{
    struct fx *f = *state;
    int64_t h = hour0();
    put_part(f, h, 0, 1, 10); /* closed, two files */
    put_part(f, h, 1, 11, 20);
    put_part(f, h + 8, 0, 21, 30); /* ended 1 h ago: open (close_after 2 h) */
    put_part(f, h + 8, 0, 31, 40);
    put_part(f, h + 3, 0, 41, 50); /* one delivery file: sorted once */
    fl_compact_plan p;
    assert_int_equal(fl_compactor_plan(f->comp, &p), 0);
    assert_int_equal(p.count, 2);
    assert_int_equal(p.items[0].partition.hour, fl_lake_partition_of_hour(h).hour);
    assert_int_equal(p.items[0].files, 2);
    assert_int_equal(p.items[0].rows, 20);
    assert_int_equal(p.items[0].expected_outputs, 1);
    assert_int_equal(p.items[1].files, 1);
    fl_compact_plan_free(&p);
    /* an hour later the open hour has closed */
    f->now += HOUR_US;
    assert_int_equal(fl_compactor_plan(f->comp, &p), 0);
    assert_int_equal(p.count, 3);
    fl_compact_plan_free(&p);
    /* a target below every file: all are "at target" and left alone */
    f->target = 100;
    open_compactor(f);
    assert_int_equal(fl_compactor_plan(f->comp, &p), 0);
    assert_int_equal(p.count, 0);
    fl_compact_plan_free(&p);
}

static void merge_sorts_and_preserves(void **state)
{
    struct fx *f = *state;
    int64_t h = hour0();
    six_files(f, h);
    fl_compact_stats st = {0};
    assert_int_equal(fl_compactor_pass(f->comp, &st), 0);
    assert_int_equal(st.partitions, 1);
    assert_int_equal(st.files_in, 6);
    assert_int_equal(st.files_out, 1);
    assert_int_equal(st.rows, 300);
    assert_int_equal(count_state(f, FL_CATALOG_STATE_LIVE), 1);
    assert_int_equal(count_state(f, FL_CATALOG_STATE_RETIRED), 6);
    struct keys k;
    live_keys(f, &k);
    assert_true(lake_is_compacted_key(k.k[0]));
    fl_lake_file out;
    assert_int_equal(fl_catalog_file_get(f->cat, k.k[0], &out), 0);
    assert_int_equal(out.shard, -1);
    assert_int_equal(out.first_seq, 0);
    assert_int_equal(out.rows, 300);
    check_live_rows(f, 300, 1);
    /* a compaction output alone is final: the next pass has nothing to do */
    fl_compact_plan p;
    assert_int_equal(fl_compactor_plan(f->comp, &p), 0);
    assert_int_equal(p.count, 0);
    fl_compact_plan_free(&p);
}

/* A lake written partly before trace_id existed: the old files' rows come out with NULL trace
 * ids, the new files' with theirs, every other value as it was, in one schema 2 output. */
static void mixed_schema_versions(void **state)
{
    struct fx *f = *state;
    f->old_first = 1;
    f->old_last = 130;
    six_files(f, hour0()); /* 1-40, 41-100, 101-130 of schema 1; 131-300 of schema 2 */
    fl_compact_stats st = {0};
    assert_int_equal(fl_compactor_pass(f->comp, &st), 0);
    assert_int_equal(st.failures, 0);
    assert_int_equal(st.files_in, 6);
    assert_int_equal(st.files_out, 1);
    assert_int_equal(st.rows, 300);
    check_live_rows(f, 300, 1);
}

/* A file of a newer schema version than this fleetlake knows (it may hold columns compaction
 * would drop) is refused: the partition fails and nothing changes. */
static void refuses_unknown_schemas(void **state)
{
    struct fx *f = *state;
    int64_t h = hour0();
    put_part(f, h, 0, 1, 10);
    put_part(f, h, 0, 11, 20);
    /* rewrite the second file's footer metadata as schema 3 (same length, same rows) */
    fl_lake_file fi;
    char key[FL_CATALOG_PATH_MAX], path[2048];
    fl_lake_partition part = fl_lake_partition_of_hour(h);
    assert_int_equal(fl_lake_part_key(key, sizeof key, "raw-data", part, 0, 11, 20), 0);
    assert_int_equal(fl_catalog_file_get(f->cat, key, &fi), 0);
    snprintf(path, sizeof path, "%s/%s", f->root, key);
    FILE *fp = fopen(path, "r+b");
    assert_non_null(fp);
    char *buf = malloc((size_t)fi.bytes);
    assert_int_equal(fread(buf, 1, (size_t)fi.bytes, fp), fi.bytes);
    char *at = memmem(buf, (size_t)fi.bytes, "schema_version", 14);
    assert_non_null(at);
    char *v = memchr(at + 14, '2', 8); /* the value follows its length byte */
    assert_non_null(v);
    *v = '3';
    assert_int_equal(fseek(fp, 0, SEEK_SET), 0);
    assert_int_equal(fwrite(buf, 1, (size_t)fi.bytes, fp), fi.bytes);
    fclose(fp);
    free(buf);
    fl_compact_stats st = {0};
    assert_int_equal(fl_compactor_pass(f->comp, &st), 0);
    assert_int_equal(st.failures, 1);
    assert_int_equal(st.files_out, 0);
    assert_int_equal(count_state(f, FL_CATALOG_STATE_LIVE), 2);
    assert_int_equal(count_state(f, FL_CATALOG_STATE_RETIRED), 0);
}

/* The high-water marks delivery loads at start, as "hour:seq," text. */
static int on_hwm(void *arg, int32_t y, int32_t m, int32_t d, int32_t h, uint64_t last)
{
    char line[96];
    snprintf(line, sizeof line, "%d-%d-%d-%d:%" PRIu64 ",", y, m, d, h, last);
    return fl_buf_append_cstr(arg, line);
}

static void marks(struct fx *f, fl_buf *out)
{
    fl_buf_reset(out);
    assert_int_equal(fl_catalog_high_water_marks(f->cat, FL_LAKE_RAW_TABLE, 0, on_hwm, out), 0);
}

static void crash_after_publish_then_recover(void **state)
{
    struct fx *f = *state;
    int64_t h = hour0();
    six_files(f, h);
    f->crash_at = LAKE_COMPACT_AFTER_PUBLISH;
    fl_compact_stats st = {0};
    assert_int_equal(fl_compactor_pass(f->comp, &st), 0);
    assert_int_equal(st.partitions, 0);
    assert_int_equal(count_state(f, FL_CATALOG_STATE_LIVE), 6); /* nothing committed */
    assert_int_equal(lt_count_files(f->root, ".parquet"), 7);   /* one orphan output */
    /* restart: recovery removes the orphan */
    f->crash_at = -1;
    open_compactor(f);
    fl_compact_stats rst = {0};
    assert_int_equal(fl_compactor_recover(f->comp, &rst), 0);
    assert_int_equal(rst.orphans_removed, 1);
    assert_int_equal(lt_count_files(f->root, ".parquet"), 6);
    /* the rerun derives the same name */
    fl_compact_stats st2 = {0};
    assert_int_equal(fl_compactor_pass(f->comp, &st2), 0);
    assert_int_equal(st2.partitions, 1);
    struct keys k;
    live_keys(f, &k);
    assert_int_equal(k.n, 1);
    char want[FL_CATALOG_PATH_MAX];
    fl_lake_file in[6];
    char *paths[6];
    fl_catalog_filter flt = fl_catalog_filter_table(FL_LAKE_RAW_TABLE);
    flt.state = FL_CATALOG_STATE_RETIRED;
    struct keys rk = {.n = 0};
    assert_int_equal(fl_catalog_files_query(f->cat, &flt, on_key, &rk), 0);
    assert_int_equal(rk.n, 6);
    for (int i = 0; i < 6; i++)
        paths[i] = rk.k[i], (void)in;
    assert_int_equal(lake_compacted_key(want, sizeof want, FL_LAKE_RAW_PREFIX,
                                        fl_lake_partition_of_hour(h),
                                        lake_compact_inputs_hash(paths, 6), 0), 0);
    assert_string_equal(k.k[0], want);
    check_live_rows(f, 300, 1);
}

static void crash_after_commit_then_grace(void **state)
{
    struct fx *f = *state;
    int64_t h = hour0();
    six_files(f, h);
    fl_buf before = {0}, after = {0};
    marks(f, &before);
    f->crash_at = LAKE_COMPACT_AFTER_COMMIT;
    fl_compact_stats st = {0};
    assert_int_equal(fl_compactor_pass(f->comp, &st), 0);
    f->crash_at = -1;
    assert_int_equal(count_state(f, FL_CATALOG_STATE_LIVE), 1);
    assert_int_equal(count_state(f, FL_CATALOG_STATE_RETIRED), 6);
    open_compactor(f);
    fl_compact_stats rst = {0};
    assert_int_equal(fl_compactor_recover(f->comp, &rst), 0);
    assert_int_equal(rst.orphans_removed, 0); /* the output is catalogued */
    /* within the grace period retired files stay readable */
    f->now += HOUR_US / 2;
    assert_int_equal(fl_compactor_delete_retired(f->comp, &rst), 0);
    assert_int_equal(rst.retired_deleted, 0);
    assert_int_equal(lt_count_files(f->root, ".parquet"), 7);
    /* after it they are deleted; their rows stay, and so do delivery's marks */
    f->now += HOUR_US;
    assert_int_equal(fl_compactor_delete_retired(f->comp, &rst), 0);
    assert_int_equal(rst.retired_deleted, 6);
    assert_int_equal(lt_count_files(f->root, ".parquet"), 1);
    assert_int_equal(count_state(f, FL_CATALOG_STATE_RETIRED), 6);
    marks(f, &after);
    assert_string_equal(before.data, after.data);
    assert_true(strstr(after.data, ":300,") != NULL);
    check_live_rows(f, 300, 1);
    fl_buf_free(&before);
    fl_buf_free(&after);
}

static void injected_failures_commit_nothing(void **state)
{
    struct fx *f = *state;
    six_files(f, hour0());
    enum fl_fs_op ops[] = {FL_FS_WRITE, FL_FS_FSYNC, FL_FS_RENAME, FL_FS_OPEN};
    for (size_t i = 0; i < sizeof ops / sizeof ops[0]; i++) {
        fl_fs_fault_add(ops[i], EIO, 0, 1, "compacted-");
        fl_compact_stats st = {0};
        assert_int_equal(fl_compactor_pass(f->comp, &st), 0);
        assert_int_equal(st.failures, 1);
        assert_int_equal(st.partitions, 0);
        assert_int_equal(count_state(f, FL_CATALOG_STATE_LIVE), 6);
        assert_int_equal(count_state(f, FL_CATALOG_STATE_RETIRED), 0);
        assert_int_equal(lt_count_files(f->root, ".parquet"), 6);
        assert_int_equal(lt_count_files(f->root, ".tmp"), 0);
        fl_fs_fault_clear();
    }
    fl_compact_stats st = {0};
    assert_int_equal(fl_compactor_pass(f->comp, &st), 0);
    assert_int_equal(st.partitions, 1);
    check_live_rows(f, 300, 1);
}

static void memory_bound_makes_sorted_runs(void **state)
{
    struct fx *f = *state;
    six_files(f, hour0());
    f->memory = 64 << 10; /* ~ 300 rows x ~150 B: several runs */
    f->target = 8 << 10;
    open_compactor(f);
    fl_compact_stats st = {0};
    assert_int_equal(fl_compactor_pass(f->comp, &st), 0);
    assert_int_equal(st.partitions, 1);
    assert_true(st.files_out >= 2);
    assert_int_equal(st.rows, 300);
    check_live_rows(f, 300, 1); /* each file sorted, every row once */
}

static void stop_flag_abandons_cleanly(void **state)
{
    struct fx *f = *state;
    six_files(f, hour0());
    _Atomic int stop = 1;
    fl_compactor_destroy(f->comp);
    fl_compact_options o = {.store = f->store, .meta_path = f->meta, .codec = "gzip",
                            .target_bytes = f->target, .memory_bytes = f->memory,
                            .close_after_us = 2 * HOUR_US, .retire_grace_us = HOUR_US,
                            .clock = fake_clock, .clock_ctx = f, .stop = &stop};
    assert_int_equal(fl_compactor_create(&o, &f->comp), 0);
    assert_int_equal(fl_compactor_pass(f->comp, NULL), FL_ESTOPPED);
    assert_int_equal(count_state(f, FL_CATALOG_STATE_LIVE), 6);
    assert_int_equal(lt_count_files(f->root, ".parquet"), 6);
}

static void names_are_deterministic(void **state)
{
    (void)state;
    char a[] = "raw-data/year=2026/month=1/day=1/hour=0/part-0-1-5.parquet";
    char b[] = "raw-data/year=2026/month=1/day=1/hour=0/part-1-2-9.parquet";
    char *ab[] = {a, b}, *ba[] = {b, a}, *only[] = {a};
    assert_true(lake_compact_inputs_hash(ab, 2) == lake_compact_inputs_hash(ab, 2));
    assert_true(lake_compact_inputs_hash(ab, 2) != lake_compact_inputs_hash(ba, 2));
    assert_true(lake_compact_inputs_hash(ab, 2) != lake_compact_inputs_hash(only, 1));
    char key[FL_CATALOG_PATH_MAX];
    fl_lake_partition p = {2026, 1, 1, 0};
    assert_int_equal(lake_compacted_key(key, sizeof key, "raw-data", p, 0xabcULL, 3), 0);
    assert_string_equal(key,
                        "raw-data/year=2026/month=1/day=1/hour=0/compacted-0000000000000abc-3.parquet");
    assert_true(lake_is_compacted_key(key));
    assert_false(lake_is_compacted_key(a));
    fl_lake_partition q;
    uint32_t s;
    uint64_t x, y;
    assert_int_equal(fl_lake_part_key_parse(key, "raw-data", &q, &s, &x, &y), FL_EPARSE);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(names_are_deterministic),
        cmocka_unit_test_setup_teardown(plan_closed_open_and_at_target, setup, teardown),
        cmocka_unit_test_setup_teardown(merge_sorts_and_preserves, setup, teardown),
        cmocka_unit_test_setup_teardown(mixed_schema_versions, setup, teardown),
        cmocka_unit_test_setup_teardown(refuses_unknown_schemas, setup, teardown),
        cmocka_unit_test_setup_teardown(crash_after_publish_then_recover, setup, teardown),
        cmocka_unit_test_setup_teardown(crash_after_commit_then_grace, setup, teardown),
        cmocka_unit_test_setup_teardown(injected_failures_commit_nothing, setup, teardown),
        cmocka_unit_test_setup_teardown(memory_bound_makes_sorted_runs, setup, teardown),
        cmocka_unit_test_setup_teardown(stop_flag_abandons_cleanly, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
