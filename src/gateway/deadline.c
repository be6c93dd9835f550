/* deadline.c — total deadlines for slow clients: a request's headers (with the TLS handshake)
 * must arrive within server.header_timeout_s, its body within server.body_timeout_s.
 *
 * libmicrohttpd only has an idle timeout, which every received byte resets: a client that
 * trickles one byte every few seconds (slowloris, or a slow POST body) holds a connection
 * and a parse buffer for as long as it likes. This module tracks every connection from
 * libmicrohttpd's connection notifications and a sweeper thread closes those past their
 * deadline.
 *
 * Design notes.
 *  - Each connection has a phase: HEADERS (from accept, or from the first byte of the next
 *    request on a keep-alive connection), BODY (from the end of the headers to the end of
 *    the body), BUSY (the handler and the response: only the idle timeout applies, a slow
 *    reader of a response is the idle timeout's business) and IDLE (keep-alive, between
 *    requests: only the idle timeout applies).
 *  - IDLE becomes HEADERS when the kernel has received more bytes on the socket than when the
 *    connection went idle (TCP_INFO tcpi_bytes_received, seen by the sweeper): no byte of the
 *    stream is read here, libmicrohttpd stays the only reader.
 *  - Cutting: for plain HTTP, when no response has been started on the connection, the
 *    sweeper first writes a complete 408 response with the JSON error body (libmicrohttpd
 *    writes nothing on a connection whose request is incomplete, so the bytes cannot
 *    interleave). It then shuts the socket down both ways; libmicrohttpd sees end-of-file,
 *    closes the connection and frees it as for any client that hangs up. Over TLS the 408
 *    cannot be sent from outside the TLS session: the connection is closed without it.
 *  - Invariant: a tracked connection's fd stays open while it is in the list, because
 *    libmicrohttpd notifies MHD_CONNECTION_NOTIFY_CLOSED (which unlinks it under the mutex)
 *    before it closes the socket. So the sweeper never shuts down a reused descriptor.
 *  - Phase changes come from the worker threads (two short critical sections per request);
 *    the sweeper walks the list every sweep interval under the same mutex. */
#include <errno.h>
#include <netinet/in.h>
#include <linux/tcp.h> /* struct tcp_info with tcpi_bytes_received (glibc's lacks it) */
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

#include "gateway/gateway_int.h"

#define MODULE "gateway"

enum conn_phase { PHASE_HEADERS, PHASE_BODY, PHASE_BUSY, PHASE_IDLE };

/* One tracked connection: libmicrohttpd's socket_context. */
typedef struct fl_conn {
    struct fl_conn *prev, *next;
    int fd;
    enum conn_phase phase;
    int64_t phase_start_us;       /* monotonic; when the current deadline started */
    uint64_t idle_bytes_received; /* tcpi_bytes_received when the connection went idle */
    int can_answer;               /* no response started: a raw 408 may be written */
    size_t uri_bytes;             /* the current request's target, from the URI callback */
} fl_conn;

struct fl_deadlines {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    pthread_t thread;
    int thread_started;
    int stop;
    fl_conn *head;
    int64_t header_timeout_us, body_timeout_us, sweep_us;
    int tls;
    fl_counter *closed_headers, *closed_body;
    char answer_headers[512], answer_body[512]; /* the raw 408 responses */
};

/* The sweep interval: a tenth of the shorter deadline, so a deadline is enforced within
 * 10% late, but at least 100 ms (the sweep walks every connection) and at most 1 s. */
static int64_t sweep_interval_us(int64_t shorter_us)
{
    int64_t us = shorter_us / 10;
    return us < 100000 ? 100000 : us > 1000000 ? 1000000 : us;
}

static void format_408(char *out, size_t cap, const char *what, const char *key, int64_t secs)
{
    char body[256];
    int n = snprintf(body, sizeof body,
                     "{\"error\":{\"code\":\"request_timeout\",\"message\":\"%s not received in "
                     "full within %s (%lld s)\"}}\n",
                     what, key, (long long)secs);
    snprintf(out, cap,
             "HTTP/1.1 408 Request Timeout\r\nContent-Type: application/json\r\n"
             "Content-Length: %d\r\nConnection: close\r\n\r\n%s",
             n, body);
}

static uint64_t bytes_received(int fd)
{
    struct tcp_info ti;
    socklen_t len = sizeof ti;
    memset(&ti, 0, sizeof ti);
    if (getsockopt(fd, IPPROTO_TCP, TCP_INFO, &ti, &len) != 0)
        return 0;
    return ti.tcpi_bytes_received;
}

/* Close c: the 408 first when it can be sent, then shut the socket down. Called with d->mu
 * held, which keeps c->fd open (see the invariant above). */
static void cut(fl_deadlines *d, fl_conn *c)
{
    const char *answer = c->phase == PHASE_HEADERS ? d->answer_headers : d->answer_body;
    if (!d->tls && c->can_answer) /* best effort: a full socket buffer just loses the 408 */
        (void)!send(c->fd, answer, strlen(answer), MSG_NOSIGNAL | MSG_DONTWAIT);
    shutdown(c->fd, SHUT_RDWR);
    fl_counter_add(c->phase == PHASE_HEADERS ? d->closed_headers : d->closed_body, 1);
    c->phase = PHASE_BUSY; /* cut once; libmicrohttpd closes it on its next wake-up */
}

/* One pass over every connection. Returns how many were cut. */
static int sweep(fl_deadlines *d, int64_t now)
{
    int cut_count = 0;
    for (fl_conn *c = d->head; c; c = c->next) {
        if (c->phase == PHASE_IDLE) {
            if (bytes_received(c->fd) != c->idle_bytes_received) {
                c->phase = PHASE_HEADERS; /* the next request has begun */
                c->phase_start_us = now;
                c->can_answer = 1;
            }
            continue;
        }
        int64_t limit = c->phase == PHASE_HEADERS ? d->header_timeout_us
                        : c->phase == PHASE_BODY  ? d->body_timeout_us
                                                  : 0;
        if (limit && now - c->phase_start_us > limit) {
            cut(d, c);
            cut_count++;
        }
    }
    return cut_count;
}

static void *sweeper_main(void *arg)
{
    fl_deadlines *d = arg;
    pthread_mutex_lock(&d->mu);
    while (!d->stop) {
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        int64_t wake = (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000 + d->sweep_us;
        ts.tv_sec = wake / 1000000;
        ts.tv_nsec = (long)(wake % 1000000) * 1000;
        pthread_cond_timedwait(&d->cv, &d->mu, &ts);
        if (d->stop)
            break;
        int n = sweep(d, fl_time_mono_us());
        if (n)
            FL_INFO(MODULE, "closed %d slow connection(s) past server.header_timeout_s or "
                            "server.body_timeout_s", n);
    }
    pthread_mutex_unlock(&d->mu);
    return NULL;
}

int fl_deadlines_create(const fl_config *cfg, int tls, fl_metrics *m, fl_deadlines **out)
{
    fl_deadlines *d = fl_calloc(1, sizeof *d);
    if (!d)
        return FL_ENOMEM;
    d->header_timeout_us = cfg->header_timeout_s * FL_US_PER_SEC;
    d->body_timeout_us = cfg->body_timeout_s * FL_US_PER_SEC;
    d->sweep_us = sweep_interval_us(d->header_timeout_us < d->body_timeout_us
                                        ? d->header_timeout_us
                                        : d->body_timeout_us);
    d->tls = tls;
    format_408(d->answer_headers, sizeof d->answer_headers, "request headers",
               "server.header_timeout_s", cfg->header_timeout_s);
    format_408(d->answer_body, sizeof d->answer_body, "request body", "server.body_timeout_s",
               cfg->body_timeout_s);
    fl_counter_family *f = fl_metrics_counter(
        m, "fleetlake_http_slow_clients_closed_total",
        "Connections closed because a request's headers or body missed its deadline "
        "(server.header_timeout_s, server.body_timeout_s).",
        "phase", NULL);
    if (!f) {
        fl_free(d);
        return FL_ENOMEM;
    }
    d->closed_headers = fl_counter_series(f, "headers", NULL);
    d->closed_body = fl_counter_series(f, "body", NULL);
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&d->cv, &ca);
    pthread_condattr_destroy(&ca);
    pthread_mutex_init(&d->mu, NULL);
    int rc = pthread_create(&d->thread, NULL, sweeper_main, d);
    if (rc) {
        fl_deadlines_destroy(d);
        return -rc;
    }
    d->thread_started = 1;
    *out = d;
    return 0;
}

void fl_deadlines_destroy(fl_deadlines *d)
{
    if (!d)
        return;
    if (d->thread_started) {
        pthread_mutex_lock(&d->mu);
        d->stop = 1;
        pthread_cond_signal(&d->cv);
        pthread_mutex_unlock(&d->mu);
        pthread_join(d->thread, NULL);
    }
    pthread_cond_destroy(&d->cv);
    pthread_mutex_destroy(&d->mu);
    fl_free(d);
}

void fl_deadlines_on_connection(void *cls, struct MHD_Connection *conn, void **socket_context,
                                enum MHD_ConnectionNotificationCode toe)
{
    fl_deadlines *d = cls;
    if (toe == MHD_CONNECTION_NOTIFY_STARTED) {
        const union MHD_ConnectionInfo *ci =
            MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CONNECTION_FD);
        fl_conn *c = ci ? fl_calloc(1, sizeof *c) : NULL;
        *socket_context = c;
        if (!c) /* out of memory: the connection is served without deadlines */
            return;
        c->fd = ci->connect_fd;
        c->phase = PHASE_HEADERS;
        c->phase_start_us = fl_time_mono_us();
        c->can_answer = 1;
        pthread_mutex_lock(&d->mu);
        c->next = d->head;
        if (d->head)
            d->head->prev = c;
        d->head = c;
        pthread_mutex_unlock(&d->mu);
        return;
    }
    fl_conn *c = *socket_context;
    if (!c)
        return;
    pthread_mutex_lock(&d->mu);
    if (c->prev)
        c->prev->next = c->next;
    else
        d->head = c->next;
    if (c->next)
        c->next->prev = c->prev;
    pthread_mutex_unlock(&d->mu);
    fl_free(c);
    *socket_context = NULL;
}

static fl_conn *conn_of(struct MHD_Connection *conn)
{
    const union MHD_ConnectionInfo *ci =
        MHD_get_connection_info(conn, MHD_CONNECTION_INFO_SOCKET_CONTEXT);
    return ci ? ci->socket_context : NULL;
}

void *fl_deadlines_on_uri(void *cls, const char *uri, struct MHD_Connection *conn)
{
    (void)cls;
    fl_conn *c = conn_of(conn);
    if (c) /* only the connection's own worker thread reads or writes uri_bytes */
        c->uri_bytes = strlen(uri);
    return NULL; /* the request's context starts empty (on_request creates it) */
}

size_t fl_deadlines_uri_bytes(struct MHD_Connection *conn)
{
    fl_conn *c = conn_of(conn);
    return c ? c->uri_bytes : 0;
}

static void set_phase(fl_deadlines *d, struct MHD_Connection *conn, enum conn_phase phase,
                      int can_answer)
{
    fl_conn *c = conn_of(conn);
    if (!c)
        return;
    pthread_mutex_lock(&d->mu);
    if (c->phase != phase) {
        c->phase = phase;
        c->phase_start_us = fl_time_mono_us();
        if (phase == PHASE_IDLE)
            c->idle_bytes_received = bytes_received(c->fd);
    }
    c->can_answer = can_answer;
    pthread_mutex_unlock(&d->mu);
}

void fl_deadlines_request_begin(fl_deadlines *d, struct MHD_Connection *conn, int has_body,
                                int responded)
{
    set_phase(d, conn, has_body ? PHASE_BODY : PHASE_BUSY, !responded);
}

void fl_deadlines_body_done(fl_deadlines *d, struct MHD_Connection *conn)
{
    set_phase(d, conn, PHASE_BUSY, 0);
}

void fl_deadlines_request_done(fl_deadlines *d, struct MHD_Connection *conn)
{
    set_phase(d, conn, PHASE_IDLE, 0);
}
