/* log.c — level-gated text/JSON logging to one stream, one write per line. */
#include "core/log.h"

#include <stdarg.h>
#include <string.h>
#include <strings.h>

#include "core/mem.h"
#include "core/time.h"

static enum fl_log_level min_level = FL_LOG_INFO;
static int json_lines;
static FILE *out_stream;
static __thread const char *context_id;
static __thread const char *context_trace_id;

static const char *level_names[] = {"DEBUG", "INFO", "WARN", "ERROR", "OFF"};

void fl_log_setup(enum fl_log_level level, int json, FILE *out)
{
    min_level = level;
    json_lines = json;
    out_stream = out;
}

int fl_log_level_parse(const char *s)
{
    for (int i = 0; i <= FL_LOG_OFF; i++)
        if (strcasecmp(s, level_names[i]) == 0)
            return i;
    if (strcasecmp(s, "warning") == 0)
        return FL_LOG_WARN;
    return -1;
}

int fl_log_enabled(enum fl_log_level level)
{
    return level >= min_level && level < FL_LOG_OFF;
}

void fl_log_set_context(const char *id)
{
    context_id = id;
}

void fl_log_set_trace(const char *trace_id)
{
    context_trace_id = trace_id;
}

/* ,"id":"..","trace_id":".." members of a JSON line (those set on this thread). */
static int json_context(fl_buf *line)
{
    int rc = 0;
    const char *names[] = {"id", "trace_id"}, *values[] = {context_id, context_trace_id};
    for (int i = 0; !rc && i < 2; i++) {
        if (!values[i])
            continue;
        rc = fl_buf_printf(line, ",\"%s\":\"", names[i]);
        rc = rc ? rc : fl_buf_append_json_string(line, values[i], strlen(values[i]));
        rc = rc ? rc : fl_buf_append_cstr(line, "\"");
    }
    return rc;
}

void fl_log_write(enum fl_log_level level, const char *module, const char *fmt, ...)
{
    char msg[2048];
    char ts[FL_TIME_RFC3339_MAX];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    fl_time_format_rfc3339(fl_time_now_us(), ts);
    FILE *out = out_stream ? out_stream : stderr;
    fl_buf line = {0};
    int rc;
    if (json_lines) {
        rc = fl_buf_printf(&line, "{\"time\":\"%s\",\"level\":\"%s\",\"module\":\"%s\"", ts,
                           level_names[level], module);
        rc = rc ? rc : json_context(&line);
        rc = rc ? rc : fl_buf_append_cstr(&line, ",\"msg\":\"");
        rc = rc ? rc : fl_buf_append_json_string(&line, msg, strlen(msg));
        rc = rc ? rc : fl_buf_append_cstr(&line, "\"}\n");
    } else {
        /* "[id]" or "[id trace=<trace id>]" when the line belongs to a request */
        rc = fl_buf_printf(&line, "%s %-5s %s%s%s%s%s%s %s\n", ts, level_names[level], module,
                           context_id ? " [" : "", context_id ? context_id : "",
                           context_id && context_trace_id ? " trace=" : "",
                           context_id && context_trace_id ? context_trace_id : "",
                           context_id ? "]" : "", msg);
    }
    if (rc == 0)
        fwrite(line.data, 1, line.len, out); /* one fwrite: lines never interleave */
    else
        fprintf(out, "%s %s %s %s\n", ts, level_names[level], module, msg);
    fflush(out);
    fl_buf_free(&line);
}
