/* records.c — POST /v1/records: the ingest hot path.
 *
 * body → (gunzip) → split into record texts → decode + validate each → binary records
 * grouped into one stream append (group commit: the call returns when they are durable) →
 * rejected records appended to the dead-letter log → one result per input record, in input
 * order. A valid record whose device is over throttle.device_rate is not stored and gets the
 * per-record error `throttled` (Kinesis' ProvisionedThroughputExceededException): it is not
 * dead-lettered, since it is good data the client should resend, not bad data to inspect.
 * Per-thread scratch buffers are reused across requests so a steady load allocates nothing per
 * record. */
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "gateway/gateway_int.h"

#define MODULE "ingest"

/* Per worker thread; request handling is synchronous within one callback. */
struct scratch {
    fl_buf gunzipped, items, batch, entries, results, messages, decode, dl_batch, dl_entries;
    fl_buf th_keys, th_hashes, th_order, th_granted; /* per-device throttling of the entries */
};
static __thread struct scratch tls;
static pthread_key_t scratch_key;
static pthread_once_t scratch_once = PTHREAD_ONCE_INIT;

/* Buffers above this stay allocated between requests only up to this size: a rare huge
 * request must not pin its memory in every worker thread forever. */
#define SCRATCH_KEEP_BYTES (4u << 20)

#define SCRATCH_BUFS(s)                                                                            \
    {&(s)->gunzipped, &(s)->items, &(s)->batch, &(s)->entries, &(s)->results, &(s)->messages,      \
     &(s)->decode, &(s)->dl_batch, &(s)->dl_entries, &(s)->th_keys, &(s)->th_hashes,               \
     &(s)->th_order, &(s)->th_granted}

/* Runs when a worker thread exits (MHD_stop_daemon): frees that thread's scratch. */
static void scratch_free(void *p)
{
    struct scratch *s = p;
    fl_buf *all[] = SCRATCH_BUFS(s);
    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++)
        fl_buf_free(all[i]);
}

static void scratch_key_create(void)
{
    (void)pthread_key_create(&scratch_key, scratch_free);
}

/* Register this thread's scratch for freeing at thread exit (once per thread). */
static void scratch_register(void)
{
    pthread_once(&scratch_once, scratch_key_create);
    if (!pthread_getspecific(scratch_key))
        (void)pthread_setspecific(scratch_key, &tls);
}

static void scratch_trim(void)
{
    fl_buf *all[] = SCRATCH_BUFS(&tls);
    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++)
        if (all[i]->cap > SCRATCH_KEEP_BYTES)
            fl_buf_free(all[i]);
}

struct item_result {
    int32_t entry; /* index into entries, or -1 when rejected */
    int32_t code;  /* enum fl_record_error_code when rejected, or CODE_* below */
    uint32_t msg_off, msg_len;
};
/* Per-record outcomes that are not validation errors (codes <= 0 in item_result). */
#define CODE_INTERNAL  (-1) /* out of memory */
#define CODE_FORBIDDEN (-2) /* the key may not write this device (not dead-lettered) */
#define CODE_THROTTLED (-3) /* its device is over throttle.device_rate (not dead-lettered) */

/* What per-device throttling did to one request. */
struct throttled {
    size_t records;
    int64_t wait_us; /* longest time until one of the throttled devices has a token again */
};

#define ITEMS(s) ((fl_body_item *)(s)->items.data)
#define ENTRIES(b) ((fl_stream_entry *)(b)->data)
#define RESULTS(s) ((struct item_result *)(s)->results.data)

static int content_type_format(const char *ct, enum fl_body_format *fmt)
{
    if (!ct)
        return -1;
    size_t n = strcspn(ct, "; \t");
    if (n == 16 && strncasecmp(ct, "application/json", n) == 0)
        *fmt = FL_BODY_JSON;
    else if ((n == 20 && strncasecmp(ct, "application/x-ndjson", n) == 0) ||
             (n == 20 && strncasecmp(ct, "application/jsonlines", n) == 0))
        *fmt = FL_BODY_NDJSON;
    else
        return -1;
    return 0;
}

/* Undo Content-Encoding. Returns 1 if a response was sent. */
static int decode_body(fl_gateway *gw, fl_request *req, fl_slice *body)
{
    const char *ce = MHD_lookup_connection_value(req->conn, MHD_HEADER_KIND, "Content-Encoding");
    *body = (fl_slice){req->body.data ? req->body.data : "", req->body.len};
    if (!ce || strcasecmp(ce, "identity") == 0)
        return 0;
    if (strcasecmp(ce, "gzip") != 0) {
        fl_respond_error(req, 415, "unsupported_encoding",
                         "Content-Encoding '%s' is not supported (use gzip or none)", ce);
        return 1;
    }
    int which = 0;
    const fl_config *cfg = gw->deps.cfg;
    int rc = fl_ingest_gunzip(body->ptr, body->len, (size_t)cfg->max_decompressed_bytes,
                              cfg->max_decompression_ratio, &tls.gunzipped, &which);
    if (rc == FL_ELIMIT && which == 2) {
        fl_respond_error(req, 413, "decompression_ratio",
                         "gzip body expands more than ingest.max_decompression_ratio (%lld:1)",
                         (long long)cfg->max_decompression_ratio);
        return 1;
    }
    if (rc == FL_ELIMIT) {
        fl_respond_error(req, 413, "decompressed_too_large",
                         "decompressed body exceeds ingest.max_decompressed_bytes (%lld)",
                         (long long)cfg->max_decompressed_bytes);
        return 1;
    }
    if (rc) {
        fl_respond_error(req, 400, "bad_gzip", "body is not valid gzip data");
        return 1;
    }
    *body = (fl_slice){tls.gunzipped.data ? tls.gunzipped.data : "", tls.gunzipped.len};
    return 0;
}

/* Queue one dead letter for this request's dead-letter append, with the request's trace id
 * (rejected_records.trace_id). Returns 0 or FL_ENOMEM (the caller counts the loss: the record
 * was rejected either way). */
static int dead_letter_add(const fl_request *req, fl_slice raw, const char *code,
                           const char *message, int64_t now_us)
{
    fl_dead_letter dl = {now_us, fl_slice_from_cstr(code), fl_slice_from_cstr(message), raw, 1,
                         {0}};
    memcpy(dl.trace_id, req->trace_id, sizeof dl.trace_id);
    size_t off = tls.dl_batch.len;
    int rc = fl_dead_letter_encode(&dl, &tls.dl_batch);
    if (rc)
        return rc;
    fl_stream_entry e = {0};
    e.kind = FL_STREAM_KIND_DEAD_LETTER;
    e.payload = (fl_slice){(const char *)(uintptr_t)off, tls.dl_batch.len - off};
    return fl_buf_append(&tls.dl_entries, &e, sizeof e);
}

/* Entries were filled with offsets while the batch buffer could still move; make them
 * pointers now that it is final. */
static void fix_payloads(fl_buf *entries, const fl_buf *batch)
{
    size_t n = entries->len / sizeof(fl_stream_entry);
    for (size_t i = 0; i < n; i++) {
        fl_stream_entry *e = &ENTRIES(entries)[i];
        e->payload.ptr = batch->data + (uintptr_t)e->payload.ptr;
    }
}

static const char *result_code_name(int32_t code)
{
    return code > 0                 ? fl_record_error_name(code)
           : code == CODE_FORBIDDEN ? "forbidden_device"
           : code == CODE_THROTTLED ? "throttled"
                                    : "internal";
}

/* Decode every item into a stream entry or a rejection (validation, or the key's devices).
 * Returns 0, or FL_ENOMEM when the per-item results could not be recorded (the request is
 * then refused as a whole). */
static int decode_items(fl_gateway *gw, const fl_request *req, size_t count, int64_t now_us)
{
    uint32_t shards = fl_stream_shard_count(gw->deps.stream);
    for (size_t i = 0; i < count; i++) {
        fl_body_item *it = &ITEMS(&tls)[i];
        struct item_result r = {-1, it->code, 0, 0};
        fl_record_error err = {0};
        fl_record rec;
        if (it->code == 0)
            r.code = fl_record_decode_json(it->text.ptr, it->text.len, now_us, &gw->limits, &rec,
                                           &tls.decode, &err);
        else
            snprintf(err.message, sizeof err.message, "record is not valid JSON");
        if (r.code == 0 &&
            !fl_access_device_allowed(&req->access, rec.device_id.ptr, rec.device_id.len)) {
            r.code = CODE_FORBIDDEN;
            snprintf(err.message, sizeof err.message,
                     "this API key may not write device '%.*s' (its devices or fleets)",
                     (int)(rec.device_id.len > 128 ? 128 : rec.device_id.len), rec.device_id.ptr);
        }
        if (r.code == 0) {
            size_t off = tls.batch.len;
            fl_stream_entry e = {0};
            memcpy(rec.trace_id, req->trace_id, sizeof rec.trace_id); /* stored with it */
            rec.present |= FL_REC_TRACE;
            if (fl_record_encode(&rec, &tls.batch) == 0) {
                e.shard = fl_stream_shard_for_key(shards, rec.device_id.ptr, rec.device_id.len);
                e.kind = FL_STREAM_KIND_SENSOR;
                /* offsets for now: the batch buffer may still move (fix_payloads) */
                e.payload = (fl_slice){(const char *)(uintptr_t)off, tls.batch.len - off};
                r.entry = (int32_t)(tls.entries.len / sizeof e);
                if (fl_buf_append(&tls.entries, &e, sizeof e))
                    r.entry = -1;
            }
            if (r.entry < 0) {
                r.code = CODE_INTERNAL;
                snprintf(err.message, sizeof err.message, "server out of memory");
            }
        }
        if (r.code != 0) {
            r.msg_off = (uint32_t)tls.messages.len;
            if (fl_buf_append_cstr(&tls.messages, err.message) == 0)
                r.msg_len = (uint32_t)strlen(err.message);
            if (r.code > 0 &&
                dead_letter_add(req, it->text, fl_record_error_name(r.code), err.message, now_us))
                fl_counter_add(gw->m.dead_letter_failures, 1);
        }
        if (fl_buf_append(&tls.results, &r, sizeof r))
            return FL_ENOMEM;
    }
    return 0;
}

/* The device id slices point into the request body or the decode scratch, which is reset
 * for each record; the encoded record holds its own copy, so point the keys there. */
static void fix_partition_keys(fl_buf *entries)
{
    size_t n = entries->len / sizeof(fl_stream_entry);
    for (size_t i = 0; i < n; i++) {
        fl_stream_entry *e = &ENTRIES(entries)[i];
        /* cannot fail: the gateway encoded these records itself a moment ago */
        if (fl_record_encoded_device_id(e->payload.ptr, e->payload.len, &e->partition_key))
            e->partition_key = (fl_slice){"", 0};
    }
}

/* Per-device throttling of the decoded entries (after the key's device check, so records it
 * may not write take no tokens): one token per entry from its device's bucket, in input
 * order. Refused entries are removed from the entries (compacted) and their results get the
 * code throttled; th says how many and the longest wait. Returns 0 or FL_ENOMEM. */
static int throttle_entries(fl_gateway *gw, size_t count, int64_t mono_us, struct throttled *th)
{
    fl_throttle *t = gw->throttle.devices;
    size_t n = tls.entries.len / sizeof(fl_stream_entry);
    if (!t || n == 0)
        return 0;
    int rc = fl_buf_reserve(&tls.th_keys, n * sizeof(fl_slice));
    rc = rc ? rc : fl_buf_reserve(&tls.th_hashes, n * sizeof(uint64_t));
    rc = rc ? rc : fl_buf_reserve(&tls.th_order, n * sizeof(uint32_t));
    rc = rc ? rc : fl_buf_reserve(&tls.th_granted, n);
    if (rc)
        return rc;
    fl_slice *keys = (fl_slice *)tls.th_keys.data;
    fl_stream_entry *entries = ENTRIES(&tls.entries);
    for (size_t i = 0; i < n; i++)
        keys[i] = entries[i].partition_key; /* the device id (fix_partition_keys) */
    uint8_t *granted = (uint8_t *)tls.th_granted.data;
    fl_throttle_scratch scratch = {(uint64_t *)tls.th_hashes.data, (uint32_t *)tls.th_order.data};
    th->records = fl_throttle_take_each(t, keys, n, mono_us, &scratch, granted, &th->wait_us);
    if (th->records == 0)
        return 0;
    char msg[160];
    snprintf(msg, sizeof msg,
             "device over throttle.device_rate (%lld records/s, burst %lld): resend later",
             (long long)gw->deps.cfg->throttle_device_rate,
             (long long)gw->deps.cfg->throttle_device_burst);
    uint32_t msg_off = (uint32_t)tls.messages.len;
    if ((rc = fl_buf_append_cstr(&tls.messages, msg)))
        return rc;
    uint32_t *new_index = scratch.order; /* free again: reused as old -> new entry index */
    size_t kept = 0;
    for (size_t i = 0; i < n; i++) {
        new_index[i] = granted[i] ? (uint32_t)kept : UINT32_MAX;
        if (granted[i])
            entries[kept++] = entries[i];
    }
    tls.entries.len = kept * sizeof(fl_stream_entry);
    struct item_result *res = RESULTS(&tls);
    for (size_t i = 0; i < count; i++) {
        if (res[i].entry < 0)
            continue;
        if (new_index[res[i].entry] != UINT32_MAX) {
            res[i].entry = (int32_t)new_index[res[i].entry];
            continue;
        }
        res[i] = (struct item_result){-1, CODE_THROTTLED, msg_off, (uint32_t)strlen(msg)};
    }
    return 0;
}

static void count_records(fl_gateway *gw, size_t count, size_t accepted, size_t throttled)
{
    if (throttled) {
        fl_counter_add(fl_counter_series(gw->m.records, "failed", "throttled"), throttled);
        fl_counter_add(gw->throttle.records_device, throttled);
    }
    const struct item_result *res = RESULTS(&tls);
    fl_counter_add(fl_counter_series(gw->m.records, "accepted", "ok"), accepted);
    for (size_t i = 0; i < count; i++) {
        if (res[i].entry >= 0 && ENTRIES(&tls.entries)[res[i].entry].result == 0)
            continue;
        if (res[i].entry >= 0)
            fl_counter_add(fl_counter_series(gw->m.records, "failed", "unavailable"), 1);
        else if (res[i].code > 0)
            fl_counter_add(
                fl_counter_series(gw->m.records, "rejected", fl_record_error_name(res[i].code)), 1);
        else if (res[i].code == CODE_FORBIDDEN)
            fl_counter_add(fl_counter_series(gw->m.records, "rejected", "forbidden_device"), 1);
        else if (res[i].code != CODE_THROTTLED) /* throttled: counted above */
            fl_counter_add(fl_counter_series(gw->m.records, "failed", "internal"), 1);
    }
}

/* Append `,{"shard":"shard-0001","seq":"123"}` without printf: this runs once per acked
 * record, and formatting by hand costs a fraction of vfprintf (profiled at ~8% of ingest). */
static int append_ack(fl_buf *out, int first, const char *shard_name, uint64_t seq)
{
    char digits[20];
    int nd = 0;
    do {
        digits[nd++] = (char)('0' + seq % 10);
        seq /= 10;
    } while (seq);
    size_t shard_len = strlen(shard_name);
    int rc = fl_buf_reserve(out, 32 + shard_len + (size_t)nd);
    if (rc)
        return rc;
    char *p = out->data + out->len;
    if (!first)
        *p++ = ',';
    memcpy(p, "{\"shard\":\"", 10);
    p += 10;
    memcpy(p, shard_name, shard_len);
    p += shard_len;
    memcpy(p, "\",\"seq\":\"", 9);
    p += 9;
    while (nd)
        *p++ = digits[--nd];
    memcpy(p, "\"}", 2);
    p += 2;
    *p = 0;
    out->len = (size_t)(p - out->data);
    return 0;
}

static int write_response(fl_buf *out, size_t count, size_t accepted, char shard_names[][24])
{
    const struct item_result *res = RESULTS(&tls);
    int rc = fl_buf_reserve(out, 64 + count * 48);
    rc = rc ? rc : fl_buf_printf(out, "{\"accepted\":%zu,\"failed\":%zu,\"records\":[", accepted,
                                 count - accepted);
    for (size_t i = 0; !rc && i < count; i++) {
        const char *sep = i ? "," : "";
        if (res[i].entry >= 0) {
            const fl_stream_entry *e = &ENTRIES(&tls.entries)[res[i].entry];
            if (e->result == 0) {
                rc = append_ack(out, i == 0, shard_names[e->shard], e->seq);
            } else {
                rc = fl_buf_printf(out,
                                   "%s{\"error\":{\"code\":\"unavailable\",\"message\":\"shard "
                                   "%s cannot accept writes: %s\"}}",
                                   sep, shard_names[e->shard], fl_strerror(e->result));
            }
            continue;
        }
        const char *code = result_code_name(res[i].code);
        rc = fl_buf_printf(out, "%s{\"error\":{\"code\":\"%s\",\"message\":\"", sep, code);
        rc = rc ? rc
                : fl_buf_append_json_string(out, tls.messages.data + res[i].msg_off,
                                            res[i].msg_len);
        rc = rc ? rc : fl_buf_append_cstr(out, "\"}}");
    }
    return rc ? rc : fl_buf_append_cstr(out, "]}\n");
}

static void reset_scratch(void)
{
    scratch_register();
    fl_buf *all[] = SCRATCH_BUFS(&tls);
    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++)
        fl_buf_reset(all[i]);
}

/* Append the dead letters collected for this request; failures are logged and counted but
 * do not change the clients' answer (their records were rejected either way). */
static void flush_dead_letters(fl_gateway *gw, int64_t now_us)
{
    size_t n = tls.dl_entries.len / sizeof(fl_stream_entry);
    if (!n)
        return;
    fix_payloads(&tls.dl_entries, &tls.dl_batch);
    int rc = fl_stream_append(gw->deps.dead_letters, ENTRIES(&tls.dl_entries), n, now_us);
    if (rc) {
        fl_counter_add(gw->m.dead_letter_failures, n);
        FL_ERROR(MODULE, "dead-letter append of %zu records failed: %s", n, fl_strerror(rc));
    }
}

static void split_failed(fl_gateway *gw, fl_request *req, int berr, fl_slice body, int64_t now)
{
    const fl_config *cfg = gw->deps.cfg;
    switch (berr) {
    case FL_BODY_TOO_MANY_RECORDS:
        fl_respond_error(req, 413, "too_many_records",
                         "request has more than ingest.max_records_per_request (%lld) records",
                         (long long)cfg->max_records_per_request);
        return;
    case FL_BODY_TOO_DEEP:
        if (dead_letter_add(req, body, "too_deep", "nesting deeper than ingest.max_json_depth",
                            now))
            fl_counter_add(gw->m.dead_letter_failures, 1);
        flush_dead_letters(gw, now);
        fl_respond_error(req, 400, "too_deep", "JSON nesting deeper than ingest.max_json_depth (%lld)",
                         (long long)cfg->max_json_depth);
        return;
    case FL_BODY_NOMEM:
        fl_respond_error_retry(req, 503, 1, "overloaded", "out of memory splitting the body");
        return;
    case FL_BODY_EMPTY:
        fl_respond_error(req, 400, "empty", "the body holds no records");
        return;
    default:
        if (dead_letter_add(req, body, "bad_json", "body is not a JSON object, array or NDJSON",
                            now))
            fl_counter_add(gw->m.dead_letter_failures, 1);
        flush_dead_letters(gw, now);
        fl_respond_error(req, 400, "bad_json", "body is not valid JSON (expected an object or an "
                                               "array of objects, or NDJSON)");
    }
}

static int all_forbidden(size_t count)
{
    for (size_t i = 0; i < count; i++)
        if (RESULTS(&tls)[i].code != CODE_FORBIDDEN)
            return 0;
    return count > 0;
}

static void process(fl_gateway *gw, fl_request *req, enum fl_body_format fmt)
{
    fl_slice body;
    reset_scratch();
    if (decode_body(gw, req, &body))
        return;
    int64_t now = fl_time_now_us();
    size_t count = 0;
    int berr = fl_body_split(body.ptr, body.len, fmt, (size_t)gw->deps.cfg->max_records_per_request,
                             gw->deps.cfg->max_json_depth, &tls.items, &count);
    if (berr != FL_BODY_OK) {
        fl_counter_add(fl_counter_series(gw->m.records, "rejected", "request"), 1);
        split_failed(gw, req, berr, body, now);
        return;
    }
    struct throttled th = {0, 0};
    if (decode_items(gw, req, count, now)) {
        fl_respond_error_retry(req, 503, 1, "overloaded", "out of memory decoding the request");
        return;
    }
    fix_payloads(&tls.entries, &tls.batch);
    fix_partition_keys(&tls.entries);
    if (throttle_entries(gw, count, fl_time_mono_us(), &th)) {
        fl_respond_error_retry(req, 503, 1, "overloaded", "out of memory throttling the request");
        return;
    }
    size_t n = tls.entries.len / sizeof(fl_stream_entry);
    int append_rc = 0;
    if (n)
        append_rc = fl_stream_append(gw->deps.stream, ENTRIES(&tls.entries), n, now);
    flush_dead_letters(gw, now);
    size_t accepted = 0;
    for (size_t i = 0; i < n; i++)
        accepted += ENTRIES(&tls.entries)[i].result == 0;
    if (append_rc)
        FL_ERROR(MODULE, "stream append failed for %zu of %zu records: %s", n - accepted, n,
                 fl_strerror(append_rc));
    count_records(gw, count, accepted, th.records);
    char shard_names[FL_STREAM_MAX_SHARDS][24];
    for (uint32_t s = 0; s < fl_stream_shard_count(gw->deps.stream); s++)
        snprintf(shard_names[s], sizeof shard_names[s], "shard-%04u", s);
    fl_buf out = {0};
    if (write_response(&out, count, accepted, shard_names)) {
        fl_buf_free(&out);
        fl_respond_error_retry(req, 503, 1, "overloaded", "out of memory building the response");
        return;
    }
    if (accepted) {
        fl_respond_json(req, 200, &out);
    } else if (n > 0) { /* records were valid but the stream refused them */
        fl_respond_json_retry(req, 503, 1, &out);
    } else if (all_forbidden(count)) {
        fl_respond_json(req, 403, &out);
    } else if (th.records) { /* nothing stored, and resending later can store something */
        fl_counter_add(gw->throttle.requests_device, 1);
        fl_respond_json_retry(req, 429, fl_throttle_retry_after_s(th.wait_us), &out);
    } else {
        fl_respond_json(req, 400, &out);
    }
}

void fl_handle_records(fl_gateway *gw, fl_request *req)
{
    const char *ct = MHD_lookup_connection_value(req->conn, MHD_HEADER_KIND, "Content-Type");
    enum fl_body_format fmt;
    if (content_type_format(ct, &fmt)) {
        fl_respond_error(req, 415, "unsupported_media_type",
                         "Content-Type '%s' is not supported (use application/json or "
                         "application/x-ndjson)",
                         ct ? ct : "(none)");
        return;
    }
    long busy = atomic_fetch_add(&gw->ingest_busy, 1) + 1;
    if (busy > gw->deps.cfg->max_inflight_requests) {
        atomic_fetch_sub(&gw->ingest_busy, 1);
        fl_respond_error_retry(req, 503, 1, "overloaded",
                               "too many requests in flight (server.max_inflight_requests)");
        return;
    }
    fl_counter_add(gw->m.bytes_in, req->body.len);
    process(gw, req, fmt);
    scratch_trim();
    atomic_fetch_sub(&gw->ingest_busy, 1);
}
