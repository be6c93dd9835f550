/* test_session.c — the query session over a crafted lake (raw_sensor_data files written here,
 * catalogued in a real meta.db): results and the pruning counters (partitions by hour and time
 * range, row groups by device_id statistics, projection), the authorizer (SELECT shapes allowed,
 * every other statement kind refused), limits (timeout, max_rows, SQL length), and snapshot
 * isolation: a file catalogued or retired while a statement runs is not seen by that
 * statement, and is seen by the next one. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../lake/lake_test_util.h"
#include "query/query_int.h"

#define HOUR_US         INT64_C(3600000000)
#define ROWS_PER_DEVICE 10

typedef struct fixture {
    char root[512];
    fl_catalog *cat;
    fl_objstore *store;
    fl_query_session *s;
    uint64_t next_seq;
    char hour5_path[256];
} fixture;

static int64_t hour_start(int h)
{
    fl_lake_partition p = {2026, 1, 2, h};
    return fl_lake_partition_hour(p) * HOUR_US;
}

/* Write a raw_sensor_data file for hour h: devices d0..d1 with ROWS_PER_DEVICE rows each, a
 * second apart, one row per row group (row_group_bytes 1), and catalogue it. */
static void add_file(fixture *fx, int h, int d0, int d1, char *path_out, size_t n)
{
    const fl_lake_table_info *t = fl_lake_table_find(FL_LAKE_RAW_TABLE);
    assert_non_null(t);
    char key[256];
    uint64_t first = fx->next_seq + 1,
             last = fx->next_seq + (uint64_t)((d1 - d0 + 1) * ROWS_PER_DEVICE);
    fx->next_seq = last;
    fl_lake_partition p = {2026, 1, 2, h};
    assert_int_equal(fl_lake_part_key(key, sizeof key, t->prefix, p, 0, first, last), 0);
    fl_objstore_writer *w = NULL;
    assert_int_equal(fl_objstore_put_open(fx->store, key, &w), 0);
    fl_pq_writer_options o = {.codec = FL_PQ_SNAPPY, .row_group_bytes = 1};
    fl_pq_writer *pw = NULL;
    assert_int_equal(
        fl_pq_writer_create(t->columns, t->column_count, &o, fl_objstore_sink_write, w, &pw), 0);
    int64_t min_ts = INT64_MAX, max_ts = INT64_MIN;
    for (int d = d0; d <= d1; d++) {
        char dev[32];
        snprintf(dev, sizeof dev, "truck-%04d", d);
        static int64_t i64[ROWS_PER_DEVICE];
        static int32_t i32[ROWS_PER_DEVICE];
        static double dbl[ROWS_PER_DEVICE];
        static uint8_t bools[ROWS_PER_DEVICE];
        static fl_slice str[ROWS_PER_DEVICE];
        static int64_t ts[ROWS_PER_DEVICE];
        fl_pq_column_values cols[64];
        for (int r = 0; r < ROWS_PER_DEVICE; r++) {
            i64[r] = r;
            i32[r] = r;
            dbl[r] = d + r * 0.5;
            bools[r] = 0;
            str[r] = fl_slice_from_cstr(dev);
            ts[r] = hour_start(h) + (int64_t)(d * 100 + r) * 1000000;
            if (ts[r] < min_ts)
                min_ts = ts[r];
            if (ts[r] > max_ts)
                max_ts = ts[r];
        }
        for (size_t c = 0; c < t->column_count; c++) {
            const fl_pq_column_def *cd = &t->columns[c];
            const void *v = cd->physical == FL_PQ_BYTE_ARRAY        ? (const void *)str
                            : cd->physical == FL_PQ_DOUBLE          ? (const void *)dbl
                            : cd->physical == FL_PQ_INT32           ? (const void *)i32
                            : cd->physical == FL_PQ_BOOLEAN         ? (const void *)bools
                            : strcmp(cd->name, t->time_column) == 0 ? (const void *)ts
                                                                    : (const void *)i64;
            cols[c] = (fl_pq_column_values){v, NULL};
        }
        assert_int_equal(fl_pq_writer_write(pw, cols, ROWS_PER_DEVICE), 0);
    }
    fl_pq_file_summary sum;
    assert_int_equal(fl_pq_writer_finish(pw, &sum), 0);
    fl_pq_writer_destroy(pw);
    assert_int_equal(fl_objstore_put_publish(w), 0);
    fl_lake_file f;
    memset(&f, 0, sizeof f);
    snprintf(f.path, sizeof f.path, "%s", key);
    snprintf(f.table_name, sizeof f.table_name, "%s", t->name);
    f.year = 2026;
    f.month = 1;
    f.day = 2;
    f.hour = h;
    f.rows = sum.rows;
    f.bytes = sum.bytes;
    f.min_ts = min_ts;
    f.max_ts = max_ts;
    f.shard = 0;
    f.first_seq = first;
    f.last_seq = last;
    f.retired_at = -1;
    assert_int_equal(fl_catalog_file_insert(fx->cat, &f), 0);
    if (path_out)
        snprintf(path_out, n, "%s", key);
}

static int setup(void **state)
{
    fixture *fx = calloc(1, sizeof *fx);
    lt_tmpdir("query", fx->root, sizeof fx->root);
    char p[600];
    snprintf(p, sizeof p, "%s/meta.db", fx->root);
    if (fl_catalog_open(p, &fx->cat))
        return -1;
    snprintf(p, sizeof p, "%s/lake", fx->root);
    if (fl_objstore_local_create(p, &fx->store))
        return -1;
    add_file(fx, 5, 1, 3, fx->hour5_path, sizeof fx->hour5_path);
    add_file(fx, 6, 1, 3, NULL, 0);
    add_file(fx, 7, 2, 4, NULL, 0);
    fl_query_limits lim = {
        .timeout_ms = 2000, .max_rows = 1000, .memory_bytes = 64 << 20, .max_sql_bytes = 4096};
    fl_query_error err = {0};
    if (fl_query_session_open(fx->root, &lim, &fx->s, &err))
        return -1;
    *state = fx;
    return 0;
}

static int teardown(void **state)
{
    fixture *fx = *state;
    fl_query_session_close(fx->s);
    fl_objstore_destroy(fx->store);
    fl_catalog_close(fx->cat);
    lt_rm_rf(fx->root);
    free(fx);
    return 0;
}

/* Run sql to the end as JSON; returns 0 or the error code's first letter, output in *out. */
static const char *run(fixture *fx, const char *sql, fl_buf *out)
{
    static fl_query_error err;
    memset(&err, 0, sizeof err);
    fl_buf_reset(out);
    fl_query_cursor *c = NULL;
    if (fl_query_cursor_open(fx->s, sql, &fl_query_encoder_json, 0, &c, &err))
        return err.code;
    int more;
    while ((more = fl_query_cursor_next(c, out, &err)) > 0)
        ;
    fl_query_cursor_close(c);
    return more < 0 ? err.code : NULL;
}

static void test_results_and_pruning(void **state)
{
    fixture *fx = *state;
    fl_buf out = {0};
    assert_null(run(fx,
                    "SELECT count(*), count(DISTINCT device_id), min(hour), max(hour) "
                    "FROM raw_sensor_data",
                    &out));
    assert_non_null(strstr(out.data, "[90,4,5,7]"));
    /* Partition pruning by hour: two of three files pruned. */
    assert_null(run(fx, "SELECT count(*) FROM raw_sensor_data WHERE hour = 6", &out));
    assert_non_null(strstr(out.data, "[30]"));
    assert_non_null(strstr(out.data, "\"partitions_considered\":3,\"partitions_pruned\":2,"
                                     "\"files_opened\":1"));
    /* Time range inside hour 6, before the first row of truck-0002: one file, and row groups
     * of the devices after it are skipped by the timestamp statistics. */
    char sql[512];
    snprintf(sql, sizeof sql,
             "SELECT count(*) FROM raw_sensor_data WHERE timestamp >= %lld AND timestamp < %lld",
             (long long)hour_start(6), (long long)(hour_start(6) + 200 * INT64_C(1000000)));
    assert_null(run(fx, sql, &out));
    assert_non_null(strstr(out.data, "[10]"));
    assert_non_null(strstr(out.data, "\"partitions_pruned\":2,\"files_opened\":1,"
                                     "\"row_groups_read\":10,\"row_groups_skipped\":20"));
    /* device_id equality skips other devices' row groups; truck-0001 is not in hour 7's file
     * (its row groups are all skipped, the file is opened). */
    assert_null(run(fx,
                    "SELECT count(*), sum(temperature) FROM raw_sensor_data "
                    "WHERE device_id = 'truck-0001'",
                    &out));
    assert_non_null(strstr(out.data, "[20,"));
    assert_non_null(strstr(out.data, "\"row_groups_read\":20,\"row_groups_skipped\":70"));
    /* Values and the partition columns of one row. */
    snprintf(sql, sizeof sql,
             "SELECT device_id, timestamp = %lld, year, month, day, hour FROM raw_sensor_data "
             "WHERE device_id = 'truck-0004' ORDER BY timestamp LIMIT 1",
             (long long)(hour_start(7) + 400 * INT64_C(1000000)));
    assert_null(run(fx, sql, &out));
    assert_non_null(strstr(out.data, "[\"truck-0004\",1,2026,1,2,7]"));
    /* Contradictions and NULL comparisons prune everything and return nothing. */
    assert_null(run(fx, "SELECT count(*) FROM raw_sensor_data WHERE hour = NULL", &out));
    assert_non_null(strstr(out.data, "[0]"));
    assert_non_null(strstr(out.data, "\"files_opened\":0"));
    /* A join with the live catalog works (device_state and lake_files are readable). */
    assert_null(run(fx,
                    "SELECT count(*) FROM raw_sensor_data r JOIN lake_files f "
                    "ON f.hour = r.hour AND f.table_name = 'raw_sensor_data'",
                    &out));
    assert_non_null(strstr(out.data, "[90]"));
    assert_null(run(fx, "SELECT count(*) FROM device_state", &out));
    /* EXPLAIN lists the plan, the counters and the files read (also one left open by LIMIT). */
    {
        fl_query_error err = {0};
        fl_query_cursor *c = NULL;
        assert_int_equal(fl_query_cursor_open(fx->s,
                                              "SELECT device_id FROM raw_sensor_data "
                                              "WHERE hour >= 6 LIMIT 1",
                                              &fl_query_encoder_table, 1, &c, &err),
                         0);
        fl_buf_reset(&out);
        while (fl_query_cursor_next(c, &out, &err) > 0)
            ;
        fl_query_cursor_close(c);
        assert_non_null(strstr(out.data, "plan\n----\nQUERY PLAN\n"));
        assert_non_null(strstr(out.data, "raw_sensor_data: scans 1, partitions 3 considered, 1 "
                                         "pruned; files opened 1; row groups 1 read"));
        assert_non_null(strstr(out.data, "files read (1):\n  raw-data/year=2026/month=1/day=2/"
                                         "hour=6/"));
        assert_non_null(strstr(out.data, "result rows: 1\n"));
    }
    fl_buf_free(&out);
}

static void test_authorizer(void **state)
{
    fixture *fx = *state;
    fl_buf out = {0};
    static const char *const allowed[] = {
        "SELECT 1",
        "SELECT * FROM lake_files LIMIT 1",
        "WITH x AS (SELECT device_id FROM raw_sensor_data) SELECT count(*) FROM x",
        "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < 10) "
        "SELECT sum(x) FROM c",
        "SELECT device_id, row_number() OVER (PARTITION BY device_id ORDER BY timestamp) "
        "FROM raw_sensor_data LIMIT 3",
        "SELECT json_object('a', 1), upper('x'), abs(-1)",
    };
    for (size_t i = 0; i < sizeof allowed / sizeof allowed[0]; i++) {
        const char *code = run(fx, allowed[i], &out);
        if (code)
            fail_msg("refused: %s (%s)", allowed[i], code);
    }
    static const char *const refused[] = {
        "INSERT INTO lake_files (path) VALUES ('x')",
        "UPDATE lake_files SET state = 'retired'",
        "DELETE FROM device_state",
        "DROP TABLE lake_files",
        "CREATE TABLE t (x)",
        "CREATE TEMP TABLE t (x)",
        "CREATE VIEW v AS SELECT 1",
        "CREATE INDEX i ON lake_files (rows)",
        "ALTER TABLE lake_files ADD COLUMN y",
        "ATTACH DATABASE '/tmp/x.db' AS x",
        "DETACH DATABASE main",
        "PRAGMA journal_mode = DELETE",
        "PRAGMA query_only = 0",
        "PRAGMA table_info(lake_files)",
        "SELECT * FROM pragma_table_info('lake_files')",
        "SELECT load_extension('/tmp/evil.so')",
        "SELECT printf('%.*c', 1000000000, 'x')",
        "BEGIN",
        "COMMIT",
        "SAVEPOINT a",
        "VACUUM",
        "REINDEX",
        "ANALYZE",
        "CREATE VIRTUAL TABLE temp.x USING raw_sensor_data",
        "REPLACE INTO device_state (device_id) VALUES ('x')",
    };
    for (size_t i = 0; i < sizeof refused / sizeof refused[0]; i++) {
        const char *code = run(fx, refused[i], &out);
        if (!code || (strcmp(code, "not_allowed") != 0 && strcmp(code, "sql_error") != 0))
            fail_msg("not refused: %s (%s)", refused[i], code ? code : "ok");
    }
    assert_string_equal(run(fx, "DELETE FROM lake_files", &out), "not_allowed");
    assert_string_equal(run(fx, "SELECT 1; DELETE FROM lake_files", &out), "sql_error");
    /* After all that the catalog is intact. */
    assert_null(run(fx, "SELECT count(*) FROM lake_files", &out));
    assert_non_null(strstr(out.data, "[3]"));
    fl_buf_free(&out);
}

static void test_limits(void **state)
{
    fixture *fx = *state;
    fl_buf out = {0};
    assert_string_equal(run(fx,
                            "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c) "
                            "SELECT count(*) FROM c",
                            &out),
                        "timeout");
    assert_string_equal(
        run(fx, "SELECT a.device_id FROM raw_sensor_data a, raw_sensor_data b", &out),
        "too_many_rows");
    assert_non_null(strstr(out.data, "\"error\":{\"code\":\"too_many_rows\""));
    char big[5000];
    memset(big, ' ', sizeof big);
    memcpy(big, "SELECT 1", 8);
    big[sizeof big - 1] = 0;
    assert_string_equal(run(fx, big, &out), "sql_error");
    assert_string_equal(run(fx, "SELEC 1", &out), "sql_error");
    assert_string_equal(run(fx, "", &out), "sql_error");
    /* Memory: a sort of 729,000 rows needs more than 256 KiB of SQLite heap. */
    int64_t saved = fx->s->limits.memory_bytes;
    fx->s->limits.memory_bytes = 256 * 1024;
    assert_string_equal(run(fx,
                            "SELECT count(*) FROM (SELECT a.timestamp FROM raw_sensor_data a, "
                            "raw_sensor_data b, raw_sensor_data c "
                            "ORDER BY a.temperature * b.temperature * c.timestamp)",
                            &out),
                        "out_of_memory");
    fx->s->limits.memory_bytes = saved;
    /* The session still works. */
    assert_null(run(fx, "SELECT count(*) FROM raw_sensor_data", &out));
    assert_non_null(strstr(out.data, "[90]"));
    fl_buf_free(&out);
}

static void test_snapshot_isolation(void **state)
{
    fixture *fx = *state;
    fl_buf out = {0};
    fl_query_error err = {0};
    fl_query_cursor *c = NULL;
    /* A correlated subquery scans the table once per outer row: each scan reads the catalog
     * again, within the statement's snapshot. */
    const char *sql = "SELECT v, (SELECT count(*) FROM raw_sensor_data WHERE year >= v) "
                      "FROM (SELECT 1 AS v UNION ALL SELECT 2 UNION ALL SELECT 3) ORDER BY v";
    assert_int_equal(fl_query_cursor_open(fx->s, sql, &fl_query_encoder_ndjson, 0, &c, &err), 0);
    add_file(fx, 8, 1, 1, NULL, 0); /* +10 rows, committed mid-statement */
    assert_int_equal(fl_catalog_file_retire(fx->cat, fx->hour5_path, 1), 0);
    int more;
    while ((more = fl_query_cursor_next(c, &out, &err)) > 0)
        ;
    assert_int_equal(more, 0);
    fl_query_cursor_close(c);
    /* Every row saw the 90 rows of the snapshot. */
    assert_non_null(strstr(out.data, "{\"v\":1,\"(SELECT count(*) FROM raw_sensor_data WHERE "
                                     "year >= v)\":90}"));
    assert_non_null(strstr(out.data, "\"v\":3,\"(SELECT count(*) FROM raw_sensor_data WHERE "
                                     "year >= v)\":90}"));
    /* The next statement sees the new file and not the retired one (hour 5's 30 rows). */
    assert_null(run(fx, "SELECT count(*) FROM raw_sensor_data", &out));
    assert_non_null(strstr(out.data, "[70]"));
    fl_buf_free(&out);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_results_and_pruning, setup, teardown),
        cmocka_unit_test_setup_teardown(test_authorizer, setup, teardown),
        cmocka_unit_test_setup_teardown(test_limits, setup, teardown),
        cmocka_unit_test_setup_teardown(test_snapshot_isolation, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
