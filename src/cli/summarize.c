/* summarize.c — `fleetlake summarize --from T --to T`: (re)compute hourly_summary for the hours
 * starting in [from, to) that have processed data (a backfill), the same per-hour step serve's
 * summary job runs. Idempotent: an hour whose summary is current is left alone. Safe while
 * `serve` runs: both take <data>/summary.lock (this command waits up to --wait seconds). */
#include <getopt.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli/cli.h"
#include "jobs/jobs.h"

/* A serve pass summarises one hour in well under a second; a minute covers a long backlog. */
#define LOCK_WAIT_DEFAULT_S 60

static _Atomic int stop_requested;

static void on_signal(int sig)
{
    (void)sig;
    atomic_store(&stop_requested, 1);
}

struct cli {
    const char *data_dir;
    int64_t from_us, to_us, wait_s;
    int dry_run, have_from, have_to;
    fl_config cfg;
};

static void usage(FILE *out)
{
    fprintf(out,
            "usage: fleetlake summarize --from T --to T [--data DIR] [--dry-run]\n"
            "                           [--config FILE] [--set K=V] [--wait S]\n"
            "(Re)compute curated-data/hourly_summary for every hour starting in [from, to)\n"
            "that has processed data, swapping each hour's file atomically. Hours whose\n"
            "summary is already current are left alone. Safe while `serve` runs.\n\n"
            "  --from T, --to T  RFC 3339 bounds, e.g. 2026-11-05T00:00:00Z\n"
            "  --data DIR        data directory (default ./fleetlake-data)\n"
            "  --dry-run         print what would be (re)computed, change nothing\n"
            "  --config FILE     read [summary] and [compaction] from this configuration\n"
            "  --set K=V         override a configuration key (repeatable)\n"
            "  --wait S          wait this long for serve's running pass (default %d)\n"
            "  -h, --help        this help\n",
            LOCK_WAIT_DEFAULT_S);
}

static int parse_time(const char *arg, int64_t *out, char *err, size_t n)
{
    if (fl_time_parse_rfc3339(arg, strlen(arg), out) == 0)
        return 0;
    snprintf(err, n, "'%s': expected an RFC 3339 time such as 2026-11-05T00:00:00Z", arg);
    return 1;
}

static int parse_args(struct cli *o, int argc, char **argv)
{
    static const struct option opts[] = {
        {"data", required_argument, 0, 'd'},   {"from", required_argument, 0, 'f'},
        {"to", required_argument, 0, 't'},     {"dry-run", no_argument, 0, 'n'},
        {"config", required_argument, 0, 'c'}, {"set", required_argument, 0, 'S'},
        {"wait", required_argument, 0, 'w'},   {"help", no_argument, 0, 'h'},
        {0, 0, 0, 0}};
    char err[512] = "";
    int c, rc = 0;
    optind = 1;
    while (!rc && (c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        switch (c) {
        case 'd': o->data_dir = optarg; break;
        case 'f': rc = parse_time(optarg, &o->from_us, err, sizeof err), o->have_from = 1; break;
        case 't': rc = parse_time(optarg, &o->to_us, err, sizeof err), o->have_to = 1; break;
        case 'n': o->dry_run = 1; break;
        case 'c': rc = fl_config_load_file(&o->cfg, optarg, err, sizeof err); break;
        case 'S': rc = fl_config_set(&o->cfg, optarg, err, sizeof err); break;
        case 'w': {
            char *end;
            o->wait_s = strtoll(optarg, &end, 10);
            if (*end || o->wait_s < 0)
                snprintf(err, sizeof err, "--wait '%s': expected seconds", optarg), rc = 1;
            break;
        }
        case 'h': usage(stdout); return 0;
        default: usage(stderr); return 2;
        }
    }
    if (!rc && optind < argc)
        snprintf(err, sizeof err, "unexpected argument '%s'", argv[optind]), rc = 1;
    if (!rc && (!o->have_from || !o->have_to))
        snprintf(err, sizeof err, "--from and --to are required"), rc = 1;
    if (!rc && o->from_us >= o->to_us)
        snprintf(err, sizeof err, "--from must be before --to"), rc = 1;
    if (rc) {
        fprintf(stderr, "fleetlake summarize: %s\n", err);
        return 2;
    }
    return -1;
}

static int run(struct cli *o, fl_summarizer *s, const char *lock_path)
{
    int fd = -1;
    if (fl_cli_job_lock("summarize", "another summary pass", lock_path, o->wait_s, &fd))
        return 1;
    fl_summary_stats st = {0};
    int64_t t0 = fl_time_mono_us();
    int rc = fl_summarizer_range(s, o->from_us, o->to_us, o->dry_run, &st);
    fl_compact_unlock(fd);
    printf("%s%" PRIu64 " hour%s summarised, %" PRIu64 " recomputed, %" PRIu64
           " already current, %" PRIu64 " failed; %" PRIu64 " rows -> %" PRIu64
           " device-hours in %.2f s\n",
           o->dry_run ? "dry run (nothing changed): " : "", st.hours, st.hours == 1 ? "" : "s",
           st.recomputed, st.unchanged, st.failures, st.rows_in, st.rows_out,
           (double)(fl_time_mono_us() - t0) / 1e6);
    if (rc)
        fprintf(stderr, "fleetlake summarize: %s\n", fl_strerror(rc));
    return rc || st.failures ? 1 : 0;
}

int fl_cli_summarize(int argc, char **argv)
{
    struct cli o = {.data_dir = "./fleetlake-data", .wait_s = LOCK_WAIT_DEFAULT_S};
    fl_config_defaults(&o.cfg);
    int code = parse_args(&o, argc, argv);
    if (code >= 0)
        return code;
    fl_cli_lake_paths paths;
    if ((code = fl_cli_lake_paths_get("summarize", "summarise", o.data_dir, "summary.lock", &paths)) >= 0)
        return code;
    const char *lake = paths.lake, *meta = paths.meta, *lock = paths.lock;
    fl_log_setup((enum fl_log_level)fl_log_level_parse(o.cfg.log_level),
                 strcmp(o.cfg.log_format, "json") == 0, stderr);
    signal(SIGINT, on_signal);
    signal(SIGTERM, on_signal);
    fl_objstore *store = NULL;
    fl_summarizer *s = NULL;
    fl_summary_options opts = {.meta_path = meta, .stop = &stop_requested};
    fl_summary_options_from_config(&o.cfg, &opts);
    int rc = fl_objstore_local_create(lake, &store);
    opts.store = store;
    if (!rc)
        rc = fl_summarizer_create(&opts, &s);
    if (rc) {
        fprintf(stderr, "fleetlake summarize: cannot open %s: %s\n", o.data_dir, fl_strerror(rc));
        code = 1;
    } else {
        code = run(&o, s, lock);
    }
    fl_summarizer_destroy(s);
    fl_objstore_destroy(store);
    return code;
}
