/* delivery.c — raw delivery (the Kinesis Firehose role): the consumer core that turns one
 * stream shard into Parquet files in the lake, exactly once. delivery_run.c drives it from a
 * thread per shard; this file is single-threaded, clock- and encoder-parameterised, and holds
 * every decision about what is committed when.
 *
 * NOTES ON THE DESIGN OF DELIVERY
 *
 * Layout. A consumer (table T, shard s) writes objects
 *     <prefix>/year=Y/month=M/day=D/hour=H/part-<s>-<first>-<last>.parquet
 * where (Y,M,D,H) is the UTC hour of each row's event time and first/last are the sequence
 * numbers of the file's first and last rows. A file holds the rows of ONE partition of ONE
 * shard, in stream order. Its catalog row (lake_files) records partition, rows, bytes, event
 * time range, shard and the sequence range; the consumer's checkpoint ("raw-delivery", s) in
 * stream_checkpoints records how far the shard is safely delivered.
 *
 * Buffers. Rows are buffered per partition (columnar, buffer.c). A partition is flushed when
 * it reaches buffer_bytes (SIZE), when its first row is buffer_interval old (INTERVAL), when a
 * row needs a new partition while max_active_partitions are buffered (PARTITIONS: the least
 * recently updated one goes), and at stop (SHUTDOWN). Late records simply land in their own
 * (older) partition.
 *
 * Invariants.
 *  I1  A partition's buffer is emptied only by a successful commit. Rows of partition P are
 *      appended in stream order, so the committed files of (T, s, P) cover every row of P the
 *      consumer ever read, up to the largest committed last_seq of P: HWM(P). There are no
 *      holes below HWM(P) (a failed flush keeps its rows; the retry includes them).
 *  I2  The checkpoint C saved with a commit is the highest S such that every record of the
 *      shard with seq <= S is in a committed file or was skipped: min over still-buffered
 *      partitions of first_seq - 1, or the last record read when nothing else is buffered
 *      (lake_safe_checkpoint). C never decreases.
 *  I3  A file and its catalog row become visible together: the object is published (atomic,
 *      durable) BEFORE the transaction that inserts its row and saves C. Readers go through the
 *      catalog, so an object without a row (an orphan) is invisible and may be deleted.
 *  I4  At start, orphans of this consumer (keys under its prefix naming shard s that the
 *      catalog lacks) and stale incomplete puts are removed before anything is written.
 *  I5  After a restart the consumer reads from C + 1 and skips each record (P, seq) with
 *      seq <= HWM(P): by I1 it is already in a committed file. Every other record is buffered
 *      again. Hence every record is in exactly one committed file.
 *
 * State machine of a consumer.
 *     RECOVERING --(orphans swept, C and HWMs loaded)--> RUNNING
 *     RUNNING --offer/tick--> RUNNING                (buffer, skip, or commit a partition)
 *     RUNNING --commit fails--> BACKOFF              (file aborted or deleted, rows kept,
 *                                                      error logged and counted)
 *     BACKOFF --(backoff elapsed: 1 s doubling to 30 s)--> RUNNING (the due flush is retried;
 *                                                      no new records are read meanwhile)
 *     RUNNING/BACKOFF --stop--> DRAINING --(read to the head, flush all)--> STOPPED
 * A failed write or fsync of a lake file is not fsyncgate for us: the file is discarded,
 * never published, and rewritten from the rows still buffered (the stream is the durable
 * copy of the data; nothing acknowledged depends on the failed file).
 *
 * Commit of one partition, and what a crash at each point leaves:
 *   1. open a put (local: <key>.tmp)                crash: stale temp, swept at start (I4)
 *   2. write the Parquet bytes, fsync the temp      crash: same
 *   3. rename to <key>, fsync the directory         crash: orphan object, no row: deleted at
 *                                                   start (I4), rows re-read from C + 1 (I5)
 *   4. BEGIN; INSERT lake_files row; save C; COMMIT crash before COMMIT is durable: same as 3
 *                                                   (SQLite rolls the transaction back)
 *   5. drop the buffer, raise HWM(P)                crash: the commit stands; the restart skips
 *                                                   the file's rows (I5)
 * A failure (not a crash) at 1-3 aborts the put; at 4 rolls back and deletes the object
 * (a failed delete leaves an orphan for I4). Either way the rows stay buffered.
 *
 * File names after a restart are derived from the rows re-read, so they can differ from the
 * names a crashed run was writing; that is harmless because its uncommitted objects are
 * orphans (removed) and its committed ones are skipped by sequence, never by name. */
#include <inttypes.h>
#include <string.h>

#include "lake/lake_int.h"

#define MODULE "lake"

const char *const lake_flush_reason_names[LAKE_FLUSH_REASON_COUNT] = {"size", "interval",
                                                                      "partitions", "shutdown"};

/* A commit that fails is retried after 1 s, doubling up to 30 s: long enough not to spin on a
 * full or failing disk, short enough that delivery resumes soon after it is fixed. */
#define BACKOFF_MIN_US (1 * FL_US_PER_SEC)
#define BACKOFF_MAX_US (30 * FL_US_PER_SEC)

static int64_t clock_now(const lake_consumer *c)
{
    return c->o.clock ? c->o.clock(c->o.clock_ctx) : fl_time_mono_us();
}

static void count(fl_counter *ctr, uint64_t n)
{
    if (ctr)
        fl_counter_add(ctr, n);
}

static void publish_stats(lake_consumer *c)
{
    int64_t oldest = 0;
    for (size_t i = 0; i < c->nparts; i++)
        if (!oldest || c->parts[i].first_arrival_us < oldest)
            oldest = c->parts[i].first_arrival_us;
    atomic_store(&c->pub_checkpoint, c->checkpoint);
    atomic_store(&c->pub_buffered_bytes, c->buffered_bytes);
    atomic_store(&c->pub_partitions, c->nparts);
    atomic_store(&c->pub_oldest_arrival_us, oldest);
}

int lake_consumer_create(const lake_consumer_options *o, lake_consumer **out)
{
    if (!o->spec || !o->store || !o->catalog || !o->encode || o->buffer_bytes <= 0 ||
        o->buffer_interval_us <= 0 || o->max_active_partitions == 0)
        return FL_EINVAL;
    lake_consumer *c = fl_calloc(1, sizeof *c);
    if (!c)
        return FL_ENOMEM;
    c->o = *o;
    if (!c->o.retry_backoff_min_us)
        c->o.retry_backoff_min_us = BACKOFF_MIN_US;
    if (!c->o.retry_backoff_max_us)
        c->o.retry_backoff_max_us = BACKOFF_MAX_US;
    c->backoff_us = c->o.retry_backoff_min_us;
    c->hot = -1;
    c->row = fl_calloc(o->spec->column_count, sizeof *c->row);
    if (!c->row) {
        fl_free(c);
        return FL_ENOMEM;
    }
    *out = c;
    return 0;
}

void lake_consumer_destroy(lake_consumer *c)
{
    if (!c)
        return;
    for (size_t i = 0; i < c->nparts; i++)
        lake_partition_free_columns(c->o.spec, &c->parts[i]);
    fl_free(c->parts);
    lake_hwm_free(&c->hwm);
    for (int i = 0; i < LAKE_SCRATCH_BUFS; i++)
        fl_buf_free(&c->scratch.b[i]);
    fl_free(c->row);
    fl_free(c);
}

int64_t lake_consumer_backoff_left(const lake_consumer *c)
{
    if (!c->retry_at_us)
        return 0;
    int64_t left = c->retry_at_us - clock_now(c);
    return left > 0 ? left : 0;
}

/* ---- recovery -------------------------------------------------------------------------------- */

static int on_hwm(void *arg, int32_t y, int32_t m, int32_t d, int32_t h, uint64_t last)
{
    lake_consumer *c = arg;
    fl_lake_partition p = {y, m, d, h < 0 ? 0 : h};
    return lake_hwm_set(&c->hwm, fl_lake_partition_hour(p), last);
}

int lake_consumer_recover(lake_consumer *c, int64_t started_before_us, uint64_t *resume_after)
{
    sqlite3 *db = fl_catalog_db(c->o.catalog);
    uint64_t ckpt = 0;
    size_t swept = 0;
    int rc = fl_stream_checkpoint_load(db, c->o.spec->consumer, c->o.shard, &ckpt);
    if (rc == FL_ENOTFOUND)
        rc = 0;
    if (rc)
        return rc;
    lake_hwm_free(&c->hwm);
    if ((rc = fl_catalog_high_water_marks(c->o.catalog, c->o.spec->table_name, (int32_t)c->o.shard,
                                          on_hwm, c)))
        return rc;
    if ((rc = fl_lake_sweep_orphans(c->o.store, c->o.catalog, c->o.spec->prefix,
                                    c->o.spec->table_name, c->o.shard, started_before_us,
                                    &swept)))
        return rc;
    c->orphans_removed += swept;
    c->checkpoint = c->last_read = ckpt;
    publish_stats(c);
    *resume_after = ckpt;
    return 0;
}

/* ---- commit ---------------------------------------------------------------------------------- */

struct commit_txn {
    lake_consumer *c;
    const fl_lake_file *file;
    uint64_t checkpoint;
};

static int commit_txn_body(fl_catalog *cat, void *arg)
{
    struct commit_txn *t = arg;
    int rc = t->file ? fl_catalog_file_insert(cat, t->file) : 0;
    return rc ? rc
              : fl_stream_checkpoint_save(fl_catalog_db(cat), t->c->o.spec->consumer,
                                          t->c->o.shard, t->checkpoint);
}

static void remove_partition(lake_consumer *c, size_t i)
{
    c->buffered_bytes -= c->parts[i].bytes;
    lake_partition_free_columns(c->o.spec, &c->parts[i]);
    c->parts[i] = c->parts[c->nparts - 1];
    c->nparts--;
    c->hot = -1;
}

static void commit_failed(lake_consumer *c, const char *key, const char *what, int rc)
{
    c->commit_failures++;
    if (c->o.metrics.failures)
        fl_counter_add(fl_counter_series(c->o.metrics.failures, c->o.spec->table_name,
                                         fl_errname(rc)),
                       1);
    FL_ERROR(MODULE, "%s shard %u: commit of %s failed at %s: %s; rows kept buffered, retry in "
                     "%.1f s",
             c->o.spec->table_name, c->o.shard, key, what, fl_strerror(rc),
             (double)c->backoff_us / 1e6);
    c->retry_at_us = clock_now(c) + c->backoff_us;
    c->backoff_us = c->backoff_us * 2 > c->o.retry_backoff_max_us ? c->o.retry_backoff_max_us
                                                                    : c->backoff_us * 2;
}

/* Write, publish and catalog partition i (steps 1-5 of the notes). */
static int commit_partition(lake_consumer *c, size_t i, enum lake_flush_reason reason)
{
    lake_partition_buf *p = &c->parts[i];
    fl_lake_partition part = fl_lake_partition_of_hour(p->hour);
    char key[FL_CATALOG_PATH_MAX];
    fl_objstore_writer *w = NULL;
    int64_t t0 = fl_time_mono_us();
    const char *what = "key";
    fl_lake_file *f = fl_calloc(1, sizeof *f);
    int rc = f ? fl_lake_part_key(key, sizeof key, c->o.spec->prefix, part, c->o.shard,
                                  p->first_seq, p->last_seq)
               : FL_ENOMEM;
    if (rc) {
        snprintf(key, sizeof key, "%s", c->o.spec->prefix);
        goto fail;
    }
    /* By I5 a new file never has the name of a committed one; refuse to overwrite if the
     * invariant were ever broken rather than replace committed data. */
    what = "catalog lookup";
    rc = fl_catalog_file_get(c->o.catalog, key, f);
    if (rc != FL_ENOTFOUND) {
        rc = rc ? rc : FL_EEXISTS;
        goto fail;
    }
    what = "write";
    if ((rc = fl_objstore_put_open(c->o.store, key, &w)) ||
        (rc = c->o.encode(c->o.encode_ctx, c->o.spec, p, w))) {
        fl_objstore_put_abort(w);
        goto fail;
    }
    uint64_t bytes = fl_objstore_put_bytes(w);
    what = "publish";
    if ((rc = fl_objstore_put_publish(w)))
        goto fail;
    memset(f, 0, sizeof *f);
    snprintf(f->path, sizeof f->path, "%s", key);
    snprintf(f->table_name, sizeof f->table_name, "%s", c->o.spec->table_name);
    f->year = part.year;
    f->month = part.month;
    f->day = part.day;
    f->hour = part.hour;
    f->rows = (int64_t)p->rows;
    f->bytes = (int64_t)bytes;
    f->min_ts = p->min_ts;
    f->max_ts = p->max_ts;
    f->shard = (int32_t)c->o.shard;
    f->first_seq = p->first_seq;
    f->last_seq = p->last_seq;
    f->retired_at = -1;
    struct commit_txn t = {c, f,
                           lake_safe_checkpoint(c->last_read, c->checkpoint, c->parts, c->nparts,
                                                (long)i)};
    what = "catalog commit";
    if ((rc = fl_catalog_transaction(c->o.catalog, commit_txn_body, &t))) {
        int drc = fl_objstore_delete(c->o.store, key);
        if (drc && drc != FL_ENOTFOUND)
            FL_ERROR(MODULE, "cannot delete uncommitted %s: %s (removed at next start)", key,
                     fl_strerror(drc));
        goto fail;
    }
    c->checkpoint = t.checkpoint;
    if (lake_hwm_set(&c->hwm, p->hour, p->last_seq)) {
        /* Only a restart needs the marks, and it reloads them from the catalog. */
    }
    c->files_committed++;
    c->flushes[reason]++;
    count(c->o.metrics.files, 1);
    count(c->o.metrics.bytes, bytes);
    count(c->o.metrics.records, p->rows);
    count(c->o.metrics.flushes[reason], 1);
    if (c->o.metrics.commit_latency)
        fl_histogram_observe(c->o.metrics.commit_latency, fl_time_mono_us() - t0);
    FL_DEBUG(MODULE, "committed %s: %zu rows, %" PRIu64 " bytes, reason %s, checkpoint %" PRIu64,
             key, p->rows, bytes, lake_flush_reason_names[reason], t.checkpoint);
    remove_partition(c, i);
    c->retry_at_us = 0;
    c->backoff_us = c->o.retry_backoff_min_us;
    fl_free(f);
    publish_stats(c);
    return 0;
fail:
    fl_free(f);
    commit_failed(c, key, what, rc);
    return rc;
}

/* Save the checkpoint alone: nothing is buffered but records were consumed without a file
 * (skipped after a restart, or undecodable), so the lag metric and the next restart see them
 * as done. */
static int save_idle_checkpoint(lake_consumer *c)
{
    if (c->nparts || c->last_read <= c->checkpoint)
        return 0;
    struct commit_txn t = {c, NULL, c->last_read};
    int rc = fl_catalog_transaction(c->o.catalog, commit_txn_body, &t);
    if (rc) {
        commit_failed(c, "checkpoint", "catalog commit", rc);
        return rc;
    }
    c->checkpoint = c->last_read;
    publish_stats(c);
    return 0;
}

/* ---- buffering ------------------------------------------------------------------------------- */

static long find_partition(lake_consumer *c, int64_t hour)
{
    if (c->hot >= 0 && (size_t)c->hot < c->nparts && c->parts[c->hot].hour == hour)
        return c->hot;
    for (size_t i = 0; i < c->nparts; i++)
        if (c->parts[i].hour == hour)
            return (long)i;
    return -1;
}

static long add_partition(lake_consumer *c, int64_t hour)
{
    if (c->nparts == c->cap) {
        size_t cap = c->cap ? c->cap * 2 : 8;
        lake_partition_buf *v = fl_realloc(c->parts, cap * sizeof *v);
        if (!v)
            return FL_ENOMEM;
        c->parts = v;
        c->cap = cap;
    }
    lake_partition_buf *p = &c->parts[c->nparts];
    memset(p, 0, sizeof *p);
    p->hour = hour;
    p->cols = fl_calloc(c->o.spec->column_count, sizeof *p->cols);
    if (!p->cols)
        return FL_ENOMEM;
    return (long)c->nparts++;
}

static size_t least_recently_updated(const lake_consumer *c)
{
    size_t best = 0;
    for (size_t i = 1; i < c->nparts; i++)
        if (c->parts[i].updated_us < c->parts[best].updated_us ||
            (c->parts[i].updated_us == c->parts[best].updated_us &&
             c->parts[i].first_seq < c->parts[best].first_seq))
            best = i;
    return best;
}

static void skip_record(lake_consumer *c, const fl_stream_record *rec, int rc)
{
    c->last_read = rec->seq;
    if (rc == 0) {
        c->skipped_replayed++;
        count(c->o.metrics.skipped_replayed, 1);
        return;
    }
    count(c->o.metrics.skipped_undecodable, 1);
    FL_ERROR(MODULE, "%s shard %u seq %" PRIu64 ": record cannot be delivered (%s, kind %u); "
                     "skipped (it stays in the stream)",
             c->o.spec->table_name, c->o.shard, rec->seq, fl_strerror(rc), rec->kind);
}

int lake_consumer_offer(lake_consumer *c, const fl_stream_record *rec)
{
    if (rec->seq <= c->last_read)
        return 0; /* already consumed (a reader never goes back; defensive) */
    int64_t event_us = 0;
    int rc = c->o.spec->decode(rec, c->row, &event_us, &c->scratch);
    if (rc == FL_ENOMEM)
        return rc;
    if (rc) {
        skip_record(c, rec, rc);
        return 0;
    }
    int64_t hour = fl_lake_hour_of(event_us);
    if (lake_hwm_covers(&c->hwm, hour, rec->seq)) {
        skip_record(c, rec, 0);
        return 0;
    }
    long i = find_partition(c, hour);
    if (i < 0) {
        if (c->nparts >= c->o.max_active_partitions) {
            if (lake_consumer_backoff_left(c) > 0 ||
                commit_partition(c, least_recently_updated(c), LAKE_FLUSH_PARTITIONS))
                return FL_EAGAIN;
        }
        if ((i = add_partition(c, hour)) < 0)
            return (int)i;
    }
    lake_partition_buf *p = &c->parts[i];
    size_t rows_before = p->rows, row_bytes = 0;
    if ((rc = lake_partition_append(c->o.spec, p, c->row, &row_bytes))) {
        lake_partition_truncate(c->o.spec, p, rows_before);
        if (p->rows == 0)
            remove_partition(c, (size_t)i);
        return rc;
    }
    int64_t now = clock_now(c);
    if (rows_before == 0) {
        p->first_seq = rec->seq;
        p->opened_us = now;
        p->first_arrival_us = rec->arrival_us;
        p->min_ts = p->max_ts = event_us;
    }
    p->last_seq = rec->seq;
    p->updated_us = now;
    if (event_us < p->min_ts)
        p->min_ts = event_us;
    if (event_us > p->max_ts)
        p->max_ts = event_us;
    p->bytes += row_bytes;
    c->buffered_bytes += row_bytes;
    c->last_read = rec->seq;
    c->hot = i;
    if (p->bytes >= (size_t)c->o.buffer_bytes && lake_consumer_backoff_left(c) == 0)
        (void)commit_partition(c, (size_t)i, LAKE_FLUSH_SIZE); /* failure: backoff, rows kept */
    else if (rows_before == 0)
        publish_stats(c);
    return 0;
}

int lake_consumer_tick(lake_consumer *c)
{
    if (lake_consumer_backoff_left(c) > 0)
        return 0;
    int64_t now = clock_now(c);
    for (size_t i = 0; i < c->nparts;) {
        lake_partition_buf *p = &c->parts[i];
        int reason = p->bytes >= (size_t)c->o.buffer_bytes                ? LAKE_FLUSH_SIZE
                     : now - p->opened_us >= c->o.buffer_interval_us ? LAKE_FLUSH_INTERVAL
                                                                       : -1;
        if (reason < 0) {
            i++;
            continue;
        }
        int rc = commit_partition(c, i, (enum lake_flush_reason)reason);
        if (rc)
            return rc; /* on success slot i now holds another partition: look at it again */
    }
    return save_idle_checkpoint(c);
}

int lake_consumer_flush_all(lake_consumer *c, enum lake_flush_reason reason)
{
    while (c->nparts) {
        /* Oldest first, so the checkpoint advances with every commit. */
        size_t oldest = 0;
        for (size_t i = 1; i < c->nparts; i++)
            if (c->parts[i].first_seq < c->parts[oldest].first_seq)
                oldest = i;
        int rc = commit_partition(c, oldest, reason);
        if (rc)
            return rc;
    }
    return save_idle_checkpoint(c);
}
