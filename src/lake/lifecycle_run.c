/* lifecycle_run.c — serve's lifecycle thread (as compact_run.c is compaction's): every
 * lifecycle.interval_s (a day by default) it takes compact.lock — the lifecycle and compaction
 * never work on a data directory at once, and `fleetlake compact|lifecycle|erase` holding it
 * makes the pass wait for the next interval — and applies the plan for the current time
 * (lifecycle_apply.c). The first pass runs FIRST_PASS_DELAY_S after start, so a restart loop
 * never competes with delivery's recovery, yet a server restarted daily still gets its pass. */
#include <inttypes.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include "lake/lake_int.h"

#define MODULE "lifecycle"

/* Delay of the first pass after start (see the file comment). */
#define FIRST_PASS_DELAY_S 60

struct fl_lifecycle_runner {
    fl_lifecycle_deps deps;
    char meta_path[PATH_MAX + 16], lock_path[PATH_MAX + 16];
    char warm_dir[PATH_MAX];
    fl_lifecycle_options o;
    int64_t interval_us;
    _Atomic int stop;
    pthread_mutex_t mu;
    pthread_cond_t wake;
    pthread_t thread;
    int started;
};

/* Sleep up to us, or until stop. Returns 1 if stopping. */
static int nap(fl_lifecycle_runner *r, int64_t us)
{
    struct timespec ts = fl_time_deadline_us(us);
    pthread_mutex_lock(&r->mu);
    if (!atomic_load(&r->stop))
        pthread_cond_timedwait(&r->wake, &r->mu, &ts);
    pthread_mutex_unlock(&r->mu);
    return atomic_load(&r->stop);
}

static void one_pass(fl_lifecycle_runner *r)
{
    int fd = -1;
    int rc = fl_compact_lock(r->lock_path, 0, &fd);
    if (rc == FL_EAGAIN) {
        FL_INFO(MODULE, "another job holds %s: pass skipped", r->lock_path);
        return;
    }
    if (rc) {
        FL_ERROR(MODULE, "cannot take %s: %s", r->lock_path, fl_strerror(rc));
        return;
    }
    fl_lifecycle_stats st;
    r->o.now_us = fl_time_now_us();
    rc = fl_lifecycle_apply(&r->o, &st);
    fl_compact_unlock(fd);
    if (rc && rc != FL_ESTOPPED)
        FL_ERROR(MODULE, "lifecycle pass failed: %s (retried at the next pass)", fl_strerror(rc));
    if (st.files[FL_TIER_WARM] || st.files[FL_TIER_COLD] || st.files[FL_TIER_EXPIRED] ||
        st.failures || st.deleted || st.orphans)
        FL_INFO(MODULE, "pass: %" PRIu64 " file(s) to warm, %" PRIu64 " to cold, %" PRIu64
                        " expired, %" PRIu64 " failed, %" PRIu64 " deleted, %" PRIu64
                        " crash leftover(s) removed",
                st.files[FL_TIER_WARM], st.files[FL_TIER_COLD], st.files[FL_TIER_EXPIRED],
                st.failures, st.deleted, st.orphans);
}

static void *lifecycle_main(void *arg)
{
    fl_lifecycle_runner *r = arg;
    int64_t wait_us = FIRST_PASS_DELAY_S * FL_US_PER_SEC;
    if (wait_us > r->interval_us)
        wait_us = r->interval_us;
    while (!nap(r, wait_us)) {
        one_pass(r);
        wait_us = r->interval_us;
    }
    return NULL;
}

static int path_under(char *buf, size_t n, const char *dir, const char *name)
{
    int w = snprintf(buf, n, "%s/%s", dir, name);
    return w < 0 || (size_t)w >= n ? FL_ERANGE : 0;
}

int fl_lifecycle_runner_start(const fl_lifecycle_deps *deps, fl_lifecycle_runner **out)
{
    fl_lifecycle_runner *r = fl_calloc(1, sizeof *r);
    if (!r)
        return FL_ENOMEM;
    r->deps = *deps;
    r->interval_us = deps->cfg->lifecycle_interval_s * FL_US_PER_SEC;
    pthread_mutex_init(&r->mu, NULL);
    pthread_cond_init(&r->wake, NULL);
    int rc = path_under(r->meta_path, sizeof r->meta_path, deps->data_dir, "meta.db");
    if (!rc)
        rc = path_under(r->lock_path, sizeof r->lock_path, deps->data_dir, "compact.lock");
    if (!rc)
        rc = fl_lifecycle_options_from_config(deps->cfg, deps->data_dir, r->warm_dir,
                                              sizeof r->warm_dir, &r->o);
    r->o.store = deps->store;
    r->o.meta_path = r->meta_path;
    r->o.stop = &r->stop;
    if (!rc) {
        rc = -pthread_create(&r->thread, NULL, lifecycle_main, r);
        r->started = rc == 0;
    }
    if (rc) {
        fl_lifecycle_runner_stop(r);
        return rc;
    }
    FL_INFO(MODULE, "lifecycle every %lld s: hot <= %lld days, warm (%s) <= %lld days, cold "
                    "(archived-data/, ZSTD) <= %lld days, then deleted",
            (long long)deps->cfg->lifecycle_interval_s, (long long)r->o.policy.hot_days,
            r->warm_dir, (long long)r->o.policy.warm_days,
            (long long)r->o.policy.retention_days);
    *out = r;
    return 0;
}

void fl_lifecycle_runner_stop(fl_lifecycle_runner *r)
{
    if (!r)
        return;
    pthread_mutex_lock(&r->mu);
    atomic_store(&r->stop, 1);
    pthread_cond_broadcast(&r->wake);
    pthread_mutex_unlock(&r->mu);
    if (r->started)
        pthread_join(r->thread, NULL);
    pthread_mutex_destroy(&r->mu);
    pthread_cond_destroy(&r->wake);
    fl_free(r);
}
