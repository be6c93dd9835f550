/* bench_delivery.c — throughput and file bytes of raw delivery (stream records ->
 * raw_sensor_data Parquet+GZIP files), without HTTP or the stream in the way.
 *
 * Generates N simulator-like sensor records (1,000 devices, one hour of event time, ~10 %
 * missing humidity, ~5 % missing location, metadata on most) in their stored binary form, each
 * group of B consecutive records sharing one random trace id as one ingest request's records
 * do (B = 0: records without a trace id). Then times, single threaded, the delivery consumer
 * core as serve runs it: decode each record (lake_raw_table), buffer it in its partition,
 * flush files of raw.buffer_bytes (1 MiB) through the real Parquet+GZIP encoder into a local
 * object store (write, fsync, rename) and commit each file's catalog row with the checkpoint
 * in meta.db. Best of R runs, each in a fresh directory under TMPDIR. Prints records/s, files
 * and lake bytes per record. Run from a Release build:
 *   ./build-release/bench_delivery [records (1000000)] [batch (500)] [runs (3)] */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "ingest/ingest.h"
#include "lake/lake_int.h"
#include "bench.h"

static const int64_t BASE_US = INT64_C(1795564800000000); /* 2026-11-25T00:00:00Z */

static uint64_t rng = 88172645463325252ull;
static uint64_t next_random(void)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return rng;
}

static double uniform(double lo, double hi)
{
    return lo + (hi - lo) * (double)(next_random() >> 11) / 9007199254740992.0;
}

/* Two decimals, as the simulator sends them. */
static double two_decimals(double x)
{
    return (double)(int64_t)(x * 100) / 100;
}

/* Record i into out (appended); the payload offsets go to ends. */
static int generate_one(size_t i, const uint8_t trace[16], int traced, fl_buf *out)
{
    char dev[32];
    snprintf(dev, sizeof dev, "truck-%04d", (int)(i * 7919 % 1000));
    fl_record r;
    memset(&r, 0, sizeof r);
    r.device_id = fl_slice_from_cstr(dev);
    r.timestamp_us = BASE_US + (int64_t)(i % 3600000) * 1000;
    r.temperature = two_decimals(uniform(-10, 40));
    r.pressure = two_decimals(uniform(990, 1030));
    r.present = FL_REC_TEMPERATURE | FL_REC_PRESSURE;
    if (i % 10 != 3) {
        r.humidity = two_decimals(uniform(20, 90));
        r.present |= FL_REC_HUMIDITY;
    }
    if (i % 20 != 5) {
        r.latitude = two_decimals(uniform(33, 38.5));
        r.longitude = two_decimals(uniform(124.5, 131));
        r.present |= FL_REC_LOCATION;
    }
    if (i % 20 != 11) {
        r.metadata_version = fl_slice_from_cstr(i % 2 ? "1.2.0" : "1.3.0");
        r.metadata_source = fl_slice_from_cstr("fms-gw");
        r.present |= FL_REC_META_VERSION | FL_REC_META_SOURCE;
    }
    if (traced) {
        memcpy(r.trace_id, trace, 16);
        r.present |= FL_REC_TRACE;
    }
    return fl_record_encode(&r, out);
}

static int generate(size_t n, size_t batch, fl_buf *payloads, size_t *ends)
{
    uint8_t trace[16] = {0};
    for (size_t i = 0; i < n; i++) {
        if (batch && i % batch == 0)
            for (size_t k = 0; k < 16; k += 8) {
                uint64_t x = next_random();
                memcpy(trace + k, &x, 8);
            }
        int rc = generate_one(i, trace, batch != 0, payloads);
        if (rc)
            return rc;
        ends[i] = payloads->len;
    }
    return 0;
}

struct run_result {
    double seconds;
    uint64_t files;
    int64_t bytes;
};

/* One timed delivery of every record into a fresh lake under dir. */
static int run_once(const char *dir, const fl_buf *payloads, const size_t *ends, size_t n,
                    struct run_result *out)
{
    char root[600], meta[600];
    snprintf(root, sizeof root, "%s/lake", dir);
    snprintf(meta, sizeof meta, "%s/meta.db", dir);
    fl_objstore *store = NULL;
    fl_catalog *cat = NULL;
    lake_consumer *c = NULL;
    enum fl_pq_codec codec = FL_PQ_GZIP;
    int rc = fl_objstore_local_create(root, &store);
    rc = rc ? rc : fl_catalog_open(meta, &cat);
    rc = rc ? rc : fl_stream_checkpoint_init(fl_catalog_db(cat));
    lake_consumer_options o = {.spec = &lake_raw_table,
                               .store = store,
                               .catalog = cat,
                               .buffer_bytes = 1 << 20,
                               .buffer_interval_us = INT64_C(1) << 50,
                               .max_active_partitions = 500,
                               .encode = lake_encode_parquet,
                               .encode_ctx = &codec};
    rc = rc ? rc : lake_consumer_create(&o, &c);
    uint64_t resume = 0;
    rc = rc ? rc : lake_consumer_recover(c, fl_time_now_us(), &resume);
    double t0 = bench_now_s();
    for (size_t i = 0; !rc && i < n; i++) {
        size_t start = i ? ends[i - 1] : 0;
        fl_slice payload = {payloads->data + start, ends[i] - start};
        fl_stream_record rec = {0, i + 1, BASE_US, FL_STREAM_KIND_SENSOR, {"", 0}, payload};
        rc = lake_consumer_offer(c, &rec);
    }
    rc = rc ? rc : lake_consumer_flush_all(c, LAKE_FLUSH_SHUTDOWN);
    out->seconds = bench_now_s() - t0;
    int64_t files = 0, rows = 0;
    fl_catalog_filter flt = fl_catalog_filter_table(FL_LAKE_RAW_TABLE);
    rc = rc ? rc : fl_catalog_files_count(cat, &flt, &files, &rows, &out->bytes);
    out->files = (uint64_t)files;
    if (!rc && rows != (int64_t)n)
        rc = FL_ECORRUPT;
    lake_consumer_destroy(c);
    fl_catalog_close(cat);
    fl_objstore_destroy(store);
    return rc;
}

int main(int argc, char **argv)
{
    size_t n = argc > 1 ? strtoull(argv[1], NULL, 10) : 1000000;
    size_t batch = argc > 2 ? strtoull(argv[2], NULL, 10) : 500;
    int runs = argc > 3 ? atoi(argv[3]) : 3;
    const char *tmp = getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp";
    fl_buf payloads = {0};
    size_t *ends = malloc((n ? n : 1) * sizeof *ends);
    if (!ends || n == 0 || runs < 1 || generate(n, batch, &payloads, ends)) {
        fprintf(stderr, "usage: bench_delivery [records] [batch] [runs] (out of memory?)\n");
        return 2;
    }
    struct run_result best = {1e30, 0, 0};
    for (int r = 0; r < runs; r++) {
        char dir[512], cmd[600];
        snprintf(dir, sizeof dir, "%s/fl-bench-delivery-%d-%d", tmp, (int)getpid(), r);
        struct run_result res;
        int rc = run_once(dir, &payloads, ends, n, &res);
        snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
        if (system(cmd) != 0)
            fprintf(stderr, "bench_delivery: could not remove %s\n", dir);
        if (rc) {
            fprintf(stderr, "bench_delivery: %s\n", fl_strerror(rc));
            return 1;
        }
        if (res.seconds < best.seconds)
            best = res;
    }
    printf("records %zu, %zu per trace id%s, best of %d: %.3f s, %.0f records/s, %" PRIu64
           " files, %.2f bytes/record\n",
           n, batch, batch ? "" : " (none)", runs, best.seconds, (double)n / best.seconds,
           best.files, (double)best.bytes / (double)n);
    fl_buf_free(&payloads);
    free(ends);
    return 0;
}
