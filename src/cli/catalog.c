/* catalog.c — `fleetlake catalog list | show NAME | ddl NAME --dialect D`: the catalog's
 * tables, their columns, partitions and files, and the DDL that registers a lake table in
 * Athena, Trino, Spark or DuckDB. Reads meta.db through its own connection, so it is safe
 * while `serve` runs (SQLite WAL). The same registry and JSON as GET /v1/tables. */
#include <getopt.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "catalog/catalog.h"
#include "cli/cli.h"

struct cli {
    const char *data_dir;
    const char *dialect;
    const char *location;
    const char *schema;
    int live_files;
    int json;
};

static void usage(FILE *out)
{
    fprintf(out,
            "usage: fleetlake catalog list [--data DIR] [--format table|json]\n"
            "       fleetlake catalog show NAME [--data DIR] [--format table|json]\n"
            "       fleetlake catalog ddl NAME --dialect athena|trino|spark|duckdb\n"
            "                             [--location URI] [--schema S] [--live-files] "
            "[--data DIR]\n"
            "The catalog's tables (lake tables and meta.db's live tables), their columns,\n"
            "partitions and files, and the DDL that registers a lake table in another engine.\n"
            "Safe while `serve` runs.\n\n"
            "  --data DIR       data directory (default ./fleetlake-data)\n"
            "  --format F       table (default) or json (the same JSON as GET /v1/tables)\n"
            "  --dialect D      athena, trino, spark or duckdb\n"
            "  --location URI   the lake's root, e.g. s3://bucket/prefix (default: the local\n"
            "                   lake, file://<abs DIR>/lake; a plain path for DuckDB)\n"
            "  --schema S       Trino schema in the hive catalog (default fleetlake)\n"
            "  --live-files     DuckDB: list the catalog's live files instead of a glob, so\n"
            "                   files retired by compaction (kept for compaction.retire_grace_s)\n"
            "                   are not read twice\n"
            "  -h, --help       this help\n");
}

static int parse_args(struct cli *o, int argc, char **argv)
{
    static const struct option opts[] = {
        {"data", required_argument, 0, 'd'},     {"format", required_argument, 0, 'f'},
        {"dialect", required_argument, 0, 'D'},  {"location", required_argument, 0, 'l'},
        {"schema", required_argument, 0, 's'},   {"live-files", no_argument, 0, 'L'},
        {"help", no_argument, 0, 'h'},           {0, 0, 0, 0}};
    int c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        switch (c) {
        case 'd': o->data_dir = optarg; break;
        case 'f':
            if (strcmp(optarg, "json") && strcmp(optarg, "table")) {
                fprintf(stderr, "fleetlake catalog: --format must be table or json\n");
                return 2;
            }
            o->json = strcmp(optarg, "json") == 0;
            break;
        case 'D': o->dialect = optarg; break;
        case 'l': o->location = optarg; break;
        case 's': o->schema = optarg; break;
        case 'L': o->live_files = 1; break;
        case 'h': usage(stdout); return -1;
        default: usage(stderr); return 2;
        }
    }
    return 0;
}

static int print_json(fl_buf *b, int rc)
{
    if (rc) {
        fprintf(stderr, "fleetlake catalog: %s\n", fl_strerror(rc));
        return 1;
    }
    fwrite(b->data, 1, b->len, stdout);
    return 0;
}

static void human_time(int64_t us, char *t)
{
    if (us < 0)
        snprintf(t, FL_TIME_RFC3339_MAX, "-");
    else
        fl_time_format_rfc3339(us, t);
}

static int cmd_list(fl_catalog *c, const struct cli *o)
{
    fl_buf b = {0};
    if (o->json) {
        int rc = print_json(&b, fl_catalog_tables_json(c, &b));
        fl_buf_free(&b);
        return rc;
    }
    fl_catalog_table *t = NULL;
    size_t n = 0;
    int rc = fl_catalog_tables_list(c, &t, &n);
    printf("%-24s %-5s %-30s %10s %14s %16s\n", "TABLE", "KIND", "LOCATION", "FILES", "ROWS",
           "BYTES");
    for (size_t i = 0; !rc && i < n; i++) {
        fl_catalog_table_stats s;
        if ((rc = fl_catalog_table_stats_get(c, &t[i], &s)))
            break;
        printf("%-24s %-5s %-30s %10lld %14lld %16lld\n", t[i].name,
               fl_catalog_kind_name(t[i].kind),
               t[i].kind == FL_CATALOG_KIND_LAKE ? t[i].prefix : "(meta.db)",
               (long long)s.files, (long long)s.rows, (long long)s.bytes);
    }
    fl_free(t);
    if (rc)
        fprintf(stderr, "fleetlake catalog list: %s\n", fl_strerror(rc));
    return rc ? 1 : 0;
}

static int print_group(void *arg, const fl_catalog_group *g)
{
    (void)arg;
    char a[FL_TIME_RFC3339_MAX], z[FL_TIME_RFC3339_MAX];
    human_time(g->min_ts, a);
    human_time(g->max_ts, z);
    if (g->tier[0])
        printf("  tier %-8s", g->tier);
    else if (g->hour >= 0)
        printf("  year=%d/month=%d/day=%d/hour=%d", g->year, g->month, g->day, g->hour);
    else
        printf("  year=%d/month=%d/day=%d", g->year, g->month, g->day);
    printf("  files %lld  rows %lld  bytes %lld  %s .. %s\n", (long long)g->files,
           (long long)g->rows, (long long)g->bytes, a, z);
    return 0;
}

static int cmd_show(fl_catalog *c, const fl_catalog_table *t, const struct cli *o)
{
    fl_buf b = {0};
    if (o->json) {
        int rc = print_json(&b, fl_catalog_table_json(c, t, (size_t)-1, &b));
        fl_buf_free(&b);
        return rc;
    }
    fl_catalog_table_stats s;
    int rc = fl_catalog_table_stats_get(c, t, &s);
    if (rc) {
        fprintf(stderr, "fleetlake catalog show: %s\n", fl_strerror(rc));
        return 1;
    }
    printf("table %s (%s)\n", t->name, fl_catalog_kind_name(t->kind));
    if (t->kind == FL_CATALOG_KIND_LAKE)
        printf("location <lake>/%s/, partitioned by the UTC %s of %s\n", t->prefix,
               t->partitioned_by_hour ? "hour" : "day", t->time_column);
    printf("columns:\n");
    for (size_t i = 0; i < t->column_count; i++)
        printf("  %-24s %-10s %s%s\n", t->columns[i].name,
               fl_catalog_type_name(t->columns[i].type),
               t->columns[i].nullable ? "nullable" : "not null",
               t->columns[i].partition ? ", partition key" : "");
    char a[FL_TIME_RFC3339_MAX], z[FL_TIME_RFC3339_MAX];
    human_time(s.min_ts, a);
    human_time(s.max_ts, z);
    printf("rows %lld", (long long)s.rows);
    if (t->kind == FL_CATALOG_KIND_LAKE)
        printf(", live files %lld, bytes %lld, partitions %lld, %s .. %s; retired files %lld"
               " (%lld bytes)",
               (long long)s.files, (long long)s.bytes, (long long)s.partitions, a, z,
               (long long)s.retired_files, (long long)s.retired_bytes);
    printf("\n");
    if (t->kind == FL_CATALOG_KIND_LAKE) {
        printf("tiers:\n");
        rc = fl_catalog_tiers_query(c, t->name, print_group, NULL);
        printf("partitions:\n");
        rc = rc ? rc : fl_catalog_partitions_query(c, t->name, print_group, NULL);
    }
    if (rc)
        fprintf(stderr, "fleetlake catalog show: %s\n", fl_strerror(rc));
    return rc ? 1 : 0;
}

static int cmd_ddl(fl_catalog *c, const fl_catalog_table *t, const struct cli *o)
{
    int d = fl_catalog_dialect_parse(o->dialect);
    if (d < 0) {
        fprintf(stderr, "fleetlake catalog ddl: --dialect must be athena, trino, spark or "
                        "duckdb\n");
        return 2;
    }
    if (t->kind != FL_CATALOG_KIND_LAKE) {
        fprintf(stderr, "fleetlake catalog ddl: %s is a live table in meta.db; it has no lake "
                        "location to register\n", t->name);
        return 2;
    }
    char abs[PATH_MAX], lake[PATH_MAX + 8];
    const char *location = o->location;
    if (!location) {
        if (!realpath(o->data_dir, abs)) {
            fprintf(stderr, "fleetlake catalog ddl: cannot resolve %s\n", o->data_dir);
            return 1;
        }
        snprintf(lake, sizeof lake, "%s/lake", abs);
        location = lake;
    }
    fl_catalog_ddl_options opt = {.location = location, .schema = o->schema};
    fl_buf b = {0};
    enum fl_catalog_dialect dialect_id = (enum fl_catalog_dialect)d;
    int rc = o->live_files && d == FL_DIALECT_DUCKDB ? fl_catalog_ddl_live(c, t, dialect_id, &opt, &b)
                    : fl_catalog_ddl(t, dialect_id, &opt, &b);
    if (rc == FL_ENOTFOUND)
        fprintf(stderr, "fleetlake catalog ddl: %s has no live files to list\n", t->name);
    else if (rc == FL_EINVAL)
        fprintf(stderr, "fleetlake catalog ddl: bad --location (quotes, backslashes and "
                        "control characters are refused)\n");
    else if (rc)
        fprintf(stderr, "fleetlake catalog ddl: %s\n", fl_strerror(rc));
    else
        fwrite(b.data, 1, b.len, stdout);
    fl_buf_free(&b);
    return rc ? 1 : 0;
}

int fl_cli_catalog(int argc, char **argv)
{
    struct cli o = {.data_dir = "./fleetlake-data"};
    int prc = parse_args(&o, argc, argv);
    if (prc)
        return prc < 0 ? 0 : prc;
    const char *verb = optind < argc ? argv[optind] : NULL;
    const char *name = optind + 1 < argc ? argv[optind + 1] : NULL;
    int needs_name = verb && (strcmp(verb, "show") == 0 || strcmp(verb, "ddl") == 0);
    if (!verb || (strcmp(verb, "list") && !needs_name) || (needs_name && !name) ||
        optind + 1 + needs_name < argc) {
        fprintf(stderr, "fleetlake catalog: expected list, show NAME or ddl NAME\n");
        usage(stderr);
        return 2;
    }
    char meta[PATH_MAX];
    if (fl_cli_path(meta, sizeof meta, o.data_dir, "meta.db")) {
        fprintf(stderr, "fleetlake catalog: data directory path too long\n");
        return 2;
    }
    FILE *probe = fopen(meta, "rb");
    if (!probe) {
        fprintf(stderr, "fleetlake catalog: no catalog at %s (is --data right?)\n", meta);
        return 1;
    }
    fclose(probe);
    fl_catalog *c = NULL;
    int rc = fl_catalog_open(meta, &c);
    if (rc) {
        fprintf(stderr, "fleetlake catalog: cannot open %s: %s\n", meta, fl_strerror(rc));
        return 1;
    }
    int exit_code = 0;
    fl_catalog_table *t = NULL;
    if (strcmp(verb, "list") == 0) {
        exit_code = cmd_list(c, &o);
    } else if (!(t = fl_malloc(sizeof *t))) {
        exit_code = 1;
    } else if ((rc = fl_catalog_table_get(c, name, t))) {
        fprintf(stderr, "fleetlake catalog: %s: %s\n", name,
                rc == FL_ENOTFOUND ? "no such table" : fl_strerror(rc));
        exit_code = rc == FL_ENOTFOUND ? 2 : 1;
    } else {
        exit_code = strcmp(verb, "show") == 0 ? cmd_show(c, t, &o) : cmd_ddl(c, t, &o);
    }
    fl_free(t);
    fl_catalog_close(c);
    return exit_code;
}
