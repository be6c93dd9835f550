/* jobs_int.h — private declarations of the jobs module, for summary.c, summary_run.c and the
 * unit tests: file naming and the crash simulation hook. */
#ifndef FL_JOBS_JOBS_INT_H
#define FL_JOBS_JOBS_INT_H

#include "jobs/jobs.h"

/* "curated-data/hourly_summary/year=Y/month=M/day=D/part-h<H>-<16 hex digits>.parquet", where H
 * is the UTC hour of day and the hex digits an FNV-1a hash of the hour's input keys (sorted):
 * a pure function of the inputs, so a rerun after a crash derives the same name. */
FL_MUST_USE int summary_key(char *buf, size_t n, int64_t hour, uint64_t inputs_hash);
/* The prefix every summary file of hour shares ("…/day=D/part-h<H>-"). */
FL_MUST_USE int summary_key_prefix(char *buf, size_t n, int64_t hour);

enum summary_step {
    SUMMARY_AFTER_PUBLISH, /* file published, catalog transaction not started */
    SUMMARY_AFTER_COMMIT,  /* transaction committed */
};
/* A non-zero return makes fl_summarizer_hour return that code at once, as a kill -9 there. */
typedef int (*summary_crash_fn)(void *ctx, enum summary_step step);
void summary_set_crash_hook(fl_summarizer *s, summary_crash_fn fn, void *ctx);

#endif
