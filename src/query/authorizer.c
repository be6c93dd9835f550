/* authorizer.c — what a user statement may do: read. SQLite calls this while it compiles each
 * statement; anything but a SELECT's own actions (reading columns, calling functions, recursive
 * CTEs) is refused, so writes, schema changes, ATTACH/DETACH, PRAGMA (even reads: some change
 * state, and none is needed), transactions and savepoints never compile. Extension loading is
 * also switched off on the connection (session.c); the function check below is a second
 * fence. The session's own statements (catalog snapshot, EXPLAIN plumbing) run trusted. */
#include <string.h>
#include <strings.h>

#include "query/query_int.h"

/* Functions a read-only user must not call even when the build provides them. printf/format
 * are here because a width or precision of 10^9 makes one call run for seconds inside a single
 * VM step, where the progress handler (the time limit) cannot interrupt it. */
static const char *const refused_functions[] = {"load_extension", "readfile",       "writefile",
                                                "edit",           "fts3_tokenizer", "sqlite_dbpage",
                                                "printf",         "format"};

int fl_query_authorize(void *ctx, int action, const char *a, const char *b, const char *c,
                       const char *d)
{
    (void)c;
    (void)d;
    const fl_query_session *s = ctx;
    if (s->trusted)
        return SQLITE_OK;
    switch (action) {
    case SQLITE_SELECT:
    case SQLITE_READ:
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
