/* test_append_read.c — the append and read paths of the embedded log: multi-shard appends,
 * sequence numbering, every reader start type, tail following across segment rolls,
 * batch splitting, reopen, and concurrent appenders sharing fsyncs (group commit). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <pthread.h>

#include "stream_test_util.h"

struct ctx {
    char root[PATH_MAX];
    char dir[PATH_MAX];
};

static int setup(void **state)
{
    struct ctx *c = calloc(1, sizeof *c);
    tu_tmpdir(c->root, sizeof c->root, c->dir, sizeof c->dir);
    *state = c;
    return 0;
}

static int teardown(void **state)
{
    struct ctx *c = *state;
    tu_rm_rf(c->root);
    free(c);
    return 0;
}

static void append_across_shards(void **state)
{
    struct ctx *c = *state;
    fl_stream_options o = tu_options(c->dir, 3);
    fl_stream *s = NULL;
    fl_stream_recovery_report rep;
    assert_int_equal(fl_stream_open(&o, &s, &rep), 0);
    assert_int_equal(fl_stream_shard_count(s), 3);
    assert_int_equal(rep.truncated_bytes, 0);
    fl_stream_entry e[7];
    const uint32_t shards[7] = {0, 2, 0, 1, 2, 0, 7};
    for (int i = 0; i < 7; i++)
        e[i] = (fl_stream_entry){.shard = shards[i], .kind = FL_STREAM_KIND_SENSOR,
                                 .partition_key = FL_SLICE_LIT("dev"),
                                 .payload = FL_SLICE_LIT("xyz")};
    /* entry 6 names a shard that does not exist: it alone fails */
    assert_int_equal(fl_stream_append(s, e, 7, 1000), FL_EINVAL);
    const uint64_t want[6] = {1, 1, 2, 1, 2, 3};
    for (int i = 0; i < 6; i++) {
        assert_int_equal(e[i].result, 0);
        assert_int_equal(e[i].seq, want[i]);
    }
    assert_int_equal(e[6].result, FL_EINVAL);
    assert_int_equal(fl_stream_append(s, e, 6, 2000), 0);
    assert_int_equal(e[0].seq, 4);
    assert_int_equal(e[3].seq, 2);
    fl_stream_shard_stats st;
    assert_int_equal(fl_stream_shard_stats_get(s, 0, &st), 0);
    assert_int_equal(st.first_seq, 1);
    assert_int_equal(st.last_seq, 6);
    assert_int_equal(st.records, 6);
    assert_int_equal(st.segments, 1);
    assert_int_equal(st.failed, 0);
    assert_true(st.bytes > 6 * 18);
    assert_int_equal(fl_stream_shard_stats_get(s, 3, &st), FL_EINVAL);
    assert_true(atomic_load(&fl_stream_fsync_histogram(s)->count) >= 1);
    assert_int_equal(fl_stream_close(s), 0);

    /* reopen: records kept, numbering continues; a different shard count is refused */
    o.shard_count = 2;
    assert_int_equal(fl_stream_open(&o, &s, NULL), FL_ECONFIG);
    assert_null(s);
    o.shard_count = 3;
    assert_int_equal(fl_stream_open(&o, &s, NULL), 0);
    uint64_t seq;
    assert_int_equal(tu_append_one(s, 0, 1, 3000, &seq), 0);
    assert_int_equal(seq, 7);
    assert_int_equal(tu_count_from(s, 0, FL_STREAM_TRIM_HORIZON, 0, NULL, 0), 7);
    assert_int_equal(tu_count_from(s, 1, FL_STREAM_TRIM_HORIZON, 0, NULL, 0), 2);
    assert_int_equal(fl_stream_close(s), 0);
    assert_int_equal(fl_stream_close(NULL), 0);
}

static void read_every_start_type(void **state)
{
    struct ctx *c = *state;
    fl_stream_options o = tu_options(c->dir, 1);
    fl_stream *s = NULL;
    assert_int_equal(fl_stream_open(&o, &s, NULL), 0);
    for (int i = 1; i <= 20; i++)
        assert_int_equal(tu_append_one(s, 0, i, 1000 * i, NULL), 0);

    uint64_t seqs[64];
    assert_int_equal(tu_count_from(s, 0, FL_STREAM_TRIM_HORIZON, 0, seqs, 64), 20);
    for (int i = 0; i < 20; i++)
        assert_int_equal(seqs[i], i + 1);
    assert_int_equal(tu_count_from(s, 0, FL_STREAM_AT_SEQUENCE_NUMBER, 5, seqs, 64), 16);
    assert_int_equal(seqs[0], 5);
    assert_int_equal(tu_count_from(s, 0, FL_STREAM_AFTER_SEQUENCE_NUMBER, 5, seqs, 64), 15);
    assert_int_equal(seqs[0], 6);
    assert_int_equal(tu_count_from(s, 0, FL_STREAM_AT_TIMESTAMP, 7500, seqs, 64), 13);
    assert_int_equal(seqs[0], 8);
    assert_int_equal(tu_count_from(s, 0, FL_STREAM_AT_SEQUENCE_NUMBER, 100, seqs, 64), 0);

    /* record contents round-trip */
    fl_stream_reader *r = NULL;
    fl_stream_record rec;
    assert_int_equal(fl_stream_reader_open(s, 0, FL_STREAM_AT_SEQUENCE_NUMBER, 3, &r), 0);
    assert_int_equal(fl_stream_reader_next(r, &rec), 1);
    assert_int_equal(rec.seq, 3);
    assert_int_equal(rec.shard, 0);
    assert_int_equal(rec.arrival_us, 3000);
    assert_int_equal(rec.kind, FL_STREAM_KIND_BLOB);
    assert_true(fl_slice_eq_cstr(rec.partition_key, "key-3"));
    assert_true(fl_slice_eq_cstr(rec.payload, "payload-3"));
    fl_stream_reader_close(r);

    /* LATEST sees only what comes after it opened */
    assert_int_equal(fl_stream_reader_open(s, 0, FL_STREAM_LATEST, 0, &r), 0);
    assert_int_equal(fl_stream_reader_next(r, &rec), 0);
    assert_int_equal(tu_append_one(s, 0, 21, 21000, NULL), 0);
    assert_int_equal(fl_stream_reader_next(r, &rec), 1);
    assert_int_equal(rec.seq, 21);
    assert_true(fl_slice_eq_cstr(rec.payload, "payload-21"));
    assert_int_equal(fl_stream_reader_next(r, &rec), 0);
    fl_stream_reader_close(r);
    fl_stream_reader_close(NULL);

    assert_int_equal(fl_stream_reader_open(s, 1, FL_STREAM_LATEST, 0, &r), FL_EINVAL);
    assert_int_equal(fl_stream_close(s), 0);
}

static void tail_follow_across_rolls(void **state)
{
    struct ctx *c = *state;
    fl_stream_options o = tu_options(c->dir, 1);
    o.segment_bytes = 1024;
    fl_stream *s = NULL;
    assert_int_equal(fl_stream_open(&o, &s, NULL), 0);
    fl_stream_reader *r = NULL;
    assert_int_equal(fl_stream_reader_open(s, 0, FL_STREAM_TRIM_HORIZON, 0, &r), 0);
    fl_stream_record rec;
    assert_int_equal(fl_stream_reader_next(r, &rec), 0);
    uint64_t expect = 1;
    for (int round = 0; round < 10; round++) {
        for (int i = 0; i < 15; i++)
            assert_int_equal(tu_append_one(s, 0, round * 100 + i, 5000, NULL), 0);
        int rc;
        while ((rc = fl_stream_reader_next(r, &rec)) == 1)
            assert_int_equal(rec.seq, expect++);
        assert_int_equal(rc, 0);
    }
    assert_int_equal(expect, 151);
    fl_stream_shard_stats st;
    assert_int_equal(fl_stream_shard_stats_get(s, 0, &st), 0);
    assert_true(st.segments > 3);
    assert_int_equal(st.records, 150);
    assert_int_equal(st.last_seq, 150);
    fl_stream_reader_close(r);
    assert_int_equal(fl_stream_close(s), 0);

    /* after reopen every segment is read back in order */
    assert_int_equal(fl_stream_open(&o, &s, NULL), 0);
    uint64_t seqs[200];
    assert_int_equal(tu_count_from(s, 0, FL_STREAM_TRIM_HORIZON, 0, seqs, 200), 150);
    for (int i = 0; i < 150; i++)
        assert_int_equal(seqs[i], i + 1);
    assert_int_equal(tu_count_from(s, 0, FL_STREAM_AT_SEQUENCE_NUMBER, 77, seqs, 200), 74);
    assert_int_equal(seqs[0], 77);
    assert_int_equal(fl_stream_close(s), 0);
}

static void big_append_is_split_into_batches(void **state)
{
    struct ctx *c = *state;
    fl_stream_options o = tu_options(c->dir, 1);
    o.max_batch_bytes = 4096;
    o.durability = FL_DURABILITY_OS;
    fl_stream *s = NULL;
    assert_int_equal(fl_stream_open(&o, &s, NULL), 0);
    enum { N = 100 };
    static char payload[300];
    memset(payload, 'p', sizeof payload);
    fl_stream_entry e[N];
    for (int i = 0; i < N; i++)
        e[i] = (fl_stream_entry){.shard = 0, .kind = FL_STREAM_KIND_BLOB,
                                 .partition_key = FL_SLICE_LIT("k"),
                                 .payload = {payload, sizeof payload}};
    assert_int_equal(fl_stream_append(s, e, N, 1), 0);
    for (int i = 0; i < N; i++)
        assert_int_equal(e[i].seq, i + 1);
    /* a record that cannot fit in any batch is refused, not split */
    static char huge[5000];
    fl_stream_entry big = {.shard = 0, .kind = 2, .payload = {huge, sizeof huge}};
    assert_int_equal(fl_stream_append(s, &big, 1, 1), FL_ELIMIT);
    assert_int_equal(big.result, FL_ELIMIT);
    uint64_t seqs[N];
    assert_int_equal(tu_count_from(s, 0, FL_STREAM_TRIM_HORIZON, 0, seqs, N), N);
    assert_int_equal(seqs[N - 1], N);
    fl_stream_shard_stats st;
    assert_int_equal(fl_stream_shard_stats_get(s, 0, &st), 0);
    /* 100 records of 315 bytes in batches of at most 4096 bytes: at least 8 batch headers */
    assert_true(st.bytes >= (uint64_t)(N * 315 + 8 * 48));
    assert_int_equal(fl_stream_close(s), 0);
}

/* ---- concurrency ----------------------------------------------------------------------------- */

enum { THREADS = 4, PER_THREAD = 400, KEYS_PER_THREAD = 8, SHARDS = 2 };

struct worker {
    fl_stream *s;
    int id;
    int failures;
};

static void *worker_main(void *arg)
{
    struct worker *w = arg;
    char keys[4][32], payloads[4][32];
    for (int i = 0; i < PER_THREAD;) {
        int n = 1 + i % 4;
        if (n > PER_THREAD - i)
            n = PER_THREAD - i;
        fl_stream_entry e[4];
        for (int k = 0; k < n; k++) {
            snprintf(keys[k], sizeof keys[k], "t%d-k%d", w->id, (i + k) % KEYS_PER_THREAD);
            snprintf(payloads[k], sizeof payloads[k], "%d", i + k);
            fl_slice key = fl_slice_from_cstr(keys[k]);
            e[k] = (fl_stream_entry){.shard = fl_stream_shard_for_key(SHARDS, key.ptr, key.len),
                                     .kind = FL_STREAM_KIND_BLOB,
                                     .partition_key = key,
                                     .payload = fl_slice_from_cstr(payloads[k])};
        }
        if (fl_stream_append(w->s, e, (size_t)n, fl_time_now_us()))
            w->failures++;
        i += n;
    }
    return NULL;
}

static void concurrent_appends_keep_order(void **state)
{
    struct ctx *c = *state;
    fl_stream_options o = tu_options(c->dir, SHARDS);
    o.segment_bytes = 16384; /* rolls happen while threads append */
    fl_stream *s = NULL;
    assert_int_equal(fl_stream_open(&o, &s, NULL), 0);
    pthread_t th[THREADS];
    struct worker w[THREADS];
    for (int i = 0; i < THREADS; i++) {
        w[i] = (struct worker){.s = s, .id = i};
        assert_int_equal(pthread_create(&th[i], NULL, worker_main, &w[i]), 0);
    }
    for (int i = 0; i < THREADS; i++) {
        pthread_join(th[i], NULL);
        assert_int_equal(w[i].failures, 0);
    }
    /* per key the counters increase; per shard seqs are 1..n with no gap */
    int last[THREADS][KEYS_PER_THREAD];
    memset(last, -1, sizeof last);
    long total = 0;
    for (uint32_t sh = 0; sh < SHARDS; sh++) {
        fl_stream_reader *r = NULL;
        assert_int_equal(fl_stream_reader_open(s, sh, FL_STREAM_TRIM_HORIZON, 0, &r), 0);
        fl_stream_record rec;
        uint64_t expect = 1;
        int rc;
        while ((rc = fl_stream_reader_next(r, &rec)) == 1) {
            assert_int_equal(rec.seq, expect++);
            int t, k, v;
            char key[32], val[32];
            snprintf(key, sizeof key, "%.*s", (int)rec.partition_key.len, rec.partition_key.ptr);
            snprintf(val, sizeof val, "%.*s", (int)rec.payload.len, rec.payload.ptr);
            assert_int_equal(sscanf(key, "t%d-k%d", &t, &k), 2);
            v = atoi(val);
            assert_true(v > last[t][k]);
            last[t][k] = v;
            total++;
        }
        assert_int_equal(rc, 0);
        fl_stream_reader_close(r);
    }
    assert_int_equal(total, THREADS * PER_THREAD);
    const fl_histogram *h = fl_stream_fsync_histogram(s);
    assert_true(atomic_load(&h->count) > 0);
    assert_int_equal(fl_stream_close(s), 0);
}

static void options_from_config(void **state)
{
    (void)state;
    fl_config cfg;
    fl_config_defaults(&cfg);
    fl_stream_options o;
    fl_stream_options_from_config(&cfg, &o);
    assert_null(o.dir);
    assert_int_equal(o.shard_count, cfg.shards);
    assert_int_equal(o.durability, FL_DURABILITY_FSYNC);
    assert_int_equal(o.segment_bytes, cfg.segment_bytes);
    assert_int_equal(o.segment_age_us, cfg.segment_age_s * 1000000);
    assert_int_equal(o.retention_age_us, cfg.retention_age_s * 1000000);
    assert_int_equal(o.retention_bytes, cfg.retention_bytes);
    assert_int_equal(o.max_batch_bytes, cfg.max_batch_bytes);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(append_across_shards, setup, teardown),
        cmocka_unit_test_setup_teardown(read_every_start_type, setup, teardown),
        cmocka_unit_test_setup_teardown(tail_follow_across_rolls, setup, teardown),
        cmocka_unit_test_setup_teardown(big_append_is_split_into_batches, setup, teardown),
        cmocka_unit_test_setup_teardown(concurrent_appends_keep_order, setup, teardown),
        cmocka_unit_test(options_from_config),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
