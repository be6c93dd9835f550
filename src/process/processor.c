/* processor.c — the threads of the real-time processor: one "processor" consumer per stream
 * shard, each with its own meta.db connection, reading by sequence number from its checkpoint
 * and driving consumer.c's core; their metrics; and the thread-safe device queries the
 * gateway's /v1/devices routes call. Start after stream recovery (serve.c); stop after the
 * gateway (the only caller of the queries) and before the streams close. */
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "parquet/parquet.h"
#include "process/process_int.h"

#define MODULE "process"

/* Under continuous load the interval check runs every this many records (and on every idle
 * poll): far finer than any batch interval (>= 1 s). */
#define TICK_EVERY_RECORDS 512
/* Idle poll of the stream: 50 ms adds at most that to freshness, at negligible cost. */
#define POLL_US (50 * FL_US_PER_MS)

struct proc_thread {
    fl_processor *p;
    uint32_t shard;
    fl_catalog *catalog;
    proc_consumer *core;
    uint64_t resume_after;
    pthread_t thread;
    int started;
    int drain_rc;
};

struct fl_processor {
    fl_processor_deps deps;
    fl_process_config pcfg;
    fl_tz *tz;
    struct proc_thread *threads;
    size_t count;
    int64_t stale_after_us, offline_after_us;
    pthread_mutex_t lock;
    pthread_cond_t wake;
    int stopping;
    int64_t drain_deadline_us;
    pthread_mutex_t query_lock; /* the catalog connection of the readings query */
    fl_catalog *query_catalog;
    struct {
        fl_counter_family *records, *anomalies, *files, *bytes, *over_limit;
        fl_histogram *commit_latency, *freshness;
    } m;
};

static int is_stopping(fl_processor *p)
{
    pthread_mutex_lock(&p->lock);
    int s = p->stopping;
    pthread_mutex_unlock(&p->lock);
    return s;
}

static void nap(fl_processor *p, int64_t us)
{
    struct timespec ts = fl_time_deadline_us(us);
    pthread_mutex_lock(&p->lock);
    if (!p->stopping)
        pthread_cond_timedwait(&p->wake, &p->lock, &ts);
    pthread_mutex_unlock(&p->lock);
}

static void drain(struct proc_thread *t, fl_stream_reader *r, fl_stream_record *held,
                  int have_held)
{
    int rc = 0;
    while (fl_time_mono_us() < t->p->drain_deadline_us &&
           proc_consumer_backoff_left(t->core) == 0) {
        if (!have_held && (rc = fl_stream_reader_next(r, held)) <= 0)
            break;
        have_held = 0;
        if (proc_consumer_offer(t->core, held))
            break;
    }
    rc = proc_consumer_commit(t->core);
    t->drain_rc = rc;
    if (rc)
        FL_ERROR(MODULE, "shard %u: final commit failed: %s (the records stay in the stream and "
                         "are processed at the next start)",
                 t->shard, fl_strerror(rc));
}

static void *consumer_main(void *arg)
{
    struct proc_thread *t = arg;
    fl_processor *p = t->p;
    fl_stream_reader *r = NULL;
    fl_stream_record rec;
    int have_held = 0, read_error = 0;
    unsigned since_tick = 0;
    int rc = t->resume_after
                 ? fl_stream_reader_open(p->deps.stream, t->shard, FL_STREAM_AFTER_SEQUENCE_NUMBER,
                                         t->resume_after, &r)
                 : fl_stream_reader_open(p->deps.stream, t->shard, FL_STREAM_TRIM_HORIZON, 0, &r);
    if (rc) {
        FL_ERROR(MODULE, "shard %u: cannot open a stream reader: %s; processing stopped",
                 t->shard, fl_strerror(rc));
        return NULL;
    }
    while (!is_stopping(p)) {
        if (!have_held) {
            rc = fl_stream_reader_next(r, &rec);
            if (rc < 0) {
                if (!read_error++)
                    FL_ERROR(MODULE, "shard %u: stream read failed: %s; retrying", t->shard,
                             fl_strerror(rc));
                nap(p, FL_US_PER_SEC);
                continue;
            }
            read_error = 0;
            if (rc == 0) {
                if (proc_consumer_tick(t->core)) {
                    /* logged by the core; it backs off */
                }
                since_tick = 0;
                nap(p, POLL_US);
                continue;
            }
        }
        rc = proc_consumer_offer(t->core, &rec);
        have_held = rc != 0; /* not consumed: offer the same record again */
        if (rc) {
            int64_t wait = proc_consumer_backoff_left(t->core);
            nap(p, wait > 0 && wait < FL_US_PER_SEC ? wait : FL_US_PER_SEC / 10);
        }
        if (++since_tick >= TICK_EVERY_RECORDS) {
            if (proc_consumer_tick(t->core)) {
                /* likewise */
            }
            since_tick = 0;
        }
    }
    drain(t, r, &rec, have_held);
    fl_stream_reader_close(r);
    return NULL;
}

/* ---- metrics ----------------------------------------------------------------------------- */

static int write_gauge(fl_buf *out, fl_processor *p, const char *name, const char *help,
                       double (*value)(fl_processor *p, struct proc_thread *t, int64_t now_us))
{
    int rc = fl_metrics_write_header(out, name, "gauge", help);
    int64_t now = fl_time_now_us();
    for (size_t i = 0; !rc && i < p->count; i++) {
        char labels[64];
        snprintf(labels, sizeof labels, "shard=\"shard-%04u\"", p->threads[i].shard);
        rc = fl_metrics_write_sample(out, name, labels, value(p, &p->threads[i], now));
    }
    return rc;
}

static double lag_records(fl_processor *p, struct proc_thread *t, int64_t now)
{
    (void)now;
    fl_stream_shard_stats st;
    if (fl_stream_shard_stats_get(p->deps.stream, t->shard, &st))
        return 0;
    uint64_t ckpt = atomic_load(&t->core->pub_checkpoint);
    return st.last_seq > ckpt ? (double)(st.last_seq - ckpt) : 0;
}

/* Seconds behind the head: how old the newest committed record is, while records wait. */
static double lag_seconds(fl_processor *p, struct proc_thread *t, int64_t now)
{
    if (lag_records(p, t, now) == 0)
        return 0;
    int64_t newest = atomic_load(&t->core->pub_newest_committed_arrival_us);
    return newest && now > newest ? (double)(now - newest) / 1e6 : 0;
}

static double newest_committed(fl_processor *p, struct proc_thread *t, int64_t now)
{
    (void)p, (void)now;
    return (double)atomic_load(&t->core->pub_newest_committed_arrival_us) / 1e6;
}

static double last_commit_max_freshness(fl_processor *p, struct proc_thread *t, int64_t now)
{
    (void)p, (void)now;
    return (double)atomic_load(&t->core->pub_last_commit_max_freshness_us) / 1e6;
}

static double devices(fl_processor *p, struct proc_thread *t, int64_t now)
{
    (void)p, (void)now;
    return (double)atomic_load(&t->core->pub_devices);
}

static double buffered(fl_processor *p, struct proc_thread *t, int64_t now)
{
    (void)p, (void)now;
    return (double)atomic_load(&t->core->pub_buffered_bytes);
}

static int collect(void *ctx, fl_buf *out)
{
    fl_processor *p = ctx;
    int rc = write_gauge(out, p, "fleetlake_process_lag_records",
                         "Records in the stream not yet committed to processed-data (stream head "
                         "minus the processor checkpoint).",
                         lag_records);
    rc = rc ? rc
            : write_gauge(out, p, "fleetlake_process_lag_seconds",
                          "While records wait: age (by stream arrival) of the newest record "
                          "committed to processed-data; 0 when caught up.",
                          lag_seconds);
    rc = rc ? rc
            : write_gauge(out, p, "fleetlake_process_newest_committed_arrival_seconds",
                          "Stream arrival time (Unix seconds) of the newest record committed to "
                          "processed-data.",
                          newest_committed);
    rc = rc ? rc
            : write_gauge(out, p, "fleetlake_process_last_commit_max_freshness_seconds",
                          "Freshness of the oldest record of the last commit (its arrival to "
                          "the commit): the worst case the histogram's buckets blur.",
                          last_commit_max_freshness);
    rc = rc ? rc
            : write_gauge(out, p, "fleetlake_process_devices",
                          "Devices whose state the consumer keeps.", devices);
    rc = rc ? rc
            : write_gauge(out, p, "fleetlake_process_buffered_bytes",
                          "Bytes of processed rows waiting for the next commit.", buffered);
    return rc;
}

static int register_metrics(fl_processor *p)
{
    fl_metrics *m = p->deps.metrics;
    if (!m)
        return 0;
    p->m.records = fl_metrics_counter(m, "fleetlake_process_records_total",
                                      "Stream records processed, by outcome (processed, "
                                      "duplicate: not written, undecodable: skipped).",
                                      "outcome", NULL);
    p->m.anomalies = fl_metrics_counter(m, "fleetlake_process_anomalies_total",
                                        "Records flagged anomalous, by the kind that scored "
                                        "highest.",
                                        "kind", NULL);
    p->m.files = fl_metrics_counter(m, "fleetlake_process_files_committed_total",
                                    "processed-data files committed.", NULL, NULL);
    p->m.bytes = fl_metrics_counter(m, "fleetlake_process_bytes_committed_total",
                                    "Bytes of processed-data files committed.", NULL, NULL);
    p->m.over_limit = fl_metrics_counter(m, "fleetlake_process_devices_over_limit_total",
                                         "Readings of devices not tracked because "
                                         "process.max_devices_per_shard was reached.",
                                         NULL, NULL);
    p->m.commit_latency = fl_metrics_histogram(
        m, "fleetlake_process_commit_seconds",
        "Time to write, publish and commit one processor batch (files, checkpoint, states).",
        NULL);
    p->m.freshness = fl_metrics_histogram(
        m, "fleetlake_process_freshness_seconds",
        "Per record: from its arrival in the stream to its commit in processed-data.", NULL);
    if (!p->m.records || !p->m.anomalies || !p->m.files || !p->m.bytes || !p->m.over_limit ||
        !p->m.commit_latency || !p->m.freshness)
        return FL_ENOMEM;
    return fl_metrics_add_collector(m, collect, p);
}

static void consumer_metrics(fl_processor *p, proc_metrics *cm)
{
    memset(cm, 0, sizeof *cm);
    if (!p->deps.metrics)
        return;
    cm->records = fl_counter_series(p->m.records, "processed", NULL);
    cm->duplicates = fl_counter_series(p->m.records, "duplicate", NULL);
    cm->undecodable = fl_counter_series(p->m.records, "undecodable", NULL);
    cm->over_limit = fl_counter_series(p->m.over_limit, NULL, NULL);
    cm->files = fl_counter_series(p->m.files, NULL, NULL);
    cm->bytes = fl_counter_series(p->m.bytes, NULL, NULL);
    for (int k = 0; k < FL_ANOMALY_KIND_COUNT; k++)
        cm->anomalies[k] = fl_counter_series(p->m.anomalies, fl_anomaly_kind_name(k), NULL);
    cm->commit_latency = p->m.commit_latency;
    cm->freshness = p->m.freshness;
}

/* ---- start / stop ------------------------------------------------------------------------ */

static int setup_consumer(fl_processor *p, struct proc_thread *t, uint32_t shard,
                          int64_t started_us)
{
    const fl_config *cfg = p->deps.cfg;
    t->p = p;
    t->shard = shard;
    int rc = fl_catalog_open(p->deps.meta_path, &t->catalog);
    if (!rc)
        rc = fl_stream_checkpoint_init(fl_catalog_db(t->catalog));
    if (rc) {
        FL_ERROR(MODULE, "cannot open the catalog %s: %s", p->deps.meta_path, fl_strerror(rc));
        return rc;
    }
    proc_consumer_options o = {
        .shard = shard,
        .pcfg = &p->pcfg,
        .tz = p->tz,
        .store = p->deps.store,
        .catalog = t->catalog,
        .batch_interval_us = cfg->process_batch_interval_s * FL_US_PER_SEC,
        .buffer_bytes = cfg->process_buffer_bytes,
        .max_devices = (size_t)cfg->process_max_devices_per_shard,
        .codec = FL_PQ_SNAPPY,
        .observe = p->deps.observe,
        .observe_ctx = p->deps.observe_ctx,
    };
    consumer_metrics(p, &o.metrics);
    if ((rc = proc_consumer_create(&o, &t->core)))
        return rc;
    if ((rc = proc_consumer_recover(t->core, started_us, &t->resume_after))) {
        FL_ERROR(MODULE, "shard %u: recovery failed: %s", shard, fl_strerror(rc));
        return rc;
    }
    FL_INFO(MODULE, "shard %u: processing after sequence number %" PRIu64 " (%zu device(s) "
                    "restored, %" PRIu64 " orphan file(s) removed)",
            shard, t->resume_after, t->core->ndevices, t->core->orphans_removed);
    return 0;
}

int fl_processor_start(const fl_processor_deps *deps, fl_processor **out)
{
    int64_t started_us = fl_time_now_us();
    char err[256];
    fl_processor *p = fl_calloc(1, sizeof *p);
    if (!p)
        return FL_ENOMEM;
    p->deps = *deps;
    pthread_mutex_init(&p->lock, NULL);
    pthread_cond_init(&p->wake, NULL);
    pthread_mutex_init(&p->query_lock, NULL);
    p->stale_after_us = deps->cfg->process_stale_after_s * FL_US_PER_SEC;
    p->offline_after_us = deps->cfg->process_offline_after_s * FL_US_PER_SEC;
    int rc = fl_process_config_from_config(deps->cfg, &p->pcfg, err, sizeof err);
    if (rc)
        FL_ERROR(MODULE, "%s", err);
    if (!rc && (rc = fl_tz_load(p->pcfg.time_zone, &p->tz)))
        FL_ERROR(MODULE, "process.time_zone: cannot load '%s': %s", p->pcfg.time_zone,
                 fl_strerror(rc));
    if (!rc && (rc = fl_catalog_open(deps->meta_path, &p->query_catalog)))
        FL_ERROR(MODULE, "cannot open the catalog %s: %s", deps->meta_path, fl_strerror(rc));
    uint32_t shards = fl_stream_shard_count(deps->stream);
    if (!rc)
        rc = (p->threads = fl_calloc(shards, sizeof *p->threads)) ? register_metrics(p)
                                                                   : FL_ENOMEM;
    for (uint32_t s = 0; !rc && s < shards; s++, p->count++)
        rc = setup_consumer(p, &p->threads[p->count], s, started_us);
    for (size_t i = 0; !rc && i < p->count; i++) {
        rc = -pthread_create(&p->threads[i].thread, NULL, consumer_main, &p->threads[i]);
        p->threads[i].started = rc == 0;
    }
    if (rc) {
        (void)fl_processor_stop(p, 0);
        return rc;
    }
    *out = p;
    return 0;
}

int fl_processor_stop(fl_processor *p, int64_t timeout_us)
{
    if (!p)
        return 0;
    pthread_mutex_lock(&p->lock);
    p->stopping = 1;
    p->drain_deadline_us = fl_time_mono_us() + timeout_us;
    pthread_cond_broadcast(&p->wake);
    pthread_mutex_unlock(&p->lock);
    int rc = 0;
    for (size_t i = 0; p->threads && i < p->count; i++) {
        if (p->threads[i].started) {
            pthread_join(p->threads[i].thread, NULL);
            if (!rc)
                rc = p->threads[i].drain_rc;
        }
    }
    for (size_t i = 0; p->threads && i < p->count; i++) {
        proc_consumer_destroy(p->threads[i].core);
        fl_catalog_close(p->threads[i].catalog);
    }
    fl_catalog_close(p->query_catalog);
    fl_tz_destroy(p->tz);
    pthread_mutex_destroy(&p->lock);
    pthread_cond_destroy(&p->wake);
    pthread_mutex_destroy(&p->query_lock);
    fl_free(p->threads);
    fl_free(p);
    return rc;
}

/* ---- queries ----------------------------------------------------------------------------- */

const char *fl_device_status_name(int status)
{
    switch (status) {
    case FL_DEVICE_ONLINE: return "online";
    case FL_DEVICE_STALE: return "stale";
    default: return "offline";
    }
}

int fl_device_status_parse(const char *s)
{
    for (int i = FL_DEVICE_ONLINE; i <= FL_DEVICE_OFFLINE; i++)
        if (strcmp(s, fl_device_status_name(i)) == 0)
            return i;
    return -1;
}

static int status_at(const fl_processor *p, int64_t last_seen_us, int64_t now_us)
{
    int64_t silent = now_us - last_seen_us;
    return silent >= p->offline_after_us ? FL_DEVICE_OFFLINE
           : silent >= p->stale_after_us ? FL_DEVICE_STALE
                                         : FL_DEVICE_ONLINE;
}

int fl_processor_device_get(fl_processor *p, fl_slice device_id, int64_t now_us,
                            fl_device_info *out)
{
    for (size_t i = 0; i < p->count; i++) {
        if (proc_consumer_device_get(p->threads[i].core, device_id, out) == 0) {
            out->status = status_at(p, out->last_seen_us, now_us);
            return 0;
        }
    }
    return FL_ENOTFOUND;
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Collect the ids (copied) of every matching device of every consumer, sort, page. */
int fl_processor_devices_list(fl_processor *p, int status, const char *after, int64_t now_us,
                              fl_device_info *out, size_t max, size_t *n, int *more)
{
    char **ids = NULL;
    size_t nids = 0, cap = 0;
    int rc = 0;
    *n = 0;
    *more = 0;
    for (size_t i = 0; !rc && i < p->count; i++) {
        proc_consumer *c = p->threads[i].core;
        pthread_mutex_lock(&c->lock);
        for (size_t b = 0; !rc && b < c->nbuckets; b++) {
            for (proc_device *d = c->buckets[b]; !rc && d; d = d->next) {
                if ((after && *after && strcmp(d->id, after) <= 0) ||
                    (status >= 0 && status_at(p, d->last_seen_us, now_us) != status))
                    continue;
                if (nids == cap) {
                    size_t ncap = cap ? cap * 2 : 256;
                    char **v = fl_realloc(ids, ncap * sizeof *v);
                    if (!v) {
                        rc = FL_ENOMEM;
                        break;
                    }
                    ids = v;
                    cap = ncap;
                }
                if (!(ids[nids] = fl_malloc(d->id_len + 1)))
                    rc = FL_ENOMEM;
                else
                    memcpy(ids[nids++], d->id, d->id_len + 1);
            }
        }
        pthread_mutex_unlock(&c->lock);
    }
    if (!rc && nids)
        qsort(ids, nids, sizeof *ids, cmp_str);
    for (size_t i = 0; !rc && i < nids && *n < max; i++) {
        /* A device is never forgotten, so it is still there. */
        if (fl_processor_device_get(p, (fl_slice){ids[i], strlen(ids[i])}, now_us, &out[*n]) == 0)
            (*n)++;
    }
    *more = !rc && nids > max;
    for (size_t i = 0; i < nids; i++)
        fl_free(ids[i]);
    fl_free(ids);
    return rc;
}

struct readings {
    fl_lake_processed_row *v;
    size_t n, cap;
    int rc;
};

static int add_reading(void *arg, const fl_lake_processed_row *row)
{
    struct readings *r = arg;
    if (r->n == r->cap) {
        size_t cap = r->cap ? r->cap * 2 : 256;
        fl_lake_processed_row *v = fl_realloc(r->v, cap * sizeof *v);
        if (!v)
            return FL_ENOMEM;
        r->v = v;
        r->cap = cap;
    }
    r->v[r->n] = *row;
    r->v[r->n++].device_id = (fl_slice){"", 0};
    return 0;
}

/* Rows processed and not committed yet (before reading the files: a commit in between shows
 * rows in both, collapsed below; never in neither). */
static int unflushed(fl_processor *p, fl_slice id, int64_t from, int64_t to, struct readings *r)
{
    int rc = 0;
    for (size_t i = 0; !rc && i < p->count; i++) {
        proc_consumer *c = p->threads[i].core;
        pthread_mutex_lock(&c->lock);
        for (size_t k = 0; !rc && k < c->nparts; k++) {
            const proc_part *part = &c->parts[k];
            for (size_t j = 0; !rc && j < part->n; j++) {
                const fl_lake_processed_row *row = &part->rows[j];
                if (row->device_id.len == id.len &&
                    memcmp(row->device_id.ptr, id.ptr, id.len) == 0 &&
                    row->timestamp_us >= from && row->timestamp_us <= to)
                    rc = add_reading(r, row);
            }
        }
        pthread_mutex_unlock(&c->lock);
    }
    return rc;
}

struct file_scan {
    fl_processor *p;
    fl_slice id;
    int64_t from, to;
    struct readings *r;
};

static int on_file(void *arg, const fl_lake_file *f)
{
    struct file_scan *s = arg;
    /* Prune by the file's event-time range (its hour partition contains it). */
    if (f->rows == 0 || f->max_ts < s->from || f->min_ts > s->to)
        return 0;
    return fl_lake_processed_read(s->p->deps.store, f->path, s->id, s->from, s->to, add_reading,
                                  s->r);
}

static int cmp_ts(const void *a, const void *b)
{
    const fl_lake_processed_row *x = a, *y = b;
    return (x->timestamp_us > y->timestamp_us) - (x->timestamp_us < y->timestamp_us);
}

/* The hours [from, to] covers, queried one partition at a time when there are few of them
 * (the catalog's partition index), otherwise the whole table filtered by each file's range. */
static int scan_files(fl_processor *p, struct file_scan *s)
{
    int64_t h0 = fl_lake_hour_of(s->from), h1 = fl_lake_hour_of(s->to);
    int rc = 0;
    pthread_mutex_lock(&p->query_lock);
    if (h1 - h0 <= 24 * 7) {
        for (int64_t h = h0; !rc && h <= h1; h++) {
            fl_lake_partition part = fl_lake_partition_of_hour(h);
            fl_catalog_filter flt = fl_catalog_filter_table(FL_LAKE_PROCESSED_TABLE);
            flt.year = part.year;
            flt.month = part.month;
            flt.day = part.day;
            flt.hour = part.hour;
            flt.state = FL_CATALOG_STATE_LIVE;
            rc = fl_catalog_files_query(p->query_catalog, &flt, on_file, s);
        }
    } else {
        fl_catalog_filter flt = fl_catalog_filter_table(FL_LAKE_PROCESSED_TABLE);
        flt.state = FL_CATALOG_STATE_LIVE;
        rc = fl_catalog_files_query(p->query_catalog, &flt, on_file, s);
    }
    pthread_mutex_unlock(&p->query_lock);
    return rc;
}

int fl_processor_readings(fl_processor *p, fl_slice device_id, int64_t from_us, int64_t to_us,
                          fl_lake_processed_row *out, size_t max, size_t *n, int *more)
{
    struct readings r = {0};
    struct file_scan s = {p, device_id, from_us, to_us, &r};
    *n = 0;
    *more = 0;
    int rc = unflushed(p, device_id, from_us, to_us, &r);
    if (!rc)
        rc = scan_files(p, &s);
    if (!rc) {
        if (r.n)
            qsort(r.v, r.n, sizeof *r.v, cmp_ts);
        for (size_t i = 0; i < r.n; i++) {
            if (*n && out[*n - 1].timestamp_us == r.v[i].timestamp_us)
                continue; /* the same row seen buffered and committed */
            if (*n == max) {
                *more = 1;
                break;
            }
            out[(*n)++] = r.v[i];
        }
    }
    fl_free(r.v);
    return rc;
}
