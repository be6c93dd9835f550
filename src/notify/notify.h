/* notify.h — alerts and their notifications (the SNS role; issue 7).
 *
 * Two halves meet here:
 *
 *  - The alert engine (engine.c, rules.c, store.c): rules from [rule.NAME] config sections
 *    evaluate processed readings (a callback from the processor, per record, off its commit
 *    path) and periodic checks (device offline, pipeline metrics). An alert has a dedup key
 *    (rule + device, or rule alone), so a flapping sensor makes one alert; it moves open ->
 *    acknowledged -> resolved (by hand, or automatically when its condition clears) and is
 *    stored in meta.db's `alerts` table. Every state change that should notify someone
 *    enqueues notifications in the SAME meta.db transaction (fl_notify_enqueue), so a crash
 *    never loses or duplicates one.
 *
 *  - The outbox and channels (outbox.c, channel_*.c, dispatch.c): [channel.NAME] sections
 *    (webhook, slack, pagerduty, email) with routing by severity and fleet; a persistent
 *    outbox table in meta.db; a dispatcher thread delivering with retries, exponential
 *    backoff and per-channel rate limits, off the hot path.
 *
 * Alert JSON (what channels, the API and server-sent events carry):
 *   {"id":N,"rule":"..","type":"anomaly|threshold|offline|quality|pipeline",
 *    "severity":"critical|warning|info","state":"open|acknowledged|resolved",
 *    "dedup_key":"..","device_id":".."|null,"fleet":".."|null,"summary":"..",
 *    "value":x|null,"threshold":x|null,"opened_at":"RFC3339","updated_at":"..",
 *    "acknowledged_at":..|null,"resolved_at":..|null,"resolved_by":"auto|<key id>|null",
 *    "notify_count":N,"trace_id":".."|null}
 */
#ifndef FL_NOTIFY_NOTIFY_H
#define FL_NOTIFY_NOTIFY_H

#include <sqlite3.h>
#include <stddef.h>
#include <stdint.h>

#include "core/core.h"

typedef enum fl_severity {
    FL_SEVERITY_INFO = 0,
    FL_SEVERITY_WARNING,
    FL_SEVERITY_CRITICAL
} fl_severity;
const char *fl_severity_name(fl_severity s);
FL_MUST_USE int fl_severity_parse(const char *s, fl_severity *out);

typedef enum fl_alert_state {
    FL_ALERT_OPEN = 0,
    FL_ALERT_ACKNOWLEDGED,
    FL_ALERT_RESOLVED
} fl_alert_state;
const char *fl_alert_state_name(fl_alert_state s);

/* The notification events, as PagerDuty Events API v2 names them. */
#define FL_NOTIFY_TRIGGER "trigger"
#define FL_NOTIFY_ACKNOWLEDGE "acknowledge"
#define FL_NOTIFY_RESOLVE "resolve"

/* One alert (a row of `alerts`). */
typedef struct fl_alert {
    int64_t id;
    char rule[64];
    char type[16];
    fl_severity severity;
    fl_alert_state state;
    char dedup_key[256];
    char device_id[129]; /* "" for pipeline alerts */
    char fleet[64];      /* the device's first fleet, "" for none */
    char summary[512];
    int has_value;
    double value, threshold;
    int64_t opened_at, updated_at; /* µs */
    int64_t acked_at, resolved_at; /* µs, -1: not yet */
    char resolved_by[32];          /* "auto", a key id, or "" */
    int64_t notify_count;          /* notifications enqueued for it (triggers and re-notifies) */
    char trace_id[64];
} fl_alert;

/* The alert as the JSON object above (appended to out). */
FL_MUST_USE int fl_alert_to_json(const fl_alert *a, fl_buf *out);

/* ---- outbox and channels (outbox.c, dispatch.c, channel_*.c) ------------------------------- */

/* Create the outbox table if needed (inside or outside a transaction). */
FL_MUST_USE int fl_notify_outbox_init(sqlite3 *db);
/* Route alert a's event (FL_NOTIFY_*) to every [channel.NAME] whose min_severity and fleets
 * match, inserting one outbox row per channel on db. Call inside the caller's open transaction
 * that changes the alert, so both commit or neither does. Returns 0 (also when no channel
 * matches), or an error. */
FL_MUST_USE int fl_notify_enqueue(sqlite3 *db, const fl_config *cfg, const fl_alert *a,
                                  const char *event);

#endif
