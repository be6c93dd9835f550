/* vtab.c — the "parquet" virtual table module: one eponymous-only table per lake table
 * (fl_lake_table_at), declared from the lake's own column list, plus xBestIndex, which pushes
 * partition, time-column and device_id constraints down to the scan (vtab_scan.c).
 *
 * idxStr is "<colUsed as 16 hex digits>:" followed by one (column, op) pair per argv entry:
 * column 'Y','M','D','H' (partition), 'T' (time column) or 'V' (device_id); op '=', '<', '{'
 * (<=), '>', '}' (>=). No constraint is omitted: SQLite re-checks every row, so pushed-down
 * bounds only need to be safe, not exact. */
#include <stdio.h>
#include <string.h>

#include "query/query_int.h"

static const char *sql_type(const fl_pq_column_def *d)
{
    switch (d->physical) {
    case FL_PQ_BOOLEAN:
    case FL_PQ_INT32:
    case FL_PQ_INT64:
        return "INTEGER";
    case FL_PQ_DOUBLE:
        return "REAL";
    case FL_PQ_BYTE_ARRAY:
        return d->logical == FL_PQ_LOGICAL_STRING ? "TEXT" : "BLOB";
    }
    return "";
}

static int connect(sqlite3 *db, void *aux, int argc, const char *const *argv, sqlite3_vtab **out,
                   char **err)
{
    (void)argc;
    (void)argv;
    const pq_module_aux *a = aux;
    size_t index = a->index;
    const fl_lake_table_info *t = fl_lake_table_at(index);
    if (!t || t->column_count + PQ_EXTRA_COUNT > PQ_COLUMNS_MAX) {
        *err = sqlite3_mprintf("lake table %zu cannot be declared", index);
        return SQLITE_ERROR;
    }
    static const char *const part_names[PQ_EXTRA_COUNT] = {"year", "month", "day", "hour"};
    int extra_part[PQ_EXTRA_COUNT], extra_count = 0;
    for (int k = 0; k < PQ_EXTRA_COUNT; k++) {
        int clash = k == QB_HOUR && !t->partitioned_by_hour;
        for (size_t i = 0; i < t->column_count && !clash; i++)
            clash = strcmp(t->columns[i].name, part_names[k]) == 0;
        if (!clash)
            extra_part[extra_count++] = k;
    }
    fl_buf ddl = {0};
    int rc = fl_buf_append_cstr(&ddl, "CREATE TABLE x(");
    for (size_t i = 0; !rc && i < t->column_count; i++)
        rc = fl_buf_printf(&ddl, "%s\"%s\" %s", i ? ", " : "", t->columns[i].name,
                           sql_type(&t->columns[i]));
    for (int k = 0; !rc && k < extra_count; k++)
        rc = fl_buf_printf(&ddl, ", %s INTEGER", part_names[extra_part[k]]);
    rc = rc ? rc : fl_buf_append_cstr(&ddl, ")");
    /* The declaration is compiled like a CREATE TABLE, which the authorizer refuses to users:
     * it is the session's own statement. */
    int saved = a->session->trusted;
    a->session->trusted = 1;
    int drc = rc ? SQLITE_ERROR : sqlite3_declare_vtab(db, ddl.data);
    a->session->trusted = saved;
    if (drc != SQLITE_OK) {
        fl_buf_free(&ddl);
        *err = sqlite3_mprintf("cannot declare %s: %s", t->name, sqlite3_errmsg(db));
        return SQLITE_ERROR;
    }
    fl_buf_free(&ddl);
    pq_vtab *v = sqlite3_malloc(sizeof *v);
    if (!v)
        return SQLITE_NOMEM;
    memset(v, 0, sizeof *v);
    v->session = a->session;
    v->table = t;
    v->table_index = index;
    v->time_column = v->device_column = -1;
    v->extra_count = extra_count;
    memcpy(v->extra_part, extra_part, sizeof extra_part);
    for (size_t i = 0; i < t->column_count; i++) {
        if (t->time_column && strcmp(t->columns[i].name, t->time_column) == 0 &&
            t->columns[i].physical == FL_PQ_INT64)
            v->time_column = (int)i;
        if (strcmp(t->columns[i].name, "device_id") == 0 &&
            t->columns[i].physical == FL_PQ_BYTE_ARRAY)
            v->device_column = (int)i;
    }
    sqlite3_vtab_config(db, SQLITE_VTAB_DIRECTONLY);
    *out = &v->base;
    return SQLITE_OK;
}

static int disconnect(sqlite3_vtab *vt)
{
    sqlite3_free(vt);
    return SQLITE_OK;
}

static char column_code(const pq_vtab *v, int col, int op)
{
    int n = (int)v->table->column_count;
    if (col >= n && col < n + v->extra_count)
        return "YMDH"[v->extra_part[col - n]];
    if (col >= 0 && col == v->time_column)
        return 'T';
    if (col >= 0 && col == v->device_column && op == SQLITE_INDEX_CONSTRAINT_EQ)
        return 'V';
    return 0;
}

static char op_code(int op)
{
    switch (op) {
    case SQLITE_INDEX_CONSTRAINT_EQ:
        return '=';
    case SQLITE_INDEX_CONSTRAINT_LT:
        return '<';
    case SQLITE_INDEX_CONSTRAINT_LE:
        return '{';
    case SQLITE_INDEX_CONSTRAINT_GT:
        return '>';
    case SQLITE_INDEX_CONSTRAINT_GE:
        return '}';
    default:
        return 0;
    }
}

static int best_index(sqlite3_vtab *vt, sqlite3_index_info *info)
{
    pq_vtab *v = (pq_vtab *)vt;
    char pairs[2 * 64 + 1];
    int n = 0;
    double cost = 1e6;
    for (int i = 0; i < info->nConstraint && n < 64; i++) {
        const struct sqlite3_index_constraint *k = &info->aConstraint[i];
        char col = k->usable ? column_code(v, k->iColumn, k->op) : 0;
        char op = op_code(k->op);
        if (!col || !op)
            continue;
        pairs[2 * n] = col;
        pairs[2 * n + 1] = op;
        info->aConstraintUsage[i].argvIndex = ++n;
        info->aConstraintUsage[i].omit = 0;
        cost /= op == '=' ? 20 : 4;
    }
    pairs[2 * n] = 0;
    info->idxStr = sqlite3_mprintf("%016llx:%s", (unsigned long long)info->colUsed, pairs);
    if (!info->idxStr)
        return SQLITE_NOMEM;
    info->needToFreeIdxStr = 1;
    info->estimatedCost = cost;
    info->estimatedRows = (sqlite3_int64)cost;
    return SQLITE_OK;
}

static int open_cursor(sqlite3_vtab *vt, sqlite3_vtab_cursor **out)
{
    (void)vt;
    pq_cursor *c = sqlite3_malloc(sizeof *c);
    if (!c)
        return SQLITE_NOMEM;
    memset(c, 0, sizeof *c);
    c->eof = 1;
    *out = &c->base;
    return SQLITE_OK;
}

static int close_cursor(sqlite3_vtab_cursor *cur)
{
    fl_query_vtab_cursor_reset((pq_cursor *)cur);
    sqlite3_free(cur);
    return SQLITE_OK;
}

static int rowid(sqlite3_vtab_cursor *cur, sqlite3_int64 *out)
{
    *out = ((pq_cursor *)cur)->rowid;
    return SQLITE_OK;
}

static const sqlite3_module parquet_module = {
    .iVersion = 0,
    .xCreate = NULL, /* eponymous-only: the table exists under the module's name */
    .xConnect = connect,
    .xBestIndex = best_index,
    .xDisconnect = disconnect,
    .xDestroy = disconnect,
    .xOpen = open_cursor,
    .xClose = close_cursor,
    .xFilter = fl_query_vtab_filter,
    .xNext = fl_query_vtab_next,
    .xEof = fl_query_vtab_eof,
    .xColumn = fl_query_vtab_column,
    .xRowid = rowid,
};

int fl_query_vtab_register(fl_query_session *s)
{
    for (size_t i = 0; i < fl_lake_table_count() && i < QUERY_TABLES_MAX; i++) {
        const fl_lake_table_info *t = fl_lake_table_at(i);
        s->module_aux[i] = (pq_module_aux){s, i};
        if (sqlite3_create_module_v2(s->db, t->name, &parquet_module, &s->module_aux[i], NULL) !=
            SQLITE_OK)
            return FL_ESQLITE;
    }
    return 0;
}
