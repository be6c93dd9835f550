/* bench_decode.c — throughput of the ingest hot path against a general JSON library.
 *
 * Generates ~200,000 simulator-like records (1,000 devices, millisecond timestamps, varying
 * values, some with missing fields or nulls) as one NDJSON body in memory, then times, single
 * threaded, best of 5 runs (CLOCK_MONOTONIC): fl_body_split + fl_record_decode_json +
 * fl_record_encode for every record. As a peer, jansson parses the same records (json_loadb per
 * line, reading the fields a decoder would read, no validation). Prints records, bytes,
 * seconds, records/s and MB/s for both and the ratio. Run from a Release build:
 *   cmake -S . -B build-rel -DCMAKE_BUILD_TYPE=Release && cmake --build build-rel --target bench_decode
 *   ./build-rel/bench_decode [records] */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "ingest/ingest.h"
#include "bench.h"

static const int64_t BASE_US = INT64_C(1795564800000000); /* 2026-11-25T00:00:00Z */

static uint64_t rng = 88172645463325252ull;
static double uniform(double lo, double hi)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return lo + (hi - lo) * (double)(rng >> 11) / 9007199254740992.0;
}

static int generate(fl_buf *body, size_t records)
{
    int rc = 0;
    for (size_t i = 0; i < records && !rc; i++) {
        char ts[FL_TIME_RFC3339_MAX];
        fl_time_format_rfc3339(BASE_US + (int64_t)i * 37000, ts);
        ts[23] = 'Z'; /* milliseconds, like the simulator */
        ts[24] = 0;
        int dev = (int)(i * 7919 % 1000);
        rc = fl_buf_printf(body, "{\"device_id\":\"truck-%04d\",\"timestamp\":\"%s\","
                           "\"temperature\":%.1f", dev, ts, uniform(-10, 40));
        if (!rc && i % 10 != 3)
            rc = fl_buf_printf(body, ",\"humidity\":%.1f", uniform(20, 90));
        if (!rc)
            rc = i % 50 == 7 ? fl_buf_append_cstr(body, ",\"pressure\":null")
                             : fl_buf_printf(body, ",\"pressure\":%.1f", uniform(990, 1030));
        if (!rc && i % 20 != 5)
            rc = fl_buf_printf(body, ",\"location\":{\"latitude\":%.2f,\"longitude\":%.2f}",
                               uniform(33, 38.5), uniform(124.5, 131));
        if (!rc && i % 20 != 11)
            rc = fl_buf_printf(body, ",\"metadata\":{\"version\":\"1.%d.0\",\"source\":\"fms-gw\"}",
                               (int)(i % 4));
        if (!rc)
            rc = fl_buf_append_cstr(body, "}\n");
    }
    return rc;
}

typedef struct result {
    size_t records, accepted;
    double seconds;
} result;

static result run_fleetlake(const fl_buf *body, int64_t now_us, const fl_ingest_limits *lim,
                            fl_buf *items, fl_buf *scratch, fl_buf *bin)
{
    result r = {0, 0, 0};
    double t0 = bench_now_s();
    size_t count;
    fl_buf_reset(items);
    fl_buf_reset(bin);
    if (fl_body_split(body->data, body->len, FL_BODY_NDJSON, SIZE_MAX, lim->max_json_depth, items,
                      &count) != FL_BODY_OK)
        return r;
    const fl_body_item *it = (const fl_body_item *)items->data;
    for (size_t i = 0; i < count; i++) {
        fl_record rec;
        fl_record_error err;
        if (fl_record_decode_json(it[i].text.ptr, it[i].text.len, now_us, lim, &rec, scratch,
                                  &err) == 0 &&
            fl_record_encode(&rec, bin) == 0)
            r.accepted++;
    }
    r.seconds = bench_now_s() - t0;
    r.records = count;
    return r;
}

static result run_jansson(const fl_buf *items, size_t count)
{
    result r = {count, 0, 0};
    double t0 = bench_now_s();
    const fl_body_item *it = (const fl_body_item *)items->data;
    double sink = 0;
    for (size_t i = 0; i < count; i++) {
        json_error_t jerr;
        json_t *o = json_loadb(it[i].text.ptr, it[i].text.len, 0, &jerr);
        if (!o)
            continue;
        const char *dev = json_string_value(json_object_get(o, "device_id"));
        const char *ts = json_string_value(json_object_get(o, "timestamp"));
        sink += json_number_value(json_object_get(o, "temperature"));
        sink += json_number_value(json_object_get(o, "humidity"));
        sink += json_number_value(json_object_get(o, "pressure"));
        json_t *loc = json_object_get(o, "location");
        sink += json_number_value(json_object_get(loc, "latitude"));
        json_t *meta = json_object_get(o, "metadata");
        if (dev && ts && json_string_value(json_object_get(meta, "source")) != (const char *)1)
            r.accepted++;
        json_decref(o);
    }
    r.seconds = bench_now_s() - t0;
    if (sink == 42.4242)
        printf(" ");
    return r;
}

static void row(const char *name, result r, size_t bytes)
{
    printf("%-34s %9zu %11zu %9.4f %13.0f %9.1f\n", name, r.records, bytes, r.seconds,
           (double)r.records / r.seconds, (double)bytes / r.seconds / 1e6);
}

int main(int argc, char **argv)
{
    size_t records = argc > 1 ? (size_t)strtoull(argv[1], NULL, 10) : 200000;
    fl_buf body = {0}, items = {0}, scratch = {0}, bin = {0};
    fl_ingest_limits lim = {16, 4096, 300 * FL_US_PER_SEC, INT64_C(946684800000000)};
    int64_t now_us = BASE_US + (int64_t)records * 37000 + FL_US_PER_SEC;
    if (generate(&body, records)) {
        fprintf(stderr, "out of memory\n");
        return 1;
    }
    result best = {0, 0, 1e9}, jbest = {0, 0, 1e9};
    for (int run = 0; run < 5; run++) {
        result r = run_fleetlake(&body, now_us, &lim, &items, &scratch, &bin);
        if (r.accepted != records) {
            fprintf(stderr, "only %zu of %zu records accepted\n", r.accepted, records);
            return 1;
        }
        if (r.seconds < best.seconds)
            best = r;
    }
    size_t count = best.records;
    for (int run = 0; run < 5; run++) {
        result r = run_jansson(&items, count);
        if (r.accepted != records) {
            fprintf(stderr, "jansson parsed only %zu of %zu records\n", r.accepted, records);
            return 1;
        }
        if (r.seconds < jbest.seconds)
            jbest = r;
    }
    printf("%zu records, %zu bytes NDJSON (%.0f bytes/record), binary %zu bytes; best of 5, one "
           "thread\n\n", records, body.len, (double)body.len / (double)records, bin.len);
    printf("%-34s %9s %11s %9s %13s %9s\n", "", "records", "bytes", "seconds", "records/s",
           "MB/s");
    row("fleetlake split+decode+encode", best, body.len);
    row("jansson json_loadb (peer)", jbest, body.len);
    printf("\nfleetlake / jansson: %.1fx\n", jbest.seconds / best.seconds);
    fl_buf_free(&body);
    fl_buf_free(&items);
    fl_buf_free(&scratch);
    fl_buf_free(&bin);
    return 0;
}
