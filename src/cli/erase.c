/* erase.c — `fleetlake erase --device ID [--dry-run]`: the right to erasure (docs/lake.md
 * "Erasure"). Removes every row of one device from every lake table and its device_state row
 * (src/jobs/erase.c), printing one line per file changed. Refuses while serve runs (it holds
 * <data>/LOCK, and its processor keeps the device's state in memory and would write it back),
 * and takes compact.lock and summary.lock so no compactor or summariser swaps files under it. */
#include <dirent.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <sys/file.h>
#include <unistd.h>

#include "cli/cli.h"
#include "jobs/jobs.h"

struct cli {
    const char *data_dir, *device;
    int dry_run;
    fl_config cfg;
};

static void usage(FILE *out)
{
    fprintf(out,
            "usage: fleetlake erase --device ID [--data DIR] [--dry-run] [--config FILE]\n"
            "                       [--set K=V]\n"
            "Erase one device (right to erasure): rewrite every live lake file of every table\n"
            "that holds it without its rows (raw_sensor_data, processed_sensor_data,\n"
            "hourly_summary by device_id; rejected_records whose raw text holds the id as a\n"
            "JSON string), swap them in one catalog transaction, delete the originals at once\n"
            "and delete its device_state row. Run it with serve stopped.\n\n"
            "  --device ID    the device to erase\n"
            "  --data DIR     data directory (default ./fleetlake-data)\n"
            "  --dry-run      list the files and rows that would change; change nothing\n"
            "  --config FILE  read raw.codec from this configuration\n"
            "  --set K=V      override a configuration key (repeatable)\n"
            "  -h, --help     this help\n");
}

static int parse_args(struct cli *o, int argc, char **argv)
{
    static const struct option opts[] = {
        {"data", required_argument, 0, 'd'},   {"device", required_argument, 0, 'D'},
        {"dry-run", no_argument, 0, 'n'},      {"config", required_argument, 0, 'c'},
        {"set", required_argument, 0, 'S'},    {"help", no_argument, 0, 'h'},
        {0, 0, 0, 0}};
    char err[512] = "";
    int c, rc = 0;
    optind = 1;
    while (!rc && (c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        switch (c) {
        case 'd': o->data_dir = optarg; break;
        case 'D': o->device = optarg; break;
        case 'n': o->dry_run = 1; break;
        case 'c': rc = fl_config_load_file(&o->cfg, optarg, err, sizeof err); break;
        case 'S': rc = fl_config_set(&o->cfg, optarg, err, sizeof err); break;
        case 'h': usage(stdout); return 0;
        default: usage(stderr); return 2;
        }
    }
    if (rc) {
        fprintf(stderr, "fleetlake erase: %s\n", err);
        return 2;
    }
    if (optind < argc) {
        fprintf(stderr, "fleetlake erase: unexpected argument '%s'\n", argv[optind]);
        return 2;
    }
    if (!o->device || !*o->device) {
        fprintf(stderr, "fleetlake erase: --device ID is required\n");
        usage(stderr);
        return 2;
    }
    return -1;
}

/* Count the files in <data>/<log>/quarantine (segments stream recovery set aside). */
static long quarantined_segments(const char *data_dir, const char *log)
{
    char path[4200];
    if (snprintf(path, sizeof path, "%s/%s/quarantine", data_dir, log) >= (int)sizeof path)
        return 0;
    DIR *d = opendir(path);
    long n = 0;
    struct dirent *e;
    while (d && (e = readdir(d)))
        n += e->d_name[0] != '.';
    if (d)
        closedir(d);
    return n;
}

/* What erase cannot rewrite, and when it goes (docs/lake.md "Erasure"). */
static void print_not_erased(const struct cli *o)
{
    printf("not erased (append-only logs): the device's records stay in the stream until "
           "their segment is sealed (stream.segment_age_s = %lld s) and older than "
           "stream.retention_age_s (%lld s), and its rejected records in the dead-letter log "
           "likewise (dead_letter.retention_age_s = %lld s)\n",
           (long long)o->cfg.segment_age_s, (long long)o->cfg.retention_age_s,
           (long long)o->cfg.dead_letter_retention_age_s);
    long qs = quarantined_segments(o->data_dir, "stream"),
         qd = quarantined_segments(o->data_dir, "dead-letters");
    if (qs || qd)
        printf("not erased: %ld quarantined stream segment(s) and %ld dead-letter segment(s) "
               "under <data>/*/quarantine/ are never deleted automatically; inspect and remove "
               "them by hand\n", qs, qd);
}

/* 1 if serve holds <data>/LOCK (the same test as `fleetlake check`). */
static int server_running(const char *data_dir)
{
    char path[4200];
    if (fl_cli_path(path, sizeof path, data_dir, "LOCK"))
        return 0;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return 0;
    int running = flock(fd, LOCK_SH | LOCK_NB) != 0;
    close(fd);
    return running;
}

static void on_file(void *ctx, const fl_erase_file *f)
{
    const struct cli *o = ctx;
    if (f->retired)
        printf("%s retired %s: %" PRId64 " of %" PRId64 " rows are the device's\n",
               o->dry_run ? "would delete" : "deleted", f->path, f->rows_removed, f->rows);
    else if (f->new_path)
        printf("%s %s: %" PRId64 " of %" PRId64 " rows -> %s\n",
               o->dry_run ? "would rewrite" : "rewrote", f->path, f->rows_removed, f->rows,
               o->dry_run ? "(new file)" : f->new_path);
    else
        printf("%s %s: all %" PRId64 " rows are the device's\n",
               o->dry_run ? "would remove" : "removed", f->path, f->rows);
    fflush(stdout);
}

static int run(struct cli *o, const fl_cli_lake_paths *paths, const char *summary_lock)
{
    int cfd = -1, sfd = -1;
    int rc = fl_compact_lock(paths->lock, 0, &cfd);
    if (!rc && (rc = fl_compact_lock(summary_lock, 0, &sfd)) != 0)
        fl_compact_unlock(cfd);
    if (rc) {
        fprintf(stderr, "fleetlake erase: a compaction or summary run holds its lock (%s): "
                        "%s; try again when it is done\n", fl_strerror(rc), o->data_dir);
        return 1;
    }
    fl_objstore *store = NULL;
    fl_erase_stats st;
    char quarantine[4200];
    if (fl_cli_path(quarantine, sizeof quarantine, o->data_dir, "lake-quarantine"))
        return 2;
    fl_erase_options eo = {.meta_path = paths->meta,
                           .quarantine_dir = quarantine,
                           .device_id = {o->device, strlen(o->device)},
                           .raw_codec = o->cfg.raw_codec,
                           .dry_run = o->dry_run,
                           .on_file = on_file,
                           .on_file_ctx = o};
    rc = fl_objstore_local_create(paths->lake, &store);
    eo.store = store;
    if (!rc)
        rc = fl_erase_device(&eo, &st);
    fl_objstore_destroy(store);
    if (!o->dry_run) /* the audit trail records every erasure, failed or not */
        (void)fl_cli_audit_admin(&o->cfg, o->data_dir, "erase", "erase", o->device, rc);
    fl_compact_unlock(sfd);
    fl_compact_unlock(cfd);
    if (rc) {
        fprintf(stderr, "fleetlake erase: %s (see the log above: a failure before the catalog "
                        "commit erased nothing; after it, run erase again to finish)\n",
                fl_strerror(rc));
        return 1;
    }
    printf("%s device %s: %" PRIu64 " files scanned, %" PRIu64 " rewritten, %" PRIu64
           " removed, %" PRIu64 " rows, %" PRIu64 " device_state row%s, %" PRIu64
           " replaced or expired file%s awaiting deletion deleted now\n",
           o->dry_run ? "dry run: would erase" : "erased", o->device, st.files_scanned,
           st.files_rewritten, st.files_removed, st.rows_removed, st.state_rows,
           st.state_rows == 1 ? "" : "s", st.scheduled_deleted,
           st.scheduled_deleted == 1 ? "" : "s");
    if (st.quarantined_deleted)
        printf("%s %" PRIu64 " file%s in lake-quarantine/ holding the device\n",
               o->dry_run ? "would delete" : "deleted", st.quarantined_deleted,
               st.quarantined_deleted == 1 ? "" : "s");
    print_not_erased(o);
    if (o->dry_run)
        printf("dry run: nothing changed\n");
    return 0;
}

int fl_cli_erase(int argc, char **argv)
{
    struct cli o = {.data_dir = "./fleetlake-data"};
    fl_config_defaults(&o.cfg);
    int code = parse_args(&o, argc, argv);
    if (code >= 0)
        return code;
    fl_cli_lake_paths paths;
    char summary_lock[4200];
    if ((code = fl_cli_lake_paths_get("erase", "erase", o.data_dir, "compact.lock", &paths)) >= 0)
        return code;
    if (fl_cli_path(summary_lock, sizeof summary_lock, o.data_dir, "summary.lock"))
        return 2;
    if (server_running(o.data_dir)) {
        fprintf(stderr, "fleetlake erase: serve is running on %s (it holds %s/LOCK); stop it "
                        "first: its processor keeps device state in memory and would write the "
                        "erased device back\n", o.data_dir, o.data_dir);
        return 1;
    }
    fl_log_setup((enum fl_log_level)fl_log_level_parse(o.cfg.log_level),
                 strcmp(o.cfg.log_format, "json") == 0, stderr);
    return run(&o, &paths, summary_lock);
}
