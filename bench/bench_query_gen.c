/* bench_query_gen.c — writes the lake of the query benchmark (issue 5, "Benchmarks"): N
 * processed_sensor_data records (default 100 M) for a fleet of D devices (default 1,000) over
 * K days (default 21) into <out>/lake/processed-data/, through the processed pipeline's own
 * writer (fl_lake_processed_write: rows sorted by (device_id, timestamp), Parquet+SNAPPY,
 * atomic publish) and registered in <out>/meta.db with the same catalog rows the processor
 * commits. One file per hour holding every device's readings of that hour — what compaction
 * makes of an hour smaller than compaction.target_bytes (128 MiB; an hour here is ~10-30 MB).
 *
 * The data is deterministic (seeded xorshift) and plausible: each device has its own base
 * temperature, humidity and pressure, a daily temperature cycle and noise; readings are spread
 * evenly over each hour with jitter; ~1 % lack humidity, ~0.5 % lack a location; about 0.3 %
 * are anomalies (a temperature spike, score 0.8-1.0, anomaly_flag 1, some physically
 * implausible and quality-flagged); the rest score 0-0.4. Calendar columns use the reference
 * fleet's time zone, Asia/Seoul (UTC+9, no DST). trace_id is set as ingest sets it: readings
 * of many devices came in one request of about REQUEST_RECORDS records (the simulator's
 * batch), which shares one random trace id.
 *
 * Files are written by --threads workers (default: the number of CPUs), each with its own
 * object store and catalog connection; the catalog rows are inserted in one transaction at the
 * end, so a crash leaves only uncatalogued files (the benchmark then regenerates).
 *   bench_query_gen --out DIR [--rows N] [--devices D] [--days K] [--threads T]
 * Prints one JSON line: rows, files, bytes, seconds, first_hour_us. */
#include <inttypes.h>
#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "ingest/ingest.h"
#include "lake/lake.h"
#include "process/process.h"

#define HOUR_US (INT64_C(3600) * 1000000)
/* 2026-09-28 00:00:00 UTC, a Monday: fixed, so the benchmark's queries name fixed dates. */
#define FIRST_HOUR_US (INT64_C(1790553600) * 1000000)
#define SEOUL_OFFSET_US (9 * HOUR_US)

typedef struct gen {
    const char *out;
    int64_t rows;
    int devices, hours;
    char (*ids)[24];
    atomic_int next_hour;
    fl_lake_file *files; /* one per hour */
    int failed;
} gen;

static uint64_t mix(uint64_t x)
{
    x ^= x >> 33;
    x *= 0xff51afd7ed558ccdULL;
    x ^= x >> 33;
    x *= 0xc4ceb9fe1a85ec53ULL;
    return x ^ (x >> 33);
}

static double unit(uint64_t *s) /* [0, 1) */
{
    *s ^= *s << 13, *s ^= *s >> 7, *s ^= *s << 17;
    return (double)(*s >> 11) / 9007199254740992.0;
}

/* Records per ingest request (the simulator's default batch): one trace id each. */
#define REQUEST_RECORDS 500

/* The trace id of request `slot` of hour h, as 32 hex digits. */
static void trace_of(int h, int64_t slot, char out[33])
{
    uint64_t id[2] = {mix(((uint64_t)h << 32) ^ (uint64_t)slot), mix((uint64_t)slot + 0x9e37)};
    fl_hex_encode(id, sizeof id, out);
}

static int64_t hour_rows(const gen *g, int h)
{
    int64_t base = g->rows / g->hours;
    return base + (h < g->rows % g->hours ? 1 : 0);
}

static void fill_row(const gen *g, fl_lake_processed_row *r, int d, int64_t ts, uint64_t *s)
{
    uint64_t dev = mix((uint64_t)d + 1);
    double base_t = 12 + (double)(dev % 1300) / 100.0;        /* 12-25 °C */
    double base_h = 35 + (double)((dev >> 16) % 300) / 10.0;  /* 35-65 %RH */
    double base_p = 1003 + (double)((dev >> 32) % 200) / 10.0; /* 1003-1023 hPa */
    double hour_of_day = (double)((ts / HOUR_US) % 24) + (double)(ts % HOUR_US) / HOUR_US;
    double cycle = 4 * sin((hour_of_day - 9) * M_PI / 12);
    memset(r, 0, sizeof *r);
    r->device_id = (fl_slice){g->ids[d], strlen(g->ids[d])};
    r->timestamp_us = ts;
    r->present = FL_REC_TEMPERATURE | FL_REC_PRESSURE;
    r->temperature = round((base_t + cycle + (unit(s) - 0.5) * 1.5) * 100) / 100;
    r->pressure = round((base_p + (unit(s) - 0.5) * 2) * 10) / 10;
    if (unit(s) >= 0.01) {
        r->present |= FL_REC_HUMIDITY;
        r->humidity = round((base_h + (unit(s) - 0.5) * 6) * 10) / 10;
    }
    if (unit(s) >= 0.005) {
        r->present |= FL_REC_LOCATION;
        double phase = (double)(ts - FIRST_HOUR_US) / (86400.0 * 1e6);
        r->latitude = 35.0 + (double)(dev % 3000) / 1000.0 + 0.05 * sin(phase + (double)d);
        r->longitude = 126.5 + (double)((dev >> 20) % 3000) / 1000.0 + 0.05 * cos(phase);
    }
    double a = unit(s);
    if (a < 0.003) {
        r->temperature += 35 + 100 * unit(s); /* a spike; some beyond 150 °C: implausible */
        r->anomaly_flag = 1;
        r->anomaly_score = 0.8 + 0.2 * unit(s);
        if (r->temperature > 150)
            r->quality_flags |= FL_QUALITY_IMPLAUSIBLE;
    } else {
        r->anomaly_score = 0.4 * unit(s) * unit(s);
    }
    if (!(r->present & FL_REC_HUMIDITY) || !(r->present & FL_REC_LOCATION))
        r->quality_flags |= FL_QUALITY_MISSING_FIELD;
    r->temperature_fahrenheit = r->temperature * 9 / 5 + 32;
    int64_t local = ts + SEOUL_OFFSET_US;
    int64_t days = local / (24 * HOUR_US); /* 1970-01-01 was a Thursday (ISO 4) */
    r->day_of_week = (int32_t)((days + 3) % 7) + 1;
    r->is_weekend = r->day_of_week >= 6;
    r->local_hour = (int32_t)((local / HOUR_US) % 24);
}

/* All readings of hour h: device d gets n/D rows (+1 for the first n%D devices), evenly
 * spaced over the hour with jitter, distinct per device. */
static int write_hour(gen *g, fl_objstore *store, fl_catalog *cat, int h,
                      fl_lake_processed_row **buf, size_t *cap)
{
    int64_t n = hour_rows(g, h);
    if (n <= 0)
        return 0;
    if ((size_t)n > *cap) {
        free(*buf);
        *cap = (size_t)n;
        if (!(*buf = malloc(*cap * sizeof **buf)))
            return FL_ENOMEM;
    }
    int64_t hour_start = FIRST_HOUR_US + h * HOUR_US;
    uint64_t s = mix((uint64_t)h * 7919 + 17) | 1;
    int64_t requests = n / REQUEST_RECORDS + 1;
    size_t k = 0;
    for (int d = 0; d < g->devices; d++) {
        int64_t per = n / g->devices + (d < n % g->devices ? 1 : 0);
        if (per == 0)
            continue;
        int64_t step = HOUR_US / per;
        for (int64_t i = 0; i < per; i++) {
            int64_t jitter = step > 2 ? (int64_t)(unit(&s) * (double)(step / 2)) : 0;
            int64_t ts = hour_start + i * step + jitter;
            fill_row(g, &(*buf)[k], d, ts, &s);
            /* readings come in bursts (10 a device-hour): spread each burst's devices over
             * the requests so each id holds about REQUEST_RECORDS rows */
            trace_of(h, ((ts - hour_start) * requests / HOUR_US + d) % requests,
                     (*buf)[k++].trace_id);
        }
    }
    /* Sequence numbers as one shard's stream would have them: disjoint per hour. */
    uint64_t first = (uint64_t)h * (uint64_t)(g->rows / g->hours + 1) + 1;
    return fl_lake_processed_write(store, cat, 0, hour_start / HOUR_US, *buf, k, first,
                                   first + k - 1, FL_PQ_SNAPPY, &g->files[h]);
}

static void *worker(void *arg)
{
    gen *g = arg;
    char path[1200];
    fl_objstore *store = NULL;
    fl_catalog *cat = NULL;
    fl_lake_processed_row *buf = NULL;
    size_t cap = 0;
    snprintf(path, sizeof path, "%s/lake", g->out);
    int rc = fl_objstore_local_create(path, &store);
    snprintf(path, sizeof path, "%s/meta.db", g->out);
    if (!rc)
        rc = fl_catalog_open(path, &cat);
    for (int h; !rc && !g->failed && (h = atomic_fetch_add(&g->next_hour, 1)) < g->hours;)
        if ((rc = write_hour(g, store, cat, h, &buf, &cap)))
            fprintf(stderr, "bench_query_gen: hour %d: %s\n", h, fl_strerror(rc));
    if (rc)
        g->failed = 1;
    free(buf);
    fl_catalog_close(cat);
    fl_objstore_destroy(store);
    return NULL;
}

static int insert_all(fl_catalog *c, void *arg)
{
    const gen *g = arg;
    for (int h = 0; h < g->hours; h++)
        if (g->files[h].rows > 0) {
            int rc = fl_catalog_file_insert(c, &g->files[h]);
            if (rc)
                return rc;
        }
    return 0;
}

int main(int argc, char **argv)
{
    gen g = {.rows = 100000000, .devices = 1000, .hours = 21 * 24};
    long threads = sysconf(_SC_NPROCESSORS_ONLN);
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--out") && i + 1 < argc)
            g.out = argv[++i];
        else if (!strcmp(argv[i], "--rows") && i + 1 < argc)
            g.rows = strtoll(argv[++i], NULL, 10);
        else if (!strcmp(argv[i], "--devices") && i + 1 < argc)
            g.devices = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--days") && i + 1 < argc)
            g.hours = 24 * atoi(argv[++i]);
        else if (!strcmp(argv[i], "--threads") && i + 1 < argc)
            threads = atol(argv[++i]);
        else
            g.out = NULL, i = argc;
    }
    if (!g.out || g.rows <= 0 || g.devices <= 0 || g.devices > 100000 || g.hours <= 0 ||
        threads <= 0 || threads > 64) {
        fprintf(stderr, "usage: bench_query_gen --out DIR [--rows N] [--devices D (<= 100000)] "
                        "[--days K] [--threads T]\n");
        return 2;
    }
    fl_log_setup(FL_LOG_WARN, 0, stderr);
    if (mkdir(g.out, 0755) != 0) {
        fprintf(stderr, "bench_query_gen: cannot create %s (it must not exist yet)\n", g.out);
        return 1;
    }
    g.ids = calloc((size_t)g.devices, sizeof *g.ids);
    g.files = calloc((size_t)g.hours, sizeof *g.files);
    if (!g.ids || !g.files)
        return 1;
    for (int d = 0; d < g.devices; d++)
        snprintf(g.ids[d], sizeof g.ids[d], "truck-%04d", d);
    /* Create the catalog schema once before the workers open their connections. */
    char meta[1200];
    snprintf(meta, sizeof meta, "%s/meta.db", g.out);
    fl_catalog *cat = NULL;
    int rc = fl_catalog_open(meta, &cat);
    int64_t t0 = fl_time_mono_us();
    pthread_t th[64];
    for (long i = 0; !rc && i < threads; i++)
        if (pthread_create(&th[i], NULL, worker, &g) != 0)
            return 1;
    for (long i = 0; !rc && i < threads; i++)
        pthread_join(th[i], NULL);
    if (!rc && g.failed)
        rc = FL_ESTOPPED;
    if (!rc)
        rc = fl_catalog_transaction(cat, insert_all, &g);
    double secs = (double)(fl_time_mono_us() - t0) / 1e6;
    int64_t bytes = 0, files = 0, rows = 0;
    for (int h = 0; h < g.hours; h++) {
        bytes += g.files[h].bytes;
        rows += g.files[h].rows;
        files += g.files[h].rows > 0;
    }
    fl_catalog_close(cat);
    if (rc) {
        fprintf(stderr, "bench_query_gen: %s\n", fl_strerror(rc));
        return 1;
    }
    printf("{\"rows\": %" PRId64 ", \"files\": %" PRId64 ", \"bytes\": %" PRId64
           ", \"devices\": %d, \"hours\": %d, \"seconds\": %.2f, \"first_hour_us\": %" PRId64
           "}\n",
           rows, files, bytes, g.devices, g.hours, secs, FIRST_HOUR_US);
    free(g.ids);
    free(g.files);
    return 0;
}
