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
#include "monitor/monitor.h"
#include "process/process.h"
#include "security/security.h"

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

/* ---- the alert engine (engine.c, rules.c, store.c; docs/alerts.md) ------------------------
 *
 *
 * Flow. The processor calls fl_alert_engine_observe for every new (non-duplicate) reading it
 * scores, from its per-shard threads. Per-reading rules (anomaly, threshold) keep a small
 * per-device counter state in a per-shard table and emit TRIGGER / CLEAR events into a bounded
 * queue (a full queue makes the observer wait: backpressure, never loss). The engine thread
 * applies events to meta.db's `alerts` table, one transaction per batch of events, together
 * with the notifications each change enqueues (fl_notify_enqueue), then wakes the dispatcher
 * and the server-sent-event subscribers. Once a second it checks devices gone silent
 * (offline rules), fleetlake's own signals (pipeline rules, read from the metrics registry)
 * and re-notifications.
 *
 * Life cycle: open -> acknowledged -> resolved. One open (or acknowledged) alert per dedup key
 * (rule + device, or the rule alone for pipeline alerts); further TRIGGERs only update its
 * value and time. CLEAR resolves it ("auto"); a person may acknowledge or resolve it through
 * the API. After a resolve, the same dedup key opens no new alert for the rule's cooldown_s. */
typedef struct fl_alert_engine fl_alert_engine;

typedef int (*fl_notify_enqueue_fn)(sqlite3 *db, const fl_config *cfg, const fl_alert *a,
                                    const char *event);

typedef struct fl_alert_engine_deps {
    const fl_config *cfg;      /* [rule.NAME] sections, fleets; borrowed */
    const char *meta_path;     /* meta.db: the engine opens its own connection */
    const char *data_dir;      /* for the free_disk signal */
    fl_metrics *metrics;       /* pipeline signals are read from it; engine metrics go to it */
    fl_notify_enqueue_fn enqueue; /* fl_notify_enqueue, or NULL: no channels */
    void (*kick)(void *ctx);      /* wake the dispatcher after a commit (NULL: none) */
    void *kick_ctx;
} fl_alert_engine_deps;

/* Validate the rules (err names the rule and key), create the `alerts` table, load open
 * alerts and the devices' last-seen times, and start the engine thread. */
FL_MUST_USE int fl_alert_engine_start(const fl_alert_engine_deps *deps, fl_alert_engine **out,
                                      char *err, size_t errlen);
/* Stop reading the metrics registry (pipeline rules): call before the modules whose
 * collectors it renders (the gateway, compaction) are destroyed. Accepts NULL. */
void fl_alert_engine_stop_checks(fl_alert_engine *e);
/* Apply what is queued and stop. Accepts NULL. */
void fl_alert_engine_stop(fl_alert_engine *e);

/* The processor's observer (fl_processor_deps.observe): one scored reading of shard. */
void fl_alert_engine_observe(void *engine, uint32_t shard, const fl_processed *p,
                             int64_t arrival_us);

/* The summary job's observer (fl_summary_job_deps.on_quality): one device's quality score of
 * one hour, for quality rules. Older hours than the newest seen for the device are ignored. */
void fl_alert_engine_observe_quality(void *engine, const char *device, size_t len,
                                     int64_t hour_us, double score);

/* ---- the API -------------------------------------------------------------------------------- */

typedef struct fl_alert_filter {
    int state;           /* -1: any */
    int min_severity;    /* -1: any */
    const char *device;  /* NULL: any */
    const char *rule;    /* NULL: any */
    int64_t before_id;   /* paging: ids below this (0: from the newest) */
    size_t limit;
    const fl_access *access; /* rows the caller may see (NULL: all) */
} fl_alert_filter;

/* Newest first. *out (fl_free) holds *n alerts; *more is 1 when older ones match. */
FL_MUST_USE int fl_alert_engine_list(fl_alert_engine *e, const fl_alert_filter *f,
                                     fl_alert **out, size_t *n, int *more);
/* Acknowledge / resolve alert id on behalf of actor (a key id, or "" with auth off).
 * FL_ENOTFOUND for no such alert (or one access may not see); FL_EINVAL when the transition is
 * not allowed (acknowledging a resolved alert). *out is the alert after the change. */
FL_MUST_USE int fl_alert_engine_ack(fl_alert_engine *e, int64_t id, const char *actor,
                                    const fl_access *access, fl_alert *out);
FL_MUST_USE int fl_alert_engine_resolve(fl_alert_engine *e, int64_t id, const char *actor,
                                        const fl_access *access, fl_alert *out);

/* Wait up to timeout_us for an alert change after sequence seen; returns the newest sequence
 * (the event streams' notifier: it resumes suspended streams when this moves). */
uint64_t fl_alert_engine_wait_change(fl_alert_engine *e, uint64_t seen, int64_t timeout_us);

/* ---- rules through the API (engine_rules.c; docs/alerts.md "Rules through the API") -------
 *
 * Besides the [rule.NAME] sections (and the built-in rules), rules can be created, replaced and
 * deleted while serve runs. They are stored in meta.db's alert_rules table (the definition as
 * JSON) and take effect at once: the engine builds a new rule set and swaps it in. A rule whose
 * definition did not change keeps its per-device state; a new or changed one starts counting
 * afresh, its open alerts staying open (and resolving when the new condition clears); a deleted
 * or disabled one resolves its open alerts, with their notifications. A name defined in the
 * configuration belongs to the configuration: the API cannot change or delete it.
 *
 * A rule as JSON: {"name","type","severity","field"|null,"op","value","count","clear_count",
 * "after_s","cooldown_s","renotify_s","fleets":[..],"enabled":bool,"source":"builtin|config|api"}
 * and, for API rules, "created_at", "updated_at", "updated_by", and "problem" when it is
 * enabled but not evaluated (e.g. it names a fleet the configuration no longer has). */

typedef struct fl_rule_caller {
    const char *key_id;      /* recorded as updated_by and resolved_by ("" = auth off: "api") */
    const fl_access *access; /* NULL: may change any rule */
} fl_rule_caller;

/* Every rule: configured ones that are enabled, and every API one, as {"rules":[...]}
 * (GET /v1/rules). */
FL_MUST_USE int fl_alert_engine_rules_json(fl_alert_engine *e, fl_buf *out);
/* One rule as a JSON object; FL_ENOTFOUND. */
FL_MUST_USE int fl_alert_engine_rule_json(fl_alert_engine *e, const char *name, fl_buf *out);
/* Create (create_only: the name must be free) or replace the API rule name from its JSON
 * definition (the keys of a [rule.NAME] section; omitted keys take their defaults). On success
 * *created tells which, and out receives the rule as JSON. Errors, with err saying why:
 * FL_EPARSE (not a JSON object), FL_EINVAL (a bad definition, naming the key), FL_EEXISTS
 * (create_only and the name exists, or the name is a configured rule), FL_ELIMIT (RULES_MAX rules
 * stored through the API, or RULES_MAX evaluated at once), -EACCES (the caller's key may not watch
 * all of the rule's devices), or a storage error. */
FL_MUST_USE int fl_alert_engine_rule_put(fl_alert_engine *e, const char *name, const char *json,
                                         size_t len, int create_only, const fl_rule_caller *who,
                                         int *created, fl_buf *out, char *err, size_t errlen);
/* Delete the API rule name; its open alerts resolve (*resolved counts them). FL_ENOTFOUND,
 * FL_EEXISTS (a configured rule), -EACCES, or a storage error; err says why. */
FL_MUST_USE int fl_alert_engine_rule_delete(fl_alert_engine *e, const char *name,
                                            const fl_rule_caller *who, size_t *resolved, char *err,
                                            size_t errlen);

/* Server-sent events: every alert change gets a sequence number. Waits up to timeout_us for
 * changes after *cursor the caller may see, appends them to out as SSE frames ("id: N\nevent:
 * alert\ndata: {json}\n\n"), advances *cursor. Returns the number of frames (0 on timeout), or
 * a negative code. *cursor is the last sequence the caller saw (fl_alert_engine_wait_change(e, 0, 0) gives
 * the current end). Changes older than the ring (the
 * last 1024) are skipped. */
int fl_alert_engine_events(fl_alert_engine *e, uint64_t *cursor, const fl_access *access,
                           fl_buf *out, int64_t timeout_us);
/* ---- channels and the dispatcher (channels.c, outbox.c, dispatch.c, channel_*.c) ----------
 *
 * notify_outbox(id BIGINT PK, channel, alert_id, event, payload (the alert JSON when the event
 * happened), created_at, attempts, next_attempt_at (µs), state 'pending'|'delivered'|'failed',
 * last_error, delivered_at): one row per notification and channel, written by
 * fl_notify_enqueue in the alert's transaction. The dispatcher runs one worker thread per
 * [channel.NAME], each with its own meta.db connection: it reads the channel's due pending
 * rows, delivers each with libcurl, and marks it delivered right after the receiver's 2xx (or
 * schedules a retry with exponential backoff and jitter, or gives it up as failed after
 * outbox.max_attempts / outbox.max_age_s or a permanent refusal such as HTTP 400).
 *
 * Guarantee: at least once. A crash between the receiver's 2xx and the commit of 'delivered'
 * (the commit's fsync, about a millisecond) re-sends that notification after restart (at most
 * one per channel: a worker sends one at a time); every payload carries a stable
 * idempotency key, "<outbox id>:<alert dedup_key>" (the Idempotency-Key header and the
 * webhook's "idempotency_key"; PagerDuty deduplicates on dedup_key itself), so a receiver can
 * drop the repeat. docs/alerts.md "Channels" has the payloads. */

/* Check every [channel.NAME] (the keys its type needs, URL schemes, addresses, fleets that
 * exist, keys that do not apply to its type). Returns 0, or FL_ECONFIG with a message naming
 * the channel and key in err. serve calls it before starting anything. */
FL_MUST_USE int fl_notify_channels_validate(const fl_config *cfg, char *err, size_t errlen);
/* The first line of an SMTP AUTH password file (refused when group/other may read it). */
FL_MUST_USE int fl_notify_read_password(const char *path, char *out, size_t cap, char *err,
                                        size_t errlen);

typedef struct fl_notify_dispatcher fl_notify_dispatcher;
struct fl_metrics;

typedef struct fl_notify_dispatcher_deps {
    const fl_config *cfg;      /* borrowed for the dispatcher's life */
    const char *meta_path;     /* meta.db, read during start: each worker opens its own connection */
    struct fl_metrics *metrics; /* NULL: no metrics; else borrowed, must outlive the dispatcher */
} fl_notify_dispatcher_deps;

/* Start one delivery worker per configured channel (none when there is no channel). Pending
 * notifications of channels no longer configured are marked failed ("channel not
 * configured"). *out is owned by the caller (fl_notify_dispatcher_stop). */
FL_MUST_USE int fl_notify_dispatcher_start(const fl_notify_dispatcher_deps *deps,
                                           fl_notify_dispatcher **out);
/* Wake the workers now: call after committing a transaction that called fl_notify_enqueue
 * (before the commit they would not see the rows). Cheap; accepts NULL. */
void fl_notify_dispatcher_kick(fl_notify_dispatcher *d);
/* The same for the dispatcher running in this process, if any (for callers that do not hold
 * the handle). */
void fl_notify_kick(void);
/* Stop and free: an attempt in flight is abandoned (its row stays pending and is sent again
 * after restart). Accepts NULL. */
void fl_notify_dispatcher_stop(fl_notify_dispatcher *d);

#endif
