/* authorizer.c — what a user statement may do: read. SQLite calls this while it compiles each
 * statement; anything but a SELECT's own actions (reading columns, calling functions, recursive
 * CTEs) is refused, so writes, schema changes, ATTACH/DETACH, PRAGMA (even reads: some change
 * state, and none is needed), transactions and savepoints never compile. Extension loading is
 * also switched off on the connection (session.c); the function check below is a second
 * fence. The session's own statements (catalog snapshot, EXPLAIN plumbing) run trusted. */
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "query/query_int.h"

/* Functions a read-only user must not call even when the build provides them. printf/format
 * are here because a width or precision of 10^9 makes one call run for seconds inside a single
 * VM step, where the progress handler (the time limit) cannot interrupt it. */
static const char *const refused_functions[] = {"load_extension", "readfile",       "writefile",
                                                "edit",           "fts3_tokenizer", "sqlite_dbpage",
                                                "printf",         "format"};

/* meta.db tables no statement may read, whatever the key: API key hashes and the security
 * bookkeeping. */
static const char *const secret_tables[] = {"api_keys", "security_meta"};

static int deny(fl_query_session *s, const char *fmt, const char *x, const char *y,
                const char *z)
{
    if (!s->denied[0])
        snprintf(s->denied, sizeof s->denied, fmt, x, y, z);
    return SQLITE_DENY;
}

/* SQLITE_READ of column (empty: the table without a column, e.g. count(*)) of table in
 * schema db: secret tables never; under a key, classes above its maximum never, and a
 * row-filtered table only through its temp shadow. */
static int authorize_read(fl_query_session *s, const char *table, const char *column,
                          const char *db)
{
    if (!table)
        return SQLITE_OK;
    for (size_t i = 0; i < sizeof secret_tables / sizeof secret_tables[0]; i++)
        if (strcmp(table, secret_tables[i]) == 0)
            return deny(s, "table %s may not be read%s%s", table, "", "");
    if (!s->restricted)
        return SQLITE_OK;
    if (s->rows_restricted && db && strcmp(db, "main") == 0 && fl_query_rowfilter_covers(table))
        return deny(s, "%s rows are filtered for this key: name it without a schema (%s%s)",
                    table, table, "");
    fl_class need = fl_column_class(table, column && *column ? column : NULL);
    if (need > s->access.max_class) {
        if (column && *column)
            return deny(s, "column %s.%s is %s", table, column, fl_class_name(need));
        return deny(s, "table %s is %s%s", table, fl_class_name(need), "");
    }
    return SQLITE_OK;
}

int fl_query_authorize(void *ctx, int action, const char *a, const char *b, const char *c,
                       const char *d)
{
    (void)d;
    fl_query_session *s = ctx;
    if (s->trusted)
        return SQLITE_OK;
    switch (action) {
    case SQLITE_READ:
        return authorize_read(s, a, b, c);
    case SQLITE_SELECT:
    case SQLITE_RECURSIVE:
        return SQLITE_OK;
    case SQLITE_FUNCTION:
        for (size_t i = 0; i < sizeof refused_functions / sizeof refused_functions[0]; i++)
            if (b && strcasecmp(b, refused_functions[i]) == 0)
                return SQLITE_DENY;
        (void)a;
        return SQLITE_OK;
    default:
        return SQLITE_DENY;
    }
}
