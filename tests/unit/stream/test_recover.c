/* test_recover.c — recovery of the embedded log on open: a torn tail of the active segment
 * is cut and counted, corruption in sealed data is quarantined and reported and never served,
 * sequence numbers continue after the highest valid one, and a read-only open changes nothing
 * on disk while it follows a writer in the same directory. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "stream_test_util.h"

struct ctx {
    char root[1024]; /* well below PATH_MAX so derived paths always fit */
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

static void seg_path(const struct ctx *c, uint32_t shard, uint64_t base, char *out, size_t n)
{
    snprintf(out, n, "%s/shard-%04u/%020" PRIu64 ".seg", c->dir, shard, base);
}

static void file_append(const char *path, const void *p, size_t n)
{
    int fd = open(path, O_WRONLY | O_APPEND);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, p, n), (ssize_t)n);
    close(fd);
}

static void file_read(const char *path, void *p, size_t n, off_t off)
{
    int fd = open(path, O_RDONLY);
    assert_true(fd >= 0);
    assert_int_equal(pread(fd, p, n, off), (ssize_t)n);
    close(fd);
}

static void flip_byte(const char *path, off_t off)
{
    unsigned char b;
    int fd = open(path, O_RDWR);
    assert_true(fd >= 0);
    assert_int_equal(pread(fd, &b, 1, off), 1);
    b ^= 0x10;
    assert_int_equal(pwrite(fd, &b, 1, off), 1);
    close(fd);
}

static fl_stream *open_ok(const fl_stream_options *o, fl_stream_recovery_report *rep)
{
    fl_stream *s = NULL;
    assert_int_equal(fl_stream_open(o, &s, rep), 0);
    assert_non_null(s);
    return s;
}

static void fill(fl_stream *s, uint32_t shard, int from, int to)
{
    for (int i = from; i <= to; i++)
        assert_int_equal(tu_append_one(s, shard, i, 1000 * i, NULL), 0);
}

static void torn_tail_is_truncated(void **state)
{
    struct ctx *c = *state;
    fl_stream_options o = tu_options(c->dir, 2);
    fl_stream *s = open_ok(&o, NULL);
    fill(s, 0, 1, 10);
    fill(s, 1, 1, 3);
    assert_int_equal(fl_stream_close(s), 0);

    char path[PATH_MAX];
    seg_path(c, 0, 1, path, sizeof path);
    int64_t good = tu_file_size(path);
    /* a partial batch: the first 60 bytes of a real batch (header + part of its payload) */
    unsigned char partial[60];
    file_read(path, partial, sizeof partial, 0);
    file_append(path, partial, sizeof partial);
    assert_int_equal(tu_file_size(path), good + 60);

    fl_stream_recovery_report rep;
    s = open_ok(&o, &rep);
    assert_int_equal(rep.truncated_bytes, 60);
    assert_int_equal(rep.quarantined_segments, 0);
    assert_non_null(strstr(rep.first_problem, "shard-0000/00000000000000000001.seg"));
    assert_int_equal(tu_file_size(path), good);
    uint64_t seqs[32];
    assert_int_equal(tu_count_from(s, 0, FL_STREAM_TRIM_HORIZON, 0, seqs, 32), 10);
    assert_int_equal(seqs[9], 10);
    uint64_t seq;
    assert_int_equal(tu_append_one(s, 0, 11, 11000, &seq), 0);
    assert_int_equal(seq, 11);
    assert_int_equal(tu_count_from(s, 1, FL_STREAM_TRIM_HORIZON, 0, NULL, 0), 3);
    assert_int_equal(fl_stream_close(s), 0);

    /* garbage that is not even a header is a torn tail too */
    good = tu_file_size(path);
    unsigned char junk[100];
    for (int i = 0; i < 100; i++)
        junk[i] = (unsigned char)(i * 37 + 11);
    file_append(path, junk, sizeof junk);
    s = open_ok(&o, &rep);
    assert_int_equal(rep.truncated_bytes, 100);
    assert_int_equal(tu_file_size(path), good);
    assert_int_equal(tu_count_from(s, 0, FL_STREAM_TRIM_HORIZON, 0, NULL, 0), 11);
    assert_int_equal(tu_append_one(s, 0, 12, 12000, &seq), 0);
    assert_int_equal(seq, 12);
    assert_int_equal(fl_stream_close(s), 0);
}

/* Makes a shard with several sealed segments; returns the last seq of the first one. */
static uint64_t make_segments(const struct ctx *c, fl_stream_options *o, int records)
{
    o->segment_bytes = 1024;
    fl_stream *s = open_ok(o, NULL);
    fill(s, 0, 1, records);
    fl_stream_shard_stats st;
    assert_int_equal(fl_stream_shard_stats_get(s, 0, &st), 0);
    assert_true(st.segments >= 3);
    assert_int_equal(fl_stream_close(s), 0);
    /* find where the second segment starts: the first record it holds */
    DIR *d;
    char sdir[PATH_MAX];
    snprintf(sdir, sizeof sdir, "%s/shard-0000", c->dir);
    assert_non_null(d = opendir(sdir));
    uint64_t second = UINT64_MAX;
    struct dirent *e;
    while ((e = readdir(d))) {
        uint64_t v = strtoull(e->d_name, NULL, 10);
        if (v > 1 && v < second)
            second = v;
    }
    closedir(d);
    return second - 1;
}

static void bit_flip_in_sealed_segment_is_quarantined(void **state)
{
    struct ctx *c = *state;
    fl_stream_options o = tu_options(c->dir, 1);
    uint64_t first_last = make_segments(c, &o, 60);
    char path[PATH_MAX], qdir[PATH_MAX];
    seg_path(c, 0, 1, path, sizeof path);
    int64_t size = tu_file_size(path);
    flip_byte(path, 100); /* inside the first or second batch's payload */

    fl_stream_recovery_report rep;
    fl_stream *s = open_ok(&o, &rep);
    assert_int_equal(rep.quarantined_segments, 1);
    assert_int_equal(rep.quarantined_bytes, (uint64_t)size);
    assert_int_equal(rep.truncated_bytes, 0);
    assert_non_null(strstr(rep.first_problem, "shard-0000/00000000000000000001.seg"));
    assert_non_null(strstr(rep.first_problem, "CRC mismatch"));
    assert_int_equal(tu_file_size(path), -1);
    snprintf(qdir, sizeof qdir, "%s/quarantine", c->dir);
    assert_int_equal(tu_count_files(qdir, ".seg"), 1);

    /* its records are never served; the rest are */
    uint64_t seqs[128];
    long n = tu_count_from(s, 0, FL_STREAM_TRIM_HORIZON, 0, seqs, 128);
    assert_int_equal(n, 60 - (long)first_last);
    assert_int_equal(seqs[0], first_last + 1);
    assert_int_equal(tu_count_from(s, 0, FL_STREAM_AT_SEQUENCE_NUMBER, 1, seqs, 128), n);
    assert_int_equal(seqs[0], first_last + 1);
    fl_stream_shard_stats st;
    assert_int_equal(fl_stream_shard_stats_get(s, 0, &st), 0);
    assert_int_equal(st.first_seq, first_last + 1);
    assert_int_equal(st.last_seq, 60);
    uint64_t seq;
    assert_int_equal(tu_append_one(s, 0, 61, 61000, &seq), 0);
    assert_int_equal(seq, 61);
    assert_int_equal(fl_stream_close(s), 0);

    /* reopening finds nothing new to do */
    s = open_ok(&o, &rep);
    assert_int_equal(rep.quarantined_segments, 0);
    assert_int_equal(rep.truncated_bytes, 0);
    assert_int_equal(fl_stream_close(s), 0);
}

static void corruption_before_valid_data_in_last_segment(void **state)
{
    struct ctx *c = *state;
    fl_stream_options o = tu_options(c->dir, 1);
    fl_stream *s = open_ok(&o, NULL);
    fill(s, 0, 1, 5);
    assert_int_equal(fl_stream_close(s), 0);
    char path[PATH_MAX];
    seg_path(c, 0, 1, path, sizeof path);
    flip_byte(path, 50); /* first batch's payload; four good batches follow */
    fl_stream_recovery_report rep;
    s = open_ok(&o, &rep);
    assert_int_equal(rep.quarantined_segments, 1);
    assert_int_equal(rep.truncated_bytes, 0);
    assert_int_equal(tu_count_from(s, 0, FL_STREAM_TRIM_HORIZON, 0, NULL, 0), 0);
    uint64_t seq;
    /* numbering continues past every seq the quarantined segment held: no reuse */
    assert_int_equal(tu_append_one(s, 0, 6, 6000, &seq), 0);
    assert_int_equal(seq, 6);
    assert_int_equal(tu_count_from(s, 0, FL_STREAM_TRIM_HORIZON, 0, NULL, 0), 1);
    assert_int_equal(fl_stream_close(s), 0);
}

static void read_only_open_changes_nothing(void **state)
{
    struct ctx *c = *state;
    fl_stream_options o = tu_options(c->dir, 1);
    uint64_t first_last = make_segments(c, &o, 40);
    char first[PATH_MAX], sdir[PATH_MAX];
    seg_path(c, 0, 1, first, sizeof first);
    snprintf(sdir, sizeof sdir, "%s/shard-0000", c->dir);
    /* find the last segment: the highest name */
    DIR *d = opendir(sdir);
    uint64_t lastbase = 0;
    struct dirent *e;
    while ((e = readdir(d))) {
        uint64_t v = strtoull(e->d_name, NULL, 10);
        if (v > lastbase)
            lastbase = v;
    }
    closedir(d);
    char last[PATH_MAX];
    seg_path(c, 0, lastbase, last, sizeof last);
    unsigned char junk[30] = {0x46, 0x4c, 0x42, 0x31}; /* a header's start: incomplete */
    file_append(last, junk, sizeof junk);
    int64_t last_size = tu_file_size(last), first_size = tu_file_size(first);
    int nseg = tu_count_files(sdir, ".seg");

    fl_stream_options ro = o;
    ro.read_only = 1;
    ro.shard_count = 0; /* a reader that does not know the shard count */
    fl_stream_recovery_report rep;
    fl_stream *s = open_ok(&ro, &rep);
    assert_int_equal(fl_stream_shard_count(s), 1);
    assert_int_equal(rep.truncated_bytes, 0);
    uint64_t seqs[64];
    assert_int_equal(tu_count_from(s, 0, FL_STREAM_TRIM_HORIZON, 0, seqs, 64), 40);
    assert_int_equal(seqs[39], 40);
    assert_int_equal(tu_append_one(s, 0, 1, 1, NULL), FL_EUNSUPPORTED);
    assert_int_equal(fl_stream_maintain(s, INT64_MAX / 2), 0);
    assert_int_equal(fl_stream_close(s), 0);
    assert_int_equal(tu_file_size(last), last_size);

    /* a bit flip in a sealed segment: the read-only reader reports it, moves nothing */
    flip_byte(first, 100);
    s = open_ok(&ro, &rep);
    assert_int_equal(rep.quarantined_segments, 0);
    fl_stream_reader *r = NULL;
    assert_int_equal(fl_stream_reader_open(s, 0, FL_STREAM_TRIM_HORIZON, 0, &r), 0);
    fl_stream_record rec;
    int rc;
    long got = 0;
    while ((rc = fl_stream_reader_next(r, &rec)) == 1) {
        assert_true(rec.seq <= first_last);
        got++;
    }
    assert_int_equal(rc, FL_ECORRUPT);
    assert_true(got < (long)first_last);
    assert_int_equal(fl_stream_reader_next(r, &rec), FL_ECORRUPT); /* skips nothing */
    fl_stream_reader_close(r);
    /* readers that start after the damage are fine */
    assert_int_equal(tu_count_from(s, 0, FL_STREAM_AFTER_SEQUENCE_NUMBER, first_last, NULL, 0),
                     40 - (long)first_last);
    assert_int_equal(fl_stream_close(s), 0);

    /* damage in the very first batch: nothing of the segment is readable, and the reader
     * must still stop there with FL_ECORRUPT rather than start at the next segment */
    flip_byte(first, 100); /* undo */
    flip_byte(first, 10);  /* inside the first batch header */
    s = open_ok(&ro, &rep);
    assert_int_equal(fl_stream_reader_open(s, 0, FL_STREAM_TRIM_HORIZON, 0, &r), 0);
    assert_int_equal(fl_stream_reader_next(r, &rec), FL_ECORRUPT);
    fl_stream_reader_close(r);
    assert_int_equal(fl_stream_reader_open(s, 0, FL_STREAM_AT_TIMESTAMP, 0, &r), 0);
    assert_int_equal(fl_stream_reader_next(r, &rec), FL_ECORRUPT);
    fl_stream_reader_close(r);
    assert_int_equal(fl_stream_close(s), 0);
    assert_int_equal(tu_file_size(first), first_size);
    assert_int_equal(tu_file_size(last), last_size);
    assert_int_equal(tu_count_files(sdir, ".seg"), nseg);
    char qdir[PATH_MAX];
    snprintf(qdir, sizeof qdir, "%s/quarantine", c->dir);
    assert_int_equal(tu_count_files(qdir, ".seg"), 0);
}

static void read_only_follows_a_writer(void **state)
{
    struct ctx *c = *state;
    fl_stream_options o = tu_options(c->dir, 1);
    o.segment_bytes = 1024;
    fl_stream *w = open_ok(&o, NULL);
    fill(w, 0, 1, 5);
    fl_stream_options ro = o;
    ro.read_only = 1;
    fl_stream *s = open_ok(&ro, NULL);
    fl_stream_reader *r = NULL;
    assert_int_equal(fl_stream_reader_open(s, 0, FL_STREAM_TRIM_HORIZON, 0, &r), 0);
    fl_stream_record rec;
    uint64_t expect = 1;
    int rc;
    for (int round = 0; round < 5; round++) {
        while ((rc = fl_stream_reader_next(r, &rec)) == 1)
            assert_int_equal(rec.seq, expect++);
        assert_int_equal(rc, 0);
        fill(w, 0, 6 + round * 20, 25 + round * 20); /* rolls several segments */
    }
    while ((rc = fl_stream_reader_next(r, &rec)) == 1)
        assert_int_equal(rec.seq, expect++);
    assert_int_equal(expect, 106);
    fl_stream_shard_stats st;
    assert_int_equal(fl_stream_shard_stats_get(s, 0, &st), 0);
    assert_int_equal(st.last_seq, 105);
    fl_stream_reader_close(r);
    assert_int_equal(fl_stream_close(s), 0);

    /* a second writer on the same directory is refused */
    fl_stream *w2 = NULL;
    assert_int_equal(fl_stream_open(&o, &w2, NULL), FL_EAGAIN);
    assert_int_equal(fl_stream_close(w), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(torn_tail_is_truncated, setup, teardown),
        cmocka_unit_test_setup_teardown(bit_flip_in_sealed_segment_is_quarantined, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(corruption_before_valid_data_in_last_segment, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(read_only_open_changes_nothing, setup, teardown),
        cmocka_unit_test_setup_teardown(read_only_follows_a_writer, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
