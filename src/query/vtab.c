/* vtab.c — the "parquet" virtual table module: one eponymous-only table per lake table
 * (fl_lake_table_at), declared from the lake's own column list, plus xBestIndex, which pushes
 * partition, time-column and device_id constraints down to the scan (vtab_scan.c).
 *
 * idxStr is "<colUsed as 16 hex digits>:<order>:" followed by one 4-character item per argv
 * entry: a code — 'Y','M','D','H' (partition), 'T' (time column), 'V' (device_id = value), 'I'
 * (device_id IN list, handed over whole by sqlite3_vtab_in) or 'F' (another numeric column,
 * filtered row by row) — an op '=', '<', '{' (<=), '>', '}' (>=), and the table column as two
 * hex digits. <order> is '-', 'P' (the scan delivers ORDER/GROUP BY year, month, day, hour) or
 * 'G' (GROUP BY / ORDER BY device_id: the grouped scan). Pushed-down bounds only need to be
 * safe, not exact, because SQLite re-checks every row — except for the constraints exact()
 * marks omitted, which the scan's row filters evaluate exactly (a literal of the column's
 * type), saving SQLite a column fetch and a comparison per row. */
#include <math.h>
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

/* The pushdown code of constraint k, or 0 if it is not pushed down. */
static char column_code(const pq_vtab *v, sqlite3_index_info *info, int k)
{
    const struct sqlite3_index_constraint *c = &info->aConstraint[k];
    int n = (int)v->table->column_count, col = c->iColumn;
    if (col >= n && col < n + v->extra_count)
        return "YMDH"[v->extra_part[col - n]];
    if (col < 0 || col >= n)
        return 0;
    if (col == v->time_column)
        return 'T';
    if (col == v->device_column) {
        /* Text comparisons only under BINARY: "device_id = 'X' COLLATE NOCASE" must not prune
         * by byte-wise statistics. */
        const char *coll = sqlite3_vtab_collation(info, k);
        if (c->op != SQLITE_INDEX_CONSTRAINT_EQ || (coll && sqlite3_stricmp(coll, "BINARY")))
            return 0;
        /* An IN list is handed to xFilter whole (one scan, not one per value). */
        return sqlite3_vtab_in(info, k, -1) ? 'I' : 'V';
    }
    switch (v->table->columns[col].physical) {
    case FL_PQ_BOOLEAN:
    case FL_PQ_INT32:
    case FL_PQ_INT64:
    case FL_PQ_DOUBLE:
        return 'F';
    default:
        return 0;
    }
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

/* Table column of partition k (QB_*), or -1 when the table has no such extra column. */
static int partition_column(const pq_vtab *v, int k)
{
    for (int e = 0; e < v->extra_count; e++)
        if (v->extra_part[e] == k)
            return (int)v->table->column_count + e;
    return -1;
}

/* ORDER BY (or GROUP BY) year, month[, day[, hour]], ascending, in that order: files taken in
 * partition order deliver it (every row of a file has its partition). The scan's order is
 * promised even for a GROUP BY (distinct 1), where grouping would do: SQLite 3.40 also relies
 * on it for an ORDER BY of the same terms (GROUP BY x ORDER BY x DESC came out ascending when
 * the direction was not checked). */
static int partition_order(const pq_vtab *v, const sqlite3_index_info *info, int distinct)
{
    int n = info->nOrderBy;
    if (n < 1 || n > QB_PART_COUNT || (distinct != 0 && distinct != 1))
        return 0;
    for (int i = 0; i < n; i++)
        if (partition_column(v, i) < 0 || info->aOrderBy[i].iColumn != partition_column(v, i) ||
            info->aOrderBy[i].desc)
            return 0;
    return 1;
}

/* ORDER BY or GROUP BY device_id alone, ascending: the grouped scan (vtab_group.c). */
static int device_order(const pq_vtab *v, const sqlite3_index_info *info, int distinct)
{
    return v->device_column >= 0 && info->nOrderBy == 1 &&
           info->aOrderBy[0].iColumn == v->device_column && !info->aOrderBy[0].desc &&
           (distinct == 0 || distinct == 1);
}

/* May SQLite skip re-checking constraint k? Only when the scan's row filter evaluates it
 * exactly as SQLite would: a literal right-hand side (known now; a bound parameter or an
 * expression is not) that is an INTEGER against the time column or an INTEGER/BOOLEAN column,
 * an INTEGER within ±2^53 or a REAL against a REAL column, or TEXT against device_id (BINARY,
 * checked by column_code). Everything else — partition columns (a file may lack its hour),
 * IN lists, widened REAL bounds — is re-checked by SQLite. */
static int exact(const pq_vtab *v, sqlite3_index_info *info, int k, char code)
{
    sqlite3_value *rhs = NULL;
    if ((code != 'T' && code != 'F' && code != 'V') ||
        sqlite3_vtab_rhs_value(info, k, &rhs) != SQLITE_OK || !rhs)
        return 0;
    int type = sqlite3_value_type(rhs);
    if (code == 'V')
        return type == SQLITE_TEXT;
    int is_real = v->table->columns[info->aConstraint[k].iColumn].physical == FL_PQ_DOUBLE;
    if (type == SQLITE_INTEGER) {
        int64_t x = sqlite3_value_int64(rhs);
        return !is_real || (x >= -(INT64_C(1) << 53) && x <= (INT64_C(1) << 53));
    }
    return is_real && type == SQLITE_FLOAT && !isnan(sqlite3_value_double(rhs));
}

static int best_index(sqlite3_vtab *vt, sqlite3_index_info *info)
{
    pq_vtab *v = (pq_vtab *)vt;
    char items[4 * 64 + 1];
    int n = 0, filters = 0;
    double cost = 1e6;
    for (int i = 0; i < info->nConstraint && n < 64; i++) {
        const struct sqlite3_index_constraint *k = &info->aConstraint[i];
        char op = op_code(k->op);
        char col = k->usable && op ? column_code(v, info, i) : 0;
        if (!col || (col == 'F' && filters == PQ_ROW_FILTERS_MAX))
            continue;
        filters += col == 'F';
        if (col == 'I')
            (void)sqlite3_vtab_in(info, i, 1);
        snprintf(items + 4 * n, 5, "%c%c%02x", col, op, (unsigned)k->iColumn & 0xff);
        info->aConstraintUsage[i].argvIndex = ++n;
        info->aConstraintUsage[i].omit = exact(v, info, i, col);
        cost /= col == 'F' ? 2 : op == '=' ? 20 : 4;
    }
    items[4 * n] = 0;
    int distinct = sqlite3_vtab_distinct(info);
    char order = PQ_ORDER_NONE;
    if (partition_order(v, info, distinct))
        order = PQ_ORDER_PARTITION;
    else if (device_order(v, info, distinct))
        order = PQ_ORDER_DEVICE;
    info->orderByConsumed = order != PQ_ORDER_NONE;
    info->idxStr =
        sqlite3_mprintf("%016llx:%c:%s", (unsigned long long)info->colUsed, order, items);
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
