/* query.c — `fleetlake query`: run one SQL statement over the lake, locally against a data
 * directory (--data, read-only; safe while `serve` runs) or through a server's POST /v1/query
 * (--url), and stream the result to stdout as a table, CSV, JSON or NDJSON. Errors go to
 * stderr as "fleetlake query: <code>: <message>" with exit status 1. */
#include <curl/curl.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "catalog/catalog.h"
#include "cli/cli.h"
#include "query/query.h"

struct cli {
    const char *data_dir, *url, *format, *sql;
    int explain;
    fl_config cfg;
};

static void usage(FILE *out)
{
    fprintf(out,
            "usage: fleetlake query [--data DIR | --url URL] [--format table|csv|json|ndjson]\n"
            "                       [--explain] [--config FILE] [--set K=V] \"SQL\" | -\n"
            "Run one read-only SQL statement (SQLite dialect) over the lake: tables\n"
            "raw_sensor_data, processed_sensor_data, rejected_records (Parquet, partition\n"
            "columns year, month, day, hour; timestamps in µs since the epoch) and the live\n"
            "device_state and lake_files tables of meta.db (\"-\": read the SQL from stdin).\n"
            "See docs/sql.md.\n\n"
            "  --data DIR     data directory (default ./fleetlake-data)\n"
            "  --url URL      send to a server instead (POST URL/v1/query; the API key is\n"
            "                 read from the FLEETLAKE_KEY environment variable)\n"
            "  --format F     table (default), csv, json or ndjson\n"
            "  --explain      print the plan and the partitions/row groups read, not the rows\n"
            "  --config FILE  read [query] limits from this configuration (local only)\n"
            "  --set K=V      override a configuration key (repeatable)\n"
            "  -h, --help     this help\n");
}

static int parse_args(struct cli *o, int argc, char **argv)
{
    static const struct option opts[] = {
        {"data", required_argument, 0, 'd'},   {"url", required_argument, 0, 'u'},
        {"format", required_argument, 0, 'f'}, {"explain", no_argument, 0, 'e'},
        {"config", required_argument, 0, 'c'}, {"set", required_argument, 0, 'S'},
        {"help", no_argument, 0, 'h'},         {0, 0, 0, 0}};
    char err[512] = "";
    int c, rc = 0;
    optind = 1;
    while (!rc && (c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        switch (c) {
        case 'd':
            o->data_dir = optarg;
            break;
        case 'u':
            o->url = optarg;
            break;
        case 'f':
            o->format = optarg;
            break;
        case 'e':
            o->explain = 1;
            break;
        case 'c':
            rc = fl_config_load_file(&o->cfg, optarg, err, sizeof err);
            break;
        case 'S':
            rc = fl_config_set(&o->cfg, optarg, err, sizeof err);
            break;
        case 'h':
            usage(stdout);
            return 1;
        default:
            usage(stderr);
            return 2;
        }
    }
    if (rc) {
        fprintf(stderr, "fleetlake query: %s\n", err);
        return 2;
    }
    if (optind != argc - 1 || !fl_query_encoder_find(o->format)) {
        usage(stderr);
        return 2;
    }
    o->sql = argv[optind];
    if (strcmp(o->sql, "-") == 0) { /* the statement from stdin */
        static fl_buf in;
        char chunk[4096];
        size_t n;
        while ((n = fread(chunk, 1, sizeof chunk, stdin)) > 0)
            if (fl_buf_append(&in, chunk, n))
                return 2;
        o->sql = in.data ? in.data : "";
    }
    return 0;
}

/* A data directory written by an older fleetlake has an older catalog schema; the query
 * session opens meta.db read-only and expects the current one. Opening the catalog once
 * applies its migrations (what serve does at start). Failing that (a read-only copy), the
 * query still runs and reports what it cannot read. */
static void upgrade_catalog(const char *data_dir)
{
    char path[4200];
    fl_catalog *c = NULL;
    if (fl_cli_path(path, sizeof path, data_dir, "meta.db") == 0 && access(path, W_OK) == 0 &&
        fl_catalog_open(path, &c) == 0)
        fl_catalog_close(c);
}

static int run_local(struct cli *o)
{
    upgrade_catalog(o->data_dir);
    fl_query_limits lim = fl_query_limits_from_config(&o->cfg);
    fl_query_session *s = NULL;
    fl_query_cursor *cur = NULL;
    fl_query_error err = {0};
    fl_buf out = {0};
    int rc = fl_query_session_open(o->data_dir, &lim, &s, &err);
    rc = rc ? rc
            : fl_query_cursor_open(s, o->sql, fl_query_encoder_find(o->format), o->explain, &cur,
                                   &err);
    while (!rc) {
        int more = fl_query_cursor_next(cur, &out, &err);
        if (out.len && fwrite(out.data, 1, out.len, stdout) != out.len) {
            rc = -1;
            snprintf(err.message, sizeof err.message, "writing stdout failed");
            err.code = "io_error";
        }
        fl_buf_reset(&out);
        if (more <= 0) {
            rc = rc ? rc : more;
            break;
        }
    }
    if (!rc && strcmp(o->format, "table") == 0)
        printf("(%lld row%s)\n", (long long)fl_query_cursor_rows(cur),
               fl_query_cursor_rows(cur) == 1 ? "" : "s");
    fflush(stdout);
    if (rc)
        fprintf(stderr, "fleetlake query: %s: %s\n", err.code ? err.code : "error", err.message);
    fl_buf_free(&out);
    fl_query_cursor_close(cur);
    fl_query_session_close(s);
    return rc ? 1 : 0;
}

/* --url: the server's answer is streamed to stdout on 200; an error status prints the body's
 * error to stderr. */
struct http {
    long status;
    CURL *curl;
    fl_buf error_body;
};

static size_t on_body(char *p, size_t size, size_t n, void *arg)
{
    struct http *h = arg;
    if (!h->status)
        curl_easy_getinfo(h->curl, CURLINFO_RESPONSE_CODE, &h->status);
    if (h->status == 200)
        return fwrite(p, size, n, stdout) == n ? n * size : 0;
    return fl_buf_append(&h->error_body, p, size * n) ? 0 : size * n;
}

static int run_remote(struct cli *o)
{
    fl_buf body = {0}, url = {0};
    int rc = fl_buf_append_cstr(&body, "{\"sql\":\"");
    rc = rc ? rc : fl_buf_append_json_string(&body, o->sql, strlen(o->sql));
    rc = rc ? rc
            : fl_buf_printf(&body, "\",\"format\":\"%s\",\"explain\":%s}", o->format,
                            o->explain ? "true" : "false");
    size_t ul = strlen(o->url);
    rc = rc ? rc
            : fl_buf_printf(&url, "%.*s/v1/query", (int)(ul && o->url[ul - 1] == '/' ? ul - 1 : ul),
                            o->url);
    struct http h = {0};
    h.curl = rc ? NULL : curl_easy_init();
    if (!h.curl) {
        fl_buf_free(&body);
        fl_buf_free(&url);
        fprintf(stderr, "fleetlake query: out of memory\n");
        return 1;
    }
    struct curl_slist *hdr = curl_slist_append(NULL, "Content-Type: application/json");
    /* The API key comes from the environment, never the command line (visible in ps). */
    const char *key = getenv("FLEETLAKE_KEY");
    if (hdr && key && *key) {
        char auth[256];
        snprintf(auth, sizeof auth, "Authorization: Bearer %s", key);
        struct curl_slist *h2 = curl_slist_append(hdr, auth);
        if (h2)
            hdr = h2;
    }
    curl_easy_setopt(h.curl, CURLOPT_URL, url.data);
    curl_easy_setopt(h.curl, CURLOPT_POSTFIELDS, body.data);
    curl_easy_setopt(h.curl, CURLOPT_POSTFIELDSIZE, (long)body.len);
    curl_easy_setopt(h.curl, CURLOPT_HTTPHEADER, hdr);
    curl_easy_setopt(h.curl, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(h.curl, CURLOPT_WRITEDATA, &h);
    CURLcode cc = curl_easy_perform(h.curl);
    if (!h.status)
        curl_easy_getinfo(h.curl, CURLINFO_RESPONSE_CODE, &h.status);
    int status = 0;
    if (cc != CURLE_OK) {
        fprintf(stderr, "fleetlake query: %s: %s\n", url.data, curl_easy_strerror(cc));
        status = 1;
    } else if (h.status != 200) {
        fprintf(stderr, "fleetlake query: HTTP %ld: %.*s", h.status, (int)h.error_body.len,
                h.error_body.data ? h.error_body.data : "");
        status = 1;
    }
    fflush(stdout);
    curl_slist_free_all(hdr);
    curl_easy_cleanup(h.curl);
    fl_buf_free(&h.error_body);
    fl_buf_free(&body);
    fl_buf_free(&url);
    return status;
}

int fl_cli_query(int argc, char **argv)
{
    struct cli o = {.data_dir = "./fleetlake-data", .format = "table"};
    fl_config_defaults(&o.cfg);
    int rc = parse_args(&o, argc, argv);
    if (rc)
        return rc == 1 ? 0 : rc;
    return o.url ? run_remote(&o) : run_local(&o);
}
