/* test_objstore.c — the local object store: put/publish/abort, atomic visibility, ranged get,
 * recursive list by prefix, delete, stat, sweep of stale incomplete puts, key validation, and
 * injected faults (a failed write, fsync or rename leaves no object and no temp file). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <errno.h>

#include "lake/lake.h"
#include "lake_test_util.h"

struct fixture {
    char root[PATH_MAX];
    fl_objstore *s;
};

static int setup(void **state)
{
    struct fixture *f = calloc(1, sizeof *f);
    char dir[512];
    lt_tmpdir("objstore", dir, sizeof dir);
    snprintf(f->root, sizeof f->root, "%s/lake", dir);
    if (fl_objstore_local_create(f->root, &f->s))
        return -1;
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *f = *state;
    fl_fs_fault_clear();
    fl_objstore_destroy(f->s);
    char *slash = strrchr(f->root, '/');
    *slash = 0;
    lt_rm_rf(f->root);
    free(f);
    return 0;
}

static void put_publish_get(void **state)
{
    struct fixture *f = *state;
    const char *key = "raw-data/year=2026/month=1/day=5/hour=1/part-0-1-3.parquet";
    fl_objstore_writer *w = NULL;
    assert_int_equal(fl_objstore_put_open(f->s, key, &w), 0);
    assert_int_equal(fl_objstore_put_write(w, "hello ", 6), 0);
    assert_int_equal(fl_objstore_put_write(w, "world", 5), 0);
    assert_int_equal(fl_objstore_put_bytes(w), 11);
    /* not visible before publish */
    fl_objstore_info info;
    assert_int_equal(fl_objstore_stat(f->s, key, &info), FL_ENOTFOUND);
    assert_false(lt_exists(f->root, key));
    assert_int_equal(fl_objstore_put_publish(w), 0);
    assert_int_equal(fl_objstore_stat(f->s, key, &info), 0);
    assert_int_equal(info.size, 11);
    assert_true(info.mtime_us > 0);
    assert_int_equal(lt_count_files(f->root, ".tmp"), 0);

    fl_objstore_reader *r = NULL;
    char buf[16] = {0};
    assert_int_equal(fl_objstore_get_open(f->s, key, &r), 0);
    assert_int_equal(fl_objstore_reader_size(r), 11);
    assert_int_equal(fl_objstore_read(r, buf, 5, 6), 0);
    assert_memory_equal(buf, "world", 5);
    assert_int_equal(fl_objstore_source_read(r, buf, 3, 0), 0);
    assert_memory_equal(buf, "hel", 3);
    assert_int_equal(fl_objstore_read(r, buf, 6, 6), FL_ECORRUPT); /* past the end */
    fl_objstore_get_close(r);
    assert_int_equal(fl_objstore_get_open(f->s, "raw-data/nope", &r), FL_ENOTFOUND);

    /* publish over an existing key replaces it */
    assert_int_equal(fl_objstore_put(f->s, key, "x", 1), 0);
    assert_int_equal(fl_objstore_stat(f->s, key, &info), 0);
    assert_int_equal(info.size, 1);
}

static void abort_discards(void **state)
{
    struct fixture *f = *state;
    fl_objstore_writer *w = NULL;
    assert_int_equal(fl_objstore_put_open(f->s, "a/b.parquet", &w), 0);
    assert_int_equal(fl_objstore_put_write(w, "abc", 3), 0);
    assert_int_equal(lt_count_files(f->root, ".tmp"), 1);
    fl_objstore_put_abort(w);
    assert_int_equal(lt_count_files(f->root, ".tmp"), 0);
    assert_false(lt_exists(f->root, "a/b.parquet"));
    fl_objstore_put_abort(NULL);
}

struct listing {
    char keys[16][256];
    uint64_t sizes[16];
    int n;
};

static int collect(void *arg, const char *key, const fl_objstore_info *st)
{
    struct listing *l = arg;
    if (l->n < 16) {
        snprintf(l->keys[l->n], sizeof l->keys[0], "%s", key);
        l->sizes[l->n++] = st->size;
    }
    return 0;
}

static int has(const struct listing *l, const char *key)
{
    for (int i = 0; i < l->n; i++)
        if (!strcmp(l->keys[i], key))
            return 1;
    return 0;
}

static int stop_at_first(void *arg, const char *key, const fl_objstore_info *st)
{
    (void)key;
    (void)st;
    ++*(int *)arg;
    return 42;
}

static void list_prefix_delete(void **state)
{
    struct fixture *f = *state;
    assert_int_equal(fl_objstore_put(f->s, "raw-data/year=2026/month=1/day=5/hour=1/p1", "1", 1), 0);
    assert_int_equal(fl_objstore_put(f->s, "raw-data/year=2026/month=1/day=5/hour=2/p2", "22", 2), 0);
    assert_int_equal(fl_objstore_put(f->s, "raw-data/year=2026/month=11/day=5/hour=2/p3", "3", 1), 0);
    assert_int_equal(fl_objstore_put(f->s, "errors/rejected_records/year=2026/p4", "4", 1), 0);
    fl_objstore_writer *w = NULL; /* an incomplete put is never listed */
    assert_int_equal(fl_objstore_put_open(f->s, "raw-data/year=2026/month=1/day=5/hour=1/p5", &w), 0);

    struct listing l = {0};
    assert_int_equal(fl_objstore_list(f->s, "raw-data/", collect, &l), 0);
    assert_int_equal(l.n, 3);
    assert_true(has(&l, "raw-data/year=2026/month=1/day=5/hour=2/p2"));
    memset(&l, 0, sizeof l);
    /* a string prefix, as on S3: month=1 does not match month=11's directory by accident */
    assert_int_equal(fl_objstore_list(f->s, "raw-data/year=2026/month=1/", collect, &l), 0);
    assert_int_equal(l.n, 2);
    assert_false(has(&l, "raw-data/year=2026/month=11/day=5/hour=2/p3"));
    memset(&l, 0, sizeof l);
    assert_int_equal(fl_objstore_list(f->s, "raw-data/year=2026/month=1", collect, &l), 0);
    assert_int_equal(l.n, 3); /* month=1 and month=11 both start with it */
    memset(&l, 0, sizeof l);
    assert_int_equal(fl_objstore_list(f->s, "", collect, &l), 0);
    assert_int_equal(l.n, 4);
    memset(&l, 0, sizeof l);
    assert_int_equal(fl_objstore_list(f->s, "nothing-here/", collect, &l), 0);
    assert_int_equal(l.n, 0);
    int calls = 0;
    assert_int_equal(fl_objstore_list(f->s, "raw-data/", stop_at_first, &calls), 42);
    assert_int_equal(calls, 1);

    assert_int_equal(fl_objstore_delete(f->s, "raw-data/year=2026/month=1/day=5/hour=1/p1"), 0);
    assert_int_equal(fl_objstore_delete(f->s, "raw-data/year=2026/month=1/day=5/hour=1/p1"),
                     FL_ENOTFOUND);
    memset(&l, 0, sizeof l);
    assert_int_equal(fl_objstore_list(f->s, "raw-data/", collect, &l), 0);
    assert_int_equal(l.n, 2);
    fl_objstore_put_abort(w);
}

static void sweep_incomplete(void **state)
{
    struct fixture *f = *state;
    fl_objstore_writer *w1 = NULL, *w2 = NULL;
    assert_int_equal(fl_objstore_put_open(f->s, "raw-data/x/old.parquet", &w1), 0);
    assert_int_equal(fl_objstore_put_write(w1, "partial", 7), 0);
    int64_t between = fl_time_now_us() + 1;
    usleep(20000);
    assert_int_equal(fl_objstore_put_open(f->s, "raw-data/x/new.parquet", &w2), 0);
    assert_int_equal(fl_objstore_put_write(w2, "live", 4), 0);
    size_t n = 99;
    /* only puts started before the cut-off (a crashed run's) are discarded */
    assert_int_equal(fl_objstore_sweep_incomplete(f->s, "raw-data/", between, &n), 0);
    assert_int_equal(n, 1);
    assert_int_equal(lt_count_files(f->root, ".tmp"), 1);
    assert_int_equal(fl_objstore_put_publish(w2), 0);
    assert_true(lt_exists(f->root, "raw-data/x/new.parquet"));
    fl_objstore_put_abort(w1); /* its temp is already gone: abort copes */
    assert_int_equal(fl_objstore_sweep_incomplete(f->s, "", fl_time_now_us() + 1000000, &n), 0);
    assert_int_equal(n, 0);
}

static void key_validation(void **state)
{
    struct fixture *f = *state;
    fl_objstore_writer *w = NULL;
    assert_int_equal(fl_objstore_key_check("raw-data/year=2026/x.parquet"), 0);
    assert_int_equal(fl_objstore_key_check(""), FL_EINVAL);
    assert_int_equal(fl_objstore_key_check("/abs"), FL_EINVAL);
    assert_int_equal(fl_objstore_key_check("a//b"), FL_EINVAL);
    assert_int_equal(fl_objstore_key_check("a/../b"), FL_EINVAL);
    assert_int_equal(fl_objstore_key_check("a/./b"), FL_EINVAL);
    assert_int_equal(fl_objstore_key_check("dir/"), FL_EINVAL);
    assert_int_equal(fl_objstore_key_check("a\nb"), FL_EINVAL);
    assert_int_equal(fl_objstore_put_open(f->s, "../escape", &w), FL_EINVAL);
    assert_null(w);
    assert_int_equal(fl_objstore_delete(f->s, "../escape"), FL_EINVAL);
}

static void rename_failure_leaves_nothing(void **state)
{
    struct fixture *f = *state;
    const char *key = "raw-data/year=2026/month=2/day=1/hour=0/part-0-1-2.parquet";
    fl_objstore_writer *w = NULL;
    fl_fs_fault_add(FL_FS_RENAME, EIO, 0, 1, "part-0-1-2.parquet");
    assert_int_equal(fl_objstore_put_open(f->s, key, &w), 0);
    assert_int_equal(fl_objstore_put_write(w, "data", 4), 0);
    assert_int_equal(fl_objstore_put_publish(w), -EIO);
    assert_false(lt_exists(f->root, key));
    assert_int_equal(lt_count_files(f->root, ".tmp"), 0);
    assert_int_equal(lt_count_files(f->root, ".parquet"), 0);
    /* the fault was one-shot: the retry publishes */
    assert_int_equal(fl_objstore_put(f->s, key, "data", 4), 0);
    assert_true(lt_exists(f->root, key));
}

static void fsync_failure_aborts(void **state)
{
    struct fixture *f = *state;
    const char *key = "raw-data/year=2026/month=2/day=1/hour=0/part-0-3-4.parquet";
    fl_objstore_writer *w = NULL;
    fl_fs_fault_add(FL_FS_FSYNC, EIO, 0, 1, "part-0-3-4.parquet.tmp");
    assert_int_equal(fl_objstore_put_open(f->s, key, &w), 0);
    assert_int_equal(fl_objstore_put_write(w, "data", 4), 0);
    assert_int_equal(fl_objstore_put_publish(w), -EIO);
    assert_false(lt_exists(f->root, key));
    assert_int_equal(lt_count_files(f->root, ".tmp"), 0);
}

static void write_failure_and_enospc(void **state)
{
    struct fixture *f = *state;
    const char *key = "raw-data/k/part-0-5-6.parquet";
    fl_objstore_writer *w = NULL;
    fl_fs_fault_add(FL_FS_WRITE, ENOSPC, 1, 1, "part-0-5-6");
    assert_int_equal(fl_objstore_put_open(f->s, key, &w), 0);
    assert_int_equal(fl_objstore_put_write(w, "ok", 2), 0);
    assert_int_equal(fl_objstore_put_write(w, "full", 4), -ENOSPC);
    fl_objstore_put_abort(w);
    assert_false(lt_exists(f->root, key));
    assert_int_equal(lt_count_files(f->root, ".tmp"), 0);
    /* open failure: nothing created either */
    fl_fs_fault_add(FL_FS_OPEN, EIO, 0, 1, "part-0-7-8");
    assert_int_equal(fl_objstore_put_open(f->s, "raw-data/k/part-0-7-8.parquet", &w), -EIO);
    /* a failed directory fsync after the rename takes the object back */
    fl_fs_fault_add(FL_FS_FSYNC, EIO, 1, 1, NULL); /* 1st fsync: the file; 2nd: the dir */
    assert_int_equal(fl_objstore_put(f->s, "raw-data/k/part-0-9-9.parquet", "z", 1), -EIO);
    assert_false(lt_exists(f->root, "raw-data/k/part-0-9-9.parquet"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(put_publish_get, setup, teardown),
        cmocka_unit_test_setup_teardown(abort_discards, setup, teardown),
        cmocka_unit_test_setup_teardown(list_prefix_delete, setup, teardown),
        cmocka_unit_test_setup_teardown(sweep_incomplete, setup, teardown),
        cmocka_unit_test_setup_teardown(key_validation, setup, teardown),
        cmocka_unit_test_setup_teardown(rename_failure_leaves_nothing, setup, teardown),
        cmocka_unit_test_setup_teardown(fsync_failure_aborts, setup, teardown),
        cmocka_unit_test_setup_teardown(write_failure_and_enospc, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
