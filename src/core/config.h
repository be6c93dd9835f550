/* config.h — fleetlake's configuration: one declarative table of every key.
 *
 * Each entry names a "section.key", its type, default, bounds, the field of struct
 * fl_config it fills and a description. The INI loader (libinih), the --set overrides, the
 * effective-config log line and the sample file fleetlake.conf.example are all driven by
 * the table, so they cannot drift apart (a unit test compares the sample with the file).
 * Unknown sections and keys are errors. */
#ifndef FL_CORE_CONFIG_H
#define FL_CORE_CONFIG_H

#include <stdint.h>
#include <stdio.h>

#include "core/error.h"

enum fl_durability { FL_DURABILITY_FSYNC = 0, FL_DURABILITY_OS = 1 };

#define FL_CONFIG_MAX_FLEETS 64
#define FL_CONFIG_MAX_ROLES 8
#define FL_CONFIG_MAX_CHANNELS 32

/* [fleet.NAME]: the devices of one fleet (glob patterns). */
typedef struct fl_fleet_config {
    char name[64];
    char devices[1024];
} fl_fleet_config;

/* [channel.NAME]: where alerts are notified (src/notify, docs/alerts.md "Channels"). */
typedef struct fl_channel_config {
    char name[64];
    char type[16];              /* webhook | slack | pagerduty | email */
    char url[512];              /* http(s):// for webhook/slack/pagerduty, smtp(s):// for email */
    char routing_key[128];      /* pagerduty */
    char from[256];             /* email */
    char to[512];               /* email, comma-separated */
    char starttls[8];           /* email: on | off */
    char username[128];         /* email: SMTP AUTH user ("" = no AUTH) */
    char password_file[512];    /* email: file holding the SMTP AUTH password */
    char ca_file[512];          /* PEM CA bundle trusted instead of the system's ("" = system) */
    char client_cert_file[512]; /* PEM client certificate for mutual TLS ("" = none) */
    char client_key_file[512];  /* its unencrypted PEM private key */
    char min_severity[16];      /* info | warning | critical */
    char fleets[512];           /* comma-separated [fleet.NAME]s, "" = all */
    int64_t rate_per_min;       /* 0 = unlimited */
    int64_t timeout_s;
} fl_channel_config;

/* [role.NAME]: per-role SQL caps (0 = the [query] value). */
typedef struct fl_role_config {
    char name[32];
    int64_t query_timeout_s;
    int64_t query_max_rows;
    int64_t query_memory_bytes;
} fl_role_config;

#define FL_CONFIG_MAX_RULES 64

/* [rule.NAME]: one alert rule (src/notify, docs/alerts.md). */
typedef struct fl_rule_config {
    char name[64];
    char type[16];     /* anomaly | threshold | offline | quality | pipeline */
    char severity[16]; /* info | warning | critical */
    char field[32];    /* threshold: reading field; pipeline: signal */
    char op[4];        /* > >= < <= */
    char value[32];    /* threshold number */
    int64_t count;
    int64_t clear_count;
    int64_t after_s;
    int64_t cooldown_s;
    int64_t renotify_s;
    char fleets[256];
    char enabled[8];
} fl_rule_config;

typedef struct fl_config {
    /* [server] */
    char listen[256];
    char data_dir[4096];
    int64_t threads;
    int64_t connection_limit;
    int64_t connection_timeout_s;
    int64_t drain_timeout_s;
    int64_t max_inflight_requests;
    int64_t max_header_bytes;
    int64_t max_uri_bytes;
    int64_t max_connections_per_client;
    int64_t header_timeout_s;
    int64_t body_timeout_s;
    int64_t max_event_streams;
    /* [tls] */
    char tls_cert_file[4096];
    char tls_key_file[4096];
    /* [log] */
    char log_level[16];
    char log_format[16];
    /* [ingest] */
    int64_t max_body_bytes;
    int64_t max_decompressed_bytes;
    int64_t max_decompression_ratio;
    int64_t max_records_per_request;
    int64_t max_json_depth;
    int64_t max_extra_bytes;
    int64_t max_future_skew_s;
    /* [stream] */
    int64_t shards;
    char durability[16];
    int64_t segment_bytes;
    int64_t segment_age_s;
    int64_t retention_age_s;
    int64_t retention_bytes;
    int64_t max_batch_bytes;
    /* [dead_letter] */
    int64_t dead_letter_retention_age_s;
    int64_t dead_letter_retention_bytes;
    /* [raw] (raw delivery into the lake) */
    int64_t raw_buffer_bytes;
    int64_t raw_buffer_interval_s;
    int64_t raw_max_active_partitions;
    char raw_codec[16];
    int64_t raw_poll_interval_ms;
    /* [compaction] */
    char compaction_enabled[8];
    int64_t compaction_interval_s;
    int64_t compaction_close_after_s;
    int64_t compaction_target_bytes;
    int64_t compaction_memory_bytes;
    int64_t compaction_retire_grace_s;
    /* [lifecycle] (tiers by partition age, src/lake/lifecycle.c) */
    int64_t lifecycle_hot_days;
    int64_t lifecycle_warm_days;
    int64_t lifecycle_retention_days;
    char lifecycle_warm_dir[4096];
    char lifecycle_enabled[8];
    int64_t lifecycle_interval_s;
    /* [summary] (the hourly_summary job, src/jobs) */
    char summary_enabled[8];
    int64_t summary_interval_s;
    int64_t summary_allowed_lateness_s;
    /* [process] (enrichment and anomaly detection, src/process) */
    char process_time_zone[64];
    int64_t process_dedup_window_s;
    int64_t process_dedup_max_per_device;
    int64_t process_late_after_s;
    char process_anomaly_threshold[16];
    int64_t process_batch_interval_s;
    int64_t process_buffer_bytes;
    int64_t process_max_devices_per_shard;
    int64_t process_stale_after_s;
    int64_t process_offline_after_s;
    /* [query] (SQL over the lake, src/query) */
    int64_t query_timeout_s;
    int64_t query_max_rows;
    int64_t query_memory_bytes;
    int64_t query_max_sql_bytes;
    int64_t query_max_concurrent;
    /* [audit] (the audit trail, src/audit) */
    char audit_enabled[8];
    char audit_fsync[16];
    int64_t audit_fsync_interval_ms;
    char audit_hmac_key_file[4096];
    int64_t audit_file_bytes;
    int64_t audit_retention_days;
    int64_t audit_retention_bytes;
    /* [throttle] (token buckets per caller and per device, src/gateway/throttle*.c) */
    char throttle_enabled[8];
    int64_t throttle_key_rate;
    int64_t throttle_key_burst;
    int64_t throttle_device_rate;
    int64_t throttle_device_burst;
    int64_t throttle_max_buckets;
    /* [sim] (used by serve --demo) */
    int64_t demo_devices;
    int64_t demo_rate;
    /* [dashboard] (the web/ files served at /, src/gateway/static.c) */
    char dashboard_dir[4096];
    int64_t dashboard_max_file_bytes;
    /* [security] (src/security, src/gateway/auth.c) */
    char security_auth[8];
    char security_metrics_public[8];
    int64_t security_max_keys;
    /* [outbox] (notification delivery, src/notify/dispatch.c) */
    int64_t outbox_max_attempts;
    int64_t outbox_max_age_s;
    int64_t outbox_retry_initial_ms;
    int64_t outbox_retry_max_s;
    int64_t outbox_poll_interval_ms;
    int64_t outbox_retention_days;
    /* named instances ([fleet.NAME], [role.NAME], [rule.NAME], [channel.NAME]) in definition
     * order */
    fl_fleet_config fleets[FL_CONFIG_MAX_FLEETS];
    int64_t fleet_count;
    fl_role_config roles[FL_CONFIG_MAX_ROLES];
    int64_t role_count;
    fl_rule_config rules[FL_CONFIG_MAX_RULES];
    int64_t rule_count;
    fl_channel_config channels[FL_CONFIG_MAX_CHANNELS];
    int64_t channel_count;
} fl_config;

enum fl_config_type { FL_CFG_STRING, FL_CFG_INT, FL_CFG_BYTES, FL_CFG_SECONDS, FL_CFG_ENUM };

typedef struct fl_config_entry {
    const char *name; /* "section.key" */
    enum fl_config_type type;
    const char *default_value;
    int64_t min, max;      /* for INT/BYTES/SECONDS */
    const char *choices;   /* for ENUM: "a|b|c" */
    size_t offset;         /* into struct fl_config */
    size_t size;           /* for STRING/ENUM: buffer size */
    const char *description;
} fl_config_entry;

extern const fl_config_entry fl_config_table[];
extern const size_t fl_config_table_len;

/* A kind of named instance section, [prefix.NAME] (DESIGN.md §6): its keys (entries' names
 * are bare keys, offsets into the instance struct) and where the instances live in
 * fl_config (an array of max_instances structs of instance_size bytes and an int64 count).
 * `--set prefix.NAME.key=value` sets one key of one instance, creating it. */
typedef struct fl_config_instance_type {
    const char *prefix;
    const fl_config_entry *entries;
    size_t entry_count;
    size_t instance_size;
    size_t max_instances;
    size_t array_offset, count_offset;
    size_t name_offset, name_size;
    const char *description;
    const char *example; /* sample lines, '\n'-separated */
} fl_config_instance_type;
extern const fl_config_instance_type fl_config_instance_types[];
extern const size_t fl_config_instance_type_count;

/* Fill cfg with every default. */
void fl_config_defaults(fl_config *cfg);
/* Load an INI file over cfg. On error returns FL_ECONFIG and writes a message naming the
 * file, line and key into err (errlen bytes). */
FL_MUST_USE int fl_config_load_file(fl_config *cfg, const char *path, char *err, size_t errlen);
/* Apply one "section.key=value" override (--set). */
FL_MUST_USE int fl_config_set(fl_config *cfg, const char *assignment, char *err, size_t errlen);
/* Set one key by name to a textual value, with validation. */
FL_MUST_USE int fl_config_set_value(fl_config *cfg, const char *name, const char *value, char *err,
                                    size_t errlen);
/* One [prefix.NAME] instance outside an fl_config (an alert rule sent through the API): fill
 * inst (the kind's instance_size bytes) with the kind's defaults and name. FL_ENOTFOUND for an
 * unknown prefix, FL_ECONFIG (err says why) for a bad name. */
FL_MUST_USE int fl_config_instance_init(const char *prefix, void *inst, const char *name, char *err,
                                        size_t errlen);
/* Set one key of such an instance from text, with the file's validation; err names the key. */
FL_MUST_USE int fl_config_instance_set(const char *prefix, void *inst, const char *key,
                                       const char *value, char *err, size_t errlen);
/* 1 when [prefix.NAME] is a built-in instance (one that exists without any configuration). */
int fl_config_instance_builtin(const char *prefix, const char *name);
/* Write the effective configuration, one "section.key = value" per line. */
void fl_config_dump(const fl_config *cfg, FILE *out);
/* Write the documented sample config (the content of fleetlake.conf.example). */
void fl_config_write_sample(FILE *out);

static inline enum fl_durability fl_config_durability(const fl_config *cfg)
{
    return cfg->durability[0] == 'o' ? FL_DURABILITY_OS : FL_DURABILITY_FSYNC;
}

#endif
