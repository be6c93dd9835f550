/* serve.c — `fleetlake serve`: load the configuration, recover the stream, start raw delivery
 * into the lake, compaction, the HTTP gateway and the periodic maintenance, and on
 * SIGTERM/SIGINT drain in-flight requests, flush delivery, fsync and exit 0. This is where the
 * process's long-lived objects are created and destroyed, in dependency order. */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <unistd.h>

#include "audit/audit.h"
#include "cli/cli.h"
#include "gateway/gateway.h"
#include "jobs/jobs.h"
#include "lake/lake.h"
#include "monitor/monitor.h"
#include "notify/notify.h"
#include "process/process.h"
#include "security/security.h"
#include "sim/sim.h"
#include "stream/stream.h"

#define MODULE "serve"

/* How often retention and segment sealing by age run: a second is far below any age limit
 * (the smallest, segment_age_s, is 1 s) and costs nothing when there is nothing to do. */
#define MAINTENANCE_INTERVAL_US (1000 * 1000)

struct server {
    fl_config cfg;
    int demo_mode;
    int lock_fd;
    sqlite3 *meta;
    fl_stream *stream;
    fl_stream *dead_letters;
    fl_metrics *metrics;
    fl_audit_log *audit; /* NULL when audit.enabled = off */
    fl_objstore *lake;
    fl_delivery *delivery;
    fl_processor *processor;
    fl_compaction *compaction;
    fl_lifecycle_runner *lifecycle;
    fl_summary_job *summary;
    fl_gateway *gateway;
    fl_keystore *keystore;
    fl_alert_engine *alerts;
    fl_notify_dispatcher *notify; /* delivers the alert outbox (src/notify/dispatch.c) */
    pthread_t maintenance;
    int maintenance_started;
    pthread_t demo;
    int demo_started;
    volatile int demo_stop;
    fl_sim_options demo_opts;
    pthread_mutex_t stop_lock;
    pthread_cond_t stop_cond;
    int stopping;
};

static void usage(FILE *out)
{
    fprintf(out,
            "usage: fleetlake serve [options]\n"
            "Run the fleetlake server: HTTP ingest, the durable stream and its consumers.\n\n"
            "  --config FILE          INI configuration (see fleetlake.conf.example)\n"
            "  --data DIR             data directory (server.data_dir; default ./fleetlake-data)\n"
            "  --listen HOST:PORT     listen address (server.listen; default 127.0.0.1:8080)\n"
            "  --shards N             stream shards, 1-256 (stream.shards; default 2)\n"
            "  --set SECTION.KEY=VAL  override any configuration key (repeatable)\n"
            "  --demo                 also run the fleet simulator against this server\n"
            "  --print-config         print the effective configuration and exit\n"
            "  --print-sample-config  print the documented sample configuration and exit\n"
            "  --print-policy         print every route with the roles that may call it\n"
            "  -h, --help             this help\n");
}

/* Parse flags into cfg: defaults, then --config, then flags and --set in command-line order.
 * Returns -1 to continue, or an exit code. */
static int parse_args(struct server *srv, int argc, char **argv)
{
    static const struct option opts[] = {
        {"config", required_argument, 0, 'c'}, {"data", required_argument, 0, 'd'},
        {"listen", required_argument, 0, 'l'}, {"shards", required_argument, 0, 's'},
        {"set", required_argument, 0, 'S'},    {"demo", no_argument, 0, 'D'},
        {"print-config", no_argument, 0, 'P'}, {"print-sample-config", no_argument, 0, 'E'},
        {"print-policy", no_argument, 0, 'R'}, {"help", no_argument, 0, 'h'},
        {0, 0, 0, 0}};
    char err[512];
    const char *config_file = NULL;
    int print_config = 0, c;
    fl_config_defaults(&srv->cfg);
    optind = 1;
    /* First pass: only --config, so the file is applied before any other flag. */
    while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        if (c == 'c')
            config_file = optarg;
        else if (c == 'h') {
            usage(stdout);
            return 0;
        } else if (c == 'E') {
            fl_config_write_sample(stdout);
            return 0;
        } else if (c == 'R') {
            fl_gateway_write_policy(stdout);
            return 0;
        } else if (c == '?') {
            usage(stderr);
            return 2;
        }
    }
    if (optind < argc) {
        fprintf(stderr, "fleetlake serve: unexpected argument '%s'\n", argv[optind]);
        return 2;
    }
    if (config_file && fl_config_load_file(&srv->cfg, config_file, err, sizeof err)) {
        fprintf(stderr, "fleetlake serve: %s\n", err);
        return 2;
    }
    optind = 1;
    while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        int rc = 0;
        switch (c) {
        case 'd': rc = fl_config_set_value(&srv->cfg, "server.data_dir", optarg, err, sizeof err); break;
        case 'l': rc = fl_config_set_value(&srv->cfg, "server.listen", optarg, err, sizeof err); break;
        case 's': rc = fl_config_set_value(&srv->cfg, "stream.shards", optarg, err, sizeof err); break;
        case 'S': rc = fl_config_set(&srv->cfg, optarg, err, sizeof err); break;
        case 'D': srv->demo_mode = 1; break;
        case 'P': print_config = 1; break;
        default: break;
        }
        if (rc) {
            fprintf(stderr, "fleetlake serve: %s\n", err);
            return 2;
        }
    }
    if (print_config) {
        fl_config_dump(&srv->cfg, stdout);
        return 0;
    }
    return -1;
}

static void log_config(const fl_config *cfg)
{
    char *text = NULL;
    size_t len = 0;
    FILE *mem = open_memstream(&text, &len);
    if (!mem)
        return;
    fl_config_dump(cfg, mem);
    fclose(mem);
    for (char *save = NULL, *line = strtok_r(text, "\n", &save); line;
         line = strtok_r(NULL, "\n", &save))
        FL_INFO(MODULE, "config %s", line);
    free(text);
}

/* One server per data directory: a second `serve` on it would interleave segment writes. */
static int lock_data_dir(struct server *srv)
{
    char path[4200];
    int rc = fl_cli_path(path, sizeof path, srv->cfg.data_dir, "LOCK");
    if (rc)
        return rc;
    srv->lock_fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (srv->lock_fd < 0)
        return -errno;
    if (flock(srv->lock_fd, LOCK_EX | LOCK_NB)) {
        FL_ERROR(MODULE, "%s is in use by another fleetlake serve", srv->cfg.data_dir);
        return FL_EEXISTS;
    }
    return 0;
}

static int open_meta(struct server *srv)
{
    char path[4200];
    int rc = fl_cli_path(path, sizeof path, srv->cfg.data_dir, "meta.db");
    if (rc)
        return rc;
    if (sqlite3_open_v2(path, &srv->meta, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, NULL) !=
        SQLITE_OK) {
        FL_ERROR(MODULE, "cannot open %s: %s", path, sqlite3_errmsg(srv->meta));
        return FL_ESQLITE;
    }
    sqlite3_busy_timeout(srv->meta, 5000);
    if (sqlite3_exec(srv->meta, "PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL;", NULL, NULL,
                     NULL) != SQLITE_OK) {
        FL_ERROR(MODULE, "%s: %s", path, sqlite3_errmsg(srv->meta));
        return FL_ESQLITE;
    }
    rc = fl_stream_checkpoint_init(srv->meta);
    return rc ? rc : fl_notify_outbox_init(srv->meta);
}

/* Copy the table registry into meta.db (catalog_tables, catalog_columns) for tools that read
 * only meta.db; the in-code registry is the source of truth, so a failure is logged, not
 * fatal. */
static void publish_catalog(struct server *srv)
{
    char path[4200];
    fl_catalog *c = NULL;
    int rc = fl_cli_path(path, sizeof path, srv->cfg.data_dir, "meta.db");
    rc = rc ? rc : fl_catalog_open(path, &c);
    rc = rc ? rc : fl_catalog_registry_sync(c);
    fl_catalog_close(c);
    if (rc)
        FL_WARN(MODULE, "cannot copy the table registry into meta.db: %s", fl_strerror(rc));
}

static int open_stream(const fl_config *cfg, const char *rel, uint32_t shards,
                       int64_t retention_age_s, int64_t retention_bytes, fl_stream **out)
{
    char dir[4200];
    fl_stream_options opts;
    fl_stream_recovery_report report = {0};
    int rc = fl_cli_path(dir, sizeof dir, cfg->data_dir, rel);
    if (rc)
        return rc;
    fl_stream_options_from_config(cfg, &opts);
    opts.dir = dir;
    opts.shard_count = shards;
    opts.retention_age_us = retention_age_s * FL_US_PER_SEC;
    opts.retention_bytes = retention_bytes;
    int64_t t0 = fl_time_mono_us();
    rc = fl_stream_open(&opts, out, &report);
    if (rc) {
        FL_ERROR(MODULE, "cannot open %s: %s", dir, fl_strerror(rc));
        return rc;
    }
    FL_INFO(MODULE, "recovered %s in %.1f ms: %u shards, truncated %llu torn bytes, "
                    "quarantined %u segments (%llu bytes)",
            dir, (double)(fl_time_mono_us() - t0) / 1000.0, shards,
            (unsigned long long)report.truncated_bytes, report.quarantined_segments,
            (unsigned long long)report.quarantined_bytes);
    if (report.quarantined_segments)
        FL_ERROR(MODULE, "corruption in %s quarantined (never served): %s", dir,
                 report.first_problem);
    return 0;
}

static void *maintenance_main(void *arg)
{
    struct server *srv = arg;
    pthread_mutex_lock(&srv->stop_lock);
    while (!srv->stopping) {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        ts.tv_sec += MAINTENANCE_INTERVAL_US / 1000000;
        pthread_cond_timedwait(&srv->stop_cond, &srv->stop_lock, &ts);
        if (srv->stopping)
            break;
        pthread_mutex_unlock(&srv->stop_lock);
        int64_t now = fl_time_now_us();
        int rc = fl_stream_maintain(srv->stream, now);
        if (rc)
            FL_ERROR(MODULE, "stream maintenance: %s", fl_strerror(rc));
        rc = fl_stream_maintain(srv->dead_letters, now);
        if (rc)
            FL_ERROR(MODULE, "dead-letter maintenance: %s", fl_strerror(rc));
        pthread_mutex_lock(&srv->stop_lock);
    }
    pthread_mutex_unlock(&srv->stop_lock);
    return NULL;
}

/* The API key store (meta.db) and the security settings' consistency. */
static int open_security(struct server *srv)
{
    for (int64_t i = 0; i < srv->cfg.role_count; i++) {
        fl_role r;
        if (fl_role_parse(srv->cfg.roles[i].name, &r)) {
            FL_ERROR(MODULE, "[role.%s]: no such role (device, developer, data_engineer, "
                             "data_analyst, operator, admin)",
                     srv->cfg.roles[i].name);
            return FL_ECONFIG;
        }
    }
    char path[4200];
    int rc = fl_cli_path(path, sizeof path, srv->cfg.data_dir, "meta.db");
    if (!rc && (rc = fl_keystore_open(path, srv->cfg.security_max_keys, &srv->keystore)))
        FL_ERROR(MODULE, "cannot open the API key store in %s: %s", path, fl_strerror(rc));
    if (rc)
        return rc;
    if (strcmp(srv->cfg.security_auth, "on") != 0)
        FL_WARN(MODULE, "*** security.auth = off: NO AUTHENTICATION - anyone who can reach %s "
                        "can read and write everything. For demos and local tests only. ***",
                srv->cfg.listen);
    return 0;
}

/* serve --demo with authentication on: fresh keys for the simulator (device) and for the
 * person trying fleetlake (data_engineer, printed), revoking the previous run's demo keys. */
static int demo_keys(struct server *srv, char *sim_token, char *user_token)
{
    static const char sim_name[] = "demo simulator (serve --demo)";
    static const char user_name[] = "demo user (serve --demo)";
    fl_key_info *keys = NULL;
    size_t n = 0;
    int rc = fl_keystore_list(srv->keystore, &keys, &n);
    for (size_t i = 0; !rc && i < n; i++)
        if (keys[i].revoked_at < 0 &&
            (strcmp(keys[i].name, sim_name) == 0 || strcmp(keys[i].name, user_name) == 0))
            rc = fl_keystore_revoke(srv->keystore, keys[i].id);
    fl_free(keys);
    fl_key_info spec = {.role = FL_ROLE_DEVICE, .max_class = FL_CLASS_PUBLIC, .expires_at = -1};
    snprintf(spec.name, sizeof spec.name, "%s", sim_name);
    rc = rc ? rc : fl_keystore_create(srv->keystore, &spec, sim_token, NULL);
    spec.role = FL_ROLE_DATA_ENGINEER;
    spec.max_class = FL_CLASS_CONFIDENTIAL;
    snprintf(spec.name, sizeof spec.name, "%s", user_name);
    rc = rc ? rc : fl_keystore_create(srv->keystore, &spec, user_token, NULL);
    if (rc)
        FL_ERROR(MODULE, "demo: cannot create demo API keys: %s", fl_strerror(rc));
    return rc;
}

/* `serve --demo`: the fleet simulator posting to this server over HTTP like real devices. */
static void *demo_main(void *arg)
{
    struct server *srv = arg;
    fl_sim_summary summary;
    int rc = fl_sim_run(&srv->demo_opts, &summary, &srv->demo_stop);
    if (rc && !srv->demo_stop)
        FL_ERROR(MODULE, "demo simulator stopped: %s", fl_strerror(rc));
    return NULL;
}

static int start_demo(struct server *srv)
{
    fl_sim_options *o = &srv->demo_opts;
    fl_sim_options_defaults(o);
    o->devices = srv->cfg.demo_devices;
    o->rate = (double)srv->cfg.demo_rate;
    o->bad_rate = 0.002; /* a few rejected records, so the dead-letter log has something */
    o->duration_us = INT64_C(100) * 365 * 86400 * FL_US_PER_SEC; /* until the server stops */
    o->quiet = 1;
    int tls = fl_gateway_tls_enabled(srv->gateway);
    snprintf(o->url, sizeof o->url, "%s://127.0.0.1:%u", tls ? "https" : "http",
             fl_gateway_port(srv->gateway));
    if (tls) { /* trust exactly the server's own certificate (pinned; see sim.h) */
        snprintf(o->cacert, sizeof o->cacert, "%s", srv->cfg.tls_cert_file);
        o->tls_pinned_cert = 1;
    }
    int rc;
    if (strcmp(srv->cfg.security_auth, "on") == 0) {
        char sim_token[FL_KEY_TOKEN_MAX], user_token[FL_KEY_TOKEN_MAX];
        if ((rc = demo_keys(srv, sim_token, user_token)))
            return rc;
        snprintf(o->headers[o->header_count++], sizeof o->headers[0],
                 "Authorization: Bearer %s", sim_token);
        FL_INFO(MODULE, "demo: API key for you (role data_engineer): %s", user_token);
        fprintf(stdout, "demo API key (data_engineer): %s\n", user_token);
    }
    /* The first-run message (`make run`): where to look, with which key. */
    char host[256];
    snprintf(host, sizeof host, "%s", srv->cfg.listen);
    char *colon = strrchr(host, ':');
    if (colon)
        *colon = 0;
    int any = !host[0] || strcmp(host, "0.0.0.0") == 0 || strcmp(host, "[::]") == 0;
    fprintf(stdout, "dashboard: %s://%s:%u/%s\n", tls ? "https" : "http", any ? "127.0.0.1" : host,
            fl_gateway_port(srv->gateway),
            strcmp(srv->cfg.security_auth, "on") == 0 ? "  (sign in with the demo API key above)"
                                                       : "");
    fflush(stdout);
    rc = pthread_create(&srv->demo, NULL, demo_main, srv);
    if (rc)
        return -rc;
    srv->demo_started = 1;
    FL_INFO(MODULE, "demo: %lld simulated trucks around Seoul sending %lld records/s",
            (long long)o->devices, (long long)srv->cfg.demo_rate);
    return 0;
}

/* Raw delivery: stream and dead letters into <data>/lake, catalogued in meta.db. Each consumer
 * opens its own meta.db connection (transactions are per connection). */
static int start_delivery(struct server *srv)
{
    char lake[4200], meta[4200];
    int rc = fl_cli_path(lake, sizeof lake, srv->cfg.data_dir, "lake");
    if (!rc)
        rc = fl_cli_path(meta, sizeof meta, srv->cfg.data_dir, "meta.db");
    if (!rc && (rc = fl_objstore_local_create(lake, &srv->lake)))
        FL_ERROR(MODULE, "cannot open the lake %s: %s", lake, fl_strerror(rc));
    if (rc)
        return rc;
    fl_delivery_deps deps = {&srv->cfg, srv->stream, srv->dead_letters, srv->lake, meta,
                             srv->metrics};
    if ((rc = fl_delivery_start(&deps, &srv->delivery)))
        FL_ERROR(MODULE, "cannot start raw delivery: %s", fl_strerror(rc));
    return rc;
}

/* The notification dispatcher: one worker per [channel.NAME] delivering the outbox in
 * meta.db (created in open_meta). Before the alert engine, which wakes it after each commit. */
static int start_notify(struct server *srv)
{
    char meta[4200];
    int rc = fl_cli_path(meta, sizeof meta, srv->cfg.data_dir, "meta.db");
    if (rc)
        return rc;
    fl_notify_dispatcher_deps deps = {&srv->cfg, meta, srv->metrics};
    return fl_notify_dispatcher_start(&deps, &srv->notify);
}

static void kick_notify(void *dispatcher)
{
    fl_notify_dispatcher_kick(dispatcher);
}

/* The alert engine (src/notify): before the processor, which feeds it every reading, and
 * stopped after it. */
static int start_alerts(struct server *srv)
{
    char meta[4200], err[512] = "";
    int rc = fl_cli_path(meta, sizeof meta, srv->cfg.data_dir, "meta.db");
    if (rc)
        return rc;
    fl_alert_engine_deps deps = {.cfg = &srv->cfg, .meta_path = meta,
                                 .data_dir = srv->cfg.data_dir, .metrics = srv->metrics,
                                 .enqueue = fl_notify_enqueue, .kick = kick_notify,
                                 .kick_ctx = srv->notify};
    if ((rc = fl_alert_engine_start(&deps, &srv->alerts, err, sizeof err)))
        FL_ERROR(MODULE, "cannot start the alert engine: %s%s%s", fl_strerror(rc),
                 err[0] ? ": " : "", err);
    return rc;
}

/* The real-time processor: stream into processed-data and device state (after raw delivery,
 * which created the lake's object store). */
static int start_processor(struct server *srv)
{
    char meta[4200];
    int rc = fl_cli_path(meta, sizeof meta, srv->cfg.data_dir, "meta.db");
    if (rc)
        return rc;
    fl_processor_deps deps = {&srv->cfg, srv->stream, srv->lake, meta, srv->metrics,
                              srv->alerts ? fl_alert_engine_observe : NULL, srv->alerts};
    if ((rc = fl_processor_start(&deps, &srv->processor)))
        FL_ERROR(MODULE, "cannot start the processor: %s", fl_strerror(rc));
    return rc;
}

/* Compaction of closed hours (compact_run.c), serialised with `fleetlake compact` through
 * <data>/compact.lock. */
static int start_compaction(struct server *srv)
{
    if (strcmp(srv->cfg.compaction_enabled, "on") != 0) {
        FL_INFO(MODULE, "compaction disabled (compaction.enabled = off)");
        return 0;
    }
    char meta[4200], lock[4200];
    int rc = fl_cli_path(meta, sizeof meta, srv->cfg.data_dir, "meta.db");
    if (!rc)
        rc = fl_cli_path(lock, sizeof lock, srv->cfg.data_dir, "compact.lock");
    if (rc)
        return rc;
    fl_compaction_deps deps = {&srv->cfg, srv->lake, meta, lock, srv->metrics};
    if ((rc = fl_compaction_start(&deps, &srv->compaction)))
        FL_ERROR(MODULE, "cannot start compaction: %s", fl_strerror(rc));
    return rc;
}

/* The lifecycle (lifecycle_run.c): tiers by partition age, a pass a day, serialised with
 * compaction and `fleetlake compact|lifecycle|erase` through <data>/compact.lock. */
static int start_lifecycle(struct server *srv)
{
    if (strcmp(srv->cfg.lifecycle_enabled, "on") != 0) {
        FL_INFO(MODULE, "lifecycle disabled (lifecycle.enabled = off)");
        return 0;
    }
    fl_lifecycle_deps deps = {&srv->cfg, srv->lake, srv->cfg.data_dir};
    int rc = fl_lifecycle_runner_start(&deps, &srv->lifecycle);
    if (rc)
        FL_ERROR(MODULE, "cannot start the lifecycle: %s", fl_strerror(rc));
    return rc;
}

/* The hourly_summary job (src/jobs), serialised with `fleetlake summarize` through
 * <data>/summary.lock. */
static int start_summary(struct server *srv)
{
    if (strcmp(srv->cfg.summary_enabled, "on") != 0) {
        FL_INFO(MODULE, "hourly_summary disabled (summary.enabled = off)");
        return 0;
    }
    char meta[4200], lock[4200];
    int rc = fl_cli_path(meta, sizeof meta, srv->cfg.data_dir, "meta.db");
    if (!rc)
        rc = fl_cli_path(lock, sizeof lock, srv->cfg.data_dir, "summary.lock");
    if (rc)
        return rc;
    fl_summary_job_deps deps = {&srv->cfg, srv->lake, meta, lock, srv->metrics,
                                srv->alerts ? fl_alert_engine_observe_quality : NULL,
                                srv->alerts};
    if ((rc = fl_summary_job_start(&deps, &srv->summary)))
        FL_ERROR(MODULE, "cannot start the summary job: %s", fl_strerror(rc));
    return rc;
}

/* The audit trail (src/audit): every API call through the gateway, plus this process's start
 * and stop as admin entries. */
static int open_audit(struct server *srv)
{
    if (!fl_audit_enabled(&srv->cfg)) {
        FL_WARN(MODULE, "audit trail disabled (audit.enabled = off): API calls are not recorded");
        return 0;
    }
    fl_audit_options o;
    int rc = fl_audit_options_from_config(&srv->cfg, srv->cfg.data_dir, &o);
    rc = rc ? rc : fl_audit_open(&o, &srv->audit);
    rc = rc ? rc : fl_audit_metrics_register(srv->audit, srv->metrics);
    if (rc)
        return rc;
    fl_audit_event ev = {.type = "admin", .role = "local", .action = "serve.start",
                         .resource = srv->cfg.data_dir, .result = "ok", .client = "fleetlake",
                         .detail = srv->cfg.listen};
    return fl_audit_append(srv->audit, &ev);
}

static int start(struct server *srv)
{
    char err[512];
    int rc = fl_notify_channels_validate(&srv->cfg, err, sizeof err);
    if (rc) {
        FL_ERROR(MODULE, "%s", err);
        return rc;
    }
    rc = fl_fs_mkdir_p(srv->cfg.data_dir, 0755);
    if (rc) {
        FL_ERROR(MODULE, "cannot create data directory %s: %s", srv->cfg.data_dir, fl_strerror(rc));
        return rc;
    }
    if ((rc = lock_data_dir(srv)) || (rc = open_meta(srv)) || (rc = open_security(srv)))
        return rc;
    publish_catalog(srv);
    if ((rc = open_stream(&srv->cfg, "stream", (uint32_t)srv->cfg.shards, srv->cfg.retention_age_s,
                          srv->cfg.retention_bytes, &srv->stream)) ||
        (rc = open_stream(&srv->cfg, "dead-letters", 1, srv->cfg.dead_letter_retention_age_s,
                          srv->cfg.dead_letter_retention_bytes, &srv->dead_letters)))
        return rc;
    if ((rc = fl_metrics_create(&srv->metrics)) || (rc = open_audit(srv)) ||
        (rc = start_delivery(srv)) || (rc = start_notify(srv)) ||
        (rc = start_alerts(srv)) ||
        (rc = start_processor(srv)) || (rc = start_compaction(srv)) ||
        (rc = start_lifecycle(srv)) ||
        (rc = start_summary(srv)))
        return rc;
    fl_gateway_deps deps = {&srv->cfg, srv->stream, srv->dead_letters, srv->metrics,
                            srv->processor, srv->audit, srv->keystore, srv->alerts};
    if ((rc = fl_gateway_start(&deps, &srv->gateway)))
        return rc;
    if ((rc = pthread_create(&srv->maintenance, NULL, maintenance_main, srv)))
        return -rc;
    srv->maintenance_started = 1;
    fl_gateway_set_ready(srv->gateway, 1);
    char host[256];
    snprintf(host, sizeof host, "%s", srv->cfg.listen);
    char *colon = strrchr(host, ':');
    if (colon)
        *colon = 0;
    FL_INFO(MODULE, "fleetlake %s ready: http%s://%s:%u/ (data %s, %lld shards, durability %s)",
            FL_VERSION, fl_gateway_tls_enabled(srv->gateway) ? "s" : "", host,
            fl_gateway_port(srv->gateway), srv->cfg.data_dir,
            (long long)srv->cfg.shards, srv->cfg.durability);
    return srv->demo_mode ? start_demo(srv) : 0;
}

/* Stop in reverse order of start. Returns the first error met while syncing. */
static int stop(struct server *srv)
{
    int rc = 0;
    if (srv->demo_started) {
        srv->demo_stop = 1;
        pthread_join(srv->demo, NULL);
    }
    fl_alert_engine_stop_checks(srv->alerts); /* it renders collectors the gateway owns */
    if (srv->gateway) {
        int64_t t0 = fl_time_mono_us();
        if (fl_gateway_drain(srv->gateway, srv->cfg.drain_timeout_s * FL_US_PER_SEC))
            FL_WARN(MODULE, "drain timed out after %lld s; closing remaining connections",
                    (long long)srv->cfg.drain_timeout_s);
        else
            FL_INFO(MODULE, "drained in-flight requests in %.1f ms",
                    (double)(fl_time_mono_us() - t0) / 1000.0);
        fl_gateway_stop(srv->gateway);
    }
    /* After the gateway (the only /metrics renderer: compaction's gauge collector goes with
     * it); a partition being compacted is abandoned at its next check, nothing committed. */
    fl_compaction_stop(srv->compaction);
    fl_lifecycle_runner_stop(srv->lifecycle);
    fl_summary_job_stop(srv->summary);
    if (srv->maintenance_started) {
        pthread_mutex_lock(&srv->stop_lock);
        srv->stopping = 1;
        pthread_cond_signal(&srv->stop_cond);
        pthread_mutex_unlock(&srv->stop_lock);
        pthread_join(srv->maintenance, NULL);
    }
    if (srv->processor) {
        /* After the gateway (its device routes query the processor); the drain commits what
         * the stream holds. A failed final commit loses nothing (records stay in the stream). */
        int64_t t0 = fl_time_mono_us();
        if (fl_processor_stop(srv->processor, srv->cfg.drain_timeout_s * FL_US_PER_SEC) == 0)
            FL_INFO(MODULE, "flushed the processor in %.1f ms",
                    (double)(fl_time_mono_us() - t0) / 1000.0);
    }
    fl_alert_engine_stop(srv->alerts); /* after the processor, its only feeder */
    /* After the gateway (its /metrics renders the outbox gauge) and the engine (which enqueues
     * and kicks): a notification in flight stays pending and is sent after restart. */
    fl_notify_dispatcher_stop(srv->notify);
    if (srv->delivery) {
        /* After the gateway: nothing appends any more, so the drain reaches the stream head.
         * A failed final flush loses nothing (the records stay in the stream). */
        int64_t t0 = fl_time_mono_us();
        if (fl_delivery_stop(srv->delivery, srv->cfg.drain_timeout_s * FL_US_PER_SEC) == 0)
            FL_INFO(MODULE, "flushed raw delivery in %.1f ms",
                    (double)(fl_time_mono_us() - t0) / 1000.0);
    }
    if (srv->audit) {
        fl_audit_event ev = {.type = "admin", .role = "local", .action = "serve.stop",
                             .resource = srv->cfg.data_dir, .result = "ok", .client = "fleetlake"};
        int arc = fl_audit_append(srv->audit, &ev);
        if (!arc)
            arc = fl_audit_close(srv->audit);
        else
            (void)fl_audit_close(srv->audit);
        if (arc)
            FL_ERROR(MODULE, "closing the audit log: %s", fl_strerror(arc));
    }
    fl_objstore_destroy(srv->lake);
    int r1 = fl_stream_close(srv->stream);
    int r2 = fl_stream_close(srv->dead_letters);
    rc = r1 ? r1 : r2;
    if (rc)
        FL_ERROR(MODULE, "final fsync failed: %s", fl_strerror(rc));
    fl_metrics_destroy(srv->metrics);
    fl_keystore_close(srv->keystore);
    if (srv->meta)
        sqlite3_close(srv->meta);
    if (srv->lock_fd > 0)
        close(srv->lock_fd);
    return rc;
}

int fl_cli_serve(int argc, char **argv)
{
    struct server srv = {.lock_fd = -1};
    int code = parse_args(&srv, argc, argv);
    if (code >= 0)
        return code;
    fl_log_setup((enum fl_log_level)fl_log_level_parse(srv.cfg.log_level),
                 strcmp(srv.cfg.log_format, "json") == 0, stderr);
    const char *faults = getenv("FLEETLAKE_FAULTS");
    if (faults && *faults) {
        int n = fl_fs_fault_parse(faults);
        if (n < 0) {
            fprintf(stderr, "fleetlake serve: bad FLEETLAKE_FAULTS '%s'\n", faults);
            return 2;
        }
        FL_WARN(MODULE, "FLEETLAKE_FAULTS set: %d injected I/O fault rule(s) (testing only)", n);
    }
    log_config(&srv.cfg);
    pthread_mutex_init(&srv.stop_lock, NULL);
    pthread_cond_init(&srv.stop_cond, NULL);
    /* Signals are taken by sigwait() in this thread only: block them before any thread starts
     * so every thread inherits the mask. */
    sigset_t sigs;
    sigemptyset(&sigs);
    sigaddset(&sigs, SIGINT);
    sigaddset(&sigs, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &sigs, NULL);
    signal(SIGPIPE, SIG_IGN);
    int rc = start(&srv);
    if (rc == 0) {
        int sig = 0;
        sigwait(&sigs, &sig);
        FL_INFO(MODULE, "received %s: draining", sig == SIGTERM ? "SIGTERM" : "SIGINT");
    }
    int stop_rc = stop(&srv);
    if (rc == 0 && stop_rc == 0)
        FL_INFO(MODULE, "stopped cleanly");
    return rc || stop_rc ? 1 : 0;
}
