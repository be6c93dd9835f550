/* log.h — the server's one logging facility.
 *
 * Each line: UTC time with µs, level, module, the thread's current request or batch id and
 * trace id (if any), then the message; as text or as JSON lines (log_format = json).
 * Library-like modules (stream, parquet, query) never log; they return codes and the caller
 * logs. */
#ifndef FL_CORE_LOG_H
#define FL_CORE_LOG_H

#include <stdio.h>

enum fl_log_level { FL_LOG_DEBUG = 0, FL_LOG_INFO, FL_LOG_WARN, FL_LOG_ERROR, FL_LOG_OFF };

/* Configure once at start (not thread-safe against concurrent logging). */
void fl_log_setup(enum fl_log_level min_level, int json, FILE *out);
/* Parse "debug|info|warn|error|off"; returns -1 if unknown. */
int fl_log_level_parse(const char *s);
int fl_log_enabled(enum fl_log_level level);
/* Sets this thread's request/batch id shown on each line; NULL clears. Borrowed: the string
 * must stay valid until cleared. */
void fl_log_set_context(const char *id);
/* Sets this thread's W3C trace id (32 hex digits) shown next to the id: " trace=<id>" in
 * text, a "trace_id" member in JSON lines. NULL clears. Borrowed like the id. */
void fl_log_set_trace(const char *trace_id);

void fl_log_write(enum fl_log_level level, const char *module, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

#define FL_LOG(level, module, ...)                                                                 \
    do {                                                                                           \
        if (fl_log_enabled(level))                                                                 \
            fl_log_write(level, module, __VA_ARGS__);                                              \
    } while (0)
#define FL_DEBUG(module, ...) FL_LOG(FL_LOG_DEBUG, module, __VA_ARGS__)
#define FL_INFO(module, ...) FL_LOG(FL_LOG_INFO, module, __VA_ARGS__)
#define FL_WARN(module, ...) FL_LOG(FL_LOG_WARN, module, __VA_ARGS__)
#define FL_ERROR(module, ...) FL_LOG(FL_LOG_ERROR, module, __VA_ARGS__)
/* Log a failure once with function and line, for the "goto out" cleanup pattern. */
#define FL_LOG_FAIL(module, rc, what)                                                              \
    FL_ERROR(module, "%s:%d %s: %s", __func__, __LINE__, what, fl_strerror(rc))

#endif
