/* log_open.c — the embedded log backend of stream.h: opening, closing and describing a
 * stream directory, and the segment and shard objects the other verb files share
 * (log_recover.c, log_write.c, log_read.c, log_retention.c). Every accepted record passes
 * through here on its way from the gateway to the consumers.
 *
 * NOTES ON THE DESIGN OF THE EMBEDDED LOG
 *
 * On-disk layout
 *   <dir>/manifest                   "fleetlake-stream\nformat_version=1\nshard_count=N\n",
 *                                    written once, atomically (temp + fsync + rename + fsync dir)
 *   <dir>/shard-0000/<seq>.seg       segment files; <seq> is 20 decimal digits, the first
 *                                    sequence number the file holds (or will hold, when empty)
 *   <dir>/quarantine/shard-NNNN-<seq>.seg   sealed segments that failed validation
 *   A segment is a sequence of batches; the batch format is in stream_int.h: a 48-byte header
 *   (magic, lengths, record count, first seq, min/max arrival, CRC32C over header + payload)
 *   followed by records (arrival, kind, u16-length key, u32-length payload; seq implicit).
 *
 * Invariants
 *   1. Sequence numbers of a shard start at 1 and increase by exactly 1 from batch to batch
 *      inside a segment; a segment's first batch starts at the seq in its file name. Across
 *      segments they only increase (a quarantined segment leaves a gap, never a reuse).
 *   2. Only the last segment of a shard (the active one) is ever written; every other
 *      segment is sealed: it was fsynced before its successor was created, so any damage in
 *      it is corruption, never a torn write.
 *   3. A batch is acknowledged only after it is durable: written, and with durability=fsync
 *      covered by a successful fdatasync (durable_total >= its end). Readers in this process
 *      see only durable bytes, so no consumer derives data from a record that could vanish.
 *   4. After a write or fsync error a shard never writes or syncs again until reopened; a
 *      half-written batch therefore stays the last bytes of the file, where recovery cuts it.
 *   5. Recovery never drops a record silently: a torn tail of the active segment is cut and
 *      counted; anything else that fails validation is moved to quarantine/ and reported.
 *   6. The segment list, its metadata and the group-commit counters change only under the
 *      shard lock; segment files are read with pread on fds that live as long as the last
 *      reference (the list's, a reader's, an fsync leader's).
 *
 * Shard state machine
 *   OPEN ──append: encode + write under lock──► written_total grows
 *        ──fsync leader (lock dropped) ok──► durable_total = its snapshot, waiters wake
 *        ──roll (size/age): fsync active, create next, fsync dir──► OPEN
 *        ──any write, fsync, roll or create error──► FAILED
 *   FAILED: appends get FL_ESTOPPED (the append that hit the error gets its -errno); readers
 *   keep reading what was durable; fl_stream_close still closes. Only a reopen (with
 *   recovery) leaves FAILED.
 *
 * A read-only stream (another process reads while `serve` writes) never writes: it stops at
 * the first incomplete batch of the active segment and rescans sizes and the directory when
 * a reader reaches the end (fl_log_shard_refresh). */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>

#include "stream/stream_int.h"

#define MANIFEST_MAX_BYTES 256 /* the manifest is three short lines */

/* ---- segments and shards --------------------------------------------------------------------- */

fl_log_segment *fl_log_segment_new(uint64_t base_seq, int fd)
{
    fl_log_segment *seg = fl_calloc(1, sizeof *seg);
    if (!seg)
        return NULL;
    seg->refs = 1;
    seg->fd = fd;
    seg->base_seq = base_seq;
    seg->corrupt_offset = -1;
    snprintf(seg->name, sizeof seg->name, "%020" PRIu64 ".seg", base_seq);
    return seg;
}

void fl_log_segment_unref(fl_log_segment *seg)
{
    if (!seg || --seg->refs > 0)
        return;
    if (seg->fd >= 0)
        (void)fl_fs->close(seg->fd);
    fl_free(seg);
}

void fl_log_shard_push(fl_log_shard *sh, fl_log_segment *seg)
{
    seg->prev = sh->tail;
    seg->next = NULL;
    if (sh->tail)
        sh->tail->next = seg;
    else
        sh->head = seg;
    sh->tail = seg;
    sh->segment_count++;
}

void fl_log_shard_unlink_segment(fl_log_shard *sh, fl_log_segment *seg)
{
    if (seg->prev)
        seg->prev->next = seg->next;
    else
        sh->head = seg->next;
    if (seg->next)
        seg->next->prev = seg->prev;
    else
        sh->tail = seg->prev;
    seg->prev = seg->next = NULL;
    seg->removed = 1;
    sh->segment_count--;
    fl_log_segment_unref(seg);
}

void fl_log_segment_path(const fl_log_shard *sh, const fl_log_segment *seg, char *buf, size_t n)
{
    snprintf(buf, n, "%s/%s", sh->dir, seg->name);
}

int64_t fl_log_segment_readable_end(const fl_stream *s, const fl_log_shard *sh,
                                    const fl_log_segment *seg)
{
    if (s->opts.read_only || seg != sh->tail || seg->removed)
        return seg->corrupt_offset >= 0 ? seg->corrupt_offset : seg->bytes;
    int64_t end = sh->durable_total - seg->start_total;
    if (end < 0)
        return 0;
    return end < seg->bytes ? end : seg->bytes;
}

void fl_log_shard_fail(fl_log_shard *sh, int err)
{
    if (sh->failed)
        return;
    sh->failed = 1;
    sh->failed_error = err ? err : FL_ESTOPPED;
    pthread_cond_broadcast(&sh->durable_cond);
}

int fl_log_shard_new_segment(fl_log_shard *sh)
{
    char path[PATH_MAX];
    fl_log_segment *seg = fl_log_segment_new(sh->next_seq, -1);
    if (!seg)
        return FL_ENOMEM;
    fl_log_segment_path(sh, seg, path, sizeof path);
    int fd = fl_fs->open(path, O_RDWR | O_CREAT | O_EXCL | O_APPEND, 0644);
    if (fd < 0) {
        fl_free(seg);
        return fd;
    }
    seg->fd = fd;
    int rc = fl_fs_fsync_dir(sh->dir);
    if (rc) {
        fl_log_segment_unref(seg);
        return rc;
    }
    seg->start_total = sh->written_total;
    fl_log_shard_push(sh, seg);
    return 0;
}

/* ---- manifest ----------------------------------------------------------------------------- */

static int manifest_read(const char *path, uint32_t *shard_count)
{
    char text[MANIFEST_MAX_BYTES + 1];
    int fd = fl_fs->open(path, O_RDONLY, 0);
    if (fd < 0)
        return fd;
    ssize_t n = fl_fs_pread_full(fd, text, MANIFEST_MAX_BYTES, 0);
    (void)fl_fs->close(fd);
    if (n < 0)
        return (int)n;
    text[n] = 0;
    unsigned version = 0, shards = 0;
    if (sscanf(text, "fleetlake-stream\nformat_version=%u\nshard_count=%u", &version, &shards) !=
        2)
        return FL_ECORRUPT;
    if (version != FL_LOG_FORMAT_VERSION)
        return FL_EUNSUPPORTED;
    if (shards < 1 || shards > FL_STREAM_MAX_SHARDS)
        return FL_ECORRUPT;
    *shard_count = shards;
    return 0;
}

/* Read the manifest, or create the directory and manifest for a new writable stream. */
static int manifest_load_or_create(fl_stream *s)
{
    char path[PATH_MAX];
    snprintf(path, sizeof path, "%s/manifest", s->dir);
    uint32_t found = 0;
    int rc = manifest_read(path, &found);
    if (rc == -ENOENT && !s->opts.read_only) {
        if (s->opts.shard_count < 1 || s->opts.shard_count > FL_STREAM_MAX_SHARDS)
            return FL_EINVAL;
        char text[MANIFEST_MAX_BYTES];
        int n = snprintf(text, sizeof text, "fleetlake-stream\nformat_version=%d\nshard_count=%u\n",
                         FL_LOG_FORMAT_VERSION, s->opts.shard_count);
        if ((rc = fl_fs_write_file_atomic(path, text, (size_t)n)))
            return rc;
        found = s->opts.shard_count;
    } else if (rc == -ENOENT) {
        return FL_ENOTFOUND;
    } else if (rc) {
        return rc;
    }
    /* shard_count 0 means "whatever the stream has" (readers that do not know it) */
    if (s->opts.shard_count && s->opts.shard_count != found)
        return FL_ECONFIG;
    s->shard_count = found;
    return 0;
}

/* One writer process per directory: hold an exclusive flock on the manifest. */
static int writer_lock(fl_stream *s)
{
    char path[PATH_MAX];
    snprintf(path, sizeof path, "%s/manifest", s->dir);
    int fd = fl_fs->open(path, O_RDONLY, 0);
    if (fd < 0)
        return fd;
    if (flock(fd, LOCK_EX | LOCK_NB)) {
        int err = errno;
        (void)fl_fs->close(fd);
        return err == EWOULDBLOCK ? FL_EAGAIN : -err;
    }
    s->lock_fd = fd;
    return 0;
}

/* ---- open / close --------------------------------------------------------------------------- */

static int options_check(const fl_stream_options *o)
{
    if (!o || !o->dir || !o->dir[0] || strlen(o->dir) > PATH_MAX - 64)
        return FL_EINVAL;
    if (o->shard_count > FL_STREAM_MAX_SHARDS)
        return FL_EINVAL;
    if (o->max_batch_bytes < FL_LOG_BATCH_HEADER_BYTES + FL_LOG_RECORD_HEADER_BYTES ||
        o->max_batch_bytes > (int64_t)FL_LOG_BATCH_PAYLOAD_MAX || o->segment_bytes <= 0 ||
        o->segment_age_us <= 0 || o->retention_age_us <= 0 || o->retention_bytes <= 0)
        return FL_EINVAL;
    return 0;
}

static int shards_create(fl_stream *s)
{
    s->shards = fl_calloc(s->shard_count, sizeof *s->shards);
    if (!s->shards)
        return FL_ENOMEM;
    for (uint32_t i = 0; i < s->shard_count; i++) {
        fl_log_shard *sh = &s->shards[i];
        sh->index = i;
        size_t n = strlen(s->dir) + 16;
        if (!(sh->dir = fl_malloc(n)))
            return FL_ENOMEM;
        snprintf(sh->dir, n, "%s/shard-%04u", s->dir, i);
        if (pthread_mutex_init(&sh->lock, NULL))
            return FL_ENOMEM;
        if (pthread_cond_init(&sh->durable_cond, NULL)) {
            pthread_mutex_destroy(&sh->lock);
            return FL_ENOMEM;
        }
        sh->sync_init = 1;
        sh->next_seq = 1;
    }
    return 0;
}

int fl_stream_open(const fl_stream_options *opts, fl_stream **out,
                   fl_stream_recovery_report *report)
{
    *out = NULL;
    if (report)
        memset(report, 0, sizeof *report);
    int rc = options_check(opts);
    if (rc)
        return rc;
    fl_stream *s = fl_calloc(1, sizeof *s);
    if (!s)
        return FL_ENOMEM;
    s->opts = *opts;
    s->lock_fd = -1;
    if (!(s->dir = fl_strdup(opts->dir))) {
        rc = FL_ENOMEM;
        goto out;
    }
    s->opts.dir = s->dir;
    if (!opts->read_only && (rc = fl_fs_mkdir_p(s->dir, 0755)))
        goto out;
    if ((rc = manifest_load_or_create(s)))
        goto out;
    if (!opts->read_only && (rc = writer_lock(s)))
        goto out;
    if ((rc = shards_create(s)))
        goto out;
    for (uint32_t i = 0; i < s->shard_count && !rc; i++)
        rc = fl_log_shard_recover(s, &s->shards[i], report);
out:
    if (rc) {
        (void)fl_stream_close(s);
        return rc;
    }
    *out = s;
    return 0;
}

static int shard_close(fl_stream *s, fl_log_shard *sh)
{
    int rc = 0;
    if (!s->opts.read_only && !sh->failed && sh->tail && sh->durable_total < sh->written_total)
        rc = fl_fs->fdatasync(sh->tail->fd);
    while (sh->head)
        fl_log_shard_unlink_segment(sh, sh->head);
    if (sh->sync_init) {
        pthread_cond_destroy(&sh->durable_cond);
        pthread_mutex_destroy(&sh->lock);
    }
    fl_free(sh->dir);
    return rc;
}

int fl_stream_close(fl_stream *s)
{
    if (!s)
        return 0;
    int rc = 0;
    for (uint32_t i = 0; s->shards && i < s->shard_count; i++) {
        int r = shard_close(s, &s->shards[i]);
        if (!rc)
            rc = r;
    }
    fl_free(s->shards);
    if (s->lock_fd >= 0)
        (void)fl_fs->close(s->lock_fd);
    fl_free(s->dir);
    fl_free(s);
    return rc;
}

/* ---- describing ----------------------------------------------------------------------------- */

uint32_t fl_stream_shard_count(const fl_stream *s)
{
    return s->shard_count;
}

const fl_histogram *fl_stream_fsync_histogram(const fl_stream *s)
{
    return &s->fsync_histogram;
}

int fl_stream_shard_stats_get(fl_stream *s, uint32_t shard, fl_stream_shard_stats *out)
{
    memset(out, 0, sizeof *out);
    if (!s || shard >= s->shard_count)
        return FL_EINVAL;
    fl_log_shard *sh = &s->shards[shard];
    pthread_mutex_lock(&sh->lock);
    int rc = s->opts.read_only ? fl_log_shard_refresh(s, sh) : 0;
    for (fl_log_segment *seg = sh->head; seg; seg = seg->next) {
        if (seg->records && !out->first_seq)
            out->first_seq = seg->base_seq;
        if (seg->records)
            out->last_seq = seg->last_seq;
        out->records += seg->records;
        out->bytes += (uint64_t)seg->bytes;
        out->segments++;
    }
    out->failed = sh->failed;
    out->failed_error = sh->failed_error;
    pthread_mutex_unlock(&sh->lock);
    return rc;
}

void fl_stream_options_from_config(const fl_config *cfg, fl_stream_options *opts)
{
    memset(opts, 0, sizeof *opts);
    opts->shard_count = (uint32_t)cfg->shards;
    opts->durability = fl_config_durability(cfg);
    opts->segment_bytes = cfg->segment_bytes;
    opts->segment_age_us = cfg->segment_age_s * FL_US_PER_SEC;
    opts->retention_age_us = cfg->retention_age_s * FL_US_PER_SEC;
    opts->retention_bytes = cfg->retention_bytes;
    opts->max_batch_bytes = cfg->max_batch_bytes;
}
