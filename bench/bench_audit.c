/* bench_audit.c — the cost of one audit entry (src/audit), the per-request work the audit
 * trail adds to every API call.
 *
 * Appends entries shaped like an ingest request's (POST /v1/records, a key id, a role, a
 * client address) to a fresh log in a temp directory, audit.fsync = interval (the default:
 * the background thread syncs every second), and reports CPU µs per entry with 1 thread and
 * with 4 threads appending at once (they share one mutex and the flock). Best of 3 runs.
 * Compare with the server CPU per ingest request (bench/e2e.py: a 500-record request costs
 * the server roughly 500 x its per-record CPU) to get the overhead on ingest.
 *   ./build-release/bench_audit [entries] */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "audit/audit.h"

static double now_s(clockid_t clock)
{
    struct timespec ts;
    clock_gettime(clock, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

struct arg {
    fl_audit_log *log;
    long n;
    int failed;
};

static void *appender(void *p)
{
    struct arg *a = p;
    char trace[24];
    for (long i = 0; i < a->n; i++) {
        snprintf(trace, sizeof trace, "%lx", (unsigned long)i);
        fl_audit_event ev = {.type = "api", .key_id = "k_7c1d9e0a", .role = "device",
                             .action = "POST /v1/records", .resource = "/v1/records",
                             .status = 200, .bytes_in = 180000, .bytes_out = 24000,
                             .trace_id = trace, .client = "10.20.30.40"};
        if (fl_audit_append(a->log, &ev)) {
            a->failed = 1;
            return NULL;
        }
    }
    return NULL;
}

static int run(const char *tmpl, long entries, int threads, double *wall, double *cpu)
{
    char root[256];
    snprintf(root, sizeof root, "%s", tmpl);
    if (!mkdtemp(root))
        return 1;
    fl_config cfg;
    fl_config_defaults(&cfg);
    fl_audit_options o;
    fl_audit_log *log = NULL;
    if (fl_audit_options_from_config(&cfg, root, &o) || fl_audit_open(&o, &log))
        return 1;
    pthread_t t[16];
    struct arg a[16];
    double w0 = now_s(CLOCK_MONOTONIC), c0 = now_s(CLOCK_PROCESS_CPUTIME_ID);
    for (int i = 0; i < threads; i++) {
        a[i] = (struct arg){log, entries / threads, 0};
        pthread_create(&t[i], NULL, appender, &a[i]);
    }
    int failed = 0;
    for (int i = 0; i < threads; i++) {
        pthread_join(t[i], NULL);
        failed |= a[i].failed;
    }
    *wall = now_s(CLOCK_MONOTONIC) - w0;
    *cpu = now_s(CLOCK_PROCESS_CPUTIME_ID) - c0;
    int rc = fl_audit_close(log);
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", root);
    if (system(cmd) != 0)
        fprintf(stderr, "could not remove %s\n", root);
    return failed || rc;
}

int main(int argc, char **argv)
{
    long entries = argc > 1 ? atol(argv[1]) : 200000;
    const char *tmp = getenv("TMPDIR");
    char tmpl[256];
    snprintf(tmpl, sizeof tmpl, "%s/fl-bench-audit-XXXXXX", tmp && *tmp ? tmp : "/tmp");
    printf("%-8s %10s %12s %14s %14s\n", "threads", "entries", "entries/s", "wall us/entry",
           "cpu us/entry");
    for (int threads = 1; threads <= 4; threads *= 4) {
        double best_wall = 1e9, best_cpu = 1e9;
        for (int r = 0; r < 3; r++) {
            double w, c;
            if (run(tmpl, entries, threads, &w, &c)) {
                fprintf(stderr, "bench_audit: a run failed\n");
                return 1;
            }
            if (w < best_wall)
                best_wall = w;
            if (c < best_cpu)
                best_cpu = c;
        }
        printf("%-8d %10ld %12.0f %14.2f %14.2f\n", threads, entries, entries / best_wall,
               best_wall * 1e6 / entries, best_cpu * 1e6 / entries);
    }
    return 0;
}
