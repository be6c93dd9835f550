/* stream_cmd.c — `fleetlake stream list|read`: the operators' view of the stream, like a
 * console consumer. It opens the stream read-only, so it is safe while `serve` writes: it
 * never truncates or moves files and stops at a batch that is still being written. */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "ingest/ingest.h"
#include "stream/stream.h"

struct read_opts {
    const char *data_dir;
    int shard;  /* -1: all */
    enum fl_stream_start start;
    uint64_t start_value;
    long long limit; /* -1: no limit */
    int table;
    int dead_letters;
    int json; /* stream list --format json */
};

static void usage(FILE *out)
{
    fprintf(out,
            "usage: fleetlake stream list [--data DIR] [--format table|json]\n"
            "       fleetlake stream read [--data DIR] [--shard N] [--from POS] [--limit N]\n"
            "                             [--format ndjson|table] [--dead-letters]\n"
            "Inspect the durable stream (safe while `serve` runs).\n\n"
            "  --data DIR       data directory (default ./fleetlake-data)\n"
            "  --shard N        read one shard (default: every shard, one after another)\n"
            "  --from POS       trim_horizon (default), latest, a sequence number, or an\n"
            "                   RFC 3339 time (records that arrived at or after it)\n"
            "  --limit N        stop after N records (default: all)\n"
            "  --format F       ndjson (default) or table for read; table or json for list\n"
            "  --dead-letters   read the dead-letter log (rejected records) instead\n");
}

static int parse_from(const char *s, struct read_opts *o)
{
    if (strcmp(s, "trim_horizon") == 0) {
        o->start = FL_STREAM_TRIM_HORIZON;
        return 0;
    }
    if (strcmp(s, "latest") == 0) {
        o->start = FL_STREAM_LATEST;
        return 0;
    }
    char *end;
    unsigned long long v = strtoull(s, &end, 10);
    if (*s && !*end) {
        o->start = FL_STREAM_AT_SEQUENCE_NUMBER;
        o->start_value = v;
        return 0;
    }
    int64_t us;
    if (fl_time_parse_rfc3339(s, strlen(s), &us) == 0) {
        o->start = FL_STREAM_AT_TIMESTAMP;
        o->start_value = (uint64_t)us;
        return 0;
    }
    return -1;
}

static int parse(int argc, char **argv, struct read_opts *o)
{
    static const struct option opts[] = {
        {"data", required_argument, 0, 'd'},  {"shard", required_argument, 0, 's'},
        {"from", required_argument, 0, 'f'},  {"limit", required_argument, 0, 'n'},
        {"format", required_argument, 0, 'F'}, {"dead-letters", no_argument, 0, 'L'},
        {"help", no_argument, 0, 'h'},        {0, 0, 0, 0}};
    int c;
    char *end;
    optind = 1;
    while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        switch (c) {
        case 'd': o->data_dir = optarg; break;
        case 's':
            o->shard = (int)strtol(optarg, &end, 10);
            if (*end || o->shard < 0 || o->shard >= FL_STREAM_MAX_SHARDS) {
                fprintf(stderr, "fleetlake stream: --shard '%s' is not a shard number\n", optarg);
                return 2;
            }
            break;
        case 'f':
            if (parse_from(optarg, o)) {
                fprintf(stderr, "fleetlake stream: --from '%s' is not trim_horizon, latest, a "
                                "sequence number or an RFC 3339 time\n", optarg);
                return 2;
            }
            break;
        case 'n':
            o->limit = strtoll(optarg, &end, 10);
            if (*end || o->limit < 0) {
                fprintf(stderr, "fleetlake stream: --limit '%s' is not a count\n", optarg);
                return 2;
            }
            break;
        case 'F':
            if (strcmp(optarg, "table") == 0)
                o->table = 1;
            else if (strcmp(optarg, "json") == 0)
                o->json = 1;
            else if (strcmp(optarg, "ndjson") != 0) {
                fprintf(stderr, "fleetlake stream: --format '%s' is not ndjson, table or json\n", optarg);
                return 2;
            }
            break;
        case 'L': o->dead_letters = 1; break;
        case 'h': usage(stdout); return 0;
        default: usage(stderr); return 2;
        }
    }
    return -1;
}

static int open_readonly(const struct read_opts *o, fl_stream **out)
{
    char dir[4200];
    fl_stream_options opts;
    fl_config cfg;
    fl_config_defaults(&cfg);
    fl_stream_options_from_config(&cfg, &opts);
    if (fl_cli_path(dir, sizeof dir, o->data_dir, o->dead_letters ? "dead-letters" : "stream"))
        return FL_EINVAL;
    opts.dir = dir;
    opts.shard_count = 0; /* read-only: take the shard count from the manifest */
    opts.read_only = 1;
    int rc = fl_stream_open(&opts, out, NULL);
    if (rc)
        fprintf(stderr, "fleetlake stream: cannot open %s: %s\n", dir, fl_strerror(rc));
    return rc;
}

/* A table cell: the value, or "-" when absent. */
static void optional(char *buf, size_t n, int present, const char *fmt, double v)
{
    if (present)
        snprintf(buf, n, fmt, v);
    else
        snprintf(buf, n, "-");
}

static int print_record(const struct read_opts *o, const fl_stream_record *r, fl_buf *line)
{
    char arrival[FL_TIME_RFC3339_MAX];
    fl_time_format_rfc3339(r->arrival_us, arrival);
    fl_buf_reset(line);
    if (r->kind == FL_STREAM_KIND_DEAD_LETTER) {
        fl_dead_letter dl;
        if (fl_dead_letter_decode(r->payload.ptr, r->payload.len, &dl))
            return FL_ECORRUPT;
        if (o->table) {
            char t[FL_TIME_RFC3339_MAX];
            fl_time_format_rfc3339(dl.time_us, t);
            printf("%-10" PRIu64 " %-27s %-16.*s %.*s\n", r->seq, t, (int)dl.code.len, dl.code.ptr,
                   (int)dl.message.len, dl.message.ptr);
            return 0;
        }
        int rc = fl_buf_printf(line, "{\"seq\":\"%" PRIu64 "\",\"dead_letter\":", r->seq);
        rc = rc ? rc : fl_dead_letter_to_json(&dl, line);
        rc = rc ? rc : fl_buf_append_cstr(line, "}\n");
        if (!rc)
            fwrite(line->data, 1, line->len, stdout);
        return rc;
    }
    fl_record rec;
    if (r->kind != FL_STREAM_KIND_SENSOR || fl_record_decode(r->payload.ptr, r->payload.len, &rec))
        return FL_ECORRUPT;
    if (o->table) {
        char ts[FL_TIME_RFC3339_MAX], t[16], h[16], p[16], lat[16], lon[16];
        fl_time_format_rfc3339(rec.timestamp_us, ts);
        optional(t, sizeof t, rec.present & FL_REC_TEMPERATURE, "%.2f", rec.temperature);
        optional(h, sizeof h, rec.present & FL_REC_HUMIDITY, "%.2f", rec.humidity);
        optional(p, sizeof p, rec.present & FL_REC_PRESSURE, "%.2f", rec.pressure);
        optional(lat, sizeof lat, rec.present & FL_REC_LOCATION, "%.5f", rec.latitude);
        optional(lon, sizeof lon, rec.present & FL_REC_LOCATION, "%.5f", rec.longitude);
        return printf("shard-%04u %-10" PRIu64 " %-20.*s %-27s %8s %8s %8s %10s %10s\n", r->shard,
                      r->seq, (int)rec.device_id.len, rec.device_id.ptr, ts, t, h, p, lat, lon) < 0
                   ? -EIO
                   : 0;
    }
    int rc = fl_buf_printf(line, "{\"shard\":\"shard-%04u\",\"seq\":\"%" PRIu64
                                 "\",\"arrival\":\"%s\",\"record\":",
                           r->shard, r->seq, arrival);
    rc = rc ? rc : fl_record_to_json(&rec, line);
    if (!rc && (rec.present & FL_REC_TRACE)) { /* the ingest request's trace id */
        char trace[2 * sizeof rec.trace_id + 1];
        fl_hex_encode(rec.trace_id, sizeof rec.trace_id, trace);
        rc = fl_buf_printf(line, ",\"trace_id\":\"%s\"", trace);
    }
    rc = rc ? rc : fl_buf_append_cstr(line, "}\n");
    if (!rc)
        fwrite(line->data, 1, line->len, stdout);
    return rc;
}

static int read_shard(fl_stream *s, uint32_t shard, const struct read_opts *o, long long *left)
{
    fl_stream_reader *r;
    int rc = fl_stream_reader_open(s, shard, o->start, o->start_value, &r);
    if (rc)
        return rc;
    fl_buf line = {0};
    fl_stream_record rec;
    while (*left != 0 && (rc = fl_stream_reader_next(r, &rec)) == 1) {
        if ((rc = print_record(o, &rec, &line))) {
            fprintf(stderr, "fleetlake stream: shard-%04u seq %" PRIu64 ": undecodable record: %s\n",
                    shard, rec.seq, fl_strerror(rc));
            break;
        }
        if (*left > 0)
            (*left)--;
    }
    fl_buf_free(&line);
    fl_stream_reader_close(r);
    return rc < 0 ? rc : 0;
}

static int cmd_read(const struct read_opts *o)
{
    fl_stream *s;
    int rc = open_readonly(o, &s);
    if (rc)
        return 1;
    uint32_t n = fl_stream_shard_count(s);
    if (o->shard >= (int)n) {
        fprintf(stderr, "fleetlake stream: --shard %d: the stream has %u shards\n", o->shard, n);
        (void)fl_stream_close(s);
        return 2;
    }
    if (o->table && !o->dead_letters)
        printf("%-10s %-10s %-20s %-27s %8s %8s %8s %10s %10s\n", "shard", "seq", "device_id",
               "timestamp", "temp_c", "hum_pct", "pres_hpa", "latitude", "longitude");
    long long left = o->limit;
    for (uint32_t i = 0; i < n && !rc; i++)
        if (o->shard < 0 || (uint32_t)o->shard == i)
            rc = read_shard(s, i, o, &left);
    if (rc)
        fprintf(stderr, "fleetlake stream: read failed: %s\n", fl_strerror(rc));
    fflush(stdout);
    (void)fl_stream_close(s);
    return rc ? 1 : 0;
}

static int cmd_list(const struct read_opts *o)
{
    fl_stream *s;
    if (open_readonly(o, &s))
        return 1;
    uint32_t n = fl_stream_shard_count(s);
    if (!o->json)
        printf("%-10s %-40s %-40s %12s %12s %14s %8s\n", "shard", "hash_key_start", "hash_key_end",
               "first_seq", "last_seq", "bytes", "segments");
    else
        printf("{\"shards\":[");
    int rc = 0;
    for (uint32_t i = 0; i < n && !rc; i++) {
        fl_stream_shard_stats st;
        char a[48], b[48];
        if ((rc = fl_stream_shard_stats_get(s, i, &st)))
            break;
        fl_stream_shard_hash_range(n, i, a, b);
        if (o->json)
            printf("%s{\"shard\":\"shard-%04u\",\"hash_key_range\":{\"start\":\"%s\",\"end\":\"%s\"},"
                   "\"first_seq\":\"%" PRIu64 "\",\"last_seq\":\"%" PRIu64 "\",\"records\":%" PRIu64
                   ",\"bytes\":%" PRIu64 ",\"segments\":%u}",
                   i ? "," : "", i, a, b, st.first_seq, st.last_seq, st.records, st.bytes, st.segments);
        else
            printf("shard-%04u %-40s %-40s %12" PRIu64 " %12" PRIu64 " %14" PRIu64 " %8u\n", i, a, b,
                   st.first_seq, st.last_seq, st.bytes, st.segments);
    }
    if (o->json)
        printf("]}\n");
    (void)fl_stream_close(s);
    return rc ? 1 : 0;
}

int fl_cli_stream(int argc, char **argv)
{
    struct read_opts o = {.data_dir = "./fleetlake-data", .shard = -1, .limit = -1};
    if (argc < 2 || strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "--help") == 0) {
        usage(argc < 2 ? stderr : stdout);
        return argc < 2 ? 2 : 0;
    }
    const char *sub = argv[1];
    int code = parse(argc - 1, argv + 1, &o);
    if (code >= 0)
        return code;
    if (strcmp(sub, "read") == 0)
        return cmd_read(&o);
    if (strcmp(sub, "list") == 0)
        return cmd_list(&o);
    fprintf(stderr, "fleetlake stream: unknown subcommand '%s' (list, read)\n", sub);
    return 2;
}
