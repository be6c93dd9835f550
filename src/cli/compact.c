/* compact.c — `fleetlake compact`: compact the lake's closed hours now (the same pass `serve`
 * runs every compaction.interval_s), or with --dry-run print what a pass would do. Safe while
 * `serve` runs: both take <data>/compact.lock, so two compactors never work at once (this
 * command waits up to --wait seconds for serve's pass to finish, then fails saying so).
 * Shows a progress bar on a TTY, one line per partition otherwise. */
#include <getopt.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli/cli.h"
#include "lake/lake.h"

/* Default wait for the lock: a pass of serve compacts one partition at a time, which takes
 * seconds to a minute or two for a 128 MiB output; two minutes covers it. */
#define LOCK_WAIT_DEFAULT_S 120

static _Atomic int stop_requested;

static void on_signal(int sig)
{
    (void)sig;
    atomic_store(&stop_requested, 1);
}

struct cli {
    const char *data_dir;
    const char *table;
    int dry_run, all, tty;
    int64_t wait_s;
    fl_config cfg;
};

static void usage(FILE *out)
{
    fprintf(out,
            "usage: fleetlake compact [--data DIR] [--table raw_sensor_data|rejected_records]\n"
            "                         [--dry-run] [--all] [--config FILE] [--set K=V] [--wait S]\n"
            "Merge the small files of closed hours into large files sorted by (device_id,\n"
            "timestamp), swap them into the catalog in one transaction, and delete files\n"
            "retired more than compaction.retire_grace_s ago. Safe while `serve` runs.\n\n"
            "  --data DIR     data directory (default ./fleetlake-data)\n"
            "  --table T      only this table (default: both)\n"
            "  --dry-run      print the plan (partitions, input files and bytes, expected\n"
            "                 outputs) and change nothing\n"
            "  --all          also hours not closed yet (compaction.close_after_s ignored)\n"
            "  --config FILE  read [compaction] and raw.codec from this configuration\n"
            "  --set K=V      override a configuration key (repeatable)\n"
            "  --wait S       wait this long for a running compaction (default %d)\n"
            "  -h, --help     this help\n",
            LOCK_WAIT_DEFAULT_S);
}

static int parse_args(struct cli *o, int argc, char **argv)
{
    static const struct option opts[] = {
        {"data", required_argument, 0, 'd'},   {"table", required_argument, 0, 't'},
        {"dry-run", no_argument, 0, 'n'},      {"all", no_argument, 0, 'a'},
        {"config", required_argument, 0, 'c'}, {"set", required_argument, 0, 'S'},
        {"wait", required_argument, 0, 'w'},   {"help", no_argument, 0, 'h'},
        {0, 0, 0, 0}};
    char err[512] = "";
    int c, rc = 0;
    optind = 1;
    while (!rc && (c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        switch (c) {
        case 'd': o->data_dir = optarg; break;
        case 't': o->table = optarg; break;
        case 'n': o->dry_run = 1; break;
        case 'a': o->all = 1; break;
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
    if (rc) {
        fprintf(stderr, "fleetlake compact: %s\n", err);
        return 2;
    }
    if (optind < argc) {
        fprintf(stderr, "fleetlake compact: unexpected argument '%s'\n", argv[optind]);
        return 2;
    }
    if (o->table && strcmp(o->table, FL_LAKE_RAW_TABLE) != 0 &&
        strcmp(o->table, FL_LAKE_REJECTED_TABLE) != 0) {
        fprintf(stderr, "fleetlake compact: unknown table '%s' (raw_sensor_data or "
                        "rejected_records)\n", o->table);
        return 2;
    }
    return -1;
}

static double mib(int64_t bytes)
{
    return (double)bytes / (1024.0 * 1024.0);
}

static void print_plan(const fl_compact_plan *p)
{
    for (size_t i = 0; i < p->count; i++) {
        const fl_compact_item *it = &p->items[i];
        printf("%-16s %s/year=%d/month=%d/day=%d/hour=%d: %zu files, %.2f MiB, %" PRId64
               " rows -> ~%zu file%s",
               it->table_name, it->prefix, it->partition.year, it->partition.month,
               it->partition.day, it->partition.hour, it->files, mib(it->bytes), it->rows,
               it->expected_outputs, it->expected_outputs == 1 ? "" : "s");
        if (it->files_kept)
            printf(" (%zu file%s at target size kept)", it->files_kept,
                   it->files_kept == 1 ? "" : "s");
        printf("\n");
    }
    printf("plan: %zu partition%s, %" PRId64 " files, %.2f MiB, %" PRId64 " rows\n", p->count,
           p->count == 1 ? "" : "s", p->files, mib(p->bytes), p->rows);
}

/* Progress: a redrawn bar on a TTY (stderr), a line per finished partition otherwise. */
static void on_progress(void *ctx, const fl_compact_progress *p)
{
    const struct cli *o = ctx;
    double secs = (double)p->elapsed_us / 1e6;
    double rate = secs > 0 ? mib(p->bytes_done) / secs : 0;
    if (o->tty) {
        int width = 30;
        int fill = p->bytes_total ? (int)((double)width * (double)p->bytes_done /
                                          (double)p->bytes_total)
                                  : width;
        fill = fill > width ? width : fill;
        fprintf(stderr, "\r[%.*s%*s] %" PRId64 "/%" PRId64 " files  %.1f/%.1f MiB  %.1f MiB/s  "
                        "partition %zu/%zu ",
                fill, "##############################", width - fill, "", p->files_done,
                p->files_total, mib(p->bytes_done), mib(p->bytes_total), rate,
                p->item_index + 1, p->item_count);
        fflush(stderr);
    } else if (p->partition_done && p->item) {
        printf("compacted %s %s/year=%d/month=%d/day=%d/hour=%d (%zu/%zu; %" PRId64 "/%" PRId64
               " files, %.1f MiB/s)\n",
               p->item->table_name, p->item->prefix, p->item->partition.year,
               p->item->partition.month, p->item->partition.day, p->item->partition.hour,
               p->item_index + 1, p->item_count, p->files_done, p->files_total, rate);
        fflush(stdout);
    }
}

static int run(struct cli *o, fl_compactor *comp, const char *lock_path)
{
    int fd = -1;
    if (fl_cli_job_lock("compact", "another compaction (serve's pass or fleetlake compact)",
                        lock_path, o->wait_s, &fd))
        return 1;
    fl_compact_stats st = {0};
    int64_t t0 = fl_time_mono_us();
    int rc = fl_compactor_recover(comp, &st);
    if (!rc)
        rc = fl_compactor_pass(comp, &st);
    fl_compact_unlock(fd);
    if (o->tty)
        fprintf(stderr, "\n");
    printf("compacted %" PRIu64 " partition%s: %" PRIu64 " files (%.2f MiB) -> %" PRIu64
           " (%.2f MiB), %" PRIu64 " rows in %.1f s; %" PRIu64 " failed; %" PRIu64
           " retired file%s deleted; %" PRIu64 " orphan%s removed\n",
           st.partitions, st.partitions == 1 ? "" : "s", st.files_in, mib((int64_t)st.bytes_in),
           st.files_out, mib((int64_t)st.bytes_out), st.rows,
           (double)(fl_time_mono_us() - t0) / 1e6, st.failures, st.retired_deleted,
           st.retired_deleted == 1 ? "" : "s", st.orphans_removed,
           st.orphans_removed == 1 ? "" : "s");
    if (rc == FL_ESTOPPED) {
        fprintf(stderr, "fleetlake compact: interrupted; the partition in progress was left as "
                        "it was (nothing committed)\n");
        return 1;
    }
    if (rc)
        fprintf(stderr, "fleetlake compact: %s\n", fl_strerror(rc));
    return rc || st.failures ? 1 : 0;
}

int fl_cli_compact(int argc, char **argv)
{
    struct cli o = {.data_dir = "./fleetlake-data", .wait_s = LOCK_WAIT_DEFAULT_S};
    fl_config_defaults(&o.cfg);
    int code = parse_args(&o, argc, argv);
    if (code >= 0)
        return code;
    fl_cli_lake_paths paths;
    if ((code = fl_cli_lake_paths_get("compact", "compact", o.data_dir, "compact.lock", &paths)) >= 0)
        return code;
    const char *lake = paths.lake, *meta = paths.meta, *lock = paths.lock;
    fl_log_setup((enum fl_log_level)fl_log_level_parse(o.cfg.log_level),
                 strcmp(o.cfg.log_format, "json") == 0, stderr);
    o.tty = isatty(STDERR_FILENO) && !o.dry_run;
    signal(SIGINT, on_signal);
    signal(SIGTERM, on_signal);
    fl_objstore *store = NULL;
    fl_compactor *comp = NULL;
    fl_compact_options opts = {.meta_path = meta,
                               .table_name = o.table,
                               .include_open_hours = o.all,
                               .stop = &stop_requested,
                               .progress = on_progress,
                               .progress_ctx = &o};
    fl_compact_options_from_config(&o.cfg, &opts);
    int rc = fl_objstore_local_create(lake, &store);
    opts.store = store;
    if (!rc)
        rc = fl_compactor_create(&opts, &comp);
    if (rc) {
        fprintf(stderr, "fleetlake compact: cannot open %s: %s\n", o.data_dir, fl_strerror(rc));
        code = 1;
    } else if (o.dry_run) {
        fl_compact_plan plan;
        if ((rc = fl_compactor_plan(comp, &plan)) == 0) {
            print_plan(&plan);
            printf("dry run: nothing changed\n");
            fl_compact_plan_free(&plan);
        } else {
            fprintf(stderr, "fleetlake compact: planning failed: %s\n", fl_strerror(rc));
        }
        code = rc ? 1 : 0;
    } else {
        code = run(&o, comp, lock);
    }
    fl_compactor_destroy(comp);
    fl_objstore_destroy(store);
    return code;
}
