/* bench_query.c — fleetlake's side of the query benchmark (bench/bench_query.py): runs SQL
 * statements through the in-process query API (fl_query_session_open / fl_query_cursor_*, the
 * code behind `fleetlake query --data DIR` and POST /v1/query) against a data directory,
 * each one warm-up run plus --repeat timed runs in the same session (warm page cache, warm
 * heap, as in a running server), and prints one JSON line per statement:
 *   {"times_ms": [...], "result": <the statement's JSON-format output>}
 * The time of a run is from cursor open (prepare, snapshot, first row) to the last byte of
 * JSON output. Limits: the [query] defaults except the time limit (none) and the row limit
 * (none); --memory BYTES overrides the memory budget (0 = none).
 *   bench_query --data DIR [--repeat K] [--memory BYTES] "SQL" ["SQL" ...] */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "query/query.h"

/* Run sql to the end; out receives the whole JSON output (the cursor hands it over in pieces
 * of about 64 KiB, each appended to out and then cleared, as the server sends them). */
static int run(fl_query_session *s, const char *sql, fl_buf *out, fl_query_error *err)
{
    fl_query_cursor *c = NULL;
    fl_buf piece = {0};
    out->len = 0;
    int rc = fl_query_cursor_open(s, sql, fl_query_encoder_find("json"), 0, &c, err), more = 1;
    while (!rc && more) {
        piece.len = 0;
        more = fl_query_cursor_next(c, &piece, err);
        rc = more < 0 ? more : fl_buf_append(out, piece.data, piece.len);
    }
    fl_query_cursor_close(c);
    fl_buf_free(&piece);
    return rc;
}

int main(int argc, char **argv)
{
    const char *data = NULL;
    int repeat = 5, first_sql = argc;
    fl_config cfg;
    fl_config_defaults(&cfg);
    fl_query_limits lim = fl_query_limits_from_config(&cfg);
    lim.timeout_ms = 0;
    lim.max_rows = 0;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--data") && i + 1 < argc)
            data = argv[++i];
        else if (!strcmp(argv[i], "--repeat") && i + 1 < argc)
            repeat = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--memory") && i + 1 < argc)
            lim.memory_bytes = strtoll(argv[++i], NULL, 10);
        else {
            first_sql = i;
            break;
        }
    }
    if (!data || repeat < 1 || first_sql >= argc) {
        fprintf(stderr, "usage: bench_query --data DIR [--repeat K] [--memory BYTES] \"SQL\"...\n");
        return 2;
    }
    fl_query_session *s = NULL;
    fl_query_error err = {0};
    if (fl_query_session_open(data, &lim, &s, &err)) {
        fprintf(stderr, "bench_query: %s: %s\n", err.code, err.message);
        return 1;
    }
    fl_buf out = {0};
    int status = 0;
    for (int q = first_sql; q < argc && !status; q++) {
        int64_t *t = calloc((size_t)repeat, sizeof *t);
        int rc = t ? run(s, argv[q], &out, &err) : FL_ENOMEM; /* warm-up */
        for (int i = 0; !rc && i < repeat; i++) {
            int64_t t0 = fl_time_mono_us();
            rc = run(s, argv[q], &out, &err);
            t[i] = fl_time_mono_us() - t0;
        }
        if (rc) {
            fprintf(stderr, "bench_query: %s: %s: %s\n", argv[q], err.code ? err.code : "",
                    err.code ? err.message : fl_strerror(rc));
            status = 1;
        } else {
            printf("{\"times_ms\": [");
            for (int i = 0; i < repeat; i++)
                printf("%s%.3f", i ? ", " : "", (double)t[i] / 1e3);
            for (size_t k = 0; k < out.len; k++) /* one line per statement (JSON strings */
                if (out.data[k] == '\n')         /* escape their own newlines) */
                    out.data[k] = ' ';
            printf("], \"result\": %.*s}\n", (int)out.len, out.data);
            fflush(stdout);
        }
        free(t);
    }
    fl_buf_free(&out);
    fl_query_session_close(s);
    return status;
}
