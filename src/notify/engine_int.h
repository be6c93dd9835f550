/* engine_int.h — private to the alert engine (engine.c, engine_rules.c, rules.c, rule_json.c,
 * store.c). */
#ifndef FL_NOTIFY_ENGINE_INT_H
#define FL_NOTIFY_ENGINE_INT_H

#include <pthread.h>
#include <stdatomic.h>

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

/* Where a rule is defined: built in, a [rule.NAME] section, or the API (meta.db alert_rules). */
enum rule_source { RULE_SOURCE_BUILTIN, RULE_SOURCE_CONFIG, RULE_SOURCE_API };

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
    /* Set by the engine, unique per definition: a changed definition gets a new identity, and
     * per-device state or queued events of another identity belong to an older one. */
    uint64_t identity;
    /* Which entry of every device's state array is this rule's; kept by a rule across changes
     * of its definition (the state's tag tells an older definition's counters apart). */
    uint32_t slot;
} rule;

/* The rules the engine evaluates: immutable once published, shared by reference (the engine's
 * current set, and each per-shard device table laid out for the set it holds). */
typedef struct ruleset {
    atomic_long refs;
    uint64_t generation;
    size_t count;
    rule rules[RULES_MAX];
} ruleset;

/* Parse cfg's enabled [rule.NAME]s (the built-in ones are config instances too). err names
 * the rule and key. */
FL_MUST_USE int fl_rules_parse(const fl_config *cfg, rule *out, size_t *count, char *err,
                               size_t errlen);
/* Parse one rule definition (a config section or an API rule). err names the rule and key. */
FL_MUST_USE int fl_rule_parse(const fl_config *cfg, const fl_rule_config *c, rule *out, char *err,
                              size_t errlen);
/* 1 when a and b evaluate the same (every parsed field but the identity). */
int fl_rule_same(const rule *a, const rule *b);
/* 1 when "value op threshold" holds. */
int fl_rule_holds(enum rule_op op, double value, double threshold);
const char *fl_rule_type_name(enum rule_type t);
const char *fl_pipeline_signal_name(int s);

/* An event from the rules to the engine thread. */
enum event_kind { EV_TRIGGER, EV_CLEAR };
typedef struct alert_event {
    enum event_kind kind;
    int rule;          /* index into the rule set the event was made with (a hint) */
    uint64_t identity; /* the rule's identity: an event of a changed or deleted rule is stale */
    char device[129];  /* "" for pipeline */
    double value;
    int64_t at;        /* µs */
    char trace_id[33]; /* the triggering reading's W3C trace id (hex), "" when none */
} alert_event;

/* ---- the engine (engine.c) ------------------------------------------------------------------ */

#define RING_CAP      1024
#define SIGNAL_WINDOW 60 /* seconds of samples for rate signals */

/* One device's state for one rule: per-reading rules count readings in a row; active is an
 * open alert's condition (per-reading and offline rules). Valid only while tag is the low 16
 * bits of the rule's identity: a changed rule finds another tag and starts over (lazily, at the
 * device's next reading or check, so a rule change costs nothing per device). */
typedef struct dev_rule_state {
    uint32_t bad, good;
    uint16_t tag;
    uint8_t active;
} dev_rule_state;

typedef struct device {
    struct device *next;
    uint64_t fleet_mask;
    int64_t last_arrival_us;
    uint8_t id_len;
    char id[129];
    dev_rule_state st[]; /* by rule slot: the table's state_slots entries */
} device;

/* One shard's devices (or the quality observer's), laid out for the rule set it holds. */
typedef struct shard_table {
    pthread_mutex_t lock;
    ruleset *rules;     /* a reference: the set the table's devices are evaluated against */
    size_t state_slots; /* st[] entries every device has: more than the rules' highest slot */
    device **buckets;
    size_t nbuckets, count;
    size_t cap; /* devices tracked at most: process.max_devices_per_shard (x shards for quality) */
} shard_table;

/* Samples of the counters the rate signals need, one per tick. */
typedef struct sample {
    int64_t at_us;
    double records_all, records_rejected, records_accepted;
    double http_all, http_5xx;
    double fsync_sum, fsync_count;
} sample;

typedef struct pipeline_state {
    int64_t cond_since, clear_since; /* µs, -1: not in that state */
    int active;
} pipeline_state;

typedef struct ring_entry {
    uint64_t seq;
    fl_alert alert;
} ring_entry;

/* A rule as defined (engine_rules.c): built in, configured, or through the API. */
typedef struct rule_def {
    fl_rule_config c;
    enum rule_source source;
    char problem[192]; /* why an API rule cannot be evaluated; "" otherwise. A definition is
                        * evaluated (in the current rule set) when enabled and without one. */
    int64_t created_at, updated_at; /* API rules, µs */
    char updated_by[32];            /* API rules: the key id of the last change ("api": auth off) */
} rule_def;

#define RULE_DEFS_MAX (2 * RULES_MAX) /* configured ones and stored API ones (some not evaluated)  \
                                       */

struct fl_alert_engine {
    fl_alert_engine_deps deps;
    /* rules: the current set (swapped under db_lock and rules_lock; see engine_rules.c) */
    pthread_mutex_t rules_lock;
    ruleset *rules;
    pthread_mutex_t change_lock; /* one rule change at a time; guards defs */
    rule_def defs[RULE_DEFS_MAX];
    size_t ndefs;
    uint64_t next_identity, next_generation;
    sqlite3 *db;
    pthread_mutex_t db_lock; /* the connection: engine thread and API callers */
    /* event queue */
    pthread_mutex_t q_lock;
    pthread_cond_t q_nonempty, q_nonfull;
    alert_event *queue;
    size_t q_head, q_len;
    int stopping;
    pthread_t thread;
    int started;
    shard_table shards[SHARDS_MAX];
    shard_table quality; /* device -> newest summarised hour seen (last_arrival_us) */
    /* pipeline signals (engine thread) */
    sample samples[SIGNAL_WINDOW + 1];
    size_t nsamples, sample_next;
    ruleset *pstate_rules; /* the set pstate is laid out for (a reference) */
    pipeline_state pstate[RULES_MAX];
    /* server-sent events */
    pthread_mutex_t ring_lock;
    pthread_cond_t ring_cond;
    ring_entry ring[RING_CAP];
    uint64_t ring_seq; /* last seq published */
    /* metrics */
    fl_counter_family *events_total; /* kind */
    /* fleetlake_alert_events_total series, resolved once; all NULL without a registry */
    fl_counter *opened, *auto_resolved, *acknowledged, *resolved, *suppressed, *notify_errors,
        *dropped;
    pthread_mutex_t check_lock; /* held while the registry is rendered (pipeline checks) */
    int checks_off;             /* fl_alert_engine_stop_checks was called */
};

/* The current rule set, referenced (release with fl_ruleset_put). */
ruleset *fl_ruleset_get(fl_alert_engine *e);
/* Drop a reference; the last one frees. Accepts NULL. */
void fl_ruleset_put(ruleset *rs);
/* The rule of rs with identity (index is a hint), or NULL: it changed or was deleted. */
const rule *fl_ruleset_find(const ruleset *rs, int index, uint64_t identity);

/* A device's open alert of a rule, to restore its per-device state as active. */
typedef struct active_alert {
    uint64_t identity;
    char device[129];
} active_alert;

/* Switch every device table to rs (the engine's new current set), growing the devices' state
 * arrays when a rule's slot needs it. State of rules whose identity rs keeps is kept; that of
 * new or changed rules starts over (by its tag), active for the devices in actives (their open
 * alerts, so that the condition clearing still resolves them). Takes a reference to rs for
 * each table. */
void fl_engine_adopt_rules(fl_alert_engine *e, ruleset *rs, const active_alert *actives,
                           size_t nactives);
/* Publish changed alerts to the event streams and wake the dispatcher. */
void fl_engine_publish(fl_alert_engine *e, const fl_alert *alerts, size_t n);
/* Resolve every open or acknowledged alert of rule_name on behalf of actor (a key id; "" is
 * recorded as "api"), enqueueing their resolve notifications: inside the caller's transaction
 * on e->db, db_lock held. *out (fl_free) holds the *n alerts after the change, to publish
 * after the commit. */
FL_MUST_USE int fl_engine_resolve_rule(fl_alert_engine *e, const char *rule_name, const char *actor,
                                       int64_t now, fl_alert **out, size_t *n);
/* Run sql (BEGIN IMMEDIATE, COMMIT...) on the engine's connection; roll back. */
FL_MUST_USE int fl_engine_exec(sqlite3 *db, const char *sql);
void fl_engine_rollback(sqlite3 *db);

/* ---- engine_rules.c: rule definitions, the API's changes ------------------------------------ */

/* Build the definitions from cfg and meta.db's alert_rules (created if needed; call inside a
 * transaction on e->db), and the first rule set (e->rules). API rules that no longer validate
 * or whose name a [rule.NAME] section took are kept, not evaluated, and logged. */
FL_MUST_USE int fl_engine_rules_load(fl_alert_engine *e, char *err, size_t errlen);
/* Collect the open alerts (on e->db, db_lock held) of the rules in rs that are not in old with
 * the same identity (every rule when old is NULL). *out is fl_free'd by the caller. */
FL_MUST_USE int fl_engine_collect_actives(fl_alert_engine *e, const ruleset *old, const ruleset *rs,
                                          active_alert **out, size_t *n);

/* ---- rule_json.c: a rule as JSON ------------------------------------------------------------ */

/* Parse a rule's JSON body into c (defaults first, then the keys given, with the config
 * file's validation). The read-only keys GET returns are ignored; "name", if given, must be
 * name. FL_EPARSE when it is not a JSON object, FL_EINVAL with err naming the key. */
FL_MUST_USE int fl_rule_config_from_json(const char *name, const char *json, size_t len,
                                         fl_rule_config *c, char *err, size_t errlen);
/* The definition's keys as members of a JSON object, without the braces (value a number,
 * fleets an array, enabled a boolean; no read-only keys). With cfg, an offline rule's after_s 0 is
 * shown resolved to process.offline_after_s (as evaluated); without, as defined (how it is stored).
 */
FL_MUST_USE int fl_rule_config_to_json(const fl_config *cfg, const fl_rule_config *c, fl_buf *out);

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
/* The open and acknowledged alerts of rule_name (NULL: of every rule); *out (fl_free, NULL
 * when none) holds *n. */
FL_MUST_USE int fl_alert_store_active_list(sqlite3 *db, const char *rule_name, fl_alert **out,
                                           size_t *n);
/* Newest first, filtered (access is checked by the caller on each row via keep()). */
FL_MUST_USE int fl_alert_store_list(sqlite3 *db, const fl_alert_filter *f,
                                    int (*keep)(const fl_alert_filter *f, const fl_alert *a),
                                    fl_alert **out, size_t *n, int *more);

#endif
