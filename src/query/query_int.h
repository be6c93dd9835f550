/* query_int.h — private to src/query: the session, the pruning bounds and decisions (pure, unit
 * tested), the virtual table module, the authorizer and the result encoders' ops table. */
#ifndef FL_QUERY_QUERY_INT_H
#define FL_QUERY_QUERY_INT_H

#include <sqlite3.h>

#include "catalog/catalog.h"
#include "lake/lake.h"
#include "query/query.h"

/* ---- pruning (prune.c) ------------------------------------------------------------------- */

enum { QB_YEAR, QB_MONTH, QB_DAY, QB_HOUR, QB_PART_COUNT };

/* What a scan's pushed-down constraints allow, as inclusive ranges. SQLite re-checks every
 * constraint, so bounds may be looser than the predicate, never tighter. */
typedef struct fl_query_bounds {
    int64_t part_lo[QB_PART_COUNT], part_hi[QB_PART_COUNT];
    int64_t ts_lo, ts_hi; /* µs of the table's time column */
    int empty;            /* contradictory constraints (e.g. x = NULL): nothing matches */
    int has_device;
    char device_id[256];
} fl_query_bounds;

void fl_query_bounds_init(fl_query_bounds *b);
/* Narrow b by "column op value" for an integer value. column: QB_* or QB_TS. op: SQLite's
 * SQLITE_INDEX_CONSTRAINT_{EQ,LT,LE,GT,GE}. */
#define QB_TS QB_PART_COUNT
void fl_query_bounds_add_int(fl_query_bounds *b, int column, int op, int64_t v);
/* The same for a real value (widened to the integers around it). */
void fl_query_bounds_add_real(fl_query_bounds *b, int column, int op, double v);
/* 1 if a file (catalog row) may hold matching rows. partitioned_by_hour: the table's. */
int fl_query_file_may_match(const fl_query_bounds *b, const fl_lake_file *f,
                            int partitioned_by_hour);
/* 1 if a row group may hold matching rows, given its time-column and device_id statistics
 * (either may be NULL: unknown). */
int fl_query_row_group_may_match(const fl_query_bounds *b, const fl_pq_stats *ts,
                                 const fl_pq_stats *device);

/* ---- session (session.c) ----------------------------------------------------------------- */

#define QUERY_TABLES_MAX 8
typedef struct pq_module_aux {
    struct fl_query_session *session;
    size_t index;
} pq_module_aux;

struct fl_query_session {
    sqlite3 *db;
    fl_objstore *store;
    fl_query_limits limits;
    int trusted;              /* 1 while the session runs its own statements */
    int64_t deadline_mono_us; /* 0: none */
    int64_t memory_base;      /* sqlite3_memory_used() at statement start */
    const char *stop_code;    /* set by the progress handler when it interrupts */
    fl_query_scan_stats stats[QUERY_TABLES_MAX]; /* per lake table, by fl_lake_table_at index */
    pq_module_aux module_aux[QUERY_TABLES_MAX];
    /* EXPLAIN: the files each scan read, as ,"line" JSON items (at most EXPLAIN_FILES_MAX). */
    int collect_files;
    fl_buf explain_files;
    int64_t explain_files_count;
    /* what the caller may see (fl_query_session_restrict; full by default) */
    fl_access access;
    int restricted;      /* a key's access: the authorizer checks classes */
    int rows_restricted; /* limited to fleets/devices: scans and row filters skip rows */
    char denied[256];    /* why the authorizer refused, for the error message */
};

/* EXPLAIN: note a file a scan read and its row groups read/skipped (no-op unless collecting). */
void fl_query_note_file(fl_query_session *s, const char *path, int64_t groups_read,
                        int64_t groups_skipped);

/* ---- virtual tables (vtab.c, vtab_scan.c) ------------------------------------------------ */

/* Extra columns after a table's Parquet columns. */
enum { PQ_EXTRA_YEAR, PQ_EXTRA_MONTH, PQ_EXTRA_DAY, PQ_EXTRA_HOUR, PQ_EXTRA_COUNT };
#define PQ_COLUMNS_MAX 62 /* colUsed bits 0-62 are exact; our tables have far fewer */

typedef struct pq_vtab {
    sqlite3_vtab base;
    fl_query_session *session;
    const fl_lake_table_info *table;
    size_t table_index;
    int time_column;   /* index in table->columns, or -1 */
    int device_column; /* index of device_id, or -1 */
    /* Partition columns after the file columns: QB_YEAR.. of each. hour only when the table
     * is partitioned by hour; a partition name that is also a file column (hourly_summary's
     * "hour" timestamp) is left to the file column. */
    int extra_count;
    int extra_part[PQ_EXTRA_COUNT];
} pq_vtab;

/* One live file that survived partition pruning: its key and partition. */
typedef struct pq_file {
    char *path;
    int32_t part[QB_PART_COUNT];
} pq_file;

typedef struct pq_cursor {
    sqlite3_vtab_cursor base;
    fl_query_bounds bounds;
    uint64_t columns_used;
    pq_file *files;
    size_t file_count, next_file;
    const pq_file *file; /* current */
    fl_objstore_reader *object;
    fl_pq_reader *reader;
    int row_group, row_group_count;
    int file_column[PQ_COLUMNS_MAX]; /* table column -> file column, or -1 */
    const fl_pq_column_def *file_def[PQ_COLUMNS_MAX];
    fl_pq_column_values values[PQ_COLUMNS_MAX]; /* decoded chunks of the row group */
    uint8_t decoded[PQ_COLUMNS_MAX];
    int64_t group_rows, row, rowid;
    int64_t file_groups_read, file_groups_skipped; /* of the current file, for EXPLAIN */
    int eof;
    /* row-level access: the last device id checked and the answer */
    char access_cache[128];
    size_t access_cache_len; /* SIZE_MAX: none */
    int access_cache_ok;
} pq_cursor;

FL_MUST_USE int fl_query_vtab_register(fl_query_session *s);
/* vtab_scan.c: the scan callbacks of the module. */
int fl_query_vtab_filter(sqlite3_vtab_cursor *cur, int idx_num, const char *idx_str, int argc,
                         sqlite3_value **argv);
int fl_query_vtab_next(sqlite3_vtab_cursor *cur);
int fl_query_vtab_eof(sqlite3_vtab_cursor *cur);
int fl_query_vtab_column(sqlite3_vtab_cursor *cur, sqlite3_context *ctx, int i);
void fl_query_vtab_cursor_reset(pq_cursor *c);

/* ---- authorizer (authorizer.c) ----------------------------------------------------------- */

/* sqlite3_set_authorizer callback; ctx is the session. */
int fl_query_authorize(void *ctx, int action, const char *a, const char *b, const char *c,
                       const char *d);

/* ---- row filter over meta.db tables (rowfilter.c) ----------------------------------------- */

/* Register the fl_rowfilter module and shadow each live table with a device_id column
 * (device_state, alerts) by a temp.<name> virtual table showing only the rows s->access
 * allows. */
FL_MUST_USE int fl_query_rowfilter_install(fl_query_session *s);
/* 1 when table is one fl_query_rowfilter_install shadows. */
int fl_query_rowfilter_covers(const char *table);

/* ---- encoders (encode_*.c) --------------------------------------------------------------- */

struct fl_query_encoder {
    const char *name;
    const char *content_type;
    int (*begin)(fl_buf *out, sqlite3_stmt *st);
    int (*row)(fl_buf *out, sqlite3_stmt *st, int64_t index);
    /* stats_json: a JSON object text or NULL; err: the mid-stream error or NULL. */
    int (*end)(fl_buf *out, const char *stats_json, const fl_query_error *err);
};
extern const fl_query_encoder fl_query_encoder_table, fl_query_encoder_csv, fl_query_encoder_json,
    fl_query_encoder_ndjson;
/* A double as text that reads back exactly. */
int fl_query_real(fl_buf *out, double x);
/* Shared by the JSON encoders: one value as JSON. */
int fl_query_json_value(fl_buf *out, sqlite3_value *v);

#endif
