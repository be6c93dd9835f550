/* stream_test_util.h — helpers shared by the stream unit tests: scratch directories under
 * $FL_TEST_TMP (or /tmp), default options, appending simple keyed records and draining a
 * reader. Header-only so each test_*.c stays one self-contained cmocka executable. */
#ifndef FL_TESTS_STREAM_TEST_UTIL_H
#define FL_TESTS_STREAM_TEST_UTIL_H

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "stream/stream.h"

static inline void tu_rm_rf(const char *path)
{
    DIR *d = opendir(path);
    if (d) {
        struct dirent *e;
        while ((e = readdir(d))) {
            if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
                continue;
            char sub[PATH_MAX];
            if (snprintf(sub, sizeof sub, "%s/%s", path, e->d_name) >= (int)sizeof sub)
                abort(); /* test scratch paths are short */
            tu_rm_rf(sub);
        }
        closedir(d);
        rmdir(path);
    } else {
        unlink(path);
    }
}

/* A fresh scratch directory; path receives "<tmp>/stream-XXXXXX/s" (the stream dir, not
 * created). */
static inline void tu_tmpdir(char *root, size_t rootlen, char *path, size_t n)
{
    const char *base = getenv("FL_TEST_TMP");
    if (!base || !*base)
        base = "/tmp";
    mkdir(base, 0755);
    snprintf(root, rootlen, "%s/stream-XXXXXX", base);
    if (!mkdtemp(root))
        abort();
    if (snprintf(path, n, "%s/s", root) >= (int)n)
        abort();
}

static inline fl_stream_options tu_options(const char *dir, uint32_t shards)
{
    fl_stream_options o = {
        .dir = dir,
        .shard_count = shards,
        .durability = FL_DURABILITY_FSYNC,
        .segment_bytes = 64 << 20,
        .segment_age_us = INT64_C(3600) * FL_US_PER_SEC,
        .retention_age_us = INT64_C(86400) * FL_US_PER_SEC,
        .retention_bytes = INT64_C(1) << 40,
        .max_batch_bytes = 1 << 20,
    };
    return o;
}

/* Append one record with key "key-<i>" and payload "payload-<i>" to shard. Returns rc. */
static inline int tu_append_one(fl_stream *s, uint32_t shard, int i, int64_t arrival_us,
                                uint64_t *seq)
{
    char key[32], payload[64];
    snprintf(key, sizeof key, "key-%d", i);
    snprintf(payload, sizeof payload, "payload-%d", i);
    fl_stream_entry e = {.shard = shard,
                         .kind = FL_STREAM_KIND_BLOB,
                         .partition_key = fl_slice_from_cstr(key),
                         .payload = fl_slice_from_cstr(payload)};
    int rc = fl_stream_append(s, &e, 1, arrival_us);
    if (seq)
        *seq = e.seq;
    return rc ? rc : e.result;
}

/* Drain a reader: collects up to max seqs, returns the count, or the negative error. */
static inline long tu_drain(fl_stream_reader *r, uint64_t *seqs, size_t max)
{
    long n = 0;
    fl_stream_record rec;
    int rc;
    while ((rc = fl_stream_reader_next(r, &rec)) == 1) {
        if ((size_t)n < max && seqs)
            seqs[n] = rec.seq;
        n++;
    }
    return rc < 0 ? rc : n;
}

static inline long tu_count_from(fl_stream *s, uint32_t shard, enum fl_stream_start start,
                                 uint64_t value, uint64_t *seqs, size_t max)
{
    fl_stream_reader *r = NULL;
    int rc = fl_stream_reader_open(s, shard, start, value, &r);
    if (rc)
        return rc;
    long n = tu_drain(r, seqs, max);
    fl_stream_reader_close(r);
    return n;
}

static inline int64_t tu_file_size(const char *path)
{
    struct stat st;
    return stat(path, &st) ? -1 : (int64_t)st.st_size;
}

/* Number of *.seg files in dir. */
static inline int tu_count_files(const char *dir, const char *suffix)
{
    DIR *d = opendir(dir);
    if (!d)
        return 0;
    int n = 0;
    struct dirent *e;
    size_t sl = strlen(suffix);
    while ((e = readdir(d))) {
        size_t l = strlen(e->d_name);
        if (l >= sl && !strcmp(e->d_name + l - sl, suffix))
            n++;
    }
    closedir(d);
    return n;
}

#endif
