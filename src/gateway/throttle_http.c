/* throttle_http.c — throttling in the request path: the per-caller request bucket checked
 * from the headers (before any body byte is read), the per-device record bucket used by
 * POST /v1/records, their configuration and their metrics. The buckets themselves are
 * throttle.c's; docs/security.md "Throttling" describes the behaviour for clients.
 *
 * Scopes. "key": requests/s per API key id (fl_request.key_id, set by authentication), or
 * per client IP address when the request carries no key (auth off). "device": records/s per
 * device_id, whoever sends them. Operational probes (/healthz, /readyz, /metrics) are never
 * throttled, so a client over its rate cannot make the server look unhealthy to its
 * orchestrator or blind its monitoring. */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>

#include "gateway/gateway_int.h"

#define MODULE "gateway"

/* "a:" + an IPv6 address in text (INET6_ADDRSTRLEN 46) fits, as does "k:" + a key id. */
#define CALLER_KEY_MAX 64

static int enabled(const fl_config *cfg)
{
    return strcmp(cfg->throttle_enabled, "on") == 0;
}

/* Scrape-time: buckets in use and evictions, per scope. */
static int collect_throttle(void *ctx, fl_buf *out)
{
    const struct gateway_throttle *th = ctx;
    struct {
        const char *scope;
        fl_throttle *t;
    } scopes[] = {{"key", th->keys}, {"device", th->devices}};
    fl_throttle_stats st[2] = {{0}};
    for (int i = 0; i < 2; i++)
        if (scopes[i].t)
            fl_throttle_stats_get(scopes[i].t, &st[i]);
    int rc = fl_metrics_write_header(out, "fleetlake_throttle_buckets", "gauge",
                                     "Token buckets in use, per scope (bounded by "
                                     "throttle.max_buckets).");
    char labels[96];
    for (int i = 0; !rc && i < 2; i++) {
        snprintf(labels, sizeof labels, "scope=\"%s\"", scopes[i].scope);
        rc = fl_metrics_write_sample(out, "fleetlake_throttle_buckets", labels,
                                     (double)st[i].buckets);
    }
    rc = rc ? rc
            : fl_metrics_write_header(out, "fleetlake_throttle_evictions_total", "counter",
                                      "Buckets dropped to stay within throttle.max_buckets: "
                                      "kind=\"full\" had refilled (no effect on limits), "
                                      "kind=\"active\" had not (that caller started afresh).");
    for (int i = 0; !rc && i < 2; i++) {
        snprintf(labels, sizeof labels, "scope=\"%s\",kind=\"full\"", scopes[i].scope);
        rc = fl_metrics_write_sample(out, "fleetlake_throttle_evictions_total", labels,
                                     (double)st[i].evicted_full);
        snprintf(labels, sizeof labels, "scope=\"%s\",kind=\"active\"", scopes[i].scope);
        rc = rc ? rc
                : fl_metrics_write_sample(out, "fleetlake_throttle_evictions_total", labels,
                                          (double)st[i].evicted_active);
    }
    return rc;
}

int fl_gateway_throttle_init(fl_gateway *gw)
{
    const fl_config *cfg = gw->deps.cfg;
    struct gateway_throttle *th = &gw->throttle;
    int rc = 0;
    if (enabled(cfg) && cfg->throttle_key_rate > 0)
        rc = fl_throttle_create(cfg->throttle_key_rate, cfg->throttle_key_burst,
                                cfg->throttle_max_buckets, &th->keys);
    if (!rc && enabled(cfg) && cfg->throttle_device_rate > 0)
        rc = fl_throttle_create(cfg->throttle_device_rate, cfg->throttle_device_burst,
                                cfg->throttle_max_buckets, &th->devices);
    if (rc) {
        FL_ERROR(MODULE, "cannot create the throttle tables: %s", fl_strerror(rc));
        return rc;
    }
    fl_metrics *m = gw->deps.metrics;
    fl_counter_family *req = fl_metrics_counter(
        m, "fleetlake_throttled_requests_total",
        "Requests answered 429 throttled: scope=\"key\" over throttle.key_rate (per API key, or "
        "client address without one); scope=\"device\" every record over throttle.device_rate.",
        "scope", NULL);
    fl_counter_family *rec = fl_metrics_counter(
        m, "fleetlake_throttled_records_total",
        "Records refused with the per-record error throttled (over throttle.device_rate).", "scope",
        NULL);
    if (!req || !rec)
        return FL_ENOMEM;
    th->requests_key = fl_counter_series(req, "key", NULL);
    th->requests_device = fl_counter_series(req, "device", NULL);
    th->records_device = fl_counter_series(rec, "device", NULL);
    if (!enabled(cfg))
        FL_WARN(MODULE, "throttling is off (throttle.enabled = off): one client can take the "
                        "whole server");
    return fl_metrics_add_collector(m, collect_throttle, th);
}

void fl_gateway_throttle_free(fl_gateway *gw)
{
    fl_throttle_destroy(gw->throttle.keys);
    fl_throttle_destroy(gw->throttle.devices);
    gw->throttle.keys = gw->throttle.devices = NULL;
}

static int route_exempt(const fl_route *r)
{
    return r->handler == fl_handle_healthz || r->handler == fl_handle_readyz ||
           r->handler == fl_handle_metrics;
}

/* The request bucket's key: "k:<key id>", or "a:<client address>" without a key. Returns
 * its length (0 when the address cannot be read: the request is then not throttled). */
static size_t caller_key(const fl_request *req, char *out, size_t cap)
{
    if (req->key_id[0])
        return (size_t)snprintf(out, cap, "k:%s", req->key_id);
    const union MHD_ConnectionInfo *ci =
        MHD_get_connection_info(req->conn, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
    if (!ci || !ci->client_addr)
        return 0;
    const struct sockaddr *sa = ci->client_addr;
    memcpy(out, "a:", 2);
    const void *addr = sa->sa_family == AF_INET6
                           ? (const void *)&((const struct sockaddr_in6 *)sa)->sin6_addr
                           : (const void *)&((const struct sockaddr_in *)sa)->sin_addr;
    if ((sa->sa_family != AF_INET && sa->sa_family != AF_INET6) ||
        !inet_ntop(sa->sa_family, addr, out + 2, (socklen_t)(cap - 2)))
        return 0;
    return strlen(out);
}

int fl_gateway_throttle_request(fl_gateway *gw, fl_request *req)
{
    fl_throttle *t = gw->throttle.keys;
    if (!t || !req->route || req->responded || route_exempt(req->route))
        return 0;
    char key[CALLER_KEY_MAX];
    size_t len = caller_key(req, key, sizeof key);
    int64_t wait_us = 0;
    if (len == 0 || len >= sizeof key ||
        fl_throttle_take(t, key, len, 1, fl_time_mono_us(), &wait_us))
        return 0;
    fl_counter_add(gw->throttle.requests_key, 1);
    char msg[256];
    snprintf(msg, sizeof msg,
             "%s %s is over throttle.key_rate (%lld requests/s, burst %lld); retry after the "
             "Retry-After seconds",
             req->key_id[0] ? "API key" : "client address", key + 2,
             (long long)gw->deps.cfg->throttle_key_rate,
             (long long)gw->deps.cfg->throttle_key_burst);
    fl_respond_error_retry(req, 429, fl_throttle_retry_after_s(wait_us), "throttled", msg);
    return 1;
}
