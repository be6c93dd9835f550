/* bench_rules.c — what an alert rule changed through the API (PUT /v1/rules/{name}) costs while
 * readings flow: the alert engine re-lays every tracked device's rule state for the new rule
 * set (src/notify/engine_rules.c). The per-device state is not touched by a change: each
 * device's counters of a changed rule start over at its next reading (a tag tells the
 * definitions apart), so a change should cost the same with 100,000 devices as with 1,000,000.
 *
 * For N devices tracked (100,000 and 1,000,000 over 4 shards; 8 rules, the built-in 7 and one
 * threshold rule), it prints:
 *   1. observe: ns per reading through fl_alert_engine_observe, one thread (the hot path);
 *   2. change: wall time of one fl_alert_engine_rule_put that changes the threshold (median and
 *      max of 10; it includes meta.db's fsynced commit), with 2 observer threads running;
 *   3. observe under changes: ns per reading of those 2 threads (wall time / calls) while the
 *      10 changes run, and for as long without changes.
 * Best read from a Release build:
 *   cmake --build build-release --target bench_rules && ./build-release/bench_rules */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "notify/engine_int.h"
#include "bench.h"

#define SHARDS  4
#define CHANGES 10

static fl_config cfg;
static char ids[1000000][16];

static void observe(fl_alert_engine *e, size_t dev, int64_t t, double temp)
{
    fl_processed p = {.device_id = {ids[dev], strlen(ids[dev])},
                      .timestamp_us = t,
                      .present = FL_REC_TEMPERATURE,
                      .temperature = temp};
    fl_alert_engine_observe(e, (uint32_t)(dev % SHARDS), &p, t);
}

struct observer {
    fl_alert_engine *e;
    size_t devices;
    unsigned seed;
    volatile int stop;
    long calls;
};

static void *observer_main(void *arg)
{
    struct observer *o = arg;
    for (int64_t t = 1; !o->stop; t++) {
        size_t dev = (size_t)rand_r(&o->seed) % o->devices;
        observe(o->e, dev, t, 20 + rand_r(&o->seed) % 10);
        o->calls++;
    }
    return NULL;
}

/* Run two observers for `seconds` (changing the rule CHANGES times meanwhile when change);
 * returns ns per observe call (wall time over both threads' calls), fills the change times. */
static double run_observers(fl_alert_engine *e, size_t devices, int change, double seconds,
                            double *change_s)
{
    struct observer o[2] = {{.e = e, .devices = devices, .seed = 1},
                            {.e = e, .devices = devices, .seed = 2}};
    pthread_t th[2];
    for (int i = 0; i < 2; i++)
        pthread_create(&th[i], NULL, observer_main, &o[i]);
    double start = bench_now_s();
    for (int k = 0; change && k < CHANGES; k++) {
        char json[128], err[256];
        snprintf(json, sizeof json,
                 "{\"type\":\"threshold\",\"field\":\"temperature\",\"value\":%d,\"count\":3}",
                 40 + k);
        fl_rule_caller who = {.key_id = "bench"};
        fl_buf out = {0};
        int created;
        double t0 = bench_now_s();
        if (fl_alert_engine_rule_put(e, "hot", json, strlen(json), 0, &who, &created, &out, err,
                                     sizeof err)) {
            fprintf(stderr, "rule change failed: %s\n", err);
            exit(1);
        }
        change_s[k] = bench_now_s() - t0;
        fl_buf_free(&out);
    }
    while (bench_now_s() - start < seconds) {
        struct timespec ts = {0, 10 * 1000 * 1000};
        nanosleep(&ts, NULL);
    }
    for (int i = 0; i < 2; i++) {
        o[i].stop = 1;
        pthread_join(th[i], NULL);
    }
    return (bench_now_s() - start) * 2 / (double)(o[0].calls + o[1].calls) * 1e9;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static void bench(size_t devices, const char *dir)
{
    char meta[512], err[256];
    snprintf(meta, sizeof meta, "%s/meta-%zu.db", dir, devices);
    remove(meta);
    fl_alert_engine_deps deps = {.cfg = &cfg, .meta_path = meta, .data_dir = dir};
    fl_alert_engine *e = NULL;
    if (fl_alert_engine_start(&deps, &e, err, sizeof err)) {
        fprintf(stderr, "engine: %s\n", err);
        exit(1);
    }
    char json[] = "{\"type\":\"threshold\",\"field\":\"temperature\",\"value\":39,\"count\":3}";
    fl_rule_caller who = {.key_id = "bench"};
    fl_buf out = {0};
    int created;
    if (fl_alert_engine_rule_put(e, "hot", json, strlen(json), 0, &who, &created, &out, err,
                                 sizeof err))
        exit(1);
    fl_buf_free(&out);
    for (size_t d = 0; d < devices; d++) /* every device tracked */
        observe(e, d, 1, 20);
    size_t n = 2000000;
    double t0 = bench_now_s();
    for (size_t i = 0; i < n; i++)
        observe(e, (i * 7919) % devices, (int64_t)i + 2, 20 + (double)(i % 10));
    double per = (bench_now_s() - t0) / (double)n * 1e9;
    double changes[CHANGES];
    double quiet = run_observers(e, devices, 0, 3.0, changes);
    double busy = run_observers(e, devices, 1, 3.0, changes);
    qsort(changes, CHANGES, sizeof changes[0], cmp_double);
    printf("| %9zu | %6.0f ns | %8.1f ms | %8.1f ms | %7.0f ns | %7.0f ns |\n", devices, per,
           changes[CHANGES / 2] * 1e3, changes[CHANGES - 1] * 1e3, quiet, busy);
    fl_alert_engine_stop(e);
    remove(meta);
}

int main(int argc, char **argv)
{
    const char *dir = argc > 1 ? argv[1] : "/tmp";
    char err[256];
    fl_config_defaults(&cfg);
    cfg.shards = SHARDS;
    if (fl_config_set(&cfg, "process.max_devices_per_shard=1000000", err, sizeof err)) {
        fprintf(stderr, "%s\n", err);
        return 1;
    }
    for (size_t i = 0; i < sizeof ids / sizeof ids[0]; i++)
        snprintf(ids[i], sizeof ids[i], "truck-%07zu", i);
    printf("| devices | observe (1 thread) | change p50 | change max | observe, 2 threads | "
           "observe, 2 threads, changing |\n|---:|---:|---:|---:|---:|---:|\n");
    bench(100000, dir);
    bench(1000000, dir);
    return 0;
}
