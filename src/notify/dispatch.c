/* dispatch.c — the notification dispatcher: one worker thread per [channel.NAME] delivering
 * that channel's due outbox rows, off every hot path (the SNS delivery role).
 *
 * One worker per channel keeps a slow or unreachable receiver (each attempt may take up to
 * the channel's timeout_s) from delaying the other channels, and makes the rate limit and the
 * curl handle (kept-alive connections) the worker's own, with no locks. A worker sleeps until
 * its next row is due, outbox.poll_interval_ms passes, or fl_notify_dispatcher_kick wakes it
 * (the alert engine kicks after committing, so a new alert is sent within milliseconds).
 *
 * A pass: read up to FL_OUTBOX_BATCH due rows; for each, wait for the rate window, render,
 * send, and commit the outcome at once — delivered (2xx), retry at now + backoff (or the
 * receiver's Retry-After), or failed (refused, or out of attempts or age). Rows due later
 * than now never block earlier ones; delivery order within a channel is by due time, so a
 * retried notification can arrive after a newer one (receivers order by updated_at). */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "notify/notify_int.h"

#define MODULE "notify"

/* The retention purge runs at most this often per channel: the table grows by alerts, not
 * readings, so hourly keeps it small without a DELETE per pass. */
#define PURGE_INTERVAL_US (INT64_C(3600) * FL_US_PER_SEC)
/* Wait after a database error before the next pass (the error is logged each time). */
#define ERROR_PAUSE_US (INT64_C(1) * FL_US_PER_SEC)

/* ---- backoff and rate window (pure) ----------------------------------------------------- */

int64_t fl_notify_backoff_us(const fl_config *cfg, int64_t attempts, uint64_t random)
{
    int64_t cap = cfg->outbox_retry_max_s * FL_US_PER_SEC;
    int64_t delay = cfg->outbox_retry_initial_ms * FL_US_PER_MS;
    for (int64_t i = 1; i < attempts && delay < cap; i++)
        delay *= 2;
    if (delay > cap)
        delay = cap;
    int64_t half = delay / 2;
    return half + (half > 0 ? (int64_t)(random % (uint64_t)(half + 1)) : 0);
}

int fl_rate_window_init(fl_rate_window *w, int64_t per_min)
{
    memset(w, 0, sizeof *w);
    w->limit = per_min;
    if (per_min <= 0)
        return 0;
    w->times = fl_calloc((size_t)per_min, sizeof *w->times);
    return w->times ? 0 : FL_ENOMEM;
}

void fl_rate_window_free(fl_rate_window *w)
{
    fl_free(w->times);
    w->times = NULL;
}

int64_t fl_rate_window_next_free(const fl_rate_window *w, int64_t now)
{
    if (w->limit <= 0 || w->count < w->limit)
        return now;
    int64_t oldest = w->times[w->head]; /* full ring: head is the oldest */
    int64_t free_at = oldest + 60 * FL_US_PER_SEC;
    return free_at > now ? free_at : now;
}

void fl_rate_window_take(fl_rate_window *w, int64_t now)
{
    if (w->limit <= 0)
        return;
    if (w->count < w->limit) {
        w->times[(w->head + w->count) % w->limit] = now;
        w->count++;
    } else {
        w->times[w->head] = now;
        w->head = (w->head + 1) % w->limit;
    }
}

/* ---- one worker ---------------------------------------------------------------------------- */

static uint64_t next_random(uint64_t *s)
{
    uint64_t x = *s; /* xorshift64: jitter only, not security */
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    return *s = x;
}

int fl_notify_worker_create(const fl_config *cfg, const fl_channel_config *ch,
                            const char *meta_path, const fl_notify_metrics *m,
                            fl_notify_worker **out)
{
    fl_notify_worker *w = fl_calloc(1, sizeof *w);
    if (!w)
        return FL_ENOMEM;
    w->cfg = cfg;
    w->channel = ch;
    w->ops = fl_channel_ops_of(ch->type);
    w->metrics = m;
    w->clock_us = fl_time_now_us;
    w->random_state =
        (uint64_t)fl_time_mono_us() ^ ((uint64_t)(uintptr_t)w << 16) ^ 0x9e3779b97f4a7c15u;
    int rc = w->ops ? fl_rate_window_init(&w->rate, ch->rate_per_min) : FL_ECONFIG;
    if (!rc && sqlite3_open_v2(meta_path, &w->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX,
                               NULL) != SQLITE_OK) {
        FL_ERROR(MODULE, "[channel.%s]: cannot open %s: %s", ch->name, meta_path,
                 w->db ? sqlite3_errmsg(w->db) : "out of memory");
        rc = FL_ESQLITE;
    }
    if (!rc) {
        /* synchronous is per connection: 'delivered' must be durable before the next send. */
        sqlite3_busy_timeout(w->db, 10000);
        if (sqlite3_exec(w->db, "PRAGMA synchronous=FULL", NULL, NULL, NULL) != SQLITE_OK)
            rc = FL_ESQLITE;
    }
    if (!rc && !(w->curl = curl_easy_init()))
        rc = FL_ENOMEM;
    if (rc) {
        fl_notify_worker_destroy(w);
        return rc;
    }
    *out = w;
    return 0;
}

void fl_notify_worker_destroy(fl_notify_worker *w)
{
    if (!w)
        return;
    if (w->curl)
        curl_easy_cleanup(w->curl);
    if (w->db)
        sqlite3_close(w->db);
    fl_rate_window_free(&w->rate);
    fl_free(w);
}

static void count(const fl_notify_worker *w, const char *outcome, const fl_send_result *res)
{
    if (!w->metrics || !w->metrics->deliveries)
        return;
    fl_counter_add(fl_counter_series(w->metrics->deliveries, w->channel->name, outcome), 1);
    if (res->outcome != FL_SEND_DELIVERED && w->metrics->failures && res->reason[0])
        fl_counter_add(fl_counter_series(w->metrics->failures, w->channel->name, res->reason), 1);
}

/* Render and send one row; fills res. */
static void attempt(fl_notify_worker *w, const fl_outbox_row *row, fl_send_result *res)
{
    json_error_t jerr;
    fl_buf body = {0};
    memset(res, 0, sizeof *res);
    json_t *alert = json_loads(row->payload, 0, &jerr);
    fl_notification n = {row, alert, ""};
    snprintf(n.idempotency_key, sizeof n.idempotency_key, "%lld:%s", (long long)row->id,
             alert ? fl_alert_json_str(alert, "dedup_key") : "");
    int rc = alert && json_is_object(alert) ? w->ops->render(w->channel, &n, &body) : FL_EPARSE;
    if (rc) {
        /* A payload we cannot render now we never will: give it up, do not retry. */
        res->outcome = FL_SEND_REJECTED;
        snprintf(res->reason, sizeof res->reason, "other");
        snprintf(res->error, sizeof res->error, "cannot render the notification: %s",
                 alert ? fl_strerror(rc) : jerr.text);
    } else {
        curl_easy_reset(w->curl);
        fl_notify_curl_common(w->curl, w->channel, &w->stop);
        w->ops->send(w->curl, w->channel, &n, &body, res);
    }
    json_decref(alert);
    fl_buf_free(&body);
}

/* Commit what the attempt came to. */
static int record(fl_notify_worker *w, const fl_outbox_row *row, const fl_send_result *res)
{
    int64_t now = w->clock_us(), attempts = row->attempts + 1;
    const char *name = w->channel->name;
    if (res->outcome == FL_SEND_DELIVERED) {
        int rc = fl_outbox_mark_delivered(w->db, row->id, attempts, now);
        if (!rc && w->metrics && w->metrics->latency)
            fl_histogram_observe(w->metrics->latency, now - row->created_at);
        count(w, "delivered", res);
        FL_DEBUG(MODULE, "[channel.%s] notification %lld (alert %lld %s) delivered, attempt %lld",
                 name, (long long)row->id, (long long)row->alert_id, row->event,
                 (long long)attempts);
        return rc;
    }
    const char *why = res->outcome == FL_SEND_REJECTED          ? "refused"
                      : attempts >= w->cfg->outbox_max_attempts ? "out of attempts"
                      : now - row->created_at >= w->cfg->outbox_max_age_s * FL_US_PER_SEC
                          ? "too old"
                          : NULL;
    if (why) {
        count(w, "failed", res);
        FL_ERROR(MODULE,
                 "[channel.%s] notification %lld (alert %lld %s) failed (%s) after %lld "
                 "attempt(s): %s",
                 name, (long long)row->id, (long long)row->alert_id, row->event, why,
                 (long long)attempts, res->error);
        return fl_outbox_mark_failed(w->db, row->id, attempts, res->error);
    }
    int64_t wait = fl_notify_backoff_us(w->cfg, attempts, next_random(&w->random_state));
    if (res->retry_after_us > wait)
        wait = res->retry_after_us;
    count(w, "retry", res);
    FL_WARN(MODULE, "[channel.%s] notification %lld attempt %lld failed, retry in %.1f s: %s", name,
            (long long)row->id, (long long)attempts, (double)wait / 1e6, res->error);
    return fl_outbox_mark_retry(w->db, row->id, attempts, now + wait, res->error);
}

int fl_notify_worker_run_once(fl_notify_worker *w, int64_t *next_at)
{
    fl_outbox_row rows[FL_OUTBOX_BATCH];
    const char *name = w->channel->name;
    int rc = 0;
    *next_at = INT64_MAX;
    while (!rc && !atomic_load(&w->stop)) {
        size_t n = 0;
        if ((rc = fl_outbox_due(w->db, name, w->clock_us(), rows, FL_OUTBOX_BATCH, &n)) || !n)
            break;
        size_t i = 0;
        for (; i < n && !rc && !atomic_load(&w->stop); i++) {
            int64_t now = w->clock_us(), free_at = fl_rate_window_next_free(&w->rate, now);
            if (free_at > now) {
                *next_at = free_at; /* rate limited: the rest waits in the outbox */
                break;
            }
            fl_rate_window_take(&w->rate, now);
            fl_send_result res;
            attempt(w, &rows[i], &res);
            if (atomic_load(&w->stop) && res.outcome != FL_SEND_DELIVERED)
                break; /* aborted by stop: stays pending as it was */
            rc = record(w, &rows[i], &res);
        }
        fl_outbox_rows_free(rows, n);
        if (*next_at != INT64_MAX)
            break;
    }
    int64_t due = INT64_MAX, pending = 0;
    if (!rc && !(rc = fl_outbox_pending(w->db, name, &due, &pending))) {
        atomic_store(&w->pending, pending);
        /* A rate-limited pass has set *next_at to when the window frees; else the next due. */
        if (*next_at == INT64_MAX)
            *next_at = due;
    }
    int64_t now = w->clock_us();
    if (!rc && now - w->purged_at >= PURGE_INTERVAL_US) {
        int64_t purged = 0;
        rc = fl_outbox_purge(w->db, name,
                             now - w->cfg->outbox_retention_days * 86400 * FL_US_PER_SEC, &purged);
        w->purged_at = now;
        if (purged)
            FL_INFO(MODULE, "[channel.%s] purged %lld notification(s) older than %lld days", name,
                    (long long)purged, (long long)w->cfg->outbox_retention_days);
    }
    return rc;
}

/* ---- the dispatcher: threads, wake-ups, metrics ------------------------------------------ */

struct fl_notify_dispatcher {
    const fl_config *cfg;
    fl_notify_worker *workers[FL_CONFIG_MAX_CHANNELS];
    size_t worker_count;
    fl_notify_metrics metrics;
    pthread_mutex_t lock;
    pthread_cond_t wake;
    uint64_t kick_seq; /* under lock: bumped by every kick */
    int stopping;      /* under lock */
    int curl_initialised;
};

/* The dispatcher of this process, for fl_notify_kick (serve runs one). */
static pthread_mutex_t current_lock = PTHREAD_MUTEX_INITIALIZER;
static fl_notify_dispatcher *current;

struct worker_arg {
    fl_notify_dispatcher *d;
    fl_notify_worker *w;
};

static void wait_until(fl_notify_dispatcher *d, fl_notify_worker *w, int64_t next_at)
{
    int64_t poll_at = fl_time_now_us() + d->cfg->outbox_poll_interval_ms * FL_US_PER_MS;
    int64_t until = next_at < poll_at ? next_at : poll_at;
    /* next_at is on the worker's (real-time) clock, so is the deadline. */
    struct timespec ts = {(time_t)(until / FL_US_PER_SEC), (long)(until % FL_US_PER_SEC) * 1000};
    pthread_mutex_lock(&d->lock);
    while (!d->stopping && w->seen_kick == d->kick_seq && fl_time_now_us() < until)
        if (pthread_cond_timedwait(&d->wake, &d->lock, &ts) == ETIMEDOUT)
            break;
    w->seen_kick = d->kick_seq;
    pthread_mutex_unlock(&d->lock);
}

static void *worker_main(void *arg)
{
    fl_notify_dispatcher *d = ((struct worker_arg *)arg)->d;
    fl_notify_worker *w = ((struct worker_arg *)arg)->w;
    fl_free(arg);
    int failing = 0;
    while (!atomic_load(&w->stop)) {
        int64_t next_at = INT64_MAX;
        int rc = fl_notify_worker_run_once(w, &next_at);
        if (rc) {
            if (!failing)
                FL_ERROR(MODULE, "[channel.%s] dispatcher pass failed: %s (retrying)",
                         w->channel->name, fl_strerror(rc));
            failing = 1;
            next_at = fl_time_now_us() + ERROR_PAUSE_US;
        } else if (failing) {
            FL_INFO(MODULE, "[channel.%s] dispatcher recovered", w->channel->name);
            failing = 0;
        }
        wait_until(d, w, next_at);
    }
    return NULL;
}

static int collect_pending(void *ctx, fl_buf *out)
{
    fl_notify_dispatcher *d = ctx;
    static const char name[] = "fleetlake_notify_outbox_pending";
    int rc = fl_metrics_write_header(out, name, "gauge",
                                     "Notifications waiting in the outbox, by channel.");
    for (size_t i = 0; !rc && i < d->worker_count; i++) {
        char labels[128];
        snprintf(labels, sizeof labels, "channel=\"%s\"", d->workers[i]->channel->name);
        rc = fl_metrics_write_sample(out, name, labels,
                                     (double)atomic_load(&d->workers[i]->pending));
    }
    return rc;
}

static int register_metrics(fl_notify_dispatcher *d, fl_metrics *m)
{
    fl_notify_metrics *nm = &d->metrics;
    nm->deliveries = fl_metrics_counter(
        m, "fleetlake_notify_deliveries_total",
        "Notification delivery attempts by channel and outcome (delivered; retry: failed, will "
        "be retried; failed: given up).",
        "channel", "outcome");
    nm->failures = fl_metrics_counter(m, "fleetlake_notify_failures_total",
                                      "Failed notification delivery attempts by channel and "
                                      "reason (connect, timeout, tls, http_4xx, http_5xx, smtp, "
                                      "other).",
                                      "channel", "reason");
    nm->latency = fl_metrics_histogram(
        m, "fleetlake_notify_delivery_seconds",
        "Time from an alert event's commit to its notification's delivery (retries included).",
        NULL);
    return nm->deliveries && nm->failures && nm->latency ? 0 : FL_ENOMEM;
}

static int start_workers(fl_notify_dispatcher *d, const char *meta_path)
{
    for (int64_t i = 0; i < d->cfg->channel_count; i++) {
        fl_notify_worker *w = NULL;
        int rc = fl_notify_worker_create(d->cfg, &d->cfg->channels[i], meta_path, &d->metrics, &w);
        if (rc)
            return rc;
        d->workers[d->worker_count++] = w;
        struct worker_arg *arg = fl_malloc(sizeof *arg);
        if (!arg)
            return FL_ENOMEM;
        *arg = (struct worker_arg){d, w};
        if ((rc = pthread_create(&w->thread, NULL, worker_main, arg))) {
            fl_free(arg);
            return -rc;
        }
        w->thread_started = 1;
        FL_INFO(MODULE, "[channel.%s] %s channel ready (min_severity %s, fleets %s, %lld/min)",
                w->channel->name, w->channel->type, w->channel->min_severity,
                w->channel->fleets[0] ? w->channel->fleets : "all",
                (long long)w->channel->rate_per_min);
    }
    return 0;
}

/* Mark the pending rows of removed channels failed, on a short-lived connection. */
static int sweep_orphans(const fl_config *cfg, const char *meta_path)
{
    sqlite3 *db = NULL;
    int64_t n = 0;
    int rc =
        sqlite3_open_v2(meta_path, &db, SQLITE_OPEN_READWRITE, NULL) == SQLITE_OK ? 0 : FL_ESQLITE;
    if (!rc) {
        sqlite3_busy_timeout(db, 10000);
        rc = fl_notify_outbox_init(db);
    }
    rc = rc ? rc : fl_outbox_fail_orphans(db, cfg, &n);
    sqlite3_close(db);
    return rc;
}

int fl_notify_dispatcher_start(const fl_notify_dispatcher_deps *deps, fl_notify_dispatcher **out)
{
    if (!deps || !deps->cfg || !deps->meta_path)
        return FL_EINVAL;
    fl_notify_dispatcher *d = fl_calloc(1, sizeof *d);
    if (!d)
        return FL_ENOMEM;
    d->cfg = deps->cfg;
    pthread_mutex_init(&d->lock, NULL);
    pthread_cond_init(&d->wake, NULL); /* CLOCK_REALTIME: deadlines are the outbox's times */
    int rc = curl_global_init(CURL_GLOBAL_DEFAULT) == CURLE_OK ? 0 : FL_ENOMEM;
    d->curl_initialised = rc == 0;
    rc = rc ? rc : sweep_orphans(deps->cfg, deps->meta_path);
    if (!rc && deps->metrics)
        rc = register_metrics(d, deps->metrics);
    rc = rc ? rc : start_workers(d, deps->meta_path);
    /* The gauge collector last: a failed start frees d, which it must not point to. */
    if (!rc && deps->metrics)
        rc = fl_metrics_add_collector(deps->metrics, collect_pending, d);
    if (rc) {
        FL_ERROR(MODULE, "cannot start the notification dispatcher: %s", fl_strerror(rc));
        fl_notify_dispatcher_stop(d);
        return rc;
    }
    pthread_mutex_lock(&current_lock);
    current = d;
    pthread_mutex_unlock(&current_lock);
    *out = d;
    return 0;
}

void fl_notify_dispatcher_kick(fl_notify_dispatcher *d)
{
    if (!d)
        return;
    pthread_mutex_lock(&d->lock);
    d->kick_seq++;
    pthread_cond_broadcast(&d->wake);
    pthread_mutex_unlock(&d->lock);
}

void fl_notify_kick(void)
{
    pthread_mutex_lock(&current_lock);
    fl_notify_dispatcher_kick(current);
    pthread_mutex_unlock(&current_lock);
}

void fl_notify_dispatcher_stop(fl_notify_dispatcher *d)
{
    if (!d)
        return;
    pthread_mutex_lock(&current_lock);
    if (current == d)
        current = NULL;
    pthread_mutex_unlock(&current_lock);
    pthread_mutex_lock(&d->lock);
    d->stopping = 1;
    for (size_t i = 0; i < d->worker_count; i++)
        atomic_store(&d->workers[i]->stop, 1);
    pthread_cond_broadcast(&d->wake);
    pthread_mutex_unlock(&d->lock);
    for (size_t i = 0; i < d->worker_count; i++) {
        if (d->workers[i]->thread_started)
            pthread_join(d->workers[i]->thread, NULL);
        fl_notify_worker_destroy(d->workers[i]);
    }
    if (d->curl_initialised)
        curl_global_cleanup();
    pthread_cond_destroy(&d->wake);
    pthread_mutex_destroy(&d->lock);
    fl_free(d);
}
