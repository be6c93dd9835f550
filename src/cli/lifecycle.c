/* lifecycle.c — `fleetlake lifecycle [--dry-run] [--now T]`: move the live lake files whose
 * partition age asks for it ([lifecycle] hot_days, warm_days, retention_days) to the warm
 * directory, rewrite them into archived-data/ with ZSTD (cold), or delete them (expired), as
 * of time T (default: now) — the pass serve's lifecycle thread runs daily, under the same
 * <data>/compact.lock (src/lake/lifecycle_apply.c). --dry-run prints the plan and reads the
 * catalog only. */
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "lake/lake.h"

/* Default wait for the lock: serve's compaction pass compacts one partition at a time (a
 * minute or two for a busy hour), a lifecycle pass moves files one at a time. */
#define LOCK_WAIT_DEFAULT_S 120

struct cli {
    const char *data_dir;
    int64_t now_us;
    int dry_run;
    int64_t wait_s;
    fl_config cfg;
};

static void usage(FILE *out)
{
    fprintf(out,
            "usage: fleetlake lifecycle [--dry-run] [--data DIR] [--now T] [--config FILE]\n"
            "                           [--set K=V] [--wait S]\n"
            "Move live lake files by partition age: hot (<= lifecycle.hot_days) -> warm\n"
            "(<= warm_days, copied to lifecycle.warm_dir) -> cold (<= retention_days,\n"
            "rewritten with ZSTD to archived-data/) -> expired (catalog row removed, file\n"
            "deleted). Each move is one catalog transaction; safe while `serve` runs (both\n"
            "take <data>/compact.lock).\n\n"
            "  --dry-run         print the plan, change nothing (reads the catalog only)\n"
            "  --data DIR        data directory (default ./fleetlake-data)\n"
            "  --now T           plan as of this RFC 3339 time (default: the current time)\n"
            "  --config FILE     read [lifecycle] from this configuration\n"
            "  --set K=V         override a configuration key (repeatable)\n"
            "  --wait S          wait this long for a running compaction or lifecycle pass\n"
            "                    (default %d)\n"
            "  -h, --help        this help\n",
            LOCK_WAIT_DEFAULT_S);
}

static int parse_args(struct cli *o, int argc, char **argv)
{
    static const struct option opts[] = {
        {"data", required_argument, 0, 'd'},   {"now", required_argument, 0, 'N'},
        {"dry-run", no_argument, 0, 'n'},      {"config", required_argument, 0, 'c'},
        {"set", required_argument, 0, 'S'},    {"wait", required_argument, 0, 'w'},
        {"help", no_argument, 0, 'h'},         {0, 0, 0, 0}};
    char err[512] = "";
    int c, rc = 0;
    optind = 1;
    while (!rc && (c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        switch (c) {
        case 'd': o->data_dir = optarg; break;
        case 'N':
            if (fl_time_parse_rfc3339(optarg, strlen(optarg), &o->now_us))
                snprintf(err, sizeof err, "--now '%s': expected an RFC 3339 time such as "
                                          "2029-01-01T00:00:00Z", optarg), rc = 1;
            break;
        case 'n': o->dry_run = 1; break;
        case 'c': rc = fl_config_load_file(&o->cfg, optarg, err, sizeof err); break;
        case 'S': rc = fl_config_set(&o->cfg, optarg, err, sizeof err); break;
        case 'w': {
            char *end;
            o->wait_s = strtoll(optarg, &end, 10);
            if (!*optarg || *end || o->wait_s < 0)
                snprintf(err, sizeof err, "--wait '%s': expected seconds", optarg), rc = 1;
            break;
        }
        case 'h': usage(stdout); return 0;
        default: usage(stderr); return 2;
        }
    }
    if (!rc && optind < argc)
        snprintf(err, sizeof err, "unexpected argument '%s'", argv[optind]), rc = 1;
    if (rc) {
        fprintf(stderr, "fleetlake lifecycle: %s\n", err);
        return 2;
    }
    return -1;
}

struct totals {
    int64_t files[FL_TIER_EXPIRED + 1], rows[FL_TIER_EXPIRED + 1], bytes[FL_TIER_EXPIRED + 1];
};

static int print_move(void *arg, const fl_lifecycle_move *m)
{
    struct totals *t = arg;
    printf("%-4s -> %-7s %s (%s, age %" PRId64 " days, %" PRId64 " rows, %" PRId64 " bytes)\n",
           fl_lifecycle_tier_name(m->from), fl_lifecycle_tier_name(m->to), m->file->path,
           m->file->table_name, m->age_days, m->file->rows, m->file->bytes);
    t->files[m->to]++;
    t->rows[m->to] += m->file->rows;
    t->bytes[m->to] += m->file->bytes;
    return 0;
}

static void print_totals(const char *head, const int64_t *files, const int64_t *rows,
                         const int64_t *bytes)
{
    printf("%s", head);
    for (int k = FL_TIER_WARM; k <= FL_TIER_EXPIRED; k++)
        printf("%s %" PRId64 " file%s (%" PRId64 " rows, %" PRId64 " bytes) to %s",
               k == FL_TIER_WARM ? "" : ",", files[k], files[k] == 1 ? "" : "s", rows[k],
               bytes[k], fl_lifecycle_tier_name((enum fl_lifecycle_tier)k));
}

static int dry_run(const struct cli *o, const fl_cli_lake_paths *paths,
                   const fl_lifecycle_policy *policy)
{
    fl_catalog *cat = NULL;
    struct totals t = {0};
    int rc = fl_catalog_open(paths->meta, &cat);
    if (!rc)
        rc = fl_lifecycle_plan(cat, policy, o->now_us, print_move, &t);
    fl_catalog_close(cat);
    if (rc) {
        fprintf(stderr, "fleetlake lifecycle: %s: %s\n", paths->meta, fl_strerror(rc));
        return 1;
    }
    print_totals("dry run (nothing changed):", t.files, t.rows, t.bytes);
    printf("\n");
    return 0;
}

/* One line per move applied (or failed), as the dry run prints its plan. */
static void print_done(void *ctx, const fl_lifecycle_done *d)
{
    (void)ctx;
    if (d->rc) {
        printf("FAILED %-4s -> %-7s %s (%s): %s\n", fl_lifecycle_tier_name(d->from),
               fl_lifecycle_tier_name(d->to), d->file->path, d->file->table_name,
               fl_strerror(d->rc));
        return;
    }
    printf("%-4s -> %-7s %s (%s, age %" PRId64 " days, %" PRId64 " rows, %" PRId64 " bytes)",
           fl_lifecycle_tier_name(d->from), fl_lifecycle_tier_name(d->to), d->file->path,
           d->file->table_name, d->age_days, d->file->rows, d->file->bytes);
    if (d->to == FL_TIER_WARM)
        printf(": now %s/%s", d->new_location, d->new_path);
    else if (d->to == FL_TIER_COLD)
        printf(": now %s (ZSTD, %" PRId64 " bytes)", d->new_path, d->new_bytes);
    else
        printf(": deleted");
    printf("\n");
    fflush(stdout);
}

static int apply(const struct cli *o, const fl_cli_lake_paths *paths)
{
    char warm[4200];
    fl_lifecycle_options lo = {.meta_path = paths->meta, .now_us = o->now_us,
                               .on_done = print_done};
    int rc = fl_lifecycle_options_from_config(&o->cfg, o->data_dir, warm, sizeof warm, &lo);
    if (rc) {
        fprintf(stderr, "fleetlake lifecycle: lifecycle.warm_dir: %s\n", fl_strerror(rc));
        return 2;
    }
    int fd = -1;
    if (fl_cli_job_lock("lifecycle", "a compaction or lifecycle pass (serve's or a command's)",
                        paths->lock, o->wait_s, &fd))
        return 1;
    fl_objstore *store = NULL;
    fl_lifecycle_stats st;
    memset(&st, 0, sizeof st);
    rc = fl_objstore_local_create(paths->lake, &store);
    if (!rc) {
        lo.store = store;
        rc = fl_lifecycle_apply(&lo, &st);
    }
    fl_objstore_destroy(store);
    fl_compact_unlock(fd);
    int64_t files[FL_TIER_EXPIRED + 1], rows[FL_TIER_EXPIRED + 1], bytes[FL_TIER_EXPIRED + 1];
    for (int k = 0; k <= FL_TIER_EXPIRED; k++)
        files[k] = (int64_t)st.files[k], rows[k] = (int64_t)st.rows[k],
        bytes[k] = (int64_t)st.bytes[k];
    print_totals("moved:", files, rows, bytes);
    printf("; %" PRIu64 " failed; %" PRIu64 " replaced or expired object(s) deleted, %" PRIu64
           " crash leftover(s) removed\n",
           st.failures, st.deleted, st.orphans);
    if (rc) {
        fprintf(stderr, "fleetlake lifecycle: %s\n", fl_strerror(rc));
        return 1;
    }
    return st.failures ? 1 : 0;
}

int fl_cli_lifecycle(int argc, char **argv)
{
    struct cli o = {.data_dir = "./fleetlake-data", .now_us = fl_time_now_us(),
                    .wait_s = LOCK_WAIT_DEFAULT_S};
    fl_config_defaults(&o.cfg);
    int code = parse_args(&o, argc, argv);
    if (code >= 0)
        return code;
    fl_cli_lake_paths paths;
    if ((code = fl_cli_lake_paths_get("lifecycle", "plan", o.data_dir, "compact.lock",
                                      &paths)) >= 0)
        return code;
    fl_lifecycle_policy policy;
    fl_lifecycle_policy_from_config(&o.cfg, &policy);
    if (fl_lifecycle_policy_check(&policy)) {
        fprintf(stderr, "fleetlake lifecycle: need lifecycle.hot_days < warm_days < "
                        "retention_days (have %" PRId64 ", %" PRId64 ", %" PRId64 ")\n",
                policy.hot_days, policy.warm_days, policy.retention_days);
        return 2;
    }
    return o.dry_run ? dry_run(&o, &paths, &policy) : apply(&o, &paths);
}
