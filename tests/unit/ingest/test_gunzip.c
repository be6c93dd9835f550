/* test_gunzip.c — gzip bodies: round trips (compressed here with zlib), concatenated members,
 * bombs stopped by the size or the ratio limit without allocating past it, and garbage,
 * truncated or trailing data refused as FL_EPARSE. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <zlib.h>
#include <cmocka.h>

#include "ingest/ingest.h"

/* gzip-compress in[0..n) into out (appending). */
static void gzip(const void *in, size_t n, fl_buf *out)
{
    z_stream zs;
    memset(&zs, 0, sizeof zs);
    assert_int_equal(deflateInit2(&zs, 9, Z_DEFLATED, 16 + MAX_WBITS, 8, Z_DEFAULT_STRATEGY), Z_OK);
    size_t bound = deflateBound(&zs, n) + 64;
    assert_int_equal(fl_buf_reserve(out, bound), 0);
    zs.next_in = (Bytef *)in;
    zs.avail_in = (uInt)n;
    zs.next_out = (Bytef *)out->data + out->len;
    zs.avail_out = (uInt)bound;
    assert_int_equal(deflate(&zs, Z_FINISH), Z_STREAM_END);
    out->len += zs.total_out;
    deflateEnd(&zs);
}

static void round_trip(void **state)
{
    (void)state;
    fl_buf gz = {0}, out = {0};
    char text[20000];
    for (size_t i = 0; i < sizeof text; i++)
        text[i] = (char)("{\"device_id\":\"truck-0042\",\"t\":21.5}\n"[i % 36] + (i / 997) % 3);
    gzip(text, sizeof text, &gz);
    int which = -1;
    assert_int_equal(fl_ingest_gunzip(gz.data, gz.len, 1 << 20, 100, &out, &which), 0);
    assert_int_equal(which, 0);
    assert_int_equal(out.len, sizeof text);
    assert_memory_equal(out.data, text, sizeof text);
    assert_int_equal(out.data[out.len], 0);
    /* exactly at the size limit is fine, one byte less is not */
    assert_int_equal(fl_ingest_gunzip(gz.data, gz.len, sizeof text, 100000, &out, &which), 0);
    assert_int_equal(fl_ingest_gunzip(gz.data, gz.len, sizeof text - 1, 100000, &out, &which),
                     FL_ELIMIT);
    assert_int_equal(which, 1);
    /* empty content */
    fl_buf_reset(&gz);
    gzip("", 0, &gz);
    assert_int_equal(fl_ingest_gunzip(gz.data, gz.len, 100, 100, &out, &which), 0);
    assert_int_equal(out.len, 0);
    fl_buf_free(&gz);
    fl_buf_free(&out);
}

static void concatenated_members(void **state)
{
    (void)state;
    fl_buf gz = {0}, out = {0};
    gzip("{\"a\":1}\n", 8, &gz);
    gzip("{\"b\":2}\n", 8, &gz);
    gzip("{\"c\":3}\n", 8, &gz);
    int which;
    assert_int_equal(fl_ingest_gunzip(gz.data, gz.len, 1000, 100, &out, &which), 0);
    assert_string_equal(out.data, "{\"a\":1}\n{\"b\":2}\n{\"c\":3}\n");
    /* trailing garbage after a member */
    assert_int_equal(fl_buf_append(&gz, "xy", 2), 0);
    assert_int_equal(fl_ingest_gunzip(gz.data, gz.len, 1000, 100, &out, &which), FL_EPARSE);
    fl_buf_free(&gz);
    fl_buf_free(&out);
}

static void bombs(void **state)
{
    (void)state;
    size_t n = 10 << 20;
    char *zeros = fl_calloc(1, n);
    assert_non_null(zeros);
    fl_buf gz = {0}, out = {0};
    gzip(zeros, n, &gz);
    fl_free(zeros);
    assert_true(gz.len < 20000);
    int which = 0;
    /* the ratio (100 x ~10 KB = ~1 MB) trips before the 32 MiB size limit */
    assert_int_equal(fl_ingest_gunzip(gz.data, gz.len, 32 << 20, 100, &out, &which), FL_ELIMIT);
    assert_int_equal(which, 2);
    assert_true(out.cap <= 100 * gz.len + 2);
    /* with a generous ratio the size limit trips first */
    assert_int_equal(fl_ingest_gunzip(gz.data, gz.len, 1 << 20, 100000, &out, &which), FL_ELIMIT);
    assert_int_equal(which, 1);
    assert_true(out.cap <= (1 << 20) + 2);
    assert_true(out.len <= 1 << 20);
    /* both generous: it all comes out */
    assert_int_equal(fl_ingest_gunzip(gz.data, gz.len, 32 << 20, 100000, &out, &which), 0);
    assert_int_equal(out.len, n);
    fl_buf_free(&gz);
    fl_buf_free(&out);
}

static void garbage(void **state)
{
    (void)state;
    fl_buf gz = {0}, out = {0};
    int which;
    assert_int_equal(fl_ingest_gunzip("", 0, 100, 100, &out, &which), FL_EPARSE);
    assert_int_equal(fl_ingest_gunzip("hello world", 11, 100, 100, &out, &which), FL_EPARSE);
    assert_int_equal(fl_ingest_gunzip("\x1f\x8b", 2, 100, 100, &out, &which), FL_EPARSE);
    gzip("{\"a\":1}{\"a\":1}{\"a\":1}", 21, &gz);
    for (size_t cut = 1; cut < gz.len; cut++)
        assert_int_equal(fl_ingest_gunzip(gz.data, cut, 1000, 1000, &out, &which), FL_EPARSE);
    gz.data[gz.len - 5] ^= 0x55; /* CRC32 of the content */
    assert_int_equal(fl_ingest_gunzip(gz.data, gz.len, 1000, 1000, &out, &which), FL_EPARSE);
    fl_buf_free(&gz);
    fl_buf_free(&out);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(round_trip),
        cmocka_unit_test(concatenated_members),
        cmocka_unit_test(bombs),
        cmocka_unit_test(garbage),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
