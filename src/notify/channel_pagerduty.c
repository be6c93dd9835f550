/* channel_pagerduty.c — PagerDuty Events API v2. A trigger is
 *   {"routing_key", "event_action": "trigger", "dedup_key": the alert's dedup_key,
 *    "client": "fleetlake", "payload": {"summary", "source" (the device, or "fleetlake" for
 *    pipeline alarms), "severity" (critical|warning|info: PagerDuty's own names; its "error"
 *    is not used), "timestamp" (the event's time), "component" (the rule), "group" (the
 *    fleet), "class" (the alert type), "custom_details" (the alert JSON)}};
 * acknowledge and resolve carry only routing_key, event_action and dedup_key, so all three
 * land on the same PagerDuty incident. PagerDuty answers 202; 400 (invalid event) is a
 * refusal, 429 and 5xx are retried. */
#include <string.h>

#include "notify/notify_int.h"

/* summary truncated to PagerDuty's maximum, on a UTF-8 character boundary. */
static json_t *summary_of(const fl_notification *n)
{
    char buf[FL_PAGERDUTY_SUMMARY_MAX + 1];
    const char *s = fl_alert_json_str(n->alert, "summary");
    if (!s[0]) {
        fl_notify_headline(n, buf, sizeof buf);
        return json_string(buf);
    }
    size_t len = strlen(s);
    if (len > FL_PAGERDUTY_SUMMARY_MAX) {
        len = FL_PAGERDUTY_SUMMARY_MAX;
        while (len && ((unsigned char)s[len] & 0xC0) == 0x80)
            len--;
    }
    return json_stringn(s, len);
}

static int render(const fl_channel_config *ch, const fl_notification *n, fl_buf *out)
{
    const json_t *a = n->alert;
    const char *dedup = fl_alert_json_str(a, "dedup_key");
    json_t *root = json_pack("{s:s, s:s, s:s}", "routing_key", ch->routing_key, "event_action",
                             n->row->event, "dedup_key", dedup);
    int rc = root ? 0 : FL_ENOMEM;
    if (!rc && strcmp(n->row->event, FL_NOTIFY_TRIGGER) == 0) {
        const char *device = fl_alert_json_str(a, "device_id");
        const char *fleet = fl_alert_json_str(a, "fleet");
        json_t *payload =
            json_pack("{s:o, s:s, s:s, s:s, s:s, s:s, s:O}", "summary", summary_of(n), "source",
                      device[0] ? device : "fleetlake", "severity",
                      fl_alert_json_str(a, "severity"), "timestamp",
                      fl_alert_json_str(a, "updated_at"), "component", fl_alert_json_str(a, "rule"),
                      "class", fl_alert_json_str(a, "type"), "custom_details", (json_t *)a);
        if (payload && fleet[0] && json_object_set_new(payload, "group", json_string(fleet)))
            rc = FL_ENOMEM;
        if (!payload || json_object_set_new(root, "payload", payload) ||
            json_object_set_new(root, "client", json_string("fleetlake")))
            rc = FL_ENOMEM;
    }
    rc = rc ? rc : fl_notify_json_dump(root, out);
    json_decref(root);
    return rc;
}

static void send_pagerduty(CURL *curl, const fl_channel_config *ch, const fl_notification *n,
                           const fl_buf *body, fl_send_result *res)
{
    fl_notify_http_post(curl, ch->url[0] ? ch->url : FL_PAGERDUTY_EVENTS_URL, ch, n, body, res);
}

const fl_channel_ops fl_channel_pagerduty = {"pagerduty", render, send_pagerduty};
