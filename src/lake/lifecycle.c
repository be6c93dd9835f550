/* lifecycle.c — the lake's lifecycle policy (the S3 lifecycle role, docs/lifecycle.md): which
 * tier each live lake file belongs in by the age of its partition, and which move that asks
 * for. This file is the planning half only — pure functions of the catalog and a `now` the
 * caller passes (the real clock in serve, a faked one in tests and `fleetlake lifecycle
 * --now`); `fleetlake lifecycle --dry-run` prints its plan.
 *
 * NOTES ON THE DESIGN OF THE LIFECYCLE
 *
 * Age. A partition's age is measured from the END of its UTC day (hour partitions age with
 * their day), so a partition is never older than its newest possible row:
 *     age_days = floor((now - start of the day after (year, month, day)) / 1 day), >= 0.
 * Tiers, by age (days): hot <= hot_days < warm <= warm_days < cold <= retention_days < expired.
 * Defaults 30 / 365 / 1095: the reference's hot month, warm year and three-year legal
 * retention.
 *
 * Invariants.
 *  L1  Tiers only move forward (hot -> warm -> cold -> expired): a file already in a later
 *      tier than its age asks for (a lowered hot_days, then a raised one) stays where it is,
 *      so a configuration change never makes the lifecycle copy data back.
 *  L2  A file whose age asks for a tier two steps ahead moves straight there (a hot file of a
 *      partition older than warm_days is planned as cold, not warm then cold).
 *  L3  Only live files are planned: retired files belong to compaction's grace-period
 *      deletion. */
#include <stdio.h>
#include <string.h>

#include "lake/lake_int.h"

#define US_PER_DAY (86400 * FL_US_PER_SEC)

static const char *const tier_names[] = {"hot", "warm", "cold", "expired"};

const char *fl_lifecycle_tier_name(enum fl_lifecycle_tier t)
{
    return t >= FL_TIER_HOT && t <= FL_TIER_EXPIRED ? tier_names[t] : "?";
}

int fl_lifecycle_tier_parse(const char *name)
{
    for (int t = FL_TIER_HOT; t <= FL_TIER_EXPIRED; t++)
        if (strcmp(name, tier_names[t]) == 0)
            return t;
    return -1;
}

void fl_lifecycle_policy_from_config(const fl_config *cfg, fl_lifecycle_policy *p)
{
    p->hot_days = cfg->lifecycle_hot_days;
    p->warm_days = cfg->lifecycle_warm_days;
    p->retention_days = cfg->lifecycle_retention_days;
}

int fl_lifecycle_policy_check(const fl_lifecycle_policy *p)
{
    return p->hot_days >= 0 && p->hot_days < p->warm_days && p->warm_days < p->retention_days
               ? 0
               : FL_EINVAL;
}

int64_t fl_lifecycle_age_days(int32_t year, int32_t month, int32_t day, int64_t now_us)
{
    if (month < 1 || month > 12 || day < 1 || day > 31)
        return 0;
    int64_t end_us = (fl_time_days_from_civil(year, (unsigned)month, (unsigned)day) + 1) *
                     US_PER_DAY;
    return now_us <= end_us ? 0 : (now_us - end_us) / US_PER_DAY;
}

enum fl_lifecycle_tier fl_lifecycle_tier_for_age(const fl_lifecycle_policy *p, int64_t age_days)
{
    if (age_days <= p->hot_days)
        return FL_TIER_HOT;
    if (age_days <= p->warm_days)
        return FL_TIER_WARM;
    if (age_days <= p->retention_days)
        return FL_TIER_COLD;
    return FL_TIER_EXPIRED;
}

struct plan_walk {
    const fl_lifecycle_policy *p;
    int64_t now_us;
    fl_lifecycle_plan_fn fn;
    void *arg;
};

static int plan_file(void *arg, const fl_lake_file *f)
{
    struct plan_walk *w = arg;
    int from = fl_lifecycle_tier_parse(f->tier);
    if (from < 0)
        from = FL_TIER_HOT; /* an unknown tier is treated as the newest: nothing is skipped */
    fl_lifecycle_move m = {.file = f,
                           .from = (enum fl_lifecycle_tier)from,
                           .age_days = fl_lifecycle_age_days(f->year, f->month, f->day,
                                                              w->now_us)};
    m.to = fl_lifecycle_tier_for_age(w->p, m.age_days);
    if (m.to <= m.from)
        return 0; /* L1 */
    return w->fn(w->arg, &m);
}

int fl_lifecycle_plan(fl_catalog *cat, const fl_lifecycle_policy *p, int64_t now_us,
                      fl_lifecycle_plan_fn fn, void *arg)
{
    int rc = fl_lifecycle_policy_check(p);
    if (rc)
        return rc;
    struct plan_walk w = {p, now_us, fn, arg};
    fl_catalog_filter flt = {.year = -1, .month = -1, .day = -1, .hour = -1, .shard = -1,
                             .state = FL_CATALOG_STATE_LIVE}; /* L3 */
    return fl_catalog_files_query(cat, &flt, plan_file, &w);
}
