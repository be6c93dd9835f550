/* test_engine_rules.c — the alert engine with rules changed while it runs: an API rule opens
 * alerts at once; replacing it keeps the open alert and lets the new condition resolve it;
 * disabling resolves it (by the caller); a configured rule is refused; definitions survive a
 * restart of the engine; and rule changes racing observer threads on many devices leave every
 * device table on the engine's current rule set, each rule in a state slot of its own (run
 * under ASan/UBSan by make test). */
#include <errno.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "notify/engine_int.h"

static fl_config cfg;
static char meta_path[512];

static fl_alert_engine *start(void)
{
    fl_alert_engine_deps deps = {.cfg = &cfg, .meta_path = meta_path, .data_dir = "/tmp"};
    fl_alert_engine *e = NULL;
    char err[256] = "";
    int rc = fl_alert_engine_start(&deps, &e, err, sizeof err);
    if (rc)
        fail_msg("engine start: %s %s", fl_strerror(rc), err);
    return e;
}

static int setup(void **state)
{
    (void)state;
    char err[256];
    fl_config_defaults(&cfg);
    assert_int_equal(fl_config_set(&cfg, "rule.anomaly.enabled=off", err, sizeof err), 0);
    assert_int_equal(fl_config_set(&cfg, "fleet.seoul.devices=truck-*", err, sizeof err), 0);
    assert_int_equal(fl_config_set(&cfg, "rule.cfg.type=offline", err, sizeof err), 0);
    const char *base = getenv("FL_TEST_TMP");
    char dir[400];
    snprintf(dir, sizeof dir, "%s/engine-rules-XXXXXX", base ? base : "/tmp");
    assert_non_null(mkdtemp(dir));
    snprintf(meta_path, sizeof meta_path, "%s/meta.db", dir);
    return 0;
}

static void observe(fl_alert_engine *e, const char *dev, double temp)
{
    static int64_t ts = INT64_C(1790000000000000);
    fl_processed p = {.device_id = {dev, strlen(dev)},
                      .timestamp_us = ts += 1000,
                      .present = FL_REC_TEMPERATURE,
                      .temperature = temp};
    fl_alert_engine_observe(e, 0, &p, fl_time_now_us());
}

static int put(fl_alert_engine *e, const char *name, const char *json, int *created)
{
    fl_rule_caller who = {.key_id = "k1", .access = NULL};
    fl_buf out = {0};
    char err[256];
    int dummy, rc = fl_alert_engine_rule_put(e, name, json, strlen(json), 0, &who,
                                             created ? created : &dummy, &out, err, sizeof err);
    fl_buf_free(&out);
    return rc;
}

/* The alerts of rule (newest first) once their count and the newest's state are as wanted. */
static size_t wait_alerts(fl_alert_engine *e, const char *rule_name, size_t want, int state,
                          fl_alert *newest)
{
    for (int tries = 0; tries < 500; tries++) {
        fl_alert_filter f = {.state = -1, .min_severity = -1, .rule = rule_name, .limit = 100};
        fl_alert *v = NULL;
        size_t n = 0;
        int more = 0;
        assert_int_equal(fl_alert_engine_list(e, &f, &v, &n, &more), 0);
        int ok = n == want && (!n || (int)v[0].state == state);
        if (ok && n)
            *newest = v[0];
        fl_free(v);
        if (ok)
            return n;
        struct timespec ts = {0, 10 * 1000 * 1000};
        nanosleep(&ts, NULL);
    }
    fail_msg("rule %s: never %zu alert(s) with the newest in state %d", rule_name, want, state);
    return 0;
}

static void lifecycle(void **state)
{
    (void)state;
    fl_alert_engine *e = start();
    fl_alert a;
    int created = 0;
    assert_int_equal(put(e, "hot",
                         "{\"type\":\"threshold\",\"field\":\"temperature\",\"value\":50,"
                         "\"clear_count\":1,\"cooldown_s\":0}",
                         &created),
                     0);
    assert_int_equal(created, 1);
    observe(e, "truck-1", 60);
    wait_alerts(e, "hot", 1, FL_ALERT_OPEN, &a);
    assert_true(a.value == 60 && a.threshold == 50);
    int64_t first = a.id;

    /* Replaced: the alert stays open; 65 is normal under the new threshold and resolves it. */
    assert_int_equal(put(e, "hot",
                         "{\"type\":\"threshold\",\"field\":\"temperature\",\"value\":70,"
                         "\"clear_count\":1,\"cooldown_s\":0}",
                         &created),
                     0);
    assert_int_equal(created, 0);
    observe(e, "truck-1", 65);
    wait_alerts(e, "hot", 1, FL_ALERT_RESOLVED, &a);
    assert_int_equal(a.id, first);
    assert_string_equal(a.resolved_by, "auto");

    /* The same definition again changes nothing: the rule keeps its identity (and with it
     * every device's state); a changed one gets a new identity. */
    observe(e, "truck-1", 75);
    wait_alerts(e, "hot", 2, FL_ALERT_OPEN, &a);
    assert_true(a.threshold == 70);
    ruleset *before = fl_ruleset_get(e);
    assert_int_equal(put(e, "hot",
                         "{\"type\":\"threshold\",\"field\":\"temperature\",\"value\":70,"
                         "\"clear_count\":1,\"cooldown_s\":0}",
                         NULL),
                     0);
    ruleset *same = fl_ruleset_get(e);
    assert_int_equal(put(e, "hot",
                         "{\"type\":\"threshold\",\"field\":\"temperature\",\"value\":70,"
                         "\"clear_count\":1,\"cooldown_s\":5}",
                         NULL),
                     0);
    ruleset *changed = fl_ruleset_get(e);
    assert_true(same != before && changed != same);
    assert_int_equal(same->count, before->count);
    for (size_t i = 0; i < same->count; i++) {
        assert_int_equal(same->rules[i].identity, before->rules[i].identity);
        assert_int_equal(changed->rules[i].slot, same->rules[i].slot); /* state stays put */
        if (strcmp(changed->rules[i].name, "hot") == 0)
            assert_true(changed->rules[i].identity != same->rules[i].identity);
        else
            assert_int_equal(changed->rules[i].identity, same->rules[i].identity);
    }
    fl_ruleset_put(before);
    fl_ruleset_put(same);
    fl_ruleset_put(changed);
    observe(e, "truck-1", 76); /* still over: the restored active state opens nothing new */
    wait_alerts(e, "hot", 2, FL_ALERT_OPEN, &a);

    /* Disabled: its open alert resolves, by the caller. */
    assert_int_equal(put(e, "hot",
                         "{\"type\":\"threshold\",\"field\":\"temperature\","
                         "\"value\":70,\"enabled\":false}",
                         NULL),
                     0);
    wait_alerts(e, "hot", 2, FL_ALERT_RESOLVED, &a);
    assert_string_equal(a.resolved_by, "k1");
    observe(e, "truck-1", 90);
    observe(e, "truck-1", 91);

    /* Configured names and bad definitions are refused. */
    assert_int_equal(put(e, "cfg", "{\"type\":\"anomaly\"}", NULL), FL_EEXISTS);
    assert_int_equal(put(e, "x", "{\"type\":\"threshold\",\"field\":\"speed\"}", NULL), FL_EINVAL);
    assert_int_equal(put(e, "x", "{\"type\":\"threshold\",\"value\":\"nan\"}", NULL), FL_EINVAL);
    assert_int_equal(put(e, "x", "[1]", NULL), FL_EPARSE);
    fl_rule_caller limited_who = {.key_id = "k2"};
    fl_access limited = {.fleet_mask = 1, .cfg = &cfg};
    limited_who.access = &limited;
    fl_buf out = {0};
    char err[256];
    int c;
    const char *all = "{\"type\":\"offline\"}",
               *seoul = "{\"type\":\"offline\",\"fleets\":\"seoul\"}";
    assert_int_equal(fl_alert_engine_rule_put(e, "q", all, strlen(all), 1, &limited_who, &c, &out,
                                              err, sizeof err),
                     -EACCES);
    assert_int_equal(fl_alert_engine_rule_put(e, "q", seoul, strlen(seoul), 1, &limited_who, &c,
                                              &out, err, sizeof err),
                     0);
    fl_buf_free(&out);
    fl_alert_engine_stop(e);

    /* A restart reads the stored definitions: still disabled, nothing new opened. */
    e = start();
    fl_buf list = {0};
    assert_int_equal(fl_alert_engine_rules_json(e, &list), 0);
    assert_non_null(strstr(list.data, "\"name\":\"hot\""));
    assert_non_null(strstr(list.data, "\"enabled\":false,\"source\":\"api\""));
    assert_non_null(strstr(list.data, "\"name\":\"q\""));
    fl_buf_free(&list);
    wait_alerts(e, "hot", 2, FL_ALERT_RESOLVED, &a);
    size_t resolved = 9;
    fl_rule_caller who = {.key_id = "k1"};
    assert_int_equal(fl_alert_engine_rule_delete(e, "hot", &who, &resolved, err, sizeof err), 0);
    assert_int_equal(resolved, 0);
    assert_int_equal(fl_alert_engine_rule_delete(e, "hot", &who, &resolved, err, sizeof err),
                     FL_ENOTFOUND);
    assert_int_equal(fl_alert_engine_rule_delete(e, "cfg", &who, &resolved, err, sizeof err),
                     FL_EEXISTS);
    fl_alert_engine_stop(e);
}

struct stress {
    fl_alert_engine *e;
    int stop;
    unsigned seed;
};

static void *observer(void *arg)
{
    struct stress *s = arg;
    char dev[32];
    fl_processed p = {.present = FL_REC_TEMPERATURE};
    for (int64_t i = 0; !__atomic_load_n(&s->stop, __ATOMIC_RELAXED); i++) {
        snprintf(dev, sizeof dev, "truck-%u", rand_r(&s->seed) % 500);
        p.device_id = (fl_slice){dev, strlen(dev)};
        p.timestamp_us = INT64_C(1790000000000000) + i;
        p.temperature = rand_r(&s->seed) % 100;
        p.anomaly_flag = p.temperature > 95;
        fl_alert_engine_observe(s->e, (uint32_t)(i % 4), &p, fl_time_now_us());
    }
    return NULL;
}

static void changes_race_observers(void **state)
{
    (void)state;
    fl_alert_engine *e = start();
    struct stress s[2] = {{.e = e, .seed = 1}, {.e = e, .seed = 2}};
    pthread_t th[2];
    for (int i = 0; i < 2; i++)
        assert_int_equal(pthread_create(&th[i], NULL, observer, &s[i]), 0);
    char name[16], json[160];
    fl_rule_caller who = {.key_id = "k"};
    char err[256];
    for (int round = 0; round < 60; round++) {
        snprintf(name, sizeof name, "r%d", round % 5);
        snprintf(json, sizeof json,
                 "{\"type\":\"%s\",\"field\":\"temperature\",\"value\":%d,\"count\":2,"
                 "\"cooldown_s\":0}",
                 round % 3 ? "threshold" : "anomaly", 40 + round);
        if (round % 7 == 6) {
            size_t resolved;
            int rc = fl_alert_engine_rule_delete(e, name, &who, &resolved, err, sizeof err);
            assert_true(rc == 0 || rc == FL_ENOTFOUND);
        } else {
            assert_int_equal(put(e, name, json, NULL), 0);
        }
    }
    for (int i = 0; i < 2; i++) {
        __atomic_store_n(&s[i].stop, 1, __ATOMIC_RELAXED);
        pthread_join(th[i], NULL);
    }
    /* Every table follows the current set; its devices all survived the re-layouts. */
    ruleset *rs = fl_ruleset_get(e);
    size_t devices = 0;
    for (size_t t = 0; t < SHARDS_MAX; t++) {
        assert_ptr_equal(e->shards[t].rules, rs);
        devices += e->shards[t].count;
    }
    assert_ptr_equal(e->quality.rules, rs);
    assert_true(devices >= 400 && devices <= 2000); /* 500 ids, each on any of 4 shards */
    size_t api = 0;
    uint64_t slots = 0;
    for (size_t i = 0; i < rs->count; i++) {
        api += rs->rules[i].name[0] == 'r';
        assert_true(rs->rules[i].slot < e->shards[0].state_slots);
        assert_false(slots & (UINT64_C(1) << rs->rules[i].slot)); /* one rule per slot */
        slots |= UINT64_C(1) << rs->rules[i].slot;
    }
    assert_int_equal(api, 4); /* r0 was deleted last (round 55), r1-r4 put after */
    fl_ruleset_put(rs);
    fl_alert_engine_stop(e);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup(lifecycle, setup),
        cmocka_unit_test_setup(changes_race_observers, setup),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
