/* ddl.c — DDL export: the statements that register a lake table in Athena, Trino (Hive
 * connector), Spark or DuckDB, so those engines read the lake's files where they lie (the
 * Glue/Hive-metastore role of the scale-out path, DESIGN.md §8).
 *
 * Every dialect describes the same thing: the table's Parquet columns with their types
 * (fl_catalog_type_sql), then the Hive partition keys year, month, day (, hour) as integers —
 * last, which Trino requires and the others accept — over <location>/<prefix>/. Identifiers are
 * always quoted (`timestamp`, `day`, `hour` are reserved words in some engines): backticks for
 * Athena and Spark, double quotes for Trino and DuckDB. Every engine reads Parquet columns by
 * name (Athena and Spark always; Trino's Hive connector with its default
 * hive.parquet.use-column-names = true; DuckDB through union_by_name), so a file written before a
 * column was appended (lake schema versions) reads that column as NULL. Locations are refused when
 * they hold a quote, backslash or control byte, so no literal needs escaping rules that differ
 * between engines. Output is deterministic (golden tests in tests/unit/catalog/test_ddl.c). */
#include <stdio.h>
#include <string.h>

#include "catalog/catalog.h"

/* Athena partition projection bounds. Years: the ingest validator refuses timestamps before
 * 2000-01-01; 2100 leaves room. 101 years x 12 x 31 x 24 = 901,584 projected hours, below the
 * million partitions Athena enumerates for an unconstrained query. */
#define PROJECTION_YEAR_MIN 2000
#define PROJECTION_YEAR_MAX 2100

static const char *const partition_ranges[] = {"", "1,12", "1,31", "0,23"};

static int location_ok(const char *s)
{
    for (const unsigned char *p = (const unsigned char *)s; *p; p++)
        if (*p == '\'' || *p == '\\' || *p < 0x20 || *p == 0x7f)
            return 0;
    return *s != 0;
}

/* The table's root URI without a trailing slash: plain absolute paths become file:// URIs for
 * the JVM engines; DuckDB gets a plain path back from file://. */
static int table_root(fl_buf *b, const char *location, const char *prefix,
                      enum fl_catalog_dialect d)
{
    size_t n = strlen(location);
    while (n > 1 && location[n - 1] == '/')
        n--;
    int rc = 0;
    if (d == FL_DIALECT_DUCKDB && strncmp(location, "file://", 7) == 0) {
        location += 7;
        n -= 7;
    } else if (d != FL_DIALECT_DUCKDB && location[0] == '/') {
        rc = fl_buf_append_cstr(b, "file://");
    }
    rc = rc ? rc : fl_buf_append(b, location, n);
    return rc ? rc : fl_buf_printf(b, "/%s", prefix);
}

static int caveat(fl_buf *b, const fl_catalog_table *t, enum fl_catalog_dialect d, int listed)
{
    int rc = fl_buf_printf(b, "-- %s: fleetlake lake table, %s dialect.\n", t->name,
                           fl_catalog_dialect_name(d));
    if (listed)
        return rc ? rc
                  : fl_buf_append_cstr(b, "-- Reads exactly the catalog's live files at export "
                                          "time: export again after new files are committed.\n");
    return rc ? rc
              : fl_buf_append_cstr(
                    b, "-- Caveat: files retired by compaction stay in the lake until "
                       "compaction.retire_grace_s\n"
                       "-- has passed; a directory scan reads them next to their replacement, "
                       "so rows of\n"
                       "-- recently compacted hours may be counted twice until then. The catalog "
                       "(GET\n"
                       "-- /v1/tables, fleetlake catalog show) never does; for DuckDB, "
                       "`fleetlake catalog ddl\n"
                       "-- --live-files` lists exactly the live files instead.\n");
}

static int columns(fl_buf *b, const fl_catalog_table *t, enum fl_catalog_dialect d,
                   int with_partitions, const char *q)
{
    int rc = 0, first = 1;
    for (size_t i = 0; !rc && i < t->column_count; i++) {
        const fl_catalog_column *c = &t->columns[i];
        if (c->partition && !with_partitions)
            continue;
        rc = fl_buf_printf(b, "%s  %s%s%s %s", first ? "" : ",\n", q, c->name, q,
                           fl_catalog_type_sql(c->type, d));
        first = 0;
    }
    return rc ? rc : fl_buf_append_cstr(b, "\n");
}

/* The partition keys' names joined: fmt is printed per key with the name. */
static int partition_list(fl_buf *b, const fl_catalog_table *t, const char *fmt, const char *sep)
{
    int rc = 0, first = 1;
    for (size_t i = 0; !rc && i < t->column_count; i++) {
        if (!t->columns[i].partition)
            continue;
        rc = fl_buf_append_cstr(b, first ? "" : sep);
        rc = rc ? rc : fl_buf_printf(b, fmt, t->columns[i].name);
        first = 0;
    }
    return rc;
}

static int athena(fl_buf *b, const fl_catalog_table *t, const fl_catalog_ddl_options *o,
                  const char *root)
{
    int rc = fl_buf_printf(b, "CREATE EXTERNAL TABLE IF NOT EXISTS `%s` (\n", t->name);
    rc = rc ? rc : columns(b, t, FL_DIALECT_ATHENA, 0, "`");
    rc = rc ? rc : fl_buf_append_cstr(b, ")\nPARTITIONED BY (\n");
    rc = rc ? rc : partition_list(b, t, "  `%s` int", ",\n");
    rc = rc ? rc : fl_buf_printf(b, "\n)\nSTORED AS PARQUET\nLOCATION '%s/'\nTBLPROPERTIES (\n"
                                    "  'projection.enabled' = 'true',\n", root);
    size_t k = 0;
    for (size_t i = 0; !rc && i < t->column_count; i++) {
        const char *n = t->columns[i].name;
        if (!t->columns[i].partition)
            continue;
        rc = fl_buf_printf(b, "  'projection.%s.type' = 'integer',\n", n);
        if (k == 0)
            rc = rc ? rc
                    : fl_buf_printf(b, "  'projection.%s.range' = '%d,%d',\n", n,
                                    PROJECTION_YEAR_MIN, PROJECTION_YEAR_MAX);
        else
            rc = rc ? rc
                    : fl_buf_printf(b, "  'projection.%s.range' = '%s',\n", n,
                                    partition_ranges[k < 4 ? k : 3]);
        k++;
    }
    rc = rc ? rc : fl_buf_printf(b, "  'storage.location.template' = '%s/", root);
    rc = rc ? rc : partition_list(b, t, "%1$s=${%1$s}", "/");
    rc = rc ? rc
            : fl_buf_printf(b, "',\n  'parquet.compression' = '%s'\n);\n",
                            o->compression ? o->compression : "SNAPPY");
    return rc;
}

static int trino(fl_buf *b, const fl_catalog_table *t, const fl_catalog_ddl_options *o,
                 const char *root)
{
    const char *schema = o->schema ? o->schema : "fleetlake";
    int rc = fl_buf_printf(b, "CREATE SCHEMA IF NOT EXISTS hive.\"%s\";\n", schema);
    rc = rc ? rc
            : fl_buf_printf(b, "CREATE TABLE IF NOT EXISTS hive.\"%s\".\"%s\" (\n", schema,
                            t->name);
    rc = rc ? rc : columns(b, t, FL_DIALECT_TRINO, 1, "\"");
    rc = rc ? rc
            : fl_buf_printf(b, ")\nWITH (\n  format = 'PARQUET',\n  external_location = '%s',\n"
                               "  partitioned_by = ARRAY[", root);
    rc = rc ? rc : partition_list(b, t, "'%s'", ", ");
    rc = rc ? rc : fl_buf_append_cstr(b, "]\n);\n");
    /* The Hive metastore learns of partition directories only when told. */
    rc = rc ? rc
            : fl_buf_printf(b,
                            "CALL hive.system.sync_partition_metadata('%s', '%s', 'FULL');\n",
                            schema, t->name);
    return rc;
}

static int spark(fl_buf *b, const fl_catalog_table *t, const char *root)
{
    int rc = fl_buf_printf(b, "CREATE TABLE IF NOT EXISTS `%s` (\n", t->name);
    rc = rc ? rc : columns(b, t, FL_DIALECT_SPARK, 1, "`");
    rc = rc ? rc : fl_buf_append_cstr(b, ")\nUSING PARQUET\nPARTITIONED BY (");
    rc = rc ? rc : partition_list(b, t, "`%s`", ", ");
    rc = rc ? rc : fl_buf_printf(b, ")\nLOCATION '%s';\n", root);
    rc = rc ? rc : fl_buf_printf(b, "MSCK REPAIR TABLE `%s`;\n", t->name);
    return rc;
}

/* DuckDB's read_parquet(...) of the table's files: the live files listed, or a glob. */
static int duckdb_read(fl_buf *b, const fl_catalog_table *t, const fl_catalog_ddl_options *o,
                       const char *root)
{
    int rc = fl_buf_append_cstr(b, "  SELECT * FROM read_parquet(");
    if (o->live_files) {
        /* root ends in /<prefix>; keys are relative to the lake root */
        size_t lake_len = strlen(root) - strlen(t->prefix) - 1;
        rc = rc ? rc : fl_buf_append_cstr(b, "[");
        for (size_t i = 0; !rc && i < o->live_file_count; i++) {
            if (!location_ok(o->live_files[i]))
                return FL_EINVAL;
            const char *k = o->live_files[i];
            if (k[0] == '/') /* a file outside the lake (the lifecycle's warm tier) */
                rc = fl_buf_printf(b, "%s\n    '%s'", i ? "," : "", k);
            else
                rc = fl_buf_printf(b, "%s\n    '%.*s/%s'", i ? "," : "", (int)lake_len, root, k);
        }
        rc = rc ? rc : fl_buf_append_cstr(b, "]");
    } else {
        rc = rc ? rc : fl_buf_printf(b, "'%s/", root);
        rc = rc ? rc : partition_list(b, t, "%s=*", "/");
        rc = rc ? rc : fl_buf_append_cstr(b, "/*.parquet'");
    }
    rc = rc ? rc
            : fl_buf_append_cstr(b, ", hive_partitioning = true, union_by_name = true,\n"
                                    "    hive_types = {");
    rc = rc ? rc : partition_list(b, t, "'%s': INTEGER", ", ");
    return rc ? rc : fl_buf_append_cstr(b, "})\n");
}

/* The view reads the files by column name (union_by_name), so a file written before a column
 * was added (lake schema versions, src/lake/tables.c) gives NULL there. union_by_name alone
 * knows only the columns some file has: the empty row of typed NULLs joined BY NAME keeps
 * every column, with the table's type, even before any file has it. */
static int duckdb(fl_buf *b, const fl_catalog_table *t, const fl_catalog_ddl_options *o,
                  const char *root)
{
    int rc = fl_buf_printf(b, "CREATE OR REPLACE VIEW \"%s\" AS\nSELECT ", t->name);
    for (size_t i = 0; !rc && i < t->column_count; i++)
        rc = fl_buf_printf(b, "%s\"%s\"", i ? ", " : "", t->columns[i].name);
    rc = rc ? rc : fl_buf_append_cstr(b, "\nFROM (\n");
    rc = rc ? rc : duckdb_read(b, t, o, root);
    rc = rc ? rc : fl_buf_append_cstr(b, "  UNION ALL BY NAME\n  SELECT ");
    for (size_t i = 0; !rc && i < t->column_count; i++)
        rc = fl_buf_printf(b, "%sCAST(NULL AS %s) AS \"%s\"", i ? ", " : "",
                           fl_catalog_type_sql(t->columns[i].type, FL_DIALECT_DUCKDB),
                           t->columns[i].name);
    return rc ? rc : fl_buf_append_cstr(b, " WHERE false\n);\n");
}

int fl_catalog_ddl(const fl_catalog_table *t, enum fl_catalog_dialect d,
                   const fl_catalog_ddl_options *o, fl_buf *out)
{
    if (t->kind != FL_CATALOG_KIND_LAKE)
        return FL_EUNSUPPORTED;
    if ((unsigned)d >= FL_DIALECT_COUNT || !o->location || !location_ok(o->location) ||
        (o->schema && !location_ok(o->schema)) ||
        (o->compression && !location_ok(o->compression)))
        return FL_EINVAL;
    if (d == FL_DIALECT_DUCKDB && o->live_files && o->live_file_count == 0)
        return FL_ENOTFOUND; /* read_parquet([]) is an error in DuckDB: nothing to read */
    fl_buf root = {0};
    int rc = table_root(&root, o->location, t->prefix, d);
    size_t mark = out->len;
    rc = rc ? rc : caveat(out, t, d, d == FL_DIALECT_DUCKDB && o->live_files);
    if (!rc) {
        switch (d) {
        case FL_DIALECT_ATHENA: rc = athena(out, t, o, root.data); break;
        case FL_DIALECT_TRINO: rc = trino(out, t, o, root.data); break;
        case FL_DIALECT_SPARK: rc = spark(out, t, root.data); break;
        case FL_DIALECT_DUCKDB: rc = duckdb(out, t, o, root.data); break;
        }
    }
    if (rc) {
        out->len = mark;
        if (out->data)
            out->data[mark] = 0;
    }
    fl_buf_free(&root);
    return rc;
}

struct live_list {
    char **paths;
    size_t n, cap;
};

static int collect_live(void *arg, const fl_lake_file *f)
{
    struct live_list *l = arg;
    if (l->n == l->cap) {
        size_t cap = l->cap ? l->cap * 2 : 64;
        char **p = fl_realloc(l->paths, cap * sizeof *p);
        if (!p)
            return FL_ENOMEM;
        l->paths = p;
        l->cap = cap;
    }
    /* A warm file lives in its own directory (lake_files.location): list it by absolute path. */
    size_t n = strlen(f->location) + strlen(f->path) + 2;
    if (!(l->paths[l->n] = fl_malloc(n)))
        return FL_ENOMEM;
    snprintf(l->paths[l->n], n, "%s%s%s", f->location, f->location[0] ? "/" : "", f->path);
    l->n++;
    return 0;
}

int fl_catalog_ddl_live(fl_catalog *c, const fl_catalog_table *t, enum fl_catalog_dialect d,
                        const fl_catalog_ddl_options *o, fl_buf *out)
{
    struct live_list live = {0};
    fl_catalog_filter f = fl_catalog_filter_table(t->name);
    f.state = FL_CATALOG_STATE_LIVE;
    int rc = fl_catalog_files_query(c, &f, collect_live, &live);
    if (!rc && live.n == 0)
        rc = FL_ENOTFOUND;
    if (!rc) {
        fl_catalog_ddl_options with = *o;
        with.live_files = (const char *const *)live.paths;
        with.live_file_count = live.n;
        rc = fl_catalog_ddl(t, d, &with, out);
    }
    for (size_t i = 0; i < live.n; i++)
        fl_free(live.paths[i]);
    fl_free(live.paths);
    return rc;
}
