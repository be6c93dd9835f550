/* status.c — the operational routes (/healthz, /readyz, /metrics, /v1/stream) and the
 * gateway's metric families, including scrape-time gauges read from the stream. */
#include <limits.h>
#include <stdio.h>
#include <string.h>

#include "gateway/gateway_int.h"

static int collect_stream(fl_buf *out, fl_stream *s, const char *stream_name)
{
    static const struct {
        const char *name, *help;
    } families[] = {
        {"fleetlake_stream_last_sequence_number", "Last sequence number appended, per shard."},
        {"fleetlake_stream_first_sequence_number", "Oldest retained sequence number, per shard."},
        {"fleetlake_stream_records", "Records retained, per shard."},
        {"fleetlake_stream_bytes", "Bytes retained on disk, per shard."},
        {"fleetlake_stream_segments", "Segment files, per shard."},
        {"fleetlake_stream_shard_failed", "1 when the shard stopped after a write/fsync error."},
    };
    int rc = 0;
    for (size_t f = 0; !rc && f < sizeof families / sizeof families[0]; f++) {
        rc = fl_metrics_write_header(out, families[f].name, "gauge", families[f].help);
        for (uint32_t i = 0; !rc && i < fl_stream_shard_count(s); i++) {
            fl_stream_shard_stats st;
            if ((rc = fl_stream_shard_stats_get(s, i, &st)))
                break;
            double v[] = {(double)st.last_seq, (double)st.first_seq, (double)st.records,
                          (double)st.bytes,    (double)st.segments,  (double)st.failed};
            char labels[96];
            snprintf(labels, sizeof labels, "stream=\"%s\",shard=\"shard-%04u\"", stream_name, i);
            rc = fl_metrics_write_sample(out, families[f].name, labels, v[f]);
        }
    }
    return rc;
}

/* Scrape-time gauges: per-shard state of both logs, and queue depths. */
static int collect_gauges(void *ctx, fl_buf *out)
{
    fl_gateway *gw = ctx;
    int rc = 0;
    /* One family header per name: both streams' samples under it. */
    fl_buf tmp = {0};
    rc = collect_stream(out, gw->deps.stream, "records");
    rc = rc ? rc : collect_stream(&tmp, gw->deps.dead_letters, "dead_letters");
    /* drop the repeated headers of the second stream */
    for (char *line = tmp.data; !rc && line && *line;) {
        char *nl = strchr(line, '\n');
        size_t len = nl ? (size_t)(nl - line + 1) : strlen(line);
        if (line[0] != '#')
            rc = fl_buf_append(out, line, len);
        line += len;
    }
    fl_buf_free(&tmp);
    rc = rc ? rc
            : fl_metrics_write_header(out, "fleetlake_http_inflight_requests", "gauge",
                                      "Requests started and not yet completed.");
    rc = rc ? rc
            : fl_metrics_write_sample(out, "fleetlake_http_inflight_requests", NULL,
                                      (double)atomic_load(&gw->inflight));
    rc = rc ? rc
            : fl_metrics_write_header(out, "fleetlake_ingest_queue_depth", "gauge",
                                      "POST /v1/records requests being decoded or waiting for "
                                      "their fsync (bounded by server.max_inflight_requests).");
    rc = rc ? rc
            : fl_metrics_write_sample(out, "fleetlake_ingest_queue_depth", NULL,
                                      (double)atomic_load(&gw->ingest_busy));
    rc = rc ? rc
            : fl_metrics_write_header(out, "fleetlake_ready", "gauge",
                                      "1 once recovery finished and the server takes requests.");
    rc = rc ? rc
            : fl_metrics_write_sample(out, "fleetlake_ready", NULL, (double)atomic_load(&gw->ready));
    return rc;
}

int fl_gateway_metrics_register(fl_gateway *gw)
{
    fl_metrics *m = gw->deps.metrics;
    gw->m.requests = fl_metrics_counter(m, "fleetlake_http_requests_total",
                                        "HTTP requests by route and status code.", "route",
                                        "status");
    gw->m.records = fl_metrics_counter(
        m, "fleetlake_records_total",
        "Records by outcome (accepted, rejected by validation, failed by the server) and error "
        "code; whole requests refused before splitting count once with code=\"request\".",
        "outcome", "code");
    fl_counter_family *bytes = fl_metrics_counter(
        m, "fleetlake_ingest_bytes_total", "Request body bytes received on /v1/records (on the wire).",
        NULL, NULL);
    fl_counter_family *dlf = fl_metrics_counter(
        m, "fleetlake_dead_letter_failures_total",
        "Rejected records that could not be written to the dead-letter log.", NULL, NULL);
    gw->m.ingest_latency = fl_metrics_histogram(
        m, "fleetlake_ingest_latency_seconds",
        "Time from a /v1/records request's first byte to its response (includes the fsync).",
        NULL);
    gw->m.queries = fl_metrics_counter(
        m, "fleetlake_queries_total",
        "POST /v1/query statements by outcome: ok, aborted (client left mid-result) or the "
        "error code (sql_error, timeout, busy, bad_request, ...).",
        "outcome", NULL);
    gw->m.query_duration = fl_metrics_histogram(
        m, "fleetlake_query_duration_seconds",
        "Time from a POST /v1/query request's first byte to its last result byte (or error).",
        NULL);
    if (!gw->m.requests || !gw->m.records || !bytes || !dlf || !gw->m.ingest_latency ||
        !gw->m.queries || !gw->m.query_duration)
        return FL_ENOMEM;
    if (!fl_metrics_histogram(m, "fleetlake_stream_fsync_seconds",
                              "Latency of each group-commit fsync of a stream segment.",
                              (fl_histogram *)fl_stream_fsync_histogram(gw->deps.stream)))
        return FL_ENOMEM;
    int rc = fl_metrics_add_collector(m, collect_gauges, gw);
    char meta[PATH_MAX];
    int n = snprintf(meta, sizeof meta, "%s/meta.db", gw->deps.cfg->data_dir);
    if (!rc && (n < 0 || (size_t)n >= sizeof meta))
        rc = FL_ELIMIT;
    rc = rc ? rc : fl_monitor_process_register(m);
    rc = rc ? rc : fl_monitor_lake_register(m, meta);
    if (rc)
        return rc;
    gw->m.bytes_in = fl_counter_series(bytes, NULL, NULL);
    gw->m.dead_letter_failures = fl_counter_series(dlf, NULL, NULL);
    return 0;
}

void fl_handle_healthz(fl_gateway *gw, fl_request *req)
{
    fl_buf b = {0};
    uint32_t failed = 0;
    for (uint32_t s = 0; s < fl_stream_shard_count(gw->deps.stream); s++) {
        fl_stream_shard_stats st;
        if (fl_stream_shard_stats_get(gw->deps.stream, s, &st) == 0 && st.failed)
            failed++;
    }
    /* Liveness: the process answers. A failed shard is reported but is not a reason for an
     * orchestrator to restart-loop us; /readyz says whether we can take writes. */
    if (fl_buf_printf(&b, "{\"status\":\"%s\",\"failed_shards\":%u}\n",
                      failed ? "degraded" : "ok", failed) == 0)
        fl_respond_json(req, 200, &b);
    else
        fl_buf_free(&b);
}

void fl_handle_readyz(fl_gateway *gw, fl_request *req)
{
    int ready = atomic_load(&gw->ready);
    uint32_t failed = 0;
    for (uint32_t s = 0; ready && s < fl_stream_shard_count(gw->deps.stream); s++) {
        fl_stream_shard_stats st;
        if (fl_stream_shard_stats_get(gw->deps.stream, s, &st) == 0 && st.failed)
            failed++;
    }
    if (!ready) {
        fl_respond_error_retry(req, 503, 1, "not_ready",
                               atomic_load(&gw->draining) ? "shutting down" : "recovering");
        return;
    }
    if (failed) {
        fl_respond_error_retry(req, 503, 5, "storage_failed",
                               "a stream shard stopped after a write or fsync error; restart "
                               "the server after fixing the disk");
        return;
    }
    fl_buf b = {0};
    if (fl_buf_append_cstr(&b, "{\"status\":\"ready\"}\n") == 0)
        fl_respond_json(req, 200, &b);
}

void fl_handle_metrics(fl_gateway *gw, fl_request *req)
{
    fl_buf b = {0};
    if (fl_metrics_render(gw->deps.metrics, &b) == 0) {
        fl_respond_text(req, 200, "text/plain; version=0.0.4; charset=utf-8", &b);
        return;
    }
    fl_buf_free(&b);
    fl_respond_error(req, 500, "internal", "rendering metrics failed");
}

/* GET /v1/stream: shards with hash-key ranges, sequence bounds, records and bytes. */
void fl_handle_stream(fl_gateway *gw, fl_request *req)
{
    fl_stream *s = gw->deps.stream;
    uint32_t n = fl_stream_shard_count(s);
    fl_buf b = {0};
    int rc = fl_buf_printf(&b, "{\"shard_count\":%u,\"shards\":[", n);
    for (uint32_t i = 0; !rc && i < n; i++) {
        fl_stream_shard_stats st;
        char start[48], end[48];
        rc = fl_stream_shard_stats_get(s, i, &st);
        fl_stream_shard_hash_range(n, i, start, end);
        rc = rc ? rc
                : fl_buf_printf(&b,
                                "%s{\"shard\":\"shard-%04u\",\"hash_key_range\":{\"start\":\"%s\","
                                "\"end\":\"%s\"},\"first_seq\":\"%llu\",\"last_seq\":\"%llu\","
                                "\"records\":%llu,\"bytes\":%llu,\"segments\":%u,\"status\":\"%s\"}",
                                i ? "," : "", i, start, end, (unsigned long long)st.first_seq,
                                (unsigned long long)st.last_seq, (unsigned long long)st.records,
                                (unsigned long long)st.bytes, st.segments,
                                st.failed ? "failed" : "active");
    }
    rc = rc ? rc : fl_buf_append_cstr(&b, "]}\n");
    if (rc) {
        fl_buf_free(&b);
        fl_respond_error(req, 500, "internal", "reading stream status failed: %s", fl_strerror(rc));
        return;
    }
    fl_respond_json(req, 200, &b);
}
