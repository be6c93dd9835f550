/* tables_json.c — the registry's external forms: JSON, one encoding for `fleetlake catalog ...
 * --format json` and GET /v1/tables[/{name}] so the CLI and the API never describe a table
 * differently (times are RFC 3339 UTC strings, null when a table has no rows); and its copy in
 * meta.db's catalog_tables/catalog_columns for tools that read only meta.db. */
#include <stdio.h>
#include <string.h>

#include "catalog/catalog.h"

const char *fl_catalog_type_name(enum fl_catalog_type t)
{
    static const char *const names[] = {
        [FL_CATALOG_STRING] = "string", [FL_CATALOG_TIMESTAMP] = "timestamp",
        [FL_CATALOG_INT8] = "int8",     [FL_CATALOG_INT16] = "int16",
        [FL_CATALOG_INT32] = "int32",   [FL_CATALOG_INT64] = "int64",
        [FL_CATALOG_DOUBLE] = "double", [FL_CATALOG_BOOLEAN] = "boolean",
        [FL_CATALOG_BINARY] = "binary",
    };
    return (unsigned)t < sizeof names / sizeof names[0] ? names[t] : "?";
}

static int json_time(fl_buf *b, const char *key, int64_t us)
{
    if (us < 0)
        return fl_buf_printf(b, "\"%s\":null", key);
    char t[FL_TIME_RFC3339_MAX];
    fl_time_format_rfc3339(us, t);
    return fl_buf_printf(b, "\"%s\":\"%s\"", key, t);
}

static int json_partition_keys(fl_buf *b, const fl_catalog_table *t)
{
    int rc = fl_buf_append_cstr(b, "\"partition_keys\":[");
    int first = 1;
    for (size_t i = 0; !rc && i < t->column_count; i++) {
        if (!t->columns[i].partition)
            continue;
        rc = fl_buf_printf(b, "%s\"%s\"", first ? "" : ",", t->columns[i].name);
        first = 0;
    }
    return rc ? rc : fl_buf_append_cstr(b, "]");
}

/* name, kind, prefix, partition keys and the stats, without braces. */
static int json_summary(fl_buf *b, const fl_catalog_table *t, const fl_catalog_table_stats *s)
{
    int rc = fl_buf_printf(b, "\"name\":\"%s\",\"kind\":\"%s\",", t->name,
                           fl_catalog_kind_name(t->kind));
    if (t->kind == FL_CATALOG_KIND_LAKE)
        rc = rc ? rc
                : fl_buf_printf(b, "\"prefix\":\"%s\",\"time_column\":\"%s\",", t->prefix,
                                t->time_column);
    else
        rc = rc ? rc : fl_buf_append_cstr(b, "\"prefix\":null,\"time_column\":null,");
    rc = rc ? rc : json_partition_keys(b, t);
    rc = rc ? rc
            : fl_buf_printf(b,
                            ",\"files\":%lld,\"rows\":%lld,\"bytes\":%lld,\"partitions\":%lld,"
                            "\"retired_files\":%lld,\"retired_bytes\":%lld,",
                            (long long)s->files, (long long)s->rows, (long long)s->bytes,
                            (long long)s->partitions, (long long)s->retired_files,
                            (long long)s->retired_bytes);
    rc = rc ? rc : json_time(b, "min_ts", s->min_ts);
    rc = rc ? rc : fl_buf_append_cstr(b, ",");
    return rc ? rc : json_time(b, "max_ts", s->max_ts);
}

int fl_catalog_tables_json(fl_catalog *c, fl_buf *out)
{
    fl_catalog_table *t = NULL;
    size_t n = 0;
    int rc = fl_catalog_tables_list(c, &t, &n);
    if (rc)
        return rc;
    rc = fl_buf_append_cstr(out, "{\"tables\":[");
    for (size_t i = 0; !rc && i < n; i++) {
        fl_catalog_table_stats s;
        rc = fl_catalog_table_stats_get(c, &t[i], &s);
        rc = rc ? rc : fl_buf_append_cstr(out, i ? ",{" : "{");
        rc = rc ? rc : json_summary(out, &t[i], &s);
        rc = rc ? rc : fl_buf_append_cstr(out, "}");
    }
    rc = rc ? rc : fl_buf_append_cstr(out, "]}\n");
    fl_free(t);
    return rc;
}

struct groups {
    fl_buf *b;
    size_t n, max;
    int truncated;
};

static int group_json(void *arg, const fl_catalog_group *g)
{
    struct groups *gs = arg;
    if (gs->n == gs->max) {
        gs->truncated = 1;
        return 0; /* keep stepping: cheap, and the query's result stays a plain success */
    }
    fl_buf *b = gs->b;
    int rc = fl_buf_append_cstr(b, gs->n++ ? ",{" : "{");
    if (g->tier[0])
        rc = rc ? rc : fl_buf_printf(b, "\"tier\":\"%s\",", g->tier);
    else if (g->hour >= 0)
        rc = rc ? rc
                : fl_buf_printf(b, "\"year\":%d,\"month\":%d,\"day\":%d,\"hour\":%d,", g->year,
                                g->month, g->day, g->hour);
    else
        rc = rc ? rc
                : fl_buf_printf(b, "\"year\":%d,\"month\":%d,\"day\":%d,", g->year, g->month,
                                g->day);
    rc = rc ? rc
            : fl_buf_printf(b, "\"files\":%lld,\"rows\":%lld,\"bytes\":%lld,",
                            (long long)g->files, (long long)g->rows, (long long)g->bytes);
    rc = rc ? rc : json_time(b, "min_ts", g->min_ts);
    rc = rc ? rc : fl_buf_append_cstr(b, ",");
    rc = rc ? rc : json_time(b, "max_ts", g->max_ts);
    return rc ? rc : fl_buf_append_cstr(b, "}");
}

static int json_columns(fl_buf *b, const fl_catalog_table *t)
{
    int rc = fl_buf_append_cstr(b, "\"columns\":[");
    for (size_t i = 0; !rc && i < t->column_count; i++) {
        const fl_catalog_column *col = &t->columns[i];
        rc = fl_buf_printf(b, "%s{\"name\":\"%s\",\"type\":\"%s\",\"nullable\":%s,"
                              "\"partition\":%s,\"sql\":{",
                           i ? "," : "", col->name, fl_catalog_type_name(col->type),
                           col->nullable ? "true" : "false", col->partition ? "true" : "false");
        for (int d = 0; !rc && d < FL_DIALECT_COUNT; d++)
            rc = fl_buf_printf(b, "%s\"%s\":\"%s\"", d ? "," : "", fl_catalog_dialect_name(d),
                               fl_catalog_type_sql(col->type, d));
        rc = rc ? rc : fl_buf_append_cstr(b, "}}");
    }
    return rc ? rc : fl_buf_append_cstr(b, "]");
}

int fl_catalog_table_json(fl_catalog *c, const fl_catalog_table *t, size_t partitions_max,
                          fl_buf *out)
{
    fl_catalog_table_stats s;
    int rc = fl_catalog_table_stats_get(c, t, &s);
    rc = rc ? rc : fl_buf_append_cstr(out, "{");
    rc = rc ? rc : json_summary(out, t, &s);
    rc = rc ? rc : fl_buf_append_cstr(out, ",");
    rc = rc ? rc : json_columns(out, t);
    if (t->kind == FL_CATALOG_KIND_LAKE) {
        struct groups tiers = {out, 0, (size_t)-1, 0};
        struct groups parts = {out, 0, partitions_max, 0};
        rc = rc ? rc : fl_buf_append_cstr(out, ",\"tiers\":[");
        rc = rc ? rc : fl_catalog_tiers_query(c, t->name, group_json, &tiers);
        rc = rc ? rc : fl_buf_append_cstr(out, "],\"partitions_list\":[");
        rc = rc ? rc : fl_catalog_partitions_query(c, t->name, group_json, &parts);
        rc = rc ? rc
                : fl_buf_printf(out, "],\"partitions_truncated\":%s",
                                parts.truncated ? "true" : "false");
    }
    return rc ? rc : fl_buf_append_cstr(out, "}\n");
}

/* ---- the registry persisted in meta.db ------------------------------------------------------- */

static int sync_table(fl_catalog *c, const fl_catalog_table *t, int64_t now)
{
    sqlite3 *db = fl_catalog_db(c);
    sqlite3_stmt *st = NULL;
    char keys[FL_CATALOG_COLUMNS_MAX * 8] = "";
    for (size_t i = 0; i < t->column_count; i++)
        if (t->columns[i].partition)
            snprintf(keys + strlen(keys), sizeof keys - strlen(keys), "%s%s", keys[0] ? "," : "",
                     t->columns[i].name);
    int lake = t->kind == FL_CATALOG_KIND_LAKE;
    int rc = FL_ESQLITE;
    if (sqlite3_prepare_v2(db,
                           "INSERT INTO catalog_tables (name, kind, prefix, time_column,"
                           " partition_keys, updated_at) VALUES (?, ?, ?, ?, ?, ?)",
                           -1, &st, NULL) != SQLITE_OK)
        goto out;
    int b = sqlite3_bind_text(st, 1, t->name, -1, SQLITE_TRANSIENT) |
            sqlite3_bind_text(st, 2, fl_catalog_kind_name(t->kind), -1, SQLITE_STATIC) |
            (lake ? sqlite3_bind_text(st, 3, t->prefix, -1, SQLITE_TRANSIENT)
                  : sqlite3_bind_null(st, 3)) |
            (lake ? sqlite3_bind_text(st, 4, t->time_column, -1, SQLITE_TRANSIENT)
                  : sqlite3_bind_null(st, 4)) |
            sqlite3_bind_text(st, 5, keys, -1, SQLITE_TRANSIENT) |
            sqlite3_bind_int64(st, 6, now);
    if (b != SQLITE_OK || sqlite3_step(st) != SQLITE_DONE)
        goto out;
    sqlite3_finalize(st);
    st = NULL;
    if (sqlite3_prepare_v2(db,
                           "INSERT INTO catalog_columns (table_name, position, name, type,"
                           " nullable, is_partition) VALUES (?, ?, ?, ?, ?, ?)",
                           -1, &st, NULL) != SQLITE_OK)
        goto out;
    for (size_t i = 0; i < t->column_count; i++) {
        const fl_catalog_column *col = &t->columns[i];
        sqlite3_reset(st);
        b = sqlite3_bind_text(st, 1, t->name, -1, SQLITE_TRANSIENT) |
            sqlite3_bind_int(st, 2, (int)i + 1) |
            sqlite3_bind_text(st, 3, col->name, -1, SQLITE_TRANSIENT) |
            sqlite3_bind_text(st, 4, fl_catalog_type_name(col->type), -1, SQLITE_STATIC) |
            sqlite3_bind_int(st, 5, col->nullable) | sqlite3_bind_int(st, 6, col->partition);
        if (b != SQLITE_OK || sqlite3_step(st) != SQLITE_DONE)
            goto out;
    }
    rc = 0;
out:
    sqlite3_finalize(st);
    return rc;
}

static int sync_all(fl_catalog *c, void *arg)
{
    (void)arg;
    if (sqlite3_exec(fl_catalog_db(c), "DELETE FROM catalog_columns; DELETE FROM catalog_tables;",
                     NULL, NULL, NULL) != SQLITE_OK)
        return FL_ESQLITE;
    fl_catalog_table *t = NULL;
    size_t n = 0;
    int rc = fl_catalog_tables_list(c, &t, &n);
    int64_t now = fl_time_now_us();
    for (size_t i = 0; !rc && i < n; i++)
        rc = sync_table(c, &t[i], now);
    fl_free(t);
    return rc;
}

int fl_catalog_registry_sync(fl_catalog *c)
{
    return fl_catalog_transaction(c, sync_all, NULL);
}
