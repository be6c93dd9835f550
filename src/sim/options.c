/* options.c — the `fleetlake sim` flags: one table of flags (name, argument, help text and
 * the setter that validates it), so parsing and --help cannot drift apart; the defaults; and
 * fl_sim_options_resolve(), which turns the automatic values (interval, batch, start,
 * horizon) into numbers from the wall clock as described in sim.h's time model. */
#include <errno.h>
#include <math.h>
#include <stdlib.h>

#include "sim/sim_int.h"

#define SIM_HISTORY_US (24 * 3600 * FL_US_PER_SEC) /* default past span when only --duration */
#define SIM_HORIZON_US (240 * FL_US_PER_SEC)       /* 4 min: inside the server's 5 min skew */
#define SIM_START_NOW (-1)

void fl_sim_options_defaults(fl_sim_options *o)
{
    memset(o, 0, sizeof *o);
    o->devices = 200;
    o->seed = 1;
    o->center_lat = 37.5665;
    o->center_lon = 126.9780;
    o->radius_km = 30;
    o->tz_offset_s = 9 * 3600;
    o->anomaly_rate = 0.005;
    for (int k = 0; k < FL_SIM_ANOMALY_COUNT; k++)
        o->anomaly_weights[k] = 1;
    snprintf(o->url, sizeof o->url, "http://127.0.0.1:8080");
    snprintf(o->influx_db, sizeof o->influx_db, "fleetlake");
    o->connections = 4;
    o->retry = 1;
    o->duration_us = 10 * FL_US_PER_SEC;
}

static int64_t ceil_div(int64_t a, int64_t b)
{
    return (a + b - 1) / b;
}

void fl_sim_options_resolve(fl_sim_options *o, int64_t now_us)
{
    now_us -= now_us % FL_US_PER_SEC; /* whole seconds: readings then fall on whole ms */
    if (o->interval_us <= 0) {
        o->interval_us = FL_US_PER_SEC;
        if (o->rate > 0) /* simulated time tracks wall time */
            o->interval_us = (int64_t)fmax(1, (double)o->devices * 1e6 / o->rate);
    }
    if (o->batch <= 0) {
        o->batch = 500;
        if (o->rate > 0) /* at least ~10 requests/s so a slow rate still flows smoothly */
            o->batch = (int64_t)fmax(1, fmin(500, o->rate / 10));
    }
    if (o->horizon_us <= 0)
        o->horizon_us = now_us + SIM_HORIZON_US;
    if (o->start_us == SIM_START_NOW || (o->start_us == 0 && o->rate > 0)) {
        o->start_us = now_us;
    } else if (o->start_us == 0) {
        int64_t span = SIM_HISTORY_US, total = o->records;
        if (total <= 0 && (o->dry_run || o->out[0]))
            total = o->devices * (o->duration_us / o->interval_us);
        if (total > 0)
            span = ceil_div(total, o->devices) * o->interval_us;
        int64_t earliest = fl_time_days_from_civil(2000, 1, 2) * 86400 * FL_US_PER_SEC;
        o->start_us = now_us - span > earliest ? now_us - span : earliest;
    }
}

/* ---- flag table ---------------------------------------------------------------------------- */
typedef int (*setter_fn)(fl_sim_options *o, const char *v, char *err, size_t errlen);

struct flag {
    const char *name;
    const char *arg; /* NULL: takes no argument */
    setter_fn set;
    const char *help;
};

static int parse_i64(const char *v, int64_t lo, int64_t hi, int64_t *out)
{
    char *end;
    errno = 0;
    long long x = strtoll(v, &end, 10);
    if (errno || end == v || *end || x < lo || x > hi)
        return -1;
    *out = x;
    return 0;
}

static int parse_f64(const char *v, double lo, double hi, double *out)
{
    char *end;
    errno = 0;
    double x = strtod(v, &end);
    if (errno || end == v || *end || !isfinite(x) || x < lo || x > hi)
        return -1;
    *out = x;
    return 0;
}

#define BAD(...) (snprintf(err, errlen, __VA_ARGS__), FL_EINVAL)

#define INT_SETTER(fn, field, lo, hi, what)                                                        \
    static int fn(fl_sim_options *o, const char *v, char *err, size_t errlen)                      \
    {                                                                                              \
        return parse_i64(v, lo, hi, &o->field) ? BAD("expected %s, got '%s'", what, v) \
                                               : 0;                                                \
    }
#define RATE_SETTER(fn, field)                                                                     \
    static int fn(fl_sim_options *o, const char *v, char *err, size_t errlen)                      \
    {                                                                                              \
        return parse_f64(v, 0, 1, &o->field) ? BAD("expected a fraction 0..1, got '%s'", v)                                     \
                                             : 0;                                                  \
    }

INT_SETTER(set_devices, devices, 1, 10000000, "1..10000000 devices")
INT_SETTER(set_batch, batch, 1, 100000, "1..100000 records")
INT_SETTER(set_connections, connections, 1, 1024, "1..1024 connections")
INT_SETTER(set_records, records, 0, INT64_MAX / 2, "a record count")
INT_SETTER(set_queue, queue_bodies, 1, 4096, "1..4096 bodies")
INT_SETTER(set_body_pool, body_pool, 1, 100000, "1..100000 bodies")
RATE_SETTER(set_anomaly_rate, anomaly_rate)
RATE_SETTER(set_bad_rate, bad_rate)
RATE_SETTER(set_dup_rate, dup_rate)
RATE_SETTER(set_late_rate, late_rate)
RATE_SETTER(set_ooo_rate, ooo_rate)

static int set_seed(fl_sim_options *o, const char *v, char *err, size_t errlen)
{
    char *end;
    errno = 0;
    unsigned long long x = strtoull(v, &end, 10);
    if (errno || end == v || *end || v[0] == '-')
        return BAD("expected a non-negative integer, got '%s'", v);
    o->seed = x;
    return 0;
}

static int set_interval(fl_sim_options *o, const char *v, char *err, size_t errlen)
{
    double ms;
    if (parse_f64(v, 0.001, 86400000, &ms))
        return BAD("expected milliseconds > 0, got '%s'", v);
    o->interval_us = (int64_t)fmax(1, ms * 1000);
    return 0;
}

static int set_rate(fl_sim_options *o, const char *v, char *err, size_t errlen)
{
    return parse_f64(v, 0, 1e9, &o->rate) ? BAD("expected records/s >= 0, got '%s'", v) : 0;
}

static int set_radius(fl_sim_options *o, const char *v, char *err, size_t errlen)
{
    return parse_f64(v, 0.1, 2000, &o->radius_km) ? BAD("expected 0.1..2000, got '%s'", v)
                                                  : 0;
}

static int set_center(fl_sim_options *o, const char *v, char *err, size_t errlen)
{
    char lat[64];
    const char *comma = strchr(v, ',');
    if (!comma || (size_t)(comma - v) >= sizeof lat)
        return BAD("expected LAT,LON, got '%s'", v);
    memcpy(lat, v, (size_t)(comma - v));
    lat[comma - v] = 0;
    if (parse_f64(lat, -85, 85, &o->center_lat) || parse_f64(comma + 1, -180, 180, &o->center_lon))
        return BAD("expected LAT,LON within -85..85,-180..180, got '%s'", v);
    return 0;
}

static int set_duration(fl_sim_options *o, const char *v, char *err, size_t errlen)
{
    int64_t us;
    if (fl_time_parse_duration(v, &us) || us < 0)
        return BAD("expected a duration such as 10s, 5m (0 = until stopped), got '%s'", v);
    o->duration_us = us;
    return 0;
}

static int set_start(fl_sim_options *o, const char *v, char *err, size_t errlen)
{
    if (strcmp(v, "now") == 0) {
        o->start_us = SIM_START_NOW;
        return 0;
    }
    if (fl_time_parse_rfc3339(v, strlen(v), &o->start_us) || o->start_us < 946684800000000LL)
        return BAD("expected 'now' or an RFC 3339 time after 2000, got '%s'", v);
    return 0;
}

static int set_tz(fl_sim_options *o, const char *v, char *err, size_t errlen)
{
    int sign = 1, h = 0, m = 0;
    const char *p = v;
    if (*p == '+' || *p == '-')
        sign = *p++ == '-' ? -1 : 1;
    int n = sscanf(p, "%2d:%2d", &h, &m);
    if (n < 1 || h > 14 || m > 59 || m < 0 || h < 0)
        return BAD("expected ±HH:MM, got '%s'", v);
    o->tz_offset_s = sign * (h * 3600 + m * 60);
    return 0;
}

static int set_weights(fl_sim_options *o, const char *v, char *err, size_t errlen)
{
    char buf[512];
    snprintf(buf, sizeof buf, "%s", v);
    double w[FL_SIM_ANOMALY_COUNT] = {0};
    for (char *save = NULL, *tok = strtok_r(buf, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
        char *eq = strchr(tok, '=');
        int kind = -1;
        if (eq) {
            *eq = 0;
            for (int k = 0; k < FL_SIM_ANOMALY_COUNT; k++)
                if (strcmp(tok, fl_sim_anomaly_name(k)) == 0)
                    kind = k;
        }
        if (kind < 0 || parse_f64(eq + 1, 0, 1e6, &w[kind]))
            return BAD("expected kind=weight,... with kinds spike, drift, "
                       "level_shift, stuck, dropout, gps_jump, implausible; got '%s'", v);
    }
    memcpy(o->anomaly_weights, w, sizeof w);
    return 0;
}

static int set_url(fl_sim_options *o, const char *v, char *err, size_t errlen)
{
    if (strncmp(v, "http://", 7) != 0 && strncmp(v, "https://", 8) != 0)
        return BAD("expected http://HOST:PORT[/path], got '%s'", v);
    if (strlen(v) >= sizeof o->url)
        return BAD("too long");
    snprintf(o->url, sizeof o->url, "%s", v);
    return 0;
}

static int set_target(fl_sim_options *o, const char *v, char *err, size_t errlen)
{
    if (strcmp(v, "fleetlake") == 0)
        o->target = FL_SIM_TARGET_FLEETLAKE;
    else if (strcmp(v, "influx") == 0)
        o->target = FL_SIM_TARGET_INFLUX;
    else
        return BAD("expected fleetlake or influx, got '%s'", v);
    return 0;
}

/* The name goes into the query string unescaped: keep to characters that need no escaping. */
static int set_influx_db(fl_sim_options *o, const char *v, char *err, size_t errlen)
{
    size_t n = strlen(v);
    if (n == 0 || n >= sizeof o->influx_db || strspn(v, "abcdefghijklmnopqrstuvwxyz"
                                                       "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-.") != n)
        return BAD("expected 1..%d characters of [A-Za-z0-9_.-], got '%s'",
                   (int)sizeof o->influx_db - 1, v);
    snprintf(o->influx_db, sizeof o->influx_db, "%s", v);
    return 0;
}

static int set_header(fl_sim_options *o, const char *v, char *err, size_t errlen)
{
    if (o->header_count >= FL_SIM_HEADERS_MAX)
        return BAD("at most %d headers", FL_SIM_HEADERS_MAX);
    if (!strchr(v, ':') || strlen(v) >= sizeof o->headers[0] || strpbrk(v, "\r\n"))
        return BAD("expected 'Name: value', got '%s'", v);
    snprintf(o->headers[o->header_count++], sizeof o->headers[0], "%s", v);
    return 0;
}

static int set_path(char *dst, const char *v, const char *flag, char *err, size_t errlen)
{
    if (!v[0] || strlen(v) >= FL_SIM_PATH_MAX)
        return BAD("expected a file name");
    snprintf(dst, FL_SIM_PATH_MAX, "%s", v);
    return 0;
}
static int set_cacert(fl_sim_options *o, const char *v, char *err, size_t errlen)
{
    return set_path(o->cacert, v, "cacert", err, errlen);
}
static int set_acked_out(fl_sim_options *o, const char *v, char *err, size_t errlen)
{
    return set_path(o->acked_out, v, "acked-out", err, errlen);
}
static int set_labels_out(fl_sim_options *o, const char *v, char *err, size_t errlen)
{
    return set_path(o->labels_out, v, "labels-out", err, errlen);
}
static int set_out(fl_sim_options *o, const char *v, char *err, size_t errlen)
{
    return set_path(o->out, v, "out", err, errlen);
}

#define FLAG_SETTER(fn, stmt)                                                                      \
    static int fn(fl_sim_options *o, const char *v, char *err, size_t errlen)                      \
    {                                                                                              \
        (void)v, (void)err, (void)errlen;                                                          \
        stmt;                                                                                      \
        return 0;                                                                                  \
    }
FLAG_SETTER(set_gzip, o->gzip = 1)
FLAG_SETTER(set_ndjson, o->ndjson = 1)
FLAG_SETTER(set_retry, o->retry = 1)
FLAG_SETTER(set_no_retry, o->retry = 0)
FLAG_SETTER(set_dry_run, o->dry_run = 1)
FLAG_SETTER(set_json, o->json_summary = 1)
FLAG_SETTER(set_quiet, o->quiet = 1)
FLAG_SETTER(set_insecure, o->insecure = 1)

static const struct flag flags[] = {
    {"devices", "N", set_devices, "number of trucks (200)"},
    {"seed", "N", set_seed, "PRNG seed; the same seed gives the same records (1)"},
    {"center", "LAT,LON", set_center, "centre of the routes (37.5665,126.9780: Seoul)"},
    {"radius-km", "KM", set_radius, "radius of the area the trucks drive in (30)"},
    {"interval-ms", "MS", set_interval,
     "simulated time between two readings of one truck (1000; with --rate: devices/rate)"},
    {"start", "TIME", set_start,
     "simulated start, RFC 3339 or 'now' (default: now with --rate, else in the past so the "
     "run ends near now)"},
    {"tz-offset", "±HH:MM", set_tz, "fleet time zone for the daily temperature cycle (+09:00)"},
    {"anomaly-rate", "F", set_anomaly_rate, "fraction of device-time inside an anomaly (0.005)"},
    {"anomaly-weights", "K=W,...", set_weights,
     "relative weight per anomaly kind (spike, drift, level_shift, stuck, dropout, gps_jump, "
     "implausible; unnamed kinds get 0; default all 1)"},
    {"labels-out", "FILE", set_labels_out,
     "write ground-truth anomaly labels as NDJSON {device_id,kind,metric,start,end}"},
    {"bad-rate", "F", set_bad_rate, "fraction of records that are bad, all failure kinds (0)"},
    {"dup-rate", "F", set_dup_rate, "fraction of records resent verbatim from an earlier batch (0)"},
    {"late-rate", "F", set_late_rate, "fraction of readings held back 2-10 simulated minutes (0)"},
    {"ooo-rate", "F", set_ooo_rate, "swaps within a batch per record: out-of-order records (0)"},
    {"target", "T", set_target,
     "fleetlake (JSON to /v1/records, default) or influx (InfluxDB 1.x, see below)"},
    {"influx-db", "NAME", set_influx_db, "InfluxDB database for --target influx (fleetlake)"},
    {"url", "URL", set_url,
     "server base URL or full endpoint (http://127.0.0.1:8080; influx: http://127.0.0.1:8086)"},
    {"cacert", "FILE", set_cacert,
     "PEM certificate(s) to trust for an https:// URL, e.g. the server's self-signed one "
     "(default: the system CA store)"},
    {"insecure", NULL, set_insecure,
     "https:// without verifying the server's certificate or name (tests only)"},
    {"rate", "R", set_rate, "records/s, smoothed per request (default: as fast as possible)"},
    {"batch", "B", set_batch, "records per request (500; with --rate: rate/10, at most 500)"},
    {"connections", "C", set_connections, "keep-alive connections, one sender thread each (4)"},
    {"gzip", NULL, set_gzip, "gzip request bodies (compressed ahead of time)"},
    {"ndjson", NULL, set_ndjson, "send NDJSON bodies instead of a JSON array"},
    {"duration", "S", set_duration, "how long to send, e.g. 10s, 5m; 0 = until stopped (10s)"},
    {"records", "N", set_records, "stop after N records (default: no limit)"},
    {"retry", NULL, set_retry, "retry a request after a connection error (default)"},
    {"no-retry", NULL, set_no_retry, "do not retry after a connection error"},
    {"header", "'Name: value'", set_header, "extra request header (repeatable)"},
    {"acked-out", "FILE", set_acked_out,
     "write every acknowledged record {device_id,timestamp,shard,seq} as NDJSON"},
    {"queue", "N", set_queue, "request bodies prepared ahead (default 2 per connection)"},
    {"body-pool", "K", set_body_pool,
     "build K bodies once and resend them in a cycle (pure server benchmark; repeats records)"},
    {"out", "FILE", set_out, "write the generated records as NDJSON (line protocol with --target "
                             "influx) to FILE ('-' = stdout); do not send (--records, or "
                             "devices x duration/interval records)"},
    {"dry-run", NULL, set_dry_run, "like --out -"},
    {"json", NULL, set_json, "print the summary as one JSON object"},
    {"quiet", NULL, set_quiet, "print no text summary"},
};

static void print_help(FILE *out)
{
    fprintf(out, "usage: fleetlake sim [options]\n\n"
                 "Simulate a fleet of trucks and send their sensor records to POST /v1/records "
                 "(or write them with --out;\nwith --target influx, to an InfluxDB 1.x /write "
                 "endpoint as line protocol).\nPrints a summary: records sent/acked/failed by "
                 "code, records/s, ack latency p50/p90/p99/max.\nExit code: 0 the run completed, "
                 "1 the server could not be reached, 2 usage error.\n\noptions:\n");
    for (size_t i = 0; i < sizeof flags / sizeof flags[0]; i++) {
        char left[64];
        snprintf(left, sizeof left, "--%s%s%s", flags[i].name, flags[i].arg ? " " : "",
                 flags[i].arg ? flags[i].arg : "");
        fprintf(out, "  %-28s %s\n", left, flags[i].help);
    }
    fprintf(out, "  %-28s %s\n", "--help", "show this help");
    fprintf(out,
            "\n--target influx sends the same readings as InfluxDB line protocol to\n"
            "<url>/write?db=NAME&precision=u: measurement sensor, tags device_id, source and\n"
            "version (the metadata), float fields temperature, humidity, pressure, latitude,\n"
            "longitude, timestamps in microseconds. 204 acknowledges every record of the body,\n"
            "429 and 5xx are retried, any other status fails them all (http_error). It refuses\n"
            "--bad-rate > 0, --ndjson and --acked-out.\n");
}

int fl_sim_options_check(const fl_sim_options *o, char *err, size_t errlen)
{
    int https = strncmp(o->url, "https://", 8) == 0;
    if ((o->cacert[0] || o->insecure) && !https)
        return BAD("--%s applies to an https:// --url only (got '%s')",
                   o->cacert[0] ? "cacert" : "insecure", o->url);
    if (o->cacert[0] && o->insecure)
        return BAD("--cacert and --insecure do not go together: --insecure checks nothing");
    if (o->target != FL_SIM_TARGET_INFLUX)
        return 0;
    if (o->bad_rate > 0)
        return BAD("--bad-rate %g: bad records are not generated for --target influx (InfluxDB "
                   "answers one status per request, so rejected records could not be checked); "
                   "use --bad-rate 0", o->bad_rate);
    if (o->ndjson)
        return BAD("--ndjson does not apply to --target influx (bodies are line protocol)");
    if (o->acked_out[0])
        return BAD("--acked-out needs per-record sequence numbers, which --target influx does "
                   "not get");
    return 0;
}

int fl_sim_options_parse(fl_sim_options *o, int argc, char **argv, FILE *out, char *err,
                         size_t errlen)
{
    fl_sim_options_defaults(o);
    int url_given = 0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
            print_help(out);
            return 1;
        }
        if (strncmp(a, "--", 2) != 0)
            return BAD("unexpected argument '%s' (see --help)", a);
        const char *eq = strchr(a + 2, '=');
        size_t len = eq ? (size_t)(eq - a - 2) : strlen(a + 2);
        const struct flag *f = NULL;
        for (size_t k = 0; k < sizeof flags / sizeof flags[0] && !f; k++)
            if (strlen(flags[k].name) == len && memcmp(flags[k].name, a + 2, len) == 0)
                f = &flags[k];
        if (!f)
            return BAD("unknown flag '%s' (see --help)", a);
        url_given |= f->set == set_url;
        const char *v = eq ? eq + 1 : NULL;
        if (f->arg && !v) {
            if (i + 1 >= argc)
                return BAD("--%s needs a value (%s)", f->name, f->arg);
            v = argv[++i];
        }
        if (!f->arg && v)
            return BAD("--%s takes no value", f->name);
        char why[256];
        if (f->set(o, v ? v : "", why, sizeof why))
            return BAD("--%s: %s", f->name, why);
    }
    if (o->target == FL_SIM_TARGET_INFLUX && !url_given)
        snprintf(o->url, sizeof o->url, "http://127.0.0.1:8086"); /* influxd's default port */
    return fl_sim_options_check(o, err, errlen);
}
