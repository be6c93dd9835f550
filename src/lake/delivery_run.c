/* delivery_run.c — the threads of raw delivery: one consumer per stream shard
 * ("raw-delivery") plus one for the dead-letter log ("dead-letter-delivery"), each with its
 * own meta.db connection, reading by sequence number from its checkpoint and driving the
 * consumer core of delivery.c; their metrics; start after stream recovery and a draining stop
 * before the streams close (serve.c). */
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include "lake/lake_int.h"

#define MODULE "lake"

/* Under continuous load the interval and retry checks run every this many records (and on
 * every idle poll): cheap, and far finer than any buffer interval (>= 1 s). */
#define TICK_EVERY_RECORDS 512

struct consumer_thread {
    fl_delivery *d;
    const lake_table_spec *spec;
    fl_stream *stream;
    uint32_t shard;
    fl_catalog *catalog;
    lake_consumer *core;
    uint64_t resume_after;
    pthread_t thread;
    int started;
    int drain_rc;
};

struct fl_delivery {
    fl_delivery_deps deps;
    enum fl_pq_codec codec;
    int64_t poll_us;
    struct consumer_thread *threads;
    size_t count;
    pthread_mutex_t lock;
    pthread_cond_t wake;
    int stopping;
    int64_t drain_deadline_us; /* mono */
    struct {
        fl_counter_family *files, *bytes, *records, *skipped, *flushes, *failures;
        fl_histogram *commit_latency;
    } m;
};

static int is_stopping(fl_delivery *d)
{
    pthread_mutex_lock(&d->lock);
    int s = d->stopping;
    pthread_mutex_unlock(&d->lock);
    return s;
}

/* Sleep up to us, or until stop is requested. */
static void nap(fl_delivery *d, int64_t us)
{
    struct timespec ts = fl_time_deadline_us(us);
    pthread_mutex_lock(&d->lock);
    if (!d->stopping)
        pthread_cond_timedwait(&d->wake, &d->lock, &ts);
    pthread_mutex_unlock(&d->lock);
}

/* Read to the head (bounded by the drain deadline), then flush every partition. */
static void drain(struct consumer_thread *t, fl_stream_reader *r, fl_stream_record *held,
                  int have_held)
{
    fl_delivery *d = t->d;
    int rc = 0;
    /* Not while a failed commit backs off: reading on would only grow the buffers. */
    while (fl_time_mono_us() < d->drain_deadline_us && lake_consumer_backoff_left(t->core) == 0) {
        if (!have_held) {
            rc = fl_stream_reader_next(r, held);
            if (rc <= 0)
                break;
        }
        have_held = 0;
        if ((rc = lake_consumer_offer(t->core, held)) != 0)
            break; /* a partition could not be flushed: stop reading, flush what we have */
    }
    rc = lake_consumer_flush_all(t->core, LAKE_FLUSH_SHUTDOWN);
    t->drain_rc = rc;
    if (rc)
        FL_ERROR(MODULE, "%s shard %u: final flush failed: %s (the records stay in the stream "
                         "and are delivered at the next start)",
                 t->spec->table_name, t->shard, fl_strerror(rc));
}

static void *consumer_main(void *arg)
{
    struct consumer_thread *t = arg;
    fl_delivery *d = t->d;
    fl_stream_reader *r = NULL;
    fl_stream_record rec;
    int have_held = 0, read_error = 0;
    unsigned since_tick = 0;
    int rc = t->resume_after
                 ? fl_stream_reader_open(t->stream, t->shard, FL_STREAM_AFTER_SEQUENCE_NUMBER,
                                         t->resume_after, &r)
                 : fl_stream_reader_open(t->stream, t->shard, FL_STREAM_TRIM_HORIZON, 0, &r);
    if (rc) {
        FL_ERROR(MODULE, "%s shard %u: cannot open a stream reader: %s; delivery stopped",
                 t->spec->table_name, t->shard, fl_strerror(rc));
        return NULL;
    }
    while (!is_stopping(d)) {
        int64_t wait = lake_consumer_backoff_left(t->core);
        if (wait > 0) {
            nap(d, wait < d->poll_us ? wait : d->poll_us);
            continue;
        }
        if (!have_held) {
            rc = fl_stream_reader_next(r, &rec);
            if (rc < 0) {
                if (!read_error++)
                    FL_ERROR(MODULE, "%s shard %u: stream read failed: %s; retrying",
                             t->spec->table_name, t->shard, fl_strerror(rc));
                nap(d, FL_US_PER_SEC);
                continue;
            }
            read_error = 0;
            if (rc == 0) {
                if (lake_consumer_tick(t->core)) {
                    /* logged and counted by the core; it backs off */
                }
                since_tick = 0;
                nap(d, d->poll_us);
                continue;
            }
        }
        rc = lake_consumer_offer(t->core, &rec);
        have_held = rc != 0; /* not consumed: offer the same record again */
        if (rc == FL_ENOMEM) {
            FL_ERROR(MODULE, "%s shard %u: out of memory buffering; retrying",
                     t->spec->table_name, t->shard);
            nap(d, FL_US_PER_SEC);
        }
        if (++since_tick >= TICK_EVERY_RECORDS) {
            if (lake_consumer_tick(t->core)) {
                /* likewise */
            }
            since_tick = 0;
        }
    }
    drain(t, r, &rec, have_held);
    fl_stream_reader_close(r);
    return NULL;
}

/* ---- metrics --------------------------------------------------------------------------------- */

static int write_gauge(fl_buf *out, fl_delivery *d, const char *name, const char *help,
                       double (*value)(struct consumer_thread *t, int64_t now_us))
{
    int rc = fl_metrics_write_header(out, name, "gauge", help);
    int64_t now = fl_time_now_us();
    for (size_t i = 0; !rc && i < d->count; i++) {
        struct consumer_thread *t = &d->threads[i];
        char labels[128];
        snprintf(labels, sizeof labels, "table=\"%s\",shard=\"shard-%04u\"", t->spec->table_name,
                 t->shard);
        rc = fl_metrics_write_sample(out, name, labels, value(t, now));
    }
    return rc;
}

static double lag_records(struct consumer_thread *t, int64_t now)
{
    (void)now;
    fl_stream_shard_stats st;
    if (fl_stream_shard_stats_get(t->stream, t->shard, &st))
        return 0;
    uint64_t ckpt = atomic_load(&t->core->pub_checkpoint);
    return st.last_seq > ckpt ? (double)(st.last_seq - ckpt) : 0;
}

static double lag_seconds(struct consumer_thread *t, int64_t now)
{
    int64_t oldest = atomic_load(&t->core->pub_oldest_arrival_us);
    return oldest && now > oldest ? (double)(now - oldest) / 1e6 : 0;
}

static double buffered_bytes(struct consumer_thread *t, int64_t now)
{
    (void)now;
    return (double)atomic_load(&t->core->pub_buffered_bytes);
}

static double active_partitions(struct consumer_thread *t, int64_t now)
{
    (void)now;
    return (double)atomic_load(&t->core->pub_partitions);
}

static double checkpoint(struct consumer_thread *t, int64_t now)
{
    (void)now;
    return (double)atomic_load(&t->core->pub_checkpoint);
}

static int collect(void *ctx, fl_buf *out)
{
    fl_delivery *d = ctx;
    int rc = write_gauge(out, d, "fleetlake_lake_delivery_lag_records",
                         "Records in the stream not yet committed to the lake "
                         "(stream head minus the delivery checkpoint).",
                         lag_records);
    rc = rc ? rc
            : write_gauge(out, d, "fleetlake_lake_delivery_lag_seconds",
                          "Age (by stream arrival) of the oldest record buffered for delivery.",
                          lag_seconds);
    rc = rc ? rc
            : write_gauge(out, d, "fleetlake_lake_buffered_bytes",
                          "Bytes of rows buffered in memory waiting for a flush.", buffered_bytes);
    rc = rc ? rc
            : write_gauge(out, d, "fleetlake_lake_active_partitions",
                          "Event-time partitions with buffered rows.", active_partitions);
    rc = rc ? rc
            : write_gauge(out, d, "fleetlake_lake_checkpoint_sequence_number",
                          "Highest sequence number delivered (the consumer checkpoint).",
                          checkpoint);
    return rc;
}

static int register_metrics(fl_delivery *d)
{
    fl_metrics *m = d->deps.metrics;
    if (!m)
        return 0;
    d->m.files = fl_metrics_counter(m, "fleetlake_lake_files_committed_total",
                                    "Lake files committed (published and catalogued).", "table",
                                    NULL);
    d->m.bytes = fl_metrics_counter(m, "fleetlake_lake_bytes_committed_total",
                                    "Bytes of lake files committed.", "table", NULL);
    d->m.records = fl_metrics_counter(m, "fleetlake_lake_records_delivered_total",
                                      "Rows committed to the lake.", "table", NULL);
    d->m.skipped = fl_metrics_counter(
        m, "fleetlake_lake_records_skipped_total",
        "Stream records not written: replayed (already in a committed file, after a restart) or "
        "undecodable.",
        "table", "reason");
    d->m.flushes = fl_metrics_counter(m, "fleetlake_lake_flushes_total",
                                      "Partition flushes by reason (size, interval, partitions, "
                                      "shutdown).",
                                      "table", "reason");
    d->m.failures = fl_metrics_counter(m, "fleetlake_lake_commit_failures_total",
                                       "Failed lake commits (file discarded, rows kept, retried).",
                                       "table", "error");
    d->m.commit_latency = fl_metrics_histogram(
        m, "fleetlake_lake_commit_seconds",
        "Time to write, publish and catalogue one lake file.", NULL);
    if (!d->m.files || !d->m.bytes || !d->m.records || !d->m.skipped || !d->m.flushes ||
        !d->m.failures || !d->m.commit_latency)
        return FL_ENOMEM;
    return fl_metrics_add_collector(m, collect, d);
}

static void consumer_metrics(fl_delivery *d, const lake_table_spec *spec, lake_consumer_metrics *cm)
{
    memset(cm, 0, sizeof *cm);
    if (!d->deps.metrics)
        return;
    const char *t = spec->table_name;
    cm->files = fl_counter_series(d->m.files, t, NULL);
    cm->bytes = fl_counter_series(d->m.bytes, t, NULL);
    cm->records = fl_counter_series(d->m.records, t, NULL);
    cm->skipped_replayed = fl_counter_series(d->m.skipped, t, "replayed");
    cm->skipped_undecodable = fl_counter_series(d->m.skipped, t, "undecodable");
    for (int r = 0; r < LAKE_FLUSH_REASON_COUNT; r++)
        cm->flushes[r] = fl_counter_series(d->m.flushes, t, lake_flush_reason_names[r]);
    cm->failures = d->m.failures;
    cm->commit_latency = d->m.commit_latency;
}

/* ---- start / stop ---------------------------------------------------------------------------- */

static int setup_consumer(fl_delivery *d, struct consumer_thread *t, const lake_table_spec *spec,
                          fl_stream *stream, uint32_t shard, int64_t started_us)
{
    const fl_config *cfg = d->deps.cfg;
    t->d = d;
    t->spec = spec;
    t->stream = stream;
    t->shard = shard;
    int rc = fl_catalog_open(d->deps.meta_path, &t->catalog);
    if (!rc)
        rc = fl_stream_checkpoint_init(fl_catalog_db(t->catalog));
    if (rc) {
        FL_ERROR(MODULE, "cannot open the catalog %s: %s", d->deps.meta_path, fl_strerror(rc));
        return rc;
    }
    lake_consumer_options o = {
        .spec = spec,
        .shard = shard,
        .store = d->deps.store,
        .catalog = t->catalog,
        .buffer_bytes = cfg->raw_buffer_bytes,
        .buffer_interval_us = cfg->raw_buffer_interval_s * FL_US_PER_SEC,
        .max_active_partitions = (size_t)cfg->raw_max_active_partitions,
        .encode = lake_encode_parquet,
        .encode_ctx = &d->codec,
    };
    consumer_metrics(d, spec, &o.metrics);
    if ((rc = lake_consumer_create(&o, &t->core)))
        return rc;
    if ((rc = lake_consumer_recover(t->core, started_us, &t->resume_after))) {
        FL_ERROR(MODULE, "%s shard %u: recovery failed: %s", spec->table_name, shard,
                 fl_strerror(rc));
        return rc;
    }
    FL_INFO(MODULE, "%s shard %u: delivering after sequence number %" PRIu64
                    " (%" PRIu64 " orphan file(s) removed)",
            spec->table_name, shard, t->resume_after, t->core->orphans_removed);
    return 0;
}

int fl_delivery_start(const fl_delivery_deps *deps, fl_delivery **out)
{
    int64_t started_us = fl_time_now_us();
    int codec = fl_pq_codec_parse(deps->cfg->raw_codec);
    if (codec < 0) {
        FL_ERROR(MODULE, "raw.codec: unknown codec '%s'", deps->cfg->raw_codec);
        return FL_ECONFIG;
    }
    fl_delivery *d = fl_calloc(1, sizeof *d);
    if (!d)
        return FL_ENOMEM;
    d->deps = *deps;
    d->codec = (enum fl_pq_codec)codec;
    d->poll_us = deps->cfg->raw_poll_interval_ms * FL_US_PER_MS;
    pthread_mutex_init(&d->lock, NULL);
    pthread_cond_init(&d->wake, NULL);
    uint32_t shards = fl_stream_shard_count(deps->stream);
    d->threads = fl_calloc(shards + 1, sizeof *d->threads);
    int rc = d->threads ? register_metrics(d) : FL_ENOMEM;
    /* Recover every consumer before any thread writes, so a sweep never races a live put. */
    for (uint32_t s = 0; !rc && s < shards; s++, d->count++)
        rc = setup_consumer(d, &d->threads[d->count], &lake_raw_table, deps->stream, s, started_us);
    if (!rc && deps->dead_letters) {
        rc = setup_consumer(d, &d->threads[d->count], &lake_rejected_table, deps->dead_letters, 0,
                            started_us);
        d->count++;
    }
    for (size_t i = 0; !rc && i < d->count; i++) {
        rc = -pthread_create(&d->threads[i].thread, NULL, consumer_main, &d->threads[i]);
        d->threads[i].started = rc == 0;
    }
    if (rc) {
        (void)fl_delivery_stop(d, 0);
        return rc;
    }
    *out = d;
    return 0;
}

int fl_delivery_stop(fl_delivery *d, int64_t timeout_us)
{
    if (!d)
        return 0;
    pthread_mutex_lock(&d->lock);
    d->stopping = 1;
    d->drain_deadline_us = fl_time_mono_us() + timeout_us;
    pthread_cond_broadcast(&d->wake);
    pthread_mutex_unlock(&d->lock);
    int rc = 0;
    for (size_t i = 0; d->threads && i < d->count; i++) {
        struct consumer_thread *t = &d->threads[i];
        if (t->started) {
            pthread_join(t->thread, NULL);
            if (!rc)
                rc = t->drain_rc;
        }
    }
    for (size_t i = 0; d->threads && i < d->count; i++) {
        lake_consumer_destroy(d->threads[i].core);
        fl_catalog_close(d->threads[i].catalog);
    }
    pthread_mutex_destroy(&d->lock);
    pthread_cond_destroy(&d->wake);
    fl_free(d->threads);
    fl_free(d);
    return rc;
}
