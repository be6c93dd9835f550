/* test_lifecycle.c — the lifecycle policy's pure parts with a faked clock: partition age from
 * the end of the UTC day, the tier boundaries (30 / 365 / 1095 days, inclusive), the policy
 * check, and the plan over an in-memory catalog: only live files, only forward moves (L1), a
 * hot file of an old partition straight to cold (L2), an expired one to expired. The
 * location resolver (locate.c): the main lake for "", one cached store per absolute
 * directory, relative locations refused, the bound on distinct locations. Applying a plan on
 * a temp directory: a move whose file is missing fails alone (counted, nothing changed for
 * it) while the others are applied. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <string.h>

#include "lake/lake_int.h"
#include "lake_test_util.h"

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

static void locate_stores(void **state)
{
    (void)state;
    char root[512], dir[600];
    lt_tmpdir("locate", root, sizeof root);
    fl_objstore *main_store = NULL, *a = NULL, *b = NULL, *got = NULL;
    fl_lake_stores *s = NULL;
    snprintf(dir, sizeof dir, "%s/lake", root);
    assert_int_equal(fl_objstore_local_create(dir, &main_store), 0);
    assert_int_equal(fl_lake_stores_create(main_store, &s), 0);
    assert_int_equal(fl_lake_stores_get(s, "", &got), 0);
    assert_ptr_equal(got, main_store);
    assert_int_equal(fl_lake_stores_get(s, NULL, &got), 0);
    assert_ptr_equal(got, main_store);
    assert_int_equal(fl_lake_stores_get(s, "relative/dir", &got), FL_EINVAL);
    snprintf(dir, sizeof dir, "%s/warm-0", root);
    assert_int_equal(fl_lake_stores_get(s, dir, &a), 0);
    assert_ptr_not_equal(a, main_store);
    assert_int_equal(fl_lake_stores_get(s, dir, &b), 0);
    assert_ptr_equal(a, b); /* cached */
    assert_int_equal(fl_objstore_put(a, "raw-data/x.parquet", "abc", 3), 0);
    assert_true(lt_exists(dir, "raw-data/x.parquet"));
    fl_lake_file f;
    memset(&f, 0, sizeof f);
    snprintf(f.location, sizeof f.location, "%s", dir);
    assert_int_equal(fl_lake_file_store(s, &f, &got), 0);
    assert_ptr_equal(got, a);
    int rc = 0;
    for (int i = 1; i < 40 && !rc; i++) { /* bounded: a rewritten catalog cannot grow it */
        snprintf(dir, sizeof dir, "%s/warm-%d", root, i);
        rc = fl_lake_stores_get(s, dir, &got);
    }
    assert_int_equal(rc, FL_ERANGE);
    fl_lake_stores_destroy(s);
    fl_objstore_destroy(main_store);
    lt_rm_rf(root);
}

struct done_log {
    int ok, failed;
};

static void on_done(void *ctx, const fl_lifecycle_done *d)
{
    struct done_log *l = ctx;
    if (d->rc)
        l->failed++;
    else
        l->ok++;
}

static void apply_missing_file_fails_alone(void **state)
{
    (void)state;
    char root[512], dir[600], meta[600], warm[600];
    lt_tmpdir("lifecycle-apply", root, sizeof root);
    snprintf(dir, sizeof dir, "%s/lake", root);
    snprintf(meta, sizeof meta, "%s/meta.db", root);
    snprintf(warm, sizeof warm, "%s/warm", root);
    fl_objstore *store = NULL;
    fl_catalog *cat = NULL;
    assert_int_equal(fl_objstore_local_create(dir, &store), 0);
    assert_int_equal(fl_catalog_open(meta, &cat), 0);
    /* two expired rows (no file needed: expiry only schedules the deletion) and one warm move
     * whose file is missing */
    add(cat, 2020, 1, 1, "hot", "live");
    add(cat, 2020, 1, 2, "hot", "live");
    add(cat, 2026, 1, 1, "hot", "live");
    fl_catalog_close(cat);
    struct done_log log = {0};
    fl_lifecycle_options o = {.store = store, .meta_path = meta, .warm_dir = warm,
                              .policy = defaults, .now_us = ts("2026-03-01T00:00:00Z"),
                              .grace_us = 0, .on_done = on_done, .on_done_ctx = &log};
    fl_lifecycle_stats st;
    assert_int_equal(fl_lifecycle_apply(&o, &st), 0);
    assert_int_equal(log.ok, 2);
    assert_int_equal(log.failed, 1);
    assert_int_equal(st.files[FL_TIER_EXPIRED], 2);
    assert_int_equal(st.files[FL_TIER_WARM], 0);
    assert_int_equal(st.failures, 1);
    assert_int_equal(fl_catalog_open(meta, &cat), 0);
    int64_t files = 0;
    fl_catalog_filter all = fl_catalog_filter_table(NULL);
    assert_int_equal(fl_catalog_files_count(cat, &all, &files, NULL, NULL), 0);
    assert_int_equal(files, 1); /* the failed one, unchanged */
    fl_lake_file f;
    assert_int_equal(fl_catalog_file_get(cat, "raw-data/year=2026/month=1/day=1/hour=0/"
                                              "part-0-1-1.parquet", &f), 0);
    assert_string_equal(f.tier, "hot");
    assert_string_equal(f.location, "");
    o.warm_dir = "relative"; /* refused: the catalog stores absolute directories */
    assert_int_equal(fl_lifecycle_apply(&o, &st), FL_EINVAL);
    fl_catalog_close(cat);
    fl_objstore_destroy(store);
    lt_rm_rf(root);
}

/* More moves than one batch holds: a single pass still applies them all. */
static void apply_in_batches(void **state)
{
    (void)state;
    char root[512], dir[600], meta[600], warm[600];
    lt_tmpdir("lifecycle-batches", root, sizeof root);
    snprintf(dir, sizeof dir, "%s/lake", root);
    snprintf(meta, sizeof meta, "%s/meta.db", root);
    snprintf(warm, sizeof warm, "%s/warm", root);
    fl_objstore *store = NULL;
    fl_catalog *cat = NULL;
    assert_int_equal(fl_objstore_local_create(dir, &store), 0);
    assert_int_equal(fl_catalog_open(meta, &cat), 0);
    enum { N = 4096 + 3 }; /* one full batch, then a second one */
    assert_int_equal(fl_catalog_begin(cat), 0);
    for (int i = 0; i < N; i++) {
        fl_lake_file f = {0};
        snprintf(f.path, sizeof f.path,
                 "raw-data/year=2020/month=1/day=1/hour=0/part-0-%d-%d.parquet", i + 1, i + 1);
        snprintf(f.table_name, sizeof f.table_name, "raw_sensor_data");
        f.year = 2020, f.month = 1, f.day = 1, f.hour = 0, f.rows = 1, f.bytes = 10;
        f.shard = 0, f.first_seq = f.last_seq = (uint64_t)i + 1, f.retired_at = -1;
        assert_int_equal(fl_catalog_file_insert(cat, &f), 0);
    }
    assert_int_equal(fl_catalog_commit(cat), 0);
    fl_catalog_close(cat);
    fl_lifecycle_options o = {.store = store, .meta_path = meta, .warm_dir = warm,
                              .policy = defaults, .now_us = ts("2026-03-01T00:00:00Z")};
    fl_lifecycle_stats st;
    assert_int_equal(fl_lifecycle_apply(&o, &st), 0);
    assert_int_equal(st.files[FL_TIER_EXPIRED], N);
    assert_int_equal(st.failures, 0);
    assert_int_equal(fl_catalog_open(meta, &cat), 0);
    int64_t files = -1;
    fl_catalog_filter all = fl_catalog_filter_table(NULL);
    assert_int_equal(fl_catalog_files_count(cat, &all, &files, NULL, NULL), 0);
    assert_int_equal(files, 0);
    fl_catalog_close(cat);
    fl_objstore_destroy(store);
    lt_rm_rf(root);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(age_from_end_of_day),
        cmocka_unit_test(tier_boundaries),
        cmocka_unit_test(plan_over_catalog),
        cmocka_unit_test(locate_stores),
        cmocka_unit_test(apply_missing_file_fails_alone),
        cmocka_unit_test(apply_in_batches),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
