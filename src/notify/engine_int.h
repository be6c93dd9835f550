/* engine_int.h — private to the alert engine (engine.c, rules.c, store.c). */
#ifndef FL_NOTIFY_ENGINE_INT_H
#define FL_NOTIFY_ENGINE_INT_H

#include <pthread.h>

#include "notify/notify.h"

#define RULES_MAX FL_CONFIG_MAX_RULES
#define SHARDS_MAX 256

enum rule_type { RULE_ANOMALY, RULE_THRESHOLD, RULE_OFFLINE, RULE_QUALITY, RULE_PIPELINE };
enum rule_op { OP_GT, OP_GE, OP_LT, OP_LE };
enum reading_field { FIELD_TEMPERATURE, FIELD_HUMIDITY, FIELD_PRESSURE, FIELD_ANOMALY_SCORE };
enum pipeline_signal {
    SIG_CONSUMER_LAG,
    SIG_FRESHNESS,
    SIG_INGEST_ERROR_RATE,
    SIG_AVAILABILITY,
    SIG_FREE_DISK,
    SIG_FSYNC_LATENCY,
    SIG_INGEST_RATE,
    SIG_COUNT
};

/* One rule, parsed and validated. */
typedef struct rule {
    char name[64];
    enum rule_type type;
    fl_severity severity;
    int field;   /* enum reading_field or enum pipeline_signal */
    enum rule_op op;
    double value;
    int64_t count, clear_count;
    int64_t after_us, cooldown_us, renotify_us;
    uint64_t fleet_mask; /* 0: every device */
} rule;

/* Parse cfg's enabled [rule.NAME]s (the built-in ones are config instances too). err names
 * the rule and key. */
FL_MUST_USE int fl_rules_parse(const fl_config *cfg, rule *out, size_t *count, char *err,
                               size_t errlen);
/* 1 when "value op threshold" holds. */
int fl_rule_holds(enum rule_op op, double value, double threshold);
const char *fl_rule_type_name(enum rule_type t);
const char *fl_pipeline_signal_name(int s);

/* An event from the rules to the engine thread. */
enum event_kind { EV_TRIGGER, EV_CLEAR };
typedef struct alert_event {
    enum event_kind kind;
    int rule;          /* index into the engine's rules */
    char device[129];  /* "" for pipeline */
    double value;
    int64_t at;        /* µs */
    char trace_id[33]; /* the triggering reading's W3C trace id (hex), "" when none */
} alert_event;

/* ---- store.c: the alerts table ------------------------------------------------------------- */

FL_MUST_USE int fl_alert_store_init(sqlite3 *db);
/* Read alert id (FL_ENOTFOUND). */
FL_MUST_USE int fl_alert_store_get(sqlite3 *db, int64_t id, fl_alert *out);
/* The open or acknowledged alert with dedup_key (FL_ENOTFOUND). */
FL_MUST_USE int fl_alert_store_find_active(sqlite3 *db, const char *dedup_key, fl_alert *out);
/* When the last alert with dedup_key was resolved (µs), or -1. */
FL_MUST_USE int fl_alert_store_last_resolved(sqlite3 *db, const char *dedup_key, int64_t *at);
/* Insert a new alert (a->id is assigned) / write every column of an existing one. */
FL_MUST_USE int fl_alert_store_insert(sqlite3 *db, fl_alert *a, int64_t last_notified_at);
FL_MUST_USE int fl_alert_store_update(sqlite3 *db, const fl_alert *a, int64_t last_notified_at);
/* Open/acknowledged alerts to re-notify: notified last at or before before_us, of rule. */
typedef int (*fl_alert_visit_fn)(void *ctx, const fl_alert *a, int64_t last_notified_at);
FL_MUST_USE int fl_alert_store_active(sqlite3 *db, fl_alert_visit_fn fn, void *ctx);
/* Newest first, filtered (access is checked by the caller on each row via keep()). */
FL_MUST_USE int fl_alert_store_list(sqlite3 *db, const fl_alert_filter *f,
                                    int (*keep)(const fl_alert_filter *f, const fl_alert *a),
                                    fl_alert **out, size_t *n, int *more);

#endif
