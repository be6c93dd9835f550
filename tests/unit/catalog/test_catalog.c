/* test_catalog.c — meta.db's catalog: migrations (idempotent, version recorded, newer refused),
 * lake_files insert/get/query by table and partition, NULL columns, duplicate paths,
 * retirement, per-partition high-water marks, and transactions: a file row and a consumer
 * checkpoint commit together or roll back together; the lifecycle's moves (tier + location),
 * removals and scheduled deletions (lake_deletes). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "catalog/catalog.h"
#include "stream/stream.h"

#define FL_EIO_TEST (-5) /* -EIO: any error from a transaction body */

static int setup(void **state)
{
    fl_catalog *c = NULL;
    if (fl_catalog_open(":memory:", &c))
        return -1;
    if (fl_stream_checkpoint_init(fl_catalog_db(c)))
        return -1;
    *state = c;
    return 0;
}

static int teardown(void **state)
{
    fl_catalog_close(*state);
    return 0;
}

static fl_lake_file file(const char *path, int y, int m, int d, int h, int shard, uint64_t first,
                         uint64_t last)
{
    fl_lake_file f;
    memset(&f, 0, sizeof f);
    snprintf(f.path, sizeof f.path, "%s", path);
    snprintf(f.table_name, sizeof f.table_name, "raw_sensor_data");
    f.year = y;
    f.month = m;
    f.day = d;
    f.hour = h;
    f.rows = (int64_t)(last - first + 1);
    f.bytes = 1000 + f.rows;
    f.min_ts = 1000;
    f.max_ts = 2000;
    f.shard = shard;
    f.first_seq = first;
    f.last_seq = last;
    f.retired_at = -1;
    return f;
}

struct due {
    char paths[4][FL_CATALOG_PATH_MAX], locations[4][FL_CATALOG_PATH_MAX];
    int n;
};

static int on_due(void *arg, const fl_catalog_delete *d)
{
    struct due *u = arg;
    assert_true(u->n < 4);
    snprintf(u->paths[u->n], FL_CATALOG_PATH_MAX, "%s", d->path);
    snprintf(u->locations[u->n], FL_CATALOG_PATH_MAX, "%s", d->location);
    u->n++;
    return 0;
}

static void lifecycle_rows(void **state)
{
    fl_catalog *c = *state;
    fl_lake_file f = file("raw-data/a.parquet", 2026, 1, 2, 3, 0, 1, 10), got;
    assert_int_equal(fl_catalog_file_insert(c, &f), 0);
    assert_int_equal(fl_catalog_file_get(c, f.path, &got), 0);
    assert_string_equal(got.tier, "hot");
    assert_string_equal(got.location, ""); /* NULL: the main lake */

    assert_int_equal(fl_catalog_file_move(c, f.path, "warm", "/vol/warm"), 0);
    assert_int_equal(fl_catalog_file_get(c, f.path, &got), 0);
    assert_string_equal(got.tier, "warm");
    assert_string_equal(got.location, "/vol/warm");
    assert_int_equal(got.rows, 10);
    assert_int_equal(fl_catalog_file_move(c, "raw-data/none.parquet", "warm", "/x"),
                     FL_ENOTFOUND);
    assert_int_equal(fl_catalog_file_move(c, f.path, "", NULL), FL_EINVAL);

    /* an inserted row keeps its location; a retired row is neither moved nor removed */
    fl_lake_file g = file("raw-data/b.parquet", 2026, 1, 2, 3, 1, 1, 5);
    snprintf(g.location, sizeof g.location, "/vol/warm");
    snprintf(g.tier, sizeof g.tier, "warm");
    assert_int_equal(fl_catalog_file_insert(c, &g), 0);
    assert_int_equal(fl_catalog_file_get(c, g.path, &got), 0);
    assert_string_equal(got.location, "/vol/warm");
    assert_int_equal(fl_catalog_file_retire(c, g.path, 99), 0);
    assert_int_equal(fl_catalog_file_move(c, g.path, "cold", NULL), FL_ENOTFOUND);
    assert_int_equal(fl_catalog_file_remove(c, g.path), FL_ENOTFOUND);

    assert_int_equal(fl_catalog_file_move(c, f.path, "cold", NULL), 0);
    assert_int_equal(fl_catalog_file_get(c, f.path, &got), 0);
    assert_string_equal(got.location, "");
    assert_int_equal(fl_catalog_file_remove(c, f.path), 0);
    assert_int_equal(fl_catalog_file_get(c, f.path, &got), FL_ENOTFOUND);

    /* scheduled deletions: due by time, rescheduling replaces, done forgets */
    assert_int_equal(fl_catalog_delete_schedule(c, "k1", "", 100, "expired"), 0);
    assert_int_equal(fl_catalog_delete_schedule(c, "k1", "/vol/warm", 300, "moved"), 0);
    assert_int_equal(fl_catalog_delete_schedule(c, "k2", NULL, 200, "moved"), 0);
    struct due u = {0};
    assert_int_equal(fl_catalog_deletes_query(c, 150, on_due, &u), 0);
    assert_int_equal(u.n, 1);
    assert_string_equal(u.paths[0], "k1");
    assert_string_equal(u.locations[0], "");
    assert_int_equal(fl_catalog_delete_schedule(c, "k1", "", 400, "expired"), 0);
    memset(&u, 0, sizeof u);
    assert_int_equal(fl_catalog_deletes_query(c, 350, on_due, &u), 0);
    assert_int_equal(u.n, 2); /* k1 at /vol/warm (300), k2 (200); k1 main moved to 400 */
    assert_string_equal(u.paths[0], "k1");
    assert_string_equal(u.locations[0], "/vol/warm");
    assert_string_equal(u.paths[1], "k2");
    assert_int_equal(fl_catalog_delete_done(c, "k1", "/vol/warm"), 0);
    assert_int_equal(fl_catalog_delete_done(c, "k2", ""), 0);
    assert_int_equal(fl_catalog_delete_done(c, "nothing", ""), 0);
    memset(&u, 0, sizeof u);
    assert_int_equal(fl_catalog_deletes_query(c, INT64_MAX, on_due, &u), 0);
    assert_int_equal(u.n, 1);
    assert_string_equal(u.paths[0], "k1");
}

static void insert_get(void **state)
{
    fl_catalog *c = *state;
    assert_int_equal(fl_catalog_schema_version(c), 5);
    fl_lake_file f = file("raw-data/year=2026/month=1/day=5/hour=1/part-0-1-10.parquet", 2026, 1,
                          5, 1, 0, 1, 10);
    assert_int_equal(fl_catalog_file_insert(c, &f), 0);
    assert_int_equal(fl_catalog_file_insert(c, &f), FL_EEXISTS);
    fl_lake_file g;
    assert_int_equal(fl_catalog_file_get(c, f.path, &g), 0);
    assert_string_equal(g.path, f.path);
    assert_string_equal(g.table_name, "raw_sensor_data");
    assert_int_equal(g.year, 2026);
    assert_int_equal(g.month, 1);
    assert_int_equal(g.day, 5);
    assert_int_equal(g.hour, 1);
    assert_int_equal(g.rows, 10);
    assert_int_equal(g.bytes, 1010);
    assert_int_equal(g.min_ts, 1000);
    assert_int_equal(g.max_ts, 2000);
    assert_int_equal(g.shard, 0);
    assert_int_equal(g.first_seq, 1);
    assert_int_equal(g.last_seq, 10);
    assert_string_equal(g.tier, "hot");
    assert_string_equal(g.state, "live");
    assert_true(g.created_at > INT64_C(1600000000000000));
    assert_int_equal(g.retired_at, -1);
    assert_int_equal(fl_catalog_file_get(c, "raw-data/nope", &g), FL_ENOTFOUND);

    /* NULLs: no hour, no shard, no sequence range */
    fl_lake_file s = file("curated-data/hourly_summary/year=2026/month=1/day=5/part-x.parquet",
                          2026, 1, 5, -1, -1, 0, 0);
    snprintf(s.table_name, sizeof s.table_name, "hourly_summary");
    s.rows = 3;
    assert_int_equal(fl_catalog_file_insert(c, &s), 0);
    assert_int_equal(fl_catalog_file_get(c, s.path, &g), 0);
    assert_int_equal(g.hour, -1);
    assert_int_equal(g.shard, -1);
    assert_int_equal(g.first_seq, 0);
    assert_int_equal(g.last_seq, 0);
    sqlite3_stmt *st;
    assert_int_equal(sqlite3_prepare_v2(fl_catalog_db(c),
                                        "SELECT count(*) FROM lake_files WHERE hour IS NULL AND "
                                        "shard IS NULL AND first_seq IS NULL",
                                        -1, &st, NULL),
                     SQLITE_OK);
    assert_int_equal(sqlite3_step(st), SQLITE_ROW);
    assert_int_equal(sqlite3_column_int(st, 0), 1);
    sqlite3_finalize(st);

    fl_lake_file bad = f;
    bad.path[0] = 0;
    assert_int_equal(fl_catalog_file_insert(c, &bad), FL_EINVAL);
}

struct seen {
    char paths[8][FL_CATALOG_PATH_MAX];
    int n;
};

static int collect(void *arg, const fl_lake_file *f)
{
    struct seen *s = arg;
    if (s->n < 8)
        snprintf(s->paths[s->n++], sizeof s->paths[0], "%s", f->path);
    return 0;
}

static void query_by_partition(void **state)
{
    fl_catalog *c = *state;
    fl_lake_file fs[] = {
        file("raw-data/year=2026/month=1/day=5/hour=1/part-0-1-10.parquet", 2026, 1, 5, 1, 0, 1, 10),
        file("raw-data/year=2026/month=1/day=5/hour=1/part-1-1-4.parquet", 2026, 1, 5, 1, 1, 1, 4),
        file("raw-data/year=2026/month=1/day=5/hour=2/part-0-11-20.parquet", 2026, 1, 5, 2, 0, 11, 20),
        file("raw-data/year=2025/month=12/day=31/hour=23/part-0-21-21.parquet", 2025, 12, 31, 23, 0,
             21, 21),
    };
    for (size_t i = 0; i < 4; i++)
        assert_int_equal(fl_catalog_file_insert(c, &fs[i]), 0);
    struct seen s = {0};
    fl_catalog_filter flt = fl_catalog_filter_table("raw_sensor_data");
    assert_int_equal(fl_catalog_files_query(c, &flt, collect, &s), 0);
    assert_int_equal(s.n, 4);
    assert_string_equal(s.paths[0], fs[3].path); /* ordered by path */
    memset(&s, 0, sizeof s);
    flt.year = 2026;
    flt.hour = 1;
    assert_int_equal(fl_catalog_files_query(c, &flt, collect, &s), 0);
    assert_int_equal(s.n, 2);
    memset(&s, 0, sizeof s);
    flt.shard = 1;
    assert_int_equal(fl_catalog_files_query(c, &flt, collect, &s), 0);
    assert_int_equal(s.n, 1);
    assert_string_equal(s.paths[0], fs[1].path);
    int64_t files = 0, rows = 0, bytes = 0;
    flt = fl_catalog_filter_table("raw_sensor_data");
    flt.shard = 0;
    assert_int_equal(fl_catalog_files_count(c, &flt, &files, &rows, &bytes), 0);
    assert_int_equal(files, 3);
    assert_int_equal(rows, 10 + 10 + 1);
    assert_int_equal(bytes, 1010 + 1010 + 1001);
    flt = fl_catalog_filter_table("other_table");
    assert_int_equal(fl_catalog_files_count(c, &flt, &files, &rows, NULL), 0);
    assert_int_equal(files, 0);
    assert_int_equal(rows, 0);

    /* retire: state filter */
    assert_int_equal(fl_catalog_file_retire(c, fs[0].path, 5), 0);
    assert_int_equal(fl_catalog_file_retire(c, fs[0].path, 6), FL_ENOTFOUND);
    flt = fl_catalog_filter_table("raw_sensor_data");
    flt.state = FL_CATALOG_STATE_LIVE;
    assert_int_equal(fl_catalog_files_count(c, &flt, &files, NULL, NULL), 0);
    assert_int_equal(files, 3);
    fl_lake_file g;
    assert_int_equal(fl_catalog_file_get(c, fs[0].path, &g), 0);
    assert_string_equal(g.state, "retired");
    assert_int_equal(g.retired_at, 5);
}

static int stop_cb(void *arg, const fl_lake_file *f)
{
    (void)f;
    ++*(int *)arg;
    return 7;
}

struct hwms {
    int n;
    int32_t y[8], m[8], d[8], h[8];
    uint64_t last[8];
};

static int on_hwm(void *arg, int32_t y, int32_t m, int32_t d, int32_t h, uint64_t last)
{
    struct hwms *w = arg;
    w->y[w->n] = y;
    w->m[w->n] = m;
    w->d[w->n] = d;
    w->h[w->n] = h;
    w->last[w->n++] = last;
    return 0;
}

static void high_water_marks(void **state)
{
    fl_catalog *c = *state;
    fl_lake_file fs[] = {
        file("raw-data/a/part-0-1-10.parquet", 2026, 1, 5, 1, 0, 1, 10),
        file("raw-data/a/part-0-15-30.parquet", 2026, 1, 5, 1, 0, 15, 30),
        file("raw-data/b/part-0-11-14.parquet", 2026, 1, 5, 2, 0, 11, 14),
        file("raw-data/a/part-1-1-99.parquet", 2026, 1, 5, 1, 1, 1, 99), /* other shard */
    };
    for (size_t i = 0; i < 4; i++)
        assert_int_equal(fl_catalog_file_insert(c, &fs[i]), 0);
    assert_int_equal(fl_catalog_file_retire(c, fs[1].path, 1), 0); /* retired still counts */
    struct hwms w = {0};
    assert_int_equal(fl_catalog_high_water_marks(c, "raw_sensor_data", 0, on_hwm, &w), 0);
    assert_int_equal(w.n, 2);
    assert_int_equal(w.h[0], 1);
    assert_int_equal(w.last[0], 30);
    assert_int_equal(w.h[1], 2);
    assert_int_equal(w.last[1], 14);
    assert_int_equal(w.y[0], 2026);
    assert_int_equal(w.m[0], 1);
    assert_int_equal(w.d[0], 5);
    memset(&w, 0, sizeof w);
    assert_int_equal(fl_catalog_high_water_marks(c, "raw_sensor_data", 2, on_hwm, &w), 0);
    assert_int_equal(w.n, 0);
    int calls = 0;
    fl_catalog_filter flt = fl_catalog_filter_table("raw_sensor_data");
    assert_int_equal(fl_catalog_files_query(c, &flt, stop_cb, &calls), 7);
    assert_int_equal(calls, 1);
}

struct txn_arg {
    fl_lake_file f;
    uint64_t ckpt;
    int fail_with;
};

static int txn_body(fl_catalog *c, void *arg)
{
    struct txn_arg *a = arg;
    int rc = fl_catalog_file_insert(c, &a->f);
    if (!rc)
        rc = fl_stream_checkpoint_save(fl_catalog_db(c), "raw-delivery", 0, a->ckpt);
    return rc ? rc : a->fail_with;
}

static void transaction_commit_and_rollback(void **state)
{
    fl_catalog *c = *state;
    struct txn_arg a = {file("raw-data/t/part-0-1-5.parquet", 2026, 1, 1, 0, 0, 1, 5), 5, 0};
    assert_int_equal(fl_catalog_transaction(c, txn_body, &a), 0);
    uint64_t seq = 0;
    assert_int_equal(fl_stream_checkpoint_load(fl_catalog_db(c), "raw-delivery", 0, &seq), 0);
    assert_int_equal(seq, 5);

    /* the body fails after both writes: neither is kept */
    struct txn_arg b = {file("raw-data/t/part-0-6-9.parquet", 2026, 1, 1, 0, 0, 6, 9), 9, FL_EIO_TEST};
    assert_int_equal(fl_catalog_transaction(c, txn_body, &b), FL_EIO_TEST);
    fl_lake_file g;
    assert_int_equal(fl_catalog_file_get(c, b.f.path, &g), FL_ENOTFOUND);
    assert_int_equal(fl_stream_checkpoint_load(fl_catalog_db(c), "raw-delivery", 0, &seq), 0);
    assert_int_equal(seq, 5);

    /* a duplicate path fails the insert: the checkpoint is not saved either */
    struct txn_arg d = {file("raw-data/t/part-0-1-5.parquet", 2026, 1, 1, 0, 0, 1, 5), 77, 0};
    assert_int_equal(fl_catalog_transaction(c, txn_body, &d), FL_EEXISTS);
    assert_int_equal(fl_stream_checkpoint_load(fl_catalog_db(c), "raw-delivery", 0, &seq), 0);
    assert_int_equal(seq, 5);

    /* explicit begin/rollback; begin twice is a programmer error */
    assert_int_equal(fl_catalog_begin(c), 0);
    assert_int_equal(fl_catalog_begin(c), FL_EINVAL);
    assert_int_equal(fl_catalog_file_insert(c, &b.f), 0);
    fl_catalog_rollback(c);
    assert_int_equal(fl_catalog_file_get(c, b.f.path, &g), FL_ENOTFOUND);
    assert_int_equal(fl_catalog_commit(c), FL_EINVAL);
    fl_catalog_rollback(c); /* no transaction: harmless */
}

static void reopen_file_and_newer_schema(void **state)
{
    (void)state;
    char path[256];
    const char *base = getenv("FL_TEST_TMP");
    snprintf(path, sizeof path, "%s/catalog-%d.db", base && *base ? base : "/tmp", (int)getpid());
    unlink(path);
    fl_catalog *c = NULL;
    assert_int_equal(fl_catalog_open(path, &c), 0);
    fl_lake_file f = file("raw-data/r/part-0-1-1.parquet", 2026, 1, 1, 0, 0, 1, 1);
    assert_int_equal(fl_catalog_file_insert(c, &f), 0);
    fl_catalog_close(c);
    /* a second open migrates nothing and keeps the rows */
    assert_int_equal(fl_catalog_open(path, &c), 0);
    assert_int_equal(fl_catalog_schema_version(c), 5);
    fl_lake_file g;
    assert_int_equal(fl_catalog_file_get(c, f.path, &g), 0);
    /* a meta.db from a newer fleetlake is refused, not misread */
    assert_int_equal(sqlite3_exec(fl_catalog_db(c),
                                  "INSERT INTO catalog_migrations VALUES (99, 0)", NULL, NULL,
                                  NULL),
                     SQLITE_OK);
    fl_catalog_close(c);
    c = NULL;
    assert_int_equal(fl_catalog_open(path, &c), FL_EUNSUPPORTED);
    assert_null(c);
    char side[300];
    unlink(path);
    snprintf(side, sizeof side, "%s-wal", path);
    unlink(side);
    snprintf(side, sizeof side, "%s-shm", path);
    unlink(side);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(insert_get, setup, teardown),
        cmocka_unit_test_setup_teardown(lifecycle_rows, setup, teardown),
        cmocka_unit_test_setup_teardown(query_by_partition, setup, teardown),
        cmocka_unit_test_setup_teardown(high_water_marks, setup, teardown),
        cmocka_unit_test_setup_teardown(transaction_commit_and_rollback, setup, teardown),
        cmocka_unit_test(reopen_file_and_newer_schema),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
