/* gateway_int.h — private to src/gateway: the server object, per-request state, the route
 * table and response helpers. */
#ifndef FL_GATEWAY_GATEWAY_INT_H
#define FL_GATEWAY_GATEWAY_INT_H

#include <microhttpd.h>
#include <pthread.h>
#include <stdatomic.h>

#include "gateway/gateway.h"
#include "gateway/throttle.h"
#include "ingest/ingest.h"
#include "security/security.h"

struct fl_request;
typedef void (*fl_route_handler)(fl_gateway *gw, struct fl_request *req);

/* One row of the route table: method + exact path (or prefix when prefix is set). */
typedef struct fl_route {
    const char *method;
    const char *path;
    const char *name; /* metrics label */
    fl_route_handler handler;
    int has_body; /* POST bodies are collected before the handler runs */
    int prefix;   /* 1: path is a prefix; the rest (non-empty) is the handler's to parse */
} fl_route;

/* State of one request, from its first header callback to MHD's completion callback. */
typedef struct fl_request {
    struct MHD_Connection *conn;
    const fl_route *route; /* NULL when the route is unknown */
    const char *route_name;
    int64_t start_mono_us;
    const char *url; /* the request path (MHD's; valid during on_request callbacks) */
    fl_buf body;
    int body_too_large; /* body exceeded max_body_bytes while streaming in */
    int responded;      /* a response is queued */
    int status;         /* status sent, for metrics */
    int counted_inflight;
    char request_id[24];
    /* W3C trace context (server.c trace_begin): the caller's trace id from a valid
     * `traceparent` header or a new random one, our span id, and the header value we return.
     * The trace id (hex) is logged with the request's lines and audited. */
    uint8_t trace_id[FL_TRACE_ID_BYTES];
    uint8_t span_id[FL_SPAN_ID_BYTES];
    char trace_id_hex[2 * FL_TRACE_ID_BYTES + 1];
    char traceparent[FL_TRACEPARENT_LEN + 1];
    /* Who is calling (filled by authentication, src/gateway/auth.c): the API key's id and
     * role name, empty when auth is off or the route needs no key. Audited per request. */
    char key_id[32];
    char role[24];
    /* For the audit trail (audit.c): the path as requested (truncated to fit), body bytes
     * received and response body bytes queued. */
    char path[256];
    char method[16];
    uint64_t bytes_in;
    uint64_t bytes_out;
    fl_access access;     /* what the caller may see (full when auth is off) */
    int www_authenticate; /* a 401: add WWW-Authenticate: Bearer */
    int deferred_checks;  /* no body: check_headers runs in the second callback */
} fl_request;

struct gateway_metrics {
    fl_counter_family *requests; /* route, status */
    fl_counter_family *records;  /* outcome, code */
    fl_counter *bytes_in;
    fl_counter *dead_letter_failures;
    fl_histogram *ingest_latency;
    fl_counter_family *auth_failures; /* reason */
    fl_counter_family *queries;       /* POST /v1/query by outcome (query.c) */
    fl_histogram *query_duration;     /* POST /v1/query, first byte to last result byte */
};

/* tls.c — the certificate and key of tls.cert_file / tls.key_file, checked. */
typedef struct fl_gateway_tls {
    int enabled; /* both files set and valid */
    char *cert_pem, *key_pem;
    char *dh_pem; /* RFC 7919 ffdhe2048 (PKCS#3 PEM) for DHE-RSA */
} fl_gateway_tls;
/* The GnuTLS priority string: TLS 1.2/1.3, Mozilla "intermediate" (tls.c). */
extern const char fl_gateway_tls_priorities[];
/* Load and check both files when configured (enabled = 0 when neither is set). On error
 * returns FL_ECONFIG with a message naming the key, the file and the problem in err. */
FL_MUST_USE int fl_gateway_tls_load(const fl_config *cfg, fl_gateway_tls *tls, char *err,
                                    size_t errlen);
/* Free (and wipe the key). Accepts a zeroed or freed struct. */
void fl_gateway_tls_free(fl_gateway_tls *tls);

/* deadline.c — total deadlines for a request's headers and body (slow clients). */
typedef struct fl_deadlines fl_deadlines;
/* Start the sweeper. tls: connections are TLS (no raw 408 can be written). Registers
 * fleetlake_http_slow_clients_closed_total in m. *out is owned by the caller. */
FL_MUST_USE int fl_deadlines_create(const fl_config *cfg, int tls, fl_metrics *m,
                                    fl_deadlines **out);
/* Stop the sweeper and free. Call after MHD_stop_daemon (every connection closed). */
void fl_deadlines_destroy(fl_deadlines *d);
/* MHD_OPTION_NOTIFY_CONNECTION and MHD_OPTION_URI_LOG_CALLBACK callbacks (cls: the
 * fl_deadlines). */
void fl_deadlines_on_connection(void *cls, struct MHD_Connection *conn, void **socket_context,
                                enum MHD_ConnectionNotificationCode toe);
void *fl_deadlines_on_uri(void *cls, const char *uri, struct MHD_Connection *conn);
/* Length of the current request's target (path and query) as received. */
size_t fl_deadlines_uri_bytes(struct MHD_Connection *conn);
/* The headers are in: the body deadline starts (has_body) or no deadline applies.
 * responded: a response is already queued (no 408 may be written over it). */
void fl_deadlines_request_begin(fl_deadlines *d, struct MHD_Connection *conn, int has_body,
                                int responded);
/* The body is in (or there was none): no deadline until the response is sent. */
void fl_deadlines_body_done(fl_deadlines *d, struct MHD_Connection *conn);
/* The response is sent: keep-alive idle until the next request's first byte. */
void fl_deadlines_request_done(fl_deadlines *d, struct MHD_Connection *conn);

/* Throttling (throttle_http.c): token-bucket tables, NULL when that scope is off. */
struct gateway_throttle {
    fl_throttle *keys;            /* requests/s per API key id, or client address without one */
    fl_throttle *devices;         /* records/s per device_id */
    fl_counter *requests_key;     /* requests answered 429 by the key bucket */
    fl_counter *requests_device;  /* requests answered 429: every record throttled */
    fl_counter *records_device;   /* records refused with the per-record error throttled */
};

struct fl_gateway {
    fl_gateway_deps deps;
    struct MHD_Daemon *daemon;
    fl_gateway_tls tls;
    fl_deadlines *deadlines;
    uint16_t port;
    atomic_int ready;
    atomic_int draining;
    atomic_long inflight;    /* requests started and not completed */
    atomic_long ingest_busy; /* POST /v1/records being processed (bounded) */
    atomic_ulong next_request_id;
    atomic_long queries_running; /* POST /v1/query statements open (query.c) */
    atomic_long event_streams;   /* GET /v1/events streams open (alerts.c) */
    /* alerts.c: open event streams and the thread resuming suspended ones */
    pthread_mutex_t streams_lock;
    struct event_stream *streams;
    pthread_t events_thread;
    int events_thread_started;
    atomic_int events_stop;
    fl_ingest_limits limits;
    struct gateway_metrics m;
    struct gateway_throttle throttle;
    char web_dir[4096]; /* the dashboard's files (static.c), resolved; "" when not found */
};

/* routes.c */
const fl_route *fl_gateway_route_find(const char *method, const char *path, int *path_known);
/* The same; *known_name (if not NULL) receives the name of a route matching the path with
 * another method. */
const fl_route *fl_gateway_route_find_named(const char *method, const char *path,
                                            int *path_known, const char **known_name);
extern const fl_route fl_gateway_routes[];
extern const size_t fl_gateway_route_count;

/* respond.c — each queues exactly one response and records its status. */
void fl_respond_json(fl_request *req, int status, fl_buf *body_taken);
void fl_respond_json_retry(fl_request *req, int status, int retry_after_s, fl_buf *body_taken);
void fl_respond_text(fl_request *req, int status, const char *content_type, fl_buf *body_taken);
/* The same with extra response headers (name, value pairs; borrowed for the call). */
void fl_respond_with_headers(fl_request *req, int status, const char *content_type,
                             fl_buf *body_taken, const char *const (*headers)[2],
                             size_t header_count);
void fl_respond_error(fl_request *req, int status, const char *code, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
void fl_respond_error_retry(fl_request *req, int status, int retry_after_s, const char *code,
                            const char *message);
/* The headers every response carries: X-Request-Id and traceparent (for handlers that build
 * their own MHD response, such as streamed ones). */
void fl_respond_add_ids(fl_request *req, struct MHD_Response *resp);

/* handlers */
void fl_handle_records(fl_gateway *gw, fl_request *req);
void fl_handle_healthz(fl_gateway *gw, fl_request *req);
void fl_handle_readyz(fl_gateway *gw, fl_request *req);
void fl_handle_metrics(fl_gateway *gw, fl_request *req);
void fl_handle_stream(fl_gateway *gw, fl_request *req);
void fl_handle_devices(fl_gateway *gw, fl_request *req);
void fl_handle_device(fl_gateway *gw, fl_request *req); /* /v1/devices/{id}[/readings] */
void fl_handle_query(fl_gateway *gw, fl_request *req);  /* POST /v1/query (query.c) */
void fl_handle_tables(fl_gateway *gw, fl_request *req);
void fl_handle_table(fl_gateway *gw, fl_request *req); /* /v1/tables/{name}[/ddl] */

/* audit.c — append the completed request's audit entry (no-op without an audit log). */
void fl_gateway_audit_request(fl_gateway *gw, fl_request *req);
/* The administrative entry of a change made by req (a key created, a rule deleted...): type
 * "admin", the action ("keys.create"), what it changed and optional detail. The request's own
 * entry follows on completion. A failed append is logged. */
void fl_gateway_audit_admin(fl_gateway *gw, fl_request *req, const char *action,
                            const char *resource, const char *detail);
/* auth.c: fl_gateway_authorize runs once the route is known, before the body is read; it
 * fills req->key_id/role/access, or responds 401/403/503 and returns 1. */
FL_MUST_USE int fl_gateway_auth_init(fl_gateway *gw);
int fl_gateway_auth_enabled(const fl_gateway *gw);
int fl_gateway_authorize(fl_gateway *gw, fl_request *req, const char *method);
/* Check a key spec's fleets against the configuration (err names the problem). */
int fl_key_spec_check(const fl_config *cfg, const fl_key_info *spec, char *err, size_t errlen);
void fl_handle_keys_list(fl_gateway *gw, fl_request *req);
void fl_handle_keys_create(fl_gateway *gw, fl_request *req);
void fl_handle_keys_revoke(fl_gateway *gw, fl_request *req); /* /v1/keys/{id}/revoke */
void fl_handle_whoami(fl_gateway *gw, fl_request *req);
/* alerts.c */
/* Without an alert engine: answer 503 and return 1. */
int fl_gateway_alerts_unavailable(fl_gateway *gw, fl_request *req);
void fl_handle_alerts(fl_gateway *gw, fl_request *req);
void fl_handle_alert_action(fl_gateway *gw, fl_request *req); /* /v1/alerts/{id}/ack|resolve */
void fl_handle_events(fl_gateway *gw, fl_request *req);
/* rules.c: GET/POST /v1/rules, GET/PUT/DELETE /v1/rules/{name} */
void fl_handle_rules(fl_gateway *gw, fl_request *req);
void fl_handle_rule_create(fl_gateway *gw, fl_request *req);
void fl_handle_rule(fl_gateway *gw, fl_request *req);
/* The event streams' notifier thread (started when there is an alert engine). */
FL_MUST_USE int fl_gateway_events_start(fl_gateway *gw);
void fl_gateway_events_stop(fl_gateway *gw);
void fl_handle_config(fl_gateway *gw, fl_request *req);

/* throttle_http.c — create the tables from throttle.* and register the metrics (0 or an
 * error); free them (accepts a gateway whose init failed or never ran). */
FL_MUST_USE int fl_gateway_throttle_init(fl_gateway *gw);
void fl_gateway_throttle_free(fl_gateway *gw);
/* Called from the headers, after authentication: when the caller (API key, or client address
 * without one) is over throttle.key_rate, answers 429 throttled with Retry-After and returns
 * 1; otherwise 0. Exempt: /healthz, /readyz, /metrics. */
int fl_gateway_throttle_request(fl_gateway *gw, fl_request *req);

/* static.c — the dashboard's files: GET / and GET /ui/<path> from dashboard.dir. */
/* Find the directory (see static.c): 0 with out = "" when the search found none; FL_ECONFIG
 * with err naming the problem when configured is set and holds no index.html. out has
 * PATH_MAX bytes. */
FL_MUST_USE int fl_static_find_dir(const char *configured, char *out, char *err, size_t errlen);
/* 0 when rel (a path below the dashboard directory, no leading '/') is one the gateway may
 * serve: 1-255 bytes of [A-Za-z0-9._-/], no empty segment, no segment starting with '.', no
 * node_modules segment; FL_EINVAL otherwise. Pure. */
FL_MUST_USE int fl_static_path_check(const char *rel);
/* The Content-Type for a file name by its extension (application/octet-stream if unknown). */
const char *fl_static_content_type(const char *path);
FL_MUST_USE int fl_gateway_static_init(fl_gateway *gw);
void fl_handle_dashboard_index(fl_gateway *gw, fl_request *req); /* GET / */
void fl_handle_dashboard_file(fl_gateway *gw, fl_request *req);  /* GET /ui/<path> */

/* metrics registration for the gateway's own families (status.c) */
FL_MUST_USE int fl_gateway_metrics_register(fl_gateway *gw);

#endif
