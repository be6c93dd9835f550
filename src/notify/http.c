/* http.c — one delivery attempt over HTTP(S) with libcurl, shared by the webhook, Slack and
 * PagerDuty channels, and the classification of an answer into delivered / retry / rejected.
 *
 * Retry: no answer (connect, DNS, timeout, TLS), 408, 429 (honouring Retry-After) and 5xx.
 * Rejected (never retried): every other 4xx — the receiver understood and refused (a bad URL,
 * a revoked key, an invalid event); repeating the same bytes would fail the same way.
 * Redirects are not followed: a webhook that moved is a configuration error to see. */
#include <stdio.h>
#include <string.h>

#include "notify/notify_int.h"

/* Bytes of a refusal's body kept for last_error: enough for a JSON error message. */
#define ANSWER_KEEP 200

struct answer {
    char text[ANSWER_KEEP + 1];
    size_t len;
};

static size_t on_body(char *p, size_t size, size_t n, void *arg)
{
    struct answer *a = arg;
    size_t bytes = size * n, room = ANSWER_KEEP - a->len;
    size_t take = bytes < room ? bytes : room;
    memcpy(a->text + a->len, p, take);
    a->len += take;
    a->text[a->len] = 0;
    return bytes;
}

static int on_progress(void *arg, curl_off_t dt, curl_off_t dn, curl_off_t ut, curl_off_t un)
{
    return atomic_load((atomic_int *)arg) ? 1 : 0; /* non-zero aborts: the worker is stopping */
}

void fl_notify_curl_common(CURL *curl, const fl_channel_config *ch, atomic_int *stop)
{
    curl_easy_setopt(curl, CURLOPT_TIMEOUT, (long)ch->timeout_s);
    curl_easy_setopt(curl, CURLOPT_CONNECTTIMEOUT, (long)ch->timeout_s);
    curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(curl, CURLOPT_USERAGENT, "fleetlake/" FL_VERSION);
    fl_notify_curl_tls(curl, ch);
    if (stop) {
        curl_easy_setopt(curl, CURLOPT_NOPROGRESS, 0L);
        curl_easy_setopt(curl, CURLOPT_XFERINFOFUNCTION, on_progress);
        curl_easy_setopt(curl, CURLOPT_XFERINFODATA, stop);
    }
}

void fl_notify_curl_failure(CURLcode cc, const char *errbuf, fl_send_result *res)
{
    const char *reason = "other";
    switch (cc) {
    case CURLE_COULDNT_CONNECT:
    case CURLE_COULDNT_RESOLVE_HOST:
    case CURLE_COULDNT_RESOLVE_PROXY:
    case CURLE_SEND_ERROR:
    case CURLE_RECV_ERROR:
    case CURLE_GOT_NOTHING:
        reason = "connect";
        break;
    case CURLE_OPERATION_TIMEDOUT:
        reason = "timeout";
        break;
    case CURLE_LOGIN_DENIED: /* SMTP AUTH refused: a configuration problem, never retried */
        res->outcome = FL_SEND_REJECTED;
        snprintf(res->reason, sizeof res->reason, "auth");
        snprintf(res->error, sizeof res->error, "login denied: %.200s",
                 errbuf && errbuf[0] ? errbuf : curl_easy_strerror(cc));
        return;
    case CURLE_SSL_CONNECT_ERROR:
    case CURLE_PEER_FAILED_VERIFICATION:
    case CURLE_SSL_CERTPROBLEM:
    case CURLE_SSL_CIPHER:
    case CURLE_SSL_CACERT_BADFILE:
    case CURLE_USE_SSL_FAILED:
    case CURLE_SSL_ISSUER_ERROR:
    case CURLE_SSL_CLIENTCERT: /* the peer asked for a client certificate we do not have */
        reason = "tls";
        break;
    default:
        break;
    }
    res->outcome = FL_SEND_RETRY;
    snprintf(res->reason, sizeof res->reason, "%s", reason);
    snprintf(res->error, sizeof res->error, "%s", errbuf[0] ? errbuf : curl_easy_strerror(cc));
}

/* Map an HTTP status to the outcome. */
static void classify_status(long status, const struct answer *a, int64_t retry_after_s,
                            fl_send_result *res)
{
    res->status = status;
    if (status >= 200 && status < 300) {
        res->outcome = FL_SEND_DELIVERED;
        return;
    }
    int transient = status == 408 || status == 429 || status >= 500 || status < 200;
    res->outcome = transient ? FL_SEND_RETRY : FL_SEND_REJECTED;
    if (status == 429 && retry_after_s > 0)
        res->retry_after_us = retry_after_s * FL_US_PER_SEC;
    snprintf(res->reason, sizeof res->reason, "%s", status >= 500 ? "http_5xx" : "http_4xx");
    /* The answer's first bytes, on one line, say why (Slack: "invalid_payload"). */
    char text[ANSWER_KEEP + 1];
    size_t i = 0;
    for (; i < a->len; i++)
        text[i] = (a->text[i] == '\n' || a->text[i] == '\r') ? ' ' : a->text[i];
    text[i] = 0;
    snprintf(res->error, sizeof res->error, "HTTP %ld%s%s", status, i ? ": " : "", text);
}

void fl_notify_http_post(CURL *curl, const char *url, const fl_channel_config *ch,
                         const fl_notification *n, const fl_buf *body, fl_send_result *res)
{
    struct answer a = {.len = 0};
    char errbuf[CURL_ERROR_SIZE] = "";
    char idem[sizeof n->idempotency_key + 32];
    snprintf(idem, sizeof idem, "Idempotency-Key: %s", n->idempotency_key);
    struct curl_slist *headers = curl_slist_append(NULL, "Content-Type: application/json");
    struct curl_slist *h2 = headers ? curl_slist_append(headers, idem) : NULL;
    if (!h2) {
        curl_slist_free_all(headers);
        res->outcome = FL_SEND_RETRY;
        snprintf(res->reason, sizeof res->reason, "other");
        snprintf(res->error, sizeof res->error, "out of memory");
        return;
    }
    headers = h2;
    curl_easy_setopt(curl, CURLOPT_URL, url);
    curl_easy_setopt(curl, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(curl, CURLOPT_HTTPHEADER, headers);
    curl_easy_setopt(curl, CURLOPT_POSTFIELDS, body->data);
    curl_easy_setopt(curl, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)body->len);
    curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(curl, CURLOPT_WRITEDATA, &a);
    curl_easy_setopt(curl, CURLOPT_ERRORBUFFER, errbuf);
    CURLcode cc = curl_easy_perform(curl);
    if (cc == CURLE_OK) {
        long status = 0;
        curl_off_t retry_after = 0;
        curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &status);
        curl_easy_getinfo(curl, CURLINFO_RETRY_AFTER, &retry_after);
        classify_status(status, &a, (int64_t)retry_after, res);
    } else {
        fl_notify_curl_failure(cc, errbuf, res);
    }
    curl_easy_setopt(curl, CURLOPT_HTTPHEADER, NULL);
    curl_slist_free_all(headers);
}
