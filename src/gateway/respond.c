/* respond.c — queueing responses: JSON bodies, the error shape of DESIGN.md §6
 * ({"error":{"code":...,"message":...}}), Retry-After, the request and trace id headers
 * (X-Request-Id, traceparent), and per-status metrics. */
#include <stdarg.h>
#include <stdio.h>

#include "gateway/gateway_int.h"

void fl_respond_add_ids(fl_request *req, struct MHD_Response *resp)
{
    MHD_add_response_header(resp, "X-Request-Id", req->request_id);
    if (req->traceparent[0])
        MHD_add_response_header(resp, "traceparent", req->traceparent);
}

static void queue_with(fl_request *req, int status, const char *content_type, fl_buf *body,
                       int retry_after_s, const char *const (*headers)[2], size_t header_count)
{
    struct MHD_Response *resp;
    req->bytes_out = body->len;
    if (body->len) {
        /* Ownership of body->data passes to MHD, which frees it with free(): fl_malloc is
         * malloc underneath, so that pairing is valid. */
        resp = MHD_create_response_from_buffer(body->len, body->data, MHD_RESPMEM_MUST_FREE);
        body->data = NULL;
        body->len = body->cap = 0;
    } else {
        fl_buf_free(body);
        resp = MHD_create_response_from_buffer(0, (void *)"", MHD_RESPMEM_PERSISTENT);
    }
    if (!resp)
        return; /* out of memory: MHD closes the connection */
    MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, content_type);
    fl_respond_add_ids(req, resp);
    for (size_t i = 0; i < header_count; i++)
        MHD_add_response_header(resp, headers[i][0], headers[i][1]);
    if (retry_after_s > 0) {
        char v[16];
        snprintf(v, sizeof v, "%d", retry_after_s);
        MHD_add_response_header(resp, MHD_HTTP_HEADER_RETRY_AFTER, v);
    }
    if (status == 401 && req->www_authenticate)
        MHD_add_response_header(resp, MHD_HTTP_HEADER_WWW_AUTHENTICATE,
                                "Bearer realm=\"fleetlake\"");
    if (status == 405 && req->route == NULL)
        MHD_add_response_header(resp, MHD_HTTP_HEADER_ALLOW, "GET, POST");
    if (MHD_queue_response(req->conn, (unsigned)status, resp) == MHD_YES) {
        req->responded = 1;
        req->status = status;
    }
    MHD_destroy_response(resp);
}

static void queue(fl_request *req, int status, const char *content_type, fl_buf *body,
                  int retry_after_s)
{
    queue_with(req, status, content_type, body, retry_after_s, NULL, 0);
}

void fl_respond_with_headers(fl_request *req, int status, const char *content_type,
                             fl_buf *body, const char *const (*headers)[2], size_t header_count)
{
    queue_with(req, status, content_type, body, 0, headers, header_count);
}

void fl_respond_json(fl_request *req, int status, fl_buf *body)
{
    queue(req, status, "application/json", body, 0);
}

void fl_respond_text(fl_request *req, int status, const char *content_type, fl_buf *body)
{
    queue(req, status, content_type, body, 0);
}

void fl_respond_json_retry(fl_request *req, int status, int retry_after_s, fl_buf *body)
{
    queue(req, status, "application/json", body, retry_after_s);
}

static void error_body(fl_buf *b, const char *code, const char *message)
{
    int rc = fl_buf_printf(b, "{\"error\":{\"code\":\"%s\",\"message\":\"", code);
    rc = rc ? rc : fl_buf_append_json_string(b, message, strlen(message));
    rc = rc ? rc : fl_buf_append_cstr(b, "\"}}\n");
    if (rc)
        fl_buf_reset(b);
}

void fl_respond_error(fl_request *req, int status, const char *code, const char *fmt, ...)
{
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    fl_buf b = {0};
    error_body(&b, code, msg);
    queue(req, status, "application/json", &b, 0);
}

void fl_respond_error_retry(fl_request *req, int status, int retry_after_s, const char *code,
                            const char *message)
{
    fl_buf b = {0};
    error_body(&b, code, message);
    queue(req, status, "application/json", &b, retry_after_s);
}
