/* rules.c — alert rules: the [rule.NAME] config sections (built-in ones included, see
 * builtin_instances in src/core/config.c), parsed and validated. */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "notify/engine_int.h"

static const char *const type_names[] = {"anomaly", "threshold", "offline", "quality",
                                         "pipeline"};
static const char *const field_names[] = {"temperature", "humidity", "pressure", "anomaly_score"};
static const char *const signal_names[] = {"consumer_lag",     "freshness_s", "ingest_error_rate",
                                           "availability",     "free_disk",   "fsync_latency_ms",
                                           "ingest_rate"};
static const char *const op_names[] = {">", ">=", "<", "<="};

const char *fl_rule_type_name(enum rule_type t)
{
    return (unsigned)t < 5 ? type_names[t] : "?";
}

const char *fl_pipeline_signal_name(int s)
{
    return (unsigned)s < SIG_COUNT ? signal_names[s] : "?";
}

int fl_rule_holds(enum rule_op op, double v, double t)
{
    switch (op) {
    case OP_GT: return v > t;
    case OP_GE: return v >= t;
    case OP_LT: return v < t;
    case OP_LE: return v <= t;
    }
    return 0;
}

static int index_of(const char *const *names, size_t n, const char *v)
{
    for (size_t i = 0; i < n; i++)
        if (strcmp(names[i], v) == 0)
            return (int)i;
    return -1;
}

int fl_rule_parse(const fl_config *cfg, const fl_rule_config *c, rule *r, char *err, size_t errlen)
{
    memset(r, 0, sizeof *r);
    snprintf(r->name, sizeof r->name, "%s", c->name);
    int t = index_of(type_names, 5, c->type);
    int op = index_of(op_names, 4, c->op);
    if (t < 0 || op < 0 || fl_severity_parse(c->severity, &r->severity)) {
        snprintf(err, errlen, "[rule.%s]: bad type, op or severity", c->name);
        return FL_ECONFIG;
    }
    r->type = (enum rule_type)t;
    r->op = (enum rule_op)op;
    char *end;
    errno = 0;
    r->value = strtod(c->value, &end);
    if (end == c->value || *end || errno || !isfinite(r->value)) {
        snprintf(err, errlen, "[rule.%s] value: '%s' is not a number", c->name, c->value);
        return FL_ECONFIG;
    }
    r->field = -1;
    if (r->type == RULE_THRESHOLD &&
        (r->field = index_of(field_names, 4, c->field)) < 0) {
        snprintf(err, errlen,
                 "[rule.%s] field: '%s' is not temperature, humidity, pressure or anomaly_score",
                 c->name, c->field);
        return FL_ECONFIG;
    }
    if (r->type == RULE_PIPELINE && (r->field = index_of(signal_names, SIG_COUNT, c->field)) < 0) {
        snprintf(err, errlen,
                 "[rule.%s] field: '%s' is not a pipeline signal (consumer_lag, freshness_s, "
                 "ingest_error_rate, availability, free_disk, fsync_latency_ms, ingest_rate)",
                 c->name, c->field);
        return FL_ECONFIG;
    }
    r->count = c->count;
    r->clear_count = c->clear_count;
    r->after_us = c->after_s * FL_US_PER_SEC;
    if (r->type == RULE_OFFLINE && r->after_us == 0)
        r->after_us = cfg->process_offline_after_s * FL_US_PER_SEC;
    r->cooldown_us = c->cooldown_s * FL_US_PER_SEC;
    r->renotify_us = c->renotify_s * FL_US_PER_SEC;
    const char *bad;
    size_t bad_len;
    if (fl_fleet_mask_of_names(cfg, c->fleets, &r->fleet_mask, &bad, &bad_len)) {
        snprintf(err, errlen, "[rule.%s] fleets: '%.*s' is not a [fleet.NAME] section", c->name,
                 (int)(bad_len > 64 ? 64 : bad_len), bad);
        return FL_ECONFIG;
    }
    return 0;
}

int fl_rules_parse(const fl_config *cfg, rule *out, size_t *count, char *err, size_t errlen)
{
    size_t n = 0;
    for (int64_t k = 0; k < cfg->rule_count; k++) {
        if (strcmp(cfg->rules[k].enabled, "on") != 0)
            continue;
        int rc = fl_rule_parse(cfg, &cfg->rules[k], &out[n], err, errlen);
        if (rc)
            return rc;
        n++;
    }
    *count = n;
    return 0;
}

int fl_rule_same(const rule *a, const rule *b)
{
    return strcmp(a->name, b->name) == 0 && a->type == b->type && a->severity == b->severity &&
           a->field == b->field && a->op == b->op && a->value == b->value && a->count == b->count &&
           a->clear_count == b->clear_count && a->after_us == b->after_us &&
           a->cooldown_us == b->cooldown_us && a->renotify_us == b->renotify_us &&
           a->fleet_mask == b->fleet_mask;
}
