/* server.c — libmicrohttpd setup and the request life cycle: request and trace ids, route
 * lookup, body collection under the body-size limit, dispatch to handlers, completion
 * (metrics, in-flight count, audit). */
#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "gateway/gateway_int.h"

#define MODULE "gateway"

/* The request's trace context: the caller's trace id when its `traceparent` header is valid
 * (W3C Trace Context, version 00), else a new random one; a malformed header is ignored, not
 * an error (the spec's rule: restart the trace). Our span id is always new; the sampled flag
 * is passed on, and set on traces we start (every request is logged and audited). */
static void trace_begin(fl_request *req)
{
    const char *tp = MHD_lookup_connection_value(req->conn, MHD_HEADER_KIND, "traceparent");
    fl_trace_context in;
    uint8_t flags = 0x01;
    if (tp && fl_trace_parent_parse(tp, strlen(tp), &in) == 0) {
        memcpy(req->trace_id, in.trace_id, sizeof req->trace_id);
        flags = in.flags;
    } else {
        fl_trace_random_id(req->trace_id, sizeof req->trace_id);
    }
    fl_trace_random_id(req->span_id, sizeof req->span_id);
    fl_hex_encode(req->trace_id, sizeof req->trace_id, req->trace_id_hex);
    fl_trace_parent_format(req->trace_id, req->span_id, flags, req->traceparent);
}

static fl_request *request_new(fl_gateway *gw, struct MHD_Connection *conn, const char *method,
                               const char *url)
{
    fl_request *req = fl_calloc(1, sizeof *req);
    if (!req)
        return NULL;
    req->conn = conn;
    req->start_mono_us = fl_time_mono_us();
    snprintf(req->path, sizeof req->path, "%s", url);
    snprintf(req->method, sizeof req->method, "%s", method);
    snprintf(req->request_id, sizeof req->request_id, "%lx",
             (unsigned long)atomic_fetch_add(&gw->next_request_id, 1));
    trace_begin(req);
    int path_known;
    const char *known_name = url;
    req->route = fl_gateway_route_find_named(method, url, &path_known, &known_name);
    /* An exact route's name is its path; a prefix route's is its pattern: bounded labels. */
    req->route_name = req->route ? req->route->name : path_known ? known_name : "unknown";
    atomic_fetch_add(&gw->inflight, 1);
    req->counted_inflight = 1;
    return req;
}

/* Request-line and header size limits (server.max_uri_bytes, server.max_header_bytes), checked
 * before anything else. Requests larger than libmicrohttpd's per-connection memory pool
 * (sized to twice max_header_bytes, see fl_gateway_start) never get here: libmicrohttpd
 * answers them 414/431 itself, with its own short body. */
static void check_request_size(fl_gateway *gw, fl_request *req)
{
    const fl_config *cfg = gw->deps.cfg;
    size_t uri_bytes = fl_deadlines_uri_bytes(req->conn);
    if (uri_bytes > (size_t)cfg->max_uri_bytes) {
        fl_respond_error(req, 414, "uri_too_long",
                         "request target of %zu bytes exceeds server.max_uri_bytes (%lld)",
                         uri_bytes, (long long)cfg->max_uri_bytes);
        return;
    }
    const union MHD_ConnectionInfo *ci =
        MHD_get_connection_info(req->conn, MHD_CONNECTION_INFO_REQUEST_HEADER_SIZE);
    if (ci && ci->header_size > (size_t)cfg->max_header_bytes)
        fl_respond_error(req, 431, "header_too_large",
                         "request line and headers of %zu bytes exceed server.max_header_bytes "
                         "(%lld)",
                         ci->header_size, (long long)cfg->max_header_bytes);
}

/* Whether the request announces a body (a non-zero Content-Length or any Transfer-Encoding):
 * its bytes then run against server.body_timeout_s. */
static int announces_body(struct MHD_Connection *conn)
{
    const char *cl = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "Content-Length");
    if (cl && strtoll(cl, NULL, 10) != 0)
        return 1;
    return MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "Transfer-Encoding") != NULL;
}

/* Checks that can be answered from the headers alone, before any body byte is read. */
static void check_headers(fl_gateway *gw, fl_request *req, const char *method, const char *url)
{
    if (atomic_load(&gw->draining)) {
        fl_respond_error_retry(req, 503, 1, "shutting_down", "the server is shutting down");
        return;
    }
    if (!req->route) {
        int known; /* a route of another method has this path */
        fl_gateway_route_find(method, url, &known);
        if (known)
            fl_respond_error(req, 405, "method_not_allowed", "%s is not allowed on %s", method, url);
        else
            fl_respond_error(req, 404, "not_found", "no route %s %s", method, url);
        return;
    }
    if (fl_gateway_authorize(gw, req, method))
        return;
    if (fl_gateway_throttle_request(gw, req)) /* 429 over throttle.key_rate (throttle_http.c) */
        return;
    if (!req->route->has_body)
        return;
    const char *cl = MHD_lookup_connection_value(req->conn, MHD_HEADER_KIND, "Content-Length");
    if (cl) {
        long long n = strtoll(cl, NULL, 10);
        if (n > gw->deps.cfg->max_body_bytes) {
            fl_respond_error(req, 413, "body_too_large",
                             "request body of %lld bytes exceeds ingest.max_body_bytes (%lld)", n,
                             (long long)gw->deps.cfg->max_body_bytes);
            return;
        }
        if (n > 0 && fl_buf_reserve(&req->body, (size_t)n))
            fl_respond_error_retry(req, 503, 1, "overloaded", "out of memory for the body");
    }
}

/* The checks answered from the request line and headers, with the request's ids on any log
 * line they write. */
static void run_checks(fl_gateway *gw, fl_request *req, const char *method, const char *url)
{
    fl_log_set_context(req->request_id);
    fl_log_set_trace(req->trace_id_hex);
    check_request_size(gw, req);
    if (!req->responded)
        check_headers(gw, req, method, url);
    fl_log_set_context(NULL);
    fl_log_set_trace(NULL);
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn, const char *url,
                                  const char *method, const char *version,
                                  const char *upload_data, size_t *upload_data_size,
                                  void **con_cls)
{
    fl_gateway *gw = cls;
    fl_request *req = *con_cls;
    if (!req) {
        req = request_new(gw, conn, method, url);
        if (!req)
            return MHD_NO;
        *con_cls = req;
        int body = announces_body(conn);
        if (!body) {
            /* No body: answer in the next call. A response queued in this first call makes
             * libmicrohttpd close the connection (it cannot know no body follows), which
             * costs every GET - and every 401/404/429 - its keep-alive. */
            req->deferred_checks = 1;
            fl_deadlines_request_begin(gw->deadlines, conn, 0, 0);
            return MHD_YES;
        }
        run_checks(gw, req, method, url);
        fl_deadlines_request_begin(gw->deadlines, conn, body, req->responded);
        return MHD_YES;
    }
    if (req->deferred_checks) {
        req->deferred_checks = 0;
        run_checks(gw, req, method, url);
    }
    if (*upload_data_size) {
        req->bytes_in += *upload_data_size;
        /* Body bytes after a response was queued (413, 404...) are discarded unread. */
        if (!req->responded && !req->body_too_large) {
            if (req->body.len + *upload_data_size > (size_t)gw->deps.cfg->max_body_bytes) {
                req->body_too_large = 1;
                fl_buf_free(&req->body);
            } else if (fl_buf_append(&req->body, upload_data, *upload_data_size)) {
                req->body_too_large = 1; /* out of memory: answered as 503 below */
                fl_buf_free(&req->body);
            }
        }
        *upload_data_size = 0;
        return MHD_YES;
    }
    fl_deadlines_body_done(gw->deadlines, conn);
    if (req->responded)
        return MHD_YES;
    if (req->body_too_large) {
        fl_respond_error(req, 413, "body_too_large", "request body exceeds ingest.max_body_bytes (%lld)",
                         (long long)gw->deps.cfg->max_body_bytes);
        return MHD_YES;
    }
    fl_log_set_context(req->request_id);
    fl_log_set_trace(req->trace_id_hex);
    req->url = url;
    req->route->handler(gw, req);
    fl_log_set_context(NULL);
    fl_log_set_trace(NULL);
    if (!req->responded)
        fl_respond_error(req, 500, "internal", "the handler produced no response");
    return MHD_YES;
}

static void on_completed(void *cls, struct MHD_Connection *conn, void **con_cls,
                         enum MHD_RequestTerminationCode toe)
{
    fl_gateway *gw = cls;
    fl_request *req = *con_cls;
    fl_deadlines_request_done(gw->deadlines, conn);
    if (!req)
        return;
    char status[8];
    snprintf(status, sizeof status, "%d", req->responded ? req->status : 0);
    fl_counter_add(fl_counter_series(gw->m.requests, req->route_name, status), 1);
    if (fl_log_enabled(FL_LOG_DEBUG)) { /* the access log, at debug: one line per request */
        fl_log_set_context(req->request_id);
        fl_log_set_trace(req->trace_id_hex);
        FL_DEBUG(MODULE, "%s %s %s in %.3f ms, %llu bytes in, %llu out", req->method, req->path,
                 status, (double)(fl_time_mono_us() - req->start_mono_us) / 1000.0,
                 (unsigned long long)req->bytes_in, (unsigned long long)req->bytes_out);
        fl_log_set_context(NULL);
        fl_log_set_trace(NULL);
    }
    if (req->route && req->route->handler == fl_handle_records)
        fl_histogram_observe(gw->m.ingest_latency, fl_time_mono_us() - req->start_mono_us);
    fl_gateway_audit_request(gw, req);
    fl_buf_free(&req->body);
    if (req->counted_inflight)
        atomic_fetch_sub(&gw->inflight, 1);
    fl_free(req);
    *con_cls = NULL;
}

static void on_mhd_log(void *cls, const char *fmt, va_list ap)
{
    char msg[512];
    vsnprintf(msg, sizeof msg, fmt, ap);
    size_t n = strlen(msg);
    while (n && msg[n - 1] == '\n')
        msg[--n] = 0;
    FL_DEBUG(MODULE, "libmicrohttpd: %s", msg);
}

/* Parse "host:port" / "[v6]:port" into a socket address. */
static int parse_listen(const char *listen, struct sockaddr_storage *ss, socklen_t *len)
{
    char host[256];
    const char *colon = strrchr(listen, ':');
    if (!colon || colon == listen)
        return FL_ECONFIG;
    size_t hl = (size_t)(colon - listen);
    if (listen[0] == '[' && hl > 2 && listen[hl - 1] == ']') {
        listen++;
        hl -= 2;
    }
    if (hl >= sizeof host)
        return FL_ECONFIG;
    memcpy(host, listen, hl);
    host[hl] = 0;
    char *end;
    long port = strtol(colon + 1, &end, 10);
    if (*end || port < 0 || port > 65535)
        return FL_ECONFIG;
    struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM,
                             .ai_flags = AI_NUMERICSERV | AI_PASSIVE};
    struct addrinfo *ai;
    char ps[8];
    snprintf(ps, sizeof ps, "%ld", port);
    if (getaddrinfo(host[0] ? host : NULL, ps, &hints, &ai))
        return FL_ECONFIG;
    memcpy(ss, ai->ai_addr, ai->ai_addrlen);
    *len = ai->ai_addrlen;
    freeaddrinfo(ai);
    return 0;
}

static int bind_socket(const char *listen_addr, int *fd_out, uint16_t *port_out)
{
    struct sockaddr_storage ss;
    socklen_t len;
    if (parse_listen(listen_addr, &ss, &len))
        return FL_ECONFIG;
    int fd = socket(ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -errno;
    int one = 1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (bind(fd, (struct sockaddr *)&ss, len) || listen(fd, 1024)) {
        int err = -errno;
        close(fd);
        return err;
    }
    struct sockaddr_storage bound;
    socklen_t blen = sizeof bound;
    getsockname(fd, (struct sockaddr *)&bound, &blen);
    *port_out = ntohs(bound.ss_family == AF_INET6 ? ((struct sockaddr_in6 *)&bound)->sin6_port
                                                  : ((struct sockaddr_in *)&bound)->sin_port);
    *fd_out = fd;
    return 0;
}

/* libmicrohttpd's per-connection memory pool holds the request line and headers while they
 * are parsed (and the read buffer). Twice server.max_header_bytes lets a request over our
 * limit still be parsed and answered with our JSON 431; 256 KiB is the floor the read
 * buffer was tuned with. */
static size_t connection_memory_bytes(const fl_config *cfg)
{
    size_t want = (size_t)cfg->max_header_bytes * 2 + 64 * 1024;
    return want < 256 * 1024 ? 256 * 1024 : want;
}

/* The daemon's options: limits, callbacks, and TLS when configured. */
static struct MHD_Daemon *start_daemon(fl_gateway *gw, int fd)
{
    const fl_config *cfg = gw->deps.cfg;
    struct MHD_OptionItem opts[] = {
        {MHD_OPTION_LISTEN_SOCKET, fd, NULL},
        {MHD_OPTION_THREAD_POOL_SIZE, (intptr_t)cfg->threads, NULL},
        {MHD_OPTION_CONNECTION_LIMIT, (intptr_t)cfg->connection_limit, NULL},
        {MHD_OPTION_PER_IP_CONNECTION_LIMIT, (intptr_t)cfg->max_connections_per_client, NULL},
        {MHD_OPTION_CONNECTION_TIMEOUT, (intptr_t)cfg->connection_timeout_s, NULL},
        {MHD_OPTION_CONNECTION_MEMORY_LIMIT, (intptr_t)connection_memory_bytes(cfg), NULL},
        {MHD_OPTION_NOTIFY_COMPLETED, (intptr_t)on_completed, gw},
        {MHD_OPTION_NOTIFY_CONNECTION, (intptr_t)fl_deadlines_on_connection, gw->deadlines},
        {MHD_OPTION_URI_LOG_CALLBACK, (intptr_t)fl_deadlines_on_uri, gw->deadlines},
        {MHD_OPTION_EXTERNAL_LOGGER, (intptr_t)on_mhd_log, gw},
        /* with TLS (else these four are cut off by the END below) */
        {MHD_OPTION_HTTPS_MEM_CERT, 0, gw->tls.cert_pem},
        {MHD_OPTION_HTTPS_MEM_KEY, 0, gw->tls.key_pem},
        {MHD_OPTION_HTTPS_MEM_DHPARAMS, 0, gw->tls.dh_pem},
        {MHD_OPTION_HTTPS_PRIORITIES, 0, (void *)fl_gateway_tls_priorities},
        {MHD_OPTION_END, 0, NULL},
    };
    size_t n = sizeof opts / sizeof opts[0];
    if (!gw->tls.enabled)
        opts[n - 5] = opts[n - 1];
    unsigned flags = MHD_USE_EPOLL_INTERNAL_THREAD | MHD_USE_ITC | MHD_USE_ERROR_LOG |
                     MHD_ALLOW_SUSPEND_RESUME; /* /v1/events streams wait suspended */
    if (gw->tls.enabled)
        flags |= MHD_USE_TLS;
    return MHD_start_daemon(flags, 0, NULL, NULL, on_request, gw, MHD_OPTION_ARRAY, opts,
                            MHD_OPTION_END);
}

int fl_gateway_start(const fl_gateway_deps *deps, fl_gateway **out)
{
    int rc, fd = -1;
    char err[1024];
    fl_gateway *gw = fl_calloc(1, sizeof *gw);
    if (!gw)
        return FL_ENOMEM;
    gw->deps = *deps;
    fl_ingest_limits_from_config(deps->cfg, &gw->limits);
    if ((rc = fl_gateway_tls_load(deps->cfg, &gw->tls, err, sizeof err))) {
        FL_ERROR(MODULE, "%s", err);
        goto fail;
    }
    if (gw->tls.enabled && !MHD_is_feature_supported(MHD_FEATURE_TLS)) {
        FL_ERROR(MODULE, "tls.cert_file is set but this libmicrohttpd was built without TLS");
        rc = FL_EUNSUPPORTED;
        goto fail;
    }
    if ((rc = fl_gateway_metrics_register(gw)) || (rc = fl_gateway_auth_init(gw)))
        goto fail;
    if ((rc = fl_deadlines_create(deps->cfg, gw->tls.enabled, deps->metrics, &gw->deadlines))) {
        FL_ERROR(MODULE, "cannot start the slow-client sweeper: %s", fl_strerror(rc));
        goto fail;
    }
    if ((rc = fl_gateway_throttle_init(gw)) || (rc = fl_gateway_static_init(gw)))
        goto fail;
    if ((rc = bind_socket(deps->cfg->listen, &fd, &gw->port))) {
        FL_ERROR(MODULE, "cannot listen on %s: %s", deps->cfg->listen, fl_strerror(rc));
        goto fail;
    }
    gw->daemon = start_daemon(gw, fd);
    if (!gw->daemon) {
        rc = FL_EINVAL;
        FL_ERROR(MODULE, "libmicrohttpd failed to start on %s", deps->cfg->listen);
        close(fd);
        goto fail;
    }
    if ((rc = fl_gateway_events_start(gw))) {
        FL_ERROR(MODULE, "cannot start the event-stream notifier: %s", fl_strerror(rc));
        MHD_stop_daemon(gw->daemon);
        goto fail;
    }
    if (gw->tls.enabled)
        FL_INFO(MODULE, "HTTPS only (TLS 1.2/1.3, Mozilla intermediate ciphers), certificate %s",
                deps->cfg->tls_cert_file);
    else
        FL_INFO(MODULE, "plain HTTP: set tls.cert_file and tls.key_file to encrypt traffic");
    *out = gw;
    return 0;
fail:
    fl_deadlines_destroy(gw->deadlines);
    fl_gateway_tls_free(&gw->tls);
    fl_gateway_throttle_free(gw);
    fl_free(gw);
    return rc;
}

uint16_t fl_gateway_port(const fl_gateway *gw)
{
    return gw->port;
}

int fl_gateway_tls_enabled(const fl_gateway *gw)
{
    return gw->tls.enabled;
}

void fl_gateway_set_ready(fl_gateway *gw, int ready)
{
    atomic_store(&gw->ready, ready);
}

int fl_gateway_drain(fl_gateway *gw, int64_t timeout_us)
{
    atomic_store(&gw->draining, 1);
    atomic_store(&gw->ready, 0);
    int lfd = (int)MHD_quiesce_daemon(gw->daemon);
    if (lfd >= 0)
        close(lfd);
    int64_t deadline = fl_time_mono_us() + timeout_us;
    while (atomic_load(&gw->inflight) > 0) {
        if (fl_time_mono_us() > deadline)
            return FL_ETIMEOUT;
        usleep(5000);
    }
    return 0;
}

void fl_gateway_stop(fl_gateway *gw)
{
    if (!gw)
        return;
    fl_gateway_events_stop(gw); /* resumes every suspended stream before the daemon stops */
    if (gw->daemon)
        MHD_stop_daemon(gw->daemon);
    fl_deadlines_destroy(gw->deadlines); /* after the daemon: every connection is closed */
    fl_gateway_tls_free(&gw->tls);
    fl_gateway_throttle_free(gw);
    fl_free(gw);
}
