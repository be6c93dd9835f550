/* test_rules.c — alert rules: the built-in defaults, [rule.NAME] parsing, overriding and
 * disabling a default, validation errors naming the rule and key, and the comparison. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <string.h>

#include "notify/engine_int.h"

static rule rules[RULES_MAX];

static const rule *find(size_t n, const char *name)
{
    for (size_t i = 0; i < n; i++)
        if (strcmp(rules[i].name, name) == 0)
            return &rules[i];
    return NULL;
}

static void set(fl_config *cfg, const char *kv)
{
    char err[256];
    assert_int_equal(fl_config_set(cfg, kv, err, sizeof err), 0);
}

static void defaults(void **state)
{
    (void)state;
    fl_config cfg;
    fl_config_defaults(&cfg);
    size_t n;
    char err[256];
    assert_int_equal(fl_rules_parse(&cfg, rules, &n, err, sizeof err), 0);
    assert_int_equal(n, 7);
    const rule *r = find(n, "pipeline_freshness");
    assert_non_null(r);
    assert_int_equal(r->type, RULE_PIPELINE);
    assert_int_equal(r->field, SIG_FRESHNESS);
    assert_int_equal(r->op, OP_GT);
    assert_true(r->value == 30);
    assert_int_equal(r->after_us, 60 * FL_US_PER_SEC);
    assert_int_equal(r->severity, FL_SEVERITY_CRITICAL);
    r = find(n, "pipeline_availability");
    assert_int_equal(r->op, OP_LT);
    assert_true(r->value == 0.999);
    r = find(n, "anomaly");
    assert_int_equal(r->type, RULE_ANOMALY);
    assert_int_equal(r->severity, FL_SEVERITY_WARNING);
}

static void configured(void **state)
{
    (void)state;
    fl_config cfg;
    fl_config_defaults(&cfg);
    set(&cfg, "fleet.seoul.devices=truck-*");
    set(&cfg, "rule.hot.type=threshold");
    set(&cfg, "rule.hot.field=temperature");
    set(&cfg, "rule.hot.op=>=");
    set(&cfg, "rule.hot.value=8.5");
    set(&cfg, "rule.hot.count=3");
    set(&cfg, "rule.hot.fleets=seoul");
    set(&cfg, "rule.hot.severity=critical");
    set(&cfg, "rule.quiet.type=offline");               /* after_s 0: process.offline_after_s */
    set(&cfg, "rule.anomaly.severity=critical");         /* changes one key of a built-in */
    set(&cfg, "rule.pipeline_free_disk.enabled=off");    /* drops a built-in */
    set(&cfg, "rule.pipeline_error_rate.after_s=2");     /* the rest of it stays */
    size_t n;
    char err[256];
    assert_int_equal(fl_rules_parse(&cfg, rules, &n, err, sizeof err), 0);
    assert_int_equal(n, 7 - 1 + 2); /* one built-in off; hot and quiet added */
    const rule *er = find(n, "pipeline_error_rate");
    assert_int_equal(er->type, RULE_PIPELINE);
    assert_int_equal(er->field, SIG_INGEST_ERROR_RATE);
    assert_int_equal(er->after_us, 2 * FL_US_PER_SEC);
    assert_true(er->value == 0.01);
    const rule *r = find(n, "hot");
    assert_int_equal(r->type, RULE_THRESHOLD);
    assert_int_equal(r->field, FIELD_TEMPERATURE);
    assert_int_equal(r->op, OP_GE);
    assert_true(r->value == 8.5);
    assert_int_equal(r->count, 3);
    assert_int_equal(r->fleet_mask, 1);
    assert_int_equal(r->cooldown_us, 60 * FL_US_PER_SEC);
    r = find(n, "quiet");
    assert_int_equal(r->after_us, cfg.process_offline_after_s * FL_US_PER_SEC);
    assert_int_equal(find(n, "anomaly")->severity, FL_SEVERITY_CRITICAL);
    assert_null(find(n, "pipeline_free_disk"));
}

static void errors(void **state)
{
    (void)state;
    static const char *const bad[][2] = {
        {"rule.x.value=hot", "[rule.x] value"},
        {"rule.x.field=colour", "[rule.x] field"},
        {"rule.x.fleets=nowhere", "[rule.x] fleets"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        fl_config cfg;
        fl_config_defaults(&cfg);
        set(&cfg, "rule.x.field=temperature");
        set(&cfg, bad[i][0]);
        size_t n;
        char err[256] = "";
        assert_int_equal(fl_rules_parse(&cfg, rules, &n, err, sizeof err), FL_ECONFIG);
        assert_non_null(strstr(err, bad[i][1]));
    }
    fl_config cfg;
    fl_config_defaults(&cfg);
    char err[256];
    assert_int_equal(fl_config_set(&cfg, "rule.x.op=!=", err, sizeof err), FL_ECONFIG);
    assert_int_equal(fl_config_set(&cfg, "rule.x.type=magic", err, sizeof err), FL_ECONFIG);
    set(&cfg, "rule.p.type=pipeline");
    set(&cfg, "rule.p.field=temperature"); /* not a pipeline signal */
    size_t n;
    assert_int_equal(fl_rules_parse(&cfg, rules, &n, err, sizeof err), FL_ECONFIG);
    assert_non_null(strstr(err, "pipeline signal"));
}

static void comparison(void **state)
{
    (void)state;
    assert_true(fl_rule_holds(OP_GT, 2, 1));
    assert_false(fl_rule_holds(OP_GT, 1, 1));
    assert_true(fl_rule_holds(OP_GE, 1, 1));
    assert_true(fl_rule_holds(OP_LT, 0.5, 1));
    assert_false(fl_rule_holds(OP_LT, 1, 1));
    assert_true(fl_rule_holds(OP_LE, 1, 1));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(defaults),
        cmocka_unit_test(configured),
        cmocka_unit_test(errors),
        cmocka_unit_test(comparison),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
