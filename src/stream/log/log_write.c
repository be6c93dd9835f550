/* log_write.c — the append path of the embedded log with group commit. HTTP worker threads
 * call fl_stream_append concurrently; per shard, an appender encodes its entries into
 * batches, writes them with write(2) under the shard lock, and then waits until the shard's
 * durable position covers its bytes. The first waiter that finds no fsync running becomes
 * the leader: it drops the lock, fdatasyncs, and publishes what it covered, so every request
 * that wrote while the previous fsync ran shares the next one. Segment rolls (by size and
 * age) also live here. Any write or fsync error fails the shard (see log_open.c's notes). */
#include <errno.h>
#include <string.h>

#include "stream/stream_int.h"

/* One shard's part of an append: entries order[begin, end). */
struct shard_job {
    uint32_t shard;
    size_t begin, end;
    int64_t target; /* written_total after our last batch: must become durable */
    int rc;
};

static void fsync_observe(fl_stream *s, int64_t start_us)
{
    fl_histogram_observe(&s->fsync_histogram, fl_time_mono_us() - start_us);
}

int fl_log_shard_roll(fl_stream *s, fl_log_shard *sh)
{
    fl_log_segment *tail = sh->tail;
    if (!tail || !tail->records)
        return 0; /* an empty segment is never sealed: its name would repeat */
    int64_t t0 = fl_time_mono_us();
    int rc = fl_fs->fdatasync(tail->fd);
    fsync_observe(s, t0);
    if (rc)
        return rc;
    /* everything written so far is in this segment, and now durable */
    if (sh->durable_total < sh->written_total) {
        sh->durable_total = sh->written_total;
        pthread_cond_broadcast(&sh->durable_cond);
    }
    return fl_log_shard_new_segment(sh);
}

int fl_log_shard_roll_if_old(fl_stream *s, fl_log_shard *sh, int64_t now_us)
{
    fl_log_segment *tail = sh->tail;
    if (!tail || !tail->records || now_us - tail->first_arrival_us < s->opts.segment_age_us)
        return 0;
    return fl_log_shard_roll(s, sh);
}

/* Encode entries order[i..) into one batch in buf (header + payload) starting at first_seq,
 * as many as fit in max_batch_bytes (at least one: entry_check made sure each fits).
 * Returns the index after the last entry taken. */
static size_t batch_encode(const fl_stream *s, const fl_stream_entry *entries, const size_t *order,
                           size_t i, size_t end, int64_t arrival_us, uint64_t first_seq,
                           fl_buf *buf)
{
    size_t limit = (size_t)s->opts.max_batch_bytes;
    size_t total = FL_LOG_BATCH_HEADER_BYTES, j = i;
    while (j < end) {
        const fl_stream_entry *e = &entries[order[j]];
        size_t n = fl_log_record_bytes(e->partition_key.len, e->payload.len);
        if (j > i && total + n > limit)
            break;
        total += n;
        j++;
    }
    /* buf was reserved for the largest batch by the caller */
    unsigned char *p = (unsigned char *)buf->data;
    size_t off = FL_LOG_BATCH_HEADER_BYTES;
    for (size_t k = i; k < j; k++) {
        const fl_stream_entry *e = &entries[order[k]];
        fl_log_record_encode(p + off, arrival_us, e->kind, e->partition_key, e->payload);
        off += fl_log_record_bytes(e->partition_key.len, e->payload.len);
    }
    fl_log_batch_header h = {.payload_bytes = (uint32_t)(total - FL_LOG_BATCH_HEADER_BYTES),
                             .record_count = (uint32_t)(j - i),
                             .first_seq = first_seq,
                             .min_arrival_us = arrival_us,
                             .max_arrival_us = arrival_us};
    fl_log_batch_header_encode(p, &h, p + FL_LOG_BATCH_HEADER_BYTES);
    buf->len = total;
    return j;
}

static void segment_account(fl_log_segment *seg, uint64_t first_seq, uint32_t count,
                            int64_t arrival_us, size_t bytes)
{
    if (!seg->records) {
        seg->min_arrival_us = seg->max_arrival_us = seg->first_arrival_us = arrival_us;
    } else {
        if (arrival_us < seg->min_arrival_us)
            seg->min_arrival_us = arrival_us;
        if (arrival_us > seg->max_arrival_us)
            seg->max_arrival_us = arrival_us;
    }
    seg->records += count;
    seg->last_seq = first_seq + count - 1;
    seg->bytes += (int64_t)bytes;
}

/* Write one batch to the active segment, rolling first if it would overflow. Lock held. */
static int batch_write(fl_stream *s, fl_log_shard *sh, const fl_buf *buf, uint32_t count,
                       int64_t arrival_us)
{
    int rc;
    fl_log_segment *tail = sh->tail;
    if (tail->records && tail->bytes + (int64_t)buf->len > s->opts.segment_bytes) {
        if ((rc = fl_log_shard_roll(s, sh)))
            return rc;
        tail = sh->tail;
    }
    if ((rc = fl_fs_write_all(tail->fd, buf->data, buf->len)))
        return rc;
    segment_account(tail, sh->next_seq, count, arrival_us, buf->len);
    sh->next_seq += count;
    sh->written_total += (int64_t)buf->len;
    return 0;
}

/* Phase 1 for one shard: encode and write its entries. Sets job->target on success. */
static int shard_write(fl_stream *s, fl_log_shard *sh, fl_stream_entry *entries,
                       const size_t *order, struct shard_job *job, int64_t arrival_us,
                       fl_buf *buf)
{
    pthread_mutex_lock(&sh->lock);
    int rc = 0;
    if (sh->failed) {
        rc = FL_ESTOPPED;
        goto out;
    }
    if ((rc = fl_log_shard_roll_if_old(s, sh, arrival_us)))
        goto fail;
    for (size_t i = job->begin; i < job->end;) {
        uint64_t first = sh->next_seq;
        size_t j = batch_encode(s, entries, order, i, job->end, arrival_us, first, buf);
        if ((rc = batch_write(s, sh, buf, (uint32_t)(j - i), arrival_us)))
            goto fail;
        for (size_t k = i; k < j; k++)
            entries[order[k]].seq = first + (k - i);
        i = j;
    }
    job->target = sh->written_total;
    if (s->opts.durability == FL_DURABILITY_OS)
        sh->durable_total = sh->written_total;
    goto out;
fail:
    /* invariant 4: a torn batch may now end the file; nothing may follow it */
    fl_log_shard_fail(sh, rc);
out:
    pthread_mutex_unlock(&sh->lock);
    return rc;
}

/* Become the fsync leader: sync the active segment with the lock dropped. Lock held. */
static int fsync_lead(fl_stream *s, fl_log_shard *sh)
{
    fl_log_segment *seg = sh->tail;
    int64_t covered = sh->written_total;
    sh->syncing = 1;
    seg->refs++; /* a roll or retention may run meanwhile; the fd must outlive our sync */
    pthread_mutex_unlock(&sh->lock);
    int64_t t0 = fl_time_mono_us();
    int rc = fl_fs->fdatasync(seg->fd);
    fsync_observe(s, t0);
    pthread_mutex_lock(&sh->lock);
    fl_log_segment_unref(seg);
    sh->syncing = 0;
    if (rc)
        fl_log_shard_fail(sh, rc); /* fsyncgate: never retried */
    else if (covered > sh->durable_total)
        sh->durable_total = covered;
    pthread_cond_broadcast(&sh->durable_cond);
    return rc;
}

/* Phase 2 for one shard: wait (or lead an fsync) until target is durable. */
static int shard_wait_durable(fl_stream *s, fl_log_shard *sh, int64_t target)
{
    int rc = 0;
    pthread_mutex_lock(&sh->lock);
    while (sh->durable_total < target) {
        if (sh->failed) {
            rc = FL_ESTOPPED;
            break;
        }
        if (sh->syncing) {
            pthread_cond_wait(&sh->durable_cond, &sh->lock);
            continue;
        }
        if ((rc = fsync_lead(s, sh)))
            break;
    }
    pthread_mutex_unlock(&sh->lock);
    return rc;
}

static int entry_check(const fl_stream *s, const fl_stream_entry *e)
{
    if (e->shard >= s->shard_count || (e->partition_key.len && !e->partition_key.ptr) ||
        (e->payload.len && !e->payload.ptr))
        return FL_EINVAL;
    if (e->partition_key.len > UINT16_MAX || e->payload.len > UINT32_MAX ||
        fl_log_record_bytes(e->partition_key.len, e->payload.len) >
            (size_t)s->opts.max_batch_bytes - FL_LOG_BATCH_HEADER_BYTES)
        return FL_ELIMIT;
    return 0;
}

/* Validate entries and group the good ones by shard, keeping their order within a shard
 * (counting sort). Returns the number of jobs written to jobs[]. */
static size_t entries_group(const fl_stream *s, fl_stream_entry *entries, size_t n,
                            size_t *order, struct shard_job *jobs)
{
    size_t counts[FL_STREAM_MAX_SHARDS + 1] = {0};
    for (size_t i = 0; i < n; i++) {
        entries[i].seq = 0;
        entries[i].result = entry_check(s, &entries[i]);
        if (!entries[i].result)
            counts[entries[i].shard + 1]++;
    }
    size_t njobs = 0;
    for (uint32_t sh = 0; sh < s->shard_count; sh++) {
        size_t c = counts[sh + 1];
        counts[sh + 1] = counts[sh] + c; /* counts[sh] is now shard sh's start */
        if (c)
            jobs[njobs++] = (struct shard_job){.shard = sh, .begin = counts[sh],
                                               .end = counts[sh] + c};
    }
    for (size_t i = 0; i < n; i++)
        if (!entries[i].result)
            order[counts[entries[i].shard]++] = i;
    return njobs;
}

static void job_results(fl_stream_entry *entries, const size_t *order, const struct shard_job *job)
{
    for (size_t k = job->begin; k < job->end; k++) {
        entries[order[k]].result = job->rc;
        if (job->rc)
            entries[order[k]].seq = 0;
    }
}

/* The largest batch this append can produce: its whole size, capped at max_batch_bytes (so a
 * small request does not allocate a 4 MiB buffer). */
static size_t batch_buffer_bytes(const fl_stream *s, const fl_stream_entry *entries, size_t n)
{
    size_t total = FL_LOG_BATCH_HEADER_BYTES, limit = (size_t)s->opts.max_batch_bytes;
    for (size_t i = 0; i < n && total < limit; i++)
        if (!entries[i].result)
            total += fl_log_record_bytes(entries[i].partition_key.len, entries[i].payload.len);
    return total < limit ? total : limit;
}

int fl_stream_append(fl_stream *s, fl_stream_entry *entries, size_t n, int64_t arrival_us)
{
    if (!s || (n && !entries))
        return FL_EINVAL;
    if (s->opts.read_only)
        return FL_EUNSUPPORTED;
    if (!n)
        return 0;
    fl_buf buf = {0};
    struct shard_job *jobs = fl_malloc(sizeof *jobs * s->shard_count);
    size_t *order = fl_malloc(sizeof *order * n);
    int rc = 0;
    if (!jobs || !order) {
        rc = FL_ENOMEM;
        for (size_t i = 0; i < n; i++)
            entries[i].result = FL_ENOMEM;
        goto out;
    }
    size_t njobs = entries_group(s, entries, n, order, jobs);
    if (fl_buf_reserve(&buf, batch_buffer_bytes(s, entries, n))) {
        rc = FL_ENOMEM;
        for (size_t i = 0; i < n; i++)
            entries[i].result = entries[i].result ? entries[i].result : FL_ENOMEM;
        goto out;
    }
    for (size_t j = 0; j < njobs; j++)
        jobs[j].rc = shard_write(s, &s->shards[jobs[j].shard], entries, order, &jobs[j],
                                 arrival_us, &buf);
    for (size_t j = 0; j < njobs; j++) {
        if (!jobs[j].rc && s->opts.durability == FL_DURABILITY_FSYNC)
            jobs[j].rc = shard_wait_durable(s, &s->shards[jobs[j].shard], jobs[j].target);
        job_results(entries, order, &jobs[j]);
    }
    for (size_t i = 0; i < n && !rc; i++)
        rc = entries[i].result;
out:
    fl_buf_free(&buf);
    fl_free(order);
    fl_free(jobs);
    return rc;
}
