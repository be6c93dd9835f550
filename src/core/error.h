/* error.h — fleetlake's one error table.
 *
 * Every fallible function returns int: 0 on success, a negative FL_E* code from the table
 * below, or a negative errno (-EIO, -ENOSPC, ...) passed up from the operating system.
 * FL_E* codes start at -1000 so they never collide with errno values. fl_strerror() names
 * both kinds. There are no error globals. */
#ifndef FL_CORE_ERROR_H
#define FL_CORE_ERROR_H

#define FL_ERR_MAP(XX)                                                                             \
    XX(NOMEM, "out of memory")                                                                     \
    XX(INVAL, "invalid argument")                                                                  \
    XX(CORRUPT, "data corruption detected")                                                        \
    XX(NOTFOUND, "not found")                                                                      \
    XX(EXISTS, "already exists")                                                                   \
    XX(RANGE, "value out of range")                                                                \
    XX(LIMIT, "limit exceeded")                                                                    \
    XX(FULL, "queue or buffer full")                                                               \
    XX(STOPPED, "stopped after a fatal storage error")                                             \
    XX(CONFIG, "configuration error")                                                              \
    XX(PARSE, "parse error")                                                                       \
    XX(UNSUPPORTED, "unsupported")                                                                 \
    XX(SQLITE, "SQLite error")                                                                     \
    XX(CLOSED, "closed")                                                                           \
    XX(TIMEOUT, "timed out")                                                                       \
    XX(AGAIN, "try again")                                                                         \
    XX(TRUNCATED, "input truncated")

enum fl_error_code {
    FL_E_BASE_ = -1000,
#define FL_ERR_ENUM_(name, msg) FL_E##name,
    FL_ERR_MAP(FL_ERR_ENUM_)
#undef FL_ERR_ENUM_
        FL_E_END_
};
/* FL_E_BASE_ + 1 == FL_ENOMEM == -999, and so on: all below -900, above -1000. */

#define FL_MUST_USE __attribute__((warn_unused_result))

/* Human-readable text for any return code (FL_E* or -errno). Never NULL; static storage. */
const char *fl_strerror(int rc);
/* Short stable name ("ENOMEM", "EIO", "CORRUPT") for logs and metrics labels. */
const char *fl_errname(int rc);

#endif
