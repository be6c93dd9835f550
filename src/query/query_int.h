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
    /* device_id = '…' and device_id IN (…), intersected: only devices[0..device_count) match
     * (sorted by bytes, unique; borrowed from the caller, see fl_query_bounds_set_devices). */
    int has_device;
    const fl_slice *devices;
    size_t device_count;
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
/* Restrict b to the device ids ids[0..n) ('=' is a list of one, IN the whole list): ids is
 * sorted and deduplicated in place; a second restriction keeps the intersection (written into
 * the new ids array). Borrowed: ids and the bytes they point to must outlive b. */
void fl_query_bounds_set_devices(fl_query_bounds *b, fl_slice *ids, size_t n);
/* 1 if id is one of b's devices (always 1 when b has no device restriction). */
int fl_query_device_match(const fl_query_bounds *b, fl_slice id);
/* Byte-wise comparison of two strings, shorter first on a common prefix: SQLite's BINARY
 * collation, and Parquet's BYTE_ARRAY statistics order. */
int fl_query_slice_cmp(fl_slice a, fl_slice b);

/* A pushed-down comparison on a numeric file column (INTEGER/BOOLEAN or REAL), checked on
 * every decoded row before SQLite sees it: the intersection of the column's constraints as one
 * range. Like the bounds it may keep rows the predicate rejects, never drop one it accepts. */
typedef struct fl_query_row_filter {
    int column;  /* table column */
    int is_real; /* DOUBLE column: dlo/dhi (open = strict); else ilo/ihi, inclusive */
    int64_t ilo, ihi;
    double dlo, dhi;
    int dlo_open, dhi_open;
} fl_query_row_filter;

void fl_query_row_filter_init(fl_query_row_filter *f, int column, int is_real);
void fl_query_row_filter_add_int(fl_query_row_filter *f, int op, int64_t v);
void fl_query_row_filter_add_real(fl_query_row_filter *f, int op, double v);
static inline int fl_query_row_filter_int(const fl_query_row_filter *f, int64_t x)
{
    return x >= f->ilo && x <= f->ihi;
}
static inline int fl_query_row_filter_real(const fl_query_row_filter *f, double x)
{
    return (f->dlo_open ? x > f->dlo : x >= f->dlo) && (f->dhi_open ? x < f->dhi : x <= f->dhi);
}

/* ---- session (session.c) ----------------------------------------------------------------- */

#define QUERY_TABLES_MAX 8
typedef struct pq_module_aux {
    struct fl_query_session *session;
    size_t index;
} pq_module_aux;

struct fl_query_session {
    sqlite3 *db;
    fl_objstore *store;         /* the main lake */
    fl_lake_stores *stores;     /* resolves lake_files.location (warm tier) */
    sqlite3_stmt *locate_stmt;  /* fl_query_file_store's look-up, prepared on first use */
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

/* The object store holding the live file at path, by its catalog row's location in the
 * statement's snapshot (the main lake, or the lifecycle's warm directory). */
FL_MUST_USE int fl_query_file_store(fl_query_session *s, const char *path, fl_objstore **out);

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
    int64_t rows; /* catalogued */
} pq_file;

/* Scan order the plan promised SQLite (idxStr's second field). */
enum {
    PQ_ORDER_NONE = '-',
    PQ_ORDER_PARTITION = 'P', /* files in (year, month, day, hour) order: ORDER/GROUP BY them */
    PQ_ORDER_DEVICE = 'G',    /* rows grouped by device_id, ascending (vtab_group.c) */
};

#define PQ_ROW_FILTERS_MAX 16

typedef struct pq_spool pq_spool; /* vtab_group.c */

typedef struct pq_cursor {
    sqlite3_vtab_cursor base;
    fl_query_bounds bounds;
    uint64_t columns_used;
    int order;
    pq_file *files;
    size_t file_count, next_file;
    const pq_file *file; /* current */
    fl_objstore_reader *object;
    fl_pq_reader *reader;
    fl_pq_reader *spare; /* the last closed file's reader: its decode buffers go to the next */
    int row_group, row_group_count;
    int file_column[PQ_COLUMNS_MAX]; /* table column -> file column, or -1 */
    const fl_pq_column_def *file_def[PQ_COLUMNS_MAX];
    fl_pq_column_values values[PQ_COLUMNS_MAX]; /* decoded chunks of the row group */
    uint8_t decoded[PQ_COLUMNS_MAX];
    /* Row-level filtering of the current group: the pushed-down device set, time range and
     * numeric comparisons are checked in C on the decoded columns (filter columns first; the
     * other used columns are decoded only if a row survives), and SQLite sees only the
     * surviving rows sel[0..sel_count). sel is NULL when nothing is filtered (every row). */
    fl_query_row_filter filters[PQ_ROW_FILTERS_MAX];
    int filter_count;
    int filter_device, filter_time; /* check the device set / time range per row */
    uint32_t *sel;
    size_t sel_cap, sel_count, sel_pos;
    fl_slice *device_ids; /* the device set's storage (one block: slices, then bytes) */
    int64_t group_rows, row, rowid;
    int64_t file_groups_read, file_groups_skipped; /* of the current file, for EXPLAIN */
    int eof;
    /* row-level access: the last device id checked and the answer */
    char access_cache[128];
    size_t access_cache_len; /* SIZE_MAX: none */
    int access_cache_ok;
    pq_spool *spool; /* PQ_ORDER_DEVICE */
} pq_cursor;

FL_MUST_USE int fl_query_vtab_register(fl_query_session *s);
/* vtab_scan.c: the scan callbacks of the module. */
int fl_query_vtab_filter(sqlite3_vtab_cursor *cur, int idx_num, const char *idx_str, int argc,
                         sqlite3_value **argv);
int fl_query_vtab_next(sqlite3_vtab_cursor *cur);
int fl_query_vtab_eof(sqlite3_vtab_cursor *cur);
int fl_query_vtab_column(sqlite3_vtab_cursor *cur, sqlite3_context *ctx, int i);
void fl_query_vtab_cursor_reset(pq_cursor *c);
/* vtab_scan.c, for vtab_group.c: move to the next row group with surviving rows (opening
 * files as needed; c->eof at the end), and restart the scan at the first file. */
int pq_scan_advance_group(pq_cursor *c);
void pq_scan_rewind(pq_cursor *c);
int pq_scan_set_error(pq_cursor *c, const char *fmt, const char *a, const char *b);
/* vtab_group.c: PQ_ORDER_DEVICE scans. filter reads the (first part of the) pruned files into
 * an in-memory spool grouped by device_id and positions on the first row; next/column/eof
 * replace the streaming ones; free releases the spool. */
int pq_group_filter(pq_cursor *c);
int pq_group_next(pq_cursor *c);
int pq_group_column(pq_cursor *c, sqlite3_context *ctx, int i);
void pq_group_free(pq_cursor *c);

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
/* Shared by the JSON encoders: one value as JSON. */
int fl_query_json_value(fl_buf *out, sqlite3_value *v);

#endif
