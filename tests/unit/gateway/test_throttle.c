/* test_throttle.c — the token-bucket table (src/gateway/throttle.c) on an injected clock:
 * exact token counts, refill, the burst cap, waits and Retry-After, independent keys, the
 * accepted count over a window, eviction (full buckets first, then least recently used),
 * the bound on buckets, argument checks, and exact counts under concurrent takes. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include "gateway/throttle.h"

#define SEC INT64_C(1000000)

static int take(fl_throttle *t, const char *key, int64_t now_us, int64_t *wait_us)
{
    return fl_throttle_take(t, key, strlen(key), 1, now_us, wait_us);
}

static int64_t peek(fl_throttle *t, const char *key, int64_t now_us)
{
    return fl_throttle_peek_micro(t, key, strlen(key), now_us);
}

/* rate 10/s, burst 5: five takes at once, then one every 100 ms exactly. */
static void exact_counts_and_refill(void **state)
{
    (void)state;
    fl_throttle *t;
    assert_int_equal(fl_throttle_create(10, 5, 1000, &t), 0);
    assert_int_equal(peek(t, "dev-1", 0), 5 * SEC); /* unknown key: a full bucket */
    int64_t wait = -7;
    for (int i = 0; i < 5; i++)
        assert_int_equal(take(t, "dev-1", 0, &wait), 1);
    assert_int_equal(wait, -7); /* untouched when granted */
    assert_int_equal(peek(t, "dev-1", 0), 0);
    assert_int_equal(take(t, "dev-1", 0, &wait), 0);
    assert_int_equal(wait, 100000); /* one token at 10/s */
    /* half-way: half a token, still throttled, and the wait is what remains */
    assert_int_equal(peek(t, "dev-1", 50000), 500000);
    assert_int_equal(take(t, "dev-1", 50000, &wait), 0);
    assert_int_equal(wait, 50000);
    assert_int_equal(take(t, "dev-1", 99999, &wait), 0);
    assert_int_equal(wait, 1);
    assert_int_equal(take(t, "dev-1", 100000, &wait), 1);
    assert_int_equal(take(t, "dev-1", 100000, &wait), 0);
    assert_int_equal(wait, 100000);
    /* 250 ms later: 2.5 tokens, two takes */
    assert_int_equal(peek(t, "dev-1", 350000), 2500000);
    assert_int_equal(take(t, "dev-1", 350000, NULL), 1);
    assert_int_equal(take(t, "dev-1", 350000, NULL), 1);
    assert_int_equal(take(t, "dev-1", 350000, &wait), 0);
    assert_int_equal(wait, 50000);
    fl_throttle_destroy(t);
}

/* A long idle time refills to the burst and no further (and cannot overflow). */
static void burst_caps_refill(void **state)
{
    (void)state;
    fl_throttle *t;
    assert_int_equal(fl_throttle_create(FL_THROTTLE_RATE_MAX, 3, 64, &t), 0);
    for (int i = 0; i < 3; i++)
        assert_int_equal(take(t, "k", 0, NULL), 1);
    assert_int_equal(take(t, "k", 0, NULL), 0);
    int64_t far = INT64_C(1) << 61; /* ~73,000 years: elapsed x rate would overflow int64 */
    assert_int_equal(peek(t, "k", far), 3 * SEC);
    for (int i = 0; i < 3; i++)
        assert_int_equal(take(t, "k", far, NULL), 1);
    assert_int_equal(take(t, "k", far, NULL), 0);
    fl_throttle_destroy(t);
}

/* Non-integral token intervals: rate 3/s gives a token every 333,333.3 µs. */
static void fractional_intervals_round_up(void **state)
{
    (void)state;
    fl_throttle *t;
    int64_t wait;
    assert_int_equal(fl_throttle_create(3, 1, 64, &t), 0);
    assert_int_equal(take(t, "k", 0, NULL), 1);
    assert_int_equal(take(t, "k", 0, &wait), 0);
    assert_int_equal(wait, 333334); /* ceil(1e6 / 3): waiting this long is enough */
    assert_int_equal(peek(t, "k", 333333), 999999);
    assert_int_equal(take(t, "k", 333333, NULL), 0);
    assert_int_equal(take(t, "k", 333334, NULL), 1);
    assert_int_equal(peek(t, "k", 333334), 0); /* refilled to the burst (1), then taken */
    fl_throttle_destroy(t);
}

/* Several tokens at once, the wait for them, and Retry-After rounding. */
static void waits_and_retry_after(void **state)
{
    (void)state;
    fl_throttle *t;
    int64_t wait;
    assert_int_equal(fl_throttle_create(2, 10, 64, &t), 0);
    assert_int_equal(fl_throttle_take(t, "k", 1, 10, 0, &wait), 1);
    assert_int_equal(fl_throttle_take(t, "k", 1, 5, 0, &wait), 0);
    assert_int_equal(wait, 2500000); /* 5 tokens at 2/s */
    assert_int_equal(fl_throttle_retry_after_s(wait), 3);
    assert_int_equal(fl_throttle_take(t, "k", 1, 5, 2499999, NULL), 0);
    assert_int_equal(fl_throttle_take(t, "k", 1, 5, 2500000, NULL), 1);
    /* more than the burst can never be granted; nothing is taken */
    assert_int_equal(fl_throttle_take(t, "k", 1, 11, 100 * SEC, &wait), 0);
    assert_int_equal(wait, INT64_MAX);
    assert_int_equal(fl_throttle_take(t, "k", 1, 0, 100 * SEC, &wait), 0);
    assert_int_equal(peek(t, "k", 100 * SEC), 10 * SEC);
    assert_int_equal(fl_throttle_retry_after_s(0), 1);
    assert_int_equal(fl_throttle_retry_after_s(1), 1);
    assert_int_equal(fl_throttle_retry_after_s(SEC), 1);
    assert_int_equal(fl_throttle_retry_after_s(SEC + 1), 2);
    assert_int_equal(fl_throttle_retry_after_s(59 * SEC + 1), 60);
    assert_int_equal(fl_throttle_retry_after_s(INT64_MAX), INT32_MAX);
    fl_throttle_destroy(t);
}

/* A clock value behind a bucket's last update counts as no time passed. */
static void clock_going_back_adds_nothing(void **state)
{
    (void)state;
    fl_throttle *t;
    assert_int_equal(fl_throttle_create(1, 1, 64, &t), 0);
    assert_int_equal(take(t, "k", 10 * SEC, NULL), 1);
    assert_int_equal(take(t, "k", 5 * SEC, NULL), 0);
    assert_int_equal(peek(t, "k", 10 * SEC + SEC / 2), SEC / 2); /* still from 10 s */
    assert_int_equal(take(t, "k", 11 * SEC, NULL), 1);
    fl_throttle_destroy(t);
}

/* Keys have their own buckets; keys longer than the stored prefix are still told apart. */
static void keys_are_independent(void **state)
{
    (void)state;
    fl_throttle *t;
    assert_int_equal(fl_throttle_create(1, 2, 1000, &t), 0);
    assert_int_equal(take(t, "a", 0, NULL), 1);
    assert_int_equal(take(t, "a", 0, NULL), 1);
    assert_int_equal(take(t, "a", 0, NULL), 0);
    assert_int_equal(take(t, "b", 0, NULL), 1);
    assert_int_equal(take(t, "ab", 0, NULL), 1);
    assert_int_equal(peek(t, "b", 0), SEC);
    char long1[300], long2[300];
    memset(long1, 'x', sizeof long1);
    memcpy(long2, long1, sizeof long2);
    long2[sizeof long2 - 1] = 'y'; /* differs only beyond FL_THROTTLE_KEY_MAX */
    assert_int_equal(fl_throttle_take(t, long1, sizeof long1, 2, 0, NULL), 1);
    assert_int_equal(fl_throttle_take(t, long1, sizeof long1, 1, 0, NULL), 0);
    assert_int_equal(fl_throttle_take(t, long2, sizeof long2, 2, 0, NULL), 1);
    assert_int_equal(fl_throttle_take(t, long1, 200, 2, 0, NULL), 1); /* a prefix: another key */
    fl_throttle_stats st;
    fl_throttle_stats_get(t, &st);
    assert_int_equal(st.buckets, 6);
    fl_throttle_destroy(t);
}

/* Flat out for 10 s at 1,000 attempts/s against rate 200, burst 50: exactly burst + rate x t,
 * and exactly the rate once the burst is spent. */
static void accepted_over_window(void **state)
{
    (void)state;
    fl_throttle *t;
    assert_int_equal(fl_throttle_create(200, 50, 64, &t), 0);
    int accepted = 0, accepted_second_half = 0;
    for (int64_t ms = 0; ms <= 10000; ms++) {
        int ok = take(t, "dev", ms * 1000, NULL);
        accepted += ok;
        accepted_second_half += ok && ms > 5000; /* long after the burst was spent */
    }
    assert_int_equal(accepted, 50 + 200 * 10);
    assert_int_equal(accepted_second_half, 200 * 5);
    fl_throttle_destroy(t);
}

/* take_each (the per-record path) answers exactly like the same takes one at a time: repeated
 * keys take in input order; the count refused and the longest wait are reported. */
static void take_each_equals_single_takes(void **state)
{
    (void)state;
    enum { N = 200, KEYS = 7 };
    fl_throttle *batch, *single;
    assert_int_equal(fl_throttle_create(10, 3, 1000, &batch), 0);
    assert_int_equal(fl_throttle_create(10, 3, 1000, &single), 0);
    char names[KEYS][8];
    fl_slice keys[N];
    for (int k = 0; k < KEYS; k++)
        snprintf(names[k], sizeof names[k], "d%d", k);
    for (int i = 0; i < N; i++)
        keys[i] = fl_slice_from_cstr(names[(i * 3) % KEYS]);
    uint64_t hashes[N];
    uint32_t order[N];
    fl_throttle_scratch scratch = {hashes, order};
    uint8_t granted[N];
    int64_t wait = -1;
    for (int round = 0; round < 2; round++) {
        int64_t now = round * 150000; /* round 2: 1.5 tokens back per key */
        size_t refused = fl_throttle_take_each(batch, keys, N, now, &scratch, granted, &wait);
        size_t refused_single = 0, granted_total = 0;
        for (int i = 0; i < N; i++) {
            int g = fl_throttle_take(single, keys[i].ptr, keys[i].len, 1, now, NULL);
            assert_int_equal(granted[i], g);
            refused_single += !g;
            granted_total += (size_t)g;
        }
        assert_int_equal(refused, refused_single);
        if (round == 0) {
            assert_int_equal(granted_total, KEYS * 3); /* each key's burst */
            for (int i = 0; i < KEYS * 3; i++)         /* and they are the first 3 of each key: */
                assert_int_equal(granted[i], 1);       /* i*3 % 7 visits all 7 keys every 7 */
            assert_int_equal(wait, 100000);            /* one token at 10/s */
        } else {
            assert_int_equal(granted_total, KEYS); /* 1.5 tokens: one take each */
            assert_int_equal(wait, 50000);         /* half a token left */
        }
        for (int k = 0; k < KEYS; k++)
            assert_int_equal(peek(batch, names[k], now), peek(single, names[k], now));
    }
    assert_int_equal(fl_throttle_take_each(batch, keys, 0, 0, &scratch, granted, &wait), 0);
    assert_int_equal(wait, 0);
    fl_throttle_destroy(batch);
    fl_throttle_destroy(single);
}

/* n distinct keys that fall in the same stripe as the first. */
static void same_stripe_keys(fl_throttle *t, char keys[][16], int n)
{
    unsigned want = 0;
    int found = 0;
    for (int i = 0; found < n; i++) {
        char k[16];
        snprintf(k, sizeof k, "key-%d", i);
        unsigned s = fl_throttle_stripe_index(t, k, strlen(k));
        assert_true(s < FL_THROTTLE_STRIPES);
        if (found == 0)
            want = s;
        if (s == want)
            memcpy(keys[found++], k, sizeof k);
    }
}

/* One bucket per stripe: a full (refilled) bucket is dropped without effect; an active one is
 * dropped only when nothing else can be, and its key then starts afresh. */
static void eviction_prefers_full_buckets(void **state)
{
    (void)state;
    fl_throttle *t;
    char k[3][16];
    fl_throttle_stats st;
    assert_int_equal(fl_throttle_create(10, 5, FL_THROTTLE_STRIPES, &t), 0);
    assert_int_equal(fl_throttle_capacity(t), FL_THROTTLE_STRIPES);
    same_stripe_keys(t, k, 3);
    assert_int_equal(take(t, k[0], 0, NULL), 1);   /* 4 tokens left */
    assert_int_equal(take(t, k[1], SEC, NULL), 1); /* k0 full again by then: dropped */
    fl_throttle_stats_get(t, &st);
    assert_int_equal(st.buckets, 1);
    assert_int_equal(st.evicted_full, 1);
    assert_int_equal(st.evicted_active, 0);
    for (int i = 0; i < 4; i++)
        assert_int_equal(take(t, k[1], SEC, NULL), 1); /* k1 drained */
    assert_int_equal(take(t, k[2], SEC, NULL), 1);     /* nothing full: k1 dropped (LRU) */
    fl_throttle_stats_get(t, &st);
    assert_int_equal(st.buckets, 1);
    assert_int_equal(st.evicted_active, 1);
    assert_int_equal(peek(t, k[1], SEC), 5 * SEC); /* forgotten: a full bucket again */
    assert_int_equal(peek(t, k[2], SEC), 4 * SEC);
    fl_throttle_destroy(t);
}

/* Two buckets per stripe: the least recently used active bucket goes, the other stays. */
static void eviction_drops_least_recently_used(void **state)
{
    (void)state;
    fl_throttle *t;
    char k[3][16];
    fl_throttle_stats st;
    assert_int_equal(fl_throttle_create(1, 2, 2 * FL_THROTTLE_STRIPES, &t), 0);
    same_stripe_keys(t, k, 3);
    assert_int_equal(take(t, k[0], 0, NULL), 1);
    assert_int_equal(take(t, k[1], 10, NULL), 1);
    assert_int_equal(take(t, k[0], 20, NULL), 1); /* k0 used last: k1 is the LRU */
    assert_int_equal(take(t, k[2], 30, NULL), 1);
    fl_throttle_stats_get(t, &st);
    assert_int_equal(st.buckets, 2);
    assert_int_equal(st.evicted_active, 1);
    assert_int_equal(peek(t, k[0], 30), 30);      /* 20 micro-tokens at 20 µs, +10 by 30 µs */
    assert_int_equal(peek(t, k[1], 30), 2 * SEC); /* gone */
    assert_int_equal(peek(t, k[2], 30), 1 * SEC);
    fl_throttle_destroy(t);
}

/* However many keys arrive, the table holds at most its capacity. */
static void bounded_under_key_flood(void **state)
{
    (void)state;
    fl_throttle *t;
    fl_throttle_stats st;
    assert_int_equal(fl_throttle_create(1, 1, 100, &t), 0);
    assert_int_equal(fl_throttle_capacity(t), 2 * FL_THROTTLE_STRIPES); /* ceil(100/64) x 64 */
    char k[32];
    for (int i = 0; i < 20000; i++) {
        snprintf(k, sizeof k, "flood-%d", i);
        assert_int_equal(take(t, k, 0, NULL), 1); /* each new key has its full bucket */
        assert_int_equal(take(t, k, 0, NULL), 0);
    }
    fl_throttle_stats_get(t, &st);
    assert_int_equal(st.buckets, fl_throttle_capacity(t)); /* ~300 keys per stripe: all full */
    assert_int_equal(st.evicted_full, 0);                  /* all drained: none was full */
    assert_int_equal(st.evicted_active + st.buckets, 20000);
    fl_throttle_destroy(t);
}

static void create_checks_arguments(void **state)
{
    (void)state;
    fl_throttle *t = NULL;
    assert_int_equal(fl_throttle_create(0, 1, 64, &t), FL_EINVAL);
    assert_int_equal(fl_throttle_create(FL_THROTTLE_RATE_MAX + 1, 1, 64, &t), FL_EINVAL);
    assert_int_equal(fl_throttle_create(1, 0, 64, &t), FL_EINVAL);
    assert_int_equal(fl_throttle_create(1, FL_THROTTLE_BURST_MAX + 1, 64, &t), FL_EINVAL);
    assert_int_equal(fl_throttle_create(1, 1, 0, &t), FL_EINVAL);
    assert_null(t);
    fl_mem_fail_after(5); /* a few stripes built, then allocation fails: no leak (ASan) */
    assert_int_equal(fl_throttle_create(1, 1, 64, &t), FL_ENOMEM);
    fl_mem_fail_after(-1);
    assert_null(t);
    fl_throttle_destroy(NULL);
}

struct racer {
    fl_throttle *t;
    int granted;
};

static void *race(void *arg)
{
    struct racer *r = arg;
    for (int i = 0; i < 20000; i++) {
        char k[8];
        snprintf(k, sizeof k, "d%d", i % 4);
        r->granted += take(r->t, k, 0, NULL); /* one instant: no refill */
    }
    return NULL;
}

/* 8 threads on 4 shared keys of burst 1,000 at one instant: exactly 4,000 takes granted. */
static void concurrent_takes_are_exact(void **state)
{
    (void)state;
    fl_throttle *t;
    assert_int_equal(fl_throttle_create(1, 1000, 1000, &t), 0);
    pthread_t th[8];
    struct racer r[8];
    for (int i = 0; i < 8; i++) {
        r[i] = (struct racer){t, 0};
        assert_int_equal(pthread_create(&th[i], NULL, race, &r[i]), 0);
    }
    int total = 0;
    for (int i = 0; i < 8; i++) {
        pthread_join(th[i], NULL);
        total += r[i].granted;
    }
    assert_int_equal(total, 4000);
    fl_throttle_destroy(t);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(exact_counts_and_refill),
        cmocka_unit_test(burst_caps_refill),
        cmocka_unit_test(fractional_intervals_round_up),
        cmocka_unit_test(waits_and_retry_after),
        cmocka_unit_test(clock_going_back_adds_nothing),
        cmocka_unit_test(keys_are_independent),
        cmocka_unit_test(accepted_over_window),
        cmocka_unit_test(take_each_equals_single_takes),
        cmocka_unit_test(eviction_prefers_full_buckets),
        cmocka_unit_test(eviction_drops_least_recently_used),
        cmocka_unit_test(bounded_under_key_flood),
        cmocka_unit_test(create_checks_arguments),
        cmocka_unit_test(concurrent_takes_are_exact),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
