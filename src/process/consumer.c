/* consumer.c — the processor's consumer core: one stream shard into processed-data, with the
 * per-device state (the DynamoDB role) checkpointed alongside, exactly once. processor.c drives
 * it from a thread per shard; this file is clock-parameterised and holds every decision about
 * what is committed when.
 *
 * NOTES ON THE DESIGN OF THE PROCESSOR COMMIT
 *
 * Rows. Each record read is decoded, scored with its device's state (fl_process_record) and,
 * unless DUPLICATE-flagged (first wins), buffered in the UTC hour of its event time.
 *
 * Batches. A batch opens at the first record read after a commit. It is committed when it is
 * batch_interval old (tick), when the buffered rows reach buffer_bytes, and at stop. A commit
 * takes EVERYTHING read so far: one file per buffered hour
 *     processed-data/year=Y/month=M/day=D/hour=H/part-<shard>-<first>-<last>.parquet
 * (first/last: sequence range of the hour's rows in this batch; batches do not overlap, so
 * names never repeat), rows sorted by (device_id, timestamp).
 *
 * Invariants.
 *  P1  Files are published (atomic, durable) BEFORE the transaction that inserts their
 *      catalog rows, saves checkpoint C = the last record read, and upserts the device_state
 *      row of every device touched since the previous commit. An object without a catalog row
 *      is an orphan, invisible to readers, deleted at the next start (fl_lake_sweep_orphans).
 *  P2  Because a commit takes every row read, C is exact: every record <= C is in a committed
 *      file (or was a duplicate / undecodable), none above it is. No high-water marks needed.
 *  P3  The saved device states are the states after processing exactly the records <= C. A
 *      restart loads them and reads from C + 1, so each record is scored with exactly the
 *      state an uninterrupted run would have had: scores, dedup and counts are identical.
 *  P4  A failed commit (write, publish or transaction) deletes what it published, keeps every
 *      row buffered and every state dirty, and backs off (1 s doubling to 30 s). While the
 *      buffer is at buffer_bytes the consumer reads no further (backpressure on the stream).
 *
 * Untracked devices. Past max_devices a new device's readings are scored with a fresh scratch
 * state (no history) and written, but the device is not tracked (counted, logged once). */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "process/process_int.h"

#define MODULE "process"
#define BACKOFF_MIN_US FL_US_PER_SEC
#define BACKOFF_MAX_US (30 * FL_US_PER_SEC)
/* Memory a buffered row costs (the row plus its arrival time). */
#define ROW_BYTES (sizeof(fl_lake_processed_row) + sizeof(int64_t))

static int64_t clock_now(const proc_consumer *c)
{
    return c->o.clock ? c->o.clock(c->o.clock_ctx) : fl_time_mono_us();
}

static int64_t wall_now(const proc_consumer *c)
{
    return c->o.wall_clock ? c->o.wall_clock(c->o.clock_ctx) : fl_time_now_us();
}

static void count(fl_counter *ctr, uint64_t n)
{
    if (ctr)
        fl_counter_add(ctr, n);
}

int proc_consumer_create(const proc_consumer_options *o, proc_consumer **out)
{
    if (!o->pcfg || !o->tz || !o->store || !o->catalog || o->batch_interval_us <= 0 ||
        o->buffer_bytes <= 0 || o->max_devices == 0)
        return FL_EINVAL;
    proc_consumer *c = fl_calloc(1, sizeof *c);
    if (!c)
        return FL_ENOMEM;
    c->o = *o;
    if (!c->o.retry_backoff_min_us)
        c->o.retry_backoff_min_us = BACKOFF_MIN_US;
    if (!c->o.retry_backoff_max_us)
        c->o.retry_backoff_max_us = BACKOFF_MAX_US;
    c->backoff_us = c->o.retry_backoff_min_us;
    c->nbuckets = 1024;
    pthread_mutex_init(&c->lock, NULL);
    int rc = (c->buckets = fl_calloc(c->nbuckets, sizeof *c->buckets)) ? 0 : FL_ENOMEM;
    if (!rc)
        rc = fl_device_state_create(o->pcfg, &c->scratch);
    if (rc) {
        proc_consumer_destroy(c);
        return rc;
    }
    *out = c;
    return 0;
}

static void free_loose(proc_consumer *c)
{
    for (size_t i = 0; i < c->nloose; i++)
        fl_free(c->loose[i]);
    c->nloose = 0;
}

void proc_consumer_destroy(proc_consumer *c)
{
    if (!c)
        return;
    for (size_t b = 0; c->buckets && b < c->nbuckets; b++) {
        for (proc_device *d = c->buckets[b], *next; d; d = next) {
            next = d->next;
            fl_device_state_destroy(d->st);
            fl_free(d->id);
            fl_free(d);
        }
    }
    fl_free(c->buckets);
    for (size_t i = 0; i < c->nparts; i++)
        fl_free(c->parts[i].rows);
    fl_free(c->parts);
    fl_free(c->dirty);
    free_loose(c);
    fl_free(c->loose);
    fl_free(c->arrivals);
    fl_device_state_destroy(c->scratch);
    fl_buf_free(&c->blob);
    pthread_mutex_destroy(&c->lock);
    fl_free(c);
}

int64_t proc_consumer_backoff_left(const proc_consumer *c)
{
    if (!c->retry_at_us)
        return 0;
    int64_t left = c->retry_at_us - clock_now(c);
    return left > 0 ? left : 0;
}

static void publish_stats(proc_consumer *c)
{
    atomic_store(&c->pub_checkpoint, c->checkpoint);
    atomic_store(&c->pub_buffered_bytes, c->buffered_bytes);
    atomic_store(&c->pub_devices, c->ndevices);
}

/* ---- devices ----------------------------------------------------------------------------- */

static proc_device *device_find(const proc_consumer *c, fl_slice id)
{
    uint64_t h = fl_hash64(id.ptr, id.len);
    for (proc_device *d = c->buckets[h & (c->nbuckets - 1)]; d; d = d->next)
        if (d->id_len == id.len && memcmp(d->id, id.ptr, id.len) == 0)
            return d;
    return NULL;
}

static int grow_buckets(proc_consumer *c)
{
    size_t n = c->nbuckets * 2;
    proc_device **b = fl_calloc(n, sizeof *b);
    if (!b)
        return FL_ENOMEM;
    for (size_t i = 0; i < c->nbuckets; i++) {
        for (proc_device *d = c->buckets[i], *next; d; d = next) {
            next = d->next;
            uint64_t h = fl_hash64(d->id, d->id_len) & (n - 1);
            d->next = b[h];
            b[h] = d;
        }
    }
    fl_free(c->buckets);
    c->buckets = b;
    c->nbuckets = n;
    return 0;
}

/* A new tracked device (caller holds the lock). */
static int device_add(proc_consumer *c, fl_slice id, proc_device **out)
{
    if (c->ndevices >= c->nbuckets && grow_buckets(c))
        return FL_ENOMEM;
    proc_device *d = fl_calloc(1, sizeof *d);
    if (!d || !(d->id = fl_malloc(id.len + 1)) || fl_device_state_create(c->o.pcfg, &d->st)) {
        if (d)
            fl_free(d->id);
        fl_free(d);
        return FL_ENOMEM;
    }
    memcpy(d->id, id.ptr, id.len);
    d->id[id.len] = 0;
    d->id_len = id.len;
    uint64_t h = fl_hash64(id.ptr, id.len) & (c->nbuckets - 1);
    d->next = c->buckets[h];
    c->buckets[h] = d;
    c->ndevices++;
    *out = d;
    return 0;
}

static int mark_dirty(proc_consumer *c, proc_device *d)
{
    if (d->dirty)
        return 0;
    if (c->ndirty == c->dirty_cap) {
        size_t cap = c->dirty_cap ? c->dirty_cap * 2 : 256;
        proc_device **v = fl_realloc(c->dirty, cap * sizeof *v);
        if (!v)
            return FL_ENOMEM;
        c->dirty = v;
        c->dirty_cap = cap;
    }
    c->dirty[c->ndirty++] = d;
    d->dirty = 1;
    return 0;
}

static void to_row(const fl_processed *p, fl_slice id, fl_lake_processed_row *r)
{
    *r = (fl_lake_processed_row){
        .device_id = id,
        .timestamp_us = p->timestamp_us,
        .present = p->present,
        .temperature = p->temperature,
        .humidity = p->humidity,
        .pressure = p->pressure,
        .latitude = p->latitude,
        .longitude = p->longitude,
        .temperature_fahrenheit = p->temperature_fahrenheit,
        .anomaly_score = p->anomaly_score,
        .anomaly_flag = p->anomaly_flag,
        .day_of_week = p->day_of_week,
        .is_weekend = p->is_weekend,
        .local_hour = p->local_hour,
        .quality_flags = (int32_t)p->quality_flags,
    };
    memcpy(r->trace_id, p->trace_id, sizeof r->trace_id);
}

static void device_update(proc_device *d, const fl_processed *p, int64_t arrival_us)
{
    if (arrival_us > d->last_seen_us)
        d->last_seen_us = arrival_us;
    d->record_count++;
    if (!(p->quality_flags & FL_QUALITY_DUPLICATE) &&
        (!d->has_latest || p->timestamp_us >= d->latest.timestamp_us)) {
        to_row(p, (fl_slice){d->id, d->id_len}, &d->latest);
        d->has_latest = 1;
    }
    if (p->anomaly_flag) {
        d->anomaly_count++;
        d->has_anomaly = 1;
        d->last_anomaly_us = p->timestamp_us;
        d->last_anomaly_kind = p->anomaly_kind;
        d->last_anomaly_metric = p->anomaly_metric;
        d->last_anomaly_score = p->anomaly_score;
    }
}

/* ---- buffering --------------------------------------------------------------------------- */

static proc_part *part_for(proc_consumer *c, int64_t hour)
{
    for (size_t i = 0; i < c->nparts; i++)
        if (c->parts[i].hour == hour)
            return &c->parts[i];
    if (c->nparts == c->cap) {
        size_t cap = c->cap ? c->cap * 2 : 8;
        proc_part *v = fl_realloc(c->parts, cap * sizeof *v);
        if (!v)
            return NULL;
        c->parts = v;
        c->cap = cap;
    }
    proc_part *p = &c->parts[c->nparts++];
    memset(p, 0, sizeof *p);
    p->hour = hour;
    return p;
}

static int reserve(void **v, size_t *cap, size_t need, size_t elem)
{
    if (need <= *cap)
        return 0;
    size_t n = *cap ? *cap * 2 : 256;
    while (n < need)
        n *= 2;
    void *p = fl_realloc(*v, n * elem);
    if (!p)
        return FL_ENOMEM;
    *v = p;
    *cap = n;
    return 0;
}

/* Reserve everything a record may need before changing any state, so FL_ENOMEM never leaves a
 * record half applied (it is offered again). Caller holds the lock. */
static int reserve_for_record(proc_consumer *c, int64_t hour, proc_part **part)
{
    proc_part *p = part_for(c, hour);
    if (!p)
        return FL_ENOMEM;
    *part = p;
    if (reserve((void **)&p->rows, &p->cap, p->n + 1, sizeof *p->rows) ||
        reserve((void **)&c->arrivals, &c->arrivals_cap, c->narrivals + 1, sizeof *c->arrivals) ||
        reserve((void **)&c->dirty, &c->dirty_cap, c->ndirty + 1, sizeof *c->dirty) ||
        reserve((void **)&c->loose, &c->loose_cap, c->nloose + 1, sizeof *c->loose))
        return FL_ENOMEM;
    return 0;
}

static void skip_undecodable(proc_consumer *c, const fl_stream_record *rec, int rc)
{
    count(c->o.metrics.undecodable, 1);
    FL_ERROR(MODULE, "shard %u seq %" PRIu64 ": record cannot be processed (%s, kind %u); "
                     "skipped (it stays in the stream and in raw-data)",
             c->o.shard, rec->seq, fl_strerror(rc), rec->kind);
}

/* Track or look up the record's device; NULL with *rc 0 means untracked (over the limit). */
static proc_device *device_for(proc_consumer *c, fl_slice id, int *rc)
{
    proc_device *d = device_find(c, id);
    *rc = 0;
    if (d)
        return d;
    if (c->ndevices >= c->o.max_devices) {
        count(c->o.metrics.over_limit, 1);
        static _Atomic int warned;
        if (!atomic_exchange(&warned, 1))
            FL_WARN(MODULE, "shard %u: process.max_devices_per_shard (%zu) reached; readings of "
                            "further devices are scored without history and not tracked",
                    c->o.shard, c->o.max_devices);
        return NULL;
    }
    *rc = device_add(c, id, &d);
    return *rc ? NULL : d;
}

static int process_one(proc_consumer *c, const fl_stream_record *rec, const fl_record *r)
{
    int64_t hour = fl_lake_hour_of(r->timestamp_us);
    proc_part *part = NULL;
    fl_processed out;
    int rc;
    pthread_mutex_lock(&c->lock);
    proc_device *d = device_for(c, r->device_id, &rc);
    if (!rc)
        rc = reserve_for_record(c, hour, &part);
    if (rc) {
        pthread_mutex_unlock(&c->lock);
        return rc;
    }
    fl_slice id;
    if (d) {
        fl_process_record(c->o.pcfg, c->o.tz, d->st, r, rec->arrival_us, &out);
        device_update(d, &out, rec->arrival_us);
        rc = mark_dirty(c, d); /* reserved: cannot fail */
        id = (fl_slice){d->id, d->id_len};
    } else {
        char *copy = fl_malloc(r->device_id.len + 1);
        if (!copy) {
            pthread_mutex_unlock(&c->lock);
            return FL_ENOMEM;
        }
        memcpy(copy, r->device_id.ptr, r->device_id.len);
        copy[r->device_id.len] = 0;
        c->loose[c->nloose++] = copy;
        if (fl_device_state_decode(c->scratch, "", 0)) {
            /* FL_ECORRUPT for the empty blob, by design: the state is now fresh (no history) */
        }
        fl_process_record(c->o.pcfg, c->o.tz, c->scratch, r, rec->arrival_us, &out);
        id = (fl_slice){copy, r->device_id.len};
    }
    if (out.anomaly_flag && out.anomaly_kind >= 0 && out.anomaly_kind < FL_ANOMALY_KIND_COUNT)
        count(c->o.metrics.anomalies[out.anomaly_kind], 1);
    if (out.quality_flags & FL_QUALITY_DUPLICATE) {
        count(c->o.metrics.duplicates, 1); /* first wins: not written */
    } else {
        if (c->o.observe) {
            out.device_id = id;
            c->o.observe(c->o.observe_ctx, c->o.shard, &out, rec->arrival_us);
        }
        count(c->o.metrics.records, 1);
        if (part->n == 0)
            part->first_seq = rec->seq;
        part->last_seq = rec->seq;
        to_row(&out, id, &part->rows[part->n++]);
        c->arrivals[c->narrivals++] = rec->arrival_us;
        c->buffered_bytes += ROW_BYTES;
    }
    pthread_mutex_unlock(&c->lock);
    return rc;
}

int proc_consumer_offer(proc_consumer *c, const fl_stream_record *rec)
{
    if (rec->seq <= c->last_read)
        return 0; /* already consumed (defensive: a reader never goes back) */
    if (c->buffered_bytes >= (size_t)c->o.buffer_bytes) {
        /* At the bound: commit first; while that fails, read no further (P4). */
        if (proc_consumer_backoff_left(c) > 0 || proc_consumer_commit(c))
            return FL_EAGAIN;
    }
    fl_record r;
    int rc = rec->kind == FL_STREAM_KIND_SENSOR
                 ? fl_record_decode(rec->payload.ptr, rec->payload.len, &r)
                 : FL_EUNSUPPORTED;
    if (!rc && r.device_id.len == 0)
        rc = FL_ECORRUPT;
    if (rc)
        skip_undecodable(c, rec, rc);
    else if ((rc = process_one(c, rec, &r)))
        return rc; /* FL_ENOMEM: nothing applied, offer again */
    if (c->last_read == c->checkpoint)
        c->batch_opened_us = clock_now(c);
    c->last_read = rec->seq;
    atomic_store(&c->pub_buffered_bytes, c->buffered_bytes);
    return 0;
}

int proc_consumer_tick(proc_consumer *c)
{
    if (c->last_read == c->checkpoint || proc_consumer_backoff_left(c) > 0 ||
        clock_now(c) - c->batch_opened_us < c->o.batch_interval_us)
        return 0;
    return proc_consumer_commit(c);
}

/* ---- commit ------------------------------------------------------------------------------ */

struct commit_txn {
    proc_consumer *c;
    const fl_lake_file *files;
    size_t nfiles;
    int64_t now_us;
};

static int bind_double(sqlite3_stmt *st, int col, int present, double v)
{
    return present ? sqlite3_bind_double(st, col, v) : sqlite3_bind_null(st, col);
}

static int save_device(proc_consumer *c, sqlite3_stmt *st, const proc_device *d, int64_t now_us)
{
    c->blob.len = 0;
    int rc = fl_device_state_encode(d->st, &c->blob);
    if (rc)
        return rc;
    const fl_lake_processed_row *l = &d->latest;
    uint32_t pr = d->has_latest ? l->present : 0;
    sqlite3_reset(st);
    sqlite3_clear_bindings(st);
    sqlite3_bind_text(st, 1, d->id, (int)d->id_len, SQLITE_STATIC);
    sqlite3_bind_int(st, 2, (int)c->o.shard);
    sqlite3_bind_blob(st, 3, c->blob.data ? c->blob.data : "", (int)c->blob.len, SQLITE_STATIC);
    if (d->has_latest)
        sqlite3_bind_int64(st, 4, l->timestamp_us);
    sqlite3_bind_int(st, 5, (int)pr);
    bind_double(st, 6, pr & FL_REC_TEMPERATURE, l->temperature);
    bind_double(st, 7, pr & FL_REC_HUMIDITY, l->humidity);
    bind_double(st, 8, pr & FL_REC_PRESSURE, l->pressure);
    bind_double(st, 9, pr & FL_REC_LOCATION, l->latitude);
    bind_double(st, 10, pr & FL_REC_LOCATION, l->longitude);
    bind_double(st, 11, d->has_latest, l->anomaly_score);
    sqlite3_bind_int(st, 12, d->has_latest ? l->quality_flags : 0);
    sqlite3_bind_int64(st, 13, d->last_seen_us);
    sqlite3_bind_int64(st, 14, d->record_count);
    sqlite3_bind_int64(st, 15, d->anomaly_count);
    if (d->has_anomaly) {
        sqlite3_bind_int64(st, 16, d->last_anomaly_us);
        sqlite3_bind_text(st, 17, fl_anomaly_kind_name(d->last_anomaly_kind), -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 18, fl_metric_name(d->last_anomaly_metric), -1, SQLITE_STATIC);
        sqlite3_bind_double(st, 19, d->last_anomaly_score);
    }
    sqlite3_bind_int64(st, 20, now_us);
    return sqlite3_step(st) == SQLITE_DONE ? 0 : FL_ESQLITE;
}

/* Portable upsert (SQLite >= 3.24 and PostgreSQL share ON CONFLICT ... DO UPDATE). */
static const char *const upsert_sql =
    "INSERT INTO device_state (device_id, shard, state, timestamp, present, temperature,"
    " humidity, pressure, latitude, longitude, anomaly_score, quality_flags, last_seen,"
    " record_count, anomaly_count, last_anomaly_at, last_anomaly_kind, last_anomaly_metric,"
    " last_anomaly_score, updated_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12,"
    " ?13, ?14, ?15, ?16, ?17, ?18, ?19, ?20)"
    " ON CONFLICT (device_id) DO UPDATE SET shard = excluded.shard, state = excluded.state,"
    " timestamp = excluded.timestamp, present = excluded.present,"
    " temperature = excluded.temperature, humidity = excluded.humidity,"
    " pressure = excluded.pressure, latitude = excluded.latitude,"
    " longitude = excluded.longitude, anomaly_score = excluded.anomaly_score,"
    " quality_flags = excluded.quality_flags, last_seen = excluded.last_seen,"
    " record_count = excluded.record_count, anomaly_count = excluded.anomaly_count,"
    " last_anomaly_at = excluded.last_anomaly_at, last_anomaly_kind = excluded.last_anomaly_kind,"
    " last_anomaly_metric = excluded.last_anomaly_metric,"
    " last_anomaly_score = excluded.last_anomaly_score, updated_at = excluded.updated_at";

static int commit_txn_body(fl_catalog *cat, void *arg)
{
    struct commit_txn *t = arg;
    proc_consumer *c = t->c;
    int rc = 0;
    for (size_t i = 0; !rc && i < t->nfiles; i++)
        rc = fl_catalog_file_insert(cat, &t->files[i]);
    if (!rc)
        rc = fl_stream_checkpoint_save(fl_catalog_db(cat), FL_LAKE_PROCESSED_CONSUMER, c->o.shard,
                                       c->last_read);
    sqlite3_stmt *st = NULL;
    if (!rc && c->ndirty &&
        sqlite3_prepare_v2(fl_catalog_db(cat), upsert_sql, -1, &st, NULL) != SQLITE_OK)
        rc = FL_ESQLITE;
    for (size_t i = 0; !rc && i < c->ndirty; i++)
        rc = save_device(c, st, c->dirty[i], t->now_us);
    sqlite3_finalize(st);
    return rc;
}

static void delete_published(proc_consumer *c, const fl_lake_file *files, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        int rc = fl_objstore_delete(c->o.store, files[i].path);
        if (rc && rc != FL_ENOTFOUND)
            FL_ERROR(MODULE, "cannot delete uncommitted %s: %s (removed at next start)",
                     files[i].path, fl_strerror(rc));
    }
}

static void commit_failed(proc_consumer *c, const char *what, int rc)
{
    FL_ERROR(MODULE, "shard %u: commit of records up to %" PRIu64 " failed at %s: %s; rows and "
                     "states kept, retry in %.1f s",
             c->o.shard, c->last_read, what, fl_strerror(rc), (double)c->backoff_us / 1e6);
    c->retry_at_us = clock_now(c) + c->backoff_us;
    c->backoff_us = c->backoff_us * 2 > c->o.retry_backoff_max_us ? c->o.retry_backoff_max_us
                                                                    : c->backoff_us * 2;
}

/* Rows of one hour, copied (the buffer stays readable by queries while the file is written)
 * and written as one file. */
static int write_part(proc_consumer *c, const proc_part *p, fl_lake_file *f)
{
    fl_lake_processed_row *rows = fl_malloc(p->n * sizeof *rows);
    if (!rows)
        return FL_ENOMEM;
    memcpy(rows, p->rows, p->n * sizeof *rows);
    int rc = fl_lake_processed_write(c->o.store, c->o.catalog, c->o.shard, p->hour, rows, p->n,
                                     p->first_seq, p->last_seq, c->o.codec, f);
    fl_free(rows);
    return rc;
}

/* After a successful commit: empty the buffers and the dirty list (under the lock: queries). */
static void committed(proc_consumer *c, int64_t commit_wall_us)
{
    int64_t newest = 0, oldest = INT64_MAX;
    for (size_t i = 0; i < c->narrivals; i++) {
        if (c->o.metrics.freshness)
            fl_histogram_observe(c->o.metrics.freshness, commit_wall_us - c->arrivals[i]);
        if (c->arrivals[i] > newest)
            newest = c->arrivals[i];
        if (c->arrivals[i] < oldest)
            oldest = c->arrivals[i];
    }
    if (newest) {
        atomic_store(&c->pub_newest_committed_arrival_us, newest);
        atomic_store(&c->pub_last_commit_max_freshness_us, commit_wall_us - oldest);
    }
    pthread_mutex_lock(&c->lock);
    for (size_t i = 0; i < c->nparts; i++)
        fl_free(c->parts[i].rows);
    c->nparts = 0;
    for (size_t i = 0; i < c->ndirty; i++)
        c->dirty[i]->dirty = 0;
    c->ndirty = 0;
    free_loose(c);
    c->narrivals = 0;
    c->buffered_bytes = 0;
    pthread_mutex_unlock(&c->lock);
    c->checkpoint = c->last_read;
    c->retry_at_us = 0;
    c->backoff_us = c->o.retry_backoff_min_us;
    c->commits++;
    publish_stats(c);
}

int proc_consumer_commit(proc_consumer *c)
{
    if (c->last_read == c->checkpoint && c->nparts == 0)
        return 0;
    int64_t t0 = fl_time_mono_us();
    fl_lake_file *files = c->nparts ? fl_calloc(c->nparts, sizeof *files) : NULL;
    size_t nfiles = 0;
    uint64_t bytes = 0;
    const char *what = "write";
    int rc = c->nparts && !files ? FL_ENOMEM : 0;
    for (size_t i = 0; !rc && i < c->nparts; i++) {
        if (c->parts[i].n == 0)
            continue;
        if (!(rc = write_part(c, &c->parts[i], &files[nfiles]))) {
            bytes += (uint64_t)files[nfiles++].bytes;
            if (c->o.crash && (rc = c->o.crash(c->o.crash_ctx, PROC_AFTER_PUBLISH, nfiles)))
                goto crashed;
        }
    }
    struct commit_txn t = {c, files, nfiles, wall_now(c)};
    if (!rc) {
        what = "catalog commit";
        rc = fl_catalog_transaction(c->o.catalog, commit_txn_body, &t);
    }
    if (rc) {
        delete_published(c, files, nfiles);
        commit_failed(c, what, rc);
        fl_free(files);
        return rc;
    }
    if (c->o.crash && (rc = c->o.crash(c->o.crash_ctx, PROC_AFTER_COMMIT, nfiles)))
        goto crashed;
    c->files_committed += nfiles;
    count(c->o.metrics.files, nfiles);
    count(c->o.metrics.bytes, bytes);
    if (c->o.metrics.commit_latency)
        fl_histogram_observe(c->o.metrics.commit_latency, fl_time_mono_us() - t0);
    FL_DEBUG(MODULE, "shard %u: committed %zu file(s), %" PRIu64 " bytes, %zu device(s), "
                     "checkpoint %" PRIu64,
             c->o.shard, nfiles, bytes, c->ndirty, c->last_read);
    committed(c, wall_now(c));
    fl_free(files);
    return 0;
crashed:
    fl_free(files);
    return rc;
}

/* ---- recovery ---------------------------------------------------------------------------- */

static void load_row(proc_device *d, sqlite3_stmt *st)
{
    fl_lake_processed_row *l = &d->latest;
    d->has_latest = sqlite3_column_type(st, 2) != SQLITE_NULL;
    l->device_id = (fl_slice){d->id, d->id_len};
    l->timestamp_us = sqlite3_column_int64(st, 2);
    l->present = (uint32_t)sqlite3_column_int(st, 3);
    l->temperature = sqlite3_column_double(st, 4);
    l->humidity = sqlite3_column_double(st, 5);
    l->pressure = sqlite3_column_double(st, 6);
    l->latitude = sqlite3_column_double(st, 7);
    l->longitude = sqlite3_column_double(st, 8);
    l->anomaly_score = sqlite3_column_double(st, 9);
    l->quality_flags = sqlite3_column_int(st, 10);
    l->temperature_fahrenheit = l->temperature * 9.0 / 5.0 + 32.0;
    d->last_seen_us = sqlite3_column_int64(st, 11);
    d->record_count = sqlite3_column_int64(st, 12);
    d->anomaly_count = sqlite3_column_int64(st, 13);
    d->has_anomaly = sqlite3_column_type(st, 14) != SQLITE_NULL;
    d->last_anomaly_us = sqlite3_column_int64(st, 14);
    d->last_anomaly_kind = FL_ANOMALY_NONE;
    const char *kind = (const char *)sqlite3_column_text(st, 15);
    for (int k = 0; kind && k < FL_ANOMALY_KIND_COUNT; k++)
        if (strcmp(kind, fl_anomaly_kind_name(k)) == 0)
            d->last_anomaly_kind = k;
    const char *metric = (const char *)sqlite3_column_text(st, 16);
    for (int m = 0; metric && m < FL_METRIC_COUNT; m++)
        if (strcmp(metric, fl_metric_name(m)) == 0)
            d->last_anomaly_metric = m;
    d->last_anomaly_score = sqlite3_column_double(st, 17);
}

static int load_states(proc_consumer *c)
{
    sqlite3_stmt *st = NULL;
    int rc = sqlite3_prepare_v2(fl_catalog_db(c->o.catalog),
                                "SELECT device_id, state, timestamp, present, temperature,"
                                " humidity, pressure, latitude, longitude, anomaly_score,"
                                " quality_flags, last_seen, record_count, anomaly_count,"
                                " last_anomaly_at, last_anomaly_kind, last_anomaly_metric,"
                                " last_anomaly_score FROM device_state WHERE shard = ?1"
                                " ORDER BY device_id",
                                -1, &st, NULL) == SQLITE_OK
                 ? 0
                 : FL_ESQLITE;
    if (!rc)
        sqlite3_bind_int(st, 1, (int)c->o.shard);
    int step;
    while (!rc && (step = sqlite3_step(st)) == SQLITE_ROW) {
        fl_slice id = {(const char *)sqlite3_column_text(st, 0),
                       (size_t)sqlite3_column_bytes(st, 0)};
        proc_device *d;
        if (!id.ptr || c->ndevices >= c->o.max_devices)
            continue; /* the limit was lowered: the rest start fresh when they report */
        if ((rc = device_add(c, id, &d)))
            break;
        if (fl_device_state_decode(d->st, sqlite3_column_blob(st, 1),
                                   (size_t)sqlite3_column_bytes(st, 1)))
            FL_ERROR(MODULE, "shard %u: saved state of device %s is corrupt; it restarts "
                             "without history",
                     c->o.shard, d->id);
        load_row(d, st);
    }
    if (!rc && step != SQLITE_DONE)
        rc = FL_ESQLITE;
    sqlite3_finalize(st);
    return rc;
}

int proc_consumer_recover(proc_consumer *c, int64_t started_before_us, uint64_t *resume_after)
{
    uint64_t ckpt = 0;
    size_t orphans = 0;
    int rc = fl_stream_checkpoint_load(fl_catalog_db(c->o.catalog), FL_LAKE_PROCESSED_CONSUMER,
                                       c->o.shard, &ckpt);
    if (rc == FL_ENOTFOUND)
        rc = 0;
    if (rc || (rc = fl_lake_sweep_orphans(c->o.store, c->o.catalog, FL_LAKE_PROCESSED_PREFIX,
                                          FL_LAKE_PROCESSED_TABLE, c->o.shard, started_before_us,
                                          &orphans)))
        return rc;
    c->orphans_removed += orphans;
    pthread_mutex_lock(&c->lock);
    rc = load_states(c);
    pthread_mutex_unlock(&c->lock);
    if (rc)
        return rc;
    c->checkpoint = c->last_read = ckpt;
    publish_stats(c);
    *resume_after = ckpt;
    return 0;
}

/* ---- queries ----------------------------------------------------------------------------- */

int proc_consumer_device_get(proc_consumer *c, fl_slice id, fl_device_info *out)
{
    pthread_mutex_lock(&c->lock);
    const proc_device *d = device_find(c, id);
    if (d) {
        memset(out, 0, sizeof *out);
        memcpy(out->device_id, d->id, d->id_len);
        out->shard = c->o.shard;
        out->latest = d->latest;
        out->latest.device_id = (fl_slice){"", 0};
        if (!d->has_latest)
            out->latest.timestamp_us = 0;
        out->last_seen_us = d->last_seen_us;
        out->record_count = d->record_count;
        out->anomaly_count = d->anomaly_count;
        out->has_anomaly = d->has_anomaly;
        out->last_anomaly_us = d->last_anomaly_us;
        out->last_anomaly_kind = d->last_anomaly_kind;
        out->last_anomaly_metric = d->last_anomaly_metric;
        out->last_anomaly_score = d->last_anomaly_score;
    }
    pthread_mutex_unlock(&c->lock);
    return d ? 0 : FL_ENOTFOUND;
}
