/* cli.h — the `fleetlake` subcommands. main.c dispatches argv to these; each takes argv
 * starting at its own name, prints its own --help, and returns the process exit code
 * (0 success, 1 runtime failure, 2 usage error). */
#ifndef FL_CLI_CLI_H
#define FL_CLI_CLI_H

#include "core/core.h"

int fl_cli_serve(int argc, char **argv);
int fl_cli_stream(int argc, char **argv);
int fl_cli_check(int argc, char **argv);
int fl_cli_compact(int argc, char **argv);
int fl_cli_query(int argc, char **argv);
int fl_cli_catalog(int argc, char **argv);
int fl_cli_summarize(int argc, char **argv);

/* Shared by commands: build a path under a data directory into buf. Returns 0 or
 * -ENAMETOOLONG. */
FL_MUST_USE int fl_cli_path(char *buf, size_t n, const char *data_dir, const char *rel);

#endif
