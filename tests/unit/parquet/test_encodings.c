/* test_encodings.c — the value encodings one by one: bit packing at every width 0..64, the
 * RLE/bit-packed hybrid (runs, packed groups, mixtures, widths 0..32, hostile headers),
 * PLAIN for every type, DELTA_BINARY_PACKED with negative, huge and INT64/INT32 extreme
 * deltas and partial blocks (and INT32 columns delta-encoded in 64 bits, as DuckDB does),
 * the dictionary's fallback past its byte bound, and the codecs'
 * exact-size checks. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "parquet/parquet_int.h"

static int buf_sink(void *ctx, const void *p, size_t n)
{
    return fl_buf_append(ctx, p, n);
}

static uint64_t rng = 88172645463325252ULL;
static uint64_t next(void)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return rng;
}

static void test_bitpack_widths(void **state)
{
    (void)state;
    uint64_t in[100], out[100];
    for (int w = 0; w <= 64; w++) {
        uint64_t mask = w == 64 ? ~0ULL : (1ULL << w) - 1;
        for (int i = 0; i < 100; i++)
            in[i] = next() & mask;
        fl_buf b = {0};
        assert_int_equal(pq_bitpack(&b, in, 100, w), 0);
        assert_int_equal(b.len, (100 * (size_t)w + 7) / 8);
        pq_bitunpack((const unsigned char *)(b.data ? b.data : ""), 100, w, out);
        assert_memory_equal(in, out, sizeof in);
        fl_buf_free(&b);
    }
}

static void rle_round_trip(const uint32_t *v, size_t n, int w)
{
    fl_buf b = {0};
    assert_int_equal(pq_rle_encode(&b, v, n, w), 0);
    uint32_t *out = calloc(n + 1, sizeof *out);
    assert_int_equal(pq_rle_decode((const unsigned char *)(b.data ? b.data : ""), b.len, w, out, n), 0);
    assert_memory_equal(v, out, n * sizeof *v);
    free(out);
    fl_buf_free(&b);
}

static void test_rle_hybrid(void **state)
{
    (void)state;
    uint32_t v[1000];
    for (int w = 0; w <= 32; w++) {
        uint32_t mask = w == 32 ? ~0u : (1u << w) - 1;
        for (int i = 0; i < 1000; i++) /* runs of varying length mixed with noise */
            v[i] = (uint32_t)((i / 37) % 3 == 0 ? next() : (uint64_t)(i / 50)) & mask;
        for (size_t n = 0; n < 40; n++)
            rle_round_trip(v, n, w);
        rle_round_trip(v, 1000, w);
    }
    /* A long run encodes as one RLE run: header + 1 value byte. */
    for (int i = 0; i < 1000; i++)
        v[i] = 1;
    fl_buf b = {0};
    assert_int_equal(pq_rle_encode(&b, v, 1000, 1), 0);
    assert_int_equal(b.len, 3); /* varint(2000) is 2 bytes */
    fl_buf_free(&b);
    /* run starting off a group boundary: 3 noise values then 20 equal */
    uint32_t m[23] = {1, 0, 1};
    for (int i = 3; i < 23; i++)
        m[i] = 1;
    rle_round_trip(m, 23, 1);
}

static void test_rle_hostile(void **state)
{
    (void)state;
    uint32_t out[16];
    unsigned char run_too_wide[] = {0x10, 0x05}; /* run of 8 of value 5 at width 2 */
    assert_int_equal(pq_rle_decode(run_too_wide, 2, 2, out, 8), FL_ECORRUPT);
    unsigned char zero_run[] = {0x00, 0x01};
    assert_int_equal(pq_rle_decode(zero_run, 2, 1, out, 1), FL_ECORRUPT);
    unsigned char short_data[] = {0x03}; /* 1 packed group, no bytes */
    assert_int_equal(pq_rle_decode(short_data, 1, 1, out, 8), FL_ECORRUPT);
    assert_int_equal(pq_rle_decode(short_data, 0, 1, out, 1), FL_ECORRUPT);
    assert_int_equal(pq_rle_decode(short_data, 1, 33, out, 1), FL_ECORRUPT);
}

static void test_plain_all_types(void **state)
{
    (void)state;
    uint8_t b[11] = {1, 0, 1, 1, 0, 0, 0, 1, 1, 0, 1}, b2[11];
    int32_t i[3] = {INT32_MIN, 0, INT32_MAX}, i2[3];
    int64_t l[3] = {INT64_MIN, -1, INT64_MAX}, l2[3];
    double d[3] = {-0.0, 1e300, -3.5}, d2[3];
    fl_slice s[3] = {FL_SLICE_LIT(""), FL_SLICE_LIT("abc"), FL_SLICE_LIT("é")}, s2[3];
    struct { int t; void *in, *out; size_t n, sz, bytes; } cases[] = {
        {FL_PQ_BOOLEAN, b, b2, 11, 1, 2}, {FL_PQ_INT32, i, i2, 3, 4, 12},
        {FL_PQ_INT64, l, l2, 3, 8, 24}, {FL_PQ_DOUBLE, d, d2, 3, 8, 24}};
    for (size_t k = 0; k < 4; k++) {
        fl_buf buf = {0};
        size_t used;
        assert_int_equal(pq_plain_encode(&buf, cases[k].t, cases[k].in, cases[k].n), 0);
        assert_int_equal(buf.len, cases[k].bytes);
        assert_int_equal(pq_plain_decode((unsigned char *)buf.data, buf.len, cases[k].t,
                                         cases[k].out, cases[k].n, &used), 0);
        assert_int_equal(used, buf.len);
        assert_memory_equal(cases[k].in, cases[k].out, cases[k].n * cases[k].sz);
        assert_int_equal(pq_plain_decode((unsigned char *)buf.data, buf.len - 1, cases[k].t,
                                         cases[k].out, cases[k].n, &used), FL_ECORRUPT);
        fl_buf_free(&buf);
    }
    fl_buf buf = {0};
    size_t used;
    assert_int_equal(pq_plain_encode(&buf, FL_PQ_BYTE_ARRAY, s, 3), 0);
    assert_int_equal(buf.len, 12 + 5);
    assert_int_equal(pq_plain_decode((unsigned char *)buf.data, buf.len, FL_PQ_BYTE_ARRAY, s2, 3, &used), 0);
    for (int k = 0; k < 3; k++)
        assert_true(s2[k].len == s[k].len && !memcmp(s2[k].ptr, s[k].ptr, s[k].len));
    fl_put_u32((unsigned char *)buf.data + 4, 1000); /* second length past the end */
    assert_int_equal(pq_plain_decode((unsigned char *)buf.data, buf.len, FL_PQ_BYTE_ARRAY, s2, 3, &used), FL_ECORRUPT);
    fl_buf_free(&buf);
}

static void delta_round_trip64(const int64_t *v, size_t n)
{
    fl_buf b = {0};
    int64_t *out = calloc(n + 1, sizeof *out);
    size_t used = 0;
    assert_int_equal(pq_delta_encode(&b, FL_PQ_INT64, v, n), 0);
    assert_int_equal(pq_delta_decode((unsigned char *)b.data, b.len, FL_PQ_INT64, out, n, &used), 0);
    assert_int_equal(used, b.len);
    assert_memory_equal(v, out, n * sizeof *v);
    free(out);
    fl_buf_free(&b);
}

static void test_delta(void **state)
{
    (void)state;
    int64_t v[1000] = {0};
    for (size_t n = 0; n < 300; n += 7) {
        for (size_t i = 0; i < n; i++)
            v[i] = (int64_t)i * 1000 - 5000;
        delta_round_trip64(v, n);
    }
    for (int i = 0; i < 1000; i++) /* huge and negative deltas, extremes */
        v[i] = i % 3 == 0 ? INT64_MIN : i % 3 == 1 ? INT64_MAX : (int64_t)next();
    delta_round_trip64(v, 1000);
    for (int i = 0; i < 1000; i++)
        v[i] = 1000 - i;
    delta_round_trip64(v, 1000);
    int32_t w[500], w2[500];
    for (int i = 0; i < 500; i++)
        w[i] = i % 2 ? INT32_MIN : INT32_MAX; /* 32-bit wrap-around deltas */
    fl_buf b = {0};
    size_t used;
    assert_int_equal(pq_delta_encode(&b, FL_PQ_INT32, w, 500), 0);
    assert_int_equal(pq_delta_decode((unsigned char *)b.data, b.len, FL_PQ_INT32, w2, 500, &used), 0);
    assert_memory_equal(w, w2, sizeof w);
    /* DuckDB computes INT32 deltas in 64 bits, so an INT32 column spanning more than 2^31
     * gets 33-bit miniblock widths: the same values encoded as INT64 decode as INT32. */
    int64_t wide[500];
    for (int i = 0; i < 500; i++)
        wide[i] = w[i];
    fl_buf b64 = {0};
    assert_int_equal(pq_delta_encode(&b64, FL_PQ_INT64, wide, 500), 0);
    memset(w2, 0, sizeof w2);
    assert_int_equal(pq_delta_decode((unsigned char *)b64.data, b64.len, FL_PQ_INT32, w2, 500, &used), 0);
    assert_memory_equal(w, w2, sizeof w);
    fl_buf_free(&b64);
    /* Asking for more values than the stream holds, or truncating it, fails. */
    int32_t more[501];
    assert_int_equal(pq_delta_decode((unsigned char *)b.data, b.len, FL_PQ_INT32, more, 501, &used), FL_ECORRUPT);
    assert_int_equal(pq_delta_decode((unsigned char *)b.data, b.len / 2, FL_PQ_INT32, w2, 500, &used), FL_ECORRUPT);
    /* A block size that is not a multiple of 128 is corrupt. */
    unsigned char bad[] = {0x40, 0x04, 0x02, 0x00};
    assert_int_equal(pq_delta_decode(bad, sizeof bad, FL_PQ_INT32, w2, 1, &used), FL_ECORRUPT);
    fl_buf_free(&b);
}

static void test_dictionary_fallback(void **state)
{
    (void)state;
    pq_dict d;
    pq_dict_init(&d, FL_PQ_INT64, 80); /* room for 10 values */
    uint32_t idx;
    for (int64_t i = 0; i < 10; i++) {
        assert_int_equal(pq_dict_index(&d, &i, &idx), 0);
        assert_int_equal(idx, (uint32_t)i);
    }
    int64_t again = 3, eleventh = 10;
    assert_int_equal(pq_dict_index(&d, &again, &idx), 0);
    assert_int_equal(idx, 3);
    assert_int_equal(pq_dict_index(&d, &eleventh, &idx), FL_EFULL);
    assert_int_equal(d.count, 10);
    pq_dict_free(&d);
    /* Doubles by bits: -0.0 and +0.0 are two entries. */
    pq_dict_init(&d, FL_PQ_DOUBLE, 1000);
    double z = 0.0, nz = -0.0;
    assert_int_equal(pq_dict_index(&d, &z, &idx), 0);
    assert_int_equal(pq_dict_index(&d, &nz, &idx), 0);
    assert_int_equal(idx, 1);
    pq_dict_free(&d);
    /* Strings, many (forces the table to grow). */
    pq_dict_init(&d, FL_PQ_BYTE_ARRAY, 1 << 20);
    char strs[5000][8];
    for (int i = 0; i < 5000; i++) {
        snprintf(strs[i], 8, "s%d", i % 3000);
        fl_slice s = fl_slice_from_cstr(strs[i]);
        assert_int_equal(pq_dict_index(&d, &s, &idx), 0);
        assert_int_equal(idx, (uint32_t)(i % 3000));
    }
    pq_dict_free(&d);

    /* End to end: a chunk whose dictionary overflows falls back and still reads back. */
    fl_pq_column_def c = {"v", FL_PQ_INT64, FL_PQ_LOGICAL_NONE, 0};
    int64_t v[5000];
    for (int i = 0; i < 5000; i++)
        v[i] = i < 2000 ? i % 10 : (int64_t)next();
    fl_pq_column_values cv = {v, NULL};
    fl_pq_writer_options o = {.dictionary_bytes_max = 128, .disable_delta = 1, .page_bytes = 4096};
    fl_buf file = {0};
    fl_pq_writer *w;
    assert_int_equal(fl_pq_writer_create(&c, 1, &o, buf_sink, &file, &w), 0);
    assert_int_equal(fl_pq_writer_write(w, &cv, 5000), 0);
    assert_int_equal(fl_pq_writer_finish(w, NULL), 0);
    fl_pq_writer_destroy(w);
    /* The footer records both encodings for the chunk. */
    pq_file_meta m;
    uint32_t flen = fl_get_u32((unsigned char *)file.data + file.len - 8);
    assert_int_equal(pq_meta_read(file.data + file.len - 8 - flen, flen, 10, &m), 0);
    uint32_t enc = m.row_groups[0].chunks[0].encodings;
    assert_true(enc & (1u << PQ_ENC_RLE_DICTIONARY));
    assert_true(enc & (1u << PQ_ENC_PLAIN));
    assert_true(m.row_groups[0].chunks[0].dictionary_page_offset == 4);
    pq_meta_free(&m);
    fl_buf_free(&file);
}

static void test_codecs(void **state)
{
    (void)state;
    char in[5000];
    for (int i = 0; i < 5000; i++)
        in[i] = (char)("abcabcxyz"[i % 9] + (i % 97 == 0));
    int codecs[] = {FL_PQ_UNCOMPRESSED, FL_PQ_SNAPPY, FL_PQ_GZIP, FL_PQ_ZSTD};
    for (int k = 0; k < 4; k++) {
        fl_buf b = {0};
        char out[5001];
        assert_int_equal(pq_compress(codecs[k], 0, in, sizeof in, &b), 0);
        assert_int_equal(pq_decompress(codecs[k], b.data, b.len, out, sizeof in), 0);
        assert_memory_equal(in, out, sizeof in);
        /* a wrong announced size is corrupt, never an overrun */
        assert_int_equal(pq_decompress(codecs[k], b.data, b.len, out, sizeof in - 1), FL_ECORRUPT);
        assert_int_equal(pq_decompress(codecs[k], b.data, b.len, out, sizeof in + 1), FL_ECORRUPT);
        if (k)
            assert_int_not_equal(pq_decompress(codecs[k], b.data, b.len / 2, out, sizeof in), 0);
        fl_buf_free(&b);
    }
    assert_int_equal(pq_decompress(3 /* LZO */, in, 1, in, 1), FL_EUNSUPPORTED);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_bitpack_widths),
        cmocka_unit_test(test_rle_hybrid),
        cmocka_unit_test(test_rle_hostile),
        cmocka_unit_test(test_plain_all_types),
        cmocka_unit_test(test_delta),
        cmocka_unit_test(test_dictionary_fallback),
        cmocka_unit_test(test_codecs),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
