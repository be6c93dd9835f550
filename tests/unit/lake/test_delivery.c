/* test_delivery.c — the delivery consumer core, driven without threads: an injected clock, a
 * stand-in encoder that writes each row's sequence number as text (so files can be checked
 * without the Parquet reader), the real local object store and a real meta.db. Flushes by
 * size, by interval and by the partition limit; late records in their own partition; a failed
 * publish keeps the rows and retries after the backoff; undecodable records are skipped; and
 * exactly-once across crashes at every point: random flushes, kills without flushing, orphans
 * left between publish and catalog commit — every record ends in exactly one committed file
 * of its own partition. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <errno.h>
#include <inttypes.h>

#include "ingest/ingest.h"
#include "lake/lake_int.h"
#include "lake_test_util.h"

#define HOUR_US (INT64_C(3600) * FL_US_PER_SEC)
#define BASE_US (INT64_C(1767225600) * FL_US_PER_SEC) /* 2026-01-01T00:00:00Z */
#define SEQ_COLUMN 12                                  /* raw_sensor_data.sequence_number */

struct fx {
    char dir[512];
    char root[600];
    char meta[600];
    fl_objstore *store;
    fl_catalog *cat;
    lake_consumer *c;
    int64_t now; /* the injected clock */
    fl_buf payload;
    int encode_fail; /* make the next encode fail with this */
};

static int64_t fake_clock(void *ctx)
{
    return ((struct fx *)ctx)->now;
}

/* Writes "seq\n" per row: enough to check which records a file holds. */
static int text_encode(void *ctx, const lake_table_spec *spec, const lake_partition_buf *p,
                       fl_objstore_writer *w)
{
    struct fx *f = ctx;
    if (f->encode_fail) {
        int rc = f->encode_fail;
        f->encode_fail = 0;
        return rc;
    }
    (void)spec;
    const int64_t *seqs = (const int64_t *)p->cols[SEQ_COLUMN].values.data;
    for (size_t i = 0; i < p->rows; i++) {
        char line[32];
        int n = snprintf(line, sizeof line, "%" PRId64 "\n", seqs[i]);
        int rc = fl_objstore_put_write(w, line, (size_t)n);
        if (rc)
            return rc;
    }
    return 0;
}

static lake_consumer_options options(struct fx *f)
{
    lake_consumer_options o = {
        .spec = &lake_raw_table,
        .shard = 0,
        .store = f->store,
        .catalog = f->cat,
        .buffer_bytes = 1 << 20,
        .buffer_interval_us = 60 * FL_US_PER_SEC,
        .max_active_partitions = 500,
        .clock = fake_clock,
        .clock_ctx = f,
        .encode = text_encode,
        .encode_ctx = f,
    };
    return o;
}

static void open_all(struct fx *f, const lake_consumer_options *o, uint64_t *resume)
{
    assert_int_equal(fl_objstore_local_create(f->root, &f->store), 0);
    assert_int_equal(fl_catalog_open(f->meta, &f->cat), 0);
    assert_int_equal(fl_stream_checkpoint_init(fl_catalog_db(f->cat)), 0);
    lake_consumer_options oo = o ? *o : options(f);
    oo.store = f->store;
    oo.catalog = f->cat;
    assert_int_equal(lake_consumer_create(&oo, &f->c), 0);
    uint64_t r = 0;
    assert_int_equal(lake_consumer_recover(f->c, fl_time_now_us(), &r), 0);
    if (resume)
        *resume = r;
}

/* A crash: everything in memory is lost, nothing is flushed. */
static void crash(struct fx *f)
{
    lake_consumer_destroy(f->c);
    fl_catalog_close(f->cat);
    fl_objstore_destroy(f->store);
    f->c = NULL;
    f->cat = NULL;
    f->store = NULL;
}

static int setup(void **state)
{
    struct fx *f = calloc(1, sizeof *f);
    lt_tmpdir("delivery", f->dir, sizeof f->dir);
    snprintf(f->root, sizeof f->root, "%s/lake", f->dir);
    snprintf(f->meta, sizeof f->meta, "%s/meta.db", f->dir);
    f->now = 1000 * FL_US_PER_SEC;
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fx *f = *state;
    fl_fs_fault_clear();
    crash(f);
    fl_buf_free(&f->payload);
    lt_rm_rf(f->dir);
    free(f);
    return 0;
}

static int offer(struct fx *f, uint64_t seq, int64_t event_us)
{
    char dev[32];
    snprintf(dev, sizeof dev, "truck-%03u", (unsigned)(seq % 50));
    fl_record r;
    memset(&r, 0, sizeof r);
    r.device_id = fl_slice_from_cstr(dev);
    r.timestamp_us = event_us;
    r.temperature = 20.5;
    r.present = FL_REC_TEMPERATURE;
    fl_buf_reset(&f->payload);
    assert_int_equal(fl_record_encode(&r, &f->payload), 0);
    fl_stream_record rec = {0, seq, BASE_US + (int64_t)seq, FL_STREAM_KIND_SENSOR,
                            fl_slice_from_cstr(dev), {f->payload.data, f->payload.len}};
    return lake_consumer_offer(f->c, &rec);
}

static int64_t count_rows(struct fx *f, int64_t *files)
{
    int64_t rows = 0;
    fl_catalog_filter flt = fl_catalog_filter_table(FL_LAKE_RAW_TABLE);
    assert_int_equal(fl_catalog_files_count(f->cat, &flt, files, &rows, NULL), 0);
    return rows;
}

static uint64_t saved_checkpoint(struct fx *f)
{
    uint64_t s = 0;
    int rc = fl_stream_checkpoint_load(fl_catalog_db(f->cat), FL_LAKE_RAW_CONSUMER, 0, &s);
    assert_true(rc == 0 || rc == FL_ENOTFOUND);
    return s;
}

static void flush_by_size(void **state)
{
    struct fx *f = *state;
    lake_consumer_options o = options(f);
    o.buffer_bytes = 2000; /* a row is ~60 bytes in the columns: ~34 rows */
    open_all(f, &o, NULL);
    uint64_t seq = 0;
    int64_t files = 0;
    while (f->c->files_committed == 0 && seq < 1000)
        assert_int_equal(offer(f, ++seq, BASE_US + 5 * HOUR_US), 0);
    assert_true(seq > 10 && seq < 100);
    assert_int_equal(f->c->flushes[LAKE_FLUSH_SIZE], 1);
    assert_int_equal(count_rows(f, &files), (int64_t)seq);
    assert_int_equal(files, 1);
    assert_int_equal(saved_checkpoint(f), seq);
    assert_int_equal(f->c->nparts, 0);
    char key[256];
    snprintf(key, sizeof key, "raw-data/year=2026/month=1/day=1/hour=5/part-0-1-%" PRIu64 ".parquet",
             seq);
    fl_lake_file row;
    assert_int_equal(fl_catalog_file_get(f->cat, key, &row), 0);
    assert_int_equal(row.hour, 5);
    assert_int_equal(row.month, 1);
    assert_int_equal(row.min_ts, BASE_US + 5 * HOUR_US);
    assert_true(lt_exists(f->root, key));
}

static void flush_by_interval(void **state)
{
    struct fx *f = *state;
    open_all(f, NULL, NULL);
    int64_t t0 = f->now;
    for (uint64_t s = 1; s <= 3; s++)
        assert_int_equal(offer(f, s, BASE_US + 2 * HOUR_US + (int64_t)s), 0);
    f->now = t0 + 30 * FL_US_PER_SEC;
    assert_int_equal(offer(f, 4, BASE_US + 7 * HOUR_US), 0); /* a second partition, opened later */
    f->now = t0 + 60 * FL_US_PER_SEC - 1;
    assert_int_equal(lake_consumer_tick(f->c), 0);
    assert_int_equal(f->c->files_committed, 0);
    f->now = t0 + 60 * FL_US_PER_SEC; /* the first partition is due, the second is not */
    assert_int_equal(lake_consumer_tick(f->c), 0);
    assert_int_equal(f->c->files_committed, 1);
    assert_int_equal(f->c->flushes[LAKE_FLUSH_INTERVAL], 1);
    assert_true(lt_exists(f->root, "raw-data/year=2026/month=1/day=1/hour=2/part-0-1-3.parquet"));
    assert_int_equal(saved_checkpoint(f), 3); /* seq 4 is still buffered */
    f->now = t0 + 90 * FL_US_PER_SEC;
    assert_int_equal(lake_consumer_tick(f->c), 0);
    assert_int_equal(f->c->files_committed, 2);
    assert_int_equal(saved_checkpoint(f), 4);
    assert_true(lt_exists(f->root, "raw-data/year=2026/month=1/day=1/hour=7/part-0-4-4.parquet"));
}

static void flush_by_partition_limit_and_late_records(void **state)
{
    struct fx *f = *state;
    lake_consumer_options o = options(f);
    o.max_active_partitions = 2;
    open_all(f, &o, NULL);
    f->now += 1;
    assert_int_equal(offer(f, 1, BASE_US + 10 * HOUR_US), 0); /* hour 10 */
    f->now += 1;
    assert_int_equal(offer(f, 2, BASE_US + 11 * HOUR_US), 0); /* hour 11 */
    f->now += 1;
    assert_int_equal(offer(f, 3, BASE_US + 10 * HOUR_US), 0); /* hour 10 again: 11 is now LRU */
    f->now += 1;
    assert_int_equal(offer(f, 4, BASE_US - 20 * HOUR_US), 0); /* late: Dec 31, hour 4 */
    assert_int_equal(f->c->flushes[LAKE_FLUSH_PARTITIONS], 1);
    assert_true(lt_exists(f->root, "raw-data/year=2026/month=1/day=1/hour=11/part-0-2-2.parquet"));
    assert_int_equal(saved_checkpoint(f), 0); /* seq 1 (hour 10) is still buffered */
    assert_int_equal(f->c->nparts, 2);
    assert_int_equal(lake_consumer_flush_all(f->c, LAKE_FLUSH_SHUTDOWN), 0);
    assert_int_equal(f->c->flushes[LAKE_FLUSH_SHUTDOWN], 2);
    assert_true(lt_exists(f->root, "raw-data/year=2026/month=1/day=1/hour=10/part-0-1-3.parquet"));
    /* the late record is alone in its own event-time partition, never mixed into hour 10 */
    assert_true(lt_exists(f->root, "raw-data/year=2025/month=12/day=31/hour=4/part-0-4-4.parquet"));
    assert_int_equal(saved_checkpoint(f), 4);
}

static void failed_publish_keeps_rows(void **state)
{
    struct fx *f = *state;
    open_all(f, NULL, NULL);
    for (uint64_t s = 1; s <= 5; s++)
        assert_int_equal(offer(f, s, BASE_US), 0);
    fl_fs_fault_add(FL_FS_RENAME, EIO, 0, 1, "part-0-1-");
    f->now += 61 * FL_US_PER_SEC;
    assert_int_equal(lake_consumer_tick(f->c), -EIO);
    assert_int_equal(f->c->commit_failures, 1);
    assert_int_equal(f->c->files_committed, 0);
    assert_int_equal(lt_count_files(f->root, ".parquet"), 0);
    assert_int_equal(lt_count_files(f->root, ".tmp"), 0);
    assert_true(lake_consumer_backoff_left(f->c) > 0);
    /* during the backoff nothing is retried... */
    assert_int_equal(lake_consumer_tick(f->c), 0);
    assert_int_equal(f->c->files_committed, 0);
    assert_int_equal(offer(f, 6, BASE_US), 0); /* more rows for the same partition are kept */
    /* ...an encoder failure after the backoff also keeps them, and doubles the backoff */
    f->now += 1 * FL_US_PER_SEC;
    f->encode_fail = -ENOSPC;
    assert_int_equal(lake_consumer_tick(f->c), -ENOSPC);
    assert_int_equal(f->c->commit_failures, 2);
    assert_int_equal(lake_consumer_backoff_left(f->c), 2 * FL_US_PER_SEC);
    f->now += 2 * FL_US_PER_SEC;
    assert_int_equal(lake_consumer_tick(f->c), 0);
    assert_int_equal(f->c->files_committed, 1);
    assert_true(lt_exists(f->root, "raw-data/year=2026/month=1/day=1/hour=0/part-0-1-6.parquet"));
    assert_int_equal(saved_checkpoint(f), 6);
    assert_int_equal(lake_consumer_backoff_left(f->c), 0);
}

static void undecodable_records_are_skipped(void **state)
{
    struct fx *f = *state;
    open_all(f, NULL, NULL);
    fl_stream_record blob = {0, 1, BASE_US, FL_STREAM_KIND_BLOB, FL_SLICE_LIT("k"),
                             FL_SLICE_LIT("{\"opaque\":1}")};
    assert_int_equal(lake_consumer_offer(f->c, &blob), 0);
    fl_stream_record junk = {0, 2, BASE_US, FL_STREAM_KIND_SENSOR, FL_SLICE_LIT("k"),
                             FL_SLICE_LIT("\x01\x02garbage")};
    assert_int_equal(lake_consumer_offer(f->c, &junk), 0);
    assert_int_equal(f->c->nparts, 0);
    assert_int_equal(lake_consumer_tick(f->c), 0); /* idle: the checkpoint moves past them */
    assert_int_equal(saved_checkpoint(f), 2);
    assert_int_equal(f->c->files_committed, 0);
}

/* ---- exactly-once across crashes ------------------------------------------------------------- */

#define N_RECORDS 3000
#define N_HOURS 7

static uint64_t rng_state = 0x9E3779B97F4A7C15u;
static uint64_t rnd(uint64_t n)
{
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return rng_state % n;
}

static int64_t event_of(uint64_t seq)
{
    /* mostly the current hour of a moving clock, sometimes a late one */
    int64_t hour = (int64_t)(seq * N_HOURS / (N_RECORDS + 1));
    if (seq % 11 == 0)
        hour = (int64_t)(seq % 3);
    return BASE_US + hour * HOUR_US + (int64_t)(seq % 1000);
}

struct verify {
    struct fx *f;
    int *seen;
    int bad;
};

static int verify_file(void *arg, const fl_lake_file *lf)
{
    struct verify *v = arg;
    fl_objstore_reader *r = NULL;
    assert_int_equal(fl_objstore_get_open(v->f->store, lf->path, &r), 0);
    uint64_t n = fl_objstore_reader_size(r);
    char *buf = calloc(1, n + 1);
    assert_int_equal(fl_objstore_read(r, buf, n, 0), 0);
    fl_objstore_get_close(r);
    int64_t rows = 0;
    uint64_t first = 0, last = 0;
    for (char *save = NULL, *line = strtok_r(buf, "\n", &save); line;
         line = strtok_r(NULL, "\n", &save)) {
        uint64_t seq = strtoull(line, NULL, 10);
        assert_true(seq >= 1 && seq <= N_RECORDS);
        v->seen[seq]++;
        fl_lake_partition p = fl_lake_partition_of(event_of(seq));
        if (p.hour != lf->hour || p.day != lf->day)
            v->bad++; /* a record in the wrong partition */
        if (!first)
            first = seq;
        last = seq;
        rows++;
    }
    assert_int_equal(rows, lf->rows);
    assert_int_equal(first, lf->first_seq);
    assert_int_equal(last, lf->last_seq);
    free(buf);
    return 0;
}

/* Plant an orphan as a crash between rename and the catalog commit would leave it. */
static void plant_orphan(struct fx *f, uint64_t first, uint64_t last)
{
    char key[256];
    fl_lake_partition p = fl_lake_partition_of(event_of(first));
    assert_int_equal(fl_lake_part_key(key, sizeof key, FL_LAKE_RAW_PREFIX, p, 0, first, last), 0);
    fl_lake_file lf;
    if (fl_catalog_file_get(f->cat, key, &lf) == 0)
        return; /* that name is committed: not an orphan */
    assert_int_equal(fl_objstore_put(f->store, key, "999999\n", 7), 0);
}

static void exactly_once_across_crashes(void **state)
{
    struct fx *f = *state;
    lake_consumer_options o = options(f);
    o.buffer_bytes = 3000;
    o.max_active_partitions = 3;
    o.buffer_interval_us = 10 * FL_US_PER_SEC;
    uint64_t resume = 0;
    int crashes = 0, orphans = 0;
    uint64_t skipped = 0;
    open_all(f, &o, &resume);
    uint64_t seq = resume;
    while (seq < N_RECORDS) {
        seq++;
        f->now += (int64_t)rnd(200) * 1000; /* 0-0.2 s between records */
        int rc = offer(f, seq, event_of(seq));
        assert_int_equal(rc, 0);
        if (rnd(40) == 0)
            assert_int_equal(lake_consumer_tick(f->c), 0);
        if (rnd(250) == 0) { /* kill -9 */
            if (rnd(2) == 0) {
                plant_orphan(f, seq, seq + 3);
                orphans++;
            }
            skipped += f->c->skipped_replayed;
            crash(f);
            crashes++;
            open_all(f, &o, &resume);
            assert_true(resume <= seq);
            seq = resume; /* the stream re-delivers everything after the checkpoint */
        }
    }
    assert_int_equal(lake_consumer_flush_all(f->c, LAKE_FLUSH_SHUTDOWN), 0);
    skipped += f->c->skipped_replayed;
    assert_true(crashes >= 3);
    assert_true(skipped > 0); /* restarts really re-read committed records and skipped them */
    assert_int_equal(saved_checkpoint(f), N_RECORDS);

    struct verify v = {f, calloc(N_RECORDS + 1, sizeof(int)), 0};
    fl_catalog_filter flt = fl_catalog_filter_table(FL_LAKE_RAW_TABLE);
    assert_int_equal(fl_catalog_files_query(f->cat, &flt, verify_file, &v), 0);
    int missing = 0, doubled = 0;
    for (uint64_t s = 1; s <= N_RECORDS; s++) {
        missing += v.seen[s] == 0;
        doubled += v.seen[s] > 1;
    }
    assert_int_equal(missing, 0);
    assert_int_equal(doubled, 0);
    assert_int_equal(v.bad, 0);
    /* no file outside the catalog: every orphan was removed at a restart */
    int64_t files = 0;
    assert_int_equal(count_rows(f, &files), N_RECORDS);
    assert_int_equal(lt_count_files(f->root, ".parquet"), (int)files);
    assert_int_equal(lt_count_files(f->root, ".tmp"), 0);
    free(v.seen);
    print_message("%d crashes, %d planted orphans, %" PRId64 " files, %" PRIu64 " replays skipped\n",
                  crashes, orphans, files, skipped);
}

static void orphans_of_other_shards_are_kept(void **state)
{
    struct fx *f = *state;
    open_all(f, NULL, NULL);
    assert_int_equal(fl_objstore_put(f->store,
                                     "raw-data/year=2026/month=1/day=1/hour=0/part-1-1-9.parquet",
                                     "x", 1),
                     0);
    assert_int_equal(fl_objstore_put(f->store,
                                     "raw-data/year=2026/month=1/day=1/hour=0/part-0-1-9.parquet",
                                     "x", 1),
                     0);
    assert_int_equal(fl_objstore_put(f->store, "raw-data/README", "x", 1), 0);
    crash(f);
    open_all(f, NULL, NULL);
    assert_int_equal(f->c->orphans_removed, 1);
    assert_false(lt_exists(f->root, "raw-data/year=2026/month=1/day=1/hour=0/part-0-1-9.parquet"));
    assert_true(lt_exists(f->root, "raw-data/year=2026/month=1/day=1/hour=0/part-1-1-9.parquet"));
    assert_true(lt_exists(f->root, "raw-data/README"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(flush_by_size, setup, teardown),
        cmocka_unit_test_setup_teardown(flush_by_interval, setup, teardown),
        cmocka_unit_test_setup_teardown(flush_by_partition_limit_and_late_records, setup, teardown),
        cmocka_unit_test_setup_teardown(failed_publish_keeps_rows, setup, teardown),
        cmocka_unit_test_setup_teardown(undecodable_records_are_skipped, setup, teardown),
        cmocka_unit_test_setup_teardown(exactly_once_across_crashes, setup, teardown),
        cmocka_unit_test_setup_teardown(orphans_of_other_shards_are_kept, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
