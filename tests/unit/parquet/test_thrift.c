/* test_thrift.c — the Thrift compact protocol encoder and decoder: round trips of every type,
 * zigzag negatives, field-id deltas past 15 (long form) and backwards, nested structs, lists
 * longer than 14 elements, bool fields and elements, skipping unknown fields of every type,
 * and truncated or hostile input (huge lengths and list sizes, deep nesting, overlong
 * varints) failing cleanly. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <string.h>

#include "parquet/parquet_int.h"

static void encode_sample(fl_buf *b)
{
    tc_enc e;
    tc_enc_init(&e, b);
    tc_struct_begin(&e);
    tc_field_i32(&e, 1, -1);
    tc_field_i64(&e, 2, INT64_MIN);
    tc_field_bool(&e, 3, 1);
    tc_field_bool(&e, 4, 0);
    tc_field_binary(&e, 40, "hello", 5); /* delta 36: long form */
    tc_field_double(&e, 41, -2.5);
    tc_field_struct(&e, 42);
    tc_field_i32(&e, 1, INT32_MAX);
    tc_field_struct(&e, 300);
    tc_field_i64(&e, 7, INT64_MAX);
    tc_struct_end(&e);
    tc_struct_end(&e);
    tc_field(&e, 43, TC_LIST);
    tc_list_begin(&e, TC_I32, 20);
    for (int i = 0; i < 20; i++)
        tc_write_i32(&e, i * -1000);
    tc_field(&e, 44, TC_LIST);
    tc_list_begin(&e, TC_BOOL, 3);
    tc_write_bool(&e, 1);
    tc_write_bool(&e, 0);
    tc_write_bool(&e, 1);
    tc_field_i32(&e, 10, 5); /* id going backwards: long form */
    tc_struct_end(&e);
    assert_int_equal(e.err, 0);
}

static void test_round_trip(void **state)
{
    (void)state;
    fl_buf b = {0};
    encode_sample(&b);
    tc_dec d;
    tc_dec_init(&d, b.data, b.len);
    int16_t id;
    enum tc_type t;
    int seen = 0;
    tc_struct_enter(&d);
    while (tc_next_field(&d, &id, &t)) {
        seen++;
        switch (id) {
        case 1: assert_int_equal(tc_read_i32(&d), -1); break;
        case 2: assert_true(tc_read_i64(&d) == INT64_MIN); break;
        case 3: assert_int_equal(tc_read_bool(&d, t), 1); break;
        case 4: assert_int_equal(tc_read_bool(&d, t), 0); break;
        case 40: assert_true(fl_slice_eq_cstr(tc_read_binary(&d), "hello")); break;
        case 41: assert_true(tc_read_double(&d) == -2.5); break;
        case 42: {
            tc_struct_enter(&d);
            assert_int_equal(tc_next_field(&d, &id, &t), 1);
            assert_int_equal(id, 1);
            assert_int_equal(tc_read_i32(&d), INT32_MAX);
            assert_int_equal(tc_next_field(&d, &id, &t), 1);
            assert_int_equal(id, 300);
            assert_int_equal(t, TC_STRUCT);
            tc_struct_enter(&d);
            assert_int_equal(tc_next_field(&d, &id, &t), 1);
            assert_true(tc_read_i64(&d) == INT64_MAX);
            assert_int_equal(tc_next_field(&d, &id, &t), 0);
            tc_struct_leave(&d);
            assert_int_equal(tc_next_field(&d, &id, &t), 0);
            tc_struct_leave(&d);
            break;
        }
        case 43: {
            enum tc_type el;
            assert_int_equal(tc_list(&d, &el), 20);
            assert_int_equal(el, TC_I32);
            for (int i = 0; i < 20; i++)
                assert_int_equal(tc_read_i32(&d), i * -1000);
            break;
        }
        case 44: {
            enum tc_type el;
            assert_int_equal(tc_list(&d, &el), 3);
            tc_skip(&d, TC_BYTE);
            tc_skip(&d, TC_BYTE);
            tc_skip(&d, TC_BYTE);
            break;
        }
        case 10: assert_int_equal(tc_read_i32(&d), 5); break;
        default: fail();
        }
    }
    assert_int_equal(d.err, 0);
    assert_int_equal(seen, 10);
    assert_ptr_equal(d.p, d.end);
    fl_buf_free(&b);
}

/* Skipping the whole struct as an unknown field works for every type it holds. */
static void test_skip_unknown(void **state)
{
    (void)state;
    fl_buf b = {0};
    encode_sample(&b);
    /* A map<i32,binary> too, which fleetlake never writes. */
    unsigned char map[] = {0x0B | (1 << 4), 0x02, 0x58, 0x02, 0x01, 'x', 0x04, 0x01, 'y', 0x00};
    tc_dec d;
    tc_dec_init(&d, b.data, b.len);
    tc_skip(&d, TC_STRUCT);
    assert_int_equal(d.err, 0);
    assert_ptr_equal(d.p, d.end);
    tc_dec_init(&d, map, sizeof map);
    tc_skip(&d, TC_STRUCT);
    assert_int_equal(d.err, 0);
    assert_ptr_equal(d.p, d.end);
    fl_buf_free(&b);
}

static void test_truncated_everywhere(void **state)
{
    (void)state;
    fl_buf b = {0};
    encode_sample(&b);
    for (size_t n = 0; n < b.len; n++) {
        tc_dec d;
        tc_dec_init(&d, b.data, n);
        tc_skip(&d, TC_STRUCT);
        assert_true(d.err == FL_ETRUNCATED || d.err == FL_ECORRUPT);
    }
    fl_buf_free(&b);
}

static void test_hostile(void **state)
{
    (void)state;
    tc_dec d;
    /* binary claiming 2^32 bytes */
    unsigned char big[] = {0x80, 0x80, 0x80, 0x80, 0x10, 'a'};
    tc_dec_init(&d, big, sizeof big);
    (void)tc_read_binary(&d);
    assert_int_equal(d.err, FL_ETRUNCATED);
    /* list of 1e9 i32 */
    unsigned char list[] = {0xF5, 0x80, 0x94, 0xEB, 0xDC, 0x03, 0x00};
    enum tc_type el;
    tc_dec_init(&d, list, sizeof list);
    assert_int_equal(tc_list(&d, &el), 0);
    assert_int_equal(d.err, FL_ETRUNCATED);
    /* varint of 11 bytes */
    unsigned char vi[] = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01};
    tc_dec_init(&d, vi, sizeof vi);
    (void)tc_read_i64(&d);
    assert_int_equal(d.err, FL_ECORRUPT);
    /* structs nested 100 deep */
    unsigned char deep[200];
    memset(deep, 0x1C, 100); /* field delta 1, type struct */
    memset(deep + 100, 0, 100);
    tc_dec_init(&d, deep, sizeof deep);
    tc_skip(&d, TC_STRUCT);
    assert_int_equal(d.err, FL_ELIMIT);
    /* invalid field type 13 */
    unsigned char badtype[] = {0x1D, 0x00};
    tc_dec_init(&d, badtype, sizeof badtype);
    tc_skip(&d, TC_STRUCT);
    assert_int_equal(d.err, FL_ECORRUPT);
    /* i32 out of range */
    unsigned char wide[] = {0xfe, 0xff, 0xff, 0xff, 0x1f};
    tc_dec_init(&d, wide, sizeof wide);
    (void)tc_read_i32(&d);
    assert_int_equal(d.err, FL_ECORRUPT);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_round_trip),
        cmocka_unit_test(test_skip_unknown),
        cmocka_unit_test(test_truncated_everywhere),
        cmocka_unit_test(test_hostile),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
