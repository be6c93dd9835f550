/* rowfilter.c — row-level access over meta.db's live tables (device_state, alerts) for keys
 * limited to fleets or devices.
 *
 * Such a session gets temp.<table> virtual tables of module fl_rowfilter, which shadow
 * main.<table> for every unqualified name (SQLite resolves temp before main); the authorizer
 * refuses reads of main.<table> itself. A scan runs the trusted statement
 * "SELECT * FROM main.<table>" and returns only rows whose device_id the key may see. The
 * tables are small (one row per device or alert), so no constraint is pushed down. */
#include <stdio.h>
#include <string.h>

#include "query/query_int.h"

static const char *const covered[] = {"device_state", "alerts"};

int fl_query_rowfilter_covers(const char *table)
{
    for (size_t i = 0; i < sizeof covered / sizeof covered[0]; i++)
        if (strcmp(table, covered[i]) == 0)
            return 1;
    return 0;
}

typedef struct rf_vtab {
    sqlite3_vtab base;
    fl_query_session *session;
    char table[64];
    int column_count;
    int device_column; /* -1: none (no row is shown) */
} rf_vtab;

typedef struct rf_cursor {
    sqlite3_vtab_cursor base;
    sqlite3_stmt *st;
    int eof;
    sqlite3_int64 rowid;
} rf_cursor;

/* argv[3] is the source table name. The declaration copies its columns. */
static int rf_connect(sqlite3 *db, void *aux, int argc, const char *const *argv,
                      sqlite3_vtab **out, char **err)
{
    fl_query_session *s = aux;
    if (argc != 4 || !fl_query_rowfilter_covers(argv[3])) {
        *err = sqlite3_mprintf("fl_rowfilter: a covered table name is required");
        return SQLITE_ERROR;
    }
    rf_vtab *v = sqlite3_malloc(sizeof *v);
    if (!v)
        return SQLITE_NOMEM;
    memset(v, 0, sizeof *v);
    v->session = s;
    v->device_column = -1;
    snprintf(v->table, sizeof v->table, "%s", argv[3]);
    char *sql = sqlite3_mprintf("SELECT name, type FROM pragma_table_info(%Q, 'main')", v->table);
    sqlite3_stmt *st = NULL;
    fl_buf ddl = {0};
    int saved = s->trusted, rc = SQLITE_ERROR;
    s->trusted = 1;
    if (!sql || sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK)
        goto out;
    if (fl_buf_append_cstr(&ddl, "CREATE TABLE x("))
        goto out;
    while (sqlite3_step(st) == SQLITE_ROW) {
        const char *name = (const char *)sqlite3_column_text(st, 0);
        const char *type = (const char *)sqlite3_column_text(st, 1);
        if (strcmp(name, "device_id") == 0)
            v->device_column = v->column_count;
        char *col = sqlite3_mprintf("%s\"%w\" %s", v->column_count ? ", " : "", name,
                                    type ? type : "");
        int bad = !col || fl_buf_append_cstr(&ddl, col);
        sqlite3_free(col);
        if (bad)
            goto out;
        v->column_count++;
    }
    if (v->column_count == 0 || fl_buf_append_cstr(&ddl, ")") || fl_buf_append(&ddl, "", 1))
        goto out;
    rc = sqlite3_declare_vtab(db, ddl.data);
out:
    s->trusted = saved;
    sqlite3_finalize(st);
    sqlite3_free(sql);
    fl_buf_free(&ddl);
    if (rc != SQLITE_OK) {
        sqlite3_free(v);
        *err = sqlite3_mprintf("fl_rowfilter: cannot describe %s", argv[3]);
        return rc;
    }
    *out = &v->base;
    return SQLITE_OK;
}

static int rf_disconnect(sqlite3_vtab *vt)
{
    sqlite3_free(vt);
    return SQLITE_OK;
}

static int rf_best_index(sqlite3_vtab *vt, sqlite3_index_info *info)
{
    (void)vt;
    info->estimatedCost = 1e6;
    info->estimatedRows = 10000;
    return SQLITE_OK;
}

static int rf_open(sqlite3_vtab *vt, sqlite3_vtab_cursor **out)
{
    rf_cursor *c = sqlite3_malloc(sizeof *c);
    if (!c)
        return SQLITE_NOMEM;
    memset(c, 0, sizeof *c);
    *out = &c->base;
    return SQLITE_OK;
}

static int rf_close(sqlite3_vtab_cursor *cur)
{
    rf_cursor *c = (rf_cursor *)cur;
    sqlite3_finalize(c->st);
    sqlite3_free(c);
    return SQLITE_OK;
}

/* Step to the next row the session may see. */
static int rf_advance(rf_cursor *c)
{
    rf_vtab *v = (rf_vtab *)c->base.pVtab;
    for (;;) {
        int s = sqlite3_step(c->st);
        if (s == SQLITE_DONE) {
            c->eof = 1;
            return SQLITE_OK;
        }
        if (s != SQLITE_ROW)
            return s;
        c->rowid++;
        if (v->device_column < 0)
            continue;
        const char *id = (const char *)sqlite3_column_text(c->st, v->device_column);
        int len = sqlite3_column_bytes(c->st, v->device_column);
        if (id && fl_access_device_allowed(&v->session->access, id, (size_t)len))
            return SQLITE_OK;
    }
}

static int rf_filter(sqlite3_vtab_cursor *cur, int idx_num, const char *idx_str, int argc,
                     sqlite3_value **argv)
{
    (void)idx_num;
    (void)idx_str;
    (void)argc;
    (void)argv;
    rf_cursor *c = (rf_cursor *)cur;
    rf_vtab *v = (rf_vtab *)cur->pVtab;
    sqlite3_finalize(c->st);
    c->st = NULL;
    c->eof = 0;
    c->rowid = 0;
    char *sql = sqlite3_mprintf("SELECT * FROM main.\"%w\"", v->table);
    if (!sql)
        return SQLITE_NOMEM;
    int saved = v->session->trusted;
    v->session->trusted = 1;
    int rc = sqlite3_prepare_v2(v->session->db, sql, -1, &c->st, NULL);
    v->session->trusted = saved;
    sqlite3_free(sql);
    if (rc != SQLITE_OK)
        return rc;
    return rf_advance(c);
}

static int rf_next(sqlite3_vtab_cursor *cur)
{
    return rf_advance((rf_cursor *)cur);
}

static int rf_eof(sqlite3_vtab_cursor *cur)
{
    return ((rf_cursor *)cur)->eof;
}

static int rf_column(sqlite3_vtab_cursor *cur, sqlite3_context *ctx, int i)
{
    rf_cursor *c = (rf_cursor *)cur;
    sqlite3_result_value(ctx, sqlite3_column_value(c->st, i));
    return SQLITE_OK;
}

static int rf_rowid(sqlite3_vtab_cursor *cur, sqlite3_int64 *out)
{
    *out = ((rf_cursor *)cur)->rowid;
    return SQLITE_OK;
}

static const sqlite3_module rowfilter_module = {
    .iVersion = 0,
    .xCreate = rf_connect,
    .xConnect = rf_connect,
    .xBestIndex = rf_best_index,
    .xDisconnect = rf_disconnect,
    .xDestroy = rf_disconnect,
    .xOpen = rf_open,
    .xClose = rf_close,
    .xFilter = rf_filter,
    .xNext = rf_next,
    .xEof = rf_eof,
    .xColumn = rf_column,
    .xRowid = rf_rowid,
};

/* 1 when main.<table> exists. */
static int table_exists(sqlite3 *db, const char *table)
{
    sqlite3_stmt *st = NULL;
    int found = 0;
    if (sqlite3_prepare_v2(db, "SELECT 1 FROM main.sqlite_master WHERE type = 'table' AND name = ?1",
                           -1, &st, NULL) == SQLITE_OK) {
        sqlite3_bind_text(st, 1, table, -1, SQLITE_STATIC);
        found = sqlite3_step(st) == SQLITE_ROW;
    }
    sqlite3_finalize(st);
    return found;
}

int fl_query_rowfilter_install(fl_query_session *s)
{
    if (sqlite3_create_module(s->db, "fl_rowfilter", &rowfilter_module, s) != SQLITE_OK)
        return FL_ESQLITE;
    int saved = s->trusted, rc = 0;
    s->trusted = 1;
    if (sqlite3_exec(s->db, "PRAGMA query_only = 0", NULL, NULL, NULL) != SQLITE_OK)
        rc = FL_ESQLITE;
    for (size_t i = 0; !rc && i < sizeof covered / sizeof covered[0]; i++) {
        if (!table_exists(s->db, covered[i]))
            continue;
        char *sql = sqlite3_mprintf("CREATE VIRTUAL TABLE temp.\"%w\" USING fl_rowfilter(%s)",
                                    covered[i], covered[i]);
        if (!sql || sqlite3_exec(s->db, sql, NULL, NULL, NULL) != SQLITE_OK)
            rc = FL_ESQLITE;
        sqlite3_free(sql);
    }
    if (sqlite3_exec(s->db, "PRAGMA query_only = 1", NULL, NULL, NULL) != SQLITE_OK)
        rc = FL_ESQLITE;
    s->trusted = saved;
    return rc;
}
