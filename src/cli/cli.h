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
int fl_cli_erase(int argc, char **argv);
int fl_cli_lifecycle(int argc, char **argv);
int fl_cli_audit(int argc, char **argv);
int fl_cli_keys(int argc, char **argv);

/* The paths a lake job command (compact, summarize) works on, under its data directory. */
typedef struct fl_cli_lake_paths {
    char lake[4200]; /* <data>/lake */
    char meta[4200]; /* <data>/meta.db */
    char lock[4200]; /* <data>/<lock_name> */
} fl_cli_lake_paths;

/* Fill *out for data_dir and check it is a data directory with a catalog. Returns -1 to go
 * on; 0 when there is no catalog yet (prints "nothing to <what>: ..."); 2 when data_dir is not
 * a data directory (prints "fleetlake <cmd>: ..."). */
int fl_cli_lake_paths_get(const char *cmd, const char *what, const char *data_dir,
                          const char *lock_name, fl_cli_lake_paths *out);

/* Take a job lock (fl_compact_lock) for command cmd: try at once, and if another job holds it
 * say so ("<holder> is running") and wait up to wait_s seconds. On failure prints why and
 * returns a negative code; on success *fd is the lock (fl_compact_unlock). */
FL_MUST_USE int fl_cli_job_lock(const char *cmd, const char *holder, const char *lock_path,
                                int64_t wait_s, int *fd);

/* Record an administrative action of this CLI run in data_dir's audit trail (src/audit):
 * action (e.g. "erase"), resource (what it worked on), rc the action's outcome (0: ok, else
 * error with its message as detail). cfg supplies audit.*; the entry is fsynced. Prints a
 * warning naming the problem when the entry cannot be written and returns that code. */
int fl_cli_audit_admin(const fl_config *cfg, const char *data_dir, const char *cmd,
                       const char *action, const char *resource, int rc);

/* Shared by commands: build a path under a data directory into buf. Returns 0 or
 * -ENAMETOOLONG. */
FL_MUST_USE int fl_cli_path(char *buf, size_t n, const char *data_dir, const char *rel);

#endif
