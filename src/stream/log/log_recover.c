/* log_recover.c — loading a shard's segments from disk: validating every batch when a
 * stream opens, cutting the torn unsynced tail of the active segment, moving damaged
 * segments to quarantine/, and (for read-only streams opened by another process) picking up
 * what the writer appended since the last look. It runs before any append or read, so what
 * it leaves in memory is the ground truth the rest of the log builds on. Segments are read
 * in big windows (one pread per MiB) and each batch's CRC is checked in place. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "stream/stream_int.h"

/* One read per MiB keeps recovery CPU-bound on the CRC rather than on syscalls, and bounds
 * the memory a scan uses except for a single batch larger than that. */
#define SCAN_WINDOW_BYTES (1u << 20)

struct window {
    int fd;
    int64_t size;
    unsigned char *buf;
    size_t cap;
    int64_t off;
    size_t len;
};

/* Make [off, off+n) available at *p: 1 if it is, 0 if it runs past the end, or -errno. */
static int window_get(struct window *w, int64_t off, size_t n, const unsigned char **p)
{
    if (off < 0 || (int64_t)n > w->size - off)
        return 0;
    if (off >= w->off && off + (int64_t)n <= w->off + (int64_t)w->len) {
        *p = w->buf + (off - w->off);
        return 1;
    }
    size_t want = n > SCAN_WINDOW_BYTES ? n : SCAN_WINDOW_BYTES;
    if ((int64_t)want > w->size - off)
        want = (size_t)(w->size - off);
    if (want > w->cap) {
        unsigned char *nb = fl_realloc(w->buf, want);
        if (!nb)
            return FL_ENOMEM;
        w->buf = nb;
        w->cap = want;
    }
    w->len = 0;
    ssize_t r = fl_fs_pread_full(w->fd, w->buf, want, off);
    if (r < 0)
        return (int)r;
    w->off = off;
    w->len = (size_t)r;
    if ((size_t)r < n)
        return 0; /* the file shrank under us: treat as incomplete */
    *p = w->buf;
    return 1;
}

/* The batch at off: 1 if good (*h filled), 0 if it runs past the end, FL_ECORRUPT if it
 * fails validation (*what says how), or another negative error. */
static int batch_at(struct window *w, int64_t off, fl_log_batch_header *h, const char **what)
{
    const unsigned char *p = NULL;
    int rc = window_get(w, off, FL_LOG_BATCH_HEADER_BYTES, &p);
    if (rc <= 0) {
        *what = "incomplete batch header";
        return rc;
    }
    if (fl_log_batch_header_decode(p, h)) {
        *what = "bad batch header";
        return FL_ECORRUPT;
    }
    rc = window_get(w, off, FL_LOG_BATCH_HEADER_BYTES + (size_t)h->payload_bytes, &p);
    if (rc <= 0) {
        *what = "incomplete batch";
        return rc;
    }
    if (fl_log_batch_verify(p, h, p + FL_LOG_BATCH_HEADER_BYTES)) {
        *what = "CRC mismatch";
        return FL_ECORRUPT;
    }
    return 1;
}

static void scan_account(fl_log_scan *out, const fl_log_batch_header *h)
{
    if (!out->records) {
        out->min_arrival_us = h->min_arrival_us;
        out->max_arrival_us = h->max_arrival_us;
        out->first_arrival_us = h->min_arrival_us;
    }
    if (h->min_arrival_us < out->min_arrival_us)
        out->min_arrival_us = h->min_arrival_us;
    if (h->max_arrival_us > out->max_arrival_us)
        out->max_arrival_us = h->max_arrival_us;
    out->records += h->record_count;
    out->last_seq = h->first_seq + h->record_count - 1;
}

/* After a problem at from: is there a good batch later in the file? Then the problem is not
 * a torn tail (writes are sequential and stop at the first error, invariant 4). */
static int search_after(struct window *w, int64_t from, uint64_t last_seq, fl_log_scan *out)
{
    for (int64_t off = from; off <= w->size - FL_LOG_BATCH_HEADER_BYTES;) {
        const unsigned char *p;
        int rc = window_get(w, off, FL_LOG_BATCH_HEADER_BYTES, &p);
        if (rc <= 0)
            return rc;
        if (fl_get_u32(p) != FL_LOG_BATCH_MAGIC) {
            off++;
            continue;
        }
        fl_log_batch_header h;
        const char *what;
        rc = batch_at(w, off, &h, &what);
        if (rc < 0 && rc != FL_ECORRUPT)
            return rc;
        if (rc == 1 && h.first_seq > last_seq) {
            out->valid_after = 1;
            uint64_t top = h.first_seq + h.record_count - 1;
            if (top > out->max_seq_after)
                out->max_seq_after = top;
            off += FL_LOG_BATCH_HEADER_BYTES + (int64_t)h.payload_bytes;
            continue;
        }
        off++;
    }
    return 0;
}

int fl_log_scan_segment(int fd, int64_t start, int64_t file_size, uint64_t expect_seq,
                        int look_past, fl_log_scan *out)
{
    memset(out, 0, sizeof *out);
    out->problem_offset = -1;
    struct window w = {.fd = fd, .size = file_size};
    int64_t off = start;
    int rc = 0;
    while (off < file_size) {
        fl_log_batch_header h;
        const char *what = NULL;
        rc = batch_at(&w, off, &h, &what);
        if (rc == 1 && h.first_seq != expect_seq) {
            rc = FL_ECORRUPT;
            what = "sequence number out of order";
        }
        if (rc < 0 && rc != FL_ECORRUPT)
            goto out;
        if (rc != 1) {
            out->problem = rc == 0 ? FL_LOG_INCOMPLETE : FL_LOG_BAD;
            out->problem_offset = off;
            out->problem_what = what;
            break;
        }
        scan_account(out, &h);
        expect_seq += h.record_count;
        off += FL_LOG_BATCH_HEADER_BYTES + (int64_t)h.payload_bytes;
    }
    out->valid_end = off;
    rc = 0;
    if (out->problem && look_past)
        rc = search_after(&w, off + 1, expect_seq - 1, out);
out:
    fl_free(w.buf);
    return rc;
}

/* ---- loading segments --------------------------------------------------------------------- */

int fl_log_segment_name_parse(const char *name, uint64_t *seq)
{
    uint64_t v = 0;
    for (int i = 0; i < 20; i++) {
        if (name[i] < '0' || name[i] > '9')
            return -1;
        uint64_t d = (uint64_t)(name[i] - '0');
        if (v > (UINT64_MAX - d) / 10)
            return -1;
        v = v * 10 + d;
    }
    if (strcmp(name + 20, ".seg") != 0 || v == 0)
        return -1;
    *seq = v;
    return 0;
}

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

/* Segment base seqs in dir, ascending; caller frees *out. A missing dir is an empty list. */
static int list_segments(const char *dir, uint64_t **out, size_t *count)
{
    *out = NULL;
    *count = 0;
    DIR *d = opendir(dir);
    if (!d)
        return errno == ENOENT ? 0 : -errno;
    size_t cap = 0;
    int rc = 0;
    for (struct dirent *e; (e = readdir(d));) {
        uint64_t seq;
        if (fl_log_segment_name_parse(e->d_name, &seq))
            continue;
        if (*count == cap) {
            size_t ncap = cap ? cap * 2 : 16;
            uint64_t *n = fl_realloc(*out, ncap * sizeof *n);
            if (!n) {
                rc = FL_ENOMEM;
                break;
            }
            *out = n;
            cap = ncap;
        }
        (*out)[(*count)++] = seq;
    }
    closedir(d);
    if (rc) {
        fl_free(*out);
        *out = NULL;
        *count = 0;
        return rc;
    }
    if (*count)
        qsort(*out, *count, sizeof **out, cmp_u64);
    return 0;
}

static void segment_apply_scan(fl_log_segment *seg, const fl_log_scan *sc)
{
    if (sc->records) {
        if (!seg->records) {
            seg->min_arrival_us = sc->min_arrival_us;
            seg->max_arrival_us = sc->max_arrival_us;
            seg->first_arrival_us = sc->first_arrival_us;
        }
        if (sc->min_arrival_us < seg->min_arrival_us)
            seg->min_arrival_us = sc->min_arrival_us;
        if (sc->max_arrival_us > seg->max_arrival_us)
            seg->max_arrival_us = sc->max_arrival_us;
        seg->records += sc->records;
        seg->last_seq = sc->last_seq;
    }
    seg->bytes = sc->valid_end;
}

static int quarantine(fl_stream *s, fl_log_shard *sh, fl_log_segment *seg, int64_t size,
                      const fl_log_scan *sc, fl_stream_recovery_report *report)
{
    char qdir[PATH_MAX], from[PATH_MAX], to[PATH_MAX + 64];
    snprintf(qdir, sizeof qdir, "%s/quarantine", s->dir);
    fl_log_segment_path(sh, seg, from, sizeof from);
    snprintf(to, sizeof to, "%s/shard-%04u-%s", qdir, sh->index, seg->name);
    int rc = fl_fs_mkdir_p(qdir, 0755);
    if (!rc)
        rc = fl_fs->rename(from, to);
    if (!rc)
        rc = fl_fs_fsync_dir(qdir);
    if (!rc)
        rc = fl_fs_fsync_dir(sh->dir);
    if (rc || !report)
        return rc;
    if (!report->quarantined_segments)
        snprintf(report->first_problem, sizeof report->first_problem,
                 "shard-%04u/%s: %s at offset %" PRId64 " (quarantined)", sh->index, seg->name,
                 sc->problem_what ? sc->problem_what : "bad batch", sc->problem_offset);
    report->quarantined_segments++;
    report->quarantined_bytes += (uint64_t)size;
    return 0;
}

static int truncate_tail(fl_log_shard *sh, fl_log_segment *seg, int64_t size,
                         const fl_log_scan *sc, fl_stream_recovery_report *report)
{
    int rc = fl_fs->ftruncate(seg->fd, (off_t)sc->valid_end);
    if (!rc)
        rc = fl_fs->fsync(seg->fd);
    if (rc)
        return rc;
    if (report) {
        report->truncated_bytes += (uint64_t)(size - sc->valid_end);
        if (!report->first_problem[0])
            snprintf(report->first_problem, sizeof report->first_problem,
                     "shard-%04u/%s: %s at offset %" PRId64 " (torn tail, %" PRId64
                     " bytes cut)",
                     sh->index, seg->name, sc->problem_what, sc->problem_offset,
                     size - sc->valid_end);
    }
    return 0;
}

static int file_size(int fd, int64_t *size)
{
    struct stat st;
    if (fstat(fd, &st))
        return -errno;
    *size = (int64_t)st.st_size;
    return 0;
}

/* Decide what a scanned segment becomes (see the notes in log_open.c): kept whole, kept
 * with its torn tail cut, kept up to a corrupt offset (read-only), or quarantined. */
static int segment_settle(fl_stream *s, fl_log_shard *sh, fl_log_segment *seg, int is_last,
                          int64_t size, const fl_log_scan *sc, uint64_t *max_seq,
                          fl_stream_recovery_report *report)
{
    int rc = 0;
    /* a segment named B was created when B was the next seq: every seq below B was used,
     * even if retention or quarantine removed the segments that held them */
    if (seg->base_seq - 1 > *max_seq)
        *max_seq = seg->base_seq - 1;
    if (sc->problem && s->opts.read_only) {
        if (!is_last)
            seg->corrupt_offset = sc->problem_offset;
    } else if (sc->problem && is_last && !sc->valid_after) {
        rc = truncate_tail(sh, seg, size, sc, report);
    } else if (sc->problem) {
        rc = quarantine(s, sh, seg, size, sc, report);
        if (sc->last_seq > *max_seq)
            *max_seq = sc->last_seq;
        if (sc->max_seq_after > *max_seq)
            *max_seq = sc->max_seq_after;
        fl_log_segment_unref(seg);
        return rc;
    }
    if (rc) {
        fl_log_segment_unref(seg);
        return rc;
    }
    if (seg->last_seq > *max_seq)
        *max_seq = seg->last_seq;
    fl_log_shard_push(sh, seg);
    return 0;
}

static int segment_load(fl_stream *s, fl_log_shard *sh, uint64_t base, int is_last,
                        uint64_t *max_seq, fl_stream_recovery_report *report)
{
    char path[PATH_MAX];
    fl_log_segment *seg = fl_log_segment_new(base, -1);
    if (!seg)
        return FL_ENOMEM;
    fl_log_segment_path(sh, seg, path, sizeof path);
    int fd = fl_fs->open(path, s->opts.read_only ? O_RDONLY : O_RDWR | O_APPEND, 0);
    if (fd < 0) {
        fl_free(seg);
        /* a read-only reader races the writer's retention: a vanished file is simply gone */
        return fd == -ENOENT && s->opts.read_only ? 0 : fd;
    }
    seg->fd = fd;
    int64_t size = 0;
    fl_log_scan sc;
    int rc = file_size(fd, &size);
    if (!rc)
        rc = fl_log_scan_segment(fd, 0, size, base, is_last && !s->opts.read_only, &sc);
    if (rc) {
        fl_log_segment_unref(seg);
        return rc;
    }
    segment_apply_scan(seg, &sc);
    seg->scanned_size = size;
    return segment_settle(s, sh, seg, is_last, size, &sc, max_seq, report);
}

/* Make the tail a segment new appends can continue (invariant 1), and durable. */
static int active_prepare(fl_log_shard *sh)
{
    fl_log_segment *tail = sh->tail;
    if (tail) {
        uint64_t expect = tail->records ? tail->last_seq + 1 : tail->base_seq;
        if (expect == sh->next_seq)
            return fl_fs->fdatasync(tail->fd); /* pre-crash page cache becomes durable */
        if (!tail->records) {
            char path[PATH_MAX];
            fl_log_segment_path(sh, tail, path, sizeof path);
            int rc = fl_fs->unlink(path);
            if (rc)
                return rc;
            fl_log_shard_unlink_segment(sh, tail);
        }
    }
    return fl_log_shard_new_segment(sh);
}

int fl_log_shard_recover(fl_stream *s, fl_log_shard *sh, fl_stream_recovery_report *report)
{
    uint64_t *bases = NULL;
    size_t n = 0;
    int rc = 0;
    if (!s->opts.read_only && (rc = fl_fs_mkdir_p(sh->dir, 0755)))
        return rc;
    if ((rc = list_segments(sh->dir, &bases, &n)))
        return rc;
    uint64_t max_seq = 0;
    for (size_t i = 0; i < n && !rc; i++)
        rc = segment_load(s, sh, bases[i], i + 1 == n, &max_seq, report);
    fl_free(bases);
    if (rc)
        return rc;
    sh->next_seq = max_seq + 1;
    if (!s->opts.read_only && (rc = active_prepare(sh)))
        return rc;
    int64_t total = 0;
    for (fl_log_segment *seg = sh->head; seg; seg = seg->next) {
        seg->start_total = total;
        total += seg->bytes;
    }
    sh->written_total = sh->durable_total = total;
    return 0;
}

/* ---- read-only refresh ------------------------------------------------------------------ */

/* Scan what the writer appended to the tail since the last look. sealed: newer segments
 * exist, so a problem that remains is corruption rather than an append in progress. */
static int refresh_tail(fl_log_segment *seg, int sealed)
{
    int64_t size = 0;
    int rc = file_size(seg->fd, &size);
    if (rc)
        return rc;
    if (size == seg->scanned_size && !sealed)
        return 0;
    if (size > seg->bytes && seg->corrupt_offset < 0) {
        fl_log_scan sc;
        uint64_t expect = seg->records ? seg->last_seq + 1 : seg->base_seq;
        if ((rc = fl_log_scan_segment(seg->fd, seg->bytes, size, expect, 0, &sc)))
            return rc;
        segment_apply_scan(seg, &sc);
        if (sc.problem && sealed)
            seg->corrupt_offset = sc.problem_offset;
    }
    seg->scanned_size = size;
    return 0;
}

int fl_log_shard_refresh(fl_stream *s, fl_log_shard *sh)
{
    uint64_t *bases = NULL;
    size_t n = 0;
    int rc = list_segments(sh->dir, &bases, &n);
    if (rc)
        return rc;
    uint64_t tail_base = sh->tail ? sh->tail->base_seq : 0;
    size_t first_new = 0;
    while (first_new < n && bases[first_new] <= tail_base)
        first_new++;
    if (sh->tail)
        rc = refresh_tail(sh->tail, first_new < n);
    uint64_t max_seq = sh->next_seq - 1;
    for (size_t i = first_new; i < n && !rc; i++)
        rc = segment_load(s, sh, bases[i], i + 1 == n, &max_seq, NULL);
    fl_free(bases);
    sh->next_seq = max_seq + 1;
    return rc;
}
