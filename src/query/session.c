/* session.c — a query session (one read-only connection on meta.db with the lake tables) and
 * its cursor: the statement's snapshot, limits, error codes and streaming through an encoder.
 *
 * Isolation: fl_query_cursor_open begins a transaction and reads lake_files before the user
 * statement starts, so in WAL mode the whole statement — every scan of every lake table and
 * every read of device_state — sees meta.db as of that moment, while delivery, processing and
 * compaction keep committing. Files retired after the snapshot stay readable until
 * compaction.retire_grace_s has passed; a statement running longer than that may fail with a
 * "deleted after compaction" error, never return a mix of old and new files.
 *
 * Memory: SQLite's own heap use is bounded per statement by the progress handler comparing
 * sqlite3_memory_used() with its value at the statement's start (process-wide counter, so in a
 * busy server concurrent statements share the budget: conservative, never lax); temp_store is
 * memory so sorts count against it; the Parquet reader's decode is bounded by the same budget
 * per column chunk. */
#include <stdio.h>
#include <string.h>

#include "query/query_int.h"

/* SQLite VM steps between progress checks: ~microseconds of work, so the time limit is kept
 * to well under a millisecond of overrun. */
#define PROGRESS_STEPS 1000
/* Output pieces of about this size (one HTTP chunk / one stdout write). */
#define PIECE_BYTES (64 * 1024)

struct fl_query_cursor {
    fl_query_session *s;
    const fl_query_encoder *enc;
    sqlite3_stmt *st;
    int explain, began, has_row, done, in_txn;
    int64_t rows, start_mono_us;
};

fl_query_limits fl_query_limits_from_config(const fl_config *cfg)
{
    fl_query_limits l = {cfg->query_timeout_s * 1000, cfg->query_max_rows, cfg->query_memory_bytes,
                         cfg->query_max_sql_bytes};
    return l;
}

static void set_err(fl_query_error *err, const char *code, const char *msg)
{
    if (!err)
        return;
    err->code = code;
    size_t n = strlen(msg);
    if (n >= sizeof err->message)
        n = sizeof err->message - 1; /* long messages are cut, never overflow */
    memcpy(err->message, msg, n);
    err->message[n] = 0;
}

static int progress(void *ctx)
{
    fl_query_session *s = ctx;
    if (s->trusted)
        return 0;
    if (s->deadline_mono_us && fl_time_mono_us() > s->deadline_mono_us) {
        s->stop_code = "timeout";
        return 1;
    }
    if (s->limits.memory_bytes > 0 &&
        sqlite3_memory_used() - s->memory_base > s->limits.memory_bytes) {
        s->stop_code = "out_of_memory";
        return 1;
    }
    return 0;
}

static int trusted_exec(fl_query_session *s, const char *sql)
{
    s->trusted = 1;
    int rc = sqlite3_exec(s->db, sql, NULL, NULL, NULL);
    s->trusted = 0;
    return rc == SQLITE_OK ? 0 : FL_ESQLITE;
}

static void apply_limits(sqlite3 *db, const fl_query_limits *l)
{
    /* Why these numbers: results and literals up to 16 MiB are plenty for telemetry; 200
     * columns and depth 200 fit any hand-written query; 64 compound terms bound UNION chains;
     * no ATTACH, no triggers; LIKE patterns of 1,000 bytes bound their backtracking. */
    sqlite3_limit(db, SQLITE_LIMIT_LENGTH, 16 * 1024 * 1024);
    sqlite3_limit(db, SQLITE_LIMIT_SQL_LENGTH,
                  l->max_sql_bytes > 0 ? (int)l->max_sql_bytes : 100000);
    sqlite3_limit(db, SQLITE_LIMIT_COLUMN, 200);
    sqlite3_limit(db, SQLITE_LIMIT_EXPR_DEPTH, 200);
    sqlite3_limit(db, SQLITE_LIMIT_COMPOUND_SELECT, 64);
    sqlite3_limit(db, SQLITE_LIMIT_FUNCTION_ARG, 32);
    sqlite3_limit(db, SQLITE_LIMIT_ATTACHED, 0);
    sqlite3_limit(db, SQLITE_LIMIT_LIKE_PATTERN_LENGTH, 1000);
    sqlite3_limit(db, SQLITE_LIMIT_VARIABLE_NUMBER, 1);
    sqlite3_limit(db, SQLITE_LIMIT_TRIGGER_DEPTH, 1);
    sqlite3_limit(db, SQLITE_LIMIT_WORKER_THREADS, 0);
}

int fl_query_session_open(const char *data_dir, const fl_query_limits *limits,
                          fl_query_session **out, fl_query_error *err)
{
    char path[4200], msg[4400];
    *out = NULL;
    fl_query_session *s = fl_calloc(1, sizeof *s);
    if (!s) {
        set_err(err, "out_of_memory", "out of memory");
        return FL_ENOMEM;
    }
    s->limits = *limits;
    fl_access_full(&s->access, NULL);
    snprintf(path, sizeof path, "%s/meta.db", data_dir);
    int rc = sqlite3_open_v2(path, &s->db, SQLITE_OPEN_READONLY | SQLITE_OPEN_NOMUTEX, NULL);
    if (rc != SQLITE_OK) {
        snprintf(msg, sizeof msg, "cannot open %s: %s", path, s->db ? sqlite3_errmsg(s->db) : "");
        goto fail;
    }
    sqlite3_busy_timeout(s->db, 5000);
    sqlite3_db_config(s->db, SQLITE_DBCONFIG_ENABLE_LOAD_EXTENSION, 0, NULL);
    sqlite3_db_config(s->db, SQLITE_DBCONFIG_DEFENSIVE, 1, NULL);
    sqlite3_db_config(s->db, SQLITE_DBCONFIG_TRUSTED_SCHEMA, 0, NULL);
    sqlite3_db_config(s->db, SQLITE_DBCONFIG_ENABLE_TRIGGER, 0, NULL);
    sqlite3_db_config(s->db, SQLITE_DBCONFIG_ENABLE_VIEW, 0, NULL);
    apply_limits(s->db, limits);
    if (trusted_exec(s, "PRAGMA query_only = 1; PRAGMA temp_store = MEMORY;")) {
        snprintf(msg, sizeof msg, "%s: %s", path, sqlite3_errmsg(s->db));
        goto fail;
    }
    snprintf(path, sizeof path, "%s/lake", data_dir);
    if (fl_objstore_local_create(path, &s->store) || fl_lake_stores_create(s->store, &s->stores) ||
        fl_query_vtab_register(s)) {
        snprintf(msg, sizeof msg, "cannot open the lake at %s", path);
        goto fail;
    }
    sqlite3_progress_handler(s->db, PROGRESS_STEPS, progress, s);
    sqlite3_set_authorizer(s->db, fl_query_authorize, s);
    *out = s;
    return 0;
fail:
    set_err(err, "unavailable", msg);
    fl_query_session_close(s);
    return FL_ESQLITE;
}

int fl_query_session_restrict(fl_query_session *s, const fl_access *a, fl_query_error *err)
{
    s->access = *a;
    s->restricted = 1;
    s->rows_restricted = !a->unrestricted_rows;
    if (s->rows_restricted && fl_query_rowfilter_install(s)) {
        char buf[512];
        snprintf(buf, sizeof buf, "cannot set up row filters: %s", sqlite3_errmsg(s->db));
        set_err(err, "unavailable", buf);
        return FL_ESQLITE;
    }
    return 0;
}

static int64_t cap(int64_t role_value, int64_t query_value)
{
    if (role_value <= 0)
        return query_value;
    return query_value > 0 && role_value > query_value ? query_value : role_value;
}

fl_query_limits fl_query_limits_for_role(const fl_config *cfg, fl_role r)
{
    fl_query_limits l = fl_query_limits_from_config(cfg);
    for (int64_t i = 0; i < cfg->role_count; i++) {
        if (strcmp(cfg->roles[i].name, fl_role_name(r)) != 0)
            continue;
        l.timeout_ms = cap(cfg->roles[i].query_timeout_s * 1000, l.timeout_ms);
        l.max_rows = cap(cfg->roles[i].query_max_rows, l.max_rows);
        l.memory_bytes = cap(cfg->roles[i].query_memory_bytes, l.memory_bytes);
    }
    return l;
}

void fl_query_session_close(fl_query_session *s)
{
    if (!s)
        return;
    sqlite3_finalize(s->locate_stmt);
    sqlite3_close_v2(s->db);
    fl_lake_stores_destroy(s->stores);
    fl_objstore_destroy(s->store);
    fl_buf_free(&s->explain_files);
    fl_free(s);
}

int fl_query_file_store(fl_query_session *s, const char *path, fl_objstore **out)
{
    int saved = s->trusted, rc = FL_ESQLITE;
    s->trusted = 1;
    /* prepared once per session: a join may reopen the files of a scan many times */
    if (!s->locate_stmt &&
        sqlite3_prepare_v3(s->db, "SELECT location FROM lake_files WHERE path = ?1", -1,
                           SQLITE_PREPARE_PERSISTENT, &s->locate_stmt, NULL) != SQLITE_OK)
        s->locate_stmt = NULL;
    sqlite3_stmt *q = s->locate_stmt;
    if (q && sqlite3_bind_text(q, 1, path, -1, SQLITE_TRANSIENT) == SQLITE_OK) {
        int step = sqlite3_step(q);
        if (step == SQLITE_ROW)
            rc = fl_lake_stores_get(s->stores, (const char *)sqlite3_column_text(q, 0), out);
        else if (step == SQLITE_DONE)
            rc = FL_ENOTFOUND;
    }
    if (q) {
        sqlite3_reset(q);
        sqlite3_clear_bindings(q);
    }
    s->trusted = saved;
    return rc;
}

/* Map a failed prepare/step to an error code and message. */
static void sqlite_err(fl_query_session *s, int rc, fl_query_error *err)
{
    const char *msg = sqlite3_errmsg(s->db);
    char buf[512];
    if (s->stop_code && strcmp(s->stop_code, "timeout") == 0) {
        snprintf(buf, sizeof buf, "statement stopped after query.timeout_s (%lld s)",
                 (long long)(s->limits.timeout_ms / 1000));
        set_err(err, "timeout", buf);
    } else if (s->stop_code || (rc & 0xff) == SQLITE_NOMEM) {
        snprintf(buf, sizeof buf,
                 "statement stopped: it needed more than query.memory_bytes "
                 "(%lld bytes)",
                 (long long)s->limits.memory_bytes);
        set_err(err, "out_of_memory", buf);
    } else if (((rc & 0xff) == SQLITE_AUTH || strncmp(msg, "not authorized", 14) == 0) &&
               s->denied[0]) {
        snprintf(buf, sizeof buf, "not allowed for this key: %s (its classification: %s)",
                 s->denied, fl_class_name(s->access.max_class));
        set_err(err, "forbidden", buf);
    } else if ((rc & 0xff) == SQLITE_AUTH || strncmp(msg, "not authorized", 14) == 0) {
        snprintf(buf, sizeof buf, "only SELECT statements are allowed (%s)", msg);
        set_err(err, "not_allowed", buf);
    } else {
        set_err(err, "sql_error", msg);
    }
}

static int start_snapshot(fl_query_session *s, fl_query_error *err)
{
    if (trusted_exec(s, "BEGIN; SELECT count(*) FROM lake_files;")) {
        char buf[512];
        snprintf(buf, sizeof buf, "catalog: %s", sqlite3_errmsg(s->db));
        set_err(err, "unavailable", buf);
        (void)trusted_exec(s, "ROLLBACK");
        return FL_ESQLITE;
    }
    return 0;
}

static int step(fl_query_cursor *c, fl_query_error *err)
{
    int rc = sqlite3_step(c->st);
    if (rc == SQLITE_ROW) {
        c->has_row = 1;
        return 0;
    }
    c->has_row = 0;
    c->done = 1;
    if (rc == SQLITE_DONE)
        return 0;
    sqlite_err(c->s, rc, err);
    return FL_ESQLITE;
}

static int one_statement(fl_query_session *s, const char *sql, sqlite3_stmt **st,
                         fl_query_error *err)
{
    const char *tail = NULL;
    if (s->limits.max_sql_bytes > 0 && (int64_t)strlen(sql) > s->limits.max_sql_bytes) {
        set_err(err, "sql_error", "statement longer than query.max_sql_bytes");
        return FL_ELIMIT;
    }
    int rc = sqlite3_prepare_v2(s->db, sql, -1, st, &tail);
    if (rc != SQLITE_OK) {
        sqlite_err(s, rc, err);
        return FL_ESQLITE;
    }
    if (!*st) {
        set_err(err, "sql_error", "empty statement");
        return FL_EINVAL;
    }
    while (tail &&
           (*tail == ' ' || *tail == '\t' || *tail == '\n' || *tail == '\r' || *tail == ';'))
        tail++;
    if (tail && *tail) {
        set_err(err, "sql_error", "one statement at a time");
        return FL_EINVAL;
    }
    if (!sqlite3_stmt_readonly(*st)) {
        set_err(err, "not_allowed", "only SELECT statements are allowed");
        return FL_EINVAL;
    }
    return 0;
}

/* EXPLAIN: run the statement to the end (rows discarded), then replace it by a one-column
 * result ("plan") of SQLite's query plan and each scanned lake table's counters. */
static int explain_plan(fl_query_cursor *c, const char *sql, fl_query_error *err);

int fl_query_cursor_open(fl_query_session *s, const char *sql, const fl_query_encoder *enc,
                         int explain, fl_query_cursor **out, fl_query_error *err)
{
    *out = NULL;
    fl_query_cursor *c = fl_calloc(1, sizeof *c);
    if (!c) {
        set_err(err, "out_of_memory", "out of memory");
        return FL_ENOMEM;
    }
    c->s = s;
    c->enc = enc;
    c->explain = explain;
    c->start_mono_us = fl_time_mono_us();
    int rc = start_snapshot(s, err);
    if (rc)
        goto fail;
    c->in_txn = 1;
    memset(s->stats, 0, sizeof s->stats);
    fl_buf_reset(&s->explain_files);
    s->explain_files_count = 0;
    s->collect_files = explain;
    s->stop_code = NULL;
    s->denied[0] = 0;
    s->memory_base = sqlite3_memory_used();
    s->deadline_mono_us =
        s->limits.timeout_ms > 0 ? c->start_mono_us + s->limits.timeout_ms * 1000 : 0;
    rc = one_statement(s, sql, &c->st, err);
    rc = rc ? rc : step(c, err);
    rc = rc || !explain ? rc : explain_plan(c, sql, err);
    if (rc)
        goto fail;
    *out = c;
    return 0;
fail:
    fl_query_cursor_close(c);
    return rc;
}

static int add_plan_line(fl_buf *lines, const char *text)
{
    int rc = fl_buf_append_cstr(lines, lines->len ? ",\"" : "[\"");
    rc = rc ? rc : fl_buf_append_json_string(lines, text, strlen(text));
    return rc ? rc : fl_buf_append_cstr(lines, "\"");
}

static int plan_lines(fl_query_session *s, const char *sql, fl_buf *lines)
{
    fl_buf q = {0};
    sqlite3_stmt *st = NULL;
    int rc = fl_buf_printf(&q, "EXPLAIN QUERY PLAN %s", sql);
    s->trusted = 1;
    if (!rc && sqlite3_prepare_v2(s->db, q.data, -1, &st, NULL) != SQLITE_OK)
        rc = FL_ESQLITE;
    s->trusted = 0;
    /* Columns: id, parent, notused, detail. Depth from the parent chain. */
    int ids[64], depth[64], n = 0;
    while (!rc && sqlite3_step(st) == SQLITE_ROW) {
        int id = sqlite3_column_int(st, 0), parent = sqlite3_column_int(st, 1), d = 0;
        for (int i = 0; i < n; i++)
            if (ids[i] == parent)
                d = depth[i] + 1;
        if (n < 64) {
            ids[n] = id;
            depth[n++] = d;
        }
        char line[600];
        snprintf(line, sizeof line, "%*s%s", 2 * d, "", (const char *)sqlite3_column_text(st, 3));
        rc = add_plan_line(lines, line);
    }
    sqlite3_finalize(st);
    fl_buf_free(&q);
    return rc;
}

/* Files listed by EXPLAIN at most: enough to see what a selective query read, bounded for a
 * full scan of a big lake (the counters above the list are always complete). */
#define EXPLAIN_FILES_MAX 200

void fl_query_note_file(fl_query_session *s, const char *path, int64_t groups_read,
                        int64_t groups_skipped)
{
    if (!s->collect_files || s->explain_files_count++ >= EXPLAIN_FILES_MAX)
        return;
    char line[1200];
    snprintf(line, sizeof line, "  %s: row groups %lld read, %lld skipped", path,
             (long long)groups_read, (long long)groups_skipped);
    int rc = fl_buf_append_cstr(&s->explain_files, ",\"");
    rc = rc ? rc : fl_buf_append_json_string(&s->explain_files, line, strlen(line));
    rc = rc ? rc : fl_buf_append_cstr(&s->explain_files, "\"");
    if (rc)
        s->collect_files = 0; /* out of memory: the list stops, the counters stay exact */
}

static int explain_plan(fl_query_cursor *c, const char *sql, fl_query_error *err)
{
    fl_query_session *s = c->s;
    int rc = 0;
    while (!rc && c->has_row) {
        c->rows++;
        rc = step(c, err);
    }
    if (rc)
        return rc;
    sqlite3_reset(c->st); /* closes the scans, so files still open are noted too */
    fl_buf lines = {0};
    rc = add_plan_line(&lines, "QUERY PLAN");
    rc = rc ? rc : plan_lines(s, sql, &lines);
    char line[600];
    for (size_t i = 0; !rc && i < fl_lake_table_count() && i < QUERY_TABLES_MAX; i++) {
        const fl_query_scan_stats *t = &s->stats[i];
        if (!t->scans)
            continue;
        snprintf(line, sizeof line,
                 "%s: scans %lld, partitions %lld considered, %lld pruned; files opened %lld; "
                 "row groups %lld read, %lld skipped; rows scanned %lld",
                 fl_lake_table_at(i)->name, (long long)t->scans,
                 (long long)t->partitions_considered, (long long)t->partitions_pruned,
                 (long long)t->files_opened, (long long)t->row_groups_read,
                 (long long)t->row_groups_skipped, (long long)t->rows_scanned);
        rc = add_plan_line(&lines, line);
    }
    if (!rc && s->explain_files_count) {
        snprintf(line, sizeof line, "files read (%lld%s):", (long long)s->explain_files_count,
                 s->explain_files_count > EXPLAIN_FILES_MAX ? ", first 200 listed" : "");
        rc = add_plan_line(&lines, line);
        rc = rc ? rc : fl_buf_append(&lines, s->explain_files.data, s->explain_files.len);
    }
    s->collect_files = 0;
    snprintf(line, sizeof line, "result rows: %lld", (long long)c->rows);
    rc = rc ? rc : add_plan_line(&lines, line);
    rc = rc ? rc : fl_buf_append_cstr(&lines, "]");
    sqlite3_finalize(c->st);
    c->st = NULL;
    c->rows = 0;
    c->done = 0;
    if (!rc) {
        char *q = sqlite3_mprintf("SELECT value AS plan FROM json_each(%Q)", lines.data);
        s->trusted = 1;
        int src = q ? sqlite3_prepare_v2(s->db, q, -1, &c->st, NULL) : SQLITE_NOMEM;
        s->trusted = 0;
        sqlite3_free(q);
        rc = src == SQLITE_OK ? step(c, err) : FL_ESQLITE;
    }
    fl_buf_free(&lines);
    if (rc && !err->code)
        set_err(err, "sql_error", "cannot build the plan");
    return rc;
}

static int stats_json(fl_query_cursor *c, fl_buf *b)
{
    int rc = fl_buf_printf(b, "{\"rows\":%lld,\"elapsed_ms\":%lld,\"tables\":{", (long long)c->rows,
                           (long long)((fl_time_mono_us() - c->start_mono_us) / 1000));
    int first = 1;
    for (size_t i = 0; !rc && i < fl_lake_table_count() && i < QUERY_TABLES_MAX; i++) {
        const fl_query_scan_stats *t = &c->s->stats[i];
        if (!t->scans)
            continue;
        rc = fl_buf_printf(b,
                           "%s\"%s\":{\"scans\":%lld,\"partitions_considered\":%lld,"
                           "\"partitions_pruned\":%lld,\"files_opened\":%lld,"
                           "\"row_groups_read\":%lld,\"row_groups_skipped\":%lld,"
                           "\"rows_scanned\":%lld}",
                           first ? "" : ",", fl_lake_table_at(i)->name, (long long)t->scans,
                           (long long)t->partitions_considered, (long long)t->partitions_pruned,
                           (long long)t->files_opened, (long long)t->row_groups_read,
                           (long long)t->row_groups_skipped, (long long)t->rows_scanned);
        first = 0;
    }
    return rc ? rc : fl_buf_append_cstr(b, "}}");
}

int fl_query_cursor_next(fl_query_cursor *c, fl_buf *out, fl_query_error *err)
{
    int rc = 0;
    if (!c->began) {
        c->began = 1;
        rc = c->enc->begin(out, c->st);
    }
    while (!rc && c->has_row && out->len < PIECE_BYTES) {
        if (c->s->limits.max_rows > 0 && c->rows >= c->s->limits.max_rows) {
            char buf[256];
            snprintf(buf, sizeof buf,
                     "more than query.max_rows (%lld) result rows; add a LIMIT "
                     "or aggregate",
                     (long long)c->s->limits.max_rows);
            set_err(err, "too_many_rows", buf);
            rc = FL_ELIMIT;
            break;
        }
        rc = c->enc->row(out, c->st, c->rows);
        if (rc) {
            set_err(err, "out_of_memory", "out of memory encoding the result");
            break;
        }
        c->rows++;
        rc = step(c, err);
    }
    if (rc) {
        c->has_row = 0;
        c->done = 1;
        (void)c->enc->end(out, NULL, err);
        return rc;
    }
    if (c->has_row)
        return 1;
    fl_buf stats = {0};
    rc = stats_json(c, &stats);
    rc = rc ? rc : c->enc->end(out, stats.data, NULL);
    fl_buf_free(&stats);
    if (rc) {
        set_err(err, "out_of_memory", "out of memory encoding the result");
        return rc;
    }
    return 0;
}

int64_t fl_query_cursor_rows(const fl_query_cursor *c)
{
    return c->rows;
}

void fl_query_cursor_close(fl_query_cursor *c)
{
    if (!c)
        return;
    sqlite3_finalize(c->st);
    if (c->in_txn)
        (void)trusted_exec(c->s, "COMMIT");
    c->s->deadline_mono_us = 0;
    fl_free(c);
}
