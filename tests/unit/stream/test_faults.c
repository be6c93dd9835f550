/* test_faults.c — storage errors on the append path (fsyncgate): an fsync or write error
 * fails the shard for good, un-acked entries are reported, later appends get FL_ESTOPPED,
 * other shards carry on, and a reopen recovers every acked record. Also failed renames
 * during quarantine and allocation failures at every step of open. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <pthread.h>

#include "stream_test_util.h"

struct ctx {
    char root[1024];
    char dir[1024];
};

static int setup(void **state)
{
    struct ctx *c = calloc(1, sizeof *c);
    tu_tmpdir(c->root, sizeof c->root, c->dir, sizeof c->dir);
    /* fds remember their paths only while a rule exists, so path-filtered faults can match
     * segment files opened before the rule that targets them: install a rule that never
     * fires (count 0) first */
    fl_fs_fault_add(FL_FS_RENAME, EIO, 0, 0, "never-matches");
    *state = c;
    return 0;
}

static int teardown(void **state)
{
    struct ctx *c = *state;
    fl_fs_fault_clear();
    fl_mem_fail_after(-1);
    tu_rm_rf(c->root);
    free(c);
    return 0;
}

static fl_stream_shard_stats stats(fl_stream *s, uint32_t shard)
{
    fl_stream_shard_stats st;
    assert_int_equal(fl_stream_shard_stats_get(s, shard, &st), 0);
    return st;
}

/* Shared body: inject err on op for shard 0 after some good appends, check the failed state. */
static void shard_fails_on(const struct ctx *c, enum fl_fs_op op, int err,
                           enum fl_durability durability)
{
    fl_stream_options o = tu_options(c->dir, 2);
    o.durability = durability;
    fl_stream *s = NULL;
    assert_int_equal(fl_stream_open(&o, &s, NULL), 0);
    for (int i = 1; i <= 5; i++) {
        assert_int_equal(tu_append_one(s, 0, i, i, NULL), 0);
        assert_int_equal(tu_append_one(s, 1, i, i, NULL), 0);
    }
    fl_fs_fault_add(op, err, 0, 1, "shard-0000");
    uint64_t seq = 77;
    assert_int_equal(tu_append_one(s, 0, 6, 6, &seq), -err);
    assert_int_equal(seq, 0); /* not acked */
    fl_stream_shard_stats st = stats(s, 0);
    assert_int_equal(st.failed, 1);
    assert_int_equal(st.failed_error, -err);
    /* failed for good, even though the fault was one-shot: no retry */
    assert_int_equal(tu_append_one(s, 0, 7, 7, NULL), FL_ESTOPPED);
    assert_int_equal(stats(s, 1).failed, 0);
    assert_int_equal(tu_append_one(s, 1, 6, 6, &seq), 0);
    assert_int_equal(seq, 6);
    /* a request spanning both shards: only the healthy shard's entries are acked */
    fl_stream_entry e[2] = {
        {.shard = 0, .kind = 2, .partition_key = FL_SLICE_LIT("a"), .payload = FL_SLICE_LIT("x")},
        {.shard = 1, .kind = 2, .partition_key = FL_SLICE_LIT("b"), .payload = FL_SLICE_LIT("y")},
    };
    assert_int_equal(fl_stream_append(s, e, 2, 8), FL_ESTOPPED);
    assert_int_equal(e[0].result, FL_ESTOPPED);
    assert_int_equal(e[1].result, 0);
    assert_int_equal(e[1].seq, 7);
    /* consumers never see what was not acked */
    uint64_t seqs[16];
    assert_int_equal(tu_count_from(s, 0, FL_STREAM_TRIM_HORIZON, 0, seqs, 16), 5);
    assert_int_equal(fl_stream_close(s), 0);

    fl_fs_fault_clear();
    fl_stream_recovery_report rep;
    assert_int_equal(fl_stream_open(&o, &s, &rep), 0);
    assert_int_equal(stats(s, 0).failed, 0);
    assert_int_equal(rep.quarantined_segments, 0);
    long n = tu_count_from(s, 0, FL_STREAM_TRIM_HORIZON, 0, seqs, 16);
    assert_in_range(n, 5, 6); /* acked 1-5 are there; 6 may or may not be */
    for (long i = 0; i < n; i++)
        assert_int_equal(seqs[i], i + 1);
    assert_int_equal(tu_count_from(s, 1, FL_STREAM_TRIM_HORIZON, 0, NULL, 0), 7);
    assert_int_equal(tu_append_one(s, 0, 9, 9, &seq), 0);
    assert_int_equal(seq, (uint64_t)n + 1);
    assert_int_equal(fl_stream_close(s), 0);
}

static void fsync_eio_fails_the_shard(void **state)
{
    shard_fails_on(*state, FL_FS_FSYNC, EIO, FL_DURABILITY_FSYNC);
}

static void write_enospc_fails_the_shard(void **state)
{
    shard_fails_on(*state, FL_FS_WRITE, ENOSPC, FL_DURABILITY_FSYNC);
}

static void write_error_with_os_durability(void **state)
{
    shard_fails_on(*state, FL_FS_WRITE, EIO, FL_DURABILITY_OS);
}

static void fsync_error_during_roll(void **state)
{
    struct ctx *c = *state;
    fl_stream_options o = tu_options(c->dir, 1);
    o.durability = FL_DURABILITY_OS; /* only rolls fsync */
    o.segment_bytes = 512;
    fl_stream *s = NULL;
    assert_int_equal(fl_stream_open(&o, &s, NULL), 0);
    fl_fs_fault_add(FL_FS_FSYNC, EIO, 0, -1, "shard-0000");
    int i = 1, rc = 0;
    for (; i < 100 && !(rc = tu_append_one(s, 0, i, i, NULL)); i++)
        ;
    assert_int_equal(rc, -EIO);
    assert_true(i > 3); /* the first appends fit in the first segment */
    assert_int_equal(tu_append_one(s, 0, 100, 100, NULL), FL_ESTOPPED);
    assert_int_equal(fl_stream_maintain(s, 1000), 0);
    assert_int_equal(fl_stream_close(s), 0);
    fl_fs_fault_clear();
    assert_int_equal(fl_stream_open(&o, &s, NULL), 0);
    assert_int_equal(tu_count_from(s, 0, FL_STREAM_TRIM_HORIZON, 0, NULL, 0), i - 1);
    assert_int_equal(fl_stream_close(s), 0);
}

static void failed_quarantine_rename_fails_open(void **state)
{
    struct ctx *c = *state;
    fl_stream_options o = tu_options(c->dir, 1);
    o.segment_bytes = 512;
    fl_stream *s = NULL;
    assert_int_equal(fl_stream_open(&o, &s, NULL), 0);
    for (int i = 1; i <= 30; i++)
        assert_int_equal(tu_append_one(s, 0, i, i, NULL), 0);
    assert_int_equal(fl_stream_close(s), 0);
    char path[PATH_MAX];
    snprintf(path, sizeof path, "%s/shard-0000/%020d.seg", c->dir, 1);
    int fd = open(path, O_RDWR);
    unsigned char b = 0;
    assert_int_equal(pwrite(fd, &b, 1, 60), 1);
    close(fd);
    fl_fs_fault_add(FL_FS_RENAME, EIO, 0, 1, "quarantine");
    assert_int_equal(fl_stream_open(&o, &s, NULL), -EIO);
    assert_null(s);
    assert_true(tu_file_size(path) > 0); /* still there, still unserved */
    fl_stream_recovery_report rep;
    assert_int_equal(fl_stream_open(&o, &s, &rep), 0);
    assert_int_equal(rep.quarantined_segments, 1);
    assert_int_equal(fl_stream_close(s), 0);
}

static void allocation_failures_during_open_and_append(void **state)
{
    struct ctx *c = *state;
    fl_stream_options o = tu_options(c->dir, 2);
    fl_stream *s = NULL;
    assert_int_equal(fl_stream_open(&o, &s, NULL), 0);
    assert_int_equal(tu_append_one(s, 1, 1, 1, NULL), 0);
    assert_int_equal(fl_stream_close(s), 0);
    int failures = 0;
    for (long n = 0; n < 40; n++) {
        fl_mem_fail_after(n);
        int rc = fl_stream_open(&o, &s, NULL);
        fl_mem_fail_after(-1);
        if (rc) {
            assert_int_equal(rc, FL_ENOMEM);
            assert_null(s);
            failures++;
            continue;
        }
        fl_mem_fail_after(0);
        uint64_t seq;
        assert_int_equal(tu_append_one(s, 1, 2, 2, &seq), FL_ENOMEM);
        fl_mem_fail_after(-1);
        assert_int_equal(fl_stream_close(s), 0);
        break;
    }
    assert_true(failures > 3);
    assert_int_equal(fl_stream_open(&o, &s, NULL), 0);
    assert_int_equal(tu_count_from(s, 1, FL_STREAM_TRIM_HORIZON, 0, NULL, 0), 1);
    assert_int_equal(fl_stream_close(s), 0);
}

/* ---- group commit under a failing fsync ------------------------------------------------------ */

enum { THREADS = 4, PER_THREAD = 200 };

struct worker {
    fl_stream *s;
    int id;
    uint64_t acked[PER_THREAD];
    int nacked;
    int errors, stopped;
};

static void *worker_main(void *arg)
{
    struct worker *w = arg;
    for (int i = 0; i < PER_THREAD; i++) {
        uint64_t seq;
        int rc = tu_append_one(w->s, 0, w->id * 1000 + i, i, &seq);
        if (rc == 0)
            w->acked[w->nacked++] = seq;
        else if (rc == FL_ESTOPPED)
            w->stopped++;
        else
            w->errors++;
    }
    return NULL;
}

static void concurrent_appenders_see_one_failure(void **state)
{
    struct ctx *c = *state;
    fl_stream_options o = tu_options(c->dir, 1);
    fl_stream *s = NULL;
    assert_int_equal(fl_stream_open(&o, &s, NULL), 0);
    fl_fs_fault_add(FL_FS_FSYNC, EIO, 40, -1, "shard-0000");
    pthread_t th[THREADS];
    struct worker *w = calloc(THREADS, sizeof *w);
    for (int i = 0; i < THREADS; i++) {
        w[i].s = s;
        w[i].id = i;
        assert_int_equal(pthread_create(&th[i], NULL, worker_main, &w[i]), 0);
    }
    int errors = 0, acked = 0;
    for (int i = 0; i < THREADS; i++) {
        pthread_join(th[i], NULL);
        errors += w[i].errors;
        acked += w[i].nacked;
        assert_int_equal(w[i].nacked + w[i].errors + w[i].stopped, PER_THREAD);
    }
    /* exactly one fsync failed and it was never retried: one -EIO, the rest FL_ESTOPPED */
    assert_int_equal(errors, 1);
    assert_true(acked >= 40 && acked < THREADS * PER_THREAD);
    assert_int_equal(fl_stream_close(s), 0);
    fl_fs_fault_clear();

    /* every acked record survives the reopen with the seq it was acked with */
    assert_int_equal(fl_stream_open(&o, &s, NULL), 0);
    uint64_t *seqs = calloc(THREADS * PER_THREAD, sizeof *seqs);
    long n = tu_count_from(s, 0, FL_STREAM_TRIM_HORIZON, 0, seqs, THREADS * PER_THREAD);
    assert_true(n >= acked);
    for (int i = 0; i < THREADS; i++)
        for (int k = 0; k < w[i].nacked; k++) {
            assert_in_range(w[i].acked[k], 1, (uint64_t)n);
            assert_int_equal(seqs[w[i].acked[k] - 1], w[i].acked[k]);
        }
    free(seqs);
    free(w);
    assert_int_equal(fl_stream_close(s), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(fsync_eio_fails_the_shard, setup, teardown),
        cmocka_unit_test_setup_teardown(write_enospc_fails_the_shard, setup, teardown),
        cmocka_unit_test_setup_teardown(write_error_with_os_durability, setup, teardown),
        cmocka_unit_test_setup_teardown(fsync_error_during_roll, setup, teardown),
        cmocka_unit_test_setup_teardown(failed_quarantine_rename_fails_open, setup, teardown),
        cmocka_unit_test_setup_teardown(allocation_failures_during_open_and_append, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(concurrent_appenders_see_one_failure, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
