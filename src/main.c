/* main.c — CLI dispatch only: `fleetlake <command> [options]`. */
#include <stdio.h>
#include <string.h>

#include "cli/cli.h"
#include "sim/sim.h"

static const struct {
    const char *name;
    int (*run)(int argc, char **argv);
    const char *summary;
} commands[] = {
    {"serve", fl_cli_serve, "run the server (HTTP ingest, durable stream)"},
    {"stream", fl_cli_stream, "list shards or read records from the stream"},
    {"check", fl_cli_check, "verify the stream, meta.db and the lake against its catalog"},
    {"compact", fl_cli_compact, "merge closed hours' small lake files into large sorted ones"},
    {"summarize", fl_cli_summarize, "(re)compute hourly_summary for a range of hours (backfill)"},
    {"erase", fl_cli_erase, "erase one device from the lake and its state (right to erasure)"},
    {"lifecycle", fl_cli_lifecycle, "plan hot/warm/cold tier moves by partition age (--dry-run)"},
    {"catalog", fl_cli_catalog, "list tables, show one, or export DDL for Athena/Trino/Spark/DuckDB"},
    {"audit", fl_cli_audit, "verify the audit trail's hash chain and digests, or show entries"},
    {"query", fl_cli_query, "run a read-only SQL statement over the lake (locally or --url)"},
    {"keys", fl_cli_keys, "create, list and revoke API keys (roles, fleets, devices)"},
    {"sim", fl_sim_main, "fleet simulator and load generator"},
};

static void usage(FILE *out)
{
    fprintf(out, "usage: fleetlake <command> [options]\n\ncommands:\n");
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
        fprintf(out, "  %-9s %s\n", commands[i].name, commands[i].summary);
    fprintf(out, "  %-9s %s\n\n`fleetlake <command> --help` describes each.\n", "version",
            "print the version");
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        usage(stderr);
        return 2;
    }
    if (strcmp(argv[1], "version") == 0 || strcmp(argv[1], "--version") == 0) {
        printf("fleetlake %s\n", FL_VERSION);
        return 0;
    }
    if (strcmp(argv[1], "help") == 0 || strcmp(argv[1], "--help") == 0 ||
        strcmp(argv[1], "-h") == 0) {
        usage(stdout);
        return 0;
    }
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
        if (strcmp(argv[1], commands[i].name) == 0)
            return commands[i].run(argc - 1, argv + 1);
    fprintf(stderr, "fleetlake: unknown command '%s'\n\n", argv[1]);
    usage(stderr);
    return 2;
}
