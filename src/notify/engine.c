/* engine.c — the alert engine: per-reading rule state, the event queue, the engine thread
 * (applying events to the alert store with their notifications in one transaction), the
 * periodic checks (offline devices, pipeline signals, re-notification), the API transitions
 * and the server-sent-event ring. notify.h describes the flow. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/statvfs.h>

#include "notify/engine_int.h"

#define MODULE "alerts"
#define QUEUE_CAP 16384 /* events are transitions, not readings: ~3 MiB bounds a storm */
#define TICK_US (1000 * 1000)

/* Count an event (no-op without a metrics registry). */
static void count(fl_counter *c, uint64_t n)
{
    if (c)
        fl_counter_add(c, n);
}

/* ---- rule sets ------------------------------------------------------------------------------ */

static ruleset *ruleset_ref(ruleset *rs)
{
    atomic_fetch_add(&rs->refs, 1);
    return rs;
}

ruleset *fl_ruleset_get(fl_alert_engine *e)
{
    pthread_mutex_lock(&e->rules_lock);
    ruleset *rs = ruleset_ref(e->rules);
    pthread_mutex_unlock(&e->rules_lock);
    return rs;
}

void fl_ruleset_put(ruleset *rs)
{
    if (rs && atomic_fetch_sub(&rs->refs, 1) == 1)
        fl_free(rs);
}

const rule *fl_ruleset_find(const ruleset *rs, int index, uint64_t identity)
{
    if (index >= 0 && (size_t)index < rs->count && rs->rules[index].identity == identity)
        return &rs->rules[index];
    for (size_t i = 0; i < rs->count; i++)
        if (rs->rules[i].identity == identity)
            return &rs->rules[i];
    return NULL;
}

/* ---- per-shard device tables (observer side) ---------------------------------------------- */

static uint64_t hash_id(const char *p, size_t n)
{
    uint64_t h = 1469598103934665603ULL;
    for (size_t i = 0; i < n; i++)
        h = (h ^ (uint8_t)p[i]) * 1099511628211ULL;
    return h;
}

/* The device, or NULL (caller holds t->lock). */
static device *device_find(const shard_table *t, const char *id, size_t n)
{
    if (!t->buckets)
        return NULL;
    for (device *d = t->buckets[hash_id(id, n) % t->nbuckets]; d; d = d->next)
        if (d->id_len == n && memcmp(d->id, id, n) == 0)
            return d;
    return NULL;
}

/* Find or add a device (caller holds t->lock). NULL when the table is full or out of memory. */
static device *device_get(fl_alert_engine *e, shard_table *t, const char *id, size_t n)
{
    if (n > 128)
        return NULL;
    device *found = device_find(t, id, n);
    if (found)
        return found;
    if (!t->buckets) {
        t->nbuckets = 1024;
        t->buckets = fl_calloc(t->nbuckets, sizeof *t->buckets);
        if (!t->buckets)
            return NULL;
    }
    if (t->count >= t->cap)
        return NULL;
    if (t->count >= t->nbuckets * 2) { /* grow */
        size_t nb = t->nbuckets * 4;
        device **b = fl_calloc(nb, sizeof *b);
        if (b) {
            for (size_t i = 0; i < t->nbuckets; i++)
                for (device *d = t->buckets[i], *next; d; d = next) {
                    next = d->next;
                    size_t k = hash_id(d->id, d->id_len) % nb;
                    d->next = b[k];
                    b[k] = d;
                }
            fl_free(t->buckets);
            t->buckets = b;
            t->nbuckets = nb;
        }
    }
    device *d = fl_calloc(1, sizeof *d + t->state_slots * sizeof(dev_rule_state));
    if (!d)
        return NULL;
    memcpy(d->id, id, n);
    d->id_len = (uint8_t)n;
    d->fleet_mask = fl_fleet_mask_of_device(e->deps.cfg, id, n);
    size_t k = hash_id(id, n) % t->nbuckets;
    d->next = t->buckets[k];
    t->buckets[k] = d;
    t->count++;
    return d;
}

/* d's state for rule r, started over when it belongs to another definition of the rule. */
static dev_rule_state *rule_state(device *d, const rule *r)
{
    dev_rule_state *st = &d->st[r->slot];
    uint16_t tag = (uint16_t)r->identity;
    if (st->tag != tag)
        *st = (dev_rule_state){.tag = tag};
    return st;
}

/* Rule index i of rs, for device dev (n bytes, "" for pipeline rules). */
static void event_make(alert_event *ev, enum event_kind kind, const ruleset *rs, size_t i,
                       const char *dev, size_t n, double value, int64_t at)
{
    ev->kind = kind;
    ev->rule = (int)i;
    ev->identity = rs->rules[i].identity;
    memcpy(ev->device, dev, n);
    ev->device[n] = 0;
    ev->value = value;
    ev->at = at;
    ev->trace_id[0] = 0;
}

/* Queue events. Never blocks: the observer runs under the processor's locks, which the
 * engine thread may need (metrics collectors) while it drains. A full queue drops the event
 * and counts it (fleetlake_alert_events_total{kind="dropped"}); the rule state was already
 * updated, so a dropped TRIGGER is retried by the next CLEAR/TRIGGER cycle, not at once. */
static void enqueue_events(fl_alert_engine *e, const alert_event *evs, size_t n)
{
    size_t dropped = 0;
    pthread_mutex_lock(&e->q_lock);
    for (size_t i = 0; i < n; i++) {
        if (e->q_len == QUEUE_CAP || e->stopping) {
            dropped++;
            continue;
        }
        e->queue[(e->q_head + e->q_len++) % QUEUE_CAP] = evs[i];
    }
    if (dropped)
        count(e->dropped, dropped);
    pthread_cond_signal(&e->q_nonempty);
    pthread_mutex_unlock(&e->q_lock);
}

static int reading_value(const rule *r, const fl_processed *p, double *v)
{
    switch (r->field) {
    case FIELD_TEMPERATURE:
        *v = p->temperature;
        return (p->present & FL_REC_TEMPERATURE) != 0;
    case FIELD_HUMIDITY:
        *v = p->humidity;
        return (p->present & FL_REC_HUMIDITY) != 0;
    case FIELD_PRESSURE:
        *v = p->pressure;
        return (p->present & FL_REC_PRESSURE) != 0;
    case FIELD_ANOMALY_SCORE:
        *v = p->anomaly_score;
        return 1;
    }
    return 0;
}

void fl_alert_engine_observe(void *ctx, uint32_t shard, const fl_processed *p, int64_t arrival_us)
{
    fl_alert_engine *e = ctx;
    shard_table *t = &e->shards[shard % SHARDS_MAX];
    alert_event evs[RULES_MAX];
    size_t nev = 0;
    pthread_mutex_lock(&t->lock);
    const ruleset *rs = t->rules;
    device *d = device_get(e, t, p->device_id.ptr, p->device_id.len);
    if (!d) {
        pthread_mutex_unlock(&t->lock);
        return;
    }
    if (arrival_us > d->last_arrival_us)
        d->last_arrival_us = arrival_us;
    for (size_t i = 0; i < rs->count && nev < RULES_MAX; i++) {
        const rule *r = &rs->rules[i];
        if (r->fleet_mask && !(r->fleet_mask & d->fleet_mask))
            continue;
        if (r->type == RULE_OFFLINE) {
            dev_rule_state *s = rule_state(d, r);
            if (s->active) {
                s->active = 0;
                event_make(&evs[nev++], EV_CLEAR, rs, i, d->id, d->id_len, 0, arrival_us);
            }
            continue;
        }
        if (r->type != RULE_ANOMALY && r->type != RULE_THRESHOLD)
            continue;
        double v = p->anomaly_score;
        int bad;
        if (r->type == RULE_ANOMALY)
            bad = p->anomaly_flag;
        else if (reading_value(r, p, &v))
            bad = fl_rule_holds(r->op, v, r->value);
        else
            continue; /* the field is absent: no evidence either way */
        dev_rule_state *s = rule_state(d, r);
        if (bad) {
            s->good = 0;
            if (++s->bad >= r->count && !s->active) {
                s->active = 1;
                event_make(&evs[nev++], EV_TRIGGER, rs, i, d->id, d->id_len, v, p->timestamp_us);
            }
        } else {
            s->bad = 0;
            if (s->active && ++s->good >= r->clear_count) {
                s->active = 0;
                s->good = 0;
                event_make(&evs[nev++], EV_CLEAR, rs, i, d->id, d->id_len, v, p->timestamp_us);
            }
        }
    }
    pthread_mutex_unlock(&t->lock);
    for (size_t k = 0; k < nev; k++) /* the reading's trace id, for the alert it opens */
        memcpy(evs[k].trace_id, p->trace_id, sizeof evs[k].trace_id);
    if (nev)
        enqueue_events(e, evs, nev);
}

void fl_alert_engine_observe_quality(void *ctx, const char *dev, size_t len, int64_t hour_us,
                                     double score)
{
    fl_alert_engine *e = ctx;
    alert_event evs[RULES_MAX];
    size_t nev = 0;
    pthread_mutex_lock(&e->quality.lock);
    device *d = device_get(e, &e->quality, dev, len);
    /* An hour recomputed after a newer one was seen (late data) says nothing about now. */
    const ruleset *rs = e->quality.rules;
    if (d && hour_us >= d->last_arrival_us) {
        d->last_arrival_us = hour_us;
        for (size_t i = 0; i < rs->count && nev < RULES_MAX; i++) {
            const rule *r = &rs->rules[i];
            if (r->type != RULE_QUALITY || (r->fleet_mask && !(r->fleet_mask & d->fleet_mask)))
                continue;
            int bad = fl_rule_holds(r->op, score, r->value);
            event_make(&evs[nev++], bad ? EV_TRIGGER : EV_CLEAR, rs, i, d->id, d->id_len, score,
                       hour_us);
        }
    }
    pthread_mutex_unlock(&e->quality.lock);
    if (nev)
        enqueue_events(e, evs, nev);
}

/* ---- applying events (engine thread, db_lock held, inside a transaction) ------------------- */

int fl_engine_exec(sqlite3 *db, const char *sql)
{
    return sqlite3_exec(db, sql, NULL, NULL, NULL) == SQLITE_OK ? 0 : FL_ESQLITE;
}

void fl_engine_rollback(sqlite3 *db)
{
    /* Nothing to do when it fails: the transaction is then already gone. */
    sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
}

static void dedup_key(const rule *r, const char *dev, char *out, size_t n)
{
    if (dev[0])
        snprintf(out, n, "%s/%s", r->name, dev);
    else
        snprintf(out, n, "%s", r->name);
}

/* Enqueue a notification (when channels exist) and count it on the alert. */
static int notify(fl_alert_engine *e, fl_alert *a, const char *event)
{
    if (!e->deps.enqueue)
        return 0;
    int rc = e->deps.enqueue(e->db, e->deps.cfg, a, event);
    if (!rc)
        a->notify_count++;
    return rc;
}

static void first_fleet(const fl_config *cfg, uint64_t mask, char *out, size_t n)
{
    out[0] = 0;
    for (int64_t i = 0; i < cfg->fleet_count && i < 64; i++)
        if (mask & (UINT64_C(1) << i)) {
            snprintf(out, n, "%s", cfg->fleets[i].name);
            return;
        }
}

static void summarize(const rule *r, const char *dev, double value, char *out, size_t n)
{
    static const char *const ops[] = {">", ">=", "<", "<="};
    static const char *const fields[] = {"temperature", "humidity", "pressure", "anomaly_score"};
    switch (r->type) {
    case RULE_ANOMALY:
        snprintf(out, n, "%s: anomalous reading (score %.3f)", dev, value);
        break;
    case RULE_THRESHOLD:
        snprintf(out, n, "%s: %s %g %s %g for %lld reading(s)", dev, fields[r->field], value,
                 ops[r->op], r->value, (long long)r->count);
        break;
    case RULE_OFFLINE:
        snprintf(out, n, "%s: no reading for %lld s", dev,
                 (long long)(r->after_us / FL_US_PER_SEC));
        break;
    case RULE_QUALITY:
        snprintf(out, n, "%s: hourly data quality %.3f %s %g", dev, value, ops[r->op], r->value);
        break;
    case RULE_PIPELINE:
        snprintf(out, n, "fleetlake %s = %g %s %g for %lld s", fl_pipeline_signal_name(r->field),
                 value, ops[r->op], r->value, (long long)(r->after_us / FL_US_PER_SEC));
        break;
    }
}

/* Apply one event of rule set rs; *changed receives the alert when one changed (return 1),
 * else 0. An event of a rule changed or deleted since it was made is stale: its rule's
 * per-device state was laid out anew (fl_engine_adopt_rules), so it is dropped. */
static int apply(fl_alert_engine *e, const ruleset *rs, const alert_event *ev, fl_alert *changed,
                 int64_t now)
{
    const rule *r = fl_ruleset_find(rs, ev->rule, ev->identity);
    if (!r)
        return 0;
    char key[256];
    dedup_key(r, ev->device, key, sizeof key);
    fl_alert a;
    int rc = fl_alert_store_find_active(e->db, key, &a);
    if (rc && rc != FL_ENOTFOUND)
        return rc;
    int exists = rc == 0;
    if (ev->kind == EV_CLEAR) {
        if (!exists)
            return 0;
        a.state = FL_ALERT_RESOLVED;
        a.resolved_at = a.updated_at = now;
        snprintf(a.resolved_by, sizeof a.resolved_by, "auto");
        if ((rc = notify(e, &a, FL_NOTIFY_RESOLVE)) || (rc = fl_alert_store_update(e->db, &a, now)))
            return rc;
        count(e->auto_resolved, 1);
        *changed = a;
        return 1;
    }
    if (exists) { /* already open: a fresh value, no new notification */
        a.value = ev->value;
        a.updated_at = now;
        if ((rc = fl_alert_store_update(e->db, &a, now)))
            return rc;
        *changed = a;
        return 1;
    }
    int64_t last;
    if ((rc = fl_alert_store_last_resolved(e->db, key, &last)))
        return rc;
    if (last >= 0 && now - last < r->cooldown_us) {
        count(e->suppressed, 1);
        return 0;
    }
    memset(&a, 0, sizeof a);
    snprintf(a.rule, sizeof a.rule, "%s", r->name);
    snprintf(a.type, sizeof a.type, "%s", fl_rule_type_name(r->type));
    a.severity = r->severity;
    a.state = FL_ALERT_OPEN;
    snprintf(a.dedup_key, sizeof a.dedup_key, "%s", key);
    snprintf(a.device_id, sizeof a.device_id, "%s", ev->device);
    if (ev->device[0])
        first_fleet(e->deps.cfg,
                    fl_fleet_mask_of_device(e->deps.cfg, ev->device, strlen(ev->device)), a.fleet,
                    sizeof a.fleet);
    summarize(r, ev->device, ev->value, a.summary, sizeof a.summary);
    a.has_value = r->type != RULE_OFFLINE;
    a.value = ev->value;
    a.threshold = r->type == RULE_ANOMALY ? 0 : r->value;
    a.opened_at = a.updated_at = now;
    a.acked_at = a.resolved_at = -1;
    snprintf(a.trace_id, sizeof a.trace_id, "%s", ev->trace_id);
    if ((rc = fl_alert_store_insert(e->db, &a, now)) || (rc = notify(e, &a, FL_NOTIFY_TRIGGER)) ||
        (rc = fl_alert_store_update(e->db, &a, now)))
        return rc;
    count(e->opened, 1);
    *changed = a;
    return 1;
}

void fl_engine_publish(fl_alert_engine *e, const fl_alert *alerts, size_t n)
{
    if (!n)
        return;
    pthread_mutex_lock(&e->ring_lock);
    for (size_t i = 0; i < n; i++) {
        uint64_t seq = ++e->ring_seq;
        e->ring[seq % RING_CAP].seq = seq;
        e->ring[seq % RING_CAP].alert = alerts[i];
    }
    pthread_cond_broadcast(&e->ring_cond);
    pthread_mutex_unlock(&e->ring_lock);
    if (e->deps.kick)
        e->deps.kick(e->deps.kick_ctx);
}

/* Apply a batch of events in one transaction; publish what changed. */
static void apply_batch(fl_alert_engine *e, const alert_event *evs, size_t n)
{
    fl_alert *changed = fl_calloc(n ? n : 1, sizeof *changed);
    if (!changed) {
        FL_ERROR(MODULE, "out of memory applying %zu alert events", n);
        return;
    }
    size_t nc = 0;
    int64_t now = fl_time_now_us();
    pthread_mutex_lock(&e->db_lock);
    ruleset *rs = fl_ruleset_get(e); /* under db_lock: rule changes swap the set under it */
    int rc = fl_engine_exec(e->db, "BEGIN IMMEDIATE");
    for (size_t i = 0; !rc && i < n; i++) {
        int r = apply(e, rs, &evs[i], &changed[nc], now);
        if (r < 0)
            rc = r;
        else
            nc += (size_t)r;
    }
    rc = rc ? rc : fl_engine_exec(e->db, "COMMIT");
    if (rc) {
        fl_engine_rollback(e->db);
        nc = 0;
        count(e->notify_errors, 1);
        FL_ERROR(MODULE, "cannot store %zu alert event(s): %s (%s)", n, fl_strerror(rc),
                 sqlite3_errmsg(e->db));
    }
    pthread_mutex_unlock(&e->db_lock);
    fl_ruleset_put(rs);
    fl_engine_publish(e, changed, nc);
    fl_free(changed);
}

/* ---- periodic checks ------------------------------------------------------------------------ */

/* Offline triggers of table t from bucket `from` on, into evs (at most cap in all); returns
 * the bucket where it stopped with evs full, or t->nbuckets when it scanned them all (caller
 * holds t->lock). A device marked offline is not collected again, so a resumed scan that
 * revisits part of a bucket adds nothing twice. */
static size_t offline_scan(shard_table *t, size_t from, int64_t now, alert_event *evs, size_t *nev,
                           size_t cap)
{
    const ruleset *rs = t->rules;
    for (size_t b = from; t->buckets && b < t->nbuckets; b++)
        for (device *d = t->buckets[b]; d; d = d->next)
            for (size_t i = 0; i < rs->count; i++) {
                const rule *r = &rs->rules[i];
                if (r->type != RULE_OFFLINE || now - d->last_arrival_us <= r->after_us ||
                    (r->fleet_mask && !(r->fleet_mask & d->fleet_mask)))
                    continue;
                dev_rule_state *s = rule_state(d, r);
                if (s->active)
                    continue;
                if (*nev == cap)
                    return b;
                s->active = 1;
                event_make(&evs[(*nev)++], EV_TRIGGER, rs, i, d->id, d->id_len,
                           (double)(now - d->last_arrival_us) / 1e6, now);
            }
    return t->nbuckets;
}

/* Devices silent for an offline rule's after_s. The table lock is not held while events are
 * applied: a full buffer is applied and the scan resumes at the bucket where it stopped. */
static void check_offline(fl_alert_engine *e, int64_t now)
{
    alert_event evs[64];
    size_t nev = 0;
    for (size_t s = 0; s < SHARDS_MAX; s++) {
        shard_table *t = &e->shards[s];
        for (size_t b = 0;;) {
            pthread_mutex_lock(&t->lock);
            b = offline_scan(t, b, now, evs, &nev, sizeof evs / sizeof evs[0]);
            int more = b < t->nbuckets;
            pthread_mutex_unlock(&t->lock);
            if (!more)
                break;
            apply_batch(e, evs, nev);
            nev = 0;
        }
    }
    if (nev)
        apply_batch(e, evs, nev);
}

/* Sum (or max) of the samples of metric name in a Prometheus exposition; label_has: only
 * series whose labels contain it. */
static double metric(const char *text, const char *name, const char *label_has, int want_max)
{
    double acc = 0;
    size_t nl = strlen(name);
    for (const char *p = text; p && *p; p = strchr(p, '\n'), p = p ? p + 1 : NULL) {
        if (strncmp(p, name, nl) != 0 || (p[nl] != ' ' && p[nl] != '{'))
            continue;
        const char *eol = strchr(p, '\n');
        const char *sp = eol ? eol : p + strlen(p);
        while (sp > p && sp[-1] != ' ')
            sp--;
        if (label_has) {
            const char *lb = p + nl;
            if (*lb != '{')
                continue;
            const char *end = strchr(lb, '}');
            size_t ln = strlen(label_has);
            int hit = 0;
            for (const char *q = lb; end && q + ln <= end; q++)
                hit |= strncmp(q, label_has, ln) == 0;
            if (!hit)
                continue;
        }
        double v = strtod(sp, NULL);
        acc = want_max ? (v > acc ? v : acc) : acc + v;
    }
    return acc;
}

static void take_sample(fl_alert_engine *e, const char *text, int64_t now)
{
    sample *s = &e->samples[e->sample_next];
    s->at_us = now;
    s->records_all = metric(text, "fleetlake_records_total", NULL, 0);
    s->records_accepted = metric(text, "fleetlake_records_total", "outcome=\"accepted\"", 0);
    s->records_rejected = s->records_all - s->records_accepted;
    s->http_all = metric(text, "fleetlake_http_requests_total", NULL, 0);
    s->http_5xx = 0;
    for (char c = '0'; c <= '9'; c++) {
        char l[16];
        snprintf(l, sizeof l, "status=\"5%c", c);
        s->http_5xx += metric(text, "fleetlake_http_requests_total", l, 0);
    }
    s->fsync_sum = metric(text, "fleetlake_stream_fsync_seconds_sum", NULL, 0);
    s->fsync_count = metric(text, "fleetlake_stream_fsync_seconds_count", NULL, 0);
    e->sample_next = (e->sample_next + 1) % (SIGNAL_WINDOW + 1);
    if (e->nsamples < SIGNAL_WINDOW + 1)
        e->nsamples++;
}

/* The newest sample and the oldest in the window. */
static int window(const fl_alert_engine *e, const sample **old, const sample **cur)
{
    if (e->nsamples < 2)
        return 0;
    size_t newest = (e->sample_next + SIGNAL_WINDOW) % (SIGNAL_WINDOW + 1);
    size_t oldest = e->nsamples < SIGNAL_WINDOW + 1 ? 0 : e->sample_next;
    *cur = &e->samples[newest];
    *old = &e->samples[oldest];
    return (*cur)->at_us > (*old)->at_us;
}

static double signal_value(fl_alert_engine *e, int sig, const char *text)
{
    const sample *o = NULL, *c = NULL;
    int w = window(e, &o, &c);
    double secs = w ? (double)(c->at_us - o->at_us) / 1e6 : 0;
    switch (sig) {
    case SIG_CONSUMER_LAG:
        return metric(text, "fleetlake_process_lag_records", NULL, 0);
    case SIG_FRESHNESS: {
        double a = metric(text, "fleetlake_process_lag_seconds", NULL, 1);
        double b = metric(text, "fleetlake_process_last_commit_max_freshness_seconds", NULL, 1);
        return a > b ? a : b;
    }
    case SIG_INGEST_ERROR_RATE: {
        double all = w ? c->records_all - o->records_all : 0;
        return all > 0 ? (c->records_rejected - o->records_rejected) / all : 0;
    }
    case SIG_AVAILABILITY: {
        double all = w ? c->http_all - o->http_all : 0;
        return all > 0 ? 1.0 - (c->http_5xx - o->http_5xx) / all : 1.0;
    }
    case SIG_FREE_DISK: {
        struct statvfs st;
        if (statvfs(e->deps.data_dir, &st) || st.f_blocks == 0)
            return 1.0;
        return (double)st.f_bavail / (double)st.f_blocks;
    }
    case SIG_FSYNC_LATENCY: {
        double n = w ? c->fsync_count - o->fsync_count : 0;
        return n > 0 ? 1000.0 * (c->fsync_sum - o->fsync_sum) / n : 0;
    }
    case SIG_INGEST_RATE:
        return w && secs > 0 ? (c->records_accepted - o->records_accepted) / secs : 0;
    }
    return NAN;
}

/* Lay pstate out for rs (engine thread): a rule whose identity rs keeps keeps its state; a new
 * or changed one starts over, active when its alert is open (so that it still resolves). */
static void pipeline_adopt(fl_alert_engine *e, ruleset *rs)
{
    if (e->pstate_rules == rs)
        return;
    pipeline_state ps[RULES_MAX];
    for (size_t i = 0; i < rs->count; i++) {
        const ruleset *old = e->pstate_rules;
        const rule *r = &rs->rules[i];
        const rule *was = old ? fl_ruleset_find(old, (int)i, r->identity) : NULL;
        if (was) {
            ps[i] = e->pstate[was - old->rules];
            continue;
        }
        ps[i] = (pipeline_state){.cond_since = -1, .clear_since = -1, .active = 0};
        fl_alert a;
        if (r->type == RULE_PIPELINE) {
            pthread_mutex_lock(&e->db_lock);
            ps[i].active = fl_alert_store_find_active(e->db, r->name, &a) == 0;
            pthread_mutex_unlock(&e->db_lock);
        }
    }
    memcpy(e->pstate, ps, rs->count * sizeof ps[0]);
    fl_ruleset_put(e->pstate_rules);
    e->pstate_rules = ruleset_ref(rs);
}

static void check_pipeline(fl_alert_engine *e, const ruleset *rs, int64_t now)
{
    int any = 0;
    for (size_t i = 0; i < rs->count; i++)
        any |= rs->rules[i].type == RULE_PIPELINE;
    if (!any || !e->deps.metrics)
        return;
    fl_buf text = {0};
    pthread_mutex_lock(&e->check_lock);
    int rc = e->checks_off ? FL_ECLOSED : fl_metrics_render(e->deps.metrics, &text);
    pthread_mutex_unlock(&e->check_lock);
    if (rc || fl_buf_append(&text, "", 1)) {
        fl_buf_free(&text);
        return;
    }
    take_sample(e, text.data, now);
    alert_event evs[RULES_MAX];
    size_t nev = 0;
    for (size_t i = 0; i < rs->count; i++) {
        const rule *r = &rs->rules[i];
        if (r->type != RULE_PIPELINE)
            continue;
        pipeline_state *ps = &e->pstate[i];
        double v = signal_value(e, r->field, text.data);
        int cond = isfinite(v) && fl_rule_holds(r->op, v, r->value);
        if (cond) {
            ps->clear_since = -1;
            if (ps->cond_since < 0)
                ps->cond_since = now;
            if (!ps->active && now - ps->cond_since >= r->after_us) {
                ps->active = 1;
                event_make(&evs[nev++], EV_TRIGGER, rs, i, "", 0, v, now);
            }
        } else {
            ps->cond_since = -1;
            if (ps->clear_since < 0)
                ps->clear_since = now;
            if (ps->active && now - ps->clear_since >= r->after_us) {
                ps->active = 0;
                event_make(&evs[nev++], EV_CLEAR, rs, i, "", 0, v, now);
            }
        }
    }
    fl_buf_free(&text);
    if (nev)
        apply_batch(e, evs, nev);
}

struct renotify_ctx {
    const ruleset *rules;
    int64_t now;
    fl_alert due[64];
    size_t n;
};

static int renotify_visit(void *ctx, const fl_alert *a, int64_t last_notified)
{
    struct renotify_ctx *c = ctx;
    if (a->state != FL_ALERT_OPEN || c->n == sizeof c->due / sizeof c->due[0])
        return 0;
    for (size_t i = 0; i < c->rules->count; i++) {
        const rule *r = &c->rules->rules[i];
        if (strcmp(r->name, a->rule) == 0 && r->renotify_us > 0 &&
            c->now - last_notified >= r->renotify_us)
            c->due[c->n++] = *a;
    }
    return 0;
}

static void check_renotify(fl_alert_engine *e, const ruleset *rs, int64_t now)
{
    int any = 0;
    for (size_t i = 0; i < rs->count; i++)
        any |= rs->rules[i].renotify_us > 0;
    if (!any)
        return;
    struct renotify_ctx *c = fl_calloc(1, sizeof *c);
    if (!c)
        return;
    c->rules = rs;
    c->now = now;
    pthread_mutex_lock(&e->db_lock);
    int rc = fl_engine_exec(e->db, "BEGIN IMMEDIATE");
    rc = rc ? rc : fl_alert_store_active(e->db, renotify_visit, c);
    for (size_t i = 0; !rc && i < c->n; i++) {
        rc = notify(e, &c->due[i], FL_NOTIFY_TRIGGER);
        rc = rc ? rc : fl_alert_store_update(e->db, &c->due[i], now);
    }
    rc = rc ? rc : fl_engine_exec(e->db, "COMMIT");
    if (rc)
        fl_engine_rollback(e->db);
    pthread_mutex_unlock(&e->db_lock);
    if (!rc && c->n && e->deps.kick)
        e->deps.kick(e->deps.kick_ctx);
    fl_free(c);
}

static void *engine_main(void *arg)
{
    fl_alert_engine *e = arg;
    alert_event *batch = fl_malloc(256 * sizeof *batch);
    int64_t next_tick = fl_time_mono_us() + TICK_US;
    for (;;) {
        size_t n = 0;
        pthread_mutex_lock(&e->q_lock);
        while (!e->q_len && !e->stopping) {
            int64_t wait = next_tick - fl_time_mono_us();
            if (wait <= 0)
                break;
            struct timespec ts = fl_time_deadline_us(wait);
            pthread_cond_timedwait(&e->q_nonempty, &e->q_lock, &ts);
        }
        while (batch && e->q_len && n < 256) {
            batch[n++] = e->queue[e->q_head];
            e->q_head = (e->q_head + 1) % QUEUE_CAP;
            e->q_len--;
        }
        int stop = e->stopping && !e->q_len;
        pthread_cond_broadcast(&e->q_nonfull);
        pthread_mutex_unlock(&e->q_lock);
        if (n)
            apply_batch(e, batch, n);
        if (fl_time_mono_us() >= next_tick) {
            int64_t now = fl_time_now_us();
            ruleset *rs = fl_ruleset_get(e);
            pipeline_adopt(e, rs);
            check_offline(e, now);
            check_pipeline(e, rs, now);
            check_renotify(e, rs, now);
            fl_ruleset_put(rs);
            next_tick = fl_time_mono_us() + TICK_US;
        }
        if (stop)
            break;
    }
    fl_free(batch);
    return NULL;
}

static int collect(void *ctx, fl_buf *out);

/* ---- start, stop ---------------------------------------------------------------------------- */

/* Load devices' last-seen times from device_state (offline rules survive restarts). */
static int load_devices(fl_alert_engine *e)
{
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v2(e->db, "SELECT device_id, shard, last_seen FROM device_state", -1, &st,
                           NULL) != SQLITE_OK)
        return 0; /* no device_state yet: nothing to load */
    while (sqlite3_step(st) == SQLITE_ROW) {
        const char *id = (const char *)sqlite3_column_text(st, 0);
        int n = sqlite3_column_bytes(st, 0);
        shard_table *t = &e->shards[(uint32_t)sqlite3_column_int(st, 1) % SHARDS_MAX];
        pthread_mutex_lock(&t->lock);
        device *d = id ? device_get(e, t, id, (size_t)n) : NULL;
        if (d)
            d->last_arrival_us = sqlite3_column_int64(st, 2);
        pthread_mutex_unlock(&t->lock);
    }
    sqlite3_finalize(st);
    return 0;
}

/* Devices have state for a multiple of this many rule slots, so that most added rules fit
 * the arrays they have: 8 x 12 bytes at most unused per device. */
#define STATE_SLOTS_STEP 8

/* Give every device of t room for slots rule states (caller holds t->lock), keeping the states
 * it has. A device whose allocation fails leaves the table; its next reading brings it back
 * with fresh state. */
static void table_grow(shard_table *t, size_t slots)
{
    size_t old = t->state_slots;
    for (size_t b = 0; t->buckets && b < t->nbuckets; b++)
        for (device **pp = &t->buckets[b]; *pp;) {
            device *d = *pp, *nd = fl_calloc(1, sizeof *d + slots * sizeof(d->st[0]));
            if (!nd) {
                *pp = d->next;
                t->count--;
                fl_free(d);
                continue;
            }
            memcpy(nd, d, sizeof *d + old * sizeof(d->st[0]));
            *pp = nd;
            pp = &nd->next;
            fl_free(d);
        }
    t->state_slots = slots;
}

/* Mark the devices of t with an open alert of a per-device rule active for it (caller holds
 * t->lock), so that its condition clearing resolves the alert as it would have before. */
static void table_restore(shard_table *t, const active_alert *actives, size_t n)
{
    const ruleset *rs = t->rules;
    for (size_t k = 0; k < n; k++) {
        device *d = device_find(t, actives[k].device, strlen(actives[k].device));
        const rule *r = d ? fl_ruleset_find(rs, -1, actives[k].identity) : NULL;
        if (!r)
            continue;
        if (r->type == RULE_OFFLINE || r->type == RULE_ANOMALY || r->type == RULE_THRESHOLD)
            rule_state(d, r)->active = 1;
    }
}

void fl_engine_adopt_rules(fl_alert_engine *e, ruleset *rs, const active_alert *actives,
                           size_t nactives)
{
    size_t slots = 0;
    for (size_t i = 0; i < rs->count; i++)
        if (rs->rules[i].slot >= slots)
            slots = rs->rules[i].slot + 1;
    slots = (slots + STATE_SLOTS_STEP - 1) / STATE_SLOTS_STEP * STATE_SLOTS_STEP;
    for (size_t s = 0; s <= SHARDS_MAX; s++) {
        shard_table *t = s < SHARDS_MAX ? &e->shards[s] : &e->quality;
        pthread_mutex_lock(&t->lock);
        if (slots > t->state_slots)
            table_grow(t, slots);
        if (t->rules != rs) {
            fl_ruleset_put(t->rules);
            t->rules = ruleset_ref(rs);
        }
        if (s < SHARDS_MAX)
            table_restore(t, actives, nactives);
        pthread_mutex_unlock(&t->lock);
    }
}

/* Rules, device tables and their state from the open alerts (the engine is not running yet). */
static int load_rules_and_devices(fl_alert_engine *e, char *err, size_t errlen)
{
    int rc = fl_engine_exec(e->db, "BEGIN IMMEDIATE");
    if (!rc && (rc = fl_alert_store_init(e->db)))
        snprintf(err, errlen, "cannot create the alerts table: %s", sqlite3_errmsg(e->db));
    rc = rc ? rc : fl_engine_rules_load(e, err, errlen);
    rc = rc ? rc : fl_engine_exec(e->db, "COMMIT");
    if (rc) {
        fl_engine_rollback(e->db);
        return rc;
    }
    fl_engine_adopt_rules(e, e->rules, NULL, 0);
    active_alert *actives = NULL;
    size_t n = 0;
    if ((rc = load_devices(e)) || (rc = fl_engine_collect_actives(e, NULL, e->rules, &actives, &n)))
        return rc;
    fl_engine_adopt_rules(e, e->rules, actives, n);
    fl_free(actives);
    return 0;
}

int fl_alert_engine_start(const fl_alert_engine_deps *deps, fl_alert_engine **out, char *err,
                          size_t errlen)
{
    fl_alert_engine *e = fl_calloc(1, sizeof *e);
    if (!e)
        return FL_ENOMEM;
    e->deps = *deps;
    int rc = 0;
    pthread_mutex_init(&e->rules_lock, NULL);
    pthread_mutex_init(&e->change_lock, NULL);
    pthread_mutex_init(&e->db_lock, NULL);
    pthread_mutex_init(&e->check_lock, NULL);
    pthread_mutex_init(&e->q_lock, NULL);
    pthread_cond_init(&e->q_nonempty, NULL);
    pthread_cond_init(&e->q_nonfull, NULL);
    pthread_mutex_init(&e->ring_lock, NULL);
    pthread_cond_init(&e->ring_cond, NULL);
    for (size_t s = 0; s < SHARDS_MAX; s++) {
        pthread_mutex_init(&e->shards[s].lock, NULL);
        e->shards[s].cap = (size_t)deps->cfg->process_max_devices_per_shard;
    }
    pthread_mutex_init(&e->quality.lock, NULL);
    e->quality.cap = (size_t)(deps->cfg->process_max_devices_per_shard * deps->cfg->shards);
    /* The counters start at zero with the process: that is the first sample, so the rate
     * signals also see what happens before the first tick (errors, 5xx, fsyncs at start). */
    e->samples[0].at_us = fl_time_now_us();
    e->nsamples = e->sample_next = 1;
    e->queue = fl_malloc(QUEUE_CAP * sizeof *e->queue);
    if (!e->queue) {
        rc = FL_ENOMEM;
        goto fail;
    }
    if (sqlite3_open_v2(deps->meta_path, &e->db,
                        SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX,
                        NULL) != SQLITE_OK) {
        snprintf(err, errlen, "cannot open %s", deps->meta_path);
        rc = FL_ESQLITE;
        goto fail;
    }
    sqlite3_busy_timeout(e->db, 10000);
    if ((rc = fl_engine_exec(e->db, "PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL;"))) {
        snprintf(err, errlen, "cannot use %s: %s", deps->meta_path, sqlite3_errmsg(e->db));
        goto fail;
    }
    if ((rc = load_rules_and_devices(e, err, errlen)))
        goto fail;
    if (deps->metrics) {
        e->events_total = fl_metrics_counter(deps->metrics, "fleetlake_alert_events_total",
                                             "Alert life-cycle events by kind (opened, "
                                             "auto_resolved, acknowledged, resolved, "
                                             "suppressed by cooldown, dropped with a full "
                                             "queue, store_errors).",
                                             "kind", NULL);
        if (!e->events_total) {
            rc = FL_ENOMEM;
            goto fail;
        }
        e->suppressed = fl_counter_series(e->events_total, "suppressed", NULL);
        e->notify_errors = fl_counter_series(e->events_total, "store_errors", NULL);
        e->dropped = fl_counter_series(e->events_total, "dropped", NULL);
        e->opened = fl_counter_series(e->events_total, "opened", NULL);
        e->auto_resolved = fl_counter_series(e->events_total, "auto_resolved", NULL);
        e->acknowledged = fl_counter_series(e->events_total, "acknowledged", NULL);
        e->resolved = fl_counter_series(e->events_total, "resolved", NULL);
        if ((rc = fl_metrics_add_collector(deps->metrics, collect, e)))
            goto fail;
    }
    if ((rc = -pthread_create(&e->thread, NULL, engine_main, e)))
        goto fail;
    e->started = 1;
    *out = e;
    return 0;
fail:
    fl_alert_engine_stop(e);
    return rc;
}

void fl_alert_engine_stop_checks(fl_alert_engine *e)
{
    if (!e)
        return;
    pthread_mutex_lock(&e->check_lock);
    e->checks_off = 1;
    pthread_mutex_unlock(&e->check_lock);
}

void fl_alert_engine_stop(fl_alert_engine *e)
{
    if (!e)
        return;
    if (e->started) {
        pthread_mutex_lock(&e->q_lock);
        e->stopping = 1;
        pthread_cond_broadcast(&e->q_nonempty);
        pthread_cond_broadcast(&e->q_nonfull);
        pthread_mutex_unlock(&e->q_lock);
        pthread_join(e->thread, NULL);
    }
    pthread_mutex_lock(&e->ring_lock);
    pthread_cond_broadcast(&e->ring_cond);
    pthread_mutex_unlock(&e->ring_lock);
    for (size_t s = 0; s <= SHARDS_MAX; s++) {
        shard_table *t = s < SHARDS_MAX ? &e->shards[s] : &e->quality;
        for (size_t b = 0; t->buckets && b < t->nbuckets; b++)
            for (device *d = t->buckets[b], *next; d; d = next) {
                next = d->next;
                fl_free(d);
            }
        fl_free(t->buckets);
        fl_ruleset_put(t->rules);
        pthread_mutex_destroy(&t->lock);
    }
    fl_ruleset_put(e->pstate_rules);
    fl_ruleset_put(e->rules);
    sqlite3_close(e->db);
    fl_free(e->queue);
    fl_free(e);
}

/* ---- the API -------------------------------------------------------------------------------- */

/* Alerts without a device (pipeline) are for keys that see every device. */
static int visible(const fl_access *access, const fl_alert *a)
{
    if (!access || access->unrestricted_rows)
        return 1;
    return a->device_id[0] && fl_access_device_allowed(access, a->device_id, strlen(a->device_id));
}

static int keep(const fl_alert_filter *f, const fl_alert *a)
{
    return visible(f->access, a);
}

int fl_alert_engine_list(fl_alert_engine *e, const fl_alert_filter *f, fl_alert **out, size_t *n,
                         int *more)
{
    pthread_mutex_lock(&e->db_lock);
    int rc = fl_alert_store_list(e->db, f, keep, out, n, more);
    pthread_mutex_unlock(&e->db_lock);
    return rc;
}

/* A person's transition of alert id to state to (acknowledged or resolved). */
static int transition(fl_alert_engine *e, int64_t id, fl_alert_state to, const char *actor,
                      const fl_access *access, fl_alert *out)
{
    int64_t now = fl_time_now_us();
    pthread_mutex_lock(&e->db_lock);
    int rc = fl_engine_exec(e->db, "BEGIN IMMEDIATE");
    fl_alert a;
    rc = rc ? rc : fl_alert_store_get(e->db, id, &a);
    if (!rc && !visible(access, &a))
        rc = FL_ENOTFOUND;
    if (!rc && (a.state == FL_ALERT_RESOLVED || (to == FL_ALERT_ACKNOWLEDGED && a.state == to)))
        rc = FL_EINVAL;
    if (!rc) {
        a.state = to;
        a.updated_at = now;
        if (to == FL_ALERT_ACKNOWLEDGED) {
            a.acked_at = now;
        } else {
            a.resolved_at = now;
            snprintf(a.resolved_by, sizeof a.resolved_by, "%s", actor && *actor ? actor : "api");
        }
        rc = notify(e, &a, to == FL_ALERT_ACKNOWLEDGED ? FL_NOTIFY_ACKNOWLEDGE : FL_NOTIFY_RESOLVE);
        rc = rc ? rc : fl_alert_store_update(e->db, &a, now);
    }
    rc = rc ? rc : fl_engine_exec(e->db, "COMMIT");
    if (rc)
        fl_engine_rollback(e->db);
    pthread_mutex_unlock(&e->db_lock);
    if (rc)
        return rc;
    count(to == FL_ALERT_ACKNOWLEDGED ? e->acknowledged : e->resolved, 1);
    *out = a;
    fl_engine_publish(e, &a, 1);
    return 0;
}

int fl_engine_resolve_rule(fl_alert_engine *e, const char *rule_name, const char *actor,
                           int64_t now, fl_alert **out, size_t *n)
{
    fl_alert *v = NULL;
    size_t nv = 0;
    int rc = fl_alert_store_active_list(e->db, rule_name, &v, &nv);
    for (size_t i = 0; !rc && i < nv; i++) {
        fl_alert *a = &v[i];
        a->state = FL_ALERT_RESOLVED;
        a->resolved_at = a->updated_at = now;
        snprintf(a->resolved_by, sizeof a->resolved_by, "%s", actor && *actor ? actor : "api");
        rc = notify(e, a, FL_NOTIFY_RESOLVE);
        rc = rc ? rc : fl_alert_store_update(e->db, a, now);
    }
    if (rc) {
        fl_free(v);
        return rc;
    }
    count(e->resolved, nv);
    *out = v;
    *n = nv;
    return 0;
}

int fl_alert_engine_ack(fl_alert_engine *e, int64_t id, const char *actor, const fl_access *access,
                        fl_alert *out)
{
    return transition(e, id, FL_ALERT_ACKNOWLEDGED, actor, access, out);
}

int fl_alert_engine_resolve(fl_alert_engine *e, int64_t id, const char *actor,
                            const fl_access *access, fl_alert *out)
{
    return transition(e, id, FL_ALERT_RESOLVED, actor, access, out);
}

int fl_alert_engine_events(fl_alert_engine *e, uint64_t *cursor, const fl_access *access,
                           fl_buf *out, int64_t timeout_us)
{
    int frames = 0;
    pthread_mutex_lock(&e->ring_lock);
    if (e->ring_seq == *cursor && timeout_us > 0) {
        struct timespec ts = fl_time_deadline_us(timeout_us);
        pthread_cond_timedwait(&e->ring_cond, &e->ring_lock, &ts);
    }
    uint64_t from = *cursor + 1;
    if (e->ring_seq >= RING_CAP && from <= e->ring_seq - RING_CAP)
        from = e->ring_seq - RING_CAP + 1; /* the subscriber fell behind the ring */
    int rc = 0;
    for (uint64_t seq = from; !rc && seq <= e->ring_seq; seq++) {
        const ring_entry *r = &e->ring[seq % RING_CAP];
        if (!visible(access, &r->alert))
            continue;
        rc = fl_buf_printf(out, "id: %llu\nevent: alert\ndata: ", (unsigned long long)seq);
        rc = rc ? rc : fl_alert_to_json(&r->alert, out);
        rc = rc ? rc : fl_buf_append_cstr(out, "\n\n");
        frames++;
    }
    *cursor = e->ring_seq;
    pthread_mutex_unlock(&e->ring_lock);
    return rc ? rc : frames;
}

/* /metrics: alerts by state and severity, from the table at scrape time. */
static int collect(void *ctx, fl_buf *out)
{
    fl_alert_engine *e = ctx;
    int rc = fl_metrics_write_header(out, "fleetlake_alerts", "gauge",
                                     "Alerts in meta.db by state and severity.");
    if (rc)
        return rc;
    static const char *const states[] = {"open", "acknowledged", "resolved"};
    static const char *const sevs[] = {"info", "warning", "critical"};
    int64_t counts[3][3] = {{0}};
    pthread_mutex_lock(&e->db_lock);
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v2(e->db, "SELECT state, severity, count(*) FROM alerts GROUP BY 1, 2",
                           -1, &st, NULL) == SQLITE_OK)
        while (sqlite3_step(st) == SQLITE_ROW) {
            const char *s = (const char *)sqlite3_column_text(st, 0);
            const char *v = (const char *)sqlite3_column_text(st, 1);
            for (int i = 0; s && v && i < 3; i++)
                for (int k = 0; k < 3; k++)
                    if (strcmp(s, states[i]) == 0 && strcmp(v, sevs[k]) == 0)
                        counts[i][k] = sqlite3_column_int64(st, 2);
        }
    sqlite3_finalize(st);
    pthread_mutex_unlock(&e->db_lock);
    for (int i = 0; !rc && i < 3; i++)
        for (int k = 0; !rc && k < 3; k++) {
            char labels[64];
            snprintf(labels, sizeof labels, "state=\"%s\",severity=\"%s\"", states[i], sevs[k]);
            rc = fl_metrics_write_sample(out, "fleetlake_alerts", labels, (double)counts[i][k]);
        }
    return rc;
}

uint64_t fl_alert_engine_wait_change(fl_alert_engine *e, uint64_t seen, int64_t timeout_us)
{
    pthread_mutex_lock(&e->ring_lock);
    if (e->ring_seq == seen && timeout_us > 0) {
        struct timespec ts = fl_time_deadline_us(timeout_us);
        pthread_cond_timedwait(&e->ring_cond, &e->ring_lock, &ts);
    }
    uint64_t now = e->ring_seq;
    pthread_mutex_unlock(&e->ring_lock);
    return now;
}
