/* channel_email.c — email over SMTP with libcurl (smtp:// with STARTTLS required when
 * starttls = on, or smtps://; the relay's certificate verified as tls.c sets up, and with
 * CURLUSESSL_ALL libcurl sends AUTH and the mail only after STARTTLS succeeded, re-reading the
 * relay's EHLO over TLS): a plain-text message whose subject names the severity, rule and
 * device ("[fleetlake] CRITICAL engine_hot on truck-0042"), with a Message-ID built from the
 * idempotency key so a mail system can drop a repeat. SMTP 4xx and no answer are retried,
 * 5xx (mailbox unavailable, relay denied) is a refusal. */
#include <openssl/evp.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "notify/notify_int.h"

/* A header value: control bytes (a CR/LF would start a new header) become spaces; non-ASCII
 * text is sent as an RFC 2047 encoded-word. */
static int append_header_text(fl_buf *b, const char *s)
{
    size_t n = strlen(s);
    int ascii = 1;
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)s[i] >= 0x80)
            ascii = 0;
    if (ascii) {
        int rc = 0;
        for (size_t i = 0; i < n && !rc; i++)
            rc = fl_buf_append(b, (unsigned char)s[i] < ' ' || s[i] == 127 ? " " : &s[i], 1);
        return rc;
    }
    unsigned char enc[4 * 400 / 3 + 8];
    if (n > 400)
        n = 400; /* a subject, not a document */
    int len = EVP_EncodeBlock(enc, (const unsigned char *)s, (int)n);
    return fl_buf_printf(b, "=?UTF-8?B?%.*s?=", len, (const char *)enc);
}

/* Call fn(address, len) for each trimmed address of the comma-separated list. */
static int each_address(const char *list, int (*fn)(void *arg, const char *s, size_t len),
                        void *arg)
{
    int rc = 0;
    for (const char *p = list; *p && !rc;) {
        const char *comma = strchr(p, ',');
        size_t len = comma ? (size_t)(comma - p) : strlen(p);
        const char *s = p;
        while (len && *s == ' ') {
            s++;
            len--;
        }
        while (len && s[len - 1] == ' ')
            len--;
        if (len)
            rc = fn(arg, s, len);
        p = comma ? comma + 1 : p + strlen(p);
    }
    return rc;
}

static int to_header(void *arg, const char *s, size_t len)
{
    fl_buf *b = arg;
    return fl_buf_printf(b, "%s%.*s", b->len && b->data[b->len - 1] != ' ' ? ", " : "", (int)len,
                         s);
}

/* A body value on one line: control bytes become spaces. */
static int append_line_text(fl_buf *b, const char *s)
{
    int rc = 0;
    for (; *s && !rc; s++)
        rc = fl_buf_append(b, (unsigned char)*s < ' ' || *s == 127 ? " " : s, 1);
    return rc;
}

/* Body lines: "Key:        value\r\n" for each member that has one. */
static int body_line(fl_buf *b, const char *label, const json_t *v)
{
    int rc = 0;
    if (json_is_string(v) && json_string_length(v)) {
        rc = fl_buf_printf(b, "%-12s ", label);
        rc = rc ? rc : append_line_text(b, json_string_value(v));
        return rc ? rc : fl_buf_append_cstr(b, "\r\n");
    }
    if (json_is_integer(v))
        return fl_buf_printf(b, "%-12s %lld\r\n", label, (long long)json_integer_value(v));
    if (json_is_number(v))
        return fl_buf_printf(b, "%-12s %g\r\n", label, json_number_value(v));
    return 0;
}

static int render(const fl_channel_config *ch, const fl_notification *n, fl_buf *out)
{
    static const char *const fields[][2] = {{"Alert:", "id"},
                                            {"Rule:", "rule"},
                                            {"Type:", "type"},
                                            {"Severity:", "severity"},
                                            {"State:", "state"},
                                            {"Device:", "device_id"},
                                            {"Fleet:", "fleet"},
                                            {"Value:", "value"},
                                            {"Threshold:", "threshold"},
                                            {"Opened:", "opened_at"},
                                            {"Updated:", "updated_at"},
                                            {"Resolved:", "resolved_at"},
                                            {"Dedup key:", "dedup_key"},
                                            {"Trace id:", "trace_id"}};
    char headline[512], date[64];
    time_t now = time(NULL);
    struct tm tm;
    gmtime_r(&now, &tm);
    strftime(date, sizeof date, "%a, %d %b %Y %H:%M:%S +0000", &tm);
    fl_notify_headline(n, headline, sizeof headline);
    int rc = fl_buf_printf(out, "Date: %s\r\nFrom: %s\r\nTo: ", date, ch->from);
    rc = rc ? rc : each_address(ch->to, to_header, out);
    rc = rc ? rc : fl_buf_append_cstr(out, "\r\nSubject: [fleetlake] ");
    rc = rc ? rc : append_header_text(out, headline);
    rc = rc ? rc
            : fl_buf_printf(out,
                            "\r\nMessage-ID: <fleetlake.%lld.%lld@fleetlake>\r\n"
                            "X-Fleetlake-Idempotency-Key: ",
                            (long long)n->row->id, (long long)n->row->alert_id);
    rc = rc ? rc : append_header_text(out, n->idempotency_key);
    rc = rc ? rc
            : fl_buf_printf(out,
                            "\r\nX-Fleetlake-Event: %s\r\nMIME-Version: 1.0\r\n"
                            "Content-Type: text/plain; charset=utf-8\r\n"
                            "Content-Transfer-Encoding: 8bit\r\n\r\n%s\r\n\r\n",
                            n->row->event, headline);
    const char *summary = fl_alert_json_str(n->alert, "summary");
    if (!rc && summary[0]) {
        rc = append_line_text(out, summary);
        rc = rc ? rc : fl_buf_append_cstr(out, "\r\n\r\n");
    }
    for (size_t i = 0; !rc && i < sizeof fields / sizeof fields[0]; i++)
        rc = body_line(out, fields[i][0], json_object_get(n->alert, fields[i][1]));
    return rc ? rc : fl_buf_append_cstr(out, "\r\n-- \r\nfleetlake alerts (docs/alerts.md)\r\n");
}

struct upload {
    const fl_buf *body;
    size_t sent;
};

static size_t on_read(char *dst, size_t size, size_t n, void *arg)
{
    struct upload *u = arg;
    size_t room = size * n, left = u->body->len - u->sent;
    size_t take = left < room ? left : room;
    memcpy(dst, u->body->data + u->sent, take);
    u->sent += take;
    return take;
}

static int add_recipient(void *arg, const char *s, size_t len)
{
    struct curl_slist **list = arg;
    char addr[300];
    snprintf(addr, sizeof addr, "<%.*s>", (int)len, s);
    struct curl_slist *l = curl_slist_append(*list, addr);
    if (!l)
        return FL_ENOMEM;
    *list = l;
    return 0;
}

static void send_email(CURL *curl, const fl_channel_config *ch, const fl_notification *n,
                       const fl_buf *body, fl_send_result *res)
{
    struct curl_slist *rcpt = NULL;
    int rc = each_address(ch->to, add_recipient, &rcpt);
    char from[300], errbuf[CURL_ERROR_SIZE] = "";
    snprintf(from, sizeof from, "<%s>", ch->from);
    struct upload up = {body, 0};
    curl_easy_setopt(curl, CURLOPT_URL, ch->url);
    curl_easy_setopt(curl, CURLOPT_PROTOCOLS_STR, "smtp,smtps");
    curl_easy_setopt(curl, CURLOPT_MAIL_FROM, from);
    curl_easy_setopt(curl, CURLOPT_MAIL_RCPT, rcpt);
    curl_easy_setopt(curl, CURLOPT_USE_SSL,
                     strcmp(ch->starttls, "on") == 0 ? (long)CURLUSESSL_ALL
                                                     : (long)CURLUSESSL_NONE);
    char pw[256] = "", pwerr[300];
    if (!rc && ch->username[0]) {
        /* read at each delivery (rotation needs no restart); never logged */
        if (fl_notify_read_password(ch->password_file, pw, sizeof pw, pwerr, sizeof pwerr)) {
            curl_slist_free_all(rcpt);
            res->outcome = FL_SEND_REJECTED;
            snprintf(res->reason, sizeof res->reason, "config");
            snprintf(res->error, sizeof res->error, "SMTP AUTH password: %.200s", pwerr);
            return;
        }
        curl_easy_setopt(curl, CURLOPT_USERNAME, ch->username);
        curl_easy_setopt(curl, CURLOPT_PASSWORD, pw);
    }
    curl_easy_setopt(curl, CURLOPT_UPLOAD, 1L);
    curl_easy_setopt(curl, CURLOPT_READFUNCTION, on_read);
    curl_easy_setopt(curl, CURLOPT_READDATA, &up);
    curl_easy_setopt(curl, CURLOPT_INFILESIZE_LARGE, (curl_off_t)body->len);
    curl_easy_setopt(curl, CURLOPT_ERRORBUFFER, errbuf);
    CURLcode cc = rc ? CURLE_OUT_OF_MEMORY : curl_easy_perform(curl);
    long code = 0;
    curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &code);
    res->status = code;
    if (cc == CURLE_OK) {
        res->outcome = FL_SEND_DELIVERED;
    } else {
        fl_notify_curl_failure(cc, errbuf, res);
        if (code >= 400) {
            snprintf(res->reason, sizeof res->reason, "smtp");
            snprintf(res->error, sizeof res->error, "SMTP %ld: %.200s", code,
                     errbuf[0] ? errbuf : curl_easy_strerror(cc));
            if (code >= 500)
                res->outcome = FL_SEND_REJECTED;
        }
    }
    curl_easy_setopt(curl, CURLOPT_MAIL_RCPT, NULL);
    curl_easy_setopt(curl, CURLOPT_USERNAME, NULL);
    curl_easy_setopt(curl, CURLOPT_PASSWORD, NULL);
    memset(pw, 0, sizeof pw);
    curl_slist_free_all(rcpt);
}

const fl_channel_ops fl_channel_email = {"email", render, send_email};
