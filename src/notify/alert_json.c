/* alert_json.c — names of severities and states, and an alert as the JSON object of notify.h
 * (the API, server-sent events and every channel's payload start from it). */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "notify/notify.h"

static const char *const severity_names[] = {"info", "warning", "critical"};
static const char *const state_names[] = {"open", "acknowledged", "resolved"};

const char *fl_severity_name(fl_severity s)
{
    return (unsigned)s <= FL_SEVERITY_CRITICAL ? severity_names[s] : "?";
}

int fl_severity_parse(const char *s, fl_severity *out)
{
    for (unsigned i = 0; i <= FL_SEVERITY_CRITICAL; i++)
        if (strcmp(s, severity_names[i]) == 0) {
            *out = (fl_severity)i;
            return 0;
        }
    return FL_EINVAL;
}

const char *fl_alert_state_name(fl_alert_state s)
{
    return (unsigned)s <= FL_ALERT_RESOLVED ? state_names[s] : "?";
}

static int str_member(fl_buf *out, const char *name, const char *v, int null_if_empty)
{
    int rc = fl_buf_printf(out, ",\"%s\":", name);
    if (rc)
        return rc;
    if (null_if_empty && !v[0])
        return fl_buf_append_cstr(out, "null");
    rc = fl_buf_append_cstr(out, "\"");
    rc = rc ? rc : fl_buf_append_json_string(out, v, strlen(v));
    return rc ? rc : fl_buf_append_cstr(out, "\"");
}

static int time_member(fl_buf *out, const char *name, int64_t us)
{
    if (us < 0)
        return fl_buf_printf(out, ",\"%s\":null", name);
    char t[40];
    fl_time_format_rfc3339(us, t);
    return fl_buf_printf(out, ",\"%s\":\"%s\"", name, t);
}

static int num_member(fl_buf *out, const char *name, int present, double v)
{
    if (!present || !isfinite(v))
        return fl_buf_printf(out, ",\"%s\":null", name);
    return fl_buf_printf(out, ",\"%s\":%.17g", name, v);
}

int fl_alert_to_json(const fl_alert *a, fl_buf *out)
{
    int rc = fl_buf_printf(out, "{\"id\":%lld", (long long)a->id);
    rc = rc ? rc : str_member(out, "rule", a->rule, 0);
    rc = rc ? rc : str_member(out, "type", a->type, 0);
    rc = rc ? rc : str_member(out, "severity", fl_severity_name(a->severity), 0);
    rc = rc ? rc : str_member(out, "state", fl_alert_state_name(a->state), 0);
    rc = rc ? rc : str_member(out, "dedup_key", a->dedup_key, 0);
    rc = rc ? rc : str_member(out, "device_id", a->device_id, 1);
    rc = rc ? rc : str_member(out, "fleet", a->fleet, 1);
    rc = rc ? rc : str_member(out, "summary", a->summary, 0);
    rc = rc ? rc : num_member(out, "value", a->has_value, a->value);
    rc = rc ? rc : num_member(out, "threshold", a->has_value, a->threshold);
    rc = rc ? rc : time_member(out, "opened_at", a->opened_at);
    rc = rc ? rc : time_member(out, "updated_at", a->updated_at);
    rc = rc ? rc : time_member(out, "acknowledged_at", a->acked_at);
    rc = rc ? rc : time_member(out, "resolved_at", a->resolved_at);
    rc = rc ? rc : str_member(out, "resolved_by", a->resolved_by, 1);
    rc = rc ? rc : fl_buf_printf(out, ",\"notify_count\":%lld", (long long)a->notify_count);
    rc = rc ? rc : str_member(out, "trace_id", a->trace_id, 1);
    return rc ? rc : fl_buf_append_cstr(out, "}");
}
