/* fuzz_segment.c — libFuzzer harness for the embedded log's segment reader and recovery.
 * The input bytes become the only segment file of a one-shard stream; the harness opens it
 * read-only and reads every record, then opens it read-write (recovery: truncation or
 * quarantine) and reads again, then appends one record. Invariants checked: no crash or
 * leak (sanitizers), sequence numbers strictly increasing, reads agree with the shard's
 * stats, recovery never loses a record the read-only pass returned unless it quarantined
 * the segment, and a new append continues after every seq seen. */
#include <dirent.h>
#include <fcntl.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "stream/stream.h"

static char root[512]; /* short, so every derived path fits in PATH_MAX */

#define CHECK(cond)                                                                                \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            fprintf(stderr, "invariant failed: %s (%s:%d)\n", #cond, __FILE__, __LINE__);        \
            abort();                                                                               \
        }                                                                                          \
    } while (0)

static void rm_rf(const char *path)
{
    DIR *d = opendir(path);
    if (!d) {
        unlink(path);
        return;
    }
    struct dirent *e;
    while ((e = readdir(d))) {
        if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
            continue;
        char sub[PATH_MAX + 256];
        snprintf(sub, sizeof sub, "%s/%s", path, e->d_name);
        rm_rf(sub);
    }
    closedir(d);
    rmdir(path);
}

static void write_file(const char *path, const void *p, size_t n)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    CHECK(fd >= 0);
    CHECK(write(fd, p, n) == (ssize_t)n);
    close(fd);
}

static void remove_root(void)
{
    rm_rf(root);
}

static void setup_root(void)
{
    if (root[0])
        return;
    const char *base = access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp";
    snprintf(root, sizeof root, "%s/fuzz-segment-XXXXXX", base);
    CHECK(mkdtemp(root) != NULL);
    atexit(remove_root);
}

/* Read the shard from the start; returns the count, *last the last seq (0 if none). */
static long read_all(fl_stream *s, uint64_t *last, int *err)
{
    fl_stream_reader *r = NULL;
    CHECK(fl_stream_reader_open(s, 0, FL_STREAM_TRIM_HORIZON, 0, &r) == 0);
    fl_stream_record rec;
    long n = 0;
    int rc;
    *last = 0;
    while ((rc = fl_stream_reader_next(r, &rec)) == 1) {
        CHECK(rec.seq > *last);
        CHECK(rec.shard == 0);
        *last = rec.seq;
        n++;
    }
    fl_stream_reader_close(r);
    *err = rc;
    return n;
}

static fl_stream_options options(const char *dir, int read_only)
{
    fl_stream_options o = {.dir = dir,
                           .shard_count = 1,
                           .read_only = read_only,
                           .durability = FL_DURABILITY_OS,
                           .segment_bytes = 1 << 20,
                           .segment_age_us = INT64_C(3600000000),
                           .retention_age_us = INT64_C(86400000000),
                           .retention_bytes = INT64_C(1) << 30,
                           .max_batch_bytes = 1 << 16};
    return o;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    setup_root();
    char dir[PATH_MAX], path[PATH_MAX + 64];
    snprintf(dir, sizeof dir, "%s/s", root);
    rm_rf(dir);
    CHECK(mkdir(dir, 0755) == 0);
    snprintf(path, sizeof path, "%s/manifest", dir);
    const char *manifest = "fleetlake-stream\nformat_version=1\nshard_count=1\n";
    write_file(path, manifest, strlen(manifest));
    snprintf(path, sizeof path, "%s/shard-0000", dir);
    CHECK(mkdir(path, 0755) == 0);
    snprintf(path, sizeof path, "%s/shard-0000/00000000000000000001.seg", dir);
    write_file(path, data, size);

    /* read-only: stops at the first incomplete or bad batch of the (last) segment */
    fl_stream_options o = options(dir, 1);
    fl_stream *s = NULL;
    CHECK(fl_stream_open(&o, &s, NULL) == 0);
    uint64_t ro_last;
    int ro_err;
    long ro_n = read_all(s, &ro_last, &ro_err);
    CHECK(ro_err == 0); /* the only segment is the active one: a problem is "not yet written" */
    fl_stream_shard_stats st;
    CHECK(fl_stream_shard_stats_get(s, 0, &st) == 0);
    CHECK(st.records == (uint64_t)ro_n);
    CHECK(ro_n == 0 || (st.first_seq == 1 && st.last_seq == ro_last));
    CHECK(fl_stream_close(s) == 0);

    /* read-write: recovery truncates a torn tail or quarantines a damaged segment */
    o = options(dir, 0);
    fl_stream_recovery_report rep;
    CHECK(fl_stream_open(&o, &s, &rep) == 0);
    uint64_t rw_last;
    int rw_err;
    long rw_n = read_all(s, &rw_last, &rw_err);
    CHECK(rw_err == 0);
    if (rep.quarantined_segments == 0) {
        CHECK(rw_n == ro_n && rw_last == ro_last);
        CHECK(rep.truncated_bytes == (uint64_t)size - st.bytes);
    } else {
        CHECK(rep.quarantined_segments == 1 && rw_n == 0 && rep.first_problem[0]);
    }
    fl_stream_entry e = {.shard = 0, .kind = FL_STREAM_KIND_BLOB,
                         .partition_key = {"k", 1}, .payload = {"v", 1}};
    CHECK(fl_stream_append(s, &e, 1, 1) == 0);
    CHECK(e.seq > ro_last);
    uint64_t after_last;
    int after_err;
    CHECK(read_all(s, &after_last, &after_err) == rw_n + 1 && after_err == 0);
    CHECK(after_last == e.seq);
    CHECK(fl_stream_close(s) == 0);
    rm_rf(dir);
    return 0;
}
