/* rule_json.c — an alert rule as JSON: the body of POST/PUT /v1/rules parsed into the same
 * fl_rule_config a [rule.NAME] section fills (through the config table, so both are checked by
 * the same code and name the same keys), and a definition written back as JSON members (for
 * GET /v1/rules and for meta.db's alert_rules, which stores each API rule in this form). */
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "notify/engine_int.h"

/* Keys GET /v1/rules adds that a client may send back unchanged (read, then PUT); ignored. */
static const char *const read_only_keys[] = {"source", "problem", "created_at", "updated_at",
                                             "updated_by"};

static int read_only(const char *key)
{
    for (size_t i = 0; i < sizeof read_only_keys / sizeof read_only_keys[0]; i++)
        if (strcmp(key, read_only_keys[i]) == 0)
            return 1;
    return 0;
}

/* "fleets": an array of names, or one comma-separated string. */
static int fleets_text(const char *rule_name, json_t *v, char *out, size_t cap, char *err,
                       size_t errlen)
{
    if (json_is_string(v)) {
        snprintf(out, cap, "%s", json_string_value(v));
        return 0;
    }
    if (!json_is_array(v)) {
        snprintf(err, errlen, "[rule.%s] fleets: expected an array of [fleet.NAME] names",
                 rule_name);
        return FL_EINVAL;
    }
    size_t i, len = 0;
    json_t *f;
    out[0] = 0;
    json_array_foreach(v, i, f)
    {
        const char *s = json_string_value(f);
        int n = s ? snprintf(out + len, cap - len, "%s%s", i ? "," : "", s) : -1;
        if (n < 0 || (size_t)n >= cap - len) {
            snprintf(err, errlen, "[rule.%s] fleets: %s", rule_name,
                     s ? "too long" : "every element must be a string");
            return FL_EINVAL;
        }
        len += (size_t)n;
    }
    return 0;
}

/* The text a config key is set from: strings as they are, numbers printed, booleans on/off. */
static int value_text(const char *rule_name, const char *key, json_t *v, char *out, size_t cap,
                      char *err, size_t errlen)
{
    if (strcmp(key, "fleets") == 0)
        return fleets_text(rule_name, v, out, cap, err, errlen);
    if (json_is_string(v))
        snprintf(out, cap, "%s", json_string_value(v));
    else if (json_is_integer(v))
        snprintf(out, cap, "%lld", (long long)json_integer_value(v));
    else if (json_is_real(v))
        snprintf(out, cap, "%.17g", json_real_value(v));
    else if (json_is_boolean(v))
        snprintf(out, cap, "%s", json_is_true(v) ? "on" : "off");
    else if (json_is_null(v) && strcmp(key, "field") == 0)
        out[0] = 0; /* GET shows an anomaly rule's field as null */
    else {
        snprintf(err, errlen, "[rule.%s] %s: expected a string, number or boolean", rule_name, key);
        return FL_EINVAL;
    }
    return 0;
}

int fl_rule_config_from_json(const char *name, const char *json, size_t len, fl_rule_config *c,
                             char *err, size_t errlen)
{
    char why[200];
    if (fl_config_instance_init("rule", c, name, why, sizeof why)) {
        snprintf(err, errlen, "rule %s", why);
        return FL_EINVAL;
    }
    json_error_t jerr;
    json_t *body = json_loadb(json, len, JSON_REJECT_DUPLICATES, &jerr);
    if (!body || !json_is_object(body)) {
        snprintf(err, errlen, "expected a JSON object: %s", body ? "not an object" : jerr.text);
        json_decref(body);
        return FL_EPARSE;
    }
    int rc = 0;
    const char *key;
    json_t *v;
    json_object_foreach(body, key, v)
    {
        if (read_only(key))
            continue;
        if (strcmp(key, "name") == 0) {
            if (!json_is_string(v) || strcmp(json_string_value(v), name) != 0) {
                snprintf(err, errlen, "name: the body names another rule than the path ('%s')",
                         name);
                rc = FL_EINVAL;
                break;
            }
            continue;
        }
        char text[sizeof c->fleets];
        if ((rc = value_text(name, key, v, text, sizeof text, err, errlen)))
            break;
        if (fl_config_instance_set("rule", c, key, text, why, sizeof why)) {
            snprintf(err, errlen, "[rule.%s] %s", name, why);
            rc = FL_EINVAL;
            break;
        }
    }
    json_decref(body);
    return rc;
}

static int string_member(fl_buf *out, const char *name, const char *v)
{
    int rc = fl_buf_printf(out, ",\"%s\":\"", name);
    rc = rc ? rc : fl_buf_append_json_string(out, v, strlen(v));
    return rc ? rc : fl_buf_append_cstr(out, "\"");
}

int fl_rule_config_to_json(const fl_config *cfg, const fl_rule_config *c, fl_buf *out)
{
    int has_field = strcmp(c->type, "threshold") == 0 || strcmp(c->type, "pipeline") == 0;
    int64_t after_s = c->after_s;
    if (cfg && after_s == 0 && strcmp(c->type, "offline") == 0)
        after_s = cfg->process_offline_after_s;
    int rc = fl_buf_append_cstr(out, "\"name\":\"");
    rc = rc ? rc : fl_buf_append_json_string(out, c->name, strlen(c->name));
    rc = rc ? rc : fl_buf_append_cstr(out, "\"");
    rc = rc ? rc : string_member(out, "type", c->type);
    rc = rc ? rc : string_member(out, "severity", c->severity);
    if (has_field && c->field[0])
        rc = rc ? rc : string_member(out, "field", c->field);
    else
        rc = rc ? rc : fl_buf_append_cstr(out, ",\"field\":null");
    rc = rc ? rc : string_member(out, "op", c->op);
    double value = strtod(c->value, NULL); /* finite in every definition accepted */
    rc = rc ? rc : fl_buf_append_cstr(out, ",\"value\":");
    rc = rc                ? rc
         : isfinite(value) ? fl_buf_append_double(out, value)
                           : fl_buf_append_cstr(out, "null");
    rc = rc ? rc
            : fl_buf_printf(out,
                            ",\"count\":%lld,\"clear_count\":%lld,\"after_s\":%lld,"
                            "\"cooldown_s\":%lld,\"renotify_s\":%lld,\"fleets\":[",
                            (long long)c->count, (long long)c->clear_count, (long long)after_s,
                            (long long)c->cooldown_s, (long long)c->renotify_s);
    for (const char *p = c->fleets; !rc && *p;) {
        const char *end = strchr(p, ',');
        size_t n = end ? (size_t)(end - p) : strlen(p);
        if (n) {
            rc = fl_buf_printf(out, "%s\"", out->data[out->len - 1] == '[' ? "" : ",");
            rc = rc ? rc : fl_buf_append_json_string(out, p, n);
            rc = rc ? rc : fl_buf_append_cstr(out, "\"");
        }
        p = end ? end + 1 : p + strlen(p);
    }
    rc = rc ? rc
            : fl_buf_printf(out, "],\"enabled\":%s",
                            strcmp(c->enabled, "on") == 0 ? "true" : "false");
    return rc;
}
