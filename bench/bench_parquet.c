/* bench_parquet.c — Parquet writer and reader throughput on processed_sensor_data-like rows
 * (DESIGN.md §4.2): 1,000,000 rows from 1,000 devices (device_id string, timestamp
 * increasing per device, temperature/humidity/pressure with two decimals, latitude/
 * longitude, anomaly flag and score, day_of_week INT8, quality_flags, ~2% NULL sensors).
 * For SNAPPY, GZIP and ZSTD it times encoding into /tmp/fleetlake_bench_<codec>.parquet
 * (single thread; rows/s and MB/s of output), prints the file sizes, then times a scan of
 * the device_id, timestamp and temperature columns with the reader (count, total device_id
 * length, max timestamp, sum of temperature: what the DuckDB side computes). The files stay in /tmp
 * so a later script can compare them with DuckDB's. Each figure is the best of `repeat` runs;
 * the last line ("BENCH_JSON {...}") repeats them, with the scan's aggregates, for
 * bench/parquet_vs_duckdb.py. Usage: bench_parquet [rows [repeat]] | --scan FILE [repeat]. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "parquet/parquet.h"
#include "bench.h"

enum { COLS = 13, DEVICES = 1000 };

static const fl_pq_column_def COLUMNS[COLS] = {
    {"device_id", FL_PQ_BYTE_ARRAY, FL_PQ_LOGICAL_STRING, 0},
    {"timestamp", FL_PQ_INT64, FL_PQ_LOGICAL_TIMESTAMP_MICROS, 0},
    {"temperature", FL_PQ_DOUBLE, FL_PQ_LOGICAL_NONE, 1},
    {"humidity", FL_PQ_DOUBLE, FL_PQ_LOGICAL_NONE, 1},
    {"pressure", FL_PQ_DOUBLE, FL_PQ_LOGICAL_NONE, 1},
    {"temperature_fahrenheit", FL_PQ_DOUBLE, FL_PQ_LOGICAL_NONE, 1},
    {"latitude", FL_PQ_DOUBLE, FL_PQ_LOGICAL_NONE, 1},
    {"longitude", FL_PQ_DOUBLE, FL_PQ_LOGICAL_NONE, 1},
    {"anomaly_flag", FL_PQ_BOOLEAN, FL_PQ_LOGICAL_NONE, 0},
    {"anomaly_score", FL_PQ_DOUBLE, FL_PQ_LOGICAL_NONE, 0},
    {"day_of_week", FL_PQ_INT32, FL_PQ_LOGICAL_INT8, 0},
    {"is_weekend", FL_PQ_BOOLEAN, FL_PQ_LOGICAL_NONE, 0},
    {"quality_flags", FL_PQ_INT32, FL_PQ_LOGICAL_NONE, 0},
};

typedef struct dataset {
    size_t rows;
    fl_slice *device;
    char (*names)[16];
    int64_t *ts;
    double *d[7]; /* temperature, humidity, pressure, fahrenheit, lat, lon, score */
    uint8_t *valid, *flag, *weekend;
    int32_t *dow, *quality;
} dataset;

static uint64_t rng = 0x2545F4914F6CDD1DULL;
static double uniform(void)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return (double)(rng >> 11) / 9007199254740992.0;
}

static double round2(double x)
{
    return (double)(long long)(x * 100 + (x < 0 ? -0.5 : 0.5)) / 100;
}

static void generate(dataset *s, size_t rows)
{
    s->rows = rows;
    s->device = malloc(rows * sizeof *s->device);
    s->names = malloc(DEVICES * sizeof *s->names);
    s->ts = malloc(rows * 8);
    for (int k = 0; k < 7; k++)
        s->d[k] = malloc(rows * 8);
    s->valid = malloc(rows);
    s->flag = malloc(rows);
    s->weekend = malloc(rows);
    s->dow = malloc(rows * 4);
    s->quality = malloc(rows * 4);
    for (int k = 0; k < DEVICES; k++)
        snprintf(s->names[k], 16, "truck-%04d", k);
    int64_t start = 1764000000000000LL; /* 2025-11-24 */
    for (size_t i = 0; i < rows; i++) {
        size_t dev = i % DEVICES;
        s->device[i] = (fl_slice){s->names[dev], strlen(s->names[dev])};
        s->ts[i] = start + (int64_t)(i / DEVICES) * 1000000 + (int64_t)dev * 997;
        double t = round2(15 + 10 * uniform() + (double)(dev % 10));
        s->d[0][i] = t;
        s->d[1][i] = round2(30 + 40 * uniform());
        s->d[2][i] = round2(1000 + 25 * uniform());
        s->d[3][i] = round2(t * 9 / 5 + 32);
        s->d[4][i] = round2(37.0 + (double)dev / 1000 + uniform() / 100) ;
        s->d[5][i] = round2(126.5 + (double)dev / 1000 + uniform() / 100);
        s->d[6][i] = round2(uniform() * uniform());
        s->valid[i] = uniform() >= 0.02;
        s->flag[i] = s->d[6][i] >= 0.8;
        int day = (int)((s->ts[i] / 86400000000LL + 3) % 7) + 1;
        s->dow[i] = day;
        s->weekend[i] = day >= 6;
        s->quality[i] = uniform() < 0.05 ? (int32_t)(1 + uniform() * 7) : 0;
    }
}

static int sink(void *ctx, const void *p, size_t n)
{
    return fwrite(p, 1, n, ctx) == n ? 0 : -5;
}

static int source(void *ctx, void *p, size_t n, uint64_t off)
{
    FILE *f = ctx;
    if (fseeko(f, (off_t)off, SEEK_SET) || fread(p, 1, n, f) != n)
        return FL_ECORRUPT;
    return 0;
}

static int write_file(const dataset *s, enum fl_pq_codec codec, const char *path, double *secs,
                      fl_pq_file_summary *sum)
{
    fl_pq_column_values cv[COLS] = {
        {s->device, NULL}, {s->ts, NULL}, {s->d[0], s->valid}, {s->d[1], s->valid},
        {s->d[2], s->valid}, {s->d[3], s->valid}, {s->d[4], NULL}, {s->d[5], NULL},
        {s->flag, NULL}, {s->d[6], NULL}, {s->dow, NULL}, {s->weekend, NULL},
        {s->quality, NULL}};
    FILE *f = fopen(path, "wb");
    if (!f)
        return -1;
    fl_pq_writer_options o = {.codec = codec};
    fl_pq_writer *w;
    double t0 = bench_now_s();
    int rc = fl_pq_writer_create(COLUMNS, COLS, &o, sink, f, &w);
    /* the lake hands the writer batches of a few thousand rows */
    for (size_t first = 0; !rc && first < s->rows; first += 4096) {
        size_t n = s->rows - first < 4096 ? s->rows - first : 4096;
        fl_pq_column_values b[COLS];
        size_t widths[COLS] = {sizeof(fl_slice), 8, 8, 8, 8, 8, 8, 8, 1, 8, 4, 1, 4};
        for (int c = 0; c < COLS; c++) {
            b[c].values = (const char *)cv[c].values + first * widths[c];
            b[c].valid = cv[c].valid ? cv[c].valid + first : NULL;
        }
        rc = fl_pq_writer_write(w, b, n);
    }
    if (!rc)
        rc = fl_pq_writer_finish(w, sum);
    *secs = bench_now_s() - t0;
    fl_pq_writer_destroy(w);
    fclose(f);
    return rc;
}

/* The same work as the DuckDB side of bench/parquet_vs_duckdb.py: count(*),
 * sum(length(device_id)), max(timestamp), sum(temperature) over the three projected columns. */
typedef struct scan_result {
    int64_t rows, device_bytes, max_ts;
    double temperature_sum;
} scan_result;

static int scan(const char *path, double *secs, scan_result *out)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return -1;
    fseeko(f, 0, SEEK_END);
    uint64_t size = (uint64_t)ftello(f);
    double t0 = bench_now_s();
    fl_pq_reader *r;
    int rc = fl_pq_reader_open(source, f, size, NULL, &r);
    scan_result res = {0, 0, INT64_MIN, 0};
    const char *names[] = {"device_id", "timestamp", "temperature"};
    for (int g = 0; !rc && g < fl_pq_reader_row_group_count(r); g++) {
        int64_t n = fl_pq_reader_row_group_rows(r, g);
        fl_pq_column_values v[3];
        for (int k = 0; !rc && k < 3; k++) {
            int c = fl_pq_reader_column_index(r, names[k]);
            rc = c < 0 ? -1 : fl_pq_reader_read_column(r, g, (size_t)c, &v[k]);
        }
        if (rc)
            break;
        const fl_slice *dev = v[0].values;
        const int64_t *ts = v[1].values;
        const double *t = v[2].values;
        for (int64_t i = 0; i < n; i++) {
            res.device_bytes += (int64_t)dev[i].len;
            res.max_ts = ts[i] > res.max_ts ? ts[i] : res.max_ts;
            if (!v[2].valid || v[2].valid[i])
                res.temperature_sum += t[i];
        }
        res.rows += n;
    }
    *secs = bench_now_s() - t0;
    if (!rc)
        fl_pq_reader_destroy(r);
    fclose(f);
    *out = res;
    return rc;
}

/* bench_parquet --scan FILE [repeat]: only the scan, of any file with those three columns (the
 * comparison script points it at DuckDB's files). */
static int scan_only(const char *path, int repeat)
{
    double best = 1e30;
    scan_result sr = {0};
    for (int i = 0; i < repeat; i++) {
        double t;
        int rc = scan(path, &t, &sr);
        if (rc) {
            fprintf(stderr, "%s failed: %s\n", path, fl_strerror(rc));
            return 1;
        }
        best = t < best ? t : best;
    }
    printf("BENCH_SCAN {\"path\": \"%s\", \"scan_s\": %.6f, \"scan_rows\": %lld, "
           "\"device_id_bytes\": %lld, \"max_timestamp_us\": %lld, \"temperature_sum\": %.17g}\n",
           path, best, (long long)sr.rows, (long long)sr.device_bytes, (long long)sr.max_ts,
           sr.temperature_sum);
    return 0;
}

int main(int argc, char **argv)
{
    if (argc > 2 && !strcmp(argv[1], "--scan"))
        return scan_only(argv[2], argc > 3 ? atoi(argv[3]) : 3);
    size_t rows = argc > 1 ? (size_t)atol(argv[1]) : 1000000;
    int repeat = argc > 2 ? atoi(argv[2]) : 3; /* best of `repeat` for writes and scans */
    dataset s;
    generate(&s, rows);
    enum fl_pq_codec codecs[] = {FL_PQ_SNAPPY, FL_PQ_GZIP, FL_PQ_ZSTD};
    printf("fleetlake parquet bench: %zu rows x %d columns (processed_sensor_data-like), "
           "best of %d\n", rows, COLS, repeat);
    printf("%-8s %10s %12s %12s %10s %14s %14s\n", "codec", "write_s", "rows/s", "out_MB/s",
           "size_MB", "scan3_rows/s", "row_groups");
    char json[2048];
    size_t jn = (size_t)snprintf(json, sizeof json, "{\"rows\": %zu, \"codecs\": [", rows);
    for (int k = 0; k < 3; k++) {
        char path[128];
        snprintf(path, sizeof path, "/tmp/fleetlake_bench_%s.parquet", fl_pq_codec_name(codecs[k]));
        double ws = 1e30, rs = 1e30;
        fl_pq_file_summary sum = {0};
        scan_result sr = {0};
        int rc = 0;
        for (int i = 0; !rc && i < repeat; i++) {
            double t;
            rc = write_file(&s, codecs[k], path, &t, &sum);
            ws = t < ws ? t : ws;
        }
        for (int i = 0; !rc && i < repeat; i++) {
            double t;
            rc = scan(path, &t, &sr);
            rs = t < rs ? t : rs;
        }
        if (rc) {
            fprintf(stderr, "%s failed: %s\n", path, fl_strerror(rc));
            return 1;
        }
        printf("%-8s %10.3f %12.0f %12.1f %10.2f %14.0f %14d\n", fl_pq_codec_name(codecs[k]), ws,
               (double)rows / ws, (double)sum.bytes / 1e6 / ws, (double)sum.bytes / 1e6,
               (double)sr.rows / rs, sum.row_groups);
        jn += (size_t)snprintf(json + jn, sizeof json - jn,
                               "%s{\"codec\": \"%s\", \"path\": \"%s\", \"write_s\": %.6f, "
                               "\"bytes\": %lld, \"row_groups\": %d, \"scan_s\": %.6f, "
                               "\"scan_rows\": %lld, \"device_id_bytes\": %lld, "
                               "\"max_timestamp_us\": %lld, \"temperature_sum\": %.17g}",
                               k ? ", " : "", fl_pq_codec_name(codecs[k]), path, ws,
                               (long long)sum.bytes, sum.row_groups, rs, (long long)sr.rows,
                               (long long)sr.device_bytes, (long long)sr.max_ts,
                               sr.temperature_sum);
    }
    printf("files: /tmp/fleetlake_bench_{snappy,gzip,zstd}.parquet\n");
    /* One machine-readable line for bench/parquet_vs_duckdb.py. */
    printf("BENCH_JSON %s]}\n", json);
    return 0;
}
