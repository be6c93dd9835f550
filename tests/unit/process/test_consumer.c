/* test_consumer.c — the processor consumer core, driven without threads: an injected clock,
 * the real local object store on a temp dir, a real meta.db, and a synthetic stream of records
 * (several devices, two hours, duplicates, a spike). Checks batch flushes by interval and by
 * buffer size, the checkpoint, device_state rows, and exactly-once with identical scores after
 * a simulated crash at every commit point (after each published file, after the transaction):
 * every non-duplicate record is in exactly one committed file, no orphan survives a restart,
 * and every score equals the uninterrupted run's. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <errno.h>
#include <inttypes.h>

#include "../lake/lake_test_util.h"
#include "process/process_int.h"

#define BASE_US (INT64_C(1767225600) * FL_US_PER_SEC + 3480 * FL_US_PER_SEC) /* 00:58 UTC */
#define DEVICES 5
#define RECORDS 1200 /* 240 per device at 1 s: crosses into the next hour */
#define BATCH_EVERY 97 /* records between two interval ticks */

struct rec_src {
    fl_buf payload[RECORDS];
    fl_stream_record rec[RECORDS];
    int duplicate[RECORDS];
};

struct fx {
    char root[512];
    char lake[600];
    char meta[600];
    fl_objstore *store;
    fl_catalog *cat;
    fl_tz *tz;
    fl_process_config pcfg;
    proc_consumer *c;
    int64_t now;
    /* crash injection: crash when commit number crash_commit reaches step crash_step */
    int commits_seen;
    int crash_commit;
    int crash_step; /* 0..: after that many files published; -1: after the transaction */
    int crashed;
};

static struct rec_src src;

static int64_t fake_clock(void *ctx)
{
    return ((struct fx *)ctx)->now;
}

static void build_records(void)
{
    char ids[DEVICES][16];
    for (int d = 0; d < DEVICES; d++)
        snprintf(ids[d], sizeof ids[d], "truck-%04d", d);
    for (int i = 0; i < RECORDS; i++) {
        int d = i % DEVICES, k = i / DEVICES;
        fl_record r = {0};
        r.device_id = (fl_slice){ids[d], strlen(ids[d])};
        /* every 37th record repeats the previous timestamp of its device: a producer retry */
        src.duplicate[i] = k > 0 && k % 37 == 0;
        int kk = src.duplicate[i] ? k - 1 : k;
        r.timestamp_us = BASE_US + (int64_t)kk * FL_US_PER_SEC + d * 1000;
        r.temperature = 20 + d + 0.1 * (kk % 7) + (kk == 200 && d == 1 ? 200 : 0);
        r.humidity = 40 + 0.2 * (kk % 5);
        r.pressure = 1013 + 0.05 * (kk % 3);
        r.latitude = 37.5 + 0.0001 * kk;
        r.longitude = 127.0;
        r.present = FL_REC_TEMPERATURE | FL_REC_HUMIDITY | FL_REC_PRESSURE | FL_REC_LOCATION;
        if (d == 4 && kk % 10 == 0)
            r.present &= ~(uint32_t)FL_REC_PRESSURE;
        src.payload[i].len = 0;
        assert_int_equal(fl_record_encode(&r, &src.payload[i]), 0);
        src.rec[i] = (fl_stream_record){.shard = 0,
                                        .seq = (uint64_t)i + 1,
                                        .arrival_us = r.timestamp_us + 5000,
                                        .kind = FL_STREAM_KIND_SENSOR,
                                        .payload = {src.payload[i].data, src.payload[i].len}};
    }
}

static int crash_hook(void *ctx, enum proc_commit_step step, size_t files)
{
    struct fx *f = ctx;
    if (f->crashed || f->commits_seen != f->crash_commit)
        return 0;
    int hit = step == PROC_AFTER_COMMIT ? f->crash_step < 0
                                        : f->crash_step >= 0 && (size_t)f->crash_step == files;
    if (!hit)
        return 0;
    f->crashed = 1;
    return -EIO;
}

static void open_consumer(struct fx *f, int64_t buffer_bytes, uint64_t *resume)
{
    assert_int_equal(fl_catalog_open(f->meta, &f->cat), 0);
    assert_int_equal(fl_stream_checkpoint_init(fl_catalog_db(f->cat)), 0);
    proc_consumer_options o = {
        .shard = 0,
        .pcfg = &f->pcfg,
        .tz = f->tz,
        .store = f->store,
        .catalog = f->cat,
        .batch_interval_us = 10 * FL_US_PER_SEC,
        .buffer_bytes = buffer_bytes,
        .max_devices = 1000,
        .codec = 1, /* SNAPPY */
        .clock = fake_clock,
        .clock_ctx = f,
        .crash = crash_hook,
        .crash_ctx = f,
    };
    assert_int_equal(proc_consumer_create(&o, &f->c), 0);
    assert_int_equal(proc_consumer_recover(f->c, fl_time_now_us() + FL_US_PER_SEC, resume), 0);
}

static void close_consumer(struct fx *f)
{
    proc_consumer_destroy(f->c);
    f->c = NULL;
    fl_catalog_close(f->cat);
    f->cat = NULL;
}

static int setup(void **state)
{
    struct fx *f = calloc(1, sizeof *f);
    lt_tmpdir("proc-consumer", f->root, sizeof f->root);
    snprintf(f->lake, sizeof f->lake, "%s/lake", f->root);
    snprintf(f->meta, sizeof f->meta, "%s/meta.db", f->root);
    assert_int_equal(fl_objstore_local_create(f->lake, &f->store), 0);
    assert_int_equal(fl_tz_load("UTC", &f->tz), 0);
    fl_process_config_defaults(&f->pcfg);
    f->crash_commit = -1;
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fx *f = *state;
    close_consumer(f);
    fl_objstore_destroy(f->store);
    fl_tz_destroy(f->tz);
    lt_rm_rf(f->root);
    free(f);
    return 0;
}

/* Offer every record from resume+1, ticking the interval every BATCH_EVERY records; a crash
 * abandons the consumer (kill -9) and restarts it. Returns the number of restarts. */
static int run_all(struct fx *f, int64_t buffer_bytes)
{
    uint64_t resume;
    int restarts = 0;
    open_consumer(f, buffer_bytes, &resume);
    for (;;) {
        int crashed = 0;
        for (uint64_t s = resume + 1; s <= RECORDS && !crashed; s++) {
            int rc = proc_consumer_offer(f->c, &src.rec[s - 1]);
            f->now += FL_US_PER_SEC / 10;
            if (rc == -EIO && f->crashed) {
                crashed = 1;
                break;
            }
            assert_int_equal(rc, 0);
            if (s % BATCH_EVERY == 0) {
                f->now += 10 * FL_US_PER_SEC;
                int before = (int)f->c->commits;
                rc = proc_consumer_tick(f->c);
                if (rc == -EIO && f->crashed) {
                    crashed = 1;
                    break;
                }
                assert_int_equal(rc, 0);
                assert_int_equal((int)f->c->commits, before + 1);
                assert_int_equal(f->c->checkpoint, s);
                f->commits_seen++;
            }
        }
        if (!crashed) {
            int rc = proc_consumer_commit(f->c);
            if (rc == -EIO && f->crashed)
                crashed = 1;
            else
                assert_int_equal(rc, 0);
        }
        if (!crashed)
            break;
        close_consumer(f);
        restarts++;
        open_consumer(f, buffer_bytes, &resume);
        f->commits_seen++; /* the crashed commit counts as seen */
    }
    assert_int_equal(f->c->checkpoint, RECORDS);
    return restarts;
}

/* Every committed row, keyed by (device index, timestamp): its score; asserts exactly once. */
struct readback {
    double score[DEVICES][RECORDS];
    int seen[DEVICES][RECORDS];
    int rows;
    int64_t last_ts;
};

static int on_row(void *arg, const fl_lake_processed_row *row)
{
    struct readback *rb = arg;
    int d = row->device_id.ptr[row->device_id.len - 1] - '0';
    int64_t k = (row->timestamp_us - BASE_US - d * 1000) / FL_US_PER_SEC;
    assert_true(k >= 0 && k < RECORDS);
    assert_int_equal(rb->seen[d][k], 0); /* exactly once */
    assert_true(row->timestamp_us > rb->last_ts); /* sorted by timestamp within a device */
    rb->last_ts = row->timestamp_us;
    rb->seen[d][k] = 1;
    rb->score[d][k] = row->anomaly_score;
    assert_true(row->anomaly_score >= 0 && row->anomaly_score <= 1);
    assert_int_equal(row->quality_flags & FL_QUALITY_DUPLICATE, 0);
    assert_int_equal(row->day_of_week, 4); /* 2026-01-01 is a Thursday */
    assert_int_equal(row->is_weekend, 0);
    rb->rows++;
    return 0;
}

struct file_list {
    char paths[64][FL_CATALOG_PATH_MAX];
    int n;
};

static int on_file(void *arg, const fl_lake_file *f)
{
    struct file_list *l = arg;
    assert_true(l->n < 64);
    snprintf(l->paths[l->n++], FL_CATALOG_PATH_MAX, "%s", f->path);
    return 0;
}

static void read_back(struct fx *f, struct readback *rb)
{
    memset(rb, 0, sizeof *rb);
    struct file_list *l = calloc(1, sizeof *l);
    fl_catalog_filter flt = fl_catalog_filter_table(FL_LAKE_PROCESSED_TABLE);
    assert_int_equal(fl_catalog_files_query(f->cat, &flt, on_file, l), 0);
    char dir[700];
    snprintf(dir, sizeof dir, "%s/processed-data", f->lake);
    /* No orphan: every object on disk is catalogued. */
    assert_int_equal(lt_count_files(dir, ".parquet"), l->n);
    for (int d = 0; d < DEVICES; d++) {
        char id[16];
        snprintf(id, sizeof id, "truck-%04d", d);
        for (int i = 0; i < l->n; i++) {
            rb->last_ts = INT64_MIN;
            assert_int_equal(fl_lake_processed_read(f->store, l->paths[i],
                                                    (fl_slice){id, strlen(id)}, INT64_MIN,
                                                    INT64_MAX, on_row, rb),
                             0);
        }
    }
    free(l);
}

static int expected_rows(void)
{
    int n = 0;
    for (int i = 0; i < RECORDS; i++)
        n += !src.duplicate[i];
    return n;
}

static int64_t saved_count(struct fx *f, const char *col, const char *id)
{
    char sql[200];
    snprintf(sql, sizeof sql, "SELECT %s FROM device_state WHERE device_id = '%s'", col, id);
    sqlite3_stmt *st;
    assert_int_equal(sqlite3_prepare_v2(fl_catalog_db(f->cat), sql, -1, &st, NULL), SQLITE_OK);
    assert_int_equal(sqlite3_step(st), SQLITE_ROW);
    int64_t v = sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    return v;
}

static struct readback reference;

/* The uninterrupted run: batches by interval, every row once, state rows saved. */
static void uninterrupted(void **state)
{
    struct fx *f = *state;
    assert_int_equal(run_all(f, INT64_C(64) << 20), 0);
    read_back(f, &reference);
    assert_int_equal(reference.rows, expected_rows());
    /* batches: RECORDS / BATCH_EVERY interval commits plus the final one */
    assert_int_equal((int)f->c->commits, RECORDS / BATCH_EVERY + 1);
    assert_int_equal(saved_count(f, "record_count", "truck-0001"), RECORDS / DEVICES);
    assert_true(saved_count(f, "last_seen", "truck-0003") > BASE_US);
    uint64_t ckpt = 0;
    assert_int_equal(fl_stream_checkpoint_load(fl_catalog_db(f->cat), FL_LAKE_PROCESSED_CONSUMER,
                                               0, &ckpt),
                     0);
    assert_int_equal(ckpt, RECORDS);
    /* the implausible reading of truck-0001 was scored */
    double max = 0;
    for (int k = 0; k < RECORDS; k++)
        if (reference.seen[1][k] && reference.score[1][k] > max)
            max = reference.score[1][k];
    assert_true(max > 0.5);
    /* the device table: latest reading and counts */
    fl_device_info info;
    assert_int_equal(proc_consumer_device_get(f->c, (fl_slice){"truck-0002", 10}, &info), 0);
    assert_int_equal(info.record_count, RECORDS / DEVICES);
    assert_int_equal(info.latest.timestamp_us,
                     BASE_US + (int64_t)(RECORDS / DEVICES - 1) * FL_US_PER_SEC + 2000);
    assert_int_equal(proc_consumer_device_get(f->c, (fl_slice){"truck-9", 7}, &info),
                     FL_ENOTFOUND);
}

/* A small buffer commits early, by size, before any interval. */
static void size_flush(void **state)
{
    struct fx *f = *state;
    uint64_t resume;
    open_consumer(f, 16 * 1024, &resume);
    for (int i = 0; i < 400; i++)
        assert_int_equal(proc_consumer_offer(f->c, &src.rec[i]), 0);
    assert_true(f->c->commits >= 2);
    assert_true(f->c->buffered_bytes < 16 * 1024);
    assert_true(f->c->checkpoint > 0 && f->c->checkpoint < 400);
}

/* A commit that fails (here: its file name is already catalogued, which the writer refuses to
 * overwrite) keeps every row and backs off; at buffer_bytes the consumer reads no further
 * (FL_EAGAIN) until a retry succeeds; then nothing is lost or doubled. */
static void backpressure(void **state)
{
    struct fx *f = *state;
    uint64_t resume;
    open_consumer(f, 16 * 1024, &resume);
    /* Block every key the first commit could take: part-0-1-<n> in the first hour. */
    for (int n = 1; n <= RECORDS; n++) {
        fl_lake_file lf = {0};
        fl_lake_partition p = fl_lake_partition_of(BASE_US);
        assert_int_equal(fl_lake_part_key(lf.path, sizeof lf.path, FL_LAKE_PROCESSED_PREFIX, p,
                                          0, 1, (uint64_t)n),
                         0);
        snprintf(lf.table_name, sizeof lf.table_name, "blocker");
        lf.year = p.year, lf.month = p.month, lf.day = p.day, lf.hour = p.hour;
        lf.shard = 0, lf.first_seq = 1, lf.last_seq = (uint64_t)n, lf.retired_at = -1;
        assert_int_equal(fl_catalog_file_insert(f->cat, &lf), 0);
    }
    int i = 0, eagain = 0;
    while (i < 400 && eagain < 3) {
        int rc = proc_consumer_offer(f->c, &src.rec[i]);
        if (rc == FL_EAGAIN) {
            eagain++;
            assert_true(proc_consumer_backoff_left(f->c) > 0 || eagain > 1);
            assert_true(f->c->buffered_bytes >= 16 * 1024);
            f->now += 2 * FL_US_PER_SEC; /* past the backoff: the next offer retries */
            continue;
        }
        assert_int_equal(rc, 0);
        i++;
    }
    assert_int_equal(eagain, 3);
    assert_int_equal(f->c->commits, 0);
    assert_int_equal(f->c->checkpoint, 0);
    size_t held = f->c->buffered_bytes;
    assert_true(held < 16 * 1024 + 1024); /* bounded: it stopped reading at the bound */
    assert_int_equal(sqlite3_exec(fl_catalog_db(f->cat),
                                  "DELETE FROM lake_files WHERE table_name = 'blocker'", NULL,
                                  NULL, NULL),
                     SQLITE_OK);
    f->now += 60 * FL_US_PER_SEC;
    for (; i < RECORDS; i++)
        assert_int_equal(proc_consumer_offer(f->c, &src.rec[i]), 0);
    assert_int_equal(proc_consumer_commit(f->c), 0);
    assert_int_equal(f->c->checkpoint, RECORDS);
    struct readback *rb = calloc(1, sizeof *rb);
    read_back(f, rb);
    assert_int_equal(rb->rows, expected_rows());
    for (int d = 0; d < DEVICES; d++)
        for (int k = 0; k < RECORDS; k++)
            if (rb->seen[d][k] && rb->score[d][k] != reference.score[d][k])
                fail_msg("device %d k %d: score changed by the failed commits", d, k);
    free(rb);
}

/* Crash at every commit point of every batch, one crash per run: same rows, same scores. */
static void crash_everywhere(void **state)
{
    struct fx *f0 = *state;
    (void)f0;
    int batches = RECORDS / BATCH_EVERY + 1;
    int runs = 0;
    for (int commit = 0; commit < batches; commit += 2) {
        for (int step = -1; step <= 2; step++) {
            if (step == 0)
                continue;
            void *st2 = NULL;
            setup(&st2);
            struct fx *f = st2;
            f->crash_commit = commit;
            f->crash_step = step;
            run_all(f, INT64_C(64) << 20);
            struct readback *rb = calloc(1, sizeof *rb);
            read_back(f, rb);
            assert_int_equal(rb->rows, reference.rows);
            for (int d = 0; d < DEVICES; d++)
                for (int k = 0; k < RECORDS; k++) {
                    assert_int_equal(rb->seen[d][k], reference.seen[d][k]);
                    if (rb->score[d][k] != reference.score[d][k])
                        fail_msg("device %d k %d: score %.17g after a crash at commit %d step "
                                 "%d, %.17g uninterrupted",
                                 d, k, rb->score[d][k], commit, step, reference.score[d][k]);
                }
            assert_int_equal(saved_count(f, "record_count", "truck-0001"), RECORDS / DEVICES);
            free(rb);
            runs += f->crashed;
            teardown(&st2);
        }
    }
    assert_true(runs >= batches); /* the crashes really happened */
}

int main(void)
{
    build_records();
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(uninterrupted, setup, teardown),
        cmocka_unit_test_setup_teardown(size_flush, setup, teardown),
        cmocka_unit_test_setup_teardown(backpressure, setup, teardown),
        cmocka_unit_test_setup_teardown(crash_everywhere, setup, teardown),
    };
    int rc = cmocka_run_group_tests(tests, NULL, NULL);
    for (int i = 0; i < RECORDS; i++)
        fl_buf_free(&src.payload[i]);
    return rc;
}
