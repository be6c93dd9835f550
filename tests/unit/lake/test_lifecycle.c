/* test_lifecycle.c — the lifecycle policy's pure parts with a faked clock: partition age from
 * the end of the UTC day, the tier boundaries (30 / 365 / 1095 days, inclusive), the policy
 * check, and the plan over an in-memory catalog: only live files, only forward moves (L1), a
 * hot file of an old partition straight to cold (L2), an expired one to expired. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <string.h>

#include "lake/lake_int.h"

#define DAY_US (INT64_C(86400) * FL_US_PER_SEC)

static int64_t ts(const char *rfc3339)
{
    int64_t us = 0;
    if (fl_time_parse_rfc3339(rfc3339, strlen(rfc3339), &us))
        fail_msg("bad test timestamp %s", rfc3339);
    return us;
}

static const fl_lifecycle_policy defaults = {30, 365, 1095};

static void age_from_end_of_day(void **state)
{
    (void)state;
    /* the day is not over yet: age 0 */
    assert_int_equal(fl_lifecycle_age_days(2026, 1, 5, ts("2026-01-05T23:59:59Z")), 0);
    assert_int_equal(fl_lifecycle_age_days(2026, 1, 5, ts("2026-01-06T00:00:00Z")), 0);
    assert_int_equal(fl_lifecycle_age_days(2026, 1, 5, ts("2026-01-06T23:59:59Z")), 0);
    assert_int_equal(fl_lifecycle_age_days(2026, 1, 5, ts("2026-01-07T00:00:00Z")), 1);
    /* across a leap day */
    assert_int_equal(fl_lifecycle_age_days(2028, 2, 28, ts("2028-03-02T00:00:00Z")), 2);
    /* the future and nonsense months are age 0, never negative */
    assert_int_equal(fl_lifecycle_age_days(2030, 1, 1, ts("2026-01-01T00:00:00Z")), 0);
    assert_int_equal(fl_lifecycle_age_days(2026, 13, 1, ts("2027-01-01T00:00:00Z")), 0);
}

static void tier_boundaries(void **state)
{
    (void)state;
    assert_int_equal(fl_lifecycle_tier_for_age(&defaults, 0), FL_TIER_HOT);
    assert_int_equal(fl_lifecycle_tier_for_age(&defaults, 30), FL_TIER_HOT);
    assert_int_equal(fl_lifecycle_tier_for_age(&defaults, 31), FL_TIER_WARM);
    assert_int_equal(fl_lifecycle_tier_for_age(&defaults, 365), FL_TIER_WARM);
    assert_int_equal(fl_lifecycle_tier_for_age(&defaults, 366), FL_TIER_COLD);
    assert_int_equal(fl_lifecycle_tier_for_age(&defaults, 1095), FL_TIER_COLD);
    assert_int_equal(fl_lifecycle_tier_for_age(&defaults, 1096), FL_TIER_EXPIRED);
    assert_int_equal(fl_lifecycle_policy_check(&defaults), 0);
    fl_lifecycle_policy bad = {30, 30, 1095};
    assert_int_equal(fl_lifecycle_policy_check(&bad), FL_EINVAL);
    bad = (fl_lifecycle_policy){30, 365, 365};
    assert_int_equal(fl_lifecycle_policy_check(&bad), FL_EINVAL);
    assert_string_equal(fl_lifecycle_tier_name(FL_TIER_COLD), "cold");
    assert_int_equal(fl_lifecycle_tier_parse("warm"), FL_TIER_WARM);
    assert_int_equal(fl_lifecycle_tier_parse("tepid"), -1);
    /* config defaults are the policy above */
    fl_config cfg;
    fl_config_defaults(&cfg);
    fl_lifecycle_policy p;
    fl_lifecycle_policy_from_config(&cfg, &p);
    assert_int_equal(p.hot_days, 30);
    assert_int_equal(p.warm_days, 365);
    assert_int_equal(p.retention_days, 1095);
}

static void add(fl_catalog *cat, int y, int m, int d, const char *tier, const char *state)
{
    fl_lake_file f = {0};
    snprintf(f.path, sizeof f.path, "raw-data/year=%d/month=%d/day=%d/hour=0/part-0-1-1.parquet",
             y, m, d);
    snprintf(f.table_name, sizeof f.table_name, "raw_sensor_data");
    f.year = y, f.month = m, f.day = d, f.hour = 0, f.rows = 10, f.bytes = 100, f.shard = 0;
    f.first_seq = f.last_seq = 1;
    snprintf(f.tier, sizeof f.tier, "%s", tier);
    snprintf(f.state, sizeof f.state, "%s", state);
    f.retired_at = strcmp(state, "retired") == 0 ? 1 : -1;
    assert_int_equal(fl_catalog_file_insert(cat, &f), 0);
}

struct seen {
    char lines[8][160];
    int n;
};

static int collect(void *arg, const fl_lifecycle_move *m)
{
    struct seen *s = arg;
    assert_true(s->n < 8);
    snprintf(s->lines[s->n++], sizeof s->lines[0], "%d-%d-%d %s->%s",
             m->file->year, m->file->month, m->file->day, fl_lifecycle_tier_name(m->from),
             fl_lifecycle_tier_name(m->to));
    assert_true(m->to > m->from);
    return 0;
}

static void plan_over_catalog(void **state)
{
    (void)state;
    fl_catalog *cat = NULL;
    assert_int_equal(fl_catalog_open(":memory:", &cat), 0);
    int64_t now = ts("2029-06-30T12:00:00Z");
    add(cat, 2029, 6, 1, "hot", "live");     /* 28 days: stays hot */
    add(cat, 2029, 5, 1, "hot", "live");     /* 59 days: warm */
    add(cat, 2028, 1, 1, "hot", "live");     /* 1 y 6 m: straight to cold (L2) */
    add(cat, 2028, 2, 1, "cold", "live");    /* cold already: nothing */
    add(cat, 2029, 5, 2, "cold", "live");    /* later tier than its age: stays (L1) */
    add(cat, 2026, 1, 1, "warm", "live");    /* 3.5 years: expired */
    add(cat, 2026, 1, 2, "hot", "retired");  /* retired: compaction's business (L3) */
    struct seen s = {0};
    assert_int_equal(fl_lifecycle_plan(cat, &defaults, now, collect, &s), 0);
    assert_int_equal(s.n, 3);
    /* ordered by path */
    assert_string_equal(s.lines[0], "2026-1-1 warm->expired");
    assert_string_equal(s.lines[1], "2028-1-1 hot->cold");
    assert_string_equal(s.lines[2], "2029-5-1 hot->warm");
    fl_lifecycle_policy bad = {30, 20, 1095};
    assert_int_equal(fl_lifecycle_plan(cat, &bad, now, collect, &s), FL_EINVAL);
    fl_catalog_close(cat);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(age_from_end_of_day),
        cmocka_unit_test(tier_boundaries),
        cmocka_unit_test(plan_over_catalog),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
