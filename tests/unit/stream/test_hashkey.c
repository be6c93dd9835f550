/* test_hashkey.c — shard placement: MD5 of the partition key as a 128-bit big-endian number
 * over equal hash-key ranges, and the Kinesis-style decimal ranges. Expected digests were
 * computed by hand with `printf %s KEY | openssl md5`. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <string.h>

#include "stream/stream.h"

static uint32_t shard_of(uint32_t n, const char *key)
{
    return fl_stream_shard_for_key(n, key, strlen(key));
}

static void known_md5_mapping(void **state)
{
    (void)state;
    /* a 0cc175b9..., b 92eb5ffe..., c 4a8a08f0..., truck-0042 43c630a5..., "" d41d8cd9... */
    assert_int_equal(shard_of(2, "a"), 0);
    assert_int_equal(shard_of(2, "b"), 1);
    assert_int_equal(shard_of(2, "c"), 0);
    assert_int_equal(shard_of(2, ""), 1);
    assert_int_equal(shard_of(3, "a"), 0);
    assert_int_equal(shard_of(3, "b"), 1);
    assert_int_equal(shard_of(3, "c"), 0);
    assert_int_equal(shard_of(3, ""), 2);
    assert_int_equal(shard_of(4, "b"), 2);
    assert_int_equal(shard_of(4, "truck-0042"), 1);
    assert_int_equal(shard_of(4, ""), 3);
    /* 256 shards: the shard is the digest's first byte */
    assert_int_equal(shard_of(256, "a"), 0x0c);
    assert_int_equal(shard_of(256, "b"), 0x92);
    assert_int_equal(shard_of(256, "c"), 0x4a);
    assert_int_equal(shard_of(256, "truck-0042"), 0x43);
    assert_int_equal(shard_of(256, ""), 0xd4);
    assert_int_equal(shard_of(1, "anything"), 0);
}

static void check_range(uint32_t n, uint32_t shard, const char *start, const char *end)
{
    char s[48], e[48];
    fl_stream_shard_hash_range(n, shard, s, e);
    assert_string_equal(s, start);
    assert_string_equal(e, end);
}

static void hash_ranges(void **state)
{
    (void)state;
    const char *max = "340282366920938463463374607431768211455";
    check_range(1, 0, "0", max);
    /* what Kinesis CreateStream gives for 2 shards */
    check_range(2, 0, "0", "170141183460469231731687303715884105727");
    check_range(2, 1, "170141183460469231731687303715884105728", max);
    check_range(3, 0, "0", "113427455640312821154458202477256070484");
    check_range(3, 1, "113427455640312821154458202477256070485",
                "226854911280625642308916404954512140969");
    check_range(3, 2, "226854911280625642308916404954512140970", max);
    check_range(256, 0, "0", "1329227995784915872903807060280344575");
    check_range(256, 1, "1329227995784915872903807060280344576",
                "2658455991569831745807614120560689151");
    check_range(256, 255, "338953138925153547590470800371487866880", max);
}

/* Ranges of every shard count tile [0, 2^128) without gap or overlap: each start is the
 * previous end + 1 (checked on the decimal strings' last digits would be fragile, so by
 * comparing with a tiny decimal increment). */
static void dec_increment(char *s)
{
    size_t n = strlen(s);
    for (size_t i = n; i-- > 0;) {
        if (s[i] != '9') {
            s[i]++;
            return;
        }
        s[i] = '0';
    }
    memmove(s + 1, s, n + 1);
    s[0] = '1';
}

static void ranges_tile_the_space(void **state)
{
    (void)state;
    uint32_t counts[] = {2, 3, 5, 7, 16, 100, 255, 256};
    for (size_t c = 0; c < sizeof counts / sizeof counts[0]; c++) {
        char prev_end[48] = "", s[48], e[48];
        for (uint32_t i = 0; i < counts[c]; i++) {
            fl_stream_shard_hash_range(counts[c], i, s, e);
            if (i == 0) {
                assert_string_equal(s, "0");
            } else {
                dec_increment(prev_end);
                assert_string_equal(s, prev_end);
            }
            snprintf(prev_end, sizeof prev_end, "%s", e);
        }
        assert_string_equal(prev_end, "340282366920938463463374607431768211455");
    }
}

static void distribution_is_even(void **state)
{
    (void)state;
    enum { KEYS = 10000, SHARDS = 8 };
    int hist[SHARDS] = {0};
    for (int i = 0; i < KEYS; i++) {
        char key[32];
        snprintf(key, sizeof key, "truck-%04d", i);
        uint32_t sh = shard_of(SHARDS, key);
        assert_true(sh < SHARDS);
        hist[sh]++;
    }
    for (int i = 0; i < SHARDS; i++) {
        /* expected 1250 each; a binomial sd is ~33, so +-200 is > 6 sd */
        assert_in_range(hist[i], 1050, 1450);
    }
}

static void deterministic(void **state)
{
    (void)state;
    for (uint32_t n = 1; n <= 256; n++) {
        uint32_t a = shard_of(n, "device-xyz");
        assert_true(a < n);
        assert_int_equal(a, shard_of(n, "device-xyz"));
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(known_md5_mapping),
        cmocka_unit_test(hash_ranges),
        cmocka_unit_test(ranges_tile_the_space),
        cmocka_unit_test(distribution_is_even),
        cmocka_unit_test(deterministic),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
