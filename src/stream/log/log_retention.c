/* log_retention.c — time- and size-based housekeeping of the embedded log, run periodically
 * by the server through fl_stream_maintain: it seals active segments whose first record has
 * reached segment_age_us (so old data becomes deletable) and deletes the oldest sealed
 * segments past retention_age_us or beyond retention_bytes per shard. Deletion only ever
 * removes a prefix of a shard's segments, so the retained sequence range stays contiguous
 * and readers skip forward to the oldest retained record. A reader holding a deleted
 * segment keeps its open fd and finishes it (POSIX unlink semantics plus refcounts). */
#include <errno.h>
#include <limits.h>
#include <stdio.h>

#include "stream/stream_int.h"

/* Should the oldest segment go? Never the active one (the tail). */
static int segment_expired(const fl_stream *s, const fl_log_shard *sh, const fl_log_segment *seg,
                           int64_t shard_bytes, int64_t now_us)
{
    if (seg == sh->tail)
        return 0;
    if (shard_bytes > s->opts.retention_bytes)
        return 1;
    return seg->max_arrival_us < now_us - s->opts.retention_age_us;
}

/* Lock held. Returns 0 or the first unlink error; *removed counts deleted segments. */
static int shard_expire(fl_stream *s, fl_log_shard *sh, int64_t now_us, int *removed)
{
    int64_t bytes = 0;
    for (fl_log_segment *seg = sh->head; seg; seg = seg->next)
        bytes += seg->bytes;
    while (sh->head && segment_expired(s, sh, sh->head, bytes, now_us)) {
        char path[PATH_MAX];
        fl_log_segment_path(sh, sh->head, path, sizeof path);
        int rc = fl_fs->unlink(path);
        if (rc && rc != -ENOENT)
            return rc;
        bytes -= sh->head->bytes;
        fl_log_shard_unlink_segment(sh, sh->head);
        (*removed)++;
    }
    return 0;
}

static int shard_maintain(fl_stream *s, fl_log_shard *sh, int64_t now_us)
{
    int removed = 0, rc = 0;
    pthread_mutex_lock(&sh->lock);
    if (!sh->failed && (rc = fl_log_shard_roll_if_old(s, sh, now_us)))
        fl_log_shard_fail(sh, rc); /* a failed seal is a failed fsync or create */
    int rc2 = shard_expire(s, sh, now_us, &removed);
    pthread_mutex_unlock(&sh->lock);
    if (!rc)
        rc = rc2;
    if (removed) {
        int rc3 = fl_fs_fsync_dir(sh->dir);
        if (!rc)
            rc = rc3;
    }
    return rc;
}

int fl_stream_maintain(fl_stream *s, int64_t now_us)
{
    if (!s)
        return FL_EINVAL;
    if (s->opts.read_only)
        return 0; /* the writer process owns rolls and deletion */
    int rc = 0;
    for (uint32_t i = 0; i < s->shard_count; i++) {
        int r = shard_maintain(s, &s->shards[i], now_us);
        if (!rc)
            rc = r;
    }
    return rc;
}
