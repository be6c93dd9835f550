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
 *   lake_files(path PK, table_name, year, month, day, hour (NULL when the table is not
 *              partitioned by hour), rows, bytes, min_ts, max_ts (µs), shard, first_seq,
 *              last_seq (NULL for files not derived from one stream shard), tier ('hot'),
 *              state ('live' | 'retired'), created_at, retired_at (µs))
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
    char tier[16];  /* "hot" */
    char state[16]; /* "live" | "retired" */
    int64_t created_at;
    int64_t retired_at; /* -1: NULL */
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

#endif
