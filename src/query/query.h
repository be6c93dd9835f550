/* query.h — the SQL query layer (the Athena role): SQLite over the lake's Parquet files.
 *
 * A session is one read-only SQLite connection on <data>/meta.db (so the live device_state and
 * lake_files tables are plain tables of its main schema) plus one eponymous virtual table per
 * lake table (fl_lake_table_at): raw_sensor_data, processed_sensor_data, rejected_records.
 * Their columns are the Parquet columns followed by the partition columns year, month, day,
 * hour (INTEGER). Timestamps are INTEGER µs since the epoch (UTC); booleans INTEGER 0/1.
 *
 * A statement runs inside one read transaction opened before it starts (WAL snapshot), so the
 * list of live files every scan of the statement sees, and device_state, are those at the
 * statement's start while delivery and compaction keep committing. Scans prune partitions by
 * year/month/day/hour and time-column constraints (and the catalog's min_ts/max_ts), skip row
 * groups by statistics (time column range, device_id equality), decode only the columns the
 * statement uses, and stream one row group at a time.
 *
 * Safety: an authorizer admits only SELECT (reads, functions, recursive CTEs); extension
 * loading is off; SQLITE_LIMIT_* bound statement shape; a progress handler enforces the time
 * limit and a per-statement memory budget; the cursor enforces the row limit. Errors carry a
 * stable code: sql_error, not_allowed, forbidden (a table or column the session's access does
 * not reach), timeout, too_many_rows, out_of_memory, unavailable.
 * Like every library-like module it never logs. */
#ifndef FL_QUERY_QUERY_H
#define FL_QUERY_QUERY_H

#include <stddef.h>
#include <stdint.h>

#include "core/core.h"
#include "security/security.h"

typedef struct fl_query_limits {
    int64_t timeout_ms;    /* wall time of one statement, prepare to last row; 0 = none */
    int64_t max_rows;      /* result rows; more is the error too_many_rows; 0 = none */
    int64_t memory_bytes;  /* SQLite heap growth during one statement; 0 = none */
    int64_t max_sql_bytes; /* statement text length */
} fl_query_limits;

/* Limits from the [query] section of a configuration. */
fl_query_limits fl_query_limits_from_config(const fl_config *cfg);

typedef struct fl_query_error {
    const char *code; /* NULL: no error; else one of the codes above (static) */
    char message[512];
} fl_query_error;

/* Per-lake-table counters of one statement (for EXPLAIN and stats). */
typedef struct fl_query_scan_stats {
    int64_t scans;                                    /* xFilter calls */
    int64_t partitions_considered, partitions_pruned; /* catalogued live files */
    int64_t files_opened;
    int64_t row_groups_read, row_groups_skipped;
    int64_t rows_scanned;
    int64_t bytes_considered; /* catalogued bytes of the files considered */
} fl_query_scan_stats;

typedef struct fl_query_session fl_query_session;

/* Open a session on data_dir (meta.db and lake/ under it). On failure *out is NULL and err
 * says why (code "unavailable"). *out is owned by the caller (fl_query_session_close). */
FL_MUST_USE int fl_query_session_open(const char *data_dir, const fl_query_limits *limits,
                                      fl_query_session **out, fl_query_error *err);
void fl_query_session_close(fl_query_session *s);
/* Limit what the session's statements may see to access a (a caller's API key; sessions see
 * everything by default): tables and columns above a->max_class are refused by the
 * authorizer (not_allowed, naming the column), and with fleets/devices every table's rows
 * are filtered inside the virtual tables — the SQL text is never rewritten. Call once,
 * before the first cursor. */
FL_MUST_USE int fl_query_session_restrict(fl_query_session *s, const fl_access *a,
                                          fl_query_error *err);
/* The limits of role r: [role.NAME] caps from cfg, each at most the [query] value. */
fl_query_limits fl_query_limits_for_role(const fl_config *cfg, fl_role r);

/* Result encoders (ops table): "table", "csv", "json", "ndjson". */
typedef struct fl_query_encoder fl_query_encoder;
const fl_query_encoder *fl_query_encoder_find(const char *name);
const char *fl_query_encoder_content_type(const fl_query_encoder *e);

/* A running statement. open prepares the statement and computes its first row, so every error
 * of a statement that fails before producing output (syntax, refused, most timeouts) is
 * reported by open. explain: the output is the plan instead of the rows — SQLite's EXPLAIN
 * QUERY PLAN and, after running the statement to the end (rows discarded), each lake table's
 * counters. */
typedef struct fl_query_cursor fl_query_cursor;
FL_MUST_USE int fl_query_cursor_open(fl_query_session *s, const char *sql,
                                     const fl_query_encoder *enc, int explain,
                                     fl_query_cursor **out, fl_query_error *err);
/* Append the next piece of encoded output (about 64 KiB at most) to out. Returns 1 when more
 * may follow, 0 when the output is complete, or a negative code on an error mid-stream: the
 * error (in err) has then already been encoded into out where the format can carry it (json:
 * an "error" member; ndjson: a last {"error":...} line; table/csv: nothing — the caller must
 * signal it out of band). */
FL_MUST_USE int fl_query_cursor_next(fl_query_cursor *c, fl_buf *out, fl_query_error *err);
/* Rows produced so far. */
int64_t fl_query_cursor_rows(const fl_query_cursor *c);
/* Ends the statement and its read transaction. Accepts NULL. */
void fl_query_cursor_close(fl_query_cursor *c);

#endif
