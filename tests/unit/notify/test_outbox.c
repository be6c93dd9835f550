/* test_outbox.c — notification channels and the outbox: [channel.NAME] config and its checks,
 * routing by severity and fleet at enqueue, the payload of each channel type, backoff and the
 * rate window, and a delivery worker against a real HTTP receiver (libmicrohttpd in this
 * process, answering a scripted sequence of statuses): delivered once, retried after 503 until
 * delivered, refused on 400, given up after max_attempts, rate limited. The worker runs on a
 * fake clock, so retries and the rate window are stepped, not waited for. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <microhttpd.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "notify/notify_int.h"

/* ---- helpers ------------------------------------------------------------------------------- */

static void set(fl_config *cfg, const char *name, const char *value)
{
    char err[256];
    if (fl_config_set_value(cfg, name, value, err, sizeof err))
        fail_msg("%s=%s: %s", name, value, err);
}

static void make_alert(fl_alert *a, int64_t id, fl_severity sev, const char *device)
{
    memset(a, 0, sizeof *a);
    a->id = id;
    snprintf(a->rule, sizeof a->rule, "engine_hot");
    snprintf(a->type, sizeof a->type, "threshold");
    a->severity = sev;
    a->state = FL_ALERT_OPEN;
    snprintf(a->dedup_key, sizeof a->dedup_key, "engine_hot:%s", device);
    snprintf(a->device_id, sizeof a->device_id, "%s", device);
    snprintf(a->summary, sizeof a->summary, "engine_temp 131.5 > 120 for 3 readings");
    a->has_value = 1;
    a->value = 131.5;
    a->threshold = 120;
    a->opened_at = a->updated_at = INT64_C(1790000000000000);
    a->acked_at = a->resolved_at = -1;
    a->notify_count = 1;
}

static char db_path[512];

static sqlite3 *open_db(void)
{
    const char *base = getenv("FL_TEST_TMP");
    char dir[400];
    snprintf(dir, sizeof dir, "%s/notify-XXXXXX", base ? base : "/tmp");
    assert_non_null(mkdtemp(dir));
    snprintf(db_path, sizeof db_path, "%s/meta.db", dir);
    sqlite3 *db = NULL;
    assert_int_equal(sqlite3_open(db_path, &db), SQLITE_OK);
    assert_int_equal(sqlite3_exec(db, "PRAGMA journal_mode=WAL", NULL, NULL, NULL), SQLITE_OK);
    assert_int_equal(fl_notify_outbox_init(db), 0);
    return db;
}

static int64_t query_int(sqlite3 *db, const char *sql)
{
    sqlite3_stmt *st = NULL;
    assert_int_equal(sqlite3_prepare_v2(db, sql, -1, &st, NULL), SQLITE_OK);
    assert_int_equal(sqlite3_step(st), SQLITE_ROW);
    int64_t v = sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    return v;
}

/* The workers' fake clock. Rows are stamped with the real time when enqueued; the fake clock
 * is moved up to it then, so a row is due at once, as it is for a real worker. */
static int64_t fake_now;
static int64_t fake_clock(void)
{
    return fake_now;
}

static void enqueue(sqlite3 *db, const fl_config *cfg, const fl_alert *a, const char *event)
{
    assert_int_equal(sqlite3_exec(db, "BEGIN IMMEDIATE", NULL, NULL, NULL), SQLITE_OK);
    assert_int_equal(fl_notify_enqueue(db, cfg, a, event), 0);
    assert_int_equal(sqlite3_exec(db, "COMMIT", NULL, NULL, NULL), SQLITE_OK);
    if (fake_now < fl_time_now_us())
        fake_now = fl_time_now_us();
}

/* ---- config and validation ----------------------------------------------------------------- */

static void expect_invalid(fl_config *cfg, const char *needle)
{
    char err[512] = "";
    assert_int_equal(fl_notify_channels_validate(cfg, err, sizeof err), FL_ECONFIG);
    if (!strstr(err, needle))
        fail_msg("error '%s' does not mention '%s'", err, needle);
}

static void channel_config_and_checks(void **state)
{
    (void)state;
    fl_config *cfg = malloc(sizeof *cfg);
    char err[512];
    fl_config_defaults(cfg);
    assert_int_equal(cfg->channel_count, 0);
    assert_int_equal(fl_notify_channels_validate(cfg, err, sizeof err), 0);
    set(cfg, "channel.ops.url", "https://hooks.example.net/x");
    assert_int_equal(cfg->channel_count, 1);
    assert_string_equal(cfg->channels[0].type, "webhook"); /* defaults filled */
    assert_string_equal(cfg->channels[0].min_severity, "info");
    assert_int_equal(cfg->channels[0].rate_per_min, 60);
    assert_int_equal(cfg->channels[0].timeout_s, 10);
    assert_int_equal(fl_notify_channels_validate(cfg, err, sizeof err), 0);
    assert_int_equal(fl_config_set_value(cfg, "channel.ops.type", "sms", err, sizeof err),
                     FL_ECONFIG);
    assert_non_null(strstr(err, "channel.ops.type"));
    assert_int_equal(fl_config_set_value(cfg, "channel.ops.colour", "red", err, sizeof err),
                     FL_ECONFIG);

    set(cfg, "channel.ops.url", "ftp://x");
    expect_invalid(cfg, "[channel.ops] url: not an HTTP URL");
    set(cfg, "channel.ops.url", "");
    expect_invalid(cfg, "[channel.ops] url: required");
    set(cfg, "channel.ops.url", "http://127.0.0.1:9/");
    set(cfg, "channel.ops.routing_key", "abc");
    expect_invalid(cfg, "[channel.ops] routing_key: does not apply to type = webhook");
    set(cfg, "channel.ops.type", "pagerduty");
    assert_int_equal(fl_notify_channels_validate(cfg, err, sizeof err), 0);
    set(cfg, "channel.ops.routing_key", "");
    expect_invalid(cfg, "[channel.ops] routing_key: required");
    set(cfg, "channel.ops.url", "");
    expect_invalid(cfg, "[channel.ops] routing_key: required"); /* also with the default url */
    set(cfg, "channel.ops.routing_key", "k");                   /* PagerDuty's public endpoint */
    assert_int_equal(fl_notify_channels_validate(cfg, err, sizeof err), 0);
    set(cfg, "channel.ops.fleets", "seoul, busan");
    expect_invalid(cfg, "[channel.ops] fleets: no [fleet.seoul] section");
    set(cfg, "fleet.seoul.devices", "truck-*");
    expect_invalid(cfg, "[fleet.busan]");
    set(cfg, "fleet.busan.devices", "van-*");
    assert_int_equal(fl_notify_channels_validate(cfg, err, sizeof err), 0);

    set(cfg, "channel.mail.type", "email");
    expect_invalid(cfg, "[channel.mail] url: required for type = email");
    set(cfg, "channel.mail.url", "https://x");
    expect_invalid(cfg, "not an SMTP URL");
    set(cfg, "channel.mail.url", "smtp://127.0.0.1:2525");
    expect_invalid(cfg, "[channel.mail] from: required");
    set(cfg, "channel.mail.from", "fleetlake@example.net");
    expect_invalid(cfg, "[channel.mail] to: required");
    set(cfg, "channel.mail.to", "ops@example.net, bad address");
    expect_invalid(cfg, "'bad address' is not an email address");
    set(cfg, "channel.mail.to", "ops@example.net, fleet@example.net");
    assert_int_equal(fl_notify_channels_validate(cfg, err, sizeof err), 0);
    free(cfg);
}

/* ca_file and the client certificate: the checks that need no real certificate (those that do
 * are in tests/integration/test_notify_tls.py, with certificates made by openssl). */
static void channel_tls_checks(void **state)
{
    (void)state;
    fl_config *cfg = malloc(sizeof *cfg);
    char err[512], dir[400], notpem[512];
    const char *base = getenv("FL_TEST_TMP");
    snprintf(dir, sizeof dir, "%s/notify-tls-XXXXXX", base ? base : "/tmp");
    assert_non_null(mkdtemp(dir));
    snprintf(notpem, sizeof notpem, "%s/notpem.txt", dir);
    FILE *f = fopen(notpem, "w");
    assert_non_null(f);
    fputs("not a certificate\n", f);
    fclose(f);
    fl_config_defaults(cfg);

    set(cfg, "channel.hook.url", "http://127.0.0.1:9/x");
    set(cfg, "channel.hook.ca_file", notpem);
    expect_invalid(cfg, "[channel.hook] ca_file: does not apply without TLS (url http://");
    set(cfg, "channel.hook.url", "https://127.0.0.1:9/x");
    expect_invalid(cfg, "[channel.hook] ca_file: '");
    expect_invalid(cfg, "notpem.txt' holds no PEM certificate");
    set(cfg, "channel.hook.ca_file", "/nonexistent/ca.pem");
    expect_invalid(cfg, "[channel.hook] ca_file: cannot read '/nonexistent/ca.pem'");
    set(cfg, "channel.hook.ca_file", dir);
    expect_invalid(cfg, "not a regular file");
    set(cfg, "channel.hook.ca_file", "");
    set(cfg, "channel.hook.client_key_file", notpem);
    expect_invalid(cfg, "[channel.hook] client_cert_file: required with client_key_file");
    set(cfg, "channel.hook.client_key_file", "");
    assert_int_equal(fl_notify_channels_validate(cfg, err, sizeof err), 0);

    set(cfg, "channel.mail.type", "email");
    set(cfg, "channel.mail.url", "smtp://127.0.0.1:2525");
    set(cfg, "channel.mail.from", "fleetlake@example.net");
    set(cfg, "channel.mail.to", "ops@example.net");
    set(cfg, "channel.mail.starttls", "off");
    set(cfg, "channel.mail.client_cert_file", notpem);
    expect_invalid(cfg, "[channel.mail] client_cert_file: does not apply without TLS (url "
                        "smtp://127.0.0.1:2525 with starttls = off)");
    set(cfg, "channel.mail.starttls", "on");
    expect_invalid(cfg, "[channel.mail] client_key_file: required with client_cert_file");
    set(cfg, "channel.mail.client_key_file", notpem);
    expect_invalid(cfg, "[channel.mail] client_cert_file: '");
    set(cfg, "channel.mail.client_cert_file", "");
    set(cfg, "channel.mail.client_key_file", "");
    set(cfg, "channel.pd.type", "pagerduty"); /* the public endpoint is https:// */
    set(cfg, "channel.pd.routing_key", "k");
    set(cfg, "channel.pd.ca_file", notpem);
    expect_invalid(cfg, "[channel.pd] ca_file: '");
    unlink(notpem);
    rmdir(dir);
    free(cfg);
}

/* ---- routing at enqueue --------------------------------------------------------------------- */

static void routing_by_severity_and_fleet(void **state)
{
    (void)state;
    fl_config *cfg = malloc(sizeof *cfg);
    fl_config_defaults(cfg);
    set(cfg, "fleet.seoul.devices", "truck-*");
    set(cfg, "fleet.busan.devices", "van-*,truck-9*");
    set(cfg, "channel.all.url", "http://127.0.0.1:9/all");
    set(cfg, "channel.crit.url", "http://127.0.0.1:9/crit");
    set(cfg, "channel.crit.min_severity", "critical");
    set(cfg, "channel.busan.url", "http://127.0.0.1:9/busan");
    set(cfg, "channel.busan.fleets", "busan");
    sqlite3 *db = open_db();
    fl_alert a;
    make_alert(&a, 1, FL_SEVERITY_WARNING, "truck-0001"); /* seoul only */
    enqueue(db, cfg, &a, FL_NOTIFY_TRIGGER);
    make_alert(&a, 2, FL_SEVERITY_CRITICAL, "truck-9001"); /* seoul and busan (2nd fleet) */
    snprintf(a.fleet, sizeof a.fleet, "seoul");
    enqueue(db, cfg, &a, FL_NOTIFY_TRIGGER);
    make_alert(&a, 3, FL_SEVERITY_INFO, ""); /* pipeline alarm: no device, no fleet */
    enqueue(db, cfg, &a, FL_NOTIFY_TRIGGER);
    make_alert(&a, 2, FL_SEVERITY_CRITICAL, "truck-9001");
    enqueue(db, cfg, &a, FL_NOTIFY_RESOLVE);
    assert_int_equal(query_int(db, "SELECT COUNT(*) FROM notify_outbox WHERE channel='all'"), 4);
    assert_int_equal(query_int(db, "SELECT COUNT(*) FROM notify_outbox WHERE channel='crit'"), 2);
    assert_int_equal(query_int(db, "SELECT COUNT(*) FROM notify_outbox WHERE channel='crit' AND "
                                   "alert_id=2"),
                     2);
    assert_int_equal(query_int(db, "SELECT COUNT(*) FROM notify_outbox WHERE channel='busan'"), 2);
    assert_int_equal(query_int(db, "SELECT COUNT(*) FROM notify_outbox WHERE channel='busan' AND "
                                   "alert_id=2 AND event='resolve'"),
                     1);
    /* ids are 1..n, every row pending with no attempt, the payload is the alert JSON */
    assert_int_equal(query_int(db, "SELECT MAX(id) FROM notify_outbox"), 8);
    assert_int_equal(query_int(db, "SELECT COUNT(*) FROM notify_outbox WHERE state='pending' AND "
                                   "attempts=0 AND next_attempt_at=created_at"),
                     8);
    assert_int_equal(query_int(db, "SELECT COUNT(*) FROM notify_outbox WHERE payload LIKE "
                                   "'{\"id\":3,\"rule\":\"engine_hot\",%\"device_id\":null%'"),
                     1);
    /* A rolled-back transaction leaves no notification. */
    assert_int_equal(sqlite3_exec(db, "BEGIN IMMEDIATE", NULL, NULL, NULL), SQLITE_OK);
    assert_int_equal(fl_notify_enqueue(db, cfg, &a, FL_NOTIFY_TRIGGER), 0);
    assert_int_equal(sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL), SQLITE_OK);
    assert_int_equal(query_int(db, "SELECT COUNT(*) FROM notify_outbox"), 8);
    assert_int_equal(fl_notify_enqueue(db, cfg, &a, "page"), FL_EINVAL);
    sqlite3_close(db);
    free(cfg);
}

/* ---- payloads -------------------------------------------------------------------------------- */

static json_t *render_json(const fl_channel_ops *ops, const fl_channel_config *ch,
                           const fl_alert *a, const char *event, fl_buf *raw)
{
    fl_buf payload = {0};
    assert_int_equal(fl_alert_to_json(a, &payload), 0);
    fl_outbox_row row = {.id = 42, .alert_id = a->id, .payload = payload.data};
    snprintf(row.event, sizeof row.event, "%s", event);
    json_t *alert = json_loads(payload.data, 0, NULL);
    assert_non_null(alert);
    fl_notification n = {&row, alert, ""};
    snprintf(n.idempotency_key, sizeof n.idempotency_key, "42:%s", a->dedup_key);
    fl_buf_reset(raw);
    assert_int_equal(ops->render(ch, &n, raw), 0);
    json_decref(alert);
    fl_buf_free(&payload);
    return ops == &fl_channel_email ? NULL : json_loads(raw->data, 0, NULL);
}

#define JSTR(root, path) json_string_value(json_object_get(root, path))

static void channel_payloads(void **state)
{
    (void)state;
    fl_config *cfg = malloc(sizeof *cfg);
    fl_config_defaults(cfg);
    set(cfg, "channel.pd.type", "pagerduty");
    set(cfg, "channel.pd.routing_key", "R0123456789abcdef");
    set(cfg, "channel.mail.type", "email");
    set(cfg, "channel.mail.url", "smtp://127.0.0.1:25");
    set(cfg, "channel.mail.from", "fleetlake@example.net");
    set(cfg, "channel.mail.to", "ops@example.net, fleet@example.net");
    const fl_channel_config *pd = &cfg->channels[0], *mail = &cfg->channels[1];
    fl_alert a;
    make_alert(&a, 7, FL_SEVERITY_CRITICAL, "truck-0042");
    snprintf(a.fleet, sizeof a.fleet, "seoul");
    fl_buf raw = {0};

    json_t *j = render_json(&fl_channel_webhook, pd, &a, FL_NOTIFY_TRIGGER, &raw);
    assert_non_null(j);
    assert_string_equal(JSTR(j, "event"), "trigger");
    assert_int_equal(json_integer_value(json_object_get(j, "notification_id")), 42);
    assert_string_equal(JSTR(j, "idempotency_key"), "42:engine_hot:truck-0042");
    assert_int_equal(json_integer_value(json_object_get(j, "id")), 7);
    assert_string_equal(JSTR(j, "severity"), "critical");
    assert_string_equal(JSTR(j, "device_id"), "truck-0042");
    assert_true(json_real_value(json_object_get(j, "value")) == 131.5);
    json_decref(j);

    j = render_json(&fl_channel_pagerduty, pd, &a, FL_NOTIFY_TRIGGER, &raw);
    assert_string_equal(JSTR(j, "routing_key"), "R0123456789abcdef");
    assert_string_equal(JSTR(j, "event_action"), "trigger");
    assert_string_equal(JSTR(j, "dedup_key"), "engine_hot:truck-0042");
    json_t *p = json_object_get(j, "payload");
    assert_string_equal(JSTR(p, "summary"), "engine_temp 131.5 > 120 for 3 readings");
    assert_string_equal(JSTR(p, "severity"), "critical");
    assert_string_equal(JSTR(p, "source"), "truck-0042");
    assert_string_equal(JSTR(p, "group"), "seoul");
    assert_string_equal(JSTR(p, "component"), "engine_hot");
    assert_non_null(strstr(JSTR(p, "timestamp"), "2026-09-21T"));
    assert_int_equal(
        json_integer_value(json_object_get(json_object_get(p, "custom_details"), "id")), 7);
    json_decref(j);
    j = render_json(&fl_channel_pagerduty, pd, &a, FL_NOTIFY_RESOLVE, &raw);
    assert_string_equal(JSTR(j, "event_action"), "resolve");
    assert_string_equal(JSTR(j, "dedup_key"), "engine_hot:truck-0042");
    assert_int_equal(json_object_size(j), 3); /* routing_key, event_action, dedup_key only */
    json_decref(j);

    a.severity = FL_SEVERITY_WARNING;
    snprintf(a.summary, sizeof a.summary, "temp <high> & rising");
    j = render_json(&fl_channel_slack, pd, &a, FL_NOTIFY_TRIGGER, &raw);
    assert_string_equal(JSTR(j, "text"), "WARNING engine_hot on truck-0042");
    json_t *att = json_array_get(json_object_get(j, "attachments"), 0);
    assert_string_equal(JSTR(att, "color"), "#f2a900");
    json_t *sect = json_array_get(json_object_get(att, "blocks"), 0);
    assert_string_equal(JSTR(json_object_get(sect, "text"), "text"),
                        "*WARNING engine_hot on truck-0042*\ntemp &lt;high&gt; &amp; rising");
    json_decref(j);
    j = render_json(&fl_channel_slack, pd, &a, FL_NOTIFY_RESOLVE, &raw);
    assert_string_equal(JSTR(j, "text"), "RESOLVED warning engine_hot on truck-0042");
    assert_string_equal(JSTR(json_array_get(json_object_get(j, "attachments"), 0), "color"),
                        "#2eb886");
    json_decref(j);

    a.severity = FL_SEVERITY_CRITICAL;
    snprintf(a.device_id, sizeof a.device_id, "truck\r\nBcc: x@evil");
    assert_null(render_json(&fl_channel_email, mail, &a, FL_NOTIFY_TRIGGER, &raw));
    assert_non_null(strstr(raw.data, "\r\nFrom: fleetlake@example.net\r\n"));
    assert_non_null(strstr(raw.data, "\r\nTo: ops@example.net, fleet@example.net\r\n"));
    assert_non_null(
        strstr(raw.data, "\r\nSubject: [fleetlake] CRITICAL engine_hot on truck  Bcc: x@evil\r\n"));
    assert_null(strstr(raw.data, "\r\nBcc:")); /* neither in the headers nor the body */
    assert_non_null(strstr(raw.data, "\r\nDevice:      truck  Bcc: x@evil\r\n"));
    assert_non_null(strstr(raw.data, "\r\nMessage-ID: <fleetlake.42.7@fleetlake>\r\n"));
    assert_non_null(strstr(raw.data, "\r\n\r\nCRITICAL engine_hot on truck"));
    assert_non_null(strstr(raw.data, "Threshold:   120\r\n"));
    fl_buf_free(&raw);
    free(cfg);
}

/* ---- backoff and rate window ----------------------------------------------------------------- */

static void backoff_and_rate_window(void **state)
{
    (void)state;
    fl_config *cfg = malloc(sizeof *cfg);
    fl_config_defaults(cfg); /* 1000 ms doubling, capped at 300 s */
    assert_int_equal(fl_notify_backoff_us(cfg, 1, 0), 500000);
    assert_int_equal(fl_notify_backoff_us(cfg, 1, 500000), 1000000);
    assert_int_equal(fl_notify_backoff_us(cfg, 3, 0), 2000000);
    assert_int_equal(fl_notify_backoff_us(cfg, 30, UINT64_MAX - 1) <= 300000000, 1);
    assert_int_equal(fl_notify_backoff_us(cfg, 30, 0), 150000000);
    for (uint64_t r = 0; r < 1000; r += 7) {
        int64_t b = fl_notify_backoff_us(cfg, 4, r * 7919);
        assert_true(b >= 4000000 && b <= 8000000);
    }
    fl_rate_window w;
    assert_int_equal(fl_rate_window_init(&w, 3), 0);
    int64_t t = 1000000000;
    for (int i = 0; i < 3; i++) {
        assert_int_equal(fl_rate_window_next_free(&w, t + i), t + i);
        fl_rate_window_take(&w, t + i);
    }
    assert_int_equal(fl_rate_window_next_free(&w, t + 10), t + 60000000);
    assert_int_equal(fl_rate_window_next_free(&w, t + 60000000), t + 60000000);
    fl_rate_window_take(&w, t + 60000000);
    assert_int_equal(fl_rate_window_next_free(&w, t + 60000000), t + 60000001);
    fl_rate_window_free(&w);
    assert_int_equal(fl_rate_window_init(&w, 0), 0);
    fl_rate_window_take(&w, t);
    assert_int_equal(fl_rate_window_next_free(&w, t), t);
    fl_rate_window_free(&w);
    free(cfg);
}

/* ---- a real HTTP receiver ---------------------------------------------------------------------
 */

#define MAX_GOT 64
static struct receiver {
    struct MHD_Daemon *daemon;
    uint16_t port;
    pthread_mutex_t lock;
    int statuses[MAX_GOT]; /* answer for request i; 0 = 200 */
    int retry_after;       /* sent with 429 */
    int got;
    char bodies[MAX_GOT][4096];
    char keys[MAX_GOT][300];
} rx = {.lock = PTHREAD_MUTEX_INITIALIZER};

struct upload {
    char buf[4096];
    size_t len;
};

static enum MHD_Result on_request(void *cls, struct MHD_Connection *c, const char *url,
                                  const char *method, const char *version, const char *data,
                                  size_t *size, void **con_cls)
{
    struct upload *u = *con_cls;
    if (!u) {
        *con_cls = calloc(1, sizeof *u);
        return MHD_YES;
    }
    if (*size) {
        size_t take = *size < sizeof u->buf - 1 - u->len ? *size : sizeof u->buf - 1 - u->len;
        memcpy(u->buf + u->len, data, take);
        u->len += take;
        *size = 0;
        return MHD_YES;
    }
    pthread_mutex_lock(&rx.lock);
    int i = rx.got < MAX_GOT ? rx.got++ : MAX_GOT - 1;
    int status = rx.statuses[i] ? rx.statuses[i] : 200;
    memcpy(rx.bodies[i], u->buf, u->len + 1);
    const char *key = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Idempotency-Key");
    snprintf(rx.keys[i], sizeof rx.keys[i], "%s", key ? key : "");
    pthread_mutex_unlock(&rx.lock);
    struct MHD_Response *r =
        MHD_create_response_from_buffer(2, (void *)"ok", MHD_RESPMEM_PERSISTENT);
    if (status == 429 && rx.retry_after) {
        char v[16];
        snprintf(v, sizeof v, "%d", rx.retry_after);
        MHD_add_response_header(r, "Retry-After", v);
    }
    enum MHD_Result ret = MHD_queue_response(c, (unsigned)status, r);
    MHD_destroy_response(r);
    return ret;
}

static void on_completed(void *cls, struct MHD_Connection *c, void **con_cls,
                         enum MHD_RequestTerminationCode toe)
{
    free(*con_cls);
    *con_cls = NULL;
}

static void receiver_start(void)
{
    memset(rx.statuses, 0, sizeof rx.statuses);
    rx.got = 0;
    rx.retry_after = 0;
    rx.daemon = MHD_start_daemon(MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_ERROR_LOG, 0, NULL, NULL,
                                 on_request, NULL, MHD_OPTION_NOTIFY_COMPLETED, on_completed, NULL,
                                 MHD_OPTION_END);
    assert_non_null(rx.daemon);
    const union MHD_DaemonInfo *info = MHD_get_daemon_info(rx.daemon, MHD_DAEMON_INFO_BIND_PORT);
    rx.port = info->port;
}

static int received(void)
{
    pthread_mutex_lock(&rx.lock);
    int n = rx.got;
    pthread_mutex_unlock(&rx.lock);
    return n;
}

struct rig {
    fl_config *cfg;
    sqlite3 *db;
    fl_notify_worker *w;
};

static void rig_setup(struct rig *r, const char *type, const char *extra_key, const char *extra)
{
    char url[128];
    receiver_start();
    r->cfg = malloc(sizeof *r->cfg);
    fl_config_defaults(r->cfg);
    snprintf(url, sizeof url, "http://127.0.0.1:%u/hook", rx.port);
    set(r->cfg, "channel.ops.type", type);
    set(r->cfg, "channel.ops.url", url);
    if (strcmp(type, "pagerduty") == 0)
        set(r->cfg, "channel.ops.routing_key", "R1");
    if (extra_key)
        set(r->cfg, extra_key, extra);
    set(r->cfg, "outbox.max_attempts", "4");
    r->db = open_db();
    assert_int_equal(fl_notify_worker_create(r->cfg, &r->cfg->channels[0], db_path, NULL, &r->w),
                     0);
    fake_now = fl_time_now_us() + 1000;
    r->w->clock_us = fake_clock;
}

static void rig_teardown(struct rig *r)
{
    fl_notify_worker_destroy(r->w);
    sqlite3_close(r->db);
    MHD_stop_daemon(rx.daemon);
    free(r->cfg);
}

static int64_t rows_in(sqlite3 *db, const char *state)
{
    char sql[128];
    snprintf(sql, sizeof sql, "SELECT COUNT(*) FROM notify_outbox WHERE state='%s'", state);
    return query_int(db, sql);
}

static void delivered_once(void **state)
{
    (void)state;
    struct rig r;
    rig_setup(&r, "pagerduty", NULL, NULL);
    fl_alert a;
    make_alert(&a, 5, FL_SEVERITY_CRITICAL, "truck-0005");
    enqueue(r.db, r.cfg, &a, FL_NOTIFY_TRIGGER);
    int64_t next = 0;
    assert_int_equal(fl_notify_worker_run_once(r.w, &next), 0);
    assert_int_equal(received(), 1);
    assert_int_equal(next, INT64_MAX); /* nothing pending */
    assert_int_equal(rows_in(r.db, "delivered"), 1);
    assert_int_equal(query_int(r.db, "SELECT attempts FROM notify_outbox"), 1);
    assert_int_equal(query_int(r.db, "SELECT delivered_at FROM notify_outbox"), fake_now);
    json_t *j = json_loads(rx.bodies[0], 0, NULL);
    assert_string_equal(JSTR(j, "routing_key"), "R1");
    assert_string_equal(JSTR(j, "event_action"), "trigger");
    assert_string_equal(JSTR(j, "dedup_key"), "engine_hot:truck-0005");
    assert_string_equal(JSTR(json_object_get(j, "payload"), "source"), "truck-0005");
    json_decref(j);
    assert_string_equal(rx.keys[0], "1:engine_hot:truck-0005");
    /* Later passes never send it again. */
    fake_now += INT64_C(3600) * FL_US_PER_SEC;
    assert_int_equal(fl_notify_worker_run_once(r.w, &next), 0);
    assert_int_equal(received(), 1);
    assert_int_equal(atomic_load(&r.w->pending), 0);
    rig_teardown(&r);
}

static void retried_until_delivered(void **state)
{
    (void)state;
    struct rig r;
    rig_setup(&r, "webhook", NULL, NULL);
    rx.statuses[0] = 503;
    rx.statuses[1] = 429;
    rx.retry_after = 120;
    fl_alert a;
    make_alert(&a, 6, FL_SEVERITY_WARNING, "truck-0006");
    enqueue(r.db, r.cfg, &a, FL_NOTIFY_TRIGGER);
    int64_t next = 0, t0 = fake_now;
    assert_int_equal(fl_notify_worker_run_once(r.w, &next), 0);
    assert_int_equal(received(), 1);
    assert_int_equal(rows_in(r.db, "pending"), 1);
    assert_true(next >= t0 + 500000 && next <= t0 + 1000000); /* first backoff: 0.5-1 s */
    assert_int_equal(query_int(r.db, "SELECT attempts FROM notify_outbox"), 1);
    assert_int_equal(query_int(r.db, "SELECT COUNT(*) FROM notify_outbox WHERE last_error LIKE "
                                     "'HTTP 503%'"),
                     1);
    /* Not due yet: nothing is sent. */
    assert_int_equal(fl_notify_worker_run_once(r.w, &next), 0);
    assert_int_equal(received(), 1);
    fake_now = next;
    assert_int_equal(fl_notify_worker_run_once(r.w, &next), 0);
    assert_int_equal(received(), 2); /* 429 with Retry-After: 120 */
    assert_true(next >= fake_now + 120 * FL_US_PER_SEC);
    fake_now = next;
    assert_int_equal(fl_notify_worker_run_once(r.w, &next), 0);
    assert_int_equal(received(), 3);
    assert_int_equal(rows_in(r.db, "delivered"), 1);
    assert_int_equal(query_int(r.db, "SELECT attempts FROM notify_outbox"), 3);
    for (int i = 0; i < 3; i++) { /* the same notification, the same key, every time */
        assert_string_equal(rx.keys[i], "1:engine_hot:truck-0006");
        json_t *j = json_loads(rx.bodies[i], 0, NULL);
        assert_string_equal(JSTR(j, "event"), "trigger");
        assert_int_equal(json_integer_value(json_object_get(j, "id")), 6);
        json_decref(j);
    }
    rig_teardown(&r);
}

static void refused_and_given_up(void **state)
{
    (void)state;
    struct rig r;
    rig_setup(&r, "slack", NULL, NULL);
    rx.statuses[0] = 400; /* refused: failed at once */
    for (int i = 1; i < MAX_GOT; i++)
        rx.statuses[i] = 500;
    fl_alert a;
    make_alert(&a, 8, FL_SEVERITY_INFO, "truck-0008");
    enqueue(r.db, r.cfg, &a, FL_NOTIFY_TRIGGER);
    int64_t next = 0;
    assert_int_equal(fl_notify_worker_run_once(r.w, &next), 0);
    assert_int_equal(rows_in(r.db, "failed"), 1);
    assert_int_equal(query_int(r.db, "SELECT attempts FROM notify_outbox"), 1);
    enqueue(r.db, r.cfg, &a, FL_NOTIFY_RESOLVE);
    fake_now = fl_time_now_us();
    next = 0;
    for (int i = 0; i < 10 && next != INT64_MAX; i++) {
        assert_int_equal(fl_notify_worker_run_once(r.w, &next), 0);
        if (next != INT64_MAX)
            fake_now = next;
    }
    assert_int_equal(received(), 1 + 4); /* outbox.max_attempts = 4 */
    assert_int_equal(rows_in(r.db, "failed"), 2);
    assert_int_equal(query_int(r.db, "SELECT attempts FROM notify_outbox WHERE id=2"), 4);
    json_t *j = json_loads(rx.bodies[1], 0, NULL);
    assert_string_equal(JSTR(j, "text"), "RESOLVED info engine_hot on truck-0008");
    json_decref(j);
    rig_teardown(&r);
}

static void receiver_down_then_up(void **state)
{
    (void)state;
    struct rig r;
    rig_setup(&r, "webhook", NULL, NULL);
    MHD_stop_daemon(rx.daemon); /* down: connection refused */
    fl_alert a;
    make_alert(&a, 9, FL_SEVERITY_CRITICAL, "truck-0009");
    enqueue(r.db, r.cfg, &a, FL_NOTIFY_TRIGGER);
    int64_t next = 0;
    assert_int_equal(fl_notify_worker_run_once(r.w, &next), 0);
    assert_int_equal(rows_in(r.db, "pending"), 1);
    assert_int_equal(query_int(r.db, "SELECT COUNT(*) FROM notify_outbox WHERE attempts=1"), 1);
    /* up again on the same port */
    rx.daemon =
        MHD_start_daemon(MHD_USE_INTERNAL_POLLING_THREAD, rx.port, NULL, NULL, on_request, NULL,
                         MHD_OPTION_NOTIFY_COMPLETED, on_completed, NULL, MHD_OPTION_END);
    assert_non_null(rx.daemon);
    fake_now = next;
    assert_int_equal(fl_notify_worker_run_once(r.w, &next), 0);
    assert_int_equal(received(), 1);
    assert_int_equal(rows_in(r.db, "delivered"), 1);
    fake_now += INT64_C(600) * FL_US_PER_SEC;
    assert_int_equal(fl_notify_worker_run_once(r.w, &next), 0);
    assert_int_equal(received(), 1);
    rig_teardown(&r);
}

static void rate_limited(void **state)
{
    (void)state;
    struct rig r;
    rig_setup(&r, "webhook", "channel.ops.rate_per_min", "2");
    fl_alert a;
    for (int i = 0; i < 5; i++) {
        make_alert(&a, 100 + i, FL_SEVERITY_WARNING, "truck-0100");
        enqueue(r.db, r.cfg, &a, FL_NOTIFY_TRIGGER);
    }
    fake_now = fl_time_now_us(); /* every row due */
    int64_t next = 0, t0 = fake_now;
    assert_int_equal(fl_notify_worker_run_once(r.w, &next), 0);
    assert_int_equal(received(), 2);
    assert_int_equal(next, t0 + 60 * FL_US_PER_SEC);
    assert_int_equal(atomic_load(&r.w->pending), 3);
    fake_now = t0 + 59 * FL_US_PER_SEC;
    assert_int_equal(fl_notify_worker_run_once(r.w, &next), 0);
    assert_int_equal(received(), 2);
    fake_now = t0 + 60 * FL_US_PER_SEC;
    assert_int_equal(fl_notify_worker_run_once(r.w, &next), 0);
    assert_int_equal(received(), 4);
    fake_now += 60 * FL_US_PER_SEC;
    assert_int_equal(fl_notify_worker_run_once(r.w, &next), 0);
    assert_int_equal(received(), 5);
    assert_int_equal(rows_in(r.db, "delivered"), 5);
    /* in order of enqueue: alert ids 100..104 */
    for (int i = 0; i < 5; i++) {
        json_t *j = json_loads(rx.bodies[i], 0, NULL);
        assert_int_equal(json_integer_value(json_object_get(j, "id")), 100 + i);
        json_decref(j);
    }
    rig_teardown(&r);
}

/* Retention deletes old finished rows but never pending ones nor the newest row (ids never
 * repeat); rows of removed channels are failed at dispatcher start. */
static void purge_and_orphans(void **state)
{
    (void)state;
    fl_config *cfg = malloc(sizeof *cfg);
    fl_config_defaults(cfg);
    set(cfg, "channel.a.url", "http://127.0.0.1:9/");
    set(cfg, "channel.b.url", "http://127.0.0.1:9/");
    sqlite3 *db = open_db();
    fl_alert a;
    make_alert(&a, 1, FL_SEVERITY_INFO, "x");
    for (int i = 0; i < 3; i++)
        enqueue(db, cfg, &a, FL_NOTIFY_TRIGGER);
    assert_int_equal(sqlite3_exec(db, "UPDATE notify_outbox SET state='delivered' WHERE id<=4",
                                  NULL, NULL, NULL),
                     SQLITE_OK);
    int64_t n = 0;
    assert_int_equal(fl_outbox_purge(db, "a", INT64_MAX, &n), 0);
    assert_int_equal(n, 2); /* ids 1, 3 */
    assert_int_equal(fl_outbox_purge(db, "b", INT64_MAX, &n), 0);
    assert_int_equal(n, 2); /* ids 2, 4; 6 (newest) pending anyway */
    assert_int_equal(query_int(db, "SELECT COUNT(*) FROM notify_outbox"), 2);
    cfg->channel_count = 1; /* channel b removed from the configuration */
    assert_int_equal(fl_outbox_fail_orphans(db, cfg, &n), 0);
    assert_int_equal(n, 1);
    assert_int_equal(query_int(db, "SELECT COUNT(*) FROM notify_outbox WHERE state='failed' AND "
                                   "channel='b' AND last_error='channel not configured'"),
                     1);
    assert_int_equal(query_int(db, "SELECT COUNT(*) FROM notify_outbox WHERE state='pending'"), 1);
    sqlite3_close(db);
    free(cfg);
}

/* The dispatcher's threads: a kick after the commit delivers without waiting for the poll
 * interval (set to a minute here, so only the kick can explain the delivery). */
static void dispatcher_kick(void **state)
{
    (void)state;
    receiver_start();
    fl_config *cfg = malloc(sizeof *cfg);
    fl_config_defaults(cfg);
    char url[128];
    snprintf(url, sizeof url, "http://127.0.0.1:%u/hook", rx.port);
    set(cfg, "channel.ops.url", url);
    set(cfg, "outbox.poll_interval_ms", "60000");
    sqlite3 *db = open_db();
    fl_metrics *m = NULL;
    assert_int_equal(fl_metrics_create(&m), 0);
    fl_notify_dispatcher_deps deps = {cfg, db_path, m};
    fl_notify_dispatcher *d = NULL;
    assert_int_equal(fl_notify_dispatcher_start(&deps, &d), 0);
    usleep(100 * 1000); /* let the worker go to sleep */
    fl_alert a;
    make_alert(&a, 11, FL_SEVERITY_CRITICAL, "truck-0011");
    enqueue(db, cfg, &a, FL_NOTIFY_TRIGGER);
    fl_notify_kick();
    for (int i = 0; i < 500 && rows_in(db, "delivered") < 1; i++)
        usleep(20 * 1000);
    assert_int_equal(rows_in(db, "delivered"), 1);
    assert_int_equal(received(), 1);
    fl_buf text = {0};
    assert_int_equal(fl_metrics_render(m, &text), 0);
    assert_non_null(strstr(
        text.data, "fleetlake_notify_deliveries_total{channel=\"ops\",outcome=\"delivered\"} 1"));
    assert_non_null(strstr(text.data, "fleetlake_notify_delivery_seconds_count 1"));
    assert_non_null(strstr(text.data, "fleetlake_notify_outbox_pending{channel=\"ops\"} 0"));
    fl_buf_free(&text);
    fl_notify_dispatcher_stop(d);
    fl_metrics_destroy(m);
    sqlite3_close(db);
    MHD_stop_daemon(rx.daemon);
    free(cfg);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(channel_config_and_checks),
        cmocka_unit_test(channel_tls_checks),
        cmocka_unit_test(routing_by_severity_and_fleet),
        cmocka_unit_test(channel_payloads),
        cmocka_unit_test(backoff_and_rate_window),
        cmocka_unit_test(delivered_once),
        cmocka_unit_test(retried_until_delivered),
        cmocka_unit_test(refused_and_given_up),
        cmocka_unit_test(receiver_down_then_up),
        cmocka_unit_test(rate_limited),
        cmocka_unit_test(purge_and_orphans),
        cmocka_unit_test(dispatcher_kick),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
