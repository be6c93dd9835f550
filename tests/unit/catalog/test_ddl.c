/* test_ddl.c — the catalog's table registry and DDL export: lake tables come from lake.h's
 * list with the writers' columns and Parquet-derived types, live tables from meta.db's schema;
 * the exact DDL of one table per dialect (golden text), reserved-word quoting, partition keys
 * last for Trino, Athena's partition projection, location handling (override, file:// for the
 * JVM engines, plain paths for DuckDB, refused quotes), DuckDB's explicit live-file list, and
 * the statistics read from lake_files (live files only, retired counted apart), and migration 5
 * bringing an older meta.db's registry copy to the current columns (trace_id).
 *
 * Trino, Spark and Athena are not available where the tests run: their DDL is checked by
 * structure here; the DuckDB form is executed against a real lake by
 * tests/integration/test_catalog_api.py. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "catalog/catalog.h"
#include "lake/lake.h"

static const char golden_athena[] =
    "-- rejected_records: fleetlake lake table, athena dialect.\n"
    "-- Caveat: files retired by compaction stay in the lake until compaction.retire_grace_s\n"
    "-- has passed; a directory scan reads them next to their replacement, so rows of\n"
    "-- recently compacted hours may be counted twice until then. The catalog (GET\n"
    "-- /v1/tables, fleetlake catalog show) never does; for DuckDB, `fleetlake catalog ddl\n"
    "-- --live-files` lists exactly the live files instead.\n"
    "CREATE EXTERNAL TABLE IF NOT EXISTS `rejected_records` (\n"
    "  `received_at` timestamp,\n"
    "  `error_code` string,\n"
    "  `error_message` string,\n"
    "  `raw` binary,\n"
    "  `raw_text` string,\n"
    "  `sequence_number` bigint,\n"
    "  `trace_id` string\n"
    ")\n"
    "PARTITIONED BY (\n"
    "  `year` int,\n"
    "  `month` int,\n"
    "  `day` int,\n"
    "  `hour` int\n"
    ")\n"
    "STORED AS PARQUET\n"
    "LOCATION 's3://bkt/fl/errors/rejected_records/'\n"
    "TBLPROPERTIES (\n"
    "  'projection.enabled' = 'true',\n"
    "  'projection.year.type' = 'integer',\n"
    "  'projection.year.range' = '2000,2100',\n"
    "  'projection.month.type' = 'integer',\n"
    "  'projection.month.range' = '1,12',\n"
    "  'projection.day.type' = 'integer',\n"
    "  'projection.day.range' = '1,31',\n"
    "  'projection.hour.type' = 'integer',\n"
    "  'projection.hour.range' = '0,23',\n"
    "  'storage.location.template' = 's3://bkt/fl/errors/rejected_records/year=${year}/month=${month}/day=${day}/hour=${hour}',\n"
    "  'parquet.compression' = 'SNAPPY'\n"
    ");\n";

static const char golden_trino[] =
    "-- rejected_records: fleetlake lake table, trino dialect.\n"
    "-- Caveat: files retired by compaction stay in the lake until compaction.retire_grace_s\n"
    "-- has passed; a directory scan reads them next to their replacement, so rows of\n"
    "-- recently compacted hours may be counted twice until then. The catalog (GET\n"
    "-- /v1/tables, fleetlake catalog show) never does; for DuckDB, `fleetlake catalog ddl\n"
    "-- --live-files` lists exactly the live files instead.\n"
    "CREATE SCHEMA IF NOT EXISTS hive.\"fleetlake\";\n"
    "CREATE TABLE IF NOT EXISTS hive.\"fleetlake\".\"rejected_records\" (\n"
    "  \"received_at\" timestamp,\n"
    "  \"error_code\" varchar,\n"
    "  \"error_message\" varchar,\n"
    "  \"raw\" varbinary,\n"
    "  \"raw_text\" varchar,\n"
    "  \"sequence_number\" bigint,\n"
    "  \"trace_id\" varchar,\n"
    "  \"year\" integer,\n"
    "  \"month\" integer,\n"
    "  \"day\" integer,\n"
    "  \"hour\" integer\n"
    ")\n"
    "WITH (\n"
    "  format = 'PARQUET',\n"
    "  external_location = 's3://bkt/fl/errors/rejected_records',\n"
    "  partitioned_by = ARRAY['year', 'month', 'day', 'hour']\n"
    ");\n"
    "CALL hive.system.sync_partition_metadata('fleetlake', 'rejected_records', 'FULL');\n";

static const char golden_spark[] =
    "-- rejected_records: fleetlake lake table, spark dialect.\n"
    "-- Caveat: files retired by compaction stay in the lake until compaction.retire_grace_s\n"
    "-- has passed; a directory scan reads them next to their replacement, so rows of\n"
    "-- recently compacted hours may be counted twice until then. The catalog (GET\n"
    "-- /v1/tables, fleetlake catalog show) never does; for DuckDB, `fleetlake catalog ddl\n"
    "-- --live-files` lists exactly the live files instead.\n"
    "CREATE TABLE IF NOT EXISTS `rejected_records` (\n"
    "  `received_at` TIMESTAMP,\n"
    "  `error_code` STRING,\n"
    "  `error_message` STRING,\n"
    "  `raw` BINARY,\n"
    "  `raw_text` STRING,\n"
    "  `sequence_number` BIGINT,\n"
    "  `trace_id` STRING,\n"
    "  `year` INT,\n"
    "  `month` INT,\n"
    "  `day` INT,\n"
    "  `hour` INT\n"
    ")\n"
    "USING PARQUET\n"
    "PARTITIONED BY (`year`, `month`, `day`, `hour`)\n"
    "LOCATION 's3://bkt/fl/errors/rejected_records';\n"
    "MSCK REPAIR TABLE `rejected_records`;\n";

static const char golden_duckdb[] =
    "-- rejected_records: fleetlake lake table, duckdb dialect.\n"
    "-- Caveat: files retired by compaction stay in the lake until compaction.retire_grace_s\n"
    "-- has passed; a directory scan reads them next to their replacement, so rows of\n"
    "-- recently compacted hours may be counted twice until then. The catalog (GET\n"
    "-- /v1/tables, fleetlake catalog show) never does; for DuckDB, `fleetlake catalog ddl\n"
    "-- --live-files` lists exactly the live files instead.\n"
    "CREATE OR REPLACE VIEW \"rejected_records\" AS\n"
    "SELECT \"received_at\", \"error_code\", \"error_message\", \"raw\", \"raw_text\", \"sequence_number\", \"trace_id\", \"year\", \"month\", \"day\", \"hour\"\n"
    "FROM (\n"
    "  SELECT * FROM read_parquet('s3://bkt/fl/errors/rejected_records/year=*/month=*/day=*/hour=*/*.parquet', hive_partitioning = true, union_by_name = true,\n"
    "    hive_types = {'year': INTEGER, 'month': INTEGER, 'day': INTEGER, 'hour': INTEGER})\n"
    "  UNION ALL BY NAME\n"
    "  SELECT CAST(NULL AS TIMESTAMPTZ) AS \"received_at\", CAST(NULL AS VARCHAR) AS \"error_code\", CAST(NULL AS VARCHAR) AS \"error_message\", CAST(NULL AS BLOB) AS \"raw\", CAST(NULL AS VARCHAR) AS \"raw_text\", CAST(NULL AS BIGINT) AS \"sequence_number\", CAST(NULL AS VARCHAR) AS \"trace_id\", CAST(NULL AS INTEGER) AS \"year\", CAST(NULL AS INTEGER) AS \"month\", CAST(NULL AS INTEGER) AS \"day\", CAST(NULL AS INTEGER) AS \"hour\" WHERE false\n"
    ");\n";

static fl_catalog_table table(const char *name)
{
    fl_catalog_table t;
    assert_int_equal(fl_catalog_table_get(NULL, name, &t), 0);
    return t;
}

static char *ddl(const fl_catalog_table *t, enum fl_catalog_dialect d,
                 const fl_catalog_ddl_options *o, fl_buf *b)
{
    fl_buf_reset(b);
    assert_int_equal(fl_catalog_ddl(t, d, o, b), 0);
    return b->data;
}

static void golden_per_dialect(void **state)
{
    (void)state;
    fl_catalog_table t = table("rejected_records");
    fl_catalog_ddl_options o = {.location = "s3://bkt/fl/"};
    fl_buf b = {0};
    assert_string_equal(ddl(&t, FL_DIALECT_ATHENA, &o, &b), golden_athena);
    assert_string_equal(ddl(&t, FL_DIALECT_TRINO, &o, &b), golden_trino);
    assert_string_equal(ddl(&t, FL_DIALECT_SPARK, &o, &b), golden_spark);
    assert_string_equal(ddl(&t, FL_DIALECT_DUCKDB, &o, &b), golden_duckdb);
    fl_buf_free(&b);
}

/* Every lake table, every dialect: every column appears quoted (timestamp, day and hour are
 * reserved words somewhere), never bare. */
static void reserved_words_quoted(void **state)
{
    (void)state;
    static const char *const quote[FL_DIALECT_COUNT] = {"`", "\"", "`", "\""};
    fl_catalog_ddl_options o = {.location = "/data/lake"};
    fl_buf b = {0};
    for (size_t i = 0; i < fl_lake_table_count(); i++) {
        fl_catalog_table t = table(fl_lake_table_at(i)->name);
        for (int d = 0; d < FL_DIALECT_COUNT; d++) {
            const char *s = ddl(&t, d, &o, &b);
            for (size_t k = 0; k < t.column_count; k++) {
                char quoted[80];
                snprintf(quoted, sizeof quoted, "%s%s%s", quote[d], t.columns[k].name, quote[d]);
                assert_non_null(strstr(s, quoted));
            }
        }
    }
    fl_catalog_table raw = table("raw_sensor_data");
    assert_non_null(strstr(ddl(&raw, FL_DIALECT_ATHENA, &o, &b), "  `timestamp` timestamp,\n"));
    assert_non_null(strstr(ddl(&raw, FL_DIALECT_TRINO, &o, &b), "  \"timestamp\" timestamp,\n"));
    assert_non_null(strstr(ddl(&raw, FL_DIALECT_SPARK, &o, &b), "  `timestamp` TIMESTAMP,\n"));
    assert_non_null(strstr(ddl(&raw, FL_DIALECT_DUCKDB, &o, &b), ", \"timestamp\", "));
    fl_buf_free(&b);
}

/* Trino: the partition keys are the last four columns, in order, and named in partitioned_by. */
static void trino_partitions_last(void **state)
{
    (void)state;
    fl_catalog_table t = table("processed_sensor_data");
    fl_catalog_ddl_options o = {.location = "s3://b/p", .schema = "fleet"};
    fl_buf b = {0};
    const char *s = ddl(&t, FL_DIALECT_TRINO, &o, &b);
    assert_non_null(strstr(s, "CREATE TABLE IF NOT EXISTS hive.\"fleet\".\"processed_sensor_data\" ("));
    assert_non_null(strstr(s, "  \"quality_flags\" integer,\n  \"trace_id\" varchar,\n  \"year\" integer,\n  \"month\" integer,\n"
                              "  \"day\" integer,\n  \"hour\" integer\n)\nWITH ("));
    assert_non_null(strstr(s, "partitioned_by = ARRAY['year', 'month', 'day', 'hour']"));
    assert_non_null(strstr(s, "external_location = 's3://b/p/processed-data'"));
    assert_non_null(strstr(s, "sync_partition_metadata('fleet', 'processed_sensor_data', 'FULL')"));
    /* processed types: INT8 -> tinyint, BOOLEAN -> boolean */
    assert_non_null(strstr(s, "\"day_of_week\" tinyint,"));
    assert_non_null(strstr(s, "\"anomaly_flag\" boolean,"));
    fl_buf_free(&b);
}

static void athena_projection(void **state)
{
    (void)state;
    fl_catalog_table t = table("raw_sensor_data");
    fl_catalog_ddl_options o = {.location = "s3://bucket/pre", .compression = "GZIP"};
    fl_buf b = {0};
    const char *s = ddl(&t, FL_DIALECT_ATHENA, &o, &b);
    assert_non_null(strstr(s, "LOCATION 's3://bucket/pre/raw-data/'\n"));
    assert_non_null(strstr(s, "'projection.enabled' = 'true'"));
    assert_non_null(strstr(s, "'projection.year.range' = '2000,2100'"));
    assert_non_null(strstr(s, "'projection.month.range' = '1,12'"));
    assert_non_null(strstr(s, "'projection.day.range' = '1,31'"));
    assert_non_null(strstr(s, "'projection.hour.range' = '0,23'"));
    assert_non_null(strstr(s, "'storage.location.template' = 's3://bucket/pre/raw-data/"
                              "year=${year}/month=${month}/day=${day}/hour=${hour}'"));
    assert_non_null(strstr(s, "'parquet.compression' = 'GZIP'"));
    /* partition keys only in PARTITIONED BY, not among the columns */
    const char *part = strstr(s, "PARTITIONED BY");
    assert_non_null(part);
    assert_true(strstr(s, "`year`") > part);
    fl_buf_free(&b);
}

static void locations(void **state)
{
    (void)state;
    fl_catalog_table t = table("raw_sensor_data");
    fl_buf b = {0};
    fl_catalog_ddl_options plain = {.location = "/srv/fl data/lake/"};
    assert_non_null(strstr(ddl(&t, FL_DIALECT_SPARK, &plain, &b),
                           "LOCATION 'file:///srv/fl data/lake/raw-data';\n"));
    assert_non_null(strstr(ddl(&t, FL_DIALECT_SPARK, &plain, &b), "MSCK REPAIR TABLE `raw_sensor_data`;"));
    assert_non_null(strstr(ddl(&t, FL_DIALECT_DUCKDB, &plain, &b),
                           "read_parquet('/srv/fl data/lake/raw-data/year=*/month=*/day=*/hour=*/*.parquet'"));
    assert_non_null(strstr(ddl(&t, FL_DIALECT_DUCKDB, &plain, &b),
                           ", CAST(NULL AS VARCHAR) AS \"trace_id\", "));
    fl_catalog_ddl_options uri = {.location = "file:///srv/lake"};
    assert_non_null(strstr(ddl(&t, FL_DIALECT_DUCKDB, &uri, &b), "read_parquet('/srv/lake/raw-data/"));
    assert_non_null(strstr(ddl(&t, FL_DIALECT_TRINO, &uri, &b), "external_location = 'file:///srv/lake/raw-data'"));
    static const char *const bad[] = {"s3://b/it's", "s3://b/\\x", "s3://b/\n", ""};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        fl_catalog_ddl_options o = {.location = bad[i]};
        fl_buf_reset(&b);
        assert_int_equal(fl_catalog_ddl(&t, FL_DIALECT_ATHENA, &o, &b), FL_EINVAL);
        assert_int_equal(b.len, 0);
    }
    fl_catalog_ddl_options none = {0};
    assert_int_equal(fl_catalog_ddl(&t, FL_DIALECT_TRINO, &none, &b), FL_EINVAL);
    fl_buf_free(&b);
}

static void duckdb_live_files(void **state)
{
    (void)state;
    fl_catalog_table t = table("raw_sensor_data");
    const char *files[] = {"raw-data/year=2026/month=1/day=2/hour=3/part-0-1-9.parquet",
                           "raw-data/year=2026/month=1/day=2/hour=3/compacted-ab-0.parquet"};
    fl_catalog_ddl_options o = {.location = "/d/lake", .live_files = files, .live_file_count = 2};
    fl_buf b = {0};
    const char *s = ddl(&t, FL_DIALECT_DUCKDB, &o, &b);
    assert_non_null(
        strstr(s, "FROM (\n  SELECT * FROM read_parquet([\n"
                  "    '/d/lake/raw-data/year=2026/month=1/day=2/hour=3/part-0-1-9.parquet',\n"
                  "    '/d/lake/raw-data/year=2026/month=1/day=2/hour=3/compacted-ab-0.parquet'],"
                  " hive_partitioning = true, union_by_name = true,"));
    assert_null(strstr(s, "Caveat"));
    o.live_file_count = 0;
    assert_int_equal(fl_catalog_ddl(&t, FL_DIALECT_DUCKDB, &o, &b), FL_ENOTFOUND);
    fl_buf_free(&b);
}

static void types_and_dialects(void **state)
{
    (void)state;
    assert_int_equal(fl_catalog_dialect_parse("athena"), FL_DIALECT_ATHENA);
    assert_int_equal(fl_catalog_dialect_parse("duckdb"), FL_DIALECT_DUCKDB);
    assert_int_equal(fl_catalog_dialect_parse("hive"), -1);
    assert_int_equal(fl_catalog_dialect_parse(NULL), -1);
    assert_string_equal(fl_catalog_type_sql(FL_CATALOG_STRING, FL_DIALECT_TRINO), "varchar");
    assert_string_equal(fl_catalog_type_sql(FL_CATALOG_TIMESTAMP, FL_DIALECT_DUCKDB), "TIMESTAMPTZ");
    assert_string_equal(fl_catalog_type_sql(FL_CATALOG_TIMESTAMP, FL_DIALECT_ATHENA), "timestamp");
    assert_string_equal(fl_catalog_type_sql(FL_CATALOG_INT16, FL_DIALECT_SPARK), "SMALLINT");
    assert_string_equal(fl_catalog_type_sql(FL_CATALOG_BINARY, FL_DIALECT_TRINO), "varbinary");
    assert_string_equal(fl_catalog_type_sql(FL_CATALOG_BINARY, FL_DIALECT_DUCKDB), "BLOB");
    assert_string_equal(fl_catalog_type_sql(FL_CATALOG_INT32, FL_DIALECT_ATHENA), "int");
}

/* The registry mirrors lake.h's list column for column, then meta.db's live tables. */
static void registry(void **state)
{
    (void)state;
    fl_catalog *c = NULL;
    assert_int_equal(fl_catalog_open(":memory:", &c), 0);
    fl_catalog_table *t = NULL;
    size_t n = 0;
    assert_int_equal(fl_catalog_tables_list(c, &t, &n), 0);
    size_t lake = fl_lake_table_count();
    assert_int_equal(n, lake + 1); /* + device_state (no alerts table yet) */
    for (size_t i = 0; i < lake; i++) {
        const fl_lake_table_info *li = fl_lake_table_at(i);
        assert_string_equal(t[i].name, li->name);
        assert_string_equal(t[i].prefix, li->prefix);
        assert_int_equal(t[i].kind, FL_CATALOG_KIND_LAKE);
        assert_int_equal(t[i].partition_count, li->partitioned_by_hour ? 4 : 3);
        assert_int_equal(t[i].column_count, li->column_count + t[i].partition_count);
        for (size_t k = 0; k < li->column_count; k++) {
            assert_string_equal(t[i].columns[k].name, li->columns[k].name);
            assert_int_equal(t[i].columns[k].nullable, li->columns[k].optional);
        }
        assert_string_equal(t[i].columns[li->column_count].name, "year");
    }
    fl_catalog_table *ds = &t[lake];
    assert_string_equal(ds->name, "device_state");
    assert_int_equal(ds->kind, FL_CATALOG_KIND_LIVE);
    assert_int_equal(ds->partition_count, 0);
    assert_string_equal(ds->columns[0].name, "device_id");
    assert_int_equal(ds->columns[0].type, FL_CATALOG_STRING);
    assert_int_equal(ds->columns[0].nullable, 0);
    for (size_t k = 0; k < ds->column_count; k++) {
        if (strcmp(ds->columns[k].name, "last_seen") == 0)
            assert_int_equal(ds->columns[k].type, FL_CATALOG_INT64);
        if (strcmp(ds->columns[k].name, "temperature") == 0) {
            assert_int_equal(ds->columns[k].type, FL_CATALOG_DOUBLE);
            assert_int_equal(ds->columns[k].nullable, 1);
        }
        if (strcmp(ds->columns[k].name, "state") == 0)
            assert_int_equal(ds->columns[k].type, FL_CATALOG_BINARY);
    }
    fl_buf b = {0};
    fl_catalog_ddl_options o = {.location = "/x"};
    assert_int_equal(fl_catalog_ddl(ds, FL_DIALECT_DUCKDB, &o, &b), FL_EUNSUPPORTED);
    fl_catalog_table one;
    assert_int_equal(fl_catalog_table_get(c, "device_state", &one), 0);
    assert_int_equal(fl_catalog_table_get(c, "nope", &one), FL_ENOTFOUND);
    assert_int_equal(fl_catalog_table_get(NULL, "device_state", &one), FL_ENOTFOUND);
    /* the copy in meta.db: one row per table, one per column, partition keys flagged; a second
     * sync rewrites rather than duplicates */
    assert_int_equal(fl_catalog_registry_sync(c), 0);
    assert_int_equal(fl_catalog_registry_sync(c), 0);
    sqlite3_stmt *st = NULL;
    assert_int_equal(sqlite3_prepare_v2(fl_catalog_db(c),
                                        "SELECT (SELECT count(*) FROM catalog_tables),"
                                        " (SELECT count(*) FROM catalog_columns),"
                                        " (SELECT partition_keys FROM catalog_tables"
                                        "  WHERE name = 'raw_sensor_data'),"
                                        " (SELECT type || ',' || nullable || ',' || is_partition"
                                        "  FROM catalog_columns WHERE table_name ="
                                        "  'raw_sensor_data' AND name = 'timestamp')",
                                        -1, &st, NULL),
                     SQLITE_OK);
    assert_int_equal(sqlite3_step(st), SQLITE_ROW);
    size_t columns = 0;
    for (size_t i = 0; i < n; i++)
        columns += t[i].column_count;
    assert_int_equal(sqlite3_column_int(st, 0), n);
    assert_int_equal(sqlite3_column_int(st, 1), columns);
    assert_string_equal((const char *)sqlite3_column_text(st, 2), "year,month,day,hour");
    assert_string_equal((const char *)sqlite3_column_text(st, 3), "timestamp,0,0");
    sqlite3_finalize(st);
    fl_free(t);
    fl_buf_free(&b);
    fl_catalog_close(c);
}

/* One table's columns in meta.db's registry copy as "position:name:type:nullable:partition,". */
static void stored_columns(fl_catalog *c, const char *table, fl_buf *out)
{
    sqlite3_stmt *st = NULL;
    fl_buf_reset(out);
    assert_int_equal(sqlite3_prepare_v2(fl_catalog_db(c),
                                        "SELECT position, name, type, nullable, is_partition"
                                        " FROM catalog_columns WHERE table_name = ?"
                                        " ORDER BY position",
                                        -1, &st, NULL),
                     SQLITE_OK);
    sqlite3_bind_text(st, 1, table, -1, SQLITE_STATIC);
    while (sqlite3_step(st) == SQLITE_ROW)
        assert_int_equal(fl_buf_printf(out, "%d:%s:%s:%d:%d,", sqlite3_column_int(st, 0),
                                       (const char *)sqlite3_column_text(st, 1),
                                       (const char *)sqlite3_column_text(st, 2),
                                       sqlite3_column_int(st, 3), sqlite3_column_int(st, 4)),
                         0);
    sqlite3_finalize(st);
}

/* A meta.db whose registry copy predates trace_id (migration 5 not applied; the copy as the
 * sync of that version wrote it) is brought to exactly what a sync writes now; applying the
 * migration again changes nothing. */
static void migration_5_adds_trace_id(void **state)
{
    (void)state;
    char path[256];
    const char *base = getenv("FL_TEST_TMP");
    snprintf(path, sizeof path, "%s/ddl-migrate-%d.db", base && *base ? base : "/tmp",
             (int)getpid());
    unlink(path);
    fl_catalog *c = NULL;
    assert_int_equal(fl_catalog_open(path, &c), 0);
    assert_int_equal(fl_catalog_registry_sync(c), 0);
    static const char *const tables[] = {"raw_sensor_data", "processed_sensor_data",
                                         "rejected_records", "hourly_summary"};
    fl_buf want[4] = {{0}}, got = {0};
    for (int i = 0; i < 4; i++)
        stored_columns(c, tables[i], &want[i]);
    assert_non_null(strstr(want[0].data, ",14:trace_id:string:1:0,15:year:int32:0:1,"));
    /* take the column out as the older fleetlake had it, and the migration with it */
    assert_int_equal(sqlite3_exec(fl_catalog_db(c),
                                  "DELETE FROM catalog_columns WHERE name = 'trace_id';"
                                  "UPDATE catalog_columns SET position = -(position - 1)"
                                  " WHERE is_partition = 1 AND table_name <> 'hourly_summary';"
                                  "UPDATE catalog_columns SET position = -position"
                                  " WHERE position < 0;"
                                  "DELETE FROM catalog_migrations WHERE version >= 5;",
                                  NULL, NULL, NULL),
                     SQLITE_OK);
    stored_columns(c, "raw_sensor_data", &got);
    assert_non_null(strstr(got.data, ",13:sequence_number:int64:0:0,14:year:int32:0:1,"));
    fl_catalog_close(c);
    for (int round = 0; round < 2; round++) {
        assert_int_equal(fl_catalog_open(path, &c), 0);
        assert_int_equal(fl_catalog_schema_version(c), 5);
        for (int i = 0; i < 4; i++) {
            stored_columns(c, tables[i], &got);
            assert_string_equal(got.data, want[i].data);
        }
        if (round == 0)
            assert_int_equal(sqlite3_exec(fl_catalog_db(c),
                                          "DELETE FROM catalog_migrations WHERE version >= 5", NULL,
                                          NULL, NULL),
                             SQLITE_OK);
        fl_catalog_close(c);
    }
    for (int i = 0; i < 4; i++)
        fl_buf_free(&want[i]);
    fl_buf_free(&got);
    unlink(path);
}

static fl_lake_file file(const char *path, int hour, int64_t rows, int64_t bytes, int64_t min_ts,
                         int64_t max_ts)
{
    fl_lake_file f;
    memset(&f, 0, sizeof f);
    snprintf(f.path, sizeof f.path, "%s", path);
    snprintf(f.table_name, sizeof f.table_name, "raw_sensor_data");
    f.year = 2026, f.month = 1, f.day = 2, f.hour = hour;
    f.rows = rows, f.bytes = bytes, f.min_ts = min_ts, f.max_ts = max_ts;
    f.shard = 0, f.retired_at = -1;
    return f;
}

struct collected {
    fl_catalog_group g[8];
    size_t n;
};

static int collect(void *arg, const fl_catalog_group *g)
{
    struct collected *c = arg;
    c->g[c->n++] = *g;
    return 0;
}

static void statistics(void **state)
{
    (void)state;
    fl_catalog *c = NULL;
    assert_int_equal(fl_catalog_open(":memory:", &c), 0);
    fl_lake_file a = file("raw-data/year=2026/month=1/day=2/hour=3/part-0-1-10.parquet", 3, 10, 1000, 100, 200);
    fl_lake_file b2 = file("raw-data/year=2026/month=1/day=2/hour=3/part-1-1-5.parquet", 3, 5, 500, 50, 300);
    fl_lake_file h4 = file("raw-data/year=2026/month=1/day=2/hour=4/part-0-11-17.parquet", 4, 7, 700, 400, 450);
    fl_lake_file old = file("raw-data/year=2026/month=1/day=2/hour=4/part-0-0-0.parquet", 4, 99, 9900, 1, 2);
    snprintf(old.state, sizeof old.state, "retired");
    old.retired_at = 5;
    assert_int_equal(fl_catalog_file_insert(c, &a), 0);
    assert_int_equal(fl_catalog_file_insert(c, &b2), 0);
    assert_int_equal(fl_catalog_file_insert(c, &h4), 0);
    assert_int_equal(fl_catalog_file_insert(c, &old), 0);
    fl_catalog_table t;
    assert_int_equal(fl_catalog_table_get(c, "raw_sensor_data", &t), 0);
    fl_catalog_table_stats s;
    assert_int_equal(fl_catalog_table_stats_get(c, &t, &s), 0);
    assert_int_equal(s.files, 3);
    assert_int_equal(s.rows, 22);
    assert_int_equal(s.bytes, 2200);
    assert_int_equal(s.partitions, 2);
    assert_int_equal(s.min_ts, 50);
    assert_int_equal(s.max_ts, 450);
    assert_int_equal(s.retired_files, 1);
    assert_int_equal(s.retired_bytes, 9900);
    struct collected parts = {0}, tiers = {0};
    assert_int_equal(fl_catalog_partitions_query(c, "raw_sensor_data", collect, &parts), 0);
    assert_int_equal(parts.n, 2);
    assert_int_equal(parts.g[0].hour, 3);
    assert_int_equal(parts.g[0].files, 2);
    assert_int_equal(parts.g[0].rows, 15);
    assert_int_equal(parts.g[0].min_ts, 50);
    assert_int_equal(parts.g[0].max_ts, 300);
    assert_int_equal(parts.g[1].hour, 4);
    assert_int_equal(parts.g[1].rows, 7);
    assert_int_equal(fl_catalog_tiers_query(c, "raw_sensor_data", collect, &tiers), 0);
    assert_int_equal(tiers.n, 1);
    assert_string_equal(tiers.g[0].tier, "hot");
    assert_int_equal(tiers.g[0].bytes, 2200);
    /* an empty table */
    assert_int_equal(fl_catalog_table_get(c, "rejected_records", &t), 0);
    assert_int_equal(fl_catalog_table_stats_get(c, &t, &s), 0);
    assert_int_equal(s.files, 0);
    assert_int_equal(s.min_ts, -1);
    /* JSON: the same numbers */
    fl_buf j = {0};
    assert_int_equal(fl_catalog_tables_json(c, &j), 0);
    assert_non_null(strstr(j.data, "{\"name\":\"raw_sensor_data\",\"kind\":\"lake\",\"prefix\":\"raw-data\""));
    assert_non_null(strstr(j.data, "\"files\":3,\"rows\":22,\"bytes\":2200,\"partitions\":2,"
                                   "\"retired_files\":1,\"retired_bytes\":9900,"));
    assert_non_null(strstr(j.data, "{\"name\":\"device_state\",\"kind\":\"live\",\"prefix\":null"));
    fl_buf_free(&j);
    fl_catalog_close(c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(golden_per_dialect),   cmocka_unit_test(reserved_words_quoted),
        cmocka_unit_test(trino_partitions_last), cmocka_unit_test(athena_projection),
        cmocka_unit_test(locations),             cmocka_unit_test(duckdb_live_files),
        cmocka_unit_test(types_and_dialects),    cmocka_unit_test(registry),
        cmocka_unit_test(statistics),
        cmocka_unit_test(migration_5_adds_trace_id),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
