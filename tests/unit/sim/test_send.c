/* test_send.c — end-to-end tests of the load generator against a tiny PutRecords-style server
 * started inside the test (libmicrohttpd): counts, keep-alive reuse, gzip bodies, --acked-out
 * lines matching what the server stored, per-record errors, 503 + Retry-After retries, the
 * --rate pacing and an unreachable server. The same server also plays InfluxDB's /write
 * (204, or a forced 400/500) for --target influx. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <jansson.h>
#include <microhttpd.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <zlib.h>

#include "sim/sim.h"

struct server {
    struct MHD_Daemon *d;
    int port;
    atomic_int connections, requests, gzip_requests, records, throttle_left;
    atomic_int write_status;       /* /write answers this (0 = 204) ... */
    atomic_int write_status_left;  /* ... this many times, then 204 */
    atomic_int points, bad_lines;  /* /write: lines seen, lines not shaped like our points */
    char write_query[256];         /* /write: "db=...&precision=...&type=..." of the last one */
    pthread_mutex_t mu;
    char **stored; /* by seq: "device_id|timestamp" */
    size_t stored_count, stored_cap;
};

struct request {
    fl_buf body;
    int gzip, ndjson;
};

static void on_connection(void *cls, struct MHD_Connection *c, void **socket_context,
                          enum MHD_ConnectionNotificationCode code)
{
    struct server *s = cls;
    if (code == MHD_CONNECTION_NOTIFY_STARTED)
        s->connections++;
}

static void on_completed(void *cls, struct MHD_Connection *c, void **con_cls,
                         enum MHD_RequestTerminationCode toe)
{
    struct request *r = *con_cls;
    if (r) {
        fl_buf_free(&r->body);
        free(r);
    }
    *con_cls = NULL;
}

static int gunzip(const fl_buf *in, fl_buf *out)
{
    z_stream z = {0};
    if (inflateInit2(&z, 15 + 16) != Z_OK)
        return -1;
    z.next_in = (Bytef *)in->data;
    z.avail_in = (uInt)in->len;
    int zr;
    do {
        if (fl_buf_reserve(out, 65536))
            break;
        z.next_out = (Bytef *)out->data + out->len;
        z.avail_out = 65536;
        zr = inflate(&z, Z_NO_FLUSH);
        out->len = (size_t)((char *)z.next_out - out->data);
    } while (zr == Z_OK);
    inflateEnd(&z);
    return zr == Z_STREAM_END ? 0 : -1;
}

/* Store one record (or answer its error) into the response. */
static void answer_record(struct server *s, json_t *rec, fl_buf *resp, int *accepted)
{
    json_t *id = json_object_get(rec, "device_id"), *ts = json_object_get(rec, "timestamp");
    if (!json_is_object(rec) || !json_is_string(id) || !json_is_string(ts)) {
        const char *code = !json_is_object(rec) ? "not_object" : "missing_field";
        assert_int_equal(fl_buf_printf(resp, "{\"error\":{\"code\":\"%s\",\"message\":\"x \\\"y\\\"\"}}", code), 0);
        return;
    }
    pthread_mutex_lock(&s->mu);
    if (s->stored_count == s->stored_cap) {
        s->stored_cap = s->stored_cap ? 2 * s->stored_cap : 1024;
        s->stored = realloc(s->stored, s->stored_cap * sizeof *s->stored);
    }
    size_t seq = s->stored_count++;
    char key[512];
    snprintf(key, sizeof key, "%s|%s", json_string_value(id), json_string_value(ts));
    s->stored[seq] = strdup(key);
    pthread_mutex_unlock(&s->mu);
    assert_int_equal(fl_buf_printf(resp, "{\"shard\":\"shard-000%zu\",\"seq\":\"%zu\"}", seq % 4, seq), 0);
    (*accepted)++;
}

static enum MHD_Result respond(struct MHD_Connection *c, int status, fl_buf *body, int retry)
{
    struct MHD_Response *r =
        MHD_create_response_from_buffer(body->len, body->data, MHD_RESPMEM_MUST_COPY);
    if (retry)
        MHD_add_response_header(r, "Retry-After", "1");
    MHD_add_response_header(r, "Content-Type", "application/json");
    enum MHD_Result ret = MHD_queue_response(c, (unsigned)status, r);
    MHD_destroy_response(r);
    return ret;
}

/* InfluxDB's POST /write: count the points, check their shape, answer 204 (no body). */
static enum MHD_Result handle_write(struct server *s, struct MHD_Connection *c,
                                    struct request *r)
{
    const char *db = MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "db");
    const char *prec = MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "precision");
    const char *ct = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Content-Type");
    pthread_mutex_lock(&s->mu);
    snprintf(s->write_query, sizeof s->write_query, "db=%s&precision=%s&type=%s",
             db ? db : "", prec ? prec : "", ct ? ct : "");
    pthread_mutex_unlock(&s->mu);
    fl_buf plain = {0}, resp = {0};
    if (r->gzip) {
        s->gzip_requests++;
        assert_int_equal(gunzip(&r->body, &plain), 0);
    } else {
        assert_int_equal(fl_buf_append(&plain, r->body.data, r->body.len), 0);
    }
    int n = 0, bad = 0;
    for (char *p = plain.data, *nl; p && (nl = memchr(p, '\n', plain.len - (size_t)(p - plain.data)));
         p = nl + 1, n++) {
        /* sensor,device_id=...,source=...,version=... f=v,... <µs> */
        char *sp1 = memchr(p, ' ', (size_t)(nl - p));
        char *sp2 = sp1 ? memchr(sp1 + 1, ' ', (size_t)(nl - sp1 - 1)) : NULL;
        bad += strncmp(p, "sensor,device_id=truck-", 23) != 0 || !sp2 ||
               strncmp(sp1 + 1, "temperature=", 12) != 0 || nl - sp2 != 17;
    }
    s->points += n;
    s->bad_lines += bad;
    int status = 204;
    if (s->write_status_left > 0) {
        s->write_status_left--;
        status = s->write_status;
        assert_int_equal(fl_buf_append_cstr(&resp, "{\"error\":\"forced\"}"), 0);
    } else {
        s->records += n;
    }
    enum MHD_Result ret = respond(c, status, &resp, 0);
    fl_buf_free(&plain);
    fl_buf_free(&resp);
    return ret;
}

static enum MHD_Result handle(void *cls, struct MHD_Connection *c, const char *url,
                              const char *method, const char *version, const char *upload,
                              size_t *upload_size, void **con_cls)
{
    struct server *s = cls;
    struct request *r = *con_cls;
    if (!r) {
        r = calloc(1, sizeof *r);
        const char *enc = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Content-Encoding");
        const char *ct = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Content-Type");
        r->gzip = enc && strcmp(enc, "gzip") == 0;
        r->ndjson = ct && strstr(ct, "ndjson") != NULL;
        *con_cls = r;
        return MHD_YES;
    }
    if (*upload_size) {
        assert_int_equal(fl_buf_append(&r->body, upload, *upload_size), 0);
        *upload_size = 0;
        return MHD_YES;
    }
    s->requests++;
    fl_buf resp = {0}, plain = {0};
    if (s->throttle_left > 0) {
        s->throttle_left--;
        assert_int_equal(fl_buf_append_cstr(&resp, "{\"error\":{\"code\":\"busy\"}}"), 0);
        enum MHD_Result ret = respond(c, 503, &resp, 1);
        fl_buf_free(&resp);
        return ret;
    }
    if (strcmp(url, "/write") == 0)
        return handle_write(s, c, r);
    assert_string_equal(url, "/v1/records");
    if (r->gzip) {
        s->gzip_requests++;
        assert_int_equal(gunzip(&r->body, &plain), 0);
    } else {
        assert_int_equal(fl_buf_append(&plain, r->body.data, r->body.len), 0);
    }
    int accepted = 0, n = 0;
    assert_int_equal(fl_buf_append_cstr(&resp, "{\"records\":["), 0);
    json_error_t jerr;
    if (r->ndjson) {
        for (char *p = plain.data, *nl; (nl = strchr(p, '\n')); p = nl + 1, n++) {
            json_t *rec = json_loadb(p, (size_t)(nl - p), JSON_DECODE_ANY, &jerr);
            if (n)
                assert_int_equal(fl_buf_append_cstr(&resp, ","), 0);
            answer_record(s, rec, &resp, &accepted);
            json_decref(rec);
        }
    } else {
        json_t *arr = json_loadb(plain.data, plain.len, 0, &jerr);
        assert_true(json_is_array(arr));
        for (; (size_t)n < json_array_size(arr); n++) {
            if (n)
                assert_int_equal(fl_buf_append_cstr(&resp, ","), 0);
            answer_record(s, json_array_get(arr, (size_t)n), &resp, &accepted);
        }
        json_decref(arr);
    }
    s->records += n;
    assert_int_equal(fl_buf_printf(&resp, "],\"accepted\":%d,\"failed\":%d}", accepted, n - accepted), 0);
    enum MHD_Result ret = respond(c, accepted ? 200 : 400, &resp, 0);
    fl_buf_free(&resp);
    fl_buf_free(&plain);
    return ret;
}

static struct server *server_start(void)
{
    struct server *s = calloc(1, sizeof *s);
    pthread_mutex_init(&s->mu, NULL);
    s->d = MHD_start_daemon(MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_ERROR_LOG, 0, NULL, NULL,
                            handle, s, MHD_OPTION_NOTIFY_CONNECTION, on_connection, s,
                            MHD_OPTION_NOTIFY_COMPLETED, on_completed, s,
                            MHD_OPTION_CONNECTION_TIMEOUT, 30u, MHD_OPTION_END);
    assert_non_null(s->d);
    const union MHD_DaemonInfo *info = MHD_get_daemon_info(s->d, MHD_DAEMON_INFO_BIND_PORT);
    s->port = info->port;
    return s;
}

static void server_stop(struct server *s)
{
    MHD_stop_daemon(s->d);
    for (size_t i = 0; i < s->stored_count; i++)
        free(s->stored[i]);
    free(s->stored);
    pthread_mutex_destroy(&s->mu);
    free(s);
}

static void options_for(fl_sim_options *o, const struct server *s)
{
    fl_sim_options_defaults(o);
    snprintf(o->url, sizeof o->url, "http://127.0.0.1:%d", s->port);
    o->duration_us = 60 * FL_US_PER_SEC;
    o->devices = 50;
}

static void tmp_path(char *out, const char *name)
{
    const char *dir = getenv("FL_TEST_TMP");
    dir = dir ? dir : "/tmp";
    if (fl_fs_mkdir_p(dir, 0755) != 0)
        dir = "/tmp";
    snprintf(out, FL_SIM_PATH_MAX, "%s/sim_%d_%s", dir, (int)getpid(), name);
}

static void counts_keepalive_and_acked_out(void **state)
{
    (void)state;
    struct server *s = server_start();
    fl_sim_options o;
    options_for(&o, s);
    o.records = 5000;
    o.connections = 2;
    tmp_path(o.acked_out, "acked.ndjson");
    fl_sim_summary sum;
    assert_int_equal(fl_sim_run(&o, &sum, NULL), 0);
    assert_int_equal(sum.records_sent, 5000);
    assert_int_equal(sum.records_acked, 5000);
    assert_int_equal(sum.records_failed, 0);
    assert_int_equal(sum.requests, 10);
    assert_int_equal(s->records, 5000);
    assert_int_equal(s->connections, 2); /* keep-alive: one connection per sender */
    assert_int_equal(sum.connections_opened, 2);
    assert_false(sum.connect_failed);
    assert_true(sum.latency_ms_p50 > 0 && sum.latency_ms_max >= sum.latency_ms_p99);
    FILE *f = fopen(o.acked_out, "r");
    assert_non_null(f);
    char line[1024];
    size_t lines = 0;
    while (fgets(line, sizeof line, f)) {
        json_error_t jerr;
        json_t *j = json_loads(line, 0, &jerr);
        assert_non_null(j);
        size_t seq = (size_t)atol(json_string_value(json_object_get(j, "seq")));
        assert_true(seq < s->stored_count);
        char key[512];
        snprintf(key, sizeof key, "%s|%s", json_string_value(json_object_get(j, "device_id")),
                 json_string_value(json_object_get(j, "timestamp")));
        assert_string_equal(key, s->stored[seq]);
        char shard[16];
        snprintf(shard, sizeof shard, "shard-000%zu", seq % 4);
        assert_string_equal(json_string_value(json_object_get(j, "shard")), shard);
        json_decref(j);
        lines++;
    }
    fclose(f);
    assert_int_equal(lines, 5000);
    unlink(o.acked_out);
    server_stop(s);
}

static void gzip_ndjson_bodies(void **state)
{
    (void)state;
    struct server *s = server_start();
    fl_sim_options o;
    options_for(&o, s);
    o.records = 2000;
    o.batch = 250;
    o.gzip = 1;
    o.ndjson = 1;
    o.connections = 3;
    fl_sim_summary sum;
    assert_int_equal(fl_sim_run(&o, &sum, NULL), 0);
    assert_int_equal(sum.records_acked, 2000);
    assert_int_equal(s->gzip_requests, 8);
    assert_int_equal(s->records, 2000);
    assert_true(sum.bytes_sent < 2000 * 100); /* compressed: records are ~230 bytes raw */
    server_stop(s);
}

static void bad_records_counted_by_code(void **state)
{
    (void)state;
    struct server *s = server_start();
    fl_sim_options o;
    options_for(&o, s);
    o.records = 3000;
    o.bad_rate = 0.2;
    o.ndjson = 1;
    tmp_path(o.acked_out, "acked_bad.ndjson");
    fl_sim_summary sum;
    assert_int_equal(fl_sim_run(&o, &sum, NULL), 0);
    assert_int_equal(sum.records_sent, 3000);
    assert_int_equal(sum.records_acked + sum.records_failed, 3000);
    assert_true(sum.bad_sent > 450 && sum.bad_sent < 750);
    /* the test server knows only not_object and missing_field; malformed lines are not
     * objects to it, and both device_id and timestamp missing kinds are missing_field */
    assert_int_equal(sum.failed_by_code[FL_SIM_CODE_NOT_OBJECT] +
                         sum.failed_by_code[FL_SIM_CODE_MISSING_FIELD],
                     sum.records_failed);
    assert_int_equal(sum.bad_sent_by_kind[FL_SIM_BAD_MISSING_DEVICE_ID] +
                         sum.bad_sent_by_kind[FL_SIM_BAD_MISSING_TIMESTAMP] +
                         sum.bad_sent_by_kind[FL_SIM_BAD_NOT_OBJECT] +
                         sum.bad_sent_by_kind[FL_SIM_BAD_MALFORMED_JSON],
                     sum.records_failed);
    assert_int_equal(sum.good_rejected, 0);
    FILE *f = fopen(o.acked_out, "r");
    size_t lines = 0;
    for (int ch; (ch = fgetc(f)) != EOF;)
        lines += ch == '\n';
    fclose(f);
    assert_int_equal(lines, sum.records_acked - sum.bad_accepted);
    unlink(o.acked_out);
    server_stop(s);
}

static void retry_after_503(void **state)
{
    (void)state;
    struct server *s = server_start();
    s->throttle_left = 2;
    fl_sim_options o;
    options_for(&o, s);
    o.records = 1000;
    o.connections = 1;
    int64_t t0 = fl_time_mono_us();
    fl_sim_summary sum;
    assert_int_equal(fl_sim_run(&o, &sum, NULL), 0);
    assert_true(fl_time_mono_us() - t0 >= 2 * FL_US_PER_SEC); /* honoured Retry-After: 1 twice */
    assert_int_equal(sum.throttled, 2);
    assert_int_equal(sum.retries, 2);
    assert_int_equal(sum.records_acked, 1000);
    assert_int_equal(sum.requests, 4);
    server_stop(s);
}

static void rate_is_paced(void **state)
{
    (void)state;
    struct server *s = server_start();
    fl_sim_options o;
    options_for(&o, s);
    o.records = 1000;
    o.rate = 1000; /* batch becomes 100: 10 requests over ~0.9 s */
    fl_sim_summary sum;
    assert_int_equal(fl_sim_run(&o, &sum, NULL), 0);
    assert_int_equal(sum.records_acked, 1000);
    assert_int_equal(sum.requests, 10);
    assert_true(sum.duration_s > 0.8 && sum.duration_s < 3.0);
    server_stop(s);
}

static void unreachable_server(void **state)
{
    (void)state;
    struct server *s = server_start();
    int port = s->port;
    server_stop(s); /* nothing listens there now */
    fl_sim_options o;
    fl_sim_options_defaults(&o);
    snprintf(o.url, sizeof o.url, "http://127.0.0.1:%d", port);
    o.duration_us = 30 * FL_US_PER_SEC;
    int64_t t0 = fl_time_mono_us();
    fl_sim_summary sum;
    assert_int_equal(fl_sim_run(&o, &sum, NULL), 0);
    assert_true(sum.connect_failed);
    assert_true(sum.connection_errors > 0);
    assert_int_equal(sum.records_acked, 0);
    assert_true(fl_time_mono_us() - t0 < 10 * FL_US_PER_SEC);
}

static void stop_flag_ends_run(void **state)
{
    (void)state;
    struct server *s = server_start();
    fl_sim_options o;
    options_for(&o, s);
    o.duration_us = 0; /* until stopped */
    o.rate = 2000;
    volatile int stop = 1;
    fl_sim_summary sum;
    assert_int_equal(fl_sim_run(&o, &sum, &stop), 0);
    assert_true(sum.duration_s < 2.0);
    server_stop(s);
}

static void influx_target_204(void **state)
{
    (void)state;
    struct server *s = server_start();
    fl_sim_options o;
    options_for(&o, s);
    o.target = FL_SIM_TARGET_INFLUX;
    snprintf(o.influx_db, sizeof o.influx_db, "bench");
    o.records = 5000;
    o.connections = 2;
    fl_sim_summary sum;
    assert_int_equal(fl_sim_run(&o, &sum, NULL), 0);
    assert_int_equal(sum.target, FL_SIM_TARGET_INFLUX);
    assert_int_equal(sum.records_sent, 5000);
    assert_int_equal(sum.records_acked, 5000);
    assert_int_equal(sum.records_failed, 0);
    assert_int_equal(sum.requests, 10);
    assert_int_equal(sum.http_errors, 0);
    assert_int_equal(s->points, 5000);
    assert_int_equal(s->records, 5000);
    assert_int_equal(s->bad_lines, 0);
    assert_int_equal(s->connections, 2); /* keep-alive here too */
    assert_string_equal(s->write_query, "db=bench&precision=u&type=text/plain; charset=utf-8");
    assert_true(sum.latency_ms_p50 > 0 && sum.latency_ms_max >= sum.latency_ms_p99);
    /* gzip works the same way */
    o.gzip = 1;
    o.records = 1000;
    assert_int_equal(fl_sim_run(&o, &sum, NULL), 0);
    assert_int_equal(sum.records_acked, 1000);
    assert_int_equal(s->gzip_requests, 2);
    assert_int_equal(s->points, 6000);
    server_stop(s);
}

static void influx_4xx_fails_5xx_retries(void **state)
{
    (void)state;
    struct server *s = server_start();
    fl_sim_options o;
    options_for(&o, s);
    o.target = FL_SIM_TARGET_INFLUX;
    o.records = 1500;
    o.connections = 1;
    s->write_status = 400; /* e.g. a partial write: every record of the body counts as failed */
    s->write_status_left = 2;
    fl_sim_summary sum;
    assert_int_equal(fl_sim_run(&o, &sum, NULL), 0);
    assert_int_equal(sum.records_sent, 1500);
    assert_int_equal(sum.records_acked, 500);
    assert_int_equal(sum.records_failed, 1000);
    assert_int_equal(sum.failed_by_code[FL_SIM_CODE_HTTP_ERROR], 1000);
    assert_int_equal(sum.http_errors, 2);
    assert_int_equal(sum.retries, 0);
    assert_int_equal(sum.good_rejected, 1000);

    s->write_status = 500; /* InfluxDB's "timeout": resent after 1 s, like a 503 */
    s->write_status_left = 1;
    o.records = 1000;
    assert_int_equal(fl_sim_run(&o, &sum, NULL), 0);
    assert_int_equal(sum.records_acked, 1000);
    assert_int_equal(sum.records_failed, 0);
    assert_int_equal(sum.throttled, 1);
    assert_int_equal(sum.retries, 1);
    assert_int_equal(sum.requests, 3);
    assert_int_equal(s->records, 500 + 1000);
    server_stop(s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(counts_keepalive_and_acked_out),
        cmocka_unit_test(gzip_ndjson_bodies),
        cmocka_unit_test(bad_records_counted_by_code),
        cmocka_unit_test(retry_after_503),
        cmocka_unit_test(rate_is_paced),
        cmocka_unit_test(unreachable_server),
        cmocka_unit_test(stop_flag_ends_run),
        cmocka_unit_test(influx_target_204),
        cmocka_unit_test(influx_4xx_fails_5xx_retries),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
