/* lifecycle.c — `fleetlake lifecycle --dry-run [--now T]`: print which live lake files the
 * lifecycle policy ([lifecycle] hot_days, warm_days, retention_days) would move to a later
 * tier (warm, cold) or delete (expired) at time T (default: now), by the age of their
 * partition. Reads the catalog only; applying the moves is not implemented yet
 * (docs/lifecycle.md "Status"), so --dry-run is required. */
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "cli/cli.h"
#include "lake/lake.h"

struct cli {
    const char *data_dir;
    int64_t now_us;
    int dry_run;
    fl_config cfg;
};

static void usage(FILE *out)
{
    fprintf(out,
            "usage: fleetlake lifecycle --dry-run [--data DIR] [--now T] [--config FILE]\n"
            "                           [--set K=V]\n"
            "Print which live lake files the lifecycle policy would move by partition age:\n"
            "hot (<= lifecycle.hot_days) -> warm (<= warm_days) -> cold (<= retention_days)\n"
            "-> expired (deleted). Reads the catalog only.\n\n"
            "  --dry-run         print the plan, change nothing (required: applying the moves\n"
            "                    is not implemented yet, see docs/lifecycle.md)\n"
            "  --data DIR        data directory (default ./fleetlake-data)\n"
            "  --now T           plan as of this RFC 3339 time (default: the current time)\n"
            "  --config FILE     read [lifecycle] from this configuration\n"
            "  --set K=V         override a configuration key (repeatable)\n"
            "  -h, --help        this help\n");
}

static int parse_args(struct cli *o, int argc, char **argv)
{
    static const struct option opts[] = {
        {"data", required_argument, 0, 'd'},   {"now", required_argument, 0, 'N'},
        {"dry-run", no_argument, 0, 'n'},      {"config", required_argument, 0, 'c'},
        {"set", required_argument, 0, 'S'},    {"help", no_argument, 0, 'h'},
        {0, 0, 0, 0}};
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
        case 'h': usage(stdout); return 0;
        default: usage(stderr); return 2;
        }
    }
    if (!rc && optind < argc)
        snprintf(err, sizeof err, "unexpected argument '%s'", argv[optind]), rc = 1;
    if (!rc && !o->dry_run)
        snprintf(err, sizeof err, "applying lifecycle moves is not implemented yet; "
                                  "use --dry-run to print the plan"), rc = 1;
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

int fl_cli_lifecycle(int argc, char **argv)
{
    struct cli o = {.data_dir = "./fleetlake-data", .now_us = fl_time_now_us()};
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
    fl_catalog *cat = NULL;
    struct totals t = {0};
    int rc = fl_catalog_open(paths.meta, &cat);
    if (!rc)
        rc = fl_lifecycle_plan(cat, &policy, o.now_us, print_move, &t);
    fl_catalog_close(cat);
    if (rc) {
        fprintf(stderr, "fleetlake lifecycle: %s: %s\n", paths.meta, fl_strerror(rc));
        return 1;
    }
    printf("dry run (nothing changed):");
    for (int k = FL_TIER_WARM; k <= FL_TIER_EXPIRED; k++)
        printf("%s %" PRId64 " file%s (%" PRId64 " rows, %" PRId64 " bytes) to %s",
               k == FL_TIER_WARM ? "" : ",", t.files[k], t.files[k] == 1 ? "" : "s", t.rows[k],
               t.bytes[k], fl_lifecycle_tier_name((enum fl_lifecycle_tier)k));
    printf("\n");
    return 0;
}
