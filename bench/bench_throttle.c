/* bench_throttle.c — cost of one token-bucket take (src/gateway/throttle.c), the work the
 * gateway adds per request (caller scope) and per record (device scope).
 *
 * Times fl_throttle_take on the defaults' shape (rate 1,000/s, burst 100,000, 100,000 buckets)
 * with keys like the simulator's ("truck-0000".."truck-0999"), best of 5 runs
 * (CLOCK_MONOTONIC):
 *   1. one thread, 1,000 keys in turn;
 *   2. T threads (default 16, the server's HTTP threads), each over the same 1,000 keys
 *      (stripes are shared: the contention the striping is meant to keep low);
 *   3. T threads on one single key (the worst case: every take on one mutex);
 *   4. T threads, fl_throttle_take_each over 500-key batches (the ingest path: one request of
 *      500 records, one lock per stripe touched);
 *   5. one thread, 1,000,000 distinct keys into 100,000 buckets (eviction on every insert
 *      once full: the cost of a device-id flood).
 * Prints takes/s and ns per take. Run from a Release build:
 *   cmake --build build-release --target bench_throttle && ./build-release/bench_throttle [T] */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "gateway/throttle.h"
#include "bench.h"

#define KEYS             1000
#define TAKES_PER_THREAD 2000000

static char keys_text[KEYS][16];
static size_t key_len[KEYS];

struct job {
    fl_throttle *t;
    int single_key;
    int each; /* fl_throttle_take_each in batches of BATCH */
    int offset;
    long granted;
};

#define BATCH 500

static void run_each(struct job *j)
{
    fl_slice keys[BATCH];
    uint64_t hashes[BATCH];
    uint32_t order[BATCH];
    uint8_t granted[BATCH];
    fl_throttle_scratch scratch = {hashes, order};
    int64_t now = 0;
    for (long i = 0; i < TAKES_PER_THREAD; i += BATCH) {
        for (int k = 0; k < BATCH; k++) {
            int key = (int)((i + k + j->offset) % KEYS);
            keys[k] = (fl_slice){keys_text[key], key_len[key]};
        }
        now += 1000;
        j->granted +=
            BATCH - (long)fl_throttle_take_each(j->t, keys, BATCH, now, &scratch, granted, NULL);
    }
}

static void *run(void *arg)
{
    struct job *j = arg;
    if (j->each) {
        run_each(j);
        return NULL;
    }
    int64_t now = 0;
    for (long i = 0; i < TAKES_PER_THREAD; i++) {
        int k = j->single_key ? 0 : (int)((i + j->offset) % KEYS);
        if ((i & 1023) == 0)
            now += 1000; /* 1 ms per 1,024 takes: buckets refill, as on a live server */
        j->granted += fl_throttle_take(j->t, keys_text[k], key_len[k], 1, now, NULL);
    }
    return NULL;
}

/* Best of 5: takes per second over threads x TAKES_PER_THREAD takes. */
static double measure(int threads, int single_key, int each)
{
    double best = 0;
    for (int rep = 0; rep < 5; rep++) {
        fl_throttle *t;
        if (fl_throttle_create(1000, 100000, 100000, &t))
            exit(1);
        pthread_t th[256];
        struct job jobs[256];
        double t0 = bench_now_s();
        for (int i = 0; i < threads; i++) {
            jobs[i] = (struct job){t, single_key, each, i * 61, 0};
            if (pthread_create(&th[i], NULL, run, &jobs[i]))
                exit(1);
        }
        for (int i = 0; i < threads; i++)
            pthread_join(th[i], NULL);
        double rate = (double)threads * TAKES_PER_THREAD / (bench_now_s() - t0);
        best = rate > best ? rate : best;
        fl_throttle_destroy(t);
    }
    return best;
}

static double measure_flood(void)
{
    double best = 0;
    for (int rep = 0; rep < 5; rep++) {
        fl_throttle *t;
        if (fl_throttle_create(1000, 100000, 100000, &t))
            exit(1);
        char k[32];
        long granted = 0;
        double t0 = bench_now_s();
        for (int i = 0; i < 1000000; i++) {
            int n = snprintf(k, sizeof k, "flood-%d", i);
            granted += fl_throttle_take(t, k, (size_t)n, 1, i, NULL);
        }
        if (granted != 1000000) /* every new key starts with a full bucket */
            exit(1);
        double rate = 1e6 / (bench_now_s() - t0);
        best = rate > best ? rate : best;
        fl_throttle_stats st;
        fl_throttle_stats_get(t, &st);
        if (rep == 0)
            printf("  (flood: %llu buckets kept, %llu evicted full, %llu evicted active)\n",
                   (unsigned long long)st.buckets, (unsigned long long)st.evicted_full,
                   (unsigned long long)st.evicted_active);
        fl_throttle_destroy(t);
    }
    return best;
}

int main(int argc, char **argv)
{
    int threads = argc > 1 ? atoi(argv[1]) : 16;
    if (threads < 1 || threads > 256) {
        fprintf(stderr, "usage: bench_throttle [threads 1..256]\n");
        return 2;
    }
    for (int i = 0; i < KEYS; i++)
        key_len[i] = (size_t)snprintf(keys_text[i], sizeof keys_text[i], "truck-%04d", i);
    struct {
        const char *what;
        double rate;
    } rows[5];
    rows[0].what = "1 thread, 1,000 keys";
    rows[0].rate = measure(1, 0, 0);
    static char w1[64], w2[64];
    snprintf(w1, sizeof w1, "%d threads, 1,000 keys", threads);
    rows[1].what = w1;
    rows[1].rate = measure(threads, 0, 0);
    snprintf(w2, sizeof w2, "%d threads, 1 key", threads);
    rows[2].what = w2;
    rows[2].rate = measure(threads, 1, 0);
    static char w3[64];
    snprintf(w3, sizeof w3, "%d threads, take_each of 500 keys", threads);
    rows[3].what = w3;
    rows[3].rate = measure(threads, 0, 1);
    rows[4].what = "1 thread, 1,000,000 new keys (evicting)";
    rows[4].rate = measure_flood();
    printf("%-42s %14s %10s\n", "fl_throttle_take", "takes/s", "ns/take");
    for (int i = 0; i < 5; i++)
        printf("%-42s %14.0f %10.1f\n", rows[i].what, rows[i].rate, 1e9 / rows[i].rate);
    return 0;
}
