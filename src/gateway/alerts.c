/* alerts.c — the alert routes: GET /v1/alerts (filters, paging), POST /v1/alerts/{id}/ack and
 * /resolve, and GET /v1/events (server-sent events of alert changes). Every answer is limited
 * to the alerts the caller's key may see (its fleets and devices; pipeline alerts only for
 * keys that see every device).
 *
 * /v1/events streams suspend their connection while there is nothing to send, so an open
 * stream holds no worker thread; server.max_event_streams still bounds them. */
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gateway/gateway_int.h"

#define ALERTS_LIMIT_DEFAULT 100
#define ALERTS_LIMIT_MAX 1000

static const char *arg(fl_request *req, const char *name)
{
    const char *v = MHD_lookup_connection_value(req->conn, MHD_GET_ARGUMENT_KIND, name);
    return v && *v ? v : NULL;
}

int fl_gateway_alerts_unavailable(fl_gateway *gw, fl_request *req)
{
    if (gw->deps.alerts)
        return 0;
    fl_respond_error_retry(req, 503, 5, "unavailable", "the alert engine is not running");
    return 1;
}

void fl_handle_alerts(fl_gateway *gw, fl_request *req)
{
    if (fl_gateway_alerts_unavailable(gw, req))
        return;
    fl_alert_filter f = {.state = -1, .min_severity = -1, .access = &req->access};
    const char *st = arg(req, "state"), *sev = arg(req, "severity"), *lim = arg(req, "limit"),
               *cur = arg(req, "cursor");
    f.device = arg(req, "device_id");
    f.rule = arg(req, "rule");
    if (st) {
        f.state = strcmp(st, "open") == 0           ? FL_ALERT_OPEN
                  : strcmp(st, "acknowledged") == 0 ? FL_ALERT_ACKNOWLEDGED
                  : strcmp(st, "resolved") == 0     ? FL_ALERT_RESOLVED
                                                    : -2;
        if (f.state == -2) {
            fl_respond_error(req, 400, "bad_parameter",
                             "state must be open, acknowledged or resolved");
            return;
        }
    }
    fl_severity s;
    if (sev) {
        if (fl_severity_parse(sev, &s)) {
            fl_respond_error(req, 400, "bad_parameter",
                             "severity must be info, warning or critical (the minimum)");
            return;
        }
        f.min_severity = (int)s;
    }
    char *end;
    long limit = lim ? strtol(lim, &end, 10) : ALERTS_LIMIT_DEFAULT;
    if ((lim && *end) || limit < 1 || limit > ALERTS_LIMIT_MAX) {
        fl_respond_error(req, 400, "bad_parameter", "limit must be an integer in 1..%d",
                         ALERTS_LIMIT_MAX);
        return;
    }
    f.limit = (size_t)limit;
    if (cur) {
        long long c = strtoll(cur, &end, 10);
        if (*end || c < 1) {
            fl_respond_error(req, 400, "bad_parameter", "cursor is not one this server returned");
            return;
        }
        f.before_id = c;
    }
    fl_alert *v = NULL;
    size_t n = 0;
    int more = 0;
    int rc = fl_alert_engine_list(gw->deps.alerts, &f, &v, &n, &more);
    fl_buf b = {0};
    rc = rc ? rc : fl_buf_append_cstr(&b, "{\"alerts\":[");
    for (size_t i = 0; !rc && i < n; i++) {
        rc = i ? fl_buf_append_cstr(&b, ",") : 0;
        rc = rc ? rc : fl_alert_to_json(&v[i], &b);
    }
    if (!rc && more && n)
        rc = fl_buf_printf(&b, "],\"next_cursor\":\"%lld\"}\n", (long long)v[n - 1].id);
    else if (!rc)
        rc = fl_buf_append_cstr(&b, "],\"next_cursor\":null}\n");
    fl_free(v);
    if (rc) {
        fl_buf_free(&b);
        fl_respond_error(req, 500, "internal", "cannot list alerts: %s", fl_strerror(rc));
        return;
    }
    fl_respond_json(req, 200, &b);
}

/* POST /v1/alerts/{id}/ack | /resolve */
void fl_handle_alert_action(fl_gateway *gw, fl_request *req)
{
    if (fl_gateway_alerts_unavailable(gw, req))
        return;
    const char *rest = req->url + strlen("/v1/alerts/");
    char *end;
    long long id = strtoll(rest, &end, 10);
    int ack = strcmp(end, "/ack") == 0, resolve = strcmp(end, "/resolve") == 0;
    if (end == rest || id < 1 || (!ack && !resolve)) {
        fl_respond_error(req, 404, "not_found", "no route POST %s", req->url);
        return;
    }
    fl_alert a;
    int rc = ack ? fl_alert_engine_ack(gw->deps.alerts, id, req->key_id, &req->access, &a)
                 : fl_alert_engine_resolve(gw->deps.alerts, id, req->key_id, &req->access, &a);
    if (rc == FL_ENOTFOUND) {
        fl_respond_error(req, 404, "not_found", "no alert %lld", id);
        return;
    }
    if (rc == FL_EINVAL) {
        fl_respond_error(req, 409, "conflict", "alert %lld is already %s", id,
                         ack ? "acknowledged or resolved" : "resolved");
        return;
    }
    fl_buf b = {0};
    rc = rc ? rc : fl_alert_to_json(&a, &b);
    rc = rc ? rc : fl_buf_append_cstr(&b, "\n");
    if (rc) {
        fl_buf_free(&b);
        fl_respond_error(req, 503, "unavailable", "cannot change the alert: %s", fl_strerror(rc));
        return;
    }
    fl_respond_json(req, 200, &b);
}

/* ---- server-sent events --------------------------------------------------------------------
 * A stream with nothing to send suspends its connection (MHD_suspend_connection) and returns
 * 0, so it holds no worker thread; the notifier thread resumes every suspended stream when an
 * alert changes, and once a second anyway (keep-alive comments every 5 s, drain, and a change
 * that raced the suspension). */

#define KEEPALIVE_US (5 * FL_US_PER_SEC)
#define NOTIFY_TICK_US FL_US_PER_SEC

struct event_stream {
    fl_gateway *gw;
    struct MHD_Connection *conn;
    fl_access access;
    uint64_t cursor;
    fl_buf pending;
    size_t sent; /* bytes of pending already handed to MHD */
    int64_t last_write_us;
    int suspended; /* under gw->streams_lock */
    struct event_stream *prev, *next;
};

static ssize_t events_read(void *cls, uint64_t pos, char *buf, size_t max)
{
    (void)pos;
    struct event_stream *s = cls;
    fl_gateway *gw = s->gw;
    while (s->sent == s->pending.len) {
        if (atomic_load(&gw->draining) || atomic_load(&gw->events_stop))
            return MHD_CONTENT_READER_END_OF_STREAM;
        s->pending.len = 0;
        s->sent = 0;
        int n = fl_alert_engine_events(gw->deps.alerts, &s->cursor, &s->access, &s->pending, 0);
        if (n < 0)
            return MHD_CONTENT_READER_END_WITH_ERROR;
        if (n > 0)
            break;
        if (fl_time_mono_us() - s->last_write_us >= KEEPALIVE_US) {
            if (fl_buf_append_cstr(&s->pending, ": keep-alive\n\n"))
                return MHD_CONTENT_READER_END_WITH_ERROR;
            break;
        }
        /* Suspend under streams_lock, which resume_all holds while resuming: a resume can
         * then never slip in between the flag and the suspension and be lost. (libmicrohttpd
         * calls no callback of ours while it holds its own cleanup lock.) */
        pthread_mutex_lock(&gw->streams_lock);
        s->suspended = 1;
        MHD_suspend_connection(s->conn);
        pthread_mutex_unlock(&gw->streams_lock);
        return 0;
    }
    size_t k = s->pending.len - s->sent;
    if (k > max)
        k = max;
    memcpy(buf, s->pending.data + s->sent, k);
    s->sent += k;
    s->last_write_us = fl_time_mono_us();
    return (ssize_t)k;
}

static void events_free(void *cls)
{
    struct event_stream *s = cls;
    fl_gateway *gw = s->gw;
    pthread_mutex_lock(&gw->streams_lock);
    if (s->prev)
        s->prev->next = s->next;
    else if (gw->streams == s)
        gw->streams = s->next;
    if (s->next)
        s->next->prev = s->prev;
    pthread_mutex_unlock(&gw->streams_lock);
    atomic_fetch_sub(&gw->event_streams, 1);
    fl_buf_free(&s->pending);
    fl_free(s);
}

/* Resume every suspended stream (under streams_lock, see events_read). A suspended stream is
 * not freed before it is resumed. */
static void resume_all(fl_gateway *gw)
{
    pthread_mutex_lock(&gw->streams_lock);
    for (struct event_stream *s = gw->streams; s; s = s->next)
        if (s->suspended) {
            s->suspended = 0;
            MHD_resume_connection(s->conn);
        }
    pthread_mutex_unlock(&gw->streams_lock);
}

static void *events_main(void *arg)
{
    fl_gateway *gw = arg;
    uint64_t seen = 0;
    while (!atomic_load(&gw->events_stop)) {
        seen = fl_alert_engine_wait_change(gw->deps.alerts, seen, NOTIFY_TICK_US);
        resume_all(gw);
    }
    resume_all(gw);
    return NULL;
}

int fl_gateway_events_start(fl_gateway *gw)
{
    pthread_mutex_init(&gw->streams_lock, NULL);
    if (!gw->deps.alerts)
        return 0;
    int rc = pthread_create(&gw->events_thread, NULL, events_main, gw);
    gw->events_thread_started = rc == 0;
    return -rc;
}

void fl_gateway_events_stop(fl_gateway *gw)
{
    if (!gw->events_thread_started)
        return;
    atomic_store(&gw->events_stop, 1);
    pthread_join(gw->events_thread, NULL);
    gw->events_thread_started = 0;
    resume_all(gw);
}

void fl_handle_events(fl_gateway *gw, fl_request *req)
{
    if (fl_gateway_alerts_unavailable(gw, req))
        return;
    if (atomic_fetch_add(&gw->event_streams, 1) >= gw->deps.cfg->max_event_streams) {
        atomic_fetch_sub(&gw->event_streams, 1);
        fl_respond_error_retry(req, 503, 5, "busy",
                               "server.max_event_streams event streams are open");
        return;
    }
    struct event_stream *s = fl_calloc(1, sizeof *s);
    if (!s) {
        atomic_fetch_sub(&gw->event_streams, 1);
        fl_respond_error_retry(req, 503, 1, "overloaded", "out of memory");
        return;
    }
    s->gw = gw;
    s->conn = req->conn;
    s->access = req->access;
    s->last_write_us = fl_time_mono_us();
    /* Last-Event-ID resumes after that change when it is still in the ring. */
    const char *last = MHD_lookup_connection_value(req->conn, MHD_HEADER_KIND, "Last-Event-ID");
    s->cursor = last ? strtoull(last, NULL, 10)
                     : fl_alert_engine_wait_change(gw->deps.alerts, 0, 0); /* from now on */
    if (fl_buf_append_cstr(&s->pending, "retry: 2000\n\n")) {
        events_free(s);
        fl_respond_error_retry(req, 503, 1, "overloaded", "out of memory");
        return;
    }
    struct MHD_Response *resp =
        MHD_create_response_from_callback(MHD_SIZE_UNKNOWN, 4096, events_read, s, events_free);
    if (!resp) {
        events_free(s);
        return;
    }
    pthread_mutex_lock(&gw->streams_lock);
    s->next = gw->streams;
    if (gw->streams)
        gw->streams->prev = s;
    gw->streams = s;
    pthread_mutex_unlock(&gw->streams_lock);
    MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, "text/event-stream");
    MHD_add_response_header(resp, MHD_HTTP_HEADER_CACHE_CONTROL, "no-cache");
    fl_respond_add_ids(req, resp);
    if (MHD_queue_response(req->conn, 200, resp) == MHD_YES) {
        req->responded = 1;
        req->status = 200;
    }
    MHD_destroy_response(resp);
}
