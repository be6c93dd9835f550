/* common.c — helpers shared by the CLI commands. */
#include <errno.h>
#include <stdio.h>

#include "cli/cli.h"

int fl_cli_path(char *buf, size_t n, const char *data_dir, const char *rel)
{
    int w = snprintf(buf, n, "%s/%s", data_dir, rel);
    return w < 0 || (size_t)w >= n ? -ENAMETOOLONG : 0;
}
