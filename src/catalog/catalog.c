/* catalog.c — meta.db's catalog tables: connection setup, schema migrations, transactions
 * and the lake_files rows that say which lake files exist and what they hold.
 *
 * Migrations are an append-only list of SQL scripts; catalog_migrations records each applied
 * version, so a meta.db written by an older fleetlake is upgraded in place at open and a newer
 * one is refused (FL_EUNSUPPORTED) rather than misread. */
#include <stdio.h>
#include <string.h>

#include "catalog/catalog.h"

/* SQLite waits this long for another connection's write lock (consumers commit a few times a
 * second each, holding the lock for milliseconds); past it a commit fails and is retried. */
#define BUSY_TIMEOUT_MS 10000

struct fl_catalog {
    sqlite3 *db;
    int in_txn;
};

static const char *const migrations[] = {
    /* 1: lake files (issue 2: raw delivery) */
    "CREATE TABLE IF NOT EXISTS lake_files ("
    " path TEXT PRIMARY KEY,"
    " table_name TEXT NOT NULL,"
    " year INTEGER NOT NULL,"
    " month INTEGER NOT NULL,"
    " day INTEGER NOT NULL,"
    " hour INTEGER,"
    " rows BIGINT NOT NULL,"
    " bytes BIGINT NOT NULL,"
    " min_ts BIGINT,"
    " max_ts BIGINT,"
    " shard INTEGER,"
    " first_seq BIGINT,"
    " last_seq BIGINT,"
    " tier TEXT NOT NULL,"
    " state TEXT NOT NULL,"
    " created_at BIGINT NOT NULL,"
    " retired_at BIGINT);"
    "CREATE INDEX IF NOT EXISTS lake_files_partition"
    " ON lake_files (table_name, year, month, day, hour);"
    "CREATE INDEX IF NOT EXISTS lake_files_shard ON lake_files (table_name, shard, last_seq);",
    /* 2: device_state (issue: real-time processor) — the DynamoDB role. One row per device,
     * written by the processor consumer of the device's shard in the same transaction as its
     * checkpoint and files; state is the detector state blob (fl_device_state_encode). Times
     * are µs since the epoch; last_anomaly_* are NULL until the device's first anomaly.
     * BYTEA is PostgreSQL's binary type; SQLite gives it NUMERIC affinity, which stores a
     * bound blob unchanged (only TEXT values are ever converted), so the DDL stays portable. */
    "CREATE TABLE IF NOT EXISTS device_state ("
    " device_id TEXT PRIMARY KEY,"
    " shard INTEGER NOT NULL,"
    " state BYTEA NOT NULL,"
    " timestamp BIGINT,"
    " present INTEGER NOT NULL,"
    " temperature DOUBLE PRECISION,"
    " humidity DOUBLE PRECISION,"
    " pressure DOUBLE PRECISION,"
    " latitude DOUBLE PRECISION,"
    " longitude DOUBLE PRECISION,"
    " anomaly_score DOUBLE PRECISION,"
    " quality_flags INTEGER NOT NULL,"
    " last_seen BIGINT NOT NULL,"
    " record_count BIGINT NOT NULL,"
    " anomaly_count BIGINT NOT NULL,"
    " last_anomaly_at BIGINT,"
    " last_anomaly_kind TEXT,"
    " last_anomaly_metric TEXT,"
    " last_anomaly_score DOUBLE PRECISION,"
    " updated_at BIGINT NOT NULL);"
    "CREATE INDEX IF NOT EXISTS device_state_shard ON device_state (shard);",
    /* 3: the table registry, persisted for external tools (issue: catalog). A copy of the
     * in-code registry (tables.c, the source of truth), rewritten by
     * fl_catalog_registry_sync at every serve start; type is the engine-neutral name. */
    "CREATE TABLE IF NOT EXISTS catalog_tables ("
    " name TEXT PRIMARY KEY,"
    " kind TEXT NOT NULL,"
    " prefix TEXT,"
    " time_column TEXT,"
    " partition_keys TEXT NOT NULL,"
    " updated_at BIGINT NOT NULL);"
    "CREATE TABLE IF NOT EXISTS catalog_columns ("
    " table_name TEXT NOT NULL,"
    " position INTEGER NOT NULL,"
    " name TEXT NOT NULL,"
    " type TEXT NOT NULL,"
    " nullable INTEGER NOT NULL,"
    " is_partition INTEGER NOT NULL,"
    " PRIMARY KEY (table_name, position));",
    /* 4: lifecycle (issue 5 item 4). lake_files.location: NULL for a file in the main lake
     * (<data>/lake), else the absolute directory of the object store holding it (the warm
     * tier's lifecycle.warm_dir at the time of the move), so readers find a file without
     * knowing the configuration that moved it. lake_deletes: objects to delete once
     * delete_after (µs) has passed, scheduled in the same transaction that stopped them being
     * part of the lake (the hot copy of a file moved to warm, the original of a file
     * rewritten to cold, an expired file): a crash between that commit and the deletion
     * leaves a row here, and the next pass finishes it. location '' is the main lake. */
    "ALTER TABLE lake_files ADD COLUMN location TEXT;"
    "CREATE TABLE IF NOT EXISTS lake_deletes ("
    " path TEXT NOT NULL,"
    " location TEXT NOT NULL,"
    " delete_after BIGINT NOT NULL,"
    " reason TEXT NOT NULL,"
    " PRIMARY KEY (path, location));",
    /* 5: lake schema 2 (issue 7 item 4): trace_id, a nullable string, appended to the file
     * columns of raw_sensor_data, processed_sensor_data and rejected_records. The registry
     * copy (migration 3) gets it in place, so tools that read meta.db see the new schema
     * before serve next rewrites the copy: the partition keys move one position on (in two
     * steps through negative positions, since the primary key is checked row by row), and
     * trace_id takes the position after the last file column. Tables that already list a
     * trace_id are left alone, so applying it twice changes nothing. Lake files need no
     * change: files without the column read it as NULL (src/lake/tables.c). */
    "UPDATE catalog_columns SET position = -1 - position"
    " WHERE is_partition = 1"
    " AND table_name IN ('raw_sensor_data', 'processed_sensor_data', 'rejected_records')"
    " AND NOT EXISTS (SELECT 1 FROM catalog_columns t"
    " WHERE t.table_name = catalog_columns.table_name AND t.name = 'trace_id');"
    "UPDATE catalog_columns SET position = -position WHERE position < 0;"
    "INSERT INTO catalog_columns (table_name, position, name, type, nullable, is_partition)"
    " SELECT c.table_name, max(c.position) + 1, 'trace_id', 'string', 1, 0"
    " FROM catalog_columns c"
    " WHERE c.is_partition = 0"
    " AND c.table_name IN ('raw_sensor_data', 'processed_sensor_data', 'rejected_records')"
    " AND NOT EXISTS (SELECT 1 FROM catalog_columns t"
    " WHERE t.table_name = c.table_name AND t.name = 'trace_id')"
    " GROUP BY c.table_name;",
};
#define MIGRATION_COUNT ((int)(sizeof migrations / sizeof migrations[0]))

static int exec(sqlite3 *db, const char *sql)
{
    return sqlite3_exec(db, sql, NULL, NULL, NULL) == SQLITE_OK ? 0 : FL_ESQLITE;
}

int fl_catalog_schema_version(fl_catalog *c)
{
    sqlite3_stmt *st = NULL;
    int v = -1;
    if (sqlite3_prepare_v2(c->db, "SELECT max(version) FROM catalog_migrations", -1, &st, NULL) ==
            SQLITE_OK &&
        sqlite3_step(st) == SQLITE_ROW)
        v = sqlite3_column_int(st, 0);
    sqlite3_finalize(st);
    return v;
}

static int migrate(fl_catalog *c)
{
    int rc = exec(c->db, "CREATE TABLE IF NOT EXISTS catalog_migrations ("
                         " version INTEGER PRIMARY KEY, applied_at BIGINT NOT NULL)");
    /* Up to date (the common case): no write transaction, so readers that open a connection
     * per request (GET /v1/tables, the CLI) never queue behind the writers for the lock. */
    if (!rc && fl_catalog_schema_version(c) == MIGRATION_COUNT)
        return 0;
    if (rc || (rc = fl_catalog_begin(c)))
        return rc;
    int have = fl_catalog_schema_version(c);
    if (have > MIGRATION_COUNT) {
        rc = FL_EUNSUPPORTED; /* written by a newer fleetlake */
        goto out;
    }
    for (int v = have + 1; v <= MIGRATION_COUNT; v++) {
        if (v == 0)
            continue;
        char sql[160];
        snprintf(sql, sizeof sql,
                 "INSERT INTO catalog_migrations (version, applied_at) VALUES (%d, %lld)", v,
                 (long long)fl_time_now_us());
        if ((rc = exec(c->db, migrations[v - 1])) || (rc = exec(c->db, sql)))
            goto out;
    }
out:
    if (rc) {
        fl_catalog_rollback(c);
        return rc;
    }
    return fl_catalog_commit(c);
}

int fl_catalog_open(const char *path, fl_catalog **out)
{
    fl_catalog *c = fl_calloc(1, sizeof *c);
    if (!c)
        return FL_ENOMEM;
    int rc = FL_ESQLITE;
    if (sqlite3_open_v2(path, &c->db,
                        SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX,
                        NULL) != SQLITE_OK)
        goto out;
    sqlite3_busy_timeout(c->db, BUSY_TIMEOUT_MS);
    if ((rc = exec(c->db, "PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL;")))
        goto out;
    rc = migrate(c);
out:
    if (rc) {
        fl_catalog_close(c);
        return rc;
    }
    *out = c;
    return 0;
}

void fl_catalog_close(fl_catalog *c)
{
    if (!c)
        return;
    if (c->in_txn)
        fl_catalog_rollback(c);
    sqlite3_close(c->db);
    fl_free(c);
}

sqlite3 *fl_catalog_db(fl_catalog *c)
{
    return c->db;
}

int fl_catalog_begin(fl_catalog *c)
{
    if (c->in_txn)
        return FL_EINVAL;
    /* IMMEDIATE: take the write lock now. A deferred transaction that reads first and then
     * writes can fail with SQLITE_BUSY at its first write without waiting (PostgreSQL: plain
     * BEGIN, its row locks wait). */
    int rc = exec(c->db, "BEGIN IMMEDIATE");
    if (!rc)
        c->in_txn = 1;
    return rc;
}

int fl_catalog_commit(fl_catalog *c)
{
    if (!c->in_txn)
        return FL_EINVAL;
    int rc = exec(c->db, "COMMIT");
    if (rc)
        fl_catalog_rollback(c);
    c->in_txn = 0;
    return rc;
}

void fl_catalog_rollback(fl_catalog *c)
{
    if (!sqlite3_get_autocommit(c->db))
        (void)exec(c->db, "ROLLBACK");
    c->in_txn = 0;
}

int fl_catalog_transaction(fl_catalog *c, fl_catalog_txn_fn fn, void *arg)
{
    int rc = fl_catalog_begin(c);
    if (rc)
        return rc;
    rc = fn(c, arg);
    if (rc) {
        fl_catalog_rollback(c);
        return rc;
    }
    return fl_catalog_commit(c);
}

/* ---- lake_files ------------------------------------------------------------------------------ */

#define FILE_COLUMNS                                                                               \
    "path, table_name, year, month, day, hour, rows, bytes, min_ts, max_ts, shard, first_seq,"   \
    " last_seq, tier, state, created_at, retired_at, location"

static int bind_opt_i64(sqlite3_stmt *st, int i, int64_t v, int is_null)
{
    return is_null ? sqlite3_bind_null(st, i) : sqlite3_bind_int64(st, i, v);
}

int fl_catalog_file_insert(fl_catalog *c, const fl_lake_file *f)
{
    if (!f->path[0] || !f->table_name[0] || f->first_seq > INT64_MAX || f->last_seq > INT64_MAX)
        return FL_EINVAL;
    sqlite3_stmt *st = NULL;
    int rc = FL_ESQLITE;
    if (sqlite3_prepare_v2(c->db,
                           "INSERT INTO lake_files (" FILE_COLUMNS ") VALUES"
                           " (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                           -1, &st, NULL) != SQLITE_OK)
        goto out;
    int no_seq = f->first_seq == 0 && f->last_seq == 0;
    int b = sqlite3_bind_text(st, 1, f->path, -1, SQLITE_TRANSIENT) |
            sqlite3_bind_text(st, 2, f->table_name, -1, SQLITE_TRANSIENT) |
            sqlite3_bind_int(st, 3, f->year) | sqlite3_bind_int(st, 4, f->month) |
            sqlite3_bind_int(st, 5, f->day) | bind_opt_i64(st, 6, f->hour, f->hour < 0) |
            sqlite3_bind_int64(st, 7, f->rows) | sqlite3_bind_int64(st, 8, f->bytes) |
            bind_opt_i64(st, 9, f->min_ts, f->rows == 0) |
            bind_opt_i64(st, 10, f->max_ts, f->rows == 0) |
            bind_opt_i64(st, 11, f->shard, f->shard < 0) |
            bind_opt_i64(st, 12, (int64_t)f->first_seq, no_seq) |
            bind_opt_i64(st, 13, (int64_t)f->last_seq, no_seq) |
            sqlite3_bind_text(st, 14, f->tier[0] ? f->tier : "hot", -1, SQLITE_TRANSIENT) |
            sqlite3_bind_text(st, 15, f->state[0] ? f->state : FL_CATALOG_STATE_LIVE, -1,
                              SQLITE_TRANSIENT) |
            sqlite3_bind_int64(st, 16, f->created_at ? f->created_at : fl_time_now_us()) |
            bind_opt_i64(st, 17, f->retired_at, f->retired_at < 0) |
            (f->location[0] ? sqlite3_bind_text(st, 18, f->location, -1, SQLITE_TRANSIENT)
                            : sqlite3_bind_null(st, 18));
    if (b != SQLITE_OK)
        goto out;
    int step = sqlite3_step(st);
    if (step == SQLITE_DONE)
        rc = 0;
    else if (step == SQLITE_CONSTRAINT)
        rc = FL_EEXISTS;
out:
    sqlite3_finalize(st);
    return rc;
}

static void copy_text(char *dst, size_t n, const unsigned char *src)
{
    snprintf(dst, n, "%s", src ? (const char *)src : "");
}

static int64_t col_i64(sqlite3_stmt *st, int i, int64_t null_value)
{
    return sqlite3_column_type(st, i) == SQLITE_NULL ? null_value : sqlite3_column_int64(st, i);
}

static void row_to_file(sqlite3_stmt *st, fl_lake_file *f)
{
    memset(f, 0, sizeof *f);
    copy_text(f->path, sizeof f->path, sqlite3_column_text(st, 0));
    copy_text(f->table_name, sizeof f->table_name, sqlite3_column_text(st, 1));
    f->year = sqlite3_column_int(st, 2);
    f->month = sqlite3_column_int(st, 3);
    f->day = sqlite3_column_int(st, 4);
    f->hour = (int32_t)col_i64(st, 5, -1);
    f->rows = sqlite3_column_int64(st, 6);
    f->bytes = sqlite3_column_int64(st, 7);
    f->min_ts = col_i64(st, 8, -1);
    f->max_ts = col_i64(st, 9, -1);
    f->shard = (int32_t)col_i64(st, 10, -1);
    f->first_seq = (uint64_t)col_i64(st, 11, 0);
    f->last_seq = (uint64_t)col_i64(st, 12, 0);
    copy_text(f->tier, sizeof f->tier, sqlite3_column_text(st, 13));
    copy_text(f->state, sizeof f->state, sqlite3_column_text(st, 14));
    f->created_at = sqlite3_column_int64(st, 15);
    f->retired_at = col_i64(st, 16, -1);
    copy_text(f->location, sizeof f->location, sqlite3_column_text(st, 17));
}

int fl_catalog_file_get(fl_catalog *c, const char *path, fl_lake_file *out)
{
    sqlite3_stmt *st = NULL;
    int rc = FL_ESQLITE;
    if (sqlite3_prepare_v2(c->db, "SELECT " FILE_COLUMNS " FROM lake_files WHERE path = ?", -1,
                           &st, NULL) != SQLITE_OK ||
        sqlite3_bind_text(st, 1, path, -1, SQLITE_TRANSIENT) != SQLITE_OK)
        goto out;
    int step = sqlite3_step(st);
    if (step == SQLITE_ROW) {
        row_to_file(st, out);
        rc = 0;
    } else if (step == SQLITE_DONE) {
        rc = FL_ENOTFOUND;
    }
out:
    sqlite3_finalize(st);
    return rc;
}

int fl_catalog_file_retire(fl_catalog *c, const char *path, int64_t retired_at)
{
    sqlite3_stmt *st = NULL;
    int rc = FL_ESQLITE;
    if (sqlite3_prepare_v2(c->db,
                           "UPDATE lake_files SET state = 'retired', retired_at = ?"
                           " WHERE path = ? AND state = 'live'",
                           -1, &st, NULL) != SQLITE_OK ||
        sqlite3_bind_int64(st, 1, retired_at) != SQLITE_OK ||
        sqlite3_bind_text(st, 2, path, -1, SQLITE_TRANSIENT) != SQLITE_OK)
        goto out;
    if (sqlite3_step(st) == SQLITE_DONE)
        rc = sqlite3_changes(c->db) == 1 ? 0 : FL_ENOTFOUND;
out:
    sqlite3_finalize(st);
    return rc;
}

int fl_catalog_file_move(fl_catalog *c, const char *path, const char *tier, const char *location)
{
    if (!tier || !*tier)
        return FL_EINVAL;
    sqlite3_stmt *st = NULL;
    int rc = FL_ESQLITE;
    if (sqlite3_prepare_v2(c->db,
                           "UPDATE lake_files SET tier = ?1, location = ?2"
                           " WHERE path = ?3 AND state = 'live'",
                           -1, &st, NULL) != SQLITE_OK)
        goto out;
    int bound = sqlite3_bind_text(st, 1, tier, -1, SQLITE_TRANSIENT) |
                (location && *location ? sqlite3_bind_text(st, 2, location, -1, SQLITE_TRANSIENT)
                                      : sqlite3_bind_null(st, 2)) |
                sqlite3_bind_text(st, 3, path, -1, SQLITE_TRANSIENT);
    if (bound != SQLITE_OK)
        goto out;
    if (sqlite3_step(st) == SQLITE_DONE)
        rc = sqlite3_changes(c->db) == 1 ? 0 : FL_ENOTFOUND;
out:
    sqlite3_finalize(st);
    return rc;
}

int fl_catalog_file_remove(fl_catalog *c, const char *path)
{
    sqlite3_stmt *st = NULL;
    int rc = FL_ESQLITE;
    if (sqlite3_prepare_v2(c->db, "DELETE FROM lake_files WHERE path = ? AND state = 'live'", -1,
                           &st, NULL) == SQLITE_OK &&
        sqlite3_bind_text(st, 1, path, -1, SQLITE_TRANSIENT) == SQLITE_OK &&
        sqlite3_step(st) == SQLITE_DONE)
        rc = sqlite3_changes(c->db) == 1 ? 0 : FL_ENOTFOUND;
    sqlite3_finalize(st);
    return rc;
}

/* ---- lake_deletes ---------------------------------------------------------------------------- */

int fl_catalog_delete_schedule(fl_catalog *c, const char *path, const char *location,
                               int64_t delete_after, const char *reason)
{
    sqlite3_stmt *st = NULL;
    int rc = FL_ESQLITE;
    if (sqlite3_prepare_v2(c->db,
                           "INSERT INTO lake_deletes (path, location, delete_after, reason)"
                           " VALUES (?1, ?2, ?3, ?4) ON CONFLICT (path, location) DO UPDATE"
                           " SET delete_after = excluded.delete_after, reason = excluded.reason",
                           -1, &st, NULL) != SQLITE_OK)
        goto out;
    int b = sqlite3_bind_text(st, 1, path, -1, SQLITE_TRANSIENT) |
            sqlite3_bind_text(st, 2, location ? location : "", -1, SQLITE_TRANSIENT) |
            sqlite3_bind_int64(st, 3, delete_after) |
            sqlite3_bind_text(st, 4, reason, -1, SQLITE_TRANSIENT);
    if (b == SQLITE_OK && sqlite3_step(st) == SQLITE_DONE)
        rc = 0;
out:
    sqlite3_finalize(st);
    return rc;
}

int fl_catalog_deletes_query(fl_catalog *c, int64_t due_by, fl_catalog_delete_fn fn, void *arg)
{
    sqlite3_stmt *st = NULL;
    int rc = FL_ESQLITE, step;
    if (sqlite3_prepare_v2(c->db,
                           "SELECT path, location, delete_after, reason FROM lake_deletes"
                           " WHERE delete_after <= ?1 ORDER BY path, location",
                           -1, &st, NULL) != SQLITE_OK ||
        sqlite3_bind_int64(st, 1, due_by) != SQLITE_OK)
        goto out;
    while ((step = sqlite3_step(st)) == SQLITE_ROW) {
        fl_catalog_delete d;
        copy_text(d.path, sizeof d.path, sqlite3_column_text(st, 0));
        copy_text(d.location, sizeof d.location, sqlite3_column_text(st, 1));
        d.delete_after = sqlite3_column_int64(st, 2);
        copy_text(d.reason, sizeof d.reason, sqlite3_column_text(st, 3));
        if ((rc = fn(arg, &d)))
            goto out;
    }
    rc = step == SQLITE_DONE ? 0 : FL_ESQLITE;
out:
    sqlite3_finalize(st);
    return rc;
}

int fl_catalog_delete_done(fl_catalog *c, const char *path, const char *location)
{
    sqlite3_stmt *st = NULL;
    int rc = FL_ESQLITE;
    if (sqlite3_prepare_v2(c->db, "DELETE FROM lake_deletes WHERE path = ?1 AND location = ?2",
                           -1, &st, NULL) == SQLITE_OK &&
        sqlite3_bind_text(st, 1, path, -1, SQLITE_TRANSIENT) == SQLITE_OK &&
        sqlite3_bind_text(st, 2, location ? location : "", -1, SQLITE_TRANSIENT) == SQLITE_OK &&
        sqlite3_step(st) == SQLITE_DONE)
        rc = 0;
    sqlite3_finalize(st);
    return rc;
}

fl_catalog_filter fl_catalog_filter_table(const char *table_name)
{
    fl_catalog_filter f = {table_name, -1, -1, -1, -1, -1, NULL};
    return f;
}

/* WHERE clause with ?1..?7 so every filter shape shares one statement text: a field equal to
 * -1 (or NULL) matches anything. */
#define FILTER_WHERE                                                                               \
    " WHERE (?1 IS NULL OR table_name = ?1) AND (?2 = -1 OR year = ?2) AND (?3 = -1 OR month = ?3)"               \
    " AND (?4 = -1 OR day = ?4) AND (?5 = -1 OR hour = ?5) AND (?6 = -1 OR shard = ?6)"           \
    " AND (?7 IS NULL OR state = ?7)"

static int bind_filter(sqlite3_stmt *st, const fl_catalog_filter *flt)
{
    int b = (flt->table_name ? sqlite3_bind_text(st, 1, flt->table_name, -1, SQLITE_TRANSIENT)
                             : sqlite3_bind_null(st, 1)) |
            sqlite3_bind_int(st, 2, flt->year) | sqlite3_bind_int(st, 3, flt->month) |
            sqlite3_bind_int(st, 4, flt->day) | sqlite3_bind_int(st, 5, flt->hour) |
            sqlite3_bind_int(st, 6, flt->shard) |
            (flt->state ? sqlite3_bind_text(st, 7, flt->state, -1, SQLITE_TRANSIENT)
                        : sqlite3_bind_null(st, 7));
    return b == SQLITE_OK ? 0 : FL_ESQLITE;
}

int fl_catalog_files_query(fl_catalog *c, const fl_catalog_filter *flt, fl_catalog_file_fn fn,
                           void *arg)
{
    sqlite3_stmt *st = NULL;
    int rc = FL_ESQLITE;
    fl_lake_file *f = fl_malloc(sizeof *f);
    if (!f)
        return FL_ENOMEM;
    if (sqlite3_prepare_v2(c->db, "SELECT " FILE_COLUMNS " FROM lake_files" FILTER_WHERE
                                  " ORDER BY path",
                           -1, &st, NULL) != SQLITE_OK)
        goto out;
    if ((rc = bind_filter(st, flt)))
        goto out;
    int step;
    while ((step = sqlite3_step(st)) == SQLITE_ROW) {
        row_to_file(st, f);
        if ((rc = fn(arg, f)))
            goto out;
    }
    rc = step == SQLITE_DONE ? 0 : FL_ESQLITE;
out:
    sqlite3_finalize(st);
    fl_free(f);
    return rc;
}

int fl_catalog_files_count(fl_catalog *c, const fl_catalog_filter *flt, int64_t *files,
                           int64_t *rows, int64_t *bytes)
{
    sqlite3_stmt *st = NULL;
    int rc = FL_ESQLITE;
    if (sqlite3_prepare_v2(c->db,
                           "SELECT count(*), coalesce(sum(rows), 0), coalesce(sum(bytes), 0)"
                           " FROM lake_files" FILTER_WHERE,
                           -1, &st, NULL) != SQLITE_OK)
        goto out;
    if ((rc = bind_filter(st, flt)))
        goto out;
    rc = FL_ESQLITE;
    if (sqlite3_step(st) == SQLITE_ROW) {
        if (files)
            *files = sqlite3_column_int64(st, 0);
        if (rows)
            *rows = sqlite3_column_int64(st, 1);
        if (bytes)
            *bytes = sqlite3_column_int64(st, 2);
        rc = 0;
    }
out:
    sqlite3_finalize(st);
    return rc;
}

int fl_catalog_high_water_marks(fl_catalog *c, const char *table_name, int32_t shard,
                                fl_catalog_hwm_fn fn, void *arg)
{
    sqlite3_stmt *st = NULL;
    int rc = FL_ESQLITE;
    if (sqlite3_prepare_v2(c->db,
                           "SELECT year, month, day, coalesce(hour, -1), max(last_seq)"
                           " FROM lake_files WHERE table_name = ? AND shard = ?"
                           " AND last_seq IS NOT NULL"
                           " GROUP BY year, month, day, hour ORDER BY year, month, day, hour",
                           -1, &st, NULL) != SQLITE_OK ||
        sqlite3_bind_text(st, 1, table_name, -1, SQLITE_TRANSIENT) != SQLITE_OK ||
        sqlite3_bind_int(st, 2, shard) != SQLITE_OK)
        goto out;
    int step;
    while ((step = sqlite3_step(st)) == SQLITE_ROW) {
        int64_t last = sqlite3_column_int64(st, 4);
        if (last < 0) {
            rc = FL_ECORRUPT;
            goto out;
        }
        if ((rc = fn(arg, sqlite3_column_int(st, 0), sqlite3_column_int(st, 1),
                     sqlite3_column_int(st, 2), sqlite3_column_int(st, 3), (uint64_t)last)))
            goto out;
    }
    rc = step == SQLITE_DONE ? 0 : FL_ESQLITE;
out:
    sqlite3_finalize(st);
    return rc;
}
