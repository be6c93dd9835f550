/* test_checkpoint.c — consumer checkpoints in an in-memory SQLite database: save, load,
 * overwrite (upsert), per-shard and per-consumer separation, not-found, and errors. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "stream/stream.h"

static int setup(void **state)
{
    sqlite3 *db = NULL;
    if (sqlite3_open(":memory:", &db) != SQLITE_OK)
        return -1;
    *state = db;
    return fl_stream_checkpoint_init(db) == 0 ? 0 : -1;
}

static int teardown(void **state)
{
    sqlite3_close(*state);
    return 0;
}

static void save_load_overwrite(void **state)
{
    sqlite3 *db = *state;
    uint64_t seq = 12345;
    assert_int_equal(fl_stream_checkpoint_load(db, "raw", 0, &seq), FL_ENOTFOUND);
    assert_int_equal(seq, 12345);
    assert_int_equal(fl_stream_checkpoint_save(db, "raw", 0, 42), 0);
    assert_int_equal(fl_stream_checkpoint_load(db, "raw", 0, &seq), 0);
    assert_int_equal(seq, 42);
    assert_int_equal(fl_stream_checkpoint_save(db, "raw", 0, 99), 0);
    assert_int_equal(fl_stream_checkpoint_load(db, "raw", 0, &seq), 0);
    assert_int_equal(seq, 99);
    /* other shards and consumers are separate rows */
    assert_int_equal(fl_stream_checkpoint_load(db, "raw", 1, &seq), FL_ENOTFOUND);
    assert_int_equal(fl_stream_checkpoint_load(db, "processor", 0, &seq), FL_ENOTFOUND);
    assert_int_equal(fl_stream_checkpoint_save(db, "processor", 0, 7), 0);
    assert_int_equal(fl_stream_checkpoint_save(db, "raw", 255, (uint64_t)INT64_MAX), 0);
    assert_int_equal(fl_stream_checkpoint_load(db, "raw", 255, &seq), 0);
    assert_int_equal(seq, (uint64_t)INT64_MAX);
    assert_int_equal(fl_stream_checkpoint_load(db, "raw", 0, &seq), 0);
    assert_int_equal(seq, 99);
    sqlite3_stmt *st;
    assert_int_equal(sqlite3_prepare_v2(db, "SELECT count(*), min(updated_at) FROM stream_checkpoints",
                                        -1, &st, NULL),
                     SQLITE_OK);
    assert_int_equal(sqlite3_step(st), SQLITE_ROW);
    assert_int_equal(sqlite3_column_int(st, 0), 3);
    assert_true(sqlite3_column_int64(st, 1) > INT64_C(1600000000000000)); /* µs, not s */
    sqlite3_finalize(st);
    /* init is idempotent */
    assert_int_equal(fl_stream_checkpoint_init(db), 0);
}

static void checkpoint_in_caller_transaction(void **state)
{
    sqlite3 *db = *state;
    uint64_t seq;
    assert_int_equal(sqlite3_exec(db, "BEGIN", NULL, NULL, NULL), SQLITE_OK);
    assert_int_equal(fl_stream_checkpoint_save(db, "tx", 3, 10), 0);
    assert_int_equal(sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL), SQLITE_OK);
    assert_int_equal(fl_stream_checkpoint_load(db, "tx", 3, &seq), FL_ENOTFOUND);
}

static void errors(void **state)
{
    sqlite3 *db = *state;
    uint64_t seq;
    assert_int_equal(fl_stream_checkpoint_save(db, "x", 0, (uint64_t)INT64_MAX + 1), FL_EINVAL);
    assert_int_equal(fl_stream_checkpoint_save(NULL, "x", 0, 1), FL_EINVAL);
    assert_int_equal(fl_stream_checkpoint_load(db, NULL, 0, &seq), FL_EINVAL);
    assert_int_equal(sqlite3_exec(db, "DROP TABLE stream_checkpoints", NULL, NULL, NULL),
                     SQLITE_OK);
    assert_int_equal(fl_stream_checkpoint_save(db, "x", 0, 1), FL_ESQLITE);
    assert_int_equal(fl_stream_checkpoint_load(db, "x", 0, &seq), FL_ESQLITE);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(save_load_overwrite, setup, teardown),
        cmocka_unit_test_setup_teardown(checkpoint_in_caller_transaction, setup, teardown),
        cmocka_unit_test_setup_teardown(errors, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
