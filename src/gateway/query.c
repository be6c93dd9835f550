/* query.c — POST /v1/query {"sql": "...", "format": "json|ndjson|csv|table", "explain": false}:
 * one read-only SQL statement over the lake (src/query), streamed with
 * MHD_create_response_from_callback so the result is never materialised: the session and
 * cursor live in the response and are closed by MHD's free callback.
 *
 * Errors before the first byte (bad body, SQL error, refused statement, most timeouts — an
 * aggregate finishes before its first row) answer with the error JSON of DESIGN.md §6 and the
 * status of status_for(). At most query.max_concurrent statements run at once (a running one
 * holds a worker thread); more get 503 busy. An error after the 200 was sent is written into the
 * body where the format allows (json: "error" member instead of "stats"; ndjson: a last
 * {"error":...} line); for csv/table the chunked response is aborted, so a client sees a truncated
 * transfer. */
#include <jansson.h>
#include <string.h>

#include "gateway/gateway_int.h"
#include "query/query.h"

struct query_response {
    fl_gateway *gw; /* for the running-statements count */
    fl_query_session *session;
    fl_query_cursor *cursor;
    fl_buf pending;
    size_t sent;
    uint64_t *bytes_out; /* the request's count, for the audit trail (read in on_completed,
                          * after the last on_read) */
    int finished; /* 1: the cursor has nothing more; 2: ... after an error */
    /* For fleetlake_queries_total and fleetlake_query_duration_seconds, counted once by
     * release() when the statement streamed: "ok", the error code of a mid-stream failure, or
     * "aborted" when the client left before the end. */
    int64_t start_mono_us;
    const char *outcome;
    int count_on_release;
};

/* Count one statement by outcome (ok or its error code: a closed set) and observe its
 * duration from the request's first byte. */
static void count_query(fl_gateway *gw, const char *outcome, int64_t start_mono_us)
{
    fl_counter_add(fl_counter_series(gw->m.queries, outcome, NULL), 1);
    fl_histogram_observe(gw->m.query_duration, fl_time_mono_us() - start_mono_us);
}

static int status_for(const char *code)
{
    if (strcmp(code, "timeout") == 0)
        return 408;
    if (strcmp(code, "unavailable") == 0 || strcmp(code, "out_of_memory") == 0)
        return 503;
    if (strcmp(code, "forbidden") == 0) /* the key's attributes (fl_query_session_restrict) */
        return 403;
    return 400; /* sql_error, not_allowed, too_many_rows, bad_request */
}

/* End the statement: its read transaction, its session and its place among the running
 * statements. Called as soon as the cursor has produced everything (MHD may destroy the
 * response much later, after the worker thread gets back to the connection) and again, as a
 * no-op, from on_free. */
static void release(struct query_response *q)
{
    fl_query_cursor_close(q->cursor);
    fl_query_session_close(q->session);
    q->cursor = NULL;
    q->session = NULL;
    if (q->gw && q->count_on_release)
        count_query(q->gw, q->finished ? q->outcome : "aborted", q->start_mono_us);
    if (q->gw)
        atomic_fetch_sub(&q->gw->queries_running, 1);
    q->gw = NULL;
}

static ssize_t on_read(void *cls, uint64_t pos, char *buf, size_t max)
{
    (void)pos;
    struct query_response *q = cls;
    while (q->sent == q->pending.len) {
        if (q->finished == 1)
            return MHD_CONTENT_READER_END_OF_STREAM;
        if (q->finished == 2)
            return MHD_CONTENT_READER_END_WITH_ERROR;
        fl_buf_reset(&q->pending);
        q->sent = 0;
        fl_query_error err = {0};
        int more = fl_query_cursor_next(q->cursor, &q->pending, &err);
        if (more < 0) {
            /* json and ndjson carry the error in the body and end normally; the others
             * cannot, so the transfer is aborted. */
            int carried = err.code && q->pending.len && strstr(q->pending.data, "\"error\"");
            q->finished = carried ? 1 : 2;
            q->outcome = err.code ? err.code : "internal";
            FL_WARN("query", "statement failed mid-stream: %s: %s", err.code ? err.code : "",
                    err.message);
        } else if (more == 0) {
            q->finished = 1;
        }
        if (q->finished)
            release(q);
    }
    size_t n = q->pending.len - q->sent;
    if (n > max)
        n = max;
    memcpy(buf, q->pending.data + q->sent, n);
    q->sent += n;
    *q->bytes_out += n;
    return (ssize_t)n;
}

static void on_free(void *cls)
{
    struct query_response *q = cls;
    release(q);
    fl_buf_free(&q->pending);
    fl_free(q);
}

static int parse_body(fl_request *req, char *sql_out_err, size_t n, json_t **root, const char **sql,
                      const char **format, int *explain)
{
    json_error_t jerr;
    *root = json_loadb(req->body.data ? req->body.data : "", req->body.len, 0, &jerr);
    if (!*root || !json_is_object(*root)) {
        snprintf(sql_out_err, n, "body must be a JSON object {\"sql\": \"...\"}");
        return -1;
    }
    json_t *s = json_object_get(*root, "sql"), *f = json_object_get(*root, "format"),
           *e = json_object_get(*root, "explain");
    if (!json_is_string(s)) {
        snprintf(sql_out_err, n, "\"sql\" must be a string");
        return -1;
    }
    if (f && !json_is_string(f)) {
        snprintf(sql_out_err, n, "\"format\" must be one of table, csv, json, ndjson");
        return -1;
    }
    if (e && !json_is_boolean(e)) {
        snprintf(sql_out_err, n, "\"explain\" must be true or false");
        return -1;
    }
    *sql = json_string_value(s);
    *format = f ? json_string_value(f) : "json";
    *explain = e && json_is_true(e);
    if (!fl_query_encoder_find(*format)) {
        snprintf(sql_out_err, n, "\"format\" must be one of table, csv, json, ndjson");
        return -1;
    }
    return 0;
}

void fl_handle_query(fl_gateway *gw, fl_request *req)
{
    char msg[256];
    json_t *root = NULL;
    const char *sql = NULL, *format = NULL;
    int explain = 0;
    if (parse_body(req, msg, sizeof msg, &root, &sql, &format, &explain)) {
        json_decref(root);
        count_query(gw, "bad_request", req->start_mono_us);
        fl_respond_error(req, 400, "bad_request", "%s", msg);
        return;
    }
    const fl_query_encoder *enc = fl_query_encoder_find(format);
    if (atomic_fetch_add(&gw->queries_running, 1) >= gw->deps.cfg->query_max_concurrent) {
        atomic_fetch_sub(&gw->queries_running, 1);
        json_decref(root);
        count_query(gw, "busy", req->start_mono_us);
        fl_respond_error_retry(req, 503, 1, "busy",
                               "query.max_concurrent statements are running; retry shortly");
        return;
    }
    /* A key's statements run in its role's sandbox ([role.NAME] caps) and see only what its
     * attributes allow (fl_query_session_restrict); with auth off, everything. */
    int keyed = req->key_id[0] != 0;
    fl_query_limits lim = keyed ? fl_query_limits_for_role(gw->deps.cfg, req->access.role)
                                : fl_query_limits_from_config(gw->deps.cfg);
    fl_query_error err = {0};
    struct query_response *q = fl_calloc(1, sizeof *q);
    int rc = q ? 0 : FL_ENOMEM;
    if (q) {
        q->gw = gw;
        q->bytes_out = &req->bytes_out;
    } else
        atomic_fetch_sub(&gw->queries_running, 1);
    rc = rc ? rc : fl_query_session_open(gw->deps.cfg->data_dir, &lim, &q->session, &err);
    if (!rc && keyed)
        rc = fl_query_session_restrict(q->session, &req->access, &err);
    rc = rc ? rc : fl_query_cursor_open(q->session, sql, enc, explain, &q->cursor, &err);
    json_decref(root);
    if (rc) {
        const char *code = err.code ? err.code : "out_of_memory";
        if (q)
            on_free(q);
        count_query(gw, code, req->start_mono_us);
        fl_respond_error(req, status_for(code), code, "%s",
                         err.code ? err.message : "out of memory");
        return;
    }
    struct MHD_Response *resp =
        MHD_create_response_from_callback(MHD_SIZE_UNKNOWN, 64 * 1024, on_read, q, on_free);
    q->start_mono_us = req->start_mono_us;
    q->outcome = "ok";
    q->count_on_release = 1;
    if (!resp) {
        on_free(q);
        return; /* MHD closes the connection */
    }
    MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, fl_query_encoder_content_type(enc));
    fl_respond_add_ids(req, resp);
    if (MHD_queue_response(req->conn, 200, resp) == MHD_YES) {
        req->responded = 1;
        req->status = 200;
    }
    MHD_destroy_response(resp);
}
