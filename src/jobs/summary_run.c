/* summary_run.c — serve's hourly_summary thread: every summary.interval_s it takes
 * <data>/summary.lock (skipping the pass while `fleetlake summarize` holds it) and runs a
 * pass, checking the stop flag between hours and input files so SIGTERM is prompt. */
#include <pthread.h>
#include <string.h>

#include "jobs/jobs_int.h"

#define MODULE "summary"

struct fl_summary_job {
    char *meta_path, *lock_path;
    fl_summarizer *summarizer;
    int64_t interval_us;
    _Atomic int stop;
    pthread_mutex_t mu;
    pthread_cond_t wake;
    pthread_t thread;
    int started;
};

/* Sleep up to us, or until stop. Returns 1 if stopping. */
static int nap(fl_summary_job *j, int64_t us)
{
    struct timespec ts = fl_time_deadline_us(us);
    pthread_mutex_lock(&j->mu);
    if (!atomic_load(&j->stop))
        pthread_cond_timedwait(&j->wake, &j->mu, &ts);
    pthread_mutex_unlock(&j->mu);
    return atomic_load(&j->stop);
}

static void one_pass(fl_summary_job *j)
{
    int fd = -1;
    int rc = fl_compact_lock(j->lock_path, 0, &fd);
    if (rc == FL_EAGAIN) {
        FL_INFO(MODULE, "fleetlake summarize holds %s: pass skipped", j->lock_path);
        return;
    }
    if (rc) {
        FL_ERROR(MODULE, "cannot take %s: %s", j->lock_path, fl_strerror(rc));
        return;
    }
    fl_summary_stats st = {0};
    rc = fl_summarizer_pass(j->summarizer, &st);
    fl_compact_unlock(fd);
    if (rc && rc != FL_ESTOPPED)
        FL_ERROR(MODULE, "summary pass failed: %s", fl_strerror(rc));
}

static void *summary_main(void *arg)
{
    fl_summary_job *j = arg;
    while (!nap(j, j->interval_us))
        one_pass(j);
    return NULL;
}

int fl_summary_job_start(const fl_summary_job_deps *deps, fl_summary_job **out)
{
    fl_summary_job *j = fl_calloc(1, sizeof *j);
    if (!j)
        return FL_ENOMEM;
    j->interval_us = deps->cfg->summary_interval_s * FL_US_PER_SEC;
    pthread_mutex_init(&j->mu, NULL);
    pthread_cond_init(&j->wake, NULL);
    j->meta_path = fl_strdup(deps->meta_path);
    j->lock_path = fl_strdup(deps->lock_path);
    int rc = j->meta_path && j->lock_path ? 0 : FL_ENOMEM;
    fl_summary_options o = {.store = deps->store,
                            .meta_path = j->meta_path,
                            .stop = &j->stop,
                            .metrics = deps->metrics,
                            .on_quality = deps->on_quality,
                            .on_quality_ctx = deps->on_quality_ctx};
    fl_summary_options_from_config(deps->cfg, &o);
    if (!rc)
        rc = fl_summarizer_create(&o, &j->summarizer);
    if (!rc) {
        rc = -pthread_create(&j->thread, NULL, summary_main, j);
        j->started = rc == 0;
    }
    if (rc) {
        fl_summary_job_stop(j);
        return rc;
    }
    FL_INFO(MODULE, "hourly_summary every %lld s, hours closed %lld s after their end",
            (long long)deps->cfg->summary_interval_s,
            (long long)deps->cfg->summary_allowed_lateness_s);
    *out = j;
    return 0;
}

void fl_summary_job_stop(fl_summary_job *j)
{
    if (!j)
        return;
    pthread_mutex_lock(&j->mu);
    atomic_store(&j->stop, 1);
    pthread_cond_broadcast(&j->wake);
    pthread_mutex_unlock(&j->mu);
    if (j->started)
        pthread_join(j->thread, NULL);
    fl_summarizer_destroy(j->summarizer);
    pthread_mutex_destroy(&j->mu);
    pthread_cond_destroy(&j->wake);
    fl_free(j->meta_path);
    fl_free(j->lock_path);
    fl_free(j);
}
