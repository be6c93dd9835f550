/* outbox.c — the persistent notification outbox in meta.db (the SNS delivery queue's role).
 *
 * Design notes.
 *
 * Layout: one table, notify_outbox, one row per (alert event, channel):
 *   id BIGINT PK            MAX(id)+1 under the writer's lock (portable: no AUTOINCREMENT);
 *                           the purge never deletes the newest row, so ids never repeat and
 *                           "<id>:<dedup_key>" stays a unique idempotency key
 *   channel, alert_id, event (trigger|acknowledge|resolve)
 *   payload                 the alert JSON as it was when the event happened
 *   created_at, attempts, next_attempt_at, delivered_at (µs), last_error
 *   state                   pending -> delivered | failed (terminal)
 *
 * Invariants:
 *  1. A row is inserted in the same transaction as the alert change that caused it
 *     (fl_notify_enqueue runs on the caller's open transaction), so an alert change and its
 *     notifications commit together or not at all.
 *  2. Only the channel's own worker updates a pending row, and only while it is pending
 *     (every UPDATE says AND state = 'pending'); delivered and failed are final.
 *  3. 'delivered' is committed right after the receiver's 2xx: the only re-send is of a row
 *     whose 2xx arrived but whose commit did not (a crash in between).
 *
 * The SQL is portable to PostgreSQL (catalog.h): standard types, explicit statements, no
 * SQLite-only syntax. */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "notify/notify_int.h"

#define MODULE "notify"

static const char *const create_sql =
    "CREATE TABLE IF NOT EXISTS notify_outbox ("
    " id BIGINT PRIMARY KEY,"
    " channel TEXT NOT NULL,"
    " alert_id BIGINT NOT NULL,"
    " event TEXT NOT NULL,"
    " payload TEXT NOT NULL,"
    " created_at BIGINT NOT NULL,"
    " attempts BIGINT NOT NULL DEFAULT 0,"
    " next_attempt_at BIGINT NOT NULL,"
    " state TEXT NOT NULL,"
    " last_error TEXT,"
    " delivered_at BIGINT);"
    "CREATE INDEX IF NOT EXISTS notify_outbox_due"
    " ON notify_outbox (state, channel, next_attempt_at);"
    "CREATE INDEX IF NOT EXISTS notify_outbox_alert ON notify_outbox (alert_id)";

static const char *const insert_sql =
    "INSERT INTO notify_outbox (id, channel, alert_id, event, payload, created_at, attempts,"
    " next_attempt_at, state) VALUES ((SELECT COALESCE(MAX(id), 0) + 1 FROM notify_outbox),"
    " ?, ?, ?, ?, ?, 0, ?, 'pending')";

int fl_notify_outbox_init(sqlite3 *db)
{
    if (!db)
        return FL_EINVAL;
    return sqlite3_exec(db, create_sql, NULL, NULL, NULL) == SQLITE_OK ? 0 : FL_ESQLITE;
}

static int is_event(const char *event)
{
    return strcmp(event, FL_NOTIFY_TRIGGER) == 0 || strcmp(event, FL_NOTIFY_ACKNOWLEDGE) == 0 ||
           strcmp(event, FL_NOTIFY_RESOLVE) == 0;
}

int fl_notify_enqueue(sqlite3 *db, const fl_config *cfg, const fl_alert *a, const char *event)
{
    if (!db || !cfg || !a || !event || !is_event(event))
        return FL_EINVAL;
    fl_buf payload = {0};
    sqlite3_stmt *st = NULL;
    int rc = 0;
    for (int64_t i = 0; i < cfg->channel_count; i++) {
        const fl_channel_config *ch = &cfg->channels[i];
        if (!fl_channel_routes(cfg, ch, a))
            continue;
        if (!payload.len && (rc = fl_alert_to_json(a, &payload)))
            goto out;
        if (!st && sqlite3_prepare_v2(db, insert_sql, -1, &st, NULL) != SQLITE_OK) {
            rc = FL_ESQLITE;
            goto out;
        }
        int64_t now = fl_time_now_us();
        sqlite3_reset(st);
        sqlite3_bind_text(st, 1, ch->name, -1, SQLITE_STATIC);
        sqlite3_bind_int64(st, 2, a->id);
        sqlite3_bind_text(st, 3, event, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 4, payload.data, (int)payload.len, SQLITE_STATIC);
        sqlite3_bind_int64(st, 5, now);
        sqlite3_bind_int64(st, 6, now);
        if (sqlite3_step(st) != SQLITE_DONE) {
            rc = FL_ESQLITE;
            goto out;
        }
    }
out:
    if (rc == FL_ESQLITE)
        FL_ERROR(MODULE, "enqueue alert %lld %s: %s", (long long)a->id, event, sqlite3_errmsg(db));
    sqlite3_finalize(st);
    fl_buf_free(&payload);
    return rc;
}

/* ---- the dispatcher's statements ---------------------------------------------------------- */

static int prepare(sqlite3 *db, const char *sql, sqlite3_stmt **st)
{
    if (sqlite3_prepare_v2(db, sql, -1, st, NULL) != SQLITE_OK) {
        FL_ERROR(MODULE, "prepare: %s", sqlite3_errmsg(db));
        return FL_ESQLITE;
    }
    return 0;
}

/* Step an UPDATE/DELETE to completion. */
static int finish(sqlite3 *db, sqlite3_stmt *st)
{
    int rc = sqlite3_step(st) == SQLITE_DONE ? 0 : FL_ESQLITE;
    if (rc)
        FL_ERROR(MODULE, "outbox update: %s", sqlite3_errmsg(db));
    sqlite3_finalize(st);
    return rc;
}

int fl_outbox_due(sqlite3 *db, const char *channel, int64_t now, fl_outbox_row *rows, size_t max,
                  size_t *n)
{
    static const char sql[] =
        "SELECT id, alert_id, event, payload, created_at, attempts FROM notify_outbox"
        " WHERE state = 'pending' AND channel = ? AND next_attempt_at <= ?"
        " ORDER BY next_attempt_at, id LIMIT ?";
    sqlite3_stmt *st = NULL;
    *n = 0;
    int rc = prepare(db, sql, &st);
    if (rc)
        return rc;
    sqlite3_bind_text(st, 1, channel, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 2, now);
    sqlite3_bind_int64(st, 3, (int64_t)max);
    int step;
    while ((step = sqlite3_step(st)) == SQLITE_ROW) {
        fl_outbox_row *r = &rows[*n];
        memset(r, 0, sizeof *r);
        r->id = sqlite3_column_int64(st, 0);
        r->alert_id = sqlite3_column_int64(st, 1);
        snprintf(r->event, sizeof r->event, "%s", (const char *)sqlite3_column_text(st, 2));
        const char *p = (const char *)sqlite3_column_text(st, 3);
        r->payload = fl_strdup(p ? p : "{}");
        r->created_at = sqlite3_column_int64(st, 4);
        r->attempts = sqlite3_column_int64(st, 5);
        if (!r->payload) {
            rc = FL_ENOMEM;
            break;
        }
        (*n)++;
    }
    if (!rc && step != SQLITE_DONE) {
        FL_ERROR(MODULE, "outbox read: %s", sqlite3_errmsg(db));
        rc = FL_ESQLITE;
    }
    sqlite3_finalize(st);
    if (rc) {
        fl_outbox_rows_free(rows, *n);
        *n = 0;
    }
    return rc;
}

void fl_outbox_rows_free(fl_outbox_row *rows, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        fl_free(rows[i].payload);
        rows[i].payload = NULL;
    }
}

int fl_outbox_mark_delivered(sqlite3 *db, int64_t id, int64_t attempts, int64_t now)
{
    static const char sql[] =
        "UPDATE notify_outbox SET state = 'delivered', attempts = ?, delivered_at = ?,"
        " last_error = NULL WHERE id = ? AND state = 'pending'";
    sqlite3_stmt *st = NULL;
    int rc = prepare(db, sql, &st);
    if (rc)
        return rc;
    sqlite3_bind_int64(st, 1, attempts);
    sqlite3_bind_int64(st, 2, now);
    sqlite3_bind_int64(st, 3, id);
    return finish(db, st);
}

int fl_outbox_mark_retry(sqlite3 *db, int64_t id, int64_t attempts, int64_t next_at,
                         const char *error)
{
    static const char sql[] =
        "UPDATE notify_outbox SET attempts = ?, next_attempt_at = ?, last_error = ?"
        " WHERE id = ? AND state = 'pending'";
    sqlite3_stmt *st = NULL;
    int rc = prepare(db, sql, &st);
    if (rc)
        return rc;
    sqlite3_bind_int64(st, 1, attempts);
    sqlite3_bind_int64(st, 2, next_at);
    sqlite3_bind_text(st, 3, error, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 4, id);
    return finish(db, st);
}

int fl_outbox_mark_failed(sqlite3 *db, int64_t id, int64_t attempts, const char *error)
{
    static const char sql[] =
        "UPDATE notify_outbox SET state = 'failed', attempts = ?, last_error = ?"
        " WHERE id = ? AND state = 'pending'";
    sqlite3_stmt *st = NULL;
    int rc = prepare(db, sql, &st);
    if (rc)
        return rc;
    sqlite3_bind_int64(st, 1, attempts);
    sqlite3_bind_text(st, 2, error, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 3, id);
    return finish(db, st);
}

int fl_outbox_pending(sqlite3 *db, const char *channel, int64_t *next_at, int64_t *count)
{
    static const char sql[] = "SELECT MIN(next_attempt_at), COUNT(*) FROM notify_outbox"
                              " WHERE state = 'pending' AND channel = ?";
    sqlite3_stmt *st = NULL;
    int rc = prepare(db, sql, &st);
    if (rc)
        return rc;
    sqlite3_bind_text(st, 1, channel, -1, SQLITE_STATIC);
    if (sqlite3_step(st) == SQLITE_ROW) {
        *next_at =
            sqlite3_column_type(st, 0) == SQLITE_NULL ? INT64_MAX : sqlite3_column_int64(st, 0);
        *count = sqlite3_column_int64(st, 1);
    } else {
        FL_ERROR(MODULE, "outbox read: %s", sqlite3_errmsg(db));
        rc = FL_ESQLITE;
    }
    sqlite3_finalize(st);
    return rc;
}

int fl_outbox_fail_orphans(sqlite3 *db, const fl_config *cfg, int64_t *n)
{
    static const char list_sql[] =
        "SELECT DISTINCT channel FROM notify_outbox WHERE state = 'pending'";
    static const char fail_sql[] =
        "UPDATE notify_outbox SET state = 'failed', last_error = 'channel not configured'"
        " WHERE state = 'pending' AND channel = ?";
    sqlite3_stmt *list = NULL, *fail = NULL;
    *n = 0;
    int rc = prepare(db, list_sql, &list);
    rc = rc ? rc : prepare(db, fail_sql, &fail);
    int step = SQLITE_DONE;
    while (!rc && (step = sqlite3_step(list)) == SQLITE_ROW) {
        const char *name = (const char *)sqlite3_column_text(list, 0);
        if (!name || fl_channel_find(cfg, name))
            continue;
        sqlite3_reset(fail);
        sqlite3_bind_text(fail, 1, name, -1, SQLITE_TRANSIENT);
        if (sqlite3_step(fail) != SQLITE_DONE) {
            rc = FL_ESQLITE;
            break;
        }
        int changed = sqlite3_changes(db);
        *n += changed;
        FL_WARN(MODULE,
                "%d pending notification(s) for channel '%s' marked failed: no "
                "[channel.%s] in the configuration any more",
                changed, name, name);
    }
    if (!rc && step != SQLITE_DONE)
        rc = FL_ESQLITE;
    if (rc)
        FL_ERROR(MODULE, "outbox orphans: %s", sqlite3_errmsg(db));
    sqlite3_finalize(list);
    sqlite3_finalize(fail);
    return rc;
}

int fl_outbox_purge(sqlite3 *db, const char *channel, int64_t before, int64_t *n)
{
    static const char sql[] =
        "DELETE FROM notify_outbox WHERE channel = ? AND state <> 'pending' AND created_at < ?"
        " AND id < (SELECT MAX(id) FROM notify_outbox)";
    sqlite3_stmt *st = NULL;
    int rc = prepare(db, sql, &st);
    if (rc)
        return rc;
    sqlite3_bind_text(st, 1, channel, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 2, before);
    if (sqlite3_step(st) != SQLITE_DONE) {
        FL_ERROR(MODULE, "outbox purge: %s", sqlite3_errmsg(db));
        rc = FL_ESQLITE;
    }
    *n = rc ? 0 : sqlite3_changes(db);
    sqlite3_finalize(st);
    return rc;
}
