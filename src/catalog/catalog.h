/* catalog.h — the lake's catalog in meta.db (the Glue Data Catalog role).
 *
 * The catalog is the source of truth for what the lake holds: a file in the lake is part of a
 * table only once its row is in lake_files, and readers (query, check, compaction, DuckDB
 * helpers) go through it. Writers commit a file's row in the same SQLite transaction as their
 * consumer checkpoint (fl_stream_checkpoint_save on fl_catalog_db()), which is what makes
 * delivery exactly-once (DESIGN.md §5).
 *
 * Schema (versioned by catalog_migrations; issue 5 adds tables, columns and DDL export as new
 * migrations, never by editing old ones). The SQL is portable to PostgreSQL: standard types
 * (BIGINT for 64-bit values), no AUTOINCREMENT/ROWID, explicit transactions; the one
 * SQLite-specific statement, BEGIN IMMEDIATE, is confined to fl_catalog_begin.
 *
 *   catalog_tables(name PK, kind, prefix, time_column, partition_keys "year,month,...",
 *              updated_at), catalog_columns(table_name, position, name, type, nullable,
 *              is_partition): a copy of the registry below (fl_catalog_registry_sync)
 *   lake_files(path PK, table_name, year, month, day, hour (NULL when the table is not
 *              partitioned by hour), rows, bytes, min_ts, max_ts (µs), shard, first_seq,
 *              last_seq (NULL for files not derived from one stream shard), tier ('hot' |
 *              'warm' | 'cold'), state ('live' | 'retired'), created_at, retired_at (µs),
 *              location (NULL: the main lake; else the absolute directory of the store
 *              holding the file, migration 4: the lifecycle's warm tier))
 *   lake_deletes(path, location ('' = main lake), delete_after (µs), reason): objects to delete
 *              once delete_after passed, scheduled in the transaction that stopped them being
 *              part of the lake (lifecycle moves and expiry, src/lake/lifecycle_apply.c)
 *
 * A catalog handle is one SQLite connection: use it from one thread at a time. Each consumer
 * thread opens its own (SQLite serialises writers through the WAL lock; busy_timeout waits). */
#ifndef FL_CATALOG_CATALOG_H
#define FL_CATALOG_CATALOG_H

#include <sqlite3.h>
#include <stddef.h>
#include <stdint.h>

#include "core/core.h"

#define FL_CATALOG_PATH_MAX 1024
#define FL_CATALOG_NAME_MAX 64

/* Files are 'live' until compaction replaces them; 'retired' rows stay (with retired_at) so
 * sequence coverage and audits survive the rewrite. */
#define FL_CATALOG_STATE_LIVE "live"
#define FL_CATALOG_STATE_RETIRED "retired"

typedef struct fl_catalog fl_catalog;

/* One row of lake_files. Integers that may be NULL use -1 for NULL (hour, shard, min_ts and
 * max_ts only when rows == 0); first_seq/last_seq use 0 for NULL (sequence numbers start
 * at 1). */
typedef struct fl_lake_file {
    char path[FL_CATALOG_PATH_MAX];        /* object key, e.g. raw-data/year=2026/.../part-0-1-9.parquet */
    char table_name[FL_CATALOG_NAME_MAX];  /* e.g. raw_sensor_data */
    int32_t year, month, day, hour;        /* hour -1: not partitioned by hour */
    int64_t rows;
    int64_t bytes;
    int64_t min_ts, max_ts; /* µs, of the table's event-time column */
    int32_t shard;          /* -1: none */
    uint64_t first_seq, last_seq;
    char tier[16];  /* "hot" | "warm" | "cold" */
    char state[16]; /* "live" | "retired" */
    int64_t created_at;
    int64_t retired_at; /* -1: NULL */
    /* "": the main lake (<data>/lake). Otherwise the absolute directory of the object store
     * that holds path (the warm tier); fl_lake_stores_get (lake.h) resolves it. */
    char location[FL_CATALOG_PATH_MAX];
} fl_lake_file;

/* Open meta.db at path (":memory:" for tests) as a new connection: WAL, synchronous=FULL,
 * busy timeout, then create or migrate the catalog tables. *out is owned by the caller
 * (fl_catalog_close). */
FL_MUST_USE int fl_catalog_open(const char *path, fl_catalog **out);
/* Accepts NULL; rolls back an open transaction. */
void fl_catalog_close(fl_catalog *c);
/* The connection, for statements of other modules (fl_stream_checkpoint_*) inside a catalog
 * transaction. Borrowed for the catalog's life. */
sqlite3 *fl_catalog_db(fl_catalog *c);
/* Highest applied schema version. */
int fl_catalog_schema_version(fl_catalog *c);

/* Explicit transactions. begin takes the write lock at once (so two writers wait on each
 * other at begin, never deadlock at commit); commit returns FL_ESQLITE if the commit failed
 * (the transaction is then rolled back); rollback accepts "no transaction open". */
FL_MUST_USE int fl_catalog_begin(fl_catalog *c);
FL_MUST_USE int fl_catalog_commit(fl_catalog *c);
void fl_catalog_rollback(fl_catalog *c);
/* Run fn(c, arg) inside one transaction: commit if it returns 0, roll back otherwise and
 * return its code. */
typedef int (*fl_catalog_txn_fn)(fl_catalog *c, void *arg);
FL_MUST_USE int fl_catalog_transaction(fl_catalog *c, fl_catalog_txn_fn fn, void *arg);

/* Insert a file row (state 'live', tier 'hot' when f's are empty; created_at = now when 0).
 * FL_EEXISTS if the path is already catalogued. */
FL_MUST_USE int fl_catalog_file_insert(fl_catalog *c, const fl_lake_file *f);
/* Fill *out with the row for path; FL_ENOTFOUND if absent. */
FL_MUST_USE int fl_catalog_file_get(fl_catalog *c, const char *path, fl_lake_file *out);
/* Mark a file retired (compaction); FL_ENOTFOUND if no live row has that path. */
FL_MUST_USE int fl_catalog_file_retire(fl_catalog *c, const char *path, int64_t retired_at);

/* Lifecycle: set a live file's tier and location ("" or NULL: the main lake). FL_ENOTFOUND if
 * no live row has that path. */
FL_MUST_USE int fl_catalog_file_move(fl_catalog *c, const char *path, const char *tier,
                                     const char *location);
/* Lifecycle expiry: delete a live file's row. FL_ENOTFOUND if no live row has that path. */
FL_MUST_USE int fl_catalog_file_remove(fl_catalog *c, const char *path);

/* An object scheduled for deletion (lake_deletes). location "" is the main lake. */
typedef struct fl_catalog_delete {
    char path[FL_CATALOG_PATH_MAX];
    char location[FL_CATALOG_PATH_MAX];
    int64_t delete_after; /* µs */
    char reason[64];
} fl_catalog_delete;
typedef int (*fl_catalog_delete_fn)(void *arg, const fl_catalog_delete *d);
/* Schedule (or reschedule) the deletion of object path in location ("" or NULL: the main
 * lake) once delete_after (µs) passed. Call inside the transaction that drops the object from
 * the lake, so the deletion survives a crash. */
FL_MUST_USE int fl_catalog_delete_schedule(fl_catalog *c, const char *path,
                                           const char *location, int64_t delete_after,
                                           const char *reason);
/* fn per scheduled deletion due by due_by (delete_after <= due_by), by path; fn's non-zero
 * return stops and is returned. */
FL_MUST_USE int fl_catalog_deletes_query(fl_catalog *c, int64_t due_by, fl_catalog_delete_fn fn,
                                         void *arg);
/* Forget a scheduled deletion (the object is gone). 0 also when there was none. */
FL_MUST_USE int fl_catalog_delete_done(fl_catalog *c, const char *path, const char *location);

/* Which rows a query returns. Fields -1 (or NULL strings) match anything. */
typedef struct fl_catalog_filter {
    const char *table_name; /* NULL: every table */
    int32_t year, month, day, hour;
    int32_t shard;
    const char *state; /* NULL: any state */
} fl_catalog_filter;
/* A filter matching every row of table (any partition, shard and state). */
fl_catalog_filter fl_catalog_filter_table(const char *table_name);

/* Called per row, ordered by path; return non-zero to stop (returned by the query). */
typedef int (*fl_catalog_file_fn)(void *arg, const fl_lake_file *f);
FL_MUST_USE int fl_catalog_files_query(fl_catalog *c, const fl_catalog_filter *flt,
                                       fl_catalog_file_fn fn, void *arg);
/* Row count and sums of rows and bytes for a filter (any of the out pointers may be NULL). */
FL_MUST_USE int fl_catalog_files_count(fl_catalog *c, const fl_catalog_filter *flt,
                                       int64_t *files, int64_t *rows, int64_t *bytes);

/* Per-partition high-water marks of one (table, shard): the highest last_seq committed in
 * each partition, any state. fn(arg, year, month, day, hour, last_seq) per partition. */
typedef int (*fl_catalog_hwm_fn)(void *arg, int32_t year, int32_t month, int32_t day,
                                 int32_t hour, uint64_t last_seq);
FL_MUST_USE int fl_catalog_high_water_marks(fl_catalog *c, const char *table_name, int32_t shard,
                                            fl_catalog_hwm_fn fn, void *arg);

/* ---- the table registry and DDL export (tables.c, ddl.c) ------------------------------------ */

/* The tables the catalog describes: every lake table of lake.h's fl_lake_table_* list (so the
 * registry can never disagree with what the writers write; a table added there appears here
 * with no edit), then the live tables kept in meta.db (device_state, alerts) that exist in the
 * connection's schema. Live tables have no lake location and no DDL. */

#define FL_CATALOG_COLUMNS_MAX 64

enum fl_catalog_kind { FL_CATALOG_KIND_LAKE = 0, FL_CATALOG_KIND_LIVE = 1 };

/* Column types, engine-neutral; fl_catalog_type_sql names them per dialect. */
enum fl_catalog_type {
    FL_CATALOG_STRING = 0,
    FL_CATALOG_TIMESTAMP, /* µs, UTC */
    FL_CATALOG_INT8,
    FL_CATALOG_INT16,
    FL_CATALOG_INT32,
    FL_CATALOG_INT64,
    FL_CATALOG_DOUBLE,
    FL_CATALOG_BOOLEAN,
    FL_CATALOG_BINARY,
};

enum fl_catalog_dialect {
    FL_DIALECT_ATHENA = 0,
    FL_DIALECT_TRINO,
    FL_DIALECT_SPARK,
    FL_DIALECT_DUCKDB,
};
#define FL_DIALECT_COUNT 4

typedef struct fl_catalog_column {
    char name[FL_CATALOG_NAME_MAX];
    enum fl_catalog_type type;
    int nullable;
    int partition; /* 1: a partition key (year, month, day, hour; INT32), last in the list */
} fl_catalog_column;

/* One table. Self-contained (no pointers), so callers may copy it freely. */
typedef struct fl_catalog_table {
    char name[FL_CATALOG_NAME_MAX];
    enum fl_catalog_kind kind;
    char prefix[FL_CATALOG_NAME_MAX];      /* lake key prefix, e.g. "raw-data"; "" for live */
    char time_column[FL_CATALOG_NAME_MAX]; /* lake: the event-time column partitioned on */
    int partitioned_by_hour;               /* lake: 1 year/month/day/hour, 0 year/month/day */
    size_t column_count;                   /* file columns, then partition keys */
    size_t partition_count;                /* 0 (live), 3 or 4 */
    fl_catalog_column columns[FL_CATALOG_COLUMNS_MAX];
} fl_catalog_table;

/* "athena" | "trino" | "spark" | "duckdb" -> dialect; -1 if unknown. */
int fl_catalog_dialect_parse(const char *name);
const char *fl_catalog_dialect_name(enum fl_catalog_dialect d);
const char *fl_catalog_kind_name(enum fl_catalog_kind k);
/* The SQL type of t in dialect d (static string), e.g. STRING -> "varchar" for Trino. */
const char *fl_catalog_type_sql(enum fl_catalog_type t, enum fl_catalog_dialect d);

/* Every table: lake tables (c may be NULL: only those), then live tables present in c's
 * meta.db. *out is an array of *count tables, caller frees with fl_free. */
FL_MUST_USE int fl_catalog_tables_list(fl_catalog *c, fl_catalog_table **out, size_t *count);
/* One table by name (c may be NULL for lake tables). FL_ENOTFOUND if there is none. */
FL_MUST_USE int fl_catalog_table_get(fl_catalog *c, const char *name, fl_catalog_table *out);

/* Aggregates of a table's live files (retired ones only counted in retired_*). For a live
 * table: rows = its row count, everything else 0. */
typedef struct fl_catalog_table_stats {
    int64_t files, rows, bytes;
    int64_t partitions;
    int64_t min_ts, max_ts; /* µs; -1 when there are no rows */
    int64_t retired_files, retired_bytes;
} fl_catalog_table_stats;
FL_MUST_USE int fl_catalog_table_stats_get(fl_catalog *c, const fl_catalog_table *t,
                                           fl_catalog_table_stats *out);

/* One partition (hour -1 for tables partitioned by day) or one tier of a lake table's live
 * files. */
typedef struct fl_catalog_group {
    int32_t year, month, day, hour;
    char tier[16];
    int64_t files, rows, bytes;
    int64_t min_ts, max_ts; /* -1 when there are no rows */
} fl_catalog_group;
typedef int (*fl_catalog_group_fn)(void *arg, const fl_catalog_group *g);
/* Per partition, in (year, month, day, hour) order; fn's non-zero return stops and is
 * returned. */
FL_MUST_USE int fl_catalog_partitions_query(fl_catalog *c, const char *table_name,
                                            fl_catalog_group_fn fn, void *arg);
/* Per storage tier ("hot", ...), in tier order. */
FL_MUST_USE int fl_catalog_tiers_query(fl_catalog *c, const char *table_name,
                                       fl_catalog_group_fn fn, void *arg);

/* What fl_catalog_ddl writes besides the table itself. */
typedef struct fl_catalog_ddl_options {
    /* The lake's root: "s3://bucket/prefix", "file:///abs/data/lake" or (DuckDB) a plain path;
     * no trailing slash needed. Required. */
    const char *location;
    const char *schema;      /* Trino schema (default "fleetlake"); the catalog is "hive" */
    const char *compression; /* Athena parquet.compression for its writes (default "SNAPPY") */
    /* DuckDB only: read exactly these keys (relative to location; an absolute path for a file
     * outside the lake, the lifecycle's warm tier) instead of a glob, so files retired by
     * compaction but not yet deleted are not read twice. NULL: the glob. */
    const char *const *live_files;
    size_t live_file_count;
} fl_catalog_ddl_options;

/* Append the statements that register lake table t in dialect d at o->location to out
 * (comments explain the caveats). FL_EUNSUPPORTED for a live table, FL_EINVAL without a
 * location. */
FL_MUST_USE int fl_catalog_ddl(const fl_catalog_table *t, enum fl_catalog_dialect d,
                               const fl_catalog_ddl_options *o, fl_buf *out);
/* fl_catalog_ddl with o->live_files filled from c's live files of t (DuckDB lists them instead
 * of a glob). FL_ENOTFOUND when t has no live file. o->live_files is ignored. */
FL_MUST_USE int fl_catalog_ddl_live(fl_catalog *c, const fl_catalog_table *t,
                                    enum fl_catalog_dialect d, const fl_catalog_ddl_options *o,
                                    fl_buf *out);

/* JSON encodings shared by `fleetlake catalog --format json` and GET /v1/tables (tables_json.c).
 * list: {"tables":[{name, kind, prefix, partition_keys, files, rows, bytes, partitions,
 * min_ts, max_ts}]}; one table: its columns, stats, tiers and (at most partitions_max)
 * partitions. Appended to out. */
FL_MUST_USE int fl_catalog_tables_json(fl_catalog *c, fl_buf *out);
FL_MUST_USE int fl_catalog_table_json(fl_catalog *c, const fl_catalog_table *t,
                                      size_t partitions_max, fl_buf *out);
/* Rewrite meta.db's catalog_tables/catalog_columns (migration 3) from the registry in one
 * transaction, so tools that only read meta.db see the tables too. The in-code registry stays
 * the source of truth; serve calls this at start. */
FL_MUST_USE int fl_catalog_registry_sync(fl_catalog *c);
/* The engine-neutral type name: "string", "timestamp", "int8" ... "binary". */
const char *fl_catalog_type_name(enum fl_catalog_type t);

#endif
