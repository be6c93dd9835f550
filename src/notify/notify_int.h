/* notify_int.h — private to src/notify: the channel plug-in table, the outbox's SQL used by
 * the dispatcher, the backoff and rate window, and one delivery worker (tests drive its
 * passes directly with a fake clock). */
#ifndef FL_NOTIFY_NOTIFY_INT_H
#define FL_NOTIFY_NOTIFY_INT_H

#include <curl/curl.h>
#include <jansson.h>
#include <pthread.h>
#include <stdatomic.h>

#include "monitor/monitor.h"
#include "notify/notify.h"

/* Default PagerDuty Events API v2 endpoint (channel url left empty). */
#define FL_PAGERDUTY_EVENTS_URL "https://events.pagerduty.com/v2/enqueue"
/* PagerDuty truncates longer summaries; 1024 is its documented maximum. */
#define FL_PAGERDUTY_SUMMARY_MAX 1024
/* Recipients of one email channel: a mailing list belongs in the mail system, not here. */
#define FL_EMAIL_MAX_RECIPIENTS 50
/* Rows one pass reads at a time: small, so a pass re-reads soon and sees new rows. */
#define FL_OUTBOX_BATCH 16

#define FL_OUTBOX_PENDING   "pending"
#define FL_OUTBOX_DELIVERED "delivered"
#define FL_OUTBOX_FAILED    "failed"

/* One outbox row as the dispatcher reads it. */
typedef struct fl_outbox_row {
    int64_t id;
    int64_t alert_id;
    char event[16];
    char *payload; /* the alert JSON; owned (fl_outbox_rows_free) */
    int64_t created_at;
    int64_t attempts;
} fl_outbox_row;

/* What one delivery attempt came to. */
typedef enum fl_send_outcome {
    FL_SEND_DELIVERED = 0, /* the receiver accepted it (HTTP 2xx, SMTP 250) */
    FL_SEND_RETRY,         /* transient: connection, timeout, 408/429/5xx, SMTP 4xx */
    FL_SEND_REJECTED       /* permanent: 4xx other than 408/429, SMTP 5xx: never retried */
} fl_send_outcome;

typedef struct fl_send_result {
    fl_send_outcome outcome;
    long status;            /* HTTP status or last SMTP reply code, 0 if none */
    int64_t retry_after_us; /* the receiver's Retry-After, 0 if none */
    char reason[16];        /* metric label: connect|timeout|tls|http_4xx|http_5xx|smtp|other */
    char error[256];
} fl_send_result;

/* One notification as a channel renders it. */
typedef struct fl_notification {
    const fl_outbox_row *row;
    const json_t *alert;       /* the parsed payload; borrowed */
    char idempotency_key[300]; /* "<outbox id>:<dedup_key>" */
} fl_notification;

/* A channel type (CONVENTIONS: plug-ins are ops tables). */
typedef struct fl_channel_ops {
    const char *type;
    /* Append what is sent for n to out: the HTTP request body, or the whole email message. */
    int (*render)(const fl_channel_config *ch, const fl_notification *n, fl_buf *out);
    /* Send body over curl (a reused handle, reset by the caller); fill res. */
    void (*send)(CURL *curl, const fl_channel_config *ch, const fl_notification *n,
                 const fl_buf *body, fl_send_result *res);
} fl_channel_ops;

extern const fl_channel_ops fl_channel_webhook;
extern const fl_channel_ops fl_channel_slack;
extern const fl_channel_ops fl_channel_pagerduty;
extern const fl_channel_ops fl_channel_email;

/* ---- channels.c ---- */
/* The ops of a channel type name; NULL if unknown. */
const fl_channel_ops *fl_channel_ops_of(const char *type);
/* The [channel.NAME] called name; NULL if none. */
const fl_channel_config *fl_channel_find(const fl_config *cfg, const char *name);
/* 1 when alert a goes to channel ch (min_severity, fleets). */
int fl_channel_routes(const fl_config *cfg, const fl_channel_config *ch, const fl_alert *a);

/* ---- render.c: helpers shared by the renderers ---- */
/* A string member of the alert ("" when missing or null). */
const char *fl_alert_json_str(const json_t *alert, const char *key);
/* Append root as compact JSON to out (insertion order kept). */
FL_MUST_USE int fl_notify_json_dump(const json_t *root, fl_buf *out);
/* The one-line headline (control bytes as spaces): "CRITICAL <rule> on <device>", or
 * "RESOLVED critical ..." / "ACKNOWLEDGED ..."; "on fleetlake" for pipeline alarms. */
void fl_notify_headline(const fl_notification *n, char *out, size_t outlen);

/* ---- http.c ---- */
/* POST body (JSON) to url with the Idempotency-Key header; classify the answer into res. */
void fl_notify_http_post(CURL *curl, const char *url, const fl_channel_config *ch,
                         const fl_notification *n, const fl_buf *body, fl_send_result *res);
/* Common curl options: timeout, no signals, the channel's TLS (fl_notify_curl_tls), abort
 * when *stop becomes non-zero. */
void fl_notify_curl_common(CURL *curl, const fl_channel_config *ch, atomic_int *stop);
/* Fill res for a failed transfer (curl error cc, message errbuf). */
void fl_notify_curl_failure(CURLcode cc, const char *errbuf, fl_send_result *res);

/* ---- tls.c ---- */
/* Check ch's ca_file, client_cert_file and client_key_file (serve, before it starts): each
 * readable PEM, the key unencrypted, private and the certificate's, and a URL that uses TLS.
 * err names the channel and the key. */
FL_MUST_USE int fl_notify_tls_check(const fl_channel_config *ch, char *err, size_t errlen);
/* Set ch's TLS options on curl: TLS 1.2 at least, ca_file as the only trust anchors, the
 * client certificate and key (ch borrowed for the transfer). */
void fl_notify_curl_tls(CURL *curl, const fl_channel_config *ch);

/* ---- outbox.c: the dispatcher's statements (each its own autocommit transaction) ---- */
/* Up to max due pending rows of channel (next_attempt_at <= now), oldest due first. */
FL_MUST_USE int fl_outbox_due(sqlite3 *db, const char *channel, int64_t now, fl_outbox_row *rows,
                              size_t max, size_t *n);
void fl_outbox_rows_free(fl_outbox_row *rows, size_t n);
FL_MUST_USE int fl_outbox_mark_delivered(sqlite3 *db, int64_t id, int64_t attempts, int64_t now);
FL_MUST_USE int fl_outbox_mark_retry(sqlite3 *db, int64_t id, int64_t attempts, int64_t next_at,
                                     const char *error);
FL_MUST_USE int fl_outbox_mark_failed(sqlite3 *db, int64_t id, int64_t attempts, const char *error);
/* The earliest next_attempt_at of channel's pending rows, INT64_MAX when none; and how many. */
FL_MUST_USE int fl_outbox_pending(sqlite3 *db, const char *channel, int64_t *next_at,
                                  int64_t *count);
/* Mark failed the pending rows of channels cfg does not define; *n = how many. */
FL_MUST_USE int fl_outbox_fail_orphans(sqlite3 *db, const fl_config *cfg, int64_t *n);
/* Delete channel's delivered/failed rows created before `before` (never the newest row of the
 * table, which keeps ids increasing); *n = how many. */
FL_MUST_USE int fl_outbox_purge(sqlite3 *db, const char *channel, int64_t before, int64_t *n);

/* ---- dispatch.c ---- */
/* Wait before attempt number attempts+1 after attempts failures (attempts >= 1): the
 * exponential delay min(retry_max, retry_initial * 2^(attempts-1)), drawn in [delay/2, delay]
 * by random. */
int64_t fl_notify_backoff_us(const fl_config *cfg, int64_t attempts, uint64_t random);

/* At most `limit` attempts in any 60 s window: the times of the last `limit` attempts. */
typedef struct fl_rate_window {
    int64_t *times; /* ring of limit entries */
    int64_t limit;  /* 0 = unlimited */
    int64_t head, count;
} fl_rate_window;
FL_MUST_USE int fl_rate_window_init(fl_rate_window *w, int64_t per_min);
void fl_rate_window_free(fl_rate_window *w);
/* now when an attempt may start now, else the time the oldest one leaves the window. */
int64_t fl_rate_window_next_free(const fl_rate_window *w, int64_t now);
void fl_rate_window_take(fl_rate_window *w, int64_t now);

/* The dispatcher's metric families (members NULL without a registry). */
typedef struct fl_notify_metrics {
    fl_counter_family *deliveries; /* {channel, outcome=delivered|retry|failed} */
    fl_counter_family *failures;   /* {channel, reason} per failed attempt */
    fl_histogram *latency;         /* enqueue -> delivered */
} fl_notify_metrics;

/* One channel's delivery worker (its thread is run by the dispatcher). */
typedef struct fl_notify_worker {
    const fl_config *cfg;
    const fl_channel_config *channel;
    const fl_channel_ops *ops;
    sqlite3 *db;
    CURL *curl;
    fl_rate_window rate;
    const fl_notify_metrics *metrics;
    int64_t (*clock_us)(void); /* fl_time_now_us; tests substitute a fake clock */
    atomic_int stop;
    atomic_llong pending; /* the gauge, refreshed after each pass */
    uint64_t random_state;
    int64_t purged_at; /* last retention purge */
    pthread_t thread;
    int thread_started;
    uint64_t seen_kick;
} fl_notify_worker;

/* Open meta_path for channel ch (ch and cfg borrowed). *out owned by the caller. */
FL_MUST_USE int fl_notify_worker_create(const fl_config *cfg, const fl_channel_config *ch,
                                        const char *meta_path, const fl_notify_metrics *m,
                                        fl_notify_worker **out);
void fl_notify_worker_destroy(fl_notify_worker *w);
/* One pass: deliver every due row the rate limit allows. *next_at = when the next row is due
 * or the rate window frees (INT64_MAX: nothing pending). */
FL_MUST_USE int fl_notify_worker_run_once(fl_notify_worker *w, int64_t *next_at);

#endif
