/* channel_webhook.c — the generic webhook: the alert JSON (notify.h) POSTed to the channel's
 * url, with three members in front: "event" (trigger|acknowledge|resolve), "notification_id"
 * (the outbox row) and "idempotency_key" (also the Idempotency-Key header). */
#include "notify/notify_int.h"

static int render(const fl_channel_config *ch, const fl_notification *n, fl_buf *out)
{
    json_t *root = json_object();
    int rc = root ? 0 : FL_ENOMEM;
    if (!rc && (json_object_set_new(root, "event", json_string(n->row->event)) ||
                json_object_set_new(root, "notification_id", json_integer(n->row->id)) ||
                json_object_set_new(root, "idempotency_key", json_string(n->idempotency_key)) ||
                json_object_update(root, (json_t *)n->alert)))
        rc = FL_ENOMEM;
    rc = rc ? rc : fl_notify_json_dump(root, out);
    json_decref(root);
    return rc;
}

static void send_webhook(CURL *curl, const fl_channel_config *ch, const fl_notification *n,
                         const fl_buf *body, fl_send_result *res)
{
    fl_notify_http_post(curl, ch->url, ch, n, body, res);
}

const fl_channel_ops fl_channel_webhook = {"webhook", render, send_webhook};
