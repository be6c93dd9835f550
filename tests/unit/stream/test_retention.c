/* test_retention.c — segment rolls (by size before a batch, by age in append and in
 * fl_stream_maintain), retention by age and by bytes, shard stats, and a reader that keeps
 * reading a segment retention deletes under it. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "stream_test_util.h"

#define SEC FL_US_PER_SEC

struct ctx {
    char root[1024];
    char dir[1024];
};

static int setup(void **state)
{
    struct ctx *c = calloc(1, sizeof *c);
    tu_tmpdir(c->root, sizeof c->root, c->dir, sizeof c->dir);
    *state = c;
    return 0;
}

static int teardown(void **state)
{
    struct ctx *c = *state;
    tu_rm_rf(c->root);
    free(c);
    return 0;
}

static fl_stream_shard_stats stats(fl_stream *s)
{
    fl_stream_shard_stats st;
    assert_int_equal(fl_stream_shard_stats_get(s, 0, &st), 0);
    return st;
}

static void roll_by_size(void **state)
{
    struct ctx *c = *state;
    fl_stream_options o = tu_options(c->dir, 1);
    o.segment_bytes = 1024;
    fl_stream *s = NULL;
    assert_int_equal(fl_stream_open(&o, &s, NULL), 0);
    for (int i = 1; i <= 50; i++)
        assert_int_equal(tu_append_one(s, 0, i, i * SEC, NULL), 0);
    fl_stream_shard_stats st = stats(s);
    assert_int_equal(st.records, 50);
    assert_true(st.segments >= 3);
    char sdir[PATH_MAX];
    snprintf(sdir, sizeof sdir, "%s/shard-0000", c->dir);
    assert_int_equal(tu_count_files(sdir, ".seg"), (int)st.segments);
    /* every segment stays within segment_bytes (each batch is far smaller) */
    DIR *d = opendir(sdir);
    struct dirent *e;
    int64_t total = 0;
    while ((e = readdir(d))) {
        char p[PATH_MAX + 300];
        if (e->d_name[0] == '.')
            continue;
        snprintf(p, sizeof p, "%s/%s", sdir, e->d_name);
        int64_t sz = tu_file_size(p);
        assert_in_range(sz, 0, 1024);
        total += sz;
    }
    closedir(d);
    assert_int_equal(total, (int64_t)st.bytes);
    assert_int_equal(fl_stream_close(s), 0);
}

static void roll_by_age(void **state)
{
    struct ctx *c = *state;
    fl_stream_options o = tu_options(c->dir, 1);
    o.segment_age_us = 10 * SEC;
    fl_stream *s = NULL;
    int64_t t0 = 1700000000 * SEC;
    assert_int_equal(fl_stream_open(&o, &s, NULL), 0);
    assert_int_equal(tu_append_one(s, 0, 1, t0, NULL), 0);
    assert_int_equal(tu_append_one(s, 0, 2, t0 + 5 * SEC, NULL), 0);
    assert_int_equal(stats(s).segments, 1);
    /* the append itself seals a segment whose first record is too old */
    assert_int_equal(tu_append_one(s, 0, 3, t0 + 11 * SEC, NULL), 0);
    assert_int_equal(stats(s).segments, 2);
    /* maintain seals it too, leaving an empty active segment */
    assert_int_equal(fl_stream_maintain(s, t0 + 15 * SEC), 0);
    assert_int_equal(stats(s).segments, 2);
    assert_int_equal(fl_stream_maintain(s, t0 + 22 * SEC), 0);
    assert_int_equal(stats(s).segments, 3);
    /* an empty active segment is never sealed */
    assert_int_equal(fl_stream_maintain(s, t0 + 100 * SEC), 0);
    assert_int_equal(stats(s).segments, 3);
    uint64_t seq;
    assert_int_equal(tu_append_one(s, 0, 4, t0 + 101 * SEC, &seq), 0);
    assert_int_equal(seq, 4);
    assert_int_equal(tu_count_from(s, 0, FL_STREAM_TRIM_HORIZON, 0, NULL, 0), 4);
    assert_int_equal(fl_stream_close(s), 0);
}

static void retention_by_age(void **state)
{
    struct ctx *c = *state;
    fl_stream_options o = tu_options(c->dir, 1);
    o.segment_age_us = 50 * SEC;
    o.retention_age_us = 60 * SEC;
    fl_stream *s = NULL;
    int64_t t0 = 1700000000 * SEC;
    assert_int_equal(fl_stream_open(&o, &s, NULL), 0);
    for (int i = 1; i <= 5; i++) /* segment 1: seqs 1-5 at t0 */
        assert_int_equal(tu_append_one(s, 0, i, t0, NULL), 0);
    for (int i = 6; i <= 8; i++) /* segment 2: seqs 6-8 at t0+100s */
        assert_int_equal(tu_append_one(s, 0, i, t0 + 100 * SEC, NULL), 0);
    assert_int_equal(tu_append_one(s, 0, 9, t0 + 200 * SEC, NULL), 0); /* segment 3 */
    assert_int_equal(stats(s).segments, 3);

    /* a reader in the first segment keeps going after it is deleted */
    fl_stream_reader *r = NULL;
    fl_stream_record rec;
    assert_int_equal(fl_stream_reader_open(s, 0, FL_STREAM_TRIM_HORIZON, 0, &r), 0);
    assert_int_equal(fl_stream_reader_next(r, &rec), 1);
    assert_int_equal(rec.seq, 1);

    assert_int_equal(fl_stream_maintain(s, t0 + 130 * SEC), 0);
    fl_stream_shard_stats st = stats(s);
    assert_int_equal(st.segments, 2);
    assert_int_equal(st.first_seq, 6);
    assert_int_equal(st.last_seq, 9);
    assert_int_equal(st.records, 4);
    char first[PATH_MAX];
    snprintf(first, sizeof first, "%s/shard-0000/%020d.seg", c->dir, 1);
    assert_int_equal(tu_file_size(first), -1);

    uint64_t seqs[16];
    assert_int_equal(tu_drain(r, seqs, 16), 8);
    assert_int_equal(seqs[0], 2);
    assert_int_equal(seqs[7], 9);
    fl_stream_reader_close(r);
    /* new readers skip to the oldest retained record */
    assert_int_equal(tu_count_from(s, 0, FL_STREAM_TRIM_HORIZON, 0, seqs, 16), 4);
    assert_int_equal(seqs[0], 6);
    assert_int_equal(tu_count_from(s, 0, FL_STREAM_AT_SEQUENCE_NUMBER, 2, seqs, 16), 4);
    assert_int_equal(seqs[0], 6);

    /* the active segment is never deleted, however old: maintain seals it first */
    assert_int_equal(fl_stream_maintain(s, t0 + 1000 * SEC), 0);
    st = stats(s);
    assert_int_equal(st.segments, 1);
    assert_int_equal(st.records, 0);
    assert_int_equal(st.first_seq, 0);
    assert_int_equal(fl_stream_close(s), 0);

    /* numbering survives deleting everything */
    assert_int_equal(fl_stream_open(&o, &s, NULL), 0);
    uint64_t seq;
    assert_int_equal(tu_append_one(s, 0, 10, t0 + 1001 * SEC, &seq), 0);
    assert_int_equal(seq, 10);
    assert_int_equal(fl_stream_close(s), 0);
}

static void retention_by_bytes(void **state)
{
    struct ctx *c = *state;
    fl_stream_options o = tu_options(c->dir, 1);
    o.segment_bytes = 1024;
    o.retention_bytes = 2048;
    fl_stream *s = NULL;
    int64_t t0 = 1700000000 * SEC;
    assert_int_equal(fl_stream_open(&o, &s, NULL), 0);
    for (int i = 1; i <= 100; i++)
        assert_int_equal(tu_append_one(s, 0, i, t0, NULL), 0);
    fl_stream_shard_stats before = stats(s);
    assert_true(before.bytes > 4096);
    assert_int_equal(fl_stream_maintain(s, t0), 0);
    fl_stream_shard_stats st = stats(s);
    assert_true(st.bytes <= 2048);
    assert_true(st.segments >= 2);
    assert_true(st.segments < before.segments);
    assert_int_equal(st.last_seq, 100);
    assert_true(st.first_seq > 1);
    assert_int_equal(st.records, st.last_seq - st.first_seq + 1);
    uint64_t seqs[128];
    assert_int_equal(tu_count_from(s, 0, FL_STREAM_TRIM_HORIZON, 0, seqs, 128), (long)st.records);
    assert_int_equal(seqs[0], st.first_seq);
    assert_int_equal(fl_stream_close(s), 0);

    /* reopen sees the same retained range */
    assert_int_equal(fl_stream_open(&o, &s, NULL), 0);
    fl_stream_shard_stats again = stats(s);
    assert_int_equal(again.first_seq, st.first_seq);
    assert_int_equal(again.last_seq, 100);
    assert_int_equal(again.bytes, st.bytes);
    assert_int_equal(fl_stream_close(s), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(roll_by_size, setup, teardown),
        cmocka_unit_test_setup_teardown(roll_by_age, setup, teardown),
        cmocka_unit_test_setup_teardown(retention_by_age, setup, teardown),
        cmocka_unit_test_setup_teardown(retention_by_bytes, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
