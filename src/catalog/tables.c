/* tables.c — the catalog's table registry (the Glue Data Catalog's tables and partitions):
 * which tables exist, their columns and types, partition keys, and statistics of their files.
 *
 * Lake tables are derived from lake.h's fl_lake_table_* list — the same column specs the
 * writers use — so a table, column or type can never be described differently from what is in
 * the files, and a new lake table (hourly_summary) appears here with no edit. Live tables
 * (device_state, alerts) are read from meta.db's own schema (PRAGMA table_info). Statistics
 * come from lake_files: live files only, retired ones (replaced by compaction, deleted after
 * the grace) counted apart. */
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "catalog/catalog.h"
#include "lake/lake.h"

/* Live tables served from meta.db, in listing order; a name is listed only once its table
 * exists (alerts arrives with alerting). */
static const char *const live_tables[] = {"device_state", "alerts"};

static const char *const dialect_names[FL_DIALECT_COUNT] = {"athena", "trino", "spark", "duckdb"};

int fl_catalog_dialect_parse(const char *name)
{
    for (int i = 0; name && i < FL_DIALECT_COUNT; i++)
        if (strcmp(name, dialect_names[i]) == 0)
            return i;
    return -1;
}

const char *fl_catalog_dialect_name(enum fl_catalog_dialect d)
{
    return (unsigned)d < FL_DIALECT_COUNT ? dialect_names[d] : "?";
}

const char *fl_catalog_kind_name(enum fl_catalog_kind k)
{
    return k == FL_CATALOG_KIND_LIVE ? "live" : "lake";
}

const char *fl_catalog_type_sql(enum fl_catalog_type t, enum fl_catalog_dialect d)
{
    /* Columns: athena (Hive DDL), trino, spark, duckdb. Timestamps are µs UTC instants:
     * Parquet's isAdjustedToUTC=true, which DuckDB maps to TIMESTAMPTZ; the Hive-style engines
     * have one timestamp type (Trino's Hive connector refuses timestamp(6) unless its
     * precision is configured so: plain timestamp is accepted everywhere). */
    static const char *const names[][FL_DIALECT_COUNT] = {
        [FL_CATALOG_STRING] = {"string", "varchar", "STRING", "VARCHAR"},
        [FL_CATALOG_TIMESTAMP] = {"timestamp", "timestamp", "TIMESTAMP", "TIMESTAMPTZ"},
        [FL_CATALOG_INT8] = {"tinyint", "tinyint", "TINYINT", "TINYINT"},
        [FL_CATALOG_INT16] = {"smallint", "smallint", "SMALLINT", "SMALLINT"},
        [FL_CATALOG_INT32] = {"int", "integer", "INT", "INTEGER"},
        [FL_CATALOG_INT64] = {"bigint", "bigint", "BIGINT", "BIGINT"},
        [FL_CATALOG_DOUBLE] = {"double", "double", "DOUBLE", "DOUBLE"},
        [FL_CATALOG_BOOLEAN] = {"boolean", "boolean", "BOOLEAN", "BOOLEAN"},
        [FL_CATALOG_BINARY] = {"binary", "varbinary", "BINARY", "BLOB"},
    };
    if ((unsigned)t >= sizeof names / sizeof names[0] || (unsigned)d >= FL_DIALECT_COUNT)
        return "?";
    return names[t][d];
}

static enum fl_catalog_type type_of_parquet(const fl_pq_column_def *c)
{
    switch (c->physical) {
    case FL_PQ_BOOLEAN: return FL_CATALOG_BOOLEAN;
    case FL_PQ_DOUBLE: return FL_CATALOG_DOUBLE;
    case FL_PQ_BYTE_ARRAY:
        return c->logical == FL_PQ_LOGICAL_STRING ? FL_CATALOG_STRING : FL_CATALOG_BINARY;
    case FL_PQ_INT64:
        return c->logical == FL_PQ_LOGICAL_TIMESTAMP_MICROS ? FL_CATALOG_TIMESTAMP
                                                            : FL_CATALOG_INT64;
    case FL_PQ_INT32:
        return c->logical == FL_PQ_LOGICAL_INT8    ? FL_CATALOG_INT8
               : c->logical == FL_PQ_LOGICAL_INT16 ? FL_CATALOG_INT16
                                                   : FL_CATALOG_INT32;
    }
    return FL_CATALOG_BINARY;
}

static int add_column(fl_catalog_table *t, const char *name, enum fl_catalog_type type,
                      int nullable, int partition)
{
    if (t->column_count >= FL_CATALOG_COLUMNS_MAX || strlen(name) >= FL_CATALOG_NAME_MAX)
        return FL_ELIMIT;
    fl_catalog_column *c = &t->columns[t->column_count++];
    snprintf(c->name, sizeof c->name, "%s", name);
    c->type = type;
    c->nullable = nullable;
    c->partition = partition;
    return 0;
}

static int from_lake(const fl_lake_table_info *li, fl_catalog_table *t)
{
    static const char *const keys[] = {"year", "month", "day", "hour"};
    memset(t, 0, sizeof *t);
    t->kind = FL_CATALOG_KIND_LAKE;
    snprintf(t->name, sizeof t->name, "%s", li->name);
    snprintf(t->prefix, sizeof t->prefix, "%s", li->prefix);
    snprintf(t->time_column, sizeof t->time_column, "%s", li->time_column);
    t->partitioned_by_hour = li->partitioned_by_hour;
    int rc = 0;
    for (size_t i = 0; !rc && i < li->column_count; i++)
        rc = add_column(t, li->columns[i].name, type_of_parquet(&li->columns[i]),
                        li->columns[i].optional, 0);
    t->partition_count = li->partitioned_by_hour ? 4 : 3;
    for (size_t i = 0; !rc && i < t->partition_count; i++)
        rc = add_column(t, keys[i], FL_CATALOG_INT32, 0, 1);
    return rc;
}

/* A meta.db declared type (migrations use portable names: BIGINT for 64-bit values, INTEGER
 * for 32-bit ones, DOUBLE PRECISION, TEXT, BYTEA/BLOB; anything else is shown as binary). */
static enum fl_catalog_type type_of_decl(const char *decl)
{
    if (!decl)
        return FL_CATALOG_BINARY;
    if (strcasecmp(decl, "BIGINT") == 0)
        return FL_CATALOG_INT64;
    if (strcasecmp(decl, "INTEGER") == 0 || strcasecmp(decl, "INT") == 0)
        return FL_CATALOG_INT32;
    if (strcasecmp(decl, "SMALLINT") == 0)
        return FL_CATALOG_INT16;
    if (strcasecmp(decl, "BOOLEAN") == 0)
        return FL_CATALOG_BOOLEAN;
    if (strncasecmp(decl, "DOUBLE", 6) == 0 || strcasecmp(decl, "REAL") == 0)
        return FL_CATALOG_DOUBLE;
    if (strcasecmp(decl, "TEXT") == 0 || strncasecmp(decl, "VARCHAR", 7) == 0)
        return FL_CATALOG_STRING;
    return FL_CATALOG_BINARY;
}

/* Fill t from meta.db's schema of live table name: FL_ENOTFOUND when it does not exist. */
static int from_meta(fl_catalog *c, const char *name, fl_catalog_table *t)
{
    memset(t, 0, sizeof *t);
    t->kind = FL_CATALOG_KIND_LIVE;
    snprintf(t->name, sizeof t->name, "%s", name);
    sqlite3_stmt *st = NULL;
    int rc = FL_ESQLITE;
    /* pragma_table_info as a table-valued function so the name is a bound parameter. */
    if (sqlite3_prepare_v2(fl_catalog_db(c),
                           "SELECT name, type, \"notnull\", pk FROM pragma_table_info(?)"
                           " ORDER BY cid",
                           -1, &st, NULL) != SQLITE_OK ||
        sqlite3_bind_text(st, 1, name, -1, SQLITE_TRANSIENT) != SQLITE_OK)
        goto out;
    int step;
    rc = 0;
    while (!rc && (step = sqlite3_step(st)) == SQLITE_ROW) {
        const char *col = (const char *)sqlite3_column_text(st, 0);
        int nullable = !sqlite3_column_int(st, 2) && !sqlite3_column_int(st, 3);
        rc = add_column(t, col ? col : "",
                        type_of_decl((const char *)sqlite3_column_text(st, 1)), nullable, 0);
    }
    if (!rc && step != SQLITE_DONE)
        rc = FL_ESQLITE;
    if (!rc && t->column_count == 0)
        rc = FL_ENOTFOUND;
out:
    sqlite3_finalize(st);
    return rc;
}

static int is_live_table(const char *name)
{
    for (size_t i = 0; i < sizeof live_tables / sizeof live_tables[0]; i++)
        if (strcmp(live_tables[i], name) == 0)
            return 1;
    return 0;
}

int fl_catalog_table_get(fl_catalog *c, const char *name, fl_catalog_table *out)
{
    const fl_lake_table_info *li = fl_lake_table_find(name);
    if (li)
        return from_lake(li, out);
    if (!c || !is_live_table(name))
        return FL_ENOTFOUND;
    return from_meta(c, name, out);
}

int fl_catalog_tables_list(fl_catalog *c, fl_catalog_table **out, size_t *count)
{
    size_t lake = fl_lake_table_count();
    size_t max = lake + sizeof live_tables / sizeof live_tables[0];
    fl_catalog_table *t = fl_malloc(max * sizeof *t);
    if (!t)
        return FL_ENOMEM;
    size_t n = 0;
    int rc = 0;
    for (size_t i = 0; !rc && i < lake; i++)
        if (!(rc = from_lake(fl_lake_table_at(i), &t[n])))
            n++;
    for (size_t i = 0; !rc && c && i < sizeof live_tables / sizeof live_tables[0]; i++) {
        rc = from_meta(c, live_tables[i], &t[n]);
        if (rc == FL_ENOTFOUND)
            rc = 0;
        else if (!rc)
            n++;
    }
    if (rc) {
        fl_free(t);
        return rc;
    }
    *out = t;
    *count = n;
    return 0;
}

/* ---- statistics from lake_files -------------------------------------------------------------- */

static int live_row_count(fl_catalog *c, const char *table, int64_t *rows)
{
    /* The name comes from the registry's fixed list, never from a request: quoting it as an
     * identifier is enough. */
    char sql[160];
    snprintf(sql, sizeof sql, "SELECT count(*) FROM \"%s\"", table);
    sqlite3_stmt *st = NULL;
    int rc = FL_ESQLITE;
    if (sqlite3_prepare_v2(fl_catalog_db(c), sql, -1, &st, NULL) == SQLITE_OK &&
        sqlite3_step(st) == SQLITE_ROW) {
        *rows = sqlite3_column_int64(st, 0);
        rc = 0;
    }
    sqlite3_finalize(st);
    return rc;
}

int fl_catalog_table_stats_get(fl_catalog *c, const fl_catalog_table *t,
                               fl_catalog_table_stats *out)
{
    memset(out, 0, sizeof *out);
    out->min_ts = out->max_ts = -1;
    if (t->kind == FL_CATALOG_KIND_LIVE)
        return live_row_count(c, t->name, &out->rows);
    sqlite3_stmt *st = NULL;
    int rc = FL_ESQLITE;
    if (sqlite3_prepare_v2(
            fl_catalog_db(c),
            "SELECT count(*), coalesce(sum(rows), 0), coalesce(sum(bytes), 0),"
            " coalesce(min(min_ts), -1), coalesce(max(max_ts), -1),"
            " (SELECT count(*) FROM (SELECT DISTINCT year, month, day, hour FROM lake_files"
            "   WHERE table_name = ?1 AND state = 'live')),"
            " (SELECT count(*) FROM lake_files WHERE table_name = ?1 AND state = 'retired'),"
            " (SELECT coalesce(sum(bytes), 0) FROM lake_files"
            "   WHERE table_name = ?1 AND state = 'retired')"
            " FROM lake_files WHERE table_name = ?1 AND state = 'live'",
            -1, &st, NULL) != SQLITE_OK ||
        sqlite3_bind_text(st, 1, t->name, -1, SQLITE_TRANSIENT) != SQLITE_OK)
        goto out;
    if (sqlite3_step(st) == SQLITE_ROW) {
        out->files = sqlite3_column_int64(st, 0);
        out->rows = sqlite3_column_int64(st, 1);
        out->bytes = sqlite3_column_int64(st, 2);
        out->min_ts = sqlite3_column_int64(st, 3);
        out->max_ts = sqlite3_column_int64(st, 4);
        out->partitions = sqlite3_column_int64(st, 5);
        out->retired_files = sqlite3_column_int64(st, 6);
        out->retired_bytes = sqlite3_column_int64(st, 7);
        rc = 0;
    }
out:
    sqlite3_finalize(st);
    return rc;
}

#define GROUP_SUMS                                                                                 \
    " count(*), coalesce(sum(rows), 0), coalesce(sum(bytes), 0), coalesce(min(min_ts), -1),"     \
    " coalesce(max(max_ts), -1) FROM lake_files WHERE table_name = ? AND state = 'live'"

static int groups_query(fl_catalog *c, const char *sql, const char *table, int by_tier,
                        fl_catalog_group_fn fn, void *arg)
{
    sqlite3_stmt *st = NULL;
    int rc = FL_ESQLITE;
    if (sqlite3_prepare_v2(fl_catalog_db(c), sql, -1, &st, NULL) != SQLITE_OK ||
        sqlite3_bind_text(st, 1, table, -1, SQLITE_TRANSIENT) != SQLITE_OK)
        goto out;
    int step;
    rc = 0;
    while (!rc && (step = sqlite3_step(st)) == SQLITE_ROW) {
        fl_catalog_group g;
        memset(&g, 0, sizeof g);
        g.year = g.month = g.day = g.hour = -1;
        int k = 0;
        if (by_tier) {
            const unsigned char *tier = sqlite3_column_text(st, k++);
            snprintf(g.tier, sizeof g.tier, "%s", tier ? (const char *)tier : "");
        } else {
            g.year = sqlite3_column_int(st, k++);
            g.month = sqlite3_column_int(st, k++);
            g.day = sqlite3_column_int(st, k++);
            g.hour = sqlite3_column_int(st, k++);
        }
        g.files = sqlite3_column_int64(st, k++);
        g.rows = sqlite3_column_int64(st, k++);
        g.bytes = sqlite3_column_int64(st, k++);
        g.min_ts = sqlite3_column_int64(st, k++);
        g.max_ts = sqlite3_column_int64(st, k++);
        rc = fn(arg, &g);
    }
    if (!rc && step != SQLITE_DONE)
        rc = FL_ESQLITE;
out:
    sqlite3_finalize(st);
    return rc;
}

int fl_catalog_partitions_query(fl_catalog *c, const char *table_name, fl_catalog_group_fn fn,
                                void *arg)
{
    return groups_query(c,
                        "SELECT year, month, day, coalesce(hour, -1)," GROUP_SUMS
                        " GROUP BY year, month, day, hour ORDER BY year, month, day, hour",
                        table_name, 0, fn, arg);
}

int fl_catalog_tiers_query(fl_catalog *c, const char *table_name, fl_catalog_group_fn fn,
                           void *arg)
{
    return groups_query(c, "SELECT tier," GROUP_SUMS " GROUP BY tier ORDER BY tier", table_name,
                        1, fn, arg);
}
