/* channel_slack.c — a Slack incoming webhook: {"text": headline (notifications and clients
 * without attachments show it), "attachments": [{"color": by severity, "fallback", "blocks":
 * [a section with the headline and summary, a context line with the details]}]}. Slack's
 * mrkdwn treats &, < and > as markup, so alert text is escaped. Slack answers 200 "ok";
 * 4xx (invalid_payload, no_service, channel_is_archived) is a refusal, 429 a retry. */
#include <stdio.h>
#include <string.h>

#include "notify/notify_int.h"

/* Slack's attachment bar: red, amber, blue; green once resolved. */
static const char *colour(const fl_notification *n)
{
    const char *sev = fl_alert_json_str(n->alert, "severity");
    if (strcmp(n->row->event, FL_NOTIFY_RESOLVE) == 0)
        return "#2eb886";
    if (strcmp(sev, "critical") == 0)
        return "#d00000";
    if (strcmp(sev, "warning") == 0)
        return "#f2a900";
    return "#439fe0";
}

/* Append s with Slack's three control characters escaped. */
static int append_escaped(fl_buf *b, const char *s)
{
    int rc = 0;
    for (; *s && !rc; s++) {
        switch (*s) {
        case '&':
            rc = fl_buf_append_cstr(b, "&amp;");
            break;
        case '<':
            rc = fl_buf_append_cstr(b, "&lt;");
            break;
        case '>':
            rc = fl_buf_append_cstr(b, "&gt;");
            break;
        default:
            rc = fl_buf_append(b, s, 1);
            break;
        }
    }
    return rc;
}

/* "alert 12 · fleet seoul · value 131.5 (threshold 120) · opened 2026-...Z" */
static int details(const fl_notification *n, fl_buf *b)
{
    const json_t *a = n->alert;
    int rc =
        fl_buf_printf(b, "alert %lld", (long long)json_integer_value(json_object_get(a, "id")));
    const char *fleet = fl_alert_json_str(a, "fleet");
    if (!rc && fleet[0]) {
        rc = fl_buf_append_cstr(b, " \xc2\xb7 fleet ");
        rc = rc ? rc : append_escaped(b, fleet);
    }
    const json_t *v = json_object_get(a, "value"), *t = json_object_get(a, "threshold");
    if (!rc && json_is_number(v))
        rc = fl_buf_printf(b, " \xc2\xb7 value %g", json_number_value(v));
    if (!rc && json_is_number(t))
        rc = fl_buf_printf(b, " (threshold %g)", json_number_value(t));
    if (!rc)
        rc = fl_buf_printf(b, " \xc2\xb7 opened %s", fl_alert_json_str(a, "opened_at"));
    return rc;
}

static json_t *mrkdwn(const char *text)
{
    return json_pack("{s:s, s:s}", "type", "mrkdwn", "text", text);
}

static int render(const fl_channel_config *ch, const fl_notification *n, fl_buf *out)
{
    char headline[512];
    fl_notify_headline(n, headline, sizeof headline);
    fl_buf main_text = {0}, context = {0};
    int rc = fl_buf_append_cstr(&main_text, "*");
    rc = rc ? rc : append_escaped(&main_text, headline);
    rc = rc ? rc : fl_buf_append_cstr(&main_text, "*\n");
    rc = rc ? rc : append_escaped(&main_text, fl_alert_json_str(n->alert, "summary"));
    rc = rc ? rc : details(n, &context);
    json_t *root = NULL;
    if (!rc) {
        json_t *blocks =
            json_pack("[{s:s, s:o}, {s:s, s:[o]}]", "type", "section", "text",
                      mrkdwn(main_text.data), "type", "context", "elements", mrkdwn(context.data));
        root = blocks ? json_pack("{s:s, s:[{s:s, s:s, s:o}]}", "text", headline, "attachments",
                                  "color", colour(n), "fallback", headline, "blocks", blocks)
                      : NULL;
        rc = root ? fl_notify_json_dump(root, out) : FL_ENOMEM;
    }
    json_decref(root);
    fl_buf_free(&main_text);
    fl_buf_free(&context);
    return rc;
}

static void send_slack(CURL *curl, const fl_channel_config *ch, const fl_notification *n,
                       const fl_buf *body, fl_send_result *res)
{
    fl_notify_http_post(curl, ch->url, ch, n, body, res);
}

const fl_channel_ops fl_channel_slack = {"slack", render, send_slack};
