/* compact_run.c — serve's compaction thread: every compaction.interval_s it takes the
 * compaction lock (skipping the pass while `fleetlake compact` holds it), recovers what a
 * crashed compactor left (the first time), and runs a pass — one partition at a time, checking
 * the stop flag between partitions and between input files so SIGTERM is prompt. */
#include <inttypes.h>
#include <pthread.h>
#include <string.h>

#include "lake/compact_int.h"

#define MODULE "compact"

struct fl_compaction {
    fl_compaction_deps deps;
    char *meta_path, *lock_path;
    fl_compactor *compactor;
    int64_t interval_us;
    _Atomic int stop;
    pthread_mutex_t mu;
    pthread_cond_t wake;
    pthread_t thread;
    int started, recovered;
};

/* Sleep up to us, or until stop. Returns 1 if stopping. */
static int nap(fl_compaction *c, int64_t us)
{
    struct timespec ts = fl_time_deadline_us(us);
    pthread_mutex_lock(&c->mu);
    if (!atomic_load(&c->stop))
        pthread_cond_timedwait(&c->wake, &c->mu, &ts);
    pthread_mutex_unlock(&c->mu);
    return atomic_load(&c->stop);
}

static void one_pass(fl_compaction *c)
{
    int fd = -1;
    int rc = fl_compact_lock(c->lock_path, 0, &fd);
    if (rc == FL_EAGAIN) {
        FL_INFO(MODULE, "another compactor holds %s: pass skipped", c->lock_path);
        return;
    }
    if (rc) {
        FL_ERROR(MODULE, "cannot take %s: %s", c->lock_path, fl_strerror(rc));
        return;
    }
    fl_compact_stats st = {0};
    if (!c->recovered) {
        rc = fl_compactor_recover(c->compactor, &st);
        if (rc)
            FL_ERROR(MODULE, "recovery failed: %s (retried at the next pass)", fl_strerror(rc));
        c->recovered = rc == 0;
    }
    if (!rc)
        rc = fl_compactor_pass(c->compactor, &st);
    fl_compact_unlock(fd);
    if (rc && rc != FL_ESTOPPED)
        FL_ERROR(MODULE, "compaction pass failed: %s", fl_strerror(rc));
    if (st.partitions || st.failures || st.retired_deleted)
        FL_INFO(MODULE, "pass: %" PRIu64 " partition(s) compacted, %" PRIu64 " files -> %" PRIu64
                        ", %" PRIu64 " failed, %" PRIu64 " retired file(s) deleted",
                st.partitions, st.files_in, st.files_out, st.failures, st.retired_deleted);
}

static void *compaction_main(void *arg)
{
    fl_compaction *c = arg;
    while (!nap(c, c->interval_us))
        one_pass(c);
    return NULL;
}

int fl_compaction_start(const fl_compaction_deps *deps, fl_compaction **out)
{
    fl_compaction *c = fl_calloc(1, sizeof *c);
    if (!c)
        return FL_ENOMEM;
    c->deps = *deps;
    c->interval_us = deps->cfg->compaction_interval_s * FL_US_PER_SEC;
    pthread_mutex_init(&c->mu, NULL);
    pthread_cond_init(&c->wake, NULL);
    c->meta_path = fl_strdup(deps->meta_path);
    c->lock_path = fl_strdup(deps->lock_path);
    int rc = c->meta_path && c->lock_path ? 0 : FL_ENOMEM;
    fl_compact_options o = {.store = deps->store,
                            .meta_path = c->meta_path,
                            .stop = &c->stop,
                            .metrics = deps->metrics};
    fl_compact_options_from_config(deps->cfg, &o);
    if (!rc)
        rc = fl_compactor_create(&o, &c->compactor);
    if (!rc) {
        rc = -pthread_create(&c->thread, NULL, compaction_main, c);
        c->started = rc == 0;
    }
    if (rc) {
        fl_compaction_stop(c);
        return rc;
    }
    FL_INFO(MODULE, "compaction every %lld s of hours closed %lld s ago, into files of %lld "
                    "bytes (retired files deleted after %lld s)",
            (long long)deps->cfg->compaction_interval_s,
            (long long)deps->cfg->compaction_close_after_s,
            (long long)deps->cfg->compaction_target_bytes,
            (long long)deps->cfg->compaction_retire_grace_s);
    *out = c;
    return 0;
}

void fl_compaction_stop(fl_compaction *c)
{
    if (!c)
        return;
    pthread_mutex_lock(&c->mu);
    atomic_store(&c->stop, 1);
    pthread_cond_broadcast(&c->wake);
    pthread_mutex_unlock(&c->mu);
    if (c->started)
        pthread_join(c->thread, NULL);
    fl_compactor_destroy(c->compactor);
    pthread_mutex_destroy(&c->mu);
    pthread_cond_destroy(&c->wake);
    fl_free(c->meta_path);
    fl_free(c->lock_path);
    fl_free(c);
}
