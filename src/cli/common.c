/* common.c — helpers shared by the CLI commands. */
#include <errno.h>
#include <stdio.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli/cli.h"
#include "lake/lake.h"

int fl_cli_path(char *buf, size_t n, const char *data_dir, const char *rel)
{
    int w = snprintf(buf, n, "%s/%s", data_dir, rel);
    return w < 0 || (size_t)w >= n ? -ENAMETOOLONG : 0;
}

int fl_cli_lake_paths_get(const char *cmd, const char *what, const char *data_dir,
                          const char *lock_name, fl_cli_lake_paths *out)
{
    struct stat st;
    if (fl_cli_path(out->lake, sizeof out->lake, data_dir, "lake") ||
        fl_cli_path(out->meta, sizeof out->meta, data_dir, "meta.db") ||
        fl_cli_path(out->lock, sizeof out->lock, data_dir, lock_name) || stat(data_dir, &st) ||
        !S_ISDIR(st.st_mode)) {
        fprintf(stderr, "fleetlake %s: %s is not a data directory\n", cmd, data_dir);
        return 2;
    }
    if (access(out->meta, F_OK) != 0) {
        printf("nothing to %s: %s has no catalog yet\n", what, data_dir);
        return 0;
    }
    return -1;
}

int fl_cli_job_lock(const char *cmd, const char *holder, const char *lock_path, int64_t wait_s,
                    int *fd)
{
    int rc = fl_compact_lock(lock_path, 0, fd);
    if (rc == FL_EAGAIN && wait_s > 0) {
        fprintf(stderr, "fleetlake %s: %s is running (%s held); waiting up to %lld s\n", cmd,
                holder, lock_path, (long long)wait_s);
        rc = fl_compact_lock(lock_path, wait_s * FL_US_PER_SEC, fd);
    }
    if (rc)
        fprintf(stderr, "fleetlake %s: %s still holds %s: %s; try again later\n", cmd, holder,
                lock_path, fl_strerror(rc));
    return rc;
}
