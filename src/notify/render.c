/* render.c — helpers the channel renderers share: reading the stored alert JSON, writing
 * JSON into an fl_buf, and the one-line headline every human-facing channel starts with. */
#include <ctype.h>
#include <stdio.h>
#include <string.h>

#include "notify/notify_int.h"

const char *fl_alert_json_str(const json_t *alert, const char *key)
{
    const char *s = json_string_value(json_object_get(alert, key));
    return s ? s : "";
}

static int dump_cb(const char *buffer, size_t size, void *data)
{
    return fl_buf_append((fl_buf *)data, buffer, size) ? -1 : 0;
}

int fl_notify_json_dump(const json_t *root, fl_buf *out)
{
    return json_dump_callback(root, dump_cb, out, JSON_COMPACT) ? FL_ENOMEM : 0;
}

void fl_notify_headline(const fl_notification *n, char *out, size_t outlen)
{
    const char *event = n->row->event;
    const char *severity = fl_alert_json_str(n->alert, "severity");
    char what[32];
    if (strcmp(event, FL_NOTIFY_RESOLVE) == 0)
        snprintf(what, sizeof what, "RESOLVED %s", severity);
    else if (strcmp(event, FL_NOTIFY_ACKNOWLEDGE) == 0)
        snprintf(what, sizeof what, "ACKNOWLEDGED %s", severity);
    else {
        size_t i = 0;
        for (; severity[i] && i + 1 < sizeof what; i++)
            what[i] = (char)toupper((unsigned char)severity[i]);
        what[i] = 0;
    }
    const char *device = fl_alert_json_str(n->alert, "device_id");
    snprintf(out, outlen, "%s %s on %s", what, fl_alert_json_str(n->alert, "rule"),
             device[0] ? device : "fleetlake");
    for (char *p = out; *p; p++) /* one line, whatever a device id holds */
        if ((unsigned char)*p < ' ' || *p == 127)
            *p = ' ';
}
