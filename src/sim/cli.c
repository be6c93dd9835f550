/* cli.c — `fleetlake sim`: parses the flags, runs fl_sim_run() until the duration or record
 * count is reached or SIGINT/SIGTERM arrives, and prints the summary as text or JSON (to
 * stderr when the records themselves go to stdout). Exit codes: 0 the run completed (rejected
 * bad records included), 1 the server could not be reached or an output failed, 2 usage. */
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "sim/sim_int.h"

static volatile int stop_requested;

static void on_signal(int sig)
{
    (void)sig;
    stop_requested = 1;
}

static void print_json(const fl_sim_summary *s, FILE *out)
{
    fprintf(out,
            "{\"target\":\"%s\",\"duration_s\":%.3f,\"dry_run\":%s,\"requests\":%llu,"
            "\"records_sent\":%llu,\"records_acked\":%llu,\"records_failed\":%llu,"
            "\"failed_by_code\":{",
            s->target == FL_SIM_TARGET_INFLUX ? "influx" : "fleetlake", s->duration_s,
            s->dry_run ? "true" : "false", (unsigned long long)s->requests,
            (unsigned long long)s->records_sent, (unsigned long long)s->records_acked,
            (unsigned long long)s->records_failed);
    for (int c = 0; c < FL_SIM_CODE_COUNT; c++)
        fprintf(out, "%s\"%s\":%llu", c ? "," : "", fl_sim_code_name(c),
                (unsigned long long)s->failed_by_code[c]);
    fprintf(out, "},\"bad_sent\":%llu,\"bad_sent_by_kind\":{", (unsigned long long)s->bad_sent);
    for (int k = 0; k < FL_SIM_BAD_COUNT; k++)
        fprintf(out, "%s\"%s\":%llu", k ? "," : "", fl_sim_bad_name(k),
                (unsigned long long)s->bad_sent_by_kind[k]);
    fprintf(out,
            "},\"bad_accepted\":%llu,\"code_mismatches\":%llu,\"good_rejected\":%llu,"
            "\"duplicates_sent\":%llu,\"late_sent\":%llu,\"out_of_order\":%llu,\"retries\":%llu,"
            "\"throttled\":%llu,\"connection_errors\":%llu,\"http_errors\":%llu,"
            "\"connections_opened\":%llu,\"bytes_sent\":%llu,\"labels\":%llu,"
            "\"records_per_s_acked\":%.1f,\"latency_ms\":{\"p50\":%.3f,\"p90\":%.3f,\"p99\":%.3f,"
            "\"max\":%.3f},\"cpu_s\":%.3f,\"connect_failed\":%s}\n",
            (unsigned long long)s->bad_accepted, (unsigned long long)s->code_mismatches,
            (unsigned long long)s->good_rejected, (unsigned long long)s->duplicates_sent,
            (unsigned long long)s->late_sent, (unsigned long long)s->out_of_order,
            (unsigned long long)s->retries, (unsigned long long)s->throttled,
            (unsigned long long)s->connection_errors, (unsigned long long)s->http_errors,
            (unsigned long long)s->connections_opened, (unsigned long long)s->bytes_sent,
            (unsigned long long)s->labels, s->records_per_s_acked, s->latency_ms_p50,
            s->latency_ms_p90, s->latency_ms_p99, s->latency_ms_max, s->cpu_s,
            s->connect_failed ? "true" : "false");
}

static void print_counts(FILE *out, const char *title, const uint64_t *v, int n,
                         const char *(*name)(int))
{
    int any = 0;
    for (int i = 0; i < n; i++) {
        if (!v[i])
            continue;
        fprintf(out, "%s%s %llu", any ? ", " : title, name(i), (unsigned long long)v[i]);
        any = 1;
    }
    if (any)
        fputc('\n', out);
}

static void print_text(const fl_sim_summary *s, FILE *out)
{
    if (s->dry_run) {
        fprintf(out, "sim: wrote %llu records (%llu bytes) in %.2f s; %llu labels\n",
                (unsigned long long)s->records_sent, (unsigned long long)s->bytes_sent,
                s->duration_s, (unsigned long long)s->labels);
    } else {
        fprintf(out,
                "sim: %.2f s, %llu requests, %llu records sent, %llu acked, %llu failed\n"
                "  acked records/s   %.1f\n"
                "  ack latency ms    p50 %.2f  p90 %.2f  p99 %.2f  max %.2f\n",
                s->duration_s, (unsigned long long)s->requests,
                (unsigned long long)s->records_sent, (unsigned long long)s->records_acked,
                (unsigned long long)s->records_failed, s->records_per_s_acked, s->latency_ms_p50,
                s->latency_ms_p90, s->latency_ms_p99, s->latency_ms_max);
        print_counts(out, "  failed by code    ", s->failed_by_code, FL_SIM_CODE_COUNT,
                     fl_sim_code_name);
    }
    fprintf(out, "  bad records sent  %llu\n", (unsigned long long)s->bad_sent);
    print_counts(out, "    ", s->bad_sent_by_kind, FL_SIM_BAD_COUNT, fl_sim_bad_name);
    fprintf(out, "  duplicates %llu, late %llu, out-of-order swaps %llu\n",
            (unsigned long long)s->duplicates_sent, (unsigned long long)s->late_sent,
            (unsigned long long)s->out_of_order);
    if (!s->dry_run)
        fprintf(out,
                "  retries %llu (throttled %llu), connection errors %llu, http errors %llu, "
                "connections %llu, %llu bytes sent, %llu labels\n"
                "  unexpected: bad accepted %llu, code mismatches %llu, good rejected %llu\n",
                (unsigned long long)s->retries, (unsigned long long)s->throttled,
                (unsigned long long)s->connection_errors, (unsigned long long)s->http_errors,
                (unsigned long long)s->connections_opened, (unsigned long long)s->bytes_sent,
                (unsigned long long)s->labels, (unsigned long long)s->bad_accepted,
                (unsigned long long)s->code_mismatches, (unsigned long long)s->good_rejected);
    fprintf(out, "  client CPU        %.2f s\n", s->cpu_s);
}

void fl_sim_summary_print(const fl_sim_summary *s, int json, FILE *out)
{
    if (json)
        print_json(s, out);
    else
        print_text(s, out);
}

int fl_sim_main(int argc, char **argv)
{
    static fl_sim_options opts; /* large (paths, headers): not on the stack */
    char err[512];
    int rc = fl_sim_options_parse(&opts, argc, argv, stdout, err, sizeof err);
    if (rc == 1)
        return 0;
    if (rc) {
        fprintf(stderr, "fleetlake sim: %s\n", err);
        return 2;
    }
    /* FLEETLAKE_KEY: the API key for the target server, unless --header gave one. */
    const char *key = getenv("FLEETLAKE_KEY");
    int has_auth = 0;
    for (int i = 0; i < opts.header_count; i++)
        has_auth |= strncasecmp(opts.headers[i], "Authorization:", 14) == 0;
    if (key && *key && !has_auth) {
        if (opts.header_count >= FL_SIM_HEADERS_MAX || strlen(key) > 400) {
            fprintf(stderr, "fleetlake sim: no room for the FLEETLAKE_KEY header\n");
            return 2;
        }
        snprintf(opts.headers[opts.header_count++], sizeof opts.headers[0],
                 "Authorization: Bearer %s", key);
    }
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);
    fl_sim_summary sum;
    rc = fl_sim_run(&opts, &sum, &stop_requested);
    int records_to_stdout = opts.dry_run || strcmp(opts.out, "-") == 0;
    FILE *out = records_to_stdout ? stderr : stdout;
    if (opts.json_summary)
        fl_sim_summary_print(&sum, 1, out);
    else if (!opts.quiet)
        fl_sim_summary_print(&sum, 0, out);
    if (rc) {
        fprintf(stderr, "fleetlake sim: %s\n", fl_strerror(rc));
        return 1;
    }
    if (sum.connect_failed) {
        fprintf(stderr, "fleetlake sim: could not reach %s (%llu connection errors; last: %s)\n",
                opts.url, (unsigned long long)sum.connection_errors,
                sum.last_connection_error[0] ? sum.last_connection_error : "none recorded");
        return 1;
    }
    return 0;
}
