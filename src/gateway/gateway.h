/* gateway.h — the HTTP front door (the API Gateway role), on libmicrohttpd.
 *
 * The gateway owns the listening socket and a pool of worker threads. It routes requests
 * through one route table (routes.c), applies whole-request limits, hands record bodies to
 * ingest for decoding and the stream for a durable append, and answers with the Kinesis
 * PutRecords-like JSON of DESIGN.md §6. It never owns the stream or the metrics registry:
 * the caller (serve) creates them, passes them in, and destroys them after the gateway. */
#ifndef FL_GATEWAY_GATEWAY_H
#define FL_GATEWAY_GATEWAY_H

#include <stdint.h>
#include <stdio.h>

#include "audit/audit.h"
#include "core/core.h"
#include "monitor/monitor.h"
#include "notify/notify.h"
#include "process/process.h"
#include "security/security.h"
#include "stream/stream.h"

typedef struct fl_gateway fl_gateway;

typedef struct fl_gateway_deps {
    const fl_config *cfg;     /* borrowed for the gateway's life */
    fl_stream *stream;        /* accepted sensor records */
    fl_stream *dead_letters;  /* rejected records, one shard */
    fl_metrics *metrics;      /* the gateway registers its families here */
    fl_processor *processor;  /* device routes; may be NULL (they answer 503) */
    fl_audit_log *audit;      /* one entry per request; NULL when audit.enabled = off */
    fl_keystore *keystore;    /* API keys; NULL only with security.auth = off */
    fl_alert_engine *alerts;  /* alert routes; NULL: they answer 503 */
} fl_gateway_deps;

/* Bind cfg->listen (port 0 picks a free port) and start serving. Until
 * fl_gateway_set_ready(gw, 1), /readyz answers 503. *out is owned by the caller. */
FL_MUST_USE int fl_gateway_start(const fl_gateway_deps *deps, fl_gateway **out);
/* The bound TCP port. */
uint16_t fl_gateway_port(const fl_gateway *gw);
/* 1 when the gateway speaks HTTPS only (tls.cert_file and tls.key_file set). */
int fl_gateway_tls_enabled(const fl_gateway *gw);
void fl_gateway_set_ready(fl_gateway *gw, int ready);
/* Stop accepting connections; requests arriving on open connections get 503 shutting_down.
 * Then wait up to timeout_us for in-flight requests to finish. Returns 0 or FL_ETIMEOUT. */
FL_MUST_USE int fl_gateway_drain(fl_gateway *gw, int64_t timeout_us);
/* Write the route table joined with the access policy, one JSON object per line:
 * {"method":..,"route":..,"public":bool,"roles":[..] | null (no policy entry)}. */
void fl_gateway_write_policy(FILE *out);
/* Stop the threads and free everything. Accepts NULL. */
void fl_gateway_stop(fl_gateway *gw);

#endif
