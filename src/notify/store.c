/* store.c — the `alerts` table in meta.db (a live table: SQL sees it as `alerts`).
 *
 *   alerts(id BIGINT PK, rule, type, severity, state, dedup_key, device_id, fleet, summary,
 *          value, threshold, opened_at, updated_at, acknowledged_at, resolved_at, resolved_by,
 *          notify_count, last_notified_at, trace_id)
 * Times are µs since the epoch; value/threshold NULL when the rule has none. Portable SQL; the
 * engine thread is the only writer (API transitions go through it), ids are max(id) + 1 inside
 * its transactions. */
#include <stdio.h>
#include <string.h>

#include "notify/engine_int.h"

static const char schema[] =
    "CREATE TABLE IF NOT EXISTS alerts ("
    " id BIGINT PRIMARY KEY,"
    " rule TEXT NOT NULL,"
    " type TEXT NOT NULL,"
    " severity TEXT NOT NULL,"
    " state TEXT NOT NULL,"
    " dedup_key TEXT NOT NULL,"
    " device_id TEXT NOT NULL,"
    " fleet TEXT NOT NULL,"
    " summary TEXT NOT NULL,"
    " value DOUBLE PRECISION,"
    " threshold DOUBLE PRECISION,"
    " opened_at BIGINT NOT NULL,"
    " updated_at BIGINT NOT NULL,"
    " acknowledged_at BIGINT,"
    " resolved_at BIGINT,"
    " resolved_by TEXT NOT NULL,"
    " notify_count BIGINT NOT NULL,"
    " last_notified_at BIGINT NOT NULL,"
    " trace_id TEXT NOT NULL);"
    "CREATE INDEX IF NOT EXISTS alerts_dedup ON alerts (dedup_key, state);";

#define COLUMNS                                                                                    \
    "id, rule, type, severity, state, dedup_key, device_id, fleet, summary, value, threshold, "    \
    "opened_at, updated_at, acknowledged_at, resolved_at, resolved_by, notify_count, "             \
    "last_notified_at, trace_id"

int fl_alert_store_init(sqlite3 *db)
{
    return sqlite3_exec(db, schema, NULL, NULL, NULL) == SQLITE_OK ? 0 : FL_ESQLITE;
}

static void text(sqlite3_stmt *st, int i, char *dst, size_t cap)
{
    const unsigned char *t = sqlite3_column_text(st, i);
    snprintf(dst, cap, "%s", t ? (const char *)t : "");
}

static int64_t int_or(sqlite3_stmt *st, int i, int64_t null_value)
{
    return sqlite3_column_type(st, i) == SQLITE_NULL ? null_value : sqlite3_column_int64(st, i);
}

/* Fill a from a row of COLUMNS; *last_notified receives that column. */
static void row(sqlite3_stmt *st, fl_alert *a, int64_t *last_notified)
{
    memset(a, 0, sizeof *a);
    char sev[16], state[16];
    a->id = sqlite3_column_int64(st, 0);
    text(st, 1, a->rule, sizeof a->rule);
    text(st, 2, a->type, sizeof a->type);
    text(st, 3, sev, sizeof sev);
    text(st, 4, state, sizeof state);
    text(st, 5, a->dedup_key, sizeof a->dedup_key);
    text(st, 6, a->device_id, sizeof a->device_id);
    text(st, 7, a->fleet, sizeof a->fleet);
    text(st, 8, a->summary, sizeof a->summary);
    a->has_value = sqlite3_column_type(st, 9) != SQLITE_NULL;
    a->value = sqlite3_column_double(st, 9);
    a->threshold = sqlite3_column_double(st, 10);
    a->opened_at = sqlite3_column_int64(st, 11);
    a->updated_at = sqlite3_column_int64(st, 12);
    a->acked_at = int_or(st, 13, -1);
    a->resolved_at = int_or(st, 14, -1);
    text(st, 15, a->resolved_by, sizeof a->resolved_by);
    a->notify_count = sqlite3_column_int64(st, 16);
    if (last_notified)
        *last_notified = sqlite3_column_int64(st, 17);
    text(st, 18, a->trace_id, sizeof a->trace_id);
    if (fl_severity_parse(sev, &a->severity))
        a->severity = FL_SEVERITY_WARNING;
    a->state = strcmp(state, "open") == 0           ? FL_ALERT_OPEN
               : strcmp(state, "acknowledged") == 0 ? FL_ALERT_ACKNOWLEDGED
                                                    : FL_ALERT_RESOLVED;
}

/* Run a one-row query with text parameter p; FL_ENOTFOUND when it yields nothing. */
static int one(sqlite3 *db, const char *sql, const char *p, int64_t ip, fl_alert *out)
{
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK)
        return FL_ESQLITE;
    if (p)
        sqlite3_bind_text(st, 1, p, -1, SQLITE_STATIC);
    else
        sqlite3_bind_int64(st, 1, ip);
    int s = sqlite3_step(st), rc = 0;
    if (s == SQLITE_ROW)
        row(st, out, NULL);
    else
        rc = s == SQLITE_DONE ? FL_ENOTFOUND : FL_ESQLITE;
    sqlite3_finalize(st);
    return rc;
}

int fl_alert_store_get(sqlite3 *db, int64_t id, fl_alert *out)
{
    return one(db, "SELECT " COLUMNS " FROM alerts WHERE id = ?1", NULL, id, out);
}

int fl_alert_store_find_active(sqlite3 *db, const char *dedup_key, fl_alert *out)
{
    return one(db,
               "SELECT " COLUMNS " FROM alerts WHERE dedup_key = ?1 AND state <> 'resolved' "
               "ORDER BY id DESC LIMIT 1",
               dedup_key, 0, out);
}

int fl_alert_store_last_resolved(sqlite3 *db, const char *dedup_key, int64_t *at)
{
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v2(db,
                           "SELECT max(resolved_at) FROM alerts WHERE dedup_key = ?1 AND "
                           "state = 'resolved'",
                           -1, &st, NULL) != SQLITE_OK)
        return FL_ESQLITE;
    sqlite3_bind_text(st, 1, dedup_key, -1, SQLITE_STATIC);
    int rc = sqlite3_step(st) == SQLITE_ROW ? 0 : FL_ESQLITE;
    if (!rc)
        *at = int_or(st, 0, -1);
    sqlite3_finalize(st);
    return rc;
}

static void bind_all(sqlite3_stmt *st, const fl_alert *a, int64_t last_notified)
{
    sqlite3_bind_int64(st, 1, a->id);
    sqlite3_bind_text(st, 2, a->rule, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 3, a->type, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 4, fl_severity_name(a->severity), -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 5, fl_alert_state_name(a->state), -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 6, a->dedup_key, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 7, a->device_id, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 8, a->fleet, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 9, a->summary, -1, SQLITE_STATIC);
    if (a->has_value) {
        sqlite3_bind_double(st, 10, a->value);
        sqlite3_bind_double(st, 11, a->threshold);
    }
    sqlite3_bind_int64(st, 12, a->opened_at);
    sqlite3_bind_int64(st, 13, a->updated_at);
    if (a->acked_at >= 0)
        sqlite3_bind_int64(st, 14, a->acked_at);
    if (a->resolved_at >= 0)
        sqlite3_bind_int64(st, 15, a->resolved_at);
    sqlite3_bind_text(st, 16, a->resolved_by, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 17, a->notify_count);
    sqlite3_bind_int64(st, 18, last_notified);
    sqlite3_bind_text(st, 19, a->trace_id, -1, SQLITE_STATIC);
}

static int write(sqlite3 *db, const char *sql, const fl_alert *a, int64_t last_notified)
{
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK)
        return FL_ESQLITE;
    bind_all(st, a, last_notified);
    int rc = sqlite3_step(st) == SQLITE_DONE ? 0 : FL_ESQLITE;
    sqlite3_finalize(st);
    return rc;
}

int fl_alert_store_insert(sqlite3 *db, fl_alert *a, int64_t last_notified_at)
{
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v2(db, "SELECT coalesce(max(id), 0) + 1 FROM alerts", -1, &st, NULL) !=
        SQLITE_OK)
        return FL_ESQLITE;
    int rc = sqlite3_step(st) == SQLITE_ROW ? 0 : FL_ESQLITE;
    if (!rc)
        a->id = sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    return rc ? rc
              : write(db,
                      "INSERT INTO alerts (" COLUMNS ") VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, "
                      "?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18, ?19)",
                      a, last_notified_at);
}

int fl_alert_store_update(sqlite3 *db, const fl_alert *a, int64_t last_notified_at)
{
    return write(db,
                 "UPDATE alerts SET rule = ?2, type = ?3, severity = ?4, state = ?5, "
                 "dedup_key = ?6, device_id = ?7, fleet = ?8, summary = ?9, value = ?10, "
                 "threshold = ?11, opened_at = ?12, updated_at = ?13, acknowledged_at = ?14, "
                 "resolved_at = ?15, resolved_by = ?16, notify_count = ?17, "
                 "last_notified_at = ?18, trace_id = ?19 WHERE id = ?1",
                 a, last_notified_at);
}

int fl_alert_store_active(sqlite3 *db, fl_alert_visit_fn fn, void *ctx)
{
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v2(db, "SELECT " COLUMNS " FROM alerts WHERE state <> 'resolved'", -1, &st,
                           NULL) != SQLITE_OK)
        return FL_ESQLITE;
    int s, rc = 0;
    while (!rc && (s = sqlite3_step(st)) == SQLITE_ROW) {
        fl_alert a;
        int64_t last;
        row(st, &a, &last);
        rc = fn(ctx, &a, last);
    }
    if (!rc && s != SQLITE_DONE)
        rc = FL_ESQLITE;
    sqlite3_finalize(st);
    return rc;
}

struct active_list {
    const char *rule;
    fl_alert *v;
    size_t n, cap;
};

static int active_list_visit(void *ctx, const fl_alert *a, int64_t last)
{
    (void)last;
    struct active_list *c = ctx;
    if (c->rule && strcmp(a->rule, c->rule) != 0)
        return 0;
    if (c->n == c->cap) {
        size_t cap = c->cap ? 2 * c->cap : 16;
        fl_alert *v = fl_realloc(c->v, cap * sizeof *v);
        if (!v)
            return FL_ENOMEM;
        c->v = v;
        c->cap = cap;
    }
    c->v[c->n++] = *a;
    return 0;
}

int fl_alert_store_active_list(sqlite3 *db, const char *rule_name, fl_alert **out, size_t *n)
{
    struct active_list c = {.rule = rule_name};
    int rc = fl_alert_store_active(db, active_list_visit, &c);
    if (rc) {
        fl_free(c.v);
        return rc;
    }
    *out = c.v;
    *n = c.n;
    return 0;
}

int fl_alert_store_list(sqlite3 *db, const fl_alert_filter *f,
                        int (*keep)(const fl_alert_filter *f, const fl_alert *a), fl_alert **out,
                        size_t *n, int *more)
{
    char sql[512];
    snprintf(sql, sizeof sql,
             "SELECT " COLUMNS " FROM alerts WHERE id < ?1%s%s%s ORDER BY id DESC",
             f->state >= 0 ? " AND state = ?2" : "", f->device ? " AND device_id = ?3" : "",
             f->rule ? " AND rule = ?4" : "");
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK)
        return FL_ESQLITE;
    sqlite3_bind_int64(st, 1, f->before_id > 0 ? f->before_id : INT64_MAX);
    if (f->state >= 0)
        sqlite3_bind_text(st, 2, fl_alert_state_name((fl_alert_state)f->state), -1, SQLITE_STATIC);
    if (f->device)
        sqlite3_bind_text(st, 3, f->device, -1, SQLITE_STATIC);
    if (f->rule)
        sqlite3_bind_text(st, 4, f->rule, -1, SQLITE_STATIC);
    fl_alert *v = fl_calloc(f->limit ? f->limit : 1, sizeof *v);
    if (!v) {
        sqlite3_finalize(st);
        return FL_ENOMEM;
    }
    size_t k = 0;
    int s, rc = 0;
    *more = 0;
    while ((s = sqlite3_step(st)) == SQLITE_ROW) {
        fl_alert a;
        row(st, &a, NULL);
        if (f->min_severity >= 0 && (int)a.severity < f->min_severity)
            continue;
        if (keep && !keep(f, &a))
            continue;
        if (k == f->limit) {
            *more = 1;
            break;
        }
        v[k++] = a;
    }
    if (s != SQLITE_ROW && s != SQLITE_DONE)
        rc = FL_ESQLITE;
    sqlite3_finalize(st);
    if (rc) {
        fl_free(v);
        return rc;
    }
    *out = v;
    *n = k;
    return 0;
}
