/* send.c — the load generator behind `fleetlake sim` and `serve --demo`: fl_sim_run().
 *
 * One producer thread builds request bodies ahead of time (records encoded, batched and, with
 * --gzip, compressed) into a bounded queue; C sender threads each own one reused libcurl easy
 * handle, so each keeps one keep-alive connection, and POST bodies straight from the queue:
 * the send loop does no per-record work unless it must (see below). With --rate a shared
 * token bucket spaces requests smoothly (one request of n records costs n tokens). With
 * --body-pool K the producer builds K bodies once and they are resent in a cycle, for
 * measuring the server without any generator cost (records then repeat: duplicates).
 *
 * Answers. 200/400 carry {"accepted":N,"failed":M,"records":[...]}; the counts are found with
 * memmem (a key followed by '"' and ':' cannot occur inside a JSON string, where every quote
 * is escaped). The records array is scanned only when it matters: --acked-out is set, the
 * body held bad records, or something failed. 429/503 are retried with the same body after
 * Retry-After (default 1 s, at most 30 s); connection errors are retried with backoff when
 * --retry is on (at-least-once: the server may have stored the first attempt). --acked-out
 * lines are written and flushed only after the 200 answer is parsed, and fsynced at the end.
 *
 * With --target influx the bodies are line protocol (records.c, line.c), built the same way
 * ahead of time, and POSTed to <url>/write?db=NAME&precision=u. InfluxDB answers one status
 * per request: 204 acknowledges every point of the body (nothing to parse), 429 and 5xx are
 * retried like fleetlake's 503 (InfluxDB answers 500 "timeout" when a write outlasts its
 * coordinator timeout), and any other status fails every record of the body (http_error).
 *
 * If no answer at all arrives within CONNECT_GIVE_UP_US of the start, the run stops and
 * reports connect_failed (exit code 1). */
#include <curl/curl.h>
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <strings.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>
#include <zlib.h>

#include "sim/sim_int.h"

#define CONNECT_GIVE_UP_US (3 * FL_US_PER_SEC)
#define RETRY_AFTER_MAX_US (30 * FL_US_PER_SEC)
#define REQUEST_TIMEOUT_MS 60000L
#define LAT_SUB_BITS 6
#define LAT_BUCKETS (64 * 40)

/* ---- latency histogram: log-linear, 64 sub-buckets per power of two (≤ 1.6 % error) ------- */
struct latency {
    uint64_t counts[LAT_BUCKETS];
    uint64_t total;
    uint64_t max_us;
};

static size_t lat_index(uint64_t v)
{
    if (v < 128)
        return (size_t)v;
    int msb = 63 - __builtin_clzll(v);
    int shift = msb - LAT_SUB_BITS;
    size_t i = (size_t)(shift + 1) * 64 + (size_t)((v >> shift) - 64);
    return i < LAT_BUCKETS ? i : LAT_BUCKETS - 1;
}

static uint64_t lat_value(size_t i)
{
    if (i < 128)
        return i;
    int shift = (int)(i / 64) - 1;
    uint64_t lo = (uint64_t)(i % 64 + 64) << shift;
    return lo + ((UINT64_C(1) << shift) >> 1); /* bucket midpoint */
}

static double lat_quantile_ms(const struct latency *l, double q)
{
    if (l->total == 0)
        return 0;
    uint64_t rank = (uint64_t)ceil(q * (double)l->total), seen = 0;
    rank = rank < 1 ? 1 : rank;
    for (size_t i = 0; i < LAT_BUCKETS; i++) {
        seen += l->counts[i];
        if (seen >= rank) {
            uint64_t v = lat_value(i);
            return (double)(v < l->max_us ? v : l->max_us) / 1000.0;
        }
    }
    return (double)l->max_us / 1000.0;
}

/* ---- bodies and the queue ------------------------------------------------------------------- */
struct body {
    fl_buf raw, gz;
    fl_sim_batch_meta meta;
    size_t records;
    uint64_t duplicates, late, out_of_order;
    int pooled;
};

struct run {
    fl_sim_options o;
    char url[1200]; /* --url (< 1024) + /write?db=NAME&precision=u */
    fl_sim_source *src;
    volatile int *stop_flag;
    atomic_int stopping;
    int64_t start_mono;
    _Atomic int64_t deadline_mono; /* written after the prefill, read by every thread */
    pthread_mutex_t mu;
    pthread_cond_t can_pop, can_push;
    struct body **queue;
    size_t queue_cap, queue_head, queue_len;
    struct body **spare;
    size_t spare_len;
    struct body *all;
    size_t all_count;
    struct body **pool; /* --body-pool: the bodies built once, in order */
    int producer_done;
    int producer_rc;
    /* token bucket */
    pthread_mutex_t rate_mu;
    int64_t next_send_us;
    /* outputs */
    pthread_mutex_t acked_mu;
    FILE *acked;
    FILE *labels;
    uint64_t labels_written;
    atomic_int any_answer;
    atomic_int abandoned_on_error;
    z_stream z;
    int z_ready;
};

static int should_stop(struct run *r)
{
    if (atomic_load(&r->stopping))
        return 1;
    if ((r->stop_flag && *r->stop_flag) || fl_time_mono_us() >= r->deadline_mono) {
        atomic_store(&r->stopping, 1);
        pthread_mutex_lock(&r->mu);
        pthread_cond_broadcast(&r->can_pop);
        pthread_cond_broadcast(&r->can_push);
        pthread_mutex_unlock(&r->mu);
        return 1;
    }
    return 0;
}

static void sleep_us(int64_t us)
{
    if (us <= 0)
        return;
    struct timespec ts = {(time_t)(us / FL_US_PER_SEC), (long)(us % FL_US_PER_SEC) * 1000};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
    }
}

/* Sleep up to us, waking early if the run stops. Returns 1 if it stopped. */
static int nap(struct run *r, int64_t us)
{
    int64_t until = fl_time_mono_us() + us;
    for (;;) {
        if (should_stop(r))
            return 1;
        int64_t left = until - fl_time_mono_us();
        if (left <= 0)
            return 0;
        sleep_us(left < 50000 ? left : 50000);
    }
}

static void timed_wait(pthread_cond_t *c, pthread_mutex_t *m, int64_t ms)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    ts.tv_nsec += ms * 1000000;
    ts.tv_sec += ts.tv_nsec / 1000000000;
    ts.tv_nsec %= 1000000000;
    pthread_cond_timedwait(c, m, &ts);
}

static void queue_push(struct run *r, struct body *b)
{
    pthread_mutex_lock(&r->mu);
    r->queue[(r->queue_head + r->queue_len) % r->queue_cap] = b;
    r->queue_len++;
    pthread_cond_signal(&r->can_pop);
    pthread_mutex_unlock(&r->mu);
}

/* Next body to send, or NULL when the run is over. */
static struct body *queue_pop(struct run *r)
{
    struct body *b = NULL;
    pthread_mutex_lock(&r->mu);
    for (;;) {
        if (atomic_load(&r->stopping))
            break;
        if (r->queue_len > 0) {
            b = r->queue[r->queue_head];
            r->queue_head = (r->queue_head + 1) % r->queue_cap;
            r->queue_len--;
            pthread_cond_signal(&r->can_push);
            break;
        }
        if (r->producer_done)
            break;
        pthread_mutex_unlock(&r->mu);
        int stop = should_stop(r);
        pthread_mutex_lock(&r->mu);
        if (stop)
            break;
        timed_wait(&r->can_pop, &r->mu, 50);
    }
    pthread_mutex_unlock(&r->mu);
    return b;
}

static void body_release(struct run *r, struct body *b)
{
    if (b->pooled)
        return;
    pthread_mutex_lock(&r->mu);
    r->spare[r->spare_len++] = b;
    pthread_cond_signal(&r->can_push);
    pthread_mutex_unlock(&r->mu);
}

/* A spare body for the producer, waiting while the queue is full; NULL when stopping. */
static struct body *body_acquire(struct run *r)
{
    struct body *b = NULL;
    pthread_mutex_lock(&r->mu);
    while (!atomic_load(&r->stopping)) {
        if (r->spare_len > 0 && r->queue_len < r->queue_cap) {
            b = r->spare[--r->spare_len];
            break;
        }
        pthread_mutex_unlock(&r->mu);
        int stop = should_stop(r);
        pthread_mutex_lock(&r->mu);
        if (stop)
            break;
        timed_wait(&r->can_push, &r->mu, 50);
    }
    pthread_mutex_unlock(&r->mu);
    return b;
}

/* ---- producer ------------------------------------------------------------------------------- */
static int gzip_body(struct run *r, struct body *b)
{
    if (!r->z_ready) {
        if (deflateInit2(&r->z, 1, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) != Z_OK)
            return FL_ENOMEM;
        r->z_ready = 1;
    } else {
        deflateReset(&r->z);
    }
    size_t bound = deflateBound(&r->z, (uLong)b->raw.len) + 64;
    fl_buf_reset(&b->gz);
    int rc = fl_buf_reserve(&b->gz, bound);
    if (rc)
        return rc;
    r->z.next_in = (Bytef *)b->raw.data;
    r->z.avail_in = (uInt)b->raw.len;
    r->z.next_out = (Bytef *)b->gz.data;
    r->z.avail_out = (uInt)bound;
    if (deflate(&r->z, Z_FINISH) != Z_STREAM_END)
        return FL_EINVAL;
    b->gz.len = bound - r->z.avail_out;
    return 0;
}

static int body_format(const fl_sim_options *o)
{
    if (o->target == FL_SIM_TARGET_INFLUX)
        return FL_SIM_BODY_LINE_PROTOCOL;
    return o->ndjson ? FL_SIM_BODY_NDJSON : FL_SIM_BODY_JSON_ARRAY;
}

static int build_body(struct run *r, struct body *b, size_t n)
{
    fl_sim_gen_stats before, after;
    fl_sim_source_stats(r->src, &before);
    if (r->o.rate > 0)
        fl_sim_fleet_set_horizon(fl_sim_source_fleet(r->src),
                                 fl_time_now_us() + 240 * FL_US_PER_SEC);
    int rc = fl_sim_build_batch(r->src, n, body_format(&r->o), &b->raw, &b->meta);
    if (rc == 0 && r->o.gzip)
        rc = gzip_body(r, b);
    fl_sim_source_stats(r->src, &after);
    b->records = n;
    b->duplicates = after.duplicates - before.duplicates;
    b->late = after.late - before.late;
    b->out_of_order = after.out_of_order - before.out_of_order;
    return rc;
}

static void *producer_main(void *arg)
{
    struct run *r = arg;
    int64_t left = r->o.records > 0 ? r->o.records : INT64_MAX;
    size_t pool = (size_t)r->o.body_pool, built = 0;
    while (left > 0 && !should_stop(r)) {
        struct body *b;
        if (pool > 0 && built >= pool) {
            b = r->pool[built % pool];
            built++;
            pthread_mutex_lock(&r->mu);
            while (r->queue_len >= r->queue_cap && !atomic_load(&r->stopping))
                timed_wait(&r->can_push, &r->mu, 50);
            pthread_mutex_unlock(&r->mu);
            if (atomic_load(&r->stopping))
                break;
        } else {
            if (!(b = body_acquire(r)))
                break;
            size_t n = (size_t)(left < r->o.batch ? left : r->o.batch);
            int rc = build_body(r, b, n);
            if (rc) {
                r->producer_rc = rc;
                break;
            }
            b->pooled = pool > 0;
            if (pool > 0)
                r->pool[built] = b;
            built++;
        }
        left -= (int64_t)b->records;
        queue_push(r, b);
    }
    pthread_mutex_lock(&r->mu);
    r->producer_done = 1;
    pthread_cond_broadcast(&r->can_pop);
    pthread_mutex_unlock(&r->mu);
    return NULL;
}

/* ---- answers ---------------------------------------------------------------------------------- */
struct sender {
    struct run *r;
    pthread_t thread;
    CURL *curl;
    struct curl_slist *headers;
    fl_buf response;
    fl_buf acked_lines;
    char curl_error[CURL_ERROR_SIZE]; /* CURLOPT_ERRORBUFFER */
    int64_t retry_after_us;
    fl_sim_summary sum; /* this thread's counts, merged at the end */
    struct latency lat;
};

struct scan {
    const char *p, *end;
};

static void scan_ws(struct scan *s)
{
    while (s->p < s->end && (*s->p == ' ' || *s->p == '\n' || *s->p == '\r' || *s->p == '\t'))
        s->p++;
}

static int scan_char(struct scan *s, char c)
{
    scan_ws(s);
    if (s->p < s->end && *s->p == c) {
        s->p++;
        return 1;
    }
    return 0;
}

/* A string's raw bytes (escapes left as they are). */
static int scan_string(struct scan *s, fl_slice *out)
{
    if (!scan_char(s, '"'))
        return -1;
    const char *start = s->p;
    while (s->p < s->end && *s->p != '"')
        s->p += *s->p == '\\' ? 2 : 1;
    if (s->p >= s->end)
        return -1;
    *out = (fl_slice){start, (size_t)(s->p - start)};
    s->p++;
    return 0;
}

static int scan_skip(struct scan *s, int depth)
{
    scan_ws(s);
    if (s->p >= s->end || depth > 32)
        return -1;
    fl_slice tmp;
    if (*s->p == '"')
        return scan_string(s, &tmp);
    if (*s->p == '{' || *s->p == '[') {
        char close = *s->p == '{' ? '}' : ']';
        s->p++;
        if (scan_char(s, close))
            return 0;
        do {
            if (close == '}' && (scan_string(s, &tmp) || !scan_char(s, ':')))
                return -1;
            if (scan_skip(s, depth + 1))
                return -1;
        } while (scan_char(s, ','));
        return scan_char(s, close) ? 0 : -1;
    }
    while (s->p < s->end && !strchr(",}] \n\r\t", *s->p))
        s->p++;
    return 0;
}

/* Inside an object: the value of key `code`, or of the first string key in `keys`. Reads the
 * whole object; fills out[i] for keys[i] when it is a string. */
static int scan_object_strings(struct scan *s, const char *const *keys, fl_slice *out, int nkeys,
                               fl_slice *error_code)
{
    if (!scan_char(s, '{'))
        return -1;
    if (scan_char(s, '}'))
        return 0;
    do {
        fl_slice key;
        if (scan_string(s, &key) || !scan_char(s, ':'))
            return -1;
        int matched = 0;
        for (int i = 0; i < nkeys && !matched; i++) {
            if (fl_slice_eq_cstr(key, keys[i])) {
                scan_ws(s);
                if (s->p < s->end && *s->p == '"' && scan_string(s, &out[i]) == 0)
                    matched = 1;
            }
        }
        if (!matched && error_code && fl_slice_eq_cstr(key, "error")) {
            static const char *const code_key[] = {"code"};
            if (scan_object_strings(s, code_key, error_code, 1, NULL))
                return -1;
            matched = 1;
        }
        if (!matched && scan_skip(s, 1))
            return -1;
    } while (scan_char(s, ','));
    return scan_char(s, '}') ? 0 : -1;
}

static void count_failure(struct sender *t, const struct body *b, size_t i, fl_slice code)
{
    int c = fl_sim_code_from_name(code.ptr, code.len);
    t->sum.records_failed++;
    t->sum.failed_by_code[c]++;
    int kind = i < b->meta.count ? b->meta.kinds[i] : 0;
    if (kind == 0)
        t->sum.good_rejected++;
    else if (!fl_slice_eq_cstr(code, fl_sim_bad_expected_code(kind - 1)))
        t->sum.code_mismatches++;
}

static int append_acked(struct sender *t, const struct body *b, size_t i, fl_slice shard,
                        fl_slice seq)
{
    if (!t->r->acked || i >= b->meta.count || b->meta.id_len[i] == 0)
        return 0;
    fl_buf *o = &t->acked_lines;
    int rc = fl_buf_append(o, b->meta.ids.data + b->meta.id_off[i], b->meta.id_len[i]);
    rc = rc ? rc : fl_buf_append_cstr(o, "\"shard\":\"");
    rc = rc ? rc : fl_buf_append(o, shard.ptr, shard.len);
    rc = rc ? rc : fl_buf_append_cstr(o, "\",\"seq\":\"");
    rc = rc ? rc : fl_buf_append(o, seq.ptr, seq.len);
    return rc ? rc : fl_buf_append_cstr(o, "\"}\n");
}

/* Walk "records":[...] entry by entry. Returns the number of entries or -1. */
static long scan_records(struct sender *t, const struct body *b, struct scan *s)
{
    static const char *const keys[] = {"shard", "seq"};
    if (!scan_char(s, '['))
        return -1;
    if (scan_char(s, ']'))
        return 0;
    size_t i = 0;
    do {
        fl_slice v[2] = {{0}}, code = {0};
        if (scan_object_strings(s, keys, v, 2, &code))
            return -1;
        if (code.ptr) {
            count_failure(t, b, i, code);
        } else {
            t->sum.records_acked++;
            if (i < b->meta.count && b->meta.kinds[i] != 0)
                t->sum.bad_accepted++;
            if (append_acked(t, b, i, v[0], v[1]))
                return -1;
        }
        i++;
    } while (scan_char(s, ','));
    return scan_char(s, ']') ? (long)i : -1;
}

static long find_count(const fl_buf *resp, const char *key)
{
    const char *p = memmem(resp->data, resp->len, key, strlen(key));
    return p ? strtol(p + strlen(key), NULL, 10) : -1;
}

/* Whole-request failure: every record of b failed with `code`. */
static void fail_all(struct sender *t, const struct body *b, fl_slice code)
{
    for (size_t i = 0; i < b->records; i++)
        count_failure(t, b, i, code);
}

static void handle_records_answer(struct sender *t, const struct body *b)
{
    fl_buf *resp = &t->response;
    long accepted = find_count(resp, "\"accepted\":");
    long failed = find_count(resp, "\"failed\":");
    if (accepted < 0 || failed < 0) { /* {"error":{...}} for the whole request */
        static const char *const none[] = {""};
        fl_slice unused, code = {"other", 5};
        struct scan s = {resp->data, resp->data + resp->len};
        if (scan_object_strings(&s, none, &unused, 0, &code) != 0 || !code.ptr)
            code = (fl_slice){"other", 5};
        fail_all(t, b, code);
        return;
    }
    if (failed == 0 && b->meta.bad == 0 && !t->r->acked) {
        t->sum.records_acked += (uint64_t)accepted;
        return;
    }
    const char *p = memmem(resp->data, resp->len, "\"records\":", 10);
    struct scan s = {p ? p + 10 : resp->data, resp->data + resp->len};
    fl_buf_reset(&t->acked_lines);
    uint64_t acked_before = t->sum.records_acked;
    if (!p || scan_records(t, b, &s) < 0) { /* unreadable list: trust the counts */
        t->sum.records_acked = acked_before + (uint64_t)accepted;
        t->sum.records_failed += (uint64_t)failed;
        t->sum.failed_by_code[FL_SIM_CODE_OTHER] += (uint64_t)failed;
        return;
    }
    if (t->acked_lines.len > 0) {
        pthread_mutex_lock(&t->r->acked_mu);
        fwrite(t->acked_lines.data, 1, t->acked_lines.len, t->r->acked);
        fflush(t->r->acked);
        pthread_mutex_unlock(&t->r->acked_mu);
    }
}

static void account_final(struct sender *t, const struct body *b, long status)
{
    t->sum.records_sent += b->records;
    t->sum.bad_sent += b->meta.bad;
    for (size_t i = 0; i < b->meta.count; i++)
        if (b->meta.kinds[i])
            t->sum.bad_sent_by_kind[b->meta.kinds[i] - 1]++;
    t->sum.duplicates_sent += b->duplicates;
    t->sum.late_sent += b->late;
    t->sum.out_of_order += b->out_of_order;
    if (t->r->o.target == FL_SIM_TARGET_INFLUX) {
        if (status == 204) {
            t->sum.records_acked += b->records;
        } else {
            t->sum.http_errors++;
            fail_all(t, b, (fl_slice){"http_error", 10});
        }
    } else if (status == 200 || status == 400) {
        handle_records_answer(t, b);
    } else {
        t->sum.http_errors++;
        fail_all(t, b, (fl_slice){"http_error", 10});
    }
}

/* ---- senders -------------------------------------------------------------------------------- */
static size_t on_body(char *p, size_t size, size_t n, void *ctx)
{
    struct sender *t = ctx;
    return fl_buf_append(&t->response, p, size * n) ? 0 : size * n;
}

static size_t on_header(char *p, size_t size, size_t n, void *ctx)
{
    struct sender *t = ctx;
    size_t len = size * n;
    if (len > 12 && strncasecmp(p, "retry-after:", 12) == 0) {
        long secs = strtol(p + 12, NULL, 10);
        t->retry_after_us = (secs > 0 ? secs : 1) * FL_US_PER_SEC;
    }
    return len;
}

/* https:// URLs: TLS 1.2 at least, verified against --cacert (else the system CA store)
 * unless --insecure. serve --demo pins the server's own certificate (sim.h). */
static int tls_setup(CURL *c, const fl_sim_options *o)
{
    if (strncmp(o->url, "https://", 8) != 0)
        return 0;
    if (curl_easy_setopt(c, CURLOPT_SSLVERSION, (long)CURL_SSLVERSION_TLSv1_2) != CURLE_OK)
        return FL_EUNSUPPORTED; /* libcurl without TLS */
    /* The connect timeout covers the TLS handshake too: two round trips and a signature,
     * which a loaded machine (or a sanitizer build of the server) can stretch past 2 s. */
    curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, 5000L);
    if (o->cacert[0] && curl_easy_setopt(c, CURLOPT_CAINFO, o->cacert) != CURLE_OK)
        return FL_EUNSUPPORTED;
    if (o->insecure) {
        curl_easy_setopt(c, CURLOPT_SSL_VERIFYPEER, 0L);
        curl_easy_setopt(c, CURLOPT_SSL_VERIFYHOST, 0L);
    } else if (o->tls_pinned_cert) {
        curl_easy_setopt(c, CURLOPT_SSL_VERIFYHOST, 0L);
    }
    return 0;
}

static int sender_setup(struct sender *t)
{
    const fl_sim_options *o = &t->r->o;
    if (!(t->curl = curl_easy_init()))
        return FL_ENOMEM;
    const char *type = o->target == FL_SIM_TARGET_INFLUX ? "Content-Type: text/plain; charset=utf-8"
                       : o->ndjson                       ? "Content-Type: application/x-ndjson"
                                                         : "Content-Type: application/json";
    const char *fixed[] = {type, "Expect:", o->gzip ? "Content-Encoding: gzip" : NULL};
    for (size_t i = 0; i < 3; i++) {
        struct curl_slist *h = fixed[i] ? curl_slist_append(t->headers, fixed[i]) : t->headers;
        if (!h)
            return FL_ENOMEM;
        t->headers = h;
    }
    for (int i = 0; i < o->header_count; i++) {
        struct curl_slist *h = curl_slist_append(t->headers, o->headers[i]);
        if (!h)
            return FL_ENOMEM;
        t->headers = h;
    }
    CURL *c = t->curl;
    curl_easy_setopt(c, CURLOPT_URL, t->r->url);
    curl_easy_setopt(c, CURLOPT_POST, 1L);
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, t->headers);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, t);
    curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(c, CURLOPT_HEADERDATA, t);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c, CURLOPT_TCP_NODELAY, 1L);
    curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, REQUEST_TIMEOUT_MS);
    curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, 2000L);
    curl_easy_setopt(c, CURLOPT_ERRORBUFFER, t->curl_error);
    return tls_setup(c, o);
}

/* Wait for the token bucket: n records cost n/rate seconds; at most one request of burst. */
static int pace(struct run *r, size_t n)
{
    pthread_mutex_lock(&r->rate_mu);
    int64_t now = fl_time_mono_us();
    if (r->next_send_us < now)
        r->next_send_us = now;
    int64_t at = r->next_send_us;
    r->next_send_us += (int64_t)((double)n * 1e6 / r->o.rate);
    pthread_mutex_unlock(&r->rate_mu);
    return nap(r, at - now);
}

/* POST b once. Returns the HTTP status, or 0 on a connection error. */
static long post_once(struct sender *t, const struct body *b)
{
    const fl_buf *data = t->r->o.gzip ? &b->gz : &b->raw;
    fl_buf_reset(&t->response);
    t->retry_after_us = 0;
    t->curl_error[0] = 0;
    curl_easy_setopt(t->curl, CURLOPT_POSTFIELDS, data->data);
    curl_easy_setopt(t->curl, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)data->len);
    int64_t t0 = fl_time_mono_us();
    CURLcode cc = curl_easy_perform(t->curl);
    int64_t us = fl_time_mono_us() - t0;
    long connects = 0, status = 0;
    curl_easy_getinfo(t->curl, CURLINFO_NUM_CONNECTS, &connects);
    t->sum.connections_opened += (uint64_t)connects;
    if (cc != CURLE_OK) {
        t->sum.connection_errors++;
        snprintf(t->sum.last_connection_error, sizeof t->sum.last_connection_error, "%s",
                 t->curl_error[0] ? t->curl_error : curl_easy_strerror(cc));
        return 0;
    }
    curl_easy_getinfo(t->curl, CURLINFO_RESPONSE_CODE, &status);
    atomic_store(&t->r->any_answer, 1);
    t->sum.requests++;
    t->sum.bytes_sent += data->len;
    t->lat.counts[lat_index((uint64_t)us)]++;
    t->lat.total++;
    t->lat.max_us = (uint64_t)us > t->lat.max_us ? (uint64_t)us : t->lat.max_us;
    return status;
}

/* Whether to resend the same body after status (0 = connection error, retried separately). */
static int retryable(const struct run *r, long status)
{
    if (status == 429 || status == 503)
        return 1;
    return r->o.target == FL_SIM_TARGET_INFLUX && status >= 500 && status <= 599;
}

/* Send b until it gets a final answer or the run stops. */
static void send_body(struct sender *t, const struct body *b)
{
    struct run *r = t->r;
    int64_t backoff_us = 100000;
    for (;;) {
        long status = post_once(t, b);
        if (status != 0 && !retryable(r, status)) {
            account_final(t, b, status);
            return;
        }
        int64_t wait_us;
        if (status == 0) {
            if (!atomic_load(&r->any_answer) &&
                fl_time_mono_us() - r->start_mono > CONNECT_GIVE_UP_US) {
                atomic_store(&r->stopping, 1);
                atomic_store(&r->abandoned_on_error, 1);
                return;
            }
            if (!r->o.retry) {
                atomic_store(&r->abandoned_on_error, 1);
                return;
            }
            wait_us = backoff_us;
            backoff_us = backoff_us * 2 < 2 * FL_US_PER_SEC ? backoff_us * 2 : 2 * FL_US_PER_SEC;
        } else {
            t->sum.throttled++;
            wait_us = t->retry_after_us > 0 ? t->retry_after_us : FL_US_PER_SEC;
            wait_us = wait_us < RETRY_AFTER_MAX_US ? wait_us : RETRY_AFTER_MAX_US;
        }
        if (nap(r, wait_us)) {
            if (status == 0)
                atomic_store(&r->abandoned_on_error, 1);
            return;
        }
        t->sum.retries++;
    }
}

static void *sender_main(void *arg)
{
    struct sender *t = arg;
    struct run *r = t->r;
    struct body *b;
    while ((b = queue_pop(r)) != NULL) {
        if (r->o.rate > 0 && pace(r, b->records)) {
            body_release(r, b);
            break;
        }
        send_body(t, b);
        body_release(r, b);
    }
    return NULL;
}

/* ---- the run -------------------------------------------------------------------------------- */
static void merge(fl_sim_summary *a, const fl_sim_summary *b)
{
#define ADD_(f) a->f += b->f
    ADD_(requests);
    ADD_(records_sent);
    ADD_(records_acked);
    ADD_(records_failed);
    ADD_(bad_sent);
    ADD_(bad_accepted);
    ADD_(code_mismatches);
    ADD_(good_rejected);
    ADD_(duplicates_sent);
    ADD_(late_sent);
    ADD_(out_of_order);
    ADD_(retries);
    ADD_(throttled);
    ADD_(connection_errors);
    if (b->last_connection_error[0])
        memcpy(a->last_connection_error, b->last_connection_error,
               sizeof a->last_connection_error);
    ADD_(http_errors);
    ADD_(connections_opened);
    ADD_(bytes_sent);
    for (int i = 0; i < FL_SIM_CODE_COUNT; i++)
        ADD_(failed_by_code[i]);
    for (int i = 0; i < FL_SIM_BAD_COUNT; i++)
        ADD_(bad_sent_by_kind[i]);
#undef ADD_
}

static void write_label(void *ctx, const fl_sim_label *l)
{
    struct run *r = ctx;
    fl_buf b = {0};
    if (sim_label_to_json(l, &b) == 0 && fwrite(b.data, 1, b.len, r->labels) == b.len)
        r->labels_written++;
    fl_buf_free(&b);
}

/* The endpoint: --url as given if it has a path, else <url>/v1/records (fleetlake) or
 * <url>/write?db=NAME&precision=u (influx). */
static void endpoint(const fl_sim_options *o, char *out, size_t cap)
{
    const char *url = o->url;
    const char *host = strstr(url, "://");
    host = host ? host + 3 : url;
    const char *path = strchr(host, '/');
    int base = (int)(path ? path - url : (long)strlen(url));
    if (path && strcmp(path, "/") != 0)
        snprintf(out, cap, "%s", url);
    else if (o->target == FL_SIM_TARGET_INFLUX)
        snprintf(out, cap, "%.*s/write?db=%s&precision=u", base, url, o->influx_db);
    else
        snprintf(out, cap, "%.*s/v1/records", base, url);
}

static pthread_once_t curl_once = PTHREAD_ONCE_INIT;
static void curl_init_once(void)
{
    curl_global_init(CURL_GLOBAL_DEFAULT);
}

static int alloc_bodies(struct run *r)
{
    const fl_sim_options *o = &r->o;
    size_t depth = (size_t)o->queue_bodies;
    if (depth == 0)
        depth = o->rate > 0 ? 2 : (size_t)(2 * o->connections < 4 ? 4 : 2 * o->connections);
    r->queue_cap = depth;
    r->all_count = depth + (size_t)o->connections + 1;
    if ((size_t)o->body_pool > r->all_count)
        r->all_count = (size_t)o->body_pool;
    r->queue = fl_calloc(depth, sizeof *r->queue);
    r->spare = fl_calloc(r->all_count, sizeof *r->spare);
    r->all = fl_calloc(r->all_count, sizeof *r->all);
    r->pool = fl_calloc(r->all_count, sizeof *r->pool);
    if (!r->queue || !r->spare || !r->all || !r->pool)
        return FL_ENOMEM;
    for (size_t i = 0; i < r->all_count; i++) {
        r->all[i].meta.want_ids = o->acked_out[0] != 0;
        r->spare[r->spare_len++] = &r->all[r->all_count - 1 - i];
    }
    return 0;
}

static void free_run(struct run *r)
{
    for (size_t i = 0; r->all && i < r->all_count; i++) {
        fl_buf_free(&r->all[i].raw);
        fl_buf_free(&r->all[i].gz);
        fl_sim_batch_meta_free(&r->all[i].meta);
    }
    fl_free(r->all);
    fl_free(r->queue);
    fl_free(r->spare);
    fl_free(r->pool);
    if (r->z_ready)
        deflateEnd(&r->z);
    pthread_mutex_destroy(&r->mu);
    pthread_mutex_destroy(&r->rate_mu);
    pthread_mutex_destroy(&r->acked_mu);
    pthread_cond_destroy(&r->can_pop);
    pthread_cond_destroy(&r->can_push);
}

/* Let the producer fill the queue (at most 2 s) so the timed run starts at full speed. */
static void prefill(struct run *r)
{
    int64_t until = fl_time_mono_us() + 2 * FL_US_PER_SEC;
    while (fl_time_mono_us() < until) {
        pthread_mutex_lock(&r->mu);
        int full = r->queue_len >= r->queue_cap || r->producer_done;
        pthread_mutex_unlock(&r->mu);
        if (full || (r->stop_flag && *r->stop_flag))
            return;
        sleep_us(1000);
    }
}

static void finish_senders(struct run *r, struct sender *ts, size_t started, fl_sim_summary *out)
{
    struct latency *lat = fl_calloc(1, sizeof *lat);
    for (size_t i = 0; i < started; i++) {
        merge(out, &ts[i].sum);
        for (size_t k = 0; lat && k < LAT_BUCKETS; k++)
            lat->counts[k] += ts[i].lat.counts[k];
        if (lat) {
            lat->total += ts[i].lat.total;
            lat->max_us = ts[i].lat.max_us > lat->max_us ? ts[i].lat.max_us : lat->max_us;
        }
    }
    for (size_t i = 0; i < (size_t)r->o.connections; i++) {
        curl_easy_cleanup(ts[i].curl);
        curl_slist_free_all(ts[i].headers);
        fl_buf_free(&ts[i].response);
        fl_buf_free(&ts[i].acked_lines);
    }
    if (lat) {
        out->latency_ms_p50 = lat_quantile_ms(lat, 0.50);
        out->latency_ms_p90 = lat_quantile_ms(lat, 0.90);
        out->latency_ms_p99 = lat_quantile_ms(lat, 0.99);
        out->latency_ms_max = (double)lat->max_us / 1000.0;
    }
    fl_free(lat);
}

static int run_senders(struct run *r, fl_sim_summary *out)
{
    pthread_once(&curl_once, curl_init_once);
    endpoint(&r->o, r->url, sizeof r->url);
    int rc = alloc_bodies(r);
    if (rc)
        return rc;
    struct sender *ts = fl_calloc((size_t)r->o.connections, sizeof *ts);
    if (!ts)
        return FL_ENOMEM;
    for (size_t i = 0; rc == 0 && i < (size_t)r->o.connections; i++) {
        ts[i].r = r;
        rc = sender_setup(&ts[i]);
    }
    pthread_t producer;
    if (rc == 0 && pthread_create(&producer, NULL, producer_main, r) != 0)
        rc = FL_ENOMEM;
    size_t started = 0;
    if (rc == 0) {
        prefill(r);
        r->start_mono = fl_time_mono_us();
        r->deadline_mono = r->o.duration_us > 0 ? r->start_mono + r->o.duration_us : INT64_MAX;
        for (; started < (size_t)r->o.connections; started++)
            if (pthread_create(&ts[started].thread, NULL, sender_main, &ts[started]) != 0)
                break;
        for (size_t i = 0; i < started; i++)
            pthread_join(ts[i].thread, NULL);
        out->duration_s = (double)(fl_time_mono_us() - r->start_mono) / 1e6;
        atomic_store(&r->stopping, 1);
        pthread_mutex_lock(&r->mu);
        pthread_cond_broadcast(&r->can_push);
        pthread_mutex_unlock(&r->mu);
        pthread_join(producer, NULL);
        rc = r->producer_rc;
    }
    finish_senders(r, ts, started, out);
    fl_free(ts);
    out->connect_failed = atomic_load(&r->abandoned_on_error) != 0;
    if (out->duration_s > 0)
        out->records_per_s_acked = (double)out->records_acked / out->duration_s;
    return rc;
}

static int dry_run(struct run *r, fl_sim_summary *out)
{
    const fl_sim_options *o = &r->o;
    int to_stdout = !o->out[0] || strcmp(o->out, "-") == 0;
    FILE *f = to_stdout ? stdout : fopen(o->out, "w");
    if (!f)
        return -errno;
    int64_t total = o->records > 0 ? o->records : o->devices * (o->duration_us / o->interval_us);
    fl_buf body = {0};
    int rc = 0;
    int64_t t0 = fl_time_mono_us();
    for (int64_t done = 0; done < total && !(r->stop_flag && *r->stop_flag);) {
        size_t n = (size_t)(total - done < o->batch ? total - done : o->batch);
        int format = o->target == FL_SIM_TARGET_INFLUX ? FL_SIM_BODY_LINE_PROTOCOL
                                                       : FL_SIM_BODY_NDJSON;
        if ((rc = fl_sim_build_batch(r->src, n, format, &body, NULL)))
            break;
        if (fwrite(body.data, 1, body.len, f) != body.len) {
            rc = -EIO;
            break;
        }
        done += (int64_t)n;
        out->records_sent = (uint64_t)done;
        out->bytes_sent += body.len;
    }
    if (fflush(f) != 0 && rc == 0)
        rc = -EIO;
    if (!to_stdout && fclose(f) != 0 && rc == 0)
        rc = -EIO;
    fl_buf_free(&body);
    fl_sim_gen_stats st;
    fl_sim_source_stats(r->src, &st);
    out->bad_sent = st.bad;
    memcpy(out->bad_sent_by_kind, st.bad_by_kind, sizeof st.bad_by_kind);
    out->duplicates_sent = st.duplicates;
    out->late_sent = st.late;
    out->out_of_order = st.out_of_order;
    out->duration_s = (double)(fl_time_mono_us() - t0) / 1e6;
    out->dry_run = 1;
    return rc;
}

static double cpu_seconds(void)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6 +
           (double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec / 1e6;
}

static int open_outputs(struct run *r)
{
    if (r->o.labels_out[0] && !(r->labels = fopen(r->o.labels_out, "w")))
        return -errno;
    int sending = !r->o.dry_run && !r->o.out[0];
    if (sending && r->o.acked_out[0] && !(r->acked = fopen(r->o.acked_out, "w")))
        return -errno;
    return 0;
}

/* Close (and fsync) the outputs; the first failure wins. */
static int close_outputs(struct run *r, int rc)
{
    FILE *files[2] = {r->acked, r->labels};
    for (int i = 0; i < 2; i++) {
        if (!files[i])
            continue;
        if ((fflush(files[i]) != 0 || fsync(fileno(files[i])) != 0) && rc == 0)
            rc = -errno;
        if (fclose(files[i]) != 0 && rc == 0)
            rc = -errno;
    }
    r->acked = r->labels = NULL;
    return rc;
}

int fl_sim_run(const fl_sim_options *opts, fl_sim_summary *out, volatile int *stop_flag)
{
    memset(out, 0, sizeof *out);
    out->target = opts->target;
    char why[256];
    if (fl_sim_options_check(opts, why, sizeof why))
        return FL_EINVAL;
    double cpu0 = cpu_seconds();
    struct run *r = fl_calloc(1, sizeof *r);
    if (!r)
        return FL_ENOMEM;
    r->o = *opts;
    fl_sim_options_resolve(&r->o, fl_time_now_us());
    r->stop_flag = stop_flag;
    r->deadline_mono = INT64_MAX;
    pthread_mutex_init(&r->mu, NULL);
    pthread_mutex_init(&r->rate_mu, NULL);
    pthread_mutex_init(&r->acked_mu, NULL);
    pthread_cond_init(&r->can_pop, NULL);
    pthread_cond_init(&r->can_push, NULL);
    int rc = open_outputs(r);
    if (rc == 0)
        rc = fl_sim_source_create(&r->o, &r->src);
    if (rc == 0 && r->labels)
        fl_sim_fleet_set_label_sink(fl_sim_source_fleet(r->src), write_label, r);
    if (rc == 0)
        rc = (r->o.dry_run || r->o.out[0]) ? dry_run(r, out) : run_senders(r, out);
    fl_sim_source_destroy(r->src); /* reports the labels of anomalies still open */
    out->labels = r->labels_written;
    rc = close_outputs(r, rc);
    free_run(r);
    fl_free(r);
    out->cpu_s = cpu_seconds() - cpu0;
    return rc;
}
